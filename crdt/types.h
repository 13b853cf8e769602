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
};

/* The type's name ("note"), or NULL for a number nobody registered. */
const char *crdt_type_name(uint64_t type);

/* The number for a name, or 0. */
uint64_t crdt_type_from_name(const char *name);

#endif
