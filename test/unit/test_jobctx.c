/* Unit tests for common/jobctx.c: the /proc parsers, the wire keys (round
 * trips through a real msg line, refusals, bounds) and a live read of our
 * own /proc entry. */
#include "common/jobctx.h"
#include "test/unit/unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Invariant checker: c goes through an encoded line and comes back the
 * same. */
static int ctx_round_trips(const struct jobctx *c)
{
	struct jobctx back = JOBCTX_INIT;
	struct msg *m = msg_new("prepare"), *d = NULL;
	char err[JOBCTX_ERR_LEN], *line = NULL;
	size_t len;
	int ok = 0;

	if (m && jobctx_to_msg(c, m) == 0 && (line = msg_encode(m, &len)) &&
	    (d = msg_decode(line, len, err, sizeof(err))) &&
	    jobctx_from_msg(&back, d, err, sizeof(err)) == 0) {
		ok = back.has_env == c->has_env && back.nenv == c->nenv &&
		     back.has_umask == c->has_umask && back.umask == c->umask &&
		     back.has_groups == c->has_groups && back.ngroups == c->ngroups &&
		     back.lim_known == c->lim_known && back.out_file == c->out_file &&
		     back.err_file == c->err_file &&
		     !!back.out == !!c->out && (!c->out || !strcmp(back.out, c->out)) &&
		     !!back.err == !!c->err && (!c->err || !strcmp(back.err, c->err));
		for (size_t i = 0; ok && i < c->nenv; i++)
			ok = !strcmp(back.env[i], c->env[i]);
		for (size_t i = 0; ok && i < c->ngroups; i++)
			ok = back.groups[i] == c->groups[i];
		for (int i = 0; ok && i < JOBCTX_NLIMITS; i++)
			ok = !(c->lim_known & (1u << i)) ||
			     (back.lim[i].rlim_cur == c->lim[i].rlim_cur &&
			      back.lim[i].rlim_max == c->lim[i].rlim_max);
	}
	jobctx_free(&back);
	msg_free(d);
	msg_free(m);
	free(line);
	return ok;
}

/* from_msg of one line; 1 when refused with `reason` in err. */
static int line_refused(const char *line, const char *reason)
{
	struct jobctx c = JOBCTX_INIT;
	char err[JOBCTX_ERR_LEN] = "";
	struct msg *m = msg_decode(line, strlen(line), err, sizeof(err));
	int rc;

	if (!m)
		return 0;
	rc = jobctx_from_msg(&c, m, err, sizeof(err));
	msg_free(m);
	if (rc == 0) {
		jobctx_free(&c);
		return 0;
	}
	return c.nenv == 0 && !c.env && strstr(err, reason) != NULL;
}

TEST(jobctx_environ_any_byte_but_nul)
{
	static const char env[] = "FOO=a b\nc=d%\0PATH=/bin\0\0RESCHED_RUN=/run/x\0"
				  "RESCHED_JOB=7\0RESCHED_RESTORE_TOKEN=ab\0LAST=1";
	struct jobctx c = JOBCTX_INIT;
	char err[JOBCTX_ERR_LEN];

	CHECK(jobctx_parse_environ(&c, env, sizeof(env) - 1, err, sizeof(err)) == 0);
	CHECK(c.has_env);
	CHECK_INT_EQ(c.nenv, 3);
	CHECK(!strcmp(c.env[0], "FOO=a b\nc=d%"));
	CHECK(!strcmp(c.env[1], "PATH=/bin"));
	CHECK(!strcmp(c.env[2], "LAST=1"));   /* no final NUL: still an entry */
	CHECK(ctx_round_trips(&c));
	jobctx_free(&c);
	CHECK(!c.env && !c.nenv && !c.has_env);
}

TEST(jobctx_environ_bounds)
{
	struct jobctx c = JOBCTX_INIT;
	char err[JOBCTX_ERR_LEN];
	size_t n = JOBCTX_ENV_BYTES / 3 + 10;
	char *big = malloc(n + 3);

	CHECK(big);
	memcpy(big, "X=", 2);
	memset(big + 2, ' ', n);              /* each space is 3 bytes encoded */
	big[n + 2] = 0;
	CHECK(jobctx_parse_environ(&c, big, n + 3, err, sizeof(err)) < 0);
	CHECK(strstr(err, "bytes encoded (at most 65536)"));
	CHECK(!c.has_env && !c.env);
	free(big);

	/* JOBCTX_ENV_MAX entries pass, one more does not */
	big = malloc((JOBCTX_ENV_MAX + 1) * 4);
	CHECK(big);
	for (int i = 0; i <= JOBCTX_ENV_MAX; i++)
		memcpy(big + i * 4, "A=1", 4);
	CHECK(jobctx_parse_environ(&c, big, (size_t)JOBCTX_ENV_MAX * 4, err, sizeof(err)) == 0);
	CHECK_INT_EQ(c.nenv, JOBCTX_ENV_MAX);
	CHECK(ctx_round_trips(&c));
	CHECK(jobctx_parse_environ(&c, big, (size_t)(JOBCTX_ENV_MAX + 1) * 4, err,
				   sizeof(err)) < 0);
	CHECK(strstr(err, "more than 2048 entries"));
	CHECK_INT_EQ(c.nenv, JOBCTX_ENV_MAX);  /* unchanged by the refusal */
	jobctx_free(&c);
	free(big);
}

TEST(jobctx_status_umask_and_groups)
{
	static const char st[] = "Name:\tx\nUmask:\t0027\nState:\tS\n"
				 "Groups:\t4 24 100 4242 \nNgid:\t0\n";
	struct jobctx c = JOBCTX_INIT;
	char err[JOBCTX_ERR_LEN];

	CHECK(jobctx_parse_status(&c, st, err, sizeof(err)) == 0);
	CHECK(c.has_umask && c.umask == 027);
	CHECK(c.has_groups);
	CHECK_INT_EQ(c.ngroups, 4);
	CHECK_INT_EQ(c.groups[3], 4242);
	CHECK(ctx_round_trips(&c));
	jobctx_free(&c);

	/* no groups at all is a known (empty) set; an old kernel has no Umask */
	CHECK(jobctx_parse_status(&c, "Groups:\t\nUid:\t0\n", err, sizeof(err)) == 0);
	CHECK(c.has_groups && c.ngroups == 0 && !c.has_umask);
	CHECK(ctx_round_trips(&c));
	jobctx_free(&c);

	CHECK(jobctx_parse_status(&c, "Umask:\t0999\nGroups:\t1 x\n", err, sizeof(err)) < 0);
	CHECK(!c.has_umask && !c.has_groups);
	CHECK(jobctx_parse_status(&c, "Groups:\t99999999999\n", err, sizeof(err)) < 0);
	CHECK(strstr(err, "do not parse"));
}

TEST(jobctx_status_groups_bound)
{
	size_t size = 16 + (JOBCTX_GROUPS_MAX + 1) * 6;
	char *st = malloc(size), *p = st;
	struct jobctx c = JOBCTX_INIT;
	char err[JOBCTX_ERR_LEN];

	CHECK(st);
	p += sprintf(p, "Groups:\t");
	for (int i = 0; i < JOBCTX_GROUPS_MAX; i++)
		p += sprintf(p, "%d ", 1000 + i);
	CHECK(jobctx_parse_status(&c, st, err, sizeof(err)) == 0);
	CHECK_INT_EQ(c.ngroups, JOBCTX_GROUPS_MAX);
	CHECK(ctx_round_trips(&c));
	jobctx_free(&c);
	sprintf(p, "7\n");
	CHECK(jobctx_parse_status(&c, st, err, sizeof(err)) < 0);
	CHECK(strstr(err, "more than 4096 groups"));
	CHECK(!c.has_groups);
	free(st);
}

TEST(jobctx_wire_limits_and_stdio)
{
	struct jobctx c = JOBCTX_INIT;
	char err[JOBCTX_ERR_LEN];
	static const char line[] = "prepare limits=nofile:64:4096,core:0:unlimited,"
				   "future:1:2 stdout=/home/u/run%20out stdout_file=1 "
				   "stderr=pipe:[123] umask=0027 groups=100,4242";
	struct msg *m = msg_decode(line, sizeof(line) - 1, err, sizeof(err));

	CHECK(m);
	CHECK(jobctx_from_msg(&c, m, err, sizeof(err)) == 0);
	msg_free(m);
	CHECK(!c.has_env);
	CHECK_INT_EQ(c.lim_known, (1u << 7) | (1u << 4));   /* nofile, core */
	CHECK(!strcmp(jobctx_limit_name(7), "nofile"));
	CHECK_INT_EQ(jobctx_limit_resource(7), RLIMIT_NOFILE);
	CHECK_INT_EQ(c.lim[7].rlim_cur, 64);
	CHECK_INT_EQ(c.lim[7].rlim_max, 4096);
	CHECK(c.lim[4].rlim_max == RLIM_INFINITY);
	CHECK(!strcmp(c.out, "/home/u/run out") && c.out_file);
	CHECK(!strcmp(c.err, "pipe:[123]") && !c.err_file);
	CHECK(c.umask == 027 && c.ngroups == 2);
	CHECK(ctx_round_trips(&c));
	jobctx_free(&c);
}

TEST(jobctx_wire_refusals)
{
	CHECK(line_refused("prepare envc=2 env0=A%3D1", "env1 missing"));
	CHECK(line_refused("prepare envc=-1", "envc"));
	CHECK(line_refused("prepare envc=2049", "envc"));
	CHECK(line_refused("prepare umask=0800", "umask"));
	CHECK(line_refused("prepare umask=", "umask"));
	CHECK(line_refused("prepare groups=1,,2", "groups"));
	CHECK(line_refused("prepare groups=1,2,", "groups"));
	CHECK(line_refused("prepare groups=-1", "groups"));
	CHECK(line_refused("prepare groups=4294967295", "groups"));
	CHECK(line_refused("prepare limits=nofile:10:5", "limit"));
	CHECK(line_refused("prepare limits=nofile:10", "limit"));
	CHECK(line_refused("prepare limits=nofile:x:5", "limit"));
	CHECK(line_refused("prepare limits=nofile:1:2,", "limits"));
	CHECK(line_refused("prepare stdout=/x stdout_file=yes", "stdout"));
	/* none of the keys: an empty context, not an error */
	CHECK(!line_refused("prepare job=1", ""));
}

TEST(jobctx_reads_own_proc)
{
	struct jobctx c = JOBCTX_INIT, d = JOBCTX_INIT;
	char dropped[512];
	struct rlimit rl;
	mode_t um = umask(022);

	umask(um);
	CHECK(jobctx_read_proc(&c, getpid(), dropped, sizeof(dropped)) == 0);
	CHECK(c.has_umask && c.umask == um);
	CHECK(c.has_groups);
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHECK(c.lim_known & (1u << 7));
	CHECK(c.lim[7].rlim_cur == rl.rlim_cur && c.lim[7].rlim_max == rl.rlim_max);
	CHECK(c.out && c.err);
	CHECK(jobctx_copy(&d, &c) == 0);
	CHECK(ctx_round_trips(&d));
	jobctx_free(&c);
	jobctx_free(&d);
}

TEST(jobctx_proc_limits_text)
{
	static const char text[] =
		"Limit                     Soft Limit           Hard Limit           Units     \n"
		"Max cpu time              unlimited            unlimited            seconds   \n"
		"Max stack size            8388608              unlimited            bytes     \n"
		"Max core file size        0                    unlimited            bytes     \n"
		"Max open files            200                  20000                files     \n"
		"Max nice priority         0                    0                    \n"
		"Max future thing          1                    2                    things    \n"
		"Max realtime timeout      unlimited            unlimited            us        \n";
	struct jobctx c = JOBCTX_INIT;
	char err[JOBCTX_ERR_LEN];

	CHECK(jobctx_parse_limits(&c, text, err, sizeof(err)) == 0);
	CHECK_INT_EQ(c.lim_known, (1u << 0) | (1u << 3) | (1u << 4) | (1u << 7) |
				  (1u << 13) | (1u << 15));
	CHECK_INT_EQ(c.lim[7].rlim_cur, 200);
	CHECK_INT_EQ(c.lim[7].rlim_max, 20000);
	CHECK(c.lim[3].rlim_cur == 8388608 && c.lim[3].rlim_max == RLIM_INFINITY);
	CHECK(c.lim[0].rlim_cur == RLIM_INFINITY);
	CHECK(ctx_round_trips(&c));
	/* a bad line changes nothing */
	CHECK(jobctx_parse_limits(&c, "Max open files  300  x  files\n", err, sizeof(err)) < 0);
	CHECK(strstr(err, "does not parse"));
	CHECK_INT_EQ(c.lim[7].rlim_cur, 200);
	CHECK(jobctx_parse_limits(&c, "Max open files  300  200  files\n", err, sizeof(err)) < 0);
	jobctx_free(&c);
}
