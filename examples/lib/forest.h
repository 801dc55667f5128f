/*
 * forest.h — the paper's test_tree data: binary trees of random values,
 * changed, sorted and summed each iteration, and their save/load through
 * libmigrate's portable encoder.  Shared by test_tree and test_tree_mpi.
 * A forest owns every node; tree_free releases a tree.
 */
#ifndef RESCHED_EXAMPLES_FOREST_H
#define RESCHED_EXAMPLES_FOREST_H

#include <stddef.h>
#include <stdint.h>

#include "migrate/migrate.h"

#define MAX_LEVELS 24
#define VALUE_MASK 0xfffffu

struct node {
	uint64_t value;
	struct node *left, *right;
};

struct forest {                   /* owns every node */
	int64_t levels, ntrees;
	struct node **trees;
};

/* The portable PRNG (the same values on every architecture). */
uint64_t splitmix64(uint64_t *s);
/* A tree of `depth` levels with values from rng; NULL on ENOMEM. */
struct node *tree_build(int depth, uint64_t *rng);
void tree_free(struct node *n);
/* Give every node a new value, appending them to vals from index k;
 * returns the new count. */
size_t tree_step(struct node *n, uint64_t *rng, uint64_t *vals, size_t k);
int cmp_u64(const void *a, const void *b);
int node_save(struct mig_enc *e, const struct node *n);
/* mig_protect_fn callbacks for a struct forest (ctx); 0 or -1. */
int forest_save(struct mig_enc *e, void *ctx);
int node_load(struct mig_dec *d, struct node **out, int depth);
int forest_load(struct mig_dec *d, void *ctx);

#endif
