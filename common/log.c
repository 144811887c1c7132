/*
 * log.c: "prog: level: message\n" on stderr.
 *
 * Each line goes out in one write(2) so that lines from several processes
 * sharing the supervisor's pipe never interleave (writes of up to PIPE_BUF
 * bytes to a pipe are atomic). A message is also kept to one line: control
 * characters inside it (a newline in a relay's NOTICE, say) are escaped, so
 * one event stays one line for the log processor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Long enough for any useful line, short enough to stay under PIPE_BUF. */
#define LOG_LINE_MAX 4096

static const char *log_prog = "?";
static enum log_level log_min = LOG_INFO;

static const char *const log_names[] = { "debug", "info", "warn", "error" };

void
log_init(const char *prog, enum log_level level)
{
	log_prog = prog != NULL ? prog : "?";
	log_min = level;
}

void
log_set_level(enum log_level level)
{
	log_min = level;
}

int
log_parse_level(const char *s)
{
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++)
		if (strcmp(s, log_names[i]) == 0)
			return (int)i;
	if (strcmp(s, "warning") == 0)
		return LOG_WARN;
	return -1;
}

/*
 * Copy src into dst (cap bytes, of which the caller keeps room), replacing
 * every control byte by a visible escape. Returns the bytes written.
 */
static size_t
log_escape(char *dst, size_t cap, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	unsigned char c;

	for (; (c = (unsigned char)*src) != '\0'; src++) {
		if (c >= 0x20 && c != 0x7f) {
			if (o + 1 > cap)
				break;
			dst[o++] = (char)c;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			if (o + 2 > cap)
				break;
			dst[o++] = '\\';
			dst[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else {
			if (o + 4 > cap)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	return o;
}

/* Format and emit one line; errstr (may be NULL) is appended after ": ". */
static void
log_emit(enum log_level level, const char *errstr, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX], line[LOG_LINE_MAX];
	size_t o;
	int n;
	ssize_t w;

	if (level < log_min)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		snprintf(msg, sizeof(msg), "(unformattable message)");
	n = snprintf(line, sizeof(line), "%s: %s: ", log_prog,
	    log_names[level >= LOG_DEBUG && level <= LOG_ERROR ? level : LOG_ERROR]);
	o = n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0;
	/* Keep room for the ": strerror" suffix and the newline. */
	o += log_escape(line + o, sizeof(line) - o - 1, msg);
	if (errstr != NULL && o + 2 < sizeof(line) - 1) {
		line[o++] = ':';
		line[o++] = ' ';
		o += log_escape(line + o, sizeof(line) - o - 1, errstr);
	}
	line[o++] = '\n';
	do
		w = write(STDERR_FILENO, line, o);
	while (w == -1 && errno == EINTR);
}

/* The public variants differ only in level and the strerror suffix. */
static void
log_vemit(enum log_level level, int with_errno, const char *fmt, va_list ap)
{
	int saved = errno;

	log_emit(level, with_errno ? strerror(saved) : NULL, fmt, ap);
	errno = saved;
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_WARN, 1, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_WARN, 0, fmt, ap);
	va_end(ap);
}

void
log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_ERROR, 0, fmt, ap);
	va_end(ap);
}

void
fatal(int code, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_min = LOG_DEBUG;	/* a fatal line is never filtered */
	log_emit(LOG_ERROR, strerror(saved), fmt, ap);
	va_end(ap);
	exit(code);
}

void
fatalx(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_min = LOG_DEBUG;
	log_emit(LOG_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(code);
}

static unsigned long long
log_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000ULL +
	    (unsigned long long)ts.tv_nsec / 1000000ULL;
}

/*
 * A fixed window: `burst` lines per `per_ms`. When a new window opens after
 * lines were suppressed, say how many, so the operator knows a source is
 * noisy without the noise filling the disk.
 */
int
log_limit_ok(struct log_limit *l)
{
	unsigned long long now = log_now_ms();
	unsigned skipped;

	if (l->window_start == 0 || now - l->window_start >= l->per_ms) {
		l->window_start = now != 0 ? now : 1;
		l->used = 0;
		if (l->suppressed > 0) {
			skipped = l->suppressed;
			l->suppressed = 0;
			log_warnx("(%u similar lines suppressed)", skipped);
		}
	}
	if (l->used < l->burst) {
		l->used++;
		return 1;
	}
	l->suppressed++;
	return 0;
}
