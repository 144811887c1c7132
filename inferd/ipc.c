/*
 * ipc.c: the clients of inferd: connections on inferd.sock (jobd, dvmctl
 * tests) or, with --stdio, stdin/stdout, served by common/srv.c. Every line
 * is checked before it is acted on; a bad line is logged (rate-limited),
 * counted and dropped, and answered with bad_request when it names a job,
 * so nothing hangs.
 *
 * A socket client that stops sending still gets its running jobs' answers
 * (SRV_EOF_DRAIN, owed while it has jobs); with --stdio the end of stdin
 * ends the daemon once those answers are out (SRV_EOF_EXIT, main.c).
 */
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "inferd.h"
#include "srv.h"

/* A bad line that names a job is answered, so the job does not hang. */
static void
ipc_bad(struct srv_client *c, const cJSON *msg, const char *why, void *arg)
{
	const cJSON *job = cJSON_GetObjectItemCaseSensitive(msg, "job");

	if (cJSON_IsString(job) && strlen(job->valuestring) == JOB_ID_LEN &&
	    hex_is_lower(job->valuestring, JOB_ID_LEN))
		srv_send_error(c, job->valuestring, "bad_request", why, 0);
}

static void
handle_infer(struct srv_client *c, const cJSON *msg, void *arg)
{
	struct inferd *in = arg;
	struct infer_req r;
	char err[256];

	if (in->stopping) {
		const cJSON *job = cJSON_GetObjectItemCaseSensitive(msg, "job");

		if (cJSON_IsString(job) && strlen(job->valuestring) == JOB_ID_LEN)
			srv_send_error(c, job->valuestring, "shutdown", "inferd is stopping", 1);
		return;
	}
	if (req_parse(msg, &r, err, sizeof(err)) == -1) {
		srv_bad_line(c, msg, err);
		req_free(&r);
		return;
	}
	job_submit(in, c, &r);
}

static void
handle_cancel(struct srv_client *c, const cJSON *msg, void *arg)
{
	const cJSON *job = cJSON_GetObjectItemCaseSensitive(msg, "job");

	if (!cJSON_IsString(job) || strlen(job->valuestring) != JOB_ID_LEN ||
	    !hex_is_lower(job->valuestring, JOB_ID_LEN)) {
		srv_bad_line(c, msg, "cancel: job must be 64 lowercase hex digits");
		return;
	}
	job_cancel(arg, job->valuestring);
}

static void
handle_health(struct srv_client *c, const cJSON *msg, void *arg)
{
	struct inferd *in = arg;
	cJSON *o = cJSON_CreateObject(), *b = pool_health_json(in);

	if (o && b && cJSON_AddStringToObject(o, "op", "health") &&
	    cJSON_AddItemToObject(o, "backends", b)) {
		b = NULL;
		if (cJSON_AddNumberToObject(o, "jobs", (double)job_running(in)) &&
		    cJSON_AddNumberToObject(o, "bad_lines", (double)srv_bad_lines(in->ipc.srv)))
			srv_send(c, o);
	}
	cJSON_Delete(b);
	cJSON_Delete(o);
}

/* The models of the healthy backends; also sent unasked whenever it changes. */
static void
handle_catalog(struct srv_client *c, const cJSON *msg, void *arg)
{
	cJSON *o = catalog_message(arg);

	if (o != NULL)
		srv_send(c, o);
	cJSON_Delete(o);
}

static const struct srv_op ipc_ops[] = {
	{ "infer", handle_infer },
	{ "cancel", handle_cancel },
	{ "health", handle_health },
	{ "catalog", handle_catalog },
};

static int
ipc_owed(const struct srv_client *c, void *arg)
{
	return job_count_for(arg, c) > 0;
}

static void
ipc_gone(struct srv_client *c, void *arg)
{
	job_client_gone(arg, c);
}

static int
ipc_open(struct inferd *in)
{
	struct srv_conf cf = {
		.ops = ipc_ops, .nops = sizeof(ipc_ops) / sizeof(ipc_ops[0]),
		.eof = in->stdio ? SRV_EOF_EXIT : SRV_EOF_DRAIN,
		.owed = ipc_owed, .on_close = ipc_gone, .on_bad = ipc_bad, .arg = in,
	};

	if (in->ipc.srv == NULL && (in->ipc.srv = srv_new(in->loop, &cf)) == NULL)
		return -1;
	return 0;
}

int
ipc_listen(struct inferd *in, const char *path)
{
	if (ipc_open(in) == -1)
		return -1;
	return srv_listen(in->ipc.srv, path, 0660);
}

int
ipc_stdio(struct inferd *in)
{
	if (ipc_open(in) == -1)
		return -1;
	return srv_stdio(in->ipc.srv);
}

/* 1 once --stdio input has ended (the daemon then drains and exits). */
int
ipc_stdin_closed(struct inferd *in)
{
	return in->ipc.srv != NULL && srv_input_ended(in->ipc.srv);
}

/* Non-zero while any live client has output queued. */
int
ipc_pending(struct inferd *in)
{
	return in->ipc.srv != NULL && srv_pending(in->ipc.srv);
}

/* Shutdown: no new clients; the connected ones still get their answers. */
void
ipc_stop_listening(struct inferd *in)
{
	if (in->ipc.srv != NULL)
		srv_stop_listening(in->ipc.srv);
}

/* Exit: free every client. */
void
ipc_close_all(struct inferd *in)
{
	srv_free(in->ipc.srv);
	in->ipc.srv = NULL;
}
