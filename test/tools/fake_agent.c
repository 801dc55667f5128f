/*
 * fake_agent.c — an agent that says what its script says, for the trust
 * tests (an attacker holding some credential, or none).
 *
 *   fake_agent --registry A:P [--key FILE] [--wait S] < SCRIPT
 *
 * It connects (with the key, if any: a host key names its host in the
 * greeting), then for each line of SCRIPT:
 *   TYPE key=value ...   sends that message (msg syntax, docs/MESSAGES.md)
 *   @sleep S             waits S seconds, handling what arrives
 *   @wait TYPE           waits (at most --wait S, default 5) for a message
 *                        of TYPE, unless one came since the last @wait;
 *                        exit 3 if none came
 * Every message received is printed on stdout as its encoded line.  When
 * the script ends it waits 0.5 s more for answers, then exits 0.  When
 * the registry ends the connection, it prints `closed: REASON` and exits
 * 4 (1 for a usage or set-up error).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/auth.h"
#include "common/conn.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/util.h"

struct fa {
	struct event_base *base;
	struct conn *c;
	int closed;
	char want[64];                /* @wait TYPE */
	int got;
	char seen[8192];              /* " TYPE" of each message since the
	                               * last @wait that matched */
};

static int seen_type(const struct fa *f, const char *type)
{
	char w[80];

	snprintf(w, sizeof(w), " %s ", type);
	return strstr(f->seen, w) != NULL;
}

static void on_msg(struct conn *c, struct msg *m, void *arg)
{
	struct fa *f = arg;
	size_t len;
	char *line = msg_encode(m, &len);

	if (line) {
		fwrite(line, 1, len, stdout);
		fflush(stdout);
		free(line);
	}
	if (strlen(f->seen) + strlen(msg_type(m)) + 3 < sizeof(f->seen))
		snprintf(f->seen + strlen(f->seen), sizeof(f->seen) - strlen(f->seen),
			 " %s ", msg_type(m));
	if (f->want[0] && strcmp(msg_type(m), f->want) == 0)
		f->got = 1;
	msg_free(m);
}

static void on_close(struct conn *c, const char *reason, void *arg)
{
	struct fa *f = arg;

	printf("closed: %s\n", reason);
	fflush(stdout);
	f->closed = 1;
	f->c = NULL;
}

/* Run the loop for up to secs, or until done() says so. */
static void run_for(struct fa *f, double secs, int until_got)
{
	double end = util_now_s() + secs;
	struct timeval tick = { 0, 10000 };

	while (!f->closed && util_now_s() < end && !(until_got && f->got)) {
		event_base_loopexit(f->base, &tick);
		event_base_dispatch(f->base);
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "registry", 1, NULL, 'r' }, { "key", 1, NULL, 'k' },
		{ "wait", 1, NULL, 'w' }, { NULL, 0, NULL, 0 },
	};
	const char *reg = NULL, *keyf = NULL;
	char err[256], line[65536];
	struct auth_key *key = NULL;
	struct fa f = { 0 };
	double wait_s = 5;
	int c;

	log_init("fake_agent");
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'r': reg = optarg; break;
		case 'k': keyf = optarg; break;
		case 'w': wait_s = atof(optarg); break;
		default: return 1;
		}
	}
	if (!reg) {
		fprintf(stderr, "usage: fake_agent --registry A:P [--key FILE] [--wait S] < SCRIPT\n");
		return 1;
	}
	if (keyf && !(key = auth_key_load(keyf, err, sizeof(err)))) {
		fprintf(stderr, "fake_agent: %s\n", err);
		return 1;
	}
	f.base = event_base_new();
	f.c = conn_connect(f.base, reg, CONN_AGENT, key, on_msg, on_close, &f,
			   err, sizeof(err));
	if (!f.base || !f.c) {
		fprintf(stderr, "fake_agent: %s\n", err);
		return 1;
	}
	while (!f.closed && fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		if (strncmp(line, "@sleep ", 7) == 0) {
			run_for(&f, atof(line + 7), 0);
		} else if (strncmp(line, "@wait ", 6) == 0) {
			snprintf(f.want, sizeof(f.want), "%.63s", line + 6);
			f.got = seen_type(&f, f.want);
			if (!f.got)
				run_for(&f, wait_s, 1);
			f.seen[0] = '\0';
			if (!f.got && !f.closed) {
				printf("no %s within %g s\n", f.want, wait_s);
				return 3;
			}
			f.want[0] = '\0';
		} else {
			struct msg *m = msg_decode(line, strlen(line), err, sizeof(err));

			if (!m) {
				fprintf(stderr, "fake_agent: script line '%.60s': %s\n", line, err);
				return 1;
			}
			conn_send(f.c, m);
			msg_free(m);
			run_for(&f, 0.02, 0);
		}
	}
	run_for(&f, 0.5, 0);
	if (f.c)
		conn_close(f.c);
	event_base_free(f.base);
	auth_key_free(key);
	return f.closed ? 4 : 0;
}
