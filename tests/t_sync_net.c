/*
 * A running node (the real `qiao node run` process, $QIAO) fed garbage,
 * truncated, oversized and out-of-protocol messages over TCP by raw nng
 * sockets, and held by a peer that never speaks: it logs, drops each bad
 * peer, and keeps serving a good one, which syncs with it meanwhile.
 */
#include "check.h"

#include <signal.h>
#include <sys/wait.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "node/bundle.h"
#include "node/daemon.h"
#include "node/log.h"
#include "nodes.h"


/* A raw REQ socket to the node. */
static bool
raw_open(nng_socket *s, const char *url)
{
	if (nng_req0_open(s) != 0)
		return false;
	nng_socket_set_ms(*s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_ms(*s, NNG_OPT_RECVTIMEO, 3000);
	nng_socket_set_ms(*s, NNG_OPT_RECONNMINT, 5000);
	nng_socket_set_ms(*s, NNG_OPT_RECONNMAXT, 5000);
	return nng_dial(*s, url, NULL, 0) == 0;
}

/* One request; 0 when answered (*pipe: over which connection), else
 * nng's error. */
static int
request(nng_socket s, const void *body, size_t len, uint32_t *pipe)
{
	nng_msg *m;
	int rv;

	if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, body, len) != 0)
		return NNG_ENOMEM;
	if ((rv = nng_sendmsg(s, m, 0)) != 0) {
		nng_msg_free(m);
		return rv;
	}
	if ((rv = nng_recvmsg(s, &m, 0)) == 0) {
		*pipe = nng_pipe_id(nng_msg_get_pipe(m));
		nng_msg_free(m);
	}
	return rv;
}

/* Sends body; true when the node then drops us: the request, or a poll
 * after it (a message the node reads after answering), fails with the
 * connection reset. */
static bool
dropped_after(nng_socket s, const void *body, size_t len)
{
	uint32_t before = 0, after = 0;
	int rv = request(s, body, len, &before);

	if (rv == 0) {
		usleep(200000);
		rv = request(s, "\x01", 1, &after);
		/* nng redialed: the answer came over a new connection */
		if (rv == 0 && after != before)
			return true;
	}
	/* A poll unanswered for longer than the node's poll_interval (1s)
	 * means there is no connection any more. */
	return rv == NNG_ECONNRESET || rv == NNG_ECLOSED ||
	    rv == NNG_ECONNSHUT || rv == NNG_ETIMEDOUT;
}

/* Sends body and expects an answer. */
static bool
answered(nng_socket s, const void *body, size_t len)
{
	uint32_t pipe;

	return request(s, body, len, &pipe) == 0;
}

static size_t
data_frame(uint8_t *out, uint32_t seq, const void *msg, size_t len)
{
	out[0] = 0x02;
	out[1] = (uint8_t)(seq >> 24);
	out[2] = (uint8_t)(seq >> 16);
	out[3] = (uint8_t)(seq >> 8);
	out[4] = (uint8_t)seq;
	memcpy(out + 5, msg, len);
	return len + 5;
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
t_bad_peers_dropped_good_peer_served(void)
{
	const char *qiao = getenv("QIAO"), *base = check_tmpdir();
	char dir[300], url[64], logpath[320], path[340];
	node *d, *t, *v;
	node_daemon *vd = NULL;
	node_daemon_upstream up;
	uint8_t buf[4096], *big;
	nng_socket s, silent;
	crdt_writer w;
	node_sync_hello h;
	qiao_conf c;
	pid_t pid;
	FILE *f;
	int status;
	uint64_t end;

	if (qiao == NULL)
		SKIP("QIAO (the qiao binary) is not set");
	REQUIRE(base != NULL);
	node_log_set_level(NODE_LOG_ERR);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d",
	    23000 + (int)(getpid() % 2000) * 3);
	snprintf(dir, sizeof(dir), "%s/d", base);
	REQUIRE((d = tn_make(dir, QIAO_ROLE_DISTRICT, "500116", NULL)) != 0);
	snprintf(dir, sizeof(dir), "%s/t", base);
	tn_conf(&c, dir, QIAO_ROLE_TOWN, "500116001", node_self(d));
	REQUIRE((t = tn_make_conf(dir, &c)) != NULL);
	snprintf(dir, sizeof(dir), "%s/v", base);
	REQUIRE((v = tn_make(dir, QIAO_ROLE_VILLAGE, "500116001001",
		     node_self(d))) != NULL);
	REQUIRE_RC(tn_enrol(d, t, QIAO_ROLE_TOWN, "500116001"), QIAO_OK);
	REQUIRE_RC(tn_enrol(t, v, QIAO_ROLE_VILLAGE, "500116001001"),
	    QIAO_OK);
	REQUIRE_RC(tn_notes(v, 40, 200), QIAO_OK);
	/* The town gets the district's log (with its own certificate) by
	 * file, as a station without a link would. */
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
	node_close(t);
	/* The town's config on disk, for the real process. */
	snprintf(path, sizeof(path), "%s/t/qiao.conf", base);
	REQUIRE_RC(conf_save(&c, path), QIAO_OK);
	REQUIRE((f = fopen(path, "a")) != NULL);
	fprintf(f, "durable = no\nmapsize = 64M\n[net]\nlisten = %s\n"
		   "max_message = 1M\npoll_interval = 1s\n",
	    url);
	fclose(f);
	snprintf(logpath, sizeof(logpath), "%s/t.log", base);
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
	while (!raw_open(&s, url) && (uint64_t)time(NULL) < end) {
		nng_close(s);
		usleep(100000);
	}
	/* A peer that connects and never says a word (it must not stall
	 * anyone). */
	CHECK(raw_open(&silent, url));

	/* 1. garbage: not even a carrier */
	for (size_t i = 0; i < 64; i++)
		buf[i] = (uint8_t)check_rand();
	buf[0] = 0xff;
	CHECK(dropped_after(s, buf, 64));
	nng_close(s);
	/* 2. a truncated carrier */
	REQUIRE(raw_open(&s, url));
	CHECK(dropped_after(s, "\x02\x00\x00", 3));
	nng_close(s);
	/* 3. a truncated HELLO in a good carrier */
	memset(&h, 0, sizeof(h));
	h.version = 1;
	memcpy(h.key, node_self(v), QIAO_KEY_LEN);
	h.window = 4;
	h.max_message = 1 << 20;
	crdt_writer_init(&w);
	node_syncwire_hello(&w, &h);
	REQUIRE(raw_open(&s, url));
	CHECK(dropped_after(s, buf, data_frame(buf, 0, w.buf, w.len - 5)));
	nng_close(s);
	/* 4. a good HELLO, then a BATCH that is not one */
	REQUIRE(raw_open(&s, url));
	CHECK(answered(s, buf, data_frame(buf, 0, w.buf, w.len)));
	crdt_writer_fini(&w);
	crdt_writer_init(&w);
	crdt_write_array(&w, 3);
	crdt_write_uint(&w, NODE_SYNC_BATCH);
	crdt_write_uint(&w, NODE_SYNC_CODEC_ZSTD);
	crdt_write_bin(&w, "not zstd at all", 15);
	CHECK(dropped_after(s, buf, data_frame(buf, 1, w.buf, w.len)));
	crdt_writer_fini(&w);
	nng_close(s);
	/* 5. oversized: 2 MiB to a node that accepts 1 MiB */
	REQUIRE((big = calloc(1, 2 << 20)) != NULL);
	big[0] = 0x02;
	REQUIRE(raw_open(&s, url));
	CHECK(dropped_after(s, big, 2 << 20));
	nng_close(s);
	free(big);
	/* 6. a count far beyond its limit (HEADS of 2^30 heads) */
	REQUIRE(raw_open(&s, url));
	crdt_writer_init(&w);
	node_syncwire_hello(&w, &h);
	CHECK(answered(s, buf, data_frame(buf, 0, w.buf, w.len)));
	crdt_writer_fini(&w);
	crdt_writer_init(&w);
	crdt_write_array(&w, 4);
	crdt_write_uint(&w, NODE_SYNC_HEADS);
	crdt_write_uint(&w, 1);
	crdt_write_bool(&w, false);
	crdt_write_array(&w, 1u << 30);
	CHECK(dropped_after(s, buf, data_frame(buf, 1, w.buf, w.len)));
	crdt_writer_fini(&w);
	nng_close(s);

	/* The node still runs and serves a good peer fully. */
	CHECK(waitpid(pid, &status, WNOHANG) == 0);
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
		char line[1024];

		printf("# village: %s\n# town's log:\n", up.why);
		if ((f = fopen(logpath, "r")) != NULL) {
			while (fgets(line, sizeof(line), f) != NULL)
				printf("# %s", line);
			fclose(f);
		}
	}
	node_daemon_free(vd);
	nng_close(silent);
	CHECK(waitpid(pid, &status, WNOHANG) == 0);
	kill(pid, SIGTERM);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* One line per bad peer (the oversized one is cut by nng itself and
	 * shows as a disconnect). */
	CHECK(count_lines(logpath, "dropp") >= 4);
	snprintf(dir, sizeof(dir), "%s/t", base);
	{
		char err[256];

		REQUIRE_RC(node_open(&t, dir, NULL, err, sizeof(err)),
		    QIAO_OK);
		CHECK(tn_seq(t, node_self(v)) == 40);
		node_close(t);
	}
	node_close(v);
	node_close(d);
}

CHECK_MAIN(T(t_bad_peers_dropped_good_peer_served))
