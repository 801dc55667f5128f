/*
 * sched_bench.c — decision time of the scheduler with N registered hosts
 * (default 1000): from the arrival of an overloaded report (the call to
 * reg_host_update) to the migrate command (the registry's migrate hook),
 * through sched_host_updated — the path fs_net takes for every update.
 *
 * The model: every host has one job; 1 host in 10 is overloaded, the rest
 * busy, and the only free hosts are the last 5 % in registration order, so
 * first fit examines about 95 % of the hosts each time.  Each round fails
 * the move at once (cooldown 0) so the next round decides afresh.
 *
 *   sched_bench [HOSTS] [ROUNDS]
 * prints  sched_decision_us p50=... p99=... hosts=N policy=default
 * and the same line for the paper's Policy 3 (policy=policy3).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <time.h>

#include "common/util.h"
#include "fs/fs_sched.h"
#include "fs/registry.h"

struct bench {
	struct registry *r;
	struct sched *s;
	uint64_t hook_ns;             /* when the migrate hook was called */
	uint64_t hook_cpu;            /* thread CPU time then */
	int job;
	uint64_t mig;
};

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int b_migrate(void *ctx, const struct reg_migrate_req *req)
{
	struct bench *b = ctx;

	b->hook_ns = util_now_ns();
	b->hook_cpu = cpu_ns();
	b->job = req->job;
	b->mig = req->mig;
	return 0;
}

static void b_event(void *ctx, const char *line) { (void)ctx; (void)line; }
static FILE *errf;

static void host_update(struct bench *b, int i, int nhosts, int overloaded)
{
	char name[32];
	int free_host = i >= nhosts - nhosts / 20;
	int state = overloaded ? RS_OVERLOADED : free_host ? RS_FREE : RS_BUSY;
	struct reg_metric m[4] = {
		{ "load1", overloaded ? 3.2 : free_host ? 0.1 : 1.4 },
		{ "procs", 90 }, { "net_bps", free_host ? 1e3 : overloaded ? 1e6 : 6e6 },
		{ "mem_avail", 8e9 } };
	struct reg_verdict v = { "processorStatus", state, 30 };

	snprintf(name, sizeof(name), "h%04d", i);
	reg_host_update(b->r, name, m, 4, &v, 1, state, 5);
}

static int setup(struct bench *b, int nhosts, char *err)
{
	struct reg_config cfg = { NULL, "rules/default" };
	struct reg_net_hooks h = { .ctx = b, .migrate = b_migrate };
	struct reg_kv kv[2] = { { "arch", "x86_64" }, { "addr", "10.0.0.1" } };
	const char *schema = "<application name=\"t\"><estimated_time unit=\"s\">"
			     "600</estimated_time><requires><memory unit=\"MiB\">"
			     "64</memory><arch>x86_64</arch></requires></application>";

	b->r = reg_new(&cfg, err);
	if (!b->r)
		return -1;
	reg_set_event_hook(b->r, b_event, NULL);
	reg_set_net_hooks(b->r, &h);
	reg_sched_write(b->r, "cooldown", "0", 0, err);
	reg_sched_write(b->r, "min_age", "0", 0, err);
	reg_sched_write(b->r, "max_per_hour", "1000000", 0, err);
	for (int i = 0; i < nhosts; i++) {
		char name[32];
		struct reg_proc_info pi = { .pid = 100 + i, .prog = "t",
					    .schema = schema };

		snprintf(name, sizeof(name), "h%04d", i);
		reg_host_hello(b->r, name, kv, 2, 5);
		host_update(b, i, nhosts, 0);
		reg_proc_register(b->r, name, &pi);
	}
	b->s = sched_new(b->r, err);
	return b->s ? 0 : -1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* One round: host i reports overloaded; ns until the migrate hook (wall),
 * and in *cpu the CPU time of this thread over the same span. */
static int64_t round_once(struct bench *b, int i, int nhosts, uint64_t *cpu)
{
	char name[32];
	uint64_t t0, c0;

	snprintf(name, sizeof(name), "h%04d", i);
	b->hook_ns = 0;
	c0 = cpu_ns();
	t0 = util_now_ns();
	host_update(b, i, nhosts, 1);
	sched_host_updated(b->s, name, util_now_s());
	if (!b->hook_ns)
		return -1;
	*cpu = b->hook_cpu - c0;
	reg_migration_result(b->r, b->job, b->mig, 0, "bench", EIO, NULL);
	host_update(b, i, nhosts, 0);
	return (int64_t)(b->hook_ns - t0);
}

static int run(struct bench *b, int nhosts, int rounds, const char *label)
{
	uint64_t *ns = calloc((size_t)rounds, sizeof(*ns));
	uint64_t *cpu = calloc((size_t)rounds, sizeof(*cpu));

	if (!ns || !cpu)
		return -1;
	for (int k = 0; k < rounds; k++) {
		int64_t d = round_once(b, (k * 10) % (nhosts - nhosts / 20), nhosts,
				       &cpu[k]);

		if (d < 0) {
			fprintf(errf, "sched_bench: round %d made no move\n", k);
			free(ns);
			free(cpu);
			return -1;
		}
		ns[k] = (uint64_t)d;
	}
	qsort(ns, (size_t)rounds, sizeof(*ns), cmp_u64);
	qsort(cpu, (size_t)rounds, sizeof(*cpu), cmp_u64);
	printf("sched_decision_us p50=%.1f p99=%.1f cpu_p50=%.1f cpu_p99=%.1f "
	       "hosts=%d policy=%s\n", ns[rounds / 2] / 1e3,
	       ns[(rounds * 99) / 100] / 1e3, cpu[rounds / 2] / 1e3,
	       cpu[(rounds * 99) / 100] / 1e3, nhosts, label);
	free(ns);
	free(cpu);
	return 0;
}

/* The registry logs one line per event to stderr: 16,000 lines here.
 * Send them to /dev/null; errors of the bench go to the saved stderr. */
static void quiet_events(void)
{
	int keep = dup(2), null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	errf = keep >= 0 ? fdopen(keep, "w") : NULL;
	if (null >= 0 && errf) {
		dup2(null, 2);
		close(null);
	}
	if (!errf)
		errf = stderr;
}

int main(int argc, char **argv)
{
	struct bench b = { 0 };
	char err[REG_ERR_LEN];
	int nhosts = argc > 1 ? atoi(argv[1]) : 1000;
	int rounds = argc > 2 ? atoi(argv[2]) : 2000;
	size_t len;
	char *pol;

	if (nhosts < 40 || rounds < 10) {
		fprintf(stderr, "usage: sched_bench [HOSTS>=40] [ROUNDS>=10]\n");
		return 2;
	}
	quiet_events();
	if (setup(&b, nhosts, err) < 0) {
		fprintf(errf, "sched_bench: %s\n", err);
		return 1;
	}
	if (run(&b, nhosts, rounds, "default") < 0)
		return 1;
	pol = util_read_file("examples/policies/policy3.policy", 65536, &len);
	if (!pol || reg_policy_write(b.r, pol, len, 0, err) < 0) {
		fprintf(errf, "sched_bench: policy3: %s\n", pol ? err : "unreadable");
		return 1;
	}
	free(pol);
	if (run(&b, nhosts, rounds, "policy3") < 0)
		return 1;
	sched_free(b.s);
	reg_free(b.r);
	return 0;
}
