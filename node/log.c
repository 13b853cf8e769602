#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "node/log.h"

static atomic_int max_level = NODE_LOG_INFO;

void
node_log_set_level(enum node_log_level level)
{
	atomic_store(&max_level, (int)level);
}

int
node_log_level_parse(const char *name)
{
	static const char *names[] = { "error", "warn", "info", "debug" };

	for (int i = 0; i < 4; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

void
node_log(enum node_log_level level, const char *subsys, const char *fmt, ...)
{
	static const char *tags[] = { "ERROR", "WARN", "INFO", "DEBUG" };
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	char msg[1024];
	va_list ap;

	if ((int)level > atomic_load(&max_level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	/* One write per line so lines from many threads do not interleave. */
	fprintf(stderr, "%s.%03ldZ %-5s %-6s %s\n", stamp,
	    ts.tv_nsec / 1000000, tags[level], subsys, msg);
}
