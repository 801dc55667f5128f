/*
 * log.h — one logging convention for every resched program.
 *
 * Lines go to stderr as "PROG: message" (PROG from log_init), and also to
 * syslog(3) once log_to_syslog(1) is called (daemons that detach).
 *   log_warn / fatal     append ": strerror(errno)"
 *   log_warnx / fatalx   do not
 *   log_info             one line per event, daemons
 *   log_debug            only when log_verbose(1)
 * fatal* exit(1).  All are safe to call from any thread; none from a signal
 * handler.
 */
#ifndef RESCHED_LOG_H
#define RESCHED_LOG_H

#include <stdarg.h>

void log_init(const char *prog);
void log_to_syslog(int on);
void log_verbose(int on);
/* Drop log_info lines (unit tests, where daemons' event lines are noise). */
void log_quiet(int on);
const char *log_prog(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
