#include "crdt/hlc.h"

int
crdt_hlc_tick(uint64_t *last, uint64_t now_ms, uint64_t *out)
{
	uint64_t t;

	if (now_ms > QIAO_HLC_MS_MAX)
		return QIAO_EINVAL;
	t = crdt_hlc_make(now_ms, 0);
	/* The counter overflowing simply carries into the milliseconds. */
	if (t <= *last)
		t = *last + 1;
	*last = t;
	*out = t;
	return QIAO_OK;
}

int
crdt_hlc_observe(uint64_t *last, uint64_t remote, uint64_t now_ms,
    uint64_t max_skew_ms)
{
	if (crdt_hlc_ms(remote) > now_ms + max_skew_ms)
		return QIAO_ESKEW;
	if (remote > *last)
		*last = remote;
	return QIAO_OK;
}
