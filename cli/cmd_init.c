/*
 * qiao init, qiao id, qiao root init — a station's store and identity.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "node/keys.h"

#define USAGE_INIT                                                          \
	"usage: qiao init [--dir DIR] [--role village|town|district]\n"     \
	"                 [--region CODE] [--name NAME] [--root HEX]\n"     \
	"\n"                                                                \
	"Creates the store in DIR (mode 0700), an Ed25519 key pair (DIR/key,\n" \
	"mode 0600, and DIR/key.pub) and DIR/qiao.conf, then prints the\n"  \
	"public key. --root is the district's root public key, the trust\n" \
	"anchor; without it the store trusts only itself and the keys it\n" \
	"enrols. A region code has 6 (district), 9 (town) or 12 (village)\n" \
	"digits.\n"

#define USAGE_ID                                                            \
	"usage: qiao id [--dir DIR]\n"                                      \
	"\n"                                                                \
	"Prints the station's public key as 64 hex digits.\n"

#define USAGE_ROOT                                                          \
	"usage: qiao root init --dir ROOTDIR [--region CODE] [--name NAME]\n" \
	"\n"                                                                \
	"Creates the district's root: a small store of its own with its key\n" \
	"(mode 0600), meant to stay on an offline machine, and prints the\n" \
	"root public key. The root enrols the district node and the towns\n" \
	"(qiao enroll --dir ROOTDIR ...); its log travels to the district\n" \
	"node with qiao log export / qiao log import.\n"

static int
do_init(const char *cmd, const char *dir, const qiao_conf *conf)
{
	char path[QIAO_PATH_MAX + 16], hex[2 * QIAO_KEY_LEN + 1], err[512];
	node_keys *keys = NULL;
	node *n = NULL;
	qiao_conf c = *conf;
	char *abs;
	int rc;

	snprintf(path, sizeof(path), "%s/key", dir);
	if (access(path, F_OK) == 0)
		return cli_fail(cmd, "%s already holds a station key; "
				     "refusing to replace it",
		    dir);
	if (mkdir(dir, 0700) != 0 &&
	    (errno != EEXIST || access(dir, W_OK) != 0))
		return cli_fail(cmd, "cannot create %s: %s", dir,
		    strerror(errno));
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
	rc = node_open(&n, dir, &(node_opts) { .create = true }, err,
	    sizeof(err));
	if (rc != QIAO_OK) {
		node_keys_free(keys);
		return cli_fail(cmd, "%s", err);
	}
	printf("%s\n", cli_hex(hex, node_keys_public(keys), QIAO_KEY_LEN));
	node_keys_free(keys);
	node_close(n);
	return CLI_OK;
}

static int
cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "role", required_argument, NULL, 'r' },
		{ "region", required_argument, NULL, 'g' },
		{ "name", required_argument, NULL, 'n' },
		{ "root", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = cli_default_dir();
	qiao_conf c;
	int ch, rc;

	conf_defaults(&c);
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'r':
			c.role = conf_role_parse(optarg);
			if (c.role == QIAO_ROLE_NONE ||
			    c.role == QIAO_ROLE_ROOT)
				return cli_usage("init", "--role must be "
							 "village, town or "
							 "district");
			break;
		case 'g':
			if (!conf_region_ok(optarg))
				return cli_usage("init", "--region must be a "
							 "region code of "
							 "digits, got \"%s\"",
				    optarg);
			snprintf(c.region, sizeof(c.region), "%s", optarg);
			break;
		case 'n':
			if (strlen(optarg) >= sizeof(c.name))
				return cli_usage("init", "--name is too long");
			snprintf(c.name, sizeof(c.name), "%s", optarg);
			break;
		case 'R':
			if ((rc = cli_parse_key("init", "--root", optarg,
				 c.root)) != CLI_OK)
				return rc;
			c.has_root = true;
			break;
		case 'h':
			return cli_help("init");
		default:
			return cli_bad_option("init", ch, argv);
		}
	}
	if ((rc = cli_no_args("init", argc, argv)) != CLI_OK)
		return rc;
	if (c.region[0] != '\0' && conf_role_region_len(c.role) != 0 &&
	    strlen(c.region) != conf_role_region_len(c.role))
		return cli_usage("init", "a %s's region code has %zu digits",
		    conf_role_name(c.role), conf_role_region_len(c.role));
	/* The warning only once the store exists: a failed init says one
	 * thing, why it failed. */
	if ((rc = do_init("init", dir, &c)) == CLI_OK && !c.has_root)
		fprintf(stderr, "qiao: init: no --root given: this store "
				"trusts only itself and the keys it enrols\n");
	return rc;
}

static int
cmd_id(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = cli_default_dir();
	uint8_t pk[QIAO_KEY_LEN];
	char hex[2 * QIAO_KEY_LEN + 1];
	int ch, rc;

	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'h':
			return cli_help("id");
		default:
			return cli_bad_option("id", ch, argv);
		}
	}
	if ((rc = cli_no_args("id", argc, argv)) != CLI_OK)
		return rc;
	rc = node_keys_load_public(pk, dir);
	if (rc == QIAO_ENOTFOUND)
		return cli_fail("id", "no station key in %s (create one with "
				      "qiao init)",
		    dir);
	if (rc != QIAO_OK)
		return cli_fail("id", "%s/key.pub: %s", dir, qiao_strerror(rc));
	printf("%s\n", cli_hex(hex, pk, QIAO_KEY_LEN));
	return CLI_OK;
}

static int
cmd_root(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "region", required_argument, NULL, 'g' },
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL;
	qiao_conf c;
	int ch, rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0)
		return argc < 2 ? cli_usage("root", "which? (init)")
				: cli_help("root");
	if (strcmp(argv[1], "init") != 0)
		return cli_usage("root", "unknown subcommand \"%s\"", argv[1]);
	argc--;
	argv++;
	conf_defaults(&c);
	c.role = QIAO_ROLE_ROOT;
	snprintf(c.name, sizeof(c.name), "root");
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'g':
			if (!conf_region_ok(optarg) || strlen(optarg) != 6)
				return cli_usage("root init",
				    "--region must be the district's 6-digit "
				    "code");
			snprintf(c.region, sizeof(c.region), "%s", optarg);
			break;
		case 'n':
			snprintf(c.name, sizeof(c.name), "%s", optarg);
			break;
		case 'h':
			return cli_help("root");
		default:
			return cli_bad_option("root init", ch, argv);
		}
	}
	if ((rc = cli_no_args("root init", argc, argv)) != CLI_OK)
		return rc;
	if (dir == NULL)
		return cli_usage("root init", "--dir ROOTDIR is required");
	return do_init("root init", dir, &c);
}

const cli_cmd cli_cmd_init = { "init", cmd_init,
	"create a store and a station key", USAGE_INIT };
const cli_cmd cli_cmd_id = { "id", cmd_id, "print the station's public key",
	USAGE_ID };
const cli_cmd cli_cmd_root = { "root", cmd_root,
	"create the district's offline root key", USAGE_ROOT };
