/*
 * agent_net.h — the agent's registry client (DESIGN §5, docs/MESSAGES.md):
 * the daemon mode of bin/resched-agent.
 *
 * One libevent loop (the main thread) owns the connection: it connects,
 * sends `hello` (static facts; addr = the source address of the route to
 * the registry), forwards an `update` after every measurement, applies
 * `ruleset` messages (a set that does not parse is refused with
 * `ruleset_result ok=0` and the old set stays), and reconnects with capped
 * exponential backoff (0.2 s doubling to 5 s, +-25 % jitter), announcing
 * everything again (hello, then the last update at once).
 *
 * Measuring runs in ONE worker thread that owns the monitor outright: a
 * rule script may run up to its time limit without stalling the loop.
 * The two threads meet only in struct agent's mutex-protected mailbox
 * (new rule set in, finished update out) and an eventfd that wakes the
 * loop.
 *
 * Errors: agent_net_run returns -2 when the registry sent us away (`bye`),
 * -1 with a reason in err otherwise (bad options, key
 * file, no loop); once running it only returns on SIGTERM/SIGINT (0).
 */
#ifndef RESCHED_AGENT_NET_H
#define RESCHED_AGENT_NET_H

#include <stddef.h>

#define AGENT_VERSION "0.1"
#define AGENT_BACKOFF_MIN 0.2     /* seconds, first retry */
#define AGENT_BACKOFF_MAX 5.0     /* seconds, cap */

struct agent_net_config {
	const char *registry;     /* "ADDR:PORT" */
	const char *key_file;     /* NULL: no authentication */
	const char *name;         /* host name */
	const char *cgroup;       /* NULL: the whole machine */
	const char *scripts_dir;  /* rl_script files */
	const char *run_dir;   /* --run: the commander's local socket directory */
	double interval;          /* > 0 fixed; 0: the rule set's per state */
};

/* Run the daemon until SIGTERM/SIGINT.  Strings in cfg must outlive the
 * call.  0 on a clean stop, -1 with err on a start-up failure. */
int agent_net_run(const struct agent_net_config *cfg, char *err, size_t errlen);

/* Backoff step (pure, for tests): the next delay after `prev` seconds
 * (0: first failure), before jitter. */
double agent_net_backoff(double prev);

/* The local address (no port) the kernel would use to reach "ADDR:PORT",
 * into buf (>= 64 bytes); 0, or -1 with err. */
int agent_net_source_addr(const char *addr_port, char *buf, size_t size,
			  char *err, size_t errlen);

#endif
