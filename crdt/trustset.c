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

struct crdt_trustset {
	uint8_t root[QIAO_KEY_LEN];
	/* Sorted by subject (once sealed): a subject's rows are a slice,
	 * handed to crdt/trustrule.c as they are. */
	crdt_trustrule_cert *c;
	size_t nc, capc;
	crdt_trustrule_rev *r;
	size_t nr, capr;
	bool sorted;
	/* Distinct subjects of certificates, in key order, once sorted. */
	size_t *subj;
	size_t nsubj;
};

static enum crdt_role
role_parse(const char *s)
{
	for (int r = CRDT_ROLE_VILLAGE; r <= CRDT_ROLE_ROOT; r++)
		if (strcmp(s, crdt_role_name((enum crdt_role)r)) == 0)
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

static bool
same_key(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, QIAO_KEY_LEN) == 0;
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
	crdt_trustrule_rev *r;

	if (ts->nr == ts->capr) {
		size_t cap = ts->capr ? 2 * ts->capr : 8;
		crdt_trustrule_rev *v = realloc(ts->r, cap * sizeof(*v));

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
	crdt_trustrule_cert *c;
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
		crdt_trustrule_cert *v = realloc(ts->c, cap * sizeof(*v));

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
	const crdt_trustrule_cert *x = a, *y = b;
	int c = memcmp(x->subject, y->subject, QIAO_KEY_LEN);

	return c ? c : memcmp(x->hash, y->hash, QIAO_HASH_LEN);
}

static int
rev_cmp(const void *a, const void *b)
{
	const crdt_trustrule_rev *x = a, *y = b;
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

/* The row source of crdt/trustrule.c: a subject's slices of the sorted
 * arrays, valid until the set changes (never during a question). */
static int
load(void *ctx, const uint8_t subject[QIAO_KEY_LEN], crdt_trustrule_rows *out)
{
	const crdt_trustset *ts = ctx;
	size_t c0, nc, r0, nr;

	FIND_ROWS(ts->c, ts->nc, subject, c0, nc);
	FIND_ROWS(ts->r, ts->nr, subject, r0, nr);
	/* No pointer arithmetic on NULL (an empty set has no arrays). */
	out->c = nc > 0 ? ts->c + c0 : NULL;
	out->nc = nc;
	out->r = nr > 0 ? ts->r + r0 : NULL;
	out->nr = nr;
	return QIAO_OK;
}

/* Starts a question over ts, sealed first. */
static int
begin(crdt_trustset *ts, crdt_trustrule *q, crdt_trustrule_src *src)
{
	int rc;

	if ((rc = seal(ts)) != QIAO_OK)
		return rc;
	memset(src, 0, sizeof(*src));
	src->root = ts->root;
	src->load = load;
	src->ctx = ts;
	crdt_trustrule_begin(q, src);
	return QIAO_OK;
}

static int
ask(crdt_trustset *ts, const uint8_t *k, uint64_t q, uint64_t t,
    bool of_best, crdt_trust_id *id, const char **why)
{
	crdt_trustrule_src src;
	crdt_trustrule v;
	int rc;

	if ((rc = begin(ts, &v, &src)) != QIAO_OK)
		return rc;
	rc = crdt_trustrule_ask(&v, k, q, t, of_best, id, NULL);
	if (rc != QIAO_OK && why != NULL)
		*why = crdt_trustrule_why(rc);
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
	crdt_trustrule_src src;
	crdt_trustrule v;
	size_t c0, nc;
	char hex[2 * QIAO_KEY_LEN + 1];

	if (begin(ts, &v, &src) != QIAO_OK) {
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
		const crdt_trustrule_cert *c = &ts->c[c0 + i];

		if (crdt_trustrule_issued(&v, c))
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
