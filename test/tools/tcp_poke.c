/*
 * tcp_poke — a stranger at a successor's port, for
 * test/integration/64-successor-stranger.sh.
 *
 *   tcp_poke ADDR PORT junk           sends "junk\n"
 *   tcp_poke ADDR PORT token TOKEN    sends a stream opening with TOKEN
 *                                     (docs/MIGRATION.md, version 2: u8
 *                                     token length, token, then the header)
 *   tcp_poke ADDR PORT idle           sends nothing
 *
 * then waits (at most 40 s) until the successor closes the connection and
 * prints `closed after S s: ANSWER` (ANSWER: the first line it wrote, maybe
 * empty), or `open after 40 s`.  Exit 0 when it connected, 1 if not.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	unsigned char out[512];
	char in[512];
	size_t olen = 0, ilen = 0;
	double t0;
	int fd;

	if (argc < 4 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 ||
	    (strcmp(argv[3], "token") == 0 && argc < 5)) {
		fprintf(stderr, "usage: tcp_poke ADDR PORT junk|idle|token TOKEN\n");
		return 2;
	}
	sa.sin_port = htons((unsigned short)atoi(argv[2]));
	if (!strcmp(argv[3], "junk")) {
		memcpy(out, "junk\n", 5);
		olen = 5;
	} else if (!strcmp(argv[3], "token")) {
		size_t tl = strlen(argv[4]);

		if (tl > 255)
			return 2;
		out[0] = (unsigned char)tl;
		memcpy(out + 1, argv[4], tl);
		/* "RSMG" 2 'L' sizes flags, as a real source would go on */
		memcpy(out + 1 + tl, "RSMG\x02L\x04\x08\x08\x08\x04\x00", 12);
		olen = 1 + tl + 12;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		printf("connect: %s\n", strerror(errno));
		return 1;
	}
	t0 = now_s();
	if (olen && send(fd, out, olen, MSG_NOSIGNAL) != (ssize_t)olen)
		printf("send: %s\n", strerror(errno));
	in[0] = 0;
	while (now_s() - t0 < 40) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 200) <= 0)
			continue;
		r = recv(fd, in + ilen, sizeof(in) - 1 - ilen, 0);
		if (r > 0) {
			ilen += (size_t)r;
			in[ilen] = 0;
			if (ilen + 1 < sizeof(in))
				continue;
		}
		in[strcspn(in, "\n")] = 0;
		printf("closed after %.1f s: %s\n", now_s() - t0, in);
		return 0;
	}
	printf("open after 40 s\n");
	return 0;
}
