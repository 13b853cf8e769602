/*
 * appender DIR [TEXT] — appends notes to the store in DIR as fast as it can,
 * forever, printing "seq hash" after each commit returns (that line is the
 * acknowledgement). The crash test kills it with SIGKILL at random moments.
 */
#include <stdio.h>
#include <stdlib.h>

#include "crdt/body.h"
#include "crdt/hex.h"
#include "crdt/types.h"
#include "node/node.h"

int
main(int argc, char **argv)
{
	char err[256], hex[2 * QIAO_HASH_LEN + 1];
	crdt_entry e;
	crdt_body b;
	uint8_t *body;
	size_t len;
	node *n;

	if (argc < 2) {
		fprintf(stderr, "usage: appender DIR [TEXT]\n");
		return 2;
	}
	if (node_open(&n, argv[1], NULL, err, sizeof(err)) != QIAO_OK) {
		fprintf(stderr, "appender: %s\n", err);
		return 1;
	}
	crdt_body_init(&b);
	crdt_body_cstr(&b, "text", argc > 2 ? argv[2] : "断电测试");
	if (crdt_body_finish(&b, &body, &len) != QIAO_OK)
		return 1;
	crdt_body_fini(&b);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		int rc = node_append(n, QIAO_T_NOTE, body, len, &e, NULL);

		if (rc != QIAO_OK) {
			fprintf(stderr, "appender: %s\n", qiao_strerror(rc));
			return 1;
		}
		crdt_hex_encode(hex, e.hash, QIAO_HASH_LEN);
		printf("%llu %s\n", (unsigned long long)e.seq, hex);
	}
}
