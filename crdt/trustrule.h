/*
 * trustrule — the one evaluator of the trust rules: may a key sign its
 * entry at (seq, time), under which identity; could an issuer enrol or
 * revoke a key. Pure: it reads a subject's certificate and revocation
 * rows through a row source, so a node (node/trust.c, rows in LMDB) and
 * the offline verifier (crdt/trustset.c, rows in memory) give the same
 * answers from the same trust entries. The rules are stated in
 * crdt/trustset.h and README "Trust: enrolment and revocation".
 *
 * A question (crdt_trustrule_begin ... its last ask) carries a work budget:
 * questions nest (is the issuer of this certificate entitled, is the
 * revoker of that one...), each step up a rank or down one key's own
 * revocations, so real chains are a few steps long. Anything deeper than
 * 16, or weighing more than 20000 certificates (a set of junk enrolments
 * among keys one station made fans out at every level), fails closed: "not
 * enrolled".
 */
#ifndef QIAO_CRDT_TRUSTRULE_H
#define QIAO_CRDT_TRUSTRULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/cert.h"
#include "crdt/entry.h"
#include "crdt/err.h"

/* The same values as conf's enum qiao_role (node/trust.c asserts it). */
enum crdt_role {
	CRDT_ROLE_NONE = 0,
	CRDT_ROLE_VILLAGE,
	CRDT_ROLE_TOWN,
	CRDT_ROLE_DISTRICT,
	CRDT_ROLE_ROOT,
};

/* "village", "town", "district", "root"; "none" otherwise. */
const char *crdt_role_name(enum crdt_role role);

/* True if region is code or under it (a prefix test; "" is everywhere). */
bool crdt_trust_covers(const char *region, const char *code);

typedef struct crdt_trust_id {
	enum crdt_role role;
	char region[QIAO_CERT_REGION_MAX]; /* "" for the root: everywhere */
	char name[QIAO_CERT_NAME_MAX];     /* "root" for the root */
	uint8_t issuer[QIAO_KEY_LEN];      /* zero for the root */
	uint8_t cert[QIAO_HASH_LEN];       /* the deciding enrolment's hash */
	uint64_t until;                    /* 0: no expiry */
	/* check: the last seq the accepting certificate allows;
	 * lookup: the last seq any counting certificate allows.
	 * UINT64_MAX: not revoked. */
	uint64_t revoked_after;
} crdt_trust_id;

/* A well-formed enrolment of subject, made by issuer's entry (seq, ms). */
typedef struct crdt_trustrule_cert {
	uint8_t subject[QIAO_KEY_LEN];
	uint8_t hash[QIAO_HASH_LEN]; /* of the enrol entry */
	uint8_t issuer[QIAO_KEY_LEN];
	uint64_t seq, ms; /* of the enrol entry; ms is its HLC's Unix ms */
	enum crdt_role role; /* c.role, parsed */
	crdt_cert c;
} crdt_trustrule_cert;

/* A withdrawal of subject's entries after seq `after`: a revocation, or an
 * enrolment superseding subject, made by issuer's entry (seq, ms). */
typedef struct crdt_trustrule_rev {
	uint8_t subject[QIAO_KEY_LEN];
	uint8_t hash[QIAO_HASH_LEN]; /* of the entry that made it */
	uint8_t issuer[QIAO_KEY_LEN];
	uint64_t seq, ms, after;
} crdt_trustrule_rev;

/* All the rows of one subject, in any order. */
typedef struct crdt_trustrule_rows {
	const crdt_trustrule_cert *c;
	size_t nc;
	const crdt_trustrule_rev *r;
	size_t nr;
} crdt_trustrule_rows;

/*
 * Where rows come from. load fills *out with subject's rows (none: zero
 * counts) and returns QIAO_OK, or an error (QIAO_ESTORE, QIAO_ENOMEM...)
 * that makes every later answer of the question "no" and is reported by
 * crdt_trustrule_err. The rows must stay valid and unchanged until the
 * question ends: the evaluator holds several subjects' rows at once.
 */
typedef struct crdt_trustrule_src {
	const uint8_t *root; /* the trust anchor: accepted for everything */
	/* Optional (NULL): a key that stands on self_cert (its config, on
	 * its own node) while no certificate of it counts. Only self_cert's
	 * role, c.region, c.name and c.until are weighed; its issuer and
	 * hash are reported as given (zero them). Revocations of self
	 * still apply to it. */
	const uint8_t *self;
	const crdt_trustrule_cert *self_cert;
	int (*load)(void *ctx, const uint8_t subject[QIAO_KEY_LEN],
	    crdt_trustrule_rows *out);
	void *ctx;
} crdt_trustrule_src;

/* One question: its source, budget and first load error. Fields are the
 * evaluator's; begin it, ask, then read crdt_trustrule_err. */
typedef struct crdt_trustrule {
	const crdt_trustrule_src *src;
	int err;
	int depth;
	long work;
	bool over;
} crdt_trustrule;

/* Starts a question over src (borrowed until the question ends). */
void crdt_trustrule_begin(crdt_trustrule *q, const crdt_trustrule_src *src);

/* The first load error of the question, or QIAO_OK. */
int crdt_trustrule_err(const crdt_trustrule *q);

/*
 * May key sign its entry at seq, stamped ms (Unix ms; 0: any time)? seq 0
 * weighs no revocation; UINT64_MAX weighs them all. Returns QIAO_OK,
 * QIAO_EUNKNOWN, QIAO_EREVOKED or QIAO_EEXPIRED. On QIAO_OK fills *id (may
 * be NULL), its revoked_after being the accepting certificate's cut-off
 * when of_best, else the last seq any counting certificate allows; and
 * *best (may be NULL) with the deciding certificate (NULL for the root),
 * valid while its rows are.
 */
int crdt_trustrule_ask(crdt_trustrule *q, const uint8_t key[QIAO_KEY_LEN],
    uint64_t seq, uint64_t ms, bool of_best, crdt_trust_id *id,
    const crdt_trustrule_cert **best);

/* Could a, at its entry (seq, ms), issue or withdraw (role, region)? */
bool crdt_trustrule_covers(crdt_trustrule *q, const uint8_t a[QIAO_KEY_LEN],
    uint64_t seq, uint64_t ms, enum crdt_role role, const char *region);

/* Was c's issuer entitled to issue it (the root, or covering it at its
 * entry)? That is whether c counts at all. */
bool crdt_trustrule_issued(crdt_trustrule *q, const crdt_trustrule_cert *c);

/* Could issuer, at its entry (seq, ms), withdraw some counting certificate
 * of subject (the root and subject itself always can)? That is what lets
 * it revoke or supersede the key. */
bool crdt_trustrule_standing(crdt_trustrule *q,
    const uint8_t issuer[QIAO_KEY_LEN], uint64_t seq, uint64_t ms,
    const uint8_t subject[QIAO_KEY_LEN]);

/* The static reason for a verdict of crdt_trustrule_ask (EREVOKED,
 * EEXPIRED; "not enrolled" otherwise). */
const char *crdt_trustrule_why(int rc);

#endif
