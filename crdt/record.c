#include <stdlib.h>
#include <string.h>

#include "crdt/codec.h"
#include "crdt/fold.h"
#include "crdt/types.h"

struct write {
	unsigned reg;    /* index into the fold's register names */
	size_t op;       /* rank of the writing op */
	size_t off, len; /* value bytes in the arena */
};

struct add {
	const char *set;
	size_t off, len;
};

struct review {
	size_t op;
	const char *reason;
	size_t off, len; /* custodian string in the arena */
	bool has_cust;
};

struct crdt_fold {
	char kind;
	size_t n;                /* ops folded (at most QIAO_REC_OPS_MAX) */
	const crdt_rec_op **op;  /* by rank */
	size_t *poff, *par;      /* parents of i: par[poff[i] .. poff[i+1]) */
	size_t *topo;            /* walk order */
	uint64_t *anc;           /* n bitsets of words: each op's ancestors */
	size_t words;
	bool *has_child;
	const char **why;        /* review reason per op, or NULL */
	struct write *w;
	size_t nw, cw;
	/* Register names, interned so comparing writes is comparing ints;
	 * the names are static strings (tables and case.c). */
	const char *names[64];
	unsigned nnames;
	struct add *a;
	size_t na, ca;
	struct review *rv;
	size_t nrv, crv;
	crdt_writer arena;
	int err;
};

static bool
bit(const uint64_t *set, size_t i)
{
	return (set[i / 64] >> (i % 64)) & 1u;
}

static const uint64_t *
anc_of(const crdt_fold *f, size_t i)
{
	return f->anc + i * f->words;
}

static int
rank_cmp(const void *a, const void *b)
{
	const crdt_rec_op *x = *(const crdt_rec_op *const *)a;
	const crdt_rec_op *y = *(const crdt_rec_op *const *)b;
	int c;

	if (x->hlc != y->hlc)
		return x->hlc < y->hlc ? -1 : 1;
	if ((c = memcmp(x->author, y->author, QIAO_KEY_LEN)) != 0)
		return c;
	return memcmp(x->hash, y->hash, QIAO_HASH_LEN);
}

struct keyed {
	const uint8_t *key; /* a hash or an author */
	size_t i;           /* rank */
};

static int
keyed_cmp(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = memcmp(x->key, y->key, QIAO_HASH_LEN);

	if (c != 0)
		return c;
	return (x->i > y->i) - (x->i < y->i);
}

/* Min-heap of ranks: the walk takes the lowest-ranked ready op. */
static void
heap_push(size_t *h, size_t *n, size_t v)
{
	size_t i = (*n)++;

	while (i > 0 && h[(i - 1) / 2] > v) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = v;
}

static size_t
heap_pop(size_t *h, size_t *n)
{
	size_t top = h[0], v = h[--*n], i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= *n)
			break;
		if (c + 1 < *n && h[c + 1] < h[c])
			c++;
		if (h[c] >= v)
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n > 0)
		h[i] = v;
	return top;
}

/* Parents: named deps present in the set, and the author's previous op. */
static int
build_parents(crdt_fold *f)
{
	/* A record may have no op left to fold (bodies not held): every
	 * allocation asks for at least one element, so none is size 0. */
	size_t n1 = f->n ? f->n : 1;
	struct keyed *byhash = malloc(n1 * sizeof(*byhash));
	struct keyed *byauth = malloc(n1 * sizeof(*byauth));
	size_t *prev = malloc(n1 * sizeof(size_t));
	uint8_t deps[QIAO_DEPS_MAX][QIAO_HASH_LEN];
	size_t k = 0;
	int rc = QIAO_ENOMEM;

	f->poff = malloc((f->n + 1) * sizeof(size_t));
	f->par = malloc(n1 * (QIAO_DEPS_MAX + 1) * sizeof(size_t));
	if (!byhash || !byauth || !prev || !f->poff || !f->par)
		goto out;
	for (size_t i = 0; i < f->n; i++) {
		byhash[i] = (struct keyed) { f->op[i]->hash, i };
		byauth[i] = (struct keyed) { f->op[i]->author, i };
		prev[i] = SIZE_MAX;
	}
	qsort(byhash, f->n, sizeof(*byhash), keyed_cmp);
	/* Sorted by (author, rank): each op follows its author's previous. */
	qsort(byauth, f->n, sizeof(*byauth), keyed_cmp);
	for (size_t j = 1; j < f->n; j++)
		if (memcmp(byauth[j].key, byauth[j - 1].key, QIAO_KEY_LEN) == 0)
			prev[byauth[j].i] = byauth[j - 1].i;
	for (size_t i = 0; i < f->n; i++) {
		size_t nd = 0;

		f->poff[i] = k;
		if (crdt_op_deps(f->op[i]->body, f->op[i]->body_len, deps,
			&nd) != QIAO_OK)
			nd = 0; /* cannot happen: bodies were checked */
		for (size_t d = 0; d < nd; d++) {
			size_t lo = 0, hi = f->n;

			/* Lower bound of the hash. */
			while (lo < hi) {
				size_t mid = (lo + hi) / 2;

				if (memcmp(byhash[mid].key, deps[d],
					QIAO_HASH_LEN) < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo < f->n &&
			    memcmp(byhash[lo].key, deps[d], QIAO_HASH_LEN) ==
				0 &&
			    byhash[lo].i != i)
				f->par[k++] = byhash[lo].i;
		}
		if (prev[i] != SIZE_MAX)
			f->par[k++] = prev[i];
	}
	f->poff[f->n] = k;
	rc = QIAO_OK;
out:
	free(byhash);
	free(byauth);
	free(prev);
	return rc;
}

/* Kahn's walk, lowest rank first among ready ops; then the ancestor sets. */
static int
build_order(crdt_fold *f)
{
	size_t n = f->n, m = f->poff[n], nh = 0, k = 0, n1 = n ? n : 1;
	size_t *indeg = calloc(n1, sizeof(size_t));
	size_t *coff = calloc(n + 1, sizeof(size_t));
	size_t *ch = malloc((m ? m : 1) * sizeof(size_t));
	size_t *heap = malloc(n1 * sizeof(size_t));
	bool *done = calloc(n1, sizeof(bool));
	int rc = QIAO_ENOMEM;

	f->topo = malloc(n1 * sizeof(size_t));
	f->words = (n + 63) / 64;
	f->anc = calloc(n1 * (f->words ? f->words : 1), sizeof(uint64_t));
	f->has_child = calloc(n1, sizeof(bool));
	if (!indeg || !coff || !ch || !heap || !done || !f->topo || !f->anc ||
	    !f->has_child)
		goto out;
	for (size_t i = 0; i < n; i++) {
		indeg[i] = f->poff[i + 1] - f->poff[i];
		for (size_t p = f->poff[i]; p < f->poff[i + 1]; p++) {
			coff[f->par[p] + 1]++;
			f->has_child[f->par[p]] = true;
		}
	}
	for (size_t i = 0; i < n; i++)
		coff[i + 1] += coff[i];
	{
		size_t *fill = calloc(n ? n : 1, sizeof(size_t));

		if (fill == NULL)
			goto out;
		for (size_t i = 0; i < n; i++)
			for (size_t p = f->poff[i]; p < f->poff[i + 1]; p++) {
				size_t q = f->par[p];

				ch[coff[q] + fill[q]++] = i;
			}
		free(fill);
	}
	for (size_t i = 0; i < n; i++)
		if (indeg[i] == 0)
			heap_push(heap, &nh, i);
	while (nh > 0) {
		size_t i = heap_pop(heap, &nh);

		f->topo[k++] = i;
		done[i] = true;
		for (size_t c = coff[i]; c < coff[i + 1]; c++)
			if (--indeg[ch[c]] == 0)
				heap_push(heap, &nh, ch[c]);
	}
	/* A cycle needs a hash preimage; should one ever appear, its ops
	 * still get a fixed place: after the rest, by rank. */
	for (size_t i = 0; i < n && k < n; i++)
		if (!done[i])
			f->topo[k++] = i;
	for (size_t t = 0; t < n; t++) {
		size_t i = f->topo[t];
		uint64_t *a = f->anc + i * f->words;

		for (size_t p = f->poff[i]; p < f->poff[i + 1]; p++) {
			size_t q = f->par[p];
			const uint64_t *b = anc_of(f, q);

			for (size_t w = 0; w < f->words; w++)
				a[w] |= b[w];
			a[q / 64] |= UINT64_C(1) << (q % 64);
		}
	}
	rc = QIAO_OK;
out:
	free(indeg);
	free(coff);
	free(ch);
	free(heap);
	free(done);
	return rc;
}

const crdt_rec_op *
crdt_fold_op(const crdt_fold *f, size_t i)
{
	return f->op[i];
}

/* The index of register name, or -1. */
static int
name_of(const crdt_fold *f, const char *name)
{
	for (unsigned i = 0; i < f->nnames; i++)
		if (f->names[i] == name || strcmp(f->names[i], name) == 0)
			return (int)i;
	return -1;
}

/* The index of name, added if new; -1 when the table is full. */
static int
intern(crdt_fold *f, const char *name)
{
	int i = name_of(f, name);

	if (i >= 0)
		return i;
	if (f->nnames == sizeof(f->names) / sizeof(f->names[0]))
		return -1;
	f->names[f->nnames] = name;
	return (int)f->nnames++;
}

/*
 * The multi-value register: among the writes to reg by ops in ctx (NULL:
 * all), those no other such write saw. The shown value is the
 * highest-ranked of them. Returns the write's index or -1; cand (if not
 * NULL) gets every surviving write.
 */
static long
winner(const crdt_fold *f, unsigned reg, const uint64_t *ctx, size_t *cand,
    size_t *ncand)
{
	long best = -1;
	size_t nc = 0;

	for (size_t k = 0; k < f->nw; k++) {
		const struct write *w = &f->w[k];
		bool seen = false;

		if (w->reg != reg || (ctx && !bit(ctx, w->op)))
			continue;
		for (size_t j = 0; j < f->nw && !seen; j++) {
			const struct write *v = &f->w[j];

			if (j != k && v->op != w->op && v->reg == reg &&
			    (!ctx || bit(ctx, v->op)) &&
			    bit(anc_of(f, v->op), w->op))
				seen = true;
		}
		if (seen)
			continue;
		if (cand != NULL)
			cand[nc++] = k;
		if (best < 0 || w->op > f->w[best].op)
			best = (long)k;
	}
	if (ncand != NULL)
		*ncand = nc;
	return best;
}

int
crdt_fold_get(const crdt_fold *f, const char *reg, size_t at,
    const uint8_t **val, size_t *len)
{
	int id = name_of(f, reg);
	long k = id < 0 ? -1 : winner(f, (unsigned)id,
	    at == CRDT_FOLD_ALL ? NULL : anc_of(f, at), NULL, NULL);

	if (k < 0)
		return QIAO_ENOTFOUND;
	*val = f->arena.buf + f->w[k].off;
	*len = f->w[k].len;
	return QIAO_OK;
}

bool
crdt_fold_get_str(const crdt_fold *f, const char *reg, size_t at, char *buf,
    size_t cap)
{
	const uint8_t *v;
	const char *s;
	size_t len, n;
	crdt_reader r;

	if (crdt_fold_get(f, reg, at, &v, &len) != QIAO_OK)
		return false;
	crdt_reader_init(&r, v, len);
	if (crdt_read_str(&r, &s, &n) != QIAO_OK || n >= cap)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return true;
}

static size_t
arena_put(crdt_fold *f, const void *val, size_t len)
{
	size_t off = f->arena.len;

	crdt_write_raw(&f->arena, val, len);
	if (f->err == QIAO_OK)
		f->err = crdt_writer_error(&f->arena);
	return off;
}

void
crdt_fold_write(crdt_fold *f, size_t i, const char *name, const void *val,
    size_t len)
{
	size_t off = arena_put(f, val, len);
	int reg = intern(f, name);

	if (reg < 0 && f->err == QIAO_OK)
		f->err = QIAO_ETOOBIG;
	if (f->err != QIAO_OK)
		return;
	for (size_t k = 0; k < f->nw; k++) {
		if (f->w[k].op == i && f->w[k].reg == (unsigned)reg) {
			f->w[k].off = off;
			f->w[k].len = len;
			return;
		}
	}
	if (f->nw == f->cw) {
		size_t c = f->cw ? 2 * f->cw : 32;
		struct write *v = realloc(f->w, c * sizeof(*v));

		if (v == NULL) {
			f->err = QIAO_ENOMEM;
			return;
		}
		f->w = v;
		f->cw = c;
	}
	f->w[f->nw++] = (struct write) { (unsigned)reg, i, off, len };
}

void
crdt_fold_write_str(crdt_fold *f, size_t i, const char *reg, const char *s)
{
	uint8_t buf[8 + QIAO_LINE_MAX];
	crdt_writer w;

	crdt_writer_init_fixed(&w, buf, sizeof(buf));
	crdt_write_cstr(&w, s);
	if (crdt_writer_error(&w) != QIAO_OK) {
		f->err = QIAO_EINVAL;
		return;
	}
	crdt_fold_write(f, i, reg, buf, w.len);
}

void
crdt_fold_write_nil(crdt_fold *f, size_t i, const char *reg)
{
	static const uint8_t nil = 0xc0;

	crdt_fold_write(f, i, reg, &nil, 1);
}

static void
set_add(crdt_fold *f, const char *set, const uint8_t *val, size_t len)
{
	size_t off = arena_put(f, val, len);

	if (f->err != QIAO_OK)
		return;
	if (f->na == f->ca) {
		size_t c = f->ca ? 2 * f->ca : 16;
		struct add *v = realloc(f->a, c * sizeof(*v));

		if (v == NULL) {
			f->err = QIAO_ENOMEM;
			return;
		}
		f->a = v;
		f->ca = c;
	}
	f->a[f->na++] = (struct add) { set, off, len };
}

void
crdt_fold_fields(crdt_fold *f, size_t i)
{
	const crdt_rec_op *op = f->op[i];
	crdt_reader r;
	size_t n;

	/* One pass over the body, looking each key up in the table. */
	crdt_reader_init(&r, op->body, op->body_len);
	if (crdt_read_map(&r, &n) != QIAO_OK)
		return;
	for (size_t k = 0; k < n; k++) {
		const crdt_op_field *fd;
		const uint8_t *start;
		const char *key;
		size_t kl, count;

		if (crdt_read_str(&r, &key, &kl) != QIAO_OK)
			return;
		start = r.p;
		fd = crdt_op_field_of(op->type, key, kl);
		if (fd == NULL || (fd->reg == NULL && fd->set == NULL)) {
			if (crdt_read_skip(&r) != QIAO_OK)
				return;
			continue;
		}
		if (fd->reg != NULL) {
			if (crdt_read_skip(&r) != QIAO_OK)
				return;
			crdt_fold_write(f, i, fd->reg, start,
			    (size_t)(r.p - start));
			continue;
		}
		if (crdt_read_array(&r, &count) != QIAO_OK)
			return;
		for (size_t e = 0; e < count; e++) {
			start = r.p;
			if (crdt_read_skip(&r) != QIAO_OK)
				return;
			set_add(f, fd->set, start, (size_t)(r.p - start));
		}
	}
}

void
crdt_fold_review(crdt_fold *f, size_t i, const char *reason,
    const char *custodian)
{
	struct review rv = { i, reason, 0, 0, custodian != NULL };

	f->why[i] = reason;
	if (custodian != NULL) {
		rv.len = strlen(custodian);
		rv.off = arena_put(f, custodian, rv.len);
	}
	if (f->err != QIAO_OK)
		return;
	if (f->nrv == f->crv) {
		size_t c = f->crv ? 2 * f->crv : 4;
		struct review *v = realloc(f->rv, c * sizeof(*v));

		if (v == NULL) {
			f->err = QIAO_ENOMEM;
			return;
		}
		f->rv = v;
		f->crv = c;
	}
	f->rv[f->nrv++] = rv;
}

/* Output. Every map is written with its keys in increasing byte order:
 * the codec's canonical form, so equal states are equal bytes. */

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The registers written, by name: indices sorted by their names. */
static void
reg_order(const crdt_fold *f, unsigned *out)
{
	for (unsigned i = 0; i < f->nnames; i++) {
		unsigned j = i;

		while (j > 0 && strcmp(f->names[out[j - 1]], f->names[i]) > 0) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = i;
	}
}

static bool
is_nil(const crdt_fold *f, const struct write *w)
{
	return w->len == 1 && f->arena.buf[w->off] == 0xc0;
}

static bool
same_val(const crdt_fold *f, const struct write *a, const struct write *b)
{
	return a->len == b->len &&
	    memcmp(f->arena.buf + a->off, f->arena.buf + b->off, a->len) == 0;
}

/* Registers with two or more distinct surviving values. */
static bool
conflicted(const crdt_fold *f, const size_t *cand, size_t nc)
{
	for (size_t k = 1; k < nc; k++)
		if (!same_val(f, &f->w[cand[0]], &f->w[cand[k]]))
			return true;
	return false;
}

static void
write_op_ref(crdt_writer *out, const crdt_rec_op *op)
{
	crdt_write_cstr(out, "author");
	crdt_write_bin(out, op->author, QIAO_KEY_LEN);
}

static int
emit_registers(const crdt_fold *f, crdt_writer *out, bool *any_conflict)
{
	unsigned names[64];
	size_t nn = f->nnames, nf = 0, ncf = 0, nc;
	size_t *cand = malloc((f->nw ? f->nw : 1) * sizeof(size_t));

	if (cand == NULL)
		return QIAO_ENOMEM;
	reg_order(f, names);
	for (size_t r = 0; r < nn; r++) {
		long k = winner(f, names[r], NULL, cand, &nc);

		nf += k >= 0 && !is_nil(f, &f->w[k]);
		ncf += conflicted(f, cand, nc);
	}
	/* conflicts: [{field, values: [{author, hash, hlc, station, value}]}]
	 * values by rank: the last is the one shown. */
	crdt_write_cstr(out, "conflicts");
	crdt_write_array(out, ncf);
	for (size_t r = 0; r < nn; r++) {
		(void)winner(f, names[r], NULL, cand, &nc);
		if (!conflicted(f, cand, nc))
			continue;
		crdt_write_map(out, 2);
		crdt_write_cstr(out, "field");
		crdt_write_cstr(out, f->names[names[r]]);
		crdt_write_cstr(out, "values");
		crdt_write_array(out, nc);
		/* cand[] is in write order, which is walk order; show by rank */
		for (size_t a = 1; a < nc; a++)
			for (size_t b = a; b > 0 &&
			     f->w[cand[b - 1]].op > f->w[cand[b]].op; b--) {
				size_t t = cand[b];

				cand[b] = cand[b - 1];
				cand[b - 1] = t;
			}
		for (size_t k = 0; k < nc; k++) {
			const struct write *w = &f->w[cand[k]];
			const crdt_rec_op *op = f->op[w->op];

			crdt_write_map(out, 5);
			write_op_ref(out, op);
			crdt_write_cstr(out, "hash");
			crdt_write_bin(out, op->hash, QIAO_HASH_LEN);
			crdt_write_cstr(out, "hlc");
			crdt_write_uint(out, op->hlc);
			crdt_write_cstr(out, "station");
			crdt_write_cstr(out, op->station);
			crdt_write_cstr(out, "value");
			crdt_write_raw(out, f->arena.buf + w->off, w->len);
		}
	}
	*any_conflict = ncf > 0;
	crdt_write_cstr(out, "fields");
	crdt_write_map(out, nf);
	for (size_t r = 0; r < nn; r++) {
		long k = winner(f, names[r], NULL, NULL, NULL);

		if (k < 0 || is_nil(f, &f->w[k]))
			continue;
		crdt_write_cstr(out, f->names[names[r]]);
		crdt_write_raw(out, f->arena.buf + f->w[k].off, f->w[k].len);
	}
	free(cand);
	return QIAO_OK;
}

static int
hash_cmp(const void *a, const void *b)
{
	return memcmp(*(const uint8_t *const *)a, *(const uint8_t *const *)b,
	    QIAO_HASH_LEN);
}

static int
emit_heads(const crdt_fold *f, crdt_writer *out)
{
	const uint8_t **h = malloc((f->n ? f->n : 1) * sizeof(*h));
	size_t nh = 0;

	if (h == NULL)
		return QIAO_ENOMEM;
	for (size_t i = 0; i < f->n; i++)
		if (!f->has_child[i])
			h[nh++] = f->op[i]->hash;
	qsort(h, nh, sizeof(*h), hash_cmp);
	crdt_write_cstr(out, "heads");
	crdt_write_array(out, nh);
	for (size_t i = 0; i < nh; i++)
		crdt_write_bin(out, h[i], QIAO_HASH_LEN);
	free(h);
	return QIAO_OK;
}

static const char *
kind_name(char kind)
{
	switch (kind) {
	case CRDT_REC_CASE:
		return "case";
	case CRDT_REC_GRID:
		return "grid";
	case CRDT_REC_MEETING:
		return "meeting";
	default:
		return "reg";
	}
}

static void
emit_review(const crdt_fold *f, crdt_writer *out)
{
	crdt_write_cstr(out, "review");
	crdt_write_array(out, f->nrv);
	for (size_t k = 0; k < f->nrv; k++) {
		const struct review *rv = &f->rv[k];
		const crdt_rec_op *op = f->op[rv->op];
		const char *tn = crdt_type_name(op->type);

		crdt_write_map(out, rv->has_cust ? 7 : 6);
		write_op_ref(out, op);
		if (rv->has_cust) {
			crdt_write_cstr(out, "custodian");
			crdt_write_str(out,
			    (const char *)f->arena.buf + rv->off, rv->len);
		}
		crdt_write_cstr(out, "hash");
		crdt_write_bin(out, op->hash, QIAO_HASH_LEN);
		crdt_write_cstr(out, "hlc");
		crdt_write_uint(out, op->hlc);
		crdt_write_cstr(out, "reason");
		crdt_write_cstr(out, rv->reason);
		crdt_write_cstr(out, "station");
		crdt_write_cstr(out, op->station);
		crdt_write_cstr(out, "type");
		crdt_write_cstr(out, tn ? tn : "?");
	}
}

static int
bytes_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	return c != 0 ? c : (al > bl) - (al < bl);
}

static int
emit_sets(const crdt_fold *f, crdt_writer *out)
{
	const char **names = malloc((f->na ? f->na : 1) * sizeof(*names));
	size_t *idx = malloc((f->na ? f->na : 1) * sizeof(size_t));
	size_t nn = 0;

	if (names == NULL || idx == NULL) {
		free(names);
		free(idx);
		return QIAO_ENOMEM;
	}
	for (size_t i = 0; i < f->na; i++)
		names[nn++] = f->a[i].set;
	qsort(names, nn, sizeof(*names), str_cmp);
	{
		size_t u = 0;

		for (size_t i = 0; i < nn; i++)
			if (u == 0 || strcmp(names[u - 1], names[i]) != 0)
				names[u++] = names[i];
		nn = u;
	}
	crdt_write_cstr(out, "sets");
	crdt_write_map(out, nn);
	for (size_t s = 0; s < nn; s++) {
		size_t k = 0, u = 0;

		for (size_t i = 0; i < f->na; i++)
			if (strcmp(f->a[i].set, names[s]) == 0)
				idx[k++] = i;
		/* Insertion sort by value bytes; sets are small. */
		for (size_t a = 1; a < k; a++)
			for (size_t b = a; b > 0; b--) {
				const struct add *x = &f->a[idx[b - 1]];
				const struct add *y = &f->a[idx[b]];
				size_t t;

				if (bytes_cmp(f->arena.buf + x->off, x->len,
					f->arena.buf + y->off, y->len) <= 0)
					break;
				t = idx[b];
				idx[b] = idx[b - 1];
				idx[b - 1] = t;
			}
		for (size_t i = 0; i < k; i++) {
			const struct add *x = &f->a[idx[i]];
			const struct add *y = u ? &f->a[idx[u - 1]] : NULL;

			if (y == NULL || bytes_cmp(f->arena.buf + x->off,
					     x->len, f->arena.buf + y->off,
					     y->len) != 0)
				idx[u++] = idx[i];
		}
		crdt_write_cstr(out, names[s]);
		crdt_write_array(out, u);
		for (size_t i = 0; i < u; i++)
			crdt_write_raw(out, f->arena.buf + f->a[idx[i]].off,
			    f->a[idx[i]].len);
	}
	free(names);
	free(idx);
	return QIAO_OK;
}

/* The body's own fields, less those that name the record. */
static bool
hidden_key(const char *k, size_t n)
{
	static const char *const hide[] = { "case", "code", "deps", "grid",
		NULL };

	return crdt_op_oneof(hide, k, n);
}

static void
emit_detail(crdt_writer *out, const uint8_t *body, size_t len)
{
	for (int pass = 0; pass < 2; pass++) {
		crdt_reader r;
		size_t n, shown = 0;

		crdt_reader_init(&r, body, len);
		if (crdt_read_map(&r, &n) != QIAO_OK) {
			crdt_write_map(out, 0);
			return;
		}
		for (size_t i = 0; i < n; i++) {
			const char *k;
			const uint8_t *start;
			size_t kl;

			if (crdt_read_str(&r, &k, &kl) != QIAO_OK)
				break;
			start = r.p;
			if (crdt_read_skip(&r) != QIAO_OK)
				break;
			if (hidden_key(k, kl))
				continue;
			if (pass == 1) {
				crdt_write_str(out, k, kl);
				crdt_write_raw(out, start,
				    (size_t)(r.p - start));
			}
			shown++;
		}
		if (pass == 0)
			crdt_write_map(out, shown);
	}
}

static void
emit_timeline(const crdt_fold *f, crdt_writer *out)
{
	crdt_write_cstr(out, "timeline");
	crdt_write_array(out, f->n);
	for (size_t t = 0; t < f->n; t++) {
		size_t i = f->topo[t];
		const crdt_rec_op *op = f->op[i];
		const char *tn = crdt_type_name(op->type);

		crdt_write_map(out, f->why[i] ? 7 : 6);
		write_op_ref(out, op);
		crdt_write_cstr(out, "detail");
		emit_detail(out, op->body, op->body_len);
		crdt_write_cstr(out, "hash");
		crdt_write_bin(out, op->hash, QIAO_HASH_LEN);
		crdt_write_cstr(out, "hlc");
		crdt_write_uint(out, op->hlc);
		if (f->why[i]) {
			crdt_write_cstr(out, "review");
			crdt_write_cstr(out, f->why[i]);
		}
		crdt_write_cstr(out, "station");
		crdt_write_cstr(out, op->station);
		crdt_write_cstr(out, "type");
		crdt_write_cstr(out, tn ? tn : "?");
	}
}

static void
emit_sla(crdt_writer *out, const crdt_rec_summary *s)
{
	const uint64_t v[3] = { s->arrival_ms, s->feedback_ms,
		s->response_ms };
	static const char *const k[3] = { "arrival", "feedback", "response" };

	crdt_write_cstr(out, "sla");
	crdt_write_map(out, 3);
	for (int i = 0; i < 3; i++) {
		crdt_write_cstr(out, k[i]);
		if (v[i] == CRDT_SUM_NONE)
			crdt_write_nil(out);
		else
			crdt_write_uint(out, v[i]);
	}
}

static void
meeting_summary(const crdt_fold *f, crdt_rec_summary *sum)
{
	const uint8_t *v;
	size_t len;
	crdt_reader r;
	uint64_t u;
	char lvl[16];

	if (crdt_fold_get(f, "date", CRDT_FOLD_ALL, &v, &len) == QIAO_OK) {
		crdt_reader_init(&r, v, len);
		if (crdt_read_uint(&r, &u) == QIAO_OK)
			sum->time_ms = u;
	}
	if (crdt_fold_get(f, "attendees", CRDT_FOLD_ALL, &v, &len) == 0) {
		crdt_reader_init(&r, v, len);
		if (crdt_read_uint(&r, &u) == QIAO_OK)
			sum->count = u > UINT32_MAX ? UINT32_MAX : (uint32_t)u;
	}
	if (crdt_fold_get_str(f, "level", CRDT_FOLD_ALL, lvl, sizeof(lvl)))
		for (int i = 0; crdt_meeting_levels[i] != NULL; i++)
			if (strcmp(lvl, crdt_meeting_levels[i]) == 0)
				sum->level = (uint8_t)(i + 1);
}

static void
fold_free(crdt_fold *f)
{
	free(f->op);
	free(f->poff);
	free(f->par);
	free(f->topo);
	free(f->anc);
	free(f->has_child);
	free(f->why);
	free(f->w);
	free(f->a);
	free(f->rv);
	crdt_writer_fini(&f->arena);
}

int
crdt_record_fold(char kind, const char *code, const uint8_t *id,
    const crdt_rec_op *ops, size_t n, uint8_t **state, size_t *len,
    crdt_rec_summary *sum)
{
	crdt_fold f;
	crdt_rec_summary s;
	crdt_writer out;
	uint64_t stamps[CRDT_STAMPS] = { CRDT_SUM_NONE, CRDT_SUM_NONE,
		CRDT_SUM_NONE, CRDT_SUM_NONE };
	bool truncated = n > QIAO_REC_OPS_MAX, conflict = false;
	int rc;

	memset(&f, 0, sizeof(f));
	memset(&s, 0, sizeof(s));
	s.response_ms = s.arrival_ms = s.feedback_ms = CRDT_SUM_NONE;
	crdt_writer_init(&f.arena);
	crdt_writer_init(&out);
	f.kind = kind;
	/* An array of pointers to the ops, sorted by rank. */
	if ((f.op = malloc((n ? n : 1) * sizeof(const crdt_rec_op *))) == NULL) {
		rc = QIAO_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		f.op[i] = &ops[i];
	qsort(f.op, n, sizeof(const crdt_rec_op *), rank_cmp);
	f.n = truncated ? QIAO_REC_OPS_MAX : n;
	if ((f.why = calloc(f.n ? f.n : 1, sizeof(*f.why))) == NULL) {
		rc = QIAO_ENOMEM;
		goto out;
	}
	if ((rc = build_parents(&f)) != QIAO_OK ||
	    (rc = build_order(&f)) != QIAO_OK)
		goto out;
	for (size_t t = 0; t < f.n && f.err == QIAO_OK; t++) {
		if (kind == CRDT_REC_CASE)
			crdt_case_effect(&f, f.topo[t], stamps);
		else
			crdt_fold_fields(&f, f.topo[t]);
	}
	if ((rc = f.err) != QIAO_OK)
		goto out;
	if (kind == CRDT_REC_CASE)
		crdt_case_summary(&f, stamps, &s);
	else if (kind == CRDT_REC_MEETING)
		meeting_summary(&f, &s);
	/* A grid exists once written; a hash-named record once the op that
	 * created it (whose hash is its id) is here. */
	for (size_t i = 0; i < f.n; i++)
		if (id == NULL || memcmp(f.op[i]->hash, id, QIAO_HASH_LEN) == 0)
			s.flags |= CRDT_SUM_OPENED;

	crdt_write_map(&out, (kind == CRDT_REC_CASE ? 11 : 10) + truncated);
	crdt_write_cstr(&out, "code");
	crdt_write_cstr(&out, code);
	if ((rc = emit_registers(&f, &out, &conflict)) != QIAO_OK ||
	    (rc = emit_heads(&f, &out)) != QIAO_OK)
		goto out;
	crdt_write_cstr(&out, "id");
	if (id != NULL)
		crdt_write_bin(&out, id, QIAO_HASH_LEN);
	else
		crdt_write_nil(&out);
	crdt_write_cstr(&out, "kind");
	crdt_write_cstr(&out, kind_name(kind));
	crdt_write_cstr(&out, "ops");
	crdt_write_uint(&out, f.n);
	emit_review(&f, &out);
	if ((rc = emit_sets(&f, &out)) != QIAO_OK)
		goto out;
	if (kind == CRDT_REC_CASE)
		emit_sla(&out, &s);
	emit_timeline(&f, &out);
	if (truncated) {
		crdt_write_cstr(&out, "truncated");
		crdt_write_bool(&out, true);
	}
	if ((rc = crdt_writer_error(&out)) != QIAO_OK)
		goto out;
	if (conflict)
		s.flags |= CRDT_SUM_CONFLICT;
	if (f.nrv > 0)
		s.flags |= CRDT_SUM_REVIEW;
	*state = crdt_writer_take(&out, len);
	if (sum != NULL)
		*sum = s;
out:
	crdt_writer_fini(&out);
	fold_free(&f);
	return rc;
}

/*
 * summary, 40 bytes, v1:
 *   time_ms(8 BE) response_ms(8) arrival_ms(8) feedback_ms(8) count(4)
 *   status(1) level(1) evaluation(1) flags(1)
 */
static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void
crdt_rec_summary_encode(const crdt_rec_summary *s,
    uint8_t out[CRDT_SUMMARY_LEN])
{
	put64(out, s->time_ms);
	put64(out + 8, s->response_ms);
	put64(out + 16, s->arrival_ms);
	put64(out + 24, s->feedback_ms);
	out[32] = (uint8_t)(s->count >> 24);
	out[33] = (uint8_t)(s->count >> 16);
	out[34] = (uint8_t)(s->count >> 8);
	out[35] = (uint8_t)s->count;
	out[36] = s->status;
	out[37] = s->level;
	out[38] = s->evaluation;
	out[39] = s->flags;
}

int
crdt_rec_summary_decode(crdt_rec_summary *s, const void *in, size_t len)
{
	const uint8_t *p = in;

	if (len != CRDT_SUMMARY_LEN)
		return QIAO_EMALFORMED;
	s->time_ms = get64(p);
	s->response_ms = get64(p + 8);
	s->arrival_ms = get64(p + 16);
	s->feedback_ms = get64(p + 24);
	s->count = (uint32_t)p[32] << 24 | (uint32_t)p[33] << 16 |
	    (uint32_t)p[34] << 8 | p[35];
	s->status = p[36];
	s->level = p[37];
	s->evaluation = p[38];
	s->flags = p[39];
	return QIAO_OK;
}
