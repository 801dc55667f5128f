/* Unit tests for common/conn.c over real loopback TCP in one event loop:
 * handshakes, refusals, and hostile raw sockets that must close only their
 * own connection. */
#include "common/conn.h"
#include "common/peercred.h"
#include "test/unit/unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct side {
	struct conn *c;
	int ready, closed, nmsg;
	char reason[CONN_ERR_LEN];
	char last[64];           /* type and n of the last message */
};

struct world {
	struct event_base *base;
	struct conn_listener *l;
	const struct auth_key *skey;  /* the registry's */
	struct side srv[4];
	int nsrv;
	int hs_ms;                    /* handshake timeout for accepted conns */
	char addr[64];
};

static void on_msg(struct conn *c, struct msg *m, void *arg)
{
	struct side *s = arg;
	const char *n = msg_get(m, "n");

	s->nmsg++;
	snprintf(s->last, sizeof(s->last), "%s %s", msg_type(m), n ? n : "");
	if (strcmp(msg_type(m), "ping") == 0 && conn_role(c) == CONN_REGISTRY) {
		struct msg *r = msg_new("pong");

		msg_set(r, "n", n ? n : "");
		conn_send(c, r);
		msg_free(r);
	}
	msg_free(m);
}

static void on_close(struct conn *c, const char *reason, void *arg)
{
	struct side *s = arg;

	s->closed = 1;
	s->c = NULL;
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
}

static void on_ready(struct conn *c, void *arg)
{
	((struct side *)arg)->ready = 1;
}

static void on_accept(struct conn_listener *l, evutil_socket_t fd,
		      const char *peer, void *arg)
{
	struct world *w = arg;
	struct side *s;

	if (w->nsrv >= 4) {
		close(fd);
		return;
	}
	s = &w->srv[w->nsrv++];
	s->c = conn_accept(l, fd, on_msg, on_close, s);
	if (s->c) {
		conn_set_ready_cb(s->c, on_ready);
		if (w->hs_ms)
			conn_set_handshake_timeout(s->c, w->hs_ms);
	}
}

static int world_init(struct world *w, const struct auth_key *skey)
{
	char err[CONN_ERR_LEN];

	memset(w, 0, sizeof(*w));
	w->skey = skey;
	w->base = event_base_new();
	if (!w->base)
		return -1;
	w->l = conn_listen(w->base, "127.0.0.1:0", skey, on_accept, w, err, sizeof(err));
	if (!w->l)
		return -1;
	conn_listener_set_shared_key(w->l, 1);   /* the tests below share a key */
	snprintf(w->addr, sizeof(w->addr), "127.0.0.1:%d", conn_listener_port(w->l));
	return 0;
}

static void world_free(struct world *w)
{
	for (int i = 0; i < w->nsrv; i++)
		conn_close(w->srv[i].c);
	conn_listener_free(w->l);
	if (w->base)
		event_base_free(w->base);
}

/* Run the loop until *flag is set or ms pass; returns *flag. */
static int run_until(struct world *w, const int *flag, int ms)
{
	struct timeval tick = { 0, 5000 };

	for (int i = 0; i < ms / 5 && !*flag; i++) {
		event_base_loopexit(w->base, &tick);
		event_base_dispatch(w->base);
	}
	return *flag;
}

/* Run the loop until *count >= want or ms pass. */
static int run_count(struct world *w, const int *count, int want, int ms)
{
	int done = 0;

	for (int i = 0; i < ms / 5 && *count < want; i++)
		run_until(w, &done, 5);
	return *count >= want;
}

static struct conn *client(struct world *w, const struct auth_key *k, struct side *s)
{
	char err[CONN_ERR_LEN];

	memset(s, 0, sizeof(*s));
	s->c = conn_connect(w->base, w->addr, CONN_AGENT, k, on_msg, on_close, s,
			    err, sizeof(err));
	if (s->c)
		conn_set_ready_cb(s->c, on_ready);
	return s->c;
}

static int ping(struct side *s, int n)
{
	struct msg *m = msg_new("ping");
	int rc;

	msg_setf(m, "n", "%d", n);
	rc = conn_send(s->c, m);
	msg_free(m);
	return rc;
}

TEST(conn_handshake_same_key_and_messages)
{
	struct auth_key *k = auth_key_from_bytes("cluster secret", 14);
	struct auth_key *k2 = auth_key_from_bytes("cluster secret", 14);
	struct world w;
	struct side cl;

	CHECK(k && k2 && world_init(&w, k) == 0);
	CHECK(client(&w, k2, &cl));
	CHECK(ping(&cl, 1) == 0);  /* queued before the handshake */
	CHECK(ping(&cl, 2) == 0);
	CHECK(run_count(&w, &cl.nmsg, 2, 1000));
	CHECK_INT_EQ(cl.nmsg, 2);
	CHECK_STR_EQ(cl.last, "pong 2");
	CHECK(cl.ready && w.srv[0].ready && !cl.closed && !w.srv[0].closed);
	CHECK_INT_EQ(w.srv[0].nmsg, 2);
	conn_close(cl.c);
	CHECK(run_until(&w, &w.srv[0].closed, 1000));
	CHECK_STR_HAS(w.srv[0].reason, "peer closed");
	world_free(&w);
	auth_key_free(k);
	auth_key_free(k2);
}

TEST(conn_refused_with_a_different_key)
{
	struct auth_key *k = auth_key_from_bytes("right", 5), *bad = auth_key_from_bytes("wrong", 5);
	struct world w;
	struct side cl;

	CHECK(k && bad && world_init(&w, k) == 0);
	CHECK(client(&w, bad, &cl));
	CHECK(ping(&cl, 1) == 0);
	CHECK(run_until(&w, &cl.closed, 1000));
	CHECK(run_until(&w, &w.srv[0].closed, 1000));
	CHECK_STR_HAS(w.srv[0].reason, "bad MAC");  /* its proof frame fails first */
	CHECK(strstr(cl.reason, "bad MAC") || strstr(cl.reason, "peer says: bad MAC"));
	CHECK(!cl.ready && !w.srv[0].ready);
	CHECK_INT_EQ(w.srv[0].nmsg, 0);
	world_free(&w);
	auth_key_free(k);
	auth_key_free(bad);
}

TEST(conn_host_keys_prove_their_host_only)
{
	struct auth_key *k = auth_key_from_bytes("cluster secret", 14);
	struct auth_key *other = auth_key_from_bytes("another cluster", 15);
	struct auth_key h1, h1x;
	struct world w;
	struct side cl, c2, c3;

	CHECK(k && other && world_init(&w, k) == 0);
	conn_listener_set_shared_key(w.l, 0);
	CHECK_INT_EQ(auth_host_derive(k, "h1", &h1), 0);
	CHECK_INT_EQ(auth_host_derive(other, "h1", &h1x), 0);
	CHECK_INT_EQ(auth_host_derive(k, "bad/name", &h1x), -1);
	CHECK_INT_EQ(auth_host_derive(other, "h1", &h1x), 0);
	/* host h1's key, derived from the registry's cluster key: in, as h1 */
	CHECK(client(&w, &h1, &cl));
	CHECK(ping(&cl, 1) == 0);
	CHECK(run_count(&w, &cl.nmsg, 1, 1000));
	CHECK(w.srv[0].ready && w.srv[0].c);
	CHECK_STR_EQ(conn_auth_host(w.srv[0].c), "h1");
	/* the cluster key itself: refused unless --shared-key */
	CHECK(client(&w, k, &c2));
	CHECK(run_until(&w, &w.srv[1].closed, 1000));
	CHECK_STR_HAS(w.srv[1].reason, "names no host");
	CHECK(!w.srv[1].ready);
	/* h1's key of another cluster: the proof fails */
	CHECK(client(&w, &h1x, &c3));
	CHECK(run_until(&w, &w.srv[2].closed, 1000));
	CHECK(!w.srv[2].ready);
	CHECK_STR_HAS(w.srv[2].reason, "bad MAC");
	conn_close(cl.c);
	conn_close(c2.c);
	conn_close(c3.c);
	world_free(&w);
	auth_key_free(k);
	auth_key_free(other);
}

TEST(conn_preauth_frames_are_small)
{
	struct auth_key *k = auth_key_from_bytes("cluster secret", 14);
	char line[FRAME_GREETING_MAX], hdr[FRAME_HDR_MAX];
	unsigned char nonce[FRAME_NONCE_LEN];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct world w;
	size_t n;
	int fd;

	CHECK(k && world_init(&w, k) == 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)conn_listener_port(w.l));
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	auth_nonce(nonce);
	n = frame_greeting_build(line, 'a', nonce, NULL);
	CHECK(n > 0 && write(fd, line, n) == (ssize_t)n);
	/* a frame header announcing 100,000 bytes before any proof */
	n = (size_t)snprintf(hdr, sizeof(hdr), "100000 0 %064d\n", 0);
	CHECK(write(fd, hdr, n) == (ssize_t)n);
	CHECK(run_until(&w, &w.nsrv, 1000));
	CHECK(run_until(&w, &w.srv[0].closed, 1000));
	CHECK_STR_HAS(w.srv[0].reason, "before the handshake is done");
	close(fd);
	world_free(&w);
	auth_key_free(k);
}

TEST(conn_refused_when_one_side_has_no_key)
{
	struct auth_key *k = auth_key_from_bytes("right", 5);
	struct world w;
	struct side cl;

	CHECK(k && world_init(&w, k) == 0);
	CHECK(client(&w, NULL, &cl));
	CHECK(run_until(&w, &cl.closed, 1000));
	CHECK_STR_HAS(cl.reason, "peer requires a key");
	CHECK(run_until(&w, &w.srv[0].closed, 1000));
	CHECK_STR_HAS(w.srv[0].reason, "auth=none");
	world_free(&w);
	CHECK(world_init(&w, NULL) == 0);  /* and the other way round */
	CHECK(client(&w, k, &cl));
	CHECK(run_until(&w, &cl.closed, 1000));
	CHECK_STR_HAS(cl.reason, "auth=none but we require a key");
	CHECK(run_until(&w, &w.srv[0].closed, 1000));
	CHECK(!w.srv[0].ready && w.srv[0].nmsg == 0);
	world_free(&w);
	auth_key_free(k);
}

/* ---- raw sockets -------------------------------------------------------- */

static int raw_connect(struct world *w)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_port = htons((uint16_t)conn_listener_port(w->l));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Read one line from fd while running the loop; NUL-terminated in buf. */
static int raw_line(struct world *w, int fd, char *buf, size_t size)
{
	size_t n = 0;
	int spins = 0;

	while (n + 1 < size && spins++ < 200) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int one = 0;

		run_until(w, &one, 5);
		if (poll(&p, 1, 0) <= 0)
			continue;
		if (read(fd, buf + n, 1) != 1)
			break;
		if (buf[n++] == '\n') {
			buf[n] = '\0';
			return (int)n;
		}
		spins = 0;
	}
	buf[n] = '\0';
	return -1;
}

static int raw_send_frame(int fd, const unsigned char *skey, uint64_t seq,
			  const char *line, char **copy, size_t *clen)
{
	size_t n;
	char *f = frame_build(skey, 'a', seq, line, strlen(line), &n);
	int rc = f && write(fd, f, n) == (ssize_t)n ? 0 : -1;

	if (copy) {
		*copy = f;
		*clen = n;
	} else {
		free(f);
	}
	return rc;
}

/* A hand-made authenticated agent: greeting, proof; returns the session
 * key (caller frees) and leaves the next seq at 1. */
static unsigned char *raw_auth(struct world *w, int fd, const struct auth_key *k)
{
	unsigned char nonce[FRAME_NONCE_LEN], proof[FRAME_MAC_LEN], *skey;
	char line[FRAME_GREETING_MAX], hex[2 * FRAME_MAC_LEN + 1], pl[160];
	struct frame_greeting g;
	size_t n;

	auth_nonce(nonce);
	n = frame_greeting_build(line, 'a', nonce, NULL);
	if (write(fd, line, n) != (ssize_t)n || raw_line(w, fd, line, sizeof(line)) < 0 ||
	    frame_greeting_parse(line, strlen(line), &g, NULL, 0) != FRAME_OK)
		return NULL;
	skey = auth_session_key(k, nonce, g.nonce);
	auth_proof(k, 'a', g.nonce, nonce, proof);
	frame_hex(proof, sizeof(proof), hex);
	snprintf(pl, sizeof(pl), "auth proof=%s\n", hex);
	if (!skey || raw_send_frame(fd, skey, 0, pl, NULL, NULL) < 0) {
		auth_session_free(skey);
		return NULL;
	}
	return skey;
}

TEST(conn_replayed_altered_skipped_frames_close_only_their_conn)
{
	struct auth_key *k = auth_key_from_bytes("k", 1);
	struct world w;
	struct side cl;
	unsigned char *sk[3];
	int fd[3];
	char *f;
	size_t fl;

	CHECK(k && world_init(&w, k) == 0);
	CHECK(client(&w, k, &cl));  /* a well-behaved neighbour */
	CHECK(run_until(&w, &cl.ready, 1000));
	for (int i = 0; i < 3; i++) {
		CHECK((fd[i] = raw_connect(&w)) >= 0);
		CHECK((sk[i] = raw_auth(&w, fd[i], k)));
		CHECK(run_until(&w, &w.srv[i + 1].ready, 1000));
	}
	/* replay: frame 1 twice */
	CHECK(raw_send_frame(fd[0], sk[0], 1, "ping n=1\n", &f, &fl) == 0);
	CHECK(write(fd[0], f, fl) == (ssize_t)fl);
	free(f);
	/* skip: 1 then 3 */
	CHECK(raw_send_frame(fd[1], sk[1], 1, "ping n=1\n", NULL, NULL) == 0);
	CHECK(raw_send_frame(fd[1], sk[1], 3, "ping n=3\n", NULL, NULL) == 0);
	/* alter one payload byte */
	f = frame_build(sk[2], 'a', 1, "ping n=1\n", 9, &fl);
	CHECK(f);
	f[fl - 2] = '2';
	CHECK(write(fd[2], f, fl) == (ssize_t)fl);
	free(f);
	for (int i = 1; i <= 3; i++)
		CHECK(run_until(&w, &w.srv[i].closed, 1000));
	CHECK_STR_HAS(w.srv[1].reason, "seq 1, expected 2");
	CHECK_INT_EQ(w.srv[1].nmsg, 1);  /* the original got through */
	CHECK_STR_HAS(w.srv[2].reason, "seq 3, expected 2");
	CHECK_STR_HAS(w.srv[3].reason, "bad MAC");
	CHECK_INT_EQ(w.srv[3].nmsg, 0);
	CHECK(ping(&cl, 7) == 0);    /* the neighbour carries on */
	CHECK(run_until(&w, &cl.nmsg, 1000));
	CHECK_STR_EQ(cl.last, "pong 7");
	CHECK(!cl.closed && !w.srv[0].closed);
	for (int i = 0; i < 3; i++) {
		close(fd[i]);
		auth_session_free(sk[i]);
	}
	conn_close(cl.c);
	world_free(&w);
	auth_key_free(k);
}

/* An unauthenticated raw peer sends `bytes` after a greeting (or instead of
 * one); the server must close with a reason containing `why`. */
static int raw_garbage(const char *greet, const void *bytes, size_t n, const char *why,
		       char *reply, size_t rsize)
{
	struct world w;
	int fd, ok;

	if (world_init(&w, NULL) < 0 || (fd = raw_connect(&w)) < 0)
		return 0;
	ok = (!greet || write(fd, greet, strlen(greet)) == (ssize_t)strlen(greet)) &&
	     write(fd, bytes, n) == (ssize_t)n;
	ok = ok && run_until(&w, &w.nsrv, 1000) &&
	     run_until(&w, &w.srv[0].closed, 1000) &&
	     strstr(w.srv[0].reason, why) && w.srv[0].nmsg == 0;
	if (reply) {
		raw_line(&w, fd, reply, rsize);          /* our greeting */
		raw_line(&w, fd, reply, rsize);          /* the ERROR line, if any */
	}
	close(fd);
	world_free(&w);
	return ok != 0;
}

TEST(conn_rejects_oversized_garbage_and_wrong_version)
{
	static const char g[] = "RESCHED/1 agent auth=none\n";
	char big[300], reply[256];
	unsigned char rnd[512];

	CHECK(raw_garbage(g, "2000000 0 -\n", 12, "out of range", NULL, 0));
	memset(big, '7', sizeof(big));
	CHECK(raw_garbage(g, big, sizeof(big), "longer than 128", NULL, 0));
	randombytes_buf(rnd, sizeof(rnd));
	rnd[0] = (unsigned char)0xff;
	CHECK(raw_garbage(g, rnd, sizeof(rnd), "frame header", NULL, 0));
	CHECK(raw_garbage(g, "\xff\xfe", 2, "bad byte", NULL, 0));
	CHECK(raw_garbage(NULL, rnd, sizeof(rnd), "not a resched peer", NULL, 0));
	CHECK(raw_garbage(g, "8 0 -\nhello a\n", 14, "no '='", NULL, 0));
	CHECK(raw_garbage(g, "6 0 abababababababababababababababababababababababababababababababab\nhello\n",
			  75, "with MAC on an unauthenticated", NULL, 0));
	CHECK(raw_garbage(NULL, "RESCHED/2 agent auth=none\n", 26, "version mismatch",
			  reply, sizeof(reply)));
	CHECK_STR_HAS(reply, "ERROR version mismatch");
}

TEST(conn_handshake_timeout)
{
	struct world w;
	int fd;

	CHECK(world_init(&w, NULL) == 0);
	w.hs_ms = 100;
	CHECK((fd = raw_connect(&w)) >= 0);
	CHECK(run_until(&w, &w.nsrv, 1000));
	CHECK(run_until(&w, &w.srv[0].closed, 1000));
	CHECK_STR_HAS(w.srv[0].reason, "timed out");
	close(fd);
	world_free(&w);
}

/* A non-loopback address of this machine, or 0 if it has none. */
static in_addr_t local_ip(void)
{
	struct ifaddrs *ifa, *i;
	in_addr_t a = 0;

	if (getifaddrs(&ifa) < 0)
		return 0;
	for (i = ifa; i && !a; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET) {
			in_addr_t x = ((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr;

			if ((ntohl(x) >> 24) != 127)
				a = x;
		}
	freeifaddrs(ifa);
	return a;
}

TEST(conn_loopback_only_without_key)
{
	struct sockaddr_in v4 = { .sin_family = AF_INET };
	struct sockaddr_in6 v6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char err[CONN_ERR_LEN], buf[8];
	struct conn_listener *l;
	struct world w;
	int fd, one = 0;

	v4.sin_addr.s_addr = htonl(0x7f000102);
	CHECK(conn_peer_is_loopback((struct sockaddr *)&v4, sizeof(v4)));
	v4.sin_addr.s_addr = htonl(0x0a000001);
	CHECK(!conn_peer_is_loopback((struct sockaddr *)&v4, sizeof(v4)));
	v6.sin6_addr = in6addr_loopback;
	CHECK(conn_peer_is_loopback((struct sockaddr *)&v6, sizeof(v6)));
	CHECK(inet_pton(AF_INET6, "::ffff:127.0.0.1", &v6.sin6_addr) == 1);
	CHECK(conn_peer_is_loopback((struct sockaddr *)&v6, sizeof(v6)));
	CHECK(inet_pton(AF_INET6, "::ffff:10.0.0.1", &v6.sin6_addr) == 1);
	CHECK(!conn_peer_is_loopback((struct sockaddr *)&v6, sizeof(v6)));
	sa.sin_addr.s_addr = local_ip();
	if (!sa.sin_addr.s_addr)
		return;  /* no non-loopback address here to try from */
	CHECK(world_init(&w, NULL) == 0);
	l = conn_listen(w.base, "0.0.0.0:0", NULL, on_accept, &w, err, sizeof(err));
	CHECK(l);
	sa.sin_port = htons((uint16_t)conn_listener_port(l));
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	run_until(&w, &one, 100);
	CHECK_INT_EQ(w.nsrv, 0);                 /* never reached the owner */
	CHECK(read(fd, buf, sizeof(buf)) == 0);  /* closed, no greeting */
	close(fd);
	conn_listener_free(l);
	world_free(&w);
}

TEST(peercred_names_the_owner_of_a_loopback_peer)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	char err[128];
	int l, c, a;
	uid_t uid = 12345;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(l >= 0 && bind(l, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	      listen(l, 1) == 0 && getsockname(l, (struct sockaddr *)&sa, &sl) == 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(c >= 0 && connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	a = accept(l, NULL, NULL);
	CHECK(a >= 0);
	CHECK_INT_EQ(peercred_tcp_uid(a, &uid, err, sizeof(err)), 0);
	CHECK_INT_EQ((int)uid, (int)geteuid());
	close(c);
	close(a);
	close(l);
}
