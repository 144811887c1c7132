/*
 * daemon.h: the prologue every stage shares: the common options, the core
 * dump policy, the log level and the state and run directories.
 *
 *	daemon_parse_args(&spec, argc, argv, &args);	(exits on -h or bad usage)
 *	conf_load(...);
 *	daemon_set_log_level(args.verbose, conf.log_level);
 *	daemon_make_dirs(conf.state_dir);		(exits 111 on failure)
 */
#ifndef DAEMON_H
#define DAEMON_H

/* What the shared options said. */
struct daemon_args {
	const char	*conf;		/* -c FILE, or NULL: defaults and DVM_* */
	int		 stdio;		/* --stdio */
	int		 verbose;	/* -v */
	int		 notify_fd;	/* --notify-fd N, or -1 */
	int		 allow_core;	/* --allow-core */
};

/*
 * A daemon's own long option (--relay URL, --wallet KIND...). set runs
 * once per occurrence with the argument (NULL for has_arg 0) and exits 100
 * itself (fatalx) on a bad one.
 */
struct daemon_opt {
	const char	*name;
	int		 has_arg;
	void		(*set)(void *ctx, const char *arg);
};

struct daemon_spec {
	const char		*usage;	/* the whole --help text */
	int			 stdio;	/* whether --stdio is an option */
	const struct daemon_opt	*opts;	/* ended by a NULL name; may be NULL */
	void			*ctx;	/* handed to every set */
};

/*
 * Parse argv: -c FILE, -v, -h/--help, --notify-fd N, --allow-core, --stdio
 * where spec->stdio, and spec->opts. --help prints the usage on stdout and
 * exits 0; anything else wrong prints it on stderr and exits 100. Then sets
 * umask 077 and applies the core dump policy (daemon_no_core) before the
 * caller reads any secret.
 */
void	daemon_parse_args(const struct daemon_spec *, int argc, char **argv,
	    struct daemon_args *);

/*
 * Core dumps and ptrace-style reads of memory carry the Nostr key and the
 * wallet secrets: RLIMIT_CORE 0 (soft and hard) and PR_SET_DUMPABLE 0,
 * unless allow (--allow-core, for debugging) says to keep them. 0 or -1.
 */
int	daemon_no_core(int allow);

/* -v wins; else the config's level; else info. Also for SIGHUP. */
void	daemon_set_log_level(int verbose, const char *conf_level);

/*
 * state_dir and state_dir/run, each created if missing with DAEMON_DIR_MODE;
 * an existing one is left as it is (the launcher may have made it 1770 for
 * privsep) but must be a directory. Exits 111 (fatal) on any failure.
 */
void	daemon_make_dirs(const char *state_dir);

/*
 * 0710: the owner (the stage) has the directory; its group may only pass
 * through to the 0660 sockets in run/ (jobd, in each spoke's group, connects
 * to them; dvmctl reaches control.sock) and can neither list nor replace
 * anything. When stages run as separate users, scripts/dvm creates both
 * directories first (state_dir 1771, run/ root:sellcompute 1770 sticky so
 * every stage can bind its socket and none can remove another's) and the
 * daemons never change them.
 */
#define DAEMON_DIR_MODE	0710

#endif
