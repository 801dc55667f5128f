/*
 * fuzz_policy.c — libFuzzer harness for the policy parser.  When the input
 * parses, both expressions are evaluated and explained with values derived
 * from the input.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng_state;

static int rnd_lookup(void *ctx, const char *name, double *out)
{
	(void)ctx;
	(void)name;
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	if (((rng_state >> 60) & 7) == 0)
		return -1;
	*out = (double)((rng_state >> 20) % 10000000) / 100;
	return 0;
}

static void exercise(const struct expr *e)
{
	char buf[1024], tiny[8];
	double v = expr_eval(e, rnd_lookup, NULL);
	size_t n = expr_explain(e, rnd_lookup, NULL, buf, sizeof(buf));

	/* the result shows unless the text was cut at the buffer's end */
	if (n >= sizeof(buf) || strlen(buf) != n ||
	    (e && n < sizeof(buf) - 1 && !strstr(buf, " -> ")))
		abort();
	expr_explain(e, rnd_lookup, NULL, tiny, sizeof(tiny));
	if (strlen(tiny) >= sizeof(tiny))
		abort();
	(void)v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rule_errs errs = { 0 };
	struct policy *p = policy_parse("fuzz.policy", (const char *)data, size, &errs);

	rng_state = size;
	for (size_t i = 0; i < size && i < 64; i++)
		rng_state = rng_state * 31 + data[i];
	if (p) {
		exercise(p->migrate_when);
		exercise(p->accept_when);
		if (!policy_select_name(p->select) || !policy_place_name(p->place))
			abort();
	} else if (errs.count == 0) {
		abort();
	}
	policy_free(p);
	rule_errs_clear(&errs);
	return 0;
}
