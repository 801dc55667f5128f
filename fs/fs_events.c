/* fs_events.c — see fs_events.h. */
#include "fs/fs_events.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fs_events {
	pthread_mutex_t mu;           /* protects every field below */
	pthread_cond_t cv;            /* broadcast on push and shutdown */
	char **lines;                 /* cap slots; line seq s at s % cap */
	size_t cap;
	uint64_t next;                /* seq of the next line pushed */
	int down;
	void (*notify)(void *);
	void *notify_ctx;
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

void fs_events_push(void *ctx, const char *line)
{
	struct fs_events *ev = ctx;
	size_t n = strlen(line);
	char *p = malloc(n + 2);
	void (*fn)(void *);
	void *fctx;

	if (!p)
		return;
	memcpy(p, line, n);
	p[n] = '\n';
	p[n + 1] = '\0';
	pthread_mutex_lock(&ev->mu);
	free(ev->lines[ev->next % ev->cap]);
	ev->lines[ev->next % ev->cap] = p;
	ev->next++;
	fn = ev->notify;
	fctx = ev->notify_ctx;
	pthread_cond_broadcast(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
	if (fn)
		fn(fctx);
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
		size_t n = copy_locked(ev, pos, buf, size);

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
