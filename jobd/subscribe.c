/*
 * subscribe.c: what jobd asks relayd to deliver: the "jobs" subscription
 * (requests for us) and the "cancel" one (deletions naming our open jobs),
 * rebuilt from the open jobs whenever they change.
 */
#include <stdio.h>
#include <string.h>

#include "jobd.h"
#include "loop.h"

#define CANCEL_DEBOUNCE_MS	250

static void
unsubscribe(struct jobd *jd, const char *id)
{
	cJSON *m = cJSON_CreateObject();

	if (m == NULL)
		return;
	cJSON_AddStringToObject(m, "op", "unsubscribe");
	cJSON_AddStringToObject(m, "id", id);
	spoke_send(jd, SPOKE_RELAYD, m);
}

static cJSON *
kinds_array(const int *k, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(k[i]));
	return a;
}

/*
 * The "jobs" subscription: our kinds, since now - max_request_age, #p us
 * when require_p_tag. Offline: unsubscribed. Nothing older than that
 * could pass the age check, whatever the ledger saw before a restart; and
 * starting later (at the newest request seen) could miss requests from
 * clocks behind that requester's. relayd moves since on its reconnects.
 */
void
subscribe_jobs(struct jobd *jd)
{
	cJSON *m, *filters, *f, *p;
	int64_t since = now_unix() - jd->conf.max_request_age;

	if (!jd->online) {
		unsubscribe(jd, "jobs");
		return;
	}
	if ((m = cJSON_CreateObject()) == NULL)
		return;
	cJSON_AddStringToObject(m, "op", "subscribe");
	cJSON_AddStringToObject(m, "id", "jobs");
	filters = cJSON_AddArrayToObject(m, "filters");
	f = cJSON_CreateObject();
	cJSON_AddItemToObject(f, "kinds", kinds_array(jd->conf.job_kinds, jd->conf.njob_kinds));
	cJSON_AddNumberToObject(f, "since", (double)since);
	if (jd->conf.require_p_tag) {
		p = cJSON_AddArrayToObject(f, "#p");
		cJSON_AddItemToArray(p, cJSON_CreateString(jd->kp.pkhex));
	}
	cJSON_AddItemToArray(filters, f);
	/* kind-7007 pings for us (announce.c) */
	f = cJSON_CreateObject();
	cJSON_AddItemToObject(f, "kinds", kinds_array((const int[]){ 7007 }, 1));
	cJSON_AddNumberToObject(f, "since", (double)since);
	p = cJSON_AddArrayToObject(f, "#p");
	cJSON_AddItemToArray(p, cJSON_CreateString(jd->kp.pkhex));
	cJSON_AddItemToArray(filters, f);
	spoke_send(jd, SPOKE_RELAYD, m);
}

static int
cancellable(const struct job *j)
{
	return state_can_move(j->state, ST_CANCELLED);
}

/*
 * The "cancel" subscription: kind-5 deletions naming our cancellable jobs
 * (#e, up to JOBD_CANCEL_E_MAX ids); past that, deletions by those jobs'
 * authors (the same bound). Debounced: jobs open and close in bursts.
 */
static void
cancel_fire(struct loop *l, void *arg)
{
	struct jobd *jd = arg;
	cJSON *m, *filters, *f, *ids, *authors;
	struct job *j;
	int n = 0, na = 0;
	static const int five = 5;

	(void)l;
	jd->cancel_timer = 0;
	ids = cJSON_CreateArray();
	authors = cJSON_CreateArray();
	for (j = jd->jobs; j != NULL; j = j->next) {
		const cJSON *a;
		int seen = 0;

		if (!cancellable(j))
			continue;
		if (n++ < JOBD_CANCEL_E_MAX)
			cJSON_AddItemToArray(ids, cJSON_CreateString(j->id));
		cJSON_ArrayForEach(a, authors)
			if (strcmp(a->valuestring, j->pubkey) == 0)
				seen = 1;
		if (!seen && na < JOBD_CANCEL_E_MAX) {
			cJSON_AddItemToArray(authors, cJSON_CreateString(j->pubkey));
			na++;
		}
	}
	if (n == 0 || (m = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(ids);
		cJSON_Delete(authors);
		if (n == 0)
			unsubscribe(jd, "cancel");
		return;
	}
	cJSON_AddStringToObject(m, "op", "subscribe");
	cJSON_AddStringToObject(m, "id", "cancel");
	filters = cJSON_AddArrayToObject(m, "filters");
	f = cJSON_CreateObject();
	cJSON_AddItemToObject(f, "kinds", kinds_array(&five, 1));
	if (n <= JOBD_CANCEL_E_MAX) {
		cJSON_AddItemToObject(f, "#e", ids);
		cJSON_Delete(authors);
	} else {
		cJSON_AddItemToObject(f, "authors", authors);
		cJSON_Delete(ids);
	}
	cJSON_AddNumberToObject(f, "since", (double)(now_unix() - 60));
	cJSON_AddItemToArray(filters, f);
	spoke_send(jd, SPOKE_RELAYD, m);
}

void
subscribe_cancel(struct jobd *jd)
{
	if (jd->cancel_timer || jd->stopping || !jd->spokes[SPOKE_RELAYD].connected)
		return;
	jd->cancel_timer = loop_add_timer(jd->loop, CANCEL_DEBOUNCE_MS, cancel_fire, jd);
}
