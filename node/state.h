/*
 * state — record state in the store: what ingest calls to fold a record
 * operation (grid, registry, case, meeting) into derived state, in the same
 * write transaction as the entry, and what commands read.
 *
 * Tables (layouts v1, docs/OPERATIONS.md):
 *   state  reckey                 -> the record's state (crdt/record.h)
 *   index  'o' reckey ophash(32)  -> op: author(32) hlc(8 BE) type(8 BE)
 *                                    body_hash(32) privileged(1) station
 *          'i' id(32)             -> reckey, for records named by hash
 *          's' reckey             -> summary (crdt_rec_summary), cases and
 *                                    meetings
 * where reckey = kind(1) code NUL id(32) (crdt_op_reckey), so a prefix
 * kind||code is a region's subtree.
 *
 * Folding an op: check its body (crdt_op_check), decide whether its author
 * may write under the record's code (its certificate's region must cover
 * the code: a prefix test; the district and root everywhere), add it to
 * the record's op set and recompute the record from the whole set. Whether
 * an op is refused depends only on the op and its author's certificate,
 * and the recompute only on the set, so stores agree whatever the arrival
 * order. A refused op stays in the log (the chain is whole) and is listed
 * in `refused`; it never enters state.
 */
#ifndef QIAO_NODE_STATE_H
#define QIAO_NODE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/entry.h"
#include "crdt/err.h"
#include "crdt/op.h"
#include "crdt/record.h"
#include "node/node.h"
#include "node/store.h"

/*
 * Folds the record op e (body checked against its hash by ingest) inside
 * txn. *op_rc gets QIAO_OK, or QIAO_EMALFORMED / QIAO_EUNAUTH with a static
 * reason in *why when the op is refused. Returns QIAO_ESTORE, QIAO_EFULL,
 * QIAO_ENOMEM when the store failed (the caller aborts the txn).
 */
int node_state_apply(node *n, node_txn *txn, const crdt_entry *e,
    const uint8_t *body, size_t len, int *op_rc, const char **why)
    QIAO_MUST_USE;

/*
 * Recomputes all record state from the logs inside txn (after trust
 * changed, or `qiao reindex`): empties state and index, forgets earlier
 * refusals of record ops, and refolds every record op held. *entries (may
 * be NULL) gets the number of record ops read.
 */
int node_state_rebuild(node *n, node_txn *txn, uint64_t *entries)
    QIAO_MUST_USE;

/* The state of a record. *val lives until the txn ends or state is next
 * written. QIAO_ENOTFOUND. */
int node_state_get(node_txn *txn, const uint8_t *reckey, size_t klen,
    const uint8_t **val, size_t *len) QIAO_MUST_USE;

/*
 * Finds the record of kind named by id text: 8 to 64 hex digits, a prefix
 * of its id. reckey holds QIAO_RECKEY_MAX bytes. QIAO_EINVAL for text that
 * is not 8..64 hex digits, QIAO_ENOTFOUND, QIAO_EEXIST when the prefix
 * names more than one record.
 */
int node_state_find(node_txn *txn, char kind, const char *text,
    uint8_t *reckey, size_t *klen) QIAO_MUST_USE;

/* Called per record; pointers live for the call. Return non-zero to stop
 * (that value is returned). */
typedef int (*node_state_fn)(void *ctx, const uint8_t *reckey, size_t klen,
    const uint8_t *val, size_t len);

/* Each record of kind whose code starts with under ("" or NULL: all), in
 * key order. */
int node_state_scan(node_txn *txn, char kind, const char *under,
    node_state_fn fn, void *ctx) QIAO_MUST_USE;

/* Each summary of kind (case or meeting) under a code; val is
 * CRDT_SUMMARY_LEN bytes. */
int node_state_summaries(node_txn *txn, char kind, const char *under,
    node_state_fn fn, void *ctx) QIAO_MUST_USE;

/*
 * The digest of every record whose code starts with under ("" or NULL: the
 * whole store), and how many records went in.
 */
int node_state_digest(node_txn *txn, const char *under,
    uint8_t out[QIAO_HASH_LEN], uint64_t *count) QIAO_MUST_USE;

/* The record's DAG heads: what a new op on it lists as deps. *n is 0 for a
 * record not held. out holds QIAO_DEPS_MAX hashes; more are dropped. */
int node_state_heads(node_txn *txn, const uint8_t *reckey, size_t klen,
    uint8_t out[][QIAO_HASH_LEN], size_t *n) QIAO_MUST_USE;

#endif
