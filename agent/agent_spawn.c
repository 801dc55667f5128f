/* agent_spawn.c — start restore-mode successors; see agent_spawn.h. */
#include "agent/agent_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#define SCHEMA_MAX (64 * 1024)
#define TOKEN_MAX 128
#define ENV_OURS 3                    /* variables we set */

extern char **environ;

/* ---- the schema's binary for an arch -------------------------------------- */

static int binary_of(xmlNode *root, const char *arch, char *buf, size_t size)
{
	for (xmlNode *n = root->children; n; n = n->next) {
		xmlChar *a, *text;
		int hit;

		if (n->type != XML_ELEMENT_NODE || xmlStrcmp(n->name, BAD_CAST "binary"))
			continue;
		a = xmlGetProp(n, BAD_CAST "arch");
		hit = a && strcmp((const char *)a, arch) == 0;
		xmlFree(a);
		if (!hit)
			continue;
		text = xmlNodeGetContent(n);
		snprintf(buf, size, "%s", text ? (const char *)text : "");
		xmlFree(text);
		return buf[0] ? 1 : 0;
	}
	return 0;
}

int agent_spawn_binary(const char *xml, const char *arch, char *buf,
		       size_t size, char *err, size_t errlen)
{
	size_t len = xml ? strlen(xml) : 0;
	xmlDoc *doc;
	int rc;

	buf[0] = 0;
	if (!len)
		return 0;
	if (len > SCHEMA_MAX) {
		snprintf(err, errlen, "schema larger than %d bytes", SCHEMA_MAX);
		return -1;
	}
	doc = xmlReadMemory(xml, (int)len, "schema", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc || !xmlDocGetRootElement(doc)) {
		snprintf(err, errlen, "schema does not parse");
		xmlFreeDoc(doc);
		return -1;
	}
	rc = binary_of(xmlDocGetRootElement(doc), arch, buf, size);
	xmlFreeDoc(doc);
	return rc;
}

/* ---- preparing the child's world (before fork) ---------------------------- */

void agent_spawn_last_line(const char *path, char *buf, size_t size)
{
	char tail[1024];
	FILE *f = fopen(path, "r");
	long n = 0;

	buf[0] = 0;
	if (!f)
		return;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > (long)sizeof(tail) - 1)
		fseek(f, n - (long)sizeof(tail) + 1, SEEK_SET);
	else
		fseek(f, 0, SEEK_SET);
	n = (long)fread(tail, 1, sizeof(tail) - 1, f);
	fclose(f);
	while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == '\r'))
		n--;
	tail[n] = 0;
	char *nl = strrchr(tail, '\n');
	snprintf(buf, size, "%s", nl ? nl + 1 : tail);
}

/* $RUN/jobs/JOB.log, opened for append and owned by uid. */
static int open_log(const struct spawn_req *rq, char *path, size_t psize,
		    char *err, size_t errlen)
{
	char dir[2048];
	int fd;

	if (snprintf(dir, sizeof(dir), "%s/jobs", rq->run_dir) >= (int)sizeof(dir)) {
		snprintf(err, errlen, "run directory path too long");
		return -1;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	snprintf(path, psize, "%s/%d.log", dir, rq->job);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	if (geteuid() == 0)
		(void)!fchown(fd, rq->uid, (gid_t)-1);   /* best effort */
	return fd;
}

static int env_ours(const char *e)
{
	return !strncmp(e, "RESCHED_RESTORE_TOKEN=", 22) ||
	       !strncmp(e, "RESCHED_JOB=", 12) || !strncmp(e, "RESCHED_RUN=", 12);
}

/* The job's environment (the agent's when not known) minus our variables,
 * plus ours.  Caller frees the array and the ENV_OURS strings at its end
 * (see free_env). */
static char **build_env(const struct spawn_req *rq)
{
	char *const *base = rq->ctx && rq->ctx->has_env ? rq->ctx->env : environ;
	size_t n = 0, k = 0;
	char **env;

	if (rq->ctx && rq->ctx->has_env)
		n = rq->ctx->nenv;
	else
		while (environ[n])
			n++;
	if (!(env = calloc(n + ENV_OURS + 1, sizeof(*env))))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!env_ours(base[i]))
			env[k++] = base[i];
	if (asprintf(&env[k], "RESCHED_RESTORE_TOKEN=%s", rq->token) < 0)
		env[k] = NULL;
	if (env[k] && asprintf(&env[k + 1], "RESCHED_JOB=%d", rq->job) < 0)
		env[k + 1] = NULL;
	if (env[k + 1] && asprintf(&env[k + 2], "RESCHED_RUN=%s", rq->run_dir) < 0)
		env[k + 2] = NULL;
	if (!env[k] || !env[k + 1] || !env[k + 2]) {
		free(env[k]);
		free(env[k + 1]);
		free(env);
		return NULL;
	}
	return env;
}

static void free_env(char **env)
{
	size_t n = 0;

	if (!env)
		return;
	while (env[n])
		n++;
	for (size_t i = n - ENV_OURS; i < n; i++)
		free(env[i]);
	free(env);
}

/* The job's supplementary groups as the successor gets them: group 0 only
 * for a root job (a host's word must not make anyone else root's group).
 * *n = 0 and NULL when there are none; -1 on no memory. */
static int build_groups(const struct spawn_req *rq, gid_t **out, size_t *n)
{
	const struct jobctx *c = rq->ctx;

	*out = NULL;
	*n = 0;
	if (!c || !c->has_groups || !c->ngroups)
		return 0;
	if (!(*out = malloc(c->ngroups * sizeof(gid_t))))
		return -1;
	for (size_t i = 0; i < c->ngroups; i++)
		if (c->groups[i] != 0 || rq->uid == 0)
			(*out)[(*n)++] = c->groups[i];
	return 0;
}

static char **build_argv(const struct spawn_req *rq)
{
	char **av = calloc((size_t)rq->argc + 1, sizeof(*av));

	if (!av)
		return NULL;
	for (int i = 0; i < rq->argc; i++)
		av[i] = (char *)rq->argv[i];
	return av;
}

/* ---- the child -------------------------------------------------------------- */

/* Everything the child needs, made before fork (no allocation after). */
struct child_plan {
	const char *path;                 /* the program */
	char **av, **env;
	gid_t *groups;                    /* ngroups, filtered (build_groups) */
	size_t ngroups;
	int logfd, pfd;
};

struct child_fail {                   /* written on the status pipe */
	int stage;          /* 0 chdir 1 credentials 2 exec 3 stdio 4 cgroup 5 limit */
	int err;
	int dir;                          /* stage 4: which cg_dirs entry;
	                                   * stage 5: which jobctx limit */
};

static void child_die_at(int pfd, int stage, int dir)
{
	struct child_fail f = { stage, errno, dir };

	(void)!write(pfd, &f, sizeof(f));
	_exit(127);
}

static void child_die(int pfd, int stage)
{
	child_die_at(pfd, stage, 0);
}

/* setgroups (the job's, else none), setgid (the passwd group), setuid. */
static int drop_to(const struct spawn_req *rq, const struct child_plan *cp)
{
	struct passwd *pw = getpwuid(rq->uid);
	gid_t gid = pw ? pw->pw_gid : (gid_t)rq->uid;

	if (geteuid() != 0)
		return 0;                 /* same uid: checked by the caller */
	if (setgroups(cp->ngroups, cp->groups) < 0 || setgid(gid) < 0 ||
	    setuid(rq->uid) < 0)
		return -1;
	return 0;
}

/* The cgroup directories of a request, in a fixed order (cg_dir). */
static const char *cg_dir(const struct spawn_req *rq, int i)
{
	const struct cg_paths *c = rq->cgroup;

	if (!c)
		return "";
	return i == 0 ? c->cpu : i == 1 ? c->cpuacct : i == 2 ? c->memory :
	       i == 3 ? c->unified : "";
}

/* In the child: join every hierarchy's copy of the cgroup (paths were
 * built before fork; only open/write/close here). */
static void child_join(const struct spawn_req *rq, int pfd)
{
	char procs[600];

	for (int i = 0; i < 4; i++) {
		const char *d = cg_dir(rq, i);
		int fd;

		if (!d[0])
			continue;
		/* snprintf into a stack buffer: no allocation after fork */
		if ((size_t)snprintf(procs, sizeof(procs), "%s/cgroup.procs", d) >=
		    sizeof(procs)) {
			errno = ENAMETOOLONG;
			child_die_at(pfd, 4, i);
		}
		fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			child_die_at(pfd, 4, i);
		close(fd);
	}
}

/* In the child, before the uid changes (root may raise a hard limit): the
 * job's limits.  One the kernel refuses (a hard limit above ours for a
 * non-root agent, nofile above fs.nr_open) is clamped to the hard limit we
 * have; if even that fails, the start fails ("set limit NAME: ..."). */
static void child_limits(const struct spawn_req *rq, int pfd)
{
	const struct jobctx *c = rq->ctx;

	for (int i = 0; c && i < JOBCTX_NLIMITS; i++) {
		int res = jobctx_limit_resource(i);
		struct rlimit want = c->lim[i], have;

		if (!(c->lim_known & (1u << i)) || setrlimit(res, &want) == 0)
			continue;
		if (getrlimit(res, &have) < 0)
			child_die_at(pfd, 5, i);
		if (want.rlim_max > have.rlim_max)
			want.rlim_max = have.rlim_max;
		if (want.rlim_cur > want.rlim_max)
			want.rlim_cur = want.rlim_max;
		if (setrlimit(res, &want) < 0)
			child_die_at(pfd, 5, i);
	}
}

/* Only 0-2 and the status pipe (moved to 3) stay open: the agent's many
 * descriptors must not push the child's next open past the job's nofile
 * limit.  Returns the status pipe's descriptor. */
static int child_close_fds(int pfd)
{
	if (pfd > 3) {
		if (dup3(pfd, 3, O_CLOEXEC) < 0)
			return pfd;
		pfd = 3;
	}
	if (pfd == 3)
		close_range(4, ~0U, 0);
	return pfd;
}

/* As the job: the regular file at path, opened for append (O_NONBLOCK
 * while opening: a FIFO put there since must not hang us); -1 with errno. */
static int child_open_out(const char *path)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_APPEND | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    fcntl(fd, F_SETFL, O_APPEND) < 0) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

/* fd 1 or 2 to the job's own file when it was one; else it stays on the
 * job log, which gets one line saying why.  same: the fd already holding
 * this very path, or -1. */
static int child_out(int target, const char *path, int file, int same)
{
	char line[JOBCTX_PATH_MAX + 160];
	int fd, n;

	if (!path || !file || path[0] != '/')
		return -1;
	if (same >= 0)
		return dup2(same, target) < 0 ? -1 : target;
	if ((fd = child_open_out(path)) < 0 || dup2(fd, target) < 0) {
		n = snprintf(line, sizeof(line), "resched-agent: %s %s: %s: writing to "
			     "this log instead\n", target == 1 ? "stdout" : "stderr", path,
			     strerror(errno));
		(void)!write(2, line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return target;
}

static void child_stdio_files(const struct spawn_req *rq)
{
	const struct jobctx *c = rq->ctx;
	int out;

	if (!c)
		return;
	out = child_out(1, c->out, c->out_file, -1);
	child_out(2, c->err, c->err_file,
		  out >= 0 && c->err && !strcmp(c->err, c->out) ? out : -1);
}

static void child_run(const struct spawn_req *rq, const struct child_plan *cp)
{
	sigset_t none;
	int nul = open("/dev/null", O_RDONLY), pfd = cp->pfd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setsid();
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(cp->logfd, 1) < 0 ||
	    dup2(cp->logfd, 2) < 0)
		child_die(pfd, 3);
	pfd = child_close_fds(pfd);
	child_join(rq, pfd);
	child_limits(rq, pfd);
	if (drop_to(rq, cp) < 0)
		child_die(pfd, 1);
	if (rq->ctx && rq->ctx->has_umask)
		umask(rq->ctx->umask);
	if (chdir(rq->cwd && rq->cwd[0] ? rq->cwd : "/") < 0)
		child_die(pfd, 0);
	child_stdio_files(rq);
	execve(cp->path, cp->av, cp->env);
	child_die(pfd, 2);
}

static const char *const stage_name[] = { "chdir", "set credentials", "exec",
					  "stdio", "join cgroup", "set limit" };

/* What a failed stage names: the directory, the cgroup, the limit or the
 * program. */
static const char *stage_what(const struct spawn_req *rq, const struct child_fail *f,
			      const char *path)
{
	switch (f->stage) {
	case 0:
		return rq->cwd && rq->cwd[0] ? rq->cwd : "/";
	case 4:
		return cg_dir(rq, f->dir);
	case 5:
		return jobctx_limit_name(f->dir);
	default:
		return path;
	}
}

/* Wait for the status pipe: EOF means exec succeeded. */
static int parent_check(pid_t pid, int pfd, const struct spawn_req *rq,
			const char *path, char *err, size_t errlen)
{
	struct child_fail f;
	ssize_t n;

	do
		n = read(pfd, &f, sizeof(f));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(f))
		return 0;
	waitpid(pid, NULL, 0);
	if (f.stage < 0 || f.stage > 5)
		f.stage = 2;
	snprintf(err, errlen, "%s %s: %s", stage_name[f.stage], stage_what(rq, &f, path),
		 strerror(f.err));
	return -1;
}

static int check_start(const struct spawn_req *rq, const char *path,
		       char *err, size_t errlen)
{
	if (!path || path[0] != '/') {
		snprintf(err, errlen, "program path '%s' is not absolute", path ? path : "");
		return -1;
	}
	if (!rq->token || !rq->token[0] || strlen(rq->token) > TOKEN_MAX) {
		snprintf(err, errlen, "bad token");
		return -1;
	}
	if (geteuid() != 0 && rq->uid != geteuid()) {
		snprintf(err, errlen, "agent is not root: cannot run as uid %u",
			 (unsigned)rq->uid);
		return -1;
	}
	if (access(path, X_OK) < 0) {
		snprintf(err, errlen, "%s %s: %s", rq->binary ? "binary" : "program",
			 path, strerror(errno));
		return -1;
	}
	return 0;
}

pid_t agent_spawn_start(const struct spawn_req *rq, char *log_path,
			size_t log_size, char *err, size_t errlen)
{
	const char *path = rq->binary && rq->binary[0] ? rq->binary : rq->prog;
	char lp[4096], rel[4096];
	struct child_plan cp = { .logfd = -1, .pfd = -1 };
	int pipefd[2] = { -1, -1 };
	pid_t pid = -1;

	/* a schema's <binary> may be relative: to the job's working directory */
	if (path && path[0] != '/' && path == rq->binary && rq->cwd &&
	    rq->cwd[0] == '/' &&
	    (size_t)snprintf(rel, sizeof(rel), "%s/%s", rq->cwd, path) < sizeof(rel))
		path = rel;
	if (check_start(rq, path, err, errlen) < 0)
		return -1;
	if ((cp.logfd = open_log(rq, lp, sizeof(lp), err, errlen)) < 0)
		return -1;
	if (log_path)
		snprintf(log_path, log_size, "%s", lp);
	cp.path = path;
	if (!(cp.env = build_env(rq)) || !(cp.av = build_argv(rq)) ||
	    build_groups(rq, &cp.groups, &cp.ngroups) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		cp.pfd = pipefd[1];
		child_run(rq, &cp);
	}
	close(pipefd[1]);
	pipefd[1] = -1;
	if (parent_check(pid, pipefd[0], rq, path, err, errlen) < 0)
		pid = -1;
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	free(cp.av);
	free(cp.groups);
	free_env(cp.env);
	close(cp.logfd);
	return pid;
}
