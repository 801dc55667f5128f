/*
 * fs_state.h — persistence of the registry under --state DIR.
 *
 * Layout (docs/REGISTRY.md):
 *   DIR/rules/<name>.rule   the rule files, as written
 *   DIR/policy              the policy text
 *   DIR/sched               "name value" lines, one per sched setting
 *   DIR/next_job            the next job id (decimal)
 *   DIR/history/<id>        one line per migration of job <id>
 * Every write is durable and atomic: a temporary ".NAME.tmp.XXXXXX" in
 * the same directory, written, fsync'd, renamed over NAME, then the
 * directory fsync'd; 0 means it is on disk.  Removes and renames fsync
 * the directory too.  Library convention: 0 on success, -1 with errno
 * (ENOSPC, EIO, ...) and a one-line reason in `err` (REG_ERR_LEN bytes).
 * No locking: the registry serialises calls under its own lock.
 */
#ifndef RESCHED_FS_STATE_H
#define RESCHED_FS_STATE_H

#include <stddef.h>

#define FS_STATE_HISTORY_MAX (64 * 1024)

/* Create DIR, DIR/history.  *fresh = 1 when DIR/rules did not exist yet
 * (then it is created and the caller seeds it).  Leftover temporary files
 * (a crash in the middle of a write) are removed (fs_state_clean). */
int fs_state_init(const char *dir, int *fresh, char *err);
/* Remove the temporary files of DIR, DIR/rules, DIR/history: returns
 * how many. */
int fs_state_clean(const char *dir);

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

/* A nameless scratch file in DIR (O_TMPFILE, else a file unlinked at
 * once) that holds a rule or policy text while it arrives, so that a full
 * disk fails the write(2) that brings the bytes: fs_state_stage_write
 * puts len bytes at off, 0 or -1 with errno (ENOSPC...).  Close the fd
 * to free the space; nothing is left in DIR. */
int fs_state_stage_open(const char *dir);
int fs_state_stage_write(int fd, const void *buf, size_t len, long long off);

/* Whole-file helpers relative to DIR: read returns a malloc'd NUL-ended
 * buffer the caller frees, or NULL (missing file: NULL and *missing=1). */
char *fs_state_read(const char *dir, const char *rel, size_t *len,
		    int *missing, char *err);
int fs_state_write(const char *dir, const char *rel, const char *text,
		   size_t len, char *err);

#endif
