/*
 * Fuzz target: record op bodies from the wire, through the check and the
 * fold (crdt/op.h, crdt/record.h).
 *
 * Input: one byte choosing the op type, then the body. Besides "never
 * crash, never read out of bounds", it checks what convergence rests on:
 * a body the check accepts folds, the fold's state is itself strict
 * canonical msgpack, and two ops folded in either order give the same
 * bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/codec.h"
#include "crdt/op.h"
#include "crdt/record.h"
#include "crdt/types.h"

static const uint64_t types[] = { QIAO_T_GRID, QIAO_T_REG, QIAO_T_CASE_OPEN,
	QIAO_T_CASE_ACCEPT, QIAO_T_CASE_ROUTE, QIAO_T_CASE_TRANSFER,
	QIAO_T_CASE_ARRIVE, QIAO_T_CASE_FEEDBACK, QIAO_T_CASE_MEDIATE,
	QIAO_T_CASE_RESOLVE, QIAO_T_CASE_EVALUATE, QIAO_T_CASE_VISIT,
	QIAO_T_CASE_CLOSE, QIAO_T_CASE_REOPEN, QIAO_T_CASE_NOTE,
	QIAO_T_MEETING };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hash[QIAO_HASH_LEN] = { 1 }, *s1 = NULL, *s2 = NULL;
	crdt_rec_op ops[2];
	crdt_op_target t;
	const char *why;
	size_t l1, l2;
	uint64_t type;

	if (size < 1)
		return 0;
	type = types[data[0] % (sizeof(types) / sizeof(types[0]))];
	data++;
	size--;
	if (crdt_codec_check(data, size, NULL, NULL) != QIAO_OK ||
	    crdt_op_check(type, data, size, hash, &t, &why) != QIAO_OK)
		return 0;
	/* The op twice, by two authors: a creating op and a concurrent
	 * copy, or two concurrent steps. */
	memset(ops, 0, sizeof(ops));
	for (int i = 0; i < 2; i++) {
		ops[i].hash[0] = (uint8_t)(i + 1);
		ops[i].author[0] = (uint8_t)(i + 7);
		ops[i].hlc = 1000 + (uint64_t)i;
		ops[i].type = type;
		ops[i].body = data;
		ops[i].body_len = size;
		ops[i].privileged = i == 1;
		memcpy(ops[i].station, t.code, 12);
		ops[i].station[12] = '\0';
	}
	if (crdt_record_fold(t.kind, t.code, t.kind == CRDT_REC_GRID ? NULL
		: t.id, ops, 2, &s1, &l1, NULL) != QIAO_OK)
		abort();
	if (crdt_codec_check(s1, l1, NULL, NULL) != QIAO_OK)
		abort(); /* a state that is not canonical msgpack */
	{
		crdt_rec_op swapped[2] = { ops[1], ops[0] };

		if (crdt_record_fold(t.kind, t.code, t.kind == CRDT_REC_GRID
			? NULL : t.id, swapped, 2, &s2, &l2, NULL) != QIAO_OK)
			abort();
	}
	if (l1 != l2 || memcmp(s1, s2, l1) != 0)
		abort(); /* the order of the set mattered */
	free(s1);
	free(s2);
	return 0;
}
