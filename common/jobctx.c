/* jobctx.c — a job's environment, umask, groups, limits, stdout/stderr;
 * see jobctx.h. */
#include "common/jobctx.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

static const struct {
	const char *name;             /* on the wire */
	int res;
	const char *title;            /* in /proc/PID/limits */
} limits[JOBCTX_NLIMITS] = {
	{ "cpu", RLIMIT_CPU, "Max cpu time" },
	{ "fsize", RLIMIT_FSIZE, "Max file size" },
	{ "data", RLIMIT_DATA, "Max data size" },
	{ "stack", RLIMIT_STACK, "Max stack size" },
	{ "core", RLIMIT_CORE, "Max core file size" },
	{ "rss", RLIMIT_RSS, "Max resident set" },
	{ "nproc", RLIMIT_NPROC, "Max processes" },
	{ "nofile", RLIMIT_NOFILE, "Max open files" },
	{ "memlock", RLIMIT_MEMLOCK, "Max locked memory" },
	{ "as", RLIMIT_AS, "Max address space" },
	{ "locks", RLIMIT_LOCKS, "Max file locks" },
	{ "sigpending", RLIMIT_SIGPENDING, "Max pending signals" },
	{ "msgqueue", RLIMIT_MSGQUEUE, "Max msgqueue size" },
	{ "nice", RLIMIT_NICE, "Max nice priority" },
	{ "rtprio", RLIMIT_RTPRIO, "Max realtime priority" },
	{ "rttime", RLIMIT_RTTIME, "Max realtime timeout" },
};

const char *jobctx_limit_name(int i)
{
	return i >= 0 && i < JOBCTX_NLIMITS ? limits[i].name : "?";
}

int jobctx_limit_resource(int i)
{
	return i >= 0 && i < JOBCTX_NLIMITS ? limits[i].res : -1;
}

static int limit_index(const char *name, size_t len)
{
	for (int i = 0; i < JOBCTX_NLIMITS; i++)
		if (strlen(limits[i].name) == len && !memcmp(limits[i].name, name, len))
			return i;
	return -1;
}

/* ---- life cycle -------------------------------------------------------------- */

static void env_free(char **env, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(env[i]);
	free(env);
}

void jobctx_free(struct jobctx *c)
{
	if (!c)
		return;
	env_free(c->env, c->nenv);
	free(c->groups);
	free(c->out);
	free(c->err);
	memset(c, 0, sizeof(*c));
}

static char *dup_or_null(const char *s, int *bad)
{
	char *d;

	if (!s)
		return NULL;
	if (!(d = strdup(s)))
		*bad = 1;
	return d;
}

int jobctx_copy(struct jobctx *dst, const struct jobctx *src)
{
	int bad = 0;

	jobctx_free(dst);
	*dst = *src;
	dst->env = NULL;
	dst->nenv = 0;
	dst->groups = NULL;
	dst->out = dup_or_null(src->out, &bad);
	dst->err = dup_or_null(src->err, &bad);
	if (src->nenv && !(dst->env = calloc(src->nenv, sizeof(char *))))
		bad = 1;
	for (size_t i = 0; dst->env && i < src->nenv; i++, dst->nenv++)
		if (!(dst->env[i] = strdup(src->env[i])))
			bad = 1;
	if (src->ngroups && !(dst->groups = malloc(src->ngroups * sizeof(gid_t))))
		bad = 1;
	else if (src->ngroups)
		memcpy(dst->groups, src->groups, src->ngroups * sizeof(gid_t));
	if (bad) {
		jobctx_free(dst);
		return -1;
	}
	return 0;
}

/* ---- the environment ---------------------------------------------------------- */

/* The variables the destination agent sets itself. */
static int env_ours(const char *e)
{
	return !strncmp(e, "RESCHED_RESTORE_TOKEN=", 22) ||
	       !strncmp(e, "RESCHED_JOB=", 12) || !strncmp(e, "RESCHED_RUN=", 12);
}

/* Check the bounds of n entries; 0, or -1 with the reason. */
static int env_check(char *const *env, size_t n, char *err, size_t errlen)
{
	size_t bytes = 0;

	if (n > JOBCTX_ENV_MAX) {
		util_set_err(err, errlen, "environment of %zu entries (at most %d)",
			     n, JOBCTX_ENV_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		bytes += msg_escaped_len(env[i]);
	if (bytes > JOBCTX_ENV_BYTES) {
		util_set_err(err, errlen, "environment of %zu bytes encoded (at most %d)",
			     bytes, JOBCTX_ENV_BYTES);
		return -1;
	}
	return 0;
}

static void env_set(struct jobctx *c, char **env, size_t n)
{
	env_free(c->env, c->nenv);
	c->env = env;
	c->nenv = n;
	c->has_env = 1;
}

/* Append a copy of e (elen bytes) to *env (n entries, room for cap). */
static int env_push(char ***env, size_t *n, size_t *cap, const char *e, size_t elen)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		char **ne = realloc(*env, nc * sizeof(**env));

		if (!ne)
			return -1;
		*env = ne;
		*cap = nc;
	}
	if (!((*env)[*n] = strndup(e, elen)))
		return -1;
	(*n)++;
	return 0;
}

int jobctx_parse_environ(struct jobctx *c, const char *buf, size_t len,
			 char *err, size_t errlen)
{
	size_t n = 0, cap = 0, off = 0;
	char **env = NULL;

	while (off < len) {
		const char *e = buf + off;
		const char *z = memchr(e, 0, len - off);
		size_t elen = z ? (size_t)(z - e) : len - off;

		off += elen + 1;
		if (!elen || (elen >= 12 && env_ours(e)))
			continue;
		if (n == JOBCTX_ENV_MAX) {
			util_set_err(err, errlen, "environment of more than %d entries",
				     JOBCTX_ENV_MAX);
			goto fail;
		}
		if (env_push(&env, &n, &cap, e, elen) < 0) {
			util_set_err(err, errlen, "out of memory");
			goto fail;
		}
	}
	if (env_check(env, n, err, errlen) < 0)
		goto fail;
	env_set(c, env, n);
	return 0;
fail:
	env_free(env, n);
	return -1;
}

/* ---- /proc/PID/status -------------------------------------------------------- */

/* The value of line "KEY:\t..." in status, or NULL; *len its length. */
static const char *status_line(const char *status, const char *key, size_t *len)
{
	size_t kl = strlen(key);

	for (const char *p = status; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (!strncmp(p, key, kl) && p[kl] == ':') {
			const char *v = p + kl + 1, *nl = strchr(v, '\n');

			*len = nl ? (size_t)(nl - v) : strlen(v);
			return v;
		}
	return NULL;
}

/* One gid of k decimal digits (no sign, at most 4294967294). */
static int parse_gid(const char *s, size_t k, gid_t *out)
{
	uint64_t x = 0;

	if (!k || k > 10)
		return -1;
	for (size_t i = 0; i < k; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (x > 4294967294ULL)
		return -1;
	*out = (gid_t)x;
	return 0;
}

/* Groups in v (len bytes): "G1 G2 ..." with blanks anywhere (/proc, wire
 * 0), or exactly "G1,G2,..." (wire 1).  At most JOBCTX_GROUPS_MAX. */
static int parse_groups(struct jobctx *c, const char *v, size_t len, int wire,
			char *err, size_t errlen)
{
	const char *seps = wire ? "," : " \t", *p = v, *end = v + len;
	gid_t *g = NULL;
	size_t n = 0;

	while (p < end) {
		size_t k = 0;

		if (!wire && (*p == ' ' || *p == '\t')) {
			p++;
			continue;
		}
		while (p + k < end && !memchr(seps, p[k], strlen(seps)))
			k++;
		if (n == JOBCTX_GROUPS_MAX) {
			util_set_err(err, errlen, "more than %d groups", JOBCTX_GROUPS_MAX);
			free(g);
			return -1;
		}
		if (!(n % 64)) {
			gid_t *ng = realloc(g, (n + 64) * sizeof(*g));

			if (!ng)
				goto bad;
			g = ng;
		}
		if (parse_gid(p, k, &g[n]) < 0)
			goto bad;
		n++;
		p += k;
		if (wire && p < end && ++p == end)
			goto bad;             /* a trailing comma */
	}
	free(c->groups);
	c->groups = g;
	c->ngroups = n;
	c->has_groups = 1;
	return 0;
bad:
	util_set_err(err, errlen, "groups '%.*s' do not parse", (int)(len > 60 ? 60 : len), v);
	free(g);
	return -1;
}

static int parse_umask(const char *v, size_t len, mode_t *out)
{
	char num[8], *e;
	unsigned long x;

	while (len && (*v == ' ' || *v == '\t'))
		v++, len--;
	if (!len || len >= sizeof(num))
		return -1;
	memcpy(num, v, len);
	num[len] = 0;
	if (num[0] < '0' || num[0] > '7')
		return -1;
	x = strtoul(num, &e, 8);
	if (*e || x > 0777)
		return -1;
	*out = (mode_t)x;
	return 0;
}

int jobctx_parse_status(struct jobctx *c, const char *status, char *err,
			size_t errlen)
{
	size_t len = 0;
	const char *v;
	int rc = 0;

	if ((v = status_line(status, "Umask", &len))) {
		if (parse_umask(v, len, &c->umask) == 0)
			c->has_umask = 1;
		else {
			util_set_err(err, errlen, "umask does not parse");
			rc = -1;
		}
	}
	if ((v = status_line(status, "Groups", &len)) &&
	    parse_groups(c, v, len, 0, err, errlen) < 0)
		rc = -1;
	return rc;
}

/* ---- limits ------------------------------------------------------------------- */

static int fmt_rlim(char *buf, size_t size, rlim_t v)
{
	if (v == RLIM_INFINITY)
		return snprintf(buf, size, "unlimited");
	return snprintf(buf, size, "%llu", (unsigned long long)v);
}

static int parse_rlim(const char *s, size_t len, rlim_t *out)
{
	char num[24];
	uint64_t v;

	if (!len || len >= sizeof(num))
		return -1;
	memcpy(num, s, len);
	num[len] = 0;
	if (!strcmp(num, "unlimited")) {
		*out = RLIM_INFINITY;
		return 0;
	}
	if ((num[0] == '0' && len > 1) || util_parse_u64(num, &v) < 0 ||
	    (rlim_t)v == RLIM_INFINITY)
		return -1;
	*out = (rlim_t)v;
	return 0;
}

/* One "NAME:SOFT:HARD" of len bytes. */
static int parse_limit(struct jobctx *c, const char *s, size_t len)
{
	const char *c1 = memchr(s, ':', len), *c2;
	struct rlimit rl;
	int i;

	if (!c1 || !(c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - s))))
		return -1;
	if (parse_rlim(c1 + 1, (size_t)(c2 - c1 - 1), &rl.rlim_cur) < 0 ||
	    parse_rlim(c2 + 1, len - (size_t)(c2 + 1 - s), &rl.rlim_max) < 0 ||
	    rl.rlim_cur > rl.rlim_max)
		return -1;
	if ((i = limit_index(s, (size_t)(c1 - s))) < 0)
		return 0;                     /* a resource we do not know */
	c->lim[i] = rl;
	c->lim_known |= 1u << i;
	return 0;
}

static int parse_limits(struct jobctx *c, const char *v, char *err, size_t errlen)
{
	for (const char *p = v; *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (parse_limit(c, p, len) < 0) {
			util_set_err(err, errlen, "limit '%.*s' does not parse",
				     (int)(len > 60 ? 60 : len), p);
			return -1;
		}
		p += len + (comma ? 1 : 0);
		if (comma && !*p) {
			util_set_err(err, errlen, "limits end in ','");
			return -1;
		}
	}
	return 0;
}

/* One line of /proc/PID/limits: "TITLE   SOFT   HARD   UNITS". */
static int proc_limit_line(struct jobctx *c, const char *line, size_t len)
{
	for (int i = 0; i < JOBCTX_NLIMITS; i++) {
		size_t tl = strlen(limits[i].title);
		const char *p = line + tl, *end = line + len, *w[2];
		size_t wl[2];
		struct rlimit rl;

		if (len <= tl || memcmp(line, limits[i].title, tl) || p[0] != ' ')
			continue;
		for (int k = 0; k < 2; k++) {   /* the two words after the title */
			while (p < end && *p == ' ')
				p++;
			w[k] = p;
			while (p < end && *p != ' ')
				p++;
			wl[k] = (size_t)(p - w[k]);
		}
		if (parse_rlim(w[0], wl[0], &rl.rlim_cur) < 0 ||
		    parse_rlim(w[1], wl[1], &rl.rlim_max) < 0 || rl.rlim_cur > rl.rlim_max)
			return -1;
		c->lim[i] = rl;
		c->lim_known |= 1u << i;
		return 0;
	}
	return 0;                         /* the header, or a resource we do not know */
}

int jobctx_parse_limits(struct jobctx *c, const char *text, char *err, size_t errlen)
{
	struct jobctx t = JOBCTX_INIT;

	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (proc_limit_line(&t, p, len) < 0) {
			util_set_err(err, errlen, "limits line '%.*s' does not parse",
				     (int)(len > 60 ? 60 : len), p);
			return -1;
		}
		p += len + (nl ? 1 : 0);
	}
	memcpy(c->lim, t.lim, sizeof(c->lim));
	c->lim_known = t.lim_known;
	return 0;
}

/* ---- the wire -------------------------------------------------------------------- */

static int env_to_msg(const struct jobctx *c, struct msg *m)
{
	char key[32];

	if (msg_setf(m, "envc", "%zu", c->nenv) < 0)
		return -1;
	for (size_t i = 0; i < c->nenv; i++) {
		snprintf(key, sizeof(key), "env%zu", i);
		if (msg_set(m, key, c->env[i]) < 0)
			return -1;
	}
	return 0;
}

/* "A,B,C" of n gids into a new string (caller frees), NULL on no memory. */
static char *groups_text(const gid_t *g, size_t n)
{
	char *s = malloc(n * 11 + 1), *p = s;

	if (!s)
		return NULL;
	*p = 0;
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%u", i ? "," : "", (unsigned)g[i]);
	return s;
}

static int limits_to_msg(const struct jobctx *c, struct msg *m)
{
	char buf[JOBCTX_NLIMITS * 64], *p = buf;

	*p = 0;
	for (int i = 0; i < JOBCTX_NLIMITS; i++) {
		if (!(c->lim_known & (1u << i)))
			continue;
		p += sprintf(p, "%s%s:", p == buf ? "" : ",", limits[i].name);
		p += fmt_rlim(p, 24, c->lim[i].rlim_cur);
		*p++ = ':';
		p += fmt_rlim(p, 24, c->lim[i].rlim_max);
	}
	return buf[0] ? msg_set(m, "limits", buf) : 0;
}

static int stdio_to_msg(struct msg *m, const char *key, const char *path, int file)
{
	char fkey[32];

	if (!path)
		return 0;
	snprintf(fkey, sizeof(fkey), "%s_file", key);
	if (msg_set(m, key, path) < 0 || (file && msg_set(m, fkey, "1") < 0))
		return -1;
	return 0;
}

int jobctx_to_msg(const struct jobctx *c, struct msg *m)
{
	char *g;
	int rc;

	if (c->has_env && env_to_msg(c, m) < 0)
		return -1;
	if (c->has_umask && msg_setf(m, "umask", "%04o", (unsigned)c->umask) < 0)
		return -1;
	if (c->has_groups) {
		if (!(g = groups_text(c->groups, c->ngroups)))
			return -1;
		rc = msg_set(m, "groups", g);
		free(g);
		if (rc < 0)
			return -1;
	}
	if (limits_to_msg(c, m) < 0 || stdio_to_msg(m, "stdout", c->out, c->out_file) < 0 ||
	    stdio_to_msg(m, "stderr", c->err, c->err_file) < 0)
		return -1;
	return 0;
}

static int env_from_msg(struct jobctx *c, const struct msg *m, char *err,
			size_t errlen)
{
	const char *v = msg_get(m, "envc");
	uint64_t n;
	char key[32], **env;

	if (!v)
		return 0;
	if (util_parse_u64(v, &n) < 0 || n > JOBCTX_ENV_MAX) {
		util_set_err(err, errlen, "envc '%.20s' is not 0..%d", v, JOBCTX_ENV_MAX);
		return -1;
	}
	if (!(env = calloc(n ? n : 1, sizeof(*env)))) {
		util_set_err(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "env%zu", i);
		if (!msg_get(m, key) || !(env[i] = strdup(msg_get(m, key)))) {
			util_set_err(err, errlen, "%s missing", key);
			env_free(env, i);
			return -1;
		}
	}
	if (env_check(env, n, err, errlen) < 0) {
		env_free(env, n);
		return -1;
	}
	env_set(c, env, n);
	return 0;
}

static int stdio_from_msg(const struct msg *m, const char *key, char **path,
			  int *file, char *err, size_t errlen)
{
	const char *v = msg_get(m, key), *f;
	char fkey[32];

	if (!v)
		return 0;
	snprintf(fkey, sizeof(fkey), "%s_file", key);
	f = msg_get(m, fkey);
	if (strlen(v) > JOBCTX_PATH_MAX || (f && strcmp(f, "0") && strcmp(f, "1"))) {
		util_set_err(err, errlen, "%s does not parse", key);
		return -1;
	}
	if (!(*path = strdup(v))) {
		util_set_err(err, errlen, "out of memory");
		return -1;
	}
	*file = f && !strcmp(f, "1");
	return 0;
}

static int scalars_from_msg(struct jobctx *c, const struct msg *m, char *err,
			    size_t errlen)
{
	const char *v;

	if ((v = msg_get(m, "umask"))) {
		if (parse_umask(v, strlen(v), &c->umask) < 0) {
			util_set_err(err, errlen, "umask '%.20s' does not parse", v);
			return -1;
		}
		c->has_umask = 1;
	}
	if ((v = msg_get(m, "groups")) &&
	    parse_groups(c, v, strlen(v), 1, err, errlen) < 0)
		return -1;
	if ((v = msg_get(m, "limits")) && parse_limits(c, v, err, errlen) < 0)
		return -1;
	return 0;
}

int jobctx_from_msg(struct jobctx *c, const struct msg *m, char *err,
		    size_t errlen)
{
	jobctx_free(c);
	if (env_from_msg(c, m, err, errlen) < 0 || scalars_from_msg(c, m, err, errlen) < 0 ||
	    stdio_from_msg(m, "stdout", &c->out, &c->out_file, err, errlen) < 0 ||
	    stdio_from_msg(m, "stderr", &c->err, &c->err_file, err, errlen) < 0) {
		jobctx_free(c);
		return -1;
	}
	return 0;
}

/* ---- /proc ------------------------------------------------------------------------ */

static void add_dropped(char *dropped, size_t size, const char *what, const char *why)
{
	size_t n = strlen(dropped);

	if (n < size)
		snprintf(dropped + n, size - n, "%s%s: %s", n ? "; " : "", what, why);
}

static void read_environ(struct jobctx *c, pid_t pid, char *dropped, size_t dl)
{
	char path[64], why[JOBCTX_ERR_LEN];
	size_t len;
	char *buf;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	/* raw bytes never exceed their encoded size: one more is too many */
	if (!(buf = util_read_file(path, JOBCTX_ENV_BYTES + 1, &len))) {
		add_dropped(dropped, dl, "environment", errno == EFBIG ?
			    "larger than 65536 bytes" : strerror(errno));
		return;
	}
	if (jobctx_parse_environ(c, buf, len, why, sizeof(why)) < 0)
		add_dropped(dropped, dl, "environment", why);
	free(buf);
}

/* /proc/PID/NAME (at most max bytes) through parse into c; what cannot be
 * read or parsed is named in dropped.  /proc/PID/limits is readable by
 * anyone, where prlimit(2) on another process needs CAP_SYS_RESOURCE or
 * the same ids. */
static void read_part(struct jobctx *c, pid_t pid, const char *name, size_t max,
		      int (*parse)(struct jobctx *, const char *, char *, size_t),
		      char *dropped, size_t dl)
{
	char path[64], why[JOBCTX_ERR_LEN];
	char *buf;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	if (!(buf = util_read_file(path, max, NULL))) {
		add_dropped(dropped, dl, name, strerror(errno));
		return;
	}
	if (parse(c, buf, why, sizeof(why)) < 0)
		add_dropped(dropped, dl, name, why);
	free(buf);
}

/* What /proc/PID/fd/N links to, and whether it is a regular file. */
static void read_fd(pid_t pid, int fd, char **path, int *file, char *dropped,
		    size_t dl)
{
	char p[64], buf[JOBCTX_PATH_MAX + 1];
	struct stat st;
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/%d/fd/%d", (int)pid, fd);
	n = readlink(p, buf, sizeof(buf));
	if (n < 0 || n > JOBCTX_PATH_MAX) {
		if (n >= 0 || errno != ENOENT)  /* a closed fd is no news */
			add_dropped(dropped, dl, fd == 1 ? "stdout" : "stderr",
				    n < 0 ? strerror(errno) : "path too long");
		return;
	}
	buf[n] = 0;
	*file = stat(p, &st) == 0 && S_ISREG(st.st_mode) && buf[0] == '/';
	*path = strdup(buf);
}

int jobctx_read_proc(struct jobctx *c, pid_t pid, char *dropped,
		     size_t droppedlen)
{
	jobctx_free(c);
	dropped[0] = 0;
	read_environ(c, pid, dropped, droppedlen);
	read_part(c, pid, "status", 1 << 20, jobctx_parse_status, dropped, droppedlen);
	read_part(c, pid, "limits", 1 << 16, jobctx_parse_limits, dropped, droppedlen);
	read_fd(pid, 1, &c->out, &c->out_file, dropped, droppedlen);
	read_fd(pid, 2, &c->err, &c->err_file, dropped, droppedlen);
	return 0;
}
