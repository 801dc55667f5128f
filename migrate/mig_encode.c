/* mig_encode.c — the portable encoder; see mig_encode.h and migrate.h. */
#include "migrate/mig_encode.h"

#include <stdlib.h>
#include <string.h>

enum { TAG_U8 = 1, TAG_I32, TAG_I64, TAG_U64, TAG_F32, TAG_F64, TAG_BYTES };

/* ---- byte order -------------------------------------------------------- */
int mig_host_big_endian(void)
{
	const uint16_t one = 1;
	unsigned char b;

	memcpy(&b, &one, 1);
	return b == 0;
}

uint16_t mig_swap16(uint16_t v) { return __builtin_bswap16(v); }
uint32_t mig_swap32(uint32_t v) { return __builtin_bswap32(v); }
uint64_t mig_swap64(uint64_t v) { return __builtin_bswap64(v); }

void mig_swap_inplace(void *p, size_t width, size_t count)
{
	unsigned char *b = p;

	for (size_t i = 0; i < count; i++, b += width) {
		for (size_t j = 0; j < width / 2; j++) {
			unsigned char t = b[j];

			b[j] = b[width - 1 - j];
			b[width - 1 - j] = t;
		}
	}
}

size_t mig_type_width(int type)
{
	switch (type) {
	case MIG_CHAR: case MIG_BYTES: return 1;
	case MIG_INT32: case MIG_FLOAT: return 4;
	case MIG_INT64: case MIG_UINT64: case MIG_DOUBLE: return 8;
	default: return 0;
	}
}

const char *mig_type_name(int type)
{
	static const char *const names[] = {
		"?", "char", "int32", "int64", "uint64", "float", "double", "bytes"
	};

	return type >= 1 && type <= MIG_BYTES ? names[type] : "?";
}

/* ---- encoder ----------------------------------------------------------- */
void mig_enc_init(struct mig_enc *e)
{
	memset(e, 0, sizeof(*e));
}

void mig_enc_release(struct mig_enc *e)
{
	free(e->buf);
	mig_enc_init(e);
}

static int enc_reserve(struct mig_enc *e, size_t n)
{
	size_t cap = e->cap ? e->cap : 256;
	unsigned char *nb;

	if (e->failed || n > MIG_FN_MAX - e->len) {
		e->failed = 1;
		return -1;
	}
	while (cap - e->len < n)
		cap *= 2;
	if (cap == e->cap)
		return 0;
	nb = realloc(e->buf, cap);
	if (!nb) {
		e->failed = 1;
		return -1;
	}
	e->buf = nb;
	e->cap = cap;
	return 0;
}

static int enc_put(struct mig_enc *e, int tag, const void *p, size_t n)
{
	if (enc_reserve(e, n + 1) < 0)
		return -1;
	e->buf[e->len++] = (unsigned char)tag;
	if (n)
		memcpy(e->buf + e->len, p, n);
	e->len += n;
	return 0;
}

int mig_put_u8(struct mig_enc *e, uint8_t v) { return enc_put(e, TAG_U8, &v, 1); }
int mig_put_int32(struct mig_enc *e, int32_t v) { return enc_put(e, TAG_I32, &v, 4); }
int mig_put_int64(struct mig_enc *e, int64_t v) { return enc_put(e, TAG_I64, &v, 8); }
int mig_put_uint64(struct mig_enc *e, uint64_t v) { return enc_put(e, TAG_U64, &v, 8); }
int mig_put_float(struct mig_enc *e, float v) { return enc_put(e, TAG_F32, &v, 4); }
int mig_put_double(struct mig_enc *e, double v) { return enc_put(e, TAG_F64, &v, 8); }

int mig_put_bytes(struct mig_enc *e, const void *p, size_t n)
{
	uint64_t len = n;

	if (enc_put(e, TAG_BYTES, &len, 8) < 0 || enc_reserve(e, n) < 0)
		return -1;
	if (n)
		memcpy(e->buf + e->len, p, n);
	e->len += n;
	return 0;
}

int mig_put_str(struct mig_enc *e, const char *s)
{
	return mig_put_bytes(e, s, strlen(s));
}

/* ---- decoder ----------------------------------------------------------- */
void mig_dec_init(struct mig_dec *d, const void *buf, size_t len, int swap)
{
	d->buf = buf;
	d->len = len;
	d->pos = 0;
	d->swap = swap;
	d->failed = 0;
}

int mig_dec_done(const struct mig_dec *d)
{
	return !d->failed && d->pos == d->len;
}

static int dec_fail(struct mig_dec *d)
{
	d->failed = 1;
	return -1;
}

/* Read tag `tag` and `n` bytes of value into p, swapped to host order. */
static int dec_get(struct mig_dec *d, int tag, void *p, size_t n)
{
	if (d->failed || d->len - d->pos < n + 1 || d->buf[d->pos] != tag)
		return dec_fail(d);
	memcpy(p, d->buf + d->pos + 1, n);
	if (d->swap)
		mig_swap_inplace(p, n, 1);
	d->pos += n + 1;
	return 0;
}

int mig_get_u8(struct mig_dec *d, uint8_t *v) { return dec_get(d, TAG_U8, v, 1); }
int mig_get_int32(struct mig_dec *d, int32_t *v) { return dec_get(d, TAG_I32, v, 4); }
int mig_get_int64(struct mig_dec *d, int64_t *v) { return dec_get(d, TAG_I64, v, 8); }
int mig_get_uint64(struct mig_dec *d, uint64_t *v) { return dec_get(d, TAG_U64, v, 8); }
int mig_get_float(struct mig_dec *d, float *v) { return dec_get(d, TAG_F32, v, 4); }
int mig_get_double(struct mig_dec *d, double *v) { return dec_get(d, TAG_F64, v, 8); }

/* The length of the next bytes value, checked against what is left. */
static int dec_bytes_len(struct mig_dec *d, size_t *n)
{
	uint64_t len;

	if (dec_get(d, TAG_BYTES, &len, 8) < 0)
		return -1;
	if (len > d->len - d->pos)
		return dec_fail(d);
	*n = (size_t)len;
	return 0;
}

int mig_get_bytes(struct mig_dec *d, void *buf, size_t cap, size_t *n)
{
	size_t len;

	if (dec_bytes_len(d, &len) < 0)
		return -1;
	if (len > cap)
		return dec_fail(d);
	if (len)
		memcpy(buf, d->buf + d->pos, len);
	d->pos += len;
	if (n)
		*n = len;
	return 0;
}

int mig_get_str(struct mig_dec *d, char *buf, size_t size)
{
	size_t n;

	if (size == 0 || mig_get_bytes(d, buf, size - 1, &n) < 0)
		return dec_fail(d);
	if (memchr(buf, 0, n))
		return dec_fail(d);
	buf[n] = 0;
	return 0;
}

int mig_get_strdup(struct mig_dec *d, char **out)
{
	size_t len;
	char *s;

	*out = NULL;
	if (dec_bytes_len(d, &len) < 0)
		return -1;
	if (len > MIG_STR_MAX || memchr(d->buf + d->pos, 0, len))
		return dec_fail(d);
	s = malloc(len + 1);
	if (!s)
		return dec_fail(d);
	memcpy(s, d->buf + d->pos, len);
	s[len] = 0;
	d->pos += len;
	*out = s;
	return 0;
}
