/*
 * bundle — the sync protocol through a file, for a station with no link:
 *
 *   B: qiao heads -o heads.qh          what B holds (HELLO + HEADS)
 *   A: qiao bundle export --for heads.qh -o for-b.qb
 *                                      the entries in B's scope that B
 *                                      lacks (HELLO + BATCH ...)
 *   B: qiao bundle import for-b.qb     ingested like a sync session's
 *
 * Both files are the same messages as on the wire (node/syncwire.h), each
 * framed as a msgpack bin, after an 8-byte magic and before a trailer
 * [count] (a file without it is truncated):
 *   "QIAOHDS1" bin(HELLO) bin(HEADS)... [count]
 *   "QIAOBDL1" bin(HELLO) bin(BATCH)... [count]
 * A bundle's runs always carry their first prev: the importer may hold
 * less than its heads file said (it was written before other imports).
 */
#ifndef QIAO_NODE_BUNDLE_H
#define QIAO_NODE_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "crdt/err.h"
#include "node/ingest.h"
#include "node/node.h"

#define QIAO_HEADS_MAGIC "QIAOHDS1"
#define QIAO_BUNDLE_MAGIC "QIAOBDL1"

/* Writes n's heads (every author it holds) to path, atomically.
 * *authors gets the count. QIAO_EIO, QIAO_ESTORE, QIAO_ENOTFOUND (no
 * station key). */
int node_bundle_heads(node *n, const char *path, uint64_t *authors)
    QIAO_MUST_USE;

typedef struct node_bundle_stats {
	uint64_t entries;  /* written, or read */
	uint64_t bytes;    /* of the file */
	uint8_t peer[QIAO_KEY_LEN];
	char peer_region[24];
	node_ingest_stats ingest; /* import only */
	char last_reject[160];    /* import only */
} node_bundle_stats;

/*
 * Writes to out_path the entries that the node whose heads are in
 * heads_path lacks, within its scope. QIAO_EMALFORMED (err says what is
 * wrong with the heads file), QIAO_EIO, QIAO_ESTORE.
 */
int node_bundle_export(node *n, const char *heads_path, const char *out_path,
    node_bundle_stats *st, char *err, size_t errlen) QIAO_MUST_USE;

/*
 * Ingests a bundle. QIAO_OK when the file was read to its trailer (some
 * entries may still have been rejected: see st->ingest), QIAO_EMALFORMED
 * when it is not a bundle or is truncated (what came before is kept; err
 * says where), QIAO_EIO, QIAO_ESTORE.
 */
int node_bundle_import(node *n, const char *path, node_bundle_stats *st,
    char *err, size_t errlen) QIAO_MUST_USE;

#endif
