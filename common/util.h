/*
 * util.h — small helpers shared by every component.
 */
#ifndef RESCHED_UTIL_H
#define RESCHED_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Read at most `max` bytes of `path` into a new NUL-terminated buffer that
 * the caller frees.  *len (may be NULL) gets the length.  Returns NULL with
 * errno set on error; EFBIG when the file is larger than `max`. */
char *util_read_file(const char *path, size_t max, size_t *len);

/* Write `len` bytes to `path` atomically and durably: a temporary
 * ".NAME.tmp.XXXXXX" in the same directory, fsync, rename, fsync of the
 * directory.  0 only once all of it succeeded; -1 with errno otherwise
 * (ENOSPC, EIO, ...), with the old file in place unless only the last
 * fsync of the directory failed (renamed, but not known to be on disk). */
int util_write_atomic(const char *path, const void *buf, size_t len, int mode);

/* The library error convention: -1 and a one-line reason in the caller's
 * buffer.  Formats into err (size errlen) when err is not NULL. */
void util_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Monotonic and wall-clock time. */
uint64_t util_now_ns(void);       /* CLOCK_MONOTONIC */
double util_now_s(void);          /* CLOCK_MONOTONIC, seconds */
double util_wall_s(void);         /* CLOCK_REALTIME, seconds */

/* Parse a whole string as a double / non-negative integer; 0 ok, -1 bad. */
int util_parse_double(const char *s, double *out);
int util_parse_u64(const char *s, uint64_t *out);

/* Format a double the way every resched file shows numbers: integers
 * without a fraction, others with up to 6 significant decimals, no
 * trailing zeros.  Returns `buf`. */
char *util_fmt_num(char *buf, size_t size, double v);

#endif
