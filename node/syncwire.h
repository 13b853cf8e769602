/*
 * syncwire — the messages of the sync protocol, as bytes (docs/PROTOCOL.md).
 *
 * Every message is one msgpack array [type, ...] in the strict encoding of
 * crdt/codec.h, so the same bytes travel over nng, through a link channel,
 * or inside a bundle file. Decoding checks every field and bounds every
 * count against QIAO_SYNC_*_MAX before anything is allocated.
 *
 * A BATCH carries entries without the fields a receiver can derive:
 *   - the author once per run of consecutive entries, not per entry;
 *   - seq: consecutive inside a run, so only the run's first;
 *   - prev: the hash of the entry before, which the receiver holds (or
 *     rebuilt just before in the same run) -- sent only when asked for;
 *   - hlc as the increase over the entry before;
 *   - body_hash and body_len: computed from the body that travels.
 * The receiver rebuilds the exact header bytes (crdt_entry_rebuild) and the
 * signature check during ingest proves it rebuilt what the author signed.
 * A batch's payload is zstd-compressed when that makes it smaller.
 */
#ifndef QIAO_NODE_SYNCWIRE_H
#define QIAO_NODE_SYNCWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "crdt/codec.h"
#include "crdt/entry.h"
#include "crdt/err.h"
#include "node/ingest.h"
#include "node/store.h"

#define QIAO_SYNC_VERSION 1
#define QIAO_SYNC_HEADS_MAX 2048   /* heads in one HEADS message */
#define QIAO_SYNC_WANTS_MAX 2048   /* ranges in one WANT message */
#define QIAO_SYNC_BATCH_ENTRIES_MAX 16384
#define QIAO_SYNC_REASON_MAX 128
#define QIAO_SYNC_FLAG_ZSTD 0x1u   /* HELLO flags: I read zstd batches */

enum node_sync_type {
	NODE_SYNC_HELLO = 1,
	NODE_SYNC_HEADS = 2,
	NODE_SYNC_WANT = 3,
	NODE_SYNC_BATCH = 4,
	NODE_SYNC_DONE = 5,
	NODE_SYNC_ACK = 6,
	NODE_SYNC_SYNCED = 7,
	NODE_SYNC_BYE = 8,
};

#define NODE_SYNC_CODEC_PLAIN 0
#define NODE_SYNC_CODEC_ZSTD 1

typedef struct node_sync_hello {
	uint64_t version;
	uint8_t key[QIAO_KEY_LEN];
	uint64_t role; /* enum qiao_role */
	char region[QIAO_REGION_MAX];
	bool has_since_key;   /* since is about this key's log only */
	uint8_t since_key[QIAO_KEY_LEN];
	uint64_t since;       /* that peer's tick I hold everything up to */
	uint64_t tick;        /* my store tick now */
	uint64_t window;      /* BATCH messages I accept in flight */
	uint64_t max_message; /* the largest message I accept */
	uint64_t flags;       /* QIAO_SYNC_FLAG_* */
} node_sync_hello;

typedef struct node_sync_head {
	uint8_t author[QIAO_KEY_LEN];
	uint64_t seq;
	uint8_t hash[QIAO_HASH_LEN];
} node_sync_head;

typedef struct node_sync_want {
	uint8_t author[QIAO_KEY_LEN];
	uint64_t from, to;  /* seqs, inclusive */
	bool explicit_prev; /* send prev of `from` (fork probe, bundles) */
} node_sync_want;

typedef struct node_sync_msg {
	uint64_t type; /* enum node_sync_type */
	node_sync_hello hello;
	struct {
		uint64_t upto;
		bool more;
		size_t n;
		node_sync_head *v; /* heap, freed by node_syncwire_msg_fini */
	} heads;
	struct {
		size_t n;
		node_sync_want *v; /* heap */
	} want;
	struct {
		uint64_t codec;
		const uint8_t *payload; /* points into the decoded buffer */
		size_t len;
	} batch;
	uint64_t n; /* DONE: want number; ACK: batches; SYNCED: upto */
	struct {
		uint64_t code; /* a qiao error code */
		char reason[QIAO_SYNC_REASON_MAX];
	} bye;
} node_sync_msg;

/*
 * Decodes one message strictly. On failure QIAO_EMALFORMED (or
 * QIAO_ETOOBIG for a count over its limit) with a static reason in *why.
 * m borrows buf for batch.payload; call node_syncwire_msg_fini after.
 */
int node_syncwire_decode(node_sync_msg *m, const uint8_t *buf, size_t len,
    const char **why) QIAO_MUST_USE;
/* Frees what decode allocated; accepts a zeroed message. */
void node_syncwire_msg_fini(node_sync_msg *m);

/* Encoders append one whole message to w (errors stick in w). */
void node_syncwire_hello(crdt_writer *w, const node_sync_hello *h);
void node_syncwire_heads(crdt_writer *w, uint64_t upto, bool more,
    const node_sync_head *v, size_t n);
void node_syncwire_want(crdt_writer *w, const node_sync_want *v, size_t n);
void node_syncwire_count(crdt_writer *w, uint64_t type, uint64_t n);
void node_syncwire_bye(crdt_writer *w, uint64_t code, const char *reason);

/*
 * Batch builder: entries go in per author in seq order; a new run starts
 * when the author changes or a seq does not follow.
 */
typedef struct node_syncwire_batch {
	crdt_writer runs; /* finished runs, back to back */
	crdt_writer cur;  /* the open run's entries */
	size_t nruns;
	size_t cur_n;     /* entries in the open run */
	size_t entries;   /* entries in the batch */
	uint8_t author[QIAO_KEY_LEN];
	uint64_t seq0, last_seq, last_hlc;
	bool has_prev;
	uint8_t prev[QIAO_HASH_LEN];
} node_syncwire_batch;

void node_syncwire_batch_init(node_syncwire_batch *b);
void node_syncwire_batch_fini(node_syncwire_batch *b);
/*
 * Adds e with its body. explicit_prev: when e starts a run, carry its prev
 * (the receiver may not hold the entry before). QIAO_ENOMEM.
 */
int node_syncwire_batch_add(node_syncwire_batch *b, const crdt_entry *e,
    const uint8_t *body, size_t len, bool explicit_prev) QIAO_MUST_USE;
/* Bytes of the payload so far (before compression). */
size_t node_syncwire_batch_size(const node_syncwire_batch *b);
/*
 * Appends the BATCH message to w: payload compressed with zstd at level
 * when level > 0 and the result is smaller. The builder is emptied.
 */
int node_syncwire_batch_finish(node_syncwire_batch *b, int level,
    crdt_writer *w) QIAO_MUST_USE;

/*
 * Decoded batch: the items for node_ingest, their bodies pointing into
 * `plain` (owned here), and entries that could not be rebuilt because the
 * entry before them is not held (`gaps`, the runs listed in gapv).
 */
typedef struct node_syncwire_items {
	node_ingest_item *v;
	size_t n;
	uint8_t *plain; /* decompressed payload, or NULL */
	size_t gaps;    /* entries left out: the entry before is not held */
	node_sync_want *gapv; /* the runs left out, as ranges */
	size_t ngap;
} node_syncwire_items;

/*
 * Decodes a BATCH payload (codec from the message) into items, looking up
 * in txn the prev of runs that leave it out (txn NULL: such runs are gaps). The payload may decompress to
 * at most max_plain bytes. QIAO_EMALFORMED / QIAO_ETOOBIG with *why;
 * QIAO_ENOMEM; QIAO_ESTORE.
 */
int node_syncwire_batch_decode(node_txn *txn, uint64_t codec,
    const uint8_t *payload, size_t len, size_t max_plain,
    node_syncwire_items *out, const char **why) QIAO_MUST_USE;
void node_syncwire_items_fini(node_syncwire_items *it);

/* True when an ingest result may succeed later (issuer or gap first). */
bool node_syncwire_retryable(int rc);

#endif
