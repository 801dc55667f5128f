/*
 * poll_events EVENTS_FILE TIMEOUT_MS — a test helper: open the events
 * stream non-blocking, read away the backlog, then poll(2) for new lines
 * and print the first read.  Exit 0 when poll reported POLLIN and a read
 * returned data, 1 otherwise (with the reason on stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[65536];
	struct pollfd pfd;
	ssize_t n;
	int fd, r;

	if (argc != 3) {
		fprintf(stderr, "usage: poll_events EVENTS_FILE TIMEOUT_MS\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_NONBLOCK);
	if (fd < 0) {
		perror("poll_events: open");
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n < 0 && errno != EAGAIN) {
		perror("poll_events: read backlog");
		return 1;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	r = poll(&pfd, 1, atoi(argv[2]));
	if (r <= 0 || !(pfd.revents & POLLIN)) {
		fprintf(stderr, "poll_events: poll gave %d revents %#x\n", r,
			pfd.revents);
		return 1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0) {
		fprintf(stderr, "poll_events: read after POLLIN gave %zd\n", n);
		return 1;
	}
	buf[n] = '\0';
	fputs(buf, stdout);
	close(fd);
	return 0;
}
