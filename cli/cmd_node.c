/*
 * qiao node run — the node daemon in the foreground.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "crdt/hex.h"
#include "node/daemon.h"
#include "node/log.h"

#define USAGE_NODE                                                          \
	"usage: qiao node run [--dir DIR | --config FILE]\n"                \
	"\n"                                                                \
	"Runs the node in the foreground: listens where [net] listen says,\n" \
	"dials every [net] upstream (redialing with backoff), and keeps each\n" \
	"link in sync: heads changed since the last session, then the\n"    \
	"missing entries in batches, then new entries as they are written\n" \
	"(by this node's CLI too: `qiao log append` and the record commands\n" \
	"may run while the node does). Logs go to stderr, one line per event.\n" \
	"SIGTERM or SIGINT stops it cleanly (exit 0).\n"                    \
	"\n"                                                                \
	"--config FILE  the configuration (conf/village.conf documents every\n" \
	"               directive); its [node] dir names the store; what\n" \
	"               the file leaves out of role, region, name and root\n" \
	"               comes from DIR/qiao.conf (a value that differs is\n" \
	"               an error)\n"                                          \
	"--dir DIR      the store; its DIR/qiao.conf if any, else defaults\n" \
	"               (no listening, no upstream)\n"

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* What qiao init wrote into DIR/qiao.conf (role, region, name, root)
 * stands where the --config file is silent: without its root a node would
 * trust only itself and refuse every link. A store without that file
 * leaves the config as it is. */
static int
take_store_identity(qiao_conf *conf, const char *dir, char *err,
    size_t errlen)
{
	char path[QIAO_PATH_MAX + 16];
	qiao_conf own;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, QIAO_CONF_NAME);
	conf_defaults(&own);
	rc = conf_load(&own, path, err, errlen);
	if (rc == QIAO_ENOTFOUND)
		return QIAO_OK;
	if (rc != QIAO_OK)
		return rc;
	return conf_take_identity(conf, &own, path, err, errlen);
}

static int
node_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "node run", *dir = NULL, *config = NULL;
	char err[600], hex[2 * QIAO_KEY_LEN + 1];
	node_daemon_opts dopts = { 0 };
	struct sigaction sa;
	node_daemon *d = NULL;
	qiao_conf conf;
	node *n = NULL;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'h':
			return cli_help("node");
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if ((rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if (config != NULL) {
		conf_defaults(&conf);
		if (conf_load(&conf, config, err, sizeof(err)) != QIAO_OK)
			return cli_fail(cmd, "%s", err);
		if (dir == NULL && conf.dir[0] == '\0')
			return cli_fail(cmd, "%s: [node] dir is required (the "
					     "store)",
			    config);
		if (dir == NULL)
			dir = conf.dir;
		if (take_store_identity(&conf, dir, err, sizeof(err)) !=
		    QIAO_OK)
			return cli_fail(cmd, "%s: %s", config, err);
		rc = node_open(&n, dir, &(node_opts) { .conf = &conf }, err,
		    sizeof(err));
	} else {
		if (dir == NULL)
			dir = cli_default_dir();
		rc = node_open(&n, dir, NULL, err, sizeof(err));
	}
	if (rc != QIAO_OK)
		return cli_fail(cmd, "%s", err);
	if (node_self(n) == NULL) {
		node_close(n);
		return cli_fail(cmd, "%s has no station key (create one with "
				     "qiao init)",
		    dir);
	}
	if ((rc = node_load_key(n)) != QIAO_OK) {
		node_close(n);
		return cli_fail(cmd, "%s/key: %s", dir, qiao_strerror(rc));
	}
	node_log_set_level((enum node_log_level)node_get_conf(n)->log_level);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((rc = node_daemon_new(&d, n, &dopts)) != QIAO_OK) {
		node_close(n);
		return cli_fail(cmd, "cannot start the network: %s (see the "
				     "log line above)",
		    qiao_strerror(rc));
	}
	crdt_hex_encode(hex, node_self(n), QIAO_KEY_LEN);
	node_log(NODE_LOG_INFO, "node", "station %.16s (%s %s) running on %s;"
					" listen %s; %zu upstream",
	    hex, conf_role_name(node_get_conf(n)->role)
		? conf_role_name(node_get_conf(n)->role)
		: "unset",
	    node_get_conf(n)->region[0] ? node_get_conf(n)->region : "-", dir,
	    node_get_conf(n)->listen[0] ? node_get_conf(n)->listen : "none",
	    node_get_conf(n)->nupstream);
	rc = node_daemon_run(d, &stop);
	node_log(NODE_LOG_INFO, "node", "stopping");
	node_daemon_free(d);
	node_close(n);
	if (rc != QIAO_OK)
		return cli_fail(cmd, "%s", qiao_strerror(rc));
	return CLI_OK;
}

static int
cmd_node(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage("node", "which? (run)");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cli_help("node");
	if (strcmp(argv[1], "run") == 0)
		return node_run(argc - 1, argv + 1);
	return cli_usage("node", "unknown subcommand \"%s\"", argv[1]);
}

const cli_cmd cli_cmd_node = { "node", cmd_node,
	"run the node daemon (gossip with peers)", USAGE_NODE };
