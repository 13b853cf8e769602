#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <lmdb.h>

#include "crdt/codec.h"
#include "node/log.h"
#include "node/store.h"

struct node_store {
	MDB_env *env;
	MDB_dbi dbi[NODE_TB_COUNT];
	char *dir;
};

struct node_txn {
	node_store *st;
	MDB_txn *txn;
	bool write;
};

struct node_cursor {
	MDB_cursor *cur;
};

static const char *table_names[NODE_TB_COUNT] = {
	[NODE_TB_META] = "meta",
	[NODE_TB_ENTRIES] = "entries",
	[NODE_TB_BODIES] = "bodies",
	[NODE_TB_BYHASH] = "byhash",
	[NODE_TB_HEADS] = "heads",
	[NODE_TB_CHANGES] = "changes",
	[NODE_TB_FORKS] = "forks",
	[NODE_TB_CERTS] = "certs",
	[NODE_TB_REVOKES] = "revokes",
	[NODE_TB_STATE] = "state",
	[NODE_TB_INDEX] = "index",
	[NODE_TB_PEERS] = "peers",
	[NODE_TB_REFUSED] = "refused",
	[NODE_TB_AUX] = "aux",
};

/* The one place LMDB's codes become ours; unexpected ones are logged here
 * with LMDB's own words, since only this file knows them. */
static int
xlate(int rc, const char *what)
{
	switch (rc) {
	case MDB_SUCCESS:
		return QIAO_OK;
	case MDB_NOTFOUND:
		return QIAO_ENOTFOUND;
	case MDB_MAP_FULL:
	case ENOSPC:
	case EDQUOT:
		node_log(NODE_LOG_ERR, "store", "%s: %s", what, mdb_strerror(rc));
		return QIAO_EFULL;
	case ENOMEM:
		return QIAO_ENOMEM;
	default:
		node_log(NODE_LOG_ERR, "store", "%s: %s", what, mdb_strerror(rc));
		return QIAO_ESTORE;
	}
}

void
node_store_be64(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint64_t
node_store_rd64(const uint8_t in[8])
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | in[i];
	return v;
}

static int
check_schema(node_txn *txn)
{
	const void *v = NULL;
	size_t n = 0;
	uint8_t want[8];
	int rc;

	node_store_be64(want, QIAO_STORE_SCHEMA);
	rc = node_store_get(txn, NODE_TB_META, "schema", 6, &v, &n);
	if (rc == QIAO_ENOTFOUND)
		return node_store_put(txn, NODE_TB_META, "schema", 6, want, 8);
	if (rc != QIAO_OK)
		return rc;
	if (n != 8 || memcmp(v, want, 8) != 0) {
		node_log(NODE_LOG_ERR, "store",
		    "%s: store schema %llu, this qiao reads schema %d",
		    txn->st->dir,
		    n == 8 ? (unsigned long long)node_store_rd64(v) : 0ULL,
		    QIAO_STORE_SCHEMA);
		return QIAO_ESTORE;
	}
	return QIAO_OK;
}

int
node_store_open(node_store **out, const char *dir,
    const node_store_opts *opts)
{
	node_store_opts def = { 0 };
	node_store *st;
	node_txn *txn = NULL;
	char path[4096];
	unsigned flags;
	int rc, dead;

	if (opts == NULL)
		opts = &def;
	if (snprintf(path, sizeof(path), "%s/data.mdb", dir) >=
	    (int)sizeof(path))
		return QIAO_EINVAL;
	if (!opts->create && access(path, F_OK) != 0)
		return QIAO_ENOTFOUND;
	if (opts->create && mkdir(dir, 0700) != 0 && errno != EEXIST) {
		node_log(NODE_LOG_ERR, "store", "mkdir %s: %s", dir,
		    strerror(errno));
		return QIAO_EIO;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->dir = strdup(dir)) == NULL) {
		free(st);
		return QIAO_ENOMEM;
	}
	flags = MDB_NOTLS | (opts->nosync ? MDB_NOSYNC : 0);
	if ((rc = mdb_env_create(&st->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(st->env, NODE_TB_COUNT + 2)) != 0 ||
	    (rc = mdb_env_set_mapsize(st->env,
		 opts->mapsize ? opts->mapsize : QIAO_MAPSIZE_DEFAULT)) != 0 ||
	    (rc = mdb_env_open(st->env, dir, flags, 0600)) != 0) {
		node_log(NODE_LOG_ERR, "store", "open %s: %s", dir,
		    mdb_strerror(rc));
		node_store_close(st);
		return rc == ENOSPC ? QIAO_EFULL : QIAO_ESTORE;
	}
	/* Reader slots of processes killed mid-read would pin old pages. */
	(void)mdb_reader_check(st->env, &dead);
	if ((rc = node_store_txn_begin(st, true, &txn)) != QIAO_OK)
		goto fail;
	for (int i = 0; i < NODE_TB_COUNT; i++) {
		int mrc = mdb_dbi_open(txn->txn, table_names[i], MDB_CREATE,
		    &st->dbi[i]);
		if (mrc != 0) {
			rc = xlate(mrc, "open table");
			goto fail;
		}
	}
	if ((rc = check_schema(txn)) != QIAO_OK)
		goto fail;
	rc = node_store_txn_commit(txn);
	txn = NULL;
	if (rc != QIAO_OK)
		goto fail;
	*out = st;
	return QIAO_OK;
fail:
	node_store_txn_abort(txn);
	node_store_close(st);
	return rc;
}

void
node_store_close(node_store *st)
{
	if (st == NULL)
		return;
	if (st->env != NULL)
		mdb_env_close(st->env);
	free(st->dir);
	free(st);
}

const char *
node_store_dir(const node_store *st)
{
	return st->dir;
}

int
node_store_txn_begin(node_store *st, bool write, node_txn **out)
{
	node_txn *txn = calloc(1, sizeof(*txn));
	int rc;

	if (txn == NULL)
		return QIAO_ENOMEM;
	rc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, &txn->txn);
	if (rc == MDB_MAP_RESIZED) {
		/* Another process grew the map: adopt its size and retry. */
		(void)mdb_env_set_mapsize(st->env, 0);
		rc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY,
		    &txn->txn);
	}
	if (rc != 0) {
		free(txn);
		return xlate(rc, "begin");
	}
	txn->st = st;
	txn->write = write;
	*out = txn;
	return QIAO_OK;
}

/*
 * LMDB reports a write the disk cut short as EIO, not ENOSPC. When the
 * store's file system has (next to) no room left, that EIO is a full disk,
 * and the person at the station should be told so.
 */
static bool
disk_full(const char *dir)
{
	struct statvfs fs;

	return statvfs(dir, &fs) == 0 &&
	    (uint64_t)fs.f_bavail * fs.f_frsize < 256 * 1024;
}

int
node_store_txn_commit(node_txn *txn)
{
	int rc = mdb_txn_commit(txn->txn);

	if (rc == EIO && disk_full(txn->st->dir))
		rc = ENOSPC;
	free(txn);
	return xlate(rc, "commit");
}

void
node_store_txn_abort(node_txn *txn)
{
	if (txn == NULL)
		return;
	mdb_txn_abort(txn->txn);
	free(txn);
}

int
node_store_get(node_txn *txn, enum node_table tb, const void *key,
    size_t klen, const void **val, size_t *vlen)
{
	MDB_val k = { klen, (void *)key }, v;
	int rc = mdb_get(txn->txn, txn->st->dbi[tb], &k, &v);

	if (rc != 0)
		return xlate(rc, table_names[tb]);
	*val = v.mv_data;
	*vlen = v.mv_size;
	return QIAO_OK;
}

int
node_store_put(node_txn *txn, enum node_table tb, const void *key,
    size_t klen, const void *val, size_t vlen)
{
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };

	return xlate(mdb_put(txn->txn, txn->st->dbi[tb], &k, &v, 0),
	    table_names[tb]);
}

int
node_store_del(node_txn *txn, enum node_table tb, const void *key,
    size_t klen)
{
	MDB_val k = { klen, (void *)key };
	int rc = mdb_del(txn->txn, txn->st->dbi[tb], &k, NULL);

	return rc == MDB_NOTFOUND ? QIAO_OK : xlate(rc, table_names[tb]);
}

int
node_store_clear(node_txn *txn, enum node_table tb)
{
	return xlate(mdb_drop(txn->txn, txn->st->dbi[tb], 0), "clear");
}

int
node_store_count(node_txn *txn, enum node_table tb, uint64_t *out)
{
	MDB_stat s;
	int rc = mdb_stat(txn->txn, txn->st->dbi[tb], &s);

	if (rc != 0)
		return xlate(rc, table_names[tb]);
	*out = s.ms_entries;
	return QIAO_OK;
}

int
node_store_cursor_open(node_txn *txn, enum node_table tb, node_cursor **out)
{
	node_cursor *c = calloc(1, sizeof(*c));
	int rc;

	if (c == NULL)
		return QIAO_ENOMEM;
	if ((rc = mdb_cursor_open(txn->txn, txn->st->dbi[tb], &c->cur)) != 0) {
		free(c);
		return xlate(rc, table_names[tb]);
	}
	*out = c;
	return QIAO_OK;
}

static int
cursor_get(node_cursor *c, MDB_val *k, MDB_cursor_op op, const void **ko,
    size_t *kl, const void **vo, size_t *vl)
{
	MDB_val v;
	int rc = mdb_cursor_get(c->cur, k, &v, op);

	if (rc != 0)
		return xlate(rc, "cursor");
	*ko = k->mv_data;
	*kl = k->mv_size;
	*vo = v.mv_data;
	*vl = v.mv_size;
	return QIAO_OK;
}

int
node_store_cursor_seek(node_cursor *c, const void *key, size_t klen,
    const void **k, size_t *kl, const void **v, size_t *vl)
{
	MDB_val mk = { klen, (void *)key };

	return cursor_get(c, &mk, klen ? MDB_SET_RANGE : MDB_FIRST, k, kl, v,
	    vl);
}

int
node_store_cursor_next(node_cursor *c, const void **k, size_t *kl,
    const void **v, size_t *vl)
{
	MDB_val mk = { 0, NULL };

	return cursor_get(c, &mk, MDB_NEXT, k, kl, v, vl);
}

void
node_store_cursor_close(node_cursor *c)
{
	if (c == NULL)
		return;
	mdb_cursor_close(c->cur);
	free(c);
}

int
node_store_scan(node_txn *txn, enum node_table tb, const void *prefix,
    size_t plen, node_store_scan_fn fn, void *ctx)
{
	node_cursor *c;
	const void *k = NULL, *v = NULL;
	size_t kl = 0, vl = 0;
	int rc;

	if ((rc = node_store_cursor_open(txn, tb, &c)) != QIAO_OK)
		return rc;
	for (rc = node_store_cursor_seek(c, prefix, plen, &k, &kl, &v, &vl);
	     rc == QIAO_OK;
	     rc = node_store_cursor_next(c, &k, &kl, &v, &vl)) {
		/* A whole-table scan passes prefix NULL: memcmp must not see
		 * it, even for zero bytes. */
		if (plen > 0 && (kl < plen || memcmp(k, prefix, plen) != 0))
			break;
		if ((rc = fn(ctx, k, kl, v, vl)) != 0)
			break;
	}
	node_store_cursor_close(c);
	return rc == QIAO_ENOTFOUND ? QIAO_OK : rc;
}

/*
 * heads value, 60 bytes, v1:
 *   seq(8 BE) hash(32) hlc(8 BE) tick(8 BE) flags(4 BE)
 */
#define HEAD_LEN 60

static int
head_decode(const uint8_t *v, size_t n, node_head *out)
{
	if (n != HEAD_LEN) {
		node_log(NODE_LOG_ERR, "store", "head record of %zu bytes", n);
		return QIAO_ESTORE;
	}
	out->seq = node_store_rd64(v);
	memcpy(out->hash, v + 8, QIAO_HASH_LEN);
	out->hlc = node_store_rd64(v + 40);
	out->tick = node_store_rd64(v + 48);
	out->flags = (uint32_t)v[56] << 24 | (uint32_t)v[57] << 16 |
	    (uint32_t)v[58] << 8 | v[59];
	return QIAO_OK;
}

int
node_store_head_get(node_txn *txn, const uint8_t author[QIAO_KEY_LEN],
    node_head *out)
{
	const uint8_t *v = NULL;
	size_t n = 0;
	int rc;

	rc = node_store_get(txn, NODE_TB_HEADS, author, QIAO_KEY_LEN,
	    (const void **)&v, &n);
	if (rc != QIAO_OK)
		return rc;
	return head_decode(v, n, out);
}

struct heads_walk {
	node_store_head_fn fn;
	void *ctx;
};

static int
on_head_row(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct heads_walk *w = ctx;
	node_head h;
	int rc;

	if (klen != QIAO_KEY_LEN)
		return QIAO_ESTORE;
	if ((rc = head_decode(val, vlen, &h)) != QIAO_OK)
		return rc;
	return w->fn(w->ctx, key, &h);
}

int
node_store_heads_each(node_txn *txn, node_store_head_fn fn, void *ctx)
{
	struct heads_walk w = { fn, ctx };

	return node_store_scan(txn, NODE_TB_HEADS, NULL, 0, on_head_row, &w);
}

int
node_store_tick(node_txn *txn, uint64_t *out)
{
	const void *v = NULL;
	size_t n = 0;
	int rc = node_store_get(txn, NODE_TB_META, "tick", 4, &v, &n);

	if (rc == QIAO_ENOTFOUND) {
		*out = 0;
		return QIAO_OK;
	}
	if (rc != QIAO_OK)
		return rc;
	if (n != 8)
		return QIAO_ESTORE;
	*out = node_store_rd64(v);
	return QIAO_OK;
}

int
node_store_head_put(node_txn *txn, const uint8_t author[QIAO_KEY_LEN],
    node_head *h)
{
	uint8_t v[HEAD_LEN], tk[8];
	node_head old;
	uint64_t tick;
	int rc;

	if ((rc = node_store_tick(txn, &tick)) != QIAO_OK)
		return rc;
	tick++;
	rc = node_store_head_get(txn, author, &old);
	if (rc == QIAO_OK) {
		node_store_be64(tk, old.tick);
		if ((rc = node_store_del(txn, NODE_TB_CHANGES, tk, 8)) != 0)
			return rc;
	} else if (rc != QIAO_ENOTFOUND) {
		return rc;
	}
	h->tick = tick;
	node_store_be64(v, h->seq);
	memcpy(v + 8, h->hash, QIAO_HASH_LEN);
	node_store_be64(v + 40, h->hlc);
	node_store_be64(v + 48, h->tick);
	v[56] = (uint8_t)(h->flags >> 24);
	v[57] = (uint8_t)(h->flags >> 16);
	v[58] = (uint8_t)(h->flags >> 8);
	v[59] = (uint8_t)h->flags;
	node_store_be64(tk, tick);
	if ((rc = node_store_put(txn, NODE_TB_HEADS, author, QIAO_KEY_LEN, v,
		 HEAD_LEN)) != QIAO_OK ||
	    (rc = node_store_put(txn, NODE_TB_CHANGES, tk, 8, author,
		 QIAO_KEY_LEN)) != QIAO_OK ||
	    (rc = node_store_put(txn, NODE_TB_META, "tick", 4, tk, 8)) != 0)
		return rc;
	return QIAO_OK;
}

int
node_store_head_del(node_txn *txn, const uint8_t author[QIAO_KEY_LEN])
{
	node_head old;
	uint8_t tk[8];
	int rc = node_store_head_get(txn, author, &old);

	if (rc == QIAO_ENOTFOUND)
		return QIAO_OK;
	if (rc != QIAO_OK)
		return rc;
	node_store_be64(tk, old.tick);
	if ((rc = node_store_del(txn, NODE_TB_CHANGES, tk, 8)) != QIAO_OK)
		return rc;
	return node_store_del(txn, NODE_TB_HEADS, author, QIAO_KEY_LEN);
}

static void
entry_key(uint8_t key[QIAO_KEY_LEN + 8], const uint8_t *author, uint64_t seq)
{
	memcpy(key, author, QIAO_KEY_LEN);
	node_store_be64(key + QIAO_KEY_LEN, seq);
}

int
node_store_entry_put(node_txn *txn, const crdt_entry *e)
{
	uint8_t key[QIAO_KEY_LEN + 8];
	int rc;

	entry_key(key, e->author, e->seq);
	if ((rc = node_store_put(txn, NODE_TB_ENTRIES, key, sizeof(key),
		 e->raw, crdt_entry_raw_len(e))) != QIAO_OK)
		return rc;
	return node_store_put(txn, NODE_TB_BYHASH, e->hash, QIAO_HASH_LEN, key,
	    sizeof(key));
}

int
node_store_entry_get(node_txn *txn, const uint8_t author[QIAO_KEY_LEN],
    uint64_t seq, crdt_entry *out)
{
	uint8_t key[QIAO_KEY_LEN + 8];
	const void *v = NULL;
	const char *why = NULL;
	size_t n = 0;
	int rc;

	entry_key(key, author, seq);
	rc = node_store_get(txn, NODE_TB_ENTRIES, key, sizeof(key), &v, &n);
	if (rc != QIAO_OK)
		return rc;
	if (crdt_entry_parse(out, v, n, NULL, &why) != QIAO_OK) {
		node_log(NODE_LOG_ERR, "store", "stored entry seq %llu: %s",
		    (unsigned long long)seq, why ? why : "unparseable");
		return QIAO_ESTORE;
	}
	return QIAO_OK;
}

int
node_store_entry_find(node_txn *txn, const uint8_t hash[QIAO_HASH_LEN],
    uint8_t author[QIAO_KEY_LEN], uint64_t *seq)
{
	const uint8_t *v = NULL;
	size_t n = 0;
	int rc;

	rc = node_store_get(txn, NODE_TB_BYHASH, hash, QIAO_HASH_LEN,
	    (const void **)&v, &n);
	if (rc != QIAO_OK)
		return rc;
	if (n != QIAO_KEY_LEN + 8)
		return QIAO_ESTORE;
	memcpy(author, v, QIAO_KEY_LEN);
	*seq = node_store_rd64(v + QIAO_KEY_LEN);
	return QIAO_OK;
}

int
node_store_body_get(node_txn *txn, const uint8_t hash[QIAO_HASH_LEN],
    const uint8_t **body, size_t *len)
{
	return node_store_get(txn, NODE_TB_BODIES, hash, QIAO_HASH_LEN,
	    (const void **)body, len);
}

int
node_store_body_put(node_txn *txn, const uint8_t hash[QIAO_HASH_LEN],
    const uint8_t *body, size_t len)
{
	return node_store_put(txn, NODE_TB_BODIES, hash, QIAO_HASH_LEN, body,
	    len);
}

int
node_store_fork_put(node_txn *txn, const crdt_entry *e)
{
	uint8_t key[QIAO_KEY_LEN + 8 + QIAO_HASH_LEN];

	entry_key(key, e->author, e->seq);
	memcpy(key + QIAO_KEY_LEN + 8, e->hash, QIAO_HASH_LEN);
	return node_store_put(txn, NODE_TB_FORKS, key, sizeof(key), e->raw,
	    crdt_entry_raw_len(e));
}

int
node_store_refused_put(node_txn *txn, const crdt_entry *e, int kind,
    const char *reason)
{
	crdt_writer w;
	int rc;

	crdt_writer_init(&w);
	crdt_write_array(&w, 3);
	crdt_write_uint(&w, (uint64_t)kind);
	crdt_write_cstr(&w, reason != NULL ? reason : "");
	if (kind == NODE_REFUSED_CUT)
		crdt_write_bin(&w, e->raw, crdt_entry_raw_len(e));
	else
		crdt_write_nil(&w);
	if ((rc = crdt_writer_error(&w)) == QIAO_OK)
		rc = node_store_put(txn, NODE_TB_REFUSED, e->hash,
		    QIAO_HASH_LEN, w.buf, w.len);
	crdt_writer_fini(&w);
	return rc;
}
