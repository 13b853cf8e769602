#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "node/log.h"
#include "node/net.h"

/*
 * Carrier, v1: byte 0 flags (POLL 0x01, DATA 0x02); with DATA, bytes 1..4
 * the sequence number (big-endian, per connection and direction, from 0)
 * and then the message (at least one byte). Without DATA the body is the
 * flags byte alone: a long-poll, or an answer with nothing in it.
 */
#define CAR_POLL 0x01
#define CAR_DATA 0x02
#define CAR_HDR 5
#define HOLD_MAX 64      /* polls a listener holds per connection */
/*
 * Messages that arrive ahead of their turn wait for the one before. An
 * honest dialer has at most `window` (<= 64) sends in flight, and nng
 * swaps two of them only for an instant; a peer that sends far ahead and
 * never fills the gap would otherwise hold up to REORDER_MAX full-size
 * messages per connection (256 MiB each, with a thousand connections). So
 * what waits is bounded per connection and across all of them, and a gap
 * not filled within REORDER_WAIT_MS never will be: past any bound, the
 * connection is dropped (a dialer redials and resumes; nothing is lost).
 */
#define REORDER_MAX 64       /* messages waiting for an earlier one */
#define REORDER_CONN 4       /* their bytes per connection, x max_message */
#define REORDER_ALL 16       /* their bytes over all connections, the same */
#define REORDER_WAIT_MS 10000
#define POOL_MIN 16      /* listener contexts kept receiving */

/*
 * Closing a connection while a message is arriving on it can wedge nng
 * 1.5.2 for good: its TCP transport loses the pipe's receive when the
 * close lands between a message's header and its body, the pipe is never
 * reaped, no later pipe of the socket is either, and nng_close then waits
 * forever (fixed in nng 1.6.0: nanomsg/nng#1636). So a connection we drop
 * is made quiet first: nothing more is answered or sent on it, and its
 * pipe (or socket) is closed once nothing has arrived for CLOSE_QUIET_MS
 * -- a REQ peer whose requests go unanswered has nothing left to send,
 * and a REP peer has nothing to answer once ours are answered -- or after
 * CLOSE_MAX_MS whatever the peer does.
 */
#define CLOSE_QUIET_MS 200
#define CLOSE_MAX_MS 3000

enum ctx_state { CS_IDLE = 0, CS_RECV, CS_HELD, CS_SEND };

struct lconn;

/* A listener context: receives a request, holds or answers it. */
struct rctx {
	node_net *net;
	nng_ctx ctx;
	nng_aio *aio;
	enum ctx_state state;
	uint64_t gen;      /* bumped when a completion must be ignored */
	uint64_t conn;     /* HELD: whose request */
	uint64_t deadline; /* HELD: answer empty then */
	struct rctx *next_held;
};

struct up;

/* A dialer slot: one request in flight. */
struct dctx {
	struct up *up;
	nng_ctx ctx;
	nng_aio *aio;
	enum ctx_state state; /* CS_SEND then CS_RECV */
	bool poll;
	bool open;   /* ctx open */
	uint64_t gen;
};

struct msg {
	uint8_t *buf; /* carrier header + message */
	size_t len;
	uint32_t seq; /* reorder buffer */
	uint64_t at;  /* reorder buffer: when it arrived */
};

struct queue {
	struct msg *v;
	size_t head, n, cap;
};

/* What both ends of a connection keep. */
struct link {
	uint64_t id;
	uint32_t tx_seq, rx_seq;
	struct queue outq;   /* framed, waiting for a request to ride */
	struct msg *pend;    /* arrived ahead of rx_seq */
	size_t npend;
	size_t pend_bytes;
	uint64_t last_rx;
	bool confirmed;      /* the layer above vouched for it */
};

struct lconn {
	struct link l;
	uint32_t pipe;
	bool closing;      /* dropped: closed once quiet (CLOSE_QUIET_MS) */
	uint64_t close_by; /* closing: closed then at the latest */
	struct rctx *held; /* FIFO of held requests */
	struct rctx *held_tail;
	size_t nheld;
	struct lconn *next;
};

enum up_state { UP_WAIT = 0, UP_DIALING, UP_UP, UP_CLOSING };

struct up {
	node_net *net;
	int index;
	char url[256];
	enum up_state state;
	nng_socket sock;
	bool sock_open;
	uint32_t pipe;
	struct link l;
	struct dctx *slots;
	size_t nslots;
	uint64_t retry_at;
	uint64_t dial_until; /* UP_DIALING: give up on this socket then */
	uint64_t close_by;   /* UP_CLOSING: closed then at the latest */
	uint64_t backoff;
};

/* What nng's threads hand to ours. */
enum comp_kind { C_RCTX, C_DCTX, C_PIPE_ADD, C_PIPE_REM };

struct comp {
	enum comp_kind kind;
	void *p;
	uint64_t gen;
	uint32_t pipe;
	uint32_t sock; /* socket id of the pipe */
	int result;
};

struct node_net {
	node_net_opts o;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct comp *comps; /* guarded by mu */
	size_t ncomp, capcomp;

	nng_socket rep;
	bool rep_open;
	struct rctx **pool;
	size_t npool, nrecv;
	struct lconn *conns;
	size_t nconns;

	struct up **ups;
	size_t nups;

	node_net_event *events; /* FIFO, owner thread only */
	size_t ev_head, ev_n, ev_cap;
	uint64_t next_id;
	uint64_t sent, received;
	size_t pend_bytes; /* waiting out of order, all connections */
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* completions: the only thing nng's threads do */

static void
post(node_net *net, const struct comp *c)
{
	pthread_mutex_lock(&net->mu);
	if (net->ncomp == net->capcomp) {
		size_t cap = net->capcomp ? 2 * net->capcomp : 64;
		struct comp *v = realloc(net->comps, cap * sizeof(*v));

		if (v == NULL) {
			/* Cannot happen short of exhaustion; losing the
			 * completion stalls one context, so say so. */
			pthread_mutex_unlock(&net->mu);
			node_log(NODE_LOG_ERR, "net", "out of memory");
			return;
		}
		net->comps = v;
		net->capcomp = cap;
	}
	net->comps[net->ncomp++] = *c;
	pthread_cond_signal(&net->cv);
	pthread_mutex_unlock(&net->mu);
}

static void
rctx_cb(void *arg)
{
	struct rctx *r = arg;
	struct comp c = { C_RCTX, r, r->gen, 0, 0, nng_aio_result(r->aio) };

	post(r->net, &c);
}

static void
dctx_cb(void *arg)
{
	struct dctx *d = arg;
	struct comp c = { C_DCTX, d, d->gen, 0, 0, nng_aio_result(d->aio) };

	post(d->up->net, &c);
}

static void
pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	node_net *net = arg;
	struct comp c = { ev == NNG_PIPE_EV_ADD_POST ? C_PIPE_ADD
						     : C_PIPE_REM,
		NULL, 0, nng_pipe_id(p), (uint32_t)nng_socket_id(
					     nng_pipe_socket(p)), 0 };

	post(net, &c);
}

/* events */

static node_net_event *
event_new(node_net *net, enum node_net_kind kind, uint64_t conn, int up)
{
	node_net_event *e;

	if (net->ev_head + net->ev_n == net->ev_cap) {
		if (net->ev_head > 0) {
			memmove(net->events, net->events + net->ev_head,
			    net->ev_n * sizeof(*e));
			net->ev_head = 0;
		} else {
			size_t cap = net->ev_cap ? 2 * net->ev_cap : 64;
			node_net_event *v = realloc(net->events,
			    cap * sizeof(*v));

			if (v == NULL)
				return NULL;
			net->events = v;
			net->ev_cap = cap;
		}
	}
	e = &net->events[net->ev_head + net->ev_n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->conn = conn;
	e->upstream = up;
	return e;
}

static void
event_down(node_net *net, uint64_t conn, int up, const char *why)
{
	node_net_event *e = event_new(net, NODE_NET_DOWN, conn, up);

	if (e != NULL)
		snprintf(e->why, sizeof(e->why), "%s", why);
}

/* queues and links */

static int
queue_push(struct queue *q, struct msg m)
{
	if (q->head + q->n == q->cap) {
		if (q->head > 0) {
			memmove(q->v, q->v + q->head, q->n * sizeof(*q->v));
			q->head = 0;
		} else {
			size_t cap = q->cap ? 2 * q->cap : 16;
			struct msg *v = realloc(q->v, cap * sizeof(*v));

			if (v == NULL)
				return QIAO_ENOMEM;
			q->v = v;
			q->cap = cap;
		}
	}
	q->v[q->head + q->n++] = m;
	return QIAO_OK;
}

static bool
queue_pop(struct queue *q, struct msg *m)
{
	if (q->n == 0)
		return false;
	*m = q->v[q->head++];
	if (--q->n == 0)
		q->head = 0;
	return true;
}

static void
link_fini(node_net *net, struct link *l)
{
	struct msg m;

	while (queue_pop(&l->outq, &m))
		free(m.buf);
	free(l->outq.v);
	for (size_t i = 0; i < l->npend; i++)
		free(l->pend[i].buf);
	free(l->pend);
	net->pend_bytes -= l->pend_bytes;
	memset(l, 0, sizeof(*l));
}

static void
link_init(node_net *net, struct link *l)
{
	memset(l, 0, sizeof(*l));
	l->id = ++net->next_id;
	l->last_rx = now_ms();
}

/* Frames a message with the next sequence number. */
static int
link_frame(node_net *net, struct link *l, const uint8_t *msg, size_t len)
{
	struct msg m = { 0 };

	if (len == 0)
		return QIAO_EINVAL;
	if (len + CAR_HDR > net->o.max_message)
		return QIAO_ETOOBIG;
	if ((m.buf = malloc(len + CAR_HDR)) == NULL)
		return QIAO_ENOMEM;
	m.buf[0] = CAR_DATA;
	m.buf[1] = (uint8_t)(l->tx_seq >> 24);
	m.buf[2] = (uint8_t)(l->tx_seq >> 16);
	m.buf[3] = (uint8_t)(l->tx_seq >> 8);
	m.buf[4] = (uint8_t)l->tx_seq;
	memcpy(m.buf + CAR_HDR, msg, len);
	m.len = len + CAR_HDR;
	m.seq = l->tx_seq++;
	if (queue_push(&l->outq, m) != QIAO_OK) {
		free(m.buf);
		return QIAO_ENOMEM;
	}
	return QIAO_OK;
}

static int
deliver_one(node_net *net, struct link *l, int up, const uint8_t *p,
    size_t len)
{
	node_net_event *e;
	uint8_t *copy = malloc(len);

	if (copy == NULL)
		return QIAO_ENOMEM;
	memcpy(copy, p, len);
	if ((e = event_new(net, NODE_NET_MSG, l->id, up)) == NULL) {
		free(copy);
		return QIAO_ENOMEM;
	}
	e->msg = copy;
	e->len = len;
	return QIAO_OK;
}

/*
 * Takes one received body: checks the carrier, puts DATA in order and
 * hands what is next up. *poll says whether it was a long-poll.
 * QIAO_EPROTO for a body that is not a carrier (the caller drops the
 * connection).
 */
static int
link_receive(node_net *net, struct link *l, int up, const uint8_t *b,
    size_t len, bool *poll, const char **why)
{
	uint32_t seq;
	int rc;

	net->received += len;
	l->last_rx = now_ms();
	if (len == 0 || (b[0] & ~(CAR_POLL | CAR_DATA)) != 0) {
		*why = "not a qiao carrier (bad flags)";
		return QIAO_EPROTO;
	}
	*poll = (b[0] & CAR_POLL) != 0;
	if (!(b[0] & CAR_DATA)) {
		if (len != 1) {
			*why = "carrier without DATA has a body";
			return QIAO_EPROTO;
		}
		return QIAO_OK;
	}
	if (len <= CAR_HDR) {
		*why = "truncated carrier";
		return QIAO_EPROTO;
	}
	seq = (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 |
	    (uint32_t)b[3] << 8 | b[4];
	if (seq == l->rx_seq) {
		if ((rc = deliver_one(net, l, up, b + CAR_HDR,
			 len - CAR_HDR)) != QIAO_OK)
			return rc;
		l->rx_seq++;
	} else {
		struct msg *v;

		/* Ahead of its turn: keep it (bounded) until the gap fills.
		 * Behind, or far ahead, is a peer out of step. */
		if ((uint32_t)(seq - l->rx_seq) > REORDER_MAX ||
		    l->npend >= REORDER_MAX) {
			*why = "carrier sequence out of step";
			return QIAO_EPROTO;
		}
		if (l->pend_bytes + len > REORDER_CONN * net->o.max_message ||
		    net->pend_bytes + len > REORDER_ALL * net->o.max_message) {
			*why = "too much waiting out of order";
			return QIAO_EPROTO;
		}
		for (size_t i = 0; i < l->npend; i++)
			if (l->pend[i].seq == seq) {
				*why = "carrier sequence repeated";
				return QIAO_EPROTO;
			}
		if ((v = realloc(l->pend, (l->npend + 1) * sizeof(*v))) == 0)
			return QIAO_ENOMEM;
		l->pend = v;
		if ((v[l->npend].buf = malloc(len - CAR_HDR)) == NULL)
			return QIAO_ENOMEM;
		memcpy(v[l->npend].buf, b + CAR_HDR, len - CAR_HDR);
		v[l->npend].len = len - CAR_HDR;
		v[l->npend].at = l->last_rx;
		v[l->npend++].seq = seq;
		l->pend_bytes += len - CAR_HDR;
		net->pend_bytes += len - CAR_HDR;
		return QIAO_OK;
	}
	for (bool found = true; found;) {
		found = false;
		for (size_t i = 0; i < l->npend; i++) {
			if (l->pend[i].seq != l->rx_seq)
				continue;
			rc = deliver_one(net, l, up, l->pend[i].buf,
			    l->pend[i].len);
			l->pend_bytes -= l->pend[i].len;
			net->pend_bytes -= l->pend[i].len;
			free(l->pend[i].buf);
			l->pend[i] = l->pend[--l->npend];
			if (rc != QIAO_OK)
				return rc;
			l->rx_seq++;
			found = true;
			break;
		}
	}
	return QIAO_OK;
}

static int
xlate(int rv, const char *what, const char *url)
{
	node_log(NODE_LOG_ERR, "net", "%s %s: %s", what, url ? url : "",
	    nng_strerror(rv));
	return rv == NNG_ENOMEM ? QIAO_ENOMEM : QIAO_ENET;
}

static int
set_common(node_net *net, nng_socket s)
{
	int rv;

	if ((rv = nng_socket_set_size(s, NNG_OPT_RECVMAXSZ,
		 net->o.max_message)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_RECONNMINT,
		 (nng_duration)net->o.reconnect_min_ms)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_RECONNMAXT,
		 (nng_duration)net->o.reconnect_max_ms)) != 0 ||
	    (rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, pipe_cb, net)) !=
		0 ||
	    (rv = nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, pipe_cb, net)) !=
		0)
		return xlate(rv, "socket options", NULL);
	return QIAO_OK;
}

/* listener */

static struct lconn *
lconn_find(node_net *net, uint32_t pipe, uint64_t id)
{
	for (struct lconn *c = net->conns; c != NULL; c = c->next)
		if ((pipe != 0 && c->pipe == pipe) || (id != 0 && c->l.id == id))
			return c;
	return NULL;
}

static struct lconn *
lconn_add(node_net *net, uint32_t pipe)
{
	struct lconn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	link_init(net, &c->l);
	c->pipe = pipe;
	c->next = net->conns;
	net->conns = c;
	net->nconns++;
	if (event_new(net, NODE_NET_UP, c->l.id, -1) == NULL) {
		/* the caller will not know of it: drop it */
		net->conns = c->next;
		net->nconns--;
		free(c);
		return NULL;
	}
	return c;
}

static void rctx_recv(struct rctx *r);

/* Answers a held request with m (NULL: an empty answer). */
static void
rctx_reply(node_net *net, struct rctx *r, struct msg *m)
{
	nng_msg *nm = NULL;
	uint8_t empty = 0;
	int rv;

	rv = nng_msg_alloc(&nm, 0);
	if (rv == 0)
		rv = m != NULL ? nng_msg_append(nm, m->buf, m->len)
			       : nng_msg_append(nm, &empty, 1);
	if (m != NULL)
		free(m->buf);
	if (rv != 0) {
		if (nm != NULL)
			nng_msg_free(nm);
		node_log(NODE_LOG_ERR, "net", "reply: %s", nng_strerror(rv));
		rctx_recv(r);
		return;
	}
	net->sent += nng_msg_len(nm);
	r->state = CS_SEND;
	nng_aio_set_msg(r->aio, nm);
	nng_ctx_send(r->ctx, r->aio);
}

static struct rctx *
held_pop(struct lconn *c)
{
	struct rctx *r = c->held;

	if (r == NULL)
		return NULL;
	c->held = r->next_held;
	if (c->held == NULL)
		c->held_tail = NULL;
	r->next_held = NULL;
	c->nheld--;
	return r;
}

static void
held_push(struct lconn *c, struct rctx *r)
{
	r->next_held = NULL;
	if (c->held_tail != NULL)
		c->held_tail->next_held = r;
	else
		c->held = r;
	c->held_tail = r;
	c->nheld++;
}

/* Queued messages ride on held requests. */
static void
lconn_flush(node_net *net, struct lconn *c)
{
	struct msg m;

	while (c->held != NULL && c->l.outq.n > 0) {
		struct rctx *r = held_pop(c);

		(void)queue_pop(&c->l.outq, &m);
		rctx_reply(net, r, &m);
	}
}

/* Its held requests go back to receiving, unanswered. */
static void
lconn_release(struct lconn *c)
{
	struct rctx *r;

	while ((r = held_pop(c)) != NULL) {
		r->state = CS_IDLE;
		rctx_recv(r);
	}
}

static void
lconn_free(node_net *net, struct lconn *c)
{
	lconn_release(c);
	for (struct lconn **p = &net->conns; *p != NULL; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			net->nconns--;
			break;
		}
	}
	link_fini(net, &c->l);
	free(c);
}

/* Closes the pipe now and forgets the connection. */
static void
lconn_close(node_net *net, struct lconn *c)
{
	nng_pipe p = NNG_PIPE_INITIALIZER;

	/* nng_pipe is a struct holding the id (nng.h): rebuild it. */
	p.id = c->pipe;
	(void)nng_pipe_close(p);
	lconn_free(net, c);
}

/* Ends a connection for the layer above at once; its pipe is closed once
 * quiet (CLOSE_QUIET_MS, above). Until then the connection keeps its pipe
 * so that what still arrives on it is recognised and ignored, not taken
 * for a new peer. */
static void
lconn_drop(node_net *net, struct lconn *c, const char *why, bool tell)
{
	if (why != NULL)
		node_log(NODE_LOG_WARN, "net", "connection %llu: %s; dropped",
		    (unsigned long long)c->l.id, why);
	if (tell)
		event_down(net, c->l.id, -1, why ? why : "dropped");
	lconn_release(c);
	link_fini(net, &c->l); /* id 0: no longer found by node_net_send */
	c->closing = true;
	c->l.last_rx = now_ms();
	c->close_by = c->l.last_rx + CLOSE_MAX_MS;
}

static int
rctx_new(node_net *net, struct rctx **out)
{
	struct rctx *r = calloc(1, sizeof(*r));
	struct rctx **v;
	int rv;

	if (r == NULL)
		return QIAO_ENOMEM;
	r->net = net;
	if ((rv = nng_ctx_open(&r->ctx, net->rep)) != 0 ||
	    (rv = nng_aio_alloc(&r->aio, rctx_cb, r)) != 0) {
		free(r);
		return xlate(rv, "listener context", NULL);
	}
	if ((v = realloc(net->pool, (net->npool + 1) * sizeof(struct rctx *))) ==
	    NULL) {
		nng_ctx_close(r->ctx);
		nng_aio_free(r->aio);
		free(r);
		return QIAO_ENOMEM;
	}
	net->pool = v;
	net->pool[net->npool++] = r;
	*out = r;
	return QIAO_OK;
}

static void
rctx_recv(struct rctx *r)
{
	r->state = CS_RECV;
	r->conn = 0;
	r->net->nrecv++;
	nng_ctx_recv(r->ctx, r->aio);
}

/* Keeps POOL_MIN contexts receiving, so one busy peer never leaves the
 * others' requests without a taker. */
static void
pool_fill(node_net *net)
{
	size_t cap = (size_t)net->o.max_peers * (HOLD_MAX / 4) + POOL_MIN;

	for (size_t i = 0; i < net->npool && net->nrecv < POOL_MIN; i++)
		if (net->pool[i]->state == CS_IDLE)
			rctx_recv(net->pool[i]);
	while (net->nrecv < POOL_MIN && net->npool < cap) {
		struct rctx *r = NULL;

		if (rctx_new(net, &r) != QIAO_OK || r == NULL)
			return;
		rctx_recv(r);
	}
}

static void
on_rctx(node_net *net, struct rctx *r, int result)
{
	struct lconn *c;
	nng_msg *nm;
	const char *why = NULL;
	bool poll = false;
	nng_pipe pipe;
	uint32_t pid;
	struct msg m;
	int rc;

	if (r->state == CS_SEND) {
		if (result != 0)
			nng_msg_free(nng_aio_get_msg(r->aio));
		r->state = CS_IDLE;
		pool_fill(net);
		return;
	}
	if (r->state != CS_RECV)
		return;
	net->nrecv--;
	r->state = CS_IDLE;
	if (result != 0) {
		if (result != NNG_ECLOSED && result != NNG_ECANCELED)
			node_log(NODE_LOG_WARN, "net", "receive: %s",
			    nng_strerror(result));
		if (result != NNG_ECLOSED)
			pool_fill(net);
		return;
	}
	nm = nng_aio_get_msg(r->aio);
	pipe = nng_msg_get_pipe(nm);
	pid = nng_pipe_id(pipe);
	if ((c = lconn_find(net, pid, 0)) == NULL) {
		if (net->nconns >= net->o.max_peers) {
			node_log(NODE_LOG_WARN, "net", "%u connections: "
						       "refusing another",
			    net->o.max_peers);
			nng_msg_free(nm);
			(void)nng_pipe_close(pipe);
			pool_fill(net);
			return;
		}
		if ((c = lconn_add(net, pid)) == NULL) {
			nng_msg_free(nm);
			(void)nng_pipe_close(pipe);
			pool_fill(net);
			return;
		}
	}
	if (c->closing) {
		/* Dropped: left unanswered, so the peer falls quiet. */
		c->l.last_rx = now_ms();
		nng_msg_free(nm);
		rctx_recv(r);
		pool_fill(net);
		return;
	}
	rc = link_receive(net, &c->l, -1, nng_msg_body(nm), nng_msg_len(nm),
	    &poll, &why);
	nng_msg_free(nm);
	if (rc != QIAO_OK) {
		lconn_drop(net, c, why ? why : qiao_strerror(rc), true);
		rctx_recv(r);
		return;
	}
	r->conn = c->l.id;
	if (poll) {
		r->state = CS_HELD;
		r->deadline = now_ms() + net->o.poll_ms;
		held_push(c, r);
		if (c->nheld > HOLD_MAX)
			rctx_reply(net, held_pop(c), NULL);
		lconn_flush(net, c);
	} else if (queue_pop(&c->l.outq, &m)) {
		rctx_reply(net, r, &m);
	} else {
		rctx_reply(net, r, NULL);
	}
	pool_fill(net);
}

/* dialer */

static void up_close(node_net *net, struct up *u, const char *why,
    bool tell);

static void
dctx_send(node_net *net, struct dctx *d, struct msg *m)
{
	nng_msg *nm = NULL;
	uint8_t poll = CAR_POLL;
	int rv = nng_msg_alloc(&nm, 0);

	if (rv == 0)
		rv = m != NULL ? nng_msg_append(nm, m->buf, m->len)
			       : nng_msg_append(nm, &poll, 1);
	if (m != NULL)
		free(m->buf);
	if (rv != 0) {
		if (nm != NULL)
			nng_msg_free(nm);
		node_log(NODE_LOG_ERR, "net", "request: %s", nng_strerror(rv));
		return;
	}
	net->sent += nng_msg_len(nm);
	d->poll = m == NULL;
	d->state = CS_SEND;
	nng_aio_set_msg(d->aio, nm);
	nng_ctx_send(d->ctx, d->aio);
}

/* Keeps `window` polls open and sends what is queued, up to `window`
 * sends in flight. */
static void
up_fill(node_net *net, struct up *u)
{
	size_t polls = 0, sends = 0;
	struct msg m;

	if (u->state != UP_UP)
		return;
	for (size_t i = 0; i < u->nslots; i++) {
		if (u->slots[i].state == CS_IDLE)
			continue;
		if (u->slots[i].poll)
			polls++;
		else
			sends++;
	}
	for (size_t i = 0; i < u->nslots; i++) {
		struct dctx *d = &u->slots[i];

		if (d->state != CS_IDLE)
			continue;
		if (sends < net->o.window && queue_pop(&u->l.outq, &m)) {
			dctx_send(net, d, &m);
			sends++;
		} else if (polls < net->o.window) {
			dctx_send(net, d, NULL);
			polls++;
		}
	}
}

static void up_quiesce(node_net *net, struct up *u, const char *why,
    bool tell);

static void
on_dctx(node_net *net, struct dctx *d, int result)
{
	struct up *u = d->up;
	const char *why = NULL;
	bool poll;
	nng_msg *nm;
	int rc;

	if (u->state == UP_CLOSING && d->state == CS_RECV) {
		/* An answer after we dropped the link: noted, not read. */
		d->state = CS_IDLE;
		u->l.last_rx = now_ms();
		if (result == 0)
			nng_msg_free(nng_aio_get_msg(d->aio));
		return;
	}
	if (d->state == CS_SEND) {
		if (result != 0) {
			nng_msg_free(nng_aio_get_msg(d->aio));
			d->state = CS_IDLE;
			return; /* the pipe went away: REM follows */
		}
		d->state = CS_RECV;
		nng_ctx_recv(d->ctx, d->aio);
		return;
	}
	d->state = CS_IDLE;
	if (result != 0)
		return;
	nm = nng_aio_get_msg(d->aio);
	rc = link_receive(net, &u->l, u->index, nng_msg_body(nm),
	    nng_msg_len(nm), &poll, &why);
	nng_msg_free(nm);
	if (rc == QIAO_OK && poll) {
		why = "an answer flagged as a poll";
		rc = QIAO_EPROTO;
	}
	if (rc != QIAO_OK) {
		node_log(NODE_LOG_WARN, "net", "%s: %s; dropped", u->url,
		    why ? why : qiao_strerror(rc));
		up_quiesce(net, u, why ? why : qiao_strerror(rc), true);
		return;
	}
	up_fill(net, u);
}

static int
up_open(node_net *net, struct up *u)
{
	int rv, rc;

	if ((rv = nng_req0_open(&u->sock)) != 0)
		return xlate(rv, "open", u->url);
	u->sock_open = true;
	if ((rc = set_common(net, u->sock)) != QIAO_OK)
		goto fail;
	/* Never resend: a request replayed into a later session would
	 * repeat a message the session has moved past. */
	if ((rv = nng_socket_set_ms(u->sock, NNG_OPT_REQ_RESENDTIME,
		 NNG_DURATION_INFINITE)) != 0) {
		rc = xlate(rv, "resend option", u->url);
		goto fail;
	}
	for (size_t i = 0; i < u->nslots; i++) {
		struct dctx *d = &u->slots[i];

		d->up = u;
		d->state = CS_IDLE;
		if ((rv = nng_ctx_open(&d->ctx, u->sock)) != 0) {
			rc = xlate(rv, "context", u->url);
			goto fail;
		}
		d->open = true;
		if ((rv = nng_aio_alloc(&d->aio, dctx_cb, d)) != 0) {
			d->aio = NULL;
			rc = xlate(rv, "context", u->url);
			goto fail;
		}
	}
	/* Non-blocking, and bounded by us: nng 1.5.2's own redial timer
	 * computes its random delay as (int)random % backoff, which is
	 * negative half the time and then sleeps forever. So each socket
	 * gets reconnect_min (or the current backoff) to connect; then it
	 * is closed and a new one dialed after our backoff. */
	if ((rv = nng_dial(u->sock, u->url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		rc = xlate(rv, "dial", u->url);
		goto fail;
	}
	u->state = UP_DIALING;
	u->dial_until = now_ms() + (u->backoff > net->o.reconnect_min_ms
					   ? u->backoff
					   : net->o.reconnect_min_ms);
	return QIAO_OK;
fail:
	up_close(net, u, NULL, false);
	return rc;
}

static void
purge_comps(node_net *net, const void *p, size_t size)
{
	size_t kept = 0;

	pthread_mutex_lock(&net->mu);
	for (size_t i = 0; i < net->ncomp; i++) {
		const uint8_t *q = net->comps[i].p;

		if (q != NULL && q >= (const uint8_t *)p &&
		    q < (const uint8_t *)p + size)
			continue;
		net->comps[kept++] = net->comps[i];
	}
	net->ncomp = kept;
	pthread_mutex_unlock(&net->mu);
}

/*
 * Stops an aio whose completion will never be processed (its socket is
 * closing) and frees the message it still owns: one that failed to send,
 * or one it received.
 */
static void
aio_drain(nng_aio *aio, enum ctx_state state)
{
	nng_msg *m;

	nng_aio_stop(aio); /* waits for a callback in progress */
	m = nng_aio_get_msg(aio);
	if (m == NULL)
		return;
	if ((state == CS_SEND && nng_aio_result(aio) != 0) ||
	    (state == CS_RECV && nng_aio_result(aio) == 0)) {
		nng_aio_set_msg(aio, NULL);
		nng_msg_free(m);
	}
}

/* Closes the link's socket; it is dialed anew after a backoff. */
static void
up_close(node_net *net, struct up *u, const char *why, bool tell)
{
	if (tell && u->state == UP_UP)
		event_down(net, u->l.id, u->index, why ? why : "closed");
	/* Operations first, then contexts, then the socket: nng 1.5.2 can
	 * wait forever in nng_close for a context still in use. */
	for (size_t i = 0; i < u->nslots; i++) {
		struct dctx *d = &u->slots[i];

		if (d->aio != NULL)
			aio_drain(d->aio, d->state);
		if (d->open)
			nng_ctx_close(d->ctx);
		d->open = false;
	}
	if (u->sock_open)
		nng_close(u->sock);
	u->sock_open = false;
	for (size_t i = 0; i < u->nslots; i++) {
		struct dctx *d = &u->slots[i];

		if (d->aio != NULL) {
			nng_aio_free(d->aio);
			d->aio = NULL;
		}
		d->state = CS_IDLE;
		d->gen++;
	}
	purge_comps(net, u->slots, u->nslots * sizeof(*u->slots));
	/* A link the layer above confirmed (its handshake succeeded) starts
	 * over quickly; one that failed before that -- unreachable, refused,
	 * broken -- backs off further each time. */
	if (u->l.confirmed || u->backoff == 0)
		u->backoff = net->o.reconnect_min_ms;
	else if (u->backoff < net->o.reconnect_max_ms / 2)
		u->backoff *= 2;
	else
		u->backoff = net->o.reconnect_max_ms;
	link_fini(net, &u->l);
	u->state = UP_WAIT;
	u->pipe = 0;
	u->retry_at = now_ms() + u->backoff;
	/* At debug level, so the backoff can be seen (and tested). */
	node_log(NODE_LOG_DEBUG, "net", "%s: redial in %llums", u->url,
	    (unsigned long long)u->backoff);
}

/* Ends a live link for the layer above at once, and closes its socket
 * once quiet (CLOSE_QUIET_MS, above): no request goes out any more, and
 * the answers to those outstanding are awaited, up to CLOSE_MAX_MS. */
static void
up_quiesce(node_net *net, struct up *u, const char *why, bool tell)
{
	struct msg m;

	if (u->state != UP_UP) {
		up_close(net, u, why, tell);
		return;
	}
	if (tell)
		event_down(net, u->l.id, u->index, why ? why : "closed");
	while (queue_pop(&u->l.outq, &m))
		free(m.buf);
	u->state = UP_CLOSING;
	u->l.last_rx = now_ms();
	u->close_by = u->l.last_rx + CLOSE_MAX_MS;
}

/* A closing link with nothing outstanding, or quiet long enough. */
static bool
up_quiet(const struct up *u, uint64_t now)
{
	bool idle = true;

	for (size_t i = 0; i < u->nslots; i++)
		idle &= u->slots[i].state == CS_IDLE;
	return idle || now - u->l.last_rx >= CLOSE_QUIET_MS ||
	    now >= u->close_by;
}

/* pipe events */

static void
on_pipe(node_net *net, const struct comp *c)
{
	if (net->rep_open && c->sock == (uint32_t)nng_socket_id(net->rep)) {
		struct lconn *lc;

		if (c->kind == C_PIPE_ADD) {
			if (lconn_find(net, c->pipe, 0) != NULL)
				return;
			if (net->nconns >= net->o.max_peers) {
				nng_pipe p = NNG_PIPE_INITIALIZER;

				p.id = c->pipe;
				node_log(NODE_LOG_WARN, "net",
				    "%u connections: refusing another",
				    net->o.max_peers);
				(void)nng_pipe_close(p);
				return;
			}
			(void)lconn_add(net, c->pipe);
		} else if ((lc = lconn_find(net, c->pipe, 0)) != NULL) {
			if (!lc->closing)
				event_down(net, lc->l.id, -1,
				    "the peer went away");
			lconn_free(net, lc);
		}
		return;
	}
	for (size_t i = 0; i < net->nups; i++) {
		struct up *u = net->ups[i];

		if (!u->sock_open ||
		    c->sock != (uint32_t)nng_socket_id(u->sock))
			continue;
		if (c->kind == C_PIPE_ADD && u->state == UP_DIALING) {
			u->state = UP_UP;
			u->pipe = c->pipe;
			link_init(net, &u->l);
			if (event_new(net, NODE_NET_UP, u->l.id, u->index) ==
			    NULL) {
				up_close(net, u, NULL, false);
				return;
			}
			node_log(NODE_LOG_INFO, "net", "connected to %s",
			    u->url);
			up_fill(net, u);
		} else if (c->kind == C_PIPE_REM && u->state == UP_UP &&
		    c->pipe == u->pipe) {
			node_log(NODE_LOG_INFO, "net", "%s went away", u->url);
			up_close(net, u, "the peer went away", true);
		} else if (c->kind == C_PIPE_REM && u->state == UP_CLOSING &&
		    c->pipe == u->pipe) {
			up_close(net, u, NULL, false); /* nothing can arrive */
		}
		return;
	}
}

/* lifecycle */

int
node_net_open(node_net **out, const node_net_opts *o)
{
	node_net *net = calloc(1, sizeof(*net));

	if (net == NULL)
		return QIAO_ENOMEM;
	net->o = *o;
	if (net->o.window == 0)
		net->o.window = 1;
	if (net->o.max_peers == 0)
		net->o.max_peers = 1;
	pthread_mutex_init(&net->mu, NULL);
	pthread_cond_init(&net->cv, NULL);
	*out = net;
	return QIAO_OK;
}

void
node_net_close(node_net *net)
{
	if (net == NULL)
		return;
	for (size_t i = 0; i < net->nups; i++) {
		up_close(net, net->ups[i], NULL, false);
		free(net->ups[i]->slots);
		free(net->ups[i]);
	}
	free(net->ups);
	for (size_t i = 0; i < net->npool; i++) {
		aio_drain(net->pool[i]->aio, net->pool[i]->state);
		nng_ctx_close(net->pool[i]->ctx);
	}
	if (net->rep_open)
		nng_close(net->rep);
	for (size_t i = 0; i < net->npool; i++) {
		nng_aio_free(net->pool[i]->aio);
		free(net->pool[i]);
	}
	free(net->pool);
	while (net->conns != NULL) {
		struct lconn *c = net->conns;

		net->conns = c->next;
		link_fini(net, &c->l);
		free(c);
	}
	for (size_t i = 0; i < net->ev_n; i++)
		free(net->events[net->ev_head + i].msg);
	free(net->events);
	free(net->comps);
	pthread_cond_destroy(&net->cv);
	pthread_mutex_destroy(&net->mu);
	free(net);
}

int
node_net_listen(node_net *net, const char *url)
{
	int rv, rc;

	if (!net->rep_open) {
		if ((rv = nng_rep0_open(&net->rep)) != 0)
			return xlate(rv, "open", url);
		net->rep_open = true;
		if ((rc = set_common(net, net->rep)) != QIAO_OK)
			return rc;
	}
	if ((rv = nng_listen(net->rep, url, NULL, 0)) != 0)
		return xlate(rv, "listen", url);
	node_log(NODE_LOG_INFO, "net", "listening on %s", url);
	pool_fill(net);
	return QIAO_OK;
}

int
node_net_dial(node_net *net, const char *url, int *index)
{
	struct up *u = calloc(1, sizeof(*u));
	struct up **v;

	if (u == NULL)
		return QIAO_ENOMEM;
	if (strlen(url) >= sizeof(u->url)) {
		free(u);
		return QIAO_EINVAL;
	}
	snprintf(u->url, sizeof(u->url), "%s", url);
	u->net = net;
	u->index = (int)net->nups;
	u->nslots = 2 * (size_t)net->o.window;
	u->slots = calloc(u->nslots, sizeof(*u->slots));
	if (u->slots == NULL ||
	    (v = realloc(net->ups, (net->nups + 1) * sizeof(struct up *))) ==
		NULL) {
		free(u->slots);
		free(u);
		return QIAO_ENOMEM;
	}
	net->ups = v;
	net->ups[net->nups++] = u;
	u->state = UP_WAIT;
	u->retry_at = 0;
	*index = u->index;
	return QIAO_OK;
}

static struct link *
find_link(node_net *net, uint64_t conn, struct lconn **lc, struct up **up)
{
	*lc = NULL;
	*up = NULL;
	for (size_t i = 0; i < net->nups; i++)
		if (net->ups[i]->state == UP_UP && net->ups[i]->l.id == conn) {
			*up = net->ups[i];
			return &net->ups[i]->l;
		}
	if ((*lc = lconn_find(net, 0, conn)) != NULL)
		return &(*lc)->l;
	return NULL;
}

int
node_net_send(node_net *net, uint64_t conn, const uint8_t *msg, size_t len)
{
	struct lconn *lc;
	struct up *u;
	struct link *l = find_link(net, conn, &lc, &u);
	int rc;

	if (l == NULL)
		return QIAO_ENOTFOUND;
	if ((rc = link_frame(net, l, msg, len)) != QIAO_OK)
		return rc;
	if (lc != NULL)
		lconn_flush(net, lc);
	else
		up_fill(net, u);
	return QIAO_OK;
}

size_t
node_net_backlog(node_net *net, uint64_t conn)
{
	struct lconn *lc;
	struct up *u;
	struct link *l = find_link(net, conn, &lc, &u);

	return l != NULL ? l->outq.n : 0;
}

void
node_net_drop(node_net *net, uint64_t conn)
{
	struct lconn *lc;
	struct up *u;

	if (find_link(net, conn, &lc, &u) == NULL)
		return;
	if (lc != NULL)
		lconn_drop(net, lc, NULL, false);
	else
		up_quiesce(net, u, NULL, false);
}

void
node_net_confirm(node_net *net, uint64_t conn)
{
	struct lconn *lc;
	struct up *u;
	struct link *l = find_link(net, conn, &lc, &u);

	if (l != NULL)
		l->confirmed = true;
}

void
node_net_bytes(const node_net *net, uint64_t *sent, uint64_t *received)
{
	*sent = net->sent;
	*received = net->received;
}

/* A message has waited for its turn longer than any swap takes. */
static bool
gap_stale(const struct link *l, uint64_t now)
{
	for (size_t i = 0; i < l->npend; i++)
		if (now - l->pend[i].at > REORDER_WAIT_MS)
			return true;
	return false;
}

/* Time-driven work: redials, expired polls, silent connections, gaps
 * that never fill. */
static void
timers(node_net *net, uint64_t now)
{
	for (size_t i = 0; i < net->nups; i++) {
		struct up *u = net->ups[i];

		if (u->state == UP_WAIT && now >= u->retry_at)
			(void)up_open(net, u);
		else if ((u->state == UP_DIALING && now >= u->dial_until) ||
		    (u->state == UP_CLOSING && up_quiet(u, now)))
			up_close(net, u, NULL, false);
		else if (u->state == UP_UP &&
		    now - u->l.last_rx > net->o.timeout_ms) {
			node_log(NODE_LOG_WARN, "net", "%s: silent for %llums;"
						       " dropped",
			    u->url, (unsigned long long)net->o.timeout_ms);
			up_close(net, u, "silent too long", true);
		} else if (u->state == UP_UP && gap_stale(&u->l, now)) {
			node_log(NODE_LOG_WARN, "net", "%s: a carrier gap "
						       "never filled; dropped",
			    u->url);
			up_close(net, u, "a carrier gap never filled", true);
		}
	}
	for (struct lconn *c = net->conns, *next; c != NULL; c = next) {
		next = c->next;
		if (c->closing) {
			if (now - c->l.last_rx >= CLOSE_QUIET_MS ||
			    now >= c->close_by)
				lconn_close(net, c);
			continue;
		}
		while (c->held != NULL && c->held->deadline <= now)
			rctx_reply(net, held_pop(c), NULL);
		if (now - c->l.last_rx > net->o.timeout_ms)
			lconn_drop(net, c, "silent too long", true);
		else if (gap_stale(&c->l, now))
			lconn_drop(net, c, "a carrier gap never filled", true);
	}
}

static uint64_t
next_timer(node_net *net, uint64_t now)
{
	uint64_t t = now + 1000;

	for (size_t i = 0; i < net->nups; i++) {
		if (net->ups[i]->state == UP_WAIT && net->ups[i]->retry_at < t)
			t = net->ups[i]->retry_at;
		if (net->ups[i]->state == UP_DIALING &&
		    net->ups[i]->dial_until < t)
			t = net->ups[i]->dial_until;
		if (net->ups[i]->state == UP_CLOSING &&
		    net->ups[i]->l.last_rx + CLOSE_QUIET_MS < t)
			t = net->ups[i]->l.last_rx + CLOSE_QUIET_MS;
	}
	for (struct lconn *c = net->conns; c != NULL; c = c->next) {
		if (c->held != NULL && c->held->deadline < t)
			t = c->held->deadline;
		if (c->closing && c->l.last_rx + CLOSE_QUIET_MS < t)
			t = c->l.last_rx + CLOSE_QUIET_MS;
	}
	return t > now ? t : now;
}

static void
process(node_net *net, struct comp *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct comp *c = &v[i];

		switch (c->kind) {
		case C_RCTX:
			if (((struct rctx *)c->p)->gen == c->gen)
				on_rctx(net, c->p, c->result);
			break;
		case C_DCTX:
			if (((struct dctx *)c->p)->gen == c->gen)
				on_dctx(net, c->p, c->result);
			break;
		default:
			on_pipe(net, c);
		}
	}
}

int
node_net_wait(node_net *net, int timeout_ms, node_net_event *ev)
{
	uint64_t start = now_ms(), end = start + (uint64_t)timeout_ms;

	for (;;) {
		uint64_t now = now_ms(), until;
		struct comp *v;
		size_t n;

		if (net->ev_n > 0) {
			*ev = net->events[net->ev_head++];
			if (--net->ev_n == 0)
				net->ev_head = 0;
			return QIAO_OK;
		}
		timers(net, now);
		if (net->ev_n > 0)
			continue;
		until = next_timer(net, now);
		if (until > end)
			until = end;
		pthread_mutex_lock(&net->mu);
		if (net->ncomp == 0 && until > now) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += (time_t)((until - now) / 1000);
			ts.tv_nsec += (long)((until - now) % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&net->cv, &net->mu, &ts);
		}
		v = net->comps;
		n = net->ncomp;
		net->comps = NULL;
		net->ncomp = net->capcomp = 0;
		pthread_mutex_unlock(&net->mu);
		process(net, v, n);
		free(v);
		if (net->ev_n == 0 && now_ms() >= end)
			return QIAO_ETIMEDOUT;
	}
}
