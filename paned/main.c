/*
 * paned: the operator's pane, a local web dashboard (docs/paned.8.md).
 *
 * Life: the shared prologue, the config, the login token file, the static
 * files, the HTTP server on 127.0.0.1:pane_port, readiness, then
 * lws_service until SIGTERM or SIGINT. It holds no Nostr key and no
 * wallet secret: what it may do is what jobd's pane.sock serves.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libwebsockets.h>

#include "daemon.h"
#include "log.h"
#include "loop.h"
#include "paned.h"

#define PANE_MAX_FILE	(512 * 1024)

static const char usage[] =
"usage: paned [-c FILE] [-v] [--notify-fd N] [--www DIR] [--allow-core]\n"
"\n"
"The operator's pane: a web dashboard on http://127.0.0.1:pane_port/ (never\n"
"another address) showing status, earnings, job history and prices, with\n"
"the GO ONLINE / GO OFFLINE button. Log in with the URL `dvmctl pane`\n"
"prints (the token is in STATE_DIR/pane/token, 0600). It talks to jobd on\n"
"STATE_DIR/run/pane/pane.sock only. See paned(8).\n"
"\n"
"  -c FILE        config file (dvm.conf)\n"
"  -v             debug logging\n"
"  --notify-fd N  write a line to fd N once serving (s6 readiness)\n"
"  --www DIR      the page's files (default: ../share/sellcompute/www beside\n"
"                 the binary, else paned/www in the source tree)\n"
"  --allow-core   keep core dumps (debugging)\n"
"  -h, --help     this text\n";

/* The one thing a signal handler may touch: the service loop to wake. */
static struct paned *signalled;

static void
on_signal(int sig)
{
	if (signalled != NULL && signalled->lws != NULL) {
		signalled->stop = 1;
		lws_cancel_service(signalled->lws);
	}
}

static void
set_www(void *ctx, const char *arg)
{
	struct paned *p = ctx;

	if (strlen(arg) >= sizeof(p->www))
		fatalx(EXIT_PERM, "--www: path too long");
	snprintf(p->www, sizeof(p->www), "%s", arg);
}

static const struct daemon_opt opts[] = {
	{ "www", 1, set_www },
	{ NULL, 0, NULL },
};

/* ../share/sellcompute/www beside the binary (make install), else the source tree's. */
static void
find_www(struct paned *p)
{
	char exe[900], *slash;
	ssize_t n;

	if (p->www[0] != '\0')
		return;
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL) {
			*slash = '\0';
			snprintf(p->www, sizeof(p->www), "%s/../share/sellcompute/www", exe);
			if (access(p->www, R_OK) == 0)
				return;
			snprintf(p->www, sizeof(p->www), "%s/../paned/www", exe);
			if (access(p->www, R_OK) == 0)
				return;
			snprintf(p->www, sizeof(p->www), "%s/../../../paned/www", exe);
			if (access(p->www, R_OK) == 0)
				return;
		}
	}
	snprintf(p->www, sizeof(p->www), "paned/www");
}

static void
load_file(struct paned *p, size_t i, const char *name, const char *mime)
{
	char path[1100];
	FILE *f;
	long len;

	snprintf(path, sizeof(path), "%s%s", p->www, name);
	if ((f = fopen(path, "rb")) == NULL)
		fatal(EXIT_PERM, "%s (the page's files: --www DIR)", path);
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || len > PANE_MAX_FILE ||
	    fseek(f, 0, SEEK_SET) != 0 || (p->files[i].data = malloc((size_t)len + 1)) == NULL ||
	    fread(p->files[i].data, 1, (size_t)len, f) != (size_t)len)
		fatalx(EXIT_PERM, "%s: cannot read it (at most %d bytes)", path, PANE_MAX_FILE);
	fclose(f);
	p->files[i].name = name;
	p->files[i].mime = mime;
	p->files[i].len = (size_t)len;
}

int
main(int argc, char **argv)
{
	static struct paned p;
	struct daemon_spec spec = { usage, 0, opts, &p };
	struct daemon_args a;
	char err[600];
	sigset_t mask;
	size_t i;

	log_init("paned", LOG_INFO);
	daemon_parse_args(&spec, argc, argv, &a);
	if (conf_load(&p.conf, a.conf, err, sizeof(err)) == -1)
		fatalx(EXIT_PERM, "%s", err);
	daemon_set_log_level(a.verbose, p.conf.log_level);
	daemon_make_dirs(p.conf.state_dir);
	if (conf_sock_path(&p.conf, "pane/pane.sock", p.ctl_path, sizeof(p.ctl_path)) == -1)
		fatalx(EXIT_PERM, "state_dir too long");
	if (auth_token_load(&p, err, sizeof(err)) == -1)
		fatalx(EXIT_TEMP, "%s", err);
	find_www(&p);
	load_file(&p, 0, "/index.html", "text/html; charset=utf-8");
	load_file(&p, 1, "/pane.css", "text/css; charset=utf-8");
	load_file(&p, 2, "/pane.js", "text/javascript; charset=utf-8");
	if (http_start(&p) == -1)
		fatalx(EXIT_TEMP, "cannot listen on 127.0.0.1:%d (in use?)", p.conf.pane_port);
	signalled = &p;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	log_info("ready: http://127.0.0.1:%d/ (dvmctl pane prints the login URL)",
	    p.conf.pane_port);
	notify_ready(a.notify_fd);
	while (!p.stop)
		if (lws_service(p.lws, 0) < 0)
			break;
	/* No handler may wake a context being destroyed (a second SIGTERM). */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signalled = NULL;
	http_stop(&p);
	for (i = 0; i < sizeof(p.files) / sizeof(p.files[0]); i++)
		free(p.files[i].data);
	conf_free(&p.conf);
	log_info("stopped");
	return 0;
}
