/*
 * sync — one anti-entropy session with one peer, as a sans-I/O state
 * machine: messages in, messages out, time passed in. No sockets here: the
 * daemon moves the bytes over nng (node/net.h), the bundle module through a
 * file, the tests from one session to another in memory. docs/PROTOCOL.md
 * specifies the exchange; in short:
 *
 *   HELLO   both sides: key, role, region, and `since` -- the peer's store
 *           tick up to which we already hold everything it announced (kept
 *           per peer in the peers table between sessions);
 *   HEADS   heads (author, seq, hash) of the authors in the peer's scope
 *           whose head changed after `since`, issuers first;
 *   WANT    the ranges the receiver lacks; served in order as
 *   BATCH   size-bounded, compressed runs of entries, up to `window` in
 *           flight (ACK frees the window), then DONE per WANT;
 *   SYNCED  "I hold everything you announced up to your tick T": the
 *           receiver stores T as the next `since`, the sender notes that
 *           the peer is caught up.
 * While connected, new local heads (a CLI write, entries from another peer)
 * are announced with another HEADS. Every BATCH is one ingest transaction,
 * so what arrived stays when a link drops; the next session resumes from
 * the stored `since`.
 *
 * Scope: the peer receives heads only of authors whose region is on its
 * path (an ancestor of its region, or under it); a peer's region comes from
 * its certificate when we hold one (always, over a link: node/channel.h
 * admits only enrolled keys, and the HELLO's key must be the proven one),
 * else from its HELLO.
 */
#ifndef QIAO_NODE_SYNC_H
#define QIAO_NODE_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/err.h"
#include "node/node.h"
#include "node/syncwire.h"

typedef struct node_sync node_sync;

typedef struct node_sync_opts {
	bool initiator;       /* we dialed: we speak first */
	uint64_t batch_bytes; /* 0: the node's config */
	uint64_t window;      /* 0: the node's config */
	uint64_t max_message; /* 0: the node's config */
	int zstd_level;       /* 0: never compress; <0: config (3 or 0) */
	/* The key we expect to reach, so our HELLO can say what of its log
	 * we hold; NULL: none. */
	const uint8_t *expect_peer;
	/* The key the link proved (node_channel_peer): a HELLO that names
	 * another is refused (QIAO_EUNAUTH). NULL where nothing proves the
	 * peer (a file: entries are verified all the same). */
	const uint8_t *proven_peer;
} node_sync_opts;

/* What a session knows and has done, for logs, status and tests. */
typedef struct node_sync_info {
	bool hello;                  /* the peer's HELLO arrived */
	uint8_t peer[QIAO_KEY_LEN];
	enum qiao_role peer_role;
	char peer_region[QIAO_REGION_MAX];
	bool peer_enrolled;          /* its scope came from a certificate */
	bool local_done;             /* we hold all it announced */
	bool peer_done;              /* it holds all we announced */
	bool blocked;                /* entries it sent were rejected */
	bool full;                   /* our store was full: its entries wait */
	uint64_t stored, duplicate, rejected, gaps;
	uint64_t batches_in, batches_out, entries_out;
	uint64_t bytes_in, bytes_out; /* message bytes */
	char last_reject[160];
} node_sync_info;

/*
 * A session of node n. The peer is unknown until its HELLO.
 * QIAO_ENOMEM. n must outlive the session.
 */
int node_sync_new(node_sync **out, node *n, const node_sync_opts *opts)
    QIAO_MUST_USE;
/* Saves what the session learnt about its peer; accepts NULL. */
void node_sync_free(node_sync *s);

/* The initiator queues its HELLO. QIAO_ESTATE for a responder. */
int node_sync_start(node_sync *s, uint64_t now_ms) QIAO_MUST_USE;

/*
 * Feeds one message from the peer. QIAO_EMALFORMED / QIAO_ETOOBIG /
 * QIAO_EPROTO when the peer broke the protocol, QIAO_EUNAUTH for a HELLO
 * whose key is not the proven one (why says how): the caller drops the
 * session. QIAO_ESTORE / QIAO_ENOMEM for local failures. A full
 * store is not a failure of the session: a BATCH that does not fit is
 * acknowledged, its entries wait (info.full, info.blocked) and are asked
 * for again every few seconds from node_sync_poll until they fit; the
 * session keeps serving the peer meanwhile.
 */
int node_sync_recv(node_sync *s, const uint8_t *msg, size_t len,
    uint64_t now_ms, const char **why) QIAO_MUST_USE;

/*
 * Lets the session act on time and on the store: tick is the store's
 * change tick now (node_store_tick); when it moved, new heads are
 * announced and entries rejected earlier are asked for again.
 */
int node_sync_poll(node_sync *s, uint64_t now_ms, uint64_t tick)
    QIAO_MUST_USE;

/*
 * Takes the next message to send: *msg is heap memory the caller frees.
 * QIAO_ENOTFOUND when there is none now.
 */
int node_sync_pop(node_sync *s, uint8_t **msg, size_t *len) QIAO_MUST_USE;

/* Both sides hold each other's entries for the shared scope, as of the
 * last exchange. */
bool node_sync_in_sync(const node_sync *s);

const node_sync_info *node_sync_get_info(const node_sync *s);

/*
 * Scope: true when an author of region `author_region` belongs to what a
 * node of region `holder` holds: its ancestors (the district, its town),
 * itself, and everything under it. "" (the root, or a node without a
 * region) relates to everything.
 */
bool node_sync_in_scope(const char *holder, const char *author_region);

/*
 * The digest of the heads a node holds within a scope: BLAKE2b-256 over
 * (author, seq, hash) of every held author in scope of `region`, in author
 * order. Two nodes holding the same entries for that scope have the same
 * digest. *authors and *entries (may be NULL) count what it covers.
 */
int node_sync_scope_digest(node *n, const char *region,
    uint8_t out[QIAO_HASH_LEN], uint64_t *authors, uint64_t *entries)
    QIAO_MUST_USE;

/*
 * Per-peer records in the peers table (for qiao status):
 *   "P" key(32)          -> msgpack map {acked, error, ok_ms, recv, region,
 *                           rejected, role, seen_ms, url}
 *   "H" key(32) author(32) -> seq(8 BE) the peer is known to hold
 */
typedef struct node_sync_peer {
	uint8_t key[QIAO_KEY_LEN];
	char url[QIAO_URL_MAX];
	enum qiao_role role;
	char region[QIAO_REGION_MAX];
	uint64_t recv;    /* its tick we hold everything up to */
	uint64_t acked;   /* our tick it holds everything up to */
	uint64_t ok_ms;   /* last time both sides were in sync */
	uint64_t seen_ms; /* last HELLO */
	uint64_t rejected;
	char error[QIAO_SYNC_REASON_MAX];
} node_sync_peer;

/* Loads a peer record. QIAO_ENOTFOUND, QIAO_ESTORE. */
int node_sync_peer_get(node_txn *txn, const uint8_t key[QIAO_KEY_LEN],
    node_sync_peer *out) QIAO_MUST_USE;
/* Writes a peer record. */
int node_sync_peer_put(node_txn *txn, const node_sync_peer *p) QIAO_MUST_USE;
/* Records the URL and/or an error for a peer (a write txn of its own). */
int node_sync_peer_note(node *n, const uint8_t key[QIAO_KEY_LEN],
    const char *url, const char *error) QIAO_MUST_USE;

/* Calls fn for every peer record. */
typedef int (*node_sync_peer_fn)(void *ctx, const node_sync_peer *p);
int node_sync_peer_each(node_txn *txn, node_sync_peer_fn fn, void *ctx)
    QIAO_MUST_USE;

/*
 * Entries behind for a peer: *they_lack counts our entries in the peer's
 * scope beyond what it is known to hold; *we_lack the reverse.
 */
int node_sync_peer_behind(node *n, node_txn *txn, const node_sync_peer *p,
    uint64_t *they_lack, uint64_t *we_lack) QIAO_MUST_USE;

/*
 * What this node knows the peer `key` holds, per author: the highest seq
 * the peer has acknowledged (SYNCED), announced (HEADS) or sent us; hash
 * zeroed. In author order; *out is heap (free()), NULL when none.
 * QIAO_ENOMEM, QIAO_ESTORE.
 */
int node_sync_peer_known(node_txn *txn, const uint8_t key[QIAO_KEY_LEN],
    node_sync_head **out, size_t *count) QIAO_MUST_USE;

/*
 * Heads of every author n holds within the scope of `region` (all when
 * NULL), issuers first (root, district, town, village, then by key).
 * *out is heap (free()).
 */
int node_sync_heads_list(node *n, node_txn *txn, const char *region,
    node_sync_head **out, size_t *count) QIAO_MUST_USE;

#endif
