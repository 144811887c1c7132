/*
 * health.c: the spokes' own view of their health (relayd's status,
 * inferd's and invoiced's health answers), kept for dvmctl status, and
 * the policy for asking: every spoke on each 15 s tick and on connect, a
 * spoke in trouble every HEALTH_TROUBLE_MS, never twice at once.
 */
#include <string.h>

#include "jobd.h"
#include "loop.h"

#define HEALTH_TROUBLE_MS	2000	/* re-ask a spoke in trouble this often */
#define HEALTH_OVERDUE_MS	30000	/* ask again if unanswered this long */

/* A spoke's status/health answer: the latest one replaces the last. */
void
health_keep(struct spoke *s, const cJSON *m)
{
	cJSON_Delete(s->health);
	s->health = cJSON_Duplicate(m, 1);
	s->health_asked_ms = 0;
}

/* From inferd's health: is some backend up, and does some backend have the model? */
void
health_inference_ok(const cJSON *health, int *ok, int *model_ok)
{
	const cJSON *x;

	*ok = *model_ok = 0;
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(health, "backends")) {
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "ok")))
			*ok = 1;
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "model_ok")))
			*model_ok = 1;
	}
}

/*
 * Is a spoke's last answer a reason to ask again soon: a relay not
 * connected, inference or the wallet not ok? Then dvmctl status shows a
 * recovery within HEALTH_TROUBLE_MS rather than at the next 15 s tick.
 */
static int
in_trouble(const struct spoke *s, enum spoke_id id)
{
	const cJSON *x, *st;
	int ok, model_ok;

	if (s->health == NULL)
		return 1;
	switch (id) {
	case SPOKE_INVOICED:
		return !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s->health, "ok"));
	case SPOKE_INFERD:	/* as dvmctl status judges it */
		health_inference_ok(s->health, &ok, &model_ok);
		return !(ok && model_ok);
	default:
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(s->health, "relays")) {
			st = cJSON_GetObjectItemCaseSensitive(x, "state");
			if (!cJSON_IsString(st) || strcmp(st->valuestring, "connected") != 0)
				return 1;
		}
		return 0;
	}
}

/*
 * Ask connected spokes for their status/health (kept for dvmctl status):
 * every one (all), or only those in trouble. Never a second question
 * before the first is answered (invoiced's is a wallet request, which may
 * take its whole timeout), unless the answer is long overdue.
 */
static void
poll_health(struct jobd *jd, int all)
{
	static const char *ops[SPOKE__COUNT] = { "status", "health", "health" };
	uint64_t now = now_ms();
	int i;

	for (i = 0; i < SPOKE__COUNT; i++) {
		struct spoke *s = &jd->spokes[i];
		cJSON *m;

		if (!s->connected || (!all && !in_trouble(s, (enum spoke_id)i)))
			continue;
		if (s->health_asked_ms != 0 && now - s->health_asked_ms < HEALTH_OVERDUE_MS)
			continue;
		if ((m = cJSON_CreateObject()) == NULL)
			continue;
		cJSON_AddStringToObject(m, "op", ops[i]);
		if (spoke_send(jd, (enum spoke_id)i, m) == 0)
			s->health_asked_ms = now;
	}
}

/* Ask every connected spoke (the tick, a (re)connect). */
void
health_poll(struct jobd *jd)
{
	poll_health(jd, 1);
}

static void
health_tick(struct loop *l, void *arg)
{
	struct jobd *jd = arg;

	poll_health(jd, 0);
	jd->health_timer = loop_add_timer(l, HEALTH_TROUBLE_MS, health_tick, jd);
}

void
health_start(struct jobd *jd)
{
	jd->health_timer = loop_add_timer(jd->loop, HEALTH_TROUBLE_MS, health_tick, jd);
}

void
health_stop(struct jobd *jd)
{
	if (jd->health_timer)
		loop_cancel_timer(jd->loop, jd->health_timer);
	jd->health_timer = 0;
}
