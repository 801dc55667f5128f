/*
 * fuzz_config.c — libFuzzer harness for the daemons' configuration reader
 * (common/config.c).  The input is one file; the keys are resched-agent's
 * and reschedfs's.  An accepted file's entries must be well formed (known
 * key, trimmed non-empty value or a yes/no, increasing line numbers); a
 * rejected one always says FILE:LINE: why.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct option opts[] = {
	{ "registry", required_argument, NULL, 1 },
	{ "key", required_argument, NULL, 2 },
	{ "name", required_argument, NULL, 3 },
	{ "interval", required_argument, NULL, 4 },
	{ "verbose", no_argument, NULL, 5 },
	{ "shared-key", no_argument, NULL, 6 },
	{ "help", no_argument, NULL, 7 },
	{ "config", required_argument, NULL, 8 },
	{ NULL, 0, NULL, 0 },
};
static const struct option extra[] = {
	{ "mount", required_argument, NULL, 9 },
	{ "option", required_argument, NULL, 10 },
	{ "foreground", no_argument, NULL, 11 },
	{ NULL, 0, NULL, 0 },
};
static const char *const skip[] = { "help", "config", NULL };
static const char *const repeat[] = { "option", NULL };
static const struct config_spec spec = { opts, extra, skip, repeat };

static int blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char err[600] = "";
	int last = 0;

	if (config_parse(&c, "fuzz.conf", (const char *)data, size, &spec, err,
			 sizeof(err)) < 0) {
		if (strncmp(err, "fuzz.conf:", 10) != 0)
			abort();
		config_free(&c);
		return 0;
	}
	for (size_t i = 0; i < c.n; i++) {
		const struct config_entry *e = &c.e[i];
		size_t n;

		if (!e->opt || !e->opt->name || e->line <= last)
			abort();
		if (strcmp(e->opt->name, "help") == 0 ||
		    strcmp(e->opt->name, "config") == 0)
			abort();
		last = e->line;
		if (e->opt->has_arg == no_argument) {
			if (e->value || (e->on != 0 && e->on != 1))
				abort();
			continue;
		}
		n = e->value ? strlen(e->value) : 0;
		if (n == 0 || blank(e->value[0]) || blank(e->value[n - 1]) ||
		    strchr(e->value, '\n'))
			abort();
		if (strcmp(e->opt->name, "option") != 0)
			for (size_t j = 0; j < i; j++)
				if (c.e[j].opt == e->opt)
					abort();   /* only `option` repeats */
	}
	config_free(&c);
	return 0;
}
