/* counter.c — the smallest migration-enabled program (examples/README.md).
 * Counts to N, adding i*i into a running total; it may move at every step
 * and prints the same total wherever it finishes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "migrate/migrate.h"

int main(int argc, char **argv)
{
	int64_t i = 0, n, total = 0;

	if (mig_init(&argc, &argv) < 0)                  /* 1: register */
		return fprintf(stderr, "%s\n", mig_strerror()), 1;
	n = argc > 1 ? atoll(argv[1]) : 100;
	mig_protect("i", &i, 1, MIG_INT64);              /* 2: name the state */
	mig_protect("total", &total, 1, MIG_INT64);
	if (mig_restored())                              /* 3: a successor? */
		fprintf(stderr, "counter: resumed at %lld\n", (long long)i);
	for (; i < n; i++) {
		total += i * i;
		usleep(10000);
		mig_poll();                              /* 4: may move here */
	}
	printf("total %lld\n", (long long)total);
	mig_finalize();                                  /* 5: done */
	return 0;
}
