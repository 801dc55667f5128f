/*
 * fuzz_value.c — libFuzzer harness for fs_value, the parser of values
 * written into the tree.  Checks the contract on every input: an accepted
 * value is one word of bytes above 0x20 (not 0x7f) plus at most one
 * newline, copied whole (never cut), and an accepted number is plain
 * decimal within its range.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs_value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Do the first n bytes of t all belong to set? (t is not NUL-ended) */
static int all_in(const char *t, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (!t[i] || !strchr(set, t[i]))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *t = (const char *)data, *why = NULL;
	char buf[64];
	size_t body = size && t[size - 1] == '\n' ? size - 1 : size;
	double d;
	uint64_t u;

	if (fs_value_word(t, size, buf, sizeof(buf), &why) == 0) {
		if (body == 0 || body >= sizeof(buf) || strlen(buf) != body ||
		    memcmp(buf, t, body) != 0)
			abort();
		for (size_t i = 0; i < body; i++)
			if ((unsigned char)t[i] <= 0x20 ||
			    (unsigned char)t[i] == 0x7f)
				abort();
	} else if (!why) {
		abort();
	}
	why = NULL;
	if (fs_value_number(t, size, 0, 1e7, &d, &why) == 0) {
		if (!(d >= 0 && d <= 1e7) ||
		    !all_in(t, body, "0123456789.") || t[0] == '.')
			abort();
	} else if (!why) {
		abort();
	}
	why = NULL;
	if (fs_value_uint(t, size, 1000000, &u, &why) == 0) {
		if (u > 1000000 || !all_in(t, body, "0123456789"))
			abort();
	} else if (!why) {
		abort();
	}
	return 0;
}
