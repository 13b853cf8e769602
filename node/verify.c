#include <string.h>

#include "crdt/entry.h"
#include "node/store.h"
#include "node/verify.h"

struct walk {
	node_txn *txn;
	node_verify_stats st;
	node_verify_report_fn report;
	void *ctx;
	/* The author being walked and where its chain stands. */
	uint8_t author[QIAO_KEY_LEN];
	bool in_author;
	uint64_t seq, hlc;
	uint8_t hash[QIAO_HASH_LEN];
};

static void
problem(struct walk *w, const uint8_t *author, uint64_t seq, const char *what,
    uint64_t *counter)
{
	(*counter)++;
	if (w->report != NULL)
		w->report(w->ctx, author, seq, what);
}

/* Closes the chain of the author walked so far against its head record. */
static int
end_author(struct walk *w)
{
	node_head h;
	int rc;

	if (!w->in_author)
		return QIAO_OK;
	w->in_author = false;
	rc = node_store_head_get(w->txn, w->author, &h);
	if (rc == QIAO_ENOTFOUND) {
		problem(w, w->author, w->seq, "entries without a head record",
		    &w->st.bad_chains);
		return QIAO_OK;
	}
	if (rc != QIAO_OK)
		return rc;
	if (h.seq != w->seq || memcmp(h.hash, w->hash, QIAO_HASH_LEN) != 0)
		problem(w, w->author, h.seq,
		    "head record disagrees with the log", &w->st.bad_chains);
	return QIAO_OK;
}

static int
on_entry(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct walk *w = ctx;
	const uint8_t *k = key, *body;
	uint64_t seq;
	size_t blen;
	crdt_entry e;
	const char *why = NULL;
	int rc;

	if (klen != QIAO_KEY_LEN + 8) {
		problem(w, NULL, 0, "malformed entry key", &w->st.bad_entries);
		return 0;
	}
	seq = node_store_rd64(k + QIAO_KEY_LEN);
	if (!w->in_author || memcmp(k, w->author, QIAO_KEY_LEN) != 0) {
		if ((rc = end_author(w)) != QIAO_OK)
			return rc;
		memcpy(w->author, k, QIAO_KEY_LEN);
		w->in_author = true;
		w->seq = 0;
		w->hlc = 0;
		w->st.authors++;
	}
	w->st.entries++;
	if (crdt_entry_parse(&e, val, vlen, NULL, &why) != QIAO_OK) {
		problem(w, k, seq, why ? why : "unparseable entry",
		    &w->st.bad_entries);
		return 0;
	}
	if (crdt_entry_verify(&e) != QIAO_OK)
		problem(w, k, seq, "bad signature", &w->st.bad_entries);
	if (e.seq != seq || memcmp(e.author, k, QIAO_KEY_LEN) != 0)
		problem(w, k, seq, "entry stored under the wrong key",
		    &w->st.bad_entries);
	if (seq != w->seq + 1)
		problem(w, k, seq, "missing entries before this seq",
		    &w->st.bad_chains);
	else if (seq > 1 && memcmp(e.prev, w->hash, QIAO_HASH_LEN) != 0)
		problem(w, k, seq, "prev does not match the entry before",
		    &w->st.bad_chains);
	else if (seq > 1 && e.hlc <= w->hlc)
		problem(w, k, seq, "hlc does not increase", &w->st.bad_chains);
	w->seq = seq;
	w->hlc = e.hlc;
	memcpy(w->hash, e.hash, QIAO_HASH_LEN);
	rc = node_store_body_get(w->txn, e.body_hash, &body, &blen);
	if (rc == QIAO_ENOTFOUND) {
		problem(w, k, seq, "body missing", &w->st.bad_bodies);
	} else if (rc != QIAO_OK) {
		return rc;
	} else {
		w->st.bodies++;
		if (crdt_entry_check_body(&e, body, blen, &why) != QIAO_OK)
			problem(w, k, seq, "body does not match its hash",
			    &w->st.bad_bodies);
	}
	return 0;
}

int
node_verify_store(node *n, node_verify_stats *stats,
    node_verify_report_fn report, void *ctx)
{
	struct walk w;
	uint64_t heads;
	int rc;

	memset(&w, 0, sizeof(w));
	w.report = report;
	w.ctx = ctx;
	if ((rc = node_store_txn_begin(node_get_store(n), false, &w.txn)) != 0)
		return rc;
	rc = node_store_scan(w.txn, NODE_TB_ENTRIES, NULL, 0, on_entry, &w);
	if (rc == QIAO_OK)
		rc = end_author(&w);
	if (rc == QIAO_OK)
		rc = node_store_count(w.txn, NODE_TB_FORKS, &w.st.forks);
	if (rc == QIAO_OK &&
	    (rc = node_store_count(w.txn, NODE_TB_HEADS, &heads)) == QIAO_OK &&
	    heads != w.st.authors)
		problem(&w, NULL, 0, "a head record has no entries",
		    &w.st.bad_chains);
	node_store_txn_abort(w.txn);
	if (rc == QIAO_OK)
		*stats = w.st;
	return rc;
}
