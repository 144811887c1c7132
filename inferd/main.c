/*
 * inferd: the inference daemon. It holds no Nostr or wallet secret and
 * talks only to inference servers (Ollama, or OpenAI-compatible servers
 * such as llama.cpp's llama-server and vLLM) and to its clients on
 * state_dir/run/inferd.sock, or on stdin/stdout with --stdio.
 *
 * Life: parse arguments and config, read the optional API key, bind the
 * socket, probe the backends once (readiness follows, whatever they said),
 * run one poll loop; on SIGTERM answer every open job with "shutdown",
 * flush, exit 0. With --stdio, end of input means: finish the running jobs
 * (each bounded by its timeouts), then exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <curl/curl.h>

#include "inferd.h"
#include "keys.h"
#include "loop.h"

#define API_KEY_MAX	4096

struct inferd env;

static struct {
	const char	*conf_path;
	const char	*backend;
	const char	*model;
	const char	*urls[CONF_MAX_LIST];
	size_t		 nurls;
	int		 verbose;
	int		 notify_fd;
	uint64_t	 grace_timer;
} opt = { .notify_fd = -1 };

static void
usage(FILE *f)
{
	fputs(
"usage: inferd [-c FILE] [--stdio] [--backend ollama|openai] [--url URL]...\n"
"              [--model M] [--notify-fd N] [-v] [--help]\n"
"\n"
"inferd runs LLM completions for jobd. It reads NDJSON requests (infer,\n"
"cancel, health; see docs/PROTOCOL.md) on state_dir/run/inferd.sock, or on\n"
"stdin with --stdio, streams each job from an Ollama server (POST /api/chat,\n"
"or /api/generate for a raw prompt) or an OpenAI-compatible server (POST\n"
"/v1/chat/completions with SSE), and answers with chunk, done and error\n"
"lines. All transfers share one libcurl multi handle in one poll loop.\n"
"\n"
"  -c FILE            config file (dvm.conf); DVM_<KEY> variables override it\n"
"  --stdio            serve one client on stdin/stdout instead of the socket;\n"
"                     at end of input, finish running jobs and exit 0\n"
"  --backend KIND     ollama (default) or openai (overrides infer_backend)\n"
"  --url URL          an inference server; repeat for a pool (overrides\n"
"                     infer_urls)\n"
"  --model M          the model probed by health checks (overrides model)\n"
"  --notify-fd N      write a newline to fd N once the socket is bound and\n"
"                     every backend was probed once, then close it\n"
"  -v                 log debug lines\n"
"  --help             this text\n"
"\n"
"Config keys used: state_dir, log_level, infer_backend, infer_urls, model,\n"
"max_tokens, temperature, top_k, top_p, frequency_penalty, keep_alive,\n"
"openai_api_key_file, infer_max_inflight, infer_connect_timeout,\n"
"infer_first_byte_timeout, infer_idle_timeout, infer_total_timeout,\n"
"infer_max_output, infer_health_interval, chunk_interval_ms.\n"
"\n"
"Signals: TERM/INT answer open jobs with error \"shutdown\" and exit 0;\n"
"HUP re-reads the config (timeouts, limits, defaults; a changed\n"
"infer_urls or infer_backend needs a restart).\n"
"Exit: 0 clean, 100 bad usage or config, 111 temporary failure.\n"
"\n"
"Example:\n"
"  echo '{\"op\":\"infer\",\"job\":\"<64 hex>\",\"model\":\"llama3.2\",\n"
"        \"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}' |\n"
"    inferd --stdio --url http://127.0.0.1:11434\n", f);
}

static void
parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "stdio", no_argument, NULL, 's' },
		{ "backend", required_argument, NULL, 'b' },
		{ "url", required_argument, NULL, 'u' },
		{ "model", required_argument, NULL, 'm' },
		{ "notify-fd", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:vh", lo, NULL)) != -1) {
		switch (ch) {
		case 'c':
			opt.conf_path = optarg;
			break;
		case 's':
			env.stdio = 1;
			break;
		case 'b':
			if (strcmp(optarg, "ollama") && strcmp(optarg, "openai"))
				fatalx(EXIT_PERM, "--backend: ollama or openai, not \"%s\"", optarg);
			opt.backend = optarg;
			break;
		case 'u':
			if ((strncmp(optarg, "http://", 7) && strncmp(optarg, "https://", 8)) ||
			    strlen(optarg) >= CONF_MAX_STR)
				fatalx(EXIT_PERM, "--url: need an http:// or https:// URL");
			if (opt.nurls == CONF_MAX_LIST)
				fatalx(EXIT_PERM, "--url: at most %d", CONF_MAX_LIST);
			opt.urls[opt.nurls++] = optarg;
			break;
		case 'm':
			if (optarg[0] == '\0' || strlen(optarg) >= CONF_MAX_STR)
				fatalx(EXIT_PERM, "--model: need a model name");
			opt.model = optarg;
			break;
		case 'n':
			if ((opt.notify_fd = notify_fd_parse(optarg)) == -1)
				fatalx(EXIT_PERM, "--notify-fd: not a file descriptor number: %s", optarg);
			break;
		case 'v':
			opt.verbose = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(EXIT_PERM);
		}
	}
	if (optind != argc) {
		usage(stderr);
		exit(EXIT_PERM);
	}
}

static int
replace_str(char **slot, const char *v)
{
	char *s = strdup(v);

	if (s == NULL)
		return -1;
	free(*slot);
	*slot = s;
	return 0;
}

/* Load the config and lay the command-line overrides over it. */
static int
load_config(struct conf *c, char *err, size_t errlen)
{
	size_t i;

	if (conf_load(c, opt.conf_path, err, errlen) == -1)
		return -1;
	if (opt.backend)
		c->infer_backend = strcmp(opt.backend, "openai") == 0 ? BACKEND_OPENAI : BACKEND_OLLAMA;
	if (opt.model && replace_str(&c->model, opt.model) == -1)
		goto nomem;
	if (opt.nurls > 0) {
		for (i = 0; i < c->infer_urls.n; i++)
			free(c->infer_urls.v[i]);
		c->infer_urls.n = 0;
		for (i = 0; i < opt.nurls; i++) {
			if ((c->infer_urls.v[i] = strdup(opt.urls[i])) == NULL)
				goto nomem;
			c->infer_urls.n++;
		}
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	conf_free(c);
	return -1;
}

static void
set_log_level(void)
{
	int lv = log_parse_level(env.conf.log_level ? env.conf.log_level : "info");

	log_set_level(opt.verbose ? LOG_DEBUG : lv < 0 ? LOG_INFO : (enum log_level)lv);
}

static void
wipe_key(char **key)
{
	if (*key) {
		memset(*key, 0, strlen(*key));
		free(*key);
		*key = NULL;
	}
}

/* The bearer token named by c into *key (NULL if none is configured); -1 on error. */
static int
read_api_key(const struct conf *c, char **key, char *err, size_t errlen)
{
	*key = NULL;
	if (c->openai_api_key_file == NULL || c->openai_api_key_file[0] == '\0')
		return 0;
	if (secret_file_read(c->openai_api_key_file, API_KEY_MAX, key, err, errlen) == -1)
		return -1;
	if (strpbrk(*key, "\r\n") != NULL) {
		snprintf(err, errlen, "the key must be one line");
		wipe_key(key);
		return -1;
	}
	return 0;
}

/* SIGHUP: new timeouts, limits and defaults apply to jobs from now on. */
static void
reload(void)
{
	struct conf nc;
	char err[512], *key;

	if (load_config(&nc, err, sizeof(err)) == -1) {
		log_warnx("reload: %s: keeping the old config", err);
		return;
	}
	if (read_api_key(&nc, &key, err, sizeof(err)) == -1) {
		log_warnx("reload: openai_api_key_file: %s: keeping the old config", err);
		conf_free(&nc);
		return;
	}
	if (nc.infer_backend != env.conf.infer_backend || nc.infer_urls.n != env.conf.infer_urls.n)
		log_warnx("reload: infer_backend/infer_urls changes need a restart");
	conf_free(&env.conf);
	env.conf = nc;
	wipe_key(&env.api_key);
	env.api_key = key;
	pool_set_limits(env.conf.infer_max_inflight);
	set_log_level();
	log_info("reloaded the config");
}

static void
grace_over(struct loop *l, void *arg)
{
	opt.grace_timer = 0;
	log_warnx("shutdown: clients did not take their answers in time");
	loop_stop(l);
}

static void
on_signal(struct loop *l, int signo, void *arg)
{
	if (signo == SIGHUP) {
		reload();
		return;
	}
	if (signo != SIGTERM && signo != SIGINT)
		return;
	if (env.stopping) {
		loop_stop(l);
		return;
	}
	log_info("shutdown: answering %zu open job(s)", job_running());
	env.stopping = 1;
	ipc_stop_listening();
	job_shutdown_all();
	opt.grace_timer = loop_add_timer(l, SHUTDOWN_GRACE_MS, grace_over, NULL);
}

/* The loop ends once there is nothing left to do or to say. */
static int
all_said(void)
{
	if (env.stopping && !ipc_pending())
		return 1;
	return env.stdio && ipc_stdin_closed() && job_running() == 0 && !ipc_pending();
}

static void
on_first_probe(void)
{
	if (opt.notify_fd >= 0) {
		if (notify_ready(opt.notify_fd) == -1)
			log_warn("notify-fd %d", opt.notify_fd);
		opt.notify_fd = -1;
	}
	log_info("ready");
}

static void
make_run_dir(void)
{
	char run[sizeof(env.sock_path)];

	if (mkdir(env.conf.state_dir, 0750) == -1 && errno != EEXIST)
		fatal(EXIT_TEMP, "mkdir %s", env.conf.state_dir);
	snprintf(run, sizeof(run), "%s/run", env.conf.state_dir);
	if (mkdir(run, 0750) == -1 && errno != EEXIST)
		fatal(EXIT_TEMP, "mkdir %s", run);
}

int
main(int argc, char **argv)
{
	char err[512];

	log_init("inferd", LOG_INFO);
	parse_args(argc, argv);
	if (load_config(&env.conf, err, sizeof(err)) == -1)
		fatalx(EXIT_PERM, "%s", err);
	set_log_level();
	if (read_api_key(&env.conf, &env.api_key, err, sizeof(err)) == -1)
		fatalx(EXIT_PERM, "openai_api_key_file: %s", err);
	/* Nothing inferd runs should ever gain privileges. */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx(EXIT_TEMP, "curl_global_init failed");
	if ((env.loop = loop_new()) == NULL)
		fatal(EXIT_TEMP, "loop");
	if (xfer_init(env.loop) == -1)
		fatalx(EXIT_TEMP, "curl_multi_init failed");
	loop_on_signal(env.loop, on_signal, NULL);

	if (env.stdio) {
		if (ipc_stdio() == -1)
			fatal(EXIT_TEMP, "stdio");
	} else {
		if (conf_stage_sock_path(&env.conf, "inferd", env.sock_path, sizeof(env.sock_path)) == -1)
			fatalx(EXIT_PERM, "state_dir: path too long");
		make_run_dir();
		if (ipc_listen(env.sock_path) == -1)
			fatal(errno == EADDRINUSE ? EXIT_PERM : EXIT_TEMP, "listen %s", env.sock_path);
	}
	if (pool_init(on_first_probe) == -1)
		fatalx(EXIT_PERM, "no usable infer_urls");
	log_info("%s backend, model %s, %zu server(s), %s", conf_backend_name(env.conf.infer_backend),
	    env.conf.model, pool_size(), env.stdio ? "stdio" : env.sock_path);

	while (!loop_stopped(env.loop) && !all_said())
		if (loop_run_once(env.loop, -1) == -1) {
			log_warn("poll");
			break;
		}

	job_free_all();
	pool_free();
	ipc_close_all();
	xfer_cleanup();
	curl_global_cleanup();
	if (opt.grace_timer)
		loop_cancel_timer(env.loop, opt.grace_timer);
	if (!env.stdio)
		unlink(env.sock_path);
	wipe_key(&env.api_key);
	conf_free(&env.conf);
	loop_free(env.loop);
	log_info("exit");
	return 0;
}
