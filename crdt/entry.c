#include <string.h>

#include <sodium.h>

#include "crdt/codec.h"
#include "crdt/entry.h"

static int
fields_ok(const crdt_entry *e, const char **why)
{
	const char *w = NULL;

	if (e->version != QIAO_ENTRY_VERSION)
		w = "unsupported entry version";
	else if (e->seq == 0)
		w = "seq must start at 1";
	else if (e->seq == 1 && e->has_prev)
		w = "prev must be nil at seq 1";
	else if (e->seq > 1 && !e->has_prev)
		w = "prev missing after seq 1";
	else if (e->hlc == 0)
		w = "hlc must not be zero";
	else if (e->type == 0 || e->type > QIAO_TYPE_MAX)
		w = "type out of range";
	else if (e->body_len > QIAO_BODY_MAX)
		w = "body too large";
	if (w != NULL && why != NULL)
		*why = w;
	return w == NULL ? QIAO_OK : QIAO_EMALFORMED;
}

static void
hash_raw(crdt_entry *e)
{
	crypto_generichash(e->hash, QIAO_HASH_LEN, e->raw,
	    crdt_entry_raw_len(e), NULL, 0);
}

int
crdt_entry_parse(crdt_entry *e, const uint8_t *buf, size_t len, size_t *used,
    const char **why)
{
	crdt_entry t;
	crdt_reader r;
	size_t n;
	int rc;

	memset(&t, 0, sizeof(t));
	/* A header longer than the longest canonical one is not one. */
	crdt_reader_init(&r, buf, len < QIAO_HDR_MAX ? len : QIAO_HDR_MAX);
	if (crdt_read_array(&r, &n) != QIAO_OK)
		goto bad;
	if (n != 8) {
		(void)crdt_read_fail(&r, "header must have 8 fields");
		goto bad;
	}
	if (crdt_read_uint(&r, &t.version) != QIAO_OK)
		goto bad;
	if (t.version != QIAO_ENTRY_VERSION) {
		(void)crdt_read_fail(&r, "unsupported entry version");
		goto bad;
	}
	if (crdt_read_fixbin(&r, t.author, QIAO_KEY_LEN) != QIAO_OK ||
	    crdt_read_uint(&r, &t.seq) != QIAO_OK)
		goto bad;
	if (crdt_read_peek(&r) == CRDT_KIND_NIL) {
		if (crdt_read_nil(&r) != QIAO_OK)
			goto bad;
	} else {
		if (crdt_read_fixbin(&r, t.prev, QIAO_HASH_LEN) != QIAO_OK)
			goto bad;
		t.has_prev = true;
	}
	if (crdt_read_uint(&r, &t.hlc) != QIAO_OK ||
	    crdt_read_uint(&r, &t.type) != QIAO_OK ||
	    crdt_read_fixbin(&r, t.body_hash, QIAO_HASH_LEN) != QIAO_OK ||
	    crdt_read_uint(&r, &t.body_len) != QIAO_OK)
		goto bad;
	if ((rc = fields_ok(&t, why)) != QIAO_OK)
		return rc;
	t.hdr_len = (size_t)(r.p - r.start);
	if (len - t.hdr_len < QIAO_SIG_LEN) {
		if (why != NULL)
			*why = "truncated signature";
		return QIAO_EMALFORMED;
	}
	if (used == NULL && len != t.hdr_len + QIAO_SIG_LEN) {
		if (why != NULL)
			*why = "trailing bytes after the signature";
		return QIAO_EMALFORMED;
	}
	memcpy(t.raw, buf, t.hdr_len + QIAO_SIG_LEN);
	hash_raw(&t);
	*e = t;
	if (used != NULL)
		*used = t.hdr_len + QIAO_SIG_LEN;
	return QIAO_OK;
bad:
	/* A reader limited to QIAO_HDR_MAX reports "truncated" for an
	 * over-long header; say which it was. */
	if (why != NULL)
		*why = (r.why != NULL && strcmp(r.why, "truncated") == 0 &&
			   len > QIAO_HDR_MAX)
		    ? "header too long"
		    : r.why;
	return QIAO_EMALFORMED;
}

int
crdt_entry_verify(const crdt_entry *e)
{
	if (crypto_sign_verify_detached(crdt_entry_sig(e), e->raw, e->hdr_len,
		e->author) != 0)
		return QIAO_EBADSIG;
	return QIAO_OK;
}

static int
encode_header(crdt_entry *e)
{
	crdt_writer w;
	int rc;

	if (fields_ok(e, NULL) != QIAO_OK)
		return QIAO_EINVAL;
	crdt_writer_init_fixed(&w, e->raw, QIAO_HDR_MAX);
	crdt_write_array(&w, 8);
	crdt_write_uint(&w, e->version);
	crdt_write_bin(&w, e->author, QIAO_KEY_LEN);
	crdt_write_uint(&w, e->seq);
	if (e->has_prev)
		crdt_write_bin(&w, e->prev, QIAO_HASH_LEN);
	else
		crdt_write_nil(&w);
	crdt_write_uint(&w, e->hlc);
	crdt_write_uint(&w, e->type);
	crdt_write_bin(&w, e->body_hash, QIAO_HASH_LEN);
	crdt_write_uint(&w, e->body_len);
	if ((rc = crdt_writer_error(&w)) != QIAO_OK)
		return rc;
	e->hdr_len = w.len;
	return QIAO_OK;
}

int
crdt_entry_sign(crdt_entry *e, const uint8_t sk[QIAO_SK_LEN])
{
	int rc;

	e->version = QIAO_ENTRY_VERSION;
	memcpy(e->author, sk + 32, QIAO_KEY_LEN);
	if ((rc = encode_header(e)) != QIAO_OK)
		return rc;
	crypto_sign_detached(e->raw + e->hdr_len, NULL, e->raw, e->hdr_len,
	    sk);
	hash_raw(e);
	return QIAO_OK;
}

int
crdt_entry_rebuild(crdt_entry *e, const uint8_t sig[QIAO_SIG_LEN])
{
	int rc;

	if ((rc = encode_header(e)) != QIAO_OK)
		return rc;
	memcpy(e->raw + e->hdr_len, sig, QIAO_SIG_LEN);
	hash_raw(e);
	return QIAO_OK;
}

void
crdt_entry_body_hash(uint8_t out[QIAO_HASH_LEN], const uint8_t *body,
    size_t len)
{
	crypto_generichash(out, QIAO_HASH_LEN, body, len, NULL, 0);
}

int
crdt_entry_check_body(const crdt_entry *e, const uint8_t *body, size_t len,
    const char **why)
{
	uint8_t h[QIAO_HASH_LEN];

	if (len != e->body_len) {
		if (why != NULL)
			*why = "body length differs from the header";
		return QIAO_EBADHASH;
	}
	crdt_entry_body_hash(h, body, len);
	if (sodium_memcmp(h, e->body_hash, QIAO_HASH_LEN) != 0) {
		if (why != NULL)
			*why = "body does not match its hash";
		return QIAO_EBADHASH;
	}
	return crdt_codec_check(body, len, why, NULL);
}
