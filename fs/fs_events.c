/* fs_events.c — see fs_events.h. */
#include "fs/fs_events.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "fs/registry.h"

/* Rejected writes of one uid in the current one-second window. */
struct reject_slot {
	int used;
	unsigned uid;
	double start;                 /* util_now_s() the window began */
	unsigned shown;               /* lines let through in it */
	unsigned long suppressed;     /* lines dropped in it */
};

struct fs_events {
	pthread_mutex_t mu;           /* protects every field below */
	pthread_cond_t cv;            /* broadcast on push and shutdown */
	char **lines;                 /* cap slots; line seq s at s % cap */
	size_t cap;
	uint64_t next;                /* seq of the next line pushed */
	int down;
	void (*notify)(void *);
	void *notify_ctx;
	struct reject_slot rej[FS_EVENTS_REJECT_UIDS];
};

struct fs_events *fs_events_new(size_t cap)
{
	struct fs_events *ev = calloc(1, sizeof(*ev));
	pthread_condattr_t ca;

	if (!ev)
		return NULL;
	ev->lines = calloc(cap ? cap : 1, sizeof(char *));
	if (!ev->lines) {
		free(ev);
		return NULL;
	}
	ev->cap = cap ? cap : 1;
	pthread_mutex_init(&ev->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ev->cv, &ca);
	pthread_condattr_destroy(&ca);
	return ev;
}

void fs_events_free(struct fs_events *ev)
{
	if (!ev)
		return;
	for (size_t i = 0; i < ev->cap; i++)
		free(ev->lines[i]);
	free(ev->lines);
	pthread_cond_destroy(&ev->cv);
	pthread_mutex_destroy(&ev->mu);
	free(ev);
}

/* Append line (and a newline) to the ring; lock held. */
static void push_locked(struct fs_events *ev, const char *line)
{
	size_t n = strlen(line);
	char *p = malloc(n + 2);

	if (!p)
		return;
	memcpy(p, line, n);
	p[n] = '\n';
	p[n + 1] = '\0';
	free(ev->lines[ev->next % ev->cap]);
	ev->lines[ev->next % ev->cap] = p;
	ev->next++;
	pthread_cond_broadcast(&ev->cv);
}

/* Close the window of slot s: its summary line when it dropped lines. */
static int reject_close_locked(struct fs_events *ev, struct reject_slot *s)
{
	char line[160], ts[40];

	if (s->suppressed) {
		reg_format_time(util_wall_s(), ts, sizeof(ts));
		snprintf(line, sizeof(line), "%s write-rejected uid=%u "
			 "suppressed=%lu", ts, s->uid, s->suppressed);
		log_info("%s", line + strlen(ts) + 1);
		push_locked(ev, line);
	}
	memset(s, 0, sizeof(*s));
	return 1;
}

/* Summaries of windows that have ended; 1 when a line was added. */
static int reject_flush_locked(struct fs_events *ev, double now)
{
	int added = 0;

	for (size_t i = 0; i < FS_EVENTS_REJECT_UIDS; i++) {
		struct reject_slot *s = &ev->rej[i];

		if (s->used && now - s->start >= 1.0) {
			added |= s->suppressed != 0;
			reject_close_locked(ev, s);
		}
	}
	return added;
}

/* A rejected write's line: `TIME KIND ... uid=N ...` with KIND
 * write-rejected, rule-rejected or policy-rejected.  *uid set. */
static int is_rejection(const char *line, unsigned *uid)
{
	const char *k = strchr(line, ' '), *u;

	if (!k)
		return 0;
	k++;
	if (strncmp(k, "write-rejected ", 15) && strncmp(k, "rule-rejected ", 14) &&
	    strncmp(k, "policy-rejected ", 16))
		return 0;
	u = strstr(k, " uid=");
	if (!u || u[5] < '0' || u[5] > '9')
		return 0;
	*uid = (unsigned)strtoul(u + 5, NULL, 10);
	return 1;
}

/* May this rejected-write line of uid go out now?  Lock held. */
static int reject_admit_locked(struct fs_events *ev, unsigned uid, double now)
{
	struct reject_slot *s = NULL, *free_slot = NULL, *oldest = NULL;

	for (size_t i = 0; i < FS_EVENTS_REJECT_UIDS; i++) {
		struct reject_slot *c = &ev->rej[i];

		if (c->used && c->uid == uid) {
			s = c;
			break;
		}
		if (!c->used && !free_slot)
			free_slot = c;
		if (c->used && (!oldest || c->start < oldest->start))
			oldest = c;
	}
	if (!s) {                     /* a new uid: a free or the oldest slot */
		s = free_slot ? free_slot : oldest;
		if (s->used)
			reject_close_locked(ev, s);
		s->used = 1;
		s->uid = uid;
		s->start = now;
	}
	if (s->shown < FS_EVENTS_REJECT_MAX) {
		s->shown++;
		return 1;
	}
	s->suppressed++;
	return 0;
}

void fs_events_push(void *ctx, const char *line)
{
	struct fs_events *ev = ctx;
	void (*fn)(void *);
	void *fctx;
	double now = util_now_s();
	unsigned uid;
	int added;

	pthread_mutex_lock(&ev->mu);
	added = reject_flush_locked(ev, now);
	if (!is_rejection(line, &uid) || reject_admit_locked(ev, uid, now)) {
		push_locked(ev, line);
		added = 1;
	}
	fn = ev->notify;
	fctx = ev->notify_ctx;
	pthread_mutex_unlock(&ev->mu);
	if (fn && added)
		fn(fctx);
}

int fs_events_tick(struct fs_events *ev)
{
	void (*fn)(void *);
	void *fctx;
	int added;

	pthread_mutex_lock(&ev->mu);
	added = reject_flush_locked(ev, util_now_s());
	fn = ev->notify;
	fctx = ev->notify_ctx;
	pthread_mutex_unlock(&ev->mu);
	if (fn && added)
		fn(fctx);
	return added;
}

static uint64_t oldest_locked(const struct fs_events *ev)
{
	return ev->next > ev->cap ? ev->next - ev->cap : 0;
}

uint64_t fs_events_open(struct fs_events *ev)
{
	uint64_t pos;

	pthread_mutex_lock(&ev->mu);
	pos = ev->next > FS_EVENTS_BACKLOG ? ev->next - FS_EVENTS_BACKLOG : 0;
	if (pos < oldest_locked(ev))
		pos = oldest_locked(ev);
	pthread_mutex_unlock(&ev->mu);
	return pos;
}

uint64_t fs_events_end(struct fs_events *ev)
{
	uint64_t pos;

	pthread_mutex_lock(&ev->mu);
	pos = ev->next;
	pthread_mutex_unlock(&ev->mu);
	return pos;
}

int fs_events_ready(struct fs_events *ev, uint64_t pos)
{
	int r;

	pthread_mutex_lock(&ev->mu);
	reject_flush_locked(ev, util_now_s());
	r = pos < ev->next || ev->down;
	pthread_mutex_unlock(&ev->mu);
	return r;
}

/* Copy lines from *pos; lock held.  Returns bytes copied. */
static size_t copy_locked(struct fs_events *ev, uint64_t *pos, char *buf,
			  size_t size)
{
	size_t o = 0;

	if (*pos < oldest_locked(ev))
		*pos = oldest_locked(ev);
	while (*pos < ev->next) {
		const char *l = ev->lines[*pos % ev->cap];
		size_t n = strlen(l);

		if (o + n > size) {
			if (o)
				break;
			n = size;     /* one line longer than the buffer: cut */
		}
		memcpy(buf + o, l, n);
		o += n;
		(*pos)++;
	}
	return o;
}

static void wait_100ms_locked(struct fs_events *ev)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += 100 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&ev->cv, &ev->mu, &ts);
}

ssize_t fs_events_read(struct fs_events *ev, uint64_t *pos, char *buf,
		       size_t size, int nonblock, int (*interrupted)(void *),
		       void *ictx)
{
	ssize_t r = 0;

	if (size == 0)
		return 0;
	pthread_mutex_lock(&ev->mu);
	for (;;) {
		size_t n;

		reject_flush_locked(ev, util_now_s());
		n = copy_locked(ev, pos, buf, size);

		if (n) {
			r = (ssize_t)n;
			break;
		}
		if (ev->down)
			break;
		if (nonblock) {
			r = -EAGAIN;
			break;
		}
		if (interrupted && interrupted(ictx)) {
			r = -EINTR;
			break;
		}
		wait_100ms_locked(ev);
	}
	pthread_mutex_unlock(&ev->mu);
	return r;
}

void fs_events_set_notify(struct fs_events *ev, void (*fn)(void *), void *ctx)
{
	pthread_mutex_lock(&ev->mu);
	ev->notify = fn;
	ev->notify_ctx = ctx;
	pthread_mutex_unlock(&ev->mu);
}

void fs_events_shutdown(struct fs_events *ev)
{
	pthread_mutex_lock(&ev->mu);
	ev->down = 1;
	pthread_cond_broadcast(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
}
