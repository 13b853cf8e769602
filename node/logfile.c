#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crdt/codec.h"
#include "node/log.h"
#include "node/logfile.h"

#define BATCH 1000

/* export */

struct exporter {
	node_txn *txn;
	FILE *f;
	uint64_t from;
	uint64_t count;
	const uint8_t *skip; /* an author already written (the root) */
	int err;
};

static int
write_entry(struct exporter *x, const crdt_entry *e)
{
	const uint8_t *body;
	size_t blen;
	crdt_writer w;
	int rc;

	crdt_writer_init(&w);
	crdt_write_array(&w, 2);
	crdt_write_bin(&w, e->raw, crdt_entry_raw_len(e));
	rc = node_store_body_get(x->txn, e->body_hash, &body, &blen);
	if (rc == QIAO_OK)
		crdt_write_bin(&w, body, blen);
	else if (rc == QIAO_ENOTFOUND)
		crdt_write_nil(&w);
	if (rc == QIAO_OK || rc == QIAO_ENOTFOUND)
		rc = crdt_writer_error(&w);
	if (rc == QIAO_OK && fwrite(w.buf, 1, w.len, x->f) != w.len)
		rc = QIAO_EIO;
	crdt_writer_fini(&w);
	if (rc == QIAO_OK)
		x->count++;
	return rc;
}

static int
export_author(struct exporter *x, const uint8_t *author)
{
	node_head h;
	crdt_entry e;
	int rc = node_store_head_get(x->txn, author, &h);

	if (rc == QIAO_ENOTFOUND)
		return QIAO_OK;
	for (uint64_t seq = x->from; rc == QIAO_OK && seq <= h.seq; seq++) {
		if ((rc = node_store_entry_get(x->txn, author, seq, &e)) != 0)
			return rc;
		rc = write_entry(x, &e);
	}
	return rc;
}

static int
on_author(void *ctx, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	struct exporter *x = ctx;

	(void)val;
	(void)vlen;
	if (klen != QIAO_KEY_LEN)
		return QIAO_ESTORE;
	if (x->skip != NULL && memcmp(key, x->skip, QIAO_KEY_LEN) == 0)
		return 0;
	return export_author(x, key);
}

int
node_logfile_export(node *n, const char *path, const uint8_t *author,
    uint64_t from, uint64_t *count)
{
	struct exporter x = { .from = from ? from : 1 };
	char tmp[4096];
	crdt_writer w;
	uint8_t trailer[16];
	int rc, fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return QIAO_EINVAL;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) <
		0 ||
	    (x.f = fdopen(fd, "wb")) == NULL) {
		node_log(NODE_LOG_ERR, "export", "%s: %s", tmp,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return QIAO_EIO;
	}
	rc = node_store_txn_begin(node_get_store(n), false, &x.txn);
	if (rc == QIAO_OK &&
	    fwrite(QIAO_LOGFILE_MAGIC, 1, 8, x.f) != 8)
		rc = QIAO_EIO;
	if (rc == QIAO_OK && author != NULL) {
		rc = export_author(&x, author);
	} else if (rc == QIAO_OK) {
		/* The root's log first: its enrolments let an importer accept
		 * everyone else's entries in one pass. */
		x.skip = node_root(n);
		if (x.skip != NULL)
			rc = export_author(&x, x.skip);
		if (rc == QIAO_OK)
			rc = node_store_scan(x.txn, NODE_TB_HEADS, NULL, 0,
			    on_author, &x);
	}
	node_store_txn_abort(x.txn);
	if (rc == QIAO_OK) {
		crdt_writer_init_fixed(&w, trailer, sizeof(trailer));
		crdt_write_array(&w, 1);
		crdt_write_uint(&w, x.count);
		if (fwrite(trailer, 1, w.len, x.f) != w.len)
			rc = QIAO_EIO;
	}
	if (rc == QIAO_OK && (fflush(x.f) != 0 || fsync(fileno(x.f)) != 0))
		rc = QIAO_EIO;
	if (fclose(x.f) != 0 && rc == QIAO_OK)
		rc = QIAO_EIO;
	if (rc == QIAO_OK && rename(tmp, path) != 0) {
		node_log(NODE_LOG_ERR, "export", "rename to %s: %s", path,
		    strerror(errno));
		rc = QIAO_EIO;
	}
	if (rc != QIAO_OK) {
		unlink(tmp);
		return rc;
	}
	*count = x.count;
	return QIAO_OK;
}

/* import */

struct importer {
	node *n;
	node_logfile_report_fn report;
	void *ctx;
	node_ingest_stats stats;
	node_ingest_item *batch;
	size_t *batch_index;
	size_t nbatch;
	/* Entries that may succeed once later ones are in (unknown author,
	 * or a gap behind one), with their file index. */
	node_ingest_item *retry;
	size_t *retry_index;
	size_t nretry, cap;
};

static bool
retryable(const node_ingest_item *it)
{
	return it->rc == QIAO_EUNKNOWN || it->rc == QIAO_EGAP;
}

/* Rejected entries, and stored ones whose operation was refused. */
static bool
worth_reporting(const node_ingest_item *it)
{
	if (it->rc == QIAO_OK)
		return it->op_rc != QIAO_OK;
	return it->rc != QIAO_EDUP;
}

static void
report(struct importer *im, size_t index, const node_ingest_item *it)
{
	char why[256];

	if (im->report == NULL)
		return;
	node_ingest_describe(it, why, sizeof(why));
	im->report(im->ctx, index, it, why);
}

static int
keep_for_retry(struct importer *im, const node_ingest_item *it, size_t index)
{
	if (im->nretry == im->cap) {
		size_t cap = im->cap ? 2 * im->cap : 256;
		node_ingest_item *v = realloc(im->retry, cap * sizeof(*v));
		size_t *ix;

		if (v == NULL)
			return QIAO_ENOMEM;
		im->retry = v;
		if ((ix = realloc(im->retry_index, cap * sizeof(*ix))) == NULL)
			return QIAO_ENOMEM;
		im->retry_index = ix;
		im->cap = cap;
	}
	im->retry[im->nretry] = *it;
	im->retry_index[im->nretry++] = index;
	return QIAO_OK;
}

static void
count(struct importer *im, const node_ingest_item *it)
{
	if (it->rc == QIAO_OK) {
		im->stats.stored++;
		im->stats.refused += it->op_rc != QIAO_OK;
	} else if (it->rc == QIAO_EDUP) {
		im->stats.duplicate++;
	} else {
		im->stats.rejected++;
	}
}

static int
flush_batch(struct importer *im)
{
	int rc;

	if (im->nbatch == 0)
		return QIAO_OK;
	if ((rc = node_ingest(im->n, im->batch, im->nbatch, NULL)) != 0)
		return rc;
	for (size_t i = 0; i < im->nbatch; i++) {
		node_ingest_item *it = &im->batch[i];

		if (retryable(it)) {
			if ((rc = keep_for_retry(im, it, im->batch_index[i])))
				return rc;
			continue;
		}
		count(im, it);
		if (worth_reporting(it))
			report(im, im->batch_index[i], it);
	}
	im->nbatch = 0;
	return QIAO_OK;
}

/* Retries the held-back entries while each pass stores something. */
static int
retry_all(struct importer *im)
{
	bool progress = true;
	int rc;

	while (progress && im->nretry > 0) {
		size_t kept = 0;

		progress = false;
		for (size_t off = 0; off < im->nretry; off += BATCH) {
			size_t n = im->nretry - off < BATCH ? im->nretry - off
							     : BATCH;

			if ((rc = node_ingest(im->n, im->retry + off, n,
				 NULL)) != QIAO_OK)
				return rc;
		}
		for (size_t i = 0; i < im->nretry; i++) {
			node_ingest_item *it = &im->retry[i];

			if (retryable(it)) {
				im->retry[kept] = *it;
				im->retry_index[kept++] = im->retry_index[i];
				continue;
			}
			progress = true;
			count(im, it);
			if (worth_reporting(it))
				report(im, im->retry_index[i], it);
		}
		im->nretry = kept;
	}
	for (size_t i = 0; i < im->nretry; i++) {
		count(im, &im->retry[i]);
		report(im, im->retry_index[i], &im->retry[i]);
	}
	im->nretry = 0;
	return QIAO_OK;
}

int
node_logfile_reader_init(node_logfile_reader *rd, const uint8_t *buf,
    size_t len)
{
	memset(rd, 0, sizeof(*rd));
	if (len < 8 || memcmp(buf, QIAO_LOGFILE_MAGIC, 8) != 0) {
		snprintf(rd->err, sizeof(rd->err),
		    "not a qiao log file (bad magic)");
		return QIAO_EMALFORMED;
	}
	crdt_reader_init(&rd->r, buf + 8, len - 8);
	return QIAO_OK;
}

int
node_logfile_reader_next(node_logfile_reader *rd, const uint8_t **raw,
    size_t *rawlen, const uint8_t **body, size_t *blen)
{
	crdt_reader *r = &rd->r;
	const uint8_t *b = NULL, *x = NULL;
	size_t n, bl = 0, xl = 0;
	uint64_t total;

	if (r->p == r->end) {
		snprintf(rd->err, sizeof(rd->err),
		    "truncated: the file ends after %zu entries without its "
		    "trailer", rd->index);
		return QIAO_EMALFORMED;
	}
	if (crdt_read_array(r, &n) != QIAO_OK)
		goto bad;
	if (n == 1) {
		if (crdt_read_uint(r, &total) != QIAO_OK ||
		    crdt_read_done(r) != QIAO_OK)
			goto bad;
		if (total != rd->index) {
			snprintf(rd->err, sizeof(rd->err),
			    "the trailer counts %llu entries, the file holds "
			    "%zu",
			    (unsigned long long)total, rd->index);
			return QIAO_EMALFORMED;
		}
		return QIAO_ENOTFOUND;
	}
	if (n != 2 || crdt_read_bin(r, &x, &xl) != QIAO_OK) {
		(void)crdt_read_fail(r, "expected [entry, body]");
		goto bad;
	}
	if (crdt_read_peek(r) == CRDT_KIND_NIL) {
		if (crdt_read_nil(r) != QIAO_OK)
			goto bad;
	} else if (crdt_read_bin(r, &b, &bl) != QIAO_OK) {
		goto bad;
	}
	rd->index++;
	*raw = x;
	*rawlen = xl;
	*body = b;
	*blen = bl;
	return QIAO_OK;
bad:
	snprintf(rd->err, sizeof(rd->err), "malformed at byte %zu: %s",
	    8 + r->at, r->why ? r->why : "bad framing");
	return QIAO_EMALFORMED;
}

/* Reads records until the trailer, ingesting them in batches. */
static int
read_records(struct importer *im, node_logfile_reader *rd, char *err,
    size_t errlen)
{
	const uint8_t *raw, *body;
	size_t rawlen, blen;
	int rc;

	while ((rc = node_logfile_reader_next(rd, &raw, &rawlen, &body,
		    &blen)) == QIAO_OK) {
		node_ingest_item *it = &im->batch[im->nbatch];

		memset(it, 0, sizeof(*it));
		it->body = body;
		it->body_len = blen;
		im->batch_index[im->nbatch] = rd->index - 1;
		if (crdt_entry_parse(&it->e, raw, rawlen, NULL, &it->why) !=
		    QIAO_OK) {
			it->rc = QIAO_EMALFORMED;
			count(im, it);
			report(im, rd->index - 1, it);
			continue;
		}
		if (++im->nbatch == BATCH && (rc = flush_batch(im)) != QIAO_OK)
			return rc;
	}
	if (rc == QIAO_ENOTFOUND)
		return QIAO_OK;
	snprintf(err, errlen, "%s", rd->err);
	return rc;
}

int
node_logfile_import(node *n, const char *path, node_logfile_report_fn rep,
    void *ctx, node_ingest_stats *stats, char *err, size_t errlen)
{
	struct importer im = { .n = n, .report = rep, .ctx = ctx };
	node_logfile_reader rd;
	struct stat st;
	void *map = MAP_FAILED;
	int fd, rc, rc2;

	err[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0) {
		rc = errno == ENOENT ? QIAO_ENOTFOUND : QIAO_EIO;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 8) {
		close(fd);
		snprintf(err, errlen, "%s: not a qiao log file (%s)", path,
		    S_ISDIR(st.st_mode)	  ? "a directory"
		    : !S_ISREG(st.st_mode) ? "not a regular file"
					   : "too short");
		return QIAO_EMALFORMED;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return QIAO_EIO;
	}
	if (node_logfile_reader_init(&rd, map, (size_t)st.st_size) != 0) {
		munmap(map, (size_t)st.st_size);
		snprintf(err, errlen, "%s: %s", path, rd.err);
		return QIAO_EMALFORMED;
	}
	im.batch = malloc(BATCH * sizeof(*im.batch));
	im.batch_index = malloc(BATCH * sizeof(*im.batch_index));
	if (im.batch == NULL || im.batch_index == NULL) {
		rc = QIAO_ENOMEM;
		goto out;
	}
	rc = read_records(&im, &rd, err, errlen);
	/* Keep what was read before any break in the framing. */
	if ((rc2 = flush_batch(&im)) == QIAO_OK)
		rc2 = retry_all(&im);
	if (rc2 != QIAO_OK) {
		rc = rc2;
		snprintf(err, errlen, "%s: store: %s", path, qiao_strerror(rc));
	}
	if (stats != NULL)
		*stats = im.stats;
out:
	free(im.batch);
	free(im.batch_index);
	free(im.retry);
	free(im.retry_index);
	munmap(map, (size_t)st.st_size);
	return rc;
}
