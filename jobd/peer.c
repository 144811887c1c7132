/*
 * peer.c: jobd checks who bound a spoke's socket before it trusts a line
 * from it. The socket's path is not proof: whoever binds it first is heard,
 * and the one on invoiced's socket can mark jobs paid. The kernel's record
 * of the peer's uid (SO_PEERCRED) is. scripts/dvm names each spoke's user
 * (DVM_RELAYD_USER, ...) when stages run as their own users.
 */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "peer.h"
#include "sock.h"

static const char *
peer_want(const struct conf *c, const char *spoke)
{
	if (strcmp(spoke, "relayd") == 0)
		return c->relayd_user;
	if (strcmp(spoke, "inferd") == 0)
		return c->inferd_user;
	if (strcmp(spoke, "invoiced") == 0)
		return c->invoiced_user;
	return "";
}

/* A user name or a decimal uid; -1 if it names nobody. */
static int
peer_resolve(const char *want, uid_t *uid)
{
	struct passwd *pw;
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(want, &end, 10);
	if (*want >= '0' && *want <= '9' && *end == '\0' && errno == 0 &&
	    v == (uid_t)v) {
		*uid = (uid_t)v;
		return 0;
	}
	if ((pw = getpwnam(want)) == NULL)
		return -1;
	*uid = pw->pw_uid;
	return 0;
}

/*
 * Root is always let in: a root process can read jobd's memory anyway, and
 * a launcher started as root with privsep = no runs every stage as root.
 */
int
peer_uid_allowed(const char *want, uid_t peer, uid_t self)
{
	uid_t w;

	if (peer == 0)
		return 1;
	if (want == NULL || *want == '\0')
		return peer == self;
	return peer_resolve(want, &w) == 0 && peer == w;
}

int
peer_check_uid(const struct conf *c, const char *spoke, int fd)
{
	const char *want = peer_want(c, spoke);
	uid_t peer, w;

	if (sock_peer_uid(fd, &peer) == -1) {
		log_warn("%s: cannot tell who is on the socket; refusing it", spoke);
		return -1;
	}
	if (peer_uid_allowed(want, peer, geteuid()))
		return 0;
	if (*want != '\0' && peer_resolve(want, &w) == -1)
		log_warnx("%s: %s_user = %s names no user; refusing the peer (uid %lu)",
		    spoke, spoke, want, (unsigned long)peer);
	else
		log_warnx("SECURITY: %s: the socket belongs to uid %lu, not %s; "
		    "refusing it, retrying later", spoke, (unsigned long)peer,
		    *want != '\0' ? want : "jobd's own user or root");
	return -1;
}
