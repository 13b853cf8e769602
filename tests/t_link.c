/* Link security: the handshake and sealed frames of node/link, against a
 * man in the middle, replay, reorder, reflection, tampering, unenrolled
 * and revoked peers, and garbage. A second, hand-rolled implementation of
 * docs/PROTOCOL.md ("spec_*") checks the document and plays the attacker
 * who splices two handshakes. */
#include "tests/check.h"

#include "crdt/body.h"
#include "crdt/cert.h"
#include "crdt/types.h"
#include "node/ingest.h"
#include "node/keys.h"
#include "node/link.h"
#include "node/node.h"
#include "node/store.h"
#include "node/trust.h"

struct party {
	uint8_t pk[QIAO_KEY_LEN], sk[QIAO_SK_LEN];
};

static void
party(struct party *p)
{
	crypto_sign_keypair(p->pk, p->sk);
}

/* A verify callback that welcomes the keys listed. */
struct allow {
	const uint8_t *keys[4];
	int n;
	int calls;
};

static int
allow_cb(void *ctx, const uint8_t peer[QIAO_KEY_LEN], const char **why)
{
	struct allow *a = ctx;

	a->calls++;
	for (int i = 0; i < a->n; i++)
		if (memcmp(a->keys[i], peer, QIAO_KEY_LEN) == 0)
			return QIAO_OK;
	*why = "not enrolled (test)";
	return QIAO_EUNKNOWN;
}

/* The outcome of a handshake run frame by frame. */
struct run {
	int rc_i, rc_r;    /* last result of each side */
	int first_rc;      /* the first failure, or QIAO_OK */
	int frames;        /* frames delivered */
	size_t len[4];     /* their sizes */
	uint8_t sent[4][NODE_LINK_HS_MAX];
};

/*
 * Shuttles frames between i and r. If tk >= 0, frame tk has byte tj
 * XORed with mask on the way; tj >= 1000 instead cuts it to tj - 1000
 * bytes, or pads it by one byte if that is longer. Frames after a failure
 * are still delivered (a responder's refusal).
 */
static void
shuttle(node_link *i, node_link *r, int tk, size_t tj, uint8_t mask,
    struct run *out)
{
	uint8_t buf[NODE_LINK_HS_MAX + 8], next[NODE_LINK_HS_MAX];
	size_t n, n2;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = node_link_step(i, NULL, 0, buf, sizeof(buf), &n, NULL);
	out->rc_i = rc;
	out->first_rc = rc;
	for (int k = 0; rc == QIAO_OK || n > 0; k++) {
		node_link *to = k % 2 == 0 ? r : i;

		if (n == 0 || k == 4)
			break;
		if (k == tk && tj < 1000) {
			buf[tj % n] ^= mask;
		} else if (k == tk) {
			size_t cut = tj - 1000;

			if (cut <= n)
				n = cut;
			else
				buf[n++] = 0; /* one byte too many */
		}
		memcpy(out->sent[k], buf, n < NODE_LINK_HS_MAX ? n
							: NODE_LINK_HS_MAX);
		out->len[k] = n;
		out->frames++;
		rc = node_link_step(to, buf, n, next, sizeof(next), &n2, NULL);
		if (to == i)
			out->rc_i = rc;
		else
			out->rc_r = rc;
		if (rc != QIAO_OK && out->first_rc == QIAO_OK)
			out->first_rc = rc;
		memcpy(buf, next, n2);
		n = n2;
	}
}

static bool
pair(struct party *a, struct party *b, node_link **i, node_link **r,
    struct allow *ai, struct allow *ar)
{
	ai->keys[ai->n++] = b->pk;
	ar->keys[ar->n++] = a->pk;
	return node_link_new(i, true, a->sk, allow_cb, ai) == QIAO_OK &&
	    node_link_new(r, false, b->sk, allow_cb, ar) == QIAO_OK;
}

static bool
roundtrip(node_link *from, node_link *to, const uint8_t *m, size_t len)
{
	uint8_t *f = malloc(len + NODE_LINK_OVERHEAD), *p = malloc(len + 1);
	size_t fl = 0, pl = 0;
	bool ok;

	ok = f && p &&
	    node_link_seal(from, m, len, f, len + NODE_LINK_OVERHEAD, &fl) ==
		QIAO_OK &&
	    fl == len + NODE_LINK_OVERHEAD &&
	    node_link_open(to, f, fl, p, len + 1, &pl, NULL) == QIAO_OK &&
	    pl == len && (len == 0 || memcmp(p, m, len) == 0);
	free(f);
	free(p);
	return ok;
}

static void
t_handshake_and_roundtrip(void)
{
	struct party a, b;
	struct allow ai = { 0 }, ar = { 0 };
	node_link *i = NULL, *r = NULL;
	struct run run;
	uint8_t *m;

	party(&a);
	party(&b);
	REQUIRE(pair(&a, &b, &i, &r, &ai, &ar));
	CHECK(node_link_peer(i) == NULL);
	shuttle(i, r, -1, 0, 0, &run);
	CHECK_RC(run.first_rc, QIAO_OK);
	CHECK(run.frames == 4);
	CHECK(run.len[0] == 34 && run.len[1] == 145 && run.len[2] == 113 &&
	    run.len[3] == 18);
	REQUIRE(node_link_established(i) && node_link_established(r));
	CHECK(memcmp(node_link_peer(i), b.pk, QIAO_KEY_LEN) == 0);
	CHECK(memcmp(node_link_peer(r), a.pk, QIAO_KEY_LEN) == 0);
	CHECK(ai.calls == 1 && ar.calls == 1);
	/* Neither identity travels in clear. */
	for (int k = 0; k < 4; k++)
		for (size_t j = 0; j + QIAO_KEY_LEN <= run.len[k]; j++)
			CHECK(memcmp(run.sent[k] + j, a.pk, QIAO_KEY_LEN) != 0 &&
			    memcmp(run.sent[k] + j, b.pk, QIAO_KEY_LEN) != 0);
	/* Messages both ways, of sizes from empty to the largest. */
	REQUIRE((m = malloc(NODE_LINK_PLAIN_MAX)) != NULL);
	randombytes_buf(m, NODE_LINK_PLAIN_MAX);
	CHECK(roundtrip(i, r, m, 0));
	CHECK(roundtrip(r, i, m, 1));
	for (int k = 0; k < 20; k++) {
		size_t len = check_rand_below(5000);

		CHECK(roundtrip(k % 3 ? i : r, k % 3 ? r : i, m, len));
	}
	CHECK(roundtrip(i, r, m, NODE_LINK_PLAIN_MAX));
	{
		uint8_t f[NODE_LINK_HS_MAX], g[NODE_LINK_HS_MAX];
		size_t fl;

		CHECK_RC(node_link_seal(i, m, NODE_LINK_PLAIN_MAX + 1, f,
			     sizeof(f), &fl),
		    QIAO_ETOOBIG);
		CHECK_RC(node_link_seal(i, m, sizeof(f), f, sizeof(f), &fl),
		    QIAO_EINVAL);
		/* The handshake is over. */
		memset(f, 0, sizeof(f));
		CHECK_RC(node_link_step(r, f, 10, g, sizeof(g), &fl, NULL),
		    QIAO_ESTATE);
		/* and nothing above broke the session */
		CHECK(roundtrip(r, i, m, 100));
	}
	free(m);
	node_link_free(i);
	node_link_free(r);
}

static void
t_before_established_nothing_moves(void)
{
	struct party a, b;
	struct allow ai = { 0 }, ar = { 0 };
	node_link *i, *r;
	uint8_t buf[NODE_LINK_HS_MAX], f[64];
	size_t n, fl;

	party(&a);
	party(&b);
	REQUIRE(pair(&a, &b, &i, &r, &ai, &ar));
	CHECK_RC(node_link_seal(i, (const uint8_t *)"x", 1, f, sizeof(f), &fl),
	    QIAO_ESTATE);
	REQUIRE_RC(node_link_step(i, NULL, 0, buf, sizeof(buf), &n, NULL),
	    QIAO_OK);
	REQUIRE_RC(node_link_step(r, buf, n, buf, sizeof(buf), &n, NULL),
	    QIAO_OK);
	CHECK_RC(node_link_seal(r, (const uint8_t *)"x", 1, f, sizeof(f), &fl),
	    QIAO_ESTATE);
	CHECK_RC(node_link_open(r, buf, n, f, sizeof(f), &fl, NULL),
	    QIAO_ESTATE);
	/* The responder does not speak first; the initiator does. */
	node_link_free(r);
	REQUIRE_RC(node_link_new(&r, false, b.sk, allow_cb, &ar), QIAO_OK);
	CHECK(node_link_step(r, NULL, 0, buf, sizeof(buf), &n, NULL) !=
	    QIAO_OK);
	CHECK(n == 0);
	node_link_free(i);
	node_link_free(r);
}

/* Every bit position of every handshake frame, flipped: no side ends
 * established, and something fails. */
static void
t_tampered_handshake_fails_closed(void)
{
	static const size_t lens[4] = { 34, 145, 113, 18 };
	struct party a, b;
	int flips = 0;

	party(&a);
	party(&b);
	for (int k = 0; k < 4; k++) {
		for (size_t j = 0; j < lens[k]; j++) {
			struct allow ai = { 0 }, ar = { 0 };
			node_link *i, *r;
			struct run run;
			uint8_t mask = (uint8_t)(1u << check_rand_below(8));

			REQUIRE(pair(&a, &b, &i, &r, &ai, &ar));
			shuttle(i, r, k, j, mask, &run);
			CHECK(run.first_rc != QIAO_OK);
			CHECK(!node_link_established(i));
			CHECK(!(node_link_established(r) &&
			    node_link_established(i)));
			/* Tampering before the initiator's proof: it never
			 * showed who it is. */
			if (k < 2)
				CHECK(run.frames <= 2);
			flips++;
			node_link_free(i);
			node_link_free(r);
		}
	}
	CHECK(flips == 310);
}

static void
t_truncated_and_garbage_frames(void)
{
	struct party a, b;

	party(&a);
	party(&b);
	/* Each frame cut short at every length, and padded by one. */
	for (int k = 0; k < 4; k++) {
		for (size_t cut = 0; cut <= 146; cut += k == 1 ? 1 : 3) {
			struct allow ai = { 0 }, ar = { 0 };
			node_link *i, *r;
			struct run run;

			REQUIRE(pair(&a, &b, &i, &r, &ai, &ar));
			/* tj beyond the frame: truncate (or keep) */
			shuttle(i, r, k, 1000 + cut, 0, &run);
			if (run.len[k] != (size_t[]) { 34, 145, 113, 18 }[k])
				CHECK(!node_link_established(i));
			node_link_free(i);
			node_link_free(r);
		}
	}
	/* Random bytes, of every handshake size, at every state. */
	for (int t = 0; t < 200; t++) {
		struct allow ai = { 0 }, ar = { 0 };
		node_link *i, *r;
		uint8_t buf[NODE_LINK_HS_MAX], nx[NODE_LINK_HS_MAX];
		uint8_t g[NODE_LINK_HS_MAX + 8];
		size_t n, glen = 1 + check_rand_below(sizeof(g) - 1);
		int at = (int)check_rand_below(4), rc = QIAO_OK;

		REQUIRE(pair(&a, &b, &i, &r, &ai, &ar));
		for (size_t j = 0; j < glen; j++)
			g[j] = (uint8_t)check_rand();
		if (check_rand_below(2))
			g[0] = (uint8_t)(1 + check_rand_below(4));
		REQUIRE_RC(node_link_step(i, NULL, 0, buf, sizeof(buf), &n,
			       NULL),
		    QIAO_OK);
		for (int k = 0; k < 4 && rc == QIAO_OK && n > 0; k++) {
			node_link *to = k % 2 == 0 ? r : i;

			rc = node_link_step(to, k == at ? g : buf,
			    k == at ? glen : n, nx, sizeof(nx), &n, NULL);
			memcpy(buf, nx, n);
			if (k == at) {
				CHECK(rc != QIAO_OK);
				/* and stays failed */
				CHECK_RC(node_link_step(to, g, 34, nx,
					     sizeof(nx), &n, NULL),
				    QIAO_ECLOSED);
			}
		}
		CHECK(!node_link_established(i));
		node_link_free(i);
		node_link_free(r);
	}
}

static bool
established_pair(struct party *a, struct party *b, node_link **i,
    node_link **r, struct allow *ai, struct allow *ar)
{
	struct run run;

	party(a);
	party(b);
	if (!pair(a, b, i, r, ai, ar))
		return false;
	shuttle(*i, *r, -1, 0, 0, &run);
	return node_link_established(*i) && node_link_established(*r);
}

static void
t_replay_reorder_reflect(void)
{
	struct party a, b;
	struct allow ai = { 0 }, ar = { 0 };
	node_link *i, *r;
	uint8_t f1[64], f2[64], p[64];
	size_t l1, l2, pl;

	/* Replay. */
	REQUIRE(established_pair(&a, &b, &i, &r, &ai, &ar));
	REQUIRE_RC(node_link_seal(i, (const uint8_t *)"one", 3, f1,
		       sizeof(f1), &l1),
	    QIAO_OK);
	REQUIRE_RC(node_link_seal(i, (const uint8_t *)"two", 3, f2,
		       sizeof(f2), &l2),
	    QIAO_OK);
	CHECK_RC(node_link_open(r, f1, l1, p, sizeof(p), &pl, NULL), QIAO_OK);
	CHECK_RC(node_link_open(r, f1, l1, p, sizeof(p), &pl, NULL),
	    QIAO_ECRYPTO);
	/* ...and the link is closed for good, even to the next frame. */
	CHECK_RC(node_link_open(r, f2, l2, p, sizeof(p), &pl, NULL),
	    QIAO_ECLOSED);
	CHECK_RC(node_link_seal(r, p, 1, f1, sizeof(f1), &l1), QIAO_ECLOSED);
	node_link_free(i);
	node_link_free(r);

	/* Reorder. */
	memset(&ai, 0, sizeof(ai));
	memset(&ar, 0, sizeof(ar));
	REQUIRE(established_pair(&a, &b, &i, &r, &ai, &ar));
	REQUIRE_RC(node_link_seal(i, (const uint8_t *)"one", 3, f1,
		       sizeof(f1), &l1),
	    QIAO_OK);
	REQUIRE_RC(node_link_seal(i, (const uint8_t *)"two", 3, f2,
		       sizeof(f2), &l2),
	    QIAO_OK);
	CHECK_RC(node_link_open(r, f2, l2, p, sizeof(p), &pl, NULL),
	    QIAO_ECRYPTO);
	node_link_free(i);
	node_link_free(r);

	/* Reflection: a frame sent back to its sender, at the very counter
	 * the sender expects next from its peer (the responder's DONE was
	 * its frame 0, so the initiator's frame 1 lines up). */
	memset(&ai, 0, sizeof(ai));
	memset(&ar, 0, sizeof(ar));
	REQUIRE(established_pair(&a, &b, &i, &r, &ai, &ar));
	REQUIRE_RC(node_link_seal(i, (const uint8_t *)"one", 3, f1,
		       sizeof(f1), &l1),
	    QIAO_OK);
	REQUIRE_RC(node_link_seal(i, (const uint8_t *)"two", 3, f2,
		       sizeof(f2), &l2),
	    QIAO_OK);
	CHECK_RC(node_link_open(r, f1, l1, p, sizeof(p), &pl, NULL), QIAO_OK);
	CHECK_RC(node_link_open(i, f2, l2, p, sizeof(p), &pl, NULL),
	    QIAO_ECRYPTO);
	node_link_free(i);
	node_link_free(r);
	/* The responder's first data frame is its frame 1; it expects the
	 * initiator's frame 1 after one opened. */
	memset(&ai, 0, sizeof(ai));
	memset(&ar, 0, sizeof(ar));
	REQUIRE(established_pair(&a, &b, &i, &r, &ai, &ar));
	REQUIRE_RC(node_link_seal(i, (const uint8_t *)"one", 3, f1,
		       sizeof(f1), &l1),
	    QIAO_OK);
	CHECK_RC(node_link_open(r, f1, l1, p, sizeof(p), &pl, NULL), QIAO_OK);
	REQUIRE_RC(node_link_seal(r, (const uint8_t *)"two", 3, f2,
		       sizeof(f2), &l2),
	    QIAO_OK);
	CHECK_RC(node_link_open(r, f2, l2, p, sizeof(p), &pl, NULL),
	    QIAO_ECRYPTO);
	node_link_free(i);
	node_link_free(r);

	/* A frame of one session does not open in another of the same two
	 * keys. */
	{
		node_link *i2, *r2;
		struct run run;

		memset(&ai, 0, sizeof(ai));
		memset(&ar, 0, sizeof(ar));
		REQUIRE(established_pair(&a, &b, &i, &r, &ai, &ar));
		REQUIRE(pair(&a, &b, &i2, &r2, &ai, &ar));
		shuttle(i2, r2, -1, 0, 0, &run);
		REQUIRE(node_link_established(r2));
		REQUIRE_RC(node_link_seal(i, (const uint8_t *)"one", 3, f1,
			       sizeof(f1), &l1),
		    QIAO_OK);
		CHECK_RC(node_link_open(r2, f1, l1, p, sizeof(p), &pl, NULL),
		    QIAO_ECRYPTO);
		node_link_free(i2);
		node_link_free(r2);
		node_link_free(i);
		node_link_free(r);
	}
}

static void
t_tampered_data_fails_closed(void)
{
	struct party a, b;
	uint8_t m[40], f[64], p[64];
	size_t fl, pl;

	randombytes_buf(m, sizeof(m));
	for (size_t j = 0; j < sizeof(m) + NODE_LINK_OVERHEAD; j++) {
		struct allow ai = { 0 }, ar = { 0 };
		node_link *i, *r;

		REQUIRE(established_pair(&a, &b, &i, &r, &ai, &ar));
		REQUIRE_RC(node_link_seal(i, m, sizeof(m), f, sizeof(f), &fl),
		    QIAO_OK);
		f[j] ^= (uint8_t)(1u << check_rand_below(8));
		CHECK(node_link_open(r, f, fl, p, sizeof(p), &pl, NULL) !=
		    QIAO_OK);
		CHECK_RC(node_link_open(r, f, fl, p, sizeof(p), &pl, NULL),
		    QIAO_ECLOSED);
		node_link_free(i);
		node_link_free(r);
	}
	/* Truncated and oversized. */
	{
		struct allow ai = { 0 }, ar = { 0 };
		node_link *i, *r;

		REQUIRE(established_pair(&a, &b, &i, &r, &ai, &ar));
		REQUIRE_RC(node_link_seal(i, m, sizeof(m), f, sizeof(f), &fl),
		    QIAO_OK);
		CHECK_RC(node_link_open(r, f, NODE_LINK_OVERHEAD - 1, p,
			     sizeof(p), &pl, NULL),
		    QIAO_EMALFORMED);
		node_link_free(i);
		node_link_free(r);
		memset(&ai, 0, sizeof(ai));
		memset(&ar, 0, sizeof(ar));
		REQUIRE(established_pair(&a, &b, &i, &r, &ai, &ar));
		CHECK_RC(node_link_open(r, f, NODE_LINK_FRAME_MAX + 1, p,
			     sizeof(p), &pl, NULL),
		    QIAO_EMALFORMED);
		node_link_free(i);
		node_link_free(r);
	}
}

static void
t_unwelcome_peers(void)
{
	struct party a, b;
	struct allow ai = { 0 }, ar = { 0 };
	node_link *i, *r;
	struct run run;
	uint8_t f[64];
	size_t fl;

	/* The responder refuses the initiator: a sealed "refused", nothing
	 * else; neither side may move data. */
	party(&a);
	party(&b);
	ai.keys[ai.n++] = b.pk;
	REQUIRE_RC(node_link_new(&i, true, a.sk, allow_cb, &ai), QIAO_OK);
	REQUIRE_RC(node_link_new(&r, false, b.sk, allow_cb, &ar), QIAO_OK);
	shuttle(i, r, -1, 0, 0, &run);
	CHECK_RC(run.rc_r, QIAO_EUNAUTH);
	CHECK_RC(run.rc_i, QIAO_EUNAUTH);
	CHECK(run.frames == 4 && run.len[3] == 18);
	CHECK(!node_link_established(i) && !node_link_established(r));
	CHECK(node_link_peer(i) == NULL && node_link_peer(r) == NULL);
	CHECK_RC(node_link_seal(i, f, 1, f + 8, 40, &fl), QIAO_ECLOSED);
	CHECK_RC(node_link_seal(r, f, 1, f + 8, 40, &fl), QIAO_ECLOSED);
	node_link_free(i);
	node_link_free(r);

	/* The initiator refuses the responder: it stops after the reply and
	 * never shows its own identity. */
	memset(&ai, 0, sizeof(ai));
	memset(&ar, 0, sizeof(ar));
	ar.keys[ar.n++] = a.pk;
	REQUIRE_RC(node_link_new(&i, true, a.sk, allow_cb, &ai), QIAO_OK);
	REQUIRE_RC(node_link_new(&r, false, b.sk, allow_cb, &ar), QIAO_OK);
	shuttle(i, r, -1, 0, 0, &run);
	CHECK_RC(run.rc_i, QIAO_EUNAUTH);
	CHECK(run.frames == 2);
	CHECK(ar.calls == 0);
	CHECK(!node_link_established(i) && !node_link_established(r));
	node_link_free(i);
	node_link_free(r);

	/* A peer with this node's own key is nobody's peer. */
	memset(&ai, 0, sizeof(ai));
	memset(&ar, 0, sizeof(ar));
	ai.keys[ai.n++] = a.pk;
	ar.keys[ar.n++] = a.pk;
	REQUIRE_RC(node_link_new(&i, true, a.sk, allow_cb, &ai), QIAO_OK);
	REQUIRE_RC(node_link_new(&r, false, a.sk, allow_cb, &ar), QIAO_OK);
	shuttle(i, r, -1, 0, 0, &run);
	CHECK_RC(run.rc_i, QIAO_EUNAUTH);
	CHECK(!node_link_established(i));
	node_link_free(i);
	node_link_free(r);
}

/* --- The specification, written again from docs/PROTOCOL.md. --- */

struct spec {
	struct party id;
	uint8_t epk[32], esk[32];
	uint8_t kir[32], kri[32];
	uint8_t h[32];
	uint8_t tx[32], rx[32];
	uint64_t txn, rxn;
};

static void
spec_hash(uint8_t h[32], const void *a, size_t an, const void *b, size_t bn)
{
	crypto_generichash_state s;

	crypto_generichash_init(&s, NULL, 0, 32);
	crypto_generichash_update(&s, h, 32);
	crypto_generichash_update(&s, a, an);
	crypto_generichash_update(&s, b, bn);
	crypto_generichash_final(&s, h, 32);
}

static void
spec_kdf(uint8_t out[32], const uint8_t k[32], const char *label,
    const uint8_t h[32])
{
	uint8_t m[4 + 32];
	size_t n = strlen(label);

	memcpy(m, label, n);
	memcpy(m + n, h, 32);
	crypto_generichash(out, 32, m, n + 32, k, 32);
}

static void
spec_nonce(uint8_t n[12], uint64_t c)
{
	memset(n, 0, 12);
	for (int i = 0; i < 8; i++)
		n[i] = (uint8_t)(c >> (8 * i));
}

static void
spec_box(uint8_t out[112], const uint8_t k[32], const uint8_t h[32],
    const uint8_t id[32], const uint8_t sig[64])
{
	uint8_t p[96], n[12];

	memcpy(p, id, 32);
	memcpy(p + 32, sig, 64);
	spec_nonce(n, 0);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, p, 96, h, 32,
	    NULL, n, k);
}

static bool
spec_unbox(uint8_t p[96], const uint8_t k[32], const uint8_t h[32],
    const uint8_t box[112])
{
	uint8_t n[12];

	spec_nonce(n, 0);
	return crypto_aead_chacha20poly1305_ietf_decrypt(p, NULL, NULL, box,
		   112, h, 32, n, k) == 0;
}

static void
spec_sign(uint8_t sig[64], const struct party *p, const char *label,
    const uint8_t h[32])
{
	uint8_t m[22 + 64];

	memcpy(m, label, 22);
	memcpy(m + 22, h, 32);
	memcpy(m + 54, p->pk, 32);
	crypto_sign_detached(sig, NULL, m, sizeof(m), p->sk);
}

static void
spec_hello(struct spec *s, uint8_t out[34])
{
	crypto_generichash(s->h, 32, (const uint8_t *)"qiao link v1", 12,
	    NULL, 0);
	crypto_kx_keypair(s->epk, s->esk);
	out[0] = 0x01;
	out[1] = 1;
	memcpy(out + 2, s->epk, 32);
	spec_hash(s->h, out, 34, "", 0);
}

/* Reads a REPLY: the responder's identity and signature into idsig. */
static bool
spec_read_reply(struct spec *s, const uint8_t in[145], uint8_t idsig[96])
{
	uint8_t k1[32];

	if (crypto_kx_client_session_keys(s->kri, s->kir, s->epk, s->esk,
		in + 1) != 0)
		return false;
	spec_hash(s->h, "\x02", 1, in + 1, 32);
	spec_kdf(k1, s->kri, "hs", s->h);
	if (!spec_unbox(idsig, k1, s->h, in + 33))
		return false;
	spec_hash(s->h, idsig, 32, in + 33, 112);
	return true;
}

static void
spec_prove(struct spec *s, uint8_t out[113])
{
	uint8_t k2[32], sig[64];

	spec_kdf(k2, s->kir, "hs", s->h);
	spec_sign(sig, &s->id, "qiao link v1 initiator", s->h);
	out[0] = 0x03;
	spec_box(out + 1, k2, s->h, s->id.pk, sig);
	spec_hash(s->h, s->id.pk, 32, out + 1, 112);
	spec_kdf(s->tx, s->kir, "data", s->h);
	spec_kdf(s->rx, s->kri, "data", s->h);
}

static bool
spec_open(struct spec *s, const uint8_t *f, size_t fl, uint8_t *p)
{
	uint8_t n[12];

	spec_nonce(n, s->rxn++);
	return crypto_aead_chacha20poly1305_ietf_decrypt(p, NULL, NULL, f + 1,
		   fl - 1, f, 1, n, s->rx) == 0;
}

static size_t
spec_seal(struct spec *s, const uint8_t *m, size_t len, uint8_t *f)
{
	uint8_t n[12];

	spec_nonce(n, s->txn++);
	f[0] = 0x10;
	crypto_aead_chacha20poly1305_ietf_encrypt(f + 1, NULL, m, len, f, 1,
	    NULL, n, s->tx);
	return len + 17;
}

/* The document, implemented apart, talks to the code. */
static void
t_spec_conformance(void)
{
	struct spec s;
	struct party b;
	struct allow ar = { 0 };
	node_link *r;
	uint8_t buf[NODE_LINK_HS_MAX], idsig[96], f[64], p[64];
	size_t n, fl, pl;
	uint8_t m[22 + 64];

	memset(&s, 0, sizeof(s));
	party(&s.id);
	party(&b);
	ar.keys[ar.n++] = s.id.pk;
	REQUIRE_RC(node_link_new(&r, false, b.sk, allow_cb, &ar), QIAO_OK);
	spec_hello(&s, buf);
	REQUIRE_RC(node_link_step(r, buf, 34, buf, sizeof(buf), &n, NULL),
	    QIAO_OK);
	REQUIRE(n == 145 && buf[0] == 0x02);
	{
		uint8_t h2[32];

		/* The signature covers label | h2 | idR. */
		REQUIRE(crypto_kx_client_session_keys(s.kri, s.kir, s.epk,
			    s.esk, buf + 1) == 0);
		memcpy(h2, s.h, 32);
		spec_hash(h2, "\x02", 1, buf + 1, 32);
		REQUIRE(spec_read_reply(&s, buf, idsig));
		CHECK(memcmp(idsig, b.pk, 32) == 0);
		memcpy(m, "qiao link v1 responder", 22);
		memcpy(m + 22, h2, 32);
		memcpy(m + 54, b.pk, 32);
		CHECK(crypto_sign_verify_detached(idsig + 32, m, sizeof(m),
			  b.pk) == 0);
	}
	spec_prove(&s, buf);
	REQUIRE_RC(node_link_step(r, buf, 113, buf, sizeof(buf), &n, NULL),
	    QIAO_OK);
	REQUIRE(node_link_established(r) && n == 18 && buf[0] == 0x04);
	REQUIRE(spec_open(&s, buf, n, p));
	CHECK(p[0] == 0);
	fl = spec_seal(&s, (const uint8_t *)"ping", 4, f);
	REQUIRE_RC(node_link_open(r, f, fl, p, sizeof(p), &pl, NULL), QIAO_OK);
	CHECK(pl == 4 && memcmp(p, "ping", 4) == 0);
	REQUIRE_RC(node_link_seal(r, (const uint8_t *)"pong", 4, f, sizeof(f),
		       &fl),
	    QIAO_OK);
	CHECK(spec_open(&s, f, fl, p) && memcmp(p, "pong", 4) == 0);
	node_link_free(r);
}

/*
 * Men in the middle. M stands between I and R, who each welcome only the
 * other.
 */
static void
t_man_in_the_middle(void)
{
	struct party a, b, mk;
	struct allow ai = { 0 }, ar = { 0 }, am = { 0 };
	node_link *i, *r, *m;
	uint8_t hello_i[NODE_LINK_HS_MAX], buf[NODE_LINK_HS_MAX];
	size_t n, n2;

	party(&a);
	party(&b);
	party(&mk);

	/* 1. M answers with its own key (not enrolled at I). */
	ai.keys[ai.n++] = b.pk;
	am.keys[am.n++] = a.pk;
	REQUIRE_RC(node_link_new(&i, true, a.sk, allow_cb, &ai), QIAO_OK);
	REQUIRE_RC(node_link_new(&m, false, mk.sk, allow_cb, &am), QIAO_OK);
	REQUIRE_RC(node_link_step(i, NULL, 0, buf, sizeof(buf), &n, NULL),
	    QIAO_OK);
	REQUIRE_RC(node_link_step(m, buf, n, buf, sizeof(buf), &n, NULL),
	    QIAO_OK);
	CHECK_RC(node_link_step(i, buf, n, buf, sizeof(buf), &n2, NULL),
	    QIAO_EUNAUTH);
	CHECK(n2 == 0);
	node_link_free(i);
	node_link_free(m);

	/* 2. M swaps in its own ephemeral key, passing R's proof on. */
	memset(&ai, 0, sizeof(ai));
	REQUIRE(pair(&a, &b, &i, &r, &ai, &ar));
	REQUIRE_RC(node_link_step(i, NULL, 0, hello_i, sizeof(hello_i), &n,
		       NULL),
	    QIAO_OK);
	{
		struct spec ms;

		memset(&ms, 0, sizeof(ms));
		ms.id = mk;
		spec_hello(&ms, buf); /* M's own HELLO to R */
		REQUIRE_RC(node_link_step(r, buf, 34, buf, sizeof(buf), &n,
			       NULL),
		    QIAO_OK);
		CHECK_RC(node_link_step(i, buf, n, buf, sizeof(buf), &n2,
			     NULL),
		    QIAO_ECRYPTO);
		CHECK(n2 == 0);
	}
	node_link_free(i);
	node_link_free(r);

	/* 3. The splice: M runs a handshake with R as initiator, opens R's
	 * proof with its own session keys, and re-seals it to I under a
	 * session M shares with I. R's signature covers the wrong
	 * transcript, so I refuses. */
	memset(&ai, 0, sizeof(ai));
	memset(&ar, 0, sizeof(ar));
	REQUIRE(pair(&a, &b, &i, &r, &ai, &ar));
	REQUIRE_RC(node_link_step(i, NULL, 0, hello_i, sizeof(hello_i), &n,
		       NULL),
	    QIAO_OK);
	{
		struct spec to_r, to_i;
		uint8_t idsig[96], k1[32];

		memset(&to_r, 0, sizeof(to_r));
		to_r.id = mk;
		spec_hello(&to_r, buf);
		REQUIRE_RC(node_link_step(r, buf, 34, buf, sizeof(buf), &n,
			       NULL),
		    QIAO_OK);
		REQUIRE(spec_read_reply(&to_r, buf, idsig));
		REQUIRE(memcmp(idsig, b.pk, 32) == 0);
		/* Toward I, M is a responder with its own ephemeral key. */
		memset(&to_i, 0, sizeof(to_i));
		crypto_generichash(to_i.h, 32, (const uint8_t *)"qiao link v1",
		    12, NULL, 0);
		spec_hash(to_i.h, hello_i, 34, "", 0);
		crypto_kx_keypair(to_i.epk, to_i.esk);
		REQUIRE(crypto_kx_server_session_keys(to_i.kir, to_i.kri,
			    to_i.epk, to_i.esk, hello_i + 2) == 0);
		spec_hash(to_i.h, "\x02", 1, to_i.epk, 32);
		spec_kdf(k1, to_i.kri, "hs", to_i.h);
		buf[0] = 0x02;
		memcpy(buf + 1, to_i.epk, 32);
		spec_box(buf + 33, k1, to_i.h, idsig, idsig + 32);
		CHECK_RC(node_link_step(i, buf, 145, buf, sizeof(buf), &n2,
			     NULL),
		    QIAO_EBADSIG);
		CHECK(n2 == 0);
		CHECK(!node_link_established(i));
	}
	node_link_free(i);
	node_link_free(r);

	/* 4. The same on the other side: M relays I's proof, re-sealed, into
	 * its own handshake with R. */
	memset(&ai, 0, sizeof(ai));
	memset(&ar, 0, sizeof(ar));
	ai.keys[ai.n++] = mk.pk; /* I happens to welcome M */
	REQUIRE(pair(&a, &b, &i, &r, &ai, &ar));
	{
		struct spec to_r;
		uint8_t reply[NODE_LINK_HS_MAX], prove_i[NODE_LINK_HS_MAX];

		/* I <-> M: a real handshake in which M is the responder. */
		REQUIRE_RC(node_link_new(&m, false, mk.sk, allow_cb, &am),
		    QIAO_OK);
		am.n = 0;
		am.keys[am.n++] = a.pk;
		REQUIRE_RC(node_link_step(i, NULL, 0, buf, sizeof(buf), &n,
			       NULL),
		    QIAO_OK);
		REQUIRE_RC(node_link_step(m, buf, n, reply, sizeof(reply), &n,
			       NULL),
		    QIAO_OK);
		REQUIRE_RC(node_link_step(i, reply, n, prove_i,
			       sizeof(prove_i), &n, NULL),
		    QIAO_OK);
		/* M cannot open I's proof outside its link, so it passes the
		 * sealed proof on to R as it is. */
		memset(&to_r, 0, sizeof(to_r));
		to_r.id = mk;
		spec_hello(&to_r, buf);
		REQUIRE_RC(node_link_step(r, buf, 34, reply, sizeof(reply),
			       &n, NULL),
		    QIAO_OK);
		CHECK_RC(node_link_step(r, prove_i, 113, buf, sizeof(buf),
			     &n2, NULL),
		    QIAO_ECRYPTO);
		CHECK(!node_link_established(r));
		node_link_free(m);
	}
	node_link_free(i);
	node_link_free(r);
}

/* --- With real nodes: the trust callback. --- */

static node *nodes[8];
static int nnodes;

static void
close_nodes(void)
{
	while (nnodes > 0)
		node_close(nodes[--nnodes]);
}

static node *
mk_node(enum qiao_role role, const char *region, const uint8_t *root)
{
	const char *dir = check_tmpdir();
	node_opts o = { .create = true };
	node_keys *k;
	qiao_conf c;
	char err[256];
	node *n;

	if (dir == NULL || nnodes == 8)
		return NULL;
	conf_defaults(&c);
	c.role = role;
	snprintf(c.region, sizeof(c.region), "%s", region);
	if (root != NULL) {
		c.has_root = true;
		memcpy(c.root, root, QIAO_KEY_LEN);
	}
	c.durable = false;
	c.mapsize = UINT64_C(32) << 20;
	o.conf = &c;
	if (node_keys_create(&k, dir) != QIAO_OK)
		return NULL;
	node_keys_free(k);
	if (node_open(&n, dir, &o, err, sizeof(err)) != QIAO_OK)
		return NULL;
	nodes[nnodes++] = n;
	return n;
}

static int
cert(node *issuer, node *subj, const char *role, const char *region)
{
	crdt_cert c;
	uint8_t *body;
	size_t len;
	int rc;

	memset(&c, 0, sizeof(c));
	memcpy(c.subject, node_self(subj), QIAO_KEY_LEN);
	snprintf(c.role, sizeof(c.role), "%s", role);
	snprintf(c.region, sizeof(c.region), "%s", region);
	snprintf(c.name, sizeof(c.name), "%s", region);
	if ((rc = crdt_cert_encode(&c, &body, &len)) != QIAO_OK)
		return rc;
	rc = node_append(issuer, QIAO_T_ENROL, body, len, NULL, NULL);
	free(body);
	return rc;
}

/* Copies author's whole log from a to b. */
static bool
copy_log(node *a, node *b, const uint8_t *author)
{
	node_ingest_item it[16];
	node_txn *txn;
	node_head h;
	size_t k = 0;
	bool ok;

	if (node_store_txn_begin(node_get_store(a), false, &txn) != QIAO_OK)
		return false;
	ok = node_store_head_get(txn, author, &h) == QIAO_OK && h.seq <= 16;
	for (uint64_t s = 1; ok && s <= h.seq; s++, k++) {
		memset(&it[k], 0, sizeof(it[k]));
		ok = node_store_entry_get(txn, author, s, &it[k].e) ==
			QIAO_OK &&
		    node_store_body_get(txn, it[k].e.body_hash, &it[k].body,
			&it[k].body_len) == QIAO_OK;
	}
	ok = ok && node_ingest(b, it, k, NULL) == QIAO_OK;
	for (size_t j = 0; j < k; j++)
		ok = ok && it[j].rc == QIAO_OK;
	node_store_txn_abort(txn);
	return ok;
}

static int
link_nodes(node *a, node *b, int *rc_a, int *rc_b)
{
	node_keys *ka = NULL, *kb = NULL;
	node_link *i = NULL, *r = NULL;
	struct run run;

	if (node_keys_load(&ka, node_get_dir(a)) != QIAO_OK ||
	    node_keys_load(&kb, node_get_dir(b)) != QIAO_OK ||
	    node_link_new(&i, true, node_keys_secret(ka),
		node_trust_link_verify, a) != QIAO_OK ||
	    node_link_new(&r, false, node_keys_secret(kb),
		node_trust_link_verify, b) != QIAO_OK) {
		node_keys_free(ka);
		node_keys_free(kb);
		node_link_free(i);
		return QIAO_ENOMEM;
	}
	shuttle(i, r, -1, 0, 0, &run);
	*rc_a = run.rc_i;
	*rc_b = run.rc_r;
	node_link_free(i);
	node_link_free(r);
	node_keys_free(ka);
	node_keys_free(kb);
	return run.first_rc;
}

static void
t_enrolled_unenrolled_revoked_nodes(void)
{
	node *root, *dist, *town, *v1, *v2;
	int ra, rb;

	atexit(close_nodes);
	REQUIRE((root = mk_node(QIAO_ROLE_ROOT, "", NULL)));
	REQUIRE((dist = mk_node(QIAO_ROLE_DISTRICT, "500116",
		     node_self(root))));
	REQUIRE((town = mk_node(QIAO_ROLE_TOWN, "500116001",
		     node_self(root))));
	REQUIRE((v1 = mk_node(QIAO_ROLE_VILLAGE, "500116001001",
		     node_self(root))));
	REQUIRE((v2 = mk_node(QIAO_ROLE_VILLAGE, "500116001002",
		     node_self(root))));
	REQUIRE_RC(cert(root, dist, "district", "500116"), QIAO_OK);
	REQUIRE_RC(cert(root, town, "town", "500116001"), QIAO_OK);
	REQUIRE(copy_log(root, town, node_self(root)));
	REQUIRE_RC(cert(town, v2, "village", "500116001002"), QIAO_OK);
	REQUIRE(copy_log(root, dist, node_self(root)));
	REQUIRE(copy_log(town, dist, node_self(town)));

	/* Enrolled both ways. */
	CHECK_RC(link_nodes(town, dist, &ra, &rb), QIAO_OK);

	/* v1 holds the root's log, so it welcomes the district; the
	 * district holds no certificate of v1 and refuses it. */
	REQUIRE(copy_log(root, v1, node_self(root)));
	CHECK_RC(link_nodes(v1, dist, &ra, &rb), QIAO_EUNAUTH);
	CHECK_RC(rb, QIAO_EUNAUTH);
	CHECK_RC(ra, QIAO_EUNAUTH);

	/* v2 is enrolled: welcome, until the town revokes it. */
	REQUIRE(copy_log(root, v2, node_self(root)));
	CHECK_RC(link_nodes(v2, dist, &ra, &rb), QIAO_OK);
	{
		crdt_revoke rv;
		uint8_t *body;
		size_t len;

		memset(&rv, 0, sizeof(rv));
		memcpy(rv.subject, node_self(v2), QIAO_KEY_LEN);
		rv.after = 0;
		REQUIRE_RC(crdt_revoke_encode(&rv, &body, &len), QIAO_OK);
		REQUIRE_RC(node_append(town, QIAO_T_REVOKE, body, len, NULL,
			       NULL),
		    QIAO_OK);
		free(body);
	}
	{
		/* Only the revocation is new at the district. */
		node_txn *txn;
		node_ingest_item it;
		node_head h;

		REQUIRE_RC(node_store_txn_begin(node_get_store(town), false,
			       &txn),
		    QIAO_OK);
		REQUIRE_RC(node_store_head_get(txn, node_self(town), &h),
		    QIAO_OK);
		memset(&it, 0, sizeof(it));
		REQUIRE_RC(node_store_entry_get(txn, node_self(town), h.seq,
			       &it.e),
		    QIAO_OK);
		REQUIRE_RC(node_store_body_get(txn, it.e.body_hash, &it.body,
			       &it.body_len),
		    QIAO_OK);
		REQUIRE_RC(node_ingest(dist, &it, 1, NULL), QIAO_OK);
		node_store_txn_abort(txn);
		CHECK_RC(it.rc, QIAO_OK);
	}
	CHECK_RC(link_nodes(v2, dist, &ra, &rb), QIAO_EUNAUTH);
	CHECK_RC(rb, QIAO_EUNAUTH);

	/* A fresh district store without the root's log knows nobody: as
	 * initiator it refuses the town at the reply, showing nothing. */
	{
		node *d2 = mk_node(QIAO_ROLE_DISTRICT, "500116",
		    node_self(root));

		REQUIRE(d2 != NULL);
		CHECK_RC(link_nodes(d2, town, &ra, &rb), QIAO_EUNAUTH);
		CHECK_RC(ra, QIAO_EUNAUTH);
		CHECK_RC(rb, QIAO_OK); /* the town never saw a proof */
	}
}

CHECK_MAIN(T(t_handshake_and_roundtrip),
    T(t_before_established_nothing_moves),
    T(t_tampered_handshake_fails_closed), T(t_truncated_and_garbage_frames),
    T(t_replay_reorder_reflect), T(t_tampered_data_fails_closed),
    T(t_unwelcome_peers), T(t_spec_conformance), T(t_man_in_the_middle),
    T(t_enrolled_unenrolled_revoked_nodes))
