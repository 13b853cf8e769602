/*
 * records — what the record commands (grid, reg, meeting, case, stats)
 * share: who this station is, finding a record by id, signing an op,
 * reading fields out of a state, masking personal identifiers, and
 * printing aligned columns of Chinese text.
 */
#ifndef QIAO_CLI_RECORDS_H
#define QIAO_CLI_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "cli/cli.h"
#include "crdt/body.h"
#include "crdt/op.h"
#include "crdt/record.h"
#include "node/node.h"
#include "node/state.h"
#include "node/store.h"
#include "node/trust.h"

/* Ids are shown as the first 12 hex digits of the record's hash; any
 * unique prefix of 8 or more digits finds it. */
#define REC_ID_SHOW 12

/* A record's state, found and held for reading (valid until the txn
 * ends). */
typedef struct rec {
	uint8_t key[QIAO_RECKEY_MAX];
	size_t klen;
	char kind;
	char code[QIAO_CODE_MAX];
	uint8_t id[QIAO_HASH_LEN];
	const uint8_t *state;
	size_t len;
} rec;

/* Opens the node and a read txn; prints the failure. */
int rec_open(const char *cmd, const char *dir, node **n, node_txn **txn);
/* Ends the txn (NULL ok) and closes the node (NULL ok). */
void rec_close(node *n, node_txn *txn);

/*
 * Finds the record of kind named by text (an id prefix, or a grid code
 * for grids). Prints "no such ...", "ambiguous" or "not an id" and returns
 * CLI_FAIL / CLI_USAGE.
 */
int rec_find(const char *cmd, node_txn *txn, char kind, const char *text,
    rec *out);
/* Loads the record at key into out; QIAO_ENOTFOUND. */
int rec_load(node_txn *txn, const uint8_t *key, size_t klen, rec *out);
/* Fills out from a key and state bytes given by a scan. */
bool rec_from(rec *out, const uint8_t *key, size_t klen, const uint8_t *val,
    size_t len);

/* The 12-hex id of a record into buf (13 bytes). */
const char *rec_short_id(char *buf, const uint8_t id[QIAO_HASH_LEN]);

/* A sub-value of the state (a top-level key: "fields", "sets", "sla"...).
 * QIAO_ENOTFOUND. */
int rec_part(const rec *r, const char *key, const uint8_t **val,
    size_t *len);
/* A register's shown value as a C string ("" and false if absent). */
bool rec_field(const rec *r, const char *reg, char *buf, size_t cap);
/* A register's value as uint / bool; false if absent. */
bool rec_field_uint(const rec *r, const char *reg, uint64_t *out);
bool rec_field_bool(const rec *r, const char *reg, bool *out);
/* Number of entries of a top-level array ("conflicts", "review"). */
size_t rec_count(const rec *r, const char *key);

/* This station's identity (its certificate, or its config before
 * enrolment). Prints the failure. */
int rec_whoami(const char *cmd, node *n, node_txn *txn, node_trust_id *id);

/* The name of the station or grid at code from its grid record, or "". */
const char *rec_place_name(node_txn *txn, const char *code, char *buf,
    size_t cap);

/* Finishes b and signs it as the node's next op of type; prints failures.
 * *e (if not NULL) gets the entry. Frees b. */
int rec_append(const char *cmd, node *n, uint64_t type, crdt_body *b,
    crdt_entry *e);

/*
 * What a write printed: the record's name alone (and after it the case's
 * status, when status is not NULL) on one line, so scripts can capture it;
 * with json, {"<key>": name[, "hash": the entry's hash][, "status": ...]}.
 * hash may be NULL.
 */
int rec_print_written(bool json, const char *key, const char *name,
    const uint8_t *hash, const char *status);

/* True for keys holding personal identifiers (id_no, phone). */
bool rec_personal(const char *key, size_t n);
/* "5001**********1234": keeps the first 4 (3 when short) and last 4. */
const char *rec_mask(char *buf, size_t cap, const char *s, size_t n);
/* The state as JSON with personal identifiers masked unless reveal. */
json_t *rec_json(const rec *r, bool reveal);
/* Masks personal identifiers in j in place, recursively. */
void rec_json_mask(json_t *j);

/* Prints a value of a detail map (msgpack) for people: strings as they
 * are (personal identifiers masked unless reveal), arrays joined by "、",
 * bins as 12 hex digits. */
void rec_print_value(FILE *f, const char *key, size_t klen,
    const uint8_t *val, size_t len, bool reveal);
/* Prints "k=v k=v" of a msgpack map. */
void rec_print_detail(FILE *f, const uint8_t *map, size_t len, bool reveal);

/* Prints each register "  name  value" (names padded to width). */
void rec_print_fields(const rec *r, bool reveal, size_t width);
/* Prints the conflicts: each field with every value kept, who wrote it
 * and when; the last is the one shown meanwhile. Nothing if none. */
void rec_print_conflicts(node_txn *txn, const rec *r, bool reveal,
    const char *indent);
/* Prints the ops kept for review, with why. Nothing if none. */
void rec_print_review(const rec *r, const char *indent);
/* Prints the timeline: time, step, station (and its name), detail. */
void rec_print_timeline(node_txn *txn, const rec *r, bool reveal);

/* A table printed with aligned columns (CJK-aware); cells are copied. */
typedef struct rec_table {
	size_t ncol;
	char **cells;
	size_t n, cap;
	size_t width[16];
} rec_table;

void rec_table_init(rec_table *t, size_t ncol);
int rec_table_add(rec_table *t, const char *const *cells) QIAO_MUST_USE;
/* Prints the header (if not NULL) and rows; the last column unpadded. */
void rec_table_print(rec_table *t, const char *const *header);
void rec_table_fini(rec_table *t);

/* What a list command gathers, row by row: a table for people and the same
 * rows as a JSON array for --json. */
typedef struct rec_lister {
	rec_table t;
	json_t *list;
} rec_lister;

/*
 * The list commands' run: opens dir, passes every record of kind under
 * `under` to fn with ctx (fn adds rows to l), closes, then prints l's JSON
 * array (json) or its table under head (ncol columns). CLI_OK or the exit
 * code of a failure already reported.
 */
int rec_list(const char *cmd, const char *dir, char kind, const char *under,
    node_state_fn fn, void *ctx, rec_lister *l, const char *const *head,
    size_t ncol, bool json);

/* A subcommand: cmd is "group sub"; argv[0] is the sub's name. */
typedef struct rec_sub {
	const char *name;
	int (*fn)(const char *cmd, int argc, char **argv);
} rec_sub;

/* Runs the subcommand argv[1] of group (argv[0]); usage error if none or
 * unknown; "--help" prints the group's help. */
int rec_dispatch(const char *group, const rec_sub *subs, size_t n, int argc,
    char **argv);

/*
 * `qiao <kind> show [--dir DIR] ID [--reveal] [--json]` for any record:
 * its fields, conflicts and timeline (title names the kind for people).
 */
int rec_cmd_show(const char *cmd, int argc, char **argv, char kind,
    const char *title);

/* "m:ss" of a duration in ms into buf. */
const char *rec_duration(char *buf, size_t cap, uint64_t ms);

/* Checks a region code given on the command line: digits, one of the
 * lengths in lens (0-terminated). Prints a usage error naming what. */
int rec_check_code(const char *cmd, const char *what, const char *code,
    const size_t *lens);
/* Checks a string option against a list; prints a usage error. */
int rec_check_oneof(const char *cmd, const char *what, const char *v,
    const char *const *list);
/* Checks a text option: non-empty, at most max bytes, valid UTF-8, and
 * (one-line when max <= QIAO_LINE_MAX) free of control characters. */
int rec_check_text(const char *cmd, const char *what, const char *v,
    size_t max);

#endif
