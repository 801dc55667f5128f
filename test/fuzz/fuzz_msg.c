/* fuzz_msg.c — libFuzzer harness for common/msg.c: decode any bytes; when
 * they decode, the message must re-encode and decode to the same message,
 * and its encoding must be a fixed point. */
#include "common/msg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const struct msg *a, const struct msg *b)
{
	if (strcmp(msg_type(a), msg_type(b)) || msg_count(a) != msg_count(b))
		return 0;
	for (size_t i = 0; i < msg_count(a); i++)
		if (strcmp(msg_key(a, i), msg_key(b, i)) ||
		    strcmp(msg_val(a, i), msg_val(b, i)))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[MSG_ERR_LEN];
	struct msg *m = msg_decode((const char *)data, size, err, sizeof(err));
	struct msg *again;
	char *line, *line2;
	size_t len, len2;

	if (!m)
		return 0;
	line = msg_encode(m, &len);
	if (!line)
		abort();  /* whatever decoded must encode within the limit */
	again = msg_decode(line, len, err, sizeof(err));
	if (!again || !same(m, again))
		abort();
	line2 = msg_encode(again, &len2);
	if (!line2 || len2 != len || memcmp(line, line2, len) != 0)
		abort();
	free(line2);
	free(line);
	msg_free(again);
	msg_free(m);
	return 0;
}
