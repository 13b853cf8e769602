#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/hex.h"
#include "crdt/hlc.h"
#include "crdt/trustset.h"
#include "crdt/types.h"

/* qsort, but never handed a NULL base (an empty list may have none). */
static void
sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

/*
 * Questions nest (is the issuer of this certificate entitled, is the
 * revoker of that one...) and each step goes up a rank or down one key's
 * own revocations, so real chains are a few steps long. A bundle is
 * hostile input: anything deeper than DEPTH_MAX, or a question costing
 * more than WORK_MAX certificate weighings, fails closed.
 */
#define DEPTH_MAX 16
#define WORK_MAX 20000 /* as node/trust.c */

enum { RANK_NONE, RANK_VILLAGE, RANK_TOWN, RANK_DISTRICT, RANK_ROOT };

static const char WHY_UNKNOWN[] =
    "the author is not enrolled (no certificate of it counts)";
static const char WHY_REVOKED[] =
    "the author's key was revoked before this entry";
static const char WHY_EXPIRED[] =
    "the author's enrolment had expired at the entry's time";

struct certrow {
	uint8_t subject[QIAO_KEY_LEN];
	uint8_t hash[QIAO_HASH_LEN]; /* of the enrol entry */
	uint8_t issuer[QIAO_KEY_LEN];
	uint64_t seq, ms; /* of the enrol entry */
	enum crdt_role role;
	crdt_cert c;
};

struct revrow {
	uint8_t subject[QIAO_KEY_LEN];
	uint8_t hash[QIAO_HASH_LEN]; /* of the entry that made it */
	uint8_t issuer[QIAO_KEY_LEN];
	uint64_t seq, ms, after;
};

struct crdt_trustset {
	uint8_t root[QIAO_KEY_LEN];
	struct certrow *c;
	size_t nc, capc;
	struct revrow *r;
	size_t nr, capr;
	bool sorted;
	/* Distinct subjects of certificates, in key order, once sorted. */
	size_t *subj;
	size_t nsubj;
};

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

static enum crdt_role
role_parse(const char *s)
{
	for (int r = CRDT_ROLE_VILLAGE; r <= CRDT_ROLE_ROOT; r++)
		if (strcmp(s, role_names[r]) == 0)
			return (enum crdt_role)r;
	return CRDT_ROLE_NONE;
}

static size_t
region_len(enum crdt_role role)
{
	switch (role) {
	case CRDT_ROLE_VILLAGE:
		return 12;
	case CRDT_ROLE_TOWN:
		return 9;
	case CRDT_ROLE_DISTRICT:
		return 6;
	default:
		return 0;
	}
}

static bool
digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

bool
crdt_trust_covers(const char *region, const char *code)
{
	return strncmp(region, code, strlen(region)) == 0;
}

static bool
same_key(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, QIAO_KEY_LEN) == 0;
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

int
crdt_trustset_new(crdt_trustset **out, const uint8_t root[QIAO_KEY_LEN])
{
	crdt_trustset *ts = calloc(1, sizeof(*ts));

	if (ts == NULL)
		return QIAO_ENOMEM;
	memcpy(ts->root, root, QIAO_KEY_LEN);
	ts->sorted = true;
	*out = ts;
	return QIAO_OK;
}

void
crdt_trustset_free(crdt_trustset *ts)
{
	if (ts == NULL)
		return;
	free(ts->c);
	free(ts->r);
	free(ts->subj);
	free(ts);
}

static int
add_rev(crdt_trustset *ts, const uint8_t *subject, uint64_t after,
    const crdt_entry *e)
{
	struct revrow *r;

	if (ts->nr == ts->capr) {
		size_t cap = ts->capr ? 2 * ts->capr : 8;
		struct revrow *v = realloc(ts->r, cap * sizeof(*v));

		if (v == NULL)
			return QIAO_ENOMEM;
		ts->r = v;
		ts->capr = cap;
	}
	r = &ts->r[ts->nr++];
	memcpy(r->subject, subject, QIAO_KEY_LEN);
	memcpy(r->hash, e->hash, QIAO_HASH_LEN);
	memcpy(r->issuer, e->author, QIAO_KEY_LEN);
	r->seq = e->seq;
	r->ms = crdt_hlc_ms(e->hlc);
	r->after = after;
	ts->sorted = false;
	return QIAO_OK;
}

static int
bad(const char **why, const char *reason, int rc)
{
	if (why != NULL)
		*why = reason;
	return rc;
}

int
crdt_trustset_add(crdt_trustset *ts, const crdt_entry *e,
    const uint8_t *body, size_t len, const char **why)
{
	struct certrow *c;
	crdt_revoke rev;
	crdt_cert cert;
	enum crdt_role role;
	int rc;

	if (e->type == QIAO_T_REVOKE) {
		if ((rc = crdt_revoke_decode(&rev, body, len, why)) != 0)
			return rc;
		if (same_key(rev.subject, ts->root))
			return bad(why, "revoke: the root key cannot be revoked",
			    QIAO_EUNAUTH);
		/* A key cannot take back what it signed before its own
		 * revocation: it stops right after it. */
		if (same_key(rev.subject, e->author) && rev.after < e->seq)
			rev.after = e->seq;
		return add_rev(ts, rev.subject, rev.after, e);
	}
	if (e->type != QIAO_T_ENROL)
		return QIAO_EINVAL;
	if ((rc = crdt_cert_decode(&cert, body, len, why)) != QIAO_OK)
		return rc;
	role = role_parse(cert.role);
	if (role != CRDT_ROLE_DISTRICT && role != CRDT_ROLE_TOWN &&
	    role != CRDT_ROLE_VILLAGE)
		return bad(why, "enrol: role must be district, town or village",
		    QIAO_EMALFORMED);
	if (!digits(cert.region) || strlen(cert.region) != region_len(role))
		return bad(why,
		    "enrol: region code has the wrong length for the role",
		    QIAO_EMALFORMED);
	if (cert.has_supersedes && same_key(cert.supersedes, cert.subject))
		return bad(why, "enrol: a key cannot supersede itself",
		    QIAO_EMALFORMED);
	if (same_key(cert.subject, ts->root) ||
	    (cert.has_supersedes && same_key(cert.supersedes, ts->root)))
		return bad(why,
		    "enrol: the root key cannot be enrolled or superseded",
		    QIAO_EUNAUTH);
	if (ts->nc == ts->capc) {
		size_t cap = ts->capc ? 2 * ts->capc : 8;
		struct certrow *v = realloc(ts->c, cap * sizeof(*v));

		if (v == NULL)
			return QIAO_ENOMEM;
		ts->c = v;
		ts->capc = cap;
	}
	c = &ts->c[ts->nc++];
	memset(c, 0, sizeof(*c));
	memcpy(c->subject, cert.subject, QIAO_KEY_LEN);
	memcpy(c->hash, e->hash, QIAO_HASH_LEN);
	memcpy(c->issuer, e->author, QIAO_KEY_LEN);
	c->seq = e->seq;
	c->ms = crdt_hlc_ms(e->hlc);
	c->role = role;
	c->c = cert;
	ts->sorted = false;
	if (cert.has_supersedes)
		return add_rev(ts, cert.supersedes, cert.after, e);
	return QIAO_OK;
}

static int
cert_cmp(const void *a, const void *b)
{
	const struct certrow *x = a, *y = b;
	int c = memcmp(x->subject, y->subject, QIAO_KEY_LEN);

	return c ? c : memcmp(x->hash, y->hash, QIAO_HASH_LEN);
}

static int
rev_cmp(const void *a, const void *b)
{
	const struct revrow *x = a, *y = b;
	int c = memcmp(x->subject, y->subject, QIAO_KEY_LEN);

	return c ? c : memcmp(x->hash, y->hash, QIAO_HASH_LEN);
}

/* Sorts the rows by subject, so a subject's rows are found by bisection.
 * Duplicates (the same entry added twice) would be weighed twice to no
 * effect; they are dropped anyway. */
static int
seal(crdt_trustset *ts)
{
	size_t u = 0;

	if (ts->sorted)
		return QIAO_OK;
	sort(ts->c, ts->nc, sizeof(*ts->c), cert_cmp);
	sort(ts->r, ts->nr, sizeof(*ts->r), rev_cmp);
	for (size_t i = 0; i < ts->nc; i++)
		if (u == 0 || cert_cmp(&ts->c[u - 1], &ts->c[i]) != 0)
			ts->c[u++] = ts->c[i];
	ts->nc = u;
	u = 0;
	for (size_t i = 0; i < ts->nr; i++)
		if (u == 0 || rev_cmp(&ts->r[u - 1], &ts->r[i]) != 0)
			ts->r[u++] = ts->r[i];
	ts->nr = u;
	free(ts->subj);
	ts->nsubj = 0;
	if ((ts->subj = malloc((ts->nc ? ts->nc : 1) * sizeof(size_t))) ==
	    NULL)
		return QIAO_ENOMEM;
	for (size_t i = 0; i < ts->nc; i++)
		if (i == 0 || !same_key(ts->c[i - 1].subject, ts->c[i].subject))
			ts->subj[ts->nsubj++] = i;
	ts->sorted = true;
	return QIAO_OK;
}

/* The first row of subject k (by bisection) and how many there are. */
#define FIND_ROWS(rows, n, k, first, count)                               \
	do {                                                              \
		size_t lo_ = 0, hi_ = (n);                                \
		while (lo_ < hi_) {                                       \
			size_t mid_ = (lo_ + hi_) / 2;                    \
			if (memcmp((rows)[mid_].subject, (k),             \
				QIAO_KEY_LEN) < 0)                        \
				lo_ = mid_ + 1;                           \
			else                                              \
				hi_ = mid_;                               \
		}                                                         \
		(first) = lo_;                                            \
		while (hi_ < (n) && same_key((rows)[hi_].subject, (k)))   \
			hi_++;                                            \
		(count) = hi_ - lo_;                                      \
	} while (0)

/* Evaluation. */

struct ev {
	const crdt_trustset *ts;
	int depth;
	long work;
	bool over; /* the budget ran out: every answer after it is "no" */
};

struct want {
	enum crdt_role role;
	const char *region;
};

struct verdict {
	int rc; /* QIAO_OK or why not: EUNKNOWN, EREVOKED, EEXPIRED */
	int rank, irank;
	const struct certrow *best;
	uint64_t best_cut;
	bool root;
	uint64_t boundary; /* with want_boundary: last seq any cert allows */
};

static int judge(struct ev *v, const uint8_t *k, uint64_t q, uint64_t t,
    const struct want *w, bool want_boundary, struct verdict *out);

static bool
is_root(const struct ev *v, const uint8_t *k)
{
	return same_key(k, v->ts->root);
}

static bool
covers(struct ev *v, const uint8_t *a, uint64_t q, uint64_t t,
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

static bool
issued(struct ev *v, const struct certrow *c, int *irank)
{
	*irank = RANK_NONE;
	if (is_root(v, c->issuer)) {
		*irank = RANK_ROOT;
		return true;
	}
	return covers(v, c->issuer, c->seq, c->ms, c->role, c->c.region,
	    irank);
}

static bool
applies(struct ev *v, const uint8_t *k, const struct revrow *r,
    const struct certrow *c)
{
	struct verdict vd;

	if (is_root(v, r->issuer))
		return true;
	if (same_key(r->issuer, k))
		return judge(v, k, r->seq, r->ms, NULL, false, &vd) == QIAO_OK;
	return covers(v, r->issuer, r->seq, r->ms, c->role, c->c.region,
	    NULL);
}

static uint64_t
cut_of(struct ev *v, const uint8_t *k, const struct revrow *rs, size_t nr,
    const struct certrow *c, uint64_t q)
{
	uint64_t cut = UINT64_MAX;

	for (size_t i = 0; i < nr; i++) {
		const struct revrow *r = &rs[i];

		if (r->after < q && r->after < cut && applies(v, k, r, c))
			cut = r->after;
	}
	return cut;
}

static bool
better(const struct certrow *c, int irank, const struct verdict *out)
{
	if (out->rc != QIAO_OK)
		return true;
	if (rank(c->role) != out->rank)
		return rank(c->role) > out->rank;
	if (irank != out->irank)
		return irank > out->irank;
	return memcmp(c->hash, out->best->hash, QIAO_HASH_LEN) < 0;
}

static void
consider(struct ev *v, const uint8_t *k, const struct revrow *rs, size_t nr,
    const struct certrow *c, int irank, uint64_t full_cut, uint64_t q,
    uint64_t t, const struct want *w, struct verdict *out, int *seen)
{
	if (w != NULL && !may_issue(c->role, c->c.region, w->role, w->region))
		return;
	if (cut_of(v, k, rs, nr, c, q) < q) {
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
 * May k sign its entry at seq q, stamped t (0: any time), under a
 * certificate that could issue w (NULL: any)? q = 0 weighs no revocation;
 * q = UINT64_MAX weighs them all. The same question as node/trust.c's.
 */
static int
judge(struct ev *v, const uint8_t *k, uint64_t q, uint64_t t,
    const struct want *w, bool want_boundary, struct verdict *out)
{
	const crdt_trustset *ts = v->ts;
	const struct revrow *rs;
	size_t c0, nc, r0, nr;
	int seen = QIAO_EUNKNOWN, irank;

	memset(out, 0, sizeof(*out));
	out->rc = QIAO_EUNKNOWN;
	if (is_root(v, k)) {
		out->rc = QIAO_OK;
		out->root = true;
		out->rank = RANK_ROOT;
		out->boundary = UINT64_MAX;
		return QIAO_OK;
	}
	if (v->over || v->depth >= DEPTH_MAX)
		return out->rc;
	if (++v->work > WORK_MAX) {
		v->over = true;
		return out->rc;
	}
	FIND_ROWS(ts->c, ts->nc, k, c0, nc);
	FIND_ROWS(ts->r, ts->nr, k, r0, nr);
	rs = nr > 0 ? ts->r + r0 : NULL; /* no pointer arithmetic on NULL */
	v->depth++;
	for (size_t i = 0; i < nc; i++) {
		const struct certrow *c = &ts->c[c0 + i];
		uint64_t full = 0;

		/* As node/trust.c: a certificate that cannot answer w is not
		 * weighed, so nested questions go up in rank. */
		if (w != NULL &&
		    !may_issue(c->role, c->c.region, w->role, w->region))
			continue;
		if (!issued(v, c, &irank))
			continue;
		if (want_boundary) {
			full = cut_of(v, k, rs, nr, c, UINT64_MAX);
			if (full > out->boundary)
				out->boundary = full;
		}
		consider(v, k, rs, nr, c, irank, full, q, t, w, out, &seen);
	}
	v->depth--;
	if (v->over) {
		/* Fail closed: a partial answer could differ from a node's. */
		memset(out, 0, sizeof(*out));
		out->rc = QIAO_EUNKNOWN;
		return out->rc;
	}
	if (out->rc != QIAO_OK)
		out->rc = seen;
	return out->rc;
}

static void
fill_id(const struct verdict *vd, bool of_best, crdt_trust_id *id)
{
	const struct certrow *c = vd->best;

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

static const char *
why_of(int rc)
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

static int
ask(crdt_trustset *ts, const uint8_t *k, uint64_t q, uint64_t t,
    bool of_best, crdt_trust_id *id, const char **why)
{
	struct ev v = { .ts = ts };
	struct verdict vd;
	int rc;

	if ((rc = seal(ts)) != QIAO_OK)
		return rc;
	rc = judge(&v, k, q, t, NULL, id != NULL, &vd);
	if (rc == QIAO_OK && id != NULL)
		fill_id(&vd, of_best, id);
	if (rc != QIAO_OK && why != NULL)
		*why = why_of(rc);
	return rc;
}

int
crdt_trustset_check(crdt_trustset *ts, const uint8_t key[QIAO_KEY_LEN],
    uint64_t seq, uint64_t ms, crdt_trust_id *id, const char **why)
{
	crdt_trust_id t;
	int rc = ask(ts, key, seq, ms, true, &t, why);

	if (rc == QIAO_OK && id != NULL)
		*id = t;
	return rc;
}

int
crdt_trustset_lookup(crdt_trustset *ts, const uint8_t key[QIAO_KEY_LEN],
    crdt_trust_id *id)
{
	crdt_trust_id t;
	int rc = ask(ts, key, 0, 0, false, &t, NULL);

	if (rc == QIAO_OK)
		*id = t;
	return rc;
}

void
crdt_trustset_explain(crdt_trustset *ts,
    const uint8_t key[QIAO_KEY_LEN], char *buf, size_t cap)
{
	struct ev v = { .ts = ts };
	size_t c0, nc;
	char hex[2 * QIAO_KEY_LEN + 1];
	int irank;

	if (seal(ts) != QIAO_OK) {
		snprintf(buf, cap, "out of memory");
		return;
	}
	FIND_ROWS(ts->c, ts->nc, key, c0, nc);
	if (nc == 0) {
		snprintf(buf, cap, "the bundle holds no enrolment of the key");
		return;
	}
	/* The first certificate whose issuer could not issue it. */
	for (size_t i = 0; i < nc; i++) {
		const struct certrow *c = &ts->c[c0 + i];

		if (issued(&v, c, &irank))
			continue;
		crdt_hex_encode(hex, c->issuer, QIAO_KEY_LEN);
		snprintf(buf, cap,
		    "its enrolment as %s %s (seq %llu of key %.12s) does not "
		    "count: that issuer could not enrol it there (not "
		    "enrolled itself, or not above that region)",
		    crdt_role_name(c->role), c->c.region,
		    (unsigned long long)c->seq, hex);
		return;
	}
	snprintf(buf, cap, "its enrolment counts, but not for this entry");
}

size_t
crdt_trustset_subjects(crdt_trustset *ts)
{
	if (seal(ts) != QIAO_OK)
		return 0;
	return ts->nsubj;
}

const uint8_t *
crdt_trustset_subject(crdt_trustset *ts, size_t i)
{
	if (seal(ts) != QIAO_OK || i >= ts->nsubj)
		return NULL;
	return ts->c[ts->subj[i]].subject;
}
