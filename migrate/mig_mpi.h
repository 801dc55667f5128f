/*
 * mig_mpi.h — libmigrate's MPI layer (lib/libmigrate_mpi.a, built with
 * mpicc).  The public calls (mig_comm, the mig_poll / mig_restored macros)
 * are in migrate.h; this header is the layer's internal contract.
 *
 * Communicators (all owned by the layer, one set per process):
 *   app   what mig_comm() returns: a dup of MPI_COMM_WORLD, later a split
 *         of a merged communicator in which a successor holds its
 *         predecessor's rank.
 *   ctl   a dup of app for the layer's own collectives (agreement rounds),
 *         so they never interleave with the program's.
 *   retired[]  every merged communicator this process took part in; at
 *         MPI_Finalize each member enters an MPI_Ibarrier on each, which is
 *         what lets a retired (migrated-away) process sleep instead of
 *         spinning in MPI_Finalize.
 *
 * Agreement: at poll counts every rank reaches (SPMD), each rank completes
 * the previous MPI_Iallreduce(MAX) of {pending ? rank+1 : 0, -K} and starts
 * the next; K, the polls between rounds, is the smallest any rank proposed
 * for RESCHED_MPI_AGREE_MS.  A non-zero first value names the rank that
 * moves now.
 *
 * A move of rank m (all ranks of ctl take part, at the same poll count):
 *   spawn     m checks the destination against the hostfile and
 *             broadcasts the answer; then m spawns the successor alone
 *             (MPI_COMM_SELF, info host=DEST) and broadcasts the outcome;
 *             every rank and the successor build an intercommunicator
 *             over m's pair with it (MPI_Intercomm_create) and merge it
 *             -> merged (successor last).  RESCHED_MPI_SPAWN=collective:
 *             one collective spawn over ctl instead (faster; a failure
 *             kills the other ranks in Open MPI 4.1.4).
 *   transfer  the migration stream (docs/MIGRATION.md) from m to the
 *             successor over merged, in messages of at most MIG_CHUNK bytes;
 *             the successor checks header and checksum.
 *   register  the successor, once the stream checks out, registers with
 *             its host's agent as the job (with the move's token, handed
 *             over by m) and waits for the registry's yes (docs/MIGRATION.md,
 *             "Through /resched"); then it answers ok.
 *   split     MPI_Bcast of the answer over merged, MPI_Comm_split: on
 *             success m leaves and the successor gets key m; on failure the
 *             successor leaves (exits 0: mpirun would end the job on another
 *             status) and m goes on with its state.
 * The successor restores the buffered stream into its protected memory at
 * mig_restored() / its first poll (receiver makes right).
 *
 * Retired processes (the old m) wait for the job's end asleep, their
 * protected arrays given back; RESCHED_MPI_RETIRE=exit makes them end at
 * once (every process then skips Open MPI's finalize fence).
 *
 * Environment: RESCHED_MPI_AGREE_MS, RESCHED_MPI_HOSTFILE (destinations
 * must be listed there: checked before spawning, and reported to the
 * registry), RESCHED_MPI_SPAWN, RESCHED_MPI_RETIRE, RESCHED_MIGRATE_TIMEOUT,
 * RESCHED_TEST_CORRUPT_AT, and the test hook RESCHED_MPI_TEST_MIGRATE =
 * "RANK:POLL:HOST[,RANK:POLL:HOST...]" (tests and benchmarks only: rank RANK
 * asks to move to HOST once it has passed POLL poll points).
 */
#ifndef RESCHED_MIG_MPI_H
#define RESCHED_MIG_MPI_H

#include <mpi.h>

#include "migrate/mig_core.h"

#define MIG_MPI_TOKEN "mpi"      /* the channel is the job's own: no secret */
#define MIG_MPI_RETIRED_MAX 64    /* moves one process can take part in */
#define MIG_MPI_TEST_MAX 16       /* entries of RESCHED_MPI_TEST_MIGRATE */
#define MIG_MPI_AGREE_MS 20       /* default time between agreement rounds */

/* Message tags on merged between the source and its successor. */
enum {
	MIG_MPI_TAG_CTL = 7301,   /* int64[MIG_MPI_CTL_N], then struct mig_mpi_hand */
	MIG_MPI_TAG_DATA,         /* stream bytes */
	MIG_MPI_TAG_END,          /* end of stream (empty) */
	MIG_MPI_TAG_ANS,          /* "go\n", "ok\n" or "err REASON\n" */
	MIG_MPI_TAG_JOIN,         /* MPI_Intercomm_create of the successor */
};

/* The control record sent first to the successor. */
enum { MIG_MPI_CTL_POLLS, MIG_MPI_CTL_K, MIG_MPI_CTL_RANK, MIG_MPI_CTL_N };

/* What the successor needs to register as its predecessor's job (sent as
 * bytes after the control record; every string NUL-terminated). */
struct mig_mpi_hand {
	char job[64];             /* the registry's job id, "" unknown */
	char token[MIG_TOKEN_MAX + 1]; /* the move's token from the agent's
	                           * command, "" for a move the registry did
	                           * not order (the test hook) */
	char ns[MIG_MPI_NS_MAX];  /* the job's namespace (procs/ID/mpi) */
};

/* How long a successor waits for the registry to confirm its claim. */
#define MIG_MPI_REGISTER_S 10

#endif
