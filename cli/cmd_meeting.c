/*
 * qiao meeting — "three meetings for three matters": the grid neighbour
 * meeting (网格邻里会, family matters), the community deliberation
 * (社区评议会, shared matters) and the town joint meeting (镇街联席会,
 * public matters).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/records.h"
#include "crdt/hex.h"
#include "crdt/types.h"
#include "node/state.h"

#define USAGE_MEETING                                                       \
	"usage: qiao meeting add  [--dir DIR] --code CODE "                 \
	"--level grid|community|town\n"                                     \
	"                         --date YYYY-MM-DD --topic TEXT "          \
	"[--attendees N]\n"                                                 \
	"                         [--decision TEXT] [--notice TEXT]\n"      \
	"                         [--evaluation TEXT] [--case ID]... "      \
	"[--json]\n"                                                        \
	"       qiao meeting list [--dir DIR] [--under CODE] [--level L]\n" \
	"                         [--from DATE] [--to DATE] [--json]\n"     \
	"       qiao meeting show [--dir DIR] ID [--json]\n"                \
	"\n"                                                                \
	"A grid neighbour meeting is held under a grid's code (15 or 18\n"  \
	"digits), a community deliberation under its village's (12), a\n"  \
	"town joint meeting under the town's (9). --notice is the public\n" \
	"notice (张榜公示), --evaluation the residents' evaluation, --case\n" \
	"links a case the meeting dealt with (repeatable). add prints the\n" \
	"meeting's id (with --json {\"id\", \"hash\"}).\n"

#define MAX_CASES 64

struct mopts {
	const char *dir, *code, *level, *topic, *decision, *notice, *eval;
	const char *under;
	const char *cases[MAX_CASES];
	size_t ncases;
	bool json, has_att, has_date, has_from, has_to;
	uint64_t attendees, date, from, to;
};

static int
parse(const char *cmd, int argc, char **argv, struct mopts *o,
    const char *allowed)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "code", required_argument, NULL, 'c' },
		{ "level", required_argument, NULL, 'l' },
		{ "date", required_argument, NULL, 'D' },
		{ "topic", required_argument, NULL, 't' },
		{ "attendees", required_argument, NULL, 'a' },
		{ "decision", required_argument, NULL, 'x' },
		{ "notice", required_argument, NULL, 'n' },
		{ "evaluation", required_argument, NULL, 'e' },
		{ "case", required_argument, NULL, 'C' },
		{ "under", required_argument, NULL, 'u' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char oname[32];
	int ch, rc;

	memset(o, 0, sizeof(*o));
	o->dir = cli_default_dir();
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (ch == 'h')
			return cli_help(cmd) == CLI_OK ? -1 : CLI_USAGE;
		if (ch == '?' || ch == ':')
			return cli_bad_option(cmd, ch, argv);
		if (ch != 'd' && strchr(allowed, ch) == NULL)
			return cli_usage(cmd, "%s does not apply here",
			    cli_opt_name(opts, ch, oname, sizeof(oname)));
		switch (ch) {
		case 'd': o->dir = optarg; break;
		case 'c': o->code = optarg; break;
		case 'l': o->level = optarg; break;
		case 't': o->topic = optarg; break;
		case 'x': o->decision = optarg; break;
		case 'n': o->notice = optarg; break;
		case 'e': o->eval = optarg; break;
		case 'u': o->under = optarg; break;
		case 'j': o->json = true; break;
		case 'C':
			if (o->ncases == MAX_CASES)
				return cli_usage(cmd, "at most %d --case",
				    MAX_CASES);
			o->cases[o->ncases++] = optarg;
			break;
		case 'a':
			if ((rc = cli_parse_u64(cmd, "--attendees", optarg,
				 &o->attendees)) != CLI_OK)
				return rc;
			o->has_att = true;
			break;
		case 'D': case 'f': case 'T':
			if (cli_parse_date(optarg, ch == 'T',
				ch == 'D' ? &o->date : ch == 'f' ? &o->from
								 : &o->to) != 0)
				return cli_usage(cmd, "%s must be a date "
						      "YYYY-MM-DD, got \"%s\"",
				    ch == 'D'	? "--date"
				    : ch == 'f' ? "--from"
						: "--to",
				    optarg);
			*(ch == 'D' ? &o->has_date : ch == 'f' ? &o->has_from
							       : &o->has_to) =
			    true;
			break;
		}
	}
	if (o->under != NULL && !conf_region_ok(o->under))
		return cli_usage(cmd, "--under must be a region code of digits, "
				      "got \"%s\"",
		    o->under);
	if (o->level != NULL &&
	    (rc = rec_check_oneof(cmd, "--level", o->level,
		 crdt_meeting_levels)) != CLI_OK)
		return rc;
	return CLI_OK;
}

static int
meeting_add(const char *cmd, int argc, char **argv)
{
	static const size_t lens_town[] = { 9, 0 }, lens_comm[] = { 12, 0 },
			    lens_grid[] = { 15, 18, 0 };
	uint8_t key[QIAO_RECKEY_MAX], ids[MAX_CASES][QIAO_HASH_LEN];
	char id[REC_ID_SHOW + 1];
	struct mopts o;
	node *n = NULL;
	node_txn *txn = NULL;
	node_trust_id me;
	crdt_entry e;
	crdt_body b;
	rec r = { 0 };
	int rc;

	if ((rc = parse(cmd, argc, argv, &o, "clDtaxneCj")) != CLI_OK)
		return rc == -1 ? CLI_OK : rc;
	if ((rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if (!o.code || !o.level || !o.has_date || !o.topic)
		return cli_usage(cmd, "--code, --level, --date and --topic are "
				      "required");
	if ((rc = rec_check_code(cmd, "--code", o.code,
		 strcmp(o.level, "town") == 0	    ? lens_town
		     : strcmp(o.level, "community") == 0 ? lens_comm
							 : lens_grid)) !=
		CLI_OK ||
	    (rc = rec_check_text(cmd, "--topic", o.topic, QIAO_LINE_MAX)) !=
		CLI_OK ||
	    (o.decision && (rc = rec_check_text(cmd, "--decision", o.decision,
				QIAO_TEXT_MAX)) != CLI_OK) ||
	    (o.notice && (rc = rec_check_text(cmd, "--notice", o.notice,
			      QIAO_TEXT_MAX)) != CLI_OK) ||
	    (o.eval && (rc = rec_check_text(cmd, "--evaluation", o.eval,
			    QIAO_TEXT_MAX)) != CLI_OK))
		return rc;
	if ((rc = rec_open(cmd, o.dir, &n, &txn)) != CLI_OK)
		return rc;
	if ((rc = rec_whoami(cmd, n, txn, &me)) != CLI_OK)
		goto out;
	if (!node_trust_region_covers(me.region, o.code)) {
		rc = cli_fail(cmd, "%s is outside this station's region %s",
		    o.code, me.region);
		goto out;
	}
	if (rec_load(txn, key, crdt_op_reckey(key, CRDT_REC_GRID, o.code,
			 NULL), &r) != QIAO_OK) {
		rc = cli_fail(cmd, "no grid %s in this store (add it with qiao "
				   "grid add)",
		    o.code);
		goto out;
	}
	for (size_t i = 0; i < o.ncases; i++) {
		if ((rc = rec_find(cmd, txn, CRDT_REC_CASE, o.cases[i], &r)) !=
		    CLI_OK)
			goto out;
		memcpy(ids[i], r.id, QIAO_HASH_LEN);
	}
	node_store_txn_abort(txn);
	txn = NULL;
	crdt_body_init(&b);
	crdt_op_begin(&b, "code", o.code, NULL, NULL, 0);
	crdt_body_cstr(&b, "level", o.level);
	crdt_body_uint(&b, "date", o.date);
	crdt_body_cstr(&b, "topic", o.topic);
	if (o.has_att)
		crdt_body_uint(&b, "attendees", o.attendees);
	if (o.decision)
		crdt_body_cstr(&b, "decision", o.decision);
	if (o.notice)
		crdt_body_cstr(&b, "notice", o.notice);
	if (o.eval)
		crdt_body_cstr(&b, "evaluation", o.eval);
	if (o.ncases > 0)
		crdt_op_hashes(&b, "cases",
		    (const uint8_t(*)[QIAO_HASH_LEN])ids, o.ncases);
	if ((rc = rec_append(cmd, n, QIAO_T_MEETING, &b, &e)) == CLI_OK)
		rc = rec_print_written(o.json, "id", rec_short_id(id, e.hash),
		    e.hash, NULL);
out:
	rec_close(n, txn);
	return rc;
}

struct lister {
	const struct mopts *o;
	rec_lister out;
};

static int
on_meeting(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
    size_t len)
{
	struct lister *l = ctx;
	char level[32], topic[QIAO_LINE_MAX + 1], date[32], att[24] = "",
	    id[REC_ID_SHOW + 1];
	uint64_t d = 0, a = 0;
	bool has_att;
	rec r = { 0 };

	if (!rec_from(&r, key, klen, val, len))
		return QIAO_ESTORE;
	rec_field(&r, "level", level, sizeof(level));
	rec_field(&r, "topic", topic, sizeof(topic));
	(void)rec_field_uint(&r, "date", &d);
	if (l->o->level && strcmp(level, l->o->level) != 0)
		return 0;
	if ((l->o->has_from && d < l->o->from) ||
	    (l->o->has_to && d > l->o->to))
		return 0;
	if ((has_att = rec_field_uint(&r, "attendees", &a)))
		snprintf(att, sizeof(att), "%llu", (unsigned long long)a);
	cli_time(date, sizeof(date), d);
	date[10] = '\0';
	rec_short_id(id, r.id);
	if (l->o->json) {
		json_t *j = json_object();

		json_object_set_new(j, "id", json_string(id));
		json_object_set_new(j, "code", json_string(r.code));
		json_object_set_new(j, "level", json_string(level));
		json_object_set_new(j, "date", json_string(date));
		json_object_set_new(j, "topic", json_string(topic));
		json_object_set_new(j, "attendees",
		    has_att ? json_integer((json_int_t)a) : json_null());
		json_array_append_new(l->out.list, j);
		return 0;
	}
	return rec_table_add(&l->out.t, (const char *const[]) { id, date,
	    level, r.code, att, topic });
}

static int
meeting_list(const char *cmd, int argc, char **argv)
{
	static const char *const head[] = { "ID", "DATE", "LEVEL", "CODE",
		"ATTENDEES", "TOPIC" };
	struct mopts o;
	struct lister l = { .o = &o };
	int rc;

	if ((rc = parse(cmd, argc, argv, &o, "lufTj")) != CLI_OK)
		return rc == -1 ? CLI_OK : rc;
	if ((rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	return rec_list(cmd, o.dir, CRDT_REC_MEETING, o.under, on_meeting,
	    &l, &l.out, head, 6, o.json);
}

static int
meeting_show(const char *cmd, int argc, char **argv)
{
	return rec_cmd_show(cmd, argc, argv, CRDT_REC_MEETING, "meeting");
}

static int
cmd_meeting(int argc, char **argv)
{
	static const rec_sub subs[] = { { "add", meeting_add },
		{ "list", meeting_list }, { "show", meeting_show } };

	return rec_dispatch("meeting", subs, 3, argc, argv);
}

const cli_cmd cli_cmd_meeting = { "meeting", cmd_meeting,
	"the three meetings: add, list, show", USAGE_MEETING };
