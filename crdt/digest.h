/*
 * digest — one hash over a set of records' states, so two stores can tell
 * in 32 bytes whether they hold the same state.
 *
 * The input is each record's key and state bytes, in key order, each
 * preceded by its length (8 bytes BE), so no two different sets of records
 * hash the same input. BLAKE2b-256 (libsodium), like entry hashes.
 */
#ifndef QIAO_CRDT_DIGEST_H
#define QIAO_CRDT_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "crdt/entry.h"

typedef struct crdt_digest {
	crypto_generichash_state st;
	uint64_t count; /* records added */
} crdt_digest;

void crdt_digest_init(crdt_digest *d);
/* Adds one record; callers add records in increasing key order. */
void crdt_digest_add(crdt_digest *d, const void *key, size_t klen,
    const void *val, size_t vlen);
void crdt_digest_final(crdt_digest *d, uint8_t out[QIAO_HASH_LEN]);

#endif
