/* test_mig.c — libmigrate's encoder, stream and schema, through memory; its side of the agent's refusal. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "migrate/mig_encode.h"
#include "migrate/mig_io.h"
#include "migrate/mig_local.h"
#include "migrate/mig_schema.h"
#include "migrate/mig_stream.h"
#include "migrate/mig_sum.h"
#include "test/unit/unit.h"

/* ---- encoder ----------------------------------------------------------- */
TEST(mig_encoder_round_trip)
{
	struct mig_enc e;
	struct mig_dec d;
	uint8_t u8; int32_t i32; int64_t i64; uint64_t u64; float f; double db;
	char s[16], *dup, raw[8];
	size_t n;

	mig_enc_init(&e);
	CHECK(mig_put_u8(&e, 200) == 0 && mig_put_int32(&e, -7) == 0);
	CHECK(mig_put_int64(&e, -1234567890123LL) == 0 && mig_put_uint64(&e, UINT64_MAX) == 0);
	CHECK(mig_put_float(&e, 1.5f) == 0 && mig_put_double(&e, -2.25) == 0);
	CHECK(mig_put_str(&e, "hello") == 0 && mig_put_str(&e, "dup") == 0);
	CHECK(mig_put_bytes(&e, "\0\1\2", 3) == 0);
	mig_dec_init(&d, e.buf, e.len, 0);
	CHECK(mig_get_u8(&d, &u8) == 0 && u8 == 200);
	CHECK(mig_get_int32(&d, &i32) == 0 && i32 == -7);
	CHECK(mig_get_int64(&d, &i64) == 0 && i64 == -1234567890123LL);
	CHECK(mig_get_uint64(&d, &u64) == 0 && u64 == UINT64_MAX);
	CHECK(mig_get_float(&d, &f) == 0 && f == 1.5f);
	CHECK(mig_get_double(&d, &db) == 0 && db == -2.25);
	CHECK(mig_get_str(&d, s, sizeof(s)) == 0);
	CHECK_STR_EQ(s, "hello");
	CHECK(mig_get_strdup(&d, &dup) == 0);
	CHECK_STR_EQ(dup, "dup");
	free(dup);
	CHECK(mig_get_bytes(&d, raw, sizeof(raw), &n) == 0 && n == 3 && raw[2] == 2);
	CHECK(mig_dec_done(&d));
	CHECK(mig_get_u8(&d, &u8) == -1);              /* nothing left */
	mig_enc_release(&e);
}

TEST(mig_encoder_rejects_wrong_type_and_truncation)
{
	struct mig_enc e;
	struct mig_dec d;
	int64_t i64;
	double db;
	char small[3];

	mig_enc_init(&e);
	CHECK(mig_put_double(&e, 3.0) == 0 && mig_put_str(&e, "toolong") == 0);
	mig_dec_init(&d, e.buf, e.len, 0);
	CHECK(mig_get_int64(&d, &i64) == -1);          /* tag says double */
	CHECK(mig_get_double(&d, &db) == -1);          /* failed stays failed */
	mig_dec_init(&d, e.buf, e.len, 0);
	CHECK(mig_get_double(&d, &db) == 0);
	CHECK(mig_get_str(&d, small, sizeof(small)) == -1);   /* does not fit */
	{
		char big[100];

		mig_dec_init(&d, e.buf, e.len - 1, 0);
		CHECK(mig_get_double(&d, &db) == 0);
		CHECK(mig_get_str(&d, big, sizeof(big)) == -1); /* truncated */
	}
	mig_enc_release(&e);
}

/* ---- stream ------------------------------------------------------------ */
struct pt { int64_t x; double y; char name[16]; };

static int pt_save(struct mig_enc *e, void *ctx)
{
	struct pt *p = ctx;

	return mig_put_int64(e, p->x) | mig_put_double(e, p->y) | mig_put_str(e, p->name);
}

static int pt_load(struct mig_dec *d, void *ctx)
{
	struct pt *p = ctx;

	if (mig_get_int64(d, &p->x) < 0 || mig_get_double(d, &p->y) < 0)
		return -1;
	return mig_get_str(d, p->name, sizeof(p->name));
}

struct state {
	int32_t a[5];
	double b[3];
	uint64_t c;
	char s[6];
	struct pt p;
	struct mig_table t;
};

static int state_protect(struct state *st)
{
	struct mig_entry e[] = {
		{ "a", MIG_INT32, st->a, 5, 0, 0, 0, 0 },
		{ "b", MIG_DOUBLE, st->b, 3, 0, 0, 0, 0 },
		{ "c", MIG_UINT64, &st->c, 1, 0, 0, 0, 0 },
		{ "s", MIG_CHAR, st->s, 6, 0, 0, 0, 0 },
		{ "p", 0, NULL, 0, pt_save, pt_load, &st->p, 0 },
	};
	char err[MIG_ERR_LEN];

	mig_table_init(&st->t);
	for (size_t i = 0; i < 5; i++) {
		if (mig_table_add(&st->t, &e[i], err, sizeof(err)) < 0)
			return -1;
	}
	return 0;
}

static void state_fill(struct state *st)
{
	for (int i = 0; i < 5; i++)
		st->a[i] = -100000 * i - 3;
	st->b[0] = 3.25; st->b[1] = -1e300; st->b[2] = 0.1;
	st->c = 0x0102030405060708ULL;
	memcpy(st->s, "hello", 6);
	st->p = (struct pt){ -42, 6.5, "node" };
}

static int state_equal(const struct state *x, const struct state *y)
{
	return !memcmp(x->a, y->a, sizeof(x->a)) && !memcmp(x->b, y->b, sizeof(x->b)) &&
	       x->c == y->c && !memcmp(x->s, y->s, 6) && x->p.x == y->p.x &&
	       x->p.y == y->p.y && !strcmp(x->p.name, y->p.name);
}

/* A native stream of a filled state, in *buf (caller frees). */
static size_t make_stream(const char *token, unsigned char **buf)
{
	struct state src;
	struct mig_memio io;
	char err[MIG_ERR_LEN];
	uint64_t bytes;

	state_fill(&src);
	if (state_protect(&src) < 0)
		return 0;
	mig_memio_init(&io, "go\n", 3);
	if (mig_stream_send(&io.io, &src.t, token, &bytes, err, sizeof(err)) < 0)
		bytes = 0;
	mig_table_release(&src.t);
	*buf = io.out;
	return bytes == io.outlen ? io.outlen : 0;
}

/* Receive buf into a fresh state; returns the result, err filled. */
static int recv_stream(const void *buf, size_t len, const char *token,
		       struct state *dst, char *err, size_t errlen)
{
	struct mig_memio io;
	struct mig_rx rx;
	int r;

	memset(dst, 0, sizeof(*dst));
	if (state_protect(dst) < 0)
		return -9;
	mig_memio_init(&io, buf, len);
	r = mig_stream_recv_head(&io.io, token, &rx, err, errlen);
	if (r == 0)
		r = mig_stream_recv_body(&io.io, &rx, &dst->t, err, errlen);
	mig_rx_release(&rx);
	mig_table_release(&dst->t);
	return r;
}

TEST(mig_stream_round_trip)
{
	unsigned char *buf = NULL;
	size_t len = make_stream("tok123", &buf);
	struct state want, got;
	char err[MIG_ERR_LEN];

	CHECK(len > 0);
	/* version 2: the token first (u8 length, bytes), then the header */
	CHECK_INT_EQ(buf[0], 6);
	CHECK(!memcmp(buf + 1, "tok123", 6));
	CHECK(!memcmp(buf + 7, "RSMG", 4));
	CHECK_INT_EQ(buf[11], MIG_VERSION);
	CHECK_INT_EQ(MIG_VERSION, 2);
	state_fill(&want);
	CHECK_INT_EQ(recv_stream(buf, len, "tok123", &got, err, sizeof(err)), 0);
	CHECK(state_equal(&want, &got));
	free(buf);
}

TEST(mig_stream_bad_token_refused)
{
	unsigned char *buf = NULL;
	size_t len = make_stream("tok123", &buf);
	struct state got;
	char err[MIG_ERR_LEN];

	CHECK(len > 0);
	CHECK_INT_EQ(recv_stream(buf, len, "tok124", &got, err, sizeof(err)), MIG_BAD_TOKEN);
	CHECK_INT_EQ(recv_stream(buf, len, "tok12", &got, err, sizeof(err)), MIG_BAD_TOKEN);
	CHECK_STR_HAS(err, "wrong token");
	free(buf);
}

/* Whatever a stranger sends, the receiver reads at most the token's
 * 1 + MIG_TOKEN_MAX bytes and answers MIG_BAD_TOKEN (never -1, which
 * would end a successor): junk, a version 1 stream (magic first), an
 * over-long or empty token, a token cut short, nothing at all. */
static int head_of(const void *buf, size_t len, const char *token, size_t *used,
		   char *err, size_t errlen)
{
	struct mig_memio io;
	struct mig_rx rx;
	int r;

	mig_memio_init(&io, buf, len);
	r = mig_stream_recv_head(&io.io, token, &rx, err, errlen);
	mig_rx_release(&rx);
	*used = io.inpos;
	return r;
}

TEST(mig_stream_token_first_strangers_refused)
{
	static const unsigned char v1[] = "RSMG\x01L\x04\x08\x08\x08\x04\x00\x03\x00tok";
	unsigned char big[600], cut[] = { 3, 't', 'o' };
	const unsigned char empty[] = { 0, 'R', 'S', 'M', 'G' };
	unsigned char *good = NULL;
	size_t len = make_stream("tok", &good), used;
	char err[MIG_ERR_LEN];

	CHECK_INT_EQ(head_of("junk\n", 5, "tok", &used, err, sizeof(err)), MIG_BAD_TOKEN);
	CHECK(used <= 5);
	CHECK_INT_EQ(head_of(v1, sizeof(v1) - 1, "tok", &used, err, sizeof(err)), MIG_BAD_TOKEN);
	CHECK(used == 1);                  /* 'R' (82) taken as the length: cut short */
	memset(big, 'a', sizeof(big));
	big[0] = 200;                      /* longer than MIG_TOKEN_MAX: not even read */
	CHECK_INT_EQ(head_of(big, sizeof(big), "tok", &used, err, sizeof(err)), MIG_BAD_TOKEN);
	CHECK_INT_EQ((long)used, 1);
	CHECK_STR_HAS(err, "wrong token");
	big[0] = MIG_TOKEN_MAX;            /* as long as allowed, wrong: read, compared, no more */
	CHECK_INT_EQ(head_of(big, sizeof(big), "tok", &used, err, sizeof(err)), MIG_BAD_TOKEN);
	CHECK_INT_EQ((long)used, 1 + MIG_TOKEN_MAX);
	CHECK_INT_EQ(head_of(empty, sizeof(empty), "tok", &used, err, sizeof(err)), MIG_BAD_TOKEN);
	CHECK_INT_EQ(head_of(cut, sizeof(cut), "tok", &used, err, sizeof(err)), MIG_BAD_TOKEN);
	CHECK_STR_HAS(err, "token cut short");
	CHECK_INT_EQ(head_of("", 0, "tok", &used, err, sizeof(err)), MIG_BAD_TOKEN);
	CHECK_STR_HAS(err, "no token");
	/* the right token with a bad header behind it is the source's failure: -1 */
	CHECK(len > 12);
	good[5] = 'X';                     /* "RSMG" -> "RXMG" */
	CHECK_INT_EQ(head_of(good, len, "tok", &used, err, sizeof(err)), -1);
	CHECK_STR_HAS(err, "not a migration stream");
	free(good);
}

TEST(mig_stream_every_corrupt_byte_fails)
{
	unsigned char *buf = NULL;
	size_t len = make_stream("t", &buf);
	struct state got;
	char err[MIG_ERR_LEN];

	CHECK(len > 0);
	for (size_t i = 0; i < len; i++) {
		buf[i] ^= 0x01;
		CHECK(recv_stream(buf, len, "t", &got, err, sizeof(err)) != 0);
		buf[i] ^= 0x01;
	}
	/* a payload byte: only the checksum can tell */
	buf[40] ^= 0x01;
	CHECK(recv_stream(buf, len, "t", &got, err, sizeof(err)) == -1);
	CHECK_STR_HAS(err, "checksum mismatch");
	free(buf);
}

TEST(mig_stream_truncated_fails)
{
	unsigned char *buf = NULL;
	size_t len = make_stream("t", &buf);
	struct state got;
	char err[MIG_ERR_LEN];

	CHECK(len > 0);
	for (size_t n = 0; n < len; n++)
		CHECK(recv_stream(buf, n, "t", &got, err, sizeof(err)) != 0);
	free(buf);
}

TEST(mig_stream_program_mismatch)
{
	unsigned char *buf = NULL;
	size_t len = make_stream("t", &buf);
	struct state got;
	struct mig_memio io;
	struct mig_rx rx;
	struct mig_entry extra = { "zz", MIG_INT64, &got.c, 1, 0, 0, 0, 0 };
	char err[MIG_ERR_LEN];

	CHECK(len > 0);
	/* the successor protects a[4] instead of a[5] */
	memset(&got, 0, sizeof(got));
	CHECK(state_protect(&got) == 0);
	got.t.e[0].count = 4;
	mig_memio_init(&io, buf, len);
	CHECK(mig_stream_recv_head(&io.io, "t", &rx, err, sizeof(err)) == 0);
	CHECK(mig_stream_recv_body(&io.io, &rx, &got.t, err, sizeof(err)) == -1);
	CHECK_STR_HAS(err, "program mismatch");
	mig_rx_release(&rx);
	/* the successor protects one more object than was sent */
	got.t.e[0].count = 5;
	CHECK(mig_table_add(&got.t, &extra, err, sizeof(err)) == 0);
	mig_memio_init(&io, buf, len);
	CHECK(mig_stream_recv_head(&io.io, "t", &rx, err, sizeof(err)) == 0);
	CHECK(mig_stream_recv_body(&io.io, &rx, &got.t, err, sizeof(err)) == -1);
	CHECK_STR_HAS(err, "5 of 6 protected objects");
	mig_rx_release(&rx);
	mig_table_release(&got.t);
	free(buf);
}

/* ---- a stream written by hand as a machine of the other byte order ---- */
struct fw { unsigned char b[4096]; size_t n; };

static void fw_raw(struct fw *w, const void *p, size_t n)
{
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

/* value of `width` bytes, byte-swapped (the foreign order) */
static void fw_val(struct fw *w, uint64_t v, size_t width)
{
	unsigned char t[8];

	if (width == 1) { t[0] = (unsigned char)v; fw_raw(w, t, 1); return; }
	if (width == 2) { uint16_t x = (uint16_t)v; memcpy(t, &x, 2); }
	if (width == 4) { uint32_t x = (uint32_t)v; memcpy(t, &x, 4); }
	if (width == 8) memcpy(t, &v, 8);
	mig_swap_inplace(t, width, 1);
	fw_raw(w, t, width);
}

static void fw_name(struct fw *w, char kind, const char *name)
{
	fw_val(w, (unsigned char)kind, 1);
	fw_val(w, strlen(name), 1);
	fw_raw(w, name, strlen(name));
}

static uint64_t dbits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }

/* The header of a stream from a host of the other byte order, token "t". */
static void foreign_head(struct fw *w, int double_size)
{
	memset(w, 0, sizeof(*w));
	fw_val(w, 1, 1); fw_raw(w, "t", 1);
	fw_raw(w, "RSMG", 4);
	fw_val(w, MIG_VERSION, 1);
	fw_val(w, mig_host_big_endian() ? 'L' : 'B', 1);
	fw_val(w, 4, 1); fw_val(w, 8, 1); fw_val(w, 8, 1);
	fw_val(w, (uint64_t)double_size, 1); fw_val(w, 4, 1); fw_val(w, 0, 1);
}

static size_t foreign_stream(struct fw *w, int double_size)
{
	unsigned char fnbuf[64];
	size_t k = 0;
	struct fw f = { .n = 0 };
	const char *nm = "node";

	foreign_head(w, double_size);
	fw_name(w, 'T', "a"); fw_val(w, MIG_INT32, 1); fw_val(w, 5, 8);
	for (int i = 0; i < 5; i++)
		fw_val(w, (uint32_t)(-100000 * i - 3), 4);
	fw_name(w, 'T', "b"); fw_val(w, MIG_DOUBLE, 1); fw_val(w, 3, 8);
	fw_val(w, dbits(3.25), 8); fw_val(w, dbits(-1e300), 8); fw_val(w, dbits(0.1), 8);
	fw_name(w, 'T', "c"); fw_val(w, MIG_UINT64, 1); fw_val(w, 1, 8);
	fw_val(w, 0x0102030405060708ULL, 8);
	fw_name(w, 'T', "s"); fw_val(w, MIG_CHAR, 1); fw_val(w, 6, 8);
	fw_raw(w, "hello", 6);
	/* fn buffer: tagged values in the foreign order (tags 3 i64, 6 f64, 7 bytes) */
	fw_val(&f, 3, 1); fw_val(&f, (uint64_t)-42, 8);
	fw_val(&f, 6, 1); fw_val(&f, dbits(6.5), 8);
	fw_val(&f, 7, 1); fw_val(&f, 4, 8); fw_raw(&f, nm, 4);
	memcpy(fnbuf, f.b, f.n);
	k = f.n;
	fw_name(w, 'F', "p"); fw_val(w, k, 8); fw_raw(w, fnbuf, k);
	fw_val(w, 'E', 1); fw_val(w, 5, 4);
	fw_val(w, mig_sum_buf(w->b, w->n), 8);
	return w->n;
}

TEST(mig_stream_foreign_byte_order_converted)
{
	struct fw w;
	struct state want, got;
	char err[MIG_ERR_LEN];
	size_t len = foreign_stream(&w, 8);

	state_fill(&want);
	CHECK_INT_EQ(recv_stream(w.b, len, "t", &got, err, sizeof(err)), 0);
	CHECK(state_equal(&want, &got));
}

/* Receive a stream of one protected int64 array "big" into dst. */
static int recv_big(const void *buf, size_t len, int64_t *dst, size_t n,
		    char *err, size_t errlen)
{
	struct mig_entry e = { "big", MIG_INT64, dst, n, 0, 0, 0, 0 };
	struct mig_table t;
	struct mig_memio io;
	struct mig_rx rx;
	int r;

	mig_table_init(&t);
	if (mig_table_add(&t, &e, err, errlen) < 0)
		return -9;
	mig_memio_init(&io, buf, len);
	r = mig_stream_recv_head(&io.io, "t", &rx, err, errlen);
	if (r == 0)
		r = mig_stream_recv_body(&io.io, &rx, &t, err, errlen);
	mig_rx_release(&rx);
	mig_table_release(&t);
	return r;
}

/* Arrays larger than the stream's staging piece (MIG_PIECE, 32 KiB)
 * cross it in pieces: many whole pieces and a partial one, native and
 * foreign. */
#define BIG_N ((size_t)(3 * (128 << 10) + 24) / 8)
TEST(mig_stream_large_array_in_pieces)
{
	int64_t *src = malloc(BIG_N * 8), *dst = calloc(BIG_N, 8);
	struct mig_entry e = { "big", MIG_INT64, src, BIG_N, 0, 0, 0, 0 };
	struct mig_table t;
	struct mig_memio io;
	struct fw h, tail = { .n = 0 };
	unsigned char *fb;
	size_t n;
	uint64_t bytes, sum;
	char err[MIG_ERR_LEN];

	CHECK(src && dst);
	for (size_t i = 0; i < BIG_N; i++)
		src[i] = (int64_t)i * 0x0101010101LL - 7;
	mig_table_init(&t);
	CHECK_INT_EQ(mig_table_add(&t, &e, err, sizeof(err)), 0);
	mig_memio_init(&io, "go\n", 3);
	CHECK_INT_EQ(mig_stream_send(&io.io, &t, "t", &bytes, err, sizeof(err)), 0);
	mig_table_release(&t);
	CHECK_INT_EQ(recv_big(io.out, io.outlen, dst, BIG_N, err, sizeof(err)), 0);
	CHECK(!memcmp(src, dst, BIG_N * 8));
	free(io.out);
	/* the same values from a host of the other byte order */
	foreign_head(&h, 8);
	fw_name(&h, 'T', "big"); fw_val(&h, MIG_INT64, 1); fw_val(&h, BIG_N, 8);
	fb = malloc(h.n + BIG_N * 8 + 64);
	CHECK(fb != NULL);
	memcpy(fb, h.b, h.n);
	n = h.n;
	for (size_t i = 0; i < BIG_N; i++, n += 8) {
		uint64_t v = (uint64_t)src[i];

		mig_swap_inplace(&v, 8, 1);
		memcpy(fb + n, &v, 8);
	}
	fw_val(&tail, 'E', 1); fw_val(&tail, 1, 4);
	memcpy(fb + n, tail.b, tail.n);
	n += tail.n;
	sum = mig_sum_buf(fb, n);
	mig_swap_inplace(&sum, 8, 1);
	memcpy(fb + n, &sum, 8);
	n += 8;
	memset(dst, 0, BIG_N * 8);
	CHECK_INT_EQ(recv_big(fb, n, dst, BIG_N, err, sizeof(err)), 0);
	CHECK(!memcmp(src, dst, BIG_N * 8));
	free(fb);
	free(src);
	free(dst);
}

TEST(mig_stream_unsupported_sizes_refused)
{
	struct fw w;
	struct state got;
	char err[MIG_ERR_LEN];
	size_t len = foreign_stream(&w, 4);

	CHECK_INT_EQ(recv_stream(w.b, len, "t", &got, err, sizeof(err)), -1);
	CHECK_STR_HAS(err, "double 4 bytes");
}

/* ---- schema ------------------------------------------------------------ */
TEST(mig_schema_example_parses)
{
	struct mig_schema s;
	char err[MIG_ERR_LEN];

	CHECK(mig_schema_load("examples/test_tree.schema.xml", &s, NULL, err, sizeof(err)) == 0);
	CHECK_STR_EQ(s.name, "test_tree");
	CHECK(s.characteristics == MIG_CH_COMPUTE);
	CHECK(s.estimated_time > 0);
	CHECK(s.memory == 64.0 * 1048576);
	CHECK(s.narch == 2);
	CHECK_STR_EQ(s.arch[1], "s390x");
	CHECK_STR_EQ(mig_schema_binary(&s, "s390x"), "bin/s390x/test_tree");
}

TEST(mig_schema_errors_name_file_and_line)
{
	struct mig_schema s;
	char err[MIG_ERR_LEN];
	const char *bad_xml = "<application>\n<characteristics>compute\n</application>";
	const char *bad_unit = "<application>\n\n<estimated_time unit=\"fortnight\">3</estimated_time></application>";
	const char *unknown = "<application>\n<color>red</color>\n</application>";
	const char *ent = "<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
			  "<application name=\"&x;\"/>";

	CHECK(mig_schema_parse(bad_xml, strlen(bad_xml), "a.xml", &s, err, sizeof(err)) == -1);
	CHECK_STR_HAS(err, "a.xml:3:");
	CHECK(mig_schema_parse(bad_unit, strlen(bad_unit), "b.xml", &s, err, sizeof(err)) == -1);
	CHECK_STR_HAS(err, "b.xml:3: bad unit");
	CHECK(mig_schema_parse(unknown, strlen(unknown), "c.xml", &s, err, sizeof(err)) == -1);
	CHECK_STR_HAS(err, "c.xml:2: unknown element <color>");
	/* external entities are never loaded */
	if (mig_schema_parse(ent, strlen(ent), "d.xml", &s, err, sizeof(err)) == 0)
		CHECK(strstr(s.name, "root") == NULL);
}

/* ---- the local socket: the agent's refusal ------------------------------ */

/* An agent that refuses writes `refused reason=...` and closes; libmigrate
 * keeps the reason whether it meets the line on a receive or on a send that
 * fails because the agent is gone. */
TEST(mig_local_keeps_the_agents_refusal)
{
	static const char line[] = "refused reason=too%20many%20connections%20for%20uid%2065534\n";
	struct mig_local l = { .fd = -1 };
	struct msg *m = msg_new("exit");
	char err[MSG_ERR_LEN];
	int sv[2];

	CHECK(m != NULL && msg_set(m, "status", "done") == 0);
	/* on a receive */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	l.fd = sv[0];
	l.refused[0] = 0;
	CHECK(write(sv[1], line, sizeof(line) - 1) == (ssize_t)(sizeof(line) - 1));
	close(sv[1]);
	CHECK(mig_local_recv(&l, 1000, err, sizeof(err)) == NULL);
	CHECK_STR_HAS(err, "refused: too many connections for uid 65534");
	CHECK(!mig_local_up(&l));
	CHECK(!strcmp(l.refused, "too many connections for uid 65534"));
	/* on a failed send: the line is still there to read */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	l.fd = sv[0];
	l.refused[0] = 0;
	CHECK(write(sv[1], line, sizeof(line) - 1) == (ssize_t)(sizeof(line) - 1));
	close(sv[1]);
	CHECK_INT_EQ(mig_local_send(&l, m), -1);
	CHECK(!mig_local_up(&l));
	CHECK(!strcmp(l.refused, "too many connections for uid 65534"));
	msg_free(m);
}
