/*
 * tool_inferd_blackhole: a TCP port on 127.0.0.1 where connect() hangs, for
 * inferd's connect-timeout test (tests must stay on loopback, so an
 * unroutable address is not an option).
 *
 * It listens with a backlog of 0 and never accepts, then fills the accept
 * queue with its own connections; Linux then drops further SYNs, so a
 * client's connect neither succeeds nor is refused. Prints "PORT n" and
 * stays until stdin closes or a signal ends it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FILLERS 8

/* 1 if a connect to port completes within ms. */
static int
try_connect(int port, int ms, int *fdp)
{
	struct sockaddr_in sa;
	struct pollfd p;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), err = 0;
	socklen_t len = sizeof(err);

	*fdp = fd;
	if (fd == -1)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return 1;
	if (errno != EINPROGRESS)
		return 0;
	p.fd = fd;
	p.events = POLLOUT;
	if (poll(&p, 1, ms) != 1)
		return 0;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	return err == 0;
}

int
main(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int lfd, fds[FILLERS], n = 0, port, hung = 0;
	char c;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd == -1 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(lfd, 0) == -1 || getsockname(lfd, (struct sockaddr *)&sa, &len) == -1) {
		perror("blackhole: listen");
		return 111;
	}
	port = ntohs(sa.sin_port);
	/* Fill the queue until a connect hangs: that is the state we want. */
	while (n < FILLERS) {
		if (!try_connect(port, 200, &fds[n])) {
			hung = 1;
			close(fds[n]);
			break;
		}
		n++;
	}
	if (!hung) {
		fprintf(stderr, "blackhole: the accept queue never filled\n");
		return 111;
	}
	printf("PORT %d\n", port);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
