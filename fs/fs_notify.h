/*
 * fs_notify.h — apply model changes THROUGH the mount so inotify fires.
 *
 * The kernel raises inotify events only for operations that pass the VFS.
 * Changes that arrive over the network are therefore queued here and a
 * notifier thread (not a FUSE worker) performs them on MOUNT: mkdir/rmdir
 * of hosts/<h> and procs/<id>, and a one-byte write to hosts/<h>/state,
 * procs/<id>/status and procs/<id>/host.  fs_tree recognises the
 * notifier by the caller's tid (fs_ll_context()->pid) and only
 * acknowledges: the model already holds the change.
 *
 * Coalescing: a write ("touch") of a path already waiting in the queue is
 * dropped, so a burst of state changes on 10,000 hosts costs at most one
 * write per path per pass.  mkdir/rmdir are kept in order.
 *
 * Thread safety: all calls take the queue's mutex; fs_notify_change fits
 * reg_change_fn and may be called with the registry lock held (it only
 * queues).
 */
#ifndef RESCHED_FS_NOTIFY_H
#define RESCHED_FS_NOTIFY_H

#include <stddef.h>
#include <sys/types.h>

#include "fs/registry.h"

enum fs_notify_op { FSN_MKDIR, FSN_RMDIR, FSN_TOUCH };

struct fs_notify;

/* mount: the mount point (copied).  NULL on allocation failure. */
struct fs_notify *fs_notify_new(const char *mount);
/* Stop (if started) and free, dropping what is still queued. */
void fs_notify_free(struct fs_notify *n);
int fs_notify_start(struct fs_notify *n);     /* 0 or -errno */
void fs_notify_stop(struct fs_notify *n);
/* Shutting down: take no more work (the item in flight completes), and
 * whether an item is in flight.  The daemon must keep answering FUSE
 * requests while fs_notify_busy, since that item is a request to its own
 * mount; then fs_notify_stop joins the thread. */
void fs_notify_request_stop(struct fs_notify *n);
int fs_notify_busy(struct fs_notify *n);

/* reg_change_fn: ctx is the struct fs_notify. */
void fs_notify_change(void *ctx, enum reg_change what, const char *host,
		      int job);
/* Queue one operation on `rel` (a path relative to the mount). */
int fs_notify_queue(struct fs_notify *n, enum fs_notify_op op,
		    const char *rel);
size_t fs_notify_pending(struct fs_notify *n);
/* Take the oldest queued operation (what the thread does); 0, or -1 when
 * the queue is empty.  Used by the thread and by unit tests. */
int fs_notify_pop(struct fs_notify *n, enum fs_notify_op *op, char *rel,
		  size_t size);
/* Block until the queue is empty and the thread idle (tests); 0 or -1 on
 * timeout after `secs`. */
int fs_notify_flush(struct fs_notify *n, double secs);

/* For fs_tree: is `pid` the notifier thread? */
int fs_notify_is_self(struct fs_notify *n, pid_t pid);
/*
 * How fs_tree must answer a getattr of `path` ("/hosts/h1") from the
 * notifier: 0 normally, -1 hide it (ENOENT: a mkdir about to be made, so
 * the kernel goes on to call mkdir), 1 show a directory (an rmdir of
 * something the model already dropped).
 */
int fs_notify_phantom(struct fs_notify *n, pid_t pid, const char *path);
/* The notifier's mkdir/rmdir of `path` reached fs_tree: stop hiding. */
void fs_notify_ack(struct fs_notify *n, const char *path);

#endif
