/* Record state in real stores: stations with their own keys and logs write
 * random operations, including concurrent edits of one case, exchange
 * partial views, and every store that ends up holding the same entries, in
 * whatever order they arrived, holds the same state, digest and conflicts.
 * Out-of-region ops are refused at every store and change nothing. */
#include "tests/check.h"

#include "conf/conf.h"
#include "crdt/body.h"
#include "crdt/cert.h"
#include "crdt/codec.h"
#include "crdt/digest.h"
#include "crdt/hex.h"
#include "crdt/hlc.h"
#include "crdt/op.h"
#include "crdt/record.h"
#include "crdt/types.h"
#include "node/ingest.h"
#include "node/keys.h"
#include "node/log.h"
#include "node/node.h"
#include "node/state.h"
#include "node/store.h"

#define DISTRICT "500116"
#define TOWN "500116001"
#define V1 "500116001001"
#define V2 "500116001002"

static uint64_t now_ms = 1700000000000ULL;

static uint64_t
fake_clock(void *ctx)
{
	(void)ctx;
	return now_ms;
}

struct station {
	node *n;
	uint8_t pk[QIAO_KEY_LEN];
	const char *region;
};

static node *
mk_node(enum qiao_role role, const char *region, const uint8_t *root,
    uint8_t pk[QIAO_KEY_LEN], bool with_key)
{
	const char *dir = check_tmpdir();
	node_keys *keys = NULL;
	qiao_conf c;
	node *n = NULL;
	char err[256];
	node_opts o = { .create = true, .conf = &c, .clock = fake_clock };

	if (dir == NULL)
		return NULL;
	conf_defaults(&c);
	c.role = role;
	snprintf(c.region, sizeof(c.region), "%s", region);
	c.durable = false;
	if (root != NULL) {
		c.has_root = true;
		memcpy(c.root, root, QIAO_KEY_LEN);
	}
	if (with_key) {
		if (node_keys_create(&keys, dir) != QIAO_OK)
			return NULL;
		if (pk != NULL)
			memcpy(pk, node_keys_public(keys), QIAO_KEY_LEN);
		node_keys_free(keys);
	}
	if (node_open(&n, dir, &o, err, sizeof(err)) != QIAO_OK) {
		printf("# node_open: %s\n", err);
		return NULL;
	}
	return n;
}

/* Appends body as n's next op; returns its rc (op refusals included). */
static int
append(node *n, uint64_t type, uint8_t *body, size_t len, crdt_entry *e)
{
	const char *why = NULL;
	int rc = node_append(n, type, body, len, e, &why);

	free(body);
	now_ms += 1000;
	return rc;
}

static int
enrol(node *issuer, const uint8_t *subject, const char *role,
    const char *region)
{
	crdt_cert c;
	uint8_t *body;
	size_t len;

	memset(&c, 0, sizeof(c));
	memcpy(c.subject, subject, QIAO_KEY_LEN);
	snprintf(c.role, sizeof(c.role), "%s", role);
	snprintf(c.region, sizeof(c.region), "%s", region);
	snprintf(c.name, sizeof(c.name), "%s", region);
	if (crdt_cert_encode(&c, &body, &len) != QIAO_OK)
		return QIAO_ENOMEM;
	return append(issuer, QIAO_T_ENROL, body, len, NULL);
}

/* All entries of a store, with copies of their bodies. */
struct pile {
	node_ingest_item *it;
	uint8_t **bodies;
	size_t n, cap;
};

static void
pile_free(struct pile *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->bodies[i]);
	free(p->it);
	free(p->bodies);
	memset(p, 0, sizeof(*p));
}

static int
pile_add(struct pile *p, const crdt_entry *e, const uint8_t *body,
    size_t len)
{
	for (size_t i = 0; i < p->n; i++)
		if (memcmp(p->it[i].e.hash, e->hash, QIAO_HASH_LEN) == 0)
			return QIAO_OK;
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 256;

		p->it = realloc(p->it, cap * sizeof(*p->it));
		p->bodies = realloc(p->bodies, cap * sizeof(*p->bodies));
		if (p->it == NULL || p->bodies == NULL)
			return QIAO_ENOMEM;
		p->cap = cap;
	}
	memset(&p->it[p->n], 0, sizeof(p->it[p->n]));
	p->it[p->n].e = *e;
	p->bodies[p->n] = malloc(len ? len : 1);
	memcpy(p->bodies[p->n], body, len);
	p->it[p->n].body = p->bodies[p->n];
	p->it[p->n].body_len = len;
	p->n++;
	return QIAO_OK;
}

struct collect {
	node_txn *txn;
	struct pile *p;
	const uint8_t *only; /* one author, or NULL */
	uint64_t from;       /* seqs above this */
};

static int
on_head(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct collect *c = ctx;
	node_head h;
	int rc;

	(void)klen;
	(void)val;
	(void)vlen;
	if ((rc = node_store_head_get(c->txn, key, &h)) != QIAO_OK)
		return rc;
	for (uint64_t s = 1; s <= h.seq; s++) {
		const uint8_t *body;
		size_t len;
		crdt_entry e;

		if ((rc = node_store_entry_get(c->txn, key, s, &e)) != 0 ||
		    (rc = node_store_body_get(c->txn, e.body_hash, &body,
			 &len)) != 0 ||
		    (rc = pile_add(c->p, &e, body, len)) != QIAO_OK)
			return rc;
	}
	return 0;
}

static int
pile_of(node *n, struct pile *p)
{
	struct collect c = { .p = p };
	int rc;

	if ((rc = node_store_txn_begin(node_get_store(n), false, &c.txn)) != 0)
		return rc;
	rc = node_store_scan(c.txn, NODE_TB_HEADS, NULL, 0, on_head, &c);
	node_store_txn_abort(c.txn);
	return rc;
}

/*
 * Ingests the pile into n in the pile's order, one entry or a few at a
 * time; entries that arrive before their predecessors (a gap) or before
 * their author's enrolment are retried on the next pass, as a sync would.
 */
static int
feed(node *n, struct pile *p, bool random_batches)
{
	bool *done = calloc(p->n, sizeof(bool));
	size_t left = p->n, passes = 0;
	int rc = QIAO_OK;

	while (left > 0 && passes++ < p->n + 2 && rc == QIAO_OK) {
		for (size_t i = 0; i < p->n && rc == QIAO_OK;) {
			node_ingest_item batch[8];
			size_t idx[8], k = 0;
			size_t want = random_batches ? 1 + check_rand_below(8)
						     : 1;

			for (; i < p->n && k < want; i++) {
				if (done[i])
					continue;
				idx[k] = i;
				batch[k++] = p->it[i];
			}
			if (k == 0)
				break;
			if ((rc = node_ingest(n, batch, k, NULL)) != QIAO_OK)
				break;
			for (size_t j = 0; j < k; j++) {
				if (batch[j].rc == QIAO_OK ||
				    batch[j].rc == QIAO_EDUP) {
					done[idx[j]] = true;
					left--;
				}
			}
		}
	}
	free(done);
	return rc != QIAO_OK ? rc : left == 0 ? QIAO_OK : QIAO_EGAP;
}

static void
shuffle(struct pile *p)
{
	for (size_t i = p->n; i > 1; i--) {
		size_t j = check_rand_below(i);
		node_ingest_item t = p->it[i - 1];
		uint8_t *b = p->bodies[i - 1];

		p->it[i - 1] = p->it[j];
		p->bodies[i - 1] = p->bodies[j];
		p->it[j] = t;
		p->bodies[j] = b;
	}
}

/* Copies what from holds into to (a partial sync). */
static int
sync_one(node *from, node *to)
{
	struct pile p = { 0 };
	int rc = pile_of(from, &p);

	if (rc == QIAO_OK)
		rc = feed(to, &p, false);
	pile_free(&p);
	return rc;
}

static int
digest(node *n, uint8_t out[32], uint64_t *count)
{
	node_txn *txn;
	int rc = node_store_txn_begin(node_get_store(n), false, &txn);

	if (rc != QIAO_OK)
		return rc;
	rc = node_state_digest(txn, NULL, out, count);
	node_store_txn_abort(txn);
	return rc;
}

/* The cases a node holds (record keys), for picking one to act on. */
struct cases {
	uint8_t key[64][QIAO_RECKEY_MAX];
	size_t len[64];
	size_t n;
	size_t conflicts, reviews;
	crdt_digest conf; /* over every case's conflicts and review lists */
};

static int
on_case(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
    size_t len)
{
	struct cases *c = ctx;
	crdt_reader r;
	size_t n;
	const uint8_t *start;

	if (c->n < 64) {
		memcpy(c->key[c->n], key, klen);
		c->len[c->n++] = klen;
	}
	if (crdt_body_get(val, len, "conflicts", &r) == QIAO_OK) {
		start = r.p;
		if (crdt_read_array(&r, &n) == QIAO_OK) {
			c->conflicts += n;
			r.p = start;
			if (crdt_read_skip(&r) == QIAO_OK)
				crdt_digest_add(&c->conf, key, klen, start,
				    (size_t)(r.p - start));
		}
	}
	if (crdt_body_get(val, len, "review", &r) == QIAO_OK) {
		start = r.p;
		if (crdt_read_array(&r, &n) == QIAO_OK) {
			c->reviews += n;
			r.p = start;
			if (crdt_read_skip(&r) == QIAO_OK)
				crdt_digest_add(&c->conf, key, klen, start,
				    (size_t)(r.p - start));
		}
	}
	return 0;
}

static int
cases_of(node *n, struct cases *c)
{
	node_txn *txn;
	int rc;

	memset(c, 0, sizeof(*c));
	crdt_digest_init(&c->conf);
	if ((rc = node_store_txn_begin(node_get_store(n), false, &txn)) != 0)
		return rc;
	rc = node_state_scan(txn, CRDT_REC_CASE, NULL, on_case, c);
	node_store_txn_abort(txn);
	return rc;
}

static int
heads(node *n, const uint8_t *key, size_t klen, uint8_t h[][32], size_t *nh)
{
	node_txn *txn;
	int rc;

	if ((rc = node_store_txn_begin(node_get_store(n), false, &txn)) != 0)
		return rc;
	rc = node_state_heads(txn, key, klen, h, nh);
	node_store_txn_abort(txn);
	return rc;
}

static int
open_case(node *n, const char *grid, const char *title, crdt_entry *e)
{
	static const char *const parties[] = { "王某某", "刘某某" };
	crdt_body b;
	uint8_t *body;
	size_t len;

	crdt_body_init(&b);
	crdt_op_begin(&b, "grid", grid, NULL, NULL, 0);
	crdt_body_cstr(&b, "category", "邻里纠纷");
	crdt_body_cstr(&b, "title", title);
	crdt_op_strs(&b, "parties", parties, 2);
	if (crdt_body_finish(&b, &body, &len) != QIAO_OK)
		abort();
	crdt_body_fini(&b);
	return append(n, QIAO_T_CASE_OPEN, body, len, e);
}

/* A step of type on the case at key, as n sees it now. */
static int
step(node *n, const uint8_t *key, size_t klen, uint64_t type)
{
	static const char *const cats[] = { "邻里纠纷", "物业纠纷", "婚姻家庭",
		"劳资纠纷" };
	static const char *const asg[] = { "张伟", "王芳", "李娜" };
	uint8_t h[QIAO_DEPS_MAX][32], id[32], *body;
	char kind, code[QIAO_CODE_MAX], to[QIAO_CODE_MAX];
	size_t nh, len, cut;
	crdt_body b;
	int rc;

	if (!crdt_op_reckey_parse(key, klen, &kind, code, id))
		return QIAO_EINVAL;
	if ((rc = heads(n, key, klen, h, &nh)) != QIAO_OK)
		return rc;
	crdt_body_init(&b);
	crdt_op_begin(&b, "grid", code, id, (const uint8_t(*)[32])h, nh);
	switch (type) {
	case QIAO_T_CASE_ROUTE:
		crdt_body_cstr(&b, "category", cats[check_rand_below(4)]);
		crdt_body_cstr(&b, "assignee", asg[check_rand_below(3)]);
		break;
	case QIAO_T_CASE_TRANSFER:
		cut = (size_t[]) { 6, 9, 12 }[check_rand_below(3)];
		memcpy(to, code, cut);
		to[cut] = '\0';
		crdt_body_cstr(&b, "to", to);
		break;
	case QIAO_T_CASE_RESOLVE:
		crdt_body_cstr(&b, "level",
		    crdt_levels[check_rand_below(4)]);
		break;
	case QIAO_T_CASE_EVALUATE:
		crdt_body_bool(&b, "satisfied", check_rand_below(4) != 0);
		break;
	case QIAO_T_CASE_NOTE:
		crdt_body_cstr(&b, "note", "回访记录");
		break;
	default:
		break;
	}
	if ((rc = crdt_body_finish(&b, &body, &len)) != QIAO_OK) {
		crdt_body_fini(&b);
		return rc;
	}
	crdt_body_fini(&b);
	return append(n, type, body, len, NULL);
}

struct world {
	node *root;
	struct station st[4]; /* district, town, village 1, village 2 */
};

static bool
world_init(struct world *w)
{
	uint8_t rpk[QIAO_KEY_LEN];
	static const enum qiao_role roles[4] = { QIAO_ROLE_DISTRICT,
		QIAO_ROLE_TOWN, QIAO_ROLE_VILLAGE, QIAO_ROLE_VILLAGE };
	static const char *const regions[4] = { DISTRICT, TOWN, V1, V2 };

	memset(w, 0, sizeof(*w));
	if ((w->root = mk_node(QIAO_ROLE_ROOT, "", NULL, rpk, true)) == NULL)
		return false;
	for (int i = 0; i < 4; i++) {
		w->st[i].region = regions[i];
		if ((w->st[i].n = mk_node(roles[i], regions[i], rpk,
			 w->st[i].pk, true)) == NULL)
			return false;
	}
	/* The root enrols the district and the town; the town its villages:
	 * the chain of trust every store checks. */
	if (enrol(w->root, w->st[0].pk, "district", DISTRICT) != QIAO_OK ||
	    enrol(w->root, w->st[1].pk, "town", TOWN) != QIAO_OK)
		return false;
	for (int i = 0; i < 4; i++)
		if (sync_one(w->root, w->st[i].n) != QIAO_OK)
			return false;
	if (enrol(w->st[1].n, w->st[2].pk, "village", V1) != QIAO_OK ||
	    enrol(w->st[1].n, w->st[3].pk, "village", V2) != QIAO_OK)
		return false;
	for (int i = 0; i < 4; i++)
		if (i != 1 && sync_one(w->st[1].n, w->st[i].n) != QIAO_OK)
			return false;
	return true;
}

static void
world_fini(struct world *w)
{
	node_close(w->root);
	for (int i = 0; i < 4; i++)
		node_close(w->st[i].n);
}

static const uint64_t step_types[] = { QIAO_T_CASE_ACCEPT,
	QIAO_T_CASE_ROUTE, QIAO_T_CASE_TRANSFER, QIAO_T_CASE_ARRIVE,
	QIAO_T_CASE_FEEDBACK, QIAO_T_CASE_MEDIATE, QIAO_T_CASE_RESOLVE,
	QIAO_T_CASE_EVALUATE, QIAO_T_CASE_VISIT, QIAO_T_CASE_CLOSE,
	QIAO_T_CASE_REOPEN, QIAO_T_CASE_NOTE };

static void
t_any_order_same_digest_and_conflicts(void)
{
	struct world w;
	struct pile all = { 0 };
	struct cases cs;
	uint8_t ref[32], d[32], conf_ref[32], conf[32];
	uint64_t count, ref_count;
	crdt_entry e;

	node_log_set_level(NODE_LOG_ERR);
	REQUIRE(world_init(&w));
	/* Scripted concurrency first, so the run always has some: village 1
	 * opens a case; the district sees it; then, apart, the village and
	 * the district route it differently and the town (not custodian)
	 * resolves it. */
	REQUIRE_RC(open_case(w.st[2].n, V1 "001", "楼上漏水", &e), QIAO_OK);
	REQUIRE_RC(sync_one(w.st[2].n, w.st[0].n), QIAO_OK);
	REQUIRE_RC(sync_one(w.st[2].n, w.st[1].n), QIAO_OK);
	REQUIRE_RC(cases_of(w.st[2].n, &cs), QIAO_OK);
	REQUIRE(cs.n == 1);
	REQUIRE_RC(step(w.st[2].n, cs.key[0], cs.len[0], QIAO_T_CASE_ROUTE),
	    QIAO_OK);
	REQUIRE_RC(step(w.st[0].n, cs.key[0], cs.len[0], QIAO_T_CASE_ROUTE),
	    QIAO_OK);
	REQUIRE_RC(step(w.st[1].n, cs.key[0], cs.len[0], QIAO_T_CASE_RESOLVE),
	    QIAO_OK);

	/* Then random work with random partial syncs. */
	for (int round = 0; round < 120; round++) {
		int who = (int)check_rand_below(4);
		node *n = w.st[who].n;
		uint64_t r = check_rand_below(10);

		if (r == 0 && who >= 1) {
			char grid[32];

			snprintf(grid, sizeof(grid), "%s%03d",
			    who == 1 ? V2 : w.st[who].region,
			    1 + (int)check_rand_below(3));
			(void)open_case(n, grid, "噪音扰民", NULL);
		} else if (r <= 2) {
			int to = (int)check_rand_below(4);

			if (to != who)
				REQUIRE_RC(sync_one(n, w.st[to].n), QIAO_OK);
		} else {
			REQUIRE_RC(cases_of(n, &cs), QIAO_OK);
			if (cs.n == 0)
				continue;
			{
				size_t c = check_rand_below(cs.n);
				uint64_t t = step_types[check_rand_below(
				    sizeof(step_types) / sizeof(uint64_t))];
				int rc = step(n, cs.key[c], cs.len[c], t);

				/* Out of region (a village on the other
				 * village's case) is refused, never signed. */
				REQUIRE(rc == QIAO_OK || rc == QIAO_EUNAUTH);
			}
		}
	}

	/* Every entry any station holds, fed to fresh stores in different
	 * orders and batchings. */
	REQUIRE_RC(pile_of(w.root, &all), QIAO_OK);
	for (int i = 0; i < 4; i++)
		REQUIRE_RC(pile_of(w.st[i].n, &all), QIAO_OK);
	{
		uint8_t rpk[QIAO_KEY_LEN];

		memcpy(rpk, node_get_conf(w.st[0].n)->root, QIAO_KEY_LEN);
		for (int k = 0; k < 6; k++) {
			node *obs = mk_node(QIAO_ROLE_NONE, "", rpk, NULL,
			    false);

			REQUIRE(obs != NULL);
			shuffle(&all);
			REQUIRE_RC(feed(obs, &all, k % 2 == 1), QIAO_OK);
			REQUIRE_RC(digest(obs, d, &count), QIAO_OK);
			REQUIRE_RC(cases_of(obs, &cs), QIAO_OK);
			crdt_digest_final(&cs.conf, conf);
			if (k == 0) {
				memcpy(ref, d, 32);
				memcpy(conf_ref, conf, 32);
				ref_count = count;
				/* The run must have exercised what it
				 * claims. */
				CHECK(cs.conflicts >= 1);
				CHECK(cs.reviews >= 1);
				CHECK(count >= 2);
			} else {
				CHECK(memcmp(d, ref, 32) == 0);
				CHECK(memcmp(conf, conf_ref, 32) == 0);
				CHECK(count == ref_count);
			}
			/* Rebuilding from the logs gives the same state. */
			if (k == 2) {
				node_txn *txn;

				REQUIRE_RC(node_store_txn_begin(
					       node_get_store(obs), true, &txn),
				    QIAO_OK);
				REQUIRE_RC(node_ingest_rebuild(obs, txn),
				    QIAO_OK);
				REQUIRE_RC(node_store_txn_commit(txn),
				    QIAO_OK);
				REQUIRE_RC(digest(obs, d, NULL), QIAO_OK);
				CHECK(memcmp(d, ref, 32) == 0);
			}
			node_close(obs);
		}
	}
	/* The stations themselves, once everyone has everything, agree too
	 * though they folded in yet other orders, incrementally. */
	for (int i = 0; i < 4; i++) {
		for (int j = 0; j < 4; j++)
			if (i != j)
				REQUIRE_RC(sync_one(w.st[j].n, w.st[i].n),
				    QIAO_OK);
	}
	for (int i = 0; i < 4; i++) {
		REQUIRE_RC(sync_one(w.root, w.st[i].n), QIAO_OK);
		REQUIRE_RC(digest(w.st[i].n, d, NULL), QIAO_OK);
		CHECK(memcmp(d, ref, 32) == 0);
	}
	pile_free(&all);
	world_fini(&w);
}

static void
t_out_of_region_is_refused_everywhere(void)
{
	struct world w;
	uint8_t before[32], after[32], *body;
	crdt_entry e;
	node_keys *keys;
	node_ingest_item it;
	crdt_body b;
	size_t len;
	node_txn *txn;

	node_log_set_level(NODE_LOG_ERR);
	REQUIRE(world_init(&w));
	/* Village 2 may not open a case in village 1's grid: its own store
	 * refuses to sign it. */
	CHECK_RC(open_case(w.st[3].n, V1 "001", "越界", NULL), QIAO_EUNAUTH);
	REQUIRE_RC(open_case(w.st[2].n, V1 "001", "漏水", &e), QIAO_OK);
	REQUIRE_RC(sync_one(w.st[2].n, w.st[0].n), QIAO_OK);
	REQUIRE_RC(digest(w.st[0].n, before, NULL), QIAO_OK);

	/* Signed anyway, by hand with village 2's key, and relayed: the
	 * district keeps the entry (the chain stays whole) but refuses the
	 * op, with the reason, and its state does not move. */
	REQUIRE_RC(node_keys_load(&keys, node_get_dir(w.st[3].n)), QIAO_OK);
	crdt_body_init(&b);
	crdt_op_begin(&b, "grid", V1 "001", e.hash, NULL, 0);
	crdt_body_cstr(&b, "note", "越界");
	REQUIRE_RC(crdt_body_finish(&b, &body, &len), QIAO_OK);
	crdt_body_fini(&b);
	memset(&it, 0, sizeof(it));
	{
		node_head h;

		REQUIRE_RC(node_store_txn_begin(node_get_store(w.st[3].n),
			       false, &txn), QIAO_OK);
		/* Its own store refused to sign: its log is empty. */
		CHECK_RC(node_store_head_get(txn, w.st[3].pk, &h),
		    QIAO_ENOTFOUND);
		node_store_txn_abort(txn);
		it.e.seq = 1;
		it.e.hlc = crdt_hlc_make(now_ms, 0);
	}
	it.e.type = QIAO_T_CASE_NOTE;
	it.e.body_len = len;
	crdt_entry_body_hash(it.e.body_hash, body, len);
	REQUIRE_RC(crdt_entry_sign(&it.e, node_keys_secret(keys)), QIAO_OK);
	node_keys_free(keys);
	it.body = body;
	it.body_len = len;
	REQUIRE_RC(node_ingest(w.st[0].n, &it, 1, NULL), QIAO_OK);
	CHECK_RC(it.rc, QIAO_OK);
	CHECK_RC(it.op_rc, QIAO_EUNAUTH);
	CHECK(it.why != NULL && strstr(it.why, "region") != NULL);
	REQUIRE_RC(digest(w.st[0].n, after, NULL), QIAO_OK);
	CHECK(memcmp(before, after, 32) == 0);
	REQUIRE_RC(node_store_txn_begin(node_get_store(w.st[0].n), false,
		       &txn), QIAO_OK);
	{
		const void *v;
		size_t vl;

		CHECK_RC(node_store_get(txn, NODE_TB_REFUSED, it.e.hash, 32,
			     &v, &vl), QIAO_OK);
	}
	node_store_txn_abort(txn);
	/* A rebuild decides the same. */
	REQUIRE_RC(node_store_txn_begin(node_get_store(w.st[0].n), true,
		       &txn), QIAO_OK);
	REQUIRE_RC(node_ingest_rebuild(w.st[0].n, txn), QIAO_OK);
	{
		const void *v;
		size_t vl;

		CHECK_RC(node_store_get(txn, NODE_TB_REFUSED, it.e.hash, 32,
			     &v, &vl), QIAO_OK);
	}
	REQUIRE_RC(node_store_txn_commit(txn), QIAO_OK);
	REQUIRE_RC(digest(w.st[0].n, after, NULL), QIAO_OK);
	CHECK(memcmp(before, after, 32) == 0);
	free(body);
	world_fini(&w);
}

static void
t_find_by_id_prefix(void)
{
	struct world w;
	crdt_entry e;
	node_txn *txn;
	uint8_t key[QIAO_RECKEY_MAX];
	char hex[65];
	size_t kl;

	node_log_set_level(NODE_LOG_ERR);
	REQUIRE(world_init(&w));
	REQUIRE_RC(open_case(w.st[2].n, V1 "002", "占道", &e), QIAO_OK);
	crdt_hex_encode(hex, e.hash, 32);
	REQUIRE_RC(node_store_txn_begin(node_get_store(w.st[2].n), false,
		       &txn), QIAO_OK);
	hex[12] = '\0';
	CHECK_RC(node_state_find(txn, CRDT_REC_CASE, hex, key, &kl), QIAO_OK);
	CHECK(key[0] == CRDT_REC_CASE);
	hex[9] = '\0'; /* odd length works too */
	CHECK_RC(node_state_find(txn, CRDT_REC_CASE, hex, key, &kl), QIAO_OK);
	CHECK_RC(node_state_find(txn, CRDT_REC_MEETING, hex, key, &kl),
	    QIAO_ENOTFOUND);
	CHECK_RC(node_state_find(txn, CRDT_REC_CASE, "1234567", key, &kl),
	    QIAO_EINVAL);
	CHECK_RC(node_state_find(txn, CRDT_REC_CASE, "zzzzzzzzzz", key, &kl),
	    QIAO_EINVAL);
	node_store_txn_abort(txn);
	world_fini(&w);
}

CHECK_MAIN(T(t_any_order_same_digest_and_conflicts),
    T(t_out_of_region_is_refused_everywhere), T(t_find_by_id_prefix))
