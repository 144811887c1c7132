/*
 * loop.h: the one poll() loop of a daemon. Signals arrive through a
 * signalfd as ordinary events (SIGTERM, SIGINT, SIGHUP, SIGCHLD are
 * blocked and delivered to the signal callback; SIGPIPE is ignored).
 * Timers are one sorted list of monotonic deadlines. Prepare callbacks run
 * before every poll (to set POLLOUT from a write queue, say), in the spirit
 * of qmail's selprep/do pairs.
 */
#ifndef LOOP_H
#define LOOP_H

#include <stdint.h>
#include <poll.h>

struct loop;

typedef void (*loop_fd_cb)(struct loop *, int fd, short revents, void *arg);
typedef void (*loop_timer_cb)(struct loop *, void *arg);
typedef void (*loop_signal_cb)(struct loop *, int signo, void *arg);
typedef void (*loop_prepare_cb)(struct loop *, void *arg);

/* Blocks the four signals, opens the signalfd. NULL on failure. */
struct loop	*loop_new(void);
void		 loop_free(struct loop *);

/* At most one registration per fd. events are POLLIN/POLLOUT. */
int	 loop_add_fd(struct loop *, int fd, short events, loop_fd_cb, void *arg);
int	 loop_set_events(struct loop *, int fd, short events);
/* Safe to call from inside any callback, for any fd. */
void	 loop_del_fd(struct loop *, int fd);

/* One-shot timer, ms from now. Returns an id > 0 (0 on failure). */
uint64_t loop_add_timer(struct loop *, uint64_t ms, loop_timer_cb, void *arg);
/* Cancelling an id that already fired or was cancelled is harmless. */
void	 loop_cancel_timer(struct loop *, uint64_t id);

void	 loop_on_signal(struct loop *, loop_signal_cb, void *arg);
int	 loop_add_prepare(struct loop *, loop_prepare_cb, void *arg);
/* Not from inside a prepare callback. Removes the pair's first registration. */
void	 loop_del_prepare(struct loop *, loop_prepare_cb, void *arg);

/*
 * One pass: run prepare callbacks, poll until the next timer or max_ms
 * (-1 = no limit), dispatch ready fds, signals and due timers.
 * Returns 0, or -1 on a poll error other than EINTR.
 */
int	 loop_run_once(struct loop *, int max_ms);
/* Run passes until loop_stop. */
int	 loop_run(struct loop *);
void	 loop_stop(struct loop *);
int	 loop_stopped(const struct loop *);

/* Monotonic milliseconds, and wall-clock seconds. */
uint64_t now_ms(void);
int64_t	 now_unix(void);

/*
 * s6-style readiness: write "\n" to fd and close it. fd < 0 is a no-op.
 * Returns 0 or -1.
 */
int	 notify_ready(int fd);
/*
 * The argument of --notify-fd: a decimal fd number 0..65535. Returns it,
 * or -1 for anything else (so each daemon's usage error reads the same).
 */
int	 notify_fd_parse(const char *s);

#endif
