/*
 * agent_main.c — bin/resched-agent: options (DESIGN §2), then one of the
 * modes: --once (measure one interval, print, exit) or the daemon (talks
 * to the registry; added with agent_net.c, entered through run_daemon).
 */
#include "agent/agent_net.h"
#include "agent/monitor.h"
#include "common/config.h"
#include "common/log.h"
#include "common/paths.h"
#include "common/util.h"
#include "rules/rules.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RUN_DIR_DEFAULT "/run/resched"
#define ONCE_INTERVAL_DEFAULT 1.0

struct agent_opts {
	struct config conf;    /* --config FILE (values point into it) */
	const char *registry;  /* ADDR:PORT, NULL in --once */
	const char *key;       /* shared key file, or NULL */
	char name[256];        /* --name, default the hostname */
	const char *cgroup;    /* NULL: the whole machine */
	double interval;       /* --interval, 0: from the rule set */
	const char *run_dir;
	char scripts[PATH_MAX];
	char rules[PATH_MAX];
	int once;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: resched-agent --registry ADDR:PORT [--key FILE] [--name NAME]\n"
		"                     [--cgroup PATH] [--interval SEC] [--run DIR] [--scripts DIR]\n"
		"                     [--config FILE] [--verbose]\n"
		"       resched-agent --once [--rules DIR] [--cgroup PATH] [--scripts DIR]\n"
		"                     [--name NAME] [--interval SEC] [--config FILE]\n"
		"\n"
		"Monitor this host (or a cgroup of it: --cgroup PATH, relative to the\n"
		"cgroup hierarchy roots), judge it free/busy/overloaded by the rules, and\n"
		"report to the registry.  --once measures one interval (default 1 s) and\n"
		"prints `metrics/NAME VALUE`, `rules/NAME STATE VALUE` and `state STATE`.\n"
		"Defaults: --name the hostname, --run %s, --rules the installed\n"
		"rules (BIN/../share/resched/rules, or the build tree's rules/default)\n"
		"and --scripts their scripts/.  --config FILE reads `key value` lines\n"
		"whose keys are these options' names (registry 10.0.0.1:7227); options\n"
		"given on the command line win.\n",
		RUN_DIR_DEFAULT);
}

static int parse_interval(const char *s, double *out, const char *what)
{
	if (util_parse_double(s, out) < 0 || *out <= 0 || *out > 3600) {
		log_warnx("%s: '%s' is not a number of seconds in (0, 3600]", what, s);
		return -1;
	}
	return 0;
}

static int copy_opt(char *dst, size_t size, const char *what, const char *v)
{
	if ((size_t)snprintf(dst, size, "%s", v) >= size) {
		log_warnx("%s: too long", what);
		return -1;
	}
	return 0;
}

enum { O_REGISTRY = 256, O_KEY, O_NAME, O_CGROUP, O_INTERVAL, O_RUN,
       O_SCRIPTS, O_RULES, O_ONCE, O_HELP, O_VERBOSE, O_CONFIG };

static const struct option long_opts[] = {
	{ "registry", required_argument, NULL, O_REGISTRY },
	{ "key", required_argument, NULL, O_KEY },
	{ "name", required_argument, NULL, O_NAME },
	{ "cgroup", required_argument, NULL, O_CGROUP },
	{ "interval", required_argument, NULL, O_INTERVAL },
	{ "run", required_argument, NULL, O_RUN },
	{ "scripts", required_argument, NULL, O_SCRIPTS },
	{ "rules", required_argument, NULL, O_RULES },
	{ "once", no_argument, NULL, O_ONCE },
	{ "help", no_argument, NULL, O_HELP },
	{ "verbose", no_argument, NULL, O_VERBOSE },
	{ "config", required_argument, NULL, O_CONFIG },
	{ NULL, 0, NULL, 0 },
};

/* --config: every option but these is a key (common/config.h). */
static const char *const conf_skip[] = { "help", "config", "once", NULL };
static const struct config_spec conf_spec = { long_opts, NULL, conf_skip, NULL };

/* One option; 0 ok, -1 bad, 1 --help.  `what` names it in messages:
 * "--name" on the command line, "FILE:LINE: name" from --config. */
static int apply_opt(struct agent_opts *o, int c, const char *arg,
		     const char *what)
{
	switch (c) {
	case O_REGISTRY: o->registry = arg; return 0;
	case O_KEY:      o->key = arg; return 0;
	case O_NAME:     return copy_opt(o->name, sizeof(o->name), what, arg);
	case O_CGROUP:   o->cgroup = arg; return 0;
	case O_INTERVAL: return parse_interval(arg, &o->interval, what);
	case O_RUN:      o->run_dir = arg; return 0;
	case O_SCRIPTS:  return copy_opt(o->scripts, sizeof(o->scripts), what, arg);
	case O_RULES:    return copy_opt(o->rules, sizeof(o->rules), what, arg);
	case O_ONCE:     o->once = 1; return 0;
	case O_VERBOSE:  log_verbose(1); return 0;
	case O_CONFIG:   return 0;          /* read before the other options */
	case O_HELP:     return 1;
	default:         return -1;
	}
}

/* "--NAME" of the option whose value is c. */
static const char *flag_label(int c, char *buf, size_t size)
{
	for (const struct option *lo = long_opts; lo->name; lo++)
		if (lo->val == c) {
			snprintf(buf, size, "--%s", lo->name);
			return buf;
		}
	snprintf(buf, size, "-%c", c);
	return buf;
}

/* --config FILE, applied before the command line's options; 0 or -1. */
static int read_config(struct agent_opts *o, const char *path)
{
	char err[1024], what[PATH_MAX + 64];

	if (config_load(&o->conf, path, &conf_spec, err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		return -1;
	}
	for (size_t i = 0; i < o->conf.n; i++) {
		const struct config_entry *e = &o->conf.e[i];

		if (!e->value && !e->on)
			continue;                  /* `verbose no` */
		config_where(&o->conf, e, what, sizeof(what));
		if (apply_opt(o, e->opt->val, e->value, what) != 0)
			return -1;
	}
	return 0;
}

static void opts_defaults(struct agent_opts *o)
{
	if (!o->name[0] && gethostname(o->name, sizeof(o->name) - 1) < 0)
		snprintf(o->name, sizeof(o->name), "localhost");
	if (!o->scripts[0])
		paths_rules_dir(o->scripts, sizeof(o->scripts), "/scripts");
	if (!o->rules[0])
		paths_rules_dir(o->rules, sizeof(o->rules), "");
	if (!o->run_dir)
		o->run_dir = RUN_DIR_DEFAULT;
}

/* 0 run, 1 exit 0 (--help), 2 usage error. */
static int parse_args(int argc, char **argv, struct agent_opts *o)
{
	const char *conf;
	char what[64];
	int c, r;

	memset(o, 0, sizeof(*o));
	conf = config_find_arg(argc, argv, "h", long_opts, O_CONFIG);
	if (conf && read_config(o, conf) < 0)
		return 2;
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		r = apply_opt(o, c == 'h' ? O_HELP : c, optarg,
			      flag_label(c, what, sizeof(what)));
		if (r == 1) {
			usage(stdout);
			return 1;
		}
		if (r < 0) {
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		log_warnx("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (!o->once && !o->registry) {
		log_warnx("--registry ADDR:PORT is required (or --once)");
		return 2;
	}
	opts_defaults(o);
	return 0;
}

/* ---- --once -------------------------------------------------------------- */

static struct ruleset *load_rules(const char *dir)
{
	struct rule_errs errs = { 0, NULL, 0 };
	struct ruleset *rs = ruleset_load_dir(dir, &errs);

	if (!rs) {
		log_warnx("rules in %s are not valid:", dir);
		fputs(errs.text ? errs.text : "(no details)\n", stderr);
	}
	rule_errs_clear(&errs);
	return rs;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - floor(s)) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void print_results(const struct monitor *m)
{
	const struct metric_set *ms = monitor_metrics(m);
	const struct monitor_verdict *v;
	size_t nv = monitor_verdicts(m, &v);
	char num[64];

	for (size_t i = 0; i < ms->n; i++)
		printf("metrics/%s %s\n", ms->m[i].name,
		       util_fmt_num(num, sizeof(num), ms->m[i].value));
	for (size_t i = 0; i < nv; i++)
		printf("rules/%s %s %s\n", v[i].name, rs_state_name(v[i].state),
		       util_fmt_num(num, sizeof(num), v[i].value));
	printf("state %s\n", rs_state_name(monitor_state(m)));
}

static int run_once(const struct agent_opts *o)
{
	struct monitor_config cfg = { .name = o->name, .cgroup = o->cgroup,
				      .scripts_dir = o->scripts };
	struct ruleset *rs = load_rules(o->rules);
	struct monitor *m;
	char err[512];

	if (!rs)
		return 1;
	m = monitor_create(&cfg, rs, util_now_s(), err, sizeof(err));
	if (!m) {
		log_warnx("%s", err);
		return 1;
	}
	sleep_s(o->interval > 0 ? o->interval : ONCE_INTERVAL_DEFAULT);
	if (monitor_measure(m, util_now_s(), err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		monitor_free(m);
		return 1;
	}
	print_results(m);
	monitor_free(m);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- the daemon ---------------------------------------------------------- */

/* The registry client (agent_net.c): runs until SIGTERM/SIGINT. */
static int run_daemon(const struct agent_opts *o)
{
	struct agent_net_config nc = {
		.registry = o->registry, .key_file = o->key, .name = o->name,
		.cgroup = o->cgroup, .scripts_dir = o->scripts,
		.run_dir = o->run_dir, .interval = o->interval,
	};
	char err[512];

	int rc = agent_net_run(&nc, err, sizeof(err));

	if (rc < 0) {
		log_warnx("%s", err);
		/* sent away by the registry (refused, replaced): a matter of
		 * configuration, like a usage error; systemd does not restart
		 * on 2 (RestartPreventExitStatus) */
		return rc == -2 ? 2 : 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct agent_opts o;
	int r;

	log_init("resched-agent");
	r = parse_args(argc, argv, &o);
	if (r != 0) {
		config_free(&o.conf);
		return r == 1 ? 0 : 2;
	}
	r = o.once ? run_once(&o) : run_daemon(&o);
	config_free(&o.conf);
	return r;
}
