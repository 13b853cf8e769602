/*
 * node — one qiao node: its configuration, store, identity and clock.
 *
 * A node is a plain struct with no global state, so a test or a simulation
 * can hold hundreds in one process. Wall time comes from an injectable
 * clock. The secret key is loaded only when the node first signs or links
 * (node_load_key).
 *
 * (The module is named for the folder: its calls are node_open, node_close,
 * node_append rather than node_node_*.)
 */
#ifndef QIAO_NODE_NODE_H
#define QIAO_NODE_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "crdt/entry.h"
#include "crdt/err.h"
#include "node/store.h"

typedef struct node node;

/* Unix time in milliseconds. */
typedef uint64_t (*node_clock_fn)(void *ctx);

typedef struct node_opts {
	bool create;          /* create the store (qiao init) */
	const qiao_conf *conf;/* NULL: read DIR/qiao.conf if present */
	node_clock_fn clock;  /* NULL: the system clock */
	void *clock_ctx;
} node_opts;

/*
 * Opens the node whose store is dir. QIAO_ENOTFOUND if there is no store
 * (and not opts->create), QIAO_ECONFIG for a bad DIR/qiao.conf, QIAO_ESTORE.
 * err receives a one-line message on failure.
 */
int node_open(node **out, const char *dir, const node_opts *opts, char *err,
    size_t errlen) QIAO_MUST_USE;
/* Accepts NULL. */
void node_close(node *n);

node_store *node_get_store(const node *n);
const qiao_conf *node_get_conf(const node *n);
const char *node_get_dir(const node *n);
/* The node's public key; NULL if the store has no key yet. */
const uint8_t *node_self(const node *n);
/* The trust anchor: the configured root, else the node itself. */
const uint8_t *node_root(const node *n);
uint64_t node_now_ms(const node *n);

/*
 * Signs body as the node's next entry of type and ingests it (one write
 * transaction, state derived in it). *out (if not NULL) gets the entry.
 * QIAO_ENOTFOUND / QIAO_EPERM for the key file, QIAO_EFORK if the node's own
 * log is frozen, QIAO_EFULL, QIAO_ESTORE, QIAO_EINVAL for a bad body;
 * QIAO_EUNAUTH etc. when the operation would be refused (why says).
 */
int node_append(node *n, uint64_t type, const uint8_t *body, size_t len,
    crdt_entry *out, const char **why) QIAO_MUST_USE;

/*
 * Loads the secret key now (so a command fails early, before work): the
 * key file is read once and the secret kept in guarded memory
 * (node/keys.h) until node_close. QIAO_ENOTFOUND, QIAO_EPERM (mode not
 * 0600), QIAO_EMALFORMED (not a key, or not the key of key.pub), QIAO_EIO.
 */
int node_load_key(node *n) QIAO_MUST_USE;

/*
 * libsodium's 64-byte Ed25519 secret key, for node/link's handshake (which
 * copies it into its own guarded memory and wipes it after signing); NULL
 * until node_load_key succeeded. Read-only guarded memory, valid until
 * node_close. Never log, store or send it.
 */
const uint8_t *node_secret_key(const node *n);

#endif
