/*
 * hlc — hybrid logical clock: 48 bits of Unix milliseconds and a 16-bit
 * counter in one uint64 (ms << 16 | counter), so timestamps order as
 * integers, stay close to wall time, and never go backwards on one station.
 *
 * A receiver advances its clock past every timestamp it sees, except one more
 * than max_skew ahead of its own wall clock: that one is refused
 * (QIAO_ESKEW) and the caller flags its author, so one station with a wrong
 * clock cannot drag every clock in the district into the future.
 * Wall time is a parameter: this module reads no clock.
 */
#ifndef QIAO_CRDT_HLC_H
#define QIAO_CRDT_HLC_H

#include <stdint.h>

#include "crdt/err.h"

#define QIAO_HLC_MS_MAX ((UINT64_C(1) << 48) - 1)
#define QIAO_HLC_SKEW_DEFAULT_MS (5 * 60 * 1000)

static inline uint64_t
crdt_hlc_make(uint64_t ms, uint64_t counter)
{
	return ms << 16 | (counter & 0xffff);
}

static inline uint64_t
crdt_hlc_ms(uint64_t t)
{
	return t >> 16;
}

static inline uint64_t
crdt_hlc_counter(uint64_t t)
{
	return t & 0xffff;
}

/*
 * The next timestamp for a local event: greater than *last and at least
 * now_ms. Updates *last. QIAO_EINVAL if now_ms exceeds 48 bits.
 */
int crdt_hlc_tick(uint64_t *last, uint64_t now_ms, uint64_t *out)
    QIAO_MUST_USE;

/*
 * Observes a remote timestamp: *last becomes max(*last, remote) unless remote
 * is more than max_skew_ms ahead of now_ms, in which case *last is unchanged
 * and QIAO_ESKEW is returned.
 */
int crdt_hlc_observe(uint64_t *last, uint64_t remote, uint64_t now_ms,
    uint64_t max_skew_ms) QIAO_MUST_USE;

#endif
