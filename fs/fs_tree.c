/* fs_tree.c — see fs_tree.h.  Path-based: every call resolves its path
 * into a struct node, then looks the node up in the model under the lock. */
#include "fs/fs_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "fs/fs_ll.h"
#include "fs/fs_state.h"
#include "fs/fs_value.h"
#include "rules/rules.h"

#define FS_PENDING_MAX 64

enum nk {
	NK_ROOT, NK_README, NK_HOSTS, NK_HOST, NK_HOST_INFO, NK_HOST_STATE,
	NK_HOST_SEEN, NK_HOST_LEASE, NK_HOST_METRICS, NK_HOST_METRIC,
	NK_HOST_RULES, NK_HOST_RULE, NK_HOST_PROCS, NK_HOST_PROC, NK_PROCS,
	NK_PROC, NK_PROC_HOST, NK_PROC_PID, NK_PROC_STATUS, NK_PROC_SCHEMA,
	NK_PROC_MIGRATE, NK_PROC_WHY, NK_PROC_HISTORY, NK_PROC_MPI, NK_PROC_OUTPUT,
	NK_RULES, NK_RULE,
	NK_POLICY, NK_SCHED, NK_SCHED_FILE, NK_EVENTS,
};

struct node {
	enum nk k;
	char host[REG_NAME_MAX];
	char name[256];               /* metric, rule, rule file, sched name */
	int job;
};

struct fh {
	struct node n;
	int flags;                    /* open(2) flags */
	char *snap;                   /* rendered content, reads */
	size_t snaplen;
	char *wbuf;                   /* written content, writes */
	size_t wlen;
	int dirty, applied, bad, created;
	int stage_fd;                 /* rules/policy with --state: scratch
					 file holding the text (fs_state),
					 -1 none */
	int stage_err;                /* errno the stage failed with, for
					 flush */
	uint64_t evpos;               /* events: next line to read */
	struct fuse_pollhandle *ph;   /* events: protected by tree->mu */
	struct fh *pnext;             /* list of events handles */
	struct fh *anext, *aprev;     /* every open handle: tree->mu */
};

struct fs_tree {
	struct registry *reg;
	struct fs_events *events;
	struct fs_notify *notify;
	pthread_mutex_t mu;           /* protects pending[] and polls */
	char pending[FS_PENDING_MAX][REG_NAME_MAX]; /* rules/ files created,
						       not yet written */
	struct fh *polls;             /* open events handles */
	struct fh *open_fhs;          /* every open handle, freed at teardown
					 if its release never came */
	int down;                     /* atomic: shutting down */
};

/* ---- helpers ------------------------------------------------------------- */

static struct fs_tree *tree(void)
{
	return fs_ll_context()->private_data;
}

static uid_t caller_uid(void) { return fs_ll_context()->uid; }
static pid_t caller_pid(void) { return fs_ll_context()->pid; }

static int is_notifier(struct fs_tree *t)
{
	return fs_notify_is_self(t->notify, caller_pid());
}

/* Stop waiting: the request was interrupted or the daemon is ending. */
static int intr(void *arg)
{
	struct fs_tree *t = arg;

	return fs_ll_interrupted() || (t && __atomic_load_n(&t->down,
							    __ATOMIC_ACQUIRE));
}

static int parse_job(const char *s)
{
	uint64_t v;

	if (util_parse_u64(s, &v) < 0 || v == 0 || v > 10000000 ||
	    (s[0] == '0'))
		return 0;
	return (int)v;
}

struct name_kind {
	const char *name;
	enum nk k;
};

static const struct name_kind root_names[] = {
	{ "README", NK_README }, { "events", NK_EVENTS }, { "hosts", NK_HOSTS },
	{ "policy", NK_POLICY }, { "procs", NK_PROCS }, { "rules", NK_RULES },
	{ "sched", NK_SCHED },
};
static const struct name_kind host_names[] = {
	{ "info", NK_HOST_INFO }, { "lease", NK_HOST_LEASE },
	{ "metrics", NK_HOST_METRICS }, { "procs", NK_HOST_PROCS },
	{ "rules", NK_HOST_RULES }, { "seen", NK_HOST_SEEN },
	{ "state", NK_HOST_STATE },
};
static const struct name_kind proc_names[] = {
	{ "history", NK_PROC_HISTORY }, { "host", NK_PROC_HOST },
	{ "migrate", NK_PROC_MIGRATE }, { "mpi", NK_PROC_MPI },
	{ "output", NK_PROC_OUTPUT },
	{ "pid", NK_PROC_PID },
	{ "schema", NK_PROC_SCHEMA }, { "status", NK_PROC_STATUS },
	{ "why", NK_PROC_WHY },
};

static int lookup_name(const struct name_kind *tab, size_t n, const char *s,
		       enum nk *out)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(tab[i].name, s) == 0) {
			*out = tab[i].k;
			return 0;
		}
	return -1;
}

/* Split "/a/b/c" into at most 6 components; returns the count or -1. */
static int split(const char *path, char comp[6][256])
{
	int n = 0;

	while (*path) {
		size_t l;

		while (*path == '/')
			path++;
		if (!*path)
			break;
		l = strcspn(path, "/");
		if (n == 6 || l >= 256)
			return -1;
		memcpy(comp[n], path, l);
		comp[n++][l] = '\0';
		path += l;
	}
	return n;
}

static int parse_host(char c[6][256], int n, struct node *o)
{
	if (!reg_name_ok(c[1]))
		return -ENOENT;
	snprintf(o->host, sizeof(o->host), "%s", c[1]);
	o->k = NK_HOST;
	if (n == 2)
		return 0;
	if (lookup_name(host_names, ARRAY_SIZE(host_names), c[2], &o->k) < 0)
		return -ENOENT;
	if (n == 3)
		return 0;
	if (n > 4 || (o->k != NK_HOST_METRICS && o->k != NK_HOST_RULES &&
		      o->k != NK_HOST_PROCS))
		return -ENOENT;
	snprintf(o->name, sizeof(o->name), "%s", c[3]);
	o->k = o->k == NK_HOST_METRICS ? NK_HOST_METRIC :
	       o->k == NK_HOST_RULES ? NK_HOST_RULE : NK_HOST_PROC;
	if (o->k == NK_HOST_PROC && !(o->job = parse_job(c[3])))
		return -ENOENT;
	return 0;
}

static int parse_path(const char *path, struct node *o)
{
	char c[6][256];
	int n = split(path, c);

	memset(o, 0, sizeof(*o));
	if (n < 0)
		return -ENOENT;
	if (n == 0) {
		o->k = NK_ROOT;
		return 0;
	}
	if (lookup_name(root_names, ARRAY_SIZE(root_names), c[0], &o->k) < 0)
		return -ENOENT;
	if (n == 1)
		return 0;
	switch (o->k) {
	case NK_HOSTS:
		return parse_host(c, n, o);
	case NK_PROCS:
		if (!(o->job = parse_job(c[1])) || n > 3)
			return -ENOENT;
		o->k = NK_PROC;
		return n == 2 ? 0 : lookup_name(proc_names,
			ARRAY_SIZE(proc_names), c[2], &o->k) < 0 ? -ENOENT : 0;
	case NK_RULES:
	case NK_SCHED:
		if (n > 2)
			return -ENOENT;
		snprintf(o->name, sizeof(o->name), "%s", c[1]);
		o->k = o->k == NK_RULES ? NK_RULE : NK_SCHED_FILE;
		return 0;
	default:
		return -ENOENT;
	}
}

static int is_dir(enum nk k)
{
	return k == NK_ROOT || k == NK_HOSTS || k == NK_HOST ||
	       k == NK_HOST_METRICS || k == NK_HOST_RULES ||
	       k == NK_HOST_PROCS || k == NK_PROCS || k == NK_PROC ||
	       k == NK_RULES || k == NK_SCHED;
}

static int sched_writable(const char *name)
{
	return reg_sched_known(name);
}

static int is_writable(const struct node *n)
{
	return n->k == NK_HOST_STATE || n->k == NK_PROC_MIGRATE ||
	       n->k == NK_RULE || n->k == NK_POLICY ||
	       (n->k == NK_SCHED_FILE && sched_writable(n->name));
}

/* ---- pending creates in rules/ ------------------------------------------ */

static int pending_find_locked(struct fs_tree *t, const char *name)
{
	for (int i = 0; i < FS_PENDING_MAX; i++)
		if (strcmp(t->pending[i], name) == 0)
			return i;
	return -1;
}

static int pending_has(struct fs_tree *t, const char *name)
{
	int r;

	pthread_mutex_lock(&t->mu);
	r = pending_find_locked(t, name) >= 0;
	pthread_mutex_unlock(&t->mu);
	return r;
}

static int pending_add(struct fs_tree *t, const char *name)
{
	size_t len = strlen(name);
	int i;

	if (len >= REG_NAME_MAX)
		return -ENAMETOOLONG;
	pthread_mutex_lock(&t->mu);
	i = pending_find_locked(t, name);
	if (i < 0)
		i = pending_find_locked(t, "");
	if (i >= 0)
		memcpy(t->pending[i], name, len + 1);
	pthread_mutex_unlock(&t->mu);
	return i < 0 ? -ENOSPC : 0;
}

static void pending_del(struct fs_tree *t, const char *name)
{
	int i;

	pthread_mutex_lock(&t->mu);
	i = pending_find_locked(t, name);
	if (i >= 0)
		t->pending[i][0] = '\0';
	pthread_mutex_unlock(&t->mu);
}

/* ---- rendering (registry lock held) -------------------------------------- */

static const char readme_text[] =
"reschedfs — the resched registry.  Everything is a file:\n"
"\n"
"  hosts/<host>/info            static facts, `key value` lines\n"
"  hosts/<host>/state           free|busy|overloaded|unavailable|draining;\n"
"                               write `drain` or `resume`\n"
"  hosts/<host>/metrics/<name>  one number\n"
"  hosts/<host>/rules/<rule>    this host's verdict: `<state> <value>`\n"
"  hosts/<host>/seen, lease     seconds since the last update / until\n"
"                               the host is declared unavailable\n"
"  hosts/<host>/procs/<id>      symlink to ../../../procs/<id>\n"
"  procs/<id>/host pid status schema why history\n"
"  procs/<id>/output            where its stdout goes now: HOST:PATH\n"
"  procs/<id>/migrate           write a host name to move the job (the\n"
"                               write returns when the move is over);\n"
"                               read: the last move's result\n"
"  rules/<name>.rule            the rule files: create, edit, rm, mv\n"
"  policy                       migrate_when / accept_when / select / place\n"
"  sched/mode                   auto | manual | dry-run\n"
"  sched/stability cooldown min_age max_concurrent max_per_hour\n"
"        migrate_timeout        one value each\n"
"  sched/allow_root             1: jobs of root may move (default 0)\n"
"  sched/plan, sched/decisions  what the scheduler would do / did, and why\n"
"  events                       `TIME KIND key=value ...`; reads block\n"
"                               for new lines (tail -f without -f)\n"
"\n"
"Bad writes fail (EINVAL, ENOENT, EBUSY, EACCES), change nothing and\n"
"say why in events.  `rmdir hosts/<host>` forgets an unavailable host.\n";

static void render_host(struct registry *r, const struct reg_host *h,
			const struct node *n, FILE *f)
{
	double now = util_now_s(), v;
	double left = REG_LEASE_INTERVALS * h->interval - (now - h->last_update);
	char num[64];

	switch (n->k) {
	case NK_HOST_INFO:
		for (size_t i = 0; i < h->ninfo; i++)
			fprintf(f, "%s %s\n", h->info[i].key, h->info[i].value);
		break;
	case NK_HOST_STATE:
		fprintf(f, "%s\n", rs_state_name(reg_host_state_locked(h)));
		break;
	case NK_HOST_SEEN:
		fprintf(f, "%.1f\n", now - h->last_update);
		break;
	case NK_HOST_LEASE:
		fprintf(f, "%.1f\n", h->unavailable || left < 0 ? 0.0 : left);
		break;
	case NK_HOST_METRIC:
		if (reg_host_metric_locked(h, n->name, &v) == 0)
			fprintf(f, "%s\n", util_fmt_num(num, sizeof(num), v));
		break;
	case NK_HOST_RULE:
		for (size_t i = 0; i < h->nverdicts; i++)
			if (strcmp(h->verdicts[i].name, n->name) == 0)
				fprintf(f, "%s %s\n",
					rs_state_name(h->verdicts[i].state),
					util_fmt_num(num, sizeof(num),
						     h->verdicts[i].value));
		break;
	default:
		break;
	}
	(void)r;
}

static void render_proc(const struct reg_job *j, enum nk k, FILE *f)
{
	switch (k) {
	case NK_PROC_HOST:
		fprintf(f, "%s\n", j->host);
		break;
	case NK_PROC_PID:
		fprintf(f, "%d\n", (int)j->pid);
		break;
	case NK_PROC_STATUS:
		fprintf(f, "%s\n", reg_job_status_name(j->status));
		break;
	case NK_PROC_SCHEMA:
		fputs(j->schema ? j->schema : "", f);
		break;
	case NK_PROC_MIGRATE:
		fprintf(f, "%s\n", j->result ? j->result : "none");
		break;
	case NK_PROC_WHY:
		fputs(j->why ? j->why : "", f);
		break;
	case NK_PROC_HISTORY:
		for (int i = 0; i < j->nhistory; i++)
			fprintf(f, "%s\n", j->history[i]);
		break;
	case NK_PROC_MPI:
		if (j->mpi_ns)
			fprintf(f, "%s %d %d\n", j->mpi_ns, j->mpi_rank, j->mpi_size);
		break;
	case NK_PROC_OUTPUT:
		/* what fd 1 linked to when the job (or its successor) last
		 * registered; nothing while a successor has yet to */
		if (j->ctx.out && j->status != JOB_MIGRATED)
			fprintf(f, "%s:%s\n", j->host, j->ctx.out);
		break;
	default:
		break;
	}
}

static void render_sched(struct registry *r, const char *name, FILE *f)
{
	char buf[128];

	if (strcmp(name, "plan") == 0) {
		fputs(reg_plan_locked(r) ? reg_plan_locked(r) : "", f);
	} else if (strcmp(name, "decisions") == 0) {
		for (size_t i = 0; i < reg_ndecisions_locked(r); i++)
			fprintf(f, "%s\n", reg_decision_locked(r, i));
	} else {
		reg_sched_format(reg_sched_locked(r), name, buf, sizeof(buf));
		fputs(buf, f);
	}
}

/* Write n's content to f.  0, or -ENOENT when n does not exist. */
static int render_locked(struct fs_tree *t, const struct node *n, FILE *f)
{
	struct registry *r = t->reg;
	struct reg_host *h;
	struct reg_job *j;
	const char *txt;
	size_t len = 0;

	switch (n->k) {
	case NK_README:
		fputs(readme_text, f);
		return 0;
	case NK_HOST_INFO: case NK_HOST_STATE: case NK_HOST_SEEN:
	case NK_HOST_LEASE: case NK_HOST_METRIC: case NK_HOST_RULE:
		if (!(h = reg_host_find_locked(r, n->host)))
			return -ENOENT;
		render_host(r, h, n, f);
		return 0;
	case NK_PROC_HOST: case NK_PROC_PID: case NK_PROC_STATUS:
	case NK_PROC_SCHEMA: case NK_PROC_MIGRATE: case NK_PROC_WHY:
	case NK_PROC_HISTORY: case NK_PROC_MPI: case NK_PROC_OUTPUT:
		if (!(j = reg_job_locked(r, n->job)))
			return -ENOENT;
		render_proc(j, n->k, f);
		return 0;
	case NK_RULE:
		txt = reg_rule_text_locked(r, n->name, &len);
		if (txt)
			fwrite(txt, 1, len, f);
		return 0;
	case NK_POLICY:
		txt = reg_policy_text_locked(r, &len);
		fwrite(txt, 1, len, f);
		return 0;
	case NK_SCHED_FILE:
		render_sched(r, n->name, f);
		return 0;
	default:
		return 0;
	}
}

/* Render into a new buffer the caller frees; -errno on failure. */
static int render(struct fs_tree *t, const struct node *n, char **out,
		  size_t *len)
{
	FILE *f = open_memstream(out, len);
	int rc;

	if (!f)
		return -ENOMEM;
	reg_lock(t->reg);
	rc = render_locked(t, n, f);
	reg_unlock(t->reg);
	if (fclose(f) != 0 && rc == 0)
		rc = -ENOMEM;
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* ---- existence and attributes -------------------------------------------- */

static int host_has_job_locked(struct registry *r, const char *host, int id)
{
	struct reg_job *j = reg_job_locked(r, id);

	return j && strcmp(j->host, host) == 0 &&
	       (j->status == JOB_RUNNING || j->status == JOB_MIGRATING ||
		j->status == JOB_MIGRATED || j->status == JOB_LOST);
}

static int verdict_exists(const struct reg_host *h, const char *name)
{
	for (size_t i = 0; i < h->nverdicts; i++)
		if (strcmp(h->verdicts[i].name, name) == 0)
			return 1;
	return 0;
}

/* Does n exist?  Lock held.  *owner gets the job's uid for procs/<id>. */
static int exists_locked(struct fs_tree *t, const struct node *n,
			 uid_t *owner)
{
	struct registry *r = t->reg;
	struct reg_host *h = NULL;
	struct reg_job *j;
	double v;

	if (n->host[0] && !(h = reg_host_find_locked(r, n->host)))
		return 0;
	switch (n->k) {
	case NK_HOST_METRIC:
		return reg_host_metric_locked(h, n->name, &v) == 0;
	case NK_HOST_RULE:
		return verdict_exists(h, n->name);
	case NK_HOST_PROC:
		return host_has_job_locked(r, n->host, n->job);
	case NK_PROC: case NK_PROC_HOST: case NK_PROC_PID: case NK_PROC_STATUS:
	case NK_PROC_SCHEMA: case NK_PROC_MIGRATE: case NK_PROC_WHY:
	case NK_PROC_HISTORY: case NK_PROC_MPI: case NK_PROC_OUTPUT:
		if (!(j = reg_job_locked(r, n->job)))
			return 0;
		if (n->k == NK_PROC_MPI && !j->mpi_ns)
			return 0;     /* plain jobs have no mpi file */
		if (n->k == NK_PROC || n->k == NK_PROC_MIGRATE)
			*owner = j->uid;
		return 1;
	case NK_RULE:
		return reg_rule_text_locked(r, n->name, NULL) != NULL;
	case NK_SCHED_FILE:
		return reg_sched_known(n->name) || !strcmp(n->name, "plan") ||
		       !strcmp(n->name, "decisions");
	default:
		return 1;
	}
}

static mode_t mode_of(const struct node *n)
{
	if (is_dir(n->k))
		return S_IFDIR | 0755;
	if (n->k == NK_HOST_PROC)
		return S_IFLNK | 0777;
	return S_IFREG | (is_writable(n) ? 0644 : 0444);
}

static void fill_stat(struct stat *st, mode_t mode, uid_t uid, off_t size)
{
	time_t now = time(NULL);

	memset(st, 0, sizeof(*st));
	st->st_mode = mode;
	st->st_nlink = S_ISDIR(mode) ? 2 : 1;
	st->st_uid = uid;
	st->st_size = size;
	st->st_blksize = 4096;
	st->st_blocks = (size + 511) / 512;
	st->st_atime = st->st_mtime = st->st_ctime = now;
}

static int fs_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	struct fs_tree *t = tree();
	struct node n;
	uid_t owner = 0;
	char *buf = NULL;
	size_t len = 0;
	int ex, ph = fs_notify_phantom(t->notify, caller_pid(), path);

	if (ph)
		return ph < 0 ? -ENOENT : (fill_stat(st, S_IFDIR | 0755, 0, 0), 0);
	if (parse_path(path, &n) < 0)
		return -ENOENT;
	if (n.k == NK_RULE && pending_has(t, n.name)) {
		fill_stat(st, S_IFREG | 0644, 0, 0);
		return 0;
	}
	reg_lock(t->reg);
	ex = exists_locked(t, &n, &owner);
	reg_unlock(t->reg);
	if (!ex)
		return -ENOENT;
	if (n.k == NK_HOST_PROC)
		len = (size_t)snprintf(NULL, 0, "../../../procs/%d", n.job);
	else if (!is_dir(n.k) && n.k != NK_EVENTS && render(t, &n, &buf, &len) < 0)
		return -ENOENT;
	free(buf);
	fill_stat(st, mode_of(&n), owner, (off_t)len);
	return 0;
}

static int fs_readlink(const char *path, char *buf, size_t size)
{
	struct node n;

	if (parse_path(path, &n) < 0 || n.k != NK_HOST_PROC)
		return -EINVAL;
	snprintf(buf, size, "../../../procs/%d", n.job);
	return 0;
}

/* ---- permissions ---------------------------------------------------------
 * The daemon checks modes itself (no default_permissions: with it the
 * kernel asked for fresh attributes at every step of every path walk,
 * since most attributes are not cached here — ~18 requests a file read).
 * What ls -l shows is what is enforced: every node is readable by all;
 * a change needs root or the node's owner (procs/<id> and its migrate:
 * the job's uid; everything else, directories included: root). */

static uid_t owner_of(struct fs_tree *t, const struct node *n)
{
	uid_t owner = 0;

	if (n->k == NK_PROC || n->k == NK_PROC_MIGRATE) {
		reg_lock(t->reg);
		exists_locked(t, n, &owner);
		reg_unlock(t->reg);
	}
	return owner;
}

/* May the caller change n (or, for a directory, what is in it)?  0, or
 * -EACCES with a write-rejected line in events naming the path. */
static int may_change(struct fs_tree *t, const struct node *n,
		      const char *path)
{
	uid_t uid = caller_uid();

	if (uid == 0 || is_notifier(t) || uid == owner_of(t, n))
		return 0;
	reg_write_rejected(t->reg, path[0] == '/' ? path + 1 : path, uid,
			   "permission denied");
	return -EACCES;
}

/* access(2), test -w: the same answer the modes give. */
static int fs_access(const char *path, int mask)
{
	struct fs_tree *t = tree();
	struct stat st;
	uid_t uid = caller_uid();
	mode_t m;
	int rc = fs_getattr(path, &st, NULL);

	if (rc < 0 || mask == F_OK)
		return rc;
	if (is_notifier(t))
		return 0;
	/* root reads anything and searches any directory, but writes only
	 * what is writable at all: the daemon refuses the rest to root too */
	if (uid == 0)
		m = 4 | ((st.st_mode >> 6) & 2) |
		    (S_ISDIR(st.st_mode) || (st.st_mode & 0111) ? 1 : 0);
	else
		m = uid == st.st_uid ? (st.st_mode >> 6) & 7 : st.st_mode & 7;
	if (((mask & R_OK) && !(m & 4)) || ((mask & W_OK) && !(m & 2)) ||
	    ((mask & X_OK) && !(m & 1)))
		return -EACCES;
	return 0;
}

/* ---- directories --------------------------------------------------------- */

static void fill_names(void *buf, fuse_fill_dir_t filler,
		       const struct name_kind *tab, size_t n)
{
	for (size_t i = 0; i < n; i++)
		filler(buf, tab[i].name, NULL, 0, 0);
}

static void list_host_locked(struct fs_tree *t, const struct node *n,
			     const struct reg_host *h, void *buf,
			     fuse_fill_dir_t filler)
{
	char id[24];

	if (n->k == NK_HOST)
		fill_names(buf, filler, host_names, ARRAY_SIZE(host_names));
	else if (n->k == NK_HOST_METRICS)
		for (size_t i = 0; i < h->nmetrics; i++)
			filler(buf, h->metrics[i].name, NULL, 0, 0);
	else if (n->k == NK_HOST_RULES)
		for (size_t i = 0; i < h->nverdicts; i++)
			filler(buf, h->verdicts[i].name, NULL, 0, 0);
	else
		for (int i = 1; i <= reg_job_max_locked(t->reg); i++)
			if (host_has_job_locked(t->reg, h->name, i)) {
				snprintf(id, sizeof(id), "%d", i);
				filler(buf, id, NULL, 0, 0);
			}
}

static void list_top_locked(struct fs_tree *t, const struct node *o, void *buf,
			    fuse_fill_dir_t filler, int plus)
{
	struct stat dir;
	struct registry *r = t->reg;
	struct reg_job *jb;
	enum nk k = o->k;
	const char *const *names;
	size_t n;
	char id[24];

	switch (k) {
	case NK_ROOT:
		fill_names(buf, filler, root_names, ARRAY_SIZE(root_names));
		break;
	case NK_HOSTS:
		/* with readdirplus the kernel learns every host directory from
		 * the listing: a glob over hosts/ needs no lookup per host */
		fill_stat(&dir, S_IFDIR | 0755, 0, 0);
		for (const struct reg_host *h = reg_hosts_locked(r); h; h = h->next)
			filler(buf, h->name, plus ? &dir : NULL, 0,
			       plus ? FUSE_FILL_DIR_PLUS : 0);
		break;
	case NK_PROCS:
		for (int i = 1; i <= reg_job_max_locked(r); i++)
			if (reg_job_locked(r, i)) {
				snprintf(id, sizeof(id), "%d", i);
				filler(buf, id, NULL, 0, 0);
			}
		break;
	case NK_PROC:
		for (size_t i = 0; i < ARRAY_SIZE(proc_names); i++)
			if (proc_names[i].k != NK_PROC_MPI ||
			    ((jb = reg_job_locked(r, o->job)) && jb->mpi_ns))
				filler(buf, proc_names[i].name, NULL, 0, 0);
		break;
	case NK_RULES:
		names = reg_rule_names_locked(r, &n);
		for (size_t i = 0; i < n; i++)
			filler(buf, names[i], NULL, 0, 0);
		break;
	default:                                   /* NK_SCHED */
		names = reg_sched_names(&n);
		for (size_t i = 0; i < n; i++)
			filler(buf, names[i], NULL, 0, 0);
		filler(buf, "decisions", NULL, 0, 0);
		filler(buf, "plan", NULL, 0, 0);
		break;
	}
}

static void list_pending(struct fs_tree *t, void *buf, fuse_fill_dir_t filler)
{
	pthread_mutex_lock(&t->mu);
	for (int i = 0; i < FS_PENDING_MAX; i++)
		if (t->pending[i][0])
			filler(buf, t->pending[i], NULL, 0, 0);
	pthread_mutex_unlock(&t->mu);
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
		      off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	struct fs_tree *t = tree();
	struct node n;
	uid_t owner;
	int rc = 0;

	if (parse_path(path, &n) < 0 || !is_dir(n.k))
		return -ENOENT;
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	reg_lock(t->reg);
	if (!exists_locked(t, &n, &owner))
		rc = -ENOENT;
	else if (n.host[0])
		list_host_locked(t, &n, reg_host_find_locked(t->reg, n.host),
				 buf, filler);
	else
		list_top_locked(t, &n, buf, filler,
				(flags & FUSE_READDIR_PLUS) != 0);
	reg_unlock(t->reg);
	if (rc == 0 && n.k == NK_RULES)
		list_pending(t, buf, filler);
	return rc;
}

static int fs_mkdir(const char *path, mode_t mode)
{
	struct fs_tree *t = tree();

	if (!is_notifier(t))
		return -EPERM;
	fs_notify_ack(t->notify, path);
	return 0;
}

static int fs_rmdir(const char *path)
{
	struct fs_tree *t = tree();
	struct node n;
	char err[REG_ERR_LEN];
	int rc;

	if (is_notifier(t)) {
		fs_notify_ack(t->notify, path);
		return 0;
	}
	if (parse_path(path, &n) < 0)
		return -ENOENT;
	if (n.k != NK_HOST)
		return -EPERM;
	if ((rc = may_change(t, &n, path)) < 0)
		return rc;
	return reg_host_forget(t->reg, n.host, caller_uid(), 1, err);
}

/* ---- open, read ---------------------------------------------------------- */

static struct fh *fh_of(struct fuse_file_info *fi)
{
	return (struct fh *)(uintptr_t)fi->fh;
}

static void polls_add(struct fs_tree *t, struct fh *h)
{
	pthread_mutex_lock(&t->mu);
	h->pnext = t->polls;
	t->polls = h;
	pthread_mutex_unlock(&t->mu);
}

static void polls_del(struct fs_tree *t, struct fh *h)
{
	pthread_mutex_lock(&t->mu);
	for (struct fh **pp = &t->polls; *pp; pp = &(*pp)->pnext)
		if (*pp == h) {
			*pp = h->pnext;
			break;
		}
	if (h->ph)
		fuse_pollhandle_destroy(h->ph);
	h->ph = NULL;
	pthread_mutex_unlock(&t->mu);
}

void fs_tree_events_ready(void *arg)
{
	struct fs_tree *t = arg;

	pthread_mutex_lock(&t->mu);
	for (struct fh *h = t->polls; h; h = h->pnext)
		if (h->ph) {
			fuse_notify_poll(h->ph);
			fuse_pollhandle_destroy(h->ph);
			h->ph = NULL;
		}
	pthread_mutex_unlock(&t->mu);
}

/* May this open for writing go ahead?  0 or -errno. */
static int open_write_check(struct fs_tree *t, const struct node *n)
{
	if (is_notifier(t))
		return 0;
	if (!is_writable(n))
		return -EACCES;
	return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	struct fs_tree *t = tree();
	struct stat st;
	struct fh *h;
	int rc = fs_getattr(path, &st, NULL);

	if (rc < 0)
		return rc;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	parse_path(path, &h->n);
	h->flags = fi->flags;
	h->stage_fd = -1;
	if ((fi->flags & O_ACCMODE) != O_RDONLY &&
	    ((rc = open_write_check(t, &h->n)) < 0 ||
	     (rc = may_change(t, &h->n, path)) < 0)) {
		free(h);
		return rc;
	}
	fi->direct_io = 1;
	/* a read-only handle has nothing to check at close: no FLUSH */
	fi->noflush = (fi->flags & O_ACCMODE) == O_RDONLY;
	fi->fh = (uintptr_t)h;
	pthread_mutex_lock(&t->mu);
	h->anext = t->open_fhs;
	if (t->open_fhs)
		t->open_fhs->aprev = h;
	t->open_fhs = h;
	pthread_mutex_unlock(&t->mu);
	if (h->n.k == NK_EVENTS) {
		fi->nonseekable = 1;
		h->evpos = fs_events_open(t->events);
		polls_add(t, h);
	}
	return 0;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct fs_tree *t = tree();
	struct fh *h = fh_of(fi);
	int rc;

	if (h->n.k == NK_EVENTS)
		return (int)fs_events_read(t->events, &h->evpos, buf, size,
					   (h->flags & O_NONBLOCK) != 0, intr,
					   t);
	if (off == 0 || !h->snap) {
		free(h->snap);
		h->snap = NULL;
		rc = render(t, &h->n, &h->snap, &h->snaplen);
		if (rc < 0)
			return rc;
	}
	if ((size_t)off >= h->snaplen)
		return 0;
	if (size > h->snaplen - (size_t)off)
		size = h->snaplen - (size_t)off;
	memcpy(buf, h->snap + off, size);
	return (int)size;
}

static int fs_poll(const char *path, struct fuse_file_info *fi,
		   struct fuse_pollhandle *ph, unsigned *reventsp)
{
	struct fs_tree *t = tree();
	struct fh *h = fh_of(fi);

	if (h->n.k != NK_EVENTS) {
		*reventsp |= POLLIN | POLLOUT;
		if (ph)
			fuse_pollhandle_destroy(ph);
		return 0;
	}
	if (ph) {
		pthread_mutex_lock(&t->mu);
		if (h->ph)
			fuse_pollhandle_destroy(h->ph);
		h->ph = ph;
		pthread_mutex_unlock(&t->mu);
	}
	if (fs_events_ready(t->events, h->evpos))
		*reventsp |= POLLIN;
	return 0;
}

/* ---- writes -------------------------------------------------------------- */

/* Apply a whole content to n.  0 or -errno. */
static int apply(struct fs_tree *t, struct fh *h, const char *text,
		 size_t len, int wait)
{
	char err[REG_ERR_LEN], v[2 * REG_NAME_MAX + 2];
	const char *why = "";
	uid_t uid = caller_uid();

	switch (h->n.k) {
	case NK_RULE:
		return reg_rule_write(t->reg, h->n.name, text, len, uid, err);
	case NK_POLICY:
		return reg_policy_write(t->reg, text, len, uid, err);
	case NK_SCHED_FILE:
		return reg_sched_write_n(t->reg, h->n.name, text, len, uid,
					 err);
	case NK_HOST_STATE:
		return reg_host_state_write_n(t->reg, h->n.host, text, len, uid,
					      err);
	case NK_PROC_MIGRATE:
		if (fs_value_word(text, len, v, sizeof(v), &why) < 0) {
			char path[40];

			snprintf(path, sizeof(path), "procs/%d/migrate",
				 h->n.job);
			snprintf(err, sizeof(err), "write a host name (%s)", why);
			reg_write_rejected(t->reg, path, uid, err);
			return -EINVAL;
		}
		return reg_migrate_request(t->reg, h->n.job, v, uid, "user",
					   wait, intr, t, err);
	default:
		return -EACCES;
	}
}

static int buffer_append(struct fh *h, const char *buf, size_t size,
			 off_t off)
{
	char *nb;

	if ((size_t)off != h->wlen)
		return -EINVAL;        /* only sequential writes */
	if (h->wlen + size > RULE_FILE_MAX)
		return -EFBIG;
	nb = realloc(h->wbuf, h->wlen + size + 1);
	if (!nb)
		return -ENOMEM;
	memcpy(nb + h->wlen, buf, size);
	h->wlen += size;
	nb[h->wlen] = '\0';
	h->wbuf = nb;
	return 0;
}

/*
 * Rules and policy arrive in pieces: bash's echo and printf write a
 * multi-line text one line per write(2).  After each write the complete
 * lines so far are checked: an error that no further line could repair
 * fails this write with EINVAL (so the shell shows it, and the text is
 * refused with its event line); anything else waits for flush (close),
 * where the whole text is validated and applied.
 */
static int check_partial(struct fs_tree *t, struct fh *h, size_t size)
{
	size_t len = h->wlen;

	while (len > 0 && h->wbuf[len - 1] != '\n')
		len--;
	if (len == 0 || reg_text_incomplete(t->reg, h->n.k == NK_POLICY,
					    h->n.name, h->wbuf, len,
					    caller_uid()))
		return (int)size;
	h->bad = 2;                    /* refused and reported: flush is quiet */
	h->dirty = 0;
	return -EINVAL;
}

/* With --state, a rule or policy text is also written to a scratch file
 * in the state directory as it arrives, so a full disk fails the write(2)
 * that brings the bytes (bash's echo shows that; it ignores close()).
 * The text is put on disk for real (temp, fsync, rename) when it is
 * applied at flush; the scratch space is freed just before. */
static int stage(struct fs_tree *t, struct fh *h, const char *buf,
		 size_t size, off_t off)
{
	const char *dir = reg_state_dir(t->reg);
	char why[300];
	int e;

	if (!dir)
		return 0;
	if (h->stage_fd < 0)
		h->stage_fd = fs_state_stage_open(dir);
	if (h->stage_fd >= 0 &&
	    fs_state_stage_write(h->stage_fd, buf, size, (long long)off) == 0)
		return 0;
	e = errno ? errno : EIO;
	snprintf(why, sizeof(why), "state directory: %s", strerror(e));
	reg_write_rejected(t->reg, h->n.k == NK_POLICY ? "policy" : h->n.name,
			   caller_uid(), why);
	h->bad = 1;
	h->stage_err = e;
	h->dirty = 0;
	return -e;
}

static void stage_close(struct fh *h)
{
	if (h->stage_fd >= 0)
		close(h->stage_fd);
	h->stage_fd = -1;
}

/* Other files take one value per write. */
static int write_buffered(struct fs_tree *t, struct fh *h, const char *buf,
			  size_t size, off_t off)
{
	int big = h->n.k == NK_RULE || h->n.k == NK_POLICY;
	int rc;

	if (h->bad)                    /* the same error for every write */
		return h->stage_err ? -h->stage_err : -EINVAL;
	rc = buffer_append(h, buf, size, off);
	if (rc < 0) {
		h->bad = 1;
		reg_write_rejected(t->reg, h->n.name[0] ? h->n.name : "policy",
				   caller_uid(), rc == -EFBIG ? "file too large" :
				   "writes must be sequential");
		return rc;
	}
	h->dirty = 1;
	if (big && (rc = stage(t, h, buf, size, off)) < 0)
		return rc;
	if (big)
		return check_partial(t, h, size);
	rc = apply(t, h, h->wbuf, h->wlen, !(h->flags & O_NONBLOCK));
	if (rc < 0 && rc != -EINTR) {
		h->bad = big;
		h->dirty = 0;
		return rc;
	}
	h->applied = 1;
	h->dirty = 0;
	if (h->created)
		pending_del(t, h->n.name);
	return rc < 0 ? rc : (int)size;
}

static int fs_write(const char *path, const char *buf, size_t size,
		    off_t off, struct fuse_file_info *fi)
{
	struct fs_tree *t = tree();
	struct fh *h = fh_of(fi);

	if (is_notifier(t))
		return (int)size;      /* a touch: the model already changed */
	if (!is_writable(&h->n))
		return -EACCES;
	if (h->n.k != NK_RULE && h->n.k != NK_POLICY) {
		h->wlen = 0;           /* one value per write */
		off = 0;
	}
	return write_buffered(t, h, buf, size, off);
}

static int fs_flush(const char *path, struct fuse_file_info *fi)
{
	struct fs_tree *t = tree();
	struct fh *h = fh_of(fi);
	int rc;

	stage_close(h);
	if (h->bad) {
		rc = h->stage_err ? -h->stage_err : -EINVAL;
		h->bad = 0;            /* report once */
		h->stage_err = 0;
		return rc;
	}
	if (!h->dirty)
		return 0;
	h->dirty = 0;
	rc = apply(t, h, h->wbuf, h->wlen, 1);
	if (rc == 0) {
		h->applied = 1;
		if (h->created)
			pending_del(t, h->n.name);
	}
	return rc;
}

static void fh_free(struct fh *h)
{
	stage_close(h);
	free(h->snap);
	free(h->wbuf);
	free(h);
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
	struct fs_tree *t = tree();
	struct fh *h = fh_of(fi);

	if (h->n.k == NK_EVENTS)
		polls_del(t, h);
	if (h->created && !h->applied)
		pending_del(t, h->n.name);  /* a new file never made valid */
	pthread_mutex_lock(&t->mu);
	if (h->aprev)
		h->aprev->anext = h->anext;
	else
		t->open_fhs = h->anext;
	if (h->anext)
		h->anext->aprev = h->aprev;
	pthread_mutex_unlock(&t->mu);
	fh_free(h);
	return 0;
}

static int fs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct fs_tree *t = tree();
	struct node n;
	size_t len;
	int rc;

	if (parse_path(path, &n) < 0)
		return -ENOENT;
	if (n.k != NK_RULE)
		return -EACCES;
	if ((rc = may_change(t, &n, path)) < 0)
		return rc;
	len = strlen(n.name);
	if (!reg_name_ok(n.name) || len <= 5 ||
	    strcmp(n.name + len - 5, ".rule") != 0) {
		reg_write_rejected(t->reg, path + 1, caller_uid(),
				   "rule files are named NAME.rule");
		return -EINVAL;
	}
	rc = pending_add(t, n.name);
	if (rc < 0)
		return rc;
	rc = fs_open(path, fi);
	if (rc < 0) {
		pending_del(t, n.name);
		return rc;
	}
	fh_of(fi)->created = 1;
	return 0;
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct node n;
	int rc;

	if (parse_path(path, &n) < 0)
		return -ENOENT;
	if (!is_writable(&n) && !is_notifier(tree()))
		return -EACCES;
	if ((rc = may_change(tree(), &n, path)) < 0)
		return rc;
	/* The content is replaced by the next write, validated whole. */
	return size == 0 ? 0 : -EINVAL;
}

static int fs_unlink(const char *path)
{
	struct fs_tree *t = tree();
	struct node n;
	char err[REG_ERR_LEN];
	int rc;

	if (parse_path(path, &n) < 0)
		return -ENOENT;
	if (n.k != NK_RULE)
		return -EPERM;
	if ((rc = may_change(t, &n, path)) < 0)
		return rc;
	if (pending_has(t, n.name)) {
		pending_del(t, n.name);
		return 0;
	}
	return reg_rule_remove(t->reg, n.name, caller_uid(), err);
}

static int fs_rename(const char *from, const char *to, unsigned int flags)
{
	struct fs_tree *t = tree();
	struct node a, b;
	char err[REG_ERR_LEN];
	int exists, rc;

	if (parse_path(from, &a) < 0 || parse_path(to, &b) < 0)
		return -ENOENT;
	if (a.k != NK_RULE || b.k != NK_RULE)
		return -EXDEV;
	if ((rc = may_change(t, &a, from)) < 0)
		return rc;
	if (flags & ~(unsigned)RENAME_NOREPLACE)
		return -EINVAL;
	reg_lock(t->reg);
	exists = reg_rule_text_locked(t->reg, b.name, NULL) != NULL;
	reg_unlock(t->reg);
	if ((flags & RENAME_NOREPLACE) && exists)
		return -EEXIST;
	return reg_rule_rename(t->reg, a.name, b.name, caller_uid(), err);
}

static int fs_utimens(const char *path, const struct timespec tv[2],
		      struct fuse_file_info *fi)
{
	struct node n;

	if (parse_path(path, &n) < 0)
		return -ENOENT;
	return is_writable(&n) ? may_change(tree(), &n, path) : -EACCES;
}

static int fs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	return -EPERM;
}

static int fs_chown(const char *path, uid_t uid, gid_t gid,
		    struct fuse_file_info *fi)
{
	return -EPERM;
}

/* What the kernel may cache (fs_ll calls this for every entry and
 * attribute it answers).  Names: 10 s.  Names that come and go with the
 * cluster (hosts/, procs/) change through the VFS (the notifier's
 * mkdir/rmdir), which updates the kernel's cache at once; no negative
 * entry is cached, so a new name is seen at once.  A name that goes away
 * without the VFS (a metric an agent stops reporting) may still be looked
 * up for up to 10 s, and stat or open of it gives ENOENT.  The long
 * timeout is what lets `grep PATTERN hosts/STAR/state` over 10,000 hosts
 * walk each path once instead of again after a glob that took longer
 * than a second (docs/BENCHMARKS.md).
 *
 * Rule files' names are not cached (entry 0): a created file that was
 * never made valid goes away at close, which the kernel does not see.
 *
 * Attributes: never cached, except a host's `state` (10 s), whose shown
 * value changes only through the VFS: the notifier writes every change
 * through the mount (that is how inotify sees it, reg_change_locked
 * REG_HOST_STATE), and a write makes the kernel drop the attributes it
 * holds, so the cached size and time are the true ones from then on.
 * Directories too (10 s): their mode, owner, size and link count never
 * change while they exist (a job's directory keeps its owner), and a
 * glob over hosts/STAR/state stats every host directory.  Reads are
 * direct I/O everywhere: fresh whatever is cached. */
void fs_tree_timeouts(const char *path, const struct stat *st, double *entry,
		      double *attr)
{
	struct node n;

	*entry = 10;
	*attr = 0;
	if (S_ISDIR(st->st_mode) ||
	    (parse_path(path, &n) == 0 && n.k == NK_HOST_STATE))
		*attr = 10;
	/* a new rule file that was never made valid disappears at close,
	 * without the VFS: a cached name would make the next create of it
	 * fail with ENOENT */
	else if (n.k == NK_RULE)
		*entry = 0;
}

static const struct fuse_operations tree_ops = {
	.getattr = fs_getattr,
	.access = fs_access,
	.readlink = fs_readlink,
	.readdir = fs_readdir,
	.mkdir = fs_mkdir,
	.rmdir = fs_rmdir,
	.open = fs_open,
	.read = fs_read,
	.write = fs_write,
	.flush = fs_flush,
	.release = fs_release,
	.create = fs_create,
	.truncate = fs_truncate,
	.unlink = fs_unlink,
	.rename = fs_rename,
	.utimens = fs_utimens,
	.chmod = fs_chmod,
	.chown = fs_chown,
	.poll = fs_poll,
};

const struct fuse_operations *fs_tree_ops(void) { return &tree_ops; }

struct fs_tree *fs_tree_new(struct registry *reg, struct fs_events *events,
			    struct fs_notify *notify)
{
	struct fs_tree *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->reg = reg;
	t->events = events;
	t->notify = notify;
	pthread_mutex_init(&t->mu, NULL);
	return t;
}

void fs_tree_free(struct fs_tree *t)
{
	if (!t)
		return;
	/* handles whose release never arrived: the session ended first */
	for (struct fh *h = t->open_fhs, *nx; h; h = nx) {
		nx = h->anext;
		fh_free(h);
	}
	pthread_mutex_destroy(&t->mu);
	free(t);
}

void fs_tree_shutdown(struct fs_tree *t)
{
	__atomic_store_n(&t->down, 1, __ATOMIC_RELEASE);
	fs_events_shutdown(t->events);
}
