/*
 * agent_spawn.h — start a restore-mode successor on the destination host
 * (docs/COMMANDER.md, docs/LOCAL-PROTOCOL.md "Restore mode").
 *
 * The successor is the job's program (or the schema's binary for this
 * host's architecture) with the job's arguments and working directory,
 * run as the job's uid (setgroups/setgid/setuid before exec when the agent
 * is root; refused when the agent is not root and uid differs from its
 * own), stdin /dev/null, and the job's context (common/jobctx.h) where
 * known: its environment (else the agent's), with RESCHED_RESTORE_TOKEN,
 * RESCHED_JOB and RESCHED_RUN set by us; its resource limits (set before
 * the uid changes, clamped to our hard limit where the kernel refuses
 * more); its supplementary groups (root agent only; group 0 only for a
 * root job); its umask; its stdout / stderr files when they were regular
 * files, opened O_WRONLY|O_APPEND as the job (after setuid: the agent's
 * privilege never opens them), else $RUN/jobs/JOB.log (created 0640,
 * owned by the job's uid), with one line there saying why.  With a cgroup
 * (the agent's --cgroup), the child joins it in every hierarchy where it
 * exists (writes 0 to each cgroup.procs) before it drops privileges, so a
 * migrated job lands in the host's CPU share and is counted by its
 * metrics wherever the agent itself runs; a child that cannot join fails
 * the start ("join cgroup DIR: reason") rather than run outside it.
 *
 * Pure helpers (agent_spawn_binary) have no side effects; agent_spawn_start
 * forks.  A failed exec is reported to the parent through a CLOEXEC pipe,
 * so "binary missing" and "exec failed" are errors of agent_spawn_start,
 * never a silent exit 127.  The caller owns the child: it must reap it with
 * waitpid(pid) (never waitpid(-1): the monitor forks rule scripts).
 *
 * Errors: -1 with a one-line reason in err (library convention).
 */
#ifndef RESCHED_AGENT_SPAWN_H
#define RESCHED_AGENT_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#include "agent/metrics.h"
#include "common/jobctx.h"

#define SPAWN_ERR_LEN 256

struct spawn_req {
	int job;
	const char *token;            /* one-time hex token, <= 128 bytes */
	const char *prog;             /* absolute path of the job's program */
	const char *binary;           /* NULL: none named for this arch */
	const char *cwd;              /* NULL or "": "/" */
	const char *const *argv;      /* argc strings; argv[0] is kept */
	int argc;
	uid_t uid;
	const struct jobctx *ctx;     /* NULL (or parts unknown): the agent's */
	const char *run_dir;          /* the agent's --run */
	const struct cg_paths *cgroup; /* NULL: stay in the agent's cgroups */
};

/* The binary named in schema XML `xml` for `arch` (<binary arch="A">PATH
 * </binary>), copied into buf; 1 found, 0 none (or no schema), -1 the
 * schema does not parse (reason in err).  Bounded: at most 64 KiB. */
int agent_spawn_binary(const char *xml, const char *arch, char *buf,
		       size_t size, char *err, size_t errlen);

/* Fork and exec the successor; its pid (> 0), or -1 with err.  The log
 * path used is written into log_path (may be NULL). */
pid_t agent_spawn_start(const struct spawn_req *rq, char *log_path,
			size_t log_size, char *err, size_t errlen);

/* The last non-empty line of `path` (at most size-1 bytes, newline
 * stripped) into buf; buf is "" when there is none. */
void agent_spawn_last_line(const char *path, char *buf, size_t size);

#endif
