/*
 * ingest — the rules by which an entry enters a store.
 *
 * For each entry, in order (docs/FORMAT.md, "Ingest"):
 *   1. the body, if carried, matches body_hash/body_len and is strict msgpack;
 *   2. the signature verifies (always: a relay is never trusted);
 *   3. the chain: seq = head+1 and prev = head hash; seq beyond head+1 is a
 *      gap (the reason names the missing range); a different entry at a seq
 *      we hold is a fork: both are kept, the author is frozen; the same
 *      entry again is a duplicate and changes nothing;
 *   4. the author is enrolled, not revoked before this seq, not expired;
 *   5. the entry, its body and its head are stored, and the operation is
 *      folded into derived state, in the same write transaction. An operation
 *      the author may not perform (out of its region, say) stays in the log,
 *      so the chain is whole, but is refused by the fold and recorded with
 *      its reason; it never enters state.
 * A batch is one write transaction: what passed is stored together.
 */
#ifndef QIAO_NODE_INGEST_H
#define QIAO_NODE_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/entry.h"
#include "crdt/err.h"
#include "node/node.h"
#include "node/store.h"

typedef struct node_ingest_item {
	/* In: an entry parsed (crdt_entry_parse) or rebuilt by the caller. */
	crdt_entry e;
	const uint8_t *body; /* borrowed for the call; NULL if not carried */
	size_t body_len;
	/* Out. */
	int rc;          /* QIAO_OK stored; QIAO_EDUP already held; or why not */
	const char *why; /* static detail, or NULL */
	uint64_t have;   /* the author's head seq when rc is QIAO_EGAP */
	int op_rc;       /* when stored: QIAO_OK if its operation was folded into
			  * state, else why the fold refused it (see why) */
} node_ingest_item;

typedef struct node_ingest_stats {
	size_t stored, duplicate, rejected, refused;
} node_ingest_stats;

/*
 * Ingests count items in one write transaction; each item gets its rc.
 * Returns QIAO_OK when the batch was decided (whatever the items' fates), or
 * QIAO_EFULL / QIAO_ESTORE / QIAO_ENOMEM when nothing could be stored.
 * stats may be NULL.
 */
int node_ingest(node *n, node_ingest_item *items, size_t count,
    node_ingest_stats *stats) QIAO_MUST_USE;

/*
 * Ingests within the caller's write transaction (node_append uses it).
 * verified: the signature is known good (we just made it).
 */
int node_ingest_txn(node *n, node_txn *txn, node_ingest_item *items,
    size_t count, bool verified, node_ingest_stats *stats) QIAO_MUST_USE;

/* "gap: missing seq 5..9" and the like, for people. */
void node_ingest_describe(const node_ingest_item *it, char *buf, size_t len);

/*
 * Recomputes everything derived from the logs (trust, then record state)
 * inside txn, e.g. after a revocation removed entries. Also `qiao reindex`.
 */
int node_ingest_rebuild(node *n, node_txn *txn) QIAO_MUST_USE;

#endif
