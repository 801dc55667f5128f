/*
 * migrate.h — libmigrate: make a program migration-enabled.
 *
 *     mig_init(&argc, &argv);                     // once, first (after MPI_Init)
 *     mig_protect("i", &i, 1, MIG_INT64);         // typed state, encoded portably
 *     mig_protect_fn("trees", save, load, ctx);   // pointer structures
 *     if (!mig_restored()) set_up();              // successor: state is in place
 *     for (; i < n; i++) { work(i); mig_poll(); } // may move here
 *     mig_finalize();
 *
 * The process registers with its host's agent on $RESCHED_RUN/agent.sock
 * (docs/LOCAL-PROTOCOL.md).  The agent triggers a move with SIGUSR1 (or
 * RESCHED_SIGNAL); the handler only sets a flag that mig_poll tests.  At the
 * next poll point the process sends every protected object over TCP to its
 * successor (started by the destination agent in restore mode) and exits
 * once the successor has verified and acknowledged all of it.  Any failure
 * before that acknowledgement leaves the process running at its poll point
 * with its state untouched.  Stream format and environment: docs/MIGRATION.md.
 *
 * Errors: calls returning int return 0 on success and -1 on failure, with a
 * one-line reason in mig_strerror().  Memory: libmigrate never frees or
 * reallocates protected memory; the caller keeps it valid until
 * mig_unprotect or exit.  Names are copied.  Not thread-safe: call from the
 * program's main thread.
 */
#ifndef RESCHED_MIGRATE_H
#define RESCHED_MIGRATE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* MPI mode (section "MPI programs" below) is chosen at the first inclusion:
 * RESCHED_MPI defined (pkg-config resched-migrate-mpi does it) or <mpi.h>
 * included earlier.  <mpi.h> is included here, outside the extern "C"
 * block: an MPI's C++ bindings (Open MPI's mpicxx) are templates, which
 * cannot have C linkage. */
#if defined(MPI_VERSION) || defined(RESCHED_MPI)
#include <mpi.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Types of protected memory.  Every type has a fixed width on the wire
 * (CHAR/BYTES 1, INT32/FLOAT 4, INT64/UINT64/DOUBLE 8); the receiver swaps
 * byte order when the sender's differs.  MIG_BYTES is never converted. */
enum mig_type {
	MIG_CHAR = 1,
	MIG_INT32,
	MIG_INT64,
	MIG_UINT64,
	MIG_FLOAT,
	MIG_DOUBLE,
	MIG_BYTES,
};

#define MIG_NAME_MAX 64           /* protected names: 1..63 bytes, no NUL */
#define MIG_ENTRIES_MAX 1024      /* protected objects per process */

/* The portable encoder used by mig_protect_fn callbacks.  Values written
 * with mig_put_* are read back, in the same order, with mig_get_*; each
 * carries a type tag, so a load that reads a different type fails. */
struct mig_enc;
struct mig_dec;
typedef int (*mig_save_fn)(struct mig_enc *enc, void *ctx);  /* 0 or -1 */
typedef int (*mig_load_fn)(struct mig_dec *dec, void *ctx);  /* 0 or -1 */

/* Encoder: the put functions return 0, or -1 when out of memory (then every
 * later put fails too and the migration is abandoned). */
int mig_put_u8(struct mig_enc *e, uint8_t v);
int mig_put_int32(struct mig_enc *e, int32_t v);
int mig_put_int64(struct mig_enc *e, int64_t v);
int mig_put_uint64(struct mig_enc *e, uint64_t v);
int mig_put_float(struct mig_enc *e, float v);
int mig_put_double(struct mig_enc *e, double v);
int mig_put_bytes(struct mig_enc *e, const void *p, size_t n);
int mig_put_str(struct mig_enc *e, const char *s);          /* s != NULL */

/* Decoder: return 0, or -1 when the next value is missing, has another
 * type, or does not fit; after a failure every later get fails.
 * mig_get_bytes stores at most `cap` bytes and the length in *n; a longer
 * value is an error.  mig_get_str copies into buf (NUL-terminated, at most
 * size-1 bytes); mig_get_strdup returns malloc'd memory the caller frees. */
int mig_get_u8(struct mig_dec *d, uint8_t *v);
int mig_get_int32(struct mig_dec *d, int32_t *v);
int mig_get_int64(struct mig_dec *d, int64_t *v);
int mig_get_uint64(struct mig_dec *d, uint64_t *v);
int mig_get_float(struct mig_dec *d, float *v);
int mig_get_double(struct mig_dec *d, double *v);
int mig_get_bytes(struct mig_dec *d, void *buf, size_t cap, size_t *n);
int mig_get_str(struct mig_dec *d, char *buf, size_t size);
int mig_get_strdup(struct mig_dec *d, char **out);

/* Start libmigrate.  Removes `--mig-schema FILE` from argv (argv is
 * rearranged in place; *argc updated), reads the application schema
 * (that file or $RESCHED_SCHEMA), installs the trigger signal handler and
 * registers with the agent (waiting up to 2 s for its answer).  Without an
 * agent it prints once "PROG: libmigrate: no agent at PATH: cannot
 * migrate" and returns 0; an agent that refuses the process (too many
 * connections of its uid, ...) is reported the same way with its reason,
 * "PROG: libmigrate: agent at PATH refused this process: REASON: cannot
 * migrate", which mig_strerror() then returns.  The trigger signal is
 * also raised by the kernel when the agent's socket has something to read
 * or ends (an agent restart: the next poll point registers again, see
 * docs/LOCAL-PROTOCOL.md) and by a reconnect timer; the program sees none
 * of it beyond an EINTR where the trigger could already cause one.
 * In restore mode ($RESCHED_RESTORE_TOKEN set) it listens on a TCP port,
 * waits (up to $RESCHED_RESTORE_TIMEOUT s, default 30) for the source that
 * presents the token and accepts its stream header; the state itself is
 * read straight into protected memory at the first mig_restored() or
 * mig_poll() call, i.e. after the program has protected everything.  A
 * restore-mode failure prints the reason and exits with status 75.
 * Returns -1 on a malformed schema or a bad argument. */
int mig_init(int *argc, char ***argv);

/* Protect `count` objects of `type` at `addr` under `name` (unique).
 * Re-protecting a name replaces the entry (e.g. after a realloc). */
int mig_protect(const char *name, void *addr, size_t count, enum mig_type type);
/* Protect a structure saved and loaded through the encoder.  On restore,
 * load runs after the whole stream has been checksummed. */
int mig_protect_fn(const char *name, mig_save_fn save, mig_load_fn load,
		   void *ctx);
/* Forget a protected name; -1 if unknown. */
int mig_unprotect(const char *name);

/* 1 when this process is a restored successor and its state is in place
 * (completes a pending restore first; exits on failure), else 0. */
int mig_restored(void);

/* Poll points.  mig_poll costs one flag test when nothing is pending. */
extern volatile sig_atomic_t mig_pending_;
void mig_poll_slow(const char *label);
static inline void mig_poll(void)
{
	if (mig_pending_)
		mig_poll_slow(NULL);
}
static inline void mig_poll_label(const char *label)
{
	if (mig_pending_)
		mig_poll_slow(label);
}

/* The job is done: tells the agent (exit status=done code=0) and closes the
 * agent socket.  Later mig_poll calls do nothing. */
void mig_finalize(void);

/* The last error, one line; never NULL; owned by libmigrate. */
const char *mig_strerror(void);

#if defined(MPI_VERSION) || defined(RESCHED_MPI)
/* ---- MPI programs (lib/libmigrate_mpi.a, then lib/libmigrate.a) ---------
 * Use mig_comm() instead of MPI_COMM_WORLD, and call it again after every
 * poll point (do not keep the handle across mig_poll): a migrated rank's
 * successor takes its place, with the same rank number, in a new
 * communicator.  The first call of mig_comm / mig_poll / mig_restored is
 * collective over MPI_COMM_WORLD (after MPI_Init and mig_init).  Every rank
 * must call mig_poll the same number of times (SPMD): the ranks agree on a
 * pending move at poll counts they all reach, with a non-blocking
 * MPI_Iallreduce about every RESCHED_MPI_AGREE_MS (default 20) ms.  With
 * MPI, these macros replace mig_poll, mig_poll_label and mig_restored; the
 * poll costs one increment and compare between agreements.  docs/MIGRATION.md,
 * section "MPI". */
MPI_Comm mig_comm(void);
extern uint64_t mig_mpi_polls_;   /* poll points passed (this process) */
extern uint64_t mig_mpi_next_;    /* poll count of the next agreement */
void mig_mpi_poll_slow(const char *label);
int mig_mpi_restored(void);
static inline void mig_mpi_poll(const char *label)
{
	if (++mig_mpi_polls_ >= mig_mpi_next_)
		mig_mpi_poll_slow(label);
}
#define mig_poll() mig_mpi_poll(NULL)
#define mig_poll_label(label) mig_mpi_poll(label)
#define mig_restored() mig_mpi_restored()
#endif

#ifdef __cplusplus
}
#endif
#endif
