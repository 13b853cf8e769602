/*
 * bench_log — the signed log's figures, measured in one run so the ratio
 * between them holds on a noisy machine:
 *   verify_per_s      raw libsodium Ed25519 verifications per second
 *   append_per_s      qiao appends (sign + one durable commit each)
 *   ingest_per_s      entries ingested in batches of 1,000 (verify, chain
 *                     check, store; one durable commit per batch)
 *   ingest_vs_verify  ingest_per_s / verify_per_s (goal: >= 0.8)
 * Usage: bench_log SCRATCH_DIR [ENTRIES]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "crdt/body.h"
#include "crdt/cert.h"
#include "crdt/hlc.h"
#include "crdt/types.h"
#include "node/ingest.h"
#include "node/keys.h"
#include "node/node.h"

#define BATCH 1000

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static node *
fresh(const char *base, const char *name)
{
	char dir[1024], err[256];
	node_keys *k;
	node *n;

	snprintf(dir, sizeof(dir), "%s/%s", base, name);
	if (mkdir(dir, 0700) != 0 || node_keys_create(&k, dir) != QIAO_OK) {
		fprintf(stderr, "bench_log: cannot create %s\n", dir);
		exit(1);
	}
	node_keys_free(k);
	if (node_open(&n, dir, &(node_opts) { .create = true }, err,
		sizeof(err)) != QIAO_OK) {
		fprintf(stderr, "bench_log: %s\n", err);
		exit(1);
	}
	return n;
}

/* A case event of about 250 bytes: ~40 Chinese characters and fields. */
static void
event_body(crdt_body *b, uint64_t i)
{
	crdt_body_init(b);
	crdt_body_cstr(b, "text",
	    "村民反映邻里宅基地边界纠纷，网格员已到场调查了解情况，约定明日组织双方"
	    "调解。");
	crdt_body_uint(b, "n", i);
	crdt_body_cstr(b, "grid", "500116001001003");
}

int
main(int argc, char **argv)
{
	size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 50000;
	uint8_t pk[QIAO_KEY_LEN], sk[QIAO_SK_LEN];
	node_ingest_item *items;
	uint8_t **bodies;
	size_t *blens;
	double t0, verify_s, append_s, ingest_s;
	size_t appends = 2000, bad = 0;
	node *a, *b;

	if (argc < 2 || sodium_init() < 0) {
		fprintf(stderr, "usage: bench_log SCRATCH_DIR [ENTRIES]\n");
		return 2;
	}
	crypto_sign_keypair(pk, sk);
	items = calloc(n, sizeof(*items));
	bodies = calloc(n, sizeof(*bodies));
	blens = calloc(n, sizeof(*blens));
	if (items == NULL || bodies == NULL || blens == NULL)
		return 1;
	for (size_t i = 0; i < n; i++) {
		crdt_entry *e = &items[i].e;
		crdt_body bd;

		event_body(&bd, i);
		if (crdt_body_finish(&bd, &bodies[i], &blens[i]) != QIAO_OK)
			return 1;
		crdt_body_fini(&bd);
		e->seq = i + 1;
		e->has_prev = i > 0;
		if (i > 0)
			memcpy(e->prev, items[i - 1].e.hash, QIAO_HASH_LEN);
		e->hlc = crdt_hlc_make(1700000000000ULL + i, 0);
		e->type = QIAO_T_NOTE;
		e->body_len = blens[i];
		crdt_entry_body_hash(e->body_hash, bodies[i], blens[i]);
		if (crdt_entry_sign(e, sk) != QIAO_OK)
			return 1;
		items[i].body = bodies[i];
		items[i].body_len = blens[i];
	}

	a = fresh(argv[1], "append");
	t0 = now_s();
	for (size_t i = 0; i < appends; i++)
		if (node_append(a, QIAO_T_NOTE, bodies[i], blens[i], NULL,
			NULL) != QIAO_OK)
			return 1;
	append_s = now_s() - t0;
	node_close(a);

	b = fresh(argv[1], "ingest");
	{
		crdt_cert c;
		uint8_t *body;
		size_t len;

		memset(&c, 0, sizeof(c));
		memcpy(c.subject, pk, QIAO_KEY_LEN);
		strcpy(c.role, "village");
		strcpy(c.region, "500116001001");
		strcpy(c.name, "bench");
		if (crdt_cert_encode(&c, &body, &len) != QIAO_OK ||
		    node_append(b, QIAO_T_ENROL, body, len, NULL, NULL) != 0)
			return 1;
		free(body);
	}
	/*
	 * Verify and ingest each batch back to back, so that whatever else the
	 * machine is doing weighs on both figures alike: the ratio is what we
	 * report, and it must not depend on when a neighbour was busy.
	 */
	verify_s = ingest_s = 0;
	for (size_t off = 0; off < n; off += BATCH) {
		size_t k = n - off < BATCH ? n - off : BATCH;
		node_ingest_stats st;

		t0 = now_s();
		for (size_t i = off; i < off + k; i++)
			bad += crdt_entry_verify(&items[i].e) != QIAO_OK;
		verify_s += now_s() - t0;
		t0 = now_s();
		if (node_ingest(b, items + off, k, &st) != QIAO_OK ||
		    st.stored != k || bad) {
			fprintf(stderr, "bench_log: ingest failed at %zu\n",
			    off);
			return 1;
		}
		ingest_s += now_s() - t0;
	}
	node_close(b);

	printf("log_entries: %zu\n", n);
	printf("verify_per_s: %.0f\n", (double)n / verify_s);
	printf("append_per_s: %.0f\n", (double)appends / append_s);
	printf("ingest_per_s: %.0f\n", (double)n / ingest_s);
	printf("ingest_vs_verify: %.2f\n",
	    ((double)n / ingest_s) / ((double)n / verify_s));
	for (size_t i = 0; i < n; i++)
		free(bodies[i]);
	free(bodies);
	free(blens);
	free(items);
	return 0;
}
