/*
 * sock.c: Unix-domain listen/connect, fd flags, reconnect backoff.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sock.h"

#define SOCK_BACKLOG 64

int
fd_set_nonblock(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	if (fl & O_NONBLOCK)
		return 0;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int
fd_set_cloexec(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFD)) == -1)
		return -1;
	if (fl & FD_CLOEXEC)
		return 0;
	return fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

/* Fill a sockaddr_un; ENAMETOOLONG if path does not fit (no truncation). */
static int
sock_addr(struct sockaddr_un *sun, const char *path)
{
	size_t len;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	len = strlen(path);
	if (len == 0 || len >= sizeof(sun->sun_path)) {
		errno = len == 0 ? EINVAL : ENAMETOOLONG;
		return -1;
	}
	memcpy(sun->sun_path, path, len + 1);
	return 0;
}

static void
sock_close_keep_errno(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
}

int
sock_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	if (sock_addr(&sun, path) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	/*
	 * A Unix connect completes at once or fails; EAGAIN means the
	 * listener's backlog is full, which the caller treats like any other
	 * failure: back off and retry.
	 */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		sock_close_keep_errno(fd);
		return -1;
	}
	return fd;
}

/*
 * Something is at path already. If a server answers there, it is in use;
 * if it is a socket nobody listens on (a crashed predecessor's), remove it.
 * Anything that is not a socket is left alone: we never unlink a file we
 * did not make.
 */
static int
sock_clear_stale(const char *path)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	if ((fd = sock_connect(path)) != -1) {
		close(fd);
		errno = EADDRINUSE;
		return -1;
	}
	if (errno == EAGAIN) {	/* alive, merely busy */
		errno = EADDRINUSE;
		return -1;
	}
	if (errno != ECONNREFUSED && errno != ENOENT)
		return -1;
	if (unlink(path) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

/* mkdir the directory part of path, if path has one and it is missing. */
static int
sock_make_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
	char *slash;
	size_t len = strlen(path);

	if (len >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, len + 1);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	/* Group may traverse to a 0660 socket (the umask would say 0700). */
	if (mkdir(dir, 0750) == 0)
		return chmod(dir, 0750);
	return errno == EEXIST ? 0 : -1;
}

int
sock_listen(const char *path, mode_t mode)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd, rc;

	if (sock_addr(&sun, path) == -1)
		return -1;
	if (sock_make_dir(path) == -1 || sock_clear_stale(path) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	/* No window in which the socket is wider open than asked. */
	old = umask(0777 & ~mode);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1 || chmod(path, mode) == -1 ||
	    listen(fd, SOCK_BACKLOG) == -1) {
		sock_close_keep_errno(fd);
		return -1;
	}
	return fd;
}

int
sock_peer_uid(int fd, uid_t *uid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1)
		return -1;
	if (len != sizeof(cr)) {
		errno = EPROTO;
		return -1;
	}
	*uid = cr.uid;
	return 0;
}

int
sock_accept(int lfd)
{
	int fd;

	do
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	while (fd == -1 && errno == EINTR);
	if (fd == -1 && errno == EWOULDBLOCK)
		errno = EAGAIN;
	return fd;
}

void
backoff_init(struct backoff *b, unsigned min_ms, unsigned max_ms, unsigned jitter_pct)
{
	b->min_ms = min_ms > 0 ? min_ms : 1;
	b->max_ms = max_ms >= b->min_ms ? max_ms : b->min_ms;
	b->jitter_pct = jitter_pct <= 100 ? jitter_pct : 100;
	b->cur_ms = 0;
	b->attempts = 0;
}

/*
 * The jitter keeps many clients that lost the same server from coming back
 * in lock-step. The result stays within cur +- jitter_pct%.
 */
unsigned
backoff_next(struct backoff *b)
{
	unsigned long long spread, d;

	if (b->attempts == 0 || b->cur_ms == 0)
		b->cur_ms = b->min_ms;
	else if (b->cur_ms > b->max_ms / 2)
		b->cur_ms = b->max_ms;
	else
		b->cur_ms *= 2;
	b->attempts++;
	spread = (unsigned long long)b->cur_ms * b->jitter_pct / 100;
	if (spread == 0)
		return b->cur_ms;
	d = (unsigned long long)b->cur_ms - spread +
	    arc4random_uniform((uint32_t)(2 * spread + 1 > UINT32_MAX ?
	    UINT32_MAX : 2 * spread + 1));
	return d > UINT32_MAX ? UINT32_MAX : (unsigned)d;
}

void
backoff_reset(struct backoff *b)
{
	b->cur_ms = 0;
	b->attempts = 0;
}
