/* Expressions: precedence, operators, limits, errors, explain. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "rules/rule_expr.h"
#include "rules/rules.h"
#include "test/unit/unit.h"

struct vars {
	const char *names[8];
	double values[8];
};

static int vars_lookup(void *ctx, const char *name, double *out)
{
	const struct vars *v = ctx;

	for (int i = 0; i < 8 && v->names[i]; i++)
		if (strcmp(v->names[i], name) == 0) {
			*out = v->values[i];
			return 0;
		}
	return -1;
}

/* Value of a policy expression with no names (NaN when it does not parse). */
static double calc(const char *text)
{
	struct expr_err err;
	struct expr *e = expr_parse(text, EXPR_METRICS, &err);
	double v = e ? expr_eval(e, NULL, NULL) : NAN;

	expr_free(e);
	return v;
}

TEST(expr_precedence_table)
{
	CHECK_NEAR(calc("1 + 2 * 3"), 7, 1e-12);
	CHECK_NEAR(calc("(1 + 2) * 3"), 9, 1e-12);
	CHECK_NEAR(calc("8 - 2 - 1"), 5, 1e-12);
	CHECK_NEAR(calc("8 / 4 / 2"), 1, 1e-12);
	CHECK_NEAR(calc("1 | 0 & 0"), 1, 1e-12);         /* | lowest */
	CHECK_NEAR(calc("(1 | 0) & 0"), 0, 1e-12);
	CHECK_NEAR(calc("1 + 1 > 1 & 3"), 1, 1e-12);     /* comparisons below + */
	CHECK_NEAR(calc("2 < 3 == 1"), 1, 1e-12);
	CHECK_NEAR(calc("-2 * 3"), -6, 1e-12);
	CHECK_NEAR(calc("!0 + 1"), 2, 1e-12);            /* unary above + */
	CHECK_NEAR(calc("!5"), 0, 1e-12);
	CHECK_NEAR(calc("50%"), 0.5, 1e-12);
	CHECK_NEAR(calc("-50%"), -0.5, 1e-12);
	CHECK_NEAR(calc("(20 + 20)%"), 0.4, 1e-12);
	CHECK_NEAR(calc("40% * 2 + 30% * 1"), 1.1, 1e-12);
	CHECK_NEAR(calc("3 & 1.5"), 1.5, 1e-12);
	CHECK_NEAR(calc("3 | 1.5"), 3, 1e-12);
	CHECK_NEAR(calc("5M"), 5e6, 1e-6);
	CHECK_NEAR(calc("2K + 1G"), 1000002000, 1e-6);
	CHECK_NEAR(calc("overloaded - busy + free"), 1, 1e-12);
	CHECK_NEAR(calc("1 != 2"), 1, 1e-12);
	CHECK_NEAR(calc("1 >= 2"), 0, 1e-12);
	CHECK_NEAR(calc("2 <= 2"), 1, 1e-12);
	CHECK(isinf(calc("1 / 0")));
}

static const char *parse_error(const char *text, int flags)
{
	static char buf[256];
	struct expr_err err;
	struct expr *e = expr_parse(text, flags, &err);

	if (e) {
		expr_free(e);
		return "parsed";
	}
	snprintf(buf, sizeof(buf), "%s near '%s'", err.msg, err.near);
	return buf;
}

TEST(expr_errors)
{
	char deep[200] = "", deeper[240];
	int i;

	CHECK_STR_EQ(parse_error("", EXPR_METRICS), "empty expression near 'end'");
	CHECK_STR_EQ(parse_error("   ", EXPR_REFS), "empty expression near 'end'");
	CHECK_STR_EQ(parse_error("1 2", EXPR_METRICS), "trailing garbage in expression near '2'");
	CHECK_STR_EQ(parse_error("(1", EXPR_METRICS), "expected ')' near 'end'");
	CHECK_STR_EQ(parse_error("1)", EXPR_METRICS), "unbalanced ')' near ')'");
	CHECK_STR_EQ(parse_error("1 +", EXPR_METRICS), "expression ends too early near 'end'");
	CHECK_STR_EQ(parse_error("* 2", EXPR_METRICS), "expected a value near '*'");
	CHECK_STR_EQ(parse_error("5Q", EXPR_METRICS), "bad number near '5Q'");
	CHECK_STR_EQ(parse_error("1 $ 2", EXPR_METRICS), "unexpected character near '$'");
	CHECK_STR_EQ(parse_error("load7 > 1", EXPR_METRICS), "unknown metric near 'load7'");
	CHECK_STR_EQ(parse_error("r3", EXPR_METRICS), "unknown metric near 'r3'");
	CHECK_STR_EQ(parse_error("load1 + r2", EXPR_REFS),
		     "unknown name (complex rules combine rules as rN) near 'load1'");
	CHECK_STR_EQ(parse_error("r 4", EXPR_REFS),
		     "unknown name (complex rules combine rules as rN) near 'r'");
	CHECK_STR_EQ(parse_error("state == overloaded & disk_avail.home < 1G", EXPR_METRICS),
		     "parsed");
	for (i = 0; i < RULE_DEPTH_MAX; i++)
		strcat(deep, "(");
	strcat(deep, "1");
	for (i = 0; i < RULE_DEPTH_MAX; i++)
		strcat(deep, ")");
	CHECK_STR_EQ(parse_error(deep, EXPR_METRICS), "parsed");
	snprintf(deeper, sizeof(deeper), "(%s)", deep);
	CHECK_STR_EQ(parse_error(deeper, EXPR_METRICS),
		     "expression too deeply nested near '('");
	memset(deep, '!', 40);
	strcpy(deep + 40, "1");
	CHECK_STR_EQ(parse_error(deep, EXPR_METRICS),
		     "expression too deeply nested near '!'");
}

TEST(expr_too_long)
{
	size_t cap = (EXPR_NODES_MAX + 10) * 4;
	char *s = malloc(cap);
	size_t len = 0;

	CHECK(s != NULL);
	for (int i = 0; i < EXPR_NODES_MAX / 2 + 2; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s1", i ? "+" : "");
	CHECK_STR_HAS(parse_error(s, EXPR_METRICS), "expression too long");
	free(s);
}

TEST(expr_names_and_missing_values)
{
	struct vars v = { { "load1", "procs", "state" }, { 2.5, 80, RS_OVERLOADED } };
	struct expr_err err;
	struct expr *e = expr_parse("load1 > 2 & procs < 100 & state == overloaded",
				    EXPR_METRICS, &err);

	CHECK(e != NULL);
	CHECK_NEAR(expr_eval(e, vars_lookup, &v), 1, 0);
	v.values[1] = 120;
	CHECK_NEAR(expr_eval(e, vars_lookup, &v), 0, 0);
	expr_free(e);
	e = expr_parse("load1 | net_bps", EXPR_METRICS, &err);
	CHECK(e != NULL);
	CHECK(isnan(expr_eval(e, vars_lookup, &v)));
	expr_free(e);
}

TEST(expr_explain_policy3)
{
	struct vars v = { { "load1", "procs", "net_bps" }, { 2.7, 88, 0 } };
	struct expr_err err;
	struct expr *e = expr_parse("(load1 > 2 | procs > 150) & net_bps <= 5M",
				    EXPR_METRICS, &err);
	char buf[256];
	size_t n;

	CHECK(e != NULL);
	n = expr_explain(e, vars_lookup, &v, buf, sizeof(buf));
	CHECK_STR_EQ(buf, "(load1=2.7 > 2 | procs=88 > 150) & net_bps=0 <= 5M -> 1");
	CHECK_INT_EQ(n, strlen(buf));
	v.values[2] = 6710000;
	expr_explain(e, vars_lookup, &v, buf, sizeof(buf));
	CHECK_STR_EQ(buf, "(load1=2.7 > 2 | procs=88 > 150) & net_bps=6.71M <= 5M -> 0");
	/* truncation keeps the buffer terminated */
	n = expr_explain(e, vars_lookup, &v, buf, 12);
	CHECK_INT_EQ(n, 11);
	CHECK_STR_EQ(buf, "(load1=2.7 ");
	expr_free(e);
}

TEST(expr_explain_states_unary_and_missing)
{
	struct vars v = { { "state", "r1" }, { RS_BUSY, RS_OVERLOADED } };
	struct expr_err err;
	struct expr *e = expr_parse("!(state == overloaded) & -mem_avail < 40%",
				    EXPR_METRICS, &err);
	char buf[256];

	CHECK(e != NULL);
	expr_explain(e, vars_lookup, &v, buf, sizeof(buf));
	CHECK_STR_EQ(buf, "!(state=busy == overloaded) & -mem_avail=? < 40% -> ?");
	expr_free(e);
	e = expr_parse("30% * r1", EXPR_REFS, &err);
	CHECK(e != NULL);
	expr_explain(e, vars_lookup, &v, buf, sizeof(buf));
	CHECK_STR_EQ(buf, "30% * r1=overloaded -> 0.6");
	expr_free(e);
}

TEST(expr_fmt_value_compact)
{
	char b[32];

	CHECK_STR_EQ(expr_fmt_value(b, sizeof(b), 0), "0");
	CHECK_STR_EQ(expr_fmt_value(b, sizeof(b), 2.5), "2.5");
	CHECK_STR_EQ(expr_fmt_value(b, sizeof(b), 999), "999");
	CHECK_STR_EQ(expr_fmt_value(b, sizeof(b), 1500), "1.5K");
	CHECK_STR_EQ(expr_fmt_value(b, sizeof(b), 5e6), "5M");
	CHECK_STR_EQ(expr_fmt_value(b, sizeof(b), -3e9), "-3G");
	CHECK_STR_EQ(expr_fmt_value(b, sizeof(b), NAN), "?");
}
