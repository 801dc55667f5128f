/* test_value.c — fs_value, the one parser of values written into the tree. */
#include <stdint.h>
#include <string.h>

#include "fs/fs_value.h"
#include "test/unit/unit.h"

#define W(s) fs_value_word(s, sizeof(s) - 1, buf, sizeof(buf), &why)
#define N(s) fs_value_number(s, sizeof(s) - 1, 0, 1e7, &d, &why)
#define U(s) fs_value_uint(s, sizeof(s) - 1, 1000000, &u, &why)

TEST(value_word_is_one_word_and_an_optional_newline)
{
	char buf[16];
	const char *why;

	CHECK(W("drain\n") == 0 && strcmp(buf, "drain") == 0);
	CHECK(W("drain") == 0 && strcmp(buf, "drain") == 0);
	CHECK(W("h1/x") == 0 && strcmp(buf, "h1/x") == 0);
	CHECK(W("drain junk\n") < 0);
	CHECK(W("drain \n") < 0);
	CHECK(W(" drain\n") < 0);
	CHECK(W("drain\n\n") < 0);
	CHECK(W("drain\r\n") < 0);
	CHECK(W("drain\tx") < 0);
	CHECK(W("drain\000junk") < 0);
	CHECK(strstr(why, "NUL") != NULL);
	CHECK(W("drain\000") < 0);
	CHECK(W("") < 0);
	CHECK(W("\n") < 0);
	CHECK(W("a\177") < 0);
	/* never cut: a word that does not fit is refused */
	CHECK(W("0123456789abcde") == 0);
	CHECK(W("0123456789abcdef") < 0);
	CHECK(strstr(why, "long") != NULL);
}

TEST(value_number_is_plain_decimal)
{
	double d;
	const char *why;

	CHECK(N("30\n") == 0 && d == 30);
	CHECK(N("12.5") == 0 && d == 12.5);
	CHECK(N("0") == 0 && d == 0);
	CHECK(N("007") == 0 && d == 7);
	CHECK(N("10000000") == 0);
	CHECK(N("10000000.5") < 0);
	CHECK(N("0x10\n") < 0);
	CHECK(N("1e3") < 0);
	CHECK(N("+9") < 0);
	CHECK(N("-1") < 0);
	CHECK(N("9.") < 0);
	CHECK(N(".5") < 0);
	CHECK(N("inf") < 0);
	CHECK(N("nan") < 0);
	CHECK(N("9 junk") < 0);
	CHECK(N("9\000junk") < 0);
	CHECK(N("9                                                 junk") < 0);
	CHECK(N("1.2.3") < 0);
}

TEST(value_uint_is_digits_in_range)
{
	uint64_t u;
	const char *why;

	CHECK(U("3\n") == 0 && u == 3);
	CHECK(U("1000000") == 0 && u == 1000000);
	CHECK(U("1000001") < 0);
	CHECK(U("99999999999999999999999999") < 0);
	CHECK(U("18446744073709551616") < 0);
	CHECK(U("2.0") < 0);
	CHECK(U("0x2") < 0);
	CHECK(U("2\0005") < 0);
	CHECK(fs_value_uint("0", 1, 0, &u, &why) == 0 && u == 0);
	CHECK(fs_value_uint("5", 1, 0, &u, &why) < 0);
}
