/* test_sched.c — the scheduler (fs/fs_sched) against a real registry model,
 * driven through the registry API with a test clock: selection, placement,
 * the paper's Policies 2 and 3, safety (cooldown, min_age, max_concurrent,
 * reservation, failed destinations, no ping-pong), drain, manual, dry-run. */
#include "test/unit/unit.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "fs/fs_sched.h"
#include "fs/registry.h"

/* ---- fixture ---------------------------------------------------------------- */

struct mv {                       /* one migrate hook call */
	int job;
	uint64_t mig;
	char from[REG_NAME_MAX], to[REG_NAME_MAX];
};

struct world {
	struct registry *r;
	struct sched *s;
	double t0;                    /* test clock origin (monotonic) */
	pthread_mutex_t mu;
	struct mv mv[256];
	int nmv;
	int migrate_rc;
};

static int w_migrate(void *ctx, const struct reg_migrate_req *req)
{
	struct world *w = ctx;

	pthread_mutex_lock(&w->mu);
	if (w->nmv < 256) {
		struct mv *m = &w->mv[w->nmv++];

		m->job = req->job;
		m->mig = req->mig;
		snprintf(m->from, sizeof(m->from), "%s", req->from);
		snprintf(m->to, sizeof(m->to), "%s", req->to);
	}
	pthread_mutex_unlock(&w->mu);
	return w->migrate_rc;
}

static int w_open(struct world *w)
{
	struct reg_config cfg = { NULL, "rules/default" };
	struct reg_net_hooks h = { 0 };
	char err[REG_ERR_LEN];

	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->mu, NULL);
	w->r = reg_new(&cfg, err);
	if (!w->r)
		return -1;
	h.ctx = w;
	h.migrate = w_migrate;
	reg_set_net_hooks(w->r, &h);
	w->s = sched_new(w->r, err);
	w->t0 = util_now_s();
	reg_sched_write(w->r, "min_age", "0", 0, err);
	return w->s ? 0 : -1;
}

static void w_close(struct world *w)
{
	sched_free(w->s);
	reg_free(w->r);
	pthread_mutex_destroy(&w->mu);
}

static void w_set(struct world *w, const char *name, const char *value)
{
	char err[REG_ERR_LEN];

	reg_sched_write(w->r, name, value, 0, err);
}

/* A host with info arch (NULL: none) and software (NULL: not reported). */
static void w_host(struct world *w, const char *name, const char *arch,
		   const char *software)
{
	struct reg_kv kv[2];
	size_t n = 0;

	if (arch)
		kv[n++] = (struct reg_kv){ "arch", arch };
	if (software)
		kv[n++] = (struct reg_kv){ "software", software };
	reg_host_hello(w->r, name, kv, n, 1);
}

/* An update: state, load1, procs, net_bps, mem_avail (bytes). */
static void w_update(struct world *w, const char *name, int state,
		     double load1, double procs, double net, double mem)
{
	struct reg_metric m[4] = { { "load1", load1 }, { "procs", procs },
				   { "net_bps", net }, { "mem_avail", mem } };
	struct reg_verdict v = { "processorStatus", state,
				 state == RS_OVERLOADED ? 12 : state == RS_BUSY
				 ? 48 : 80 };

	reg_host_update(w->r, name, m, 4, &v, 1, state, 1);
}

static void w_free(struct world *w, const char *name)
{
	w_update(w, name, RS_FREE, 0.1, 20, 0, 4e9);
}

static void w_over(struct world *w, const char *name)
{
	w_update(w, name, RS_OVERLOADED, 3.5, 60, 0, 4e9);
}

/* A job of uid started `ago` seconds before now with this schema (may
 * be NULL). */
static int w_job_of(struct world *w, const char *host, double ago,
		    const char *schema, uid_t uid)
{
	struct reg_proc_info pi = { 0 };

	pi.pid = 1000 + w->nmv;
	pi.uid = uid;
	pi.prog = "test_tree";
	pi.start_wall = util_wall_s() - ago;
	pi.schema = schema;
	return reg_proc_register(w->r, host, &pi);
}

/* ... of an ordinary user (uid 1000). */
static int w_job(struct world *w, const char *host, double ago,
		 const char *schema)
{
	return w_job_of(w, host, ago, schema, 1000);
}

static const char *schema_est(char *buf, size_t size, double est)
{
	snprintf(buf, size, "<application name=\"t\"><estimated_time unit=\"s\">"
		 "%g</estimated_time></application>", est);
	return buf;
}

/* Decide about `host` at test time t. */
static void w_pass(struct world *w, const char *host, double t)
{
	sched_host_updated(w->s, host, w->t0 + t);
}

static void w_tick(struct world *w, double t)
{
	sched_tick(w->s, w->t0 + t);
}

static int w_nmoves(struct world *w)
{
	int n;

	pthread_mutex_lock(&w->mu);
	n = w->nmv;
	pthread_mutex_unlock(&w->mu);
	return n;
}

/* Finish the last requested move (ok or not); a successful one is
 * re-announced by its successor on the destination. */
static void w_finish(struct world *w, int ok)
{
	struct mv m = w->mv[w->nmv - 1];
	struct reg_proc_info pi = { 0 };

	reg_migration_result(w->r, m.job, m.mig, ok, ok ? NULL : "spawn failed",
			     ok ? 0 : EIO, NULL);
	if (!ok)
		return;
	pi.pid = 5000 + w->nmv;
	pi.job = m.job;
	reg_proc_register(w->r, m.to, &pi);
}

/* Copy of job id's why (static buffer). */
static const char *w_why(struct world *w, int id)
{
	static char buf[65536];
	struct reg_job *j;

	reg_lock(w->r);
	j = reg_job_locked(w->r, id);
	snprintf(buf, sizeof(buf), "%s", j && j->why ? j->why : "");
	reg_unlock(w->r);
	return buf;
}

/* All of sched/decisions (static buffer). */
static const char *w_decisions(struct world *w)
{
	static char buf[65536];
	size_t o = 0;

	buf[0] = '\0';
	reg_lock(w->r);
	for (size_t i = 0; i < reg_ndecisions_locked(w->r) && o < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s\n",
				      reg_decision_locked(w->r, i));
	reg_unlock(w->r);
	return buf;
}

static const char *w_plan(struct world *w)
{
	static char buf[65536];

	reg_lock(w->r);
	snprintf(buf, sizeof(buf), "%s", reg_plan_locked(w->r) ?
		 reg_plan_locked(w->r) : "");
	reg_unlock(w->r);
	return buf;
}

static int w_policy(struct world *w, const char *path)
{
	size_t len;
	char *t = util_read_file(path, 65536, &len);
	char err[REG_ERR_LEN];
	int rc;

	if (!t)
		return -1;
	rc = reg_policy_write(w->r, t, len, 0, err);
	free(t);
	return rc;
}

/* ---- selection and placement ----------------------------------------------- */

TEST(sched_root_jobs_stay_unless_allow_root)
{
	struct world w;
	char err[REG_ERR_LEN];
	int a;

	CHECK(w_open(&w) == 0);
	w_host(&w, "h1", "x86_64", NULL);
	w_host(&w, "h2", "x86_64", NULL);
	w_free(&w, "h2");
	a = w_job_of(&w, "h1", 100, NULL, 0);
	w_over(&w, "h1");
	w_pass(&w, "h1", 0);
	CHECK_INT_EQ(w_nmoves(&w), 0);
	CHECK_STR_HAS(w_why(&w, a), "runs as root: moves only with sched/allow_root 1");
	CHECK_STR_HAS(w_decisions(&w), "runs as root (sched/allow_root is 0)");
	CHECK_INT_EQ(reg_sched_write(w.r, "allow_root", "1\n", 0, err), 0);
	w_pass(&w, "h1", 30);
	CHECK_INT_EQ(w_nmoves(&w), 1);
	CHECK_INT_EQ(w.mv[0].job, a);
	w_close(&w);
}

TEST(sched_selects_latest_completion)
{
	struct world w;
	char s1[256], s2[256], s3[256];
	int a, b, c;

	CHECK(w_open(&w) == 0);
	w_host(&w, "h1", "x86_64", NULL);
	w_host(&w, "h2", "x86_64", NULL);
	w_free(&w, "h2");
	a = w_job(&w, "h1", 100, schema_est(s1, sizeof(s1), 500)); /* +400 */
	b = w_job(&w, "h1", 10, schema_est(s2, sizeof(s2), 600));  /* +590 */
	c = w_job(&w, "h1", 50, schema_est(s3, sizeof(s3), 300));  /* +250 */
	w_over(&w, "h1");
	w_pass(&w, "h1", 0);
	CHECK_INT_EQ(w_nmoves(&w), 1);
	CHECK_INT_EQ(w.mv[0].job, b);
	CHECK_STR_EQ(w.mv[0].to, "h2");
	CHECK_STR_HAS(w_why(&w, b), "move to h2");
	CHECK_STR_HAS(w_why(&w, b), "chosen; expected completion");
	CHECK_STR_HAS(w_why(&w, b), "estimated 600s");
	CHECK_STR_HAS(w_why(&w, a), "stays: not selected");
	CHECK_STR_HAS(w_why(&w, c), "not tried");
	CHECK_STR_HAS(w_decisions(&w), "host=h1 job=");
	CHECK_STR_HAS(w_decisions(&w), "action=move dest=h2");
	w_close(&w);
}

TEST(sched_no_estimate_counts_as_long_again)
{
	struct world w;
	char s1[256];
	int a, b;

	CHECK(w_open(&w) == 0);
	w_host(&w, "h1", NULL, NULL);
	w_host(&w, "h2", NULL, NULL);
	w_free(&w, "h2");
	/* a: ends in 100 s by its schema; b: no schema, has run 1000 s, so it
	 * is assumed to need 1000 s more and is the later one */
	a = w_job(&w, "h1", 100, schema_est(s1, sizeof(s1), 200));
	b = w_job(&w, "h1", 1000, NULL);
	w_over(&w, "h1");
	w_pass(&w, "h1", 0);
	CHECK_INT_EQ(w_nmoves(&w), 1);
	CHECK_INT_EQ(w.mv[0].job, b);
	CHECK(a != b);
	CHECK_STR_HAS(w_why(&w, b), "no estimate: assumed to run as long again");
	w_close(&w);
}

TEST(sched_first_fit_honours_accept_and_resources)
{
	struct world w;
	const char *schema =
	    "<application name=\"t\"><requires><memory unit=\"MiB\">512</memory>"
	    "<arch>x86_64</arch><software>blas</software></requires></application>";
	const char *why;
	int j;

	CHECK(w_open(&w) == 0);
	w_host(&w, "h1", "x86_64", NULL);
	w_host(&w, "h2", "x86_64", NULL);          /* too little memory */
	w_host(&w, "h3", "x86_64", NULL);          /* busy */
	w_host(&w, "h4", "s390x", NULL);           /* wrong arch */
	w_host(&w, "h5", "x86_64", "libc,mpi");    /* no blas */
	w_host(&w, "h6", "x86_64", "libc,blas");   /* fits */
	w_host(&w, "h7", "x86_64", NULL);          /* fits, later */
	w_update(&w, "h2", RS_FREE, 0.1, 10, 0, 100e6);
	w_update(&w, "h3", RS_BUSY, 1.5, 10, 0, 4e9);
	w_free(&w, "h4");
	w_free(&w, "h5");
	w_free(&w, "h6");
	w_free(&w, "h7");
	j = w_job(&w, "h1", 30, schema);
	w_over(&w, "h1");
	w_pass(&w, "h1", 0);
	CHECK_INT_EQ(w_nmoves(&w), 1);
	CHECK_STR_EQ(w.mv[0].to, "h6");
	why = w_why(&w, j);
	CHECK_STR_HAS(why, "h1 source");
	CHECK_STR_HAS(why, "h2 refused: missing memory: needs 512MiB, mem_avail 95.4MiB");
	CHECK_STR_HAS(why, "h3 refused: accept_when (default) state=busy == free -> 0");
	CHECK_STR_HAS(why, "h4 refused: missing arch: host is s390x, job runs on x86_64");
	CHECK_STR_HAS(why, "h5 refused: missing software blas (host has: libc,mpi)");
	CHECK_STR_HAS(why, "h6 taken: accept_when (default) state=free == free -> 1");
	CHECK_STR_HAS(why, "1 later host not examined (first fit)");
	CHECK_STR_HAS(why, "rules/processorStatus overloaded 12 (< 45)");
	w_close(&w);
}

TEST(sched_software_not_reported_is_assumed)
{
	struct world w;
	int j;

	CHECK(w_open(&w) == 0);
	w_host(&w, "h1", "x86_64", NULL);
	w_host(&w, "h2", "x86_64", NULL);
	w_free(&w, "h2");
	j = w_job(&w, "h1", 30, "<application name=\"t\"><requires><software>"
		  "blas</software></requires></application>");
	w_over(&w, "h1");
	w_pass(&w, "h1", 0);
	CHECK_INT_EQ(w_nmoves(&w), 1);
	CHECK_STR_HAS(w_why(&w, j), "software not reported by host, assumed present");
	w_close(&w);
}

/* The paper's §5.3: h1 source, h2 busy communicating (load 0.97, 7.2 MB/s),
 * h3 CPU-loaded (2.52), h4 free. */
static void paper_hosts(struct world *w)
{
	w_host(w, "h1", "x86_64", NULL);
	w_host(w, "h2", "x86_64", NULL);
	w_host(w, "h3", "x86_64", NULL);
	w_host(w, "h4", "x86_64", NULL);
	w_host(w, "h5", "x86_64", NULL);
	w_update(w, "h2", RS_BUSY, 0.97, 80, 7.2e6, 4e9);
	w_update(w, "h3", RS_OVERLOADED, 2.52, 90, 0.1e6, 4e9);
	w_update(w, "h4", RS_FREE, 0.05, 70, 0.01e6, 4e9);
	w_update(w, "h5", RS_BUSY, 0.9, 80, 7.2e6, 4e9);
	w_update(w, "h1", RS_OVERLOADED, 3.1, 120, 0.2e6, 4e9);
}

TEST(sched_paper_policy2_picks_host2)
{
	struct world w;
	int j;

	CHECK(w_open(&w) == 0);
	paper_hosts(&w);
	CHECK(w_policy(&w, "examples/policies/policy2.policy") == 0);
	j = w_job(&w, "h1", 30, NULL);
	w_pass(&w, "h1", 0);
	CHECK_INT_EQ(w_nmoves(&w), 1);
	CHECK_STR_EQ(w.mv[0].to, "h2");
	CHECK_STR_HAS(w_why(&w, j), "trigger: policy migrate_when: load1=3.1 > 2 | procs=120 > 150 -> 1");
	CHECK_STR_HAS(w_why(&w, j), "h2 taken: accept_when load1=0.97 < 1 & procs=80 < 100 -> 1");
	w_close(&w);
}

TEST(sched_paper_policy3_picks_host4)
{
	struct world w;
	const char *why;
	int j;

	CHECK(w_open(&w) == 0);
	paper_hosts(&w);
	CHECK(w_policy(&w, "examples/policies/policy3.policy") == 0);
	j = w_job(&w, "h1", 30, NULL);
	w_pass(&w, "h1", 0);
	CHECK_INT_EQ(w_nmoves(&w), 1);
	CHECK_STR_EQ(w.mv[0].to, "h4");
	why = w_why(&w, j);
	CHECK_STR_HAS(why, "& net_bps=200K <= 5M -> 1");
	CHECK_STR_HAS(why, "h2 refused: accept_when load1=0.97 < 1 & procs=80 < 100 & net_bps=7.2M <= 3M -> 0");
	CHECK_STR_HAS(why, "h3 refused: accept_when load1=2.52 < 1");
	CHECK_STR_HAS(why, "h4 taken: accept_when load1=0.05 < 1 & procs=70 < 100 & net_bps=10K <= 3M -> 1");
	w_close(&w);
}

TEST(sched_place_least_loaded)
{
	struct world w;
	char err[REG_ERR_LEN];
	const char *pol = "place: least_loaded\n";

	CHECK(w_open(&w) == 0);
	w_host(&w, "h1", NULL, NULL);
	w_host(&w, "h2", NULL, NULL);
	w_host(&w, "h3", NULL, NULL);
	w_update(&w, "h2", RS_FREE, 0.4, 10, 0, 4e9);
	w_update(&w, "h3", RS_FREE, 0.2, 10, 0, 4e9);
	CHECK(reg_policy_write(w.r, pol, strlen(pol), 0, err) == 0);
	w_job(&w, "h1", 30, NULL);
	w_over(&w, "h1");
	w_pass(&w, "h1", 0);
	CHECK_INT_EQ(w_nmoves(&w), 1);
	CHECK_STR_EQ(w.mv[0].to, "h3");
	CHECK_STR_HAS(w_why(&w, 1), "h2 fits, not chosen");
	w_close(&w);
}

/* ---- safety ------------------------------------------------------------------ */

TEST(sched_stability_window)
{
	struct world w;

	CHECK(w_open(&w) == 0);
	w_set(&w, "stability", "3");
	w_host(&w, "h1", NULL, NULL);
	w_host(&w, "h2", NULL, NULL);
	w_free(&w, "h2");
	w_job(&w, "h1", 30, NULL);
	w_over(&w, "h1");
	w_pass(&w, "h1", 0);
	w_tick(&w, 1);
	w_tick(&w, 2.9);
	CHECK_INT_EQ(w_nmoves(&w), 0);
	w_tick(&w, 3.1);                       /* the timer sees it run out */
	CHECK_INT_EQ(w_nmoves(&w), 1);
	CHECK_STR_HAS(w_why(&w, 1), "held 3.1s (stability 3s)");
	w_close(&w);
}

TEST(sched_cooldown_and_min_age)
{
	struct world w;

	CHECK(w_open(&w) == 0);
	w_set(&w, "cooldown", "60");
	w_set(&w, "min_age", "20");
	w_host(&w, "h1", NULL, NULL);
	w_host(&w, "h2", NULL, NULL);
	w_free(&w, "h2");
	w_job(&w, "h1", 5, NULL);              /* too young */
	w_over(&w, "h1");
	w_pass(&w, "h1", 0);
	CHECK_INT_EQ(w_nmoves(&w), 0);
	CHECK_STR_HAS(w_why(&w, 1), "too young (age 5s < min_age 20s)");
	CHECK_STR_HAS(w_decisions(&w), "action=none dest=- reason=\"no job may move: job 1 too young");
	w_pass(&w, "h1", 16);                  /* age 21 */
	CHECK_INT_EQ(w_nmoves(&w), 1);
	w_finish(&w, 1);
	w_tick(&w, 20);                        /* the timer sees it land */
	/* now h2 is overloaded with it and h1 is free: the job stays */
	w_free(&w, "h1");
	w_over(&w, "h2");
	w_pass(&w, "h2", 21);
	CHECK_STR_HAS(w_why(&w, 1), "in cooldown (moved 1s ago, cooldown 60s)");
	w_pass(&w, "h2", 70);
	CHECK_INT_EQ(w_nmoves(&w), 1);
	w_pass(&w, "h2", 81);
	CHECK_INT_EQ(w_nmoves(&w), 2);
	CHECK_STR_EQ(w.mv[1].to, "h1");
	w_close(&w);
}

TEST(sched_max_concurrent_and_per_hour)
{
	struct world w;

	CHECK(w_open(&w) == 0);
	w_host(&w, "h1", NULL, NULL);
	w_host(&w, "h2", NULL, NULL);
	w_host(&w, "h3", NULL, NULL);
	w_host(&w, "h4", NULL, NULL);
	w_free(&w, "h3");
	w_free(&w, "h4");
	w_job(&w, "h1", 30, NULL);
	w_job(&w, "h2", 30, NULL);
	w_over(&w, "h1");
	w_over(&w, "h2");
	w_tick(&w, 0);
	CHECK_INT_EQ(w_nmoves(&w), 1);         /* max_concurrent 1 */
	CHECK_STR_HAS(w_decisions(&w), "host=h2 job=- action=none dest=- reason=\"max_concurrent 1 reached (1 moves in flight)\"");
	w_set(&w, "max_per_hour", "1");
	w_finish(&w, 1);
	w_free(&w, "h3");
	w_tick(&w, 1);
	CHECK_INT_EQ(w_nmoves(&w), 1);         /* one move already this hour */
	CHECK_STR_HAS(w_decisions(&w), "max_per_hour 1 reached");
	w_set(&w, "max_per_hour", "60");
	w_tick(&w, 2);
	CHECK_INT_EQ(w_nmoves(&w), 2);
	w_close(&w);
}

TEST(sched_reserves_destination_in_flight)
{
	struct world w;

	CHECK(w_open(&w) == 0);
	w_set(&w, "max_concurrent", "5");
	w_host(&w, "h1", NULL, NULL);
	w_host(&w, "h2", NULL, NULL);
	w_host(&w, "h3", NULL, NULL);
	w_free(&w, "h3");
	w_job(&w, "h1", 30, NULL);
	w_job(&w, "h2", 30, NULL);
	w_over(&w, "h1");
	w_over(&w, "h2");
	w_pass(&w, "h1", 0);
	w_pass(&w, "h2", 0);
	CHECK_INT_EQ(w_nmoves(&w), 1);         /* only one onto h3 */
	CHECK_STR_HAS(w_why(&w, 2), "h3 refused: reserved: move of job 1 to it in flight");
	CHECK_STR_HAS(w_why(&w, 2), "stays: fits nowhere");
	/* the move lands; h3 stays reserved until it reports again */
	w_finish(&w, 1);
	w_pass(&w, "h2", 1);
	CHECK_INT_EQ(w_nmoves(&w), 1);
	CHECK_STR_HAS(w_why(&w, 2), "waiting for its next report");
	w_update(&w, "h3", RS_BUSY, 1.2, 30, 0, 4e9);   /* now busy with job 1 */
	w_pass(&w, "h2", 2);
	CHECK_INT_EQ(w_nmoves(&w), 1);
	CHECK_STR_HAS(w_why(&w, 2), "h3 refused: accept_when (default) state=busy");
	w_close(&w);
}

TEST(sched_tick_plans_one_move_per_free_host)
{
	struct world w;

	CHECK(w_open(&w) == 0);
	w_set(&w, "max_concurrent", "5");
	w_host(&w, "h1", NULL, NULL);
	w_host(&w, "h2", NULL, NULL);
	w_host(&w, "h3", NULL, NULL);
	w_host(&w, "h4", NULL, NULL);
	w_free(&w, "h3");
	w_free(&w, "h4");
	w_job(&w, "h1", 30, NULL);
	w_job(&w, "h2", 30, NULL);
	w_over(&w, "h1");
	w_over(&w, "h2");
	w_tick(&w, 0);
	CHECK_INT_EQ(w_nmoves(&w), 2);
	CHECK(strcmp(w.mv[0].to, w.mv[1].to) != 0);
	w_close(&w);
}

TEST(sched_failed_destination_not_retried)
{
	struct world w;

	CHECK(w_open(&w) == 0);
	w_set(&w, "cooldown", "30");
	w_host(&w, "h1", NULL, NULL);
	w_host(&w, "h2", NULL, NULL);
	w_host(&w, "h3", NULL, NULL);
	w_free(&w, "h2");
	w_free(&w, "h3");
	w_job(&w, "h1", 30, NULL);
	w_over(&w, "h1");
	w_pass(&w, "h1", 0);
	CHECK_INT_EQ(w_nmoves(&w), 1);
	CHECK_STR_EQ(w.mv[0].to, "h2");
	w_finish(&w, 0);                       /* failed */
	w_pass(&w, "h1", 1);
	CHECK_INT_EQ(w_nmoves(&w), 2);
	CHECK_STR_EQ(w.mv[1].to, "h3");
	CHECK_STR_HAS(w_why(&w, 1), "h2 refused: a move of this job to it failed");
	w_close(&w);
}

TEST(sched_refused_request_is_reported)
{
	struct world w;

	CHECK(w_open(&w) == 0);
	w.migrate_rc = -EHOSTUNREACH;          /* no agent connection */
	w_host(&w, "h1", NULL, NULL);
	w_host(&w, "h2", NULL, NULL);
	w_free(&w, "h2");
	w_job(&w, "h1", 30, NULL);
	w_over(&w, "h1");
	w_pass(&w, "h1", 0);
	CHECK_INT_EQ(w_nmoves(&w), 1);
	CHECK_STR_HAS(w_decisions(&w), "action=none dest=h2 reason=\"move refused:");
	CHECK_STR_HAS(w_why(&w, 1), "move refused to h2");
	w_pass(&w, "h1", 1);                   /* not at once onto h2 again */
	CHECK_INT_EQ(w_nmoves(&w), 1);
	w_close(&w);
}

/*
 * Two symmetric hosts whose background load swings around the thresholds
 * (migrate_when load1 > 2, accept_when load1 < 1); the job adds 1.  The
 * host holding the job peaks above 2 briefly while the other dips below
 * 1.  Returns the number of moves in `secs` seconds of one update a second.
 */
static int pingpong(struct world *w, double secs)
{
	const char *pol = "migrate_when: load1 > 2\naccept_when: load1 < 1\n";
	char err[REG_ERR_LEN];
	const char *names[2] = { "a", "b" };
	int where = 0;

	reg_policy_write(w->r, pol, strlen(pol), 0, err);
	w_host(w, "a", NULL, NULL);
	w_host(w, "b", NULL, NULL);
	w_job(w, "a", 1000, NULL);
	for (double t = 0; t < secs; t += 1) {
		for (int k = 0; k < 2; k++) {
			double base = 0.5 + 0.6 * sin(t * 2 * M_PI / 7 + k * M_PI);
			double load = base + (where == k ? 1.0 : 0);

			w_update(w, names[k], load > 2 ? RS_OVERLOADED : load >= 1
				 ? RS_BUSY : RS_FREE, load, 50, 0, 4e9);
			w_pass(w, names[k], t);
		}
		w_tick(w, t + 0.5);
		if (w_nmoves(w) && w->mv[w->nmv - 1].mig &&
		    strcmp(w->mv[w->nmv - 1].to, names[where]) != 0) {
			w_finish(w, 1);
			where = !where;
		}
	}
	return w_nmoves(w);
}

TEST(sched_pingpong_shows_bouncing_without_safety)
{
	struct world w;

	CHECK(w_open(&w) == 0);
	w_set(&w, "cooldown", "0");
	w_set(&w, "stability", "0");
	CHECK(pingpong(&w, 120) >= 6);        /* the naive scheduler bounces */
	w_close(&w);
}

TEST(sched_no_pingpong_with_defaults_and_stability)
{
	struct world w;
	int n;

	CHECK(w_open(&w) == 0);
	w_set(&w, "cooldown", "60");
	w_set(&w, "stability", "3");           /* peaks above 2 last < 3 s */
	n = pingpong(&w, 600);
	CHECK(n <= 1);
	w_close(&w);
}

TEST(sched_no_pingpong_with_cooldown_only)
{
	struct world w;
	int n;

	CHECK(w_open(&w) == 0);
	w_set(&w, "cooldown", "60");
	n = pingpong(&w, 120);
	/* at most one move per cooldown window, never back within it */
	CHECK(n <= 3);
	for (int i = 1; i < n; i++)
		CHECK(strcmp(w.mv[i].to, w.mv[i - 1].from) == 0);
	w_close(&w);
}

/* ---- drain, manual, dry-run ---------------------------------------------------- */

TEST(sched_drain_moves_all_but_what_fits_nowhere)
{
	struct world w;
	char err[REG_ERR_LEN];
	int big;

	CHECK(w_open(&w) == 0);
	w_set(&w, "mode", "manual");            /* drain acts in manual too */
	w_set(&w, "max_concurrent", "1");
	w_host(&w, "h1", NULL, NULL);
	w_host(&w, "h2", NULL, NULL);
	w_host(&w, "h3", NULL, NULL);
	w_free(&w, "h1");
	w_free(&w, "h2");
	w_free(&w, "h3");
	w_job(&w, "h1", 30, NULL);
	w_job(&w, "h1", 20, NULL);
	big = w_job(&w, "h1", 10, "<application name=\"big\"><requires><memory "
		    "unit=\"GiB\">64</memory></requires></application>");
	CHECK(reg_host_state_write(w.r, "h1", "drain\n", 0, err) == 0);
	for (int t = 0; t < 10; t++) {
		w_tick(&w, t);
		if (w_nmoves(&w) && w.mv[w.nmv - 1].mig) {
			reg_lock(w.r);
			int inflight = reg_moves_active_locked(w.r);
			reg_unlock(w.r);
			if (inflight) {
				w_finish(&w, 1);
				w_free(&w, "h2");
				w_free(&w, "h3");
			}
		}
	}
	CHECK_INT_EQ(w_nmoves(&w), 2);
	CHECK(strcmp(w.mv[0].to, "h1") != 0 && strcmp(w.mv[1].to, "h1") != 0);
	CHECK_STR_HAS(w_why(&w, big), "stays: fits nowhere");
	CHECK_STR_HAS(w_why(&w, big), "trigger: drain of h1");
	CHECK_STR_HAS(w_why(&w, big), "missing memory: needs 64GiB, mem_avail 3.7GiB");
	CHECK_STR_HAS(w_decisions(&w), "host=h1 job=3 action=none dest=- reason=\"fits nowhere");
	/* draining: h1 accepts nothing */
	w_over(&w, "h2");
	w_free(&w, "h3");
	w_tick(&w, 20);                        /* manual: no automatic move */
	CHECK_INT_EQ(w_nmoves(&w), 2);
	CHECK(reg_host_state_write(w.r, "h1", "resume\n", 0, err) == 0);
	w_tick(&w, 21);
	CHECK_INT_EQ(w_nmoves(&w), 2);
	w_close(&w);
}

TEST(sched_draining_host_accepts_nothing)
{
	struct world w;
	char err[REG_ERR_LEN];

	CHECK(w_open(&w) == 0);
	w_host(&w, "h1", NULL, NULL);
	w_host(&w, "h2", NULL, NULL);
	w_host(&w, "h3", NULL, NULL);
	w_free(&w, "h2");
	w_free(&w, "h3");
	CHECK(reg_host_state_write(w.r, "h2", "drain\n", 0, err) == 0);
	w_job(&w, "h1", 30, NULL);
	w_over(&w, "h1");
	w_pass(&w, "h1", 0);
	CHECK_INT_EQ(w_nmoves(&w), 1);
	CHECK_STR_EQ(w.mv[0].to, "h3");
	CHECK_STR_HAS(w_why(&w, 1), "h2 refused: draining");
	w_close(&w);
}

TEST(sched_manual_moves_nothing)
{
	struct world w;

	CHECK(w_open(&w) == 0);
	w_set(&w, "mode", "manual");
	w_host(&w, "h1", NULL, NULL);
	w_host(&w, "h2", NULL, NULL);
	w_free(&w, "h2");
	w_job(&w, "h1", 30, NULL);
	w_over(&w, "h1");
	w_pass(&w, "h1", 0);
	w_tick(&w, 1);
	CHECK_INT_EQ(w_nmoves(&w), 0);
	CHECK_STR_EQ(w_decisions(&w), "");
	/* a write to procs/1/migrate still works */
	CHECK(reg_migrate_request(w.r, 1, "h2", 0, "user", 0, NULL, NULL, NULL) == 0);
	CHECK_INT_EQ(w_nmoves(&w), 1);
	w_close(&w);
}

TEST(sched_dry_run_plans_and_moves_nothing)
{
	struct world w;
	const char *plan;

	CHECK(w_open(&w) == 0);
	w_set(&w, "mode", "dry-run");
	w_set(&w, "max_concurrent", "4");
	w_host(&w, "h1", NULL, NULL);
	w_host(&w, "h2", NULL, NULL);
	w_host(&w, "h3", NULL, NULL);
	w_host(&w, "h4", NULL, NULL);
	w_free(&w, "h3");
	w_update(&w, "h4", RS_BUSY, 1.5, 10, 0, 4e9);
	w_job(&w, "h1", 30, NULL);
	w_job(&w, "h2", 30, NULL);
	w_over(&w, "h1");
	w_over(&w, "h2");
	w_pass(&w, "h1", 0);
	w_tick(&w, 0.25);
	w_tick(&w, 0.5);
	CHECK_INT_EQ(w_nmoves(&w), 0);
	plan = w_plan(&w);
	CHECK_STR_HAS(plan, "# dry-run plan at ");
	CHECK_STR_HAS(plan, "host=h1 job=1 action=move dest=h3 reason=");
	/* h3 is taken by the first planned move: the second finds nothing */
	CHECK_STR_HAS(plan, "host=h2 job=2 action=none dest=- reason=\"fits nowhere");
	CHECK_STR_HAS(w_why(&w, 1), "(mode dry-run): would move to h3");
	CHECK_STR_HAS(w_why(&w, 2), "h3 refused: reserved: another move to it is planned");
	/* decisions: one line per outcome, not one per tick */
	CHECK_STR_HAS(w_decisions(&w), "host=h1 job=1 action=none dest=h3 reason=\"dry-run, would move:");
	CHECK(strstr(strstr(w_decisions(&w), "host=h1") + 1, "host=h1") == NULL);
	/* back to auto: the plan is cleared and the move happens */
	w_set(&w, "mode", "auto");
	w_tick(&w, 1);
	CHECK_INT_EQ(w_nmoves(&w), 1);
	CHECK_STR_EQ(w_plan(&w), "");
	w_close(&w);
}

TEST(sched_timer_thread_decides)
{
	struct world w;
	char err[REG_ERR_LEN];

	CHECK(w_open(&w) == 0);
	w_host(&w, "h1", NULL, NULL);
	w_host(&w, "h2", NULL, NULL);
	w_free(&w, "h2");
	w_job(&w, "h1", 30, NULL);
	w_over(&w, "h1");
	CHECK(sched_start(w.s, err) == 0);
	for (int i = 0; i < 40 && w_nmoves(&w) == 0; i++)
		usleep(50 * 1000);
	sched_stop(w.s);
	CHECK_INT_EQ(w_nmoves(&w), 1);
	w_close(&w);
}
