/* mig_net.c — TCP listen/accept/connect; see mig_net.h. */
#include "migrate/mig_net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

/* Socket buffers are left to the kernel's autotuning (setting SO_SNDBUF
 * or SO_RCVBUF turns it off and caps them at wmem_max/rmem_max).  Nagle is
 * off: the stream is large writes plus one-line answers ("go", "ok") that
 * would otherwise wait out a delayed ACK (40 ms). */
static void net_tune(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static int listen_on(int family, int *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), off = 0;

	if (fd < 0)
		return -1;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
		len = sizeof(struct sockaddr_in6);
	} else {
		len = sizeof(struct sockaddr_in);
	}
	net_tune(fd);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
		      ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

int mig_net_listen(int *port, char *err, size_t errlen)
{
	int fd = listen_on(AF_INET6, port);

	if (fd < 0)
		fd = listen_on(AF_INET, port);
	if (fd < 0)
		snprintf(err, errlen, "listen: %s", strerror(errno));
	return fd;
}

static int wait_fd(int fd, short ev, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		errno = ETIMEDOUT;
	return r > 0 ? 0 : -1;
}

int mig_net_accept(int lfd, int timeout_ms, char *err, size_t errlen)
{
	for (;;) {
		int fd;

		if (wait_fd(lfd, POLLIN, timeout_ms) < 0) {
			snprintf(err, errlen, "accept: %s", strerror(errno));
			return -1;
		}
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			net_tune(fd);
			return fd;
		}
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
			snprintf(err, errlen, "accept: %s", strerror(errno));
			return -1;
		}
	}
}

/* Split "host:port" / "[v6]:port" into host and port buffers. */
static int split_hostport(const char *hp, char *host, size_t hsz, char *port, size_t psz)
{
	const char *colon = strrchr(hp, ':');
	size_t hl;

	if (!colon || !colon[1] || strlen(colon + 1) >= psz)
		return -1;
	hl = (size_t)(colon - hp);
	if (hl >= 2 && hp[0] == '[' && hp[hl - 1] == ']') {
		hp++;
		hl -= 2;
	}
	if (hl == 0 || hl >= hsz)
		return -1;
	memcpy(host, hp, hl);
	host[hl] = 0;
	strcpy(port, colon + 1);
	return 0;
}

static int connect_one(const struct addrinfo *ai, int timeout_ms)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), e;
	socklen_t el = sizeof(e);

	if (fd < 0)
		return -1;
	net_tune(fd);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS || wait_fd(fd, POLLOUT, timeout_ms) < 0)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
		goto fail;
	if (e == 0)
		return fd;
	errno = e;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

int mig_net_connect(const char *hostport, int timeout_ms, char *err, size_t errlen)
{
	char host[256], port[16];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, r;

	if (split_hostport(hostport, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(err, errlen, "bad address \"%s\"", hostport);
		return -1;
	}
	r = getaddrinfo(host, port, &hints, &res);
	if (r != 0) {
		snprintf(err, errlen, "%s: %s", hostport, gai_strerror(r));
		return -1;
	}
	for (ai = res; ai && fd < 0; ai = ai->ai_next)
		fd = connect_one(ai, timeout_ms);
	if (fd < 0)
		snprintf(err, errlen, "connect %s: %s", hostport, strerror(errno));
	freeaddrinfo(res);
	return fd;
}
