/*
 * Sync benchmarks, measured in one run (figures as "name: value"):
 *
 *   sync_verify_per_s           raw Ed25519 verifications per second, one
 *                               core: the ceiling of ingest
 *   sync_full_entries           entries in the full sync below
 *   sync_full_entries_per_s     full sync of 300,000 entries (10 authors)
 *                               to an empty node over tcp loopback
 *   sync_full_vs_verify         the ratio of the two
 *   link_seal_open_mib_per_s    ChaCha20-Poly1305 through node/link: one
 *                               side seals 128 KiB messages, the other
 *                               opens them (MiB of plaintext per second)
 *   link_aead_vs_verify         sealing and opening one entry's wire bytes
 *                               (sync_bytes_per_entry of the full sync)
 *                               against one Ed25519 verification: what the
 *                               link adds to the ceiling of ingest
 *   link_handshakes_per_s       whole link handshakes (both ends, in one
 *                               thread): 2 signatures, 2 verifications,
 *                               4 X25519 operations each
 *   sync_wire_overhead          bytes on the wire / bytes of the entries as
 *                               stored (header + signature + body), for
 *                               100,000 case events of ~250 bytes (~40
 *                               Chinese characters) from 10 authors
 *   sync_bytes_per_entry        bytes on the wire per entry, same workload
 *   sync_incremental_bytes_shared_100000 / _300000
 *                               bytes on the wire for a new session that
 *                               brings 1,000 new entries when 100,000 or
 *                               300,000 are already shared (the heads
 *                               exchange is per changed author, so it must
 *                               not grow with what is shared)
 *   sim_nodes                   1 + 30 + 301
 *   sim_converge_after_heal_ms  the simulated district over inproc://:
 *                               half the towns cut off while everyone
 *                               writes, then the time from healing to
 *                               equal heads everywhere
 *
 * Usage: bench_sync SCRATCH_DIR [ENTRIES [CASES]] (tests/bench/run.sh
 * passes the scratch directory; $BENCH_SYNC_ENTRIES and $BENCH_SYNC_CASES
 * override 300,000 and 100,000). Two daemons in two threads (one per node)
 * exchange over real nng TCP sockets on 127.0.0.1 -- on the CPUs the runner
 * pins it to, one by default, where the verification rate is measured
 * too; the simulation steps its 332 daemons in one thread. Stores use
 * durable=no (no fsync): these measure the protocol, not the disk.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "crdt/hlc.h"
#include "node/ingest.h"
#include "node/link.h"
#include "node/log.h"
#include "tests/sim.h"

#define AUTHORS 10

static char base[256];
static int port;

static double
secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what, int rc)
{
	fprintf(stderr, "bench_sync: %s: %s\n", what, qiao_errname(rc));
	exit(1);
}

/*
 * Case texts of 40 Chinese characters drawn from 512 distinct ones: about
 * 9 bits of information a character, near the entropy estimated for
 * written Chinese, so compression sees text as real as a generator can
 * make it (neither one repeated string nor random bytes).
 */
static size_t
case_text(char *buf, size_t cap, uint64_t r)
{
	size_t n = 0;

	for (int i = 0; i < 40 && n + 4 < cap; i++) {
		unsigned cp;

		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		cp = 0x4E00 + (unsigned)((r >> 33) % 512) * 37;
		buf[n++] = (char)(0xE0 | (cp >> 12));
		buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
		buf[n++] = (char)(0x80 | (cp & 0x3F));
	}
	buf[n] = '\0';
	return n;
}

/* A case event body of about 250 bytes. */
static int
case_body(uint64_t i, uint8_t **out, size_t *len)
{
	char text[256], grid[32], id[40];
	crdt_body b;
	int rc;

	case_text(text, sizeof(text), i * 2654435761u);
	snprintf(grid, sizeof(grid), "500116001%03u%03u",
	    (unsigned)(i % 7 + 1), (unsigned)(i % 61 + 1));
	snprintf(id, sizeof(id), "C2026%08llu", (unsigned long long)(i / 6));
	crdt_body_init(&b);
	crdt_body_cstr(&b, "case", id);
	crdt_body_cstr(&b, "grid", grid);
	crdt_body_cstr(&b, "kind", "邻里纠纷");
	crdt_body_cstr(&b, "step", i % 6 == 0 ? "open" : "note");
	crdt_body_uint(&b, "party", i % 3);
	crdt_body_cstr(&b, "text", text);
	rc = crdt_body_finish(&b, out, len);
	crdt_body_fini(&b);
	return rc;
}

struct author {
	node_keys *k;
	uint64_t seq;
	uint8_t prev[QIAO_HASH_LEN];
	uint64_t hlc;
};

static struct author authors[AUTHORS];
static uint64_t stored_bytes;

/* Signs `count` new entries round-robin over the authors straight into
 * n's store (signatures are made here, so ingest may skip checking them:
 * the generator is not what is measured). */
static void
generate(node *n, uint64_t count, uint64_t first)
{
	const size_t B = 2000;
	node_ingest_item *items = calloc(B, sizeof(*items));
	uint8_t **bodies = calloc(B, sizeof(*bodies));
	uint64_t done = 0;
	int rc;

	if (items == NULL || bodies == NULL)
		die("generate", QIAO_ENOMEM);
	while (done < count) {
		size_t k = count - done < B ? (size_t)(count - done) : B;
		node_ingest_stats st;
		node_txn *txn;

		for (size_t i = 0; i < k; i++) {
			struct author *a = &authors[(first + done + i) %
			    AUTHORS];
			node_ingest_item *it = &items[i];
			size_t len;

			memset(it, 0, sizeof(*it));
			if ((rc = case_body(first + done + i, &bodies[i],
				 &len)) != 0)
				die("body", rc);
			it->e.seq = ++a->seq;
			it->e.has_prev = it->e.seq > 1;
			memcpy(it->e.prev, a->prev, QIAO_HASH_LEN);
			it->e.hlc = ++a->hlc;
			it->e.type = QIAO_T_NOTE;
			it->e.body_len = len;
			crdt_entry_body_hash(it->e.body_hash, bodies[i], len);
			if ((rc = crdt_entry_sign(&it->e,
				 node_keys_secret(a->k))) != 0)
				die("sign", rc);
			memcpy(a->prev, it->e.hash, QIAO_HASH_LEN);
			it->body = bodies[i];
			it->body_len = len;
			stored_bytes += crdt_entry_raw_len(&it->e) + len;
		}
		if ((rc = node_store_txn_begin(node_get_store(n), true,
			 &txn)) != 0 ||
		    (rc = node_ingest_txn(n, txn, items, k, true, &st)) != 0 ||
		    (rc = node_store_txn_commit(txn)) != 0)
			die("ingest", rc);
		if (st.stored != k)
			die("generated entries refused", items[0].rc);
		for (size_t i = 0; i < k; i++)
			free(bodies[i]);
		done += k;
	}
	free(items);
	free(bodies);
}

static node *
make_node(const char *name, enum qiao_role role, const char *region,
    const uint8_t *root, const char *listen, const char *upstream)
{
	char dir[320];
	qiao_conf c;
	node *n;

	snprintf(dir, sizeof(dir), "%s/%s", base, name);
	tn_conf(&c, dir, role, region, root);
	c.mapsize = (uint64_t)4 << 30;
	if (listen != NULL)
		snprintf(c.listen, sizeof(c.listen), "%s", listen);
	if (upstream != NULL) {
		snprintf(c.upstream[0], sizeof(c.upstream[0]), "%s", upstream);
		c.nupstream = 1;
	}
	c.change_poll_ms = 20;
	if ((n = tn_make_conf(dir, &c)) == NULL)
		die("make node", QIAO_ESTORE);
	return n;
}

/* The serving side, in its own thread until told to stop. */
struct server {
	node_daemon *d;
	atomic_bool stop;
};

static void *
serve(void *arg)
{
	struct server *s = arg;

	while (!atomic_load(&s->stop))
		if (node_daemon_step(s->d, 20) != QIAO_OK)
			break;
	return NULL;
}

/* One session from `client` to the server at url until in sync; returns
 * seconds and the wire bytes both ways. */
static double
sync_once(node *client, const char *url, uint64_t *bytes, uint64_t *stored)
{
	const char *ups[] = { url };
	node_daemon_opts o = { .listen = "", .upstream = ups,
		.nupstream = 1 };
	node_daemon_upstream up;
	node_daemon *d;
	uint64_t sent, recv;
	double t0 = secs();
	int rc;

	if ((rc = node_daemon_new(&d, client, &o)) != QIAO_OK)
		die("client daemon", rc);
	for (;;) {
		if ((rc = node_daemon_step(d, 20)) != QIAO_OK)
			die("step", rc);
		node_daemon_upstream_state(d, 0, &up);
		if (up.in_sync || up.blocked)
			break;
		if (secs() - t0 > 600)
			die("sync timed out", QIAO_ETIMEDOUT);
	}
	if (up.blocked) {
		fprintf(stderr, "bench_sync: %s\n", up.why);
		exit(1);
	}
	t0 = secs() - t0;
	node_daemon_bytes(d, &sent, &recv);
	*bytes = sent + recv;
	*stored = up.stored;
	node_daemon_free(d);
	return t0;
}

static double
verify_rate(void)
{
	crdt_entry e;
	uint8_t pk[32], sk[64], body[250];
	const int N = 5000;
	double best = 0;
	int ok = 0;

	crypto_sign_keypair(pk, sk);
	memset(&e, 0, sizeof(e));
	e.seq = 2;
	e.has_prev = true;
	e.hlc = 1;
	e.type = 1;
	e.body_len = sizeof(body);
	crdt_entry_body_hash(e.body_hash, body, sizeof(body));
	if (crdt_entry_sign(&e, sk) != QIAO_OK)
		die("sign", QIAO_EINVAL);
	/* Best of five: the machine is shared, the ceiling is the best. */
	for (int k = 0; k < 5; k++) {
		double t0 = secs(), r;

		for (int i = 0; i < N; i++)
			ok += crdt_entry_verify(&e) == QIAO_OK;
		r = N / (secs() - t0);
		best = r > best ? r : best;
	}
	if (ok != 5 * N)
		die("verify", QIAO_EBADSIG);
	return best;
}

static int
welcome_all(void *ctx, const uint8_t peer[QIAO_KEY_LEN], const char **why)
{
	(void)ctx;
	(void)peer;
	(void)why;
	return QIAO_OK;
}

/* Two ends of a link, handshaken in memory. */
static void
link_pair(const uint8_t *ska, const uint8_t *skb, node_link **a,
    node_link **b)
{
	uint8_t buf[NODE_LINK_HS_MAX], next[NODE_LINK_HS_MAX];
	size_t n = 0, n2 = 0;
	node_link *to;
	int k = 0;

	if (node_link_new(a, true, ska, welcome_all, NULL) != QIAO_OK ||
	    node_link_new(b, false, skb, welcome_all, NULL) != QIAO_OK ||
	    node_link_step(*a, NULL, 0, buf, sizeof(buf), &n, NULL) != 0)
		die("link", QIAO_ENOMEM);
	while (n > 0) {
		to = k++ % 2 == 0 ? *b : *a;
		if (node_link_step(to, buf, n, next, sizeof(next), &n2,
			NULL) != QIAO_OK)
			die("handshake", QIAO_ECRYPTO);
		memcpy(buf, next, n2);
		n = n2;
	}
	if (!node_link_established(*a) || !node_link_established(*b))
		die("handshake", QIAO_ESTATE);
}

/* Best of three of sealing and opening 128 KiB messages: plaintext bytes
 * per second; *hs_per_s gets whole handshakes per second. */
static double
link_rate(double *hs_per_s)
{
	const size_t M = 128 << 10;
	uint8_t pka[32], ska[64], pkb[32], skb[64];
	uint8_t *plain = malloc(M), *frame = malloc(M + NODE_LINK_OVERHEAD);
	node_link *a, *b;
	double best = 0, t0;
	size_t fl, pl;

	if (plain == NULL || frame == NULL)
		die("link bench", QIAO_ENOMEM);
	randombytes_buf(plain, M);
	crypto_sign_keypair(pka, ska);
	crypto_sign_keypair(pkb, skb);
	link_pair(ska, skb, &a, &b);
	for (int k = 0; k < 3; k++) {
		t0 = secs();
		for (int i = 0; i < 400; i++)
			if (node_link_seal(a, plain, M, frame,
				M + NODE_LINK_OVERHEAD, &fl) != QIAO_OK ||
			    node_link_open(b, frame, fl, plain, M, &pl,
				NULL) != QIAO_OK)
				die("seal/open", QIAO_ECRYPTO);
		t0 = 400.0 * (double)M / (secs() - t0);
		best = t0 > best ? t0 : best;
	}
	node_link_free(a);
	node_link_free(b);
	t0 = secs();
	for (int i = 0; i < 200; i++) {
		link_pair(ska, skb, &a, &b);
		node_link_free(a);
		node_link_free(b);
	}
	*hs_per_s = 200 / (secs() - t0);
	sodium_memzero(ska, sizeof(ska));
	sodium_memzero(skb, sizeof(skb));
	free(plain);
	free(frame);
	return best;
}

static bool
heads_match(struct sim *s)
{
	return sim_heads_match(s);
}

int
main(int argc, char **argv)
{
	uint64_t full = 300000, cases = 100000, bytes, stored;
	char url[64], url2[64];
	struct server srv = { 0 };
	pthread_t th;
	node *src, *dst, *src2, *dst2;
	double t, vps;
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_sync SCRATCH_DIR [ENTRIES "
				"[CASES]]\n");
		return 2;
	}
	if (getenv("BENCH_SYNC_ENTRIES") != NULL)
		full = strtoull(getenv("BENCH_SYNC_ENTRIES"), NULL, 10);
	if (getenv("BENCH_SYNC_CASES") != NULL)
		cases = strtoull(getenv("BENCH_SYNC_CASES"), NULL, 10);
	if (argc > 2)
		full = strtoull(argv[2], NULL, 10);
	if (argc > 3)
		cases = strtoull(argv[3], NULL, 10);
	if (full == 0 || cases == 0)
		return 2;
	if (sodium_init() < 0)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0); /* figures as they come */
	node_log_set_level(NODE_LOG_ERR);
	snprintf(base, sizeof(base), "%.200s/sync-XXXXXX", argv[1]);
	if (mkdtemp(base) == NULL)
		return 1;
	port = 27000 + (int)(getpid() % 2000) * 2;
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	snprintf(url2, sizeof(url2), "tcp://127.0.0.1:%d", port + 1);


	/* A source holding `full` entries of 10 authors it enrolled. */
	src = make_node("src", QIAO_ROLE_DISTRICT, "500116", NULL, url, NULL);
	for (int i = 0; i < AUTHORS; i++) {
		char dir[320], region[16];
		node *a;

		snprintf(region, sizeof(region), "500116%03d", i + 1);
		snprintf(dir, sizeof(dir), "a%d", i);
		a = make_node(dir, QIAO_ROLE_TOWN, region, node_self(src),
		    NULL, NULL);
		if ((rc = tn_enrol(src, a, QIAO_ROLE_TOWN, region)) != 0)
			die("enrol", rc);
		snprintf(dir, sizeof(dir), "%s/a%d", base, i);
		if ((rc = node_keys_load(&authors[i].k, dir)) != QIAO_OK)
			die("keys", rc);
		authors[i].hlc = crdt_hlc_make(node_now_ms(a) - 3600000, 0);
		node_close(a);
	}
	generate(src, full, 0);
	srv.d = NULL;
	{
		node_daemon_opts o = { .no_upstream = true };

		if ((rc = node_daemon_new(&srv.d, src, &o)) != QIAO_OK)
			die("server", rc);
	}
	vps = verify_rate();
	printf("sync_verify_per_s: %.0f\n", vps);
	dst = make_node("dst", QIAO_ROLE_DISTRICT, "500116", node_self(src),
	    NULL, NULL);
	/* The link admits enrolled keys only: the source (the root) enrols
	 * the destination, which needs nothing to know the root. */
	if ((rc = tn_enrol(src, dst, QIAO_ROLE_DISTRICT, "500116")) != 0)
		die("enrol dst", rc);
	pthread_create(&th, NULL, serve, &srv);
	t = sync_once(dst, url, &bytes, &stored);
	printf("sync_full_entries: %llu\n", (unsigned long long)stored);
	printf("sync_full_seconds: %.2f\n", t);
	printf("sync_full_entries_per_s: %.0f\n", (double)stored / t);
	printf("sync_full_vs_verify: %.2f\n", (double)stored / t / vps);
	{
		double hs, rate = link_rate(&hs);

		printf("link_seal_open_mib_per_s: %.0f\n", rate / (1 << 20));
		printf("link_aead_vs_verify: %.4f\n",
		    (double)bytes / (double)stored / rate * vps);
		printf("link_handshakes_per_s: %.0f\n", hs);
	}
	/* 1,000 new entries, 300,000 shared: a new session. */
	generate(src, 1000, full);
	sync_once(dst, url, &bytes, &stored);
	if (stored != 1000)
		die("incremental stored", QIAO_ESTATE);
	printf("sync_incremental_bytes_shared_%llu: %llu\n",
	    (unsigned long long)full, (unsigned long long)bytes);
	atomic_store(&srv.stop, true);
	pthread_join(th, NULL);
	node_daemon_free(srv.d);
	node_close(dst);
	node_close(src);

	/* 100,000 case events from 10 authors: bytes on the wire. */
	memset(authors, 0, sizeof(authors));
	src2 = make_node("src2", QIAO_ROLE_DISTRICT, "500116", NULL, url2,
	    NULL);
	for (int i = 0; i < AUTHORS; i++) {
		char dir[320], region[16];
		node *a;

		snprintf(region, sizeof(region), "500116%03d", i + 1);
		snprintf(dir, sizeof(dir), "b%d", i);
		a = make_node(dir, QIAO_ROLE_TOWN, region, node_self(src2),
		    NULL, NULL);
		if ((rc = tn_enrol(src2, a, QIAO_ROLE_TOWN, region)) != 0)
			die("enrol", rc);
		snprintf(dir, sizeof(dir), "%s/b%d", base, i);
		if ((rc = node_keys_load(&authors[i].k, dir)) != QIAO_OK)
			die("keys", rc);
		authors[i].hlc = crdt_hlc_make(node_now_ms(a) - 3600000, 0);
		node_close(a);
	}
	stored_bytes = 0;
	generate(src2, cases, 0);
	{
		node_daemon_opts o = { .no_upstream = true };

		atomic_store(&srv.stop, false);
		if ((rc = node_daemon_new(&srv.d, src2, &o)) != QIAO_OK)
			die("server", rc);
	}
	dst2 = make_node("dst2", QIAO_ROLE_DISTRICT, "500116",
	    node_self(src2), NULL, NULL);
	if ((rc = tn_enrol(src2, dst2, QIAO_ROLE_DISTRICT, "500116")) != 0)
		die("enrol dst2", rc);
	pthread_create(&th, NULL, serve, &srv);
	t = sync_once(dst2, url2, &bytes, &stored);
	printf("sync_cases: %llu\n", (unsigned long long)stored);
	printf("sync_cases_stored_bytes: %llu\n",
	    (unsigned long long)stored_bytes);
	printf("sync_cases_wire_bytes: %llu\n", (unsigned long long)bytes);
	printf("sync_wire_overhead: %.3f\n", (double)bytes /
	    (double)stored_bytes);
	printf("sync_bytes_per_entry: %.1f\n", (double)bytes /
	    (double)stored);
	generate(src2, 1000, cases);
	sync_once(dst2, url2, &bytes, &stored);
	printf("sync_incremental_bytes_shared_%llu: %llu\n",
	    (unsigned long long)cases, (unsigned long long)bytes);
	atomic_store(&srv.stop, true);
	pthread_join(th, NULL);
	node_daemon_free(srv.d);
	node_close(dst2);
	node_close(src2);
	for (int i = 0; i < AUTHORS; i++)
		node_keys_free(authors[i].k);

	/* The simulated district: partition, heal, converge. */
	{
		struct sim s;
		char sb[300];
		double t0;

		snprintf(sb, sizeof(sb), "%s/sim", base);
		if (mkdir(sb, 0700) != 0 ||
		    (rc = sim_build(&s, sb, 30, 301)) != QIAO_OK)
			die("sim", rc);
		for (size_t i = 0; i < s.count; i++)
			if ((rc = tn_notes(s.v[i].n, 2, 200)) != 0 ||
			    (rc = sim_start(&s, i)) != 0)
				die("sim start", rc);
		if (!sim_run(&s, 300000, heads_match, 200))
			die("sim did not converge", QIAO_ETIMEDOUT);
		for (size_t tw = 1; tw <= 15; tw++)
			sim_stop(&s, tw);
		for (size_t i = 0; i < s.count; i++)
			if ((rc = tn_notes(s.v[i].n, 3, 200)) != 0)
				die("sim notes", rc);
		sim_run(&s, 1000, NULL, 0);
		t0 = secs();
		for (size_t tw = 1; tw <= 15; tw++)
			if ((rc = sim_start(&s, tw)) != 0)
				die("sim heal", rc);
		if (!sim_run(&s, 300000, heads_match, 20))
			die("sim did not converge after healing", QIAO_ETIMEDOUT);
		printf("sim_nodes: %zu\n", s.count);
		printf("sim_converge_after_heal_ms: %.0f\n",
		    (secs() - t0) * 1000);
		if (!sim_converged(&s))
			die("sim digests differ", QIAO_ESTATE);
		sim_free(&s);
	}
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_sync: could not remove %s\n",
			    base);
	}
	return 0;
}
