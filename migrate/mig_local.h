/*
 * mig_local.h — libmigrate's side of the local protocol with its agent
 * (docs/LOCAL-PROTOCOL.md): a UNIX stream socket at $RESCHED_RUN/agent.sock
 * (default /run/resched), one common/msg.h line per message, blocking.
 * A struct mig_local owns its socket and read buffer.  When a send fails
 * the socket is closed and later sends are no-ops (the program keeps
 * running; it just cannot migrate any more).  An agent that will not keep
 * the connection says why in one line `refused reason=...` before it
 * closes; whichever call meets that line (a receive, or a failed send that
 * finds it still readable) closes the socket and keeps the reason in
 * `refused`.
 */
#ifndef RESCHED_MIG_LOCAL_H
#define RESCHED_MIG_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/msg.h"

#define MIG_RUN_DEFAULT "/run/resched"

struct mig_local {
	int fd;                       /* -1: no agent */
	struct msg_rbuf rb;
	char path[256];               /* socket path tried */
	char refused[256];            /* the agent's reason, when it refused us */
};

/* Connect to the agent socket; -1 with a reason in err when there is none. */
int mig_local_open(struct mig_local *l, char *err, size_t errlen);
/* signo > 0: the kernel sends signo when the socket becomes readable or the
 * agent closes it (O_ASYNC, F_SETSIG), so a poll point notices an agent
 * restart without a system call of its own; 0: off.  0 or -1. */
int mig_local_async(struct mig_local *l, int signo);
void mig_local_close(struct mig_local *l);
int mig_local_up(const struct mig_local *l);
/* Send m (not freed); 0 or -1 (then the socket is closed). */
int mig_local_send(struct mig_local *l, const struct msg *m);
/* Next message within timeout_ms, caller frees; NULL with reason in err
 * ("timeout", "closed", "refused: REASON", ...); on anything but a timeout
 * the socket closes. */
struct msg *mig_local_recv(struct mig_local *l, int timeout_ms, char *err,
			   size_t errlen);

/* Message builders + send, each 0 or -1. */
struct mig_reg_info {
	int argc;
	char **argv;
	double start;                 /* epoch seconds */
	const char *schema;           /* XML or NULL */
	const char *job;              /* restored successor: its job, else NULL */
	int again;                    /* with job: re-announce after the agent
	                                 restarted (`again=1`, not `restored=1`) */
	const char *token;            /* with job: a successor's proof, the
	                                 token of the move it came by, or NULL */
	const char *mpi_ns;           /* an MPI rank: its job's namespace, else
	                                 NULL; with mpi_rank, mpi_size */
	int mpi_rank, mpi_size;
	const char *mpi_hosts;        /* an MPI rank: the hosts its job can
	                                 spawn on, comma-separated, or NULL */
};
int mig_local_register(struct mig_local *l, const struct mig_reg_info *ri);
int mig_local_ready(struct mig_local *l, const char *job, int port);
int mig_local_progress(struct mig_local *l, const char *phase, double t,
		       uint64_t bytes, const char *label);
int mig_local_exit(struct mig_local *l, const char *status, int code);

#endif
