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
 * INDEX counts entries from 0 in file order.
 *
 * And audit bundles (crdt/audit.h), for tests/it_audit.sh:
 *   forge audit-ops     B                 each op: CASE OP TYPE AUTHOR SEQ
 *   forge audit-trust   B                 each trust entry: I TYPE AUTHOR
 *                                         SEQ SUBJECT
 *   forge audit-drop    B OUT CASE OP     leave an op out
 *   forge audit-swap    B OUT CASE I J    swap two ops in the file's order
 *   forge audit-flip    B OUT CASE OP     flip a bit of the op's signature
 *   forge audit-untrust B OUT I           leave trust entry I out
 *   forge audit-restate B OUT KEYDIR ROOT the exporter lies: state hashes
 *                                         as the verifier folds the bundle
 *                                         now (against ROOT, hex), then a
 *                                         new statement over it at the same
 *                                         seq, signed with KEYDIR's key
 * CASE, OP, I, J count from 0 in the bundle's order.
 *
 * Exit 0, 1 on failure, 2 on usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crdt/audit.h"
#include "crdt/auditor.h"
#include "crdt/body.h"
#include "crdt/codec.h"
#include "crdt/entry.h"
#include "crdt/hex.h"
#include "crdt/types.h"
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
			"reauthor|audit-... ... (see tests/tools/forge.c)\n");
	return 2;
}

/* Audit bundles. */

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL &&
	    fread(buf, 1, (size_t)n, f) == (size_t)n) {
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static int
audit_save(const crdt_audit_bundle *b, const char *path)
{
	uint8_t *buf;
	size_t len;
	FILE *f;
	int rc = 0;

	if (crdt_audit_encode(b, &buf, &len) != QIAO_OK)
		return die("%s", "cannot encode the bundle");
	if ((f = fopen(path, "wb")) == NULL || fwrite(buf, 1, len, f) != len)
		rc = die("cannot write %s", path);
	if (f != NULL && fclose(f) != 0)
		rc = die("cannot write %s", path);
	free(buf);
	return rc;
}

/* The exporter's lie: state hashes as folded now, and a new statement. */
static int
audit_restate(crdt_audit_bundle *b, const uint8_t *file, size_t flen,
    const char *keydir, const char *roothex, uint8_t **body_out)
{
	uint8_t root[QIAO_KEY_LEN], *enc, *body;
	crdt_audit_report *r;
	crdt_audit_claim old, c;
	const char *why;
	size_t elen, blen;
	node_keys *k;
	int rc;

	(void)file;
	(void)flen;
	if (crdt_hex_decode(root, QIAO_KEY_LEN, roothex) != QIAO_OK)
		return usage();
	if (crdt_audit_encode(b, &enc, &elen) != QIAO_OK)
		return die("%s", "cannot encode");
	rc = crdt_auditor_verify(enc, elen, root, &r);
	free(enc);
	if (rc != QIAO_OK)
		return die("%s", "cannot verify");
	for (size_t i = 0; i < r->ncases && i < b->ncases; i++)
		if (r->cases[i].state != NULL)
			crypto_generichash(b->cases[i].state, QIAO_HASH_LEN,
			    r->cases[i].state, r->cases[i].slen, NULL, 0);
	crdt_audit_report_free(r);
	if (crdt_audit_claim_decode(&old, b->statement.body, b->statement.blen,
		&why) != QIAO_OK)
		return die("the statement does not read: %s", why);
	memset(&c, 0, sizeof(c));
	c.cases = b->ncases;
	crdt_audit_set(c.set, b->cases, b->ncases);
	if (crdt_audit_view_digest(c.view, b->view, b->nview) != QIAO_OK)
		return die("%s", "out of memory");
	memcpy(c.under, old.under, sizeof(c.under));
	c.all = old.all;
	if (crdt_audit_claim_encode(&c, &body, &blen) != QIAO_OK)
		return die("%s", "cannot encode the statement");
	*body_out = body;
	b->statement.body = body;
	b->statement.blen = blen;
	b->statement.e.body_len = blen;
	crdt_entry_body_hash(b->statement.e.body_hash, body, blen);
	if (node_keys_load(&k, keydir) != QIAO_OK)
		return die("cannot load the key in %s", keydir);
	rc = crdt_entry_sign(&b->statement.e, node_keys_secret(k));
	node_keys_free(k);
	return rc == QIAO_OK ? 0 : die("%s", "cannot sign");
}

static size_t
num(const char *s)
{
	return (size_t)strtoull(s, NULL, 10);
}

static int
audit_run(int argc, char **argv)
{
	const char *op = argv[1];
	crdt_audit_bundle b;
	uint8_t *file, *body = NULL;
	char err[200];
	size_t flen;
	int rc = 0;

	if ((file = slurp(argv[2], &flen)) == NULL)
		return die("cannot read %s", argv[2]);
	if (crdt_audit_decode(&b, file, flen, err, sizeof(err)) != QIAO_OK) {
		free(file);
		return die("not a bundle: %s", err);
	}
	if (strcmp(op, "audit-ops") == 0) {
		for (size_t c = 0; c < b.ncases; c++)
			for (size_t i = 0; i < b.cases[c].nops; i++) {
				const crdt_entry *e = &b.cases[c].ops[i].e;
				char hex[2 * QIAO_KEY_LEN + 1];

				crdt_hex_encode(hex, e->author, QIAO_KEY_LEN);
				printf("%zu %zu %s %s %llu\n", c, i,
				    crdt_type_name(e->type), hex,
				    (unsigned long long)e->seq);
			}
		goto out;
	}
	if (strcmp(op, "audit-trust") == 0) {
		for (size_t i = 0; i < b.ntrust; i++) {
			const crdt_audit_item *it = &b.trust[i];
			char hex[2 * QIAO_KEY_LEN + 1], sub[2 * QIAO_KEY_LEN + 1];
			const uint8_t *p;
			size_t n;

			crdt_hex_encode(hex, it->e.author, QIAO_KEY_LEN);
			if (crdt_body_get_bin(it->body, it->blen, "subject", &p,
				&n) == QIAO_OK && n == QIAO_KEY_LEN)
				crdt_hex_encode(sub, p, QIAO_KEY_LEN);
			else
				strcpy(sub, "?");
			printf("%zu %s %s %llu %s\n", i,
			    crdt_type_name(it->e.type), hex,
			    (unsigned long long)it->e.seq, sub);
		}
		goto out;
	}
	if (argc < 4) {
		rc = usage();
		goto out;
	}
	if (strcmp(op, "audit-untrust") == 0 && argc == 5) {
		size_t i = num(argv[4]);

		if (i >= b.ntrust) {
			rc = die("%s", "no such trust entry");
			goto out;
		}
		memmove(&b.trust[i], &b.trust[i + 1],
		    (b.ntrust - i - 1) * sizeof(*b.trust));
		b.ntrust--;
	} else if (strcmp(op, "audit-restate") == 0 && argc == 6) {
		rc = audit_restate(&b, file, flen, argv[4], argv[5], &body);
	} else if (argc >= 6 && num(argv[4]) < b.ncases) {
		crdt_audit_case *c = &b.cases[num(argv[4])];
		size_t i = num(argv[5]);

		if (i >= c->nops) {
			rc = die("%s", "no such op");
		} else if (strcmp(op, "audit-drop") == 0 && argc == 6) {
			memmove(&c->ops[i], &c->ops[i + 1],
			    (c->nops - i - 1) * sizeof(*c->ops));
			c->nops--;
		} else if (strcmp(op, "audit-flip") == 0 && argc == 6) {
			c->ops[i].e.raw[crdt_entry_raw_len(&c->ops[i].e) - 1] ^=
			    0x01;
		} else if (strcmp(op, "audit-swap") == 0 && argc == 7 &&
		    num(argv[6]) < c->nops) {
			crdt_audit_item t = c->ops[i];

			c->ops[i] = c->ops[num(argv[6])];
			c->ops[num(argv[6])] = t;
		} else {
			rc = usage();
		}
	} else {
		rc = usage();
	}
	if (rc == 0)
		rc = audit_save(&b, argv[3]);
out:
	free(body);
	crdt_audit_fini(&b);
	free(file);
	return rc;
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
	if (strncmp(op, "audit-", 6) == 0)
		return audit_run(argc, argv);
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
