/*
 * ctl.c: one request, one answer over jobd's run/pane/pane.sock. Blocking
 * with a deadline (PANE_CTL_TIMEOUT_MS): jobd answers from memory or one
 * indexed query, a person is waiting on the other side, and a hung jobd
 * costs the pane a bounded pause, never a hang.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"
#include "paned.h"
#include "sock.h"

static int
ctl_wait(int fd, short ev, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = ev };
	uint64_t now;
	int r;

	for (;;) {
		if ((now = now_ms()) >= deadline)
			return -1;
		if ((r = poll(&p, 1, (int)(deadline - now))) > 0)
			return 0;
		if (r == -1 && errno != EINTR)
			return -1;
	}
}

cJSON *
ctl_ask(const struct paned *p, const char *line, const char *want, char *err, size_t errlen)
{
	uint64_t deadline = now_ms() + PANE_CTL_TIMEOUT_MS;
	size_t len = strlen(line), off = 0, cap = 65536, got = 0;
	char *buf, *nl = NULL;
	cJSON *o = NULL;
	ssize_t n = 0;
	int fd;

	if ((fd = sock_connect(p->ctl_path)) == -1) {
		snprintf(err, errlen, "jobd is not reachable");
		return NULL;
	}
	while (off <= len) {
		const char *src = off < len ? line + off : "\n";
		size_t want_n = off < len ? len - off : 1;

		if (ctl_wait(fd, POLLOUT, deadline) == -1 ||
		    (n = write(fd, src, want_n)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			close(fd);
			snprintf(err, errlen, "jobd is not answering");
			return NULL;
		}
		off += (size_t)n;
	}
	if ((buf = malloc(cap)) == NULL) {
		close(fd);
		return NULL;
	}
	while (nl == NULL) {
		if (got == cap) {
			char *nb;

			if (cap >= PANE_MAX_ANSWER || (nb = realloc(buf, cap * 2)) == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		if (ctl_wait(fd, POLLIN, deadline) == -1 || (n = read(fd, buf + got, cap - got)) <= 0)
			break;
		nl = memchr(buf + got, '\n', (size_t)n);
		got += (size_t)n;
	}
	close(fd);
	if (nl == NULL)
		snprintf(err, errlen, "jobd's answer did not come or was too long");
	else
		o = api_parse_answer(buf, (size_t)(nl - buf), want, err, errlen);
	free(buf);
	return o;
}
