/* The machine sampler against the live /proc of this machine. */
#include "agent/metrics.h"
#include "common/util.h"
#include "rules/rules.h"
#include "test/unit/unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

static struct metric_set live_a, live_b;

/* MemTotal read independently of the parser under test, in bytes. */
static double meminfo_total(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long long kb = 0;

	if (!f)
		return -1;
	if (fscanf(f, "MemTotal: %llu kB", &kb) != 1)
		kb = 0;
	fclose(f);
	return (double)kb * 1024.0;
}

static void nap(double s)
{
	struct timespec ts = { 0, (long)(s * 1e9) };

	nanosleep(&ts, NULL);
}

TEST(metrics_live_matches_kernel)
{
	struct mp_sampler s;
	struct statvfs vfs;
	char err[256];
	double v;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	/* a listening socket of our own, so sockets_listen >= 1 */
	CHECK(lfd >= 0);
	CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(lfd, 1) == 0);
	metrics_proc_init(&s, NULL);
	metric_set_clear(&live_a);
	metric_set_clear(&live_b);
	CHECK(metrics_proc_sample(&s, util_now_s(), &live_a, err, sizeof(err)) == 0);
	nap(0.2);
	CHECK(metrics_proc_sample(&s, util_now_s(), &live_b, err, sizeof(err)) == 0);
	close(lfd);

	CHECK(metric_set_get(&live_b, "mem_total", &v) == 0);
	CHECK_NEAR(v, meminfo_total(), 0);
	CHECK(metric_set_get(&live_b, "cpus", &v) == 0);
	CHECK_INT_EQ(v, sysconf(_SC_NPROCESSORS_ONLN));
	CHECK(metric_set_get(&live_b, "cpu_util", &v) == 0);
	CHECK(v >= 0 && v <= 100);
	CHECK(metric_set_get(&live_b, "net_bps", &v) == 0 && v >= 0);
	CHECK(metric_set_get(&live_b, "sockets_listen", &v) == 0 && v >= 1);
	CHECK(metric_set_get(&live_b, "procs", &v) == 0 && v >= 2);
	CHECK(metric_set_get(&live_b, "load1", &v) == 0 && v >= 0);
	CHECK(statvfs("/", &vfs) == 0);
	CHECK(metric_set_get(&live_b, "disk_avail", &v) == 0);
	/* the disk moves while other builds run: within 1% of the size */
	CHECK_NEAR(v, (double)vfs.f_bavail * vfs.f_frsize,
		   0.01 * (double)vfs.f_blocks * vfs.f_frsize);
	for (size_t i = 0; i < live_b.n; i++)
		CHECK(metric_known(live_b.m[i].name));
	if (access("/proc/pressure/cpu", R_OK) == 0)
		CHECK(metric_set_get(&live_b, "psi_cpu_some10", &v) == 0);
}
