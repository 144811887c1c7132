/*
 * test_loop.c: the poll loop: timer order and cancellation, fd readiness,
 * signals through the signalfd, changes made from inside callbacks,
 * prepare callbacks, readiness notification.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop.h"
#include "t.h"

static struct loop *L;

static int order[4096], norder;

static void
record_timer(struct loop *l, void *arg)
{
	if (norder < (int)(sizeof(order) / sizeof(order[0])))
		order[norder++] = (int)(intptr_t)arg;
}

/* Run passes until cond or a deadline; 0 when cond came true. */
static int
run_until(int (*cond)(void), uint64_t max_ms)
{
	uint64_t end = now_ms() + max_ms;

	while (!cond()) {
		if (now_ms() > end)
			return -1;
		if (loop_run_once(L, 20) == -1)
			return -1;
	}
	return 0;
}

static int want_n;
static int
have_n(void)
{
	return norder >= want_n;
}

TEST(timers_fire_in_order)
{
	norder = 0;
	REQUIRE(loop_add_timer(L, 30, record_timer, (void *)3) > 0);
	REQUIRE(loop_add_timer(L, 10, record_timer, (void *)1) > 0);
	REQUIRE(loop_add_timer(L, 20, record_timer, (void *)2) > 0);
	REQUIRE(loop_add_timer(L, 20, record_timer, (void *)22) > 0);
	want_n = 4;
	CHECK(run_until(have_n, 2000) == 0);
	CHECK(norder == 4 && order[0] == 1 && order[1] == 2 && order[2] == 22 &&
	    order[3] == 3);
}

TEST(timer_not_early)
{
	uint64_t t0 = now_ms();

	norder = 0;
	REQUIRE(loop_add_timer(L, 50, record_timer, (void *)1) > 0);
	want_n = 1;
	CHECK(run_until(have_n, 2000) == 0);
	CHECK(now_ms() - t0 >= 50);
}

TEST(timer_cancel)
{
	uint64_t a, b;

	norder = 0;
	a = loop_add_timer(L, 10, record_timer, (void *)1);
	b = loop_add_timer(L, 20, record_timer, (void *)2);
	REQUIRE(a > 0 && b > 0 && a != b);
	loop_cancel_timer(L, a);
	loop_cancel_timer(L, a);	/* twice: harmless */
	want_n = 1;
	CHECK(run_until(have_n, 2000) == 0);
	loop_cancel_timer(L, b);	/* already fired: harmless */
	loop_run_once(L, 40);
	CHECK(norder == 1 && order[0] == 2);
}

/* 3000 timers with scattered deadlines come out sorted. */
TEST(many_timers_sorted)
{
	uint64_t ids[3000];
	int i, sorted = 1;

	norder = 0;
	srand(7);
	for (i = 0; i < 3000; i++) {
		int ms = rand() % 60;
		ids[i] = loop_add_timer(L, (uint64_t)ms, record_timer,
		    (void *)(intptr_t)(ms * 10000 + i));
		REQUIRE(ids[i] > 0);
	}
	for (i = 0; i < 3000; i += 3)
		loop_cancel_timer(L, ids[i]);
	want_n = 2000;
	CHECK(run_until(have_n, 5000) == 0);
	for (i = 1; i < norder; i++)
		if (order[i - 1] / 10000 > order[i] / 10000 + 1)
			sorted = 0;	/* passes may differ by 1 ms of clock */
	CHECKF(norder == 2000, "%d fired", norder);
	CHECK(sorted);
	for (i = 0; i < norder; i++)
		CHECK((order[i] % 10000) % 3 != 0);
}

static int rearms;
static void
rearm_zero(struct loop *l, void *arg)
{
	if (++rearms < 1000)
		loop_add_timer(l, 0, rearm_zero, arg);
}

/* A timer re-adding itself with 0 ms waits for the next pass. */
TEST(timer_rearm_not_same_pass)
{
	rearms = 0;
	REQUIRE(loop_add_timer(L, 0, rearm_zero, NULL) > 0);
	CHECK(loop_run_once(L, 0) == 0);
	CHECK(rearms == 1);
	CHECK(loop_run_once(L, 0) == 0);
	CHECK(rearms == 2);
	while (rearms < 1000)
		loop_run_once(L, 0);
}

struct fdrec {
	int fd, calls, other;
	short revents;
};

static void
on_read(struct loop *l, int fd, short revents, void *arg)
{
	struct fdrec *r = arg;
	char buf[16];

	r->calls++;
	r->revents = revents;
	if (read(fd, buf, sizeof(buf)) <= 0)
		loop_del_fd(l, fd);
}

TEST(fd_readiness)
{
	struct fdrec r = { 0, 0, 0, 0 };
	int p[2];

	REQUIRE(pipe(p) == 0);
	REQUIRE(loop_add_fd(L, p[0], POLLIN, on_read, &r) == 0);
	CHECK(loop_add_fd(L, p[0], POLLIN, on_read, &r) == -1 && errno == EEXIST);
	CHECK(loop_run_once(L, 0) == 0);
	CHECK(r.calls == 0);
	REQUIRE(write(p[1], "x", 1) == 1);
	CHECK(loop_run_once(L, 1000) == 0);
	CHECK(r.calls == 1 && (r.revents & POLLIN));
	/* POLLOUT only when asked for. */
	CHECK(loop_set_events(L, p[0], 0) == 0);
	REQUIRE(write(p[1], "y", 1) == 1);
	CHECK(loop_run_once(L, 0) == 0);
	CHECK(r.calls == 1);
	loop_del_fd(L, p[0]);
	CHECK(loop_set_events(L, p[0], POLLIN) == -1);
	close(p[0]);
	close(p[1]);
}

static struct fdrec ra, rb;
static void
del_other(struct loop *l, int fd, short revents, void *arg)
{
	struct fdrec *r = arg;

	r->calls++;
	loop_del_fd(l, r->other);
}

/* Whichever of two ready fds runs first deletes the other: one call only. */
TEST(del_inside_callback)
{
	int p[2], q[2];

	REQUIRE(pipe(p) == 0 && pipe(q) == 0);
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	ra.other = q[0];
	rb.other = p[0];
	REQUIRE(loop_add_fd(L, p[0], POLLIN, del_other, &ra) == 0);
	REQUIRE(loop_add_fd(L, q[0], POLLIN, del_other, &rb) == 0);
	REQUIRE(write(p[1], "x", 1) == 1 && write(q[1], "x", 1) == 1);
	CHECK(loop_run_once(L, 1000) == 0);
	CHECK(ra.calls + rb.calls == 1);
	/* The survivor is still registered and fires again. */
	CHECK(loop_run_once(L, 1000) == 0);
	CHECK(ra.calls + rb.calls == 2);
	CHECK(ra.calls == 2 || rb.calls == 2);
	loop_del_fd(L, p[0]);
	loop_del_fd(L, q[0]);
	close(p[0]); close(p[1]); close(q[0]); close(q[1]);
}

static int readd_calls_old, readd_calls_new;
static int readd_fd, readd_pipe[2];

static void
readd_new_cb(struct loop *l, int fd, short revents, void *arg)
{
	readd_calls_new++;
}

/*
 * The first callback closes the second fd and registers a new fd under the
 * same number: the old fd's readiness must not reach the new owner.
 */
static void
readd_first_cb(struct loop *l, int fd, short revents, void *arg)
{
	char c;

	readd_calls_old++;
	if (read(fd, &c, 1) != 1)
		return;
	loop_del_fd(l, readd_fd);
	close(readd_fd);
	/* pipe() reuses the lowest free number: the one just closed. */
	if (pipe(readd_pipe) == 0 && readd_pipe[0] == readd_fd)
		loop_add_fd(l, readd_pipe[0], POLLIN, readd_new_cb, NULL);
}

TEST(readd_same_fd_in_pass)
{
	int p[2], q[2];

	REQUIRE(pipe(p) == 0 && pipe(q) == 0);
	REQUIRE(p[0] < q[0]);
	readd_fd = q[0];
	readd_calls_old = readd_calls_new = 0;
	REQUIRE(loop_add_fd(L, p[0], POLLIN, readd_first_cb, NULL) == 0);
	REQUIRE(loop_add_fd(L, q[0], POLLIN, readd_new_cb, NULL) == 0);
	REQUIRE(write(p[1], "x", 1) == 1 && write(q[1], "x", 1) == 1);
	CHECK(loop_run_once(L, 1000) == 0);
	CHECK(readd_calls_old == 1);
	CHECK(readd_pipe[0] == readd_fd);
	CHECKF(readd_calls_new == 0, "new registration got %d stale calls",
	    readd_calls_new);
	/* The new registration works from the next pass on. */
	REQUIRE(write(readd_pipe[1], "y", 1) == 1);
	CHECK(loop_run_once(L, 1000) == 0);
	CHECK(readd_calls_new == 1);
	loop_del_fd(L, p[0]);
	loop_del_fd(L, readd_pipe[0]);
	close(p[0]); close(p[1]); close(q[1]);
	close(readd_pipe[0]); close(readd_pipe[1]);
}

static int chld_seen;
static void
on_chld(struct loop *l, int signo, void *arg)
{
	if (signo == SIGCHLD)
		chld_seen++;
}

static int
have_chld(void)
{
	return chld_seen > 0;
}

TEST(sigchld_delivered)
{
	pid_t pid;
	int st;

	chld_seen = 0;
	loop_on_signal(L, on_chld, NULL);
	if ((pid = fork()) == 0)
		_exit(3);
	REQUIRE(pid > 0);
	CHECK(run_until(have_chld, 2000) == 0);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 3);
}

static int got_signo, nsignals;
static void
on_signal(struct loop *l, int signo, void *arg)
{
	got_signo = signo;
	nsignals++;
	if (signo == SIGTERM)
		loop_stop(l);
}

static int
have_signal(void)
{
	return nsignals > 0;
}

TEST(signal_delivery)
{
	got_signo = nsignals = 0;
	loop_on_signal(L, on_signal, NULL);
	REQUIRE(raise(SIGHUP) == 0);	/* blocked: it waits in the signalfd */
	CHECK(run_until(have_signal, 2000) == 0);
	CHECK(got_signo == SIGHUP && nsignals == 1);
	CHECK(!loop_stopped(L));
}

TEST(sigterm_stops_run)
{
	nsignals = 0;
	loop_on_signal(L, on_signal, NULL);
	REQUIRE(raise(SIGTERM) == 0);
	CHECK(loop_run(L) == 0);	/* returns only once stopped */
	CHECK(loop_stopped(L) && got_signo == SIGTERM);
}

static int preps;
static void
on_prepare(struct loop *l, void *arg)
{
	preps++;
}

TEST(prepare_each_pass)
{
	preps = 0;
	REQUIRE(loop_add_prepare(L, on_prepare, NULL) == 0);
	loop_run_once(L, 0);
	loop_run_once(L, 0);
	loop_run_once(L, 0);
	CHECK(preps == 3);
}

TEST(notify_fd_parse_numbers_only)
{
	CHECK(notify_fd_parse("3") == 3);
	CHECK(notify_fd_parse("0") == 0);
	CHECK(notify_fd_parse("65535") == 65535);
	CHECK(notify_fd_parse("65536") == -1);
	CHECK(notify_fd_parse("4294967299") == -1);
	CHECK(notify_fd_parse("99999999999999999999999") == -1);
	CHECK(notify_fd_parse("-1") == -1);
	CHECK(notify_fd_parse("+3") == -1);
	CHECK(notify_fd_parse(" 3") == -1);
	CHECK(notify_fd_parse("3x") == -1);
	CHECK(notify_fd_parse("") == -1);
	CHECK(notify_fd_parse(NULL) == -1);
}

TEST(notify_ready_writes_newline)
{
	char buf[4];
	int p[2];

	REQUIRE(pipe(p) == 0);
	CHECK(notify_ready(p[1]) == 0);
	CHECK(read(p[0], buf, sizeof(buf)) == 1 && buf[0] == '\n');
	CHECK(read(p[0], buf, sizeof(buf)) == 0);	/* closed: EOF */
	CHECK(notify_ready(-1) == 0);
	close(p[0]);
}

TEST(clocks)
{
	uint64_t a = now_ms();

	usleep(20000);
	CHECK(now_ms() - a >= 20);
	CHECK(now_unix() > 1700000000);
}

int
main(void)
{
	L = loop_new();
	if (L == NULL) {
		printf("FAIL: test_loop.c: loop_new: %s\n", strerror(errno));
		return 1;
	}
	RUN(timers_fire_in_order);
	RUN(timer_not_early);
	RUN(timer_cancel);
	RUN(many_timers_sorted);
	RUN(timer_rearm_not_same_pass);
	RUN(fd_readiness);
	RUN(del_inside_callback);
	RUN(readd_same_fd_in_pass);
	RUN(sigchld_delivered);
	RUN(signal_delivery);
	RUN(prepare_each_pass);
	RUN(notify_fd_parse_numbers_only);
	RUN(notify_ready_writes_newline);
	RUN(clocks);
	RUN(sigterm_stops_run);
	loop_free(L);
	T_DONE();
}
