#include <stdlib.h>
#include <string.h>

#include "crdt/codec.h"

void
crdt_reader_init(crdt_reader *r, const void *buf, size_t len)
{
	r->start = buf;
	r->p = buf;
	r->end = r->p + len;
	r->why = NULL;
	r->at = 0;
}

int
crdt_read_fail(crdt_reader *r, const char *why)
{
	if (r->why == NULL) {
		r->why = why;
		r->at = (size_t)(r->p - r->start);
	}
	return QIAO_EMALFORMED;
}

static size_t
left(const crdt_reader *r)
{
	return (size_t)(r->end - r->p);
}

static uint64_t
be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/*
 * The one place that decodes a msgpack type byte and its length/value field.
 * It checks the shortest-form rule, and that the fixed-size part is present;
 * callers check payloads against what is left.
 */
struct tok {
	enum crdt_kind kind;
	uint64_t u;  /* uint value, or length/count for str/bin/array/map */
	int64_t i;   /* negative int value */
	size_t size; /* bytes of the type byte and length field */
};

static int
lex(crdt_reader *r, struct tok *t)
{
	size_t n = left(r);
	uint8_t b;
	size_t w = 0; /* width of the following field */
	uint64_t min = 0;

	if (r->why != NULL)
		return QIAO_EMALFORMED;
	if (n == 0)
		return crdt_read_fail(r, "truncated");
	b = r->p[0];
	t->size = 1;
	t->i = 0;
	if (b <= 0x7f) {
		t->kind = CRDT_KIND_UINT;
		t->u = b;
		return QIAO_OK;
	}
	if (b >= 0xe0) {
		t->kind = CRDT_KIND_NEGINT;
		t->i = (int64_t)b - 256; /* negative fixint: 0xe0..0xff */
		return QIAO_OK;
	}
	if ((b & 0xe0) == 0xa0) {
		t->kind = CRDT_KIND_STR;
		t->u = b & 0x1f;
		return QIAO_OK;
	}
	if ((b & 0xf0) == 0x90 || (b & 0xf0) == 0x80) {
		t->kind = (b & 0xf0) == 0x90 ? CRDT_KIND_ARRAY : CRDT_KIND_MAP;
		t->u = b & 0x0f;
		return QIAO_OK;
	}
	switch (b) {
	case 0xc0:
		t->kind = CRDT_KIND_NIL;
		return QIAO_OK;
	case 0xc2:
	case 0xc3:
		t->kind = CRDT_KIND_BOOL;
		t->u = b == 0xc3;
		return QIAO_OK;
	case 0xc4: case 0xc5: case 0xc6:
		t->kind = CRDT_KIND_BIN;
		w = (size_t)1 << (b - 0xc4);
		min = b == 0xc4 ? 0 : b == 0xc5 ? 0x100 : 0x10000;
		break;
	case 0xcc: case 0xcd: case 0xce: case 0xcf:
		t->kind = CRDT_KIND_UINT;
		w = (size_t)1 << (b - 0xcc);
		min = b == 0xcc ? 0x80 : b == 0xcd ? 0x100
		    : b == 0xce ? 0x10000 : 0x100000000ULL;
		break;
	case 0xd0: case 0xd1: case 0xd2: case 0xd3:
		t->kind = CRDT_KIND_NEGINT;
		w = (size_t)1 << (b - 0xd0);
		break;
	case 0xd9: case 0xda: case 0xdb:
		t->kind = CRDT_KIND_STR;
		w = (size_t)1 << (b - 0xd9);
		min = b == 0xd9 ? 0x20 : b == 0xda ? 0x100 : 0x10000;
		break;
	case 0xdc: case 0xdd:
		t->kind = CRDT_KIND_ARRAY;
		w = b == 0xdc ? 2 : 4;
		min = b == 0xdc ? 0x10 : 0x10000;
		break;
	case 0xde: case 0xdf:
		t->kind = CRDT_KIND_MAP;
		w = b == 0xde ? 2 : 4;
		min = b == 0xde ? 0x10 : 0x10000;
		break;
	case 0xca: case 0xcb:
		return crdt_read_fail(r, "floats are not accepted");
	case 0xc1:
		return crdt_read_fail(r, "reserved type byte 0xc1");
	default: /* 0xc7-0xc9, 0xd4-0xd8: ext types */
		return crdt_read_fail(r, "ext types are not accepted");
	}
	if (n < 1 + w)
		return crdt_read_fail(r, "truncated");
	t->size = 1 + w;
	if (t->kind == CRDT_KIND_NEGINT) {
		/* Two's complement of width w; must be negative and need w. */
		uint64_t raw = be(r->p + 1, w);
		int64_t v;

		if (w < 8 && (raw & ((uint64_t)1 << (8 * w - 1))))
			raw |= ~(((uint64_t)1 << (8 * w)) - 1); /* sign-extend */
		v = (int64_t)raw;
		if (v >= 0)
			return crdt_read_fail(r,
			    "non-negative integer in a signed form");
		if ((w == 1 && v >= -32) || (w == 2 && v >= -128) ||
		    (w == 4 && v >= -32768) ||
		    (w == 8 && v >= -2147483648LL))
			return crdt_read_fail(r, "non-minimal integer");
		t->i = v;
		return QIAO_OK;
	}
	t->u = be(r->p + 1, w);
	if (t->u < min)
		return crdt_read_fail(r, t->kind == CRDT_KIND_UINT
			? "non-minimal integer"
			: "non-minimal length");
	return QIAO_OK;
}

enum crdt_kind
crdt_read_peek(const crdt_reader *r)
{
	crdt_reader copy = *r;
	struct tok t;

	if (lex(&copy, &t) != QIAO_OK)
		return CRDT_KIND_BAD;
	return t.kind;
}

static int
expect(crdt_reader *r, struct tok *t, enum crdt_kind kind, const char *why)
{
	int rc;

	if ((rc = lex(r, t)) != QIAO_OK)
		return rc;
	if (t->kind != kind)
		return crdt_read_fail(r, why);
	return QIAO_OK;
}

int
crdt_read_nil(crdt_reader *r)
{
	struct tok t;
	int rc;

	if ((rc = expect(r, &t, CRDT_KIND_NIL, "expected nil")) != QIAO_OK)
		return rc;
	r->p += t.size;
	return QIAO_OK;
}

int
crdt_read_bool(crdt_reader *r, bool *out)
{
	struct tok t;
	int rc;

	if ((rc = expect(r, &t, CRDT_KIND_BOOL, "expected a boolean")) != 0)
		return rc;
	r->p += t.size;
	*out = t.u != 0;
	return QIAO_OK;
}

int
crdt_read_uint(crdt_reader *r, uint64_t *out)
{
	struct tok t;
	int rc;

	if ((rc = lex(r, &t)) != QIAO_OK)
		return rc;
	if (t.kind == CRDT_KIND_NEGINT)
		return crdt_read_fail(r, "expected a non-negative integer");
	if (t.kind != CRDT_KIND_UINT)
		return crdt_read_fail(r, "expected an integer");
	r->p += t.size;
	*out = t.u;
	return QIAO_OK;
}

int
crdt_read_int(crdt_reader *r, int64_t *out)
{
	struct tok t;
	int rc;

	if ((rc = lex(r, &t)) != QIAO_OK)
		return rc;
	if (t.kind == CRDT_KIND_UINT) {
		if (t.u > INT64_MAX)
			return crdt_read_fail(r, "integer out of range");
		*out = (int64_t)t.u;
	} else if (t.kind == CRDT_KIND_NEGINT) {
		*out = t.i;
	} else {
		return crdt_read_fail(r, "expected an integer");
	}
	r->p += t.size;
	return QIAO_OK;
}

/* str and bin: header, then a payload that must be present in full. */
static int
payload(crdt_reader *r, enum crdt_kind kind, const char *why,
    const uint8_t **out, size_t *len)
{
	struct tok t;
	int rc;

	if ((rc = expect(r, &t, kind, why)) != QIAO_OK)
		return rc;
	if (t.u > left(r) - t.size)
		return crdt_read_fail(r, "declared length exceeds the data");
	*out = r->p + t.size;
	*len = (size_t)t.u;
	r->p += t.size + (size_t)t.u;
	return QIAO_OK;
}

int
crdt_read_str(crdt_reader *r, const char **out, size_t *len)
{
	const uint8_t *s = NULL;
	const uint8_t *save = r->p;
	size_t n = 0;
	int rc;

	if ((rc = payload(r, CRDT_KIND_STR, "expected a string", &s, &n)) != 0)
		return rc;
	if (!crdt_codec_utf8_ok((const char *)s, n)) {
		r->p = save;
		return crdt_read_fail(r, "string is not valid UTF-8");
	}
	*out = (const char *)s;
	*len = n;
	return QIAO_OK;
}

int
crdt_read_bin(crdt_reader *r, const uint8_t **out, size_t *len)
{
	return payload(r, CRDT_KIND_BIN, "expected binary", out, len);
}

int
crdt_read_fixbin(crdt_reader *r, uint8_t *out, size_t len)
{
	const uint8_t *save = r->p;
	const uint8_t *b;
	size_t n;
	int rc;

	if ((rc = crdt_read_bin(r, &b, &n)) != QIAO_OK)
		return rc;
	if (n != len) {
		r->p = save;
		return crdt_read_fail(r, "binary field has the wrong length");
	}
	memcpy(out, b, len);
	return QIAO_OK;
}

/* Arrays and maps: each element takes at least one byte, so a count larger
 * than the bytes left is a lie we can catch before anyone trusts it. */
static int
container(crdt_reader *r, enum crdt_kind kind, const char *why, size_t *count)
{
	struct tok t;
	int rc;
	uint64_t need;

	if ((rc = expect(r, &t, kind, why)) != QIAO_OK)
		return rc;
	need = kind == CRDT_KIND_MAP ? 2 * t.u : t.u;
	if (need > left(r) - t.size)
		return crdt_read_fail(r, "declared count exceeds the data");
	r->p += t.size;
	*count = (size_t)t.u;
	return QIAO_OK;
}

int
crdt_read_array(crdt_reader *r, size_t *count)
{
	return container(r, CRDT_KIND_ARRAY, "expected an array", count);
}

int
crdt_read_map(crdt_reader *r, size_t *count)
{
	return container(r, CRDT_KIND_MAP, "expected a map", count);
}

int
crdt_read_key(crdt_reader *r, const char **prev, size_t *prev_len,
    const char **key, size_t *key_len)
{
	enum crdt_kind kind = crdt_read_peek(r);
	const uint8_t *save = r->p;
	const char *k = NULL;
	size_t n = 0;
	int rc;

	if (kind != CRDT_KIND_STR && kind != CRDT_KIND_BAD)
		return crdt_read_fail(r, "map key is not a string");
	if ((rc = crdt_read_str(r, &k, &n)) != QIAO_OK)
		return rc;
	if (*prev != NULL) {
		size_t m = n < *prev_len ? n : *prev_len;
		int c = m > 0 ? memcmp(*prev, k, m) : 0;

		if (c == 0 && n == *prev_len) {
			r->p = save;
			return crdt_read_fail(r, "duplicate map key");
		}
		if (c > 0 || (c == 0 && n < *prev_len)) {
			r->p = save;
			return crdt_read_fail(r, "map keys out of order");
		}
	}
	*prev = k;
	*prev_len = n;
	*key = k;
	*key_len = n;
	return QIAO_OK;
}

static int
skip(crdt_reader *r, int depth)
{
	struct tok t;
	size_t n = 0;
	int rc;

	if ((rc = lex(r, &t)) != QIAO_OK)
		return rc;
	switch (t.kind) {
	case CRDT_KIND_STR: {
		const char *s;
		return crdt_read_str(r, &s, &n);
	}
	case CRDT_KIND_BIN: {
		const uint8_t *b;
		return crdt_read_bin(r, &b, &n);
	}
	case CRDT_KIND_ARRAY:
	case CRDT_KIND_MAP:
		if (depth >= QIAO_DEPTH_MAX)
			return crdt_read_fail(r, "nested too deep");
		if ((rc = container(r, t.kind, "?", &n)) != QIAO_OK)
			return rc;
		if (t.kind == CRDT_KIND_ARRAY) {
			for (size_t i = 0; i < n; i++)
				if ((rc = skip(r, depth + 1)) != QIAO_OK)
					return rc;
		} else {
			const char *prev = NULL, *k = NULL;
			size_t plen = 0, klen = 0;

			for (size_t i = 0; i < n; i++) {
				if ((rc = crdt_read_key(r, &prev, &plen, &k,
					 &klen)) != QIAO_OK ||
				    (rc = skip(r, depth + 1)) != QIAO_OK)
					return rc;
			}
		}
		return QIAO_OK;
	default:
		r->p += t.size;
		return QIAO_OK;
	}
}

int
crdt_read_skip(crdt_reader *r)
{
	return skip(r, 0);
}

int
crdt_read_done(crdt_reader *r)
{
	if (r->why != NULL)
		return QIAO_EMALFORMED;
	if (r->p != r->end)
		return crdt_read_fail(r, "trailing bytes");
	return QIAO_OK;
}

int
crdt_codec_check(const void *buf, size_t len, const char **why, size_t *at)
{
	crdt_reader r;

	crdt_reader_init(&r, buf, len);
	if (skip(&r, 0) != QIAO_OK || crdt_read_done(&r) != QIAO_OK) {
		if (why != NULL)
			*why = r.why;
		if (at != NULL)
			*at = r.at;
		return QIAO_EMALFORMED;
	}
	return QIAO_OK;
}

bool
crdt_codec_utf8_ok(const char *str, size_t len)
{
	const uint8_t *s = (const uint8_t *)str;
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* writer */

static int
sink(void *data, const char *buf, size_t len)
{
	crdt_writer *w = data;

	if (w->err != QIAO_OK)
		return -1;
	if (len == 0)
		return 0;
	if (len > w->cap - w->len) {
		size_t cap = w->cap ? w->cap : 256;
		uint8_t *nb;

		if (w->fixed) {
			w->err = QIAO_ETOOBIG;
			return -1;
		}
		while (cap - w->len < len) {
			if (cap > SIZE_MAX / 2) {
				w->err = QIAO_ENOMEM;
				return -1;
			}
			cap *= 2;
		}
		if ((nb = realloc(w->buf, cap)) == NULL) {
			w->err = QIAO_ENOMEM;
			return -1;
		}
		w->buf = nb;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, buf, len);
	w->len += len;
	return 0;
}

void
crdt_writer_init(crdt_writer *w)
{
	memset(w, 0, sizeof(*w));
	msgpack_packer_init(&w->pk, w, sink);
}

void
crdt_writer_init_fixed(crdt_writer *w, uint8_t *buf, size_t cap)
{
	crdt_writer_init(w);
	w->buf = buf;
	w->cap = cap;
	w->fixed = true;
}

void
crdt_writer_fini(crdt_writer *w)
{
	if (w == NULL)
		return;
	if (!w->fixed)
		free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

int
crdt_writer_error(const crdt_writer *w)
{
	return w->err;
}

uint8_t *
crdt_writer_take(crdt_writer *w, size_t *len)
{
	uint8_t *b = w->buf;

	*len = w->len;
	w->buf = NULL;
	w->len = w->cap = 0;
	return b;
}

void
crdt_write_nil(crdt_writer *w)
{
	(void)msgpack_pack_nil(&w->pk);
}

void
crdt_write_bool(crdt_writer *w, bool v)
{
	(void)(v ? msgpack_pack_true(&w->pk) : msgpack_pack_false(&w->pk));
}

void
crdt_write_uint(crdt_writer *w, uint64_t v)
{
	(void)msgpack_pack_uint64(&w->pk, v);
}

void
crdt_write_int(crdt_writer *w, int64_t v)
{
	(void)msgpack_pack_int64(&w->pk, v);
}

void
crdt_write_str(crdt_writer *w, const char *s, size_t len)
{
	if (len > UINT32_MAX) {
		w->err = w->err ? w->err : QIAO_ETOOBIG;
		return;
	}
	(void)msgpack_pack_str_with_body(&w->pk, s, len);
}

void
crdt_write_cstr(crdt_writer *w, const char *s)
{
	crdt_write_str(w, s, strlen(s));
}

void
crdt_write_bin(crdt_writer *w, const void *b, size_t len)
{
	if (len > UINT32_MAX) {
		w->err = w->err ? w->err : QIAO_ETOOBIG;
		return;
	}
	(void)msgpack_pack_bin_with_body(&w->pk, b, len);
}

void
crdt_write_array(crdt_writer *w, size_t n)
{
	(void)msgpack_pack_array(&w->pk, n);
}

void
crdt_write_map(crdt_writer *w, size_t n)
{
	(void)msgpack_pack_map(&w->pk, n);
}

void
crdt_write_raw(crdt_writer *w, const void *b, size_t len)
{
	(void)sink(w, b, len);
}
