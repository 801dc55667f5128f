/* Unit tests for common/frame.c: header parsing at every split point,
 * limits, MAC verification, sequence ordering, greetings. */
#include "common/auth.h"
#include "common/frame.h"
#include "test/unit/unit.h"

#include <stdio.h>
#include <stdlib.h>

static const unsigned char key1[FRAME_KEY_LEN] = "0123456789abcdef0123456789abcde";
static const unsigned char key2[FRAME_KEY_LEN] = "0123456789abcdef0123456789abcdX";

static int parse_rc(const char *s)
{
	struct frame_hdr h;
	char err[128];

	return frame_parse_header(s, strlen(s), &h, err, sizeof(err));
}

TEST(frame_header_every_split_point)
{
	static const char payload[] = "update state=busy\n";
	size_t plen = sizeof(payload) - 1, flen;
	char *f;
	struct frame_hdr h;
	char err[128];

	CHECK(auth_init() == 0);
	for (int k = 0; k < 2; k++) {
		f = frame_build(k ? key1 : NULL, 'a', 42, payload, plen, &flen);
		CHECK(f);
		for (size_t cut = 0; cut <= flen; cut++) {
			int rc = frame_parse_header(f, cut, &h, err, sizeof(err));
			size_t hl = (size_t)(strchr(f, '\n') - f) + 1;

			if (cut < hl) {
				CHECK_INT_EQ(rc, FRAME_NEED_MORE);
				continue;
			}
			CHECK_INT_EQ(rc, FRAME_OK);
			CHECK_INT_EQ(h.hdr_len, hl);
			CHECK_INT_EQ(h.len, plen);
			CHECK_INT_EQ(h.seq, 42);
			CHECK_INT_EQ(h.has_mac, k);
			CHECK(memcmp(f + hl, payload, plen) == 0);
		}
		free(f);
	}
}

TEST(frame_header_rejects_bad_and_oversized)
{
	char big[300];

	CHECK_INT_EQ(parse_rc("12 0 -\n"), FRAME_OK);
	CHECK_INT_EQ(parse_rc("1048576 18446744073709551615 -\n"), FRAME_OK);
	CHECK_INT_EQ(parse_rc("1048577 0 -\n"), FRAME_ERROR);     /* > FRAME_MAX */
	CHECK_INT_EQ(parse_rc("99999999999 0 -\n"), FRAME_ERROR);
	CHECK_INT_EQ(parse_rc("0 0 -\n"), FRAME_ERROR);
	CHECK_INT_EQ(parse_rc("012 0 -\n"), FRAME_ERROR);
	CHECK_INT_EQ(parse_rc("12 00 -\n"), FRAME_ERROR);
	CHECK_INT_EQ(parse_rc("12 18446744073709551616 -\n"), FRAME_ERROR);
	CHECK_INT_EQ(parse_rc("12 0\n"), FRAME_ERROR);
	CHECK_INT_EQ(parse_rc("12 0 - x\n"), FRAME_ERROR);
	CHECK_INT_EQ(parse_rc("-12 0 -\n"), FRAME_ERROR);
	CHECK_INT_EQ(parse_rc("12 0 abc\n"), FRAME_ERROR);
	CHECK_INT_EQ(parse_rc("12 0 ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789\n"), FRAME_ERROR);
	CHECK_INT_EQ(parse_rc("12 0 abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789\n"), FRAME_OK);
	CHECK_INT_EQ(parse_rc("GET / HTTP/1.1"), FRAME_ERROR);  /* at once, no newline needed */
	CHECK_INT_EQ(parse_rc("\x16\x03\x01"), FRAME_ERROR);
	CHECK_INT_EQ(parse_rc("12 0"), FRAME_NEED_MORE);
	memset(big, '1', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	CHECK_INT_EQ(parse_rc(big), FRAME_ERROR);                  /* no '\n' in 128 */
	big[FRAME_HDR_MAX - 1] = '\0';
	CHECK_INT_EQ(parse_rc(big), FRAME_NEED_MORE);
}

static int verify(const unsigned char *key, char dir, uint64_t expect,
		  const char *f, size_t flen, char *err)
{
	struct frame_hdr h;

	if (frame_parse_header(f, flen, &h, err, 128) != FRAME_OK ||
	    h.hdr_len + h.len != flen)
		return -2;
	return frame_verify(key, dir, expect, &h, f + h.hdr_len, err, 128);
}

TEST(frame_mac_rejects_altered_replayed_skipped)
{
	static const char p[] = "job_status job=7 status=done\n";
	char err[128];
	size_t n;
	char *f;

	CHECK(auth_init() == 0);
	f = frame_build(key1, 'a', 5, p, sizeof(p) - 1, &n);
	CHECK(f);
	CHECK_INT_EQ(verify(key1, 'a', 5, f, n, err), 0);
	CHECK_INT_EQ(verify(key1, 'a', 6, f, n, err), -1);   /* replayed */
	CHECK_STR_HAS(err, "expected 6");
	CHECK_INT_EQ(verify(key1, 'a', 4, f, n, err), -1);   /* skipped */
	CHECK_INT_EQ(verify(key1, 'r', 5, f, n, err), -1);   /* reflected */
	CHECK_STR_HAS(err, "bad MAC");
	CHECK_INT_EQ(verify(key2, 'a', 5, f, n, err), -1);   /* other session */
	CHECK_INT_EQ(verify(NULL, 'a', 5, f, n, err), -1);
	CHECK_STR_HAS(err, "unauthenticated");
	for (size_t i = (size_t)(strchr(f, '\n') - f) + 1; i < n; i++) {
		f[i] ^= 0x01;                                  /* every payload byte */
		CHECK_INT_EQ(verify(key1, 'a', 5, f, n, err), -1);
		f[i] ^= 0x01;
	}
	f[0] = '9';  /* claims another seq/len: header edits break it too */
	CHECK(verify(key1, 'a', 5, f, n, err) != 0);
	free(f);
	/* a seq rewritten in the header no longer matches its MAC */
	f = frame_build(key1, 'a', 5, p, sizeof(p) - 1, &n);
	CHECK(f);
	strchr(f, ' ')[1] = '6';
	CHECK_INT_EQ(verify(key1, 'a', 6, f, n, err), -1);
	CHECK_STR_HAS(err, "bad MAC");
	free(f);
	f = frame_build(NULL, 'a', 0, p, sizeof(p) - 1, &n);
	CHECK(f);
	CHECK_INT_EQ(verify(NULL, 'a', 0, f, n, err), 0);
	CHECK_INT_EQ(verify(key1, 'a', 0, f, n, err), -1);
	CHECK_STR_HAS(err, "without MAC");
	free(f);
	CHECK(frame_build(NULL, 'a', 0, p, 0, &n) == NULL);
	CHECK(frame_build(NULL, 'a', 0, p, FRAME_MAX + 1, &n) == NULL);
}

TEST(frame_greeting_round_trip_and_mismatch)
{
	unsigned char nonce[FRAME_NONCE_LEN];
	struct frame_greeting g;
	char line[FRAME_GREETING_MAX], err[128];
	size_t n;

	for (size_t i = 0; i < sizeof(nonce); i++)
		nonce[i] = (unsigned char)(i * 7);
	n = frame_greeting_build(line, 'r', nonce, NULL);
	CHECK(n > 0 && line[n - 1] == '\n');
	CHECK(strncmp(line, "RESCHED/1 registry auth=hmac-sha256 nonce=00070e15", 50) == 0);
	for (size_t cut = 0; cut < n; cut++)
		CHECK_INT_EQ(frame_greeting_parse(line, cut, &g, err, sizeof(err)), FRAME_NEED_MORE);
	CHECK_INT_EQ(frame_greeting_parse(line, n, &g, err, sizeof(err)), FRAME_OK);
	CHECK(g.role == 'r' && g.auth == 1 && g.line_len == n);
	CHECK(memcmp(g.nonce, nonce, sizeof(nonce)) == 0);
	n = frame_greeting_build(line, 'a', NULL, NULL);
	CHECK_STR_EQ(line, "RESCHED/1 agent auth=none\n");
	CHECK_INT_EQ(frame_greeting_parse(line, n, &g, err, sizeof(err)), FRAME_OK);
	CHECK(g.role == 'a' && g.auth == 0);
	CHECK_INT_EQ(frame_greeting_parse("RESCHED/2 agent auth=none\n", 26, &g, err, sizeof(err)), FRAME_ERROR);
	CHECK_STR_HAS(err, "version mismatch");
	CHECK_INT_EQ(frame_greeting_parse("SSH-2.0-OpenSSH", 15, &g, err, sizeof(err)), FRAME_ERROR);
	CHECK_STR_HAS(err, "not a resched peer");
	CHECK_INT_EQ(frame_greeting_parse("ERROR go away\n", 14, &g, err, sizeof(err)), FRAME_ERROR);
	CHECK_STR_EQ(err, "peer says: go away");
	CHECK_INT_EQ(frame_greeting_parse("RESCHED/1 agent auth=md5\n", 25, &g, err, sizeof(err)), FRAME_ERROR);
	CHECK_INT_EQ(frame_greeting_parse("RESCHED/1 boss auth=none\n", 25, &g, err, sizeof(err)), FRAME_ERROR);
	CHECK_INT_EQ(frame_greeting_parse("RESCHED/1 agent auth=hmac-sha256 nonce=00\n", 42, &g, err, sizeof(err)), FRAME_ERROR);
}
