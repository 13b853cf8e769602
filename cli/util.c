#define _XOPEN_SOURCE 700 /* strptime, wcwidth */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "cli/cli.h"
#include "crdt/codec.h"
#include "crdt/hex.h"

const cli_cmd *
cli_find(const char *name)
{
	for (const cli_cmd *const *c = cli_commands; *c != NULL; c++)
		if (strcmp((*c)->name, name) == 0)
			return *c;
	return NULL;
}

int
cli_bad_option(const char *cmd, int c, char **argv)
{
	const char *opt = argv[optind - 1];

	if (c == ':')
		return cli_usage(cmd, "option %s needs a value", opt);
	if (optopt != 0 && strncmp(opt, "--", 2) != 0)
		return cli_usage(cmd, "unknown option -%c", optopt);
	return cli_usage(cmd, "unknown option %s", opt);
}

const char *
cli_opt_name(const struct option *opts, int ch, char *buf, size_t len)
{
	for (; opts->name != NULL; opts++)
		if (opts->flag == NULL && opts->val == ch) {
			snprintf(buf, len, "--%s", opts->name);
			return buf;
		}
	snprintf(buf, len, "-%c", ch);
	return buf;
}

int
cli_no_args(const char *cmd, int argc, char **argv)
{
	if (optind < argc)
		return cli_usage(cmd, "unexpected argument \"%s\"",
		    argv[optind]);
	return CLI_OK;
}

int
cli_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "qiao: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_FAIL;
}

int
cli_usage(const char *cmd, const char *fmt, ...)
{
	char top[64];
	va_list ap;

	fprintf(stderr, "qiao: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	/* "log import" -> help for "log" */
	snprintf(top, sizeof(top), "%s", cmd);
	top[strcspn(top, " ")] = '\0';
	fprintf(stderr, " (try: qiao help %s)\n", top);
	return CLI_USAGE;
}

int
cli_help(const char *cmd)
{
	char top[64];
	const cli_cmd *c;

	snprintf(top, sizeof(top), "%s", cmd);
	top[strcspn(top, " ")] = '\0';
	if ((c = cli_find(top)) == NULL)
		return cli_usage("help", "no command \"%s\"", cmd);
	fputs(c->usage, stdout);
	return CLI_OK;
}

const char *
cli_default_dir(void)
{
	const char *d = getenv("QIAO_DIR");

	return d != NULL && *d != '\0' ? d : "./qiao-data";
}

int
cli_open(const char *cmd, const char *dir, node **out)
{
	char err[512];
	int rc = node_open(out, dir, NULL, err, sizeof(err));

	if (rc != QIAO_OK)
		return cli_fail(cmd, "%s", err);
	return CLI_OK;
}

int
cli_append_fail(const char *cmd, const node *n, int rc, const char *why)
{
	const char *dir = node_get_dir(n);
	struct stat st;
	char path[4096];

	snprintf(path, sizeof(path), "%s/key", dir);
	switch (rc) {
	case QIAO_EPERM:
		if (stat(path, &st) == 0)
			return cli_fail(cmd, "%s has mode %04o: a secret key "
					     "must be 0600 (chmod 600 %s)",
			    path, (unsigned)(st.st_mode & 07777), path);
		break;
	case QIAO_ENOTFOUND:
		return cli_fail(cmd, "no station key in %s (this store "
				     "cannot sign)",
		    dir);
	case QIAO_EMALFORMED:
		if (why == NULL)
			return cli_fail(cmd, "%s is not a qiao key file", path);
		break;
	case QIAO_EFULL:
		return cli_fail(cmd, "store or disk full");
	default:
		break;
	}
	return cli_fail(cmd, "%s%s%s", qiao_strerror(rc), why ? ": " : "",
	    why ? why : "");
}

int
cli_check_out(const char *cmd, const char *path)
{
	char parent[4096];
	struct stat st;
	char *slash;

	if (path[0] == '\0')
		return cli_usage(cmd, "-o needs a file name");
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return cli_fail(cmd, "cannot write %s: it is a directory",
		    path);
	if (snprintf(parent, sizeof(parent), "%s", path) >=
	    (int)sizeof(parent))
		return cli_fail(cmd, "cannot write %s: the path is too long",
		    path);
	if ((slash = strrchr(parent, '/')) == NULL)
		snprintf(parent, sizeof(parent), ".");
	else if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	if (stat(parent, &st) != 0)
		return cli_fail(cmd, "cannot write %s: %s: %s", path, parent,
		    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return cli_fail(cmd, "cannot write %s: %s is not a directory",
		    path, parent);
	if (access(parent, W_OK) != 0)
		return cli_fail(cmd, "cannot write %s: %s: %s", path, parent,
		    strerror(errno));
	return CLI_OK;
}

int
cli_parse_key(const char *cmd, const char *what, const char *hex,
    uint8_t key[QIAO_KEY_LEN])
{
	if (crdt_hex_decode(key, QIAO_KEY_LEN, hex) != QIAO_OK)
		return cli_usage(cmd, "%s must be a public key of 64 hex "
				      "digits, got \"%s\"",
		    what, hex);
	return CLI_OK;
}

int
cli_parse_u64(const char *cmd, const char *what, const char *s,
    uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*s < '0' || *s > '9' ||
	    ((v = strtoull(s, &end, 10)), errno != 0) || *end != '\0')
		return cli_usage(cmd, "%s must be a number, got \"%s\"", what,
		    s);
	*out = v;
	return CLI_OK;
}

int
cli_parse_date(const char *s, bool end_of_day, uint64_t *ms)
{
	struct tm tm, want;
	const char *end;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end == NULL)
		return QIAO_EINVAL;
	if (*end == ' ' || *end == 'T') {
		end = strptime(end + 1, "%H:%M", &tm);
		if (end == NULL)
			return QIAO_EINVAL;
	} else if (end_of_day) {
		tm.tm_hour = 23;
		tm.tm_min = 59;
		tm.tm_sec = 59;
	}
	if (*end != '\0')
		return QIAO_EINVAL;
	tm.tm_isdst = -1;
	want = tm;
	if ((t = mktime(&tm)) == (time_t)-1 || t < 0)
		return QIAO_EINVAL;
	/* mktime normalises: 2026-02-30 would become March 2. A day that
	 * does not exist is a mistake to report, not a date to move. */
	if (tm.tm_year != want.tm_year || tm.tm_mon != want.tm_mon ||
	    tm.tm_mday != want.tm_mday)
		return QIAO_EINVAL;
	*ms = (uint64_t)t * 1000 + (end_of_day ? 999 : 0);
	return QIAO_OK;
}

const char *
cli_hex(char *buf, const uint8_t *bin, size_t n)
{
	crdt_hex_encode(buf, bin, n);
	return buf;
}

const char *
cli_time(char *buf, size_t len, uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

const char *
cli_time_iso(char *buf, size_t len, uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char base[32];

	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", base, (unsigned)(ms % 1000));
	return buf;
}

static json_t *
to_json(crdt_reader *r, int depth)
{
	json_t *j = NULL;
	size_t n;

	if (depth > QIAO_DEPTH_MAX)
		return NULL;
	switch (crdt_read_peek(r)) {
	case CRDT_KIND_NIL:
		return crdt_read_nil(r) == QIAO_OK ? json_null() : NULL;
	case CRDT_KIND_BOOL: {
		bool b;
		return crdt_read_bool(r, &b) == QIAO_OK ? json_boolean(b)
							: NULL;
	}
	case CRDT_KIND_UINT:
	case CRDT_KIND_NEGINT: {
		int64_t v;
		return crdt_read_int(r, &v) == QIAO_OK ? json_integer(v)
						       : NULL;
	}
	case CRDT_KIND_STR: {
		const char *s;
		return crdt_read_str(r, &s, &n) == QIAO_OK
		    ? json_stringn(s, n)
		    : NULL;
	}
	case CRDT_KIND_BIN: {
		const uint8_t *b;
		char *hex;

		if (crdt_read_bin(r, &b, &n) != QIAO_OK ||
		    (hex = malloc(2 * n + 1)) == NULL)
			return NULL;
		crdt_hex_encode(hex, b, n);
		j = json_string(hex);
		free(hex);
		return j;
	}
	case CRDT_KIND_ARRAY:
		if (crdt_read_array(r, &n) != QIAO_OK ||
		    (j = json_array()) == NULL)
			return NULL;
		for (size_t i = 0; i < n; i++) {
			json_t *v = to_json(r, depth + 1);

			if (v == NULL || json_array_append_new(j, v) != 0) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	case CRDT_KIND_MAP:
		if (crdt_read_map(r, &n) != QIAO_OK ||
		    (j = json_object()) == NULL)
			return NULL;
		for (size_t i = 0; i < n; i++) {
			const char *k;
			size_t kl;
			json_t *v;

			if (crdt_read_str(r, &k, &kl) != QIAO_OK ||
			    (v = to_json(r, depth + 1)) == NULL ||
			    json_object_setn_new(j, k, kl, v) != 0) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	default:
		return NULL;
	}
}

json_t *
cli_json_from_msgpack(const uint8_t *buf, size_t len)
{
	crdt_reader r;

	crdt_reader_init(&r, buf, len);
	return to_json(&r, 0);
}

int
cli_json_print(json_t *j)
{
	int rc;

	if (j == NULL)
		return CLI_FAIL;
	rc = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	fputc('\n', stdout);
	return rc == 0 ? CLI_OK : CLI_FAIL;
}

size_t
cli_text_width(const char *s)
{
	mbstate_t st;
	size_t w = 0;

	memset(&st, 0, sizeof(st));
	while (*s != '\0') {
		wchar_t wc;
		size_t n = mbrtowc(&wc, s, MB_CUR_MAX, &st);
		int cw;

		if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
			/* Not decodable in this locale: count bytes. */
			w++;
			s++;
			memset(&st, 0, sizeof(st));
			continue;
		}
		cw = wcwidth(wc);
		w += cw > 0 ? (size_t)cw : 0;
		s += n;
	}
	return w;
}

void
cli_print_padded(const char *s, size_t width)
{
	size_t w = cli_text_width(s);

	fputs(s, stdout);
	while (w++ < width)
		fputc(' ', stdout);
}
