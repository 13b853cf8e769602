#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crdt/body.h"
#include "crdt/hex.h"
#include "node/log.h"
#include "node/sync.h"
#include "node/trust.h"

#define ZSTD_LEVEL 3
#define RETRY_ROUNDS_MAX 16
/* A full store: ask again for what waits this often (nothing else moves
 * the store's tick while it is full). */
#define FULL_RETRY_MS 3000

/* What the session knows of one author. */
struct author {
	uint8_t key[QIAO_KEY_LEN];
	bool used;
	bool info;       /* rank/region looked up */
	bool known;      /* trust knows it */
	int rank;        /* 4 root .. 1 village */
	char region[QIAO_REGION_MAX];
	uint64_t peer_has; /* seq the peer is known to hold (0: unknown) */
	bool dirty;        /* peer_has changed since last saved */
};

struct range {
	uint8_t author[QIAO_KEY_LEN];
	uint64_t next, to;
	bool explicit_prev;
	bool done_mark; /* not a range: send DONE(want_no) here */
	uint64_t want_no;
};

struct announced {
	uint64_t upto;
	uint8_t author[QIAO_KEY_LEN];
	uint64_t seq;
};

struct retry {
	uint8_t author[QIAO_KEY_LEN];
	uint64_t to;
};

struct msgbuf {
	uint8_t *buf;
	size_t len;
};

struct node_sync {
	node *n;
	uint64_t batch_bytes, window, max_message;
	uint8_t expect[QIAO_KEY_LEN];
	uint8_t proven[QIAO_KEY_LEN]; /* the link's peer; has_proven */
	uint64_t peer_window, peer_max;
	uint64_t peer_since; /* the peer holds our log up to this tick */

	/* authors: open addressing on the key */
	struct author *authors;
	size_t nauth, capauth;

	/* outgoing messages (FIFO) */
	struct msgbuf *out;
	size_t out_head, out_n, out_cap;

	/* our side: announcing and serving */
	uint64_t scanned;  /* our tick scanned for changes */
	uint64_t announced;/* upto of the last HEADS we sent */
	struct announced *ann;
	size_t nann, capann;
	struct range *serve;
	size_t serve_head, serve_n, serve_cap;
	uint64_t wants_in;
	uint64_t acked;

	/* their side: receiving */
	uint64_t recv_since; /* stored per peer; advanced when a round ends */
	uint64_t round_upto;
	uint64_t wants_out, wants_done;
	struct retry *retry;
	size_t nretry, capretry;
	uint64_t stored_at_retry;
	uint64_t tick_at_retry;
	uint64_t full_at;    /* when a batch last found the store full */
	uint64_t peer_synced;

	node_sync_info info;
	uint64_t now;
	char err[QIAO_SYNC_REASON_MAX];
	int zstd_level;
	unsigned retry_rounds;
	bool initiator;
	bool has_expect;
	bool has_proven;
	bool hello_sent;
	bool peer_zstd;
	bool ack_due;
	bool heads_sent;   /* the first HEADS went out */
	bool round_open, heads_partial;
	bool peer_synced_any;
	bool dirty_peer;
	bool full_logged; /* said once per session that the store is full */
};
/* authors */

static size_t
author_slot(const uint8_t *key, size_t cap)
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return (size_t)(h & (cap - 1));
}

static int
author_get(node_sync *s, const uint8_t *key, struct author **out)
{
	size_t i;

	if (s->nauth * 2 >= s->capauth) {
		size_t cap = s->capauth ? 2 * s->capauth : 64;
		struct author *v = calloc(cap, sizeof(*v));

		if (v == NULL)
			return QIAO_ENOMEM;
		for (size_t k = 0; k < s->capauth; k++) {
			if (!s->authors[k].used)
				continue;
			i = author_slot(s->authors[k].key, cap);
			while (v[i].used)
				i = (i + 1) & (cap - 1);
			v[i] = s->authors[k];
		}
		free(s->authors);
		s->authors = v;
		s->capauth = cap;
	}
	i = author_slot(key, s->capauth);
	while (s->authors[i].used) {
		if (memcmp(s->authors[i].key, key, QIAO_KEY_LEN) == 0) {
			*out = &s->authors[i];
			return QIAO_OK;
		}
		i = (i + 1) & (s->capauth - 1);
	}
	memset(&s->authors[i], 0, sizeof(s->authors[i]));
	memcpy(s->authors[i].key, key, QIAO_KEY_LEN);
	s->authors[i].used = true;
	s->nauth++;
	*out = &s->authors[i];
	return QIAO_OK;
}

static int
rank_of(enum qiao_role r)
{
	switch (r) {
	case QIAO_ROLE_ROOT:
		return 4;
	case QIAO_ROLE_DISTRICT:
		return 3;
	case QIAO_ROLE_TOWN:
		return 2;
	case QIAO_ROLE_VILLAGE:
		return 1;
	default:
		return 0;
	}
}

static int
author_info(node *n, node_txn *txn, struct author *a)
{
	node_trust_id id;
	int rc;

	if (a->info)
		return QIAO_OK;
	rc = node_trust_lookup(n, txn, a->key, &id);
	if (rc == QIAO_OK) {
		a->known = true;
		a->rank = rank_of(id.role);
		snprintf(a->region, sizeof(a->region), "%s", id.region);
	} else if (rc != QIAO_EUNKNOWN) {
		return rc;
	}
	a->info = true;
	return QIAO_OK;
}

bool
node_sync_in_scope(const char *holder, const char *author_region)
{
	return node_trust_region_covers(author_region, holder) ||
	    node_trust_region_covers(holder, author_region);
}

/* An author is sent to the peer when the peer's scope holds it. */
static int
peer_wants_author(node_sync *s, node_txn *txn, struct author *a, bool *yes)
{
	int rc;

	if ((rc = author_info(s->n, txn, a)) != QIAO_OK)
		return rc;
	*yes = a->known && node_sync_in_scope(s->info.peer_region, a->region);
	return QIAO_OK;
}

/* queues */

static int
push_out(node_sync *s, crdt_writer *w)
{
	struct msgbuf m;
	int rc;

	if ((rc = crdt_writer_error(w)) != QIAO_OK) {
		crdt_writer_fini(w);
		return rc;
	}
	if (s->out_head + s->out_n == s->out_cap) {
		if (s->out_head > 0) {
			memmove(s->out, s->out + s->out_head,
			    s->out_n * sizeof(*s->out));
			s->out_head = 0;
		} else {
			size_t cap = s->out_cap ? 2 * s->out_cap : 16;
			struct msgbuf *v = realloc(s->out, cap * sizeof(*v));

			if (v == NULL) {
				crdt_writer_fini(w);
				return QIAO_ENOMEM;
			}
			s->out = v;
			s->out_cap = cap;
		}
	}
	m.buf = crdt_writer_take(w, &m.len);
	s->info.bytes_out += m.len;
	s->out[s->out_head + s->out_n++] = m;
	return QIAO_OK;
}

static int
push_serve(node_sync *s, const struct range *r)
{
	if (s->serve_head + s->serve_n == s->serve_cap) {
		if (s->serve_head > 0) {
			memmove(s->serve, s->serve + s->serve_head,
			    s->serve_n * sizeof(*s->serve));
			s->serve_head = 0;
		} else {
			size_t cap = s->serve_cap ? 2 * s->serve_cap : 64;
			struct range *v = realloc(s->serve, cap * sizeof(*v));

			if (v == NULL)
				return QIAO_ENOMEM;
			s->serve = v;
			s->serve_cap = cap;
		}
	}
	s->serve[s->serve_head + s->serve_n++] = *r;
	return QIAO_OK;
}

static int
add_retry(node_sync *s, const uint8_t *author, uint64_t to)
{
	for (size_t i = 0; i < s->nretry; i++) {
		if (memcmp(s->retry[i].author, author, QIAO_KEY_LEN) == 0) {
			if (to > s->retry[i].to)
				s->retry[i].to = to;
			return QIAO_OK;
		}
	}
	if (s->nretry == s->capretry) {
		size_t cap = s->capretry ? 2 * s->capretry : 16;
		struct retry *v = realloc(s->retry, cap * sizeof(*v));

		if (v == NULL)
			return QIAO_ENOMEM;
		s->retry = v;
		s->capretry = cap;
	}
	memcpy(s->retry[s->nretry].author, author, QIAO_KEY_LEN);
	s->retry[s->nretry++].to = to;
	return QIAO_OK;
}

/* peer records */

int
node_sync_peer_get(node_txn *txn, const uint8_t key[QIAO_KEY_LEN],
    node_sync_peer *out)
{
	uint8_t k[1 + QIAO_KEY_LEN];
	const uint8_t *v;
	size_t len;
	node_sync_peer p;
	uint64_t role = 0;
	int rc;

	k[0] = 'P';
	memcpy(k + 1, key, QIAO_KEY_LEN);
	rc = node_store_get(txn, NODE_TB_PEERS, k, sizeof(k),
	    (const void **)&v, &len);
	if (rc != QIAO_OK)
		return rc;
	memset(&p, 0, sizeof(p));
	memcpy(p.key, key, QIAO_KEY_LEN);
	if (crdt_codec_check(v, len, NULL, NULL) != QIAO_OK ||
	    crdt_body_get_uint(v, len, "recv", &p.recv) != QIAO_OK ||
	    crdt_body_get_uint(v, len, "acked", &p.acked) != QIAO_OK ||
	    crdt_body_get_uint(v, len, "ok_ms", &p.ok_ms) != QIAO_OK ||
	    crdt_body_get_uint(v, len, "seen_ms", &p.seen_ms) != QIAO_OK ||
	    crdt_body_get_uint(v, len, "rejected", &p.rejected) != QIAO_OK ||
	    crdt_body_get_uint(v, len, "role", &role) != QIAO_OK ||
	    crdt_body_get_cstr(v, len, "region", p.region,
		sizeof(p.region)) != QIAO_OK ||
	    crdt_body_get_cstr(v, len, "url", p.url, sizeof(p.url)) != 0 ||
	    crdt_body_get_cstr(v, len, "error", p.error, sizeof(p.error)) !=
		QIAO_OK) {
		node_log(NODE_LOG_ERR, "sync", "a peer record is damaged");
		return QIAO_ESTORE;
	}
	p.role = role <= QIAO_ROLE_ROOT ? (enum qiao_role)role
					: QIAO_ROLE_NONE;
	*out = p;
	return QIAO_OK;
}

int
node_sync_peer_put(node_txn *txn, const node_sync_peer *p)
{
	uint8_t k[1 + QIAO_KEY_LEN];
	crdt_body b;
	uint8_t *v;
	size_t len;
	int rc;

	crdt_body_init(&b);
	crdt_body_uint(&b, "recv", p->recv);
	crdt_body_uint(&b, "acked", p->acked);
	crdt_body_uint(&b, "ok_ms", p->ok_ms);
	crdt_body_uint(&b, "seen_ms", p->seen_ms);
	crdt_body_uint(&b, "rejected", p->rejected);
	crdt_body_uint(&b, "role", (uint64_t)p->role);
	crdt_body_cstr(&b, "region", p->region);
	crdt_body_cstr(&b, "url", p->url);
	crdt_body_cstr(&b, "error", p->error);
	rc = crdt_body_finish(&b, &v, &len);
	crdt_body_fini(&b);
	if (rc != QIAO_OK)
		return rc;
	k[0] = 'P';
	memcpy(k + 1, p->key, QIAO_KEY_LEN);
	rc = node_store_put(txn, NODE_TB_PEERS, k, sizeof(k), v, len);
	free(v);
	return rc;
}

static int
peer_load(node_txn *txn, const uint8_t *key, node_sync_peer *p)
{
	int rc = node_sync_peer_get(txn, key, p);

	if (rc == QIAO_ENOTFOUND) {
		memset(p, 0, sizeof(*p));
		memcpy(p->key, key, QIAO_KEY_LEN);
		return QIAO_OK;
	}
	return rc;
}

int
node_sync_peer_note(node *n, const uint8_t key[QIAO_KEY_LEN],
    const char *url, const char *error)
{
	node_txn *txn;
	node_sync_peer p;
	int rc;

	if ((rc = node_store_txn_begin(node_get_store(n), true, &txn)) != 0)
		return rc;
	if ((rc = peer_load(txn, key, &p)) == QIAO_OK) {
		if (url != NULL)
			snprintf(p.url, sizeof(p.url), "%s", url);
		if (error != NULL)
			snprintf(p.error, sizeof(p.error), "%s", error);
		rc = node_sync_peer_put(txn, &p);
	}
	if (rc != QIAO_OK) {
		node_store_txn_abort(txn);
		return rc;
	}
	return node_store_txn_commit(txn);
}

struct peer_iter {
	node_sync_peer_fn fn;
	void *ctx;
	node_txn *txn;
};

static int
on_peer(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct peer_iter *it = ctx;
	node_sync_peer p;
	int rc;

	(void)val;
	(void)vlen;
	if (klen != 1 + QIAO_KEY_LEN)
		return 0;
	if ((rc = node_sync_peer_get(it->txn, (const uint8_t *)key + 1,
		 &p)) != QIAO_OK)
		return rc;
	return it->fn(it->ctx, &p);
}

int
node_sync_peer_each(node_txn *txn, node_sync_peer_fn fn, void *ctx)
{
	struct peer_iter it = { fn, ctx, txn };

	return node_store_scan(txn, NODE_TB_PEERS, "P", 1, on_peer, &it);
}

static int
has_key(const uint8_t *peer, const uint8_t *author, uint8_t k[65])
{
	k[0] = 'H';
	memcpy(k + 1, peer, QIAO_KEY_LEN);
	memcpy(k + 1 + QIAO_KEY_LEN, author, QIAO_KEY_LEN);
	return 1 + 2 * QIAO_KEY_LEN;
}

struct behind {
	node *n;
	node_txn *txn;
	const node_sync_peer *p;
	uint64_t they, we;
};

static int
on_behind(void *ctx, const uint8_t *key, const node_head *h)
{
	struct behind *b = ctx;
	node_trust_id id;
	uint8_t k[65];
	const uint8_t *v;
	size_t len;
	uint64_t has = 0;
	int rc;

	rc = node_trust_lookup(b->n, b->txn, key, &id);
	if (rc == QIAO_EUNKNOWN)
		return 0;
	if (rc != QIAO_OK)
		return rc;
	if (!node_sync_in_scope(b->p->region, id.region))
		return 0;
	has_key(b->p->key, key, k);
	rc = node_store_get(b->txn, NODE_TB_PEERS, k, sizeof(k),
	    (const void **)&v, &len);
	if (rc == QIAO_OK && len == 8)
		has = node_store_rd64(v);
	else if (rc != QIAO_OK && rc != QIAO_ENOTFOUND)
		return rc;
	if (h->seq > has)
		b->they += h->seq - has;
	return 0;
}

static int
on_ahead(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct behind *b = ctx;
	const uint8_t *author = (const uint8_t *)key + 1 + QIAO_KEY_LEN;
	node_head h;
	uint64_t mine = 0, has;
	int rc;

	if (klen != 1 + 2 * QIAO_KEY_LEN || vlen != 8)
		return 0;
	has = node_store_rd64(val);
	rc = node_store_head_get(b->txn, author, &h);
	if (rc == QIAO_OK)
		mine = h.seq;
	else if (rc != QIAO_ENOTFOUND)
		return rc;
	if (has > mine)
		b->we += has - mine;
	return 0;
}

int
node_sync_peer_behind(node *n, node_txn *txn, const node_sync_peer *p,
    uint64_t *they_lack, uint64_t *we_lack)
{
	struct behind b = { n, txn, p, 0, 0 };
	uint8_t prefix[1 + QIAO_KEY_LEN];
	int rc;

	prefix[0] = 'H';
	memcpy(prefix + 1, p->key, QIAO_KEY_LEN);
	if ((rc = node_store_heads_each(txn, on_behind, &b)) != QIAO_OK ||
	    (rc = node_store_scan(txn, NODE_TB_PEERS, prefix, sizeof(prefix),
		 on_ahead, &b)) != QIAO_OK)
		return rc;
	*they_lack = b.they;
	*we_lack = b.we;
	return QIAO_OK;
}

struct known {
	node_sync_head *v;
	size_t n, cap;
};

static int
on_known(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct known *k = ctx;

	if (klen != 1 + 2 * QIAO_KEY_LEN || vlen != 8)
		return 0;
	if (k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 16;
		node_sync_head *v = realloc(k->v, cap * sizeof(*v));

		if (v == NULL)
			return QIAO_ENOMEM;
		k->v = v;
		k->cap = cap;
	}
	memset(&k->v[k->n], 0, sizeof(k->v[k->n]));
	memcpy(k->v[k->n].author, (const uint8_t *)key + 1 + QIAO_KEY_LEN,
	    QIAO_KEY_LEN);
	k->v[k->n++].seq = node_store_rd64(val);
	return 0;
}

int
node_sync_peer_known(node_txn *txn, const uint8_t key[QIAO_KEY_LEN],
    node_sync_head **out, size_t *count)
{
	uint8_t prefix[1 + QIAO_KEY_LEN];
	struct known k = { 0 };
	int rc;

	prefix[0] = 'H';
	memcpy(prefix + 1, key, QIAO_KEY_LEN);
	rc = node_store_scan(txn, NODE_TB_PEERS, prefix, sizeof(prefix),
	    on_known, &k);
	if (rc != QIAO_OK) {
		free(k.v);
		return rc;
	}
	*out = k.v;
	*count = k.n;
	return QIAO_OK;
}

/* Saves the peer's record and what it is known to hold. */
static int
save_peer(node_sync *s)
{
	node_txn *txn;
	node_sync_peer p;
	int rc;

	if (!s->info.hello)
		return QIAO_OK;
	if ((rc = node_store_txn_begin(node_get_store(s->n), true, &txn)) != 0)
		return rc;
	if ((rc = peer_load(txn, s->info.peer, &p)) != QIAO_OK)
		goto fail;
	p.role = s->info.peer_role;
	snprintf(p.region, sizeof(p.region), "%s", s->info.peer_region);
	p.recv = s->recv_since;
	if (s->peer_synced_any && s->peer_synced > p.acked)
		p.acked = s->peer_synced;
	p.seen_ms = s->now;
	if (node_sync_in_sync(s)) {
		p.ok_ms = s->now;
		p.error[0] = '\0';
	}
	p.rejected = s->info.rejected + (s->info.blocked ? 1 : 0);
	if (s->info.blocked)
		snprintf(p.error, sizeof(p.error), "entries rejected: %.100s",
		    s->info.last_reject);
	if ((rc = node_sync_peer_put(txn, &p)) != QIAO_OK)
		goto fail;
	for (size_t i = 0; i < s->capauth; i++) {
		struct author *a = &s->authors[i];
		uint8_t k[65], v[8];

		if (!a->used || !a->dirty)
			continue;
		has_key(s->info.peer, a->key, k);
		node_store_be64(v, a->peer_has);
		if ((rc = node_store_put(txn, NODE_TB_PEERS, k, sizeof(k), v,
			 8)) != QIAO_OK)
			goto fail;
	}
	if ((rc = node_store_txn_commit(txn)) != QIAO_OK)
		return rc;
	for (size_t i = 0; i < s->capauth; i++)
		s->authors[i].dirty = false;
	s->dirty_peer = false;
	return QIAO_OK;
fail:
	node_store_txn_abort(txn);
	return rc;
}

/*
 * The peer record is bookkeeping: when the store is full it is kept in
 * memory (still dirty) and written at a later save, and the session goes
 * on serving. Any other store failure is the session's.
 */
static int
save_peer_soft(node_sync *s)
{
	int rc = save_peer(s);

	if (rc == QIAO_EFULL) {
		s->dirty_peer = true;
		return QIAO_OK;
	}
	return rc;
}

static int
note_peer_has(node_sync *s, const uint8_t *author, uint64_t seq)
{
	struct author *a;
	int rc;

	if ((rc = author_get(s, author, &a)) != QIAO_OK)
		return rc;
	if (seq > a->peer_has) {
		a->peer_has = seq;
		a->dirty = true;
		s->dirty_peer = true;
	}
	return QIAO_OK;
}

/* lifecycle */

int
node_sync_new(node_sync **out, node *n, const node_sync_opts *o)
{
	const qiao_conf *c = node_get_conf(n);
	node_sync *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return QIAO_ENOMEM;
	s->n = n;
	s->initiator = o->initiator;
	s->batch_bytes = o->batch_bytes ? o->batch_bytes : c->batch_bytes;
	s->window = o->window ? o->window : c->window;
	s->max_message = o->max_message ? o->max_message : c->max_message;
	if (s->batch_bytes == 0)
		s->batch_bytes = QIAO_NET_BATCH_BYTES;
	if (s->window == 0)
		s->window = QIAO_NET_WINDOW;
	if (s->max_message == 0)
		s->max_message = QIAO_NET_MAX_MESSAGE;
	s->zstd_level = o->zstd_level >= 0 ? o->zstd_level
					   : (c->compress ? ZSTD_LEVEL : 0);
	if (o->expect_peer != NULL) {
		s->has_expect = true;
		memcpy(s->expect, o->expect_peer, QIAO_KEY_LEN);
	}
	if (o->proven_peer != NULL) {
		s->has_proven = true;
		memcpy(s->proven, o->proven_peer, QIAO_KEY_LEN);
	}
	*out = s;
	return QIAO_OK;
}

void
node_sync_free(node_sync *s)
{
	if (s == NULL)
		return;
	if (s->info.hello && (s->dirty_peer || s->info.blocked))
		(void)save_peer(s);
	for (size_t i = 0; i < s->out_n; i++)
		free(s->out[s->out_head + i].buf);
	free(s->out);
	free(s->authors);
	free(s->ann);
	free(s->serve);
	free(s->retry);
	free(s);
}

const node_sync_info *
node_sync_get_info(const node_sync *s)
{
	return &s->info;
}

bool
node_sync_in_sync(const node_sync *s)
{
	return s->info.hello && s->info.local_done && s->info.peer_done &&
	    !s->info.blocked && !s->round_open && s->serve_n == 0;
}

int
node_sync_pop(node_sync *s, uint8_t **msg, size_t *len)
{
	if (s->out_n == 0 && s->ack_due) {
		crdt_writer w;
		int rc;

		crdt_writer_init(&w);
		node_syncwire_count(&w, NODE_SYNC_ACK, s->info.batches_in);
		if ((rc = push_out(s, &w)) != QIAO_OK)
			return rc;
		s->ack_due = false;
	}
	if (s->out_n == 0)
		return QIAO_ENOTFOUND;
	*msg = s->out[s->out_head].buf;
	*len = s->out[s->out_head].len;
	s->out_head++;
	s->out_n--;
	if (s->out_n == 0)
		s->out_head = 0;
	return QIAO_OK;
}

/* HELLO */

static int
send_hello(node_sync *s)
{
	const qiao_conf *c = node_get_conf(s->n);
	const uint8_t *self = node_self(s->n);
	node_sync_hello h;
	node_sync_peer p;
	node_txn *txn;
	crdt_writer w;
	const uint8_t *about = NULL;
	int rc;

	if (self == NULL)
		return QIAO_ENOTFOUND; /* a store without a key cannot sync */
	memset(&h, 0, sizeof(h));
	h.version = QIAO_SYNC_VERSION;
	memcpy(h.key, self, QIAO_KEY_LEN);
	h.role = (uint64_t)c->role;
	snprintf(h.region, sizeof(h.region), "%s", c->region);
	h.window = s->window;
	h.max_message = s->max_message;
	h.flags = QIAO_SYNC_FLAG_ZSTD;
	if (s->info.hello)
		about = s->info.peer;
	else if (s->has_expect)
		about = s->expect;
	if ((rc = node_store_txn_begin(node_get_store(s->n), false, &txn)) !=
	    QIAO_OK)
		return rc;
	rc = node_store_tick(txn, &h.tick);
	if (rc == QIAO_OK && about != NULL) {
		rc = node_sync_peer_get(txn, about, &p);
		if (rc == QIAO_OK) {
			h.has_since_key = true;
			memcpy(h.since_key, about, QIAO_KEY_LEN);
			h.since = p.recv;
		} else if (rc == QIAO_ENOTFOUND) {
			rc = QIAO_OK;
		}
	}
	node_store_txn_abort(txn);
	if (rc != QIAO_OK)
		return rc;
	s->recv_since = h.since;
	crdt_writer_init(&w);
	node_syncwire_hello(&w, &h);
	if ((rc = push_out(s, &w)) != QIAO_OK)
		return rc;
	s->hello_sent = true;
	return QIAO_OK;
}

int
node_sync_start(node_sync *s, uint64_t now_ms)
{
	s->now = now_ms;
	if (!s->initiator || s->hello_sent)
		return QIAO_ESTATE;
	return send_hello(s);
}

/* Heads of the authors changed after `after`, in the peer's scope and not
 * known to be held by it, issuers first. */
struct pick {
	node_sync *s;
	node_txn *txn;
	node_sync_head *v;
	int *rank;
	size_t n, cap;
	int err;
};

static int
pick_author(struct pick *p, const uint8_t *author)
{
	struct author *a;
	node_head h;
	bool yes;
	int rc;

	if ((rc = author_get(p->s, author, &a)) != QIAO_OK ||
	    (rc = peer_wants_author(p->s, p->txn, a, &yes)) != QIAO_OK)
		return rc;
	if (!yes)
		return 0;
	if ((rc = node_store_head_get(p->txn, author, &h)) == QIAO_ENOTFOUND)
		return 0;
	if (rc != QIAO_OK)
		return rc;
	if (a->peer_has >= h.seq)
		return 0; /* it has them: do not echo what it sent us */
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		node_sync_head *v = realloc(p->v, cap * sizeof(*v));
		int *r;

		if (v == NULL)
			return QIAO_ENOMEM;
		p->v = v;
		if ((r = realloc(p->rank, cap * sizeof(*r))) == NULL)
			return QIAO_ENOMEM;
		p->rank = r;
		p->cap = cap;
	}
	memcpy(p->v[p->n].author, author, QIAO_KEY_LEN);
	p->v[p->n].seq = h.seq;
	memcpy(p->v[p->n].hash, h.hash, QIAO_HASH_LEN);
	p->rank[p->n] = a->rank;
	p->n++;
	return 0;
}

static int
on_change(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	(void)key;
	if (klen != 8 || vlen != QIAO_KEY_LEN)
		return QIAO_ESTORE;
	return pick_author(ctx, val);
}

/* Issuers first, so enrolments arrive before what they enrol. */
static void
order_heads(node_sync_head *v, int *rank, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		node_sync_head h = v[i];
		int r = rank[i];
		size_t j = i;

		while (j > 0 && (rank[j - 1] < r ||
				    (rank[j - 1] == r &&
					memcmp(v[j - 1].author, h.author,
					    QIAO_KEY_LEN) > 0))) {
			v[j] = v[j - 1];
			rank[j] = rank[j - 1];
			j--;
		}
		v[j] = h;
		rank[j] = r;
	}
}

static int
remember_announced(node_sync *s, uint64_t upto, const node_sync_head *h)
{
	if (s->nann == s->capann) {
		size_t cap = s->capann ? 2 * s->capann : 64;
		struct announced *v = realloc(s->ann, cap * sizeof(*v));

		if (v == NULL)
			return QIAO_ENOMEM;
		s->ann = v;
		s->capann = cap;
	}
	s->ann[s->nann].upto = upto;
	memcpy(s->ann[s->nann].author, h->author, QIAO_KEY_LEN);
	s->ann[s->nann++].seq = h->seq;
	return QIAO_OK;
}

/* Sends HEADS of what changed after `after`; the first time even when
 * nothing did, so the peer can finish its round. */
static int
announce(node_sync *s, uint64_t after)
{
	struct pick p = { .s = s };
	uint8_t from[8];
	uint64_t upto;
	size_t off = 0;
	int rc;

	if ((rc = node_store_txn_begin(node_get_store(s->n), false, &p.txn)) !=
	    QIAO_OK)
		return rc;
	p.s = s;
	node_store_be64(from, after + 1);
	rc = node_store_tick(p.txn, &upto);
	if (rc == QIAO_OK) {
		/* The changes table keeps one row per author, at its latest
		 * tick: a scan from `after` costs the authors changed. */
		node_cursor *c;
		const void *k, *v;
		size_t kl, vl;

		rc = node_store_cursor_open(p.txn, NODE_TB_CHANGES, &c);
		if (rc == QIAO_OK) {
			for (rc = node_store_cursor_seek(c, from, 8, &k, &kl,
				 &v, &vl);
			     rc == QIAO_OK;
			     rc = node_store_cursor_next(c, &k, &kl, &v, &vl))
				if ((rc = on_change(&p, k, kl, v, vl)) != 0)
					break;
			node_store_cursor_close(c);
			if (rc == QIAO_ENOTFOUND)
				rc = QIAO_OK;
		}
	}
	node_store_txn_abort(p.txn);
	if (rc != QIAO_OK)
		goto out;
	s->scanned = upto;
	if (p.n == 0 && s->heads_sent)
		goto out;
	order_heads(p.v, p.rank, p.n);
	do {
		size_t n = p.n - off > QIAO_SYNC_HEADS_MAX ? QIAO_SYNC_HEADS_MAX
							    : p.n - off;
		crdt_writer w;

		crdt_writer_init(&w);
		/* p.v is NULL when there is nothing to announce: no offset
		 * on a null pointer (undefined behaviour). */
		node_syncwire_heads(&w, upto, off + n < p.n,
		    n > 0 ? p.v + off : NULL, n);
		if ((rc = push_out(s, &w)) != QIAO_OK)
			goto out;
		for (size_t i = off; i < off + n; i++)
			if ((rc = remember_announced(s, upto, &p.v[i])) != 0)
				goto out;
		off += n;
	} while (off < p.n);
	s->heads_sent = true;
	s->announced = upto;
	s->info.peer_done = false;
out:
	free(p.v);
	free(p.rank);
	return rc;
}

static int
fail_proto(node_sync *s, const char **why, const char *what)
{
	snprintf(s->err, sizeof(s->err), "%s", what);
	if (why != NULL)
		*why = s->err;
	return QIAO_EPROTO;
}

static int
on_hello(node_sync *s, const node_sync_hello *h, const char **why)
{
	const uint8_t *self = node_self(s->n);
	node_trust_id id;
	node_txn *txn;
	uint64_t since = 0;
	int rc;

	if (s->info.hello)
		return fail_proto(s, why, "a second HELLO");
	if (s->initiator != s->hello_sent)
		return fail_proto(s, why, "HELLO out of turn");
	if (h->version < 1)
		return fail_proto(s, why, "protocol version 0");
	if (self != NULL && memcmp(h->key, self, QIAO_KEY_LEN) == 0)
		return fail_proto(s, why, "the peer is this node itself");
	/* The link proved a key; a HELLO in another's name would have us
	 * scope and record the session for a station that is not there. */
	if (s->has_proven &&
	    sodium_memcmp(h->key, s->proven, QIAO_KEY_LEN) != 0) {
		snprintf(s->err, sizeof(s->err), "%s",
		    "the HELLO names a key other than the one the link "
		    "proved");
		if (why != NULL)
			*why = s->err;
		return QIAO_EUNAUTH;
	}
	if (h->window < 1 || h->window > 64 || h->max_message < (256 << 10))
		return fail_proto(s, why, "HELLO window or max_message out "
					  "of range");
	s->info.hello = true;
	memcpy(s->info.peer, h->key, QIAO_KEY_LEN);
	s->peer_window = h->window;
	s->peer_max = h->max_message;
	s->peer_zstd = (h->flags & QIAO_SYNC_FLAG_ZSTD) != 0;
	if (h->has_since_key && self != NULL &&
	    memcmp(h->since_key, self, QIAO_KEY_LEN) == 0)
		since = h->since;
	/* Its scope: what its certificate says, when we hold one. Over a
	 * link we always do (only enrolled keys, or the root, get one); the
	 * claim stands only for a file's author, whose entries are verified
	 * one by one all the same. */
	if ((rc = node_store_txn_begin(node_get_store(s->n), false, &txn)) !=
	    QIAO_OK)
		return rc;
	rc = node_trust_lookup(s->n, txn, h->key, &id);
	node_store_txn_abort(txn);
	if (rc == QIAO_OK) {
		s->info.peer_enrolled = true;
		s->info.peer_role = id.role;
		snprintf(s->info.peer_region, sizeof(s->info.peer_region),
		    "%s", id.region);
	} else if (rc == QIAO_EUNKNOWN) {
		s->info.peer_role = (enum qiao_role)h->role;
		snprintf(s->info.peer_region, sizeof(s->info.peer_region),
		    "%s", h->region);
	} else {
		return rc;
	}
	s->peer_since = since;
	if (!s->hello_sent && (rc = send_hello(s)) != QIAO_OK)
		return rc;
	if (s->has_expect && memcmp(s->expect, h->key, QIAO_KEY_LEN) != 0)
		s->recv_since = 0; /* our since was about another key */
	s->dirty_peer = true;
	return announce(s, since);
}

/* HEADS: what the peer holds; ask for what we lack. */
static int
send_wants(node_sync *s, node_sync_want *v, size_t n)
{
	size_t off = 0;
	int rc;

	while (off < n) {
		size_t k = n - off > QIAO_SYNC_WANTS_MAX ? QIAO_SYNC_WANTS_MAX
							  : n - off;
		crdt_writer w;

		crdt_writer_init(&w);
		node_syncwire_want(&w, v + off, k);
		if ((rc = push_out(s, &w)) != QIAO_OK)
			return rc;
		s->wants_out++;
		off += k;
	}
	return QIAO_OK;
}

static int check_round(node_sync *s);

static int
on_heads(node_sync *s, node_sync_msg *m, const char **why)
{
	node_sync_want *wants = NULL;
	size_t nw = 0;
	node_txn *txn;
	int rc;

	if (m->heads.upto < s->round_upto)
		return fail_proto(s, why, "HEADS tick went backwards");
	if (m->heads.n > 0 &&
	    (wants = calloc(m->heads.n, sizeof(*wants))) == NULL)
		return QIAO_ENOMEM;
	if ((rc = node_store_txn_begin(node_get_store(s->n), false, &txn)) !=
	    QIAO_OK) {
		free(wants);
		return rc;
	}
	for (size_t i = 0; i < m->heads.n && rc == QIAO_OK; i++) {
		const node_sync_head *h = &m->heads.v[i];
		node_sync_want *w = &wants[nw];
		node_head mine;
		crdt_entry e;

		rc = node_store_head_get(txn, h->author, &mine);
		if (rc == QIAO_ENOTFOUND) {
			node_trust_id id;

			memset(&mine, 0, sizeof(mine));
			/* An author we neither hold nor know of is asked for
			 * (it may be enrolled by what comes) but not
			 * remembered: a peer announcing made-up authors
			 * must not grow what the session keeps. */
			rc = node_trust_lookup(s->n, txn, h->author, &id);
			if (rc == QIAO_EUNKNOWN)
				rc = QIAO_OK;
			else if (rc == QIAO_OK)
				rc = note_peer_has(s, h->author, h->seq);
		} else if (rc == QIAO_OK) {
			rc = note_peer_has(s, h->author, h->seq);
		}
		if (rc != QIAO_OK)
			break;
		if (mine.flags & NODE_HEAD_FORKED)
			continue; /* frozen: people decide */
		memcpy(w->author, h->author, QIAO_KEY_LEN);
		if (h->seq > mine.seq) {
			w->from = mine.seq + 1;
			w->to = h->seq;
			nw++;
		} else if (h->seq == mine.seq) {
			if (memcmp(h->hash, mine.hash, QIAO_HASH_LEN) != 0) {
				/* A fork: fetch its entry as proof. */
				w->from = w->to = h->seq;
				w->explicit_prev = true;
				nw++;
			}
		} else {
			rc = node_store_entry_get(txn, h->author, h->seq, &e);
			if (rc == QIAO_ENOTFOUND) {
				rc = QIAO_OK;
				continue;
			}
			if (rc == QIAO_OK &&
			    memcmp(e.hash, h->hash, QIAO_HASH_LEN) != 0) {
				w->from = w->to = h->seq;
				w->explicit_prev = true;
				nw++;
			}
		}
	}
	node_store_txn_abort(txn);
	if (rc == QIAO_OK && nw > 0)
		rc = send_wants(s, wants, nw);
	free(wants);
	if (rc != QIAO_OK)
		return rc;
	s->info.local_done = false;
	s->heads_partial = m->heads.more;
	if (!m->heads.more) {
		s->round_open = true;
		s->round_upto = m->heads.upto;
	}
	return check_round(s);
}

/* Ends a round when every WANT was served: retries what was rejected for
 * a missing issuer, else stores the new `since` and tells the peer. */
static int
check_round(node_sync *s)
{
	crdt_writer w;
	int rc;

	if (!s->round_open || s->heads_partial || s->wants_done < s->wants_out)
		return QIAO_OK;
	if (s->nretry > 0) {
		node_sync_want *v;
		node_txn *txn;
		size_t nw = 0;

		if (s->info.stored == s->stored_at_retry ||
		    s->retry_rounds >= RETRY_ROUNDS_MAX) {
			s->info.blocked = true;
			s->round_open = false;
			return save_peer_soft(s);
		}
		s->stored_at_retry = s->info.stored;
		s->retry_rounds++;
		if ((v = calloc(s->nretry, sizeof(*v))) == NULL)
			return QIAO_ENOMEM;
		if ((rc = node_store_txn_begin(node_get_store(s->n), false,
			 &txn)) != QIAO_OK) {
			free(v);
			return rc;
		}
		for (size_t i = 0; rc == QIAO_OK && i < s->nretry; i++) {
			node_head h;

			rc = node_store_head_get(txn, s->retry[i].author, &h);
			if (rc == QIAO_ENOTFOUND) {
				h.seq = 0;
				rc = QIAO_OK;
			}
			if (rc == QIAO_OK && s->retry[i].to > h.seq) {
				memcpy(v[nw].author, s->retry[i].author,
				    QIAO_KEY_LEN);
				v[nw].from = h.seq + 1;
				v[nw++].to = s->retry[i].to;
			}
		}
		node_store_txn_abort(txn);
		s->nretry = 0;
		if (rc == QIAO_OK && nw > 0)
			rc = send_wants(s, v, nw);
		free(v);
		if (rc != QIAO_OK || nw > 0)
			return rc;
	}
	s->round_open = false;
	s->retry_rounds = 0;
	s->info.blocked = false;
	s->recv_since = s->round_upto;
	s->info.local_done = true;
	crdt_writer_init(&w);
	node_syncwire_count(&w, NODE_SYNC_SYNCED, s->round_upto);
	if ((rc = push_out(s, &w)) != QIAO_OK)
		return rc;
	s->dirty_peer = true;
	return save_peer_soft(s);
}

/* WANT: queue the ranges in the peer's scope, then a DONE mark. */
static int serve_pump(node_sync *s);

static int
on_want(node_sync *s, node_sync_msg *m)
{
	struct range r;
	node_txn *txn;
	int rc;

	if ((rc = node_store_txn_begin(node_get_store(s->n), false, &txn)) !=
	    QIAO_OK)
		return rc;
	for (size_t i = 0; i < m->want.n && rc == QIAO_OK; i++) {
		const node_sync_want *w = &m->want.v[i];
		struct author *a;
		node_head h;
		bool yes;

		/* Nothing to serve of an author we do not hold; and nothing
		 * to remember of it (see on_heads). */
		if ((rc = node_store_head_get(txn, w->author, &h)) ==
		    QIAO_ENOTFOUND) {
			rc = QIAO_OK;
			continue;
		}
		if (rc != QIAO_OK ||
		    (rc = author_get(s, w->author, &a)) != QIAO_OK ||
		    (rc = peer_wants_author(s, txn, a, &yes)) != QIAO_OK)
			break;
		if (!yes)
			continue;
		memset(&r, 0, sizeof(r));
		memcpy(r.author, w->author, QIAO_KEY_LEN);
		r.next = w->from;
		r.to = w->to;
		r.explicit_prev = w->explicit_prev;
		rc = push_serve(s, &r);
	}
	node_store_txn_abort(txn);
	if (rc != QIAO_OK)
		return rc;
	memset(&r, 0, sizeof(r));
	r.done_mark = true;
	r.want_no = ++s->wants_in;
	if ((rc = push_serve(s, &r)) != QIAO_OK)
		return rc;
	return serve_pump(s);
}

/* Builds one batch from the head of the serve queue. */
static int
build_batch(node_sync *s, node_txn *txn, node_syncwire_batch *b,
    size_t limit)
{
	int rc = QIAO_OK;

	while (s->serve_n > 0) {
		struct range *r = &s->serve[s->serve_head];
		node_head h;

		if (r->done_mark)
			break;
		rc = node_store_head_get(txn, r->author, &h);
		if (rc == QIAO_ENOTFOUND) {
			h.seq = 0;
			rc = QIAO_OK;
		}
		if (rc != QIAO_OK)
			return rc;
		if (r->to > h.seq)
			r->to = h.seq;
		while (r->next <= r->to) {
			const uint8_t *body;
			size_t blen;
			crdt_entry e;

			if (b->entries > 0 &&
			    node_syncwire_batch_size(b) >= limit)
				return QIAO_OK;
			rc = node_store_entry_get(txn, r->author, r->next, &e);
			if (rc == QIAO_OK)
				rc = node_store_body_get(txn, e.body_hash,
				    &body, &blen);
			if (rc == QIAO_ENOTFOUND) {
				r->next = r->to + 1; /* cut or no body */
				rc = QIAO_OK;
				break;
			}
			if (rc != QIAO_OK)
				return rc;
			/* Past a body that would overflow the limit, the
			 * next batch takes it. */
			if (b->entries > 0 &&
			    node_syncwire_batch_size(b) + blen + 100 > limit)
				return QIAO_OK;
			if ((rc = node_syncwire_batch_add(b, &e, body, blen,
				 r->explicit_prev)) != QIAO_OK)
				return rc;
			r->next++;
		}
		s->serve_head++;
		s->serve_n--;
	}
	return rc;
}

static int
serve_pump(node_sync *s)
{
	size_t limit = s->batch_bytes;
	uint64_t window = s->window < s->peer_window ? s->window
						      : s->peer_window;
	int rc = QIAO_OK;

	/* What the peer can receive, less framing and a zstd margin. */
	if (limit + (8 << 10) > s->peer_max)
		limit = s->peer_max - (8 << 10);
	while (s->serve_n > 0) {
		struct range *r = &s->serve[s->serve_head];
		node_syncwire_batch b;
		node_txn *txn;
		crdt_writer w;
		size_t entries;

		if (r->done_mark) {
			crdt_writer_init(&w);
			node_syncwire_count(&w, NODE_SYNC_DONE, r->want_no);
			if ((rc = push_out(s, &w)) != QIAO_OK)
				return rc;
			s->serve_head++;
			if (--s->serve_n == 0)
				s->serve_head = 0;
			continue;
		}
		if (s->info.batches_out - s->acked >= window)
			break;
		if ((rc = node_store_txn_begin(node_get_store(s->n), false,
			 &txn)) != QIAO_OK)
			return rc;
		node_syncwire_batch_init(&b);
		rc = build_batch(s, txn, &b, limit);
		entries = b.entries;
		crdt_writer_init(&w);
		if (rc == QIAO_OK && entries > 0)
			rc = node_syncwire_batch_finish(&b,
			    s->peer_zstd ? s->zstd_level : 0, &w);
		node_syncwire_batch_fini(&b);
		node_store_txn_abort(txn);
		if (rc == QIAO_OK && entries > 0) {
			rc = push_out(s, &w);
			s->info.batches_out++;
			s->info.entries_out += entries;
		} else {
			crdt_writer_fini(&w);
		}
		if (rc != QIAO_OK)
			return rc;
		if (s->serve_n == 0)
			s->serve_head = 0;
	}
	return rc;
}

static void
describe_reject(node_sync *s, const node_ingest_item *it)
{
	char what[120], hex[2 * QIAO_KEY_LEN + 1];

	node_ingest_describe(it, what, sizeof(what));
	crdt_hex_encode(hex, it->e.author, QIAO_KEY_LEN);
	snprintf(s->info.last_reject, sizeof(s->info.last_reject),
	    "author %.16s seq %llu: %s", hex,
	    (unsigned long long)it->e.seq, what);
}

static int
on_batch(node_sync *s, node_sync_msg *m, const char **why)
{
	node_syncwire_items items;
	node_ingest_stats st;
	node_txn *txn;
	size_t rejected = 0;
	int rc;

	if ((rc = node_store_txn_begin(node_get_store(s->n), false, &txn)) !=
	    QIAO_OK)
		return rc;
	rc = node_syncwire_batch_decode(txn, m->batch.codec, m->batch.payload,
	    m->batch.len, s->max_message, &items, why);
	node_store_txn_abort(txn);
	if (rc == QIAO_EMALFORMED || rc == QIAO_ETOOBIG)
		return rc;
	if (rc != QIAO_OK)
		return rc;
	s->info.batches_in++;
	s->ack_due = true;
	if (items.n > 0 &&
	    (rc = node_ingest(s->n, items.v, items.n, &st)) == QIAO_EFULL) {
		/* Nothing of the batch was stored. The session goes on (we
		 * still serve reads and send); the entries wait, asked for
		 * again every FULL_RETRY_MS until there is room. */
		s->full_at = s->now;
		s->info.full = true;
		snprintf(s->info.last_reject, sizeof(s->info.last_reject),
		    "store or disk full: %zu entries wait", items.n);
		if (!s->full_logged) {
			char hex[2 * QIAO_KEY_LEN + 1];

			crdt_hex_encode(hex, s->info.peer, QIAO_KEY_LEN);
			node_log(NODE_LOG_WARN, "sync", "peer %.16s: store or "
			    "disk full; its entries wait until there is "
			    "room", hex);
			s->full_logged = true;
		}
		rc = QIAO_OK;
		for (size_t i = 0; rc == QIAO_OK && i < items.n; i++)
			rc = add_retry(s, items.v[i].e.author,
			    items.v[i].e.seq);
		for (size_t i = 0; rc == QIAO_OK && i < items.ngap; i++)
			rc = add_retry(s, items.gapv[i].author,
			    items.gapv[i].to);
		node_syncwire_items_fini(&items);
		return rc;
	}
	if (rc != QIAO_OK) {
		node_syncwire_items_fini(&items);
		return rc;
	}
	if (items.n > 0 && s->info.full) {
		s->info.full = false; /* room again */
		s->full_logged = false;
	}
	for (size_t i = 0; rc == QIAO_OK && i < items.n; i++) {
		const node_ingest_item *it = &items.v[i];

		if (it->rc == QIAO_OK || it->rc == QIAO_EDUP) {
			if (it->rc == QIAO_OK)
				s->info.stored++;
			else
				s->info.duplicate++;
			rc = note_peer_has(s, it->e.author, it->e.seq);
		} else if (node_syncwire_retryable(it->rc)) {
			rc = add_retry(s, it->e.author, it->e.seq);
			describe_reject(s, it);
		} else {
			/* Kept out for good (a bad signature, a fork, a
			 * revoked key): said once per batch below. */
			s->info.rejected++;
			rejected++;
			describe_reject(s, it);
		}
	}
	for (size_t i = 0; rc == QIAO_OK && i < items.ngap; i++)
		rc = add_retry(s, items.gapv[i].author, items.gapv[i].to);
	s->info.gaps += items.gaps;
	node_syncwire_items_fini(&items);
	if (rejected > 0) {
		char hex[2 * QIAO_KEY_LEN + 1];

		crdt_hex_encode(hex, s->info.peer, QIAO_KEY_LEN);
		node_log(NODE_LOG_WARN, "sync", "peer %.16s: %zu entries "
						"rejected; last: %s",
		    hex, rejected, s->info.last_reject);
	}
	return rc;
}

static int
on_synced(node_sync *s, uint64_t upto, const char **why)
{
	size_t kept = 0;
	int rc = QIAO_OK;

	if (upto > s->announced)
		return fail_proto(s, why, "SYNCED beyond what we announced");
	s->peer_synced = upto;
	s->peer_synced_any = true;
	for (size_t i = 0; i < s->nann; i++) {
		if (s->ann[i].upto <= upto) {
			if (rc == QIAO_OK)
				rc = note_peer_has(s, s->ann[i].author,
				    s->ann[i].seq);
		} else {
			s->ann[kept++] = s->ann[i];
		}
	}
	s->nann = kept;
	if (rc != QIAO_OK)
		return rc;
	s->info.peer_done = upto == s->announced;
	s->dirty_peer = true;
	return save_peer_soft(s);
}

int
node_sync_recv(node_sync *s, const uint8_t *buf, size_t len,
    uint64_t now_ms, const char **why)
{
	node_sync_msg m;
	int rc;

	s->now = now_ms;
	s->info.bytes_in += len;
	if (why != NULL)
		*why = NULL;
	if ((rc = node_syncwire_decode(&m, buf, len, why)) != QIAO_OK) {
		node_syncwire_msg_fini(&m);
		return rc;
	}
	if (m.type != NODE_SYNC_HELLO && m.type != NODE_SYNC_BYE &&
	    !s->info.hello) {
		node_syncwire_msg_fini(&m);
		return fail_proto(s, why, "a message before HELLO");
	}
	switch (m.type) {
	case NODE_SYNC_HELLO:
		rc = on_hello(s, &m.hello, why);
		break;
	case NODE_SYNC_HEADS:
		rc = on_heads(s, &m, why);
		break;
	case NODE_SYNC_WANT:
		rc = on_want(s, &m);
		break;
	case NODE_SYNC_BATCH:
		rc = on_batch(s, &m, why);
		break;
	case NODE_SYNC_DONE:
		if (m.n != s->wants_done + 1 || m.n > s->wants_out) {
			rc = fail_proto(s, why, "DONE out of order");
			break;
		}
		s->wants_done = m.n;
		rc = check_round(s);
		break;
	case NODE_SYNC_ACK:
		if (m.n < s->acked || m.n > s->info.batches_out) {
			rc = fail_proto(s, why, "ACK of batches never sent");
			break;
		}
		s->acked = m.n;
		rc = serve_pump(s);
		break;
	case NODE_SYNC_SYNCED:
		rc = on_synced(s, m.n, why);
		break;
	case NODE_SYNC_BYE:
		snprintf(s->err, sizeof(s->err), "the peer said goodbye: %.100s",
		    m.bye.reason);
		if (why != NULL)
			*why = s->err;
		rc = QIAO_ECLOSED;
		break;
	default:
		rc = fail_proto(s, why, "unexpected message");
	}
	node_syncwire_msg_fini(&m);
	return rc;
}

int
node_sync_poll(node_sync *s, uint64_t now_ms, uint64_t tick)
{
	int rc;

	s->now = now_ms;
	if (!s->info.hello || !s->heads_sent)
		return QIAO_OK;
	if (tick > s->scanned && (rc = announce(s, s->scanned)) != QIAO_OK)
		return rc;
	/* Entries rejected for a missing issuer: once something new is
	 * stored, ask again. */
	if (s->info.blocked && s->nretry > 0 &&
	    (tick != s->tick_at_retry ||
		(s->info.full && now_ms >= s->full_at + FULL_RETRY_MS)) &&
	    s->wants_done == s->wants_out && !s->round_open) {
		s->full_at = now_ms;
		s->tick_at_retry = tick;
		s->stored_at_retry = s->info.stored - 1; /* allow one pass */
		s->retry_rounds = 0;
		s->round_open = true;
		return check_round(s);
	}
	return QIAO_OK;
}

/* digest and lists */

struct lister {
	node *n;
	node_txn *txn;
	const char *region;
	node_sync_head *v;
	int *rank;
	size_t n_, cap;
};

static int
on_list(void *ctx, const uint8_t *key, const node_head *h)
{
	struct lister *l = ctx;
	node_trust_id id;
	int rc;

	rc = node_trust_lookup(l->n, l->txn, key, &id);
	if (rc == QIAO_EUNKNOWN)
		return 0;
	if (rc != QIAO_OK)
		return rc;
	if (l->region != NULL && !node_sync_in_scope(l->region, id.region))
		return 0;
	if (l->n_ == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		node_sync_head *v = realloc(l->v, cap * sizeof(*v));
		int *r;

		if (v == NULL)
			return QIAO_ENOMEM;
		l->v = v;
		if ((r = realloc(l->rank, cap * sizeof(*r))) == NULL)
			return QIAO_ENOMEM;
		l->rank = r;
		l->cap = cap;
	}
	memcpy(l->v[l->n_].author, key, QIAO_KEY_LEN);
	l->v[l->n_].seq = h->seq;
	memcpy(l->v[l->n_].hash, h->hash, QIAO_HASH_LEN);
	l->rank[l->n_++] = rank_of(id.role);
	return 0;
}

static int
list_heads(node *n, node_txn *txn, const char *region, struct lister *l)
{
	memset(l, 0, sizeof(*l));
	l->n = n;
	l->txn = txn;
	l->region = region;
	return node_store_heads_each(txn, on_list, l);
}

int
node_sync_heads_list(node *n, node_txn *txn, const char *region,
    node_sync_head **out, size_t *count)
{
	struct lister l;
	int rc = list_heads(n, txn, region, &l);

	if (rc != QIAO_OK) {
		free(l.v);
		free(l.rank);
		return rc;
	}
	order_heads(l.v, l.rank, l.n_);
	free(l.rank);
	*out = l.v;
	*count = l.n_;
	return QIAO_OK;
}

int
node_sync_scope_digest(node *n, const char *region,
    uint8_t out[QIAO_HASH_LEN], uint64_t *authors, uint64_t *entries)
{
	crypto_generichash_state st;
	struct lister l;
	node_txn *txn;
	uint64_t total = 0;
	int rc;

	if ((rc = node_store_txn_begin(node_get_store(n), false, &txn)) != 0)
		return rc;
	rc = list_heads(n, txn, region, &l);
	node_store_txn_abort(txn);
	if (rc != QIAO_OK) {
		free(l.v);
		free(l.rank);
		return rc;
	}
	/* Heads are scanned in key order: the same on every node. */
	crypto_generichash_init(&st, NULL, 0, QIAO_HASH_LEN);
	for (size_t i = 0; i < l.n_; i++) {
		uint8_t seq[8];

		node_store_be64(seq, l.v[i].seq);
		crypto_generichash_update(&st, l.v[i].author, QIAO_KEY_LEN);
		crypto_generichash_update(&st, seq, 8);
		crypto_generichash_update(&st, l.v[i].hash, QIAO_HASH_LEN);
		total += l.v[i].seq;
	}
	crypto_generichash_final(&st, out, QIAO_HASH_LEN);
	if (authors != NULL)
		*authors = l.n_;
	if (entries != NULL)
		*entries = total;
	free(l.v);
	free(l.rank);
	return QIAO_OK;
}
