/* fs_ll.c — see fs_ll.h. */
#include "fs/fs_ll.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LL_PATH 4096
#define LL_UNKNOWN_INO 0xffffffffu  /* a dirent whose inode we do not give */

/* One node the kernel knows (lookup count > 0), or the root.  A node
 * removed by unlink, rmdir or rename-over is detached: gone from the path
 * index (a new node of that name gets a new number) but kept by number
 * until the kernel forgets it. */
struct llnode {
	fuse_ino_t ino;
	uint64_t nlookup;
	char *path;                    /* "/", "/hosts/h1", ... */
	int detached;
	struct llnode *ino_next, *path_next;
};

struct fs_ll {
	struct fuse_session *se;
	const struct fuse_operations *ops;
	fs_ll_timeouts_fn timeouts;
	void *private_data;
	pthread_mutex_t mu;            /* protects everything below */
	struct llnode **by_ino, **by_path;
	size_t nbuckets, count;
	fuse_ino_t next_ino;
};

/* A directory listing, taken when it is read from offset 0. */
struct lldir {
	pthread_mutex_t mu;
	struct lldent {
		char *name;
		struct stat st;
		int has_st;
	} *ents;
	size_t n, cap;
	int filled;
};

static __thread fuse_req_t cur_req;
static __thread struct fs_ll *cur_ll;

const struct fs_ll_ctx *fs_ll_context(void)
{
	static __thread struct fs_ll_ctx c;
	const struct fuse_ctx *fc = cur_req ? fuse_req_ctx(cur_req) : NULL;

	c.uid = fc ? fc->uid : 0;
	c.pid = fc ? fc->pid : 0;
	c.private_data = cur_ll ? cur_ll->private_data : NULL;
	return &c;
}

int fs_ll_interrupted(void)
{
	return cur_req && fuse_req_interrupted(cur_req);
}

/* ---- the node table ------------------------------------------------------ */

static size_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return (size_t)h;
}

static size_t hash_ino(fuse_ino_t ino)
{
	return (size_t)(ino * 0x9e3779b97f4a7c15ull >> 17);
}

static void index_path(struct fs_ll *l, struct llnode *n)
{
	size_t b = hash_str(n->path) % l->nbuckets;

	n->path_next = l->by_path[b];
	l->by_path[b] = n;
}

static void unindex_path(struct fs_ll *l, struct llnode *n)
{
	struct llnode **pp = &l->by_path[hash_str(n->path) % l->nbuckets];

	for (; *pp; pp = &(*pp)->path_next)
		if (*pp == n) {
			*pp = n->path_next;
			return;
		}
}

static void index_ino(struct fs_ll *l, struct llnode *n)
{
	size_t b = hash_ino(n->ino) % l->nbuckets;

	n->ino_next = l->by_ino[b];
	l->by_ino[b] = n;
}

/* Double the buckets when the table is full (locked). */
static void grow_locked(struct fs_ll *l)
{
	size_t nb = l->nbuckets * 2;
	struct llnode **bi = calloc(nb, sizeof(*bi)), **bp = calloc(nb, sizeof(*bp));
	struct llnode **oi = l->by_ino;
	size_t ob = l->nbuckets;

	if (!bi || !bp) {              /* keep the old size: slower, correct */
		free(bi);
		free(bp);
		return;
	}
	free(l->by_path);
	l->by_ino = bi;
	l->by_path = bp;
	l->nbuckets = nb;
	for (size_t i = 0; i < ob; i++)
		for (struct llnode *n = oi[i], *nx; n; n = nx) {
			nx = n->ino_next;
			index_ino(l, n);
			if (!n->detached)
				index_path(l, n);
		}
	free(oi);
}

static struct llnode *find_ino_locked(struct fs_ll *l, fuse_ino_t ino)
{
	struct llnode *n = l->by_ino[hash_ino(ino) % l->nbuckets];

	while (n && n->ino != ino)
		n = n->ino_next;
	return n;
}

static struct llnode *find_path_locked(struct fs_ll *l, const char *path)
{
	struct llnode *n = l->by_path[hash_str(path) % l->nbuckets];

	while (n && strcmp(n->path, path) != 0)
		n = n->path_next;
	return n;
}

/* The node of path with its lookup count raised by one, made if new;
 * NULL when out of memory. */
static struct llnode *ref_path(struct fs_ll *l, const char *path)
{
	struct llnode *n;

	pthread_mutex_lock(&l->mu);
	n = find_path_locked(l, path);
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (n && !(n->path = strdup(path))) {
			free(n);
			n = NULL;
		}
		if (n) {
			n->ino = l->next_ino++;
			index_ino(l, n);
			index_path(l, n);
			if (++l->count > l->nbuckets)
				grow_locked(l);
		}
	}
	if (n)
		n->nlookup++;
	pthread_mutex_unlock(&l->mu);
	return n;
}

static void free_node(struct llnode *n)
{
	free(n->path);
	free(n);
}

static void unref_locked(struct fs_ll *l, fuse_ino_t ino, uint64_t count)
{
	struct llnode *n = find_ino_locked(l, ino), **pp;

	if (!n || ino == FUSE_ROOT_ID)
		return;
	n->nlookup = count >= n->nlookup ? 0 : n->nlookup - count;
	if (n->nlookup)
		return;
	for (pp = &l->by_ino[hash_ino(ino) % l->nbuckets]; *pp != n;
	     pp = &(*pp)->ino_next)
		;
	*pp = n->ino_next;
	if (!n->detached)
		unindex_path(l, n);
	l->count--;
	free_node(n);
}

static void unref(struct fs_ll *l, fuse_ino_t ino, uint64_t count)
{
	pthread_mutex_lock(&l->mu);
	unref_locked(l, ino, count);
	pthread_mutex_unlock(&l->mu);
}

/* Copy the path of ino into out; -ENOENT for a number we do not know or
 * a node that was removed (its path may name something new by now). */
static int path_of(struct fs_ll *l, fuse_ino_t ino, char *out)
{
	struct llnode *n;
	int rc = 0;

	pthread_mutex_lock(&l->mu);
	n = find_ino_locked(l, ino);
	if (!n || n->detached)
		rc = -ENOENT;
	else
		snprintf(out, LL_PATH, "%s", n->path);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

/* out = dir "/" name (dir "/" gives "/name"); 0 or -ENAMETOOLONG. */
static int join(char *out, const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);

	if (dl == 1)
		dl = 0;                /* the root */
	if (dl + nl + 2 > LL_PATH)
		return -ENAMETOOLONG;
	memmove(out, dir, dl);
	out[dl] = '/';
	memcpy(out + dl + 1, name, nl + 1);
	return 0;
}

static int child_path(struct fs_ll *l, fuse_ino_t parent, const char *name,
		      char *out)
{
	char p[LL_PATH];
	int rc = path_of(l, parent, p);

	return rc < 0 ? rc : join(out, p, name);
}

/* Does path name base or something under it? */
static int under(const char *path, const char *base, size_t bl)
{
	return strncmp(path, base, bl) == 0 &&
	       (path[bl] == '\0' || path[bl] == '/');
}

/* path is gone (unlink, rmdir, replaced by a rename), and so is
 * everything under it: a new node of one of those names gets a new
 * number (locked). */
static void detach_locked(struct fs_ll *l, const char *path)
{
	size_t pl = strlen(path);

	for (size_t b = 0; b < l->nbuckets; b++)
		for (struct llnode *n = l->by_ino[b]; n; n = n->ino_next)
			if (!n->detached && n->ino != FUSE_ROOT_ID &&
			    under(n->path, path, pl)) {
				unindex_path(l, n);
				n->detached = 1;
			}
}

static void detach_path(struct fs_ll *l, const char *path)
{
	pthread_mutex_lock(&l->mu);
	detach_locked(l, path);
	pthread_mutex_unlock(&l->mu);
}

/* from is now called to, and so is everything under it. */
static void rename_paths(struct fs_ll *l, const char *from, const char *to)
{
	size_t fl = strlen(from);

	if (strcmp(from, to) == 0)
		return;
	pthread_mutex_lock(&l->mu);
	detach_locked(l, to);
	for (size_t b = 0; b < l->nbuckets; b++)
		for (struct llnode *n = l->by_ino[b]; n; n = n->ino_next) {
			char *np;

			if (n->detached || !under(n->path, from, fl))
				continue;
			if (asprintf(&np, "%s%s", to, n->path + fl) < 0)
				continue;
			unindex_path(l, n);
			free(n->path);
			n->path = np;
			index_path(l, n);
		}
	pthread_mutex_unlock(&l->mu);
}

/* ---- request plumbing ---------------------------------------------------- */

static struct fs_ll *begin(fuse_req_t req)
{
	cur_req = req;
	cur_ll = fuse_req_userdata(req);
	return cur_ll;
}

static void end(void)
{
	cur_req = NULL;
}

static void reply_err(fuse_req_t req, int rc)
{
	end();
	fuse_reply_err(req, rc < 0 ? -rc : rc);
}

/* Fill e for path (attributes from the path op), taking a lookup
 * reference on its node.  0 or -errno. */
static int make_entry(struct fs_ll *l, const char *path, struct fuse_entry_param *e)
{
	struct llnode *n;
	int rc;

	memset(e, 0, sizeof(*e));
	rc = l->ops->getattr(path, &e->attr, NULL);
	if (rc < 0)
		return rc;
	n = ref_path(l, path);
	if (!n)
		return -ENOMEM;
	e->ino = n->ino;
	e->attr.st_ino = n->ino;
	l->timeouts(path, &e->attr, &e->entry_timeout, &e->attr_timeout);
	return 0;
}

/* Answer a request that made a node: if the kernel did not take the
 * reply, it will not forget the node either. */
static void reply_entry(struct fs_ll *l, fuse_req_t req,
			const struct fuse_entry_param *e)
{
	end();
	if (fuse_reply_entry(req, e) == -ENOENT)
		unref(l, e->ino, 1);
}

/* ---- operations ---------------------------------------------------------- */

static void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_ll *l = begin(req);
	struct fuse_entry_param e;
	char path[LL_PATH];
	int rc = child_path(l, parent, name, path);

	if (rc == 0)
		rc = make_entry(l, path, &e);
	if (rc < 0)
		reply_err(req, rc);      /* no negative entry is cached */
	else
		reply_entry(l, req, &e);
}

static void ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	unref(fuse_req_userdata(req), ino, nlookup);
	fuse_reply_none(req);
}

static void ll_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct fs_ll *l = fuse_req_userdata(req);

	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; i < count; i++)
		unref_locked(l, forgets[i].ino, forgets[i].nlookup);
	pthread_mutex_unlock(&l->mu);
	fuse_reply_none(req);
}

static void reply_attr_of(struct fs_ll *l, fuse_req_t req, fuse_ino_t ino,
			  const char *path, struct fuse_file_info *fi)
{
	struct stat st;
	double entry, attr;
	int rc;

	memset(&st, 0, sizeof(st));
	rc = l->ops->getattr(path, &st, fi);
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	st.st_ino = ino;
	l->timeouts(path, &st, &entry, &attr);
	end();
	fuse_reply_attr(req, &st, attr);
}

static void ll_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct fs_ll *l = begin(req);
	char path[LL_PATH];
	int rc = path_of(l, ino, path);

	if (rc < 0)
		reply_err(req, rc);
	else
		reply_attr_of(l, req, ino, path, fi);
}

static void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct fs_ll *l = begin(req);
	const struct fuse_operations *o = l->ops;
	char path[LL_PATH];
	int rc = path_of(l, ino, path);

	if (rc == 0 && (to_set & FUSE_SET_ATTR_MODE))
		rc = o->chmod(path, attr->st_mode, fi);
	if (rc == 0 && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		rc = o->chown(path, (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1,
			      (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1, fi);
	if (rc == 0 && (to_set & FUSE_SET_ATTR_SIZE))
		rc = o->truncate(path, attr->st_size, fi);
	if (rc == 0 && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME))) {
		struct timespec tv[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };

		if (to_set & FUSE_SET_ATTR_ATIME_NOW)
			tv[0].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_ATIME)
			tv[0] = attr->st_atim;
		if (to_set & FUSE_SET_ATTR_MTIME_NOW)
			tv[1].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_MTIME)
			tv[1] = attr->st_mtim;
		rc = o->utimens(path, tv, fi);
	}
	if (rc < 0)
		reply_err(req, rc);
	else
		reply_attr_of(l, req, ino, path, fi);
}

static void ll_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_ll *l = begin(req);
	char path[LL_PATH], target[LL_PATH];
	int rc = path_of(l, ino, path);

	if (rc == 0)
		rc = l->ops->readlink(path, target, sizeof(target));
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	end();
	fuse_reply_readlink(req, target);
}

static void ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct fs_ll *l = begin(req);
	struct fuse_entry_param e;
	char path[LL_PATH];
	int rc = child_path(l, parent, name, path);

	if (rc == 0)
		rc = l->ops->mkdir(path, mode);
	if (rc == 0)
		rc = make_entry(l, path, &e);
	if (rc < 0)
		reply_err(req, rc);
	else
		reply_entry(l, req, &e);
}

static void remove_op(fuse_req_t req, fuse_ino_t parent, const char *name,
		      int (*op)(const char *))
{
	struct fs_ll *l = begin(req);
	char path[LL_PATH];
	int rc = child_path(l, parent, name, path);

	if (rc == 0)
		rc = op(path);
	if (rc == 0)
		detach_path(l, path);
	reply_err(req, rc);
}

static void ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_op(req, parent, name,
		  ((struct fs_ll *)fuse_req_userdata(req))->ops->unlink);
}

static void ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_op(req, parent, name,
		  ((struct fs_ll *)fuse_req_userdata(req))->ops->rmdir);
}

static void ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct fs_ll *l = begin(req);
	char from[LL_PATH], to[LL_PATH];
	int rc = child_path(l, parent, name, from);

	if (rc == 0)
		rc = child_path(l, newparent, newname, to);
	if (rc == 0)
		rc = l->ops->rename(from, to, flags);
	if (rc == 0)
		rename_paths(l, from, to);
	reply_err(req, rc);
}

/* open and create: if the kernel did not take the reply (interrupted),
 * nobody will release the handle, so release it here. */
static void reply_open(struct fs_ll *l, fuse_req_t req, const char *path,
		       struct fuse_file_info *fi)
{
	end();
	if (fuse_reply_open(req, fi) == -ENOENT)
		l->ops->release(path, fi);
}

static void ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_ll *l = begin(req);
	char path[LL_PATH];
	int rc = path_of(l, ino, path);

	if (rc == 0)
		rc = l->ops->open(path, fi);
	if (rc < 0)
		reply_err(req, rc);
	else
		reply_open(l, req, path, fi);
}

static void ll_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fs_ll *l = begin(req);
	struct fuse_entry_param e;
	char path[LL_PATH];
	int rc = child_path(l, parent, name, path);

	if (rc == 0)
		rc = l->ops->create(path, mode, fi);
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	rc = make_entry(l, path, &e);
	if (rc < 0) {
		l->ops->release(path, fi);
		reply_err(req, rc);
		return;
	}
	end();
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		l->ops->release(path, fi);
		unref(l, e.ino, 1);
	}
}

/* Handles name their file themselves (fs_tree's struct fh); the path is
 * passed for completeness and may be "" for a removed node. */
static void handle_path(struct fs_ll *l, fuse_ino_t ino, char *path)
{
	if (path_of(l, ino, path) < 0)
		path[0] = '\0';
}

static void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs_ll *l = begin(req);
	char path[LL_PATH], *buf = malloc(size ? size : 1);
	int rc;

	if (!buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	handle_path(l, ino, path);
	rc = l->ops->read(path, buf, size, off, fi);
	if (rc < 0)
		reply_err(req, rc);
	else {
		end();
		fuse_reply_buf(req, buf, (size_t)rc);
	}
	free(buf);
}

static void ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs_ll *l = begin(req);
	char path[LL_PATH];
	int rc;

	handle_path(l, ino, path);
	rc = l->ops->write(path, buf, size, off, fi);
	if (rc < 0)
		reply_err(req, rc);
	else {
		end();
		fuse_reply_write(req, (size_t)rc);
	}
}

static void ll_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_ll *l = begin(req);
	char path[LL_PATH];

	handle_path(l, ino, path);
	reply_err(req, l->ops->flush(path, fi));
}

static void ll_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct fs_ll *l = begin(req);
	char path[LL_PATH];

	handle_path(l, ino, path);
	l->ops->release(path, fi);
	reply_err(req, 0);
}

static void ll_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct fs_ll *l = begin(req);
	char path[LL_PATH];
	int rc = path_of(l, ino, path);

	reply_err(req, rc < 0 ? rc : l->ops->access(path, mask));
}

static void ll_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		    struct fuse_pollhandle *ph)
{
	struct fs_ll *l = begin(req);
	char path[LL_PATH];
	unsigned revents = 0;
	int rc;

	handle_path(l, ino, path);
	rc = l->ops->poll(path, fi, ph, &revents);
	if (rc < 0)
		reply_err(req, rc);
	else {
		end();
		fuse_reply_poll(req, revents);
	}
}

/* ---- directories --------------------------------------------------------- */

static int dir_fill(void *buf, const char *name, const struct stat *st,
		    off_t off, enum fuse_fill_dir_flags flags)
{
	struct lldir *d = buf;
	struct lldent *e;

	(void)off;
	if (d->n == d->cap) {
		size_t nc = d->cap ? d->cap * 2 : 64;
		struct lldent *ne = realloc(d->ents, nc * sizeof(*ne));

		if (!ne)
			return 1;
		d->ents = ne;
		d->cap = nc;
	}
	e = &d->ents[d->n];
	memset(e, 0, sizeof(*e));
	if (!(e->name = strdup(name)))
		return 1;
	if (st && (flags & FUSE_FILL_DIR_PLUS)) {
		e->st = *st;
		e->has_st = 1;
	} else if (st) {
		e->st.st_mode = st->st_mode & S_IFMT;
	}
	d->n++;
	return 0;
}

static void dir_clear(struct lldir *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->ents[i].name);
	d->n = 0;
	d->filled = 0;
}

static void ll_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct fs_ll *l = begin(req);
	struct lldir *d;
	char path[LL_PATH];
	int rc = path_of(l, ino, path);

	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		reply_err(req, -ENOMEM);
		return;
	}
	pthread_mutex_init(&d->mu, NULL);
	fi->fh = (uintptr_t)d;
	end();
	if (fuse_reply_open(req, fi) == -ENOENT) {
		pthread_mutex_destroy(&d->mu);
		free(d);
	}
}

static void ll_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct lldir *d = (struct lldir *)(uintptr_t)fi->fh;

	(void)ino;
	dir_clear(d);
	free(d->ents);
	pthread_mutex_destroy(&d->mu);
	free(d);
	fuse_reply_err(req, 0);
}

/* Read the listing (again) at offset 0: rewinddir sees what is there now.
 * 0 or -errno; d->mu held. */
static int dir_load(struct fs_ll *l, fuse_ino_t ino, struct lldir *d, off_t off,
		    struct fuse_file_info *fi)
{
	char path[LL_PATH];
	int rc;

	if (off != 0 && d->filled)
		return 0;
	dir_clear(d);
	rc = path_of(l, ino, path);
	if (rc == 0)
		rc = l->ops->readdir(path, d, dir_fill, 0, fi, FUSE_READDIR_PLUS);
	d->filled = rc == 0;
	return rc;
}

static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi, int plus)
{
	struct fs_ll *l = begin(req);
	struct lldir *d = (struct lldir *)(uintptr_t)fi->fh;
	char dpath[LL_PATH], *buf = malloc(size ? size : 1);
	size_t pos = 0;
	int rc;

	if (!buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	pthread_mutex_lock(&d->mu);
	rc = dir_load(l, ino, d, off, fi);
	if (rc == 0 && plus && path_of(l, ino, dpath) < 0)
		rc = -ENOENT;
	for (size_t i = (size_t)off; rc == 0 && i < d->n; i++) {
		struct lldent *de = &d->ents[i];
		int dot = !strcmp(de->name, ".") || !strcmp(de->name, "..");
		size_t need;

		if (!plus) {
			struct stat st = de->st;

			st.st_ino = LL_UNKNOWN_INO;
			need = fuse_add_direntry(req, buf + pos, size - pos,
						 de->name, &st, (off_t)i + 1);
		} else {
			struct fuse_entry_param e;
			char cpath[LL_PATH];

			memset(&e, 0, sizeof(e));
			e.attr = de->st;
			e.attr.st_ino = LL_UNKNOWN_INO;
			/* an entry the path op gave attributes for is looked
			 * up here (the kernel counts it); others only named */
			if (de->has_st && !dot &&
			    join(cpath, dpath, de->name) == 0) {
				struct llnode *n = ref_path(l, cpath);

				if (n) {
					e.ino = n->ino;
					e.attr.st_ino = n->ino;
					l->timeouts(cpath, &e.attr, &e.entry_timeout,
						    &e.attr_timeout);
				}
			}
			need = fuse_add_direntry_plus(req, buf + pos, size - pos,
						      de->name, &e, (off_t)i + 1);
			if (need > size - pos && e.ino)
				unref(l, e.ino, 1);
		}
		if (need > size - pos)
			break;
		pos += need;
	}
	pthread_mutex_unlock(&d->mu);
	if (rc < 0)
		reply_err(req, rc);
	else {
		end();
		fuse_reply_buf(req, buf, pos);
	}
	free(buf);
}

static void ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, 0);
}

static void ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, 1);
}

static const struct fuse_lowlevel_ops ll_ops = {
	.lookup = ll_lookup,
	.forget = ll_forget,
	.forget_multi = ll_forget_multi,
	.getattr = ll_getattr,
	.setattr = ll_setattr,
	.readlink = ll_readlink,
	.mkdir = ll_mkdir,
	.unlink = ll_unlink,
	.rmdir = ll_rmdir,
	.rename = ll_rename,
	.open = ll_open,
	.read = ll_read,
	.write = ll_write,
	.flush = ll_flush,
	.release = ll_release,
	.opendir = ll_opendir,
	.readdir = ll_readdir,
	.readdirplus = ll_readdirplus,
	.releasedir = ll_releasedir,
	.access = ll_access,
	.create = ll_create,
	.poll = ll_poll,
};

/* ---- set-up -------------------------------------------------------------- */

static void free_table(struct fs_ll *l)
{
	for (size_t b = 0; l->by_ino && b < l->nbuckets; b++)
		for (struct llnode *n = l->by_ino[b], *nx; n; n = nx) {
			nx = n->ino_next;
			free_node(n);
		}
	free(l->by_ino);
	free(l->by_path);
}

struct fs_ll *fs_ll_new(struct fuse_args *args,
			const struct fuse_operations *ops,
			fs_ll_timeouts_fn timeouts, void *private_data)
{
	struct fs_ll *l = calloc(1, sizeof(*l));
	struct llnode *root = calloc(1, sizeof(*root));

	if (!l || !root || !(root->path = strdup("/")))
		goto fail;
	l->ops = ops;
	l->timeouts = timeouts;
	l->private_data = private_data;
	l->nbuckets = 1024;
	l->by_ino = calloc(l->nbuckets, sizeof(*l->by_ino));
	l->by_path = calloc(l->nbuckets, sizeof(*l->by_path));
	if (!l->by_ino || !l->by_path)
		goto fail;
	root->ino = FUSE_ROOT_ID;
	root->nlookup = 1;
	index_ino(l, root);
	index_path(l, root);
	root = NULL;                   /* the table owns it */
	l->count = 1;
	l->next_ino = FUSE_ROOT_ID + 1;
	pthread_mutex_init(&l->mu, NULL);
	l->se = fuse_session_new(args, &ll_ops, sizeof(ll_ops), l);
	if (l->se)
		return l;
	pthread_mutex_destroy(&l->mu);
fail:
	if (root)
		free(root->path);
	free(root);
	if (l)
		free_table(l);
	free(l);
	return NULL;
}

struct fuse_session *fs_ll_session(struct fs_ll *l)
{
	return l->se;
}

void fs_ll_destroy(struct fs_ll *l)
{
	if (!l)
		return;
	fuse_session_destroy(l->se);
	free_table(l);
	pthread_mutex_destroy(&l->mu);
	free(l);
}
