/*
 * fuse_min.c — the baseline for the read-latency benchmark: the smallest
 * libfuse3 filesystem that serves one file, hosts/h1/state, holding
 * "free\n".  Same path depth and the same requests for an open, one
 * read and a close (entry timeout 10 s, direct_io; libfuse's high-level
 * API, which reschedfs's fs_ll stands in for), so the ratio between the
 * two is what reschedfs's own code adds to FUSE's cost.
 *     fuse_min MOUNT -f
 */
#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fuse.h>
#include <string.h>
#include <sys/stat.h>

static const char content[] = "free\n";

static void *min_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	cfg->entry_timeout = 10;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->direct_io = 1;
	return NULL;
}

static int min_getattr(const char *path, struct stat *st,
		       struct fuse_file_info *fi)
{
	memset(st, 0, sizeof(*st));
	if (!strcmp(path, "/") || !strcmp(path, "/hosts") ||
	    !strcmp(path, "/hosts/h1")) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (!strcmp(path, "/hosts/h1/state")) {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = sizeof(content) - 1;
		return 0;
	}
	return -ENOENT;
}

static int min_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, "/hosts/h1/state"))
		return -ENOENT;
	fi->direct_io = 1;
	return 0;
}

static int min_read(const char *path, char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	size_t len = sizeof(content) - 1;

	if ((size_t)off >= len)
		return 0;
	if (size > len - (size_t)off)
		size = len - (size_t)off;
	memcpy(buf, content + off, size);
	return (int)size;
}

static const struct fuse_operations min_ops = {
	.init = min_init,
	.getattr = min_getattr,
	.open = min_open,
	.read = min_read,
};

int main(int argc, char **argv)
{
	return fuse_main(argc, argv, &min_ops, NULL);
}
