#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "node/syncwire.h"

/*
 * Messages, v1 (docs/PROTOCOL.md has the same table for people):
 *   HELLO  [1, version, key bin32, role, region str, since_key bin32|nil,
 *           since, tick, window, max_message, flags]
 *   HEADS  [2, upto, more bool, [[author bin32, seq, hash bin32], ...]]
 *   WANT   [3, [[author bin32, from, to, explicit_prev bool], ...]]
 *   BATCH  [4, codec, payload bin]
 *   DONE   [5, want number]     ACK [6, batches]     SYNCED [7, upto]
 *   BYE    [8, code, reason str]
 * BATCH payload (after zstd when codec is 1): an array of runs, each a flat
 * array [author bin32, seq0, prev bin32|nil, then per entry: hlc, type,
 * body bin, sig bin64]; hlc is absolute for a run's first entry and the
 * increase over the entry before for the others.
 */

static int
bad(const char **why, const char *what, int rc)
{
	if (why != NULL)
		*why = what;
	return rc;
}

static int
reader_bad(crdt_reader *r, const char **why)
{
	return bad(why, r->why != NULL ? r->why : "malformed",
	    QIAO_EMALFORMED);
}

static int
decode_hello(crdt_reader *r, size_t n, node_sync_hello *h, const char **why)
{
	const char *s;
	size_t len;

	if (n != 11)
		return bad(why, "HELLO must have 11 fields", QIAO_EMALFORMED);
	if (crdt_read_uint(r, &h->version) != QIAO_OK ||
	    crdt_read_fixbin(r, h->key, QIAO_KEY_LEN) != QIAO_OK ||
	    crdt_read_uint(r, &h->role) != QIAO_OK ||
	    crdt_read_str(r, &s, &len) != QIAO_OK)
		return reader_bad(r, why);
	if (len >= QIAO_REGION_MAX)
		return bad(why, "HELLO region too long", QIAO_EMALFORMED);
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return bad(why, "HELLO region is not digits",
			    QIAO_EMALFORMED);
	memcpy(h->region, s, len);
	h->region[len] = '\0';
	if (crdt_read_peek(r) == CRDT_KIND_NIL) {
		if (crdt_read_nil(r) != QIAO_OK)
			return reader_bad(r, why);
	} else {
		if (crdt_read_fixbin(r, h->since_key, QIAO_KEY_LEN) != 0)
			return reader_bad(r, why);
		h->has_since_key = true;
	}
	if (crdt_read_uint(r, &h->since) != QIAO_OK ||
	    crdt_read_uint(r, &h->tick) != QIAO_OK ||
	    crdt_read_uint(r, &h->window) != QIAO_OK ||
	    crdt_read_uint(r, &h->max_message) != QIAO_OK ||
	    crdt_read_uint(r, &h->flags) != QIAO_OK)
		return reader_bad(r, why);
	if (h->role > QIAO_ROLE_ROOT)
		return bad(why, "HELLO role unknown", QIAO_EMALFORMED);
	return QIAO_OK;
}

static int
decode_heads(crdt_reader *r, size_t n, node_sync_msg *m, const char **why)
{
	size_t c, k;

	if (n != 4)
		return bad(why, "HEADS must have 4 fields", QIAO_EMALFORMED);
	if (crdt_read_uint(r, &m->heads.upto) != QIAO_OK ||
	    crdt_read_bool(r, &m->heads.more) != QIAO_OK ||
	    crdt_read_array(r, &c) != QIAO_OK)
		return reader_bad(r, why);
	if (c > QIAO_SYNC_HEADS_MAX)
		return bad(why, "HEADS lists too many heads", QIAO_ETOOBIG);
	if (c > 0 && (m->heads.v = calloc(c, sizeof(*m->heads.v))) == NULL)
		return QIAO_ENOMEM;
	for (size_t i = 0; i < c; i++) {
		node_sync_head *h = &m->heads.v[i];

		if (crdt_read_array(r, &k) != QIAO_OK)
			return reader_bad(r, why);
		if (k != 3)
			return bad(why, "a head has 3 fields", QIAO_EMALFORMED);
		if (crdt_read_fixbin(r, h->author, QIAO_KEY_LEN) != QIAO_OK ||
		    crdt_read_uint(r, &h->seq) != QIAO_OK ||
		    crdt_read_fixbin(r, h->hash, QIAO_HASH_LEN) != QIAO_OK)
			return reader_bad(r, why);
		if (h->seq == 0)
			return bad(why, "a head at seq 0", QIAO_EMALFORMED);
		m->heads.n = i + 1;
	}
	return QIAO_OK;
}

static int
decode_want(crdt_reader *r, size_t n, node_sync_msg *m, const char **why)
{
	size_t c, k;

	if (n != 2)
		return bad(why, "WANT must have 2 fields", QIAO_EMALFORMED);
	if (crdt_read_array(r, &c) != QIAO_OK)
		return reader_bad(r, why);
	if (c > QIAO_SYNC_WANTS_MAX)
		return bad(why, "WANT lists too many ranges", QIAO_ETOOBIG);
	if (c > 0 && (m->want.v = calloc(c, sizeof(*m->want.v))) == NULL)
		return QIAO_ENOMEM;
	for (size_t i = 0; i < c; i++) {
		node_sync_want *w = &m->want.v[i];

		if (crdt_read_array(r, &k) != QIAO_OK)
			return reader_bad(r, why);
		if (k != 4)
			return bad(why, "a range has 4 fields", QIAO_EMALFORMED);
		if (crdt_read_fixbin(r, w->author, QIAO_KEY_LEN) != QIAO_OK ||
		    crdt_read_uint(r, &w->from) != QIAO_OK ||
		    crdt_read_uint(r, &w->to) != QIAO_OK ||
		    crdt_read_bool(r, &w->explicit_prev) != QIAO_OK)
			return reader_bad(r, why);
		if (w->from == 0 || w->to < w->from)
			return bad(why, "a range must have 1 <= from <= to",
			    QIAO_EMALFORMED);
		m->want.n = i + 1;
	}
	return QIAO_OK;
}

int
node_syncwire_decode(node_sync_msg *m, const uint8_t *buf, size_t len,
    const char **why)
{
	crdt_reader r;
	const char *s;
	size_t n, slen;
	int rc;

	memset(m, 0, sizeof(*m));
	crdt_reader_init(&r, buf, len);
	if (crdt_read_array(&r, &n) != QIAO_OK ||
	    (n > 0 && crdt_read_uint(&r, &m->type) != QIAO_OK))
		return reader_bad(&r, why);
	if (n == 0)
		return bad(why, "empty message", QIAO_EMALFORMED);
	switch (m->type) {
	case NODE_SYNC_HELLO:
		rc = decode_hello(&r, n, &m->hello, why);
		break;
	case NODE_SYNC_HEADS:
		rc = decode_heads(&r, n, m, why);
		break;
	case NODE_SYNC_WANT:
		rc = decode_want(&r, n, m, why);
		break;
	case NODE_SYNC_BATCH:
		if (n != 3)
			return bad(why, "BATCH must have 3 fields",
			    QIAO_EMALFORMED);
		if (crdt_read_uint(&r, &m->batch.codec) != QIAO_OK ||
		    crdt_read_bin(&r, &m->batch.payload, &m->batch.len) != 0)
			return reader_bad(&r, why);
		if (m->batch.codec > NODE_SYNC_CODEC_ZSTD)
			return bad(why, "BATCH codec unknown", QIAO_EMALFORMED);
		rc = QIAO_OK;
		break;
	case NODE_SYNC_DONE:
	case NODE_SYNC_ACK:
	case NODE_SYNC_SYNCED:
		if (n != 2)
			return bad(why, "message must have 2 fields",
			    QIAO_EMALFORMED);
		rc = crdt_read_uint(&r, &m->n) == QIAO_OK ? QIAO_OK
							  : reader_bad(&r, why);
		break;
	case NODE_SYNC_BYE:
		if (n != 3)
			return bad(why, "BYE must have 3 fields",
			    QIAO_EMALFORMED);
		if (crdt_read_uint(&r, &m->bye.code) != QIAO_OK ||
		    crdt_read_str(&r, &s, &slen) != QIAO_OK)
			return reader_bad(&r, why);
		if (slen >= QIAO_SYNC_REASON_MAX)
			slen = QIAO_SYNC_REASON_MAX - 1;
		memcpy(m->bye.reason, s, slen);
		m->bye.reason[slen] = '\0';
		rc = QIAO_OK;
		break;
	default:
		return bad(why, "unknown message type", QIAO_EMALFORMED);
	}
	if (rc != QIAO_OK)
		return rc;
	if (crdt_read_done(&r) != QIAO_OK)
		return reader_bad(&r, why);
	return QIAO_OK;
}

void
node_syncwire_msg_fini(node_sync_msg *m)
{
	if (m == NULL)
		return;
	free(m->heads.v);
	free(m->want.v);
	m->heads.v = NULL;
	m->want.v = NULL;
	m->heads.n = m->want.n = 0;
}

void
node_syncwire_hello(crdt_writer *w, const node_sync_hello *h)
{
	crdt_write_array(w, 11);
	crdt_write_uint(w, NODE_SYNC_HELLO);
	crdt_write_uint(w, h->version);
	crdt_write_bin(w, h->key, QIAO_KEY_LEN);
	crdt_write_uint(w, h->role);
	crdt_write_cstr(w, h->region);
	if (h->has_since_key)
		crdt_write_bin(w, h->since_key, QIAO_KEY_LEN);
	else
		crdt_write_nil(w);
	crdt_write_uint(w, h->since);
	crdt_write_uint(w, h->tick);
	crdt_write_uint(w, h->window);
	crdt_write_uint(w, h->max_message);
	crdt_write_uint(w, h->flags);
}

void
node_syncwire_heads(crdt_writer *w, uint64_t upto, bool more,
    const node_sync_head *v, size_t n)
{
	crdt_write_array(w, 4);
	crdt_write_uint(w, NODE_SYNC_HEADS);
	crdt_write_uint(w, upto);
	crdt_write_bool(w, more);
	crdt_write_array(w, n);
	for (size_t i = 0; i < n; i++) {
		crdt_write_array(w, 3);
		crdt_write_bin(w, v[i].author, QIAO_KEY_LEN);
		crdt_write_uint(w, v[i].seq);
		crdt_write_bin(w, v[i].hash, QIAO_HASH_LEN);
	}
}

void
node_syncwire_want(crdt_writer *w, const node_sync_want *v, size_t n)
{
	crdt_write_array(w, 2);
	crdt_write_uint(w, NODE_SYNC_WANT);
	crdt_write_array(w, n);
	for (size_t i = 0; i < n; i++) {
		crdt_write_array(w, 4);
		crdt_write_bin(w, v[i].author, QIAO_KEY_LEN);
		crdt_write_uint(w, v[i].from);
		crdt_write_uint(w, v[i].to);
		crdt_write_bool(w, v[i].explicit_prev);
	}
}

void
node_syncwire_count(crdt_writer *w, uint64_t type, uint64_t n)
{
	crdt_write_array(w, 2);
	crdt_write_uint(w, type);
	crdt_write_uint(w, n);
}

void
node_syncwire_bye(crdt_writer *w, uint64_t code, const char *reason)
{
	size_t len = strlen(reason);

	crdt_write_array(w, 3);
	crdt_write_uint(w, NODE_SYNC_BYE);
	crdt_write_uint(w, code);
	crdt_write_str(w, reason,
	    len < QIAO_SYNC_REASON_MAX ? len : QIAO_SYNC_REASON_MAX - 1);
}

/* batches */

void
node_syncwire_batch_init(node_syncwire_batch *b)
{
	memset(b, 0, sizeof(*b));
	crdt_writer_init(&b->runs);
	crdt_writer_init(&b->cur);
}

void
node_syncwire_batch_fini(node_syncwire_batch *b)
{
	crdt_writer_fini(&b->runs);
	crdt_writer_fini(&b->cur);
}

static void
close_run(node_syncwire_batch *b)
{
	if (b->cur_n == 0)
		return;
	crdt_write_array(&b->runs, 3 + 4 * b->cur_n);
	crdt_write_bin(&b->runs, b->author, QIAO_KEY_LEN);
	crdt_write_uint(&b->runs, b->seq0);
	if (b->has_prev)
		crdt_write_bin(&b->runs, b->prev, QIAO_HASH_LEN);
	else
		crdt_write_nil(&b->runs);
	crdt_write_raw(&b->runs, b->cur.buf, b->cur.len);
	if (b->runs.err == QIAO_OK && b->cur.err != QIAO_OK)
		b->runs.err = b->cur.err;
	b->cur.len = 0;
	b->cur_n = 0;
	b->nruns++;
}

int
node_syncwire_batch_add(node_syncwire_batch *b, const crdt_entry *e,
    const uint8_t *body, size_t len, bool explicit_prev)
{
	bool follows = b->cur_n > 0 &&
	    memcmp(b->author, e->author, QIAO_KEY_LEN) == 0 &&
	    e->seq == b->last_seq + 1 && e->hlc > b->last_hlc;

	if (!follows) {
		close_run(b);
		memcpy(b->author, e->author, QIAO_KEY_LEN);
		b->seq0 = e->seq;
		b->has_prev = explicit_prev && e->has_prev;
		if (b->has_prev)
			memcpy(b->prev, e->prev, QIAO_HASH_LEN);
		crdt_write_uint(&b->cur, e->hlc);
	} else {
		crdt_write_uint(&b->cur, e->hlc - b->last_hlc);
	}
	crdt_write_uint(&b->cur, e->type);
	crdt_write_bin(&b->cur, body, len);
	crdt_write_bin(&b->cur, crdt_entry_sig(e), QIAO_SIG_LEN);
	b->last_seq = e->seq;
	b->last_hlc = e->hlc;
	b->cur_n++;
	b->entries++;
	return b->cur.err;
}

size_t
node_syncwire_batch_size(const node_syncwire_batch *b)
{
	/* The open run's header is at most 1+5 + 34 + 9 + 34 bytes. */
	return b->runs.len + b->cur.len + (b->cur_n ? 83 : 0) + 5;
}

int
node_syncwire_batch_finish(node_syncwire_batch *b, int level, crdt_writer *w)
{
	crdt_writer plain;
	uint8_t *z = NULL;
	size_t zlen = 0;
	int rc;

	close_run(b);
	crdt_writer_init(&plain);
	crdt_write_array(&plain, b->nruns);
	crdt_write_raw(&plain, b->runs.buf, b->runs.len);
	if ((rc = crdt_writer_error(&plain)) != QIAO_OK ||
	    (rc = crdt_writer_error(&b->runs)) != QIAO_OK)
		goto out;
	if (level > 0) {
		size_t cap = ZSTD_compressBound(plain.len);

		if ((z = malloc(cap)) == NULL) {
			rc = QIAO_ENOMEM;
			goto out;
		}
		zlen = ZSTD_compress(z, cap, plain.buf, plain.len, level);
		if (ZSTD_isError(zlen))
			zlen = 0; /* send it plain */
	}
	crdt_write_array(w, 3);
	crdt_write_uint(w, NODE_SYNC_BATCH);
	if (zlen > 0 && zlen < plain.len) {
		crdt_write_uint(w, NODE_SYNC_CODEC_ZSTD);
		crdt_write_bin(w, z, zlen);
	} else {
		crdt_write_uint(w, NODE_SYNC_CODEC_PLAIN);
		crdt_write_bin(w, plain.buf, plain.len);
	}
	rc = crdt_writer_error(w);
out:
	free(z);
	crdt_writer_fini(&plain);
	b->runs.len = 0;
	b->nruns = 0;
	b->entries = 0;
	return rc;
}

void
node_syncwire_items_fini(node_syncwire_items *it)
{
	if (it == NULL)
		return;
	free(it->v);
	free(it->plain);
	free(it->gapv);
	memset(it, 0, sizeof(*it));
}

bool
node_syncwire_retryable(int rc)
{
	return rc == QIAO_EUNKNOWN || rc == QIAO_EGAP;
}

static int
add_gap(node_syncwire_items *out, const uint8_t *author, uint64_t from,
    uint64_t to)
{
	node_sync_want *v = realloc(out->gapv, (out->ngap + 1) * sizeof(*v));

	if (v == NULL)
		return QIAO_ENOMEM;
	out->gapv = v;
	memset(&v[out->ngap], 0, sizeof(*v));
	memcpy(v[out->ngap].author, author, QIAO_KEY_LEN);
	v[out->ngap].from = from;
	v[out->ngap].to = to;
	out->ngap++;
	out->gaps += to - from + 1;
	return QIAO_OK;
}

/* The prev of a run that left it out: the hash of the entry before, which
 * the receiver holds (it asked from its head + 1). */
static int
held_prev(node_txn *txn, const uint8_t *author, uint64_t seq, uint8_t *out,
    bool *found)
{
	node_head h;
	crdt_entry e;
	int rc;

	*found = false;
	if (txn == NULL)
		return QIAO_OK; /* no store to look in: a gap */
	rc = node_store_head_get(txn, author, &h);
	if (rc == QIAO_ENOTFOUND)
		return QIAO_OK;
	if (rc != QIAO_OK)
		return rc;
	if (h.seq == seq) {
		memcpy(out, h.hash, QIAO_HASH_LEN);
		*found = true;
		return QIAO_OK;
	}
	if (h.seq < seq)
		return QIAO_OK;
	rc = node_store_entry_get(txn, author, seq, &e);
	if (rc == QIAO_ENOTFOUND)
		return QIAO_OK;
	if (rc != QIAO_OK)
		return rc;
	memcpy(out, e.hash, QIAO_HASH_LEN);
	*found = true;
	return QIAO_OK;
}

static int
decode_runs(node_txn *txn, crdt_reader *r, node_syncwire_items *out,
    const char **why)
{
	size_t nruns, cap = 0;
	int rc;

	if (crdt_read_array(r, &nruns) != QIAO_OK)
		return reader_bad(r, why);
	for (size_t k = 0; k < nruns; k++) {
		uint8_t author[QIAO_KEY_LEN], prev[QIAO_HASH_LEN];
		uint64_t seq0, hlc = 0;
		size_t fields, n;
		bool has_prev = false, usable = true;

		if (crdt_read_array(r, &fields) != QIAO_OK)
			return reader_bad(r, why);
		if (fields < 7 || (fields - 3) % 4 != 0)
			return bad(why, "a run has 3 + 4n fields",
			    QIAO_EMALFORMED);
		n = (fields - 3) / 4;
		if (crdt_read_fixbin(r, author, QIAO_KEY_LEN) != QIAO_OK ||
		    crdt_read_uint(r, &seq0) != QIAO_OK)
			return reader_bad(r, why);
		if (seq0 == 0 || seq0 > UINT64_MAX - n)
			return bad(why, "a run's seq is out of range",
			    QIAO_EMALFORMED);
		if (crdt_read_peek(r) == CRDT_KIND_NIL) {
			if (crdt_read_nil(r) != QIAO_OK)
				return reader_bad(r, why);
		} else {
			if (crdt_read_fixbin(r, prev, QIAO_HASH_LEN) != 0)
				return reader_bad(r, why);
			has_prev = true;
			if (seq0 == 1)
				return bad(why, "a run at seq 1 has no prev",
				    QIAO_EMALFORMED);
		}
		if (seq0 > 1 && !has_prev) {
			if ((rc = held_prev(txn, author, seq0 - 1, prev,
				 &has_prev)) != QIAO_OK)
				return rc;
			usable = has_prev;
		}
		if (out->n + n > QIAO_SYNC_BATCH_ENTRIES_MAX)
			return bad(why, "BATCH holds too many entries",
			    QIAO_ETOOBIG);
		if (usable && out->n + n > cap) {
			node_ingest_item *v;

			cap = out->n + n > 2 * cap ? out->n + n : 2 * cap;
			if ((v = realloc(out->v, cap * sizeof(*v))) == NULL)
				return QIAO_ENOMEM;
			out->v = v;
		}
		for (size_t i = 0; i < n; i++) {
			uint64_t h, type;
			const uint8_t *body, *sig;
			size_t blen, slen;
			node_ingest_item *it;

			if (crdt_read_uint(r, &h) != QIAO_OK ||
			    crdt_read_uint(r, &type) != QIAO_OK ||
			    crdt_read_bin(r, &body, &blen) != QIAO_OK ||
			    crdt_read_bin(r, &sig, &slen) != QIAO_OK)
				return reader_bad(r, why);
			if (slen != QIAO_SIG_LEN)
				return bad(why, "a signature has 64 bytes",
				    QIAO_EMALFORMED);
			if (i > 0 && (h == 0 || h > UINT64_MAX - hlc))
				return bad(why, "hlc must increase in a run",
				    QIAO_EMALFORMED);
			hlc = i == 0 ? h : hlc + h;
			if (!usable)
				continue;
			it = &out->v[out->n];
			memset(it, 0, sizeof(*it));
			it->e.version = QIAO_ENTRY_VERSION;
			memcpy(it->e.author, author, QIAO_KEY_LEN);
			it->e.seq = seq0 + i;
			it->e.has_prev = it->e.seq > 1;
			if (i == 0 && it->e.has_prev)
				memcpy(it->e.prev, prev, QIAO_HASH_LEN);
			else if (i > 0)
				memcpy(it->e.prev, out->v[out->n - 1].e.hash,
				    QIAO_HASH_LEN);
			it->e.hlc = hlc;
			it->e.type = type;
			it->e.body_len = blen;
			crdt_entry_body_hash(it->e.body_hash, body, blen);
			/* Fields out of range cannot be what anyone signed. */
			if (crdt_entry_rebuild(&it->e, sig) != QIAO_OK)
				return bad(why, "an entry's fields are out of "
						"range",
				    QIAO_EMALFORMED);
			it->body = body;
			it->body_len = blen;
			out->n++;
		}
		if (!usable && (rc = add_gap(out, author, seq0,
				    seq0 + n - 1)) != QIAO_OK)
			return rc;
	}
	if (crdt_read_done(r) != QIAO_OK)
		return reader_bad(r, why);
	return QIAO_OK;
}

int
node_syncwire_batch_decode(node_txn *txn, uint64_t codec,
    const uint8_t *payload, size_t len, size_t max_plain,
    node_syncwire_items *out, const char **why)
{
	crdt_reader r;
	int rc;

	memset(out, 0, sizeof(*out));
	if (codec == NODE_SYNC_CODEC_ZSTD) {
		unsigned long long size = ZSTD_getFrameContentSize(payload, len);
		size_t got;

		/* The frame must declare its size, and that size is bounded
		 * before a byte is allocated. */
		if (size == ZSTD_CONTENTSIZE_ERROR ||
		    size == ZSTD_CONTENTSIZE_UNKNOWN)
			return bad(why, "BATCH is not a sized zstd frame",
			    QIAO_EMALFORMED);
		if (size > max_plain)
			return bad(why, "BATCH decompresses beyond max_message",
			    QIAO_ETOOBIG);
		if ((out->plain = malloc(size ? size : 1)) == NULL)
			return QIAO_ENOMEM;
		got = ZSTD_decompress(out->plain, size, payload, len);
		if (ZSTD_isError(got) || got != size) {
			node_syncwire_items_fini(out);
			return bad(why, "BATCH zstd frame is corrupt",
			    QIAO_EMALFORMED);
		}
		payload = out->plain;
		len = got;
	} else if (len > max_plain) {
		return bad(why, "BATCH beyond max_message", QIAO_ETOOBIG);
	}
	crdt_reader_init(&r, payload, len);
	if ((rc = decode_runs(txn, &r, out, why)) != QIAO_OK)
		node_syncwire_items_fini(out);
	return rc;
}
