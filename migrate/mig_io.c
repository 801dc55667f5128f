/* mig_io.c — socket and memory transports; see mig_io.h. */
#include "migrate/mig_io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define CORRUPT_CHUNK 65536
#define SPLICE_MIN ((size_t)256 << 10)  /* smaller writes: plain send */
#define SPLICE_PIPE (1 << 20)           /* pipe capacity asked for */

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
			if (fd_wait(f->fd, POLLIN, f->timeout_ms, err, errlen) < 0)
				return -1;
		} else if (errno != EINTR) {
			snprintf(err, errlen, "recv: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int fd_send(struct mig_fdio *f, const unsigned char *p, size_t n,
		   char *err, size_t errlen)
{
	while (n) {
		ssize_t r = send(f->fd, p, n, MSG_NOSIGNAL);

		if (r >= 0) {
			p += r;
			n -= (size_t)r;
			f->off += (uint64_t)r;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (fd_wait(f->fd, POLLOUT, f->timeout_ms, err, errlen) < 0)
				return -1;
		} else if (errno != EINTR) {
			snprintf(err, errlen, "send: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* A large write by reference: the caller's pages are vmspliced into a
 * pipe and spliced from there into the socket, so the kernel copies the
 * bytes once (into the receiver) instead of twice (into socket buffers,
 * then out).  The pages may stay referenced by TCP until they are
 * acknowledged; that is safe here because the protected memory does not
 * change until the receiver has answered for the whole stream, and after
 * a failed move the bytes still in flight go to a receiver that is
 * discarded.  Returns bytes sent (all of n) or -1; when the kernel cannot
 * splice into this fd, *sent says how far it got and errno is EINVAL. */
static int fd_splice(struct mig_fdio *f, const unsigned char *p, size_t n,
		     size_t *sent, char *err, size_t errlen)
{
	int pfd[2], rc = -1;
	size_t inpipe = 0;

	*sent = 0;
	if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) < 0) {
		errno = EINVAL;
		return -1;
	}
	(void)fcntl(pfd[1], F_SETPIPE_SZ, SPLICE_PIPE);   /* a hint */
	while (*sent < n) {
		size_t left = n - *sent - inpipe;
		ssize_t r;

		if (left) {
			struct iovec iov = { (void *)(p + *sent + inpipe), left };

			r = vmsplice(pfd[1], &iov, 1, SPLICE_F_NONBLOCK);
			if (r > 0)
				inpipe += (size_t)r;
			else if (r < 0 && errno != EAGAIN && errno != EINTR) {
				if (errno != EINVAL && errno != ENOSYS)
					snprintf(err, errlen, "vmsplice: %s", strerror(errno));
				errno = errno == ENOSYS ? EINVAL : errno;
				goto out;
			}
		}
		if (!inpipe)
			continue;
		r = splice(pfd[0], NULL, f->fd, NULL, inpipe,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK |
			   (left > 0 ? SPLICE_F_MORE : 0));
		if (r > 0) {
			inpipe -= (size_t)r;
			*sent += (size_t)r;
			f->off += (uint64_t)r;
		} else if (r < 0 && errno == EAGAIN) {
			if (fd_wait(f->fd, POLLOUT, f->timeout_ms, err, errlen) < 0) {
				errno = ETIMEDOUT;
				goto out;
			}
		} else if (r < 0 && errno != EINTR) {
			if (errno != EINVAL || *sent > 0)
				snprintf(err, errlen, "splice: %s", strerror(errno));
			if (*sent > 0 && errno == EINVAL)
				errno = EIO;      /* part sent: no fallback */
			goto out;
		} else if (r == 0) {
			snprintf(err, errlen, "splice: connection closed");
			errno = EPIPE;
			goto out;
		}
	}
	rc = 0;
out:
	close(pfd[0]);
	close(pfd[1]);
	return rc;
}

/* splice(2) has no MSG_NOSIGNAL: a peer that is gone would raise SIGPIPE
 * and kill the source.  SIGPIPE is blocked in this thread around the
 * call, and one it raised is taken off the thread's pending set. */
static int fd_splice_nosig(struct mig_fdio *f, const unsigned char *p,
			   size_t n, size_t *sent, char *err, size_t errlen)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t pipe_set, old, pending;
	int rc, e, was_pending;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	rc = fd_splice(f, p, n, sent, err, errlen);
	e = errno;
	if (!was_pending)
		while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return rc;
}

/* Send all of p with send(2), or when stable (write_stable) and large,
 * by reference (fd_splice) where the kernel can splice into this fd. */
static int fd_write_raw(struct mig_fdio *f, const unsigned char *p, size_t n,
			int stable, char *err, size_t errlen)
{
	size_t sent = 0;

	if (stable && n >= SPLICE_MIN && !f->no_splice) {
		if (fd_splice_nosig(f, p, n, &sent, err, errlen) == 0)
			return 0;
		if (errno != EINVAL)
			return -1;
		f->no_splice = 1;     /* not a socket we can splice into */
	}
	return fd_send(f, p + sent, n - sent, err, errlen);
}

/* The corrupt-at test hook: send the chunk holding that byte from a copy. */
static int fd_write_corrupt(struct mig_fdio *f, const unsigned char *p, size_t n,
			    int stable, char *err, size_t errlen)
{
	uint64_t at = (uint64_t)f->corrupt_at;
	size_t pre = (size_t)(at - f->off), len;
	unsigned char tmp[CORRUPT_CHUNK];

	if (fd_write_raw(f, p, pre, stable, err, errlen) < 0)
		return -1;
	len = n - pre < sizeof(tmp) ? n - pre : sizeof(tmp);
	memcpy(tmp, p + pre, len);
	tmp[0] ^= 0x01;
	f->corrupt_at = -1;
	if (fd_write_raw(f, tmp, len, 0, err, errlen) < 0)
		return -1;
	return fd_write_raw(f, p + pre + len, n - pre - len, stable, err, errlen);
}

static int fd_put(struct mig_fdio *f, const void *buf, size_t n, int stable,
		  char *err, size_t errlen)
{
	if (f->corrupt_at >= 0 && (uint64_t)f->corrupt_at >= f->off &&
	    (uint64_t)f->corrupt_at - f->off < n)
		return fd_write_corrupt(f, buf, n, stable, err, errlen);
	return fd_write_raw(f, buf, n, stable, err, errlen);
}

static int fd_write(struct mig_io *io, const void *buf, size_t n, char *err, size_t errlen)
{
	return fd_put((struct mig_fdio *)io, buf, n, 0, err, errlen);
}

static int fd_write_stable(struct mig_io *io, const void *buf, size_t n,
			   char *err, size_t errlen)
{
	return fd_put((struct mig_fdio *)io, buf, n, 1, err, errlen);
}

void mig_fdio_init(struct mig_fdio *f, int fd, int timeout_ms)
{
	memset(f, 0, sizeof(*f));
	f->io.read = fd_read;
	f->io.write = fd_write;
	f->io.write_stable = fd_write_stable;
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
