/*
 * log.h: one line per event on stderr, "prog: level: message".
 * No timestamps: the supervisor's logger (s6-log, svlogd, scripts/dvm) stamps.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

#define EXIT_PERM 100	/* bad config or usage: restarting will not help */
#define EXIT_TEMP 111	/* temporary: cannot connect, out of resources */

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* prog is kept by pointer; level below which lines are dropped. */
void log_init(const char *prog, enum log_level level);
void log_set_level(enum log_level level);
/* "debug"|"info"|"warn"|"error" -> level; -1 if unknown. */
int  log_parse_level(const char *s);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn and fatal append ": strerror(errno)"; the x variants do not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatal(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void fatalx(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Rate limiting for noisy sources (a hostile relay): returns 1 if a line
 * for this limiter may be logged now (at most `burst` per `per_ms`), else 0
 * and counts the suppressed line; the next allowed line reports how many
 * were suppressed.
 */
struct log_limit {
	unsigned burst, per_ms;
	unsigned used, suppressed;
	unsigned long long window_start;
};
int log_limit_ok(struct log_limit *l);

#endif
