/*
 * appender DIR [TEXT [PAUSE_MS]] — appends notes to the store in DIR,
 * forever, as fast as it can or with a pause between appends, printing
 * "seq hash" after each commit returns (that line is the acknowledgement).
 * The crash tests kill it, or the node beside it, with SIGKILL at random
 * moments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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
	long pause_ms;
	node *n;

	if (argc < 2) {
		fprintf(stderr, "usage: appender DIR [TEXT [PAUSE_MS]]\n");
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
	pause_ms = argc > 3 ? strtol(argv[3], NULL, 10) : 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		int rc = node_append(n, QIAO_T_NOTE, body, len, &e, NULL);

		if (rc != QIAO_OK) {
			fprintf(stderr, "appender: %s\n", qiao_strerror(rc));
			return 1;
		}
		crdt_hex_encode(hex, e.hash, QIAO_HASH_LEN);
		printf("%llu %s\n", (unsigned long long)e.seq, hex);
		if (pause_ms > 0) {
			struct timespec ts = { pause_ms / 1000,
				(pause_ms % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
}
