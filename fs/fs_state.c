/* fs_state.c — see fs_state.h. */
#include "fs/fs_state.h"

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "fs/registry.h"
#include "rules/rules.h"

static void serr(char *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void serr(char *err, const char *fmt, ...)
{
	va_list ap;
	int e = errno;                /* callers return errno: keep it */

	va_start(ap, fmt);
	vsnprintf(err, REG_ERR_LEN, fmt, ap);
	va_end(ap);
	errno = e;
}

/* fsync the directory holding path (its last component stripped). */
static int fsync_parent(const char *path)
{
	char d[4096];
	char *slash;
	int fd, rc, e;

	snprintf(d, sizeof(d), "%s", path);
	slash = strrchr(d, '/');
	if (slash == d)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(d, sizeof(d), ".");
	fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

/* Is name a temporary file of ours: ".NAME.tmp.XXXXXX" (util_write_atomic)
 * or "NAME.tmp.PID" (what it wrote before)? */
static int is_temp_name(const char *n)
{
	const char *t = strstr(n, ".tmp.");
	size_t l;

	if (!t)
		return 0;
	while (strstr(t + 1, ".tmp."))
		t = strstr(t + 1, ".tmp.");
	t += 5;
	l = strlen(t);
	if (n[0] == '.' && l == 6)
		return 1;
	return l > 0 && strspn(t, "0123456789") == l;
}

/* Remove leftover temporary files of dir; returns how many. */
static int clean_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[4096];
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (is_temp_name(de->d_name)) {
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			if (unlink(p) == 0)
				n++;
		}
	closedir(d);
	return n;
}

static int mkdir_p1(const char *path, char *err)
{
	if (mkdir(path, 0755) == 0 || errno == EEXIST)
		return 0;
	serr(err, "mkdir %s: %s", path, strerror(errno));
	return -1;
}

int fs_state_init(const char *dir, int *fresh, char *err)
{
	char p[4096];
	struct stat st;

	if (mkdir_p1(dir, err) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/history", dir);
	if (mkdir_p1(p, err) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/rules", dir);
	*fresh = stat(p, &st) < 0;
	if (mkdir_p1(p, err) < 0)
		return -1;
	fs_state_clean(dir);
	return 0;
}

int fs_state_clean(const char *dir)
{
	char p[4096];
	int n = clean_dir(dir);

	snprintf(p, sizeof(p), "%s/rules", dir);
	n += clean_dir(p);
	snprintf(p, sizeof(p), "%s/history", dir);
	n += clean_dir(p);
	snprintf(p, sizeof(p), "%s/jobs", dir);
	n += clean_dir(p);
	return n;
}

static int is_rule_name(const char *n)
{
	size_t l = strlen(n);

	return l > 5 && n[0] != '.' && strcmp(n + l - 5, ".rule") == 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted list of *.rule names in dir; caller frees each and the array. */
static char **list_rules(const char *dir, size_t *n, char *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t cap = 0;

	*n = 0;
	if (!d) {
		serr(err, "%s: %s", dir, strerror(errno));
		return NULL;
	}
	while ((de = readdir(d))) {
		if (!is_rule_name(de->d_name))
			continue;
		if (*n == cap) {
			char **nv = realloc(v, (cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv)
				break;
			v = nv;
			cap = cap ? cap * 2 : 16;
		}
		v[(*n)++] = strdup(de->d_name);
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), name_cmp);
	if (!v)
		v = calloc(1, sizeof(*v));
	return v;
}

void fs_state_free_files(char **names, char **texts, size_t *lens, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (names)
			free(names[i]);
		if (texts)
			free(texts[i]);
	}
	free(names);
	free(texts);
	free(lens);
}

int fs_state_read_rules(const char *dir, char ***names, char ***texts,
			size_t **lens, size_t *n, char *err)
{
	char p[4096];
	char **nm = list_rules(dir, n, err);

	if (!nm)
		return -1;
	*texts = calloc(*n + 1, sizeof(char *));
	*lens = calloc(*n + 1, sizeof(size_t));
	*names = nm;
	if (!*texts || !*lens)
		goto fail;
	for (size_t i = 0; i < *n; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, nm[i]);
		(*texts)[i] = util_read_file(p, RULE_FILE_MAX, &(*lens)[i]);
		if (!(*texts)[i]) {
			serr(err, "%s: %s", p, strerror(errno));
			goto fail;
		}
	}
	return 0;
fail:
	fs_state_free_files(*names, *texts, *lens, *n);
	*names = *texts = NULL;
	*lens = NULL;
	*n = 0;
	return -1;
}

int fs_state_write(const char *dir, const char *rel, const char *text,
		   size_t len, char *err)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	if (util_write_atomic(p, text, len, 0644) == 0)
		return 0;
	serr(err, "%s: %s", p, strerror(errno));
	return -1;
}

int fs_state_stage_open(const char *dir)
{
	char p[4096];
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR &&
			errno != EINVAL))
		return fd;
	snprintf(p, sizeof(p), "%s/.stage.tmp.XXXXXX", dir);
	fd = mkostemp(p, O_CLOEXEC);
	if (fd >= 0)
		unlink(p);
	return fd;
}

int fs_state_stage_write(int fd, const void *buf, size_t len, long long off)
{
	const char *b = buf;

	while (len > 0) {
		ssize_t w = pwrite(fd, b, len, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		b += w;
		off += w;
		len -= (size_t)w;
	}
	return 0;
}

char *fs_state_read(const char *dir, const char *rel, size_t *len,
		    int *missing, char *err)
{
	char p[4096];
	char *t;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	t = util_read_file(p, FS_STATE_HISTORY_MAX, len);
	*missing = !t && errno == ENOENT;
	if (!t && !*missing)
		serr(err, "%s: %s", p, strerror(errno));
	return t;
}

int fs_state_save_rule(const char *dir, const char *name, const char *text,
		       size_t len, char *err)
{
	char rel[512];

	snprintf(rel, sizeof(rel), "rules/%s", name);
	return fs_state_write(dir, rel, text, len, err);
}

int fs_state_remove_rule(const char *dir, const char *name, char *err)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/rules/%s", dir, name);
	if ((unlink(p) == 0 || errno == ENOENT) && fsync_parent(p) == 0)
		return 0;
	serr(err, "%s: %s", p, strerror(errno));
	return -1;
}

int fs_state_rename_rule(const char *dir, const char *from, const char *to,
			 char *err)
{
	char a[4096], b[4096];

	snprintf(a, sizeof(a), "%s/rules/%s", dir, from);
	snprintf(b, sizeof(b), "%s/rules/%s", dir, to);
	if (rename(a, b) == 0 && fsync_parent(b) == 0)
		return 0;
	serr(err, "rename %s: %s", a, strerror(errno));
	return -1;
}
