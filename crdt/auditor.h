/*
 * auditor — verifies an audit bundle (crdt/audit.h) offline, with nothing
 * but the bytes and the district's root key: no store, no network, no
 * clock. It returns a structured report; cli/cmd_audit.c prints it.
 *
 * What it checks, in order (docs/AUDIT.md says what each check catches):
 *   1. the file decodes strictly (crdt_audit_decode);
 *   2. every signature (statement, certificates, view heads, fork proofs,
 *      ops) and every body against its header;
 *   3. trust, from the bundle's enrolments and revocations alone
 *      (crdt/trustset.h): the exporter may sign its statement; each op's
 *      author may sign that entry (enrolled, not revoked before it, not
 *      expired at its time) and its region covers the case;
 *   4. the statement: its digests match the cases and the view it came
 *      with; the exporter's own head in the view is the entry just before
 *      the statement; every key the bundle shows may write a case has a
 *      head in the view, and no entry lies beyond its key's head;
 *   5. each key's entries in the bundle, in seq order: no two at one seq
 *      (a fork), consecutive seqs chained by prev, times increasing;
 *   6. each case: its open entry is there, every op names this case, every
 *      dep an op names is in the bundle (nothing left out of the middle),
 *      an op is stamped after the ops it depends on and not after the
 *      statement, each author's ops on the case descend from its own
 *      previous one (no splice of two branches of a forked log);
 *   7. the case is folded with the nodes' fold (crdt/record.h), stations
 *      taken from the certificates; its state must hash to what the
 *      exporter's store held.
 * A failure of any of these is a failure: the bundle does not prove the
 * history. Findings are what a sound history shows: a response, arrival
 * or feedback target missed, a conflict not settled, a step kept for
 * review.
 */
#ifndef QIAO_CRDT_AUDITOR_H
#define QIAO_CRDT_AUDITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/audit.h"
#include "crdt/entry.h"
#include "crdt/err.h"
#include "crdt/record.h"
#include "crdt/trustset.h"

/* At most this many issues are kept; the rest are only counted. */
#define QIAO_AUDIT_ISSUES_MAX 10000

typedef struct crdt_audit_issue {
	char code[24];   /* stable: "missing-dep", "bad-signature", ... */
	bool finding;    /* a finding, not a failure */
	long case_index; /* into the report's cases; -1 for the bundle */
	char msg[400];   /* one line for people */
} crdt_audit_issue;

/* A key the bundle involves, and what the bundle says of it. */
typedef struct crdt_audit_who {
	uint8_t key[QIAO_KEY_LEN];
	bool known;         /* a certificate of it counts (or the root) */
	crdt_trust_id id;   /* when known */
	bool in_view;       /* the exporter stated a head for it */
	bool has_head;      /* ... and holds entries of it */
	uint64_t head_seq, head_hlc;
	size_t ops;         /* case ops it signed in the bundle */
} crdt_audit_who;

typedef struct crdt_audit_result {
	uint8_t id[QIAO_HASH_LEN];
	char code[QIAO_CODE_MAX]; /* the case's grid code ("" if unknown) */
	size_t nops;              /* ops in the bundle */
	size_t folded;            /* ops that passed and were folded */
	uint8_t *state;           /* the fold's state (NULL if not folded) */
	size_t slen;
	crdt_rec_summary sum;
	size_t failures, findings;
} crdt_audit_result;

typedef struct crdt_audit_report {
	bool decoded;       /* false: not a readable bundle (see issues) */
	uint8_t exporter[QIAO_KEY_LEN];
	uint64_t statement_seq, statement_hlc;
	bool all;           /* the statement claims every case held ... */
	char under[QIAO_CODE_MAX]; /* ... under this code ("": anywhere) */
	crdt_audit_who *keys; /* by key */
	size_t nkeys;
	crdt_audit_result *cases; /* in the bundle's order (by id) */
	size_t ncases;
	crdt_audit_issue *issues;
	size_t nissues;
	size_t dropped;       /* issues beyond QIAO_AUDIT_ISSUES_MAX */
	size_t failures, findings;
	uint64_t signatures;  /* Ed25519 signatures checked */
} crdt_audit_report;

/*
 * Verifies the bundle file in buf against root. *out gets a report (free
 * it with crdt_audit_report_free) whenever QIAO_OK is returned, whatever
 * the bundle's fate: the verdict is in the report (failures == 0). Returns
 * QIAO_ENOMEM only. buf is borrowed for the call.
 */
int crdt_auditor_verify(const uint8_t *buf, size_t len,
    const uint8_t root[QIAO_KEY_LEN], crdt_audit_report **out) QIAO_MUST_USE;

/* Accepts NULL. */
void crdt_audit_report_free(crdt_audit_report *r);

/* The report's entry for key, or NULL. Lives as long as the report. */
const crdt_audit_who *crdt_audit_report_who(const crdt_audit_report *r,
    const uint8_t key[QIAO_KEY_LEN]);

/* The SLA targets in order (response, arrival, feedback): names, ms, and
 * a case's figure (CRDT_SUM_NONE if no stamp). */
extern const char *const crdt_audit_sla_names[3];
extern const uint64_t crdt_audit_sla_targets[3];
uint64_t crdt_audit_sla_got(const crdt_rec_summary *s, int i);

#endif
