/*
 * qiao — the command line. A table of commands, each in cli/cmd_<group>.c.
 */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli/cli.h"
#include "node/log.h"

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const cli_cmd cmd_help_def = { "help", cmd_help, "help on a command",
	"usage: qiao help [COMMAND]\n" };
static const cli_cmd cmd_version_def = { "version", cmd_version,
	"print the version", "usage: qiao version\n" };

/* The order here is the order of `qiao --help`. */
const cli_cmd *const cli_commands[] = {
	&cli_cmd_init,
	&cli_cmd_id,
	&cli_cmd_root,
	&cli_cmd_enroll,
	&cli_cmd_revoke,
	&cli_cmd_log,
	&cli_cmd_grid,
	&cli_cmd_reg,
	&cli_cmd_case,
	&cli_cmd_meeting,
	&cli_cmd_stats,
	&cli_cmd_digest,
	&cli_cmd_reindex,
	&cli_cmd_sim,
	&cli_cmd_node,
	&cli_cmd_sync,
	&cli_cmd_status,
	&cli_cmd_heads,
	&cli_cmd_bundle,
	&cli_cmd_audit,
	&cmd_help_def,
	&cmd_version_def,
	NULL,
};

static void
overview(FILE *f)
{
	fprintf(f, "usage: qiao COMMAND [OPTIONS]\n\n"
		   "qiao is an offline-first sync node for grassroots "
		   "governance stations.\n\ncommands:\n");
	for (const cli_cmd *const *c = cli_commands; *c != NULL; c++)
		fprintf(f, "  %-10s %s\n", (*c)->name, (*c)->summary);
	fprintf(f, "\nEvery command takes --dir DIR (default $QIAO_DIR, "
		   "else ./qiao-data) and --help.\n"
		   "See `qiao help COMMAND` and qiao(1).\n");
}

static int
cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		overview(stdout);
		return CLI_OK;
	}
	/* `qiao help --help` is help on help, like every command's --help. */
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cli_help("help");
	if (argc > 2)
		return cli_usage("help", "one command at a time");
	return cli_help(argv[1]);
}

static int
cmd_version(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
			    strcmp(argv[1], "-h") == 0))
		return cli_help("version");
	if (argc > 1)
		return cli_usage("version", "unexpected argument \"%s\"",
		    argv[1]);
	printf("qiao %s\n", QIAO_VERSION);
	return CLI_OK;
}

int
main(int argc, char **argv)
{
	const cli_cmd *c;

	/* Chinese names and texts must measure right on a terminal. */
	if (setlocale(LC_CTYPE, "") == NULL ||
	    strstr(setlocale(LC_CTYPE, NULL), "UTF-8") == NULL)
		(void)setlocale(LC_CTYPE, "C.UTF-8");
	/* A command reports its own failure in one line; the node's log lines
	 * (with LMDB's or nng's own words) only when asked for. */
	node_log_set_level(NODE_LOG_QUIET);
	if (getenv("QIAO_LOG") != NULL) {
		int level = node_log_level_parse(getenv("QIAO_LOG"));

		if (level >= 0)
			node_log_set_level((enum node_log_level)level);
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "qiao: libsodium failed to initialise\n");
		return CLI_FAIL;
	}
	if (argc < 2) {
		overview(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		overview(stdout);
		return CLI_OK;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(0, NULL);
	if ((c = cli_find(argv[1])) == NULL) {
		fprintf(stderr, "qiao: unknown command \"%s\" "
				"(try: qiao --help)\n",
		    argv[1]);
		return CLI_USAGE;
	}
	return c->fn(argc - 1, argv + 1);
}
