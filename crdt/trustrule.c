#include <stdio.h>
#include <string.h>

#include "crdt/trustrule.h"

/*
 * Questions nest: is the issuer of this certificate entitled, is the
 * revoker of that one... Each step goes up a rank (village, town,
 * district, root), or down the seqs of one key's own revocations, so real
 * chains are a few steps long. Anything deeper is an attack on the
 * evaluator and fails closed.
 */
#define DEPTH_MAX 16

/*
 * Depth alone does not bound the work: certificates are stored whoever
 * signed them, so one enrolled station can publish enrolments among keys
 * it made (each "enrolling" the others) and every question about them
 * fans out at each of the 16 levels; a node asked one would spin for
 * hours. A question weighing more than WORK_MAX certificates fails
 * closed ("not enrolled"); a real chain weighs a handful.
 */
#define WORK_MAX 20000

enum { RANK_NONE, RANK_VILLAGE, RANK_TOWN, RANK_DISTRICT, RANK_ROOT };

static const char WHY_UNKNOWN[] =
    "the author is not enrolled (no certificate of it counts)";
static const char WHY_REVOKED[] =
    "the author's key was revoked before this entry";
static const char WHY_EXPIRED[] =
    "the author's enrolment had expired at the entry's time";

static const char *const role_names[] = {
	[CRDT_ROLE_NONE] = "none",
	[CRDT_ROLE_VILLAGE] = "village",
	[CRDT_ROLE_TOWN] = "town",
	[CRDT_ROLE_DISTRICT] = "district",
	[CRDT_ROLE_ROOT] = "root",
};

const char *
crdt_role_name(enum crdt_role role)
{
	if (role < CRDT_ROLE_NONE || role > CRDT_ROLE_ROOT)
		return "none";
	return role_names[role];
}

bool
crdt_trust_covers(const char *region, const char *code)
{
	return strncmp(region, code, strlen(region)) == 0;
}

static bool
same_key(const uint8_t *a, const uint8_t *b)
{
	return a != NULL && b != NULL && memcmp(a, b, QIAO_KEY_LEN) == 0;
}

static int
rank(enum crdt_role r)
{
	switch (r) {
	case CRDT_ROLE_VILLAGE:
		return RANK_VILLAGE;
	case CRDT_ROLE_TOWN:
		return RANK_TOWN;
	case CRDT_ROLE_DISTRICT:
		return RANK_DISTRICT;
	case CRDT_ROLE_ROOT:
		return RANK_ROOT;
	default:
		return RANK_NONE;
	}
}

/* May a holder of (irole, iregion) issue or withdraw (role, region)? */
static bool
may_issue(enum crdt_role irole, const char *iregion, enum crdt_role role,
    const char *region)
{
	if (irole == CRDT_ROLE_ROOT)
		return true;
	if (irole != CRDT_ROLE_DISTRICT && irole != CRDT_ROLE_TOWN)
		return false;
	return rank(role) < rank(irole) && crdt_trust_covers(iregion, region);
}

void
crdt_trustrule_begin(crdt_trustrule *q, const crdt_trustrule_src *src)
{
	memset(q, 0, sizeof(*q));
	q->src = src;
}

int
crdt_trustrule_err(const crdt_trustrule *q)
{
	return q->err;
}

struct want {
	enum crdt_role role;
	const char *region;
};

struct verdict {
	int rc; /* QIAO_OK or why not: EUNKNOWN, EREVOKED, EEXPIRED */
	int rank, irank;
	const crdt_trustrule_cert *best;
	uint64_t best_cut; /* with want_boundary: best's last seq */
	bool root;
	uint64_t boundary; /* with want_boundary: last seq any cert allows */
};

static int judge(crdt_trustrule *v, const uint8_t *k, uint64_t q, uint64_t t,
    const struct want *w, bool want_boundary, struct verdict *out);

static bool
is_root(const crdt_trustrule *v, const uint8_t *k)
{
	return same_key(k, v->src->root);
}

/* Does the self rule speak for k (it stands on its config)? */
static bool
is_self(const crdt_trustrule *v, const uint8_t *k)
{
	return v->src->self_cert != NULL && same_key(k, v->src->self);
}

/* Could a, at its entry (q, t), issue or withdraw (role, region)? *irank
 * gets the rank it did so with. */
static bool
covers(crdt_trustrule *v, const uint8_t *a, uint64_t q, uint64_t t,
    enum crdt_role role, const char *region, int *irank)
{
	struct want w = { role, region };
	struct verdict vd;

	if (judge(v, a, q, t, &w, false, &vd) != QIAO_OK)
		return false;
	if (irank != NULL)
		*irank = vd.rank;
	return true;
}

/* Does the certificate count: was its issuer entitled to it? */
static bool
issued(crdt_trustrule *v, const crdt_trustrule_cert *c, int *irank)
{
	*irank = RANK_NONE;
	if (is_root(v, c->issuer)) {
		*irank = RANK_ROOT;
		return true;
	}
	return covers(v, c->issuer, c->seq, c->ms, c->role, c->c.region,
	    irank);
}

/* Does revocation r (of k) withdraw certificate c? */
static bool
applies(crdt_trustrule *v, const uint8_t *k, const crdt_trustrule_rev *r,
    const crdt_trustrule_cert *c)
{
	struct verdict vd;

	if (is_root(v, r->issuer))
		return true;
	if (same_key(r->issuer, k))
		return judge(v, k, r->seq, r->ms, NULL, false, &vd) == QIAO_OK;
	return covers(v, r->issuer, r->seq, r->ms, c->role, c->c.region,
	    NULL);
}

/* The lowest cut-off among k's revocations below q that withdraw c, or
 * UINT64_MAX. Only those below q are weighed: that keeps a self-revocation
 * from asking about itself. */
static uint64_t
cut_of(crdt_trustrule *v, const uint8_t *k, const crdt_trustrule_rows *rs,
    const crdt_trustrule_cert *c, uint64_t q)
{
	uint64_t cut = UINT64_MAX;

	for (size_t i = 0; i < rs->nr; i++) {
		const crdt_trustrule_rev *r = &rs->r[i];

		if (r->after < q && r->after < cut && applies(v, k, r, c))
			cut = r->after;
	}
	return cut;
}

static bool
better(const crdt_trustrule_cert *c, int irank, const struct verdict *out)
{
	if (out->rc != QIAO_OK)
		return true;
	if (rank(c->role) != out->rank)
		return rank(c->role) > out->rank;
	if (irank != out->irank)
		return irank > out->irank;
	return memcmp(c->hash, out->best->hash, QIAO_HASH_LEN) < 0;
}

/* Weighs one counting certificate of k for the question (q, t, w). */
static void
consider(crdt_trustrule *v, const uint8_t *k, const crdt_trustrule_rows *rs,
    const crdt_trustrule_cert *c, int irank, uint64_t full_cut, uint64_t q,
    uint64_t t, const struct want *w, struct verdict *out, int *seen)
{
	if (w != NULL && !may_issue(c->role, c->c.region, w->role, w->region))
		return;
	if (cut_of(v, k, rs, c, q) < q) {
		if (*seen == QIAO_EUNKNOWN)
			*seen = QIAO_EREVOKED;
		return;
	}
	if (t != 0 && c->c.until != 0 && t > c->c.until) {
		*seen = QIAO_EEXPIRED;
		return;
	}
	if (!better(c, irank, out))
		return;
	out->rc = QIAO_OK;
	out->rank = rank(c->role);
	out->irank = irank;
	out->best = c;
	out->best_cut = full_cut;
}

/*
 * The central question: may k sign its entry at seq q, stamped t (0: any
 * time), under a certificate that could issue w (NULL: any)? q = 0 weighs
 * no revocation; q = UINT64_MAX weighs them all. Returns out->rc; load
 * errors go to v->err and answer "no".
 */
static int
judge(crdt_trustrule *v, const uint8_t *k, uint64_t q, uint64_t t,
    const struct want *w, bool want_boundary, struct verdict *out)
{
	const crdt_trustrule_src *s = v->src;
	crdt_trustrule_rows rs;
	bool self = is_self(v, k), any = false;
	int seen = QIAO_EUNKNOWN, irank, rc;

	memset(out, 0, sizeof(*out));
	out->rc = QIAO_EUNKNOWN;
	if (is_root(v, k)) {
		out->rc = QIAO_OK;
		out->root = true;
		out->rank = RANK_ROOT;
		out->boundary = UINT64_MAX;
		return QIAO_OK;
	}
	if (v->err != QIAO_OK || v->over || v->depth >= DEPTH_MAX)
		return out->rc;
	if (++v->work > WORK_MAX) {
		v->over = true;
		return out->rc;
	}
	if ((rc = s->load(s->ctx, k, &rs)) != QIAO_OK) {
		v->err = rc;
		return out->rc;
	}
	v->depth++;
	for (size_t i = 0; i < rs.nc; i++) {
		const crdt_trustrule_cert *c = &rs.c[i];
		uint64_t full = 0;

		/* A certificate that cannot answer w is never weighed
		 * (consider() skips it), so whether it counts is not asked:
		 * that keeps every nested question a step up in rank, and
		 * junk certificates among stations cannot fan out. The self
		 * key is the exception: whether any certificate of it counts
		 * decides whether its config stands in. */
		if (w != NULL && !self &&
		    !may_issue(c->role, c->c.region, w->role, w->region))
			continue;
		if (!issued(v, c, &irank))
			continue;
		any = true;
		if (want_boundary) {
			full = cut_of(v, k, &rs, c, UINT64_MAX);
			if (full > out->boundary)
				out->boundary = full;
		}
		consider(v, k, &rs, c, irank, full, q, t, w, out, &seen);
	}
	if (!any && self) {
		if (want_boundary)
			out->boundary =
			    cut_of(v, k, &rs, s->self_cert, UINT64_MAX);
		consider(v, k, &rs, s->self_cert, RANK_NONE, out->boundary, q,
		    t, w, out, &seen);
	}
	v->depth--;
	if (v->over) {
		/* Fail closed: a partial answer is no answer. */
		memset(out, 0, sizeof(*out));
		out->rc = QIAO_EUNKNOWN;
	} else if (out->rc != QIAO_OK) {
		out->rc = seen;
	}
	return out->rc;
}

bool
crdt_trustrule_covers(crdt_trustrule *q, const uint8_t a[QIAO_KEY_LEN],
    uint64_t seq, uint64_t ms, enum crdt_role role, const char *region)
{
	return covers(q, a, seq, ms, role, region, NULL);
}

bool
crdt_trustrule_issued(crdt_trustrule *q, const crdt_trustrule_cert *c)
{
	int irank;

	return issued(q, c, &irank);
}

bool
crdt_trustrule_standing(crdt_trustrule *q,
    const uint8_t issuer[QIAO_KEY_LEN], uint64_t seq, uint64_t ms,
    const uint8_t subject[QIAO_KEY_LEN])
{
	const crdt_trustrule_src *s = q->src;
	crdt_trustrule_rows rs;
	bool any = false, ok = false;
	int irank, rc;

	if (is_root(q, issuer) || same_key(issuer, subject))
		return true;
	if (q->err != QIAO_OK || q->depth >= DEPTH_MAX)
		return false;
	if ((rc = s->load(s->ctx, subject, &rs)) != QIAO_OK) {
		q->err = rc;
		return false;
	}
	q->depth++;
	for (size_t i = 0; i < rs.nc && !ok; i++) {
		if (!issued(q, &rs.c[i], &irank))
			continue;
		any = true;
		ok = covers(q, issuer, seq, ms, rs.c[i].role,
		    rs.c[i].c.region, NULL);
	}
	if (!any && !ok && is_self(q, subject))
		ok = covers(q, issuer, seq, ms, s->self_cert->role,
		    s->self_cert->c.region, NULL);
	q->depth--;
	return ok;
}

static void
fill_id(const struct verdict *vd, bool of_best, crdt_trust_id *id)
{
	const crdt_trustrule_cert *c = vd->best;

	memset(id, 0, sizeof(*id));
	id->revoked_after = of_best && !vd->root ? vd->best_cut : vd->boundary;
	if (vd->root) {
		id->role = CRDT_ROLE_ROOT;
		strcpy(id->name, "root");
		return;
	}
	id->role = c->role;
	snprintf(id->region, sizeof(id->region), "%s", c->c.region);
	snprintf(id->name, sizeof(id->name), "%s", c->c.name);
	memcpy(id->issuer, c->issuer, QIAO_KEY_LEN);
	memcpy(id->cert, c->hash, QIAO_HASH_LEN);
	id->until = c->c.until;
}

int
crdt_trustrule_ask(crdt_trustrule *q, const uint8_t key[QIAO_KEY_LEN],
    uint64_t seq, uint64_t ms, bool of_best, crdt_trust_id *id,
    const crdt_trustrule_cert **best)
{
	struct verdict vd;
	int rc = judge(q, key, seq, ms, NULL, id != NULL, &vd);

	if (rc == QIAO_OK && id != NULL)
		fill_id(&vd, of_best, id);
	if (best != NULL)
		*best = rc == QIAO_OK ? vd.best : NULL;
	return rc;
}

const char *
crdt_trustrule_why(int rc)
{
	switch (rc) {
	case QIAO_EREVOKED:
		return WHY_REVOKED;
	case QIAO_EEXPIRED:
		return WHY_EXPIRED;
	default:
		return WHY_UNKNOWN;
	}
}
