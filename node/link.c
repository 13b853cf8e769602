#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "node/link.h"

/*
 * Frames, v1 (docs/PROTOCOL.md, "Link security"). I is the initiator
 * (the node that dialled), R the responder. box(k, ad, p) is
 * ChaCha20-Poly1305-IETF under key k, nonce 0, additional data ad.
 *
 *   HELLO  I->R  01 | version(1) | eI(32)                          34
 *   REPLY  R->I  02 | eR(32) | box(K1, h2, idR(32) | sigR(64))    145
 *   PROVE  I->R  03 | box(K2, h3, idI(32) | sigI(64))             113
 *   DONE   R->I  04 | seal(status(1))                               18
 *   DATA   both  10 | seal(plaintext)                         17 + n
 *
 * Transcript: h0 = H("qiao link v1"), h1 = H(h0 | HELLO),
 * h2 = H(h1 | 02 | eR), h3 = H(h2 | idR | boxR), h4 = H(h3 | idI | boxI),
 * H = BLAKE2b-256. From crypto_kx over (eI, eR): kIR (I's tx) and kRI.
 *   K1 = Hk(kRI, "hs" | h2)        K2 = Hk(kIR, "hs" | h3)
 *   DIR = Hk(kIR, "data" | h4)     DRI = Hk(kRI, "data" | h4)
 * (Hk: keyed BLAKE2b-256.) sigR = Sign(R, "qiao link v1 responder" | h2 |
 * idR), sigI = Sign(I, "qiao link v1 initiator" | h3 | idI). seal() is
 * ChaCha20-Poly1305-IETF under the sender's direction key (DIR or DRI),
 * the frame's type byte as additional data, and a nonce that counts the
 * sender's frames from 0 (DONE is R's frame 0): never sent, so a frame
 * opens only once, in its place, in its direction.
 */

#define F_HELLO 0x01
#define F_REPLY 0x02
#define F_PROVE 0x03
#define F_DONE 0x04
#define F_DATA 0x10

#define KEY 32
#define TAG crypto_aead_chacha20poly1305_ietf_ABYTES
#define NONCE crypto_aead_chacha20poly1305_ietf_NPUBBYTES
#define ID_PLAIN (QIAO_KEY_LEN + QIAO_SIG_LEN)
#define ID_BOX (ID_PLAIN + TAG)
#define HELLO_LEN (2 + KEY)
#define REPLY_LEN (1 + KEY + ID_BOX)
#define PROVE_LEN (1 + ID_BOX)
#define DONE_LEN (1 + 1 + TAG)

#define DONE_OK 0
#define DONE_REFUSED 1

static const char PROLOGUE[] = "qiao link v1";
static const char SIG_R[] = "qiao link v1 responder";
static const char SIG_I[] = "qiao link v1 initiator";
#define SIG_LABEL_LEN (sizeof(SIG_R) - 1)

_Static_assert(sizeof(SIG_R) == sizeof(SIG_I), "labels of one length");
_Static_assert(REPLY_LEN == NODE_LINK_HS_MAX, "the largest frame");
_Static_assert(1 + TAG == NODE_LINK_OVERHEAD, "type byte and tag");
_Static_assert(KEY == crypto_kx_SESSIONKEYBYTES, "kx keys");
_Static_assert(KEY == crypto_aead_chacha20poly1305_ietf_KEYBYTES, "keys");

enum state {
	ST_I_START,
	ST_I_REPLY, /* sent HELLO, waiting for REPLY */
	ST_I_DONE,  /* sent PROVE, waiting for DONE */
	ST_R_HELLO,
	ST_R_PROVE, /* sent REPLY, waiting for PROVE */
	ST_OPEN,
	ST_FAILED,
};

/* Lives in sodium_malloc'd memory: guarded, and zeroed by sodium_free. */
struct node_link {
	enum state st;
	bool initiator;
	int fail_rc;
	node_link_verify_fn verify;
	void *ctx;
	uint8_t sk[QIAO_SK_LEN]; /* long-term; wiped after our signature */
	uint8_t self[QIAO_KEY_LEN];
	uint8_t peer[QIAO_KEY_LEN];
	uint8_t e_pk[KEY], e_sk[KEY]; /* ephemeral */
	uint8_t k_ir[KEY], k_ri[KEY]; /* crypto_kx session keys */
	uint8_t h[KEY];               /* transcript hash */
	uint8_t tx[KEY], rx[KEY];     /* direction keys */
	uint64_t tx_n, rx_n;          /* frames sealed, frames opened */
};

int
node_link_new(node_link **out, bool initiator, const uint8_t sk[QIAO_SK_LEN],
    node_link_verify_fn verify, void *ctx)
{
	node_link *l;

	if (sk == NULL || verify == NULL)
		return QIAO_EINVAL;
	if (sodium_init() < 0 || (l = sodium_malloc(sizeof(*l))) == NULL)
		return QIAO_ENOMEM;
	memset(l, 0, sizeof(*l));
	l->initiator = initiator;
	l->st = initiator ? ST_I_START : ST_R_HELLO;
	l->verify = verify;
	l->ctx = ctx;
	memcpy(l->sk, sk, QIAO_SK_LEN);
	crypto_sign_ed25519_sk_to_pk(l->self, l->sk);
	crypto_generichash(l->h, KEY, (const uint8_t *)PROLOGUE,
	    sizeof(PROLOGUE) - 1, NULL, 0);
	*out = l;
	return QIAO_OK;
}

void
node_link_free(node_link *l)
{
	if (l != NULL)
		sodium_free(l);
}

bool
node_link_established(const node_link *l)
{
	return l->st == ST_OPEN;
}

const uint8_t *
node_link_peer(const node_link *l)
{
	return l->st == ST_OPEN ? l->peer : NULL;
}

/* Everything the handshake needed and the session does not. */
static void
wipe_handshake(node_link *l)
{
	sodium_memzero(l->sk, sizeof(l->sk));
	sodium_memzero(l->e_sk, sizeof(l->e_sk));
	sodium_memzero(l->k_ir, sizeof(l->k_ir));
	sodium_memzero(l->k_ri, sizeof(l->k_ri));
}

static int
fail(node_link *l, int rc, const char **why, const char *reason)
{
	wipe_handshake(l);
	sodium_memzero(l->tx, sizeof(l->tx));
	sodium_memzero(l->rx, sizeof(l->rx));
	l->st = ST_FAILED;
	l->fail_rc = rc;
	if (why != NULL)
		*why = reason;
	return rc;
}

/* h = H(h | a | b) */
static void
mix(uint8_t h[KEY], const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	crypto_generichash_state s;

	crypto_generichash_init(&s, NULL, 0, KEY);
	crypto_generichash_update(&s, h, KEY);
	crypto_generichash_update(&s, a, an);
	if (bn > 0)
		crypto_generichash_update(&s, b, bn);
	crypto_generichash_final(&s, h, KEY);
	sodium_memzero(&s, sizeof(s));
}

/* out = Hk(key, label | h) */
static void
kdf(uint8_t out[KEY], const uint8_t key[KEY], const char *label,
    const uint8_t h[KEY])
{
	crypto_generichash_state s;

	crypto_generichash_init(&s, key, KEY, KEY);
	crypto_generichash_update(&s, (const uint8_t *)label, strlen(label));
	crypto_generichash_update(&s, h, KEY);
	crypto_generichash_final(&s, out, KEY);
	sodium_memzero(&s, sizeof(s));
}

static void
nonce_of(uint8_t n[NONCE], uint64_t counter)
{
	memset(n, 0, NONCE);
	for (int i = 0; i < 8; i++)
		n[i] = (uint8_t)(counter >> (8 * i));
}

/* sign(label | h | id) with our key. */
static void
sign_transcript(const node_link *l, const char *label, uint8_t sig[64])
{
	uint8_t m[SIG_LABEL_LEN + KEY + QIAO_KEY_LEN];

	memcpy(m, label, SIG_LABEL_LEN);
	memcpy(m + SIG_LABEL_LEN, l->h, KEY);
	memcpy(m + SIG_LABEL_LEN + KEY, l->self, QIAO_KEY_LEN);
	crypto_sign_detached(sig, NULL, m, sizeof(m), l->sk);
}

static bool
verify_transcript(const node_link *l, const char *label,
    const uint8_t *id, const uint8_t *sig)
{
	uint8_t m[SIG_LABEL_LEN + KEY + QIAO_KEY_LEN];

	memcpy(m, label, SIG_LABEL_LEN);
	memcpy(m + SIG_LABEL_LEN, l->h, KEY);
	memcpy(m + SIG_LABEL_LEN + KEY, id, QIAO_KEY_LEN);
	return crypto_sign_verify_detached(sig, m, sizeof(m), id) == 0;
}

/* Seals our identity and signature: box(k, h, self | sig) to out. */
static void
box_identity(const node_link *l, const uint8_t k[KEY], const char *label,
    uint8_t out[ID_BOX])
{
	uint8_t plain[ID_PLAIN], n[NONCE];

	memcpy(plain, l->self, QIAO_KEY_LEN);
	sign_transcript(l, label, plain + QIAO_KEY_LEN);
	nonce_of(n, 0);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, plain,
	    sizeof(plain), l->h, KEY, NULL, n, k);
}

/* Opens the peer's box and checks its signature; the peer's key goes
 * to l->peer. QIAO_ECRYPTO, QIAO_EBADSIG, QIAO_EUNAUTH (our own key). */
static int
open_identity(node_link *l, const uint8_t k[KEY], const char *label,
    const uint8_t box[ID_BOX], const char **reason)
{
	uint8_t plain[ID_PLAIN], n[NONCE];

	nonce_of(n, 0);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(plain, NULL, NULL, box,
		ID_BOX, l->h, KEY, n, k) != 0) {
		*reason = "the peer's proof does not open (altered, or a man "
			  "in the middle)";
		return QIAO_ECRYPTO;
	}
	if (sodium_memcmp(plain, l->self, QIAO_KEY_LEN) == 0) {
		*reason = "the peer presents this node's own key";
		return QIAO_EUNAUTH;
	}
	if (!verify_transcript(l, label, plain, plain + QIAO_KEY_LEN)) {
		*reason = "the peer's signature over the handshake fails";
		return QIAO_EBADSIG;
	}
	memcpy(l->peer, plain, QIAO_KEY_LEN);
	return QIAO_OK;
}

/* Direction keys from the final transcript; the handshake keys go. */
static void
derive_session(node_link *l)
{
	kdf(l->initiator ? l->tx : l->rx, l->k_ir, "data", l->h);
	kdf(l->initiator ? l->rx : l->tx, l->k_ri, "data", l->h);
	wipe_handshake(l);
}

static int
seal_frame(node_link *l, uint8_t type, const uint8_t *plain, size_t len,
    uint8_t *frame)
{
	uint8_t n[NONCE];

	if (l->tx_n == UINT64_MAX)
		return QIAO_ECLOSED;
	nonce_of(n, l->tx_n++);
	frame[0] = type;
	crypto_aead_chacha20poly1305_ietf_encrypt(frame + 1, NULL, plain, len,
	    &type, 1, NULL, n, l->tx);
	return QIAO_OK;
}

static bool
open_frame(node_link *l, const uint8_t *frame, size_t flen, uint8_t *plain)
{
	uint8_t n[NONCE], type = frame[0];

	if (l->rx_n == UINT64_MAX)
		return false;
	nonce_of(n, l->rx_n);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(plain, NULL, NULL,
		frame + 1, flen - 1, &type, 1, n, l->rx) != 0)
		return false;
	l->rx_n++;
	return true;
}

/* Checks a handshake frame's type and size. */
static int
expect(node_link *l, const uint8_t *in, size_t inlen, uint8_t type,
    size_t len, const char **why)
{
	if (in == NULL || inlen == 0)
		return fail(l, QIAO_EMALFORMED, why, "an empty frame");
	if (in[0] != type)
		return fail(l, QIAO_EPROTO, why,
		    "a frame of a type not expected in the handshake");
	if (inlen != len)
		return fail(l, QIAO_EMALFORMED, why,
		    "a handshake frame of the wrong size");
	return QIAO_OK;
}

static int
i_start(node_link *l, const uint8_t *in, uint8_t *out, size_t *outlen,
    const char **why)
{
	if (in != NULL)
		return fail(l, QIAO_EPROTO, why,
		    "the initiator speaks first");
	crypto_kx_keypair(l->e_pk, l->e_sk);
	out[0] = F_HELLO;
	out[1] = NODE_LINK_VERSION;
	memcpy(out + 2, l->e_pk, KEY);
	mix(l->h, out, HELLO_LEN, NULL, 0);
	*outlen = HELLO_LEN;
	l->st = ST_I_REPLY;
	return QIAO_OK;
}

static int
r_hello(node_link *l, const uint8_t *in, size_t inlen, uint8_t *out,
    size_t *outlen, const char **why)
{
	uint8_t k1[KEY], type = F_REPLY;
	int rc;

	if ((rc = expect(l, in, inlen, F_HELLO, HELLO_LEN, why)) != QIAO_OK)
		return rc;
	if (in[1] != NODE_LINK_VERSION)
		return fail(l, QIAO_EMALFORMED, why,
		    "the peer speaks another link version");
	mix(l->h, in, HELLO_LEN, NULL, 0);
	crypto_kx_keypair(l->e_pk, l->e_sk);
	if (crypto_kx_server_session_keys(l->k_ir, l->k_ri, l->e_pk, l->e_sk,
		in + 2) != 0)
		return fail(l, QIAO_ECRYPTO, why,
		    "the peer's ephemeral key is unusable");
	mix(l->h, &type, 1, l->e_pk, KEY); /* h2 */
	kdf(k1, l->k_ri, "hs", l->h);
	out[0] = F_REPLY;
	memcpy(out + 1, l->e_pk, KEY);
	box_identity(l, k1, SIG_R, out + 1 + KEY);
	sodium_memzero(k1, sizeof(k1));
	mix(l->h, l->self, QIAO_KEY_LEN, out + 1 + KEY, ID_BOX); /* h3 */
	*outlen = REPLY_LEN;
	l->st = ST_R_PROVE;
	return QIAO_OK;
}

static int
i_reply(node_link *l, const uint8_t *in, size_t inlen, uint8_t *out,
    size_t *outlen, const char **why)
{
	uint8_t k1[KEY], k2[KEY], type = F_REPLY;
	const char *reason = NULL;
	int rc;

	if ((rc = expect(l, in, inlen, F_REPLY, REPLY_LEN, why)) != QIAO_OK)
		return rc;
	if (crypto_kx_client_session_keys(l->k_ri, l->k_ir, l->e_pk, l->e_sk,
		in + 1) != 0)
		return fail(l, QIAO_ECRYPTO, why,
		    "the peer's ephemeral key is unusable");
	mix(l->h, &type, 1, in + 1, KEY); /* h2 */
	kdf(k1, l->k_ri, "hs", l->h);
	rc = open_identity(l, k1, SIG_R, in + 1 + KEY, &reason);
	sodium_memzero(k1, sizeof(k1));
	if (rc != QIAO_OK)
		return fail(l, rc, why, reason);
	/* The responder is proven; is it welcome? If not, we stop here,
	 * having shown nothing of ours but an ephemeral key. */
	if (l->verify(l->ctx, l->peer, &reason) != QIAO_OK)
		return fail(l, QIAO_EUNAUTH, why,
		    reason ? reason : "the peer is not welcome here");
	mix(l->h, l->peer, QIAO_KEY_LEN, in + 1 + KEY, ID_BOX); /* h3 */
	kdf(k2, l->k_ir, "hs", l->h);
	out[0] = F_PROVE;
	box_identity(l, k2, SIG_I, out + 1);
	sodium_memzero(k2, sizeof(k2));
	mix(l->h, l->self, QIAO_KEY_LEN, out + 1, ID_BOX); /* h4 */
	derive_session(l);
	*outlen = PROVE_LEN;
	l->st = ST_I_DONE;
	return QIAO_OK;
}

static int
r_prove(node_link *l, const uint8_t *in, size_t inlen, uint8_t *out,
    size_t *outlen, const char **why)
{
	uint8_t k2[KEY], status;
	const char *reason = NULL;
	int rc, vrc;

	if ((rc = expect(l, in, inlen, F_PROVE, PROVE_LEN, why)) != QIAO_OK)
		return rc;
	kdf(k2, l->k_ir, "hs", l->h);
	rc = open_identity(l, k2, SIG_I, in + 1, &reason);
	sodium_memzero(k2, sizeof(k2));
	if (rc != QIAO_OK)
		return fail(l, rc, why, reason);
	mix(l->h, l->peer, QIAO_KEY_LEN, in + 1, ID_BOX); /* h4 */
	derive_session(l);
	/* Proven; the refusal, if any, is sealed and says no more than
	 * "refused": the peer learns nothing of why, nor anything else. */
	vrc = l->verify(l->ctx, l->peer, &reason);
	status = vrc == QIAO_OK ? DONE_OK : DONE_REFUSED;
	if ((rc = seal_frame(l, F_DONE, &status, 1, out)) != QIAO_OK)
		return fail(l, rc, why, "the link is worn out");
	*outlen = DONE_LEN;
	if (vrc != QIAO_OK)
		return fail(l, QIAO_EUNAUTH, why,
		    reason ? reason : "the peer is not welcome here");
	l->st = ST_OPEN;
	return QIAO_OK;
}

static int
i_done(node_link *l, const uint8_t *in, size_t inlen, const char **why)
{
	uint8_t status;
	int rc;

	if ((rc = expect(l, in, inlen, F_DONE, DONE_LEN, why)) != QIAO_OK)
		return rc;
	if (!open_frame(l, in, inlen, &status))
		return fail(l, QIAO_ECRYPTO, why,
		    "the peer's answer does not open (altered, or a man in "
		    "the middle)");
	if (status != DONE_OK)
		return fail(l, QIAO_EUNAUTH, why,
		    "the peer refused this station's key (not enrolled, or "
		    "revoked, as far as it knows)");
	l->st = ST_OPEN;
	return QIAO_OK;
}

int
node_link_step(node_link *l, const uint8_t *in, size_t inlen, uint8_t *out,
    size_t outcap, size_t *outlen, const char **why)
{
	uint8_t copy[NODE_LINK_HS_MAX];

	*outlen = 0;
	if (l->st == ST_FAILED) {
		if (why != NULL)
			*why = "the link failed before";
		return QIAO_ECLOSED;
	}
	if (l->st == ST_OPEN) {
		if (why != NULL)
			*why = "the handshake is over";
		return QIAO_ESTATE;
	}
	if (out == NULL || outcap < NODE_LINK_HS_MAX)
		return QIAO_EINVAL;
	if (in == NULL && inlen != 0)
		return QIAO_EINVAL;
	/* So that in and out may share a buffer. A longer frame is no
	 * handshake frame, and is refused on its type and size alone. */
	if (in != NULL && inlen <= sizeof(copy)) {
		memcpy(copy, in, inlen);
		in = copy;
	}
	switch (l->st) {
	case ST_I_START:
		return i_start(l, in, out, outlen, why);
	case ST_R_HELLO:
		return r_hello(l, in, inlen, out, outlen, why);
	case ST_I_REPLY:
		return i_reply(l, in, inlen, out, outlen, why);
	case ST_R_PROVE:
		return r_prove(l, in, inlen, out, outlen, why);
	case ST_I_DONE:
		return i_done(l, in, inlen, why);
	default:
		return fail(l, QIAO_ESTATE, why, "no such state");
	}
}

static int
usable(const node_link *l)
{
	if (l->st == ST_FAILED)
		return QIAO_ECLOSED;
	return l->st == ST_OPEN ? QIAO_OK : QIAO_ESTATE;
}

int
node_link_seal(node_link *l, const uint8_t *plain, size_t len,
    uint8_t *frame, size_t cap, size_t *flen)
{
	int rc;

	if ((rc = usable(l)) != QIAO_OK)
		return rc;
	if (len > NODE_LINK_PLAIN_MAX)
		return QIAO_ETOOBIG;
	if (frame == NULL || (plain == NULL && len > 0) ||
	    cap < len + NODE_LINK_OVERHEAD)
		return QIAO_EINVAL;
	if ((rc = seal_frame(l, F_DATA, plain, len, frame)) != QIAO_OK)
		return fail(l, rc, NULL, NULL);
	*flen = len + NODE_LINK_OVERHEAD;
	return QIAO_OK;
}

int
node_link_open(node_link *l, const uint8_t *frame, size_t flen,
    uint8_t *plain, size_t cap, size_t *plen, const char **why)
{
	uint8_t empty; /* the output of an empty frame */
	int rc;

	if ((rc = usable(l)) != QIAO_OK) {
		if (why != NULL)
			*why = rc == QIAO_ECLOSED ? "the link failed before"
						  : "the handshake is not over";
		return rc;
	}
	if (frame == NULL || flen < NODE_LINK_OVERHEAD ||
	    flen > NODE_LINK_FRAME_MAX)
		return fail(l, QIAO_EMALFORMED, why, "a frame of a bad size");
	if (frame[0] != F_DATA)
		return fail(l, QIAO_EMALFORMED, why,
		    "a frame that is not data after the handshake");
	if ((plain == NULL && flen > NODE_LINK_OVERHEAD) ||
	    cap < flen - NODE_LINK_OVERHEAD)
		return QIAO_EINVAL;
	if (!open_frame(l, frame, flen, plain != NULL ? plain : &empty))
		return fail(l, QIAO_ECRYPTO, why,
		    "a frame does not open (altered, replayed, reordered or "
		    "reflected)");
	*plen = flen - NODE_LINK_OVERHEAD;
	return QIAO_OK;
}
