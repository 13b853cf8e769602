#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/audit.h"
#include "crdt/hex.h"
#include "crdt/hlc.h"
#include "crdt/op.h"
#include "crdt/types.h"
#include "node/ingest.h"
#include "node/log.h"
#include "node/state.h"
#include "node/trust.h"

/*
 * Heads touched by a batch, kept in memory and written once at the end: a
 * batch of 1,000 entries of one author costs one head write, not 1,000.
 */
struct cached_head {
	uint8_t author[QIAO_KEY_LEN];
	node_head h;
	bool found;
	bool dirty;
	/* The author's trust, as last checked in this batch's trust epoch. */
	unsigned trust_epoch;
	node_trust_id id;
};

struct batch {
	node *n;
	node_txn *txn;
	struct cached_head *heads;
	size_t nheads, cap;
	uint64_t clock; /* meta "hlc" */
	bool clock_dirty;
	unsigned epoch; /* bumped whenever a trust entry changes trust */
};

static int
head_of(struct batch *b, const uint8_t *author, struct cached_head **out)
{
	struct cached_head *c;
	int rc;

	for (size_t i = 0; i < b->nheads; i++) {
		if (memcmp(b->heads[i].author, author, QIAO_KEY_LEN) == 0) {
			*out = &b->heads[i];
			return QIAO_OK;
		}
	}
	if (b->nheads == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 8;
		struct cached_head *v = realloc(b->heads, cap * sizeof(*v));

		if (v == NULL)
			return QIAO_ENOMEM;
		b->heads = v;
		b->cap = cap;
	}
	c = &b->heads[b->nheads];
	memset(c, 0, sizeof(*c));
	memcpy(c->author, author, QIAO_KEY_LEN);
	rc = node_store_head_get(b->txn, author, &c->h);
	if (rc == QIAO_OK)
		c->found = true;
	else if (rc != QIAO_ENOTFOUND)
		return rc;
	b->nheads++;
	*out = c;
	return QIAO_OK;
}

/* Writes dirty heads and forgets the cache (revalidation may rewrite heads
 * behind it). */
static int
flush_heads(struct batch *b)
{
	int rc = QIAO_OK;

	for (size_t i = 0; i < b->nheads && rc == QIAO_OK; i++)
		if (b->heads[i].dirty)
			rc = node_store_head_put(b->txn, b->heads[i].author,
			    &b->heads[i].h);
	b->nheads = 0;
	return rc;
}

static int
load_clock(struct batch *b)
{
	const void *v;
	size_t len;
	int rc = node_store_get(b->txn, NODE_TB_META, "hlc", 3, &v, &len);

	b->clock = rc == QIAO_OK && len == 8 ? node_store_rd64(v) : 0;
	return rc == QIAO_ENOTFOUND ? QIAO_OK : rc;
}

/*
 * The trust check, once per author per batch: a batch of 1,000 entries of
 * one station should not scan its certificates 1,000 times. Only a positive
 * answer is reused, and only until a trust entry in the batch changes
 * anything.
 */
static int
trusted(struct batch *b, struct cached_head *c, const crdt_entry *e,
    const char **why)
{
	int rc;

	if (c->trust_epoch == b->epoch && e->seq <= c->id.revoked_after &&
	    (c->id.until == 0 || crdt_hlc_ms(e->hlc) <= c->id.until))
		return QIAO_OK;
	rc = node_trust_check(b->n, b->txn, e, &c->id, why);
	c->trust_epoch = rc == QIAO_OK ? b->epoch : 0;
	return rc;
}

/* Folds the operation into derived state. Unknown types (from a newer
 * qiao) stay in the log, unfolded, with a reason. */
static int
apply(struct batch *b, const crdt_entry *e, const uint8_t *body, size_t len,
    int *op_rc, const char **why, bool *trust_changed)
{
	*op_rc = QIAO_OK;
	switch (e->type) {
	case QIAO_T_NOTE:
		return QIAO_OK;
	case QIAO_T_AUDIT: {
		/* An exporter's statement on an audit bundle: nothing to fold,
		 * but its body must say what docs/AUDIT.md says it does. */
		crdt_audit_claim claim;

		if (crdt_audit_claim_decode(&claim, body, len, why) != 0)
			*op_rc = QIAO_EMALFORMED;
		return QIAO_OK;
	}
	case QIAO_T_ENROL:
	case QIAO_T_REVOKE:
		return node_trust_apply(b->n, b->txn, e, body, len, op_rc, why,
		    trust_changed);
	default:
		if (crdt_op_is_record(e->type))
			return node_state_apply(b->n, b->txn, e, body, len,
			    op_rc, why);
		*op_rc = QIAO_EINVAL;
		*why = "unknown operation type";
		return QIAO_OK;
	}
}

static int
ingest_one(struct batch *b, node_ingest_item *it, bool *trust_changed)
{
	const crdt_entry *e = &it->e;
	struct cached_head *c;
	uint64_t held;
	int rc;

	if ((rc = head_of(b, e->author, &c)) != QIAO_OK)
		return rc;
	held = c->found ? c->h.seq : 0;
	if (c->found && (c->h.flags & NODE_HEAD_FORKED)) {
		it->rc = QIAO_EFORK;
		it->why = "the author's log is frozen: it forked";
		return QIAO_OK;
	}
	if (e->seq <= held) {
		crdt_entry old;

		if ((rc = node_store_entry_get(b->txn, e->author, e->seq,
			 &old)) != QIAO_OK)
			return rc;
		if (memcmp(old.hash, e->hash, QIAO_HASH_LEN) == 0) {
			it->rc = QIAO_EDUP;
			return QIAO_OK;
		}
		/* Two valid signatures at one seq: keep the proof, freeze the
		 * author, let people decide (revocation). */
		if ((rc = node_store_fork_put(b->txn, e)) != QIAO_OK)
			return rc;
		c->h.flags |= NODE_HEAD_FORKED;
		c->dirty = true;
		it->rc = QIAO_EFORK;
		it->why = "a different entry is held at this seq; both kept";
		node_log(NODE_LOG_WARN, "ingest", "fork at seq %llu",
		    (unsigned long long)e->seq);
		return QIAO_OK;
	}
	/* Before the chain: an unknown author's entries are all "unknown
	 * author", not a cascade of gaps behind its first one. */
	rc = trusted(b, c, e, &it->why);
	if (rc == QIAO_EUNKNOWN || rc == QIAO_EREVOKED || rc == QIAO_EEXPIRED) {
		it->rc = rc;
		return QIAO_OK;
	}
	if (rc != QIAO_OK)
		return rc;
	if (e->seq > held + 1) {
		it->rc = QIAO_EGAP;
		it->have = held;
		return QIAO_OK;
	}
	if (e->seq > 1 &&
	    memcmp(e->prev, c->h.hash, QIAO_HASH_LEN) != 0) {
		it->rc = QIAO_EPREV;
		it->why = "prev is not the hash of the author's entry before";
		return QIAO_OK;
	}
	if (e->seq > 1 && e->hlc <= c->h.hlc) {
		it->rc = QIAO_EMALFORMED;
		it->why = "hlc does not increase along the author's log";
		return QIAO_OK;
	}
	if (it->body == NULL) {
		it->rc = QIAO_EINVAL;
		it->why = "the body is missing";
		return QIAO_OK;
	}
	if ((rc = node_store_entry_put(b->txn, e)) != QIAO_OK ||
	    (rc = node_store_body_put(b->txn, e->body_hash, it->body,
		 it->body_len)) != QIAO_OK)
		return rc;
	if (crdt_hlc_observe(&b->clock, e->hlc, node_now_ms(b->n),
		node_get_conf(b->n)->max_skew_ms) == QIAO_ESKEW) {
		if (!(c->h.flags & NODE_HEAD_SKEWED)) {
			char hex[2 * QIAO_KEY_LEN + 1];

			crdt_hex_encode(hex, e->author, QIAO_KEY_LEN);
			node_log(NODE_LOG_WARN, "ingest",
			    "author %.16s stamps entries ahead of our clock "
			    "by more than max_skew; not following it", hex);
		}
		c->h.flags |= NODE_HEAD_SKEWED;
	}
	b->clock_dirty = true;
	c->h.seq = e->seq;
	memcpy(c->h.hash, e->hash, QIAO_HASH_LEN);
	c->h.hlc = e->hlc;
	c->found = c->dirty = true;
	it->rc = QIAO_OK;
	if ((rc = apply(b, e, it->body, it->body_len, &it->op_rc, &it->why,
		 trust_changed)) != QIAO_OK)
		return rc;
	if (e->type == QIAO_T_ENROL || e->type == QIAO_T_REVOKE)
		b->epoch++;
	if (it->op_rc != QIAO_OK)
		return node_store_refused_put(b->txn, e, NODE_REFUSED_OP,
		    it->why);
	return QIAO_OK;
}

/* Checks that need no store: body against header, then the signature. */
static void
precheck(node_ingest_item *items, size_t count, bool verify)
{
	for (size_t i = 0; i < count; i++) {
		node_ingest_item *it = &items[i];

		it->rc = QIAO_OK;
		it->op_rc = QIAO_OK;
		it->why = NULL;
		it->have = 0;
		if (verify && crdt_entry_verify(&it->e) != QIAO_OK) {
			it->rc = QIAO_EBADSIG;
			it->why = "the signature does not verify";
			continue;
		}
		if (it->body != NULL)
			it->rc = crdt_entry_check_body(&it->e, it->body,
			    it->body_len, &it->why);
	}
}

/*
 * A trust entry in the batch may withdraw entries stored before it (in
 * this batch or earlier): tell the caller which of this batch's left again.
 */
static int
mark_cut(node *n, node_txn *txn, node_ingest_item *items, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		node_ingest_item *it = &items[i];
		uint8_t author[QIAO_KEY_LEN];
		uint64_t seq;
		int rc;

		if (it->rc != QIAO_OK)
			continue;
		rc = node_store_entry_find(txn, it->e.hash, author, &seq);
		if (rc == QIAO_OK)
			continue;
		if (rc != QIAO_ENOTFOUND)
			return rc;
		rc = node_trust_check(n, txn, &it->e, NULL, &it->why);
		if (rc == QIAO_OK) {
			/* Cut behind an earlier entry of its author. */
			rc = QIAO_EREVOKED;
			it->why = "an earlier entry of its author was withdrawn";
		}
		if (rc != QIAO_EUNKNOWN && rc != QIAO_EREVOKED &&
		    rc != QIAO_EEXPIRED)
			return rc;
		it->rc = rc;
		it->op_rc = QIAO_OK;
	}
	return QIAO_OK;
}

static int
ingest_checked(node *n, node_txn *txn, node_ingest_item *items, size_t count,
    node_ingest_stats *stats)
{
	struct batch b = { .n = n, .txn = txn, .epoch = 1 };
	node_ingest_stats st = { 0 };
	uint8_t buf[8];
	bool trust_changed = false, cut = false;
	int rc;

	if ((rc = load_clock(&b)) != QIAO_OK)
		return rc;
	for (size_t i = 0; i < count && rc == QIAO_OK; i++)
		if (items[i].rc == QIAO_OK)
			rc = ingest_one(&b, &items[i], &trust_changed);
	if (rc == QIAO_OK)
		rc = flush_heads(&b);
	if (rc == QIAO_OK && b.clock_dirty) {
		node_store_be64(buf, b.clock);
		rc = node_store_put(txn, NODE_TB_META, "hlc", 3, buf, 8);
	}
	/* Trust changed: judge every held log again, with the heads on disk
	 * (so after the flush above). */
	if (rc == QIAO_OK && trust_changed)
		rc = node_trust_revalidate(n, txn, &cut);
	if (rc == QIAO_OK && cut)
		rc = node_ingest_rebuild(n, txn);
	if (rc == QIAO_OK && cut)
		rc = mark_cut(n, txn, items, count);
	free(b.heads);
	if (rc != QIAO_OK)
		return rc;
	for (size_t i = 0; i < count; i++) {
		if (items[i].rc == QIAO_OK) {
			st.stored++;
			st.refused += items[i].op_rc != QIAO_OK;
		} else if (items[i].rc == QIAO_EDUP) {
			st.duplicate++;
		} else {
			st.rejected++;
		}
	}
	if (stats != NULL)
		*stats = st;
	return QIAO_OK;
}

int
node_ingest_txn(node *n, node_txn *txn, node_ingest_item *items, size_t count,
    bool verified, node_ingest_stats *stats)
{
	precheck(items, count, !verified);
	return ingest_checked(n, txn, items, count, stats);
}

int
node_ingest(node *n, node_ingest_item *items, size_t count,
    node_ingest_stats *stats)
{
	node_txn *txn;
	int rc;

	/* Signatures are the expensive part: check them before taking the
	 * store's single write lock. */
	precheck(items, count, true);
	if ((rc = node_store_txn_begin(node_get_store(n), true, &txn)) != 0)
		return rc;
	if ((rc = ingest_checked(n, txn, items, count, stats)) != QIAO_OK) {
		node_store_txn_abort(txn);
		return rc;
	}
	return node_store_txn_commit(txn);
}

void
node_ingest_describe(const node_ingest_item *it, char *buf, size_t len)
{
	const char *name = qiao_errname(it->rc);

	if (it->rc == QIAO_EGAP) {
		if (it->e.seq == it->have + 2)
			snprintf(buf, len, "gap: missing seq %llu",
			    (unsigned long long)it->have + 1);
		else
			snprintf(buf, len, "gap: missing seq %llu..%llu",
			    (unsigned long long)it->have + 1,
			    (unsigned long long)it->e.seq - 1);
	} else if (it->rc == QIAO_OK && it->op_rc != QIAO_OK) {
		snprintf(buf, len, "stored, operation refused (%s): %s",
		    qiao_errname(it->op_rc), it->why ? it->why : "");
	} else if (it->why != NULL) {
		snprintf(buf, len, "%s: %s", name, it->why);
	} else {
		snprintf(buf, len, "%s: %s", name, qiao_strerror(it->rc));
	}
}

int
node_ingest_rebuild(node *n, node_txn *txn)
{
	bool cut = false;
	int rc = node_trust_rebuild(n, txn, &cut);

	/* Who may write what may have changed: refold every record. */
	return rc != QIAO_OK ? rc : node_state_rebuild(n, txn, NULL);
}
