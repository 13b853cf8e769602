#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/bundle.h"
#include "node/log.h"
#include "node/sync.h"
#include "node/syncwire.h"
#include "node/trust.h"

#define FRAME_MAX (64u << 20)
#define PLAIN_MAX ((16u << 20) + (64u << 10))
#define PASSES_MAX 8

/* files */

struct out {
	char tmp[4096];
	const char *path;
	FILE *f;
	uint64_t frames, bytes;
	int err;
};

static int
out_open(struct out *o, const char *path, const char *magic)
{
	int fd;

	memset(o, 0, sizeof(*o));
	o->path = path;
	if (snprintf(o->tmp, sizeof(o->tmp), "%s.tmp", path) >=
	    (int)sizeof(o->tmp))
		return QIAO_EINVAL;
	fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (o->f = fdopen(fd, "wb")) == NULL) {
		node_log(NODE_LOG_ERR, "bundle", "%s: %s", o->tmp,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return QIAO_EIO;
	}
	if (fwrite(magic, 1, 8, o->f) != 8)
		o->err = QIAO_EIO;
	o->bytes = 8;
	return QIAO_OK;
}

/* Appends one message, framed as a bin. */
static void
out_frame(struct out *o, crdt_writer *msg)
{
	crdt_writer w;

	if (o->err == QIAO_OK && (o->err = crdt_writer_error(msg)) == 0) {
		crdt_writer_init(&w);
		crdt_write_bin(&w, msg->buf, msg->len);
		if ((o->err = crdt_writer_error(&w)) == QIAO_OK &&
		    fwrite(w.buf, 1, w.len, o->f) != w.len)
			o->err = QIAO_EIO;
		o->bytes += w.len;
		o->frames++;
		crdt_writer_fini(&w);
	}
	crdt_writer_fini(msg);
}

/* Writes the trailer, syncs and renames into place. */
static int
out_close(struct out *o, int rc)
{
	uint8_t trailer[16];
	crdt_writer w;

	if (rc == QIAO_OK)
		rc = o->err;
	if (rc == QIAO_OK) {
		crdt_writer_init_fixed(&w, trailer, sizeof(trailer));
		crdt_write_array(&w, 1);
		crdt_write_uint(&w, o->frames);
		if (fwrite(trailer, 1, w.len, o->f) != w.len)
			rc = QIAO_EIO;
		o->bytes += w.len;
	}
	if (rc == QIAO_OK && (fflush(o->f) != 0 || fsync(fileno(o->f)) != 0))
		rc = QIAO_EIO;
	if (fclose(o->f) != 0 && rc == QIAO_OK)
		rc = QIAO_EIO;
	if (rc == QIAO_OK && rename(o->tmp, o->path) != 0) {
		node_log(NODE_LOG_ERR, "bundle", "rename to %s: %s", o->path,
		    strerror(errno));
		rc = QIAO_EIO;
	}
	if (rc != QIAO_OK)
		unlink(o->tmp);
	return rc;
}

struct in {
	void *map;
	size_t size;
	crdt_reader r;
	uint64_t frames;
};

static int
in_open(struct in *in, const char *path, const char *magic, char *err,
    size_t errlen)
{
	struct stat st;
	int fd;

	memset(in, 0, sizeof(*in));
	in->map = MAP_FAILED;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(fd, &st) != 0) {
		int e = errno;

		snprintf(err, errlen, "%s: %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return e == ENOENT ? QIAO_ENOTFOUND : QIAO_EIO;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 8) {
		close(fd);
		snprintf(err, errlen, "%s: not a qiao %s file (%s)", path,
		    magic[4] == 'H' ? "heads" : "bundle",
		    S_ISDIR(st.st_mode)	  ? "a directory"
		    : !S_ISREG(st.st_mode) ? "not a regular file"
					   : "too short");
		return QIAO_EMALFORMED;
	}
	in->size = (size_t)st.st_size;
	in->map = mmap(NULL, in->size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (in->map == MAP_FAILED) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return QIAO_EIO;
	}
	if (memcmp(in->map, magic, 8) != 0) {
		snprintf(err, errlen, "%s: not a qiao %s file (bad magic)",
		    path, magic[4] == 'H' ? "heads" : "bundle");
		return QIAO_EMALFORMED;
	}
	crdt_reader_init(&in->r, (const uint8_t *)in->map + 8, in->size - 8);
	return QIAO_OK;
}

static void
in_close(struct in *in)
{
	if (in->map != MAP_FAILED && in->map != NULL)
		munmap(in->map, in->size);
}

static void
in_rewind(struct in *in)
{
	crdt_reader_init(&in->r, (const uint8_t *)in->map + 8, in->size - 8);
	in->frames = 0;
}

/*
 * The next frame: QIAO_OK with *msg, QIAO_ENOTFOUND at a valid trailer,
 * QIAO_EMALFORMED (err says where) for broken framing or truncation.
 */
static int
in_next(struct in *in, const char *path, node_sync_msg *msg, char *err,
    size_t errlen)
{
	const uint8_t *b;
	size_t n, len;
	uint64_t total;
	const char *why = NULL;
	int rc;

	memset(msg, 0, sizeof(*msg));
	if (in->r.p == in->r.end) {
		snprintf(err, errlen, "%s: truncated after %llu messages "
				      "(no trailer)",
		    path, (unsigned long long)in->frames);
		return QIAO_EMALFORMED;
	}
	if (crdt_read_peek(&in->r) == CRDT_KIND_ARRAY) {
		if (crdt_read_array(&in->r, &n) != QIAO_OK || n != 1 ||
		    crdt_read_uint(&in->r, &total) != QIAO_OK ||
		    crdt_read_done(&in->r) != QIAO_OK)
			goto bad;
		if (total != in->frames) {
			snprintf(err, errlen, "%s: the trailer counts %llu "
					      "messages, the file holds %llu",
			    path, (unsigned long long)total,
			    (unsigned long long)in->frames);
			return QIAO_EMALFORMED;
		}
		return QIAO_ENOTFOUND;
	}
	if (crdt_read_bin(&in->r, &b, &len) != QIAO_OK)
		goto bad;
	if (len > FRAME_MAX) {
		snprintf(err, errlen, "%s: message %llu is too large", path,
		    (unsigned long long)in->frames);
		return QIAO_EMALFORMED;
	}
	in->frames++;
	if ((rc = node_syncwire_decode(msg, b, len, &why)) != QIAO_OK) {
		node_syncwire_msg_fini(msg);
		snprintf(err, errlen, "%s: message %llu: %s", path,
		    (unsigned long long)in->frames, why ? why : "malformed");
		return rc == QIAO_ENOMEM ? rc : QIAO_EMALFORMED;
	}
	return QIAO_OK;
bad:
	snprintf(err, errlen, "%s: malformed at byte %zu: %s", path,
	    8 + (size_t)(in->r.p - in->r.start),
	    in->r.why ? in->r.why : "bad framing");
	return QIAO_EMALFORMED;
}

static int
hello_of(node *n, node_sync_hello *h)
{
	const qiao_conf *c = node_get_conf(n);
	const uint8_t *self = node_self(n);

	if (self == NULL)
		return QIAO_ENOTFOUND;
	memset(h, 0, sizeof(*h));
	h->version = QIAO_SYNC_VERSION;
	memcpy(h->key, self, QIAO_KEY_LEN);
	h->role = (uint64_t)c->role;
	snprintf(h->region, sizeof(h->region), "%s", c->region);
	h->window = c->window;
	h->max_message = c->max_message;
	h->flags = QIAO_SYNC_FLAG_ZSTD;
	return QIAO_OK;
}

int
node_bundle_heads(node *n, const char *path, uint64_t *authors)
{
	node_sync_head *v = NULL;
	node_sync_hello h;
	struct out o;
	node_txn *txn;
	crdt_writer w;
	size_t count = 0, off = 0;
	int rc;

	if ((rc = hello_of(n, &h)) != QIAO_OK)
		return rc;
	if ((rc = node_store_txn_begin(node_get_store(n), false, &txn)) != 0)
		return rc;
	rc = node_store_tick(txn, &h.tick);
	if (rc == QIAO_OK)
		rc = node_sync_heads_list(n, txn, NULL, &v, &count);
	node_store_txn_abort(txn);
	if (rc != QIAO_OK)
		return rc;
	if ((rc = out_open(&o, path, QIAO_HEADS_MAGIC)) != QIAO_OK) {
		free(v);
		return rc;
	}
	crdt_writer_init(&w);
	node_syncwire_hello(&w, &h);
	out_frame(&o, &w);
	do {
		size_t k = count - off > QIAO_SYNC_HEADS_MAX
		    ? QIAO_SYNC_HEADS_MAX
		    : count - off;

		crdt_writer_init(&w);
		node_syncwire_heads(&w, h.tick, off + k < count,
		    k > 0 ? v + off : NULL, k);
		out_frame(&o, &w);
		off += k;
	} while (off < count);
	free(v);
	if ((rc = out_close(&o, QIAO_OK)) != QIAO_OK)
		return rc;
	*authors = count;
	return QIAO_OK;
}

static int
cmp_head(const void *a, const void *b)
{
	return memcmp(((const node_sync_head *)a)->author,
	    ((const node_sync_head *)b)->author, QIAO_KEY_LEN);
}

/* Reads a heads file: the peer's HELLO and every head it holds, sorted. */
static int
read_heads(const char *path, node_sync_hello *hello, node_sync_head **out,
    size_t *count, char *err, size_t errlen)
{
	struct in in;
	node_sync_msg m;
	node_sync_head *v = NULL;
	size_t n = 0;
	bool more = true;
	int rc;

	if ((rc = in_open(&in, path, QIAO_HEADS_MAGIC, err, errlen)) != 0) {
		in_close(&in);
		return rc;
	}
	rc = in_next(&in, path, &m, err, errlen);
	if (rc == QIAO_OK && m.type != NODE_SYNC_HELLO) {
		snprintf(err, errlen, "%s: does not start with a HELLO", path);
		rc = QIAO_EMALFORMED;
	}
	if (rc == QIAO_ENOTFOUND) {
		snprintf(err, errlen, "%s: holds no HELLO", path);
		rc = QIAO_EMALFORMED;
	}
	if (rc == QIAO_OK)
		*hello = m.hello;
	node_syncwire_msg_fini(&m);
	while (rc == QIAO_OK) {
		rc = in_next(&in, path, &m, err, errlen);
		if (rc != QIAO_OK)
			break;
		if (m.type != NODE_SYNC_HEADS || !more) {
			snprintf(err, errlen, "%s: expected HEADS", path);
			rc = QIAO_EMALFORMED;
		} else {
			node_sync_head *nv = realloc(v,
			    (n + m.heads.n + 1) * sizeof(*v));

			if (nv == NULL) {
				rc = QIAO_ENOMEM;
			} else {
				v = nv;
				if (m.heads.n > 0)
					memcpy(v + n, m.heads.v,
					    m.heads.n * sizeof(*v));
				n += m.heads.n;
				more = m.heads.more;
			}
		}
		node_syncwire_msg_fini(&m);
	}
	in_close(&in);
	if (rc == QIAO_ENOTFOUND && more) {
		snprintf(err, errlen, "%s: its last HEADS says more follow",
		    path);
		rc = QIAO_EMALFORMED;
	}
	if (rc != QIAO_ENOTFOUND) {
		free(v);
		return rc;
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_head);
	*out = v;
	*count = n;
	return QIAO_OK;
}

int
node_bundle_export(node *n, const char *heads_path, const char *out_path,
    node_bundle_stats *st, char *err, size_t errlen)
{
	const qiao_conf *c = node_get_conf(n);
	node_sync_hello peer, me;
	node_sync_head *theirs = NULL, *mine = NULL;
	size_t ntheirs = 0, nmine = 0;
	node_syncwire_batch b;
	node_trust_id id;
	struct out o;
	node_txn *txn;
	crdt_writer w;
	int rc, level = c->compress ? 3 : 0;

	memset(st, 0, sizeof(*st));
	err[0] = '\0';
	if ((rc = read_heads(heads_path, &peer, &theirs, &ntheirs, err,
		 errlen)) != QIAO_OK)
		return rc;
	if ((rc = hello_of(n, &me)) != QIAO_OK) {
		snprintf(err, errlen, "this store has no station key");
		free(theirs);
		return rc;
	}
	memcpy(st->peer, peer.key, QIAO_KEY_LEN);
	if ((rc = node_store_txn_begin(node_get_store(n), false, &txn)) != 0) {
		free(theirs);
		return rc;
	}
	/* The scope its certificate gives it, else what it claims. */
	rc = node_trust_lookup(n, txn, peer.key, &id);
	if (rc == QIAO_OK)
		snprintf(st->peer_region, sizeof(st->peer_region), "%s",
		    id.region);
	else if (rc == QIAO_EUNKNOWN)
		snprintf(st->peer_region, sizeof(st->peer_region), "%s",
		    peer.region);
	if (rc == QIAO_OK || rc == QIAO_EUNKNOWN)
		rc = node_sync_heads_list(n, txn, st->peer_region, &mine,
		    &nmine);
	if (rc == QIAO_OK)
		rc = out_open(&o, out_path, QIAO_BUNDLE_MAGIC);
	if (rc != QIAO_OK) {
		node_store_txn_abort(txn);
		free(theirs);
		free(mine);
		return rc;
	}
	crdt_writer_init(&w);
	node_syncwire_hello(&w, &me);
	out_frame(&o, &w);
	node_syncwire_batch_init(&b);
	/* Issuers first (the list is ordered so), each log from where the
	 * peer's ends. */
	for (size_t i = 0; rc == QIAO_OK && i < nmine; i++) {
		node_sync_head *t = bsearch(&mine[i], theirs, ntheirs,
		    sizeof(*theirs), cmp_head);
		uint64_t from = t != NULL ? t->seq + 1 : 1;
		crdt_entry e;

		if (t != NULL && t->seq <= mine[i].seq) {
			rc = node_store_entry_get(txn, mine[i].author, t->seq,
			    &e);
			if (rc == QIAO_OK &&
			    memcmp(e.hash, t->hash, QIAO_HASH_LEN) != 0)
				from = t->seq; /* a fork: send ours as proof */
			if (rc == QIAO_ENOTFOUND)
				rc = QIAO_OK;
		}
		for (uint64_t seq = from; rc == QIAO_OK && seq <= mine[i].seq;
		     seq++) {
			const uint8_t *body;
			size_t blen;

			rc = node_store_entry_get(txn, mine[i].author, seq, &e);
			if (rc == QIAO_OK)
				rc = node_store_body_get(txn, e.body_hash,
				    &body, &blen);
			if (rc == QIAO_ENOTFOUND) {
				rc = QIAO_OK;
				break;
			}
			if (rc != QIAO_OK)
				break;
			if (b.entries > 0 && node_syncwire_batch_size(&b) +
				    blen + 100 > c->batch_bytes) {
				crdt_writer_init(&w);
				rc = node_syncwire_batch_finish(&b, level, &w);
				out_frame(&o, &w);
				if (rc != QIAO_OK)
					break;
			}
			rc = node_syncwire_batch_add(&b, &e, body, blen, true);
			st->entries++;
		}
	}
	if (rc == QIAO_OK && b.entries > 0) {
		crdt_writer_init(&w);
		rc = node_syncwire_batch_finish(&b, level, &w);
		out_frame(&o, &w);
	}
	node_syncwire_batch_fini(&b);
	node_store_txn_abort(txn);
	free(theirs);
	free(mine);
	rc = out_close(&o, rc);
	st->bytes = o.bytes;
	if (rc != QIAO_OK && err[0] == '\0')
		snprintf(err, errlen, "%s: %s", out_path, qiao_strerror(rc));
	return rc;
}

/* One pass over a bundle: every batch ingested in its own transaction. */
static int
import_pass(node *n, struct in *in, const char *path, node_bundle_stats *st,
    uint64_t *retryable, char *err, size_t errlen)
{
	node_sync_msg m;
	bool first = true;
	int rc;

	in_rewind(in);
	*retryable = 0;
	memset(&st->ingest, 0, sizeof(st->ingest));
	st->entries = 0;
	while ((rc = in_next(in, path, &m, err, errlen)) == QIAO_OK) {
		node_syncwire_items it;
		node_ingest_stats is;
		node_txn *txn;
		const char *why = NULL;

		if (first) {
			first = false;
			if (m.type != NODE_SYNC_HELLO ||
			    m.hello.version < 1) {
				node_syncwire_msg_fini(&m);
				snprintf(err, errlen, "%s: does not start "
						      "with a HELLO",
				    path);
				return QIAO_EMALFORMED;
			}
			memcpy(st->peer, m.hello.key, QIAO_KEY_LEN);
			snprintf(st->peer_region, sizeof(st->peer_region),
			    "%s", m.hello.region);
			node_syncwire_msg_fini(&m);
			continue;
		}
		if (m.type != NODE_SYNC_BATCH) {
			node_syncwire_msg_fini(&m);
			snprintf(err, errlen, "%s: message %llu is not a "
					      "BATCH",
			    path, (unsigned long long)in->frames);
			return QIAO_EMALFORMED;
		}
		if ((rc = node_store_txn_begin(node_get_store(n), false,
			 &txn)) != QIAO_OK) {
			node_syncwire_msg_fini(&m);
			return rc;
		}
		rc = node_syncwire_batch_decode(txn, m.batch.codec,
		    m.batch.payload, m.batch.len, PLAIN_MAX, &it, &why);
		node_store_txn_abort(txn);
		node_syncwire_msg_fini(&m);
		if (rc != QIAO_OK) {
			snprintf(err, errlen, "%s: message %llu: %s", path,
			    (unsigned long long)in->frames,
			    why ? why : qiao_strerror(rc));
			return rc == QIAO_ENOMEM ? rc : QIAO_EMALFORMED;
		}
		st->entries += it.n + it.gaps;
		*retryable += it.gaps;
		st->ingest.rejected += it.gaps;
		if (it.n > 0 && (rc = node_ingest(n, it.v, it.n, &is)) != 0) {
			node_syncwire_items_fini(&it);
			snprintf(err, errlen, "%s: store: %s", path,
			    qiao_strerror(rc));
			return rc;
		}
		for (size_t i = 0; i < it.n; i++) {
			const node_ingest_item *x = &it.v[i];

			if (x->rc == QIAO_OK) {
				st->ingest.stored++;
				st->ingest.refused += x->op_rc != QIAO_OK;
			} else if (x->rc == QIAO_EDUP) {
				st->ingest.duplicate++;
			} else {
				st->ingest.rejected++;
				if (node_syncwire_retryable(x->rc))
					(*retryable)++;
				node_ingest_describe(x, st->last_reject,
				    sizeof(st->last_reject));
			}
		}
		node_syncwire_items_fini(&it);
	}
	return rc == QIAO_ENOTFOUND ? QIAO_OK : rc;
}

int
node_bundle_import(node *n, const char *path, node_bundle_stats *st,
    char *err, size_t errlen)
{
	node_ingest_stats total = { 0 };
	uint64_t retryable = 0;
	struct in in;
	int rc;

	memset(st, 0, sizeof(*st));
	err[0] = '\0';
	if ((rc = in_open(&in, path, QIAO_BUNDLE_MAGIC, err, errlen)) != 0) {
		in_close(&in);
		return rc;
	}
	st->bytes = in.size;
	/* An entry refused for want of its issuer's certificate is tried
	 * again once a pass stored something (bundles are written issuers
	 * first, so one pass is the rule). */
	for (int pass = 0; pass < PASSES_MAX; pass++) {
		rc = import_pass(n, &in, path, st, &retryable, err, errlen);
		total.stored += st->ingest.stored;
		total.refused += st->ingest.refused;
		if (pass == 0)
			total.duplicate = st->ingest.duplicate;
		if (rc != QIAO_OK || retryable == 0 || st->ingest.stored == 0)
			break;
	}
	total.rejected = st->ingest.rejected;
	st->ingest = total;
	in_close(&in);
	return rc;
}
