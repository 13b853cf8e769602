#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crdt/hex.h"
#include "node/channel.h"
#include "node/daemon.h"
#include "node/link.h"
#include "node/log.h"
#include "node/net.h"
#include "node/sync.h"

/* The transport's limit is max_message + 64 (node_daemon_new): a sealed
 * sync message in its carrier (5 bytes) fits, and a handshake frame is
 * far below any max_message. */
_Static_assert(5 + NODE_LINK_OVERHEAD <= 64, "a sealed message fits");

struct sess {
	uint64_t conn;
	int upstream; /* -1: accepted */
	node_channel *ch;
	node_sync *sync; /* NULL until the link is established */
	uint64_t deadline;  /* mono ms: the handshake must be over by then */
	uint64_t linger;    /* mono ms: refused; closed once the refusal had
			     * time to reach the peer (0: not refused) */
	bool noted;   /* URL recorded for the peer */
	bool was_in_sync;
	struct sess *next;
};

struct upstate {
	char url[QIAO_URL_MAX];
	uint64_t conn;
	char why[200];
	bool in_sync, blocked, refused;
	uint64_t stored, entries_out;
};

struct node_daemon {
	node *n;
	node_net *net;
	struct sess *sessions;
	size_t nsess;
	struct upstate *ups;
	size_t nups;
	uint64_t tick;
	uint64_t next_poll;
	uint64_t events;
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The proven key, once the link is established. */
static const uint8_t *
sess_peer(const struct sess *s)
{
	return s->ch != NULL ? node_channel_peer(s->ch) : NULL;
}

static void
sess_label(const struct node_daemon *d, const struct sess *s, char *buf,
    size_t len)
{
	const uint8_t *peer = sess_peer(s);
	char hex[2 * QIAO_KEY_LEN + 1] = "?";

	if (peer != NULL)
		crdt_hex_encode(hex, peer, QIAO_KEY_LEN);
	if (s->upstream >= 0)
		snprintf(buf, len, "%s (%.16s)", d->ups[s->upstream].url, hex);
	else
		snprintf(buf, len, "peer %.16s (conn %llu)", hex,
		    (unsigned long long)s->conn);
}

static void
sess_free(node_daemon *d, struct sess *s)
{
	for (struct sess **p = &d->sessions; *p != NULL; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			d->nsess--;
			break;
		}
	}
	if (s->upstream >= 0) {
		struct upstate *u = &d->ups[s->upstream];

		u->conn = 0;
		u->in_sync = false;
	}
	node_sync_free(s->sync);
	node_channel_free(s->ch);
	free(s);
}

static struct sess *
sess_find(node_daemon *d, uint64_t conn)
{
	for (struct sess *s = d->sessions; s != NULL; s = s->next)
		if (s->conn == conn)
			return s;
	return NULL;
}

/* Ends a session that failed: one line, the peer dropped, the rest go
 * on. `what` (may be NULL) says what failed when qiao_strerror(rc) would
 * not, e.g. "link refused". */
static void
sess_fail_as(node_daemon *d, struct sess *s, const char *what, int rc,
    const char *why)
{
	const uint8_t *peer = sess_peer(s);
	char label[320], msg[200];

	if (what == NULL)
		what = qiao_strerror(rc);
	snprintf(msg, sizeof(msg), "%s%s%s", what, why ? ": " : "",
	    why ? why : "");
	sess_label(d, s, label, sizeof(label));
	node_log(NODE_LOG_WARN, "daemon", "%s: %s; dropping it", label, msg);
	if (s->upstream >= 0)
		snprintf(d->ups[s->upstream].why,
		    sizeof(d->ups[s->upstream].why), "%s", msg);
	if (peer != NULL) {
		char note[QIAO_SYNC_REASON_MAX];

		snprintf(note, sizeof(note), "%.100s", msg);
		/* A failed note costs only the status line; the store logs. */
		int nrc = node_sync_peer_note(d->n, peer, NULL, note);

		(void)nrc;
	}
	node_net_drop(d->net, s->conn);
	sess_free(d, s);
}

static void
sess_fail(node_daemon *d, struct sess *s, int rc, const char *why)
{
	sess_fail_as(d, s, NULL, rc, why);
}

/* Sends what the session has to say. */
static int
flush(node_daemon *d, struct sess *s)
{
	uint8_t *m, *f;
	size_t len, flen;
	int rc;

	while (node_channel_pop(s->ch, &f, &flen) == QIAO_OK) {
		rc = node_net_send(d->net, s->conn, f, flen);
		free(f);
		if (rc != QIAO_OK)
			return rc;
	}
	if (s->sync == NULL)
		return QIAO_OK; /* no sync message before the link is up */
	while ((rc = node_sync_pop(s->sync, &m, &len)) == QIAO_OK) {
		rc = node_channel_seal(s->ch, m, len, &f, &flen);
		free(m);
		if (rc != QIAO_OK)
			return rc;
		rc = node_net_send(d->net, s->conn, f, flen);
		free(f);
		if (rc != QIAO_OK)
			return rc;
	}
	return rc == QIAO_ENOTFOUND ? QIAO_OK : rc;
}

/* Logs transitions into sync, and keeps upstream state for callers. */
static void
observe(node_daemon *d, struct sess *s)
{
	const node_sync_info *in;
	bool now;
	char label[320];

	if (s->sync == NULL)
		return;
	in = node_sync_get_info(s->sync);
	now = node_sync_in_sync(s->sync);
	if (in->hello && !s->noted && s->upstream >= 0) {
		s->noted = true;
		if (node_sync_peer_note(d->n, in->peer,
			d->ups[s->upstream].url, NULL) != QIAO_OK)
			s->noted = false; /* try again next time */
	}
	if (s->upstream >= 0) {
		struct upstate *u = &d->ups[s->upstream];

		u->in_sync = now;
		u->blocked = in->blocked;
		u->stored = in->stored;
		u->entries_out = in->entries_out;
		if (in->blocked)
			snprintf(u->why, sizeof(u->why), "entries rejected: "
							 "%.150s",
			    in->last_reject);
	}
	if (now && !s->was_in_sync) {
		sess_label(d, s, label, sizeof(label));
		node_log(NODE_LOG_INFO, "daemon",
		    "%s: in sync (stored %llu, sent %llu entries)", label,
		    (unsigned long long)in->stored,
		    (unsigned long long)in->entries_out);
	} else if (in->blocked && s->was_in_sync != now && !now) {
		sess_label(d, s, label, sizeof(label));
		node_log(NODE_LOG_WARN, "daemon", "%s: entries rejected: %s",
		    label, in->last_reject);
	}
	s->was_in_sync = now;
}

static void
on_up(node_daemon *d, const node_net_event *ev)
{
	const qiao_conf *c = node_get_conf(d->n);
	struct sess *s;
	int rc;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		node_log(NODE_LOG_ERR, "daemon", "out of memory for a session");
		node_net_drop(d->net, ev->conn);
		return;
	}
	s->conn = ev->conn;
	s->upstream = ev->upstream;
	s->deadline = mono_ms() + c->timeout_ms;
	if (s->upstream >= 0) {
		d->ups[s->upstream].conn = ev->conn;
		d->ups[s->upstream].in_sync = false;
	}
	s->next = d->sessions;
	d->sessions = s;
	d->nsess++;
	/* The link first: an initiator's HELLO frame goes out now. */
	if ((rc = node_channel_new(&s->ch, d->n, s->upstream >= 0)) !=
	    QIAO_OK) {
		sess_fail(d, s, rc, "cannot start the link (the station key?)");
		return;
	}
	if ((rc = flush(d, s)) != QIAO_OK)
		sess_fail(d, s, rc, NULL);
}

/* The link is up: both keys are proven and welcome. The sync session
 * starts now, bound to the proven key. */
static int
link_up(node_daemon *d, struct sess *s)
{
	const uint8_t *peer = node_channel_peer(s->ch);
	node_sync_opts so = { .zstd_level = -1 };
	char label[320];
	int rc;

	so.initiator = s->upstream >= 0;
	/* We know whom we reached, so our HELLO can say what of its log we
	 * hold. */
	so.expect_peer = peer;
	so.proven_peer = peer;
	if ((rc = node_sync_new(&s->sync, d->n, &so)) != QIAO_OK)
		return rc;
	if (s->upstream >= 0) {
		d->ups[s->upstream].refused = false;
		d->ups[s->upstream].why[0] = '\0';
	}
	node_net_confirm(d->net, s->conn);
	sess_label(d, s, label, sizeof(label));
	node_log(NODE_LOG_INFO, "daemon", "%s: link up", label);
	if (so.initiator)
		return node_sync_start(s->sync, node_now_ms(d->n));
	return QIAO_OK;
}

/*
 * The link failed (final). A responder that refused the peer has one
 * sealed frame to send, saying so and nothing else: it goes out and the
 * connection is kept, ignored, until the peer closes it or a moment
 * passes; any other failure drops the connection at once.
 */
static void
link_fail(node_daemon *d, struct sess *s, int rc, const char *why)
{
	char label[320];
	uint8_t *f;
	size_t flen;
	bool sent = false;

	if (s->upstream >= 0 && rc == QIAO_EUNAUTH)
		d->ups[s->upstream].refused = true;
	while (node_channel_pop(s->ch, &f, &flen) == QIAO_OK) {
		sent |= node_net_send(d->net, s->conn, f, flen) == QIAO_OK;
		free(f);
	}
	if (!sent) {
		sess_fail_as(d, s, rc == QIAO_EUNAUTH ? "link refused"
						      : "link failed",
		    rc, why);
		return;
	}
	sess_label(d, s, label, sizeof(label));
	node_log(NODE_LOG_WARN, "daemon", "%s: link refused: %s; closing it",
	    label, why ? why : qiao_strerror(rc));
	s->linger = mono_ms() + 2000;
}

static void
on_msg(node_daemon *d, const node_net_event *ev)
{
	struct sess *s = sess_find(d, ev->conn);
	const char *why = NULL;
	uint8_t *plain = NULL;
	size_t plen = 0;
	bool was;
	int rc;

	if (s == NULL || s->linger != 0)
		return;
	was = node_channel_established(s->ch);
	rc = node_channel_open(s->ch, ev->msg, ev->len, &plain, &plen, &why);
	if (rc != QIAO_OK) {
		if (was)
			sess_fail_as(d, s, rc == QIAO_ECRYPTO
				? "a sealed frame does not open"
				: NULL,
			    rc, why);
		else
			link_fail(d, s, rc, why);
		return;
	}
	if (!was && node_channel_established(s->ch) &&
	    (rc = link_up(d, s)) != QIAO_OK) {
		sess_fail(d, s, rc, "cannot start the sync session");
		return;
	}
	if (plain != NULL) {
		rc = node_sync_recv(s->sync, plain, plen, node_now_ms(d->n),
		    &why);
		free(plain);
		if (rc != QIAO_OK) {
			sess_fail_as(d, s, rc == QIAO_EUNAUTH ? "refused" : NULL,
			    rc, why);
			return;
		}
	}
	if ((rc = flush(d, s)) != QIAO_OK) {
		sess_fail(d, s, rc, NULL);
		return;
	}
	observe(d, s);
}

static void
on_down(node_daemon *d, const node_net_event *ev)
{
	struct sess *s = sess_find(d, ev->conn);
	char label[320];

	if (s == NULL)
		return;
	sess_label(d, s, label, sizeof(label));
	node_log(NODE_LOG_INFO, "daemon", "%s: disconnected (%s)", label,
	    ev->why);
	if (s->upstream >= 0)
		snprintf(d->ups[s->upstream].why,
		    sizeof(d->ups[s->upstream].why), "%s", ev->why);
	sess_free(d, s);
}

/* The store's tick moved (a CLI write, another peer's entries): every
 * session announces what its peer lacks. */
static void
poll_store(node_daemon *d)
{
	uint64_t now = node_now_ms(d->n), tick = 0;
	node_txn *txn;
	struct sess *s, *next;

	if (node_store_txn_begin(node_get_store(d->n), false, &txn) != 0)
		return;
	if (node_store_tick(txn, &tick) != QIAO_OK)
		tick = 0;
	node_store_txn_abort(txn);
	for (s = d->sessions; s != NULL; s = next) {
		uint64_t mono = mono_ms();
		int rc;

		next = s->next;
		if (s->linger != 0) {
			if (mono >= s->linger) {
				node_net_drop(d->net, s->conn);
				sess_free(d, s);
			}
			continue;
		}
		if (s->sync == NULL) {
			/* A peer that connects and never finishes the
			 * handshake holds a connection for nothing. */
			if (mono >= s->deadline)
				link_fail(d, s, QIAO_ETIMEDOUT,
				    "the link handshake did not finish in "
				    "time");
			continue;
		}
		rc = node_sync_poll(s->sync, now, tick);
		if (rc == QIAO_OK)
			rc = flush(d, s);
		if (rc != QIAO_OK) {
			sess_fail(d, s, rc, NULL);
			continue;
		}
		observe(d, s);
	}
	d->tick = tick;
}

int
node_daemon_new(node_daemon **out, node *n, const node_daemon_opts *o)
{
	const qiao_conf *c = node_get_conf(n);
	node_net_opts no = {
		/* A sync message, sealed (NODE_LINK_OVERHEAD), in its
		 * carrier (5 bytes): headroom to spare. */
		.max_message = c->max_message + 64,
		.reconnect_min_ms = c->reconnect_min_ms,
		.reconnect_max_ms = c->reconnect_max_ms,
		.window = (unsigned)c->window,
		.poll_ms = c->poll_ms,
		.timeout_ms = c->timeout_ms,
		.max_peers = (unsigned)c->max_peers,
	};
	const char *listen = o->listen != NULL ? o->listen : c->listen;
	node_daemon *d = calloc(1, sizeof(*d));
	size_t nup = o->no_upstream ? 0
	    : o->upstream != NULL  ? o->nupstream
				   : c->nupstream;
	int rc;

	if (d == NULL)
		return QIAO_ENOMEM;
	/* Every link proves the station's key: load it now, so a missing or
	 * unsafe key file stops the daemon at the start, not every link. */
	if ((rc = node_load_key(n)) != QIAO_OK) {
		free(d);
		return rc;
	}
	d->n = n;
	if (nup > 0 && (d->ups = calloc(nup, sizeof(*d->ups))) == NULL) {
		free(d);
		return QIAO_ENOMEM;
	}
	if ((rc = node_net_open(&d->net, &no)) != QIAO_OK)
		goto fail;
	if (listen[0] != '\0' &&
	    (rc = node_net_listen(d->net, listen)) != QIAO_OK)
		goto fail;
	for (size_t i = 0; i < nup; i++) {
		const char *url = o->upstream != NULL ? o->upstream[i]
						      : c->upstream[i];
		int index;

		snprintf(d->ups[i].url, sizeof(d->ups[i].url), "%s", url);
		if ((rc = node_net_dial(d->net, url, &index)) != QIAO_OK)
			goto fail;
		d->nups++;
	}
	*out = d;
	return QIAO_OK;
fail:
	node_daemon_free(d);
	return rc;
}

void
node_daemon_free(node_daemon *d)
{
	if (d == NULL)
		return;
	while (d->sessions != NULL)
		sess_free(d, d->sessions);
	node_net_close(d->net);
	free(d->ups);
	free(d);
}

int
node_daemon_step(node_daemon *d, int timeout_ms)
{
	const qiao_conf *c = node_get_conf(d->n);
	node_net_event ev;
	int handled = 0;
	uint64_t now;

	/* Wait once, then take what else is ready, bounded so the store
	 * poll below stays on time under load. */
	while (handled < 512 &&
	    node_net_wait(d->net, handled ? 0 : timeout_ms, &ev) == QIAO_OK) {
		switch (ev.kind) {
		case NODE_NET_UP:
			on_up(d, &ev);
			break;
		case NODE_NET_MSG:
			on_msg(d, &ev);
			break;
		case NODE_NET_DOWN:
			on_down(d, &ev);
			break;
		}
		free(ev.msg);
		handled++;
	}
	d->events += (uint64_t)handled;
	now = mono_ms();
	if (now >= d->next_poll) {
		poll_store(d);
		d->next_poll = now + c->change_poll_ms;
	}
	return QIAO_OK;
}

int
node_daemon_run(node_daemon *d, const volatile sig_atomic_t *stop)
{
	int rc = QIAO_OK;

	while (!*stop && rc == QIAO_OK)
		rc = node_daemon_step(d, 100);
	return rc;
}

void
node_daemon_upstream_state(const node_daemon *d, size_t i,
    node_daemon_upstream *out)
{
	memset(out, 0, sizeof(*out));
	if (i >= d->nups)
		return;
	out->connected = d->ups[i].conn != 0;
	out->in_sync = d->ups[i].in_sync;
	out->blocked = d->ups[i].blocked;
	out->refused = d->ups[i].refused;
	out->stored = d->ups[i].stored;
	out->entries_out = d->ups[i].entries_out;
	snprintf(out->why, sizeof(out->why), "%s", d->ups[i].why);
}

uint64_t
node_daemon_events(const node_daemon *d)
{
	return d->events;
}

size_t
node_daemon_sessions(const node_daemon *d)
{
	return d->nsess;
}

void
node_daemon_bytes(const node_daemon *d, uint64_t *sent, uint64_t *received)
{
	node_net_bytes(d->net, sent, received);
}
