/*
 * cli — what every `qiao` command shares: the command table, option and
 * error conventions, opening the node, and output helpers.
 *
 * Conventions: results on stdout, errors on stderr as one line
 * "qiao: <command>: <what went wrong>"; exit 0 ok, 1 failure, 2 usage.
 * Every command takes --dir DIR (default $QIAO_DIR, else ./qiao-data),
 * --help, and where it prints results, --json (stable keys, documented in
 * README.md).
 */
#ifndef QIAO_CLI_CLI_H
#define QIAO_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "crdt/entry.h"
#include "node/node.h"

#define QIAO_VERSION "0.1.0"

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

typedef struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
	const char *usage; /* full help text */
} cli_cmd;

/* The command table (cli/main.c) and lookup by name. */
extern const cli_cmd *const cli_commands[];
const cli_cmd *cli_find(const char *name);

/* One per cli/cmd_<group>.c. */
extern const cli_cmd cli_cmd_init, cli_cmd_id, cli_cmd_root, cli_cmd_enroll,
    cli_cmd_revoke, cli_cmd_log;
/* Records, cases and statistics (cmd_grid.c, cmd_meeting.c, cmd_case.c,
 * cmd_stats.c, cmd_sim.c). */
extern const cli_cmd cli_cmd_grid, cli_cmd_reg, cli_cmd_meeting,
    cli_cmd_case, cli_cmd_stats, cli_cmd_digest, cli_cmd_reindex,
    cli_cmd_sim;
/* cli/cmd_node.c, cli/cmd_sync.c */
extern const cli_cmd cli_cmd_node, cli_cmd_sync, cli_cmd_status,
    cli_cmd_heads, cli_cmd_bundle;
/* Audit bundles (cmd_audit.c). */
extern const cli_cmd cli_cmd_audit;

/*
 * Reports a getopt_long failure (c is '?' or ':') as a usage error naming
 * the option; returns CLI_USAGE. Commands use optstring ":" so a missing
 * value is told apart from an unknown option.
 */
int cli_bad_option(const char *cmd, int c, char **argv);
/* Usage error for a leftover positional argument, or CLI_OK if none. */
struct option;
/* The long name ("--grid") of the option getopt_long returned as ch, in
 * buf; never the option's value, which argv[optind - 1] may be. */
const char *cli_opt_name(const struct option *opts, int ch, char *buf,
    size_t len);
int cli_no_args(const char *cmd, int argc, char **argv);

/* Prints "qiao: cmd: message" to stderr; returns CLI_FAIL. */
int cli_fail(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints the message and "try: qiao help CMD"; returns CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints the command's help to stdout; returns CLI_OK. */
int cli_help(const char *cmd);

/* $QIAO_DIR, else ./qiao-data. */
const char *cli_default_dir(void);

/* Opens the node at dir, printing the failure; returns a CLI_ code. */
int cli_open(const char *cmd, const char *dir, node **out);

/*
 * Reports a failed signature/append in one line, saying what the user can
 * do about it (a key file with a loose mode, a missing key, a full disk).
 * Returns CLI_FAIL.
 */
int cli_append_fail(const char *cmd, const node *n, int rc, const char *why);

/* Parses a 64-hex public key; prints a usage error naming what. */
int cli_parse_key(const char *cmd, const char *what, const char *hex,
    uint8_t key[QIAO_KEY_LEN]);
/*
 * Checks, before any work, that FILE can be written where -o names it: a
 * usage error for an empty name; a failure (one line saying why) for a
 * directory, a missing or unwritable parent directory. CLI_OK otherwise.
 */
int cli_check_out(const char *cmd, const char *path);
/* Parses a non-negative integer; prints a usage error naming what. */
int cli_parse_u64(const char *cmd, const char *what, const char *s,
    uint64_t *out);
/* Parses YYYY-MM-DD (local time; end of that day when end_of_day) or
 * "YYYY-MM-DD HH:MM" into Unix ms. QIAO_EINVAL for anything else, also
 * for a day that does not exist (2026-02-30). */
int cli_parse_date(const char *s, bool end_of_day, uint64_t *ms);

/* Hex of a key or hash into buf (2n+1). */
const char *cli_hex(char *buf, const uint8_t *bin, size_t n);
/* Local time "2026-11-27 12:22:20" of Unix ms. */
const char *cli_time(char *buf, size_t len, uint64_t ms);
/* UTC ISO 8601 "2026-11-27T04:22:20.123Z" of Unix ms. */
const char *cli_time_iso(char *buf, size_t len, uint64_t ms);

/* A msgpack value (strict, already checked) as JSON; bins become hex.
 * NULL on failure. */
json_t *cli_json_from_msgpack(const uint8_t *buf, size_t len);
/* Prints j (pretty, UTF-8) and a newline to stdout, then frees it. */
int cli_json_print(json_t *j);

/* Display width of UTF-8 text on a terminal (CJK counts 2). */
size_t cli_text_width(const char *s);
/* Prints s padded with spaces to width columns. */
void cli_print_padded(const char *s, size_t width);

#endif
