/*
 * Fuzz target: the sync messages (node/syncwire) as a peer could send
 * them, and a BATCH payload in both codecs. Whatever the bytes: no crash,
 * no read out of bounds, no allocation beyond the bounded counts; and a
 * message that decodes re-encodes to the very same bytes (one encoding per
 * message), so nothing is accepted that a node would not itself write.
 */
#include <stdlib.h>
#include <string.h>

#include "node/syncwire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
reencode(const node_sync_msg *m, const uint8_t *data, size_t size)
{
	crdt_writer w;

	crdt_writer_init(&w);
	switch (m->type) {
	case NODE_SYNC_HELLO:
		node_syncwire_hello(&w, &m->hello);
		break;
	case NODE_SYNC_HEADS:
		node_syncwire_heads(&w, m->heads.upto, m->heads.more,
		    m->heads.v, m->heads.n);
		break;
	case NODE_SYNC_WANT:
		node_syncwire_want(&w, m->want.v, m->want.n);
		break;
	case NODE_SYNC_DONE:
	case NODE_SYNC_ACK:
	case NODE_SYNC_SYNCED:
		node_syncwire_count(&w, m->type, m->n);
		break;
	default:
		crdt_writer_fini(&w);
		return; /* BATCH and BYE carry bytes through as they are */
	}
	if (crdt_writer_error(&w) != QIAO_OK || w.len != size ||
	    memcmp(w.buf, data, size) != 0)
		__builtin_trap();
	crdt_writer_fini(&w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	node_sync_msg m;
	node_syncwire_items it;
	const char *why = NULL;

	if (node_syncwire_decode(&m, data, size, &why) == QIAO_OK) {
		reencode(&m, data, size);
		if (m.type == NODE_SYNC_BATCH &&
		    node_syncwire_batch_decode(NULL, m.batch.codec,
			m.batch.payload, m.batch.len, 1 << 20, &it, &why) ==
			QIAO_OK)
			node_syncwire_items_fini(&it);
	} else if (why == NULL) {
		__builtin_trap(); /* a refusal says why */
	}
	node_syncwire_msg_fini(&m);
	/* The same bytes as a bare payload, both codecs. */
	if (node_syncwire_batch_decode(NULL, 0, data, size, 1 << 20, &it,
		&why) == QIAO_OK)
		node_syncwire_items_fini(&it);
	if (node_syncwire_batch_decode(NULL, 1, data, size, 1 << 20, &it,
		&why) == QIAO_OK)
		node_syncwire_items_fini(&it);
	return 0;
}
