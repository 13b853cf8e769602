/*
 * Fuzz target: the log file reader (`qiao log import`, USB sticks) — the
 * framing, then each entry's strict decoding and its body check, as import
 * does before anything touches the store.
 */
#include "crdt/entry.h"
#include "node/logfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	node_logfile_reader rd;
	const uint8_t *raw, *body;
	size_t rawlen, blen;
	crdt_entry e;
	const char *why;

	if (node_logfile_reader_init(&rd, data, size) != QIAO_OK)
		return 0;
	while (node_logfile_reader_next(&rd, &raw, &rawlen, &body, &blen) ==
	    QIAO_OK) {
		if (raw < data || raw + rawlen > data + size)
			__builtin_trap(); /* the reader pointed outside */
		if (crdt_entry_parse(&e, raw, rawlen, NULL, &why) != QIAO_OK)
			continue;
		if (body != NULL)
			(void)crdt_entry_check_body(&e, body, blen, &why);
	}
	return 0;
}
