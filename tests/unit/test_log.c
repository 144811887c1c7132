/*
 * test_log.c: line format, levels, escaping (one event = one line), errno
 * suffix, the single write per line, rate limiting, fatal exit codes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "t.h"

static int saved_stderr = -1, capfd = -1;
static char cap[16384];

/* Send stderr into a pipe until uncapture(). */
static int
capture(void)
{
	int p[2];

	if (pipe(p) == -1)
		return -1;
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	saved_stderr = dup(2);
	dup2(p[1], 2);
	close(p[1]);
	capfd = p[0];
	return 0;
}

/* Restore stderr; cap holds what was written. Returns its length. */
static size_t
uncapture(void)
{
	ssize_t r;
	size_t o = 0;

	dup2(saved_stderr, 2);
	close(saved_stderr);
	while (o < sizeof(cap) - 1 &&
	    (r = read(capfd, cap + o, sizeof(cap) - 1 - o)) > 0)
		o += (size_t)r;
	cap[o] = '\0';
	close(capfd);
	return o;
}

TEST(format_and_levels)
{
	REQUIRE(capture() == 0);
	log_init("relayd", LOG_INFO);
	log_debug("hidden %d", 1);
	log_info("connected to %s", "wss://x");
	log_warnx("slow");
	log_error("bad %d", 7);
	log_set_level(LOG_ERROR);
	log_info("hidden too");
	log_set_level(LOG_DEBUG);
	log_debug("now shown");
	uncapture();
	CHECKF(strcmp(cap, "relayd: info: connected to wss://x\n"
	    "relayd: warn: slow\n"
	    "relayd: error: bad 7\n"
	    "relayd: debug: now shown\n") == 0, "got [%.300s]", cap);
}

TEST(warn_appends_strerror)
{
	REQUIRE(capture() == 0);
	log_init("jobd", LOG_DEBUG);
	errno = ENOENT;
	log_warn("open %s", "key");
	CHECK(errno == ENOENT);	/* logging leaves errno alone */
	uncapture();
	CHECKF(strcmp(cap, "jobd: warn: open key: No such file or directory\n") == 0,
	    "got [%.300s]", cap);
}

TEST(newlines_escaped)
{
	REQUIRE(capture() == 0);
	log_init("inferd", LOG_DEBUG);
	log_info("NOTICE from relay: %s", "line1\nline2\r\tx\x01y");
	uncapture();
	CHECKF(strcmp(cap, "inferd: info: NOTICE from relay: line1\\nline2\\r\\tx\\x01y\n") == 0,
	    "got [%.300s]", cap);
}

/* A huge message is cut, but still one line ending in '\n'. */
TEST(long_message_one_line)
{
	char *big = malloc(100000);
	size_t n;

	REQUIRE(big != NULL);
	memset(big, 'm', 99999);
	big[99999] = '\0';
	REQUIRE(capture() == 0);
	log_init("x", LOG_DEBUG);
	log_info("%s", big);
	n = uncapture();
	free(big);
	CHECK(n > 1000 && n <= 4096);
	CHECK(cap[n - 1] == '\n' && memchr(cap, '\n', n - 1) == NULL);
}

/*
 * Two processes logging long lines into one pipe: every line arrives
 * whole, because each is a single write of less than PIPE_BUF.
 */
TEST(concurrent_writers_do_not_interleave)
{
	char msg[3000];
	pid_t kids[2];
	int p[2], i, k, bad = 0, lines = 0;
	FILE *f;
	static char line[8192];

	REQUIRE(pipe(p) == 0);
	for (k = 0; k < 2; k++) {
		if ((kids[k] = fork()) == 0) {
			dup2(p[1], 2);
			close(p[0]);
			memset(msg, 'a' + k, sizeof(msg) - 1);
			msg[sizeof(msg) - 1] = '\0';
			log_init(k ? "b" : "a", LOG_DEBUG);
			for (i = 0; i < 200; i++)
				log_info("%s", msg);
			_exit(0);
		}
		REQUIRE(kids[k] > 0);
	}
	close(p[1]);
	REQUIRE((f = fdopen(p[0], "r")) != NULL);
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t len = strlen(line);
		char c = line[0];
		lines++;
		if (len != 3 + 6 + 2999 + 1 || (c != 'a' && c != 'b'))
			bad++;
		else if (strspn(line + 9, c == 'a' ? "a" : "b") != 2999)
			bad++;
	}
	fclose(f);
	waitpid(kids[0], NULL, 0);
	waitpid(kids[1], NULL, 0);
	CHECKF(lines == 400, "%d lines", lines);
	CHECKF(bad == 0, "%d mangled lines", bad);
}

TEST(parse_level)
{
	CHECK(log_parse_level("debug") == LOG_DEBUG);
	CHECK(log_parse_level("info") == LOG_INFO);
	CHECK(log_parse_level("warn") == LOG_WARN);
	CHECK(log_parse_level("error") == LOG_ERROR);
	CHECK(log_parse_level("loud") == -1);
	CHECK(log_parse_level(NULL) == -1);
}

TEST(rate_limit)
{
	/* A wide window: ten calls must land in one even on a loaded machine. */
	struct log_limit l = { 3, 1000, 0, 0, 0 };
	int ok = 0, i;

	REQUIRE(capture() == 0);
	log_init("relayd", LOG_DEBUG);
	for (i = 0; i < 10; i++)
		ok += log_limit_ok(&l);
	CHECK(ok == 3 && l.suppressed == 7);
	usleep(1050000);
	CHECK(log_limit_ok(&l) == 1);
	CHECK(l.suppressed == 0);
	uncapture();
	CHECKF(strstr(cap, "7 similar lines suppressed") != NULL, "got [%.300s]", cap);
}

static int
exit_code_of(int fatal_kind)
{
	pid_t pid;
	int st, devnull;

	if ((pid = fork()) == 0) {
		devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 2);
		errno = EACCES;
		if (fatal_kind)
			fatal(EXIT_TEMP, "cannot connect");
		fatalx(EXIT_PERM, "bad config");
	}
	if (pid == -1 || waitpid(pid, &st, 0) == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

TEST(fatal_exit_codes)
{
	CHECK(exit_code_of(1) == 111);
	CHECK(exit_code_of(0) == 100);
}

TEST(fatal_line)
{
	pid_t pid;
	int st;

	REQUIRE(capture() == 0);
	log_init("invoiced", LOG_ERROR);	/* fatal is never filtered */
	if ((pid = fork()) == 0) {
		errno = EACCES;
		fatal(EXIT_PERM, "open %s", "wallet");
	}
	waitpid(pid, &st, 0);
	uncapture();
	CHECKF(strcmp(cap, "invoiced: error: open wallet: Permission denied\n") == 0,
	    "got [%.300s]", cap);
}

int
main(void)
{
	RUN(format_and_levels);
	RUN(warn_appends_strerror);
	RUN(newlines_escaped);
	RUN(long_message_one_line);
	RUN(concurrent_writers_do_not_interleave);
	RUN(parse_level);
	RUN(rate_limit);
	RUN(fatal_exit_codes);
	RUN(fatal_line);
	T_DONE();
}
