/*
 * fs_sched.h — the scheduler of reschedfs (DESIGN §3-4, docs/SCHEDULER.md):
 * reads the registry model, decides which job to move where, and asks for
 * the move through reg_migrate_request (the same path a write to
 * procs/<id>/migrate takes, non-blocking).  It writes its reasons to
 * sched/decisions, procs/<id>/why and, in dry-run, sched/plan.
 *
 * A pass is run for one host when its update arrives (sched_host_updated,
 * event-driven) and for every host by a timer (sched_tick, every
 * SCHED_TICK_S) for time-based conditions (stability, cooldown running
 * out, drain, dry-run plan).
 *
 * Time: every entry point takes `now`, a CLOCK_MONOTONIC time in seconds
 * (util_now_s() in the daemon; tests pass their own so that stability,
 * cooldown and min_age can be exercised without sleeping).  Wall times
 * (job start) are compared through now + (util_wall_s() - util_now_s()).
 *
 * Locking: struct sched has its own mutex, taken by every entry point;
 * it is taken BEFORE the registry lock and never while holding it.  So the
 * entry points must be called without the registry lock held (never from
 * the registry's change or event hooks, which run locked).
 *
 * Ownership: sched_new returns a scheduler the caller releases with
 * sched_free (after sched_stop).  The registry must outlive it.
 */
#ifndef RESCHED_FS_SCHED_H
#define RESCHED_FS_SCHED_H

#include "fs/registry.h"

#define SCHED_TICK_S    0.25      /* timer period */
#define SCHED_TRY_JOBS  4         /* jobs tried per decision, in select order */

struct sched;

/* A scheduler over r.  NULL (out of memory) with err filled. */
struct sched *sched_new(struct registry *r, char *err);
void sched_free(struct sched *s);

/* Host `host` just sent an update: judge it now (and issue a move when
 * auto mode says so).  Unknown hosts are ignored. */
void sched_host_updated(struct sched *s, const char *host, double now);
/* One timer pass over every host: drains, stability windows that ran out,
 * the dry-run plan, decisions on hold. */
void sched_tick(struct sched *s, double now);

/* Start / stop the timer thread calling sched_tick every SCHED_TICK_S.
 * 0 or -1 with err filled. */
int sched_start(struct sched *s, char *err);
void sched_stop(struct sched *s);

/* Statistics for tests and the bench: moves issued, decisions written. */
struct sched_stats {
	unsigned long passes, moves, decisions;
};
void sched_get_stats(struct sched *s, struct sched_stats *out);

/*
 * The daemon's scheduler (fs_sched_start / fs_sched_stop are declared in
 * registry.h and called by fs_main).  fs_sched_host_updated is the hook
 * the registry calls, unlocked, after each reg_host_update (ctx is the
 * struct sched *); it is a no-op for a NULL ctx.
 */
void fs_sched_host_updated(void *ctx, const char *host);

#endif
