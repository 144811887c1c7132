/*
 * jobd: the hub of sellcompute. Holds the Nostr key and the job ledger;
 * turns job requests relayd hands it into inference (inferd), invoices
 * (invoiced), and signed feedback and results (back through relayd).
 *
 * Life: parse args and config; load the key; open the ledger and load the
 * open jobs; bind control.sock; first connection attempt to each spoke;
 * readiness; one poll loop; on SIGTERM close everything and exit 0 (open
 * jobs resume from the ledger on the next start).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bech32.h"
#include "daemon.h"
#include "jobd.h"
#include "log.h"
#include "loop.h"

#define TICK_MS			15000
#define RATELIMIT_TABLE		4096
#define OUTBOX_RETRY_AFTER_MS	60000
#define PRUNE_BATCH		500	/* jobs deleted per tick at most */

static const char usage_text[] =
"usage: jobd [-c FILE] [--notify-fd N] [-v] [--allow-core] [--help]\n"
"\n"
"The hub of a sellcompute NIP-90 text-generation provider. jobd holds the\n"
"Nostr secret key and the job ledger (state_dir/jobs.db). It connects to\n"
"relayd, inferd and invoiced on their sockets in state_dir/run/ (reconnecting\n"
"with backoff), validates job requests (kinds in job_kinds, default 5050),\n"
"prices them, runs them, and publishes signed kind-7000 feedback and\n"
"kind-6xxx results. dvmctl talks to it on state_dir/run/control.sock.\n"
"\n"
"  -c FILE         read the config from FILE (dvm.conf; DVM_<KEY> environment\n"
"                  variables override it)\n"
"  --notify-fd N   write a newline to fd N once ready (ledger open, control\n"
"                  socket bound, first connection attempt to each spoke made)\n"
"  -v              log debug lines\n"
"  --allow-core    keep core dumps and debugger access (off by default: a\n"
"                  core file would hold the Nostr key); for debugging only\n"
"  --help          this text\n"
"\n"
"Signals: SIGTERM/SIGINT exit cleanly (open jobs resume on the next start);\n"
"SIGHUP re-reads prices and limits without dropping jobs.\n"
"Exit: 0 clean, 100 bad usage/config/key, 111 temporary failure.\n"
"See docs/jobd.8.md and docs/NOSTR.md.\n";

/*
 * Retention (retain_days, retain_rejected_hours): a bounded batch of old
 * rows per tick, so a backlog drains over minutes, never in one long delete.
 */
static void
prune(struct jobd *jd)
{
	struct ledger_retention r = {
		(int64_t)jd->conf.retain_days * 86400 * 1000,
		(int64_t)jd->conf.retain_rejected_hours * 3600 * 1000,
		(int64_t)jd->conf.max_request_age + jd->conf.max_future_skew + 60,
	};
	int n = ledger_prune(jd->db, &r, PRUNE_BATCH);

	if (n > 0)
		log_debug("ledger: pruned %d old job(s)", n);
}

static void
tick(struct loop *l, void *arg)
{
	struct jobd *jd = arg;
	static unsigned n;

	health_poll(jd);
	if (++n % (OUTBOX_RETRY_AFTER_MS / TICK_MS) == 0)
		publish_replay(jd, OUTBOX_RETRY_AFTER_MS);
	job_tick(jd);
	prune(jd);
	jd->tick_timer = loop_add_timer(l, TICK_MS, tick, jd);
}

/*
 * SIGHUP: prices, limits and texts change now; where things live
 * (state_dir, the key, the sockets) needs a restart.
 */
static void
reload(struct jobd *jd)
{
	struct conf nc;
	char err[512], *tmp;

	if (conf_load(&nc, jd->conf_path, err, sizeof(err)) == -1) {
		log_warnx("reload: %s; keeping the old config", err);
		return;
	}
	if (strcmp(nc.state_dir, jd->conf.state_dir) != 0 ||
	    strcmp(nc.secret_key_file, jd->conf.secret_key_file) != 0)
		log_warnx("reload: state_dir and secret_key_file need a restart; kept");
	tmp = nc.state_dir;
	nc.state_dir = jd->conf.state_dir;
	jd->conf.state_dir = tmp;
	tmp = nc.secret_key_file;
	nc.secret_key_file = jd->conf.secret_key_file;
	jd->conf.secret_key_file = tmp;
	conf_free(&jd->conf);
	jd->conf = nc;
	if (log_parse_level(jd->conf.log_level) >= 0)
		log_set_level(log_parse_level(jd->conf.log_level));
	store_apply(jd);
	subscribe_jobs(jd);
	job_schedule(jd);
	announce_changed(jd);
	log_info("config reloaded");
}

static void
on_signal(struct loop *l, int signo, void *arg)
{
	struct jobd *jd = arg;

	if (signo == SIGHUP) {
		reload(jd);
		return;
	}
	if (signo == SIGTERM || signo == SIGINT) {
		log_info("stopping");
		jd->stopping = 1;
		loop_stop(l);
	}
}

static void
open_state(struct jobd *jd)
{
	char path[1024], err[512], buf[8];

	if (keys_load_file(jd->conf.secret_key_file, &jd->kp, err, sizeof(err)) == -1)
		fatalx(EXIT_PERM, "secret key: %s (create one with: scripts/dvm keygen)", err);
	nip19_encode("npub", jd->kp.pk, jd->npub, sizeof(jd->npub));
	daemon_make_dirs(jd->conf.state_dir);
	snprintf(path, sizeof(path), "%s/jobs.db", jd->conf.state_dir);
	if (ledger_open(&jd->db, path, err, sizeof(err)) == -1)
		fatalx(EXIT_TEMP, "ledger: %s", err);
	jd->online = jd->conf.start_online;
	if (ledger_meta_get(jd->db, "online", buf, sizeof(buf)) == 0)
		jd->online = buf[0] == '1';
	if (ratelimit_init(&jd->rl, RATELIMIT_TABLE) == -1)
		fatal(EXIT_TEMP, "ratelimit");
}

static void
cleanup(struct jobd *jd)
{
	struct job *j;

	control_close(jd);
	pane_close(jd);
	spoke_close_all(jd);
	while ((j = jd->jobs) != NULL) {
		jd->jobs = j->next;
		job_free(j);
	}
	announce_stop(jd);
	store_free(&jd->store);
	ledger_close(jd->db);
	ratelimit_free(&jd->rl);
	keys_wipe(&jd->kp);
	conf_free(&jd->conf);
	loop_free(jd->loop);
}

int
main(int argc, char **argv)
{
	static struct jobd jd;
	const struct daemon_spec spec = { usage_text, 0, NULL, NULL };
	struct daemon_args a;
	int n;
	char err[512];

	log_init("jobd", LOG_INFO);
	daemon_parse_args(&spec, argc, argv, &a);
	if (conf_load(&jd.conf, a.conf, err, sizeof(err)) == -1)
		fatalx(EXIT_PERM, "config: %s", err);
	jd.conf_path = a.conf;
	daemon_set_log_level(a.verbose, jd.conf.log_level);
	jd.started = now_unix();
	if ((jd.loop = loop_new()) == NULL)
		fatal(EXIT_TEMP, "loop");
	loop_on_signal(jd.loop, on_signal, &jd);
	open_state(&jd);

	spoke_init(&jd);
	store_apply(&jd);
	announce_start(&jd);
	jd.resolve = ingest_resolve;
	if ((n = job_load_open(&jd, 24 * 3600)) == -1)
		fatalx(EXIT_TEMP, "ledger: cannot load open jobs");
	if (n > 0)
		log_info("resuming %d open job(s) from the ledger", n);
	job_replay_local(&jd);
	if (control_open(&jd) == -1)
		fatal(EXIT_TEMP, "control socket %s", jd.ctl_path);
	if (pane_open(&jd) == -1)
		fatal(EXIT_TEMP, "the pane's socket (run/pane/pane.sock)");
	spoke_connect_all(&jd);
	log_info("ready: %s (%s), %s, payment %s", jd.npub, jd.online ? "online" : "offline",
	    jd.conf.model, jd.conf.wallet == WALLET_NONE ? "free" :
	    conf_payment_mode_name(jd.conf.payment_mode));
	notify_ready(a.notify_fd);
	jd.tick_timer = loop_add_timer(jd.loop, TICK_MS, tick, &jd);

	loop_run(jd.loop);

	cleanup(&jd);
	return 0;
}
