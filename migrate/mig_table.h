/*
 * mig_table.h — the table of protected objects: what a process sends when
 * it moves and what a successor must receive.  A table owns its entries'
 * names; never the protected memory or the fn contexts.
 * Errors: -1 with a reason in `err` (MIG_ERR_LEN bytes).
 */
#ifndef RESCHED_MIG_TABLE_H
#define RESCHED_MIG_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "migrate/migrate.h"

#define MIG_ERR_LEN 256

struct mig_entry {
	char name[MIG_NAME_MAX];
	int type;                 /* enum mig_type, or 0 for an fn entry */
	void *addr;               /* typed: the memory (not owned) */
	size_t count;             /* typed: number of objects */
	mig_save_fn save;         /* fn entry */
	mig_load_fn load;
	void *ctx;                /* not owned */
	int seen;                 /* restore: received once */
};

struct mig_table {
	struct mig_entry *e;      /* owned array */
	size_t n, cap;
};

void mig_table_init(struct mig_table *t);
void mig_table_release(struct mig_table *t);
/* Add or replace; checks the name, the type and count*width overflow. */
int mig_table_add(struct mig_table *t, const struct mig_entry *in,
		  char *err, size_t errlen);
int mig_table_remove(struct mig_table *t, const char *name);
/* The entry called `name` (len bytes, not NUL-terminated), or NULL. */
struct mig_entry *mig_table_find(struct mig_table *t, const char *name,
				 size_t len);

#endif
