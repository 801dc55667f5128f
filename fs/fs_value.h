/*
 * fs_value.h — the one parser of values written into the tree
 * (sched/<name>, hosts/<host>/state, procs/<id>/migrate) and of the values
 * of DIR/sched under --state.
 *
 * A value is exactly one word followed by at most one newline, and
 * nothing else: no blank before or after it, no second word, no NUL byte
 * (a write carries a length, so bytes after a NUL are seen and refused),
 * no second line, and no silent cut: a word longer than the caller's
 * buffer is refused, not truncated.  A word is 1 or more bytes above
 * 0x20, other than 0x7f.  Numbers are plain decimal: digits, optionally
 * a '.' and more digits; no sign, no exponent, no hex, no "inf"/"nan".
 *
 * Every function returns 0, or -1 with *why set to a static reason
 * (for events and error buffers).  Thread-safe, no allocation.
 */
#ifndef RESCHED_FS_VALUE_H
#define RESCHED_FS_VALUE_H

#include <stddef.h>
#include <stdint.h>

/* The word of text[0..len) into buf (size bytes, NUL-terminated). */
int fs_value_word(const char *text, size_t len, char *buf, size_t size,
		  const char **why);
/* A decimal number in [min, max]. */
int fs_value_number(const char *text, size_t len, double min, double max,
		    double *out, const char **why);
/* A decimal integer (digits only) in [0, max]. */
int fs_value_uint(const char *text, size_t len, uint64_t max, uint64_t *out,
		  const char **why);

#endif
