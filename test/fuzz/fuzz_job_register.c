/* fuzz_job_register.c — libFuzzer harness for what the registry and the
 * destination agent read out of a job_register / prepare line beyond the
 * message framing (fuzz_msg covers that): the MPI keys (reg_mpi_parse) and
 * the job's context (jobctx_from_msg).  Whatever they accept must satisfy
 * their documented bounds, and an accepted context must encode back to a
 * message that parses to the same encoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/jobctx.h"
#include "common/msg.h"
#include "fs/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_mpi(const struct msg *m)
{
	struct reg_proc_info p;

	memset(&p, 0, sizeof(p));
	if (reg_mpi_parse(m, &p) != 1)
		return;
	if (!p.mpi_ns || !*p.mpi_ns || strlen(p.mpi_ns) >= REG_MPI_NS_MAX ||
	    p.mpi_rank < 0 || p.mpi_size < 1 || p.mpi_rank >= p.mpi_size ||
	    p.mpi_size > REG_MPI_SIZE_MAX ||
	    (p.mpi_hosts && strlen(p.mpi_hosts) > REG_MPI_HOSTS_MAX))
		abort();
}

static void check_ctx(const struct msg *m)
{
	struct jobctx c, back;
	struct msg *out;
	char err[256], *l1, *l2;
	size_t n1, n2;

	memset(&c, 0, sizeof(c));
	memset(&back, 0, sizeof(back));
	if (jobctx_from_msg(&c, m, err, sizeof(err)) < 0) {
		jobctx_free(&c);
		return;
	}
	out = msg_new("job_register");
	if (!out || jobctx_to_msg(&c, out) < 0 || !(l1 = msg_encode(out, &n1)))
		abort();      /* what was accepted must encode again */
	if (jobctx_from_msg(&back, out, err, sizeof(err)) < 0)
		abort();
	msg_free(out);
	out = msg_new("job_register");
	if (!out || jobctx_to_msg(&back, out) < 0 || !(l2 = msg_encode(out, &n2)) ||
	    n1 != n2 || memcmp(l1, l2, n1) != 0)
		abort();
	free(l1);
	free(l2);
	msg_free(out);
	jobctx_free(&back);
	jobctx_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[MSG_ERR_LEN];
	struct msg *m = msg_decode((const char *)data, size, err, sizeof(err));

	if (!m)
		return 0;
	check_mpi(m);
	check_ctx(m);
	msg_free(m);
	return 0;
}
