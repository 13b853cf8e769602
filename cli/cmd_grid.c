/*
 * qiao grid, qiao reg — the grid hierarchy and the registry "一标三实"
 * (standard address, person, house, organisation), each tied to a grid.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/records.h"
#include "crdt/codec.h"
#include "crdt/hex.h"
#include "crdt/types.h"
#include "node/state.h"

#define USAGE_GRID                                                          \
	"usage: qiao grid add  [--dir DIR] --code CODE [--kind KIND] "      \
	"[--name NAME]\n"                                                   \
	"                      [--households N] [--leader NAME] "           \
	"[--phone PHONE] [--json]\n"                                        \
	"       qiao grid list [--dir DIR] [--under CODE] [--kind KIND] "   \
	"[--json]\n"                                                        \
	"       qiao grid show [--dir DIR] CODE [--reveal] [--json]\n"      \
	"\n"                                                                \
	"The grid hierarchy under region codes: a town has 9 digits, a\n"   \
	"village or community 12, a grid (and a specialised grid) 15, a\n"  \
	"micro-grid (50-80 households) 18. KIND is town, village, grid,\n"  \
	"micro, shop, institution, school or clinic. add creates the grid\n" \
	"(--kind and --name required) or, for a grid already held, writes\n" \
	"the fields given; it prints the code. A station writes only under\n" \
	"its own region. Phone numbers print masked unless --reveal.\n"     \
	"With --json, add prints {\"code\", \"hash\"} (the entry's hash).\n"

#define USAGE_REG                                                           \
	"usage: qiao reg add  [--dir DIR] --grid CODE --kind KIND --name NAME\n" \
	"                     [--address TEXT] [--id-no ID] [--phone PHONE]\n" \
	"                     [--owner NAME] [--use TEXT] [--credit-code C]\n" \
	"                     [--note TEXT] [--json]\n"                     \
	"       qiao reg list [--dir DIR] [--under CODE] [--kind KIND] "    \
	"[--reveal] [--json]\n"                                             \
	"       qiao reg show [--dir DIR] ID [--reveal] [--json]\n"         \
	"\n"                                                                \
	"The registry 一标三实: KIND is address (standard address), person\n" \
	"(real population), house (real housing) or org (real\n"           \
	"organisation), each tied to a grid this store holds. add prints\n" \
	"the new record's id. ID numbers and phones are stored but print\n" \
	"masked (5001**********1234) unless --reveal. With --json, add\n"   \
	"prints {\"id\", \"hash\"}.\n"

struct gopts {
	const char *dir, *code, *under, *kind, *name, *leader, *phone;
	const char *address, *id_no, *owner, *use, *credit, *note;
	bool json, reveal, has_households;
	uint64_t households;
};

/* Every option grid and reg take; each subcommand then refuses what does
 * not apply to it (letters in allowed). */
static int
parse(const char *cmd, int argc, char **argv, struct gopts *o,
    const char *allowed)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "code", required_argument, NULL, 'c' },
		{ "grid", required_argument, NULL, 'g' },
		{ "under", required_argument, NULL, 'u' },
		{ "kind", required_argument, NULL, 'k' },
		{ "name", required_argument, NULL, 'n' },
		{ "households", required_argument, NULL, 'H' },
		{ "leader", required_argument, NULL, 'l' },
		{ "phone", required_argument, NULL, 'p' },
		{ "address", required_argument, NULL, 'a' },
		{ "id-no", required_argument, NULL, 'i' },
		{ "owner", required_argument, NULL, 'o' },
		{ "use", required_argument, NULL, 'U' },
		{ "credit-code", required_argument, NULL, 'C' },
		{ "note", required_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'j' },
		{ "reveal", no_argument, NULL, 'r' },
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
		case 'c': case 'g': o->code = optarg; break; /* by command */
		case 'u': o->under = optarg; break;
		case 'k': o->kind = optarg; break;
		case 'n': o->name = optarg; break;
		case 'l': o->leader = optarg; break;
		case 'p': o->phone = optarg; break;
		case 'a': o->address = optarg; break;
		case 'i': o->id_no = optarg; break;
		case 'o': o->owner = optarg; break;
		case 'U': o->use = optarg; break;
		case 'C': o->credit = optarg; break;
		case 'N': o->note = optarg; break;
		case 'j': o->json = true; break;
		case 'r': o->reveal = true; break;
		case 'H':
			if ((rc = cli_parse_u64(cmd, "--households", optarg,
				 &o->households)) != CLI_OK)
				return rc;
			o->has_households = true;
			break;
		}
	}
	if (o->under != NULL && !conf_region_ok(o->under))
		return cli_usage(cmd, "--under must be a region code of digits, "
				      "got \"%s\"",
		    o->under);
	return CLI_OK;
}

static int
check_phone(const char *cmd, const char *p)
{
	size_t n = strlen(p);

	if (n < 5 || n > 20 || strspn(p, "0123456789+-") != n)
		return cli_usage(cmd, "--phone must be 5 to 20 digits (+ and - "
				      "allowed)");
	return CLI_OK;
}

static int
check_id_no(const char *cmd, const char *s)
{
	size_t n = strlen(s), d = strspn(s, "0123456789");

	if (!((n == 18 && (d == 18 || (d == 17 && (s[17] == 'X' ||
	    s[17] == 'x')))) || (n == 15 && d == 15)))
		return cli_usage(cmd, "--id-no must be a resident ID number of "
				      "18 characters (or 15 digits)");
	return CLI_OK;
}

/* Checks each given one-line option; texts (note) may be longer. */
static int
check_lines(const char *cmd, const char *const *what,
    const char *const *vals, size_t n)
{
	int rc;

	for (size_t i = 0; i < n; i++)
		if (vals[i] != NULL &&
		    (rc = rec_check_text(cmd, what[i], vals[i],
			 QIAO_LINE_MAX)) != CLI_OK)
			return rc;
	return CLI_OK;
}

/* The station may write under code: its region covers it. */
static int
may_write(const char *cmd, node *n, node_txn *txn, const char *code)
{
	node_trust_id me;
	int rc;

	if ((rc = rec_whoami(cmd, n, txn, &me)) != CLI_OK)
		return rc;
	if (!node_trust_region_covers(me.region, code))
		return cli_fail(cmd, "%s is outside this station's region %s",
		    code, me.region);
	return CLI_OK;
}

static int
grid_add(const char *cmd, int argc, char **argv)
{
	static const size_t lens[] = { 9, 12, 15, 18, 0 };
	static const char *const what[] = { "--name", "--leader" };
	uint8_t key[QIAO_RECKEY_MAX], deps[QIAO_DEPS_MAX][QIAO_HASH_LEN];
	struct gopts o;
	node *n = NULL;
	node_txn *txn = NULL;
	crdt_entry e;
	crdt_body b;
	size_t klen, nd = 0;
	bool exists;
	rec r = { 0 };
	int rc;

	if ((rc = parse(cmd, argc, argv, &o, "cknHlpj")) != CLI_OK)
		return rc == -1 ? CLI_OK : rc;
	if ((rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if (o.code == NULL)
		return cli_usage(cmd, "--code is required");
	if ((rc = rec_check_code(cmd, "--code", o.code, lens)) != CLI_OK ||
	    (rc = check_lines(cmd, what, (const char *const[]) { o.name,
		 o.leader }, 2)) != CLI_OK ||
	    (o.phone && (rc = check_phone(cmd, o.phone)) != CLI_OK))
		return rc;
	if (o.kind != NULL) {
		if ((rc = rec_check_oneof(cmd, "--kind", o.kind,
			 crdt_grid_kinds)) != CLI_OK)
			return rc;
		if (strlen(o.code) != crdt_grid_kind_len(o.kind))
			return cli_usage(cmd, "a %s's code has %zu digits",
			    o.kind, crdt_grid_kind_len(o.kind));
	}
	if ((rc = rec_open(cmd, o.dir, &n, &txn)) != CLI_OK)
		return rc;
	if ((rc = may_write(cmd, n, txn, o.code)) != CLI_OK)
		goto out;
	klen = crdt_op_reckey(key, CRDT_REC_GRID, o.code, NULL);
	exists = rec_load(txn, key, klen, &r) == QIAO_OK;
	if (!exists && (o.kind == NULL || o.name == NULL)) {
		rc = cli_usage(cmd, "a new grid needs --kind and --name");
		goto out;
	}
	if (exists && !o.kind && !o.name && !o.has_households && !o.leader &&
	    !o.phone) {
		rc = cli_usage(cmd, "nothing to write: give a field to change");
		goto out;
	}
	if ((rc = node_state_heads(txn, key, klen, deps, &nd)) != QIAO_OK) {
		rc = cli_fail(cmd, "%s", qiao_strerror(rc));
		goto out;
	}
	node_store_txn_abort(txn);
	txn = NULL;
	crdt_body_init(&b);
	crdt_op_begin(&b, "code", o.code, NULL,
	    (const uint8_t(*)[QIAO_HASH_LEN])deps, nd);
	if (o.kind)
		crdt_body_cstr(&b, "kind", o.kind);
	if (o.name)
		crdt_body_cstr(&b, "name", o.name);
	if (o.has_households)
		crdt_body_uint(&b, "households", o.households);
	if (o.leader)
		crdt_body_cstr(&b, "leader", o.leader);
	if (o.phone)
		crdt_body_cstr(&b, "phone", o.phone);
	if ((rc = rec_append(cmd, n, QIAO_T_GRID, &b, &e)) == CLI_OK)
		rc = rec_print_written(o.json, "code", o.code, e.hash, NULL);
out:
	rec_close(n, txn);
	return rc;
}

struct lister {
	const struct gopts *o;
	rec_lister out;
};

static int
on_grid(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
    size_t len)
{
	struct lister *l = ctx;
	char kind[32], name[QIAO_LINE_MAX + 1], leader[QIAO_LINE_MAX + 1],
	    hh[24] = "";
	uint64_t h;
	rec r = { 0 };

	if (!rec_from(&r, key, klen, val, len))
		return QIAO_ESTORE;
	rec_field(&r, "kind", kind, sizeof(kind));
	if (l->o->kind != NULL && strcmp(kind, l->o->kind) != 0)
		return 0;
	rec_field(&r, "name", name, sizeof(name));
	rec_field(&r, "leader", leader, sizeof(leader));
	if (rec_field_uint(&r, "households", &h))
		snprintf(hh, sizeof(hh), "%llu", (unsigned long long)h);
	if (l->o->json) {
		json_t *j = json_object();

		json_object_set_new(j, "code", json_string(r.code));
		json_object_set_new(j, "kind", json_string(kind));
		json_object_set_new(j, "name", json_string(name));
		json_object_set_new(j, "households", hh[0]
			? json_integer((json_int_t)h) : json_null());
		json_object_set_new(j, "leader", json_string(leader));
		json_object_set_new(j, "conflicts",
		    json_integer((json_int_t)rec_count(&r, "conflicts")));
		json_array_append_new(l->out.list, j);
		return 0;
	}
	return rec_table_add(&l->out.t, (const char *const[]) { r.code, kind,
	    name, hh, leader });
}

static int
grid_list(const char *cmd, int argc, char **argv)
{
	static const char *const head[] = { "CODE", "KIND", "NAME",
		"HOUSEHOLDS", "LEADER" };
	struct gopts o;
	struct lister l = { .o = &o };
	int rc;

	if ((rc = parse(cmd, argc, argv, &o, "ukj")) != CLI_OK)
		return rc == -1 ? CLI_OK : rc;
	if ((rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if (o.kind && (rc = rec_check_oneof(cmd, "--kind", o.kind,
			   crdt_grid_kinds)) != CLI_OK)
		return rc;
	return rec_list(cmd, o.dir, CRDT_REC_GRID, o.under, on_grid, &l,
	    &l.out, head, 5, o.json);
}

static int
grid_show(const char *cmd, int argc, char **argv)
{
	return rec_cmd_show(cmd, argc, argv, CRDT_REC_GRID, "grid");
}

static int
reg_add(const char *cmd, int argc, char **argv)
{
	static const size_t lens[] = { 12, 15, 18, 0 };
	static const char *const what[] = { "--name", "--address", "--owner",
		"--use", "--credit-code" };
	uint8_t key[QIAO_RECKEY_MAX];
	char id[REC_ID_SHOW + 1];
	struct gopts o;
	node *n = NULL;
	node_txn *txn = NULL;
	crdt_entry e;
	crdt_body b;
	rec r = { 0 };
	int rc;

	if ((rc = parse(cmd, argc, argv, &o, "gknpaioUCNj")) != CLI_OK)
		return rc == -1 ? CLI_OK : rc;
	if ((rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if (o.code == NULL || o.kind == NULL || o.name == NULL)
		return cli_usage(cmd, "--grid, --kind and --name are required");
	if ((rc = rec_check_code(cmd, "--grid", o.code, lens)) != CLI_OK ||
	    (rc = rec_check_oneof(cmd, "--kind", o.kind, crdt_reg_kinds)) !=
		CLI_OK ||
	    (rc = check_lines(cmd, what, (const char *const[]) { o.name,
		 o.address, o.owner, o.use, o.credit }, 5)) != CLI_OK ||
	    (o.note && (rc = rec_check_text(cmd, "--note", o.note,
			    QIAO_TEXT_MAX)) != CLI_OK) ||
	    (o.phone && (rc = check_phone(cmd, o.phone)) != CLI_OK) ||
	    (o.id_no && (rc = check_id_no(cmd, o.id_no)) != CLI_OK))
		return rc;
	if ((rc = rec_open(cmd, o.dir, &n, &txn)) != CLI_OK)
		return rc;
	if ((rc = may_write(cmd, n, txn, o.code)) != CLI_OK)
		goto out;
	if (rec_load(txn, key, crdt_op_reckey(key, CRDT_REC_GRID, o.code,
			 NULL), &r) != QIAO_OK) {
		rc = cli_fail(cmd, "no grid %s in this store (add it with qiao "
				   "grid add)",
		    o.code);
		goto out;
	}
	node_store_txn_abort(txn);
	txn = NULL;
	crdt_body_init(&b);
	crdt_op_begin(&b, "grid", o.code, NULL, NULL, 0);
	crdt_body_cstr(&b, "kind", o.kind);
	crdt_body_cstr(&b, "name", o.name);
	if (o.address)
		crdt_body_cstr(&b, "address", o.address);
	if (o.id_no)
		crdt_body_cstr(&b, "id_no", o.id_no);
	if (o.phone)
		crdt_body_cstr(&b, "phone", o.phone);
	if (o.owner)
		crdt_body_cstr(&b, "owner", o.owner);
	if (o.use)
		crdt_body_cstr(&b, "use", o.use);
	if (o.credit)
		crdt_body_cstr(&b, "credit_code", o.credit);
	if (o.note)
		crdt_body_cstr(&b, "note", o.note);
	if ((rc = rec_append(cmd, n, QIAO_T_REG, &b, &e)) == CLI_OK)
		rc = rec_print_written(o.json, "id", rec_short_id(id, e.hash),
		    e.hash, NULL);
out:
	rec_close(n, txn);
	return rc;
}

static int
on_reg(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
    size_t len)
{
	struct lister *l = ctx;
	char kind[32], name[QIAO_LINE_MAX + 1], addr[QIAO_LINE_MAX + 1],
	    idno[40], phone[40], mid[40], mph[40], id[REC_ID_SHOW + 1];
	rec r = { 0 };

	if (!rec_from(&r, key, klen, val, len))
		return QIAO_ESTORE;
	rec_field(&r, "kind", kind, sizeof(kind));
	if (l->o->kind != NULL && strcmp(kind, l->o->kind) != 0)
		return 0;
	rec_field(&r, "name", name, sizeof(name));
	rec_field(&r, "address", addr, sizeof(addr));
	rec_field(&r, "id_no", idno, sizeof(idno));
	rec_field(&r, "phone", phone, sizeof(phone));
	if (!l->o->reveal) {
		rec_mask(mid, sizeof(mid), idno, strlen(idno));
		rec_mask(mph, sizeof(mph), phone, strlen(phone));
	} else {
		snprintf(mid, sizeof(mid), "%s", idno);
		snprintf(mph, sizeof(mph), "%s", phone);
	}
	rec_short_id(id, r.id);
	if (l->o->json) {
		json_t *j = json_object();

		json_object_set_new(j, "id", json_string(id));
		json_object_set_new(j, "grid", json_string(r.code));
		json_object_set_new(j, "kind", json_string(kind));
		json_object_set_new(j, "name", json_string(name));
		json_object_set_new(j, "address", json_string(addr));
		json_object_set_new(j, "id_no", json_string(mid));
		json_object_set_new(j, "phone", json_string(mph));
		json_array_append_new(l->out.list, j);
		return 0;
	}
	return rec_table_add(&l->out.t, (const char *const[]) { id, kind,
	    r.code, name, addr, mid, mph });
}

static int
reg_list(const char *cmd, int argc, char **argv)
{
	static const char *const head[] = { "ID", "KIND", "GRID", "NAME",
		"ADDRESS", "ID NO", "PHONE" };
	struct gopts o;
	struct lister l = { .o = &o };
	int rc;

	if ((rc = parse(cmd, argc, argv, &o, "ukjr")) != CLI_OK)
		return rc == -1 ? CLI_OK : rc;
	if ((rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if (o.kind && (rc = rec_check_oneof(cmd, "--kind", o.kind,
			   crdt_reg_kinds)) != CLI_OK)
		return rc;
	return rec_list(cmd, o.dir, CRDT_REC_REG, o.under, on_reg, &l,
	    &l.out, head, 7, o.json);
}

static int
reg_show(const char *cmd, int argc, char **argv)
{
	return rec_cmd_show(cmd, argc, argv, CRDT_REC_REG, "registry record");
}

static int
cmd_grid(int argc, char **argv)
{
	static const rec_sub subs[] = { { "add", grid_add },
		{ "list", grid_list }, { "show", grid_show } };

	return rec_dispatch("grid", subs, 3, argc, argv);
}

static int
cmd_reg(int argc, char **argv)
{
	static const rec_sub subs[] = { { "add", reg_add },
		{ "list", reg_list }, { "show", reg_show } };

	return rec_dispatch("reg", subs, 3, argc, argv);
}

const cli_cmd cli_cmd_grid = { "grid", cmd_grid,
	"the grid hierarchy: add, list, show", USAGE_GRID };
const cli_cmd cli_cmd_reg = { "reg", cmd_reg,
	"registry 一标三实: add, list, show", USAGE_REG };
