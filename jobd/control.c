/*
 * control.c: state_dir/run/control.sock (mode 0600) for dvmctl: status,
 * online, offline, jobs, stats. One JSON line in, one JSON line out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobd.h"
#include "log.h"
#include "loop.h"

#define CTL_MAX_LINE	4096

static void ctl_io(struct loop *, int, short, void *);

static void
ctl_drop(struct jobd *jd, struct ctl_client *c)
{
	loop_del_fd(jd->loop, c->fd);
	close(c->fd);
	ndjson_free(&c->nd);
	c->fd = -1;
}

static void
ctl_accept(struct loop *l, int lfd, short revents, void *arg)
{
	struct jobd *jd = arg;
	int fd, i;

	(void)revents;
	while ((fd = sock_accept(lfd)) != -1) {
		for (i = 0; i < JOBD_MAX_CTL && jd->ctl[i].fd != -1; i++)
			;
		if (i == JOBD_MAX_CTL) {
			log_warnx("control: too many clients");
			close(fd);
			continue;
		}
		if (ndjson_init(&jd->ctl[i].nd, fd, fd, CTL_MAX_LINE, 0) == -1 ||
		    loop_add_fd(l, fd, POLLIN, ctl_io, jd) == -1) {
			close(fd);
			continue;
		}
		jd->ctl[i].fd = fd;
	}
}

static struct ctl_client *
ctl_by_fd(struct jobd *jd, int fd)
{
	int i;

	for (i = 0; i < JOBD_MAX_CTL; i++)
		if (jd->ctl[i].fd == fd)
			return &jd->ctl[i];
	return NULL;
}

static cJSON *
relays_status(struct jobd *jd)
{
	cJSON *r = cJSON_CreateObject(), *list = cJSON_CreateArray(), *e;
	const cJSON *h = jd->spokes[SPOKE_RELAYD].health, *x, *arr;
	int up = 0, total = 0;

	arr = h ? cJSON_GetObjectItem(h, "relays") : NULL;
	cJSON_ArrayForEach(x, arr) {
		const cJSON *url = cJSON_GetObjectItem(x, "url"), *st = cJSON_GetObjectItem(x, "state");

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
	b = h ? cJSON_GetObjectItem(h, "backends") : NULL;
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

	*ok = h != NULL && cJSON_IsTrue(cJSON_GetObjectItem(h, "ok"));
	v = h ? cJSON_GetObjectItem(h, "backend") : NULL;
	cJSON_AddStringToObject(r, "backend", cJSON_IsString(v) ? v->valuestring :
	    conf_wallet_name(jd->conf.wallet));
	cJSON_AddBoolToObject(r, "ok", *ok);
	if (h && cJSON_IsNumber(v = cJSON_GetObjectItem(h, "balance_msat")))
		cJSON_AddNumberToObject(r, "balance_msat", v->valuedouble);
	if (h && cJSON_IsString(v = cJSON_GetObjectItem(h, "error")))
		cJSON_AddStringToObject(r, "error", v->valuestring);
	else if (h == NULL && jd->conf.wallet != WALLET_NONE)
		cJSON_AddStringToObject(r, "error", jd->spokes[SPOKE_INVOICED].connected ?
		    "waiting for invoiced's answer (a wallet request)" : "invoiced not connected");
	return r;
}

static cJSON *
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
	up = cJSON_GetObjectItem(rel, "connected")->valueint;
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

static cJSON *
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
static void
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

static cJSON *
ctl_answer(struct jobd *jd, const char *line, size_t len)
{
	cJSON *m = cJSON_ParseWithLength(line, len), *o = NULL, *v;
	const cJSON *op = m ? cJSON_GetObjectItem(m, "op") : NULL;
	int limit = 20;

	if (!cJSON_IsString(op)) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "op", "error");
		cJSON_AddStringToObject(o, "message", "expected a JSON object with op");
	} else if (strcmp(op->valuestring, "status") == 0)
		o = ctl_status(jd);
	else if (strcmp(op->valuestring, "online") == 0 ||
	    strcmp(op->valuestring, "offline") == 0) {
		control_set_online(jd, op->valuestring[1] == 'n');
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "op", "ok");
		cJSON_AddBoolToObject(o, "online", jd->online);
	} else if (strcmp(op->valuestring, "jobs") == 0) {
		v = cJSON_GetObjectItem(m, "limit");
		if (cJSON_IsNumber(v))
			limit = v->valueint < 1 ? 1 : v->valueint > 1000 ? 1000 : v->valueint;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "op", "jobs");
		cJSON_AddItemToObject(o, "jobs", ledger_jobs_json(jd->db, limit));
	} else if (strcmp(op->valuestring, "stats") == 0)
		o = ctl_stats(jd);
	else {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "op", "error");
		cJSON_AddStringToObject(o, "message", "unknown op (status, online, offline, "
		    "jobs, stats)");
	}
	cJSON_Delete(m);
	return o;
}

static void
ctl_io(struct loop *l, int fd, short revents, void *arg)
{
	struct jobd *jd = arg;
	struct ctl_client *c = ctl_by_fd(jd, fd);
	char *line;
	size_t len;
	ssize_t n;
	int rc, rerr;
	cJSON *o;

	(void)l;
	if (c == NULL)
		return;
	if (revents & POLLOUT && ndjson_flush(&c->nd) == -1) {
		ctl_drop(jd, c);
		return;
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR))) {
		if (c->nd.eof && !ndjson_pending(&c->nd))
			ctl_drop(jd, c);	/* answered a client that already hung up */
		return;
	}
	/* One read per wake-up: lines are taken before the buffer can fill. */
	n = ndjson_read(&c->nd);
	rerr = errno;	/* answering below may change errno */
	while ((rc = ndjson_next(&c->nd, &line, &len)) != 0) {
		if (rc == -1)
			continue;
		if ((o = ctl_answer(jd, line, len)) != NULL) {
			ndjson_send_json(&c->nd, o);
			cJSON_Delete(o);
		}
	}
	ndjson_flush(&c->nd);
	if (n == 0 && !ndjson_pending(&c->nd))
		ctl_drop(jd, c);
	else if (n == -1 && rerr != EAGAIN && rerr != EWOULDBLOCK && rerr != ENOBUFS)
		ctl_drop(jd, c);
}

static void
ctl_prepare(struct loop *l, void *arg)
{
	struct jobd *jd = arg;
	int i;

	for (i = 0; i < JOBD_MAX_CTL; i++)
		if (jd->ctl[i].fd != -1)
			loop_set_events(l, jd->ctl[i].fd,
			    (jd->ctl[i].nd.eof ? 0 : POLLIN) |
			    (ndjson_pending(&jd->ctl[i].nd) ? POLLOUT : 0));
}

int
control_open(struct jobd *jd)
{
	int i;

	for (i = 0; i < JOBD_MAX_CTL; i++)
		jd->ctl[i].fd = -1;
	if (conf_sock_path(&jd->conf, "control.sock", jd->ctl_path, sizeof(jd->ctl_path)) == -1)
		return -1;
	if ((jd->ctl_fd = sock_listen(jd->ctl_path, 0600)) == -1)
		return -1;
	if (loop_add_fd(jd->loop, jd->ctl_fd, POLLIN, ctl_accept, jd) == -1 ||
	    loop_add_prepare(jd->loop, ctl_prepare, jd) == -1)
		return -1;
	return 0;
}

void
control_close(struct jobd *jd)
{
	int i;

	for (i = 0; i < JOBD_MAX_CTL; i++)
		if (jd->ctl[i].fd != -1)
			ctl_drop(jd, &jd->ctl[i]);
	if (jd->ctl_fd != -1) {
		loop_del_fd(jd->loop, jd->ctl_fd);
		close(jd->ctl_fd);
		unlink(jd->ctl_path);
		jd->ctl_fd = -1;
	}
}
