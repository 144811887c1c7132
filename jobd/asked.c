/*
 * asked.c: the relays jobd has asked relayd to use. A NIP-42 AUTH event
 * proves our identity to one relay; signed for any relay relayd names, a
 * compromised relayd (which holds no key) could collect AUTH events for
 * relays it chose and log in there as us. So jobd signs only for our
 * configured relays and for the hints it passed on itself: every URL in a
 * `relays` list sent to relayd is remembered here for ASKED_TTL_MS (a
 * transient relay is closed after 30 s; a replayed publish renews it).
 */
#include <stdio.h>
#include <string.h>

#include "jobd.h"
#include "log.h"
#include "loop.h"
#include "netaddr.h"

#define ASKED_TTL_MS	(10 * 60 * 1000)

/* Remember url (as sent) as asked for at now; the oldest entry makes room. */
static void
asked_note(struct asked *a, const char *url, uint64_t now)
{
	char norm[NETADDR_URL_MAX];
	size_t i, slot = 0;

	if (url_normalize(url, norm, sizeof(norm)) == -1)
		return;		/* relayd refuses it too: nothing to sign for */
	for (i = 0; i < JOBD_ASKED_MAX; i++) {
		if (strcmp(a->v[i].url, norm) == 0) {
			slot = i;
			break;
		}
		if (a->v[i].at < a->v[slot].at)
			slot = i;
	}
	snprintf(a->v[slot].url, sizeof(a->v[slot].url), "%s", norm);
	a->v[slot].at = now;
}

/* Note every URL of the relays array of a message about to go to relayd. */
void
asked_note_msg(struct asked *a, const cJSON *msg, uint64_t now)
{
	const cJSON *u;

	cJSON_ArrayForEach(u, cJSON_GetObjectItemCaseSensitive(msg, "relays"))
		if (cJSON_IsString(u))
			asked_note(a, u->valuestring, now);
}

/* 1 if relay (as relayd names it) is configured or was asked for lately. */
int
asked_has(const struct asked *a, const struct conf *c, const char *relay, uint64_t now)
{
	char norm[NETADDR_URL_MAX], cf[NETADDR_URL_MAX];
	size_t i;

	if (url_normalize(relay, norm, sizeof(norm)) == -1)
		return 0;
	for (i = 0; i < c->relays.n; i++)
		if (url_normalize(c->relays.v[i], cf, sizeof(cf)) == 0 && strcmp(cf, norm) == 0)
			return 1;
	for (i = 0; i < JOBD_ASKED_MAX; i++)
		if (a->v[i].at != 0 && now - a->v[i].at < ASKED_TTL_MS &&
		    strcmp(a->v[i].url, norm) == 0)
			return 1;
	return 0;
}
