/*
 * keys — a station's Ed25519 identity in DIR/key (secret, mode 0600) and
 * DIR/key.pub (public, hex).
 *
 * The secret never enters the store, the log or any message. In memory it
 * lives in sodium_malloc'd pages (guarded, locked, read-only after load) and
 * is wiped when the keys are freed.
 */
#ifndef QIAO_NODE_KEYS_H
#define QIAO_NODE_KEYS_H

#include <stdint.h>

#include "crdt/entry.h"
#include "crdt/err.h"

typedef struct node_keys node_keys;

/*
 * Creates a fresh key pair in dir: key (0600, created exclusively) and
 * key.pub. QIAO_EEXIST if dir already holds a key, QIAO_EIO, QIAO_ENOMEM.
 */
int node_keys_create(node_keys **out, const char *dir) QIAO_MUST_USE;

/*
 * Loads dir/key. QIAO_ENOTFOUND if missing; QIAO_EPERM if group or others
 * may read or write it (the message names the mode); QIAO_EMALFORMED if the
 * file is not a key; QIAO_EIO.
 */
int node_keys_load(node_keys **out, const char *dir) QIAO_MUST_USE;

/* Reads the public key from dir/key.pub without touching the secret. */
int node_keys_load_public(uint8_t pk[QIAO_KEY_LEN], const char *dir)
    QIAO_MUST_USE;

/* Wipes and frees; accepts NULL. */
void node_keys_free(node_keys *k);

const uint8_t *node_keys_public(const node_keys *k);
/* libsodium's 64-byte secret key; valid until node_keys_free. */
const uint8_t *node_keys_secret(const node_keys *k);

#endif
