/*
 * fold — internal: what the fold engine (record.c) offers the per-kind
 * semantics (case.c). Not for use outside crdt/.
 *
 * Ops are numbered by rank (0 .. n-1, see record.h). An effect function is
 * called once per op, in topological order, and decides whether the op
 * takes effect (writes registers, adds to sets) or is kept for review.
 * Queries about an op's causal past only see ops already walked.
 */
#ifndef QIAO_CRDT_FOLD_H
#define QIAO_CRDT_FOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/record.h"

typedef struct crdt_fold crdt_fold;

#define CRDT_FOLD_ALL SIZE_MAX /* "every op", for crdt_fold_get */

/* The op of rank i. */
const crdt_rec_op *crdt_fold_op(const crdt_fold *f, size_t i);

/*
 * The value (msgpack bytes) register reg shows among the writes in op at's
 * causal past (CRDT_FOLD_ALL: among all writes). QIAO_ENOTFOUND if none.
 * *val points into the fold and is valid until the next write: copy first.
 */
int crdt_fold_get(const crdt_fold *f, const char *reg, size_t at,
    const uint8_t **val, size_t *len);

/* Copies the register's string value (from op at) into buf; false if
 * absent, not a string, or too long. */
bool crdt_fold_get_str(const crdt_fold *f, const char *reg, size_t at,
    char *buf, size_t cap);

/* Op i writes reg (msgpack bytes, copied). Errors stick in the fold. */
void crdt_fold_write(crdt_fold *f, size_t i, const char *reg,
    const void *val, size_t len);
void crdt_fold_write_str(crdt_fold *f, size_t i, const char *reg,
    const char *s);
void crdt_fold_write_nil(crdt_fold *f, size_t i, const char *reg);

/* The generic effect: op i writes every register field and adds every set
 * field its type's table names (crdt/op.h). */
void crdt_fold_fields(crdt_fold *f, size_t i);

/* Op i does not take effect: it stays in the timeline, flagged with
 * reason (static), and is listed for review. custodian (copied, may be
 * NULL) is who held custody in its causal past. */
void crdt_fold_review(crdt_fold *f, size_t i, const char *reason,
    const char *custodian);

/* The case kind's effect and its summary (case.c). stamps[] are the
 * intake (open) time and the earliest valid accept, arrive and feedback
 * times, in ms, CRDT_SUM_NONE until seen. */
enum {
	CRDT_STAMP_INTAKE,
	CRDT_STAMP_RESPONSE,
	CRDT_STAMP_ARRIVAL,
	CRDT_STAMP_FEEDBACK,
	CRDT_STAMPS
};
void crdt_case_effect(crdt_fold *f, size_t i, uint64_t stamps[CRDT_STAMPS]);
void crdt_case_summary(const crdt_fold *f,
    const uint64_t stamps[CRDT_STAMPS], crdt_rec_summary *sum);

#endif
