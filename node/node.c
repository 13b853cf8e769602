#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "crdt/hlc.h"
#include "node/ingest.h"
#include "node/keys.h"
#include "node/log.h"
#include "node/node.h"

struct node {
	qiao_conf conf;
	char *dir;
	node_store *store;
	node_keys *keys; /* loaded on first signature */
	bool has_self;
	uint8_t self[QIAO_KEY_LEN];
	node_clock_fn clock;
	void *clock_ctx;
};

static uint64_t
system_clock(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
node_open(node **out, const char *dir, const node_opts *opts, char *err,
    size_t errlen)
{
	node_opts def = { 0 };
	node_store_opts so = { 0 };
	char path[QIAO_PATH_MAX + 16];
	node *n;
	int rc;

	if (opts == NULL)
		opts = &def;
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium failed to initialise");
		return QIAO_ENOMEM;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL ||
	    (n->dir = strdup(dir)) == NULL) {
		free(n);
		snprintf(err, errlen, "out of memory");
		return QIAO_ENOMEM;
	}
	n->clock = opts->clock ? opts->clock : system_clock;
	n->clock_ctx = opts->clock_ctx;
	if (opts->conf != NULL) {
		n->conf = *opts->conf;
	} else {
		conf_defaults(&n->conf);
		snprintf(path, sizeof(path), "%s/%s", dir, QIAO_CONF_NAME);
		rc = conf_load(&n->conf, path, err, errlen);
		if (rc == QIAO_ENOTFOUND) {
			conf_defaults(&n->conf);
		} else if (rc != QIAO_OK) {
			node_close(n);
			return rc;
		}
	}
	so.create = opts->create;
	so.mapsize = n->conf.mapsize;
	so.nosync = !n->conf.durable;
	if ((rc = node_store_open(&n->store, dir, &so)) != QIAO_OK) {
		if (rc == QIAO_ENOTFOUND)
			snprintf(err, errlen,
			    "no store at %s (create one with qiao init)", dir);
		else if (rc == QIAO_EFULL)
			snprintf(err, errlen, "%s: disk full", dir);
		else
			snprintf(err, errlen, "cannot open the store at %s",
			    dir);
		node_close(n);
		return rc;
	}
	rc = node_keys_load_public(n->self, dir);
	if (rc == QIAO_OK)
		n->has_self = true;
	else if (rc != QIAO_ENOTFOUND) {
		snprintf(err, errlen, "%s/key.pub: %s", dir,
		    qiao_strerror(rc));
		node_close(n);
		return rc;
	}
	*out = n;
	return QIAO_OK;
}

void
node_close(node *n)
{
	if (n == NULL)
		return;
	node_store_close(n->store);
	node_keys_free(n->keys);
	free(n->dir);
	free(n);
}

node_store *
node_get_store(const node *n)
{
	return n->store;
}

const qiao_conf *
node_get_conf(const node *n)
{
	return &n->conf;
}

const char *
node_get_dir(const node *n)
{
	return n->dir;
}

const uint8_t *
node_self(const node *n)
{
	return n->has_self ? n->self : NULL;
}

const uint8_t *
node_root(const node *n)
{
	if (n->conf.has_root)
		return n->conf.root;
	return node_self(n);
}

uint64_t
node_now_ms(const node *n)
{
	return n->clock(n->clock_ctx);
}

int
node_load_key(node *n)
{
	int rc;

	if (n->keys != NULL)
		return QIAO_OK;
	if ((rc = node_keys_load(&n->keys, n->dir)) != QIAO_OK)
		return rc;
	if (n->has_self &&
	    memcmp(n->self, node_keys_public(n->keys), QIAO_KEY_LEN) != 0) {
		node_log(NODE_LOG_ERR, "keys",
		    "%s/key does not match %s/key.pub", n->dir, n->dir);
		node_keys_free(n->keys);
		n->keys = NULL;
		return QIAO_EMALFORMED;
	}
	memcpy(n->self, node_keys_public(n->keys), QIAO_KEY_LEN);
	n->has_self = true;
	return QIAO_OK;
}

const uint8_t *
node_secret_key(const node *n)
{
	return n->keys != NULL ? node_keys_secret(n->keys) : NULL;
}

/* The local clock: the greater of what we last stamped or observed and the
 * wall, so a restart never reuses a timestamp. Lives in meta "hlc". */
static int
next_hlc(node *n, node_txn *txn, uint64_t *out)
{
	const void *v;
	size_t len;
	uint64_t last = 0;
	uint8_t buf[8];
	int rc;

	rc = node_store_get(txn, NODE_TB_META, "hlc", 3, &v, &len);
	if (rc == QIAO_OK && len == 8)
		last = node_store_rd64(v);
	else if (rc != QIAO_OK && rc != QIAO_ENOTFOUND)
		return rc;
	if ((rc = crdt_hlc_tick(&last, node_now_ms(n), out)) != QIAO_OK)
		return rc;
	node_store_be64(buf, last);
	return node_store_put(txn, NODE_TB_META, "hlc", 3, buf, 8);
}

int
node_append(node *n, uint64_t type, const uint8_t *body, size_t len,
    crdt_entry *out, const char **why)
{
	node_ingest_item it;
	node_txn *txn;
	node_head head;
	int rc;

	if (why != NULL)
		*why = NULL;
	if ((rc = node_load_key(n)) != QIAO_OK)
		return rc;
	if (len > QIAO_BODY_MAX)
		return QIAO_ETOOBIG;
	memset(&it, 0, sizeof(it));
	if ((rc = node_store_txn_begin(n->store, true, &txn)) != QIAO_OK)
		return rc;
	rc = node_store_head_get(txn, n->self, &head);
	if (rc == QIAO_ENOTFOUND) {
		it.e.seq = 1;
	} else if (rc == QIAO_OK) {
		if (head.flags & NODE_HEAD_FORKED) {
			rc = QIAO_EFORK;
			goto fail;
		}
		it.e.seq = head.seq + 1;
		it.e.has_prev = true;
		memcpy(it.e.prev, head.hash, QIAO_HASH_LEN);
	} else {
		goto fail;
	}
	if ((rc = next_hlc(n, txn, &it.e.hlc)) != QIAO_OK)
		goto fail;
	it.e.type = type;
	it.e.body_len = len;
	crdt_entry_body_hash(it.e.body_hash, body, len);
	if ((rc = crdt_entry_sign(&it.e, node_keys_secret(n->keys))) != 0)
		goto fail;
	it.body = body;
	it.body_len = len;
	if ((rc = node_ingest_txn(n, txn, &it, 1, true, NULL)) != QIAO_OK)
		goto fail;
	/* Our own operation refused: do not sign into the log what every
	 * other node would refuse too. */
	if (it.rc == QIAO_OK && it.op_rc != QIAO_OK)
		it.rc = it.op_rc;
	if (it.rc != QIAO_OK) {
		rc = it.rc;
		if (why != NULL)
			*why = it.why;
		goto fail;
	}
	if ((rc = node_store_txn_commit(txn)) != QIAO_OK)
		return rc;
	if (out != NULL)
		*out = it.e;
	return QIAO_OK;
fail:
	node_store_txn_abort(txn);
	return rc;
}
