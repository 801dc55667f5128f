/*
 * monitor.h — one host's monitor: measure, judge by the rules, hold the
 * state steady (DESIGN §4).  The seam between the measuring side and the
 * network side: agent_net.c creates a monitor, calls monitor_measure()
 * every monitor_next_interval() seconds, and reads the accessors to build
 * its update message.
 *
 * Threading: a monitor is used by one thread at a time.
 * Ownership: the monitor owns the rule set it is given (monitor_create,
 * monitor_set_rules) and frees it; everything the accessors return points
 * into the monitor and stays valid until the next monitor_measure,
 * monitor_set_rules or monitor_free.
 * Errors: -1 / NULL with a message in the caller's err buffer.
 */
#ifndef RESCHED_MONITOR_H
#define RESCHED_MONITOR_H

#include <stddef.h>

#include "agent/metrics.h"
#include "rules/rules.h"

/* ---- the stability window (pure; time is passed in) ----------------------
 * The first state measured is reported at once.  After that a different
 * measured state becomes the reported one only once it has been measured
 * continuously for `stability` seconds (0: at once); measuring the
 * reported state again cancels a pending change. */
struct mon_stab {
	int started;
	int reported;     /* RS_FREE..RS_OVERLOADED */
	int candidate;    /* the pending state, == reported when none */
	double since;     /* when the candidate was first measured */
};
void mon_stab_init(struct mon_stab *s);
/* Feed one measured state at time `now`; returns the reported state. */
int mon_stab_step(struct mon_stab *s, int measured, double now,
		  double stability);
/* The monitoring interval for a reported state (settings.interval[state],
 * MONITOR_DEFAULT_INTERVAL when unset or out of range). */
double mon_interval_for(const struct rule_settings *st, int state);
#define MONITOR_DEFAULT_INTERVAL 5.0

/* ---- the monitor ---------------------------------------------------------- */
struct monitor_config {
	const char *name;        /* host name: RESCHED_HOST for scripts */
	const char *cgroup;      /* NULL: the whole machine */
	const char *scripts_dir; /* where rl_script files are found */
	double script_timeout;   /* seconds; <= 0: SCRIPT_TIMEOUT_S */
	const char *proc_root;   /* NULL: "/proc" (tests use fixture trees) */
	int no_disk;             /* 1: skip statvfs of mounts */
};

struct monitor_verdict {
	const char *name;        /* the rule's rl_name (owned by the rule set) */
	int state;               /* RS_FREE..RS_OVERLOADED or RS_ERROR */
	double value;            /* NaN for an error */
};

struct monitor;

/* Create a monitor and take a first baseline sample (so the first
 * monitor_measure has rates over the time since).  Takes ownership of
 * `rules` (may be NULL: no rules, the host is free), even on failure. */
struct monitor *monitor_create(const struct monitor_config *cfg,
			       struct ruleset *rules, double now,
			       char *err, size_t errlen);
void monitor_free(struct monitor *m);
/* Replace the rule set (ownership passes; the old one is freed).  Pending
 * stability state is kept: the new rules' verdicts feed it from the next
 * measurement on. */
void monitor_set_rules(struct monitor *m, struct ruleset *rules);
const struct ruleset *monitor_rules(const struct monitor *m);

/* Measure one interval (now = monotonic seconds): read the metrics, run
 * the scripts, evaluate the rules, step the stability window.  Returns the
 * reported state, or -1 with err when the machine cannot be measured at
 * all (the previous results stay). */
int monitor_measure(struct monitor *m, double now, char *err, size_t errlen);

/* Results of the last monitor_measure. */
const struct metric_set *monitor_metrics(const struct monitor *m); /* sorted */
size_t monitor_verdicts(const struct monitor *m,
			const struct monitor_verdict **out);
int monitor_measured_state(const struct monitor *m); /* before stability */
int monitor_state(const struct monitor *m);          /* reported */
double monitor_next_interval(const struct monitor *m);

#endif
