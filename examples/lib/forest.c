/* forest.c — see forest.h. */
#include "examples/lib/forest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* ---- trees ------------------------------------------------------------- */
struct node *tree_build(int depth, uint64_t *rng)
{
	struct node *n;

	if (depth == 0)
		return NULL;
	n = malloc(sizeof(*n));
	if (!n) {
		fprintf(stderr, "test_tree: out of memory\n");
		exit(1);
	}
	n->value = splitmix64(rng) & VALUE_MASK;
	n->left = tree_build(depth - 1, rng);
	n->right = tree_build(depth - 1, rng);
	return n;
}

void tree_free(struct node *n)
{
	if (!n)
		return;
	tree_free(n->left);
	tree_free(n->right);
	free(n);
}

/* Change every value and collect them (preorder) into vals. */
size_t tree_step(struct node *n, uint64_t *rng, uint64_t *vals, size_t k)
{
	if (!n)
		return k;
	n->value = (n->value ^ splitmix64(rng)) & VALUE_MASK;
	vals[k++] = n->value;
	k = tree_step(n->left, rng, vals, k);
	return tree_step(n->right, rng, vals, k);
}

int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* ---- save / load through the portable encoder -------------------------- */
int node_save(struct mig_enc *e, const struct node *n)
{
	if (mig_put_u8(e, n != NULL) < 0)
		return -1;
	if (!n)
		return 0;
	if (mig_put_uint64(e, n->value) < 0 || node_save(e, n->left) < 0)
		return -1;
	return node_save(e, n->right);
}

int forest_save(struct mig_enc *e, void *ctx)
{
	struct forest *f = ctx;

	if (mig_put_int64(e, f->levels) < 0 || mig_put_int64(e, f->ntrees) < 0)
		return -1;
	for (int64_t i = 0; i < f->ntrees; i++) {
		if (node_save(e, f->trees[i]) < 0)
			return -1;
	}
	return 0;
}

/* A node no deeper than `depth` levels; -1 on malformed input. */
int node_load(struct mig_dec *d, struct node **out, int depth)
{
	uint8_t present;
	struct node *n;

	*out = NULL;
	if (mig_get_u8(d, &present) < 0 || present > 1 || (present && depth == 0))
		return -1;
	if (!present)
		return 0;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -1;
	*out = n;
	if (mig_get_uint64(d, &n->value) < 0 || node_load(d, &n->left, depth - 1) < 0)
		return -1;
	return node_load(d, &n->right, depth - 1);
}

int forest_load(struct mig_dec *d, void *ctx)
{
	struct forest *f = ctx;
	int64_t levels, ntrees;

	if (mig_get_int64(d, &levels) < 0 || mig_get_int64(d, &ntrees) < 0 ||
	    levels != f->levels || ntrees != f->ntrees)
		return -1;
	for (int64_t i = 0; i < f->ntrees; i++) {
		tree_free(f->trees[i]);
		if (node_load(d, &f->trees[i], (int)f->levels) < 0)
			return -1;
	}
	return 0;
}
