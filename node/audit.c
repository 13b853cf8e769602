#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "crdt/audit.h"
#include "crdt/auditor.h"
#include "crdt/hex.h"
#include "crdt/types.h"
#include "node/audit.h"
#include "node/log.h"
#include "node/state.h"
#include "node/store.h"
#include "node/trust.h"

/* qsort, but never handed a NULL base (an empty list may have none). */
static void
sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

/* Layouts of the tables read here (node/trust.c, node/state.c). */
#define CERT_ROW_HDR (QIAO_KEY_LEN + 16) /* issuer seq hlc, then body */
#define REV_ROW_LEN (8 + QIAO_KEY_LEN + 16) /* after issuer seq hlc */

/* A sorted set of keys. */
struct keyset {
	uint8_t (*v)[QIAO_KEY_LEN];
	size_t n, cap;
};

static int
keyset_add(struct keyset *s, const uint8_t *k)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = memcmp(s->v[mid], k, QIAO_KEY_LEN);

		if (c == 0)
			return QIAO_OK;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		void *p = realloc(s->v, cap * QIAO_KEY_LEN);

		if (p == NULL)
			return QIAO_ENOMEM;
		s->v = p;
		s->cap = cap;
	}
	memmove(s->v[lo + 1], s->v[lo], (s->n - lo) * QIAO_KEY_LEN);
	memcpy(s->v[lo], k, QIAO_KEY_LEN);
	s->n++;
	return QIAO_OK;
}

static bool
keyset_has(const struct keyset *s, const uint8_t *k)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = memcmp(s->v[mid], k, QIAO_KEY_LEN);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* A (key, seq) of a trust entry to fetch. */
struct pos {
	uint8_t author[QIAO_KEY_LEN];
	uint64_t seq;
};

struct exp {
	node *n;
	node_txn *txn;
	crdt_audit_bundle b;
	size_t capc, capo, capv, capt, capf;
	/* the cases' record keys, each stored as length(1) key */
	uint8_t *rk;
	size_t rklen, rkcap;
	char (*codes)[QIAO_CODE_MAX];
	size_t ncodes;
	struct keyset view, rel, seen;
	struct pos *pos;
	size_t npos, cappos;
	char *err;
	size_t errlen;
};

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
say(struct exp *x, int rc, const char *fmt, const char *arg)
{
	snprintf(x->err, x->errlen, fmt, arg);
	return rc;
}

/* Cases. */

static int
add_reckey(struct exp *x, const uint8_t *key, size_t klen)
{
	if (klen > QIAO_RECKEY_MAX)
		return QIAO_ESTORE;
	if (x->rklen + 1 + klen > x->rkcap) {
		size_t cap = x->rkcap ? 2 * x->rkcap : 4096;
		uint8_t *p;

		while (cap < x->rklen + 1 + klen)
			cap *= 2;
		if ((p = realloc(x->rk, cap)) == NULL)
			return QIAO_ENOMEM;
		x->rk = p;
		x->rkcap = cap;
	}
	x->rk[x->rklen] = (uint8_t)klen;
	memcpy(x->rk + x->rklen + 1, key, klen);
	x->rklen += 1 + klen;
	return QIAO_OK;
}

static int
on_case(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
    size_t len)
{
	(void)val;
	(void)len;
	return add_reckey(ctx, key, klen);
}

struct hashes {
	uint8_t (*v)[QIAO_HASH_LEN];
	size_t n, cap;
	size_t prefix;
};

static int
on_op(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct hashes *h = ctx;
	int rc;

	(void)val;
	(void)vlen;
	if (klen != h->prefix + QIAO_HASH_LEN)
		return QIAO_ESTORE;
	if ((rc = grow((void **)&h->v, &h->cap, h->n, QIAO_HASH_LEN)) != 0)
		return rc;
	memcpy(h->v[h->n++], (const uint8_t *)key + h->prefix, QIAO_HASH_LEN);
	return 0;
}

/* The entry and body of an op, by its hash. */
static int
fetch_op(struct exp *x, const uint8_t *hash, crdt_audit_item *it)
{
	uint8_t author[QIAO_KEY_LEN];
	const uint8_t *body;
	uint64_t seq;
	size_t blen;
	int rc;

	memset(it, 0, sizeof(*it));
	if ((rc = node_store_entry_find(x->txn, hash, author, &seq)) != 0 ||
	    (rc = node_store_entry_get(x->txn, author, seq, &it->e)) != 0 ||
	    (rc = node_store_body_get(x->txn, it->e.body_hash, &body,
		 &blen)) != 0)
		return rc == QIAO_ENOTFOUND ? QIAO_ESTORE : rc;
	/* Bodies live in the map until the read txn ends, which is after
	 * the bundle is written. */
	it->body = body;
	it->blen = blen;
	return QIAO_OK;
}

static int
gather_case(struct exp *x, const uint8_t *reckey, size_t klen)
{
	uint8_t key[1 + QIAO_RECKEY_MAX];
	struct hashes h = { .prefix = 1 + klen };
	crdt_audit_case *c;
	const uint8_t *state;
	char kind, code[QIAO_CODE_MAX], hex[2 * QIAO_HASH_LEN + 1];
	uint8_t id[QIAO_HASH_LEN];
	size_t slen;
	int rc;

	if (!crdt_op_reckey_parse(reckey, klen, &kind, code, id) ||
	    kind != CRDT_REC_CASE)
		return QIAO_ESTORE;
	if ((rc = grow((void **)&x->b.cases, &x->capc, x->b.ncases,
		 sizeof(*x->b.cases))) != QIAO_OK)
		return rc;
	c = &x->b.cases[x->b.ncases];
	memset(c, 0, sizeof(*c));
	memcpy(c->id, id, QIAO_HASH_LEN);
	if ((rc = node_state_get(x->txn, reckey, klen, &state, &slen)) != 0)
		return rc == QIAO_ENOTFOUND ? QIAO_ESTORE : rc;
	crypto_generichash(c->state, QIAO_HASH_LEN, state, slen, NULL, 0);
	key[0] = 'o';
	memcpy(key + 1, reckey, klen);
	if ((rc = node_store_scan(x->txn, NODE_TB_INDEX, key, 1 + klen, on_op,
		 &h)) != QIAO_OK)
		goto out;
	if (h.n > QIAO_AUDIT_OPS_MAX) {
		crdt_hex_encode(hex, id, QIAO_HASH_LEN);
		rc = say(x, QIAO_EINVAL, "case %.12s has more steps than a "
		    "bundle holds", hex);
		goto out;
	}
	c->ops = (crdt_audit_item *)(uintptr_t)x->b.nops;
	c->nops = h.n;
	for (size_t i = 0; i < h.n; i++) {
		if (x->b.nops >= QIAO_AUDIT_ITEMS_MAX) {
			rc = say(x, QIAO_EINVAL, "%s", "more steps than one "
			    "bundle holds: export under a narrower code");
			goto out;
		}
		if ((rc = grow((void **)&x->b.opsbuf, &x->capo, x->b.nops,
			 sizeof(*x->b.opsbuf))) != QIAO_OK ||
		    (rc = fetch_op(x, h.v[i], &x->b.opsbuf[x->b.nops])) != 0)
			goto out;
		x->b.nops++;
	}
	x->b.ncases++;
out:
	free(h.v);
	return rc;
}

static int
code_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static bool
covers_any(const struct exp *x, const char *region)
{
	size_t lo = 0, hi = x->ncodes, rl = strlen(region);

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(x->codes[mid], region) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < x->ncodes && strncmp(x->codes[lo], region, rl) == 0;
}

static int
gather_cases(struct exp *x)
{
	int rc;

	if ((x->codes = malloc((x->rklen ? x->rklen : 1) *
		 sizeof(*x->codes))) == NULL)
		return QIAO_ENOMEM;
	for (size_t off = 0; off < x->rklen; off += 1 + x->rk[off]) {
		char kind;
		uint8_t id[QIAO_HASH_LEN];

		if (x->b.ncases >= QIAO_AUDIT_CASES_MAX)
			return say(x, QIAO_EINVAL, "%s", "more cases than one "
			    "bundle holds: export under a narrower code");
		if ((rc = gather_case(x, x->rk + off + 1, x->rk[off])) != 0)
			return rc;
		if (!crdt_op_reckey_parse(x->rk + off + 1, x->rk[off], &kind,
			x->codes[x->ncodes], id))
			return QIAO_ESTORE;
		x->ncodes++;
	}
	for (size_t i = 0; i < x->b.ncases; i++)
		x->b.cases[i].ops = x->b.opsbuf == NULL
		    ? NULL /* no op at all */
		    : x->b.opsbuf + (uintptr_t)x->b.cases[i].ops;
	sort(x->codes, x->ncodes, sizeof(*x->codes), code_cmp);
	return QIAO_OK;
}

/* The view: every key that may write one of the cases. */

static int
on_subject(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct keyset *s = ctx;

	(void)val;
	(void)vlen;
	if (klen != QIAO_KEY_LEN + QIAO_HASH_LEN)
		return QIAO_ESTORE;
	/* Rows come sorted by subject: skip the repeats cheaply. */
	if (s->n > 0 && memcmp(s->v[s->n - 1], key, QIAO_KEY_LEN) == 0)
		return 0;
	return keyset_add(s, key);
}

static int
gather_view(struct exp *x)
{
	struct keyset subj = { 0 };
	const uint8_t *root = node_root(x->n);
	int rc;

	if (root != NULL && (rc = keyset_add(&x->view, root)) != QIAO_OK)
		return rc;
	for (size_t i = 0; i < x->b.nops; i++)
		if ((rc = keyset_add(&x->view, x->b.opsbuf[i].e.author)) != 0)
			return rc;
	rc = node_store_scan(x->txn, NODE_TB_CERTS, NULL, 0, on_subject,
	    &subj);
	for (size_t i = 0; rc == QIAO_OK && i < subj.n; i++) {
		node_trust_id id;

		rc = node_trust_lookup(x->n, x->txn, subj.v[i], &id);
		if (rc == QIAO_EUNKNOWN) {
			rc = QIAO_OK;
			continue;
		}
		if (rc == QIAO_OK && covers_any(x, id.region))
			rc = keyset_add(&x->view, subj.v[i]);
	}
	free(subj.v);
	if (rc != QIAO_OK)
		return rc;
	if (x->view.n > QIAO_AUDIT_VIEW_MAX)
		return say(x, QIAO_EINVAL, "%s", "more keys may write these "
		    "cases than one bundle holds: export under a narrower "
		    "code");
	if ((x->b.view = calloc(x->view.n ? x->view.n : 1,
		 sizeof(*x->b.view))) == NULL)
		return QIAO_ENOMEM;
	for (size_t i = 0; i < x->view.n; i++) {
		crdt_audit_head *h = &x->b.view[x->b.nview++];
		node_head head;

		memcpy(h->key, x->view.v[i], QIAO_KEY_LEN);
		rc = node_store_head_get(x->txn, h->key, &head);
		if (rc == QIAO_ENOTFOUND)
			continue;
		if (rc != QIAO_OK ||
		    (rc = node_store_entry_get(x->txn, h->key, head.seq,
			 &h->e)) != QIAO_OK)
			return rc == QIAO_ENOTFOUND ? QIAO_ESTORE : rc;
		h->has = true;
	}
	return QIAO_OK;
}

/* Trust: the enrolments and revocations of every key involved, and of
 * their issuers, up to the root. */

static int
add_pos(struct exp *x, const uint8_t *author, uint64_t seq)
{
	int rc;

	if ((rc = grow((void **)&x->pos, &x->cappos, x->npos,
		 sizeof(*x->pos))) != QIAO_OK)
		return rc;
	memcpy(x->pos[x->npos].author, author, QIAO_KEY_LEN);
	x->pos[x->npos++].seq = seq;
	return keyset_add(&x->rel, author);
}

static int
on_cert_row(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	(void)key;
	if (klen != QIAO_KEY_LEN + QIAO_HASH_LEN || vlen < CERT_ROW_HDR)
		return QIAO_ESTORE;
	return add_pos(ctx, val,
	    node_store_rd64((const uint8_t *)val + QIAO_KEY_LEN));
}

static int
on_rev_row(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	(void)key;
	if (klen != QIAO_KEY_LEN + QIAO_HASH_LEN || vlen != REV_ROW_LEN)
		return QIAO_ESTORE;
	return add_pos(ctx, (const uint8_t *)val + 8,
	    node_store_rd64((const uint8_t *)val + 8 + QIAO_KEY_LEN));
}

static int
pos_cmp(const void *a, const void *b)
{
	const struct pos *x = a, *y = b;
	int c = memcmp(x->author, y->author, QIAO_KEY_LEN);

	if (c != 0)
		return c;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static int
on_fork(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct exp *x = ctx;
	crdt_audit_fork *f;
	uint64_t seq;
	int rc;

	if (klen != QIAO_KEY_LEN + 8 + QIAO_HASH_LEN)
		return QIAO_ESTORE;
	if (x->b.nforks >= QIAO_AUDIT_FORKS_MAX)
		return 0; /* a few prove the point */
	if ((rc = grow((void **)&x->b.forks, &x->capf, x->b.nforks,
		 sizeof(*x->b.forks))) != QIAO_OK)
		return rc;
	f = &x->b.forks[x->b.nforks];
	seq = node_store_rd64((const uint8_t *)key + QIAO_KEY_LEN);
	if (crdt_entry_parse(&f->b, val, vlen, NULL, NULL) != QIAO_OK)
		return QIAO_ESTORE;
	rc = node_store_entry_get(x->txn, key, seq, &f->a);
	if (rc == QIAO_ENOTFOUND)
		return 0; /* the held branch was cut since */
	if (rc != QIAO_OK)
		return rc;
	x->b.nforks++;
	return 0;
}

static int
gather_trust(struct exp *x)
{
	int rc = QIAO_OK;

	for (size_t i = 0; i < x->view.n; i++)
		if ((rc = keyset_add(&x->rel, x->view.v[i])) != QIAO_OK)
			return rc;
	if (node_self(x->n) != NULL &&
	    (rc = keyset_add(&x->rel, node_self(x->n))) != QIAO_OK)
		return rc;
	/* The set grows while it is walked (an issuer joins it), so walk
	 * copies of it until a pass finds nothing new. */
	for (bool any = true; any;) {
		uint8_t (*snap)[QIAO_KEY_LEN] = malloc((x->rel.n ? x->rel.n : 1) *
		    QIAO_KEY_LEN);
		size_t ns = x->rel.n;

		if (snap == NULL)
			return QIAO_ENOMEM;
		memcpy(snap, x->rel.v, ns * QIAO_KEY_LEN);
		any = false;
		for (size_t i = 0; i < ns; i++) {
			if (keyset_has(&x->seen, snap[i]))
				continue;
			any = true;
			if ((rc = keyset_add(&x->seen, snap[i])) != 0 ||
			    (rc = node_store_scan(x->txn, NODE_TB_CERTS,
				 snap[i], QIAO_KEY_LEN, on_cert_row, x)) != 0 ||
			    (rc = node_store_scan(x->txn, NODE_TB_REVOKES,
				 snap[i], QIAO_KEY_LEN, on_rev_row, x)) != 0)
				break;
		}
		free(snap);
		if (rc != QIAO_OK)
			return rc;
	}
	sort(x->pos, x->npos, sizeof(*x->pos), pos_cmp);
	for (size_t i = 0; i < x->npos; i++) {
		crdt_audit_item *it;
		const uint8_t *body;
		size_t blen;

		if (i > 0 && pos_cmp(&x->pos[i - 1], &x->pos[i]) == 0)
			continue;
		if (x->b.ntrust >= QIAO_AUDIT_TRUST_MAX)
			return say(x, QIAO_EINVAL, "%s", "more trust entries "
			    "than one bundle holds");
		if ((rc = grow((void **)&x->b.trust, &x->capt, x->b.ntrust,
			 sizeof(*x->b.trust))) != QIAO_OK)
			return rc;
		it = &x->b.trust[x->b.ntrust];
		memset(it, 0, sizeof(*it));
		rc = node_store_entry_get(x->txn, x->pos[i].author,
		    x->pos[i].seq, &it->e);
		if (rc == QIAO_ENOTFOUND)
			continue;
		if (rc != QIAO_OK)
			return rc;
		rc = node_store_body_get(x->txn, it->e.body_hash, &body, &blen);
		if (rc == QIAO_ENOTFOUND)
			continue;
		if (rc != QIAO_OK)
			return rc;
		it->body = body;
		it->blen = blen;
		x->b.ntrust++;
	}
	for (size_t i = 0; i < x->rel.n; i++)
		if ((rc = node_store_scan(x->txn, NODE_TB_FORKS, x->rel.v[i],
			 QIAO_KEY_LEN, on_fork, x)) != QIAO_OK)
			return rc;
	return QIAO_OK;
}

/* Writing. */

static int
write_file(const char *path, const uint8_t *buf, size_t len)
{
	char tmp[4096];
	int fd, rc = QIAO_OK;
	size_t off = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return QIAO_EINVAL;
	/* The bodies hold residents' names and texts: only the owner. */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) <
	    0) {
		node_log(NODE_LOG_ERR, "audit", "%s: %s", tmp, strerror(errno));
		return QIAO_EIO;
	}
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			node_log(NODE_LOG_ERR, "audit", "write %s: %s", tmp,
			    strerror(errno));
			rc = errno == ENOSPC ? QIAO_EFULL : QIAO_EIO;
			break;
		}
		off += (size_t)w;
	}
	if (rc == QIAO_OK && fsync(fd) != 0)
		rc = QIAO_EIO;
	if (close(fd) != 0 && rc == QIAO_OK)
		rc = QIAO_EIO;
	if (rc == QIAO_OK && rename(tmp, path) != 0) {
		node_log(NODE_LOG_ERR, "audit", "rename to %s: %s", path,
		    strerror(errno));
		rc = QIAO_EIO;
	}
	if (rc != QIAO_OK)
		unlink(tmp);
	return rc;
}

static void
exp_fini(struct exp *x)
{
	node_store_txn_abort(x->txn);
	x->txn = NULL;
	crdt_audit_fini(&x->b);
	free(x->rk);
	free(x->codes);
	free(x->view.v);
	free(x->rel.v);
	free(x->seen.v);
	free(x->pos);
}

/* One attempt: a snapshot, the statement, the file. *again when the
 * node's own log moved between the snapshot and the statement. */
static int
attempt(node *n, const uint8_t (*ids)[QIAO_HASH_LEN], size_t nids,
    const char *under, const char *path, node_audit_result *res, char *err,
    size_t errlen, bool *again)
{
	struct exp x = { .n = n, .err = err, .errlen = errlen };
	crdt_audit_claim claim;
	const crdt_audit_head *own = NULL;
	const char *why = NULL;
	uint8_t *body = NULL, *file = NULL;
	size_t blen, flen;
	int rc;

	*again = false;
	memset(&claim, 0, sizeof(claim));
	if ((rc = node_store_txn_begin(node_get_store(n), false, &x.txn)) != 0)
		return say(&x, rc, "%s", "cannot read the store");
	if (ids != NULL) {
		for (size_t i = 0; i < nids; i++) {
			uint8_t rk[QIAO_RECKEY_MAX];
			char hex[2 * QIAO_HASH_LEN + 1];
			size_t klen;

			crdt_hex_encode(hex, ids[i], QIAO_HASH_LEN);
			rc = node_state_find(x.txn, CRDT_REC_CASE, hex, rk, &klen);
			if (rc == QIAO_ENOTFOUND) {
				rc = say(&x, rc, "no case %.12s here", hex);
				goto out;
			}
			if (rc != QIAO_OK || (rc = add_reckey(&x, rk, klen)) != 0)
				goto out;
		}
	} else {
		if ((rc = node_state_scan(x.txn, CRDT_REC_CASE, under, on_case,
			 &x)) != QIAO_OK)
			goto out;
		if (x.rklen == 0) {
			rc = say(&x, QIAO_ENOTFOUND, "no case under %s here",
			    under && under[0] ? under : "any code");
			goto out;
		}
	}
	if ((rc = gather_cases(&x)) != QIAO_OK ||
	    (rc = gather_view(&x)) != QIAO_OK ||
	    (rc = gather_trust(&x)) != QIAO_OK)
		goto out;
	crdt_audit_canon(&x.b);
	claim.cases = x.b.ncases;
	crdt_audit_set(claim.set, x.b.cases, x.b.ncases);
	if ((rc = crdt_audit_view_digest(claim.view, x.b.view, x.b.nview)) != 0)
		goto out;
	claim.all = ids == NULL;
	if (under != NULL && ids == NULL)
		snprintf(claim.under, sizeof(claim.under), "%s", under);
	if ((rc = crdt_audit_claim_encode(&claim, &body, &blen)) != QIAO_OK)
		goto out;
	/* The statement: the node's next entry. Its prev must be the head of
	 * its own log in the view, or the node would understate its own
	 * log; another append in between means a new snapshot. */
	rc = node_append(n, QIAO_T_AUDIT, body, blen, &x.b.statement.e, &why);
	if (rc != QIAO_OK) {
		snprintf(err, errlen, "cannot sign the statement: %s",
		    why ? why : qiao_strerror(rc));
		goto out;
	}
	x.b.statement.body = body;
	x.b.statement.blen = blen;
	for (size_t i = 0; i < x.b.nview; i++)
		if (memcmp(x.b.view[i].key, x.b.statement.e.author,
			QIAO_KEY_LEN) == 0)
			own = &x.b.view[i];
	if (own != NULL &&
	    (own->has ? own->e.seq + 1 != x.b.statement.e.seq ||
			memcmp(own->e.hash, x.b.statement.e.prev,
			    QIAO_HASH_LEN) != 0
		      : x.b.statement.e.seq != 1)) {
		*again = true;
		rc = say(&x, QIAO_ESTATE, "%s", "the node's own log moved "
		    "during the export");
		goto out;
	}
	if ((rc = crdt_audit_encode(&x.b, &file, &flen)) != QIAO_OK ||
	    (rc = write_file(path, file, flen)) != QIAO_OK) {
		if (rc != QIAO_ENOMEM)
			snprintf(err, errlen, "cannot write %s: %s", path,
			    qiao_strerror(rc));
		goto out;
	}
	memset(res, 0, sizeof(*res));
	res->cases = x.b.ncases;
	res->ops = x.b.nops;
	res->bytes = flen;
	res->view = x.b.nview;
	res->trust = x.b.ntrust;
	res->forks = x.b.nforks;
	res->statement = x.b.statement.e;
	{
		/* The auditor's view of what was just written. */
		crdt_audit_report *r;

		if ((rc = crdt_auditor_verify(file, flen, node_root(n), &r)) !=
		    QIAO_OK)
			goto out;
		res->failures = r->failures;
		res->findings = r->findings;
		for (size_t i = 0; i < r->nissues; i++)
			if (!r->issues[i].finding) {
				snprintf(res->first_failure,
				    sizeof(res->first_failure), "%.23s: %.360s",
				    r->issues[i].code, r->issues[i].msg);
				break;
			}
		crdt_audit_report_free(r);
	}
out:
	free(body);
	free(file);
	exp_fini(&x);
	if (rc == QIAO_ENOMEM)
		snprintf(err, errlen, "out of memory");
	else if (rc != QIAO_OK && err[0] == '\0')
		snprintf(err, errlen, "%s", qiao_strerror(rc));
	return rc;
}

int
node_audit_export(node *n, const uint8_t (*ids)[QIAO_HASH_LEN], size_t nids,
    const char *under, const char *path, node_audit_result *res, char *err,
    size_t errlen)
{
	bool again = true;
	int rc = QIAO_ESTATE;

	if ((rc = node_load_key(n)) != QIAO_OK) {
		snprintf(err, errlen, "cannot load the node's key: %s",
		    qiao_strerror(rc));
		return rc;
	}
	for (int i = 0; i < 3 && again; i++) {
		err[0] = '\0';
		rc = attempt(n, ids, nids, under, path, res, err, errlen,
		    &again);
	}
	return rc;
}

/* Reconciling a bundle with this store. */

struct recon {
	node_txn *txn;
	crdt_audit_bundle b;
	crdt_audit_claim claim;
	/* per view head: 1 this store holds the same entry at that seq, 0
	 * not comparable (it holds less), -1 a different entry (a fork) */
	signed char *agree;
	node_audit_omission *v;
	size_t nv, cap;
};

static long
view_index(const crdt_audit_bundle *b, const uint8_t *key)
{
	size_t lo = 0, hi = b->nview;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = memcmp(b->view[mid].key, key, QIAO_KEY_LEN);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Was e held by the exporter, by its own statement (1), or does the
 * view leave its author out altogether (2)? 0: not weighed. */
static int
held(const struct recon *x, const crdt_entry *e, uint64_t *view_seq)
{
	long i = view_index(&x->b, e->author);

	*view_seq = 0;
	if (i < 0)
		return 2;
	if (x->agree[i] != 1 || !x->b.view[i].has)
		return 0;
	*view_seq = x->b.view[i].e.seq;
	return e->seq <= *view_seq;
}

static int
omit(struct recon *x, const uint8_t *case_id, const crdt_entry *e,
    uint64_t view_seq, bool whole, int how)
{
	node_audit_omission *o;
	int rc;

	if ((rc = grow((void **)&x->v, &x->cap, x->nv, sizeof(*x->v))) != 0)
		return rc;
	o = &x->v[x->nv++];
	memcpy(o->case_id, case_id, QIAO_HASH_LEN);
	o->e = *e;
	o->view_seq = view_seq;
	o->whole_case = whole;
	o->unstated = how == 2;
	return QIAO_OK;
}

static bool
in_case(const crdt_audit_case *c, const uint8_t *hash)
{
	for (size_t i = 0; i < c->nops; i++)
		if (memcmp(c->ops[i].e.hash, hash, QIAO_HASH_LEN) == 0)
			return true;
	return false;
}

static int
entry_by_hash(node_txn *txn, const uint8_t *hash, crdt_entry *e)
{
	uint8_t author[QIAO_KEY_LEN];
	uint64_t seq;
	int rc;

	if ((rc = node_store_entry_find(txn, hash, author, &seq)) != QIAO_OK)
		return rc;
	return node_store_entry_get(txn, author, seq, e);
}

static int
reconcile_case(struct recon *x, const crdt_audit_case *c)
{
	uint8_t rk[QIAO_RECKEY_MAX], key[1 + QIAO_RECKEY_MAX];
	char hex[2 * QIAO_HASH_LEN + 1];
	struct hashes h = { 0 };
	size_t klen;
	int rc;

	crdt_hex_encode(hex, c->id, QIAO_HASH_LEN);
	rc = node_state_find(x->txn, CRDT_REC_CASE, hex, rk, &klen);
	if (rc == QIAO_ENOTFOUND)
		return QIAO_OK; /* this store does not hold the case */
	if (rc != QIAO_OK)
		return rc;
	key[0] = 'o';
	memcpy(key + 1, rk, klen);
	h.prefix = 1 + klen;
	if ((rc = node_store_scan(x->txn, NODE_TB_INDEX, key, 1 + klen, on_op,
		 &h)) != QIAO_OK)
		goto out;
	for (size_t i = 0; i < h.n && rc == QIAO_OK; i++) {
		crdt_entry e;
		uint64_t vs;
		int how;

		if (in_case(c, h.v[i]))
			continue;
		if ((rc = entry_by_hash(x->txn, h.v[i], &e)) == QIAO_ENOTFOUND) {
			rc = QIAO_OK;
			continue;
		}
		if (rc == QIAO_OK && (how = held(x, &e, &vs)) != 0)
			rc = omit(x, c->id, &e, vs, false, how);
	}
out:
	free(h.v);
	return rc;
}

static int
case_id_cmp(const void *key, const void *elem)
{
	return memcmp(key, ((const crdt_audit_case *)elem)->id, QIAO_HASH_LEN);
}

static int
on_local_case(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
    size_t len)
{
	struct recon *x = ctx;
	char kind, code[QIAO_CODE_MAX];
	uint8_t id[QIAO_HASH_LEN];
	crdt_entry e;
	uint64_t vs;
	int rc, how;

	(void)val;
	(void)len;
	if (!crdt_op_reckey_parse(key, klen, &kind, code, id))
		return QIAO_ESTORE;
	if (bsearch(id, x->b.cases, x->b.ncases, sizeof(*x->b.cases),
		case_id_cmp) != NULL)
		return 0;
	/* The case's open entry is its id. */
	if ((rc = entry_by_hash(x->txn, id, &e)) == QIAO_ENOTFOUND)
		return 0;
	if (rc != QIAO_OK)
		return rc;
	if ((how = held(x, &e, &vs)) != 0)
		return omit(x, id, &e, vs, true, how);
	return 0;
}

int
node_audit_reconcile(node *n, const uint8_t *buf, size_t len,
    node_audit_omission **out, size_t *nout, size_t *forks, char *err,
    size_t errlen)
{
	struct recon x;
	const char *why = NULL;
	int rc;

	memset(&x, 0, sizeof(x));
	*forks = 0;
	if ((rc = crdt_audit_decode(&x.b, buf, len, err, errlen)) != QIAO_OK)
		return rc;
	/* The claim must be the exporter's, or there is nothing to hold it
	 * to. */
	if (crdt_entry_verify(&x.b.statement.e) != QIAO_OK ||
	    crdt_entry_check_body(&x.b.statement.e, x.b.statement.body,
		x.b.statement.blen, &why) != QIAO_OK ||
	    crdt_audit_claim_decode(&x.claim, x.b.statement.body,
		x.b.statement.blen, &why) != QIAO_OK) {
		snprintf(err, errlen, "the bundle's statement does not hold "
		    "(%s): verify it first", why ? why : "bad signature");
		crdt_audit_fini(&x.b);
		return QIAO_EMALFORMED;
	}
	if ((x.agree = calloc(x.b.nview ? x.b.nview : 1, 1)) == NULL) {
		rc = QIAO_ENOMEM;
		goto out;
	}
	if ((rc = node_store_txn_begin(node_get_store(n), false, &x.txn)) != 0)
		goto out;
	for (size_t i = 0; i < x.b.nview; i++) {
		const crdt_audit_head *h = &x.b.view[i];
		crdt_entry e;

		if (!h->has) {
			x.agree[i] = 1; /* nothing held: nothing to leave out */
			continue;
		}
		rc = node_store_entry_get(x.txn, h->key, h->e.seq, &e);
		if (rc == QIAO_ENOTFOUND) {
			rc = QIAO_OK;
			continue;
		}
		if (rc != QIAO_OK)
			goto out;
		if (memcmp(e.hash, h->e.hash, QIAO_HASH_LEN) == 0) {
			x.agree[i] = 1;
		} else {
			x.agree[i] = -1;
			(*forks)++;
		}
	}
	for (size_t i = 0; i < x.b.ncases && rc == QIAO_OK; i++)
		rc = reconcile_case(&x, &x.b.cases[i]);
	if (rc == QIAO_OK && x.claim.all)
		rc = node_state_scan(x.txn, CRDT_REC_CASE, x.claim.under,
		    on_local_case, &x);
out:
	node_store_txn_abort(x.txn);
	free(x.agree);
	crdt_audit_fini(&x.b);
	if (rc != QIAO_OK) {
		free(x.v);
		snprintf(err, errlen, "%s", qiao_strerror(rc));
		return rc;
	}
	*out = x.v;
	*nout = x.nv;
	return QIAO_OK;
}
