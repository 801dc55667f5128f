/*
 * mig_sum.h — the stream checksum: XXH3 64-bit, streaming.  xxhash is used
 * header-only (XXH_INLINE_ALL), so the library links nothing for it and the
 * s390x cross build needs only xxhash.h.
 */
#ifndef RESCHED_MIG_SUM_H
#define RESCHED_MIG_SUM_H

#include <stddef.h>
#include <stdint.h>

struct mig_sum;

/* A new checksum state (caller frees with mig_sum_free), NULL on ENOMEM. */
struct mig_sum *mig_sum_new(void);
void mig_sum_free(struct mig_sum *s);
void mig_sum_update(struct mig_sum *s, const void *p, size_t n);
uint64_t mig_sum_digest(const struct mig_sum *s);
/* One-shot, for tests. */
uint64_t mig_sum_buf(const void *p, size_t n);

#endif
