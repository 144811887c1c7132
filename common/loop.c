/*
 * loop.c: poll() over registered fds, a signalfd, and a timer heap.
 *
 * Registrations live in an array whose indexes stay put during a pass:
 * loop_del_fd only marks an entry dead, and the array is compacted before
 * the next poll. The pollfd built for a pass maps index to index, so a
 * callback that deletes (or deletes and re-adds) another fd never has that
 * fd's stale readiness delivered to it in the same pass.
 *
 * Timers are a binary min-heap ordered by (deadline, id); ids grow, so
 * timers with one deadline fire in the order they were added. A pass fires
 * only timers that existed when it began, so a callback re-arming itself
 * with 0 ms cannot starve the fds.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

struct loop_reg {
	int	 fd;
	short	 events;
	int	 dead;
	loop_fd_cb cb;
	void	*arg;
};

struct loop_timer {
	uint64_t when, id;
	loop_timer_cb cb;
	void	*arg;
};

struct loop_prep {
	loop_prepare_cb cb;
	void	*arg;
};

struct loop {
	int	 sfd;
	int	 stopped;
	struct loop_reg *regs;
	size_t	 nregs, capregs;
	struct pollfd *pfds;
	size_t	 cappfds;
	struct loop_timer *heap;
	size_t	 nheap, capheap;
	uint64_t next_id;
	struct loop_prep *preps;
	size_t	 npreps, cappreps;
	loop_signal_cb sigcb;
	void	*sigarg;
};

uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int64_t
now_unix(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

int
notify_ready(int fd)
{
	ssize_t w;
	int saved;

	if (fd < 0)
		return 0;
	do
		w = write(fd, "\n", 1);
	while (w == -1 && errno == EINTR);
	saved = errno;
	close(fd);
	errno = saved;
	return w == 1 ? 0 : -1;
}

int
notify_fd_parse(const char *s)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > 65535)
		return -1;
	return (int)v;
}

/* Grow *p (elements of size sz) to hold at least need; 0 or -1. */
static int
loop_grow(void *pp, size_t *cap, size_t need, size_t sz)
{
	void **p = pp;
	size_t ncap;
	void *np;

	if (need <= *cap)
		return 0;
	ncap = *cap != 0 ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	if ((np = reallocarray(*p, ncap, sz)) == NULL)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

struct loop *
loop_new(void)
{
	struct loop *l;
	sigset_t set;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	/*
	 * Blocked for good: a signal must only ever arrive through the fd.
	 * A child this process forks must unblock them before exec.
	 */
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1 ||
	    signal(SIGPIPE, SIG_IGN) == SIG_ERR ||
	    (l->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
		free(l);
		return NULL;
	}
	l->next_id = 1;
	return l;
}

void
loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	close(l->sfd);
	free(l->regs);
	free(l->pfds);
	free(l->heap);
	free(l->preps);
	free(l);
}

static struct loop_reg *
loop_find(struct loop *l, int fd)
{
	size_t i;

	for (i = 0; i < l->nregs; i++)
		if (!l->regs[i].dead && l->regs[i].fd == fd)
			return &l->regs[i];
	return NULL;
}

int
loop_add_fd(struct loop *l, int fd, short events, loop_fd_cb cb, void *arg)
{
	struct loop_reg *r;

	if (fd < 0 || cb == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (loop_find(l, fd) != NULL) {
		errno = EEXIST;
		return -1;
	}
	if (loop_grow(&l->regs, &l->capregs, l->nregs + 1, sizeof(*l->regs)) == -1)
		return -1;
	r = &l->regs[l->nregs++];
	r->fd = fd;
	r->events = events;
	r->dead = 0;
	r->cb = cb;
	r->arg = arg;
	return 0;
}

int
loop_set_events(struct loop *l, int fd, short events)
{
	struct loop_reg *r;

	if ((r = loop_find(l, fd)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	r->events = events;
	return 0;
}

void
loop_del_fd(struct loop *l, int fd)
{
	struct loop_reg *r;

	if ((r = loop_find(l, fd)) != NULL)
		r->dead = 1;
}

/* Drop dead registrations; only between passes, when no index is in use. */
static void
loop_compact(struct loop *l)
{
	size_t i, o = 0;

	for (i = 0; i < l->nregs; i++)
		if (!l->regs[i].dead)
			l->regs[o++] = l->regs[i];
	l->nregs = o;
}

static int
timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
	return a->when < b->when || (a->when == b->when && a->id < b->id);
}

static void
timer_swap(struct loop *l, size_t i, size_t j)
{
	struct loop_timer t = l->heap[i];

	l->heap[i] = l->heap[j];
	l->heap[j] = t;
}

static void
timer_sift_up(struct loop *l, size_t i)
{
	while (i > 0 && timer_before(&l->heap[i], &l->heap[(i - 1) / 2])) {
		timer_swap(l, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
timer_sift_down(struct loop *l, size_t i)
{
	size_t c, m;

	for (;;) {
		m = i;
		c = 2 * i + 1;
		if (c < l->nheap && timer_before(&l->heap[c], &l->heap[m]))
			m = c;
		if (c + 1 < l->nheap && timer_before(&l->heap[c + 1], &l->heap[m]))
			m = c + 1;
		if (m == i)
			return;
		timer_swap(l, i, m);
		i = m;
	}
}

/* Remove heap entry i, keeping the heap ordered. */
static void
timer_remove_at(struct loop *l, size_t i)
{
	l->nheap--;
	if (i == l->nheap)
		return;
	l->heap[i] = l->heap[l->nheap];
	timer_sift_up(l, i);
	timer_sift_down(l, i);
}

uint64_t
loop_add_timer(struct loop *l, uint64_t ms, loop_timer_cb cb, void *arg)
{
	struct loop_timer *t;
	uint64_t now = now_ms(), id;

	if (cb == NULL)
		return 0;
	if (loop_grow(&l->heap, &l->capheap, l->nheap + 1, sizeof(*l->heap)) == -1)
		return 0;
	t = &l->heap[l->nheap];
	t->when = ms > UINT64_MAX - now ? UINT64_MAX : now + ms;
	t->id = id = l->next_id++;
	t->cb = cb;
	t->arg = arg;
	timer_sift_up(l, l->nheap++);	/* t may now point at another timer */
	return id;
}

/* Linear in the number of timers: a few thousand at most, cancelled rarely. */
void
loop_cancel_timer(struct loop *l, uint64_t id)
{
	size_t i;

	for (i = 0; i < l->nheap; i++)
		if (l->heap[i].id == id) {
			timer_remove_at(l, i);
			return;
		}
}

void
loop_on_signal(struct loop *l, loop_signal_cb cb, void *arg)
{
	l->sigcb = cb;
	l->sigarg = arg;
}

int
loop_add_prepare(struct loop *l, loop_prepare_cb cb, void *arg)
{
	if (cb == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (loop_grow(&l->preps, &l->cappreps, l->npreps + 1, sizeof(*l->preps)) == -1)
		return -1;
	l->preps[l->npreps].cb = cb;
	l->preps[l->npreps].arg = arg;
	l->npreps++;
	return 0;
}

void
loop_del_prepare(struct loop *l, loop_prepare_cb cb, void *arg)
{
	size_t i;

	for (i = 0; i < l->npreps; i++)
		if (l->preps[i].cb == cb && l->preps[i].arg == arg) {
			memmove(&l->preps[i], &l->preps[i + 1],
			    (l->npreps - i - 1) * sizeof(*l->preps));
			l->npreps--;
			return;
		}
}

/* Drain the signalfd. Without a handler, TERM and INT stop the loop. */
static void
loop_dispatch_signals(struct loop *l)
{
	struct signalfd_siginfo si;
	ssize_t r;

	for (;;) {
		r = read(l->sfd, &si, sizeof(si));
		if (r != (ssize_t)sizeof(si))
			return;
		if (l->sigcb != NULL)
			l->sigcb(l, (int)si.ssi_signo, l->sigarg);
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			l->stopped = 1;
	}
}

static void
loop_dispatch_timers(struct loop *l)
{
	uint64_t now = now_ms(), limit = l->next_id;
	struct loop_timer t;

	while (l->nheap > 0 && l->heap[0].when <= now && l->heap[0].id < limit) {
		t = l->heap[0];
		timer_remove_at(l, 0);
		t.cb(l, t.arg);
	}
}

/* Milliseconds poll may sleep: until the next timer, at most max_ms. */
static int
loop_timeout(struct loop *l, int max_ms)
{
	uint64_t now, d;

	if (l->nheap == 0)
		return max_ms;
	now = now_ms();
	d = l->heap[0].when > now ? l->heap[0].when - now : 0;
	if (d > (uint64_t)INT32_MAX)
		d = INT32_MAX;
	if (max_ms >= 0 && (uint64_t)max_ms < d)
		return max_ms;
	return (int)d;
}

int
loop_run_once(struct loop *l, int max_ms)
{
	size_t i, n;
	short rev;
	int r;

	for (i = 0; i < l->npreps; i++)
		l->preps[i].cb(l, l->preps[i].arg);
	loop_compact(l);
	n = l->nregs;
	if (loop_grow(&l->pfds, &l->cappfds, n + 1, sizeof(*l->pfds)) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		l->pfds[i].fd = l->regs[i].fd;
		l->pfds[i].events = l->regs[i].events;
		l->pfds[i].revents = 0;
	}
	l->pfds[n].fd = l->sfd;
	l->pfds[n].events = POLLIN;
	l->pfds[n].revents = 0;
	r = poll(l->pfds, (nfds_t)(n + 1), loop_timeout(l, max_ms));
	if (r == -1)
		return errno == EINTR ? 0 : -1;
	if (l->pfds[n].revents & POLLIN)
		loop_dispatch_signals(l);
	for (i = 0; i < n && r > 0; i++) {
		if ((rev = l->pfds[i].revents) == 0)
			continue;
		/* Index i still names the same live registration? */
		if (l->regs[i].dead || l->regs[i].fd != l->pfds[i].fd)
			continue;
		l->regs[i].cb(l, l->regs[i].fd, rev, l->regs[i].arg);
	}
	loop_dispatch_timers(l);
	return 0;
}

int
loop_run(struct loop *l)
{
	while (!l->stopped)
		if (loop_run_once(l, -1) == -1)
			return -1;
	return 0;
}

void
loop_stop(struct loop *l)
{
	l->stopped = 1;
}

int
loop_stopped(const struct loop *l)
{
	return l->stopped;
}
