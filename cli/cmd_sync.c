/*
 * qiao sync, qiao status, qiao heads, qiao bundle — syncing once with a
 * peer, what the node knows of its peers, and sync through a file.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "conf/conf.h"
#include "crdt/hlc.h"
#include "node/bundle.h"
#include "node/daemon.h"
#include "node/log.h"
#include "node/store.h"
#include "node/sync.h"
#include "node/trust.h"

#define USAGE_SYNC                                                          \
	"usage: qiao sync [--dir DIR] --peer URL [--timeout DURATION] "     \
	"[--json]\n"                                                        \
	"\n"                                                                \
	"Syncs once with the node at URL (e.g. tcp://10.1.0.1:7420) and\n"  \
	"exits 0 when both sides hold each other's entries for the scope\n" \
	"they share; 1 if it cannot reach the peer within --timeout\n"      \
	"(default 60s), the link is refused (a key not enrolled or\n"      \
	"revoked, at either end) or entries were rejected (the reason is\n" \
	"printed). The link proves both stations' keys and encrypts.\n"

#define USAGE_STATUS                                                        \
	"usage: qiao status [--dir DIR] [--json]\n"                         \
	"\n"                                                                \
	"Shows the station, its links (listen, upstream), fork proofs, the\n" \
	"clock skew seen (stations whose entries arrived stamped more than\n" \
	"max_skew ahead of this clock, and how far ahead their latest entry\n" \
	"is now; when one is a station above this one, this clock may be\n" \
	"behind), and every peer it has synced with: when both sides were\n" \
	"last in sync, how many of our entries in its scope it lacks (as\n" \
	"far as we know) and how many of its we lack, and the last error.\n"

#define USAGE_HEADS                                                         \
	"usage: qiao heads [--dir DIR] [-o FILE] [--scope CODE] [--json]\n" \
	"       qiao heads [--dir DIR] --peer KEY [--json]\n"               \
	"\n"                                                                \
	"Without -o: lists the heads (author, seq, hash) of every log held\n" \
	"in the scope of region CODE (default: all) and their digest. Two\n" \
	"nodes holding the same entries for a scope print the same digest.\n" \
	"With -o: writes what this station holds to FILE, for a peer\n"     \
	"without a link to answer with `qiao bundle export --for FILE`.\n"  \
	"With --peer: what this station knows the peer KEY holds, per\n"    \
	"author (the peer acknowledged, announced or sent it): AUTHOR SEQ.\n"

#define USAGE_BUNDLE                                                        \
	"usage: qiao bundle export [--dir DIR] --for HEADS_FILE -o FILE\n"  \
	"       qiao bundle import [--dir DIR] FILE\n"                      \
	"\n"                                                                \
	"Sync by file (a USB stick) for a station with no link at all:\n"   \
	"export  writes the entries the station whose heads are in\n"       \
	"        HEADS_FILE (qiao heads -o) lacks, within its scope\n"      \
	"import  ingests a bundle; prints stored / already held / rejected\n" \
	"        and exits 1 if any entry was rejected (valid ones stay)\n"

/* sync */

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
cmd_sync(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "peer", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "sync", *dir = cli_default_dir(), *peer = NULL;
	uint64_t timeout = 60000, deadline, settle = 0;
	node_daemon_opts dopts = { .listen = "" };
	node_daemon_upstream up;
	struct sigaction sa;
	node_daemon *d;
	bool json = false;
	node *n;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'p':
			peer = optarg;
			break;
		case 't':
			if (conf_parse_duration(optarg, &timeout) != QIAO_OK ||
			    timeout == 0)
				return cli_usage(cmd, "--timeout must be a "
						      "duration such as 30s, "
						      "got \"%s\"",
				    optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return cli_help(cmd);
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if ((rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if (peer == NULL)
		return cli_usage(cmd, "--peer URL is required");
	if (strncmp(peer, "tcp://", 6) != 0 &&
	    strncmp(peer, "tcp4://", 7) != 0 &&
	    strncmp(peer, "tcp6://", 7) != 0 && strncmp(peer, "ipc://", 6) != 0)
		return cli_usage(cmd, "--peer must be a URL such as "
				      "tcp://10.1.0.1:7420, got \"%s\"",
		    peer);
	if (conf_url_check(peer) != NULL)
		return cli_usage(cmd, "--peer: %s, got \"%s\"",
		    conf_url_check(peer), peer);
	if ((rc = cli_open(cmd, dir, &n)) != CLI_OK)
		return rc;
	if (node_self(n) == NULL) {
		node_close(n);
		return cli_fail(cmd, "%s has no station key", dir);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	dopts.upstream = &peer;
	dopts.nupstream = 1;
	/* The link proves the station's key: a bad key file fails here,
	 * with its reason, not on every dial. */
	if ((rc = node_load_key(n)) != QIAO_OK) {
		node_close(n);
		return cli_fail(cmd, "%s/key: %s", dir, qiao_strerror(rc));
	}
	if ((rc = node_daemon_new(&d, n, &dopts)) != QIAO_OK) {
		node_close(n);
		return cli_fail(cmd, "%s", qiao_strerror(rc));
	}
	deadline = mono_ms() + timeout;
	memset(&up, 0, sizeof(up));
	while (!interrupted && mono_ms() < deadline) {
		if (node_daemon_step(d, 50) != QIAO_OK)
			break;
		node_daemon_upstream_state(d, 0, &up);
		/* Entries rejected, or the link refused (a key not enrolled
		 * or revoked, at either end): retrying will not help. */
		if (up.blocked || up.refused)
			break;
		/* In sync: a moment more so our last SYNCED reaches it. */
		if (up.in_sync && settle == 0)
			settle = mono_ms() + 200;
		if (settle != 0 && mono_ms() >= settle)
			break;
	}
	node_daemon_upstream_state(d, 0, &up);
	if (settle != 0)
		up.in_sync = true;
	node_daemon_free(d);
	node_close(n);
	if (json) {
		json_t *j = json_object();

		json_object_set_new(j, "peer", json_string(peer));
		json_object_set_new(j, "in_sync", json_boolean(up.in_sync));
		json_object_set_new(j, "received",
		    json_integer((json_int_t)up.stored));
		json_object_set_new(j, "sent",
		    json_integer((json_int_t)up.entries_out));
		json_object_set_new(j, "error", up.in_sync || !up.why[0]
			? json_null()
			: json_string(up.why));
		cli_json_print(j);
	}
	if (up.in_sync) {
		if (!json)
			printf("in sync with %s: received %llu, sent %llu "
			       "entries\n",
			    peer, (unsigned long long)up.stored,
			    (unsigned long long)up.entries_out);
		return CLI_OK;
	}
	if (interrupted)
		return cli_fail(cmd, "interrupted");
	if (up.blocked)
		return cli_fail(cmd, "%s: %s", peer, up.why);
	if (up.refused)
		return cli_fail(cmd, "%s: %s", peer, up.why);
	if (!up.connected && up.stored == 0)
		return cli_fail(cmd, "could not sync with %s within %llums%s%s",
		    peer, (unsigned long long)timeout, up.why[0] ? ": " : "",
		    up.why);
	return cli_fail(cmd, "not in sync with %s after %llums%s%s", peer,
	    (unsigned long long)timeout, up.why[0] ? ": " : "", up.why);
}

/* status */

struct status {
	node *n;
	node_txn *txn;
	bool json;
	json_t *peers;
	int rc;
};

static int
on_status_peer(void *ctx, const node_sync_peer *p)
{
	struct status *s = ctx;
	char key[2 * QIAO_KEY_LEN + 1], when[40];
	uint64_t they = 0, we = 0;
	int rc;

	if ((rc = node_sync_peer_behind(s->n, s->txn, p, &they, &we)) != 0)
		return rc;
	cli_hex(key, p->key, QIAO_KEY_LEN);
	if (s->json) {
		json_t *o = json_object();
		char iso[40];

		json_object_set_new(o, "key", json_string(key));
		json_object_set_new(o, "role",
		    conf_role_name(p->role) ? json_string(conf_role_name(
						  p->role))
					    : json_null());
		json_object_set_new(o, "region", json_string(p->region));
		json_object_set_new(o, "url",
		    p->url[0] ? json_string(p->url) : json_null());
		json_object_set_new(o, "last_sync",
		    p->ok_ms ? json_string(cli_time_iso(iso, sizeof(iso),
				   p->ok_ms))
			     : json_null());
		json_object_set_new(o, "last_seen",
		    p->seen_ms ? json_string(cli_time_iso(iso, sizeof(iso),
				     p->seen_ms))
			       : json_null());
		json_object_set_new(o, "they_lack",
		    json_integer((json_int_t)they));
		json_object_set_new(o, "we_lack", json_integer((json_int_t)we));
		json_object_set_new(o, "error",
		    p->error[0] ? json_string(p->error) : json_null());
		json_array_append_new(s->peers, o);
		return 0;
	}
	printf("  %.16s  %-8s %-13s %-19s %9llu %8llu  %s\n", key,
	    conf_role_name(p->role) ? conf_role_name(p->role) : "?",
	    p->region[0] ? p->region : "-",
	    p->ok_ms ? cli_time(when, sizeof(when), p->ok_ms) : "never",
	    (unsigned long long)they, (unsigned long long)we,
	    p->error[0] ? p->error : (p->url[0] ? p->url : "-"));
	return 0;
}

/* Heads whose author is frozen by a fork proof, and heads whose author
 * stamped entries too far ahead (both flagged by ingest): one scan. */
struct flagged {
	uint64_t forked, skewed;
};

static int
on_flagged_head(void *ctx, const uint8_t *key, const node_head *h)
{
	struct flagged *f = ctx;

	(void)key;
	if (h->flags & NODE_HEAD_FORKED)
		f->forked++;
	if (h->flags & NODE_HEAD_SKEWED)
		f->skewed++;
	return 0;
}

/*
 * Clock skew: authors whose entries were stamped more than max_skew ahead
 * of this station's clock when they arrived (ingest flags their head and
 * does not let our clock follow). How far ahead their latest entry is now
 * says whether it still is; an issuer above us (the root, the district,
 * our town) among them means it is more likely our clock that is behind.
 */
/* "1d 2h", "3h 5m", "4m 10s", "12s". */
static const char *
span(char *buf, size_t len, uint64_t ms)
{
	uint64_t t = ms / 1000;

	if (t >= 86400)
		snprintf(buf, len, "%llud %lluh", (unsigned long long)(t / 86400),
		    (unsigned long long)(t % 86400 / 3600));
	else if (t >= 3600)
		snprintf(buf, len, "%lluh %llum", (unsigned long long)(t / 3600),
		    (unsigned long long)(t % 3600 / 60));
	else if (t >= 60)
		snprintf(buf, len, "%llum %llus", (unsigned long long)(t / 60),
		    (unsigned long long)(t % 60));
	else
		snprintf(buf, len, "%llus", (unsigned long long)t);
	return buf;
}

struct skewed {
	node *n;
	node_txn *txn;
	uint64_t now;
	json_t *list;  /* --json */
	bool above;    /* an issuer of a higher tier is among them */
	bool json;
};

static int
on_skewed_head(void *ctx, const uint8_t *key, const node_head *h)
{
	struct skewed *k = ctx;
	const qiao_conf *c = node_get_conf(k->n);
	char hex[2 * QIAO_KEY_LEN + 1], iso[40], dur[32];
	node_trust_id id;
	uint64_t latest, ahead;
	int rc;

	if (!(h->flags & NODE_HEAD_SKEWED))
		return 0;
	rc = node_trust_lookup(k->n, k->txn, key, &id);
	if (rc == QIAO_EUNKNOWN)
		memset(&id, 0, sizeof(id));
	else if (rc != QIAO_OK)
		return rc;
	latest = crdt_hlc_ms(h->hlc);
	ahead = latest > k->now ? latest - k->now : 0;
	if (id.role > c->role && node_trust_region_covers(id.region, c->region))
		k->above = true;
	cli_hex(hex, key, QIAO_KEY_LEN);
	if (k->json) {
		json_t *o = json_object();

		json_object_set_new(o, "key", json_string(hex));
		json_object_set_new(o, "role",
		    conf_role_name(id.role) ? json_string(conf_role_name(
						  id.role))
					    : json_null());
		json_object_set_new(o, "region", json_string(id.region));
		json_object_set_new(o, "name", json_string(id.name));
		json_object_set_new(o, "latest",
		    json_string(cli_time_iso(iso, sizeof(iso), latest)));
		json_object_set_new(o, "ahead_ms",
		    json_integer((json_int_t)ahead));
		json_array_append_new(k->list, o);
		return 0;
	}
	printf("  %.16s  %-8s %-13s %-19s %-14s %s\n", hex,
	    conf_role_name(id.role) ? conf_role_name(id.role) : "?",
	    id.region[0] ? id.region : "-",
	    cli_time(iso, sizeof(iso), latest),
	    ahead > 0 ? span(dur, sizeof(dur), ahead) : "no longer", id.name);
	return 0;
}

static int
cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "status", *dir = cli_default_dir();
	struct status s = { 0 };
	struct flagged f = { 0 };
	struct skewed k = { 0 };
	char when[40], dur[32];
	char key[2 * QIAO_KEY_LEN + 1];
	const qiao_conf *c;
	uint64_t forks = 0, tick = 0;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'j':
			s.json = true;
			break;
		case 'h':
			return cli_help(cmd);
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if ((rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if ((rc = cli_open(cmd, dir, &s.n)) != CLI_OK)
		return rc;
	c = node_get_conf(s.n);
	if (node_self(s.n) != NULL)
		cli_hex(key, node_self(s.n), QIAO_KEY_LEN);
	else
		strcpy(key, "-");
	if ((rc = node_store_txn_begin(node_get_store(s.n), false,
		 &s.txn)) != QIAO_OK) {
		node_close(s.n);
		return cli_fail(cmd, "%s", qiao_strerror(rc));
	}
	if ((rc = node_store_count(s.txn, NODE_TB_FORKS, &forks)) == QIAO_OK)
		rc = node_store_heads_each(s.txn, on_flagged_head, &f);
	if (rc == QIAO_OK)
		rc = node_store_tick(s.txn, &tick);
	k.n = s.n;
	k.txn = s.txn;
	k.now = node_now_ms(s.n);
	k.json = s.json;
	if (rc == QIAO_OK && s.json) {
		json_t *j = json_object(), *ups = json_array(), *clk;

		s.peers = json_array();
		json_object_set_new(j, "station", json_string(key));
		json_object_set_new(j, "role",
		    conf_role_name(c->role) ? json_string(conf_role_name(
						  c->role))
					    : json_null());
		json_object_set_new(j, "region", json_string(c->region));
		json_object_set_new(j, "tick", json_integer((json_int_t)tick));
		json_object_set_new(j, "listen",
		    c->listen[0] ? json_string(c->listen) : json_null());
		for (size_t i = 0; i < c->nupstream; i++)
			json_array_append_new(ups, json_string(c->upstream[i]));
		json_object_set_new(j, "upstream", ups);
		json_object_set_new(j, "forks", json_integer((json_int_t)forks));
		json_object_set_new(j, "forked_authors",
		    json_integer((json_int_t)f.forked));
		k.list = json_array();
		rc = node_store_heads_each(s.txn, on_skewed_head, &k);
		clk = json_object();
		json_object_set_new(clk, "now",
		    json_string(cli_time_iso(when, sizeof(when), k.now)));
		json_object_set_new(clk, "max_skew_ms",
		    json_integer((json_int_t)c->max_skew_ms));
		json_object_set_new(clk, "skewed", k.list);
		json_object_set_new(clk, "behind_suspected",
		    json_boolean(k.above));
		json_object_set_new(j, "clock", clk);
		if (rc == QIAO_OK)
			rc = node_sync_peer_each(s.txn, on_status_peer, &s);
		json_object_set_new(j, "peers", s.peers);
		node_store_txn_abort(s.txn);
		node_close(s.n);
		if (rc != QIAO_OK) {
			json_decref(j);
			return cli_fail(cmd, "%s", qiao_strerror(rc));
		}
		return cli_json_print(j);
	}
	if (rc == QIAO_OK) {
		printf("station   %s (%s %s)\n", key,
		    conf_role_name(c->role) ? conf_role_name(c->role)
					    : "no role",
		    c->region[0] ? c->region : "-");
		printf("listen    %s\n", c->listen[0] ? c->listen : "none");
		for (size_t i = 0; i < c->nupstream; i++)
			printf("upstream  %s\n", c->upstream[i]);
		if (c->nupstream == 0)
			printf("upstream  none\n");
		printf("forks     %llu proof%s, %llu author%s frozen\n",
		    (unsigned long long)forks, forks == 1 ? "" : "s",
		    (unsigned long long)f.forked, f.forked == 1 ? "" : "s");
		printf("clock     %s, max skew %s\n",
		    cli_time(when, sizeof(when), k.now),
		    span(dur, sizeof(dur), c->max_skew_ms));
		if (f.skewed == 0)
			printf("skew      no author stamps entries ahead of "
			       "this clock\n");
		if (f.skewed > 0) {
			printf("skew      %llu author%s stamped entries more "
			       "than max skew ahead of this clock:\n",
			    (unsigned long long)f.skewed,
			    f.skewed == 1 ? "" : "s");
			printf("  %-16s  %-8s %-13s %-19s %-14s %s\n", "KEY",
			    "ROLE", "REGION", "LATEST STAMP", "AHEAD NOW",
			    "NAME");
			rc = node_store_heads_each(s.txn, on_skewed_head, &k);
			if (k.above)
				printf("  the clock of a station above this "
				       "one is ahead: this station's clock "
				       "may be behind; check it\n");
		}
		if (rc == QIAO_OK)
			printf("peers\n  %-16s  %-8s %-13s %-19s %9s %8s  %s\n",
			    "KEY", "ROLE", "REGION", "LAST IN SYNC",
			    "THEY LACK", "WE LACK", "URL / LAST ERROR");
		if (rc == QIAO_OK)
			rc = node_sync_peer_each(s.txn, on_status_peer, &s);
	}
	node_store_txn_abort(s.txn);
	node_close(s.n);
	if (rc != QIAO_OK)
		return cli_fail(cmd, "%s", qiao_strerror(rc));
	return CLI_OK;
}

/* heads */

/* heads --peer: what we know the peer holds. */
static int
heads_peer(const char *cmd, const char *dir, const uint8_t *peer, bool json)
{
	char k[2 * QIAO_KEY_LEN + 1];
	node_sync_head *v = NULL;
	uint64_t entries = 0;
	size_t count = 0;
	node_txn *txn;
	node *n;
	int rc;

	if ((rc = cli_open(cmd, dir, &n)) != CLI_OK)
		return rc;
	if ((rc = node_store_txn_begin(node_get_store(n), false, &txn)) == 0) {
		rc = node_sync_peer_known(txn, peer, &v, &count);
		node_store_txn_abort(txn);
	}
	node_close(n);
	if (rc != QIAO_OK)
		return cli_fail(cmd, "%s", qiao_strerror(rc));
	for (size_t i = 0; i < count; i++)
		entries += v[i].seq;
	if (json) {
		json_t *j = json_object(), *a = json_array();

		json_object_set_new(j, "peer",
		    json_string(cli_hex(k, peer, QIAO_KEY_LEN)));
		json_object_set_new(j, "authors",
		    json_integer((json_int_t)count));
		json_object_set_new(j, "entries",
		    json_integer((json_int_t)entries));
		for (size_t i = 0; i < count; i++) {
			json_t *o = json_object();

			json_object_set_new(o, "author", json_string(cli_hex(k,
			    v[i].author, QIAO_KEY_LEN)));
			json_object_set_new(o, "seq",
			    json_integer((json_int_t)v[i].seq));
			json_array_append_new(a, o);
		}
		json_object_set_new(j, "known", a);
		free(v);
		return cli_json_print(j);
	}
	for (size_t i = 0; i < count; i++)
		printf("%s %8llu\n", cli_hex(k, v[i].author, QIAO_KEY_LEN),
		    (unsigned long long)v[i].seq);
	printf("peer %s holds at least: authors %zu entries %llu\n",
	    cli_hex(k, peer, QIAO_KEY_LEN), count,
	    (unsigned long long)entries);
	free(v);
	return CLI_OK;
}

static int
cmd_heads(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "scope", required_argument, NULL, 's' },
		{ "peer", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "heads", *dir = cli_default_dir(), *out = NULL;
	uint8_t peer[QIAO_KEY_LEN];
	bool has_peer = false;
	const char *scope = NULL;
	char hex[2 * QIAO_HASH_LEN + 1];
	uint8_t digest[QIAO_HASH_LEN];
	node_sync_head *v = NULL;
	uint64_t authors = 0, entries = 0;
	size_t count = 0;
	node_txn *txn;
	bool json = false;
	node *n;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 's':
			if (!conf_region_ok(optarg))
				return cli_usage(cmd, "--scope must be a "
						      "region code of digits, "
						      "got \"%s\"",
				    optarg);
			scope = optarg;
			break;
		case 'p':
			if ((rc = cli_parse_key(cmd, "--peer", optarg, peer)) !=
			    CLI_OK)
				return rc;
			has_peer = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			return cli_help(cmd);
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if ((rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if (out != NULL && (scope != NULL || json || has_peer))
		return cli_usage(cmd, "-o writes every head; --scope, --peer "
				      "and --json do not apply");
	if (has_peer && scope != NULL)
		return cli_usage(cmd, "--peer and --scope exclude each other");
	if (has_peer)
		return heads_peer(cmd, dir, peer, json);
	if (out != NULL && (rc = cli_check_out(cmd, out)) != CLI_OK)
		return rc;
	if ((rc = cli_open(cmd, dir, &n)) != CLI_OK)
		return rc;
	if (out != NULL) {
		rc = node_bundle_heads(n, out, &authors);
		node_close(n);
		if (rc == QIAO_ENOTFOUND)
			return cli_fail(cmd, "%s has no station key", dir);
		if (rc != QIAO_OK)
			return cli_fail(cmd, "%s: %s", out, qiao_strerror(rc));
		printf("wrote %llu heads to %s\n", (unsigned long long)authors,
		    out);
		return CLI_OK;
	}
	rc = node_sync_scope_digest(n, scope, digest, &authors, &entries);
	if (rc == QIAO_OK &&
	    (rc = node_store_txn_begin(node_get_store(n), false, &txn)) == 0) {
		rc = node_sync_heads_list(n, txn, scope, &v, &count);
		node_store_txn_abort(txn);
	}
	node_close(n);
	if (rc != QIAO_OK)
		return cli_fail(cmd, "%s", qiao_strerror(rc));
	cli_hex(hex, digest, QIAO_HASH_LEN);
	if (json) {
		json_t *j = json_object(), *a = json_array();

		json_object_set_new(j, "scope",
		    scope ? json_string(scope) : json_null());
		json_object_set_new(j, "digest", json_string(hex));
		json_object_set_new(j, "authors",
		    json_integer((json_int_t)authors));
		json_object_set_new(j, "entries",
		    json_integer((json_int_t)entries));
		for (size_t i = 0; i < count; i++) {
			json_t *o = json_object();
			char k[2 * QIAO_KEY_LEN + 1], h[2 * QIAO_HASH_LEN + 1];

			json_object_set_new(o, "author", json_string(cli_hex(k,
			    v[i].author, QIAO_KEY_LEN)));
			json_object_set_new(o, "seq",
			    json_integer((json_int_t)v[i].seq));
			json_object_set_new(o, "hash", json_string(cli_hex(h,
			    v[i].hash, QIAO_HASH_LEN)));
			json_array_append_new(a, o);
		}
		json_object_set_new(j, "heads", a);
		free(v);
		return cli_json_print(j);
	}
	for (size_t i = 0; i < count; i++) {
		char k[2 * QIAO_KEY_LEN + 1], h[2 * QIAO_HASH_LEN + 1];

		printf("%s %8llu %.16s\n", cli_hex(k, v[i].author, QIAO_KEY_LEN),
		    (unsigned long long)v[i].seq,
		    cli_hex(h, v[i].hash, QIAO_HASH_LEN));
	}
	printf("digest %s authors %llu entries %llu scope %s\n", hex,
	    (unsigned long long)authors, (unsigned long long)entries,
	    scope ? scope : "all");
	free(v);
	return CLI_OK;
}

/* bundle */

static int
bundle_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "for", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "bundle export", *dir = cli_default_dir();
	const char *heads = NULL, *out = NULL;
	char err[600], hex[2 * QIAO_KEY_LEN + 1];
	node_bundle_stats st;
	node *n;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'f':
			heads = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			return cli_help("bundle");
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if ((rc = cli_no_args(cmd, argc, argv)) != CLI_OK)
		return rc;
	if (heads == NULL || out == NULL)
		return cli_usage(cmd, "--for HEADS_FILE and -o FILE are "
				      "required");
	if ((rc = cli_check_out(cmd, out)) != CLI_OK ||
	    (rc = cli_open(cmd, dir, &n)) != CLI_OK)
		return rc;
	rc = node_bundle_export(n, heads, out, &st, err, sizeof(err));
	node_close(n);
	if (rc != QIAO_OK)
		return cli_fail(cmd, "%s", err);
	printf("wrote %llu entries (%llu bytes) to %s for %.16s\n",
	    (unsigned long long)st.entries, (unsigned long long)st.bytes, out,
	    cli_hex(hex, st.peer, QIAO_KEY_LEN));
	return CLI_OK;
}

static int
bundle_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = "bundle import", *dir = cli_default_dir();
	char err[600];
	node_bundle_stats st;
	node *n;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'h':
			return cli_help("bundle");
		default:
			return cli_bad_option(cmd, ch, argv);
		}
	}
	if (optind != argc - 1)
		return cli_usage(cmd, "give exactly one FILE");
	if ((rc = cli_open(cmd, dir, &n)) != CLI_OK)
		return rc;
	rc = node_bundle_import(n, argv[optind], &st, err, sizeof(err));
	node_close(n);
	printf("stored %zu, already held %zu, rejected %zu, refused %zu\n",
	    st.ingest.stored, st.ingest.duplicate, st.ingest.rejected,
	    st.ingest.refused);
	if (rc != QIAO_OK)
		return cli_fail(cmd, "%s", err);
	if (st.ingest.rejected > 0)
		return cli_fail(cmd, "%zu entries rejected; last: %s",
		    st.ingest.rejected, st.last_reject);
	return CLI_OK;
}

static int
cmd_bundle(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage("bundle", "which? (export, import)");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cli_help("bundle");
	if (strcmp(argv[1], "export") == 0)
		return bundle_export(argc - 1, argv + 1);
	if (strcmp(argv[1], "import") == 0)
		return bundle_import(argc - 1, argv + 1);
	return cli_usage("bundle", "unknown subcommand \"%s\"", argv[1]);
}

const cli_cmd cli_cmd_sync = { "sync", cmd_sync,
	"sync once with a peer node", USAGE_SYNC };
const cli_cmd cli_cmd_status = { "status", cmd_status,
	"show links, peers, entries behind, forks", USAGE_STATUS };
const cli_cmd cli_cmd_heads = { "heads", cmd_heads,
	"list or write the heads this station holds", USAGE_HEADS };
const cli_cmd cli_cmd_bundle = { "bundle", cmd_bundle,
	"sync through a file (USB stick)", USAGE_BUNDLE };
