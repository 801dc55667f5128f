/* test_registry_fs.c — the registry mounted with the real fs_tree in this
 * process, changes made through the registry API (as the network side
 * makes them), watched with inotify on the mount: the notifier must turn
 * them into CREATE / MODIFY / DELETE.  Needs root and /dev/fuse; without
 * them the test says so and returns. */
#include "test/unit/unit.h"
#include "fs/fs_ll.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "fs/fs_tree.h"

#include <fuse_lowlevel.h>

struct mounted {
	char dir[128];
	struct registry *reg;
	struct fs_events *ev;
	struct fs_notify *nt;
	struct fs_tree *tree;
	struct fs_ll *fuse;
	pthread_t loop;
	int looping;
};

static void *loop_main(void *arg)
{
	struct mounted *m = arg;
	struct fuse_loop_config *lc = fuse_loop_cfg_create();

	fuse_session_loop_mt(fs_ll_session(m->fuse), lc);
	fuse_loop_cfg_destroy(lc);
	return NULL;
}

static void unmount_all(struct mounted *m)
{
	if (m->nt)
		fs_notify_stop(m->nt);
	if (m->fuse) {
		if (m->tree)
			fs_tree_shutdown(m->tree);
		fuse_session_exit(fs_ll_session(m->fuse));
		fuse_session_unmount(fs_ll_session(m->fuse));
		if (m->looping)
			pthread_join(m->loop, NULL);
		fs_ll_destroy(m->fuse);
	}
	fs_notify_free(m->nt);
	fs_tree_free(m->tree);
	reg_free(m->reg);
	fs_events_free(m->ev);
	rmdir(m->dir);
}

static int mount_all(struct mounted *m)
{
	struct reg_config cfg = { NULL, "rules/default" };
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	char err[REG_ERR_LEN];

	memset(m, 0, sizeof(*m));
	snprintf(m->dir, sizeof(m->dir), "/tmp/resched-unit-mnt-%d", (int)getpid());
	if (mkdir(m->dir, 0755) < 0 && errno != EEXIST)
		return -1;
	m->reg = reg_new(&cfg, err);
	m->ev = fs_events_new(1000);
	m->nt = fs_notify_new(m->dir);
	m->tree = fs_tree_new(m->reg, m->ev, m->nt);
	if (!m->reg || !m->ev || !m->nt || !m->tree)
		return -1;
	reg_set_event_hook(m->reg, fs_events_push, m->ev);
	reg_set_change_hook(m->reg, fs_notify_change, m->nt);
	fuse_opt_add_arg(&args, "unit");
	fuse_opt_add_arg(&args, "-o");
	fuse_opt_add_arg(&args, "default_permissions,fsname=reschedfs-unit");
	m->fuse = fs_ll_new(&args, fs_tree_ops(), fs_tree_timeouts, m->tree);
	fuse_opt_free_args(&args);
	if (!m->fuse)
		return -1;
	if (fuse_session_mount(fs_ll_session(m->fuse), m->dir) != 0) {
		fs_ll_destroy(m->fuse);
		m->fuse = NULL;
		return -1;
	}
	if (pthread_create(&m->loop, NULL, loop_main, m) != 0)
		return -1;
	m->looping = 1;
	return fs_notify_start(m->nt);
}

/* Wait for an inotify event named `name` with a mask bit of `mask`. */
static int wait_event(int fd, const char *name, uint32_t mask, int ms)
{
	char buf[8192] __attribute__((aligned(8)));
	double end = util_now_s() + ms / 1000.0;

	while (util_now_s() < end) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		for (char *q = buf; n > 0 && q < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)(void *)q;

			if ((e->mask & mask) && e->len && strcmp(e->name, name) == 0)
				return 0;
			if ((e->mask & mask) && !name[0])
				return 0;
			q += sizeof(*e) + e->len;
		}
	}
	return -1;
}

/* The checks; the caller unmounts whatever happens here. */
static void inotify_checks(struct mounted *m, int in)
{
	struct reg_proc_info p = { .pid = 10, .uid = 1000, .prog = "/bin/x", .cwd = "/" };
	char path[256], state[64], err[REG_ERR_LEN];
	ssize_t n;
	int wh, wp, ws;
	FILE *f;

	snprintf(path, sizeof(path), "%s/hosts", m->dir);
	wh = inotify_add_watch(in, path, IN_CREATE | IN_DELETE);
	snprintf(path, sizeof(path), "%s/procs", m->dir);
	wp = inotify_add_watch(in, path, IN_CREATE | IN_DELETE);
	CHECK(in >= 0 && wh >= 0 && wp >= 0);

	reg_host_hello(m->reg, "h1", NULL, 0, 0.1);
	CHECK_INT_EQ(wait_event(in, "h1", IN_CREATE, 3000), 0);
	snprintf(path, sizeof(path), "%s/hosts/h1/state", m->dir);
	ws = inotify_add_watch(in, path, IN_MODIFY | IN_CLOSE_WRITE);
	CHECK(ws >= 0);
	reg_host_update(m->reg, "h1", NULL, 0, NULL, 0, RS_OVERLOADED, 0.1);
	CHECK_INT_EQ(wait_event(in, "", IN_MODIFY, 3000), 0);
	f = fopen(path, "r");
	CHECK(f != NULL);
	CHECK(fgets(state, sizeof(state), f) != NULL);
	fclose(f);
	CHECK_STR_EQ(state, "overloaded\n");   /* the touch changed nothing */
	CHECK_INT_EQ(reg_proc_register(m->reg, "h1", &p), 1);
	CHECK_INT_EQ(wait_event(in, "1", IN_CREATE, 3000), 0);
	snprintf(path, sizeof(path), "%s/hosts/h1/procs/1", m->dir);
	n = readlink(path, state, sizeof(state) - 1);
	CHECK(n > 0);
	state[n] = '\0';
	CHECK_STR_EQ(state, "../../../procs/1");
	/* the host goes silent, is declared unavailable, then forgotten */
	reg_tick(m->reg, util_now_s() + 1);
	CHECK_INT_EQ(wait_event(in, "", IN_MODIFY, 3000), 0);
	CHECK_INT_EQ(reg_host_forget(m->reg, "h1", 0, 0, err), 0);
	CHECK_INT_EQ(wait_event(in, "h1", IN_DELETE, 3000), 0);
	snprintf(path, sizeof(path), "%s/hosts/h1", m->dir);
	CHECK(access(path, F_OK) != 0);
}

TEST(registry_fs_inotify_through_the_mount)
{
	struct mounted m;
	int in;

	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0)
		SKIP("needs root and /dev/fuse");
	if (mount_all(&m) < 0) {
		unmount_all(&m);
		unit_fail(__FILE__, __LINE__, "cannot mount %s", m.dir);
		return;
	}
	in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	inotify_checks(&m, in);
	if (in >= 0)
		close(in);
	unmount_all(&m);
}

/* ---- procs/<id>/migrate through the mount ------------------------------ */

struct mig_hook {
	struct registry *reg;
	int calls;
	uint64_t mig;
	int fail;                     /* answer with this errno at once */
};

static int hook_migrate(void *ctx, const struct reg_migrate_req *req)
{
	struct mig_hook *h = ctx;

	__atomic_store_n(&h->mig, req->mig, __ATOMIC_RELEASE);
	__atomic_add_fetch(&h->calls, 1, __ATOMIC_ACQ_REL);
	return h->fail ? -h->fail : 0;
}

struct writer {
	char path[256];
	int flags;
	int rc;                       /* 0 or errno; -1 while running */
};

static void *write_dest(void *arg)
{
	struct writer *w = arg;
	int fd = open(w->path, O_WRONLY | w->flags);
	int rc = 0;

	if (fd < 0 || write(fd, "h2\n", 3) != 3)
		rc = errno;
	if (fd >= 0)
		close(fd);
	__atomic_store_n(&w->rc, rc, __ATOMIC_RELEASE);
	return NULL;
}

static void migrate_checks(struct mounted *m, struct mig_hook *hk)
{
	struct reg_proc_info p = { .pid = 10, .uid = 1000, .prog = "/bin/x", .cwd = "/" };
	struct writer w = { "", 0, -1 };
	pthread_t th;
	char buf[256];
	FILE *f;
	int i;

	reg_host_hello(m->reg, "h1", NULL, 0, 5);
	reg_host_hello(m->reg, "h2", NULL, 0, 5);
	CHECK_INT_EQ(reg_proc_register(m->reg, "h1", &p), 1);
	snprintf(w.path, sizeof(w.path), "%s/procs/1/migrate", m->dir);
	/* blocking: returns only when the result comes */
	pthread_create(&th, NULL, write_dest, &w);
	for (i = 0; i < 300 && !__atomic_load_n(&hk->calls, __ATOMIC_ACQUIRE); i++)
		usleep(10000);
	CHECK_INT_EQ(hk->calls, 1);
	usleep(200000);
	CHECK_INT_EQ(__atomic_load_n(&w.rc, __ATOMIC_ACQUIRE), -1);
	CHECK_INT_EQ(reg_migration_result(m->reg, 1, hk->mig, 1, NULL, 0, NULL), 0);
	pthread_join(th, NULL);
	CHECK_INT_EQ(w.rc, 0);
	f = fopen(w.path, "r");
	CHECK(f != NULL);
	CHECK(fgets(buf, sizeof(buf), f) != NULL);
	fclose(f);
	CHECK_STR_HAS(buf, "ok from=h1 to=h2");
	/* back again, refused by the network side: the writer gets its errno */
	hk->fail = EHOSTUNREACH;
	reg_proc_register(m->reg, "h2", &(struct reg_proc_info){ .pid = 11,
			  .job = 1 });
	snprintf(buf, sizeof(buf), "%s/procs/1/migrate", m->dir);
	w.rc = -1;
	w.flags = 0;
	memcpy(w.path, buf, sizeof(buf));
	{
		int fd = open(buf, O_WRONLY);

		CHECK(fd >= 0);
		CHECK(write(fd, "h1\n", 3) < 0 && errno == EHOSTUNREACH);
		close(fd);
	}
	/* O_NONBLOCK: returns once accepted; a second move is EBUSY */
	hk->fail = 0;
	{
		int fd = open(buf, O_WRONLY | O_NONBLOCK);

		CHECK(fd >= 0);
		CHECK_INT_EQ(write(fd, "h1\n", 3), 3);
		CHECK(write(fd, "h1\n", 3) < 0 && errno == EBUSY);
		close(fd);
	}
}

TEST(registry_fs_migrate_write_blocks_until_result)
{
	struct mounted m;
	struct mig_hook hk = { NULL, 0, 0, 0 };
	struct reg_net_hooks h = { &hk, NULL, hook_migrate, NULL, NULL };

	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0)
		SKIP("needs root and /dev/fuse");
	if (mount_all(&m) < 0) {
		unmount_all(&m);
		unit_fail(__FILE__, __LINE__, "cannot mount %s", m.dir);
		return;
	}
	hk.reg = m.reg;
	reg_set_net_hooks(m.reg, &h);
	migrate_checks(&m, &hk);
	unmount_all(&m);
}

/* ---- 10,000 hosts: the notifier keeps up ------------------------------- */

static void many_checks(struct mounted *m, int nhosts)
{
	char name[32], path[256];
	double t0 = util_now_s();
	struct stat st;

	for (int i = 0; i < nhosts; i++) {
		snprintf(name, sizeof(name), "h%d", i);
		reg_host_hello(m->reg, name, NULL, 0, 5);
	}
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < nhosts; i++) {
			snprintf(name, sizeof(name), "h%d", i);
			reg_host_update(m->reg, name, NULL, 0, NULL, 0,
					round % 2 ? RS_FREE : RS_BUSY, 5);
		}
	CHECK(fs_notify_pending(m->nt) <= (size_t)nhosts * 2);
	CHECK_INT_EQ(fs_notify_flush(m->nt, 60), 0);
	fprintf(stderr, "  %d hosts: joined, 3 state rounds, all applied "
		"through the mount in %.2f s\n", nhosts, util_now_s() - t0);
	snprintf(path, sizeof(path), "%s/hosts/h%d/state", m->dir, nhosts - 1);
	CHECK_INT_EQ(stat(path, &st), 0);
	CHECK_INT_EQ(st.st_size, 5);                /* "busy\n" */
}

TEST(registry_fs_10000_hosts)
{
	struct mounted m;

	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0)
		SKIP("needs root and /dev/fuse");
	if (mount_all(&m) < 0) {
		unmount_all(&m);
		unit_fail(__FILE__, __LINE__, "cannot mount %s", m.dir);
		return;
	}
	many_checks(&m, 10000);
	unmount_all(&m);
}
