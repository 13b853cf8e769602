#include <string.h>

#include "crdt/types.h"

static const struct {
	uint64_t type;
	const char *name;
} names[] = {
	{ QIAO_T_NOTE, "note" },
	{ QIAO_T_ENROL, "enrol" },
	{ QIAO_T_REVOKE, "revoke" },
	{ QIAO_T_AUDIT, "audit" },
	{ QIAO_T_GRID, "grid" },
	{ QIAO_T_REG, "reg" },
	{ QIAO_T_CASE_OPEN, "open" },
	{ QIAO_T_CASE_ACCEPT, "accept" },
	{ QIAO_T_CASE_ROUTE, "route" },
	{ QIAO_T_CASE_TRANSFER, "transfer" },
	{ QIAO_T_CASE_ARRIVE, "arrive" },
	{ QIAO_T_CASE_FEEDBACK, "feedback" },
	{ QIAO_T_CASE_MEDIATE, "mediate" },
	{ QIAO_T_CASE_RESOLVE, "resolve" },
	{ QIAO_T_CASE_EVALUATE, "evaluate" },
	{ QIAO_T_CASE_VISIT, "visit" },
	{ QIAO_T_CASE_CLOSE, "close" },
	{ QIAO_T_CASE_REOPEN, "reopen" },
	{ QIAO_T_CASE_NOTE, "case-note" },
	{ QIAO_T_MEETING, "meeting" },
};

const char *
crdt_type_name(uint64_t type)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].type == type)
			return names[i].name;
	return NULL;
}

uint64_t
crdt_type_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i].name, name) == 0)
			return names[i].type;
	return 0;
}
