/* The script runner with real scripts in a temp dir: values, arguments,
 * environment, and every failure mode. */
#include "agent/script.h"
#include "common/util.h"
#include "test/unit/unit.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char sdir[256];

static const struct {
	const char *name, *body;
} scripts[] = {
	{ "ok", "echo noise\necho '  42.5 '\necho\n\n" },
	{ "args_env", "[ \"$RESCHED_HOST\" = h1 ] && [ \"$RESCHED_CGROUP\" = g1 ] "
		      "|| exit 3\necho $(( $1 + $2 ))\n" },
	{ "stdin", "if read x; then exit 5; fi\necho 1\n" },
	{ "hang", "sleep 30 &\necho $! > \"$1\"\nwait\n" },
	{ "fails", "echo 5\nexit 2\n" },
	{ "garbage", "echo hello\n" },
	{ "empty", "true\n" },
	{ "slow", "sleep 0.4\necho 1\n" },
	{ "big", "head -c 1000000 /dev/zero | tr '\\0' 'x'\necho\necho 9\n" },
	{ "signal", "kill -9 $$\n" },
};

/* Write every script into a fresh private dir; 0 ok. */
static int scripts_setup(void)
{
	char p[512], body[1024];

	snprintf(sdir, sizeof(sdir), "/tmp/resched-scripts-%d", (int)getpid());
	if (mkdir(sdir, 0700) < 0 && errno != EEXIST)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(scripts); i++) {
		snprintf(p, sizeof(p), "%s/%s", sdir, scripts[i].name);
		snprintf(body, sizeof(body), "#!/bin/sh\n%s", scripts[i].body);
		if (util_write_atomic(p, body, strlen(body), 0755) < 0)
			return -1;
	}
	snprintf(p, sizeof(p), "%s/notexec", sdir);
	return util_write_atomic(p, "#!/bin/sh\necho 1\n", 17, 0644);
}

static void scripts_cleanup(void)
{
	char p[512];

	for (size_t i = 0; i < ARRAY_SIZE(scripts); i++) {
		snprintf(p, sizeof(p), "%s/%s", sdir, scripts[i].name);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/notexec", sdir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/hang.pid", sdir);
	unlink(p);
	rmdir(sdir);
}

static struct script_job job(const char *name, char *const *params, int n)
{
	return (struct script_job){ .name = name, .params = params, .nparams = n };
}

TEST(script_parse_output_last_line)
{
	double v;

	CHECK(script_parse_output("a\nb\n 3.25 \n\n", &v) == 0);
	CHECK_NEAR(v, 3.25, 0);
	CHECK(script_parse_output("7", &v) == 0);
	CHECK_NEAR(v, 7, 0);
	CHECK(script_parse_output("", &v) < 0);
	CHECK(script_parse_output("\n\n", &v) < 0);
	CHECK(script_parse_output("1\nnan-ish\n", &v) < 0);
	CHECK(script_parse_output("1 2\n", &v) < 0);
	CHECK(script_parse_output("inf\n", &v) < 0);
}

static void good_checks(void)
{
	char a[] = "3", b[] = "4", *params[] = { a, b };
	struct script_job j[] = { job("ok", NULL, 0), job("args_env", params, 2),
				  job("stdin", NULL, 0), job("big", NULL, 0) };
	struct script_env env = { sdir, "h1", "g1", 5.0 };

	CHECK_INT_EQ(script_run_all(j, ARRAY_SIZE(j), &env), 0);
	CHECK(j[0].ok);
	CHECK_NEAR(j[0].value, 42.5, 0);
	CHECK(j[1].ok);
	CHECK_NEAR(j[1].value, 7, 0);
	CHECK(j[2].ok);
	CHECK_NEAR(j[2].value, 1, 0);
	CHECK(j[3].ok);
	CHECK_NEAR(j[3].value, 9, 0);
}

static void failure_checks(void)
{
	char pidfile[300], *params[] = { pidfile };
	struct script_job j[] = {
		job("nope", NULL, 0),   job("fails", NULL, 0),
		job("garbage", NULL, 0), job("empty", NULL, 0),
		job("notexec", NULL, 0), job("../ok", NULL, 0),
		job("hang", params, 1),  job("signal", NULL, 0),
	};
	struct script_env env = { sdir, "h1", NULL, 0.5 };
	double t0 = util_now_s(), took;
	char *pid_text;
	long pid;

	snprintf(pidfile, sizeof(pidfile), "%s/hang.pid", sdir);
	CHECK_INT_EQ(script_run_all(j, ARRAY_SIZE(j), &env), ARRAY_SIZE(j));
	took = util_now_s() - t0;
	for (size_t i = 0; i < ARRAY_SIZE(j); i++) {
		CHECK(!j[i].ok);
		CHECK(isnan(j[i].value));
		CHECK(j[i].err[0]);
	}
	CHECK_STR_HAS(j[0].err, "No such file");
	CHECK_STR_HAS(j[1].err, "exit status 2");
	CHECK_STR_HAS(j[2].err, "not a number");
	CHECK_STR_HAS(j[3].err, "not a number");
	CHECK_STR_HAS(j[4].err, "Permission denied");
	CHECK_STR_HAS(j[5].err, "bad script name");
	CHECK_STR_HAS(j[6].err, "no answer within 0.5s");
	CHECK_STR_HAS(j[7].err, "killed by signal 9");
	CHECK(took < 2.0);
	/* the hung script's own child went with its process group */
	pid_text = util_read_file(pidfile, 64, NULL);
	CHECK(pid_text);
	pid = strtol(pid_text, NULL, 10);
	free(pid_text);
	CHECK(pid > 1);
	usleep(100000);
	{
		char p[64], *st;

		snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
		st = util_read_file(p, 4096, NULL);
		/* gone, or a zombie waiting for its new parent */
		CHECK(!st || strstr(st, ") Z ") || !strstr(st, "(sleep)"));
		free(st);
	}
}

/* Three 0.4 s scripts take about 0.4 s together, not 1.2 s. */
static void concurrency_checks(void)
{
	struct script_job j[] = { job("slow", NULL, 0), job("slow", NULL, 0),
				  job("slow", NULL, 0) };
	struct script_env env = { sdir, "h1", NULL, 5.0 };
	double t0 = util_now_s(), took;

	CHECK_INT_EQ(script_run_all(j, 3, &env), 0);
	took = util_now_s() - t0;
	CHECK(took >= 0.4 && took < 1.0);
}

TEST(script_runner_values_args_env)
{
	CHECK(scripts_setup() == 0);
	good_checks();
	scripts_cleanup();
}

TEST(script_runner_failure_modes)
{
	CHECK(scripts_setup() == 0);
	failure_checks();
	scripts_cleanup();
}

TEST(script_runner_runs_concurrently)
{
	CHECK(scripts_setup() == 0);
	concurrency_checks();
	scripts_cleanup();
}
