/* mig_table.c — protected objects; see mig_table.h. */
#include "migrate/mig_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/mig_encode.h"

void mig_table_init(struct mig_table *t)
{
	memset(t, 0, sizeof(*t));
}

void mig_table_release(struct mig_table *t)
{
	free(t->e);
	mig_table_init(t);
}

struct mig_entry *mig_table_find(struct mig_table *t, const char *name,
				 size_t len)
{
	for (size_t i = 0; i < t->n; i++) {
		if (strlen(t->e[i].name) == len && !memcmp(t->e[i].name, name, len))
			return &t->e[i];
	}
	return NULL;
}

static int entry_check(const struct mig_entry *in, char *err, size_t errlen)
{
	size_t w;

	if (!in->name[0] || strlen(in->name) >= MIG_NAME_MAX - 1) {
		snprintf(err, errlen, "bad name (1..%d bytes)", MIG_NAME_MAX - 2);
		return -1;
	}
	if (!in->type)
		return in->save && in->load ? 0 :
			(snprintf(err, errlen, "%s: save and load are required", in->name), -1);
	w = mig_type_width(in->type);
	if (!w) {
		snprintf(err, errlen, "%s: unknown type %d", in->name, in->type);
		return -1;
	}
	if (in->count > SIZE_MAX / w || (in->count && !in->addr)) {
		snprintf(err, errlen, "%s: bad address or count", in->name);
		return -1;
	}
	return 0;
}

int mig_table_add(struct mig_table *t, const struct mig_entry *in,
		  char *err, size_t errlen)
{
	struct mig_entry *old;

	if (entry_check(in, err, errlen) < 0)
		return -1;
	old = mig_table_find(t, in->name, strlen(in->name));
	if (old) {
		*old = *in;
		return 0;
	}
	if (t->n == MIG_ENTRIES_MAX) {
		snprintf(err, errlen, "too many protected objects (%d)", MIG_ENTRIES_MAX);
		return -1;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct mig_entry *ne = realloc(t->e, cap * sizeof(*ne));

		if (!ne) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		t->e = ne;
		t->cap = cap;
	}
	t->e[t->n++] = *in;
	return 0;
}

int mig_table_remove(struct mig_table *t, const char *name)
{
	struct mig_entry *e = mig_table_find(t, name, strlen(name));

	if (!e)
		return -1;
	memmove(e, e + 1, (size_t)(t->e + t->n - (e + 1)) * sizeof(*e));
	t->n--;
	return 0;
}
