/*
 * Sync sessions wired to each other in memory: no sockets, the same state
 * machine the daemon runs over nng. A district (the trust root), a town it
 * enrolled and villages the town enrolled.
 */
#include "check.h"

#include <zstd.h>

#include "nodes.h"
#include "node/ingest.h"
#include "node/syncwire.h"

struct world {
	node *d, *t, *v1, *v2;
	char dir[256];
};

struct link {
	node_sync *a, *b; /* a dials */
	node *na, *nb;
	size_t msgs, bytes, batches;
	size_t cut_after; /* drop the link after this many messages; 0: no */
	int rc;
	const char *why;
};

/* Moves messages both ways until nothing moves. */
static int
pump(struct link *l)
{
	bool moved = true;

	while (moved) {
		moved = false;
		for (int side = 0; side < 2; side++) {
			node_sync *from = side ? l->b : l->a;
			node_sync *to = side ? l->a : l->b;
			node *nfrom = side ? l->nb : l->na;
			uint8_t *m;
			size_t len;

			if ((l->rc = node_sync_poll(from, 1000,
				 tn_tick(nfrom))) != QIAO_OK)
				return l->rc;
			while (node_sync_pop(from, &m, &len) == QIAO_OK) {
				if (l->cut_after && l->msgs >= l->cut_after) {
					free(m);
					return QIAO_ECLOSED;
				}
				l->msgs++;
				l->bytes += len;
				if (len > 1 && m[1] == NODE_SYNC_BATCH)
					l->batches++;
				l->rc = node_sync_recv(to, m, len, 1000,
				    &l->why);
				free(m);
				if (l->rc != QIAO_OK)
					return l->rc;
				moved = true;
			}
		}
	}
	return QIAO_OK;
}

static int
link_open(struct link *l, node *dialer, node *listener,
    const node_sync_opts *o)
{
	node_sync_opts def = { .zstd_level = -1 };
	node_sync_opts a, b;
	int rc;

	memset(l, 0, sizeof(*l));
	a = b = o != NULL ? *o : def;
	a.initiator = true;
	b.initiator = false;
	l->na = dialer;
	l->nb = listener;
	if ((rc = node_sync_new(&l->a, dialer, &a)) != QIAO_OK ||
	    (rc = node_sync_new(&l->b, listener, &b)) != QIAO_OK ||
	    (rc = node_sync_start(l->a, 1000)) != QIAO_OK)
		return rc;
	return pump(l);
}

static void
link_close(struct link *l)
{
	node_sync_free(l->a);
	node_sync_free(l->b);
	l->a = l->b = NULL;
}

static bool
world_make(struct world *w)
{
	const char *base = check_tmpdir();
	struct link l;
	char p[300];

	memset(w, 0, sizeof(*w));
	if (base == NULL)
		return false;
	snprintf(w->dir, sizeof(w->dir), "%s", base);
	snprintf(p, sizeof(p), "%s/d", base);
	if ((w->d = tn_make(p, QIAO_ROLE_DISTRICT, "500116", NULL)) == NULL)
		return false;
	snprintf(p, sizeof(p), "%s/t", base);
	w->t = tn_make(p, QIAO_ROLE_TOWN, "500116001", node_self(w->d));
	snprintf(p, sizeof(p), "%s/v1", base);
	w->v1 = tn_make(p, QIAO_ROLE_VILLAGE, "500116001001",
	    node_self(w->d));
	snprintf(p, sizeof(p), "%s/v2", base);
	w->v2 = tn_make(p, QIAO_ROLE_VILLAGE, "500116001002",
	    node_self(w->d));
	if (w->t == NULL || w->v1 == NULL || w->v2 == NULL)
		return false;
	if (tn_enrol(w->d, w->t, QIAO_ROLE_TOWN, "500116001") != 0 ||
	    tn_enrol(w->t, w->v1, QIAO_ROLE_VILLAGE, "500116001001") != 0 ||
	    tn_enrol(w->t, w->v2, QIAO_ROLE_VILLAGE, "500116001002") != 0)
		return false;
	/* The town holds the district's log (and so the certificates its
	 * villages need to accept the town's entries) from the start. */
	if (link_open(&l, w->t, w->d, NULL) != QIAO_OK ||
	    !node_sync_in_sync(l.a)) {
		link_close(&l);
		return false;
	}
	link_close(&l);
	return true;
}

static void
world_free(struct world *w)
{
	node_close(w->d);
	node_close(w->t);
	node_close(w->v1);
	node_close(w->v2);
}

static void
t_village_town_both_ways(void)
{
	struct world w;
	struct link l;

	REQUIRE(world_make(&w));
	REQUIRE_RC(tn_notes(w.v1, 20, 120), QIAO_OK);
	REQUIRE_RC(tn_notes(w.t, 3, 120), QIAO_OK);
	REQUIRE_RC(tn_notes(w.d, 2, 120), QIAO_OK);
	CHECK_RC(link_open(&l, w.v1, w.t, NULL), QIAO_OK);
	CHECK(node_sync_in_sync(l.a));
	CHECK(node_sync_in_sync(l.b));
	/* The village now holds the district's log as the town had it (with
	 * the town's certificate) and the town's; the town the village's. */
	CHECK(tn_seq(w.t, node_self(w.v1)) == 20);
	CHECK(tn_seq(w.v1, node_self(w.t)) == 5);
	CHECK(tn_seq(w.v1, node_self(w.d)) == 1);
	CHECK(node_sync_get_info(l.a)->rejected == 0);
	link_close(&l);
	/* The town passes the village's log up, the district's news down. */
	CHECK_RC(link_open(&l, w.t, w.d, NULL), QIAO_OK);
	CHECK(node_sync_in_sync(l.a));
	CHECK(tn_seq(w.t, node_self(w.d)) == 3);
	CHECK(tn_seq(w.d, node_self(w.v1)) == 20);
	CHECK(tn_seq(w.d, node_self(w.t)) == 5);
	link_close(&l);
	CHECK_RC(link_open(&l, w.v1, w.t, NULL), QIAO_OK);
	CHECK(tn_seq(w.v1, node_self(w.d)) == 3);
	link_close(&l);
	CHECK(tn_same_scope(w.v1, w.t, "500116001001"));
	CHECK(tn_same_scope(w.v1, w.d, "500116001001"));
	CHECK(tn_same_scope(w.t, w.d, "500116001"));
	world_free(&w);
}

static void
t_scope_keeps_siblings_apart(void)
{
	struct world w;
	struct link l;

	REQUIRE(world_make(&w));
	REQUIRE_RC(tn_notes(w.v1, 4, 50), QIAO_OK);
	REQUIRE_RC(tn_notes(w.v2, 6, 50), QIAO_OK);
	CHECK_RC(link_open(&l, w.v2, w.t, NULL), QIAO_OK);
	link_close(&l);
	CHECK_RC(link_open(&l, w.v1, w.t, NULL), QIAO_OK);
	link_close(&l);
	CHECK(tn_seq(w.t, node_self(w.v2)) == 6);
	CHECK(tn_seq(w.t, node_self(w.v1)) == 4);
	/* A village holds its own, its town's and the district's logs, not
	 * its neighbour's. */
	CHECK(tn_seq(w.v1, node_self(w.v2)) == 0);
	CHECK(tn_seq(w.v2, node_self(w.v1)) == 0);
	CHECK(tn_same_scope(w.v1, w.t, "500116001001"));
	CHECK(tn_same_scope(w.v2, w.t, "500116001002"));
	CHECK(!tn_same_scope(w.v1, w.t, "500116001"));
	CHECK(node_sync_in_scope("500116001001", "500116"));
	CHECK(node_sync_in_scope("500116001001", ""));
	CHECK(node_sync_in_scope("500116", "500116001002"));
	CHECK(!node_sync_in_scope("500116001001", "500116001002"));
	CHECK(!node_sync_in_scope("500116001", "500116002"));
	world_free(&w);
}

/* The second session exchanges heads only of authors changed since the
 * first, so its cost does not grow with what both already hold. */
static void
t_incremental_is_small(void)
{
	struct world w;
	struct link l;
	size_t first, second;

	REQUIRE(world_make(&w));
	REQUIRE_RC(tn_notes(w.v1, 300, 200), QIAO_OK);
	CHECK_RC(link_open(&l, w.v1, w.t, NULL), QIAO_OK);
	first = l.bytes;
	link_close(&l);
	REQUIRE_RC(tn_notes(w.v1, 2, 200), QIAO_OK);
	CHECK_RC(link_open(&l, w.v1, w.t, NULL), QIAO_OK);
	second = l.bytes;
	CHECK(node_sync_in_sync(l.a));
	CHECK(node_sync_get_info(l.a)->entries_out == 2);
	CHECK(node_sync_get_info(l.b)->entries_out == 0);
	CHECK(node_sync_get_info(l.b)->duplicate == 0);
	link_close(&l);
	CHECK(tn_seq(w.t, node_self(w.v1)) == 302);
	CHECK(second < 1200);
	CHECK(first > 300 * 64); /* signatures do not compress */
	/* Nothing new: a handful of bytes. */
	CHECK_RC(link_open(&l, w.v1, w.t, NULL), QIAO_OK);
	CHECK(node_sync_in_sync(l.a));
	CHECK(l.bytes < 400);
	link_close(&l);
	world_free(&w);
}

/* Derivable fields stay off the wire: a batch costs the body, the
 * signature and a few bytes per entry, less than the stored entry. */
static void
t_batches_leave_out_derivable_fields(void)
{
	struct world w;
	struct link l;
	node_sync_opts o = { .zstd_level = 0 };
	const node_sync_info *in;
	size_t per;

	REQUIRE(world_make(&w));
	REQUIRE_RC(tn_notes(w.v1, 500, 240), QIAO_OK);
	CHECK_RC(link_open(&l, w.v1, w.t, &o), QIAO_OK);
	in = node_sync_get_info(l.a);
	REQUIRE(in->entries_out == 500);
	/* body ~246 bytes + 64 signature; the stored header alone is ~130 */
	per = (size_t)(l.bytes / 500);
	CHECK(per < 246 + 64 + 24);
	CHECK(l.batches >= 1);
	link_close(&l);
	CHECK(tn_seq(w.t, node_self(w.v1)) == 500);
	world_free(&w);
}

static void
t_window_bounds_batches_in_flight(void)
{
	struct world w;
	struct link l;
	node_sync_opts o = { .zstd_level = -1, .batch_bytes = 4096,
		.window = 2 };

	REQUIRE(world_make(&w));
	REQUIRE_RC(tn_notes(w.v1, 400, 200), QIAO_OK);
	CHECK_RC(link_open(&l, w.v1, w.t, &o), QIAO_OK);
	CHECK(tn_seq(w.t, node_self(w.v1)) == 400);
	CHECK(node_sync_get_info(l.a)->batches_out > 10);
	link_close(&l);
	world_free(&w);
}

/* A link cut mid-stream: what arrived stays, the next session asks only
 * for the rest, nothing is stored twice. */
static void
t_resume_after_cut(void)
{
	struct world w;
	struct link l;
	node_sync_opts o = { .zstd_level = -1, .batch_bytes = 8192,
		.window = 2 };
	uint64_t got, dup = 0, stored = 0;

	REQUIRE(world_make(&w));
	REQUIRE_RC(tn_notes(w.v1, 600, 200), QIAO_OK);
	memset(&l, 0, sizeof(l));
	REQUIRE_RC(node_sync_new(&l.a, w.v1, &(node_sync_opts) {
		.initiator = true, .zstd_level = -1, .batch_bytes = 8192,
		.window = 2 }), QIAO_OK);
	REQUIRE_RC(node_sync_new(&l.b, w.t, &o), QIAO_OK);
	l.na = w.v1;
	l.nb = w.t;
	l.cut_after = 12;
	REQUIRE_RC(node_sync_start(l.a, 1000), QIAO_OK);
	CHECK_RC(pump(&l), QIAO_ECLOSED);
	stored += node_sync_get_info(l.b)->stored;
	link_close(&l);
	got = tn_seq(w.t, node_self(w.v1));
	CHECK(got > 0 && got < 600);
	CHECK_RC(link_open(&l, w.v1, w.t, &o), QIAO_OK);
	CHECK(node_sync_in_sync(l.a));
	dup += node_sync_get_info(l.b)->duplicate;
	stored += node_sync_get_info(l.b)->stored;
	CHECK(node_sync_get_info(l.a)->entries_out == 600 - got);
	link_close(&l);
	CHECK(tn_seq(w.t, node_self(w.v1)) == 600);
	CHECK(dup == 0);
	CHECK(stored == 600);
	world_free(&w);
}

/* Live: entries written while a session is open are announced and sent. */
static void
t_live_push(void)
{
	struct world w;
	struct link l;

	REQUIRE(world_make(&w));
	CHECK_RC(link_open(&l, w.v1, w.t, NULL), QIAO_OK);
	CHECK(node_sync_in_sync(l.a));
	REQUIRE_RC(tn_notes(w.v1, 7, 80), QIAO_OK);
	CHECK_RC(pump(&l), QIAO_OK);
	CHECK(tn_seq(w.t, node_self(w.v1)) == 7);
	REQUIRE_RC(tn_notes(w.t, 2, 80), QIAO_OK);
	CHECK_RC(pump(&l), QIAO_OK);
	CHECK(tn_seq(w.v1, node_self(w.t)) == 4);
	CHECK(node_sync_in_sync(l.a));
	CHECK(node_sync_in_sync(l.b));
	/* The district's entry, the town's 2 + 2; what the town got from the
	 * village is not echoed back. */
	CHECK(node_sync_get_info(l.b)->entries_out == 5);
	link_close(&l);
	world_free(&w);
}

/* Entries of an author nobody enrolled yet are refused and asked for
 * again once the enrolment is stored. */
static void
t_rejected_until_enrolled(void)
{
	struct world w;
	struct link l;
	node *v3;
	char p[300];

	REQUIRE(world_make(&w));
	snprintf(p, sizeof(p), "%s/v3", w.dir);
	v3 = tn_make(p, QIAO_ROLE_VILLAGE, "500116001003", node_self(w.d));
	REQUIRE(v3 != NULL);
	REQUIRE_RC(tn_notes(v3, 5, 60), QIAO_OK);
	CHECK_RC(link_open(&l, v3, w.t, NULL), QIAO_OK);
	CHECK(!node_sync_in_sync(l.b));
	CHECK(node_sync_get_info(l.b)->blocked);
	CHECK(tn_seq(w.t, node_self(v3)) == 0);
	CHECK(node_sync_get_info(l.b)->last_reject[0] != '\0');
	/* The town enrols it; its next look at the store retries. */
	REQUIRE_RC(tn_enrol(w.t, v3, QIAO_ROLE_VILLAGE, "500116001003"),
	    QIAO_OK);
	CHECK_RC(pump(&l), QIAO_OK);
	CHECK(tn_seq(w.t, node_self(v3)) == 5);
	CHECK(node_sync_in_sync(l.b));
	CHECK(node_sync_in_sync(l.a));
	link_close(&l);
	node_close(v3);
	world_free(&w);
}

/* Relays carry others' entries; enrolments are sent before the entries of
 * the stations they enrol, so one pass suffices. */
static void
t_relay_orders_issuers_first(void)
{
	struct world w;
	struct link l;
	node *v3;
	char p[300];

	REQUIRE(world_make(&w));
	/* A village the district has never heard of: its certificate is in
	 * the town's log, which must reach the district first. */
	snprintf(p, sizeof(p), "%s/v3", w.dir);
	v3 = tn_make(p, QIAO_ROLE_VILLAGE, "500116001003", node_self(w.d));
	REQUIRE(v3 != NULL);
	REQUIRE_RC(tn_enrol(w.t, v3, QIAO_ROLE_VILLAGE, "500116001003"),
	    QIAO_OK);
	REQUIRE_RC(tn_notes(v3, 5, 60), QIAO_OK);
	REQUIRE_RC(tn_notes(w.v2, 5, 60), QIAO_OK);
	CHECK_RC(link_open(&l, v3, w.t, NULL), QIAO_OK);
	link_close(&l);
	CHECK_RC(link_open(&l, w.v2, w.t, NULL), QIAO_OK);
	link_close(&l);
	CHECK_RC(link_open(&l, w.t, w.d, NULL), QIAO_OK);
	CHECK(node_sync_in_sync(l.a));
	CHECK(node_sync_get_info(l.b)->rejected == 0);
	CHECK(node_sync_get_info(l.b)->gaps == 0);
	CHECK(node_sync_get_info(l.b)->last_reject[0] == '\0');
	CHECK(tn_seq(w.d, node_self(v3)) == 5);
	CHECK(tn_seq(w.d, node_self(w.v2)) == 5);
	link_close(&l);
	CHECK(tn_same_scope(w.t, w.d, "500116001"));
	node_close(v3);
	world_free(&w);
}

/* Bad input: a clear error, the session is dropped, nothing stored. */
static void
t_bad_messages(void)
{
	struct world w;
	node_sync *s;
	const char *why = NULL;
	uint8_t junk[64];
	crdt_writer wr;
	node_sync_hello h;

	REQUIRE(world_make(&w));
	REQUIRE_RC(node_sync_new(&s, w.t, &(node_sync_opts) {
		.zstd_level = -1 }), QIAO_OK);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)check_rand();
	junk[0] = 0x93; /* an array of 3 ... of garbage */
	CHECK(node_sync_recv(s, junk, sizeof(junk), 1, &why) != QIAO_OK);
	CHECK(why != NULL);
	/* before HELLO */
	crdt_writer_init(&wr);
	node_syncwire_count(&wr, NODE_SYNC_ACK, 1);
	CHECK_RC(node_sync_recv(s, wr.buf, wr.len, 1, &why), QIAO_EPROTO);
	crdt_writer_fini(&wr);
	/* a truncated HELLO */
	memset(&h, 0, sizeof(h));
	h.version = 1;
	memcpy(h.key, node_self(w.v1), QIAO_KEY_LEN);
	h.window = 4;
	h.max_message = 1 << 20;
	crdt_writer_init(&wr);
	node_syncwire_hello(&wr, &h);
	CHECK_RC(node_sync_recv(s, wr.buf, wr.len - 3, 1, &why),
	    QIAO_EMALFORMED);
	crdt_writer_fini(&wr);
	/* HEADS announcing more heads than allowed: refused before any
	 * allocation. */
	crdt_writer_init(&wr);
	crdt_write_array(&wr, 4);
	crdt_write_uint(&wr, NODE_SYNC_HEADS);
	crdt_write_uint(&wr, 5);
	crdt_write_bool(&wr, false);
	crdt_write_array(&wr, 1u << 30);
	CHECK(node_sync_recv(s, wr.buf, wr.len, 1, &why) != QIAO_OK);
	crdt_writer_fini(&wr);
	node_sync_free(s);
	world_free(&w);
}

/* A zstd frame that would expand beyond max_message is refused without
 * allocating its declared size. */
static void
t_batch_bomb_refused(void)
{
	struct world w;
	node_syncwire_items it;
	node_txn *txn;
	const char *why = NULL;
	size_t n = 8 << 20, zlen;
	uint8_t *plain = calloc(1, n), *z = malloc(ZSTD_compressBound(n));

	REQUIRE(plain != NULL && z != NULL);
	REQUIRE(world_make(&w));
	zlen = ZSTD_compress(z, ZSTD_compressBound(n), plain, n, 1);
	REQUIRE(!ZSTD_isError(zlen));
	REQUIRE_RC(node_store_txn_begin(node_get_store(w.t), false, &txn),
	    QIAO_OK);
	CHECK_RC(node_syncwire_batch_decode(txn, NODE_SYNC_CODEC_ZSTD, z,
		     zlen, 1 << 20, &it, &why),
	    QIAO_ETOOBIG);
	CHECK_RC(node_syncwire_batch_decode(txn, NODE_SYNC_CODEC_ZSTD, z,
		     zlen / 2, 16 << 20, &it, &why),
	    QIAO_EMALFORMED);
	node_store_txn_abort(txn);
	free(plain);
	free(z);
	world_free(&w);
}

/* A batch whose entry was altered in flight fails its signature check at
 * ingest: rebuilt headers are proved, not trusted. */
static void
t_tampered_batch_rejected(void)
{
	struct world w;
	node_syncwire_batch b;
	node_syncwire_items it;
	node_sync_msg m;
	node_txn *txn;
	crdt_entry e;
	crdt_writer wr;
	const uint8_t *body;
	size_t blen;
	uint8_t *copy;
	const char *why = NULL;
	node_ingest_stats st;

	REQUIRE(world_make(&w));
	REQUIRE_RC(tn_notes(w.v1, 1, 40), QIAO_OK);
	REQUIRE_RC(node_store_txn_begin(node_get_store(w.v1), false, &txn),
	    QIAO_OK);
	REQUIRE_RC(node_store_entry_get(txn, node_self(w.v1), 1, &e),
	    QIAO_OK);
	REQUIRE_RC(node_store_body_get(txn, e.body_hash, &body, &blen),
	    QIAO_OK);
	copy = malloc(blen);
	REQUIRE(copy != NULL);
	memcpy(copy, body, blen);
	node_store_txn_abort(txn);
	e.hlc += 1; /* a different time than the one signed */
	node_syncwire_batch_init(&b);
	REQUIRE_RC(node_syncwire_batch_add(&b, &e, copy, blen, false),
	    QIAO_OK);
	crdt_writer_init(&wr);
	REQUIRE_RC(node_syncwire_batch_finish(&b, 0, &wr), QIAO_OK);
	node_syncwire_batch_fini(&b);
	REQUIRE_RC(node_syncwire_decode(&m, wr.buf, wr.len, &why), QIAO_OK);
	REQUIRE_RC(node_store_txn_begin(node_get_store(w.t), false, &txn),
	    QIAO_OK);
	REQUIRE_RC(node_syncwire_batch_decode(txn, m.batch.codec,
		       m.batch.payload, m.batch.len, 1 << 20, &it, &why),
	    QIAO_OK);
	node_store_txn_abort(txn);
	REQUIRE(it.n == 1);
	REQUIRE_RC(node_ingest(w.t, it.v, it.n, &st), QIAO_OK);
	CHECK_RC(it.v[0].rc, QIAO_EBADSIG);
	CHECK(tn_seq(w.t, node_self(w.v1)) == 0);
	node_syncwire_items_fini(&it);
	node_syncwire_msg_fini(&m);
	crdt_writer_fini(&wr);
	free(copy);
	world_free(&w);
}

/* Over a link the session knows the key its peer proved: a HELLO in
 * another station's name is refused before anything is sent back; the
 * proven key's own HELLO goes through. */
static void
t_hello_must_name_the_proven_key(void)
{
	node_sync_opts a = { .initiator = true, .zstd_level = -1 };
	node_sync_opts b = { .zstd_level = -1 };
	struct world w;
	node_sync *sa, *sb;
	uint8_t *m;
	size_t len;
	const char *why = NULL;

	REQUIRE(world_make(&w));
	/* v1 dials the town, but the link proved v2's key. */
	b.proven_peer = node_self(w.v2);
	REQUIRE_RC(node_sync_new(&sa, w.v1, &a), QIAO_OK);
	REQUIRE_RC(node_sync_new(&sb, w.t, &b), QIAO_OK);
	REQUIRE_RC(node_sync_start(sa, 1000), QIAO_OK);
	REQUIRE_RC(node_sync_pop(sa, &m, &len), QIAO_OK);
	CHECK_RC(node_sync_recv(sb, m, len, 1000, &why), QIAO_EUNAUTH);
	CHECK(why != NULL && strstr(why, "proved") != NULL);
	CHECK(!node_sync_get_info(sb)->hello);
	CHECK_RC(node_sync_pop(sb, &m, &len), QIAO_ENOTFOUND);
	node_sync_free(sb);
	/* The proven key is v1's: the same HELLO is answered. */
	b.proven_peer = node_self(w.v1);
	REQUIRE_RC(node_sync_new(&sb, w.t, &b), QIAO_OK);
	CHECK_RC(node_sync_recv(sb, m, len, 1000, &why), QIAO_OK);
	CHECK(node_sync_get_info(sb)->hello);
	free(m);
	CHECK_RC(node_sync_pop(sb, &m, &len), QIAO_OK);
	free(m);
	node_sync_free(sa);
	node_sync_free(sb);
	world_free(&w);
}

CHECK_MAIN(T(t_village_town_both_ways), T(t_scope_keeps_siblings_apart),
    T(t_incremental_is_small), T(t_batches_leave_out_derivable_fields),
    T(t_window_bounds_batches_in_flight), T(t_resume_after_cut),
    T(t_live_push), T(t_rejected_until_enrolled),
    T(t_relay_orders_issuers_first), T(t_bad_messages),
    T(t_batch_bomb_refused), T(t_tampered_batch_rejected),
    T(t_hello_must_name_the_proven_key))
