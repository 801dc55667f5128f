/*
 * fs_tree.h — the reschedfs tree (DESIGN §3) as libfuse3 high-level
 * operations over the registry model, served by fs_ll.
 *
 * Every file's content is generated from the model under the registry
 * lock when it is opened (and again on a read at offset 0), so reads are
 * fresh (direct_io) and getattr reports true sizes; the kernel caches
 * names, and attributes only of files that change through the VFS
 * (fs_tree_timeouts).  Writes are validated whole
 * (docs/REGISTRY.md, "Writes").  FUSE handlers return -errno.
 *
 * Ownership: the tree borrows reg, events and notify (all must outlive the
 * FUSE session); fs_tree_free releases only what the tree allocated.
 */
#ifndef RESCHED_FS_TREE_H
#define RESCHED_FS_TREE_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif
#include <fuse.h>

#include "fs/fs_events.h"
#include "fs/fs_notify.h"
#include "fs/registry.h"

struct fs_tree;

/* notify may be NULL (no inotify through the mount). */
struct fs_tree *fs_tree_new(struct registry *reg, struct fs_events *events,
			    struct fs_notify *notify);
void fs_tree_free(struct fs_tree *t);
/* The daemon is ending: blocked events reads return end of file, blocked
 * migrate writes return EINTR (the moves themselves go on). */
void fs_tree_shutdown(struct fs_tree *t);
/* The path operations, served by fs_ll (fs_ll_new(args, fs_tree_ops(),
 * fs_tree_timeouts, tree)); they find the tree in fs_ll_context(). */
const struct fuse_operations *fs_tree_ops(void);
/* The cache timeouts of a path (fits fs_ll_timeouts_fn). */
void fs_tree_timeouts(const char *path, const struct stat *st, double *entry,
		      double *attr);
/* Wake poll(2) waiters on `events` (fits fs_events_set_notify). */
void fs_tree_events_ready(void *tree);

#endif
