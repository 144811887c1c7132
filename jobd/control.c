/*
 * control.c: state_dir/run/control.sock (mode 0600) for dvmctl: status,
 * online, offline, jobs, stats. One JSON line in, one JSON line out, over
 * the common server (common/srv.c); a bad line is answered with an error
 * so that dvmctl never waits for an answer that will not come.
 *
 * An answer is at most CTL_MAX_ANSWER bytes (docs/PROTOCOL.md): the jobs
 * list cuts long strings and then rows to fit, and says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "jobd.h"
#include "log.h"
#include "loop.h"
#include "srv.h"

#define CTL_MAX_LINE	4096			/* a request */
#define CTL_MAX_ANSWER	(4 * 1024 * 1024)	/* an answer (dvmctl takes 16 MiB) */
#define CTL_MAX_FIELD	1024			/* a job's string, in bytes */
#define CTL_ENVELOPE	256			/* room for the jobs answer's other fields */

static cJSON *
relays_status(struct jobd *jd)
{
	cJSON *r = cJSON_CreateObject(), *list = cJSON_CreateArray(), *e;
	const cJSON *h = jd->spokes[SPOKE_RELAYD].health, *x, *arr;
	int up = 0, total = 0;

	arr = h ? cJSON_GetObjectItemCaseSensitive(h, "relays") : NULL;
	cJSON_ArrayForEach(x, arr) {
		const cJSON *url = cJSON_GetObjectItemCaseSensitive(x, "url");
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(x, "state");

		total++;
		if (cJSON_IsString(st) && strcmp(st->valuestring, "connected") == 0)
			up++;
		if ((e = cJSON_CreateObject()) == NULL)
			continue;
		cJSON_AddStringToObject(e, "url", cJSON_IsString(url) ? url->valuestring : "");
		cJSON_AddStringToObject(e, "state", cJSON_IsString(st) ? st->valuestring : "");
		cJSON_AddItemToArray(list, e);
	}
	if (h == NULL)
		total = (int)jd->conf.relays.n;
	cJSON_AddNumberToObject(r, "connected", up);
	cJSON_AddNumberToObject(r, "total", total);
	cJSON_AddItemToObject(r, "list", list);
	return r;
}

static cJSON *
inference_status(struct jobd *jd, int *ok, int *model_ok)
{
	cJSON *r = cJSON_CreateObject();
	const cJSON *h = jd->spokes[SPOKE_INFERD].health, *b;

	health_inference_ok(h, ok, model_ok);
	b = h ? cJSON_GetObjectItemCaseSensitive(h, "backends") : NULL;
	cJSON_AddBoolToObject(r, "ok", *ok);
	cJSON_AddBoolToObject(r, "model_ok", *model_ok);
	cJSON_AddItemToObject(r, "backends", b ? cJSON_Duplicate(b, 1) : cJSON_CreateArray());
	return r;
}

static cJSON *
payments_status(struct jobd *jd, int *ok)
{
	cJSON *r = cJSON_CreateObject();
	const cJSON *h = jd->spokes[SPOKE_INVOICED].health, *v;

	*ok = h != NULL && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "ok"));
	v = h ? cJSON_GetObjectItemCaseSensitive(h, "backend") : NULL;
	cJSON_AddStringToObject(r, "backend", cJSON_IsString(v) ? v->valuestring :
	    conf_wallet_name(jd->conf.wallet));
	cJSON_AddBoolToObject(r, "ok", *ok);
	if (h && cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(h, "balance_msat")))
		cJSON_AddNumberToObject(r, "balance_msat", v->valuedouble);
	if (h && cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(h, "error")))
		cJSON_AddStringToObject(r, "error", v->valuestring);
	else if (h == NULL && jd->conf.wallet != WALLET_NONE)
		cJSON_AddStringToObject(r, "error", jd->spokes[SPOKE_INVOICED].connected ?
		    "waiting for invoiced's answer (a wallet request)" : "invoiced not connected");
	return r;
}

cJSON *
ctl_status(struct jobd *jd)
{
	cJSON *o = cJSON_CreateObject(), *sp, *rel;
	int iok, mok, pok, up, free_mode = jd->conf.wallet == WALLET_NONE ||
	    jd->conf.payment_mode == PAY_FREE;
	struct job *j;
	int queued = 0;

	cJSON_AddStringToObject(o, "op", "status");
	cJSON_AddBoolToObject(o, "online", jd->online);
	cJSON_AddStringToObject(o, "pubkey", jd->kp.pkhex);
	cJSON_AddStringToObject(o, "npub", jd->npub);
	cJSON_AddStringToObject(o, "payment_mode", free_mode ? "free" :
	    conf_payment_mode_name(jd->conf.payment_mode));
	cJSON_AddStringToObject(o, "wallet", conf_wallet_name(jd->conf.wallet));
	cJSON_AddStringToObject(o, "model", jd->conf.model);
	sp = cJSON_CreateObject();
	cJSON_AddBoolToObject(sp, "relayd", jd->spokes[SPOKE_RELAYD].connected);
	cJSON_AddBoolToObject(sp, "inferd", jd->spokes[SPOKE_INFERD].connected);
	cJSON_AddBoolToObject(sp, "invoiced", jd->spokes[SPOKE_INVOICED].connected);
	rel = relays_status(jd);
	up = cJSON_GetObjectItemCaseSensitive(rel, "connected")->valueint;
	cJSON_AddItemToObject(o, "relays", rel);
	cJSON_AddItemToObject(o, "inference", inference_status(jd, &iok, &mok));
	cJSON_AddItemToObject(o, "payments", payments_status(jd, &pok));
	cJSON_AddBoolToObject(o, "earning", !free_mode && jd->online && up > 0 && iok &&
	    mok && pok);
	cJSON_AddItemToObject(o, "spokes", sp);
	sp = cJSON_AddObjectToObject(o, "bad_lines");
	cJSON_AddNumberToObject(sp, "relayd", (double)jd->spokes[SPOKE_RELAYD].bad_lines);
	cJSON_AddNumberToObject(sp, "inferd", (double)jd->spokes[SPOKE_INFERD].bad_lines);
	cJSON_AddNumberToObject(sp, "invoiced", (double)jd->spokes[SPOKE_INVOICED].bad_lines);
	for (j = jd->jobs; j != NULL; j = j->next)
		if (j->state == ST_QUEUED)
			queued++;
	cJSON_AddNumberToObject(o, "queue", queued);
	cJSON_AddNumberToObject(o, "running", jd->running);
	cJSON_AddNumberToObject(o, "open_jobs", job_queue_depth(jd) + jd->running);
	cJSON_AddNumberToObject(o, "uptime", (double)(now_unix() - jd->started));
	return o;
}

cJSON *
ctl_stats(struct jobd *jd)
{
	cJSON *o = ledger_stats_json(jd->db), *r;
	int i;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "op", "stats");
	r = cJSON_AddObjectToObject(o, "rejections");
	for (i = 0; i < REJ__COUNT; i++)
		if (jd->rejections[i])
			cJSON_AddNumberToObject(r, reject_name(i), (double)jd->rejections[i]);
	cJSON_AddNumberToObject(o, "events_seen", (double)jd->events_seen);
	cJSON_AddNumberToObject(o, "events_verified", (double)jd->events_verified);
	return o;
}

/* Persist and apply online/offline. Going online announces (NIP-89). */
void
control_set_online(struct jobd *jd, int online)
{
	int was = jd->online;

	jd->online = online;
	ledger_meta_set(jd->db, "online", online ? "1" : "0");
	subscribe_jobs(jd);
	if (online && !was)
		publish_announce(jd);
	if (online != was)
		log_info("now %s", online ? "online" : "offline");
}

void
ctl_error(struct srv_client *c, const char *why)
{
	cJSON *o = cJSON_CreateObject();

	if (o != NULL && cJSON_AddStringToObject(o, "op", "error") &&
	    cJSON_AddStringToObject(o, "message", why))
		srv_send(c, o);
	cJSON_Delete(o);
}

/* Send o (when built) and free it; a failed build is answered, not left hanging. */
void
ctl_reply(struct srv_client *c, cJSON *o)
{
	if (o == NULL) {
		ctl_error(c, "cannot build the answer");
		return;
	}
	srv_send(c, o);
	cJSON_Delete(o);
}

static void
op_status(struct srv_client *c, const cJSON *m, void *arg)
{
	ctl_reply(c, ctl_status(arg));
}

static void
op_stats(struct srv_client *c, const cJSON *m, void *arg)
{
	ctl_reply(c, ctl_stats(arg));
}

static void
op_online(struct srv_client *c, const cJSON *m, void *arg)
{
	struct jobd *jd = arg;
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(m, "op");
	cJSON *o;

	control_set_online(jd, strcmp(op->valuestring, "online") == 0);
	if ((o = cJSON_CreateObject()) != NULL) {
		cJSON_AddStringToObject(o, "op", "ok");
		cJSON_AddBoolToObject(o, "online", jd->online);
	}
	ctl_reply(c, o);
}

/* Cut every string of a job row to CTL_MAX_FIELD bytes; 1 if one was cut. */
static int
job_cut_fields(cJSON *job)
{
	cJSON *f;
	size_t len, n;
	int cut = 0;

	cJSON_ArrayForEach(f, job) {
		if (!cJSON_IsString(f) || (len = strlen(f->valuestring)) <= CTL_MAX_FIELD)
			continue;
		n = utf8_cut(f->valuestring, len, CTL_MAX_FIELD);
		f->valuestring[n] = '\0';	/* shorter in place: the buffer stays valid */
		cut = 1;
	}
	return cut;
}

/*
 * Keep the rows that fit in budget bytes of JSON; drop the rest. Returns
 * the number dropped; *cut is set when a field or a row was cut.
 */
static int
jobs_fit(cJSON *jobs, size_t budget, int *cut)
{
	cJSON *j, *next;
	size_t used = 2;	/* [] */
	char *s;
	int dropped = 0;

	for (j = jobs != NULL ? jobs->child : NULL; j != NULL; j = next) {
		next = j->next;
		if (dropped == 0) {
			*cut |= job_cut_fields(j);
			if ((s = cJSON_PrintUnformatted(j)) != NULL) {
				used += strlen(s) + 1;
				cJSON_free(s);
			}
			if (s != NULL && used <= budget)
				continue;
		}
		cJSON_Delete(cJSON_DetachItemViaPointer(jobs, j));
		dropped++;
		*cut = 1;
	}
	return dropped;
}

static void
op_jobs(struct srv_client *c, const cJSON *m, void *arg)
{
	struct jobd *jd = arg;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "limit");
	cJSON *o = cJSON_CreateObject(), *jobs;
	int limit = 20, cut = 0, dropped;

	if (cJSON_IsNumber(v))
		limit = v->valuedouble < 1 ? 1 : v->valuedouble > 1000 ? 1000 : v->valueint;
	if (o == NULL || (jobs = ledger_jobs_json(jd->db, limit)) == NULL) {
		cJSON_Delete(o);
		ctl_error(c, "cannot read the ledger");
		return;
	}
	dropped = jobs_fit(jobs, CTL_MAX_ANSWER - CTL_ENVELOPE, &cut);
	cJSON_AddStringToObject(o, "op", "jobs");
	cJSON_AddItemToObject(o, "jobs", jobs);
	cJSON_AddBoolToObject(o, "truncated", cut);
	cJSON_AddNumberToObject(o, "omitted", dropped);
	ctl_reply(c, o);
}

/* The catalog with prices and whether each model is served (store.c). */
static void
op_models(struct srv_client *c, const cJSON *m, void *arg)
{
	struct jobd *jd = arg;
	cJSON *o = cJSON_CreateObject(), *models = store_models_json(jd, 0);
	int cut = 0, dropped;

	if (o == NULL || models == NULL) {
		cJSON_Delete(o);
		cJSON_Delete(models);
		ctl_error(c, "cannot build the answer");
		return;
	}
	dropped = jobs_fit(models, CTL_MAX_ANSWER - CTL_ENVELOPE, &cut);
	cJSON_AddStringToObject(o, "op", "models");
	cJSON_AddStringToObject(o, "default_model", jd->store.nserved ? jd->store.served[0] :
	    jd->conf.model);
	cJSON_AddBoolToObject(o, "catalog", jd->store.have);
	cJSON_AddItemToObject(o, "models", models);
	cJSON_AddNumberToObject(o, "omitted", dropped);
	ctl_reply(c, o);
}

static const struct srv_op ctl_ops[] = {
	{ "status", op_status },
	{ "online", op_online },
	{ "offline", op_online },
	{ "jobs", op_jobs },
	{ "stats", op_stats },
	{ "models", op_models },
	{ "stats_daily", pane_op_stats_daily },
	{ "prices_get", prices_op_get },
	{ "prices_set", prices_op_set },
};

/* The protocol answers every bad control line, naming what was wrong. */
static void
ctl_bad(struct srv_client *c, const cJSON *msg, const char *why, void *arg)
{
	char m[128];

	snprintf(m, sizeof(m), "%s (ops: status, online, offline, jobs, stats, models, "
	    "stats_daily, prices_get, prices_set)", why);
	ctl_error(c, m);
}

int
control_open(struct jobd *jd)
{
	struct srv_conf cf = {
		.ops = ctl_ops, .nops = sizeof(ctl_ops) / sizeof(ctl_ops[0]),
		.eof = SRV_EOF_DRAIN, .maxline = CTL_MAX_LINE, .maxsend = CTL_MAX_ANSWER,
		.maxclients = JOBD_MAX_CTL, .on_bad = ctl_bad, .arg = jd,
	};

	if (conf_sock_path(&jd->conf, "control.sock", jd->ctl_path, sizeof(jd->ctl_path)) == -1)
		return -1;
	if ((jd->ctl = srv_new(jd->loop, &cf)) == NULL)
		return -1;
	return srv_listen(jd->ctl, jd->ctl_path, 0600);
}

void
control_close(struct jobd *jd)
{
	srv_free(jd->ctl);
	jd->ctl = NULL;
}
