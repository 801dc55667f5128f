/*
 * mig_ctl — test driver for libmigrate: plays the agent's local side, small.
 *
 *   mig_ctl SOCKPATH
 *
 * Listens on the UNIX socket SOCKPATH (created; removed on exit).  Every
 * line a process sends is printed to stdout as `PID LINE` (PID from
 * SO_PEERCRED), `PID closed` when it goes; a `register` is answered with
 * `registered job=N`.  Commands on stdin, one a line:
 *
 *   migrate PID ADDR:PORT TOKEN [DEST]   send `migrate to= token= dest=` to
 *                                        PID and signal it (SIGUSR1)
 *   quit                                 exit
 *
 * Exits on `quit`, SIGTERM or SIGINT.  Not an agent: no registry, no
 * starting of successors (the test scripts do that).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/msg.h"

#define MAX_CLIENTS 32

struct client {
	int fd;
	pid_t pid;
	char buf[65536];
	size_t len;
};

static struct client clients[MAX_CLIENTS];
static volatile sig_atomic_t stop;
static int njobs;

static void on_stop(int sig)
{
	stop = 1;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "mig_ctl: socket path too long\n");
		exit(1);
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		fprintf(stderr, "mig_ctl: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

static void add_client(int lfd)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++) {
		if (clients[i].fd < 0) {
			getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len);
			clients[i].fd = fd;
			clients[i].pid = uc.pid;
			clients[i].len = 0;
			return;
		}
	}
	close(fd);
}

static void send_line(int fd, const char *type, const char *k1, const char *v1,
		      const char *k2, const char *v2, const char *k3, const char *v3)
{
	struct msg *m = msg_new(type);

	if (!m)
		return;
	if (k1)
		msg_set(m, k1, v1);
	if (k2)
		msg_set(m, k2, v2);
	if (k3)
		msg_set(m, k3, v3);
	if (msg_send_fd(fd, m) < 0)
		printf("ctl send failed: %s\n", strerror(errno));
	msg_free(m);
}

static void client_line(struct client *c, const char *line)
{
	char job[16];

	printf("%ld %s\n", (long)c->pid, line);
	if (!strncmp(line, "register ", 9)) {
		snprintf(job, sizeof(job), "%d", ++njobs);
		send_line(c->fd, "registered", "job", job, NULL, NULL, NULL, NULL);
	}
}

static void client_read(struct client *c)
{
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	char *nl;

	if (n <= 0) {
		printf("%ld closed\n", (long)c->pid);
		close(c->fd);
		c->fd = -1;
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = 0;
	while ((nl = strchr(c->buf, '\n'))) {
		*nl = 0;
		client_line(c, c->buf);
		c->len -= (size_t)(nl + 1 - c->buf);
		memmove(c->buf, nl + 1, c->len + 1);
	}
	if (c->len == sizeof(c->buf) - 1)
		c->len = 0;               /* a line too long for a test: drop it */
}

static void cmd_migrate(char *args)
{
	char *pid_s = strtok(args, " "), *to = strtok(NULL, " ");
	char *token = strtok(NULL, " "), *dest = strtok(NULL, " ");
	long pid = pid_s ? atol(pid_s) : 0;

	for (int i = 0; i < MAX_CLIENTS && to && token; i++) {
		if (clients[i].fd >= 0 && clients[i].pid == pid) {
			send_line(clients[i].fd, "migrate", "to", to, "token", token,
				  "dest", dest ? dest : to);
			kill((pid_t)pid, SIGUSR1);
			printf("ctl migrate %ld sent\n", pid);
			return;
		}
	}
	printf("ctl migrate %ld: no such client\n", pid);
}

/* One stdin command; 1 when told to quit. */
static int command(char *line)
{
	line[strcspn(line, "\n")] = 0;
	if (!strcmp(line, "quit"))
		return 1;
	if (!strncmp(line, "migrate ", 8))
		cmd_migrate(line + 8);
	else if (*line)
		printf("ctl unknown command: %s\n", line);
	return 0;
}

static int serve(int lfd)
{
	struct pollfd p[MAX_CLIENTS + 2];
	int in_open = 1;
	char line[1024];

	while (!stop) {
		int n = 0;

		p[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = in_open ? 0 : -1, .events = POLLIN };
		for (int i = 0; i < MAX_CLIENTS; i++)
			p[n++] = (struct pollfd){ .fd = clients[i].fd, .events = POLLIN };
		fflush(stdout);
		if (poll(p, (nfds_t)n, -1) < 0)
			continue;
		if (p[0].revents)
			add_client(lfd);
		if (p[1].revents) {
			if (!fgets(line, sizeof(line), stdin))
				in_open = 0;
			else if (command(line))
				return 0;
		}
		for (int i = 0; i < MAX_CLIENTS; i++) {
			if (clients[i].fd >= 0 && p[i + 2].revents)
				client_read(&clients[i]);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_stop };
	int lfd, rc;

	if (argc != 2 || !strcmp(argv[1], "--help")) {
		fprintf(argc == 2 ? stdout : stderr, "usage: mig_ctl SOCKPATH\n");
		return argc == 2 ? 0 : 2;
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		clients[i].fd = -1;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdin, NULL, _IONBF, 0);
	lfd = listen_unix(argv[1]);
	rc = serve(lfd);
	unlink(argv[1]);
	fflush(stdout);
	return rc;
}
