/*
 * channel — the one place per connection where frames from the wire become
 * sync messages and back, and where the peer's identity comes from.
 *
 * A channel is a node/link (docs/PROTOCOL.md, "Link security") bound to a
 * node: its key (node_secret_key) proves who we are, and
 * node_trust_link_verify decides whether the proven peer may hold the
 * link (enrolled, in force, never revoked). Every connection runs the
 * handshake first; until it is over no sync message moves either way, and
 * after it every message travels sealed (ChaCha20-Poly1305 with a counter
 * per direction). There is no plaintext mode and no way to turn the link
 * off. In the daemon (node/daemon.c):
 *   node_channel_new    on a new connection; an initiator's first
 *                       handshake frame is ready at once;
 *   node_channel_pop    handshake frames to send (and a responder's sealed
 *                       refusal, even after the channel failed);
 *   node_channel_open   every frame received: handshake frames until
 *                       established, then sealed sync messages;
 *   node_channel_seal   every sync message to send;
 *   node_channel_peer   the proven key once established: the sync session
 *                       refuses a HELLO that names another key.
 * Any failure is final: the caller sends what node_channel_pop still
 * holds, then closes the connection.
 */
#ifndef QIAO_NODE_CHANNEL_H
#define QIAO_NODE_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/err.h"
#include "node/node.h"

typedef struct node_channel node_channel;

/*
 * A channel for one connection of node n (the initiator dialled). Loads
 * n's key if it was not (node_load_key: QIAO_ENOTFOUND, QIAO_EPERM,
 * QIAO_EMALFORMED, QIAO_EIO); QIAO_ENOMEM. n must outlive the channel.
 */
int node_channel_new(node_channel **out, node *n, bool initiator)
    QIAO_MUST_USE;
/* Wipes every secret and frees; accepts NULL. */
void node_channel_free(node_channel *ch);

/* True once both ends proved their keys and accepted each other. */
bool node_channel_established(const node_channel *ch);

/* The next handshake frame to send (heap, caller frees); QIAO_ENOTFOUND
 * when there is none. */
int node_channel_pop(node_channel *ch, uint8_t **frame, size_t *len)
    QIAO_MUST_USE;

/*
 * A frame from the peer. During the handshake *plain is NULL (answers come
 * out of node_channel_pop); once established *plain (heap, caller frees)
 * is the sync message. Errors, each final, with a static reason in *why
 * (may be NULL): QIAO_EMALFORMED, QIAO_EPROTO, QIAO_ECRYPTO (altered,
 * replayed, reordered, a man in the middle), QIAO_EBADSIG, QIAO_EUNAUTH
 * (refused by us -- a refusal frame then waits in node_channel_pop -- or
 * by the peer), QIAO_ECLOSED after an earlier failure; QIAO_ENOMEM.
 */
int node_channel_open(node_channel *ch, const uint8_t *frame, size_t len,
    uint8_t **plain, size_t *plen, const char **why) QIAO_MUST_USE;

/* Seals a message into a frame (heap, caller frees). QIAO_ESTATE before
 * the channel is established, QIAO_ECLOSED after a failure, QIAO_ETOOBIG
 * past NODE_LINK_PLAIN_MAX, QIAO_ENOMEM. */
int node_channel_seal(node_channel *ch, const uint8_t *plain, size_t len,
    uint8_t **frame, size_t *flen) QIAO_MUST_USE;

/* The peer's proven key once established (and after a later failure,
 * for the log), else NULL. Valid until node_channel_free. */
const uint8_t *node_channel_peer(const node_channel *ch);

#endif
