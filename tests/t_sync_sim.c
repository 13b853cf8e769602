/*
 * A whole district in one process over inproc://: 1 district, 30 towns,
 * 301 villages, each a real node (store, daemon, nng sockets). Everyone
 * writes while offline (each holding, from its bootstrap, the
 * certificates its links need); the links come up, every one
 * authenticated and sealed, and the district converges;
 * half the towns are cut off while their villages and the district keep
 * writing; the partition heals and everything converges again: equal
 * digests for every scope two nodes share.
 */
#include "check.h"

#include "node/log.h"
#include "sim.h"

static void
t_district_converges_after_partition(void)
{
	const char *base = check_tmpdir();
	struct sim s;
	size_t half;

	REQUIRE(base != NULL);
	node_log_set_level(NODE_LOG_WARN);
	REQUIRE_RC(sim_build(&s, base, 30, 301), QIAO_OK);
	/* Offline: every station records before any link exists. */
	for (size_t i = 0; i < s.count; i++)
		REQUIRE_RC(tn_notes(s.v[i].n, i == 0 ? 3 : 2, 120), QIAO_OK);
	for (size_t i = 0; i < s.count; i++)
		REQUIRE_RC(sim_start(&s, i), QIAO_OK);
	CHECK(sim_run(&s, 120000, sim_heads_match, 500));
	CHECK(sim_converged(&s));
	/* Every link was authenticated: bootstrapped, no station was
	 * refused by its peer, nor refused it. */
	for (size_t i = 1; i < s.count; i++) {
		node_daemon_upstream up;

		node_daemon_upstream_state(s.v[i].d, 0, &up);
		CHECK(up.connected && !up.refused);
	}
	/* Partition: towns 1..15 go dark; their villages keep recording,
	 * and so do the district and the other half. */
	half = (size_t)s.towns / 2;
	for (size_t t = 1; t <= half; t++)
		sim_stop(&s, t);
	for (size_t i = 0; i < s.count; i += 3)
		REQUIRE_RC(tn_notes(s.v[i].n, 2, 120), QIAO_OK);
	sim_run(&s, 1500, NULL, 0);
	CHECK(!sim_heads_match(&s)); /* the cut-off half is behind */
	/* Heal. */
	for (size_t t = 1; t <= half; t++)
		REQUIRE_RC(sim_start(&s, t), QIAO_OK);
	CHECK(sim_run(&s, 120000, sim_heads_match, 500));
	CHECK(sim_converged(&s));
	/* A village holds its own, its town's and the district's logs. */
	CHECK(tn_seq(s.v[s.count - 1].n, node_self(s.v[s.count - 2].n)) == 0);
	sim_free(&s);
}

CHECK_MAIN(T(t_district_converges_after_partition))
