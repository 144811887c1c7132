/*
 * invoiced: Lightning invoices for sellcompute, the only process that holds
 * wallet credentials. See docs/invoiced.8.md and docs/PROTOCOL.md.
 *
 * Life: parse args and config; read the wallet secret (refusing a file
 * others can read); open invoices.db; bind invoiced.sock (or use stdio);
 * resume tracking pending invoices; signal readiness; one poll loop; on
 * SIGTERM finish and exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "conf.h"
#include "log.h"
#include "loop.h"
#include "invoiced.h"

static const char usage[] =
"usage: invoiced [-c FILE] [--stdio] [--wallet KIND] [--notify-fd N] [-v] [--help]\n"
"\n"
"Create Lightning invoices for sellcompute jobs and report when they are paid.\n"
"invoiced is the only sellcompute process that holds wallet credentials.\n"
"\n"
"  -c FILE        read the config FILE (dvm.conf); DVM_* environment overrides apply\n"
"  --stdio        speak the NDJSON protocol on stdin/stdout instead of\n"
"                 state_dir/run/invoiced.sock; exit once stdin ends and\n"
"                 the requests already read are answered\n"
"  --wallet KIND  override the config's wallet: lnbits, nwc, spark, lnd or none\n"
"  --notify-fd N  write a newline to fd N once ready, then close it\n"
"  -v             debug logging\n"
"  --help         this text\n"
"\n"
"Config keys used: state_dir, log_level, wallet, lightning_network (bitcoin,\n"
"testnet, signet, regtest: the network every invoice must be for),\n"
"lnbits_url, lnbits_api_key_file, nwc_uri_file, spark_url (http://host:port\n"
"or unix:/path; empty: STATE_DIR/run/spark-bridge.sock), spark_api_key_file,\n"
"lnd_url, lnd_macaroon_file, lnd_tls_cert_file, invoice_poll_fast_ms,\n"
"invoice_poll_slow_ms.\n"
"Secret files must not be readable by group or others.\n"
"\n"
"Exit status: 0 on SIGTERM/SIGINT, 100 on bad usage, config or secret file,\n"
"111 on a temporary failure (cannot bind the socket, out of memory).\n";

struct opts {
	const char *conf;
	const char *wallet;
	int	 stdio;
	int	 notify_fd;
	int	 verbose;
};

static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "stdio", no_argument, NULL, 's' },
		{ "wallet", required_argument, NULL, 'w' },
		{ "notify-fd", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->notify_fd = -1;
	while ((ch = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o->conf = optarg; break;
		case 's': o->stdio = 1; break;
		case 'w': o->wallet = optarg; break;
		case 'v': o->verbose = 1; break;
		case 'n':
			if ((o->notify_fd = notify_fd_parse(optarg)) == -1)
				fatalx(EXIT_PERM, "--notify-fd: not a file descriptor number: %s", optarg);
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			fputs(usage, stderr);
			exit(EXIT_PERM);
		}
	}
	if (optind != argc) {
		fputs(usage, stderr);
		exit(EXIT_PERM);
	}
}

static int
wallet_from_name(const char *s)
{
	if (strcmp(s, "none") == 0)
		return WALLET_NONE;
	if (strcmp(s, "lnbits") == 0)
		return WALLET_LNBITS;
	if (strcmp(s, "nwc") == 0)
		return WALLET_NWC;
	if (strcmp(s, "spark") == 0)
		return WALLET_SPARK;
	if (strcmp(s, "lnd") == 0)
		return WALLET_LND;
	return -1;
}

static struct backend *
backend_open(const struct conf *cf, struct loop *l, struct http *http)
{
	struct backend *be = NULL;
	char err[512] = "";

	switch (cf->wallet) {
	case WALLET_NONE:
		log_info("wallet = none: every invoice request is answered \"disabled\"");
		return NULL;
	case WALLET_LNBITS:
		be = lnbits_new(cf, http, err, sizeof(err));
		break;
	case WALLET_SPARK:
		be = spark_new(cf, http, err, sizeof(err));
		break;
	case WALLET_NWC:
		be = nwc_new(cf, l, err, sizeof(err));
		break;
	case WALLET_LND:
		be = lnd_new(cf, http, err, sizeof(err));
		break;
	}
	if (be == NULL)
		fatalx(EXIT_PERM, "wallet %s: %s", conf_wallet_name(cf->wallet), err);
	return be;
}

struct reload {
	const struct opts *o;
	struct ipc	*ipc;
};

/* SIGHUP: log level and poll intervals now; wallet settings need a restart. */
static void
reload_conf(struct reload *r)
{
	struct conf cf;
	char err[512];
	int lvl;

	if (conf_load(&cf, r->o->conf, err, sizeof(err)) != 0) {
		log_warnx("SIGHUP: config not reloaded: %s", err);
		return;
	}
	if ((lvl = log_parse_level(cf.log_level)) >= 0)
		log_set_level(r->o->verbose ? LOG_DEBUG : (enum log_level)lvl);
	ipc_set_intervals(r->ipc, cf.invoice_poll_fast_ms, cf.invoice_poll_slow_ms);
	conf_free(&cf);
	log_info("SIGHUP: reloaded log level and poll intervals; wallet settings take effect on restart");
}

static void
on_signal(struct loop *l, int signo, void *arg)
{
	if (signo == SIGHUP) {
		reload_conf(arg);
		return;
	}
	log_info("signal %d: exiting", signo);
	loop_stop(l);
}

static void
make_dirs(const struct conf *cf, char *sock, size_t socklen)
{
	char run[1100];

	if (mkdir(cf->state_dir, 0700) != 0 && errno != EEXIST)
		fatal(EXIT_TEMP, "mkdir %s", cf->state_dir);
	snprintf(run, sizeof(run), "%s/run", cf->state_dir);
	/* Group may traverse to the 0660 sockets (the umask would say 0700). */
	if (mkdir(run, 0750) == 0)
		chmod(run, 0750);
	else if (errno != EEXIST)
		fatal(EXIT_TEMP, "mkdir %s", run);
	if (conf_stage_sock_path(cf, "invoiced", sock, socklen) != 0)
		fatalx(EXIT_PERM, "state_dir too long");
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct conf cf;
	struct loop *l;
	struct http *http;
	struct backend *be;
	struct store *st;
	struct ipc *ipc;
	struct reload rl;
	char err[512], sock[1200], db[1200];
	int lvl, w;

	log_init("invoiced", LOG_INFO);
	/* invoices.db and its WAL are nobody else's business. */
	umask(077);
	parse_args(argc, argv, &o);
	if (conf_load(&cf, o.conf, err, sizeof(err)) != 0)
		fatalx(EXIT_PERM, "%s", err);
	if ((lvl = log_parse_level(cf.log_level)) >= 0)
		log_set_level((enum log_level)lvl);
	if (o.verbose)
		log_set_level(LOG_DEBUG);
	if (o.wallet != NULL) {
		if ((w = wallet_from_name(o.wallet)) < 0)
			fatalx(EXIT_PERM, "--wallet: unknown kind %s (lnbits, nwc, spark, lnd, none)", o.wallet);
		cf.wallet = (enum wallet_kind)w;
	}
	if (cf.wallet != WALLET_NONE && (cf.lightning_network == NULL ||
	    bolt11_currency_for(cf.lightning_network) == NULL))
		fatalx(EXIT_PERM, "lightning_network must be bitcoin, testnet, signet or regtest");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || (l = loop_new()) == NULL ||
	    (http = http_new(l)) == NULL)
		fatalx(EXIT_TEMP, "cannot initialise");
	be = backend_open(&cf, l, http);

	make_dirs(&cf, sock, sizeof(sock));
	snprintf(db, sizeof(db), "%s/invoices.db", cf.state_dir);
	if ((st = store_open(db, err, sizeof(err))) == NULL)
		fatalx(EXIT_TEMP, "%s", err);
	if ((ipc = ipc_new(l, &cf, st, be, cf.wallet)) == NULL)
		fatalx(EXIT_TEMP, "out of memory");
	if (o.stdio ? ipc_stdio(ipc) != 0 : ipc_listen(ipc, sock) != 0)
		fatal(EXIT_TEMP, "%s", o.stdio ? "stdio" : sock);
	if (ipc_resume(ipc) != 0)
		fatalx(EXIT_TEMP, "cannot read pending invoices from %s", db);
	rl.o = &o;
	rl.ipc = ipc;
	loop_on_signal(l, on_signal, &rl);
	log_info("ready: wallet %s, network %s, %s", conf_wallet_name(cf.wallet),
	    cf.lightning_network ? cf.lightning_network : "-", o.stdio ? "stdio" : sock);
	notify_ready(o.notify_fd);

	loop_run(l);

	/* http first: its callbacks still reach the tracker and the clients. */
	http_free(http);
	if (be != NULL)
		be->free(be);
	ipc_free(ipc);
	store_close(st);
	loop_free(l);
	curl_global_cleanup();
	conf_free(&cf);
	log_info("exited cleanly");
	return 0;
}
