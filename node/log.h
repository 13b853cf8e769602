/*
 * log — one line per event on stderr: time, level, subsystem, message.
 *
 * A failure is logged once, by the layer that decides what to do about it.
 * Never pass secret keys or residents' personal data (names, ID numbers,
 * phones, case texts) to node_log: log keys by their public hex, cases by id.
 * The level is process-wide; it is configuration, not node state.
 */
#ifndef QIAO_NODE_LOG_H
#define QIAO_NODE_LOG_H

enum node_log_level {
	NODE_LOG_QUIET = -1, /* as a maximum: drop every line */
	NODE_LOG_ERR = 0,
	NODE_LOG_WARN,
	NODE_LOG_INFO,
	NODE_LOG_DEBUG,
};

/* Lines above level are dropped. Default NODE_LOG_INFO. */
void node_log_set_level(enum node_log_level level);

/* Parses "error", "warn", "info", "debug"; -1 for anything else. */
int node_log_level_parse(const char *name);

void node_log(enum node_log_level level, const char *subsys, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

#endif
