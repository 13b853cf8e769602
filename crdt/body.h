/*
 * body — operation bodies: msgpack maps with string keys in increasing
 * order (crdt/codec.h), built and read by field name.
 *
 * The builder collects fields in any order and emits them sorted, so no op
 * encoder can produce a non-canonical body. The getters read one field from
 * a body that already passed crdt_codec_check() (ingest checks every body);
 * a field nobody asks for is ignored, so a newer station may add fields
 * without older ones refusing its entries.
 */
#ifndef QIAO_CRDT_BODY_H
#define QIAO_CRDT_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/codec.h"
#include "crdt/err.h"

#define QIAO_BODY_FIELDS_MAX 32

typedef struct crdt_body {
	struct crdt_body_field {
		const char *key; /* borrowed: must outlive the builder */
		size_t off, len; /* the encoded value inside vals */
	} f[QIAO_BODY_FIELDS_MAX];
	size_t n;
	crdt_writer vals; /* every value, encoded back to back */
	int err;
} crdt_body;

void crdt_body_init(crdt_body *b);
void crdt_body_fini(crdt_body *b);

/* Each adds one field; errors stick (QIAO_ETOOBIG past
 * QIAO_BODY_FIELDS_MAX, QIAO_EINVAL for a repeated key, QIAO_ENOMEM). */
void crdt_body_uint(crdt_body *b, const char *key, uint64_t v);
void crdt_body_int(crdt_body *b, const char *key, int64_t v);
void crdt_body_bool(crdt_body *b, const char *key, bool v);
void crdt_body_str(crdt_body *b, const char *key, const char *s, size_t n);
void crdt_body_cstr(crdt_body *b, const char *key, const char *s);
void crdt_body_bin(crdt_body *b, const char *key, const void *p, size_t n);
/* A value encoded by the caller (an array, a nested map): checked strict. */
void crdt_body_raw(crdt_body *b, const char *key, const void *p, size_t n);

/*
 * Emits the sorted map into a new heap buffer (*out, free() it).
 * Returns the first error of any add, or QIAO_ETOOBIG past QIAO_BODY_MAX.
 */
int crdt_body_finish(crdt_body *b, uint8_t **out, size_t *len)
    QIAO_MUST_USE;

/*
 * Positions *val at the value of key in body. QIAO_ENOTFOUND if absent,
 * QIAO_EMALFORMED if body is not a map.
 */
int crdt_body_get(const uint8_t *body, size_t len, const char *key,
    crdt_reader *val) QIAO_MUST_USE;

/* Typed getters: QIAO_ENOTFOUND if absent, QIAO_EMALFORMED if of another
 * kind. Strings and bins point into body. */
int crdt_body_get_uint(const uint8_t *body, size_t len, const char *key,
    uint64_t *out) QIAO_MUST_USE;
int crdt_body_get_str(const uint8_t *body, size_t len, const char *key,
    const char **s, size_t *n) QIAO_MUST_USE;
int crdt_body_get_bin(const uint8_t *body, size_t len, const char *key,
    const uint8_t **p, size_t *n) QIAO_MUST_USE;
int crdt_body_get_bool(const uint8_t *body, size_t len, const char *key,
    bool *out) QIAO_MUST_USE;
/* Copies a string field into buf as a C string; QIAO_ETOOBIG if it does
 * not fit, QIAO_EMALFORMED if it holds a NUL. */
int crdt_body_get_cstr(const uint8_t *body, size_t len, const char *key,
    char *buf, size_t cap) QIAO_MUST_USE;

#endif
