/*
 * link — mutual authentication and encryption of a link between two
 * nodes, as a sans-I/O state machine: frames in, frames out, no sockets,
 * no clock. Randomness comes from libsodium.
 *
 * Both ends prove their long-term Ed25519 keys (the keys the district
 * enrolled) before any data moves. Session keys come from an X25519
 * exchange of ephemeral keys (crypto_kx); the handshake transcript is
 * bound into both signatures; every later message is sealed with
 * ChaCha20-Poly1305 under a per-direction key and an implicit counter, so
 * a replayed, reordered, reflected, dropped-and-spliced or altered frame
 * fails to open. Whether a proven key is welcome (enrolled, not revoked)
 * is the caller's decision, through a callback (node_trust_link_verify
 * for a node). docs/PROTOCOL.md, "Link security", is the specification.
 *
 * Use, on each end:
 *
 *   node_link_new(&l, initiator, sk, verify, ctx);
 *   initiator: node_link_step(l, NULL, 0, out, ...)  -> send out
 *   both:      on each frame received:
 *                node_link_step(l, in, inlen, out, ...) -> send out if
 *                *outlen > 0; until node_link_established(l)
 *   then:      node_link_seal(l, plain, ...) -> frame to send
 *              node_link_open(l, frame, ...) -> plain received
 *
 * The transport must deliver frames whole and in order (nng does). Any
 * failure is final: the link answers QIAO_ECLOSED from then on, and the
 * caller closes the connection. A link is used by one thread at a time.
 */
#ifndef QIAO_NODE_LINK_H
#define QIAO_NODE_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/entry.h"
#include "crdt/err.h"

#define NODE_LINK_VERSION 1
/* The largest plaintext one sealed frame carries. */
#define NODE_LINK_PLAIN_MAX (UINT32_C(4) << 20)
/* A sealed frame is the plaintext plus this. */
#define NODE_LINK_OVERHEAD 17
#define NODE_LINK_FRAME_MAX (NODE_LINK_PLAIN_MAX + NODE_LINK_OVERHEAD)
/* Every handshake frame fits in this many bytes. */
#define NODE_LINK_HS_MAX 145

typedef struct node_link node_link;

/*
 * Decides whether the proven peer key may hold this link. Returns QIAO_OK,
 * or the refusal (QIAO_EUNKNOWN, QIAO_EREVOKED, QIAO_EEXPIRED...) with a
 * static reason in *why; the callback logs its refusal (it knows why).
 */
typedef int (*node_link_verify_fn)(void *ctx,
    const uint8_t peer[QIAO_KEY_LEN], const char **why);

/*
 * A new link for one connection. sk is the node's libsodium 64-byte
 * Ed25519 secret key: copied into guarded memory, wiped once the
 * handshake no longer needs it. verify and ctx are borrowed for the
 * link's life. QIAO_ENOMEM, QIAO_EINVAL (NULL sk or verify).
 */
int node_link_new(node_link **out, bool initiator,
    const uint8_t sk[QIAO_SK_LEN], node_link_verify_fn verify, void *ctx)
    QIAO_MUST_USE;

/* Wipes every secret and frees; accepts NULL. */
void node_link_free(node_link *l);

/*
 * Advances the handshake with one received frame (in NULL, inlen 0 for
 * the initiator's first call). Writes the frame to send, if any, to out
 * (outcap >= NODE_LINK_HS_MAX; it may be the buffer in is in) and its
 * length to *outlen (0: nothing to send). Errors, each final, with a static reason in *why (may be NULL):
 *   QIAO_EMALFORMED  a frame of the wrong size or version
 *   QIAO_EPROTO      a frame of a type not expected now
 *   QIAO_ECRYPTO     a sealed part does not open (altered, spliced, or a
 *                    man in the middle)
 *   QIAO_EBADSIG     the peer's signature over the transcript fails
 *   QIAO_EUNAUTH     refused: by our callback (a responder then has a
 *                    refusal frame in out to send before closing; an
 *                    initiator sends nothing), or by the peer
 *   QIAO_ESTATE      called when established; QIAO_ECLOSED after a failure
 *   QIAO_EINVAL      outcap too small
 */
int node_link_step(node_link *l, const uint8_t *in, size_t inlen,
    uint8_t *out, size_t outcap, size_t *outlen, const char **why)
    QIAO_MUST_USE;

/* True once both ends are proven and accepted. */
bool node_link_established(const node_link *l);

/* The peer's proven public key once established, else NULL. Valid until
 * node_link_free. */
const uint8_t *node_link_peer(const node_link *l);

/*
 * Seals len bytes of plain into frame (cap >= len + NODE_LINK_OVERHEAD;
 * the two must not overlap); *flen gets the frame's length. QIAO_ESTATE
 * before the link is established, QIAO_ECLOSED after a failure,
 * QIAO_ETOOBIG past NODE_LINK_PLAIN_MAX, QIAO_EINVAL for a small cap.
 */
int node_link_seal(node_link *l, const uint8_t *plain, size_t len,
    uint8_t *frame, size_t cap, size_t *flen) QIAO_MUST_USE;

/*
 * Opens the next frame from the peer into plain (cap >= flen -
 * NODE_LINK_OVERHEAD; no overlap); *plen gets its length. Frames must be
 * opened in the order they were sealed, each once. QIAO_EMALFORMED (size,
 * type), QIAO_ECRYPTO (does not open: altered, replayed, reordered,
 * reflected), both final; QIAO_ESTATE, QIAO_ECLOSED, QIAO_EINVAL as for
 * seal. *why (may be NULL) gets a static reason.
 */
int node_link_open(node_link *l, const uint8_t *frame, size_t flen,
    uint8_t *plain, size_t cap, size_t *plen, const char **why)
    QIAO_MUST_USE;

#endif
