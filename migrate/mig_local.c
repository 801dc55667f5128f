/* mig_local.c — the process side of the local protocol; see mig_local.h. */
#include "migrate/mig_local.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int mig_local_open(struct mig_local *l, char *err, size_t errlen)
{
	const char *run = getenv("RESCHED_RUN");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n;

	l->fd = -1;
	l->rb = (struct msg_rbuf)MSG_RBUF_INIT;
	l->refused[0] = 0;
	n = snprintf(l->path, sizeof(l->path), "%s/agent.sock",
		     run && *run ? run : MIG_RUN_DEFAULT);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path) || (size_t)n >= sizeof(l->path)) {
		snprintf(err, errlen, "socket path too long");
		return -1;
	}
	memcpy(sa.sun_path, l->path, (size_t)n + 1);
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->fd < 0 || connect(l->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		mig_local_close(l);
		return -1;
	}
	return 0;
}

int mig_local_async(struct mig_local *l, int signo)
{
	int fl;

	if (l->fd < 0 || (fl = fcntl(l->fd, F_GETFL)) < 0)
		return -1;
	if (signo <= 0)
		return fcntl(l->fd, F_SETFL, fl & ~O_ASYNC);
	if (fcntl(l->fd, F_SETOWN, getpid()) < 0 || fcntl(l->fd, F_SETSIG, signo) < 0)
		return -1;
	return fcntl(l->fd, F_SETFL, fl | O_ASYNC);
}

void mig_local_close(struct mig_local *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	msg_rbuf_free(&l->rb);
}

int mig_local_up(const struct mig_local *l)
{
	return l->fd >= 0;
}

/* 1 (and the reason kept) if m is the agent's `refused` line. */
static int is_refusal(struct mig_local *l, const struct msg *m)
{
	const char *why = msg_get(m, "reason");

	if (strcmp(msg_type(m), "refused") != 0)
		return 0;
	snprintf(l->refused, sizeof(l->refused), "%s", why && *why ? why : "no reason given");
	return 1;
}

/* A send failed: the agent may have said why before it closed. */
static void last_words(struct mig_local *l)
{
	char err[MSG_ERR_LEN];
	struct msg *m;

	while ((m = msg_recv_fd(l->fd, &l->rb, 0, err, sizeof(err)))) {
		int done = is_refusal(l, m);

		msg_free(m);
		if (done)
			break;
	}
}

int mig_local_send(struct mig_local *l, const struct msg *m)
{
	if (l->fd < 0)
		return -1;
	if (msg_send_fd(l->fd, m) == 0)
		return 0;
	last_words(l);
	mig_local_close(l);
	return -1;
}

struct msg *mig_local_recv(struct mig_local *l, int timeout_ms, char *err,
			   size_t errlen)
{
	struct msg *m;

	if (l->fd < 0) {
		snprintf(err, errlen, "closed");
		return NULL;
	}
	m = msg_recv_fd(l->fd, &l->rb, timeout_ms, err, errlen);
	if (m && is_refusal(l, m)) {
		msg_free(m);
		m = NULL;
		snprintf(err, errlen, "refused: %s", l->refused);
	}
	if (!m && strcmp(err, "timeout") != 0)
		mig_local_close(l);
	return m;
}

/* Send m and free it; a NULL m (allocation failed) is an error. */
static int send_free(struct mig_local *l, struct msg *m, int ok)
{
	int rc = ok && m ? mig_local_send(l, m) : -1;

	msg_free(m);
	return rc;
}

static int reg_args(struct msg *m, const struct mig_reg_info *ri)
{
	char key[32];

	if (msg_setf(m, "argc", "%d", ri->argc) < 0)
		return -1;
	for (int i = 0; i < ri->argc; i++) {
		snprintf(key, sizeof(key), "arg%d", i);
		if (msg_set(m, key, ri->argv[i]) < 0)
			return -1;
	}
	return 0;
}

int mig_local_register(struct mig_local *l, const struct mig_reg_info *ri)
{
	struct msg *m = msg_new("register");
	char cwd[PATH_MAX], exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int ok = m != NULL;

	if (n < 0)
		n = 0;
	exe[n] = 0;
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = 0;
	ok = ok && msg_setf(m, "pid", "%ld", (long)getpid()) == 0 &&
	     msg_set(m, "prog", n ? exe : ri->argv[0]) == 0 &&
	     msg_set(m, "cwd", cwd) == 0 && reg_args(m, ri) == 0 &&
	     msg_setf(m, "start", "%.0f", ri->start) == 0;
	if (ok && ri->schema)
		ok = msg_set(m, "schema", ri->schema) == 0;
	if (ok && ri->job)
		ok = msg_set(m, "job", ri->job) == 0 &&
		     msg_set(m, ri->again ? "again" : "restored", "1") == 0;
	if (ok && ri->job && ri->token && ri->token[0])
		ok = msg_set(m, "token", ri->token) == 0;
	if (ok && ri->mpi_ns)
		ok = msg_set(m, "mpi_ns", ri->mpi_ns) == 0 &&
		     msg_setf(m, "mpi_rank", "%d", ri->mpi_rank) == 0 &&
		     msg_setf(m, "mpi_size", "%d", ri->mpi_size) == 0;
	if (ok && ri->mpi_hosts)
		ok = msg_set(m, "mpi_hosts", ri->mpi_hosts) == 0;
	return send_free(l, m, ok);
}

int mig_local_ready(struct mig_local *l, const char *job, int port)
{
	struct msg *m = msg_new("ready");
	int ok = m && msg_set(m, "job", job) == 0 && msg_setf(m, "port", "%d", port) == 0;

	return send_free(l, m, ok);
}

int mig_local_progress(struct mig_local *l, const char *phase, double t,
		       uint64_t bytes, const char *label)
{
	struct msg *m = msg_new("progress");
	int ok = m && msg_set(m, "phase", phase) == 0 &&
		 msg_setf(m, "t", "%.6f", t) == 0 &&
		 msg_setf(m, "bytes", "%llu", (unsigned long long)bytes) == 0;

	if (ok && label)
		ok = msg_set(m, "label", label) == 0;
	return send_free(l, m, ok);
}

int mig_local_exit(struct mig_local *l, const char *status, int code)
{
	struct msg *m = msg_new("exit");
	int ok = m && msg_set(m, "status", status) == 0 &&
		 msg_setf(m, "code", "%d", code) == 0;

	return send_free(l, m, ok);
}
