/* peercred.c — see peercred.h. */
#include "common/peercred.h"
#include "common/util.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Address and port of sa into the diag id's src (peer) or dst (local). */
static int put_addr(const struct sockaddr_storage *ss, __be32 addr[4],
		    __be16 *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)ss;

		addr[0] = a->sin_addr.s_addr;
		*port = a->sin_port;
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)ss;

		memcpy(addr, &a->sin6_addr, 16);
		*port = a->sin6_port;
		return 0;
	}
	return -1;
}

int peercred_tcp_uid(int fd, uid_t *uid, char *err, size_t errlen)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req;
	struct sockaddr_storage local, peer;
	socklen_t ll = sizeof(local), pl = sizeof(peer);
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	struct timeval tv = { 1, 0 };
	union {
		struct nlmsghdr h;
		char buf[8192];
	} ans;
	ssize_t n;
	int s, rc = -1;

	if (getsockname(fd, (struct sockaddr *)&local, &ll) < 0 ||
	    getpeername(fd, (struct sockaddr *)&peer, &pl) < 0) {
		util_set_err(err, errlen, "%s", strerror(errno));
		return -1;
	}
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;   /* one socket, not a dump */
	req.r.sdiag_family = (__u8)peer.ss_family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0U;
	/* The peer's socket: its source is the peer's address, its
	 * destination ours.  A v4-mapped pair on an AF_INET6 socket is looked
	 * up among AF_INET sockets by the kernel itself. */
	if (put_addr(&peer, req.r.id.idiag_src, &req.r.id.idiag_sport) < 0 ||
	    put_addr(&local, req.r.id.idiag_dst, &req.r.id.idiag_dport) < 0) {
		util_set_err(err, errlen, "not a TCP/IP socket");
		return -1;
	}
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (s < 0) {
		util_set_err(err, errlen, "sock_diag: %s", strerror(errno));
		return -1;
	}
	(void)setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(s, &req, sizeof(req), 0, (struct sockaddr *)&nl, sizeof(nl)) < 0) {
		util_set_err(err, errlen, "sock_diag: %s", strerror(errno));
		goto out;
	}
	n = recv(s, &ans, sizeof(ans), 0);
	if (n < 0) {
		util_set_err(err, errlen, "sock_diag: %s", strerror(errno));
		goto out;
	}
	for (struct nlmsghdr *h = &ans.h; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);

			util_set_err(err, errlen, "sock_diag: %s",
				     strerror(e->error ? -e->error : ENOENT));
			goto out;
		}
		if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
		    h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
			const struct inet_diag_msg *d = NLMSG_DATA(h);

			/* the answer must be the socket we asked for */
			if (d->id.idiag_sport != req.r.id.idiag_sport ||
			    d->id.idiag_dport != req.r.id.idiag_dport) {
				util_set_err(err, errlen, "sock_diag answered for another socket");
				goto out;
			}
			*uid = (uid_t)d->idiag_uid;
			rc = 0;
			goto out;
		}
	}
	util_set_err(err, errlen, "sock_diag: no answer");
out:
	close(s);
	return rc;
}
