/*
 * fs_ll.h — path operations (a struct fuse_operations, as fs_tree writes
 * them) served over libfuse3's low-level API.
 *
 * Why not libfuse's own high-level layer, which does the same job: it
 * gives every node the same cache timeouts.  The tree needs them per node
 * — a host's `state` changes only through the VFS (the notifier writes it
 * through the mount, so the kernel drops what it cached), its `seen`
 * changes every instant — and attributes that may be cached save two of
 * the seven round trips a `grep PATTERN hosts/STAR/state` costs per file
 * (docs/BENCHMARKS.md).  This bridge keeps the node table (inode number
 * <-> path, with the kernel's lookup counts) and calls the path
 * operations; it implements what reschedfs uses and nothing more: no
 * hard links, no symlink creation, no xattrs, no locks.
 *
 * The path operations find the request they serve through fs_ll_context()
 * and fs_ll_interrupted() instead of fuse_get_context() and
 * fuse_interrupted().
 */
#ifndef RESCHED_FS_LL_H
#define RESCHED_FS_LL_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/types.h>

/* How long the kernel may keep a name (entry) and its attributes (attr)
 * for `path` (whose attributes are `st`), in seconds. */
typedef void (*fs_ll_timeouts_fn)(const char *path, const struct stat *st,
				  double *entry, double *attr);

struct fs_ll_ctx {
	uid_t uid;
	pid_t pid;
	void *private_data;
};

struct fs_ll;

/* A session serving ops; private_data is what fs_ll_context() hands the
 * operations.  args as for fuse_session_new (argv[0] first; libfuse
 * reports unknown options).  NULL on error.  fs_ll_destroy ends the
 * session (after fuse_session_unmount) and frees the node table. */
struct fs_ll *fs_ll_new(struct fuse_args *args,
			const struct fuse_operations *ops,
			fs_ll_timeouts_fn timeouts, void *private_data);
/* The session to mount, loop on and unmount. */
struct fuse_session *fs_ll_session(struct fs_ll *f);
void fs_ll_destroy(struct fs_ll *f);

/* The caller of the request this thread is serving (zeros and the
 * private data outside a request). */
const struct fs_ll_ctx *fs_ll_context(void);
/* Has the kernel interrupted the request this thread is serving? */
int fs_ll_interrupted(void);

#endif
