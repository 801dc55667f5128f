/* rule_metrics.c — the canonical metric names (see rules.h, docs/METRICS.md). */
#include "rules/rules.h"

#include <stdlib.h>
#include <string.h>

/* Sorted (strcmp order): searched with bsearch. */
const char *const metric_names[] = {
	"cpu_idle",
	"cpu_util",
	"cpus",
	"disk_avail",
	"disk_avail_pct",
	"load1",
	"load15",
	"load5",
	"mem_avail",
	"mem_avail_pct",
	"mem_total",
	"net_bps",
	"net_rx_bps",
	"net_tx_bps",
	"procs",
	"procs_running",
	"psi_cpu_some10",
	"psi_io_some10",
	"psi_mem_some10",
	"sockets_close",
	"sockets_close_wait",
	"sockets_closing",
	"sockets_established",
	"sockets_fin_wait1",
	"sockets_fin_wait2",
	"sockets_last_ack",
	"sockets_listen",
	"sockets_syn_recv",
	"sockets_syn_sent",
	"sockets_time_wait",
	"swap_free",
	"swap_total",
	"swap_used_pct",
	NULL,
};

static int cmp_name(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

/* "disk_avail.home" and "disk_avail_pct.var_lib": a per-mount metric. */
static int per_mount_known(const char *name)
{
	static const char *const prefixes[] = { "disk_avail.", "disk_avail_pct." };

	for (size_t i = 0; i < 2; i++) {
		size_t n = strlen(prefixes[i]);

		if (strncmp(name, prefixes[i], n) == 0 && name[n] &&
		    strspn(name + n, "abcdefghijklmnopqrstuvwxyz"
				     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") ==
			strlen(name + n))
			return 1;
	}
	return 0;
}

int metric_known(const char *name)
{
	size_t n = sizeof(metric_names) / sizeof(metric_names[0]) - 1;

	if (bsearch(name, metric_names, n, sizeof(metric_names[0]), cmp_name))
		return 1;
	return per_mount_known(name);
}
