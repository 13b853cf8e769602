/*
 * audit — the audit bundle: the signed history of one case or of many,
 * with everything an offline verifier needs and nothing of the store
 * (docs/AUDIT.md). This module is the format: decoding with every length
 * checked, canonical order, encoding, the digests the exporter's statement
 * signs. crdt/auditor.h verifies; node/audit.h exports.
 *
 * File layout, v1 (the magic's last character is the version):
 *
 *   "QIAOAUD1"       8 bytes
 *   one msgpack map (strict: crdt/codec.h), nothing after it:
 *     cases      [[id, state, ops], ...]       by id, increasing
 *                  id     bin 32  the case: the hash of its open entry
 *                  state  bin 32  BLAKE2b-256 of the case's state bytes in
 *                                 the exporter's store (crdt/record.h)
 *                  ops    [[raw, body], ...]   the case's ops, by rank
 *                                              (hlc, author, hash)
 *     forks      [[raw, raw], ...]             fork proofs the exporter
 *                                              holds for the keys below:
 *                                              two entries of one author
 *                                              at one seq, by (author,
 *                                              seq), the lower hash first
 *     statement  [raw, body]                   the exporter's audit entry
 *     trust      [[raw, body], ...]            enrolments and revocations
 *                                              of every key involved, up
 *                                              to the root, by (author,
 *                                              seq)
 *     view       [[key, raw or nil], ...]      by key: for each key that
 *                                              may write one of the cases,
 *                                              the exporter's head entry
 *                                              of its log (nil: none held)
 *   raw is an entry's header and signature exactly as signed
 *   (crdt/entry.h); body its body.
 *
 * The statement (type QIAO_T_AUDIT, in the exporter's own log) binds the
 * exporter to the bundle; its body is a map:
 *   all    bool    optional, true: the bundle holds every case the
 *                  exporter held (under the code below, if any)
 *   cases  uint    the number of cases
 *   set    bin 32  crdt_audit_set() of the cases
 *   under  str     optional: with all, the region code they are under
 *   view   bin 32  crdt_audit_view_digest() of the view
 *
 * Decoding borrows the caller's buffer: bodies point into it and live as
 * long as it does.
 */
#ifndef QIAO_CRDT_AUDIT_H
#define QIAO_CRDT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/entry.h"
#include "crdt/err.h"
#include "crdt/op.h"
#include "crdt/record.h"

#define QIAO_AUDIT_MAGIC "QIAOAUD1"
#define QIAO_AUDIT_MAGIC_LEN 8
/* Bounds a decoder enforces before it allocates anything. */
#define QIAO_AUDIT_FILE_MAX (UINT64_C(512) << 20)
#define QIAO_AUDIT_CASES_MAX (1u << 20)
#define QIAO_AUDIT_OPS_MAX QIAO_REC_OPS_MAX /* per case */
#define QIAO_AUDIT_ITEMS_MAX (1u << 21)     /* ops of all cases */
#define QIAO_AUDIT_VIEW_MAX 65536
#define QIAO_AUDIT_TRUST_MAX 65536
#define QIAO_AUDIT_FORKS_MAX 4096

/* An entry with its body. The signature is not checked by decoding. */
typedef struct crdt_audit_item {
	crdt_entry e;
	const uint8_t *body; /* borrowed */
	size_t blen;
} crdt_audit_item;

typedef struct crdt_audit_case {
	uint8_t id[QIAO_HASH_LEN];
	uint8_t state[QIAO_HASH_LEN];
	crdt_audit_item *ops; /* into the bundle's opsbuf */
	size_t nops;
} crdt_audit_case;

typedef struct crdt_audit_head {
	uint8_t key[QIAO_KEY_LEN];
	bool has;     /* false: the exporter holds none of this key's log */
	crdt_entry e; /* the head entry when has */
} crdt_audit_head;

typedef struct crdt_audit_fork {
	crdt_entry a, b; /* one author, one seq, a's hash below b's */
} crdt_audit_fork;

/*
 * A bundle in memory. The arrays are heap memory the bundle owns
 * (crdt_audit_fini frees them); item bodies are borrowed.
 */
typedef struct crdt_audit_bundle {
	crdt_audit_item statement;
	crdt_audit_case *cases;
	size_t ncases;
	crdt_audit_item *opsbuf; /* every case's ops, back to back */
	size_t nops;
	crdt_audit_head *view;
	size_t nview;
	crdt_audit_item *trust;
	size_t ntrust;
	crdt_audit_fork *forks;
	size_t nforks;
} crdt_audit_bundle;

/*
 * Decodes a bundle file held in memory: the magic, the strict encoding,
 * every bound above, each entry's header (crdt_entry_parse), the canonical
 * order of every list (so a bundle has one encoding, and reordering it is
 * caught here), a view head being its key's entry, a fork pair being two
 * entries of one author at one seq. Nothing is verified (signatures,
 * hashes, trust): that is crdt/auditor.h. QIAO_EMALFORMED or QIAO_ETOOBIG
 * with a one-line reason in err (naming the byte offset); QIAO_ENOMEM.
 * *b is written only on success.
 */
int crdt_audit_decode(crdt_audit_bundle *b, const uint8_t *buf, size_t len,
    char *err, size_t errlen) QIAO_MUST_USE;

/* Frees the bundle's arrays; accepts a zeroed bundle. */
void crdt_audit_fini(crdt_audit_bundle *b);

/*
 * Sorts every list of b into canonical order (cases by id, ops by rank,
 * view by key, trust by author and seq, forks by author and seq).
 */
void crdt_audit_canon(crdt_audit_bundle *b);

/*
 * Encodes b as a bundle file (magic and map) into a new heap buffer (*out,
 * free() it), in the order b holds (crdt_audit_canon first for a bundle
 * that decodes). QIAO_ENOMEM, QIAO_EINVAL for an item without a body
 * where one is needed.
 */
int crdt_audit_encode(const crdt_audit_bundle *b, uint8_t **out,
    size_t *len) QIAO_MUST_USE;

/* Rank of two entries: (hlc, author, hash), as the fold ranks ops. */
int crdt_audit_rank_cmp(const crdt_entry *a, const crdt_entry *b);

/*
 * The digests the statement signs. A case's leaf is BLAKE2b-256 over a
 * domain tag, its id, its op count and op hashes (in the order given) and
 * its state hash; the set digest over a tag, the count and the leaves of
 * the cases in the order given; the view digest over a tag and the view's
 * encoding. QIAO_ENOMEM (the view is encoded first).
 */
void crdt_audit_leaf(uint8_t out[QIAO_HASH_LEN], const crdt_audit_case *c);
void crdt_audit_set(uint8_t out[QIAO_HASH_LEN], const crdt_audit_case *cases,
    size_t n);
int crdt_audit_view_digest(uint8_t out[QIAO_HASH_LEN],
    const crdt_audit_head *view, size_t n) QIAO_MUST_USE;

/* The statement's body. */
typedef struct crdt_audit_claim {
	bool all; /* every case held (under under) is in the bundle */
	uint64_t cases;
	uint8_t set[QIAO_HASH_LEN];
	uint8_t view[QIAO_HASH_LEN];
	char under[QIAO_CODE_MAX]; /* "" when absent (only with all) */
} crdt_audit_claim;

/* Encodes c into a new heap buffer (free() it). QIAO_ENOMEM, QIAO_EINVAL
 * for an under that is not a region code, or given without all. */
int crdt_audit_claim_encode(const crdt_audit_claim *c, uint8_t **out,
    size_t *len) QIAO_MUST_USE;

/* Decodes a statement body (strict msgpack already checked).
 * QIAO_EMALFORMED with a static reason in *why. */
int crdt_audit_claim_decode(crdt_audit_claim *c, const uint8_t *body,
    size_t len, const char **why) QIAO_MUST_USE;

#endif
