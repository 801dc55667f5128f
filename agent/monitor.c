/* monitor.c — measure, judge, hold steady; see monitor.h. */
#include "agent/monitor.h"
#include "agent/script.h"
#include "common/log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct monitor {
	char *name, *cgroup, *scripts_dir, *proc_root;
	double script_timeout;
	struct mp_sampler mp;
	struct cg_sampler cg;
	int scoped;                      /* cg is in use */
	struct ruleset *rules;           /* owned; NULL: no rules */
	size_t nrules;
	double *values;                  /* [nrules] input to ruleset_eval */
	struct rule_verdict *rv;         /* [nrules] */
	struct monitor_verdict *verdicts;/* [nrules] */
	int *was_error;                  /* [nrules] logged already */
	struct script_job *jobs;         /* [nrules] scripts of one interval */
	size_t *job_rule;                /* [nrules] rule index of jobs[k] */
	struct metric_set metrics;       /* last results, sorted */
	struct metric_set scratch;       /* being measured */
	int measured;
	struct mon_stab stab;
};

/* ---- stability window ---------------------------------------------------- */

void mon_stab_init(struct mon_stab *s)
{
	memset(s, 0, sizeof(*s));
}

int mon_stab_step(struct mon_stab *s, int measured, double now,
		  double stability)
{
	if (!s->started) {
		s->started = 1;
		s->reported = s->candidate = measured;
		s->since = now;
		return s->reported;
	}
	if (measured == s->reported) {
		s->candidate = measured;    /* a pending change is cancelled */
		return s->reported;
	}
	if (measured != s->candidate) {
		s->candidate = measured;
		s->since = now;
	}
	if (now - s->since >= stability)
		s->reported = s->candidate;
	return s->reported;
}

double mon_interval_for(const struct rule_settings *st, int state)
{
	double v;

	if (!st || state < RS_FREE || state > RS_OVERLOADED)
		return MONITOR_DEFAULT_INTERVAL;
	v = st->interval[state];
	return v > 0 && isfinite(v) ? v : MONITOR_DEFAULT_INTERVAL;
}

/* ---- life cycle ---------------------------------------------------------- */

static void rules_arrays_free(struct monitor *m)
{
	free(m->values);
	free(m->rv);
	free(m->verdicts);
	free(m->was_error);
	free(m->jobs);
	free(m->job_rule);
	m->values = NULL;
	m->rv = NULL;
	m->verdicts = NULL;
	m->was_error = NULL;
	m->jobs = NULL;
	m->job_rule = NULL;
	m->nrules = 0;
}

/* Size the per-rule arrays for `rules`; -1 when out of memory. */
static int rules_arrays_alloc(struct monitor *m, const struct ruleset *rules)
{
	size_t n = rules ? rules->n : 0, c = n ? n : 1;

	m->values = calloc(c, sizeof(*m->values));
	m->rv = calloc(c, sizeof(*m->rv));
	m->verdicts = calloc(c, sizeof(*m->verdicts));
	m->was_error = calloc(c, sizeof(*m->was_error));
	m->jobs = calloc(c, sizeof(*m->jobs));
	m->job_rule = calloc(c, sizeof(*m->job_rule));
	if (!m->values || !m->rv || !m->verdicts || !m->was_error || !m->jobs ||
	    !m->job_rule) {
		rules_arrays_free(m);
		return -1;
	}
	m->nrules = n;
	return 0;
}

void monitor_set_rules(struct monitor *m, struct ruleset *rules)
{
	rules_arrays_free(m);
	ruleset_free(m->rules);
	m->rules = NULL;
	if (rules_arrays_alloc(m, rules) < 0) {
		log_warnx("monitor: out of memory for %zu rules; running without rules",
			  rules ? rules->n : 0);
		ruleset_free(rules);
		rules_arrays_alloc(m, NULL);
		return;
	}
	m->rules = rules;
}

const struct ruleset *monitor_rules(const struct monitor *m)
{
	return m->rules;
}

static int monitor_copy_cfg(struct monitor *m, const struct monitor_config *cfg)
{
	m->name = strdup(cfg->name ? cfg->name : "");
	m->cgroup = cfg->cgroup ? strdup(cfg->cgroup) : NULL;
	m->scripts_dir = strdup(cfg->scripts_dir ? cfg->scripts_dir : ".");
	m->proc_root = strdup(cfg->proc_root ? cfg->proc_root : "/proc");
	m->script_timeout = cfg->script_timeout;
	return m->name && m->scripts_dir && m->proc_root &&
	       (m->cgroup || !cfg->cgroup) ? 0 : -1;
}

struct monitor *monitor_create(const struct monitor_config *cfg,
			       struct ruleset *rules, double now,
			       char *err, size_t errlen)
{
	struct monitor *m = calloc(1, sizeof(*m));

	if (!m || monitor_copy_cfg(m, cfg) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	metrics_proc_init(&m->mp, m->proc_root);
	m->mp.with_disk = !cfg->no_disk;
	if (m->cgroup && metrics_cgroup_init(&m->cg, m->cgroup, err, errlen) < 0)
		goto fail;
	m->scoped = m->cgroup != NULL;
	mon_stab_init(&m->stab);
	monitor_set_rules(m, rules);
	rules = NULL;
	/* the baseline for rates */
	metric_set_clear(&m->scratch);
	if (metrics_proc_sample(&m->mp, now, &m->scratch, err, errlen) < 0 ||
	    (m->scoped &&
	     metrics_cgroup_sample(&m->cg, now, &m->scratch, err, errlen) < 0))
		goto fail;
	return m;
fail:
	ruleset_free(rules);
	monitor_free(m);
	return NULL;
}

void monitor_free(struct monitor *m)
{
	if (!m)
		return;
	rules_arrays_free(m);
	ruleset_free(m->rules);
	free(m->name);
	free(m->cgroup);
	free(m->scripts_dir);
	free(m->proc_root);
	free(m);
}

/* ---- one interval -------------------------------------------------------- */

/* Fill values[] for metric rules and queue script rules in jobs[]. */
static size_t gather_values(struct monitor *m)
{
	size_t nj = 0;

	for (size_t i = 0; i < m->nrules; i++) {
		const struct rule *r = &m->rules->rules[i];

		m->values[i] = NAN;
		if (r->type != RULE_SIMPLE)
			continue;
		if (r->metric) {
			if (metric_set_get(&m->metrics, r->metric, &m->values[i]) < 0)
				m->values[i] = NAN;
		} else if (r->script) {
			m->jobs[nj] = (struct script_job){ .name = r->script,
							   .params = r->params,
							   .nparams = r->nparams };
			m->job_rule[nj++] = i;
		}
	}
	return nj;
}

static void run_scripts(struct monitor *m, size_t nj)
{
	struct script_env env = { .dir = m->scripts_dir, .host = m->name,
				  .cgroup = m->cgroup,
				  .timeout_s = m->script_timeout };

	if (nj == 0)
		return;
	script_run_all(m->jobs, nj, &env);
	for (size_t k = 0; k < nj; k++)
		m->values[m->job_rule[k]] = m->jobs[k].value;
}

/* Why rule i has no value, for the log. */
static const char *error_reason(const struct monitor *m, size_t i, size_t nj,
				char *buf, size_t size)
{
	const struct rule *r = &m->rules->rules[i];

	for (size_t k = 0; k < nj; k++)
		if (m->job_rule[k] == i)
			return m->jobs[k].err;
	if (r->metric)
		snprintf(buf, size, "metric %s is not measured on this host",
			 r->metric);
	else
		snprintf(buf, size, "a rule it uses has no value");
	return buf;
}

static void record_verdicts(struct monitor *m, size_t nj)
{
	char buf[160];

	for (size_t i = 0; i < m->nrules; i++) {
		const struct rule *r = &m->rules->rules[i];
		int err = m->rv[i].state == RS_ERROR;

		m->verdicts[i] = (struct monitor_verdict){
			.name = r->name, .state = m->rv[i].state,
			.value = err ? NAN : m->rv[i].value };
		if (err && !m->was_error[i])
			log_warnx("rule %s: error: %s", r->name,
				  error_reason(m, i, nj, buf, sizeof(buf)));
		m->was_error[i] = err;
	}
}

static int sample_all(struct monitor *m, double now, char *err, size_t errlen)
{
	metric_set_clear(&m->scratch);
	if (metrics_proc_sample(&m->mp, now, &m->scratch, err, errlen) < 0)
		return -1;
	if (m->scoped &&
	    metrics_cgroup_sample(&m->cg, now, &m->scratch, err, errlen) < 0)
		return -1;
	metric_set_sort(&m->scratch);
	m->metrics = m->scratch;
	return 0;
}

int monitor_measure(struct monitor *m, double now, char *err, size_t errlen)
{
	size_t nj;

	if (sample_all(m, now, err, errlen) < 0)
		return -1;
	nj = gather_values(m);
	run_scripts(m, nj);
	m->measured = m->rules ? ruleset_eval(m->rules, m->values, m->rv, NULL)
			       : RS_FREE;
	if (m->rules)
		record_verdicts(m, nj);
	return mon_stab_step(&m->stab, m->measured, now,
			     m->rules ? m->rules->settings.stability : 0.0);
}

/* ---- accessors ----------------------------------------------------------- */

const struct metric_set *monitor_metrics(const struct monitor *m)
{
	return &m->metrics;
}

size_t monitor_verdicts(const struct monitor *m,
			const struct monitor_verdict **out)
{
	*out = m->verdicts;
	return m->rules ? m->nrules : 0;
}

int monitor_measured_state(const struct monitor *m)
{
	return m->measured;
}

int monitor_state(const struct monitor *m)
{
	return m->stab.started ? m->stab.reported : RS_FREE;
}

double monitor_next_interval(const struct monitor *m)
{
	return mon_interval_for(m->rules ? &m->rules->settings : NULL,
				monitor_state(m));
}
