/*
 * resched-rule — offline check and evaluation of rule and policy files.
 *
 *   resched-rule check FILE...
 *   resched-rule eval FILE... [--metric NAME=VALUE]... [--value RULE=VALUE]...
 *
 * Files ending in .policy, or named `policy`, are policies; all others are
 * rule files and together form ONE rule set.  Exit 0 valid, 1 invalid
 * (errors on stderr as FILE:LINE: message), 2 usage.
 */
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "rules/rule_expr.h"
#include "rules/rule_lex.h"
#include "rules/rule_parse.h"
#include "rules/rules.h"

#define PROG "resched-rule"

struct kv {
	const char *name;
	double value;
};

struct input {
	const char *path;
	char *dir;        /* malloc'd dirname of path */
	char *text;       /* malloc'd contents ("" when unreadable) */
	size_t len;
	int is_policy;
};

struct cli {
	struct input *in;
	size_t nin;
	struct kv *metrics, *values;
	size_t nmetrics, nvalues;
	const char **value_rules;   /* RULE part of each --value */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " check FILE...\n"
		"       " PROG " eval FILE... [--metric NAME=VALUE]... "
		"[--value RULE=VALUE]...\n"
		"\n"
		"Files ending in .policy (or named policy) are policies; all other\n"
		"files are rule files and form one rule set.\n"
		"  check   validate; exit 0 valid, 1 invalid (FILE:LINE: message)\n"
		"  eval    print rules/NAME STATE VALUE per rule, then state STATE VALUE,\n"
		"          and with a policy migrate_when and accept_when with reasons.\n"
		"  --metric NAME=VALUE   a metric's value (also feeds @metric rules;\n"
		"                        NAME state takes a state name)\n"
		"  --value RULE=VALUE    the measured value of rule RULE (name or number)\n"
		"Numbers take K M G suffixes (powers of 1000).  See docs/RULES.md.\n");
}

static int is_policy_path(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n = strlen(path);

	base = base ? base + 1 : path;
	return strcmp(base, "policy") == 0 ||
	       (n > 7 && strcmp(path + n - 7, ".policy") == 0);
}

/* Read one input; a failure is reported as FILE:1: and counted. */
static void input_read(struct input *in, struct rule_errs *errs)
{
	char *copy = strdup(in->path);

	in->dir = strdup(copy ? dirname(copy) : ".");
	free(copy);
	in->is_policy = is_policy_path(in->path);
	in->text = util_read_file(in->path, RULE_FILE_MAX, &in->len);
	if (in->text)
		return;
	if (errno == EFBIG)
		rule_errs_add(errs, in->path, 1, NULL, "file too large (max %d bytes)",
			      RULE_FILE_MAX);
	else
		rule_errs_add(errs, in->path, 1, NULL, "cannot read: %s",
			      strerror(errno));
	in->text = strdup("");
	in->len = 0;
}

/* NAME=VALUE with a number (K M G) or, for `state`, a state name. */
static int parse_kv(const char *arg, const char **name, double *value)
{
	const char *eq = strchr(arg, '=');
	static char names[64][160];
	static int used;
	int st;

	if (!eq || eq == arg || used == 64 || (size_t)(eq - arg) >= sizeof(names[0]))
		return -1;
	snprintf(names[used], sizeof(names[0]), "%.*s", (int)(eq - arg), arg);
	*name = names[used++];
	st = rs_state_parse(eq + 1);
	if (strcmp(*name, "state") == 0 && st >= RS_FREE && st <= RS_OVERLOADED) {
		*value = st;
		return 0;
	}
	return lex_number(eq + 1, value);
}

static int cli_option(struct cli *c, const char *opt, const char *arg)
{
	struct kv kv;

	if (!arg || parse_kv(arg, &kv.name, &kv.value) < 0) {
		fprintf(stderr, PROG ": %s wants NAME=NUMBER, got '%s'\n", opt,
			arg ? arg : "");
		return -1;
	}
	if (strcmp(opt, "--metric") == 0) {
		if (strcmp(kv.name, "state") != 0 && !metric_known(kv.name)) {
			fprintf(stderr, PROG ": --metric: unknown metric '%s'\n", kv.name);
			return -1;
		}
		c->metrics[c->nmetrics++] = kv;
	} else {
		c->value_rules[c->nvalues] = kv.name;
		c->values[c->nvalues++] = kv;
	}
	return 0;
}

/* Split argv into files and options.  -1 on a usage error (reported). */
static int cli_parse(struct cli *c, int argc, char **argv, int eval)
{
	size_t n = (size_t)argc + 1;

	c->in = calloc(n, sizeof(*c->in));
	c->metrics = calloc(n, sizeof(*c->metrics));
	c->values = calloc(n, sizeof(*c->values));
	c->value_rules = calloc(n, sizeof(*c->value_rules));
	if (!c->in || !c->metrics || !c->values || !c->value_rules) {
		fprintf(stderr, PROG ": out of memory\n");
		return -1;
	}
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (eval && (strcmp(a, "--metric") == 0 || strcmp(a, "--value") == 0)) {
			if (cli_option(c, a, i + 1 < argc ? argv[i + 1] : NULL) < 0)
				return -1;
			i++;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, PROG ": unknown option '%s'\n", a);
			return -1;
		} else {
			c->in[c->nin++].path = a;
		}
	}
	if (c->nin == 0) {
		fprintf(stderr, PROG ": no files given (try --help)\n");
		return -1;
	}
	return 0;
}

static void cli_free(struct cli *c)
{
	for (size_t i = 0; i < c->nin; i++) {
		free(c->in[i].dir);
		free(c->in[i].text);
	}
	free(c->in);
	free(c->metrics);
	free(c->values);
	free(c->value_rules);
}

/* The loaded inputs: one rule set (NULL when there are no rule files) and
 * the last policy. */
struct loaded {
	struct ruleset *rs;
	struct policy *policy;
	size_t nrules, npolicies;
};

static void load_rules(struct cli *c, struct loaded *l, struct rule_errs *errs)
{
	const char **files = calloc(c->nin, sizeof(char *));
	const char **texts = calloc(c->nin, sizeof(char *));
	const char **dirs = calloc(c->nin, sizeof(char *));
	size_t *lens = calloc(c->nin, sizeof(size_t)), n = 0;

	if (files && texts && dirs && lens) {
		for (size_t i = 0; i < c->nin; i++) {
			if (c->in[i].is_policy)
				continue;
			files[n] = c->in[i].path;
			texts[n] = c->in[i].text;
			dirs[n] = c->in[i].dir;
			lens[n++] = c->in[i].len;
		}
		l->nrules = n;
		if (n)
			l->rs = ruleset_parse_dirs(files, texts, lens, dirs, n, errs);
	}
	free(files);
	free(texts);
	free(dirs);
	free(lens);
}

static void load_policies(struct cli *c, struct loaded *l, struct rule_errs *errs)
{
	for (size_t i = 0; i < c->nin; i++) {
		struct policy *p;

		if (!c->in[i].is_policy)
			continue;
		l->npolicies++;
		p = policy_parse(c->in[i].path, c->in[i].text, c->in[i].len, errs);
		if (p) {
			policy_free(l->policy);
			l->policy = p;
		}
	}
}

/* Read and parse everything; 0 valid, 1 invalid (errors printed). */
static int load_all(struct cli *c, struct loaded *l)
{
	struct rule_errs errs = { 0 };

	for (size_t i = 0; i < c->nin; i++)
		input_read(&c->in[i], &errs);
	load_rules(c, l, &errs);
	load_policies(c, l, &errs);
	if (errs.count == 0)
		return 0;
	if (errs.text)
		fputs(errs.text, stderr);
	fprintf(stderr, PROG ": %d error%s\n", errs.count, errs.count == 1 ? "" : "s");
	rule_errs_clear(&errs);
	return 1;
}

static void loaded_free(struct loaded *l)
{
	ruleset_free(l->rs);
	policy_free(l->policy);
}

static int cmd_check(struct cli *c)
{
	struct loaded l = { 0 };
	int rc = load_all(c, &l);

	if (rc == 0)
		printf("ok: %zu rule%s in %zu file%s, %zu polic%s\n",
		       l.rs ? l.rs->n : 0, l.rs && l.rs->n == 1 ? "" : "s",
		       l.nrules, l.nrules == 1 ? "" : "s", l.npolicies,
		       l.npolicies == 1 ? "y" : "ies");
	loaded_free(&l);
	return rc;
}

/* ---- eval --------------------------------------------------------------- */

static const struct kv *kv_find(const struct kv *kv, size_t n, const char *name)
{
	for (size_t i = n; i-- > 0;)
		if (strcmp(kv[i].name, name) == 0)
			return &kv[i];
	return NULL;
}

/* The measured value of each simple rule from --value / --metric. */
static int rule_values(const struct cli *c, const struct ruleset *rs, double *vals)
{
	for (size_t i = 0; i < rs->n; i++) {
		const struct kv *m = rs->rules[i].metric
			? kv_find(c->metrics, c->nmetrics, rs->rules[i].metric) : NULL;

		vals[i] = m ? m->value : NAN;
	}
	for (size_t i = 0; i < c->nvalues; i++) {
		const char *r = c->value_rules[i];
		uint64_t num;
		int idx = ruleset_find(rs, r);

		if (idx < 0 && util_parse_u64(r, &num) == 0 && num <= 1000000)
			idx = ruleset_find_number(rs, (int)num);
		if (idx < 0) {
			fprintf(stderr, PROG ": --value: no rule '%s'\n", r);
			return -1;
		}
		vals[idx] = c->values[i].value;
	}
	return 0;
}

struct pctx {
	const struct cli *c;
	int state;
};

static int policy_lookup(void *ctx, const char *name, double *out)
{
	const struct pctx *p = ctx;
	const struct kv *kv;

	if (strcmp(name, "state") == 0 && p->state >= 0) {
		*out = p->state;
		return 0;
	}
	kv = kv_find(p->c->metrics, p->c->nmetrics, name);
	if (!kv)
		return -1;
	*out = kv->value;
	return 0;
}

static void print_policy_line(const char *key, const struct expr *e,
			      const char *deflt, struct pctx *ctx)
{
	struct expr_err err;
	struct expr *tmp = e ? NULL : expr_parse(deflt, EXPR_METRICS, &err);
	const struct expr *use = e ? e : tmp;
	char why[1024];
	double v = expr_eval(use, policy_lookup, ctx);

	expr_explain(use, policy_lookup, ctx, why, sizeof(why));
	printf("%s %s %s\n", key, isnan(v) ? "error" : v != 0 ? "1" : "0", why);
	expr_free(tmp);
}

static void print_rules(const struct ruleset *rs, const struct rule_verdict *out)
{
	char num[64];

	for (size_t i = 0; i < rs->n; i++)
		printf("rules/%s %s %s\n", rs->rules[i].name,
		       rs_state_name(out[i].state),
		       out[i].state == RS_ERROR ? "-"
						: util_fmt_num(num, sizeof(num), out[i].value));
}

static int eval_print(const struct cli *c, const struct loaded *l)
{
	size_t n = l->rs && l->rs->n ? l->rs->n : 1;
	double *vals = calloc(n, sizeof(double)), hv = 0;
	struct rule_verdict *out = calloc(n, sizeof(*out));
	const struct kv *st = kv_find(c->metrics, c->nmetrics, "state");
	struct pctx ctx = { c, st ? (int)st->value : RS_FREE };
	char num[64];
	int rc = 0;

	if (!vals || !out || (l->rs && rule_values(c, l->rs, vals) < 0)) {
		rc = 2;
		goto out;
	}
	if (l->rs) {
		ctx.state = ruleset_eval(l->rs, vals, out, &hv);
		print_rules(l->rs, out);
	} else {
		hv = ctx.state;
	}
	printf("state %s %s\n", rs_state_name(ctx.state), util_fmt_num(num, sizeof(num), hv));
	if (l->npolicies) {
		print_policy_line("migrate_when", l->policy->migrate_when,
				  "state == overloaded", &ctx);
		print_policy_line("accept_when", l->policy->accept_when,
				  "state == free", &ctx);
	}
out:
	free(vals);
	free(out);
	return rc;
}

static int cmd_eval(struct cli *c)
{
	struct loaded l = { 0 };
	int rc = load_all(c, &l);

	if (rc == 0 && l.npolicies > 1) {
		fprintf(stderr, PROG ": eval takes at most one policy file\n");
		rc = 2;
	}
	if (rc == 0)
		rc = eval_print(c, &l);
	loaded_free(&l);
	return rc;
}

int main(int argc, char **argv)
{
	struct cli c = { 0 };
	int rc, eval;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || (strcmp(argv[1], "check") != 0 && strcmp(argv[1], "eval") != 0)) {
		fprintf(stderr, PROG ": expected 'check' or 'eval' (try --help)\n");
		return 2;
	}
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
	eval = strcmp(argv[1], "eval") == 0;
	if (cli_parse(&c, argc - 2, argv + 2, eval) < 0) {
		cli_free(&c);
		return 2;
	}
	rc = eval ? cmd_eval(&c) : cmd_check(&c);
	cli_free(&c);
	return rc;
}
