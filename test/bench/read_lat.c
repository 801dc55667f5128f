/*
 * read_lat.c — open+read+close latency of one file, as a shell user's
 * `cat` does it.   read_lat PATH [N]   prints
 *     read_lat path=PATH n=N p50_us=.. p99_us=.. mean_us=..
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 100000;
	double *lat, sum = 0;
	char buf[4096];

	if (argc < 2 || n <= 0) {
		fprintf(stderr, "usage: read_lat PATH [N]\n");
		return 2;
	}
	lat = malloc(sizeof(*lat) * (size_t)n);
	if (!lat)
		return 1;
	for (long i = 0; i < n; i++) {
		double t0 = now_us();
		int fd = open(argv[1], O_RDONLY);

		if (fd < 0 || read(fd, buf, sizeof(buf)) <= 0) {
			perror(argv[1]);
			return 1;
		}
		close(fd);
		lat[i] = now_us() - t0;
		sum += lat[i];
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	printf("read_lat path=%s n=%ld p50_us=%.1f p99_us=%.1f mean_us=%.1f\n",
	       argv[1], n, lat[n / 2], lat[n * 99 / 100], sum / (double)n);
	free(lat);
	return 0;
}
