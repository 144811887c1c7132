/*
 * daemon.c: the prologue of every stage (see daemon.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "loop.h"

#define DAEMON_MAX_OPTS	16

enum { OPT_HELP = 'h', OPT_STDIO = 256, OPT_NOTIFY, OPT_CORE, OPT_OWN };

static _Noreturn void
daemon_usage(const struct daemon_spec *sp, int code)
{
	fputs(sp->usage, code == 0 ? stdout : stderr);
	exit(code);
}

/* The shared long options, then the daemon's own (val OPT_OWN + index). */
static void
daemon_longopts(const struct daemon_spec *sp, struct option *lo)
{
	size_t n = 0, i;

	lo[n++] = (struct option){ "help", no_argument, NULL, OPT_HELP };
	lo[n++] = (struct option){ "notify-fd", required_argument, NULL, OPT_NOTIFY };
	lo[n++] = (struct option){ "allow-core", no_argument, NULL, OPT_CORE };
	if (sp->stdio)
		lo[n++] = (struct option){ "stdio", no_argument, NULL, OPT_STDIO };
	for (i = 0; sp->opts != NULL && sp->opts[i].name != NULL; i++) {
		if (i == DAEMON_MAX_OPTS)
			fatalx(EXIT_PERM, "too many options");
		lo[n++] = (struct option){ sp->opts[i].name,
		    sp->opts[i].has_arg ? required_argument : no_argument, NULL, OPT_OWN + (int)i };
	}
	lo[n] = (struct option){ NULL, 0, NULL, 0 };
}

void
daemon_parse_args(const struct daemon_spec *sp, int argc, char **argv, struct daemon_args *a)
{
	struct option lo[DAEMON_MAX_OPTS + 5];
	int ch;

	memset(a, 0, sizeof(*a));
	a->notify_fd = -1;
	daemon_longopts(sp, lo);
	while ((ch = getopt_long(argc, argv, "c:vh", lo, NULL)) != -1) {
		switch (ch) {
		case 'c':
			a->conf = optarg;
			break;
		case 'v':
			a->verbose = 1;
			break;
		case OPT_HELP:
			daemon_usage(sp, 0);
		case OPT_STDIO:
			a->stdio = 1;
			break;
		case OPT_NOTIFY:
			if ((a->notify_fd = notify_fd_parse(optarg)) == -1)
				fatalx(EXIT_PERM, "--notify-fd: not a file descriptor number: %s", optarg);
			break;
		case OPT_CORE:
			a->allow_core = 1;
			break;
		default:
			if (ch < OPT_OWN || ch >= OPT_OWN + DAEMON_MAX_OPTS)
				daemon_usage(sp, EXIT_PERM);
			sp->opts[ch - OPT_OWN].set(sp->ctx, optarg);
			break;
		}
	}
	if (optind != argc)
		daemon_usage(sp, EXIT_PERM);
	/* What a stage creates (databases, their journals) is its own alone. */
	umask(077);
	if (daemon_no_core(a->allow_core) == -1)
		fatal(EXIT_TEMP, "cannot turn core dumps off");
	if (a->allow_core)
		log_warnx("--allow-core: a core dump or a debugger may read this stage's secrets");
}

int
daemon_no_core(int allow)
{
	const struct rlimit none = { 0, 0 };

	if (allow)
		return 0;
	if (setrlimit(RLIMIT_CORE, &none) == -1)
		return -1;
	/* Also makes /proc/PID/mem and ptrace refuse other processes of our uid. */
	return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1 ? -1 : 0;
}

void
daemon_set_log_level(int verbose, const char *conf_level)
{
	int lv = conf_level != NULL ? log_parse_level(conf_level) : -1;

	log_set_level(verbose ? LOG_DEBUG : lv >= 0 ? (enum log_level)lv : LOG_INFO);
}

/*
 * One directory: create it with DAEMON_DIR_MODE exactly (the umask, often
 * 077 under a supervisor, would take the group's search bit), or check
 * that what is there is a directory.
 */
static void
daemon_make_dir(const char *path)
{
	struct stat st;
	int fd;

	if (mkdir(path, DAEMON_DIR_MODE) == 0) {
		/* O_NOFOLLOW: whatever replaced it since mkdir is not ours to chmod. */
		if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
			fatal(EXIT_TEMP, "open %s", path);
		if (fchmod(fd, DAEMON_DIR_MODE) == -1)
			fatal(EXIT_TEMP, "chmod %s", path);
		close(fd);
		return;
	}
	if (errno != EEXIST)
		fatal(EXIT_TEMP, "mkdir %s", path);
	if (stat(path, &st) == -1)
		fatal(EXIT_TEMP, "stat %s", path);
	if (!S_ISDIR(st.st_mode))
		fatalx(EXIT_PERM, "%s: not a directory", path);
}

void
daemon_make_dirs(const char *state_dir)
{
	char run[4096];

	/* conf_load always sets it (default ./var); empty is the operator's doing. */
	if (state_dir[0] == '\0')
		fatalx(EXIT_PERM, "state_dir is empty");
	if ((size_t)snprintf(run, sizeof(run), "%s/run", state_dir) >= sizeof(run))
		fatalx(EXIT_PERM, "state_dir: path too long");
	daemon_make_dir(state_dir);
	daemon_make_dir(run);
}
