/* script.c — run script rules concurrently with a time limit; see script.h. */
#include "agent/script.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* One running script; private to this file. */
struct script_run {
	pid_t pid;          /* 0 when it never started */
	int pidfd;          /* -1 when pidfd_open is unavailable */
	int fd;             /* read end of its stdout, -1 at EOF */
	int exited, status;
	size_t len;
	char out[SCRIPT_OUT_MAX + 1];
};

int script_parse_output(const char *out, double *value)
{
	const char *end = out + strlen(out), *start;
	char line[128];
	size_t n;

	/* skip trailing blank lines, then find the start of the last line */
	while (end > out && strchr(" \t\r\n", end[-1]))
		end--;
	start = end;
	while (start > out && start[-1] != '\n')
		start--;
	while (start < end && strchr(" \t\r", *start))
		start++;
	n = (size_t)(end - start);
	if (n == 0 || n >= sizeof(line))
		return -1;
	memcpy(line, start, n);
	line[n] = '\0';
	return util_parse_double(line, value);
}

/* ---- environment --------------------------------------------------------- */

/* environ minus RESCHED_HOST/RESCHED_CGROUP, plus ours.  The array and the
 * two added strings are malloc'd; free with env_free. */
static char **env_build(const struct script_env *env)
{
	size_t n = 0, k = 0;
	char **e;

	while (environ && environ[n])
		n++;
	e = calloc(n + 3, sizeof(*e));
	if (!e)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "RESCHED_HOST=", 13) != 0 &&
		    strncmp(environ[i], "RESCHED_CGROUP=", 15) != 0)
			e[k++] = environ[i];
	if (asprintf(&e[k], "RESCHED_HOST=%s", env->host ? env->host : "") < 0)
		goto fail;
	if (asprintf(&e[k + 1], "RESCHED_CGROUP=%s", env->cgroup ? env->cgroup : "") < 0) {
		free(e[k]);
		goto fail;
	}
	e[k + 2] = NULL;
	return e;
fail:
	free(e);
	return NULL;
}

static void env_free(char **e)
{
	size_t n = 0;

	if (!e)
		return;
	while (e[n])
		n++;
	/* the two added strings are last */
	if (n >= 2) {
		free(e[n - 1]);
		free(e[n - 2]);
	}
	free(e);
}

/* ---- starting ------------------------------------------------------------ */

static int valid_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	return n > 0 && n <= SCRIPT_NAME_MAX && !strchr(name, '/') &&
	       strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static int spawn_setup(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at,
		       int wfd)
{
	sigset_t none, all;

	sigemptyset(&none);
	sigfillset(&all);
	if (posix_spawn_file_actions_init(fa) != 0)
		return -1;
	if (posix_spawnattr_init(at) != 0) {
		posix_spawn_file_actions_destroy(fa);
		return -1;
	}
	posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(fa, wfd, 1);
	posix_spawnattr_setflags(at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
				     POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(at, 0);
	posix_spawnattr_setsigmask(at, &none);
	posix_spawnattr_setsigdefault(at, &all);
	return 0;
}

/* Start one job; on failure fill job->err and leave run->pid 0. */
static void job_start(struct script_job *job, struct script_run *run,
		      const struct script_env *env, char **envp)
{
	char path[4096], *argv[(SCRIPT_ARGS_MAX + 2)];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int p[2], r;

	if (!valid_name(job->name) || job->nparams < 0 ||
	    job->nparams > SCRIPT_ARGS_MAX) {
		snprintf(job->err, sizeof(job->err), "bad script name or arguments");
		return;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", env->dir, job->name) >=
	    sizeof(path)) {
		snprintf(job->err, sizeof(job->err), "%s: path too long", job->name);
		return;
	}
	argv[0] = path;
	for (int i = 0; i < job->nparams; i++)
		argv[i + 1] = job->params[i];
	argv[job->nparams + 1] = NULL;
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(job->err, sizeof(job->err), "pipe: %s", strerror(errno));
		return;
	}
	if (spawn_setup(&fa, &at, p[1]) < 0) {
		snprintf(job->err, sizeof(job->err), "posix_spawn set-up failed");
		close(p[0]);
		close(p[1]);
		return;
	}
	r = posix_spawn(&run->pid, path, &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(p[1]);
	if (r != 0) {
		snprintf(job->err, sizeof(job->err), "%s: %s", job->name, strerror(r));
		run->pid = 0;
		close(p[0]);
		return;
	}
	run->fd = p[0];
	run->pidfd = pidfd_open(run->pid, 0);
}

/* ---- waiting ------------------------------------------------------------- */

/* Append to the run's output, keeping the last SCRIPT_OUT_MAX bytes. */
static void run_append(struct script_run *run, const char *b, size_t n)
{
	if (n > SCRIPT_OUT_MAX) {
		b += n - SCRIPT_OUT_MAX;
		n = SCRIPT_OUT_MAX;
	}
	if (run->len + n > SCRIPT_OUT_MAX) {
		size_t keep = SCRIPT_OUT_MAX - n;

		memmove(run->out, run->out + run->len - keep, keep);
		run->len = keep;
	}
	memcpy(run->out + run->len, b, n);
	run->len += n;
	run->out[run->len] = '\0';
}

static void run_read(struct script_run *run)
{
	char b[2048];
	ssize_t r = read(run->fd, b, sizeof(b));

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r <= 0) {
		close(run->fd);
		run->fd = -1;
		return;
	}
	run_append(run, b, (size_t)r);
}

static void run_reap(struct script_run *run, int flags)
{
	if (run->pid > 0 && !run->exited &&
	    waitpid(run->pid, &run->status, flags) == run->pid)
		run->exited = 1;
}

static int run_active(const struct script_run *run)
{
	return run->pid > 0 && (run->fd >= 0 || !run->exited);
}

/* One poll round over every active run; returns how many are active. */
static size_t wait_round(struct script_run *runs, size_t n, int timeout_ms)
{
	struct pollfd pf[2 * SCRIPT_JOBS_MAX];
	struct script_run *owner[2 * SCRIPT_JOBS_MAX];
	size_t np = 0, active = 0;

	for (size_t i = 0; i < n; i++) {
		if (!run_active(&runs[i]))
			continue;
		active++;
		if (runs[i].fd >= 0) {
			pf[np] = (struct pollfd){ .fd = runs[i].fd, .events = POLLIN };
			owner[np++] = &runs[i];
		}
		if (!runs[i].exited && runs[i].pidfd >= 0) {
			pf[np] = (struct pollfd){ .fd = runs[i].pidfd, .events = POLLIN };
			owner[np++] = &runs[i];
		} else if (!runs[i].exited && timeout_ms > 10) {
			timeout_ms = 10;   /* no pidfd: poll waitpid */
		}
	}
	if (active == 0)
		return 0;
	if (poll(pf, np, timeout_ms) < 0 && errno != EINTR)
		return active;
	for (size_t k = 0; k < np; k++) {
		if (!pf[k].revents)
			continue;
		if (pf[k].fd == owner[k]->fd)
			run_read(owner[k]);
		else
			run_reap(owner[k], WNOHANG);
	}
	for (size_t i = 0; i < n; i++)
		if (runs[i].pidfd < 0)
			run_reap(&runs[i], WNOHANG);
	return active;
}

/* After the time limit: kill what is left, reap, close. */
static void runs_finish(struct script_run *runs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct script_run *r = &runs[i];

		if (r->pid <= 0)
			continue;
		if (!r->exited || r->fd >= 0)
			kill(-r->pid, SIGKILL);
		run_reap(r, 0);
		if (r->fd >= 0)
			close(r->fd);
		if (r->pidfd >= 0)
			close(r->pidfd);
		r->fd = r->pidfd = -1;
	}
}

static void job_result(struct script_job *job, const struct script_run *run,
		       int timed_out, double limit)
{
	int st = run->status;

	if (run->pid <= 0)
		return;   /* err set at start */
	if (timed_out)
		snprintf(job->err, sizeof(job->err), "%s: no answer within %gs",
			 job->name, limit);
	else if (WIFSIGNALED(st))
		snprintf(job->err, sizeof(job->err), "%s: killed by signal %d",
			 job->name, WTERMSIG(st));
	else if (WEXITSTATUS(st) != 0)
		snprintf(job->err, sizeof(job->err), "%s: exit status %d",
			 job->name, WEXITSTATUS(st));
	else if (script_parse_output(run->out, &job->value) < 0)
		snprintf(job->err, sizeof(job->err),
			 "%s: last output line is not a number", job->name);
	else
		job->ok = 1;
	if (!job->ok)
		job->value = NAN;
}

size_t script_run_all(struct script_job *jobs, size_t n,
		      const struct script_env *env)
{
	double limit = env->timeout_s > 0 ? env->timeout_s : SCRIPT_TIMEOUT_S;
	double deadline = util_now_s() + limit;
	struct script_run *runs = calloc(n ? n : 1, sizeof(*runs));
	char **envp = env_build(env);
	size_t failed = 0;
	int *timed_out = calloc(n ? n : 1, sizeof(*timed_out));

	for (size_t i = 0; i < n; i++) {
		jobs[i].ok = 0;
		jobs[i].value = NAN;
		jobs[i].err[0] = '\0';
	}
	if (!runs || !envp || !timed_out || n > SCRIPT_JOBS_MAX) {
		for (size_t i = 0; i < n; i++)
			snprintf(jobs[i].err, sizeof(jobs[i].err), "%s",
				 n > SCRIPT_JOBS_MAX ? "too many scripts" : "out of memory");
		free(runs);
		free(timed_out);
		env_free(envp);
		return n;
	}
	for (size_t i = 0; i < n; i++) {
		runs[i].fd = runs[i].pidfd = -1;
		job_start(&jobs[i], &runs[i], env, envp);
	}
	for (;;) {
		double left = deadline - util_now_s();

		if (left <= 0 || wait_round(runs, n, (int)(left * 1000) + 1) == 0)
			break;
	}
	for (size_t i = 0; i < n; i++)
		timed_out[i] = runs[i].pid > 0 && !runs[i].exited;
	runs_finish(runs, n);
	for (size_t i = 0; i < n; i++) {
		job_result(&jobs[i], &runs[i], timed_out[i], limit);
		failed += !jobs[i].ok;
	}
	free(timed_out);
	free(runs);
	env_free(envp);
	return failed;
}
