/* unit_main.c — the one unit-test runner; see unit.h. */
#include "test/unit/unit.h"
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static struct unit_test *tests;
static int failed_now;
static char skipped_now[256];     /* the reason, "" when not skipped */

void unit_register(struct unit_test *t)
{
	struct unit_test **p = &tests;

	/* keep file order, then name order, so runs are repeatable */
	while (*p && (strcmp((*p)->file, t->file) < 0 ||
		      (strcmp((*p)->file, t->file) == 0 &&
		       strcmp((*p)->name, t->name) < 0)))
		p = &(*p)->next;
	t->next = *p;
	*p = t;
}

void unit_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("    %s:%d: check failed: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	failed_now = 1;
}

void unit_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(skipped_now, sizeof(skipped_now), fmt, ap);
	va_end(ap);
	if (!skipped_now[0])
		snprintf(skipped_now, sizeof(skipped_now), "no reason given");
}

const char *unit_fixture(const char *rel)
{
	static char buf[4096];
	const char *root = getenv("UNIT_ROOT");

	snprintf(buf, sizeof(buf), "%s/test/fixtures/%s", root ? root : ".", rel);
	return buf;
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0, skipped = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* daemons' one-line-per-event logs are noise here; UNIT_VERBOSE=1 shows them */
	log_quiet(!getenv("UNIT_VERBOSE"));
	for (struct unit_test *t = tests; t; t = t->next) {
		if (argc > 1 && !strstr(t->name, argv[1]))
			continue;
		failed_now = 0;
		skipped_now[0] = 0;
		t->fn();
		if (failed_now) {
			printf("FAIL %s\n", t->name);
			failed++;
		} else if (skipped_now[0]) {
			printf("skip %s: %s\n", t->name, skipped_now);
			skipped++;
		} else {
			printf("ok   %s\n", t->name);
			passed++;
		}
	}
	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
