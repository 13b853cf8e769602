/*
 * store — the LMDB store: the only file that includes <lmdb.h>.
 *
 * A store is a directory holding data.mdb and lock.mdb (mode 0600). Many
 * processes may open one store at once (the daemon and the CLI): LMDB
 * serialises writers and readers never block. A write transaction is the unit
 * of atomicity: an entry and everything derived from it commit together, or
 * nothing does, whatever happens to the process or the power.
 *
 * Tables (LMDB named databases), layouts in docs/FORMAT.md:
 *   meta      name -> value: schema version, clocks, the change tick
 *   entries   author(32) seq(8 BE) -> raw entry (header || signature)
 *   bodies    body hash(32) -> body bytes
 *   byhash    entry hash(32) -> author(32) seq(8 BE)
 *   heads     author(32) -> node_head (fixed 60 bytes, see store.c)
 *   changes   tick(8 BE) -> author(32): heads in the order they changed
 *   forks     author(32) seq(8 BE) hash(32) -> raw entry of the 2nd branch
 * and tables owned by other modules, which use the generic calls:
 *   certs, revokes (node/trust), state, index (record state), peers (sync),
 *   refused (ops kept in the log but not folded into state), aux.
 *
 * Pointers returned by get/scan point into the memory map and are valid
 * until the transaction ends or the same table is next written in it.
 * Decode or copy them first. The store never uses MDB_WRITEMAP: with it a
 * full disk kills the process with SIGBUS instead of failing a commit.
 */
#ifndef QIAO_NODE_STORE_H
#define QIAO_NODE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/entry.h"
#include "crdt/err.h"

#define QIAO_STORE_SCHEMA 1

typedef struct node_store node_store;
typedef struct node_txn node_txn;
typedef struct node_cursor node_cursor;

enum node_table {
	NODE_TB_META = 0,
	NODE_TB_ENTRIES,
	NODE_TB_BODIES,
	NODE_TB_BYHASH,
	NODE_TB_HEADS,
	NODE_TB_CHANGES,
	NODE_TB_FORKS,
	NODE_TB_CERTS,
	NODE_TB_REVOKES,
	NODE_TB_STATE,
	NODE_TB_INDEX,
	NODE_TB_PEERS,
	NODE_TB_REFUSED,
	NODE_TB_AUX,
	NODE_TB_COUNT
};

typedef struct node_store_opts {
	uint64_t mapsize; /* bytes of address space; 0: QIAO_MAPSIZE_DEFAULT */
	bool create;      /* create the directory and store if missing */
	bool nosync;      /* no fsync per commit: simulations and benchmarks */
} node_store_opts;

#define QIAO_MAPSIZE_DEFAULT (UINT64_C(8) << 30)

/*
 * Opens the store in dir. Without opts->create, QIAO_ENOTFOUND if dir holds
 * no store. QIAO_ESTORE if LMDB fails or the schema is not ours (logged),
 * QIAO_EIO if dir cannot be created.
 */
int node_store_open(node_store **out, const char *dir,
    const node_store_opts *opts) QIAO_MUST_USE;
/* Closes the store; accepts NULL. No transaction may be open. */
void node_store_close(node_store *st);
const char *node_store_dir(const node_store *st);

/*
 * Begins a transaction. One write transaction at a time per store across all
 * processes: a second writer waits. QIAO_ESTORE, QIAO_ENOMEM.
 */
int node_store_txn_begin(node_store *st, bool write, node_txn **out)
    QIAO_MUST_USE;
/* Commits and frees txn whatever happens. QIAO_EFULL when the map or the
 * disk is full (nothing of the txn is stored), QIAO_ESTORE. */
int node_store_txn_commit(node_txn *txn) QIAO_MUST_USE;
/* Aborts and frees; accepts NULL. */
void node_store_txn_abort(node_txn *txn);

/* Generic key/value access. QIAO_ENOTFOUND when absent. */
int node_store_get(node_txn *txn, enum node_table tb, const void *key,
    size_t klen, const void **val, size_t *vlen) QIAO_MUST_USE;
/* QIAO_EFULL when the map is full. */
int node_store_put(node_txn *txn, enum node_table tb, const void *key,
    size_t klen, const void *val, size_t vlen) QIAO_MUST_USE;
/* QIAO_OK also when the key was absent. */
int node_store_del(node_txn *txn, enum node_table tb, const void *key,
    size_t klen) QIAO_MUST_USE;
/* Empties a table. */
int node_store_clear(node_txn *txn, enum node_table tb) QIAO_MUST_USE;
/* Number of keys in a table. */
int node_store_count(node_txn *txn, enum node_table tb, uint64_t *out)
    QIAO_MUST_USE;

/*
 * Calls fn for each key starting with prefix (all keys when plen is 0), in
 * key order. fn returns 0 to go on, anything else to stop: that value is
 * returned (so fn can return a QIAO_ code).
 */
typedef int (*node_store_scan_fn)(void *ctx, const void *key, size_t klen,
    const void *val, size_t vlen);
int node_store_scan(node_txn *txn, enum node_table tb, const void *prefix,
    size_t plen, node_store_scan_fn fn, void *ctx) QIAO_MUST_USE;

/*
 * Cursor: seek to the first key >= key, then step. Both return
 * QIAO_ENOTFOUND past the end. Close before the txn ends.
 */
int node_store_cursor_open(node_txn *txn, enum node_table tb,
    node_cursor **out) QIAO_MUST_USE;
int node_store_cursor_seek(node_cursor *c, const void *key, size_t klen,
    const void **k, size_t *kl, const void **v, size_t *vl) QIAO_MUST_USE;
int node_store_cursor_next(node_cursor *c, const void **k, size_t *kl,
    const void **v, size_t *vl) QIAO_MUST_USE;
void node_store_cursor_close(node_cursor *c);

/* The log tables. */

typedef struct node_head {
	uint64_t seq;                /* highest seq held */
	uint8_t hash[QIAO_HASH_LEN]; /* hash of the entry at seq */
	uint64_t hlc;                /* its hlc */
	uint64_t tick;               /* store tick of the last change */
	uint32_t flags;              /* NODE_HEAD_* */
} node_head;

#define NODE_HEAD_FORKED 0x1u /* a fork proof is held: the log is frozen */
#define NODE_HEAD_SKEWED 0x2u /* an entry was stamped too far ahead */

int node_store_head_get(node_txn *txn, const uint8_t author[QIAO_KEY_LEN],
    node_head *out) QIAO_MUST_USE;
/*
 * Each author's head in key order, decoded once from the row the walk is
 * on (not looked up again): fn's non-zero return stops the walk and is
 * returned; QIAO_ESTORE for a malformed row.
 */
typedef int (*node_store_head_fn)(void *ctx,
    const uint8_t author[QIAO_KEY_LEN], const node_head *h);
int node_store_heads_each(node_txn *txn, node_store_head_fn fn, void *ctx)
    QIAO_MUST_USE;
/* Writes the head with a new tick (h->tick is set) and records the change. */
int node_store_head_put(node_txn *txn, const uint8_t author[QIAO_KEY_LEN],
    node_head *h) QIAO_MUST_USE;
/* Removes an author's head (its whole log was cut). */
int node_store_head_del(node_txn *txn, const uint8_t author[QIAO_KEY_LEN])
    QIAO_MUST_USE;
/* The last tick handed out (0 in a new store). */
int node_store_tick(node_txn *txn, uint64_t *out) QIAO_MUST_USE;

/* Stores e's raw form under (author, seq) and its hash in byhash. */
int node_store_entry_put(node_txn *txn, const crdt_entry *e) QIAO_MUST_USE;
/* Loads and parses the entry at (author, seq). QIAO_ENOTFOUND. A stored
 * entry that no longer parses is QIAO_ESTORE (logged). */
int node_store_entry_get(node_txn *txn, const uint8_t author[QIAO_KEY_LEN],
    uint64_t seq, crdt_entry *out) QIAO_MUST_USE;
/* Finds (author, seq) of an entry by hash. QIAO_ENOTFOUND. */
int node_store_entry_find(node_txn *txn, const uint8_t hash[QIAO_HASH_LEN],
    uint8_t author[QIAO_KEY_LEN], uint64_t *seq) QIAO_MUST_USE;

int node_store_body_get(node_txn *txn, const uint8_t hash[QIAO_HASH_LEN],
    const uint8_t **body, size_t *len) QIAO_MUST_USE;
int node_store_body_put(node_txn *txn, const uint8_t hash[QIAO_HASH_LEN],
    const uint8_t *body, size_t len) QIAO_MUST_USE;

/* Keeps e, which conflicts with the held entry at its (author, seq). */
int node_store_fork_put(node_txn *txn, const crdt_entry *e) QIAO_MUST_USE;

/*
 * refused: entry hash -> msgpack [kind, reason, raw entry or nil]
 *   kind 1: the entry is in the log, its operation was not folded (reason);
 *   kind 2: the entry was removed from the log (revoked key; raw kept).
 */
#define NODE_REFUSED_OP 1
#define NODE_REFUSED_CUT 2
int node_store_refused_put(node_txn *txn, const crdt_entry *e, int kind,
    const char *reason) QIAO_MUST_USE;

/* Big-endian helpers for keys, so keys sort as numbers. */
void node_store_be64(uint8_t out[8], uint64_t v);
uint64_t node_store_rd64(const uint8_t in[8]);

#endif
