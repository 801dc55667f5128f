/* test_registry_durable.c — --state writes that fail leave everything as
 * it was; mv onto an existing rule; leftover temporary files; strict
 * sched values read back from DIR/sched. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "fs/fs_state.h"
#include "fs/registry.h"
#include "test/unit/unit.h"

static const char rule_a[] =
	"rl_number: 61\nrl_name: da\nrl_type: simple\nrl_script: @load1\n"
	"rl_operator: >\nrl_busy: 2\nrl_overLd: 3\n";
static const char rule_b[] =
	"rl_number: 62\nrl_name: db\nrl_type: simple\nrl_script: @load1\n"
	"rl_operator: >\nrl_busy: 4\nrl_overLd: 5\n";

static struct registry *open_reg(const char *dir)
{
	struct reg_config cfg = { dir, NULL };
	char err[REG_ERR_LEN];

	return reg_new(&cfg, err);
}

static void state_dir(char *buf, size_t size, const char *tag)
{
	char cmd[300];

	snprintf(buf, size, "/tmp/resched-unit-durable-%s-%d", tag,
		 (int)getpid());
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", buf);
	if (system(cmd) != 0)
		return;
}

static void rm_dir(const char *dir)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return;
}

TEST(durable_rename_onto_an_existing_rule_replaces_it)
{
	char dir[200], err[REG_ERR_LEN], p[700];
	struct registry *r;
	size_t len;
	char *t;

	state_dir(dir, sizeof(dir), "mv");
	r = open_reg(dir);
	CHECK(r);
	CHECK_INT_EQ(reg_rule_write(r, "a.rule", rule_a, strlen(rule_a), 0, err), 0);
	CHECK_INT_EQ(reg_rule_write(r, "b.rule", rule_b, strlen(rule_b), 0, err), 0);
	CHECK_INT_EQ(reg_rule_rename(r, "a.rule", "b.rule", 0, err), 0);
	reg_lock(r);
	CHECK(reg_rule_text_locked(r, "a.rule", NULL) == NULL);
	CHECK(strcmp(reg_rule_text_locked(r, "b.rule", NULL), rule_a) == 0);
	CHECK_INT_EQ(reg_ruleset_locked(r)->n, 1);
	reg_unlock(r);
	reg_free(r);
	snprintf(p, sizeof(p), "%s/rules/a.rule", dir);
	CHECK(access(p, F_OK) < 0);
	snprintf(p, sizeof(p), "%s/rules/b.rule", dir);
	t = util_read_file(p, 1 << 16, &len);
	CHECK(t && strcmp(t, rule_a) == 0);
	free(t);
	rm_dir(dir);
}

TEST(durable_failed_state_write_changes_nothing)
{
	char dir[200], err[REG_ERR_LEN], p[700];
	struct registry *r;
	struct reg_sched s;
	int rc;

	state_dir(dir, sizeof(dir), "fail");
	r = open_reg(dir);
	CHECK(r);
	CHECK_INT_EQ(reg_rule_write(r, "a.rule", rule_a, strlen(rule_a), 0, err), 0);
	CHECK_INT_EQ(reg_sched_write(r, "cooldown", "30\n", 0, err), 0);
	CHECK_INT_EQ(reg_policy_write(r, "select: oldest\n", 15, 0, err), 0);
	/* the state directory's rules/ and the files' directory become
	 * unusable (a file where the directory was): every write fails */
	snprintf(p, sizeof(p), "mv '%s' '%s.away' && touch '%s'", dir, dir, dir);
	CHECK(system(p) == 0);
	rc = reg_rule_write(r, "b.rule", rule_b, strlen(rule_b), 0, err);
	CHECK(rc < 0 && rc != -EINVAL);
	rc = reg_rule_write(r, "a.rule", rule_b, strlen(rule_b), 0, err);
	CHECK(rc < 0 && rc != -EINVAL);
	rc = reg_sched_write(r, "cooldown", "99\n", 0, err);
	CHECK(rc < 0 && rc != -EINVAL);
	rc = reg_policy_write(r, "select: newest\n", 15, 0, err);
	CHECK(rc < 0 && rc != -EINVAL);
	reg_sched_get(r, &s);
	CHECK(s.cooldown == 30);
	reg_lock(r);
	CHECK(reg_rule_text_locked(r, "b.rule", NULL) == NULL);
	CHECK(strcmp(reg_rule_text_locked(r, "a.rule", NULL), rule_a) == 0);
	CHECK(strcmp(reg_policy_text_locked(r, NULL), "select: oldest\n") == 0);
	reg_unlock(r);
	reg_free(r);
	unlink(dir);
	snprintf(p, sizeof(p), "%s.away", dir);
	CHECK(rename(p, dir) == 0);
	r = open_reg(dir);
	CHECK(r);
	reg_sched_get(r, &s);
	CHECK(s.cooldown == 30);
	reg_lock(r);
	CHECK(reg_rule_text_locked(r, "b.rule", NULL) == NULL);
	CHECK(strcmp(reg_rule_text_locked(r, "a.rule", NULL), rule_a) == 0);
	reg_unlock(r);
	reg_free(r);
	rm_dir(dir);
}

TEST(durable_leftover_temporary_files_are_removed)
{
	char dir[200], p[300];
	const char *junk[] = { ".sched.tmp.AbC123", "policy.tmp.4242",
			       "rules/.a.rule.tmp.xYz789", "rules/b.rule.tmp.77",
			       "history/.3.tmp.qwerty" };
	struct registry *r;
	int fresh;
	char err[REG_ERR_LEN];

	state_dir(dir, sizeof(dir), "tmp");
	CHECK(fs_state_init(dir, &fresh, err) == 0);
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, junk[i]);
		CHECK(util_write_atomic(p, "x", 1, 0644) == 0);
	}
	snprintf(p, sizeof(p), "%s/rules/keep.rule", dir);
	CHECK(util_write_atomic(p, rule_a, strlen(rule_a), 0644) == 0);
	r = open_reg(dir);
	CHECK(r);
	reg_free(r);
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, junk[i]);
		CHECK(access(p, F_OK) < 0);
	}
	snprintf(p, sizeof(p), "%s/rules/keep.rule", dir);
	CHECK(access(p, F_OK) == 0);
	rm_dir(dir);
}

TEST(durable_sched_file_is_read_strictly)
{
	char dir[200], p[300];
	struct registry *r;
	struct reg_sched s;
	int fresh;
	char err[REG_ERR_LEN];
	static const char text[] = "cooldown 0x10\nmin_age 5 junk\n"
				   "stability 7\nmax_concurrent 2.0\n";

	state_dir(dir, sizeof(dir), "sched");
	CHECK(fs_state_init(dir, &fresh, err) == 0);
	snprintf(p, sizeof(p), "%s/sched", dir);
	CHECK(util_write_atomic(p, text, strlen(text), 0644) == 0);
	r = open_reg(dir);
	CHECK(r);
	reg_sched_get(r, &s);
	CHECK(s.cooldown == 60);              /* defaults: the lines refused */
	CHECK(s.min_age == 10);
	CHECK(s.max_concurrent == 1);
	CHECK(s.stability == 7);
	reg_free(r);
	rm_dir(dir);
}

/* A job's context (common/jobctx.h) is kept in its record, replaced by a
 * later registration, and survives a registry restart with --state. */
TEST(durable_job_context_survives_a_restart)
{
	static const char *const argv[] = { "/bin/t" };
	struct jobctx ctx = JOBCTX_INIT;
	struct reg_proc_info p = { .pid = 10, .uid = 1000, .prog = "/bin/t",
				   .cwd = "/", .argv = argv, .argc = 1, .ctx = &ctx };
	char dir[256], err[JOBCTX_ERR_LEN];
	static const char envs[] = "FOO=a b\nc\0PATH=/bin";
	struct registry *r;
	struct reg_job *j;

	state_dir(dir, sizeof(dir), "ctx");
	CHECK(mkdir(dir, 0700) == 0);
	CHECK(jobctx_parse_environ(&ctx, envs, sizeof(envs), err, sizeof(err)) == 0);
	CHECK(jobctx_parse_status(&ctx, "Umask:\t0027\nGroups:\t4242\n", err, sizeof(err)) == 0);
	ctx.out = strdup("/home/u/run.out");
	ctx.out_file = 1;
	CHECK((r = open_reg(dir)) != NULL);
	CHECK_INT_EQ(reg_host_hello(r, "h1", NULL, 0, 1), 0);
	CHECK_INT_EQ(reg_proc_register(r, "h1", &p), 1);
	jobctx_free(&ctx);                 /* the registry has its own copy */
	reg_free(r);

	CHECK((r = open_reg(dir)) != NULL);
	reg_lock(r);
	j = reg_job_locked(r, 1);
	CHECK(j != NULL);
	CHECK_INT_EQ(j->ctx.nenv, 2);
	CHECK_STR_EQ(j->ctx.env[0], "FOO=a b\nc");
	CHECK(j->ctx.has_umask && j->ctx.umask == 027);
	CHECK(j->ctx.ngroups == 1 && j->ctx.groups[0] == 4242);
	CHECK(j->ctx.out && !strcmp(j->ctx.out, "/home/u/run.out") && j->ctx.out_file);
	reg_unlock(r);
	/* its host announces it again, knowing less: the record follows */
	CHECK_INT_EQ(reg_host_hello(r, "h1", NULL, 0, 1), 0);
	p.job = 1;
	CHECK_INT_EQ(reg_proc_register(r, "h1", &p), 1);
	reg_lock(r);
	j = reg_job_locked(r, 1);
	CHECK(!j->ctx.has_env && !j->ctx.out);
	reg_unlock(r);
	reg_free(r);
	rm_dir(dir);
}
