/*
 * Audit bundles: a genuine one exported by a real node verifies offline
 * with only the root key; each attack of docs/AUDIT.md's threat model,
 * applied to a genuine bundle, is rejected with its reason; reconcile
 * names a step the exporter left out behind a re-signed statement; the
 * bundle of a case stays the same size however long the logs grow; the
 * verifier's trust rules agree with the nodes' on random certificates.
 * Real nodes in temp dirs; entries move between them by node_ingest.
 */
#include "tests/check.h"

#include <sys/stat.h>

#include "crdt/audit.h"
#include "crdt/auditor.h"
#include "crdt/body.h"
#include "crdt/cert.h"
#include "crdt/hex.h"
#include "crdt/hlc.h"
#include "crdt/op.h"
#include "crdt/trustset.h"
#include "crdt/types.h"
#include "node/audit.h"
#include "node/ingest.h"
#include "node/keys.h"
#include "node/node.h"
#include "node/sim.h"
#include "node/state.h"
#include "node/store.h"
#include "node/trust.h"
#include "nodes.h"

#define SEC UINT64_C(1000)
#define MIN (60 * SEC)
#define HOUR (60 * MIN)

#define GRID "500116001001003"
#define VILLAGE "500116001001"
#define TOWN "500116001"
#define DISTRICT "500116"

/* A node in dir (a fresh temp dir if NULL) on the test clock, with a new
 * key unless the dir holds one. */
static node *
mk_in(const char *dir, enum qiao_role role, const char *region,
    const uint8_t *root)
{
	return tn_clocked(dir != NULL ? dir : check_tmpdir(), role, region,
	    root, UINT64_C(256) << 20);
}

static node *
mk(enum qiao_role role, const char *region, const uint8_t *root)
{
	return mk_in(NULL, role, region, root);
}

#define PK(n) node_self(n)
#define END ((const char *)NULL) /* ends act()'s fields */

static int
append_body(node *n, uint64_t type, crdt_body *b, crdt_entry *out,
    const char **why)
{
	uint8_t *body;
	size_t len;
	int rc = crdt_body_finish(b, &body, &len);

	crdt_body_fini(b);
	if (rc != QIAO_OK)
		return rc;
	rc = node_append(n, type, body, len, out, why);
	free(body);
	return rc;
}

static int
enrol(node *issuer, const uint8_t *subj, const char *role,
    const char *region, uint64_t until)
{
	crdt_cert c;
	uint8_t *body;
	size_t len;
	int rc;

	memset(&c, 0, sizeof(c));
	memcpy(c.subject, subj, QIAO_KEY_LEN);
	snprintf(c.role, sizeof(c.role), "%s", role);
	snprintf(c.region, sizeof(c.region), "%s", region);
	snprintf(c.name, sizeof(c.name), "站 %s", region);
	c.until = until;
	if ((rc = crdt_cert_encode(&c, &body, &len)) != QIAO_OK)
		return rc;
	rc = node_append(issuer, QIAO_T_ENROL, body, len, NULL, NULL);
	free(body);
	return rc;
}

/* Every entry from holds, offered to to until nothing more is stored
 * (certificates may arrive after entries they vouch for). */
static bool
copy_log(node *from, node *to)
{
	struct item {
		crdt_entry e;
		uint8_t *body;
		size_t len;
	} *v = NULL;
	size_t n = 0, cap = 0;
	node_txn *txn;
	node_cursor *cur;
	const void *k, *val;
	size_t kl, vl;
	bool ok = true;
	int rc;

	if (node_store_txn_begin(node_get_store(from), false, &txn) != 0)
		return false;
	if (node_store_cursor_open(txn, NODE_TB_ENTRIES, &cur) != QIAO_OK) {
		node_store_txn_abort(txn);
		return false;
	}
	for (rc = node_store_cursor_seek(cur, "", 0, &k, &kl, &val, &vl);
	     rc == QIAO_OK && ok;
	     rc = node_store_cursor_next(cur, &k, &kl, &val, &vl)) {
		const uint8_t *b;

		if (n == cap) {
			struct item *g = realloc(v, (cap ? 2 * cap : 256) *
			    sizeof(*v));

			if (g == NULL) {
				ok = false;
				break;
			}
			v = g;
			cap = cap ? 2 * cap : 256;
		}
		ok = crdt_entry_parse(&v[n].e, val, vl, NULL, NULL) == QIAO_OK &&
		    node_store_body_get(txn, v[n].e.body_hash, &b,
			&v[n].len) == QIAO_OK &&
		    (v[n].body = malloc(v[n].len ? v[n].len : 1)) != NULL;
		if (ok) {
			memcpy(v[n].body, b, v[n].len);
			n++;
		}
	}
	node_store_cursor_close(cur);
	node_store_txn_abort(txn);
	for (int round = 0; ok && round < 4; round++) {
		node_ingest_item *it = calloc(n ? n : 1, sizeof(*it));
		node_ingest_stats st;

		if (it == NULL)
			break;
		for (size_t i = 0; i < n; i++) {
			it[i].e = v[i].e;
			it[i].body = v[i].body;
			it[i].body_len = v[i].len;
		}
		ok = node_ingest(to, it, n, &st) == QIAO_OK;
		free(it);
		if (st.stored == 0)
			break;
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].body);
	free(v);
	return ok;
}

/* A case step signed by n the way `qiao case` does: deps are the case's
 * heads in n's store. Extra fields come in (key, value) pairs, NULL
 * ended; "satisfied" takes "yes" or "no". */
static int
act(node *n, uint64_t type, const uint8_t *id, const char *grid,
    crdt_entry *out, ...)
{
	uint8_t deps[QIAO_DEPS_MAX][QIAO_HASH_LEN], rk[QIAO_RECKEY_MAX];
	size_t nd = 0, klen;
	crdt_body b;
	node_txn *txn;
	const char *key;
	va_list ap;

	crdt_body_init(&b);
	if (type == QIAO_T_CASE_OPEN) {
		crdt_op_begin(&b, "grid", grid, NULL, NULL, 0);
		crdt_body_cstr(&b, "category", "邻里纠纷");
		crdt_body_cstr(&b, "title", "宅基地边界纠纷");
	} else {
		if (node_store_txn_begin(node_get_store(n), false, &txn) != 0)
			return QIAO_ESTORE;
		klen = crdt_op_reckey(rk, CRDT_REC_CASE, grid, id);
		if (node_state_heads(txn, rk, klen, deps, &nd) != QIAO_OK)
			nd = 0;
		node_store_txn_abort(txn);
		crdt_op_begin(&b, "grid", grid, id,
		    (const uint8_t(*)[QIAO_HASH_LEN])deps, nd);
	}
	va_start(ap, out);
	while ((key = va_arg(ap, const char *)) != NULL) {
		const char *val = va_arg(ap, const char *);

		if (strcmp(key, "satisfied") == 0)
			crdt_body_bool(&b, key, strcmp(val, "yes") == 0);
		else
			crdt_body_cstr(&b, key, val);
	}
	va_end(ap);
	return append_body(n, type, &b, out, NULL);
}

/* The district: root R enrols district D and town T; T enrols villages V
 * and V2. V opens a case and works it; T takes it over by transfer. */
struct world {
	node *R, *D, *T, *V, *V2;
	uint8_t id[QIAO_HASH_LEN];
	crdt_entry st[16]; /* the steps, in order */
	int n;
	char dir[512];     /* for bundle files */
};

static bool
build(struct world *w, uint64_t village_until)
{
	crdt_entry e;

	memset(w, 0, sizeof(*w));
	tn_start();
	if ((w->R = mk(QIAO_ROLE_ROOT, "", NULL)) == NULL ||
	    (w->D = mk(QIAO_ROLE_DISTRICT, DISTRICT, PK(w->R))) == NULL ||
	    (w->T = mk(QIAO_ROLE_TOWN, TOWN, PK(w->R))) == NULL ||
	    (w->V = mk(QIAO_ROLE_VILLAGE, VILLAGE, PK(w->R))) == NULL ||
	    (w->V2 = mk(QIAO_ROLE_VILLAGE, "500116001002", PK(w->R))) == NULL)
		return false;
	snprintf(w->dir, sizeof(w->dir), "%s", node_get_dir(w->R));
	if (enrol(w->R, PK(w->D), "district", DISTRICT, 0) != QIAO_OK ||
	    enrol(w->R, PK(w->T), "town", TOWN, 0) != QIAO_OK ||
	    !copy_log(w->R, w->T) ||
	    enrol(w->T, PK(w->V), "village", VILLAGE, village_until) != 0 ||
	    enrol(w->T, PK(w->V2), "village", "500116001002", 0) != 0 ||
	    !copy_log(w->R, w->V) || !copy_log(w->T, w->V) ||
	    !copy_log(w->R, w->V2) || !copy_log(w->T, w->V2) ||
	    !copy_log(w->R, w->D))
		return false;
	tn_now_ms += HOUR;
#define STEP(node, type, ...)                                             \
	do {                                                              \
		if (act((node), (type), w->id, GRID, &e, __VA_ARGS__) != 0) \
			return false;                                     \
		w->st[w->n++] = e;                                        \
	} while (0)
	STEP(w->V, QIAO_T_CASE_OPEN, END);
	memcpy(w->id, e.hash, QIAO_HASH_LEN);
	tn_now_ms += 30 * SEC;
	STEP(w->V, QIAO_T_CASE_ACCEPT, END);
	tn_now_ms += 40 * SEC;
	STEP(w->V, QIAO_T_CASE_ROUTE, "level", "village", END);
	tn_now_ms += 2 * MIN;
	STEP(w->V, QIAO_T_CASE_ARRIVE, END);
	tn_now_ms += 4 * MIN;
	STEP(w->V, QIAO_T_CASE_FEEDBACK, END);
	tn_now_ms += HOUR;
	STEP(w->V, QIAO_T_CASE_TRANSFER, "to", TOWN, END);
	if (!copy_log(w->V, w->T))
		return false;
	tn_now_ms += 2 * HOUR;
	STEP(w->T, QIAO_T_CASE_ACCEPT, END);
	tn_now_ms += HOUR;
	STEP(w->T, QIAO_T_CASE_RESOLVE, "level", "town", END);
	tn_now_ms += HOUR;
	STEP(w->T, QIAO_T_CASE_EVALUATE, "satisfied", "yes", END);
	tn_now_ms += HOUR;
	STEP(w->T, QIAO_T_CASE_CLOSE, END);
#undef STEP
	tn_now_ms += HOUR;
	return copy_log(w->D, w->T);
}

static bool
export_to(node *n, const uint8_t *id, const char *path)
{
	node_audit_result res;
	char err[512];
	int rc = node_audit_export(n, (const uint8_t(*)[QIAO_HASH_LEN])id,
	    id ? 1 : 0, NULL, path, &res, err, sizeof(err));

	if (rc != QIAO_OK)
		printf("export: %s\n", err);
	return rc == QIAO_OK;
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
	    fread(buf, 1, (size_t)n, f) == (size_t)n)
		*len = (size_t)n;
	else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static crdt_audit_report *
verify_buf(const uint8_t *buf, size_t len, const uint8_t *root)
{
	crdt_audit_report *r = NULL;

	if (crdt_auditor_verify(buf, len, root, &r) != QIAO_OK)
		return NULL;
	return r;
}

static bool
has_issue(const crdt_audit_report *r, const char *code)
{
	for (size_t i = 0; r != NULL && i < r->nissues; i++)
		if (strcmp(r->issues[i].code, code) == 0)
			return true;
	return false;
}

static void
dump(const crdt_audit_report *r)
{
	for (size_t i = 0; r != NULL && i < r->nissues; i++)
		printf("  issue %s%s: %s\n", r->issues[i].finding ? "(finding) "
								  : "",
		    r->issues[i].code, r->issues[i].msg);
}

/* A bundle taken apart for tampering: decoded from its file (bodies
 * borrowed from it), changed, encoded again. */
struct tb {
	uint8_t *file;
	size_t flen;
	crdt_audit_bundle b;
	void *owned[32];
	int nowned;
	crdt_audit_item *ops; /* a case's ops, rebuilt by the test */
};

static bool
tb_load(struct tb *t, const char *path)
{
	char err[200];

	memset(t, 0, sizeof(*t));
	if ((t->file = slurp(path, &t->flen)) == NULL)
		return false;
	if (crdt_audit_decode(&t->b, t->file, t->flen, err, sizeof(err)) !=
	    QIAO_OK) {
		printf("decode: %s\n", err);
		return false;
	}
	return true;
}

static void
tb_free(struct tb *t)
{
	crdt_audit_fini(&t->b);
	for (int i = 0; i < t->nowned; i++)
		free(t->owned[i]);
	free(t->ops);
	free(t->file);
	memset(t, 0, sizeof(*t));
}

static void *
tb_keep(struct tb *t, void *p)
{
	if (t->nowned < 32)
		t->owned[t->nowned++] = p;
	return p;
}

/* Signs e afresh with the key in dir (its author becomes that key). */
static bool
resign(crdt_entry *e, const char *dir)
{
	node_keys *k;
	int rc;

	if (node_keys_load(&k, dir) != QIAO_OK)
		return false;
	rc = crdt_entry_sign(e, node_keys_secret(k));
	node_keys_free(k);
	return rc == QIAO_OK;
}

/* The exporter lies: a new statement over the bundle as it now stands,
 * at the same seq of its log, signed with its key. */
static bool
restate(struct tb *t, node *exporter)
{
	crdt_audit_claim old, c;
	const char *why;
	uint8_t *body;
	size_t len;

	if (crdt_audit_claim_decode(&old, t->b.statement.body,
		t->b.statement.blen, &why) != QIAO_OK)
		return false;
	memset(&c, 0, sizeof(c));
	c.cases = t->b.ncases;
	crdt_audit_set(c.set, t->b.cases, t->b.ncases);
	if (crdt_audit_view_digest(c.view, t->b.view, t->b.nview) != 0)
		return false;
	memcpy(c.under, old.under, sizeof(c.under));
	c.all = old.all;
	if (crdt_audit_claim_encode(&c, &body, &len) != QIAO_OK)
		return false;
	tb_keep(t, body);
	t->b.statement.body = body;
	t->b.statement.blen = len;
	t->b.statement.e.body_len = len;
	crdt_entry_body_hash(t->b.statement.e.body_hash, body, len);
	return resign(&t->b.statement.e, node_get_dir(exporter));
}

static crdt_audit_report *
tb_verify(struct tb *t, const uint8_t *root)
{
	crdt_audit_report *r;
	uint8_t *buf;
	size_t len;

	if (crdt_audit_encode(&t->b, &buf, &len) != QIAO_OK)
		return NULL;
	r = verify_buf(buf, len, root);
	free(buf);
	return r;
}

/* The exporter restates the bundle as it now stands (restate), and the
 * verifier judges it; its issues go to the test log. NULL if either step
 * could not be done. */
static crdt_audit_report *
restated_report(struct tb *t, node *exporter, const uint8_t *root)
{
	crdt_audit_report *r;

	if (!restate(t, exporter) || (r = tb_verify(t, root)) == NULL)
		return NULL;
	dump(r);
	return r;
}

/* The liar's state claims: what the verifier folds from the bundle as it
 * now stands. */
static bool
fix_state(struct tb *t, const uint8_t *root)
{
	crdt_audit_report *r = tb_verify(t, root);

	if (r == NULL || r->ncases != t->b.ncases) {
		crdt_audit_report_free(r);
		return false;
	}
	for (size_t i = 0; i < r->ncases; i++)
		if (r->cases[i].state != NULL)
			crypto_generichash(t->b.cases[i].state, QIAO_HASH_LEN,
			    r->cases[i].state, r->cases[i].slen, NULL, 0);
	crdt_audit_report_free(r);
	return true;
}

/* Replaces case 0's ops with a copy the test may grow. */
static crdt_audit_item *
tb_own_ops(struct tb *t, size_t extra)
{
	crdt_audit_case *c = &t->b.cases[0];
	crdt_audit_item *v = calloc(c->nops + extra, sizeof(*v));

	if (v == NULL)
		return NULL;
	memcpy(v, c->ops, c->nops * sizeof(*v));
	free(t->ops);
	t->ops = v;
	c->ops = v;
	return v;
}

static long
find_op(const crdt_audit_case *c, const crdt_entry *e)
{
	for (size_t i = 0; i < c->nops; i++)
		if (memcmp(c->ops[i].e.hash, e->hash, QIAO_HASH_LEN) == 0)
			return (long)i;
	return -1;
}

static void
drop_op(crdt_audit_case *c, size_t i)
{
	memmove(&c->ops[i], &c->ops[i + 1], (c->nops - i - 1) * sizeof(*c->ops));
	c->nops--;
}

static long trust_index(const crdt_audit_bundle *b, const uint8_t *author,
    const uint8_t *subject);

/* A world with its genuine bundle exported by the town, loaded. */
static bool
setup(struct world *w, struct tb *t, char *path, size_t cap)
{
	if (!build(w, 0))
		return false;
	snprintf(path, cap, "%s/case.qab", w->dir);
	return export_to(w->T, w->id, path) && tb_load(t, path);
}

/* The genuine bundle. */

static void
t_genuine_bundle_verifies(void)
{
	struct world w;
	struct tb t;
	char path[600];
	crdt_audit_report *r;
	uint8_t *buf;
	size_t len;
	char st[32];
	crdt_reader rd;
	size_t n;

	REQUIRE(setup(&w, &t, path, sizeof(path)));
	REQUIRE((buf = slurp(path, &len)) != NULL);
	r = verify_buf(buf, len, PK(w.R));
	free(buf);
	REQUIRE(r != NULL);
	dump(r);
	CHECK(r->decoded);
	CHECK(r->failures == 0);
	CHECK(r->findings == 0);
	REQUIRE(r->ncases == 1);
	CHECK(memcmp(r->cases[0].id, w.id, QIAO_HASH_LEN) == 0);
	CHECK_STR(r->cases[0].code, GRID);
	CHECK(r->cases[0].nops == (size_t)w.n);
	CHECK(r->cases[0].folded == (size_t)w.n);
	CHECK(memcmp(r->exporter, PK(w.T), QIAO_KEY_LEN) == 0);
	/* SLA from the steps' own stamps: accept 30 s, arrive 3:10, feedback
	 * 7:10 after intake. */
	CHECK(r->cases[0].sum.response_ms == 30 * SEC);
	CHECK(r->cases[0].sum.arrival_ms == 190 * SEC);
	CHECK(r->cases[0].sum.feedback_ms == 430 * SEC);
	/* The fold's timeline, with stations from the certificates. */
	REQUIRE(crdt_body_get(r->cases[0].state, r->cases[0].slen, "timeline",
		    &rd) == QIAO_OK);
	REQUIRE(crdt_read_array(&rd, &n) == QIAO_OK);
	CHECK(n == (size_t)w.n);
	{
		const uint8_t *f;
		crdt_reader fr;

		REQUIRE(crdt_body_get(r->cases[0].state, r->cases[0].slen,
			    "fields", &fr) == QIAO_OK);
		f = fr.p;
		CHECK(crdt_body_get_cstr(f, (size_t)(fr.end - f), "status", st,
			  sizeof(st)) == QIAO_OK &&
		    strcmp(st, "closed") == 0);
		CHECK(crdt_body_get_cstr(f, (size_t)(fr.end - f), "custodian",
			  st, sizeof(st)) == QIAO_OK &&
		    strcmp(st, TOWN) == 0);
	}
	/* The view: root, district (no log held by the town), town, village
	 * and the other village (its certificate covers... no: 500116001002
	 * does not cover the case's grid, so it is not in the view). */
	CHECK(crdt_audit_report_who(r, PK(w.R))->in_view);
	CHECK(crdt_audit_report_who(r, PK(w.D))->in_view);
	CHECK(crdt_audit_report_who(r, PK(w.T))->in_view);
	CHECK(crdt_audit_report_who(r, PK(w.V))->in_view);
	CHECK(crdt_audit_report_who(r, PK(w.V2)) == NULL);
	CHECK(r->cases[0].failures == 0);
	crdt_audit_report_free(r);
	/* The statement is an entry in the town's own log, so every node
	 * holding that log holds the claim. */
	{
		node_txn *txn;
		node_head h;

		REQUIRE(node_store_txn_begin(node_get_store(w.T), false,
			    &txn) == QIAO_OK);
		CHECK(node_store_head_get(txn, PK(w.T), &h) == QIAO_OK &&
		    h.seq == t.b.statement.e.seq &&
		    memcmp(h.hash, t.b.statement.e.hash, QIAO_HASH_LEN) == 0);
		node_store_txn_abort(txn);
	}
	/* The district node ingests the town's log, statement included. */
	CHECK(copy_log(w.T, w.D));
	tb_free(&t);
}

/* The bundle decodes and encodes back to the same bytes: one encoding. */
static void
t_bundle_roundtrip_canonical(void)
{
	struct world w;
	struct tb t;
	char path[600];
	uint8_t *buf;
	size_t len;

	REQUIRE(setup(&w, &t, path, sizeof(path)));
	REQUIRE(crdt_audit_encode(&t.b, &buf, &len) == QIAO_OK);
	CHECK(len == t.flen && memcmp(buf, t.file, len) == 0);
	free(buf);
	tb_free(&t);
}

/* Attacks: each of docs/AUDIT.md's threat model. */

/* A step dropped from the middle, the exporter re-signing its statement
 * over the rest: the closure of deps gives it away. */
static void
t_drop_middle_step_resigned(void)
{
	struct world w;
	struct tb t;
	char path[600];
	crdt_audit_report *r;
	long i;

	REQUIRE(setup(&w, &t, path, sizeof(path)));
	REQUIRE((i = find_op(&t.b.cases[0], &w.st[3])) >= 0); /* arrive */
	drop_op(&t.b.cases[0], (size_t)i);
	REQUIRE((r = restated_report(&t, w.T, PK(w.R))) != NULL);
	CHECK(has_issue(r, "missing-dep"));
	CHECK(!has_issue(r, "statement"));
	CHECK(r->failures > 0);
	crdt_audit_report_free(r);
	tb_free(&t);
}

/* The same by someone without the exporter's key: the statement no longer
 * matches. */
static void
t_drop_step_not_resigned(void)
{
	struct world w;
	struct tb t;
	char path[600];
	crdt_audit_report *r;
	long i;

	REQUIRE(setup(&w, &t, path, sizeof(path)));
	REQUIRE((i = find_op(&t.b.cases[0], &w.st[w.n - 1])) >= 0); /* close */
	drop_op(&t.b.cases[0], (size_t)i);
	REQUIRE((r = tb_verify(&t, PK(w.R))) != NULL);
	CHECK(has_issue(r, "statement"));
	CHECK(r->failures > 0);
	crdt_audit_report_free(r);
	tb_free(&t);
}

/* The latest step dropped and the statement re-signed: nothing in the
 * bundle names it, so verify cannot know (docs/AUDIT.md says so); any
 * store holding the step proves the omission against the statement. */
static void
t_drop_tail_caught_by_reconcile(void)
{
	struct world w;
	struct tb t;
	char path[600];
	crdt_audit_report *r;
	node_audit_omission *om = NULL;
	size_t nom = 0, forks = 0, len;
	uint8_t *buf;
	char err[200];
	long i;

	REQUIRE(setup(&w, &t, path, sizeof(path)));
	REQUIRE((i = find_op(&t.b.cases[0], &w.st[w.n - 1])) >= 0); /* close */
	drop_op(&t.b.cases[0], (size_t)i);
	REQUIRE(fix_state(&t, PK(w.R)));
	REQUIRE((r = restated_report(&t, w.T, PK(w.R))) != NULL);
	CHECK(r->failures == 0); /* the limit, stated in docs/AUDIT.md */
	crdt_audit_report_free(r);
	REQUIRE(crdt_audit_encode(&t.b, &buf, &len) == QIAO_OK);
	/* The district holds the town's log. */
	REQUIRE(copy_log(w.T, w.D));
	REQUIRE(node_audit_reconcile(w.D, buf, len, &om, &nom, &forks, err,
		    sizeof(err)) == QIAO_OK);
	CHECK(nom == 1 && forks == 0);
	CHECK(nom == 1 && memcmp(om[0].e.hash, w.st[w.n - 1].hash,
			      QIAO_HASH_LEN) == 0);
	free(om);
	/* The genuine bundle reconciles clean. */
	free(buf);
	REQUIRE((buf = slurp(path, &len)) != NULL);
	REQUIRE(node_audit_reconcile(w.D, buf, len, &om, &nom, &forks, err,
		    sizeof(err)) == QIAO_OK);
	CHECK(nom == 0 && forks == 0);
	free(om);
	free(buf);
	tb_free(&t);
}

/* Hiding a key: the district noted the case; the exporter leaves out the
 * note, the district's head and its certificate. Nothing in the bundle
 * says the district exists (the limit docs/AUDIT.md states); a store that
 * holds the note names it, its author left out of the view. */
static void
t_hidden_key_caught_by_reconcile(void)
{
	struct world w;
	struct tb t;
	char path[600], err[200];
	crdt_audit_report *r;
	crdt_entry note;
	node_audit_omission *om = NULL;
	size_t nom = 0, forks = 0, elen;
	uint8_t *enc;
	long i;

	REQUIRE(build(&w, 0));
	REQUIRE(copy_log(w.T, w.D) && copy_log(w.V, w.D));
	REQUIRE(act(w.D, QIAO_T_CASE_NOTE, w.id, GRID, &note, "note",
		    "区指挥中心已阅", END) == 0);
	REQUIRE(copy_log(w.D, w.T));
	snprintf(path, sizeof(path), "%s/hid.qab", w.dir);
	REQUIRE(export_to(w.T, w.id, path));
	REQUIRE(tb_load(&t, path));
	REQUIRE((i = find_op(&t.b.cases[0], &note)) >= 0);
	drop_op(&t.b.cases[0], (size_t)i);
	for (size_t k = 0; k < t.b.nview; k++)
		if (memcmp(t.b.view[k].key, PK(w.D), QIAO_KEY_LEN) == 0) {
			memmove(&t.b.view[k], &t.b.view[k + 1],
			    (t.b.nview - k - 1) * sizeof(*t.b.view));
			t.b.nview--;
			break;
		}
	REQUIRE((i = trust_index(&t.b, PK(w.R), PK(w.D))) >= 0);
	memmove(&t.b.trust[i], &t.b.trust[i + 1],
	    (t.b.ntrust - (size_t)i - 1) * sizeof(*t.b.trust));
	t.b.ntrust--;
	REQUIRE(fix_state(&t, PK(w.R)));
	REQUIRE((r = restated_report(&t, w.T, PK(w.R))) != NULL);
	CHECK(r->failures == 0);
	crdt_audit_report_free(r);
	REQUIRE(crdt_audit_encode(&t.b, &enc, &elen) == QIAO_OK);
	REQUIRE(node_audit_reconcile(w.T, enc, elen, &om, &nom, &forks, err,
		    sizeof(err)) == QIAO_OK);
	CHECK(nom == 1 && om[0].unstated &&
	    memcmp(om[0].e.hash, note.hash, QIAO_HASH_LEN) == 0);
	free(om);
	free(enc);
	tb_free(&t);
}

/* Reordering: the file's order is canonical, so a reordered bundle does
 * not decode; and a step's time cannot change without its signature. */
static void
t_reorder(void)
{
	struct world w;
	struct tb t;
	char path[600];
	crdt_audit_report *r;
	crdt_audit_item x;

	REQUIRE(setup(&w, &t, path, sizeof(path)));
	x = t.b.cases[0].ops[1];
	t.b.cases[0].ops[1] = t.b.cases[0].ops[2];
	t.b.cases[0].ops[2] = x;
	REQUIRE((r = tb_verify(&t, PK(w.R))) != NULL);
	CHECK(!r->decoded && has_issue(r, "malformed"));
	crdt_audit_report_free(r);
	/* Put back, then move the route before the accept by its time. */
	t.b.cases[0].ops[2] = t.b.cases[0].ops[1];
	t.b.cases[0].ops[1] = x;
	{
		crdt_entry *e = &t.b.cases[0].ops[2].e; /* route */
		uint8_t sig[QIAO_SIG_LEN];

		memcpy(sig, crdt_entry_sig(e), QIAO_SIG_LEN);
		e->hlc = t.b.cases[0].ops[1].e.hlc - 1;
		REQUIRE(crdt_entry_rebuild(e, sig) == QIAO_OK);
	}
	crdt_audit_canon(&t.b);
	REQUIRE((r = restated_report(&t, w.T, PK(w.R))) != NULL);
	CHECK(has_issue(r, "bad-signature"));
	crdt_audit_report_free(r);
	tb_free(&t);
}

/* Signs an entry of the key in dir at (seq, prev) with the given time and
 * body: a station's own forgery, past what any node would take. */
static bool
forge_entry(crdt_audit_item *it, struct tb *t, const char *dir, uint64_t seq,
    const uint8_t *prev, uint64_t hlc, uint64_t type, crdt_body *b)
{
	uint8_t *body;
	size_t len;

	if (crdt_body_finish(b, &body, &len) != QIAO_OK)
		return false;
	crdt_body_fini(b);
	tb_keep(t, body);
	memset(it, 0, sizeof(*it));
	it->e.seq = seq;
	it->e.has_prev = seq > 1;
	if (prev != NULL)
		memcpy(it->e.prev, prev, QIAO_HASH_LEN);
	it->e.hlc = hlc;
	it->e.type = type;
	it->e.body_len = len;
	crdt_entry_body_hash(it->e.body_hash, body, len);
	it->body = body;
	it->blen = len;
	return resign(&it->e, dir);
}

static uint64_t
head_of(node *n, const uint8_t *key, uint8_t *hash)
{
	node_txn *txn;
	node_head h;
	uint64_t s = 0;

	if (node_store_txn_begin(node_get_store(n), false, &txn) != QIAO_OK)
		return 0;
	if (node_store_head_get(txn, key, &h) == QIAO_OK) {
		s = h.seq;
		if (hash != NULL)
			memcpy(hash, h.hash, QIAO_HASH_LEN);
	}
	node_store_txn_abort(txn);
	return s;
}

/* Back-dating: the village (colluding) signs its acceptance again, stamped
 * 10 s after intake, and the exporter swaps it in for the real one. Its
 * deps name the open, so the open is below it in its log: times must
 * increase along the log and after the deps. Here the forged acceptance
 * is stamped after the open but takes a seq after steps stamped later. */
static void
t_backdate(void)
{
	struct world w;
	struct tb t;
	char path[600];
	crdt_audit_report *r;
	crdt_audit_item *ops;
	uint8_t prev[QIAO_HASH_LEN];
	uint64_t seq;
	crdt_body b;
	long i;

	REQUIRE(setup(&w, &t, path, sizeof(path)));
	REQUIRE((ops = tb_own_ops(&t, 1)) != NULL);
	seq = head_of(w.T, PK(w.V), prev);
	crdt_body_init(&b);
	crdt_op_begin(&b, "grid", GRID, w.id,
	    (const uint8_t(*)[QIAO_HASH_LEN])w.st[0].hash, 1);
	/* Stamped 10 s after intake, signed after everything. */
	REQUIRE(forge_entry(&ops[t.b.cases[0].nops], &t, node_get_dir(w.V),
	    seq + 1, prev, w.st[0].hlc + crdt_hlc_make(10 * SEC, 0),
	    QIAO_T_CASE_ACCEPT, &b));
	t.b.cases[0].nops++;
	REQUIRE((i = find_op(&t.b.cases[0], &w.st[1])) >= 0);
	drop_op(&t.b.cases[0], (size_t)i);
	crdt_audit_canon(&t.b);
	REQUIRE((r = restated_report(&t, w.T, PK(w.R))) != NULL);
	/* Its time is before steps its author signed earlier in its log; it
	 * lies beyond the head of the log the exporter states; and the steps
	 * that followed the real acceptance now name a step not here. */
	CHECK(has_issue(r, "time"));
	CHECK(has_issue(r, "view"));
	CHECK(has_issue(r, "missing-dep"));
	crdt_audit_report_free(r);
	tb_free(&t);
}

/* A step stamped before a step it depends on: the district (which may
 * note any case) notes the case naming its close, stamped an hour before
 * the close; the exporter even states that note as the district's head,
 * so only the dep gives it away. */
static void
t_stamped_before_its_dep(void)
{
	struct world w;
	struct tb t;
	char path[600];
	crdt_audit_report *r;
	crdt_audit_item *ops, *it;
	crdt_body b;

	REQUIRE(setup(&w, &t, path, sizeof(path)));
	REQUIRE((ops = tb_own_ops(&t, 1)) != NULL);
	REQUIRE(head_of(w.T, PK(w.D), NULL) == 0); /* no log of it held */
	crdt_body_init(&b);
	crdt_op_begin(&b, "grid", GRID, w.id,
	    (const uint8_t(*)[QIAO_HASH_LEN])w.st[w.n - 1].hash, 1);
	crdt_body_cstr(&b, "note", "补记");
	it = &ops[t.b.cases[0].nops];
	REQUIRE(forge_entry(it, &t, node_get_dir(w.D), 1, NULL,
	    w.st[w.n - 1].hlc - crdt_hlc_make(HOUR, 0), QIAO_T_CASE_NOTE, &b));
	t.b.cases[0].nops++;
	for (size_t k = 0; k < t.b.nview; k++)
		if (memcmp(t.b.view[k].key, PK(w.D), QIAO_KEY_LEN) == 0) {
			t.b.view[k].has = true;
			t.b.view[k].e = it->e;
		}
	crdt_audit_canon(&t.b);
	REQUIRE((r = restated_report(&t, w.T, PK(w.R))) != NULL);
	CHECK(has_issue(r, "time"));
	CHECK(!has_issue(r, "view"));
	CHECK(r->failures == 1);
	crdt_audit_report_free(r);
	tb_free(&t);
}

/* Forward-dating: a step stamped after the export. */
static void
t_forward_dated(void)
{
	struct world w;
	struct tb t;
	char path[600];
	crdt_audit_report *r;
	crdt_audit_item *ops;
	uint8_t prev[QIAO_HASH_LEN];
	uint64_t seq;
	crdt_body b;

	REQUIRE(setup(&w, &t, path, sizeof(path)));
	REQUIRE((ops = tb_own_ops(&t, 1)) != NULL);
	seq = head_of(w.T, PK(w.V), prev);
	crdt_body_init(&b);
	crdt_op_begin(&b, "grid", GRID, w.id,
	    (const uint8_t(*)[QIAO_HASH_LEN])w.st[w.n - 1].hash, 1);
	crdt_body_cstr(&b, "note", "预先记录");
	REQUIRE(forge_entry(&ops[t.b.cases[0].nops], &t, node_get_dir(w.V),
	    seq + 1, prev, t.b.statement.e.hlc + crdt_hlc_make(HOUR, 0),
	    QIAO_T_CASE_NOTE, &b));
	t.b.cases[0].nops++;
	/* The exporter even states the village's head as this entry. */
	for (size_t k = 0; k < t.b.nview; k++)
		if (memcmp(t.b.view[k].key, PK(w.V), QIAO_KEY_LEN) == 0)
			t.b.view[k].e = ops[t.b.cases[0].nops - 1].e;
	crdt_audit_canon(&t.b);
	REQUIRE((r = restated_report(&t, w.T, PK(w.R))) != NULL);
	CHECK(has_issue(r, "time"));
	CHECK(!has_issue(r, "view"));
	crdt_audit_report_free(r);
	tb_free(&t);
}

static long
trust_index(const crdt_audit_bundle *b, const uint8_t *author,
    const uint8_t *subject)
{
	for (size_t i = 0; i < b->ntrust; i++) {
		crdt_cert c;

		if (memcmp(b->trust[i].e.author, author, QIAO_KEY_LEN) != 0 ||
		    b->trust[i].e.type != QIAO_T_ENROL ||
		    crdt_cert_decode(&c, b->trust[i].body, b->trust[i].blen,
			NULL) != QIAO_OK)
			continue;
		if (memcmp(c.subject, subject, QIAO_KEY_LEN) == 0)
			return (long)i;
	}
	return -1;
}

/* Swapping a certificate: the village's enrolment replaced by one from an
 * issuer that may not enrol (the other village), or one naming another
 * role (a town enrolling a "town"), or dropped with its issuer's. */
static void
t_swap_certificate(void)
{
	struct world w;
	struct tb t;
	char path[600];
	crdt_audit_report *r;
	long i;
	crdt_cert c;
	uint8_t *body;
	size_t len;

	for (int variant = 0; variant < 3; variant++) {
		crdt_audit_item *it;

		REQUIRE(setup(&w, &t, path, sizeof(path)));
		REQUIRE((i = trust_index(&t.b, PK(w.T), PK(w.V))) >= 0);
		it = &t.b.trust[i];
		if (variant < 2) {
			memset(&c, 0, sizeof(c));
			memcpy(c.subject, PK(w.V), QIAO_KEY_LEN);
			snprintf(c.role, sizeof(c.role), "%s",
			    variant == 0 ? "village" : "town");
			snprintf(c.region, sizeof(c.region), "%s",
			    variant == 0 ? VILLAGE : "500116002");
			snprintf(c.name, sizeof(c.name), "冒名");
			REQUIRE(crdt_cert_encode(&c, &body, &len) == QIAO_OK);
			tb_keep(&t, body);
			it->body = body;
			it->blen = len;
			it->e.body_len = len;
			crdt_entry_body_hash(it->e.body_hash, body, len);
			/* The other village signs it, or the town a role
			 * it may not give. */
			REQUIRE(resign(&it->e, node_get_dir(variant == 0 ? w.V2
									: w.T)));
		} else {
			/* Drop the town's own enrolment: the chain breaks. */
			REQUIRE((i = trust_index(&t.b, PK(w.R), PK(w.T))) >= 0);
			memmove(&t.b.trust[i], &t.b.trust[i + 1],
			    (t.b.ntrust - (size_t)i - 1) * sizeof(*t.b.trust));
			t.b.ntrust--;
		}
		crdt_audit_canon(&t.b);
		REQUIRE((r = restated_report(&t, w.T, PK(w.R))) != NULL);
		CHECK(has_issue(r, "unknown-author"));
		CHECK(r->failures > 0);
		crdt_audit_report_free(r);
		tb_free(&t);
	}
}

/* Splicing two forks: the village's key runs on a second PC restored
 * from an old copy, which signs other steps at the same seqs. */
static void
t_splice_forks(void)
{
	struct world w;
	struct tb t;
	char path[600];
	crdt_audit_report *r;
	crdt_audit_item *ops;
	long i;

	REQUIRE(setup(&w, &t, path, sizeof(path)));
	/* The other PC's branch: after the route, another arrive at the
	 * real arrive's seq. Both in the bundle: a fork at that seq. */
	{
		crdt_body b;
		uint8_t prev[QIAO_HASH_LEN];

		REQUIRE((ops = tb_own_ops(&t, 1)) != NULL);
		memcpy(prev, w.st[2].hash, QIAO_HASH_LEN);
		crdt_body_init(&b);
		crdt_op_begin(&b, "grid", GRID, w.id,
		    (const uint8_t(*)[QIAO_HASH_LEN])w.st[2].hash, 1);
		crdt_body_cstr(&b, "note", "另一台电脑上的到场");
		/* Same seq as the real arrive, another entry. */
		REQUIRE(forge_entry(&ops[t.b.cases[0].nops], &t,
		    node_get_dir(w.V), w.st[3].seq, prev,
		    w.st[3].hlc + 1, QIAO_T_CASE_ARRIVE, &b));
		t.b.cases[0].nops++;
	}
	crdt_audit_canon(&t.b);
	REQUIRE((r = restated_report(&t, w.T, PK(w.R))) != NULL);
	CHECK(has_issue(r, "fork"));
	crdt_audit_report_free(r);
	tb_free(&t);
	/* Spliced without a shared seq: the branch's feedback (its deps the
	 * route only) replaces the real one, so no seq repeats; it does not
	 * descend from its author's arrive before it, the transfer after it
	 * names the real feedback, and its seq's successor does not chain. */
	REQUIRE(tb_load(&t, path));
	REQUIRE((ops = tb_own_ops(&t, 1)) != NULL);
	{
		crdt_body b;

		crdt_body_init(&b);
		crdt_op_begin(&b, "grid", GRID, w.id,
		    (const uint8_t(*)[QIAO_HASH_LEN])w.st[2].hash, 1);
		crdt_body_cstr(&b, "note", "另一台电脑上的反馈");
		REQUIRE(forge_entry(&ops[t.b.cases[0].nops], &t,
		    node_get_dir(w.V), w.st[4].seq, w.st[3].hash,
		    w.st[4].hlc + 1, QIAO_T_CASE_FEEDBACK, &b));
		t.b.cases[0].nops++;
	}
	REQUIRE((i = find_op(&t.b.cases[0], &w.st[4])) >= 0);
	drop_op(&t.b.cases[0], (size_t)i);
	crdt_audit_canon(&t.b);
	REQUIRE((r = restated_report(&t, w.T, PK(w.R))) != NULL);
	/* The transfer (the real seq after the feedback) names the dropped
	 * feedback, and the branch's feedback does not descend from the
	 * real arrive before it. */
	CHECK(has_issue(r, "missing-dep"));
	CHECK(has_issue(r, "unchained"));
	CHECK(has_issue(r, "fork"));
	crdt_audit_report_free(r);
	tb_free(&t);
}

/* A fork the exporter holds is in the bundle and fails it. */
static void
t_fork_held_by_exporter(void)
{
	struct world w;
	char path[600];
	crdt_audit_report *r;
	node_ingest_item it;
	uint8_t *buf, *body;
	size_t len;
	crdt_body b;

	REQUIRE(build(&w, 0));
	/* Another entry of the village at the seq of its feedback reaches
	 * the town: a fork proof. */
	crdt_body_init(&b);
	crdt_body_cstr(&b, "text", "第二个分支");
	REQUIRE(crdt_body_finish(&b, &body, &len) == QIAO_OK);
	crdt_body_fini(&b);
	memset(&it, 0, sizeof(it));
	it.e.seq = w.st[4].seq;
	it.e.has_prev = true;
	memcpy(it.e.prev, w.st[3].hash, QIAO_HASH_LEN);
	it.e.hlc = w.st[4].hlc + 1;
	it.e.type = QIAO_T_NOTE;
	it.e.body_len = len;
	crdt_entry_body_hash(it.e.body_hash, body, len);
	REQUIRE(resign(&it.e, node_get_dir(w.V)));
	it.body = body;
	it.body_len = len;
	REQUIRE(node_ingest(w.T, &it, 1, NULL) == QIAO_OK);
	CHECK(it.rc == QIAO_EFORK);
	free(body);
	snprintf(path, sizeof(path), "%s/fork.qab", w.dir);
	REQUIRE(export_to(w.T, w.id, path));
	REQUIRE((buf = slurp(path, &len)) != NULL);
	REQUIRE((r = verify_buf(buf, len, PK(w.R))) != NULL);
	free(buf);
	CHECK(has_issue(r, "fork"));
	crdt_audit_report_free(r);
}

/* A genuine step of another case slipped in. */
static void
t_step_of_another_case(void)
{
	struct world w;
	struct tb t;
	char path[600];
	crdt_audit_report *r;
	crdt_audit_item *ops;
	crdt_entry other;
	uint8_t *body;
	const uint8_t *bp;
	size_t blen;
	node_txn *txn;

	REQUIRE(setup(&w, &t, path, sizeof(path)));
	tn_now_ms += HOUR;
	REQUIRE(act(w.V, QIAO_T_CASE_OPEN, NULL, GRID, &other, END) == 0);
	REQUIRE(node_store_txn_begin(node_get_store(w.V), false, &txn) == 0);
	REQUIRE(node_store_body_get(txn, other.body_hash, &bp, &blen) == 0);
	body = tb_keep(&t, malloc(blen));
	memcpy(body, bp, blen);
	node_store_txn_abort(txn);
	REQUIRE((ops = tb_own_ops(&t, 1)) != NULL);
	ops[t.b.cases[0].nops].e = other;
	ops[t.b.cases[0].nops].body = body;
	ops[t.b.cases[0].nops].blen = blen;
	t.b.cases[0].nops++;
	crdt_audit_canon(&t.b);
	REQUIRE((r = restated_report(&t, w.T, PK(w.R))) != NULL);
	CHECK(has_issue(r, "wrong-case"));
	crdt_audit_report_free(r);
	tb_free(&t);
}

/* A body swapped under its header. */
static void
t_body_swapped(void)
{
	struct world w;
	struct tb t;
	char path[600];
	crdt_audit_report *r;

	REQUIRE(setup(&w, &t, path, sizeof(path)));
	t.b.cases[0].ops[2].body = t.b.cases[0].ops[3].body;
	t.b.cases[0].ops[2].blen = t.b.cases[0].ops[3].blen;
	REQUIRE((r = restated_report(&t, w.T, PK(w.R))) != NULL);
	CHECK(has_issue(r, "bad-body"));
	crdt_audit_report_free(r);
	tb_free(&t);
}

/* The exporter claims a state its store did not hold. */
static void
t_state_claim(void)
{
	struct world w;
	struct tb t;
	char path[600];
	crdt_audit_report *r;

	REQUIRE(setup(&w, &t, path, sizeof(path)));
	t.b.cases[0].state[0] ^= 1;
	REQUIRE((r = restated_report(&t, w.T, PK(w.R))) != NULL);
	CHECK(has_issue(r, "state"));
	CHECK(r->failures == 1);
	crdt_audit_report_free(r);
	tb_free(&t);
}

/* A step by an enrolled station outside the case's region. */
static void
t_out_of_scope(void)
{
	struct world w;
	struct tb t;
	char path[600];
	crdt_audit_report *r;
	crdt_audit_item *ops;
	uint8_t prev[QIAO_HASH_LEN];
	uint64_t seq;
	crdt_body b;

	REQUIRE(setup(&w, &t, path, sizeof(path)));
	REQUIRE((ops = tb_own_ops(&t, 1)) != NULL);
	seq = head_of(w.V2, PK(w.V2), prev);
	crdt_body_init(&b);
	crdt_op_begin(&b, "grid", GRID, w.id,
	    (const uint8_t(*)[QIAO_HASH_LEN])w.st[w.n - 1].hash, 1);
	crdt_body_cstr(&b, "note", "邻村代记");
	REQUIRE(forge_entry(&ops[t.b.cases[0].nops], &t, node_get_dir(w.V2),
	    seq + 1, prev, w.st[w.n - 1].hlc + 1, QIAO_T_CASE_NOTE, &b));
	t.b.cases[0].nops++;
	/* The exporter makes the other village look in order: its
	 * enrolment (genuine, from the town's log) and its head. */
	{
		/* Larger copies of the two lists; the bundle frees them, the
		 * test the old ones. */
		crdt_audit_item *tr = calloc(t.b.ntrust + 1, sizeof(*tr));
		crdt_audit_head *vw = calloc(t.b.nview + 1, sizeof(*vw));
		node_txn *txn;
		const uint8_t *bp;
		size_t bl;
		bool found = false;

		REQUIRE(tr != NULL && vw != NULL);
		memcpy(tr, t.b.trust, t.b.ntrust * sizeof(*tr));
		memcpy(vw, t.b.view, t.b.nview * sizeof(*vw));
		REQUIRE(node_store_txn_begin(node_get_store(w.T), false,
			    &txn) == 0);
		for (uint64_t q = 1; q < 10 && !found; q++) {
			crdt_entry e;
			crdt_cert c;

			if (node_store_entry_get(txn, PK(w.T), q, &e) != 0 ||
			    e.type != QIAO_T_ENROL ||
			    node_store_body_get(txn, e.body_hash, &bp, &bl) != 0 ||
			    crdt_cert_decode(&c, bp, bl, NULL) != 0 ||
			    memcmp(c.subject, PK(w.V2), QIAO_KEY_LEN) != 0)
				continue;
			tr[t.b.ntrust].e = e;
			tr[t.b.ntrust].body = tb_keep(&t, malloc(bl));
			memcpy((uint8_t *)tr[t.b.ntrust].body, bp, bl);
			tr[t.b.ntrust].blen = bl;
			found = true;
		}
		node_store_txn_abort(txn);
		REQUIRE(found);
		memcpy(vw[t.b.nview].key, PK(w.V2), QIAO_KEY_LEN);
		vw[t.b.nview].has = true;
		vw[t.b.nview].e = ops[t.b.cases[0].nops - 1].e;
		tb_keep(&t, t.b.trust);
		tb_keep(&t, t.b.view);
		t.b.trust = tr;
		t.b.view = vw;
		t.b.ntrust++;
		t.b.nview++;
	}
	crdt_audit_canon(&t.b);
	REQUIRE((r = restated_report(&t, w.T, PK(w.R))) != NULL);
	CHECK(has_issue(r, "out-of-scope"));
	crdt_audit_report_free(r);
	tb_free(&t);
}

/* A revoked key's step after its cut-off, and an expired one. */
static void
t_revoked_and_expired(void)
{
	struct world w;
	char path[600];
	crdt_audit_report *r;
	uint8_t *buf;
	size_t len;
	crdt_revoke rv;
	uint8_t *body;
	struct tb t;
	crdt_audit_item *it;

	/* Revoked: the town revokes the village after its transfer; the
	 * village (whose own node keeps appending) writes a note; a
	 * dishonest exporter includes it with the revocation. */
	REQUIRE(build(&w, 0));
	memset(&rv, 0, sizeof(rv));
	memcpy(rv.subject, PK(w.V), QIAO_KEY_LEN);
	rv.after = w.st[5].seq;
	REQUIRE(crdt_revoke_encode(&rv, &body, &len) == QIAO_OK);
	REQUIRE(node_append(w.T, QIAO_T_REVOKE, body, len, NULL, NULL) == 0);
	free(body);
	snprintf(path, sizeof(path), "%s/rev.qab", w.dir);
	REQUIRE(export_to(w.T, w.id, path));
	REQUIRE((buf = slurp(path, &len)) != NULL);
	REQUIRE((r = verify_buf(buf, len, PK(w.R))) != NULL);
	free(buf);
	dump(r);
	CHECK(r->failures == 0); /* its steps up to the cut still count */
	crdt_audit_report_free(r);
	REQUIRE(tb_load(&t, path));
	REQUIRE(tb_own_ops(&t, 1) != NULL);
	{
		crdt_body b;
		uint8_t prev[QIAO_HASH_LEN];
		uint64_t seq = head_of(w.V, PK(w.V), prev);

		crdt_body_init(&b);
		crdt_op_begin(&b, "grid", GRID, w.id,
		    (const uint8_t(*)[QIAO_HASH_LEN])w.st[w.n - 1].hash, 1);
		crdt_body_cstr(&b, "note", "撤销后补记");
		it = &t.b.cases[0].ops[t.b.cases[0].nops];
		REQUIRE(forge_entry(it, &t, node_get_dir(w.V), seq + 1, prev,
		    w.st[w.n - 1].hlc + 1, QIAO_T_CASE_NOTE, &b));
		t.b.cases[0].nops++;
		for (size_t k = 0; k < t.b.nview; k++)
			if (memcmp(t.b.view[k].key, PK(w.V), QIAO_KEY_LEN) == 0)
				t.b.view[k].e = it->e;
	}
	crdt_audit_canon(&t.b);
	REQUIRE((r = restated_report(&t, w.T, PK(w.R))) != NULL);
	CHECK(has_issue(r, "revoked"));
	crdt_audit_report_free(r);
	tb_free(&t);

	/* Expired: the town's enrolment of the village, as the bundle has
	 * it, ends at the route; the village's later steps are refused. */
	REQUIRE(setup(&w, &t, path, sizeof(path)));
	{
		long i = trust_index(&t.b, PK(w.T), PK(w.V));
		crdt_cert c;

		REQUIRE(i >= 0);
		it = &t.b.trust[i];
		REQUIRE(crdt_cert_decode(&c, it->body, it->blen, NULL) == 0);
		c.until = crdt_hlc_ms(w.st[2].hlc);
		REQUIRE(crdt_cert_encode(&c, &body, &len) == QIAO_OK);
		tb_keep(&t, body);
		it->body = body;
		it->blen = len;
		it->e.body_len = len;
		crdt_entry_body_hash(it->e.body_hash, body, len);
		REQUIRE(resign(&it->e, node_get_dir(w.T)));
	}
	crdt_audit_canon(&t.b);
	REQUIRE((r = restated_report(&t, w.T, PK(w.R))) != NULL);
	CHECK(has_issue(r, "expired"));
	crdt_audit_report_free(r);
	tb_free(&t);
}

/* The view understated, or a key that may write the case left out. */
static void
t_view_tampered(void)
{
	struct world w;
	struct tb t;
	char path[600];
	crdt_audit_report *r;

	for (int variant = 0; variant < 3; variant++) {
		REQUIRE(setup(&w, &t, path, sizeof(path)));
		for (size_t k = 0; k < t.b.nview; k++) {
			crdt_audit_head *h = &t.b.view[k];

			if (variant == 0 &&
			    memcmp(h->key, PK(w.V), QIAO_KEY_LEN) == 0)
				/* The village's head stated as its open. */
				h->e = w.st[0];
			if (variant == 1 &&
			    memcmp(h->key, PK(w.D), QIAO_KEY_LEN) == 0) {
				/* The district, which may write every case,
				 * left out of the view. */
				memmove(h, h + 1,
				    (t.b.nview - k - 1) * sizeof(*h));
				t.b.nview--;
				break;
			}
			if (variant == 2 &&
			    memcmp(h->key, PK(w.T), QIAO_KEY_LEN) == 0)
				/* The exporter understates its own log. */
				h->e = w.st[6];
		}
		REQUIRE((r = restated_report(&t, w.T, PK(w.R))) != NULL);
		CHECK(has_issue(r, "view"));
		crdt_audit_report_free(r);
		tb_free(&t);
	}
}

/* The statement: by a key nobody enrolled, or verified against another
 * root, or taken from another bundle. */
static void
t_statement_tampered(void)
{
	struct world w;
	struct tb t, t2;
	char path[600], path2[600];
	crdt_audit_report *r;
	node *stranger;

	REQUIRE(setup(&w, &t, path, sizeof(path)));
	REQUIRE((stranger = mk(QIAO_ROLE_TOWN, TOWN, PK(w.R))) != NULL);
	REQUIRE((r = restated_report(&t, stranger, PK(w.R))) != NULL);
	CHECK(has_issue(r, "exporter"));
	crdt_audit_report_free(r);
	tb_free(&t);
	/* Another root: nothing is enrolled. */
	REQUIRE(tb_load(&t, path));
	REQUIRE((r = tb_verify(&t, PK(stranger))) != NULL);
	CHECK(has_issue(r, "exporter"));
	CHECK(has_issue(r, "unknown-author"));
	crdt_audit_report_free(r);
	/* The statement of another export (all cases under the town). */
	snprintf(path2, sizeof(path2), "%s/all.qab", w.dir);
	{
		node_audit_result res;
		char err[256];

		REQUIRE(node_audit_export(w.T, NULL, 0, TOWN, path2, &res, err,
			    sizeof(err)) == QIAO_OK);
	}
	REQUIRE(tb_load(&t2, path2));
	t.b.statement = t2.b.statement;
	REQUIRE((r = tb_verify(&t, PK(w.R))) != NULL);
	CHECK(has_issue(r, "statement") || has_issue(r, "view"));
	crdt_audit_report_free(r);
	tb_free(&t2);
	tb_free(&t);
}

/* Broken files: truncated at every length, a flipped byte, a repeated
 * op, garbage. None crashes; each fails. */
static void
t_broken_files(void)
{
	struct world w;
	struct tb t;
	char path[600];
	crdt_audit_report *r;
	uint8_t *buf;
	size_t len;

	REQUIRE(setup(&w, &t, path, sizeof(path)));
	REQUIRE((buf = slurp(path, &len)) != NULL);
	for (size_t cut = 0; cut < len; cut += 1 + check_rand_below(97)) {
		REQUIRE((r = verify_buf(buf, cut, PK(w.R))) != NULL);
		CHECK(!r->decoded && r->failures > 0);
		crdt_audit_report_free(r);
	}
	for (int k = 0; k < 64; k++) {
		size_t at = check_rand_below(len);

		buf[at] ^= (uint8_t)(1u << check_rand_below(8));
		REQUIRE((r = verify_buf(buf, len, PK(w.R))) != NULL);
		CHECK(r->failures > 0);
		crdt_audit_report_free(r);
		buf[at] = t.file[at];
	}
	free(buf);
	/* A repeated op: the order is strict, so it does not decode. */
	REQUIRE(tb_own_ops(&t, 1) != NULL);
	t.b.cases[0].ops[t.b.cases[0].nops] = t.b.cases[0].ops[0];
	t.b.cases[0].nops++;
	crdt_audit_canon(&t.b);
	REQUIRE((r = tb_verify(&t, PK(w.R))) != NULL);
	CHECK(has_issue(r, "malformed"));
	crdt_audit_report_free(r);
	tb_free(&t);
	{
		uint8_t junk[300];

		memcpy(junk, QIAO_AUDIT_MAGIC, QIAO_AUDIT_MAGIC_LEN);
		for (size_t i = QIAO_AUDIT_MAGIC_LEN; i < sizeof(junk); i++)
			junk[i] = (uint8_t)check_rand();
		REQUIRE((r = verify_buf(junk, sizeof(junk), PK(w.R))) != NULL);
		CHECK(has_issue(r, "malformed"));
		crdt_audit_report_free(r);
	}
}

/* Findings of a sound history: a target missed, a step for review. */
static void
t_findings(void)
{
	struct world w;
	char path[600];
	crdt_audit_report *r;
	crdt_entry e;
	uint8_t *buf;
	size_t len;
	uint8_t id[QIAO_HASH_LEN];

	REQUIRE(build(&w, 0));
	/* A second case, accepted after 3 minutes; the other village's
	 * town... the town resolves it without holding it. */
	REQUIRE(act(w.V, QIAO_T_CASE_OPEN, NULL, GRID, &e, END) == 0);
	memcpy(id, e.hash, QIAO_HASH_LEN);
	tn_now_ms += 3 * MIN;
	REQUIRE(act(w.V, QIAO_T_CASE_ACCEPT, id, GRID, &e, END) == 0);
	REQUIRE(copy_log(w.V, w.T));
	tn_now_ms += MIN;
	REQUIRE(act(w.T, QIAO_T_CASE_RESOLVE, id, GRID, &e, "level", "town",
		    END) == 0);
	tn_now_ms += HOUR;
	snprintf(path, sizeof(path), "%s/late.qab", w.dir);
	REQUIRE(export_to(w.T, id, path));
	REQUIRE((buf = slurp(path, &len)) != NULL);
	REQUIRE((r = verify_buf(buf, len, PK(w.R))) != NULL);
	free(buf);
	dump(r);
	CHECK(r->failures == 0);
	CHECK(has_issue(r, "target-missed"));
	CHECK(has_issue(r, "review"));
	CHECK(r->cases[0].sum.response_ms == 3 * MIN);
	crdt_audit_report_free(r);
}

/* Every case under a code in one bundle, one statement. */
static void
t_export_all_under(void)
{
	struct world w;
	char path[600];
	crdt_audit_report *r;
	node_audit_result res;
	crdt_entry e;
	char err[256];
	uint8_t *buf;
	size_t len;

	REQUIRE(build(&w, 0));
	for (int i = 0; i < 5; i++) {
		tn_now_ms += MIN;
		REQUIRE(act(w.V, QIAO_T_CASE_OPEN, NULL, GRID, &e, END) == 0);
		tn_now_ms += 20 * SEC;
		REQUIRE(act(w.V, QIAO_T_CASE_ACCEPT, e.hash, GRID, &e,
			    END) == 0);
	}
	REQUIRE(copy_log(w.V, w.T));
	snprintf(path, sizeof(path), "%s/all.qab", w.dir);
	REQUIRE(node_audit_export(w.T, NULL, 0, VILLAGE, path, &res, err,
		    sizeof(err)) == QIAO_OK);
	CHECK(res.cases == 6);
	CHECK(res.failures == 0);
	REQUIRE((buf = slurp(path, &len)) != NULL);
	REQUIRE((r = verify_buf(buf, len, PK(w.R))) != NULL);
	free(buf);
	CHECK(r->ncases == 6);
	CHECK(r->failures == 0);
	CHECK_STR(r->under, VILLAGE);
	crdt_audit_report_free(r);
	/* A whole case left out and the statement re-signed: the bundle
	 * cannot tell, a store holding the case can. */
	{
		struct tb t;
		node_audit_omission *om = NULL;
		size_t nom = 0, forks = 0;
		uint8_t *enc;
		size_t elen;

		REQUIRE(tb_load(&t, path));
		memmove(&t.b.cases[2], &t.b.cases[3],
		    (t.b.ncases - 3) * sizeof(*t.b.cases));
		t.b.ncases--;
		REQUIRE((r = restated_report(&t, w.T, PK(w.R))) != NULL);
		CHECK(r->failures == 0);
		crdt_audit_report_free(r);
		REQUIRE(crdt_audit_encode(&t.b, &enc, &elen) == QIAO_OK);
		REQUIRE(node_audit_reconcile(w.T, enc, elen, &om, &nom, &forks,
			    err, sizeof(err)) == QIAO_OK);
		CHECK(nom == 1 && om[0].whole_case && !om[0].unstated);
		free(om);
		free(enc);
		tb_free(&t);
	}
	/* Every case held, under no code: the statement says "all", so a
	 * case left out is still named by reconcile. */
	REQUIRE(node_audit_export(w.T, NULL, 0, NULL, path, &res, err,
		    sizeof(err)) == QIAO_OK);
	CHECK(res.cases == 6);
	{
		struct tb t;
		node_audit_omission *om = NULL;
		size_t nom = 0, forks = 0, elen;
		uint8_t *enc;

		REQUIRE(tb_load(&t, path));
		REQUIRE((r = tb_verify(&t, PK(w.R))) != NULL);
		CHECK(r->all && r->under[0] == '\0' && r->failures == 0);
		crdt_audit_report_free(r);
		t.b.ncases--;
		REQUIRE(restate(&t, w.T));
		REQUIRE(crdt_audit_encode(&t.b, &enc, &elen) == QIAO_OK);
		REQUIRE(node_audit_reconcile(w.T, enc, elen, &om, &nom, &forks,
			    err, sizeof(err)) == QIAO_OK);
		CHECK(nom == 1 && om[0].whole_case);
		free(om);
		free(enc);
		tb_free(&t);
	}
	/* No case under another code. */
	CHECK(node_audit_export(w.T, NULL, 0, "500116009", path, &res, err,
		  sizeof(err)) == QIAO_ENOTFOUND);
}

/*
 * Size: a case's bundle holds its steps, the heads of the few logs that
 * may write it and their certificates, never the logs themselves. The
 * bound (docs/AUDIT.md): at most 512 bytes, plus for each step its
 * header and body and 8 bytes, for each head and trust entry its header
 * (and body) and 40 bytes. Here the village's and town's logs grow by
 * 20,000 entries and the bundle's size changes by the few bytes of
 * larger seq numbers only.
 */
static size_t
bound_of(const crdt_audit_bundle *b)
{
	size_t n = 512 + crdt_entry_raw_len(&b->statement.e) +
	    b->statement.blen;

	for (size_t i = 0; i < b->ncases; i++) {
		n += 80;
		for (size_t j = 0; j < b->cases[i].nops; j++)
			n += crdt_entry_raw_len(&b->cases[i].ops[j].e) +
			    b->cases[i].ops[j].blen + 8;
	}
	for (size_t i = 0; i < b->nview; i++)
		n += QIAO_RAW_MAX + 40;
	for (size_t i = 0; i < b->ntrust; i++)
		n += crdt_entry_raw_len(&b->trust[i].e) + b->trust[i].blen + 40;
	return n;
}

static bool
grow_log(node *n, size_t count)
{
	node_keys *k;
	node_txn *txn;
	node_head h;
	node_ingest_item *it = calloc(1000, sizeof(*it));
	uint8_t body[16] = { 0x81, 0xa4, 't', 'e', 'x', 't', 0xa2, 'o', 'k' };
	size_t blen = 9;
	bool ok = it != NULL && node_keys_load(&k, node_get_dir(n)) == 0;

	if (!ok) {
		free(it);
		return false;
	}
	for (size_t done = 0; ok && done < count;) {
		size_t m = count - done < 1000 ? count - done : 1000;

		ok = node_store_txn_begin(node_get_store(n), false, &txn) == 0 &&
		    node_store_head_get(txn, PK(n), &h) == QIAO_OK;
		node_store_txn_abort(txn);
		for (size_t i = 0; ok && i < m; i++) {
			crdt_entry *e = &it[i].e;

			memset(&it[i], 0, sizeof(it[i]));
			e->seq = h.seq + 1 + i;
			e->has_prev = true;
			memcpy(e->prev, i ? it[i - 1].e.hash : h.hash,
			    QIAO_HASH_LEN);
			e->hlc = h.hlc + 1 + i;
			e->type = QIAO_T_NOTE;
			e->body_len = blen;
			crdt_entry_body_hash(e->body_hash, body, blen);
			ok = crdt_entry_sign(e, node_keys_secret(k)) == 0;
			it[i].body = body;
			it[i].body_len = blen;
		}
		ok = ok && node_ingest(n, it, m, NULL) == QIAO_OK &&
		    it[m - 1].rc == QIAO_OK;
		done += m;
	}
	node_keys_free(k);
	free(it);
	return ok;
}

static void
t_bundle_size_in_long_log(void)
{
	struct world w;
	struct tb t;
	char path[600], path2[600];
	size_t small;

	REQUIRE(setup(&w, &t, path, sizeof(path)));
	small = t.flen;
	CHECK(t.flen <= bound_of(&t.b));
	CHECK(t.flen < 8192); /* a ten-step case: a few kilobytes */
	printf("  bundle of a %d-step case: %zu bytes (bound %zu)\n", w.n,
	    t.flen, bound_of(&t.b));
	tb_free(&t);
	/* 20,000 more entries in the village's log and 20,000 in the
	 * town's, the town holding both. */
	REQUIRE(grow_log(w.V, 20000));
	REQUIRE(copy_log(w.V, w.T));
	REQUIRE(grow_log(w.T, 20000));
	snprintf(path2, sizeof(path2), "%s/long.qab", w.dir);
	REQUIRE(export_to(w.T, w.id, path2));
	REQUIRE(tb_load(&t, path2));
	printf("  after 40,000 more entries: %zu bytes\n", t.flen);
	CHECK(t.flen <= bound_of(&t.b));
	/* Only seq numbers in the heads grew (2 to 3 bytes of msgpack). */
	CHECK(t.flen <= small + 16);
	{
		crdt_audit_report *r = tb_verify(&t, PK(w.R));

		REQUIRE(r != NULL);
		CHECK(r->failures == 0);
		crdt_audit_report_free(r);
	}
	tb_free(&t);
}

/*
 * The verifier's trust rules against the nodes': random enrolments,
 * revocations, supersedes and expiries among a few keys, ingested by a
 * node; the trust set built from the trust entries that node holds (what
 * an exporter puts in a bundle) answers every question as the node does.
 */
struct tkey {
	node_keys *k;
	uint64_t seq, hlc;
	uint8_t last[QIAO_HASH_LEN];
};

#define NKEYS 8 /* the root and seven */

static void
t_trust_rules_agree_with_nodes(void)
{
	static const char *const regions[] = { "500116", "500116001",
		"500116002", "500116001001", "500116001002", "500116002001" };
	static const char *const roles[] = { "district", "town", "town",
		"village", "village", "village" };
	const char *base = check_tmpdir();
	size_t seen[4] = { 0 }; /* ok, unknown, revoked, expired */

	REQUIRE(base != NULL);
	for (int sc = 0; sc < 12; sc++) {
		char dir[600];
		struct tkey keys[NKEYS];
		node *obs;
		crdt_trustset *ts;
		node_ingest_item *items = calloc(256, sizeof(*items));
		uint8_t *bodies[256];
		size_t ni = 0;
		node_txn *txn;
		node_cursor *cur;
		const void *kk, *vv;
		size_t kl, vl;
		int rc;

		REQUIRE(items != NULL);
		tn_start();
		memset(keys, 0, sizeof(keys));
		tn_now_ms = TN_T0 + 24 * HOUR; /* after every stamp: no skew */
		for (int i = 0; i < NKEYS; i++) {
			snprintf(dir, sizeof(dir), "%s/s%dk%d", base, sc, i);
			REQUIRE(mkdir(dir, 0700) == 0);
			REQUIRE(node_keys_create(&keys[i].k, dir) == QIAO_OK);
			keys[i].hlc = crdt_hlc_make(TN_T0, 0);
		}
		snprintf(dir, sizeof(dir), "%s/s%dobs", base, sc);
		REQUIRE(mkdir(dir, 0700) == 0);
		REQUIRE((obs = mk_in(dir, QIAO_ROLE_VILLAGE, "500116009001",
			     node_keys_public(keys[0].k))) != NULL);
		/* keys[0] is the root; 48 random trust entries, a third of
		 * them the root's, the rest by anyone (junk included). */
		for (int j = 0; j < 48 && ni < 256; j++) {
			int a = check_rand_below(3) == 0
			    ? 0
			    : (int)check_rand_below(NKEYS);
			int s = 1 + (int)check_rand_below(NKEYS - 1);
			struct tkey *ak = &keys[a];
			crdt_entry *e = &items[ni].e;
			uint8_t *body;
			size_t len;

			if (check_rand_below(4) == 0) {
				crdt_revoke rv;

				memset(&rv, 0, sizeof(rv));
				memcpy(rv.subject, node_keys_public(keys[s].k),
				    QIAO_KEY_LEN);
				rv.after = check_rand_below(keys[s].seq + 3);
				REQUIRE(crdt_revoke_encode(&rv, &body, &len) ==
				    0);
				e->type = QIAO_T_REVOKE;
			} else {
				crdt_cert c;
				int r = (int)check_rand_below(6);

				memset(&c, 0, sizeof(c));
				memcpy(c.subject, node_keys_public(keys[s].k),
				    QIAO_KEY_LEN);
				snprintf(c.role, sizeof(c.role), "%s",
				    roles[r]);
				snprintf(c.region, sizeof(c.region), "%s",
				    regions[r]);
				snprintf(c.name, sizeof(c.name), "k%d", s);
				if (check_rand_below(4) == 0)
					c.until = TN_T0 + check_rand_below(60) *
					    MIN;
				if (check_rand_below(6) == 0) {
					int o = 1 + (int)check_rand_below(
					    NKEYS - 1);

					if (o != s) {
						c.has_supersedes = true;
						memcpy(c.supersedes,
						    node_keys_public(keys[o].k),
						    QIAO_KEY_LEN);
						c.after = check_rand_below(4);
					}
				}
				REQUIRE(crdt_cert_encode(&c, &body, &len) == 0);
				e->type = QIAO_T_ENROL;
			}
			ak->seq++;
			ak->hlc += crdt_hlc_make(check_rand_below(5) * MIN, 1);
			e->seq = ak->seq;
			e->has_prev = ak->seq > 1;
			memcpy(e->prev, ak->last, QIAO_HASH_LEN);
			e->hlc = ak->hlc;
			e->body_len = len;
			crdt_entry_body_hash(e->body_hash, body, len);
			REQUIRE(crdt_entry_sign(e, node_keys_secret(ak->k)) == 0);
			memcpy(ak->last, e->hash, QIAO_HASH_LEN);
			bodies[ni] = body;
			items[ni].body = body;
			items[ni].body_len = len;
			ni++;
		}
		/* Delivered in rounds, as sync would, until nothing more. */
		for (int round = 0; round < 6; round++) {
			node_ingest_stats st;

			REQUIRE(node_ingest(obs, items, ni, &st) == QIAO_OK);
			if (st.stored == 0)
				break;
		}
		/* The set of the trust entries the node holds. */
		REQUIRE(crdt_trustset_new(&ts, node_keys_public(keys[0].k)) ==
		    QIAO_OK);
		REQUIRE(node_store_txn_begin(node_get_store(obs), false,
			    &txn) == QIAO_OK);
		REQUIRE(node_store_cursor_open(txn, NODE_TB_ENTRIES, &cur) == 0);
		for (rc = node_store_cursor_seek(cur, "", 0, &kk, &kl, &vv, &vl);
		     rc == QIAO_OK;
		     rc = node_store_cursor_next(cur, &kk, &kl, &vv, &vl)) {
			crdt_entry e;
			const uint8_t *b;
			size_t bl;

			REQUIRE(crdt_entry_parse(&e, vv, vl, NULL, NULL) == 0);
			REQUIRE(node_store_body_get(txn, e.body_hash, &b,
				    &bl) == 0);
			rc = crdt_trustset_add(ts, &e, b, bl, NULL);
			CHECK(rc == QIAO_OK || rc == QIAO_EUNAUTH ||
			    rc == QIAO_EMALFORMED);
		}
		node_store_cursor_close(cur);
		/* Every key, at several seqs and times. */
		for (int i = 0; i < NKEYS; i++) {
			const uint8_t *pk = node_keys_public(keys[i].k);
			node_trust_id nid;
			crdt_trust_id cid;
			int nrc, crc;

			nrc = node_trust_lookup(obs, txn, pk, &nid);
			crc = crdt_trustset_lookup(ts, pk, &cid);
			CHECK(nrc == crc);
			if (nrc == QIAO_OK && crc == QIAO_OK) {
				CHECK((int)nid.role == (int)cid.role);
				CHECK_STR(cid.region, nid.region);
			}
			static const uint64_t qs[] = { 1, 2, 3, 4, 6, 9 };

			for (size_t qi = 0; qi < 6; qi++)
				for (uint64_t m = 0; m < 4; m++) {
					uint64_t q = qs[qi];
					crdt_entry e;

					memset(&e, 0, sizeof(e));
					memcpy(e.author, pk, QIAO_KEY_LEN);
					e.seq = q;
					e.hlc = crdt_hlc_make(TN_T0 + m * 20 * MIN,
					    0);
					nrc = node_trust_check(obs, txn, &e,
					    NULL, NULL);
					crc = crdt_trustset_check(ts, pk, q,
					    crdt_hlc_ms(e.hlc), NULL, NULL);
					if (nrc != crc)
						printf("  scenario %d key %d "
						       "seq %llu t+%llu: node "
						       "%s, verifier %s\n",
						    sc, i,
						    (unsigned long long)q,
						    (unsigned long long)m,
						    qiao_errname(nrc),
						    qiao_errname(crc));
					CHECK(nrc == crc);
					seen[nrc == QIAO_OK ? 0
					    : nrc == QIAO_EUNKNOWN ? 1
					    : nrc == QIAO_EREVOKED ? 2
								  : 3]++;
				}
		}
		node_store_txn_abort(txn);
		crdt_trustset_free(ts);
		for (size_t i = 0; i < ni; i++)
			free(bodies[i]);
		free(items);
		for (int i = 0; i < NKEYS; i++)
			node_keys_free(keys[i].k);
		tn_close_all();
	}
	/* The scenarios reach every verdict, or they test little. */
	printf("  verdicts compared: %zu ok, %zu unknown, %zu revoked, %zu "
	       "expired\n", seen[0], seen[1], seen[2], seen[3]);
	CHECK(seen[0] > 0 && seen[1] > 0 && seen[2] > 0 && seen[3] > 0);
}

/*
 * The synthetic district: every case the generator wrote (transfers to
 * towns and the district, concurrent re-routes, outcomes kept for review)
 * exported by the store, verified, and folded by the verifier to the very
 * state the nodes hold.
 */
static void
t_sim_district_all_cases(void)
{
	const char *dir = check_tmpdir();
	node_sim_opts o;
	node_sim_report rep;
	node_audit_result res;
	crdt_audit_report *r;
	char err[256], path[600];
	uint8_t *buf;
	size_t len;
	node *n;

	REQUIRE(dir != NULL);
	tn_start();
	REQUIRE((n = mk_in(dir, QIAO_ROLE_DISTRICT, "500116", NULL)) != NULL);
	node_sim_defaults(&o);
	o.seed = 7;
	o.towns = 2;
	o.villages = 6;
	o.microgrids = 60;
	o.cases = 300;
	o.resolved = 290;
	o.grassroots = 280;
	o.registry = 10;
	o.meetings = 5;
	tn_now_ms = o.start_ms + UINT64_C(400) * 86400000; /* after the year */
	REQUIRE(node_sim_gen(n, &o, &rep, err, sizeof(err)) == QIAO_OK);
	snprintf(path, sizeof(path), "%s/sim.qab", dir);
	REQUIRE(node_audit_export(n, NULL, 0, "500116", path, &res, err,
		    sizeof(err)) == QIAO_OK);
	CHECK(res.cases == 300);
	REQUIRE((buf = slurp(path, &len)) != NULL);
	REQUIRE((r = verify_buf(buf, len, PK(n))) != NULL);
	free(buf);
	for (size_t i = 0; i < r->nissues && i < 5; i++)
		if (!r->issues[i].finding)
			printf("  %s: %s\n", r->issues[i].code,
			    r->issues[i].msg);
	CHECK(r->failures == 0);
	CHECK(!has_issue(r, "state"));
	CHECK(r->ncases == 300);
	crdt_audit_report_free(r);
}

CHECK_MAIN(T(t_genuine_bundle_verifies), T(t_bundle_roundtrip_canonical),
    T(t_drop_middle_step_resigned), T(t_drop_step_not_resigned),
    T(t_drop_tail_caught_by_reconcile), T(t_hidden_key_caught_by_reconcile),
    T(t_reorder), T(t_backdate),
    T(t_stamped_before_its_dep), T(t_forward_dated), T(t_swap_certificate),
    T(t_splice_forks), T(t_fork_held_by_exporter),
    T(t_step_of_another_case), T(t_body_swapped), T(t_state_claim),
    T(t_out_of_scope), T(t_revoked_and_expired), T(t_view_tampered),
    T(t_statement_tampered), T(t_broken_files), T(t_findings),
    T(t_export_all_under), T(t_bundle_size_in_long_log),
    T(t_trust_rules_agree_with_nodes), T(t_sim_district_all_cases))
