/*
 * trust — who may sign, and who may enrol or revoke whom.
 *
 * The trust anchor is the district's root key in the node's config (a node
 * without one anchors on itself). Enrolment certificates and revocations are
 * entries (crdt/cert.h) in their issuers' logs. Every well-formed one held
 * is a row in two tables:
 *   certs    subject(32) enrol-hash(32)
 *              -> issuer(32) seq(8 BE) hlc(8 BE) enrol body
 *   revokes  subject(32) entry-hash(32)
 *              -> after(8 BE) issuer(32) seq(8 BE) hlc(8 BE)
 * (an enrolment that supersedes a lost key adds a revokes row for the old
 * key under the enrolment's hash). Whether a row counts is decided when a
 * question is asked, from the whole set of rows: so two nodes holding the
 * same trust entries give the same answers whatever order they arrived in.
 *
 * Rules (README, "Trust: enrolment and revocation"):
 *   - A certificate counts when its issuer could issue it at the issuer's
 *     entry: the root enrols districts, towns and villages anywhere; a
 *     district towns and villages under its code; a town villages under its
 *     code (the issuer's own certificate must count at that entry).
 *   - A revocation of key K after seq A, issued by the root or by K itself,
 *     withdraws every certificate of K; issued by anyone else it withdraws
 *     the certificates of K that the issuer could have issued. So a town can
 *     neither revoke a district nor another town's village, even after
 *     enrolling that key itself. A key's self-revocation cannot reach behind
 *     itself: it takes effect after the revocation entry.
 *   - An entry of K at seq q, stamped at time t, is accepted when K is the
 *     root, or K holds a counting certificate not withdrawn before q and not
 *     expired at t. A certificate counts for all of K's entries up to its
 *     cut-off, including ones signed before it arrived: a station not yet
 *     enrolled records locally (its own node trusts it on its config's role
 *     and region until a certificate of it counts) and its entries are
 *     accepted elsewhere once its enrolment arrives.
 *   - Of several counting certificates, a key's identity is the one of the
 *     highest role, then the highest-ranked issuer, then the lowest hash.
 *   - When trust changes, held logs are checked again and the entries that
 *     no longer pass leave the log (kept in `refused` as evidence); callers
 *     then rebuild derived state. The node's own log is never cut: it
 *     stops appending while not trusted.
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
	uint8_t issuer[QIAO_KEY_LEN]; /* zero for the root and an unenrolled
				       * node itself */
	uint64_t until;         /* 0: no expiry */
	uint64_t revoked_after; /* UINT64_MAX: not revoked */
	/* The certificate replaces a lost key, and its issuer could withdraw
	 * that key: the old key's work continues under this one. */
	bool has_supersedes;
	uint8_t supersedes[QIAO_KEY_LEN];
	uint64_t supersedes_after;
} node_trust_id;

/*
 * Decides whether e's author may sign e (its seq and time). On QIAO_OK fills
 * *id (may be NULL) with the identity it signs under; its until and
 * revoked_after are those of the certificate that accepted e, so any
 * later entry of the author within both is accepted too (a cache may rely
 * on it until trust changes). QIAO_EUNKNOWN, QIAO_EREVOKED, QIAO_EEXPIRED
 * with a static reason in *why; QIAO_ESTORE, QIAO_ENOMEM.
 */
int node_trust_check(node *n, node_txn *txn, const crdt_entry *e,
    node_trust_id *id, const char **why) QIAO_MUST_USE;

/*
 * The identity of author, for attributing its entries: the root, its best
 * counting certificate whatever its expiry or revocation (revoked_after
 * says up to which seq its entries count), or the node itself from its
 * config when no certificate of it counts. QIAO_EUNKNOWN if none;
 * QIAO_ESTORE, QIAO_ENOMEM.
 */
int node_trust_lookup(node *n, node_txn *txn,
    const uint8_t author[QIAO_KEY_LEN], node_trust_id *id) QIAO_MUST_USE;

/*
 * Decides whether key may hold a link with this node at now_ms: the root,
 * or a key with a counting certificate in force at now_ms and no revocation
 * at all (whatever its cut-off: a revoked key signs nothing new, so it has
 * nothing to say). The node's own key is not a peer. QIAO_EUNKNOWN,
 * QIAO_EREVOKED, QIAO_EEXPIRED with a static reason in *why; QIAO_ESTORE.
 */
int node_trust_peer(node *n, node_txn *txn, const uint8_t key[QIAO_KEY_LEN],
    uint64_t now_ms, node_trust_id *id, const char **why) QIAO_MUST_USE;

/*
 * The peer check of node/link.h (node_link_verify_fn) for a node: ctx is
 * the node. Opens its own read transaction, asks node_trust_peer at the
 * node's clock, and logs a refusal with the peer's public key and the
 * reason. Returns QIAO_OK or the refusal (QIAO_EUNKNOWN, ...), *why static.
 */
int node_trust_link_verify(void *ctx, const uint8_t peer[QIAO_KEY_LEN],
    const char **why) QIAO_MUST_USE;

/*
 * Folds a trust entry (QIAO_T_ENROL, QIAO_T_REVOKE) into the tables.
 * *op_rc gets QIAO_OK, or why the operation does not count now
 * (QIAO_EMALFORMED: nothing stored; QIAO_EUNAUTH: its row is kept and
 * judged again whenever trust changes) with *why. *changed is set when a
 * row was stored: the caller must run node_trust_revalidate() before its
 * transaction ends.
 */
int node_trust_apply(node *n, node_txn *txn, const crdt_entry *e,
    const uint8_t *body, size_t len, int *op_rc, const char **why,
    bool *changed) QIAO_MUST_USE;

/*
 * Checks every held log but the node's own against the trust tables, and
 * moves the entries that no longer pass (beyond a revocation's cut-off,
 * past an expiry, or of a key no certificate of which counts any more) out
 * of the log into `refused`, with their trust rows, until nothing changes.
 * *cut is set if anything left: the caller must rebuild derived state.
 */
int node_trust_revalidate(node *n, node_txn *txn, bool *cut) QIAO_MUST_USE;

/* Rebuilds both tables from the trust entries in the logs, then
 * revalidates. *cut as above. */
int node_trust_rebuild(node *n, node_txn *txn, bool *cut) QIAO_MUST_USE;

/* True if region is code or under it (a prefix test; "" is everywhere). */
bool node_trust_region_covers(const char *region, const char *code);

#endif
