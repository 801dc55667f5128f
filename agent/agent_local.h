/*
 * agent_local.h — the commander: the agent's local socket for
 * migration-enabled processes (docs/LOCAL-PROTOCOL.md, agent side) and the
 * agent's half of a move (docs/MESSAGES.md, docs/COMMANDER.md).
 *
 * It listens on $RUN/agent.sock ($RUN created 0755, the socket 0666 so any
 * user's process can register).  Identity comes from the kernel: pid and
 * uid from SO_PEERCRED (a `register` whose pid is not the peer's pid is
 * refused, and the job belongs to the peer's uid), the executable and the
 * working directory from /proc/PID/exe and /proc/PID/cwd (the `prog` and
 * `cwd` words of the line are ignored).  Bounds (docs/LOCAL-PROTOCOL.md,
 * "Limits"): AGENT_LOCAL_MAX_PER_UID connections per uid and
 * AGENT_LOCAL_MAX_PROCS in all, lines of at most AGENT_LOCAL_LINE_MAX, and
 * AGENT_LOCAL_TIMEOUT_S to register (a successor: to send `ready`) and to
 * finish a line once begun.  A connection the agent will not keep gets one
 * line `refused reason=...` (written without blocking) before it closes.
 * A `register` is answered at once with `registered` (job= when known).
 *
 * Agent restarts: $RUN/known/PID records "JOB UID STARTTIME" for each
 * process whose job id is known (removed when its connection ends, stale
 * ones at start); a `register job=J again=1` keeps J only when the record
 * of the caller's pid names J, its uid and its current /proc start time.  Each registered process is announced to
 * the registry (`job_register`), its job id forwarded (`registered job=J`);
 * when its socket closes the registry gets `job_status` done/failed (from
 * its `exit` line, `failed` without one; nothing after `exit
 * status=migrated`, the move's result says it all).
 *
 * Source side: `migrate` writes the command on the process's socket, then
 * signals it (SIGUSR1 or cfg->signo); its `progress`/`result` lines become
 * `mig_progress`/`mig_result`.  Destination side: `prepare` starts the
 * successor (agent_spawn), its `ready` becomes `mig_ready`; when it cannot
 * start or exits before `ready`, the agent sends `mig_result ok=0
 * reason="prepare on HOST: ..."` for that mig (so the registry fails the
 * move and the source never hears of it).  `abort` kills (SIGKILL, by pid)
 * a successor started for that mig that has not yet registered.
 *
 * Threads: everything runs on the caller's libevent loop (the agent's main
 * thread); nothing here blocks for long: writes to a process are one small
 * line on a UNIX socket.  SIGCHLD is watched with an evsignal on the same
 * base; only the successors started here are reaped, by pid.
 *
 * Ownership: agent_local owns its sockets, the processes' records and the
 * successors' records; messages handed to send() are valid only for the
 * call (the callback copies or sends at once).  Errors: -1 with a reason in
 * err (library convention).
 */
#ifndef RESCHED_AGENT_LOCAL_H
#define RESCHED_AGENT_LOCAL_H

#include <stddef.h>
#include <event2/event.h>

#include "common/msg.h"

#define AGENT_LOCAL_SOCK "agent.sock"
#define AGENT_LOCAL_MAX_PROCS 4096    /* connections at once, all uids */
#define AGENT_LOCAL_MAX_PER_UID 64    /* connections at once of one uid */
/* Bytes in one line from a process, '\n' included: the biggest legitimate
 * line is a `register` with a schema (at most 64 KiB of XML, at worst three
 * times that once percent-encoded) and the program's arguments. */
#define AGENT_LOCAL_LINE_MAX (256 * 1024)
#define AGENT_LOCAL_TIMEOUT_S 10      /* to register, and to end a line */

/* Send m to the registry now, or drop it when not connected (everything
 * that matters is re-announced by agent_local_announce). */
typedef void (*agent_local_send_fn)(void *ctx, const struct msg *m);

struct agent_local_config {
	const char *run_dir;          /* --run; the socket is RUN/agent.sock */
	const char *host;             /* this host's name (for messages) */
	const char *arch;             /* NULL: uname's machine */
	int signo;                    /* trigger signal; 0: SIGUSR1 */
	const char *cgroup;           /* --cgroup: successors join it; NULL none */
	agent_local_send_fn send;
	void *ctx;
};

struct agent_local;

/* Create the run directory and the socket, and start accepting on base.
 * Strings in cfg are copied.  NULL with err on failure.  Free with
 * agent_local_free (kills successors still being prepared, removes the
 * socket). */
struct agent_local *agent_local_new(struct event_base *base,
				    const struct agent_local_config *cfg,
				    char *err, size_t errlen);
void agent_local_free(struct agent_local *l);   /* NULL is fine */

/* The registry connection is (again) established: send job_register for
 * every registered process (with job= when known). */
void agent_local_announce(struct agent_local *l);

/* A message from the registry.  Returns 1 when it was a commander message
 * (job_id prepare migrate abort) and was handled, 0 when it is not one of
 * those, -1 when it is one but malformed (the caller drops the
 * connection). */
int agent_local_handle(struct agent_local *l, const struct msg *m);

/* Registered processes right now (tests). */
size_t agent_local_nprocs(const struct agent_local *l);

#endif
