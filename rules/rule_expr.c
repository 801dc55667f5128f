/* rule_expr.c — expression parser, evaluator and explainer (rule_expr.h). */
#include "rules/rule_expr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "rules/rule_lex.h"

/* Binary precedence, lowest first; 0 = not a binary operator. */
static const int binary_prec[] = {
	[EOP_OR] = 1, [EOP_AND] = 2,
	[EOP_LT] = 3, [EOP_LE] = 3, [EOP_GT] = 3, [EOP_GE] = 3,
	[EOP_EQ] = 3, [EOP_NE] = 3,
	[EOP_ADD] = 4, [EOP_SUB] = 4,
	[EOP_MUL] = 5, [EOP_DIV] = 5,
	[EOP_NOT] = 0, [EOP_NEG] = 0, [EOP_PCT] = 0,
};

struct eparser {
	struct lexer lx;
	struct token tok;
	int depth, nodes, flags;
	struct expr_err *err;
	int failed;
};

static void ep_error(struct eparser *p, const char *msg)
{
	if (p->failed++)
		return;
	snprintf(p->err->msg, sizeof(p->err->msg), "%s", msg);
	if (p->tok.kind == T_EOF)
		snprintf(p->err->near, sizeof(p->err->near), "end");
	else
		snprintf(p->err->near, sizeof(p->err->near), "%.*s",
			 (int)(p->tok.len > 40 ? 40 : p->tok.len), p->tok.start);
}

static void ep_next(struct eparser *p)
{
	lex_next(&p->lx, &p->tok);
	if (p->tok.kind == T_BAD)
		ep_error(p, p->tok.bad);
}

static struct expr *ep_node(struct eparser *p, enum expr_kind kind)
{
	struct expr *e;

	if (++p->nodes > EXPR_NODES_MAX) {
		ep_error(p, "expression too long");
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		ep_error(p, "out of memory");
		return NULL;
	}
	e->kind = kind;
	e->idx = -1;
	return e;
}

static int ep_enter(struct eparser *p)
{
	if (++p->depth > RULE_DEPTH_MAX) {
		ep_error(p, "expression too deeply nested");
		return -1;
	}
	return 0;
}

void expr_free(struct expr *e)
{
	if (!e)
		return;
	expr_free(e->a);
	expr_free(e->b);
	free(e->text);
	free(e);
}

static struct expr *ep_binary(struct eparser *p, int minprec);

/* Is a plain name allowed, and what does it stand for? */
static int ep_name_kind(struct eparser *p, const char *name, double *num)
{
	int st = rs_state_parse(name);

	if (st >= RS_FREE && st <= RS_OVERLOADED) {
		*num = st;
		return E_CONST;
	}
	if (!(p->flags & EXPR_METRICS)) {
		ep_error(p, "unknown name (complex rules combine rules as rN)");
		return -1;
	}
	if (strcmp(name, "state") != 0 && !metric_known(name)) {
		ep_error(p, "unknown metric");
		return -1;
	}
	return E_NAME;
}

/* leaf -> NUMBER | NAME | REF */
static struct expr *ep_leaf(struct eparser *p)
{
	char text[160];
	double num = p->tok.num;
	int kind = p->tok.kind == T_NUM ? E_NUM : E_REF;
	struct expr *e;

	snprintf(text, sizeof(text), "%.*s", (int)p->tok.len, p->tok.start);
	if (p->tok.kind == T_REF && !(p->flags & EXPR_REFS))
		kind = ep_name_kind(p, text, &num);
	else if (p->tok.kind == T_NAME)
		kind = ep_name_kind(p, text, &num);
	if (kind < 0 || !(e = ep_node(p, (enum expr_kind)kind)))
		return NULL;
	e->num = num;
	e->ref = p->tok.ref;
	e->text = strdup(text);
	if (!e->text) {
		ep_error(p, "out of memory");
		free(e);
		return NULL;
	}
	ep_next(p);
	return e;
}

/* primary -> leaf | '(' expr ')' */
static struct expr *ep_primary(struct eparser *p)
{
	struct expr *e;

	if (p->tok.kind == T_NUM || p->tok.kind == T_NAME || p->tok.kind == T_REF)
		return ep_leaf(p);
	if (p->tok.kind != T_LPAREN) {
		ep_error(p, p->tok.kind == T_EOF ? "expression ends too early"
						 : "expected a value");
		return NULL;
	}
	if (ep_enter(p) < 0)
		return NULL;
	ep_next(p);
	e = ep_binary(p, 1);
	p->depth--;
	if (e && p->tok.kind != T_RPAREN) {
		ep_error(p, "expected ')'");
		expr_free(e);
		return NULL;
	}
	if (e) {
		e->paren = 1;
		ep_next(p);
	}
	return e;
}

static struct expr *ep_wrap(struct eparser *p, int kind, int op,
			    struct expr *a, struct expr *b)
{
	struct expr *e;

	if (!a || (kind == E_BINARY && !b) || p->failed ||
	    !(e = ep_node(p, (enum expr_kind)kind))) {
		expr_free(a);
		expr_free(b);
		return NULL;
	}
	e->op = op;
	e->a = a;
	e->b = b;
	return e;
}

/* postfix -> primary { '%' } */
static struct expr *ep_postfix(struct eparser *p)
{
	struct expr *e = ep_primary(p);

	while (e && p->tok.kind == T_OP && p->tok.op == EOP_PCT) {
		ep_next(p);
		e = ep_wrap(p, E_UNARY, EOP_PCT, e, NULL);
	}
	return e;
}

/* unary -> ( '!' | '-' ) unary | postfix */
static struct expr *ep_unary(struct eparser *p)
{
	struct expr *e;
	int op;

	if (p->tok.kind != T_OP || (p->tok.op != EOP_NOT && p->tok.op != EOP_SUB))
		return ep_postfix(p);
	op = p->tok.op == EOP_NOT ? EOP_NOT : EOP_NEG;
	if (ep_enter(p) < 0)
		return NULL;
	ep_next(p);
	e = ep_unary(p);
	p->depth--;
	return ep_wrap(p, E_UNARY, op, e, NULL);
}

/* expr(minprec) -> unary { binop expr(prec(binop) + 1) }, binop's
 * precedence >= minprec */
static struct expr *ep_binary(struct eparser *p, int minprec)
{
	struct expr *left = ep_unary(p);

	while (left && p->tok.kind == T_OP && binary_prec[p->tok.op] >= minprec &&
	       binary_prec[p->tok.op] > 0) {
		int op = p->tok.op;

		ep_next(p);
		left = ep_wrap(p, E_BINARY, op, left,
			       p->failed ? NULL : ep_binary(p, binary_prec[op] + 1));
	}
	return left;
}

struct expr *expr_parse(const char *text, int flags, struct expr_err *err)
{
	struct eparser p = { .flags = flags, .err = err };
	struct expr *e;

	memset(err, 0, sizeof(*err));
	lex_init(&p.lx, text);
	ep_next(&p);
	if (p.tok.kind == T_EOF) {
		ep_error(&p, "empty expression");
		return NULL;
	}
	e = p.failed ? NULL : ep_binary(&p, 1);
	if (e && !p.failed && p.tok.kind != T_EOF)
		ep_error(&p, p.tok.kind == T_RPAREN ? "unbalanced ')'"
						    : "trailing garbage in expression");
	if (p.failed) {
		expr_free(e);
		return NULL;
	}
	return e;
}

int expr_walk_refs(struct expr *e, int (*fn)(void *ctx, struct expr *ref),
		   void *ctx)
{
	int r;

	if (!e)
		return 0;
	if (e->kind == E_REF)
		return fn(ctx, e);
	if ((r = expr_walk_refs(e->a, fn, ctx)) != 0)
		return r;
	return expr_walk_refs(e->b, fn, ctx);
}

/* ---- evaluation --------------------------------------------------------- */

static double apply_unary(int op, double a)
{
	switch (op) {
	case EOP_NOT: return a == 0 ? 1 : 0;
	case EOP_NEG: return -a;
	case EOP_PCT: return a / 100;
	default: return NAN;
	}
}

static double apply_binary(int op, double a, double b)
{
	switch (op) {
	case EOP_OR: return a > b ? a : b;
	case EOP_AND: return a < b ? a : b;
	case EOP_LT: return a < b;
	case EOP_LE: return a <= b;
	case EOP_GT: return a > b;
	case EOP_GE: return a >= b;
	case EOP_EQ: return a == b;
	case EOP_NE: return a != b;
	case EOP_ADD: return a + b;
	case EOP_SUB: return a - b;
	case EOP_MUL: return a * b;
	case EOP_DIV: return a / b;
	default: return NAN;
	}
}

/* Where names and references get their values. */
struct evalsrc {
	expr_lookup_fn lookup;
	void *ctx;
	const struct rule_verdict *verdicts;
};

static double leaf_value(const struct expr *e, const struct evalsrc *src)
{
	double v;

	if (e->kind == E_NUM || e->kind == E_CONST)
		return e->num;
	if (e->kind == E_REF && src->verdicts) {
		int st = e->idx >= 0 ? src->verdicts[e->idx].state : RS_ERROR;

		return st >= RS_FREE && st <= RS_OVERLOADED ? st : NAN;
	}
	if (src->lookup && src->lookup(src->ctx, e->text, &v) == 0)
		return v;
	return NAN;
}

static double eval_node(const struct expr *e, const struct evalsrc *src)
{
	double a, b;

	if (e->kind != E_UNARY && e->kind != E_BINARY)
		return leaf_value(e, src);
	a = eval_node(e->a, src);
	if (isnan(a))
		return NAN;
	if (e->kind == E_UNARY)
		return apply_unary(e->op, a);
	b = eval_node(e->b, src);
	return isnan(b) ? NAN : apply_binary(e->op, a, b);
}

double expr_eval(const struct expr *e, expr_lookup_fn lookup, void *ctx)
{
	struct evalsrc src = { lookup, ctx, NULL };

	return e ? eval_node(e, &src) : NAN;
}

double expr_eval_verdicts(const struct expr *e, const struct rule_verdict *v)
{
	struct evalsrc src = { NULL, NULL, v };

	return e ? eval_node(e, &src) : NAN;
}

/* ---- explanation -------------------------------------------------------- */

char *expr_fmt_value(char *buf, size_t size, double v)
{
	static const struct { double scale; const char *suffix; } units[] = {
		{ 1e9, "G" }, { 1e6, "M" }, { 1e3, "K" },
	};
	char num[64];

	if (isnan(v)) {
		snprintf(buf, size, "?");
		return buf;
	}
	for (size_t i = 0; i < 3; i++) {
		if (fabs(v) >= units[i].scale && fabs(v) < 1e15) {
			snprintf(buf, size, "%s%s",
				 util_fmt_num(num, sizeof(num), v / units[i].scale),
				 units[i].suffix);
			return buf;
		}
	}
	return util_fmt_num(buf, size, v);
}

struct outbuf {
	char *buf;
	size_t size, len;
};

static void out_str(struct outbuf *o, const char *s)
{
	size_t n = strlen(s);

	if (o->size == 0)
		return;
	if (o->len + n >= o->size)
		n = o->size - 1 - o->len;
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

/* name=value; references and `state` show a state name. */
static void explain_leaf(const struct expr *e, const struct evalsrc *src,
			 struct outbuf *o)
{
	char num[64];
	double v;

	out_str(o, e->text);
	if (e->kind == E_NUM || e->kind == E_CONST)
		return;
	v = leaf_value(e, src);
	out_str(o, "=");
	if (!isnan(v) && (e->kind == E_REF || strcmp(e->text, "state") == 0) &&
	    v == floor(v) && v >= 0 && v <= RS_DRAINING)
		out_str(o, rs_state_name((int)v));
	else
		out_str(o, expr_fmt_value(num, sizeof(num), v));
}

static void explain_node(const struct expr *e, const struct evalsrc *src,
			 struct outbuf *o)
{
	if (e->paren)
		out_str(o, "(");
	if (e->kind == E_UNARY && e->op != EOP_PCT) {
		out_str(o, expr_op_text(e->op));
		explain_node(e->a, src, o);
	} else if (e->kind == E_UNARY) {
		explain_node(e->a, src, o);
		out_str(o, "%");
	} else if (e->kind == E_BINARY) {
		explain_node(e->a, src, o);
		out_str(o, " ");
		out_str(o, expr_op_text(e->op));
		out_str(o, " ");
		explain_node(e->b, src, o);
	} else {
		explain_leaf(e, src, o);
	}
	if (e->paren)
		out_str(o, ")");
}

size_t expr_explain(const struct expr *e, expr_lookup_fn lookup, void *ctx,
		    char *buf, size_t size)
{
	struct evalsrc src = { lookup, ctx, NULL };
	struct outbuf o = { buf, size, 0 };
	char num[64];

	if (size)
		buf[0] = '\0';
	if (!e)
		return 0;
	explain_node(e, &src, &o);
	out_str(&o, " -> ");
	out_str(&o, expr_fmt_value(num, sizeof(num), eval_node(e, &src)));
	return o.len;
}
