/*
 * Fuzz target: sync by file (node/bundle) through its real entry points on
 * a real node -- `qiao bundle import FILE` and `qiao bundle export --for
 * FILE`, so the bundle reader, the heads-file reader, their framing and
 * trailer, each message's decoding, batch decompression and ingest all
 * see the bytes. Whatever they are: no crash, no leak, no read outside the
 * file; a refusal says why; the store keeps answering.
 *
 * Seeds (tests/fuzz/corpus/bundle/) are genuine bundles and heads files of
 * a small deployment signed by the fuzz root (tests/fuzz/mkseeds.sh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/bundle.h"
#include "tests/fuzz/fuzz_node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
write_file(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (f == NULL)
		return -1;
	ok = fwrite(data, 1, size, f) == size;
	return fclose(f) == 0 && ok ? 0 : -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	node *n = fuzz_node();
	node_bundle_stats st;
	char in[300], out[300], err[512];
	int rc;

	snprintf(in, sizeof(in), "%s/input", fuzz_dir);
	snprintf(out, sizeof(out), "%s/output.qb", fuzz_dir);
	if (write_file(in, data, size) != 0)
		abort();
	rc = node_bundle_import(n, in, &st, err, sizeof(err));
	if (rc != QIAO_OK && err[0] == '\0')
		__builtin_trap(); /* a refusal says why */
	if (rc == QIAO_ESTORE || rc == QIAO_EIO)
		__builtin_trap(); /* bad bytes are never a store failure */
	/* The same bytes as a heads file: what would we send that station? */
	rc = node_bundle_export(n, in, out, &st, err, sizeof(err));
	if (rc != QIAO_OK && err[0] == '\0')
		__builtin_trap();
	if (rc == QIAO_ESTORE)
		__builtin_trap();
	return 0;
}
