#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/records.h"
#include "crdt/codec.h"
#include "crdt/hex.h"
#include "crdt/hlc.h"
#include "node/state.h"

int
rec_open(const char *cmd, const char *dir, node **n, node_txn **txn)
{
	int rc;

	*txn = NULL;
	if ((rc = cli_open(cmd, dir, n)) != CLI_OK)
		return rc;
	if ((rc = node_store_txn_begin(node_get_store(*n), false, txn)) != 0) {
		node_close(*n);
		*n = NULL;
		return cli_fail(cmd, "cannot read the store: %s",
		    qiao_strerror(rc));
	}
	return CLI_OK;
}

void
rec_close(node *n, node_txn *txn)
{
	node_store_txn_abort(txn);
	node_close(n);
}

bool
rec_from(rec *out, const uint8_t *key, size_t klen, const uint8_t *val,
    size_t len)
{
	if (klen > sizeof(out->key) ||
	    !crdt_op_reckey_parse(key, klen, &out->kind, out->code, out->id))
		return false;
	memcpy(out->key, key, klen);
	out->klen = klen;
	out->state = val;
	out->len = len;
	return true;
}

int
rec_load(node_txn *txn, const uint8_t *key, size_t klen, rec *out)
{
	const uint8_t *v;
	size_t len;
	int rc = node_state_get(txn, key, klen, &v, &len);

	if (rc != QIAO_OK)
		return rc;
	return rec_from(out, key, klen, v, len) ? QIAO_OK : QIAO_ESTORE;
}

static const char *
kind_word(char kind)
{
	switch (kind) {
	case CRDT_REC_CASE:
		return "case";
	case CRDT_REC_GRID:
		return "grid";
	case CRDT_REC_MEETING:
		return "meeting";
	default:
		return "registry record";
	}
}

int
rec_find(const char *cmd, node_txn *txn, char kind, const char *text,
    rec *out)
{
	uint8_t key[QIAO_RECKEY_MAX];
	size_t klen;
	int rc;

	if (kind == CRDT_REC_GRID) {
		if (!conf_region_ok(text) || strlen(text) >= QIAO_CODE_MAX)
			return cli_usage(cmd, "a grid code is digits, got "
					      "\"%s\"",
			    text);
		klen = crdt_op_reckey(key, CRDT_REC_GRID, text, NULL);
		rc = QIAO_OK;
	} else {
		rc = node_state_find(txn, kind, text, key, &klen);
	}
	if (rc == QIAO_EINVAL)
		return cli_usage(cmd, "a %s id is 8 to 64 hex digits, got "
				      "\"%s\"",
		    kind_word(kind), text);
	if (rc == QIAO_EEXIST)
		return cli_fail(cmd, "\"%s\" names more than one %s: give "
				     "more digits",
		    text, kind_word(kind));
	/* Hash-named records are found through the index their creating
	 * op writes: ops that arrived before it name nothing findable. */
	if (rc == QIAO_OK)
		rc = rec_load(txn, key, klen, out);
	if (rc == QIAO_ENOTFOUND)
		return cli_fail(cmd, "no %s \"%s\" in this store",
		    kind_word(kind), text);
	if (rc != QIAO_OK)
		return cli_fail(cmd, "%s", qiao_strerror(rc));
	return CLI_OK;
}

int
rec_print_written(bool json, const char *key, const char *name,
    const uint8_t *hash, const char *status)
{
	char hex[2 * QIAO_HASH_LEN + 1];
	json_t *j;

	if (!json) {
		if (status != NULL)
			printf("%s %s\n", name, status);
		else
			printf("%s\n", name);
		return CLI_OK;
	}
	if ((j = json_object()) == NULL ||
	    json_object_set_new(j, key, json_string(name)) != 0)
		goto fail;
	if (hash != NULL) {
		crdt_hex_encode(hex, hash, QIAO_HASH_LEN);
		if (json_object_set_new(j, "hash", json_string(hex)) != 0)
			goto fail;
	}
	if (status != NULL &&
	    json_object_set_new(j, "status", json_string(status)) != 0)
		goto fail;
	return cli_json_print(j);
fail:
	json_decref(j);
	return CLI_FAIL;
}

const char *
rec_short_id(char *buf, const uint8_t id[QIAO_HASH_LEN])
{
	crdt_hex_encode(buf, id, REC_ID_SHOW / 2);
	return buf;
}

int
rec_part(const rec *r, const char *key, const uint8_t **val, size_t *len)
{
	crdt_reader rd;
	const uint8_t *start;
	int rc = crdt_body_get(r->state, r->len, key, &rd);

	if (rc != QIAO_OK)
		return rc;
	start = rd.p;
	if (crdt_read_skip(&rd) != QIAO_OK)
		return QIAO_EMALFORMED;
	*val = start;
	*len = (size_t)(rd.p - start);
	return QIAO_OK;
}

static int
field_reader(const rec *r, const char *reg, crdt_reader *out)
{
	const uint8_t *f;
	size_t fl;
	int rc = rec_part(r, "fields", &f, &fl);

	return rc != QIAO_OK ? rc : crdt_body_get(f, fl, reg, out);
}

bool
rec_field(const rec *r, const char *reg, char *buf, size_t cap)
{
	crdt_reader rd;
	const char *s;
	size_t n;

	buf[0] = '\0';
	if (field_reader(r, reg, &rd) != QIAO_OK ||
	    crdt_read_str(&rd, &s, &n) != QIAO_OK)
		return false;
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return true;
}

bool
rec_field_uint(const rec *r, const char *reg, uint64_t *out)
{
	crdt_reader rd;

	return field_reader(r, reg, &rd) == QIAO_OK &&
	    crdt_read_uint(&rd, out) == QIAO_OK;
}

bool
rec_field_bool(const rec *r, const char *reg, bool *out)
{
	crdt_reader rd;

	return field_reader(r, reg, &rd) == QIAO_OK &&
	    crdt_read_bool(&rd, out) == QIAO_OK;
}

size_t
rec_count(const rec *r, const char *key)
{
	crdt_reader rd;
	size_t n = 0;

	if (crdt_body_get(r->state, r->len, key, &rd) != QIAO_OK ||
	    crdt_read_array(&rd, &n) != QIAO_OK)
		return 0;
	return n;
}

int
rec_whoami(const char *cmd, node *n, node_txn *txn, node_trust_id *id)
{
	const uint8_t *self = node_self(n);
	int rc;

	if (self == NULL)
		return cli_fail(cmd, "this store has no station key");
	rc = node_trust_lookup(n, txn, self, id);
	if (rc == QIAO_EUNKNOWN || (rc == QIAO_OK &&
	    id->role == QIAO_ROLE_NONE))
		return cli_fail(cmd, "this station has no role or region yet "
				     "(qiao init --role --region, or its "
				     "enrolment)");
	if (rc != QIAO_OK)
		return cli_fail(cmd, "%s", qiao_strerror(rc));
	return CLI_OK;
}

const char *
rec_place_name(node_txn *txn, const char *code, char *buf, size_t cap)
{
	uint8_t key[QIAO_RECKEY_MAX];
	rec r = { 0 };

	buf[0] = '\0';
	if (rec_load(txn, key, crdt_op_reckey(key, CRDT_REC_GRID, code, NULL),
		&r) == QIAO_OK)
		rec_field(&r, "name", buf, cap);
	return buf;
}

int
rec_append(const char *cmd, node *n, uint64_t type, crdt_body *b,
    crdt_entry *e)
{
	const char *why = NULL;
	uint8_t *body = NULL;
	size_t len = 0;
	int rc = crdt_body_finish(b, &body, &len);

	crdt_body_fini(b);
	if (rc == QIAO_ETOOBIG)
		return cli_usage(cmd, "the operation is too large");
	if (rc == QIAO_EINVAL)
		return cli_usage(cmd, "a text is not valid UTF-8");
	if (rc != QIAO_OK)
		return cli_fail(cmd, "%s", qiao_strerror(rc));
	rc = node_append(n, type, body, len, e, &why);
	free(body);
	if (rc != QIAO_OK)
		return cli_fail(cmd, "%s%s%s", qiao_strerror(rc),
		    why ? ": " : "", why ? why : "");
	return CLI_OK;
}

bool
rec_personal(const char *key, size_t n)
{
	return (n == 5 && memcmp(key, "id_no", 5) == 0) ||
	    (n == 5 && memcmp(key, "phone", 5) == 0);
}

const char *
rec_mask(char *buf, size_t cap, const char *s, size_t n)
{
	size_t keep_head = n >= 15 ? 4 : n >= 7 ? 3 : 0;
	size_t keep_tail = n >= 7 ? 4 : 0;
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < cap; i++)
		buf[o++] = i < keep_head || i >= n - keep_tail ? s[i] : '*';
	buf[o] = '\0';
	return buf;
}

void
rec_json_mask(json_t *j)
{
	if (json_is_array(j)) {
		for (size_t i = 0; i < json_array_size(j); i++)
			rec_json_mask(json_array_get(j, i));
		return;
	}
	if (!json_is_object(j))
		return;
	for (void *it = json_object_iter(j); it != NULL;
	     it = json_object_iter_next(j, it)) {
		const char *k = json_object_iter_key(it);
		json_t *v = json_object_iter_value(it);

		if (json_is_string(v) && rec_personal(k, strlen(k))) {
			char buf[64];

			json_object_iter_set_new(j, it,
			    json_string(rec_mask(buf, sizeof(buf),
				json_string_value(v), json_string_length(v))));
		} else {
			rec_json_mask(v);
		}
	}
}

json_t *
rec_json(const rec *r, bool reveal)
{
	json_t *j = cli_json_from_msgpack(r->state, r->len);

	if (j != NULL && !reveal)
		rec_json_mask(j);
	return j;
}

void
rec_print_value(FILE *f, const char *key, size_t klen, const uint8_t *val,
    size_t len, bool reveal)
{
	crdt_reader r;
	const char *s;
	const uint8_t *b;
	size_t n;
	uint64_t u;
	bool v;
	char buf[64];

	crdt_reader_init(&r, val, len);
	switch (crdt_read_peek(&r)) {
	case CRDT_KIND_STR:
		if (crdt_read_str(&r, &s, &n) != QIAO_OK)
			break;
		if (!reveal && rec_personal(key, klen))
			fputs(rec_mask(buf, sizeof(buf), s, n), f);
		else
			fwrite(s, 1, n, f);
		return;
	case CRDT_KIND_UINT:
		if (crdt_read_uint(&r, &u) == QIAO_OK)
			fprintf(f, "%llu", (unsigned long long)u);
		return;
	case CRDT_KIND_BOOL:
		if (crdt_read_bool(&r, &v) == QIAO_OK)
			fputs(v ? "yes" : "no", f);
		return;
	case CRDT_KIND_BIN:
		if (crdt_read_bin(&r, &b, &n) == QIAO_OK) {
			crdt_hex_encode(buf, b, n < 6 ? n : 6);
			fputs(buf, f);
		}
		return;
	case CRDT_KIND_ARRAY:
		if (crdt_read_array(&r, &n) != QIAO_OK)
			break;
		for (size_t i = 0; i < n; i++) {
			const uint8_t *start = r.p;

			if (crdt_read_skip(&r) != QIAO_OK)
				break;
			if (i > 0)
				fputs("、", f);
			rec_print_value(f, key, klen, start,
			    (size_t)(r.p - start), reveal);
		}
		return;
	default:
		break;
	}
	fputs("-", f);
}

void
rec_print_detail(FILE *f, const uint8_t *map, size_t len, bool reveal)
{
	crdt_reader r;
	size_t n;

	crdt_reader_init(&r, map, len);
	if (crdt_read_map(&r, &n) != QIAO_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *start;
		const char *k;
		size_t kl;

		if (crdt_read_str(&r, &k, &kl) != QIAO_OK)
			return;
		start = r.p;
		if (crdt_read_skip(&r) != QIAO_OK)
			return;
		fprintf(f, "%s%.*s=", i ? " " : "", (int)kl, k);
		rec_print_value(f, k, kl, start, (size_t)(r.p - start),
		    reveal);
	}
}

const char *
rec_duration(char *buf, size_t cap, uint64_t ms)
{
	uint64_t s = ms / 1000;

	if (s >= 3600)
		snprintf(buf, cap, "%llu:%02llu:%02llu",
		    (unsigned long long)(s / 3600),
		    (unsigned long long)(s / 60 % 60),
		    (unsigned long long)(s % 60));
	else
		snprintf(buf, cap, "%llu:%02llu", (unsigned long long)(s / 60),
		    (unsigned long long)(s % 60));
	return buf;
}

int
rec_check_code(const char *cmd, const char *what, const char *code,
    const size_t *lens)
{
	size_t n = strlen(code);
	char want[64] = "";
	size_t o = 0;

	if (conf_region_ok(code) && n < QIAO_CODE_MAX)
		for (const size_t *l = lens; *l != 0; l++)
			if (n == *l)
				return CLI_OK;
	for (const size_t *l = lens; *l != 0 && o < sizeof(want); l++)
		o += (size_t)snprintf(want + o, sizeof(want) - o, "%s%zu",
		    l == lens ? "" : l[1] == 0 ? " or " : ", ", *l);
	return cli_usage(cmd, "%s must be a region code of %s digits, got "
			      "\"%s\"",
	    what, want, code);
}

int
rec_check_oneof(const char *cmd, const char *what, const char *v,
    const char *const *list)
{
	char want[256] = "";
	size_t o = 0;

	if (crdt_op_oneof(list, v, strlen(v)))
		return CLI_OK;
	for (const char *const *l = list; *l != NULL && o < sizeof(want); l++)
		o += (size_t)snprintf(want + o, sizeof(want) - o, "%s%s",
		    l == list ? "" : ", ", *l);
	return cli_usage(cmd, "%s must be one of %s, got \"%s\"", what, want,
	    v);
}

int
rec_check_text(const char *cmd, const char *what, const char *v, size_t max)
{
	size_t n = strlen(v);

	if (n == 0)
		return cli_usage(cmd, "%s must not be empty", what);
	if (n > max)
		return cli_usage(cmd, "%s is longer than %zu bytes", what,
		    max);
	if (!crdt_codec_utf8_ok(v, n))
		return cli_usage(cmd, "%s is not valid UTF-8", what);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == 0x7f || (c < 0x20 && !(max > QIAO_LINE_MAX &&
		    (c == '\n' || c == '\t'))))
			return cli_usage(cmd, "%s holds a control character",
			    what);
	}
	return CLI_OK;
}

void
rec_print_fields(const rec *r, bool reveal, size_t width)
{
	const uint8_t *f;
	size_t fl, n;
	crdt_reader rd;

	if (rec_part(r, "fields", &f, &fl) != QIAO_OK)
		return;
	crdt_reader_init(&rd, f, fl);
	if (crdt_read_map(&rd, &n) != QIAO_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *start;
		const char *k;
		size_t kl;
		char key[64];

		if (crdt_read_str(&rd, &k, &kl) != QIAO_OK)
			return;
		start = rd.p;
		if (crdt_read_skip(&rd) != QIAO_OK)
			return;
		snprintf(key, sizeof(key), "%.*s", (int)kl, k);
		fputs("  ", stdout);
		cli_print_padded(key, width);
		fputs("  ", stdout);
		rec_print_value(stdout, k, kl, start, (size_t)(rd.p - start),
		    reveal);
		fputc('\n', stdout);
	}
}

/* Time of an op's hlc, local, to the second. */
static const char *
hlc_time(char *buf, size_t cap, const uint8_t *map, size_t len)
{
	uint64_t hlc = 0;

	if (crdt_body_get_uint(map, len, "hlc", &hlc) != QIAO_OK)
		return "?";
	return cli_time(buf, cap, crdt_hlc_ms(hlc));
}

static void
print_station(node_txn *txn, const uint8_t *map, size_t len)
{
	char code[QIAO_CODE_MAX], name[QIAO_NAME_MAX];

	if (crdt_body_get_cstr(map, len, "station", code, sizeof(code)) != 0)
		code[0] = '\0';
	fputs(code[0] ? code : "root", stdout);
	if (code[0] && *rec_place_name(txn, code, name, sizeof(name)))
		printf(" %s", name);
}

void
rec_print_conflicts(node_txn *txn, const rec *r, bool reveal,
    const char *indent)
{
	crdt_reader rd;
	size_t n;

	if (crdt_body_get(r->state, r->len, "conflicts", &rd) != QIAO_OK ||
	    crdt_read_array(&rd, &n) != QIAO_OK || n == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *c = rd.p, *vals;
		char field[64], t[32];
		size_t cl, nv, vl;
		crdt_reader vr;

		if (crdt_read_skip(&rd) != QIAO_OK)
			return;
		cl = (size_t)(rd.p - c);
		if (crdt_body_get_cstr(c, cl, "field", field, sizeof(field)) !=
			QIAO_OK ||
		    crdt_body_get(c, cl, "values", &vr) != QIAO_OK ||
		    crdt_read_array(&vr, &nv) != QIAO_OK)
			return;
		printf("%s%s:\n", indent, field);
		for (size_t k = 0; k < nv; k++) {
			crdt_reader v;

			vals = vr.p;
			if (crdt_read_skip(&vr) != QIAO_OK)
				return;
			vl = (size_t)(vr.p - vals);
			printf("%s  %s ", indent, k + 1 == nv ? "*" : " ");
			if (crdt_body_get(vals, vl, "value", &v) == QIAO_OK) {
				const uint8_t *s = v.p;

				if (crdt_read_skip(&v) == QIAO_OK)
					rec_print_value(stdout, field,
					    strlen(field), s,
					    (size_t)(v.p - s), reveal);
			}
			printf("  (");
			print_station(txn, vals, vl);
			printf(", %s)\n", hlc_time(t, sizeof(t), vals, vl));
		}
	}
}

void
rec_print_review(const rec *r, const char *indent)
{
	crdt_reader rd;
	size_t n;

	if (crdt_body_get(r->state, r->len, "review", &rd) != QIAO_OK ||
	    crdt_read_array(&rd, &n) != QIAO_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *m = rd.p;
		char type[32], why[256], st[QIAO_CODE_MAX], cust[QIAO_CODE_MAX],
		    t[32];
		size_t ml;

		if (crdt_read_skip(&rd) != QIAO_OK)
			return;
		ml = (size_t)(rd.p - m);
		if (crdt_body_get_cstr(m, ml, "type", type, sizeof(type)) != 0)
			strcpy(type, "?");
		if (crdt_body_get_cstr(m, ml, "reason", why, sizeof(why)) != 0)
			why[0] = '\0';
		if (crdt_body_get_cstr(m, ml, "station", st, sizeof(st)) != 0)
			st[0] = '\0';
		printf("%s%s  %s by %s: %s", indent, hlc_time(t, sizeof(t), m,
		    ml), type, st[0] ? st : "root", why);
		if (crdt_body_get_cstr(m, ml, "custodian", cust,
			sizeof(cust)) == QIAO_OK)
			printf(" (custodian %s)", cust);
		fputc('\n', stdout);
	}
}

void
rec_print_timeline(node_txn *txn, const rec *r, bool reveal)
{
	crdt_reader rd;
	size_t n;

	if (crdt_body_get(r->state, r->len, "timeline", &rd) != QIAO_OK ||
	    crdt_read_array(&rd, &n) != QIAO_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *m = rd.p;
		char type[32], t[32];
		size_t ml;
		crdt_reader d;

		if (crdt_read_skip(&rd) != QIAO_OK)
			return;
		ml = (size_t)(rd.p - m);
		if (crdt_body_get_cstr(m, ml, "type", type, sizeof(type)) != 0)
			strcpy(type, "?");
		printf("  %s  ", hlc_time(t, sizeof(t), m, ml));
		cli_print_padded(type, 9);
		fputs(" ", stdout);
		print_station(txn, m, ml);
		if (crdt_body_get(m, ml, "review", &d) == QIAO_OK)
			fputs("  [for review]", stdout);
		if (crdt_body_get(m, ml, "detail", &d) == QIAO_OK) {
			const uint8_t *s = d.p;
			size_t dn;
			crdt_reader c = d;

			if (crdt_read_map(&c, &dn) == QIAO_OK && dn > 0 &&
			    crdt_read_skip(&d) == QIAO_OK) {
				fputs("  ", stdout);
				rec_print_detail(stdout, s, (size_t)(d.p - s),
				    reveal);
			}
		}
		fputc('\n', stdout);
	}
}

void
rec_table_init(rec_table *t, size_t ncol)
{
	memset(t, 0, sizeof(*t));
	t->ncol = ncol < 16 ? ncol : 16;
}

int
rec_table_add(rec_table *t, const char *const *cells)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		char **v = realloc(t->cells, cap * t->ncol * sizeof(*v));

		if (v == NULL)
			return QIAO_ENOMEM;
		t->cells = v;
		t->cap = cap;
	}
	for (size_t c = 0; c < t->ncol; c++) {
		char *s = strdup(cells[c] ? cells[c] : "");

		if (s == NULL) {
			while (c-- > 0)
				free(t->cells[t->n * t->ncol + c]);
			return QIAO_ENOMEM;
		}
		t->cells[t->n * t->ncol + c] = s;
		if (cli_text_width(s) > t->width[c])
			t->width[c] = cli_text_width(s);
	}
	t->n++;
	return QIAO_OK;
}

static void
table_row(const rec_table *t, const char *const *cells)
{
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

void
rec_table_print(rec_table *t, const char *const *header)
{
	if (header != NULL) {
		for (size_t c = 0; c < t->ncol; c++)
			if (cli_text_width(header[c]) > t->width[c])
				t->width[c] = cli_text_width(header[c]);
		table_row(t, header);
	}
	for (size_t r = 0; r < t->n; r++)
		table_row(t, (const char *const *)t->cells + r * t->ncol);
}

void
rec_table_fini(rec_table *t)
{
	for (size_t i = 0; i < t->n * t->ncol; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

int
rec_list(const char *cmd, const char *dir, char kind, const char *under,
    node_state_fn fn, void *ctx, rec_lister *l, const char *const *head,
    size_t ncol, bool json)
{
	node_txn *txn;
	node *n;
	int rc;

	if ((rc = rec_open(cmd, dir, &n, &txn)) != CLI_OK)
		return rc;
	rec_table_init(&l->t, ncol);
	l->list = json_array();
	rc = node_state_scan(txn, kind, under, fn, ctx);
	rec_close(n, txn);
	if (rc != QIAO_OK) {
		rec_table_fini(&l->t);
		json_decref(l->list);
		return cli_fail(cmd, "%s", qiao_strerror(rc));
	}
	if (json) {
		rec_table_fini(&l->t);
		return cli_json_print(l->list);
	}
	json_decref(l->list);
	if (l->t.n > 0)
		rec_table_print(&l->t, head);
	rec_table_fini(&l->t);
	return CLI_OK;
}

int
rec_dispatch(const char *group, const rec_sub *subs, size_t n, int argc,
    char **argv)
{
	char cmd[64], list[256] = "";
	size_t o = 0;

	for (size_t i = 0; i < n && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
		    i ? ", " : "", subs[i].name);
	if (argc < 2)
		return cli_usage(group, "which? (%s)", list);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cli_help(group);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(argv[1], subs[i].name) != 0)
			continue;
		snprintf(cmd, sizeof(cmd), "%s %s", group, subs[i].name);
		return subs[i].fn(cmd, argc - 1, argv + 1);
	}
	return cli_usage(group, "unknown subcommand \"%s\" (%s)", argv[1],
	    list);
}

int
rec_cmd_show(const char *cmd, int argc, char **argv, char kind,
    const char *title)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "reveal", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = cli_default_dir();
	bool json = false, reveal = false;
	char id[REC_ID_SHOW + 1];
	node *n;
	node_txn *txn;
	rec r = { 0 };
	int ch, rc;

	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'r':
			reveal = true;
			break;
		case 'h':
			return cli_help(cmd);
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "give exactly one %s",
		    kind == CRDT_REC_GRID ? "CODE" : "ID");
	if ((rc = rec_open(cmd, dir, &n, &txn)) != CLI_OK)
		return rc;
	if ((rc = rec_find(cmd, txn, kind, argv[optind], &r)) != CLI_OK) {
		rec_close(n, txn);
		return rc;
	}
	if (json) {
		json_t *j = rec_json(&r, reveal);

		rec_close(n, txn);
		return cli_json_print(j);
	}
	if (kind == CRDT_REC_GRID)
		printf("%s %s\n", title, r.code);
	else
		printf("%s %s  (grid %s)\n", title, rec_short_id(id, r.id),
		    r.code);
	rec_print_fields(&r, reveal, 12);
	if (rec_count(&r, "conflicts") > 0) {
		printf("conflicts (* shown meanwhile):\n");
		rec_print_conflicts(txn, &r, reveal, "  ");
	}
	printf("timeline:\n");
	rec_print_timeline(txn, &r, reveal);
	rec_close(n, txn);
	return CLI_OK;
}
