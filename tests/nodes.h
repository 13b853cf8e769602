/*
 * nodes — test helpers that build real nodes (store, key, config) in a
 * scratch directory, enrol them and write entries: for the sync, trust and
 * audit suites.
 * Included by one test file each; everything is static.
 */
#ifndef QIAO_TESTS_NODES_H
#define QIAO_TESTS_NODES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf/conf.h"
#include "crdt/body.h"
#include "crdt/cert.h"
#include "crdt/types.h"
#include "node/keys.h"
#include "node/logfile.h"
#include "node/node.h"
#include "node/store.h"
#include "node/sync.h"

/* Not every suite uses every helper. */
#define TN_UNUSED __attribute__((unused))

/* Creates a node in dir (made here) with a fresh key and config c. */
static TN_UNUSED node *
tn_make_conf(const char *dir, const qiao_conf *c)
{
	node_keys *k = NULL;
	node *n = NULL;
	char err[256];

	if (mkdir(dir, 0700) != 0 || node_keys_create(&k, dir) != QIAO_OK)
		return NULL;
	node_keys_free(k);
	if (node_open(&n, dir, &(node_opts) { .create = true, .conf = c },
		err, sizeof(err)) != QIAO_OK) {
		fprintf(stderr, "tn_make: %s\n", err);
		return NULL;
	}
	return n;
}

/* A config for a test node: a store of 64M without fsync. root may be
 * NULL (the node anchors on itself). */
static TN_UNUSED void
tn_conf(qiao_conf *c, const char *dir, enum qiao_role role,
    const char *region, const uint8_t *root)
{
	conf_defaults(c);
	snprintf(c->dir, sizeof(c->dir), "%s", dir);
	c->role = role;
	snprintf(c->region, sizeof(c->region), "%s", region);
	snprintf(c->name, sizeof(c->name), "%s %s", conf_role_name(role),
	    region);
	if (root != NULL) {
		c->has_root = true;
		memcpy(c->root, root, QIAO_KEY_LEN);
	}
	c->mapsize = 64 << 20;
	c->durable = false;
}

/* A node with tn_conf's config. */
static TN_UNUSED node *
tn_make(const char *dir, enum qiao_role role, const char *region,
    const uint8_t *root)
{
	qiao_conf c;

	tn_conf(&c, dir, role, region, root);
	return tn_make_conf(dir, &c);
}

/* issuer enrols subject with role and region. */
static TN_UNUSED int
tn_enrol(node *issuer, const node *subject, enum qiao_role role,
    const char *region)
{
	crdt_cert c;
	uint8_t *body;
	size_t len;
	const char *why = NULL;
	int rc;

	memset(&c, 0, sizeof(c));
	memcpy(c.subject, node_self(subject), QIAO_KEY_LEN);
	snprintf(c.role, sizeof(c.role), "%s", conf_role_name(role));
	snprintf(c.region, sizeof(c.region), "%s", region);
	snprintf(c.name, sizeof(c.name), "station %s", region);
	if ((rc = crdt_cert_encode(&c, &body, &len)) != QIAO_OK)
		return rc;
	rc = node_append(issuer, QIAO_T_ENROL, body, len, NULL, &why);
	free(body);
	if (rc != QIAO_OK)
		fprintf(stderr, "tn_enrol: %s %s\n", qiao_errname(rc),
		    why ? why : "");
	return rc;
}

/*
 * The bootstrap a new station goes through before its first link (README,
 * "Trust"): its issuer's `qiao log export`, imported. tn_export writes
 * author's log (every log n holds if author is NULL) to path; tn_import
 * ingests such a file and fails if any entry in it was rejected.
 */
static TN_UNUSED int
tn_export(node *n, const char *path, const uint8_t *author)
{
	uint64_t count = 0;

	return node_logfile_export(n, path, author, 1, &count);
}

static TN_UNUSED int
tn_import(node *n, const char *path)
{
	node_ingest_stats st;
	char err[256];
	int rc;

	memset(&st, 0, sizeof(st));
	rc = node_logfile_import(n, path, NULL, NULL, &st, err, sizeof(err));
	if (rc != QIAO_OK) {
		fprintf(stderr, "tn_import %s: %s\n", path, err);
		return rc;
	}
	return st.rejected == 0 ? QIAO_OK : QIAO_EUNAUTH;
}

/* to imports from's export of author's log (all if NULL), through a file
 * beside from's store. */
static TN_UNUSED int
tn_give_log(node *from, node *to, const uint8_t *author)
{
	char path[QIAO_PATH_MAX + 32];
	int rc;

	snprintf(path, sizeof(path), "%s/give.log", node_get_dir(from));
	if ((rc = tn_export(from, path, author)) == QIAO_OK)
		rc = tn_import(to, path);
	remove(path);
	return rc;
}

/* Appends count notes of about `size` bytes. */
static TN_UNUSED int
tn_notes(node *n, int count, size_t size)
{
	/* About 40 Chinese characters (3 bytes each) is a case note. */
	static const char *zh = "村民反映邻里纠纷调解矛盾化解网格走访回访";
	char text[2048];
	int rc;

	if (size >= sizeof(text))
		size = sizeof(text) - 1;
	for (int i = 0; i < count; i++) {
		crdt_body b;
		uint8_t *body;
		size_t len, off;

		off = (size_t)snprintf(text, sizeof(text), "%d ", i);
		while (off + 3 <= size) {
			const char *c = zh + 3 * ((off + (size_t)i) % 20);

			memcpy(text + off, c, 3);
			off += 3;
		}
		text[off] = '\0';
		crdt_body_init(&b);
		crdt_body_cstr(&b, "text", text);
		rc = crdt_body_finish(&b, &body, &len);
		crdt_body_fini(&b);
		if (rc != QIAO_OK)
			return rc;
		rc = node_append(n, QIAO_T_NOTE, body, len, NULL, NULL);
		free(body);
		if (rc != QIAO_OK)
			return rc;
	}
	return QIAO_OK;
}

static TN_UNUSED uint64_t
tn_tick(node *n)
{
	node_txn *txn;
	uint64_t t = 0;

	if (node_store_txn_begin(node_get_store(n), false, &txn) == QIAO_OK) {
		if (node_store_tick(txn, &t) != QIAO_OK)
			t = 0;
		node_store_txn_abort(txn);
	}
	return t;
}

static TN_UNUSED uint64_t
tn_seq(node *n, const uint8_t *author)
{
	node_txn *txn;
	node_head h;
	uint64_t seq = 0;

	if (node_store_txn_begin(node_get_store(n), false, &txn) == QIAO_OK) {
		if (node_store_head_get(txn, author, &h) == QIAO_OK)
			seq = h.seq;
		node_store_txn_abort(txn);
	}
	return seq;
}

/* Equal digests of region's scope on both nodes. */
static TN_UNUSED bool
tn_same_scope(node *a, node *b, const char *region)
{
	uint8_t da[QIAO_HASH_LEN], db[QIAO_HASH_LEN];
	uint64_t na = 0, nb = 0;

	if (node_sync_scope_digest(a, region, da, NULL, &na) != QIAO_OK ||
	    node_sync_scope_digest(b, region, db, NULL, &nb) != QIAO_OK)
		return false;
	return na == nb && memcmp(da, db, QIAO_HASH_LEN) == 0;
}

/*
 * Nodes on a hand-moved clock, for the trust and audit suites: tn_now_ms
 * is every such node's wall clock; tn_start() closes the nodes of the
 * previous test (the harness removes their directories after each test)
 * and puts the clock back at TN_T0.
 */
#define TN_T0 UINT64_C(1800000000000) /* 2027-01-15, ms */
#define TN_NODES_MAX 16

static uint64_t tn_now_ms = TN_T0;
static node *tn_nodes[TN_NODES_MAX];
static int tn_nnodes;

static TN_UNUSED uint64_t
tn_clock(void *ctx)
{
	(void)ctx;
	return tn_now_ms;
}

static TN_UNUSED void
tn_close_all(void)
{
	while (tn_nnodes > 0)
		node_close(tn_nodes[--tn_nnodes]);
}

static TN_UNUSED void
tn_start(void)
{
	static bool registered;

	if (!registered) {
		atexit(tn_close_all);
		registered = true;
	}
	tn_close_all();
	tn_now_ms = TN_T0;
}

/* A node in dir on tn_clock, kept until tn_start: a store of mapsize
 * bytes without fsync, a new key unless dir holds one. root may be NULL
 * (the node anchors on itself). */
static TN_UNUSED node *
tn_clocked(const char *dir, enum qiao_role role, const char *region,
    const uint8_t *root, uint64_t mapsize)
{
	node_opts o = { .create = true, .clock = tn_clock };
	uint8_t pk[QIAO_KEY_LEN];
	node_keys *k;
	qiao_conf c;
	char err[256];
	node *n;

	if (dir == NULL || tn_nnodes == TN_NODES_MAX)
		return NULL;
	conf_defaults(&c);
	c.role = role;
	snprintf(c.region, sizeof(c.region), "%s", region);
	snprintf(c.name, sizeof(c.name), "站%s", region[0] ? region : "根");
	if (root != NULL) {
		c.has_root = true;
		memcpy(c.root, root, QIAO_KEY_LEN);
	}
	c.durable = false;
	c.mapsize = mapsize;
	o.conf = &c;
	if (node_keys_load_public(pk, dir) != QIAO_OK) {
		if (node_keys_create(&k, dir) != QIAO_OK)
			return NULL;
		node_keys_free(k);
	}
	if (node_open(&n, dir, &o, err, sizeof(err)) != QIAO_OK) {
		printf("node_open: %s\n", err);
		return NULL;
	}
	tn_nodes[tn_nnodes++] = n;
	return n;
}

#endif
