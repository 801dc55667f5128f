/*
 * test_tree_mpi — the MPI sibling of test_tree: the trees are shared out
 * over the ranks of mig_comm() (global tree t lives on rank t % size, with
 * its own PRNG stream), each iteration changes every value, sorts each
 * tree's values and adds them up, the ranks check with an MPI_Allreduce
 * that they are at the same iteration, and rank 0 prints the global sum
 * `sum VALUE`.  The sum depends only on the arguments: not on the number of
 * ranks, nor on how often or where ranks migrated.  Poll point: after each
 * iteration.  At the end rank 0 prints one line per rank (pid, address of
 * its host, iterations this process ran itself, restored or not), so a test
 * sees which processes never restarted and where a migrated rank went.
 */
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <mpi.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "examples/lib/forest.h"
#include "migrate/migrate.h"

#define ADDR_LEN 64

struct opts {
	int64_t levels, trees, iterations, seed, sleep_ms, work, poll_bench, state_mb;
	const char *out;
};

/* ---- the program ------------------------------------------------------- */
static void usage(FILE *fp)
{
	fprintf(fp, "usage: test_tree_mpi [--levels N] [--trees N] [--iterations N] [--seed S]\n"
		"                     [--sleep-ms MS] [--work N] [--out FILE] [--poll-bench N]\n"
		"                     [--state-mb N] [--mig-schema FILE]\n"
		"Run under mpirun.  Builds N binary trees (shared out over the ranks) of the\n"
		"given depth; each iteration changes every value, sorts each tree's values\n"
		"and adds them up (--work times).  Rank 0 prints `sum VALUE` last (also to\n"
		"FILE with --out).  --poll-bench N only times N mig_poll calls and prints\n"
		"mig_poll_mpi_ns=NS.  --state-mb N also protects an array of N MiB per rank\n"
		"that every iteration rewrites and the end checks (state that is typed\n"
		"memory, as opposed to the trees' pointer structures).\n");
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
		{ "poll-bench", 1, 0, 'b' }, { "out", 1, 0, 'o' },
		{ "state-mb", 1, 0, 'a' },
		{ "help", 0, 0, 'h' }, { 0, 0, 0, 0 },
	};
	int c, bad = 0;

	*o = (struct opts){ 12, 8, 100, 1, 0, 1, 0, 0, NULL };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'l': bad |= parse_num(optarg, 1, MAX_LEVELS, &o->levels); break;
		case 't': bad |= parse_num(optarg, 1, 1 << 20, &o->trees); break;
		case 'i': bad |= parse_num(optarg, 0, INT64_MAX, &o->iterations); break;
		case 's': bad |= parse_num(optarg, 0, INT64_MAX, &o->seed); break;
		case 'm': bad |= parse_num(optarg, 0, 3600000, &o->sleep_ms); break;
		case 'w': bad |= parse_num(optarg, 1, 1 << 20, &o->work); break;
		case 'b': bad |= parse_num(optarg, 1, INT64_MAX, &o->poll_bench); break;
		case 'a': bad |= parse_num(optarg, 0, 1 << 16, &o->state_mb); break;
		case 'o': o->out = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (bad || optind != argc) {
		fprintf(stderr, "test_tree_mpi: bad arguments (see --help)\n");
		return -1;
	}
	return 0;
}

struct run {                      /* everything that defines where we are */
	int64_t params[5];        /* levels trees iterations seed size: checked */
	int64_t iter;
	uint64_t acc;             /* this rank's share of the sum */
	uint64_t *rng;            /* one stream per local tree, owned */
	uint64_t *vals;           /* scratch, owned */
	uint64_t *block;          /* --state-mb: nblock words, owned */
	size_t nblock;
	struct forest forest;
	int rank, size;
	int64_t ran;              /* iterations this process ran: never migrated */
};

static void iteration(struct run *r, const struct opts *o)
{
	size_t nodes = ((size_t)1 << o->levels) - 1;

	for (int64_t w = 0; w < o->work; w++) {
		for (int64_t t = 0; t < r->forest.ntrees; t++) {
			size_t k = tree_step(r->forest.trees[t], &r->rng[t], r->vals, 0);

			qsort(r->vals, k, sizeof(*r->vals), cmp_u64);
			for (size_t i = 0; i < k && i < nodes; i++)
				r->acc += r->vals[i] * (i + 1) + r->vals[i];
		}
	}
	for (size_t i = 0; i < r->nblock; i++)
		r->block[i] = (uint64_t)r->iter * 0x9e3779b97f4a7c15ULL + i;
}

/* --state-mb: the block holds what the last iteration wrote. */
static int block_ok(const struct run *r)
{
	for (size_t i = 0; i < r->nblock; i++)
		if (r->block[i] != (uint64_t)(r->iter - 1) * 0x9e3779b97f4a7c15ULL + i)
			return 0;
	return 1;
}

/* Local tree t is global tree rank + t * size, with its own PRNG seed. */
static void setup(struct run *r, const struct opts *o)
{
	for (int64_t t = 0; t < r->forest.ntrees; t++) {
		uint64_t s = (uint64_t)o->seed ^
			     ((uint64_t)(r->rank + t * r->size) * 0x9e3779b97f4a7c15ULL);

		r->rng[t] = splitmix64(&s);
		r->forest.trees[t] = tree_build((int)o->levels, &r->rng[t]);
	}
}

static int protect_all(struct run *r)
{
	if (mig_protect("params", r->params, 5, MIG_INT64) < 0 ||
	    mig_protect("iter", &r->iter, 1, MIG_INT64) < 0 ||
	    mig_protect("acc", &r->acc, 1, MIG_UINT64) < 0 ||
	    mig_protect("rng", r->rng, (size_t)r->forest.ntrees, MIG_UINT64) < 0 ||
	    mig_protect_fn("trees", forest_save, forest_load, &r->forest) < 0 ||
	    (r->nblock && mig_protect("block", r->block, r->nblock, MIG_UINT64) < 0))
		return -1;
	return 0;
}

static int alloc_run(struct run *r, const struct opts *o)
{
	int64_t local = (o->trees - r->rank + r->size - 1) / r->size;

	r->forest.levels = o->levels;
	r->forest.ntrees = local;
	r->forest.trees = calloc((size_t)local + 1, sizeof(*r->forest.trees));
	r->rng = calloc((size_t)local + 1, sizeof(*r->rng));
	r->vals = malloc((((size_t)1 << o->levels) - 1) * sizeof(*r->vals));
	r->nblock = (size_t)o->state_mb * 1024 * 1024 / sizeof(*r->block);
	r->block = r->nblock ? calloc(r->nblock, sizeof(*r->block)) : NULL;
	if (!r->forest.trees || !r->rng || !r->vals || (r->nblock && !r->block))
		return -1;
	r->params[0] = o->levels;
	r->params[1] = o->trees;
	r->params[2] = o->iterations;
	r->params[3] = o->seed;
	r->params[4] = r->size;
	return 0;
}

static void free_run(struct run *r)
{
	for (int64_t t = 0; t < r->forest.ntrees; t++)
		tree_free(r->forest.trees[t]);
	free(r->forest.trees);
	free(r->rng);
	free(r->vals);
	free(r->block);
}

static void nap(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* This host's first non-loopback IPv4 address (hosts are namespaces). */
static void host_addr(char *buf, size_t size)
{
	struct ifaddrs *ifa, *i;

	snprintf(buf, size, "127.0.0.1");
	if (getifaddrs(&ifa) < 0)
		return;
	for (i = ifa; i; i = i->ifa_next) {
		const struct sockaddr_in *sin = (const void *)i->ifa_addr;

		if (!sin || sin->sin_family != AF_INET ||
		    ntohl(sin->sin_addr.s_addr) >> 24 == 127)
			continue;
		inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)size);
		break;
	}
	freeifaddrs(ifa);
}

/* Rank 0 prints every rank's pid, host and own iteration count. */
static void report_ranks(const struct run *r, MPI_Comm c)
{
	int64_t mine[3] = { getpid(), r->ran, mig_restored() }, *all = NULL;
	char addr[ADDR_LEN], *addrs = NULL;

	host_addr(addr, sizeof(addr));
	if (r->rank == 0) {
		all = malloc(sizeof(mine) * (size_t)r->size);
		addrs = malloc((size_t)ADDR_LEN * (size_t)r->size);
		if (!all || !addrs)
			MPI_Abort(c, 1);
	}
	MPI_Gather(mine, 3, MPI_INT64_T, all, 3, MPI_INT64_T, 0, c);
	MPI_Gather(addr, ADDR_LEN, MPI_CHAR, addrs, ADDR_LEN, MPI_CHAR, 0, c);
	for (int i = 0; r->rank == 0 && i < r->size; i++)
		printf("rank %d pid %lld addr %s ran %lld restored %lld\n", i,
		       (long long)all[3 * i], addrs + ADDR_LEN * i,
		       (long long)all[3 * i + 1], (long long)all[3 * i + 2]);
	free(all);
	free(addrs);
}

static int finish(const struct run *r, const struct opts *o)
{
	uint64_t sum = 0;
	FILE *fp;

	if (r->iter > 0 && !block_ok(r)) {
		fprintf(stderr, "test_tree_mpi: rank %d: the --state-mb block is wrong\n",
			r->rank);
		MPI_Abort(mig_comm(), 1);
	}
	report_ranks(r, mig_comm());
	MPI_Reduce(&r->acc, &sum, 1, MPI_UINT64_T, MPI_SUM, 0, mig_comm());
	if (r->rank != 0)
		return 0;
	printf("sum %llu\n", (unsigned long long)sum);
	fflush(stdout);
	if (!o->out)
		return 0;
	fp = fopen(o->out, "w");
	if (!fp || fprintf(fp, "sum %llu\n", (unsigned long long)sum) < 0 ||
	    fclose(fp) != 0) {
		fprintf(stderr, "test_tree_mpi: %s: %s\n", o->out, strerror(errno));
		return -1;
	}
	return 0;
}

/* --poll-bench: the cost of mig_poll with nothing pending, agreement
 * rounds included (they are part of what a poll costs here). */
static void poll_bench(int64_t n, int rank)
{
	double t0, dt, worst;

	MPI_Barrier(mig_comm());
	t0 = MPI_Wtime();
	for (int64_t i = 0; i < n; i++)
		mig_poll();
	dt = (MPI_Wtime() - t0) * 1e9 / (double)n;
	MPI_Allreduce(&dt, &worst, 1, MPI_DOUBLE, MPI_MAX, mig_comm());
	if (rank == 0)
		printf("mig_poll_mpi_ns=%.2f\n", worst);
}

/* The ranks must all be at the same iteration: checked every time. */
static void check_step(const struct run *r)
{
	int64_t lo = 0, hi = 0;

	MPI_Allreduce(&r->iter, &hi, 1, MPI_INT64_T, MPI_MAX, mig_comm());
	MPI_Allreduce(&r->iter, &lo, 1, MPI_INT64_T, MPI_MIN, mig_comm());
	if (lo != hi) {
		fprintf(stderr, "test_tree_mpi: ranks disagree: iteration %lld..%lld\n",
			(long long)lo, (long long)hi);
		MPI_Abort(mig_comm(), 1);
	}
}

static void announce(const struct run *r)
{
	char addr[ADDR_LEN];

	host_addr(addr, sizeof(addr));
	printf("rank %d pid %d addr %s %s iter %lld\n", r->rank, (int)getpid(), addr,
	       mig_restored() ? "restored" : "start", (long long)r->iter);
	fflush(stdout);
}

static int run_job(struct run *r, const struct opts *o)
{
	int64_t want[5];

	if (alloc_run(r, o) < 0 || protect_all(r) < 0) {
		fprintf(stderr, "test_tree_mpi: set-up failed: %s\n", mig_strerror());
		return -1;
	}
	memcpy(want, r->params, sizeof(want));
	if (!mig_restored())
		setup(r, o);
	else if (memcmp(want, r->params, sizeof(want)) != 0) {
		fprintf(stderr, "test_tree_mpi: restored state is for other arguments\n");
		return -1;
	}
	announce(r);
	if (o->poll_bench) {
		poll_bench(o->poll_bench, r->rank);
		return 0;
	}
	while (r->iter < o->iterations) {
		iteration(r, o);
		r->iter++;
		r->ran++;
		check_step(r);
		mig_poll_label("iteration");
		nap(o->sleep_ms);
	}
	return finish(r, o);
}

int main(int argc, char **argv)
{
	struct opts o;
	struct run r = { 0 };
	int rc;

	MPI_Init(&argc, &argv);
	if (mig_init(&argc, &argv) < 0) {
		fprintf(stderr, "test_tree_mpi: %s\n", mig_strerror());
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	if (parse_opts(argc, argv, &o) < 0)
		MPI_Abort(MPI_COMM_WORLD, 2);
	MPI_Comm_rank(mig_comm(), &r.rank);
	MPI_Comm_size(mig_comm(), &r.size);
	rc = run_job(&r, &o) < 0;
	if (rc)
		MPI_Abort(mig_comm(), 1);
	mig_finalize();
	free_run(&r);
	MPI_Finalize();
	return 0;
}
