/* fs_notify.c — see fs_notify.h. */
#include "fs/fs_notify.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define FSN_HASH 8192
#define FSN_PATH 160

struct fsn_item {
	enum fs_notify_op op;
	char rel[FSN_PATH];
	struct fsn_item *next;        /* FIFO */
	struct fsn_item *hnext;       /* touch set chain */
};

struct fs_notify {
	char *mount;
	pthread_mutex_t mu;           /* protects every field below */
	pthread_cond_t cv;            /* queue non-empty, stop, idle */
	struct fsn_item *head, *tail;
	struct fsn_item *touch[FSN_HASH]; /* pending touches by path */
	size_t npending;
	int busy;                     /* thread is applying one item */
	int stop;
	pid_t tid;                    /* the notifier thread, 0 before */
	/* the mkdir/rmdir in flight: how its lookups must be answered */
	enum fs_notify_op cur_op;
	char cur_path[FSN_PATH + 1];  /* "/rel", "" when none */
	int cur_acked;
	pthread_t thread;
	int running;
};

struct fs_notify *fs_notify_new(const char *mount)
{
	struct fs_notify *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->mount = strdup(mount ? mount : "");
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->cv, NULL);
	return n;
}

void fs_notify_free(struct fs_notify *n)
{
	if (!n)
		return;
	fs_notify_stop(n);
	for (struct fsn_item *i = n->head, *nx; i; i = nx) {
		nx = i->next;
		free(i);
	}
	pthread_cond_destroy(&n->cv);
	pthread_mutex_destroy(&n->mu);
	free(n->mount);
	free(n);
}

static unsigned path_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h % FSN_HASH;
}

static struct fsn_item **touch_find_locked(struct fs_notify *n,
					   const char *rel)
{
	struct fsn_item **pp = &n->touch[path_hash(rel)];

	for (; *pp; pp = &(*pp)->hnext)
		if (strcmp((*pp)->rel, rel) == 0)
			return pp;
	return pp;
}

int fs_notify_queue(struct fs_notify *n, enum fs_notify_op op,
		    const char *rel)
{
	struct fsn_item *it, **slot = NULL;

	if (strlen(rel) >= FSN_PATH)
		return -ENAMETOOLONG;
	pthread_mutex_lock(&n->mu);
	if (op == FSN_TOUCH) {
		slot = touch_find_locked(n, rel);
		if (*slot) {                  /* already queued: coalesce */
			pthread_mutex_unlock(&n->mu);
			return 0;
		}
	}
	it = calloc(1, sizeof(*it));
	if (!it) {
		pthread_mutex_unlock(&n->mu);
		return -ENOMEM;
	}
	it->op = op;
	snprintf(it->rel, sizeof(it->rel), "%s", rel);
	if (slot)
		*slot = it;
	if (n->tail)
		n->tail->next = it;
	else
		n->head = it;
	n->tail = it;
	n->npending++;
	pthread_cond_broadcast(&n->cv);
	pthread_mutex_unlock(&n->mu);
	return 0;
}

void fs_notify_change(void *ctx, enum reg_change what, const char *host,
		      int job)
{
	struct fs_notify *n = ctx;
	char rel[FSN_PATH];

	switch (what) {
	case REG_HOST_ADDED:
	case REG_HOST_REMOVED:
		snprintf(rel, sizeof(rel), "hosts/%s", host);
		fs_notify_queue(n, what == REG_HOST_ADDED ? FSN_MKDIR : FSN_RMDIR,
				rel);
		break;
	case REG_HOST_STATE:
		snprintf(rel, sizeof(rel), "hosts/%s/state", host);
		fs_notify_queue(n, FSN_TOUCH, rel);
		break;
	case REG_JOB_ADDED:
		snprintf(rel, sizeof(rel), "procs/%d", job);
		fs_notify_queue(n, FSN_MKDIR, rel);
		break;
	case REG_JOB_STATUS:
		snprintf(rel, sizeof(rel), "procs/%d/status", job);
		fs_notify_queue(n, FSN_TOUCH, rel);
		break;
	case REG_JOB_HOST:
		snprintf(rel, sizeof(rel), "procs/%d/host", job);
		fs_notify_queue(n, FSN_TOUCH, rel);
		break;
	case REG_RULES:
		break;
	}
}

size_t fs_notify_pending(struct fs_notify *n)
{
	size_t p;

	pthread_mutex_lock(&n->mu);
	p = n->npending;
	pthread_mutex_unlock(&n->mu);
	return p;
}

static void touch_remove_locked(struct fs_notify *n, struct fsn_item *it)
{
	struct fsn_item **pp = touch_find_locked(n, it->rel);

	if (*pp == it)
		*pp = it->hnext;
}

static struct fsn_item *pop_locked(struct fs_notify *n)
{
	struct fsn_item *it = n->head;

	if (!it)
		return NULL;
	n->head = it->next;
	if (!n->head)
		n->tail = NULL;
	n->npending--;
	if (it->op == FSN_TOUCH)
		touch_remove_locked(n, it);
	return it;
}

int fs_notify_pop(struct fs_notify *n, enum fs_notify_op *op, char *rel,
		  size_t size)
{
	struct fsn_item *it;

	pthread_mutex_lock(&n->mu);
	it = pop_locked(n);
	pthread_mutex_unlock(&n->mu);
	if (!it)
		return -1;
	*op = it->op;
	snprintf(rel, size, "%s", it->rel);
	free(it);
	return 0;
}

int fs_notify_is_self(struct fs_notify *n, pid_t pid)
{
	pid_t t;

	if (!n)
		return 0;
	t = __atomic_load_n(&n->tid, __ATOMIC_ACQUIRE);
	return t && pid == t;
}

int fs_notify_phantom(struct fs_notify *n, pid_t pid, const char *path)
{
	int r = 0;

	if (!fs_notify_is_self(n, pid))
		return 0;
	pthread_mutex_lock(&n->mu);
	if (!n->cur_acked && strcmp(path, n->cur_path) == 0)
		r = n->cur_op == FSN_MKDIR ? -1 : n->cur_op == FSN_RMDIR ? 1 : 0;
	pthread_mutex_unlock(&n->mu);
	return r;
}

void fs_notify_ack(struct fs_notify *n, const char *path)
{
	pthread_mutex_lock(&n->mu);
	if (strcmp(path, n->cur_path) == 0)
		n->cur_acked = 1;
	pthread_mutex_unlock(&n->mu);
}

static void set_current(struct fs_notify *n, const struct fsn_item *it)
{
	pthread_mutex_lock(&n->mu);
	n->cur_op = it ? it->op : FSN_TOUCH;
	if (it)
		snprintf(n->cur_path, sizeof(n->cur_path), "/%s", it->rel);
	else
		n->cur_path[0] = '\0';
	n->cur_acked = 0;
	pthread_mutex_unlock(&n->mu);
}

/* Perform one queued operation on the mount. */
static void apply(struct fs_notify *n, const struct fsn_item *it)
{
	char path[4096];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", n->mount, it->rel);
	set_current(n, it);
	switch (it->op) {
	case FSN_MKDIR:
		rc = mkdir(path, 0755);
		break;
	case FSN_RMDIR:
		rc = rmdir(path);
		break;
	case FSN_TOUCH:
		fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		rc = fd < 0 ? -1 : 0;
		if (fd >= 0) {
			if (write(fd, "\n", 1) < 0)
				rc = -1;
			close(fd);
		}
		break;
	}
	if (rc < 0 && errno != EEXIST && errno != ENOENT)
		log_debug("notify %s: %s", path, strerror(errno));
	set_current(n, NULL);
}

static void *notify_main(void *arg)
{
	struct fs_notify *n = arg;

	__atomic_store_n(&n->tid, gettid(), __ATOMIC_RELEASE);
	pthread_mutex_lock(&n->mu);
	while (!n->stop) {
		struct fsn_item *it = pop_locked(n);

		if (!it) {
			pthread_cond_broadcast(&n->cv);   /* idle */
			pthread_cond_wait(&n->cv, &n->mu);
			continue;
		}
		n->busy = 1;
		pthread_mutex_unlock(&n->mu);
		apply(n, it);
		free(it);
		pthread_mutex_lock(&n->mu);
		n->busy = 0;
	}
	pthread_mutex_unlock(&n->mu);
	return NULL;
}

int fs_notify_start(struct fs_notify *n)
{
	int e = pthread_create(&n->thread, NULL, notify_main, n);

	if (e)
		return -e;
	n->running = 1;
	return 0;
}

void fs_notify_request_stop(struct fs_notify *n)
{
	pthread_mutex_lock(&n->mu);
	n->stop = 1;
	pthread_cond_broadcast(&n->cv);
	pthread_mutex_unlock(&n->mu);
}

int fs_notify_busy(struct fs_notify *n)
{
	int busy;

	pthread_mutex_lock(&n->mu);
	busy = n->running && n->busy;
	pthread_mutex_unlock(&n->mu);
	return busy;
}

void fs_notify_stop(struct fs_notify *n)
{
	if (!n->running)
		return;
	fs_notify_request_stop(n);
	pthread_join(n->thread, NULL);
	n->running = 0;
}

int fs_notify_flush(struct fs_notify *n, double secs)
{
	double end = util_now_s() + secs;
	int r = 0;

	pthread_mutex_lock(&n->mu);
	while (n->head || n->busy) {
		struct timespec ts;

		if (util_now_s() > end) {
			r = -1;
			break;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&n->cv, &n->mu, &ts);
	}
	pthread_mutex_unlock(&n->mu);
	return r;
}
