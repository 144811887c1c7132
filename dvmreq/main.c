/*
 * dvmreq: ask a NIP-90 DVM for text generation and print the answer.
 *
 * Life: parse arguments, take or make a key, build and sign the request,
 * then one websocket loop over every relay until a result, an error
 * feedback, every relay failing, or the timeout.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "dvmreq.h"

static const char usage[] =
"usage: dvmreq --relay URL [--relay URL]... [--to NPUB|HEX] [--encrypt nip04|nip44]\n"
"              [--param K V]... [--bid SATS] [--kind N] [--key NSEC|HEX]\n"
"              [--timeout S] [--json] [-v] PROMPT\n"
"\n"
"Publish a signed NIP-90 job request (kind 5050, text generation) with PROMPT\n"
"as its text input, and print what DVMs answer: feedback (processing,\n"
"payment-required with the amount and invoice, error...) on stderr as it\n"
"arrives, the result text on stdout. It subscribes to the replies before\n"
"publishing, checks every event's id and signature (forged ones are reported\n"
"and ignored) and that it refers to this request.\n"
"\n"
"  --relay URL       a ws:// or wss:// relay (at most 16; at least one)\n"
"  --to KEY          address one DVM (p tag); only its replies count\n"
"  --encrypt S       encrypt the input and params to --to with nip04 or nip44\n"
"                    (the replies come back encrypted the same way)\n"
"  --param K V       a param tag, e.g. --param model llama3.2 --param max_tokens 200\n"
"  --bid SATS        the most you will pay (bid tag, in msat on the wire)\n"
"  --kind N          request kind, 5000..5999 (default 5050)\n"
"  --key KEY         sign with this secret key (nsec or hex); default: a fresh one\n"
"  --timeout S       give up after S seconds (default 120)\n"
"  --json            print each feedback and result as a JSON line on stdout\n"
"  -v                say more (connections, who answered)\n"
"\n"
"Exit status: 0 a result arrived, 1 error feedback or no relay took the\n"
"request, 2 timeout, 100 usage error.\n";

static _Noreturn void
die_usage(const char *why, const char *arg)
{
	fprintf(stderr, "dvmreq: %s%s%s\n(see dvmreq --help)\n", why, arg ? ": " : "", arg ? arg : "");
	exit(XIT_USAGE);
}

static long long
parse_num(const char *s, long long lo, long long hi, const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		die_usage(what, s);
	return v;
}

static void
parse_key(struct opts *o, const char *s)
{
	uint8_t sk[32];

	if (keys_parse_secret(s, sk) == -1 || keys_from_secret(&o->key, sk) == -1)
		die_usage("--key: not a valid nsec or hex secret key", NULL);
	memset(sk, 0, sizeof(sk));
}

static void
parse_opt(struct opts *o, int argc, char **argv, int *i, int *haskey)
{
	const char *a = argv[*i];
	const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;

	if (v == NULL)
		die_usage("missing value for", a);
	(*i)++;
	if (strcmp(a, "--relay") == 0) {
		if (o->nrelays == REQ_MAX_RELAYS)
			die_usage("too many relays", NULL);
		o->relays[o->nrelays++] = v;
	} else if (strcmp(a, "--to") == 0) {
		if (keys_parse_pubkey(v, o->to) == -1)
			die_usage("--to: not an npub or hex public key", v);
		o->has_to = 1;
	} else if (strcmp(a, "--encrypt") == 0) {
		if (strcmp(v, "nip04") == 0)
			o->enc = ENC_NIP04;
		else if (strcmp(v, "nip44") == 0)
			o->enc = ENC_NIP44;
		else
			die_usage("--encrypt wants nip04 or nip44", v);
	} else if (strcmp(a, "--param") == 0) {
		if (*i + 1 >= argc || o->nparams == REQ_MAX_PARAMS)
			die_usage("--param wants a key and a value", NULL);
		o->params[o->nparams][0] = v;
		o->params[o->nparams++][1] = argv[++(*i)];
	} else if (strcmp(a, "--bid") == 0)
		o->bid_sats = parse_num(v, 0, 2100000000000000LL, "--bid: sats");
	else if (strcmp(a, "--kind") == 0)
		o->kind = (int)parse_num(v, 5000, 5999, "--kind: 5000..5999");
	else if (strcmp(a, "--timeout") == 0)
		o->timeout = (int)parse_num(v, 1, 86400, "--timeout: seconds");
	else if (strcmp(a, "--key") == 0) {
		parse_key(o, v);
		*haskey = 1;
	} else
		die_usage("unknown option", a);
}

static void
parse_args(struct opts *o, int argc, char **argv)
{
	int i, haskey = 0;

	memset(o, 0, sizeof(*o));
	o->kind = 5050;
	o->timeout = 120;
	o->bid_sats = -1;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			exit(0);
		} else if (strcmp(argv[i], "--json") == 0)
			o->json = 1;
		else if (strcmp(argv[i], "-v") == 0)
			o->verbose = 1;
		else if (strncmp(argv[i], "--", 2) == 0)
			parse_opt(o, argc, argv, &i, &haskey);
		else if (o->prompt == NULL)
			o->prompt = argv[i];
		else
			die_usage("one PROMPT only (quote it)", argv[i]);
	}
	if (o->nrelays == 0)
		die_usage("no --relay", NULL);
	if (o->prompt == NULL || *o->prompt == '\0')
		die_usage("no PROMPT", NULL);
	if (o->enc != ENC_NONE && !o->has_to)
		die_usage("--encrypt needs --to (the DVM to encrypt to)", NULL);
	if (!haskey && keys_generate(&o->key) == -1) {
		fprintf(stderr, "dvmreq: cannot generate a key\n");
		exit(XIT_ERROR);
	}
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct session s;
	char err[256];

	log_init("dvmreq", LOG_WARN);
	parse_args(&o, argc, argv);
	memset(&s, 0, sizeof(s));
	s.o = &o;
	if (request_build(&s, err, sizeof(err)) == -1) {
		fprintf(stderr, "dvmreq: %s\n", err);
		keys_wipe(&o.key);
		return XIT_ERROR;
	}
	fprintf(stderr, "dvmreq: request %s\n", s.req.idhex);
	if (ws_run(&s) == -1)
		s.code = XIT_ERROR;
	if (s.forged > 0)
		fprintf(stderr, "dvmreq: %u forged events ignored\n", s.forged);
	event_free(&s.req);
	keys_wipe(&o.key);
	return s.code;
}
