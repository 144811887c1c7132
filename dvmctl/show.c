/*
 * show.c: jobd's control answers as text a person reads at a glance.
 *
 * Every field is optional here: an older or newer jobd may lack one, and a
 * missing field prints "?" rather than failing the whole command. Colour
 * only when stdout is a terminal and NO_COLOR is unset (no-color.org).
 * Every string shown passes through escape_text: requesters write the
 * error texts and relays the URLs, and neither may drive the terminal.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dvmctl.h"
#include "escape.h"

static FILE *out;
static int colour;

void
show_init(FILE *f)
{
	out = f;
	colour = isatty(fileno(f)) && getenv("NO_COLOR") == NULL;
}

static const cJSON *
get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* A string field, escaped; valid until eight more calls. */
static const char *
str(const cJSON *o, const char *k)
{
	static char buf[8][1024];
	static int slot;
	const cJSON *v = get(o, k);

	if (!cJSON_IsString(v))
		return "?";
	return escape_text(v->valuestring, buf[slot++ % 8], sizeof(buf[0]), 0);
}

/* Integers come as JSON numbers; -1 stands for "absent" where noted. */
static long long
num(const cJSON *o, const char *k, long long dflt)
{
	const cJSON *v = get(o, k);

	return cJSON_IsNumber(v) ? (long long)v->valuedouble : dflt;
}

/* 1 true, 0 false, -1 absent. */
static int
flag(const cJSON *o, const char *k)
{
	const cJSON *v = get(o, k);

	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : -1;
}

static const char *
paint(int good, const char *s)
{
	static char buf[4][256];
	static int slot;
	char *b;

	if (!colour)
		return s;
	b = buf[slot++ % 4];
	snprintf(b, sizeof(buf[0]), "\033[%sm%s\033[0m", good ? "32" : "31", s);
	return b;
}

static const char *
okword(int v)
{
	return v == 1 ? paint(1, "ok") : v == 0 ? paint(0, "DOWN") : "?";
}

static void
show_duration(long long s)
{
	if (s < 0)
		fprintf(out, "?");
	else if (s < 3600)
		fprintf(out, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		fprintf(out, "%lldh%02lldm", s / 3600, s / 60 % 60);
	else
		fprintf(out, "%lldd%02lldh", s / 86400, s / 3600 % 24);
}

static void
show_sats(long long msat)
{
	if (msat % 1000 == 0)
		fprintf(out, "%lld sats", msat / 1000);
	else
		fprintf(out, "%lld.%03lld sats", msat / 1000, msat % 1000);
}

static void
status_relays(const cJSON *r)
{
	const cJSON *l = get(r, "list"), *e;
	long long up = num(r, "connected", -1), all = num(r, "total", -1);
	char buf[64];

	snprintf(buf, sizeof(buf), "%lld/%lld connected", up, all);
	fprintf(out, "  relays     %s\n", paint(up > 0, buf));
	cJSON_ArrayForEach(e, l)
		fprintf(out, "               %-10s %s\n", str(e, "state"), str(e, "url"));
}

static void
status_inference(const cJSON *st)
{
	const cJSON *inf = get(st, "inference"), *b;
	int ok = flag(inf, "ok"), mok = flag(inf, "model_ok");

	fprintf(out, "  inference  %s, model %s %s\n", okword(ok), str(st, "model"),
	    mok == 1 ? paint(1, "present") : mok == 0 ? paint(0, "MISSING") : "?");
	cJSON_ArrayForEach(b, get(inf, "backends")) {
		fprintf(out, "               %-4s %s (%s)", okword(flag(b, "ok")),
		    str(b, "url"), str(b, "kind"));
		if (cJSON_IsString(get(b, "error")))
			fprintf(out, ": %s", str(b, "error"));
		fprintf(out, "\n");
	}
}

static void
status_wallet(const cJSON *st)
{
	const cJSON *p = get(st, "payments");
	const char *backend = str(p, "backend");
	long long bal = num(p, "balance_msat", -1);

	if (strcmp(backend, "none") == 0 || strcmp(str(st, "wallet"), "none") == 0) {
		fprintf(out, "  wallet     none: serving in free mode\n");
		return;
	}
	fprintf(out, "  wallet     %s %s", backend, okword(flag(p, "ok")));
	if (bal >= 0) {
		fprintf(out, ", balance ");
		show_sats(bal);
	}
	if (cJSON_IsString(get(p, "error")))
		fprintf(out, ": %s", str(p, "error"));
	fprintf(out, "\n");
}

static void
status_spokes(const cJSON *sp)
{
	fprintf(out, "  spokes     relayd %s, inferd %s, invoiced %s\n",
	    okword(flag(sp, "relayd")), okword(flag(sp, "inferd")),
	    okword(flag(sp, "invoiced")));
}

int
show_status(const cJSON *st)
{
	int online = flag(st, "online"), earning = flag(st, "earning");
	const char *mode = str(st, "payment_mode");

	fprintf(out, "sellcompute %s\n", str(st, "npub"));
	fprintf(out, "  state      %s\n", online == 1 ? paint(1, "online") :
	    online == 0 ? paint(0, "offline") : "?");
	if (earning == 1)
		fprintf(out, "  earning    %s (payment %s)\n", paint(1, "yes"), mode);
	else if (strcmp(mode, "free") == 0)
		fprintf(out, "  earning    no: free mode (no wallet)\n");
	else
		fprintf(out, "  earning    %s (payment %s)\n", paint(0, "NO"), mode);
	status_spokes(get(st, "spokes"));
	status_relays(get(st, "relays"));
	status_inference(st);
	status_wallet(st);
	fprintf(out, "  queue      %lld queued, %lld running\n",
	    num(st, "queue", -1), num(st, "running", -1));
	fprintf(out, "  uptime     ");
	show_duration(num(st, "uptime", -1));
	fprintf(out, "\n");
	return 0;
}

int
show_ok(const cJSON *a)
{
	int online = flag(a, "online");

	fprintf(out, "%s\n", online == 1 ? "online" : online == 0 ? "offline" : "?");
	return 0;
}

/* "3m ago" from a unix time. */
static void
show_age(long long t)
{
	long long now = (long long)time(NULL);

	if (t <= 0 || t > now + 60) {
		fprintf(out, "%8s", "?");
		return;
	}
	if (now - t < 3600)
		fprintf(out, "%6lldm ", (now - t) / 60);
	else if (now - t < 86400)
		fprintf(out, "%6lldh ", (now - t) / 3600);
	else
		fprintf(out, "%6lldd ", (now - t) / 86400);
}

static void
jobs_row(const cJSON *j)
{
	const char *id = str(j, "id"), *who = str(j, "npub");
	long long price = num(j, "price_msat", 0), paid = num(j, "paid_msat", 0);

	fprintf(out, "%-12.12s %-16.16s %5lld %3s %9lld %9lld %5lld/%-5lld",
	    id, str(j, "state"), num(j, "kind", 0),
	    flag(j, "encrypted") == 1 ? "yes" : "no",
	    price / 1000, paid / 1000,
	    num(j, "prompt_tokens", 0), num(j, "completion_tokens", 0));
	show_age(num(j, "created_at", 0));
	fprintf(out, " %.20s", who);
	if (cJSON_IsString(get(j, "error")) && *str(j, "error") != '\0')
		fprintf(out, "  (%s)", str(j, "error"));
	if (cJSON_IsString(get(j, "escrow")) && get(j, "escrow")->valuestring[0] != '\0')
		fprintf(out, "  [payment %s]", str(j, "escrow"));
	fprintf(out, "\n");
}

int
show_jobs(const cJSON *a)
{
	const cJSON *jobs = get(a, "jobs"), *j;

	if (!cJSON_IsArray(jobs)) {
		fprintf(stderr, "dvmctl: jobd's answer has no jobs list\n");
		return -1;
	}
	if (cJSON_GetArraySize(jobs) == 0) {
		fprintf(out, "no jobs yet\n");
		return 0;
	}
	fprintf(out, "%-12s %-16s %5s %3s %9s %9s %11s %7s  %s\n", "JOB", "STATE",
	    "KIND", "ENC", "PRICE sat", "PAID sat", "TOKENS", "AGE", "REQUESTER");
	cJSON_ArrayForEach(j, jobs)
		jobs_row(j);
	/* jobd cuts an answer that would pass its maximum; say so, never silently. */
	if (num(a, "omitted", 0) > 0)
		fprintf(out, "(list truncated: %lld more jobs did not fit in jobd's answer)\n",
		    num(a, "omitted", 0));
	else if (flag(a, "truncated") == 1)
		fprintf(out, "(long fields truncated)\n");
	return 0;
}

static void
stats_map(const char *title, const cJSON *m)
{
	const cJSON *e;
	char name[128];

	fprintf(out, "%s\n", title);
	if (cJSON_GetArraySize(m) == 0)
		fprintf(out, "  (none)\n");
	cJSON_ArrayForEach(e, m)
		if (cJSON_IsNumber(e))
			fprintf(out, "  %-24s %lld\n", escape_text(e->string, name, sizeof(name), 0),
			    (long long)e->valuedouble);
}

int
show_stats(const cJSON *a)
{
	const cJSON *tok = get(a, "tokens"), *lat = get(a, "latency_ms");

	stats_map("jobs by state", get(a, "jobs_by_state"));
	stats_map("rejections", get(a, "rejections"));
	if (cJSON_IsObject(get(a, "escrow")))
		stats_map("held payments (escrow)", get(a, "escrow"));
	fprintf(out, "tokens\n  %-24s %lld\n  %-24s %lld\n", "prompt",
	    num(tok, "prompt", 0), "completion", num(tok, "completion", 0));
	fprintf(out, "sats\n  %-24s %lld\n  %-24s %lld\n", "invoiced",
	    num(a, "sats_invoiced", 0), "received", num(a, "sats_received", 0));
	fprintf(out, "latency (ms)\n  p50 %lld  p90 %lld  p99 %lld\n",
	    num(lat, "p50", 0), num(lat, "p90", 0), num(lat, "p99", 0));
	fprintf(out, "events\n  %-24s %lld\n  %-24s %lld\n", "seen",
	    num(a, "events_seen", 0), "verified", num(a, "events_verified", 0));
	show_stats_models(out, a);
	return 0;
}
