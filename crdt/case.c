/*
 * case — the closed loop of a case, as effects in the fold (crdt/fold.h).
 *
 * Custody: a case is held by a station, named by its region code (never by
 * a key, so a station's replacement key keeps its cases). The opener's
 * station holds it first. A transfer names the receiving station (and
 * perhaps a named body there, e.g. 派出所); it takes effect when that
 * station accepts it. Every step but a note and the acceptance of a
 * transfer is the custodian's: by an author whose station held custody in
 * the op's causal past (or by the district or root, which act anywhere).
 * Any other such op is kept in the timeline and listed for review; it
 * changes nothing. Deciding on the causal past, not on arrival, is what
 * makes every store decide the same.
 *
 * Registers written here besides the op's own fields (crdt/op.c):
 *   status     open, accepted, routed, transferred, mediating, resolved,
 *              evaluated, visited, closed, reopened
 *   custodian  the station (region code) holding the case
 *   level      grid, village, town, district, or the named body
 *   pending    {to, body}: a transfer not yet accepted; nil once accepted
 */
#include <string.h>

#include "crdt/codec.h"
#include "crdt/fold.h"
#include "crdt/hlc.h"
#include "crdt/types.h"

static const char *const status_names[CRDT_CS_COUNT] = {
	[CRDT_CS_NONE] = "none",
	[CRDT_CS_OPEN] = "open",
	[CRDT_CS_ACCEPTED] = "accepted",
	[CRDT_CS_ROUTED] = "routed",
	[CRDT_CS_TRANSFERRED] = "transferred",
	[CRDT_CS_MEDIATING] = "mediating",
	[CRDT_CS_RESOLVED] = "resolved",
	[CRDT_CS_EVALUATED] = "evaluated",
	[CRDT_CS_VISITED] = "visited",
	[CRDT_CS_CLOSED] = "closed",
	[CRDT_CS_REOPENED] = "reopened",
};

const char *
crdt_case_status_name(int status)
{
	if (status <= CRDT_CS_NONE || status >= CRDT_CS_COUNT)
		return "?";
	return status_names[status];
}

int
crdt_case_status_parse(const char *name)
{
	for (int i = CRDT_CS_OPEN; i < CRDT_CS_COUNT; i++)
		if (strcmp(name, status_names[i]) == 0)
			return i;
	return CRDT_CS_NONE;
}

bool
crdt_case_status_resolved(int status)
{
	return status == CRDT_CS_RESOLVED || status == CRDT_CS_EVALUATED ||
	    status == CRDT_CS_VISITED || status == CRDT_CS_CLOSED;
}

/* The level a station works at, by the length of its code. */
static const char *
station_level(const char *code, bool at_intake)
{
	switch (strlen(code)) {
	case 12:
		/* A village's grid worker takes the case in the grid. */
		return at_intake ? "grid" : "village";
	case 9:
		return "town";
	default:
		return "district";
	}
}

/* The status a step sets, or NULL for stamps that set none. */
static const char *
step_status(uint64_t type)
{
	switch (type) {
	case QIAO_T_CASE_ROUTE:
		return "routed";
	case QIAO_T_CASE_TRANSFER:
		return "transferred";
	case QIAO_T_CASE_MEDIATE:
		return "mediating";
	case QIAO_T_CASE_RESOLVE:
		return "resolved";
	case QIAO_T_CASE_EVALUATE:
		return "evaluated";
	case QIAO_T_CASE_VISIT:
		return "visited";
	case QIAO_T_CASE_CLOSE:
		return "closed";
	case QIAO_T_CASE_REOPEN:
		return "reopened";
	default:
		return NULL;
	}
}

struct pending {
	bool has;
	char to[QIAO_CODE_MAX];
	char body[QIAO_LINE_MAX + 1];
};

/* The transfer awaiting acceptance in op at's causal past. */
static void
get_pending(const crdt_fold *f, size_t at, struct pending *p)
{
	const uint8_t *v;
	size_t len, n;
	crdt_reader r;

	memset(p, 0, sizeof(*p));
	if (crdt_fold_get(f, "pending", at, &v, &len) != QIAO_OK)
		return;
	crdt_reader_init(&r, v, len);
	if (crdt_read_peek(&r) != CRDT_KIND_MAP || crdt_read_map(&r, &n) != 0)
		return;
	if (crdt_body_get_cstr(v, len, "to", p->to, sizeof(p->to)) != 0)
		return;
	if (crdt_body_get_cstr(v, len, "body", p->body, sizeof(p->body)) != 0)
		p->body[0] = '\0';
	p->has = true;
}

static void
write_pending(crdt_fold *f, size_t i, const char *to, const char *body)
{
	uint8_t buf[64 + QIAO_CODE_MAX + QIAO_LINE_MAX];
	crdt_writer w;

	crdt_writer_init_fixed(&w, buf, sizeof(buf));
	crdt_write_map(&w, body[0] ? 2 : 1);
	if (body[0]) {
		crdt_write_cstr(&w, "body");
		crdt_write_cstr(&w, body);
	}
	crdt_write_cstr(&w, "to");
	crdt_write_cstr(&w, to);
	if (crdt_writer_error(&w) == QIAO_OK)
		crdt_fold_write(f, i, "pending", buf, w.len);
}

static void
stamp(uint64_t *slot, uint64_t hlc)
{
	uint64_t ms = crdt_hlc_ms(hlc);

	if (*slot == CRDT_SUM_NONE || ms < *slot)
		*slot = ms;
}

void
crdt_case_effect(crdt_fold *f, size_t i, uint64_t stamps[CRDT_STAMPS])
{
	const crdt_rec_op *op = crdt_fold_op(f, i);
	char cust[QIAO_CODE_MAX], body[QIAO_LINE_MAX + 1], to[QIAO_CODE_MAX];
	bool has_cust, custodial;
	const char *st;
	struct pending p;

	switch (op->type) {
	case QIAO_T_CASE_OPEN:
		crdt_fold_fields(f, i);
		crdt_fold_write_str(f, i, "status", "open");
		crdt_fold_write_str(f, i, "custodian", op->station);
		crdt_fold_write_str(f, i, "level",
		    station_level(op->station, true));
		stamp(&stamps[CRDT_STAMP_INTAKE], op->hlc);
		return;
	case QIAO_T_CASE_NOTE:
		return; /* anyone the fold let in may note */
	default:
		break;
	}
	has_cust = crdt_fold_get_str(f, "custodian", i, cust, sizeof(cust));
	custodial = op->privileged || (has_cust && strcmp(cust, op->station) == 0);
	if (op->type == QIAO_T_CASE_ACCEPT) {
		get_pending(f, i, &p);
		if (p.has && strcmp(p.to, op->station) == 0) {
			/* The receiver takes the case: custody moves now. */
			crdt_fold_write_str(f, i, "custodian", p.to);
			crdt_fold_write_str(f, i, "level",
			    p.body[0] ? p.body : station_level(p.to, false));
			crdt_fold_write_nil(f, i, "pending");
		} else if (!custodial) {
			crdt_fold_review(f, i,
			    has_cust ? "accept by a station that is neither "
				       "the custodian nor the receiver of a "
				       "pending transfer"
				     : "custody unknown: the case's opening is "
				       "not in this step's causal past",
			    has_cust ? cust : NULL);
			return;
		}
		crdt_fold_write_str(f, i, "status", "accepted");
		stamp(&stamps[CRDT_STAMP_RESPONSE], op->hlc);
		return;
	}
	if (!custodial) {
		crdt_fold_review(f, i,
		    has_cust ? "only the custodian records this step"
			     : "custody unknown: the case's opening is not in "
			       "this step's causal past",
		    has_cust ? cust : NULL);
		return;
	}
	crdt_fold_fields(f, i);
	if ((st = step_status(op->type)) != NULL)
		crdt_fold_write_str(f, i, "status", st);
	switch (op->type) {
	case QIAO_T_CASE_TRANSFER:
		if (crdt_body_get_cstr(op->body, op->body_len, "to", to,
			sizeof(to)) != QIAO_OK)
			return;
		if (crdt_body_get_cstr(op->body, op->body_len, "body", body,
			sizeof(body)) != QIAO_OK)
			body[0] = '\0';
		write_pending(f, i, to, body);
		return;
	case QIAO_T_CASE_ARRIVE:
		stamp(&stamps[CRDT_STAMP_ARRIVAL], op->hlc);
		return;
	case QIAO_T_CASE_FEEDBACK:
		stamp(&stamps[CRDT_STAMP_FEEDBACK], op->hlc);
		return;
	default:
		return;
	}
}

static uint64_t
delay(uint64_t at, uint64_t intake)
{
	if (at == CRDT_SUM_NONE || intake == CRDT_SUM_NONE)
		return CRDT_SUM_NONE;
	/* A stamp before intake (a station's clock behind) counts as
	 * immediate rather than wrapping around. */
	return at > intake ? at - intake : 0;
}

void
crdt_case_summary(const crdt_fold *f, const uint64_t stamps[CRDT_STAMPS],
    crdt_rec_summary *sum)
{
	char buf[QIAO_LINE_MAX + 1];
	const uint8_t *v;
	size_t len;

	if (stamps[CRDT_STAMP_INTAKE] != CRDT_SUM_NONE)
		sum->time_ms = stamps[CRDT_STAMP_INTAKE];
	sum->response_ms = delay(stamps[CRDT_STAMP_RESPONSE],
	    stamps[CRDT_STAMP_INTAKE]);
	sum->arrival_ms = delay(stamps[CRDT_STAMP_ARRIVAL],
	    stamps[CRDT_STAMP_INTAKE]);
	sum->feedback_ms = delay(stamps[CRDT_STAMP_FEEDBACK],
	    stamps[CRDT_STAMP_INTAKE]);
	if (crdt_fold_get_str(f, "status", CRDT_FOLD_ALL, buf, sizeof(buf)))
		sum->status = (uint8_t)crdt_case_status_parse(buf);
	if (crdt_fold_get_str(f, "resolved_level", CRDT_FOLD_ALL, buf,
		sizeof(buf)))
		for (int k = 0; crdt_levels[k] != NULL; k++)
			if (strcmp(buf, crdt_levels[k]) == 0)
				sum->level = (uint8_t)(k + 1);
	if (crdt_fold_get(f, "satisfied", CRDT_FOLD_ALL, &v, &len) == 0 &&
	    len == 1)
		sum->evaluation = v[0] == 0xc3 ? 2 : v[0] == 0xc2 ? 1 : 0;
}
