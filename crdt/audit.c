#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crdt/audit.h"
#include "crdt/body.h"
#include "crdt/codec.h"

/* qsort, but never handed a NULL base (an empty list may have none). */
static void
sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

/* Domain tags keep a leaf, a set and a view digest from ever being equal
 * inputs to one another (or to an entry hash). */
static const char TAG_LEAF[] = "qiao-audit-case-v1";
static const char TAG_SET[] = "qiao-audit-set-v1";
static const char TAG_VIEW[] = "qiao-audit-view-v1";

int
crdt_audit_rank_cmp(const crdt_entry *a, const crdt_entry *b)
{
	int c;

	if (a->hlc != b->hlc)
		return a->hlc < b->hlc ? -1 : 1;
	if ((c = memcmp(a->author, b->author, QIAO_KEY_LEN)) != 0)
		return c;
	return memcmp(a->hash, b->hash, QIAO_HASH_LEN);
}

/* (author, seq, hash): the order of trust entries and fork pairs. */
static int
log_cmp(const crdt_entry *a, const crdt_entry *b)
{
	int c = memcmp(a->author, b->author, QIAO_KEY_LEN);

	if (c != 0)
		return c;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return memcmp(a->hash, b->hash, QIAO_HASH_LEN);
}

/* Decoding. */

struct dec {
	crdt_reader r;
	char *err;
	size_t errlen;
};

static int
fail(struct dec *d, const char *what, const char *why)
{
	size_t at = d->r.why ? d->r.at : (size_t)(d->r.p - d->r.start);

	snprintf(d->err, d->errlen, "byte %zu: %s%s%s",
	    at + QIAO_AUDIT_MAGIC_LEN, what, what[0] ? ": " : "",
	    d->r.why ? d->r.why : why);
	return QIAO_EMALFORMED;
}

static int
too_many(struct dec *d, const char *what, size_t max)
{
	snprintf(d->err, d->errlen, "byte %zu: %s: more than %zu",
	    (size_t)(d->r.p - d->r.start) + QIAO_AUDIT_MAGIC_LEN, what, max);
	return QIAO_ETOOBIG;
}

/* Grows *v (elements of size) to hold at least n + 1. */
static int
grow(void **v, size_t *cap, size_t n, size_t size)
{
	void *p;
	size_t c;

	if (n < *cap)
		return QIAO_OK;
	c = *cap ? 2 * *cap : 16;
	if ((p = realloc(*v, c * size)) == NULL)
		return QIAO_ENOMEM;
	*v = p;
	*cap = c;
	return QIAO_OK;
}

static int
read_entry(struct dec *d, crdt_entry *e, const char *what)
{
	const uint8_t *raw;
	const char *why = NULL;
	size_t rl;

	if (crdt_read_bin(&d->r, &raw, &rl) != QIAO_OK)
		return fail(d, what, "");
	if (crdt_entry_parse(e, raw, rl, NULL, &why) != QIAO_OK) {
		/* Point at the entry, not past it. */
		d->r.p = raw;
		return fail(d, what, why ? why : "not an entry");
	}
	return QIAO_OK;
}

/* [raw, body] */
static int
read_item(struct dec *d, crdt_audit_item *it, const char *what)
{
	size_t n;

	memset(it, 0, sizeof(*it));
	if (crdt_read_array(&d->r, &n) != QIAO_OK)
		return fail(d, what, "");
	if (n != 2)
		return fail(d, what, "an entry is [raw, body]");
	if (read_entry(d, &it->e, what) != QIAO_OK)
		return QIAO_EMALFORMED;
	if (crdt_read_bin(&d->r, &it->body, &it->blen) != QIAO_OK)
		return fail(d, what, "");
	if (it->blen > QIAO_BODY_MAX)
		return fail(d, what, "body too large");
	return QIAO_OK;
}

static int
read_cases(struct dec *d, crdt_audit_bundle *b)
{
	size_t n, capc = 0, capo = 0;
	int rc;

	if (crdt_read_array(&d->r, &n) != QIAO_OK)
		return fail(d, "cases", "");
	if (n > QIAO_AUDIT_CASES_MAX)
		return too_many(d, "cases", QIAO_AUDIT_CASES_MAX);
	for (size_t i = 0; i < n; i++) {
		crdt_audit_case *c;
		size_t k, nops;

		if ((rc = grow((void **)&b->cases, &capc, b->ncases,
			 sizeof(*b->cases))) != QIAO_OK)
			return rc;
		c = &b->cases[b->ncases];
		memset(c, 0, sizeof(*c));
		if (crdt_read_array(&d->r, &k) != QIAO_OK)
			return fail(d, "case", "");
		if (k != 3)
			return fail(d, "case", "a case is [id, state, ops]");
		if (crdt_read_fixbin(&d->r, c->id, QIAO_HASH_LEN) != QIAO_OK ||
		    crdt_read_fixbin(&d->r, c->state, QIAO_HASH_LEN) != 0)
			return fail(d, "case", "");
		if (b->ncases > 0 &&
		    memcmp(b->cases[b->ncases - 1].id, c->id, QIAO_HASH_LEN) >= 0)
			return fail(d, "cases",
			    "not in increasing order of id (or repeated)");
		if (crdt_read_array(&d->r, &nops) != QIAO_OK)
			return fail(d, "ops", "");
		if (nops > QIAO_AUDIT_OPS_MAX)
			return too_many(d, "ops of a case", QIAO_AUDIT_OPS_MAX);
		/* Cases point into opsbuf by index until it stops moving. */
		c->ops = (crdt_audit_item *)(uintptr_t)b->nops;
		c->nops = nops;
		for (size_t j = 0; j < nops; j++) {
			crdt_audit_item *it;

			if (b->nops >= QIAO_AUDIT_ITEMS_MAX)
				return too_many(d, "ops of all cases",
				    QIAO_AUDIT_ITEMS_MAX);
			if ((rc = grow((void **)&b->opsbuf, &capo, b->nops,
				 sizeof(*b->opsbuf))) != QIAO_OK)
				return rc;
			it = &b->opsbuf[b->nops];
			if (read_item(d, it, "op") != QIAO_OK)
				return QIAO_EMALFORMED;
			if (j > 0 && crdt_audit_rank_cmp(&it[-1].e, &it->e) >= 0)
				return fail(d, "ops",
				    "not in rank order (hlc, author, hash) or "
				    "repeated");
			b->nops++;
		}
		b->ncases++;
	}
	for (size_t i = 0; i < b->ncases; i++)
		b->cases[i].ops = b->opsbuf == NULL
		    ? NULL /* no op at all */
		    : b->opsbuf + (uintptr_t)b->cases[i].ops;
	return QIAO_OK;
}

static int
read_forks(struct dec *d, crdt_audit_bundle *b)
{
	size_t n, k, cap = 0;
	int rc;

	if (crdt_read_array(&d->r, &n) != QIAO_OK)
		return fail(d, "forks", "");
	if (n > QIAO_AUDIT_FORKS_MAX)
		return too_many(d, "forks", QIAO_AUDIT_FORKS_MAX);
	for (size_t i = 0; i < n; i++) {
		crdt_audit_fork *f;

		if ((rc = grow((void **)&b->forks, &cap, b->nforks,
			 sizeof(*b->forks))) != QIAO_OK)
			return rc;
		f = &b->forks[b->nforks];
		if (crdt_read_array(&d->r, &k) != QIAO_OK)
			return fail(d, "fork", "");
		if (k != 2)
			return fail(d, "fork", "a fork is [raw, raw]");
		if (read_entry(d, &f->a, "fork") != QIAO_OK ||
		    read_entry(d, &f->b, "fork") != QIAO_OK)
			return QIAO_EMALFORMED;
		if (memcmp(f->a.author, f->b.author, QIAO_KEY_LEN) != 0 ||
		    f->a.seq != f->b.seq ||
		    memcmp(f->a.hash, f->b.hash, QIAO_HASH_LEN) >= 0)
			return fail(d, "fork",
			    "not two entries of one author at one seq, the "
			    "lower hash first");
		if (b->nforks > 0 && log_cmp(&b->forks[b->nforks - 1].a,
					 &f->a) >= 0)
			return fail(d, "forks",
			    "not in order of (author, seq) or repeated");
		b->nforks++;
	}
	return QIAO_OK;
}

static int
read_trust(struct dec *d, crdt_audit_bundle *b)
{
	size_t n, cap = 0;
	int rc;

	if (crdt_read_array(&d->r, &n) != QIAO_OK)
		return fail(d, "trust", "");
	if (n > QIAO_AUDIT_TRUST_MAX)
		return too_many(d, "trust entries", QIAO_AUDIT_TRUST_MAX);
	for (size_t i = 0; i < n; i++) {
		crdt_audit_item *it;

		if ((rc = grow((void **)&b->trust, &cap, b->ntrust,
			 sizeof(*b->trust))) != QIAO_OK)
			return rc;
		it = &b->trust[b->ntrust];
		if (read_item(d, it, "trust entry") != QIAO_OK)
			return QIAO_EMALFORMED;
		if (b->ntrust > 0 && log_cmp(&it[-1].e, &it->e) >= 0)
			return fail(d, "trust",
			    "not in order of (author, seq) or repeated");
		b->ntrust++;
	}
	return QIAO_OK;
}

static int
read_view(struct dec *d, crdt_audit_bundle *b)
{
	size_t n, k, cap = 0;
	int rc;

	if (crdt_read_array(&d->r, &n) != QIAO_OK)
		return fail(d, "view", "");
	if (n > QIAO_AUDIT_VIEW_MAX)
		return too_many(d, "view", QIAO_AUDIT_VIEW_MAX);
	for (size_t i = 0; i < n; i++) {
		crdt_audit_head *h;

		if ((rc = grow((void **)&b->view, &cap, b->nview,
			 sizeof(*b->view))) != QIAO_OK)
			return rc;
		h = &b->view[b->nview];
		memset(h, 0, sizeof(*h));
		if (crdt_read_array(&d->r, &k) != QIAO_OK)
			return fail(d, "view", "");
		if (k != 2)
			return fail(d, "view", "a view head is [key, raw]");
		if (crdt_read_fixbin(&d->r, h->key, QIAO_KEY_LEN) != QIAO_OK)
			return fail(d, "view", "");
		if (b->nview > 0 &&
		    memcmp(b->view[b->nview - 1].key, h->key, QIAO_KEY_LEN) >= 0)
			return fail(d, "view",
			    "not in increasing order of key (or repeated)");
		if (crdt_read_peek(&d->r) == CRDT_KIND_NIL) {
			if (crdt_read_nil(&d->r) != QIAO_OK)
				return fail(d, "view", "");
		} else {
			if (read_entry(d, &h->e, "view head") != QIAO_OK)
				return QIAO_EMALFORMED;
			if (memcmp(h->e.author, h->key, QIAO_KEY_LEN) != 0)
				return fail(d, "view head",
				    "the entry is not of its key");
			h->has = true;
		}
		b->nview++;
	}
	return QIAO_OK;
}

static int
expect_key(struct dec *d, const char **prev, size_t *plen, const char *want)
{
	const char *k;
	size_t kl;

	if (crdt_read_key(&d->r, prev, plen, &k, &kl) != QIAO_OK)
		return fail(d, "bundle", "");
	if (kl != strlen(want) || memcmp(k, want, kl) != 0) {
		char why[96];

		snprintf(why, sizeof(why), "expected the key \"%s\"", want);
		return fail(d, "bundle", why);
	}
	return QIAO_OK;
}

int
crdt_audit_decode(crdt_audit_bundle *out, const uint8_t *buf, size_t len,
    char *err, size_t errlen)
{
	struct dec d = { .err = err, .errlen = errlen };
	crdt_audit_bundle b;
	const char *prev = NULL;
	size_t plen = 0, n;
	int rc;

	memset(&b, 0, sizeof(b));
	if (len < QIAO_AUDIT_MAGIC_LEN ||
	    memcmp(buf, QIAO_AUDIT_MAGIC, QIAO_AUDIT_MAGIC_LEN) != 0) {
		snprintf(err, errlen, "not a qiao audit bundle (no %s magic)",
		    QIAO_AUDIT_MAGIC);
		return QIAO_EMALFORMED;
	}
	if (len > QIAO_AUDIT_FILE_MAX) {
		snprintf(err, errlen, "larger than %llu bytes",
		    (unsigned long long)QIAO_AUDIT_FILE_MAX);
		return QIAO_ETOOBIG;
	}
	crdt_reader_init(&d.r, buf + QIAO_AUDIT_MAGIC_LEN,
	    len - QIAO_AUDIT_MAGIC_LEN);
	if (crdt_read_map(&d.r, &n) != QIAO_OK) {
		rc = fail(&d, "bundle", "");
		goto bad;
	}
	if (n != 5) {
		rc = fail(&d, "bundle",
		    "a v1 bundle is a map of cases, forks, statement, trust, "
		    "view");
		goto bad;
	}
	if ((rc = expect_key(&d, &prev, &plen, "cases")) != QIAO_OK ||
	    (rc = read_cases(&d, &b)) != QIAO_OK ||
	    (rc = expect_key(&d, &prev, &plen, "forks")) != QIAO_OK ||
	    (rc = read_forks(&d, &b)) != QIAO_OK ||
	    (rc = expect_key(&d, &prev, &plen, "statement")) != QIAO_OK ||
	    (rc = read_item(&d, &b.statement, "statement")) != QIAO_OK ||
	    (rc = expect_key(&d, &prev, &plen, "trust")) != QIAO_OK ||
	    (rc = read_trust(&d, &b)) != QIAO_OK ||
	    (rc = expect_key(&d, &prev, &plen, "view")) != QIAO_OK ||
	    (rc = read_view(&d, &b)) != QIAO_OK)
		goto bad;
	if (crdt_read_done(&d.r) != QIAO_OK) {
		rc = fail(&d, "bundle", "");
		goto bad;
	}
	*out = b;
	return QIAO_OK;
bad:
	/* cases[].ops may still be indices: fini frees only the arrays. */
	crdt_audit_fini(&b);
	if (rc == QIAO_ENOMEM)
		snprintf(err, errlen, "out of memory");
	return rc;
}

void
crdt_audit_fini(crdt_audit_bundle *b)
{
	if (b == NULL)
		return;
	free(b->cases);
	free(b->opsbuf);
	free(b->view);
	free(b->trust);
	free(b->forks);
	memset(b, 0, sizeof(*b));
}

/* Canonical order. */

static int
item_rank_cmp(const void *a, const void *b)
{
	return crdt_audit_rank_cmp(&((const crdt_audit_item *)a)->e,
	    &((const crdt_audit_item *)b)->e);
}

static int
item_log_cmp(const void *a, const void *b)
{
	return log_cmp(&((const crdt_audit_item *)a)->e,
	    &((const crdt_audit_item *)b)->e);
}

static int
case_cmp(const void *a, const void *b)
{
	return memcmp(((const crdt_audit_case *)a)->id,
	    ((const crdt_audit_case *)b)->id, QIAO_HASH_LEN);
}

static int
head_cmp(const void *a, const void *b)
{
	return memcmp(((const crdt_audit_head *)a)->key,
	    ((const crdt_audit_head *)b)->key, QIAO_KEY_LEN);
}

static int
fork_cmp(const void *a, const void *b)
{
	return log_cmp(&((const crdt_audit_fork *)a)->a,
	    &((const crdt_audit_fork *)b)->a);
}

void
crdt_audit_canon(crdt_audit_bundle *b)
{
	for (size_t i = 0; i < b->ncases; i++)
		sort(b->cases[i].ops, b->cases[i].nops, sizeof(crdt_audit_item),
		    item_rank_cmp);
	sort(b->cases, b->ncases, sizeof(*b->cases), case_cmp);
	sort(b->view, b->nview, sizeof(*b->view), head_cmp);
	sort(b->trust, b->ntrust, sizeof(*b->trust), item_log_cmp);
	for (size_t i = 0; i < b->nforks; i++) {
		crdt_audit_fork *f = &b->forks[i];

		if (memcmp(f->a.hash, f->b.hash, QIAO_HASH_LEN) > 0) {
			crdt_entry t = f->a;

			f->a = f->b;
			f->b = t;
		}
	}
	sort(b->forks, b->nforks, sizeof(*b->forks), fork_cmp);
}

/* Encoding. */

static void
write_raw(crdt_writer *w, const crdt_entry *e)
{
	crdt_write_bin(w, e->raw, crdt_entry_raw_len(e));
}

static int
write_item(crdt_writer *w, const crdt_audit_item *it)
{
	if (it->body == NULL && it->blen > 0)
		return QIAO_EINVAL;
	crdt_write_array(w, 2);
	write_raw(w, &it->e);
	crdt_write_bin(w, it->body ? it->body : (const uint8_t *)"",
	    it->blen);
	return QIAO_OK;
}

static void
write_view(crdt_writer *w, const crdt_audit_head *v, size_t n)
{
	crdt_write_array(w, n);
	for (size_t i = 0; i < n; i++) {
		crdt_write_array(w, 2);
		crdt_write_bin(w, v[i].key, QIAO_KEY_LEN);
		if (v[i].has)
			write_raw(w, &v[i].e);
		else
			crdt_write_nil(w);
	}
}

int
crdt_audit_encode(const crdt_audit_bundle *b, uint8_t **out, size_t *len)
{
	crdt_writer w;
	int rc = QIAO_OK;

	crdt_writer_init(&w);
	crdt_write_raw(&w, QIAO_AUDIT_MAGIC, QIAO_AUDIT_MAGIC_LEN);
	crdt_write_map(&w, 5);
	crdt_write_cstr(&w, "cases");
	crdt_write_array(&w, b->ncases);
	for (size_t i = 0; i < b->ncases && rc == QIAO_OK; i++) {
		const crdt_audit_case *c = &b->cases[i];

		crdt_write_array(&w, 3);
		crdt_write_bin(&w, c->id, QIAO_HASH_LEN);
		crdt_write_bin(&w, c->state, QIAO_HASH_LEN);
		crdt_write_array(&w, c->nops);
		for (size_t j = 0; j < c->nops && rc == QIAO_OK; j++)
			rc = write_item(&w, &c->ops[j]);
	}
	crdt_write_cstr(&w, "forks");
	crdt_write_array(&w, b->nforks);
	for (size_t i = 0; i < b->nforks; i++) {
		crdt_write_array(&w, 2);
		write_raw(&w, &b->forks[i].a);
		write_raw(&w, &b->forks[i].b);
	}
	crdt_write_cstr(&w, "statement");
	if (rc == QIAO_OK)
		rc = write_item(&w, &b->statement);
	crdt_write_cstr(&w, "trust");
	crdt_write_array(&w, b->ntrust);
	for (size_t i = 0; i < b->ntrust && rc == QIAO_OK; i++)
		rc = write_item(&w, &b->trust[i]);
	crdt_write_cstr(&w, "view");
	write_view(&w, b->view, b->nview);
	if (rc == QIAO_OK)
		rc = crdt_writer_error(&w);
	if (rc == QIAO_OK)
		*out = crdt_writer_take(&w, len);
	crdt_writer_fini(&w);
	return rc;
}

/* Digests. */

static void
put64(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

void
crdt_audit_leaf(uint8_t out[QIAO_HASH_LEN], const crdt_audit_case *c)
{
	crypto_generichash_state st;
	uint8_t n[8];

	crypto_generichash_init(&st, NULL, 0, QIAO_HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)TAG_LEAF,
	    sizeof(TAG_LEAF) - 1);
	crypto_generichash_update(&st, c->id, QIAO_HASH_LEN);
	put64(n, c->nops);
	crypto_generichash_update(&st, n, sizeof(n));
	for (size_t i = 0; i < c->nops; i++)
		crypto_generichash_update(&st, c->ops[i].e.hash,
		    QIAO_HASH_LEN);
	crypto_generichash_update(&st, c->state, QIAO_HASH_LEN);
	crypto_generichash_final(&st, out, QIAO_HASH_LEN);
}

void
crdt_audit_set(uint8_t out[QIAO_HASH_LEN], const crdt_audit_case *cases,
    size_t n)
{
	crypto_generichash_state st;
	uint8_t leaf[QIAO_HASH_LEN], cnt[8];

	crypto_generichash_init(&st, NULL, 0, QIAO_HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)TAG_SET,
	    sizeof(TAG_SET) - 1);
	put64(cnt, n);
	crypto_generichash_update(&st, cnt, sizeof(cnt));
	for (size_t i = 0; i < n; i++) {
		crdt_audit_leaf(leaf, &cases[i]);
		crypto_generichash_update(&st, leaf, sizeof(leaf));
	}
	crypto_generichash_final(&st, out, QIAO_HASH_LEN);
}

int
crdt_audit_view_digest(uint8_t out[QIAO_HASH_LEN],
    const crdt_audit_head *view, size_t n)
{
	crypto_generichash_state st;
	crdt_writer w;
	int rc;

	crdt_writer_init(&w);
	write_view(&w, view, n);
	if ((rc = crdt_writer_error(&w)) == QIAO_OK) {
		crypto_generichash_init(&st, NULL, 0, QIAO_HASH_LEN);
		crypto_generichash_update(&st, (const uint8_t *)TAG_VIEW,
		    sizeof(TAG_VIEW) - 1);
		crypto_generichash_update(&st, w.buf, w.len);
		crypto_generichash_final(&st, out, QIAO_HASH_LEN);
	}
	crdt_writer_fini(&w);
	return rc;
}

/* The statement's body. */

static bool
code_ok(const char *s, size_t n)
{
	if (n == 0 || n >= QIAO_CODE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

int
crdt_audit_claim_encode(const crdt_audit_claim *c, uint8_t **out,
    size_t *len)
{
	crdt_body b;
	int rc;

	if (c->under[0] != '\0' &&
	    (!c->all || !code_ok(c->under, strlen(c->under))))
		return QIAO_EINVAL;
	crdt_body_init(&b);
	if (c->all)
		crdt_body_bool(&b, "all", true);
	crdt_body_uint(&b, "cases", c->cases);
	crdt_body_bin(&b, "set", c->set, QIAO_HASH_LEN);
	if (c->under[0] != '\0')
		crdt_body_cstr(&b, "under", c->under);
	crdt_body_bin(&b, "view", c->view, QIAO_HASH_LEN);
	rc = crdt_body_finish(&b, out, len);
	crdt_body_fini(&b);
	return rc;
}

static int
get_hash(const uint8_t *body, size_t len, const char *key, uint8_t *out)
{
	const uint8_t *p;
	size_t n;

	if (crdt_body_get_bin(body, len, key, &p, &n) != QIAO_OK ||
	    n != QIAO_HASH_LEN)
		return QIAO_EMALFORMED;
	memcpy(out, p, QIAO_HASH_LEN);
	return QIAO_OK;
}

int
crdt_audit_claim_decode(crdt_audit_claim *c, const uint8_t *body,
    size_t len, const char **why)
{
	crdt_audit_claim t;
	const char *s;
	size_t n;
	int rc;

	memset(&t, 0, sizeof(t));
	rc = crdt_body_get_bool(body, len, "all", &t.all);
	if (rc != QIAO_OK && rc != QIAO_ENOTFOUND) {
		*why = "audit statement: all must be a boolean";
		return QIAO_EMALFORMED;
	}
	if (crdt_body_get_uint(body, len, "cases", &t.cases) != QIAO_OK) {
		*why = "audit statement: cases must be a count";
		return QIAO_EMALFORMED;
	}
	if (get_hash(body, len, "set", t.set) != QIAO_OK ||
	    get_hash(body, len, "view", t.view) != QIAO_OK) {
		*why = "audit statement: set and view must be 32-byte digests";
		return QIAO_EMALFORMED;
	}
	rc = crdt_body_get_str(body, len, "under", &s, &n);
	if (rc == QIAO_OK) {
		if (!code_ok(s, n) || !t.all) {
			*why = "audit statement: under must be a region code, "
			       "with all";
			return QIAO_EMALFORMED;
		}
		memcpy(t.under, s, n);
		t.under[n] = '\0';
	} else if (rc != QIAO_ENOTFOUND) {
		*why = "audit statement: under must be a region code";
		return QIAO_EMALFORMED;
	}
	*c = t;
	return QIAO_OK;
}
