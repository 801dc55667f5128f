/* agent_local.c — the commander's local socket; see agent_local.h. */
#include "agent/agent_local.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent_spawn.h"
#include "common/jobctx.h"
#include "common/log.h"
#include "common/util.h"

#define READ_CHUNK 65536
#define ARGC_MAX 1024

struct lproc {                        /* one connection on agent.sock */
	struct agent_local *l;
	int fd;
	struct event *ev;
	pid_t pid;                        /* SO_PEERCRED */
	uid_t uid;
	long local;                       /* 0 until `register` */
	int job;                          /* 0 until known */
	char token[72];                   /* source side: the move's token */
	struct msg *reg;                  /* job_register to (re)send, owned */
	int exited;                       /* an `exit` line came */
	char exit_status[16];
	int exit_code;
	uint64_t mig;                     /* source side: the move under way */
	int ordered;                      /* a move the registry ordered succeeded */
	int token_claim;                  /* registered as restored job J with a
	                                   * move's token (an MPI successor) */
	char *in;                         /* bytes not yet a whole line, owned */
	size_t inlen;
	struct event *tmo;                /* AGENT_LOCAL_TIMEOUT_S, while armed */
	int armed;
	int succ_ready;                   /* a successor of ours sent `ready` */
	char why[256];                    /* set: refuse aloud when closing */
	struct lproc *next;
};

struct succ {                         /* a successor started by `prepare` */
	int job;
	uint64_t mig;
	char token[72];                   /* the move's token, proof to the registry */
	pid_t pid;
	int ready, registered, aborted;
	double started;                   /* util_now_s() at fork */
	char log[2048];
	struct succ *next;
};

struct agent_local {
	struct event_base *base;
	char *run_dir, *host, *arch;
	struct cg_paths cg;           /* --cgroup located at start */
	int have_cg;
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int signo;
	agent_local_send_fn send;
	void *ctx;
	int lfd;
	struct event *lev, *chld, *lpause;   /* lpause: accept stopped (EMFILE) */
	struct lproc *procs;
	size_t nprocs;
	long next_local;
	struct succ *succs;
};

/* ---- small helpers ---------------------------------------------------------- */

static void to_registry(struct agent_local *l, struct msg *m)
{
	if (m)
		l->send(l->ctx, m);
	msg_free(m);
}

/* A mig_* message for the registry; token proves this host's part in the
 * move (docs/MESSAGES.md). */
static struct msg *mig_msg(const char *type, int job, uint64_t mig,
			   const char *token)
{
	struct msg *m = msg_new(type);

	if (m && (msg_setf(m, "job", "%d", job) < 0 ||
		  msg_setf(m, "mig", "%llu", (unsigned long long)mig) < 0 ||
		  msg_set(m, "token", token ? token : "") < 0)) {
		msg_free(m);
		return NULL;
	}
	return m;
}

/* mig_result ok=0 for a move that fails on this host. */
static void fail_move(struct agent_local *l, int job, uint64_t mig,
		      const char *token, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void fail_move(struct agent_local *l, int job, uint64_t mig,
		      const char *token, const char *fmt, ...)
{
	struct msg *m = mig_msg("mig_result", job, mig, token);
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	log_warnx("job %d mig %llu: %s", job, (unsigned long long)mig, reason);
	if (m && msg_set(m, "ok", "0") == 0 && msg_set(m, "reason", reason) == 0)
		to_registry(l, m);
	else
		msg_free(m);
}

static struct lproc *proc_by_job(struct agent_local *l, int job)
{
	for (struct lproc *p = l->procs; p; p = p->next)
		if (p->job == job && p->local)
			return p;
	return NULL;
}

static struct succ *succ_by_pid(struct agent_local *l, pid_t pid)
{
	for (struct succ *s = l->succs; s; s = s->next)
		if (s->pid == pid)
			return s;
	return NULL;
}

/* Copy `key` from src to dst when present; 0, or -1 on no memory. */
static int copy_key(struct msg *dst, const struct msg *src, const char *key)
{
	const char *v = msg_get(src, key);

	return v ? msg_set(dst, key, v) : 0;
}

/* One line `refused reason=WHY` on fd, never blocking (a peer that does not
 * read loses it; the connection closes anyway). */
static void refuse_fd(int fd, const char *why)
{
	struct msg *m = msg_new("refused");
	char *line = NULL;
	size_t len = 0;

	if (m && msg_set(m, "reason", why) == 0)
		line = msg_encode(m, &len);
	if (line && send(fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("refused line not sent: %s", strerror(errno));
	free(line);
	msg_free(m);
}

/* Close p after telling it why (proc_close writes the line). */
static int proc_refuse(struct lproc *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int proc_refuse(struct lproc *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->why, sizeof(p->why), fmt, ap);
	va_end(ap);
	log_warnx("pid %d (uid %u): refused: %s", (int)p->pid, (unsigned)p->uid, p->why);
	return -1;
}

/* ---- process -> agent --------------------------------------------------------- */

static int copy_args(struct msg *jr, const struct msg *m)
{
	double argc;
	char key[32];

	if (msg_get_num(m, "argc", &argc) < 0 || argc < 0 || argc > ARGC_MAX)
		return -1;
	if (msg_setf(jr, "argc", "%d", (int)argc) < 0)
		return -1;
	for (int i = 0; i < (int)argc; i++) {
		snprintf(key, sizeof(key), "arg%d", i);
		if (msg_set(jr, key, msg_get(m, key) ? msg_get(m, key) : "") < 0)
			return -1;
	}
	return 0;
}

/* ---- what survives an agent restart: $RUN/known/PID --------------------------
 * "JOB UID STARTTIME\n" for each registered process whose job id is known,
 * written by the agent (root, directory 0700).  A process that comes back
 * after an agent restart with `register job=J again=1` gets J back only if
 * the record for its pid (SO_PEERCRED) names J, its uid, and the start time
 * the kernel gives for that pid now (/proc/PID/stat field 22: a reused pid
 * has another).  The record goes when the process's connection ends. */
#define KNOWN_DIR "known"

/* The process's start time in clock ticks since boot, or 0. */
static unsigned long long proc_start(pid_t pid)
{
	char path[64], *st, *p;
	unsigned long long v = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(st = util_read_file(path, 4096, NULL)))
		return 0;
	p = strrchr(st, ')');
	/* after "pid (comm)": state is field 3, starttime field 22 */
	for (int f = 2; p && f < 22; f++)
		p = strchr(p + 1, ' ');
	if (p)
		v = strtoull(p + 1, NULL, 10);
	free(st);
	return v;
}

static int known_path(const struct agent_local *l, pid_t pid, char *buf, size_t size)
{
	return snprintf(buf, size, "%s/" KNOWN_DIR "/%d", l->run_dir, (int)pid) <
	       (int)size ? 0 : -1;
}

static void known_write(struct lproc *p)
{
	char path[PATH_MAX], line[96];
	unsigned long long st = proc_start(p->pid);
	int n;

	if (!st || known_path(p->l, p->pid, path, sizeof(path)) < 0)
		return;
	n = snprintf(line, sizeof(line), "%d %u %llu\n", p->job, (unsigned)p->uid, st);
	if (util_write_atomic(path, line, (size_t)n, 0600) < 0)
		log_warnx("%s: %s", path, strerror(errno));
}

static void known_drop(const struct agent_local *l, pid_t pid)
{
	char path[PATH_MAX];

	if (known_path(l, pid, path, sizeof(path)) == 0)
		unlink(path);
}

/* The job the record for p names, if it is p's: J, else 0. */
static int known_job(const struct lproc *p)
{
	char path[PATH_MAX], *s;
	unsigned long long st = 0;
	unsigned uid = 0;
	int job = 0;

	if (known_path(p->l, p->pid, path, sizeof(path)) < 0 ||
	    !(s = util_read_file(path, 128, NULL)))
		return 0;
	if (sscanf(s, "%d %u %llu", &job, &uid, &st) != 3 || uid != (unsigned)p->uid ||
	    !st || st != proc_start(p->pid))
		job = 0;
	free(s);
	return job;
}

/* At start: the directory, and no record of a process that is gone. */
static void known_init(struct agent_local *l)
{
	char dir[PATH_MAX];
	struct dirent *e;
	DIR *d;

	if (snprintf(dir, sizeof(dir), "%s/" KNOWN_DIR, l->run_dir) >= (int)sizeof(dir) ||
	    (mkdir(dir, 0700) < 0 && errno != EEXIST) || !(d = opendir(dir)))
		return;
	while ((e = readdir(d))) {
		char path[PATH_MAX + 300], *s;
		unsigned long long st = 0;
		long pid = strtol(e->d_name, NULL, 10);
		int keep = 0;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (pid > 0 && (s = util_read_file(path, 128, NULL))) {
			keep = sscanf(s, "%*d %*u %llu", &st) == 1 && st &&
			       st == proc_start((pid_t)pid);
			free(s);
		}
		if (!keep)
			unlink(path);
	}
	closedir(d);
}

/* `register job=J again=1`: the process was registered as J with an agent
 * of this host before it restarted.  J if the record agrees, else 0.  A
 * successor whose registration the dead agent never saw has no record but
 * the token of the move it came by: its claim goes to the registry with
 * that token (*proof = 1), which honours it only if the token is that of
 * J's last move to this host (docs/TRUST.md). */
static int again_job(struct lproc *p, const struct msg *m, int *proof)
{
	const char *tok = msg_get(m, "token");
	double job;
	int k;

	*proof = 0;
	if (!msg_get(m, "again") || msg_get_num(m, "job", &job) < 0 ||
	    job < 1 || job > INT32_MAX)
		return 0;
	k = known_job(p);
	if ((k < 1 || k != (int)job) && tok && tok[0]) {
		log_info("pid %d (uid %u) claims job %d again with a move's token: "
			 "the registry checks it", (int)p->pid, (unsigned)p->uid, (int)job);
		*proof = 1;
		return (int)job;
	}
	if (k < 1 || k != (int)job) {
		log_warnx("pid %d (uid %u) claims job %d again, with no record of it: "
			  "registered as a new job", (int)p->pid, (unsigned)p->uid, (int)job);
		return 0;
	}
	return k;
}

/* A restored successor may claim job J when this agent started it for J,
 * or with the token of the move it came by, which the registry checks
 * (*proof = 1: an MPI rank's successor, started by Open MPI, not by us);
 * returns J or 0. */
static int claimed_job(struct agent_local *l, struct lproc *p, const struct msg *m,
		       int *proof)
{
	struct succ *s = succ_by_pid(l, p->pid);
	const char *tok = msg_get(m, "token");
	double job;

	if (!msg_get(m, "restored") || msg_get_num(m, "job", &job) < 0 ||
	    job < 1 || job > INT32_MAX)
		return 0;
	if (!s && tok && tok[0]) {
		log_info("pid %d (uid %u) claims job %d with a move's token: the "
			 "registry checks it", (int)p->pid, (unsigned)p->uid, (int)job);
		*proof = 1;
		return (int)job;
	}
	if (!s || s->job != (int)job) {
		log_warnx("pid %d claims job %d it was not started for: ignored",
			  (int)p->pid, (int)job);
		return 0;
	}
	s->registered = 1;
	return s->job;
}

/* The successor's claim carries the move it came by and its token, which
 * the registry checks against its own record (docs/TRUST.md). */
static int claim_proof(struct agent_local *l, struct lproc *p, struct msg *jr)
{
	struct succ *s = succ_by_pid(l, p->pid);

	if (!s || s->job != p->job)
		return 0;
	if (msg_setf(jr, "mig", "%llu", (unsigned long long)s->mig) < 0 ||
	    msg_set(jr, "token", s->token) < 0)
		return -1;
	return 0;
}

/* The kernel's word for the process: where /proc/PID/WHAT points.  0, or
 * -1 with the reason in err (the process is gone, or not ours to see). */
static int proc_link(pid_t pid, const char *what, char *buf, size_t size,
		     char *err, size_t errlen)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	n = readlink(path, buf, size - 1);
	if (n < 0 || (size_t)n >= size - 1) {
		snprintf(err, errlen, "cannot read %s: %s", path,
			 n < 0 ? strerror(errno) : "path too long");
		return -1;
	}
	buf[n] = 0;
	return 0;
}

/* job_register from the line m, but with prog and cwd as the kernel has
 * them (the line's `prog` and `cwd` are the process's claim, not used). */
static struct msg *build_job_register(struct lproc *p, const struct msg *m,
				      const char *exe, const char *cwd)
{
	struct msg *jr = msg_new("job_register");
	static const char *const keys[] = { "start", "schema", "mpi_ns", "mpi_rank",
					    "mpi_size", "mpi_hosts" };

	if (!jr)
		return NULL;
	if (msg_setf(jr, "local", "%ld", p->local) < 0 ||
	    msg_setf(jr, "pid", "%d", (int)p->pid) < 0 ||
	    msg_setf(jr, "uid", "%u", (unsigned)p->uid) < 0 ||
	    msg_set(jr, "prog", exe) < 0 || msg_set(jr, "cwd", cwd) < 0 ||
	    copy_args(jr, m) < 0)
		goto fail;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (copy_key(jr, m, keys[i]) < 0)
			goto fail;
	return jr;
fail:
	msg_free(jr);
	return NULL;
}

/* What the process runs with, as the kernel has it (docs/COMMANDER.md):
 * its environment, umask, groups, limits and stdout/stderr go into jr for
 * its successor.  What cannot be read, or is over a bound, is left out
 * (the successor gets the agent's), said in the log and, as `ctx_dropped`,
 * to the registry.  -1 only when out of memory. */
static int add_context(struct lproc *p, struct msg *jr)
{
	struct jobctx c = JOBCTX_INIT;
	char dropped[512];
	int rc;

	jobctx_read_proc(&c, p->pid, dropped, sizeof(dropped));
	rc = jobctx_to_msg(&c, jr);
	jobctx_free(&c);
	if (dropped[0]) {
		log_warnx("pid %d (uid %u): left out of its successor's context: %s",
			  (int)p->pid, (unsigned)p->uid, dropped);
		if (msg_set(jr, "ctx_dropped", dropped) < 0)
			rc = -1;
	}
	return rc;
}

/* `registered` [job=J] at once: the process learns in mig_init that it is
 * known (the registry's job id follows when it comes).  A claim the
 * registry has yet to check gets no job here: the registry's answer
 * (on_job_id) is the one that counts. */
static void ack_register(struct lproc *p, int with_job)
{
	struct msg *r = msg_new("registered");

	if (r && (!p->job || !with_job || msg_setf(r, "job", "%d", p->job) == 0))
		msg_send_fd(p->fd, r);   /* a dead peer shows up as EOF */
	msg_free(r);
}

static int on_register(struct lproc *p, const struct msg *m)
{
	struct agent_local *l = p->l;
	char exe[PATH_MAX], cwd[PATH_MAX], err[PATH_MAX + 64];
	double pid;
	int again = 0, proof = 0;

	if (p->local)
		return proc_refuse(p, "second register");
	if (msg_get_num(m, "pid", &pid) < 0 || (pid_t)pid != p->pid)
		return proc_refuse(p, "pid %.60s is not the caller's (%d): a process "
				   "registers only itself", msg_get(m, "pid") ?
				   msg_get(m, "pid") : "missing", (int)p->pid);
	if (proc_link(p->pid, "exe", exe, sizeof(exe), err, sizeof(err)) < 0 ||
	    proc_link(p->pid, "cwd", cwd, sizeof(cwd), err, sizeof(err)) < 0)
		return proc_refuse(p, "%.200s", err);
	p->local = ++l->next_local;
	if (!(p->reg = build_job_register(p, m, exe, cwd)) || add_context(p, p->reg) < 0)
		return proc_refuse(p, "out of memory");
	p->job = claimed_job(l, p, m, &proof);
	if (!p->job && (p->job = again_job(p, m, &proof)))
		again = 1;
	if (p->job && (msg_setf(p->reg, "job", "%d", p->job) < 0 ||
		       (!again && claim_proof(l, p, p->reg) < 0) ||
		       (proof && msg_set(p->reg, "token", msg_get(m, "token")) < 0)))
		return proc_refuse(p, "out of memory");
	if (p->job && !proof)
		known_write(p);       /* a token claim: once the registry agrees */
	log_info("pid %d (uid %u) registered: exe=%s cwd=%s%s%s", (int)p->pid,
		 (unsigned)p->uid, exe, cwd, !p->job ? "" : again ? " again as job " :
		 " as restored job ", p->job ? msg_get(p->reg, "job") : "");
	if (msg_get(m, "prog") && strcmp(msg_get(m, "prog"), exe) != 0)
		log_info("pid %d said prog=%.200s: the kernel's exe is kept", (int)p->pid,
			 msg_get(m, "prog"));
	p->token_claim = proof && !again;
	ack_register(p, !proof || again);
	l->send(l->ctx, p->reg);
	return 0;
}

static int on_ready(struct lproc *p, const struct msg *m)
{
	struct succ *s = succ_by_pid(p->l, p->pid);
	struct msg *r;

	if (!s || s->aborted || !msg_get(m, "port")) {
		log_warnx("pid %d: unexpected ready: ignored", (int)p->pid);
		return 0;
	}
	s->ready = 1;
	p->succ_ready = 1;
	log_info("job %d mig %llu: successor pid %d ready on port %s, %.1f ms after start",
		 s->job, (unsigned long long)s->mig, (int)p->pid, msg_get(m, "port"),
		 (util_now_s() - s->started) * 1000);
	r = mig_msg("mig_ready", s->job, s->mig, s->token);
	if (r && copy_key(r, m, "port") < 0) {
		msg_free(r);
		r = NULL;
	}
	to_registry(p->l, r);
	return 0;
}

static int on_progress(struct lproc *p, const struct msg *m)
{
	static const char *const keys[] = { "phase", "t", "bytes" };
	struct msg *r;

	if (!p->mig || !msg_get(m, "phase"))
		return 0;
	log_info("job %d mig %llu: phase %s", p->job, (unsigned long long)p->mig,
		 msg_get(m, "phase"));
	r = mig_msg("mig_progress", p->job, p->mig, p->token);
	for (size_t i = 0; r && i < ARRAY_SIZE(keys); i++)
		if (copy_key(r, m, keys[i]) < 0) {
			msg_free(r);
			r = NULL;
		}
	to_registry(p->l, r);
	return 0;
}

static int on_result(struct lproc *p, const struct msg *m)
{
	static const char *const keys[] = { "ok", "reason", "poll_s", "connect_s",
					    "transfer_s", "restore_s", "bytes", "agree_s",
					    "spawn_s", "merge_s", "split_s" };
	struct msg *r;

	if (!p->mig)
		return 0;
	r = mig_msg("mig_result", p->job, p->mig, p->token);
	for (size_t i = 0; r && i < ARRAY_SIZE(keys); i++)
		if (copy_key(r, m, keys[i]) < 0) {
			msg_free(r);
			r = NULL;
		}
	if (r && !msg_get(r, "ok"))
		msg_set(r, "ok", "0");
	log_info("job %d mig %llu: result ok=%s %s", p->job, (unsigned long long)p->mig,
		 msg_get(m, "ok") ? msg_get(m, "ok") : "?",
		 msg_get(m, "reason") ? msg_get(m, "reason") : "");
	p->ordered = msg_get(m, "ok") && strcmp(msg_get(m, "ok"), "1") == 0;
	p->mig = 0;
	to_registry(p->l, r);
	return 0;
}

static int on_exit_line(struct lproc *p, const struct msg *m)
{
	const char *st = msg_get(m, "status");
	double code = 0;

	msg_get_num(m, "code", &code);
	p->exited = 1;
	snprintf(p->exit_status, sizeof(p->exit_status), "%s",
		 st && (!strcmp(st, "done") || !strcmp(st, "migrated") ||
			!strcmp(st, "abandoned")) ? st : "failed");
	p->exit_code = (int)code;
	return 0;
}

struct proc_handler {
	const char *type;
	int (*fn)(struct lproc *, const struct msg *);
};

static const struct proc_handler proc_handlers[] = {
	{ "exit", on_exit_line }, { "progress", on_progress },
	{ "ready", on_ready }, { "register", on_register }, { "result", on_result },
};

static int proc_dispatch(struct lproc *p, const struct msg *m)
{
	for (size_t i = 0; i < ARRAY_SIZE(proc_handlers); i++)
		if (strcmp(msg_type(m), proc_handlers[i].type) == 0)
			return proc_handlers[i].fn(p, m);
	log_debug("pid %d: unknown message '%s' ignored", (int)p->pid, msg_type(m));
	return 0;
}

/* ---- connections ---------------------------------------------------------------- */

/* The process is gone: tell the registry how it ended. */
static void proc_report_end(struct lproc *p)
{
	struct msg *m;

	if (!p->local)
		return;
	/* a move the registry ordered: its mig_result said where the job went;
	 * an MPI successor whose move failed: the job stays its source's */
	if (p->exited && ((!strcmp(p->exit_status, "migrated") && p->ordered) ||
			  (!strcmp(p->exit_status, "abandoned") && p->token_claim)))
		return;
	if (!(m = msg_new("job_status")))
		return;
	if (p->job)
		msg_setf(m, "job", "%d", p->job);
	else
		msg_setf(m, "local", "%ld", p->local);
	/* `abandoned` from anyone but an MPI successor means nothing */
	msg_set(m, "status", p->exited && strcmp(p->exit_status, "abandoned") != 0 ?
		p->exit_status : "failed");
	msg_setf(m, "code", "%d", p->exited ? p->exit_code : -1);
	log_info("pid %d (job %d) ended: %s", (int)p->pid, p->job,
		 p->exited ? p->exit_status : "failed (no exit line)");
	to_registry(p->l, m);
}

static void proc_free(struct lproc *p)
{
	struct agent_local *l = p->l;

	for (struct lproc **pp = &l->procs; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	l->nprocs--;
	if (p->ev)
		event_free(p->ev);
	if (p->tmo)
		event_free(p->tmo);
	if (p->why[0])
		refuse_fd(p->fd, p->why);
	close(p->fd);
	msg_free(p->reg);
	free(p->in);
	free(p);
}

static void proc_close(struct lproc *p)
{
	proc_report_end(p);
	if (p->local && p->job)
		known_drop(p->l, p->pid);
	proc_free(p);
}

/* Decode and dispatch every whole line in p->in; -1: close. */
static int proc_lines(struct lproc *p)
{
	char err[MSG_ERR_LEN];
	size_t off = 0;
	char *nl;

	while ((nl = memchr(p->in + off, '\n', p->inlen - off))) {
		size_t len = (size_t)(nl - (p->in + off)) + 1;
		struct msg *m = msg_decode(p->in + off, len, err, sizeof(err));
		int rc = m ? proc_dispatch(p, m) : -1;

		if (!m)
			proc_refuse(p, "bad line: %s", err);
		msg_free(m);
		if (rc < 0)
			return -1;
		off += len;
	}
	memmove(p->in, p->in + off, p->inlen - off);
	p->inlen -= off;
	if (p->inlen >= AGENT_LOCAL_LINE_MAX)
		return proc_refuse(p, "line longer than %d bytes", AGENT_LOCAL_LINE_MAX);
	return 0;
}

/* Armed while the connection owes something: its `register` (a successor
 * of ours: its `ready`), or the end of a line it has begun. */
static void proc_timer(struct lproc *p)
{
	struct timeval tv = { AGENT_LOCAL_TIMEOUT_S, 0 };
	int want = (!p->local && !p->succ_ready) || p->inlen > 0;

	if (want && !p->armed)
		p->armed = evtimer_add(p->tmo, &tv) == 0;
	else if (!want && p->armed) {
		evtimer_del(p->tmo);
		p->armed = 0;
	}
}

static void on_proc_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct lproc *p = arg;

	if (p->inlen > 0)
		proc_refuse(p, "timeout: a line unfinished for %d s", AGENT_LOCAL_TIMEOUT_S);
	else
		proc_refuse(p, "timeout: no register within %d s", AGENT_LOCAL_TIMEOUT_S);
	proc_close(p);
}

static void on_proc_read(evutil_socket_t fd, short what, void *arg)
{
	struct lproc *p = arg;
	char *nb;
	ssize_t n;

	if (!(nb = realloc(p->in, p->inlen + READ_CHUNK))) {
		proc_close(p);
		return;
	}
	p->in = nb;
	n = recv(fd, p->in + p->inlen, READ_CHUNK, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		proc_close(p);
		return;
	}
	p->inlen += (size_t)n;
	if (proc_lines(p) < 0)
		proc_close(p);
	else
		proc_timer(p);
}

static int peer_cred(int fd, struct ucred *uc)
{
	socklen_t len = sizeof(*uc);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, uc, &len);
}

static size_t conns_of(const struct agent_local *l, uid_t uid)
{
	size_t n = 0;

	for (const struct lproc *p = l->procs; p; p = p->next)
		n += p->uid == uid;
	return n;
}

/* Out of descriptors: stop accepting for a second (the listener stays
 * readable, and libevent would call us again at once). */
static void accept_pause(struct agent_local *l)
{
	struct timeval tv = { 1, 0 };

	log_warnx("local socket: accept: %s: pausing 1 s", strerror(errno));
	event_del(l->lev);
	evtimer_add(l->lpause, &tv);
}

static void on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct agent_local *l = arg;

	event_add(l->lev, NULL);
}

/* Why a connection of uid cannot be taken, or NULL. */
static const char *accept_refusal(struct agent_local *l, uid_t uid, char *buf,
				  size_t size)
{
	if (conns_of(l, uid) >= AGENT_LOCAL_MAX_PER_UID)
		snprintf(buf, size, "too many connections for uid %u (at most %d)",
			 (unsigned)uid, AGENT_LOCAL_MAX_PER_UID);
	else if (l->nprocs >= AGENT_LOCAL_MAX_PROCS)
		snprintf(buf, size, "too many connections (at most %d)",
			 AGENT_LOCAL_MAX_PROCS);
	else
		return NULL;
	return buf;
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct agent_local *l = arg;
	struct ucred uc;
	struct lproc *p;
	char why[128];
	const char *no;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			accept_pause(l);
		return;
	}
	if (peer_cred(fd, &uc) < 0) {
		log_warnx("local socket: SO_PEERCRED: %s", strerror(errno));
		refuse_fd(fd, "no peer credentials");
		close(fd);
		return;
	}
	if ((no = accept_refusal(l, uc.uid, why, sizeof(why)))) {
		/* one line per refusal would let a flood fill the log */
		log_debug("pid %d (uid %u): refused: %s", (int)uc.pid, (unsigned)uc.uid, no);
		refuse_fd(fd, no);
		close(fd);
		return;
	}
	if (!(p = calloc(1, sizeof(*p)))) {
		refuse_fd(fd, "out of memory");
		close(fd);
		return;
	}
	*p = (struct lproc){ .l = l, .fd = fd, .pid = uc.pid, .uid = uc.uid,
			     .next = l->procs };
	p->ev = event_new(l->base, fd, EV_READ | EV_PERSIST, on_proc_read, p);
	p->tmo = evtimer_new(l->base, on_proc_timeout, p);
	l->procs = p;
	l->nprocs++;
	if (!p->ev || !p->tmo || event_add(p->ev, NULL) < 0) {
		proc_free(p);
		return;
	}
	proc_timer(p);
}

/* ---- successors ------------------------------------------------------------------- */

static void succ_reaped(struct agent_local *l, struct succ *s, int st)
{
	char last[256], how[64];

	if (WIFEXITED(st))
		snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(st));
	else
		snprintf(how, sizeof(how), "killed by signal %d", WTERMSIG(st));
	log_info("successor pid %d of job %d %s", (int)s->pid, s->job, how);
	if (s->ready || s->aborted)
		return;             /* the source reports the move's end */
	agent_spawn_last_line(s->log, last, sizeof(last));
	fail_move(l, s->job, s->mig, s->token, "prepare on %s: successor %s before ready%s%s",
		  l->host, how, last[0] ? ": " : "", last);
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	struct agent_local *l = arg;
	struct succ **sp = &l->succs;

	while (*sp) {
		struct succ *s = *sp;
		int st;

		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			succ_reaped(l, s, st);
			*sp = s->next;
			free(s);
		} else {
			sp = &s->next;
		}
	}
}

/* ---- registry -> agent -------------------------------------------------------------- */

static int ids_of(const struct msg *m, int *job, uint64_t *mig)
{
	double j, g;

	if (msg_get_num(m, "job", &j) < 0 || j < 1 || j > INT32_MAX)
		return -1;
	*job = (int)j;
	if (!mig)
		return 0;
	if (msg_get_num(m, "mig", &g) < 0 || g < 1)
		return -1;
	*mig = (uint64_t)g;
	return 0;
}

static int on_job_id(struct agent_local *l, const struct msg *m)
{
	double local;
	int job;
	struct msg *r;

	if (msg_get_num(m, "local", &local) < 0 || ids_of(m, &job, NULL) < 0)
		return -1;
	for (struct lproc *p = l->procs; p; p = p->next) {
		if (p->local != (long)local)
			continue;
		if (p->token_claim && p->job != job)
			p->token_claim = 0;   /* the registry said no: a job of its own */
		p->job = job;
		msg_setf(p->reg, "job", "%d", job);
		/* the id is settled: a later re-announce is the host's own
		 * word, not a successor's proof */
		msg_del(p->reg, "mig");
		msg_del(p->reg, "token");
		known_write(p);
		if ((r = msg_new("registered")) && msg_setf(r, "job", "%d", job) == 0)
			msg_send_fd(p->fd, r);   /* a dead peer shows up as EOF */
		msg_free(r);
		return 1;
	}
	return 1;                       /* the process is already gone */
}

static int on_migrate(struct agent_local *l, const struct msg *m)
{
	struct lproc *p;
	struct msg *cmd;
	uint64_t mig;
	int job;

	if (ids_of(m, &job, &mig) < 0 || (!msg_get(m, "to") && !msg_get(m, "host")) ||
	    !msg_get(m, "token"))
		return -1;
	if (!(p = proc_by_job(l, job))) {
		fail_move(l, job, mig, msg_get(m, "token"), "job %d has no process on %s",
			  job, l->host);
		return 1;
	}
	if (!(cmd = msg_new("migrate")) || copy_key(cmd, m, "to") < 0 ||
	    copy_key(cmd, m, "host") < 0 ||
	    msg_setf(cmd, "sent", "%.6f", util_now_s()) < 0 ||
	    copy_key(cmd, m, "token") < 0 || copy_key(cmd, m, "dest") < 0 ||
	    msg_send_fd(p->fd, cmd) < 0) {
		msg_free(cmd);
		fail_move(l, job, mig, msg_get(m, "token"), "cannot command pid %d: %s",
			  (int)p->pid, strerror(errno));
		return 1;
	}
	msg_free(cmd);
	if (kill(p->pid, l->signo) < 0) {
		fail_move(l, job, mig, msg_get(m, "token"), "signal pid %d: %s",
			  (int)p->pid, strerror(errno));
		return 1;
	}
	p->mig = mig;
	snprintf(p->token, sizeof(p->token), "%s", msg_get(m, "token"));
	log_info("job %d mig %llu: pid %d told to move to %s", job,
		 (unsigned long long)mig, (int)p->pid, msg_get(m, "dest") ? msg_get(m, "dest") : "?");
	return 1;
}

/* The binary to run: `binary`, else the schema's for our arch, else prog. */
static void pick_binary(struct agent_local *l, const struct msg *m, char *buf,
			size_t size)
{
	char err[128];

	if (msg_get(m, "binary") && msg_get(m, "binary")[0]) {
		snprintf(buf, size, "%s", msg_get(m, "binary"));
		return;
	}
	if (agent_spawn_binary(msg_get(m, "schema"), l->arch, buf, size, err,
			       sizeof(err)) < 0) {
		log_warnx("prepare: %s: using the program path", err);
		buf[0] = 0;
	}
}

static int prepare_args(const struct msg *m, const char ***argv, int *argc)
{
	double n;
	char key[32];

	if (msg_get_num(m, "argc", &n) < 0 || n < 0 || n > ARGC_MAX ||
	    !(*argv = calloc((size_t)n + 1, sizeof(**argv))))
		return -1;
	*argc = (int)n;
	for (int i = 0; i < *argc; i++) {
		snprintf(key, sizeof(key), "arg%d", i);
		(*argv)[i] = msg_get(m, key) ? msg_get(m, key) : "";
	}
	return 0;
}

static int on_prepare(struct agent_local *l, const struct msg *m)
{
	struct spawn_req rq = { .run_dir = l->run_dir,
				.cgroup = l->have_cg ? &l->cg : NULL };
	char binary[512], err[SPAWN_ERR_LEN];
	struct jobctx ctx = JOBCTX_INIT;
	const char **argv = NULL;
	struct succ *s;
	uint64_t mig;
	double uid;

	if (ids_of(m, &rq.job, &mig) < 0 || msg_get_num(m, "uid", &uid) < 0 ||
	    uid < 0 || uid > 4294967294.0 || !msg_get(m, "prog") ||
	    !msg_get(m, "token"))
		return -1;
	if (jobctx_from_msg(&ctx, m, err, sizeof(err)) < 0) {
		log_warnx("prepare job %d: %s", rq.job, err);
		return -1;
	}
	rq.ctx = &ctx;
	if (prepare_args(m, &argv, &rq.argc) < 0) {
		jobctx_free(&ctx);
		return -1;
	}
	if (uid == 0 && !msg_get(m, "allow_root")) {
		/* the registry moves root's jobs only with sched/allow_root 1 */
		free(argv);
		jobctx_free(&ctx);
		fail_move(l, rq.job, mig, msg_get(m, "token"),
			  "prepare on %s: refusing to start a successor as root "
			  "without allow_root", l->host);
		return 1;
	}
	pick_binary(l, m, binary, sizeof(binary));
	rq.token = msg_get(m, "token");
	rq.prog = msg_get(m, "prog");
	rq.binary = binary[0] ? binary : NULL;
	rq.cwd = msg_get(m, "cwd");
	rq.argv = argv;
	rq.uid = (uid_t)uid;
	if (!(s = calloc(1, sizeof(*s)))) {
		free(argv);
		jobctx_free(&ctx);
		fail_move(l, rq.job, mig, rq.token, "prepare on %s: out of memory", l->host);
		return 1;
	}
	s->started = util_now_s();
	s->pid = agent_spawn_start(&rq, s->log, sizeof(s->log), err, sizeof(err));
	free(argv);
	jobctx_free(&ctx);
	if (s->pid < 0) {
		free(s);
		fail_move(l, rq.job, mig, rq.token, "prepare on %s: %s", l->host, err);
		return 1;
	}
	s->job = rq.job;
	s->mig = mig;
	snprintf(s->token, sizeof(s->token), "%s", rq.token);
	s->next = l->succs;
	l->succs = s;
	log_info("job %d mig %llu: successor pid %d started (%s)", s->job,
		 (unsigned long long)mig, (int)s->pid, rq.binary ? rq.binary : rq.prog);
	on_sigchld(-1, 0, l);       /* it may already have died */
	return 1;
}

static int on_abort(struct agent_local *l, const struct msg *m)
{
	uint64_t mig;
	int job;

	if (ids_of(m, &job, &mig) < 0)
		return -1;
	for (struct succ *s = l->succs; s; s = s->next)
		if (s->job == job && s->mig == mig && !s->registered && !s->aborted) {
			s->aborted = 1;
			log_info("job %d mig %llu aborted (%s): killing successor pid %d",
				 job, (unsigned long long)mig,
				 msg_get(m, "reason") ? msg_get(m, "reason") : "", (int)s->pid);
			kill(s->pid, SIGKILL);
		}
	for (struct lproc *p = l->procs; p; p = p->next)
		if (p->job == job && p->mig == mig)
			p->mig = 0;
	return 1;
}

int agent_local_handle(struct agent_local *l, const struct msg *m)
{
	static const struct {
		const char *type;
		int (*fn)(struct agent_local *, const struct msg *);
	} h[] = { { "abort", on_abort }, { "job_id", on_job_id },
		  { "migrate", on_migrate }, { "prepare", on_prepare } };

	for (size_t i = 0; i < ARRAY_SIZE(h); i++)
		if (strcmp(msg_type(m), h[i].type) == 0)
			return h[i].fn(l, m);
	return 0;
}

void agent_local_announce(struct agent_local *l)
{
	for (struct lproc *p = l->procs; p; p = p->next)
		if (p->local && p->reg)
			l->send(l->ctx, p->reg);
}

size_t agent_local_nprocs(const struct agent_local *l)
{
	size_t n = 0;

	for (const struct lproc *p = l->procs; p; p = p->next)
		n += p->local != 0;
	return n;
}

/* ---- life cycle ---------------------------------------------------------------------- */

static int listen_sock(struct agent_local *l, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (mkdir(l->run_dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", l->run_dir, strerror(errno));
		return -1;
	}
	if (snprintf(l->sock, sizeof(l->sock), "%s/%s", l->run_dir,
		     AGENT_LOCAL_SOCK) >= (int)sizeof(l->sock)) {
		snprintf(err, errlen, "%s: path too long for a socket", l->run_dir);
		return -1;
	}
	memcpy(sa.sun_path, l->sock, sizeof(sa.sun_path));
	unlink(l->sock);                 /* a stale socket of a previous run */
	l->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->lfd < 0 || bind(l->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(l->sock, 0666) < 0 || listen(l->lfd, 64) < 0) {
		snprintf(err, errlen, "local socket %s: %s", l->sock, strerror(errno));
		return -1;
	}
	return 0;
}

static int start_events(struct agent_local *l, char *err, size_t errlen)
{
	l->lev = event_new(l->base, l->lfd, EV_READ | EV_PERSIST, on_accept, l);
	l->lpause = evtimer_new(l->base, on_accept_resume, l);
	l->chld = evsignal_new(l->base, SIGCHLD, on_sigchld, l);
	if (!l->lev || !l->lpause || !l->chld || event_add(l->lev, NULL) < 0 ||
	    evsignal_add(l->chld, NULL) < 0) {
		snprintf(err, errlen, "local socket: cannot create events");
		return -1;
	}
	return 0;
}

static int set_arch(struct agent_local *l, const char *arch)
{
	struct utsname u;

	if (!arch) {
		if (uname(&u) < 0)
			return -1;
		arch = u.machine;
	}
	return (l->arch = strdup(arch)) ? 0 : -1;
}

/* Where --cgroup lives in each hierarchy, for the successors to join. */
static int locate_cgroup(struct agent_local *l, const char *path, char *err,
			 size_t errlen)
{
	char *mounts = util_read_file("/proc/self/mounts", 1u << 20, NULL);
	int rc;

	if (!mounts) {
		snprintf(err, errlen, "/proc/self/mounts: %s", strerror(errno));
		return -1;
	}
	rc = cg_locate(mounts, path, &l->cg, err, errlen);
	free(mounts);
	l->have_cg = rc == 0;
	return rc;
}

struct agent_local *agent_local_new(struct event_base *base,
				    const struct agent_local_config *cfg,
				    char *err, size_t errlen)
{
	struct agent_local *l = calloc(1, sizeof(*l));

	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	*l = (struct agent_local){ .base = base, .lfd = -1, .send = cfg->send,
				   .ctx = cfg->ctx,
				   .signo = cfg->signo > 0 ? cfg->signo : SIGUSR1 };
	l->run_dir = strdup(cfg->run_dir);
	l->host = strdup(cfg->host ? cfg->host : "?");
	if (!l->run_dir || !l->host || set_arch(l, cfg->arch) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (cfg->cgroup && locate_cgroup(l, cfg->cgroup, err, errlen) < 0)
		goto fail;
	if (mkdir(l->run_dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", l->run_dir, strerror(errno));
		goto fail;
	}
	known_init(l);
	if (listen_sock(l, err, errlen) < 0 || start_events(l, err, errlen) < 0)
		goto fail;
	return l;
fail:
	agent_local_free(l);
	return NULL;
}

void agent_local_free(struct agent_local *l)
{
	if (!l)
		return;
	while (l->procs)
		proc_free(l->procs);
	while (l->succs) {
		struct succ *s = l->succs;

		l->succs = s->next;
		if (!s->registered) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
		}
		free(s);
	}
	if (l->lev)
		event_free(l->lev);
	if (l->lpause)
		event_free(l->lpause);
	if (l->chld)
		event_free(l->chld);
	if (l->lfd >= 0) {
		close(l->lfd);
		unlink(l->sock);
	}
	free(l->run_dir);
	free(l->host);
	free(l->arch);
	free(l);
}
