/*
 * hostile — a peer that tries to exhaust a node's memory, for the resource
 * test (tests/it_limits.sh). A helper, never run as a suite.
 *
 *   hostile announce HOST PORT SIZE
 *       raw TCP: the SP handshake of a REQ socket, then a message header
 *       declaring SIZE bytes and up to 8 MiB of its body. Exit 0 when the
 *       node closes the connection, 1 when it keeps reading.
 *   hostile flood URL N SIZE
 *       raw nng REQ: N carriers of SIZE bytes numbered 1..N -- never 0, so
 *       each must wait in the node's reorder buffer for one that never
 *       comes. Prints how many the node took before dropping us.
 *   hostile bomb DIR URL KIND
 *       as the station whose store is DIR: dials URL (node/net), runs the
 *       link handshake (node/channel), sends a genuine HELLO (node/sync),
 *       then one message of KIND:
 *         count32  HEADS declaring 2^32-1 heads
 *         map32    HELLO fields in a map declaring 2^32-1 pairs
 *         bin32    BATCH declaring a payload of 4 GiB - 1
 *         deep     a value nested 1,000,000 arrays deep
 *         zstd     BATCH whose zstd frame declares 1 GiB of content
 *       Exit 0 when the node drops the connection within 15 s. Or:
 *         authors  300 HEADS of 2048 made-up authors each, all valid:
 *                  exit 0 when the node has answered every one (a WANT
 *                  each) within 15 s without dropping us.

 *   hostile swarm DIR URL N SECONDS
 *       as the station in DIR: N connections at once (node/daemon with N
 *       upstreams), each a full sync session. Exit 0 when all N were in
 *       sync within SECONDS; prints how many were.
 *
 * Exit 2 on usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <sodium.h>
#include <zstd.h>

#include "crdt/codec.h"
#include "node/channel.h"
#include "node/daemon.h"
#include "node/log.h"
#include "node/net.h"
#include "node/sync.h"

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
usage(void)
{
	fprintf(stderr, "usage: hostile announce HOST PORT SIZE | "
			"flood URL N SIZE | bomb DIR URL KIND | "
			"swarm DIR URL N SECONDS\n");
	return 2;
}

/* announce */

static int
announce(const char *host, const char *port, unsigned long long size)
{
	static const uint8_t req_hdr[8] = { 0, 'S', 'P', 0, 0x00, 0x30, 0, 0 };
	static uint8_t chunk[64 << 10];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	struct timeval tv = { 3, 0 };
	uint8_t hdr[8], peer[8];
	size_t sent = 0;
	ssize_t n;
	int fd;

	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return 1;
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		fprintf(stderr, "hostile: connect: %s\n", strerror(errno));
		freeaddrinfo(ai);
		return 1;
	}
	freeaddrinfo(ai);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (write(fd, req_hdr, 8) != 8 || read(fd, peer, 8) != 8 ||
	    memcmp(peer, "\0SP\0", 4) != 0) {
		fprintf(stderr, "hostile: no SP handshake\n");
		return 1;
	}
	for (int i = 0; i < 8; i++)
		hdr[i] = (uint8_t)(size >> (56 - 8 * i));
	if (write(fd, hdr, 8) != 8)
		return 1;
	/* The body: a REQ header (request id, top bit set), then zeros. */
	chunk[0] = 0x80;
	while (sent < (8u << 20)) {
		n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);
		if (n <= 0)
			break;
		sent += (size_t)n;
	}
	/* Closed, or closing: a read sees the end or a reset. */
	n = recv(fd, chunk, sizeof(chunk), 0);
	close(fd);
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) {
		printf("still open after %zu bytes of a %llu-byte message\n",
		    sent, size);
		return 1;
	}
	printf("closed after %zu bytes of a %llu-byte message\n", sent, size);
	return 0;
}

/* flood */

static int
flood(const char *url, unsigned long n, unsigned long size)
{
	nng_socket s;
	nng_msg *m;
	uint8_t *buf;
	unsigned long i;
	int rv;

	if (size < 6 || nng_req0_open(&s) != 0)
		return 1;
	if ((buf = calloc(1, size)) == NULL) {
		nng_close(s);
		return 1;
	}
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 5000);
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 1 << 20);
	if ((rv = nng_dial(s, url, NULL, 0)) != 0) {
		fprintf(stderr, "hostile: dial %s: %s\n", url,
		    nng_strerror(rv));
		nng_close(s);
		free(buf);
		return 1;
	}
	memset(buf, 'x', size);
	buf[0] = 0x02; /* DATA */
	for (i = 1; i <= n; i++) {
		buf[1] = (uint8_t)(i >> 24);
		buf[2] = (uint8_t)(i >> 16);
		buf[3] = (uint8_t)(i >> 8);
		buf[4] = (uint8_t)i;
		if (nng_msg_alloc(&m, 0) != 0)
			break;
		if (nng_msg_append(m, buf, size) != 0) {
			nng_msg_free(m);
			break;
		}
		if ((rv = nng_sendmsg(s, m, 0)) != 0) {
			nng_msg_free(m);
			break;
		}
		if ((rv = nng_recvmsg(s, &m, 0)) != 0)
			break;
		nng_msg_free(m);
	}
	printf("the node took %lu of %lu out-of-order messages of %lu "
	       "bytes%s\n",
	    i - 1, n, size, i <= n ? ", then dropped us" : "");
	nng_close(s);
	free(buf);
	return 0;
}

/* bomb */

static int
bomb_message(const char *kind, crdt_writer *w)
{
	if (strcmp(kind, "count32") == 0) {
		crdt_write_array(w, 4);
		crdt_write_uint(w, NODE_SYNC_HEADS);
		crdt_write_uint(w, 1);
		crdt_write_bool(w, false);
		crdt_write_array(w, UINT32_MAX);
		for (int i = 0; i < 64; i++)
			crdt_write_array(w, 3);
	} else if (strcmp(kind, "map32") == 0) {
		crdt_write_array(w, 2);
		crdt_write_uint(w, NODE_SYNC_HELLO);
		crdt_write_map(w, UINT32_MAX);
		crdt_write_cstr(w, "version");
		crdt_write_uint(w, 1);
	} else if (strcmp(kind, "bin32") == 0) {
		static const uint8_t b[] = { 0x93, 0x04, 0x00, 0xc6, 0xff, 0xff,
			0xff, 0xff, 'x', 'x', 'x', 'x' };

		crdt_write_raw(w, b, sizeof(b));
	} else if (strcmp(kind, "deep") == 0) {
		uint8_t *d = malloc(1000001);

		if (d == NULL)
			return -1;
		memset(d, 0x91, 1000000);
		d[1000000] = 0xc0;
		crdt_write_raw(w, d, 1000001);
		free(d);
	} else if (strcmp(kind, "authors") == 0) {
		return 0; /* made one by one: authors_heads() */
	} else if (strcmp(kind, "zstd") == 0) {
		/* 1 GiB of zeros compresses to a few dozen KiB, and the frame
		 * says how large it is. */
		size_t big = 1u << 30, cap = ZSTD_compressBound(big);
		uint8_t *in = calloc(1, big), *out = malloc(cap);
		size_t len;

		if (in == NULL || out == NULL)
			return -1;
		len = ZSTD_compress(out, cap, in, big, 1);
		free(in);
		if (ZSTD_isError(len)) {
			free(out);
			return -1;
		}
		crdt_write_array(w, 3);
		crdt_write_uint(w, NODE_SYNC_BATCH);
		crdt_write_uint(w, NODE_SYNC_CODEC_ZSTD);
		crdt_write_bin(w, out, len);
		free(out);
	} else {
		return -1;
	}
	return crdt_writer_error(w) == QIAO_OK ? 0 : -1;
}

/* Seals and sends one message over the connection. */
static int
send_msg(node_net *net, node_channel *ch, uint64_t conn, const uint8_t *m,
    size_t len)
{
	uint8_t *f;
	size_t flen;
	int rc;

	if ((rc = node_channel_seal(ch, m, len, &f, &flen)) != QIAO_OK)
		return rc;
	rc = node_net_send(net, conn, f, flen);
	free(f);
	return rc;
}

#define AUTHORS_MSGS 300u

/* HEADS number k of made-up authors, each at seq 1000. */
static int
authors_heads(crdt_writer *w, unsigned k)
{
	uint8_t key[QIAO_KEY_LEN], hash[QIAO_HASH_LEN];

	crdt_write_array(w, 4);
	crdt_write_uint(w, NODE_SYNC_HEADS);
	crdt_write_uint(w, k + 1);
	crdt_write_bool(w, false);
	crdt_write_array(w, QIAO_SYNC_HEADS_MAX);
	for (unsigned i = 0; i < QIAO_SYNC_HEADS_MAX; i++) {
		randombytes_buf(key, sizeof(key));
		randombytes_buf(hash, sizeof(hash));
		crdt_write_array(w, 3);
		crdt_write_bin(w, key, sizeof(key));
		crdt_write_uint(w, 1000);
		crdt_write_bin(w, hash, sizeof(hash));
	}
	return crdt_writer_error(w) == QIAO_OK ? 0 : -1;
}

/* Sends the link's handshake frames, and our HELLO once the link is up. */
static void
pump(node_net *net, node_channel *ch, node_sync *sync, uint64_t conn,
    bool *hello_sent)
{
	uint8_t *m;
	size_t len;

	while (node_channel_pop(ch, &m, &len) == QIAO_OK) {
		if (node_net_send(net, conn, m, len) != QIAO_OK)
			fprintf(stderr, "hostile: a handshake frame not sent\n");
		free(m);
	}
	if (!*hello_sent && node_channel_established(ch) &&
	    node_sync_pop(sync, &m, &len) == QIAO_OK) {
		if (send_msg(net, ch, conn, m, len) != QIAO_OK)
			fprintf(stderr, "hostile: HELLO not sent\n");
		free(m);
		*hello_sent = true;
	}
}

static int
bomb(const char *dir, const char *url, const char *kind)
{
	node_net_opts no = { .max_message = (2u << 20), .reconnect_min_ms = 200,
		.reconnect_max_ms = 1000, .window = 2, .poll_ms = 2000,
		.timeout_ms = 20000, .max_peers = 1 };
	node_sync_opts so = { .initiator = true, .zstd_level = 0 };
	node_channel *ch = NULL;
	node_sync *sync = NULL;
	node_net_event ev;
	node_net *net;
	node *n;
	crdt_writer w;
	char err[256];
	uint64_t conn = 0, end = mono_ms() + 15000;
	bool hello_sent = false, bomb_sent = false, done = false;
	bool authors = strcmp(kind, "authors") == 0;
	unsigned answered = 0;
	int index, rc = 1;

	crdt_writer_init(&w);
	if (bomb_message(kind, &w) != 0) {
		fprintf(stderr, "hostile: cannot make a %s bomb\n", kind);
		return 2;
	}
	if (node_open(&n, dir, NULL, err, sizeof(err)) != QIAO_OK) {
		fprintf(stderr, "hostile: %s\n", err);
		return 1;
	}
	if (node_net_open(&net, &no) != QIAO_OK ||
	    node_net_dial(net, url, &index) != QIAO_OK)
		return 1;
	while (!done && mono_ms() < end) {
		if (node_net_wait(net, 100, &ev) != QIAO_OK)
			continue;
		if (ev.kind == NODE_NET_UP && conn == 0) {
			conn = ev.conn;
			if (node_channel_new(&ch, n, true) != QIAO_OK ||
			    node_sync_new(&sync, n, &so) != QIAO_OK ||
			    node_sync_start(sync, node_now_ms(n)) != QIAO_OK)
				done = true;
			else
				pump(net, ch, sync, conn, &hello_sent);
		} else if (ev.kind == NODE_NET_MSG && ev.conn == conn) {
			uint8_t *plain = NULL;
			size_t plen = 0;
			const char *why = NULL;

			if (node_channel_open(ch, ev.msg, ev.len, &plain,
				&plen, &why) != QIAO_OK) {
				printf("%s: the link failed (%s)\n", kind,
				    why != NULL ? why : "no reason");
				done = true;
			} else {
				pump(net, ch, sync, conn, &hello_sent);
			}
			/* The node's first message (its HELLO): the session
			 * is open. Now the bomb. */
			if (plain != NULL && plen >= 2 && plain[0] == 0x92 &&
			    plain[1] == NODE_SYNC_WANT &&
			    ++answered == AUTHORS_MSGS) {
				printf("%s: the node answered all %u HEADS "
				       "(%u made-up authors)\n",
				    kind, AUTHORS_MSGS,
				    AUTHORS_MSGS * QIAO_SYNC_HEADS_MAX);
				rc = 0;
				done = true;
			}
			if (plain != NULL && hello_sent && !bomb_sent &&
			    authors) {
				for (unsigned k = 0; k < AUTHORS_MSGS; k++) {
					crdt_writer h;

					crdt_writer_init(&h);
					if (authors_heads(&h, k) != 0 ||
					    send_msg(net, ch, conn, h.buf,
						h.len) != QIAO_OK)
						done = true;
					crdt_writer_fini(&h);
				}
				bomb_sent = true;
			}
			if (plain != NULL && hello_sent && !bomb_sent) {
				if (send_msg(net, ch, conn, w.buf, w.len) !=
				    QIAO_OK) {
					fprintf(stderr, "hostile: the %s bomb "
							"(%zu bytes) cannot "
							"be sent\n",
					    kind, w.len);
					done = true;
				}
				bomb_sent = true;
			}
			free(plain);
		} else if (ev.kind == NODE_NET_DOWN && ev.conn == conn) {
			printf("%s: dropped %s the bomb (%s)\n", kind,
			    bomb_sent ? "after" : "before", ev.why);
			rc = bomb_sent && !authors ? 0 : 1;
			done = true;
		}
		free(ev.msg);
	}
	if (!done)
		printf("%s: %s within 15 s\n", kind,
		    authors ? "not all answered" : "not dropped");
	if (authors && answered < AUTHORS_MSGS)
		printf("%s: %u of %u HEADS answered\n", kind, answered,
		    AUTHORS_MSGS);
	crdt_writer_fini(&w);
	node_sync_free(sync);
	node_channel_free(ch);
	node_net_close(net);
	node_close(n);
	return rc;
}

/* swarm */

static int
swarm(const char *dir, const char *url, unsigned long count,
    unsigned long seconds)
{
	const char **ups = calloc(count, sizeof(*ups));
	node_daemon_opts o = { .listen = "", .nupstream = count };
	node_daemon_upstream st;
	node_daemon *d;
	uint64_t end = mono_ms() + seconds * 1000;
	unsigned long done = 0;
	char err[256];
	node *n;

	if (ups == NULL)
		return 1;
	for (unsigned long i = 0; i < count; i++)
		ups[i] = url;
	o.upstream = ups;
	if (node_open(&n, dir, NULL, err, sizeof(err)) != QIAO_OK) {
		fprintf(stderr, "hostile: %s\n", err);
		return 1;
	}
	if (node_daemon_new(&d, n, &o) != QIAO_OK)
		return 1;
	while (mono_ms() < end && done < count) {
		if (node_daemon_step(d, 50) != QIAO_OK)
			break;
		done = 0;
		for (unsigned long i = 0; i < count; i++) {
			node_daemon_upstream_state(d, i, &st);
			done += st.in_sync;
		}
	}
	printf("%lu of %lu connections in sync\n", done, count);
	node_daemon_free(d);
	node_close(n);
	free(ups);
	return done == count ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	node_log_set_level(NODE_LOG_QUIET);
	if (argc == 5 && strcmp(argv[1], "announce") == 0)
		return announce(argv[2], argv[3], strtoull(argv[4], NULL, 10));
	if (argc == 5 && strcmp(argv[1], "flood") == 0)
		return flood(argv[2], strtoul(argv[3], NULL, 10),
		    strtoul(argv[4], NULL, 10));
	if (argc == 5 && strcmp(argv[1], "bomb") == 0)
		return bomb(argv[2], argv[3], argv[4]);
	if (argc == 6 && strcmp(argv[1], "swarm") == 0)
		return swarm(argv[2], argv[3], strtoul(argv[4], NULL, 10),
		    strtoul(argv[5], NULL, 10));
	return usage();
}
