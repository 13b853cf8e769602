/* Strict msgpack: round trips, every strictness rule with its reason, and
 * truncation at every offset. */
#include "tests/check.h"

#include "crdt/body.h"
#include "crdt/codec.h"

/* Expects buf to be rejected with exactly this reason. */
static void
rejects(const void *buf, size_t len, const char *reason, int line)
{
	const char *why = NULL;
	int rc = crdt_codec_check(buf, len, &why, NULL);

	if (rc != QIAO_EMALFORMED)
		check_fail_(__FILE__, line, "accepted, want \"%s\"", reason);
	else if (why == NULL || strcmp(why, reason) != 0)
		check_fail_(__FILE__, line, "reason \"%s\", want \"%s\"",
		    why ? why : "(none)", reason);
}

#define REJECTS(bytes, reason) \
	rejects(bytes, sizeof(bytes) - 1, reason, __LINE__)

static void
t_roundtrip_every_kind(void)
{
	crdt_body b;
	uint8_t *buf;
	size_t len, n;
	uint64_t u;
	const char *s;
	const uint8_t *p;
	bool yes;
	int64_t neg;
	crdt_reader r;
	static const uint64_t uints[] = { 0, 1, 127, 128, 255, 256, 65535,
		65536, 4294967295ULL, 4294967296ULL, UINT64_MAX };

	crdt_body_init(&b);
	crdt_body_cstr(&b, "text", "矛盾纠纷 调解");
	crdt_body_uint(&b, "big", UINT64_MAX);
	crdt_body_int(&b, "neg", -40000);
	crdt_body_bool(&b, "yes", true);
	crdt_body_bin(&b, "bin", "\x00\x01\x02", 3);
	REQUIRE_RC(crdt_body_finish(&b, &buf, &len), QIAO_OK);
	crdt_body_fini(&b);
	CHECK_RC(crdt_codec_check(buf, len, NULL, NULL), QIAO_OK);
	CHECK_RC(crdt_body_get_str(buf, len, "text", &s, &n), QIAO_OK);
	CHECK(n == strlen("矛盾纠纷 调解") && memcmp(s, "矛盾纠纷 调解", n) == 0);
	CHECK_RC(crdt_body_get_uint(buf, len, "big", &u), QIAO_OK);
	CHECK(u == UINT64_MAX);
	REQUIRE_RC(crdt_body_get(buf, len, "neg", &r), QIAO_OK);
	CHECK_RC(crdt_read_int(&r, &neg), QIAO_OK);
	CHECK(neg == -40000);
	CHECK_RC(crdt_body_get_bool(buf, len, "yes", &yes), QIAO_OK);
	CHECK(yes);
	CHECK_RC(crdt_body_get_bin(buf, len, "bin", &p, &n), QIAO_OK);
	CHECK(n == 3 && p[2] == 2);
	CHECK_RC(crdt_body_get_uint(buf, len, "absent", &u), QIAO_ENOTFOUND);
	free(buf);

	/* Every integer boundary: msgpack-c writes it, we read it back. */
	for (size_t i = 0; i < sizeof(uints) / sizeof(uints[0]); i++) {
		crdt_writer w;
		uint64_t v;

		crdt_writer_init(&w);
		crdt_write_uint(&w, uints[i]);
		REQUIRE_RC(crdt_writer_error(&w), QIAO_OK);
		crdt_reader_init(&r, w.buf, w.len);
		CHECK_RC(crdt_read_uint(&r, &v), QIAO_OK);
		CHECK(v == uints[i]);
		CHECK_RC(crdt_read_done(&r), QIAO_OK);
		crdt_writer_fini(&w);
	}
	for (int64_t v = -70000; v < 0; v = v * 3 / 4 + (v > -8 ? 1 : 0)) {
		crdt_writer w;
		int64_t got;

		crdt_writer_init(&w);
		crdt_write_int(&w, v);
		crdt_reader_init(&r, w.buf, w.len);
		CHECK_RC(crdt_read_int(&r, &got), QIAO_OK);
		CHECK(got == v);
		crdt_writer_fini(&w);
	}
}

static void
t_builder_sorts_keys(void)
{
	crdt_body b;
	uint8_t *buf;
	size_t len;

	crdt_body_init(&b);
	crdt_body_uint(&b, "zeta", 1);
	crdt_body_uint(&b, "alpha", 2);
	crdt_body_uint(&b, "al", 3);
	REQUIRE_RC(crdt_body_finish(&b, &buf, &len), QIAO_OK);
	crdt_body_fini(&b);
	/* fixmap 3, "al", "alpha", "zeta" in that order */
	CHECK(buf[0] == 0x83 && buf[1] == 0xa2 && memcmp(buf + 2, "al", 2) == 0);
	CHECK(memcmp(buf + 5, "\xa5" "alpha", 6) == 0);
	CHECK_RC(crdt_codec_check(buf, len, NULL, NULL), QIAO_OK);
	free(buf);

	crdt_body_init(&b);
	crdt_body_uint(&b, "k", 1);
	crdt_body_uint(&b, "k", 2);
	CHECK_RC(crdt_body_finish(&b, &buf, &len), QIAO_EINVAL);
	crdt_body_fini(&b);
}

static void
t_rejects_non_minimal_forms(void)
{
	REJECTS("\xcc\x05", "non-minimal integer");
	REJECTS("\xcd\x00\xff", "non-minimal integer");
	REJECTS("\xce\x00\x00\xff\xff", "non-minimal integer");
	REJECTS("\xcf\x00\x00\x00\x00\xff\xff\xff\xff", "non-minimal integer");
	REJECTS("\xd0\xf0", "non-minimal integer"); /* -16 fits a fixint */
	REJECTS("\xd1\xff\x80", "non-minimal integer");
	REJECTS("\xd0\x05", "non-negative integer in a signed form");
	REJECTS("\xd9\x03" "abc", "non-minimal length");
	REJECTS("\xda\x00\x03" "abc", "non-minimal length");
	REJECTS("\xc5\x00\x03" "abc", "non-minimal length");
	REJECTS("\xdc\x00\x01\x01", "non-minimal length");
	REJECTS("\xde\x00\x01\xa1" "a\x01", "non-minimal length");
}

static void
t_rejects_bad_maps(void)
{
	REJECTS("\x82\xa1" "a\x01\xa1" "a\x02", "duplicate map key");
	REJECTS("\x82\xa1" "b\x01\xa1" "a\x02", "map keys out of order");
	REJECTS("\x82\xa2" "ab\x01\xa1" "a\x02", "map keys out of order");
	REJECTS("\x81\x01\x02", "map key is not a string");
}

static void
t_rejects_other_kinds_and_text(void)
{
	REJECTS("\xca\x00\x00\x00\x00", "floats are not accepted");
	REJECTS("\xcb\x00\x00\x00\x00\x00\x00\x00\x00", "floats are not accepted");
	REJECTS("\xd4\x01\x00", "ext types are not accepted");
	REJECTS("\xc1", "reserved type byte 0xc1");
	REJECTS("\xa2\xc3\x28", "string is not valid UTF-8");
	REJECTS("\xa2\xc0\x80", "string is not valid UTF-8"); /* overlong */
	REJECTS("\xa3\xed\xa0\x80", "string is not valid UTF-8"); /* surrogate */
	REJECTS("\x01\x02", "trailing bytes");
	REJECTS("", "truncated");
}

static void
t_rejects_lying_lengths_before_use(void)
{
	/* 2^32-1 elements declared, 1 byte present: refused up front. */
	REJECTS("\xdd\xff\xff\xff\xff\x00", "declared count exceeds the data");
	REJECTS("\xdf\x7f\xff\xff\xff\x00", "declared count exceeds the data");
	REJECTS("\xdb\xff\xff\xff\xff" "abc", "declared length exceeds the data");
	REJECTS("\xc6\x10\x00\x00\x00" "abc", "declared length exceeds the data");
	REJECTS("\x92\x01", "declared count exceeds the data");
	REJECTS("\x92\x01\xcd\x01", "truncated");
}

static void
t_rejects_deep_nesting(void)
{
	uint8_t buf[64];
	size_t n;

	/* QIAO_DEPTH_MAX arrays around a 1 pass; one more is refused. */
	for (n = 0; n < QIAO_DEPTH_MAX; n++)
		buf[n] = 0x91;
	buf[n] = 0x01;
	CHECK_RC(crdt_codec_check(buf, n + 1, NULL, NULL), QIAO_OK);
	memmove(buf + 1, buf, n + 1);
	buf[0] = 0x91;
	rejects(buf, n + 2, "nested too deep", __LINE__);
}

static void
t_truncation_at_every_offset(void)
{
	crdt_body b;
	uint8_t *buf;
	size_t len;

	crdt_body_init(&b);
	crdt_body_cstr(&b, "a", "网格员记录的纠纷");
	crdt_body_uint(&b, "b", 1ULL << 40);
	crdt_body_int(&b, "c", -1000000);
	crdt_body_bin(&b, "d", "0123456789abcdef0123456789abcdef", 32);
	REQUIRE_RC(crdt_body_finish(&b, &buf, &len), QIAO_OK);
	crdt_body_fini(&b);
	for (size_t cut = 0; cut < len; cut++)
		if (crdt_codec_check(buf, cut, NULL, NULL) != QIAO_EMALFORMED)
			check_fail_(__FILE__, __LINE__,
			    "a prefix of %zu of %zu bytes was accepted", cut,
			    len);
	CHECK_RC(crdt_codec_check(buf, len, NULL, NULL), QIAO_OK);
	free(buf);
}

static void
t_random_bytes_never_crash_and_accepts_are_stable(void)
{
	uint8_t buf[64];

	/* Whatever the bytes, the reader answers; if it accepts a value,
	 * reading it again answers the same. */
	for (int i = 0; i < 20000; i++) {
		size_t len = check_rand_below(sizeof(buf));

		for (size_t k = 0; k < len; k++)
			buf[k] = (uint8_t)check_rand();
		if (crdt_codec_check(buf, len, NULL, NULL) == QIAO_OK)
			CHECK_RC(crdt_codec_check(buf, len, NULL, NULL),
			    QIAO_OK);
	}
}

CHECK_MAIN(T(t_roundtrip_every_kind), T(t_builder_sorts_keys),
    T(t_rejects_non_minimal_forms), T(t_rejects_bad_maps),
    T(t_rejects_other_kinds_and_text), T(t_rejects_lying_lengths_before_use),
    T(t_rejects_deep_nesting), T(t_truncation_at_every_offset),
    T(t_random_bytes_never_crash_and_accepts_are_stable))
