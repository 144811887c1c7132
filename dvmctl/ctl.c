/*
 * ctl.c: one request, one answer over jobd's control socket.
 *
 * jobd answers every control line with exactly one line (docs/PROTOCOL.md,
 * "jobd control"), so dvmctl needs no loop beyond a poll with a deadline:
 * a jobd that hangs must not hang the operator's shell.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "ndjson.h"
#include "sock.h"
#include "dvmctl.h"

static int
ctl_connect(const struct conf *c, int *code)
{
	char path[CONF_MAX_STR + 64];
	int fd;

	if (conf_sock_path(c, "control.sock", path, sizeof(path)) == -1) {
		fprintf(stderr, "dvmctl: state_dir too long\n");
		*code = EXIT_PERM;
		return -1;
	}
	if ((fd = sock_connect(path)) != -1)
		return fd;
	*code = EXIT_TEMP;
	if (errno == ENOENT || errno == ECONNREFUSED)
		fprintf(stderr, "dvmctl: jobd is not running (no %s)\n", path);
	else if (errno == EACCES || errno == EPERM)
		fprintf(stderr, "dvmctl: %s: permission denied "
		    "(run dvmctl as the user jobd runs as, or as root)\n", path);
	else
		fprintf(stderr, "dvmctl: connect %s: %s\n", path, strerror(errno));
	return -1;
}

/* Wait for fd to be ready for events until deadline (now_ms clock). */
static int
ctl_wait(int fd, short events, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	uint64_t now;
	int r;

	for (;;) {
		now = now_ms();
		if (now >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = poll(&p, 1, (int)(deadline - now));
		if (r > 0)
			return 0;
		if (r == -1 && errno != EINTR)
			return -1;
	}
}

/* Send the queued request and read one line; *line stays valid until ndjson_free. */
static int
ctl_exchange(struct ndjson *n, char **line, size_t *len)
{
	uint64_t deadline = now_ms() + CTL_TIMEOUT_MS;
	ssize_t r;
	int got;

	while (ndjson_pending(n)) {
		if (ctl_wait(n->wfd, POLLOUT, deadline) == -1 || ndjson_flush(n) == -1)
			return -1;
	}
	for (;;) {
		if ((got = ndjson_next(n, line, len)) == 1)
			return 0;
		if (got == -1)
			return -1;
		if (ctl_wait(n->rfd, POLLIN, deadline) == -1)
			return -1;
		r = ndjson_read(n);
		if (r == 0) {
			errno = ECONNRESET;
			return -1;
		}
		if (r == -1 && errno != EAGAIN)
			return -1;
	}
}

cJSON *
ctl_call(const struct conf *c, const cJSON *req, char **raw, int *code)
{
	struct ndjson n;
	char *out, *line;
	size_t len;
	cJSON *ans = NULL;
	int fd;

	*raw = NULL;
	if ((fd = ctl_connect(c, code)) == -1)
		return NULL;
	*code = EXIT_TEMP;
	if (ndjson_init(&n, fd, fd, CTL_MAX_ANSWER, 0) == -1) {
		close(fd);
		fprintf(stderr, "dvmctl: out of memory\n");
		return NULL;
	}
	if ((out = cJSON_PrintUnformatted(req)) == NULL ||
	    ndjson_send(&n, out, strlen(out)) == -1) {
		fprintf(stderr, "dvmctl: cannot build the request\n");
		goto done;
	}
	if (ctl_exchange(&n, &line, &len) == -1) {
		fprintf(stderr, "dvmctl: no answer from jobd: %s\n", strerror(errno));
		goto done;
	}
	ans = cJSON_ParseWithLength(line, len);
	if (ans == NULL || !cJSON_IsObject(ans) ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(ans, "op"))) {
		fprintf(stderr, "dvmctl: jobd sent a malformed answer\n");
		cJSON_Delete(ans);
		ans = NULL;
		goto done;
	}
	if ((*raw = strndup(line, len)) == NULL) {
		cJSON_Delete(ans);
		ans = NULL;
		fprintf(stderr, "dvmctl: out of memory\n");
		goto done;
	}
	*code = 0;
done:
	free(out);
	ndjson_free(&n);
	close(fd);
	return ans;
}

int
ctl_probe(const struct conf *c, const char *name)
{
	char file[64], path[CONF_MAX_STR + 64];
	int fd, spoke;

	/* The spokes' sockets are in run/NAME/, the others in run/. */
	spoke = strcmp(name, "relayd") == 0 || strcmp(name, "inferd") == 0 ||
	    strcmp(name, "invoiced") == 0;

	if (strchr(name, '/') != NULL ||
	    (size_t)snprintf(file, sizeof(file), "%s.sock", name) >= sizeof(file) ||
	    (spoke ? conf_stage_sock_path(c, name, path, sizeof(path)) :
	    conf_sock_path(c, file, path, sizeof(path))) == -1) {
		fprintf(stderr, "dvmctl: probe: bad socket name %s\n", name);
		return EXIT_PERM;
	}
	if ((fd = sock_connect(path)) == -1)
		return EXIT_TEMP;
	close(fd);
	return 0;
}
