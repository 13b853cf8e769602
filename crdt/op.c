#include <string.h>

#include "crdt/op.h"
#include "crdt/types.h"

const char *const crdt_grid_kinds[] = { "town", "village", "grid", "micro",
	"shop", "institution", "school", "clinic", NULL };
const char *const crdt_reg_kinds[] = { "address", "person", "house", "org",
	NULL };
const char *const crdt_matters[] = { "family", "shared", "public", NULL };
const char *const crdt_risks[] = { "general", "major", "criminal", NULL };
const char *const crdt_route_levels[] = { "grid", "village", NULL };
const char *const crdt_levels[] = { "grid", "village", "town", "district",
	NULL };
const char *const crdt_meeting_levels[] = { "grid", "community", "town",
	NULL };

#define REQ CRDT_FIELD_REQ
#define LINE QIAO_LINE_MAX
#define TEXT QIAO_TEXT_MAX

/* The fields every op on an existing case carries. */
#define CASE_COMMON                                                        \
	{ "case", CRDT_F_HASH, REQ, 0, NULL, NULL, NULL },                 \
	    { "deps", CRDT_F_HASHES, 0, QIAO_DEPS_MAX, NULL, NULL, NULL }, \
	    { "grid", CRDT_F_CODE, REQ, 0, NULL, NULL, NULL },             \
	    { "note", CRDT_F_STR, 0, TEXT, NULL, NULL, NULL }

static const crdt_op_field f_grid[] = {
	{ "code", CRDT_F_CODE, REQ, 0, NULL, NULL, NULL },
	{ "deps", CRDT_F_HASHES, 0, QIAO_DEPS_MAX, NULL, NULL, NULL },
	{ "households", CRDT_F_UINT, 0, 0, NULL, "households", NULL },
	{ "kind", CRDT_F_STR, 0, LINE, crdt_grid_kinds, "kind", NULL },
	{ "leader", CRDT_F_STR, 0, LINE, NULL, "leader", NULL },
	{ "name", CRDT_F_STR, 0, LINE, NULL, "name", NULL },
	{ "phone", CRDT_F_STR, 0, 32, NULL, "phone", NULL },
};

static const crdt_op_field f_reg[] = {
	{ "address", CRDT_F_STR, 0, LINE, NULL, "address", NULL },
	{ "credit_code", CRDT_F_STR, 0, 32, NULL, "credit_code", NULL },
	{ "grid", CRDT_F_CODE, REQ, 0, NULL, NULL, NULL },
	{ "id_no", CRDT_F_STR, 0, 32, NULL, "id_no", NULL },
	{ "kind", CRDT_F_STR, REQ, LINE, crdt_reg_kinds, "kind", NULL },
	{ "name", CRDT_F_STR, REQ, LINE, NULL, "name", NULL },
	{ "note", CRDT_F_STR, 0, TEXT, NULL, "note", NULL },
	{ "owner", CRDT_F_STR, 0, LINE, NULL, "owner", NULL },
	{ "phone", CRDT_F_STR, 0, 32, NULL, "phone", NULL },
	{ "use", CRDT_F_STR, 0, LINE, NULL, "use", NULL },
};

static const crdt_op_field f_meeting[] = {
	{ "attendees", CRDT_F_UINT, 0, 0, NULL, "attendees", NULL },
	{ "cases", CRDT_F_HASHES, 0, 64, NULL, NULL, "cases" },
	{ "code", CRDT_F_CODE, REQ, 0, NULL, NULL, NULL },
	{ "date", CRDT_F_UINT, REQ, 0, NULL, "date", NULL },
	{ "decision", CRDT_F_STR, 0, TEXT, NULL, "decision", NULL },
	{ "evaluation", CRDT_F_STR, 0, TEXT, NULL, "evaluation", NULL },
	{ "level", CRDT_F_STR, REQ, LINE, crdt_meeting_levels, "level", NULL },
	{ "notice", CRDT_F_STR, 0, TEXT, NULL, "notice", NULL },
	{ "topic", CRDT_F_STR, REQ, LINE, NULL, "topic", NULL },
};

static const crdt_op_field f_open[] = {
	{ "category", CRDT_F_STR, REQ, LINE, NULL, "category", NULL },
	{ "description", CRDT_F_STR, 0, TEXT, NULL, "description", NULL },
	{ "grid", CRDT_F_CODE, REQ, 0, NULL, NULL, NULL },
	{ "matter", CRDT_F_STR, 0, LINE, crdt_matters, "matter", NULL },
	{ "parties", CRDT_F_STRS, 0, 32, NULL, NULL, "parties" },
	{ "risk", CRDT_F_STR, 0, LINE, crdt_risks, "risk", NULL },
	{ "source", CRDT_F_STR, 0, LINE, NULL, "source", NULL },
	{ "title", CRDT_F_STR, REQ, LINE, NULL, "title", NULL },
};

static const crdt_op_field f_step[] = { CASE_COMMON };

static const crdt_op_field f_route[] = {
	CASE_COMMON,
	{ "assignee", CRDT_F_STR, 0, LINE, NULL, "assignee", NULL },
	{ "category", CRDT_F_STR, 0, LINE, NULL, "category", NULL },
	{ "level", CRDT_F_STR, 0, LINE, crdt_route_levels, "level", NULL },
	{ "matter", CRDT_F_STR, 0, LINE, crdt_matters, "matter", NULL },
	{ "parties", CRDT_F_STRS, 0, 32, NULL, NULL, "parties" },
	{ "risk", CRDT_F_STR, 0, LINE, crdt_risks, "risk", NULL },
};

static const crdt_op_field f_transfer[] = {
	CASE_COMMON,
	{ "body", CRDT_F_STR, 0, LINE, NULL, NULL, NULL },
	{ "to", CRDT_F_CODE, REQ, 0, NULL, NULL, NULL },
};

static const crdt_op_field f_mediate[] = {
	CASE_COMMON,
	{ "mediator", CRDT_F_STR, 0, LINE, NULL, "mediator", NULL },
};

static const crdt_op_field f_resolve[] = {
	CASE_COMMON,
	{ "level", CRDT_F_STR, REQ, LINE, crdt_levels, "resolved_level",
	    NULL },
	{ "result", CRDT_F_STR, 0, TEXT, NULL, "result", NULL },
};

static const crdt_op_field f_evaluate[] = {
	CASE_COMMON,
	{ "by", CRDT_F_STR, 0, LINE, NULL, "evaluator", NULL },
	{ "satisfied", CRDT_F_BOOL, REQ, 0, NULL, "satisfied", NULL },
};

static const crdt_op_field f_visit[] = {
	CASE_COMMON,
	{ "by", CRDT_F_STR, 0, LINE, NULL, NULL, NULL },
};

/* A case note must say something. */
static const crdt_op_field f_note[] = {
	{ "case", CRDT_F_HASH, REQ, 0, NULL, NULL, NULL },
	{ "deps", CRDT_F_HASHES, 0, QIAO_DEPS_MAX, NULL, NULL, NULL },
	{ "grid", CRDT_F_CODE, REQ, 0, NULL, NULL, NULL },
	{ "note", CRDT_F_STR, REQ, TEXT, NULL, NULL, NULL },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct spec {
	uint64_t type;
	char kind;
	const char *code_key;
	bool creates;
	const crdt_op_field *f;
	size_t n;
} specs[] = {
	{ QIAO_T_GRID, CRDT_REC_GRID, "code", false, f_grid, N(f_grid) },
	{ QIAO_T_REG, CRDT_REC_REG, "grid", true, f_reg, N(f_reg) },
	{ QIAO_T_CASE_OPEN, CRDT_REC_CASE, "grid", true, f_open, N(f_open) },
	{ QIAO_T_CASE_ACCEPT, CRDT_REC_CASE, "grid", false, f_step,
	    N(f_step) },
	{ QIAO_T_CASE_ROUTE, CRDT_REC_CASE, "grid", false, f_route,
	    N(f_route) },
	{ QIAO_T_CASE_TRANSFER, CRDT_REC_CASE, "grid", false, f_transfer,
	    N(f_transfer) },
	{ QIAO_T_CASE_ARRIVE, CRDT_REC_CASE, "grid", false, f_step,
	    N(f_step) },
	{ QIAO_T_CASE_FEEDBACK, CRDT_REC_CASE, "grid", false, f_step,
	    N(f_step) },
	{ QIAO_T_CASE_MEDIATE, CRDT_REC_CASE, "grid", false, f_mediate,
	    N(f_mediate) },
	{ QIAO_T_CASE_RESOLVE, CRDT_REC_CASE, "grid", false, f_resolve,
	    N(f_resolve) },
	{ QIAO_T_CASE_EVALUATE, CRDT_REC_CASE, "grid", false, f_evaluate,
	    N(f_evaluate) },
	{ QIAO_T_CASE_VISIT, CRDT_REC_CASE, "grid", false, f_visit,
	    N(f_visit) },
	{ QIAO_T_CASE_CLOSE, CRDT_REC_CASE, "grid", false, f_step,
	    N(f_step) },
	{ QIAO_T_CASE_REOPEN, CRDT_REC_CASE, "grid", false, f_step,
	    N(f_step) },
	{ QIAO_T_CASE_NOTE, CRDT_REC_CASE, "grid", false, f_note, N(f_note) },
	{ QIAO_T_MEETING, CRDT_REC_MEETING, "code", true, f_meeting,
	    N(f_meeting) },
};

static const struct spec *
spec_of(uint64_t type)
{
	for (size_t i = 0; i < N(specs); i++)
		if (specs[i].type == type)
			return &specs[i];
	return NULL;
}

bool
crdt_op_is_record(uint64_t type)
{
	return spec_of(type) != NULL;
}

const crdt_op_field *
crdt_op_fields(uint64_t type, size_t *n)
{
	const struct spec *s = spec_of(type);

	*n = s ? s->n : 0;
	return s ? s->f : NULL;
}

bool
crdt_op_oneof(const char *const *list, const char *s, size_t n)
{
	for (; *list != NULL; list++)
		if (strlen(*list) == n && memcmp(*list, s, n) == 0)
			return true;
	return false;
}

size_t
crdt_grid_kind_len(const char *kind)
{
	if (strcmp(kind, "town") == 0)
		return 9;
	if (strcmp(kind, "village") == 0)
		return 12;
	if (strcmp(kind, "micro") == 0)
		return 18;
	if (crdt_op_oneof(crdt_grid_kinds, kind, strlen(kind)))
		return 15;
	return 0;
}

static bool
digits(const char *s, size_t n)
{
	if (n == 0 || n >= QIAO_CODE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* One-line fields hold no control characters; texts may hold newlines and
 * tabs. Either way nothing that could move a terminal's cursor. */
static bool
printable(const char *s, size_t n, bool text)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == 0x7f || (c < 0x20 && !(text && (c == '\n' ||
		    c == '\t'))))
			return false;
	}
	return true;
}

static int
check_str(crdt_reader *r, const crdt_op_field *f, size_t max)
{
	const char *s;
	size_t n;

	if (crdt_read_str(r, &s, &n) != QIAO_OK || n == 0 || n > max)
		return QIAO_EMALFORMED;
	if (!printable(s, n, max > QIAO_LINE_MAX))
		return QIAO_EMALFORMED;
	if (f->oneof != NULL && !crdt_op_oneof(f->oneof, s, n))
		return QIAO_EMALFORMED;
	return QIAO_OK;
}

static int
check_field(crdt_reader *r, const crdt_op_field *f)
{
	const char *s;
	const uint8_t *b;
	size_t n, m;
	uint64_t u;
	bool v;

	switch (f->kind) {
	case CRDT_F_STR:
		return check_str(r, f, f->max);
	case CRDT_F_CODE:
		if (crdt_read_str(r, &s, &n) != QIAO_OK || !digits(s, n))
			return QIAO_EMALFORMED;
		return QIAO_OK;
	case CRDT_F_UINT:
		return crdt_read_uint(r, &u);
	case CRDT_F_BOOL:
		return crdt_read_bool(r, &v);
	case CRDT_F_HASH:
		if (crdt_read_bin(r, &b, &n) != QIAO_OK || n != QIAO_HASH_LEN)
			return QIAO_EMALFORMED;
		return QIAO_OK;
	case CRDT_F_STRS:
	case CRDT_F_HASHES:
		if (crdt_read_array(r, &n) != QIAO_OK || n > f->max)
			return QIAO_EMALFORMED;
		for (size_t i = 0; i < n; i++) {
			int rc;

			if (f->kind == CRDT_F_STRS)
				rc = check_str(r, f, QIAO_LINE_MAX);
			else if ((rc = crdt_read_bin(r, &b, &m)) == QIAO_OK &&
			    m != QIAO_HASH_LEN)
				rc = QIAO_EMALFORMED;
			if (rc != QIAO_OK)
				return QIAO_EMALFORMED;
		}
		return QIAO_OK;
	}
	return QIAO_EMALFORMED;
}

/* Copies a checked code field into out. */
static void
get_code(const uint8_t *body, size_t len, const char *key, char *out)
{
	const char *s = NULL;
	size_t n = 0;

	out[0] = '\0';
	if (crdt_body_get_str(body, len, key, &s, &n) == QIAO_OK &&
	    n < QIAO_CODE_MAX) {
		memcpy(out, s, n);
		out[n] = '\0';
	}
}

static bool
len_in(size_t n, size_t a, size_t b, size_t c)
{
	return n == a || n == b || n == c;
}

/* The rules that tie a code's length to what it names. */
static const char *
check_codes(const struct spec *s, const uint8_t *body, size_t len,
    const char *code)
{
	size_t n = strlen(code);
	char kind[QIAO_LINE_MAX + 1], to[QIAO_CODE_MAX];

	switch (s->kind) {
	case CRDT_REC_GRID:
		if (crdt_body_get_cstr(body, len, "kind", kind,
			sizeof(kind)) == QIAO_OK) {
			if (n != crdt_grid_kind_len(kind))
				return "grid: the code's length does not fit "
				       "the kind (town 9, village 12, grid 15, "
				       "micro 18 digits)";
		} else if (n != 9 && !len_in(n, 12, 15, 18)) {
			return "grid: a code has 9, 12, 15 or 18 digits";
		}
		return NULL;
	case CRDT_REC_MEETING:
		if (crdt_body_get_cstr(body, len, "level", kind,
			sizeof(kind)) != QIAO_OK)
			return "meeting: level missing";
		if (strcmp(kind, "town") == 0 ? n != 9
		    : strcmp(kind, "community") == 0 ? n != 12
						     : (n != 15 && n != 18))
			return "meeting: a town joint meeting is held under a "
			       "town code (9 digits), a community "
			       "deliberation under a village (12), a grid "
			       "neighbour meeting under a grid (15 or 18)";
		return NULL;
	default:
		if (!len_in(n, 12, 15, 18))
			return "the grid code must have 12, 15 or 18 digits";
		if (s->type == QIAO_T_CASE_TRANSFER) {
			get_code(body, len, "to", to);
			if (!len_in(strlen(to), 6, 9, 12) ||
			    strncmp(to, code, strlen(to)) != 0)
				return "transfer: \"to\" must be the code of "
				       "the case's village, town or district";
		}
		return NULL;
	}
}

/* The field of spec s named key[0..n), or NULL. */
static const crdt_op_field *
field_of(const struct spec *s, const char *key, size_t n)
{
	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->f[i].key) == n &&
		    memcmp(s->f[i].key, key, n) == 0)
			return &s->f[i];
	return NULL;
}

int
crdt_op_check(uint64_t type, const uint8_t *body, size_t len,
    const uint8_t entry_hash[QIAO_HASH_LEN], crdt_op_target *t,
    const char **why)
{
	const struct spec *s = spec_of(type);
	crdt_op_target out;
	const uint8_t *id;
	const char *bad;
	uint64_t seen = 0;
	crdt_reader r;
	size_t n;

	if (s == NULL)
		return QIAO_EINVAL;
	*why = NULL;
	/* One pass over the body: each known field checked by its table
	 * entry, unknown ones skipped (a newer station's additions). */
	crdt_reader_init(&r, body, len);
	if (crdt_read_map(&r, &n) != QIAO_OK) {
		*why = "the body is not a map";
		return QIAO_EMALFORMED;
	}
	for (size_t i = 0; i < n; i++) {
		const crdt_op_field *f;
		const char *k;
		size_t kl;

		if (crdt_read_str(&r, &k, &kl) != QIAO_OK) {
			*why = "the body is not a map of strings";
			return QIAO_EMALFORMED;
		}
		if ((f = field_of(s, k, kl)) == NULL) {
			if (crdt_read_skip(&r) != QIAO_OK)
				return QIAO_EMALFORMED;
			continue;
		}
		if (check_field(&r, f) != QIAO_OK) {
			*why = "a field has the wrong kind, length or value";
			return QIAO_EMALFORMED;
		}
		seen |= UINT64_C(1) << (f - s->f);
	}
	for (size_t i = 0; i < s->n; i++) {
		if ((s->f[i].flags & CRDT_FIELD_REQ) &&
		    !(seen & (UINT64_C(1) << i))) {
			*why = "a required field is missing";
			return QIAO_EMALFORMED;
		}
	}
	memset(&out, 0, sizeof(out));
	out.kind = s->kind;
	out.creates = s->creates;
	get_code(body, len, s->code_key, out.code);
	if ((bad = check_codes(s, body, len, out.code)) != NULL) {
		*why = bad;
		return QIAO_EMALFORMED;
	}
	if (s->creates)
		memcpy(out.id, entry_hash, QIAO_HASH_LEN);
	else if (s->kind == CRDT_REC_CASE &&
	    crdt_body_get_bin(body, len, "case", &id, &n) == QIAO_OK)
		memcpy(out.id, id, QIAO_HASH_LEN);
	*t = out;
	return QIAO_OK;
}

const crdt_op_field *
crdt_op_field_of(uint64_t type, const char *key, size_t n)
{
	const struct spec *s = spec_of(type);

	return s != NULL ? field_of(s, key, n) : NULL;
}

int
crdt_op_deps(const uint8_t *body, size_t len, uint8_t out[][QIAO_HASH_LEN],
    size_t *n)
{
	crdt_reader r;
	size_t count;
	int rc = crdt_body_get(body, len, "deps", &r);

	*n = 0;
	if (rc == QIAO_ENOTFOUND)
		return QIAO_OK;
	if (rc != QIAO_OK || crdt_read_array(&r, &count) != QIAO_OK ||
	    count > QIAO_DEPS_MAX)
		return QIAO_EMALFORMED;
	for (size_t i = 0; i < count; i++)
		if (crdt_read_fixbin(&r, out[i], QIAO_HASH_LEN) != QIAO_OK)
			return QIAO_EMALFORMED;
	*n = count;
	return QIAO_OK;
}

void
crdt_op_begin(crdt_body *b, const char *code_key, const char *code,
    const uint8_t *id, const uint8_t (*deps)[QIAO_HASH_LEN], size_t ndeps)
{
	crdt_body_cstr(b, code_key, code);
	if (id != NULL)
		crdt_body_bin(b, "case", id, QIAO_HASH_LEN);
	if (ndeps > QIAO_DEPS_MAX)
		ndeps = QIAO_DEPS_MAX;
	if (ndeps > 0)
		crdt_op_hashes(b, "deps", deps, ndeps);
}

void
crdt_op_strs(crdt_body *b, const char *key, const char *const *v, size_t n)
{
	crdt_writer w;

	crdt_writer_init(&w);
	crdt_write_array(&w, n);
	for (size_t i = 0; i < n; i++)
		crdt_write_cstr(&w, v[i]);
	if (crdt_writer_error(&w) == QIAO_OK)
		crdt_body_raw(b, key, w.buf, w.len);
	else if (b->err == QIAO_OK)
		b->err = QIAO_ENOMEM;
	crdt_writer_fini(&w);
}

void
crdt_op_hashes(crdt_body *b, const char *key,
    const uint8_t (*v)[QIAO_HASH_LEN], size_t n)
{
	crdt_writer w;

	crdt_writer_init(&w);
	crdt_write_array(&w, n);
	for (size_t i = 0; i < n; i++)
		crdt_write_bin(&w, v[i], QIAO_HASH_LEN);
	if (crdt_writer_error(&w) == QIAO_OK)
		crdt_body_raw(b, key, w.buf, w.len);
	else if (b->err == QIAO_OK)
		b->err = QIAO_ENOMEM;
	crdt_writer_fini(&w);
}

size_t
crdt_op_reckey(uint8_t *out, char kind, const char *code,
    const uint8_t id[QIAO_HASH_LEN])
{
	size_t n = strnlen(code, QIAO_CODE_MAX - 1);

	out[0] = (uint8_t)kind;
	memcpy(out + 1, code, n);
	out[1 + n] = '\0';
	if (id != NULL)
		memcpy(out + 2 + n, id, QIAO_HASH_LEN);
	else
		memset(out + 2 + n, 0, QIAO_HASH_LEN);
	return 2 + n + QIAO_HASH_LEN;
}

bool
crdt_op_reckey_parse(const uint8_t *key, size_t len, char *kind, char *code,
    uint8_t id[QIAO_HASH_LEN])
{
	size_t n;

	if (len < 2 + QIAO_HASH_LEN || len > QIAO_RECKEY_MAX)
		return false;
	n = len - 2 - QIAO_HASH_LEN;
	if (n >= QIAO_CODE_MAX || key[1 + n] != '\0' ||
	    !digits((const char *)key + 1, n))
		return false;
	*kind = (char)key[0];
	memcpy(code, key + 1, n);
	code[n] = '\0';
	memcpy(id, key + 2 + n, QIAO_HASH_LEN);
	return true;
}
