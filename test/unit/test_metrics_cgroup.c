/* Cgroup scoping: parsers and fixture tree, the load average, and a live
 * cgroup with a busy loop under a 30% quota. */
#include "agent/metrics.h"
#include "common/util.h"
#include "test/unit/unit.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *fixture(const char *rel)
{
	return util_read_file(unit_fixture(rel), 1 << 20, NULL);
}

TEST(cgroup_parse_quota_and_cpu_max)
{
	double c;
	char *m = fixture("cgroup/cpu.max"), *u = fixture("cgroup/cpu.max.unlimited");

	CHECK(m && u);
	CHECK(cg_parse_cpu_max(m, &c) == 0);
	CHECK_NEAR(c, 1.5, 1e-12);
	CHECK(cg_parse_cpu_max(u, &c) == 0);
	CHECK_NEAR(c, 0, 0);
	free(m);
	free(u);
	CHECK(cg_parse_quota_v1("30000\n", "100000\n", &c) == 0);
	CHECK_NEAR(c, 0.3, 1e-12);
	CHECK(cg_parse_quota_v1("-1\n", "100000\n", &c) == 0);
	CHECK_NEAR(c, 0, 0);
	CHECK(cg_parse_quota_v1("5\n", "0\n", &c) < 0);
	CHECK(cg_parse_cpu_max("garbage", &c) < 0);
}

TEST(cgroup_parse_stat_tasks_lines)
{
	uint64_t ns;
	char *st = fixture("cgroup/cpu.stat.v2");
	char *r = fixture("cgroup/pid-stat-running");
	char *s = fixture("cgroup/pid-stat-sleeping");

	CHECK(st && r && s);
	CHECK(cg_parse_cpu_stat_v2(st, &ns) == 0);
	CHECK_INT_EQ(ns, 2500000000ull);
	CHECK(cg_parse_task_state(r) == 'R');   /* comm holds ") " */
	CHECK(cg_parse_task_state(s) == 'S');
	CHECK(cg_parse_task_state("no paren") == 0);
	CHECK(cg_parse_stat_key(st, "user_usec", &ns) == 0);
	CHECK_INT_EQ(ns, 2000000);
	CHECK(cg_parse_stat_key(st, "user", &ns) < 0);
	free(st);
	free(r);
	free(s);
	CHECK_INT_EQ(cg_count_lines(""), 0);
	CHECK_INT_EQ(cg_count_lines("1\n2\n"), 2);
	CHECK_INT_EQ(cg_count_lines("1\n2"), 2);
}

/* The kernel's fixed-point calc_load (kernel/sched/loadavg.c). */
static unsigned long kernel_calc_load(unsigned long load, unsigned long exp,
				      unsigned long active)
{
	unsigned long newload = load * exp + active * (2048 - exp);

	if (active >= load)
		newload += 2048 - 1;
	return newload / 2048;
}

TEST(cgroup_load_matches_kernel_and_is_step_invariant)
{
	double a[3] = { 0, 0, 0 }, b[3] = { 0, 0, 0 }, c[3] = { 0, 0, 0 };
	unsigned long k1 = 0, k15 = 0;

	for (int i = 0; i < 12; i++) {      /* one minute of 5 s ticks, 2 busy */
		cg_load_update(a, 2, 5.0);
		k1 = kernel_calc_load(k1, 1884, 2 * 2048);
		k15 = kernel_calc_load(k15, 2037, 2 * 2048);
	}
	CHECK_NEAR(a[0], k1 / 2048.0, 0.01);
	CHECK_NEAR(a[2], k15 / 2048.0, 0.01);
	CHECK_NEAR(a[0], 2 * (1 - exp(-1.0)), 0.01);   /* 1-minute constant */
	for (int i = 0; i < 60; i++)
		cg_load_update(b, 2, 1.0);
	cg_load_update(c, 2, 60.0);
	for (int i = 0; i < 3; i++) {
		CHECK_NEAR(a[i], b[i], 1e-9);
		CHECK_NEAR(a[i], c[i], 1e-9);
	}
	cg_load_update(c, 0, 0.0);   /* no time, no change */
	CHECK_NEAR(a[0], c[0], 1e-9);
}

TEST(cgroup_locate_rejects_bad_paths)
{
	struct cg_paths p;
	char err[256];
	const char *mounts = "cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n";

	CHECK(cg_locate(mounts, "../etc", &p, err, sizeof(err)) < 0);
	CHECK_STR_HAS(err, "clean relative path");
	CHECK(cg_locate(mounts, "", &p, err, sizeof(err)) < 0);
	CHECK(cg_locate(mounts, "resched-no-such-group-xyz", &p, err,
			sizeof(err)) < 0);
	CHECK_STR_HAS(err, "exists in no cgroup hierarchy");
}

/* The fixture tree: v1 cpu,cpuacct + memory, v2 unified, cgroup h1. */
TEST(cgroup_sampler_fixture_tree)
{
	static struct metric_set out;
	struct cg_sampler s;
	char mounts[8192], root[2048], err[256];
	double v;

	snprintf(root, sizeof(root), "%s", unit_fixture("cgroup/tree"));
	snprintf(mounts, sizeof(mounts),
		 "cgroup %s/cpu,cpuacct cgroup rw,relatime,cpu,cpuacct 0 0\n"
		 "cgroup %s/memory cgroup rw,memory 0 0\n"
		 "cgroup2 %s/unified cgroup2 rw 0 0\n", root, root, root);
	memset(&s, 0, sizeof(s));
	snprintf(s.path, sizeof(s.path), "h1");
	CHECK(cg_locate(mounts, "h1", &s.dirs, err, sizeof(err)) == 0);
	CHECK(s.dirs.cpu[0] && s.dirs.cpuacct[0] && s.dirs.memory[0] &&
	      s.dirs.unified[0]);
	metric_set_clear(&out);
	metric_set_put(&out, "cpus", 2);
	metric_set_put(&out, "mem_total", 16e9);
	metric_set_put(&out, "load1", 7);
	CHECK(metrics_cgroup_sample(&s, 10.0, &out, err, sizeof(err)) == 0);
	CHECK(metric_set_get(&out, "cpus", &v) == 0);
	CHECK_NEAR(v, 0.3, 1e-12);
	CHECK(metric_set_get(&out, "mem_total", &v) == 0);
	CHECK_NEAR(v, 1073741824.0, 0);
	CHECK(metric_set_get(&out, "mem_avail", &v) == 0);
	CHECK_NEAR(v, 1073741824.0 - (536870912.0 - 268435456.0), 0);
	CHECK(metric_set_get(&out, "mem_avail_pct", &v) == 0);
	CHECK_NEAR(v, 75.0, 1e-9);
	CHECK(metric_set_get(&out, "procs", &v) == 0);
	CHECK_NEAR(v, 2, 0);
	CHECK(metric_set_get(&out, "procs_running", &v) == 0);
	CHECK_NEAR(v, 0, 0);      /* its tids do not exist here */
	CHECK(metric_set_get(&out, "load1", &v) == 0);
	CHECK_NEAR(v, 0, 0);      /* scoped: replaced, not the machine's 7 */
	CHECK(metric_set_get(&out, "psi_cpu_some10", &v) == 0);
	CHECK_NEAR(v, 12.5, 1e-9);
	CHECK(metric_set_get(&out, "cpu_util", &v) < 0);  /* baseline only */
	CHECK(metrics_cgroup_sample(&s, 11.0, &out, err, sizeof(err)) == 0);
	CHECK(metric_set_get(&out, "cpu_util", &v) == 0);
	CHECK_NEAR(v, 0, 0);      /* usage did not move */
}

/* cpu_util is relative to the quota: a temp v1 "cpu,cpuacct" hierarchy. */
TEST(cgroup_cpu_util_relative_to_quota)
{
	static struct metric_set out;
	struct cg_sampler s;
	char dir[256], g[300], f[400], mounts[512], err[256];
	double v;
	int ok;

	snprintf(dir, sizeof(dir), "/tmp/resched-cgfix-%d", (int)getpid());
	snprintf(g, sizeof(g), "%s/g", dir);
	mkdir(dir, 0700);
	mkdir(g, 0700);
	snprintf(f, sizeof(f), "%s/cpu.cfs_quota_us", g);
	ok = util_write_atomic(f, "30000\n", 6, 0600) == 0;
	snprintf(f, sizeof(f), "%s/cpu.cfs_period_us", g);
	ok &= util_write_atomic(f, "100000\n", 7, 0600) == 0;
	snprintf(f, sizeof(f), "%s/cpuacct.usage", g);
	ok &= util_write_atomic(f, "1000000000\n", 11, 0600) == 0;
	snprintf(mounts, sizeof(mounts), "cgroup %s cgroup rw,cpu,cpuacct 0 0\n", dir);
	memset(&s, 0, sizeof(s));
	ok &= cg_locate(mounts, "g", &s.dirs, err, sizeof(err)) == 0;
	metric_set_clear(&out);
	metric_set_put(&out, "cpus", 2);
	ok &= metrics_cgroup_sample(&s, 1.0, &out, err, sizeof(err)) == 0;
	/* 0.15 s of CPU in 1 s under a 0.3-CPU quota: 50% */
	ok &= util_write_atomic(f, "1150000000\n", 11, 0600) == 0;
	ok &= metrics_cgroup_sample(&s, 2.0, &out, err, sizeof(err)) == 0;
	ok &= metric_set_get(&out, "cpu_util", &v) == 0;
	unlink(f);
	snprintf(f, sizeof(f), "%s/cpu.cfs_quota_us", g);
	unlink(f);
	snprintf(f, sizeof(f), "%s/cpu.cfs_period_us", g);
	unlink(f);
	rmdir(g);
	rmdir(dir);
	CHECK(ok);
	CHECK_NEAR(v, 50.0, 1e-6);
	CHECK(metric_set_get(&out, "cpu_idle", &v) == 0);
	CHECK_NEAR(v, 50.0, 1e-6);
}

/* ---- live ---------------------------------------------------------------- */

struct live_cg {
	char name[64];
	char dirs[8][512];    /* created directories, removed in reverse */
	int ndirs;
	char cpu[512], mem[512];
	pid_t child;
};

static int write_str(const char *dir, const char *file, const char *s)
{
	char p[700];
	FILE *f;
	int r;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	f = fopen(p, "w");
	if (!f)
		return -1;
	r = fputs(s, f) < 0;
	r |= fclose(f) != 0;
	return r ? -1 : 0;
}

static int has_tok(const char *opts, const char *tok)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", opts);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (strcmp(t, tok) == 0)
			return 1;
	return 0;
}

/* mkdir NAME in each v1 hierarchy holding cpu, cpuacct or memory. */
static int live_make(struct live_cg *c)
{
	char *mounts = util_read_file("/proc/self/mounts", 1 << 20, NULL);
	char src[256], mnt[256], type[64], opts[256], name[64], path[512];

	memcpy(name, c->name, sizeof(name));
	if (!mounts)
		return -1;
	for (char *p = mounts; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		int cpu, mem, acct;

		if (sscanf(p, "%255s %255s %63s %255s", src, mnt, type, opts) != 4 ||
		    strcmp(type, "cgroup") != 0)
			continue;
		cpu = has_tok(opts, "cpu");
		acct = has_tok(opts, "cpuacct");
		mem = has_tok(opts, "memory");
		if (!cpu && !acct && !mem)
			continue;
		snprintf(path, sizeof(path), "%s/%s", mnt, name);
		memcpy(c->dirs[c->ndirs], path, sizeof(c->dirs[0]));
		if (mkdir(c->dirs[c->ndirs], 0755) < 0 && errno != EEXIST)
			break;
		if (cpu)
			memcpy(c->cpu, c->dirs[c->ndirs], sizeof(c->cpu));
		if (mem)
			memcpy(c->mem, c->dirs[c->ndirs], sizeof(c->mem));
		if (++c->ndirs == 8)
			break;
	}
	free(mounts);
	return c->cpu[0] && c->mem[0] ? 0 : -1;
}

static void live_remove(struct live_cg *c)
{
	if (c->child > 0) {
		kill(c->child, SIGKILL);
		waitpid(c->child, NULL, 0);
	}
	for (int i = c->ndirs - 1; i >= 0; i--)
		rmdir(c->dirs[i]);
}

/* Fork a busy loop that joins every cpu/cpuacct directory first. */
static int live_spin(struct live_cg *c)
{
	int p[2];
	char b;

	if (pipe(p) < 0)
		return -1;
	c->child = fork();
	if (c->child == 0) {
		close(p[0]);
		for (int i = 0; i < c->ndirs; i++)
			if (strcmp(c->dirs[i], c->mem) != 0 &&
			    write_str(c->dirs[i], "cgroup.procs", "0\n") < 0)
				_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (volatile unsigned long n = 0;; n++)
			;
	}
	close(p[1]);
	if (c->child < 0 || read(p[0], &b, 1) != 1) {
		close(p[0]);
		return -1;
	}
	close(p[0]);
	return 0;
}

static void live_checks(struct live_cg *c)
{
	static struct metric_set out;
	struct cg_sampler s;
	struct timespec ts = { 1, 0 };
	char err[256];
	double v;

	CHECK(metrics_cgroup_init(&s, c->name, err, sizeof(err)) == 0);
	metric_set_clear(&out);
	metric_set_put(&out, "cpus", 2);
	metric_set_put(&out, "mem_total", 64e9);
	CHECK(metrics_cgroup_sample(&s, util_now_s(), &out, err, sizeof(err)) == 0);
	nanosleep(&ts, NULL);
	CHECK(metrics_cgroup_sample(&s, util_now_s(), &out, err, sizeof(err)) == 0);
	CHECK(metric_set_get(&out, "cpus", &v) == 0);
	CHECK_NEAR(v, 0.3, 1e-9);
	CHECK(metric_set_get(&out, "cpu_util", &v) == 0);
	printf("    live cgroup %s: cpu_util %.1f%% of a 0.3-CPU quota\n", c->name, v);
	CHECK(v >= 75 && v <= 100);
	CHECK(metric_set_get(&out, "procs", &v) == 0);
	CHECK_NEAR(v, 1, 0);
	CHECK(metric_set_get(&out, "procs_running", &v) == 0);
	CHECK(v <= 1);    /* R, or runnable-but-throttled shows as R too */
	CHECK(metric_set_get(&out, "load1", &v) == 0);
	CHECK(v >= 0 && v <= 1.0001);
	CHECK(metric_set_get(&out, "mem_total", &v) == 0);
	CHECK_NEAR(v, 256.0 * 1024 * 1024, 0);
	CHECK(metric_set_get(&out, "mem_avail", &v) == 0);
	CHECK(v > 0 && v <= 256.0 * 1024 * 1024);
}

TEST(cgroup_live_busy_loop_under_quota)
{
	struct live_cg c;

	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "resched-test-%d", (int)getpid());
	if (geteuid() != 0 || live_make(&c) < 0) {
		int e = errno;

		live_remove(&c);
		SKIP("cannot create v1 cpu+memory cgroups (%s)", strerror(e));
	}
	if (write_str(c.cpu, "cpu.cfs_period_us", "100000\n") < 0 ||
	    write_str(c.cpu, "cpu.cfs_quota_us", "30000\n") < 0 ||
	    write_str(c.mem, "memory.limit_in_bytes", "268435456\n") < 0 ||
	    live_spin(&c) < 0) {
		live_remove(&c);
		CHECK(!"setting up the live cgroup failed");
	}
	live_checks(&c);
	live_remove(&c);
}
