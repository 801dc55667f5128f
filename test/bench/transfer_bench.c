/*
 * transfer_bench.c — libmigrate's state transfer alone, between two
 * processes (on two namespaced hosts in test/bench/transfer.sh): one
 * protected array of SIZE bytes sent with the real stream code
 * (mig_stream_send / recv_head / recv_body) over the real TCP transport.
 *
 *   transfer_bench recv PORTFILE SIZE_MB     listen, write the port, receive
 *   transfer_bench send ADDR:PORT SIZE_MB    connect, send, wait for "ok"
 *   transfer_bench rawrecv / rawsend ...     the same memory over plain
 *       send(2)/recv(2), no stream format, no checksum: the second baseline
 *       (iperf3 resends one cache-hot buffer; a migration must read its
 *       whole state from memory and write it into fresh memory)
 *
 * The sender prints  transfer size_mb=N seconds=S mb_per_s=R  where the
 * time runs from connect to the receiver's final "ok" (checksum verified).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/util.h"
#include "migrate/mig_io.h"
#include "migrate/mig_net.h"
#include "migrate/mig_stream.h"
#include "migrate/mig_table.h"
#include "migrate/migrate.h"

#define TOKEN "bench-token"
#define TIMEOUT_MS 60000

static void *state_alloc(size_t size, int fill)
{
	unsigned char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	for (size_t i = 0; i < size; i += 4096)
		p[i] = fill ? (unsigned char)(i >> 12) : 0;
	return p;
}

static void table_of(struct mig_table *t, void *addr, size_t size)
{
	struct mig_entry e;
	char err[256];

	memset(&e, 0, sizeof(e));
	snprintf(e.name, sizeof(e.name), "payload");
	e.type = MIG_BYTES;
	e.addr = addr;
	e.count = size;
	mig_table_init(t);
	if (mig_table_add(t, &e, err, sizeof(err)) < 0) {
		fprintf(stderr, "transfer_bench: %s\n", err);
		exit(1);
	}
}

static int do_recv(const char *portfile, size_t size)
{
	struct mig_table t;
	struct mig_fdio io;
	struct mig_rx rx;
	char err[256];
	int port = 0, lfd, fd;
	FILE *f;

	table_of(&t, state_alloc(size, 0), size);
	lfd = mig_net_listen(&port, err, sizeof(err));
	if (lfd < 0)
		goto fail;
	f = fopen(portfile, "w");
	if (!f)
		return 1;
	fprintf(f, "%d\n", port);
	fclose(f);
	fd = mig_net_accept(lfd, TIMEOUT_MS, err, sizeof(err));
	if (fd < 0)
		goto fail;
	mig_fdio_init(&io, fd, TIMEOUT_MS);
	if (mig_stream_recv_head(&io.io, TOKEN, &rx, err, sizeof(err)) != 0 ||
	    io.io.write(&io.io, "go\n", 3, err, sizeof(err)) < 0 ||
	    mig_stream_recv_body(&io.io, &rx, &t, err, sizeof(err)) < 0 ||
	    io.io.write(&io.io, "ok\n", 3, err, sizeof(err)) < 0)
		goto fail;
	mig_rx_release(&rx);
	sleep(1); /* let the sender read "ok" before the socket closes */
	return 0;
fail:
	fprintf(stderr, "transfer_bench recv: %s\n", err);
	return 1;
}

static int do_send(const char *addr, size_t size)
{
	struct mig_table t;
	struct mig_fdio io;
	char err[256], line[256];
	uint64_t bytes = 0;
	double t0;
	int fd;

	table_of(&t, state_alloc(size, 1), size);
	t0 = util_now_s();
	fd = mig_net_connect(addr, TIMEOUT_MS, err, sizeof(err));
	if (fd < 0)
		goto fail;
	mig_fdio_init(&io, fd, TIMEOUT_MS);
	if (mig_stream_send(&io.io, &t, TOKEN, &bytes, err, sizeof(err)) < 0 ||
	    mig_stream_answer(&io.io, line, sizeof(line), err, sizeof(err)) < 0)
		goto fail;
	{
		double s = util_now_s() - t0;

		printf("transfer size_mb=%zu seconds=%.4f mb_per_s=%.1f\n",
		       size >> 20, s, (double)bytes / 1e6 / s);
	}
	return 0;
fail:
	fprintf(stderr, "transfer_bench send: %s\n", err);
	return 1;
}

/* Plain TCP of the same memory: the cost of moving these bytes at all. */
static int raw_loop(int fd, unsigned char *p, size_t size, int sending)
{
	char err[256];

	for (size_t off = 0; off < size;) {
		size_t n = size - off < MIG_CHUNK ? size - off : MIG_CHUNK;
		ssize_t r = sending ? send(fd, p + off, n, MSG_NOSIGNAL)
				    : recv(fd, p + off, n, 0);

		if (r > 0) {
			off += (size_t)r;
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
			snprintf(err, sizeof(err), "%s", r == 0 ? "closed" : strerror(errno));
			fprintf(stderr, "transfer_bench raw: %s\n", err);
			return -1;
		}
		struct pollfd pfd = { fd, sending ? POLLOUT : POLLIN, 0 };
		poll(&pfd, 1, TIMEOUT_MS);
	}
	return 0;
}

static int do_raw(const char *where, size_t size, int sending)
{
	char err[256];
	int port = 0, fd, lfd;
	double t0;
	unsigned char *p = state_alloc(size, sending), ack = 1;
	FILE *f;

	if (!sending) {
		lfd = mig_net_listen(&port, err, sizeof(err));
		if (lfd < 0 || !(f = fopen(where, "w")))
			return 1;
		fprintf(f, "%d\n", port);
		fclose(f);
		fd = mig_net_accept(lfd, TIMEOUT_MS, err, sizeof(err));
		if (fd < 0 || raw_loop(fd, p, size, 0) < 0 || raw_loop(fd, &ack, 1, 1) < 0)
			return 1;
		sleep(1);
		return 0;
	}
	t0 = util_now_s();
	fd = mig_net_connect(where, TIMEOUT_MS, err, sizeof(err));
	if (fd < 0 || raw_loop(fd, p, size, 1) < 0 || raw_loop(fd, &ack, 1, 0) < 0)
		return 1;
	printf("raw size_mb=%zu seconds=%.4f mb_per_s=%.1f\n", size >> 20,
	       util_now_s() - t0, (double)size / 1e6 / (util_now_s() - t0));
	return 0;
}

int main(int argc, char **argv)
{
	size_t size;

	if (argc != 4) {
		fprintf(stderr, "usage: transfer_bench recv PORTFILE MB | send ADDR:PORT MB\n");
		return 2;
	}
	size = (size_t)strtoul(argv[3], NULL, 10) << 20;
	if (!strcmp(argv[1], "recv"))
		return do_recv(argv[2], size);
	if (!strcmp(argv[1], "send"))
		return do_send(argv[2], size);
	if (!strcmp(argv[1], "rawrecv"))
		return do_raw(argv[2], size, 0);
	if (!strcmp(argv[1], "rawsend"))
		return do_raw(argv[2], size, 1);
	return 2;
}
