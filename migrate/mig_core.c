/* mig_core.c — mig_init, protection, poll dispatch, finalize; see migrate.h. */
#include "migrate/mig_core.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "migrate/mig_schema.h"

struct mig_state mig_g = { .rfd = -1, .local = { .fd = -1 } };
volatile sig_atomic_t mig_pending_;
static volatile sig_atomic_t wake_user, wake_retry;
struct timespec mig_trigger_ts;
static int trigger_signo;

void mig_seterr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(mig_g.err, sizeof(mig_g.err), fmt, ap);
	va_end(ap);
}

const char *mig_strerror(void)
{
	return mig_g.err[0] ? mig_g.err : "no error";
}

double mig_env_num(const char *name, double dflt)
{
	const char *s = getenv(name);
	double v;

	return s && util_parse_double(s, &v) == 0 && v > 0 ? v : dflt;
}

/* The handler only records when and why, and sets the flag
 * (clock_gettime is async-signal-safe).  Three senders share the signal:
 * the agent's kill (the trigger), the kernel for the agent socket
 * (O_ASYNC: a line came, or the agent went away), and the reconnect
 * timer. */
static void on_trigger(int sig, siginfo_t *si, void *uc)
{
	if (si && si->si_code == SI_TIMER) {
		wake_retry = 1;
	} else {
		clock_gettime(CLOCK_MONOTONIC, &mig_trigger_ts);
		if (!si || si->si_code <= 0)
			wake_user = 1;     /* kill(2): SI_USER, SI_QUEUE, SI_TKILL */
	}
	mig_pending_ = 1;
}

/* RESCHED_SIGNAL: a number, or a name with or without "SIG". */
static int trigger_signal(void)
{
	const char *s = getenv("RESCHED_SIGNAL");
	double v;

	if (!s || !*s)
		return SIGUSR1;
	if (util_parse_double(s, &v) == 0)
		return v >= 1 && v < NSIG ? (int)v : -1;
	if (!strncmp(s, "SIG", 3))
		s += 3;
	for (int i = 1; i < NSIG; i++) {
		const char *n = sigabbrev_np(i);

		if (n && !strcmp(n, s))
			return i;
	}
	return -1;
}

static int install_trigger(void)
{
	struct sigaction sa;
	int sig = trigger_signal();

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_trigger;
	sa.sa_flags = SA_RESTART | SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sig < 0 || sig == SIGKILL || sig == SIGSTOP) {
		mig_seterr("bad RESCHED_SIGNAL \"%s\"", getenv("RESCHED_SIGNAL"));
		return -1;
	}
	if (sigaction(sig, &sa, NULL) < 0) {
		mig_seterr("sigaction: %s", strerror(errno));
		return -1;
	}
	trigger_signo = sig;
	return 0;
}

/* Remove "--mig-schema FILE" / "--mig-schema=FILE" from argv. */
static int take_schema_arg(int *argc, char **argv, const char **path)
{
	for (int i = 1; i < *argc; i++) {
		int drop = 0;

		if (!strcmp(argv[i], "--mig-schema")) {
			if (i + 1 >= *argc) {
				mig_seterr("--mig-schema needs a FILE");
				return -1;
			}
			*path = argv[i + 1];
			drop = 2;
		} else if (!strncmp(argv[i], "--mig-schema=", 13)) {
			*path = argv[i] + 13;
			drop = 1;
		}
		if (drop) {
			memmove(argv + i, argv + i + drop,
				(size_t)(*argc - i - drop + 1) * sizeof(*argv));
			*argc -= drop;
			i--;
		}
	}
	return 0;
}

static int load_schema(const char *path)
{
	struct mig_schema s;
	char err[MIG_ERR_LEN];

	if (!path)
		path = getenv("RESCHED_SCHEMA");
	if (!path || !*path)
		return 0;
	if (mig_schema_load(path, &s, &mig_g.schema_xml, err, sizeof(err)) < 0) {
		mig_seterr("schema %s", err);
		return -1;
	}
	return 0;
}

static void connect_agent(void)
{
	static int warned;
	char err[MIG_ERR_LEN];

	if (mig_local_open(&mig_g.local, err, sizeof(err)) == 0) {
		mig_local_async(&mig_g.local, trigger_signo);
		return;
	}
	if (warned)
		return;
	warned = 1;
	fprintf(stderr, "%s: libmigrate: no agent at %s: cannot migrate\n",
		mig_g.prog, mig_g.local.path);
}

int (*mig_mpi_init_hook)(void);

void mig_register(const char *job, const char *token)
{
	struct mig_reg_info ri = { .argc = mig_g.argc, .argv = mig_g.argv,
				   .start = mig_g.start, .schema = mig_g.schema_xml,
				   .job = job, .token = token };

	if (mig_g.mpi.ns[0]) {
		ri.mpi_ns = mig_g.mpi.ns;
		ri.mpi_rank = mig_g.mpi.rank;
		ri.mpi_size = mig_g.mpi.size;
		ri.mpi_hosts = mig_g.mpi.hosts;
	}
	mig_local_register(&mig_g.local, &ri);
}

/* The first `register`: the agent answers at once, `registered` [job=J],
 * or `refused reason=...` and closes.  An agent that says nothing within
 * MIG_ACK_WAIT_MS is taken as having heard us (it answers later, if at
 * all); one that refuses is reported once, with its reason. */
#define MIG_ACK_WAIT_MS 2000
static void register_first(void)
{
	double end = util_now_s() + MIG_ACK_WAIT_MS / 1000.0;
	char err[MIG_ERR_LEN];

	if (!mig_local_up(&mig_g.local))
		return;
	mig_register(NULL, NULL);
	while (mig_local_up(&mig_g.local)) {
		int left = (int)((end - util_now_s()) * 1000);
		struct msg *m;
		int done;

		if (left <= 0)
			break;
		if (!(m = mig_local_recv(&mig_g.local, left, err, sizeof(err))))
			break;
		done = !strcmp(msg_type(m), "registered");
		if (done && msg_get(m, "job"))
			snprintf(mig_g.job, sizeof(mig_g.job), "%s", msg_get(m, "job"));
		msg_free(m);
		if (done)
			break;
	}
	if (mig_local_up(&mig_g.local))
		return;
	if (mig_g.local.refused[0])
		mig_seterr("agent at %s refused this process: %s", mig_g.local.path,
			   mig_g.local.refused);
	else
		mig_seterr("agent at %s closed the connection", mig_g.local.path);
	fprintf(stderr, "%s: libmigrate: %s: cannot migrate\n", mig_g.prog, mig_g.err);
}

static void at_exit(int status, void *arg)
{
	if (mig_g.finalized || mig_g.migrated || !mig_local_up(&mig_g.local))
		return;
	mig_local_exit(&mig_g.local, status == 0 ? "done" : "failed", status);
	mig_local_close(&mig_g.local);
}

static void set_prog(const char *argv0)
{
	const char *b = argv0 ? strrchr(argv0, '/') : NULL;

	snprintf(mig_g.prog, sizeof(mig_g.prog), "%s",
		 b ? b + 1 : argv0 ? argv0 : "program");
}

int mig_init(int *argc, char ***argv)
{
	const char *schema = NULL;

	if (mig_g.inited)
		return 0;
	set_prog(*argc > 0 ? (*argv)[0] : NULL);
	if (take_schema_arg(argc, *argv, &schema) < 0 || load_schema(schema) < 0 ||
	    install_trigger() < 0)
		return -1;
	mig_g.argc = *argc;
	mig_g.argv = *argv;
	mig_g.start = util_wall_s();
	on_exit(at_exit, NULL);
	mig_g.inited = 1;
	if (getenv("RESCHED_RESTORE_TOKEN")) {
		connect_agent();
		return mig_restore_begin();
	}
	/* an MPI successor connects and registers once its state is in
	 * (mig_mpi.c): the agent gives a connection 10 s to register */
	if (mig_mpi_init_hook && mig_mpi_init_hook() == 1)
		return 0;
	connect_agent();
	register_first();
	return 0;
}

int mig_protect(const char *name, void *addr, size_t count, enum mig_type type)
{
	struct mig_entry e = { .type = (int)type, .addr = addr, .count = count };

	if (!name || strlen(name) >= sizeof(e.name)) {
		mig_seterr("bad name");
		return -1;
	}
	strcpy(e.name, name);
	return mig_table_add(&mig_g.table, &e, mig_g.err, sizeof(mig_g.err));
}

int mig_protect_fn(const char *name, mig_save_fn save, mig_load_fn load, void *ctx)
{
	struct mig_entry e = { .save = save, .load = load, .ctx = ctx };

	if (!name || strlen(name) >= sizeof(e.name)) {
		mig_seterr("bad name");
		return -1;
	}
	strcpy(e.name, name);
	return mig_table_add(&mig_g.table, &e, mig_g.err, sizeof(mig_g.err));
}

int mig_unprotect(const char *name)
{
	if (!name || mig_table_remove(&mig_g.table, name) < 0) {
		mig_seterr("%s: not protected", name ? name : "(null)");
		return -1;
	}
	return 0;
}

int mig_restored(void)
{
	if (mig_g.restore_pending)
		mig_restore_finish();
	return mig_g.restored;
}

/* ---- the agent went away: connect and register again ------------------
 * At the poll point that notices (the kernel signalled the socket's end),
 * then from a one-shot timer on the trigger signal, 1 2 4 8 16 30 30 ...
 * seconds apart, MIG_RECONNECT_TRIES times in all; never in a loop.  The
 * new `register` carries `job=J again=1` when the job id is known: the
 * agent gives it back only to the same process (docs/LOCAL-PROTOCOL.md). */
#define MIG_RECONNECT_TRIES 10
static timer_t retry_timer;
static int have_timer, tries, retry_armed;

static void arm_retry(void)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL };
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };

	if (tries >= MIG_RECONNECT_TRIES) {
		mig_seterr("agent at %s gone; %d reconnects failed", mig_g.local.path, tries);
		fprintf(stderr, "%s: libmigrate: %s: cannot migrate any more\n", mig_g.prog,
			mig_g.err);
		tries++;
		return;
	}
	sev.sigev_signo = trigger_signo;
	if (!have_timer && timer_create(CLOCK_MONOTONIC, &sev, &retry_timer) < 0)
		return;
	have_timer = 1;
	its.it_value.tv_sec = tries < 5 ? 1L << tries : 30;
	tries++;
	retry_armed = timer_settime(retry_timer, 0, &its, NULL) == 0;
}

static void reconnect(int timer_fired)
{
	struct mig_reg_info ri = { .argc = mig_g.argc, .argv = mig_g.argv,
				   .start = mig_g.start, .schema = mig_g.schema_xml,
				   .job = mig_g.job[0] ? mig_g.job : NULL, .again = 1,
				   .token = mig_g.claim_token };
	char err[MIG_ERR_LEN];

	if (tries > MIG_RECONNECT_TRIES || mig_g.local.refused[0] ||
	    (retry_armed && !timer_fired))
		return;
	retry_armed = 0;
	if (mig_local_open(&mig_g.local, err, sizeof(err)) < 0) {
		arm_retry();
		return;
	}
	mig_local_async(&mig_g.local, trigger_signo);
	if (mig_local_register(&mig_g.local, &ri) < 0) {
		arm_retry();
		return;
	}
	fprintf(stderr, "%s: libmigrate: registered again with the agent at %s%s%s\n",
		mig_g.prog, mig_g.local.path, ri.job ? " as job " : "", ri.job ? ri.job : "");
	tries = 0;
}

void mig_poll_slow(const char *label)
{
	int user = wake_user, timer = wake_retry;

	mig_pending_ = 0;
	wake_user = wake_retry = 0;
	if (mig_g.restore_pending) {
		mig_restore_finish();
		return;
	}
	if (mig_g.finalized || !mig_g.inited)
		return;
	if (mig_local_up(&mig_g.local))
		mig_move(label, user);
	if (!mig_local_up(&mig_g.local) && !mig_g.migrated && !mig_g.no_reconnect)
		reconnect(timer);
}

void mig_finalize(void)
{
	if (mig_g.restore_pending)
		mig_restore_finish();
	if (mig_g.finalized)
		return;
	mig_g.finalized = 1;
	mig_pending_ = 0;
	mig_local_exit(&mig_g.local, "done", 0);
	mig_local_close(&mig_g.local);
}
