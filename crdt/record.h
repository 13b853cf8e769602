/*
 * record — a record's state as a pure function of the set of its
 * operations: the fold.
 *
 * Convergence is the contract: any two stores holding the same operations
 * of a record, received in any order, must hold byte-identical state. So
 * the state is never updated incrementally in arrival order; it is
 * recomputed from the whole set (records are small: a case has tens of
 * ops), in one deterministic order:
 *
 *   1. ops are ranked by (hlc, author, hash);
 *   2. each op's parents are the ops its deps name (hashes not in the set
 *      are ignored: not arrived yet, so treated as concurrent; a later
 *      refold fixes it) and the author's own previous op on the record (a
 *      log is linear, so an author has always seen its own earlier ops);
 *   3. ops are walked in topological order, ties by rank;
 *   4. each op's causal past (its ancestors) is exact, so:
 *      - a register (one field) holds the writes not overwritten by a write
 *        that saw them; two or more left with different values are a
 *        conflict, kept and reported, and the highest-ranked value is shown
 *        meanwhile (multi-value register);
 *      - sets (parties, linked cases) are the union of all adds;
 *      - the timeline is every op, in walk order;
 *      - for cases, whether an op's author held custody is decided in the
 *        op's causal past (crdt/case.c), never by arrival order.
 *
 * The state is a msgpack map with sorted keys (docs/OPERATIONS.md):
 *   code, conflicts, fields, heads, id, kind, ops, review, sets,
 *   [sla,] timeline[, truncated]
 * so crdt_body_get() and friends read it, and its bytes are the digest's
 * input. A summary (fixed bytes) beside it feeds statistics without
 * decoding whole states.
 */
#ifndef QIAO_CRDT_RECORD_H
#define QIAO_CRDT_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/entry.h"
#include "crdt/err.h"
#include "crdt/op.h"

/* Ops beyond this many (by rank) are left out of the fold and the state
 * says "truncated": a bound on the cost of one record, the same on every
 * store since ranks are. */
#define QIAO_REC_OPS_MAX 4096

/* One op of the record, as the caller (node/state) found it. */
typedef struct crdt_rec_op {
	uint8_t hash[QIAO_HASH_LEN];   /* the entry's hash */
	uint8_t author[QIAO_KEY_LEN];
	uint64_t hlc;
	uint64_t type;
	const uint8_t *body;           /* borrowed; passed crdt_op_check */
	size_t body_len;
	char station[QIAO_CODE_MAX];   /* the author's region code ("" root) */
	bool privileged;               /* district or root: acts anywhere */
} crdt_rec_op;

enum crdt_case_status {
	CRDT_CS_NONE = 0,
	CRDT_CS_OPEN,
	CRDT_CS_ACCEPTED,
	CRDT_CS_ROUTED,
	CRDT_CS_TRANSFERRED,
	CRDT_CS_MEDIATING,
	CRDT_CS_RESOLVED,
	CRDT_CS_EVALUATED,
	CRDT_CS_VISITED,
	CRDT_CS_CLOSED,
	CRDT_CS_REOPENED,
	CRDT_CS_COUNT
};

#define CRDT_SUM_OPENED 0x1u   /* the creating op is present */
#define CRDT_SUM_CONFLICT 0x2u /* some register holds concurrent values */
#define CRDT_SUM_REVIEW 0x4u   /* some op awaits review */
#define CRDT_SUM_NONE UINT64_MAX

/* What statistics need of a record, in fixed bytes. */
typedef struct crdt_rec_summary {
	uint64_t time_ms;     /* case: intake (open); meeting: its date */
	uint64_t response_ms; /* case: first accept - intake, or NONE */
	uint64_t arrival_ms;  /* first arrive - intake, or NONE */
	uint64_t feedback_ms; /* first feedback - intake, or NONE */
	uint32_t count;       /* meeting: attendees */
	uint8_t status;       /* case: enum crdt_case_status */
	uint8_t level;        /* case: resolved level, 1 + index in
				 crdt_levels (0 none); meeting: 1 + index in
				 crdt_meeting_levels */
	uint8_t evaluation;   /* 0 none, 1 unsatisfied, 2 satisfied */
	uint8_t flags;        /* CRDT_SUM_* */
} crdt_rec_summary;

#define CRDT_SUMMARY_LEN 40

/*
 * Folds the n ops of the record (kind, code, id; id NULL for grids) into
 * *state (a new heap buffer, free() it) and *sum. The ops' order in the
 * array does not matter; their hashes must be distinct. QIAO_ENOMEM.
 */
int crdt_record_fold(char kind, const char *code, const uint8_t *id,
    const crdt_rec_op *ops, size_t n, uint8_t **state, size_t *len,
    crdt_rec_summary *sum) QIAO_MUST_USE;

void crdt_rec_summary_encode(const crdt_rec_summary *s,
    uint8_t out[CRDT_SUMMARY_LEN]);
/* QIAO_EMALFORMED if len is not CRDT_SUMMARY_LEN. */
int crdt_rec_summary_decode(crdt_rec_summary *s, const void *in, size_t len)
    QIAO_MUST_USE;

/* "open" ... "reopened"; "?" for anything else. */
const char *crdt_case_status_name(int status);
/* CRDT_CS_NONE for an unknown name. */
int crdt_case_status_parse(const char *name);
/* Resolved, evaluated, visited or closed: what statistics count as
 * resolved. */
bool crdt_case_status_resolved(int status);

/* The SLA targets, from intake, in ms. */
#define QIAO_SLA_RESPONSE_MS (60 * 1000)
#define QIAO_SLA_ARRIVAL_MS (5 * 60 * 1000)
#define QIAO_SLA_FEEDBACK_MS (10 * 60 * 1000)

#endif
