/*
 * types — the registry of entry types (the header's `type` field).
 *
 * One list, so two modules can never claim one number. Ranges:
 *   1-15   core and trust        16-31  grid and registry
 *   32-63  cases                 64-79  meetings
 * docs/OPERATIONS.md describes each body.
 */
#ifndef QIAO_CRDT_TYPES_H
#define QIAO_CRDT_TYPES_H

#include <stdint.h>

enum crdt_type {
	QIAO_T_NOTE = 1,   /* free text in the author's own log: {text} */
	QIAO_T_ENROL = 2,  /* enrolment certificate (node/trust.h) */
	QIAO_T_REVOKE = 3, /* revocation of a key after a seq */
	QIAO_T_AUDIT = 4,  /* an exporter's statement on an audit bundle
			      (crdt/audit.h, docs/AUDIT.md) */

	/* Grid and registry (crdt/op.h, docs/OPERATIONS.md). */
	QIAO_T_GRID = 16,  /* write fields of a grid record, by code */
	QIAO_T_REG = 17,   /* a registry record: address, person, house, org */

	/* Cases: the closed loop (crdt/case.h). */
	QIAO_T_CASE_OPEN = 32,
	QIAO_T_CASE_ACCEPT = 33,
	QIAO_T_CASE_ROUTE = 34,
	QIAO_T_CASE_TRANSFER = 35,
	QIAO_T_CASE_ARRIVE = 36,
	QIAO_T_CASE_FEEDBACK = 37,
	QIAO_T_CASE_MEDIATE = 38,
	QIAO_T_CASE_RESOLVE = 39,
	QIAO_T_CASE_EVALUATE = 40,
	QIAO_T_CASE_VISIT = 41,
	QIAO_T_CASE_CLOSE = 42,
	QIAO_T_CASE_REOPEN = 43,
	QIAO_T_CASE_NOTE = 44,

	/* "Three meetings for three matters". */
	QIAO_T_MEETING = 64,
};

/* The type's name ("note"), or NULL for a number nobody registered. */
const char *crdt_type_name(uint64_t type);

/* The number for a name, or 0. */
uint64_t crdt_type_from_name(const char *name);

#endif
