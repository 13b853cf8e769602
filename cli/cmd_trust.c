/*
 * qiao enroll, qiao revoke — certificates in the issuer's log.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crdt/cert.h"
#include "crdt/types.h"
#include "node/store.h"

#define USAGE_ENROLL                                                        \
	"usage: qiao enroll [--dir ISSUER] --pubkey HEX\n"                  \
	"                   --role district|town|village --region CODE\n"   \
	"                   --name NAME [--until DATE]\n"                   \
	"                   [--supersedes OLDKEY --after SEQ]\n"            \
	"\n"                                                                \
	"Writes an enrolment certificate into the issuer's log. The root\n" \
	"enrols the district node and towns (and may enrol anyone); a\n"   \
	"district enrols towns and villages under its code; a town enrols\n" \
	"villages under its code. --until YYYY-MM-DD ends the enrolment.\n" \
	"For a lost or stolen station PC, enrol its replacement key with\n" \
	"--supersedes OLDKEY --after SEQ: entries the old key signed after\n" \
	"SEQ are refused everywhere, its earlier ones stay valid.\n"

#define USAGE_REVOKE                                                        \
	"usage: qiao revoke [--dir ISSUER] --pubkey HEX [--after SEQ]\n"    \
	"                   [--reason TEXT]\n"                              \
	"\n"                                                                \
	"Writes a revocation into the issuer's log: entries of that key\n"  \
	"beyond SEQ are rejected on every node; earlier ones stay valid.\n" \
	"--after defaults to the key's last entry this store holds; a\n"   \
	"store holding none of them must give it. The root may revoke any\n" \
	"key; a district or town only certificates it could have issued\n" \
	"(its region, a lower role); a key may revoke itself, from its\n"  \
	"revocation on.\n"

static int
append(const char *cmd, node *n, uint64_t type, uint8_t *body, size_t len,
    crdt_entry *e)
{
	const char *why = NULL;
	int rc = node_append(n, type, body, len, e, &why);

	free(body);
	if (rc != QIAO_OK)
		return cli_append_fail(cmd, n, rc, why);
	return CLI_OK;
}

static int
cmd_enroll(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "pubkey", required_argument, NULL, 'k' },
		{ "role", required_argument, NULL, 'r' },
		{ "region", required_argument, NULL, 'g' },
		{ "name", required_argument, NULL, 'n' },
		{ "until", required_argument, NULL, 'u' },
		{ "supersedes", required_argument, NULL, 's' },
		{ "after", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = cli_default_dir(), *cmd = "enroll";
	bool has_key = false, has_after = false;
	enum qiao_role role = QIAO_ROLE_NONE;
	char hex[2 * QIAO_KEY_LEN + 1];
	crdt_cert c;
	crdt_entry e;
	uint8_t *body;
	size_t len;
	node *n;
	int ch, rc;

	memset(&c, 0, sizeof(c));
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'k':
			if ((rc = cli_parse_key(cmd, "--pubkey", optarg,
				 c.subject)) != CLI_OK)
				return rc;
			has_key = true;
			break;
		case 'r':
			role = conf_role_parse(optarg);
			if (role == QIAO_ROLE_NONE || role == QIAO_ROLE_ROOT)
				return cli_usage(cmd, "--role must be "
						      "district, town or "
						      "village");
			snprintf(c.role, sizeof(c.role), "%s", optarg);
			break;
		case 'g':
			if (!conf_region_ok(optarg))
				return cli_usage(cmd, "--region must be a "
						      "region code of digits, "
						      "got \"%s\"",
				    optarg);
			snprintf(c.region, sizeof(c.region), "%s", optarg);
			break;
		case 'n':
			if (strlen(optarg) >= sizeof(c.name) || !*optarg)
				return cli_usage(cmd, "--name must be 1 to "
						      "127 bytes");
			snprintf(c.name, sizeof(c.name), "%s", optarg);
			break;
		case 'u':
			if (cli_parse_date(optarg, true, &c.until) != 0)
				return cli_usage(cmd, "--until must be a date "
						      "YYYY-MM-DD, got \"%s\"",
				    optarg);
			break;
		case 's':
			if ((rc = cli_parse_key(cmd, "--supersedes", optarg,
				 c.supersedes)) != CLI_OK)
				return rc;
			c.has_supersedes = true;
			break;
		case 'a':
			if ((rc = cli_parse_u64(cmd, "--after", optarg,
				 &c.after)) != CLI_OK)
				return rc;
			has_after = true;
			break;
		case 'h':
			return cli_help(cmd);
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if ((rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if (!has_key || role == QIAO_ROLE_NONE || !c.region[0] || !c.name[0])
		return cli_usage(cmd, "--pubkey, --role, --region and --name "
				      "are required");
	if (strlen(c.region) != conf_role_region_len(role))
		return cli_usage(cmd, "a %s's region code has %zu digits",
		    c.role, conf_role_region_len(role));
	if (c.has_supersedes != has_after)
		return cli_usage(cmd, "--supersedes and --after go together");
	if ((rc = cli_open(cmd, dir, &n)) != CLI_OK)
		return rc;
	if ((rc = crdt_cert_encode(&c, &body, &len)) != QIAO_OK) {
		node_close(n);
		return cli_fail(cmd, "%s", qiao_strerror(rc));
	}
	rc = append(cmd, n, QIAO_T_ENROL, body, len, &e);
	if (rc == CLI_OK)
		printf("enrolled %s (%s %s) %s: seq %llu\n", c.name, c.role,
		    c.region, cli_hex(hex, c.subject, QIAO_KEY_LEN),
		    (unsigned long long)e.seq);
	node_close(n);
	return rc;
}

static int
cmd_revoke(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "pubkey", required_argument, NULL, 'k' },
		{ "after", required_argument, NULL, 'a' },
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = cli_default_dir(), *cmd = "revoke";
	bool has_key = false, has_after = false;
	crdt_revoke r;
	crdt_entry e;
	uint8_t *body;
	size_t len;
	node *n;
	int ch, rc;

	memset(&r, 0, sizeof(r));
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'k':
			if ((rc = cli_parse_key(cmd, "--pubkey", optarg,
				 r.subject)) != CLI_OK)
				return rc;
			has_key = true;
			break;
		case 'a':
			if ((rc = cli_parse_u64(cmd, "--after", optarg,
				 &r.after)) != CLI_OK)
				return rc;
			has_after = true;
			break;
		case 'r':
			if (strlen(optarg) >= sizeof(r.reason))
				return cli_usage(cmd, "--reason is too long");
			snprintf(r.reason, sizeof(r.reason), "%s", optarg);
			break;
		case 'h':
			return cli_help(cmd);
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if ((rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if (!has_key)
		return cli_usage(cmd, "--pubkey is required");
	if ((rc = cli_open(cmd, dir, &n)) != CLI_OK)
		return rc;
	if (!has_after) {
		node_txn *txn;
		node_head h;

		/* Default: keep what this store holds of the key. A store that
		 * holds none (the offline root, typically) would otherwise say
		 * "after 0" and wipe the station's whole history everywhere. */
		rc = node_store_txn_begin(node_get_store(n), false, &txn);
		if (rc == QIAO_OK) {
			rc = node_store_head_get(txn, r.subject, &h);
			node_store_txn_abort(txn);
		}
		if (rc == QIAO_ENOTFOUND) {
			node_close(n);
			return cli_usage(cmd, "this store holds no entries of "
					      "that key: give --after SEQ, the "
					      "last of its entries to keep "
					      "(0 refuses all of them)");
		}
		if (rc != QIAO_OK) {
			node_close(n);
			return cli_fail(cmd, "%s", qiao_strerror(rc));
		}
		r.after = h.seq;
	}
	if ((rc = crdt_revoke_encode(&r, &body, &len)) != QIAO_OK) {
		node_close(n);
		return cli_fail(cmd, "%s", qiao_strerror(rc));
	}
	rc = append(cmd, n, QIAO_T_REVOKE, body, len, &e);
	if (rc == CLI_OK)
		printf("revoked after seq %llu: seq %llu\n",
		    (unsigned long long)r.after, (unsigned long long)e.seq);
	node_close(n);
	return rc;
}

const cli_cmd cli_cmd_enroll = { "enroll", cmd_enroll,
	"enrol a station (writes a certificate)", USAGE_ENROLL };
const cli_cmd cli_cmd_revoke = { "revoke", cmd_revoke,
	"revoke a station key after a seq", USAGE_REVOKE };
