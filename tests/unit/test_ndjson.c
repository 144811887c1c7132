/*
 * test_ndjson.c: framing over real socketpairs and pipes, fed the awkward
 * ways peers really behave: a byte at a time, many lines at once, overlong,
 * NUL bytes, dying mid-line, reading slowly.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ndjson.h"
#include "t.h"

static int
xwrite(int fd, const void *p, size_t len)
{
	const char *s = p;
	ssize_t w;

	while (len > 0) {
		w = write(fd, s, len);
		if (w <= 0)
			return -1;
		s += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Read everything available, then collect lines (up to max) into out. */
static int
drain(struct ndjson *n, char out[][64], int max, int *errs)
{
	char *line;
	size_t len;
	int got = 0, r;

	for (;;) {
		ssize_t rr = ndjson_read(n);
		while ((r = ndjson_next(n, &line, &len)) != 0) {
			if (r == -1) {
				if (errs != NULL)
					errs[got < max ? got : max - 1] = errno;
				continue;
			}
			if (got < max)
				snprintf(out[got], 64, "%s", line);
			got++;
		}
		if (rr <= 0)
			break;
	}
	return got;
}

TEST(split_across_reads)
{
	const char *msg = "{\"a\":1}\n";
	struct ndjson n;
	char *line;
	size_t len, i;
	int sv[2], r = 0;

	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(ndjson_init(&n, sv[0], sv[0], 0, 0) == 0);
	for (i = 0; i < strlen(msg); i++) {
		REQUIRE(xwrite(sv[1], msg + i, 1) == 0);
		CHECK(ndjson_read(&n) == 1);
		r = ndjson_next(&n, &line, &len);
		if (i + 1 < strlen(msg))
			CHECKF(r == 0, "line complete after %zu bytes", i + 1);
	}
	CHECK(r == 1);
	CHECK(r == 1 && len == 7 && strcmp(line, "{\"a\":1}") == 0);
	CHECK(ndjson_next(&n, &line, &len) == 0);
	CHECK(n.lines_in == 1);
	ndjson_free(&n);
	close(sv[0]);
	close(sv[1]);
}

TEST(many_lines_one_read)
{
	static char buf[32 * 1000], out[1000][64];
	struct ndjson n;
	size_t o = 0;
	int sv[2], i, got, bad = 0;

	for (i = 0; i < 1000; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "{\"i\":%d}\n", i);
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(ndjson_init(&n, sv[0], sv[0], 0, 0) == 0);
	REQUIRE(xwrite(sv[1], buf, o) == 0);
	got = drain(&n, out, 1000, NULL);
	CHECKF(got == 1000, "got %d lines", got);
	for (i = 0; i < 1000 && i < got; i++) {
		char want[64];
		snprintf(want, sizeof(want), "{\"i\":%d}", i);
		if (strcmp(out[i], want) != 0)
			bad++;
	}
	CHECKF(bad == 0, "%d lines differ", bad);
	ndjson_free(&n);
	close(sv[0]);
	close(sv[1]);
}

TEST(overlong_then_good)
{
	char big[101], out[4][64];
	int errs[4] = { 0 }, sv[2], got;
	struct ndjson n;

	memset(big, 'x', 100);
	big[100] = '\n';
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(ndjson_init(&n, sv[0], sv[0], 16, 0) == 0);
	REQUIRE(xwrite(sv[1], big, sizeof(big)) == 0);
	REQUIRE(xwrite(sv[1], "{\"ok\":1}\n", 9) == 0);
	got = drain(&n, out, 4, errs);
	CHECKF(got == 1, "got %d lines", got);
	CHECK(got >= 1 && strcmp(out[0], "{\"ok\":1}") == 0);
	CHECK(errs[0] == EMSGSIZE);
	CHECK(n.overlong == 1);
	ndjson_free(&n);
	close(sv[0]);
	close(sv[1]);
}

/* The overlong line arrives in pieces: reported once, skipped to its end. */
TEST(overlong_across_reads_reported_once)
{
	char x[50], *line;
	struct ndjson n;
	size_t len;
	int sv[2], errors = 0, lines = 0, r, i;

	memset(x, 'y', sizeof(x));
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(ndjson_init(&n, sv[0], sv[0], 16, 0) == 0);
	for (i = 0; i < 4; i++) {
		REQUIRE(xwrite(sv[1], x, sizeof(x)) == 0);
		ndjson_read(&n);
		while ((r = ndjson_next(&n, &line, &len)) != 0)
			r == -1 ? errors++ : lines++;
	}
	REQUIRE(xwrite(sv[1], "tail\n{}\n", 8) == 0);
	ndjson_read(&n);
	while ((r = ndjson_next(&n, &line, &len)) != 0) {
		if (r == -1)
			errors++;
		else {
			lines++;
			CHECK(strcmp(line, "{}") == 0);
		}
	}
	CHECKF(errors == 1, "%d errors", errors);
	CHECKF(lines == 1, "%d lines", lines);
	ndjson_free(&n);
	close(sv[0]);
	close(sv[1]);
}

TEST(exactly_maxline_accepted)
{
	char buf[18], out[2][64];
	struct ndjson n;
	int sv[2], got;

	memset(buf, 'z', 16);
	buf[16] = '\n';
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(ndjson_init(&n, sv[0], sv[0], 16, 0) == 0);
	REQUIRE(xwrite(sv[1], buf, 17) == 0);
	got = drain(&n, out, 2, NULL);
	CHECK(got == 1 && strlen(out[0]) == 16);
	CHECK(n.overlong == 0);
	ndjson_free(&n);
	close(sv[0]);
	close(sv[1]);
}

TEST(nul_byte_then_good)
{
	char out[4][64];
	int errs[4] = { 0 }, sv[2], got;
	struct ndjson n;

	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(ndjson_init(&n, sv[0], sv[0], 0, 0) == 0);
	REQUIRE(xwrite(sv[1], "{\"a\0\":1}\n{\"b\":2}\n", 17) == 0);
	got = drain(&n, out, 4, errs);
	CHECKF(got == 1, "got %d lines", got);
	CHECK(got >= 1 && strcmp(out[0], "{\"b\":2}") == 0);
	CHECK(errs[0] == EILSEQ);
	CHECK(n.badbytes == 1);
	ndjson_free(&n);
	close(sv[0]);
	close(sv[1]);
}

TEST(empty_lines_skipped)
{
	char out[4][64];
	struct ndjson n;
	int sv[2], got;

	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(ndjson_init(&n, sv[0], sv[0], 0, 0) == 0);
	REQUIRE(xwrite(sv[1], "\n\n{}\n\n[]\n", 9) == 0);
	got = drain(&n, out, 4, NULL);
	CHECK(got == 2 && strcmp(out[0], "{}") == 0 && strcmp(out[1], "[]") == 0);
	ndjson_free(&n);
	close(sv[0]);
	close(sv[1]);
}

TEST(peer_closes_mid_line)
{
	char out[4][64];
	struct ndjson n;
	int sv[2], got;

	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(ndjson_init(&n, sv[0], sv[0], 0, 0) == 0);
	REQUIRE(xwrite(sv[1], "{\"a\":1}\n{\"b\":", 13) == 0);
	close(sv[1]);
	got = drain(&n, out, 4, NULL);
	CHECKF(got == 1, "got %d lines", got);
	CHECK(got >= 1 && strcmp(out[0], "{\"a\":1}") == 0);
	CHECK(n.eof == 1);
	CHECK(n.truncated == 1);
	CHECK(ndjson_read(&n) == 0);
	ndjson_free(&n);
	close(sv[0]);
}

TEST(nothing_there_is_eagain)
{
	struct ndjson n;
	int sv[2];

	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(ndjson_init(&n, sv[0], sv[0], 0, 0) == 0);
	errno = 0;
	CHECK(ndjson_read(&n) == -1 && errno == EAGAIN);
	CHECK(n.eof == 0);
	ndjson_free(&n);
	close(sv[0]);
	close(sv[1]);
}

TEST(queue_full_enobufs)
{
	struct ndjson n;
	size_t before;
	int sv[2], i, ok = 0;

	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(ndjson_init(&n, sv[0], sv[0], 0, 100) == 0);
	for (i = 0; i < 20; i++) {
		before = n.qbytes;
		if (ndjson_send(&n, "123456789", 9) == 0) {
			ok++;
			continue;
		}
		CHECK(errno == ENOBUFS);
		CHECK(n.qbytes == before);
		break;
	}
	CHECKF(ok == 10, "%d lines queued", ok);
	CHECK(n.qbytes == 100);
	CHECK(ndjson_pending(&n));
	CHECK(ndjson_flush(&n) == 0);
	CHECK(!ndjson_pending(&n) && n.qbytes == 0);
	CHECK(ndjson_send(&n, "123456789", 9) == 0);
	ndjson_free(&n);
	close(sv[0]);
	close(sv[1]);
}

TEST(send_rejects_newline_and_overlong)
{
	char big[40];
	struct ndjson n;
	int sv[2];

	memset(big, 'a', sizeof(big));
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(ndjson_init(&n, sv[0], sv[0], 32, 0) == 0);
	errno = 0;
	CHECK(ndjson_send(&n, "a\nb", 3) == -1 && errno == EINVAL);
	errno = 0;
	CHECK(ndjson_send(&n, big, sizeof(big)) == -1 && errno == EINVAL);
	CHECK(!ndjson_pending(&n));
	CHECK(ndjson_send(&n, big, 32) == 0);
	ndjson_free(&n);
	close(sv[0]);
	close(sv[1]);
}

/*
 * A reader that takes a little at a time: the writer's flushes are partial,
 * and yet every byte arrives once and in order.
 */
TEST(flush_slow_reader)
{
	struct ndjson w, r;
	char line[200], *got;
	size_t len;
	int sv[2], sndbuf = 4096, i, next = 0, bad = 0, partial = 0, rounds;

	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	REQUIRE(ndjson_init(&w, sv[0], sv[0], 0, 0) == 0);
	REQUIRE(ndjson_init(&r, sv[1], sv[1], 0, 0) == 0);
	for (i = 0; i < 5000; i++) {
		len = (size_t)snprintf(line, sizeof(line),
		    "{\"n\":%d,\"pad\":\"%0*d\"}", i, 100, i);
		REQUIRE(ndjson_send(&w, line, len) == 0);
	}
	for (rounds = 0; rounds < 100000 && next < 5000; rounds++) {
		REQUIRE(ndjson_flush(&w) == 0);
		if (ndjson_pending(&w))
			partial = 1;
		ndjson_read(&r);
		while (ndjson_next(&r, &got, &len) == 1) {
			snprintf(line, sizeof(line), "{\"n\":%d,\"pad\":\"%0*d\"}",
			    next, 100, next);
			if (strcmp(got, line) != 0)
				bad++;
			next++;
		}
	}
	CHECKF(next == 5000, "received %d lines", next);
	CHECK(bad == 0);
	CHECK(partial);
	CHECK(!ndjson_pending(&w) && w.qbytes == 0);
	ndjson_free(&w);
	ndjson_free(&r);
	close(sv[0]);
	close(sv[1]);
}

/* --stdio: lines in on one pipe, answers out on another. */
TEST(two_fds_stdio)
{
	struct ndjson n, back;
	char *line;
	size_t len;
	int in[2], out[2];

	REQUIRE(pipe(in) == 0 && pipe(out) == 0);
	REQUIRE(ndjson_init(&n, in[0], out[1], 0, 0) == 0);
	REQUIRE(xwrite(in[1], "{\"q\":1}\n", 8) == 0);
	CHECK(ndjson_read(&n) == 8);
	REQUIRE(ndjson_next(&n, &line, &len) == 1);
	CHECK(strcmp(line, "{\"q\":1}") == 0);
	REQUIRE(ndjson_send(&n, "{\"a\":1}", 7) == 0);
	CHECK(ndjson_flush(&n) == 0);
	CHECK(!ndjson_pending(&n));
	REQUIRE(ndjson_init(&back, out[0], -1, 0, 0) == 0);
	CHECK(ndjson_read(&back) == 8);
	CHECK(ndjson_next(&back, &line, &len) == 1 && strcmp(line, "{\"a\":1}") == 0);
	CHECK((fcntl(in[0], F_GETFL) & O_NONBLOCK) && (fcntl(out[1], F_GETFL) & O_NONBLOCK));
	ndjson_free(&n);
	ndjson_free(&back);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
}

TEST(send_json)
{
	struct ndjson n, r;
	cJSON *j;
	char *line;
	size_t len;
	int sv[2];

	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(ndjson_init(&n, sv[0], sv[0], 0, 0) == 0);
	REQUIRE(ndjson_init(&r, sv[1], sv[1], 0, 0) == 0);
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "text", "two\nlines");
	CHECK(ndjson_send_json(&n, j) == 0);
	cJSON_Delete(j);
	CHECK(ndjson_flush(&n) == 0);
	ndjson_read(&r);
	CHECK(ndjson_next(&r, &line, &len) == 1 &&
	    strcmp(line, "{\"text\":\"two\\nlines\"}") == 0);
	ndjson_free(&n);
	ndjson_free(&r);
	close(sv[0]);
	close(sv[1]);
}

/* A vanished peer is an EPIPE error, not a SIGPIPE death. */
TEST(epipe_on_write)
{
	struct ndjson n;
	int sv[2];

	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(ndjson_init(&n, sv[0], sv[0], 0, 0) == 0);
	close(sv[1]);
	REQUIRE(ndjson_send(&n, "{}", 2) == 0);
	errno = 0;
	CHECK(ndjson_flush(&n) == -1 && errno == EPIPE);
	CHECK(ndjson_pending(&n));
	ndjson_free(&n);
	close(sv[0]);
}

/* The caller never takes its lines: read says so instead of growing. */
TEST(undrained_buffer_enobufs)
{
	static char buf[4096];
	struct ndjson n;
	ssize_t r = 1;
	int sv[2], i, sndbuf = 1 << 20;

	memset(buf, 'q', sizeof(buf));
	for (i = 63; i < (int)sizeof(buf); i += 64)
		buf[i] = '\n';
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	REQUIRE(ndjson_init(&n, sv[0], sv[0], 64, 0) == 0);
	REQUIRE(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
	for (i = 0; i < 64; i++)
		if (write(sv[1], buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			break;
	for (i = 0; i < 1000 && r > 0; i++)
		r = ndjson_read(&n);
	CHECK(r == -1 && errno == ENOBUFS);
	CHECK(n.rcap <= 64 + 1 + 64 * 1024);
	ndjson_free(&n);
	close(sv[0]);
	close(sv[1]);
}

int
main(void)
{
	RUN(split_across_reads);
	RUN(many_lines_one_read);
	RUN(overlong_then_good);
	RUN(overlong_across_reads_reported_once);
	RUN(exactly_maxline_accepted);
	RUN(nul_byte_then_good);
	RUN(empty_lines_skipped);
	RUN(peer_closes_mid_line);
	RUN(nothing_there_is_eagain);
	RUN(queue_full_enobufs);
	RUN(send_rejects_newline_and_overlong);
	RUN(flush_slow_reader);
	RUN(two_fds_stdio);
	RUN(send_json);
	RUN(epipe_on_write);
	RUN(undrained_buffer_enobufs);
	T_DONE();
}
