/*
 * fs_state.h — persistence of the registry under --state DIR.
 *
 * Layout (docs/REGISTRY.md):
 *   DIR/rules/<name>.rule   the rule files, as written
 *   DIR/policy              the policy text
 *   DIR/sched               "name value" lines, one per sched setting
 *   DIR/next_job            the next job id (decimal)
 *   DIR/history/<id>        one line per migration of job <id>
 * Every write is atomic (util_write_atomic).  Library convention: 0 on
 * success, -1 with a one-line reason in `err` (REG_ERR_LEN bytes).
 * No locking: the registry serialises calls under its own lock.
 */
#ifndef RESCHED_FS_STATE_H
#define RESCHED_FS_STATE_H

#include <stddef.h>

#define FS_STATE_HISTORY_MAX (64 * 1024)

/* Create DIR, DIR/history.  *fresh = 1 when DIR/rules did not exist yet
 * (then it is created and the caller seeds it). */
int fs_state_init(const char *dir, int *fresh, char *err);

/* The *.rule files of `dir`, sorted by name.  names/texts/lens are arrays
 * of *n entries, each string malloc'd; the caller frees them with
 * fs_state_free_files.  Files larger than RULE_FILE_MAX are an error. */
int fs_state_read_rules(const char *dir, char ***names, char ***texts,
			size_t **lens, size_t *n, char *err);
void fs_state_free_files(char **names, char **texts, size_t *lens, size_t n);

int fs_state_save_rule(const char *dir, const char *name, const char *text,
		       size_t len, char *err);
int fs_state_remove_rule(const char *dir, const char *name, char *err);
int fs_state_rename_rule(const char *dir, const char *from, const char *to,
			 char *err);

/* Whole-file helpers relative to DIR: read returns a malloc'd NUL-ended
 * buffer the caller frees, or NULL (missing file: NULL and *missing=1). */
char *fs_state_read(const char *dir, const char *rel, size_t *len,
		    int *missing, char *err);
int fs_state_write(const char *dir, const char *rel, const char *text,
		   size_t len, char *err);

#endif
