/* rule_eval.c — verdicts of simple rules and of a whole set (rules.h).
 * Nothing here allocates: ruleset_eval is on the agent's hot path. */
#include "rules/rules.h"

#include <math.h>

#include "rules/rule_expr.h"

static const char *const op_names[] = {
	[OP_LT] = "<", [OP_LE] = "<=", [OP_GT] = ">",
	[OP_GE] = ">=", [OP_EQ] = "==", [OP_NE] = "!=",
};

const char *rule_op_name(enum rule_op op)
{
	if ((int)op < OP_LT || op > OP_NE)
		return "?";
	return op_names[op];
}

static int op_holds(enum rule_op op, double a, double b)
{
	switch (op) {
	case OP_LT: return a < b;
	case OP_LE: return a <= b;
	case OP_GT: return a > b;
	case OP_GE: return a >= b;
	case OP_EQ: return a == b;
	case OP_NE: return a != b;
	}
	return 0;
}

int rule_judge(const struct rule *r, double value)
{
	if (isnan(value))
		return RS_ERROR;
	if (op_holds(r->op, value, r->overld))
		return RS_OVERLOADED;
	if (op_holds(r->op, value, r->busy))
		return RS_BUSY;
	return RS_FREE;
}

static void eval_one(const struct ruleset *rs, int i, const double *values,
		     struct rule_verdict *out)
{
	const struct rule *r = &rs->rules[i];

	if (r->type == RULE_SIMPLE) {
		out[i].value = values[i];
		out[i].state = rule_judge(r, values[i]);
		return;
	}
	out[i].value = expr_eval_verdicts(r->expr, out);
	out[i].state = isnan(out[i].value) ? RS_ERROR
					   : rs_state_from_value(out[i].value);
}

int ruleset_eval(const struct ruleset *rs, const double *values,
		 struct rule_verdict *out, double *host_value)
{
	int host = RS_FREE;
	double hv = 0;

	for (size_t k = 0; k < rs->n; k++)
		eval_one(rs, rs->order[k], values, out);
	for (size_t i = 0; i < rs->n; i++) {
		double v;

		if (!rs->is_root[i] || out[i].state == RS_ERROR)
			continue;
		v = rs->rules[i].type == RULE_COMPLEX ? out[i].value : out[i].state;
		if (out[i].state > host)
			host = out[i].state;
		if (v > hv)
			hv = v;
	}
	if (host_value)
		*host_value = hv;
	return host;
}
