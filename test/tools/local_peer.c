/*
 * local_peer — an attacker (or a liar) on the agent's local socket
 * (docs/LOCAL-PROTOCOL.md), for test/integration/63-local-bounds.sh.
 *
 *   local_peer SOCK flood N          open up to N connections at once; after
 *                                    1 s print `open=K refused=R` (R: closed by
 *                                    the agent, after a `refused` line or not)
 *                                    and `reason=...` of the first refusal
 *   local_peer SOCK partial N BYTES  N connections, each sends BYTES bytes
 *                                    of a line that never ends; prints
 *                                    `open=K refused=R` 1 s after the last
 *   local_peer SOCK idle [BYTES]     one connection that sends BYTES (0)
 *                                    bytes without a newline, then nothing;
 *                                    prints `closed after S s: LINE` when the
 *                                    agent closes it (exit 1 after 60 s)
 *   local_peer SOCK lie PROG [K=V..] sends `register` with its own pid but
 *                                    prog=PROG cwd=/ (and K=V...) by hand;
 *                                    prints every line the agent answers
 *                                    for 2 s
 *
 * flood, partial and lie then print `holding` and keep their connections
 * until killed.  Plain C, no libmigrate: it speaks the protocol by hand.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/msg.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read what is there without waiting: 1 if the agent has closed (line, if
 * any, in buf), 0 if the connection is still open. */
static int peer_closed(int fd, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = 0;
	for (;;) {
		ssize_t r = recv(fd, buf + n, size - 1 - n, MSG_DONTWAIT);

		if (r > 0) {
			n += (size_t)r;
			buf[n] = 0;
			if (n + 1 >= size)
				return 0;
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			return 1;
		return 0;
	}
}

static void hold(void)
{
	printf("holding\n");
	fflush(stdout);
	for (;;)
		pause();
}

static void more_files(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Count the connections still open and the first refusal line. */
static void report(int *fds, int n)
{
	char buf[512], first[512] = "";
	int open = 0, refused = 0;

	for (int i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		if (peer_closed(fds[i], buf, sizeof(buf))) {
			if (!first[0] && buf[0])
				snprintf(first, sizeof(first), "%s", buf);
			close(fds[i]);
			fds[i] = -1;
			refused++;
		} else {
			open++;
		}
	}
	first[strcspn(first, "\n")] = 0;
	printf("open=%d refused=%d\nfirst=%s\n", open, refused, first);
	fflush(stdout);
}

static int flood(const char *path, int n, size_t bytes)
{
	int *fds = calloc((size_t)n, sizeof(int));
	char *junk = bytes ? malloc(bytes) : NULL;

	if (!fds || (bytes && !junk))
		return 1;
	if (junk)
		memset(junk, 'a', bytes);
	more_files();
	for (int i = 0; i < n; i++) {
		fds[i] = dial(path);
		for (size_t off = 0; fds[i] >= 0 && off < bytes;) {
			ssize_t w = send(fds[i], junk + off, bytes - off, MSG_NOSIGNAL);

			if (w <= 0)
				break;
			off += (size_t)w;
		}
	}
	sleep(1);
	report(fds, n);
	free(junk);
	hold();
	return 0;
}

static int idle(const char *path, size_t bytes)
{
	int fd = dial(path);
	double t0 = now_s();
	char buf[512];

	if (fd < 0) {
		perror("local_peer: connect");
		return 1;
	}
	for (size_t i = 0; i < bytes; i++)
		if (send(fd, "r", 1, MSG_NOSIGNAL) != 1)
			break;
	buf[0] = 0;
	while (now_s() - t0 < 60) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		size_t have = strlen(buf);
		int closed;

		poll(&p, 1, 200);
		if (!p.revents)
			continue;
		closed = peer_closed(fd, buf + have, sizeof(buf) - have);
		if (closed) {
			buf[strcspn(buf, "\n")] = 0;
			printf("closed after %.1f s: %s\n", now_s() - t0, buf);
			return 0;
		}
	}
	printf("still open after 60 s\n");
	return 1;
}

static int lie(const char *path, const char *prog, int nkv, char **kv)
{
	struct msg *m = msg_new("register");
	struct msg_rbuf rb = MSG_RBUF_INIT;
	char err[MSG_ERR_LEN];
	double t0 = now_s();
	int fd = dial(path);

	if (fd < 0 || !m) {
		perror("local_peer: connect");
		return 1;
	}
	msg_setf(m, "pid", "%ld", (long)getpid());
	msg_set(m, "prog", prog);
	msg_set(m, "cwd", "/");
	msg_set(m, "argc", "1");
	msg_set(m, "arg0", "liar");
	msg_setf(m, "start", "%ld", (long)time(NULL));
	for (int i = 0; i < nkv; i++) {
		char *eq = strchr(kv[i], '=');

		if (eq) {
			*eq = 0;
			msg_set(m, kv[i], eq + 1);
		}
	}
	if (msg_send_fd(fd, m) < 0) {
		perror("local_peer: send");
		return 1;
	}
	msg_free(m);
	while (now_s() - t0 < 2) {
		struct msg *r = msg_recv_fd(fd, &rb, 100, err, sizeof(err));
		char *line;

		if (!r) {
			if (strcmp(err, "timeout") != 0) {
				printf("closed: %s\n", err);
				fflush(stdout);
				break;
			}
			continue;
		}
		line = msg_encode(r, NULL);
		printf("%s", line ? line : "?\n");
		fflush(stdout);
		free(line);
		msg_free(r);
	}
	hold();
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 4 && !strcmp(argv[2], "flood"))
		return flood(argv[1], atoi(argv[3]), 0);
	if (argc >= 5 && !strcmp(argv[2], "partial"))
		return flood(argv[1], atoi(argv[3]), (size_t)atol(argv[4]));
	if (argc >= 3 && !strcmp(argv[2], "idle"))
		return idle(argv[1], argc >= 4 ? (size_t)atol(argv[3]) : 0);
	if (argc >= 4 && !strcmp(argv[2], "lie"))
		return lie(argv[1], argv[3], argc - 4, argv + 4);
	fprintf(stderr, "usage: local_peer SOCK flood N | partial N BYTES | idle [BYTES] | lie PROG\n");
	return 2;
}
