/*
 * relay — a man in the middle for tests/it_link.sh: it accepts one
 * connection from a dialing node and relays it, message by message, to a
 * listening node, in the nng carrier both speak (docs/PROTOCOL.md,
 * "Transport"), optionally tampering with one sealed link frame on the
 * way. A helper, never run as a suite.
 *
 *   relay LISTEN UPSTREAM pass
 *   relay LISTEN UPSTREAM flip   up|down MIN
 *   relay LISTEN UPSTREAM replay up|down MIN
 *
 * up is dialer -> listener, down the reverse. flip inverts one bit in the
 * middle of the first sealed frame (type 0x10) of at least MIN bytes going
 * that way; replay puts, in that frame's place, the sealed frame sent
 * before it that way (under the carrier's next sequence number, so only
 * the link can notice). The relay serves one connection and exits 0 when
 * either side closes it; it prints "tampered" on stderr when it did.
 *
 * It is an ordinary SP device: a raw REP socket towards the dialer and a
 * raw REQ socket towards the listener, one thread each way, so the
 * request ids and backtraces pass through untouched.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

enum mode { PASS, FLIP, REPLAY };

struct dir {
	nng_socket from, to;
	bool tamper;       /* this direction is the one to tamper with */
	uint8_t *last;     /* the last sealed frame seen (replay) */
	size_t lastlen;
};

static enum mode mode;
static size_t min_len;
static atomic_bool done, tampered;

/* Tampers with a carrier's sealed frame if it is the one. */
static int
tamper(struct dir *d, nng_msg **mp)
{
	nng_msg *m = *mp;
	uint8_t *b = nng_msg_body(m), *f;
	size_t len = nng_msg_len(m), flen;

	if (!d->tamper || atomic_load(&tampered) || len <= 5 || !(b[0] & 0x02))
		return 0;
	f = b + 5;
	flen = len - 5;
	if (f[0] != 0x10)
		return 0;
	if (flen >= min_len && mode == FLIP) {
		f[flen / 2] ^= 0x01;
		atomic_store(&tampered, true);
		fprintf(stderr, "relay: tampered: flipped a bit of a sealed "
				"frame of %zu bytes\n",
		    flen);
		return 0;
	}
	if (flen >= min_len && mode == REPLAY && d->last != NULL) {
		if (nng_msg_chop(m, flen) != 0 ||
		    nng_msg_append(m, d->last, d->lastlen) != 0)
			return -1;
		atomic_store(&tampered, true);
		fprintf(stderr, "relay: tampered: replayed a sealed frame of "
				"%zu bytes in place of one of %zu\n",
		    d->lastlen, flen);
		return 0;
	}
	free(d->last);
	if ((d->last = malloc(flen)) == NULL)
		return -1;
	memcpy(d->last, f, flen);
	d->lastlen = flen;
	return 0;
}

static void *
pump(void *arg)
{
	struct dir *d = arg;
	nng_msg *m;

	while (!atomic_load(&done)) {
		if (nng_recvmsg(d->from, &m, 0) != 0)
			break;
		if (tamper(d, &m) != 0 || nng_sendmsg(d->to, m, 0) != 0) {
			nng_msg_free(m);
			break;
		}
	}
	atomic_store(&done, true);
	return NULL;
}

/* Either side going away ends the relay: the other side must see its
 * connection end too, as it would without a relay. One dialer only. */
static nng_socket rep;
static atomic_uint dialer; /* its pipe id; 0 until it connects */

static void
on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	unsigned none = 0;
	bool from_dialer = nng_socket_id(nng_pipe_socket(p)) ==
	    nng_socket_id(rep);

	(void)arg;
	if (ev == NNG_PIPE_EV_ADD_POST) {
		if (from_dialer &&
		    !atomic_compare_exchange_strong(&dialer, &none,
			(unsigned)nng_pipe_id(p)))
			nng_pipe_close(p); /* one connection only */
		return;
	}
	if (!from_dialer || atomic_load(&dialer) == (unsigned)nng_pipe_id(p))
		atomic_store(&done, true);
}

static int
usage(void)
{
	fprintf(stderr, "usage: relay LISTEN UPSTREAM pass\n"
			"       relay LISTEN UPSTREAM flip|replay up|down "
			"MIN\n");
	return 2;
}

int
main(int argc, char **argv)
{
	struct dir up = { 0 }, down = { 0 };
	nng_socket req;
	pthread_t tu, td;
	int rv;

	if (argc == 4 && strcmp(argv[3], "pass") == 0) {
		mode = PASS;
	} else if (argc == 6 && (strcmp(argv[3], "flip") == 0 ||
				    strcmp(argv[3], "replay") == 0) &&
	    (strcmp(argv[4], "up") == 0 || strcmp(argv[4], "down") == 0)) {
		mode = argv[3][0] == 'f' ? FLIP : REPLAY;
		up.tamper = argv[4][0] == 'u';
		down.tamper = !up.tamper;
		min_len = strtoul(argv[5], NULL, 10);
	} else {
		return usage();
	}
	if ((rv = nng_rep0_open_raw(&rep)) != 0 ||
	    (rv = nng_req0_open_raw(&req)) != 0) {
		fprintf(stderr, "relay: %s\n", nng_strerror(rv));
		return 1;
	}
	nng_socket_set_size(rep, NNG_OPT_RECVMAXSZ, 8 << 20);
	nng_socket_set_size(req, NNG_OPT_RECVMAXSZ, 8 << 20);
	nng_pipe_notify(rep, NNG_PIPE_EV_ADD_POST, on_pipe, NULL);
	nng_pipe_notify(rep, NNG_PIPE_EV_REM_POST, on_pipe, NULL);
	nng_pipe_notify(req, NNG_PIPE_EV_REM_POST, on_pipe, NULL);
	/* The listener first, so the dialer's first message has somewhere
	 * to go. */
	if ((rv = nng_dial(req, argv[2], NULL, 0)) != 0 ||
	    (rv = nng_listen(rep, argv[1], NULL, 0)) != 0) {
		fprintf(stderr, "relay: %s\n", nng_strerror(rv));
		return 1;
	}
	fprintf(stderr, "relay: ready\n");
	/* Both ways the body is the carrier: the raw sockets keep the
	 * backtrace (pipe and request ids) in the header. */
	up.from = rep;
	up.to = req;
	down.from = req;
	down.to = rep;
	pthread_create(&tu, NULL, pump, &up);
	pthread_create(&td, NULL, pump, &down);
	while (!atomic_load(&done))
		usleep(20000);
	nng_close(rep);
	nng_close(req);
	pthread_join(tu, NULL);
	pthread_join(td, NULL);
	free(up.last);
	free(down.last);
	return 0;
}
