/* The stability window (fake clock), per-state intervals, and a whole
 * monitor over the fixture /proc with real rules and a real script. */
#include "agent/monitor.h"
#include "common/util.h"
#include "test/unit/unit.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Invariant checked after every step: reported is a real state, and a
 * pending candidate differs from it only since a time not in the future. */
static int stab_ok(const struct mon_stab *s, double now)
{
	return s->started && s->reported >= RS_FREE &&
	       s->reported <= RS_OVERLOADED && s->since <= now;
}

#define STEP(s, st, t, stab, want)                                    \
	do {                                                          \
		CHECK_INT_EQ(mon_stab_step(s, st, t, stab), want);    \
		CHECK(stab_ok(s, t));                                 \
	} while (0)

TEST(monitor_stability_window_fake_clock)
{
	struct mon_stab s;

	mon_stab_init(&s);
	STEP(&s, RS_FREE, 0, 10, RS_FREE);           /* first: at once */
	STEP(&s, RS_BUSY, 1, 10, RS_FREE);           /* pending since 1 */
	STEP(&s, RS_BUSY, 10.9, 10, RS_FREE);
	STEP(&s, RS_BUSY, 11, 10, RS_BUSY);          /* held 10 s */
	STEP(&s, RS_OVERLOADED, 12, 10, RS_BUSY);
	STEP(&s, RS_BUSY, 13, 10, RS_BUSY);          /* cancels the change */
	STEP(&s, RS_OVERLOADED, 14, 10, RS_BUSY);    /* starts again at 14 */
	STEP(&s, RS_OVERLOADED, 23, 10, RS_BUSY);
	STEP(&s, RS_FREE, 23.5, 10, RS_BUSY);        /* a new candidate */
	STEP(&s, RS_FREE, 33, 10, RS_BUSY);
	STEP(&s, RS_FREE, 33.5, 10, RS_FREE);
	STEP(&s, RS_OVERLOADED, 34, 0, RS_OVERLOADED); /* window 0: at once */
}

TEST(monitor_interval_per_state)
{
	struct rule_settings st = { { 5, 3, 1.5 }, 0 };

	CHECK_NEAR(mon_interval_for(&st, RS_FREE), 5, 0);
	CHECK_NEAR(mon_interval_for(&st, RS_BUSY), 3, 0);
	CHECK_NEAR(mon_interval_for(&st, RS_OVERLOADED), 1.5, 0);
	CHECK_NEAR(mon_interval_for(&st, RS_ERROR), MONITOR_DEFAULT_INTERVAL, 0);
	CHECK_NEAR(mon_interval_for(NULL, RS_FREE), MONITOR_DEFAULT_INTERVAL, 0);
	st.interval[1] = 0;
	CHECK_NEAR(mon_interval_for(&st, RS_BUSY), MONITOR_DEFAULT_INTERVAL, 0);
}

static const char rules_text[] =
	"set_interval_free: 5\n"
	"set_interval_busy: 2\n"
	"set_interval_overloaded: 1\n"
	"set_stability: 3\n"
	"\n"
	"rl_number: 1\nrl_name: load\nrl_type: simple\nrl_script: @load1\n"
	"rl_operator: >\nrl_busy: 0.5\nrl_overLd: 1\n"
	"\n"
	"rl_number: 2\nrl_name: pressure_io\nrl_type: simple\n"
	"rl_script: @psi_io_some10\nrl_operator: >\nrl_busy: 10\nrl_overLd: 20\n"
	"\n"
	"rl_number: 3\nrl_name: answer\nrl_type: simple\nrl_script: answer.sh\n"
	"rl_param: 40 2\nrl_operator: >=\nrl_busy: 42\nrl_overLd: 100\n"
	"\n"
	"rl_number: 4\nrl_name: broken\nrl_type: simple\nrl_script: missing.sh\n"
	"rl_operator: >\nrl_busy: 1\nrl_overLd: 2\n";

static struct ruleset *parse_rules(void)
{
	const char *files[] = { "test.rule" }, *texts[] = { rules_text };
	size_t len[] = { sizeof(rules_text) - 1 };
	struct rule_errs errs = { 0, NULL, 0 };
	struct ruleset *rs = ruleset_parse(files, texts, len, 1, &errs);

	if (!rs)
		printf("    rule errors:\n%s", errs.text ? errs.text : "");
	rule_errs_clear(&errs);
	return rs;
}

static void monitor_checks(struct monitor *m)
{
	const struct monitor_verdict *v;
	const struct metric_set *ms;
	char err[256];
	size_t n;
	double x;

	/* load1 0.52 > 0.5: busy; answer 42 >= 42: busy -> busy at once */
	CHECK_INT_EQ(monitor_measure(m, 101, err, sizeof(err)), RS_BUSY);
	n = monitor_verdicts(m, &v);
	CHECK_INT_EQ(n, 4);
	CHECK_STR_EQ(v[0].name, "load");
	CHECK_INT_EQ(v[0].state, RS_BUSY);
	CHECK_NEAR(v[0].value, 0.52, 1e-9);
	CHECK_INT_EQ(v[1].state, RS_ERROR);          /* metric absent */
	CHECK(isnan(v[1].value));
	CHECK_INT_EQ(v[2].state, RS_BUSY);
	CHECK_NEAR(v[2].value, 42, 0);
	CHECK_INT_EQ(v[3].state, RS_ERROR);          /* script missing */
	CHECK_NEAR(monitor_next_interval(m), 2, 0);
	ms = monitor_metrics(m);
	for (size_t i = 1; i < ms->n; i++)
		CHECK(strcmp(ms->m[i - 1].name, ms->m[i].name) < 0);
	CHECK(metric_set_get(ms, "cpu_util", &x) < 0); /* fixture did not move */
	CHECK(metric_set_get(ms, "load1", &x) == 0);
	CHECK_NEAR(x, 0.52, 1e-9);
}

TEST(monitor_measures_fixture_with_rules_and_scripts)
{
	char dir[256], path[300], root[2048], err[256];
	struct monitor_config cfg = { 0 };
	struct ruleset *rs = parse_rules();
	struct monitor *m;

	CHECK(rs);
	snprintf(dir, sizeof(dir), "/tmp/resched-mon-%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/answer.sh", dir);
	snprintf(root, sizeof(root), "%s", unit_fixture("proc"));
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		ruleset_free(rs);
		CHECK(!"mkdir");
	}
	util_write_atomic(path, "#!/bin/sh\necho $(( $1 + $2 ))\n", 30, 0755);
	cfg = (struct monitor_config){ .name = "h1", .scripts_dir = dir,
				       .proc_root = root, .no_disk = 1 };
	m = monitor_create(&cfg, rs, 100, err, sizeof(err));
	if (m)
		monitor_checks(m);
	else
		printf("    monitor_create: %s\n", err);
	monitor_free(m);
	unlink(path);
	rmdir(dir);
	CHECK(m);
}

TEST(monitor_without_rules_is_free_and_bad_cgroup_fails)
{
	struct monitor_config cfg = { .name = "h", .scripts_dir = "/nonexistent",
				      .no_disk = 1 };
	struct monitor *m;
	char err[256];

	m = monitor_create(&cfg, NULL, util_now_s(), err, sizeof(err));
	CHECK(m);
	CHECK_INT_EQ(monitor_measure(m, util_now_s() + 0.01, err, sizeof(err)),
		     RS_FREE);
	CHECK_INT_EQ(monitor_state(m), RS_FREE);
	CHECK(monitor_metrics(m)->n > 10);
	monitor_free(m);
	cfg.cgroup = "resched-no-such-cgroup-zz";
	m = monitor_create(&cfg, NULL, util_now_s(), err, sizeof(err));
	CHECK(!m);
	CHECK_STR_HAS(err, "resched-no-such-cgroup-zz");
}
