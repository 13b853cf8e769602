#include "crdt/digest.h"

static void
add_len(crdt_digest *d, size_t n)
{
	uint8_t b[8];
	uint64_t v = n;

	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
	crypto_generichash_update(&d->st, b, sizeof(b));
}

void
crdt_digest_init(crdt_digest *d)
{
	crypto_generichash_init(&d->st, NULL, 0, QIAO_HASH_LEN);
	d->count = 0;
}

void
crdt_digest_add(crdt_digest *d, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	add_len(d, klen);
	crypto_generichash_update(&d->st, key, klen);
	add_len(d, vlen);
	crypto_generichash_update(&d->st, val, vlen);
	d->count++;
}

void
crdt_digest_final(crdt_digest *d, uint8_t out[QIAO_HASH_LEN])
{
	crypto_generichash_final(&d->st, out, QIAO_HASH_LEN);
}
