/*
 * mig_core.h — libmigrate's process-wide state, shared by mig_core.c (init,
 * protect, finalize), mig_move.c (the source side of a move) and
 * mig_restore.c (the successor side).  One instance, mig_g, used only from
 * the program's main thread; the signal handler touches only mig_pending_
 * and the trigger time.
 */
#ifndef RESCHED_MIG_CORE_H
#define RESCHED_MIG_CORE_H

#include <time.h>

#include "migrate/mig_local.h"
#include "migrate/mig_stream.h"
#include "migrate/mig_table.h"

#define MIG_EXIT_RESTORE 75       /* successor exit status on failure */
#define MIG_MPI_NS_MAX 128        /* an MPI job's namespace, NUL included */

/* An MPI rank's identity, told to its agent when it registers (the
 * registry's procs/ID/mpi).  Empty (ns[0] == 0) in a plain program. */
struct mig_mpi_id {
	char ns[MIG_MPI_NS_MAX];      /* the namespace of the job's launch */
	int rank, size;               /* in mig_comm() */
	char *hosts;                  /* owned: the hosts the job can spawn
	                               * on, comma-separated; NULL unknown */
};

struct mig_state {
	int inited, finalized, migrated;
	int no_reconnect;             /* MPI: its ranks do not re-register */
	struct mig_table table;       /* owned */
	struct mig_local local;       /* owned */
	char prog[64];                /* basename of argv[0] */
	char err[MIG_ERR_LEN];
	char job[64];                 /* from `registered` or RESCHED_JOB */
	char claim_token[MIG_TOKEN_MAX + 1]; /* a successor: the token of the move
	                               * it came by, its proof when it registers
	                               * again with a restarted agent */
	int argc;                     /* argv after option removal (not owned) */
	char **argv;
	double start;                 /* epoch seconds at mig_init */
	char *schema_xml;             /* owned */
	/* successor side */
	int restored;                 /* state in place */
	int restore_pending;          /* header accepted, body not yet read */
	int rfd;                      /* owned while restore_pending */
	struct mig_fdio rio;
	struct mig_rx rx;
	struct mig_mpi_id mpi;        /* MPI ranks only */
};

extern struct mig_state mig_g;
extern struct timespec mig_trigger_ts;   /* written by the signal handler */

void mig_seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An environment variable as a positive number, or dflt. */
double mig_env_num(const char *name, double dflt);

/* Send `register` (job != NULL: a restored successor of that job; token:
 * its proof, the token of the move it came by, or NULL), with mig_g.mpi
 * when set. */
void mig_register(const char *job, const char *token);
/* Set by libmigrate_mpi (a constructor in mig_mpi.c) and called by mig_init
 * after it connected to the agent: fills mig_g.mpi and returns 1 when this
 * process is a spawned MPI successor, which registers only once its state
 * has arrived (mig_mpi.c), else 0.  NULL in plain programs. */
extern int (*mig_mpi_init_hook)(void);
/* mig_restore.c */
int mig_restore_begin(void);      /* in mig_init, restore mode */
void mig_restore_finish(void);    /* reads the body; exits on failure */
/* mig_move.c: read what the agent sent (waiting up to 2 s for the command
 * when wait, i.e. after the trigger signal itself) and move if told to. */
void mig_move(const char *label, int wait);

#endif
