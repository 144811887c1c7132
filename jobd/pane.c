/*
 * pane.c: state_dir/run/pane/pane.sock, the operator's pane's way in
 * (paned). It serves ONLY what the pane needs: status, online, offline,
 * a page of jobs, stats, stats_daily, prices_get and prices_set; nothing
 * that names a secret or reaches the spokes. Every connection's peer must
 * be paned_user (SO_PEERCRED, as for the spokes: peer.c) or root or jobd's
 * own user when paned_user is empty; control.sock stays 0600 as it was
 * (docs/SECURITY.md, "The pane").
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobd.h"
#include "log.h"
#include "loop.h"
#include "peer.h"
#include "srv.h"
#include "state.h"

#define PANE_MAX_LINE	4096
#define PANE_MAX_ANSWER	(1024 * 1024)
#define PANE_MAX_PAGE	200		/* jobs in one page */
#define PANE_MAX_CLIENTS 8
#define DAY_MS		(24LL * 3600 * 1000)
#define HOUR_MS		(3600LL * 1000)

static void
pane_status(struct srv_client *c, const cJSON *m, void *arg)
{
	ctl_reply(c, ctl_status(arg));
}

static void
pane_stats(struct srv_client *c, const cJSON *m, void *arg)
{
	ctl_reply(c, ctl_stats(arg));
}

static void
pane_online(struct srv_client *c, const cJSON *m, void *arg)
{
	struct jobd *jd = arg;
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(m, "op");
	cJSON *o;

	control_set_online(jd, strcmp(op->valuestring, "online") == 0);
	log_info("pane: %s", jd->online ? "online" : "offline");
	if ((o = cJSON_CreateObject()) != NULL) {
		cJSON_AddStringToObject(o, "op", "ok");
		cJSON_AddBoolToObject(o, "online", jd->online);
	}
	ctl_reply(c, o);
}

static int
num_arg(const cJSON *m, const char *name, int def, int lo, int hi)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, name);

	if (!cJSON_IsNumber(v))
		return def;
	return v->valuedouble < lo ? lo : v->valuedouble > hi ? hi : (int)v->valuedouble;
}

/* {"op":"jobs","offset":N,"limit":N,"state":"acked"}: a page, newest first. */
static void
pane_jobs(struct srv_client *c, const cJSON *m, void *arg)
{
	struct jobd *jd = arg;
	const cJSON *sv = cJSON_GetObjectItemCaseSensitive(m, "state");
	const char *state = NULL;
	int offset = num_arg(m, "offset", 0, 0, 10000000);
	int limit = num_arg(m, "limit", 20, 1, PANE_MAX_PAGE);
	cJSON *o, *jobs;

	if (cJSON_IsString(sv) && sv->valuestring[0] != '\0') {
		if (state_parse(sv->valuestring) < 0) {
			ctl_error(c, "state: not a job state");
			return;
		}
		state = sv->valuestring;
	}
	if ((jobs = ledger_jobs_page_json(jd->db, offset, limit, state)) == NULL ||
	    (o = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(jobs);
		ctl_error(c, "cannot read the ledger");
		return;
	}
	cJSON_AddStringToObject(o, "op", "jobs");
	cJSON_AddNumberToObject(o, "offset", offset);
	cJSON_AddNumberToObject(o, "limit", limit);
	cJSON_AddItemToObject(o, "jobs", jobs);
	ctl_reply(c, o);
}

/* Totals of a list of buckets since since_s (unix seconds). */
static cJSON *
period_totals(const cJSON *days, double since_s)
{
	static const char *const f[] = { "jobs", "asked_sats", "received_sats",
	    "completed", "failed", "unpaid" };
	double sum[6] = { 0 };
	const cJSON *d;
	cJSON *o = cJSON_CreateObject();
	size_t i;

	cJSON_ArrayForEach(d, days) {
		if (cJSON_GetObjectItemCaseSensitive(d, "start")->valuedouble < since_s)
			continue;
		for (i = 0; i < 6; i++)
			sum[i] += cJSON_GetObjectItemCaseSensitive(d, f[i])->valuedouble;
	}
	for (i = 0; o != NULL && i < 6; i++)
		cJSON_AddNumberToObject(o, f[i], sum[i]);
	return o;
}

/*
 * stats_daily: buckets per UTC day for the last `days` days (default 30,
 * at most 366) and per hour for today, with totals for today, 7 days,
 * 30 days and all time.
 */
void
pane_op_stats_daily(struct srv_client *c, const cJSON *m, void *arg)
{
	struct jobd *jd = arg;
	int ndays = num_arg(m, "days", 30, 1, 366);
	int64_t now = (int64_t)now_unix() * 1000, today = now - now % DAY_MS;
	cJSON *o = cJSON_CreateObject(), *days, *hours, *all, *p;

	days = ledger_buckets_json(jd->db, today - (int64_t)(ndays - 1) * DAY_MS, DAY_MS);
	hours = ledger_buckets_json(jd->db, today, HOUR_MS);
	all = ledger_buckets_json(jd->db, 0, 1000LL * 3600 * 24 * 365 * 1000);
	if (o == NULL || days == NULL || hours == NULL || all == NULL) {
		cJSON_Delete(o);
		cJSON_Delete(days);
		cJSON_Delete(hours);
		cJSON_Delete(all);
		ctl_error(c, "cannot read the ledger");
		return;
	}
	cJSON_AddStringToObject(o, "op", "stats_daily");
	cJSON_AddNumberToObject(o, "now", (double)(now / 1000));
	cJSON_AddNumberToObject(o, "today", (double)(today / 1000));
	p = cJSON_AddObjectToObject(o, "periods");
	cJSON_AddItemToObject(p, "today", period_totals(days, (double)(today / 1000)));
	cJSON_AddItemToObject(p, "7d", period_totals(days, (double)((today - 6 * DAY_MS) / 1000)));
	cJSON_AddItemToObject(p, "30d", period_totals(days, (double)((today - 29 * DAY_MS) / 1000)));
	cJSON_AddItemToObject(p, "all", period_totals(all, 0));
	cJSON_Delete(all);
	cJSON_AddItemToObject(o, "days", days);
	cJSON_AddItemToObject(o, "hours", hours);
	ctl_reply(c, o);
}

static const struct srv_op pane_ops[] = {
	{ "status", pane_status },
	{ "online", pane_online },
	{ "offline", pane_online },
	{ "jobs", pane_jobs },
	{ "stats", pane_stats },
	{ "stats_daily", pane_op_stats_daily },
	{ "prices_get", prices_op_get },
	{ "prices_set", prices_op_set },
};

static void
pane_bad(struct srv_client *c, const cJSON *msg, const char *why, void *arg)
{
	char m[160];

	snprintf(m, sizeof(m), "%s (pane ops: status, online, offline, jobs, stats, "
	    "stats_daily, prices_get, prices_set)", why);
	ctl_error(c, m);
}

/* Only paned's user (or root, or ours when paned_user is empty) is heard. */
static void
pane_on_open(struct srv_client *c, void *arg)
{
	struct jobd *jd = arg;
	uid_t peer;

	if (sock_peer_uid(srv_client_fd(c), &peer) == 0 &&
	    peer_uid_allowed(jd->conf.paned_user, peer, geteuid()))
		return;
	log_warnx("SECURITY: pane.sock: a peer that is not %s; closing it",
	    jd->conf.paned_user[0] != '\0' ? jd->conf.paned_user : "jobd's own user or root");
	srv_client_close(c, NULL);
}

int
pane_open(struct jobd *jd)
{
	struct srv_conf cf = {
		.ops = pane_ops, .nops = sizeof(pane_ops) / sizeof(pane_ops[0]),
		.eof = SRV_EOF_DRAIN, .maxline = PANE_MAX_LINE, .maxsend = PANE_MAX_ANSWER,
		.maxclients = PANE_MAX_CLIENTS, .on_open = pane_on_open, .on_bad = pane_bad,
		.arg = jd,
	};
	char dir[600], path[640];
	struct stat st;

	if (!jd->conf.pane)
		return 0;
	/* The launcher makes run/pane (jobd's, group paned's, setgid) under privsep. */
	if (conf_sock_path(&jd->conf, "pane", dir, sizeof(dir)) == -1 ||
	    (size_t)snprintf(path, sizeof(path), "%s/pane.sock", dir) >= sizeof(path))
		return -1;
	if (stat(dir, &st) == -1 && (errno != ENOENT || mkdir(dir, 0700) == -1))
		return -1;
	if ((jd->pane = srv_new(jd->loop, &cf)) == NULL)
		return -1;
	return srv_listen(jd->pane, path, 0660);
}

void
pane_close(struct jobd *jd)
{
	srv_free(jd->pane);
	jd->pane = NULL;
}
