/*
 * Fuzz target: the link handshake and frame decoders (node/link).
 *
 * libsodium's randomness is replaced by a generator reset for every input,
 * so one input always meets the same handshake. Byte 0 picks a frame and
 * a way to spoil it; the rest is the spoiler:
 *   0-3   frame k (HELLO, REPLY, PROVE, DONE) replaced by the input
 *   4-7   frame k XORed with the input (longer input: extra bytes appended)
 *   8-9   on an established link, the input opened as the peer's next data
 *         frame (by the initiator / the responder)
 *   10-11 the same, XORed onto a genuine data frame
 * Besides "no crash, no out-of-bounds read", it checks the property the
 * design rests on: a handshake completes on both sides, or a data frame
 * opens, only when the bytes are exactly the genuine ones.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "node/link.h"

static uint64_t rng;

static const char *
fz_name(void)
{
	return "fuzz";
}

static uint32_t
fz_random(void)
{
	rng = rng * UINT64_C(6364136223846793005) +
	    UINT64_C(1442695040888963407);
	return (uint32_t)(rng >> 32);
}

static void
fz_buf(void *p, size_t n)
{
	uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)fz_random();
}

static randombytes_implementation fz_impl = {
	.implementation_name = fz_name,
	.random = fz_random,
	.buf = fz_buf,
};

static uint8_t pk_i[32], sk_i[64], pk_r[32], sk_r[64];

static int
welcome(void *ctx, const uint8_t peer[QIAO_KEY_LEN], const char **why)
{
	(void)ctx;
	if (memcmp(peer, pk_i, 32) == 0 || memcmp(peer, pk_r, 32) == 0)
		return QIAO_OK;
	*why = "stranger";
	return QIAO_EUNKNOWN;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t seed[32];

	(void)argc;
	(void)argv;
	randombytes_set_implementation(&fz_impl);
	if (sodium_init() < 0)
		abort();
	memset(seed, 1, sizeof(seed));
	crypto_sign_seed_keypair(pk_i, sk_i, seed);
	memset(seed, 2, sizeof(seed));
	crypto_sign_seed_keypair(pk_r, sk_r, seed);
	return 0;
}

/* Builds frame k's replacement into out from the genuine frame. */
static size_t
spoil(uint8_t *out, size_t cap, const uint8_t *genuine, size_t glen,
    const uint8_t *in, size_t inlen, bool xor)
{
	size_t n;

	if (!xor) {
		n = inlen < cap ? inlen : cap;
		memcpy(out, in, n);
		return n;
	}
	n = glen > inlen ? glen : inlen;
	n = n < cap ? n : cap;
	for (size_t j = 0; j < n; j++)
		out[j] = (j < glen ? genuine[j] : 0) ^ (j < inlen ? in[j] : 0);
	return n;
}

static void
handshake(int k, const uint8_t *in, size_t inlen, bool xor)
{
	uint8_t buf[NODE_LINK_HS_MAX + 64], next[NODE_LINK_HS_MAX];
	node_link *i, *r;
	size_t n;
	bool genuine = true;
	int rc;

	if (node_link_new(&i, true, sk_i, welcome, NULL) != QIAO_OK ||
	    node_link_new(&r, false, sk_r, welcome, NULL) != QIAO_OK)
		abort();
	rc = node_link_step(i, NULL, 0, buf, sizeof(buf), &n, NULL);
	for (int s = 0; s < 4 && n > 0; s++) {
		node_link *to = s % 2 == 0 ? r : i;

		if (s == k) {
			uint8_t g[NODE_LINK_HS_MAX];
			size_t glen = n;

			memcpy(g, buf, n);
			n = spoil(buf, sizeof(buf), g, glen, in, inlen, xor);
			genuine = n == glen && memcmp(buf, g, n) == 0;
		}
		rc = node_link_step(to, buf, n, next, sizeof(next), &n, NULL);
		memcpy(buf, next, n);
		if (rc != QIAO_OK && n == 0)
			break;
	}
	if (node_link_established(i) && node_link_established(r) && !genuine)
		abort(); /* a spoiled handshake completed */
	if (genuine && !(node_link_established(i) && node_link_established(r)))
		abort(); /* the genuine one must */
	node_link_free(i);
	node_link_free(r);
}

static void
data(bool at_initiator, const uint8_t *in, size_t inlen, bool xor)
{
	static const uint8_t msg[] = "跟踪回访";
	uint8_t buf[NODE_LINK_HS_MAX], frame[sizeof(msg) + NODE_LINK_OVERHEAD];
	uint8_t spoilt[4096], plain[4096];
	node_link *i, *r, *me, *peer;
	size_t n, flen, slen, plen;
	int rc;

	if (node_link_new(&i, true, sk_i, welcome, NULL) != QIAO_OK ||
	    node_link_new(&r, false, sk_r, welcome, NULL) != QIAO_OK)
		abort();
	rc = node_link_step(i, NULL, 0, buf, sizeof(buf), &n, NULL);
	for (int s = 0; rc == QIAO_OK && n > 0; s++)
		rc = node_link_step(s % 2 == 0 ? r : i, buf, n, buf,
		    sizeof(buf), &n, NULL);
	if (!node_link_established(i) || !node_link_established(r))
		abort();
	me = at_initiator ? i : r;
	peer = at_initiator ? r : i;
	if (node_link_seal(peer, msg, sizeof(msg), frame, sizeof(frame),
		&flen) != QIAO_OK)
		abort();
	slen = spoil(spoilt, sizeof(spoilt), frame, flen, in, inlen, xor);
	rc = node_link_open(me, spoilt, slen, plain, sizeof(plain), &plen,
	    NULL);
	if (slen == flen && memcmp(spoilt, frame, flen) == 0) {
		if (rc != QIAO_OK || plen != sizeof(msg) ||
		    memcmp(plain, msg, plen) != 0)
			abort();
	} else if (rc == QIAO_OK) {
		abort(); /* a spoiled frame opened */
	}
	node_link_free(i);
	node_link_free(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	int mode;

	if (size == 0)
		return 0;
	mode = in[0] % 12;
	rng = 1;
	if (mode < 8)
		handshake(mode % 4, in + 1, size - 1, mode >= 4);
	else
		data(mode % 2 == 0, in + 1, size - 1, mode >= 10);
	return 0;
}
