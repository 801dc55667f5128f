/* mig_mpi.c — rank migration for MPI programs; see mig_mpi.h and migrate.h. */
#include <mpi.h>

#include "migrate/mig_mpi.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/util.h"
#include "migrate/mig_core.h"
#include "migrate/mig_encode.h"
#include "migrate/mig_sum.h"

uint64_t mig_mpi_polls_;
uint64_t mig_mpi_next_;

struct test_move {                /* one RESCHED_MPI_TEST_MIGRATE entry */
	int rank;
	uint64_t poll;
	char host[128];
	int used;
};

struct mpi_state {
	int up, finished, retired;
	MPI_Comm app, ctl;                        /* owned */
	MPI_Comm retired_c[MIG_MPI_RETIRED_MAX];  /* owned */
	int nretired;
	MPI_Comm spawned;     /* every rank: intercomm to the last successor, owned */
	MPI_Comm parent;      /* successor: intercomm to the job that spawned it */
	int src;              /* successor: its predecessor's rank in merged */
	MPI_Request agree;                        /* MPI_REQUEST_NULL: none */
	int64_t agree_in[2], agree_out[2];
	uint64_t k, round_polls;
	double round_t, agree_ms;
	int want;                                 /* this rank asks to move */
	char host[256];
	char token[MIG_TOKEN_MAX + 1];            /* the agent's command's */
	double t_trigger;
	struct test_move test[MIG_MPI_TEST_MAX];
	int ntest;
	unsigned char *rbuf;                      /* successor: the stream, owned */
	size_t rlen;
	int restore_pending;
	int registered;                           /* successor: as its job */
	int collective;               /* spawn over ctl (RESCHED_MPI_SPAWN) */
	int early;                    /* retired processes leave at once (the
	                               * job's choice, early_exit_ok; a successor
	                               * learns it from its source) */
};

static struct mpi_state S = { .app = MPI_COMM_NULL, .ctl = MPI_COMM_NULL,
			      .spawned = MPI_COMM_NULL, .parent = MPI_COMM_NULL,
			      .agree = MPI_REQUEST_NULL };

static void drop(MPI_Comm *c);

/* Phase times of one move, monotonic seconds. */
struct mv {
	int m;                        /* moving rank */
	const char *label;
	double t0, agree, spawn, merge, sent, ack, split;    /* monotonic s */
	uint64_t bytes;
	char exe[PATH_MAX];           /* moving rank: its program, for the spawn */
	char err[MIG_ERR_LEN];
};

static int rank_of(MPI_Comm c)
{
	int r;

	MPI_Comm_rank(c, &r);
	return r;
}

static void nap_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/* Wait for r within timeout_s, testing and napping (st may be
 * MPI_STATUS_IGNORE); -1 on timeout (the request is cancelled). */
static int wait_req(MPI_Request *r, MPI_Status *st, double timeout_s, char *err,
		    size_t errlen)
{
	double end = util_now_s() + timeout_s;
	int done = 0;

	for (long spin = 0;; spin++) {
		MPI_Test(r, &done, st);
		if (done)
			return 0;
		if (util_now_s() > end)
			break;
		if (spin > 100)
			nap_us(50);
	}
	MPI_Cancel(r);
	MPI_Request_free(r);
	snprintf(err, errlen, "timeout after %.0f s", timeout_s);
	return -1;
}

static double io_timeout(void)
{
	return mig_env_num("RESCHED_MIGRATE_TIMEOUT", 60);
}

/* ---- the stream over MPI (source side) ---------------------------------- */
struct mpio {
	struct mig_io io;         /* first */
	MPI_Comm comm;            /* not owned */
	int peer;
	unsigned char *buf;       /* owned, MIG_CHUNK bytes */
	size_t len;
	uint64_t off;             /* bytes sent before buf */
	int64_t corrupt_at;       /* test hook, -1 off */
	char ans[256];
	int alen, apos;
};

static int mpio_send(struct mpio *x, int tag, const void *p, size_t n,
		     char *err, size_t errlen)
{
	MPI_Request r;

	MPI_Isend(p, (int)n, MPI_BYTE, x->peer, tag, x->comm, &r);
	return wait_req(&r, MPI_STATUS_IGNORE, io_timeout(), err, errlen);
}

static int mpio_flush(struct mpio *x, char *err, size_t errlen)
{
	if (!x->len)
		return 0;
	if (x->corrupt_at >= 0 && (uint64_t)x->corrupt_at >= x->off &&
	    (uint64_t)x->corrupt_at - x->off < x->len) {
		x->buf[(uint64_t)x->corrupt_at - x->off] ^= 0x01;
		x->corrupt_at = -1;
	}
	if (mpio_send(x, MIG_MPI_TAG_DATA, x->buf, x->len, err, errlen) < 0)
		return -1;
	x->off += x->len;
	x->len = 0;
	return 0;
}

static int mpio_write(struct mig_io *io, const void *buf, size_t n, char *err,
		      size_t errlen)
{
	struct mpio *x = (struct mpio *)io;
	const unsigned char *p = buf;

	while (n) {
		size_t k = MIG_CHUNK - x->len < n ? MIG_CHUNK - x->len : n;

		memcpy(x->buf + x->len, p, k);
		x->len += k;
		p += k;
		n -= k;
		if (x->len == MIG_CHUNK && mpio_flush(x, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* Answer lines: one message each, served byte by byte. */
static int mpio_read(struct mig_io *io, void *buf, size_t n, char *err,
		     size_t errlen)
{
	struct mpio *x = (struct mpio *)io;
	unsigned char *p = buf;

	if (mpio_flush(x, err, errlen) < 0)
		return -1;
	while (n) {
		if (x->apos == x->alen) {
			MPI_Request r;
			MPI_Status st;

			MPI_Irecv(x->ans, sizeof(x->ans), MPI_BYTE, x->peer,
				  MIG_MPI_TAG_ANS, x->comm, &r);
			if (wait_req(&r, &st, io_timeout(), err, errlen) < 0)
				return -1;
			MPI_Get_count(&st, MPI_BYTE, &x->alen);
			x->apos = 0;
			if (x->alen <= 0) {
				snprintf(err, errlen, "empty answer");
				return -1;
			}
		}
		*p++ = (unsigned char)x->ans[x->apos++];
		n--;
	}
	return 0;
}

/* ---- the stream over MPI (successor side) ------------------------------- */
static int answer(MPI_Comm c, const char *what, const char *why)
{
	char line[MIG_ERR_LEN + 8];
	int n = snprintf(line, sizeof(line), "%s%s%s\n", what, why ? " " : "",
			 why ? why : "");

	return MPI_Send(line, n, MPI_BYTE, S.src, MIG_MPI_TAG_ANS, c);
}

/* Next message from the predecessor (S.src in c) within the timeout: its
 * tag and bytes appended to S.rbuf. */
static int recv_any(MPI_Comm c, int *tag, char *err, size_t errlen)
{
	double end = util_now_s() + io_timeout();
	MPI_Status st;
	int flag = 0, n;
	unsigned char *nb;

	for (long spin = 0; !flag; spin++) {
		MPI_Iprobe(S.src, MPI_ANY_TAG, c, &flag, &st);
		if (!flag && util_now_s() > end) {
			snprintf(err, errlen, "timeout waiting for the source");
			return -1;
		}
		if (!flag && spin > 100)
			nap_us(50);
	}
	MPI_Get_count(&st, MPI_BYTE, &n);
	nb = realloc(S.rbuf, S.rlen + (size_t)n + 1);
	if (!nb) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	S.rbuf = nb;
	MPI_Recv(S.rbuf + S.rlen, n, MPI_BYTE, S.src, st.MPI_TAG, c, MPI_STATUS_IGNORE);
	S.rlen += (size_t)n;
	*tag = st.MPI_TAG;
	return 0;
}

/* The header (first message): checked as the TCP successor checks it. */
static int recv_head(MPI_Comm c, struct mig_rx *rx, char *err, size_t errlen)
{
	struct mig_memio mem;
	int tag;

	if (recv_any(c, &tag, err, errlen) < 0)
		return -1;
	if (tag != MIG_MPI_TAG_DATA) {
		snprintf(err, errlen, "stream ended before its header");
		return -1;
	}
	mig_memio_init(&mem, S.rbuf, S.rlen);
	if (mig_stream_recv_head(&mem.io, MIG_MPI_TOKEN, rx, err, errlen) != 0)
		return -1;
	return 0;
}

/* The trailer's XXH3 against every byte before it (sender's byte order). */
static int check_sum(const struct mig_rx *rx, char *err, size_t errlen)
{
	uint64_t got;

	if (S.rlen < MIG_HEAD_LEN + 13) {
		snprintf(err, errlen, "stream truncated");
		return -1;
	}
	memcpy(&got, S.rbuf + S.rlen - 8, 8);
	if (rx->swap)
		got = mig_swap64(got);
	if (got != mig_sum_buf(S.rbuf, S.rlen - 8)) {
		snprintf(err, errlen, "checksum mismatch");
		return -1;
	}
	return 0;
}

/* The registry's answer to the successor's claim: the job id of the first
 * `registered` line that carries one, within MIG_MPI_REGISTER_S.  0 or -1
 * with err. */
static int await_job(char *job, size_t size, char *err, size_t errlen)
{
	double end = util_now_s() + MIG_MPI_REGISTER_S;
	char why[MIG_ERR_LEN];

	while (mig_local_up(&mig_g.local)) {
		int left = (int)((end - util_now_s()) * 1000);
		struct msg *m;

		if (left <= 0)
			break;
		if (!(m = mig_local_recv(&mig_g.local, left, why, sizeof(why)))) {
			snprintf(err, errlen, "destination agent at %.100s: %.100s",
				 mig_g.local.path, why);
			return -1;
		}
		if (!strcmp(msg_type(m), "registered") && msg_get(m, "job")) {
			snprintf(job, size, "%s", msg_get(m, "job"));
			msg_free(m);
			return 0;
		}
		msg_free(m);
	}
	snprintf(err, errlen, "destination agent at %.100s: %s", mig_g.local.path,
		 mig_local_up(&mig_g.local) ? "no job id within 10 s" : "connection closed");
	return -1;
}

/* The successor registers as its predecessor's job before it takes the
 * state over (so that a destination whose agent or registry will not have
 * it fails the move, and the rank stays on its source).  A move the
 * registry ordered carries its token, and the registry must confirm the
 * job id; a move it did not order (the test hook) registers as it can. */
static int register_successor(const struct mig_mpi_hand *h, int rank, int size,
			      char *err, size_t errlen)
{
	char job[64];

	snprintf(mig_g.mpi.ns, sizeof(mig_g.mpi.ns), "%s", h->ns);
	mig_g.mpi.rank = rank;
	mig_g.mpi.size = size;
	snprintf(mig_g.job, sizeof(mig_g.job), "%s", h->job);
	if (!mig_local_up(&mig_g.local))   /* connected only now: see mig_init */
		mig_local_open(&mig_g.local, err, errlen);
	if (!mig_local_up(&mig_g.local)) {
		if (!h->token[0])
			return 0;
		snprintf(err, errlen, "no agent at %.150s on the destination",
			 mig_g.local.path);
		return -1;
	}
	mig_register(h->job[0] ? h->job : "0", h->token[0] ? h->token : NULL);
	if (!h->token[0])
		return 0;
	if (await_job(job, sizeof(job), err, errlen) < 0)
		return -1;
	if (strcmp(job, h->job) != 0) {
		snprintf(err, errlen, "the registry gave the successor job %.20s, not %.20s",
			 job, h->job);
		return -1;
	}
	S.registered = 1;
	return 0;
}

/* Receive the whole stream into S.rbuf, register, and answer; 0 when
 * acknowledged. */
static int recv_stream(MPI_Comm c, const struct mig_mpi_hand *h, int rank)
{
	struct mig_rx rx = { 0 };
	char err[MIG_ERR_LEN];
	int tag = MIG_MPI_TAG_DATA, rc = -1, size;

	if (recv_head(c, &rx, err, sizeof(err)) < 0)
		goto out;
	answer(c, "go", NULL);
	while (tag == MIG_MPI_TAG_DATA) {
		if (recv_any(c, &tag, err, sizeof(err)) < 0)
			goto out;
	}
	if (check_sum(&rx, err, sizeof(err)) < 0)
		goto out;
	MPI_Comm_size(c, &size);
	if (register_successor(h, rank, size - 1, err, sizeof(err)) < 0)
		goto out;
	rc = 0;
out:
	answer(c, rc ? "err" : "ok", rc ? err : NULL);
	if (rc)
		fprintf(stderr, "%s: libmigrate: restore failed: %s\n", mig_g.prog, err);
	mig_rx_release(&rx);
	return rc;
}

/* ---- agreement rounds ---------------------------------------------------- */
static void start_round(void)
{
	double now = util_now_s(), dt = now - S.round_t;
	uint64_t polls = mig_mpi_polls_ - S.round_polls;
	double kp = dt > 0 ? (double)polls * (S.agree_ms / 1000.0) / dt : 1;

	if (kp < 1)
		kp = 1;
	if (kp > (double)(1 << 30))
		kp = (double)(1 << 30);
	S.agree_in[0] = S.want ? rank_of(S.ctl) + 1 : 0;
	S.agree_in[1] = -(int64_t)kp;
	MPI_Iallreduce(S.agree_in, S.agree_out, 2, MPI_INT64_T, MPI_MAX, S.ctl,
		       &S.agree);
	S.round_t = now;
	S.round_polls = mig_mpi_polls_;
	mig_mpi_next_ = mig_mpi_polls_ + S.k;
}

/* Complete the running round: the rank that moves now, or -1. */
static int finish_round(void)
{
	if (S.agree == MPI_REQUEST_NULL)
		return -1;
	MPI_Wait(&S.agree, MPI_STATUS_IGNORE);
	S.k = (uint64_t)-S.agree_out[1];
	return (int)S.agree_out[0] - 1;
}

/* ---- triggers ------------------------------------------------------------ */
static void parse_test_hook(void)
{
	const char *spec = getenv("RESCHED_MPI_TEST_MIGRATE");
	char *copy, *tok, *save = NULL;

	if (!spec || !*spec || !(copy = strdup(spec)))
		return;
	for (tok = strtok_r(copy, ",", &save); tok && S.ntest < MIG_MPI_TEST_MAX;
	     tok = strtok_r(NULL, ",", &save)) {
		struct test_move *t = &S.test[S.ntest];
		unsigned long long poll;

		if (sscanf(tok, "%d:%llu:%127s", &t->rank, &poll, t->host) != 3) {
			fprintf(stderr, "%s: libmigrate: bad RESCHED_MPI_TEST_MIGRATE "
				"entry \"%s\"\n", mig_g.prog, tok);
			continue;
		}
		t->poll = poll;
		S.ntest++;
	}
	free(copy);
}

static void want_move(const char *host, const char *token, double t0)
{
	snprintf(S.host, sizeof(S.host), "%s", host);
	snprintf(S.token, sizeof(S.token), "%s", token ? token : "");
	S.want = 1;
	S.t_trigger = t0;
}

static void check_test_hook(void)
{
	int me = rank_of(S.app);

	for (int i = 0; i < S.ntest && !S.want; i++) {
		struct test_move *t = &S.test[i];

		if (!t->used && t->rank == me && mig_mpi_polls_ >= t->poll) {
			t->used = 1;
			want_move(t->host, NULL, util_now_s());
		}
	}
}

/* The destination address from the agent's `migrate` command: `host=`, or
 * the address part of `to=ADDR:PORT`, or `dest=`. */
static int command_host(const struct msg *m, char *out, size_t size)
{
	const char *h = msg_get(m, "host"), *to = msg_get(m, "to");

	if (h && *h) {
		snprintf(out, size, "%s", h);
		return 0;
	}
	if (to && *to) {
		const char *colon = strrchr(to, ':');
		size_t n = colon ? (size_t)(colon - to) : strlen(to);

		if (to[0] == '[' && n >= 2 && to[n - 1] == ']')
			snprintf(out, size, "%.*s", (int)(n - 2), to + 1);
		else
			snprintf(out, size, "%.*s", (int)n, to);
		return 0;
	}
	h = msg_get(m, "dest");
	if (!h || !*h)
		return -1;
	snprintf(out, size, "%s", h);
	return 0;
}

/* After the trigger signal: read the agent's command (it precedes the
 * signal); a `migrate` line makes this rank ask to move.  The move's time
 * starts at the signal; a signal time already used by an earlier command
 * (its flag was raised again before this command's signal came) is not
 * this command's: then it starts now. */
static void take_signal(void)
{
	static double used;
	double end = util_now_s() + 2.0, t0;
	char err[MSG_ERR_LEN], host[256];

	mig_pending_ = 0;
	t0 = (double)mig_trigger_ts.tv_sec + mig_trigger_ts.tv_nsec / 1e9;
	if (t0 <= used)
		t0 = util_now_s();
	used = t0;
	while (mig_local_up(&mig_g.local)) {
		int left = (int)((end - util_now_s()) * 1000);
		struct msg *m = mig_local_recv(&mig_g.local, left > 0 ? left : 0,
					       err, sizeof(err));

		if (!m)
			return;
		if (!strcmp(msg_type(m), "registered") && msg_get(m, "job"))
			snprintf(mig_g.job, sizeof(mig_g.job), "%s", msg_get(m, "job"));
		if (!strcmp(msg_type(m), "migrate") &&
		    command_host(m, host, sizeof(host)) == 0) {
			double sent;

			/* the agent's own clock reading (CLOCK_MONOTONIC, one
			 * host): when the command was given, whatever signal
			 * raised the flag we are here for */
			if (msg_get_num(m, "sent", &sent) == 0 && sent > 0 &&
			    sent <= util_now_s())
				t0 = sent;
			want_move(host, msg_get(m, "token"), t0 > 0 ? t0 : util_now_s());
			msg_free(m);
			return;
		}
		msg_free(m);
	}
}

/* ---- reporting ----------------------------------------------------------- */
static void report(const struct mv *mv, int ok)
{
	struct msg *m = msg_new("result");
	double sp = mv->spawn ? mv->spawn : mv->agree;

	if (m) {
		msg_set(m, "ok", ok ? "1" : "0");
		msg_set(m, "reason", mv->err);
		msg_setf(m, "poll_s", "%.6f", mv->agree - mv->t0);
		msg_setf(m, "connect_s", "%.6f", (mv->merge ? mv->merge : sp) - mv->agree);
		msg_setf(m, "transfer_s", "%.6f", mv->sent ? mv->sent - mv->merge : 0.0);
		msg_setf(m, "restore_s", "%.6f", mv->ack ? mv->ack - mv->sent : 0.0);
		msg_setf(m, "bytes", "%llu", (unsigned long long)mv->bytes);
		msg_setf(m, "agree_s", "%.6f", mv->agree - mv->t0);
		msg_setf(m, "spawn_s", "%.6f", sp - mv->agree);
		msg_setf(m, "merge_s", "%.6f", mv->merge ? mv->merge - sp : 0.0);
		msg_setf(m, "split_s", "%.6f", mv->split ? mv->split - mv->ack : 0.0);
		mig_local_send(&mig_g.local, m);
		msg_free(m);
	}
	if (!ok) {
		mig_seterr("migration failed: %s", mv->err);
		fprintf(stderr, "%s: libmigrate: rank %d: migration to %s failed: %s\n",
			mig_g.prog, mv->m, S.host, mv->err);
		return;
	}
	fprintf(stderr, "%s: libmigrate: rank %d migrated to %s in %.3f s: agree %.3f "
		"spawn %.3f merge %.3f transfer %.3f restore %.3f split %.3f "
		"bytes %llu\n", mig_g.prog, mv->m, S.host, mv->split - mv->t0,
		mv->agree - mv->t0, mv->spawn - mv->agree, mv->merge - mv->spawn,
		mv->sent - mv->merge, mv->ack - mv->sent, mv->split - mv->ack,
		(unsigned long long)mv->bytes);
}

/* ---- spawning ------------------------------------------------------------ */
/* With RESCHED_MPI_HOSTFILE, host must be the first word of one of its
 * lines: Open MPI 4.1 hangs mpirun at the end of a job after a spawn on a
 * host outside the allocation, so such a move is refused before. */
static int host_allowed(const char *host, char *err, size_t errlen)
{
	const char *hf = getenv("RESCHED_MPI_HOSTFILE");
	char line[512], word[256];
	FILE *fp;
	int found = 0;

	if (!hf || !*hf)
		return 0;
	fp = fopen(hf, "r");
	if (!fp) {
		snprintf(err, errlen, "RESCHED_MPI_HOSTFILE %.150s: %s", hf, strerror(errno));
		return -1;
	}
	while (!found && fgets(line, sizeof(line), fp))
		found = sscanf(line, "%255s", word) == 1 && !strcmp(word, host);
	fclose(fp);
	if (!found)
		snprintf(err, errlen, "host %.100s is not in the job's hostfile %.100s", host, hf);
	return found ? 0 : -1;
}

static int spawn_info(MPI_Info *info)
{
	char cwd[PATH_MAX];

	MPI_Info_create(info);
	MPI_Info_set(*info, "host", S.host);
	if (getcwd(cwd, sizeof(cwd)))
		MPI_Info_set(*info, "wdir", cwd);
	return 0;
}

/* The moving rank's own program into mv->exe; -1 with mv->err. */
static int own_exe(struct mv *mv)
{
	ssize_t n = readlink("/proc/self/exe", mv->exe, sizeof(mv->exe) - 1);

	if (n <= 0) {
		snprintf(mv->err, sizeof(mv->err), "readlink /proc/self/exe: %s",
			 strerror(errno));
		return -1;
	}
	mv->exe[n] = 0;
	/* the file was replaced (a rebuild) or removed since the job started:
	 * a spawn of it fails in a way that ends the whole job */
	if ((size_t)n > 10 && strcmp(mv->exe + n - 10, " (deleted)") == 0) {
		snprintf(mv->err, sizeof(mv->err), "the program %.150s was replaced "
			 "or removed since this rank started: no successor can run it",
			 mv->exe);
		return -1;
	}
	return 0;
}

/* Rank m: start the successor on S.host over MPI_COMM_SELF, so that a
 * failure stays m's own: in Open MPI 4.1.4 a collective spawn that fails
 * at its root (e.g. a host with no free slot) kills the job's other ranks
 * (a division by zero in ompi_dpm_connect_accept's broadcast, seen here).
 * 1 with *pair = {m, successor}; 0 with mv->err. */
static int spawn_alone(struct mv *mv, MPI_Comm *pair)
{
	char msg[MPI_MAX_ERROR_STRING];
	MPI_Comm inter = MPI_COMM_NULL;
	MPI_Info info = MPI_INFO_NULL;
	int rc, len = 0, code = MPI_SUCCESS;

	spawn_info(&info);
	rc = MPI_Comm_spawn(mv->exe, mig_g.argc > 1 ? mig_g.argv + 1 : MPI_ARGV_NULL, 1,
			    info, 0, MPI_COMM_SELF, &inter, &code);
	MPI_Info_free(&info);
	if (rc != MPI_SUCCESS || code != MPI_SUCCESS) {
		MPI_Error_string(rc != MPI_SUCCESS ? rc : code, msg, &len);
		snprintf(mv->err, sizeof(mv->err), "spawn on %.64s: %.150s", S.host, msg);
		return 0;
	}
	MPI_Intercomm_merge(inter, 0, pair);
	drop(&inter);
	return 1;
}

/* Every rank of ctl, RESCHED_MPI_SPAWN=collective: one collective spawn
 * over ctl (root m) wires the successor to every rank at once. */
static int spawn_together(int m, MPI_Comm *inter, struct mv *mv)
{
	char msg[MPI_MAX_ERROR_STRING];
	MPI_Info info = MPI_INFO_NULL;
	int rc, len = 0, code = MPI_SUCCESS, ok;

	if (rank_of(S.ctl) == m)
		spawn_info(&info);
	rc = MPI_Comm_spawn(mv->exe, mig_g.argc > 1 ? mig_g.argv + 1 : MPI_ARGV_NULL, 1,
			    info, m, S.ctl, inter, &code);
	if (info != MPI_INFO_NULL)
		MPI_Info_free(&info);
	ok = rc == MPI_SUCCESS && code == MPI_SUCCESS;
	MPI_Bcast(&ok, 1, MPI_INT, m, S.ctl);
	if (!ok && rank_of(S.ctl) == m) {
		MPI_Error_string(rc != MPI_SUCCESS ? rc : code, msg, &len);
		snprintf(mv->err, sizeof(mv->err), "spawn on %.64s: %.150s", S.host, msg);
	}
	return ok;
}

/* Every rank of ctl: start the successor on S.host and merge with it ->
 * *merged, successor last.  By default rank m spawns alone (spawn_alone),
 * tells the successor so (an empty MIG_MPI_TAG_JOIN message), and all of
 * them and the successor build one intercommunicator over m's pair
 * (MPI_Intercomm_create).  RESCHED_MPI_SPAWN=collective (the whole job's
 * choice, made by rank 0 at start-up) spawns over ctl instead: one step,
 * faster, but a failed spawn takes the job down (spawn_alone).  The
 * destination was checked against the hostfile, and its program found,
 * before (move_rank).  Returns 1 when the successor runs, on every rank. */
static int spawn_successor(int m, MPI_Comm *merged, struct mv *mv)
{
	MPI_Comm pair = MPI_COMM_NULL, inter = MPI_COMM_NULL;
	int ok = 1, me = rank_of(S.ctl);

	if (S.collective) {
		ok = spawn_together(m, &inter, mv);
		mv->spawn = util_now_s();
	} else {
		if (me == m && (ok = spawn_alone(mv, &pair)))
			MPI_Send(NULL, 0, MPI_BYTE, 1, MIG_MPI_TAG_JOIN, pair);
		MPI_Bcast(&ok, 1, MPI_INT, m, S.ctl);
		mv->spawn = util_now_s();
		if (ok)       /* part of the merge phase */
			MPI_Intercomm_create(S.ctl, m, pair, 1, MIG_MPI_TAG_JOIN, &inter);
	}
	if (!ok)
		return 0;
	MPI_Intercomm_merge(inter, 0, merged);
	mv->merge = util_now_s();
	drop(&pair);
	drop(&S.spawned);
	S.spawned = inter;
	return 1;
}

/* ---- the move, source side ---------------------------------------------- */
static int send_ctl(MPI_Comm c, int peer, int m)
{
	int64_t ctl[MIG_MPI_CTL_N];
	struct mig_mpi_hand h;

	memset(&h, 0, sizeof(h));
	ctl[MIG_MPI_CTL_POLLS] = (int64_t)mig_mpi_polls_;
	ctl[MIG_MPI_CTL_K] = (int64_t)S.k;
	ctl[MIG_MPI_CTL_RANK] = m;
	snprintf(h.job, sizeof(h.job), "%s", mig_g.job);
	snprintf(h.token, sizeof(h.token), "%s", S.token);
	snprintf(h.ns, sizeof(h.ns), "%s", mig_g.mpi.ns);
	MPI_Send(ctl, MIG_MPI_CTL_N, MPI_INT64_T, peer, MIG_MPI_TAG_CTL, c);
	return MPI_Send(&h, (int)sizeof(h), MPI_BYTE, peer, MIG_MPI_TAG_CTL, c);
}

/* Rank m: the state to the successor (last of merged); 1 when acknowledged. */
static int send_state(MPI_Comm merged, struct mv *mv)
{
	struct mpio x = { .io = { mpio_read, mpio_write }, .comm = merged,
			  .corrupt_at = -1 };
	const char *corrupt = getenv("RESCHED_TEST_CORRUPT_AT");
	char line[256];
	int ok = 0;

	x.buf = malloc(MIG_CHUNK);
	if (!x.buf) {
		snprintf(mv->err, sizeof(mv->err), "out of memory");
		return 0;
	}
	MPI_Comm_size(merged, &x.peer);
	x.peer--;
	if (corrupt)
		x.corrupt_at = atoll(corrupt);
	send_ctl(merged, x.peer, mv->m);
	if (mig_stream_send(&x.io, &mig_g.table, MIG_MPI_TOKEN, &mv->bytes, mv->err,
			    sizeof(mv->err)) == 0 &&
	    mpio_flush(&x, mv->err, sizeof(mv->err)) == 0 &&
	    mpio_send(&x, MIG_MPI_TAG_END, "", 0, mv->err, sizeof(mv->err)) == 0) {
		mv->sent = util_now_s();
		mig_local_progress(&mig_g.local, "send", mv->sent - mv->t0, mv->bytes,
				   mv->label);
		ok = mig_stream_answer(&x.io, line, sizeof(line), mv->err,
				       sizeof(mv->err)) == 0;
	}
	if (ok)
		mig_local_progress(&mig_g.local, "verify", util_now_s() - mv->t0,
				   mv->bytes, mv->label);
	free(x.buf);
	return ok;
}

/* Replace app and ctl by a split of merged: on success the old rank m
 * leaves and the successor (last in merged) takes key m; on failure the
 * successor leaves.  Returns the new app communicator or MPI_COMM_NULL. */
static MPI_Comm split_merged(MPI_Comm merged, int m, int ok, int old_rank)
{
	int size, me = rank_of(merged), out, key;
	MPI_Comm next;

	MPI_Comm_size(merged, &size);
	out = ok ? m : size - 1;
	key = me == size - 1 ? m : old_rank;
	MPI_Comm_split(merged, me == out ? MPI_UNDEFINED : 0, key, &next);
	return next;
}

static void install_comms(MPI_Comm app)
{
	if (S.app != MPI_COMM_NULL)
		MPI_Comm_free(&S.app);
	if (S.ctl != MPI_COMM_NULL)
		MPI_Comm_free(&S.ctl);
	S.app = app;
	MPI_Comm_dup(app, &S.ctl);
	/* a spawn that fails must leave the ranks running (the rank stays) */
	MPI_Comm_set_errhandler(S.ctl, MPI_ERRORS_RETURN);
}

static void keep_retired(MPI_Comm merged)
{
	if (S.nretired < MIG_MPI_RETIRED_MAX)
		S.retired_c[S.nretired++] = merged;
}

static void drop(MPI_Comm *c)
{
	if (*c != MPI_COMM_NULL)
		MPI_Comm_free(c);
}

/* Leave the communicators shared with successors' jobs, after the
 * barrier with every member.  They are freed, not disconnected: in Open
 * MPI 4.1 MPI_Comm_disconnect fences over both jobs and never returns
 * (seen here), and MPI_Finalize would try the same with any dynamic
 * communicator still alive. */
static void leave_jobs(void)
{
	drop(&S.spawned);
	drop(&S.parent);
	drop(&S.ctl);
	drop(&S.app);
	for (int i = 0; i < S.nretired; i++)
		drop(&S.retired_c[i]);
	S.nretired = 0;
}

static size_t type_width(int type)
{
	switch (type) {
	case MIG_CHAR: case MIG_BYTES: return 1;
	case MIG_INT32: case MIG_FLOAT: return 4;
	default: return 8;
	}
}

/* A retired process never runs the program again: give the kernel back
 * the pages of its protected arrays (the whole pages inside each array;
 * MADV_DONTNEED leaves the mapping, which reads as zeros if touched) and
 * whatever malloc holds free.  Structures saved by mig_protect_fn callbacks
 * are the program's own and stay.  Returns the bytes released. */
static size_t release_memory(void)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	size_t freed = 0;

	free(S.rbuf);
	S.rbuf = NULL;
	for (size_t i = 0; i < mig_g.table.n; i++) {
		const struct mig_entry *e = &mig_g.table.e[i];
		uintptr_t a = (uintptr_t)e->addr, end;

		if (!e->type || !a)
			continue;
		end = (a + e->count * type_width(e->type)) & ~(pg - 1);
		a = (a + pg - 1) & ~(pg - 1);
		if (end > a && madvise((void *)a, end - a, MADV_DONTNEED) == 0)
			freed += end - a;
	}
	malloc_trim(0);
	return freed;
}

/* Open MPI begins MPI_Finalize with a PMIx fence over every process of
 * the job's launch, a retired one included, so a process that left early
 * would hold the others there forever.  Open MPI's own switch for that
 * fence is ompi_async_mpi_finalize (MCA parameter async_mpi_finalize,
 * read-only through MPI_T, so it is set in the library's variable): every
 * process of a job that had a move sets it, the retired one before it
 * finalizes early, the others when they finalize, and they meet in a
 * barrier of their own instead.  Only with RESCHED_MPI_RETIRE=exit and
 * Open MPI (the variable exists); the job's rank 0 decides at start-up
 * and every move tells the successor (move_rank).  Not the default: in
 * Open MPI 4.1.4 a later spawn onto a host where a process of the job's
 * launch ended this way fails in MPI_Init ("ompi_dpm_dyn_init() failed:
 * Not supported") and takes the job down (docs/MIGRATION.md). */
static bool *fence_switch(void)
{
	return (bool *)dlsym(RTLD_DEFAULT, "ompi_async_mpi_finalize");
}

static int early_exit_ok(void)
{
	const char *how = getenv("RESCHED_MPI_RETIRE");

	return how && !strcmp(how, "exit") && fence_switch() != NULL;
}

static int spawn_collective(void)
{
	const char *how = getenv("RESCHED_MPI_SPAWN");

	return how && !strcmp(how, "collective");
}

static void skip_finalize_fence(void)
{
	bool *off = fence_switch();

	if (off)
		*off = true;
}

/* A retired process leaves: it frees its share of the communicators (never
 * MPI_Comm_disconnect: in Open MPI 4.1 it fences over both jobs and does
 * not return), finalizes and exits at once, which returns all of its
 * memory.  Where the fence cannot be skipped it sleeps until every other
 * member of its merged communicators has reached MPI_Finalize instead:
 * no CPU, and as little memory as it can (release_memory). */
static void __attribute__((noreturn)) retire(void)
{
	MPI_Request req[MIG_MPI_RETIRED_MAX];
	int done = 0;

	mig_local_exit(&mig_g.local, "migrated", 0);
	mig_local_close(&mig_g.local);
	if (S.early) {
		mig_g.migrated = 1;
		S.retired = S.finished = 1;
		skip_finalize_fence();
		leave_jobs();
		MPI_Finalize();
		exit(0);
	}
	release_memory();
	mig_g.migrated = 1;
	S.retired = S.finished = 1;
	for (int i = 0; i < S.nretired; i++)
		MPI_Ibarrier(S.retired_c[i], &req[i]);
	while (!done) {
		MPI_Testall(S.nretired, req, &done, MPI_STATUSES_IGNORE);
		if (!done)
			nap_us(20000);
	}
	leave_jobs();
	MPI_Finalize();
	exit(0);
}

/* Every rank of ctl, at the same poll count: move rank m. */
static void move_rank(int m, const char *label)
{
	struct mv mv = { .m = m, .label = label, .t0 = S.t_trigger,
			 .agree = util_now_s() };
	MPI_Comm merged, next;
	int me = rank_of(S.ctl), ok = 1, old = rank_of(S.app), flags[3];

	if (me == m) {
		mig_local_progress(&mig_g.local, "poll", mv.agree - mv.t0, 0, label);
		ok = host_allowed(S.host, mv.err, sizeof(mv.err)) == 0 &&
		     own_exe(&mv) == 0;
		S.want = 0;
	}
	MPI_Bcast(&ok, 1, MPI_INT, m, S.ctl);
	if (ok)
		ok = spawn_successor(m, &merged, &mv);
	if (!ok) {
		mv.spawn = mv.merge = util_now_s();
		if (me == m)
			report(&mv, 0);
		return;
	}
	if (me == m) {
		mig_local_progress(&mig_g.local, "connect", mv.merge - mv.t0, 0, label);
		ok = send_state(merged, &mv);
		mv.ack = util_now_s();
	}
	flags[0] = ok;
	flags[1] = S.early;
	flags[2] = S.collective;
	MPI_Bcast(flags, 3, MPI_INT, m, merged);
	ok = flags[0];
	S.early = flags[1];
	next = split_merged(merged, m, ok, old);
	if (ok && S.early)
		/* nobody still talks to m on merged when it leaves */
		MPI_Barrier(merged);
	mv.split = util_now_s();
	if (ok) {
		keep_retired(merged);
	} else {
		drop(&merged);
		drop(&S.spawned);
	}
	if (me == m && ok) {
		snprintf(mv.err, sizeof(mv.err), "migrated to %.200s", S.host);
		mig_local_progress(&mig_g.local, "done", mv.split - mv.t0, mv.bytes, label);
		report(&mv, 1);
		retire();
	}
	install_comms(next);
	if (me == m)
		report(&mv, 0);
}

/* ---- finalize ------------------------------------------------------------ */
/* Runs at the start of MPI_Finalize (an attribute of MPI_COMM_SELF): close
 * the last agreement round and meet the retired processes. */
static int on_finalize(MPI_Comm c, int key, void *val, void *extra)
{
	MPI_Request req[MIG_MPI_RETIRED_MAX];

	if (S.finished)
		return MPI_SUCCESS;
	S.finished = 1;
	if (S.agree != MPI_REQUEST_NULL)
		MPI_Wait(&S.agree, MPI_STATUS_IGNORE);
	if (S.nretired && S.early) {
		/* retired processes have left: the live ranks meet here
		 * instead of in the fence */
		skip_finalize_fence();
		MPI_Barrier(S.app);
		leave_jobs();
		return MPI_SUCCESS;
	}
	for (int i = 0; i < S.nretired; i++)
		MPI_Ibarrier(S.retired_c[i], &req[i]);
	MPI_Waitall(S.nretired, req, MPI_STATUSES_IGNORE);
	if (S.nretired)
		leave_jobs();
	return MPI_SUCCESS;
}

static void hook_finalize(void)
{
	int key;

	MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, on_finalize, &key, NULL);
	MPI_Comm_set_attr(MPI_COMM_SELF, key, NULL);
}

/* ---- set-up -------------------------------------------------------------- */
/* A successor whose state was refused: the reason is on stderr already
 * ("restore failed: ..."); it leaves quietly, the source goes on. */
static void __attribute__((noreturn)) successor_abandon(MPI_Comm merged)
{
	if (S.registered)             /* the job stays its predecessor's */
		mig_local_exit(&mig_g.local, "abandoned", 0);
	mig_local_close(&mig_g.local);
	mig_g.migrated = 1;           /* no exit line at exit */
	drop(&merged);
	drop(&S.spawned);
	drop(&S.parent);
	S.finished = 1;
	MPI_Finalize();
	exit(0);      /* mpirun aborts the whole job on a non-zero status */
}

/* A spawned successor: join the job, take the state, take the rank. */
static void setup_successor(MPI_Comm parent)
{
	MPI_Comm merged, next, pair, inter;
	MPI_Status st;
	int64_t ctl[MIG_MPI_CTL_N];
	struct mig_mpi_hand h;
	int ok;

	S.parent = parent;
	MPI_Intercomm_merge(parent, 1, &pair);
	MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, pair, &st);
	if (st.MPI_TAG == MIG_MPI_TAG_JOIN) {
		/* spawned by its source alone: pair is {source, this}; join
		 * the others */
		MPI_Recv(NULL, 0, MPI_BYTE, 0, MIG_MPI_TAG_JOIN, pair, MPI_STATUS_IGNORE);
		MPI_Intercomm_create(MPI_COMM_SELF, 0, pair, 0, MIG_MPI_TAG_JOIN, &inter);
		MPI_Intercomm_merge(inter, 1, &merged);   /* the job, this last */
		drop(&pair);
		S.spawned = inter;
	} else {
		merged = pair;        /* a collective spawn: the whole job */
	}
	MPI_Recv(ctl, MIG_MPI_CTL_N, MPI_INT64_T, MPI_ANY_SOURCE, MIG_MPI_TAG_CTL,
		 merged, &st);
	S.src = st.MPI_SOURCE;
	MPI_Recv(&h, (int)sizeof(h), MPI_BYTE, S.src, MIG_MPI_TAG_CTL, merged,
		 MPI_STATUS_IGNORE);
	h.job[sizeof(h.job) - 1] = 0;
	h.token[sizeof(h.token) - 1] = 0;
	h.ns[sizeof(h.ns) - 1] = 0;
	ok = recv_stream(merged, &h, (int)ctl[MIG_MPI_CTL_RANK]) == 0;
	{
		int flags[3] = { ok, 0, 0 };

		MPI_Bcast(flags, 3, MPI_INT, S.src, merged);
		ok = flags[0];
		S.early = flags[1];
		S.collective = flags[2];
	}
	next = split_merged(merged, (int)ctl[MIG_MPI_CTL_RANK], ok, -1);
	if (!ok)
		successor_abandon(merged);
	if (S.early)
		MPI_Barrier(merged);
	keep_retired(merged);
	install_comms(next);
	mig_mpi_polls_ = (uint64_t)ctl[MIG_MPI_CTL_POLLS];
	S.k = (uint64_t)ctl[MIG_MPI_CTL_K];
	for (int i = 0; i < S.ntest; i++)
		S.test[i].used = S.test[i].poll <= mig_mpi_polls_;
	S.restore_pending = 1;
}

static void setup(void)
{
	MPI_Comm parent;

	S.up = 1;
	S.k = 1;
	/* ranks read the agent only at agreed rounds: no wake-ups by the
	 * socket, and no re-registering (the ranks must agree on it) */
	mig_g.no_reconnect = 1;
	mig_local_async(&mig_g.local, 0);
	S.agree_ms = mig_env_num("RESCHED_MPI_AGREE_MS", MIG_MPI_AGREE_MS);
	S.round_t = util_now_s();
	MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
	parse_test_hook();
	hook_finalize();
	MPI_Comm_get_parent(&parent);
	if (parent != MPI_COMM_NULL)
		setup_successor(parent);
	else {
		MPI_Comm app;

		MPI_Comm_dup(MPI_COMM_WORLD, &app);
		install_comms(app);
		int job[2] = { early_exit_ok(), spawn_collective() };

		MPI_Bcast(job, 2, MPI_INT, 0, S.ctl);  /* rank 0's word for the job */
		S.early = job[0];
		S.collective = job[1];
	}
	S.round_polls = mig_mpi_polls_;
	start_round();
	if (S.restore_pending)
		mig_mpi_next_ = 0;       /* the first poll restores */
}

/* ---- restore (successor) ------------------------------------------------- */
/* The buffered stream into the protected memory.  The source is gone by
 * now (it retired after the checksum was acknowledged), so a program that
 * protects something else than its predecessor cannot go on: abort. */
static void restore_finish(void)
{
	struct mig_memio mem;
	struct mig_rx rx;
	char err[MIG_ERR_LEN];

	S.restore_pending = 0;
	mig_memio_init(&mem, S.rbuf, S.rlen);
	if (mig_stream_recv_head(&mem.io, MIG_MPI_TOKEN, &rx, err, sizeof(err)) != 0 ||
	    mig_stream_recv_body(&mem.io, &rx, &mig_g.table, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: libmigrate: restore failed: %s\n", mig_g.prog, err);
		MPI_Abort(S.app, MIG_EXIT_RESTORE);
	}
	mig_rx_release(&rx);
	free(S.rbuf);
	S.rbuf = NULL;
	S.rlen = 0;
	mig_g.restored = 1;
	mig_mpi_next_ = S.round_polls + S.k;
}

/* ---- registration ------------------------------------------------------- */
/* The first words of RESCHED_MPI_HOSTFILE's lines, comma-separated, or
 * NULL (no file, or more than 32 KiB of names).  Caller frees. */
static char *hostfile_hosts(void)
{
	const char *hf = getenv("RESCHED_MPI_HOSTFILE");
	char line[512], word[256], *out;
	size_t len = 0, cap = 32 * 1024;
	FILE *fp;

	if (!hf || !*hf || !(fp = fopen(hf, "r")))
		return NULL;
	if (!(out = malloc(cap))) {
		fclose(fp);
		return NULL;
	}
	out[0] = 0;
	while (fgets(line, sizeof(line), fp)) {
		size_t n;

		if (sscanf(line, "%255s", word) != 1 || word[0] == '#')
			continue;
		n = strlen(word);
		if (len + n + 2 > cap) {
			free(out);
			out = NULL;
			break;
		}
		len += (size_t)sprintf(out + len, "%s%s", len ? "," : "", word);
	}
	fclose(fp);
	return out;
}

/* mig_init's hook (mig_core.h): who this rank is, for its registration. */
static int mpi_init_hook(void)
{
	const char *ns = getenv("PMIX_NAMESPACE");
	MPI_Comm parent;
	int up = 0;

	MPI_Initialized(&up);
	if (!up)
		return 0;             /* mig_init before MPI_Init: a plain process */
	MPI_Comm_get_parent(&parent);
	if (parent != MPI_COMM_NULL)
		return 1;
	if (!ns || !*ns)
		ns = getenv("OMPI_MCA_ess_base_jobid");
	snprintf(mig_g.mpi.ns, sizeof(mig_g.mpi.ns), "%s", ns && *ns ? ns : "unknown");
	MPI_Comm_rank(MPI_COMM_WORLD, &mig_g.mpi.rank);
	MPI_Comm_size(MPI_COMM_WORLD, &mig_g.mpi.size);
	mig_g.mpi.hosts = hostfile_hosts();
	return 0;
}

static void __attribute__((constructor)) install_hook(void)
{
	mig_mpi_init_hook = mpi_init_hook;
}

/* ---- public -------------------------------------------------------------- */
MPI_Comm mig_comm(void)
{
	if (!S.up)
		setup();
	return S.app;
}

int mig_mpi_restored(void)
{
	if (!S.up)
		setup();
	if (S.restore_pending)
		restore_finish();
	return mig_g.restored;
}

void mig_mpi_poll_slow(const char *label)
{
	int m;

	if (!S.up)
		setup();
	if (S.restore_pending)
		restore_finish();
	if (S.finished || mig_g.finalized) {
		mig_mpi_next_ = UINT64_MAX;   /* no more rounds */
		return;
	}
	if (mig_mpi_polls_ < mig_mpi_next_)
		return;
	check_test_hook();
	if (mig_pending_ && !S.want)
		take_signal();
	m = finish_round();
	if (m >= 0)
		move_rank(m, label);
	start_round();
}
