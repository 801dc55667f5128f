/*
 * rule_expr.h — expression trees (internal to rules/; the public entry
 * points expr_eval and expr_explain are declared in rules.h).
 *
 * Grammar, lowest precedence first (the table in rule_expr.c):
 *     |   &   < <= > >= == !=   + -   * /   unary ! -   postfix %
 * Binary operators are left-associative.  Operands: numbers (K M G
 * suffixes), rule references rN, state names free busy overloaded (0 1 2),
 * names (metrics and `state`, policies only), parentheses.
 *
 * Limits: at most RULE_DEPTH_MAX nested parentheses and unary operators
 * ("expression too deeply nested") and EXPR_NODES_MAX nodes ("expression
 * too long"), so every recursion over a tree is bounded.
 *
 * Ownership: expr_parse returns a tree the caller frees with expr_free.
 */
#ifndef RESCHED_RULE_EXPR_H
#define RESCHED_RULE_EXPR_H

#include "rules/rules.h"

#define EXPR_NODES_MAX 512

enum expr_kind { E_NUM, E_CONST, E_NAME, E_REF, E_UNARY, E_BINARY };

struct expr {
	enum expr_kind kind;
	int op;             /* E_UNARY, E_BINARY: enum expr_op */
	int paren;          /* written inside parentheses */
	double num;         /* E_NUM, E_CONST */
	int ref;            /* E_REF: rule number */
	int idx;            /* E_REF: rule index once resolved, else -1 */
	char *text;         /* E_NUM, E_CONST, E_NAME, E_REF: as written */
	struct expr *a, *b; /* operands (b only for binary) */
};

/* What names an expression may use. */
enum {
	EXPR_REFS = 1,      /* rN (complex rules) */
	EXPR_METRICS = 2,   /* metric names and `state` (policies) */
};

/* A parse error: message and the token it stopped near. */
struct expr_err {
	char msg[128];
	char near[64];
};

/* Parse `text` (NUL-terminated).  NULL with *err filled on error. */
struct expr *expr_parse(const char *text, int flags, struct expr_err *err);
void expr_free(struct expr *e);

/* Call fn for every E_REF node, in source order; stops when fn returns
 * non-zero and returns that value. */
int expr_walk_refs(struct expr *e, int (*fn)(void *ctx, struct expr *ref),
		   void *ctx);

/* Evaluate with E_REF nodes read from verdicts[idx].state (RS_ERROR gives
 * NaN).  No allocation. */
double expr_eval_verdicts(const struct expr *e, const struct rule_verdict *v);

/* Compact number: util_fmt_num of v, or of v / 1000^k with a K M G suffix
 * when |v| >= 1000 ("6.71M"); "?" for NaN.  Returns buf. */
char *expr_fmt_value(char *buf, size_t size, double v);

#endif
