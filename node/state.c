#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/codec.h"
#include "crdt/digest.h"
#include "crdt/hex.h"
#include "node/state.h"
#include "node/trust.h"

#define IX_OP 'o'
#define IX_ID 'i'
#define IX_SUM 's'

/*
 * index 'o' value, v1:
 *   author(32) hlc(8 BE) type(8 BE) body_hash(32) privileged(1) station
 * (the station, the author's region code at fold time, fills the rest).
 */
#define META_FIXED (QIAO_KEY_LEN + 8 + 8 + QIAO_HASH_LEN + 1)

struct meta {
	uint8_t hash[QIAO_HASH_LEN];
	uint8_t author[QIAO_KEY_LEN];
	uint64_t hlc, type;
	uint8_t body_hash[QIAO_HASH_LEN];
	bool privileged;
	char station[QIAO_CODE_MAX];
};

static size_t
meta_encode(uint8_t *out, const struct meta *m)
{
	size_t sl = strlen(m->station);

	memcpy(out, m->author, QIAO_KEY_LEN);
	node_store_be64(out + 32, m->hlc);
	node_store_be64(out + 40, m->type);
	memcpy(out + 48, m->body_hash, QIAO_HASH_LEN);
	out[80] = m->privileged;
	memcpy(out + META_FIXED, m->station, sl);
	return META_FIXED + sl;
}

static int
meta_decode(struct meta *m, const uint8_t *v, size_t len)
{
	size_t sl;

	if (len < META_FIXED || (sl = len - META_FIXED) >= QIAO_CODE_MAX)
		return QIAO_ESTORE;
	memcpy(m->author, v, QIAO_KEY_LEN);
	m->hlc = node_store_rd64(v + 32);
	m->type = node_store_rd64(v + 40);
	memcpy(m->body_hash, v + 48, QIAO_HASH_LEN);
	m->privileged = v[80] != 0;
	memcpy(m->station, v + META_FIXED, sl);
	m->station[sl] = '\0';
	return QIAO_OK;
}

/* The ops of one record, gathered for a fold. */
struct gather {
	node_txn *txn;
	struct meta *m;
	size_t n, cap;
	size_t prefix; /* 1 + reckey length: where the op hash starts */
};

static int
on_op(void *ctx, const void *key, size_t klen, const void *val, size_t vlen)
{
	struct gather *g = ctx;
	int rc;

	if (klen != g->prefix + QIAO_HASH_LEN)
		return QIAO_ESTORE;
	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 16;
		struct meta *v = realloc(g->m, cap * sizeof(*v));

		if (v == NULL)
			return QIAO_ENOMEM;
		g->m = v;
		g->cap = cap;
	}
	if ((rc = meta_decode(&g->m[g->n], val, vlen)) != QIAO_OK)
		return rc;
	memcpy(g->m[g->n].hash, (const uint8_t *)key + g->prefix,
	    QIAO_HASH_LEN);
	g->n++;
	return 0;
}

/*
 * Recomputes one record from its op set. Bodies are read in place: nothing
 * is written between reading them and the fold, and the fold's output is a
 * heap buffer.
 */
static int
refold(node_txn *txn, const uint8_t *reckey, size_t klen)
{
	uint8_t key[1 + QIAO_RECKEY_MAX], sum_buf[CRDT_SUMMARY_LEN];
	struct gather g = { .txn = txn, .prefix = 1 + klen };
	crdt_rec_op *ops = NULL;
	crdt_rec_summary sum;
	char kind, code[QIAO_CODE_MAX];
	uint8_t id[QIAO_HASH_LEN], *state = NULL;
	size_t n = 0, slen = 0;
	bool named;
	int rc;

	if (!crdt_op_reckey_parse(reckey, klen, &kind, code, id))
		return QIAO_ESTORE;
	key[0] = IX_OP;
	memcpy(key + 1, reckey, klen);
	if ((rc = node_store_scan(txn, NODE_TB_INDEX, key, 1 + klen, on_op,
		 &g)) != QIAO_OK)
		goto out;
	if ((ops = calloc(g.n ? g.n : 1, sizeof(*ops))) == NULL) {
		rc = QIAO_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < g.n; i++) {
		crdt_rec_op *op = &ops[n];

		rc = node_store_body_get(txn, g.m[i].body_hash, &op->body,
		    &op->body_len);
		if (rc == QIAO_ENOTFOUND)
			continue; /* the body is not held: nothing to fold */
		if (rc != QIAO_OK)
			goto out;
		memcpy(op->hash, g.m[i].hash, QIAO_HASH_LEN);
		memcpy(op->author, g.m[i].author, QIAO_KEY_LEN);
		op->hlc = g.m[i].hlc;
		op->type = g.m[i].type;
		op->privileged = g.m[i].privileged;
		memcpy(op->station, g.m[i].station, sizeof(op->station));
		n++;
	}
	named = kind != CRDT_REC_GRID;
	if ((rc = crdt_record_fold(kind, code, named ? id : NULL, ops, n,
		 &state, &slen, &sum)) != QIAO_OK)
		goto out;
	if ((rc = node_store_put(txn, NODE_TB_STATE, reckey, klen, state,
		 slen)) != QIAO_OK)
		goto out;
	if (kind == CRDT_REC_CASE || kind == CRDT_REC_MEETING) {
		key[0] = IX_SUM;
		crdt_rec_summary_encode(&sum, sum_buf);
		rc = node_store_put(txn, NODE_TB_INDEX, key, 1 + klen, sum_buf,
		    sizeof(sum_buf));
	}
out:
	free(state);
	free(ops);
	free(g.m);
	return rc;
}

/* Who the author is, for authorisation; cached across a rebuild. */
struct who {
	uint8_t author[QIAO_KEY_LEN];
	int rc;
	node_trust_id id;
};

struct cache {
	struct who *v;
	size_t n, cap;
};

static int
lookup(node *n, node_txn *txn, struct cache *c, const uint8_t *author,
    struct who *out)
{
	struct who w;
	int rc;

	for (size_t i = 0; c != NULL && i < c->n; i++) {
		if (memcmp(c->v[i].author, author, QIAO_KEY_LEN) == 0) {
			*out = c->v[i];
			return QIAO_OK;
		}
	}
	memcpy(w.author, author, QIAO_KEY_LEN);
	rc = node_trust_lookup(n, txn, author, &w.id);
	if (rc != QIAO_OK && rc != QIAO_EUNKNOWN)
		return rc;
	w.rc = rc;
	if (c != NULL) {
		if (c->n == c->cap) {
			size_t cap = c->cap ? 2 * c->cap : 64;
			struct who *v = realloc(c->v, cap * sizeof(*v));

			if (v == NULL)
				return QIAO_ENOMEM;
			c->v = v;
			c->cap = cap;
		}
		c->v[c->n++] = w;
	}
	*out = w;
	return QIAO_OK;
}

/*
 * Checks the op and its author's right to write under the record's code,
 * and adds it to the record's op set. *reckey gets the record (when
 * op_rc is QIAO_OK).
 */
static int
admit(node *n, node_txn *txn, struct cache *c, const crdt_entry *e,
    const uint8_t *body, size_t len, int *op_rc, const char **why,
    uint8_t *reckey, size_t *klen)
{
	uint8_t key[1 + QIAO_RECKEY_MAX + QIAO_HASH_LEN], val[META_FIXED +
	    QIAO_CODE_MAX];
	crdt_op_target t;
	struct meta m;
	struct who w;
	int rc;

	*op_rc = QIAO_OK;
	if (crdt_op_check(e->type, body, len, e->hash, &t, why) != QIAO_OK) {
		*op_rc = QIAO_EMALFORMED;
		return QIAO_OK;
	}
	if ((rc = lookup(n, txn, c, e->author, &w)) != QIAO_OK)
		return rc;
	if (w.rc != QIAO_OK) {
		*why = "the author is not enrolled";
		*op_rc = QIAO_EUNAUTH;
		return QIAO_OK;
	}
	if (w.id.role == QIAO_ROLE_NONE) {
		*why = "the author has no role or region (qiao init --role "
		       "--region, or enrolment)";
		*op_rc = QIAO_EUNAUTH;
		return QIAO_OK;
	}
	if (!node_trust_region_covers(w.id.region, t.code)) {
		*why = "the record's code is outside the author's region";
		*op_rc = QIAO_EUNAUTH;
		return QIAO_OK;
	}
	*klen = crdt_op_reckey(reckey, t.kind, t.code, t.id);
	memset(&m, 0, sizeof(m));
	memcpy(m.author, e->author, QIAO_KEY_LEN);
	m.hlc = e->hlc;
	m.type = e->type;
	memcpy(m.body_hash, e->body_hash, QIAO_HASH_LEN);
	m.privileged = w.id.role == QIAO_ROLE_DISTRICT ||
	    w.id.role == QIAO_ROLE_ROOT;
	snprintf(m.station, sizeof(m.station), "%s", w.id.region);
	key[0] = IX_OP;
	memcpy(key + 1, reckey, *klen);
	memcpy(key + 1 + *klen, e->hash, QIAO_HASH_LEN);
	if ((rc = node_store_put(txn, NODE_TB_INDEX, key,
		 1 + *klen + QIAO_HASH_LEN, val, meta_encode(val, &m))) != 0)
		return rc;
	if (t.creates && t.kind != CRDT_REC_GRID) {
		key[0] = IX_ID;
		memcpy(key + 1, t.id, QIAO_HASH_LEN);
		rc = node_store_put(txn, NODE_TB_INDEX, key,
		    1 + QIAO_HASH_LEN, reckey, *klen);
	}
	return rc;
}

int
node_state_apply(node *n, node_txn *txn, const crdt_entry *e,
    const uint8_t *body, size_t len, int *op_rc, const char **why)
{
	uint8_t reckey[QIAO_RECKEY_MAX];
	size_t klen = 0;
	int rc;

	if ((rc = admit(n, txn, NULL, e, body, len, op_rc, why, reckey,
		 &klen)) != QIAO_OK || *op_rc != QIAO_OK)
		return rc;
	return refold(txn, reckey, klen);
}

/* Rebuild. */

struct refusal {
	uint8_t (*hash)[QIAO_HASH_LEN];
	size_t n, cap;
};

static int
on_refused(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct refusal *r = ctx;
	crdt_reader rd;
	size_t count;
	uint64_t kind;

	if (klen != QIAO_HASH_LEN)
		return QIAO_ESTORE;
	crdt_reader_init(&rd, val, vlen);
	if (crdt_read_array(&rd, &count) != QIAO_OK || count < 1 ||
	    crdt_read_uint(&rd, &kind) != QIAO_OK)
		return QIAO_ESTORE;
	if (kind != NODE_REFUSED_OP)
		return 0;
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		void *v = realloc(r->hash, cap * QIAO_HASH_LEN);

		if (v == NULL)
			return QIAO_ENOMEM;
		r->hash = v;
		r->cap = cap;
	}
	memcpy(r->hash[r->n++], key, QIAO_HASH_LEN);
	return 0;
}

/* Forgets refusals of record ops: the rebuild decides them again. */
static int
forget_refusals(node_txn *txn)
{
	struct refusal r = { 0 };
	int rc = node_store_scan(txn, NODE_TB_REFUSED, NULL, 0, on_refused,
	    &r);

	for (size_t i = 0; rc == QIAO_OK && i < r.n; i++) {
		uint8_t author[QIAO_KEY_LEN];
		uint64_t seq;
		crdt_entry e;

		rc = node_store_entry_find(txn, r.hash[i], author, &seq);
		if (rc == QIAO_ENOTFOUND) {
			rc = QIAO_OK;
			continue;
		}
		if (rc == QIAO_OK &&
		    (rc = node_store_entry_get(txn, author, seq, &e)) == 0 &&
		    crdt_op_is_record(e.type))
			rc = node_store_del(txn, NODE_TB_REFUSED, r.hash[i],
			    QIAO_HASH_LEN);
	}
	free(r.hash);
	return rc;
}

struct pos {
	uint8_t author[QIAO_KEY_LEN];
	uint64_t seq;
};

struct positions {
	struct pos *v;
	size_t n, cap;
};

static int
on_entry(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct positions *p = ctx;
	crdt_entry e;

	if (klen != QIAO_KEY_LEN + 8 ||
	    crdt_entry_parse(&e, val, vlen, NULL, NULL) != QIAO_OK)
		return QIAO_ESTORE;
	if (!crdt_op_is_record(e.type))
		return 0;
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 1024;
		struct pos *v = realloc(p->v, cap * sizeof(*v));

		if (v == NULL)
			return QIAO_ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	memcpy(p->v[p->n].author, key, QIAO_KEY_LEN);
	p->v[p->n].seq = e.seq;
	p->n++;
	return 0;
}

/* Distinct record keys, each stored as length(1) key. */
struct reckeys {
	uint8_t *buf;
	size_t len, cap;
	size_t last; /* offset of the last key added */
};

static int
on_op_key(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct reckeys *r = ctx;
	const uint8_t *k = key;
	size_t rl;

	(void)val;
	(void)vlen;
	if (klen < 1 + QIAO_HASH_LEN || k[0] != IX_OP)
		return 0;
	rl = klen - 1 - QIAO_HASH_LEN;
	if (rl > QIAO_RECKEY_MAX)
		return QIAO_ESTORE;
	/* Keys come sorted, so a record's ops are adjacent. */
	if (r->len > 0 && r->buf[r->last] == rl &&
	    memcmp(r->buf + r->last + 1, k + 1, rl) == 0)
		return 0;
	if (r->len + 1 + rl > r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 65536;
		uint8_t *v;

		while (cap < r->len + 1 + rl)
			cap *= 2;
		if ((v = realloc(r->buf, cap)) == NULL)
			return QIAO_ENOMEM;
		r->buf = v;
		r->cap = cap;
	}
	r->last = r->len;
	r->buf[r->len] = (uint8_t)rl;
	memcpy(r->buf + r->len + 1, k + 1, rl);
	r->len += 1 + rl;
	return 0;
}

int
node_state_rebuild(node *n, node_txn *txn, uint64_t *entries)
{
	struct positions p = { 0 };
	struct reckeys r = { 0 };
	struct cache c = { 0 };
	int rc;

	if ((rc = node_store_clear(txn, NODE_TB_STATE)) != QIAO_OK ||
	    (rc = node_store_clear(txn, NODE_TB_INDEX)) != QIAO_OK ||
	    (rc = forget_refusals(txn)) != QIAO_OK)
		return rc;
	/* Admit every record op, then fold each record once. */
	if ((rc = node_store_scan(txn, NODE_TB_ENTRIES, NULL, 0, on_entry,
		 &p)) != QIAO_OK)
		goto out;
	for (size_t i = 0; i < p.n; i++) {
		uint8_t reckey[QIAO_RECKEY_MAX];
		const uint8_t *body;
		const char *why = NULL;
		crdt_entry e;
		size_t blen, klen;
		int op_rc;

		if ((rc = node_store_entry_get(txn, p.v[i].author, p.v[i].seq,
			 &e)) != QIAO_OK)
			goto out;
		rc = node_store_body_get(txn, e.body_hash, &body, &blen);
		if (rc == QIAO_ENOTFOUND)
			continue;
		if (rc != QIAO_OK ||
		    (rc = admit(n, txn, &c, &e, body, blen, &op_rc, &why,
			 reckey, &klen)) != QIAO_OK)
			goto out;
		if (op_rc != QIAO_OK &&
		    (rc = node_store_refused_put(txn, &e, NODE_REFUSED_OP,
			 why)) != QIAO_OK)
			goto out;
	}
	if ((rc = node_store_scan(txn, NODE_TB_INDEX, "o", 1, on_op_key,
		 &r)) != QIAO_OK)
		goto out;
	for (size_t off = 0; off < r.len; off += 1 + r.buf[off])
		if ((rc = refold(txn, r.buf + off + 1, r.buf[off])) != 0)
			goto out;
	if (entries != NULL)
		*entries = p.n;
out:
	free(p.v);
	free(r.buf);
	free(c.v);
	return rc;
}

/* Queries. */

int
node_state_get(node_txn *txn, const uint8_t *reckey, size_t klen,
    const uint8_t **val, size_t *len)
{
	return node_store_get(txn, NODE_TB_STATE, reckey, klen,
	    (const void **)val, len);
}

int
node_state_find(node_txn *txn, char kind, const char *text, uint8_t *reckey,
    size_t *klen)
{
	uint8_t key[1 + QIAO_HASH_LEN];
	size_t tl = strlen(text), whole, found = 0;
	node_cursor *cur;
	const void *k, *v;
	size_t kl, vl;
	int rc, odd = -1;

	if (tl < 8 || tl > 2 * QIAO_HASH_LEN)
		return QIAO_EINVAL;
	for (size_t i = 0; i < tl; i++)
		if (crdt_hex_nibble(text[i]) < 0)
			return QIAO_EINVAL;
	whole = tl / 2;
	key[0] = IX_ID;
	for (size_t i = 0; i < whole; i++)
		key[1 + i] = (uint8_t)(crdt_hex_nibble(text[2 * i]) << 4 |
		    crdt_hex_nibble(text[2 * i + 1]));
	if (tl % 2)
		odd = crdt_hex_nibble(text[tl - 1]);
	if ((rc = node_store_cursor_open(txn, NODE_TB_INDEX, &cur)) != 0)
		return rc;
	for (rc = node_store_cursor_seek(cur, key, 1 + whole, &k, &kl, &v, &vl);
	     rc == QIAO_OK;
	     rc = node_store_cursor_next(cur, &k, &kl, &v, &vl)) {
		const uint8_t *kb = k;

		if (kl != 1 + QIAO_HASH_LEN || memcmp(kb, key, 1 + whole) != 0)
			break;
		if (odd >= 0 && (kb[1 + whole] >> 4) != odd)
			continue;
		if (vl < 1 || vl > QIAO_RECKEY_MAX ||
		    ((const uint8_t *)v)[0] != (uint8_t)kind)
			continue;
		if (found++ == 0) {
			memcpy(reckey, v, vl);
			*klen = vl;
		}
	}
	node_store_cursor_close(cur);
	if (rc != QIAO_OK && rc != QIAO_ENOTFOUND)
		return rc;
	if (found == 0)
		return QIAO_ENOTFOUND;
	return found > 1 ? QIAO_EEXIST : QIAO_OK;
}

struct scan {
	node_state_fn fn;
	void *ctx;
	size_t skip; /* bytes of key prefix to drop (the index letter) */
};

static int
on_scan(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct scan *s = ctx;

	return s->fn(s->ctx, (const uint8_t *)key + s->skip, klen - s->skip,
	    val, vlen);
}

static size_t
prefix_of(uint8_t *out, char lead, char kind, const char *under)
{
	size_t n = 0, ul = under ? strnlen(under, QIAO_CODE_MAX - 1) : 0;

	if (lead)
		out[n++] = (uint8_t)lead;
	out[n++] = (uint8_t)kind;
	if (ul > 0)
		memcpy(out + n, under, ul);
	return n + ul;
}

int
node_state_scan(node_txn *txn, char kind, const char *under,
    node_state_fn fn, void *ctx)
{
	uint8_t pre[2 + QIAO_CODE_MAX];
	struct scan s = { fn, ctx, 0 };

	return node_store_scan(txn, NODE_TB_STATE, pre,
	    prefix_of(pre, 0, kind, under), on_scan, &s);
}

int
node_state_summaries(node_txn *txn, char kind, const char *under,
    node_state_fn fn, void *ctx)
{
	uint8_t pre[2 + QIAO_CODE_MAX];
	struct scan s = { fn, ctx, 1 };

	return node_store_scan(txn, NODE_TB_INDEX, pre,
	    prefix_of(pre, IX_SUM, kind, under), on_scan, &s);
}

static int
on_digest(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
    size_t len)
{
	crdt_digest_add(ctx, key, klen, val, len);
	return 0;
}

int
node_state_digest(node_txn *txn, const char *under,
    uint8_t out[QIAO_HASH_LEN], uint64_t *count)
{
	/* In key order: the kinds' letters sorted. */
	static const char kinds[] = { CRDT_REC_CASE, CRDT_REC_GRID,
		CRDT_REC_MEETING, CRDT_REC_REG };
	crdt_digest d;
	int rc;

	crdt_digest_init(&d);
	for (size_t i = 0; i < sizeof(kinds); i++)
		if ((rc = node_state_scan(txn, kinds[i], under, on_digest,
			 &d)) != QIAO_OK)
			return rc;
	crdt_digest_final(&d, out);
	if (count != NULL)
		*count = d.count;
	return QIAO_OK;
}

int
node_state_heads(node_txn *txn, const uint8_t *reckey, size_t klen,
    uint8_t out[][QIAO_HASH_LEN], size_t *n)
{
	const uint8_t *v;
	size_t len, count;
	crdt_reader r;
	int rc = node_state_get(txn, reckey, klen, &v, &len);

	*n = 0;
	if (rc == QIAO_ENOTFOUND)
		return QIAO_OK;
	if (rc != QIAO_OK)
		return rc;
	if (crdt_body_get(v, len, "heads", &r) != QIAO_OK ||
	    crdt_read_array(&r, &count) != QIAO_OK)
		return QIAO_ESTORE;
	for (size_t i = 0; i < count; i++) {
		uint8_t h[QIAO_HASH_LEN];

		if (crdt_read_fixbin(&r, h, QIAO_HASH_LEN) != QIAO_OK)
			return QIAO_ESTORE;
		/* More heads than an op may list: the rest stay concurrent,
		 * which only costs a conflict someone settles later. */
		if (*n < QIAO_DEPS_MAX)
			memcpy(out[(*n)++], h, QIAO_HASH_LEN);
	}
	return QIAO_OK;
}
