/*
 * qiao case — the closed loop: open, accept, route, transfer, arrive,
 * feedback, mediate, resolve, evaluate, visit, close, reopen, note; show,
 * list, conflicts.
 *
 * Whether a step fits the case (its status, who holds it) is checked here,
 * against this store's state, before anything is signed. The fold
 * (crdt/case.c) never refuses on state, since that would depend on what
 * arrived first; it only keeps a non-custodian's step for review.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/records.h"
#include "crdt/codec.h"
#include "crdt/hlc.h"
#include "crdt/types.h"
#include "node/state.h"

#define USAGE_CASE                                                          \
	"usage: qiao case open [--dir DIR] --grid CODE --category C "       \
	"--title T\n"                                                       \
	"                      [--party NAME]... [--matter M] [--risk R]\n" \
	"                      [--description TEXT] [--source S]\n"         \
	"       qiao case accept   ID [--note T]\n"                         \
	"       qiao case route    ID [--category C] [--matter M] "         \
	"[--risk R]\n"                                                      \
	"                             [--level grid|village] "              \
	"[--assignee NAME]\n"                                               \
	"                             [--party NAME]... [--note T]\n"       \
	"       qiao case transfer ID --to CODE [--body NAME] [--note T]\n" \
	"       qiao case arrive   ID [--note T]\n"                         \
	"       qiao case feedback ID [--note T]\n"                         \
	"       qiao case mediate  ID [--mediator NAME] [--note T]\n"       \
	"       qiao case resolve  ID [--level grid|village|town|district]\n" \
	"                             [--result TEXT] [--note T]\n"         \
	"       qiao case evaluate ID --satisfied yes|no [--by NAME] "      \
	"[--note T]\n"                                                      \
	"       qiao case visit    ID [--by NAME] [--note T]\n"             \
	"       qiao case close    ID [--note T]\n"                         \
	"       qiao case reopen   ID --note REASON\n"                      \
	"       qiao case note     ID --note TEXT\n"                        \
	"       (open and every step also take --json)\n"                  \
	"       qiao case show     ID [--reveal] [--json]\n"                \
	"       qiao case list     [--status S] [--under CODE] [--json]\n"  \
	"       qiao case conflicts [--under CODE] [--json]\n"              \
	"(every form takes --dir DIR)\n"                                    \
	"\n"                                                                \
	"open records a dispute or request in a grid this store holds and\n" \
	"prints the new case's id alone (12 hex digits; any unique prefix of\n" \
	"8 or more finds it). M is family, shared or public; R is general,\n" \
	"major or criminal (may escalate to a criminal case).\n"           \
	"\n"                                                                \
	"The case is held by a station: the one that opened it, until a\n"  \
	"transfer (to the case's village, town or district, optionally a\n" \
	"named --body there such as 派出所) is accepted by the receiver.\n"  \
	"Every step but accept-of-a-transfer and note is the custodian's\n" \
	"(the district may act anywhere). Steps must fit the status:\n"     \
	"  accept    open, or a transfer to this station awaiting it\n"     \
	"  route, transfer, arrive, feedback, mediate, resolve\n"           \
	"            accepted, routed, mediating or reopened\n"             \
	"  evaluate, visit, close   resolved, evaluated or visited\n"       \
	"  reopen    resolved, evaluated, visited or closed\n"              \
	"  note      any\n"                                                 \
	"Each step prints the case's id and its status after the step;\n"  \
	"with --json, open prints {\"id\", \"hash\"} (the entry's hash) and\n" \
	"a step {\"id\", \"hash\", \"status\"}.\n"                         \
	"resolve's --level is where the case was resolved (default: the\n"  \
	"level it is handled at); grid, village and town count as\n"        \
	"grassroots in qiao stats.\n"                                       \
	"\n"                                                                \
	"show prints the fields, the timeline (who, when), conflicts, steps\n" \
	"kept for review, and the response times against the targets:\n"   \
	"respond within 1 minute, arrive within 5, feed back within 10,\n"  \
	"from intake. conflicts lists every case with concurrent values or\n" \
	"steps for review.\n"

#define MAX_PARTIES 32

struct copts {
	const char *dir, *grid, *category, *title, *matter, *risk, *desc;
	const char *source, *note, *level, *assignee, *to, *body, *mediator;
	const char *result, *satisfied, *by, *status, *under;
	const char *parties[MAX_PARTIES];
	size_t nparties;
	bool json, reveal;
};

static int
parse(const char *cmd, int argc, char **argv, struct copts *o,
    const char *allowed)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "grid", required_argument, NULL, 'g' },
		{ "category", required_argument, NULL, 'c' },
		{ "title", required_argument, NULL, 't' },
		{ "party", required_argument, NULL, 'p' },
		{ "matter", required_argument, NULL, 'm' },
		{ "risk", required_argument, NULL, 'r' },
		{ "description", required_argument, NULL, 'D' },
		{ "source", required_argument, NULL, 's' },
		{ "note", required_argument, NULL, 'n' },
		{ "level", required_argument, NULL, 'l' },
		{ "assignee", required_argument, NULL, 'a' },
		{ "to", required_argument, NULL, 'T' },
		{ "body", required_argument, NULL, 'b' },
		{ "mediator", required_argument, NULL, 'M' },
		{ "result", required_argument, NULL, 'R' },
		{ "satisfied", required_argument, NULL, 'S' },
		{ "by", required_argument, NULL, 'B' },
		{ "status", required_argument, NULL, 'x' },
		{ "under", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "reveal", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char oname[32];
	int ch;

	memset(o, 0, sizeof(*o));
	o->dir = cli_default_dir();
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (ch == 'h')
			return cli_help("case") == CLI_OK ? -1 : CLI_USAGE;
		if (ch == '?' || ch == ':')
			return cli_bad_option(cmd, ch, argv);
		if (ch != 'd' && strchr(allowed, ch) == NULL)
			return cli_usage(cmd, "%s does not apply here",
			    cli_opt_name(opts, ch, oname, sizeof(oname)));
		switch (ch) {
		case 'd': o->dir = optarg; break;
		case 'g': o->grid = optarg; break;
		case 'c': o->category = optarg; break;
		case 't': o->title = optarg; break;
		case 'm': o->matter = optarg; break;
		case 'r': o->risk = optarg; break;
		case 'D': o->desc = optarg; break;
		case 's': o->source = optarg; break;
		case 'n': o->note = optarg; break;
		case 'l': o->level = optarg; break;
		case 'a': o->assignee = optarg; break;
		case 'T': o->to = optarg; break;
		case 'b': o->body = optarg; break;
		case 'M': o->mediator = optarg; break;
		case 'R': o->result = optarg; break;
		case 'S': o->satisfied = optarg; break;
		case 'B': o->by = optarg; break;
		case 'x': o->status = optarg; break;
		case 'u': o->under = optarg; break;
		case 'j': o->json = true; break;
		case 'v': o->reveal = true; break;
		case 'p':
			if (o->nparties == MAX_PARTIES)
				return cli_usage(cmd, "at most %d --party",
				    MAX_PARTIES);
			o->parties[o->nparties++] = optarg;
			break;
		}
	}
	return CLI_OK;
}

/* Checks every text option given: one-line ones, and long texts. */
static int
check_texts(const char *cmd, const struct copts *o)
{
	const struct {
		const char *what, *v;
		size_t max;
	} t[] = {
		{ "--category", o->category, QIAO_LINE_MAX },
		{ "--title", o->title, QIAO_LINE_MAX },
		{ "--source", o->source, QIAO_LINE_MAX },
		{ "--assignee", o->assignee, QIAO_LINE_MAX },
		{ "--body", o->body, QIAO_LINE_MAX },
		{ "--mediator", o->mediator, QIAO_LINE_MAX },
		{ "--by", o->by, QIAO_LINE_MAX },
		{ "--description", o->desc, QIAO_TEXT_MAX },
		{ "--note", o->note, QIAO_TEXT_MAX },
		{ "--result", o->result, QIAO_TEXT_MAX },
	};
	int rc;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].v && (rc = rec_check_text(cmd, t[i].what, t[i].v,
				   t[i].max)) != CLI_OK)
			return rc;
	for (size_t i = 0; i < o->nparties; i++)
		if ((rc = rec_check_text(cmd, "--party", o->parties[i],
			 QIAO_LINE_MAX)) != CLI_OK)
			return rc;
	if (o->matter && (rc = rec_check_oneof(cmd, "--matter", o->matter,
			      crdt_matters)) != CLI_OK)
		return rc;
	if (o->risk && (rc = rec_check_oneof(cmd, "--risk", o->risk,
			    crdt_risks)) != CLI_OK)
		return rc;
	return CLI_OK;
}

static int
case_open(const char *cmd, int argc, char **argv)
{
	static const size_t lens[] = { 12, 15, 18, 0 };
	uint8_t key[QIAO_RECKEY_MAX];
	char id[REC_ID_SHOW + 1];
	struct copts o;
	node *n = NULL;
	node_txn *txn = NULL;
	node_trust_id me;
	crdt_entry e;
	crdt_body b;
	rec r = { 0 };
	int rc;

	if ((rc = parse(cmd, argc, argv, &o, "gctpmrDsj")) != CLI_OK)
		return rc == -1 ? CLI_OK : rc;
	if ((rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if (!o.grid || !o.category || !o.title)
		return cli_usage(cmd, "--grid, --category and --title are "
				      "required");
	if ((rc = rec_check_code(cmd, "--grid", o.grid, lens)) != CLI_OK ||
	    (rc = check_texts(cmd, &o)) != CLI_OK)
		return rc;
	if ((rc = rec_open(cmd, o.dir, &n, &txn)) != CLI_OK)
		return rc;
	if ((rc = rec_whoami(cmd, n, txn, &me)) != CLI_OK)
		goto out;
	if (!node_trust_region_covers(me.region, o.grid)) {
		rc = cli_fail(cmd, "grid %s is outside this station's region "
				   "%s",
		    o.grid, me.region);
		goto out;
	}
	if (rec_load(txn, key, crdt_op_reckey(key, CRDT_REC_GRID, o.grid,
			 NULL), &r) != QIAO_OK) {
		rc = cli_fail(cmd, "no grid %s in this store (add it with qiao "
				   "grid add)",
		    o.grid);
		goto out;
	}
	node_store_txn_abort(txn);
	txn = NULL;
	crdt_body_init(&b);
	crdt_op_begin(&b, "grid", o.grid, NULL, NULL, 0);
	crdt_body_cstr(&b, "category", o.category);
	crdt_body_cstr(&b, "title", o.title);
	if (o.nparties > 0)
		crdt_op_strs(&b, "parties", o.parties, o.nparties);
	if (o.matter)
		crdt_body_cstr(&b, "matter", o.matter);
	if (o.risk)
		crdt_body_cstr(&b, "risk", o.risk);
	if (o.desc)
		crdt_body_cstr(&b, "description", o.desc);
	if (o.source)
		crdt_body_cstr(&b, "source", o.source);
	if ((rc = rec_append(cmd, n, QIAO_T_CASE_OPEN, &b, &e)) == CLI_OK)
		rc = rec_print_written(o.json, "id", rec_short_id(id, e.hash),
		    e.hash, NULL);
out:
	rec_close(n, txn);
	return rc;
}

#define S(x) (1u << CRDT_CS_##x)
#define HANDLING (S(ACCEPTED) | S(ROUTED) | S(MEDIATING) | S(REOPENED))
#define DONE (S(RESOLVED) | S(EVALUATED) | S(VISITED))

static const struct step {
	const char *name;
	uint64_t type;
	const char *opts;  /* option letters it takes */
	unsigned statuses; /* where it fits (accept: see below) */
	const char *needs; /* the same, for people */
} steps[] = {
	{ "accept", QIAO_T_CASE_ACCEPT, "nj", S(OPEN), "open" },
	{ "route", QIAO_T_CASE_ROUTE, "cmrlapnj", HANDLING,
	    "accepted, routed, mediating or reopened" },
	{ "transfer", QIAO_T_CASE_TRANSFER, "Tbnj", HANDLING,
	    "accepted, routed, mediating or reopened" },
	{ "arrive", QIAO_T_CASE_ARRIVE, "nj", HANDLING,
	    "accepted, routed, mediating or reopened" },
	{ "feedback", QIAO_T_CASE_FEEDBACK, "nj", HANDLING,
	    "accepted, routed, mediating or reopened" },
	{ "mediate", QIAO_T_CASE_MEDIATE, "Mnj", HANDLING,
	    "accepted, routed, mediating or reopened" },
	{ "resolve", QIAO_T_CASE_RESOLVE, "lRnj", HANDLING,
	    "accepted, routed, mediating or reopened" },
	{ "evaluate", QIAO_T_CASE_EVALUATE, "SBnj", DONE,
	    "resolved, evaluated or visited" },
	{ "visit", QIAO_T_CASE_VISIT, "Bnj", DONE,
	    "resolved, evaluated or visited" },
	{ "close", QIAO_T_CASE_CLOSE, "nj", DONE,
	    "resolved, evaluated or visited" },
	{ "reopen", QIAO_T_CASE_REOPEN, "nj", DONE | S(CLOSED),
	    "resolved, evaluated, visited or closed" },
	{ "note", QIAO_T_CASE_NOTE, "nj", ~0u, "any" },
};

/* What a step needs to know of the case. */
struct view {
	rec r;
	int status;
	char status_name[32];
	char custodian[QIAO_CODE_MAX];
	char level[QIAO_LINE_MAX + 1];
	char pending_to[QIAO_CODE_MAX];
};

static void
read_view(struct view *v)
{
	const uint8_t *f, *p;
	size_t fl;
	crdt_reader rd;

	rec_field(&v->r, "status", v->status_name, sizeof(v->status_name));
	v->status = crdt_case_status_parse(v->status_name);
	rec_field(&v->r, "custodian", v->custodian, sizeof(v->custodian));
	rec_field(&v->r, "level", v->level, sizeof(v->level));
	v->pending_to[0] = '\0';
	if (rec_part(&v->r, "fields", &f, &fl) == QIAO_OK &&
	    crdt_body_get(f, fl, "pending", &rd) == QIAO_OK &&
	    crdt_read_peek(&rd) == CRDT_KIND_MAP) {
		p = rd.p;
		if (crdt_read_skip(&rd) == QIAO_OK &&
		    crdt_body_get_cstr(p, (size_t)(rd.p - p), "to",
			v->pending_to, sizeof(v->pending_to)) != QIAO_OK)
			v->pending_to[0] = '\0';
	}
}

/* Does the step fit the case's status and custody, for this station? */
static int
fits(const char *cmd, const struct step *s, const struct view *v,
    const node_trust_id *me, const char *idtext)
{
	bool privileged = me->role == QIAO_ROLE_DISTRICT ||
	    me->role == QIAO_ROLE_ROOT;
	bool holds = privileged || strcmp(v->custodian, me->region) == 0;

	if (s->type == QIAO_T_CASE_NOTE)
		return CLI_OK;
	if (s->type == QIAO_T_CASE_ACCEPT && v->status == CRDT_CS_TRANSFERRED &&
	    v->pending_to[0]) {
		if (strcmp(v->pending_to, me->region) == 0)
			return CLI_OK;
		return cli_fail(cmd, "case %s awaits acceptance by %s, not "
				     "this station (%s)",
		    idtext, v->pending_to, me->region);
	}
	if (v->status <= CRDT_CS_NONE || !(s->statuses & (1u << v->status)))
		return cli_fail(cmd, "wrong step for the status: case %s is "
				     "%s; %s needs %s",
		    idtext, v->status_name[0] ? v->status_name : "unknown",
		    s->name, s->needs);
	if (!holds)
		return cli_fail(cmd, "this station (%s) does not hold case %s: "
				     "its custodian is %s",
		    me->region, idtext, v->custodian[0] ? v->custodian : "?");
	return CLI_OK;
}

/* Checks the step's own options against the case. */
static int
step_options(const char *cmd, const struct step *s, const struct copts *o,
    const struct view *v, const char **level)
{
	int rc;

	if ((rc = check_texts(cmd, o)) != CLI_OK)
		return rc;
	switch (s->type) {
	case QIAO_T_CASE_ROUTE:
		if (o->level && (rc = rec_check_oneof(cmd, "--level", o->level,
				     crdt_route_levels)) != CLI_OK)
			return rc;
		return CLI_OK;
	case QIAO_T_CASE_TRANSFER: {
		size_t tl;

		if (o->to == NULL)
			return cli_usage(cmd, "--to CODE is required");
		tl = strlen(o->to);
		if (!conf_region_ok(o->to) || (tl != 6 && tl != 9 &&
		    tl != 12) || strncmp(o->to, v->r.code, tl) != 0)
			return cli_usage(cmd, "--to must be the code of the "
					      "case's village, town or "
					      "district (a prefix of %s), got "
					      "\"%s\"",
			    v->r.code, o->to);
		if (strcmp(o->to, v->custodian) == 0 && o->body == NULL)
			return cli_fail(cmd, "%s already holds the case",
			    o->to);
		return CLI_OK;
	}
	case QIAO_T_CASE_RESOLVE:
		if (o->level) {
			if ((rc = rec_check_oneof(cmd, "--level", o->level,
				 crdt_levels)) != CLI_OK)
				return rc;
			*level = o->level;
		} else if (crdt_op_oneof(crdt_levels, v->level,
			       strlen(v->level))) {
			*level = crdt_levels[0];
			for (int i = 0; crdt_levels[i]; i++)
				if (strcmp(crdt_levels[i], v->level) == 0)
					*level = crdt_levels[i];
		} else {
			/* A named body: the level of the station holding
			 * it. */
			size_t cl = strlen(v->custodian);

			*level = cl == 12 ? "village" : cl == 9 ? "town"
							       : "district";
		}
		return CLI_OK;
	case QIAO_T_CASE_EVALUATE:
		if (o->satisfied == NULL)
			return cli_usage(cmd, "--satisfied yes|no is required");
		if (strcmp(o->satisfied, "yes") != 0 &&
		    strcmp(o->satisfied, "no") != 0)
			return cli_usage(cmd, "--satisfied must be yes or no, "
					      "got \"%s\"",
			    o->satisfied);
		return CLI_OK;
	case QIAO_T_CASE_REOPEN:
	case QIAO_T_CASE_NOTE:
		if (o->note == NULL)
			return cli_usage(cmd, "--note is required");
		return CLI_OK;
	default:
		return CLI_OK;
	}
}

static void
add_step_fields(crdt_body *b, const struct step *s, const struct copts *o,
    const char *level)
{
	if (o->note)
		crdt_body_cstr(b, "note", o->note);
	switch (s->type) {
	case QIAO_T_CASE_ROUTE:
		if (o->category)
			crdt_body_cstr(b, "category", o->category);
		if (o->matter)
			crdt_body_cstr(b, "matter", o->matter);
		if (o->risk)
			crdt_body_cstr(b, "risk", o->risk);
		if (o->level)
			crdt_body_cstr(b, "level", o->level);
		if (o->assignee)
			crdt_body_cstr(b, "assignee", o->assignee);
		if (o->nparties > 0)
			crdt_op_strs(b, "parties", o->parties, o->nparties);
		break;
	case QIAO_T_CASE_TRANSFER:
		crdt_body_cstr(b, "to", o->to);
		if (o->body)
			crdt_body_cstr(b, "body", o->body);
		break;
	case QIAO_T_CASE_MEDIATE:
		if (o->mediator)
			crdt_body_cstr(b, "mediator", o->mediator);
		break;
	case QIAO_T_CASE_RESOLVE:
		crdt_body_cstr(b, "level", level);
		if (o->result)
			crdt_body_cstr(b, "result", o->result);
		break;
	case QIAO_T_CASE_EVALUATE:
		crdt_body_bool(b, "satisfied",
		    o->satisfied && strcmp(o->satisfied, "yes") == 0);
		if (o->by)
			crdt_body_cstr(b, "by", o->by);
		break;
	case QIAO_T_CASE_VISIT:
		if (o->by)
			crdt_body_cstr(b, "by", o->by);
		break;
	default:
		break;
	}
}

static int
case_step(const char *cmd, int argc, char **argv, const struct step *s)
{
	uint8_t deps[QIAO_DEPS_MAX][QIAO_HASH_LEN];
	char id[REC_ID_SHOW + 1], status[32];
	const char *level = NULL;
	struct copts o;
	struct view v;
	node *n = NULL;
	node_txn *txn = NULL;
	node_trust_id me;
	crdt_entry e;
	crdt_body b;
	size_t nd = 0;
	int rc;

	if ((rc = parse(cmd, argc, argv, &o, s->opts)) != CLI_OK)
		return rc == -1 ? CLI_OK : rc;
	if (optind != argc - 1)
		return cli_usage(cmd, "give exactly one case ID");
	memset(&v, 0, sizeof(v));
	if ((rc = rec_open(cmd, o.dir, &n, &txn)) != CLI_OK)
		return rc;
	if ((rc = rec_find(cmd, txn, CRDT_REC_CASE, argv[optind], &v.r)) !=
		CLI_OK ||
	    (rc = rec_whoami(cmd, n, txn, &me)) != CLI_OK)
		goto out;
	read_view(&v);
	rec_short_id(id, v.r.id);
	if ((rc = step_options(cmd, s, &o, &v, &level)) != CLI_OK ||
	    (rc = fits(cmd, s, &v, &me, id)) != CLI_OK)
		goto out;
	if (!node_trust_region_covers(me.region, v.r.code)) {
		rc = cli_fail(cmd, "case %s is outside this station's region "
				   "%s",
		    id, me.region);
		goto out;
	}
	if ((rc = node_state_heads(txn, v.r.key, v.r.klen, deps, &nd)) != 0) {
		rc = cli_fail(cmd, "%s", qiao_strerror(rc));
		goto out;
	}
	crdt_body_init(&b);
	crdt_op_begin(&b, "grid", v.r.code, v.r.id,
	    (const uint8_t(*)[QIAO_HASH_LEN])deps, nd);
	add_step_fields(&b, s, &o, level);
	/* The record's key and id are copied: the read txn ends here. */
	{
		uint8_t key[QIAO_RECKEY_MAX];
		size_t klen = v.r.klen;

		memcpy(key, v.r.key, klen);
		node_store_txn_abort(txn);
		txn = NULL;
		if ((rc = rec_append(cmd, n, s->type, &b, &e)) != CLI_OK)
			goto out;
		/* Report the status the step left, as the fold sees it. */
		if (node_store_txn_begin(node_get_store(n), false, &txn) == 0 &&
		    rec_load(txn, key, klen, &v.r) == QIAO_OK &&
		    rec_field(&v.r, "status", status, sizeof(status)))
			rc = rec_print_written(o.json, "id", id, e.hash,
			    status);
		else
			rc = rec_print_written(o.json, "id", id, e.hash, NULL);
	}
out:
	rec_close(n, txn);
	return rc;
}

/* Show. */

static void
print_row(const char *label, const char *value)
{
	fputs("  ", stdout);
	cli_print_padded(label, 16);
	printf("%s\n", value);
}

static void
print_sla(const rec *r, const crdt_rec_summary *sum)
{
	static const struct {
		const char *name;
		uint64_t target;
	} t[3] = { { "response", QIAO_SLA_RESPONSE_MS },
		{ "arrival", QIAO_SLA_ARRIVAL_MS },
		{ "feedback", QIAO_SLA_FEEDBACK_MS } };
	const uint64_t got[3] = { sum->response_ms, sum->arrival_ms,
		sum->feedback_ms };
	char when[32], d[32], tg[32];

	(void)r;
	if (sum->time_ms == 0)
		return;
	printf("response times (from intake %s):\n",
	    cli_time(when, sizeof(when), sum->time_ms));
	for (int i = 0; i < 3; i++) {
		printf("  %-9s %-8s target %-6s %s\n", t[i].name,
		    got[i] == CRDT_SUM_NONE ? "-"
					    : rec_duration(d, sizeof(d), got[i]),
		    rec_duration(tg, sizeof(tg), t[i].target),
		    got[i] == CRDT_SUM_NONE ? "not recorded"
		    : got[i] <= t[i].target ? "met"
					    : "missed");
	}
}

static int
summary_of(node_txn *txn, const rec *r, crdt_rec_summary *sum)
{
	uint8_t key[1 + QIAO_RECKEY_MAX];
	const void *v;
	size_t len;
	int rc;

	key[0] = 's';
	memcpy(key + 1, r->key, r->klen);
	memset(sum, 0, sizeof(*sum));
	if ((rc = node_store_get(txn, NODE_TB_INDEX, key, 1 + r->klen, &v,
		 &len)) != QIAO_OK)
		return rc;
	return crdt_rec_summary_decode(sum, v, len);
}

static int
case_show(const char *cmd, int argc, char **argv)
{
	static const char *const rows[] = { "status", "level", "custodian",
		"category", "matter", "risk", "source", "description",
		"assignee", "mediator", "resolved_level", "result", "evaluator",
		NULL };
	char id[REC_ID_SHOW + 1], buf[QIAO_TEXT_MAX + 1],
	    name[QIAO_NAME_MAX], line[QIAO_CODE_MAX + QIAO_NAME_MAX + 4];
	struct copts o;
	struct view v;
	crdt_rec_summary sum;
	node *n;
	node_txn *txn;
	bool sat;
	int rc;

	if ((rc = parse(cmd, argc, argv, &o, "jv")) != CLI_OK)
		return rc == -1 ? CLI_OK : rc;
	if (optind != argc - 1)
		return cli_usage(cmd, "give exactly one case ID");
	if ((rc = rec_open(cmd, o.dir, &n, &txn)) != CLI_OK)
		return rc;
	if ((rc = rec_find(cmd, txn, CRDT_REC_CASE, argv[optind], &v.r)) !=
	    CLI_OK) {
		rec_close(n, txn);
		return rc;
	}
	if (o.json) {
		json_t *j = rec_json(&v.r, o.reveal);

		rec_close(n, txn);
		return cli_json_print(j);
	}
	read_view(&v);
	(void)summary_of(txn, &v.r, &sum);
	rec_field(&v.r, "title", buf, sizeof(buf));
	printf("case %s  %s\n", rec_short_id(id, v.r.id), buf);
	snprintf(line, sizeof(line), "%s  %s", v.r.code,
	    rec_place_name(txn, v.r.code, name, sizeof(name)));
	print_row("grid", line);
	for (int i = 0; rows[i] != NULL; i++) {
		if (!rec_field(&v.r, rows[i], buf, sizeof(buf)) &&
		    strcmp(rows[i], "custodian") != 0)
			continue;
		if (strcmp(rows[i], "custodian") == 0) {
			char code[QIAO_CODE_MAX];

			snprintf(code, sizeof(code), "%.*s",
			    (int)sizeof(code) - 1, buf);
			/* The root's station is the empty code. */
			snprintf(line, sizeof(line), "%s  %s",
			    code[0] ? code : "root",
			    rec_place_name(txn, code, name, sizeof(name)));
			print_row(rows[i], line);
		} else {
			print_row(rows[i], buf);
		}
	}
	if (rec_field_bool(&v.r, "satisfied", &sat))
		print_row("satisfied", sat ? "yes" : "no");
	if (v.pending_to[0]) {
		snprintf(line, sizeof(line), "to %s  %s", v.pending_to,
		    rec_place_name(txn, v.pending_to, name, sizeof(name)));
		print_row("transfer", line);
	}
	{
		const uint8_t *sets;
		size_t sl;
		crdt_reader rd;

		if (rec_part(&v.r, "sets", &sets, &sl) == QIAO_OK &&
		    crdt_body_get(sets, sl, "parties", &rd) == QIAO_OK) {
			const uint8_t *p = rd.p;

			if (crdt_read_skip(&rd) == QIAO_OK) {
				fputs("  ", stdout);
				cli_print_padded("parties", 16);
				rec_print_value(stdout, "parties", 7, p,
				    (size_t)(rd.p - p), o.reveal);
				fputc('\n', stdout);
			}
		}
	}
	print_sla(&v.r, &sum);
	if (rec_count(&v.r, "conflicts") > 0) {
		printf("conflicts (* shown meanwhile):\n");
		rec_print_conflicts(txn, &v.r, o.reveal, "  ");
	}
	if (rec_count(&v.r, "review") > 0) {
		printf("for review (kept, not in effect):\n");
		rec_print_review(&v.r, "  ");
	}
	printf("timeline:\n");
	rec_print_timeline(txn, &v.r, o.reveal);
	rec_close(n, txn);
	return CLI_OK;
}

/* List and conflicts walk the summaries, then read the states they
 * need. */

struct lister {
	const struct copts *o;
	node_txn *txn;
	int status;
	bool conflicts_only;
	rec_table t;
	json_t *list;
	size_t shown;
};

static int
on_summary(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
    size_t len)
{
	struct lister *l = ctx;
	crdt_rec_summary s;
	char id[REC_ID_SHOW + 1], title[QIAO_LINE_MAX + 1], cat[QIAO_LINE_MAX +
	    1], cust[QIAO_CODE_MAX], st[32], when[32], flags[3] = "";
	rec r = { 0 };
	int rc;

	if (crdt_rec_summary_decode(&s, val, len) != QIAO_OK)
		return QIAO_ESTORE;
	if (!(s.flags & CRDT_SUM_OPENED))
		return 0;
	if (l->status != CRDT_CS_NONE && s.status != l->status)
		return 0;
	if (l->conflicts_only &&
	    !(s.flags & (CRDT_SUM_CONFLICT | CRDT_SUM_REVIEW)))
		return 0;
	if ((rc = rec_load(l->txn, key, klen, &r)) != QIAO_OK)
		return rc;
	rec_short_id(id, r.id);
	rec_field(&r, "title", title, sizeof(title));
	l->shown++;
	if (l->conflicts_only) {
		if (l->o->json) {
			json_t *j = json_object(), *all = rec_json(&r, false);

			json_object_set_new(j, "id", json_string(id));
			json_object_set_new(j, "grid", json_string(r.code));
			json_object_set_new(j, "title", json_string(title));
			json_object_set(j, "conflicts",
			    json_object_get(all, "conflicts"));
			json_object_set(j, "review",
			    json_object_get(all, "review"));
			json_decref(all);
			json_array_append_new(l->list, j);
			return 0;
		}
		printf("%s  %s  (grid %s)\n", id, title, r.code);
		rec_print_conflicts(l->txn, &r, false, "  ");
		if (rec_count(&r, "review") > 0) {
			printf("  for review:\n");
			rec_print_review(&r, "    ");
		}
		return 0;
	}
	rec_field(&r, "category", cat, sizeof(cat));
	rec_field(&r, "custodian", cust, sizeof(cust));
	snprintf(st, sizeof(st), "%s", crdt_case_status_name(s.status));
	cli_time(when, sizeof(when), s.time_ms);
	when[16] = '\0';
	snprintf(flags, sizeof(flags), "%s%s",
	    (s.flags & CRDT_SUM_CONFLICT) ? "C" : "",
	    (s.flags & CRDT_SUM_REVIEW) ? "R" : "");
	if (l->o->json) {
		json_t *j = json_object();
		char iso[40];

		json_object_set_new(j, "id", json_string(id));
		json_object_set_new(j, "grid", json_string(r.code));
		json_object_set_new(j, "opened", json_string(cli_time_iso(iso,
		    sizeof(iso), s.time_ms)));
		json_object_set_new(j, "status", json_string(st));
		json_object_set_new(j, "custodian", json_string(cust));
		json_object_set_new(j, "category", json_string(cat));
		json_object_set_new(j, "title", json_string(title));
		json_object_set_new(j, "conflicts",
		    json_boolean(s.flags & CRDT_SUM_CONFLICT));
		json_object_set_new(j, "review",
		    json_boolean(s.flags & CRDT_SUM_REVIEW));
		json_array_append_new(l->list, j);
		return 0;
	}
	/* The root's station is the empty code, as case show says. */
	return rec_table_add(&l->t, (const char *const[]) { id, when, st,
	    flags, r.code, cust[0] ? cust : "root", cat, title });
}

static int
walk(const char *cmd, int argc, char **argv, bool conflicts_only)
{
	static const char *const head[] = { "ID", "OPENED", "STATUS", "!",
		"GRID", "CUSTODIAN", "CATEGORY", "TITLE" };
	struct copts o;
	struct lister l = { .o = &o, .conflicts_only = conflicts_only };
	node *n;
	int rc;

	if ((rc = parse(cmd, argc, argv, &o, conflicts_only ? "uj" : "xuj")) !=
	    CLI_OK)
		return rc == -1 ? CLI_OK : rc;
	if ((rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if (o.under && !conf_region_ok(o.under))
		return cli_usage(cmd, "--under must be a region code of digits, "
				      "got \"%s\"",
		    o.under);
	if (o.status && (l.status = crdt_case_status_parse(o.status)) ==
			    CRDT_CS_NONE)
		return cli_usage(cmd, "--status must be one of open, accepted, "
				      "routed, transferred, mediating, "
				      "resolved, evaluated, visited, closed, "
				      "reopened; got \"%s\"",
		    o.status);
	if ((rc = rec_open(cmd, o.dir, &n, &l.txn)) != CLI_OK)
		return rc;
	rec_table_init(&l.t, 8);
	l.list = json_array();
	rc = node_state_summaries(l.txn, CRDT_REC_CASE, o.under, on_summary,
	    &l);
	if (rc == QIAO_OK && !o.json && !conflicts_only && l.t.n > 0)
		rec_table_print(&l.t, head);
	if (rc == QIAO_OK && !o.json && conflicts_only && l.shown == 0)
		printf("no conflicts\n");
	rec_close(n, l.txn);
	rec_table_fini(&l.t);
	if (rc != QIAO_OK) {
		json_decref(l.list);
		return cli_fail(cmd, "%s", qiao_strerror(rc));
	}
	if (o.json)
		return cli_json_print(l.list);
	json_decref(l.list);
	return CLI_OK;
}

static int
case_list(const char *cmd, int argc, char **argv)
{
	return walk(cmd, argc, argv, false);
}

static int
case_conflicts(const char *cmd, int argc, char **argv)
{
	return walk(cmd, argc, argv, true);
}

static int
cmd_case(int argc, char **argv)
{
	static const rec_sub subs[] = { { "open", case_open },
		{ "show", case_show }, { "list", case_list },
		{ "conflicts", case_conflicts } };
	static const char all[] = "open, accept, route, transfer, arrive, "
				  "feedback, mediate, resolve, evaluate, visit, "
				  "close, reopen, note, show, list, conflicts";
	char cmd[32];

	if (argc < 2)
		return cli_usage("case", "which? (%s)", all);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cli_help("case");
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (strcmp(argv[1], steps[i].name) != 0)
			continue;
		snprintf(cmd, sizeof(cmd), "case %s", steps[i].name);
		return case_step(cmd, argc - 1, argv + 1, &steps[i]);
	}
	for (size_t i = 0; i < 4; i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return rec_dispatch("case", subs, 4, argc, argv);
	return cli_usage("case", "unknown subcommand \"%s\" (%s)", argv[1],
	    all);
}

const cli_cmd cli_cmd_case = { "case", cmd_case,
	"cases: open, the steps of the loop, show, list, conflicts",
	USAGE_CASE };
