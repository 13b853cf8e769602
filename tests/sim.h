/*
 * sim — a whole district in one process: a district node, towns and
 * villages, each a real node with its own store, daemon and nng sockets,
 * linked over inproc://. One thread steps every daemon in turn, so the
 * run needs no locks beyond nng's. Used by tests/t_sync_sim.c and the
 * benchmark (tests/bench/bench_sync.c).
 */
#ifndef QIAO_TESTS_SIM_H
#define QIAO_TESTS_SIM_H

#include <sys/resource.h>
#include <time.h>

#include "nodes.h"
#include "node/daemon.h"

struct sim_node {
	node *n;
	node_daemon *d;
	int parent; /* index of the node it dials; -1 for the district */
	enum qiao_role role;
	char region[QIAO_REGION_MAX];
};

struct sim {
	struct sim_node *v;
	size_t count;
	int towns;
	char base[300];
	char tag[48];
};

static uint64_t
sim_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sim_url(const struct sim *s, size_t i, char *buf, size_t len)
{
	snprintf(buf, len, "inproc://%s-%zu", s->tag, i);
}

/*
 * Before its first link a station must hold the certificates of its peers
 * (README, "Trust"), as a real one gets them: the district's log (which
 * enrols the towns) goes to every station, each town's log (which enrols
 * its villages) to its villages, each by `qiao log export` / `import`.
 */
static int
sim_bootstrap(struct sim *s)
{
	char path[400];
	int rc;

	snprintf(path, sizeof(path), "%s/root.log", s->base);
	if ((rc = tn_export(s->v[0].n, path, node_self(s->v[0].n))) != 0)
		return rc;
	for (size_t i = 1; i < s->count; i++)
		if ((rc = tn_import(s->v[i].n, path)) != QIAO_OK)
			return rc;
	for (size_t t = 1; t <= (size_t)s->towns; t++) {
		snprintf(path, sizeof(path), "%s/town%zu.log", s->base, t);
		if ((rc = tn_export(s->v[t].n, path, node_self(s->v[t].n))) !=
		    QIAO_OK)
			return rc;
		for (size_t i = 1 + (size_t)s->towns; i < s->count; i++)
			if (s->v[i].parent == (int)t &&
			    (rc = tn_import(s->v[i].n, path)) != QIAO_OK)
				return rc;
	}
	return QIAO_OK;
}

/*
 * Builds 1 district + towns + villages (spread over the towns) under
 * base, enrolled (the district is the root; it enrols the towns, each
 * town its villages) and bootstrapped (sim_bootstrap). Nothing runs yet.
 */
static int
sim_build(struct sim *s, const char *base, int towns, int villages)
{
	struct rlimit rl;
	int rc;

	/* Three descriptors per store: raise the soft limit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	memset(s, 0, sizeof(*s));
	s->towns = towns;
	s->count = 1 + (size_t)towns + (size_t)villages;
	snprintf(s->base, sizeof(s->base), "%.299s", base);
	snprintf(s->tag, sizeof(s->tag), "sim%ld-%llu", (long)getpid(),
	    (unsigned long long)sim_ms());
	if ((s->v = calloc(s->count, sizeof(*s->v))) == NULL)
		return QIAO_ENOMEM;
	for (size_t i = 0; i < s->count; i++) {
		struct sim_node *x = &s->v[i];
		char dir[340], url[96];
		qiao_conf c;

		if (i == 0) {
			x->role = QIAO_ROLE_DISTRICT;
			x->parent = -1;
			snprintf(x->region, sizeof(x->region), "500116");
		} else if (i <= (size_t)towns) {
			x->role = QIAO_ROLE_TOWN;
			x->parent = 0;
			snprintf(x->region, sizeof(x->region), "500116%03u",
			    (unsigned)(i % 1000));
		} else {
			size_t t = 1 + (i - 1 - (size_t)towns) % (size_t)towns;
			char town[QIAO_REGION_MAX];

			x->role = QIAO_ROLE_VILLAGE;
			x->parent = (int)t;
			memcpy(town, s->v[t].region, sizeof(town));
			snprintf(x->region, sizeof(x->region), "%.9s%03u", town,
			    (unsigned)((1 + (i - 1 - (size_t)towns) /
				(size_t)towns) % 1000));
		}
		snprintf(dir, sizeof(dir), "%.300s/n%zu", base, i);
		tn_conf(&c, dir, x->role, x->region,
		    i == 0 ? NULL : node_self(s->v[0].n));
		if (x->role != QIAO_ROLE_VILLAGE)
			sim_url(s, i, c.listen, sizeof(c.listen));
		if (x->parent >= 0) {
			sim_url(s, (size_t)x->parent, url, sizeof(url));
			snprintf(c.upstream[0], sizeof(c.upstream[0]), "%s", url);
			c.nupstream = 1;
		}
		c.reconnect_min_ms = 50;
		c.reconnect_max_ms = 400;
		c.poll_ms = 1000;
		c.change_poll_ms = 50;
		c.timeout_ms = 60000;
		c.window = 2;
		c.batch_bytes = 64 << 10;
		if ((x->n = tn_make_conf(dir, &c)) == NULL)
			return QIAO_ESTORE;
	}
	for (size_t i = 1; i < s->count; i++) {
		struct sim_node *x = &s->v[i];

		if ((rc = tn_enrol(s->v[x->parent].n, x->n, x->role,
			 x->region)) != QIAO_OK)
			return rc;
	}
	return sim_bootstrap(s);
}

static int
sim_start(struct sim *s, size_t i)
{
	node_daemon_opts o = { 0 };

	if (s->v[i].d != NULL)
		return QIAO_OK;
	return node_daemon_new(&s->v[i].d, s->v[i].n, &o);
}

static void
sim_stop(struct sim *s, size_t i)
{
	node_daemon_free(s->v[i].d);
	s->v[i].d = NULL;
}

static void
sim_free(struct sim *s)
{
	for (size_t i = 0; s->v != NULL && i < s->count; i++) {
		sim_stop(s, i);
		node_close(s->v[i].n);
	}
	free(s->v);
	s->v = NULL;
}

/* Steps every running daemon for ms milliseconds, or until done(s) holds
 * (checked every check_ms). Returns true if done. */
static bool
sim_run(struct sim *s, uint64_t ms, bool (*done)(struct sim *),
    uint64_t check_ms)
{
	uint64_t end = sim_ms() + ms, next_check = sim_ms() + check_ms;

	while (sim_ms() < end) {
		uint64_t before = 0, after = 0;

		for (size_t i = 0; i < s->count; i++) {
			if (s->v[i].d == NULL)
				continue;
			before += node_daemon_events(s->v[i].d);
			if (node_daemon_step(s->v[i].d, 0) != QIAO_OK)
				return false;
			after += node_daemon_events(s->v[i].d);
		}
		if (done != NULL && sim_ms() >= next_check) {
			if (done(s))
				return true;
			next_check = sim_ms() + check_ms;
		}
		if (after == before) {
			struct timespec ts = { 0, 1000000 };

			nanosleep(&ts, NULL);
		}
	}
	return done != NULL && done(s);
}

/* Every node holds, of every log in its scope, as much as its author:
 * a cheap check by head seqs. */
static bool
sim_heads_match(struct sim *s)
{
	for (size_t i = 1; i < s->count; i++) {
		struct sim_node *x = &s->v[i];
		const uint8_t *self = node_self(x->n);
		uint64_t own = tn_seq(x->n, self);

		if (tn_seq(s->v[0].n, self) != own)
			return false;
		if (x->role == QIAO_ROLE_VILLAGE) {
			node *t = s->v[x->parent].n;

			if (tn_seq(t, self) != own ||
			    tn_seq(x->n, node_self(t)) !=
				tn_seq(t, node_self(t)) ||
			    tn_seq(x->n, node_self(s->v[0].n)) !=
				tn_seq(s->v[0].n, node_self(s->v[0].n)))
				return false;
		} else if (tn_seq(x->n, node_self(s->v[0].n)) !=
		    tn_seq(s->v[0].n, node_self(s->v[0].n))) {
			return false;
		}
	}
	return true;
}

/* The contract: equal digests for every scope two nodes share. */
static bool
sim_converged(struct sim *s)
{
	for (size_t i = 1; i < s->count; i++) {
		struct sim_node *x = &s->v[i];

		if (!tn_same_scope(x->n, s->v[0].n, x->region))
			return false;
		if (x->role == QIAO_ROLE_VILLAGE &&
		    !tn_same_scope(x->n, s->v[x->parent].n, x->region))
			return false;
	}
	return true;
}

#endif
