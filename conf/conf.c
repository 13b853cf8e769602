#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "conf/conf.h"
#include "crdt/hex.h"
#include "crdt/hlc.h"

static const char *roles[] = {
	[QIAO_ROLE_VILLAGE] = "village",
	[QIAO_ROLE_TOWN] = "town",
	[QIAO_ROLE_DISTRICT] = "district",
	[QIAO_ROLE_ROOT] = "root",
};

const char *
conf_role_name(enum qiao_role role)
{
	return role > QIAO_ROLE_NONE && role <= QIAO_ROLE_ROOT ? roles[role]
							       : NULL;
}

enum qiao_role
conf_role_parse(const char *name)
{
	for (int r = QIAO_ROLE_VILLAGE; r <= QIAO_ROLE_ROOT; r++)
		if (strcmp(name, roles[r]) == 0)
			return (enum qiao_role)r;
	return QIAO_ROLE_NONE;
}

size_t
conf_role_region_len(enum qiao_role role)
{
	switch (role) {
	case QIAO_ROLE_VILLAGE:
		return 12;
	case QIAO_ROLE_TOWN:
		return 9;
	case QIAO_ROLE_DISTRICT:
		return 6;
	default:
		return 0;
	}
}

bool
conf_region_ok(const char *code)
{
	size_t n = strlen(code);

	if (n == 0 || n >= QIAO_REGION_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (code[i] < '0' || code[i] > '9')
			return false;
	return true;
}

/* A number followed by an optional unit from units[] (suffix, factor). */
static int
parse_scaled(const char *s, uint64_t *out, const char *const *sfx,
    const uint64_t *mul, size_t n)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return QIAO_EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return QIAO_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(end, sfx[i]) == 0) {
			if (mul[i] != 0 && v > UINT64_MAX / mul[i])
				return QIAO_EINVAL;
			*out = v * mul[i];
			return QIAO_OK;
		}
	}
	return QIAO_EINVAL;
}

int
conf_parse_duration(const char *s, uint64_t *ms)
{
	static const char *const sfx[] = { "", "ms", "s", "m", "h", "d" };
	static const uint64_t mul[] = { 1000, 1, 1000, 60000, 3600000,
		86400000 };

	return parse_scaled(s, ms, sfx, mul, 6);
}

int
conf_parse_size(const char *s, uint64_t *bytes)
{
	static const char *const sfx[] = { "", "K", "M", "G" };
	static const uint64_t mul[] = { 1, 1 << 10, 1 << 20, 1 << 30 };

	return parse_scaled(s, bytes, sfx, mul, 4);
}

void
conf_defaults(qiao_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->max_skew_ms = QIAO_HLC_SKEW_DEFAULT_MS;
	c->mapsize = 0; /* the store's default */
	c->durable = true;
	c->log_level = 2; /* info */
	c->reconnect_min_ms = QIAO_NET_RECONNECT_MIN_MS;
	c->reconnect_max_ms = QIAO_NET_RECONNECT_MAX_MS;
	c->batch_bytes = QIAO_NET_BATCH_BYTES;
	c->window = QIAO_NET_WINDOW;
	c->poll_ms = QIAO_NET_POLL_MS;
	c->change_poll_ms = QIAO_NET_CHANGE_POLL_MS;
	c->max_message = QIAO_NET_MAX_MESSAGE;
	c->timeout_ms = QIAO_NET_TIMEOUT_MS;
	c->max_peers = QIAO_NET_MAX_PEERS;
	c->compress = true;
}

struct parse {
	qiao_conf *c;
	char *err;
	size_t errlen;
	const char *path;
	unsigned seen; /* bit per directive, to refuse duplicates */
};

typedef const char *(*setter)(qiao_conf *c, const char *value);

static const char *
set_dir(qiao_conf *c, const char *v)
{
	if (strlen(v) >= sizeof(c->dir) || *v == '\0')
		return "dir must be a path";
	snprintf(c->dir, sizeof(c->dir), "%s", v);
	return NULL;
}

static const char *
set_role(qiao_conf *c, const char *v)
{
	if ((c->role = conf_role_parse(v)) == QIAO_ROLE_NONE)
		return "role must be village, town, district or root";
	return NULL;
}

static const char *
set_region(qiao_conf *c, const char *v)
{
	if (!conf_region_ok(v))
		return "region must be a region code of digits";
	snprintf(c->region, sizeof(c->region), "%s", v);
	return NULL;
}

static const char *
set_name(qiao_conf *c, const char *v)
{
	if (strlen(v) >= sizeof(c->name))
		return "name too long";
	snprintf(c->name, sizeof(c->name), "%s", v);
	return NULL;
}

static const char *
set_root(qiao_conf *c, const char *v)
{
	if (crdt_hex_decode(c->root, QIAO_KEY_LEN, v) != QIAO_OK)
		return "root must be a public key of 64 hex digits";
	c->has_root = true;
	return NULL;
}

static const char *
set_skew(qiao_conf *c, const char *v)
{
	if (conf_parse_duration(v, &c->max_skew_ms) != QIAO_OK)
		return "max_skew must be a duration such as 5m";
	return NULL;
}

static const char *
set_mapsize(qiao_conf *c, const char *v)
{
	if (conf_parse_size(v, &c->mapsize) != QIAO_OK ||
	    c->mapsize < (1 << 20))
		return "mapsize must be a size of at least 1M, such as 8G";
	return NULL;
}

static const char *
set_durable(qiao_conf *c, const char *v)
{
	if (strcmp(v, "yes") == 0)
		c->durable = true;
	else if (strcmp(v, "no") == 0)
		c->durable = false;
	else
		return "durable must be yes or no";
	return NULL;
}

static const char *
set_log_level(qiao_conf *c, const char *v)
{
	static const char *levels[] = { "error", "warn", "info", "debug" };

	for (int i = 0; i < 4; i++) {
		if (strcmp(v, levels[i]) == 0) {
			c->log_level = i;
			return NULL;
		}
	}
	return "log_level must be error, warn, info or debug";
}

/* A TCP address ends in ":PORT", 1 to 65535 (0 lets a listener pick). */
static bool
port_ok(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	unsigned long port = 0;

	if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) > 5)
		return false;
	for (const char *p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		port = port * 10 + (unsigned long)(*p - '0');
	}
	return port <= 65535;
}

/* A host written as digits and dots must be an IPv4 address: 300.1.1.1
 * would otherwise go to the resolver and fail late as "cannot connect".
 * Names and IPv6 ([...]) are left to nng. */
static bool
host_ok(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	char host[64];
	struct in_addr a;
	size_t n = (size_t)(colon - addr);

	if (n == 0 || n >= sizeof(host) || strspn(addr, "0123456789.") != n)
		return true;
	memcpy(host, addr, n);
	host[n] = '\0';
	return inet_pton(AF_INET, host, &a) == 1;
}

/* nng URLs we dial and listen on: TCP for real links, inproc for tests and
 * simulations, ipc for a local socket. */
const char *
conf_url_check(const char *v)
{
	static const char *const schemes[] = { "tcp://", "tcp4://",
		"tcp6://", "inproc://", "ipc://" };

	if (strlen(v) >= QIAO_URL_MAX)
		return "the URL is too long";
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i]);

		if (strncmp(v, schemes[i], n) != 0 || v[n] == '\0')
			continue;
		if (i < 3 && !port_ok(v + n))
			return "a tcp URL ends in :PORT (1 to 65535), such as "
			       "tcp://10.0.0.1:7420";
		if (i < 3 && !host_ok(v + n))
			return "not an IPv4 address (four numbers 0 to 255, "
			       "such as tcp://10.0.0.1:7420)";
		return NULL;
	}
	return "expected a URL such as tcp://10.0.0.1:7420";
}

static const char *
set_listen(qiao_conf *c, const char *v)
{
	const char *why = conf_url_check(v);

	if (why == NULL)
		snprintf(c->listen, sizeof(c->listen), "%s", v);
	return why;
}

static const char *
set_upstream(qiao_conf *c, const char *v)
{
	const char *why = conf_url_check(v);

	if (why != NULL)
		return why;
	if (c->nupstream == QIAO_UPSTREAM_MAX)
		return "too many upstream directives (at most 8)";
	for (size_t i = 0; i < c->nupstream; i++)
		if (strcmp(c->upstream[i], v) == 0)
			return "this upstream is already listed";
	snprintf(c->upstream[c->nupstream], sizeof(c->upstream[0]), "%s", v);
	c->nupstream++;
	return NULL;
}

static const char *
set_ms(uint64_t *out, const char *v, uint64_t lo, uint64_t hi,
    const char *why)
{
	uint64_t ms;

	if (conf_parse_duration(v, &ms) != QIAO_OK || ms < lo || ms > hi)
		return why;
	*out = ms;
	return NULL;
}

static const char *
set_reconnect_min(qiao_conf *c, const char *v)
{
	return set_ms(&c->reconnect_min_ms, v, 10, 3600000,
	    "reconnect_min must be a duration from 10ms to 1h");
}

static const char *
set_reconnect_max(qiao_conf *c, const char *v)
{
	return set_ms(&c->reconnect_max_ms, v, 10, 86400000,
	    "reconnect_max must be a duration from 10ms to 1d");
}

static const char *
set_poll(qiao_conf *c, const char *v)
{
	return set_ms(&c->poll_ms, v, 100, 600000,
	    "poll_interval must be a duration from 100ms to 10m");
}

static const char *
set_change_poll(qiao_conf *c, const char *v)
{
	return set_ms(&c->change_poll_ms, v, 10, 60000,
	    "change_poll must be a duration from 10ms to 1m");
}

static const char *
set_timeout(qiao_conf *c, const char *v)
{
	return set_ms(&c->timeout_ms, v, 1000, 86400000,
	    "timeout must be a duration from 1s to 1d");
}

static const char *
set_batch_bytes(qiao_conf *c, const char *v)
{
	if (conf_parse_size(v, &c->batch_bytes) != QIAO_OK ||
	    c->batch_bytes < (4 << 10) || c->batch_bytes > (16 << 20))
		return "batch_bytes must be a size from 4K to 16M";
	return NULL;
}

static const char *
set_max_message(qiao_conf *c, const char *v)
{
	if (conf_parse_size(v, &c->max_message) != QIAO_OK ||
	    c->max_message < (256 << 10) ||
	    c->max_message > QIAO_NET_MAX_MESSAGE_MAX)
		return "max_message must be a size from 256K to 4M";
	return NULL;
}

static const char *
set_count(uint64_t *out, const char *v, uint64_t lo, uint64_t hi,
    const char *why)
{
	char *end;
	unsigned long long n;

	errno = 0;
	if (*v < '0' || *v > '9')
		return why;
	n = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < lo || n > hi)
		return why;
	*out = n;
	return NULL;
}

static const char *
set_window(qiao_conf *c, const char *v)
{
	return set_count(&c->window, v, 1, 64,
	    "window must be a number from 1 to 64");
}

static const char *
set_max_peers(qiao_conf *c, const char *v)
{
	return set_count(&c->max_peers, v, 1, 65536,
	    "max_peers must be a number from 1 to 65536");
}

static const char *
set_compress(qiao_conf *c, const char *v)
{
	if (strcmp(v, "yes") == 0)
		c->compress = true;
	else if (strcmp(v, "no") == 0)
		c->compress = false;
	else
		return "compress must be yes or no";
	return NULL;
}

static const struct directive {
	const char *section;
	const char *key;
	setter set;
	bool repeat; /* may be given more than once (a list) */
} directives[] = {
	{ "node", "dir", set_dir, false },
	{ "node", "role", set_role, false },
	{ "node", "region", set_region, false },
	{ "node", "name", set_name, false },
	{ "node", "root", set_root, false },
	{ "node", "max_skew", set_skew, false },
	{ "node", "mapsize", set_mapsize, false },
	{ "node", "durable", set_durable, false },
	{ "node", "log_level", set_log_level, false },
	{ "net", "listen", set_listen, false },
	{ "net", "upstream", set_upstream, true },
	{ "net", "reconnect_min", set_reconnect_min, false },
	{ "net", "reconnect_max", set_reconnect_max, false },
	{ "net", "batch_bytes", set_batch_bytes, false },
	{ "net", "window", set_window, false },
	{ "net", "poll_interval", set_poll, false },
	{ "net", "change_poll", set_change_poll, false },
	{ "net", "max_message", set_max_message, false },
	{ "net", "timeout", set_timeout, false },
	{ "net", "max_peers", set_max_peers, false },
	{ "net", "compress", set_compress, false },
};

#define NDIRECTIVES (sizeof(directives) / sizeof(directives[0]))
_Static_assert(NDIRECTIVES <= 32, "seen is a 32-bit mask");

/* Debian's inih calls handlers without a line number; ini_parse_file()
 * returns the line of the first error, and conf_load() prefixes it. */
static int
fail(struct parse *p, const char *fmt, const char *a, const char *b)
{
	if (p->err[0] == '\0')
		snprintf(p->err, p->errlen, fmt, a, b);
	return 0;
}

static int
handler(void *user, const char *section, const char *key, const char *value)
{
	struct parse *p = user;
	bool known_section = false;

	for (size_t i = 0; i < NDIRECTIVES; i++) {
		const char *why;

		if (strcmp(section, directives[i].section) != 0)
			continue;
		known_section = true;
		if (strcmp(key, directives[i].key) != 0)
			continue;
		if ((p->seen & (1u << i)) && !directives[i].repeat)
			return fail(p, "duplicate %s in [%s]", key,
			    section);
		p->seen |= 1u << i;
		if ((why = directives[i].set(p->c, value)) != NULL)
			return fail(p, "%s (got \"%s\")", why, value);
		return 1;
	}
	if (!known_section)
		return fail(p, "unknown section [%s]%s", section, "");
	return fail(p, "unknown key \"%s\" in [%s]", key, section);
}

/* What inih returned, and the checks that span directives. */
static int
finish(struct parse *p, int line)
{
	qiao_conf *c = p->c;

	if (line != 0) {
		char what[256];

		snprintf(what, sizeof(what), "%s",
		    p->err[0] ? p->err
			      : "not INI syntax (expected key = value)");
		snprintf(p->err, p->errlen, "%s:%d: %s", p->path, line, what);
		return QIAO_ECONFIG;
	}
	if (c->role != QIAO_ROLE_NONE && c->region[0] != '\0' &&
	    conf_role_region_len(c->role) != 0 &&
	    strlen(c->region) != conf_role_region_len(c->role)) {
		snprintf(p->err, p->errlen,
		    "%s: a %s's region code has %zu digits", p->path,
		    conf_role_name(c->role), conf_role_region_len(c->role));
		return QIAO_ECONFIG;
	}
	if (c->reconnect_min_ms > c->reconnect_max_ms) {
		snprintf(p->err, p->errlen, "%s: reconnect_min is longer than "
					    "reconnect_max",
		    p->path);
		return QIAO_ECONFIG;
	}
	/* A batch holds at least one whole entry and must fit a message. */
	if (c->batch_bytes + (72 << 10) > c->max_message) {
		snprintf(p->err, p->errlen, "%s: max_message must exceed "
					    "batch_bytes by at least 72K (one "
					    "entry and framing)",
		    p->path);
		return QIAO_ECONFIG;
	}
	return QIAO_OK;
}

int
conf_load(qiao_conf *c, const char *path, char *err, size_t errlen)
{
	struct parse p = { c, err, errlen, path, 0 };
	FILE *f;
	int line;

	err[0] = '\0';
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? QIAO_ENOTFOUND : QIAO_EIO;
	}
	line = ini_parse_file(f, handler, &p);
	fclose(f);
	return finish(&p, line);
}

int
conf_load_string(qiao_conf *c, const char *text, const char *name, char *err,
    size_t errlen)
{
	struct parse p = { c, err, errlen, name, 0 };

	err[0] = '\0';
	return finish(&p, ini_parse_string(text, handler, &p));
}

int
conf_take_identity(qiao_conf *c, const qiao_conf *own, const char *own_name,
    char *err, size_t errlen)
{
	const char *what = NULL, *mine = NULL, *theirs = NULL;

	if (c->role == QIAO_ROLE_NONE) {
		c->role = own->role;
	} else if (own->role != QIAO_ROLE_NONE && own->role != c->role) {
		what = "role";
		mine = conf_role_name(c->role);
		theirs = conf_role_name(own->role);
	}
	if (c->region[0] == '\0') {
		memcpy(c->region, own->region, sizeof(c->region));
	} else if (own->region[0] != '\0' &&
	    strcmp(own->region, c->region) != 0) {
		what = "region";
		mine = c->region;
		theirs = own->region;
	}
	if (!c->has_root) {
		c->has_root = own->has_root;
		memcpy(c->root, own->root, sizeof(c->root));
	} else if (own->has_root &&
	    memcmp(own->root, c->root, sizeof(c->root)) != 0) {
		what = "root";
		mine = "one key";
		theirs = "another";
	}
	if (c->name[0] == '\0')
		memcpy(c->name, own->name, sizeof(c->name));
	if (what == NULL)
		return QIAO_OK;
	snprintf(err, errlen, "%s: the config says %s, the store's %s %s (a "
			      "config for another station?)",
	    what, mine, own_name, theirs);
	return QIAO_ECONFIG;
}

int
conf_save(const qiao_conf *c, const char *path)
{
	char root[2 * QIAO_KEY_LEN + 1];
	FILE *f;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		return QIAO_EIO;
	}
	fprintf(f, "# qiao node configuration; every directive is documented"
		   " in qiao(1) and conf/village.conf\n[node]\n");
	if (c->dir[0])
		fprintf(f, "dir = %s\n", c->dir);
	if (c->role != QIAO_ROLE_NONE)
		fprintf(f, "role = %s\n", conf_role_name(c->role));
	if (c->region[0])
		fprintf(f, "region = %s\n", c->region);
	if (c->name[0])
		fprintf(f, "name = %s\n", c->name);
	if (c->has_root) {
		crdt_hex_encode(root, c->root, QIAO_KEY_LEN);
		fprintf(f, "root = %s\n", root);
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		return QIAO_EIO;
	}
	return fclose(f) == 0 ? QIAO_OK : QIAO_EIO;
}
