/*
 * channel — the one place per connection where frames from the wire become
 * sync messages and back, and where the peer's identity comes from.
 *
 * THIS IS WHERE node/link PLUGS IN (issue 5: an Ed25519-authenticated
 * handshake with crypto_kx session keys, then AEAD with counters). Until it
 * does, the channel is a passthrough: established at once, frames are the
 * messages themselves, and node_channel_peer() is NULL, so the sync
 * session takes the peer's key from its HELLO. With node/link:
 *   node_channel_new    creates the link state (initiator sends first);
 *   node_channel_open   feeds handshake frames until established (their
 *                       replies come out of node_channel_pop), then opens
 *                       sealed frames;
 *   node_channel_seal   seals each outgoing message;
 *   node_channel_peer   the authenticated key, which the session must
 *                       match against the key in HELLO.
 * The daemon already drives all four, so the swap stays inside channel.c.
 */
#ifndef QIAO_NODE_CHANNEL_H
#define QIAO_NODE_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/err.h"
#include "node/node.h"

typedef struct node_channel node_channel;

/* n must outlive the channel. QIAO_ENOMEM. */
int node_channel_new(node_channel **out, node *n, bool initiator)
    QIAO_MUST_USE;
/* Wipes and frees; accepts NULL. */
void node_channel_free(node_channel *ch);

/* True once messages may flow (a passthrough: at once). */
bool node_channel_established(const node_channel *ch);

/* The next handshake frame to send (heap, caller frees); QIAO_ENOTFOUND
 * when there is none. */
int node_channel_pop(node_channel *ch, uint8_t **frame, size_t *len)
    QIAO_MUST_USE;

/*
 * A frame from the peer. After the handshake *plain (heap, caller frees)
 * is the message; during it *plain is NULL. QIAO_ECRYPTO / QIAO_EPROTO for
 * a frame that does not open (drop the connection).
 */
int node_channel_open(node_channel *ch, const uint8_t *frame, size_t len,
    uint8_t **plain, size_t *plen) QIAO_MUST_USE;

/* Seals a message into a frame (heap, caller frees). */
int node_channel_seal(node_channel *ch, const uint8_t *plain, size_t len,
    uint8_t **frame, size_t *flen) QIAO_MUST_USE;

/* The authenticated peer key, or NULL (passthrough: none). */
const uint8_t *node_channel_peer(const node_channel *ch);

#endif
