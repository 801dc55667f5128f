/*
 * paths.h — where a resched program finds the files installed with it.
 *
 * `make install` puts programs in PREFIX/bin and data in
 * PREFIX/share/resched (rules/, rules/scripts/).  A program finds that data
 * from its own executable: dirname(/proc/self/exe)/../share/resched, so the
 * same binaries work for any PREFIX, inside a DESTDIR staging tree, and
 * after the installed tree is moved.  Run from the build tree (bin/X), the
 * data is the source tree's rules/default.  Only when neither exists (or
 * /proc is not mounted) is the PREFIX compiled in (RESCHED_PREFIX) used.
 * docs/INSTALL.md says the same for administrators.
 */
#ifndef RESCHED_PATHS_H
#define RESCHED_PATHS_H

#include <stddef.h>

/* The directory of the running executable (symlinks resolved) into out;
 * 0, or -1 when /proc/self/exe cannot be read or the path does not fit. */
int paths_exe_dir(char *out, size_t size);

/* The default rules directory with `sub` appended ("" or "/scripts"): the
 * first directory of EXE/../share/resched/rules (installed) and
 * EXE/../rules/default (build tree), else RESCHED_PREFIX/share/resched/rules
 * (which may not exist: the caller's error then names it).  Returns out. */
const char *paths_rules_dir(char *out, size_t size, const char *sub);

/* The PREFIX compiled in, for messages. */
const char *paths_prefix(void);

#endif
