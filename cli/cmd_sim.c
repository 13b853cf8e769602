/*
 * qiao sim gen — a realistic synthetic district for the demo, tests and
 * benchmarks (node/sim.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "node/keys.h"
#include "node/sim.h"

#define USAGE_SIM                                                           \
	"usage: qiao sim gen --dir DIR --seed N [--towns N] [--villages N]\n" \
	"                    [--microgrids N] [--cases N] [--resolved N]\n" \
	"                    [--grassroots N] [--registry N] "              \
	"[--meetings N]\n"                                                  \
	"                    [--region CODE] [--json]\n"                    \
	"\n"                                                                \
	"Generates a synthetic district into DIR: keys for the district,\n" \
	"its towns and villages (enrolled by DIR's key, towns enrolling\n"  \
	"their villages), the grid hierarchy, registry records, cases with\n" \
	"full lifecycles signed by the stations that own them, and the\n"   \
	"three meetings, with Chinese names and texts. DIR is created as a\n" \
	"district store (its key the trust anchor) if it holds no store.\n" \
	"The same seed gives the same district.\n"                         \
	"\n"                                                                \
	"Defaults follow a real district: 30 towns, 301 villages, 10620\n"  \
	"micro-grids, 30041 cases of which 29364 resolved, 29132 of them at\n" \
	"grassroots level (grid, village or town); 2000 registry records,\n" \
	"1200 meetings; region 500116. With --cases alone, resolved and\n"  \
	"grassroots keep the default proportions.\n"

struct progress {
	bool tty;
	int last;
};

static void
on_progress(void *ctx, const char *phase, uint64_t done, uint64_t total)
{
	struct progress *p = ctx;
	int pct = total ? (int)(100 * done / total) : 100;

	if (!p->tty || pct == p->last)
		return;
	p->last = pct;
	fprintf(stderr, "\rqiao: sim gen: %-6s %3d%%%s", phase, pct,
	    done == total ? "\n" : "");
}

/* A new district store in dir: its own trust anchor. */
static int
create(const char *cmd, const char *dir, const char *region)
{
	char path[QIAO_PATH_MAX + 16], err[512];
	node_keys *keys = NULL;
	qiao_conf c;
	node *n = NULL;
	char *abs;
	int rc;

	if (mkdir(dir, 0700) != 0 && access(dir, W_OK) != 0)
		return cli_fail(cmd, "cannot create %s", dir);
	conf_defaults(&c);
	c.role = QIAO_ROLE_DISTRICT;
	snprintf(c.region, sizeof(c.region), "%s", region);
	snprintf(c.name, sizeof(c.name), "模拟区");
	if ((abs = realpath(dir, NULL)) != NULL) {
		snprintf(c.dir, sizeof(c.dir), "%s", abs);
		free(abs);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, QIAO_CONF_NAME);
	if (conf_save(&c, path) != QIAO_OK)
		return cli_fail(cmd, "cannot write %s", path);
	if ((rc = node_keys_create(&keys, dir)) != QIAO_OK)
		return cli_fail(cmd, "cannot create the key in %s: %s", dir,
		    qiao_strerror(rc));
	node_keys_free(keys);
	rc = node_open(&n, dir, &(node_opts) { .create = true }, err,
	    sizeof(err));
	if (rc != QIAO_OK)
		return cli_fail(cmd, "%s", err);
	node_close(n);
	return CLI_OK;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
sim_gen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, 's' },
		{ "towns", required_argument, NULL, 't' },
		{ "villages", required_argument, NULL, 'v' },
		{ "microgrids", required_argument, NULL, 'm' },
		{ "cases", required_argument, NULL, 'c' },
		{ "resolved", required_argument, NULL, 'r' },
		{ "grassroots", required_argument, NULL, 'g' },
		{ "registry", required_argument, NULL, 'R' },
		{ "meetings", required_argument, NULL, 'M' },
		{ "region", required_argument, NULL, 'x' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "sim gen", *dir = NULL;
	char oname[32];
	char path[QIAO_PATH_MAX + 16], err[512];
	struct progress pg = { isatty(2), -1 };
	bool has_seed = false, has_res = false, has_grass = false;
	node_sim_opts o;
	node_sim_report r;
	uint64_t v;
	double t0;
	bool json = false;
	node *n;
	int ch, rc;

	node_sim_defaults(&o);
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		const char *name = cli_opt_name(opts, ch, oname, sizeof(oname));

		switch (ch) {
		case 'd':
			dir = optarg;
			continue;
		case 'j':
			json = true;
			continue;
		case 'x':
			if (strlen(optarg) != 6 || !conf_region_ok(optarg))
				return cli_usage(cmd, "--region must be a "
						      "district code of 6 "
						      "digits, got \"%s\"",
				    optarg);
			snprintf(o.district, sizeof(o.district), "%s", optarg);
			continue;
		case 'h':
			return cli_help("sim");
		case 's': case 't': case 'v': case 'm': case 'c': case 'r':
		case 'g': case 'R': case 'M':
			break;
		default:
			return cli_bad_option(cmd, ch, argv);
		}
		if ((rc = cli_parse_u64(cmd, name, optarg, &v)) != CLI_OK)
			return rc;
		if (ch != 's' && ch != 'c' && ch != 'r' && ch != 'g' &&
		    v > 10000000)
			return cli_usage(cmd, "%s is too large", name);
		switch (ch) {
		case 's': o.seed = v; has_seed = true; break;
		case 't': o.towns = (unsigned)v; break;
		case 'v': o.villages = (unsigned)v; break;
		case 'm': o.microgrids = (unsigned)v; break;
		case 'c': o.cases = v; break;
		case 'r': o.resolved = v; has_res = true; break;
		case 'g': o.grassroots = v; has_grass = true; break;
		case 'R': o.registry = (unsigned)v; break;
		case 'M': o.meetings = (unsigned)v; break;
		}
	}
	if ((rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if (dir == NULL || !has_seed)
		return cli_usage(cmd, "--dir and --seed are required");
	/* Unless told, keep the real district's proportions. */
	if (!has_res)
		o.resolved = (o.cases * QIAO_SIM_RESOLVED +
		    QIAO_SIM_CASES / 2) / QIAO_SIM_CASES;
	if (!has_grass) {
		o.grassroots = (o.cases * QIAO_SIM_GRASSROOTS +
		    QIAO_SIM_CASES / 2) / QIAO_SIM_CASES;
		if (o.grassroots > o.resolved)
			o.grassroots = o.resolved;
	}
	if (o.resolved > o.cases)
		return cli_usage(cmd, "--resolved must not exceed --cases");
	if (o.grassroots > o.resolved)
		return cli_usage(cmd, "--grassroots must not exceed "
				      "--resolved");
	/* Options out of range are a usage error before anything is
	 * created: a mistyped count must not leave a store behind. */
	if (node_sim_check(&o, err, sizeof(err)) != QIAO_OK)
		return cli_usage(cmd, "%s", err);
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (access(path, F_OK) != 0 &&
	    (rc = create(cmd, dir, o.district)) != CLI_OK)
		return rc;
	if ((rc = cli_open(cmd, dir, &n)) != CLI_OK)
		return rc;
	o.progress = on_progress;
	o.progress_ctx = &pg;
	t0 = now_s();
	rc = node_sim_gen(n, &o, &r, err, sizeof(err));
	t0 = now_s() - t0;
	node_close(n);
	if (rc == QIAO_EINVAL)
		return cli_usage(cmd, "%s", err);
	if (rc != QIAO_OK)
		return cli_fail(cmd, "%s (entries committed so far stay)", err);
	if (json) {
		json_t *j = json_object();

		json_object_set_new(j, "entries", json_integer((json_int_t)r.entries));
		json_object_set_new(j, "seconds", json_real(t0));
		json_object_set_new(j, "stations",
		    json_integer((json_int_t)r.stations));
		json_object_set_new(j, "grids", json_integer((json_int_t)r.grids));
		json_object_set_new(j, "registry",
		    json_integer((json_int_t)r.registry));
		json_object_set_new(j, "cases", json_integer((json_int_t)r.cases));
		json_object_set_new(j, "resolved",
		    json_integer((json_int_t)o.resolved));
		json_object_set_new(j, "grassroots",
		    json_integer((json_int_t)o.grassroots));
		json_object_set_new(j, "meetings",
		    json_integer((json_int_t)r.meetings));
		return cli_json_print(j);
	}
	printf("district %s: %u stations (1 district, %u towns, %u "
	       "villages)\n",
	    o.district, r.stations, o.towns, o.villages);
	printf("grids %llu, registry records %llu, meetings %llu\n",
	    (unsigned long long)r.grids, (unsigned long long)r.registry,
	    (unsigned long long)r.meetings);
	printf("cases %llu (resolved %llu, at grassroots %llu)\n",
	    (unsigned long long)r.cases, (unsigned long long)o.resolved,
	    (unsigned long long)o.grassroots);
	printf("entries %llu in %.2f s (%.0f entries/s)\n",
	    (unsigned long long)r.entries, t0,
	    t0 > 0 ? (double)r.entries / t0 : 0.0);
	return CLI_OK;
}

static int
cmd_sim(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage("sim", "which? (gen)");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cli_help("sim");
	if (strcmp(argv[1], "gen") != 0)
		return cli_usage("sim", "unknown subcommand \"%s\" (gen)",
		    argv[1]);
	return sim_gen(argc - 1, argv + 1);
}

const cli_cmd cli_cmd_sim = { "sim", cmd_sim,
	"generate a synthetic district", USAGE_SIM };
