/*
 * fuzz_rules.c — libFuzzer harness for the rule-file parser.  The input is
 * one rule file; when it parses, the set is evaluated with values derived
 * from the input and every complex rule's expression is explained.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng_state;

static double rnd_value(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	switch ((rng_state >> 60) & 7) {
	case 0: return NAN;
	case 1: return 0;
	default: return (double)((rng_state >> 20) % 2000) - 500;
	}
}

static int rnd_lookup(void *ctx, const char *name, double *out)
{
	(void)ctx;
	(void)name;
	*out = rnd_value();
	return isnan(*out) ? -1 : 0;
}

static void exercise(const struct ruleset *rs)
{
	double *vals = calloc(rs->n + 1, sizeof(double)), hv;
	struct rule_verdict *out = calloc(rs->n + 1, sizeof(*out));
	char buf[512];

	if (vals && out) {
		for (size_t i = 0; i < rs->n; i++)
			vals[i] = rnd_value();
		if (ruleset_eval(rs, vals, out, &hv) > RS_OVERLOADED)
			abort();
		for (size_t i = 0; i < rs->n; i++) {
			if (out[i].state < RS_FREE || out[i].state > RS_ERROR)
				abort();
			if (rs->rules[i].expr)
				expr_explain(rs->rules[i].expr, rnd_lookup, NULL, buf,
					     sizeof(buf));
		}
	}
	free(vals);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *file = "fuzz.rule", *text = (const char *)data;
	struct rule_errs errs = { 0 };
	struct ruleset *rs = ruleset_parse(&file, &text, &size, 1, &errs);

	rng_state = size;
	for (size_t i = 0; i < size && i < 64; i++)
		rng_state = rng_state * 31 + data[i];
	if (rs) {
		if (errs.count)
			abort();
		exercise(rs);
	} else if (errs.count == 0 || !errs.text) {
		abort();    /* a rejected file always says why */
	}
	ruleset_free(rs);
	rule_errs_clear(&errs);
	return 0;
}
