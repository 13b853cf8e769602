#include <stdlib.h>
#include <string.h>

#include "crdt/body.h"
#include "crdt/entry.h"

void
crdt_body_init(crdt_body *b)
{
	b->n = 0;
	b->err = QIAO_OK;
	crdt_writer_init(&b->vals);
}

void
crdt_body_fini(crdt_body *b)
{
	crdt_writer_fini(&b->vals);
}

/* Opens a field: the value the caller writes next belongs to key. */
static bool
open_field(crdt_body *b, const char *key)
{
	if (b->err != QIAO_OK)
		return false;
	if (b->n == QIAO_BODY_FIELDS_MAX) {
		b->err = QIAO_ETOOBIG;
		return false;
	}
	for (size_t i = 0; i < b->n; i++) {
		if (strcmp(b->f[i].key, key) == 0) {
			b->err = QIAO_EINVAL;
			return false;
		}
	}
	b->f[b->n].key = key;
	b->f[b->n].off = b->vals.len;
	return true;
}

static void
close_field(crdt_body *b)
{
	if ((b->err = crdt_writer_error(&b->vals)) != QIAO_OK)
		return;
	b->f[b->n].len = b->vals.len - b->f[b->n].off;
	b->n++;
}

void
crdt_body_uint(crdt_body *b, const char *key, uint64_t v)
{
	if (open_field(b, key)) {
		crdt_write_uint(&b->vals, v);
		close_field(b);
	}
}

void
crdt_body_int(crdt_body *b, const char *key, int64_t v)
{
	if (open_field(b, key)) {
		crdt_write_int(&b->vals, v);
		close_field(b);
	}
}

void
crdt_body_bool(crdt_body *b, const char *key, bool v)
{
	if (open_field(b, key)) {
		crdt_write_bool(&b->vals, v);
		close_field(b);
	}
}

void
crdt_body_str(crdt_body *b, const char *key, const char *s, size_t n)
{
	if (!crdt_codec_utf8_ok(s, n)) {
		if (b->err == QIAO_OK)
			b->err = QIAO_EINVAL;
		return;
	}
	if (open_field(b, key)) {
		crdt_write_str(&b->vals, s, n);
		close_field(b);
	}
}

void
crdt_body_cstr(crdt_body *b, const char *key, const char *s)
{
	crdt_body_str(b, key, s, strlen(s));
}

void
crdt_body_bin(crdt_body *b, const char *key, const void *p, size_t n)
{
	if (open_field(b, key)) {
		crdt_write_bin(&b->vals, p, n);
		close_field(b);
	}
}

void
crdt_body_raw(crdt_body *b, const char *key, const void *p, size_t n)
{
	if (crdt_codec_check(p, n, NULL, NULL) != QIAO_OK) {
		if (b->err == QIAO_OK)
			b->err = QIAO_EINVAL;
		return;
	}
	if (open_field(b, key)) {
		crdt_write_raw(&b->vals, p, n);
		close_field(b);
	}
}

static int
key_cmp(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int c = memcmp(a, b, la < lb ? la : lb);

	return c != 0 ? c : (la > lb) - (la < lb);
}

int
crdt_body_finish(crdt_body *b, uint8_t **out, size_t *len)
{
	struct crdt_body_field *sorted[QIAO_BODY_FIELDS_MAX];
	crdt_writer w;
	int rc;

	if (b->err != QIAO_OK)
		return b->err;
	for (size_t i = 0; i < b->n; i++) {
		size_t j = i;

		/* Insertion sort: at most QIAO_BODY_FIELDS_MAX fields. */
		while (j > 0 && key_cmp(sorted[j - 1]->key, b->f[i].key) > 0) {
			sorted[j] = sorted[j - 1];
			j--;
		}
		sorted[j] = &b->f[i];
	}
	crdt_writer_init(&w);
	crdt_write_map(&w, b->n);
	for (size_t i = 0; i < b->n; i++) {
		crdt_write_cstr(&w, sorted[i]->key);
		crdt_write_raw(&w, b->vals.buf + sorted[i]->off,
		    sorted[i]->len);
	}
	if ((rc = crdt_writer_error(&w)) == QIAO_OK && w.len > QIAO_BODY_MAX)
		rc = QIAO_ETOOBIG;
	if (rc != QIAO_OK) {
		crdt_writer_fini(&w);
		return rc;
	}
	*out = crdt_writer_take(&w, len);
	return QIAO_OK;
}

int
crdt_body_get(const uint8_t *body, size_t len, const char *key,
    crdt_reader *val)
{
	crdt_reader r;
	size_t n, klen = strlen(key);

	crdt_reader_init(&r, body, len);
	if (crdt_read_map(&r, &n) != QIAO_OK)
		return QIAO_EMALFORMED;
	for (size_t i = 0; i < n; i++) {
		const char *k;
		size_t kl;

		if (crdt_read_str(&r, &k, &kl) != QIAO_OK)
			return QIAO_EMALFORMED;
		if (kl == klen && memcmp(k, key, kl) == 0) {
			*val = r;
			return QIAO_OK;
		}
		if (crdt_read_skip(&r) != QIAO_OK)
			return QIAO_EMALFORMED;
	}
	return QIAO_ENOTFOUND;
}

int
crdt_body_get_uint(const uint8_t *body, size_t len, const char *key,
    uint64_t *out)
{
	crdt_reader r;
	int rc = crdt_body_get(body, len, key, &r);

	return rc != QIAO_OK ? rc : crdt_read_uint(&r, out);
}

int
crdt_body_get_str(const uint8_t *body, size_t len, const char *key,
    const char **s, size_t *n)
{
	crdt_reader r;
	int rc = crdt_body_get(body, len, key, &r);

	return rc != QIAO_OK ? rc : crdt_read_str(&r, s, n);
}

int
crdt_body_get_bin(const uint8_t *body, size_t len, const char *key,
    const uint8_t **p, size_t *n)
{
	crdt_reader r;
	int rc = crdt_body_get(body, len, key, &r);

	return rc != QIAO_OK ? rc : crdt_read_bin(&r, p, n);
}

int
crdt_body_get_bool(const uint8_t *body, size_t len, const char *key,
    bool *out)
{
	crdt_reader r;
	int rc = crdt_body_get(body, len, key, &r);

	return rc != QIAO_OK ? rc : crdt_read_bool(&r, out);
}

int
crdt_body_get_cstr(const uint8_t *body, size_t len, const char *key,
    char *buf, size_t cap)
{
	const char *s;
	size_t n;
	int rc = crdt_body_get_str(body, len, key, &s, &n);

	if (rc != QIAO_OK)
		return rc;
	if (n >= cap)
		return QIAO_ETOOBIG;
	if (memchr(s, '\0', n) != NULL)
		return QIAO_EMALFORMED;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return QIAO_OK;
}
