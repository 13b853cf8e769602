#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crdt/body.h"
#include "crdt/cert.h"
#include "crdt/hlc.h"
#include "crdt/types.h"
#include "node/ingest.h"
#include "node/sim.h"
#include "node/simtext.h"
#include "node/store.h"
#include "node/trust.h"

#define BATCH 2048
#define SEC 1000ULL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

/* 2024-01-01 00:00 in China Standard Time (UTC+8). */
#define START_MS 1704038400000ULL

void
node_sim_defaults(node_sim_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->seed = 1;
	o->towns = QIAO_SIM_TOWNS;
	o->villages = QIAO_SIM_VILLAGES;
	o->microgrids = QIAO_SIM_MICROGRIDS;
	o->cases = QIAO_SIM_CASES;
	o->resolved = QIAO_SIM_RESOLVED;
	o->grassroots = QIAO_SIM_GRASSROOTS;
	o->registry = QIAO_SIM_REGISTRY;
	o->meetings = QIAO_SIM_MEETINGS;
	snprintf(o->district, sizeof(o->district), "%s", QIAO_SIM_DISTRICT);
	o->start_ms = START_MS;
	o->days = 366;
}

struct station {
	char code[QIAO_CODE_MAX];
	char name[64];
	uint8_t pk[QIAO_KEY_LEN];
	uint8_t *sk;     /* in the generator's sodium_malloc'd block */
	uint64_t seq, hlc;
	uint8_t last[QIAO_HASH_LEN];
	unsigned parent; /* a village's town */
	unsigned first_micro, nmicro, first_grid, ngrids;
	unsigned households;
	bool community;
	uint32_t ring[4]; /* cases opened lately, for meetings to link */
	unsigned nring;
};

/* A grid (15 digits) or micro-grid (18 digits). */
struct place {
	char code[QIAO_CODE_MAX];
	unsigned village;
	unsigned households;
};

/* One step of a case's planned life. */
struct step {
	uint64_t ms;
	uint16_t st;   /* the station that signs it */
	uint8_t type;  /* minus QIAO_T_CASE_OPEN */
	uint8_t arg;   /* level, satisfied, transfer target... */
	uint8_t side;  /* concurrent: deps on the acceptance only */
};

struct kase {
	uint32_t place;       /* into micro (or grids when in_grid) */
	bool in_grid;
	uint32_t first, n;    /* its steps */
	uint8_t open[QIAO_HASH_LEN], accept[QIAO_HASH_LEN],
	    last[QIAO_HASH_LEN];
};

struct event {
	uint64_t ms;
	uint32_t idx;
	uint16_t step;
	uint8_t kind; /* 0 case step, 1 meeting */
};

struct gen {
	node *n;
	const node_sim_opts *o;
	node_sim_report *r;
	node_simrng rng;
	struct station *st;
	unsigned nst, ntowns;
	uint8_t *secrets;
	struct place *grids, *micro;
	size_t ngrids, nmicro;
	struct kase *cases;
	struct step *steps;
	size_t nsteps, capsteps;
	struct event *ev;
	size_t nev;
	node_ingest_item *items;
	uint8_t **bodies;
	size_t nitems;
	uint64_t clock; /* setup entries' time */
	char *err;
	size_t errlen;
};

/* Stations: 0 the district, 1..towns the towns, then the villages. */
static unsigned
town_of(const struct gen *g, unsigned t)
{
	(void)g;
	return 1 + t;
}

static int
flush(struct gen *g)
{
	node_ingest_stats st;
	node_txn *txn;
	char why[256];
	int rc;

	if (g->nitems == 0)
		return QIAO_OK;
	rc = node_store_txn_begin(node_get_store(g->n), true, &txn);
	if (rc == QIAO_OK)
		rc = node_ingest_txn(g->n, txn, g->items, g->nitems, true, &st);
	for (size_t i = 0; rc == QIAO_OK && i < g->nitems; i++) {
		const node_ingest_item *it = &g->items[i];

		if (it->rc != QIAO_OK || it->op_rc != QIAO_OK) {
			node_ingest_describe(it, why, sizeof(why));
			snprintf(g->err, g->errlen,
			    "a generated entry was not accepted: %s", why);
			rc = QIAO_ESTATE;
		}
	}
	if (rc == QIAO_OK)
		rc = node_store_txn_commit(txn);
	else
		node_store_txn_abort(txn);
	for (size_t i = 0; i < g->nitems; i++)
		free(g->bodies[i]);
	g->r->entries += g->nitems;
	g->nitems = 0;
	return rc;
}

/* Signs body (taking it) as station s's next entry at ms. */
static int
emit_raw(struct gen *g, unsigned s, uint64_t ms, uint64_t type,
    uint8_t *body, size_t len, uint8_t *hash)
{
	struct station *st = &g->st[s];
	node_ingest_item *it = &g->items[g->nitems];
	uint64_t hlc = crdt_hlc_make(ms, 0);
	int rc;

	memset(it, 0, sizeof(*it));
	it->e.seq = st->seq + 1;
	if (st->seq > 0) {
		it->e.has_prev = true;
		memcpy(it->e.prev, st->last, QIAO_HASH_LEN);
	}
	if (hlc <= st->hlc)
		hlc = st->hlc + 1;
	it->e.hlc = hlc;
	it->e.type = type;
	it->e.body_len = len;
	crdt_entry_body_hash(it->e.body_hash, body, len);
	if ((rc = crdt_entry_sign(&it->e, st->sk)) != QIAO_OK) {
		free(body);
		return rc;
	}
	st->seq++;
	st->hlc = hlc;
	memcpy(st->last, it->e.hash, QIAO_HASH_LEN);
	if (hash != NULL)
		memcpy(hash, it->e.hash, QIAO_HASH_LEN);
	it->body = body;
	it->body_len = len;
	g->bodies[g->nitems++] = body;
	return g->nitems == BATCH ? flush(g) : QIAO_OK;
}

static int
emit(struct gen *g, unsigned s, uint64_t ms, uint64_t type, crdt_body *b,
    uint8_t *hash)
{
	uint8_t *body;
	size_t len;
	int rc = crdt_body_finish(b, &body, &len);

	crdt_body_fini(b);
	if (rc != QIAO_OK)
		return rc;
	return emit_raw(g, s, ms, type, body, len, hash);
}

static void
progress(struct gen *g, const char *phase, uint64_t done, uint64_t total)
{
	if (g->o->progress != NULL)
		g->o->progress(g->o->progress_ctx, phase, done, total);
}

/* Stations. */

static void
derive_key(struct gen *g, struct station *s)
{
	uint8_t seed[crypto_sign_SEEDBYTES], le[8];
	crypto_generichash_state h;

	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(g->o->seed >> (8 * i));
	crypto_generichash_init(&h, NULL, 0, sizeof(seed));
	crypto_generichash_update(&h, (const uint8_t *)"qiao-sim-key", 12);
	crypto_generichash_update(&h, le, sizeof(le));
	crypto_generichash_update(&h, (const uint8_t *)s->code,
	    strlen(s->code));
	crypto_generichash_final(&h, seed, sizeof(seed));
	crypto_sign_seed_keypair(s->pk, s->sk, seed);
	sodium_memzero(seed, sizeof(seed));
}

/* A place name not yet used among st[from..to). */
static void
fresh_name(struct gen *g, unsigned from, unsigned to, const char *suffix,
    char *out, size_t cap)
{
	char stem[32];

	for (int tries = 0;; tries++) {
		bool dup = false;

		node_simtext_place(&g->rng, stem, sizeof(stem));
		snprintf(out, cap, "%s%s", stem, suffix);
		for (unsigned i = from; i < to && !dup; i++)
			dup = strcmp(g->st[i].name, out) == 0;
		if (!dup || tries > 50)
			return;
	}
}

static int
make_stations(struct gen *g)
{
	const node_sim_opts *o = g->o;
	unsigned v = 1 + o->towns;

	g->ntowns = o->towns;
	g->nst = 1 + o->towns + o->villages;
	g->st = calloc(g->nst, sizeof(*g->st));
	g->secrets = sodium_malloc((size_t)g->nst * QIAO_SK_LEN);
	if (g->st == NULL || g->secrets == NULL)
		return QIAO_ENOMEM;
	for (unsigned i = 0; i < g->nst; i++)
		g->st[i].sk = g->secrets + (size_t)i * QIAO_SK_LEN;
	snprintf(g->st[0].code, sizeof(g->st[0].code), "%s", o->district);
	fresh_name(g, 0, 0, "区", g->st[0].name, sizeof(g->st[0].name));
	for (unsigned t = 0; t < o->towns; t++) {
		struct station *s = &g->st[town_of(g, t)];
		unsigned nv = o->villages / o->towns +
		    (t < o->villages % o->towns);
		unsigned nc = (nv * 3 + 5) / 10, first = v;

		if (nc > 199)
			nc = 199;

		snprintf(s->code, sizeof(s->code), "%.6s%03u", o->district,
		    (t + 1) % 1000);
		fresh_name(g, 1, town_of(g, t),
		    node_simrng_chance(&g->rng, 300) ? "街道" : "镇", s->name,
		    sizeof(s->name));
		/* Division codes: communities 001-199, villages 200-999. */
		for (unsigned j = 0; j < nv; j++, v++) {
			struct station *c = &g->st[v];

			c->parent = town_of(g, t);
			c->community = j < nc;
			snprintf(c->code, sizeof(c->code), "%.9s%03u", s->code,
			    (c->community ? j + 1 : 200 + (j - nc)) % 1000);
			fresh_name(g, first, v,
			    c->community ? "社区" : "村", c->name,
			    sizeof(c->name));
		}
	}
	for (unsigned i = 0; i < g->nst; i++)
		derive_key(g, &g->st[i]);
	return QIAO_OK;
}

/* The grid hierarchy: each village's micro-grids, grouped eight or so to a
 * grid. */
static int
make_places(struct gen *g)
{
	const node_sim_opts *o = g->o;
	unsigned first_village = 1 + o->towns, m = 0, gi = 0;
	size_t ngrids = 0;

	for (unsigned v = 0; v < o->villages; v++) {
		unsigned nm = o->microgrids / o->villages +
		    (v < o->microgrids % o->villages);

		ngrids += (nm + 7) / 8;
	}
	g->micro = calloc(o->microgrids, sizeof(*g->micro));
	g->grids = calloc(ngrids ? ngrids : 1, sizeof(*g->grids));
	if (g->micro == NULL || g->grids == NULL)
		return QIAO_ENOMEM;
	for (unsigned v = 0; v < o->villages; v++) {
		struct station *s = &g->st[first_village + v];
		unsigned nm = o->microgrids / o->villages +
		    (v < o->microgrids % o->villages);
		unsigned ng = (nm + 7) / 8;

		s->first_micro = m;
		s->nmicro = nm;
		s->first_grid = gi;
		s->ngrids = ng;
		for (unsigned k = 0; k < ng; k++) {
			struct place *p = &g->grids[gi + k];

			snprintf(p->code, sizeof(p->code), "%.12s%03u",
			    s->code, (k + 1) % 1000);
			p->village = first_village + v;
		}
		for (unsigned k = 0; k < nm; k++, m++) {
			struct place *p = &g->micro[m];
			unsigned per = ng ? ng : 1; /* nm > 0, so ng > 0 */
			struct place *gp = &g->grids[gi + k % per];

			snprintf(p->code, sizeof(p->code), "%.15s%03u",
			    gp->code, (k / per + 1) % 1000);
			p->village = first_village + v;
			p->households = 50 + (unsigned)node_simrng_below(
			    &g->rng, 31);
			gp->households += p->households;
			s->households += p->households;
			g->st[s->parent].households += p->households;
		}
		gi += ng;
	}
	g->nmicro = m;
	g->ngrids = gi;
	return QIAO_OK;
}

/* Setup: enrolments, grid records, the registry; stamped before the first
 * intake so every station's clock runs forward into the cases. */

static uint64_t
tick(struct gen *g)
{
	g->clock += SEC;
	return g->clock;
}

static int
enrol(struct gen *g, int issuer, unsigned s, const char *role)
{
	const struct station *st = &g->st[s];
	const char *why = NULL;
	crdt_cert c;
	uint8_t *body;
	size_t len;
	int rc;

	memset(&c, 0, sizeof(c));
	memcpy(c.subject, st->pk, QIAO_KEY_LEN);
	snprintf(c.role, sizeof(c.role), "%s", role);
	snprintf(c.region, sizeof(c.region), "%s", st->code);
	snprintf(c.name, sizeof(c.name), "%s", st->name);
	if ((rc = crdt_cert_encode(&c, &body, &len)) != QIAO_OK)
		return rc;
	if (issuer >= 0)
		return emit_raw(g, (unsigned)issuer, tick(g), QIAO_T_ENROL,
		    body, len, NULL);
	/* The store's own key, the trust anchor, signs through the node. */
	rc = node_append(g->n, QIAO_T_ENROL, body, len, NULL, &why);
	free(body);
	if (rc != QIAO_OK)
		snprintf(g->err, g->errlen, "enrolment refused: %s",
		    why ? why : qiao_strerror(rc));
	else
		g->r->entries++;
	return rc;
}

static int
grid_record(struct gen *g, unsigned s, const char *code, const char *kind,
    const char *name, unsigned households, bool leader)
{
	char person[32], phone[16];
	crdt_body b;

	crdt_body_init(&b);
	crdt_op_begin(&b, "code", code, NULL, NULL, 0);
	crdt_body_cstr(&b, "kind", kind);
	crdt_body_cstr(&b, "name", name);
	if (households > 0)
		crdt_body_uint(&b, "households", households);
	if (leader) {
		node_simtext_person(&g->rng, person, sizeof(person));
		node_simtext_phone(&g->rng, phone, sizeof(phone));
		crdt_body_cstr(&b, "leader", person);
		crdt_body_cstr(&b, "phone", phone);
	}
	g->r->grids++;
	return emit(g, s, tick(g), QIAO_T_GRID, &b, NULL);
}

static int
village_grids(struct gen *g, unsigned s)
{
	static const struct {
		const char *kind, *label;
		unsigned per_mille;
	} special[] = { { "shop", "商铺专属网格", 350 },
		{ "school", "学校培训机构专属网格", 150 },
		{ "clinic", "医疗机构专属网格", 250 },
		{ "institution", "机关企事业单位专属网格", 200 } };
	const struct station *st = &g->st[s];
	char name[128], who[32];
	int rc = QIAO_OK;

	for (unsigned k = 0; k < st->ngrids && rc == QIAO_OK; k++) {
		const struct place *p = &g->grids[st->first_grid + k];

		snprintf(name, sizeof(name), "%s第%u网格", st->name, k + 1);
		rc = grid_record(g, s, p->code, "grid", name, p->households,
		    true);
	}
	for (unsigned k = 0; k < st->nmicro && rc == QIAO_OK; k++) {
		const struct place *p = &g->micro[st->first_micro + k];
		unsigned no = k / (st->ngrids ? st->ngrids : 1) + 1;

		if (st->community)
			snprintf(name, sizeof(name), "%u%s", no + 0u,
			    node_simrng_chance(&g->rng, 500) ? "栋" : "号楼");
		else if (node_simrng_chance(&g->rng, 300)) {
			node_simtext_person(&g->rng, who, sizeof(who));
			/* The surname: the first character (3 bytes). */
			snprintf(name, sizeof(name), "%.3s家院子", who);
		} else if (node_simrng_chance(&g->rng, 300))
			snprintf(name, sizeof(name), "十户联防第%u组", no);
		else
			snprintf(name, sizeof(name), "%u组", no);
		rc = grid_record(g, s, p->code, "micro", name, p->households,
		    false);
	}
	for (size_t k = 0; k < 4 && rc == QIAO_OK; k++) {
		char code[QIAO_CODE_MAX];

		if (!node_simrng_chance(&g->rng, special[k].per_mille))
			continue;
		snprintf(code, sizeof(code), "%.12s%03zu", st->code,
		    (901 + k) % 1000);
		snprintf(name, sizeof(name), "%s%s", st->name,
		    special[k].label);
		rc = grid_record(g, s, code, special[k].kind, name, 0, true);
	}
	return rc;
}

static int
registry_record(struct gen *g, uint64_t i)
{
	static const char *const uses[] = { "自住", "出租", "经营", "空置" };
	static const char *const orgs[] = { "商贸有限公司", "农业专业合作社",
		"餐饮店", "建材经营部", "物业服务有限公司" };
	node_simrng r;
	const struct place *p;
	const struct station *st;
	char name[128], addr[128], person[32], buf[40];
	unsigned k;
	crdt_body b;

	node_simrng_seed(&r, g->o->seed, 3000000 + i);
	p = &g->micro[node_simrng_below(&r, g->nmicro)];
	st = &g->st[p->village];
	snprintf(addr, sizeof(addr), "%s%u组%u号", st->name,
	    1 + (unsigned)node_simrng_below(&r, 12),
	    1 + (unsigned)node_simrng_below(&r, 120));
	k = (unsigned)node_simrng_below(&r, 10);
	crdt_body_init(&b);
	crdt_op_begin(&b, "grid", p->code, NULL, NULL, 0);
	if (k < 5) {
		node_simtext_person(&r, person, sizeof(person));
		crdt_body_cstr(&b, "kind", "person");
		crdt_body_cstr(&b, "name", person);
		crdt_body_cstr(&b, "address", addr);
		node_simtext_id_no(&r, g->o->district, buf, sizeof(buf));
		crdt_body_cstr(&b, "id_no", buf);
		node_simtext_phone(&r, buf, sizeof(buf));
		crdt_body_cstr(&b, "phone", buf);
	} else if (k < 7) {
		crdt_body_cstr(&b, "kind", "address");
		crdt_body_cstr(&b, "name", addr);
	} else if (k < 9) {
		node_simtext_person(&r, person, sizeof(person));
		crdt_body_cstr(&b, "kind", "house");
		crdt_body_cstr(&b, "name", addr);
		crdt_body_cstr(&b, "owner", person);
		crdt_body_cstr(&b, "use", uses[node_simrng_below(&r, 4)]);
	} else {
		node_simtext_place(&r, buf, sizeof(buf));
		snprintf(name, sizeof(name), "%s%s", buf,
		    orgs[node_simrng_below(&r, 5)]);
		crdt_body_cstr(&b, "kind", "org");
		crdt_body_cstr(&b, "name", name);
		crdt_body_cstr(&b, "address", addr);
		node_simtext_credit(&r, buf, sizeof(buf));
		crdt_body_cstr(&b, "credit_code", buf);
		node_simtext_phone(&r, buf, sizeof(buf));
		crdt_body_cstr(&b, "phone", buf);
	}
	g->r->registry++;
	return emit(g, p->village, tick(g), QIAO_T_REG, &b, NULL);
}

static int
setup(struct gen *g)
{
	unsigned first_village = 1 + g->ntowns;
	char person[32], phone[16];
	int rc;

	/* The anchor enrols the district and the towns. */
	if ((rc = enrol(g, -1, 0, "district")) != QIAO_OK)
		return rc;
	for (unsigned t = 0; t < g->ntowns; t++)
		if ((rc = enrol(g, -1, town_of(g, t), "town")) != QIAO_OK)
			return rc;
	g->clock = g->o->start_ms - 30 * DAY;
	/* Towns enrol their villages and keep the town's and the villages'
	 * grid records. */
	for (unsigned v = first_village; v < g->nst; v++)
		if ((rc = enrol(g, (int)g->st[v].parent, v, "village")) != 0)
			return rc;
	for (unsigned t = 0; t < g->ntowns; t++) {
		const struct station *s = &g->st[town_of(g, t)];

		if ((rc = grid_record(g, town_of(g, t), s->code, "town",
			 s->name, s->households, false)) != QIAO_OK)
			return rc;
	}
	for (unsigned v = first_village; v < g->nst; v++) {
		const struct station *s = &g->st[v];
		crdt_body b;

		node_simtext_person(&g->rng, person, sizeof(person));
		node_simtext_phone(&g->rng, phone, sizeof(phone));
		crdt_body_init(&b);
		crdt_op_begin(&b, "code", s->code, NULL, NULL, 0);
		crdt_body_cstr(&b, "kind", "village");
		crdt_body_cstr(&b, "name", s->name);
		crdt_body_uint(&b, "households", s->households);
		crdt_body_cstr(&b, "leader", person);
		crdt_body_cstr(&b, "phone", phone);
		g->r->grids++;
		if ((rc = emit(g, s->parent, tick(g), QIAO_T_GRID, &b,
			 NULL)) != QIAO_OK)
			return rc;
	}
	/* Villages keep their grids, micro-grids and specialised grids. */
	for (unsigned v = first_village; v < g->nst; v++) {
		if ((rc = village_grids(g, v)) != QIAO_OK)
			return rc;
		progress(g, "grids", v - first_village + 1,
		    g->nst - first_village);
	}
	for (uint64_t i = 0; i < g->o->registry; i++)
		if ((rc = registry_record(g, i)) != QIAO_OK)
			return rc;
	return QIAO_OK;
}

/* Case plans. */

enum {
	ARG_TO_TOWN = 1,
	ARG_TO_DISTRICT = 2,
	ARG_BODY = 4,     /* transfer: to a named body there */
	ARG_RECATEGORY = 8,
};

static int
add_step(struct gen *g, uint64_t ms, unsigned st, uint64_t type,
    unsigned arg, bool side)
{
	if (g->nsteps == g->capsteps) {
		size_t cap = g->capsteps ? 2 * g->capsteps : 1 << 16;
		struct step *v = realloc(g->steps, cap * sizeof(*v));

		if (v == NULL)
			return QIAO_ENOMEM;
		g->steps = v;
		g->capsteps = cap;
	}
	g->steps[g->nsteps++] = (struct step) { ms, (uint16_t)st,
		(uint8_t)(type - QIAO_T_CASE_OPEN), (uint8_t)arg,
		(uint8_t)side };
	return QIAO_OK;
}

/* Level indices into crdt_levels. */
enum { L_GRID, L_VILLAGE, L_TOWN, L_DISTRICT };

/*
 * One case's life. cls 0: still open at the end; 1: resolved at grid,
 * village or town level; 2: resolved by the district.
 */
static int
plan_case(struct gen *g, uint64_t k, int cls, uint64_t intake)
{
	struct kase *c = &g->cases[k];
	node_simrng r;
	unsigned v, town, cust, level;
	uint64_t t = intake, a, ro, ar, fb, cur, lim;
	int rc = QIAO_OK;

	node_simrng_seed(&r, g->o->seed, 1000000 + k);
	c->in_grid = node_simrng_chance(&r, 150);
	c->place = (uint32_t)node_simrng_below(&r, g->nmicro);
	v = g->micro[c->place].village;
	if (c->in_grid) {
		/* The micro-grid's own grid: its code less three digits. */
		const struct station *s = &g->st[v];

		c->place = s->first_grid + (uint32_t)((c->place -
		    s->first_micro) % s->ngrids);
	}
	town = g->st[v].parent;
	c->first = (uint32_t)g->nsteps;
#define STEP(ms, st, type, arg, side)                                      \
	do {                                                               \
		if ((rc = add_step(g, (ms), (st), (type), (arg), (side))) != 0) \
			return rc;                                         \
	} while (0)
	level = cls == 2 ? L_DISTRICT
	    : node_simrng_chance(&r, 500)	? L_GRID
	    : node_simrng_chance(&r, 640)	? L_VILLAGE
					: L_TOWN;
	STEP(t, v, QIAO_T_CASE_OPEN, 0, false);
	a = t + SEC * (node_simrng_chance(&r, 960)
		   ? 5 + node_simrng_below(&r, 55)
		   : 61 + node_simrng_below(&r, 840));
	STEP(a, v, QIAO_T_CASE_ACCEPT, 0, false);
	if (cls == 0 && node_simrng_chance(&r, 150))
		goto done;
	ro = a + SEC * (5 + node_simrng_below(&r, 25));
	STEP(ro, v, QIAO_T_CASE_ROUTE, level == L_GRID ? L_GRID : L_VILLAGE,
	    false);
	lim = t + 5 * MIN - SEC;
	ar = node_simrng_chance(&r, 910) && ro + 10 * SEC < lim
	    ? ro + 10 * SEC + node_simrng_below(&r, lim - ro - 10 * SEC)
	    : t + 5 * MIN + SEC + node_simrng_below(&r, 25 * MIN);
	if (ar <= ro)
		ar = ro + 10 * SEC;
	STEP(ar, v, QIAO_T_CASE_ARRIVE, 0, false);
	lim = t + 10 * MIN - SEC;
	fb = node_simrng_chance(&r, 930) && ar + 30 * SEC < lim
	    ? ar + 30 * SEC + node_simrng_below(&r, lim - ar - 30 * SEC)
	    : t + 10 * MIN + SEC + node_simrng_below(&r, 50 * MIN);
	if (fb <= ar)
		fb = ar + 30 * SEC;
	STEP(fb, v, QIAO_T_CASE_FEEDBACK, 0, false);
	cur = fb;
	if (cls == 0) {
		unsigned u = (unsigned)node_simrng_below(&r, 100);

		if (u >= 35) {
			cur += HOUR + node_simrng_below(&r, 2 * DAY);
			STEP(cur, v, QIAO_T_CASE_MEDIATE, 0, false);
		}
		if (u >= 65) {
			cur += HOUR + node_simrng_below(&r, DAY);
			STEP(cur, v, QIAO_T_CASE_TRANSFER, ARG_TO_TOWN, false);
		}
		goto done;
	}
	if (level <= L_VILLAGE) {
		cust = v;
		/* Now and then the district re-routes at once, unseen by
		 * the village: a conflict for people to settle; or the town
		 * records an outcome it does not hold: kept for review. */
		if (node_simrng_chance(&r, 4))
			STEP(a + 20 * SEC + node_simrng_below(&r, 40 * SEC), 0,
			    QIAO_T_CASE_ROUTE, ARG_RECATEGORY, true);
		if (node_simrng_chance(&r, 2))
			STEP(cur + HOUR + node_simrng_below(&r, DAY), town,
			    QIAO_T_CASE_RESOLVE, L_TOWN, true);
		if (node_simrng_chance(&r, 550)) {
			cur += HOUR + node_simrng_below(&r, 2 * DAY);
			STEP(cur, v, QIAO_T_CASE_MEDIATE, 0, false);
		}
	} else {
		cur += HOUR + node_simrng_below(&r, 2 * DAY);
		STEP(cur, v, QIAO_T_CASE_TRANSFER,
		    ARG_TO_TOWN | (node_simrng_chance(&r, 400) ? ARG_BODY : 0),
		    false);
		cur += 10 * MIN + node_simrng_below(&r, DAY);
		STEP(cur, town, QIAO_T_CASE_ACCEPT, 0, false);
		cust = town;
		if (level == L_DISTRICT) {
			cur += DAY + node_simrng_below(&r, 4 * DAY);
			STEP(cur, town, QIAO_T_CASE_TRANSFER,
			    ARG_TO_DISTRICT |
				(node_simrng_chance(&r, 600) ? ARG_BODY : 0),
			    false);
			cur += HOUR + node_simrng_below(&r, DAY);
			STEP(cur, 0, QIAO_T_CASE_ACCEPT, 0, false);
			cust = 0;
		}
		if (node_simrng_chance(&r, 750)) {
			cur += HOUR + node_simrng_below(&r, 3 * DAY);
			STEP(cur, cust, QIAO_T_CASE_MEDIATE, 0, false);
		}
	}
	cur += 2 * HOUR + node_simrng_below(&r, 5 * DAY);
	STEP(cur, cust, QIAO_T_CASE_RESOLVE, level, false);
	if (node_simrng_chance(&r, 960)) {
		cur += HOUR + node_simrng_below(&r, 3 * DAY);
		STEP(cur, cust, QIAO_T_CASE_EVALUATE,
		    node_simrng_chance(&r, 975), false);
		if (node_simrng_chance(&r, 850)) {
			cur += DAY + node_simrng_below(&r, 6 * DAY);
			STEP(cur, cust, QIAO_T_CASE_VISIT, 0, false);
		}
	}
	if (node_simrng_chance(&r, 850)) {
		cur += DAY + node_simrng_below(&r, 9 * DAY);
		STEP(cur, cust, QIAO_T_CASE_CLOSE, 0, false);
	}
#undef STEP
done:
	c->n = (uint32_t)(g->nsteps - c->first);
	return rc;
}

static uint64_t
intake_time(struct gen *g, node_simrng *r, bool recent)
{
	uint64_t days = g->o->days;
	uint64_t day = recent && days > 20 ? days - 20 + node_simrng_below(r,
	    20) : node_simrng_below(r, days);
	uint64_t tod = node_simrng_chance(r, 700)
	    ? 8 * HOUR + node_simrng_below(r, 10 * HOUR)
	    : node_simrng_below(r, DAY);

	return g->o->start_ms + day * DAY + tod;
}

static int
ev_cmp(const void *a, const void *b)
{
	const struct event *x = a, *y = b;

	if (x->ms != y->ms)
		return x->ms < y->ms ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind - y->kind;
	if (x->idx != y->idx)
		return x->idx < y->idx ? -1 : 1;
	return (x->step > y->step) - (x->step < y->step);
}

static int
plan(struct gen *g)
{
	const node_sim_opts *o = g->o;
	uint8_t *cls = malloc(o->cases ? o->cases : 1);
	size_t e = 0;
	int rc = QIAO_OK;

	g->cases = calloc(o->cases ? o->cases : 1, sizeof(*g->cases));
	if (cls == NULL || g->cases == NULL) {
		free(cls);
		return QIAO_ENOMEM;
	}
	/* Exact counts, in a seeded random order. */
	for (uint64_t k = 0; k < o->cases; k++)
		cls[k] = k < o->grassroots ? 1 : k < o->resolved ? 2 : 0;
	for (uint64_t k = o->cases; k > 1; k--) {
		uint64_t j = node_simrng_below(&g->rng, k);
		uint8_t t = cls[k - 1];

		cls[k - 1] = cls[j];
		cls[j] = t;
	}
	for (uint64_t k = 0; k < o->cases && rc == QIAO_OK; k++) {
		node_simrng r;

		node_simrng_seed(&r, o->seed, 2000000 + k);
		/* Cases still open were mostly opened lately. */
		rc = plan_case(g, k, cls[k], intake_time(g, &r,
		    cls[k] == 0 && node_simrng_chance(&r, 600)));
	}
	free(cls);
	if (rc != QIAO_OK)
		return rc;
	g->nev = g->nsteps + o->meetings;
	if ((g->ev = malloc((g->nev ? g->nev : 1) * sizeof(*g->ev))) == NULL)
		return QIAO_ENOMEM;
	for (uint64_t k = 0; k < o->cases; k++)
		for (uint32_t s = 0; s < g->cases[k].n; s++)
			g->ev[e++] = (struct event) {
				g->steps[g->cases[k].first + s].ms,
				(uint32_t)k, (uint16_t)s, 0 };
	for (uint32_t m = 0; m < o->meetings; m++) {
		node_simrng r;

		node_simrng_seed(&r, o->seed, 4000000 + m);
		g->ev[e++] = (struct event) { intake_time(g, &r, false), m, 0,
			1 };
	}
	qsort(g->ev, g->nev, sizeof(*g->ev), ev_cmp);
	return QIAO_OK;
}

/* Signing the plans, in time order. */

static const char *
place_code(const struct gen *g, const struct kase *c)
{
	return c->in_grid ? g->grids[c->place].code : g->micro[c->place].code;
}

static void
parties(const struct gen *g, uint64_t k, char *a, char *b, size_t cap)
{
	node_simrng r;

	node_simrng_seed(&r, g->o->seed, 5000000 + k);
	node_simtext_person(&r, a, cap);
	node_simtext_person(&r, b, cap);
}

static int
case_step(struct gen *g, uint64_t k, uint32_t s)
{
	static const char *const risks[] = { "general", "major", "criminal" };
	struct kase *c = &g->cases[k];
	const struct step *st = &g->steps[c->first + s];
	uint64_t type = QIAO_T_CASE_OPEN + st->type;
	const char *code = place_code(g, c);
	char a[32], b2[32], buf[256];
	uint8_t hash[QIAO_HASH_LEN];
	node_simcase text;
	node_simrng r;
	crdt_body b;
	int rc;

	node_simrng_seed(&r, g->o->seed, 6000000 + k * 32 + s);
	memset(&text, 0, sizeof(text));
	crdt_body_init(&b);
	if (type == QIAO_T_CASE_OPEN) {
		const char *const ps[2] = { a, b2 };
		unsigned risk = node_simrng_chance(&r, 900) ? 0
		    : node_simrng_chance(&r, 900)	    ? 1
							    : 2;

		parties(g, k, a, b2, sizeof(a));
		node_simtext_case(&r, a, b2, &text);
		crdt_op_begin(&b, "grid", code, NULL, NULL, 0);
		crdt_body_cstr(&b, "category", text.category);
		crdt_body_cstr(&b, "title", text.title);
		crdt_body_cstr(&b, "description", text.description);
		crdt_op_strs(&b, "parties", ps,
		    strstr(text.title, b2) != NULL ? 2 : 1);
		crdt_body_cstr(&b, "matter", text.matter);
		crdt_body_cstr(&b, "risk", risks[risk]);
		crdt_body_cstr(&b, "source", text.source);
		if ((rc = emit(g, st->st, st->ms, type, &b, c->open)) != 0)
			return rc;
		memcpy(c->last, c->open, QIAO_HASH_LEN);
		g->r->cases++;
		/* Remembered for the meetings that may take it up. */
		{
			struct station *v = &g->st[st->st];

			v->ring[v->nring++ % 4] = (uint32_t)k;
		}
		return QIAO_OK;
	}
	crdt_op_begin(&b, "grid", code, c->open,
	    (const uint8_t(*)[QIAO_HASH_LEN])(st->side ? c->accept : c->last),
	    1);
	switch (type) {
	case QIAO_T_CASE_ROUTE:
		if (st->arg & ARG_RECATEGORY) {
			crdt_body_cstr(&b, "category",
			    node_simtext_category(&r));
			crdt_body_cstr(&b, "note", "区指挥中心重新分类");
			break;
		}
		crdt_body_cstr(&b, "level", crdt_levels[st->arg]);
		node_simtext_person(&r, a, sizeof(a));
		crdt_body_cstr(&b, "assignee", a);
		break;
	case QIAO_T_CASE_ARRIVE:
		crdt_body_cstr(&b, "note", "网格员到达现场核实情况");
		break;
	case QIAO_T_CASE_FEEDBACK:
		crdt_body_cstr(&b, "note", "已向当事人反馈处理进展");
		break;
	case QIAO_T_CASE_MEDIATE:
		node_simtext_person(&r, a, sizeof(a));
		crdt_body_cstr(&b, "mediator", a);
		crdt_body_cstr(&b, "note", "组织双方当事人面对面调解");
		break;
	case QIAO_T_CASE_TRANSFER: {
		bool up = st->arg & ARG_TO_DISTRICT;

		snprintf(buf, sizeof(buf), "%.*s", up ? 6 : 9, code);
		crdt_body_cstr(&b, "to", buf);
		if (st->arg & ARG_BODY)
			crdt_body_cstr(&b, "body",
			    node_simtext_body(&r, up));
		crdt_body_cstr(&b, "note", up ? "镇街调处未果，移交区级"
					      : "村级调解未果，移交镇街");
		break;
	}
	case QIAO_T_CASE_RESOLVE:
		crdt_body_cstr(&b, "level", crdt_levels[st->arg]);
		node_simtext_result(&r, buf, sizeof(buf));
		crdt_body_cstr(&b, "result", buf);
		break;
	case QIAO_T_CASE_EVALUATE:
		parties(g, k, a, b2, sizeof(a));
		crdt_body_bool(&b, "satisfied", st->arg != 0);
		crdt_body_cstr(&b, "by", a);
		break;
	case QIAO_T_CASE_VISIT:
		node_simtext_person(&r, a, sizeof(a));
		crdt_body_cstr(&b, "by", a);
		crdt_body_cstr(&b, "note", "回访当事人，协议履行良好");
		break;
	case QIAO_T_CASE_CLOSE:
		crdt_body_cstr(&b, "note", "结案归档");
		break;
	default:
		break;
	}
	if ((rc = emit(g, st->st, st->ms, type, &b, hash)) != QIAO_OK)
		return rc;
	if (!st->side) {
		memcpy(c->last, hash, QIAO_HASH_LEN);
		if (type == QIAO_T_CASE_ACCEPT && s == 1)
			memcpy(c->accept, hash, QIAO_HASH_LEN);
	}
	return QIAO_OK;
}

static int
meeting(struct gen *g, uint32_t m, uint64_t ms)
{
	static const char *const evals[] = { "居民满意", "基本满意",
		"多数居民满意，个别有保留意见" };
	node_simrng r;
	const struct station *v;
	const char *level, *code;
	char topic[256], decision[256], notice[300];
	uint8_t linked[2][QIAO_HASH_LEN];
	unsigned author, nl = 0, u;
	crdt_body b;

	node_simrng_seed(&r, g->o->seed, 7000000 + m);
	v = &g->st[1 + g->ntowns + node_simrng_below(&r, g->nst - 1 -
	    g->ntowns)];
	u = (unsigned)node_simrng_below(&r, 100);
	if (u < 65) {
		level = "grid";
		code = g->grids[v->first_grid + node_simrng_below(&r,
		    v->ngrids)].code;
		author = (unsigned)(v - g->st);
	} else if (u < 93) {
		level = "community";
		code = v->code;
		author = (unsigned)(v - g->st);
	} else {
		level = "town";
		code = g->st[v->parent].code;
		author = v->parent;
	}
	node_simtext_meeting(&r, level, strcmp(level, "town") == 0
		? g->st[v->parent].name : v->name, topic, sizeof(topic),
	    decision, sizeof(decision));
	for (unsigned i = 0; i < v->nring && i < 4 && nl < 2; i++)
		if (node_simrng_chance(&r, 300))
			memcpy(linked[nl++], g->cases[v->ring[i]].open,
			    QIAO_HASH_LEN);
	crdt_body_init(&b);
	crdt_op_begin(&b, "code", code, NULL, NULL, 0);
	crdt_body_cstr(&b, "level", level);
	/* The date: midnight of the meeting's day, China Standard Time. */
	crdt_body_uint(&b, "date", ms - (ms + 8 * HOUR) % DAY);
	crdt_body_cstr(&b, "topic", topic);
	crdt_body_uint(&b, "attendees", strcmp(level, "community") == 0
		? 20 + node_simrng_below(&r, 100)
		: 8 + node_simrng_below(&r, 32));
	crdt_body_cstr(&b, "decision", decision);
	if (node_simrng_chance(&r, 800)) {
		snprintf(notice, sizeof(notice), "会议决定已张榜公示：%s",
		    decision);
		crdt_body_cstr(&b, "notice", notice);
	}
	crdt_body_cstr(&b, "evaluation", evals[node_simrng_below(&r, 3)]);
	if (nl > 0)
		crdt_op_hashes(&b, "cases",
		    (const uint8_t(*)[QIAO_HASH_LEN])linked, nl);
	g->r->meetings++;
	return emit(g, author, ms, QIAO_T_MEETING, &b, NULL);
}

static int
sign_all(struct gen *g)
{
	int rc = QIAO_OK;

	for (size_t i = 0; i < g->nev && rc == QIAO_OK; i++) {
		const struct event *e = &g->ev[i];

		rc = e->kind == 0 ? case_step(g, e->idx, e->step)
				  : meeting(g, e->idx, e->ms);
		if (i % 4096 == 0)
			progress(g, "cases", i, g->nev);
	}
	if (rc == QIAO_OK)
		rc = flush(g);
	progress(g, "cases", g->nev, g->nev);
	return rc;
}

int
node_sim_check(const node_sim_opts *o, char *err, size_t errlen)
{
	const char *why = NULL;

	if (strlen(o->district) != 6 || !conf_region_ok(o->district))
		why = "the district's code has 6 digits";
	else if (o->towns < 1 || o->towns > 999)
		why = "--towns must be 1 to 999";
	else if (o->villages < o->towns || o->villages > 900 * o->towns)
		why = "--villages must be at least --towns and at most 900 "
		      "per town";
	else if (o->microgrids < o->villages ||
	    o->microgrids > 7000ULL * o->villages)
		why = "--microgrids must be at least --villages and at most "
		      "7000 per village";
	else if (o->cases > 2000000)
		why = "--cases must be at most 2000000";
	else if (o->resolved > o->cases)
		why = "--resolved must not exceed --cases";
	else if (o->grassroots > o->resolved)
		why = "--grassroots must not exceed --resolved";
	else if (o->registry > 2000000 || o->meetings > 2000000)
		why = "--registry and --meetings must be at most 2000000";
	else if (o->days < 1 || o->start_ms < 31 * DAY)
		why = "the span of intakes is empty";
	if (why == NULL)
		return QIAO_OK;
	snprintf(err, errlen, "%s", why);
	return QIAO_EINVAL;
}

static int
anchor(struct gen *g)
{
	node_trust_id id;
	node_txn *txn;
	int rc;

	if ((rc = node_load_key(g->n)) != QIAO_OK) {
		snprintf(g->err, g->errlen, "cannot load the store's key: %s",
		    qiao_strerror(rc));
		return rc;
	}
	if ((rc = node_store_txn_begin(node_get_store(g->n), false, &txn)) !=
	    QIAO_OK)
		return rc;
	rc = node_trust_lookup(g->n, txn, node_self(g->n), &id);
	node_store_txn_abort(txn);
	if (rc != QIAO_OK || id.role != QIAO_ROLE_ROOT) {
		snprintf(g->err, g->errlen,
		    "the store's key must be its own trust anchor (a store "
		    "made by qiao sim gen, or qiao init without --root)");
		return QIAO_EUNAUTH;
	}
	return QIAO_OK;
}

int
node_sim_gen(node *n, const node_sim_opts *o, node_sim_report *r, char *err,
    size_t errlen)
{
	struct gen g;
	int rc;

	memset(&g, 0, sizeof(g));
	memset(r, 0, sizeof(*r));
	g.n = n;
	g.o = o;
	g.r = r;
	g.err = err;
	g.errlen = errlen;
	err[0] = '\0';
	if ((rc = node_sim_check(o, err, errlen)) != QIAO_OK ||
	    (rc = anchor(&g)) != QIAO_OK)
		return rc;
	node_simrng_seed(&g.rng, o->seed, 0);
	g.items = calloc(BATCH, sizeof(*g.items));
	g.bodies = calloc(BATCH, sizeof(*g.bodies));
	if (g.items == NULL || g.bodies == NULL) {
		rc = QIAO_ENOMEM;
		goto out;
	}
	if ((rc = make_stations(&g)) != QIAO_OK ||
	    (rc = make_places(&g)) != QIAO_OK ||
	    (rc = setup(&g)) != QIAO_OK || (rc = plan(&g)) != QIAO_OK ||
	    (rc = sign_all(&g)) != QIAO_OK)
		goto out;
	r->stations = g.nst;
out:
	for (size_t i = 0; g.bodies != NULL && i < g.nitems; i++)
		free(g.bodies[i]);
	if (rc != QIAO_OK && err[0] == '\0')
		snprintf(err, errlen, "%s", qiao_strerror(rc));
	if (g.secrets != NULL)
		sodium_free(g.secrets); /* wipes the keys */
	free(g.st);
	free(g.grids);
	free(g.micro);
	free(g.cases);
	free(g.steps);
	free(g.ev);
	free(g.items);
	free(g.bodies);
	return rc;
}
