/*
 * relayd: the relay I/O daemon. Holds no secret: it keeps websocket
 * connections to Nostr relays, forwards the events jobd subscribed to (shape
 * checked, deduplicated), publishes what jobd signed and reports each
 * relay's answer. Protocol: docs/PROTOCOL.md (relayd); manual: docs/relayd.8.md.
 *
 * Life: parse arguments and config -> block signals into a signalfd ->
 * one lws context (the only loop) -> socket (or stdin/stdout) -> dial the
 * relays -> ready on --notify-fd -> serve -> close frames to every relay on
 * SIGTERM -> exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop.h"
#include "relayd.h"

#define STOP_GRACE_MS	3000
#define STATS_EVERY_MS	300000

struct relayd rd;

static const char usage_text[] =
"usage: relayd [-c FILE] [--stdio] [--relay URL]... [--notify-fd N] [-v] [--help]\n"
"\n"
"relayd keeps websocket connections to Nostr relays for jobd. It forwards\n"
"the events of jobd's subscriptions (shape- and filter-checked, once across\n"
"all relays), publishes the events jobd signed and reports every relay's OK.\n"
"It holds no key. Messages are NDJSON, one JSON object per line, on the Unix\n"
"socket STATE_DIR/run/relayd.sock (mode 0660) or, with --stdio, on stdin and\n"
"stdout. See docs/PROTOCOL.md and docs/relayd.8.md.\n"
"\n"
"options:\n"
"  -c FILE         config file (dvm.conf; keys below). Without it: defaults\n"
"                  and DVM_* environment variables.\n"
"  --stdio         speak the protocol on stdin/stdout instead of the socket.\n"
"                  EOF on stdin: finish pending publishes, fetches and the\n"
"                  stored events of subscriptions (at most 5 s), exit 0.\n"
"  --relay URL     a ws:// or wss:// relay; repeatable; replaces the config's\n"
"                  relays list (also across SIGHUP).\n"
"  --notify-fd N   write a newline to fd N once ready, then close it.\n"
"  -v              debug logging.\n"
"  -h, --help      this text.\n"
"\n"
"config keys: relays, relay_idle_timeout, relay_ping_interval,\n"
"  relay_backoff_max, relay_since_slack, relay_max_frame, dedupe_size,\n"
"  publish_queue_max, publish_retries, state_dir, log_level.\n"
"\n"
"messages in: subscribe {id, filters}, unsubscribe {id}, fetch {id, filters,\n"
"  relays?, timeout_ms?}, publish {event, relays?}, auth {relay, event}, status.\n"
"messages out: event {relay, sub, event}, eose {relay?, sub}, ok {relay, id,\n"
"  accepted, message, final}, closed {relay, sub, message}, notice {relay,\n"
"  message}, auth_challenge {relay, challenge}, relay {url, state}, status.\n"
"\n"
"signals: SIGTERM/SIGINT close every relay with a close frame and exit 0;\n"
"  SIGHUP re-reads the config's relays and connects/disconnects to match.\n"
"exit: 0 clean, 100 bad usage or config, 111 temporary failure.\n";

struct args {
	const char	*conf;
	int		 stdio, verbose, notify_fd;
};

static void
parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "stdio", no_argument, NULL, 's' },
		{ "relay", required_argument, NULL, 'r' },
		{ "notify-fd", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	a->notify_fd = -1;
	while ((ch = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			a->conf = optarg;
			break;
		case 's':
			a->stdio = 1;
			break;
		case 'r':
			if (rd.ncli_relays == MAX_RELAYS)
				fatalx(EXIT_PERM, "too many --relay (max %d)", MAX_RELAYS);
			rd.cli_relays[rd.ncli_relays++] = optarg;
			break;
		case 'n':
			if ((a->notify_fd = notify_fd_parse(optarg)) == -1)
				fatalx(EXIT_PERM, "--notify-fd: not a file descriptor number: %s", optarg);
			break;
		case 'v':
			a->verbose = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			fputs(usage_text, stderr);
			exit(EXIT_PERM);
		}
	}
	if (optind != argc) {
		fputs(usage_text, stderr);
		exit(EXIT_PERM);
	}
}

/* The relay list in effect: --relay if given, else the config's; normalized. */
static int
relay_list(const struct conf *cf, char out[][RELAY_URL_MAX], size_t *n)
{
	const char *const *src = rd.ncli_relays ? rd.cli_relays : (const char *const *)cf->relays.v;
	size_t cnt = rd.ncli_relays ? rd.ncli_relays : cf->relays.n, i, j;

	*n = 0;
	for (i = 0; i < cnt; i++) {
		if (url_normalize(src[i], out[*n], RELAY_URL_MAX) == -1) {
			log_warnx("bad relay URL: %s (ws:// or wss:// expected)", src[i]);
			return -1;
		}
		for (j = 0; j < *n && strcmp(out[j], out[*n]) != 0; j++)
			;
		if (j == *n)
			(*n)++;
	}
	return 0;
}

static void
apply_relays(const struct conf *cf)
{
	static char urls[MAX_RELAYS][RELAY_URL_MAX];
	const char *ptrs[MAX_RELAYS];
	size_t n, i;

	if (relay_list(cf, urls, &n) == -1)
		return;
	for (i = 0; i < n; i++)
		ptrs[i] = urls[i];
	conn_set_relays(ptrs, n);
}

void
relayd_reload(void)
{
	char err[256], urls[MAX_RELAYS][RELAY_URL_MAX];
	struct conf nc;
	size_t n;

	if (rd.stopping)
		return;
	if (conf_load(&nc, rd.conf_path, err, sizeof(err)) == -1) {
		log_warnx("SIGHUP: config not reloaded: %s", err);
		return;
	}
	if (relay_list(&nc, urls, &n) == -1) {
		log_warnx("SIGHUP: config not reloaded");
		conf_free(&nc);
		return;
	}
	/* Sizes fixed at start stay; the rest follows the file. */
	nc.dedupe_size = rd.conf.dedupe_size;
	conf_free(&rd.conf);
	rd.conf = nc;
	log_info("SIGHUP: config reloaded");
	apply_relays(&rd.conf);
}

/* Begin the end: close frames to every relay, then leave the loop. */
void
relayd_stop(void)
{
	struct relay *r;

	if (rd.stopping)
		return;
	rd.stopping = 1;
	rd.deadline = now_ms() + STOP_GRACE_MS;
	log_info("stopping");
	for (r = rd.relays; r != NULL; r = r->next)
		conn_close(r);
}

static int
relays_open(void)
{
	const struct relay *r;

	for (r = rd.relays; r != NULL; r = r->next)
		if (conn_busy(r))
			return 1;
	return 0;
}

/* One summary line now and then, so the log shows the counters move. */
static void
relayd_log_stats(uint64_t now)
{
	static uint64_t next;
	static unsigned long last_frames;
	unsigned long dropped = 0;
	int i;

	if (now < next)
		return;
	next = now + STATS_EVERY_MS;
	if (rd.c.frames_in == last_frames)
		return;
	last_frames = rd.c.frames_in;
	for (i = 0; i < DROP_NREASONS; i++)
		dropped += rd.c.dropped[i];
	log_info("stats: frames %lu, events %lu, forwarded %lu, duplicates %lu, dropped %lu, "
	    "published %lu, accepted %lu, refused %lu, bad lines %lu", rd.c.frames_in,
	    rd.c.events, rd.forwarded, rd.c.duplicates, dropped, rd.c.published,
	    rd.c.accepted, rd.c.refused, rd.bad_lines);
}

static void
relayd_tick(lws_sorted_usec_list_t *sul)
{
	uint64_t now = now_ms();

	(void)sul;
	relayd_log_stats(now);
	conn_tick(now);
	sub_tick(now);
	pub_tick(now);
	if (rd.draining && !rd.stopping &&
	    ((rd.pubs == NULL && sub_drained()) || now >= rd.deadline))
		relayd_stop();
	if (rd.stopping && ((!relays_open() && !ipc_output_pending()) || now >= rd.deadline))
		rd.done = 1;
	lws_sul_schedule(rd.ctx, 0, &rd.tick, relayd_tick, TICK_MS * LWS_US_PER_MS);
}

static void
relayd_lws_log(int level, const char *line)
{
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (level & LLL_ERR)
		log_warnx("lws: %.*s", (int)n, line);
	else
		log_debug("lws: %.*s", (int)n, line);
}

static int
signals_open(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static struct lws_protocols protocols[3];

static void
relayd_lws_open(int verbose)
{
	struct lws_context_creation_info info;

	lws_set_log_level(verbose ? LLL_ERR | LLL_WARN : LLL_ERR, relayd_lws_log);
	protocols[0] = conn_protocol;
	protocols[1] = ipc_protocol;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.timeout_secs = 15;
	info.connect_timeout_secs = 15;
	/* lws sizes its fd table by this; the default is the fd rlimit. */
	info.fd_limit_per_thread = 64 + MAX_RELAYS + MAX_CLIENTS + MAX_TRANSIENT;
	if ((rd.ctx = lws_create_context(&info)) == NULL)
		fatalx(EXIT_TEMP, "cannot create the websocket context");
	if ((rd.vh = lws_get_vhost_by_name(rd.ctx, "default")) == NULL)
		fatalx(EXIT_TEMP, "no default vhost");
}

static void
ipc_open(void)
{
	char path[512], dir[512];

	if (rd.stdio) {
		if (ipc_stdio() == -1)
			fatalx(EXIT_TEMP, "cannot use stdin/stdout");
		return;
	}
	if (conf_stage_sock_path(&rd.conf, "relayd", path, sizeof(path)) == -1)
		fatalx(EXIT_PERM, "socket path too long");
	snprintf(dir, sizeof(dir), "%s", rd.conf.state_dir);
	(void)mkdir(dir, 0750);
	snprintf(dir, sizeof(dir), "%s/run", rd.conf.state_dir);
	(void)mkdir(dir, 0750);
	if (ipc_listen(path) == -1)
		fatal(EXIT_TEMP, "listen %s", path);
	snprintf(rd.sock_path, sizeof(rd.sock_path), "%s", path);
	log_info("listening on %s", path);
}

static void
relayd_free(void)
{
	rd.done = 1;
	lws_sul_cancel(&rd.tick);
	lws_context_destroy(rd.ctx);
	sub_free_all();
	pub_free_all();
	conn_free_all();
	while (rd.clients != NULL) {
		struct client *c = rd.clients;

		rd.clients = c->next;
		ndjson_free(&c->nj);
		free(c);
	}
	dedupe_free(rd.seen);
	conf_free(&rd.conf);
	if (rd.sock_path[0] != '\0')
		(void)unlink(rd.sock_path);
}

int
main(int argc, char **argv)
{
	struct args a = { 0 };
	char err[256];
	int lvl, sfd;

	log_init("relayd", LOG_INFO);
	parse_args(argc, argv, &a);
	rd.conf_path = a.conf;
	rd.stdio = a.stdio;
	rd.lfd = rd.sigfd = -1;
	if (conf_load(&rd.conf, a.conf, err, sizeof(err)) == -1)
		fatalx(EXIT_PERM, "%s", err);
	lvl = log_parse_level(rd.conf.log_level);
	log_set_level(a.verbose ? LOG_DEBUG : lvl >= 0 ? (enum log_level)lvl : LOG_INFO);
	{
		char urls[MAX_RELAYS][RELAY_URL_MAX];
		size_t n;

		if (relay_list(&rd.conf, urls, &n) == -1)
			exit(EXIT_PERM);
	}
	if ((rd.seen = dedupe_new((size_t)rd.conf.dedupe_size)) == NULL)
		fatalx(EXIT_PERM, "dedupe_size %d: out of range or out of memory",
		    rd.conf.dedupe_size);
	rd.ll_ipc.burst = rd.ll_relay.burst = 10;
	rd.ll_ipc.per_ms = rd.ll_relay.per_ms = 10000;
	rd.started = now_unix();

	if ((sfd = signals_open()) == -1)
		fatal(EXIT_TEMP, "signalfd");
	relayd_lws_open(a.verbose);
	if (ipc_adopt_signalfd(sfd) == -1)
		fatalx(EXIT_TEMP, "cannot watch signals");
	ipc_open();
	apply_relays(&rd.conf);
	if (notify_ready(a.notify_fd) == -1)
		log_warn("notify-fd %d", a.notify_fd);
	lws_sul_schedule(rd.ctx, 0, &rd.tick, relayd_tick, TICK_MS * LWS_US_PER_MS);

	while (!rd.done)
		if (lws_service(rd.ctx, 0) < 0)
			break;

	relayd_free();
	log_info("exit");
	return 0;
}
