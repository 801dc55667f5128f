/*
 * conn.h — one agent <-> registry connection on a libevent loop: greeting,
 * handshake, framing, MACs and the msg codec (docs/PROTOCOL.md), used by
 * both daemons.  Not thread-safe: use a conn only from its loop's thread.
 *
 * Life of a conn:
 *   conn_new / conn_connect  sends our greeting at once, arms a handshake
 *                            timer (CONN_HANDSHAKE_MS)
 *   handshake                greetings, then (with a key) proofs; nothing
 *                            from the peer reaches on_msg before it is done
 *   ready                    each verified, decoded message goes to on_msg;
 *                            messages given to conn_send before this point
 *                            are queued and sent, in order, now
 *   end                      on any error (malformed, oversized, replayed,
 *                            reordered or altered frame, bad greeting or
 *                            proof, timeout, EOF, socket error) the conn
 *                            calls on_close ONCE with the reason and frees
 *                            itself after on_close returns.  Rejections
 *                            (everything but a clean end after the
 *                            handshake) are logged with log_warnx as
 *                            "PEER: reason".
 *
 * Ownership: a message passed to on_msg belongs to the callback (it frees
 * it with msg_free).  conn_send copies what it needs.  The auth_key must
 * outlive every conn that uses it.  conn_close may be called anywhere,
 * callbacks included; it frees the conn without calling on_close and drops
 * output not yet written.  After on_close, or after conn_close, the
 * pointer is dead.
 */
#ifndef RESCHED_CONN_H
#define RESCHED_CONN_H

#include <event2/event.h>
#include <event2/util.h>
#include <sys/socket.h>

#include "common/auth.h"
#include "common/frame.h"
#include "common/msg.h"

#define CONN_HANDSHAKE_MS 5000            /* greeting + proof must finish */
#define CONN_OUT_MAX (16 * 1024 * 1024)  /* unsent bytes before we give up */
#define CONN_ERR_LEN 256
/* Before the peer has proved its key (docs/TRUST.md, "Bounds"): */
#define CONN_PREAUTH_MAX 4096             /* input bytes buffered */
#define CONN_PREAUTH_FRAME_MAX 512        /* one frame's payload */
#define CONN_PREAUTH_CONNS 1024           /* per listener; the oldest goes */
/* listen(2) backlog (the kernel caps it at net.core.somaxconn): 10,000
 * agents coming back after a registry restart, or a flood, must not fill
 * libevent's default of 128 and push real agents into SYN retries. */
#define CONN_BACKLOG 4096

enum conn_role {
	CONN_AGENT = FRAME_ROLE_AGENT,        /* the side that connects */
	CONN_REGISTRY = FRAME_ROLE_REGISTRY,  /* the side that accepts */
};

struct conn;
struct conn_listener;

typedef void (*conn_msg_cb)(struct conn *c, struct msg *m, void *arg);
typedef void (*conn_close_cb)(struct conn *c, const char *reason, void *arg);
typedef void (*conn_ready_cb)(struct conn *c, void *arg);
/* fd: an accepted socket (non-blocking, CLOEXEC) that passed the listener's
 * checks; the callback owns it (conn_new it, or close it). */
typedef void (*conn_accept_cb)(struct conn_listener *l, evutil_socket_t fd,
			       const char *peer, void *arg);

/* Take over a connected socket (it is closed when the conn ends, and on
 * failure here).  key NULL: unauthenticated.  NULL on no memory. */
struct conn *conn_new(struct event_base *base, evutil_socket_t fd,
		      enum conn_role role, const struct auth_key *key,
		      conn_msg_cb on_msg, conn_close_cb on_close, void *arg);

/* Connect to "ADDR:PORT" ("1.2.3.4:7227", "[::1]:7227", "host:7227").
 * Returns the conn at once (a refused connect arrives as on_close), or NULL
 * with the reason in err when the address is bad or no socket can be made. */
struct conn *conn_connect(struct event_base *base, const char *addr_port,
			  enum conn_role role, const struct auth_key *key,
			  conn_msg_cb on_msg, conn_close_cb on_close, void *arg,
			  char *err, size_t errlen);

/* Optional: called once when the handshake is done. */
void conn_set_ready_cb(struct conn *c, conn_ready_cb on_ready);
/* Re-arm the handshake timer (ms > 0); no effect once ready. */
void conn_set_handshake_timeout(struct conn *c, int ms);

/* Frame and send m (queued until the handshake is done).  0, or -1 when
 * the conn is ending, m does not encode, or the peer is not reading
 * (CONN_OUT_MAX unsent bytes: the conn then ends with that reason). */
int conn_send(struct conn *c, const struct msg *m);
void conn_close(struct conn *c);
/* Stop reading, send what is queued, then end the conn (on_close is
 * called, with reason "closed by us"); after ms without the peer reading,
 * end it anyway.  Messages sent meanwhile are still written. */
void conn_close_flush(struct conn *c, int ms);

int conn_is_ready(const struct conn *c);
const char *conn_peer(const struct conn *c);   /* "ADDR:PORT"; owned by c */
enum conn_role conn_role(const struct conn *c);

/* The host an agent proved the key of (registry side, after the
 * handshake), or NULL: no key, or the cluster key itself (--shared-key). */
const char *conn_auth_host(const struct conn *c);

/* Registry side of an accepted socket: conn_new with the listener's key
 * and key mode, counted among the listener's connections awaiting
 * authentication.  When CONN_PREAUTH_CONNS are waiting, the oldest of them
 * is ended first.  NULL on no memory (fd is closed). */
struct conn *conn_accept(struct conn_listener *l, evutil_socket_t fd,
			 conn_msg_cb on_msg, conn_close_cb on_close, void *arg);

/* Listen on "ADDR:PORT" (port 0 picks one).  Without a key only root of
 * this machine gets in: peers that are not loopback, and loopback peers
 * whose socket the kernel says is not root's, are closed at once with a
 * log line.  With a key (a cluster key), an agent proves the key of the
 * host its greeting names; conn_listener_set_shared_key(l, 1) accepts the
 * cluster key itself from an agent that names no host.  NULL + err on
 * error. */
struct conn_listener *conn_listen(struct event_base *base, const char *addr_port,
				  const struct auth_key *key, conn_accept_cb cb,
				  void *arg, char *err, size_t errlen);
void conn_listener_set_shared_key(struct conn_listener *l, int on);
int conn_listener_port(const struct conn_listener *l);  /* -1 on error */
void conn_listener_free(struct conn_listener *l);       /* NULL is fine */

/* 1 if sa is 127.0.0.0/8, ::1, ::ffff:127.x.y.z or a UNIX socket. */
int conn_peer_is_loopback(const struct sockaddr *sa, socklen_t len);
/* "ADDR:PORT" for sa into buf (at least 64 bytes). */
const char *conn_fmt_addr(const struct sockaddr *sa, char *buf, size_t size);

#endif
