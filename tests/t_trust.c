/* Trust at ingest: enrolment, revocation, supersede, expiry, who may
 * revoke whom, and convergence of trust state whatever the arrival order.
 * Real nodes in temp dirs; entries move between them by node_ingest. */
#include "tests/check.h"

#include <signal.h>

#include "crdt/body.h"
#include "crdt/cert.h"
#include "crdt/hlc.h"
#include "crdt/types.h"
#include "node/ingest.h"
#include "node/keys.h"
#include "node/node.h"
#include "node/store.h"
#include "node/trust.h"
#include "nodes.h"

/* A node in a fresh directory, on the test clock. */
static node *
mk(enum qiao_role role, const char *region, const uint8_t *root)
{
	return tn_clocked(check_tmpdir(), role, region, root,
	    UINT64_C(64) << 20);
}

#define PK(n) node_self(n)

static int
note(node *n, const char *text)
{
	crdt_body b;
	uint8_t *body;
	size_t len;
	int rc;

	crdt_body_init(&b);
	crdt_body_cstr(&b, "text", text);
	rc = crdt_body_finish(&b, &body, &len);
	crdt_body_fini(&b);
	if (rc != QIAO_OK)
		return rc;
	rc = node_append(n, QIAO_T_NOTE, body, len, NULL, NULL);
	free(body);
	return rc;
}

static int
enrol_body(const uint8_t *subj, const char *role, const char *region,
    uint64_t until, const uint8_t *supersedes, uint64_t after,
    uint8_t **body, size_t *len)
{
	crdt_cert c;

	memset(&c, 0, sizeof(c));
	memcpy(c.subject, subj, QIAO_KEY_LEN);
	snprintf(c.role, sizeof(c.role), "%s", role);
	snprintf(c.region, sizeof(c.region), "%s", region);
	snprintf(c.name, sizeof(c.name), "站 %s", region);
	c.until = until;
	if (supersedes != NULL) {
		c.has_supersedes = true;
		memcpy(c.supersedes, supersedes, QIAO_KEY_LEN);
		c.after = after;
	}
	return crdt_cert_encode(&c, body, len);
}

static int
enrol_full(node *issuer, const uint8_t *subj, const char *role,
    const char *region, uint64_t until, const uint8_t *supersedes,
    uint64_t after, const char **why)
{
	uint8_t *body;
	size_t len;
	int rc;

	if ((rc = enrol_body(subj, role, region, until, supersedes, after,
		 &body, &len)) != QIAO_OK)
		return rc;
	rc = node_append(issuer, QIAO_T_ENROL, body, len, NULL, why);
	free(body);
	return rc;
}

static int
enrol(node *issuer, node *subj, const char *role, const char *region)
{
	return enrol_full(issuer, PK(subj), role, region, 0, NULL, 0, NULL);
}

static int
revoke_body(const uint8_t *subj, uint64_t after, uint8_t **body,
    size_t *len)
{
	crdt_revoke r;

	memset(&r, 0, sizeof(r));
	memcpy(r.subject, subj, QIAO_KEY_LEN);
	r.after = after;
	return crdt_revoke_encode(&r, body, len);
}

static int
revoke_by(node *issuer, const uint8_t *subj, uint64_t after, const char **why)
{
	uint8_t *body;
	size_t len;
	int rc;

	if ((rc = revoke_body(subj, after, &body, &len)) != QIAO_OK)
		return rc;
	rc = node_append(issuer, QIAO_T_REVOKE, body, len, NULL, why);
	free(body);
	return rc;
}

/* A pool of entries outside any store: each station's own log, plus
 * entries signed past what its store would take (a thief's, say). */
struct pent {
	crdt_entry e;
	uint8_t *body;
	size_t len;
};

struct plog {
	uint8_t author[QIAO_KEY_LEN];
	struct pent v[32];
	size_t n;
};

struct pool {
	struct plog logs[12];
	size_t n;
};

static void
pool_free(struct pool *p)
{
	for (size_t i = 0; i < p->n; i++)
		for (size_t j = 0; j < p->logs[i].n; j++)
			free(p->logs[i].v[j].body);
	p->n = 0;
}

/* Adds n's own log to the pool. */
static bool
pool_add(struct pool *p, node *n)
{
	struct plog *l = &p->logs[p->n];
	node_txn *txn;
	node_head h;
	bool ok = true;

	if (p->n == 12 ||
	    node_store_txn_begin(node_get_store(n), false, &txn) != QIAO_OK)
		return false;
	memset(l, 0, sizeof(*l));
	memcpy(l->author, PK(n), QIAO_KEY_LEN);
	if (node_store_head_get(txn, PK(n), &h) != QIAO_OK)
		h.seq = 0;
	for (uint64_t s = 1; ok && s <= h.seq && l->n < 32; s++) {
		struct pent *pe = &l->v[l->n];
		const uint8_t *b;

		ok = node_store_entry_get(txn, PK(n), s, &pe->e) == QIAO_OK &&
		    node_store_body_get(txn, pe->e.body_hash, &b, &pe->len) ==
			QIAO_OK &&
		    (pe->body = malloc(pe->len ? pe->len : 1)) != NULL;
		if (ok) {
			memcpy(pe->body, b, pe->len);
			l->n++;
		}
	}
	node_store_txn_abort(txn);
	p->n++;
	return ok;
}

/* Signs a next entry of n's key onto its log in the pool, bypassing the
 * store (which would refuse it). */
static bool
pool_forge(struct pool *p, node *n, uint64_t type, const uint8_t *body,
    size_t len, uint64_t hlc_ms)
{
	struct plog *l = NULL;
	struct pent *pe;
	node_keys *k;
	int rc;

	for (size_t i = 0; i < p->n; i++)
		if (memcmp(p->logs[i].author, PK(n), QIAO_KEY_LEN) == 0)
			l = &p->logs[i];
	if (l == NULL || l->n == 32 ||
	    node_keys_load(&k, node_get_dir(n)) != QIAO_OK)
		return false;
	pe = &l->v[l->n];
	memset(&pe->e, 0, sizeof(pe->e));
	pe->e.seq = l->n + 1;
	if (l->n > 0) {
		pe->e.has_prev = true;
		memcpy(pe->e.prev, l->v[l->n - 1].e.hash, QIAO_HASH_LEN);
	}
	pe->e.hlc = crdt_hlc_make(hlc_ms, 0);
	pe->e.type = type;
	pe->e.body_len = len;
	crdt_entry_body_hash(pe->e.body_hash, body, len);
	rc = crdt_entry_sign(&pe->e, node_keys_secret(k));
	node_keys_free(k);
	if (rc != QIAO_OK || (pe->body = malloc(len)) == NULL)
		return false;
	memcpy(pe->body, body, len);
	pe->len = len;
	l->n++;
	return true;
}

static uint64_t
head_seq(node *n, const uint8_t *author)
{
	node_txn *txn;
	node_head h;
	uint64_t s = 0;

	if (node_store_txn_begin(node_get_store(n), false, &txn) != QIAO_OK)
		return UINT64_MAX;
	if (node_store_head_get(txn, author, &h) == QIAO_OK)
		s = h.seq;
	node_store_txn_abort(txn);
	return s;
}

/* Offers entries [from, to] of one pooled log to n in one batch; the
 * items' fates go to rcs (may be NULL). */
static int
offer(node *n, const struct plog *l, uint64_t from, uint64_t to, int *rcs,
    node_ingest_stats *st)
{
	node_ingest_item it[32];
	size_t k = 0;
	int rc;

	for (uint64_t s = from; s <= to && s <= l->n; s++) {
		memset(&it[k], 0, sizeof(it[k]));
		it[k].e = l->v[s - 1].e;
		it[k].body = l->v[s - 1].body;
		it[k].body_len = l->v[s - 1].len;
		k++;
	}
	rc = node_ingest(n, it, k, st);
	for (size_t i = 0; rcs != NULL && i < k; i++)
		rcs[i] = it[i].rc;
	return rc;
}

/*
 * Delivers the pool to n the way sync would, in an order drawn from the
 * seeded generator: rounds in which every log offers what n lacks, in
 * random batches that mix authors, until a round stores nothing.
 */
static bool
deliver(node *n, const struct pool *p)
{
	for (int round = 0; round < 64; round++) {
		size_t order[12], stored = 0;
		node_ingest_item it[64];
		size_t k = 0;

		for (size_t i = 0; i < p->n; i++)
			order[i] = i;
		for (size_t i = p->n; i > 1; i--) {
			size_t j = check_rand_below(i), t = order[i - 1];

			order[i - 1] = order[j];
			order[j] = t;
		}
		for (size_t oi = 0; oi < p->n; oi++) {
			const struct plog *l = &p->logs[order[oi]];
			uint64_t have = head_seq(n, l->author);
			uint64_t upto = l->n;

			/* Sometimes only part of a log this time. */
			if (upto > have + 1 && check_rand_below(3) == 0)
				upto = have + 1 + check_rand_below(upto - have);
			for (uint64_t s = have + 1; s <= upto; s++) {
				memset(&it[k], 0, sizeof(it[k]));
				it[k].e = l->v[s - 1].e;
				it[k].body = l->v[s - 1].body;
				it[k].body_len = l->v[s - 1].len;
				if (++k == 64 || check_rand_below(4) == 0) {
					node_ingest_stats st;

					if (node_ingest(n, it, k, &st) != 0)
						return false;
					stored += st.stored;
					k = 0;
				}
			}
		}
		if (k > 0) {
			node_ingest_stats st;

			if (node_ingest(n, it, k, &st) != QIAO_OK)
				return false;
			stored += st.stored;
		}
		if (stored == 0)
			return true;
	}
	return false;
}

/* Moves everything a holds to b, as sync would (repeat until quiet). */
static bool
pull(node *b, node *a)
{
	struct pool p = { 0 };
	node_txn *txn;
	bool ok = true;

	/* Every author a holds, as a pooled log of a's copy. */
	if (node_store_txn_begin(node_get_store(a), false, &txn) != QIAO_OK)
		return false;
	{
		node_cursor *c;
		const void *k, *v;
		size_t kl, vl;
		int rc;

		if (node_store_cursor_open(txn, NODE_TB_HEADS, &c) != QIAO_OK) {
			node_store_txn_abort(txn);
			return false;
		}
		for (rc = node_store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
		     rc == QIAO_OK && p.n < 12;
		     rc = node_store_cursor_next(c, &k, &kl, &v, &vl)) {
			struct plog *l = &p.logs[p.n++];
			node_head h;

			memset(l, 0, sizeof(*l));
			memcpy(l->author, k, QIAO_KEY_LEN);
			if (node_store_head_get(txn, l->author, &h) != QIAO_OK)
				continue;
			for (uint64_t s = 1; s <= h.seq && l->n < 32; s++) {
				struct pent *pe = &l->v[l->n];
				const uint8_t *b2;

				if (node_store_entry_get(txn, l->author, s,
					&pe->e) != QIAO_OK ||
				    node_store_body_get(txn, pe->e.body_hash,
					&b2, &pe->len) != QIAO_OK ||
				    (pe->body = malloc(pe->len + 1)) == NULL) {
					ok = false;
					break;
				}
				memcpy(pe->body, b2, pe->len);
				l->n++;
			}
		}
		node_store_cursor_close(c);
	}
	node_store_txn_abort(txn);
	ok = ok && deliver(b, &p);
	pool_free(&p);
	return ok;
}

/* A digest of what trust and the logs say: heads (author, seq, hash),
 * and the certs and revokes tables byte for byte. */
static int
dig_row(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	crypto_generichash_state *h = ctx;
	uint8_t len[16];

	node_store_be64(len, klen);
	node_store_be64(len + 8, vlen);
	crypto_generichash_update(h, len, sizeof(len));
	crypto_generichash_update(h, key, klen);
	crypto_generichash_update(h, val, vlen);
	return 0;
}

static int
dig_head(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	crypto_generichash_state *h = ctx;

	(void)vlen;
	crypto_generichash_update(h, key, klen);
	crypto_generichash_update(h, val, 40); /* seq, hash; not the tick */
	return 0;
}

static bool
digest(node *n, uint8_t out[32])
{
	crypto_generichash_state h;
	node_txn *txn;
	bool ok;

	if (node_store_txn_begin(node_get_store(n), false, &txn) != QIAO_OK)
		return false;
	crypto_generichash_init(&h, NULL, 0, 32);
	ok = node_store_scan(txn, NODE_TB_HEADS, NULL, 0, dig_head, &h) == 0 &&
	    node_store_scan(txn, NODE_TB_CERTS, NULL, 0, dig_row, &h) == 0 &&
	    node_store_scan(txn, NODE_TB_REVOKES, NULL, 0, dig_row, &h) == 0;
	node_store_txn_abort(txn);
	crypto_generichash_final(&h, out, 32);
	return ok;
}

static int
lookup(node *n, const uint8_t *key, node_trust_id *id)
{
	node_txn *txn;
	int rc;

	if ((rc = node_store_txn_begin(node_get_store(n), false, &txn)) != 0)
		return rc;
	rc = node_trust_lookup(n, txn, key, id);
	node_store_txn_abort(txn);
	return rc;
}

static int
peer(node *n, const uint8_t *key, const char **why)
{
	node_txn *txn;
	int rc;

	if ((rc = node_store_txn_begin(node_get_store(n), false, &txn)) != 0)
		return rc;
	rc = node_trust_peer(n, txn, key, tn_now_ms, NULL, why);
	node_store_txn_abort(txn);
	return rc;
}

static int
rebuild(node *n)
{
	node_txn *txn;
	int rc;

	if ((rc = node_store_txn_begin(node_get_store(n), true, &txn)) != 0)
		return rc;
	if ((rc = node_ingest_rebuild(n, txn)) != QIAO_OK) {
		node_store_txn_abort(txn);
		return rc;
	}
	return node_store_txn_commit(txn);
}

/* A district: the root, the district node, one town, two villages. */
struct world {
	node *root, *dist, *town, *v1, *v2;
};

static bool
world(struct world *w)
{
	tn_start();
	if ((w->root = mk(QIAO_ROLE_ROOT, "", NULL)) == NULL)
		return false;
	w->dist = mk(QIAO_ROLE_DISTRICT, "500116", PK(w->root));
	w->town = mk(QIAO_ROLE_TOWN, "500116001", PK(w->root));
	w->v1 = mk(QIAO_ROLE_VILLAGE, "500116001001", PK(w->root));
	w->v2 = mk(QIAO_ROLE_VILLAGE, "500116001002", PK(w->root));
	return w->dist && w->town && w->v1 && w->v2 &&
	    enrol(w->root, w->dist, "district", "500116") == QIAO_OK &&
	    enrol(w->root, w->town, "town", "500116001") == QIAO_OK &&
	    pull(w->town, w->root) &&
	    enrol(w->town, w->v1, "village", "500116001001") == QIAO_OK &&
	    enrol(w->town, w->v2, "village", "500116001002") == QIAO_OK;
}

static void
t_enrolled_chain_accepted(void)
{
	struct world w;
	node_trust_id id;

	REQUIRE(world(&w));
	REQUIRE_RC(note(w.v1, "受理登记"), QIAO_OK);
	REQUIRE_RC(note(w.v1, "调解"), QIAO_OK);
	REQUIRE(pull(w.dist, w.root));
	REQUIRE(pull(w.dist, w.town));
	REQUIRE(pull(w.dist, w.v1));
	CHECK(head_seq(w.dist, PK(w.v1)) == 2);
	CHECK(head_seq(w.dist, PK(w.town)) == 2);
	REQUIRE_RC(lookup(w.dist, PK(w.v1), &id), QIAO_OK);
	CHECK(id.role == QIAO_ROLE_VILLAGE);
	CHECK_STR(id.region, "500116001001");
	CHECK(memcmp(id.issuer, PK(w.town), QIAO_KEY_LEN) == 0);
	CHECK(id.revoked_after == UINT64_MAX);
	REQUIRE_RC(lookup(w.dist, PK(w.root), &id), QIAO_OK);
	CHECK(id.role == QIAO_ROLE_ROOT);
}

static void
t_unenrolled_records_locally_accepted_later(void)
{
	struct world w;
	struct pool p = { 0 };
	int rcs[4];

	REQUIRE(world(&w));
	/* v1 holds no certificate of itself: it still records. */
	REQUIRE_RC(note(w.v1, "a"), QIAO_OK);
	REQUIRE_RC(note(w.v1, "b"), QIAO_OK);
	REQUIRE(pool_add(&p, w.v1));
	/* The district does not know the town's enrolment of v1 yet. */
	REQUIRE(pull(w.dist, w.root));
	REQUIRE_RC(offer(w.dist, &p.logs[0], 1, 2, rcs, NULL), QIAO_OK);
	CHECK_RC(rcs[0], QIAO_EUNKNOWN);
	CHECK(head_seq(w.dist, PK(w.v1)) == 0);
	/* Not even on its own say: an entry is not its own certificate. */
	CHECK_RC(peer(w.dist, PK(w.v1), &(const char *) { NULL }),
	    QIAO_EUNKNOWN);
	/* The enrolment arrives (through the town); the same entries are
	 * offered again, as sync and import retries do. */
	REQUIRE(pull(w.dist, w.town));
	REQUIRE_RC(offer(w.dist, &p.logs[0], 1, 2, rcs, NULL), QIAO_OK);
	CHECK_RC(rcs[0], QIAO_OK);
	CHECK_RC(rcs[1], QIAO_OK);
	CHECK(head_seq(w.dist, PK(w.v1)) == 2);
	/* v1 learns of its enrolment and goes on. */
	REQUIRE(pull(w.v1, w.town));
	CHECK_RC(note(w.v1, "c"), QIAO_OK);
	pool_free(&p);
}

/* A wrong end date, corrected: the station's own records never leave its
 * log, and it never signs a seq twice. */
static void
t_own_log_never_cut(void)
{
	struct world w;
	struct pool p = { 0 };
	node *v3;
	int rcs[4];

	REQUIRE(world(&w));
	REQUIRE((v3 = mk(QIAO_ROLE_VILLAGE, "500116001003", PK(w.root))));
	REQUIRE_RC(note(v3, "受理"), QIAO_OK);
	REQUIRE_RC(note(v3, "调解"), QIAO_OK);
	/* The town types last year's date. */
	REQUIRE_RC(enrol_full(w.town, PK(v3), "village", "500116001003",
		       TN_T0 - 86400000, NULL, 0, NULL),
	    QIAO_OK);
	REQUIRE(pull(v3, w.town));
	CHECK(head_seq(v3, PK(v3)) == 2);
	CHECK_RC(note(v3, "x"), QIAO_EEXPIRED);
	REQUIRE(pool_add(&p, v3));
	REQUIRE(pull(w.dist, w.root));
	REQUIRE(pull(w.dist, w.town));
	REQUIRE_RC(offer(w.dist, &p.logs[0], 1, 2, rcs, NULL), QIAO_OK);
	CHECK_RC(rcs[0], QIAO_EEXPIRED);
	/* Corrected: enrolled again without an end. */
	REQUIRE_RC(enrol(w.town, v3, "village", "500116001003"), QIAO_OK);
	REQUIRE(pull(v3, w.town));
	REQUIRE_RC(note(v3, "回访"), QIAO_OK);
	CHECK(head_seq(v3, PK(v3)) == 3);
	REQUIRE(pull(w.dist, w.town));
	REQUIRE(pull(w.dist, v3));
	CHECK(head_seq(w.dist, PK(v3)) == 3);
	pool_free(&p);
}

static void
t_revocation_before_later_entries(void)
{
	struct world w;
	struct pool p = { 0 };
	int rcs[4];

	REQUIRE(world(&w));
	for (int i = 0; i < 4; i++)
		REQUIRE_RC(note(w.v1, "x"), QIAO_OK);
	REQUIRE(pool_add(&p, w.v1));
	REQUIRE_RC(revoke_by(w.town, PK(w.v1), 2, NULL), QIAO_OK);
	REQUIRE(pull(w.dist, w.root));
	REQUIRE(pull(w.dist, w.town));
	REQUIRE_RC(offer(w.dist, &p.logs[0], 1, 4, rcs, NULL), QIAO_OK);
	CHECK_RC(rcs[0], QIAO_OK);
	CHECK_RC(rcs[1], QIAO_OK);
	CHECK_RC(rcs[2], QIAO_EREVOKED);
	CHECK_RC(rcs[3], QIAO_EREVOKED);
	CHECK(head_seq(w.dist, PK(w.v1)) == 2);
	pool_free(&p);
}

static void
t_revocation_after_later_entries_cuts_them(void)
{
	struct world w;
	node_trust_id id;
	node_txn *txn;
	uint64_t n = 0;

	REQUIRE(world(&w));
	for (int i = 0; i < 5; i++)
		REQUIRE_RC(note(w.v1, "x"), QIAO_OK);
	REQUIRE(pull(w.dist, w.root));
	REQUIRE(pull(w.dist, w.town));
	REQUIRE(pull(w.dist, w.v1));
	REQUIRE(pull(w.town, w.v1));
	REQUIRE(head_seq(w.dist, PK(w.v1)) == 5);
	REQUIRE_RC(revoke_by(w.town, PK(w.v1), 2, NULL), QIAO_OK);
	/* The issuer's own store cuts them at once. */
	CHECK(head_seq(w.town, PK(w.v1)) == 2);
	REQUIRE(pull(w.dist, w.town));
	CHECK(head_seq(w.dist, PK(w.v1)) == 2);
	/* The cut entries are kept as evidence, not in the log. */
	REQUIRE_RC(node_store_txn_begin(node_get_store(w.dist), false, &txn),
	    QIAO_OK);
	CHECK_RC(node_store_count(txn, NODE_TB_REFUSED, &n), QIAO_OK);
	node_store_txn_abort(txn);
	CHECK(n == 3);
	REQUIRE_RC(lookup(w.dist, PK(w.v1), &id), QIAO_OK);
	CHECK(id.revoked_after == 2);
	/* The earlier ones stay, and a rebuild agrees. */
	REQUIRE_RC(rebuild(w.dist), QIAO_OK);
	CHECK(head_seq(w.dist, PK(w.v1)) == 2);
}

static void
t_revocation_in_same_batch_as_entries(void)
{
	struct world w;
	struct pool p = { 0 };
	node_ingest_item it[8];
	node_ingest_stats st;
	uint8_t *body;
	size_t len, k = 0;

	REQUIRE(world(&w));
	for (int i = 0; i < 4; i++)
		REQUIRE_RC(note(w.v1, "x"), QIAO_OK);
	REQUIRE(pull(w.dist, w.root));
	REQUIRE(pull(w.dist, w.town));
	REQUIRE(pool_add(&p, w.v1));
	REQUIRE(pool_add(&p, w.town));
	REQUIRE_RC(revoke_body(PK(w.v1), 1, &body, &len), QIAO_OK);
	REQUIRE(pool_forge(&p, w.town, QIAO_T_REVOKE, body, len, TN_T0 + 5));
	free(body);
	/* One batch: v1's 1..4, then the town's revocation after 1. */
	for (uint64_t s = 1; s <= 4; s++) {
		memset(&it[k], 0, sizeof(it[k]));
		it[k].e = p.logs[0].v[s - 1].e;
		it[k].body = p.logs[0].v[s - 1].body;
		it[k].body_len = p.logs[0].v[s - 1].len;
		k++;
	}
	memset(&it[k], 0, sizeof(it[k]));
	it[k].e = p.logs[1].v[p.logs[1].n - 1].e;
	it[k].body = p.logs[1].v[p.logs[1].n - 1].body;
	it[k].body_len = p.logs[1].v[p.logs[1].n - 1].len;
	k++;
	REQUIRE_RC(node_ingest(w.dist, it, k, &st), QIAO_OK);
	CHECK(head_seq(w.dist, PK(w.v1)) == 1);
	CHECK_RC(it[0].rc, QIAO_OK);
	CHECK_RC(it[1].rc, QIAO_EREVOKED);
	CHECK_RC(it[3].rc, QIAO_EREVOKED);
	CHECK_RC(it[4].rc, QIAO_OK);
	CHECK(st.stored == 2);
	pool_free(&p);
}

static void
t_supersede_lost_station(void)
{
	struct world w;
	struct pool p = { 0 };
	node_trust_id id;
	node *v1b;
	int rcs[4];

	REQUIRE(world(&w));
	REQUIRE_RC(note(w.v1, "a"), QIAO_OK);
	REQUIRE_RC(note(w.v1, "b"), QIAO_OK);
	REQUIRE(pull(w.dist, w.root));
	REQUIRE(pull(w.dist, w.town));
	REQUIRE(pull(w.dist, w.v1));
	/* The PC is stolen after seq 2; the thief signs on with the key. */
	REQUIRE_RC(note(w.v1, "thief"), QIAO_OK);
	REQUIRE(pool_add(&p, w.v1));
	REQUIRE((v1b = mk(QIAO_ROLE_VILLAGE, "500116001001", PK(w.root))));
	REQUIRE_RC(enrol_full(w.town, PK(v1b), "village", "500116001001", 0,
		       PK(w.v1), 2, NULL),
	    QIAO_OK);
	REQUIRE(pull(w.dist, w.town));
	REQUIRE_RC(offer(w.dist, &p.logs[0], 3, 3, rcs, NULL), QIAO_OK);
	CHECK_RC(rcs[0], QIAO_EREVOKED);
	CHECK(head_seq(w.dist, PK(w.v1)) == 2);
	/* The replacement writes, and carries the old key's work on. */
	REQUIRE(pull(v1b, w.town));
	REQUIRE_RC(note(v1b, "继续"), QIAO_OK);
	REQUIRE(pull(w.dist, v1b));
	CHECK(head_seq(w.dist, PK(v1b)) == 1);
	REQUIRE_RC(lookup(w.dist, PK(v1b), &id), QIAO_OK);
	CHECK(id.has_supersedes);
	CHECK(memcmp(id.supersedes, PK(w.v1), QIAO_KEY_LEN) == 0);
	CHECK(id.supersedes_after == 2);
	REQUIRE_RC(lookup(w.dist, PK(w.v1), &id), QIAO_OK);
	CHECK(id.revoked_after == 2);
	/* The old key may not connect any more; the new one may. */
	CHECK_RC(peer(w.dist, PK(w.v1), &(const char *) { NULL }),
	    QIAO_EREVOKED);
	CHECK_RC(peer(w.dist, PK(v1b), &(const char *) { NULL }), QIAO_OK);
	pool_free(&p);
}

static void
t_expiry(void)
{
	struct world w;
	struct pool p = { 0 };
	const char *why = NULL;
	node *v3;
	int rcs[4];

	REQUIRE(world(&w));
	REQUIRE((v3 = mk(QIAO_ROLE_VILLAGE, "500116001003", PK(w.root))));
	REQUIRE_RC(enrol_full(w.town, PK(v3), "village", "500116001003",
		       TN_T0 + 60000, NULL, 0, NULL),
	    QIAO_OK);
	REQUIRE(pull(v3, w.town));
	REQUIRE_RC(note(v3, "in time"), QIAO_OK);
	REQUIRE(pool_add(&p, v3));
	tn_now_ms = TN_T0 + 120000;
	/* Its own node knows the enrolment ended. */
	CHECK_RC(note(v3, "too late"), QIAO_EEXPIRED);
	/* A station whose clock says otherwise is still held to its own
	 * stamps: an entry stamped after the end is refused everywhere. */
	{
		uint8_t *body;
		size_t len;
		crdt_body b;

		crdt_body_init(&b);
		crdt_body_cstr(&b, "text", "late");
		REQUIRE_RC(crdt_body_finish(&b, &body, &len), QIAO_OK);
		crdt_body_fini(&b);
		REQUIRE(pool_forge(&p, v3, QIAO_T_NOTE, body, len,
		    TN_T0 + 90000));
		free(body);
	}
	REQUIRE(pull(w.dist, w.root));
	REQUIRE(pull(w.dist, w.town));
	REQUIRE_RC(offer(w.dist, &p.logs[0], 1, 2, rcs, NULL), QIAO_OK);
	CHECK_RC(rcs[0], QIAO_OK);
	CHECK_RC(rcs[1], QIAO_EEXPIRED);
	CHECK_RC(peer(w.dist, PK(v3), &why), QIAO_EEXPIRED);
	CHECK(why != NULL);
	pool_free(&p);
}

static void
t_who_may_enrol(void)
{
	struct world w;
	const char *why = NULL;
	node *x;

	REQUIRE(world(&w));
	REQUIRE((x = mk(QIAO_ROLE_VILLAGE, "500116002001", PK(w.root))));
	/* A town only under its own code, only villages. */
	CHECK_RC(enrol_full(w.town, PK(x), "village", "500116002001", 0, NULL,
		     0, &why),
	    QIAO_EUNAUTH);
	CHECK(why != NULL && strstr(why, "may not enrol") != NULL);
	CHECK_RC(enrol(w.town, x, "town", "500116001"), QIAO_EUNAUTH);
	/* A village enrols nobody. */
	CHECK_RC(enrol(w.v1, x, "village", "500116001001"), QIAO_EUNAUTH);
	/* Nobody enrols the root. */
	CHECK_RC(enrol_full(w.town, PK(w.root), "village", "500116001009", 0,
		     NULL, 0, NULL),
	    QIAO_EUNAUTH);
	/* The district under its code; the root anywhere. */
	REQUIRE(pull(w.dist, w.root));
	CHECK_RC(enrol(w.dist, x, "village", "500116002001"), QIAO_OK);
	CHECK_RC(enrol(w.root, x, "village", "500117002001"), QIAO_OK);
	/* A malformed certificate is refused as such. */
	CHECK_RC(enrol(w.root, x, "village", "5001"), QIAO_EMALFORMED);
}

static void
t_unauthorised_enrolment_does_not_count(void)
{
	struct world w;
	struct pool p = { 0 };
	node *x, *y;
	uint8_t *body;
	size_t len;
	int rcs[4];

	REQUIRE(world(&w));
	REQUIRE((x = mk(QIAO_ROLE_VILLAGE, "500116001009", PK(w.root))));
	REQUIRE((y = mk(QIAO_ROLE_VILLAGE, "500116002009", PK(w.root))));
	REQUIRE_RC(note(x, "x"), QIAO_OK);
	REQUIRE_RC(note(y, "y"), QIAO_OK);
	/* A village signs an enrolment of x; the town one of y outside its
	 * code. Their own stores would refuse; other nodes must too. */
	REQUIRE(pull(w.v1, w.town));
	REQUIRE(pool_add(&p, w.v1));
	REQUIRE(pool_add(&p, w.town));
	REQUIRE(pool_add(&p, x));
	REQUIRE(pool_add(&p, y));
	REQUIRE_RC(enrol_body(PK(x), "village", "500116001009", 0, NULL, 0,
		       &body, &len),
	    QIAO_OK);
	REQUIRE(pool_forge(&p, w.v1, QIAO_T_ENROL, body, len, TN_T0 + 10));
	free(body);
	REQUIRE_RC(enrol_body(PK(y), "village", "500116002009", 0, NULL, 0,
		       &body, &len),
	    QIAO_OK);
	REQUIRE(pool_forge(&p, w.town, QIAO_T_ENROL, body, len, TN_T0 + 10));
	free(body);
	REQUIRE(pull(w.dist, w.root));
	REQUIRE(deliver(w.dist, &p));
	CHECK(head_seq(w.dist, PK(w.v1)) == 1);
	CHECK(head_seq(w.dist, PK(w.town)) == 3);
	CHECK(head_seq(w.dist, PK(x)) == 0);
	CHECK(head_seq(w.dist, PK(y)) == 0);
	REQUIRE_RC(offer(w.dist, &p.logs[2], 1, 1, rcs, NULL), QIAO_OK);
	CHECK_RC(rcs[0], QIAO_EUNKNOWN);
	CHECK_RC(peer(w.dist, PK(y), &(const char *) { NULL }),
	    QIAO_EUNKNOWN);
	pool_free(&p);
}

static void
t_who_may_revoke(void)
{
	struct world w;
	struct pool p = { 0 };
	node_trust_id id;
	const char *why = NULL;
	node *t2;
	uint8_t *body;
	size_t len;
	int rcs[4];

	REQUIRE(world(&w));
	REQUIRE((t2 = mk(QIAO_ROLE_TOWN, "500116002", PK(w.root))));
	REQUIRE_RC(enrol(w.root, t2, "town", "500116002"), QIAO_OK);
	REQUIRE(pull(t2, w.root));
	REQUIRE_RC(note(w.v1, "a"), QIAO_OK);
	REQUIRE_RC(note(w.town, "t"), QIAO_OK);
	/* Another town may not revoke the first town's village... */
	CHECK_RC(revoke_by(t2, PK(w.v1), 0, &why), QIAO_EUNAUTH);
	CHECK(why != NULL && strstr(why, "may not revoke") != NULL);
	/* ...nor a village anyone but itself, nor anyone the root. */
	CHECK_RC(revoke_by(w.v2, PK(w.v1), 0, NULL), QIAO_EUNAUTH);
	CHECK_RC(revoke_by(w.town, PK(w.root), 0, NULL), QIAO_EUNAUTH);
	CHECK_RC(revoke_by(w.root, PK(w.root), 0, NULL), QIAO_EUNAUTH);

	/* A rogue town signs it anyway, and tries the detour: enrol the
	 * other town's key as its own village, then revoke that key. Every
	 * other node must shrug all three off. */
	REQUIRE(pool_add(&p, t2));
	REQUIRE_RC(revoke_body(PK(w.v1), 0, &body, &len), QIAO_OK);
	REQUIRE(pool_forge(&p, t2, QIAO_T_REVOKE, body, len, TN_T0 + 10));
	free(body);
	REQUIRE_RC(enrol_body(PK(w.town), "village", "500116002009", 0, NULL,
		       0, &body, &len),
	    QIAO_OK);
	REQUIRE(pool_forge(&p, t2, QIAO_T_ENROL, body, len, TN_T0 + 11));
	free(body);
	REQUIRE_RC(revoke_body(PK(w.town), 0, &body, &len), QIAO_OK);
	REQUIRE(pool_forge(&p, t2, QIAO_T_REVOKE, body, len, TN_T0 + 12));
	free(body);
	REQUIRE(pull(w.dist, w.root));
	REQUIRE(pull(w.dist, w.town));
	REQUIRE(pull(w.dist, w.v1));
	REQUIRE_RC(offer(w.dist, &p.logs[0], 1, 3, rcs, NULL), QIAO_OK);
	/* Stored, in the log (the chain stays whole), but of no effect. */
	CHECK_RC(rcs[0], QIAO_OK);
	CHECK_RC(rcs[1], QIAO_OK);
	CHECK_RC(rcs[2], QIAO_OK);
	CHECK(head_seq(w.dist, PK(t2)) == 3);
	CHECK(head_seq(w.dist, PK(w.v1)) == 1);
	CHECK(head_seq(w.dist, PK(w.town)) == 3);
	REQUIRE_RC(lookup(w.dist, PK(w.town), &id), QIAO_OK);
	CHECK(id.role == QIAO_ROLE_TOWN);
	CHECK_STR(id.region, "500116001");
	CHECK(id.revoked_after == UINT64_MAX);
	CHECK_RC(peer(w.dist, PK(w.town), &why), QIAO_OK);
	CHECK_RC(peer(w.dist, PK(w.v1), &why), QIAO_OK);

	/* The district, above both, may revoke the rogue town; what it
	 * enrolled after the cut-off goes with it. */
	REQUIRE(pull(w.dist, w.root));
	CHECK_RC(revoke_by(w.dist, PK(t2), 0, NULL), QIAO_OK);
	CHECK(head_seq(w.dist, PK(t2)) == 0);
	CHECK_RC(peer(w.dist, PK(t2), &why), QIAO_EREVOKED);
	pool_free(&p);
}

static void
t_revoked_issuer_takes_later_enrolments(void)
{
	struct world w;
	node *v3;

	REQUIRE(world(&w));
	REQUIRE((v3 = mk(QIAO_ROLE_VILLAGE, "500116001003", PK(w.root))));
	/* The town's seq 3 enrols v3; the root then revokes the town after
	 * seq 2: v1 and v2 stay, v3 never counted. */
	REQUIRE_RC(enrol(w.town, v3, "village", "500116001003"), QIAO_OK);
	REQUIRE_RC(note(v3, "x"), QIAO_OK);
	REQUIRE_RC(note(w.v1, "y"), QIAO_OK);
	REQUIRE(pull(w.dist, w.root));
	REQUIRE(pull(w.dist, w.town));
	REQUIRE(pull(w.dist, v3));
	REQUIRE(pull(w.dist, w.v1));
	REQUIRE(head_seq(w.dist, PK(v3)) == 1);
	REQUIRE_RC(revoke_by(w.root, PK(w.town), 2, NULL), QIAO_OK);
	REQUIRE(pull(w.dist, w.root));
	CHECK(head_seq(w.dist, PK(w.town)) == 2);
	CHECK(head_seq(w.dist, PK(v3)) == 0);
	CHECK(head_seq(w.dist, PK(w.v1)) == 1);
	CHECK_RC(peer(w.dist, PK(v3), &(const char *) { NULL }),
	    QIAO_EUNKNOWN);
}

static void
t_self_revocation_stops_after_itself(void)
{
	struct world w;
	struct pool p = { 0 };
	crdt_body b;
	uint8_t *body;
	size_t len;
	int rcs[8];

	REQUIRE(world(&w));
	REQUIRE(pull(w.v1, w.town));
	REQUIRE_RC(note(w.v1, "a"), QIAO_OK);
	REQUIRE_RC(note(w.v1, "b"), QIAO_OK);
	/* "after 0" from the key itself cannot reach behind the revocation:
	 * that would cut the revocation too, and flap on every resync. */
	REQUIRE_RC(revoke_by(w.v1, PK(w.v1), 0, NULL), QIAO_OK);
	CHECK(head_seq(w.v1, PK(w.v1)) == 3);
	CHECK_RC(note(w.v1, "c"), QIAO_EREVOKED);
	REQUIRE(pool_add(&p, w.v1));
	crdt_body_init(&b);
	crdt_body_cstr(&b, "text", "c");
	REQUIRE_RC(crdt_body_finish(&b, &body, &len), QIAO_OK);
	crdt_body_fini(&b);
	REQUIRE(pool_forge(&p, w.v1, QIAO_T_NOTE, body, len, TN_T0 + 100));
	free(body);
	REQUIRE(pull(w.dist, w.root));
	REQUIRE(pull(w.dist, w.town));
	REQUIRE_RC(offer(w.dist, &p.logs[0], 1, 4, rcs, NULL), QIAO_OK);
	CHECK_RC(rcs[2], QIAO_OK);
	CHECK_RC(rcs[3], QIAO_EREVOKED);
	CHECK(head_seq(w.dist, PK(w.v1)) == 3);
	REQUIRE_RC(rebuild(w.dist), QIAO_OK);
	CHECK(head_seq(w.dist, PK(w.v1)) == 3);
	pool_free(&p);
}

static void
t_forged_entry_rejected(void)
{
	struct world w;
	struct pool p = { 0 };
	node_ingest_item it;
	crdt_entry e;
	uint8_t raw[QIAO_RAW_MAX];
	size_t rl;

	REQUIRE(world(&w));
	REQUIRE_RC(note(w.v1, "原文"), QIAO_OK);
	REQUIRE(pool_add(&p, w.v1));
	REQUIRE(pull(w.dist, w.root));
	REQUIRE(pull(w.dist, w.town));
	/* One bit of the signature flipped on the way. */
	rl = crdt_entry_raw_len(&p.logs[0].v[0].e);
	memcpy(raw, p.logs[0].v[0].e.raw, rl);
	raw[rl - 1] ^= 1;
	REQUIRE_RC(crdt_entry_parse(&e, raw, rl, NULL, NULL), QIAO_OK);
	memset(&it, 0, sizeof(it));
	it.e = e;
	it.body = p.logs[0].v[0].body;
	it.body_len = p.logs[0].v[0].len;
	REQUIRE_RC(node_ingest(w.dist, &it, 1, NULL), QIAO_OK);
	CHECK_RC(it.rc, QIAO_EBADSIG);
	/* The body swapped for another. */
	memset(&it, 0, sizeof(it));
	it.e = p.logs[0].v[0].e;
	it.body = (const uint8_t *)"\x81\xa4text\xa3xyz";
	it.body_len = 10;
	REQUIRE_RC(node_ingest(w.dist, &it, 1, NULL), QIAO_OK);
	CHECK_RC(it.rc, QIAO_EBADHASH);
	CHECK(head_seq(w.dist, PK(w.v1)) == 0);
	pool_free(&p);
}

/*
 * The contract: two nodes that hold the same trust entries answer alike,
 * whatever order the entries came in. A district with a lost PC, a rogue
 * town, a revoked village, a self-revocation and an expiry, delivered to
 * four fresh nodes in four seeded random orders, then rebuilt.
 */
static void
t_convergence_any_order(void)
{
	node *root, *t1, *t2, *v1, *v2, *v3, *v4, *v1b;
	struct pool p = { 0 };
	uint8_t want[32], got[32], *body;
	size_t len;
	crdt_body b;

	tn_start();
	REQUIRE((root = mk(QIAO_ROLE_ROOT, "", NULL)));
	REQUIRE((t1 = mk(QIAO_ROLE_TOWN, "500116001", PK(root))));
	REQUIRE((t2 = mk(QIAO_ROLE_TOWN, "500116002", PK(root))));
	REQUIRE((v1 = mk(QIAO_ROLE_VILLAGE, "500116001001", PK(root))));
	REQUIRE((v2 = mk(QIAO_ROLE_VILLAGE, "500116001002", PK(root))));
	REQUIRE((v3 = mk(QIAO_ROLE_VILLAGE, "500116002001", PK(root))));
	REQUIRE((v4 = mk(QIAO_ROLE_VILLAGE, "500116001004", PK(root))));
	REQUIRE((v1b = mk(QIAO_ROLE_VILLAGE, "500116001001", PK(root))));
	REQUIRE_RC(enrol(root, t1, "town", "500116001"), QIAO_OK);
	REQUIRE_RC(enrol(root, t2, "town", "500116002"), QIAO_OK);
	REQUIRE(pull(t1, root));
	REQUIRE(pull(t2, root));
	REQUIRE_RC(enrol(t1, v1, "village", "500116001001"), QIAO_OK);
	REQUIRE_RC(enrol(t1, v2, "village", "500116001002"), QIAO_OK);
	REQUIRE_RC(enrol(t2, v3, "village", "500116002001"), QIAO_OK);
	REQUIRE_RC(enrol_full(t1, PK(v4), "village", "500116001004",
		       TN_T0 + 50000, NULL, 0, NULL),
	    QIAO_OK);
	for (int i = 0; i < 4; i++)
		REQUIRE_RC(note(v1, "v1"), QIAO_OK);
	for (int i = 0; i < 3; i++)
		REQUIRE_RC(note(v2, "v2"), QIAO_OK);
	REQUIRE_RC(note(v3, "v3"), QIAO_OK);
	REQUIRE_RC(note(v3, "v3"), QIAO_OK);
	REQUIRE_RC(note(v4, "v4 in time"), QIAO_OK);
	REQUIRE_RC(note(t1, "t1"), QIAO_OK);
	/* v2 revoked after 1; v1's PC lost after 3, replaced by v1b. */
	REQUIRE_RC(revoke_by(t1, PK(v2), 1, NULL), QIAO_OK);
	REQUIRE_RC(enrol_full(t1, PK(v1b), "village", "500116001001", 0,
		       PK(v1), 3, NULL),
	    QIAO_OK);
	REQUIRE(pull(v1b, t1));
	REQUIRE_RC(note(v1b, "v1b"), QIAO_OK);
	REQUIRE_RC(note(v1b, "v1b"), QIAO_OK);
	/* v3 revokes itself (from its revocation on). */
	REQUIRE_RC(revoke_by(v3, PK(v3), 0, NULL), QIAO_OK);
	/* The root revokes t2 after its seq 1 (enrolling v3). */
	REQUIRE_RC(revoke_by(root, PK(t2), 1, NULL), QIAO_OK);

	REQUIRE(pool_add(&p, root));
	REQUIRE(pool_add(&p, t1));
	REQUIRE(pool_add(&p, t2));
	REQUIRE(pool_add(&p, v1));
	REQUIRE(pool_add(&p, v2));
	REQUIRE(pool_add(&p, v3));
	REQUIRE(pool_add(&p, v4));
	REQUIRE(pool_add(&p, v1b));
	/* Beyond what the stores would take: t2 goes rogue after its
	 * revocation (enrols v1's key, revokes it), v3 writes after revoking
	 * itself, v4 writes after its enrolment ended. */
	REQUIRE_RC(enrol_body(PK(v1), "village", "500116002009", 0, NULL, 0,
		       &body, &len),
	    QIAO_OK);
	REQUIRE(pool_forge(&p, t2, QIAO_T_ENROL, body, len, TN_T0 + 200));
	free(body);
	REQUIRE_RC(revoke_body(PK(v1), 0, &body, &len), QIAO_OK);
	REQUIRE(pool_forge(&p, t2, QIAO_T_REVOKE, body, len, TN_T0 + 201));
	free(body);
	crdt_body_init(&b);
	crdt_body_cstr(&b, "text", "late");
	REQUIRE_RC(crdt_body_finish(&b, &body, &len), QIAO_OK);
	crdt_body_fini(&b);
	REQUIRE(pool_forge(&p, v3, QIAO_T_NOTE, body, len, TN_T0 + 300));
	REQUIRE(pool_forge(&p, v4, QIAO_T_NOTE, body, len, TN_T0 + 60000));
	free(body);

	for (int k = 0; k < 4; k++) {
		node *d = mk(QIAO_ROLE_DISTRICT, "500116", PK(root));

		REQUIRE(d != NULL);
		REQUIRE(deliver(d, &p));
		CHECK(head_seq(d, PK(root)) == 3);
		CHECK(head_seq(d, PK(t1)) == 6);
		CHECK(head_seq(d, PK(t2)) == 1);
		CHECK(head_seq(d, PK(v1)) == 3);
		CHECK(head_seq(d, PK(v1b)) == 2);
		CHECK(head_seq(d, PK(v2)) == 1);
		CHECK(head_seq(d, PK(v3)) == 3);
		CHECK(head_seq(d, PK(v4)) == 1);
		REQUIRE(digest(d, got));
		if (k == 0)
			memcpy(want, got, 32);
		CHECK(memcmp(want, got, 32) == 0);
		REQUIRE_RC(rebuild(d), QIAO_OK);
		REQUIRE(digest(d, got));
		CHECK(memcmp(want, got, 32) == 0);
	}
	pool_free(&p);
}

/*
 * Stations that "enrol" one another (none may; the rows are kept anyway,
 * to be judged again whenever trust changes) and an honest village they
 * also "enrol": a question about any of them must not fan out over the
 * web. Before questions went up in rank, six such stations kept a node
 * deciding for hours; the alarm turns such a hang into a failure.
 */
static void
on_alarm(int sig)
{
	(void)sig;
	printf("FAIL t_trust.t_junk_enrolments_do_not_fan_out: still "
	       "deciding after 120 s\n");
	fflush(stdout);
	_exit(1);
}

static void
t_junk_enrolments_do_not_fan_out(void)
{
	struct world w;
	struct pool p = { 0 };
	node *k[6];
	node_trust_id id;
	uint8_t *body;
	size_t len;

	REQUIRE(world(&w));
	for (int i = 0; i < 6; i++) {
		char region[32];

		snprintf(region, sizeof(region), "500116001%03u",
		    10u + (unsigned)i);
		REQUIRE((k[i] = mk(QIAO_ROLE_VILLAGE, region, PK(w.root))) !=
		    NULL);
		REQUIRE_RC(enrol(w.town, k[i], "village", region), QIAO_OK);
	}
	REQUIRE(pull(w.dist, w.root));
	REQUIRE(pull(w.dist, w.town));
	for (int i = 0; i < 6; i++) {
		REQUIRE(pool_add(&p, k[i]));
		for (int j = 0; j < 6; j++) {
			const uint8_t *subj = j == i ? PK(w.v1) : PK(k[j]);

			REQUIRE_RC(enrol_body(subj, j == i ? "village" : "town",
			    j == i ? "500116001001" : "500116001", 0, NULL, 0,
			    &body, &len), QIAO_OK);
			REQUIRE(pool_forge(&p, k[i], QIAO_T_ENROL, body, len,
			    TN_T0 + (uint64_t)(i * 6 + j) * 1000));
			free(body);
		}
	}
	signal(SIGALRM, on_alarm);
	alarm(120);
	REQUIRE(deliver(w.dist, &p));
	/* Their entries stay in their logs (they are enrolled villages);
	 * none of their enrolments counts. */
	for (int i = 0; i < 6; i++) {
		CHECK(head_seq(w.dist, PK(k[i])) == 6);
		REQUIRE_RC(lookup(w.dist, PK(k[i]), &id), QIAO_OK);
		CHECK(id.role == QIAO_ROLE_VILLAGE);
	}
	/* The honest village they cluttered is still itself. */
	REQUIRE_RC(note(w.v1, "受理登记"), QIAO_OK);
	REQUIRE(pull(w.dist, w.v1));
	CHECK(head_seq(w.dist, PK(w.v1)) == 1);
	REQUIRE_RC(lookup(w.dist, PK(w.v1), &id), QIAO_OK);
	CHECK(id.role == QIAO_ROLE_VILLAGE);
	CHECK(memcmp(id.issuer, PK(w.town), QIAO_KEY_LEN) == 0);
	alarm(0);
	pool_free(&p);
}

CHECK_MAIN(T(t_enrolled_chain_accepted),
    T(t_unenrolled_records_locally_accepted_later), T(t_own_log_never_cut),
    T(t_revocation_before_later_entries),
    T(t_revocation_after_later_entries_cuts_them),
    T(t_revocation_in_same_batch_as_entries), T(t_supersede_lost_station),
    T(t_expiry), T(t_who_may_enrol),
    T(t_unauthorised_enrolment_does_not_count), T(t_who_may_revoke),
    T(t_revoked_issuer_takes_later_enrolments),
    T(t_self_revocation_stops_after_itself), T(t_forged_entry_rejected),
    T(t_convergence_any_order), T(t_junk_enrolments_do_not_fan_out))
