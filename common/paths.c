/*
 * paths.c — installed-file lookup (see paths.h).  The one place that knows
 * the installed layout; agent_main.c and fs_main.c ask here.
 */
#include "common/paths.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef RESCHED_PREFIX
#define RESCHED_PREFIX "/usr/local"
#endif

/* Where `make install` puts the rules, relative to PREFIX. */
#define RULES_REL "/share/resched/rules"
/* ... and where they are in the source tree, relative to its root. */
#define BUILD_RULES_REL "/rules/default"

const char *paths_prefix(void)
{
	return RESCHED_PREFIX;
}

/* Cut the last path component off p in place ("/a/b" -> "/a", "/a" -> "/"). */
static void cut_last(char *p)
{
	char *s = strrchr(p, '/');

	if (!s)
		return;
	if (s == p)
		s[1] = '\0';
	else
		*s = '\0';
}

int paths_exe_dir(char *out, size_t size)
{
	char exe[PATH_MAX];
	static const char deleted[] = " (deleted)";
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t len;

	if (n <= 0 || exe[0] != '/')
		return -1;
	exe[n] = '\0';
	len = (size_t)n;
	/* the binary was replaced (reinstalled) while running */
	if (len > sizeof(deleted) - 1 &&
	    strcmp(exe + len - (sizeof(deleted) - 1), deleted) == 0)
		exe[len - (sizeof(deleted) - 1)] = '\0';
	cut_last(exe);
	if ((size_t)snprintf(out, size, "%s", exe) >= size)
		return -1;
	return 0;
}

static int is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *paths_rules_dir(char *out, size_t size, const char *sub)
{
	static const char *const rel[] = { RULES_REL, BUILD_RULES_REL };
	char top[PATH_MAX];

	if (paths_exe_dir(top, sizeof(top)) == 0) {
		cut_last(top);              /* PREFIX/bin -> PREFIX */
		if (strcmp(top, "/") == 0)
			top[0] = '\0';
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++)
			if ((size_t)snprintf(out, size, "%s%s%s", top, rel[i], sub) < size &&
			    is_dir(out))
				return out;
	}
	snprintf(out, size, "%s%s%s", RESCHED_PREFIX, RULES_REL, sub);
	return out;
}
