/*
 * peer.h: who may be on the other end of a spoke's socket (peer.c).
 */
#ifndef PEER_H
#define PEER_H

#include <sys/types.h>

#include "conf.h"

/*
 * 0 if fd's peer runs as the user the config expects for that spoke
 * (relayd_user, inferd_user, invoiced_user: a name or a uid; empty: jobd's
 * own user), or as root; else -1 with one log line saying who it was.
 */
int	peer_check_uid(const struct conf *, const char *spoke, int fd);
/* The rule alone: want is the configured user ("" for none). */
int	peer_uid_allowed(const char *want, uid_t peer, uid_t self);

#endif
