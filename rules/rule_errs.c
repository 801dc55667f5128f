/* rule_errs.c — error collection and state names (see rules.h). */
#include "rules/rules.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Past this many lines, errors are still counted but no longer kept. */
#define ERRS_TEXT_MAX_LINES 1000
#define NEAR_MAX 40

static const char *const state_names[] = {
	"free", "busy", "overloaded", "error", "unavailable", "draining",
};

const char *rs_state_name(int state)
{
	if (state < 0 || state >= (int)(sizeof(state_names) / sizeof(state_names[0])))
		return "unknown";
	return state_names[state];
}

int rs_state_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (strcmp(name, state_names[i]) == 0)
			return (int)i;
	return -1;
}

int rs_state_from_value(double v)
{
	if (v < 0.5)
		return RS_FREE;
	if (v < 1.5)
		return RS_BUSY;
	return RS_OVERLOADED;
}

/* Replace control characters so every error stays one printable line. */
static void errs_sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			*s = '?';
}

/* Copy a token into `out`, cut to NEAR_MAX characters with "...". */
static void errs_near(char *out, size_t size, const char *near)
{
	size_t n = strlen(near);

	if (n > NEAR_MAX)
		snprintf(out, size, "%.*s...", NEAR_MAX, near);
	else
		snprintf(out, size, "%s", near);
	errs_sanitize(out);
}

static void errs_append(struct rule_errs *e, const char *line)
{
	size_t n = strlen(line);
	char *t = realloc(e->text, e->len + n + 2);

	if (!t)
		return;
	e->text = t;
	memcpy(e->text + e->len, line, n);
	e->len += n;
	e->text[e->len++] = '\n';
	e->text[e->len] = '\0';
}

void rule_errs_add(struct rule_errs *e, const char *file, int line,
		   const char *near, const char *fmt, ...)
{
	char msg[512], nearbuf[NEAR_MAX + 8], out[1024];
	va_list ap;

	e->count++;
	if (e->count > ERRS_TEXT_MAX_LINES)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (near) {
		errs_near(nearbuf, sizeof(nearbuf), near);
		snprintf(out, sizeof(out), "%s:%d: %s near '%s'",
			 file ? file : "-", line, msg, nearbuf);
	} else {
		snprintf(out, sizeof(out), "%s:%d: %s", file ? file : "-", line, msg);
	}
	errs_sanitize(out);
	errs_append(e, out);
}

void rule_errs_clear(struct rule_errs *e)
{
	free(e->text);
	e->text = NULL;
	e->len = 0;
	e->count = 0;
}
