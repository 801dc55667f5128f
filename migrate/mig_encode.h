/*
 * mig_encode.h — internals of the portable encoder (the public calls are in
 * migrate.h).  A struct mig_enc is a growable buffer of tagged values in the
 * writer's native byte order; a struct mig_dec reads such a buffer written
 * by a machine whose byte order may differ (swap != 0), checking every tag
 * and length against what is left.  Neither owns the other's memory.
 *
 * Value layout: tag byte, then the value: fixed-width numbers as is;
 * bytes/str: uint64 length then the bytes.
 */
#ifndef RESCHED_MIG_ENCODE_H
#define RESCHED_MIG_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "migrate/migrate.h"

#define MIG_FN_MAX ((uint64_t)1 << 32)   /* largest fn-entry buffer, bytes */
#define MIG_STR_MAX ((size_t)1 << 20)     /* largest mig_get_strdup string */

struct mig_enc {
	unsigned char *buf;       /* owned; freed by mig_enc_release */
	size_t len, cap;
	int failed;               /* out of memory: later puts fail */
};

struct mig_dec {
	const unsigned char *buf; /* not owned */
	size_t len, pos;
	int swap;                 /* writer's byte order differs */
	int failed;
};

void mig_enc_init(struct mig_enc *e);
void mig_enc_release(struct mig_enc *e);
void mig_dec_init(struct mig_dec *d, const void *buf, size_t len, int swap);
/* 1 when every byte was consumed and no get failed. */
int mig_dec_done(const struct mig_dec *d);

/* Byte order helpers shared with the stream. */
int mig_host_big_endian(void);
void mig_swap_inplace(void *p, size_t width, size_t count);
uint16_t mig_swap16(uint16_t v);
uint32_t mig_swap32(uint32_t v);
uint64_t mig_swap64(uint64_t v);
/* Wire width of a type, 0 for an unknown type. */
size_t mig_type_width(int type);
const char *mig_type_name(int type);

#endif
