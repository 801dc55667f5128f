/*
 * agent_net.c — the agent's registry client: connection, hello/update,
 * rule sets, reconnect with backoff; a worker thread measures.
 * See agent_net.h for the contract.
 */
#include "agent/agent_net.h"

#include <errno.h>
#include <event2/event.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/agent_local.h"
#include "agent/monitor.h"
#include "common/conn.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/util.h"
#include "rules/rules.h"

struct agent {
	const struct agent_net_config *cfg;
	struct event_base *base;
	struct auth_key *key;          /* NULL: no --key */
	/* loop thread only */
	struct conn *conn;             /* NULL while disconnected */
	int welcomed;
	char bye[400];                 /* the registry sent us away: why */
	double backoff;                /* last delay, 0 after a welcome */
	struct event *retry_ev, *wake_ev, *sig_term, *sig_int;
	struct msg *last_update;       /* re-sent after a reconnect */
	struct agent_local *local;     /* the commander (agent_local.h) */
	int wake_fd;                   /* eventfd: worker -> loop */
	/* worker thread only */
	struct monitor *mon;
	pthread_t worker;
	int worker_started;
	/* protected by mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	int rules_pending;             /* new_rules is to be applied */
	struct ruleset *new_rules;     /* owned until handed to the monitor */
	struct msg *out_update;        /* finished, not yet taken by the loop */
	double cpus, mem_total;        /* from the last measurement, 0 unknown */
};

/* ---- small helpers -------------------------------------------------------- */

double agent_net_backoff(double prev)
{
	double d = prev <= 0 ? AGENT_BACKOFF_MIN : prev * 2;

	return d > AGENT_BACKOFF_MAX ? AGENT_BACKOFF_MAX : d;
}

static struct timeval tv_of(double s)
{
	struct timeval tv = { (time_t)s, (suseconds_t)((s - floor(s)) * 1e6) };

	return tv;
}

/* Split "ADDR:PORT" / "[V6]:PORT" into host and port buffers. */
static int split_addr(const char *ap, char *host, size_t hs, char *port, size_t ps)
{
	const char *colon = strrchr(ap, ':');
	size_t hl;

	if (!colon || !colon[1])
		return -1;
	hl = (size_t)(colon - ap);
	if (ap[0] == '[' && hl >= 2 && ap[hl - 1] == ']') {
		ap++;
		hl -= 2;
	}
	if (hl == 0 || hl >= hs || strlen(colon + 1) >= ps)
		return -1;
	memcpy(host, ap, hl);
	host[hl] = '\0';
	snprintf(port, ps, "%s", colon + 1);
	return 0;
}

/* A connected UDP socket sends nothing but tells which source address the
 * route to the registry uses: the address other hosts reach us on. */
int agent_net_source_addr(const char *addr_port, char *buf, size_t size,
			  char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256], port[32];
	int fd = -1, rc = -1, g;

	if (split_addr(addr_port, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(err, errlen, "'%s' is not ADDR:PORT", addr_port);
		return -1;
	}
	if ((g = getaddrinfo(host, port, &hints, &ai)) != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(g));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		snprintf(err, errlen, "route to %s: %s", addr_port, strerror(errno));
	else if (getnameinfo((struct sockaddr *)&ss, sl, buf, (socklen_t)size,
			     NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(err, errlen, "cannot format the source address");
	else
		rc = 0;
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return rc;
}

static void wake_loop(struct agent *a)
{
	uint64_t one = 1;

	(void)!write(a->wake_fd, &one, sizeof(one));
}

/* ---- the worker: measure, build the update --------------------------------- */

static double worker_interval(struct agent *a)
{
	return a->cfg->interval > 0 ? a->cfg->interval
				     : monitor_next_interval(a->mon);
}

/* update state interval m.NAME=VALUE... r.NAME=STATE/VALUE...  Metric names
 * that are not valid message keys (odd mount names) are left out. */
static struct msg *build_update(struct agent *a, double interval)
{
	const struct metric_set *ms = monitor_metrics(a->mon);
	const struct monitor_verdict *v;
	size_t nv = monitor_verdicts(a->mon, &v);
	struct msg *m = msg_new("update");
	char key[MSG_WORD_MAX], num[64];

	if (!m)
		return NULL;
	msg_set(m, "state", rs_state_name(monitor_state(a->mon)));
	msg_set_num(m, "interval", interval);
	for (size_t i = 0; i < ms->n; i++) {
		snprintf(key, sizeof(key), "m.%s", ms->m[i].name);
		msg_set_num(m, key, ms->m[i].value);
	}
	for (size_t i = 0; i < nv; i++) {
		snprintf(key, sizeof(key), "r.%s", v[i].name);
		msg_setf(m, key, "%s/%s", rs_state_name(v[i].state),
			 isnan(v[i].value) ? "nan"
					   : util_fmt_num(num, sizeof(num), v[i].value));
	}
	return m;
}

/* One measurement; publishes its update.  Called without mu. */
static void worker_measure(struct agent *a)
{
	const struct metric_set *ms;
	char err[256];
	struct msg *m;
	double cpus = 0, mem = 0, t0 = util_now_s();

	if (monitor_measure(a->mon, t0, err, sizeof(err)) < 0) {
		log_warnx("measure: %s", err);
		return;
	}
	if (util_now_s() - t0 > 2 * worker_interval(a))
		log_warnx("measuring took %.1f s (interval %g s): a slow rule script?",
			  util_now_s() - t0, worker_interval(a));
	ms = monitor_metrics(a->mon);
	metric_set_get(ms, "cpus", &cpus);
	metric_set_get(ms, "mem_total", &mem);
	m = build_update(a, worker_interval(a));
	pthread_mutex_lock(&a->mu);
	msg_free(a->out_update);
	a->out_update = m;
	a->cpus = cpus;
	a->mem_total = mem;
	pthread_mutex_unlock(&a->mu);
	wake_loop(a);
}

/* Wait (mu held) until `deadline` (monotonic s), a stop or new rules. */
static void worker_wait(struct agent *a, double deadline)
{
	struct timespec ts;

	while (!a->stop && !a->rules_pending) {
		double now = util_now_s();

		if (now >= deadline)
			return;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)(deadline - now);
		ts.tv_nsec += (long)(fmod(deadline - now, 1.0) * 1e9);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&a->cv, &a->mu, &ts);
	}
}

static void *worker_main(void *arg)
{
	struct agent *a = arg;
	double deadline = util_now_s() + worker_interval(a);

	pthread_mutex_lock(&a->mu);
	while (!a->stop) {
		worker_wait(a, deadline);
		if (a->stop)
			break;
		if (a->rules_pending) {
			/* new rules: take them now, measure at the usual time */
			struct ruleset *rs = a->new_rules;

			a->new_rules = NULL;
			a->rules_pending = 0;
			pthread_mutex_unlock(&a->mu);
			monitor_set_rules(a->mon, rs);
			pthread_mutex_lock(&a->mu);
			continue;
		}
		pthread_mutex_unlock(&a->mu);
		worker_measure(a);
		/* start to start; a measurement longer than the interval (a
		 * slow script) is followed by the next one at once */
		deadline += worker_interval(a);
		if (deadline < util_now_s())
			deadline = util_now_s();
		pthread_mutex_lock(&a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* ---- messages to the registry ------------------------------------------- */

static void fill_machine_facts(struct msg *m, double cpus, double mem)
{
	struct utsname u;
	char num[64];
	const uint16_t probe = 1;

	if (uname(&u) == 0) {
		msg_set(m, "arch", u.machine);
		msg_set(m, "os", u.sysname);
		msg_set(m, "kernel", u.release);
	}
	if (cpus <= 0)
		cpus = (double)sysconf(_SC_NPROCESSORS_ONLN);
	if (mem <= 0)
		mem = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
	msg_set(m, "cpus", util_fmt_num(num, sizeof(num), cpus));
	msg_set(m, "mem_total", util_fmt_num(num, sizeof(num), mem));
	msg_set(m, "byte_order", *(const uint8_t *)&probe ? "little" : "big");
}

static struct msg *build_hello(struct agent *a)
{
	struct msg *m = msg_new("hello");
	char addr[128] = "", err[256];
	double cpus, mem;

	if (!m)
		return NULL;
	if (agent_net_source_addr(a->cfg->registry, addr, sizeof(addr),
				  err, sizeof(err)) < 0)
		log_warnx("hello: %s", err);
	pthread_mutex_lock(&a->mu);
	cpus = a->cpus;
	mem = a->mem_total;
	pthread_mutex_unlock(&a->mu);
	msg_set(m, "name", a->cfg->name);
	fill_machine_facts(m, cpus, mem);
	msg_set(m, "addr", addr);
	msg_set(m, "agent_version", AGENT_VERSION);
	msg_set_num(m, "interval", a->cfg->interval > 0 ? a->cfg->interval
							: MONITOR_DEFAULT_INTERVAL);
	if (a->cfg->cgroup)
		msg_set(m, "cgroup", a->cfg->cgroup);
	return m;
}

static void send_ruleset_result(struct agent *a, int ok, const char *reason)
{
	struct msg *m = msg_new("ruleset_result");

	if (!m)
		return;
	msg_set(m, "ok", ok ? "1" : "0");
	if (reason)
		msg_set(m, "reason", reason);
	conn_send(a->conn, m);
	msg_free(m);
}

/* The first line of a parser's error text, for a one-line reason. */
static void first_line(const char *text, char *out, size_t size)
{
	size_t n = text ? strcspn(text, "\n") : 0;

	snprintf(out, size, "%.*s", (int)n, text ? text : "invalid rule set");
	if (!out[0])
		snprintf(out, size, "invalid rule set");
}

/* ruleset f.FILE=TEXT ...: parse aside, hand over only when whole. */
static void on_ruleset(struct agent *a, const struct msg *m)
{
	size_t n = msg_count(m), k = 0;
	const char **files = calloc(n + 1, sizeof(char *));
	const char **texts = calloc(n + 1, sizeof(char *));
	size_t *lens = calloc(n + 1, sizeof(size_t));
	struct rule_errs errs = { 0, NULL, 0 };
	struct ruleset *rs = NULL;
	char reason[256];

	if (!files || !texts || !lens)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(msg_key(m, i), "f.", 2) != 0)
			continue;
		files[k] = msg_key(m, i) + 2;
		texts[k] = msg_val(m, i);
		lens[k] = strlen(texts[k]);
		k++;
	}
	rs = ruleset_parse(files, texts, lens, k, &errs);
	if (!rs) {
		first_line(errs.text, reason, sizeof(reason));
		log_warnx("rule set refused: %s", reason);
		send_ruleset_result(a, 0, reason);
		goto out;
	}
	log_info("rule set applied: %zu files, %zu rules", k, rs->n);
	pthread_mutex_lock(&a->mu);
	ruleset_free(a->new_rules);
	a->new_rules = rs;
	a->rules_pending = 1;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	send_ruleset_result(a, 1, NULL);
out:
	rule_errs_clear(&errs);
	free(files);
	free(texts);
	free(lens);
}

/* ---- the connection ------------------------------------------------------- */

static void schedule_retry(struct agent *a)
{
	double d = agent_net_backoff(a->backoff);
	double jitter = 0.75 + 0.5 * (double)randombytes_uniform(1000) / 1000.0;
	struct timeval tv = tv_of(d * jitter);

	a->backoff = d;
	evtimer_add(a->retry_ev, &tv);
}

static void on_msg(struct conn *c, struct msg *m, void *arg)
{
	struct agent *a = arg;
	const char *t = msg_type(m);
	int rc = 0;

	if (strcmp(t, "welcome") == 0) {
		if (!a->welcomed)
			log_info("registered with %s as %s", a->cfg->registry,
				 msg_get(m, "host") ? msg_get(m, "host") : "?");
		a->welcomed = 1;
		a->backoff = 0;
		agent_local_announce(a->local);
	} else if (strcmp(t, "ruleset") == 0) {
		on_ruleset(a, m);
	} else if (strcmp(t, "bye") == 0) {
		/* refused (we said what our host may not) or replaced (another
		 * agent proved this host's credential): coming back would only
		 * repeat it, so stop and let the administrator look */
		snprintf(a->bye, sizeof(a->bye), "the registry %s ended our connection: %s%s%s",
			 a->cfg->registry, msg_get(m, "reason") ? msg_get(m, "reason") : "?",
			 msg_get(m, "detail") ? ": " : "",
			 msg_get(m, "detail") ? msg_get(m, "detail") : "");
		conn_close(c);
		a->conn = NULL;
		a->welcomed = 0;
		event_base_loopbreak(a->base);
	} else if ((rc = agent_local_handle(a->local, m)) > 0) {
		/* job_id prepare migrate abort: the commander's */
	} else {
		log_warnx("%s: %s message '%s': reconnecting", conn_peer(c),
			  rc < 0 ? "malformed" : "unknown", t);
		conn_close(c);
		a->conn = NULL;
		a->welcomed = 0;
		schedule_retry(a);
	}
	msg_free(m);
}

static void on_close(struct conn *c, const char *reason, void *arg)
{
	struct agent *a = arg;

	if (a->welcomed)
		log_warnx("lost the registry %s: %s", a->cfg->registry, reason);
	a->conn = NULL;
	a->welcomed = 0;
	schedule_retry(a);
}

/* The commander's way to the registry: only once welcomed (everything
 * is announced again on the next welcome). */
static void local_send(void *ctx, const struct msg *m)
{
	struct agent *a = ctx;

	if (a->conn && a->welcomed)
		conn_send(a->conn, m);
}

static int make_local(struct agent *a, char *err, size_t errlen)
{
	struct agent_local_config lc = { .run_dir = a->cfg->run_dir,
					 .host = a->cfg->name,
					 .cgroup = a->cfg->cgroup,
					 .send = local_send, .ctx = a };

	a->local = agent_local_new(a->base, &lc, err, errlen);
	return a->local ? 0 : -1;
}

/* Connect and queue hello (+ the last update): sent once the handshake is
 * done.  A refused connect arrives as on_close. */
static void try_connect(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	struct msg *hello;
	char err[CONN_ERR_LEN];

	a->conn = conn_connect(a->base, a->cfg->registry, CONN_AGENT, a->key,
			       on_msg, on_close, a, err, sizeof(err));
	if (!a->conn) {
		log_warnx("%s", err);
		schedule_retry(a);
		return;
	}
	hello = build_hello(a);
	if (hello)
		conn_send(a->conn, hello);
	msg_free(hello);
	if (a->conn && a->last_update)
		conn_send(a->conn, a->last_update);
}

/* The worker finished a measurement: forward it. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	uint64_t v;
	struct msg *m;

	(void)!read(fd, &v, sizeof(v));
	pthread_mutex_lock(&a->mu);
	m = a->out_update;
	a->out_update = NULL;
	pthread_mutex_unlock(&a->mu);
	if (!m)
		return;
	msg_free(a->last_update);
	a->last_update = m;
	if (a->conn && a->welcomed)
		conn_send(a->conn, m);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct agent *a = arg;

	log_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(a->base);
}

/* ---- set-up and tear-down -------------------------------------------------- */

static int make_monitor(struct agent *a, char *err, size_t errlen)
{
	struct monitor_config mc = { .name = a->cfg->name, .cgroup = a->cfg->cgroup,
				     .scripts_dir = a->cfg->scripts_dir };

	a->mon = monitor_create(&mc, NULL, util_now_s(), err, errlen);
	return a->mon ? 0 : -1;
}

static int make_events(struct agent *a, char *err, size_t errlen)
{
	a->base = event_base_new();
	a->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!a->base || a->wake_fd < 0) {
		snprintf(err, errlen, "event loop: %s", strerror(errno));
		return -1;
	}
	a->retry_ev = evtimer_new(a->base, try_connect, a);
	a->wake_ev = event_new(a->base, a->wake_fd, EV_READ | EV_PERSIST, on_wake, a);
	a->sig_term = evsignal_new(a->base, SIGTERM, on_signal, a);
	a->sig_int = evsignal_new(a->base, SIGINT, on_signal, a);
	if (!a->retry_ev || !a->wake_ev || !a->sig_term || !a->sig_int ||
	    event_add(a->wake_ev, NULL) < 0 || evsignal_add(a->sig_term, NULL) < 0 ||
	    evsignal_add(a->sig_int, NULL) < 0) {
		snprintf(err, errlen, "event loop: cannot create events");
		return -1;
	}
	return 0;
}

static int start_worker(struct agent *a, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	sigset_t set, old;
	int rc;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cv, &ca);
	pthread_condattr_destroy(&ca);
	sigfillset(&set);
	pthread_sigmask(SIG_BLOCK, &set, &old);  /* signals go to the loop */
	rc = pthread_create(&a->worker, NULL, worker_main, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "worker thread: %s", strerror(rc));
		return -1;
	}
	a->worker_started = 1;
	return 0;
}

static void agent_free(struct agent *a)
{
	if (a->worker_started) {
		pthread_mutex_lock(&a->mu);
		a->stop = 1;
		pthread_cond_signal(&a->cv);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->worker, NULL);
		pthread_cond_destroy(&a->cv);
	}
	agent_local_free(a->local);
	conn_close(a->conn);
	if (a->retry_ev)
		event_free(a->retry_ev);
	if (a->wake_ev)
		event_free(a->wake_ev);
	if (a->sig_term)
		event_free(a->sig_term);
	if (a->sig_int)
		event_free(a->sig_int);
	if (a->base)
		event_base_free(a->base);
	if (a->wake_fd >= 0)
		close(a->wake_fd);
	msg_free(a->last_update);
	msg_free(a->out_update);
	ruleset_free(a->new_rules);
	monitor_free(a->mon);
	auth_key_free(a->key);
	pthread_mutex_destroy(&a->mu);
}

int agent_net_run(const struct agent_net_config *cfg, char *err, size_t errlen)
{
	struct agent a;
	int rc = -1;

	memset(&a, 0, sizeof(a));
	a.cfg = cfg;
	a.wake_fd = -1;
	pthread_mutex_init(&a.mu, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (auth_init() < 0) {
		snprintf(err, errlen, "libsodium: cannot initialise");
		goto out;
	}
	if (cfg->key_file && !(a.key = auth_key_load(cfg->key_file, err, errlen)))
		goto out;
	if (a.key && a.key->host[0] && strcmp(a.key->host, cfg->name) != 0) {
		snprintf(err, errlen, "%s is host %s's key, but this agent is %s (--name)",
			 cfg->key_file, a.key->host, cfg->name);
		goto out;
	}
	if (make_monitor(&a, err, errlen) < 0 || make_events(&a, err, errlen) < 0 ||
	    make_local(&a, err, errlen) < 0 || start_worker(&a, err, errlen) < 0)
		goto out;
	log_info("%s: reporting to %s%s", cfg->name, cfg->registry,
		 a.key ? " (authenticated)" : "");
	try_connect(-1, 0, &a);
	event_base_dispatch(a.base);
	if (a.bye[0]) {
		snprintf(err, errlen, "%s", a.bye);
		rc = -2;
		goto out;
	}
	rc = 0;
out:
	agent_free(&a);
	return rc;
}
