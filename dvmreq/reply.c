/*
 * reply.c: what relays send back. Every event is checked here, whatever
 * the relay's filter promised: a valid id and BIP-340 signature (forged
 * ones are reported and ignored), an e tag naming our request, the kind we
 * asked for, and, when the request went to one DVM (--to), that DVM's key.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bech32.h"
#include "encoding.h"
#include "escape.h"
#include "nip04.h"
#include "nip44.h"
#include "dvmreq.h"

int
reply_decrypt(const struct session *s, const uint8_t peer[32], const char *in, char **out)
{
	uint8_t ck[32];
	size_t len;

	if (s->o->enc == ENC_NIP04 || (s->o->enc == ENC_NONE && nip04_is_payload(in, strlen(in))))
		return nip04_decrypt(s->o->key.sk, peer, in, strlen(in), out, &len);
	if (nip44_conversation_key(s->o->key.sk, peer, ck) == -1)
		return -1;
	return nip44_decrypt(ck, in, strlen(in), out, &len);
}

static int
reply_is_for_us(const struct session *s, const struct event *ev)
{
	const cJSON *t;
	const char *v;

	if (ev->kind != 7000 && ev->kind != s->o->kind + 1000)
		return 0;
	if (s->o->has_to && memcmp(ev->pubkey, s->o->to, 32) != 0)
		return 0;
	cJSON_ArrayForEach(t, ev->tags)
		if ((v = tag_item(t, 0)) != NULL && strcmp(v, "e") == 0 &&
		    (v = tag_item(t, 1)) != NULL && strcmp(v, s->req.idhex) == 0)
			return 1;
	return 0;
}

/* 1 if this id was shown already (the same reply on several relays). */
static int
reply_seen(struct session *s, const char *id)
{
	size_t i;

	for (i = 0; i < s->nseen; i++)
		if (strcmp(s->seen[i], id) == 0)
			return 1;
	memcpy(s->seen[s->nseen % 64], id, 65);
	if (s->nseen < 64)
		s->nseen++;
	return 0;
}

static const cJSON *
tags_find(const cJSON *tags, const char *name)
{
	const cJSON *t;
	const char *v;

	cJSON_ArrayForEach(t, tags)
		if ((v = tag_item(t, 0)) != NULL && strcmp(v, name) == 0)
			return t;
	return NULL;
}

static int
event_encrypted(const struct event *ev)
{
	return event_tag_find(ev, "encrypted") != NULL;
}

/*
 * A short text from the DVM or a relay, escaped for the terminal; valid
 * until four more calls.
 */
static const char *
safe(const char *s)
{
	static char buf[4][2048];
	static int slot;

	return escape_text(s, buf[slot++ % 4], sizeof(buf[0]), 0);
}

/* A long text (an answer, a partial one): controls escaped, lines kept. */
static void
put_text(FILE *f, const char *s)
{
	size_t n = strlen(s);
	char *e = n < SIZE_MAX / 4 - 4 ? malloc(4 * n + 4) : NULL;

	if (e == NULL) {
		fputs("(out of memory)", f);
		return;
	}
	fputs(escape_text(s, e, 4 * n + 4, 1), f);
	free(e);
}

static void
show_amount(const cJSON *tags)
{
	const cJSON *a = tags_find(tags, "amount");
	const char *msat = tag_item(a, 1), *bolt11 = tag_item(a, 2);

	if (msat == NULL)
		return;
	fprintf(stderr, "dvmreq: amount %.3f sats (%s msat)\n", strtod(msat, NULL) / 1000,
	    safe(msat));
	if (bolt11 != NULL)
		fprintf(stderr, "dvmreq: invoice %s\n", safe(bolt11));
}

static void
show_json(const struct event *ev, const char *type, const char *text)
{
	cJSON *o = cJSON_CreateObject();
	char *out;

	if (o == NULL)
		return;
	cJSON_AddStringToObject(o, "type", type);
	if (text != NULL)
		cJSON_AddStringToObject(o, "text", text);
	cJSON_AddItemToObject(o, "event", event_to_cjson(ev));
	if ((out = cJSON_PrintUnformatted(o)) != NULL)
		printf("%s\n", out);
	fflush(stdout);
	free(out);
	cJSON_Delete(o);
}

/*
 * Feedback: status tag outside, or for an encrypted request inside the
 * encrypted JSON array of tags (with the text in a "content" tag).
 */
static void
reply_feedback(struct session *s, const struct event *ev)
{
	cJSON *inner = NULL;
	const cJSON *tags = ev->tags, *st, *ct;
	char *plain = NULL;
	const char *status, *msg, *content = ev->content;

	if (event_encrypted(ev) && ev->content_len > 0) {
		if (reply_decrypt(s, ev->pubkey, ev->content, &plain) == -1 ||
		    (inner = cJSON_Parse(plain)) == NULL || !cJSON_IsArray(inner)) {
			fprintf(stderr, "dvmreq: cannot decrypt feedback %s; ignored\n", ev->idhex);
			goto done;
		}
		tags = inner;
		content = (ct = tags_find(inner, "content")) != NULL && tag_item(ct, 1) != NULL ?
		    tag_item(ct, 1) : "";
	}
	st = tags_find(tags, "status");
	if ((status = tag_item(st, 1)) == NULL) {
		fprintf(stderr, "dvmreq: feedback %s without a status; ignored\n", ev->idhex);
		goto done;
	}
	msg = tag_item(st, 2);
	if (s->o->json)
		show_json(ev, "feedback", content);
	fprintf(stderr, "dvmreq: %s%s%s\n", safe(status), msg != NULL && *msg ? ": " : "",
	    msg != NULL ? safe(msg) : "");
	show_amount(tags);
	if (strcmp(status, "partial") == 0 && *content && !s->o->json) {
		fputs("dvmreq: partial: ", stderr);
		put_text(stderr, content);
		fputc('\n', stderr);
	}
	if (strcmp(status, "error") == 0) {
		s->done = 1;
		s->code = XIT_ERROR;
	}
done:
	cJSON_Delete(inner);
	free(plain);
}

static void
reply_result(struct session *s, const struct event *ev)
{
	char *plain = NULL;
	const char *text = ev->content;

	if (event_encrypted(ev)) {
		if (reply_decrypt(s, ev->pubkey, ev->content, &plain) == -1) {
			fprintf(stderr, "dvmreq: cannot decrypt result %s; ignored\n", ev->idhex);
			return;
		}
		text = plain;
	}
	show_amount(ev->tags);
	if (s->o->json)
		show_json(ev, "result", text);
	else {
		/* Raw into a pipe or file (it is the product); escaped on a terminal. */
		if (isatty(STDOUT_FILENO))
			put_text(stdout, text);
		else
			fputs(text, stdout);
		if (*text == '\0' || text[strlen(text) - 1] != '\n')
			putchar('\n');
		fflush(stdout);
	}
	s->done = 1;
	s->code = XIT_OK;
	free(plain);
}

static void
reply_event(struct session *s, const char *url, const cJSON *evj)
{
	struct event ev;
	char err[128], npub[128];

	if (event_from_cjson(&ev, evj, err, sizeof(err)) == -1) {
		fprintf(stderr, "dvmreq: %s: malformed event (%s); ignored\n", url, err);
		return;
	}
	if (event_verify(&ev) == -1) {
		s->forged++;
		fprintf(stderr, "dvmreq: %s: FORGED event %s (bad id or signature); ignored\n",
		    url, ev.idhex);
	} else if (reply_is_for_us(s, &ev) && !reply_seen(s, ev.idhex)) {
		if (s->o->verbose && nip19_encode("npub", ev.pubkey, npub, sizeof(npub)) == 0)
			fprintf(stderr, "dvmreq: kind %d from %s via %s\n", ev.kind, npub, url);
		if (ev.kind == 7000)
			reply_feedback(s, &ev);
		else
			reply_result(s, &ev);
	}
	event_free(&ev);
}

/* ["OK", id, accepted, message] for our request; 1 if refused. */
static int
reply_ok(struct session *s, const char *url, const cJSON *m)
{
	const cJSON *id = cJSON_GetArrayItem(m, 1), *ok = cJSON_GetArrayItem(m, 2);
	const cJSON *msg = cJSON_GetArrayItem(m, 3);

	if (!cJSON_IsString(id) || strcmp(id->valuestring, s->req.idhex) != 0)
		return 0;
	if (cJSON_IsTrue(ok)) {
		if (s->o->verbose)
			fprintf(stderr, "dvmreq: %s accepted the request\n", url);
		return 0;
	}
	fprintf(stderr, "dvmreq: %s refused the request: %s\n", url,
	    cJSON_IsString(msg) ? safe(msg->valuestring) : "");
	return 1;
}

int
reply_handle(struct session *s, const char *url, const char *msg, size_t len)
{
	cJSON *m = cJSON_ParseWithLength(msg, len);
	const cJSON *type = cJSON_GetArrayItem(m, 0), *x;
	int refused = 0;

	if (!cJSON_IsArray(m) || !cJSON_IsString(type)) {
		fprintf(stderr, "dvmreq: %s: not a relay message; ignored\n", url);
		cJSON_Delete(m);
		return 0;
	}
	if (strcmp(type->valuestring, "EVENT") == 0 &&
	    cJSON_IsObject(x = cJSON_GetArrayItem(m, 2)))
		reply_event(s, url, x);
	else if (strcmp(type->valuestring, "OK") == 0)
		refused = reply_ok(s, url, m);
	else if (strcmp(type->valuestring, "NOTICE") == 0 || strcmp(type->valuestring, "CLOSED") == 0) {
		x = cJSON_GetArrayItem(m, cJSON_GetArraySize(m) - 1);
		fprintf(stderr, "dvmreq: %s: %s %s\n", url, type->valuestring,
		    cJSON_IsString(x) ? safe(x->valuestring) : "");
	}
	cJSON_Delete(m);
	return refused;
}
