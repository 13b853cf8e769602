/* The pure fold: op bodies are checked strictly; a record's state is a
 * function of its op set (any order, same bytes); concurrent writes are
 * kept as conflicts; custody is decided in each op's causal past. */
#include "tests/check.h"

#include "crdt/body.h"
#include "crdt/codec.h"
#include "crdt/hlc.h"
#include "crdt/op.h"
#include "crdt/record.h"
#include "crdt/types.h"

#define GRID "500116001001001"
#define VILLAGE "500116001001"
#define TOWN "500116001"
#define DISTRICT "500116"
#define T0 1700000000000ULL

static uint8_t k_village[32] = { 1 }, k_town[32] = { 2 },
	       k_district[32] = { 3 }, k_other[32] = { 4 };

struct set {
	crdt_rec_op ops[64];
	uint8_t *bodies[64];
	size_t n;
};

static void
set_free(struct set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->bodies[i]);
	s->n = 0;
}

/* Adds an op; its hash is that of its contents, like an entry's. */
static crdt_rec_op *
add(struct set *s, uint64_t type, const uint8_t *author, const char *station,
    uint64_t ms, uint8_t *body, size_t len)
{
	crdt_rec_op *op = &s->ops[s->n];
	crypto_generichash_state st;
	uint8_t t[16];

	memset(op, 0, sizeof(*op));
	memcpy(op->author, author, 32);
	op->hlc = crdt_hlc_make(T0 + ms, 0);
	op->type = type;
	op->body = body;
	op->body_len = len;
	snprintf(op->station, sizeof(op->station), "%s", station);
	op->privileged = strlen(station) <= 6;
	memcpy(t, &op->hlc, 8);
	memcpy(t + 8, &type, 8);
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, author, 32);
	crypto_generichash_update(&st, t, sizeof(t));
	crypto_generichash_update(&st, body, len);
	crypto_generichash_final(&st, op->hash, 32);
	s->bodies[s->n++] = body;
	return op;
}

static uint8_t *
finish(crdt_body *b, size_t *len)
{
	uint8_t *out = NULL;

	if (crdt_body_finish(b, &out, len) != QIAO_OK)
		abort();
	crdt_body_fini(b);
	return out;
}

static crdt_rec_op *
op_open(struct set *s, const uint8_t *author, const char *station,
    uint64_t ms)
{
	static const char *const parties[] = { "王某某", "李某某" };
	crdt_body b;
	uint8_t *body;
	size_t len;

	crdt_body_init(&b);
	crdt_op_begin(&b, "grid", GRID, NULL, NULL, 0);
	crdt_body_cstr(&b, "category", "邻里纠纷");
	crdt_body_cstr(&b, "title", "楼上漏水纠纷");
	crdt_op_strs(&b, "parties", parties, 2);
	body = finish(&b, &len);
	return add(s, QIAO_T_CASE_OPEN, author, station, ms, body, len);
}

/* A step on the case with deps on the given ops; k/v add one string
 * field (or none with k NULL). */
static crdt_rec_op *
op_step(struct set *s, uint64_t type, const uint8_t *author,
    const char *station, uint64_t ms, const uint8_t *case_id,
    const crdt_rec_op *const *deps, size_t nd, const char *k, const char *v)
{
	uint8_t d[8][32], *body;
	crdt_body b;
	size_t len;

	for (size_t i = 0; i < nd; i++)
		memcpy(d[i], deps[i]->hash, 32);
	crdt_body_init(&b);
	crdt_op_begin(&b, "grid", GRID, case_id,
	    (const uint8_t(*)[32])d, nd);
	if (k != NULL)
		crdt_body_cstr(&b, k, v);
	if (type == QIAO_T_CASE_EVALUATE)
		crdt_body_bool(&b, "satisfied", true);
	body = finish(&b, &len);
	return add(s, type, author, station, ms, body, len);
}

static uint8_t *
fold(const struct set *s, size_t *len, crdt_rec_summary *sum,
    const uint8_t *id)
{
	uint8_t *state = NULL;

	if (crdt_record_fold(CRDT_REC_CASE, GRID, id, s->ops, s->n, &state,
		len, sum) != QIAO_OK)
		return NULL;
	return state;
}

/* The register's shown value as a string, "" if absent. */
static const char *
field(const uint8_t *state, size_t len, const char *reg, char *buf,
    size_t cap)
{
	crdt_reader r;
	const uint8_t *fields;
	size_t flen;

	buf[0] = '\0';
	if (crdt_body_get(state, len, "fields", &r) != QIAO_OK)
		return buf;
	fields = r.p;
	if (crdt_read_skip(&r) != QIAO_OK)
		return buf;
	flen = (size_t)(r.p - fields);
	if (crdt_body_get_cstr(fields, flen, reg, buf, cap) != QIAO_OK)
		buf[0] = '\0';
	return buf;
}

static size_t
array_len(const uint8_t *state, size_t len, const char *key)
{
	crdt_reader r;
	size_t n = 0;

	if (crdt_body_get(state, len, key, &r) != QIAO_OK ||
	    crdt_read_array(&r, &n) != QIAO_OK)
		return SIZE_MAX;
	return n;
}

static void
t_op_check_accepts_and_refuses(void)
{
	uint8_t h[32] = { 9 }, *body;
	crdt_op_target t;
	const char *why;
	crdt_body b;
	size_t len;

	/* A good open names a case record by the entry's hash. */
	crdt_body_init(&b);
	crdt_op_begin(&b, "grid", GRID, NULL, NULL, 0);
	crdt_body_cstr(&b, "category", "邻里纠纷");
	crdt_body_cstr(&b, "title", "漏水");
	body = finish(&b, &len);
	REQUIRE_RC(crdt_op_check(QIAO_T_CASE_OPEN, body, len, h, &t, &why),
	    QIAO_OK);
	CHECK(t.kind == CRDT_REC_CASE && t.creates);
	CHECK_STR(t.code, GRID);
	CHECK(memcmp(t.id, h, 32) == 0);
	/* Missing title. */
	CHECK_RC(crdt_op_check(QIAO_T_CASE_ROUTE, body, len, h, &t, &why),
	    QIAO_EMALFORMED); /* a route needs "case" */
	free(body);

	crdt_body_init(&b);
	crdt_op_begin(&b, "grid", GRID, NULL, NULL, 0);
	crdt_body_cstr(&b, "category", "邻里纠纷");
	body = finish(&b, &len);
	CHECK_RC(crdt_op_check(QIAO_T_CASE_OPEN, body, len, h, &t, &why),
	    QIAO_EMALFORMED);
	free(body);

	/* A value outside its list, a control character in a title. */
	crdt_body_init(&b);
	crdt_op_begin(&b, "grid", GRID, NULL, NULL, 0);
	crdt_body_cstr(&b, "category", "c");
	crdt_body_cstr(&b, "title", "t");
	crdt_body_cstr(&b, "risk", "huge");
	body = finish(&b, &len);
	CHECK_RC(crdt_op_check(QIAO_T_CASE_OPEN, body, len, h, &t, &why),
	    QIAO_EMALFORMED);
	free(body);
	crdt_body_init(&b);
	crdt_op_begin(&b, "grid", GRID, NULL, NULL, 0);
	crdt_body_cstr(&b, "category", "c");
	crdt_body_cstr(&b, "title", "a\x1b[2Jb");
	body = finish(&b, &len);
	CHECK_RC(crdt_op_check(QIAO_T_CASE_OPEN, body, len, h, &t, &why),
	    QIAO_EMALFORMED);
	free(body);

	/* A grid code of the wrong length for its kind; a code with a
	 * letter. */
	crdt_body_init(&b);
	crdt_body_cstr(&b, "code", "500116001001");
	crdt_body_cstr(&b, "kind", "micro");
	body = finish(&b, &len);
	CHECK_RC(crdt_op_check(QIAO_T_GRID, body, len, h, &t, &why),
	    QIAO_EMALFORMED);
	free(body);
	crdt_body_init(&b);
	crdt_body_cstr(&b, "code", "50011600100a");
	body = finish(&b, &len);
	CHECK_RC(crdt_op_check(QIAO_T_GRID, body, len, h, &t, &why),
	    QIAO_EMALFORMED);
	free(body);
	crdt_body_init(&b);
	crdt_body_cstr(&b, "code", "500116001001");
	crdt_body_cstr(&b, "kind", "village");
	crdt_body_cstr(&b, "name", "石门村");
	body = finish(&b, &len);
	REQUIRE_RC(crdt_op_check(QIAO_T_GRID, body, len, h, &t, &why),
	    QIAO_OK);
	CHECK(t.kind == CRDT_REC_GRID && !t.creates);
	free(body);

	/* A transfer only up the case's own line. */
	crdt_body_init(&b);
	crdt_op_begin(&b, "grid", GRID, h, NULL, 0);
	crdt_body_cstr(&b, "to", "500116002");
	body = finish(&b, &len);
	CHECK_RC(crdt_op_check(QIAO_T_CASE_TRANSFER, body, len, h, &t, &why),
	    QIAO_EMALFORMED);
	free(body);
	crdt_body_init(&b);
	crdt_op_begin(&b, "grid", GRID, h, NULL, 0);
	crdt_body_cstr(&b, "to", TOWN);
	body = finish(&b, &len);
	CHECK_RC(crdt_op_check(QIAO_T_CASE_TRANSFER, body, len, h, &t, &why),
	    QIAO_OK);
	free(body);

	/* Not a record type. */
	CHECK_RC(crdt_op_check(QIAO_T_NOTE, h, 1, h, &t, &why), QIAO_EINVAL);
}

/* A case with a concurrent pair of routes and a non-custodian outcome. */
static void
build_case(struct set *s, const uint8_t **id)
{
	crdt_rec_op *open, *acc, *r1, *r2, *res_town, *arr;
	const crdt_rec_op *d[2];

	open = op_open(s, k_village, VILLAGE, 0);
	*id = open->hash;
	d[0] = open;
	acc = op_step(s, QIAO_T_CASE_ACCEPT, k_village, VILLAGE, 30000, *id,
	    d, 1, NULL, NULL);
	d[0] = acc;
	/* The village and the district route at once, neither seeing the
	 * other: category conflicts. */
	r1 = op_step(s, QIAO_T_CASE_ROUTE, k_village, VILLAGE, 60000, *id, d,
	    1, "category", "物业纠纷");
	r2 = op_step(s, QIAO_T_CASE_ROUTE, k_district, DISTRICT, 61000, *id,
	    d, 1, "category", "婚姻家庭");
	d[0] = r1;
	arr = op_step(s, QIAO_T_CASE_ARRIVE, k_village, VILLAGE, 200000, *id,
	    d, 1, NULL, NULL);
	/* The town resolves without the case having been transferred. */
	d[0] = acc;
	res_town = op_step(s, QIAO_T_CASE_RESOLVE, k_town, TOWN, 300000, *id,
	    d, 1, "level", "town");
	(void)res_town;
	d[0] = arr;
	op_step(s, QIAO_T_CASE_NOTE, k_other, "500116001002", 400000, *id, d,
	    1, "note", "旁注");
	(void)r2;
}

static void
t_fold_same_bytes_in_any_order(void)
{
	struct set s = { 0 }, p;
	const uint8_t *id;
	uint8_t *ref, *st;
	size_t rlen, len;
	crdt_rec_summary a, b;

	build_case(&s, &id);
	REQUIRE((ref = fold(&s, &rlen, &a, id)) != NULL);
	CHECK_RC(crdt_codec_check(ref, rlen, NULL, NULL), QIAO_OK);
	for (int round = 0; round < 50; round++) {
		p = s;
		for (size_t i = p.n; i > 1; i--) {
			size_t j = check_rand_below(i);
			crdt_rec_op t = p.ops[i - 1];

			p.ops[i - 1] = p.ops[j];
			p.ops[j] = t;
		}
		st = fold(&p, &len, &b, id);
		REQUIRE(st != NULL);
		CHECK(len == rlen && memcmp(st, ref, len) == 0);
		CHECK(memcmp(&a, &b, sizeof(a)) == 0);
		free(st);
	}
	free(ref);
	set_free(&s);
}

static void
t_concurrent_writes_are_a_conflict(void)
{
	struct set s = { 0 };
	const uint8_t *id;
	uint8_t *st;
	size_t len;
	crdt_rec_summary sum;
	char buf[256];

	build_case(&s, &id);
	REQUIRE((st = fold(&s, &len, &sum, id)) != NULL);
	/* Both categories kept; the later-ranked (district's) shown. */
	CHECK(array_len(st, len, "conflicts") == 1);
	CHECK_STR(field(st, len, "category", buf, sizeof(buf)), "婚姻家庭");
	CHECK(sum.flags & CRDT_SUM_CONFLICT);
	free(st);

	/* A write that saw both settles it. */
	{
		const crdt_rec_op *d[2] = { &s.ops[2], &s.ops[3] };

		op_step(&s, QIAO_T_CASE_ROUTE, k_village, VILLAGE, 500000, id,
		    d, 2, "category", "邻里纠纷");
	}
	REQUIRE((st = fold(&s, &len, &sum, id)) != NULL);
	CHECK(array_len(st, len, "conflicts") == 0);
	CHECK_STR(field(st, len, "category", buf, sizeof(buf)), "邻里纠纷");
	CHECK(!(sum.flags & CRDT_SUM_CONFLICT));
	free(st);
	set_free(&s);
}

static void
t_outcome_by_non_custodian_is_for_review(void)
{
	struct set s = { 0 };
	const uint8_t *id;
	uint8_t *st;
	size_t len;
	crdt_rec_summary sum;
	char buf[64];

	build_case(&s, &id);
	REQUIRE((st = fold(&s, &len, &sum, id)) != NULL);
	/* The town's resolve is kept but did not win. */
	CHECK(array_len(st, len, "review") == 1);
	CHECK(sum.flags & CRDT_SUM_REVIEW);
	CHECK_STR(field(st, len, "status", buf, sizeof(buf)), "routed");
	CHECK_STR(field(st, len, "custodian", buf, sizeof(buf)), VILLAGE);
	CHECK(sum.level == 0);
	CHECK(array_len(st, len, "timeline") == s.n);
	free(st);
	set_free(&s);
}

static void
t_transfer_moves_custody_when_accepted(void)
{
	struct set s = { 0 };
	const crdt_rec_op *d[1];
	crdt_rec_op *open, *acc, *tr, *tacc, *res;
	const uint8_t *id;
	uint8_t *st;
	size_t len;
	crdt_rec_summary sum;
	char buf[64];

	open = op_open(&s, k_village, VILLAGE, 0);
	id = open->hash;
	d[0] = open;
	acc = op_step(&s, QIAO_T_CASE_ACCEPT, k_village, VILLAGE, 40000, id,
	    d, 1, NULL, NULL);
	d[0] = acc;
	tr = op_step(&s, QIAO_T_CASE_TRANSFER, k_village, VILLAGE, 100000, id,
	    d, 1, "to", TOWN);
	REQUIRE((st = fold(&s, &len, &sum, id)) != NULL);
	/* Not yet accepted: the village still holds it. */
	CHECK_STR(field(st, len, "custodian", buf, sizeof(buf)), VILLAGE);
	CHECK_STR(field(st, len, "status", buf, sizeof(buf)), "transferred");
	free(st);
	d[0] = tr;
	tacc = op_step(&s, QIAO_T_CASE_ACCEPT, k_town, TOWN, 200000, id, d, 1,
	    NULL, NULL);
	d[0] = tacc;
	res = op_step(&s, QIAO_T_CASE_RESOLVE, k_town, TOWN, 900000, id, d, 1,
	    "level", "town");
	REQUIRE((st = fold(&s, &len, &sum, id)) != NULL);
	CHECK_STR(field(st, len, "custodian", buf, sizeof(buf)), TOWN);
	CHECK_STR(field(st, len, "level", buf, sizeof(buf)), "town");
	CHECK_STR(field(st, len, "status", buf, sizeof(buf)), "resolved");
	CHECK(sum.status == CRDT_CS_RESOLVED);
	CHECK(sum.level == 3); /* town */
	CHECK(array_len(st, len, "review") == 0);
	/* SLA: accepted after 40 s (the first accept), no arrival. */
	CHECK(sum.response_ms == 40000);
	CHECK(sum.arrival_ms == CRDT_SUM_NONE);
	CHECK(sum.time_ms == T0);
	CHECK(sum.flags & CRDT_SUM_OPENED);
	free(st);

	/* After custody moved, a village step that saw it is for review. */
	d[0] = res;
	op_step(&s, QIAO_T_CASE_CLOSE, k_village, VILLAGE, 950000, id, d, 1,
	    NULL, NULL);
	REQUIRE((st = fold(&s, &len, &sum, id)) != NULL);
	CHECK(array_len(st, len, "review") == 1);
	CHECK_STR(field(st, len, "status", buf, sizeof(buf)), "resolved");
	free(st);
	set_free(&s);
}

static void
t_missing_deps_fold_as_concurrent_then_settle(void)
{
	struct set s = { 0 }, part;
	const crdt_rec_op *d[1];
	crdt_rec_op *open, *r1, *r2;
	const uint8_t *id;
	uint8_t *st;
	size_t len;
	crdt_rec_summary sum;
	char buf[64];

	open = op_open(&s, k_village, VILLAGE, 0);
	id = open->hash;
	d[0] = open;
	r1 = op_step(&s, QIAO_T_CASE_ROUTE, k_village, VILLAGE, 1000, id, d, 1,
	    "assignee", "张三");
	d[0] = r1;
	/* The district's route saw r1 and overrides it, but was stamped by
	 * a clock behind: rank says r1 is later, ancestry says r2 wins. */
	r2 = op_step(&s, QIAO_T_CASE_ROUTE, k_district, DISTRICT, 500, id, d,
	    1, "assignee", "李四");
	(void)r2;
	REQUIRE((st = fold(&s, &len, &sum, id)) != NULL);
	CHECK_STR(field(st, len, "assignee", buf, sizeof(buf)), "李四");
	CHECK(array_len(st, len, "conflicts") == 0);
	free(st);
	/* Without r1 the dep is unknown: r2 still folds, alone. */
	part = s;
	part.ops[1] = part.ops[2];
	part.n = 2;
	REQUIRE((st = fold(&part, &len, &sum, id)) != NULL);
	CHECK_STR(field(st, len, "assignee", buf, sizeof(buf)), "李四");
	free(st);
	/* Without the opening, custody is unknown: the village's route is
	 * for review, the district's counts. */
	part = s;
	part.ops[0] = part.ops[2];
	part.n = 2;
	REQUIRE((st = fold(&part, &len, &sum, id)) != NULL);
	CHECK(array_len(st, len, "review") == 1);
	CHECK(!(sum.flags & CRDT_SUM_OPENED));
	free(st);
	set_free(&s);
}

static void
t_sets_add_win_and_heads(void)
{
	struct set s = { 0 };
	crdt_rec_op *open, *r1;
	const uint8_t *id;
	uint8_t *st;
	size_t len, n;
	crdt_reader r;

	open = op_open(&s, k_village, VILLAGE, 0);
	id = open->hash;
	{
		static const char *const more[] = { "赵某某", "王某某" };
		uint8_t dd[1][32], *body;
		crdt_body b;

		memcpy(dd[0], open->hash, 32);
		crdt_body_init(&b);
		crdt_op_begin(&b, "grid", GRID, id,
		    (const uint8_t(*)[32])dd, 1);
		crdt_op_strs(&b, "parties", more, 2);
		body = finish(&b, &len);
		r1 = add(&s, QIAO_T_CASE_ROUTE, k_village, VILLAGE, 1000,
		    body, len);
	}
	REQUIRE((st = fold(&s, &len, NULL, id)) != NULL);
	REQUIRE_RC(crdt_body_get(st, len, "sets", &r), QIAO_OK);
	{
		const uint8_t *sets = r.p;
		size_t slen;

		REQUIRE_RC(crdt_read_skip(&r), QIAO_OK);
		slen = (size_t)(r.p - sets);
		REQUIRE_RC(crdt_body_get(sets, slen, "parties", &r), QIAO_OK);
		REQUIRE_RC(crdt_read_array(&r, &n), QIAO_OK);
		CHECK(n == 3); /* 王某某 once */
	}
	/* One head: the route (it follows the opening). */
	REQUIRE_RC(crdt_body_get(st, len, "heads", &r), QIAO_OK);
	REQUIRE_RC(crdt_read_array(&r, &n), QIAO_OK);
	REQUIRE(n == 1);
	{
		uint8_t h[32];

		REQUIRE_RC(crdt_read_fixbin(&r, h, 32), QIAO_OK);
		CHECK(memcmp(h, r1->hash, 32) == 0);
	}
	free(st);
	set_free(&s);
}

static void
t_empty_set_folds(void)
{
	uint8_t *st = NULL, id[32] = { 5 };
	size_t len;
	crdt_rec_summary sum;

	/* Ops whose bodies are not held leave a record with nothing to
	 * fold: still a state, never an allocation failure. */
	REQUIRE_RC(crdt_record_fold(CRDT_REC_CASE, GRID, id, NULL, 0, &st,
		       &len, &sum), QIAO_OK);
	CHECK_RC(crdt_codec_check(st, len, NULL, NULL), QIAO_OK);
	CHECK(!(sum.flags & CRDT_SUM_OPENED));
	CHECK(array_len(st, len, "timeline") == 0);
	free(st);
}

static void
t_summary_roundtrip(void)
{
	crdt_rec_summary a = { 1, 2, 3, CRDT_SUM_NONE, 77, 6, 2, 1, 5 }, b;
	uint8_t buf[CRDT_SUMMARY_LEN];

	crdt_rec_summary_encode(&a, buf);
	REQUIRE_RC(crdt_rec_summary_decode(&b, buf, sizeof(buf)), QIAO_OK);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	CHECK_RC(crdt_rec_summary_decode(&b, buf, 39), QIAO_EMALFORMED);
	CHECK(crdt_case_status_parse("closed") == CRDT_CS_CLOSED);
	CHECK(crdt_case_status_resolved(CRDT_CS_VISITED));
	CHECK(!crdt_case_status_resolved(CRDT_CS_REOPENED));
}

CHECK_MAIN(T(t_op_check_accepts_and_refuses),
    T(t_fold_same_bytes_in_any_order),
    T(t_concurrent_writes_are_a_conflict),
    T(t_outcome_by_non_custodian_is_for_review),
    T(t_transfer_moves_custody_when_accepted),
    T(t_missing_deps_fold_as_concurrent_then_settle),
    T(t_sets_add_win_and_heads), T(t_empty_set_folds),
    T(t_summary_roundtrip))
