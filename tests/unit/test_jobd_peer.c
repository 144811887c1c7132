/*
 * test_jobd_peer.c: who jobd lets in on a spoke's socket (peer.c): the
 * configured user by name or uid, else jobd's own user; root always; and
 * the uid the kernel reports for a real connection (sock_peer_uid).
 */
/* LINK: jobd/peer.c */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "sock.h"
#include "../../jobd/peer.h"
#include "t.h"

TEST(own_user_when_none_configured)
{
	CHECK(peer_uid_allowed("", 1000, 1000));
	CHECK(!peer_uid_allowed("", 1001, 1000));
	CHECK(peer_uid_allowed("", 0, 1000));		/* root */
}

TEST(configured_uid_or_name)
{
	struct passwd *pw = getpwnam("nobody");
	uid_t nobody = pw != NULL ? pw->pw_uid : 0;	/* getpwnam's buffer is reused */

	CHECK(peer_uid_allowed("1234", 1234, 1000));
	CHECK(!peer_uid_allowed("1234", 1000, 1000));	/* not even jobd's own */
	CHECK(!peer_uid_allowed("1234x", 1234, 1000));	/* no such user */
	CHECK(!peer_uid_allowed("no-such-user-here", 1234, 1000));
	if (pw != NULL) {
		CHECK(peer_uid_allowed("nobody", nobody, 1000));
		CHECK(!peer_uid_allowed("nobody", nobody + 1, 1000));
	}
}

TEST(kernel_reports_the_peer)
{
	int sv[2];
	uid_t u = (uid_t)-1;

	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(sock_peer_uid(sv[0], &u) == 0 && u == geteuid());
	close(sv[0]);
	close(sv[1]);
	CHECK(sock_peer_uid(-1, &u) == -1 && errno == EBADF);
}

/*
 * A connection from another uid: as root, a child that became nobody
 * connects to a socket of ours; otherwise root is configured and we, the
 * peer, are the stranger.
 */
static int
stranger_fd(struct conf *c, char *dir, pid_t *child)
{
	char path[128];
	int lfd, fd = -1, i;

	*child = -1;
	if (geteuid() != 0) {
		int sv[2];

		free(c->invoiced_user);
		if ((c->invoiced_user = strdup("0")) == NULL ||
		    socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
			return -1;
		close(sv[1]);
		return sv[0];
	}
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	if (chmod(dir, 0755) == -1 || (lfd = sock_listen(path, 0777)) == -1)
		return -1;
	if ((*child = fork()) == 0) {
		if (setgid(65534) == -1 || setuid(65534) == -1 ||
		    (fd = sock_connect(path)) == -1)
			_exit(1);
		pause();	/* hold the connection until killed */
		_exit(0);
	}
	for (i = 0; i < 500 && fd == -1; i++) {
		if ((fd = sock_accept(lfd)) == -1)
			usleep(10000);
	}
	close(lfd);
	return fd;
}

TEST(check_against_the_config)
{
	struct conf c;
	char err[256], dir[] = "/tmp/test_jobd_peer.XXXXXX";
	int sv[2], fd;
	pid_t child;

	REQUIRE(mkdtemp(dir) != NULL);
	REQUIRE(conf_load_buffer(&c, "t", "", 0, err, sizeof(err)) == 0);
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(peer_check_uid(&c, "invoiced", sv[0]) == 0);	/* ourselves */
	close(sv[0]);
	close(sv[1]);
	fd = stranger_fd(&c, dir, &child);
	CHECK(fd != -1 && peer_check_uid(&c, "invoiced", fd) == -1);
	if (child > 0) {	/* the stranger is let in once it is expected */
		free(c.invoiced_user);
		c.invoiced_user = strdup("65534");
		CHECK(c.invoiced_user != NULL && peer_check_uid(&c, "invoiced", fd) == 0);
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	if (fd != -1)
		close(fd);
	conf_free(&c);
	snprintf(err, sizeof(err), "%s/s.sock", dir);
	unlink(err);
	rmdir(dir);
}

int
main(void)
{
	RUN(own_user_when_none_configured);
	RUN(configured_uid_or_name);
	RUN(kernel_reports_the_peer);
	RUN(check_against_the_config);
	return t_failed_cases != 0;
}
