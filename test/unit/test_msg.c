/* Unit tests for common/msg.c: codec round trips, every escape, decode
 * errors, limits, and the blocking fd helpers over real sockets. */
#include "common/msg.h"
#include "test/unit/unit.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* Invariant checker: a message re-encodes and decodes to itself. */
static int msg_same(const struct msg *a, const struct msg *b)
{
	if (strcmp(msg_type(a), msg_type(b)) || msg_count(a) != msg_count(b))
		return 0;
	for (size_t i = 0; i < msg_count(a); i++)
		if (strcmp(msg_key(a, i), msg_key(b, i)) ||
		    strcmp(msg_val(a, i), msg_val(b, i)))
			return 0;
	return 1;
}

static int round_trips(const struct msg *m)
{
	char err[MSG_ERR_LEN];
	size_t len;
	char *line = msg_encode(m, &len);
	struct msg *back;
	int ok;

	if (!line || len != strlen(line) || line[len - 1] != '\n' ||
	    memchr(line, '\n', len - 1))
		return free(line), 0;
	back = msg_decode(line, len, err, sizeof(err));
	ok = back && msg_same(m, back);
	msg_free(back);
	free(line);
	return ok;
}

static int decode_fails(const char *line, size_t len, const char *reason)
{
	char err[MSG_ERR_LEN] = "";
	struct msg *m = msg_decode(line, len, err, sizeof(err));

	if (m) {
		msg_free(m);
		return 0;
	}
	return strstr(err, reason) != NULL;
}
#define DECODE_FAILS(s, reason) decode_fails(s, sizeof(s) - 1, reason)

TEST(msg_encode_plain_pairs_in_order)
{
	struct msg *m = msg_new("update");
	char *line;

	CHECK(m);
	CHECK(msg_set(m, "state", "busy") == 0);
	CHECK(msg_set_num(m, "m.load1", 2.5) == 0);
	CHECK(msg_setf(m, "interval", "%d", 5) == 0);
	CHECK(msg_set(m, "empty", "") == 0);
	line = msg_encode(m, NULL);
	CHECK_STR_EQ(line, "update state=busy m.load1=2.5 interval=5 empty=\n");
	free(line);
	CHECK(round_trips(m));
	msg_free(m);
}

TEST(msg_set_replaces_in_place_and_rejects_bad_keys)
{
	struct msg *m = msg_new("hello");
	double v = 0;

	CHECK(m);
	CHECK(msg_set(m, "a", "1") == 0);
	CHECK(msg_set(m, "b", "2") == 0);
	CHECK(msg_set(m, "a", "3") == 0);
	CHECK_INT_EQ(msg_count(m), 2);
	CHECK_STR_EQ(msg_key(m, 0), "a");
	CHECK_STR_EQ(msg_val(m, 0), "3");
	CHECK(msg_get_num(m, "a", &v) == 0);
	CHECK_NEAR(v, 3, 0);
	CHECK(msg_get(m, "zz") == NULL);
	CHECK(msg_get_num(m, "zz", &v) == -1);
	CHECK(msg_key(m, 2) == NULL);
	errno = 0;
	CHECK(msg_set(m, "Bad", "x") == -1 && errno == EINVAL);
	CHECK(msg_set(m, "a b", "x") == -1);
	CHECK(msg_set(m, "", "x") == -1);
	CHECK(msg_set(m, "k=v", "x") == -1);
	CHECK(msg_del(m, "a") == 0 && msg_del(m, "a") == -1);
	CHECK_INT_EQ(msg_count(m), 1);
	CHECK_STR_EQ(msg_key(m, 0), "b");
	CHECK(msg_new("Hello") == NULL && msg_new("") == NULL);
	msg_free(m);
}

TEST(msg_escapes_exactly_the_listed_bytes)
{
	struct msg *m = msg_new("t");
	char *line;

	CHECK(m);
	CHECK(msg_set(m, "v", "a b=c%d\n\t\r\x01\x1f\x7f\xc3\xa9<x y=\"1\"/>") == 0);
	line = msg_encode(m, NULL);
	CHECK_STR_EQ(line, "t v=a%20b%3Dc%25d%0A%09%0D%01%1F%7F\xc3\xa9<x%20y%3D\"1\"/>\n");
	free(line);
	CHECK(round_trips(m));
	msg_free(m);
}

TEST(msg_every_byte_round_trips)
{
	struct msg *m = msg_new("all");
	char v[256], key[16];
	char *line;

	CHECK(m);
	for (int c = 1; c < 256; c++)
		v[c - 1] = (char)c;
	v[255] = '\0';
	CHECK(msg_set(m, "all", v) == 0);
	for (int c = 1; c < 256; c++) {
		char one[2] = { (char)c, 0 };

		snprintf(key, sizeof(key), "b%d", c);
		CHECK(msg_set(m, key, one) == 0);
	}
	CHECK(round_trips(m));
	line = msg_encode(m, NULL);
	CHECK(line);
	for (const unsigned char *p = (const unsigned char *)line; *p != '\n'; p++)
		CHECK(*p >= 0x20 && *p != 0x7f);  /* readable in a capture */
	CHECK_STR_HAS(line, " b37=%25 ");
	CHECK_STR_HAS(line, " b32=%20 ");
	CHECK_STR_HAS(line, " b61=%3D ");
	CHECK_STR_HAS(line, " b127=%7F ");
	CHECK_STR_HAS(line, " b65=A ");
	free(line);
	msg_free(m);
}

TEST(msg_decode_accepts_with_or_without_newline)
{
	char err[MSG_ERR_LEN];
	struct msg *a = msg_decode("ping", 4, err, sizeof(err));
	struct msg *b = msg_decode("ping x=%41%6a\n", 14, err, sizeof(err));

	CHECK(a && b);
	CHECK_STR_EQ(msg_type(a), "ping");
	CHECK_INT_EQ(msg_count(a), 0);
	CHECK_STR_EQ(msg_get(b, "x"), "Aj");
	msg_free(a);
	msg_free(b);
}

TEST(msg_decode_rejects_malformed_lines)
{
	CHECK(DECODE_FAILS("", "empty"));
	CHECK(DECODE_FAILS("\n", "empty"));
	CHECK(DECODE_FAILS("Hello a=1", "type"));
	CHECK(DECODE_FAILS(" hello", "type"));
	CHECK(DECODE_FAILS("hello  a=1", "no '='"));
	CHECK(DECODE_FAILS("hello a=1 ", "no '='"));
	CHECK(DECODE_FAILS("hello a", "no '='"));
	CHECK(DECODE_FAILS("hello =1", "bad key"));
	CHECK(DECODE_FAILS("hello A=1", "bad key"));
	CHECK(DECODE_FAILS("hello a=1=2", "escaped"));
	CHECK(DECODE_FAILS("hello a=x\ty", "escaped"));
	CHECK(DECODE_FAILS("hello a=x\x7f", "escaped"));
	CHECK(DECODE_FAILS("hello a=x\n\n", "escaped"));
	CHECK(DECODE_FAILS("hello a=%G1", "bad escape"));
	CHECK(DECODE_FAILS("hello a=%4", "bad escape"));
	CHECK(DECODE_FAILS("hello a=%", "bad escape"));
	CHECK(DECODE_FAILS("hello a=%00", "NUL"));
	CHECK(DECODE_FAILS("hello a=x\0y", "NUL"));
	CHECK(DECODE_FAILS("hello a=1 b=2 a=3", "duplicate key 'a'"));
}

TEST(msg_limits_on_line_and_keys)
{
	char err[MSG_ERR_LEN];
	size_t n = MSG_LINE_MAX + 1, len = 0;
	char *big = malloc(n + 1), *line;
	struct msg *m = msg_new("k"), *d;

	CHECK(big && m);
	memcpy(big, "t v=", 4);
	memset(big + 4, 'x', n - 4);
	big[n - 1] = '\n';
	CHECK(msg_decode(big, n, err, sizeof(err)) == NULL);
	CHECK_STR_HAS(err, "longer");
	d = msg_decode(big + 1, n - 1, err, sizeof(err));  /* exactly the max */
	CHECK(d == NULL);  /* " v=" : bad type, but not rejected for length */
	CHECK_STR_HAS(err, "type");
	big[n - 2] = '\0';
	CHECK(msg_set(m, "v", big + 4) == 0);  /* 'k v=' + value + '\n' = max */
	line = msg_encode(m, &len);
	CHECK(line && len == MSG_LINE_MAX);
	free(line);
	big[n - 2] = 'x';
	big[n - 1] = '\0';
	CHECK(msg_set(m, "v", big + 4) == 0);  /* one byte over */
	errno = 0;
	CHECK(msg_encode(m, NULL) == NULL && errno == EMSGSIZE);
	free(big);
	msg_free(m);
	m = msg_new("k");
	for (int i = 0; i < MSG_KEYS_MAX; i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%d", i);
		CHECK(msg_set(m, key, "") == 0);
	}
	errno = 0;
	CHECK(msg_set(m, "one.more", "") == -1 && errno == E2BIG);
	line = msg_encode(m, NULL);
	CHECK(line);
	d = msg_decode(line, strlen(line), err, sizeof(err));
	CHECK(d && msg_count(d) == MSG_KEYS_MAX);
	msg_free(d);
	line[strlen(line) - 1] = '\0';
	big = NULL;
	CHECK(asprintf(&big, "%s x=\n", line) > 0);
	CHECK(msg_decode(big, strlen(big), err, sizeof(err)) == NULL);
	CHECK_STR_HAS(err, "more than");
	free(big);
	free(line);
	msg_free(m);
}

/* ---- fd helpers over a real socketpair --------------------------------- */

TEST(msg_fd_send_recv_whole_split_and_closed)
{
	struct msg_rbuf rb = MSG_RBUF_INIT;
	char err[MSG_ERR_LEN];
	struct msg *m = msg_new("migrate"), *r;
	int sv[2];

	CHECK(m && socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(msg_set(m, "to", "10.0.0.2:4000") == 0);
	CHECK(msg_send_fd(sv[0], m) == 0);
	CHECK(msg_send_fd(sv[0], m) == 0);
	r = msg_recv_fd(sv[1], &rb, 1000, err, sizeof(err));
	CHECK(r && msg_same(r, m));
	msg_free(r);
	r = msg_recv_fd(sv[1], &rb, 0, err, sizeof(err));  /* already buffered */
	CHECK(r && msg_same(r, m));
	msg_free(r);
	CHECK(msg_recv_fd(sv[1], &rb, 20, err, sizeof(err)) == NULL);
	CHECK_STR_EQ(err, "timeout");
	CHECK(write(sv[0], "ack ok=", 7) == 7);
	CHECK(msg_recv_fd(sv[1], &rb, 0, err, sizeof(err)) == NULL);
	CHECK_STR_EQ(err, "timeout");
	CHECK(write(sv[0], "1\nbad line\n", 11) == 11);
	r = msg_recv_fd(sv[1], &rb, -1, err, sizeof(err));
	CHECK(r && strcmp(msg_get(r, "ok"), "1") == 0);
	msg_free(r);
	CHECK(msg_recv_fd(sv[1], &rb, -1, err, sizeof(err)) == NULL);
	CHECK_STR_HAS(err, "no '='");
	close(sv[0]);
	CHECK(msg_recv_fd(sv[1], &rb, -1, err, sizeof(err)) == NULL);
	CHECK_STR_EQ(err, "closed");
	close(sv[1]);
	msg_rbuf_free(&rb);
	msg_free(m);
}

static void *flood(void *arg)
{
	int fd = *(int *)arg;
	char chunk[65536];

	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; i < 20; i++)  /* 1.25 MiB, no newline */
		if (send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL) < 0)
			break;
	return NULL;
}

TEST(msg_fd_recv_refuses_endless_line)
{
	struct msg_rbuf rb = MSG_RBUF_INIT;
	char err[MSG_ERR_LEN];
	pthread_t t;
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(pthread_create(&t, NULL, flood, &sv[0]) == 0);
	CHECK(msg_recv_fd(sv[1], &rb, 2000, err, sizeof(err)) == NULL);
	CHECK_STR_HAS(err, "longer");
	close(sv[1]);  /* unblocks the writer */
	pthread_join(t, NULL);
	close(sv[0]);
	msg_rbuf_free(&rb);
}
