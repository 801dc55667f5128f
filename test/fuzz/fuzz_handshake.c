/* fuzz_handshake.c — libFuzzer harness for the registry side of a
 * connection before and after authentication (common/conn.c): the input
 * arrives on a real socket as a peer's bytes (greeting, proof, frames) to
 * a conn running on a libevent loop.  The first byte picks the key mode:
 * none (unauthenticated: frames reach on_msg), a cluster key with host
 * keys only, or with --shared-key.  Checks that the conn ends at most
 * once and never delivers a message before it is ready. */
#include "common/auth.h"
#include "common/conn.h"
#include "common/log.h"

#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct st {
	int closed, msgs;
	struct conn *c;
};

static void on_msg(struct conn *c, struct msg *m, void *arg)
{
	struct st *s = arg;

	if (!conn_is_ready(c))
		abort();              /* nothing before the handshake is done */
	s->msgs++;
	msg_free(m);
}

static void on_close(struct conn *c, const char *reason, void *arg)
{
	struct st *s = arg;

	if (s->closed++)
		abort();              /* on_close once */
	s->c = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event_base *base;
	static struct auth_key *key;
	struct st s = { 0, 0, NULL };
	int sv[2], mode;
	size_t off = 0;

	if (!base) {
		log_init("fuzz");
		log_quiet(1);
		base = event_base_new();
		key = auth_key_from_bytes("fuzz cluster key", 16);
		if (!base || !key)
			abort();
	}
	if (size < 1 || size > 16384)
		return 0;
	mode = data[0] % 3;
	data++;
	size--;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	s.c = conn_new(base, sv[0], CONN_REGISTRY, mode ? key : NULL, on_msg,
		       on_close, &s);
	if (!s.c) {
		close(sv[1]);
		return 0;
	}
	for (int round = 0; round < 64 && !s.closed; round++) {
		if (off < size) {
			ssize_t w = write(sv[1], data + off, size - off);

			if (w > 0)
				off += (size_t)w;
		} else {
			shutdown(sv[1], SHUT_WR);
		}
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	if (!s.closed)
		conn_close(s.c);
	close(sv[1]);
	event_base_loop(base, EVLOOP_NONBLOCK);
	return 0;
}
