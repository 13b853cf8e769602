/*
 * logfile — raw entries in a file: `qiao log export` and `qiao log import`.
 *
 * Layout, v1 (docs/FORMAT.md):
 *   "QIAOLOG1"                     8 bytes of magic
 *   [raw, body]                    per entry, a msgpack array of two bins:
 *                                  raw = header || signature, exactly as
 *                                  stored; body = its body (nil if absent)
 *   [count]                        trailer: a one-element array, the number
 *                                  of entries; without it the file is
 *                                  truncated
 * Entries of an author appear in seq order. Import ingests in batches and
 * keeps every valid entry even when others are rejected; it retries entries
 * of authors whose enrolment came later in the file.
 */
#ifndef QIAO_NODE_LOGFILE_H
#define QIAO_NODE_LOGFILE_H

#include <stddef.h>
#include <stdint.h>

#include "crdt/codec.h"
#include "crdt/err.h"
#include "node/ingest.h"
#include "node/node.h"

#define QIAO_LOGFILE_MAGIC "QIAOLOG1"

/*
 * Reading the framing of a log file held in memory: no store, no I/O, so the
 * importer and the fuzz target share it.
 */
typedef struct node_logfile_reader {
	crdt_reader r;
	size_t index;  /* records read so far */
	char err[160]; /* why the last call failed */
} node_logfile_reader;

/* Checks the magic. QIAO_EMALFORMED (rd->err says why). Borrows buf. */
int node_logfile_reader_init(node_logfile_reader *rd, const uint8_t *buf,
    size_t len) QIAO_MUST_USE;

/*
 * The next record: raw entry bytes and its body (*body NULL when the file
 * holds none), pointing into the buffer. QIAO_ENOTFOUND after the trailer,
 * once its count matched and nothing follows it; QIAO_EMALFORMED when the
 * framing breaks (truncated, wrong count, bytes after the trailer...).
 */
int node_logfile_reader_next(node_logfile_reader *rd, const uint8_t **raw,
    size_t *rawlen, const uint8_t **body, size_t *blen) QIAO_MUST_USE;

/*
 * Writes the entries of author (all authors if NULL) from seq from on, to
 * path (through a temporary file, renamed when complete and synced).
 * *count gets the number written. QIAO_EIO, QIAO_ESTORE.
 */
int node_logfile_export(node *n, const char *path, const uint8_t *author,
    uint64_t from, uint64_t *count) QIAO_MUST_USE;

/* Called once per entry that was not stored (index counts from 0), and for
 * entries stored but whose operation was refused. */
typedef void (*node_logfile_report_fn)(void *ctx, size_t index,
    const node_ingest_item *it, const char *why);

/*
 * Imports path into n. Returns QIAO_OK when the file was read to its
 * trailer (individual entries may still have been rejected: see *stats and
 * the reports), QIAO_EMALFORMED when its framing broke (what came before the
 * break is kept; err says where), QIAO_EIO / QIAO_ENOTFOUND for the file,
 * QIAO_EFULL / QIAO_ESTORE from the store.
 */
int node_logfile_import(node *n, const char *path,
    node_logfile_report_fn report, void *ctx, node_ingest_stats *stats,
    char *err, size_t errlen) QIAO_MUST_USE;

#endif
