/*
 * loadgen.c — synthetic agents for the registry bench and hostile peers
 * for the auth test.
 *
 *   loadgen --registry A:P --key FILE [-n N] [--prefix P] [--duration S]
 *           [--rate PER_S] [--inflight K] [--mount M --probes K]
 *     N agents (default 10000) on one libevent loop, each: hello, then an
 *     `update` with 15 metrics every second.  Agents are opened at --rate
 *     a second (default 1000) with at most --inflight (default 1000)
 *     handshakes under way; a closed agent reconnects after 1 s, doubling
 *     to 8 s, with jitter.  The first K agents carry
 *     m.probe_ms = wall-clock ms at send; a reader thread polls
 *     M/hosts/PK/metrics/probe_ms and records the lag until the value is
 *     readable, from the moment all N agents are connected (steady state).  Prints `connected=N ramp_s=... reconnects=...` once all
 *     are welcomed at the same time and, at the end,
 *     `lag_p50_ms=... lag_p99_ms=... lag_max_ms=... lag_samples=...`,
 *     `loadgen_cpu_cores=...` (its own CPU over the run) and `welcomed=N`.
 *
 *     --host-keys: --key is the cluster key, and each agent proves its own
 *     host's key (derived as resched-key host does), as real agents do.
 *
 *   loadgen --attack replay|oversize|garbage --registry A:P [--key FILE]
 *     one blocking connection misbehaving on purpose; exit 0 when the
 *     registry hung up on it within 5 s, 1 otherwise.  With a host key
 *     the greeting names its host.
 *
 *   loadgen --attack hold --registry A:P [-n N] [--duration S] [--big]
 *     N connections that never authenticate: each sends the start of a
 *     greeting (with --big: a whole greeting, then a frame header of 512
 *     bytes, the most the registry takes before a proof, and 511 of them)
 *     and is held open; a connection the registry closes is opened again.  Prints `held=K opened=N reopened=R` at the
 *     end (K: open at that moment).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "common/auth.h"
#include "common/conn.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/util.h"

#define PROBES_MAX 64
#define LAG_MAX 100000
#define RAMP_TICK_MS 10           /* the ramp opens rate/100 agents a tick */
#define RECONNECT_MS 1000         /* first retry delay; doubles up to 8 s */

struct opts {
	const char *registry, *key_file, *prefix, *mount, *attack;
	int n, probes, rate, inflight, host_keys, big;
	double duration;
};

struct lg;
struct agent {
	struct lg *g;
	int idx;
	struct conn *c;               /* NULL while disconnected */
	int welcomed;
	int backoff_ms;               /* next reconnect delay */
	struct event *tick;           /* 1 Hz update; also the reconnect timer */
	struct auth_key hkey;         /* --host-keys: this agent's own */
};

struct lg {
	struct opts o;
	struct event_base *base;
	struct auth_key *key;
	struct agent *a;
	int started;                  /* agents opened by the ramp */
	int welcomed;                 /* agents welcomed right now */
	int handshaking;              /* connects not yet welcomed */
	int all_once;                 /* connected=N printed */
	long reconnects, closes;
	double t_start, t_all;
	struct event *ramp, *end, *sig;
	/* lag samples, protected by mu */
	pthread_mutex_t mu;
	double lag[LAG_MAX];
	int nlag;
	int steady;                   /* all agents were connected once */
	int stop;
};

/* ---- mass agents --------------------------------------------------------- */

static void send_update(struct agent *a)
{
	static const char *const names[15] = {
		"load1", "load5", "load15", "cpu_util", "cpu_idle", "cpus", "procs",
		"procs_running", "mem_total", "mem_avail", "mem_avail_pct",
		"net_rx_bps", "net_tx_bps", "sockets_established", "disk_avail",
	};
	struct msg *m = msg_new("update");
	char key[64];

	msg_set(m, "state", a->idx % 10 == 0 ? "overloaded" : "free");
	msg_set(m, "interval", "1");
	for (int i = 0; i < 15; i++) {
		snprintf(key, sizeof(key), "m.%s", names[i]);
		msg_set_num(m, key, (double)(randombytes_uniform(10000)) / 100.0);
	}
	if (a->idx < a->g->o.probes)
		msg_setf(m, "m.probe_ms", "%.0f", floor(util_wall_s() * 1000.0)); /* integral: shown exactly */
	msg_set(m, "r.load", a->idx % 10 == 0 ? "overloaded/5" : "free/0.1");
	conn_send(a->c, m);
	msg_free(m);
}

static void start_agent(struct lg *g, struct agent *a);

/* The agent's timer: an update when connected, a reconnect when not. */
static void on_tick(evutil_socket_t fd, short w, void *arg)
{
	struct agent *a = arg;
	struct timeval tv = { 1, 0 };

	if (!a->c) {
		a->g->reconnects++;
		start_agent(a->g, a);
		return;
	}
	if (a->welcomed)
		send_update(a);
	evtimer_add(a->tick, &tv);
}

static void on_welcome(struct agent *a)
{
	struct lg *g = a->g;

	a->welcomed = 1;
	a->backoff_ms = RECONNECT_MS;
	g->handshaking--;
	if (++g->welcomed == g->o.n && !g->all_once) {
		g->all_once = 1;
		g->t_all = util_now_s();
		pthread_mutex_lock(&g->mu);
		g->steady = 1;
		pthread_mutex_unlock(&g->mu);
		printf("connected=%d ramp_s=%.1f reconnects=%ld\n", g->o.n,
		       g->t_all - g->t_start, g->reconnects);
		fflush(stdout);
	}
	send_update(a);
}

static void on_msg(struct conn *c, struct msg *m, void *arg)
{
	struct agent *a = arg;

	if (strcmp(msg_type(m), "welcome") == 0 && !a->welcomed)
		on_welcome(a);
	msg_free(m);
}

/* Lost: count it, retry after a growing, jittered delay. */
static void on_close(struct conn *c, const char *reason, void *arg)
{
	struct agent *a = arg;
	struct lg *g = a->g;
	int ms = a->backoff_ms + (int)randombytes_uniform((uint32_t)a->backoff_ms);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (g->closes++ < 20)
		log_warnx("agent %d: %s", a->idx, reason);
	if (a->welcomed)
		g->welcomed--;
	else
		g->handshaking--;
	a->welcomed = 0;
	a->c = NULL;
	a->backoff_ms = a->backoff_ms < 8000 ? a->backoff_ms * 2 : 8000;
	evtimer_add(a->tick, &tv);
}

static struct msg *hello_msg(const struct lg *g, const struct agent *a)
{
	struct msg *h = msg_new("hello");

	msg_setf(h, "name", "%s%d", g->o.prefix, a->idx);
	msg_set(h, "arch", "x86_64");
	msg_set(h, "os", "Linux");
	msg_set(h, "cpus", "2");
	msg_set(h, "addr", "127.0.0.1");
	msg_set(h, "agent_version", "loadgen");
	msg_set(h, "interval", "1");
	msg_set(h, "byte_order", "little");
	return h;
}

/* Connect (hello is queued until the handshake is done); a failure to
 * even start retries on the agent's timer. */
static void start_agent(struct lg *g, struct agent *a)
{
	char err[CONN_ERR_LEN];
	struct msg *h;
	struct timeval tv = { 1, 0 };

	g->handshaking++;
	if (g->o.host_keys && !a->hkey.host[0]) {
		char name[AUTH_HOST_MAX];

		snprintf(name, sizeof(name), "%s%d", g->o.prefix, a->idx);
		if (auth_host_derive(g->key, name, &a->hkey) < 0)
			fatalx("agent %d: %s is not a host name", a->idx, name);
	}
	a->c = conn_connect(g->base, g->o.registry, CONN_AGENT,
			    g->o.host_keys ? &a->hkey : g->key, on_msg,
			    on_close, a, err, sizeof(err));
	if (!a->c) {
		g->handshaking--;
		if (g->closes++ < 20)
			log_warnx("agent %d: %s", a->idx, err);
		evtimer_add(a->tick, &tv);
		return;
	}
	h = hello_msg(g, a);
	conn_send(a->c, h);
	msg_free(h);
	evtimer_add(a->tick, &tv);
}

/* Open agents at --rate per second, at most --inflight handshakes at
 * once, so the registry's accept queue and handshake timer keep up. */
static void on_ramp(evutil_socket_t fd, short w, void *arg)
{
	struct lg *g = arg;
	struct timeval tv = { 0, RAMP_TICK_MS * 1000 };
	int per_tick = g->o.rate * RAMP_TICK_MS / 1000;

	if (per_tick < 1)
		per_tick = 1;
	for (int k = 0; k < per_tick && g->started < g->o.n &&
			g->handshaking < g->o.inflight; k++, g->started++) {
		struct agent *a = &g->a[g->started];

		a->g = g;
		a->idx = g->started;
		a->backoff_ms = RECONNECT_MS;
		a->tick = evtimer_new(g->base, on_tick, a);
		if (!a->tick)
			fatalx("out of memory");
		start_agent(g, a);
	}
	if (g->started < g->o.n)
		evtimer_add(g->ramp, &tv);
}

static void on_end(evutil_socket_t fd, short w, void *arg)
{
	event_base_loopbreak(((struct lg *)arg)->base);
}

/* Reader: each probe file is opened once and re-read at offset 0 (the
 * registry renders afresh on every read at 0), so one sample costs one
 * FUSE read, not a lookup + open + read + release per path component. */
static void probe_sample(struct lg *g, int fd, double *last)
{
	char buf[64];
	ssize_t r = pread(fd, buf, sizeof(buf) - 1, 0);
	double v;

	if (r <= 0)
		return;
	buf[r] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (util_parse_double(buf, &v) < 0 || v == *last)
		return;
	if (*last != 0) {
		double lag = util_wall_s() * 1000.0 - v;

		pthread_mutex_lock(&g->mu);
		if (g->steady && g->nlag < LAG_MAX)
			g->lag[g->nlag++] = lag;
		pthread_mutex_unlock(&g->mu);
	}
	*last = v;
}

static int reader_stopped(struct lg *g)
{
	int stop;

	pthread_mutex_lock(&g->mu);
	stop = g->stop;
	pthread_mutex_unlock(&g->mu);
	return stop;
}

static void *reader_main(void *arg)
{
	struct lg *g = arg;
	double last[PROBES_MAX] = { 0 };
	int fds[PROBES_MAX];
	char path[4096];

	for (int i = 0; i < g->o.probes; i++)
		fds[i] = -1;
	while (!reader_stopped(g)) {
		for (int i = 0; i < g->o.probes; i++) {
			if (fds[i] < 0) {
				snprintf(path, sizeof(path), "%s/hosts/%s%d/metrics/probe_ms",
					 g->o.mount, g->o.prefix, i);
				fds[i] = open(path, O_RDONLY | O_CLOEXEC);
			}
			if (fds[i] >= 0)
				probe_sample(g, fds[i], &last[i]);
		}
		usleep(2000);
	}
	for (int i = 0; i < g->o.probes; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return NULL;
}

static int cmp_d(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

static void report_lag(struct lg *g)
{
	if (g->nlag == 0) {
		printf("lag_p50_ms=nan lag_p99_ms=nan lag_samples=0\n");
		return;
	}
	qsort(g->lag, (size_t)g->nlag, sizeof(double), cmp_d);
	printf("lag_p50_ms=%.2f lag_p99_ms=%.2f lag_max_ms=%.2f lag_samples=%d\n",
	       g->lag[g->nlag / 2], g->lag[(int)(g->nlag * 0.99)],
	       g->lag[g->nlag - 1], g->nlag);
}

/* Our own CPU over the run, in cores: on a small machine the generator
 * competes with the registry, so the bench reports both. */
static void report_self(struct lg *g)
{
	struct rusage ru;
	double cpu, wall = util_now_s() - g->t_start;

	if (getrusage(RUSAGE_SELF, &ru) < 0 || wall <= 0)
		return;
	cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	      (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	printf("loadgen_cpu_cores=%.3f (over %.0f s) reconnects=%ld closes=%ld\n",
	       cpu / wall, wall, g->reconnects, g->closes);
}

static void free_agents(struct lg *g)
{
	for (int i = 0; i < g->started; i++) {
		conn_close(g->a[i].c);
		if (g->a[i].tick)
			event_free(g->a[i].tick);
	}
	free(g->a);
}

static int run_load(struct lg *g)
{
	struct timeval end = { (time_t)g->o.duration, 0 }, now = { 0, 0 };
	pthread_t rd;
	int reading = 0;

	g->base = event_base_new();
	g->a = calloc((size_t)g->o.n, sizeof(*g->a));
	if (!g->base || !g->a)
		fatalx("out of memory");
	g->t_start = util_now_s();
	g->ramp = evtimer_new(g->base, on_ramp, g);
	g->end = evtimer_new(g->base, on_end, g);
	evtimer_add(g->ramp, &now);
	evtimer_add(g->end, &end);
	g->sig = evsignal_new(g->base, SIGTERM, on_end, g);
	evsignal_add(g->sig, NULL);
	pthread_mutex_init(&g->mu, NULL);
	if (g->o.mount && g->o.probes > 0)
		reading = pthread_create(&rd, NULL, reader_main, g) == 0;
	event_base_dispatch(g->base);
	pthread_mutex_lock(&g->mu);
	g->stop = 1;
	pthread_mutex_unlock(&g->mu);
	if (reading)
		pthread_join(rd, NULL);
	report_lag(g);
	report_self(g);
	printf("welcomed=%d\n", g->welcomed);
	free_agents(g);
	return 0;
}

/* ---- hostile peers (blocking) ---------------------------------------------- */

/* A blocking connection to ADDR:PORT (resolved once: a flood of 10,000
 * must not spend its time in getaddrinfo). */
static int dial(const char *ap)
{
	static struct sockaddr_storage ss;
	static socklen_t sl;
	static char done[256];
	int fd;

	if (strcmp(done, ap) != 0) {
		char host[256], *colon;
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;

		snprintf(host, sizeof(host), "%s", ap);
		if (!(colon = strrchr(host, ':')))
			fatalx("%s: not ADDR:PORT", ap);
		*colon = '\0';
		if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
			fatalx("%s: cannot resolve", ap);
		memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
		sl = ai->ai_addrlen;
		freeaddrinfo(ai);
		snprintf(done, sizeof(done), "%s", ap);
	}
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) < 0)
		fatal("connect %s", ap);
	return fd;
}

static void put(int fd, const void *b, size_t n)
{
	if (send(fd, b, n, MSG_NOSIGNAL) != (ssize_t)n)
		log_warn("send");
}

/* Read the registry's greeting line. */
static void read_greeting(int fd, struct frame_greeting *g)
{
	char buf[FRAME_GREETING_MAX + 1], err[128];
	size_t n = 0;

	while (n < FRAME_GREETING_MAX && (n == 0 || buf[n - 1] != '\n'))
		if (read(fd, buf + n++, 1) != 1)
			fatalx("no greeting from the registry");
	if (frame_greeting_parse(buf, n, g, err, sizeof(err)) != FRAME_OK)
		fatalx("greeting: %s", err);
}

static void send_frame(int fd, const unsigned char *skey, uint64_t seq,
		       const char *line, char **keep, size_t *keep_len)
{
	size_t len;
	char *f = frame_build(skey, FRAME_ROLE_AGENT, seq, line, strlen(line), &len);

	put(fd, f, len);
	if (keep) {
		*keep = f;
		*keep_len = len;
	} else {
		free(f);
	}
}

/* Greeting, proof, a valid hello as frame 1; returns the session key. */
static unsigned char *handshake(int fd, const struct auth_key *k, char **f1, size_t *f1len)
{
	unsigned char nonce[FRAME_NONCE_LEN], proof[FRAME_MAC_LEN], *skey;
	char line[FRAME_GREETING_MAX], hex[2 * FRAME_MAC_LEN + 1], msgline[256];
	struct frame_greeting g;

	auth_nonce(nonce);
	put(fd, line, frame_greeting_build(line, FRAME_ROLE_AGENT, nonce, k->host));
	read_greeting(fd, &g);
	skey = auth_session_key(k, nonce, g.nonce);
	auth_proof(k, FRAME_ROLE_AGENT, g.nonce, nonce, proof);
	frame_hex(proof, sizeof(proof), hex);
	snprintf(msgline, sizeof(msgline), "auth proof=%s\n", hex);
	send_frame(fd, skey, 0, msgline, NULL, NULL);
	if (k->host[0])
		snprintf(msgline, sizeof(msgline), "hello name=%s interval=1\n", k->host);
	else
		snprintf(msgline, sizeof(msgline), "hello name=attack%d interval=1\n",
			 (int)getpid());
	send_frame(fd, skey, 1, msgline, f1, f1len);
	return skey;
}

/* 1 when the peer closes within 5 s. */
static int hung_up(int fd)
{
	char buf[4096];
	double until = util_now_s() + 5;

	while (util_now_s() < until) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&p, 1, 200) <= 0)
			continue;
		r = read(fd, buf, sizeof(buf));
		if (r <= 0)
			return 1;
	}
	return 0;
}

/* --attack hold: see the top of the file. */
static int run_hold(struct lg *g)
{
	int *fds = calloc((size_t)g->o.n, sizeof(int));
	static const char start[] = "RESCHED/1 agent auth=hmac-sha256 nonce=";
	char fill[1024], big[FRAME_GREETING_MAX + FRAME_HDR_MAX + 512];
	unsigned char nonce[FRAME_NONCE_LEN];
	size_t nbig;
	long reopened = 0;
	double until;
	int held = 0;
	struct rlimit rl;

	if (!fds)
		fatalx("out of memory");
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	memset(fill, 'a', sizeof(fill));
	auth_nonce(nonce);
	nbig = frame_greeting_build(big, FRAME_ROLE_AGENT, nonce, "attacker");
	nbig += (size_t)snprintf(big + nbig, sizeof(big) - nbig, "512 0 %064d\n", 0);
	memcpy(big + nbig, fill, 511);
	nbig += 511;
	for (int i = 0; i < g->o.n; i++)
		fds[i] = -1;
	until = util_now_s() + g->o.duration;
	while (util_now_s() < until) {
		for (int i = 0; i < g->o.n; i++) {
			char b[64];

			if (fds[i] >= 0) {         /* closed by the registry? */
				ssize_t r = recv(fds[i], b, sizeof(b), MSG_DONTWAIT);

				if (r == 0 || (r < 0 && errno != EAGAIN)) {
					close(fds[i]);
					fds[i] = -1;
					reopened++;
				}
				continue;
			}
			fds[i] = dial(g->o.registry);
			fcntl(fds[i], F_SETFL, O_NONBLOCK);
			if (g->o.big)
				(void)!send(fds[i], big, nbig, MSG_NOSIGNAL);
			else
				(void)!send(fds[i], start, sizeof(start) - 1, MSG_NOSIGNAL);
		}
		usleep(200 * 1000);
	}
	for (int i = 0; i < g->o.n; i++)
		if (fds[i] >= 0) {
			held++;
			close(fds[i]);
		}
	printf("held=%d opened=%d reopened=%ld\n", held, g->o.n, reopened);
	free(fds);
	return 0;
}

static int run_attack(struct lg *g)
{
	int fd, closed;
	unsigned char junk[512];
	char *f1 = NULL;
	size_t f1len = 0;
	unsigned char *skey = NULL;

	if (strcmp(g->o.attack, "hold") == 0)
		return run_hold(g);
	fd = dial(g->o.registry);
	if (strcmp(g->o.attack, "garbage") == 0) {
		randombytes_buf(junk, sizeof(junk));
		put(fd, junk, sizeof(junk));
	} else {
		if (!g->key)
			fatalx("--attack %s needs --key", g->o.attack);
		skey = handshake(fd, g->key, &f1, &f1len);
		if (strcmp(g->o.attack, "replay") == 0) {
			put(fd, f1, f1len);          /* frame 1 again */
		} else if (strcmp(g->o.attack, "oversize") == 0) {
			char hdr[FRAME_HDR_MAX];
			int n = snprintf(hdr, sizeof(hdr), "%d 2 -\n", FRAME_MAX + 1);

			put(fd, hdr, (size_t)n);
		} else {
			fatalx("--attack: replay, oversize, garbage or hold");
		}
	}
	closed = hung_up(fd);
	printf("attack=%s %s\n", g->o.attack, closed ? "rejected" : "NOT rejected");
	free(f1);
	auth_session_free(skey);
	close(fd);
	return closed ? 0 : 1;
}

/* ---- main ------------------------------------------------------------------ */

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "registry", 1, NULL, 'r' }, { "key", 1, NULL, 'k' },
		{ "prefix", 1, NULL, 'p' }, { "duration", 1, NULL, 'd' },
		{ "mount", 1, NULL, 'm' }, { "probes", 1, NULL, 'P' },
		{ "attack", 1, NULL, 'a' }, { "rate", 1, NULL, 'R' },
		{ "inflight", 1, NULL, 'I' }, { "host-keys", 0, NULL, 'H' },
		{ "big", 0, NULL, 'B' }, { NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .prefix = "lg", .n = 10000, .duration = 30,
			    .rate = 1000, .inflight = 1000 };
	while ((c = getopt_long(argc, argv, "n:", lo, NULL)) != -1) {
		switch (c) {
		case 'r': o->registry = optarg; break;
		case 'k': o->key_file = optarg; break;
		case 'p': o->prefix = optarg; break;
		case 'd': o->duration = atof(optarg); break;
		case 'm': o->mount = optarg; break;
		case 'P': o->probes = atoi(optarg); break;
		case 'a': o->attack = optarg; break;
		case 'n': o->n = atoi(optarg); break;
		case 'R': o->rate = atoi(optarg); break;
		case 'I': o->inflight = atoi(optarg); break;
		case 'H': o->host_keys = 1; break;
		case 'B': o->big = 1; break;
		default: exit(2);
		}
	}
	if (!o->registry || o->n < 1 || o->probes < 0 || o->probes > PROBES_MAX ||
	    o->rate < 1 || o->inflight < 1)
		fatalx("usage: loadgen --registry A:P [--key F] [-n N] [--prefix P] "
		       "[--duration S] [--rate PER_S] [--inflight K] "
		       "[--mount M --probes K] [--host-keys] | --attack KIND [--big]");
}

int main(int argc, char **argv)
{
	static struct lg g;
	char err[256];

	log_init("loadgen");
	parse(argc, argv, &g.o);
	if (auth_init() < 0)
		fatalx("libsodium");
	if (g.o.key_file && !(g.key = auth_key_load(g.o.key_file, err, sizeof(err))))
		fatalx("%s", err);
	return g.o.attack ? run_attack(&g) : run_load(&g);
}
