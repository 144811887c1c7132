/*
 * sock.h: Unix-domain socket helpers and reconnect backoff.
 */
#ifndef SOCK_H
#define SOCK_H

#include <stdint.h>
#include <sys/types.h>

/*
 * Bind and listen on path (a stale socket file is removed first; a live one,
 * i.e. one that accepts a connection, is an error EADDRINUSE), then chmod it
 * to mode. Returns a non-blocking, close-on-exec fd or -1. The socket's own
 * directory (a stage's run/NAME/) is created mode 0750 if it is missing;
 * scripts/dvm makes it beforehand, owned by the stage's user, when stages
 * run as their own users.
 */
int	sock_listen(const char *path, mode_t mode);
/* accept4 non-blocking close-on-exec; -1 with EAGAIN when nothing waits. */
int	sock_accept(int lfd);
/* Connect to path; returns a non-blocking close-on-exec fd or -1. */
int	sock_connect(const char *path);
/*
 * The uid of the process on the other end of a connected Unix socket, as
 * the kernel recorded it at connect or listen time (SO_PEERCRED): who
 * bound a socket cannot be faked by what it sends. -1 on error.
 */
int	sock_peer_uid(int fd, uid_t *uid);
int	fd_set_nonblock(int fd);
int	fd_set_cloexec(int fd);

/*
 * Exponential backoff with jitter for reconnects: min, 2*min, ... up to max,
 * each delay scattered by +-jitter_pct percent. backoff_reset after a
 * connection has proven healthy.
 */
struct backoff {
	unsigned min_ms, max_ms, jitter_pct;
	unsigned cur_ms;
	unsigned attempts;
};
void	 backoff_init(struct backoff *, unsigned min_ms, unsigned max_ms, unsigned jitter_pct);
unsigned backoff_next(struct backoff *);	/* the delay to wait now, in ms */
void	 backoff_reset(struct backoff *);

#endif
