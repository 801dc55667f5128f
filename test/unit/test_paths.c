/* Unit tests for common/paths.c: files found next to the executable.  The
 * installed layout (PREFIX/bin next to PREFIX/share/resched) is tested by
 * test/integration/35-install.sh, which runs installed programs. */
#include "common/paths.h"
#include "test/unit/unit.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TEST(paths_exe_dir_is_the_runners_directory)
{
	char dir[PATH_MAX], exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	CHECK(n > 0);
	exe[n] = '\0';
	CHECK(paths_exe_dir(dir, sizeof(dir)) == 0);
	CHECK(strncmp(exe, dir, strlen(dir)) == 0);
	CHECK(exe[strlen(dir)] == '/');
	CHECK(strchr(exe + strlen(dir) + 1, '/') == NULL);
	CHECK(paths_exe_dir(dir, 4) == -1);          /* does not fit */
}

TEST(paths_rules_dir_is_the_build_trees_or_the_prefixs)
{
	char dir[PATH_MAX], want[PATH_MAX + 64], out[PATH_MAX];
	char *slash;
	struct stat st;

	/* build/unit-tests: EXE/../rules/default is the source's rules;
	 * build/asan/unit-tests: nothing there, the compiled-in PREFIX. */
	CHECK(paths_exe_dir(dir, sizeof(dir)) == 0);
	slash = strrchr(dir, '/');
	CHECK(slash != NULL);
	*slash = '\0';
	snprintf(want, sizeof(want), "%s/rules/default", dir);
	if (stat(want, &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(want, sizeof(want), "%s/rules/default/scripts", dir);
	else
		snprintf(want, sizeof(want), "%s/share/resched/rules/scripts",
			 paths_prefix());
	CHECK_STR_EQ(paths_rules_dir(out, sizeof(out), "/scripts"), want);
}
