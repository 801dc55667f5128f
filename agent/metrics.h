/*
 * metrics.h — the agent's built-in collectors (docs/METRICS.md).
 *
 * Three layers, each usable alone:
 *   1. struct metric_set: a fixed-capacity list of name/value pairs (no
 *      allocation; names copied in).  Names are the canonical ones of
 *      rules/rules.h (metric_known).
 *   2. Pure parsers (mp_parse_*, cg_parse_*): text of one kernel file in,
 *      numbers out.  No I/O; unit-tested against test/fixtures/.
 *      Return 0, or -1 when the text is not in the expected format.
 *   3. Samplers (metrics_proc_*, metrics_cgroup_*): read the kernel files
 *      (never fork) and fill a metric_set.  Rates (cpu_util, net_*_bps)
 *      are deltas against the sampler's previous call, so a sampler keeps
 *      state; the first call only records the baseline for them.
 *
 * Library error convention: -1 and a message in the caller's buffer
 * (err, errlen; may be NULL/0).  A metric whose source is absent (no
 * /proc/pressure, say) is simply not put in the set.
 */
#ifndef RESCHED_METRICS_H
#define RESCHED_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* ---- metric sets --------------------------------------------------------- */
#define METRIC_NAME_MAX 80   /* includes the NUL */
#define METRICS_MAX     160

struct metric {
	char name[METRIC_NAME_MAX];
	double value;
};

struct metric_set {
	struct metric m[METRICS_MAX];
	size_t n;
};

void metric_set_clear(struct metric_set *s);
/* Add, or replace the value of an existing name.  -1 when the set is full
 * or the name does not fit. */
int metric_set_put(struct metric_set *s, const char *name, double value);
/* 0 and *out, or -1 when the name is not in the set. */
int metric_set_get(const struct metric_set *s, const char *name, double *out);
void metric_set_sort(struct metric_set *s);     /* by name, strcmp order */

/* ---- /proc parsers (metrics_proc.c) -------------------------------------- */
struct mp_loadavg {
	double load[3];       /* load1 load5 load15 */
	long running, total;  /* runnable / all scheduling entities */
};
int mp_parse_loadavg(const char *text, struct mp_loadavg *out);

/* The aggregate "cpu" line of /proc/stat, in jiffies. */
struct mp_cpu {
	uint64_t total;       /* user+nice+system+idle+iowait+irq+softirq+steal */
	uint64_t idle;        /* idle+iowait */
};
struct mp_stat {
	struct mp_cpu cpu;
	int ncpu;             /* cpuN lines */
	long procs_running;   /* -1 when the line is missing */
};
int mp_parse_stat(const char *text, struct mp_stat *out);
/* Percent of the interval the CPUs were busy, 0..100; NaN when the two
 * samples are equal or go backwards. */
double mp_cpu_util(const struct mp_cpu *prev, const struct mp_cpu *now);

struct mp_meminfo {    /* bytes */
	uint64_t total, avail, swap_total, swap_free;
};
int mp_parse_meminfo(const char *text, struct mp_meminfo *out);

/* Sum of rx and tx bytes over every interface except lo. */
int mp_parse_netdev(const char *text, uint64_t *rx, uint64_t *tx);

/* TCP states as numbered in /proc/net/tcp (1..11). */
#define MP_TCP_STATES 12
extern const char *const mp_tcp_state_names[MP_TCP_STATES]; /* [0] NULL */
/* Adds each socket of a /proc/net/tcp or tcp6 text to counts[state]. */
int mp_parse_tcp(const char *text, unsigned counts[MP_TCP_STATES]);

/* Cheap socket counters: Tcp CurrEstab of /proc/net/snmp, "tw" of the
 * TCP line of /proc/net/sockstat. */
int mp_parse_snmp_estab(const char *text, double *estab);
int mp_parse_sockstat_tw(const char *text, double *tw);

/* "some avg10=" of a /proc/pressure/ file (or a cgroup's X.pressure). */
int mp_parse_psi(const char *text, double *some10);

/* Walk /proc/self/mounts text: fn(ctx, source, mount point, fs type) for
 * each line, with octal escapes (\040) decoded.  fn returns 0 to go on. */
typedef int (*mp_mount_fn)(void *ctx, const char *src, const char *mnt,
			   const char *type);
int mp_parse_mounts(const char *text, mp_mount_fn fn, void *ctx);
/* 1 when a filesystem type is pseudo (proc, tmpfs, cgroup, fuse ...):
 * no disk metric for it. */
int mp_fs_is_pseudo(const char *type);
/* The metric suffix of a mount point: "/" -> "" , "/var/lib" -> "var_lib".
 * -1 when it does not fit or holds characters metric names do not allow. */
int mp_mount_suffix(const char *mnt, char *buf, size_t size);

/* ---- the machine sampler ------------------------------------------------- */
struct mp_sampler {
	const char *root;     /* "/proc" normally; a fixture tree in tests */
	int have_prev;
	double t_prev;        /* seconds, caller's clock */
	struct mp_cpu cpu_prev;
	uint64_t rx_prev, tx_prev;
	int with_disk;        /* statvfs over the mounts (on by default) */
	/* The full TCP tables cost ~1 ms each on a big hash table, so they
	 * are walked at most every tcp_period seconds; established and
	 * time_wait come fresh every sample from the cheap counters. */
	double tcp_period;    /* MP_TCP_PERIOD by default */
	double t_tcp;         /* last walk */
	int have_tcp;
	unsigned tcp_counts[MP_TCP_STATES];
	double util_last;     /* last cpu_util, repeated when no tick passed */
};
#define MP_TCP_PERIOD 30.0
void metrics_proc_init(struct mp_sampler *s, const char *root);
/* Read every machine metric into `out` (which is not cleared first).
 * `now` is the caller's monotonic clock in seconds.  Returns 0, or -1 with
 * err when an essential file (stat, meminfo, loadavg) cannot be read. */
int metrics_proc_sample(struct mp_sampler *s, double now,
			struct metric_set *out, char *err, size_t errlen);

/* ---- cgroup parsers and sampler (metrics_cgroup.c) ----------------------- */
/* Where one cgroup lives in each hierarchy; "" when not present. */
struct cg_paths {
	char cpu[512];        /* v1 cpu controller dir (quota) */
	char cpuacct[512];    /* v1 cpuacct controller dir (usage) */
	char memory[512];     /* v1 memory controller dir */
	char unified[512];    /* v2 dir */
};
/* Find PATH (relative to every hierarchy root) using /proc/self/mounts
 * text.  -1 with err when the cgroup exists in no hierarchy or PATH is
 * not a clean relative path (no "..", not absolute). */
int cg_locate(const char *mounts_text, const char *path, struct cg_paths *out,
	      char *err, size_t errlen);

/* CPU share in CPUs: v1 quota/period text, or v2 cpu.max ("max 100000" or
 * "30000 100000").  *cpus = 0 when unlimited. */
int cg_parse_quota_v1(const char *quota, const char *period, double *cpus);
int cg_parse_cpu_max(const char *text, double *cpus);
/* v2 cpu.stat usage_usec, as nanoseconds. */
int cg_parse_cpu_stat_v2(const char *text, uint64_t *usage_ns);
/* "KEY VALUE" line of memory.stat (total_inactive_file, inactive_file). */
int cg_parse_stat_key(const char *text, const char *key, uint64_t *out);
/* Count lines (pids) of cgroup.procs / tasks text. */
size_t cg_count_lines(const char *text);
/* The state letter of a /proc/PID/stat text ('R', 'S', 'D' ...), or 0. */
char cg_parse_task_state(const char *text);

/*
 * The kernel's load average (kernel/sched/loadavg.c), computed by the
 * agent for a cgroup: load = load*e + active*(1-e), with e =
 * (EXP_n/FIXED_1)^(elapsed/5 s), EXP_1 1884, EXP_5 2014, EXP_15 2037,
 * FIXED_1 2048: the kernel's 5-second step, its exponent scaled to the
 * real time between samples.  `active` is tasks in R or D state.
 */
void cg_load_update(double load[3], double active, double elapsed_s);

struct cg_sampler {
	char path[256];       /* the cgroup, relative to the roots */
	struct cg_paths dirs;
	int have_prev;
	double t_prev;
	uint64_t usage_prev;  /* ns */
	int have_load;
	double load[3];
	double t_load;
};
/* Locate `path`; -1 with err when it exists nowhere. */
int metrics_cgroup_init(struct cg_sampler *s, const char *path,
			char *err, size_t errlen);
/* Overwrite the scoped metrics in `out` (after metrics_proc_sample filled
 * the machine values, which stay for what cannot be scoped). */
int metrics_cgroup_sample(struct cg_sampler *s, double now,
			  struct metric_set *out, char *err, size_t errlen);

#endif
