/*
 * auth.c: who may use the pane. The Host header must name the pane exactly
 * (DNS rebinding), a login token (random, STATE_DIR/pane/token, 0600) is
 * traded once for an HttpOnly SameSite=Strict session cookie, and a
 * change must come from the pane's own Origin. Comparisons of secrets take
 * the same time whatever the first differing byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "encoding.h"
#include "paned.h"

int
auth_host_ok(const char *host, int port)
{
	char a[64], b[64];

	if (host == NULL || *host == '\0')
		return 0;
	snprintf(a, sizeof(a), "127.0.0.1:%d", port);
	snprintf(b, sizeof(b), "localhost:%d", port);
	return strcmp(host, a) == 0 || strcmp(host, b) == 0;
}

int
auth_origin_ok(const char *origin, int port)
{
	char a[64], b[64];

	if (origin == NULL)
		return 0;
	snprintf(a, sizeof(a), "http://127.0.0.1:%d", port);
	snprintf(b, sizeof(b), "http://localhost:%d", port);
	return strcmp(origin, a) == 0 || strcmp(origin, b) == 0;
}

int
auth_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char d = 0;

	if (la != lb || la == 0)
		return 0;
	for (i = 0; i < la; i++)
		d |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return d == 0;
}

static int
auth_random_hex(char *out)
{
	unsigned char r[PANE_TOKEN_HEX / 2];
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(r)) {
		if ((n = getrandom(r + got, sizeof(r) - got, 0)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	hex_encode(r, sizeof(r), out);
	out[PANE_TOKEN_HEX] = '\0';
	return 0;
}

int
auth_token_path(const struct conf *c, char *buf, size_t len)
{
	return (size_t)snprintf(buf, len, "%s/pane/token", c->state_dir) >= len ? -1 : 0;
}

/* Reuse the token file (so a printed URL stays good across restarts) or make one. */
int
auth_token_load(struct paned *p, char *err, size_t errlen)
{
	char path[CONF_MAX_STR + 16], dir[CONF_MAX_STR + 16], buf[PANE_TOKEN_HEX + 2];
	ssize_t n;
	int fd;

	if (auth_token_path(&p->conf, path, sizeof(path)) == -1 ||
	    (size_t)snprintf(dir, sizeof(dir), "%s/pane", p->conf.state_dir) >= sizeof(dir)) {
		snprintf(err, errlen, "state_dir too long");
		return -1;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create state_dir/pane: %s", strerror(errno));
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) != -1) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n >= PANE_TOKEN_HEX) {
			memcpy(p->token, buf, PANE_TOKEN_HEX);
			p->token[PANE_TOKEN_HEX] = '\0';
			if (hex_decode(p->token, PANE_TOKEN_HEX, (uint8_t *)buf, PANE_TOKEN_HEX / 2) == 0)
				return 0;
		}
		unlink(path);	/* unreadable or damaged: a new one */
	}
	if (auth_random_hex(p->token) == -1 ||
	    (fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		snprintf(err, errlen, "cannot create state_dir/pane/token: %s", strerror(errno));
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s\n", p->token);
	n = write(fd, buf, PANE_TOKEN_HEX + 1);
	if (n != PANE_TOKEN_HEX + 1 || fsync(fd) == -1) {
		close(fd);
		snprintf(err, errlen, "cannot write state_dir/pane/token");
		return -1;
	}
	close(fd);
	return 0;
}

/* A new session; the oldest is forgotten when all slots are used. */
int
auth_session_new(struct paned *p, char *out)
{
	char *s = p->sessions[p->next_session++ % PANE_MAX_SESSIONS];

	if (auth_random_hex(s) == -1)
		return -1;
	memcpy(out, s, PANE_TOKEN_HEX + 1);
	return 0;
}

/* name=value out of a Cookie header; -1 if absent or too long. */
int
auth_cookie_value(const char *h, const char *name, char *out, size_t len)
{
	size_t nl = strlen(name), vl;
	const char *p = h;

	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == ';')
			p++;
		if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
			p += nl + 1;
			vl = strcspn(p, ";");
			if (vl >= len)
				return -1;
			memcpy(out, p, vl);
			out[vl] = '\0';
			return 0;
		}
		p = strchr(p, ';');
	}
	return -1;
}

int
auth_session_ok(const struct paned *p, const char *cookie_header)
{
	char v[PANE_TOKEN_HEX + 1];
	int i, ok = 0;

	if (cookie_header == NULL ||
	    auth_cookie_value(cookie_header, PANE_COOKIE, v, sizeof(v)) == -1)
		return 0;
	for (i = 0; i < PANE_MAX_SESSIONS; i++)
		ok |= p->sessions[i][0] != '\0' && auth_equal(v, p->sessions[i]);
	return ok;
}
