/* mig_restore.c — the successor side: in restore mode mig_init listens,
 * accepts the source that presents the token and checks its header;
 * mig_restore_finish (first mig_restored / mig_poll) reads the state into
 * the protected memory, verifies it and acknowledges.  Every failure here
 * ends the process with MIG_EXIT_RESTORE: the source keeps running. */
#include "migrate/mig_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "migrate/mig_net.h"

static void __attribute__((noreturn)) restore_fail(const char *why)
{
	fprintf(stderr, "%s: libmigrate: restore failed: %s\n", mig_g.prog, why);
	exit(MIG_EXIT_RESTORE);
}

/* Best effort: tell the peer why it is refused. */
static void answer(int fd, const char *what, const char *why)
{
	char line[MIG_ERR_LEN + 8];
	int n = snprintf(line, sizeof(line), "%s%s%s\n", what, why ? " " : "",
			 why ? why : "");

	if (n > 0 && send(fd, line, strlen(line), MSG_NOSIGNAL) < 0)
		return;
}

static void write_portfile(int port)
{
	const char *path = getenv("RESCHED_RESTORE_PORTFILE");
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", port);

	if (path && *path && util_write_atomic(path, buf, (size_t)n, 0600) < 0)
		restore_fail("cannot write RESCHED_RESTORE_PORTFILE");
}

/* Accept until a peer presents the token and a good header.  Each peer has
 * MIG_TOKEN_WAIT_S (within the overall deadline) to send its token and the
 * header behind it; a peer without the token (silent, junk, wrong, cut
 * short) is answered "err ..." and closed, and the next one accepted.  Only
 * a peer that had the token can fail the restore. */
#define MIG_TOKEN_WAIT_S 3.0
static int accept_source(int lfd, const char *token, double deadline)
{
	char err[MIG_ERR_LEN];

	for (;;) {
		int left = (int)((deadline - util_now_s()) * 1000), fd, r;
		double tdl;

		if (left <= 0)
			restore_fail("timeout waiting for the source");
		fd = mig_net_accept(lfd, left, err, sizeof(err));
		if (fd < 0)
			restore_fail(err);
		mig_fdio_init(&mig_g.rio, fd, left);
		tdl = util_now_s() + MIG_TOKEN_WAIT_S;
		mig_g.rio.deadline = tdl < deadline ? tdl : deadline;
		r = mig_stream_recv_head(&mig_g.rio.io, token, &mig_g.rx, err, sizeof(err));
		mig_g.rio.deadline = 0;
		if (r == 0) {
			answer(fd, "go", NULL);
			return fd;
		}
		answer(fd, "err", err);
		close(fd);
		mig_rx_release(&mig_g.rx);
		if (r != MIG_BAD_TOKEN)
			restore_fail(err);
		fprintf(stderr, "%s: libmigrate: refused a connection: %s\n",
			mig_g.prog, err);
	}
}

int mig_restore_begin(void)
{
	const char *token = getenv("RESCHED_RESTORE_TOKEN");
	const char *job = getenv("RESCHED_JOB");
	double timeout = mig_env_num("RESCHED_RESTORE_TIMEOUT", 30);
	char err[MIG_ERR_LEN];
	int lfd, port;

	snprintf(mig_g.job, sizeof(mig_g.job), "%s", job ? job : "");
	if (!token || !*token || strlen(token) > MIG_TOKEN_MAX)
		restore_fail("bad RESCHED_RESTORE_TOKEN");
	snprintf(mig_g.claim_token, sizeof(mig_g.claim_token), "%s", token);
	lfd = mig_net_listen(&port, err, sizeof(err));
	if (lfd < 0)
		restore_fail(err);
	write_portfile(port);
	mig_local_ready(&mig_g.local, mig_g.job, port);
	mig_g.rfd = accept_source(lfd, token, util_now_s() + timeout);
	close(lfd);
	mig_g.rio.timeout_ms = (int)(timeout * 1000);
	mig_g.restore_pending = 1;
	mig_pending_ = 1;
	return 0;
}

void mig_restore_finish(void)
{
	char err[MIG_ERR_LEN];

	mig_g.restore_pending = 0;
	if (mig_stream_recv_body(&mig_g.rio.io, &mig_g.rx, &mig_g.table, err,
				 sizeof(err)) < 0) {
		answer(mig_g.rfd, "err", err);
		restore_fail(err);
	}
	answer(mig_g.rfd, "ok", NULL);
	close(mig_g.rfd);
	mig_g.rfd = -1;
	mig_rx_release(&mig_g.rx);
	mig_g.restored = 1;
	mig_register(mig_g.job[0] ? mig_g.job : "0", NULL);
}
