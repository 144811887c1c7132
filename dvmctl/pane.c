/*
 * pane.c: `dvmctl pane`, the pane's login URL. The token is paned's
 * (STATE_DIR/pane/token, 0600): reading it needs root or paned's user,
 * as the URL grants control of the DVM.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dvmctl.h"
#include "log.h"

#define TOKEN_HEX 64

int
pane_print_url(const struct conf *c)
{
	char path[CONF_MAX_STR + 16], tok[TOKEN_HEX + 2];
	ssize_t n;
	int fd, i;

	if (!c->pane) {
		fprintf(stderr, "dvmctl: pane = no: the pane is off\n");
		return EXIT_PERM;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/pane/token", c->state_dir) >= sizeof(path))
		return EXIT_PERM;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "dvmctl: %s: %s (%s)\n", path, strerror(errno), errno == ENOENT ?
		    "paned has not started yet" : "run as root or as paned's user");
		return EXIT_TEMP;
	}
	n = read(fd, tok, sizeof(tok) - 1);
	close(fd);
	for (i = 0; i < TOKEN_HEX && n >= TOKEN_HEX; i++)
		if (!((tok[i] >= '0' && tok[i] <= '9') || (tok[i] >= 'a' && tok[i] <= 'f')))
			break;
	if (n < TOKEN_HEX || i < TOKEN_HEX) {
		fprintf(stderr, "dvmctl: %s: not a pane token\n", path);
		return EXIT_TEMP;
	}
	tok[TOKEN_HEX] = '\0';
	printf("http://127.0.0.1:%d/?token=%s\n", c->pane_port, tok);
	return 0;
}
