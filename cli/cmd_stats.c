/*
 * qiao stats, qiao digest, qiao reindex — what the towns and the district
 * report, a digest of the state, and rebuilding state from the logs.
 *
 * Definitions (docs/OPERATIONS.md, "Statistics"): over cases opened
 * (intake) within the dates and under the region code given,
 *   screened             cases opened
 *   resolved             cases now resolved, evaluated, visited or closed
 *   resolution_rate      resolved / screened
 *   grassroots_resolved  resolved cases resolved at grid, village or town
 *                        level (below the district), as the district counts
 *   grassroots_resolution_rate  grassroots_resolved / screened
 *   satisfaction_rate    satisfied / evaluated (the latest evaluation)
 *   sla_*_rate           cases whose first accept / arrive / feedback came
 *                        within 1 / 5 / 10 minutes of intake, / screened
 *   meetings             meetings held (by their date)
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/records.h"
#include "crdt/hex.h"
#include "node/ingest.h"
#include "node/state.h"

#define USAGE_STATS                                                         \
	"usage: qiao stats [--dir DIR] [--under CODE] "                     \
	"[--by town|village|grid]\n"                                        \
	"                  [--from DATE] [--to DATE] [--json|--csv]\n"      \
	"\n"                                                                \
	"Case statistics over cases opened between --from and --to\n"       \
	"(YYYY-MM-DD, inclusive) under the region code --under:\n"          \
	"  screened            cases opened\n"                              \
	"  resolved            cases resolved (resolved, evaluated, visited\n" \
	"                      or closed now)\n"                            \
	"  resolution rate     resolved / screened\n"                       \
	"  grassroots resolved resolved at grid, village or town level\n"   \
	"  grassroots rate     grassroots resolved / screened\n"            \
	"  satisfaction rate   satisfied / evaluated cases\n"               \
	"  SLA rates           cases responded to within 1 minute, arrived\n" \
	"                      within 5, fed back within 10 (from intake),\n" \
	"                      / screened\n"                                \
	"  meetings            meetings held\n"                             \
	"--by groups the figures per town, village or grid (with a total).\n" \
	"--json prints rates as fractions 0..1 (null when nothing to\n"     \
	"divide by); --csv prints one row per group and a total row.\n"

#define USAGE_DIGEST                                                        \
	"usage: qiao digest [--dir DIR] [--under CODE] [--json]\n"          \
	"\n"                                                                \
	"Prints a digest (64 hex digits) of the record state: every grid,\n" \
	"registry record, case and meeting (under CODE). Two stores holding\n" \
	"the same entries, received in any order, print the same digest.\n"

#define USAGE_REINDEX                                                       \
	"usage: qiao reindex [--dir DIR] [--json]\n"                        \
	"\n"                                                                \
	"Rebuilds all derived state (trust, then every record) from the\n"  \
	"logs in one transaction, and reports the time taken and whether\n" \
	"the state digest is unchanged.\n"

struct acc {
	uint64_t screened, resolved, grassroots, evaluated, satisfied;
	uint64_t sla[3], meetings;
};

struct group {
	char code[QIAO_CODE_MAX];
	struct acc a;
};

struct sopts {
	const char *dir, *under;
	size_t by; /* group code length: 9, 12, 15; 0 none */
	const char *by_name;
	bool json, csv, has_from, has_to;
	uint64_t from, to;
};

struct stats {
	const struct sopts *o;
	struct acc total;
	struct group *g;
	size_t ng, cap;
};

static struct acc *
group_of(struct stats *s, const char *code)
{
	size_t n = strlen(code);

	if (s->o->by == 0 || n < s->o->by)
		return NULL;
	/* Summaries come in code order, so the group is usually the last. */
	for (size_t i = s->ng; i-- > 0;)
		if (strncmp(s->g[i].code, code, s->o->by) == 0)
			return &s->g[i].a;
	if (s->ng == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct group *v = realloc(s->g, cap * sizeof(*v));

		if (v == NULL)
			return NULL;
		s->g = v;
		s->cap = cap;
	}
	memset(&s->g[s->ng], 0, sizeof(s->g[s->ng]));
	memcpy(s->g[s->ng].code, code, s->o->by);
	s->g[s->ng].code[s->o->by] = '\0';
	return &s->g[s->ng++].a;
}

static bool
in_range(const struct sopts *o, uint64_t ms)
{
	return (!o->has_from || ms >= o->from) && (!o->has_to || ms <= o->to);
}

static void
count_case(struct acc *a, const crdt_rec_summary *s)
{
	static const uint64_t target[3] = { QIAO_SLA_RESPONSE_MS,
		QIAO_SLA_ARRIVAL_MS, QIAO_SLA_FEEDBACK_MS };
	const uint64_t got[3] = { s->response_ms, s->arrival_ms,
		s->feedback_ms };

	a->screened++;
	if (crdt_case_status_resolved(s->status)) {
		a->resolved++;
		/* crdt_levels: grid, village, town, district (1-based). */
		if (s->level >= 1 && s->level <= 3)
			a->grassroots++;
	}
	if (s->evaluation != 0) {
		a->evaluated++;
		a->satisfied += s->evaluation == 2;
	}
	for (int i = 0; i < 3; i++)
		a->sla[i] += got[i] != CRDT_SUM_NONE && got[i] <= target[i];
}

static int
on_case(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
    size_t len)
{
	struct stats *s = ctx;
	crdt_rec_summary sum;
	char kind, code[QIAO_CODE_MAX];
	uint8_t id[QIAO_HASH_LEN];
	struct acc *g;

	if (crdt_rec_summary_decode(&sum, val, len) != QIAO_OK ||
	    !crdt_op_reckey_parse(key, klen, &kind, code, id))
		return QIAO_ESTORE;
	if (!(sum.flags & CRDT_SUM_OPENED) || !in_range(s->o, sum.time_ms))
		return 0;
	count_case(&s->total, &sum);
	if ((g = group_of(s, code)) != NULL)
		count_case(g, &sum);
	else if (s->o->by && strlen(code) >= s->o->by)
		return QIAO_ENOMEM;
	return 0;
}

static int
on_meeting(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
    size_t len)
{
	struct stats *s = ctx;
	crdt_rec_summary sum;
	char kind, code[QIAO_CODE_MAX];
	uint8_t id[QIAO_HASH_LEN];
	struct acc *g;

	if (crdt_rec_summary_decode(&sum, val, len) != QIAO_OK ||
	    !crdt_op_reckey_parse(key, klen, &kind, code, id))
		return QIAO_ESTORE;
	if (!(sum.flags & CRDT_SUM_OPENED) || !in_range(s->o, sum.time_ms))
		return 0;
	s->total.meetings++;
	/* A town's joint meeting belongs to no village or grid. */
	if ((g = group_of(s, code)) != NULL)
		g->meetings++;
	return 0;
}

static int
group_cmp(const void *a, const void *b)
{
	return strcmp(((const struct group *)a)->code,
	    ((const struct group *)b)->code);
}

/* rate = num / den as a fraction, or a negative number when den is 0. */
static double
rate(uint64_t num, uint64_t den)
{
	return den == 0 ? -1.0 : (double)num / (double)den;
}

static json_t *
json_rate(uint64_t num, uint64_t den)
{
	return den == 0 ? json_null() : json_real(rate(num, den));
}

static json_t *
acc_json(const struct acc *a)
{
	json_t *j = json_object();

	json_object_set_new(j, "screened", json_integer((json_int_t)a->screened));
	json_object_set_new(j, "resolved", json_integer((json_int_t)a->resolved));
	json_object_set_new(j, "resolution_rate",
	    json_rate(a->resolved, a->screened));
	json_object_set_new(j, "grassroots_resolved",
	    json_integer((json_int_t)a->grassroots));
	json_object_set_new(j, "grassroots_resolution_rate",
	    json_rate(a->grassroots, a->screened));
	json_object_set_new(j, "evaluated",
	    json_integer((json_int_t)a->evaluated));
	json_object_set_new(j, "satisfied",
	    json_integer((json_int_t)a->satisfied));
	json_object_set_new(j, "satisfaction_rate",
	    json_rate(a->satisfied, a->evaluated));
	json_object_set_new(j, "sla_response_rate",
	    json_rate(a->sla[0], a->screened));
	json_object_set_new(j, "sla_arrival_rate",
	    json_rate(a->sla[1], a->screened));
	json_object_set_new(j, "sla_feedback_rate",
	    json_rate(a->sla[2], a->screened));
	json_object_set_new(j, "meetings", json_integer((json_int_t)a->meetings));
	return j;
}

/* "97.75%", or "-" with nothing to divide by. */
static const char *
pct(char *buf, size_t cap, uint64_t num, uint64_t den)
{
	if (den == 0)
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%.2f%%", 100.0 * rate(num, den));
	return buf;
}

static void
print_total(const struct acc *a)
{
	char p[32];

	printf("screened                %llu\n",
	    (unsigned long long)a->screened);
	printf("resolved                %llu\n",
	    (unsigned long long)a->resolved);
	printf("resolution rate         %s\n",
	    pct(p, sizeof(p), a->resolved, a->screened));
	printf("grassroots resolved     %llu\n",
	    (unsigned long long)a->grassroots);
	printf("grassroots rate         %s\n",
	    pct(p, sizeof(p), a->grassroots, a->screened));
	printf("satisfaction rate       %s  (%llu of %llu evaluated)\n",
	    pct(p, sizeof(p), a->satisfied, a->evaluated),
	    (unsigned long long)a->satisfied,
	    (unsigned long long)a->evaluated);
	printf("SLA response rate       %s  (within 1 minute)\n",
	    pct(p, sizeof(p), a->sla[0], a->screened));
	printf("SLA arrival rate        %s  (within 5 minutes)\n",
	    pct(p, sizeof(p), a->sla[1], a->screened));
	printf("SLA feedback rate       %s  (within 10 minutes)\n",
	    pct(p, sizeof(p), a->sla[2], a->screened));
	printf("meetings held           %llu\n",
	    (unsigned long long)a->meetings);
}

static int
table_row(rec_table *t, const char *code, const char *name,
    const struct acc *a)
{
	char c[6][24], p[7][16];

	snprintf(c[0], sizeof(c[0]), "%llu", (unsigned long long)a->screened);
	snprintf(c[1], sizeof(c[1]), "%llu", (unsigned long long)a->resolved);
	snprintf(c[2], sizeof(c[2]), "%llu",
	    (unsigned long long)a->grassroots);
	snprintf(c[3], sizeof(c[3]), "%llu", (unsigned long long)a->meetings);
	return rec_table_add(t, (const char *const[]) { code, name, c[0], c[1],
	    pct(p[0], 16, a->resolved, a->screened), c[2],
	    pct(p[1], 16, a->grassroots, a->screened),
	    pct(p[2], 16, a->satisfied, a->evaluated),
	    pct(p[3], 16, a->sla[0], a->screened),
	    pct(p[4], 16, a->sla[1], a->screened),
	    pct(p[5], 16, a->sla[2], a->screened), c[3] });
}

static void
csv_rate(uint64_t num, uint64_t den)
{
	if (den == 0)
		printf(",");
	else
		printf(",%.6f", rate(num, den));
}

static void
csv_row(const char *code, const char *name, const struct acc *a)
{
	/* Names are one-line texts; quote them, doubling any quote. */
	printf("%s,\"", code);
	for (const char *p = name; *p; p++)
		printf(*p == '"' ? "\"\"" : "%c", *p);
	printf("\",%llu,%llu", (unsigned long long)a->screened,
	    (unsigned long long)a->resolved);
	csv_rate(a->resolved, a->screened);
	printf(",%llu", (unsigned long long)a->grassroots);
	csv_rate(a->grassroots, a->screened);
	csv_rate(a->satisfied, a->evaluated);
	csv_rate(a->sla[0], a->screened);
	csv_rate(a->sla[1], a->screened);
	csv_rate(a->sla[2], a->screened);
	printf(",%llu\n", (unsigned long long)a->meetings);
}

static int
parse_stats(int argc, char **argv, struct sopts *o)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "under", required_argument, NULL, 'u' },
		{ "by", required_argument, NULL, 'b' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "csv", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "stats";
	int ch;

	memset(o, 0, sizeof(*o));
	o->dir = cli_default_dir();
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			o->dir = optarg;
			break;
		case 'u':
			if (!conf_region_ok(optarg))
				return cli_usage(cmd, "--under must be a region "
						      "code of digits, got "
						      "\"%s\"",
				    optarg);
			o->under = optarg;
			break;
		case 'b':
			o->by_name = optarg;
			o->by = strcmp(optarg, "town") == 0	? 9
			    : strcmp(optarg, "village") == 0 ? 12
			    : strcmp(optarg, "grid") == 0    ? 15
							     : 0;
			if (o->by == 0)
				return cli_usage(cmd, "--by must be town, "
						      "village or grid, got "
						      "\"%s\"",
				    optarg);
			break;
		case 'f':
		case 't':
			if (cli_parse_date(optarg, ch == 't',
				ch == 'f' ? &o->from : &o->to) != 0)
				return cli_usage(cmd, "%s must be a date "
						      "YYYY-MM-DD, got \"%s\"",
				    ch == 'f' ? "--from" : "--to", optarg);
			*(ch == 'f' ? &o->has_from : &o->has_to) = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'c':
			o->csv = true;
			break;
		case 'h':
			return cli_help(cmd) == CLI_OK ? -1 : CLI_USAGE;
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if (o->json && o->csv)
		return cli_usage(cmd, "--json and --csv exclude each other");
	if (o->has_from && o->has_to && o->from > o->to)
		return cli_usage(cmd, "--from is after --to");
	if (o->under && o->by && strlen(o->under) >= o->by)
		return cli_usage(cmd, "--under %s is already as fine as --by "
				      "%s",
		    o->under, o->by_name);
	return cli_no_args(cmd, argc, argv);
}

static int
cmd_stats(int argc, char **argv)
{
	static const char *const head[] = { "CODE", "NAME", "SCREENED",
		"RESOLVED", "RATE", "GRASSROOTS", "RATE", "SATISFIED",
		"RESPONSE", "ARRIVAL", "FEEDBACK", "MEETINGS" };
	const char *cmd = "stats";
	struct sopts o;
	struct stats s = { .o = &o };
	char name[QIAO_NAME_MAX];
	node *n;
	node_txn *txn;
	int rc;

	if ((rc = parse_stats(argc, argv, &o)) != CLI_OK)
		return rc == -1 ? CLI_OK : rc;
	if ((rc = rec_open(cmd, o.dir, &n, &txn)) != CLI_OK)
		return rc;
	rc = node_state_summaries(txn, CRDT_REC_CASE, o.under, on_case, &s);
	if (rc == QIAO_OK)
		rc = node_state_summaries(txn, CRDT_REC_MEETING, o.under,
		    on_meeting, &s);
	if (rc != QIAO_OK) {
		rec_close(n, txn);
		free(s.g);
		return cli_fail(cmd, "%s", qiao_strerror(rc));
	}
	if (s.ng > 0)
		qsort(s.g, s.ng, sizeof(*s.g), group_cmp);
	if (o.json) {
		json_t *j = acc_json(&s.total);

		json_object_set_new(j, "under",
		    o.under ? json_string(o.under) : json_null());
		if (o.by) {
			json_t *list = json_array();

			for (size_t i = 0; i < s.ng; i++) {
				json_t *g = acc_json(&s.g[i].a);

				json_object_set_new(g, "code",
				    json_string(s.g[i].code));
				json_object_set_new(g, "name",
				    json_string(rec_place_name(txn,
					s.g[i].code, name, sizeof(name))));
				json_array_append_new(list, g);
			}
			json_object_set_new(j, "by", json_string(o.by_name));
			json_object_set_new(j, "groups", list);
		}
		rec_close(n, txn);
		free(s.g);
		return cli_json_print(j);
	}
	if (o.csv) {
		printf("code,name,screened,resolved,resolution_rate,"
		       "grassroots_resolved,grassroots_resolution_rate,"
		       "satisfaction_rate,sla_response_rate,sla_arrival_rate,"
		       "sla_feedback_rate,meetings\n");
		for (size_t i = 0; i < s.ng; i++)
			csv_row(s.g[i].code, rec_place_name(txn, s.g[i].code,
			    name, sizeof(name)), &s.g[i].a);
		csv_row(o.under ? o.under : "total",
		    o.under ? rec_place_name(txn, o.under, name, sizeof(name))
			    : "", &s.total);
	} else if (o.by) {
		rec_table t;

		rec_table_init(&t, 12);
		for (size_t i = 0; i < s.ng && rc == QIAO_OK; i++)
			rc = table_row(&t, s.g[i].code, rec_place_name(txn,
			    s.g[i].code, name, sizeof(name)), &s.g[i].a);
		if (rc == QIAO_OK)
			rc = table_row(&t, "total", "", &s.total);
		if (rc == QIAO_OK)
			rec_table_print(&t, head);
		rec_table_fini(&t);
	} else {
		print_total(&s.total);
	}
	rec_close(n, txn);
	free(s.g);
	return rc == QIAO_OK ? CLI_OK : cli_fail(cmd, "%s", qiao_strerror(rc));
}

static int
cmd_digest(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "under", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "digest", *dir = cli_default_dir(), *under = NULL;
	uint8_t d[QIAO_HASH_LEN];
	char hex[2 * QIAO_HASH_LEN + 1];
	uint64_t count = 0;
	bool json = false;
	node *n;
	node_txn *txn;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'u':
			if (!conf_region_ok(optarg))
				return cli_usage(cmd, "--under must be a region "
						      "code of digits, got "
						      "\"%s\"",
				    optarg);
			under = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return cli_help(cmd);
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if ((rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if ((rc = rec_open(cmd, dir, &n, &txn)) != CLI_OK)
		return rc;
	rc = node_state_digest(txn, under, d, &count);
	rec_close(n, txn);
	if (rc != QIAO_OK)
		return cli_fail(cmd, "%s", qiao_strerror(rc));
	cli_hex(hex, d, QIAO_HASH_LEN);
	if (json) {
		json_t *j = json_object();

		json_object_set_new(j, "digest", json_string(hex));
		json_object_set_new(j, "records", json_integer((json_int_t)count));
		json_object_set_new(j, "under",
		    under ? json_string(under) : json_null());
		return cli_json_print(j);
	}
	printf("%s\n", hex);
	return CLI_OK;
}

static double
seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmd_reindex(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "reindex", *dir = cli_default_dir();
	uint8_t before[QIAO_HASH_LEN], after[QIAO_HASH_LEN];
	char hb[2 * QIAO_HASH_LEN + 1], ha[2 * QIAO_HASH_LEN + 1];
	uint64_t entries = 0, records = 0;
	bool json = false, same;
	double t0, secs;
	node *n;
	node_txn *txn;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return cli_help(cmd);
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if ((rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if ((rc = cli_open(cmd, dir, &n)) != CLI_OK)
		return rc;
	t0 = seconds_now();
	if ((rc = node_store_txn_begin(node_get_store(n), true, &txn)) != 0) {
		node_close(n);
		return cli_fail(cmd, "%s", qiao_strerror(rc));
	}
	if ((rc = node_state_digest(txn, NULL, before, NULL)) != QIAO_OK ||
	    (rc = node_store_count(txn, NODE_TB_ENTRIES, &entries)) != 0 ||
	    (rc = node_ingest_rebuild(n, txn)) != QIAO_OK ||
	    (rc = node_state_digest(txn, NULL, after, &records)) != QIAO_OK) {
		node_store_txn_abort(txn);
		node_close(n);
		return cli_fail(cmd, "%s (nothing changed)", qiao_strerror(rc));
	}
	rc = node_store_txn_commit(txn);
	secs = seconds_now() - t0;
	node_close(n);
	if (rc != QIAO_OK)
		return cli_fail(cmd, "%s (nothing changed)", qiao_strerror(rc));
	same = memcmp(before, after, QIAO_HASH_LEN) == 0;
	cli_hex(hb, before, QIAO_HASH_LEN);
	cli_hex(ha, after, QIAO_HASH_LEN);
	if (json) {
		json_t *j = json_object();

		json_object_set_new(j, "entries", json_integer((json_int_t)entries));
		json_object_set_new(j, "records", json_integer((json_int_t)records));
		json_object_set_new(j, "seconds", json_real(secs));
		json_object_set_new(j, "entries_per_s",
		    json_real(secs > 0 ? (double)entries / secs : 0));
		json_object_set_new(j, "digest_before", json_string(hb));
		json_object_set_new(j, "digest_after", json_string(ha));
		json_object_set_new(j, "unchanged", json_boolean(same));
		return cli_json_print(j);
	}
	printf("reindexed %llu entries in %.2f s (%.0f entries/s): %llu "
	       "records\n",
	    (unsigned long long)entries, secs,
	    secs > 0 ? (double)entries / secs : 0.0,
	    (unsigned long long)records);
	if (same)
		printf("digest unchanged: %s\n", ha);
	else
		printf("digest changed: was %s, now %s\n", hb, ha);
	return CLI_OK;
}

const cli_cmd cli_cmd_stats = { "stats", cmd_stats,
	"case statistics: resolution, grassroots, SLA, satisfaction",
	USAGE_STATS };
const cli_cmd cli_cmd_digest = { "digest", cmd_digest,
	"print a digest of the record state", USAGE_DIGEST };
const cli_cmd cli_cmd_reindex = { "reindex", cmd_reindex,
	"rebuild all state from the logs", USAGE_REINDEX };
