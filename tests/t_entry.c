/* Entries: sign, parse, verify, rebuild; strictness of the header; the
 * hybrid logical clock. */
#include "tests/check.h"

#include "crdt/body.h"
#include "crdt/codec.h"
#include "crdt/entry.h"
#include "crdt/hlc.h"

static uint8_t pk[QIAO_KEY_LEN], sk[QIAO_SK_LEN];

static void
make(crdt_entry *e, uint64_t seq, const uint8_t *prev, const char *text,
    uint8_t **body, size_t *blen)
{
	crdt_body b;

	crdt_body_init(&b);
	crdt_body_cstr(&b, "text", text);
	if (crdt_body_finish(&b, body, blen) != QIAO_OK)
		abort();
	crdt_body_fini(&b);
	memset(e, 0, sizeof(*e));
	e->seq = seq;
	e->has_prev = prev != NULL;
	if (prev)
		memcpy(e->prev, prev, QIAO_HASH_LEN);
	e->hlc = crdt_hlc_make(1700000000000ULL + seq, 0);
	e->type = 1;
	e->body_len = *blen;
	crdt_entry_body_hash(e->body_hash, *body, *blen);
	if (crdt_entry_sign(e, sk) != QIAO_OK)
		abort();
}

static void
t_sign_parse_verify_roundtrip(void)
{
	crdt_entry e, p, e2;
	uint8_t *body, *body2;
	size_t blen, blen2, used;
	const char *why;

	crypto_sign_keypair(pk, sk);
	make(&e, 1, NULL, "受理登记", &body, &blen);
	CHECK(memcmp(e.author, pk, QIAO_KEY_LEN) == 0);
	CHECK(e.hdr_len <= QIAO_HDR_MAX);
	REQUIRE_RC(crdt_entry_parse(&p, e.raw, crdt_entry_raw_len(&e), NULL,
		       &why), QIAO_OK);
	CHECK(p.seq == 1 && !p.has_prev && p.type == 1 && p.body_len == blen);
	CHECK(memcmp(p.hash, e.hash, QIAO_HASH_LEN) == 0);
	CHECK_RC(crdt_entry_verify(&p), QIAO_OK);
	CHECK_RC(crdt_entry_check_body(&p, body, blen, &why), QIAO_OK);

	/* With trailing bytes allowed, used says where the entry ends. */
	make(&e2, 2, e.hash, "second", &body2, &blen2);
	CHECK(e2.has_prev && memcmp(e2.prev, e.hash, 32) == 0);
	{
		uint8_t buf[2 * QIAO_RAW_MAX];
		size_t n1 = crdt_entry_raw_len(&e);

		memcpy(buf, e.raw, n1);
		memcpy(buf + n1, e2.raw, crdt_entry_raw_len(&e2));
		CHECK_RC(crdt_entry_parse(&p, buf, sizeof(buf), &used, NULL),
		    QIAO_OK);
		CHECK(used == n1);
		CHECK_RC(crdt_entry_parse(&p, buf, n1 + 1, NULL, &why),
		    QIAO_EMALFORMED);
	}
	free(body);
	free(body2);
}

static void
t_rebuild_gives_the_same_bytes(void)
{
	crdt_entry e, r;
	uint8_t *body;
	size_t blen;

	crypto_sign_keypair(pk, sk);
	make(&e, 7, e.hash, "x", &body, &blen);
	/* Only the fields and the signature cross the wire. */
	memset(&r, 0, sizeof(r));
	r.version = 1;
	memcpy(r.author, e.author, 32);
	r.seq = e.seq;
	r.has_prev = true;
	memcpy(r.prev, e.prev, 32);
	r.hlc = e.hlc;
	r.type = e.type;
	memcpy(r.body_hash, e.body_hash, 32);
	r.body_len = e.body_len;
	REQUIRE_RC(crdt_entry_rebuild(&r, crdt_entry_sig(&e)), QIAO_OK);
	CHECK(r.hdr_len == e.hdr_len);
	CHECK(memcmp(r.raw, e.raw, crdt_entry_raw_len(&e)) == 0);
	CHECK(memcmp(r.hash, e.hash, 32) == 0);
	CHECK_RC(crdt_entry_verify(&r), QIAO_OK);
	/* A wrongly rebuilt field fails the signature, not silently. */
	r.hlc++;
	REQUIRE_RC(crdt_entry_rebuild(&r, crdt_entry_sig(&e)), QIAO_OK);
	CHECK_RC(crdt_entry_verify(&r), QIAO_EBADSIG);
	free(body);
}

static void
t_tampering_is_caught(void)
{
	crdt_entry e, p;
	uint8_t *body;
	size_t blen;
	const char *why;
	uint8_t raw[QIAO_RAW_MAX];

	crypto_sign_keypair(pk, sk);
	make(&e, 1, NULL, "原文", &body, &blen);
	/* Any flipped bit in the signature or the header. */
	for (size_t i = 0; i < crdt_entry_raw_len(&e); i++) {
		memcpy(raw, e.raw, crdt_entry_raw_len(&e));
		raw[i] ^= 0x01;
		if (crdt_entry_parse(&p, raw, crdt_entry_raw_len(&e), NULL,
			&why) == QIAO_OK &&
		    crdt_entry_verify(&p) == QIAO_OK)
			check_fail_(__FILE__, __LINE__,
			    "bit flip at byte %zu verified", i);
	}
	/* A body that is not the one the header commits to. */
	body[blen - 1] ^= 0x01;
	CHECK_RC(crdt_entry_check_body(&e, body, blen, &why), QIAO_EBADHASH);
	CHECK_RC(crdt_entry_check_body(&e, body, blen - 1, &why),
	    QIAO_EBADHASH);
	free(body);
}

static void
t_truncated_entries_rejected_at_every_offset(void)
{
	crdt_entry e, p;
	uint8_t *body;
	size_t blen;

	crypto_sign_keypair(pk, sk);
	make(&e, 3, e.hash, "截断", &body, &blen);
	for (size_t cut = 0; cut < crdt_entry_raw_len(&e); cut++)
		if (crdt_entry_parse(&p, e.raw, cut, NULL, NULL) == QIAO_OK)
			check_fail_(__FILE__, __LINE__,
			    "prefix of %zu bytes parsed", cut);
	free(body);
}

/* Builds a header by hand, to feed the parser forms our encoder never
 * makes. */
static size_t
hand_header(uint8_t *out, const char *seq_bytes, size_t seq_len,
    unsigned nfields)
{
	size_t n = 0;

	out[n++] = (uint8_t)(0x90 | nfields);
	out[n++] = 0x01; /* version */
	out[n++] = 0xc4;
	out[n++] = 32;
	memcpy(out + n, pk, 32);
	n += 32;
	memcpy(out + n, seq_bytes, seq_len); /* seq */
	n += seq_len;
	out[n++] = 0xc0; /* prev nil */
	out[n++] = 0x05; /* hlc */
	out[n++] = 0x01; /* type */
	out[n++] = 0xc4;
	out[n++] = 32;
	memset(out + n, 0xab, 32);
	n += 32;
	out[n++] = 0x00; /* body_len */
	memset(out + n, 0, 64);
	return n + 64;
}

/* A header from the given field values, written canonically, with a zero
 * signature (and `extra` bytes after it): the field checks, not the
 * encoding, are what it feeds the parser. */
static size_t
field_header(uint8_t *out, size_t cap, uint64_t seq, bool with_prev,
    uint64_t hlc, uint64_t type, uint64_t body_len, size_t extra)
{
	uint8_t h[QIAO_HASH_LEN];
	crdt_writer w;
	size_t n;

	memset(h, 0xab, sizeof(h));
	crdt_writer_init(&w);
	crdt_write_array(&w, 8);
	crdt_write_uint(&w, QIAO_ENTRY_VERSION);
	crdt_write_bin(&w, pk, QIAO_KEY_LEN);
	crdt_write_uint(&w, seq);
	if (with_prev)
		crdt_write_bin(&w, h, QIAO_HASH_LEN);
	else
		crdt_write_nil(&w);
	crdt_write_uint(&w, hlc);
	crdt_write_uint(&w, type);
	crdt_write_bin(&w, h, QIAO_HASH_LEN);
	crdt_write_uint(&w, body_len);
	if (crdt_writer_error(&w) != QIAO_OK ||
	    w.len + QIAO_SIG_LEN + extra > cap)
		abort();
	n = w.len;
	memcpy(out, w.buf, n);
	crdt_writer_fini(&w);
	memset(out + n, 0, QIAO_SIG_LEN + extra);
	return n + QIAO_SIG_LEN + extra;
}

/* Every field rule, each rejected with its own reason. */
static void
t_header_field_rules(void)
{
	uint8_t buf[256];
	crdt_entry p;
	const char *why;
	size_t n, used;

	crypto_sign_keypair(pk, sk);
	n = field_header(buf, sizeof(buf), 2, true, 5, 1, 10, 0);
	CHECK_RC(crdt_entry_parse(&p, buf, n, NULL, &why), QIAO_OK);
	n = field_header(buf, sizeof(buf), 1, true, 5, 1, 10, 0);
	CHECK_RC(crdt_entry_parse(&p, buf, n, NULL, &why), QIAO_EMALFORMED);
	CHECK_STR(why, "prev must be nil at seq 1");
	n = field_header(buf, sizeof(buf), 2, true, 0, 1, 10, 0);
	CHECK_RC(crdt_entry_parse(&p, buf, n, NULL, &why), QIAO_EMALFORMED);
	CHECK_STR(why, "hlc must not be zero");
	n = field_header(buf, sizeof(buf), 2, true, 5, 0, 10, 0);
	CHECK_RC(crdt_entry_parse(&p, buf, n, NULL, &why), QIAO_EMALFORMED);
	CHECK_STR(why, "type out of range");
	n = field_header(buf, sizeof(buf), 2, true, 5, QIAO_TYPE_MAX + 1, 10,
	    0);
	CHECK_RC(crdt_entry_parse(&p, buf, n, NULL, &why), QIAO_EMALFORMED);
	CHECK_STR(why, "type out of range");
	/* Over-size: a body longer than any entry may carry. */
	n = field_header(buf, sizeof(buf), 2, true, 5, 1, QIAO_BODY_MAX, 0);
	CHECK_RC(crdt_entry_parse(&p, buf, n, NULL, &why), QIAO_OK);
	n = field_header(buf, sizeof(buf), 2, true, 5, 1, QIAO_BODY_MAX + 1,
	    0);
	CHECK_RC(crdt_entry_parse(&p, buf, n, NULL, &why), QIAO_EMALFORMED);
	CHECK_STR(why, "body too large");
	/* Trailing bytes: refused alone, reported as used in a stream. */
	n = field_header(buf, sizeof(buf), 2, true, 5, 1, 10, 3);
	CHECK_RC(crdt_entry_parse(&p, buf, n, NULL, &why), QIAO_EMALFORMED);
	CHECK_STR(why, "trailing bytes after the signature");
	CHECK_RC(crdt_entry_parse(&p, buf, n, &used, &why), QIAO_OK);
	CHECK(used == n - 3);
	n = field_header(buf, sizeof(buf), 2, true, 5, 1, 10, 0);
	CHECK_RC(crdt_entry_parse(&p, buf, n - 1, NULL, &why),
	    QIAO_EMALFORMED);
	CHECK_STR(why, "truncated signature");
}

static void
t_header_strictness(void)
{
	uint8_t buf[256];
	crdt_entry p;
	const char *why;
	size_t n;

	crypto_sign_keypair(pk, sk);
	n = hand_header(buf, "\x01", 1, 8);
	CHECK_RC(crdt_entry_parse(&p, buf, n, NULL, &why), QIAO_OK);
	n = hand_header(buf, "\xcc\x01", 2, 8);
	CHECK_RC(crdt_entry_parse(&p, buf, n, NULL, &why), QIAO_EMALFORMED);
	CHECK_STR(why, "non-minimal integer");
	n = hand_header(buf, "\x00", 1, 8);
	CHECK_RC(crdt_entry_parse(&p, buf, n, NULL, &why), QIAO_EMALFORMED);
	CHECK_STR(why, "seq must start at 1");
	n = hand_header(buf, "\x01", 1, 9);
	CHECK_RC(crdt_entry_parse(&p, buf, n, NULL, &why), QIAO_EMALFORMED);
	CHECK_STR(why, "header must have 8 fields");
	n = hand_header(buf, "\x02", 1, 8); /* seq 2 needs a prev */
	CHECK_RC(crdt_entry_parse(&p, buf, n, NULL, &why), QIAO_EMALFORMED);
	CHECK_STR(why, "prev missing after seq 1");
	n = hand_header(buf, "\x01", 1, 8);
	buf[1] = 0x02;
	CHECK_RC(crdt_entry_parse(&p, buf, n, NULL, &why), QIAO_EMALFORMED);
	CHECK_STR(why, "unsupported entry version");
	n = hand_header(buf, "\x01", 1, 8);
	buf[3] = 31; /* author of 31 bytes */
	CHECK_RC(crdt_entry_parse(&p, buf, n, NULL, &why), QIAO_EMALFORMED);
}

static void
t_hlc_is_monotonic_and_bounded(void)
{
	uint64_t last = 0, t1, t2, t3;

	CHECK_RC(crdt_hlc_tick(&last, 1000, &t1), QIAO_OK);
	CHECK(crdt_hlc_ms(t1) == 1000 && crdt_hlc_counter(t1) == 0);
	/* Same millisecond, or the wall going back: the counter moves. */
	CHECK_RC(crdt_hlc_tick(&last, 1000, &t2), QIAO_OK);
	CHECK(t2 == t1 + 1);
	CHECK_RC(crdt_hlc_tick(&last, 500, &t3), QIAO_OK);
	CHECK(t3 > t2);
	/* A remote stamp a little ahead is followed... */
	CHECK_RC(crdt_hlc_observe(&last, crdt_hlc_make(2000, 5), 1000, 5000),
	    QIAO_OK);
	CHECK_RC(crdt_hlc_tick(&last, 1000, &t1), QIAO_OK);
	CHECK(t1 > crdt_hlc_make(2000, 5));
	/* ...one a day ahead is refused and leaves the clock alone. */
	last = crdt_hlc_make(1000, 0);
	CHECK_RC(crdt_hlc_observe(&last, crdt_hlc_make(1000 + 86400000, 0),
		     1000, 300000), QIAO_ESKEW);
	CHECK(last == crdt_hlc_make(1000, 0));
	CHECK_RC(crdt_hlc_tick(&last, QIAO_HLC_MS_MAX + 1, &t1), QIAO_EINVAL);
}

CHECK_MAIN(T(t_sign_parse_verify_roundtrip), T(t_rebuild_gives_the_same_bytes),
    T(t_tampering_is_caught), T(t_truncated_entries_rejected_at_every_offset),
    T(t_header_strictness), T(t_header_field_rules),
    T(t_hlc_is_monotonic_and_bounded))
