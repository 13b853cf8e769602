/*
 * verify — re-checks a whole store from its bytes: every stored entry parses
 * strictly, its signature verifies, each author's chain is whole (seq
 * 1..head, prev = hash of the entry before, hlc increasing, head record
 * agrees), and every body is present and matches its hash.
 */
#ifndef QIAO_NODE_VERIFY_H
#define QIAO_NODE_VERIFY_H

#include <stdint.h>

#include "crdt/err.h"
#include "node/node.h"

typedef struct node_verify_stats {
	uint64_t authors, entries, bodies, forks;
	uint64_t bad_entries;  /* unparseable or bad signature */
	uint64_t bad_chains;   /* missing seq, wrong prev, head mismatch */
	uint64_t bad_bodies;   /* missing or not matching the hash */
} node_verify_stats;

/* Called for each problem found; author may be NULL. */
typedef void (*node_verify_report_fn)(void *ctx, const uint8_t *author,
    uint64_t seq, const char *what);

/* QIAO_OK when the walk completed (problems are in *stats), QIAO_ESTORE. */
int node_verify_store(node *n, node_verify_stats *stats,
    node_verify_report_fn report, void *ctx) QIAO_MUST_USE;

#endif
