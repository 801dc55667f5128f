/*
 * fs_sched.c — the scheduler of reschedfs; see fs_sched.h and
 * docs/SCHEDULER.md for the procedure, the safety settings and the texts.
 *
 * One pass: observe the jobs (moves that finished or failed since the last
 * pass, moves in flight), judge the host(s), and for each host that needs
 * a move build a struct sched_dec under the registry lock.  Then, with the
 * lock released, issue the moves (reg_migrate_request, wait=0), and only
 * afterwards format the long texts (why, decisions, plan): the time from
 * an update to the migrate command does not include writing explanations.
 */
#include "fs/fs_sched.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "migrate/mig_schema.h"
#include "rules/rule_expr.h"

#define SCHED_FAILS      4        /* failed destinations remembered per job */
#define SCHED_NOTES      64       /* jobs of one host described per decision */
#define SCHED_DRAIN_TRY  16       /* jobs tried per drain decision */
#define SCHED_MAXTRY     SCHED_DRAIN_TRY

/* ---- a growable string --------------------------------------------------- */

struct sbuf {
	char *p;                      /* NUL-terminated once anything is added */
	size_t len, cap;
};

static void sb_vadd(struct sbuf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0,
		      fmt, aq);
	va_end(aq);
	if (n < 0)
		return;
	if (!b->p || b->len + (size_t)n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;

		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np)
			return;
		b->p = np;
		b->cap = cap;
		vsnprintf(b->p + b->len, cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

static void sb_add(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_vadd(b, fmt, ap);
	va_end(ap);
}

static const char *sb_str(const struct sbuf *b) { return b->p ? b->p : ""; }

static void sb_free(struct sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- the scheduler's own records --------------------------------------- */

/* What a job needs of a destination, read from its schema. */
struct sched_needs {
	int parsed;                   /* 1 read, 0 no schema, -1 unreadable */
	double est;                   /* estimated seconds, -1 unknown */
	double memory;                /* bytes, -1 no requirement */
	char arch[MIG_SCHEMA_LIST][MIG_SCHEMA_WORD];   /* <requires><arch> */
	size_t narch;
	char bin[MIG_SCHEMA_LIST][MIG_SCHEMA_WORD];    /* <binary arch=> */
	size_t nbin;
	char sw[MIG_SCHEMA_LIST][MIG_SCHEMA_WORD];     /* <software> */
	size_t nsw;
	char err[160];                /* why unreadable */
};

struct sched_fail {
	char to[REG_NAME_MAX];
	double at;                    /* sched time of the failure */
};

struct sched_job {                /* per job id */
	uint64_t mig_seen;            /* last finished move observed */
	double moved_at;              /* last successful move; -1 never */
	struct sched_fail fail[SCHED_FAILS];  /* ring, next at fail_next */
	int fail_next;
	const char *schema_ptr;       /* j->schema `needs` was read from */
	size_t schema_len;
	struct sched_needs needs;
};

struct sched_host {               /* per reg_host.seq */
	double cond_since;            /* -1: migrate_when not holding */
	int settling;                 /* a move from/to it finished ... */
	double settle_mark;           /* ... while h->last_update was this */
	uint64_t last_key;            /* outcome of the last decision written */
	double acc_update;            /* accept_when was acc_val for this ... */
	uint64_t acc_gen;             /* ... h->last_update and policy gen */
	int acc_val;
};

struct sched_move {               /* a move in flight, or planned (dry-run) */
	char from[REG_NAME_MAX], to[REG_NAME_MAX];
	int job;                      /* 0: planned in this pass */
};

/* What was found about one candidate destination. */
enum cand_v { CV_SOURCE, CV_UNAVAILABLE, CV_DRAINING, CV_RESERVED,
	      CV_SETTLING, CV_FAILED, CV_SPAWN, CV_ACCEPT, CV_MEMORY, CV_ARCH,
	      CV_SOFTWARE, CV_FITS, CV_TAKEN };
struct sched_cand {
	uint64_t seq;                 /* the host (registration order) */
	int v;                        /* enum cand_v */
	int other;                    /* CV_RESERVED: job; CV_SOFTWARE: index;
	                               * CV_SPAWN: 1 no host list at all */
	double a, b;                  /* CV_FAILED: age; CV_MEMORY: need, have */
};

/* What was found about one job of the source host. */
enum note_v { JN_TRIED, JN_NOT_TRIED, JN_YOUNG, JN_COOLDOWN,
	      JN_ROOT };                   /* uid 0 and sched/allow_root 0 */
struct sched_note {
	int job;
	int v;                        /* enum note_v */
	double key;                   /* select key */
	double a;                     /* age or seconds since the move */
	struct sched_cand *cands;     /* JN_TRIED: ncands, owned */
	size_t ncands, unexamined;
	int taken;                    /* index in cands or -1 */
};

enum { DEC_NONE, DEC_MOVE };
enum { TRIG_AUTO, TRIG_DRAIN };

/* One decision about one host; everything owned. */
struct sched_dec {
	int action, trig, dry;
	uint64_t host_seq;
	char host[REG_NAME_MAX];
	int job;                      /* moved / first concerned job, 0 none */
	char dest[REG_NAME_MAX];
	char reason[256];             /* the short reason of the decision line */
	double held;                  /* how long migrate_when held */
	struct sched_note notes[SCHED_NOTES];
	size_t nnotes;
	char issue_err[REG_ERR_LEN];  /* the move was refused: why */
};

struct sched {
	pthread_mutex_t mu;           /* protects everything below */
	struct registry *r;
	struct expr *def_migrate;     /* "state == overloaded" */
	struct expr *def_accept;      /* "state == free" */
	struct sched_host *hosts;     /* [seq], nhosts */
	size_t nhosts;
	struct sched_job *jobs;       /* [id], njobs */
	size_t njobs;
	struct sched_move *flight;    /* nflight, rebuilt every pass */
	size_t nflight, flight_cap;
	int plan_shown;               /* sched/plan holds a dry-run plan */
	const void *pol_seen[2];      /* policy and its text, to notice edits */
	uint64_t pol_gen;             /* bumped when they change (>= 1) */
	struct sched_stats st;
	/* timer */
	pthread_t thread;
	int running;
	int stop;                     /* atomic */
};

/* The state of one pass, lock held. */
struct sched_pass {
	struct sched *s;
	struct registry *r;
	struct reg_sched cfg;
	const struct policy *pol;
	const struct expr *migrate_e, *accept_e;
	double now, wall;
	int planned;                  /* moves decided in this pass */
	int dry;
};

/* ---- records ------------------------------------------------------------ */

static struct sched_host *host_rec(struct sched *s, uint64_t seq)
{
	if (seq >= s->nhosts) {
		size_t n = s->nhosts ? s->nhosts : 64;
		struct sched_host *nh;

		while (n <= seq)
			n *= 2;
		nh = realloc(s->hosts, n * sizeof(*nh));
		if (!nh)
			return NULL;
		for (size_t i = s->nhosts; i < n; i++)
			nh[i] = (struct sched_host){ -1, 0, 0, 0, 0, 0, 0 };
		s->hosts = nh;
		s->nhosts = n;
	}
	return &s->hosts[seq];
}

static struct sched_job *job_rec(struct sched *s, int id)
{
	if (id <= 0)
		return NULL;
	if ((size_t)id >= s->njobs) {
		size_t n = s->njobs ? s->njobs : 64;
		struct sched_job *nj;

		while (n <= (size_t)id)
			n *= 2;
		nj = realloc(s->jobs, n * sizeof(*nj));
		if (!nj)
			return NULL;
		memset(nj + s->njobs, 0, (n - s->njobs) * sizeof(*nj));
		for (size_t i = s->njobs; i < n; i++)
			nj[i].moved_at = -1;
		s->jobs = nj;
		s->njobs = n;
	}
	return &s->jobs[id];
}

static void job_note_failure(struct sched_job *sj, const char *to, double now)
{
	struct sched_fail *f = &sj->fail[sj->fail_next];

	snprintf(f->to, sizeof(f->to), "%s", to);
	f->at = now;
	sj->fail_next = (sj->fail_next + 1) % SCHED_FAILS;
}

/* Seconds since a failed move of sj to `to` within `cooldown`, or -1. */
static double job_failed_on(const struct sched_job *sj, const char *to,
			    double now, double cooldown)
{
	double best = -1;

	for (int i = 0; i < SCHED_FAILS; i++) {
		const struct sched_fail *f = &sj->fail[i];

		if (f->to[0] && now - f->at < cooldown &&
		    strcmp(f->to, to) == 0 && (best < 0 || now - f->at < best))
			best = now - f->at;
	}
	return best;
}

static void host_settle(struct sched *s, struct registry *r, const char *name)
{
	struct reg_host *h = name[0] ? reg_host_find_locked(r, name) : NULL;
	struct sched_host *sh = h ? host_rec(s, h->seq) : NULL;

	if (!sh)
		return;
	sh->settling = 1;
	sh->settle_mark = h->last_update;
	sh->cond_since = -1;
}

/* 1 while a move from/to h finished and h has not reported since. */
static int host_settling(struct sched *s, const struct reg_host *h)
{
	struct sched_host *sh = host_rec(s, h->seq);

	if (!sh || !sh->settling)
		return 0;
	if (h->last_update != sh->settle_mark)
		sh->settling = 0;
	return sh->settling;
}

static int flight_add(struct sched *s, const char *from, const char *to,
		      int job)
{
	if (s->nflight == s->flight_cap) {
		size_t cap = s->flight_cap ? s->flight_cap * 2 : 16;
		struct sched_move *n = realloc(s->flight, cap * sizeof(*n));

		if (!n)
			return -1;
		s->flight = n;
		s->flight_cap = cap;
	}
	snprintf(s->flight[s->nflight].from, REG_NAME_MAX, "%s", from);
	snprintf(s->flight[s->nflight].to, REG_NAME_MAX, "%s", to);
	s->flight[s->nflight++].job = job;
	return 0;
}

/* A move in flight (or planned) to `to`: 1 with *job set. */
static int flight_to(const struct sched *s, const char *to, int *job)
{
	for (size_t i = 0; i < s->nflight; i++)
		if (strcmp(s->flight[i].to, to) == 0) {
			*job = s->flight[i].job;
			return 1;
		}
	return 0;
}

static int flight_from(const struct sched *s, const char *from)
{
	for (size_t i = 0; i < s->nflight; i++)
		if (strcmp(s->flight[i].from, from) == 0)
			return 1;
	return 0;
}

/* Moves that finished since the last look; the moves in flight. */
static void observe_job(struct sched *s, struct registry *r,
			struct reg_job *j, double now)
{
	struct sched_job *sj = job_rec(s, j->id);

	if (!sj)
		return;
	if (j->status == JOB_MIGRATING && j->mig && !j->mig_done)
		flight_add(s, j->mig_from, j->mig_to, j->id);
	if (!j->mig || !j->mig_done || j->mig == sj->mig_seen)
		return;
	sj->mig_seen = j->mig;
	if (j->mig_errno == 0) {
		sj->moved_at = now;
		host_settle(s, r, j->mig_from);
		host_settle(s, r, j->mig_to);
	} else {
		job_note_failure(sj, j->mig_to, now);
	}
}

static void observe_locked(struct sched *s, struct registry *r, double now)
{
	int max = reg_job_max_locked(r);

	s->nflight = 0;
	for (int id = 1; id <= max; id++) {
		struct reg_job *j = reg_job_locked(r, id);

		if (j)
			observe_job(s, r, j, now);
	}
}

/* ---- the job's needs (schema, parsed once per schema text) ------------- */

static void needs_from_schema(struct sched_needs *n, const struct mig_schema *m)
{
	n->est = m->estimated_time > 0 ? m->estimated_time : -1;
	n->memory = m->memory > 0 ? m->memory : -1;
	n->narch = m->narch;
	for (size_t i = 0; i < m->narch; i++)
		memcpy(n->arch[i], m->arch[i], MIG_SCHEMA_WORD);
	n->nsw = m->nsoftware;
	for (size_t i = 0; i < m->nsoftware; i++)
		memcpy(n->sw[i], m->software[i], MIG_SCHEMA_WORD);
	n->nbin = m->nbinary;
	for (size_t i = 0; i < m->nbinary; i++)
		memcpy(n->bin[i], m->binary[i].arch, MIG_SCHEMA_WORD);
}

static const struct sched_needs *job_needs(struct sched *s,
					   const struct reg_job *j)
{
	struct sched_job *sj = job_rec(s, j->id);
	size_t len = j->schema ? strlen(j->schema) : 0;
	struct mig_schema *m;

	if (!sj)
		return NULL;
	if (sj->schema_ptr == j->schema && sj->schema_len == len &&
	    (sj->needs.parsed || !j->schema))
		return &sj->needs;
	memset(&sj->needs, 0, sizeof(sj->needs));
	sj->needs.est = sj->needs.memory = -1;
	sj->schema_ptr = j->schema;
	sj->schema_len = len;
	if (!j->schema)
		return &sj->needs;
	m = calloc(1, sizeof(*m));
	if (m && mig_schema_parse(j->schema, len, "schema", m, sj->needs.err,
				  sizeof(sj->needs.err)) == 0) {
		needs_from_schema(&sj->needs, m);
		sj->needs.parsed = 1;
	} else {
		sj->needs.parsed = -1;
		if (!m)
			snprintf(sj->needs.err, sizeof(sj->needs.err), "out of memory");
	}
	free(m);
	return &sj->needs;
}

/* ---- expressions over a host ------------------------------------------- */

static int host_lookup(void *ctx, const char *name, double *out)
{
	const struct reg_host *h = ctx;
	double rx, tx;

	if (strcmp(name, "state") == 0) {
		*out = reg_host_state_locked(h);
		return 0;
	}
	if (reg_host_metric_locked(h, name, out) == 0)
		return 0;
	if (strcmp(name, "net_bps") == 0 &&
	    reg_host_metric_locked(h, "net_rx_bps", &rx) == 0 &&
	    reg_host_metric_locked(h, "net_tx_bps", &tx) == 0) {
		*out = rx + tx;
		return 0;
	}
	return -1;
}

static int expr_true(const struct expr *e, const struct reg_host *h)
{
	double v = expr_eval(e, host_lookup, (void *)(uintptr_t)h);

	return !isnan(v) && v != 0;
}

/* ---- destinations -------------------------------------------------------- */

static int word_in(const char (*list)[MIG_SCHEMA_WORD], size_t n,
		   const char *w)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], w) == 0)
			return 1;
	return 0;
}

/* 1 when arch may run the job that now runs on src_arch: an arch the
 * schema requires; else the source's arch or one it has a binary for.  A
 * host (or source) that does not report its arch is not compared. */
static int arch_ok(const struct sched_needs *n, const char *arch,
		   const char *src_arch)
{
	if (n->narch)
		return arch && word_in(n->arch, n->narch, arch);
	if (!arch || !src_arch)
		return 1;
	return strcmp(arch, src_arch) == 0 || word_in(n->bin, n->nbin, arch);
}

/* Is `w` in a "a,b c" list? */
static int list_has(const char *list, const char *w)
{
	size_t wl = strlen(w);

	for (const char *p = list; *p;) {
		size_t k;

		p += strspn(p, ", \t");
		k = strcspn(p, ", \t");
		if (k == wl && strncmp(p, w, wl) == 0)
			return 1;
		p += k;
	}
	return 0;
}

/* Memory, architecture, software; CV_FITS or the refusal. */
static int judge_resources(const struct sched_needs *n,
			   const struct reg_host *h, const char *src_arch,
			   struct sched_cand *c)
{
	const char *sw = reg_host_info_locked(h, "software");
	double have;

	if (n->memory > 0) {
		c->a = n->memory;
		c->b = reg_host_metric_locked(h, "mem_avail", &have) == 0
		       ? have : NAN;
		if (isnan(c->b) || c->b < n->memory)
			return CV_MEMORY;
	}
	if (!arch_ok(n, reg_host_info_locked(h, "arch"), src_arch))
		return CV_ARCH;
	for (size_t i = 0; sw && i < n->nsw; i++)
		if (!list_has(sw, n->sw[i])) {
			c->other = (int)i;
			return CV_SOFTWARE;
		}
	return CV_FITS;
}

/* accept_when for h, evaluated once per update of h and policy edit (it
 * reads only h's metrics and state; draining and unavailable are checked
 * before it is asked). */
static int accepts(struct sched_pass *p, const struct reg_host *h)
{
	struct sched_host *sh = host_rec(p->s, h->seq);

	if (!sh)
		return expr_true(p->accept_e, h);
	if (sh->acc_gen != p->s->pol_gen || sh->acc_update != h->last_update) {
		sh->acc_val = expr_true(p->accept_e, h);
		sh->acc_gen = p->s->pol_gen;
		sh->acc_update = h->last_update;
	}
	return sh->acc_val;
}

static int judge_dest(struct sched_pass *p, const struct reg_host *src,
		      const struct reg_host *h, const struct reg_job *j,
		      const struct sched_job *sj, const struct sched_needs *n,
		      struct sched_cand *c)
{
	char spawn[256];

	*c = (struct sched_cand){ h->seq, CV_FITS, 0, 0, 0 };
	if (h == src)
		return c->v = CV_SOURCE;
	if (h->unavailable)
		return c->v = CV_UNAVAILABLE;
	if (h->draining)
		return c->v = CV_DRAINING;
	if (flight_to(p->s, h->name, &c->other))
		return c->v = CV_RESERVED;
	if (host_settling(p->s, h))
		return c->v = CV_SETTLING;
	c->a = sj ? job_failed_on(sj, h->name, p->now, p->cfg.cooldown) : -1;
	if (c->a >= 0)
		return c->v = CV_FAILED;
	if (reg_job_spawn_host_locked(p->r, j, h->name, spawn, sizeof(spawn),
				      NULL, 0) < 0) {
		c->other = !j->mpi_hosts;
		return c->v = CV_SPAWN;
	}
	if (!accepts(p, h))
		return c->v = CV_ACCEPT;
	return c->v = judge_resources(n, h, reg_host_info_locked(src, "arch"), c);
}

/* Larger is better for the place policy; only called on fitting hosts. */
static double place_score(const struct sched_pass *p, const struct reg_host *h)
{
	double v;

	if (p->pol && p->pol->place == PLACE_LEAST_LOADED)
		return reg_host_metric_locked(h, "load1", &v) == 0 ? -v : -INFINITY;
	if (p->pol && p->pol->place == PLACE_MOST_MEM)
		return reg_host_metric_locked(h, "mem_avail", &v) == 0 ? v : -INFINITY;
	return 0;
}

/* Judge the hosts for one job; fills note->cands.  Index taken or -1. */
static int place_job(struct sched_pass *p, const struct reg_host *src,
		     const struct reg_job *j, struct sched_note *note)
{
	size_t nh = reg_nhosts_locked(p->r), k = 0;
	int first_fit = !p->pol || p->pol->place == PLACE_FIRST_FIT;
	const struct sched_needs *n = job_needs(p->s, j);
	struct sched_job *sj = job_rec(p->s, j->id);
	double best = -INFINITY;
	int taken = -1;

	note->cands = malloc((nh ? nh : 1) * sizeof(*note->cands));
	if (!note->cands || !n)
		return -1;
	for (const struct reg_host *h = reg_hosts_locked(p->r); h && k < nh;
	     h = h->next, k++) {
		struct sched_cand *c = &note->cands[k];

		if (judge_dest(p, src, h, j, sj, n, c) != CV_FITS)
			continue;
		if (taken < 0 || place_score(p, h) > best) {
			taken = (int)k;
			best = place_score(p, h);
		}
		if (first_fit) {
			k++;
			break;
		}
	}
	note->ncands = k;
	note->unexamined = nh - k;
	note->taken = taken;
	if (taken >= 0)
		note->cands[taken].v = CV_TAKEN;
	return taken;
}

/* ---- jobs of the source --------------------------------------------------- */

static double select_key(const struct sched_pass *p, const struct reg_job *j)
{
	const struct sched_needs *n;
	int sel = p->pol ? (int)p->pol->select : SELECT_LATEST_COMPLETION;

	if (sel == SELECT_OLDEST)
		return -j->start_wall;
	if (sel == SELECT_NEWEST)
		return j->start_wall;
	n = job_needs(p->s, j);
	if (sel == SELECT_LARGEST_MEM)
		return n ? n->memory : -1;
	if (n && n->est > 0)
		return j->start_wall + n->est;
	/* no estimate: assumed to run as long again as it has run so far */
	return p->wall + (p->wall - j->start_wall);
}

/* Note job j of the source, with whether it may move now. */
static void note_job(struct sched_pass *p, struct sched_dec *d,
		     const struct reg_job *j)
{
	struct sched_job *sj = job_rec(p->s, j->id);
	struct sched_note *nt;
	double age = p->wall - j->start_wall;

	if (d->nnotes == SCHED_NOTES)
		return;
	nt = &d->notes[d->nnotes++];
	*nt = (struct sched_note){ j->id, JN_NOT_TRIED, select_key(p, j), 0,
				   NULL, 0, 0, -1 };
	if (j->uid == 0 && !p->cfg.allow_root) {
		nt->v = JN_ROOT;          /* not even a drain moves it */
		return;
	}
	if (d->trig == TRIG_DRAIN)
		return;
	if (sj && sj->moved_at >= 0 && p->now - sj->moved_at < p->cfg.cooldown) {
		nt->v = JN_COOLDOWN;
		nt->a = p->now - sj->moved_at;
	} else if (age < p->cfg.min_age) {
		nt->v = JN_YOUNG;
		nt->a = age;
	}
}

/* Eligible first, then by select key, larger first. */
static int note_cmp(const void *a, const void *b)
{
	const struct sched_note *x = a, *y = b;

	if ((x->v == JN_NOT_TRIED) != (y->v == JN_NOT_TRIED))
		return x->v == JN_NOT_TRIED ? -1 : 1;
	if (x->key != y->key)
		return x->key > y->key ? -1 : 1;
	return x->job - y->job;
}

static void collect_jobs(struct sched_pass *p, const struct reg_host *h,
			 struct sched_dec *d)
{
	int max = reg_job_max_locked(p->r);

	for (int id = 1; id <= max; id++) {
		struct reg_job *j = reg_job_locked(p->r, id);

		if (j && j->status == JOB_RUNNING && strcmp(j->host, h->name) == 0)
			note_job(p, d, j);
	}
	qsort(d->notes, d->nnotes, sizeof(d->notes[0]), note_cmp);
}

/* ---- one decision ------------------------------------------------------- */

static void dec_none(struct sched_dec *d, int job, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void dec_none(struct sched_dec *d, int job, const char *fmt, ...)
{
	va_list ap;

	d->action = DEC_NONE;
	d->job = job;
	d->dest[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
}

/* The global limits; 1 when they allow one more move. */
static int limits_allow(struct sched_pass *p, struct sched_dec *d)
{
	int active = reg_moves_active_locked(p->r) + p->planned;
	int hour;

	if (active >= p->cfg.max_concurrent) {
		dec_none(d, 0, "max_concurrent %d reached (%d moves in flight)",
			 p->cfg.max_concurrent, active);
		return 0;
	}
	if (d->trig == TRIG_DRAIN)
		return 1;
	hour = reg_moves_last_hour_locked(p->r, util_now_s()) + p->planned;
	if (hour >= p->cfg.max_per_hour) {
		dec_none(d, 0, "max_per_hour %d reached (%d moves in the last hour)",
			 p->cfg.max_per_hour, hour);
		return 0;
	}
	return 1;
}

static void dec_moved(struct sched_pass *p, struct sched_dec *d,
		      const struct sched_note *nt)
{
	const struct reg_host *dh = reg_hosts_locked(p->r);
	size_t k = 0;

	for (; dh && k < (size_t)nt->taken; dh = dh->next)
		k++;
	d->action = DEC_MOVE;
	d->job = nt->job;
	snprintf(d->dest, sizeof(d->dest), "%s", dh ? dh->name : "?");
	if (d->trig == TRIG_DRAIN)
		snprintf(d->reason, sizeof(d->reason), "drain; %s %s",
			 policy_place_name(p->pol ? p->pol->place : PLACE_FIRST_FIT),
			 d->dest);
	else
		snprintf(d->reason, sizeof(d->reason), "migrate_when held %.1fs "
			 "(stability %gs); %s job %d; %s %s", d->held,
			 p->cfg.stability,
			 policy_select_name(p->pol ? p->pol->select
					    : SELECT_LATEST_COMPLETION),
			 d->job, policy_place_name(p->pol ? p->pol->place
						   : PLACE_FIRST_FIT), d->dest);
	flight_add(p->s, d->host, d->dest, 0);
	p->planned++;
}

/* Why nothing could move, from the notes. */
static void dec_stays(struct sched_dec *d, size_t tried)
{
	if (d->nnotes == 0)
		dec_none(d, 0, "no running job on %s", d->host);
	else if (tried == 0 && d->notes[0].v == JN_ROOT)
		dec_none(d, d->notes[0].job, "no job may move: job %d runs as root "
			 "(sched/allow_root is 0)", d->notes[0].job);
	else if (tried == 0 && d->notes[0].v == JN_COOLDOWN)
		dec_none(d, d->notes[0].job, "no job may move: job %d in cooldown "
			 "(moved %.0fs ago)", d->notes[0].job, d->notes[0].a);
	else if (tried == 0)
		dec_none(d, d->notes[0].job, "no job may move: job %d too young "
			 "(age %.0fs)", d->notes[0].job, d->notes[0].a);
	else
		dec_none(d, d->notes[0].job, "fits nowhere: %zu job%s tried, no "
			 "host accepts %s", tried, tried > 1 ? "s" : "",
			 tried > 1 ? "any" : "it");
}

static void decide(struct sched_pass *p, const struct reg_host *h,
		   struct sched_dec *d)
{
	size_t tried = 0, cap = d->trig == TRIG_DRAIN ? SCHED_DRAIN_TRY
						       : SCHED_TRY_JOBS;

	if (!limits_allow(p, d))
		return;
	collect_jobs(p, h, d);
	for (size_t i = 0; i < d->nnotes && tried < cap; i++) {
		struct sched_note *nt = &d->notes[i];

		if (nt->v != JN_NOT_TRIED)
			break;
		nt->v = JN_TRIED;
		tried++;
		if (place_job(p, h, reg_job_locked(p->r, nt->job), nt) >= 0) {
			dec_moved(p, d, nt);
			return;
		}
	}
	dec_stays(d, tried);
}

/* ---- judging a host -------------------------------------------------------- */

/* Whether h needs a decision now; fills d's trigger. */
static int host_due(struct sched_pass *p, const struct reg_host *h,
		    struct sched_dec *d)
{
	struct sched_host *sh = host_rec(p->s, h->seq);

	if (!sh || h->unavailable || flight_from(p->s, h->name))
		return 0;
	if (h->draining) {
		d->trig = TRIG_DRAIN;
		return 1;
	}
	if (host_settling(p->s, h) || !expr_true(p->migrate_e, h)) {
		sh->cond_since = -1;
		sh->last_key = 0;
		return 0;
	}
	if (sh->cond_since < 0)
		sh->cond_since = p->now;
	d->trig = TRIG_AUTO;
	d->held = p->now - sh->cond_since;
	return d->held >= p->cfg.stability && p->cfg.mode != SCHED_MANUAL;
}

static void dec_init(struct sched_dec *d, const struct reg_host *h, int dry)
{
	memset(d, 0, sizeof(*d));
	d->host_seq = h->seq;
	d->dry = dry;
	snprintf(d->host, sizeof(d->host), "%s", h->name);
}

static void dec_release(struct sched_dec *d)
{
	for (size_t i = 0; i < d->nnotes; i++)
		free(d->notes[i].cands);
	d->nnotes = 0;
}

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

/* Fold what was found about each tried candidate into h. */
static uint64_t fnv_cands(uint64_t h, const struct sched_dec *d)
{
	for (size_t i = 0; i < d->nnotes; i++)
		for (size_t k = 0; k < d->notes[i].ncands; k++) {
			const struct sched_cand *c = &d->notes[i].cands[k];

			h = (h ^ (c->seq * 16 + (uint64_t)c->v)) * 1099511628211ull;
		}
	return h;
}

/* The policy and sched/ settings in force, as a hash: a decision taken
 * under other ones is never a repeat.  Called with the registry locked. */
static uint64_t fnv_config(struct sched *s)
{
	const struct reg_sched *st = reg_sched_locked(s->r);
	const char *pol = reg_policy_text_locked(s->r, NULL);
	char k[160];

	snprintf(k, sizeof(k), "%d/%g/%g/%g/%d/%d/%g/", st->mode, st->stability,
		 st->cooldown, st->min_age, st->max_concurrent,
		 st->max_per_hour, st->migrate_timeout);
	return fnv(fnv(14695981039346656037ull, k), pol ? pol : "");
}

/* 1 when this outcome repeats the last one written for the host: same
 * action, job, destination, the same refusals, and the same reason but
 * for its numbers (seconds held, ages), under the same policy and
 * settings, so a standing situation is written once, not at every update. */
static int dec_repeats(struct sched *s, const struct sched_dec *d)
{
	struct sched_host *sh = host_rec(s, d->host_seq);
	char k[64];
	uint64_t key;

	if (!sh)
		return 0;
	if (d->action == DEC_MOVE && !d->dry) {
		sh->last_key = 0;
		return 0;
	}
	snprintf(k, sizeof(k), "%d/%d/%d/%d/", d->action, d->trig, d->dry,
		 d->job);
	key = fnv(fnv(fnv_config(s), k), d->dest);
	for (const char *c = d->reason; *c; c++)   /* not its numbers */
		if ((*c < '0' || *c > '9') && *c != '.')
			key = (key ^ (uint8_t)*c) * 1099511628211ull;
	key = fnv_cands(key, d) | 1;
	if (sh->last_key == key)
		return 1;
	sh->last_key = key;
	return 0;
}

/* ---- texts ------------------------------------------------------------------ */

static void fmt_secs(char *buf, size_t size, double s)
{
	util_fmt_num(buf, size, round(s * 10) / 10);
}

static void fmt_verdicts(struct sbuf *b, struct sched_pass *p,
			 const struct reg_host *h)
{
	const struct ruleset *rs = reg_ruleset_locked(p->r);
	char v[64], t[64];

	for (size_t i = 0; i < h->nverdicts; i++) {
		const struct reg_verdict *vd = &h->verdicts[i];
		int idx = rs ? ruleset_find(rs, vd->name) : -1;
		const struct rule *ru = idx >= 0 ? &rs->rules[idx] : NULL;

		sb_add(b, "  rules/%s %s %s", vd->name, rs_state_name(vd->state),
		       util_fmt_num(v, sizeof(v), vd->value));
		if (ru && ru->type == RULE_SIMPLE)
			sb_add(b, " (%s%s %s)", vd->state == RS_FREE ? "busy if " :
			       vd->state == RS_BUSY ? "busy: " : "",
			       rule_op_name(ru->op), util_fmt_num(t, sizeof(t),
			       vd->state == RS_OVERLOADED ? ru->overld : ru->busy));
		else if (ru)
			sb_add(b, " (= %s)", ru->expr_text ? ru->expr_text : "?");
		sb_add(b, "\n");
	}
}

static void fmt_trigger(struct sbuf *b, struct sched_pass *p,
			const struct reg_host *h, const struct sched_dec *d)
{
	char ex[1024], s1[32], s2[32];

	if (d->trig == TRIG_DRAIN) {
		sb_add(b, "trigger: drain of %s (echo drain > hosts/%s/state): "
		       "every job leaves, one by one; min_age, cooldown and "
		       "max_per_hour do not apply\n", h->name, h->name);
		return;
	}
	expr_explain(p->migrate_e, host_lookup, (void *)(uintptr_t)h, ex,
		     sizeof(ex));
	fmt_secs(s1, sizeof(s1), d->held);
	fmt_secs(s2, sizeof(s2), p->cfg.stability);
	sb_add(b, "trigger: %s migrate_when: %s, held %ss (stability %ss)\n",
	       p->pol && p->pol->migrate_when ? "policy" : "default", ex, s1, s2);
	sb_add(b, "  %s state %s\n", h->name,
	       rs_state_name(reg_host_state_locked(h)));
	fmt_verdicts(b, p, h);
}

/* Bytes as "512MiB", "1.5GiB", "900KiB" or "12B". */
static const char *fmt_bytes(char *buf, size_t size, double v)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	char num[32];
	int u = 0;

	while (fabs(v) >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%s%s", util_fmt_num(num, sizeof(num),
		 round(v * 10) / 10), unit[u]);
	return buf;
}

static void fmt_when(char *buf, size_t size, double wall)
{
	reg_format_time(wall, buf, size);
}

static void fmt_key(struct sbuf *b, struct sched_pass *p,
		    const struct reg_job *j, double key)
{
	const struct sched_needs *n = job_needs(p->s, j);
	char t1[40], t2[40];
	int sel = p->pol ? (int)p->pol->select : SELECT_LATEST_COMPLETION;

	if (sel == SELECT_OLDEST || sel == SELECT_NEWEST) {
		fmt_when(t1, sizeof(t1), j->start_wall);
		sb_add(b, "started %s", t1);
	} else if (sel == SELECT_LARGEST_MEM) {
		sb_add(b, "memory %s", key > 0 ? fmt_bytes(t1, sizeof(t1), key)
		       : "unknown (0)");
	} else {
		fmt_when(t1, sizeof(t1), key);
		fmt_when(t2, sizeof(t2), j->start_wall);
		if (n && n->est > 0)
			sb_add(b, "expected completion %s (start %s + estimated "
			       "%gs)", t1, t2, n->est);
		else
			sb_add(b, "expected completion %s (start %s, no estimate: "
			       "assumed to run as long again)", t1, t2);
	}
}

static void fmt_note(struct sbuf *b, struct sched_pass *p,
		     const struct sched_dec *d, const struct sched_note *nt)
{
	const struct reg_job *j = reg_job_locked(p->r, nt->job);
	char s1[32], s2[32];

	if (!j)
		return;
	sb_add(b, "  job %d: ", nt->job);
	if (nt->v == JN_ROOT) {
		sb_add(b, "runs as root: moves only with sched/allow_root 1\n");
		return;
	}
	if (nt->v == JN_COOLDOWN || nt->v == JN_YOUNG) {
		fmt_secs(s1, sizeof(s1), nt->a);
		fmt_secs(s2, sizeof(s2), nt->v == JN_COOLDOWN ? p->cfg.cooldown
			 : p->cfg.min_age);
		sb_add(b, nt->v == JN_COOLDOWN ? "in cooldown (moved %ss ago, "
		       "cooldown %ss)\n" : "too young (age %ss < min_age %ss)\n",
		       s1, s2);
		return;
	}
	sb_add(b, "%s; ", nt->v == JN_NOT_TRIED ? "not tried" :
	       nt->taken >= 0 ? "chosen" : "tried, fits nowhere");
	fmt_key(b, p, j, nt->key);
	sb_add(b, "\n");
}

static void fmt_jobs(struct sbuf *b, struct sched_pass *p,
		     const struct sched_dec *d)
{
	if (!d->nnotes)
		return;
	sb_add(b, "jobs on %s (select %s, %s):\n", d->host,
	       policy_select_name(p->pol ? p->pol->select
				  : SELECT_LATEST_COMPLETION),
	       d->trig == TRIG_DRAIN ? "drain" : "largest key first");
	for (size_t i = 0; i < d->nnotes; i++)
		fmt_note(b, p, d, &d->notes[i]);
}

static void fmt_accept(struct sbuf *b, struct sched_pass *p,
		       const struct reg_host *h)
{
	char ex[1024];

	expr_explain(p->accept_e, host_lookup, (void *)(uintptr_t)h, ex,
		     sizeof(ex));
	sb_add(b, "accept_when%s %s", p->pol && p->pol->accept_when ? ""
	       : " (default)", ex);
}

static void fmt_needs(struct sbuf *b, const struct sched_needs *n,
		      const struct reg_host *h)
{
	const char *arch = reg_host_info_locked(h, "arch");
	const char *sw = reg_host_info_locked(h, "software");
	char v1[32], v2[32];
	double have;

	if (n->memory > 0 && reg_host_metric_locked(h, "mem_avail", &have) == 0)
		sb_add(b, "; memory %s <= mem_avail %s",
		       fmt_bytes(v1, sizeof(v1), n->memory),
		       fmt_bytes(v2, sizeof(v2), have));
	if (n->narch || n->nbin)
		sb_add(b, "; arch %s", arch ? arch : "?");
	if (n->nsw && !sw)
		sb_add(b, "; software not reported by host, assumed present");
	else if (n->nsw)
		sb_add(b, "; software ok");
}

static void fmt_refusal(struct sbuf *b, struct sched_pass *p,
			const struct reg_host *h, const struct reg_host *src,
			const struct sched_needs *n, const struct sched_cand *c)
{
	char v1[32], v2[32];
	const char *arch = reg_host_info_locked(h, "arch");

	switch (c->v) {
	case CV_UNAVAILABLE: sb_add(b, "unavailable"); break;
	case CV_DRAINING: sb_add(b, "draining"); break;
	case CV_RESERVED:
		if (c->other)
			sb_add(b, "reserved: move of job %d to it in flight", c->other);
		else
			sb_add(b, "reserved: another move to it is planned");
		break;
	case CV_SETTLING:
		sb_add(b, "reserved: a move to or from it just finished, waiting "
		       "for its next report");
		break;
	case CV_FAILED:
		fmt_secs(v1, sizeof(v1), c->a);
		fmt_secs(v2, sizeof(v2), p->cfg.cooldown);
		sb_add(b, "a move of this job to it failed %ss ago (not retried "
		       "within cooldown %ss)", v1, v2);
		break;
	case CV_SPAWN:
		sb_add(b, c->other ? "an MPI rank whose job did not report the hosts "
		       "it can spawn on (RESCHED_MPI_HOSTFILE)" :
		       "not in the MPI job's hostfile: its rank cannot be spawned there");
		break;
	case CV_ACCEPT: fmt_accept(b, p, h); break;
	case CV_MEMORY:
		sb_add(b, "missing memory: needs %s, mem_avail %s",
		       fmt_bytes(v1, sizeof(v1), c->a),
		       isnan(c->b) ? "not reported" : fmt_bytes(v2, sizeof(v2), c->b));
		break;
	case CV_ARCH:
		sb_add(b, "missing arch: host is %s, job runs on", arch ? arch : "unknown");
		for (size_t i = 0; i < (n->narch ? n->narch : n->nbin); i++)
			sb_add(b, " %s", n->narch ? n->arch[i] : n->bin[i]);
		if (!n->narch)
			sb_add(b, " %s", reg_host_info_locked(src, "arch") ?
			       reg_host_info_locked(src, "arch") : "?");
		break;
	case CV_SOFTWARE:
		sb_add(b, "missing software %s (host has: %s)", n->sw[c->other],
		       reg_host_info_locked(h, "software"));
		break;
	default: break;
	}
}

static void fmt_cand(struct sbuf *b, struct sched_pass *p,
		     const struct reg_host *h, const struct reg_host *src,
		     const struct sched_needs *n, const struct sched_cand *c)
{
	sb_add(b, "  %s ", h->name);
	if (c->v == CV_SOURCE) {
		sb_add(b, "source\n");
		return;
	}
	if (c->v == CV_TAKEN || c->v == CV_FITS) {
		sb_add(b, c->v == CV_TAKEN ? "taken: " : "fits, not chosen: ");
		fmt_accept(b, p, h);
		fmt_needs(b, n, h);
	} else {
		sb_add(b, "refused: ");
		fmt_refusal(b, p, h, src, n, c);
	}
	sb_add(b, "\n");
}

static void fmt_cands(struct sbuf *b, struct sched_pass *p,
		      const struct reg_host *src, const struct sched_note *nt)
{
	const struct reg_job *j = reg_job_locked(p->r, nt->job);
	const struct sched_needs *n = j ? job_needs(p->s, j) : NULL;
	const struct reg_host *h = reg_hosts_locked(p->r);
	size_t k = 0;

	if (!n)
		return;
	sb_add(b, "candidates for job %d (place %s, registration order):\n",
	       nt->job, policy_place_name(p->pol ? p->pol->place : PLACE_FIRST_FIT));
	if (n->parsed < 0)
		sb_add(b, "  (schema unreadable: %s; no resource checks)\n", n->err);
	for (; h && k < nt->ncands; h = h->next, k++)
		if (h->seq == nt->cands[k].seq)
			fmt_cand(b, p, h, src, n, &nt->cands[k]);
	if (nt->unexamined)
		sb_add(b, "  %zu later host%s not examined (first fit)\n",
		       nt->unexamined, nt->unexamined > 1 ? "s" : "");
}

/* The first line of job `id`'s why. */
static void fmt_head(struct sbuf *b, struct sched_pass *p,
		     const struct sched_dec *d, const struct sched_note *nt)
{
	char ts[40];
	const char *mode = d->dry ? "dry-run" : p->cfg.mode == SCHED_MANUAL
			   ? "manual" : "auto";

	reg_format_time(p->wall, ts, sizeof(ts));
	sb_add(b, "%s job %d on %s (mode %s): ", ts, nt->job, d->host, mode);
	if (d->action == DEC_MOVE && d->job == nt->job)
		sb_add(b, "%s to %s\n", d->dry ? "would move" : d->issue_err[0]
		       ? "move refused" : "move", d->dest);
	else if (nt->v == JN_TRIED)
		sb_add(b, "stays: fits nowhere\n");
	else if (nt->v == JN_COOLDOWN || nt->v == JN_YOUNG)
		sb_add(b, "stays: may not move yet\n");
	else if (nt->v == JN_ROOT)
		sb_add(b, "stays: runs as root and sched/allow_root is 0\n");
	else
		sb_add(b, "stays: not selected\n");
	if (d->issue_err[0] && d->job == nt->job)
		sb_add(b, "the move was refused: %s\n", d->issue_err);
}

static char *fmt_why(struct sched_pass *p, const struct reg_host *h,
		     const struct sched_dec *d, const struct sched_note *nt)
{
	struct sbuf b = { 0 };

	fmt_head(&b, p, d, nt);
	fmt_trigger(&b, p, h, d);
	fmt_jobs(&b, p, d);
	if (nt->v == JN_TRIED)
		fmt_cands(&b, p, h, nt);
	return b.p;
}

/* The decision line; in_plan: as sched/plan shows it (no time, and a
 * dry-run move is action=move there but action=none in sched/decisions). */
static void fmt_line(struct sbuf *b, const struct sched_dec *d, int in_plan,
		     double wall)
{
	char ts[40], q[600], why[600];
	int moved = d->action == DEC_MOVE && !d->issue_err[0] &&
		    (!d->dry || in_plan);

	if (!in_plan) {
		reg_format_time(wall, ts, sizeof(ts));
		sb_add(b, "%s ", ts);
	}
	if (d->issue_err[0])
		snprintf(why, sizeof(why), "move refused: %s; %s", d->issue_err,
			 d->reason);
	else if (d->dry && d->action == DEC_MOVE && !in_plan)
		snprintf(why, sizeof(why), "dry-run, would move: %s", d->reason);
	else
		snprintf(why, sizeof(why), "%s", d->reason);
	sb_add(b, "host=%s job=", d->host);
	if (d->job)
		sb_add(b, "%d", d->job);
	else
		sb_add(b, "-");
	sb_add(b, " action=%s dest=%s reason=%s", moved ? "move" : "none",
	       d->dest[0] ? d->dest : "-", reg_qv(q, sizeof(q), why));
}

/* ---- writing a decision out ------------------------------------------------- */

struct sched_out {                /* texts of one decision, owned */
	char *line;
	int njobs;
	int jobs[SCHED_NOTES];
	char *whys[SCHED_NOTES];
};

static void out_build(struct sched_pass *p, const struct sched_dec *d,
		      struct sched_out *o)
{
	struct reg_host *h = reg_host_find_locked(p->r, d->host);
	struct sbuf line = { 0 };

	memset(o, 0, sizeof(*o));
	fmt_line(&line, d, 0, p->wall);
	o->line = line.p;
	for (size_t i = 0; h && i < d->nnotes; i++) {
		o->jobs[o->njobs] = d->notes[i].job;
		o->whys[o->njobs++] = fmt_why(p, h, d, &d->notes[i]);
	}
}

static void out_write(struct sched *s, struct sched_out *o)
{
	if (o->line) {
		reg_add_decision(s->r, o->line);
		s->st.decisions++;
	}
	free(o->line);
	for (int i = 0; i < o->njobs; i++) {
		if (o->whys[i])
			reg_job_set_why(s->r, o->jobs[i], o->whys[i]);
		free(o->whys[i]);
	}
}

/* ---- passes ----------------------------------------------------------------- */

static void pass_begin(struct sched *s, struct sched_pass *p, double now,
		       int dry)
{
	size_t len;

	memset(p, 0, sizeof(*p));
	p->s = s;
	p->r = s->r;
	p->cfg = *reg_sched_locked(s->r);
	p->pol = reg_policy_locked(s->r);
	p->migrate_e = p->pol && p->pol->migrate_when ? p->pol->migrate_when
						      : s->def_migrate;
	p->accept_e = p->pol && p->pol->accept_when ? p->pol->accept_when
						    : s->def_accept;
	if (s->pol_seen[0] != (const void *)p->pol ||
	    s->pol_seen[1] != (const void *)reg_policy_text_locked(s->r, &len) ||
	    !s->pol_gen) {
		s->pol_seen[0] = p->pol;
		s->pol_seen[1] = reg_policy_text_locked(s->r, &len);
		s->pol_gen++;
	}
	p->now = now;
	p->wall = now + (util_wall_s() - util_now_s());
	p->dry = dry;
	observe_locked(s, s->r, now);
}

/* Judge h; a decision to write goes to *d (1), else 0.  In dry-run the
 * decision's line is added to plan even when it repeats the last one. */
static int host_pass(struct sched_pass *p, const struct reg_host *h,
		     struct sched_dec *d, struct sbuf *plan)
{
	dec_init(d, h, p->dry);
	if (!host_due(p, h, d))
		return 0;
	decide(p, h, d);
	if (plan) {
		fmt_line(plan, d, 1, p->wall);
		sb_add(plan, "\n");
	}
	if (dec_repeats(p->s, d)) {
		dec_release(d);
		return 0;
	}
	return 1;
}

/* Issue the moves of decs (lock released). */
static void issue_moves(struct sched *s, struct sched_dec *decs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct sched_dec *d = &decs[i];
		char err[REG_ERR_LEN];

		if (d->action != DEC_MOVE || d->dry)
			continue;
		if (reg_migrate_request(s->r, d->job, d->dest, 0, "sched", 0,
					NULL, NULL, err) < 0)
			snprintf(d->issue_err, sizeof(d->issue_err), "%s", err);
		else
			s->st.moves++;
	}
}

/* Texts of decs, then the lock is released and they are written. */
static void write_decisions(struct sched *s, struct sched_pass *p,
			    struct sched_dec *decs, size_t n)
{
	struct sched_out *outs = calloc(n ? n : 1, sizeof(*outs));

	reg_lock(s->r);
	observe_locked(s, s->r, p->now);
	for (size_t i = 0; outs && i < n; i++) {
		if (decs[i].issue_err[0]) {
			struct sched_job *sj = job_rec(s, decs[i].job);

			if (sj)
				job_note_failure(sj, decs[i].dest, p->now);
		}
		out_build(p, &decs[i], &outs[i]);
	}
	reg_unlock(s->r);
	for (size_t i = 0; outs && i < n; i++)
		out_write(s, &outs[i]);
	free(outs);
}

static void run_decisions(struct sched *s, struct sched_pass *p,
			  struct sched_dec *decs, size_t n)
{
	issue_moves(s, decs, n);
	write_decisions(s, p, decs, n);
	for (size_t i = 0; i < n; i++)
		dec_release(&decs[i]);
}

void sched_host_updated(struct sched *s, const char *host, double now)
{
	struct sched_pass p;
	struct sched_dec *d = malloc(sizeof(*d));
	struct reg_host *h;
	int due = 0;

	if (!d)
		return;
	pthread_mutex_lock(&s->mu);
	reg_lock(s->r);
	s->st.passes++;
	h = reg_host_find_locked(s->r, host);
	/* dry-run: the timer rebuilds the whole plan */
	if (h && reg_sched_locked(s->r)->mode != SCHED_DRYRUN) {
		pass_begin(s, &p, now, 0);
		due = host_pass(&p, h, d, NULL);
	}
	reg_unlock(s->r);
	if (due)
		run_decisions(s, &p, d, 1);
	pthread_mutex_unlock(&s->mu);
	free(d);
}

/* Room for one more decision at decs[n]; -1 when out of memory. */
static int decs_room(struct sched_dec **decs, size_t *cap, size_t n)
{
	size_t nc;
	struct sched_dec *nd;

	if (n < *cap)
		return 0;
	nc = *cap ? *cap * 2 : 4;
	nd = realloc(*decs, nc * sizeof(*nd));
	if (!nd)
		return -1;
	*decs = nd;
	*cap = nc;
	return 0;
}

/* Every host, in registration order; decisions to write into *decs. */
static size_t tick_collect(struct sched_pass *p, struct sched_dec **decs,
			   size_t *cap, struct sbuf *plan)
{
	size_t n = 0;

	for (const struct reg_host *h = reg_hosts_locked(p->r); h; h = h->next) {
		if (decs_room(decs, cap, n) < 0)
			break;
		if (host_pass(p, h, &(*decs)[n], plan))
			n++;
	}
	return n;
}

static void plan_head(struct sbuf *plan, const struct sched_pass *p)
{
	char ts[40];

	reg_format_time(p->wall, ts, sizeof(ts));
	sb_add(plan, "# dry-run plan at %s: the moves auto mode would make "
	       "now\n", ts);
}

static void plan_publish(struct sched *s, struct sched_pass *p,
			 struct sbuf *plan)
{
	if (p->dry) {
		if (!strchr(sb_str(plan), '\n') || !strchr(sb_str(plan), '\n')[1])
			sb_add(plan, "# no host needs a move\n");
		reg_set_plan(s->r, sb_str(plan));
		s->plan_shown = 1;
	} else if (s->plan_shown) {
		reg_set_plan(s->r, "");
		s->plan_shown = 0;
	}
}

void sched_tick(struct sched *s, double now)
{
	struct sched_pass p;
	struct sched_dec *decs = NULL;
	struct sbuf plan = { 0 };
	size_t cap = 0, n;

	pthread_mutex_lock(&s->mu);
	reg_lock(s->r);
	s->st.passes++;
	pass_begin(s, &p, now, reg_sched_locked(s->r)->mode == SCHED_DRYRUN);
	if (p.dry)
		plan_head(&plan, &p);
	n = tick_collect(&p, &decs, &cap, p.dry ? &plan : NULL);
	reg_unlock(s->r);
	plan_publish(s, &p, &plan);
	run_decisions(s, &p, decs, n);
	pthread_mutex_unlock(&s->mu);
	sb_free(&plan);
	free(decs);
}

/* ---- life cycle -------------------------------------------------------------- */

struct sched *sched_new(struct registry *r, char *err)
{
	struct sched *s = calloc(1, sizeof(*s));
	struct expr_err e;

	if (!s) {
		snprintf(err, REG_ERR_LEN, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	s->r = r;
	s->def_migrate = expr_parse("state == overloaded", EXPR_METRICS, &e);
	s->def_accept = expr_parse("state == free", EXPR_METRICS, &e);
	if (!s->def_migrate || !s->def_accept) {
		snprintf(err, REG_ERR_LEN, "default policy: %s", e.msg);
		sched_free(s);
		return NULL;
	}
	return s;
}

void sched_free(struct sched *s)
{
	if (!s)
		return;
	expr_free(s->def_migrate);
	expr_free(s->def_accept);
	free(s->hosts);
	free(s->jobs);
	free(s->flight);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void sched_get_stats(struct sched *s, struct sched_stats *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->st;
	pthread_mutex_unlock(&s->mu);
}

static void *sched_thread(void *arg)
{
	struct sched *s = arg;
	struct timespec ts = { 0, (long)(SCHED_TICK_S * 1e9) };

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		nanosleep(&ts, NULL);
		sched_tick(s, util_now_s());
	}
	return NULL;
}

int sched_start(struct sched *s, char *err)
{
	int e;

	__atomic_store_n(&s->stop, 0, __ATOMIC_RELEASE);
	e = pthread_create(&s->thread, NULL, sched_thread, s);
	if (e) {
		snprintf(err, REG_ERR_LEN, "scheduler thread: %s", strerror(e));
		return -1;
	}
	s->running = 1;
	return 0;
}

void sched_stop(struct sched *s)
{
	if (!s->running)
		return;
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	pthread_join(s->thread, NULL);
	s->running = 0;
}

/* ---- the daemon's scheduler ----------------------------------------------------- */

static struct sched *the_sched;

void fs_sched_host_updated(void *ctx, const char *host)
{
	if (ctx)
		sched_host_updated(ctx, host, util_now_s());
}

int fs_sched_start(struct registry *r, const struct fs_config *cfg, char *err)
{
	struct sched *s = sched_new(r, err);

	if (!s)
		return -1;
	if (sched_start(s, err) < 0) {
		sched_free(s);
		return -1;
	}
	the_sched = s;
	reg_set_update_hook(r, fs_sched_host_updated, s);
	return 0;
}

void fs_sched_stop(void)
{
	struct sched *s = the_sched;

	if (!s)
		return;
	reg_set_update_hook(s->r, NULL, NULL);
	sched_stop(s);
	the_sched = NULL;
	sched_free(s);
}
