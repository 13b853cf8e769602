/*
 * trustset — the trust rules over a set of enrolments and revocations held
 * in memory, anchored on a root key: who may sign an entry, and under which
 * identity (role, region, name). No store, no I/O: the offline verifier of
 * audit bundles (crdt/auditor.h) judges with it, from nothing but the
 * entries a bundle carries and the root key the auditor gives.
 *
 * The rules are those every node applies at ingest (node/trust.h, README
 * "Trust: enrolment and revocation"), by the same evaluator
 * (crdt/trustrule.h); tests/t_audit.c checks the two row sources give the
 * same answers on random sets of certificates and revocations:
 *   - a certificate counts when its issuer could issue it at the issuer's
 *     entry (seq, time): the root enrols districts, towns and villages
 *     anywhere; a district towns and villages under its code; a town
 *     villages under its code; the issuer's own certificate counting there;
 *   - a revocation of K after seq A, issued by the root or by K itself,
 *     withdraws every certificate of K; by anyone else, those the issuer
 *     could have issued; an enrolment that supersedes K revokes it the same
 *     way; a key's revocation of itself takes effect after that entry;
 *   - an entry of K at seq q stamped t is accepted when K is the root, or a
 *     certificate of K counts, is not withdrawn before q, and has not
 *     expired at t;
 *   - of several counting certificates, the highest role, then the
 *     highest-ranked issuer, then the lowest entry hash gives K's identity.
 * A node also trusts its own key on its config before it is enrolled; a
 * verifier has no such key, so that rule has no counterpart here. The
 * evaluation itself is crdt/trustrule.h, shared with the node; this
 * module holds the rows and sorts them so a subject's are found fast.
 */
#ifndef QIAO_CRDT_TRUSTSET_H
#define QIAO_CRDT_TRUSTSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/cert.h"
#include "crdt/entry.h"
#include "crdt/err.h"
#include "crdt/trustrule.h"

typedef struct crdt_trustset crdt_trustset;

/* A set anchored on root (copied). QIAO_ENOMEM. */
int crdt_trustset_new(crdt_trustset **out, const uint8_t root[QIAO_KEY_LEN])
    QIAO_MUST_USE;
/* Accepts NULL. */
void crdt_trustset_free(crdt_trustset *ts);

/*
 * Adds the rows of a trust entry (QIAO_T_ENROL or QIAO_T_REVOKE) whose body
 * already matched its header (crdt_entry_check_body). The caller checks the
 * signature. Returns QIAO_OK when the entry made rows (whether they count is
 * decided when a question is asked, from the whole set, so the order of
 * adding does not matter); QIAO_EMALFORMED or QIAO_EUNAUTH with a static
 * reason in *why when it makes none, as on a node (an unreadable body, a
 * role or region that cannot be, the root key as subject); QIAO_EINVAL for
 * another type; QIAO_ENOMEM.
 */
int crdt_trustset_add(crdt_trustset *ts, const crdt_entry *e,
    const uint8_t *body, size_t len, const char **why) QIAO_MUST_USE;

/*
 * May key sign its entry at seq, stamped ms (Unix ms)? QIAO_OK and *id (may
 * be NULL) filled; else QIAO_EUNKNOWN, QIAO_EREVOKED or QIAO_EEXPIRED with
 * a static reason in *why (may be NULL). QIAO_ENOMEM.
 */
int crdt_trustset_check(crdt_trustset *ts,
    const uint8_t key[QIAO_KEY_LEN], uint64_t seq, uint64_t ms,
    crdt_trust_id *id, const char **why) QIAO_MUST_USE;

/*
 * The identity key signs under, for attributing its entries: the root, or
 * its best counting certificate whatever its expiry or revocation.
 * QIAO_EUNKNOWN when no certificate of it counts; QIAO_ENOMEM.
 */
int crdt_trustset_lookup(crdt_trustset *ts,
    const uint8_t key[QIAO_KEY_LEN], crdt_trust_id *id) QIAO_MUST_USE;

/*
 * Why no certificate of key counts, for people: "no enrolment of the key",
 * or what its best-placed enrolment lacks ("its issuer ... may not enrol a
 * village under ..."). Writes a line into buf.
 */
void crdt_trustset_explain(crdt_trustset *ts,
    const uint8_t key[QIAO_KEY_LEN], char *buf, size_t cap);

/* The number of distinct subjects of enrolments, and the i-th of them (in
 * key order), for enumerating who may write where. */
size_t crdt_trustset_subjects(crdt_trustset *ts);
const uint8_t *crdt_trustset_subject(crdt_trustset *ts, size_t i);

#endif
