/*
 * test_tree — the paper's migration-enabled test application: build binary
 * trees of a given depth with a random value in each node, then over many
 * iterations change every value, sort each tree's values and sum them.
 * All arithmetic is on uint64_t with a portable PRNG (splitmix64), so the
 * final `sum VALUE` is the same on every architecture and however often the
 * run was migrated.  Poll point: after each iteration.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "examples/lib/forest.h"
#include "migrate/migrate.h"


struct opts {
	int64_t levels, trees, iterations, seed, sleep_ms, work, payload_mb;
	const char *out;
};

/* ---- the program ------------------------------------------------------- */
static void usage(FILE *fp)
{
	fprintf(fp, "usage: test_tree [--levels N] [--trees N] [--iterations N] [--seed S]\n"
		"                 [--sleep-ms MS] [--work N] [--payload-mb MB] [--out FILE]\n"
		"                 [--mig-schema FILE]\n"
		"Builds N binary trees of the given depth with random node values; each\n"
		"iteration changes every value, sorts each tree's values and adds them up\n"
		"(--work times).  Prints `sum VALUE` last (also to FILE with --out).\n"
		"--payload-mb adds a protected array of that size (transfer tests).\n");
}

static int parse_num(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "levels", 1, 0, 'l' }, { "trees", 1, 0, 't' },
		{ "iterations", 1, 0, 'i' }, { "seed", 1, 0, 's' },
		{ "sleep-ms", 1, 0, 'm' }, { "work", 1, 0, 'w' },
		{ "payload-mb", 1, 0, 'p' }, { "out", 1, 0, 'o' },
		{ "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
	};
	int c, bad = 0;

	*o = (struct opts){ 12, 8, 100, 1, 0, 1, 0, NULL };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'l': bad |= parse_num(optarg, 1, MAX_LEVELS, &o->levels); break;
		case 't': bad |= parse_num(optarg, 1, 1 << 20, &o->trees); break;
		case 'i': bad |= parse_num(optarg, 0, INT64_MAX, &o->iterations); break;
		case 's': bad |= parse_num(optarg, 0, INT64_MAX, &o->seed); break;
		case 'm': bad |= parse_num(optarg, 0, 3600000, &o->sleep_ms); break;
		case 'w': bad |= parse_num(optarg, 1, 1 << 20, &o->work); break;
		case 'p': bad |= parse_num(optarg, 0, 1 << 16, &o->payload_mb); break;
		case 'o': o->out = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (bad || optind != argc) {
		fprintf(stderr, "test_tree: bad arguments (see --help)\n");
		return -1;
	}
	return 0;
}

struct run {                      /* everything that defines where we are */
	int64_t params[4];        /* levels trees iterations seed: checked on restore */
	int64_t iter;
	uint64_t acc, rng;
	uint64_t *payload;        /* owned */
	size_t npayload;
	uint64_t *vals;           /* scratch, owned */
	struct forest forest;
};

static void iteration(struct run *r, const struct opts *o)
{
	size_t nodes = ((size_t)1 << o->levels) - 1;

	for (int64_t w = 0; w < o->work; w++) {
		for (int64_t t = 0; t < r->forest.ntrees; t++) {
			size_t k = tree_step(r->forest.trees[t], &r->rng, r->vals, 0);

			qsort(r->vals, k, sizeof(*r->vals), cmp_u64);
			for (size_t i = 0; i < k && i < nodes; i++)
				r->acc += r->vals[i] * (i + 1) + r->vals[i];
		}
	}
	if (r->npayload) {
		size_t i = (size_t)((uint64_t)r->iter * 2654435761u % r->npayload);

		r->acc += r->payload[i];
		r->payload[i] ^= r->acc;
	}
}

static void setup(struct run *r, const struct opts *o)
{
	r->rng = (uint64_t)o->seed;
	for (int64_t t = 0; t < o->trees; t++)
		r->forest.trees[t] = tree_build((int)o->levels, &r->rng);
	for (size_t i = 0; i < r->npayload; i++) {
		uint64_t s = (uint64_t)o->seed + i;

		r->payload[i] = splitmix64(&s);
	}
}

static int protect_all(struct run *r)
{
	if (mig_protect("params", r->params, 4, MIG_INT64) < 0 ||
	    mig_protect("iter", &r->iter, 1, MIG_INT64) < 0 ||
	    mig_protect("acc", &r->acc, 1, MIG_UINT64) < 0 ||
	    mig_protect("rng", &r->rng, 1, MIG_UINT64) < 0 ||
	    mig_protect_fn("trees", forest_save, forest_load, &r->forest) < 0)
		return -1;
	if (r->npayload && mig_protect("payload", r->payload, r->npayload, MIG_UINT64) < 0)
		return -1;
	return 0;
}

static int alloc_run(struct run *r, const struct opts *o)
{
	r->forest.levels = o->levels;
	r->forest.ntrees = o->trees;
	r->forest.trees = calloc((size_t)o->trees, sizeof(*r->forest.trees));
	r->vals = malloc((((size_t)1 << o->levels) - 1) * sizeof(*r->vals));
	r->npayload = (size_t)o->payload_mb * (1 << 20) / sizeof(uint64_t);
	r->payload = r->npayload ? malloc(r->npayload * sizeof(uint64_t)) : NULL;
	if (!r->forest.trees || !r->vals || (r->npayload && !r->payload))
		return -1;
	r->params[0] = o->levels;
	r->params[1] = o->trees;
	r->params[2] = o->iterations;
	r->params[3] = o->seed;
	return 0;
}

static void free_run(struct run *r)
{
	for (int64_t t = 0; t < r->forest.ntrees; t++)
		tree_free(r->forest.trees[t]);
	free(r->forest.trees);
	free(r->vals);
	free(r->payload);
}

static void nap(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int finish(const struct run *r, const struct opts *o)
{
	FILE *fp;

	printf("sum %llu\n", (unsigned long long)r->acc);
	fflush(stdout);
	if (!o->out)
		return 0;
	fp = fopen(o->out, "w");
	if (!fp || fprintf(fp, "sum %llu\n", (unsigned long long)r->acc) < 0 ||
	    fclose(fp) != 0) {
		fprintf(stderr, "test_tree: %s: %s\n", o->out, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct run r = { 0 };
	int64_t want[4];
	int rc = 1;

	if (mig_init(&argc, &argv) < 0) {
		fprintf(stderr, "test_tree: %s\n", mig_strerror());
		return 1;
	}
	if (parse_opts(argc, argv, &o) < 0)
		return 2;
	if (alloc_run(&r, &o) < 0 || protect_all(&r) < 0) {
		fprintf(stderr, "test_tree: set-up failed: %s\n", mig_strerror());
		goto out;
	}
	memcpy(want, r.params, sizeof(want));
	if (!mig_restored())
		setup(&r, &o);
	else if (memcmp(want, r.params, sizeof(want)) != 0) {
		fprintf(stderr, "test_tree: restored state is for other arguments\n");
		goto out;
	}
	while (r.iter < o.iterations) {
		iteration(&r, &o);
		r.iter++;
		mig_poll_label("iteration");
		nap(o.sleep_ms);
	}
	rc = finish(&r, &o) < 0;
	mig_finalize();
out:
	free_run(&r);
	return rc;
}
