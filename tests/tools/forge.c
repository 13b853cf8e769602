/*
 * forge — crafts tampered and forged `qiao log export` files for the
 * integration tests (tests/it_trust.sh). A helper, never run as a suite.
 *
 *   forge cat    OUT IN...             the entries of the INs, in order
 *   forge count  IN                    number of entries
 *   forge find   IN AUTHOR SEQ         index of that entry
 *   forge flip   IN OUT INDEX [BYTE]   flip one bit of a byte of the entry
 *                                      (default: the last byte of its
 *                                      signature)
 *   forge body   IN OUT INDEX          flip one bit of its body
 *   forge drop   IN OUT INDEX          leave the entry out
 *   forge resign IN OUT INDEX KEYDIR   sign its header with another key
 *                                      (the author stays)
 *   forge reauthor IN OUT INDEX KEYDIR make it that key's entry, validly
 *                                      signed
 *
 * INDEX counts entries from 0 in file order. Exit 0, 1 on failure, 2 on
 * usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crdt/codec.h"
#include "crdt/entry.h"
#include "crdt/hex.h"
#include "node/keys.h"
#include "node/logfile.h"

struct rec {
	uint8_t raw[QIAO_RAW_MAX];
	size_t rawlen;
	uint8_t *body; /* NULL: not carried */
	size_t blen;
};

static struct rec *recs;
static size_t nrecs;

static int
die(const char *fmt, const char *arg)
{
	fprintf(stderr, "forge: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return 1;
}

static int
load(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long size;
	crdt_reader r;
	int rc = 1;

	if (f == NULL)
		return die("cannot open %s", path);
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 8 ||
	    fseek(f, 0, SEEK_SET) != 0 ||
	    (buf = malloc((size_t)size)) == NULL) {
		fclose(f);
		return die("cannot read %s", path);
	}
	if (fread(buf, 1, (size_t)size, f) != (size_t)size ||
	    memcmp(buf, QIAO_LOGFILE_MAGIC, 8) != 0) {
		fclose(f);
		free(buf);
		return die("%s is not a qiao log file", path);
	}
	fclose(f);
	crdt_reader_init(&r, buf + 8, (size_t)size - 8);
	for (;;) {
		const uint8_t *raw, *body;
		size_t n, rl, bl;
		uint64_t total;
		struct rec *v;

		if (crdt_read_array(&r, &n) != QIAO_OK)
			break;
		if (n == 1) {
			if (crdt_read_uint(&r, &total) == QIAO_OK &&
			    total == nrecs && crdt_read_done(&r) == QIAO_OK)
				rc = 0;
			break;
		}
		if (n != 2 || crdt_read_bin(&r, &raw, &rl) != QIAO_OK ||
		    rl > QIAO_RAW_MAX)
			break;
		if ((v = realloc(recs, (nrecs + 1) * sizeof(*v))) == NULL)
			break;
		recs = v;
		v = &recs[nrecs];
		/* Counted now, so main frees its body whatever happens. */
		nrecs++;
		memcpy(v->raw, raw, rl);
		v->rawlen = rl;
		v->body = NULL;
		v->blen = 0;
		if (crdt_read_peek(&r) == CRDT_KIND_NIL) {
			if (crdt_read_nil(&r) != QIAO_OK)
				break;
		} else {
			if (crdt_read_bin(&r, &body, &bl) != QIAO_OK ||
			    (v->body = malloc(bl + 1)) == NULL)
				break;
			memcpy(v->body, body, bl);
			v->blen = bl;
		}
	}
	free(buf);
	return rc ? die("%s: bad framing", path) : 0;
}

static int
save(const char *path)
{
	crdt_writer w;
	FILE *f;
	int rc;

	crdt_writer_init(&w);
	for (size_t i = 0; i < nrecs; i++) {
		crdt_write_array(&w, 2);
		crdt_write_bin(&w, recs[i].raw, recs[i].rawlen);
		if (recs[i].body != NULL)
			crdt_write_bin(&w, recs[i].body, recs[i].blen);
		else
			crdt_write_nil(&w);
	}
	crdt_write_array(&w, 1);
	crdt_write_uint(&w, nrecs);
	if ((rc = crdt_writer_error(&w)) != QIAO_OK) {
		crdt_writer_fini(&w);
		return die("%s", qiao_strerror(rc));
	}
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(QIAO_LOGFILE_MAGIC, 1, 8, f) != 8 ||
	    fwrite(w.buf, 1, w.len, f) != w.len || fclose(f) != 0) {
		crdt_writer_fini(&w);
		return die("cannot write %s", path);
	}
	crdt_writer_fini(&w);
	return 0;
}

static int
parse(size_t i, crdt_entry *e)
{
	const char *why = NULL;

	if (crdt_entry_parse(e, recs[i].raw, recs[i].rawlen, NULL, &why) !=
	    QIAO_OK)
		return die("the entry does not parse: %s", why ? why : "?");
	return 0;
}

/* Re-signs entry i with the key in dir; keep_author leaves the header as
 * it is (so the signature is not the author's). */
static int
resign(size_t i, const char *dir, bool keep_author)
{
	node_keys *k;
	crdt_entry e;
	uint8_t author[QIAO_KEY_LEN];
	int rc;

	if (parse(i, &e) != 0)
		return 1;
	if ((rc = node_keys_load(&k, dir)) != QIAO_OK)
		return die("cannot load the key in %s", dir);
	memcpy(author, e.author, QIAO_KEY_LEN);
	rc = crdt_entry_sign(&e, node_keys_secret(k));
	node_keys_free(k);
	if (rc != QIAO_OK)
		return die("%s", "cannot sign");
	if (keep_author) {
		uint8_t sig[QIAO_SIG_LEN];

		memcpy(sig, crdt_entry_sig(&e), QIAO_SIG_LEN);
		memcpy(e.author, author, QIAO_KEY_LEN);
		if (crdt_entry_rebuild(&e, sig) != QIAO_OK)
			return die("%s", "cannot rebuild");
	}
	memcpy(recs[i].raw, e.raw, crdt_entry_raw_len(&e));
	recs[i].rawlen = crdt_entry_raw_len(&e);
	return 0;
}

static int
usage(void)
{
	fprintf(stderr, "usage: forge cat|count|find|flip|body|drop|resign|"
			"reauthor ... (see tests/tools/forge.c)\n");
	return 2;
}

static int
run(int argc, char **argv)
{
	const char *op;
	size_t i;
	int rc = 0;

	if (argc < 3)
		return usage();
	op = argv[1];
	if (strcmp(op, "cat") == 0) {
		for (int k = 3; k < argc; k++) {
			size_t before = nrecs;

			/* load() checks the trailer against its own count. */
			struct rec *keep = recs;

			recs = NULL;
			nrecs = 0;
			if (load(argv[k]) != 0) {
				for (size_t j = 0; j < nrecs; j++)
					free(recs[j].body);
				free(recs);
				recs = keep;
				nrecs = before;
				return 1;
			}
			if (before > 0) {
				struct rec *v = realloc(keep,
				    (before + nrecs) * sizeof(*v));

				if (v == NULL)
					return die("%s", "out of memory");
				memcpy(v + before, recs, nrecs * sizeof(*v));
				free(recs);
				recs = v;
				nrecs += before;
			}
		}
		return save(argv[2]);
	}
	if (load(argv[2]) != 0)
		return 1;
	if (strcmp(op, "count") == 0) {
		printf("%zu\n", nrecs);
		return 0;
	}
	if (strcmp(op, "find") == 0) {
		uint8_t author[QIAO_KEY_LEN];
		unsigned long long seq;
		crdt_entry e;

		if (argc != 5 ||
		    crdt_hex_decode(author, QIAO_KEY_LEN, argv[3]) != 0)
			return usage();
		seq = strtoull(argv[4], NULL, 10);
		for (i = 0; i < nrecs; i++) {
			if (parse(i, &e) != 0)
				return 1;
			if (memcmp(e.author, author, QIAO_KEY_LEN) == 0 &&
			    e.seq == seq) {
				printf("%zu\n", i);
				return 0;
			}
		}
		return die("%s", "no such entry");
	}
	if (argc < 5)
		return usage();
	i = strtoull(argv[4], NULL, 10);
	if (i >= nrecs)
		return die("index %s is past the last entry", argv[4]);
	if (strcmp(op, "flip") == 0) {
		size_t at = argc > 5 ? strtoull(argv[5], NULL, 10)
				     : recs[i].rawlen - 1;

		if (at >= recs[i].rawlen)
			return die("byte %s is past the entry", argv[5]);
		recs[i].raw[at] ^= 0x01;
	} else if (strcmp(op, "body") == 0) {
		if (recs[i].body == NULL || recs[i].blen == 0)
			return die("%s", "the entry carries no body");
		recs[i].body[recs[i].blen - 1] ^= 0x01;
	} else if (strcmp(op, "drop") == 0) {
		free(recs[i].body);
		memmove(&recs[i], &recs[i + 1],
		    (nrecs - i - 1) * sizeof(*recs));
		nrecs--;
	} else if (strcmp(op, "resign") == 0 && argc == 6) {
		rc = resign(i, argv[5], true);
	} else if (strcmp(op, "reauthor") == 0 && argc == 6) {
		rc = resign(i, argv[5], false);
	} else {
		return usage();
	}
	return rc == 0 ? save(argv[3]) : rc;
}

int
main(int argc, char **argv)
{
	int rc;

	if (sodium_init() < 0)
		return die("%s", "libsodium failed to initialise");
	rc = run(argc, argv);

	for (size_t j = 0; j < nrecs; j++)
		free(recs[j].body);
	free(recs);
	return rc;
}
