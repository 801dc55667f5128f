/* mig_move.c — the source side of a move: at a poll point after the trigger,
 * read the agent's `migrate` command, send the state, wait for the ack.
 * Success ends the process; any failure returns to the program with its
 * state untouched and reports `result ok=0`. */
#include "migrate/mig_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "migrate/mig_net.h"

#define CMD_WAIT_MS 2000          /* the command follows the signal closely */

struct move {
	const char *to, *token, *dest, *label;
	double t0;                    /* trigger, monotonic seconds */
	double t_poll, t_conn, t_sent, t_ack;
	uint64_t bytes;
	char err[MIG_ERR_LEN];
};

static double trigger_s(void)
{
	double t = (double)mig_trigger_ts.tv_sec + mig_trigger_ts.tv_nsec / 1e9;

	return t > 0 ? t : util_now_s();
}

/* The pending `migrate` command (caller frees), or NULL.  Without wait only
 * the lines already there are read.  A command taken at a wake-up by its
 * line (O_ASYNC) is followed by the agent's signal: that one does not wait
 * again. */
static int cmd_taken;
static struct msg *read_command(int wait)
{
	double end = util_now_s() + (wait && !cmd_taken ? CMD_WAIT_MS / 1000.0 : 0);
	char err[MSG_ERR_LEN];

	if (wait)
		cmd_taken = 0;

	while (mig_local_up(&mig_g.local)) {
		int left = (int)((end - util_now_s()) * 1000);
		struct msg *m = mig_local_recv(&mig_g.local, left > 0 ? left : 0,
					       err, sizeof(err));

		if (!m)
			return NULL;
		if (!strcmp(msg_type(m), "migrate")) {
			cmd_taken = !wait;
			return m;
		}
		if (!strcmp(msg_type(m), "registered") && msg_get(m, "job"))
			snprintf(mig_g.job, sizeof(mig_g.job), "%s", msg_get(m, "job"));
		msg_free(m);
	}
	return NULL;
}

static void progress(struct move *mv, const char *phase)
{
	mig_local_progress(&mig_g.local, phase, util_now_s() - mv->t0, mv->bytes,
			   mv->label);
}

static void result(struct move *mv, int ok)
{
	struct msg *m = msg_new("result");
	double tc = mv->t_conn ? mv->t_conn : mv->t_poll;
	double ts = mv->t_sent ? mv->t_sent : tc;

	if (!m)
		return;
	msg_set(m, "ok", ok ? "1" : "0");
	msg_set(m, "reason", mv->err);
	msg_setf(m, "poll_s", "%.6f", mv->t_poll - mv->t0);
	msg_setf(m, "connect_s", "%.6f", tc - mv->t_poll);
	msg_setf(m, "transfer_s", "%.6f", ts - tc);
	msg_setf(m, "restore_s", "%.6f", mv->t_ack ? mv->t_ack - ts : 0.0);
	msg_setf(m, "bytes", "%llu", (unsigned long long)mv->bytes);
	mig_local_send(&mig_g.local, m);
	msg_free(m);
}

/* A send failed: the successor may have said why before it closed. */
static void late_answer(struct mig_fdio *io, struct move *mv)
{
	char line[256], err[MIG_ERR_LEN];

	if (!strncmp(mv->err, "destination refused", 19))
		return;
	io->timeout_ms = 200;
	if (mig_stream_answer(&io->io, line, sizeof(line), err, sizeof(err)) < 0 &&
	    !strncmp(err, "destination refused", 19))
		memcpy(mv->err, err, sizeof(err));
}

static int send_state(int fd, struct move *mv)
{
	struct mig_fdio io;
	char line[256];
	const char *corrupt = getenv("RESCHED_TEST_CORRUPT_AT");
	int timeout = (int)(mig_env_num("RESCHED_MIGRATE_TIMEOUT", 60) * 1000);

	mig_fdio_init(&io, fd, timeout);
	if (corrupt)
		io.corrupt_at = atoll(corrupt);
	if (mig_stream_send(&io.io, &mig_g.table, mv->token, &mv->bytes,
			    mv->err, sizeof(mv->err)) < 0) {
		late_answer(&io, mv);
		return -1;
	}
	mv->t_sent = util_now_s();
	progress(mv, "send");
	if (mig_stream_answer(&io.io, line, sizeof(line), mv->err, sizeof(mv->err)) < 0)
		return -1;
	mv->t_ack = util_now_s();
	return 0;
}

static int move_run(struct move *mv)
{
	int timeout = (int)(mig_env_num("RESCHED_CONNECT_TIMEOUT", 10) * 1000);
	int fd, rc;

	if (!mv->to || !mv->token) {
		snprintf(mv->err, sizeof(mv->err), "bad migrate command");
		return -1;
	}
	fd = mig_net_connect(mv->to, timeout, mv->err, sizeof(mv->err));
	if (fd < 0)
		return -1;
	mv->t_conn = util_now_s();
	progress(mv, "connect");
	rc = send_state(fd, mv);
	close(fd);
	if (rc == 0)
		progress(mv, "verify");
	return rc;
}

static void move_done(struct move *mv)
{
	snprintf(mv->err, sizeof(mv->err), "migrated to %s", mv->dest);
	progress(mv, "done");
	result(mv, 1);
	mig_local_exit(&mig_g.local, "migrated", 0);
	mig_local_close(&mig_g.local);
	mig_g.migrated = 1;
	exit(0);
}

void mig_move(const char *label, int wait)
{
	struct msg *cmd = read_command(wait);
	struct move mv = { 0 };

	if (!cmd)
		return;
	mv.to = msg_get(cmd, "to");
	mv.token = msg_get(cmd, "token");
	mv.dest = msg_get(cmd, "dest") ? msg_get(cmd, "dest") : mv.to;
	mv.label = label;
	mv.t0 = trigger_s();
	mv.t_poll = util_now_s();
	progress(&mv, "poll");
	if (move_run(&mv) == 0)
		move_done(&mv);
	mig_seterr("migration failed: %s", mv.err);
	result(&mv, 0);
	msg_free(cmd);
}
