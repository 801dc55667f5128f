/*
 * mig_io.h — the byte transport under the migration stream: read exactly n
 * bytes / write exactly n bytes, or fail with a reason.  Two kinds:
 *   mig_fdio   a socket, non-blocking, every wait bounded by timeout_ms
 *              and, when deadline is set, by that overall deadline;
 *              writes use MSG_NOSIGNAL (a dead peer is an error, never a
 *              SIGPIPE).  corrupt_at >= 0 flips the bit 0x01 of that stream
 *              byte on the wire (test hook RESCHED_TEST_CORRUPT_AT).
 *   mig_memio  memory: reads from a caller's buffer (not owned), writes
 *              append to an owned growable buffer (freed by
 *              mig_memio_release).  Used by unit tests and the fuzzer.
 * Both return 0 or -1 with a reason in err.
 */
#ifndef RESCHED_MIG_IO_H
#define RESCHED_MIG_IO_H

#include <stddef.h>
#include <stdint.h>

struct mig_io {
	int (*read)(struct mig_io *io, void *buf, size_t n, char *err, size_t errlen);
	int (*write)(struct mig_io *io, const void *buf, size_t n, char *err, size_t errlen);
};

struct mig_fdio {
	struct mig_io io;         /* first: a struct mig_io * points here */
	int fd;                   /* not owned */
	int timeout_ms;           /* per wait */
	double deadline;          /* util_now_s() by which every wait ends; 0 none */
	uint64_t off;             /* bytes written so far */
	int64_t corrupt_at;       /* -1: off */
};

struct mig_memio {
	struct mig_io io;
	const unsigned char *in;  /* not owned */
	size_t inlen, inpos;
	unsigned char *out;       /* owned */
	size_t outlen, outcap;
};

void mig_fdio_init(struct mig_fdio *f, int fd, int timeout_ms);
void mig_memio_init(struct mig_memio *m, const void *in, size_t inlen);
void mig_memio_release(struct mig_memio *m);

#endif
