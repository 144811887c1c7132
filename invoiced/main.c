/*
 * invoiced: Lightning invoices for sellcompute, the only process that holds
 * wallet credentials. See docs/invoiced.8.md and docs/PROTOCOL.md.
 *
 * Life: parse args and config; read the wallet secret (refusing a file
 * others can read); open invoices.db; bind invoiced.sock (or use stdio);
 * resume tracking pending invoices; signal readiness; one poll loop; on
 * SIGTERM finish and exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "conf.h"
#include "curlm.h"
#include "daemon.h"
#include "log.h"
#include "loop.h"
#include "invoiced.h"

static const char usage[] =
"usage: invoiced [-c FILE] [--stdio] [--wallet KIND] [--notify-fd N] [-v]\n"
"                [--allow-core] [--help]\n"
"\n"
"Create Lightning invoices for sellcompute jobs and report when they are paid.\n"
"invoiced is the only sellcompute process that holds wallet credentials.\n"
"\n"
"  -c FILE        read the config FILE (dvm.conf); DVM_* environment overrides apply\n"
"  --stdio        speak the NDJSON protocol on stdin/stdout instead of\n"
"                 state_dir/run/invoiced/invoiced.sock; exit once stdin\n"
"                 ends and the requests already read are answered\n"
"  --wallet KIND  override the config's wallet: lnbits, nwc, spark, lnd or none\n"
"  --notify-fd N  write a newline to fd N once ready, then close it\n"
"  -v             debug logging\n"
"  --allow-core   keep core dumps and debugger access (off by default: a core\n"
"                 file could hold the wallet secret); for debugging only\n"
"  --help         this text\n"
"\n"
"Config keys used: state_dir, log_level, wallet, lightning_network (bitcoin,\n"
"testnet, signet, regtest: the network every invoice must be for),\n"
"lnbits_url, lnbits_api_key_file, nwc_uri_file, spark_url (http://host:port\n"
"or unix:/path; empty: STATE_DIR/run/spark-bridge.sock), spark_api_key_file,\n"
"lnd_url, lnd_macaroon_file, lnd_tls_cert_file,\n"
"invoice_poll_fast_ms, invoice_poll_slow_ms, payment_mode (hold: escrow),\n"
"hold_max_seconds.\n"
"Secret files must not be readable by group or others.\n"
"\n"
"Exit status: 0 on SIGTERM/SIGINT, 100 on bad usage, config or secret file,\n"
"111 on a temporary failure (cannot bind the socket, out of memory).\n";

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

static void
invoiced_opt_wallet(void *ctx, const char *arg)
{
	struct invoiced *iv = ctx;

	if ((iv->opt_wallet = wallet_from_name(arg)) < 0)
		fatalx(EXIT_PERM, "--wallet: unknown kind %s (lnbits, nwc, spark, lnd, none)", arg);
}

static const struct daemon_opt invoiced_opts[] = {
	{ "wallet", 1, invoiced_opt_wallet },
	{ NULL, 0, NULL },
};

static struct backend *
backend_open(struct invoiced *iv)
{
	const struct conf *cf = &iv->conf;
	struct backend *be = NULL;
	char err[512] = "";

	switch (cf->wallet) {
	case WALLET_NONE:
		log_info("wallet = none: every invoice request is answered \"disabled\"");
		return NULL;
	case WALLET_LNBITS:
		be = lnbits_new(cf, iv->curlm, err, sizeof(err));
		break;
	case WALLET_SPARK:
		be = spark_new(cf, iv->curlm, err, sizeof(err));
		break;
	case WALLET_LND:
		be = lnd_new(cf, iv->curlm, err, sizeof(err));
		break;
	case WALLET_NWC:
		be = nwc_new(cf, iv->loop, err, sizeof(err));
		break;
	}
	if (be == NULL)
		fatalx(EXIT_PERM, "wallet %s: %s", conf_wallet_name(cf->wallet), err);
	return be;
}

/* SIGHUP: log level and poll intervals now; wallet settings need a restart. */
static void
reload_conf(struct invoiced *iv)
{
	struct conf cf;
	char err[512];

	if (conf_load(&cf, iv->args.conf, err, sizeof(err)) != 0) {
		log_warnx("SIGHUP: config not reloaded: %s", err);
		return;
	}
	daemon_set_log_level(iv->args.verbose, cf.log_level);
	ipc_set_intervals(iv->ipc, cf.invoice_poll_fast_ms, cf.invoice_poll_slow_ms);
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

#define PRUNE_EVERY_MS	60000
#define PRUNE_BATCH	500

/* Retention: a bounded batch of closed invoices past retain_days a minute. */
static void
prune_tick(struct loop *l, void *arg)
{
	struct invoiced *iv = arg;
	int n = store_prune(iv->store, now_unix() - (int64_t)iv->conf.retain_days * 86400,
	    PRUNE_BATCH);

	if (n > 0)
		log_debug("store: pruned %d closed invoice(s)", n);
	loop_add_timer(l, PRUNE_EVERY_MS, prune_tick, iv);
}

int
main(int argc, char **argv)
{
	static struct invoiced iv = { .opt_wallet = -1 };
	const struct daemon_spec spec = { usage, 1, invoiced_opts, &iv };
	char err[512];

	log_init("invoiced", LOG_INFO);
	/* umask 077 from here on: invoices.db and its WAL are nobody else's business. */
	daemon_parse_args(&spec, argc, argv, &iv.args);
	if (conf_load(&iv.conf, iv.args.conf, err, sizeof(err)) != 0)
		fatalx(EXIT_PERM, "%s", err);
	daemon_set_log_level(iv.args.verbose, iv.conf.log_level);
	if (iv.opt_wallet >= 0)
		iv.conf.wallet = (enum wallet_kind)iv.opt_wallet;
	if (iv.conf.wallet != WALLET_NONE && (iv.conf.lightning_network == NULL ||
	    bolt11_currency_for(iv.conf.lightning_network) == NULL))
		fatalx(EXIT_PERM, "lightning_network must be bitcoin, testnet, signet or regtest");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || (iv.loop = loop_new()) == NULL ||
	    (iv.curlm = curlm_new(iv.loop)) == NULL)
		fatalx(EXIT_TEMP, "cannot initialise");
	iv.be = backend_open(&iv);
	/* NWC knows only after the wallet's info event: escrow.c checks again then. */
	if (iv.conf.payment_mode == PAY_HOLD && iv.be != NULL &&
	    hold_capable(iv.be, err, sizeof(err)) == 0)
		fatalx(EXIT_PERM, "payment_mode = hold needs a wallet that can hold payments: %s", err);

	daemon_make_dirs(iv.conf.state_dir);
	if (conf_stage_sock_path(&iv.conf, "invoiced", iv.sock, sizeof(iv.sock)) != 0)
		fatalx(EXIT_PERM, "state_dir too long");
	snprintf(iv.db, sizeof(iv.db), "%s/invoices.db", iv.conf.state_dir);
	if ((iv.store = store_open(iv.db, err, sizeof(err))) == NULL)
		fatalx(EXIT_TEMP, "%s", err);
	if ((iv.ipc = ipc_new(iv.loop, &iv.conf, iv.store, iv.be, iv.conf.wallet)) == NULL)
		fatalx(EXIT_TEMP, "out of memory");
	if (iv.args.stdio ? ipc_stdio(iv.ipc) != 0 : ipc_listen(iv.ipc, iv.sock) != 0)
		fatal(EXIT_TEMP, "%s", iv.args.stdio ? "stdio" : iv.sock);
	if (ipc_resume(iv.ipc) != 0)
		fatalx(EXIT_TEMP, "cannot read pending invoices from %s", iv.db);
	loop_on_signal(iv.loop, on_signal, &iv);
	loop_add_timer(iv.loop, PRUNE_EVERY_MS, prune_tick, &iv);
	log_info("ready: wallet %s, network %s, %s", conf_wallet_name(iv.conf.wallet),
	    iv.conf.lightning_network ? iv.conf.lightning_network : "-",
	    iv.args.stdio ? "stdio" : iv.sock);
	notify_ready(iv.args.notify_fd);

	loop_run(iv.loop);

	/*
	 * HTTP first: every request's callback runs once ("shutting down") and
	 * still reaches the tracker and the clients.
	 */
	curlm_cancel_all(iv.curlm, "shutting down");
	curlm_free(iv.curlm);
	if (iv.be != NULL)
		iv.be->free(iv.be);
	ipc_free(iv.ipc);
	store_close(iv.store);
	loop_free(iv.loop);
	curl_global_cleanup();
	conf_free(&iv.conf);
	log_info("exited cleanly");
	return 0;
}
