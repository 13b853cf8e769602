/*
 * conf — qiao's configuration: an INI file parsed with inih.
 *
 * Every directive, its type and default is in the table in conf.c, and
 * documented in conf/village.conf. An unknown section or key, a bad value or
 * a duplicate is an error that names the file and line. A store created by
 * `qiao init` carries its own DIR/qiao.conf.
 */
#ifndef QIAO_CONF_CONF_H
#define QIAO_CONF_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/entry.h"
#include "crdt/err.h"

#define QIAO_CONF_NAME "qiao.conf"
#define QIAO_REGION_MAX 24
#define QIAO_NAME_MAX 128
#define QIAO_PATH_MAX 1024
#define QIAO_URL_MAX 256
#define QIAO_UPSTREAM_MAX 8

enum qiao_role {
	QIAO_ROLE_NONE = 0,
	QIAO_ROLE_VILLAGE,
	QIAO_ROLE_TOWN,
	QIAO_ROLE_DISTRICT,
	QIAO_ROLE_ROOT,
};

typedef struct qiao_conf {
	/* [node] */
	char dir[QIAO_PATH_MAX];
	enum qiao_role role;
	char region[QIAO_REGION_MAX]; /* digits; "" when unset */
	char name[QIAO_NAME_MAX];
	bool has_root;
	uint8_t root[QIAO_KEY_LEN]; /* trust anchor: the district root key */
	uint64_t max_skew_ms;
	uint64_t mapsize; /* 0: the store's default */
	bool durable;     /* fsync every commit (false only for simulations) */
	int log_level;    /* 0 error, 1 warn, 2 info, 3 debug (node/log.h) */
	/* [net] (node/daemon.h, docs/PROTOCOL.md) */
	char listen[QIAO_URL_MAX]; /* "" : accept no connections */
	char upstream[QIAO_UPSTREAM_MAX][QIAO_URL_MAX];
	size_t nupstream;
	uint64_t reconnect_min_ms; /* first retry after a failed link */
	uint64_t reconnect_max_ms; /* backoff doubles up to this */
	uint64_t batch_bytes;      /* entries per BATCH message, in bytes */
	uint64_t window;           /* BATCH messages in flight per session */
	uint64_t poll_ms;          /* how long a listener holds a long-poll */
	uint64_t change_poll_ms;   /* how often the daemon looks for writes */
	uint64_t max_message;      /* NNG_OPT_RECVMAXSZ: larger is refused */
	uint64_t timeout_ms;       /* a link silent this long is dropped */
	uint64_t max_peers;        /* connections a listener accepts */
	bool compress;             /* zstd on batches when it pays */
} qiao_conf;

/* [net] defaults, also used by nodes without a config file. */
#define QIAO_NET_RECONNECT_MIN_MS 1000
#define QIAO_NET_RECONNECT_MAX_MS (5 * 60 * 1000)
#define QIAO_NET_BATCH_BYTES (128 * 1024)
#define QIAO_NET_WINDOW 8
#define QIAO_NET_POLL_MS (20 * 1000)
#define QIAO_NET_CHANGE_POLL_MS 200
#define QIAO_NET_MAX_MESSAGE (1024 * 1024)
/* The largest max_message: one sealed link frame carries at most 4 MiB
 * (NODE_LINK_PLAIN_MAX, node/link.h). */
#define QIAO_NET_MAX_MESSAGE_MAX (4 * 1024 * 1024)
#define QIAO_NET_TIMEOUT_MS (90 * 1000)
#define QIAO_NET_MAX_PEERS 1024

/* Fills c with the defaults of every directive. */
void conf_defaults(qiao_conf *c);

/*
 * Loads path over the defaults. On failure returns QIAO_ECONFIG (or
 * QIAO_ENOTFOUND / QIAO_EIO for the file itself) and writes a one-line
 * message "FILE:LINE: what" into err.
 */
int conf_load(qiao_conf *c, const char *path, char *err, size_t errlen)
    QIAO_MUST_USE;

/* The same for text held in memory; name stands for the file in errors. */
int conf_load_string(qiao_conf *c, const char *text, const char *name,
    char *err, size_t errlen) QIAO_MUST_USE;

/*
 * The station's identity (role, region, name, root) from the store's own
 * config `own` (what qiao init wrote) where c leaves it unset, so a
 * --config file need not repeat it. A field both set differently means the
 * config is not this store's: QIAO_ECONFIG, with "what: FILE says X, the
 * store Y" in err (own_name names the store's file).
 */
int conf_take_identity(qiao_conf *c, const qiao_conf *own,
    const char *own_name, char *err, size_t errlen) QIAO_MUST_USE;

/* Writes c as a config file (the [node] section), mode 0600. */
int conf_save(const qiao_conf *c, const char *path) QIAO_MUST_USE;

/* "village" ... "root"; NULL for QIAO_ROLE_NONE. */
const char *conf_role_name(enum qiao_role role);
/* QIAO_ROLE_NONE for an unknown name. */
enum qiao_role conf_role_parse(const char *name);

/* The length a region code has for role (6, 9, 12), 0 if any. */
size_t conf_role_region_len(enum qiao_role role);

/* True if code is 1..QIAO_REGION_MAX-1 ASCII digits. */
bool conf_region_ok(const char *code);
/* NULL when url is one qiao dials or listens on (tcp://HOST:PORT, tcp4://,
 * tcp6://, ipc://PATH, inproc://NAME), else what is wrong with it. */
const char *conf_url_check(const char *url);

/* Parses "250ms", "30s", "5m", "2h", "1d" (a bare number is seconds). */
int conf_parse_duration(const char *s, uint64_t *ms) QIAO_MUST_USE;
/* Parses "4096", "64K", "512M", "8G". */
int conf_parse_size(const char *s, uint64_t *bytes) QIAO_MUST_USE;

#endif
