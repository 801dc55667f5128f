/*
 * registry.h — the in-memory model of reschedfs: hosts, jobs (migration-
 * enabled processes), the live rule set and policy, scheduler settings and
 * the events stream.  It knows nothing of FUSE or sockets: fs_tree renders
 * it as files, fs_net feeds it from agents, fs_sched reads it and asks for
 * moves, unit tests call it directly.
 *
 * Locking: one mutex (reg_lock/reg_unlock) protects every field of struct
 * registry, every struct reg_host and struct reg_job.  All reg_* calls take
 * it themselves unless their name ends in _locked, which must be called
 * with it held.  Pointers from _locked accessors are valid only until
 * reg_unlock.  Nothing blocks on the network with the lock held: hooks
 * marked "unlocked" below are called after the lock is released.
 *
 * Strings passed in are copied; the caller keeps ownership of its own.
 * Errors: functions returning int return 0 (or an id >= 1) on success and
 * -errno on failure; when an `err` buffer (REG_ERR_LEN) is given it receives
 * a one-line reason.  Every rejected write also puts one event line out.
 */
#ifndef RESCHED_REGISTRY_H
#define RESCHED_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/jobctx.h"
#include "rules/rules.h"

#define REG_ERR_LEN   256
#define REG_NAME_MAX  64          /* host names, rule file names */
#define REG_LEASE_INTERVALS 3     /* silent this many intervals -> unavailable */
#define REG_HISTORY_MAX 64        /* history lines kept per job */
#define REG_DECISIONS_MAX 1000    /* lines kept in sched/decisions */
#define REG_HOSTS_MAX 65536       /* hosts the registry keeps */
#define REG_INTERVAL_MIN 0.1      /* an agent's update interval, seconds */
#define REG_INTERVAL_MAX 3600.0
#define REG_TOKEN_HEX 64          /* a move's one-time token: 32 bytes, hex */
#define REG_MPI_NS_MAX 128        /* an MPI job's namespace, NUL included */
#define REG_MPI_HOSTS_MAX (32 * 1024) /* an MPI job's host list, bytes */
#define REG_MPI_SIZE_MAX (1 << 24) /* ranks of one MPI job */

struct registry;

/* ---- values as they come from agents ---------------------------------- */
struct reg_kv {                   /* hello info: key value */
	const char *key, *value;
};
struct reg_metric {               /* update: m.NAME=VALUE */
	const char *name;
	double value;
};
struct reg_verdict {              /* update: r.NAME=STATE/VALUE */
	const char *name;
	int state;                    /* RS_FREE..RS_ERROR */
	double value;
};

/* ---- the model (read under the lock) ---------------------------------- */
struct reg_host {
	char name[REG_NAME_MAX];
	uint64_t seq;                 /* registration order (first fit) */
	int state;                    /* last reported RS_FREE..RS_OVERLOADED */
	int draining;                 /* set by `echo drain > state` */
	int unavailable;              /* lease expired */
	double interval;              /* seconds between updates */
	double last_update;           /* util_now_s() of the last hello/update */
	double joined;                /* util_now_s() of the first hello */
	struct reg_kv *info;          /* ninfo pairs, strings owned here */
	size_t ninfo;
	struct reg_metric *metrics;   /* nmetrics, sorted by name, owned here */
	size_t nmetrics;
	struct reg_verdict *verdicts; /* nverdicts, in reported order */
	size_t nverdicts;
	struct reg_host *next;        /* registration order */
	struct reg_host *hnext;       /* private: hash chain */
};

enum reg_job_status { JOB_RUNNING, JOB_MIGRATING, JOB_MIGRATED, JOB_DONE,
		      JOB_FAILED, JOB_LOST };
const char *reg_job_status_name(int status);  /* "running", ... */

struct reg_job {
	int id;                       /* >= 1, stable across moves/restarts */
	char host[REG_NAME_MAX];      /* current host */
	pid_t pid;                    /* pid on that host */
	uid_t uid;                    /* owner: may migrate it */
	int status;                   /* enum reg_job_status */
	int prev_status;              /* status before lost/migrating */
	char *prog, *cwd;             /* owned */
	char **argv;                  /* argc strings, owned */
	int argc;
	double start_wall;            /* wall-clock start time (seconds) */
	double registered;            /* util_now_s() of registration */
	double last_move;             /* util_now_s() of the last finished move, 0 */
	char *schema;                 /* XML text or NULL, owned */
	struct jobctx ctx;            /* environment, umask, groups, limits,
	                               * stdout/stderr as the job's host read
	                               * them at its last registration, owned */
	/* the current or last migration */
	uint64_t mig;                 /* id of the move in progress, 0 none */
	char mig_to[REG_NAME_MAX];
	char mig_from[REG_NAME_MAX];
	double mig_started;           /* util_now_s() of the request */
	double mig_wall;              /* wall time of the request */
	int mig_done;                 /* 1 once result is in for `mig` */
	int mig_errno;                /* 0 success, else the errno */
	char mig_token[REG_TOKEN_HEX + 1]; /* the move's token (both agents) */
	int mig_recovered;            /* in flight when the registry stopped:
	                               * the successor's claim settles it */
	pid_t mig_succ_pid;           /* its successor, registered while the move
	                               * was in flight (0 none): the job's pid
	                               * once the move succeeds ... */
	struct jobctx mig_succ_ctx;   /* ... and its context (output) */
	/* MPI ranks (mpi_ns NULL: a plain job) */
	char *mpi_ns;                 /* the job's namespace, owned */
	int mpi_rank, mpi_size;       /* in the job's communicator */
	char *mpi_hosts;              /* the hosts it can spawn on, comma-
	                               * separated, owned; NULL: not reported */
	char *result;                 /* last result line (no newline), owned */
	char *why;                    /* procs/<id>/why text, owned */
	char **history;               /* nhistory lines (no newline), owned */
	int nhistory;
};

enum reg_sched_mode { SCHED_AUTO, SCHED_MANUAL, SCHED_DRYRUN };
struct reg_sched {
	int mode;                     /* enum reg_sched_mode, default auto */
	double stability;             /* s a state must hold; default 0 */
	double cooldown;              /* s a job stays after a move; default 60 */
	double min_age;               /* s a job must have run; default 10 */
	int max_concurrent;           /* moves at once; default 1 */
	int max_per_hour;             /* moves per hour; default 60 */
	double migrate_timeout;       /* s before a move is failed; default 120 */
	int allow_root;               /* 1: jobs of uid 0 may move; default 0 */
};

/* ---- hooks ------------------------------------------------------------ */
/* A snapshot of the rule files: names ("x.rule") and texts, n entries.
 * Owned by the snapshot; free with reg_rules_snapshot_free. */
struct reg_rules_snapshot {
	char **names;
	char **texts;
	size_t *lens;
	size_t n;
};
void reg_rules_snapshot_free(struct reg_rules_snapshot *s);

struct reg_migrate_req {
	int job;
	uint64_t mig;                 /* unique id of this move */
	const char *from, *to;        /* host names */
	const char *from_addr, *to_addr; /* info `addr` of each, or "" */
	const char *token;            /* the move's one-time token (hex) */
	int mpi;                      /* an MPI rank: its job spawns the
	                               * successor (no prepare); to_addr is the
	                               * entry of the job's hosts naming `to` */
};

/* The network side.  All called unlocked, from whichever thread made the
 * change; they must not block for long (queue and return). */
struct reg_net_hooks {
	void *ctx;
	/* rules/ changed: push this set to every agent.  snap is valid only
	 * for the call. */
	void (*ruleset_changed)(void *ctx, const struct reg_rules_snapshot *snap);
	/* start this move.  Return 0 when under way (the result comes later
	 * through reg_migration_result), or -errno (e.g. -EHOSTUNREACH when
	 * an agent is not connected) to fail it at once. */
	int (*migrate)(void *ctx, const struct reg_migrate_req *req);
	/* the move failed or timed out on the registry side: tell both agents
	 * to abort it.  May be NULL. */
	void (*abort)(void *ctx, int job, uint64_t mig, const char *reason);
	/* host's lease ran out: a connection it may still have is dead
	 * weight (an agent that stopped sending); end it, so that an agent
	 * still alive connects again.  May be NULL. */
	void (*host_silent)(void *ctx, const char *host);
};

/* What changed, for fs_notify (applies it through the mount).  Called
 * WITH the lock held: must only queue. */
enum reg_change {
	REG_HOST_ADDED,               /* hosts/<host> appeared */
	REG_HOST_REMOVED,             /* hosts/<host> forgotten (not by rmdir) */
	REG_HOST_STATE,               /* hosts/<host>/state changed */
	REG_JOB_ADDED,                /* procs/<job> appeared */
	REG_JOB_STATUS,               /* procs/<job>/status changed */
	REG_JOB_HOST,                 /* procs/<job>/host changed (moved) */
	REG_RULES,                    /* rules/ or policy changed internally */
};
typedef void (*reg_change_fn)(void *ctx, enum reg_change what,
			      const char *host, int job);

/* Event sink: one formatted line "TIME KIND k=v ..." (no newline). Called
 * with the lock held; must only queue. */
typedef void (*reg_event_fn)(void *ctx, const char *line);

/* ---- life cycle -------------------------------------------------------- */
struct reg_config {
	const char *state_dir;        /* NULL: nothing persisted */
	const char *default_rules;    /* dir of *.rule seeding an empty state */
};
/* Load persisted state (or seed the rules).  NULL with err on failure.
 * Release with reg_free (after reg_stop). */
struct registry *reg_new(const struct reg_config *cfg, char *err);
void reg_free(struct registry *r);
/* Start / stop the lease timer thread (checks every ~100 ms). */
int reg_start(struct registry *r);
void reg_stop(struct registry *r);
/* One lease check at monotonic time `now` (what the timer thread runs). */
void reg_tick(struct registry *r, double now);

void reg_set_net_hooks(struct registry *r, const struct reg_net_hooks *h);
void reg_set_change_hook(struct registry *r, reg_change_fn fn, void *ctx);
/* Called unlocked after each successful reg_host_update: the scheduler's
 * event-driven entry.  fn may be NULL. */
void reg_set_update_hook(struct registry *r,
			 void (*fn)(void *ctx, const char *host), void *ctx);
void reg_set_event_hook(struct registry *r, reg_event_fn fn, void *ctx);

void reg_lock(struct registry *r);
void reg_unlock(struct registry *r);

/* ---- network side: agent -> registry ---------------------------------- */
/* hello: creates the host (registration order kept) or refreshes it; a
 * returning host leaves `unavailable`. */
int reg_host_hello(struct registry *r, const char *name,
		   const struct reg_kv *info, size_t ninfo, double interval);
/* update: metrics and verdicts replace the previous ones wholesale;
 * state is RS_FREE..RS_OVERLOADED.  interval <= 0 keeps the old one.
 * -ENOENT when the host never said hello. */
int reg_host_update(struct registry *r, const char *name,
		    const struct reg_metric *m, size_t nm,
		    const struct reg_verdict *v, size_t nv,
		    int state, double interval);
/* The connection went away: nothing changes until the lease runs out. */
void reg_host_disconnected(struct registry *r, const char *name);

struct reg_proc_info {
	pid_t pid;
	uid_t uid;
	const char *prog, *cwd;       /* may be NULL */
	const char *const *argv;      /* argc strings */
	int argc;
	double start_wall;            /* 0: now */
	const char *schema;           /* XML or NULL */
	int job;                      /* > 0: the id the agent claims; 0: new */
	uint64_t mig;                 /* with job: the move a successor came by */
	const char *token;            /* ... and that move's token */
	const char *mpi_ns;           /* an MPI rank (else NULL): its job's
	                               * namespace, rank and size */
	int mpi_rank, mpi_size;
	const char *mpi_hosts;        /* ... the hosts it can spawn on, or NULL */
	const struct jobctx *ctx;     /* NULL: keep the job's; else copied */
};
/* Returns the job id (>= 1) or -errno (-ENOENT unknown host).  The ids are
 * the registry's: a claimed id is honoured only for the job's own host (a
 * re-announce) or for the destination of the job's move in flight with
 * that move's id and token (its successor); any other claim gets a new id
 * and a job-id-refused event.  An MPI rank's successor, which registers
 * while its move is in flight, is only noted (mig_succ_pid): the job moves
 * to it when the source reports success.  A job's uid is the one it was first registered
 * with: a later registration does not change it. */
int reg_proc_register(struct registry *r, const char *host,
		      const struct reg_proc_info *p);
struct msg;
/* The MPI keys of a job_register line or a job record (mpi_ns mpi_rank
 * mpi_size [mpi_hosts]) into p; strings point into m.  1 when set, 0 when
 * absent, -1 when malformed (p untouched): a namespace of 1..127 printable
 * bytes, 0 <= rank < size <= REG_MPI_SIZE_MAX, hosts 1..REG_MPI_HOSTS_MAX
 * printable bytes without spaces. */
int reg_mpi_parse(const struct msg *m, struct reg_proc_info *p);
/* job_status: status is JOB_RUNNING, JOB_DONE, JOB_FAILED or JOB_MIGRATED
 * (the process moved by itself, e.g. libmigrate's MPI test hook: its id
 * ends there, its successor registers as a new job). */
int reg_proc_update(struct registry *r, int job, int status, int code);
int reg_proc_exit(struct registry *r, int job, int status, int code);

/* May host `host` speak of move `mig` of `job` as its source (role 's') or
 * destination ('d'), proving it with the move's token?  0 yes; -ESRCH the
 * move is not in flight (over, aborted, another move: a late message, to
 * be dropped); -EPERM host is not that side of the move or the token is
 * wrong (a lie). */
int reg_move_check(struct registry *r, int job, uint64_t mig,
		   const char *host, char role, const char *token);
/* 1 when job runs on host (its record says so), else 0. */
int reg_job_on_host(struct registry *r, int job, const char *host);
/* 1 when host is the destination of job's current or last move and the job
 * is not there: a report about a successor whose move failed. */
int reg_job_moved_to(struct registry *r, int job, const char *host);
/* An MPI rank may move only to a host its job can spawn on: the entry of
 * j->mpi_hosts that names `host` (the host's name, or its info `addr`) into
 * buf.  0 (a plain job: buf ""), or -EINVAL with the reason in err. */
int reg_job_spawn_host_locked(struct registry *r, const struct reg_job *j,
			      const char *host, char *buf, size_t size,
			      char *err, size_t errlen);
/* Host names: 1..63 bytes of [A-Za-z0-9._-], not starting with . or -. */
int reg_host_name_ok(const char *name);

/* mig_progress: phase "poll" "connect" "send" "verify" "done", t seconds. */
int reg_migration_progress(struct registry *r, int job, uint64_t mig,
			   const char *phase, double t);
struct reg_mig_timings {
	double poll_s, connect_s, transfer_s, restore_s;
	uint64_t bytes;
	int mpi;                      /* an MPI rank's move: the phases below */
	double agree_s, spawn_s, merge_s, split_s;
};
/* mig_result: ok=1 moved (job's host becomes the destination), ok=0 failed
 * with `reason`; err_no is the errno reported to the writer (0 -> EIO).
 * Wakes a blocked `echo H > migrate`.  -ESRCH for a stale mig id. */
int reg_migration_result(struct registry *r, int job, uint64_t mig, int ok,
			 const char *reason, int err_no,
			 const struct reg_mig_timings *t);

/* The rule files to send a (re)connecting agent.  0 or -errno. */
int reg_rules_snapshot(struct registry *r, struct reg_rules_snapshot *out);

/* ---- file side: writes through the tree (uid = caller) ----------------- */
/* Create or replace rules/<name> (name ends in ".rule").  The whole set
 * with this file is validated; -EINVAL leaves the old set in force. */
int reg_rule_write(struct registry *r, const char *name, const char *text,
		   size_t len, uid_t uid, char *err);
int reg_rule_remove(struct registry *r, const char *name, uid_t uid, char *err);
/* mv from to: the set is validated as it will be (from gone, to with
 * from's text); an existing `to` is replaced atomically (rename(2) with
 * --state).  With --state every rules/ change is on disk before it is
 * in force: -ENOSPC/-EIO (and nothing changed) when it cannot be. */
int reg_rule_rename(struct registry *r, const char *from, const char *to,
		    uid_t uid, char *err);
/* Validate without changing anything (used while buffering a write). */
int reg_rule_check(struct registry *r, const char *name, const char *text,
		   size_t len, char *err);
/* For a rule file (policy 0) or the policy (1) arriving in pieces: 1 when
 * `text` is valid or every error in it could still be repaired by more
 * lines; 0 when it has an error no continuation can fix, which is then
 * reported (rule-rejected / policy-rejected event, with uid). */
int reg_text_incomplete(struct registry *r, int policy, const char *name,
			const char *text, size_t len, uid_t uid);
int reg_policy_write(struct registry *r, const char *text, size_t len,
		     uid_t uid, char *err);
/* sched/<name> = text[0..len): one value and an optional newline, parsed
 * by fs_value (no NUL, no second word, decimal only).  -EINVAL refused;
 * with --state, -ENOSPC/-EIO when it cannot be put on disk (the old value
 * stays in memory and on disk).  reg_sched_write: text NUL-terminated. */
int reg_sched_write_n(struct registry *r, const char *name, const char *text,
		      size_t len, uid_t uid, char *err);
int reg_sched_write(struct registry *r, const char *name, const char *text,
		    uid_t uid, char *err);
/* `drain` / `resume` (fs_value word, optional newline) to
 * hosts/<host>/state. */
int reg_host_state_write_n(struct registry *r, const char *host,
			   const char *text, size_t len, uid_t uid, char *err);
int reg_host_state_write(struct registry *r, const char *host,
			 const char *text, uid_t uid, char *err);
/* rmdir hosts/<host>: -EBUSY unless unavailable.  via_fs: the kernel
 * already saw the rmdir, so no REG_HOST_REMOVED change is raised. */
int reg_host_forget(struct registry *r, const char *host, uid_t uid,
		    int via_fs, char *err);
/* The --state directory, or NULL: immutable after reg_new, no lock. */
const char *reg_state_dir(struct registry *r);
/* Report a rejected write the registry did not see itself (e.g. a buffered
 * rule that was too large): one write-rejected event. */
void reg_write_rejected(struct registry *r, const char *path, uid_t uid,
			const char *reason);

/*
 * Move `job` to host `to` (procs/<id>/migrate, or the scheduler with uid 0
 * and by="sched").  Checks: -ENOENT unknown job or host, -EBUSY already
 * migrating, -EACCES uid neither 0 nor the owner, -EINVAL not running or
 * `to` is its host, -EHOSTUNREACH `to` unavailable/draining.  Calls the
 * migrate hook.  wait=0 returns once accepted; wait=1 blocks until the
 * result (0 or -errno) or sched/migrate_timeout (-ETIMEDOUT).  While
 * waiting, interrupted(ictx) is asked every 100 ms; when it returns 1 the
 * wait ends with -EINTR (the move itself goes on).  interrupted may be NULL.
 */
int reg_migrate_request(struct registry *r, int job, const char *to,
			uid_t uid, const char *by, int wait,
			int (*interrupted)(void *), void *ictx, char *err);

/* ---- scheduler side ----------------------------------------------------- */
void reg_sched_get(struct registry *r, struct reg_sched *out);
const struct reg_sched *reg_sched_locked(struct registry *r);
/* Texts shown in sched/plan, sched/decisions and procs/<id>/why. */
void reg_set_plan(struct registry *r, const char *text);
void reg_add_decision(struct registry *r, const char *line);
int reg_job_set_why(struct registry *r, int job, const char *text);
/* Put one event line out: kind and preformatted "k=v ..." (may be ""). */
void reg_event(struct registry *r, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- read access, lock held ------------------------------------------- */
const struct reg_host *reg_hosts_locked(struct registry *r); /* ->next */
size_t reg_nhosts_locked(struct registry *r);
struct reg_host *reg_host_find_locked(struct registry *r, const char *name);
/* Displayed state: unavailable > draining > reported. RS_* value. */
int reg_host_state_locked(const struct reg_host *h);
/* Value of metric `name`, 0 or -1 when absent. */
int reg_host_metric_locked(const struct reg_host *h, const char *name,
			   double *out);
const char *reg_host_info_locked(const struct reg_host *h, const char *key);
/* Jobs: ids 1..reg_job_max_locked(); NULL for a gap. */
int reg_job_max_locked(struct registry *r);
struct reg_job *reg_job_locked(struct registry *r, int id);
const struct ruleset *reg_ruleset_locked(struct registry *r);
const struct policy *reg_policy_locked(struct registry *r);
/* Rule file names, sorted; n via *n.  Valid while locked. */
const char *const *reg_rule_names_locked(struct registry *r, size_t *n);
/* Text of rules/<name> or NULL. */
const char *reg_rule_text_locked(struct registry *r, const char *name,
				 size_t *len);
const char *reg_policy_text_locked(struct registry *r, size_t *len);
const char *reg_plan_locked(struct registry *r);
/* Decision lines, oldest first: line i of n. */
size_t reg_ndecisions_locked(struct registry *r);
const char *reg_decision_locked(struct registry *r, size_t i);
/* Moves in progress and finished in the last hour (for the limits). */
int reg_moves_active_locked(struct registry *r);
int reg_moves_last_hour_locked(struct registry *r, double now);

/* Format `TIME` of an event: ISO-8601 UTC with milliseconds. */
void reg_format_time(double wall, char *buf, size_t size);

/* ---- helpers shared with the tree ---------------------------------------- */
/* A host, rule or metric name: 1..REG_NAME_MAX-1 bytes, no '/', no blanks,
 * not starting with '.'. */
int reg_name_ok(const char *name);
/* An event value: as is when plain, else "quoted" with \" \\ \n escapes.
 * Written into buf; returns buf. */
const char *reg_qv(char *buf, size_t size, const char *s);
/* sched/ file names (sorted) and their formatting / parsing. */
const char *const *reg_sched_names(size_t *n);
int reg_sched_known(const char *name);
void reg_sched_format(const struct reg_sched *s, const char *name,
		      char *buf, size_t size);
int reg_sched_parse(struct reg_sched *s, const char *name, const char *value,
		    size_t len, char *err);

/* ---- bin/reschedfs options (read by fs_net / fs_sched) ------------------- */
struct fs_config {
	const char *mount;            /* MOUNT */
	int foreground;               /* -f */
	const char *listen;           /* --listen ADDR:PORT, default below */
	const char *state_dir;        /* --state DIR or NULL */
	const char *key_file;         /* --key FILE (the cluster key) or NULL */
	int shared_key;               /* --shared-key: the cluster key itself
	                               * is accepted for any host name */
	const char *parent;           /* --parent ADDR:PORT or NULL (stored;
					 hierarchy is not implemented) */
};
#define FS_DEFAULT_LISTEN "127.0.0.1:7227"

/*
 * Entry points fs_main calls when they are linked in (weak references, so
 * bin/reschedfs builds before they exist).  0 or -1 with err filled.
 * start is called after the mount, before the FUSE loop; stop after it.
 */
int fs_net_start(struct registry *r, const struct fs_config *cfg, char *err);
void fs_net_stop(void);
int fs_sched_start(struct registry *r, const struct fs_config *cfg, char *err);
void fs_sched_stop(void);

#endif
