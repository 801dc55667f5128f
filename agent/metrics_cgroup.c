/* metrics_cgroup.c — metrics scoped to a cgroup (--cgroup), see metrics.h. */
#include "agent/metrics.h"
#include "common/util.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#define CG_FILE_MAX (4u << 20)

/* Kernel fixed-point constants, kernel/sched/loadavg.c / include/linux/sched/loadavg.h */
#define CG_FIXED_1   2048.0
#define CG_LOAD_FREQ 5.0
static const double cg_exp[3] = { 1884.0, 2014.0, 2037.0 };

/* ---- parsers ------------------------------------------------------------- */

int cg_parse_quota_v1(const char *quota, const char *period, double *cpus)
{
	long long q;
	unsigned long long p;

	if (sscanf(quota, "%lld", &q) != 1 || sscanf(period, "%llu", &p) != 1 ||
	    p == 0)
		return -1;
	*cpus = q < 0 ? 0.0 : (double)q / (double)p;
	return 0;
}

int cg_parse_cpu_max(const char *text, double *cpus)
{
	char q[32];
	unsigned long long p, qv;

	if (sscanf(text, "%31s %llu", q, &p) != 2 || p == 0)
		return -1;
	if (strcmp(q, "max") == 0) {
		*cpus = 0.0;
		return 0;
	}
	if (sscanf(q, "%llu", &qv) != 1)
		return -1;
	*cpus = (double)qv / (double)p;
	return 0;
}

int cg_parse_stat_key(const char *text, const char *key, uint64_t *out)
{
	size_t n = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, key, n) == 0 && p[n] == ' ')
			return sscanf(p + n + 1, "%" SCNu64, out) == 1 ? 0 : -1;
	return -1;
}

int cg_parse_cpu_stat_v2(const char *text, uint64_t *usage_ns)
{
	uint64_t us;

	if (cg_parse_stat_key(text, "usage_usec", &us) < 0)
		return -1;
	*usage_ns = us * 1000;
	return 0;
}

size_t cg_count_lines(const char *text)
{
	size_t n = 0;

	for (const char *p = text; *p; p++)
		if (*p == '\n' && p != text && p[-1] != '\n')
			n++;
	if (*text && text[strlen(text) - 1] != '\n')
		n++;
	return n;
}

char cg_parse_task_state(const char *text)
{
	const char *p = strrchr(text, ')');   /* comm may hold ") " */

	if (!p || p[1] != ' ' || !p[2])
		return 0;
	return p[2];
}

void cg_load_update(double load[3], double active, double elapsed_s)
{
	if (elapsed_s <= 0)
		return;
	for (int i = 0; i < 3; i++) {
		double e = pow(cg_exp[i] / CG_FIXED_1, elapsed_s / CG_LOAD_FREQ);

		load[i] = load[i] * e + active * (1.0 - e);
	}
}

/* ---- locating a cgroup --------------------------------------------------- */

__attribute__((format(printf, 3, 4)))
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
}

/* 1 when comma-separated `opts` holds the token `tok`. */
static int has_opt(const char *opts, const char *tok)
{
	size_t n = strlen(tok);

	for (const char *p = opts; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, tok, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

static int clean_relpath(const char *path)
{
	if (!*path || strlen(path) > 200)
		return 0;
	if (strstr(path, "..") || strstr(path, "//"))
		return 0;
	return strspn(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789_-./@:") == strlen(path);
}

/* dst = mnt/path when that is a directory, else "". */
static void set_dir(char *dst, size_t size, const char *mnt, const char *path)
{
	struct stat st;

	if ((size_t)snprintf(dst, size, "%s/%s", mnt, path) >= size ||
	    stat(dst, &st) < 0 || !S_ISDIR(st.st_mode))
		dst[0] = '\0';
}

static void locate_line(const char *line, const char *path, struct cg_paths *o)
{
	char src[256], mnt[512], type[64], opts[512];

	if (sscanf(line, "%255s %511s %63s %511s", src, mnt, type, opts) != 4)
		return;
	if (strcmp(type, "cgroup2") == 0 && !o->unified[0])
		set_dir(o->unified, sizeof(o->unified), mnt, path);
	if (strcmp(type, "cgroup") != 0)
		return;
	if (has_opt(opts, "cpu") && !o->cpu[0])
		set_dir(o->cpu, sizeof(o->cpu), mnt, path);
	if (has_opt(opts, "cpuacct") && !o->cpuacct[0])
		set_dir(o->cpuacct, sizeof(o->cpuacct), mnt, path);
	if (has_opt(opts, "memory") && !o->memory[0])
		set_dir(o->memory, sizeof(o->memory), mnt, path);
}

int cg_locate(const char *mounts_text, const char *path, struct cg_paths *out,
	      char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	while (*path == '/')
		path++;
	if (!clean_relpath(path)) {
		seterr(err, errlen, "cgroup '%s': not a clean relative path", path);
		return -1;
	}
	for (const char *p = mounts_text; p && *p;
	     p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		locate_line(p, path, out);
	if (!out->cpu[0] && !out->cpuacct[0] && !out->memory[0] &&
	    !out->unified[0]) {
		seterr(err, errlen, "cgroup '%s' exists in no cgroup hierarchy",
		       path);
		return -1;
	}
	return 0;
}

/* ---- the sampler --------------------------------------------------------- */

/* Contents of dir/name in a new buffer (caller frees), or NULL. */
static char *cg_read(const char *dir, const char *name)
{
	char path[1024];

	if (!dir[0] ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return NULL;
	return util_read_file(path, CG_FILE_MAX, NULL);
}

static int cg_read_u64(const char *dir, const char *name, uint64_t *out)
{
	char *t = cg_read(dir, name);
	int r = t && sscanf(t, "%" SCNu64, out) == 1 ? 0 : -1;

	free(t);
	return r;
}

int metrics_cgroup_init(struct cg_sampler *s, const char *path,
			char *err, size_t errlen)
{
	char *mounts = util_read_file("/proc/self/mounts", 1u << 20, NULL);
	int r;

	memset(s, 0, sizeof(*s));
	if (!mounts) {
		seterr(err, errlen, "/proc/self/mounts: %s", strerror(errno));
		return -1;
	}
	r = cg_locate(mounts, path, &s->dirs, err, errlen);
	free(mounts);
	snprintf(s->path, sizeof(s->path), "%s", path);
	return r;
}

/* CPU time used by the cgroup, ns. */
static int cg_usage(const struct cg_sampler *s, uint64_t *ns)
{
	char *t;
	int r;

	if (cg_read_u64(s->dirs.cpuacct, "cpuacct.usage", ns) == 0)
		return 0;
	t = cg_read(s->dirs.unified, "cpu.stat");
	r = t ? cg_parse_cpu_stat_v2(t, ns) : -1;
	free(t);
	return r;
}

/* CPU share in CPUs; 0 when unlimited or unknown. */
static double cg_share(const struct cg_sampler *s)
{
	char *q = cg_read(s->dirs.cpu, "cpu.cfs_quota_us");
	char *p = cg_read(s->dirs.cpu, "cpu.cfs_period_us");
	double cpus = 0.0;

	if (!q || !p || cg_parse_quota_v1(q, p, &cpus) < 0) {
		char *m = cg_read(s->dirs.unified, "cpu.max");

		if (!m || cg_parse_cpu_max(m, &cpus) < 0)
			cpus = 0.0;
		free(m);
	}
	free(q);
	free(p);
	return cpus;
}

static void cg_cpu(struct cg_sampler *s, double now, struct metric_set *out)
{
	double share = cg_share(s), machine = 1.0;
	uint64_t usage;

	if (share > 0)
		metric_set_put(out, "cpus", share);
	else if (metric_set_get(out, "cpus", &machine) == 0)
		share = machine;
	if (cg_usage(s, &usage) < 0)
		return;
	if (s->have_prev && now > s->t_prev && usage >= s->usage_prev && share > 0) {
		double u = 100.0 * (double)(usage - s->usage_prev) /
			   ((now - s->t_prev) * 1e9 * share);

		u = u > 100.0 ? 100.0 : u;
		metric_set_put(out, "cpu_util", u);
		metric_set_put(out, "cpu_idle", 100.0 - u);
	}
	s->usage_prev = usage;
	s->t_prev = now;
	s->have_prev = 1;
}

/* usage, limit and inactive file pages (v1, else v2). */
static int cg_mem_read(const struct cg_sampler *s, uint64_t *usage,
		       uint64_t *limit, uint64_t *inactive)
{
	const char *d = s->dirs.memory;
	char *st;

	*inactive = 0;
	if (d[0] && cg_read_u64(d, "memory.usage_in_bytes", usage) == 0 &&
	    cg_read_u64(d, "memory.limit_in_bytes", limit) == 0) {
		st = cg_read(d, "memory.stat");
		if (st)
			cg_parse_stat_key(st, "total_inactive_file", inactive);
		free(st);
		return 0;
	}
	d = s->dirs.unified;
	if (!d[0] || cg_read_u64(d, "memory.current", usage) < 0)
		return -1;
	if (cg_read_u64(d, "memory.max", limit) < 0)
		*limit = UINT64_MAX;   /* "max" */
	st = cg_read(d, "memory.stat");
	if (st)
		cg_parse_stat_key(st, "inactive_file", inactive);
	free(st);
	return 0;
}

static void cg_mem(const struct cg_sampler *s, struct metric_set *out)
{
	uint64_t usage, limit, inactive;
	double total = 0, used;

	if (cg_mem_read(s, &usage, &limit, &inactive) < 0)
		return;
	metric_set_get(out, "mem_total", &total);
	if (total <= 0 || (double)limit < total)
		total = (double)limit;
	used = (double)(usage > inactive ? usage - inactive : 0);
	used = used > total ? total : used;
	metric_set_put(out, "mem_total", total);
	metric_set_put(out, "mem_avail", total - used);
	metric_set_put(out, "mem_avail_pct",
		       total > 0 ? 100.0 * (total - used) / total : 0.0);
}

/* First hierarchy where the cgroup exists, for its member lists. */
static const char *cg_any_dir(const struct cg_sampler *s)
{
	if (s->dirs.cpu[0])
		return s->dirs.cpu;
	if (s->dirs.cpuacct[0])
		return s->dirs.cpuacct;
	if (s->dirs.memory[0])
		return s->dirs.memory;
	return s->dirs.unified;
}

/* Count tasks (threads) of the list in state R, and in R or D. */
/* Count the cgroup's runnable (R) and active (R or D) tasks.  The agent's
 * own threads are left out: when it runs inside the slice it measures, the
 * thread doing the counting is always running, and an idle host would
 * otherwise show one runnable task and a load of 1. */
static void cg_count_states(const char *tids, long *running, long *active)
{
	*running = *active = 0;
	for (const char *p = tids; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : "") {
		char path[64], *st;
		long tid = strtol(p, NULL, 10);
		char c;

		if (tid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%ld", tid);
		if (access(path, F_OK) == 0)
			continue;          /* one of ours */
		snprintf(path, sizeof(path), "/proc/%ld/stat", tid);
		st = util_read_file(path, 4096, NULL);
		c = st ? cg_parse_task_state(st) : 0;
		free(st);
		*running += c == 'R';
		*active += c == 'R' || c == 'D';
	}
}

static void cg_tasks(struct cg_sampler *s, double now, struct metric_set *out)
{
	const char *d = cg_any_dir(s);
	int v2 = d == s->dirs.unified;
	char *procs = cg_read(d, "cgroup.procs");
	char *tids = cg_read(d, v2 ? "cgroup.threads" : "tasks");
	long running, active;

	if (procs)
		metric_set_put(out, "procs", (double)cg_count_lines(procs));
	if (tids) {
		cg_count_states(tids, &running, &active);
		metric_set_put(out, "procs_running", (double)running);
		if (!s->have_load) {
			/* start from the first count rather than from 0 */
			for (int i = 0; i < 3; i++)
				s->load[i] = (double)active;
			s->have_load = 1;
		} else {
			cg_load_update(s->load, (double)active, now - s->t_load);
		}
		s->t_load = now;
		metric_set_put(out, "load1", s->load[0]);
		metric_set_put(out, "load5", s->load[1]);
		metric_set_put(out, "load15", s->load[2]);
	}
	free(procs);
	free(tids);
}

static void cg_psi(const struct cg_sampler *s, struct metric_set *out)
{
	static const char *const files[][2] = {
		{ "cpu.pressure", "psi_cpu_some10" },
		{ "memory.pressure", "psi_mem_some10" },
		{ "io.pressure", "psi_io_some10" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char *t = cg_read(s->dirs.unified, files[i][0]);
		double v;

		if (t && mp_parse_psi(t, &v) == 0)
			metric_set_put(out, files[i][1], v);
		free(t);
	}
}

int metrics_cgroup_sample(struct cg_sampler *s, double now,
			  struct metric_set *out, char *err, size_t errlen)
{
	struct stat st;
	const char *d = cg_any_dir(s);

	if (!d[0] || stat(d, &st) < 0) {
		seterr(err, errlen, "cgroup '%s' has gone", s->path);
		return -1;
	}
	cg_cpu(s, now, out);
	cg_mem(s, out);
	cg_tasks(s, now, out);
	cg_psi(s, out);
	return 0;
}
