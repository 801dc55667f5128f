/* mig_sum.c — XXH3-64 checksum; see mig_sum.h. */
#include "migrate/mig_sum.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

struct mig_sum {
	XXH3_state_t *st;
};

struct mig_sum *mig_sum_new(void)
{
	struct mig_sum *s = malloc(sizeof(*s));

	if (!s)
		return NULL;
	s->st = XXH3_createState();
	if (!s->st || XXH3_64bits_reset(s->st) != XXH_OK) {
		XXH3_freeState(s->st);
		free(s);
		return NULL;
	}
	return s;
}

void mig_sum_free(struct mig_sum *s)
{
	if (!s)
		return;
	XXH3_freeState(s->st);
	free(s);
}

void mig_sum_update(struct mig_sum *s, const void *p, size_t n)
{
	XXH3_64bits_update(s->st, p, n);
}

uint64_t mig_sum_digest(const struct mig_sum *s)
{
	return XXH3_64bits_digest(s->st);
}

uint64_t mig_sum_buf(const void *p, size_t n)
{
	return XXH3_64bits(p, n);
}
