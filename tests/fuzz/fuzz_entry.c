/*
 * Fuzz target: the entry decoder and the strict msgpack reader.
 *
 * Besides "never crash, never read out of bounds", it checks the property
 * the whole format rests on: a header the decoder accepts is canonical, so
 * rebuilding it from the decoded fields gives back the very same bytes; and
 * a value the strict reader accepts is what msgpack-c's packer would write
 * for the value msgpack-c's unpacker reads from it.
 */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "crdt/codec.h"
#include "crdt/entry.h"

static int
sink(void *data, const char *buf, size_t len)
{
	msgpack_sbuffer *sb = data;

	return msgpack_sbuffer_write(sb, buf, len);
}

static void
check_canonical_value(const uint8_t *data, size_t size)
{
	msgpack_zone zone;
	msgpack_object obj;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t off = 0;

	if (crdt_codec_check(data, size, NULL, NULL) != QIAO_OK)
		return;
	/* Safe only now: every declared count fits in the bytes present. */
	msgpack_zone_init(&zone, 2048);
	if (msgpack_unpack(
		(const char *)data, size, &off, &zone, &obj) != MSGPACK_UNPACK_SUCCESS)
		abort();
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, sink);
	if (msgpack_pack_object(&pk, obj) != 0 || sb.size != size ||
	    memcmp(sb.data, data, size) != 0)
		abort(); /* accepted bytes that are not the canonical form */
	msgpack_sbuffer_destroy(&sb);
	msgpack_zone_destroy(&zone);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	crdt_entry e, again;
	const char *why = NULL;
	size_t used;

	check_canonical_value(data, size);
	if (crdt_entry_parse(&e, data, size, &used, &why) != QIAO_OK)
		return 0;
	if (used > size || used != crdt_entry_raw_len(&e))
		abort();
	again = e;
	if (crdt_entry_rebuild(&again, crdt_entry_sig(&e)) != QIAO_OK ||
	    again.hdr_len != e.hdr_len ||
	    memcmp(again.raw, e.raw, crdt_entry_raw_len(&e)) != 0 ||
	    memcmp(again.hash, e.hash, QIAO_HASH_LEN) != 0)
		abort();
	(void)crdt_entry_verify(&e);
	if (size > used)
		(void)crdt_entry_check_body(&e, data + used, size - used, &why);
	return 0;
}
