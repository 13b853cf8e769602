/*
 * A running node (the real `qiao node run` process, $QIAO) fed bad input
 * over TCP by raw nng sockets, at both levels of a link:
 *   - the carrier and the link handshake: garbage, a truncated carrier, a
 *     truncated or out-of-turn handshake frame, a sync message sent in the
 *     clear, a PROVE that does not open, an oversized message, an
 *     unenrolled station (refused; it learns nothing), a handshake never
 *     finished;
 *   - sealed sync messages from a correctly enrolled but misbehaving
 *     station, which completes the handshake with node/link: garbage, a
 *     truncated HELLO, a HELLO in another station's name, a BATCH that is
 *     not one, a count far beyond its limit, a tampered and a replayed
 *     sealed frame.
 * Each bad peer is dropped with a log line saying why; a peer that never
 * speaks stalls nobody; a good peer syncs meanwhile; the node keeps
 * serving.
 */
#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "crdt/hex.h"
#include "node/bundle.h"
#include "node/daemon.h"
#include "node/link.h"
#include "node/log.h"
#include "nodes.h"

static uint64_t
ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A raw connection to the node: a REQ socket speaking the carrier by
 * hand (docs/PROTOCOL.md, "Transport"), and a link of our own. */
struct raw {
	nng_socket s;
	uint32_t tx;   /* our next carrier sequence number */
	uint32_t pipe; /* the connection the last answer came over */
	node_link *l;
	uint8_t *in[16]; /* messages from the node not yet taken */
	size_t inlen[16], nin;
};

static bool
raw_open(struct raw *r, const char *url)
{
	memset(r, 0, sizeof(*r));
	if (nng_req0_open(&r->s) != 0)
		return false;
	nng_socket_set_ms(r->s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_ms(r->s, NNG_OPT_RECVTIMEO, 3000);
	nng_socket_set_ms(r->s, NNG_OPT_RECONNMINT, 5000);
	nng_socket_set_ms(r->s, NNG_OPT_RECONNMAXT, 5000);
	return nng_dial(r->s, url, NULL, 0) == 0;
}

static void
raw_close(struct raw *r)
{
	nng_close(r->s);
	for (size_t i = 0; i < r->nin; i++)
		free(r->in[i]);
	node_link_free(r->l);
	memset(r, 0, sizeof(*r));
}

/* One request; 0 when answered, else nng's error. A DATA answer is kept
 * for raw_next. */
static int
raw_request(struct raw *r, const void *body, size_t len)
{
	nng_msg *m;
	int rv;

	if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, body, len) != 0)
		return NNG_ENOMEM;
	if ((rv = nng_sendmsg(r->s, m, 0)) != 0) {
		nng_msg_free(m);
		return rv;
	}
	if ((rv = nng_recvmsg(r->s, &m, 0)) != 0)
		return rv;
	r->pipe = nng_pipe_id(nng_msg_get_pipe(m));
	if (nng_msg_len(m) > 5 && (((uint8_t *)nng_msg_body(m))[0] & 0x02) &&
	    r->nin < 16) {
		size_t n = nng_msg_len(m) - 5;

		if ((r->in[r->nin] = malloc(n)) != NULL) {
			memcpy(r->in[r->nin], (uint8_t *)nng_msg_body(m) + 5, n);
			r->inlen[r->nin++] = n;
		}
	}
	nng_msg_free(m);
	return 0;
}

/* Sends msg as the next DATA carrier. */
static int
raw_data(struct raw *r, const void *msg, size_t len)
{
	uint8_t *b = malloc(len + 5);
	int rv;

	if (b == NULL)
		return NNG_ENOMEM;
	b[0] = 0x02;
	b[1] = (uint8_t)(r->tx >> 24);
	b[2] = (uint8_t)(r->tx >> 16);
	b[3] = (uint8_t)(r->tx >> 8);
	b[4] = (uint8_t)r->tx;
	r->tx++;
	memcpy(b + 5, msg, len);
	rv = raw_request(r, b, len + 5);
	free(b);
	return rv;
}

/* The node's next message (heap), long-polling for it up to 5s. */
static bool
raw_next(struct raw *r, uint8_t **msg, size_t *len)
{
	uint64_t end = ms() + 5000;

	while (r->nin == 0 && ms() < end)
		if (raw_request(r, "\x01", 1) != 0)
			return false;
	if (r->nin == 0)
		return false;
	*msg = r->in[0];
	*len = r->inlen[0];
	memmove(r->in, r->in + 1, --r->nin * sizeof(r->in[0]));
	memmove(r->inlen, r->inlen + 1, r->nin * sizeof(r->inlen[0]));
	return true;
}

/* Our side of the link welcomes the node's key only. */
static uint8_t town_key[QIAO_KEY_LEN];

static int
welcome_town(void *ctx, const uint8_t peer[QIAO_KEY_LEN], const char **why)
{
	(void)ctx;
	if (memcmp(peer, town_key, QIAO_KEY_LEN) == 0)
		return QIAO_OK;
	*why = "not the town";
	return QIAO_EUNKNOWN;
}

/* Runs the link handshake as the initiator with key sk: the result of
 * the last step (QIAO_EUNAUTH: the node refused us). */
static int
raw_handshake(struct raw *r, const uint8_t *sk)
{
	uint8_t out[NODE_LINK_HS_MAX], *in;
	size_t n, inlen;
	int rc;

	if ((rc = node_link_new(&r->l, true, sk, welcome_town, NULL)) != 0 ||
	    (rc = node_link_step(r->l, NULL, 0, out, sizeof(out), &n,
		 NULL)) != 0)
		return rc;
	if (raw_data(r, out, n) != 0)
		return QIAO_ENET;
	while (!node_link_established(r->l)) {
		if (!raw_next(r, &in, &inlen))
			return QIAO_ETIMEDOUT;
		rc = node_link_step(r->l, in, inlen, out, sizeof(out), &n,
		    NULL);
		free(in);
		if (rc != QIAO_OK)
			return rc;
		if (n > 0 && raw_data(r, out, n) != 0)
			return QIAO_ENET;
	}
	return QIAO_OK;
}

/* Seals msg into frame (cap bytes); its length. */
static size_t
seal(struct raw *r, const void *msg, size_t len, uint8_t *frame, size_t cap)
{
	size_t n = 0;

	if (node_link_seal(r->l, msg, len, frame, cap, &n) != QIAO_OK)
		return 0;
	return n;
}

/* True when the node drops us within 4s of polling: a request fails, or
 * an answer comes over another connection (nng redialed). The node holds
 * a poll for at most its poll_interval, 1s. */
static bool
gone(struct raw *r)
{
	uint64_t end = ms() + 4000;
	uint32_t first = r->pipe;

	while (ms() < end)
		if (raw_request(r, "\x01", 1) != 0 || r->pipe != first)
			return true;
	return false;
}

/* Sends body as it is (not even a carrier, maybe); true when the node
 * then drops us. */
static bool
dropped_after_body(struct raw *r, const void *body, size_t len)
{
	return raw_request(r, body, len) != 0 || gone(r);
}

/* Sends msg in the next DATA carrier; true when the node then drops us. */
static bool
dropped_after(struct raw *r, const void *msg, size_t len)
{
	return raw_data(r, msg, len) != 0 || gone(r);
}

/*
 * Offers a 2 MiB message to the node over a plain TCP socket speaking the
 * SP wire format by hand (the 8-byte SP header, then 8-byte big-endian
 * lengths); true when the node closes the connection before taking it.
 * Not an nng socket: nng 1.5.2 can wedge a sender whose peer closes in
 * the middle of a large message (docs/PROTOCOL.md, "Closing"), which
 * would hang this test rather than the node.
 */
static bool
oversized_dropped(int port)
{
	static const uint8_t sp_req[8] = { 0, 'S', 'P', 0, 0, 0x30, 0, 0 };
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 5 };
	uint8_t hdr[8], chunk[4096] = { 0x80, 0, 0, 1, 0x02 };
	uint64_t len = (2u << 20) + 4;
	bool closed = false;
	ssize_t n;
	int fd;

	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return false;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    send(fd, sp_req, 8, MSG_NOSIGNAL) != 8 || read(fd, hdr, 8) != 8) {
		close(fd);
		return false;
	}
	for (int i = 0; i < 8; i++)
		hdr[i] = (uint8_t)(len >> (56 - 8 * i));
	/* The header says 2 MiB and 4 KiB follow: a node that enforces its
	 * limit closes at once; one that waited for the rest would leave
	 * the read below to time out. */
	if (send(fd, hdr, 8, MSG_NOSIGNAL) == 8 &&
	    send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL) > 0)
		closed = (n = read(fd, hdr, 1)) == 0 ||
		    (n < 0 && errno == ECONNRESET);
	close(fd);
	return closed;
}

static size_t
count_lines(const char *path, const char *needle)
{
	char line[2048];
	size_t n = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

static void
dump(const char *path)
{
	char line[2048];
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		printf("# %s", line);
	fclose(f);
}

/* A sync HELLO naming key. */
static void
hello_msg(crdt_writer *w, const uint8_t *key)
{
	node_sync_hello h;

	memset(&h, 0, sizeof(h));
	h.version = 1;
	memcpy(h.key, key, QIAO_KEY_LEN);
	h.window = 4;
	h.max_message = 1 << 20;
	crdt_writer_init(w);
	node_syncwire_hello(w, &h);
}

/* Seals w's message and sends it; true when the node then drops us. */
static bool
sealed_dropped(struct raw *r, const crdt_writer *w)
{
	uint8_t frame[4096];
	size_t n = seal(r, w->buf, w->len, frame, sizeof(frame));

	return n > 0 && dropped_after(r, frame, n);
}

/* Opens a link to url as the station whose key is sk and sends a good
 * HELLO naming pk; true when the node took it. */
static bool
hello_accepted(struct raw *r, const char *url, const uint8_t *sk,
    const uint8_t *pk)
{
	uint8_t frame[4096];
	crdt_writer w;
	size_t n;
	bool ok;

	if (!raw_open(r, url))
		return false;
	if (raw_handshake(r, sk) != QIAO_OK)
		return false;
	hello_msg(&w, pk);
	n = seal(r, w.buf, w.len, frame, sizeof(frame));
	ok = n > 0 && raw_data(r, frame, n) == 0;
	crdt_writer_fini(&w);
	return ok;
}

static void
t_bad_peers_dropped_good_peer_served(void)
{
	const char *qiao = getenv("QIAO"), *base = check_tmpdir();
	char dir[300], url[64], logpath[320], path[340], hex[65];
	node *d, *t, *v, *b, *u;
	node_daemon *vd = NULL;
	node_daemon_upstream up;
	uint8_t buf[4096], frame[4096], *m;
	struct raw r, silent, silent2;
	crdt_writer w;
	qiao_conf c;
	size_t n, mlen;
	pid_t pid;
	FILE *f;
	int status, port;
	uint64_t end;

	if (qiao == NULL)
		SKIP("QIAO (the qiao binary) is not set");
	REQUIRE(base != NULL);
	node_log_set_level(NODE_LOG_ERR);
	port = 23000 + (int)(getpid() % 2000) * 3;
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	snprintf(dir, sizeof(dir), "%s/d", base);
	REQUIRE((d = tn_make(dir, QIAO_ROLE_DISTRICT, "500116", NULL)) != 0);
	snprintf(dir, sizeof(dir), "%s/t", base);
	tn_conf(&c, dir, QIAO_ROLE_TOWN, "500116001", node_self(d));
	REQUIRE((t = tn_make_conf(dir, &c)) != NULL);
	snprintf(dir, sizeof(dir), "%s/v", base);
	REQUIRE((v = tn_make(dir, QIAO_ROLE_VILLAGE, "500116001001",
		     node_self(d))) != NULL);
	/* b: enrolled, and misbehaves; u: never enrolled. */
	snprintf(dir, sizeof(dir), "%s/b", base);
	REQUIRE((b = tn_make(dir, QIAO_ROLE_VILLAGE, "500116001002",
		     node_self(d))) != NULL);
	snprintf(dir, sizeof(dir), "%s/u", base);
	REQUIRE((u = tn_make(dir, QIAO_ROLE_VILLAGE, "500116001003",
		     node_self(d))) != NULL);
	REQUIRE_RC(tn_enrol(d, t, QIAO_ROLE_TOWN, "500116001"), QIAO_OK);
	REQUIRE_RC(tn_enrol(t, v, QIAO_ROLE_VILLAGE, "500116001001"),
	    QIAO_OK);
	REQUIRE_RC(tn_enrol(t, b, QIAO_ROLE_VILLAGE, "500116001002"),
	    QIAO_OK);
	REQUIRE_RC(tn_notes(v, 40, 200), QIAO_OK);
	REQUIRE_RC(node_load_key(b), QIAO_OK);
	REQUIRE_RC(node_load_key(u), QIAO_OK);
	/* The town gets the district's log (with its own certificate) by
	 * file, as a station without a link would; the village the same
	 * log, by export and import, to know its town is enrolled. */
	{
		node_bundle_stats st;
		char hp[320], bp[320], err[256];

		snprintf(hp, sizeof(hp), "%s/t.heads", base);
		snprintf(bp, sizeof(bp), "%s/d-for-t.bundle", base);
		REQUIRE_RC(node_bundle_heads(t, hp, &st.entries), QIAO_OK);
		REQUIRE_RC(node_bundle_export(d, hp, bp, &st, err,
			       sizeof(err)),
		    QIAO_OK);
		CHECK(st.entries == 1);
		REQUIRE_RC(node_bundle_import(t, bp, &st, err, sizeof(err)),
		    QIAO_OK);
		CHECK(st.ingest.stored == 1 && st.ingest.rejected == 0);
	}
	REQUIRE_RC(tn_give_log(d, v, node_self(d)), QIAO_OK);
	memcpy(town_key, node_self(t), QIAO_KEY_LEN);
	/* The town's config on disk, for the real process. */
	snprintf(path, sizeof(path), "%s/t/qiao.conf", base);
	REQUIRE_RC(conf_save(&c, path), QIAO_OK);
	REQUIRE((f = fopen(path, "a")) != NULL);
	fprintf(f, "durable = no\nmapsize = 64M\n[net]\nlisten = %s\n"
		   "max_message = 1M\npoll_interval = 1s\ntimeout = 5s\n"
		   "change_poll = 100ms\n",
	    url);
	fclose(f);
	snprintf(logpath, sizeof(logpath), "%s/t.log", base);
	/* The town's store belongs to the process from here on. */
	node_close(t);
	if ((pid = fork()) == 0) {
		if (freopen(logpath, "w", stderr) == NULL)
			_exit(127);
		snprintf(dir, sizeof(dir), "%s/t", base);
		execl(qiao, qiao, "node", "run", "--dir", dir, (char *)NULL);
		_exit(127);
	}
	REQUIRE(pid > 0);
	/* Wait for it to listen (bounded). */
	end = (uint64_t)time(NULL) + 20;
	while (!raw_open(&r, url) && (uint64_t)time(NULL) < end) {
		raw_close(&r);
		usleep(100000);
	}
	/* A peer that connects and never says a word (it must not stall
	 * anyone). */
	CHECK(raw_open(&silent, url));

	/* The carrier and the handshake. */
	/* 1. garbage: not even a carrier */
	for (size_t i = 0; i < 64; i++)
		buf[i] = (uint8_t)check_rand();
	buf[0] = 0xff;
	CHECK(dropped_after_body(&r, buf, 64));
	raw_close(&r);
	/* 2. a truncated carrier */
	REQUIRE(raw_open(&r, url));
	CHECK(dropped_after_body(&r, "\x02\x00\x00", 3));
	raw_close(&r);
	/* 3. a link HELLO one byte short */
	REQUIRE(raw_open(&r, url));
	buf[0] = 0x01;
	buf[1] = NODE_LINK_VERSION;
	CHECK(dropped_after(&r, buf, 33));
	raw_close(&r);
	/* 4. a sync HELLO in the clear, as a node without the link would
	 * speak: not a handshake frame, and nothing comes back */
	hello_msg(&w, node_self(v));
	REQUIRE(raw_open(&r, url));
	CHECK(dropped_after(&r, w.buf, w.len));
	CHECK(r.nin == 0);
	crdt_writer_fini(&w);
	raw_close(&r);
	/* 5. a PROVE that does not open (random bytes after a good HELLO
	 * and the node's REPLY) */
	REQUIRE(raw_open(&r, url));
	REQUIRE_RC(node_link_new(&r.l, true, node_secret_key(b), welcome_town,
		       NULL),
	    QIAO_OK);
	REQUIRE_RC(node_link_step(r.l, NULL, 0, buf, sizeof(buf), &n, NULL),
	    QIAO_OK);
	CHECK(raw_data(&r, buf, n) == 0);
	REQUIRE(raw_next(&r, &m, &mlen));
	CHECK(mlen == NODE_LINK_HS_MAX && m[0] == 0x02);
	free(m);
	buf[0] = 0x03;
	for (size_t i = 1; i < 113; i++)
		buf[i] = (uint8_t)check_rand();
	CHECK(dropped_after(&r, buf, 113));
	raw_close(&r);
	/* 6. oversized: 2 MiB to a node that accepts 1 MiB */
	CHECK(oversized_dropped(port));
	/* 7. an unenrolled station proves its key and is refused: one
	 * sealed "refused", then nothing at all, and the connection ends */
	REQUIRE(raw_open(&r, url));
	CHECK_RC(raw_handshake(&r, node_secret_key(u)), QIAO_EUNAUTH);
	CHECK(!node_link_established(r.l));
	end = ms() + 4000;
	while (ms() < end && raw_request(&r, "\x01", 1) == 0 && r.nin == 0)
		;
	CHECK(r.nin == 0);
	raw_close(&r);

	/* Sealed sync messages from an enrolled station that misbehaves. */
	/* 8. sealed garbage */
	REQUIRE(raw_open(&r, url));
	REQUIRE_RC(raw_handshake(&r, node_secret_key(b)), QIAO_OK);
	for (size_t i = 0; i < 64; i++)
		buf[i] = (uint8_t)check_rand();
	buf[0] = 0xc1; /* never valid msgpack */
	n = seal(&r, buf, 64, frame, sizeof(frame));
	CHECK(dropped_after(&r, frame, n));
	raw_close(&r);
	/* 9. a sealed HELLO cut short */
	hello_msg(&w, node_self(b));
	REQUIRE(raw_open(&r, url));
	REQUIRE_RC(raw_handshake(&r, node_secret_key(b)), QIAO_OK);
	n = seal(&r, w.buf, w.len - 5, frame, sizeof(frame));
	CHECK(dropped_after(&r, frame, n));
	raw_close(&r);
	crdt_writer_fini(&w);
	/* 10. a sealed HELLO in the good village's name */
	hello_msg(&w, node_self(v));
	REQUIRE(raw_open(&r, url));
	REQUIRE_RC(raw_handshake(&r, node_secret_key(b)), QIAO_OK);
	CHECK(sealed_dropped(&r, &w));
	raw_close(&r);
	crdt_writer_fini(&w);
	/* 11. a good HELLO, then a BATCH that is not one */
	REQUIRE(hello_accepted(&r, url, node_secret_key(b), node_self(b)));
	crdt_writer_init(&w);
	crdt_write_array(&w, 3);
	crdt_write_uint(&w, NODE_SYNC_BATCH);
	crdt_write_uint(&w, NODE_SYNC_CODEC_ZSTD);
	crdt_write_bin(&w, "not zstd at all", 15);
	CHECK(sealed_dropped(&r, &w));
	crdt_writer_fini(&w);
	raw_close(&r);
	/* 12. a count far beyond its limit (HEADS of 2^30 heads) */
	REQUIRE(hello_accepted(&r, url, node_secret_key(b), node_self(b)));
	crdt_writer_init(&w);
	crdt_write_array(&w, 4);
	crdt_write_uint(&w, NODE_SYNC_HEADS);
	crdt_write_uint(&w, 1);
	crdt_write_bool(&w, false);
	crdt_write_array(&w, 1u << 30);
	CHECK(sealed_dropped(&r, &w));
	crdt_writer_fini(&w);
	raw_close(&r);
	/* 13. a sealed frame with one byte flipped */
	hello_msg(&w, node_self(b));
	REQUIRE(raw_open(&r, url));
	REQUIRE_RC(raw_handshake(&r, node_secret_key(b)), QIAO_OK);
	n = seal(&r, w.buf, w.len, frame, sizeof(frame));
	frame[n / 2] ^= 0x20;
	CHECK(dropped_after(&r, frame, n));
	raw_close(&r);
	/* 14. a sealed frame sent twice (a replay, in a fresh carrier) */
	REQUIRE(raw_open(&r, url));
	REQUIRE_RC(raw_handshake(&r, node_secret_key(b)), QIAO_OK);
	n = seal(&r, w.buf, w.len, frame, sizeof(frame));
	CHECK(raw_data(&r, frame, n) == 0);
	CHECK(dropped_after(&r, frame, n));
	raw_close(&r);
	crdt_writer_fini(&w);

	/* The node still runs and serves a good peer fully, while another
	 * peer sits in the middle of its handshake (it sent HELLO, took the
	 * REPLY, and says nothing more). */
	CHECK(waitpid(pid, &status, WNOHANG) == 0);
	REQUIRE(raw_open(&silent2, url));
	REQUIRE_RC(node_link_new(&silent2.l, true, node_secret_key(b),
		       welcome_town, NULL),
	    QIAO_OK);
	REQUIRE_RC(node_link_step(silent2.l, NULL, 0, buf, sizeof(buf), &n,
		       NULL),
	    QIAO_OK);
	CHECK(raw_data(&silent2, buf, n) == 0);
	REQUIRE(raw_next(&silent2, &m, &mlen));
	CHECK(mlen == NODE_LINK_HS_MAX);
	free(m);
	{
		const char *ups[] = { url };
		node_daemon_opts o = { .listen = "", .upstream = ups,
			.nupstream = 1 };

		REQUIRE_RC(node_daemon_new(&vd, v, &o), QIAO_OK);
	}
	end = (uint64_t)time(NULL) + 30;
	memset(&up, 0, sizeof(up));
	while ((uint64_t)time(NULL) < end) {
		REQUIRE_RC(node_daemon_step(vd, 50), QIAO_OK);
		node_daemon_upstream_state(vd, 0, &up);
		if (up.in_sync)
			break;
	}
	CHECK(up.in_sync);
	CHECK(up.entries_out == 40);
	if (!up.in_sync) {
		printf("# village: %s\n# town's log:\n", up.why);
		dump(logpath);
	}
	node_daemon_free(vd);
	raw_close(&silent2);

	/* 15. a handshake begun and never finished, though the peer keeps
	 * polling (so it is not silent): dropped after [net] timeout (5s) */
	REQUIRE(raw_open(&r, url));
	REQUIRE_RC(node_link_new(&r.l, true, node_secret_key(b), welcome_town,
		       NULL),
	    QIAO_OK);
	REQUIRE_RC(node_link_step(r.l, NULL, 0, buf, sizeof(buf), &n, NULL),
	    QIAO_OK);
	CHECK(raw_data(&r, buf, n) == 0);
	CHECK(gone(&r) || gone(&r) || gone(&r));
	raw_close(&r);
	raw_close(&silent);

	CHECK(waitpid(pid, &status, WNOHANG) == 0);
	kill(pid, SIGTERM);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* One line per bad peer, saying why. */
	crdt_hex_encode(hex, node_self(u), QIAO_KEY_LEN);
	{
		static const struct {
			const char *what;
			size_t min, max;
		} want[] = {
			{ "not a qiao carrier", 1, 9 },
			{ "truncated carrier", 1, 9 },
			{ "handshake frame of the wrong size", 1, 1 },
			{ "not expected in the handshake", 1, 1 },
			{ "proof does not open", 1, 1 },
			{ "not enrolled", 1, 9 },
			{ "names a key other than the one the link proved", 1,
			    1 },
			{ "does not open (altered, replayed", 2, 2 },
			{ "link up", 8, 8 },
			/* the half-finished handshake; also the silent peer
			 * and nng's redials after drops, if slow enough */
			{ "did not finish in time", 2, 9 },
			{ "dropping it", 11, 99 },
		};
		bool ok = count_lines(logpath, hex) >= 1;

		CHECK(ok);
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			size_t k = count_lines(logpath, want[i].what);

			if (k < want[i].min || k > want[i].max) {
				printf("# %zu lines say \"%s\"\n", k,
				    want[i].what);
				ok = false;
			}
		}
		CHECK(ok);
		if (!ok)
			dump(logpath);
	}
	snprintf(dir, sizeof(dir), "%s/t", base);
	{
		char err[256];

		REQUIRE_RC(node_open(&t, dir, NULL, err, sizeof(err)),
		    QIAO_OK);
		CHECK(tn_seq(t, node_self(v)) == 40);
		node_close(t);
	}
	node_close(u);
	node_close(b);
	node_close(v);
	node_close(d);
}

CHECK_MAIN(T(t_bad_peers_dropped_good_peer_served))
