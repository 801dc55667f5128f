/*
 * fs_main.c — bin/reschedfs MOUNT [-f] [--listen ADDR:PORT] [--state DIR]
 *             [--key FILE] [--parent ADDR:PORT] [--config FILE] [-o FUSE options]
 *
 * Mounts the registry tree, runs the FUSE loop multi-threaded, and wires
 * the model to its helpers: events ring, notifier, lease timer, and (when
 * linked) the agent listener and the scheduler.  SIGTERM/SIGINT or
 * `fusermount3 -u` end it with the mount removed.
 */
#include "fs/fs_tree.h"

#include <fuse_lowlevel.h>
#include <fcntl.h>
#include <poll.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/paths.h"
#include "common/util.h"
#include "fs/fs_events.h"
#include "fs/fs_ll.h"
#include "fs/fs_notify.h"
#include "fs/registry.h"

#pragma weak fs_net_start
#pragma weak fs_net_stop
#pragma weak fs_sched_start
#pragma weak fs_sched_stop

#define MAX_FUSE_OPTS 16

struct opts {
	struct config conf;             /* --config FILE (values point into it) */
	struct fs_config cfg;
	const char *fuse_opts[MAX_FUSE_OPTS];
	int nfuse;
};

struct daemon {
	struct opts o;
	char rules_dir[PATH_MAX];
	struct registry *reg;
	struct fs_events *events;
	struct fs_notify *notify;
	struct fs_tree *tree;
	struct fs_ll *fuse;             /* the session and its node table */
	pthread_t watcher;
	int watching;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: reschedfs MOUNT [-f] [--listen ADDR:PORT] [--state DIR] [--key FILE]\n"
"                 [--shared-key] [--parent ADDR:PORT] [--config FILE]\n"
"                 [-o FUSE_OPTIONS]\n"
"  -f               stay in the foreground (log to stderr only)\n"
"  --listen A:P     agent listener address (default %s)\n"
"  --state DIR      keep rules, policy, sched settings, job ids and\n"
"                   history in DIR across restarts\n"
"  --key FILE       the cluster key (resched-key new): each agent proves\n"
"                   its own host's key, derived from it; without --key\n"
"                   only root of this machine may connect\n"
"  --shared-key     also accept the cluster key itself, for any host name\n"
"                   (weaker: small set-ups and tests; docs/TRUST.md)\n"
"  --parent A:P     parent registry (accepted; hierarchy not implemented)\n"
"  --config FILE    read `key value` lines first: the long options' names,\n"
"                   and mount DIR, foreground yes|no, option OPTS (repeats);\n"
"                   the command line wins\n"
"  -o OPTS          FUSE mount options, e.g. -o allow_other\n",
		FS_DEFAULT_LISTEN);
}

enum { O_CONFIG = 256, O_MOUNT };

static const struct option long_opts[] = {
	{ "listen", required_argument, NULL, 'l' },
	{ "state", required_argument, NULL, 's' },
	{ "key", required_argument, NULL, 'k' },
	{ "shared-key", no_argument, NULL, 'K' },
	{ "parent", required_argument, NULL, 'p' },
	{ "help", no_argument, NULL, 'h' },
	{ "config", required_argument, NULL, O_CONFIG },
	{ NULL, 0, NULL, 0 },
};
#define SHORT_OPTS "fo:h"

/* --config: the long options (but help and config) are keys, and these,
 * which the command line gives as -f, -o and the MOUNT argument. */
static const struct option conf_extra[] = {
	{ "mount", required_argument, NULL, O_MOUNT },
	{ "foreground", no_argument, NULL, 'f' },
	{ "option", required_argument, NULL, 'o' },
	{ NULL, 0, NULL, 0 },
};
static const char *const conf_skip[] = { "help", "config", NULL };
static const char *const conf_repeat[] = { "option", NULL };
static const struct config_spec conf_spec = { long_opts, conf_extra,
					      conf_skip, conf_repeat };

/* One option; 0 ok, -1 bad, 1 --help.  `what` names it in messages. */
static int apply_opt(struct opts *o, int c, const char *arg, const char *what)
{
	switch (c) {
	case 'f': o->cfg.foreground = 1; return 0;
	case 'l': o->cfg.listen = arg; return 0;
	case 's': o->cfg.state_dir = arg; return 0;
	case 'k': o->cfg.key_file = arg; return 0;
	case 'K': o->cfg.shared_key = 1; return 0;
	case 'p': o->cfg.parent = arg; return 0;
	case O_MOUNT: o->cfg.mount = arg; return 0;
	case O_CONFIG: return 0;            /* read before the other options */
	case 'o':
		if (o->nfuse == MAX_FUSE_OPTS) {
			log_warnx("%s: more than %d FUSE option groups", what,
				  MAX_FUSE_OPTS);
			return -1;
		}
		o->fuse_opts[o->nfuse++] = arg;
		return 0;
	case 'h': return 1;
	default: return -1;
	}
}

/* --config FILE, applied before the command line; exits on an error. */
static void read_config(struct opts *o, const char *path)
{
	char err[1024], what[PATH_MAX + 64];

	if (config_load(&o->conf, path, &conf_spec, err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		exit(2);                           /* a usage error, as a flag's */
	}
	for (size_t i = 0; i < o->conf.n; i++) {
		const struct config_entry *e = &o->conf.e[i];

		if (!e->value && !e->on)
			continue;                  /* `foreground no` */
		config_where(&o->conf, e, what, sizeof(what));
		if (apply_opt(o, e->opt->val, e->value, what) != 0)
			exit(2);
	}
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	const char *conf;
	int c, r;

	o->cfg.listen = FS_DEFAULT_LISTEN;
	conf = config_find_arg(argc, argv, SHORT_OPTS, long_opts, O_CONFIG);
	if (conf)
		read_config(o, conf);
	while ((c = getopt_long(argc, argv, SHORT_OPTS, long_opts, NULL)) != -1) {
		r = apply_opt(o, c, optarg, c == 'o' ? "-o" : "option");
		if (r == 1) {
			usage(stdout);
			exit(0);
		}
		if (r < 0) {
			usage(stderr);
			exit(2);
		}
	}
	if (optind == argc - 1)
		o->cfg.mount = argv[optind];
	else if (optind < argc || !o->cfg.mount) {
		usage(stderr);
		exit(2);
	}
	return 0;
}

/* ---- the mount point ----------------------------------------------------- */

static int run_fusermount_lazy(const char *mount)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-uz", mount, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Is `path` (absolute, resolved) a mount point in /proc/self/mountinfo? */
static int is_mounted(const char *path)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], mp[PATH_MAX];
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 &&
		    strcmp(mp, path) == 0)
			found = 1;
	fclose(f);
	return found;
}

/* Clean a stale mount left by a crash; refuse a live one. */
static void check_mountpoint(const char *mount)
{
	char real[PATH_MAX];
	struct stat st;

	if (stat(mount, &st) < 0 && errno == ENOTCONN) {
		log_info("cleaning up the stale mount on %s", mount);
		if (run_fusermount_lazy(mount) < 0)
			fatalx("%s: stale mount that fusermount3 -uz cannot remove",
			       mount);
	}
	if (stat(mount, &st) < 0)
		fatal("%s", mount);
	if (!S_ISDIR(st.st_mode))
		fatalx("%s: not a directory", mount);
	if (realpath(mount, real) && is_mounted(real))
		fatalx("%s: already mounted (is another reschedfs running?)",
		       mount);
}

/* ---- set-up and tear-down ------------------------------------------------ */

static struct fs_ll *mount_fuse(struct daemon *d, const char *prog)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fs_ll *f;

	fuse_opt_add_arg(&args, prog);
	fuse_opt_add_arg(&args, "-o");
	fuse_opt_add_arg(&args, "fsname=reschedfs,"
			 "subtype=reschedfs");
	for (int i = 0; i < d->o.nfuse; i++) {
		fuse_opt_add_arg(&args, "-o");
		fuse_opt_add_arg(&args, d->o.fuse_opts[i]);
	}
	f = fs_ll_new(&args, fs_tree_ops(), fs_tree_timeouts, d->tree);
	fuse_opt_free_args(&args);
	if (!f)
		return NULL;
	if (fuse_session_mount(fs_ll_session(f), d->o.cfg.mount) != 0) {
		fs_ll_destroy(f);
		return NULL;
	}
	return f;
}

/* Ends blocked readers as soon as the session is told to exit, so the
 * FUSE loop can join its workers. */
static void *watch_main(void *arg)
{
	struct daemon *d = arg;
	struct fuse_session *se = fs_ll_session(d->fuse);
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	while (!fuse_session_exited(se))
		nanosleep(&ts, NULL);
	fs_tree_shutdown(d->tree);
	return NULL;
}

static int make_model(struct daemon *d)
{
	struct reg_config rc = { d->o.cfg.state_dir, d->rules_dir };
	char err[REG_ERR_LEN] = "";

	d->events = fs_events_new(FS_EVENTS_CAP);
	d->notify = fs_notify_new(d->o.cfg.mount);
	if (!d->events || !d->notify) {
		log_warnx("out of memory");
		return -1;
	}
	d->reg = reg_new(&rc, err);
	if (!d->reg) {
		log_warnx("%s", err);
		return -1;
	}
	reg_set_event_hook(d->reg, fs_events_push, d->events);
	reg_set_change_hook(d->reg, fs_notify_change, d->notify);
	d->tree = fs_tree_new(d->reg, d->events, d->notify);
	if (!d->tree)
		return -1;
	fs_events_set_notify(d->events, fs_tree_events_ready, d->tree);
	return 0;
}

static void free_model(struct daemon *d)
{
	if (d->reg)
		reg_set_change_hook(d->reg, NULL, NULL);
	fs_notify_free(d->notify);
	fs_tree_free(d->tree);
	reg_free(d->reg);
	fs_events_free(d->events);
}

/* Helper threads start with the stop signals blocked, so that a signal
 * reaches a FUSE thread and ends the loop. */
static int start_helpers(struct daemon *d)
{
	char err[REG_ERR_LEN] = "";
	sigset_t set, old;
	int rc = -1;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	if (reg_start(d->reg) < 0 || fs_notify_start(d->notify) < 0)
		goto out;
	if (pthread_create(&d->watcher, NULL, watch_main, d) != 0)
		goto out;
	d->watching = 1;
	if (fs_net_start && fs_net_start(d->reg, &d->o.cfg, err) < 0) {
		log_warnx("listener: %s", err);
		goto out;
	}
	if (fs_sched_start && fs_sched_start(d->reg, &d->o.cfg, err) < 0) {
		log_warnx("scheduler: %s", err);
		goto out;
	}
	rc = 0;
out:
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* The notifier may be inside a request to our own mount (a mkdir or a
 * touch) that nobody will answer once the FUSE loop has ended — a worker
 * that sees the session exiting drops the request it has just read.
 * Answer what still arrives for a moment; if the notifier is still stuck,
 * abort the connection by closing our /dev/fuse file (dup2 of /dev/null
 * over it: libfuse closes the descriptor later), which fails its request
 * with ENOTCONN, as an unmount would. */
static void drain_notifier(struct daemon *d)
{
	struct fuse_session *se = fs_ll_session(d->fuse);
	struct fuse_buf fbuf = { .mem = NULL };
	double end = util_now_s() + 1;

	fs_notify_request_stop(d->notify);
	fuse_session_reset(se);
	while (fs_notify_busy(d->notify) && util_now_s() < end) {
		struct pollfd p = { .fd = fuse_session_fd(se), .events = POLLIN };
		int r;

		if (poll(&p, 1, 100) <= 0)
			continue;
		r = fuse_session_receive_buf(se, &fbuf);
		if (r > 0)
			fuse_session_process_buf(se, &fbuf);
		else if (r != -EINTR && r != -EAGAIN)
			break;             /* unmounted: its request has failed */
	}
	free(fbuf.mem);
	if (fs_notify_busy(d->notify)) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		log_info("aborting the FUSE connection to end a pending request");
		if (null >= 0) {
			dup3(null, fuse_session_fd(se), O_CLOEXEC);
			close(null);
		}
	}
}

static void stop_helpers(struct daemon *d)
{
	fuse_session_exit(fs_ll_session(d->fuse));
	drain_notifier(d);
	fuse_session_exit(fs_ll_session(d->fuse));
	if (fs_sched_stop)
		fs_sched_stop();
	if (fs_net_stop)
		fs_net_stop();
	fs_tree_shutdown(d->tree);
	if (d->watching)
		pthread_join(d->watcher, NULL);
	fs_notify_stop(d->notify);
	reg_stop(d->reg);
}

static int run_loop(struct daemon *d)
{
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	int rc;

	if (!lc)
		return -1;
	fuse_loop_cfg_set_max_threads(lc, 256);
	fuse_loop_cfg_set_idle_threads(lc, 8);
	rc = fuse_session_loop_mt(fs_ll_session(d->fuse), lc);
	fuse_loop_cfg_destroy(lc);
	return rc;
}

int main(int argc, char **argv)
{
	struct daemon d;
	struct fuse_session *se;
	int rc = 1;

	memset(&d, 0, sizeof(d));
	log_init("reschedfs");
	parse_args(argc, argv, &d.o);
	check_mountpoint(d.o.cfg.mount);
	paths_rules_dir(d.rules_dir, sizeof(d.rules_dir), "");
	if (make_model(&d) < 0)
		goto out_model;
	d.fuse = mount_fuse(&d, argv[0]);
	if (!d.fuse) {
		log_warnx("%s: cannot mount", d.o.cfg.mount);
		goto out_model;
	}
	se = fs_ll_session(d.fuse);
	if (fuse_set_signal_handlers(se) != 0)
		goto out_mount;
	if (!d.o.cfg.foreground)
		log_to_syslog(1);
	if (fuse_daemonize(d.o.cfg.foreground) != 0)
		goto out_signals;
	if (start_helpers(&d) < 0)
		goto out_helpers;
	if (d.o.cfg.parent)
		log_warnx("--parent %s: a hierarchy of registries is not "
			  "implemented; running as a standalone registry",
			  d.o.cfg.parent);
	log_info("mounted on %s, listening on %s%s%s", d.o.cfg.mount,
		 d.o.cfg.listen, d.o.cfg.state_dir ? ", state in " : "",
		 d.o.cfg.state_dir ? d.o.cfg.state_dir : "");
	if (run_loop(&d) < 0)
		log_warnx("FUSE loop ended with an error");
	rc = 0;
	log_info("unmounting %s", d.o.cfg.mount);
out_helpers:
	stop_helpers(&d);
out_signals:
	fuse_remove_signal_handlers(se);
out_mount:
	fuse_session_unmount(fs_ll_session(d.fuse));
	fs_ll_destroy(d.fuse);
out_model:
	free_model(&d);
	config_free(&d.o.conf);
	return rc;
}
