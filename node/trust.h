/*
 * trust — who may sign, and who may enrol or revoke whom.
 *
 * The trust anchor is the district's root key in the node's config (a node
 * without one anchors on itself). Enrolment certificates and revocations are
 * entries (crdt/cert.h) in their issuers' logs; folding them fills two
 * tables:
 *   certs    subject(32) enrol-entry-hash(32) -> issuer(32) enrol body
 *   revokes  subject(32) revoke-entry-hash(32) -> after(8 BE) issuer(32)
 * Rules (docs/PROTOCOL.md, "Trust"):
 *   - the root enrols districts, towns and villages anywhere; a district
 *     enrols towns and villages under its code; a town enrols villages under
 *     its code. A region code's length matches the role (6, 9, 12 digits).
 *   - an author may sign when it is the root, or holds a certificate that has
 *     not expired at the entry's time and no revocation cuts it off before
 *     the entry's seq. The node itself may always record locally, enrolled
 *     or not; others accept those entries once the enrolment reaches them.
 *   - a revocation (or an enrolment that supersedes a lost key) is issued by
 *     the root, an authority above the subject, or the subject itself. When
 *     it arrives after entries beyond its cut-off, those entries leave the
 *     log (kept in `refused` as evidence) and derived state is rebuilt.
 */
#ifndef QIAO_NODE_TRUST_H
#define QIAO_NODE_TRUST_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/conf.h"
#include "crdt/entry.h"
#include "crdt/err.h"
#include "node/node.h"
#include "node/store.h"

typedef struct node_trust_id {
	enum qiao_role role;
	char region[QIAO_REGION_MAX]; /* "" for the root: everywhere */
	char name[QIAO_NAME_MAX];
	uint64_t until;         /* 0: no expiry */
	uint64_t revoked_after; /* UINT64_MAX: not revoked */
} node_trust_id;

/*
 * Decides whether e's author may sign e. On QIAO_OK fills *id (may be NULL)
 * with the author's identity. QIAO_EUNKNOWN, QIAO_EREVOKED, QIAO_EEXPIRED
 * with a static reason in *why; QIAO_ESTORE.
 */
int node_trust_check(node *n, node_txn *txn, const crdt_entry *e,
    node_trust_id *id, const char **why) QIAO_MUST_USE;

/*
 * The identity of author (first valid certificate in key order, or the
 * root, or the node itself from its config). QIAO_EUNKNOWN if none.
 */
int node_trust_lookup(node *n, node_txn *txn,
    const uint8_t author[QIAO_KEY_LEN], node_trust_id *id) QIAO_MUST_USE;

/*
 * Folds a trust entry (QIAO_T_ENROL, QIAO_T_REVOKE) into the tables.
 * *op_rc gets QIAO_OK, or why the operation was refused (QIAO_EUNAUTH,
 * QIAO_EMALFORMED) with *why. *cut is set when a revocation removed entries
 * already held: the caller must rebuild derived state.
 */
int node_trust_apply(node *n, node_txn *txn, const crdt_entry *e,
    const uint8_t *body, size_t len, int *op_rc, const char **why,
    bool *cut) QIAO_MUST_USE;

/* Refolds every trust entry in the logs to a fixpoint, then removes the
 * entries of authors no longer trusted. *cut as above. */
int node_trust_rebuild(node *n, node_txn *txn, bool *cut) QIAO_MUST_USE;

/* True if region is code or under it (a prefix test; "" is everywhere). */
bool node_trust_region_covers(const char *region, const char *code);

#endif
