/*
 * entry — the signed unit of every log.
 *
 * An entry is a header, its Ed25519 signature, and a body stored beside it.
 * The header is the exact msgpack bytes of
 *
 *   [version, author, seq, prev, hlc, type, body_hash, body_len]   (v1)
 *
 *   version    uint, 1
 *   author     bin 32   Ed25519 public key of the signer
 *   seq        uint     1, 2, 3, ... per author
 *   prev       bin 32   hash of the author's entry at seq-1; nil at seq 1
 *   hlc        uint     hybrid logical clock: ms << 16 | counter (crdt/hlc.h)
 *   type       uint     operation type (crdt/types.h), 1 .. 65535
 *   body_hash  bin 32   BLAKE2b-256 of the body bytes
 *   body_len   uint     length of the body, at most QIAO_BODY_MAX
 *
 * The raw form of an entry, as stored and sent, is the header bytes followed
 * by the 64-byte signature over them. The entry hash is BLAKE2b-256 over
 * that raw form. The header has one valid encoding (crdt/codec.h), so a
 * receiver given the fields can rebuild the exact bytes, and the signature
 * check proves it did.
 */
#ifndef QIAO_CRDT_ENTRY_H
#define QIAO_CRDT_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/err.h"

#define QIAO_ENTRY_VERSION 1
#define QIAO_KEY_LEN 32  /* Ed25519 public key */
#define QIAO_SK_LEN 64   /* libsodium Ed25519 secret key (seed || pk) */
#define QIAO_SIG_LEN 64
#define QIAO_HASH_LEN 32
#define QIAO_HDR_MAX 130 /* the longest canonical v1 header */
#define QIAO_RAW_MAX (QIAO_HDR_MAX + QIAO_SIG_LEN)
#define QIAO_BODY_MAX 65536
#define QIAO_TYPE_MAX 0xffff

typedef struct crdt_entry {
	/* Header fields. */
	uint64_t version;
	uint8_t author[QIAO_KEY_LEN];
	uint64_t seq;
	bool has_prev;
	uint8_t prev[QIAO_HASH_LEN];
	uint64_t hlc;
	uint64_t type;
	uint8_t body_hash[QIAO_HASH_LEN];
	uint64_t body_len;
	/* Derived: the raw bytes (header || signature) and the entry hash. */
	uint8_t raw[QIAO_RAW_MAX];
	size_t hdr_len; /* raw holds hdr_len + QIAO_SIG_LEN bytes */
	uint8_t hash[QIAO_HASH_LEN];
} crdt_entry;

/* Length of e's raw form. */
static inline size_t
crdt_entry_raw_len(const crdt_entry *e)
{
	return e->hdr_len + QIAO_SIG_LEN;
}

/* e's signature, inside raw. */
static inline const uint8_t *
crdt_entry_sig(const crdt_entry *e)
{
	return e->raw + e->hdr_len;
}

/*
 * Parses a raw entry at buf (header then signature) strictly and computes its
 * hash; the signature is not checked (crdt_entry_verify). With used NULL the
 * entry must fill len exactly; otherwise *used gets the bytes it took.
 * QIAO_EMALFORMED with a static reason in *why (if why is not NULL).
 */
int crdt_entry_parse(crdt_entry *e, const uint8_t *buf, size_t len,
    size_t *used, const char **why) QIAO_MUST_USE;

/* QIAO_OK if the signature over the header is the author's, else
 * QIAO_EBADSIG. */
int crdt_entry_verify(const crdt_entry *e) QIAO_MUST_USE;

/*
 * Signs a new entry. The caller sets seq, has_prev/prev, hlc, type, body_hash
 * and body_len; author comes from sk (libsodium's 64-byte secret key).
 * Encodes the header, signs it, and computes the hash.
 * QIAO_EINVAL if a field is out of range.
 */
int crdt_entry_sign(crdt_entry *e, const uint8_t sk[QIAO_SK_LEN])
    QIAO_MUST_USE;

/*
 * Rebuilds the raw form from the header fields and a signature received
 * apart from them (a sync batch leaves derivable fields off the wire).
 * The caller must still crdt_entry_verify() the result.
 */
int crdt_entry_rebuild(crdt_entry *e, const uint8_t sig[QIAO_SIG_LEN])
    QIAO_MUST_USE;

/* BLAKE2b-256 of a body. */
void crdt_entry_body_hash(uint8_t out[QIAO_HASH_LEN], const uint8_t *body,
    size_t len);

/*
 * Checks that body is the one e's header commits to (length and hash:
 * QIAO_EBADHASH) and is strict msgpack (QIAO_EMALFORMED, reason in *why).
 */
int crdt_entry_check_body(const crdt_entry *e, const uint8_t *body,
    size_t len, const char **why) QIAO_MUST_USE;

#endif
