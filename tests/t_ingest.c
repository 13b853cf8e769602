/* The ingest rules through the API: chain, gap, fork, duplicate, bad
 * signature, unknown author, batch atomicity, and what a restart sees. */
#include "tests/check.h"

#include "crdt/body.h"
#include "crdt/cert.h"
#include "crdt/hlc.h"
#include "crdt/types.h"
#include "node/ingest.h"
#include "node/keys.h"
#include "node/node.h"
#include "node/store.h"
#include "node/verify.h"

/* A station key held in memory, signing entries another store ingests. */
struct author {
	uint8_t pk[QIAO_KEY_LEN], sk[QIAO_SK_LEN];
	uint64_t seq;
	uint8_t head[QIAO_HASH_LEN];
	uint64_t hlc;
};

static uint8_t bodybuf[256][64];

static void
author_new(struct author *a)
{
	memset(a, 0, sizeof(*a));
	crypto_sign_keypair(a->pk, a->sk);
	a->hlc = crdt_hlc_make(1700000000000ULL, 0);
}

/* Signs a's next note (body kept in a static slot) into *it. */
static void
next_note(struct author *a, node_ingest_item *it, const char *text)
{
	static unsigned slot;
	crdt_body b;
	uint8_t *body;
	size_t len;

	crdt_body_init(&b);
	crdt_body_cstr(&b, "text", text);
	if (crdt_body_finish(&b, &body, &len) != QIAO_OK || len > 64)
		abort();
	crdt_body_fini(&b);
	memcpy(bodybuf[slot % 256], body, len);
	free(body);
	memset(it, 0, sizeof(*it));
	it->e.seq = ++a->seq;
	it->e.has_prev = a->seq > 1;
	memcpy(it->e.prev, a->head, QIAO_HASH_LEN);
	it->e.hlc = ++a->hlc;
	it->e.type = QIAO_T_NOTE;
	it->e.body_len = len;
	crdt_entry_body_hash(it->e.body_hash, bodybuf[slot % 256], len);
	if (crdt_entry_sign(&it->e, a->sk) != QIAO_OK)
		abort();
	memcpy(a->head, it->e.hash, QIAO_HASH_LEN);
	it->body = bodybuf[slot % 256];
	it->body_len = len;
	slot++;
}

/* A store whose own key enrols `who` as a village, so its entries are
 * accepted. */
static node *
open_store(const char *dir)
{
	node_keys *k;
	node *n;
	char err[256];

	if (node_keys_create(&k, dir) != QIAO_OK)
		return NULL;
	node_keys_free(k);
	if (node_open(&n, dir, &(node_opts) { .create = true }, err,
		sizeof(err)) != QIAO_OK)
		return NULL;
	return n;
}

static int
enrol(node *n, const uint8_t *pk, const char *region)
{
	crdt_cert c;
	uint8_t *body;
	size_t len;
	int rc;

	memset(&c, 0, sizeof(c));
	memcpy(c.subject, pk, QIAO_KEY_LEN);
	strcpy(c.role, "village");
	snprintf(c.region, sizeof(c.region), "%s", region);
	strcpy(c.name, "石桥村");
	if ((rc = crdt_cert_encode(&c, &body, &len)) != QIAO_OK)
		return rc;
	rc = node_append(n, QIAO_T_ENROL, body, len, NULL, NULL);
	free(body);
	return rc;
}

static uint64_t
head_seq(node *n, const uint8_t *author)
{
	node_txn *txn;
	node_head h;
	uint64_t seq = 0;

	if (node_store_txn_begin(node_get_store(n), false, &txn) != QIAO_OK)
		return UINT64_MAX;
	if (node_store_head_get(txn, author, &h) == QIAO_OK)
		seq = h.seq;
	node_store_txn_abort(txn);
	return seq;
}

static void
t_in_order_entries_are_stored_and_survive_reopen(void)
{
	const char *dir = check_tmpdir();
	node_ingest_item it[5];
	node_ingest_stats st;
	struct author a;
	node *n;
	char err[256];

	REQUIRE(dir != NULL && (n = open_store(dir)) != NULL);
	author_new(&a);
	REQUIRE_RC(enrol(n, a.pk, "500116001001"), QIAO_OK);
	for (int i = 0; i < 5; i++)
		next_note(&a, &it[i], "入户走访");
	REQUIRE_RC(node_ingest(n, it, 5, &st), QIAO_OK);
	for (int i = 0; i < 5; i++)
		CHECK_RC(it[i].rc, QIAO_OK);
	CHECK(st.stored == 5 && st.rejected == 0);
	node_close(n);
	REQUIRE_RC(node_open(&n, dir, NULL, err, sizeof(err)), QIAO_OK);
	CHECK(head_seq(n, a.pk) == 5);
	node_close(n);
}

static void
t_gap_is_refused_naming_the_missing_range(void)
{
	const char *dir = check_tmpdir();
	node_ingest_item it[6];
	struct author a;
	char why[128];
	node *n;

	REQUIRE(dir != NULL && (n = open_store(dir)) != NULL);
	author_new(&a);
	REQUIRE_RC(enrol(n, a.pk, "500116001001"), QIAO_OK);
	for (int i = 0; i < 6; i++)
		next_note(&a, &it[i], "x");
	REQUIRE_RC(node_ingest(n, it, 2, NULL), QIAO_OK); /* seq 1, 2 */
	REQUIRE_RC(node_ingest(n, &it[5], 1, NULL), QIAO_OK); /* seq 6 */
	CHECK_RC(it[5].rc, QIAO_EGAP);
	node_ingest_describe(&it[5], why, sizeof(why));
	CHECK_STR(why, "gap: missing seq 3..5");
	CHECK(head_seq(n, a.pk) == 2);
	/* Filling the gap lets the same entry in. */
	REQUIRE_RC(node_ingest(n, &it[2], 4, NULL), QIAO_OK);
	CHECK_RC(it[5].rc, QIAO_OK);
	CHECK(head_seq(n, a.pk) == 6);
	node_close(n);
}

static void
t_duplicate_changes_nothing(void)
{
	const char *dir = check_tmpdir();
	node_ingest_item it[2];
	node_ingest_stats st;
	struct author a;
	node *n;

	REQUIRE(dir != NULL && (n = open_store(dir)) != NULL);
	author_new(&a);
	REQUIRE_RC(enrol(n, a.pk, "500116001001"), QIAO_OK);
	next_note(&a, &it[0], "one");
	next_note(&a, &it[1], "two");
	REQUIRE_RC(node_ingest(n, it, 2, NULL), QIAO_OK);
	REQUIRE_RC(node_ingest(n, it, 2, &st), QIAO_OK);
	CHECK_RC(it[0].rc, QIAO_EDUP);
	CHECK_RC(it[1].rc, QIAO_EDUP);
	CHECK(st.duplicate == 2 && st.stored == 0);
	CHECK(head_seq(n, a.pk) == 2);
	node_close(n);
}

static void
t_fork_keeps_both_and_freezes_the_author(void)
{
	const char *dir = check_tmpdir();
	node_ingest_item it[3], other, after;
	struct author a, twin;
	node_txn *txn;
	uint64_t forks;
	crdt_entry held;
	node *n;

	REQUIRE(dir != NULL && (n = open_store(dir)) != NULL);
	author_new(&a);
	REQUIRE_RC(enrol(n, a.pk, "500116001001"), QIAO_OK);
	next_note(&a, &it[0], "one");
	twin = a; /* the same key, diverging after seq 1 */
	next_note(&a, &it[1], "two");
	next_note(&a, &it[2], "three");
	next_note(&twin, &other, "two, differently");
	REQUIRE_RC(node_ingest(n, it, 2, NULL), QIAO_OK);
	REQUIRE_RC(node_ingest(n, &other, 1, NULL), QIAO_OK);
	CHECK_RC(other.rc, QIAO_EFORK);
	/* Both entries at seq 2 are held: the first in the log, the other
	 * as the proof. */
	REQUIRE_RC(node_store_txn_begin(node_get_store(n), false, &txn),
	    QIAO_OK);
	CHECK_RC(node_store_entry_get(txn, a.pk, 2, &held), QIAO_OK);
	CHECK(memcmp(held.hash, it[1].e.hash, QIAO_HASH_LEN) == 0);
	CHECK_RC(node_store_count(txn, NODE_TB_FORKS, &forks), QIAO_OK);
	CHECK(forks == 1);
	node_store_txn_abort(txn);
	/* The author is frozen: neither branch continues. */
	REQUIRE_RC(node_ingest(n, &it[2], 1, NULL), QIAO_OK);
	CHECK_RC(it[2].rc, QIAO_EFORK);
	next_note(&twin, &after, "three, differently");
	REQUIRE_RC(node_ingest(n, &after, 1, NULL), QIAO_OK);
	CHECK_RC(after.rc, QIAO_EFORK);
	node_close(n);
}

static void
t_wrong_prev_and_bad_signature_are_refused(void)
{
	const char *dir = check_tmpdir();
	node_ingest_item it[3], bad;
	struct author a;
	node *n;

	REQUIRE(dir != NULL && (n = open_store(dir)) != NULL);
	author_new(&a);
	REQUIRE_RC(enrol(n, a.pk, "500116001001"), QIAO_OK);
	next_note(&a, &it[0], "one");
	next_note(&a, &it[1], "two");
	REQUIRE_RC(node_ingest(n, it, 1, NULL), QIAO_OK);
	/* seq 2 signed over a different prev. */
	bad = it[1];
	bad.e.prev[0] ^= 1;
	REQUIRE_RC(crdt_entry_sign(&bad.e, a.sk), QIAO_OK);
	REQUIRE_RC(node_ingest(n, &bad, 1, NULL), QIAO_OK);
	CHECK_RC(bad.rc, QIAO_EPREV);
	/* A flipped signature bit. */
	bad = it[1];
	bad.e.raw[bad.e.hdr_len + 5] ^= 0x10;
	REQUIRE_RC(node_ingest(n, &bad, 1, NULL), QIAO_OK);
	CHECK_RC(bad.rc, QIAO_EBADSIG);
	/* A body that is not the one signed for. */
	bad = it[1];
	bad.body = (const uint8_t *)"\x81\xa4text\xa3" "bad";
	bad.body_len = 10;
	REQUIRE_RC(node_ingest(n, &bad, 1, NULL), QIAO_OK);
	CHECK_RC(bad.rc, QIAO_EBADHASH);
	CHECK(head_seq(n, a.pk) == 1);
	/* The genuine one still goes in. */
	REQUIRE_RC(node_ingest(n, &it[1], 1, NULL), QIAO_OK);
	CHECK_RC(it[1].rc, QIAO_OK);
	node_close(n);
}

static void
t_unknown_author_is_refused_until_enrolled(void)
{
	const char *dir = check_tmpdir();
	node_ingest_item it;
	struct author a;
	node *n;

	REQUIRE(dir != NULL && (n = open_store(dir)) != NULL);
	author_new(&a);
	next_note(&a, &it, "before enrolment");
	REQUIRE_RC(node_ingest(n, &it, 1, NULL), QIAO_OK);
	CHECK_RC(it.rc, QIAO_EUNKNOWN);
	CHECK(head_seq(n, a.pk) == 0);
	REQUIRE_RC(enrol(n, a.pk, "500116001001"), QIAO_OK);
	REQUIRE_RC(node_ingest(n, &it, 1, NULL), QIAO_OK);
	CHECK_RC(it.rc, QIAO_OK);
	node_close(n);
}

static void
t_one_batch_mixes_fates_and_keeps_the_good(void)
{
	const char *dir = check_tmpdir();
	node_ingest_item it[4];
	node_ingest_stats st;
	node_verify_stats vs;
	struct author a, b;
	node *n;

	REQUIRE(dir != NULL && (n = open_store(dir)) != NULL);
	author_new(&a);
	author_new(&b); /* never enrolled */
	REQUIRE_RC(enrol(n, a.pk, "500116001001"), QIAO_OK);
	next_note(&a, &it[0], "a1");
	next_note(&b, &it[1], "b1");
	next_note(&a, &it[2], "a2");
	it[3] = it[2];
	it[3].e.raw[0] ^= 0xff; /* garbage header: signature fails */
	REQUIRE_RC(node_ingest(n, it, 4, &st), QIAO_OK);
	CHECK_RC(it[0].rc, QIAO_OK);
	CHECK_RC(it[1].rc, QIAO_EUNKNOWN);
	CHECK_RC(it[2].rc, QIAO_OK);
	CHECK_RC(it[3].rc, QIAO_EBADSIG);
	CHECK(st.stored == 2 && st.rejected == 2);
	REQUIRE_RC(node_verify_store(n, &vs, NULL, NULL), QIAO_OK);
	CHECK(vs.bad_entries == 0 && vs.bad_chains == 0 && vs.bad_bodies == 0);
	CHECK(vs.entries == 3); /* the enrolment and a1, a2 */
	node_close(n);
}

static void
t_revocation_cuts_later_entries_even_when_late(void)
{
	const char *dir = check_tmpdir();
	node_ingest_item it[4], more;
	struct author a;
	crdt_revoke r;
	uint8_t *body;
	size_t len;
	node *n;

	REQUIRE(dir != NULL && (n = open_store(dir)) != NULL);
	author_new(&a);
	REQUIRE_RC(enrol(n, a.pk, "500116001001"), QIAO_OK);
	for (int i = 0; i < 4; i++)
		next_note(&a, &it[i], "x");
	REQUIRE_RC(node_ingest(n, it, 4, NULL), QIAO_OK);
	CHECK(head_seq(n, a.pk) == 4);
	/* The PC was stolen after seq 2: revoke after 2. */
	memset(&r, 0, sizeof(r));
	memcpy(r.subject, a.pk, QIAO_KEY_LEN);
	r.after = 2;
	REQUIRE_RC(crdt_revoke_encode(&r, &body, &len), QIAO_OK);
	REQUIRE_RC(node_append(n, QIAO_T_REVOKE, body, len, NULL, NULL),
	    QIAO_OK);
	free(body);
	CHECK(head_seq(n, a.pk) == 2);
	next_note(&a, &more, "after revocation");
	REQUIRE_RC(node_ingest(n, &more, 1, NULL), QIAO_OK);
	CHECK_RC(more.rc, QIAO_EREVOKED);
	REQUIRE_RC(node_ingest(n, &it[2], 1, NULL), QIAO_OK);
	CHECK_RC(it[2].rc, QIAO_EREVOKED);
	node_close(n);
}

/* The store records its schema version; a store of another schema is
 * refused at open rather than read wrongly. */
static void
t_store_schema_version_is_checked(void)
{
	const char *dir = check_tmpdir();
	node_store_opts o = { .create = true };
	node_store *st;
	node_txn *txn;
	const void *v;
	size_t n;
	uint8_t other[8];

	REQUIRE_RC(node_store_open(&st, dir, &o), QIAO_OK);
	REQUIRE_RC(node_store_txn_begin(st, true, &txn), QIAO_OK);
	REQUIRE_RC(node_store_get(txn, NODE_TB_META, "schema", 6, &v, &n),
	    QIAO_OK);
	CHECK(n == 8 && node_store_rd64(v) == QIAO_STORE_SCHEMA);
	node_store_be64(other, QIAO_STORE_SCHEMA + 1);
	REQUIRE_RC(node_store_put(txn, NODE_TB_META, "schema", 6, other, 8),
	    QIAO_OK);
	REQUIRE_RC(node_store_txn_commit(txn), QIAO_OK);
	node_store_close(st);
	CHECK_RC(node_store_open(&st, dir, &o), QIAO_ESTORE);
}

CHECK_MAIN(T(t_in_order_entries_are_stored_and_survive_reopen),
    T(t_store_schema_version_is_checked),
    T(t_gap_is_refused_naming_the_missing_range),
    T(t_duplicate_changes_nothing),
    T(t_fork_keeps_both_and_freezes_the_author),
    T(t_wrong_prev_and_bad_signature_are_refused),
    T(t_unknown_author_is_refused_until_enrolled),
    T(t_one_batch_mixes_fates_and_keeps_the_good),
    T(t_revocation_cuts_later_entries_even_when_late))
