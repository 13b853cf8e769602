/*
 * qiao audit — export a case's signed history as a bundle, and verify a
 * bundle offline with nothing but the root key (node/audit.h,
 * crdt/auditor.h, docs/AUDIT.md).
 *
 * verify exits 0 when the history verifies and every target is met with
 * nothing left to settle, 3 when it verifies but shows findings (a target
 * missed, a conflict not settled, a step kept for review), 1 when it does
 * not verify (each failure named), 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/records.h"
#include "crdt/audit.h"
#include "crdt/auditor.h"
#include "crdt/codec.h"
#include "crdt/hex.h"
#include "crdt/hlc.h"
#include "crdt/types.h"
#include "node/audit.h"

#define CLI_FINDINGS 3

#define USAGE_AUDIT                                                         \
	"usage: qiao audit export [--dir DIR] --case ID -o FILE [--json]\n"  \
	"       qiao audit export [--dir DIR] --all [--under CODE] -o FILE "  \
	"[--json]\n"                                                        \
	"       qiao audit verify FILE --root HEX [--summary] [--json]\n"    \
	"       qiao audit reconcile FILE [--dir DIR] [--json]\n"           \
	"\n"                                                                \
	"export writes the signed history of a case (or of every case under\n" \
	"CODE) as a self-contained bundle: the case's entries and bodies,\n" \
	"the enrolments and revocations of every key involved up to the\n"   \
	"root, the head of each log that may hold a step of it, and a\n"     \
	"statement signed by this node, in its own log, that these are all\n" \
	"the steps up to those heads. The file holds the case's texts: keep\n" \
	"it like the case file (it is written with mode 0600).\n"          \
	"\n"                                                                \
	"verify needs no store and no network: from FILE and the district's\n" \
	"root public key alone it checks every signature, certificate,\n"   \
	"chain and time, that no step was left out up to the exporter's\n"  \
	"heads, and folds the case as every node does. It prints the\n"     \
	"timeline (step, time, station, signer), the response, arrival and\n" \
	"feedback times against the 1, 5 and 10 minute targets, conflicts,\n" \
	"forks and a verdict. --summary prints one line per case.\n"       \
	"Exit 0: verified, every target met, nothing to settle; 3: verified,\n" \
	"with findings (a target missed, a conflict, a step for review);\n" \
	"1: does not verify (every failure named); 2: usage.\n"            \
	"\n"                                                                \
	"reconcile holds a bundle's claim against this store: a step of one\n" \
	"of its cases (or, for --all, a case under its code) that this\n"  \
	"store holds, signed at or before the head the exporter stated it\n" \
	"held of its author's log, yet missing from the bundle, is named:\n" \
	"with the exporter's signed statement it proves the claim false.\n" \
	"Exit 0: nothing left out; 1: omissions or differing heads.\n"     \
	"docs/AUDIT.md says what is proved and what is not.\n"

/* export */

static int
audit_export(const char *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "case", required_argument, NULL, 'c' },
		{ "all", no_argument, NULL, 'a' },
		{ "under", required_argument, NULL, 'u' },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = cli_default_dir(), *id = NULL, *under = NULL;
	const char *out = NULL;
	bool all = false, json = false;
	char err[512], hex[2 * QIAO_HASH_LEN + 1], when[40];
	uint8_t caseid[QIAO_HASH_LEN];
	node_audit_result res;
	node *n;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'c': id = optarg; break;
		case 'a': all = true; break;
		case 'u': under = optarg; break;
		case 'o': out = optarg; break;
		case 'j': json = true; break;
		case 'h': return cli_help(cmd);
		default: return cli_bad_option(cmd, ch, argv);
		}
	}
	if ((rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if ((id == NULL) == !all)
		return cli_usage(cmd, "give --case ID or --all");
	if (under != NULL && !all)
		return cli_usage(cmd, "--under goes with --all");
	if (under != NULL && (!conf_region_ok(under) ||
				 strlen(under) >= QIAO_CODE_MAX))
		return cli_usage(cmd, "--under takes a region code of digits, "
				      "got \"%s\"", under);
	if (out == NULL)
		return cli_usage(cmd, "give -o FILE");
	/* Before the export signs its statement into this node's log: a
	 * mistyped path must leave the store as it was. */
	if ((rc = cli_check_out(cmd, out)) != CLI_OK)
		return rc;
	if (id != NULL) {
		node_txn *txn;
		rec r;

		if ((rc = rec_open(cmd, dir, &n, &txn)) != CLI_OK)
			return rc;
		if ((rc = rec_find(cmd, txn, CRDT_REC_CASE, id, &r)) != CLI_OK) {
			rec_close(n, txn);
			return rc;
		}
		memcpy(caseid, r.id, QIAO_HASH_LEN);
		node_store_txn_abort(txn);
	} else if ((rc = cli_open(cmd, dir, &n)) != CLI_OK) {
		return rc;
	}
	rc = node_audit_export(n, id != NULL ? (const uint8_t(*)[32])caseid
					     : NULL,
	    id != NULL ? 1 : 0, under, out, &res, err, sizeof(err));
	if (rc != QIAO_OK) {
		if (rc == QIAO_ENOTFOUND && err[0] != '\0') {
			node_close(n);
			return cli_fail(cmd, "%s", err);
		}
		rc = rc == QIAO_EPERM || rc == QIAO_EUNAUTH || rc == QIAO_EFORK
		    ? cli_append_fail(cmd, n, rc, err)
		    : cli_fail(cmd, "%s", err);
		node_close(n);
		return rc;
	}
	node_close(n);
	crdt_hex_encode(hex, res.statement.hash, QIAO_HASH_LEN);
	if (json) {
		json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:{s:I, s:s, s:I, "
				      "s:s}, s:I, s:I, s:I, s:I, s:I, s:s?}",
		    "file", out, "cases", (json_int_t)res.cases, "steps",
		    (json_int_t)res.ops, "bytes", (json_int_t)res.bytes,
		    "statement", "seq", (json_int_t)res.statement.seq, "hash",
		    hex, "hlc", (json_int_t)res.statement.hlc, "time",
		    cli_time_iso(when, sizeof(when),
			crdt_hlc_ms(res.statement.hlc)),
		    "view", (json_int_t)res.view, "trust",
		    (json_int_t)res.trust, "forks", (json_int_t)res.forks,
		    "failures", (json_int_t)res.failures, "findings",
		    (json_int_t)res.findings, "first_failure",
		    res.first_failure[0] ? res.first_failure : NULL);

		return cli_json_print(j);
	}
	printf("exported %llu case%s (%llu steps) to %s: %llu bytes\n",
	    (unsigned long long)res.cases, res.cases == 1 ? "" : "s",
	    (unsigned long long)res.ops, out, (unsigned long long)res.bytes);
	printf("statement: seq %llu of this node's log, %.12s, %s\n",
	    (unsigned long long)res.statement.seq, hex,
	    cli_time(when, sizeof(when), crdt_hlc_ms(res.statement.hlc)));
	printf("complete up to the heads of %zu logs; %zu trust entries; %zu "
	       "fork proofs\n", res.view, res.trust, res.forks);
	if (res.failures > 0)
		printf("self-check: does NOT verify (%zu failures), first: %s\n",
		    res.failures, res.first_failure);
	else
		printf("self-check: verifies (%zu findings)\n", res.findings);
	return CLI_OK;
}

/* verify */

struct vopts {
	const char *file;
	bool json, summary;
};

static int
read_file(const char *cmd, const char *path, uint8_t **buf, size_t *len)
{
	struct stat st;
	size_t off = 0;
	uint8_t *b;
	int fd;

	*buf = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		cli_fail(cmd, "cannot open %s: %s", path, strerror(errno));
		return CLI_FAIL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		cli_fail(cmd, "%s is not a file", path);
		return CLI_FAIL;
	}
	if ((uint64_t)st.st_size > QIAO_AUDIT_FILE_MAX) {
		close(fd);
		cli_fail(cmd, "%s: larger than a bundle may be (%llu bytes)",
		    path, (unsigned long long)QIAO_AUDIT_FILE_MAX);
		return CLI_FAIL;
	}
	if ((b = malloc(st.st_size ? (size_t)st.st_size : 1)) == NULL) {
		close(fd);
		cli_fail(cmd, "out of memory");
		return CLI_FAIL;
	}
	while (off < (size_t)st.st_size) {
		ssize_t r = read(fd, b + off, (size_t)st.st_size - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			close(fd);
			free(b);
			cli_fail(cmd, "cannot read %s", path);
			return CLI_FAIL;
		}
		off += (size_t)r;
	}
	close(fd);
	*buf = b;
	*len = off;
	return CLI_OK;
}

static const char *
short_hex(char *buf, const uint8_t *bin)
{
	char full[2 * QIAO_HASH_LEN + 1];

	crdt_hex_encode(full, bin, QIAO_HASH_LEN);
	memcpy(buf, full, 12);
	buf[12] = '\0';
	return buf;
}

/* "500116001201 石桥村", "root" or "key 3fa9... (not enrolled)" */
static const char *
station(const crdt_audit_report *r, const uint8_t *key, char *buf,
    size_t cap)
{
	const crdt_audit_who *w = crdt_audit_report_who(r, key);
	char h[13];

	if (w == NULL || !w->known)
		snprintf(buf, cap, "not enrolled (%s)", short_hex(h, key));
	else if (w->id.role == CRDT_ROLE_ROOT)
		snprintf(buf, cap, "root");
	else
		snprintf(buf, cap, "%s %s", w->id.region, w->id.name);
	return buf;
}

static const char *
case_verdict(const crdt_audit_result *c)
{
	return c->failures > 0 ? "failed" : c->findings > 0 ? "findings"
							  : "verified";
}

/* Reads a key and an entry from one map of the state's arrays. */
struct tl {
	uint8_t author[QIAO_KEY_LEN], hash[QIAO_HASH_LEN];
	uint64_t hlc;
	char type[32], station[QIAO_CODE_MAX], reason[200];
	bool review;
};

static bool
tl_read(const uint8_t *m, size_t ml, struct tl *t)
{
	const uint8_t *p;
	size_t n;

	memset(t, 0, sizeof(*t));
	if (crdt_body_get_bin(m, ml, "author", &p, &n) != QIAO_OK ||
	    n != QIAO_KEY_LEN)
		return false;
	memcpy(t->author, p, n);
	if (crdt_body_get_bin(m, ml, "hash", &p, &n) == QIAO_OK &&
	    n == QIAO_HASH_LEN)
		memcpy(t->hash, p, n);
	if (crdt_body_get_uint(m, ml, "hlc", &t->hlc) != QIAO_OK)
		t->hlc = 0;
	if (crdt_body_get_cstr(m, ml, "type", t->type, sizeof(t->type)) != 0)
		strcpy(t->type, "?");
	if (crdt_body_get_cstr(m, ml, "station", t->station,
		sizeof(t->station)) != QIAO_OK)
		t->station[0] = '\0';
	t->review = crdt_body_get_cstr(m, ml, "review", t->reason,
	    sizeof(t->reason)) == QIAO_OK;
	if (!t->review && crdt_body_get_cstr(m, ml, "reason", t->reason,
			      sizeof(t->reason)) == QIAO_OK)
		t->review = true;
	return true;
}

/* Calls fn for each map of the state's top-level array key. */
static void
each(const crdt_audit_result *c, const char *key,
    void (*fn)(void *ctx, const uint8_t *m, size_t ml), void *ctx)
{
	crdt_reader rd;
	size_t n;

	if (c->state == NULL ||
	    crdt_body_get(c->state, c->slen, key, &rd) != QIAO_OK ||
	    crdt_read_array(&rd, &n) != QIAO_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *m = rd.p;

		if (crdt_read_skip(&rd) != QIAO_OK)
			return;
		fn(ctx, m, (size_t)(rd.p - m));
	}
}

static size_t
count_of(const crdt_audit_result *c, const char *key)
{
	crdt_reader rd;
	size_t n;

	if (c->state == NULL ||
	    crdt_body_get(c->state, c->slen, key, &rd) != QIAO_OK ||
	    crdt_read_array(&rd, &n) != QIAO_OK)
		return 0;
	return n;
}

static void
field(const crdt_audit_result *c, const char *reg, char *buf, size_t cap)
{
	crdt_reader rd;

	buf[0] = '\0';
	if (c->state == NULL ||
	    crdt_body_get(c->state, c->slen, "fields", &rd) != QIAO_OK)
		return;
	if (crdt_body_get_cstr(rd.p, (size_t)(rd.end - rd.p), reg, buf,
		cap) != QIAO_OK)
		buf[0] = '\0';
}

/* Human output. */

/* Prints t's rows under the header, each line indented. */
static void
table_print(rec_table *t, const char *const *header, const char *indent)
{
	for (size_t c = 0; c < t->ncol; c++)
		if (cli_text_width(header[c]) > t->width[c])
			t->width[c] = cli_text_width(header[c]);
	for (size_t r = 0; r <= t->n; r++) {
		const char *const *cells = r == 0 ? header
		    : (const char *const *)t->cells + (r - 1) * t->ncol;

		fputs(indent, stdout);
		for (size_t c = 0; c < t->ncol; c++) {
			if (c + 1 == t->ncol) {
				fputs(cells[c], stdout);
			} else {
				cli_print_padded(cells[c], t->width[c]);
				fputs("  ", stdout);
			}
		}
		fputc('\n', stdout);
	}
}

/* View keys for people: the root, then by region (district, towns,
 * villages in code order). */
static int
view_order(const void *a, const void *b)
{
	const crdt_audit_who *x = *(const crdt_audit_who *const *)a;
	const crdt_audit_who *y = *(const crdt_audit_who *const *)b;
	int rx = x->known ? (int)x->id.role : 0;
	int ry = y->known ? (int)y->id.role : 0;
	int c;

	if (rx != ry)
		return ry - rx;
	if (x->known && y->known && (c = strcmp(x->id.region, y->id.region)))
		return c;
	return memcmp(x->key, y->key, QIAO_KEY_LEN);
}

struct hctx {
	const crdt_audit_report *r;
	rec_table t;
	int err;
};

static void
h_timeline(void *ctx, const uint8_t *m, size_t ml)
{
	struct hctx *h = ctx;
	struct tl t;
	char when[32], st[QIAO_CODE_MAX + 200], sig[13], step[48];

	if (!tl_read(m, ml, &t))
		return;
	snprintf(step, sizeof(step), "%s%s", t.type, t.review ? "*" : "");
	{
		const char *cells[4] = { step,
			cli_time(when, sizeof(when), crdt_hlc_ms(t.hlc)),
			station(h->r, t.author, st, sizeof(st)),
			short_hex(sig, t.author) };

		if (rec_table_add(&h->t, cells) != QIAO_OK)
			h->err = 1;
	}
}

static void
h_review(void *ctx, const uint8_t *m, size_t ml)
{
	struct hctx *h = ctx;
	struct tl t;
	char when[32], st[QIAO_CODE_MAX + 200];

	if (!tl_read(m, ml, &t))
		return;
	printf("    %s by %s at %s: %s\n", t.type,
	    station(h->r, t.author, st, sizeof(st)),
	    cli_time(when, sizeof(when), crdt_hlc_ms(t.hlc)), t.reason);
}

static void
h_conflict(void *ctx, const uint8_t *m, size_t ml)
{
	struct hctx *h = ctx;
	char f[32], when[32], st[QIAO_CODE_MAX + 200];
	crdt_reader rd;
	size_t n;

	if (crdt_body_get_cstr(m, ml, "field", f, sizeof(f)) != QIAO_OK ||
	    crdt_body_get(m, ml, "values", &rd) != QIAO_OK ||
	    crdt_read_array(&rd, &n) != QIAO_OK)
		return;
	printf("    %s: %zu values kept, by", f, n);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *v = rd.p;
		struct tl t;

		if (crdt_read_skip(&rd) != QIAO_OK ||
		    !tl_read(v, (size_t)(rd.p - v), &t))
			break;
		printf("%s %s at %s%s", i ? "," : "",
		    station(h->r, t.author, st, sizeof(st)),
		    cli_time(when, sizeof(when), crdt_hlc_ms(t.hlc)),
		    i + 1 == n ? " (shown)" : "");
	}
	printf("\n");
}

static void
print_sla(const crdt_audit_result *c, const char *indent)
{
	char d[32], tg[32], when[32];

	if (!(c->sum.flags & CRDT_SUM_OPENED))
		return;
	printf("%sresponse times from intake at %s:\n", indent,
	    cli_time(when, sizeof(when), c->sum.time_ms));
	for (int i = 0; i < 3; i++) {
		uint64_t got = crdt_audit_sla_got(&c->sum, i);
		uint64_t tgt = crdt_audit_sla_targets[i];

		printf("%s  %-9s %-8s target %-6s %s\n", indent,
		    crdt_audit_sla_names[i],
		    got == CRDT_SUM_NONE ? "-" : rec_duration(d, sizeof(d), got),
		    rec_duration(tg, sizeof(tg), tgt),
		    got == CRDT_SUM_NONE ? "no stamp"
		    : got <= tgt	 ? "met"
					 : "MISSED");
	}
}

static void
print_issues(const crdt_audit_report *r, long ci, bool finding,
    const char *indent)
{
	char h[13];

	for (size_t i = 0; i < r->nissues; i++) {
		const crdt_audit_issue *is = &r->issues[i];

		if (is->finding != finding || (ci != -2 && is->case_index != ci))
			continue;
		if (ci == -2 && is->case_index >= 0)
			printf("%s%s: case %s: %s\n", indent, is->code,
			    short_hex(h, r->cases[is->case_index].id),
			    is->msg);
		else
			printf("%s%s: %s\n", indent, is->code, is->msg);
	}
}

/* The fork and splice failures of case ci (-1: of the bundle). */
static void
print_forks(const crdt_audit_report *r, long ci, const char *indent)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nissues; i++) {
		const crdt_audit_issue *is = &r->issues[i];

		if (is->case_index != ci || (strcmp(is->code, "fork") != 0 &&
						strcmp(is->code, "unchained") != 0))
			continue;
		if (n++ == 0)
			printf("%sforks:\n", indent);
		printf("%s  %s\n", indent, is->msg);
	}
	if (n == 0)
		printf("%sforks: none\n", indent);
}

static int
print_human(const crdt_audit_report *r, const struct vopts *o)
{
	char when[32], st[QIAO_CODE_MAX + 200], h[13], status[32], cust[32];
	size_t steps = 0;

	printf("audit bundle %s\n", o->file);
	if (!r->decoded) {
		printf("verdict: FAILED: not a readable bundle\n");
		print_issues(r, -2, false, "  ");
		return CLI_FAIL;
	}
	printf("exported by %s (key %s), statement seq %llu at %s%s%s\n",
	    station(r, r->exporter, st, sizeof(st)),
	    short_hex(h, r->exporter), (unsigned long long)r->statement_seq,
	    cli_time(when, sizeof(when), crdt_hlc_ms(r->statement_hlc)),
	    !r->all ? "" : r->under[0] ? ", every case held under "
				       : ", every case held",
	    r->under);
	printf("complete up to the exporter's heads of these logs:\n");
	{
		struct hctx hc = { .r = r };
		static const char *const hdr[4] = { "station", "key", "seq",
			"last entry" };

		const crdt_audit_who **order = malloc((r->nkeys ? r->nkeys : 1) *
		    sizeof(const crdt_audit_who *));
		size_t nv = 0;

		if (order == NULL)
			return cli_fail("audit verify", "out of memory");
		for (size_t i = 0; i < r->nkeys; i++)
			if (r->keys[i].in_view)
				order[nv++] = &r->keys[i];
		if (nv > 1)
			qsort(order, nv, sizeof(const crdt_audit_who *),
			    view_order);
		rec_table_init(&hc.t, 4);
		for (size_t i = 0; i < nv; i++) {
			const crdt_audit_who *w = order[i];
			char seq[24];
			const char *cells[4];

			snprintf(seq, sizeof(seq), "%llu",
			    (unsigned long long)w->head_seq);
			cells[0] = station(r, w->key, st, sizeof(st));
			cells[1] = short_hex(h, w->key);
			cells[2] = w->has_head ? seq : "-";
			cells[3] = w->has_head ? cli_time(when, sizeof(when),
						     crdt_hlc_ms(w->head_hlc))
					       : "none held";
			if (rec_table_add(&hc.t, cells) != QIAO_OK)
				break;
		}
		free(order);
		table_print(&hc.t, hdr, "  ");
		rec_table_fini(&hc.t);
	}
	print_forks(r, -1, "");
	for (size_t i = 0; i < r->ncases; i++) {
		const crdt_audit_result *c = &r->cases[i];

		steps += c->nops;
		field(c, "status", status, sizeof(status));
		field(c, "custodian", cust, sizeof(cust));
		if (o->summary) {
			char d[3][32];

			for (int k = 0; k < 3; k++) {
				uint64_t got = crdt_audit_sla_got(&c->sum, k);

				snprintf(d[k], sizeof(d[k]), "%s %s",
				    got == CRDT_SUM_NONE ? "-" :
				    rec_duration(when, sizeof(when), got),
				    got == CRDT_SUM_NONE ? "none"
				    : got <= crdt_audit_sla_targets[k] ? "met"
								       : "MISSED");
			}
			printf("%s  %-18s %-11s response %-12s arrival %-12s "
			       "feedback %-12s %s\n", short_hex(h, c->id),
			    c->code, status[0] ? status : "-", d[0], d[1], d[2],
			    case_verdict(c));
			continue;
		}
		printf("\ncase %s  grid %s  status %s  custodian %s\n",
		    short_hex(h, c->id), c->code[0] ? c->code : "?",
		    status[0] ? status : "-", cust[0] ? cust : "-");
		{
			struct hctx hc = { .r = r };
			static const char *const hdr[4] = { "step", "time",
				"station", "signer" };

			rec_table_init(&hc.t, 4);
			each(c, "timeline", h_timeline, &hc);
			table_print(&hc.t, hdr, "  ");
			rec_table_fini(&hc.t);
		}
		print_sla(c, "  ");
		printf("  conflicts:%s\n",
		    count_of(c, "conflicts") ? "" : " none");
		each(c, "conflicts", h_conflict, &(struct hctx) { .r = r });
		printf("  kept for review (*):%s\n",
		    count_of(c, "review") ? "" : " none");
		each(c, "review", h_review, &(struct hctx) { .r = r });
		print_forks(r, (long)i, "  ");
		printf("  verdict: %s\n", case_verdict(c));
		print_issues(r, (long)i, false, "    ");
		print_issues(r, (long)i, true, "    ");
	}
	printf("\n");
	if (r->failures > 0) {
		printf("verdict: FAILED: %zu failure%s; the bundle does not "
		       "prove this history\n", r->failures,
		    r->failures == 1 ? "" : "s");
		print_issues(r, -2, false, "  ");
	} else if (r->findings > 0) {
		printf("verdict: VERIFIED WITH FINDINGS: %zu case%s, %zu "
		       "steps, %llu signatures: complete and unaltered up to "
		       "the exporter's heads; %zu finding%s\n", r->ncases,
		    r->ncases == 1 ? "" : "s", steps,
		    (unsigned long long)r->signatures, r->findings,
		    r->findings == 1 ? "" : "s");
		print_issues(r, -2, true, "  ");
	} else {
		printf("verdict: VERIFIED: %zu case%s, %zu steps, %llu "
		       "signatures: complete and unaltered up to the "
		       "exporter's heads; every target met\n", r->ncases,
		    r->ncases == 1 ? "" : "s", steps,
		    (unsigned long long)r->signatures);
	}
	if (r->dropped > 0)
		printf("  (and %zu more issues not listed)\n", r->dropped);
	return r->failures > 0 ? CLI_FAIL
	    : r->findings > 0	  ? CLI_FINDINGS
				  : CLI_OK;
}

/* JSON output. */

static json_t *
j_who(const crdt_audit_report *r, const uint8_t *key)
{
	const crdt_audit_who *w = crdt_audit_report_who(r, key);
	char hex[2 * QIAO_KEY_LEN + 1];

	crdt_hex_encode(hex, key, QIAO_KEY_LEN);
	if (w == NULL || !w->known)
		return json_pack("{s:s, s:b}", "key", hex, "enrolled", 0);
	return json_pack("{s:s, s:b, s:s, s:s, s:s}", "key", hex, "enrolled",
	    1, "role", crdt_role_name(w->id.role), "region", w->id.region,
	    "name", w->id.name);
}

struct jctx {
	const crdt_audit_report *r;
	json_t *a;
};

static json_t *
j_step(const crdt_audit_report *r, const struct tl *t)
{
	char when[40], hex[2 * QIAO_HASH_LEN + 1], key[2 * QIAO_KEY_LEN + 1];
	const crdt_audit_who *w = crdt_audit_report_who(r, t->author);

	crdt_hex_encode(hex, t->hash, QIAO_HASH_LEN);
	crdt_hex_encode(key, t->author, QIAO_KEY_LEN);
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s?}", "step",
	    t->type, "station", t->station, "name",
	    w && w->known ? w->id.name : "", "time",
	    cli_time_iso(when, sizeof(when), crdt_hlc_ms(t->hlc)), "hlc",
	    (json_int_t)t->hlc, "signer", key, "hash", hex, "review",
	    t->review ? t->reason : NULL);
}

static void
j_timeline(void *ctx, const uint8_t *m, size_t ml)
{
	struct jctx *j = ctx;
	struct tl t;

	if (tl_read(m, ml, &t))
		json_array_append_new(j->a, j_step(j->r, &t));
}

static void
j_conflict(void *ctx, const uint8_t *m, size_t ml)
{
	struct jctx *j = ctx;
	char f[32];
	crdt_reader rd;
	size_t n;
	json_t *vals;

	if (crdt_body_get_cstr(m, ml, "field", f, sizeof(f)) != QIAO_OK ||
	    crdt_body_get(m, ml, "values", &rd) != QIAO_OK ||
	    crdt_read_array(&rd, &n) != QIAO_OK)
		return;
	vals = json_array();
	for (size_t i = 0; i < n; i++) {
		const uint8_t *v = rd.p;
		struct tl t;

		if (crdt_read_skip(&rd) != QIAO_OK ||
		    !tl_read(v, (size_t)(rd.p - v), &t))
			break;
		json_array_append_new(vals, j_step(j->r, &t));
	}
	json_array_append_new(j->a, json_pack("{s:s, s:o}", "field", f,
					"values", vals));
}

static json_t *
j_case(const crdt_audit_report *r, size_t i, bool summary)
{
	const crdt_audit_result *c = &r->cases[i];
	char hex[2 * QIAO_HASH_LEN + 1], status[32], cust[32];
	json_t *sla = json_object(), *o;
	struct jctx jc = { r, NULL };

	crdt_hex_encode(hex, c->id, QIAO_HASH_LEN);
	field(c, "status", status, sizeof(status));
	field(c, "custodian", cust, sizeof(cust));
	for (int k = 0; k < 3; k++) {
		uint64_t got = crdt_audit_sla_got(&c->sum, k);
		json_t *v = got == CRDT_SUM_NONE ? json_null()
						 : json_integer((json_int_t)got);

		json_object_set_new(sla, crdt_audit_sla_names[k],
		    json_pack("{s:o, s:I, s:b}", "ms", v, "target_ms",
			(json_int_t)crdt_audit_sla_targets[k], "met",
			got != CRDT_SUM_NONE &&
			    got <= crdt_audit_sla_targets[k]));
	}
	o = json_pack("{s:s, s:s, s:s?, s:s?, s:I, s:I, s:s, s:o}", "id", hex,
	    "grid", c->code, "status", status[0] ? status : NULL,
	    "custodian", cust[0] ? cust : NULL, "steps", (json_int_t)c->nops,
	    "folded", (json_int_t)c->folded, "verdict", case_verdict(c),
	    "sla", sla);
	if (o == NULL)
		return NULL;
	jc.a = json_array();
	each(c, "conflicts", j_conflict, &jc);
	json_object_set_new(o, "conflicts", jc.a);
	jc.a = json_array();
	each(c, "review", j_timeline, &jc);
	json_object_set_new(o, "review", jc.a);
	if (!summary) {
		jc.a = json_array();
		each(c, "timeline", j_timeline, &jc);
		json_object_set_new(o, "timeline", jc.a);
	}
	return o;
}

static int
print_json(const crdt_audit_report *r, const struct vopts *o)
{
	json_t *j, *view, *cases, *fails, *finds;
	char when[40], hex[2 * QIAO_HASH_LEN + 1];
	size_t steps = 0;
	int code = r->failures > 0 ? CLI_FAIL
	    : r->findings > 0	   ? CLI_FINDINGS
				   : CLI_OK;

	view = json_array();
	cases = json_array();
	fails = json_array();
	finds = json_array();
	for (size_t i = 0; i < r->nkeys; i++) {
		const crdt_audit_who *w = &r->keys[i];
		json_t *k;

		if (!w->in_view)
			continue;
		k = j_who(r, w->key);
		json_object_set_new(k, "seq", w->has_head
			? json_integer((json_int_t)w->head_seq)
			: json_null());
		json_object_set_new(k, "time", w->has_head
			? json_string(cli_time_iso(when, sizeof(when),
			      crdt_hlc_ms(w->head_hlc)))
			: json_null());
		json_array_append_new(view, k);
	}
	for (size_t i = 0; i < r->ncases; i++) {
		steps += r->cases[i].nops;
		json_array_append_new(cases, j_case(r, i, o->summary));
	}
	for (size_t i = 0; i < r->nissues; i++) {
		const crdt_audit_issue *is = &r->issues[i];

		if (is->case_index >= 0)
			crdt_hex_encode(hex, r->cases[is->case_index].id,
			    QIAO_HASH_LEN);
		json_array_append_new(is->finding ? finds : fails,
		    json_pack("{s:s, s:s?, s:s}", "code", is->code, "case",
			is->case_index >= 0 ? hex : NULL, "message", is->msg));
	}
	j = json_pack("{s:s, s:s, s:i, s:o, s:o, s:o, s:o}", "file", o->file,
	    "verdict", code == CLI_FAIL ? "failed"
	    : code == CLI_FINDINGS	? "findings"
					: "verified",
	    "exit", code, "view", view, "cases", cases, "failures", fails,
	    "findings", finds);
	if (j == NULL)
		return cli_fail("audit verify", "out of memory");
	if (r->decoded) {
		json_object_set_new(j, "exporter", j_who(r, r->exporter));
		json_object_set_new(j, "statement",
		    json_pack("{s:I, s:I, s:s}", "seq",
			(json_int_t)r->statement_seq, "hlc",
			(json_int_t)r->statement_hlc, "time",
			cli_time_iso(when, sizeof(when),
			    crdt_hlc_ms(r->statement_hlc))));
		json_object_set_new(j, "all", json_boolean(r->all));
		json_object_set_new(j, "under",
		    r->under[0] ? json_string(r->under) : json_null());
	}
	json_object_set_new(j, "counts",
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "cases",
		(json_int_t)r->ncases, "steps", (json_int_t)steps,
		"signatures", (json_int_t)r->signatures, "failures",
		(json_int_t)r->failures, "findings", (json_int_t)r->findings,
		"not_listed", (json_int_t)r->dropped));
	if (cli_json_print(j) != CLI_OK)
		return CLI_FAIL;
	return code;
}

static int
audit_verify(const char *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "summary", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vopts o = { 0 };
	const char *roothex = NULL;
	uint8_t root[QIAO_KEY_LEN], *buf = NULL;
	crdt_audit_report *r;
	size_t len = 0;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'r': roothex = optarg; break;
		case 'j': o.json = true; break;
		case 's': o.summary = true; break;
		case 'h': return cli_help(cmd);
		default: return cli_bad_option(cmd, ch, argv);
		}
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "give exactly one FILE");
	o.file = argv[optind];
	if (roothex == NULL)
		return cli_usage(cmd, "give --root HEX, the district's root "
				      "public key (qiao root init printed it)");
	if ((rc = cli_parse_key(cmd, "--root", roothex, root)) != CLI_OK)
		return rc;
	if ((rc = read_file(cmd, o.file, &buf, &len)) != CLI_OK)
		return rc;
	rc = crdt_auditor_verify(buf, len, root, &r);
	free(buf);
	if (rc != QIAO_OK)
		return cli_fail(cmd, "%s", qiao_strerror(rc));
	rc = o.json ? print_json(r, &o) : print_human(r, &o);
	/* The report is on stdout; the failure also gets its one line. */
	if (rc == CLI_FAIL && r->failures > 0) {
		const char *first = "?";

		for (size_t i = 0; i < r->nissues; i++)
			if (!r->issues[i].finding) {
				first = r->issues[i].code;
				break;
			}
		cli_fail(cmd, "%s does not verify: %zu failure%s, the first: "
			      "%s", o.file, r->failures,
		    r->failures == 1 ? "" : "s", first);
	}
	crdt_audit_report_free(r);
	return rc;
}

/* reconcile */

static int
audit_reconcile(const char *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = cli_default_dir(), *file;
	node_audit_omission *om = NULL;
	size_t nom = 0, forks = 0, len = 0;
	uint8_t *buf = NULL;
	bool json = false;
	char err[512];
	node *n;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'j': json = true; break;
		case 'h': return cli_help(cmd);
		default: return cli_bad_option(cmd, ch, argv);
		}
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "give exactly one FILE");
	file = argv[optind];
	if ((rc = read_file(cmd, file, &buf, &len)) != CLI_OK)
		return rc;
	if ((rc = cli_open(cmd, dir, &n)) != CLI_OK) {
		free(buf);
		return rc;
	}
	rc = node_audit_reconcile(n, buf, len, &om, &nom, &forks, err,
	    sizeof(err));
	node_close(n);
	free(buf);
	if (rc != QIAO_OK)
		return cli_fail(cmd, "%s: %s", file, err);
	if (json) {
		json_t *a = json_array();

		for (size_t i = 0; i < nom; i++) {
			char id[2 * QIAO_HASH_LEN + 1], h[2 * QIAO_HASH_LEN + 1];
			char k[2 * QIAO_KEY_LEN + 1], when[40];
			const node_audit_omission *o = &om[i];

			crdt_hex_encode(id, o->case_id, QIAO_HASH_LEN);
			crdt_hex_encode(h, o->e.hash, QIAO_HASH_LEN);
			crdt_hex_encode(k, o->e.author, QIAO_KEY_LEN);
			json_array_append_new(a, json_pack("{s:s, s:b, s:b, "
			    "s:s, s:s, s:s, s:I, s:I, s:s}", "case", id,
			    "whole_case", o->whole_case, "author_unstated",
			    o->unstated, "step",
			    crdt_type_name(o->e.type) ? crdt_type_name(o->e.type)
						      : "?",
			    "hash", h, "signer", k, "seq",
			    (json_int_t)o->e.seq, "view_seq",
			    (json_int_t)o->view_seq, "time",
			    cli_time_iso(when, sizeof(when),
				crdt_hlc_ms(o->e.hlc))));
		}
		free(om);
		rc = cli_json_print(json_pack("{s:s, s:o, s:I}", "file", file,
		    "omitted", a, "forks", (json_int_t)forks));
		return rc != CLI_OK ? rc : nom || forks ? CLI_FAIL : CLI_OK;
	}
	for (size_t i = 0; i < nom; i++) {
		const node_audit_omission *o = &om[i];
		char id[13], k[13], when[32];

		printf("omitted: case %s: %s %s (seq %llu of key %s, %s): ",
		    short_hex(id, o->case_id),
		    o->whole_case ? "the whole case, its" : "step",
		    crdt_type_name(o->e.type) ? crdt_type_name(o->e.type) : "?",
		    (unsigned long long)o->e.seq, short_hex(k, o->e.author),
		    cli_time(when, sizeof(when), crdt_hlc_ms(o->e.hlc)));
		if (o->unstated)
			printf("the exporter's view leaves its author out\n");
		else
			printf("the exporter stated it held that log to seq "
			       "%llu\n", (unsigned long long)o->view_seq);
	}
	free(om);
	if (forks > 0)
		printf("forks: %zu of the exporter's heads differ from the "
		       "entries this store holds at those seqs\n", forks);
	if (nom == 0 && forks == 0) {
		printf("nothing left out: this store holds no step of these "
		       "cases that the exporter's heads cover and the bundle "
		       "lacks\n");
		return CLI_OK;
	}
	return CLI_FAIL;
}

static int
cmd_audit(int argc, char **argv)
{
	static const rec_sub subs[] = {
		{ "export", audit_export },
		{ "verify", audit_verify },
		{ "reconcile", audit_reconcile },
	};

	return rec_dispatch("audit", subs, sizeof(subs) / sizeof(subs[0]),
	    argc, argv);
}

const cli_cmd cli_cmd_audit = { "audit",
	cmd_audit, "export, verify and reconcile a case's signed history",
	USAGE_AUDIT };
