/*
 * mig_net.h — TCP for the state transfer: a listener on an ephemeral port of
 * every address (IPv6 dual-stack, IPv4 fallback), accept and connect with
 * timeouts.  Returned sockets are CLOEXEC and non-blocking, with large
 * socket buffers and Nagle left on (bulk transfer); the caller closes them.
 * Errors: -1 with a reason in err.
 */
#ifndef RESCHED_MIG_NET_H
#define RESCHED_MIG_NET_H

#include <stddef.h>


/* Listen on port 0 of all addresses; *port gets the port chosen. */
int mig_net_listen(int *port, char *err, size_t errlen);
/* Accept one connection within timeout_ms (< 0: forever). */
int mig_net_accept(int lfd, int timeout_ms, char *err, size_t errlen);
/* Connect to "HOST:PORT" or "[V6]:PORT" within timeout_ms. */
int mig_net_connect(const char *hostport, int timeout_ms, char *err, size_t errlen);

#endif
