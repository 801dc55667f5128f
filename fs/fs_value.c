/* fs_value.c — see fs_value.h. */
#include "fs/fs_value.h"

#include <stdlib.h>
#include <string.h>

#define NUM_MAX 32                /* digits and point of a number */

int fs_value_word(const char *text, size_t len, char *buf, size_t size,
		  const char **why)
{
	size_t n = 0;

	if (len > 0 && text[len - 1] == '\n')
		len--;
	while (n < len && (unsigned char)text[n] > 0x20 &&
	       (unsigned char)text[n] != 0x7f)
		n++;
	if (len == 0) {
		*why = "empty value";
		return -1;
	}
	if (n < len) {
		*why = text[n] == '\0' ? "NUL byte in the value" :
		       text[n] == '\n' ? "more than one line" :
		       "one value only: blank or control character in it";
		return -1;
	}
	if (n >= size) {
		*why = "value too long";
		return -1;
	}
	memcpy(buf, text, n);
	buf[n] = '\0';
	return 0;
}

/* Digits, then optionally '.' and digits (frac: allowed at all). */
static int is_decimal(const char *s, int frac)
{
	size_t d = strspn(s, "0123456789");

	if (d == 0)
		return 0;
	if (s[d] == '\0')
		return 1;
	return frac && s[d] == '.' && s[d + 1] &&
	       strspn(s + d + 1, "0123456789") == strlen(s + d + 1);
}

int fs_value_number(const char *text, size_t len, double min, double max,
		    double *out, const char **why)
{
	char buf[NUM_MAX + 1];
	double v;

	if (fs_value_word(text, len, buf, sizeof(buf), why) < 0)
		return -1;
	if (!is_decimal(buf, 1)) {
		*why = "not a decimal number";
		return -1;
	}
	v = strtod(buf, NULL);
	if (!(v >= min && v <= max)) {
		*why = "out of range";
		return -1;
	}
	*out = v;
	return 0;
}

int fs_value_uint(const char *text, size_t len, uint64_t max, uint64_t *out,
		  const char **why)
{
	char buf[NUM_MAX + 1];
	uint64_t v = 0;

	if (fs_value_word(text, len, buf, sizeof(buf), why) < 0)
		return -1;
	if (!is_decimal(buf, 0)) {
		*why = "not a decimal integer";
		return -1;
	}
	for (const char *p = buf; *p; p++) {
		uint64_t d = (uint64_t)(*p - '0');

		if (d > max || v > (max - d) / 10) {
			*why = "out of range";
			return -1;
		}
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}
