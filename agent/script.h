/*
 * script.h — running script rules (DESIGN §4: rl_script).
 *
 * A script is the agent's own file DIR/NAME, run without a shell
 * (posix_spawn) in its own process group, with rl_param as arguments,
 * stdin /dev/null, stdout captured, stderr inherited, and RESCHED_HOST and
 * RESCHED_CGROUP (empty when unscoped) added to the environment.  The last
 * non-empty line of its output, a number, is its value.
 *
 * A set of scripts runs concurrently: all are started, then waited for
 * together, so the set takes as long as the slowest one, bounded by the
 * time limit; at the limit the process group of each script still
 * running is killed with SIGKILL.
 *
 * Failure (missing, not executable, time limit, killed, non-zero exit, no
 * output, output that is not a number) gives value NaN, ok = 0 and a
 * one-line reason in `err` — never an abort.  No logging here: the caller
 * decides what to log.
 */
#ifndef RESCHED_SCRIPT_H
#define RESCHED_SCRIPT_H

#include <stddef.h>

#define SCRIPT_OUT_MAX   4096   /* bytes of output kept (the tail) */
#define SCRIPT_NAME_MAX  255
#define SCRIPT_ARGS_MAX  16     /* arguments of one script (rl_param) */
#define SCRIPT_JOBS_MAX  256    /* scripts in one set */

/* One script run.  The caller owns name and params (borrowed during
 * script_run_all); the results are written into the struct. */
struct script_job {
	const char *name;            /* file name inside the scripts dir */
	char *const *params;         /* nparams arguments */
	int nparams;
	/* results */
	int ok;
	double value;                /* NaN unless ok */
	char err[160];               /* reason when !ok */
};

struct script_env {
	const char *dir;             /* the scripts folder */
	const char *host;            /* RESCHED_HOST */
	const char *cgroup;          /* RESCHED_CGROUP, NULL for "" */
	double timeout_s;            /* per set; <= 0 means SCRIPT_TIMEOUT_S */
};
#define SCRIPT_TIMEOUT_S 5.0

/* Run every job concurrently; fills each job's results.  Returns the
 * number of jobs that failed. */
size_t script_run_all(struct script_job *jobs, size_t n,
		      const struct script_env *env);

/* The value of a script's output: its last non-empty line, parsed as a
 * number (surrounding blanks allowed).  0, or -1 when there is none. */
int script_parse_output(const char *out, double *value);

#endif
