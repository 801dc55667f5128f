/* The /proc parsers and the machine sampler, against test/fixtures/proc. */
#include "agent/metrics.h"
#include "common/util.h"
#include "rules/rules.h"
#include "test/unit/unit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static char *fixture(const char *rel)
{
	return util_read_file(unit_fixture(rel), 1 << 20, NULL);
}

/* Invariant: every name in a sampled set is a canonical metric name. */
static int all_known(const struct metric_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (!metric_known(s->m[i].name))
			return 0;
	return 1;
}

TEST(metrics_set_put_get_replace_sort)
{
	static struct metric_set s;
	char longname[METRIC_NAME_MAX + 1];
	double v;

	metric_set_clear(&s);
	CHECK(metric_set_put(&s, "load5", 2) == 0);
	CHECK(metric_set_put(&s, "load1", 1) == 0);
	CHECK(metric_set_put(&s, "load5", 3) == 0);
	CHECK_INT_EQ(s.n, 2);
	CHECK(metric_set_get(&s, "load5", &v) == 0);
	CHECK_NEAR(v, 3, 0);
	CHECK(metric_set_get(&s, "load15", &v) < 0);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(metric_set_put(&s, longname, 1) < 0);
	CHECK(metric_set_put(&s, "", 1) < 0);
	metric_set_sort(&s);
	CHECK_STR_EQ(s.m[0].name, "load1");
	for (size_t i = s.n; i < METRICS_MAX; i++) {
		char n[32];

		snprintf(n, sizeof(n), "m%zu", i);
		CHECK(metric_set_put(&s, n, 0) == 0);
	}
	CHECK(metric_set_put(&s, "one_too_many", 0) < 0);
}

TEST(metrics_parse_loadavg_fixture)
{
	struct mp_loadavg la;
	char *t = fixture("proc/loadavg");

	CHECK(t);
	CHECK(mp_parse_loadavg(t, &la) == 0);
	free(t);
	CHECK_NEAR(la.load[0], 0.52, 1e-9);
	CHECK_NEAR(la.load[2], 0.70, 1e-9);
	CHECK_INT_EQ(la.running, 3);
	CHECK_INT_EQ(la.total, 412);
	CHECK(mp_parse_loadavg("garbage\n", &la) < 0);
	CHECK(mp_parse_loadavg("", &la) < 0);
}

TEST(metrics_parse_stat_and_cpu_util)
{
	struct mp_stat a, b;
	char *t = fixture("proc/stat"), *u = fixture("proc/next/stat");

	CHECK(t && u);
	CHECK(mp_parse_stat(t, &a) == 0);
	CHECK(mp_parse_stat(u, &b) == 0);
	free(t);
	free(u);
	CHECK_INT_EQ(a.ncpu, 2);
	CHECK_INT_EQ(a.procs_running, 3);
	CHECK_INT_EQ(a.cpu.total, 10000);
	CHECK_INT_EQ(a.cpu.idle, 8500);
	/* delta total 1000, delta idle 600 -> 40% busy */
	CHECK_NEAR(mp_cpu_util(&a.cpu, &b.cpu), 40.0, 1e-9);
	CHECK(isnan(mp_cpu_util(&a.cpu, &a.cpu)));
	CHECK(isnan(mp_cpu_util(&b.cpu, &a.cpu)));
	CHECK(mp_parse_stat("intr 1 2 3\n", &a) < 0);
	CHECK(mp_parse_stat("cpu 1 2\ncpu0 1 2 3 4\n", &a) < 0);
}

TEST(metrics_parse_meminfo_fixture)
{
	struct mp_meminfo mi;
	char *t = fixture("proc/meminfo");

	CHECK(t);
	CHECK(mp_parse_meminfo(t, &mi) == 0);
	free(t);
	CHECK_INT_EQ(mi.total, 16384000ull * 1024);
	CHECK_INT_EQ(mi.avail, 4096000ull * 1024);
	CHECK_INT_EQ(mi.swap_total, 2097152ull * 1024);
	CHECK_INT_EQ(mi.swap_free, 1048576ull * 1024);
	/* "MemTotalX:" is not MemTotal */
	CHECK(mp_parse_meminfo("MemTotalX: 5 kB\nMemAvailable: 1 kB\n", &mi) < 0);
}

TEST(metrics_parse_netdev_skips_lo)
{
	uint64_t rx, tx;
	char *t = fixture("proc/net/dev");

	CHECK(t);
	CHECK(mp_parse_netdev(t, &rx, &tx) == 0);
	free(t);
	CHECK_INT_EQ(rx, 1500);
	CHECK_INT_EQ(tx, 2100);
	CHECK(mp_parse_netdev("h1\nh2\n  eth0: 1 2 3\n", &rx, &tx) < 0);
}

TEST(metrics_parse_tcp_counts_states)
{
	unsigned c[MP_TCP_STATES] = { 0 };
	char *t = fixture("proc/net/tcp"), *t6 = fixture("proc/net/tcp6");

	CHECK(t && t6);
	CHECK(mp_parse_tcp(t, c) == 0);
	CHECK(mp_parse_tcp(t6, c) == 0);
	free(t);
	free(t6);
	CHECK_INT_EQ(c[1], 3);   /* established */
	CHECK_INT_EQ(c[10], 2);  /* listen */
	CHECK_INT_EQ(c[6], 1);   /* time_wait */
	CHECK(mp_parse_tcp("not a tcp table\n", c) < 0);
	for (int i = 1; i < MP_TCP_STATES; i++)
		CHECK(metric_known(mp_tcp_state_names[i]));
}

TEST(metrics_parse_psi)
{
	double v;
	char *t = fixture("proc/pressure/cpu");

	CHECK(t);
	CHECK(mp_parse_psi(t, &v) == 0);
	free(t);
	CHECK_NEAR(v, 1.5, 1e-9);
	CHECK(mp_parse_psi("full avg10=1.00\n", &v) < 0);
	CHECK(mp_parse_psi("xsome avg10=1.00\n", &v) < 0);
}

struct mounts_seen {
	int n, real;
	char last_real[256];
	int saw_space;
};

static int note_mount(void *ctx, const char *src, const char *mnt,
		      const char *type)
{
	struct mounts_seen *s = ctx;

	(void)src;
	s->n++;
	if (!mp_fs_is_pseudo(type)) {
		s->real++;
		snprintf(s->last_real, sizeof(s->last_real), "%s", mnt);
	}
	if (strcmp(mnt, "/mnt/my disk") == 0)
		s->saw_space = 1;
	return 0;
}

TEST(metrics_parse_mounts_and_suffix)
{
	struct mounts_seen s = { 0, 0, "", 0 };
	char *t = fixture("proc/mounts");
	char suf[64];

	CHECK(t);
	CHECK(mp_parse_mounts(t, note_mount, &s) == 0);
	free(t);
	CHECK_INT_EQ(s.n, 9);
	CHECK_INT_EQ(s.real, 4);   /* / , my disk, /home nfs4, /var/lib/data */
	CHECK(s.saw_space);
	CHECK_STR_EQ(s.last_real, "/var/lib/data");
	CHECK(mp_fs_is_pseudo("fuse.reschedfs"));
	CHECK(mp_fs_is_pseudo("cgroup2"));
	CHECK(!mp_fs_is_pseudo("ext4"));
	CHECK(mp_mount_suffix("/", suf, sizeof(suf)) == 0);
	CHECK_STR_EQ(suf, "");
	CHECK(mp_mount_suffix("/var/lib", suf, sizeof(suf)) == 0);
	CHECK_STR_EQ(suf, "var_lib");
	CHECK(metric_known("disk_avail.var_lib"));
	CHECK(mp_mount_suffix("/mnt/my disk", suf, sizeof(suf)) < 0);
	CHECK(mp_mount_suffix("relative", suf, sizeof(suf)) < 0);
	CHECK(mp_mount_suffix("/a/very/long/mount/point", suf, 8) < 0);
}

/* The whole sampler over two fixture trees, 2 s apart. */
TEST(metrics_sampler_fixture_rates)
{
	static struct metric_set a, b;
	struct mp_sampler s;
	char root[4096], err[256];
	double v;

	snprintf(root, sizeof(root), "%s", unit_fixture("proc"));
	metrics_proc_init(&s, root);
	s.with_disk = 0;
	metric_set_clear(&a);
	CHECK(metrics_proc_sample(&s, 100.0, &a, err, sizeof(err)) == 0);
	CHECK(metric_set_get(&a, "cpu_util", &v) < 0);   /* no baseline yet */
	CHECK(metric_set_get(&a, "psi_io_some10", &v) < 0); /* file absent */
	CHECK(metric_set_get(&a, "psi_mem_some10", &v) == 0);
	CHECK_NEAR(v, 0.25, 1e-9);
	CHECK(metric_set_get(&a, "mem_avail_pct", &v) == 0);
	CHECK_NEAR(v, 25.0, 1e-9);
	CHECK(metric_set_get(&a, "swap_used_pct", &v) == 0);
	CHECK_NEAR(v, 50.0, 1e-9);
	CHECK(metric_set_get(&a, "sockets_established", &v) == 0);
	CHECK_NEAR(v, 3, 0);
	CHECK(all_known(&a));

	snprintf(root, sizeof(root), "%s", unit_fixture("proc/next"));
	s.root = root;
	metric_set_clear(&b);
	CHECK(metrics_proc_sample(&s, 102.0, &b, err, sizeof(err)) == 0);
	CHECK(metric_set_get(&b, "cpu_util", &v) == 0);
	CHECK_NEAR(v, 40.0, 1e-9);
	CHECK(metric_set_get(&b, "cpu_idle", &v) == 0);
	CHECK_NEAR(v, 60.0, 1e-9);
	CHECK(metric_set_get(&b, "net_rx_bps", &v) == 0);
	CHECK_NEAR(v, 1500.0, 1e-9);   /* (4500 - 1500) / 2 s */
	CHECK(metric_set_get(&b, "net_tx_bps", &v) == 0);
	CHECK_NEAR(v, 250.0, 1e-9);
	CHECK(metric_set_get(&b, "net_bps", &v) == 0);
	CHECK_NEAR(v, 1750.0, 1e-9);
	CHECK(metric_set_get(&b, "procs_running", &v) == 0);
	CHECK_NEAR(v, 5, 0);
	CHECK(all_known(&b));
}

TEST(metrics_sampler_missing_root_fails_cleanly)
{
	static struct metric_set a;
	struct mp_sampler s;
	char err[256] = "";

	metrics_proc_init(&s, "/nonexistent-resched-proc");
	metric_set_clear(&a);
	CHECK(metrics_proc_sample(&s, 1.0, &a, err, sizeof(err)) < 0);
	CHECK_STR_HAS(err, "loadavg");
}

TEST(metrics_parse_cheap_socket_counters)
{
	double v;
	const char *snmp =
		"Ip: Forwarding DefaultTTL\nIp: 1 64\n"
		"Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens "
		"AttemptFails EstabResets CurrEstab InSegs\n"
		"Tcp: 1 200 120000 -1 54 39 2 14 17 23947\n"
		"Udp: InDatagrams\nUdp: 5\n";
	const char *sockstat = "sockets: used 17\n"
			       "TCP: inuse 1 orphan 0 tw 18 alloc 1 mem 0\n"
			       "UDP: inuse 0 mem 0\n";

	CHECK(mp_parse_snmp_estab(snmp, &v) == 0);
	CHECK_NEAR(v, 17, 0);
	CHECK(mp_parse_sockstat_tw(sockstat, &v) == 0);
	CHECK_NEAR(v, 18, 0);
	CHECK(mp_parse_snmp_estab("Tcp: A B\n", &v) < 0);
	CHECK(mp_parse_sockstat_tw("UDP: inuse 0 tw 3\n", &v) < 0);
}
