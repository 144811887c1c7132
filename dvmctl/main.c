/*
 * dvmctl: look at and steer a running sellcompute DVM.
 *
 * Life: parse arguments, load the config exactly as the daemons do, then
 * either answer locally (conf, keygen, npub) or send one control request
 * to jobd and show its answer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "dvmctl.h"
#include "escape.h"

static const char usage[] =
"usage: dvmctl [-c FILE] [--json] COMMAND [ARGS]\n"
"\n"
"Look at and steer a running sellcompute DVM through jobd's control socket\n"
"(STATE_DIR/run/control.sock, mode 0600: run as root or as jobd's user).\n"
"\n"
"Commands:\n"
"  status            online or offline, relays connected, inference and model,\n"
"                    wallet and balance, queue, and whether it is earning\n"
"  online            subscribe to job requests again\n"
"  offline           stop taking new jobs; running jobs finish\n"
"  jobs [--limit N]  recent jobs, newest first (default 20, at most 1000)\n"
"  stats             jobs by state, rejections, tokens, sats, latency, per model\n"
"  models            the models the backends have: price, max tokens, context,\n"
"                    backends, whether it is served\n"
"  conf [KEY]        print KEY's value as the daemons resolve it (file,\n"
"                    DVM_<KEY> environment override, derived default);\n"
"                    without KEY, every key as \"key = value\"\n"
"  keygen FILE       create a new secret key in FILE (0600, never overwrites)\n"
"                    and print its npub\n"
"  npub              print the npub of secret_key_file\n"
"  pane              print the pane's login URL\n"
"                    (http://127.0.0.1:PORT/?token=...) as the first line;\n"
"                    the token is STATE_DIR/pane/token, made by paned\n"
"  probe NAME        exit 0 if STATE_DIR/run/NAME.sock accepts a connection\n"
"                    (relayd, inferd, invoiced, control), else 111: runit's check\n"
"\n"
"Options:\n"
"  -c FILE   config file (default: ./dvm.conf if it exists, else built-in\n"
"            defaults; the same rule as scripts/dvm)\n"
"  --json    print jobd's JSON answer as it came, one line\n"
"  -h, --help  this text\n"
"\n"
"Exit status: 0 ok, 1 jobd answered with an error, 100 usage or config\n"
"error, 111 jobd not running or not answering.\n";

struct args {
	const char *conf;
	const char *cmd;
	const char *arg;
	int json;
	long limit;
};

static _Noreturn void
die_usage(const char *why)
{
	fprintf(stderr, "dvmctl: %s\nusage: dvmctl [-c FILE] [--json] COMMAND [ARGS] (see dvmctl --help)\n", why);
	exit(EXIT_PERM);
}

static long
parse_limit(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 1000)
		die_usage("--limit wants a number from 1 to 1000");
	return v;
}

static void
parse_args(int argc, char **argv, struct args *a)
{
	int i, needs_arg, may_arg;

	memset(a, 0, sizeof(*a));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			exit(0);
		} else if (strcmp(argv[i], "--json") == 0)
			a->json = 1;
		else if (strcmp(argv[i], "-v") == 0)
			log_set_level(LOG_DEBUG);
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			a->conf = argv[++i];
		else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc)
			a->limit = parse_limit(argv[++i]);
		else if (argv[i][0] == '-')
			die_usage("unknown option or missing value");
		else if (a->cmd == NULL)
			a->cmd = argv[i];
		else if (a->arg == NULL)
			a->arg = argv[i];
		else
			die_usage("too many arguments");
	}
	if (a->cmd == NULL)
		die_usage("no command");
	needs_arg = strcmp(a->cmd, "keygen") == 0 || strcmp(a->cmd, "probe") == 0;
	may_arg = needs_arg || strcmp(a->cmd, "conf") == 0;
	if ((needs_arg && a->arg == NULL) || (!may_arg && a->arg != NULL))
		die_usage("wrong number of arguments");
	if (a->limit != 0 && strcmp(a->cmd, "jobs") != 0)
		die_usage("--limit goes with jobs");
}

/* No -c: ./dvm.conf when present, so dvmctl and scripts/dvm agree. */
static void
load_conf(const struct args *a, struct conf *c)
{
	const char *path = a->conf;
	char err[512];

	if (path == NULL && access("dvm.conf", F_OK) == 0)
		path = "dvm.conf";
	if (conf_load(c, path, err, sizeof(err)) == -1) {
		fprintf(stderr, "dvmctl: %s\n", err);
		exit(EXIT_PERM);
	}
}

static int
run_control(const struct conf *c, const struct args *a)
{
	cJSON *req, *ans;
	char *raw = NULL;
	const char *op;
	int code, r;

	if ((req = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(req, "op", a->cmd) == NULL ||
	    (a->limit != 0 && cJSON_AddNumberToObject(req, "limit", (double)a->limit) == NULL)) {
		cJSON_Delete(req);
		fprintf(stderr, "dvmctl: out of memory\n");
		return EXIT_TEMP;
	}
	ans = ctl_call(c, req, &raw, &code);
	cJSON_Delete(req);
	if (ans == NULL)
		return code;
	op = cJSON_GetObjectItemCaseSensitive(ans, "op")->valuestring;
	if (a->json) {
		printf("%s\n", raw);
		r = strcmp(op, "error") == 0;
	} else if (strcmp(op, "error") == 0) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(ans, "message");
		char msg[512];

		fprintf(stderr, "dvmctl: jobd: %s\n", escape_text(cJSON_IsString(m) ?
		    m->valuestring : "error", msg, sizeof(msg), 0));
		r = 1;
	} else if (strcmp(a->cmd, "status") == 0)
		r = show_status(ans) == -1;
	else if (strcmp(a->cmd, "jobs") == 0)
		r = show_jobs(ans) == -1;
	else if (strcmp(a->cmd, "stats") == 0)
		r = show_stats(ans) == -1;
	else if (strcmp(a->cmd, "models") == 0)
		r = show_models(stdout, ans) == -1;
	else
		r = show_ok(ans) == -1;
	cJSON_Delete(ans);
	free(raw);
	return r;
}

/* Every key as "key = value": the effective config, in the table's order. */
static int
print_all(const struct conf *c)
{
	const char *const *k;

	for (k = conf_keys(); *k != NULL; k++) {
		printf("%s = ", *k);
		if (conf_print(c, *k, stdout) == -1)
			return EXIT_PERM;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct args a;
	struct conf c;
	int r;

	log_init("dvmctl", LOG_WARN);
	parse_args(argc, argv, &a);
	show_init(stdout);
	if (strcmp(a.cmd, "keygen") == 0)	/* needs no config at all */
		return keyfile_generate(a.arg) == -1 ? EXIT_PERM : 0;
	load_conf(&a, &c);
	if (strcmp(a.cmd, "conf") == 0 && a.arg == NULL)
		r = print_all(&c);
	else if (strcmp(a.cmd, "conf") == 0) {
		r = conf_print(&c, a.arg, stdout) == -1 ? EXIT_PERM : 0;
		if (r != 0)
			fprintf(stderr, "dvmctl: unknown config key: %s\n", a.arg);
	} else if (strcmp(a.cmd, "probe") == 0)
		r = ctl_probe(&c, a.arg);
	else if (strcmp(a.cmd, "pane") == 0)
		r = pane_print_url(&c);
	else if (strcmp(a.cmd, "npub") == 0)
		r = keyfile_print_npub(c.secret_key_file) == -1 ? EXIT_PERM : 0;
	else if (strcmp(a.cmd, "status") == 0 || strcmp(a.cmd, "online") == 0 ||
	    strcmp(a.cmd, "offline") == 0 || strcmp(a.cmd, "jobs") == 0 ||
	    strcmp(a.cmd, "stats") == 0 || strcmp(a.cmd, "models") == 0)
		r = run_control(&c, &a);
	else {
		conf_free(&c);
		die_usage("unknown command");
	}
	conf_free(&c);
	return r;
}
