/* Unit tests for common/util.c. */
#include "common/util.h"
#include "test/unit/unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

TEST(util_parse_double_accepts_whole_numbers_only)
{
	double v;

	CHECK(util_parse_double("47.5", &v) == 0);
	CHECK_NEAR(v, 47.5, 1e-12);
	CHECK(util_parse_double("47x", &v) == -1);
	CHECK(util_parse_double("", &v) == -1);
	CHECK(util_parse_double("nan", &v) == -1);
	CHECK(util_parse_double("1e999", &v) == -1);
}

TEST(util_fmt_num_drops_needless_fraction)
{
	char b[32];

	CHECK_STR_EQ(util_fmt_num(b, sizeof(b), 3), "3");
	CHECK_STR_EQ(util_fmt_num(b, sizeof(b), 0.25), "0.25");
	CHECK_STR_EQ(util_fmt_num(b, sizeof(b), 25769803776.0), "25769803776");
}

TEST(util_atomic_write_then_read_back)
{
	char dir[] = "/tmp/resched-unit-XXXXXX", path[128];
	size_t len;
	char *s;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/f", dir);
	CHECK(util_write_atomic(path, "hello\n", 6, 0600) == 0);
	s = util_read_file(path, 100, &len);
	CHECK(s != NULL);
	CHECK_INT_EQ(len, 6);
	CHECK_STR_EQ(s, "hello\n");
	free(s);
	errno = 0;
	CHECK(util_read_file(path, 3, NULL) == NULL && errno == EFBIG);
	unlink(path);
	rmdir(dir);
}
