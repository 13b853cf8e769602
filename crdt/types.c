#include <string.h>

#include "crdt/types.h"

static const struct {
	uint64_t type;
	const char *name;
} names[] = {
	{ QIAO_T_NOTE, "note" },
	{ QIAO_T_ENROL, "enrol" },
	{ QIAO_T_REVOKE, "revoke" },
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
