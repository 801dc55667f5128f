/*
 * jobctx.h — what a job runs with besides its program, arguments and
 * working directory: its environment, umask, supplementary groups,
 * resource limits, and where its stdout and stderr go (docs/COMMANDER.md,
 * "Destination side"; keys in docs/MESSAGES.md).
 *
 * The source agent reads it from the kernel when a process registers
 * (jobctx_read_proc: /proc/PID/environ, the Umask: and Groups: lines of
 * /proc/PID/status, /proc/PID/limits, /proc/PID/fd/1 and fd/2); nothing the
 * process says is used.  It travels in `job_register` and `prepare`
 * (jobctx_to_msg / jobctx_from_msg), is kept in the registry's job record
 * (and its --state record), and the destination agent applies it to the
 * successor (agent_spawn).
 *
 * Every part is optional: a part that is not known (has_* 0, out NULL) is
 * left as the destination agent has it.  Bounds (JOBCTX_*): a part over its
 * bound is left out by jobctx_read_proc (with the reason in `dropped`) and
 * refused by jobctx_from_msg.  The environment never holds
 * RESCHED_RESTORE_TOKEN, RESCHED_JOB or RESCHED_RUN: the destination agent
 * sets those itself.
 *
 * Ownership: a struct jobctx owns every pointer in it; start one zeroed
 * (JOBCTX_INIT or memset), release with jobctx_free.  Errors: -1 with a
 * one-line reason in err (library convention).
 */
#ifndef RESCHED_JOBCTX_H
#define RESCHED_JOBCTX_H

#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "common/msg.h"

#define JOBCTX_ENV_BYTES (64 * 1024)  /* the entries, percent-encoded, summed */
#define JOBCTX_ENV_MAX 2048           /* entries */
#define JOBCTX_GROUPS_MAX 4096        /* supplementary groups */
#define JOBCTX_PATH_MAX 4096          /* a stdout / stderr link, bytes */
#define JOBCTX_NLIMITS 16             /* the resources of /proc/PID/limits */
#define JOBCTX_ERR_LEN 256

struct jobctx {
	char **env;                   /* nenv "NAME=VALUE" strings */
	size_t nenv;
	int has_env;
	mode_t umask;
	int has_umask;
	gid_t *groups;                /* ngroups gids */
	size_t ngroups;
	int has_groups;
	struct rlimit lim[JOBCTX_NLIMITS]; /* index: jobctx_limit_name */
	unsigned lim_known;           /* bit i: lim[i] is known */
	char *out, *err;              /* what fd 1 / fd 2 link to ("/a/file",
	                               * "pipe:[123]", "/dev/pts/3"), or NULL */
	int out_file, err_file;       /* 1: out / err is a regular file */
};
#define JOBCTX_INIT { 0 }

void jobctx_free(struct jobctx *c);   /* frees the members, zeroes c */
/* Deep copy of src into dst (freed first).  0, or -1 on no memory (dst
 * is then empty). */
int jobctx_copy(struct jobctx *dst, const struct jobctx *src);

/* Limit i (0..JOBCTX_NLIMITS-1): its name as on the wire ("nofile") and
 * its RLIMIT_* resource. */
const char *jobctx_limit_name(int i);
int jobctx_limit_resource(int i);

/* ---- pure parsers of the kernel's text (unit-tested) ---------------------- */
/* /proc/PID/environ: len bytes of NUL-terminated entries (a last entry
 * without its NUL counts too; empty entries are skipped; RESCHED_RESTORE_
 * TOKEN, RESCHED_JOB, RESCHED_RUN are left out).  -1 with the reason when
 * over JOBCTX_ENV_MAX entries or JOBCTX_ENV_BYTES (c unchanged). */
int jobctx_parse_environ(struct jobctx *c, const char *buf, size_t len,
			 char *err, size_t errlen);
/* /proc/PID/status text: the Umask: and Groups: lines.  A missing Umask:
 * line (kernels before 4.7) leaves has_umask 0.  -1 with the reason when
 * the Groups: line has more than JOBCTX_GROUPS_MAX groups or a line does
 * not parse (the other part is still set). */
int jobctx_parse_status(struct jobctx *c, const char *status, char *err,
			size_t errlen);

/* /proc/PID/limits text: every resource it lists that we know (lim,
 * lim_known).  -1 with the reason when a line does not parse (c
 * unchanged). */
int jobctx_parse_limits(struct jobctx *c, const char *text, char *err,
			size_t errlen);

/* ---- the wire ------------------------------------------------------------------
 * envc=N env0=.. envN-1=..  umask=0027  groups=100,4242  limits=NAME:SOFT:HARD,..
 * (SOFT/HARD decimal or "unlimited")  stdout=LINK [stdout_file=1]  stderr=LINK
 * [stderr_file=1].  Absent parts are absent keys. */
/* Add c's keys to m.  0, or -1 with errno (E2BIG, ENOMEM). */
int jobctx_to_msg(const struct jobctx *c, struct msg *m);
/* Read the keys back into c (freed first).  A key that does not parse or
 * is over its bound: -1 with the reason (c is then empty).  Unknown limit
 * names are ignored (forward compatibility). */
int jobctx_from_msg(struct jobctx *c, const struct msg *m, char *err,
		    size_t errlen);

/* ---- the kernel's word for a live process ---------------------------------------- */
/* Fill c from /proc/PID.  Always returns 0: what cannot be
 * read (gone, not ours to see) or is over its bound is left out, and the
 * reasons, "; "-separated, go into dropped (size droppedlen, "" when all
 * of it was read). */
int jobctx_read_proc(struct jobctx *c, pid_t pid, char *dropped,
		     size_t droppedlen);

#endif
