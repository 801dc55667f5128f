/*
 * monitor_bench — the agent's own cost.
 *
 *   monitor_interval_us  CPU time (CLOCK_PROCESS_CPUTIME_ID) of one
 *                        monitor_measure with the default built-in rules
 *                        (rules/default/builtin.rule), 60 intervals run
 *                        back-to-back rather than 1 s apart.  Target 500.
 *   script_run_us        one script rule (fork+exec of a one-line sh
 *                        script): wall time, and CPU time of the agent plus
 *                        the child.
 *   ruleset_eval_us      ruleset_eval on the default built-in set with the
 *                        measured values, 1e6 calls.  Target 2.
 *
 * usage: monitor_bench [RULES_DIR]   (default rules/default, run from the
 * repository root)
 */
#include "agent/monitor.h"
#include "agent/script.h"
#include "common/log.h"
#include "common/util.h"
#include "rules/rules.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define INTERVALS 60
#define SCRIPT_RUNS 30
#define EVAL_CALLS 1000000

static double cpu_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double children_cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_CHILDREN, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* mean and p99 of v[n] (sorts v). */
static void stats(double *v, size_t n, double *mean, double *p99)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += v[i];
	qsort(v, n, sizeof(v[0]), cmp_double);
	*mean = sum / (double)n;
	*p99 = v[(size_t)ceil(0.99 * (double)n) - 1];
}

static struct ruleset *load_builtin(const char *dir)
{
	char path[4096];
	const char *files[1] = { path }, *texts[1];
	struct rule_errs errs = { 0, NULL, 0 };
	struct ruleset *rs;
	size_t len;
	char *t;

	snprintf(path, sizeof(path), "%s/builtin.rule", dir);
	t = util_read_file(path, RULE_FILE_MAX, &len);
	if (!t)
		fatal("%s", path);
	texts[0] = t;
	rs = ruleset_parse(files, texts, &len, 1, &errs);
	if (!rs)
		fatalx("%s: invalid:\n%s", path, errs.text ? errs.text : "");
	free(t);
	rule_errs_clear(&errs);
	return rs;
}

static struct monitor *bench_intervals(struct ruleset *rs)
{
	struct monitor_config cfg = { .name = "bench", .scripts_dir = "/nonexistent" };
	double v[INTERVALS], mean, p99, t;
	struct monitor *m;
	char err[256];

	m = monitor_create(&cfg, rs, util_now_s(), err, sizeof(err));
	if (!m)
		fatalx("monitor_create: %s", err);
	for (int i = 0; i < INTERVALS; i++) {
		t = cpu_now_us();
		if (monitor_measure(m, util_now_s(), err, sizeof(err)) < 0)
			fatalx("monitor_measure: %s", err);
		v[i] = cpu_now_us() - t;
	}
	stats(v, INTERVALS, &mean, &p99);
	printf("monitor_interval_us mean=%.1f p99=%.1f n=%d rules=%zu "
	       "metrics=%zu target=500 (CPU time, back-to-back)\n",
	       mean, p99, INTERVALS, monitor_rules(m)->n, monitor_metrics(m)->n);
	return m;
}

static void bench_scripts(void)
{
	char dir[128], path[200];
	struct script_job job = { .name = "one.sh" };
	struct script_env env = { .host = "bench", .timeout_s = 5 };
	double wall[SCRIPT_RUNS], cpu[SCRIPT_RUNS], mean, p99, cmean, cp99;

	snprintf(dir, sizeof(dir), "/tmp/resched-bench-%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/one.sh", dir);
	if (mkdir(dir, 0700) < 0 ||
	    util_write_atomic(path, "#!/bin/sh\necho 1\n", 17, 0755) < 0)
		fatal("%s", path);
	env.dir = dir;
	for (int i = 0; i < SCRIPT_RUNS; i++) {
		double t = util_now_s(), c = cpu_now_us() + children_cpu_us();

		if (script_run_all(&job, 1, &env) != 0)
			fatalx("script: %s", job.err);
		wall[i] = (util_now_s() - t) * 1e6;
		cpu[i] = cpu_now_us() + children_cpu_us() - c;
	}
	unlink(path);
	rmdir(dir);
	stats(wall, SCRIPT_RUNS, &mean, &p99);
	stats(cpu, SCRIPT_RUNS, &cmean, &cp99);
	printf("script_run_us mean=%.1f p99=%.1f cpu_mean=%.1f cpu_p99=%.1f n=%d "
	       "(fork+exec of a one-line sh script)\n",
	       mean, p99, cmean, cp99, SCRIPT_RUNS);
}

static void bench_eval(const struct monitor *m)
{
	const struct ruleset *rs = monitor_rules(m);
	double *values = calloc(rs->n, sizeof(*values)), t, sink = 0;
	struct rule_verdict *out = calloc(rs->n, sizeof(*out));

	if (!values || !out)
		fatalx("out of memory");
	for (size_t i = 0; i < rs->n; i++)
		if (!rs->rules[i].metric ||
		    metric_set_get(monitor_metrics(m), rs->rules[i].metric, &values[i]) < 0)
			values[i] = NAN;
	t = cpu_now_us();
	for (int i = 0; i < EVAL_CALLS; i++)
		sink += ruleset_eval(rs, values, out, NULL);
	t = cpu_now_us() - t;
	printf("ruleset_eval_us mean=%.4f n=%d rules=%zu target=2 (state sum %g)\n",
	       t / EVAL_CALLS, EVAL_CALLS, rs->n, sink);
	free(values);
	free(out);
}

int main(int argc, char **argv)
{
	struct monitor *m;

	log_init("monitor_bench");
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: monitor_bench [RULES_DIR]\n");
		return 0;
	}
	m = bench_intervals(load_builtin(argc > 1 ? argv[1] : "rules/default"));
	bench_scripts();
	bench_eval(m);
	monitor_free(m);
	return 0;
}
