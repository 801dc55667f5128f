/* The metric-name table is sorted (bsearch relies on it) and complete. */
#include "rules/rules.h"
#include "test/unit/unit.h"

TEST(metric_names_sorted)
{
	for (int i = 1; metric_names[i]; i++)
		CHECK(strcmp(metric_names[i - 1], metric_names[i]) < 0);
}

TEST(metric_known_accepts_table_and_mounts)
{
	CHECK(metric_known("load1"));
	CHECK(metric_known("sockets_established"));
	CHECK(metric_known("disk_avail_pct.var_lib"));
	CHECK(!metric_known("disk_avail."));
	CHECK(!metric_known("load2"));
	CHECK(!metric_known(""));
}
