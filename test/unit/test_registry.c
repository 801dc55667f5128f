/* test_registry.c — the registry model through its API, no FUSE: host
 * life cycle and leases, job ids, migrations and their hooks, validated
 * writes, persistence, the events ring and the notifier queue. */
#include "test/unit/unit.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/msg.h"
#include "common/util.h"
#include "fs/fs_events.h"
#include "fs/fs_notify.h"
#include "fs/registry.h"

/* ---- fixtures ------------------------------------------------------------- */

struct capture {
	pthread_mutex_t mu;
	char lines[64][512];
	int n;
	int migrate_calls, abort_calls, ruleset_calls, silent_calls;
	char silent_host[REG_NAME_MAX];
	int migrate_rc;
	struct reg_migrate_req last;
	char last_to[REG_NAME_MAX];
	char last_to_addr[256];       /* req->to_addr, copied */
	size_t last_nrules;
	int changes[16];
	int nchanges;
};

static void cap_event(void *ctx, const char *line)
{
	struct capture *c = ctx;

	pthread_mutex_lock(&c->mu);
	if (c->n < 64)
		snprintf(c->lines[c->n++], sizeof(c->lines[0]), "%s", line);
	pthread_mutex_unlock(&c->mu);
}

/* Index of the first event line containing s, or -1. */
static int cap_find(struct capture *c, const char *s)
{
	int r = -1;

	pthread_mutex_lock(&c->mu);
	for (int i = 0; i < c->n && r < 0; i++)
		if (strstr(c->lines[i], s))
			r = i;
	pthread_mutex_unlock(&c->mu);
	return r;
}

static int cap_migrate(void *ctx, const struct reg_migrate_req *req)
{
	struct capture *c = ctx;

	pthread_mutex_lock(&c->mu);
	c->migrate_calls++;
	c->last = *req;
	snprintf(c->last_to, sizeof(c->last_to), "%s", req->to);
	snprintf(c->last_to_addr, sizeof(c->last_to_addr), "%s", req->to_addr);
	pthread_mutex_unlock(&c->mu);
	return c->migrate_rc;
}

static void cap_abort(void *ctx, int job, uint64_t mig, const char *reason)
{
	struct capture *c = ctx;

	pthread_mutex_lock(&c->mu);
	c->abort_calls++;
	pthread_mutex_unlock(&c->mu);
}

static void cap_silent(void *ctx, const char *host)
{
	struct capture *c = ctx;

	pthread_mutex_lock(&c->mu);
	c->silent_calls++;
	snprintf(c->silent_host, sizeof(c->silent_host), "%s", host);
	pthread_mutex_unlock(&c->mu);
}

static void cap_ruleset(void *ctx, const struct reg_rules_snapshot *s)
{
	struct capture *c = ctx;

	c->ruleset_calls++;
	c->last_nrules = s->n;
}

static void cap_change(void *ctx, enum reg_change what, const char *host,
		       int job)
{
	struct capture *c = ctx;

	if (c->nchanges < 16)
		c->changes[c->nchanges++] = what;
}

static struct registry *new_reg(struct capture *c, const char *state)
{
	struct reg_config cfg = { state, "rules/default" };
	struct reg_net_hooks h = { c, cap_ruleset, cap_migrate, cap_abort, cap_silent };
	char err[REG_ERR_LEN];
	struct registry *r;

	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	r = reg_new(&cfg, err);
	if (!r)
		return NULL;
	reg_set_event_hook(r, cap_event, c);
	reg_set_net_hooks(r, &h);
	reg_set_change_hook(r, cap_change, c);
	return r;
}

static void rm_rf(const char *dir)
{
	char cmd[512];

	if (strncmp(dir, "/tmp/resched-unit-", 18) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static int hello(struct registry *r, const char *name, double interval)
{
	struct reg_kv info[] = { { "arch", "x86_64" }, { "addr", "10.0.0.1" } };

	return reg_host_hello(r, name, info, 2, interval);
}

static struct reg_proc_info proc(pid_t pid, uid_t uid, int job)
{
	static const char *const argv[] = { "/bin/test_tree", "10" };
	struct reg_proc_info p = { .pid = pid, .uid = uid, .prog = "/bin/test_tree",
				   .cwd = "/tmp", .argv = argv, .argc = 2, .job = job };

	return p;
}

/* ---- hosts ----------------------------------------------------------------- */

TEST(registry_hosts_keep_registration_order)
{
	struct capture c;
	struct registry *r = new_reg(&c, NULL);
	const struct reg_host *h;

	CHECK(r);
	CHECK_INT_EQ(hello(r, "b", 1), 0);
	CHECK_INT_EQ(hello(r, "a", 1), 0);
	CHECK_INT_EQ(hello(r, "c", 1), 0);
	CHECK_INT_EQ(hello(r, "a", 1), 0);       /* again: keeps its place */
	CHECK_INT_EQ(hello(r, "bad/name", 1), -EINVAL);
	reg_lock(r);
	h = reg_hosts_locked(r);
	CHECK_STR_EQ(h->name, "b");
	CHECK_STR_EQ(h->next->name, "a");
	CHECK_STR_EQ(h->next->next->name, "c");
	CHECK(h->next->next->next == NULL);
	CHECK_INT_EQ(reg_nhosts_locked(r), 3);
	CHECK_STR_EQ(reg_host_info_locked(h, "addr"), "10.0.0.1");
	reg_unlock(r);
	CHECK(cap_find(&c, "host-joined host=b") >= 0);
	CHECK_INT_EQ(c.changes[0], REG_HOST_ADDED);
	reg_free(r);
}

TEST(registry_update_sets_metrics_state_and_verdicts)
{
	struct capture c;
	struct registry *r = new_reg(&c, NULL);
	struct reg_metric m[] = { { "load1", 2.5 }, { "cpu_idle", 10 } };
	struct reg_verdict v[] = { { "load", RS_BUSY, 2.5 } };
	struct reg_host *h;
	double val;

	CHECK(r);
	CHECK_INT_EQ(reg_host_update(r, "x", m, 2, v, 1, RS_BUSY, 1), -ENOENT);
	CHECK_INT_EQ(hello(r, "x", 1), 0);
	CHECK_INT_EQ(reg_host_update(r, "x", m, 2, v, 1, RS_BUSY, 1), 0);
	reg_lock(r);
	h = reg_host_find_locked(r, "x");
	CHECK(h);
	CHECK_INT_EQ(reg_host_state_locked(h), RS_BUSY);
	CHECK_INT_EQ(reg_host_metric_locked(h, "load1", &val), 0);
	CHECK_NEAR(val, 2.5, 1e-9);
	CHECK_INT_EQ(reg_host_metric_locked(h, "procs", &val), -1);
	CHECK_INT_EQ(h->nverdicts, 1);
	reg_unlock(r);
	CHECK(cap_find(&c, "host-state host=x state=busy from=free") >= 0);
	reg_free(r);
}

TEST(registry_lease_expiry_marks_unavailable_and_jobs_lost)
{
	struct capture c;
	struct registry *r = new_reg(&c, NULL);
	struct reg_proc_info p = proc(100, 0, 0);
	char err[REG_ERR_LEN];
	int job;

	CHECK(r);
	CHECK_INT_EQ(hello(r, "h1", 0.1), 0);
	CHECK_INT_EQ(hello(r, "h2", 0.05), -ERANGE);   /* 0.1-3600 s */
	CHECK_INT_EQ(hello(r, "h2", 3601), -ERANGE);
	CHECK_INT_EQ(hello(r, "h\xc3\xa9", 1), -EINVAL);  /* the name's alphabet */
	job = reg_proc_register(r, "h1", &p);
	CHECK_INT_EQ(job, 1);
	CHECK_INT_EQ(reg_host_forget(r, "h1", 0, 0, err), -EBUSY);
	CHECK_INT_EQ(reg_start(r), 0);
	usleep(700 * 1000);                      /* > 3 intervals + a tick */
	reg_lock(r);
	CHECK_INT_EQ(reg_host_state_locked(reg_host_find_locked(r, "h1")),
		     RS_UNAVAILABLE);
	CHECK_INT_EQ(reg_job_locked(r, job)->status, JOB_LOST);
	reg_unlock(r);
	CHECK(cap_find(&c, "host-left host=h1") >= 0);
	CHECK_INT_EQ(c.silent_calls, 1);          /* the network side drops it */
	CHECK_STR_EQ(c.silent_host, "h1");
	/* it reports again: back to its state, the job runs again */
	CHECK_INT_EQ(reg_host_update(r, "h1", NULL, 0, NULL, 0, RS_FREE, 10), 0);
	reg_lock(r);
	CHECK_INT_EQ(reg_host_state_locked(reg_host_find_locked(r, "h1")), RS_FREE);
	CHECK_INT_EQ(reg_job_locked(r, job)->status, JOB_RUNNING);
	reg_unlock(r);
	reg_stop(r);
	/* forget works only once it is unavailable again */
	reg_tick(r, util_now_s() + 31);
	CHECK_INT_EQ(reg_host_forget(r, "h1", 0, 0, err), 0);
	CHECK_INT_EQ(reg_host_forget(r, "h1", 0, 0, err), -ENOENT);
	CHECK(cap_find(&c, "host-forgotten host=h1") >= 0);
	reg_free(r);
}

TEST(registry_drain_and_resume)
{
	struct capture c;
	struct registry *r = new_reg(&c, NULL);
	char err[REG_ERR_LEN];

	CHECK(r);
	CHECK_INT_EQ(hello(r, "h1", 1), 0);
	CHECK_INT_EQ(reg_host_state_write(r, "h1", "drain\n", 0, err), 0);
	reg_lock(r);
	CHECK_INT_EQ(reg_host_state_locked(reg_host_find_locked(r, "h1")),
		     RS_DRAINING);
	reg_unlock(r);
	CHECK_INT_EQ(reg_host_state_write(r, "h1", "resume\n", 0, err), 0);
	CHECK_INT_EQ(reg_host_state_write(r, "h1", "busy\n", 0, err), -EINVAL);
	CHECK_INT_EQ(reg_host_state_write(r, "nope", "drain\n", 0, err), -ENOENT);
	reg_lock(r);
	CHECK_INT_EQ(reg_host_state_locked(reg_host_find_locked(r, "h1")), RS_FREE);
	reg_unlock(r);
	reg_free(r);
}

/* ---- jobs and migrations ---------------------------------------------------- */

TEST(registry_hosts_are_capped)
{
	struct capture c;
	struct registry *r = new_reg(&c, NULL);
	char name[32];

	CHECK(r);
	for (int i = 0; i < REG_HOSTS_MAX; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		if (reg_host_hello(r, name, NULL, 0, 60) != 0) {
			CHECK(!"a hello below the cap was refused");
			break;
		}
	}
	CHECK_INT_EQ(reg_host_hello(r, "one-too-many", NULL, 0, 60), -ENOSPC);
	CHECK_INT_EQ(reg_host_hello(r, "n7", NULL, 0, 60), 0);   /* known: fine */
	reg_lock(r);
	CHECK_INT_EQ((int)reg_nhosts_locked(r), REG_HOSTS_MAX);
	CHECK(!reg_host_find_locked(r, "one-too-many"));
	reg_unlock(r);
	reg_free(r);
}

TEST(registry_job_ids_are_stable)
{
	struct capture c;
	struct registry *r = new_reg(&c, NULL);
	struct reg_proc_info p = proc(10, 1000, 0);
	char err[REG_ERR_LEN], token[REG_TOKEN_HEX + 1];
	uint64_t mig;

	CHECK(r);
	CHECK_INT_EQ(reg_proc_register(r, "h1", &p), -ENOENT);
	CHECK_INT_EQ(hello(r, "h1", 1), 0);
	CHECK_INT_EQ(hello(r, "h2", 1), 0);
	CHECK_INT_EQ(reg_proc_register(r, "h1", &p), 1);
	CHECK_INT_EQ(reg_proc_register(r, "h1", &p), 2);
	p.job = 1;                       /* claimed by a host it does not run on */
	p.pid = 77;
	CHECK_INT_EQ(reg_proc_register(r, "h2", &p), 3);
	CHECK(cap_find(&c, "job-id-refused host=h2 job=1 pid=77") >= 0);
	p.job = 9000000;                 /* an id the registry never gave */
	CHECK_INT_EQ(reg_proc_register(r, "h2", &p), 4);
	p.job = 1;                       /* its own host announces it again */
	p.uid = 0;                       /* ... and says another owner */
	CHECK_INT_EQ(reg_proc_register(r, "h1", &p), 1);
	CHECK(cap_find(&c, "job-uid-kept job=1 host=h1 uid=1000 said=0") >= 0);
	reg_lock(r);
	CHECK_STR_EQ(reg_job_locked(r, 1)->host, "h1");
	CHECK_INT_EQ(reg_job_locked(r, 1)->pid, 77);
	CHECK_INT_EQ(reg_job_locked(r, 1)->uid, 1000);
	CHECK_INT_EQ(reg_job_max_locked(r), 4);
	reg_unlock(r);
	/* the successor of a move in flight: its id only with the token */
	CHECK_INT_EQ(reg_migrate_request(r, 1, "h2", 0, "user", 0, NULL, NULL, err), 0);
	reg_lock(r);
	mig = reg_job_locked(r, 1)->mig;
	snprintf(token, sizeof(token), "%s", reg_job_locked(r, 1)->mig_token);
	reg_unlock(r);
	CHECK_INT_EQ((int)strlen(token), REG_TOKEN_HEX);
	CHECK_INT_EQ(reg_move_check(r, 1, mig, "h1", 's', token), 0);
	CHECK_INT_EQ(reg_move_check(r, 1, mig, "h2", 'd', token), 0);
	CHECK_INT_EQ(reg_move_check(r, 1, mig, "h2", 's', token), -EPERM);
	CHECK_INT_EQ(reg_move_check(r, 1, mig + 1, "h1", 's', token), -ESRCH);
	p.mig = mig;
	p.token = "00000000000000000000000000000000000000000000000000000000000000ff";
	CHECK_INT_EQ(reg_move_check(r, 1, mig, "h1", 's', p.token), -EPERM);
	CHECK_INT_EQ(reg_proc_register(r, "h2", &p), 5);
	p.token = token;
	CHECK_INT_EQ(reg_proc_register(r, "h2", &p), 1);
	reg_lock(r);
	CHECK_STR_EQ(reg_job_locked(r, 1)->host, "h2");
	reg_unlock(r);
	CHECK_INT_EQ(reg_proc_exit(r, 2, JOB_DONE, 0), 0);
	CHECK(cap_find(&c, "job-status job=2 host=h1 status=done code=0") >= 0);
	reg_free(r);
}

TEST(registry_migrate_checks_and_nonblocking_move)
{
	struct capture c;
	struct registry *r = new_reg(&c, NULL);
	struct reg_proc_info p = proc(10, 1000, 0);
	struct reg_mig_timings t = { .poll_s = 0.1, .connect_s = 0.01,
				     .transfer_s = 0.2, .restore_s = 0.05, .bytes = 4096 };
	char err[REG_ERR_LEN];
	struct reg_job *j;

	CHECK(r);
	hello(r, "h1", 1);
	hello(r, "h2", 1);
	hello(r, "h3", 1);
	CHECK_INT_EQ(reg_proc_register(r, "h1", &p), 1);
	CHECK_INT_EQ(reg_migrate_request(r, 1, "h2", 1001, "user", 0, NULL,
					 NULL, err), -EACCES);
	CHECK_INT_EQ(reg_migrate_request(r, 1, "zz", 0, "user", 0, NULL, NULL,
					 err), -ENOENT);
	CHECK_INT_EQ(reg_migrate_request(r, 5, "h2", 0, "user", 0, NULL, NULL,
					 err), -ENOENT);
	CHECK_INT_EQ(reg_migrate_request(r, 1, "h1", 0, "user", 0, NULL, NULL,
					 err), 0);              /* already there */
	reg_lock(r);
	CHECK_STR_HAS(reg_job_locked(r, 1)->result, "none: job 1 already runs on h1: nothing to do");
	reg_unlock(r);
	CHECK_INT_EQ(c.migrate_calls, 0);
	reg_host_state_write(r, "h3", "drain", 0, err);
	CHECK_INT_EQ(reg_migrate_request(r, 1, "h3", 0, "user", 0, NULL, NULL,
					 err), -EHOSTUNREACH);
	p.uid = 0;                    /* root's job: sched/allow_root is 0 */
	CHECK_INT_EQ(reg_proc_register(r, "h1", &p), 2);
	CHECK_INT_EQ(reg_migrate_request(r, 2, "h2", 0, "user", 0, NULL, NULL,
					 err), -EPERM);
	CHECK_STR_HAS(err, "runs as root and sched/allow_root is 0");
	p.uid = 1000;
	CHECK_INT_EQ(c.migrate_calls, 0);
	CHECK_INT_EQ(reg_migrate_request(r, 1, "h2", 1000, "user", 0, NULL,
					 NULL, err), 0);
	CHECK_INT_EQ(c.migrate_calls, 1);
	CHECK_STR_EQ(c.last_to, "h2");
	CHECK_INT_EQ(reg_migrate_request(r, 1, "h2", 0, "user", 0, NULL, NULL,
					 err), -EBUSY);
	CHECK_INT_EQ(reg_migration_result(r, 1, c.last.mig + 1, 1, NULL, 0, &t),
		     -ESRCH);
	CHECK_INT_EQ(reg_migration_result(r, 1, c.last.mig, 1, NULL, 0, &t), 0);
	reg_lock(r);
	j = reg_job_locked(r, 1);
	CHECK_STR_EQ(j->host, "h2");
	CHECK_INT_EQ(j->status, JOB_MIGRATED);
	CHECK_INT_EQ(j->nhistory, 1);
	CHECK_STR_HAS(j->history[0], " h1 h2 poll=0.100");
	CHECK_STR_HAS(j->result, "ok from=h1 to=h2");
	reg_unlock(r);
	p.job = 1;                                 /* the successor registers */
	CHECK_INT_EQ(reg_proc_register(r, "h2", &p), 1);
	reg_lock(r);
	CHECK_INT_EQ(reg_job_locked(r, 1)->status, JOB_RUNNING);
	reg_unlock(r);
	CHECK(cap_find(&c, "migration-requested job=1") >= 0);
	CHECK(cap_find(&c, "migration-finished job=1") >= 0);
	reg_free(r);
}

/* A registration's MPI keys: what is accepted, what is refused whole. */
TEST(registry_mpi_keys_parsed_strictly)
{
	static const char *const good[] = {
		"job_register mpi_ns=1523580929 mpi_rank=2 mpi_size=4 mpi_hosts=h1,10.0.0.2",
		"job_register mpi_ns=ns mpi_rank=0 mpi_size=1",
	};
	static const char *const bad[] = {
		"job_register mpi_ns=ns mpi_rank=4 mpi_size=4",
		"job_register mpi_ns=ns mpi_rank=-1 mpi_size=4",
		"job_register mpi_ns=ns mpi_rank=1.5 mpi_size=4",
		"job_register mpi_ns=ns mpi_rank=0 mpi_size=99999999",
		"job_register mpi_ns=ns mpi_size=4",
		"job_register mpi_ns= mpi_rank=0 mpi_size=4",
		"job_register mpi_ns=a%20b mpi_rank=0 mpi_size=4",
		"job_register mpi_ns=ns mpi_rank=0 mpi_size=4 mpi_hosts=a%0Ab",
	};
	char err[MSG_ERR_LEN];

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		struct msg *m = msg_decode(good[i], strlen(good[i]), err, sizeof(err));
		struct reg_proc_info p = { 0 };

		CHECK(m);
		CHECK_INT_EQ(reg_mpi_parse(m, &p), 1);
		CHECK(p.mpi_rank >= 0 && p.mpi_rank < p.mpi_size);
		msg_free(m);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct msg *m = msg_decode(bad[i], strlen(bad[i]), err, sizeof(err));
		struct reg_proc_info p = { 0 };

		CHECK(m);
		CHECK_INT_EQ(reg_mpi_parse(m, &p), -1);
		CHECK(p.mpi_ns == NULL);
		msg_free(m);
	}
}

/* An MPI rank: only to its job's hosts (by name or addr); no prepare; its
 * successor registers during the move and gets the job when the source
 * says it moved; a failed move's token proves nothing afterwards. */
TEST(registry_mpi_rank_moves)
{
	struct capture c;
	struct registry *r = new_reg(&c, NULL);
	struct reg_proc_info p = proc(10, 1000, 0), q;
	struct reg_mig_timings t = { .bytes = 100, .mpi = 1, .agree_s = 0.02,
				     .spawn_s = 0.2, .merge_s = 0.01,
				     .transfer_s = 0.003, .restore_s = 0.004,
				     .split_s = 0.001 };
	struct reg_kv info3[] = { { "arch", "x86_64" }, { "addr", "10.0.0.3" } };
	char err[REG_ERR_LEN], token[REG_TOKEN_HEX + 1];
	struct reg_job *j;

	CHECK(r);
	hello(r, "h1", 1);
	hello(r, "h2", 1);
	reg_host_hello(r, "h3", info3, 2, 1);
	p.mpi_ns = "77";
	p.mpi_rank = 1;
	p.mpi_size = 2;
	p.mpi_hosts = "h1,10.0.0.3";
	CHECK_INT_EQ(reg_proc_register(r, "h1", &p), 1);
	CHECK_INT_EQ(reg_migrate_request(r, 1, "h2", 1000, "user", 0, NULL, NULL,
					 err), -EINVAL);
	CHECK_STR_HAS(err, "not in the hostfile of MPI job 77");
	reg_lock(r);
	CHECK_STR_HAS(reg_job_locked(r, 1)->result, "refused to=h2 error=EINVAL");
	reg_unlock(r);
	CHECK_INT_EQ(c.migrate_calls, 0);
	CHECK_INT_EQ(reg_migrate_request(r, 1, "h3", 1000, "user", 0, NULL, NULL,
					 err), 0);
	CHECK_INT_EQ(c.last.mpi, 1);
	CHECK_STR_EQ(c.last_to_addr, "10.0.0.3");   /* the job's name for h3 */
	reg_lock(r);
	snprintf(token, sizeof(token), "%s", reg_job_locked(r, 1)->mig_token);
	reg_unlock(r);
	q = proc(20, 1000, 1);                       /* the successor, on h3 */
	q.token = token;
	q.mpi_ns = "77";
	q.mpi_rank = 1;
	q.mpi_size = 2;
	CHECK_INT_EQ(reg_proc_register(r, "h3", &q), 1);
	reg_lock(r);
	j = reg_job_locked(r, 1);
	CHECK_STR_EQ(j->host, "h1");                 /* not before the result */
	CHECK_INT_EQ(j->pid, 10);
	CHECK_STR_EQ(j->mpi_hosts, "h1,10.0.0.3");   /* kept */
	reg_unlock(r);
	CHECK_INT_EQ(reg_migration_result(r, 1, c.last.mig, 1, "migrated", 0, &t), 0);
	reg_lock(r);
	j = reg_job_locked(r, 1);
	CHECK_STR_EQ(j->host, "h3");
	CHECK_INT_EQ(j->pid, 20);
	CHECK_INT_EQ(j->status, JOB_RUNNING);
	CHECK_STR_HAS(j->history[0], " h1 h3 agree=0.020 spawn=0.200 merge=0.010 "
		      "transfer=0.003 restore=0.004 split=0.001 ");
	reg_unlock(r);
	/* a move that fails: its successor's late claim gets a new id */
	CHECK_INT_EQ(reg_migrate_request(r, 1, "h1", 1000, "user", 0, NULL, NULL,
					 err), 0);
	reg_lock(r);
	snprintf(token, sizeof(token), "%s", reg_job_locked(r, 1)->mig_token);
	reg_unlock(r);
	CHECK_INT_EQ(reg_migration_result(r, 1, c.last.mig, 0, "spawn failed", 0, NULL), 0);
	q.pid = 30;
	q.token = token;
	CHECK_INT_EQ(reg_proc_register(r, "h1", &q), 2);
	CHECK(cap_find(&c, "job-id-refused host=h1 job=1 pid=30") >= 0);
	reg_lock(r);
	CHECK_STR_EQ(reg_job_locked(r, 1)->host, "h3");
	CHECK_INT_EQ(reg_job_locked(r, 1)->pid, 20);
	reg_unlock(r);
	/* the job dies mid-move: the move fails now, not at the timeout */
	CHECK_INT_EQ(reg_migrate_request(r, 1, "h1", 1000, "user", 0, NULL, NULL,
					 err), 0);
	CHECK_INT_EQ(reg_proc_exit(r, 1, JOB_FAILED, -1), 0);
	reg_lock(r);
	CHECK_STR_HAS(reg_job_locked(r, 1)->result, "the job ended (failed) during the move");
	CHECK_INT_EQ(reg_job_locked(r, 1)->status, JOB_FAILED);
	reg_unlock(r);
	CHECK_INT_EQ(c.abort_calls, 1);
	reg_free(r);
}

struct waiter {
	struct registry *r;
	int rc;
};

static void *wait_move(void *arg)
{
	struct waiter *w = arg;
	char err[REG_ERR_LEN];

	w->rc = reg_migrate_request(w->r, 1, "h2", 0, "user", 1, NULL, NULL,
				    err);
	return NULL;
}

TEST(registry_blocking_migrate_wakes_on_result)
{
	struct capture c;
	struct registry *r = new_reg(&c, NULL);
	struct reg_proc_info p = proc(10, 1000, 0);
	struct waiter w = { r, 1 };
	pthread_t th;
	int i;

	CHECK(r);
	hello(r, "h1", 1);
	hello(r, "h2", 1);
	CHECK_INT_EQ(reg_proc_register(r, "h1", &p), 1);
	pthread_create(&th, NULL, wait_move, &w);
	for (i = 0; i < 100 && !c.migrate_calls; i++)
		usleep(10000);
	CHECK_INT_EQ(c.migrate_calls, 1);
	usleep(50000);
	CHECK_INT_EQ(w.rc, 1);                   /* still waiting */
	CHECK_INT_EQ(reg_migration_result(r, 1, c.last.mig, 0, "link broke",
					  EIO, NULL), 0);
	pthread_join(th, NULL);
	CHECK_INT_EQ(w.rc, -EIO);
	reg_lock(r);
	CHECK_STR_HAS(reg_job_locked(r, 1)->result, "failed from=h1 to=h2 error=EIO");
	CHECK_STR_EQ(reg_job_locked(r, 1)->host, "h1");
	CHECK_INT_EQ(reg_job_locked(r, 1)->status, JOB_RUNNING);
	reg_unlock(r);
	CHECK(cap_find(&c, "migration-failed job=1") >= 0);
	reg_free(r);
}

TEST(registry_migrate_timeout_and_refused_hook)
{
	struct capture c;
	struct registry *r = new_reg(&c, NULL);
	struct reg_proc_info p = proc(10, 1000, 0);
	char err[REG_ERR_LEN];
	double t0;

	CHECK(r);
	hello(r, "h1", 1);
	hello(r, "h2", 1);
	CHECK_INT_EQ(reg_proc_register(r, "h1", &p), 1);
	CHECK_INT_EQ(reg_sched_write(r, "migrate_timeout", "0.3\n", 0, err), 0);
	t0 = util_now_s();
	CHECK_INT_EQ(reg_migrate_request(r, 1, "h2", 0, "user", 1, NULL, NULL,
					 err), -ETIMEDOUT);
	CHECK(util_now_s() - t0 >= 0.29 && util_now_s() - t0 < 2);
	CHECK_INT_EQ(c.abort_calls, 1);
	c.migrate_rc = -EHOSTUNREACH;            /* no agent connection */
	CHECK_INT_EQ(reg_migrate_request(r, 1, "h2", 0, "user", 1, NULL, NULL,
					 err), -EHOSTUNREACH);
	reg_lock(r);
	CHECK_INT_EQ(reg_job_locked(r, 1)->status, JOB_RUNNING);
	CHECK_INT_EQ(reg_job_locked(r, 1)->nhistory, 2);
	reg_unlock(r);
	reg_free(r);
}

/* ---- validation --------------------------------------------------------------- */

static const char good_rule[] =
	"rl_number: 91\nrl_name: t91\nrl_type: simple\nrl_script: @load1\n"
	"rl_operator: >\nrl_busy: 2\nrl_overLd: 3\n";

TEST(registry_rules_validated_whole)
{
	struct capture c;
	struct registry *r = new_reg(&c, NULL);
	char err[REG_ERR_LEN];
	size_t n0, n1, len;

	CHECK(r);
	reg_lock(r);
	reg_rule_names_locked(r, &n0);
	reg_unlock(r);
	CHECK_INT_EQ(reg_rule_write(r, "t.rule", good_rule, strlen(good_rule),
				    0, err), 0);
	CHECK_INT_EQ(c.ruleset_calls, 1);
	CHECK_INT_EQ(c.last_nrules, n0 + 1);
	CHECK_INT_EQ(reg_rule_write(r, "t.rule", "rl_number: x\n", 13, 0, err),
		     -EINVAL);
	CHECK_STR_HAS(err, "t.rule");
	CHECK(cap_find(&c, "rule-rejected file=t.rule uid=0") >= 0);
	reg_lock(r);
	CHECK_STR_EQ(reg_rule_text_locked(r, "t.rule", &len), good_rule);
	reg_unlock(r);
	/* the same rule number twice across files is a set-level error */
	CHECK_INT_EQ(reg_rule_write(r, "u.rule", good_rule, strlen(good_rule),
				    0, err), -EINVAL);
	CHECK_INT_EQ(reg_rule_write(r, "bad name", good_rule, 5, 0, err), -EINVAL);
	CHECK_INT_EQ(reg_rule_rename(r, "t.rule", "v.rule", 0, err), 0);
	CHECK_INT_EQ(reg_rule_remove(r, "v.rule", 0, err), 0);
	CHECK_INT_EQ(reg_rule_remove(r, "v.rule", 0, err), -ENOENT);
	reg_lock(r);
	reg_rule_names_locked(r, &n1);
	reg_unlock(r);
	CHECK_INT_EQ(n1, n0);
	CHECK_INT_EQ(c.ruleset_calls, 3);
	reg_free(r);
}

TEST(registry_policy_and_sched_validated)
{
	struct capture c;
	struct registry *r = new_reg(&c, NULL);
	const char *pol = "migrate_when: load1 > 2\n";
	struct reg_sched s;
	char err[REG_ERR_LEN];

	CHECK(r);
	CHECK_INT_EQ(reg_policy_write(r, pol, strlen(pol), 0, err), 0);
	CHECK_INT_EQ(reg_policy_write(r, "migrate_when: (", 15, 0, err), -EINVAL);
	CHECK(cap_find(&c, "policy-rejected uid=0") >= 0);
	reg_lock(r);
	CHECK_STR_EQ(reg_policy_text_locked(r, NULL), pol);
	CHECK(reg_policy_locked(r) != NULL);
	reg_unlock(r);
	CHECK_INT_EQ(reg_sched_write(r, "mode", "dry-run\n", 0, err), 0);
	CHECK_INT_EQ(reg_sched_write(r, "mode", "foo\n", 0, err), -EINVAL);
	CHECK_INT_EQ(reg_sched_write(r, "max_concurrent", "2.5", 0, err), -EINVAL);
	CHECK_INT_EQ(reg_sched_write(r, "max_concurrent", "3", 0, err), 0);
	CHECK_INT_EQ(reg_sched_write(r, "nonesuch", "3", 0, err), -ENOENT);
	reg_sched_get(r, &s);
	CHECK_INT_EQ(s.mode, SCHED_DRYRUN);
	CHECK_INT_EQ(s.max_concurrent, 3);
	reg_free(r);
}

/* ---- persistence ---------------------------------------------------------------- */

TEST(registry_state_survives_restart)
{
	struct capture c;
	char dir[128], err[REG_ERR_LEN];
	struct registry *r;
	struct reg_proc_info p = proc(10, 1000, 0);
	struct reg_sched s;

	snprintf(dir, sizeof(dir), "/tmp/resched-unit-reg-%d", (int)getpid());
	rm_rf(dir);
	r = new_reg(&c, dir);
	CHECK(r);
	CHECK_INT_EQ(reg_rule_write(r, "t.rule", good_rule, strlen(good_rule),
				    0, err), 0);
	CHECK_INT_EQ(reg_policy_write(r, "select: oldest\n", 15, 0, err), 0);
	CHECK_INT_EQ(reg_sched_write(r, "cooldown", "42", 0, err), 0);
	hello(r, "h1", 1);
	hello(r, "h2", 1);
	CHECK_INT_EQ(reg_proc_register(r, "h1", &p), 1);
	CHECK_INT_EQ(reg_proc_register(r, "h1", &p), 2);
	CHECK_INT_EQ(reg_migrate_request(r, 2, "h2", 0, "user", 0, NULL, NULL,
					 err), 0);
	CHECK_INT_EQ(reg_migration_result(r, 2, c.last.mig, 1, NULL, 0, NULL), 0);
	reg_free(r);

	r = new_reg(&c, dir);
	CHECK(r);
	reg_lock(r);
	CHECK(reg_rule_text_locked(r, "t.rule", NULL) != NULL);
	CHECK_STR_EQ(reg_policy_text_locked(r, NULL), "select: oldest\n");
	reg_unlock(r);
	reg_sched_get(r, &s);
	CHECK_NEAR(s.cooldown, 42, 1e-9);
	hello(r, "h2", 1);
	p.job = 2;                                /* re-announced by its agent */
	CHECK_INT_EQ(reg_proc_register(r, "h2", &p), 2);
	p.job = 0;
	CHECK_INT_EQ(reg_proc_register(r, "h2", &p), 3);   /* counter kept */
	reg_lock(r);
	CHECK_INT_EQ(reg_job_locked(r, 2)->nhistory, 1);   /* history kept */
	CHECK_STR_HAS(reg_job_locked(r, 2)->history[0], "h1 h2");
	reg_unlock(r);
	reg_free(r);
	rm_rf(dir);
}

/* ---- events ring ------------------------------------------------------------------- */

TEST(events_ring_backlog_and_nonblocking_reads)
{
	struct fs_events *ev = fs_events_new(120);
	char buf[8192], line[32];
	uint64_t pos;
	ssize_t n;

	CHECK(ev);
	for (int i = 0; i < 150; i++) {
		snprintf(line, sizeof(line), "L%03d", i);
		fs_events_push(ev, line);
	}
	pos = fs_events_open(ev);                 /* last 100 lines */
	n = fs_events_read(ev, &pos, buf, sizeof(buf), 1, NULL, NULL);
	CHECK_INT_EQ(n, 100 * 5);
	CHECK(strncmp(buf, "L050\n", 5) == 0);
	CHECK_INT_EQ(fs_events_read(ev, &pos, buf, sizeof(buf), 1, NULL, NULL),
		     -EAGAIN);
	CHECK(!fs_events_ready(ev, pos));
	fs_events_push(ev, "new");
	CHECK(fs_events_ready(ev, pos));
	CHECK_INT_EQ(fs_events_read(ev, &pos, buf, 3, 1, NULL, NULL), 3);
	pos = 0;                                  /* overrun: skip to oldest */
	n = fs_events_read(ev, &pos, buf, 5, 1, NULL, NULL);
	CHECK_INT_EQ(n, 5);
	CHECK(strncmp(buf, "L031\n", 5) == 0);
	fs_events_shutdown(ev);
	pos = fs_events_end(ev);
	CHECK_INT_EQ(fs_events_read(ev, &pos, buf, sizeof(buf), 0, NULL, NULL), 0);
	fs_events_free(ev);
}

/* ---- notifier queue ------------------------------------------------------------------ */

TEST(notify_queue_coalesces_touches)
{
	struct fs_notify *n = fs_notify_new("/nonexistent");
	enum fs_notify_op op;
	char rel[256];

	CHECK(n);
	fs_notify_change(n, REG_HOST_ADDED, "h1", 0);
	for (int i = 0; i < 1000; i++) {
		fs_notify_change(n, REG_HOST_STATE, "h1", 0);
		fs_notify_change(n, REG_JOB_STATUS, NULL, 4);
	}
	fs_notify_change(n, REG_HOST_REMOVED, "h1", 0);
	fs_notify_change(n, REG_RULES, NULL, 0);
	CHECK_INT_EQ(fs_notify_pending(n), 4);
	CHECK_INT_EQ(fs_notify_pop(n, &op, rel, sizeof(rel)), 0);
	CHECK(op == FSN_MKDIR);
	CHECK_STR_EQ(rel, "hosts/h1");
	CHECK_INT_EQ(fs_notify_pop(n, &op, rel, sizeof(rel)), 0);
	CHECK(op == FSN_TOUCH);
	CHECK_STR_EQ(rel, "hosts/h1/state");
	/* once taken, a new touch of the same path queues again */
	fs_notify_change(n, REG_HOST_STATE, "h1", 0);
	CHECK_INT_EQ(fs_notify_pending(n), 3);
	CHECK_INT_EQ(fs_notify_pop(n, &op, rel, sizeof(rel)), 0);
	CHECK_STR_EQ(rel, "procs/4/status");
	CHECK_INT_EQ(fs_notify_pop(n, &op, rel, sizeof(rel)), 0);
	CHECK(op == FSN_RMDIR);
	CHECK_INT_EQ(fs_notify_pop(n, &op, rel, sizeof(rel)), 0);
	CHECK_STR_EQ(rel, "hosts/h1/state");
	CHECK_INT_EQ(fs_notify_pop(n, &op, rel, sizeof(rel)), -1);
	fs_notify_free(n);
}

TEST(notify_queue_10000_hosts)
{
	struct fs_notify *n = fs_notify_new("/nonexistent");
	char name[32];
	double t0 = util_now_s();

	CHECK(n);
	for (int round = 0; round < 5; round++)
		for (int i = 0; i < 10000; i++) {
			snprintf(name, sizeof(name), "h%d", i);
			fs_notify_change(n, REG_HOST_STATE, name, 0);
		}
	CHECK_INT_EQ(fs_notify_pending(n), 10000);
	CHECK(util_now_s() - t0 < 2.0);
	fs_notify_free(n);
}
