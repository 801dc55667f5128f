/* registry.c — the model of reschedfs; see registry.h. */
#include "fs/registry.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "common/auth.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/util.h"
#include "fs/fs_state.h"
#include "fs/fs_value.h"
#include "rules/rule_lex.h"

#define REG_HASH 16384            /* host buckets: 10,000 hosts, short chains */
#define REG_INPLACE_MAX 64        /* metrics an update may set in place */

struct reg_rulefile {
	char name[REG_NAME_MAX];
	char *text;                   /* owned, NUL-terminated */
	size_t len;
};

/* A move to abort once the lock is released. */
struct reg_abort {
	int job;
	uint64_t mig;
	char reason[128];
};

struct registry {
	pthread_mutex_t mu;           /* protects everything below */
	pthread_cond_t cv;            /* broadcast when a move ends */
	char *state_dir;              /* NULL: nothing persisted */
	/* hosts, registration order; hash by name */
	struct reg_host *hosts, *hosts_tail;
	struct reg_host *hash[REG_HASH];
	size_t nhosts;
	uint64_t host_seq;
	/* jobs[id], ids 1..job_max; capacity njobs_cap */
	struct reg_job **jobs;
	int job_max, njobs_cap;
	int next_job;                 /* persisted counter */
	uint64_t next_mig;
	/* rules/ files sorted by name, the parsed set, the policy */
	struct reg_rulefile *rules;
	size_t nrules;
	const char **rule_names;      /* nrules names for listing */
	struct ruleset *rs;
	char *policy_text;
	size_t policy_len;
	struct policy *policy;
	struct reg_sched sched;
	char *plan;
	char **decisions;             /* ring of REG_DECISIONS_MAX */
	size_t dec_head, ndec;
	double *move_times;           /* finished-move times, last hour */
	size_t nmove_times, move_cap;
	/* hooks */
	struct reg_net_hooks net;
	reg_change_fn change_fn;
	void *change_ctx;
	void (*update_fn)(void *ctx, const char *host); /* the scheduler */
	void *update_ctx;
	reg_event_fn event_fn;
	void *event_ctx;
	/* lease timer */
	pthread_t timer;
	int timer_running;
	int stop;                     /* atomic */
};

static void reg_event_locked(struct registry *r, const char *kind,
			     const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reg_change_locked(struct registry *r, enum reg_change what,
			      const char *host, int job);
static void reg_job_set_status_locked(struct registry *r, struct reg_job *j,
				      int status, int code);
static size_t reg_mig_expire_locked(struct registry *r, double now,
				    struct reg_abort *ab, size_t max);
static void reg_abort_send(struct registry *r, const struct reg_abort *ab,
			   size_t n);
static int reg_persist_load(struct registry *r, char *err);
static int reg_persist_sched_locked(struct registry *r,
				    const struct reg_sched *s, char *err);
static int reg_rules_seed(struct registry *r, const char *dir, char *err);
static int reg_rules_adopt(struct registry *r, const char *dir, char *err);
static int reg_rules_load(struct registry *r, char *err);
static void reg_rules_free_all(struct registry *r);
static void reg_job_free(struct reg_job *j);
static void persist_job_locked(struct registry *r, const struct reg_job *j);
static void forget_job_record_locked(struct registry *r, int id);
static void jobs_load(struct registry *r);
static void mig_finish_locked(struct registry *r, struct reg_job *j, int ok,
			      int err_no, const char *reason,
			      const struct reg_mig_timings *t);

/* ---- small helpers ------------------------------------------------------ */

static void set_err(char *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_err(char *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err, REG_ERR_LEN, fmt, ap);
	va_end(ap);
}

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static char *xmemdup(const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (!p)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void reg_format_time(double wall, char *buf, size_t size)
{
	time_t sec = (time_t)wall;
	struct tm tm;
	int ms = (int)((wall - (double)sec) * 1000.0);

	gmtime_r(&sec, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, ms < 0 ? 0 : ms > 999 ? 999 : ms);
}

const char *reg_qv(char *buf, size_t size, const char *s)
{
	size_t o = 0;
	int plain = *s != '\0';

	for (const char *p = s; *p && plain; p++)
		if (*p <= ' ' || *p == '"' || *p == '\\' || *p == '=' ||
		    *p == 0x7f)
			plain = 0;
	if (plain) {
		snprintf(buf, size, "%s", s);
		return buf;
	}
	if (size < 3)
		return "\"\"";
	buf[o++] = '"';
	for (const char *p = s; *p && o + 3 < size; p++) {
		if (*p == '"' || *p == '\\') {
			buf[o++] = '\\';
			buf[o++] = *p;
		} else if (*p == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else {
			buf[o++] = (*p > 0 && *p < ' ') ? ' ' : *p;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

const char *reg_job_status_name(int status)
{
	static const char *const names[] = { "running", "migrating",
		"migrated", "done", "failed", "lost" };

	if (status < 0 || (size_t)status >= ARRAY_SIZE(names))
		return "unknown";
	return names[status];
}

/* ---- events -------------------------------------------------------------- */

static void event_vemit_locked(struct registry *r, const char *kind,
			       const char *fmt, va_list ap)
{
	char line[2048], ts[40];
	int n;

	reg_format_time(util_wall_s(), ts, sizeof(ts));
	n = snprintf(line, sizeof(line), "%s %s", ts, kind);
	if (fmt && *fmt && n > 0 && (size_t)n < sizeof(line) - 1) {
		line[n++] = ' ';
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	}
	for (char *p = line; *p; p++)
		if (*p == '\n')
			*p = ' ';
	log_info("%s", line + strlen(ts) + 1);
	if (r->event_fn)
		r->event_fn(r->event_ctx, line);
}

static void reg_event_locked(struct registry *r, const char *kind,
			     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	event_vemit_locked(r, kind, fmt, ap);
	va_end(ap);
}

void reg_event(struct registry *r, const char *kind, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&r->mu);
	va_start(ap, fmt);
	event_vemit_locked(r, kind, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&r->mu);
}

static void reg_change_locked(struct registry *r, enum reg_change what,
			      const char *host, int job)
{
	if (r->change_fn)
		r->change_fn(r->change_ctx, what, host, job);
}

const char *reg_state_dir(struct registry *r) { return r->state_dir; }

void reg_write_rejected(struct registry *r, const char *path, uid_t uid,
			const char *reason)
{
	char q1[512], q2[1024];

	reg_event(r, "write-rejected", "path=%s uid=%u reason=%s",
		  reg_qv(q1, sizeof(q1), path), (unsigned)uid,
		  reg_qv(q2, sizeof(q2), reason));
}

/* ---- life cycle ---------------------------------------------------------- */

static void sched_defaults(struct reg_sched *s)
{
	s->mode = SCHED_AUTO;
	s->stability = 0;
	s->cooldown = 60;
	s->min_age = 10;
	s->max_concurrent = 1;
	s->max_per_hour = 60;
	s->migrate_timeout = 120;
}

static int load_state(struct registry *r, const struct reg_config *cfg,
		      char *err)
{
	int fresh = 1;

	if (cfg->state_dir) {
		r->state_dir = strdup(cfg->state_dir);
		if (fs_state_init(cfg->state_dir, &fresh, err) < 0)
			return -1;
		if (reg_persist_load(r, err) < 0)
			return -1;
		jobs_load(r);
	}
	if (fresh && reg_rules_seed(r, cfg->default_rules, err) < 0)
		return -1;
	return reg_rules_load(r, err);
}

struct registry *reg_new(const struct reg_config *cfg, char *err)
{
	struct registry *r = calloc(1, sizeof(*r));
	pthread_condattr_t ca;

	if (!r) {
		set_err(err, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	sched_defaults(&r->sched);
	r->next_job = 1;
	r->next_mig = 1;
	if (load_state(r, cfg, err) < 0) {
		reg_free(r);
		return NULL;
	}
	return r;
}

static void host_free(struct reg_host *h)
{
	for (size_t i = 0; i < h->ninfo; i++) {
		free((char *)h->info[i].key);
		free((char *)h->info[i].value);
	}
	free(h->info);
	for (size_t i = 0; i < h->nmetrics; i++)
		free((char *)h->metrics[i].name);
	free(h->metrics);
	for (size_t i = 0; i < h->nverdicts; i++)
		free((char *)h->verdicts[i].name);
	free(h->verdicts);
	free(h);
}

static void reg_job_free(struct reg_job *j)
{
	if (!j)
		return;
	free(j->prog);
	free(j->cwd);
	for (int i = 0; i < j->argc; i++)
		free(j->argv[i]);
	free(j->argv);
	free(j->schema);
	free(j->mpi_ns);
	free(j->mpi_hosts);
	jobctx_free(&j->ctx);
	jobctx_free(&j->mig_succ_ctx);
	free(j->result);
	free(j->why);
	for (int i = 0; i < j->nhistory; i++)
		free(j->history[i]);
	free(j->history);
	free(j);
}

void reg_free(struct registry *r)
{
	if (!r)
		return;
	for (struct reg_host *h = r->hosts, *n; h; h = n) {
		n = h->next;
		host_free(h);
	}
	for (int i = 0; i <= r->job_max; i++)
		reg_job_free(r->jobs ? r->jobs[i] : NULL);
	free(r->jobs);
	reg_rules_free_all(r);
	free(r->policy_text);
	policy_free(r->policy);
	free(r->plan);
	for (size_t i = 0; i < r->ndec; i++)
		free(r->decisions[(r->dec_head + i) % REG_DECISIONS_MAX]);
	free(r->decisions);
	free(r->move_times);
	free(r->state_dir);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

void reg_lock(struct registry *r) { pthread_mutex_lock(&r->mu); }
void reg_unlock(struct registry *r) { pthread_mutex_unlock(&r->mu); }

void reg_set_net_hooks(struct registry *r, const struct reg_net_hooks *h)
{
	pthread_mutex_lock(&r->mu);
	r->net = *h;
	pthread_mutex_unlock(&r->mu);
}

void reg_set_change_hook(struct registry *r, reg_change_fn fn, void *ctx)
{
	pthread_mutex_lock(&r->mu);
	r->change_fn = fn;
	r->change_ctx = ctx;
	pthread_mutex_unlock(&r->mu);
}

void reg_set_update_hook(struct registry *r,
			 void (*fn)(void *ctx, const char *host), void *ctx)
{
	pthread_mutex_lock(&r->mu);
	r->update_fn = fn;
	r->update_ctx = ctx;
	pthread_mutex_unlock(&r->mu);
}

void reg_set_event_hook(struct registry *r, reg_event_fn fn, void *ctx)
{
	pthread_mutex_lock(&r->mu);
	r->event_fn = fn;
	r->event_ctx = ctx;
	pthread_mutex_unlock(&r->mu);
}

/* ---- hosts --------------------------------------------------------------- */

static unsigned host_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h % REG_HASH;
}

struct reg_host *reg_host_find_locked(struct registry *r, const char *name)
{
	for (struct reg_host *h = r->hash[host_hash(name)]; h; h = h->hnext)
		if (strcmp(h->name, name) == 0)
			return h;
	return NULL;
}

const struct reg_host *reg_hosts_locked(struct registry *r)
{
	return r->hosts;
}

size_t reg_nhosts_locked(struct registry *r) { return r->nhosts; }

int reg_host_state_locked(const struct reg_host *h)
{
	if (h->unavailable)
		return RS_UNAVAILABLE;
	if (h->draining)
		return RS_DRAINING;
	return h->state;
}

static int metric_cmp(const void *a, const void *b)
{
	return strcmp(((const struct reg_metric *)a)->name,
		      ((const struct reg_metric *)b)->name);
}

int reg_host_metric_locked(const struct reg_host *h, const char *name,
			   double *out)
{
	struct reg_metric key = { name, 0 };
	const struct reg_metric *m;

	if (!h->nmetrics)
		return -1;
	m = bsearch(&key, h->metrics, h->nmetrics, sizeof(key), metric_cmp);
	if (!m)
		return -1;
	*out = m->value;
	return 0;
}

const char *reg_host_info_locked(const struct reg_host *h, const char *key)
{
	for (size_t i = 0; i < h->ninfo; i++)
		if (strcmp(h->info[i].key, key) == 0)
			return h->info[i].value;
	return NULL;
}

int reg_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= REG_NAME_MAX || name[0] == '.')
		return 0;
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p <= ' ' || *p == 0x7f)
			return 0;
	return 1;
}

static struct reg_host *host_add_locked(struct registry *r, const char *name)
{
	struct reg_host *h = calloc(1, sizeof(*h));
	unsigned b = host_hash(name);

	if (!h)
		return NULL;
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->seq = ++r->host_seq;
	h->state = RS_FREE;
	h->joined = util_now_s();
	h->hnext = r->hash[b];
	r->hash[b] = h;
	if (r->hosts_tail)
		r->hosts_tail->next = h;
	else
		r->hosts = h;
	r->hosts_tail = h;
	r->nhosts++;
	return h;
}

static void host_unlink_locked(struct registry *r, struct reg_host *h)
{
	struct reg_host **pp, *prev = NULL;

	for (pp = &r->hash[host_hash(h->name)]; *pp; pp = &(*pp)->hnext)
		if (*pp == h) {
			*pp = h->hnext;
			break;
		}
	for (pp = &r->hosts; *pp; prev = *pp, pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	if (r->hosts_tail == h)
		r->hosts_tail = prev;
	r->nhosts--;
}

static int replace_info(struct reg_host *h, const struct reg_kv *info,
			size_t n)
{
	struct reg_kv *v = calloc(n + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		v[i].key = xstrdup(info[i].key ? info[i].key : "");
		v[i].value = xstrdup(info[i].value ? info[i].value : "");
	}
	for (size_t i = 0; i < h->ninfo; i++) {
		free((char *)h->info[i].key);
		free((char *)h->info[i].value);
	}
	free(h->info);
	h->info = v;
	h->ninfo = n;
	return 0;
}

/* The common update carries the same metric names as the last one: set
 * the values in place (no allocation).  1 done, 0 the names differ. */
static int metrics_in_place(struct reg_host *h, const struct reg_metric *m,
			    size_t n)
{
	struct reg_metric *slot[REG_INPLACE_MAX];

	if (n != h->nmetrics || n > REG_INPLACE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct reg_metric key = { m[i].name, 0 };

		if (!m[i].name ||
		    !(slot[i] = bsearch(&key, h->metrics, h->nmetrics,
					sizeof(key), metric_cmp)))
			return 0;
	}
	for (size_t i = 0; i < n; i++)   /* names unique, so all are set */
		slot[i]->value = m[i].value;
	return 1;
}

static int replace_metrics(struct reg_host *h, const struct reg_metric *m,
			   size_t n)
{
	struct reg_metric *v;
	size_t k = 0;

	if (metrics_in_place(h, m, n))
		return 0;
	if (!(v = calloc(n + 1, sizeof(*v))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (m[i].name && reg_name_ok(m[i].name))
			v[k++] = (struct reg_metric){ strdup(m[i].name),
						      m[i].value };
	qsort(v, k, sizeof(*v), metric_cmp);
	for (size_t i = 0; i < h->nmetrics; i++)
		free((char *)h->metrics[i].name);
	free(h->metrics);
	h->metrics = v;
	h->nmetrics = k;
	return 0;
}

/* Same rule names in the same order as last time: set in place. */
static int verdicts_in_place(struct reg_host *h, const struct reg_verdict *m,
			     size_t n)
{
	if (n != h->nverdicts)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!m[i].name || strcmp(m[i].name, h->verdicts[i].name) != 0)
			return 0;
	for (size_t i = 0; i < n; i++) {
		h->verdicts[i].state = m[i].state;
		h->verdicts[i].value = m[i].value;
	}
	return 1;
}

static int replace_verdicts(struct reg_host *h, const struct reg_verdict *m,
			    size_t n)
{
	struct reg_verdict *v;
	size_t k = 0;

	if (verdicts_in_place(h, m, n))
		return 0;
	if (!(v = calloc(n + 1, sizeof(*v))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (m[i].name && reg_name_ok(m[i].name))
			v[k++] = (struct reg_verdict){ strdup(m[i].name),
						       m[i].state, m[i].value };
	for (size_t i = 0; i < h->nverdicts; i++)
		free((char *)h->verdicts[i].name);
	free(h->verdicts);
	h->verdicts = v;
	h->nverdicts = k;
	return 0;
}

/* Emit host-state and raise REG_HOST_STATE when the shown state moved. */
static void reg_host_note_state_locked(struct registry *r, struct reg_host *h,
				int before)
{
	int now = reg_host_state_locked(h);

	if (now == before)
		return;
	reg_event_locked(r, "host-state", "host=%s state=%s from=%s", h->name,
			 rs_state_name(now), rs_state_name(before));
	reg_change_locked(r, REG_HOST_STATE, h->name, 0);
}

/* A host that reports again: its lost jobs come back. */
static void host_revive_locked(struct registry *r, struct reg_host *h)
{
	h->unavailable = 0;
	for (int i = 1; i <= r->job_max; i++) {
		struct reg_job *j = r->jobs[i];

		if (j && j->status == JOB_LOST && strcmp(j->host, h->name) == 0)
			reg_job_set_status_locked(r, j, JOB_RUNNING, -1);
	}
}

int reg_host_name_ok(const char *name)
{
	return auth_host_name_ok(name);
}

static int interval_ok(double interval)
{
	return interval >= REG_INTERVAL_MIN && interval <= REG_INTERVAL_MAX;
}

int reg_host_hello(struct registry *r, const char *name,
		   const struct reg_kv *info, size_t ninfo, double interval)
{
	struct reg_host *h;
	int before, rc, is_new = 0;

	if (!reg_host_name_ok(name))
		return -EINVAL;
	if (!interval_ok(interval))
		return -ERANGE;
	pthread_mutex_lock(&r->mu);
	h = reg_host_find_locked(r, name);
	if (!h && r->nhosts >= REG_HOSTS_MAX) {
		pthread_mutex_unlock(&r->mu);
		return -ENOSPC;
	}
	if (!h) {
		h = host_add_locked(r, name);
		is_new = 1;
	}
	if (!h) {
		pthread_mutex_unlock(&r->mu);
		return -ENOMEM;
	}
	before = is_new ? h->state : reg_host_state_locked(h);
	rc = replace_info(h, info, ninfo);
	h->interval = interval;
	h->last_update = util_now_s();
	if (is_new) {
		reg_event_locked(r, "host-joined", "host=%s interval=%g", name,
				 h->interval);
		reg_change_locked(r, REG_HOST_ADDED, name, 0);
	} else if (h->unavailable) {
		reg_event_locked(r, "host-joined", "host=%s returned=1", name);
		host_revive_locked(r, h);
	}
	if (!is_new)
		reg_host_note_state_locked(r, h, before);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

int reg_host_update(struct registry *r, const char *name,
		    const struct reg_metric *m, size_t nm,
		    const struct reg_verdict *v, size_t nv,
		    int state, double interval)
{
	struct reg_host *h;
	int before, rc;

	if (state < RS_FREE || state > RS_OVERLOADED)
		return -EINVAL;
	if (interval > 0 && !interval_ok(interval))
		return -ERANGE;
	pthread_mutex_lock(&r->mu);
	h = reg_host_find_locked(r, name);
	if (!h) {
		pthread_mutex_unlock(&r->mu);
		return -ENOENT;
	}
	before = reg_host_state_locked(h);
	rc = replace_metrics(h, m, nm);
	if (rc == 0)
		rc = replace_verdicts(h, v, nv);
	if (interval > 0)
		h->interval = interval;
	h->last_update = util_now_s();
	if (h->unavailable) {
		reg_event_locked(r, "host-joined", "host=%s returned=1", name);
		host_revive_locked(r, h);
	}
	h->state = state;
	reg_host_note_state_locked(r, h, before);
	{
		void (*fn)(void *, const char *) = r->update_fn;
		void *fctx = r->update_ctx;

		pthread_mutex_unlock(&r->mu);
		if (fn && rc == 0)
			fn(fctx, name);
	}
	return rc;
}

void reg_host_disconnected(struct registry *r, const char *name)
{
	pthread_mutex_lock(&r->mu);
	if (reg_host_find_locked(r, name))
		log_debug("host %s disconnected; lease runs on", name);
	pthread_mutex_unlock(&r->mu);
}

int reg_host_state_write(struct registry *r, const char *host,
			 const char *text, uid_t uid, char *err)
{
	return reg_host_state_write_n(r, host, text, strlen(text), uid, err);
}

int reg_host_state_write_n(struct registry *r, const char *host,
			   const char *text, size_t len, uid_t uid, char *err)
{
	char word[32], path[REG_NAME_MAX + 16], e[REG_ERR_LEN];
	const char *why = "a word other than these";
	struct reg_host *h;
	int before, drain;

	if (fs_value_word(text, len, word, sizeof(word), &why) < 0 ||
	    (strcmp(word, "drain") && strcmp(word, "resume"))) {
		snprintf(e, sizeof(e), "hosts/%s/state takes drain or resume "
			 "(%s)", host, why);
		set_err(err, "%s", e);
		snprintf(path, sizeof(path), "hosts/%s/state", host);
		reg_write_rejected(r, path, uid, e);
		return -EINVAL;
	}
	drain = strcmp(word, "drain") == 0;
	pthread_mutex_lock(&r->mu);
	h = reg_host_find_locked(r, host);
	if (!h) {
		pthread_mutex_unlock(&r->mu);
		set_err(err, "no host %s", host);
		return -ENOENT;
	}
	before = reg_host_state_locked(h);
	h->draining = drain;
	reg_event_locked(r, "host-state", "host=%s %s=1 uid=%u", host,
			 drain ? "drain" : "resume", (unsigned)uid);
	reg_host_note_state_locked(r, h, before);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

int reg_host_forget(struct registry *r, const char *host, uid_t uid,
		    int via_fs, char *err)
{
	struct reg_host *h;

	pthread_mutex_lock(&r->mu);
	h = reg_host_find_locked(r, host);
	if (!h) {
		pthread_mutex_unlock(&r->mu);
		set_err(err, "no host %s", host);
		return -ENOENT;
	}
	if (!h->unavailable) {
		set_err(err, "host %s is not unavailable", host);
		pthread_mutex_unlock(&r->mu);
		reg_write_rejected(r, host, uid, err ? err : "host is up");
		return -EBUSY;
	}
	host_unlink_locked(r, h);
	reg_event_locked(r, "host-forgotten", "host=%s uid=%u", host,
			 (unsigned)uid);
	if (!via_fs)
		reg_change_locked(r, REG_HOST_REMOVED, host, 0);
	host_free(h);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

/* ---- leases and migration time-outs ------------------------------------- */

static void host_expire_locked(struct registry *r, struct reg_host *h)
{
	int before = reg_host_state_locked(h);

	h->unavailable = 1;
	reg_event_locked(r, "host-left", "host=%s silent=%.1f", h->name,
			 util_now_s() - h->last_update);
	reg_host_note_state_locked(r, h, before);
	for (int i = 1; i <= r->job_max; i++) {
		struct reg_job *j = r->jobs[i];

		if (!j || strcmp(j->host, h->name) != 0)
			continue;
		if (j->status == JOB_RUNNING || j->status == JOB_MIGRATED ||
		    j->status == JOB_MIGRATING)
			reg_job_set_status_locked(r, j, JOB_LOST, -1);
	}
}

void reg_tick(struct registry *r, double now)
{
	struct reg_abort ab[16];
	char silent[16][REG_NAME_MAX];
	size_t nab = 0, ns = 0;
	struct reg_net_hooks hk;

	pthread_mutex_lock(&r->mu);
	for (struct reg_host *h = r->hosts; h; h = h->next)
		if (!h->unavailable &&
		    now - h->last_update > REG_LEASE_INTERVALS * h->interval) {
			host_expire_locked(r, h);
			if (ns < ARRAY_SIZE(silent))
				snprintf(silent[ns++], REG_NAME_MAX, "%s", h->name);
		}
	nab = reg_mig_expire_locked(r, now, ab, ARRAY_SIZE(ab));
	hk = r->net;
	pthread_mutex_unlock(&r->mu);
	reg_abort_send(r, ab, nab);
	for (size_t i = 0; i < ns && hk.host_silent; i++)
		hk.host_silent(hk.ctx, silent[i]);
}

static void *timer_main(void *arg)
{
	struct registry *r = arg;
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		nanosleep(&ts, NULL);
		reg_tick(r, util_now_s());
	}
	return NULL;
}

int reg_start(struct registry *r)
{
	int e;

	r->stop = 0;
	e = pthread_create(&r->timer, NULL, timer_main, r);
	if (e)
		return -e;
	r->timer_running = 1;
	return 0;
}

void reg_stop(struct registry *r)
{
	if (!r->timer_running)
		return;
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	pthread_join(r->timer, NULL);
	r->timer_running = 0;
}

/* ---- scheduler texts ----------------------------------------------------- */

void reg_sched_get(struct registry *r, struct reg_sched *out)
{
	pthread_mutex_lock(&r->mu);
	*out = r->sched;
	pthread_mutex_unlock(&r->mu);
}

void reg_set_plan(struct registry *r, const char *text)
{
	char *p = xstrdup(text);

	pthread_mutex_lock(&r->mu);
	free(r->plan);
	r->plan = p;
	pthread_mutex_unlock(&r->mu);
}

void reg_add_decision(struct registry *r, const char *line)
{
	char *p = strdup(line);

	if (!p)
		return;
	pthread_mutex_lock(&r->mu);
	if (!r->decisions)
		r->decisions = calloc(REG_DECISIONS_MAX, sizeof(char *));
	if (!r->decisions) {
		free(p);
	} else if (r->ndec < REG_DECISIONS_MAX) {
		r->decisions[(r->dec_head + r->ndec++) % REG_DECISIONS_MAX] = p;
	} else {
		free(r->decisions[r->dec_head]);
		r->decisions[r->dec_head] = p;
		r->dec_head = (r->dec_head + 1) % REG_DECISIONS_MAX;
	}
	pthread_mutex_unlock(&r->mu);
}

const char *reg_plan_locked(struct registry *r) { return r->plan; }
const struct reg_sched *reg_sched_locked(struct registry *r) { return &r->sched; }
size_t reg_ndecisions_locked(struct registry *r) { return r->ndec; }

const char *reg_decision_locked(struct registry *r, size_t i)
{
	if (i >= r->ndec)
		return NULL;
	return r->decisions[(r->dec_head + i) % REG_DECISIONS_MAX];
}

/* ---- sched settings ------------------------------------------------------ */

static const char *const sched_names[] = { "allow_root", "cooldown", "max_concurrent",
	"max_per_hour", "migrate_timeout", "min_age", "mode", "stability" };

int reg_sched_known(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(sched_names); i++)
		if (strcmp(sched_names[i], name) == 0)
			return 1;
	return 0;
}

const char *const *reg_sched_names(size_t *n)
{
	*n = ARRAY_SIZE(sched_names);
	return sched_names;
}

static const char *const mode_names[] = { "auto", "manual", "dry-run" };

void reg_sched_format(const struct reg_sched *s, const char *name,
		      char *buf, size_t size)
{
	char v[64];

	if (strcmp(name, "mode") == 0)
		snprintf(buf, size, "%s\n", mode_names[s->mode]);
	else if (strcmp(name, "allow_root") == 0)
		snprintf(buf, size, "%d\n", s->allow_root);
	else if (strcmp(name, "max_concurrent") == 0)
		snprintf(buf, size, "%d\n", s->max_concurrent);
	else if (strcmp(name, "max_per_hour") == 0)
		snprintf(buf, size, "%d\n", s->max_per_hour);
	else
		snprintf(buf, size, "%s\n", util_fmt_num(v, sizeof(v),
			 strcmp(name, "stability") == 0 ? s->stability :
			 strcmp(name, "cooldown") == 0 ? s->cooldown :
			 strcmp(name, "min_age") == 0 ? s->min_age :
			 s->migrate_timeout));
}

/* Parse value[0..len) (fs_value: one value, optional newline) into
 * s->name; 0 or -1 with err. */
int reg_sched_parse(struct reg_sched *s, const char *name, const char *value,
		    size_t len, char *err)
{
	const char *why = NULL;
	char word[16];
	double d;
	uint64_t u;

	if (strcmp(name, "mode") == 0) {
		if (fs_value_word(value, len, word, sizeof(word), &why) == 0)
			for (size_t i = 0; i < ARRAY_SIZE(mode_names); i++)
				if (strcmp(word, mode_names[i]) == 0) {
					s->mode = (int)i;
					return 0;
				}
		set_err(err, "mode must be auto, manual or dry-run%s%s%s",
			why ? " (" : "", why ? why : "", why ? ")" : "");
		return -1;
	}
	if (strcmp(name, "allow_root") == 0) {
		if (fs_value_uint(value, len, 1, &u, &why) < 0) {
			set_err(err, "allow_root must be 0 or 1 (%s)", why);
			return -1;
		}
		s->allow_root = (int)u;
		return 0;
	}
	if (strncmp(name, "max_", 4) == 0) {
		if (fs_value_uint(value, len, 1000000, &u, &why) < 0) {
			set_err(err, "%s must be an integer 0..1000000 (%s)",
				name, why);
			return -1;
		}
		*(strcmp(name, "max_concurrent") == 0 ? &s->max_concurrent :
		  &s->max_per_hour) = (int)u;
		return 0;
	}
	if (fs_value_number(value, len, 0, 1e7, &d, &why) < 0 ||
	    (strcmp(name, "migrate_timeout") == 0 && d <= 0)) {
		set_err(err, "%s must be a decimal number of seconds%s (%s)",
			name, strcmp(name, "migrate_timeout") == 0 ?
			" above 0" : ", 0 or more", why ? why : "out of range");
		return -1;
	}
	*(strcmp(name, "stability") == 0 ? &s->stability :
	  strcmp(name, "cooldown") == 0 ? &s->cooldown :
	  strcmp(name, "min_age") == 0 ? &s->min_age : &s->migrate_timeout) = d;
	return 0;
}

int reg_sched_write(struct registry *r, const char *name, const char *text,
		    uid_t uid, char *err)
{
	return reg_sched_write_n(r, name, text, strlen(text), uid, err);
}

int reg_sched_write_n(struct registry *r, const char *name, const char *text,
		      size_t len, uid_t uid, char *err)
{
	char v[64], e[REG_ERR_LEN], q[REG_ERR_LEN + 8], path[80];
	struct reg_sched s;
	int rc;

	if (!reg_sched_known(name))
		return -ENOENT;
	snprintf(path, sizeof(path), "sched/%s", name);
	pthread_mutex_lock(&r->mu);
	s = r->sched;
	rc = reg_sched_parse(&s, name, text, len, e) < 0 ? -EINVAL :
	     /* on disk first: a full disk or an I/O error keeps the old
	      * value in memory and on disk */
	     reg_persist_sched_locked(r, &s, e);
	if (rc < 0) {
		set_err(err, "%s", e);
		reg_event_locked(r, "write-rejected", "path=%s uid=%u reason=%s",
				 path, (unsigned)uid, reg_qv(q, sizeof(q), e));
		pthread_mutex_unlock(&r->mu);
		return rc;
	}
	r->sched = s;
	reg_sched_format(&s, name, v, sizeof(v));
	v[strcspn(v, "\n")] = '\0';
	reg_event_locked(r, "sched-changed", "name=%s value=%s uid=%u", name,
			 reg_qv(q, sizeof(q), v), (unsigned)uid);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

/* ---- jobs ---------------------------------------------------------------- */

static struct reg_job *job_slot_locked(struct registry *r, int id)
{
	if (id <= 0 || id > 10000000)
		return NULL;
	if (id >= r->njobs_cap) {
		int cap = r->njobs_cap ? r->njobs_cap : 64;
		struct reg_job **nj;

		while (cap <= id)
			cap *= 2;
		nj = realloc(r->jobs, (size_t)cap * sizeof(*nj));
		if (!nj)
			return NULL;
		memset(nj + r->njobs_cap, 0,
		       (size_t)(cap - r->njobs_cap) * sizeof(*nj));
		r->jobs = nj;
		r->njobs_cap = cap;
	}
	if (!r->jobs[id]) {
		r->jobs[id] = calloc(1, sizeof(struct reg_job));
		if (!r->jobs[id])
			return NULL;
		r->jobs[id]->id = id;
	}
	if (id > r->job_max)
		r->job_max = id;
	return r->jobs[id];
}

int reg_job_max_locked(struct registry *r) { return r->job_max; }

struct reg_job *reg_job_locked(struct registry *r, int id)
{
	if (id <= 0 || id > r->job_max)
		return NULL;
	return r->jobs[id];
}

static void persist_counter_locked(struct registry *r)
{
	char buf[32], err[REG_ERR_LEN];
	int n = snprintf(buf, sizeof(buf), "%d\n", r->next_job);

	if (r->state_dir &&
	    fs_state_write(r->state_dir, "next_job", buf, (size_t)n, err) < 0)
		log_warnx("%s", err);
}

static void persist_history_locked(struct registry *r, struct reg_job *j)
{
	char rel[64], err[REG_ERR_LEN];
	size_t len = 0, o = 0;
	char *buf;

	if (!r->state_dir)
		return;
	for (int i = 0; i < j->nhistory; i++)
		len += strlen(j->history[i]) + 1;
	buf = malloc(len + 1);
	if (!buf)
		return;
	for (int i = 0; i < j->nhistory; i++)
		o += (size_t)sprintf(buf + o, "%s\n", j->history[i]);
	snprintf(rel, sizeof(rel), "history/%d", j->id);
	if (fs_state_write(r->state_dir, rel, buf, o, err) < 0)
		log_warnx("%s", err);
	free(buf);
}

static void history_add(struct reg_job *j, char *line)
{
	if (!line)
		return;
	if (!j->history)
		j->history = calloc(REG_HISTORY_MAX, sizeof(char *));
	if (!j->history) {
		free(line);
		return;
	}
	if (j->nhistory == REG_HISTORY_MAX) {
		free(j->history[0]);
		memmove(j->history, j->history + 1,
			(REG_HISTORY_MAX - 1) * sizeof(char *));
		j->nhistory--;
	}
	j->history[j->nhistory++] = line;
}

/* A job id seen again after a restart: its history comes back. */
static void history_load_locked(struct registry *r, struct reg_job *j)
{
	char rel[64], err[REG_ERR_LEN];
	size_t len;
	int missing;
	char *text, *save = NULL;

	if (!r->state_dir || j->nhistory)
		return;
	snprintf(rel, sizeof(rel), "history/%d", j->id);
	text = fs_state_read(r->state_dir, rel, &len, &missing, err);
	if (!text)
		return;
	for (char *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save))
		history_add(j, strdup(l));
	free(text);
}

static void job_set_argv(struct reg_job *j, const struct reg_proc_info *p)
{
	for (int i = 0; i < j->argc; i++)
		free(j->argv[i]);
	free(j->argv);
	j->argv = NULL;
	j->argc = 0;
	if (p->argc <= 0 || !p->argv)
		return;
	j->argv = calloc((size_t)p->argc + 1, sizeof(char *));
	if (!j->argv)
		return;
	for (int i = 0; i < p->argc; i++)
		j->argv[i] = strdup(p->argv[i] ? p->argv[i] : "");
	j->argc = p->argc;
}

/* The uid is set by the job's first registration only (fresh job). */
/* An MPI rank's identity; a registration without a host list (a
 * successor's) keeps the one its job reported before. */
static void job_fill_mpi(struct reg_job *j, const struct reg_proc_info *p)
{
	if (!p->mpi_ns)
		return;
	free(j->mpi_ns);
	j->mpi_ns = strdup(p->mpi_ns);
	j->mpi_rank = p->mpi_rank;
	j->mpi_size = p->mpi_size;
	if (p->mpi_hosts) {
		free(j->mpi_hosts);
		j->mpi_hosts = strdup(p->mpi_hosts);
	}
}

static void job_fill(struct reg_job *j, const char *host,
		     const struct reg_proc_info *p)
{
	snprintf(j->host, sizeof(j->host), "%s", host);
	j->pid = p->pid;
	if (p->prog) {
		free(j->prog);
		j->prog = strdup(p->prog);
	}
	if (p->cwd) {
		free(j->cwd);
		j->cwd = strdup(p->cwd);
	}
	if (p->argc > 0)
		job_set_argv(j, p);
	if (p->schema) {
		free(j->schema);
		j->schema = strdup(p->schema);
	}
	if (p->ctx && jobctx_copy(&j->ctx, p->ctx) < 0)
		log_warnx("job %d: out of memory for its context", j->id);
	if (p->start_wall > 0 || !j->start_wall)
		j->start_wall = p->start_wall > 0 ? p->start_wall : util_wall_s();
	job_fill_mpi(j, p);
}

static void reg_job_set_status_locked(struct registry *r, struct reg_job *j,
				      int status, int code)
{
	if (j->status == status)
		return;
	if (status == JOB_LOST || status == JOB_MIGRATING)
		j->prev_status = j->status;
	j->status = status;
	if (code >= 0)
		reg_event_locked(r, "job-status", "job=%d host=%s status=%s code=%d",
				 j->id, j->host, reg_job_status_name(status), code);
	else
		reg_event_locked(r, "job-status", "job=%d host=%s status=%s",
				 j->id, j->host, reg_job_status_name(status));
	reg_change_locked(r, REG_JOB_STATUS, j->host, j->id);
}

/* A registration for an existing job: a successor or a re-announce. */
static void job_reregister_locked(struct registry *r, struct reg_job *j,
				  const char *host,
				  const struct reg_proc_info *p)
{
	int moved = strcmp(j->host, host) != 0;

	if (p->uid != j->uid)
		reg_event_locked(r, "job-uid-kept", "job=%d host=%s uid=%u said=%u",
				 j->id, host, (unsigned)j->uid, (unsigned)p->uid);
	if (j->mig && !j->mig_done && j->mig_recovered && moved &&
	    strcmp(j->mig_to, host) == 0) {
		/* the registry stopped mid-move; the successor settles it */
		struct reg_mig_timings t = { 0 };

		mig_finish_locked(r, j, 1, 0, "recovered", &t);
	}
	if (j->mpi_ns && j->mig && !j->mig_done && moved &&
	    strcmp(j->mig_to, host) == 0 && p->token && p->token[0]) {
		/* an MPI rank's successor registers before it takes the state
		 * (a plain one only after the source let go), so the source's
		 * result decides where the job is (claim_ok_locked checked the
		 * token) */
		j->mig_succ_pid = p->pid;
		jobctx_free(&j->mig_succ_ctx);
		if (p->ctx && jobctx_copy(&j->mig_succ_ctx, p->ctx) < 0)
			log_warnx("job %d: out of memory for its context", j->id);
		job_fill_mpi(j, p);
		reg_event_locked(r, "job-registered", "job=%d host=%s pid=%d successor=1",
				 j->id, host, (int)p->pid);
		return;
	}
	job_fill(j, host, p);
	if (moved)
		reg_change_locked(r, REG_JOB_HOST, host, j->id);
	reg_event_locked(r, "job-registered", "job=%d host=%s pid=%d again=1",
			 j->id, host, (int)p->pid);
	if (j->status != JOB_MIGRATING)
		reg_job_set_status_locked(r, j, JOB_RUNNING, -1);
	persist_job_locked(r, j);
}

static int token_eq(const char *a, const char *b)
{
	return a && b && strlen(a) == REG_TOKEN_HEX && strlen(b) == REG_TOKEN_HEX &&
	       sodium_memcmp(a, b, REG_TOKEN_HEX) == 0;
}

/* Is p's claim of job id p->job from `host` honoured (see registry.h)? */
static int claim_ok_locked(struct registry *r, const char *host,
			   const struct reg_proc_info *p)
{
	struct reg_job *j = reg_job_locked(r, p->job);

	if (!j)
		return 0;
	if (p->token && p->token[0])
		/* a successor: the token of the job's last move, to this host
		 * (during the move, or after it when its agent restarted) */
		return j->mig && strcmp(j->mig_to, host) == 0 &&
		       (p->mig == 0 || p->mig == j->mig) &&
		       !(j->mig_done && j->mig_errno) &&  /* a failed move's
		                                           * token proves nothing */
		       token_eq(p->token, j->mig_token);
	return strcmp(j->host, host) == 0;   /* its own host announces it again */
}

int reg_move_check(struct registry *r, int job, uint64_t mig,
		   const char *host, char role, const char *token)
{
	struct reg_job *j;
	int rc;

	pthread_mutex_lock(&r->mu);
	j = reg_job_locked(r, job);
	if (!j || j->mig != mig || j->mig_done)
		rc = -ESRCH;
	else if (strcmp(role == 's' ? j->mig_from : j->mig_to, host) != 0 ||
		 !token_eq(token, j->mig_token))
		rc = -EPERM;
	else
		rc = 0;
	pthread_mutex_unlock(&r->mu);
	return rc;
}

int reg_job_on_host(struct registry *r, int job, const char *host)
{
	struct reg_job *j;
	int on;

	pthread_mutex_lock(&r->mu);
	j = reg_job_locked(r, job);
	on = j && strcmp(j->host, host) == 0;
	pthread_mutex_unlock(&r->mu);
	return on;
}

static int printable_word(const char *s, size_t max, int spaces)
{
	size_t n = strlen(s);

	if (n == 0 || n >= max)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || *s == 0x7f)
			if (!spaces || *s != ' ')
				return 0;
	return 1;
}

int reg_mpi_parse(const struct msg *m, struct reg_proc_info *p)
{
	const char *ns = msg_get(m, "mpi_ns"), *hosts = msg_get(m, "mpi_hosts");
	double rank, size;

	if (!ns)
		return 0;
	if (!printable_word(ns, REG_MPI_NS_MAX, 0) ||
	    msg_get_num(m, "mpi_rank", &rank) < 0 ||
	    msg_get_num(m, "mpi_size", &size) < 0 || rank != (int)rank ||
	    size != (int)size || rank < 0 || size < 1 || rank >= size ||
	    size > REG_MPI_SIZE_MAX ||
	    (hosts && !printable_word(hosts, REG_MPI_HOSTS_MAX + 1, 0)))
		return -1;
	p->mpi_ns = ns;
	p->mpi_rank = (int)rank;
	p->mpi_size = (int)size;
	p->mpi_hosts = hosts;
	return 1;
}

int reg_job_moved_to(struct registry *r, int job, const char *host)
{
	struct reg_job *j;
	int stale;

	pthread_mutex_lock(&r->mu);
	j = reg_job_locked(r, job);
	stale = j && j->mig && strcmp(j->mig_to, host) == 0 &&
		strcmp(j->host, host) != 0;
	pthread_mutex_unlock(&r->mu);
	return stale;
}

/* Does the comma-separated list name `word`? */
static int list_has(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, word, n) == 0 && (p[n] == ',' || p[n] == 0))
			return 1;
	return 0;
}

int reg_job_spawn_host_locked(struct registry *r, const struct reg_job *j,
			      const char *host, char *buf, size_t size,
			      char *err, size_t errlen)
{
	const struct reg_host *h = reg_host_find_locked(r, host);
	const char *addr = h ? reg_host_info_locked(h, "addr") : NULL;

	buf[0] = 0;
	if (!j->mpi_ns)
		return 0;
	if (!j->mpi_hosts) {
		if (err)
			snprintf(err, errlen, "job %d is an MPI rank that did not report "
				 "the hosts its job can spawn on (RESCHED_MPI_HOSTFILE)", j->id);
		return -EINVAL;
	}
	if (list_has(j->mpi_hosts, host))
		snprintf(buf, size, "%s", host);
	else if (addr && *addr && list_has(j->mpi_hosts, addr))
		snprintf(buf, size, "%s", addr);
	else {
		if (err)
			snprintf(err, errlen, "host %s%s%s%s is not in the hostfile of MPI "
				 "job %.64s: its rank cannot be spawned there", host,
				 addr ? " (" : "", addr ? addr : "", addr ? ")" : "",
				 j->mpi_ns);
		return -EINVAL;
	}
	return 0;
}

int reg_proc_register(struct registry *r, const char *host,
		      const struct reg_proc_info *p)
{
	struct reg_job *j;
	int id, fresh;
	char q[512];

	pthread_mutex_lock(&r->mu);
	if (!reg_host_find_locked(r, host)) {
		pthread_mutex_unlock(&r->mu);
		return -ENOENT;
	}
	id = r->next_job;
	if (p->job > 0 && claim_ok_locked(r, host, p))
		id = p->job;
	else if (p->job > 0)
		reg_event_locked(r, "job-id-refused", "host=%s job=%d pid=%d",
				 host, p->job, (int)p->pid);
	fresh = !reg_job_locked(r, id);
	j = job_slot_locked(r, id);
	if (!j) {
		pthread_mutex_unlock(&r->mu);
		return -ENOMEM;
	}
	if (id >= r->next_job) {
		r->next_job = id + 1;
		persist_counter_locked(r);
	}
	if (!fresh) {
		job_reregister_locked(r, j, host, p);
		pthread_mutex_unlock(&r->mu);
		return id;
	}
	job_fill(j, host, p);
	j->uid = p->uid;
	j->registered = util_now_s();
	j->status = JOB_RUNNING;
	history_load_locked(r, j);
	persist_job_locked(r, j);
	reg_event_locked(r, "job-registered", "job=%d host=%s pid=%d uid=%u prog=%s",
			 id, host, (int)p->pid, (unsigned)p->uid,
			 reg_qv(q, sizeof(q), p->prog ? p->prog : "?"));
	reg_change_locked(r, REG_JOB_ADDED, host, id);
	pthread_mutex_unlock(&r->mu);
	return id;
}

int reg_proc_update(struct registry *r, int job, int status, int code)
{
	struct reg_abort ab;
	struct reg_job *j;
	int aborted = 0;

	if (status != JOB_RUNNING && status != JOB_DONE && status != JOB_FAILED &&
	    status != JOB_MIGRATED)
		return -EINVAL;
	pthread_mutex_lock(&r->mu);
	j = reg_job_locked(r, job);
	if (!j) {
		pthread_mutex_unlock(&r->mu);
		return -ENOENT;
	}
	if (status != JOB_RUNNING && j->mig && !j->mig_done) {
		/* the process ended mid-move (an MPI job that died in its
		 * spawn, ...): the writer learns it now, not at the timeout */
		ab.job = j->id;
		ab.mig = j->mig;
		snprintf(ab.reason, sizeof(ab.reason), "the job ended (%s) during the move",
			 reg_job_status_name(status));
		mig_finish_locked(r, j, 0, EIO, ab.reason, NULL);
		aborted = 1;
	}
	reg_job_set_status_locked(r, j, status, status == JOB_RUNNING ? -1 : code);
	if (status != JOB_RUNNING)
		forget_job_record_locked(r, job);
	pthread_mutex_unlock(&r->mu);
	if (aborted)
		reg_abort_send(r, &ab, 1);
	return 0;
}

int reg_proc_exit(struct registry *r, int job, int status, int code)
{
	if (status != JOB_DONE && status != JOB_FAILED && status != JOB_MIGRATED)
		return -EINVAL;
	return reg_proc_update(r, job, status, code);
}

int reg_job_set_why(struct registry *r, int job, const char *text)
{
	struct reg_job *j;
	char *p = xstrdup(text);

	pthread_mutex_lock(&r->mu);
	j = reg_job_locked(r, job);
	if (!j) {
		pthread_mutex_unlock(&r->mu);
		free(p);
		return -ENOENT;
	}
	free(j->why);
	j->why = p;
	pthread_mutex_unlock(&r->mu);
	return 0;
}

/* ---- migrations ---------------------------------------------------------- */

int reg_moves_active_locked(struct registry *r)
{
	int n = 0;

	for (int i = 1; i <= r->job_max; i++)
		if (r->jobs[i] && r->jobs[i]->status == JOB_MIGRATING)
			n++;
	return n;
}

int reg_moves_last_hour_locked(struct registry *r, double now)
{
	size_t k = 0;

	for (size_t i = 0; i < r->nmove_times; i++)
		if (now - r->move_times[i] < 3600)
			r->move_times[k++] = r->move_times[i];
	r->nmove_times = k;
	return (int)k;
}

static void note_move_time_locked(struct registry *r, double now)
{
	reg_moves_last_hour_locked(r, now);
	if (r->nmove_times == r->move_cap) {
		size_t cap = r->move_cap ? r->move_cap * 2 : 64;
		double *n = realloc(r->move_times, cap * sizeof(*n));

		if (!n)
			return;
		r->move_times = n;
		r->move_cap = cap;
	}
	r->move_times[r->nmove_times++] = now;
}

static void set_result(struct reg_job *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_result(struct reg_job *j, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	free(j->result);
	j->result = strdup(line);
}

static void mig_history_locked(struct registry *r, struct reg_job *j,
			       int ok, const char *reason,
			       const struct reg_mig_timings *t)
{
	char line[1024], ts[40], q[512];
	struct reg_mig_timings z = { 0 };

	if (!t)
		t = &z;
	reg_format_time(j->mig_wall, ts, sizeof(ts));
	if (ok && t->mpi)
		snprintf(line, sizeof(line), "%s %s %s agree=%.3f spawn=%.3f merge=%.3f "
			 "transfer=%.3f restore=%.3f split=%.3f total=%.3f bytes=%llu ok",
			 ts, j->mig_from, j->mig_to, t->agree_s, t->spawn_s,
			 t->merge_s, t->transfer_s, t->restore_s, t->split_s,
			 util_now_s() - j->mig_started, (unsigned long long)t->bytes);
	else if (ok)
		snprintf(line, sizeof(line), "%s %s %s poll=%.3f connect=%.3f "
			 "transfer=%.3f restore=%.3f total=%.3f bytes=%llu ok",
			 ts, j->mig_from, j->mig_to, t->poll_s, t->connect_s,
			 t->transfer_s, t->restore_s,
			 util_now_s() - j->mig_started,
			 (unsigned long long)t->bytes);
	else
		snprintf(line, sizeof(line), "%s %s %s total=%.3f failed reason=%s",
			 ts, j->mig_from, j->mig_to,
			 util_now_s() - j->mig_started,
			 reg_qv(q, sizeof(q), reason));
	if (ok && j->mig_recovered)
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
			 " recovered=1");
	history_add(j, strdup(line));
	persist_history_locked(r, j);
}

/* End move j->mig: success moves the job; failure leaves it on its source. */
static void mig_finish_locked(struct registry *r, struct reg_job *j, int ok,
			      int err_no, const char *reason,
			      const struct reg_mig_timings *t)
{
	char ts[40], q[512];
	double secs = util_now_s() - j->mig_started;

	j->mig_done = 1;
	j->mig_errno = ok ? 0 : (err_no ? err_no : EIO);
	reg_format_time(util_wall_s(), ts, sizeof(ts));
	mig_history_locked(r, j, ok, reason, t);
	j->mig_recovered = 0;
	if (ok) {
		set_result(j, "%s ok from=%s to=%s secs=%.3f", ts, j->mig_from,
			   j->mig_to, secs);
		reg_event_locked(r, "migration-finished", "job=%d mig=%llu from=%s to=%s secs=%.3f",
				 j->id, (unsigned long long)j->mig, j->mig_from,
				 j->mig_to, secs);
		j->last_move = util_now_s();
		if (strcmp(j->host, j->mig_to) != 0) {
			snprintf(j->host, sizeof(j->host), "%s", j->mig_to);
			reg_change_locked(r, REG_JOB_HOST, j->host, j->id);
			if (j->mig_succ_pid) {  /* its successor registered already */
				j->pid = j->mig_succ_pid;
				if (j->mig_succ_ctx.out) {
					jobctx_free(&j->ctx);
					j->ctx = j->mig_succ_ctx;
					memset(&j->mig_succ_ctx, 0, sizeof(j->mig_succ_ctx));
				}
			}
			reg_job_set_status_locked(r, j, j->mig_succ_pid ? JOB_RUNNING
						  : JOB_MIGRATED, -1);
		} else {
			reg_job_set_status_locked(r, j, JOB_RUNNING, -1);
		}
	} else {
		reg_qv(q, sizeof(q), reason ? reason : strerror(j->mig_errno));
		set_result(j, "%s failed from=%s to=%s error=%s reason=%s", ts,
			   j->mig_from, j->mig_to, strerrorname_np(j->mig_errno)
			   ? strerrorname_np(j->mig_errno) : "EIO", q);
		reg_event_locked(r, "migration-failed", "job=%d mig=%llu from=%s to=%s reason=%s",
				 j->id, (unsigned long long)j->mig, j->mig_from,
				 j->mig_to, q);
		if (j->status == JOB_MIGRATING)
			reg_job_set_status_locked(r, j, JOB_RUNNING, -1);
	}
	j->mig_succ_pid = 0;
	jobctx_free(&j->mig_succ_ctx);
	persist_job_locked(r, j);
	pthread_cond_broadcast(&r->cv);
}

static size_t reg_mig_expire_locked(struct registry *r, double now,
				    struct reg_abort *ab, size_t max)
{
	size_t n = 0;

	for (int i = 1; i <= r->job_max && n < max; i++) {
		struct reg_job *j = r->jobs[i];

		if (!j || !j->mig || j->mig_done ||
		    now - j->mig_started < r->sched.migrate_timeout)
			continue;
		/* an MPI rank's successor that registered has the state: the
		 * source's result, due any moment, decides; failing the move now
		 * would lose the job's record if it succeeds.  Only a move
		 * twice over the limit is failed then. */
		if (j->mig_succ_pid &&
		    now - j->mig_started < 2 * r->sched.migrate_timeout)
			continue;
		ab[n].job = j->id;
		ab[n].mig = j->mig;
		snprintf(ab[n].reason, sizeof(ab[n].reason),
			 "timed out after %gs", r->sched.migrate_timeout);
		mig_finish_locked(r, j, 0, ETIMEDOUT, ab[n].reason, NULL);
		n++;
	}
	return n;
}

static void reg_abort_send(struct registry *r, const struct reg_abort *ab,
			   size_t n)
{
	struct reg_net_hooks h;

	if (!n)
		return;
	pthread_mutex_lock(&r->mu);
	h = r->net;
	pthread_mutex_unlock(&r->mu);
	for (size_t i = 0; i < n && h.abort; i++)
		h.abort(h.ctx, ab[i].job, ab[i].mig, ab[i].reason);
}

/* Checks of reg_migrate_request; 0 or -errno with err set. */
static int mig_check_locked(struct registry *r, struct reg_job *j,
			    const char *to, uid_t uid, char *err)
{
	char spawn[256];
	struct reg_host *d;

	if (uid != 0 && uid != j->uid) {
		set_err(err, "uid %u may not move job %d", (unsigned)uid, j->id);
		return -EACCES;
	}
	if (j->uid == 0 && !r->sched.allow_root) {
		set_err(err, "job %d runs as root and sched/allow_root is 0", j->id);
		return -EPERM;
	}
	if (j->status == JOB_MIGRATING) {
		set_err(err, "job %d is already migrating", j->id);
		return -EBUSY;
	}
	if (j->status != JOB_RUNNING) {
		set_err(err, "job %d is %s", j->id, reg_job_status_name(j->status));
		return -EINVAL;
	}
	d = reg_host_find_locked(r, to);
	if (!d) {
		set_err(err, "no host %s", to);
		return -ENOENT;
	}
	if (strcmp(to, j->host) == 0) {
		set_err(err, "job %d already runs on %s: nothing to do", j->id, to);
		return 1;                 /* not an error: the caller says so */
	}
	if (d->unavailable || d->draining) {
		set_err(err, "host %s is %s", to, d->unavailable ?
			"unavailable" : "draining");
		return -EHOSTUNREACH;
	}
	return reg_job_spawn_host_locked(r, j, to, spawn, sizeof(spawn), err,
					 REG_ERR_LEN);
}

/* Start the move under the lock; fills req (strings point into bufs). */
static void mig_begin_locked(struct registry *r, struct reg_job *j,
			     const char *to, uid_t uid, const char *by,
			     struct reg_migrate_req *req, char bufs[5][256])
{
	struct reg_host *s = reg_host_find_locked(r, j->host);
	struct reg_host *d = reg_host_find_locked(r, to);
	const char *sa = s ? reg_host_info_locked(s, "addr") : NULL;
	const char *da = d ? reg_host_info_locked(d, "addr") : NULL;
	char ts[40];

	unsigned char tok[REG_TOKEN_HEX / 2];

	j->mig = r->next_mig++;
	j->mig_done = 0;
	j->mig_errno = 0;
	j->mig_succ_pid = 0;
	j->mig_recovered = 0;
	randombytes_buf(tok, sizeof(tok));
	sodium_bin2hex(j->mig_token, sizeof(j->mig_token), tok, sizeof(tok));
	sodium_memzero(tok, sizeof(tok));
	j->mig_started = util_now_s();
	j->mig_wall = util_wall_s();
	snprintf(j->mig_from, sizeof(j->mig_from), "%s", j->host);
	snprintf(j->mig_to, sizeof(j->mig_to), "%s", to);
	reg_event_locked(r, "migration-requested", "job=%d mig=%llu from=%s to=%s by=%s uid=%u",
			 j->id, (unsigned long long)j->mig, j->mig_from, to,
			 by ? by : "user", (unsigned)uid);
	reg_job_set_status_locked(r, j, JOB_MIGRATING, -1);
	note_move_time_locked(r, j->mig_started);
	reg_format_time(j->mig_wall, ts, sizeof(ts));
	set_result(j, "%s migrating from=%s to=%s", ts, j->mig_from, to);
	snprintf(bufs[0], 256, "%s", j->mig_from);
	snprintf(bufs[1], 256, "%s", to);
	snprintf(bufs[2], 256, "%s", sa ? sa : "");
	snprintf(bufs[3], 256, "%s", da ? da : "");
	snprintf(bufs[4], 256, "%s", j->mig_token);
	if (j->mpi_ns)       /* checked by mig_check_locked */
		reg_job_spawn_host_locked(r, j, to, bufs[3], 256, NULL, 0);
	*req = (struct reg_migrate_req){ j->id, j->mig, bufs[0], bufs[1],
					 bufs[2], bufs[3], bufs[4], j->mpi_ns != NULL };
	persist_job_locked(r, j);
}

/* Wait for move `mig` of j; lock held.  0 or -errno. */
static int mig_wait_locked(struct registry *r, struct reg_job *j,
			   uint64_t mig, int (*interrupted)(void *),
			   void *ictx)
{
	while (j->mig == mig && !j->mig_done) {
		struct timespec ts;
		struct reg_abort ab[4];
		size_t n;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&r->cv, &r->mu, &ts);
		n = reg_mig_expire_locked(r, util_now_s(), ab, ARRAY_SIZE(ab));
		if (n) {
			pthread_mutex_unlock(&r->mu);
			reg_abort_send(r, ab, n);
			pthread_mutex_lock(&r->mu);
		}
		if (j->mig == mig && !j->mig_done && interrupted &&
		    interrupted(ictx))
			return -EINTR;
	}
	return j->mig == mig ? -j->mig_errno : 0;
}

int reg_migrate_request(struct registry *r, int job, const char *to,
			uid_t uid, const char *by, int wait,
			int (*interrupted)(void *), void *ictx, char *err)
{
	struct reg_migrate_req req;
	struct reg_net_hooks h;
	struct reg_job *j;
	char bufs[5][256], e[REG_ERR_LEN], q[REG_ERR_LEN + 8];
	uint64_t mig;
	int rc;

	pthread_mutex_lock(&r->mu);
	j = reg_job_locked(r, job);
	if (j && wait && j->status == JOB_MIGRATING && !j->mig_done &&
	    strcmp(j->mig_to, to) == 0 && (uid == 0 || uid == j->uid)) {
		/* The same move asked again — typically a write(2) the shell
		 * retried after a signal interrupted it: wait for its result
		 * rather than refuse it (EBUSY is for another destination). */
		rc = mig_wait_locked(r, j, j->mig, interrupted, ictx);
		if (rc < 0 && rc != -EINTR && j->result)
			set_err(err, "%s", j->result);
		pthread_mutex_unlock(&r->mu);
		return rc;
	}
	rc = j ? mig_check_locked(r, j, to, uid, e) : -ENOENT;
	if (!j)
		snprintf(e, sizeof(e), "no job %d", job);
	if (rc == 1) {
		/* `echo h2 > migrate` for a job on h2: done already, and the
		 * migrate file says so */
		char ts[40];

		reg_format_time(util_wall_s(), ts, sizeof(ts));
		set_result(j, "%s none: %s", ts, e);
		set_err(err, "%s", e);
		pthread_mutex_unlock(&r->mu);
		return 0;
	}
	if (rc < 0) {
		set_err(err, "%s", e);
		if (j && rc != -EACCES && rc != -EBUSY) {
			/* the owner asked for a move that cannot be: say why in
			 * migrate too (another move in flight keeps its line) */
			char ts[40];

			reg_format_time(util_wall_s(), ts, sizeof(ts));
			set_result(j, "%s refused to=%s error=%s reason=%s", ts, to,
				   strerrorname_np(-rc) ? strerrorname_np(-rc) : "EINVAL",
				   reg_qv(q, sizeof(q), e));
		}
		reg_event_locked(r, "write-rejected", "path=procs/%d/migrate uid=%u reason=%s",
				 job, (unsigned)uid, reg_qv(q, sizeof(q), e));
		pthread_mutex_unlock(&r->mu);
		return rc;
	}
	mig_begin_locked(r, j, to, uid, by, &req, bufs);
	mig = j->mig;
	h = r->net;
	pthread_mutex_unlock(&r->mu);

	rc = h.migrate ? h.migrate(h.ctx, &req) : -ENOTCONN;
	pthread_mutex_lock(&r->mu);
	if (rc < 0 && j->mig == mig && !j->mig_done) {
		snprintf(e, sizeof(e), "%s", h.migrate ? strerror(-rc) :
			 "no agent connection to carry the move");
		mig_finish_locked(r, j, 0, -rc, e, NULL);
		set_err(err, "%s", e);
	} else if (rc >= 0) {
		reg_event_locked(r, "migration-started", "job=%d mig=%llu from=%s to=%s",
				 job, (unsigned long long)mig, req.from, req.to);
		rc = wait ? mig_wait_locked(r, j, mig, interrupted, ictx) : 0;
		if (rc < 0 && rc != -EINTR && j->result)
			set_err(err, "%s", j->result);
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

int reg_migration_progress(struct registry *r, int job, uint64_t mig,
			   const char *phase, double t)
{
	struct reg_job *j;

	pthread_mutex_lock(&r->mu);
	j = reg_job_locked(r, job);
	if (!j || j->mig != mig || j->mig_done) {
		pthread_mutex_unlock(&r->mu);
		return -ESRCH;
	}
	log_debug("job %d mig %llu phase %s t=%.3f", job,
		  (unsigned long long)mig, phase, t);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

int reg_migration_result(struct registry *r, int job, uint64_t mig, int ok,
			 const char *reason, int err_no,
			 const struct reg_mig_timings *t)
{
	struct reg_job *j;

	pthread_mutex_lock(&r->mu);
	j = reg_job_locked(r, job);
	if (!j || j->mig != mig || j->mig_done) {
		pthread_mutex_unlock(&r->mu);
		return -ESRCH;
	}
	mig_finish_locked(r, j, ok, err_no, reason ? reason : "failed", t);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

/* ---- rules/ -------------------------------------------------------------- */

/* NAME.rule, with NAME in the protocol's key alphabet [a-z0-9_.-] since
 * rule files travel to agents as `f.NAME.rule=TEXT` (docs/MESSAGES.md). */
static int rule_name_ok(const char *name)
{
	size_t n = strlen(name);

	return reg_name_ok(name) && msg_word_ok(name) && n > 5 &&
	       strcmp(name + n - 5, ".rule") == 0;
}

static int rule_index(struct registry *r, const char *name)
{
	for (size_t i = 0; i < r->nrules; i++)
		if (strcmp(r->rules[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void rebuild_names_locked(struct registry *r)
{
	const char **n = calloc(r->nrules + 1, sizeof(*n));

	if (!n)
		return;
	for (size_t i = 0; i < r->nrules; i++)
		n[i] = r->rules[i].name;
	free(r->rule_names);
	r->rule_names = n;
}

static void reg_rules_free_all(struct registry *r)
{
	for (size_t i = 0; i < r->nrules; i++)
		free(r->rules[i].text);
	free(r->rules);
	free(r->rule_names);
	ruleset_free(r->rs);
	r->rules = NULL;
	r->rule_names = NULL;
	r->rs = NULL;
	r->nrules = 0;
}

/* Insert or replace rules/<name>, keeping the array sorted.  Takes text. */
static int rule_put_locked(struct registry *r, const char *name, char *text,
			   size_t len)
{
	int i = rule_index(r, name);
	size_t pos = 0;
	struct reg_rulefile *n;

	if (i >= 0) {
		free(r->rules[i].text);
		r->rules[i].text = text;
		r->rules[i].len = len;
		return 0;
	}
	n = realloc(r->rules, (r->nrules + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	r->rules = n;
	while (pos < r->nrules && strcmp(r->rules[pos].name, name) < 0)
		pos++;
	memmove(r->rules + pos + 1, r->rules + pos,
		(r->nrules - pos) * sizeof(*n));
	snprintf(r->rules[pos].name, REG_NAME_MAX, "%s", name);
	r->rules[pos].text = text;
	r->rules[pos].len = len;
	r->nrules++;
	rebuild_names_locked(r);
	return 0;
}

static void rule_del_locked(struct registry *r, int i)
{
	free(r->rules[i].text);
	memmove(r->rules + i, r->rules + i + 1,
		(r->nrules - (size_t)i - 1) * sizeof(*r->rules));
	r->nrules--;
	rebuild_names_locked(r);
}

/*
 * Parse the current files with `name` replaced by text (text NULL: name
 * removed; `rename_to` non-NULL: name shown as rename_to).  Returns the
 * set or NULL with errs filled.
 */
static struct ruleset *rules_try_locked(struct registry *r, const char *name,
					const char *text, size_t len,
					const char *rename_to,
					struct rule_errs *errs)
{
	size_t n = 0, cap = r->nrules + 1;
	const char **files = calloc(cap, sizeof(*files));
	const char **texts = calloc(cap, sizeof(*texts));
	size_t *lens = calloc(cap, sizeof(*lens));
	struct ruleset *rs = NULL;
	int replaced = 0;

	if (!files || !texts || !lens)
		goto out;
	for (size_t i = 0; i < r->nrules; i++) {
		int match = name && strcmp(r->rules[i].name, name) == 0;

		if (match && !text && !rename_to)
			continue;
		if (rename_to && !match && strcmp(r->rules[i].name, rename_to) == 0)
			continue;             /* replaced by the renamed file */
		files[n] = match && rename_to ? rename_to : r->rules[i].name;
		texts[n] = match && text ? text : r->rules[i].text;
		lens[n] = match && text ? len : r->rules[i].len;
		replaced |= match;
		n++;
	}
	if (name && text && !replaced) {
		files[n] = name;
		texts[n] = text;
		lens[n++] = len;
	}
	rs = ruleset_parse(files, texts, lens, n, errs);
	if (!rs && errs->count == 0)
		rule_errs_add(errs, name ? name : "rules", 0, NULL,
			      "rule set rejected");
out:
	free(files);
	free(texts);
	free(lens);
	return rs;
}

/* First error line of errs, for events and err buffers. */
static void first_error(const struct rule_errs *e, char *buf, size_t size)
{
	const char *t = e->text ? e->text : "invalid";
	size_t n = strcspn(t, "\n");

	snprintf(buf, size, "%.*s", (int)(n < size ? n : size - 1), t);
}

static void snapshot_locked(struct registry *r, struct reg_rules_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->names = calloc(r->nrules + 1, sizeof(char *));
	s->texts = calloc(r->nrules + 1, sizeof(char *));
	s->lens = calloc(r->nrules + 1, sizeof(size_t));
	if (!s->names || !s->texts || !s->lens)
		return;
	for (size_t i = 0; i < r->nrules; i++) {
		s->names[i] = strdup(r->rules[i].name);
		s->texts[i] = xmemdup(r->rules[i].text, r->rules[i].len);
		s->lens[i] = r->rules[i].len;
	}
	s->n = r->nrules;
}

void reg_rules_snapshot_free(struct reg_rules_snapshot *s)
{
	fs_state_free_files(s->names, s->texts, s->lens, s->n);
	memset(s, 0, sizeof(*s));
}

int reg_rules_snapshot(struct registry *r, struct reg_rules_snapshot *out)
{
	pthread_mutex_lock(&r->mu);
	snapshot_locked(r, out);
	pthread_mutex_unlock(&r->mu);
	return out->names ? 0 : -ENOMEM;
}

/* Swap in rs, note the change, then (unlocked) tell the network side. */
static void rules_commit_unlock(struct registry *r, struct ruleset *rs,
				const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void rules_commit_unlock(struct registry *r, struct ruleset *rs,
				const char *kind, const char *fmt, ...)
{
	struct reg_rules_snapshot snap;
	struct reg_net_hooks h = r->net;
	va_list ap;

	ruleset_free(r->rs);
	r->rs = rs;
	va_start(ap, fmt);
	event_vemit_locked(r, kind, fmt, ap);
	va_end(ap);
	reg_change_locked(r, REG_RULES, NULL, 0);
	if (h.ruleset_changed)
		snapshot_locked(r, &snap);
	pthread_mutex_unlock(&r->mu);
	if (h.ruleset_changed) {
		h.ruleset_changed(h.ctx, &snap);
		reg_rules_snapshot_free(&snap);
	}
}

static int rules_reject_unlock(struct registry *r, const char *name,
			       uid_t uid, struct rule_errs *errs, char *err)
{
	char e[REG_ERR_LEN], q[REG_ERR_LEN + 8];

	first_error(errs, e, sizeof(e));
	set_err(err, "%s", e);
	reg_event_locked(r, "rule-rejected", "file=%s uid=%u reason=%s", name,
			 (unsigned)uid, reg_qv(q, sizeof(q), e));
	pthread_mutex_unlock(&r->mu);
	rule_errs_clear(errs);
	return -EINVAL;
}

/* The state directory refused a change (full disk, I/O error): nothing
 * changed in memory either.  Lock held; released.  Returns -errno. */
static int disk_reject_unlock(struct registry *r, const char *path,
			      uid_t uid, int e, const char *why, char *err)
{
	char q[REG_ERR_LEN + 8];

	set_err(err, "%s", why);
	reg_event_locked(r, "write-rejected", "path=%s uid=%u reason=%s", path,
			 (unsigned)uid, reg_qv(q, sizeof(q), why));
	pthread_mutex_unlock(&r->mu);
	return -(e ? e : EIO);
}

static int name_reject(struct registry *r, const char *name, uid_t uid,
		       char *err)
{
	char q[256];

	set_err(err, "rule files are named NAME.rule, NAME of a-z 0-9 _ . -");
	reg_event(r, "rule-rejected", "file=%s uid=%u reason=\"rule files are named NAME.rule, NAME of a-z 0-9 _ . -\"",
		  reg_qv(q, sizeof(q), name), (unsigned)uid);
	return -EINVAL;
}

int reg_rule_check(struct registry *r, const char *name, const char *text,
		   size_t len, char *err)
{
	struct rule_errs errs = { 0, NULL, 0 };
	struct ruleset *rs;

	if (!rule_name_ok(name)) {
		set_err(err, "rule files are named NAME.rule, NAME of a-z 0-9 _ . -");
		return -EINVAL;
	}
	pthread_mutex_lock(&r->mu);
	rs = rules_try_locked(r, name, text, len, NULL, &errs);
	pthread_mutex_unlock(&r->mu);
	if (rs) {
		ruleset_free(rs);
		return 0;
	}
	first_error(&errs, err ? err : (char[REG_ERR_LEN]){ 0 }, REG_ERR_LEN);
	rule_errs_clear(&errs);
	return -EINVAL;
}

/* Where a text arriving in pieces (complete lines only) stands: the line
 * where its last record starts, the key line of that record's last field
 * (the one field a continuation line may still extend) and whether that
 * field's value is still empty.  Records are separated by blank lines; a
 * key line starts with `word:` at column 0, or anywhere on a record's
 * first line; '#' lines are comments (rules/rule_lex.h). */
struct text_pos {
	int rec_start, open_line, open_empty;
};

static void text_pos(const char *text, size_t len, struct text_pos *tp)
{
	int line = 0, in_rec = 0;

	memset(tp, 0, sizeof(*tp));
	for (size_t i = 0; i < len;) {
		const char *b = text + i, *e = memchr(b, '\n', len - i), *t;
		size_t k;

		if (!e)
			e = text + len;
		i = (size_t)(e - text) + 1;
		line++;
		for (t = b; t < e && strchr(" \t\r\f\v", *t); t++)
			;
		if (t == e) {
			in_rec = 0;
			continue;
		}
		if (*t == '#')
			continue;
		k = rl_key_prefix(t, e);
		if (!in_rec || (k && t == b)) {
			if (!in_rec)
				tp->rec_start = line;
			in_rec = 1;
			tp->open_line = line;
			t += k ? k + 1 : 0;
			while (t < e && strchr(" \t\r\f\v", *t))
				t++;
			tp->open_empty = k && t == e;
		} else {
			tp->open_empty = 0;       /* a continuation line */
		}
	}
}

/* Errors about a value of fixed form (a number, a name, a word): adding
 * " more" to it never makes it valid, so only an empty value that is
 * still open can be repaired. */
static const char *const fixed_value_errs[] = {
	"bad rule number", "bad rule name", "unknown rl_type", "bad operator",
	"non-numeric threshold", "bad script name", "unknown metric",
	"non-numeric setting", "unknown select",
	"unknown place", "too many parameters", "rule listed twice",
	"thresholds in the wrong order",
};
/* Errors no later line can undo: the key, the line or another record is
 * fixed once written. */
static const char *const final_errs[] = {
	"unknown key", "duplicate key", "rule key in a settings record",
	"settings key in a rule record", "key is only for",
	"line is not a 'key: value' line", "more than one settings record",
	"too many rules", "file contains a NUL byte", "file too large",
	"duplicate rule number", "duplicate rule name", "cycle among",
};

static int msg_starts(const char *msg, const char *const *tab, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strncmp(msg, tab[i], strlen(tab[i])) == 0)
			return 1;
	return 0;
}

/*
 * Could more lines make this error ("FILE:LINE: message[ near '...']") go
 * away?  Yes for a reference to a rule a later record may define, a key
 * missing from the last record, an empty value still open, and any other
 * error (an expression, rl_ruleNo against it) on the open field or in a
 * line after it.  No for a value of fixed form once it is not empty, for
 * an unknown, duplicate or misplaced key, a line that is not a key line,
 * and anything in a record a blank line has closed.
 */
static int error_repairable(const char *eline, const char *file,
			    const struct text_pos *tp)
{
	size_t fl = strlen(file);
	const char *msg;
	int line;

	if (strstr(eline, ": unknown rule reference") ||
	    strstr(eline, ": out of memory"))
		return 1;
	if (strncmp(eline, file, fl) != 0 || eline[fl] != ':')
		/* reported in another file: this text clashes with it */
		return !strstr(eline, ": duplicate rule") &&
		       !strstr(eline, ": cycle among");
	line = atoi(eline + fl + 1);
	msg = strchr(eline + fl + 1, ':');
	msg = msg ? msg + 1 + (msg[1] == ' ') : eline;
	if (msg_starts(msg, final_errs, ARRAY_SIZE(final_errs)))
		return 0;
	if (strncmp(msg, "missing required key", 20) == 0)
		return line >= tp->rec_start;
	if (msg_starts(msg, fixed_value_errs, ARRAY_SIZE(fixed_value_errs)))
		return line == tp->open_line && tp->open_empty;
	if (strncmp(msg, "rl_ruleNo", 9) == 0)   /* against the expression */
		return line >= tp->rec_start;
	return line >= tp->open_line;
}

int reg_text_incomplete(struct registry *r, int policy, const char *name,
			const char *text, size_t len, uid_t uid)
{
	struct rule_errs errs = { 0, NULL, 0 };
	struct text_pos tp;
	int repairable = 1;

	if (policy) {
		struct policy *p = policy_parse("policy", text, len, &errs);

		policy_free(p);
	} else {
		struct ruleset *rs;

		if (!rule_name_ok(name))
			return 0;
		pthread_mutex_lock(&r->mu);
		rs = rules_try_locked(r, name, text, len, NULL, &errs);
		pthread_mutex_unlock(&r->mu);
		ruleset_free(rs);
	}
	text_pos(text, len, &tp);
	for (char *l = errs.text; l && *l && repairable;) {
		char *nl = strchr(l, '\n');

		if (nl)
			*nl = '\0';
		repairable = error_repairable(l, policy ? "policy" : name, &tp);
		if (!repairable) {
			char q[REG_ERR_LEN + 64];

			if (policy)
				reg_event(r, "policy-rejected", "uid=%u reason=%s",
					  (unsigned)uid, reg_qv(q, sizeof(q), l));
			else
				reg_event(r, "rule-rejected",
					  "file=%s uid=%u reason=%s", name,
					  (unsigned)uid, reg_qv(q, sizeof(q), l));
		}
		l = nl ? nl + 1 : NULL;
	}
	rule_errs_clear(&errs);
	return repairable;
}

int reg_rule_write(struct registry *r, const char *name, const char *text,
		   size_t len, uid_t uid, char *err)
{
	struct rule_errs errs = { 0, NULL, 0 };
	struct ruleset *rs;
	char e[REG_ERR_LEN];
	char *copy;

	if (!rule_name_ok(name))
		return name_reject(r, name, uid, err);
	if (len > RULE_FILE_MAX) {
		set_err(err, "%s is larger than %d bytes", name, RULE_FILE_MAX);
		reg_write_rejected(r, name, uid, "file too large");
		return -EFBIG;
	}
	copy = xmemdup(text, len);
	if (!copy)
		return -ENOMEM;
	pthread_mutex_lock(&r->mu);
	rs = rules_try_locked(r, name, text, len, NULL, &errs);
	if (!rs) {
		free(copy);
		return rules_reject_unlock(r, name, uid, &errs, err);
	}
	if (r->state_dir &&
	    fs_state_save_rule(r->state_dir, name, text, len, e) < 0) {
		int en = errno;
		char path[REG_NAME_MAX + 8];

		ruleset_free(rs);
		free(copy);
		snprintf(path, sizeof(path), "rules/%s", name);
		return disk_reject_unlock(r, path, uid, en, e, err);
	}
	rule_put_locked(r, name, copy, len);
	rules_commit_unlock(r, rs, "rule-changed", "file=%s uid=%u rules=%zu",
			    name, (unsigned)uid, rs->n);
	return 0;
}

int reg_rule_remove(struct registry *r, const char *name, uid_t uid, char *err)
{
	struct rule_errs errs = { 0, NULL, 0 };
	struct ruleset *rs;
	char e[REG_ERR_LEN];
	int i;

	pthread_mutex_lock(&r->mu);
	i = rule_index(r, name);
	if (i < 0) {
		pthread_mutex_unlock(&r->mu);
		set_err(err, "no rule file %s", name);
		return -ENOENT;
	}
	rs = rules_try_locked(r, name, NULL, 0, NULL, &errs);
	if (!rs)
		return rules_reject_unlock(r, name, uid, &errs, err);
	if (r->state_dir && fs_state_remove_rule(r->state_dir, name, e) < 0) {
		int en = errno;
		char path[REG_NAME_MAX + 8];

		ruleset_free(rs);
		snprintf(path, sizeof(path), "rules/%s", name);
		return disk_reject_unlock(r, path, uid, en, e, err);
	}
	rule_del_locked(r, i);
	rules_commit_unlock(r, rs, "rule-changed", "file=%s removed=1 uid=%u rules=%zu",
			    name, (unsigned)uid, rs->n);
	return 0;
}

int reg_rule_rename(struct registry *r, const char *from, const char *to,
		    uid_t uid, char *err)
{
	struct rule_errs errs = { 0, NULL, 0 };
	struct ruleset *rs;
	char e[REG_ERR_LEN];
	int i, k;

	if (!rule_name_ok(to))
		return name_reject(r, to, uid, err);
	pthread_mutex_lock(&r->mu);
	i = rule_index(r, from);
	if (i < 0) {
		pthread_mutex_unlock(&r->mu);
		set_err(err, "no rule file %s", from);
		return -ENOENT;
	}
	if (strcmp(from, to) == 0) {
		pthread_mutex_unlock(&r->mu);
		return 0;
	}
	/* the set as it will be: `from` gone, `to` holding from's text
	 * (replacing to's, when there is one); validated before anything
	 * changes, here or on disk */
	rs = rules_try_locked(r, from, NULL, 0, to, &errs);
	if (!rs)
		return rules_reject_unlock(r, to, uid, &errs, err);
	/* rename(2) replaces the target atomically, on disk as here */
	if (r->state_dir && fs_state_rename_rule(r->state_dir, from, to, e) < 0) {
		int en = errno;
		char path[REG_NAME_MAX + 8];

		ruleset_free(rs);
		snprintf(path, sizeof(path), "rules/%s", to);
		return disk_reject_unlock(r, path, uid, en, e, err);
	}
	k = rule_index(r, to);
	{
		char *t = r->rules[i].text;
		size_t len = r->rules[i].len;

		r->rules[i].text = NULL;
		rule_del_locked(r, i);
		rule_put_locked(r, to, t, len);   /* replaces to's text */
	}
	if (k >= 0)
		rules_commit_unlock(r, rs, "rule-changed", "file=%s renamed_from=%s "
				    "replaced=1 uid=%u", to, from, (unsigned)uid);
	else
	rules_commit_unlock(r, rs, "rule-changed", "file=%s renamed_from=%s uid=%u",
			    to, from, (unsigned)uid);
	return 0;
}

const char *const *reg_rule_names_locked(struct registry *r, size_t *n)
{
	*n = r->nrules;
	return r->rule_names;
}

const char *reg_rule_text_locked(struct registry *r, const char *name,
				 size_t *len)
{
	int i = rule_index(r, name);

	if (i < 0)
		return NULL;
	if (len)
		*len = r->rules[i].len;
	return r->rules[i].text;
}

const struct ruleset *reg_ruleset_locked(struct registry *r) { return r->rs; }
const struct policy *reg_policy_locked(struct registry *r) { return r->policy; }

const char *reg_policy_text_locked(struct registry *r, size_t *len)
{
	if (len)
		*len = r->policy_len;
	return r->policy_text ? r->policy_text : "";
}

/* Load the files of `dir` into memory (and the state dir).  A missing
 * default directory is not an error: the registry starts with no rules. */
static int reg_rules_seed(struct registry *r, const char *dir, char *err)
{
	char **names, **texts;
	size_t *lens, n;
	char e[REG_ERR_LEN];

	if (!dir || fs_state_read_rules(dir, &names, &texts, &lens, &n, e) < 0) {
		log_info("no default rules%s%s", dir ? ": " : "", dir ? e : "");
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (r->state_dir && fs_state_save_rule(r->state_dir, names[i],
				texts[i], lens[i], err) < 0) {
			fs_state_free_files(names, texts, lens, n);
			return -1;
		}
	}
	fs_state_free_files(names, texts, lens, n);
	if (!r->state_dir)
		return reg_rules_adopt(r, dir, err);
	log_info("seeded %zu rule files from %s", n, dir);
	return 0;
}

/* Read *.rule of dir into r->rules. */
static int reg_rules_adopt(struct registry *r, const char *dir, char *err)
{
	char **names, **texts;
	size_t *lens, n;

	if (fs_state_read_rules(dir, &names, &texts, &lens, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		rule_put_locked(r, names[i], texts[i], lens[i]);
		texts[i] = NULL;
	}
	fs_state_free_files(names, texts, lens, n);
	rebuild_names_locked(r);
	return 0;
}

static int reg_rules_load(struct registry *r, char *err)
{
	struct rule_errs errs = { 0, NULL, 0 };
	char d[4096];

	if (r->state_dir) {
		snprintf(d, sizeof(d), "%s/rules", r->state_dir);
		if (reg_rules_adopt(r, d, err) < 0)
			return -1;
	}
	rebuild_names_locked(r);
	r->rs = rules_try_locked(r, NULL, NULL, 0, NULL, &errs);
	if (!r->rs) {
		char e[REG_ERR_LEN];

		first_error(&errs, e, sizeof(e));
		log_warnx("the stored rule set does not parse (%s); agents get "
			  "no rules until rules/ is fixed", e);
	}
	rule_errs_clear(&errs);
	return 0;
}

/* ---- policy -------------------------------------------------------------- */

int reg_policy_write(struct registry *r, const char *text, size_t len,
		     uid_t uid, char *err)
{
	struct rule_errs errs = { 0, NULL, 0 };
	struct policy *p;
	char e[REG_ERR_LEN], q[REG_ERR_LEN + 8];
	char *copy;

	if (len > RULE_FILE_MAX) {
		set_err(err, "policy is larger than %d bytes", RULE_FILE_MAX);
		reg_write_rejected(r, "policy", uid, "file too large");
		return -EFBIG;
	}
	p = policy_parse("policy", text, len, &errs);
	if (!p) {
		if (!errs.count)
			rule_errs_add(&errs, "policy", 0, NULL, "policy rejected");
		first_error(&errs, e, sizeof(e));
		rule_errs_clear(&errs);
		set_err(err, "%s", e);
		reg_event(r, "policy-rejected", "uid=%u reason=%s",
			  (unsigned)uid, reg_qv(q, sizeof(q), e));
		return -EINVAL;
	}
	copy = xmemdup(text, len);
	if (!copy) {
		policy_free(p);
		return -ENOMEM;
	}
	pthread_mutex_lock(&r->mu);
	if (r->state_dir && fs_state_write(r->state_dir, "policy", text, len, e) < 0) {
		int en = errno;

		policy_free(p);
		free(copy);
		return disk_reject_unlock(r, "policy", uid, en, e, err);
	}
	policy_free(r->policy);
	r->policy = p;
	free(r->policy_text);
	r->policy_text = copy;
	r->policy_len = len;
	reg_event_locked(r, "policy-changed", "uid=%u select=%s place=%s",
			 (unsigned)uid, policy_select_name(p->select),
			 policy_place_name(p->place));
	pthread_mutex_unlock(&r->mu);
	return 0;
}

/* ---- persistence --------------------------------------------------------- */

/*
 * DIR/jobs/ID: one msg line per live job — where it runs, whose it is and
 * the move in flight with its token — so that after a restart the job's
 * own host (and a successor of that move) can claim the id again.  A
 * finished job's record is removed.
 */
static struct msg *job_record(const struct reg_job *j)
{
	struct msg *m = msg_new("job");
	char key[32];
	int bad = !m;

	if (m) {
		bad |= msg_setf(m, "id", "%d", j->id) < 0;
		bad |= msg_set(m, "host", j->host) < 0;
		bad |= msg_setf(m, "uid", "%u", (unsigned)j->uid) < 0;
		bad |= msg_setf(m, "pid", "%d", (int)j->pid) < 0;
		bad |= msg_set(m, "prog", j->prog ? j->prog : "") < 0;
		bad |= msg_set(m, "cwd", j->cwd ? j->cwd : "") < 0;
		bad |= msg_setf(m, "start", "%.0f", j->start_wall) < 0;
		bad |= msg_setf(m, "argc", "%d", j->argc) < 0;
		for (int i = 0; i < j->argc && !bad; i++) {
			snprintf(key, sizeof(key), "arg%d", i);
			bad |= msg_set(m, key, j->argv[i]) < 0;
		}
		if (j->mpi_ns) {
			bad |= msg_set(m, "mpi_ns", j->mpi_ns) < 0;
			bad |= msg_setf(m, "mpi_rank", "%d", j->mpi_rank) < 0;
			bad |= msg_setf(m, "mpi_size", "%d", j->mpi_size) < 0;
			if (j->mpi_hosts)
				bad |= msg_set(m, "mpi_hosts", j->mpi_hosts) < 0;
		}
		bad |= !bad && jobctx_to_msg(&j->ctx, m) < 0;
		if (j->mig && !j->mig_done) {
			bad |= msg_setf(m, "mig", "%llu", (unsigned long long)j->mig) < 0;
			bad |= msg_set(m, "from", j->mig_from) < 0;
			bad |= msg_set(m, "to", j->mig_to) < 0;
			bad |= msg_set(m, "token", j->mig_token) < 0;
			bad |= msg_setf(m, "wall", "%.3f", j->mig_wall) < 0;
		}
	}
	if (bad) {
		msg_free(m);
		return NULL;
	}
	return m;
}

static void persist_job_locked(struct registry *r, const struct reg_job *j)
{
	char rel[64], err[REG_ERR_LEN];
	struct msg *m;
	size_t len;
	char *line;

	if (!r->state_dir)
		return;
	if (!(m = job_record(j)) || !(line = msg_encode(m, &len))) {
		log_warnx("state: job %d: cannot encode its record", j->id);
		msg_free(m);
		return;
	}
	msg_free(m);
	snprintf(rel, sizeof(rel), "jobs/%d", j->id);
	if (fs_state_write(r->state_dir, rel, line, len, err) < 0)
		log_warnx("%s", err);
	free(line);
}

static void forget_job_record_locked(struct registry *r, int id)
{
	char p[4096];

	if (!r->state_dir)
		return;
	snprintf(p, sizeof(p), "%s/jobs/%d", r->state_dir, id);
	if (unlink(p) < 0 && errno != ENOENT)
		log_warnx("state: %s: %s", p, strerror(errno));
}

/* One record back: the job is `lost` until its host announces it again. */
static void job_from_record(struct registry *r, int id, const struct msg *m)
{
	const char *host = msg_get(m, "host"), *tok = msg_get(m, "token");
	const char **argv = NULL;
	struct reg_proc_info pi = { 0 };
	struct jobctx ctx = JOBCTX_INIT;
	double uid, pid = 0, argc = 0, v;
	struct reg_job *j;
	char key[32], err[JOBCTX_ERR_LEN];

	if (!host || !reg_host_name_ok(host) || msg_get_num(m, "uid", &uid) < 0 ||
	    uid < 0 || uid > 4294967295.0) {
		log_warnx("state: jobs/%d: not a job record; ignored", id);
		return;
	}
	msg_get_num(m, "pid", &pid);
	if (msg_get_num(m, "argc", &argc) < 0 || argc < 0 || argc > 1024)
		argc = 0;
	if (argc > 0 && !(argv = calloc((size_t)argc + 1, sizeof(*argv))))
		return;
	for (int i = 0; i < (int)argc; i++) {
		snprintf(key, sizeof(key), "arg%d", i);
		argv[i] = msg_get(m, key) ? msg_get(m, key) : "";
	}
	pi.pid = (pid_t)pid;
	pi.prog = msg_get(m, "prog");
	pi.cwd = msg_get(m, "cwd");
	pi.argv = argv;
	pi.argc = (int)argc;
	if (msg_get_num(m, "start", &v) == 0)
		pi.start_wall = v;
	reg_mpi_parse(m, &pi);
	if (jobctx_from_msg(&ctx, m, err, sizeof(err)) == 0)
		pi.ctx = &ctx;
	else
		log_warnx("state: jobs/%d: %s: its context is not kept", id, err);
	j = job_slot_locked(r, id);
	if (j)
		job_fill(j, host, &pi);
	jobctx_free(&ctx);
	free(argv);
	if (!j)
		return;
	j->uid = (uid_t)uid;
	j->registered = util_now_s();
	j->prev_status = JOB_RUNNING;
	j->status = JOB_LOST;
	history_load_locked(r, j);
	if (msg_get_num(m, "mig", &v) == 0 && v >= 1 && tok &&
	    strlen(tok) == REG_TOKEN_HEX && msg_get(m, "from") && msg_get(m, "to")) {
		j->mig = (uint64_t)v;
		j->mig_done = 0;
		j->mig_recovered = 1;
		j->mig_started = util_now_s();   /* the timeout runs from now */
		j->mig_wall = msg_get_num(m, "wall", &v) == 0 ? v : util_wall_s();
		snprintf(j->mig_from, sizeof(j->mig_from), "%s", msg_get(m, "from"));
		snprintf(j->mig_to, sizeof(j->mig_to), "%s", msg_get(m, "to"));
		snprintf(j->mig_token, sizeof(j->mig_token), "%s", tok);
		if (j->mig >= r->next_mig)
			r->next_mig = j->mig + 1;
	}
	if (id >= r->next_job)
		r->next_job = id + 1;
}

static void jobs_load(struct registry *r)
{
	char d[4096], rel[300], err[REG_ERR_LEN];
	struct dirent *e;
	DIR *dir;

	snprintf(d, sizeof(d), "%s/jobs", r->state_dir);
	if (mkdir(d, 0700) < 0 && errno != EEXIST) {
		log_warnx("state: mkdir %s: %s", d, strerror(errno));
		return;
	}
	if (!(dir = opendir(d)))
		return;
	while ((e = readdir(dir))) {
		char *end, *text;
		long id = strtol(e->d_name, &end, 10);
		struct msg *m;
		size_t len;
		int missing;

		if (e->d_name[0] < '1' || e->d_name[0] > '9' || *end || id > INT32_MAX)
			continue;           /* ., .., temporary files */
		snprintf(rel, sizeof(rel), "jobs/%s", e->d_name);
		if (!(text = fs_state_read(r->state_dir, rel, &len, &missing, err)))
			continue;
		while (len && text[len - 1] == '\n')
			len--;
		m = msg_decode(text, len, err, sizeof(err));
		if (m && strcmp(msg_type(m), "job") == 0)
			job_from_record(r, (int)id, m);
		else
			log_warnx("state: %s: %s; ignored", rel, m ? "not a job record" : err);
		msg_free(m);
		free(text);
	}
	closedir(dir);
}

/* Write s to DIR/sched.  0, or -errno with err (nothing changed). */
static int reg_persist_sched_locked(struct registry *r,
				    const struct reg_sched *s, char *err)
{
	char buf[1024], v[64];
	size_t n, o = 0;
	const char *const *names = reg_sched_names(&n);

	if (!r->state_dir)
		return 0;
	for (size_t i = 0; i < n; i++) {
		reg_sched_format(s, names[i], v, sizeof(v));
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s %s",
				      names[i], v);
	}
	if (fs_state_write(r->state_dir, "sched", buf, o, err) < 0)
		return -(errno ? errno : EIO);
	return 0;
}

/* DIR/sched: `name value` lines, each value parsed as a write is. */
static void load_sched_text(struct registry *r, char *text)
{
	char *save = NULL, e[REG_ERR_LEN];

	for (char *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(l, ' ');

		if (sp)
			*sp = '\0';
		if (!sp || !reg_sched_known(l) ||
		    reg_sched_parse(&r->sched, l, sp + 1, strlen(sp + 1), e) < 0) {
			if (sp)
				*sp = ' ';
			log_warnx("state: ignoring sched line '%s'", l);
		}
	}
}

static int reg_persist_load(struct registry *r, char *err)
{
	struct rule_errs errs = { 0, NULL, 0 };
	size_t len;
	int missing;
	uint64_t u;
	char *t;

	t = fs_state_read(r->state_dir, "sched", &len, &missing, err);
	if (t)
		load_sched_text(r, t);
	free(t);
	t = fs_state_read(r->state_dir, "next_job", &len, &missing, err);
	if (t) {
		t[strcspn(t, "\n")] = '\0';
		if (util_parse_u64(t, &u) == 0 && u >= 1 && u < 10000000)
			r->next_job = (int)u;
	}
	free(t);
	t = fs_state_read(r->state_dir, "policy", &len, &missing, err);
	if (!t)
		return missing ? 0 : -1;
	r->policy = policy_parse("policy", t, len, &errs);
	if (!r->policy)
		log_warnx("state: stored policy does not parse; using defaults");
	rule_errs_clear(&errs);
	r->policy_text = t;
	r->policy_len = len;
	return 0;
}
