/*
 * Fuzz target: a sync session (node/sync) on a real node, fed what a peer
 * could send over a link: a sequence of messages, each framed as a msgpack
 * bin (the framing of bundle and heads files, whose 8-byte magic is
 * skipped when present, so those files are seeds as they are). Every
 * message goes to node_sync_recv of a responder session, with a poll after
 * each; what the session answers is taken and dropped. Beyond the decoder
 * this reaches what each message does: HELLO's checks, HEADS turning into
 * WANTs, WANTs served from the store, BATCHes ingested, DONE/ACK/SYNCED
 * order. Whatever the bytes: no crash, no leak; a protocol error says why.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/codec.h"
#include "node/sync.h"
#include "tests/fuzz/fuzz_node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The store's change tick now, as the daemon polls it. */
static uint64_t
store_tick(node *n)
{
	node_txn *txn;
	uint64_t t = 0;

	if (node_store_txn_begin(node_get_store(n), false, &txn) != QIAO_OK)
		abort();
	if (node_store_tick(txn, &t) != QIAO_OK)
		t = 0;
	node_store_txn_abort(txn);
	return t;
}

static void
drain(node_sync *s)
{
	uint8_t *m;
	size_t len;

	while (node_sync_pop(s, &m, &len) == QIAO_OK)
		free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	node *n = fuzz_node();
	node_sync_opts so = { .initiator = false, .zstd_level = 0 };
	uint64_t now = 1767225600000ull;
	node_sync *s;
	crdt_reader r;
	const uint8_t *b;
	size_t len;
	int rc = QIAO_OK;

	if (size >= 8 && memcmp(data, "QIAO", 4) == 0) {
		data += 8;
		size -= 8;
	}
	if (node_sync_new(&s, n, &so) != QIAO_OK)
		abort();
	crdt_reader_init(&r, data, size);
	while (rc == QIAO_OK && crdt_read_peek(&r) == CRDT_KIND_BIN &&
	    crdt_read_bin(&r, &b, &len) == QIAO_OK) {
		const char *why = NULL;

		rc = node_sync_recv(s, b, len, now, &why);
		if ((rc == QIAO_EPROTO || rc == QIAO_EMALFORMED ||
			rc == QIAO_ETOOBIG) &&
		    why == NULL)
			__builtin_trap(); /* the peer is told nothing, we log why */
		if (rc == QIAO_ESTORE)
			__builtin_trap(); /* bad bytes are never a store failure */
		if (rc == QIAO_OK)
			rc = node_sync_poll(s, now, store_tick(n));
		drain(s);
		now += 1000;
	}
	node_sync_free(s);
	return 0;
}
