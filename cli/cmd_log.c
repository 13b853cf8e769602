/*
 * qiao log — the station's signed log: append, show, verify, export, import,
 * forks.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crdt/body.h"
#include "crdt/codec.h"
#include "crdt/hlc.h"
#include "crdt/types.h"
#include "node/ingest.h"
#include "node/logfile.h"
#include "node/store.h"
#include "node/verify.h"

#define USAGE_LOG                                                           \
	"usage: qiao log append [--dir DIR] --type note --text TEXT\n"      \
	"       qiao log show   [--dir DIR] [--author HEX] [--json]\n"      \
	"       qiao log verify [--dir DIR]\n"                              \
	"       qiao log export [--dir DIR] -o FILE [--author HEX] "        \
	"[--from SEQ]\n"                                                    \
	"       qiao log import [--dir DIR] FILE\n"                         \
	"       qiao log forks  [--dir DIR] [--json]\n"                     \
	"\n"                                                                \
	"append  signs a note as the station's next entry; prints seq and hash\n" \
	"show    lists entries (all authors, or one), oldest first per author\n" \
	"verify  re-checks every stored signature, chain and body; prints\n" \
	"        counts; exits 0 only if all hold\n"                        \
	"export  writes raw entries to FILE (format: docs/FORMAT.md)\n"     \
	"import  ingests FILE; reports each rejected entry with its reason\n" \
	"        (bad signature, gap, fork, malformed, unknown author...)\n" \
	"        and exits 1 if any was rejected or any operation refused;\n" \
	"        valid entries are kept\n"                                 \
	"forks   lists fork proofs: two entries one author signed at one seq\n"

struct opts {
	const char *dir;
	const char *type;
	const char *text;
	const char *out;
	bool json;
	bool has_author;
	uint8_t author[QIAO_KEY_LEN];
	uint64_t from;
};

/* Parses the options every log subcommand may take; each then checks that
 * only its own were given. */
static int
parse(const char *cmd, int argc, char **argv, struct opts *o)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "type", required_argument, NULL, 't' },
		{ "text", required_argument, NULL, 'x' },
		{ "author", required_argument, NULL, 'a' },
		{ "from", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, rc;

	memset(o, 0, sizeof(*o));
	o->dir = cli_default_dir();
	while ((ch = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			o->dir = optarg;
			break;
		case 't':
			o->type = optarg;
			break;
		case 'x':
			o->text = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'a':
			if ((rc = cli_parse_key(cmd, "--author", optarg,
				 o->author)) != CLI_OK)
				return rc;
			o->has_author = true;
			break;
		case 'f':
			if ((rc = cli_parse_u64(cmd, "--from", optarg,
				 &o->from)) != CLI_OK)
				return rc;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			return cli_help("log") == CLI_OK ? -1 : CLI_USAGE;
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	return CLI_OK;
}

/* Refuses options that mean nothing to this subcommand. */
static int
only(const char *cmd, const struct opts *o, const char *allowed)
{
	if (o->type && !strchr(allowed, 't'))
		return cli_usage(cmd, "--type does not apply here");
	if (o->text && !strchr(allowed, 'x'))
		return cli_usage(cmd, "--text does not apply here");
	if (o->out && !strchr(allowed, 'o'))
		return cli_usage(cmd, "-o does not apply here");
	if (o->has_author && !strchr(allowed, 'a'))
		return cli_usage(cmd, "--author does not apply here");
	if (o->from && !strchr(allowed, 'f'))
		return cli_usage(cmd, "--from does not apply here");
	if (o->json && !strchr(allowed, 'j'))
		return cli_usage(cmd, "--json does not apply here");
	return CLI_OK;
}

static int
log_append(const char *cmd, int argc, char **argv, struct opts *o)
{
	char hex[2 * QIAO_HASH_LEN + 1];
	const char *why = NULL;
	crdt_body b;
	crdt_entry e;
	uint8_t *body;
	size_t len;
	node *n;
	int rc;

	if ((rc = only(cmd, o, "tx")) != CLI_OK ||
	    (rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if (o->type == NULL || o->text == NULL)
		return cli_usage(cmd, "--type and --text are required");
	if (strcmp(o->type, "note") != 0)
		return cli_usage(cmd, "--type must be note (records have "
				      "their own commands)");
	if (*o->text == '\0')
		return cli_usage(cmd, "--text must not be empty");
	crdt_body_init(&b);
	crdt_body_cstr(&b, "text", o->text);
	rc = crdt_body_finish(&b, &body, &len);
	crdt_body_fini(&b);
	if (rc == QIAO_EINVAL)
		return cli_usage(cmd, "--text is not valid UTF-8");
	if (rc == QIAO_ETOOBIG)
		return cli_usage(cmd, "--text is longer than %d bytes",
		    QIAO_BODY_MAX - 16);
	if (rc != QIAO_OK)
		return cli_fail(cmd, "%s", qiao_strerror(rc));
	if ((rc = cli_open(cmd, o->dir, &n)) != CLI_OK) {
		free(body);
		return rc;
	}
	rc = node_append(n, QIAO_T_NOTE, body, len, &e, &why);
	free(body);
	if (rc != QIAO_OK) {
		rc = cli_append_fail(cmd, n, rc, why);
		node_close(n);
		return rc;
	}
	node_close(n);
	printf("%llu %s\n", (unsigned long long)e.seq,
	    cli_hex(hex, e.hash, QIAO_HASH_LEN));
	return CLI_OK;
}

struct shower {
	node_txn *txn;
	bool json;
	json_t *list;
	int rc;
};

static json_t *
entry_json(const crdt_entry *e, const uint8_t *body, size_t blen)
{
	char hex[2 * QIAO_HASH_LEN + 1], iso[40];
	const char *name = crdt_type_name(e->type);
	json_t *o = json_object();

	json_object_set_new(o, "author",
	    json_string(cli_hex(hex, e->author, QIAO_KEY_LEN)));
	json_object_set_new(o, "seq", json_integer((json_int_t)e->seq));
	json_object_set_new(o, "hash",
	    json_string(cli_hex(hex, e->hash, QIAO_HASH_LEN)));
	json_object_set_new(o, "prev", e->has_prev
		? json_string(cli_hex(hex, e->prev, QIAO_HASH_LEN))
		: json_null());
	json_object_set_new(o, "hlc", json_integer((json_int_t)e->hlc));
	json_object_set_new(o, "time",
	    json_string(cli_time_iso(iso, sizeof(iso), crdt_hlc_ms(e->hlc))));
	json_object_set_new(o, "type", json_integer((json_int_t)e->type));
	json_object_set_new(o, "type_name",
	    name ? json_string(name) : json_null());
	json_object_set_new(o, "body", body != NULL
		? cli_json_from_msgpack(body, blen)
		: json_null());
	return o;
}

static void
entry_line(const crdt_entry *e, const uint8_t *body, size_t blen)
{
	char ahex[2 * QIAO_KEY_LEN + 1], hhex[2 * QIAO_HASH_LEN + 1], t[32];
	const char *name = crdt_type_name(e->type);
	const char *text;
	size_t tlen;

	printf("%.12s %6llu  %s  %-7s %.12s  ",
	    cli_hex(ahex, e->author, QIAO_KEY_LEN),
	    (unsigned long long)e->seq,
	    cli_time(t, sizeof(t), crdt_hlc_ms(e->hlc)), name ? name : "?",
	    cli_hex(hhex, e->hash, QIAO_HASH_LEN));
	if (body == NULL) {
		printf("(body not held)\n");
	} else if (e->type == QIAO_T_NOTE &&
	    crdt_body_get_str(body, blen, "text", &text, &tlen) == QIAO_OK) {
		printf("%.*s\n", (int)tlen, text);
	} else {
		json_t *j = cli_json_from_msgpack(body, blen);
		char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

		printf("%s\n", s ? s : "?");
		free(s);
		json_decref(j);
	}
}

static int
show_author(struct shower *s, const uint8_t *author)
{
	node_head h;
	crdt_entry e;
	int rc = node_store_head_get(s->txn, author, &h);

	if (rc != QIAO_OK)
		return rc;
	for (uint64_t seq = 1; seq <= h.seq; seq++) {
		const uint8_t *body = NULL;
		size_t blen = 0;

		if ((rc = node_store_entry_get(s->txn, author, seq, &e)) != 0)
			return rc;
		rc = node_store_body_get(s->txn, e.body_hash, &body, &blen);
		if (rc == QIAO_ENOTFOUND)
			body = NULL;
		else if (rc != QIAO_OK)
			return rc;
		if (s->json)
			json_array_append_new(s->list,
			    entry_json(&e, body, blen));
		else
			entry_line(&e, body, blen);
	}
	return QIAO_OK;
}

static int
on_show_author(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	(void)klen;
	(void)val;
	(void)vlen;
	return show_author(ctx, key);
}

static int
log_show(const char *cmd, int argc, char **argv, struct opts *o)
{
	struct shower s = { 0 };
	node *n;
	int rc;

	if ((rc = only(cmd, o, "aj")) != CLI_OK ||
	    (rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if ((rc = cli_open(cmd, o->dir, &n)) != CLI_OK)
		return rc;
	s.json = o->json;
	s.list = json_array();
	rc = node_store_txn_begin(node_get_store(n), false, &s.txn);
	if (rc == QIAO_OK && o->has_author) {
		rc = show_author(&s, o->author);
		if (rc == QIAO_ENOTFOUND) {
			node_store_txn_abort(s.txn);
			node_close(n);
			json_decref(s.list);
			return cli_fail(cmd, "no entries of that author");
		}
	} else if (rc == QIAO_OK) {
		rc = node_store_scan(s.txn, NODE_TB_HEADS, NULL, 0,
		    on_show_author, &s);
	}
	node_store_txn_abort(s.txn);
	node_close(n);
	if (rc != QIAO_OK) {
		json_decref(s.list);
		return cli_fail(cmd, "%s", qiao_strerror(rc));
	}
	if (s.json)
		return cli_json_print(s.list);
	json_decref(s.list);
	return CLI_OK;
}

static void
verify_report(void *ctx, const uint8_t *author, uint64_t seq,
    const char *what)
{
	char hex[2 * QIAO_KEY_LEN + 1];

	(void)ctx;
	if (author != NULL)
		fprintf(stderr, "qiao: log verify: author %.16s seq %llu: %s\n",
		    cli_hex(hex, author, QIAO_KEY_LEN),
		    (unsigned long long)seq, what);
	else
		fprintf(stderr, "qiao: log verify: %s\n", what);
}

static int
log_verify(const char *cmd, int argc, char **argv, struct opts *o)
{
	node_verify_stats st;
	node *n;
	int rc;

	if ((rc = only(cmd, o, "")) != CLI_OK ||
	    (rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if ((rc = cli_open(cmd, o->dir, &n)) != CLI_OK)
		return rc;
	rc = node_verify_store(n, &st, verify_report, NULL);
	node_close(n);
	if (rc != QIAO_OK)
		return cli_fail(cmd, "%s", qiao_strerror(rc));
	printf("authors %llu, entries %llu, bodies %llu, forks held %llu\n"
	       "bad entries %llu, broken chains %llu, bad bodies %llu\n",
	    (unsigned long long)st.authors, (unsigned long long)st.entries,
	    (unsigned long long)st.bodies, (unsigned long long)st.forks,
	    (unsigned long long)st.bad_entries,
	    (unsigned long long)st.bad_chains,
	    (unsigned long long)st.bad_bodies);
	if (st.bad_entries || st.bad_chains || st.bad_bodies)
		return cli_fail(cmd, "the store does not verify");
	return CLI_OK;
}

static int
log_export(const char *cmd, int argc, char **argv, struct opts *o)
{
	uint64_t count;
	node *n;
	int rc;

	if ((rc = only(cmd, o, "oaf")) != CLI_OK ||
	    (rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if (o->out == NULL)
		return cli_usage(cmd, "-o FILE is required");
	if ((rc = cli_check_out(cmd, o->out)) != CLI_OK ||
	    (rc = cli_open(cmd, o->dir, &n)) != CLI_OK)
		return rc;
	rc = node_logfile_export(n, o->out, o->has_author ? o->author : NULL,
	    o->from, &count);
	node_close(n);
	if (rc != QIAO_OK)
		return cli_fail(cmd, "cannot write %s: %s", o->out,
		    qiao_strerror(rc));
	printf("exported %llu entries to %s\n", (unsigned long long)count,
	    o->out);
	return CLI_OK;
}

static void
import_report(void *ctx, size_t index, const node_ingest_item *it,
    const char *why)
{
	char hex[2 * QIAO_KEY_LEN + 1];

	(void)ctx;
	if (it->rc == QIAO_EMALFORMED && it->e.seq == 0)
		fprintf(stderr, "qiao: log import: entry %zu: %s\n", index,
		    why);
	else
		fprintf(stderr,
		    "qiao: log import: entry %zu (author %.16s, seq %llu): "
		    "%s\n",
		    index, cli_hex(hex, it->e.author, QIAO_KEY_LEN),
		    (unsigned long long)it->e.seq, why);
}

static int
log_import(const char *cmd, int argc, char **argv, struct opts *o)
{
	node_ingest_stats st = { 0 };
	char err[512];
	node *n;
	int rc;

	if ((rc = only(cmd, o, "")) != CLI_OK)
		return rc;
	if (optind != argc - 1)
		return cli_usage(cmd, "give exactly one FILE");
	if ((rc = cli_open(cmd, o->dir, &n)) != CLI_OK)
		return rc;
	rc = node_logfile_import(n, argv[optind], import_report, NULL, &st,
	    err, sizeof(err));
	node_close(n);
	printf("stored %zu, already held %zu, rejected %zu, refused %zu\n",
	    st.stored, st.duplicate, st.rejected, st.refused);
	if (rc != QIAO_OK)
		return cli_fail(cmd, "%s", err);
	if (st.rejected > 0)
		return cli_fail(cmd, "%zu entries rejected", st.rejected);
	/* Kept in the log, but refused by every honest node: an operator
	 * must hear of it. */
	if (st.refused > 0)
		return cli_fail(cmd, "%zu operations refused", st.refused);
	return CLI_OK;
}

struct forks {
	bool json;
	json_t *list;
	node_txn *txn;
};

static int
on_fork(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct forks *f = ctx;
	const uint8_t *k = key;
	char a[2 * QIAO_KEY_LEN + 1], h1[2 * QIAO_HASH_LEN + 1],
	    h2[2 * QIAO_HASH_LEN + 1];
	uint64_t seq;
	crdt_entry held;
	int rc;

	(void)val;
	(void)vlen;
	if (klen != QIAO_KEY_LEN + 8 + QIAO_HASH_LEN)
		return QIAO_ESTORE;
	seq = node_store_rd64(k + QIAO_KEY_LEN);
	if ((rc = node_store_entry_get(f->txn, k, seq, &held)) != QIAO_OK &&
	    rc != QIAO_ENOTFOUND)
		return rc;
	cli_hex(a, k, QIAO_KEY_LEN);
	cli_hex(h2, k + QIAO_KEY_LEN + 8, QIAO_HASH_LEN);
	if (rc == QIAO_OK)
		cli_hex(h1, held.hash, QIAO_HASH_LEN);
	else
		snprintf(h1, sizeof(h1), "-");
	if (f->json) {
		json_t *o = json_object();

		json_object_set_new(o, "author", json_string(a));
		json_object_set_new(o, "seq", json_integer((json_int_t)seq));
		json_object_set_new(o, "held", json_string(h1));
		json_object_set_new(o, "other", json_string(h2));
		json_array_append_new(f->list, o);
	} else {
		printf("author %s seq %llu\n  held  %s\n  other %s\n", a,
		    (unsigned long long)seq, h1, h2);
	}
	return 0;
}

static int
log_forks(const char *cmd, int argc, char **argv, struct opts *o)
{
	struct forks f = { .json = o->json };
	node *n;
	int rc;

	if ((rc = only(cmd, o, "j")) != CLI_OK ||
	    (rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if ((rc = cli_open(cmd, o->dir, &n)) != CLI_OK)
		return rc;
	f.list = json_array();
	rc = node_store_txn_begin(node_get_store(n), false, &f.txn);
	if (rc == QIAO_OK)
		rc = node_store_scan(f.txn, NODE_TB_FORKS, NULL, 0, on_fork,
		    &f);
	node_store_txn_abort(f.txn);
	node_close(n);
	if (rc != QIAO_OK) {
		json_decref(f.list);
		return cli_fail(cmd, "%s", qiao_strerror(rc));
	}
	if (f.json)
		return cli_json_print(f.list);
	if (json_array_size(f.list) == 0)
		printf("no forks\n");
	json_decref(f.list);
	return CLI_OK;
}

static int
cmd_log(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(const char *, int, char **, struct opts *);
	} subs[] = {
		{ "append", log_append },
		{ "show", log_show },
		{ "verify", log_verify },
		{ "export", log_export },
		{ "import", log_import },
		{ "forks", log_forks },
	};
	char cmd[32];
	struct opts o;
	int rc;

	if (argc < 2)
		return cli_usage("log", "which? (append, show, verify, "
					"export, import, forks)");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cli_help("log");
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (strcmp(argv[1], subs[i].name) != 0)
			continue;
		snprintf(cmd, sizeof(cmd), "log %s", subs[i].name);
		rc = parse(cmd, argc - 1, argv + 1, &o);
		if (rc == -1)
			return CLI_OK; /* --help was printed */
		if (rc != CLI_OK)
			return rc;
		return subs[i].fn(cmd, argc - 1, argv + 1, &o);
	}
	return cli_usage("log", "unknown subcommand \"%s\"", argv[1]);
}

const cli_cmd cli_cmd_log = { "log", cmd_log,
	"append, show, verify, export, import the log", USAGE_LOG };
