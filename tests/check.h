/*
 * check — the unit-test harness: a test is a void function; CHECK records a
 * failure and goes on, REQUIRE records and leaves the test (so nothing
 * dereferences what just failed). Each test prints one line:
 *   PASS suite.name | FAIL suite.name: file:line: what | SKIP suite.name: why
 * tests/run.sh counts them. Randomness comes from check_rand(), seeded from
 * $QIAO_SEED or the clock; the seed is printed with any failure so it
 * replays.
 *
 *   static void t_roundtrip(void) { REQUIRE(x != NULL); CHECK(x->n == 2); }
 *   CHECK_MAIN(T(t_roundtrip), T(t_other))
 */
#ifndef QIAO_TESTS_CHECK_H
#define QIAO_TESTS_CHECK_H

#define _XOPEN_SOURCE 700 /* nftw */

#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "crdt/err.h"

typedef struct check_test {
	const char *name;
	void (*fn)(void);
} check_test;

static int check_failed_;   /* failures in the running test */
static bool check_skipped_;
static const char *check_name_;
static const char *check_suite_;
static uint64_t check_seed_;
static uint64_t check_state_;
static char check_tmpdirs_[16][256];
static int check_ntmp_;

static void
check_fail_(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	check_failed_++;
	printf("FAIL %s.%s: %s:%d: ", check_suite_, check_name_, file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (seed %" PRIu64 ")\n", check_seed_);
	fflush(stdout);
}

#define CHECK(c)                                                          \
	do {                                                              \
		if (!(c))                                                 \
			check_fail_(__FILE__, __LINE__, "%s", #c);        \
	} while (0)

#define REQUIRE(c)                                                        \
	do {                                                              \
		if (!(c)) {                                               \
			check_fail_(__FILE__, __LINE__, "%s", #c);        \
			return;                                           \
		}                                                         \
	} while (0)

/* Compares two qiao error codes and names both on failure. */
#define CHECK_RC(expr, want)                                              \
	do {                                                              \
		int rc_ = (expr), want_ = (want);                         \
		if (rc_ != want_)                                         \
			check_fail_(__FILE__, __LINE__,                   \
			    "%s: got %s, want %s", #expr,                 \
			    qiao_errname(rc_), qiao_errname(want_));      \
	} while (0)

#define REQUIRE_RC(expr, want)                                            \
	do {                                                              \
		int rc_ = (expr), want_ = (want);                         \
		if (rc_ != want_) {                                       \
			check_fail_(__FILE__, __LINE__,                   \
			    "%s: got %s, want %s", #expr,                 \
			    qiao_errname(rc_), qiao_errname(want_));      \
			return;                                           \
		}                                                         \
	} while (0)

#define CHECK_STR(a, b)                                                   \
	do {                                                              \
		const char *a_ = (a), *b_ = (b);                          \
		if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)      \
			check_fail_(__FILE__, __LINE__,                   \
			    "%s is \"%s\", want \"%s\"", #a,              \
			    a_ ? a_ : "(null)", b_ ? b_ : "(null)");      \
	} while (0)

#define SKIP(why)                                                         \
	do {                                                              \
		check_skipped_ = true;                                    \
		printf("SKIP %s.%s: %s\n", check_suite_, check_name_, why);\
		return;                                                   \
	} while (0)

#define T(fn) { #fn, fn }

/* xorshift64*: deterministic from the printed seed. */
static inline uint64_t
check_rand(void)
{
	check_state_ ^= check_state_ >> 12;
	check_state_ ^= check_state_ << 25;
	check_state_ ^= check_state_ >> 27;
	return check_state_ * 0x2545F4914F6CDD1DULL;
}

static inline uint64_t
check_rand_below(uint64_t n)
{
	return n ? check_rand() % n : 0;
}

/* A fresh directory, removed when the suite ends. */
static inline const char *
check_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *d;

	if (check_ntmp_ == 16)
		return NULL;
	d = check_tmpdirs_[check_ntmp_];
	snprintf(d, 256, "%s/qiao-%s-XXXXXX", base ? base : "/tmp",
	    check_suite_);
	if (mkdtemp(d) == NULL)
		return NULL;
	check_ntmp_++;
	return d;
}

static int
check_rm_(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(path);
}

static void
check_cleanup_(void)
{
	for (int i = 0; i < check_ntmp_; i++)
		nftw(check_tmpdirs_[i], check_rm_, 16, FTW_DEPTH | FTW_PHYS);
	check_ntmp_ = 0;
}

static int
check_run_(const char *argv0, const check_test *t, size_t n, int argc,
    char **argv)
{
	const char *slash = strrchr(argv0, '/');
	const char *env = getenv("QIAO_SEED");
	int failed = 0;

	check_suite_ = slash ? slash + 1 : argv0;
	check_seed_ = env ? strtoull(env, NULL, 10)
			  : (uint64_t)time(NULL) ^ (uint64_t)getpid();
	if (check_seed_ == 0)
		check_seed_ = 1;
	if (sodium_init() < 0)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < n; i++) {
		if (argc > 1 && strstr(t[i].name, argv[1]) == NULL)
			continue;
		check_name_ = t[i].name;
		check_failed_ = 0;
		check_skipped_ = false;
		check_state_ = check_seed_ + i * 0x9E3779B97F4A7C15ULL;
		t[i].fn();
		check_cleanup_();
		if (check_skipped_)
			continue;
		if (check_failed_ == 0)
			printf("PASS %s.%s\n", check_suite_, t[i].name);
		else
			failed++;
	}
	return failed ? 1 : 0;
}

#define CHECK_MAIN(...)                                                   \
	int main(int argc, char **argv)                                   \
	{                                                                 \
		static const check_test tests_[] = { __VA_ARGS__ };       \
		return check_run_(argv[0], tests_,                        \
		    sizeof(tests_) / sizeof(tests_[0]), argc, argv);      \
	}

#endif
