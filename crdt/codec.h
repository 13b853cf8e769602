/*
 * codec — strict MessagePack: one valid encoding per value.
 *
 * Everything qiao signs or receives is msgpack. A signature covers bytes, so
 * the bytes must be canonical: the reader here accepts exactly the encoding
 * msgpack-c's packer produces for a value and rejects everything else with a
 * reason:
 *   - integers, string/binary lengths and array/map counts in their shortest
 *     form; non-negative integers only in the unsigned forms;
 *   - map keys are strings, in strictly increasing byte order (so a duplicate
 *     key is impossible to hide and every map has one encoding);
 *   - strings are valid UTF-8; no floats, no ext types;
 *   - nesting at most QIAO_DEPTH_MAX deep; no trailing bytes;
 *   - every declared length or count is checked against the bytes actually
 *     present before anything is used, so a header claiming 2^32 elements
 *     costs nothing.
 * msgpack-c's own unpacker cannot do this: it forgets how a value was
 * encoded and reserves memory for declared counts. So we read raw bytes with
 * this reader, and write with msgpack-c's packer (crdt_writer), which already
 * emits the shortest forms.
 *
 * The reader never allocates; pointers it returns point into the caller's
 * buffer and live as long as it does.
 */
#ifndef QIAO_CRDT_CODEC_H
#define QIAO_CRDT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "crdt/err.h"

#define QIAO_DEPTH_MAX 16

enum crdt_kind {
	CRDT_KIND_BAD = 0, /* invalid, truncated or not accepted (float, ext) */
	CRDT_KIND_NIL,
	CRDT_KIND_BOOL,
	CRDT_KIND_UINT,
	CRDT_KIND_NEGINT,
	CRDT_KIND_STR,
	CRDT_KIND_BIN,
	CRDT_KIND_ARRAY,
	CRDT_KIND_MAP,
};

typedef struct crdt_reader {
	const uint8_t *start;
	const uint8_t *p;   /* next unread byte */
	const uint8_t *end; /* one past the last byte */
	const char *why;    /* first failure's reason; NULL while all is well */
	size_t at;          /* byte offset of the first failure */
} crdt_reader;

/* A reader over len bytes at buf; it borrows buf. */
void crdt_reader_init(crdt_reader *r, const void *buf, size_t len);

/* The kind of the next value, without consuming it. */
enum crdt_kind crdt_read_peek(const crdt_reader *r);

/*
 * Each reads one value of its kind. All return QIAO_OK, or QIAO_EMALFORMED
 * with r->why and r->at set (the first failure sticks: later reads fail too).
 * Out-parameters are written only on success.
 */
int crdt_read_nil(crdt_reader *r) QIAO_MUST_USE;
int crdt_read_bool(crdt_reader *r, bool *out) QIAO_MUST_USE;
int crdt_read_uint(crdt_reader *r, uint64_t *out) QIAO_MUST_USE;
int crdt_read_int(crdt_reader *r, int64_t *out) QIAO_MUST_USE;
/* A string: *out points into the buffer, is not NUL-terminated. */
int crdt_read_str(crdt_reader *r, const char **out, size_t *len) QIAO_MUST_USE;
int crdt_read_bin(crdt_reader *r, const uint8_t **out, size_t *len)
    QIAO_MUST_USE;
/* A bin of exactly len bytes (keys, hashes), copied into out. */
int crdt_read_fixbin(crdt_reader *r, uint8_t *out, size_t len) QIAO_MUST_USE;
int crdt_read_array(crdt_reader *r, size_t *count) QIAO_MUST_USE;
int crdt_read_map(crdt_reader *r, size_t *count) QIAO_MUST_USE;
/* Skips one value of any kind, checking it fully (depth counts from here). */
int crdt_read_skip(crdt_reader *r) QIAO_MUST_USE;

/*
 * Reads the next key of a map. prev/prev_len hold the previous key (NULL for
 * the first) and are updated, so keys are checked to be strictly increasing.
 */
int crdt_read_key(crdt_reader *r, const char **prev, size_t *prev_len,
    const char **key, size_t *key_len) QIAO_MUST_USE;

/* QIAO_OK when every byte was consumed, else "trailing bytes". */
int crdt_read_done(crdt_reader *r) QIAO_MUST_USE;

/* Records a semantic failure (e.g. "missing field") at the current offset. */
int crdt_read_fail(crdt_reader *r, const char *why);

/*
 * Checks that buf holds exactly one value in the strict encoding above.
 * On failure returns QIAO_EMALFORMED and, if why is not NULL, a static reason;
 * at gets the offset.
 */
int crdt_codec_check(const void *buf, size_t len, const char **why,
    size_t *at) QIAO_MUST_USE;

/* True when s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
bool crdt_codec_utf8_ok(const char *s, size_t len);

/*
 * writer — msgpack-c's packer writing into a growing heap buffer, or into a
 * fixed caller buffer. Write calls never fail individually: the first error
 * sticks and crdt_writer_error() reports it (QIAO_ENOMEM, or QIAO_ETOOBIG
 * when a fixed buffer overflows). Map keys must be written in increasing
 * order; crdt_codec_check() on the result enforces it.
 */
typedef struct crdt_writer {
	msgpack_packer pk;
	uint8_t *buf;
	size_t len;
	size_t cap;
	bool fixed;
	int err;
} crdt_writer;

void crdt_writer_init(crdt_writer *w);
void crdt_writer_init_fixed(crdt_writer *w, uint8_t *buf, size_t cap);
/* Frees a growing writer's buffer (unless taken); accepts a zeroed writer. */
void crdt_writer_fini(crdt_writer *w);
int crdt_writer_error(const crdt_writer *w) QIAO_MUST_USE;
/* Hands the growing buffer to the caller (free() it); the writer empties. */
uint8_t *crdt_writer_take(crdt_writer *w, size_t *len);

void crdt_write_nil(crdt_writer *w);
void crdt_write_bool(crdt_writer *w, bool v);
void crdt_write_uint(crdt_writer *w, uint64_t v);
void crdt_write_int(crdt_writer *w, int64_t v);
void crdt_write_str(crdt_writer *w, const char *s, size_t len);
void crdt_write_cstr(crdt_writer *w, const char *s);
void crdt_write_bin(crdt_writer *w, const void *b, size_t len);
void crdt_write_array(crdt_writer *w, size_t n);
void crdt_write_map(crdt_writer *w, size_t n);
/* Appends already-encoded msgpack bytes verbatim. */
void crdt_write_raw(crdt_writer *w, const void *b, size_t len);

#endif
