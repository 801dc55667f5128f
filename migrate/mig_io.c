/* mig_io.c — socket and memory transports; see mig_io.h. */
#include "migrate/mig_io.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"

#define CORRUPT_CHUNK 65536

/* Wait for `events` on fd; 0 ready, -1 timeout or error. */
static int fd_wait(int fd, short events, int timeout_ms, char *err, size_t errlen)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		return 0;
	if (r == 0)
		snprintf(err, errlen, "timeout after %d ms", timeout_ms);
	else
		snprintf(err, errlen, "poll: %s", strerror(errno));
	return -1;
}

/* The next wait of f: timeout_ms, or less to meet the deadline. */
static int fd_wait_f(struct mig_fdio *f, short events, char *err, size_t errlen)
{
	double left;

	if (f->deadline <= 0)
		return fd_wait(f->fd, events, f->timeout_ms, err, errlen);
	left = (f->deadline - util_now_s()) * 1000;
	if (left < 1) {
		snprintf(err, errlen, "deadline passed");
		return -1;
	}
	return fd_wait(f->fd, events, f->timeout_ms >= 0 && f->timeout_ms < left ?
		       f->timeout_ms : (int)left, err, errlen);
}

static int fd_read(struct mig_io *io, void *buf, size_t n, char *err, size_t errlen)
{
	struct mig_fdio *f = (struct mig_fdio *)io;
	unsigned char *p = buf;

	while (n) {
		ssize_t r = recv(f->fd, p, n, 0);

		if (r > 0) {
			p += r;
			n -= (size_t)r;
		} else if (r == 0) {
			snprintf(err, errlen, "connection closed by peer");
			return -1;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (fd_wait_f(f, POLLIN, err, errlen) < 0)
				return -1;
		} else if (errno != EINTR) {
			snprintf(err, errlen, "recv: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int fd_write_raw(struct mig_fdio *f, const unsigned char *p, size_t n,
			char *err, size_t errlen)
{
	while (n) {
		ssize_t r = send(f->fd, p, n, MSG_NOSIGNAL);

		if (r >= 0) {
			p += r;
			n -= (size_t)r;
			f->off += (uint64_t)r;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (fd_wait_f(f, POLLOUT, err, errlen) < 0)
				return -1;
		} else if (errno != EINTR) {
			snprintf(err, errlen, "send: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The corrupt-at test hook: send the chunk holding that byte from a copy. */
static int fd_write_corrupt(struct mig_fdio *f, const unsigned char *p, size_t n,
			    char *err, size_t errlen)
{
	uint64_t at = (uint64_t)f->corrupt_at;
	size_t pre = (size_t)(at - f->off), len;
	unsigned char tmp[CORRUPT_CHUNK];

	if (fd_write_raw(f, p, pre, err, errlen) < 0)
		return -1;
	len = n - pre < sizeof(tmp) ? n - pre : sizeof(tmp);
	memcpy(tmp, p + pre, len);
	tmp[0] ^= 0x01;
	f->corrupt_at = -1;
	if (fd_write_raw(f, tmp, len, err, errlen) < 0)
		return -1;
	return fd_write_raw(f, p + pre + len, n - pre - len, err, errlen);
}

static int fd_write(struct mig_io *io, const void *buf, size_t n, char *err, size_t errlen)
{
	struct mig_fdio *f = (struct mig_fdio *)io;

	if (f->corrupt_at >= 0 && (uint64_t)f->corrupt_at >= f->off &&
	    (uint64_t)f->corrupt_at - f->off < n)
		return fd_write_corrupt(f, buf, n, err, errlen);
	return fd_write_raw(f, buf, n, err, errlen);
}

void mig_fdio_init(struct mig_fdio *f, int fd, int timeout_ms)
{
	memset(f, 0, sizeof(*f));
	f->io.read = fd_read;
	f->io.write = fd_write;
	f->fd = fd;
	f->timeout_ms = timeout_ms;
	f->corrupt_at = -1;
}

/* ---- memory ------------------------------------------------------------ */
static int mem_read(struct mig_io *io, void *buf, size_t n, char *err, size_t errlen)
{
	struct mig_memio *m = (struct mig_memio *)io;

	if (m->inlen - m->inpos < n) {
		snprintf(err, errlen, "stream truncated");
		return -1;
	}
	if (n)
		memcpy(buf, m->in + m->inpos, n);
	m->inpos += n;
	return 0;
}

static int mem_write(struct mig_io *io, const void *buf, size_t n, char *err, size_t errlen)
{
	struct mig_memio *m = (struct mig_memio *)io;

	if (m->outcap - m->outlen < n) {
		size_t cap = m->outcap ? m->outcap : 4096;
		unsigned char *nb;

		while (cap - m->outlen < n)
			cap *= 2;
		nb = realloc(m->out, cap);
		if (!nb) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		m->out = nb;
		m->outcap = cap;
	}
	if (n)
		memcpy(m->out + m->outlen, buf, n);
	m->outlen += n;
	return 0;
}

void mig_memio_init(struct mig_memio *m, const void *in, size_t inlen)
{
	memset(m, 0, sizeof(*m));
	m->io.read = mem_read;
	m->io.write = mem_write;
	m->in = in;
	m->inlen = inlen;
}

void mig_memio_release(struct mig_memio *m)
{
	free(m->out);
	m->out = NULL;
	m->outlen = m->outcap = 0;
}
