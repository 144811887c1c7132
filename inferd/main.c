/*
 * inferd: the inference daemon. It holds no Nostr or wallet secret and
 * talks only to inference servers (Ollama, or OpenAI-compatible servers
 * such as llama.cpp's llama-server and vLLM) and to its clients on
 * state_dir/run/inferd/inferd.sock, or on stdin/stdout with --stdio.
 *
 * Life: parse arguments and config, read the optional API key, bind the
 * socket, probe the backends once (readiness follows, whatever they said),
 * run one poll loop; on SIGTERM answer every open job with "shutdown",
 * flush, exit 0. With --stdio, end of input means: finish the running jobs
 * (each bounded by its timeouts), then exit 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <curl/curl.h>

#include "inferd.h"
#include "curlm.h"
#include "daemon.h"
#include "keys.h"
#include "loop.h"

#define API_KEY_MAX	4096

static const char usage_text[] =
"usage: inferd [-c FILE] [--stdio] [--backend ollama|openai] [--url URL]...\n"
"              [--model M] [--notify-fd N] [-v] [--allow-core] [--help]\n"
"\n"
"inferd runs LLM completions for jobd. It reads NDJSON requests (infer,\n"
"cancel, health; see docs/PROTOCOL.md) on state_dir/run/inferd/inferd.sock, or on\n"
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
"  --allow-core       keep core dumps and debugger access (off by default: a\n"
"                     core file could hold the API key); for debugging only\n"
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
"    inferd --stdio --url http://127.0.0.1:11434\n";

static void
inferd_opt_backend(void *ctx, const char *arg)
{
	struct inferd *in = ctx;

	if (strcmp(arg, "ollama") && strcmp(arg, "openai"))
		fatalx(EXIT_PERM, "--backend: ollama or openai, not \"%s\"", arg);
	in->opt_backend = arg;
}

static void
inferd_opt_url(void *ctx, const char *arg)
{
	struct inferd *in = ctx;

	if ((strncmp(arg, "http://", 7) && strncmp(arg, "https://", 8)) ||
	    strlen(arg) >= CONF_MAX_STR)
		fatalx(EXIT_PERM, "--url: need an http:// or https:// URL");
	if (in->nopt_urls == CONF_MAX_LIST)
		fatalx(EXIT_PERM, "--url: at most %d", CONF_MAX_LIST);
	in->opt_urls[in->nopt_urls++] = arg;
}

static void
inferd_opt_model(void *ctx, const char *arg)
{
	struct inferd *in = ctx;

	if (arg[0] == '\0' || strlen(arg) >= CONF_MAX_STR)
		fatalx(EXIT_PERM, "--model: need a model name");
	in->opt_model = arg;
}

static const struct daemon_opt inferd_opts[] = {
	{ "backend", 1, inferd_opt_backend },
	{ "url", 1, inferd_opt_url },
	{ "model", 1, inferd_opt_model },
	{ NULL, 0, NULL },
};

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
load_config(const struct inferd *in, struct conf *c, char *err, size_t errlen)
{
	size_t i;

	if (conf_load(c, in->args.conf, err, errlen) == -1)
		return -1;
	if (in->opt_backend)
		c->infer_backend = strcmp(in->opt_backend, "openai") == 0 ? BACKEND_OPENAI :
		    BACKEND_OLLAMA;
	if (in->opt_model && replace_str(&c->model, in->opt_model) == -1)
		goto nomem;
	if (in->nopt_urls > 0) {
		for (i = 0; i < c->infer_urls.n; i++)
			free(c->infer_urls.v[i]);
		c->infer_urls.n = 0;
		for (i = 0; i < in->nopt_urls; i++) {
			if ((c->infer_urls.v[i] = strdup(in->opt_urls[i])) == NULL)
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
reload(struct inferd *in)
{
	struct conf nc;
	char err[512], *key;

	if (load_config(in, &nc, err, sizeof(err)) == -1) {
		log_warnx("reload: %s: keeping the old config", err);
		return;
	}
	if (read_api_key(&nc, &key, err, sizeof(err)) == -1) {
		log_warnx("reload: openai_api_key_file: %s: keeping the old config", err);
		conf_free(&nc);
		return;
	}
	if (nc.infer_backend != in->conf.infer_backend || nc.infer_urls.n != in->conf.infer_urls.n)
		log_warnx("reload: infer_backend/infer_urls changes need a restart");
	conf_free(&in->conf);
	in->conf = nc;
	wipe_key(&in->api_key);
	in->api_key = key;
	bearer_warn_plaintext(&in->conf, in->api_key);
	pool_set_limits(in, in->conf.infer_max_inflight);
	daemon_set_log_level(in->args.verbose, in->conf.log_level);
	log_info("reloaded the config");
}

static void
grace_over(struct loop *l, void *arg)
{
	struct inferd *in = arg;

	in->grace_timer = 0;
	log_warnx("shutdown: clients did not take their answers in time");
	loop_stop(l);
}

static void
on_signal(struct loop *l, int signo, void *arg)
{
	struct inferd *in = arg;

	if (signo == SIGHUP) {
		reload(in);
		return;
	}
	if (signo != SIGTERM && signo != SIGINT)
		return;
	if (in->stopping) {
		loop_stop(l);
		return;
	}
	log_info("shutdown: answering %zu open job(s)", job_running(in));
	in->stopping = 1;
	ipc_stop_listening(in);
	job_shutdown_all(in);
	in->grace_timer = loop_add_timer(l, SHUTDOWN_GRACE_MS, grace_over, in);
}

/* The loop ends once there is nothing left to do or to say. */
static int
all_said(struct inferd *in)
{
	if (in->stopping && !ipc_pending(in))
		return 1;
	return in->stdio && ipc_stdin_closed(in) && job_running(in) == 0 && !ipc_pending(in);
}

static void
on_first_probe(struct inferd *in)
{
	if (in->args.notify_fd >= 0) {
		if (notify_ready(in->args.notify_fd) == -1)
			log_warn("notify-fd %d", in->args.notify_fd);
		in->args.notify_fd = -1;
	}
	log_info("ready");
}

int
main(int argc, char **argv)
{
	char err[512];

	static struct inferd in;
	const struct daemon_spec spec = { usage_text, 1, inferd_opts, &in };

	log_init("inferd", LOG_INFO);
	daemon_parse_args(&spec, argc, argv, &in.args);
	in.stdio = in.args.stdio;
	if (load_config(&in, &in.conf, err, sizeof(err)) == -1)
		fatalx(EXIT_PERM, "%s", err);
	daemon_set_log_level(in.args.verbose, in.conf.log_level);
	if (read_api_key(&in.conf, &in.api_key, err, sizeof(err)) == -1)
		fatalx(EXIT_PERM, "openai_api_key_file: %s", err);
	bearer_warn_plaintext(&in.conf, in.api_key);
	/* Nothing inferd runs should ever gain privileges. */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx(EXIT_TEMP, "curl_global_init failed");
	if ((in.loop = loop_new()) == NULL)
		fatal(EXIT_TEMP, "loop");
	if ((in.curlm = curlm_new(in.loop)) == NULL)
		fatalx(EXIT_TEMP, "curl_multi_init failed");
	loop_on_signal(in.loop, on_signal, &in);

	if (in.stdio) {
		if (ipc_stdio(&in) == -1)
			fatal(EXIT_TEMP, "stdio");
	} else {
		if (conf_stage_sock_path(&in.conf, "inferd", in.sock_path, sizeof(in.sock_path)) == -1)
			fatalx(EXIT_PERM, "state_dir: path too long");
		daemon_make_dirs(in.conf.state_dir);
		if (ipc_listen(&in, in.sock_path) == -1)
			fatal(errno == EADDRINUSE ? EXIT_PERM : EXIT_TEMP, "listen %s", in.sock_path);
	}
	if (pool_init(&in, on_first_probe) == -1)
		fatalx(EXIT_PERM, "no usable infer_urls");
	log_info("%s backend, model %s, %zu server(s), %s", conf_backend_name(in.conf.infer_backend),
	    in.conf.model, pool_size(&in), in.stdio ? "stdio" : in.sock_path);

	while (!loop_stopped(in.loop) && !all_said(&in))
		if (loop_run_once(in.loop, -1) == -1) {
			log_warn("poll");
			break;
		}

	job_free_all(&in);
	pool_free(&in);
	ipc_close_all(&in);
	curlm_free(in.curlm);
	curl_global_cleanup();
	if (in.grace_timer)
		loop_cancel_timer(in.loop, in.grace_timer);
	if (!in.stdio)
		unlink(in.sock_path);
	wipe_key(&in.api_key);
	conf_free(&in.conf);
	loop_free(in.loop);
	log_info("exit");
	return 0;
}
