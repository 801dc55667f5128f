/* log.c — see log.h. */
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

static const char *log_name = "resched";
static int log_syslog;
static int log_debug_on;
static int log_quiet_on;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_init(const char *prog)
{
	const char *slash = strrchr(prog, '/');

	log_name = slash ? slash + 1 : prog;
}

void log_to_syslog(int on)
{
	if (on && !log_syslog)
		openlog(log_name, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_syslog = on;
}

void log_verbose(int on) { log_debug_on = on; }
void log_quiet(int on) { log_quiet_on = on; }
const char *log_prog(void) { return log_name; }

static void log_vemit(int pri, int err, const char *fmt, va_list ap)
{
	char msg[1024];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);

	if (n < 0)
		return;
	if (err && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(err));
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s: %s\n", log_name, msg);
	pthread_mutex_unlock(&log_lock);
	if (log_syslog)
		syslog(pri, "%s", msg);
}

#define LOG_BODY(pri, err)                  \
	do {                                \
		va_list ap;                 \
		va_start(ap, fmt);          \
		log_vemit(pri, err, fmt, ap); \
		va_end(ap);                 \
	} while (0)

void log_warn(const char *fmt, ...) { int e = errno; LOG_BODY(LOG_WARNING, e); }
void log_warnx(const char *fmt, ...) { LOG_BODY(LOG_WARNING, 0); }
void log_info(const char *fmt, ...)
{
	if (!log_quiet_on)
		LOG_BODY(LOG_INFO, 0);
}

void log_debug(const char *fmt, ...)
{
	if (log_debug_on)
		LOG_BODY(LOG_DEBUG, 0);
}

void fatal(const char *fmt, ...)
{
	int e = errno;

	LOG_BODY(LOG_ERR, e);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_ERR, 0);
	exit(1);
}
