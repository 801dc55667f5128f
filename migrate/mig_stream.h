/*
 * mig_stream.h — the migration stream (docs/MIGRATION.md, "Stream format").
 *
 *   token    u8 token length (1..MIG_TOKEN_MAX), token
 *   header   "RSMG" version(2) order sizeof(int long size_t double float) flags
 *   records  'T' u8 namelen name u8 type u64 count payload(count*width)
 *            'F' u8 namelen name u64 len encoder-buffer(len)
 *   trailer  'E' u32 records, u64 XXH3-64 of every byte before it
 * The token goes first so that the receiver checks it (constant time)
 * before it reads, let alone believes, anything else: a stranger's bytes
 * never get past the first 1 + MIG_TOKEN_MAX.  The receiver answers with
 * one line after the header ("go", or "err REASON" and close) and one after
 * the trailer ("ok" or "err REASON").
 * All integers in the sender's byte order; the receiver converts ("receiver
 * makes right").  Typed payloads are staged through a 32 KiB buffer on
 * each side (mig_stream.c, MIG_PIECE: faster than sending and receiving
 * in place) and converted there when the orders differ.
 *
 * The receiver trusts nothing: every name, type, count and length is
 * checked against its own table and limits before use; fn buffers grow only
 * as their bytes arrive; fn loads run only after the checksum matched.
 * Errors: -1 with a reason in err; mig_stream_recv_head returns
 * MIG_BAD_TOKEN for a peer without the right token (wrong, too long, or
 * not all there: closed or timed out before its last byte).
 */
#ifndef RESCHED_MIG_STREAM_H
#define RESCHED_MIG_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "migrate/mig_io.h"
#include "migrate/mig_table.h"

#define MIG_MAGIC "RSMG"
#define MIG_VERSION 2             /* 2: the token before the header */
#define MIG_HEAD_LEN 12           /* magic..flags, after the token */
#define MIG_TOKEN_MAX 128
#define MIG_CHUNK ((size_t)4 << 20)  /* fn buffer growth, MPI message size */
#define MIG_BAD_TOKEN (-2)
#define MIG_ORDER_LITTLE 'L'
#define MIG_ORDER_BIG 'B'

struct mig_sum;

/* Receiver state between the header and the body; owned by the caller,
 * released with mig_rx_release. */
struct mig_rx {
	int swap;                 /* sender's byte order differs */
	struct mig_sum *sum;      /* owned */
	uint64_t bytes;           /* stream bytes read */
};

/* Send the whole stream of `t` with `token`, reading the receiver's "go"
 * after the header; *bytes gets the stream size.  Calls every fn entry's
 * save.  The caller then reads the final answer with mig_stream_answer. */
int mig_stream_send(struct mig_io *io, struct mig_table *t, const char *token,
		    uint64_t *bytes, char *err, size_t errlen);

/* Read the receiver's answer line into line: 0 for "go"/"ok"; -1 with
 * "destination refused: REASON" (or an I/O error) in err. */
int mig_stream_answer(struct mig_io *io, char *line, size_t size,
		      char *err, size_t errlen);

/* Read and check the token, then the header.  0, -1 (the token was right,
 * the header is not), or MIG_BAD_TOKEN (then nothing after the token was
 * read). */
int mig_stream_recv_head(struct mig_io *io, const char *token,
			 struct mig_rx *rx, char *err, size_t errlen);
/* Read every record into `t`'s memory, check that each protected entry
 * came exactly once with its type and count, verify the checksum, then run
 * the fn loads.  Protected memory may be partly overwritten on failure. */
int mig_stream_recv_body(struct mig_io *io, struct mig_rx *rx,
			 struct mig_table *t, char *err, size_t errlen);
void mig_rx_release(struct mig_rx *rx);

#endif
