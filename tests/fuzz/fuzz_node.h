/*
 * A real node for the fuzz targets that must reach past the decoders into
 * a store: created once per fuzzing process in a scratch directory (removed
 * at exit), a district (500116) whose trust anchor is the fixed fuzz root
 * below. The seed corpora (tests/fuzz/mkseeds.sh) are signed by that root,
 * so genuine seeds are accepted and mutations of them go as deep as
 * ingest. The store persists across inputs, as a running node's does.
 */
#ifndef QIAO_TESTS_FUZZ_NODE_H
#define QIAO_TESTS_FUZZ_NODE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "conf/conf.h"
#include "node/keys.h"
#include "node/log.h"
#include "node/node.h"

/* The fuzz root's Ed25519 seed: 32 bytes of 0x71 ('q'); its public key
 * is e2fe2a39b7326642827d6d82d497622cd6c297fe78270eaa436b01f086b6f3cb. */
#define FUZZ_ROOT_SEED_BYTE 0x71

static char fuzz_dir[256];

static void
fuzz_node_cleanup(void)
{
	char cmd[300];

	if (fuzz_dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fuzz_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "fuzz: could not remove %s\n", fuzz_dir);
	}
}

/* The node, made on first use; aborts if it cannot be (a broken setup
 * must not pass as "no crash"). */
static node *
fuzz_node(void)
{
	static node *n;
	uint8_t seed[crypto_sign_SEEDBYTES], sk[crypto_sign_SECRETKEYBYTES];
	node_keys *keys = NULL;
	const char *tmp = getenv("TMPDIR");
	char err[256];
	qiao_conf c;

	if (n != NULL)
		return n;
	if (sodium_init() < 0)
		abort();
	node_log_set_level(NODE_LOG_QUIET);
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/qiao-fuzz-XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(fuzz_dir) == NULL)
		abort();
	atexit(fuzz_node_cleanup);
	if (node_keys_create(&keys, fuzz_dir) != QIAO_OK)
		abort();
	node_keys_free(keys);
	conf_defaults(&c);
	c.role = QIAO_ROLE_DISTRICT;
	snprintf(c.region, sizeof(c.region), "500116");
	snprintf(c.dir, sizeof(c.dir), "%s", fuzz_dir);
	memset(seed, FUZZ_ROOT_SEED_BYTE, sizeof(seed));
	crypto_sign_seed_keypair(c.root, sk, seed);
	sodium_memzero(sk, sizeof(sk));
	c.has_root = true;
	c.durable = false;
	c.mapsize = 256u << 20;
	if (node_open(&n, fuzz_dir, &(node_opts) { .create = true, .conf = &c },
		err, sizeof(err)) != QIAO_OK) {
		fprintf(stderr, "fuzz: %s\n", err);
		abort();
	}
	return n;
}

#endif
