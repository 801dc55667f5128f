/*
 * fuzz_mig_decode — libFuzzer harness for libmigrate's receiver: the bytes
 * are a migration stream read through the memory transport (token
 * "t" first, header, records, trailer) into a fixed table of typed objects and one fn
 * object whose load walks a small tree through the portable decoder.  Also
 * decodes the bytes directly as an fn encoder buffer.  Seed: a real stream
 * (corpus/fuzz_mig_decode/).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/mig_encode.h"
#include "migrate/mig_io.h"
#include "migrate/mig_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int walk(struct mig_dec *d, int depth)
{
	uint8_t present;
	uint64_t v;

	if (mig_get_u8(d, &present) < 0 || present > 1 || (present && depth == 0))
		return -1;
	if (!present)
		return 0;
	if (mig_get_uint64(d, &v) < 0 || walk(d, depth - 1) < 0)
		return -1;
	return walk(d, depth - 1);
}

static int load(struct mig_dec *d, void *ctx)
{
	char name[32], *dup = NULL;
	int64_t n;
	double x;
	int rc;

	if (mig_get_int64(d, &n) < 0 || mig_get_double(d, &x) < 0 ||
	    mig_get_str(d, name, sizeof(name)) < 0 || mig_get_strdup(d, &dup) < 0)
		return -1;
	free(dup);
	rc = walk(d, 16);
	return rc;
}

static int save(struct mig_enc *e, void *ctx)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int32_t a[5];
	static double b[3];
	static char s[6];
	struct mig_entry ent[] = {
		{ "a", MIG_INT32, a, 5, 0, 0, 0, 0 },
		{ "b", MIG_DOUBLE, b, 3, 0, 0, 0, 0 },
		{ "s", MIG_CHAR, s, 6, 0, 0, 0, 0 },
		{ "p", 0, NULL, 0, save, load, NULL, 0 },
	};
	struct mig_table t;
	struct mig_memio io;
	struct mig_rx rx;
	struct mig_dec d;
	char err[MIG_ERR_LEN];

	mig_table_init(&t);
	for (size_t i = 0; i < 4; i++)
		mig_table_add(&t, &ent[i], err, sizeof(err));
	mig_memio_init(&io, data, size);
	if (mig_stream_recv_head(&io.io, "t", &rx, err, sizeof(err)) == 0)
		mig_stream_recv_body(&io.io, &rx, &t, err, sizeof(err));
	mig_rx_release(&rx);
	mig_table_release(&t);
	mig_dec_init(&d, data, size, size & 1);
	load(&d, NULL);
	return 0;
}
