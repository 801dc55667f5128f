/* conn.c — see conn.h. */
#include "common/conn.h"
#include "common/log.h"
#include "common/peercred.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

enum conn_state { ST_GREETING, ST_PROOF, ST_READY, ST_DEAD };

/* A message queued before the handshake finished. */
struct conn_pend {
	struct conn_pend *next;
	size_t len;
	char line[];
};

struct conn {
	struct bufferevent *bev;
	struct event *timer;              /* handshake deadline */
	char role;                        /* ours: FRAME_ROLE_* */
	char peer_role;
	const struct auth_key *key;       /* NULL: unauthenticated */
	enum conn_state st;
	unsigned char nonce[FRAME_NONCE_LEN], peer_nonce[FRAME_NONCE_LEN];
	unsigned char *skey;              /* NULL, or skey_buf once derived */
	/* The session key lives in the conn itself, not in sodium_malloc's
	 * guarded pages: those cost 3 mappings, 2 touched pages and mprotect
	 * calls per connection, which at 10,000 agents dominated the
	 * registry's memory and handshake time.  Wiped in conn_free. */
	unsigned char skey_buf[FRAME_KEY_LEN];
	uint64_t tx_seq, rx_seq;
	struct conn_pend *pend, **pend_tail;
	conn_msg_cb on_msg;
	conn_close_cb on_close;
	conn_ready_cb on_ready;
	void *arg;
	int in_cb;                        /* > 0 while inside our callbacks */
	int closing;                      /* conn_close_flush: end once written */
	int shared_ok;                    /* registry: the cluster key itself
	                                   * is accepted for any host */
	/* registry side: the host an agent's greeting named, whose key
	 * (derived from the cluster key) the handshake runs with */
	struct auth_key hkey;
	char auth_host[FRAME_HOST_MAX];
	/* accepted conns awaiting authentication, oldest first */
	struct conn_listener *lst;
	struct conn *pprev, *pnext;
	char peer[96];
};

struct conn_listener {
	struct evconnlistener *lev;
	const struct auth_key *key;
	int shared_ok;
	conn_accept_cb cb;
	void *arg;
	struct conn *phead, *ptail;       /* pre-auth conns, oldest first */
	size_t npending;
	unsigned long drops;              /* dropped since the last log line */
	double drop_logged;               /* util_now_s() of that line */
};

/* ---- addresses ---------------------------------------------------------- */

int conn_peer_is_loopback(const struct sockaddr *sa, socklen_t len)
{
	if (sa->sa_family == AF_UNIX)
		return 1;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;

		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
		const uint8_t *b = s6->sin6_addr.s6_addr;

		if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) && b[12] == 127;
	}
	return 0;
}

const char *conn_fmt_addr(const struct sockaddr *sa, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s:%u", host, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, size, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, size, "%s", sa->sa_family == AF_UNIX ? "local" : "?");
	}
	return buf;
}

/* Resolve "ADDR:PORT" (numeric first, then getaddrinfo). */
static int resolve(const char *addr_port, struct sockaddr_storage *ss, int *len,
		   char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	char host[256];
	const char *colon = strrchr(addr_port, ':');
	size_t hl;
	int rc;

	*len = (int)sizeof(*ss);
	if (evutil_parse_sockaddr_port(addr_port, (struct sockaddr *)ss, len) == 0)
		return 0;
	hl = colon ? (size_t)(colon - addr_port) : 0;
	if (!colon || hl == 0 || hl >= sizeof(host) || !colon[1]) {
		util_set_err(err, errlen, "bad address '%.100s' (want ADDR:PORT)", addr_port);
		return -1;
	}
	memcpy(host, addr_port, hl);
	host[hl] = '\0';
	rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc != 0) {
		util_set_err(err, errlen, "%.100s: %s", addr_port, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = (int)res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* ---- the listener's pre-auth list ---------------------------------------- */

static void pending_unlink(struct conn *c)
{
	struct conn_listener *l = c->lst;

	if (!l)
		return;
	if (c->pprev)
		c->pprev->pnext = c->pnext;
	else
		l->phead = c->pnext;
	if (c->pnext)
		c->pnext->pprev = c->pprev;
	else
		l->ptail = c->pprev;
	c->pprev = c->pnext = NULL;
	c->lst = NULL;
	l->npending--;
}

static void pending_link(struct conn_listener *l, struct conn *c)
{
	c->lst = l;
	c->pnext = NULL;
	c->pprev = l->ptail;
	if (l->ptail)
		l->ptail->pnext = c;
	else
		l->phead = c;
	l->ptail = c;
	l->npending++;
}

/* ---- teardown ----------------------------------------------------------- */

static void conn_free(struct conn *c)
{
	struct conn_pend *p, *n;

	pending_unlink(c);

	for (p = c->pend; p; p = n) {
		n = p->next;
		free(p);
	}
	if (c->timer)
		event_free(c->timer);
	if (c->bev)
		bufferevent_free(c->bev);
	sodium_memzero(c->skey_buf, sizeof(c->skey_buf));
	sodium_memzero(c->nonce, sizeof(c->nonce));
	sodium_memzero(&c->hkey, sizeof(c->hkey));
	free(c);
}

/* Leave our callback: free a conn that died inside it. */
static void conn_leave(struct conn *c)
{
	if (--c->in_cb == 0 && c->st == ST_DEAD)
		conn_free(c);
}

/* Best effort, during the handshake: flush what we queued (our greeting
 * and proof) and tell the peer why we hang up, so it can log the reason. */
static void conn_tell_peer(struct conn *c, const char *reason)
{
	char line[FRAME_GREETING_MAX];
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	int n = snprintf(line, sizeof(line), "ERROR %.100s\n", reason);

	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t len = evbuffer_get_length(out);
	const unsigned char *p = evbuffer_pullup(out, -1);  /* front is frozen */

	if (len && (!p || send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len))
		return;
	if (n > 0)
		(void)!send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Rejections are logged at most CONN_LOG_PER_S a second (per process: a
 * flood of bad peers must not turn into a flood of log lines and the CPU
 * they cost); the rest are counted and summarized once a second has
 * passed.  Conns live on one loop thread per process, but the counters are
 * shared, hence the lock. */
#define CONN_LOG_PER_S 20
static pthread_mutex_t rej_mu = PTHREAD_MUTEX_INITIALIZER;
static double rej_window;
static unsigned long rej_logged, rej_quiet;

static void log_rejection(const char *peer, const char *reason)
{
	double now = util_now_s();
	unsigned long quiet = 0;
	int log_it;

	pthread_mutex_lock(&rej_mu);
	if (now - rej_window >= 1.0) {
		quiet = rej_quiet;
		rej_window = now;
		rej_logged = rej_quiet = 0;
	}
	log_it = rej_logged < CONN_LOG_PER_S;
	if (log_it)
		rej_logged++;
	else
		rej_quiet++;
	pthread_mutex_unlock(&rej_mu);
	if (quiet)
		log_warnx("%lu more rejected connections were not logged", quiet);
	if (log_it)
		log_warnx("%s: %s", peer, reason);
}

/* End the conn: log (if a rejection), on_close once, free when safe. */
static void conn_end(struct conn *c, int reject, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void conn_end(struct conn *c, int reject, const char *fmt, ...)
{
	char reason[CONN_ERR_LEN];
	va_list ap;

	if (c->st == ST_DEAD)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (reject)
		log_rejection(c->peer, reason);
	if (reject && c->st != ST_READY && strncmp(reason, "peer says", 9) != 0)
		conn_tell_peer(c, reason);
	else
		log_debug("%s: %s", c->peer, reason);
	c->st = ST_DEAD;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	c->in_cb++;
	if (c->on_close)
		c->on_close(c, reason, c->arg);
	conn_leave(c);
}

void conn_close(struct conn *c)
{
	if (!c || c->st == ST_DEAD)
		return;
	c->st = ST_DEAD;
	if (c->in_cb == 0)
		conn_free(c);
	else
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
}

/* Output drained after conn_close_flush: end quietly. */
static void conn_writecb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (!c->closing)
		return;
	c->in_cb++;
	conn_end(c, 0, "closed by us");
	conn_leave(c);
}

void conn_close_flush(struct conn *c, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (!c || c->st == ST_DEAD || c->closing)
		return;
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		c->in_cb++;
		conn_end(c, 0, "closed by us");
		conn_leave(c);
		return;
	}
	evtimer_add(c->timer, &tv);      /* a peer that does not read */
}

/* ---- sending ------------------------------------------------------------ */

static int conn_write_frame(struct conn *c, const char *line, size_t len)
{
	char hdr[FRAME_HDR_MAX];
	size_t hl = frame_header(hdr, c->skey, c->role, c->tx_seq, line, len);
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (hl == 0)
		return -1;
	if (evbuffer_get_length(out) + hl + len > CONN_OUT_MAX) {
		conn_end(c, 1, "peer is not reading (%d bytes unsent)", CONN_OUT_MAX);
		return -1;
	}
	if (bufferevent_write(c->bev, hdr, hl) < 0 ||
	    bufferevent_write(c->bev, line, len) < 0) {
		conn_end(c, 1, "out of memory");
		return -1;
	}
	c->tx_seq++;
	return 0;
}

static int conn_queue(struct conn *c, const char *line, size_t len)
{
	struct conn_pend *p = malloc(sizeof(*p) + len);

	if (!p)
		return -1;
	p->next = NULL;
	p->len = len;
	memcpy(p->line, line, len);
	*c->pend_tail = p;
	c->pend_tail = &p->next;
	return 0;
}

int conn_send(struct conn *c, const struct msg *m)
{
	size_t len;
	char *line;
	int rc;

	if (!c || c->st == ST_DEAD)
		return -1;
	line = msg_encode(m, &len);
	if (!line)
		return -1;
	if (c->st == ST_READY)
		rc = conn_write_frame(c, line, len);
	else
		rc = conn_queue(c, line, len);
	free(line);
	return rc;
}

/* Handshake done: send what was queued, tell the owner. */
static void conn_become_ready(struct conn *c)
{
	struct conn_pend *p;

	c->st = ST_READY;
	evtimer_del(c->timer);
	pending_unlink(c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, FRAME_HDR_MAX + FRAME_MAX);
	log_debug("%s: connected (%s)", c->peer, c->key ? "hmac-sha256" : "no auth");
	while ((p = c->pend) && c->st == ST_READY) {
		c->pend = p->next;
		conn_write_frame(c, p->line, p->len);
		free(p);
	}
	if (!c->pend)
		c->pend_tail = &c->pend;
	if (c->st == ST_READY && c->on_ready)
		c->on_ready(c, c->arg);
}

static int conn_send_proof(struct conn *c)
{
	unsigned char proof[FRAME_MAC_LEN];
	char hex[2 * FRAME_MAC_LEN + 1];
	struct msg *m = msg_new("auth");
	size_t len;
	char *line;
	int rc = -1;

	auth_proof(c->key, c->role, c->peer_nonce, c->nonce, proof);
	frame_hex(proof, sizeof(proof), hex);
	if (m && msg_set(m, "proof", hex) == 0 && (line = msg_encode(m, &len))) {
		rc = conn_write_frame(c, line, len);
		free(line);
	}
	msg_free(m);
	return rc;
}

/* ---- receiving ---------------------------------------------------------- */

/* Greeting checks once the peer's line parsed. */
static int conn_check_greeting(struct conn *c, const struct frame_greeting *g)
{
	if (g->role == c->role) {
		conn_end(c, 1, "peer is also %s", frame_role_name(g->role));
		return -1;
	}
	if (c->key && !g->auth) {
		conn_end(c, 1, "peer offers auth=none but we require a key");
		return -1;
	}
	if (!c->key && g->auth) {
		conn_end(c, 1, "peer requires a key but we have none");
		return -1;
	}
	if (c->role != FRAME_ROLE_REGISTRY || !c->key)
		return 0;
	if (g->host[0]) {
		/* the agent holds host g->host's key: run the handshake with it */
		if (auth_host_derive(c->key, g->host, &c->hkey) < 0) {
			conn_end(c, 1, "bad host name in the greeting");
			return -1;
		}
		snprintf(c->auth_host, sizeof(c->auth_host), "%s", g->host);
		c->key = &c->hkey;
	} else if (!c->shared_ok) {
		conn_end(c, 1, "the agent names no host: this registry takes host "
			 "keys only (resched-key host NAME), not the cluster key "
			 "(reschedfs --shared-key)");
		return -1;
	}
	return 0;
}

static int conn_start_auth(struct conn *c)
{
	const unsigned char *an = c->role == FRAME_ROLE_AGENT ? c->nonce : c->peer_nonce;
	const unsigned char *rn = c->role == FRAME_ROLE_AGENT ? c->peer_nonce : c->nonce;
	unsigned char *k = auth_session_key(c->key, an, rn);

	if (!k) {
		conn_end(c, 1, "out of memory");
		return -1;
	}
	memcpy(c->skey_buf, k, sizeof(c->skey_buf));
	auth_session_free(k);
	c->skey = c->skey_buf;
	c->st = ST_PROOF;
	return conn_send_proof(c);
}

/* 1 consumed the greeting, 0 need more, -1 ended. */
static int conn_step_greeting(struct conn *c, struct evbuffer *in)
{
	size_t avail = evbuffer_get_length(in), n = avail < FRAME_GREETING_MAX ? avail : FRAME_GREETING_MAX;
	const char *buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
	struct frame_greeting g;
	char err[CONN_ERR_LEN];
	int rc = frame_greeting_parse(buf, n, &g, err, sizeof(err));

	if (rc == FRAME_NEED_MORE)
		return 0;
	if (rc == FRAME_ERROR) {
		conn_end(c, 1, "%s", err);
		return -1;
	}
	evbuffer_drain(in, g.line_len);
	if (conn_check_greeting(c, &g) < 0)
		return -1;
	c->peer_role = g.role;
	memcpy(c->peer_nonce, g.nonce, sizeof(g.nonce));
	if (!c->key) {
		conn_become_ready(c);
		return c->st == ST_DEAD ? -1 : 1;
	}
	return conn_start_auth(c) < 0 ? -1 : 1;
}

/* The peer's first frame must be its proof. */
static void conn_check_proof(struct conn *c, const struct msg *m)
{
	const char *hex = msg_get(m, "proof");
	unsigned char proof[FRAME_MAC_LEN];

	if (strcmp(msg_type(m), "auth") != 0 || !hex ||
	    strlen(hex) != 2 * FRAME_MAC_LEN ||
	    frame_unhex(hex, FRAME_MAC_LEN, proof) < 0) {
		conn_end(c, 1, "expected the peer's proof, got '%s'", msg_type(m));
		return;
	}
	if (auth_proof_check(c->key, c->peer_role, c->nonce, c->peer_nonce, proof) < 0) {
		conn_end(c, 1, "bad proof: the peer does not hold our key");
		return;
	}
	conn_become_ready(c);
}

static void conn_dispatch(struct conn *c, struct msg *m)
{
	if (c->st == ST_PROOF) {
		conn_check_proof(c, m);
		msg_free(m);
	} else if (strcmp(msg_type(m), "auth") == 0) {
		conn_end(c, 1, "auth message after the handshake");
		msg_free(m);
	} else {
		c->on_msg(c, m, c->arg);  /* m is the callback's */
	}
}

/* Take the (complete) frame described by h out of in, verify, decode. */
static int conn_take_frame(struct conn *c, struct evbuffer *in,
			   const struct frame_hdr *h)
{
	char err[CONN_ERR_LEN];
	char *payload = malloc(h->len);
	struct msg *m = NULL;

	if (!payload) {
		conn_end(c, 1, "out of memory");
		return -1;
	}
	evbuffer_drain(in, h->hdr_len);
	evbuffer_remove(in, payload, h->len);
	if (frame_verify(c->skey, c->peer_role, c->rx_seq, h, payload, err, sizeof(err)) == 0)
		m = msg_decode(payload, h->len, err, sizeof(err));
	free(payload);
	if (!m) {
		conn_end(c, 1, "%s", err);
		return -1;
	}
	c->rx_seq++;
	conn_dispatch(c, m);
	return c->st == ST_DEAD ? -1 : 1;
}

/* Length of the text up to '\n' in s[0..n), capped for a log line. */
static int line_len(const char *s, size_t n)
{
	const char *nl = memchr(s, '\n', n);
	size_t l = nl ? (size_t)(nl - s) : n;

	return l > 100 ? 100 : (int)l;
}

/* 1 consumed a frame, 0 need more, -1 ended. */
static int conn_step_frame(struct conn *c, struct evbuffer *in)
{
	size_t avail = evbuffer_get_length(in), n = avail < FRAME_HDR_MAX ? avail : FRAME_HDR_MAX;
	const char *buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
	struct frame_hdr h;
	char err[CONN_ERR_LEN];
	int rc;

	if (avail == 0)
		return 0;
	rc = frame_parse_header(buf, n, &h, err, sizeof(err));
	if (rc == FRAME_NEED_MORE)
		return 0;
	if (rc == FRAME_ERROR) {
		if (n > 6 && memcmp(buf, "ERROR ", 6) == 0)
			conn_end(c, 1, "peer says: %.*s", line_len(buf + 6, n - 6), buf + 6);
		else
			conn_end(c, 1, "%s", err);
		return -1;
	}
	if (c->st != ST_READY && h.len > CONN_PREAUTH_FRAME_MAX) {
		conn_end(c, 1, "frame of %zu bytes before the handshake is done "
			 "(at most %d)", h.len, CONN_PREAUTH_FRAME_MAX);
		return -1;
	}
	if (avail < h.hdr_len + h.len)
		return 0;  /* the payload is not all here yet; header is checked */
	return conn_take_frame(c, in, &h);
}

static void conn_readcb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	int rc = 1;

	c->in_cb++;
	while (rc > 0 && c->st != ST_DEAD) {
		if (c->st == ST_GREETING)
			rc = conn_step_greeting(c, in);
		else
			rc = conn_step_frame(c, in);
	}
	conn_leave(c);
}

static void conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	int ready = c->st == ST_READY;

	if (what & BEV_EVENT_CONNECTED)
		return;
	c->in_cb++;
	if (what & BEV_EVENT_EOF)
		conn_end(c, !ready, "peer closed the connection%s",
			 ready ? "" : " during the handshake");
	else if (what & BEV_EVENT_ERROR)
		conn_end(c, !ready, "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	conn_leave(c);
}

static void conn_timeoutcb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	c->in_cb++;
	if (c->closing)
		conn_end(c, 0, "closed by us (the peer did not read)");
	else
		conn_end(c, 1, "handshake timed out");
	conn_leave(c);
}

/* ---- setup -------------------------------------------------------------- */

static struct conn *conn_alloc(struct event_base *base, evutil_socket_t fd,
			       enum conn_role role, const struct auth_key *key,
			       conn_msg_cb on_msg, conn_close_cb on_close, void *arg)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->role = (char)role;
	c->key = key;
	c->on_msg = on_msg;
	c->on_close = on_close;
	c->arg = arg;
	c->pend_tail = &c->pend;
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(base, conn_timeoutcb, c);
	if (!c->bev || !c->timer || (key && auth_init() < 0)) {
		conn_free(c);
		return NULL;
	}
	bufferevent_setcb(c->bev, conn_readcb, conn_writecb, conn_eventcb, c);
	/* Until the peer has proved its key it gets CONN_PREAUTH_MAX bytes of
	 * our memory: reading stops there (and the handshake timer ends it). */
	bufferevent_setwatermark(c->bev, EV_READ, 0, CONN_PREAUTH_MAX);
	return c;
}

/* Send our greeting, arm the timer, start reading. */
static int conn_start(struct conn *c)
{
	char line[FRAME_GREETING_MAX];
	size_t n;

	if (c->key)
		auth_nonce(c->nonce);
	n = frame_greeting_build(line, c->role, c->key ? c->nonce : NULL,
				 c->role == FRAME_ROLE_AGENT && c->key ? c->key->host : NULL);
	if (n == 0 || bufferevent_write(c->bev, line, n) < 0)
		return -1;
	conn_set_handshake_timeout(c, CONN_HANDSHAKE_MS);
	return bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void conn_sock_opts(evutil_socket_t fd)
{
	int one = 1;

	evutil_make_socket_nonblocking(fd);
	evutil_make_socket_closeonexec(fd);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

struct conn *conn_new(struct event_base *base, evutil_socket_t fd,
		      enum conn_role role, const struct auth_key *key,
		      conn_msg_cb on_msg, conn_close_cb on_close, void *arg)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct conn *c;

	conn_sock_opts(fd);
	c = conn_alloc(base, fd, role, key, on_msg, on_close, arg);
	if (!c) {
		evutil_closesocket(fd);
		return NULL;
	}
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
		conn_fmt_addr((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
	else
		snprintf(c->peer, sizeof(c->peer), "fd %d", (int)fd);
	if (conn_start(c) < 0) {
		conn_free(c);
		return NULL;
	}
	return c;
}

struct conn *conn_connect(struct event_base *base, const char *addr_port,
			  enum conn_role role, const struct auth_key *key,
			  conn_msg_cb on_msg, conn_close_cb on_close, void *arg,
			  char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct conn *c;
	int len, fd;

	if (resolve(addr_port, &ss, &len, err, errlen) < 0)
		return NULL;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		util_set_err(err, errlen, "socket: %s", strerror(errno));
		return NULL;
	}
	conn_sock_opts(fd);
	c = conn_alloc(base, fd, role, key, on_msg, on_close, arg);
	if (!c) {
		close(fd);
		util_set_err(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(c->peer, sizeof(c->peer), "%.90s", addr_port);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&ss, len) < 0 ||
	    conn_start(c) < 0) {
		util_set_err(err, errlen, "connect %.100s: %s", addr_port, strerror(errno));
		conn_free(c);
		return NULL;
	}
	return c;
}

void conn_set_ready_cb(struct conn *c, conn_ready_cb on_ready) { c->on_ready = on_ready; }

void conn_set_handshake_timeout(struct conn *c, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (c->st == ST_GREETING || c->st == ST_PROOF)
		evtimer_add(c->timer, &tv);
}

const char *conn_auth_host(const struct conn *c)
{
	return c->auth_host[0] ? c->auth_host : NULL;
}

struct conn *conn_accept(struct conn_listener *l, evutil_socket_t fd,
			 conn_msg_cb on_msg, conn_close_cb on_close, void *arg)
{
	struct conn *c;

	while (l->npending >= CONN_PREAUTH_CONNS && l->phead) {
		struct conn *old = l->phead;

		/* one line a second at most, however hard the flood */
		if (++l->drops && util_now_s() - l->drop_logged >= 1.0) {
			log_warnx("%lu connection%s dropped: %d were awaiting "
				  "authentication (the oldest goes first)", l->drops,
				  l->drops == 1 ? "" : "s", CONN_PREAUTH_CONNS);
			l->drops = 0;
			l->drop_logged = util_now_s();
		}
		pending_unlink(old);
		old->in_cb++;
		conn_end(old, 1, "dropped: %d connections are awaiting "
			 "authentication, this was the oldest", CONN_PREAUTH_CONNS);
		conn_leave(old);
	}
	c = conn_new(l->lev ? evconnlistener_get_base(l->lev) : NULL, fd,
		     CONN_REGISTRY, l->key, on_msg, on_close, arg);
	if (!c)
		return NULL;
	c->shared_ok = l->shared_ok;
	pending_link(l, c);
	return c;
}

void conn_listener_set_shared_key(struct conn_listener *l, int on)
{
	l->shared_ok = on;
}

int conn_is_ready(const struct conn *c) { return c->st == ST_READY; }
const char *conn_peer(const struct conn *c) { return c->peer; }
enum conn_role conn_role(const struct conn *c) { return (enum conn_role)c->role; }

/* ---- listener ----------------------------------------------------------- */

static void conn_acceptcb(struct evconnlistener *lev, evutil_socket_t fd,
			  struct sockaddr *sa, int socklen, void *arg)
{
	struct conn_listener *l = arg;
	char peer[96];

	conn_fmt_addr(sa, peer, sizeof(peer));
	if (!l->key && !conn_peer_is_loopback(sa, (socklen_t)socklen)) {
		log_rejection(peer, "refused: not a loopback peer and no --key");
		evutil_closesocket(fd);
		return;
	}
	if (!l->key && sa->sa_family != AF_UNIX) {
		/* No key: only root of this machine.  The kernel tells us who
		 * owns the peer's end of a loopback connection. */
		char e[128], why[200];
		uid_t uid;

		if (peercred_tcp_uid(fd, &uid, e, sizeof(e)) < 0) {
			snprintf(why, sizeof(why), "refused: cannot tell who the peer "
				 "is (%s) and no --key", e);
			log_rejection(peer, why);
			evutil_closesocket(fd);
			return;
		}
		if (uid != 0) {
			snprintf(why, sizeof(why), "refused: uid %u is not root and "
				 "there is no --key", (unsigned)uid);
			log_rejection(peer, why);
			evutil_closesocket(fd);
			return;
		}
	}
	conn_sock_opts(fd);
	l->cb(l, fd, peer, l->arg);
}

struct conn_listener *conn_listen(struct event_base *base, const char *addr_port,
				  const struct auth_key *key, conn_accept_cb cb,
				  void *arg, char *err, size_t errlen)
{
	struct conn_listener *l = calloc(1, sizeof(*l));
	struct sockaddr_storage ss;
	int len;

	if (!l) {
		util_set_err(err, errlen, "out of memory");
		return NULL;
	}
	l->key = key;
	l->cb = cb;
	l->arg = arg;
	if (resolve(addr_port, &ss, &len, err, errlen) < 0)
		goto fail;
	l->lev = evconnlistener_new_bind(base, conn_acceptcb, l,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
					 LEV_OPT_CLOSE_ON_EXEC, CONN_BACKLOG,
					 (struct sockaddr *)&ss, len);
	if (!l->lev) {
		util_set_err(err, errlen, "listen %.100s: %s", addr_port, strerror(errno));
		goto fail;
	}
	return l;
fail:
	free(l);
	return NULL;
}

int conn_listener_port(const struct conn_listener *l)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	evutil_socket_t fd = evconnlistener_get_fd(l->lev);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)(void *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)(void *)&ss)->sin6_port);
	return -1;
}

void conn_listener_free(struct conn_listener *l)
{
	if (!l)
		return;
	evconnlistener_free(l->lev);
	free(l);
}
