/*
 * test_sock.c: Unix sockets (listen, connect, accept, stale vs live socket
 * files, mode) and the reconnect backoff.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sock.h"
#include "t.h"

static char dir[64];
static char spath[96];

static int
flags_ok(int fd)
{
	return (fcntl(fd, F_GETFL) & O_NONBLOCK) && (fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

TEST(listen_connect_accept)
{
	int l, c, a;
	char buf[8];

	l = sock_listen(spath, 0600);
	REQUIRE(l != -1);
	CHECK(flags_ok(l));
	errno = 0;
	CHECK(sock_accept(l) == -1 && errno == EAGAIN);
	c = sock_connect(spath);
	REQUIRE(c != -1);
	CHECK(flags_ok(c));
	a = sock_accept(l);
	REQUIRE(a != -1);
	CHECK(flags_ok(a));
	CHECK(write(c, "hi", 2) == 2);
	CHECK(read(a, buf, sizeof(buf)) == 2 && memcmp(buf, "hi", 2) == 0);
	close(a);
	close(c);
	close(l);
	unlink(spath);
}

/* A spoke's socket lives in a directory of its own, made if missing. */
TEST(socket_dir_created)
{
	char sub[300], p[320];
	struct stat st;
	int l;

	snprintf(sub, sizeof(sub), "%s/stage", dir);
	snprintf(p, sizeof(p), "%s/stage.sock", sub);
	l = sock_listen(p, 0660);
	REQUIRE(l != -1);
	CHECK(stat(sub, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0750);
	close(l);
	l = sock_listen(p, 0660);	/* an existing directory is fine */
	CHECK(l != -1);
	if (l != -1)
		close(l);
	unlink(p);
	rmdir(sub);
}

TEST(mode_applied)
{
	struct stat st;
	mode_t old = umask(0);	/* a lax umask must not widen the socket */
	int l;

	l = sock_listen(spath, 0660);
	umask(old);
	REQUIRE(l != -1);
	REQUIRE(stat(spath, &st) == 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECKF((st.st_mode & 0777) == 0660, "mode %o", (unsigned)(st.st_mode & 0777));
	close(l);
	unlink(spath);
	l = sock_listen(spath, 0600);
	REQUIRE(l != -1);
	REQUIRE(stat(spath, &st) == 0);
	CHECKF((st.st_mode & 0777) == 0600, "mode %o", (unsigned)(st.st_mode & 0777));
	close(l);
	unlink(spath);
}

/* A socket file left by a dead server is replaced. */
TEST(stale_socket_replaced)
{
	struct sockaddr_un sun;
	int s, l, c;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", spath);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	REQUIRE(s != -1);
	REQUIRE(bind(s, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	close(s);	/* never listened, file stays: stale */
	errno = 0;
	CHECK(sock_connect(spath) == -1 && errno == ECONNREFUSED);
	l = sock_listen(spath, 0600);
	REQUIRE(l != -1);
	c = sock_connect(spath);
	CHECK(c != -1);
	close(c);
	close(l);
	unlink(spath);
}

/* A socket somebody listens on is not stolen. */
TEST(live_socket_refused)
{
	int l, l2, c;

	l = sock_listen(spath, 0600);
	REQUIRE(l != -1);
	errno = 0;
	l2 = sock_listen(spath, 0600);
	CHECK(l2 == -1 && errno == EADDRINUSE);
	if (l2 != -1)
		close(l2);
	/* The first server still works. */
	c = sock_connect(spath);
	CHECK(c != -1);
	close(c);
	close(l);
	unlink(spath);
}

TEST(regular_file_not_removed)
{
	struct stat st;
	int fd;

	fd = open(spath, O_CREAT | O_WRONLY, 0600);
	REQUIRE(fd != -1);
	close(fd);
	errno = 0;
	CHECK(sock_listen(spath, 0600) == -1 && errno == EEXIST);
	CHECK(stat(spath, &st) == 0 && S_ISREG(st.st_mode));
	unlink(spath);
}

TEST(path_too_long)
{
	char p[200];

	memset(p, 'a', sizeof(p) - 1);
	p[sizeof(p) - 1] = '\0';
	errno = 0;
	CHECK(sock_listen(p, 0600) == -1 && errno == ENAMETOOLONG);
	errno = 0;
	CHECK(sock_connect(p) == -1 && errno == ENAMETOOLONG);
}

TEST(connect_nothing_there)
{
	errno = 0;
	CHECK(sock_connect(spath) == -1 && errno == ENOENT);
}

TEST(backoff_grows_and_caps)
{
	struct backoff b;
	unsigned want[] = { 100, 200, 400, 800, 1000, 1000, 1000 };
	size_t i;

	backoff_init(&b, 100, 1000, 0);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECKF(backoff_next(&b) == want[i], "step %zu", i);
	CHECK(b.attempts == 7);
}

TEST(backoff_jitter_within_bounds)
{
	struct backoff b;
	unsigned d, lo = ~0u, hi = 0;
	int i;

	for (i = 0; i < 2000; i++) {
		backoff_init(&b, 1000, 1000, 20);
		d = backoff_next(&b);
		if (d < lo)
			lo = d;
		if (d > hi)
			hi = d;
	}
	CHECKF(lo >= 800 && hi <= 1200, "range %u..%u", lo, hi);
	/* It does scatter: 2000 draws from 401 values are not all one. */
	CHECKF(hi - lo > 200, "range %u..%u", lo, hi);
}

TEST(backoff_resets)
{
	struct backoff b;

	backoff_init(&b, 50, 60000, 0);
	backoff_next(&b);
	backoff_next(&b);
	CHECK(backoff_next(&b) == 200);
	backoff_reset(&b);
	CHECK(b.attempts == 0);
	CHECK(backoff_next(&b) == 50);
}

TEST(backoff_no_overflow)
{
	struct backoff b;
	unsigned d = 0;
	int i;

	backoff_init(&b, 1, 4000000000u, 50);
	for (i = 0; i < 100; i++)
		d = backoff_next(&b);
	CHECK(d >= 2000000000u);
	CHECK(b.cur_ms == 4000000000u);
}

int
main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_sock.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		printf("FAIL: test_sock.c: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(spath, sizeof(spath), "%s/s.sock", dir);
	RUN(listen_connect_accept);
	RUN(mode_applied);
	RUN(socket_dir_created);
	RUN(stale_socket_replaced);
	RUN(live_socket_refused);
	RUN(regular_file_not_removed);
	RUN(path_too_long);
	RUN(connect_nothing_there);
	RUN(backoff_grows_and_caps);
	RUN(backoff_jitter_within_bounds);
	RUN(backoff_resets);
	RUN(backoff_no_overflow);
	unlink(spath);
	rmdir(dir);
	T_DONE();
}
