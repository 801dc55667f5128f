/*
 * fs_net.c — reschedfs's agent listener: one network thread, one libevent
 * loop, every agent message dispatched into the registry.  See fs_net.h.
 */
#include "fs/fs_net.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <sodium.h>

#include "common/conn.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/util.h"

#define ARGC_MAX 1024             /* job_register arguments we accept */
#define BYE_FLUSH_MS 1000         /* a refused peer gets this long to read */

struct local_id {                 /* agent's local id -> registry job id */
	long local;
	int job;
	struct local_id *next;
};

struct peer {
	struct fs_net *n;
	struct conn *c;               /* NULL once closed */
	char host[REG_NAME_MAX];      /* "" until hello */
	int refused;                  /* told bye: nothing it says counts */
	struct local_id *locals;      /* owned */
	struct peer *prev, *next;     /* all peers (loop thread) */
	struct peer *hnext;           /* host table chain (protected by mu) */
};

struct pmig {                     /* a move between prepare and its result */
	int job;
	uint64_t mig;
	char from[REG_NAME_MAX], to[REG_NAME_MAX];
	char to_addr[128];
	char token[REG_TOKEN_HEX + 1];
	struct pmig *next;
};

enum req_kind { REQ_MIGRATE, REQ_ABORT, REQ_SILENT };
struct net_req {                  /* hook -> loop, owned by the queue */
	enum req_kind kind;
	int job;
	uint64_t mig;
	char from[REG_NAME_MAX], to[REG_NAME_MAX];
	char to_addr[128];
	char token[REG_TOKEN_HEX + 1];
	char reason[256];
	int mpi;                      /* an MPI rank: no prepare (reg_migrate_req) */
	struct net_req *next;
};

struct fs_net {
	struct registry *reg;
	struct auth_key *key;         /* NULL: loopback only */
	struct event_base *base;
	struct conn_listener *lst;
	struct event *wake_ev;
	int wake_fd;                  /* eventfd: hooks and stop -> loop */
	pthread_t thr;
	struct peer *peers;           /* loop thread */
	struct pmig *migs;            /* loop thread */
	struct msg *rules_msg;        /* loop thread: the ruleset message
	                               * every hello gets, built once per
	                               * rule change; NULL until needed */
	size_t nconnected;            /* protected by mu */
	/* protected by mu */
	pthread_mutex_t mu;
	struct peer *tab[FS_NET_HASH_SIZE];
	struct net_req *reqs, **reqs_tail;
	int rules_dirty;
	int stop;
};

static struct fs_net *g_net;

/* ---- the host -> peer table ------------------------------------------------ */

static size_t host_hash(const char *s)
{
	size_t h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h % FS_NET_HASH_SIZE;
}

/* mu held. */
static struct peer *table_find(struct fs_net *n, const char *host)
{
	struct peer *p;

	for (p = n->tab[host_hash(host)]; p; p = p->hnext)
		if (strcmp(p->host, host) == 0)
			return p;
	return NULL;
}

/* mu held.  Unlink p if it is in the table. */
static void table_remove(struct fs_net *n, struct peer *p)
{
	struct peer **pp;

	if (!p->host[0])
		return;
	for (pp = &n->tab[host_hash(p->host)]; *pp; pp = &(*pp)->hnext)
		if (*pp == p) {
			*pp = p->hnext;
			n->nconnected--;
			return;
		}
}

size_t fs_net_connected(void)
{
	size_t k;

	if (!g_net)
		return 0;
	pthread_mutex_lock(&g_net->mu);
	k = g_net->nconnected;
	pthread_mutex_unlock(&g_net->mu);
	return k;
}

/* Loop thread: the connected peer of `host`, or NULL.  The loop is the
 * only writer of the table, so reading it here needs the lock only for
 * the hooks' sake. */
static struct peer *peer_of(struct fs_net *n, const char *host)
{
	struct peer *p;

	pthread_mutex_lock(&n->mu);
	p = table_find(n, host);
	pthread_mutex_unlock(&n->mu);
	return p;
}

/* ---- peers --------------------------------------------------------------- */

static void peer_free(struct peer *p)
{
	struct fs_net *n = p->n;
	struct local_id *l, *ln;

	pthread_mutex_lock(&n->mu);
	table_remove(n, p);
	pthread_mutex_unlock(&n->mu);
	if (p->host[0])
		reg_host_disconnected(n->reg, p->host);
	if (p->prev)
		p->prev->next = p->next;
	else
		n->peers = p->next;
	if (p->next)
		p->next->prev = p->prev;
	for (l = p->locals; l; l = ln) {
		ln = l->next;
		free(l);
	}
	free(p);
}

/* Drop a peer whose conn we close ourselves (no on_close then). */
static void peer_drop(struct peer *p, const char *why)
{
	log_warnx("%s%s%s: %s", conn_peer(p->c), p->host[0] ? " " : "",
		  p->host, why);
	conn_close(p->c);
	p->c = NULL;
	peer_free(p);
}

static void send_or_warn(struct peer *p, const struct msg *m)
{
	if (p->c && conn_send(p->c, m) < 0)
		log_warnx("%s: cannot send %s", p->host, msg_type(m));
}

/* Tell the peer why it is going (`bye reason=WHY [detail=TEXT]`) and end
 * the connection once that is written. */
static void say_bye(struct peer *p, const char *why, const char *detail)
{
	struct msg *m = msg_new("bye");

	p->refused = 1;
	if (m && msg_set(m, "reason", why) == 0 &&
	    (!detail || msg_set(m, "detail", detail) == 0))
		send_or_warn(p, m);
	msg_free(m);
	conn_close_flush(p->c, BYE_FLUSH_MS);
}

/* Node restriction: a peer said something it may not say.  It goes, with
 * an agent-refused event, and nothing more it sent counts. */
static void peer_refuse(struct peer *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void peer_refuse(struct peer *p, const char *fmt, ...)
{
	char why[512], q[600];
	va_list ap;

	if (p->refused || !p->c)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_warnx("%s%s%s: refused: %s", conn_peer(p->c), p->host[0] ? " " : "",
		  p->host, why);
	reg_event(p->n->reg, "agent-refused", "host=%s peer=%s reason=%s",
		  p->host[0] ? p->host : "-", conn_peer(p->c), reg_qv(q, sizeof(q), why));
	say_bye(p, "refused", why);
}

/* ---- registry -> agent ------------------------------------------------------ */

/* ruleset f.FILE=TEXT ... from a snapshot; NULL on no memory. */
static struct msg *ruleset_msg(const struct reg_rules_snapshot *s)
{
	struct msg *m = msg_new("ruleset");
	char key[MSG_WORD_MAX];

	for (size_t i = 0; m && i < s->n; i++) {
		char *t = strndup(s->texts[i], s->lens[i]);

		snprintf(key, sizeof(key), "f.%s", s->names[i]);
		if (!t || msg_set(m, key, t) < 0)
			log_warnx("rule file %s cannot travel (name or size)",
				  s->names[i]);
		free(t);
	}
	return m;
}

/* The current ruleset message (owned by n), rebuilt only after a rule
 * change: 10,000 hellos must not each snapshot and copy every rule file. */
static const struct msg *current_ruleset(struct fs_net *n)
{
	struct reg_rules_snapshot s;

	if (n->rules_msg)
		return n->rules_msg;
	if (reg_rules_snapshot(n->reg, &s) < 0)
		return NULL;
	n->rules_msg = ruleset_msg(&s);
	reg_rules_snapshot_free(&s);
	return n->rules_msg;
}

static void send_ruleset(struct fs_net *n, struct peer *only)
{
	const struct msg *m = current_ruleset(n);

	if (!m)
		return;
	if (only)
		send_or_warn(only, m);
	else
		for (struct peer *p = n->peers; p; p = p->next)
			if (p->host[0])
				send_or_warn(p, m);
}

/* ---- agent -> registry: hosts ---------------------------------------------- */

static int need_keys(struct peer *p, const struct msg *m, const char *const *keys)
{
	for (; *keys; keys++)
		if (!msg_get(m, *keys)) {
			char why[128];

			snprintf(why, sizeof(why), "%s without %s", msg_type(m), *keys);
			peer_refuse(p, "%s", why);
			return -1;
		}
	return 0;
}

/* A new connection for a host that is still connected: the old one is
 * stale (the agent restarted); close it quietly. */
static void claim_host(struct fs_net *n, struct peer *p, const char *name)
{
	struct peer *old = peer_of(n, name);

	if (old && old != p) {
		/* p proved host `name`'s credential (on_hello checked): the
		 * older connection goes, told why, so that it does not come
		 * back to take the host again. */
		log_info("%s: replaces the older connection of %s (%s)",
			 conn_peer(p->c), name, old->c ? conn_peer(old->c) : "?");
		reg_event(n->reg, "agent-replaced", "host=%s old=%s new=%s", name,
			  old->c ? conn_peer(old->c) : "-", conn_peer(p->c));
		pthread_mutex_lock(&n->mu);
		table_remove(n, old);
		pthread_mutex_unlock(&n->mu);
		old->host[0] = '\0';     /* not "disconnected": p holds it */
		if (old->c)
			say_bye(old, "replaced", "another agent proved this host's credential");
		else
			peer_free(old);
	}
	if (old == p)
		return;
	pthread_mutex_lock(&n->mu);
	snprintf(p->host, sizeof(p->host), "%s", name);
	p->hnext = n->tab[host_hash(name)];
	n->tab[host_hash(name)] = p;
	n->nconnected++;
	pthread_mutex_unlock(&n->mu);
}

static void on_hello(struct peer *p, const struct msg *m)
{
	static const char *const req[] = { "name", "interval", NULL };
	const char *name = msg_get(m, "name");
	size_t cnt = msg_count(m), k = 0;
	struct reg_kv *kv;
	struct msg *w;
	double interval;
	int rc;

	const char *cred = conn_auth_host(p->c);

	if (need_keys(p, m, req) < 0)
		return;
	if (!reg_host_name_ok(name)) {
		peer_refuse(p, "hello for '%.80s': a host name is 1-63 characters of "
			    "A-Z a-z 0-9 . _ - (not starting with . or -)", name);
		return;
	}
	if (cred && strcmp(cred, name) != 0) {
		peer_refuse(p, "hello for host %s from a connection that proved host %s's key",
			    name, cred);
		return;
	}
	if (p->host[0] && strcmp(p->host, name) != 0) {
		peer_refuse(p, "hello for host %s on a connection of host %s", name, p->host);
		return;
	}
	if (msg_get_num(m, "interval", &interval) < 0 ||
	    !(interval >= REG_INTERVAL_MIN && interval <= REG_INTERVAL_MAX)) {
		peer_refuse(p, "hello with interval %.40s (must be %g-%g seconds)",
			    msg_get(m, "interval"), REG_INTERVAL_MIN, REG_INTERVAL_MAX);
		return;
	}
	kv = calloc(cnt, sizeof(*kv));
	if (!kv) {
		peer_drop(p, "out of memory");
		return;
	}
	for (size_t i = 0; i < cnt; i++)
		if (strcmp(msg_key(m, i), "name") != 0)
			kv[k++] = (struct reg_kv){ msg_key(m, i), msg_val(m, i) };
	rc = reg_host_hello(p->n->reg, name, kv, k, interval);
	free(kv);
	if (rc == -ENOSPC) {
		peer_refuse(p, "the registry holds %d hosts already", REG_HOSTS_MAX);
		return;
	}
	if (rc < 0) {
		peer_refuse(p, "hello refused by the registry: %s", strerror(-rc));
		return;
	}
	claim_host(p->n, p, name);
	w = msg_new("welcome");
	if (w) {
		msg_set(w, "version", "1");
		msg_set(w, "host", name);
		send_or_warn(p, w);
		msg_free(w);
	}
	send_ruleset(p->n, p);
}

/* r.NAME=STATE/VALUE; 0 or -1. */
static int parse_verdict(const char *name, const char *v, struct reg_verdict *out)
{
	const char *slash = strchr(v, '/');
	char st[32];

	if (!slash || (size_t)(slash - v) >= sizeof(st))
		return -1;
	memcpy(st, v, (size_t)(slash - v));
	st[slash - v] = '\0';
	out->name = name;
	out->state = rs_state_parse(st);
	if (out->state < RS_FREE || out->state > RS_ERROR)
		return -1;
	if (util_parse_double(slash + 1, &out->value) < 0)
		out->value = NAN;
	return 0;
}

static void on_update(struct peer *p, const struct msg *m)
{
	static const char *const req[] = { "state", NULL };
	size_t cnt = msg_count(m), nm = 0, nv = 0;
	struct reg_metric *ms = calloc(cnt + 1, sizeof(*ms));
	struct reg_verdict *vs = calloc(cnt + 1, sizeof(*vs));
	double interval = 0;
	int state;

	if (!ms || !vs || need_keys(p, m, req) < 0)
		goto out;
	state = rs_state_parse(msg_get(m, "state"));
	if (!p->host[0] || state < RS_FREE || state > RS_OVERLOADED) {
		peer_refuse(p, "%s", p->host[0] ? "update with a bad state" : "update before hello");
		goto out;
	}
	if (msg_get_num(m, "interval", &interval) == 0 &&
	    !(interval >= REG_INTERVAL_MIN && interval <= REG_INTERVAL_MAX)) {
		peer_refuse(p, "update with interval %.40s (must be %g-%g seconds)",
			    msg_get(m, "interval"), REG_INTERVAL_MIN, REG_INTERVAL_MAX);
		goto out;
	}
	for (size_t i = 0; i < cnt; i++) {
		const char *k = msg_key(m, i), *v = msg_val(m, i);

		if (strncmp(k, "m.", 2) == 0 && util_parse_double(v, &ms[nm].value) == 0)
			ms[nm++].name = k + 2;
		else if (strncmp(k, "r.", 2) == 0 && parse_verdict(k + 2, v, &vs[nv]) == 0)
			nv++;
	}
	if (reg_host_update(p->n->reg, p->host, ms, nm, vs, nv, state, interval) < 0)
		log_warnx("%s: update refused by the registry", p->host);
out:
	free(ms);
	free(vs);
}

static void on_ruleset_result(struct peer *p, const struct msg *m)
{
	const char *ok = msg_get(m, "ok"), *why = msg_get(m, "reason");
	char q[300];

	if (ok && strcmp(ok, "1") == 0)
		return;
	reg_event(p->n->reg, "ruleset-refused", "host=%s reason=%s", p->host,
		  reg_qv(q, sizeof(q), why ? why : "unknown"));
}

/* ---- agent -> registry: jobs and moves ---------------------------------------- */

static int job_of(struct peer *p, const struct msg *m)
{
	double v;

	if (msg_get_num(m, "job", &v) == 0 && v >= 1 && v <= 1e7)
		return (int)v;
	if (msg_get_num(m, "local", &v) == 0)
		for (struct local_id *l = p->locals; l; l = l->next)
			if (l->local == (long)v)
				return l->job;
	return -1;
}

static void remember_local(struct peer *p, long local, int job)
{
	struct local_id *l = malloc(sizeof(*l));

	if (!l)
		return;
	*l = (struct local_id){ local, job, p->locals };
	p->locals = l;
}

static void reply_job_id(struct peer *p, const char *local, int job)
{
	struct msg *r = msg_new("job_id");

	if (!r)
		return;
	msg_set(r, "local", local);
	msg_setf(r, "job", "%d", job);
	send_or_warn(p, r);
	msg_free(r);
}

/* The job's context from a job_register (docs/MESSAGES.md): the job's host
 * read it from the kernel.  A part over its bound was left out by the
 * agent, which says so in ctx_dropped: one job-context event. */
static void note_dropped(struct peer *p, int job, const struct msg *m)
{
	const char *why = msg_get(m, "ctx_dropped");
	char q[600];

	if (why && why[0])
		reg_event(p->n->reg, "job-context", "job=%d host=%s dropped=%s", job,
			  p->host, reg_qv(q, sizeof(q), why));
}

static void on_job_register(struct peer *p, const struct msg *m)
{
	static const char *const req[] = { "local", "pid", "uid", "prog", "argc", NULL };
	struct reg_proc_info pi = { 0 };
	struct jobctx ctx = JOBCTX_INIT;
	double pid, uid, argc, v;
	const char **argv = NULL;
	char key[32], err[JOBCTX_ERR_LEN];
	int job;

	if (need_keys(p, m, req) < 0)
		return;
	if (!p->host[0] || msg_get_num(m, "pid", &pid) < 0 ||
	    msg_get_num(m, "uid", &uid) < 0 || msg_get_num(m, "argc", &argc) < 0 ||
	    argc < 0 || argc > ARGC_MAX || !(argv = calloc((size_t)argc + 1, sizeof(*argv)))) {
		peer_refuse(p, "bad job_register");
		return;
	}
	if (jobctx_from_msg(&ctx, m, err, sizeof(err)) < 0) {
		free(argv);
		peer_refuse(p, "bad job_register: %s", err);
		return;
	}
	for (int i = 0; i < (int)argc; i++) {
		snprintf(key, sizeof(key), "arg%d", i);
		argv[i] = msg_get(m, key) ? msg_get(m, key) : "";
	}
	pi.pid = (pid_t)pid;
	pi.uid = (uid_t)uid;
	pi.prog = msg_get(m, "prog");
	pi.cwd = msg_get(m, "cwd");
	pi.argv = argv;
	pi.argc = (int)argc;
	pi.schema = msg_get(m, "schema");
	pi.ctx = &ctx;
	if (msg_get_num(m, "start", &v) == 0)
		pi.start_wall = v;
	if (msg_get_num(m, "job", &v) == 0 && v >= 1 && v <= INT32_MAX)
		pi.job = (int)v;
	if (msg_get_num(m, "mig", &v) == 0 && v >= 1)
		pi.mig = (uint64_t)v;
	pi.token = msg_get(m, "token");
	if (reg_mpi_parse(m, &pi) < 0)
		/* the process's own description of itself: it loses only its
		 * MPI identity (and so its moves), not the agent's connection */
		log_warnx("%s: pid %d: malformed MPI keys ignored (mpi_ns=%.60s)",
			  p->host, (int)pid, msg_get(m, "mpi_ns"));
	job = reg_proc_register(p->n->reg, p->host, &pi);
	free(argv);
	jobctx_free(&ctx);
	if (job < 0) {
		log_warnx("%s: job_register refused: %s", p->host, strerror(-job));
		return;
	}
	note_dropped(p, job, m);
	remember_local(p, strtol(msg_get(m, "local"), NULL, 10), job);
	reply_job_id(p, msg_get(m, "local"), job);
}

static void on_job_status(struct peer *p, const struct msg *m)
{
	const char *st = msg_get(m, "status");
	int job = job_of(p, m), status;
	double code = 0;

	if (!st || job < 0) {
		peer_refuse(p, "job_status without a known job or status");
		return;
	}
	if (!reg_job_on_host(p->n->reg, job, p->host)) {
		if (reg_job_moved_to(p->n->reg, job, p->host)) {
			/* the successor of a move that failed, gone: the job is
			 * still its source's */
			log_info("%s: job %d's successor ended (%s); the job stays on "
				 "its source", p->host, job, st);
			return;
		}
		peer_refuse(p, "job_status for job %d, which does not run on %s",
			    job, p->host);
		return;
	}
	msg_get_num(m, "code", &code);
	status = strcmp(st, "done") == 0 ? JOB_DONE
		 : strcmp(st, "failed") == 0 ? JOB_FAILED
		 : strcmp(st, "migrated") == 0 ? JOB_MIGRATED : JOB_RUNNING;
	if (status == JOB_RUNNING)
		reg_proc_update(p->n->reg, job, status, (int)code);
	else
		reg_proc_exit(p->n->reg, job, status, (int)code);
}

static struct pmig *pmig_find(struct fs_net *n, int job, uint64_t mig, int unlink)
{
	for (struct pmig **pp = &n->migs; *pp; pp = &(*pp)->next)
		if ((*pp)->job == job && (*pp)->mig == mig) {
			struct pmig *x = *pp;

			if (unlink)
				*pp = x->next;
			return x;
		}
	return NULL;
}

static int mig_ids(const struct msg *m, int *job, uint64_t *mig)
{
	double j, g;

	if (msg_get_num(m, "job", &j) < 0 || msg_get_num(m, "mig", &g) < 0 ||
	    j < 1 || j > INT32_MAX || g < 1)
		return -1;
	*job = (int)j;
	*mig = (uint64_t)g;
	return 0;
}

/* Node restriction for mig_*: p must be the source ('s') or destination
 * ('d') of the move in flight and carry its token.  1 go on; 0 drop the
 * message (a move already over: a late message, not a lie); -1 refused. */
static int move_of(struct peer *p, const struct msg *m, const char *roles,
		   int *job, uint64_t *mig)
{
	int rc = -EPERM;

	if (mig_ids(m, job, mig) < 0) {
		peer_refuse(p, "%s without a job and mig", msg_type(m));
		return -1;
	}
	for (const char *r = roles; *r; r++) {
		rc = reg_move_check(p->n->reg, *job, *mig, p->host, *r,
				    msg_get(m, "token"));
		if (rc != -EPERM)
			break;
	}
	if (rc == -ESRCH)
		return 0;
	if (rc < 0) {
		peer_refuse(p, "%s for job %d mig %llu: %s is not its %s or the "
			    "token is wrong", msg_type(m), *job,
			    (unsigned long long)*mig, p->host,
			    strcmp(roles, "d") == 0 ? "destination" :
			    strcmp(roles, "s") == 0 ? "source" : "source or destination");
		return -1;
	}
	return 1;
}

/* migrate job mig token dest, to x's source agent: with port, to=ADDR:PORT
 * (where the successor listens); without, host=ENTRY (an MPI rank spawns
 * its successor on ENTRY, the job's own name for the host).  A source
 * agent that is gone fails the move. */
static void send_migrate(struct fs_net *n, struct pmig *x, const char *port)
{
	struct peer *src = peer_of(n, x->from);
	struct msg *cmd;

	if (!src || !(cmd = msg_new("migrate"))) {
		reg_migration_result(n->reg, x->job, x->mig, 0, "source agent not connected",
				     EHOSTUNREACH, NULL);
		free(pmig_find(n, x->job, x->mig, 1));
		return;
	}
	msg_setf(cmd, "job", "%d", x->job);
	msg_setf(cmd, "mig", "%llu", (unsigned long long)x->mig);
	if (port)
		msg_setf(cmd, "to", "%s:%s", x->to_addr, port);
	else
		msg_set(cmd, "host", x->to_addr);
	msg_set(cmd, "token", x->token);
	msg_set(cmd, "dest", x->to);
	send_or_warn(src, cmd);
	msg_free(cmd);
}

/* Destination ready: tell the source where to send the state. */
static void on_mig_ready(struct peer *p, const struct msg *m)
{
	const char *port = msg_get(m, "port");
	struct pmig *x;
	uint64_t mig;
	int job;

	if (move_of(p, m, "d", &job, &mig) <= 0)
		return;
	if (!port) {
		peer_refuse(p, "mig_ready without a port");
		return;
	}
	if (!(x = pmig_find(p->n, job, mig, 0)))
		return;               /* aborted meanwhile */
	send_migrate(p->n, x, port);
}

static void on_mig_progress(struct peer *p, const struct msg *m)
{
	const char *phase = msg_get(m, "phase");
	uint64_t mig;
	double t = 0;
	int job;

	if (move_of(p, m, "s", &job, &mig) <= 0)
		return;
	if (!phase) {
		peer_refuse(p, "mig_progress without a phase");
		return;
	}
	msg_get_num(m, "t", &t);
	reg_migration_progress(p->n->reg, job, mig, phase, t);
}

static void on_mig_result(struct peer *p, const struct msg *m)
{
	struct reg_mig_timings t = { 0 };
	double ok = 0, b = 0;
	uint64_t mig;
	int job;

	if (msg_get_num(m, "ok", &ok) < 0 || (ok != 0 && ok != 1)) {
		peer_refuse(p, "mig_result without ok=0|1");
		return;
	}
	/* success is the source's to report; either side can fail a move */
	if (move_of(p, m, ok == 1 ? "s" : "sd", &job, &mig) <= 0)
		return;
	msg_get_num(m, "poll_s", &t.poll_s);
	msg_get_num(m, "connect_s", &t.connect_s);
	msg_get_num(m, "transfer_s", &t.transfer_s);
	msg_get_num(m, "restore_s", &t.restore_s);
	if (msg_get_num(m, "bytes", &b) == 0 && b >= 0)
		t.bytes = (uint64_t)b;
	t.mpi = msg_get_num(m, "agree_s", &t.agree_s) == 0;   /* an MPI rank's */
	msg_get_num(m, "spawn_s", &t.spawn_s);
	msg_get_num(m, "merge_s", &t.merge_s);
	msg_get_num(m, "split_s", &t.split_s);
	reg_migration_result(p->n->reg, job, mig, ok == 1,
			     msg_get(m, "reason") ? msg_get(m, "reason") : "",
			     0, &t);
	free(pmig_find(p->n, job, mig, 1));
}

/* ---- dispatch -------------------------------------------------------------- */

struct handler {
	const char *type;
	void (*fn)(struct peer *, const struct msg *);
};

static const struct handler handlers[] = {   /* sorted by type */
	{ "hello", on_hello },
	{ "job_register", on_job_register },
	{ "job_status", on_job_status },
	{ "mig_progress", on_mig_progress },
	{ "mig_ready", on_mig_ready },
	{ "mig_result", on_mig_result },
	{ "ruleset_result", on_ruleset_result },
	{ "update", on_update },
};

static int handler_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct handler *)elem)->type);
}

static void on_msg(struct conn *c, struct msg *m, void *arg)
{
	struct peer *p = arg;
	const struct handler *h = bsearch(msg_type(m), handlers, ARRAY_SIZE(handlers),
					  sizeof(handlers[0]), handler_cmp);

	if (p->refused) {
		/* said bye: the rest of what it sent does not count */
	} else if (!h) {
		char why[MSG_WORD_MAX + 32];

		snprintf(why, sizeof(why), "unknown message '%s'", msg_type(m));
		peer_refuse(p, "%s", why);
	} else if (!p->host[0] && strcmp(h->type, "hello") != 0) {
		peer_refuse(p, "message before hello");
	} else {
		h->fn(p, m);
	}
	msg_free(m);
}

static void on_close(struct conn *c, const char *reason, void *arg)
{
	struct peer *p = arg;

	if (p->host[0])
		log_info("%s (%s): disconnected: %s", p->host, conn_peer(c), reason);
	p->c = NULL;
	peer_free(p);
}

static void on_accept(struct conn_listener *l, evutil_socket_t fd,
		      const char *peer, void *arg)
{
	struct fs_net *n = arg;
	struct peer *p = calloc(1, sizeof(*p));

	if (!p) {
		close(fd);
		return;
	}
	p->n = n;
	p->c = conn_accept(l, fd, on_msg, on_close, p);
	if (!p->c) {
		log_warnx("%s: cannot set up the connection", peer);
		free(p);
		return;
	}
	p->next = n->peers;
	if (n->peers)
		n->peers->prev = p;
	n->peers = p;
}

/* ---- hooks (any thread) and their loop side ------------------------------------ */

static void wake(struct fs_net *n)
{
	uint64_t one = 1;

	(void)!write(n->wake_fd, &one, sizeof(one));
}

static void queue_req(struct fs_net *n, struct net_req *r)
{
	pthread_mutex_lock(&n->mu);
	*n->reqs_tail = r;
	n->reqs_tail = &r->next;
	pthread_mutex_unlock(&n->mu);
	wake(n);
}

static void hook_ruleset_changed(void *ctx, const struct reg_rules_snapshot *snap)
{
	struct fs_net *n = ctx;

	pthread_mutex_lock(&n->mu);
	n->rules_dirty = 1;           /* the loop takes a fresh snapshot */
	pthread_mutex_unlock(&n->mu);
	wake(n);
}

static int hook_migrate(void *ctx, const struct reg_migrate_req *rq)
{
	struct fs_net *n = ctx;
	struct net_req *r;
	int both;

	pthread_mutex_lock(&n->mu);
	both = table_find(n, rq->from) && table_find(n, rq->to);
	pthread_mutex_unlock(&n->mu);
	if (!both)
		return -EHOSTUNREACH;
	if (!rq->to_addr || !rq->to_addr[0])
		return -EHOSTUNREACH;
	if (!(r = calloc(1, sizeof(*r))))
		return -ENOMEM;
	r->kind = REQ_MIGRATE;
	r->job = rq->job;
	r->mig = rq->mig;
	snprintf(r->from, sizeof(r->from), "%s", rq->from);
	snprintf(r->to, sizeof(r->to), "%s", rq->to);
	snprintf(r->to_addr, sizeof(r->to_addr), "%s", rq->to_addr);
	snprintf(r->token, sizeof(r->token), "%s", rq->token ? rq->token : "");
	r->mpi = rq->mpi;
	queue_req(n, r);
	return 0;
}

static void hook_abort(void *ctx, int job, uint64_t mig, const char *reason)
{
	struct fs_net *n = ctx;
	struct net_req *r = calloc(1, sizeof(*r));

	if (!r)
		return;
	r->kind = REQ_ABORT;
	r->job = job;
	r->mig = mig;
	snprintf(r->reason, sizeof(r->reason), "%s", reason ? reason : "");
	queue_req(n, r);
}

static void hook_host_silent(void *ctx, const char *host)
{
	struct fs_net *n = ctx;
	struct net_req *r = calloc(1, sizeof(*r));

	if (!r)
		return;
	r->kind = REQ_SILENT;
	snprintf(r->from, sizeof(r->from), "%s", host);
	queue_req(n, r);
}

/* A connected host whose lease ran out: its agent sent nothing for three
 * intervals although its connection is up.  End the connection; a live
 * agent reconnects and says hello again. */
static void drop_silent(struct fs_net *n, const char *host)
{
	struct peer *p = peer_of(n, host);

	if (p && p->c && !p->refused)
		peer_drop(p, "silent for 3 intervals on an open connection: closing it");
}

/* prepare job mig token prog cwd argc arg0... uid [schema] and the job's
 * context (envc env0... umask groups limits stdout stderr), to the
 * destination. */
static struct msg *prepare_msg(struct fs_net *n, const struct pmig *x)
{
	struct msg *m = msg_new("prepare");
	struct reg_job *j;
	char key[32];

	if (!m)
		return NULL;
	msg_setf(m, "job", "%d", x->job);
	msg_setf(m, "mig", "%llu", (unsigned long long)x->mig);
	msg_set(m, "token", x->token);
	reg_lock(n->reg);
	j = reg_job_locked(n->reg, x->job);
	if (j) {
		msg_set(m, "prog", j->prog ? j->prog : "");
		msg_set(m, "cwd", j->cwd ? j->cwd : "/");
		msg_setf(m, "argc", "%d", j->argc);
		for (int i = 0; i < j->argc; i++) {
			snprintf(key, sizeof(key), "arg%d", i);
			msg_set(m, key, j->argv[i]);
		}
		msg_setf(m, "uid", "%u", (unsigned)j->uid);
		if (j->uid == 0)      /* only when sched/allow_root let it move */
			msg_set(m, "allow_root", "1");
		if (j->schema)        /* the destination picks its arch's binary */
			msg_set(m, "schema", j->schema);
		if (jobctx_to_msg(&j->ctx, m) < 0)   /* what the successor runs with */
			log_warnx("job %d: its context does not fit in prepare", x->job);
	}
	reg_unlock(n->reg);
	if (!j) {
		msg_free(m);
		return NULL;
	}
	return m;
}

static void start_move(struct fs_net *n, const struct net_req *r)
{
	struct pmig *x = calloc(1, sizeof(*x));
	struct peer *dst = peer_of(n, r->to);
	struct msg *m;

	if (!x) {
		reg_migration_result(n->reg, r->job, r->mig, 0, "out of memory", ENOMEM, NULL);
		return;
	}
	*x = (struct pmig){ .job = r->job, .mig = r->mig };
	snprintf(x->from, sizeof(x->from), "%s", r->from);
	snprintf(x->to, sizeof(x->to), "%s", r->to);
	snprintf(x->to_addr, sizeof(x->to_addr), "%s", r->to_addr);
	snprintf(x->token, sizeof(x->token), "%s", r->token);
	if (r->mpi) {
		/* the rank's job spawns the successor: straight to the source */
		x->next = n->migs;
		n->migs = x;
		send_migrate(n, x, NULL);
		return;
	}
	m = prepare_msg(n, x);
	if (!dst || !m) {
		reg_migration_result(n->reg, r->job, r->mig, 0,
				     dst ? "job vanished" : "destination agent not connected",
				     dst ? ENOENT : EHOSTUNREACH, NULL);
		free(x);
		msg_free(m);
		return;
	}
	x->next = n->migs;
	n->migs = x;
	send_or_warn(dst, m);
	msg_free(m);
}

static void abort_move(struct fs_net *n, const struct net_req *r)
{
	struct pmig *x = pmig_find(n, r->job, r->mig, 1);
	struct msg *m;

	if (!x)
		return;
	m = msg_new("abort");
	if (m) {
		msg_setf(m, "job", "%d", r->job);
		msg_setf(m, "mig", "%llu", (unsigned long long)r->mig);
		msg_set(m, "reason", r->reason);
		for (int i = 0; i < 2; i++) {
			struct peer *p = peer_of(n, i ? x->to : x->from);

			if (p)
				send_or_warn(p, m);
		}
		msg_free(m);
	}
	free(x);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct fs_net *n = arg;
	struct net_req *r, *next;
	uint64_t v;
	int rules, stop;

	(void)!read(fd, &v, sizeof(v));
	pthread_mutex_lock(&n->mu);
	r = n->reqs;
	n->reqs = NULL;
	n->reqs_tail = &n->reqs;
	rules = n->rules_dirty;
	n->rules_dirty = 0;
	stop = n->stop;
	pthread_mutex_unlock(&n->mu);
	if (rules) {
		msg_free(n->rules_msg);
		n->rules_msg = NULL;
		send_ruleset(n, NULL);
	}
	for (; r; r = next) {
		next = r->next;
		if (r->kind == REQ_MIGRATE)
			start_move(n, r);
		else if (r->kind == REQ_SILENT)
			drop_silent(n, r->from);
		else
			abort_move(n, r);
		free(r);
	}
	if (stop)
		event_base_loopbreak(n->base);
}

/* ---- life cycle ------------------------------------------------------------ */

static void *net_main(void *arg)
{
	struct fs_net *n = arg;

	event_base_dispatch(n->base);
	return NULL;
}

/* 10,000 agents need 10,000 descriptors: raise the soft limit to the hard. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int net_setup(struct fs_net *n, const struct fs_config *cfg, char *err)
{
	char e[CONN_ERR_LEN];

	if (auth_init() < 0) {
		snprintf(err, REG_ERR_LEN, "libsodium: cannot initialise");
		return -1;
	}
	if (cfg->key_file && !(n->key = auth_key_load(cfg->key_file, e, sizeof(e)))) {
		snprintf(err, REG_ERR_LEN, "%s", e);
		return -1;
	}
	if (n->key && n->key->host[0]) {
		snprintf(err, REG_ERR_LEN, "%s is host %s's key; the registry takes the "
			 "cluster key (resched-key new)", cfg->key_file, n->key->host);
		return -1;
	}
	if (cfg->shared_key && !n->key) {
		snprintf(err, REG_ERR_LEN, "--shared-key needs --key FILE (the cluster key)");
		return -1;
	}
	n->base = event_base_new();
	n->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!n->base || n->wake_fd < 0 ||
	    !(n->wake_ev = event_new(n->base, n->wake_fd, EV_READ | EV_PERSIST, on_wake, n)) ||
	    event_add(n->wake_ev, NULL) < 0) {
		snprintf(err, REG_ERR_LEN, "event loop: %s", strerror(errno));
		return -1;
	}
	n->lst = conn_listen(n->base, cfg->listen ? cfg->listen : FS_DEFAULT_LISTEN,
			     n->key, on_accept, n, e, sizeof(e));
	if (!n->lst) {
		snprintf(err, REG_ERR_LEN, "%s", e);
		return -1;
	}
	conn_listener_set_shared_key(n->lst, cfg->shared_key);
	return 0;
}

static void net_free(struct fs_net *n)
{
	struct net_req *r, *rn;
	struct pmig *x, *xn;

	while (n->peers) {
		conn_close(n->peers->c);
		n->peers->c = NULL;
		peer_free(n->peers);
	}
	for (r = n->reqs; r; r = rn) {
		rn = r->next;
		free(r);
	}
	for (x = n->migs; x; x = xn) {
		xn = x->next;
		free(x);
	}
	conn_listener_free(n->lst);
	msg_free(n->rules_msg);
	if (n->wake_ev)
		event_free(n->wake_ev);
	if (n->base)
		event_base_free(n->base);
	if (n->wake_fd >= 0)
		close(n->wake_fd);
	auth_key_free(n->key);
	pthread_mutex_destroy(&n->mu);
	free(n);
}

int fs_net_start(struct registry *r, const struct fs_config *cfg, char *err)
{
	struct fs_net *n = calloc(1, sizeof(*n));
	struct reg_net_hooks h;

	if (!n) {
		snprintf(err, REG_ERR_LEN, "out of memory");
		return -1;
	}
	n->reg = r;
	n->wake_fd = -1;
	n->reqs_tail = &n->reqs;
	pthread_mutex_init(&n->mu, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if (net_setup(n, cfg, err) < 0 || pthread_create(&n->thr, NULL, net_main, n) != 0) {
		if (!err[0])
			snprintf(err, REG_ERR_LEN, "cannot start the network thread");
		net_free(n);
		return -1;
	}
	g_net = n;
	h = (struct reg_net_hooks){ .ctx = n, .ruleset_changed = hook_ruleset_changed,
				    .migrate = hook_migrate, .abort = hook_abort,
				    .host_silent = hook_host_silent };
	reg_set_net_hooks(r, &h);
	log_info("listening for agents on %s%s", cfg->listen ? cfg->listen : FS_DEFAULT_LISTEN,
		 !n->key ? " (no key: root of this machine only)" :
		 cfg->shared_key ? " (host keys, or the cluster key itself: --shared-key)" :
		 " (host keys required)");
	return 0;
}

void fs_net_stop(void)
{
	struct fs_net *n = g_net;
	struct reg_net_hooks none = { 0 };

	if (!n)
		return;
	reg_set_net_hooks(n->reg, &none);
	pthread_mutex_lock(&n->mu);
	n->stop = 1;
	pthread_mutex_unlock(&n->mu);
	wake(n);
	pthread_join(n->thr, NULL);
	g_net = NULL;
	net_free(n);
}
