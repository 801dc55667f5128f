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

/* environ minus our variables, plus ours.  Caller frees the array and the
 * ENV_OURS strings at its end (see free_env). */
static char **build_env(const struct spawn_req *rq)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	if (!(env = calloc(n + ENV_OURS + 1, sizeof(*env))))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "RESCHED_RESTORE_TOKEN=", 22) &&
		    strncmp(environ[i], "RESCHED_JOB=", 12) &&
		    strncmp(environ[i], "RESCHED_RUN=", 12))
			env[k++] = environ[i];
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

struct child_fail {                   /* written on the status pipe */
	int stage;          /* 0 chdir 1 credentials 2 exec 3 stdio 4 cgroup */
	int err;
	int dir;                          /* stage 4: which cg_dirs entry */
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

static int drop_to(uid_t uid)
{
	struct passwd *pw = getpwuid(uid);
	gid_t gid = pw ? pw->pw_gid : (gid_t)uid;

	if (geteuid() != 0)
		return 0;                 /* same uid: checked by the caller */
	if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
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

static void child_run(const struct spawn_req *rq, const char *path, int logfd,
		      int pfd, char **av, char **env)
{
	sigset_t none;
	int nul = open("/dev/null", O_RDONLY);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setsid();
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
		child_die(pfd, 3);
	child_join(rq, pfd);
	if (drop_to(rq->uid) < 0)
		child_die(pfd, 1);
	if (chdir(rq->cwd && rq->cwd[0] ? rq->cwd : "/") < 0)
		child_die(pfd, 0);
	execve(path, av, env);
	child_die(pfd, 2);
}

static const char *const stage_name[] = { "chdir", "set credentials", "exec",
					  "stdio", "join cgroup" };

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
	if (f.stage < 0 || f.stage > 4)
		f.stage = 2;
	snprintf(err, errlen, "%s %s: %s", stage_name[f.stage],
		 f.stage == 0 ? (rq->cwd ? rq->cwd : "/") :
		 f.stage == 4 ? cg_dir(rq, f.dir) : path, strerror(f.err));
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
	char **env = NULL, **av = NULL;
	int logfd = -1, pipefd[2] = { -1, -1 };
	pid_t pid = -1;

	/* a schema's <binary> may be relative: to the job's working directory */
	if (path && path[0] != '/' && path == rq->binary && rq->cwd &&
	    rq->cwd[0] == '/' &&
	    (size_t)snprintf(rel, sizeof(rel), "%s/%s", rq->cwd, path) < sizeof(rel))
		path = rel;
	if (check_start(rq, path, err, errlen) < 0)
		return -1;
	if ((logfd = open_log(rq, lp, sizeof(lp), err, errlen)) < 0)
		return -1;
	if (log_path)
		snprintf(log_path, log_size, "%s", lp);
	if (!(env = build_env(rq)) || !(av = build_argv(rq))) {
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
	if (pid == 0)
		child_run(rq, path, logfd, pipefd[1], av, env);
	close(pipefd[1]);
	pipefd[1] = -1;
	if (parent_check(pid, pipefd[0], rq, path, err, errlen) < 0)
		pid = -1;
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	free(av);
	free_env(env);
	close(logfd);
	return pid;
}
