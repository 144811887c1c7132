/*
 * test_srv.c: the common NDJSON server over real Unix sockets and pipes:
 * lines in pieces, overlong and malformed lines, more clients than the cap,
 * an answer far larger than a socket buffer, a peer that never reads, and
 * each end-of-input policy (stdio through pipes put on fds 0 and 1).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "sock.h"
#include "srv.h"
#include "t.h"

static char dir[64];
static char spath[96];

/* What the handlers saw, for the checks. */
static struct {
	int		 echoes, bads, bad_with_msg, opens, closes, owed;
	struct srv_client *held;
	char		 last_bad[64];
} seen;

static void
op_echo(struct srv_client *c, const cJSON *msg, void *arg)
{
	cJSON *o = cJSON_Duplicate(msg, 1);

	seen.echoes++;
	srv_send(c, o);
	cJSON_Delete(o);
}

/* {"op":"big","n":N}: one answer line of N bytes. */
static void
op_big(struct srv_client *c, const cJSON *msg, void *arg)
{
	size_t n = (size_t)cJSON_GetObjectItemCaseSensitive(msg, "n")->valuedouble;
	char *s = malloc(n);

	if (s == NULL)
		return;
	memset(s, 'b', n);
	s[0] = '"';
	s[n - 1] = '"';
	srv_send_line(c, s, n);
	free(s);
}

/* {"op":"flood"}: more than any queue holds. */
static void
op_flood(struct srv_client *c, const cJSON *msg, void *arg)
{
	static char line[8192];
	int i;

	memset(line, 'f', sizeof(line));
	for (i = 0; i < 1000 && srv_send_line(c, line, sizeof(line)) == 0; i++)
		;
}

/* {"op":"hold"}: the answer comes later (the test sends it). */
static void
op_hold(struct srv_client *c, const cJSON *msg, void *arg)
{
	seen.held = c;
	seen.owed = 1;
}

static const struct srv_op ops[] = {
	{ "echo", op_echo }, { "big", op_big }, { "flood", op_flood }, { "hold", op_hold },
};

static void
on_bad(struct srv_client *c, const cJSON *msg, const char *why, void *arg)
{
	seen.bads++;
	seen.bad_with_msg += msg != NULL;
	snprintf(seen.last_bad, sizeof(seen.last_bad), "%s", why);
}

static void on_open(struct srv_client *c, void *arg) { seen.opens++; }
static void on_close(struct srv_client *c, void *arg) { seen.closes++; }
static int owed(const struct srv_client *c, void *arg) { return seen.owed; }

static struct srv_conf
conf(enum srv_eof eof)
{
	struct srv_conf cf = {
		.ops = ops, .nops = sizeof(ops) / sizeof(ops[0]), .eof = eof,
		.maxline = 4096, .maxsend = 4 * 1024 * 1024, .maxclients = 4,
		.on_open = on_open, .on_close = on_close, .owed = owed, .on_bad = on_bad,
	};

	return cf;
}

static struct loop *L;

/* A server listening at spath, and a clean record. */
static struct srv *
setup(struct srv_conf cf)
{
	struct srv *s;

	memset(&seen, 0, sizeof(seen));
	if ((L = loop_new()) == NULL)
		return NULL;
	if ((s = srv_new(L, &cf)) == NULL)
		return NULL;
	if (srv_listen(s, spath, 0600) == -1) {
		srv_free(s);
		return NULL;
	}
	return s;
}

static void
teardown(struct srv *s)
{
	srv_free(s);
	loop_free(L);
	L = NULL;
}

static void
spin(int passes)
{
	while (passes-- > 0)
		loop_run_once(L, 5);
}

static int
xwrite(int fd, const char *s)
{
	size_t len = strlen(s);

	return write(fd, s, len) == (ssize_t)len ? 0 : -1;
}

/*
 * Read what the server sends until want bytes or EOF, spinning the loop in
 * between. Returns the bytes read; *eof is set when the server closed.
 */
static size_t
collect(int fd, char *buf, size_t cap, size_t want, int *eof, int passes)
{
	size_t got = 0;
	ssize_t r;

	*eof = 0;
	while (passes-- > 0 && got < want) {
		spin(1);
		r = -1;
		errno = EAGAIN;
		while (got < cap && (r = read(fd, buf + got, cap - got)) > 0)
			got += (size_t)r;
		if (r == 0 || (r == -1 && errno != EAGAIN && errno != EWOULDBLOCK)) {
			*eof = 1;
			break;
		}
	}
	return got;
}

TEST(partial_lines)
{
	struct srv *s = setup(conf(SRV_EOF_DRAIN));
	char buf[256];
	int c, eof;
	size_t n;

	REQUIRE(s != NULL);
	c = sock_connect(spath);
	REQUIRE(c != -1);
	spin(2);
	CHECK(seen.opens == 1 && srv_clients(s) == 1);
	CHECK(xwrite(c, "{\"op\":\"ec") == 0);
	spin(2);
	CHECK(seen.echoes == 0);
	CHECK(xwrite(c, "ho\",\"x\":1}\n{\"op\":\"echo\",\"x\":2}\n{\"op\":") == 0);
	n = collect(c, buf, sizeof(buf) - 1, 42, &eof, 50);
	buf[n] = '\0';
	CHECK(seen.echoes == 2);
	CHECKF(strcmp(buf, "{\"op\":\"echo\",\"x\":1}\n{\"op\":\"echo\",\"x\":2}\n") == 0, "got %s", buf);
	CHECK(srv_bad_lines(s) == 0);
	close(c);
	spin(3);
	CHECK(srv_clients(s) == 0 && seen.closes == 1);
	teardown(s);
}

TEST(bad_lines_counted_answered_and_survived)
{
	struct srv *s = setup(conf(SRV_EOF_DRAIN));
	char buf[256], big[6000];
	int c, eof;
	size_t n;

	REQUIRE(s != NULL);
	c = sock_connect(spath);
	REQUIRE(c != -1);
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	CHECK(xwrite(c, big) == 0);	/* longer than maxline, its '\n' later */
	spin(3);
	CHECK(xwrite(c, "still the long line\n") == 0);
	CHECK(write(c, "{\"op\":\"echo\"\0}\n", 15) == 15);
	CHECK(xwrite(c, "not json\n[1,2]\n{\"no\":\"op\"}\n{\"op\":7}\n{\"op\":\"frob\"}\n") == 0);
	CHECK(xwrite(c, "{\"op\":\"echo\",\"after\":true}\n") == 0);
	n = collect(c, buf, sizeof(buf) - 1, 27, &eof, 50);
	buf[n] = '\0';
	CHECKF(strcmp(buf, "{\"op\":\"echo\",\"after\":true}\n") == 0, "got %s", buf);
	CHECKF(srv_bad_lines(s) == 7, "bad %lu", srv_bad_lines(s));
	CHECK(seen.bads == 7);
	CHECK(seen.bad_with_msg == 3);	/* no op, op not a string, unknown op */
	CHECK(strcmp(seen.last_bad, "unknown op") == 0);
	CHECK(!eof && srv_clients(s) == 1);
	close(c);
	teardown(s);
}

TEST(clients_capped)
{
	struct srv *s = setup(conf(SRV_EOF_DRAIN));
	int c[7], i, refused = 0, eof;
	char buf[64];

	REQUIRE(s != NULL);
	for (i = 0; i < 7; i++) {
		c[i] = sock_connect(spath);
		REQUIRE(c[i] != -1);
	}
	spin(3);
	CHECK(srv_clients(s) == 4);
	for (i = 0; i < 7; i++) {
		CHECK(xwrite(c[i], "{\"op\":\"echo\"}\n") == 0 || errno == EPIPE);
		if (collect(c[i], buf, sizeof(buf), 14, &eof, 20) != 14)
			refused += eof;
	}
	CHECK(refused == 3);
	CHECK(seen.echoes == 4);
	for (i = 0; i < 7; i++)
		close(c[i]);
	spin(3);
	CHECK(srv_clients(s) == 0);
	teardown(s);
}

TEST(large_answer_arrives_whole)
{
	struct srv *s = setup(conf(SRV_EOF_DRAIN));
	size_t want = 3 * 1024 * 1024 + 1, n, i;
	char *buf = malloc(want + 16), req[64];
	int c, eof, ok = 1;

	REQUIRE(s != NULL && buf != NULL);
	c = sock_connect(spath);
	REQUIRE(c != -1);
	snprintf(req, sizeof(req), "{\"op\":\"big\",\"n\":%zu}\n", want - 1);
	CHECK(xwrite(c, req) == 0);
	n = collect(c, buf, want + 16, want, &eof, 5000);
	CHECKF(n == want, "got %zu of %zu", n, want);
	for (i = 1; i + 2 < n && ok; i++)
		ok = buf[i] == 'b';
	CHECK(ok && n == want && buf[want - 1] == '\n');
	/* Over maxsend: never a part of it; the client is closed instead. */
	snprintf(req, sizeof(req), "{\"op\":\"big\",\"n\":%d}\n", 4 * 1024 * 1024 + 1);
	CHECK(xwrite(c, req) == 0);
	n = collect(c, buf, want + 16, 1, &eof, 50);
	CHECK(n == 0 && eof);
	free(buf);
	close(c);
	teardown(s);
}

TEST(slow_reader_disconnected_others_served)
{
	struct srv_conf cf = conf(SRV_EOF_DRAIN);
	struct srv *s;
	int slow, fast, eof;
	char buf[64];

	cf.maxqueue = 256 * 1024;
	s = setup(cf);
	REQUIRE(s != NULL);
	slow = sock_connect(spath);
	fast = sock_connect(spath);
	REQUIRE(slow != -1 && fast != -1);
	spin(2);
	CHECK(xwrite(slow, "{\"op\":\"flood\"}\n") == 0);
	spin(5);
	CHECK(srv_clients(s) == 1);	/* the queue filled: slow is gone, not us */
	CHECK(xwrite(fast, "{\"op\":\"echo\"}\n") == 0);
	CHECK(collect(fast, buf, sizeof(buf), 14, &eof, 20) == 14);
	close(slow);
	close(fast);
	teardown(s);
}

/* A client that asks for an answer owed later, then closes its writing side. */
static int
hold_then_stop_sending(void)
{
	int c = sock_connect(spath);

	if (c == -1 || xwrite(c, "{\"op\":\"hold\"}\n") == -1)
		return -1;
	spin(2);
	shutdown(c, SHUT_WR);
	spin(2);
	return c;
}

TEST(eof_close_at_once)
{
	struct srv *s = setup(conf(SRV_EOF_CLOSE));
	int c, eof;
	char buf[64];

	REQUIRE(s != NULL);
	c = hold_then_stop_sending();
	REQUIRE(c != -1 && seen.held != NULL);
	spin(3);
	CHECK(srv_clients(s) == 0 && seen.closes == 1);	/* owed or not */
	CHECK(collect(c, buf, sizeof(buf), 1, &eof, 5) == 0 && eof);
	close(c);
	teardown(s);
}

TEST(eof_drain_waits_for_what_is_owed)
{
	struct srv *s = setup(conf(SRV_EOF_DRAIN));
	int c, eof;
	char buf[64];
	unsigned id;
	cJSON *o;

	REQUIRE(s != NULL);
	c = hold_then_stop_sending();
	REQUIRE(c != -1 && seen.held != NULL);
	id = srv_client_id(seen.held);
	spin(3);
	CHECK(srv_clients(s) == 1 && srv_client_find(s, id) == seen.held);
	o = cJSON_Parse("{\"op\":\"late\"}");
	seen.owed = 0;
	CHECK(srv_send(seen.held, o) == 0);
	cJSON_Delete(o);
	CHECK(collect(c, buf, sizeof(buf), 14, &eof, 20) == 14 &&
	    memcmp(buf, "{\"op\":\"late\"}\n", 14) == 0);
	spin(3);
	CHECK(srv_clients(s) == 0 && srv_client_find(s, id) == NULL);
	CHECK(collect(c, buf, sizeof(buf), 1, &eof, 5) == 0 && eof);
	CHECK(!srv_input_ended(s));
	close(c);
	teardown(s);
}

/* Put pipes on fds 0 and 1 for a --stdio server; restore them after. */
static int saved_in = -1, saved_out = -1;

static int
stdio_swap(int *to_srv, int *from_srv)
{
	int in[2], out[2];

	fflush(stdout);
	if (pipe(in) == -1 || pipe(out) == -1)
		return -1;
	saved_in = dup(0);
	saved_out = dup(1);
	if (saved_in == -1 || saved_out == -1 || dup2(in[0], 0) == -1 || dup2(out[1], 1) == -1)
		return -1;
	close(in[0]);
	close(out[1]);
	*to_srv = in[1];
	*from_srv = out[0];
	return fd_set_nonblock(out[0]);
}

static void
stdio_restore(void)
{
	if (saved_in != -1)
		dup2(saved_in, 0);
	if (saved_out != -1)
		dup2(saved_out, 1);
	close(saved_in);
	close(saved_out);
	saved_in = saved_out = -1;
}

/*
 * A --stdio server on pipes put on fds 0 and 1: *to is its stdin, *from
 * its stdout. Until stdio_teardown nothing may be printed (nor REQUIREd).
 */
static struct srv *
stdio_setup(int *to, int *from)
{
	struct srv_conf cf = conf(SRV_EOF_EXIT);
	struct srv *s;

	memset(&seen, 0, sizeof(seen));
	if ((L = loop_new()) == NULL || (s = srv_new(L, &cf)) == NULL)
		return NULL;
	if (stdio_swap(to, from) == -1 || srv_stdio(s) == -1) {
		srv_free(s);
		stdio_restore();
		loop_free(L);
		return NULL;
	}
	return s;
}

static void
stdio_teardown(struct srv *s, int fd)
{
	srv_free(s);
	stdio_restore();
	close(fd);
	loop_free(L);
}

TEST(eof_exit_stdio)
{
	struct srv *s;
	int to, from, eof, r;
	char buf[64];
	size_t n;
	cJSON *o;

	s = stdio_setup(&to, &from);
	REQUIRE(s != NULL);
	xwrite(to, "{\"op\":\"echo\"}\n{\"op\":\"hold\"}\n");
	close(to);	/* end of input */
	spin(5);
	r = srv_input_ended(s) && srv_clients(s) == 1 ? 0 : 2;
	o = cJSON_Parse("{\"op\":\"late\"}");
	if (r == 0 && srv_send(seen.held, o) != 0)
		r = 3;
	cJSON_Delete(o);
	n = collect(from, buf, sizeof(buf), 28, &eof, 20);
	if (r == 0 && (n != 28 || memcmp(buf, "{\"op\":\"echo\"}\n{\"op\":\"late\"}\n", 28) != 0))
		r = 4;
	if (r == 0 && srv_pending(s))
		r = 5;
	stdio_teardown(s, from);
	CHECKF(r == 0, "step %d", r);
	CHECK(seen.echoes == 1 && seen.closes == 1);
}

TEST(stdout_closed_ends_stdio)
{
	struct srv *s;
	int to, from, r;

	s = stdio_setup(&to, &from);
	REQUIRE(s != NULL);
	close(from);	/* nobody reads our answers any more */
	xwrite(to, "{\"op\":\"echo\"}\n");
	spin(5);
	r = srv_input_ended(s) && srv_clients(s) == 0 ? 0 : 2;
	stdio_teardown(s, to);
	CHECKF(r == 0, "step %d", r);
}

TEST(socket_file_removed_on_free)
{
	struct srv *s = setup(conf(SRV_EOF_DRAIN));

	REQUIRE(s != NULL);
	CHECK(access(spath, F_OK) == 0);
	teardown(s);
	CHECK(access(spath, F_OK) == -1 && errno == ENOENT);
}

int
main(void)
{
	log_init("test_srv", LOG_ERROR);
	snprintf(dir, sizeof(dir), "/tmp/test_srv.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		printf("FAIL: test_srv.c: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(spath, sizeof(spath), "%s/s.sock", dir);
	RUN(partial_lines);
	RUN(bad_lines_counted_answered_and_survived);
	RUN(clients_capped);
	RUN(large_answer_arrives_whole);
	RUN(slow_reader_disconnected_others_served);
	RUN(eof_close_at_once);
	RUN(eof_drain_waits_for_what_is_owed);
	RUN(eof_exit_stdio);
	RUN(stdout_closed_ends_stdio);
	RUN(socket_file_removed_on_free);
	unlink(spath);
	rmdir(dir);
	T_DONE();
}
