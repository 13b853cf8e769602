/*
 * op — the bodies of the record operations: grids, the registry, cases and
 * meetings (types 16-79 in crdt/types.h). docs/OPERATIONS.md has the table.
 *
 * Every record operation names its record by a region code (the key "code"
 * for grids and meetings, "grid" for registry records and cases) and, for a
 * record named by hash, the hash of the entry that created it ("case" for
 * the later steps of a case). Ops on an existing record carry "deps": the
 * hashes of the record's operations the author had seen (its DAG heads in
 * the author's store). Everything else is the type's own fields.
 *
 * Each type's fields are a table (op.c): key, kind, bounds, allowed values,
 * and how the fold uses it (a register, or a set). crdt_op_check() validates
 * a body against its table with no other input, so whether an op is well
 * formed never depends on what else a store holds. Unknown keys are
 * ignored, so a newer station may add fields.
 */
#ifndef QIAO_CRDT_OP_H
#define QIAO_CRDT_OP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/body.h"
#include "crdt/entry.h"
#include "crdt/err.h"

#define QIAO_DEPS_MAX 32  /* deps an op may list */
#define QIAO_CODE_MAX 24  /* region codes: at most 23 digits */
#define QIAO_TEXT_MAX 4000 /* bytes of a free-text field */
#define QIAO_LINE_MAX 200  /* bytes of a one-line field (name, title) */
#define QIAO_RECKEY_MAX (1 + QIAO_CODE_MAX + QIAO_HASH_LEN)

/* Record kinds; the letter is the first byte of the record's key. */
enum crdt_rec_kind {
	CRDT_REC_CASE = 'C',
	CRDT_REC_GRID = 'G',
	CRDT_REC_MEETING = 'M',
	CRDT_REC_REG = 'R',
};

/* What an op targets. */
typedef struct crdt_op_target {
	char kind;                     /* enum crdt_rec_kind */
	char code[QIAO_CODE_MAX];      /* the record's region code */
	uint8_t id[QIAO_HASH_LEN];     /* hash-named records; zeros for grids */
	bool creates;                  /* the op creates its record */
} crdt_op_target;

/* Field kinds and flags of the per-type tables. */
enum crdt_field_kind {
	CRDT_F_STR,    /* UTF-8 string of 1..max bytes */
	CRDT_F_CODE,   /* region code: 1..23 ASCII digits */
	CRDT_F_UINT,
	CRDT_F_BOOL,
	CRDT_F_HASH,   /* bin 32 */
	CRDT_F_STRS,   /* array of up to max strings (of QIAO_LINE_MAX) */
	CRDT_F_HASHES, /* array of up to max bin 32 */
};

#define CRDT_FIELD_REQ 0x1u /* must be present */

typedef struct crdt_op_field {
	const char *key;
	enum crdt_field_kind kind;
	unsigned flags;
	size_t max;                /* string bytes or array elements */
	const char *const *oneof;  /* allowed strings, NULL-terminated */
	const char *reg;           /* register the fold writes, or NULL */
	const char *set;           /* add-wins set the fold adds to, or NULL */
} crdt_op_field;

/* True for the types this module describes (grids, registry, cases,
 * meetings). */
bool crdt_op_is_record(uint64_t type);

/* The field table of a record type (NULL if none); *n gets its length. */
const crdt_op_field *crdt_op_fields(uint64_t type, size_t *n);

/* The table entry of type's field key[0..n), or NULL. */
const crdt_op_field *crdt_op_field_of(uint64_t type, const char *key,
    size_t n);

/*
 * Validates the body of a record op of type and names its target record.
 * entry_hash is the hash of the entry carrying it (it names the record an
 * op creates). QIAO_EMALFORMED with a static reason in *why for a missing
 * or ill-typed field, a value out of bounds or not allowed, a region code of
 * the wrong length for what it names; QIAO_EINVAL if type is not a record
 * type. *t is written only on success.
 */
int crdt_op_check(uint64_t type, const uint8_t *body, size_t len,
    const uint8_t entry_hash[QIAO_HASH_LEN], crdt_op_target *t,
    const char **why) QIAO_MUST_USE;

/*
 * Reads the deps of a checked body into out (up to QIAO_DEPS_MAX); *n gets
 * their number (0 when the body has none).
 */
int crdt_op_deps(const uint8_t *body, size_t len,
    uint8_t out[][QIAO_HASH_LEN], size_t *n) QIAO_MUST_USE;

/*
 * Starts the body of an op: the record's code under code_key ("code" or
 * "grid"), the case id (if id is not NULL) and deps (if ndeps > 0; at most
 * QIAO_DEPS_MAX are kept). The caller adds the type's fields and calls
 * crdt_body_finish(). Errors stick in b.
 */
void crdt_op_begin(crdt_body *b, const char *code_key, const char *code,
    const uint8_t *id, const uint8_t (*deps)[QIAO_HASH_LEN], size_t ndeps);

/* Adds an array of strings (parties) as field key. Errors stick in b. */
void crdt_op_strs(crdt_body *b, const char *key, const char *const *v,
    size_t n);
/* Adds an array of hashes (linked cases) as field key. */
void crdt_op_hashes(crdt_body *b, const char *key,
    const uint8_t (*v)[QIAO_HASH_LEN], size_t n);

/*
 * The key of a record in the state tables: kind, code, a NUL, and the id
 * (32 bytes; zeros for grids). out holds QIAO_RECKEY_MAX bytes; returns the
 * length.
 */
size_t crdt_op_reckey(uint8_t *out, char kind, const char *code,
    const uint8_t id[QIAO_HASH_LEN]);

/* Splits a record key; false if it is not one. code holds QIAO_CODE_MAX. */
bool crdt_op_reckey_parse(const uint8_t *key, size_t len, char *kind,
    char *code, uint8_t id[QIAO_HASH_LEN]);

/* True if s is one of the NULL-terminated list. */
bool crdt_op_oneof(const char *const *list, const char *s, size_t n);

/* The allowed values of the enumerated fields, for the CLI's checks. */
extern const char *const crdt_grid_kinds[];    /* town village grid micro
						  shop institution school
						  clinic */
extern const char *const crdt_reg_kinds[];     /* address person house org */
extern const char *const crdt_matters[];       /* family shared public */
extern const char *const crdt_risks[];         /* general major criminal */
extern const char *const crdt_route_levels[];  /* grid village */
extern const char *const crdt_levels[];        /* grid village town
						  district */
extern const char *const crdt_meeting_levels[];/* grid community town */

/* The code length a grid kind has (9, 12, 15, 18), 0 if unknown. */
size_t crdt_grid_kind_len(const char *kind);

#endif
