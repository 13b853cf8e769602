/*
 * sim — a realistic synthetic district in one store: `qiao sim gen`.
 *
 * The store's own key is the trust anchor (a self-anchored store: made by
 * qiao init without --root, or by qiao sim gen). From the seed it derives a
 * key pair per station: the district node, the towns, the villages. The
 * store's key enrols the district and the towns, each town enrols its
 * villages; every station then signs its own log: towns their town and
 * village grid records, villages their grids, micro-grids and specialised
 * grids, registry records, cases with their full lifecycles (a case a
 * village cannot settle goes to its town, some on to the district), and the
 * three meetings. Every entry passes ordinary ingest (chains, certificates,
 * regions); signatures just made are not checked again.
 *
 * The counts of cases, resolved cases and cases resolved at grassroots
 * level are exact, so `qiao stats` reproduces the district's figures. A
 * seed gives the same district, byte for byte, apart from the store key's
 * own enrolment entries (which no record state depends on).
 */
#ifndef QIAO_NODE_SIM_H
#define QIAO_NODE_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "crdt/err.h"
#include "crdt/op.h"
#include "node/node.h"

/* "Defaults follow a real district." */
#define QIAO_SIM_TOWNS 30
#define QIAO_SIM_VILLAGES 301
#define QIAO_SIM_MICROGRIDS 10620
#define QIAO_SIM_CASES 30041
#define QIAO_SIM_RESOLVED 29364
#define QIAO_SIM_GRASSROOTS 29132
#define QIAO_SIM_REGISTRY 2000
#define QIAO_SIM_MEETINGS 1200
#define QIAO_SIM_DISTRICT "500116"

typedef void (*node_sim_progress_fn)(void *ctx, const char *phase,
    uint64_t done, uint64_t total);

typedef struct node_sim_opts {
	uint64_t seed;
	unsigned towns, villages, microgrids;
	uint64_t cases, resolved, grassroots;
	unsigned registry, meetings;
	char district[QIAO_CODE_MAX]; /* the district's 6-digit code */
	uint64_t start_ms;            /* the first possible intake */
	unsigned days;                /* the span of intakes */
	node_sim_progress_fn progress;/* may be NULL */
	void *progress_ctx;
} node_sim_opts;

/* Fills o with the defaults above (seed 1, the year 2024). */
void node_sim_defaults(node_sim_opts *o);

typedef struct node_sim_report {
	uint64_t entries;  /* entries written, all stations */
	unsigned stations; /* district + towns + villages */
	uint64_t grids, registry, cases, meetings;
} node_sim_report;

/*
 * Checks the options as node_sim_gen does, before any store exists:
 * QIAO_EINVAL with a message in err when they do not fit.
 */
int node_sim_check(const node_sim_opts *o, char *err, size_t errlen)
    QIAO_MUST_USE;

/*
 * Generates the district into n's store. QIAO_EINVAL with a message in err
 * for options out of range (counts that do not fit: grassroots > resolved >
 * cases, more villages than a town's codes hold...), QIAO_EUNAUTH when the
 * store's key is not its own trust anchor; QIAO_ENOMEM, QIAO_EFULL,
 * QIAO_ESTORE from the store (what was committed stays).
 */
int node_sim_gen(node *n, const node_sim_opts *o, node_sim_report *r,
    char *err, size_t errlen) QIAO_MUST_USE;

#endif
