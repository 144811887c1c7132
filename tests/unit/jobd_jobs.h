/*
 * jobd_jobs.h: job records for jobd's unit tests: a signed plain request
 * from the test's requester key, a job at a given state built on one, and
 * removing a test ledger with its WAL files. Included by
 * test_jobd_ledger.c and test_jobd_replay.c, which define `requester`.
 */
#ifndef JOBD_JOBS_H
#define JOBD_JOBS_H

/* A signed plain request "text" from requester; its JSON is malloc'd. */
static char *
signed_request(const char *text, char id[65])
{
	struct event ev;
	char *json;

	if (event_init(&ev, 5050, "", 0) == -1)
		return NULL;
	event_add_tagv(&ev, "i", text, "text", NULL);
	if (event_sign(&ev, &requester) == -1) {
		event_free(&ev);
		return NULL;
	}
	json = event_to_json(&ev);
	memcpy(id, ev.idhex, 65);
	event_free(&ev);
	return json;
}

static struct job *
mkjob(enum job_state s, int n)
{
	struct job *j = calloc(1, sizeof(*j));
	char text[32];

	if (j == NULL)
		return NULL;
	snprintf(text, sizeof(text), "text%d", n);
	j->request_json = signed_request(text, j->id);
	memcpy(j->pubkey, requester.pkhex, 65);
	memcpy(j->pk, requester.pk, 32);
	j->kind = 5050;
	j->created_at = now_unix();
	j->received_ms = ledger_now_ms() + n;	/* keeps the order */
	j->state = s;
	j->req.bid_msat = -1;
	snprintf(j->req.model, sizeof(j->req.model), "m%d", n);
	j->req.max_tokens = 100 + n;
	snprintf(j->relay, sizeof(j->relay), "wss://r%d", n);
	return j;
}

/* Remove the ledger at path, its WAL files, and the directory tmpdir. */
static void
ledger_files_remove(const char *path, const char *tmpdir)
{
	char p[300];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	rmdir(tmpdir);
}

#endif
