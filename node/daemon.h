/*
 * daemon — the node's loop: connections from node/net; per connection one
 * channel (node/channel.h: the link handshake, then sealed frames) and,
 * once the link is up, one sync session (node/sync.h) bound to the peer's
 * proven key; and the store's change tick polled so CLI writes from other
 * processes are announced promptly. A connection whose handshake is not
 * over within [net] timeout is dropped. `qiao node run` runs it until a signal; `qiao sync`
 * runs it with one upstream until both sides are in sync.
 *
 * Nothing here blocks on one peer's behalf: a message is handled when it
 * has arrived, output is queued, and a peer that breaks the protocol is
 * logged once and dropped while the others go on.
 */
#ifndef QIAO_NODE_DAEMON_H
#define QIAO_NODE_DAEMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/err.h"
#include "node/node.h"

typedef struct node_daemon node_daemon;

typedef struct node_daemon_opts {
	/* Override the config: listen URL ("" none) and upstreams. NULL and
	 * 0 keep what [net] says. */
	const char *listen;
	const char *const *upstream;
	size_t nupstream;
	bool no_upstream; /* dial nothing, whatever [net] says */
} node_daemon_opts;

/*
 * Sets up listening and dialing for n, after loading its key (every link
 * proves it). QIAO_ENET (listen failed: the address is logged),
 * QIAO_ENOMEM, and node_load_key's errors (QIAO_ENOTFOUND, QIAO_EPERM,
 * QIAO_EMALFORMED, QIAO_EIO). n must outlive the daemon.
 */
int node_daemon_new(node_daemon **out, node *n, const node_daemon_opts *o)
    QIAO_MUST_USE;
/* Ends every session (saving what they learnt) and closes the sockets. */
void node_daemon_free(node_daemon *d);

/* Handles what happens within timeout_ms (at least one wait). */
int node_daemon_step(node_daemon *d, int timeout_ms) QIAO_MUST_USE;

/* Steps until *stop becomes non-zero (a signal handler sets it). */
int node_daemon_run(node_daemon *d, const volatile sig_atomic_t *stop)
    QIAO_MUST_USE;

/* Upstream sessions, by index: connected, in sync, and why not. */
typedef struct node_daemon_upstream {
	bool connected;
	bool in_sync;
	bool blocked;   /* entries were rejected; see why */
	bool refused;   /* the last link was refused, by the peer or by us
			 * (a key not enrolled, or revoked); see why */
	uint64_t stored, entries_out;
	char why[200];  /* last error or rejection */
} node_daemon_upstream;

void node_daemon_upstream_state(const node_daemon *d, size_t index,
    node_daemon_upstream *out);

/* Network events handled so far (a simulation sleeps when none came). */
uint64_t node_daemon_events(const node_daemon *d);

/* Sessions open now (accepted and dialed). */
size_t node_daemon_sessions(const node_daemon *d);

/* Bytes on the wire so far (benchmarks). */
void node_daemon_bytes(const node_daemon *d, uint64_t *sent,
    uint64_t *received);

#endif
