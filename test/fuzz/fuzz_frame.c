/* fuzz_frame.c — libFuzzer harness for common/frame.c (+ msg decode): feed
 * bytes as a stream through the greeting parser, then the frame header
 * parser at every feed size, verifying and decoding each complete frame. */
#include "common/frame.h"
#include "common/msg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char key[FRAME_KEY_LEN] = "fuzz-session-key-0123456789abcd";

/* Walk frames in buf; returns bytes consumed. */
static size_t walk(const char *buf, size_t n, const unsigned char *k)
{
	size_t off = 0;
	uint64_t seq = 0;
	char err[128];

	while (off < n) {
		struct frame_hdr h;
		struct msg *m;
		int rc = frame_parse_header(buf + off, n - off, &h, err, sizeof(err));

		if (rc != FRAME_OK)
			break;
		if (h.hdr_len > FRAME_HDR_MAX || h.len == 0 || h.len > FRAME_MAX)
			abort();  /* the parser promised these */
		if (n - off - h.hdr_len < h.len)
			break;
		if (frame_verify(k, 'a', seq, &h, buf + off + h.hdr_len, err, sizeof(err)) == 0)
			seq++;
		m = msg_decode(buf + off + h.hdr_len, h.len, err, sizeof(err));
		msg_free(m);
		off += h.hdr_len + h.len;
	}
	return off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct frame_greeting g;
	char err[128];
	size_t off = 0;

	if (frame_greeting_parse(buf, size, &g, err, sizeof(err)) == FRAME_OK) {
		if (g.line_len > FRAME_GREETING_MAX || g.line_len > size)
			abort();
		off = g.line_len;
	}
	/* every prefix of a header must give NEED_MORE or the same verdict */
	for (size_t cut = 0; cut <= size - off && cut <= FRAME_HDR_MAX + 1; cut++) {
		struct frame_hdr h;

		if (frame_parse_header(buf + off, cut, &h, err, sizeof(err)) == FRAME_OK &&
		    frame_parse_header(buf + off, size - off, &h, err, sizeof(err)) != FRAME_OK)
			abort();
	}
	walk(buf + off, size - off, NULL);
	walk(buf + off, size - off, key);
	return 0;
}
