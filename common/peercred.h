/*
 * peercred.h — who is at the other end of a local connection, as the
 * kernel says (docs/TRUST.md).  For a TCP connection between two sockets of
 * this machine (loopback), the peer's socket is looked up by its exact
 * four-tuple through sock_diag (NETLINK_SOCK_DIAG, inet_diag), which
 * reports the uid that created it: the same answer `ss -tpe` gives, and
 * one the peer cannot choose.
 */
#ifndef RESCHED_PEERCRED_H
#define RESCHED_PEERCRED_H

#include <stddef.h>
#include <sys/types.h>

/* fd: a connected TCP socket whose peer is on this machine.  *uid gets
 * the owner of the peer's socket.  0, or -1 with the reason in err (the
 * peer is gone, or is not a socket of this network namespace). */
int peercred_tcp_uid(int fd, uid_t *uid, char *err, size_t errlen);

#endif
