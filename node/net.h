/*
 * net — moves messages between nodes over nng; the only file that includes
 * nng. It knows nothing of sync: it hands whole messages up, in order, per
 * connection, and takes whole messages down.
 *
 * Why REQ/REP with contexts (docs/PROTOCOL.md, "Transport (nng)"): stations sit
 * behind NAT and dial; a town serves hundreds of villages on one listening
 * socket, so the listener must be a many-peer socket that never drops a
 * message (pair1 polyamorous drops when a pipe's queue is full). A dialer
 * keeps `window` long-poll requests open at the listener, which answers one
 * whenever it has a message for that connection (server push) or when
 * poll_ms passes; the dialer's own messages travel in further requests,
 * answered at once. Each dialed link is its own REQ socket, closed and made
 * anew after a disconnect, with resends disabled, so no request is ever
 * replayed into a later session. Every socket sets NNG_OPT_RECVMAXSZ.
 *
 * Every nng message body starts with one carrier byte (0x01 POLL: may be
 * held; 0x02 DATA) and, with DATA, a 4-byte big-endian sequence number and
 * the message. nng may complete two requests of one pipe on two threads,
 * so the receiver restores the order from the numbers.
 *
 * Threads: nng's callbacks only queue what happened; everything else runs
 * in the thread that calls node_net_wait / node_net_send (one thread per
 * node_net), so a slow or bad peer costs only its own queue.
 */
#ifndef QIAO_NODE_NET_H
#define QIAO_NODE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/err.h"

typedef struct node_net node_net;

enum node_net_kind {
	NODE_NET_UP = 1, /* a connection is up: start a session */
	NODE_NET_DOWN,   /* it went away (why says why) */
	NODE_NET_MSG,    /* a message arrived on it */
};

typedef struct node_net_event {
	enum node_net_kind kind;
	uint64_t conn;   /* connection id, never reused */
	int upstream;    /* index from node_net_dial, or -1 if accepted */
	uint8_t *msg;    /* NODE_NET_MSG: heap memory the caller frees */
	size_t len;
	char why[160];   /* NODE_NET_DOWN */
} node_net_event;

typedef struct node_net_opts {
	size_t max_message;        /* NNG_OPT_RECVMAXSZ, carrier included */
	uint64_t reconnect_min_ms; /* nng's dialer backoff, and ours */
	uint64_t reconnect_max_ms;
	unsigned window;           /* long-polls and sends in flight */
	uint64_t poll_ms;          /* a listener answers a held poll after */
	uint64_t timeout_ms;       /* a silent connection is dropped after */
	unsigned max_peers;        /* connections a listener accepts */
} node_net_opts;

/* QIAO_ENOMEM, QIAO_ENET. */
int node_net_open(node_net **out, const node_net_opts *opts) QIAO_MUST_USE;
/* Closes every socket; accepts NULL. */
void node_net_close(node_net *net);

/* Listens on url (tcp://, inproc://, ipc://). QIAO_ENET with the reason
 * logged (address in use, bad URL). */
int node_net_listen(node_net *net, const char *url) QIAO_MUST_USE;

/* Dials url and keeps dialing it, with backoff, for the life of net.
 * *index names it in events. QIAO_ENOMEM, QIAO_EINVAL. */
int node_net_dial(node_net *net, const char *url, int *index)
    QIAO_MUST_USE;

/* Queues msg (copied) for conn. QIAO_ENOTFOUND if conn is gone,
 * QIAO_ETOOBIG beyond max_message, QIAO_ENOMEM. */
int node_net_send(node_net *net, uint64_t conn, const uint8_t *msg,
    size_t len) QIAO_MUST_USE;

/* Messages queued for conn and not yet handed to nng. */
size_t node_net_backlog(node_net *net, uint64_t conn);

/* Ends conn at once for the caller: no DOWN event follows, and
 * node_net_send no longer finds it. Its pipe (or a dialed link's socket)
 * is closed once the peer has fallen quiet, within a few seconds (nng
 * 1.5.2 can wedge a pipe closed while a message arrives: net.c); a
 * dialed link then redials after backoff. */
void node_net_drop(node_net *net, uint64_t conn);

/* The layer above vouches for conn (its link handshake succeeded): when a
 * dialed link that was confirmed goes away it is redialed after
 * reconnect_min; one never confirmed (refused, or failing its handshake)
 * backs off further each time, up to reconnect_max. */
void node_net_confirm(node_net *net, uint64_t conn);

/*
 * Waits up to timeout_ms for the next event. QIAO_OK with *ev filled,
 * QIAO_ETIMEDOUT when nothing happened.
 */
int node_net_wait(node_net *net, int timeout_ms, node_net_event *ev)
    QIAO_MUST_USE;

/* Bytes of nng message bodies sent and received so far (benchmarks). */
void node_net_bytes(const node_net *net, uint64_t *sent, uint64_t *received);

#endif
