/*
 * fs_events.h — the `events` stream: a ring of the last N event lines.
 *
 * Each line is "TIME KIND key=value ..." plus a newline (docs/REGISTRY.md).
 * Every line gets a sequence number; a reader holds its own position.  A
 * new reader starts FS_EVENTS_BACKLOG lines before the current end (fewer
 * when the ring holds fewer), then each read returns the lines after its
 * position, blocking until there is one.  A reader that falls more than N
 * lines behind skips to the oldest line still held.
 *
 * Thread safety: every call takes the ring's own mutex; fs_events_push may
 * be called with the registry lock held (lock order: registry, events).
 * The notify callback runs after the ring's mutex is released.
 */
#ifndef RESCHED_FS_EVENTS_H
#define RESCHED_FS_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FS_EVENTS_CAP     10000
#define FS_EVENTS_BACKLOG 100
/*
 * Rejected writes (write-rejected, rule-rejected, policy-rejected lines)
 * are limited per uid: in a window of one second from its first rejected
 * line, a uid gets FS_EVENTS_REJECT_MAX lines; the rest are counted, and
 * when the window has ended one `TIME write-rejected uid=U suppressed=K`
 * line says how many were dropped.  The summary is put out by the next
 * push, read, poll or fs_events_tick after the window (a blocked reader
 * wakes every 100 ms, so it sees it within about 1.1 s).
 * FS_EVENTS_REJECT_UIDS uids are tracked at once; a new one takes the
 * oldest window, closing it (with its summary) early.
 */
#define FS_EVENTS_REJECT_MAX  10
#define FS_EVENTS_REJECT_UIDS 64

struct fs_events;

/* A ring of `cap` lines.  NULL on allocation failure. */
struct fs_events *fs_events_new(size_t cap);
void fs_events_free(struct fs_events *ev);

/* Append a line (copied; a trailing newline is added).  Signature fits
 * reg_event_fn: pass the ring as ctx. */
void fs_events_push(void *ev, const char *line);

/* Position of a new reader (FS_EVENTS_BACKLOG lines back). */
uint64_t fs_events_open(struct fs_events *ev);
/* Position of the current end (a reader that wants only new lines). */
uint64_t fs_events_end(struct fs_events *ev);

/*
 * Copy whole lines from *pos into buf (at most size bytes; a single line
 * longer than size is cut) and advance *pos.  When nothing is new: with
 * nonblock, -EAGAIN; otherwise wait, asking interrupted(ictx) every 100 ms
 * (-EINTR when it says 1; may be NULL), and return 0 once the ring is shut
 * down.  Returns the byte count.
 */
ssize_t fs_events_read(struct fs_events *ev, uint64_t *pos, char *buf,
		       size_t size, int nonblock, int (*interrupted)(void *),
		       void *ictx);
/* Put out the summaries of rejected-write windows that have ended;
 * 1 when a line was added. */
int fs_events_tick(struct fs_events *ev);
/* 1 when a read from pos would not block. */
int fs_events_ready(struct fs_events *ev, uint64_t pos);
/* Called (unlocked) after every push, e.g. to wake poll(2) waiters. */
void fs_events_set_notify(struct fs_events *ev, void (*fn)(void *), void *ctx);
/* Wake every reader; reads return 0 (end of file) from now on. */
void fs_events_shutdown(struct fs_events *ev);

#endif
