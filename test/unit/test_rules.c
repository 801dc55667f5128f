/* Rule files: records, the paper's figures, verdicts, settings, errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/util.h"
#include "rules/rule_lex.h"
#include "rules/rule_parse.h"
#include "rules/rules.h"
#include "test/unit/unit.h"

static struct ruleset *parse_text(const char *text, struct rule_errs *e)
{
	const char *file = "t.rule";
	size_t len = strlen(text);

	return ruleset_parse(&file, &text, &len, 1, e);
}

/* Parse both paper figures from their fixtures as one set. */
static struct ruleset *load_paper(struct rule_errs *e)
{
	char *t3, *t4;
	size_t l[2];
	struct ruleset *rs;

	t3 = util_read_file(unit_fixture("paper/fig3.rule"), RULE_FILE_MAX, &l[0]);
	t4 = util_read_file(unit_fixture("paper/fig4.rule"), RULE_FILE_MAX, &l[1]);
	if (!t3 || !t4) {
		free(t3);
		free(t4);
		return NULL;
	}
	{
		const char *files[] = { "fig3.rule", "fig4.rule" };
		const char *texts[] = { t3, t4 };

		rs = ruleset_parse(files, texts, l, 2, e);
	}
	free(t3);
	free(t4);
	return rs;
}

/* Invariant checker run after every successful parse. */
static int ruleset_ok(const struct ruleset *rs)
{
	int seen[RULE_MAX] = { 0 };

	for (size_t k = 0; k < rs->n; k++) {
		int i = rs->order[k];
		const struct rule *r = &rs->rules[i];

		if (i < 0 || (size_t)i >= rs->n || seen[i]++)
			return 0;
		for (int u = 0; u < r->nuses; u++) {
			int j = ruleset_find_number(rs, r->uses[u]);

			if (j < 0 || !seen[j] || rs->is_root[j])
				return 0;
		}
		if (!r->name || r->number < 1 || !r->file || r->line < 1)
			return 0;
		if (r->type == RULE_SIMPLE && !r->script == !r->metric)
			return 0;
		if (r->type == RULE_COMPLEX && (!r->expr || !r->expr_text))
			return 0;
	}
	return 1;
}

TEST(rules_record_reader_continuations_and_comments)
{
	const char *text = " a: 1 \n# comment\nb:two\n  wrapped line\nmore words\n\n\n"
			   "c: x\n\tnot: a key\n";
	struct rl_reader rd;
	const struct rl_record *rec;
	struct rule_errs e = { 0 };

	rl_reader_init(&rd, "f", text, strlen(text));
	CHECK(rl_reader_next(&rd, &rec, &e) == 1);
	CHECK_INT_EQ(rec->n, 2);
	CHECK_STR_EQ(rec->f[0].key, "a");
	CHECK_STR_EQ(rec->f[0].value, "1");
	CHECK_INT_EQ(rec->f[0].line, 1);
	CHECK_STR_EQ(rec->f[1].key, "b");
	CHECK_STR_EQ(rec->f[1].value, "two wrapped line more words");
	CHECK_INT_EQ(rec->f[1].line, 3);
	CHECK(rl_reader_next(&rd, &rec, &e) == 1);
	CHECK_INT_EQ(rec->n, 1);
	CHECK_STR_EQ(rec->f[0].value, "x not: a key");
	CHECK_INT_EQ(rec->line, 8);
	CHECK(rl_reader_next(&rd, &rec, &e) == 0);
	CHECK_INT_EQ(e.count, 0);
	rl_reader_done(&rd);
}

TEST(rules_lexer_numbers_and_tokens)
{
	struct lexer lx;
	struct token t;
	double v;

	CHECK(lex_number("700", &v) == 0 && v == 700);
	CHECK(lex_number("5M", &v) == 0 && v == 5e6);
	CHECK(lex_number("1.5K", &v) == 0 && v == 1500);
	CHECK(lex_number("2G", &v) == 0 && v == 2e9);
	CHECK(lex_number("-3.25", &v) == 0 && v == -3.25);
	CHECK(lex_number(".5", &v) == 0 && v == 0.5);
	CHECK(lex_number("5X", &v) < 0);
	CHECK(lex_number("1.2.3", &v) < 0);
	CHECK(lex_number("50 %", &v) < 0);
	CHECK(lex_number("", &v) < 0);
	CHECK(lex_number("abc", &v) < 0);
	lex_init(&lx, "r12 <= 40%&load1");
	lex_next(&lx, &t);
	CHECK(t.kind == T_REF && t.ref == 12);
	lex_next(&lx, &t);
	CHECK(t.kind == T_OP && t.op == EOP_LE);
	lex_next(&lx, &t);
	CHECK(t.kind == T_NUM && t.num == 40);
	lex_next(&lx, &t);
	CHECK(t.kind == T_OP && t.op == EOP_PCT);
	lex_next(&lx, &t);
	CHECK(t.kind == T_OP && t.op == EOP_AND);
	lex_next(&lx, &t);
	CHECK(t.kind == T_NAME && t.len == 5);
	lex_next(&lx, &t);
	CHECK(t.kind == T_EOF);
	lex_init(&lx, "5Mb $");
	lex_next(&lx, &t);
	CHECK(t.kind == T_BAD);
	lex_next(&lx, &t);
	CHECK(t.kind == T_BAD);
}

TEST(rules_paper_figures_parse)
{
	struct rule_errs e = { 0 };
	struct ruleset *rs = load_paper(&e);
	const struct rule *r;

	CHECK_STR_EQ(e.text ? e.text : "", "");
	CHECK(rs != NULL);
	CHECK(ruleset_ok(rs));
	CHECK_INT_EQ(rs->n, 5);
	r = &rs->rules[0];
	CHECK_INT_EQ(r->number, 1);
	CHECK_STR_EQ(r->name, "processorStatus");
	CHECK(r->type == RULE_SIMPLE);
	CHECK_STR_EQ(r->script, "processorStatus.sh");
	CHECK_STR_EQ(r->desc, "This rule determines the processor status i.e. the idle time.");
	CHECK(r->op == OP_LT && r->busy == 50 && r->overld == 45);
	CHECK_INT_EQ(r->nparams, 0);
	CHECK_STR_EQ(r->file, "fig3.rule");
	CHECK_INT_EQ(r->line, 1);
	r = &rs->rules[1];
	CHECK_STR_EQ(r->name, "ntStatIpv4");
	CHECK(r->op == OP_GT && r->busy == 700 && r->overld == 900);
	CHECK_INT_EQ(r->nparams, 1);
	CHECK_STR_EQ(r->params[0], "ESTABLISHED");
	r = &rs->rules[ruleset_find(rs, "cmp_rule")];
	CHECK(r->type == RULE_COMPLEX);
	CHECK_INT_EQ(r->nuses, 4);
	CHECK(r->uses[0] == 4 && r->uses[1] == 1 && r->uses[2] == 3 && r->uses[3] == 2);
	CHECK_STR_EQ(r->expr_text, "( 40% * r4 + 30% * r1 + 30% * r3 ) & r2");
	CHECK_STR_EQ(rs->rules[ruleset_find(rs, "memAvail")].metric, "mem_avail_pct");
	CHECK(rs->is_root[ruleset_find(rs, "cmp_rule")]);
	CHECK(!rs->is_root[0] && !rs->is_root[1]);
	ruleset_free(rs);
	rule_errs_clear(&e);
}

TEST(rules_paper_verdicts)
{
	struct rule_errs e = { 0 };
	struct ruleset *rs = load_paper(&e);
	const struct rule *r1, *r2;

	CHECK(rs != NULL);
	r1 = &rs->rules[0];
	r2 = &rs->rules[1];
	CHECK_INT_EQ(rule_judge(r1, 47), RS_BUSY);
	CHECK_INT_EQ(rule_judge(r1, 40), RS_OVERLOADED);
	CHECK_INT_EQ(rule_judge(r1, 60), RS_FREE);
	CHECK_INT_EQ(rule_judge(r1, 45), RS_BUSY);
	CHECK_INT_EQ(rule_judge(r1, 50), RS_FREE);
	CHECK_INT_EQ(rule_judge(r2, 800), RS_BUSY);
	CHECK_INT_EQ(rule_judge(r2, 950), RS_OVERLOADED);
	CHECK_INT_EQ(rule_judge(r2, 100), RS_FREE);
	CHECK_INT_EQ(rule_judge(r2, 700), RS_FREE);
	CHECK_INT_EQ(rule_judge(r2, NAN), RS_ERROR);
	ruleset_free(rs);
	rule_errs_clear(&e);
}

/* Figure 4: (40% r4 + 30% r1 + 30% r3) & r2 on chosen states. */
static int fig4_state(struct ruleset *rs, double idle, double socks,
		      double mem, double load, double *fine)
{
	double v[5] = { idle, socks, mem, load, NAN };
	struct rule_verdict out[5];
	int host = ruleset_eval(rs, v, out, NULL);

	*fine = out[4].value;
	return out[4].state == host ? host : -1;
}

TEST(rules_paper_figure4_expression)
{
	struct rule_errs e = { 0 };
	struct ruleset *rs = load_paper(&e);
	double fine;

	CHECK(rs != NULL);
	/* r4 busy, r1 busy, r3 free, r2 overloaded: min(0.7, 2) */
	CHECK_INT_EQ(fig4_state(rs, 47, 950, 50, 3, &fine), RS_BUSY);
	CHECK_NEAR(fine, 0.7, 1e-9);
	/* everything overloaded: 2 */
	CHECK_INT_EQ(fig4_state(rs, 10, 1000, 5, 9, &fine), RS_OVERLOADED);
	CHECK_NEAR(fine, 2, 1e-9);
	/* all overloaded but r2 free: min(2, 0) */
	CHECK_INT_EQ(fig4_state(rs, 10, 5, 5, 9, &fine), RS_FREE);
	CHECK_NEAR(fine, 0, 1e-9);
	/* r4 overloaded only, r2 busy: 0.8 -> busy */
	CHECK_INT_EQ(fig4_state(rs, 90, 800, 50, 9, &fine), RS_BUSY);
	CHECK_NEAR(fine, 0.8, 1e-9);
	/* r1 and r3 overloaded (0.6+0.6=1.2) and r4 busy (0.4) = 1.6 */
	CHECK_INT_EQ(fig4_state(rs, 10, 950, 5, 3, &fine), RS_OVERLOADED);
	CHECK_NEAR(fine, 1.6, 1e-9);
	/* r1 overloaded only: 0.6 & r2 overloaded -> busy */
	CHECK_INT_EQ(fig4_state(rs, 10, 950, 50, 1, &fine), RS_BUSY);
	/* all free */
	CHECK_INT_EQ(fig4_state(rs, 90, 5, 50, 1, &fine), RS_FREE);
	/* a used rule that errs makes the complex rule err; host falls back
	 * to free since the only root erred */
	{
		double v[5] = { NAN, 950, 50, 3, 0 };
		struct rule_verdict out[5];
		double hv = -1;

		CHECK_INT_EQ(ruleset_eval(rs, v, out, &hv), RS_FREE);
		CHECK_INT_EQ(out[4].state, RS_ERROR);
		CHECK_INT_EQ(out[0].state, RS_ERROR);
		CHECK(hv == 0);
	}
	ruleset_free(rs);
	rule_errs_clear(&e);
}

TEST(rules_host_state_is_worst_root)
{
	const char *text =
		"rl_number: 1\nrl_name: a\nrl_type: simple\nrl_script: @load1\n"
		"rl_operator: >\nrl_busy: 1\nrl_overLd: 2\n\n"
		"rl_number: 2\nrl_name: b\nrl_type: simple\nrl_script: b.sh\n"
		"rl_operator: >=\nrl_busy: 10\nrl_overLd: 20\n";
	struct rule_errs e = { 0 };
	struct ruleset *rs = parse_text(text, &e);
	struct rule_verdict out[2];
	double hv;

	CHECK(rs != NULL && ruleset_ok(rs));
	CHECK(rs->is_root[0] && rs->is_root[1]);
	CHECK_INT_EQ(ruleset_eval(rs, (double[]){ 1.5, 0 }, out, &hv), RS_BUSY);
	CHECK(hv == 1);
	CHECK_INT_EQ(ruleset_eval(rs, (double[]){ 0, 20 }, out, &hv), RS_OVERLOADED);
	CHECK(hv == 2);
	CHECK_INT_EQ(ruleset_eval(rs, (double[]){ 5, NAN }, out, &hv), RS_OVERLOADED);
	CHECK_INT_EQ(out[1].state, RS_ERROR);
	CHECK_INT_EQ(ruleset_eval(rs, (double[]){ NAN, NAN }, out, &hv), RS_FREE);
	ruleset_free(rs);
	rule_errs_clear(&e);
}

TEST(rules_empty_set_is_free_with_default_settings)
{
	struct rule_errs e = { 0 };
	struct ruleset *rs = parse_text("# nothing here\n\n", &e);
	double hv = 7;

	CHECK(rs != NULL);
	CHECK_INT_EQ(rs->n, 0);
	CHECK_INT_EQ(ruleset_eval(rs, NULL, NULL, &hv), RS_FREE);
	CHECK(hv == 0);
	CHECK(rs->settings.interval[0] == 5 && rs->settings.interval[1] == 5 &&
	      rs->settings.interval[2] == 5 && rs->settings.stability == 0);
	ruleset_free(rs);
}

TEST(rules_settings_record)
{
	const char *text = "set_interval_busy: 2\nset_interval: 10\nset_stability: 30\n\n"
			   "rl_number: 1\nrl_name: a\nrl_type: simple\nrl_script: @load1\n"
			   "rl_operator: ==\nrl_busy: 1\nrl_overLd: 2\n";
	struct rule_errs e = { 0 };
	struct ruleset *rs = parse_text(text, &e);

	CHECK(rs != NULL);
	CHECK(rs->settings.interval[RS_FREE] == 10);
	CHECK(rs->settings.interval[RS_BUSY] == 2);
	CHECK(rs->settings.interval[RS_OVERLOADED] == 10);
	CHECK(rs->settings.stability == 30);
	CHECK_INT_EQ(rule_judge(&rs->rules[0], 2), RS_OVERLOADED);
	CHECK_INT_EQ(rule_judge(&rs->rules[0], 1), RS_BUSY);
	CHECK_INT_EQ(rule_judge(&rs->rules[0], 1.5), RS_FREE);
	ruleset_free(rs);
}

TEST(rules_settings_errors)
{
	struct rule_errs e = { 0 };

	CHECK(parse_text("set_interval: 0\nset_stability: -1\nset_interval_free: x\n", &e) == NULL);
	CHECK_INT_EQ(e.count, 3);
	CHECK_STR_HAS(e.text, "t.rule:1: set_interval must be > 0");
	CHECK_STR_HAS(e.text, "t.rule:2: set_stability must be >= 0");
	CHECK_STR_HAS(e.text, "t.rule:3: non-numeric setting near 'x'");
	rule_errs_clear(&e);
	CHECK(parse_text("set_interval: 1\n\nset_stability: 1\n", &e) == NULL);
	CHECK_STR_HAS(e.text, "t.rule:3: more than one settings record (first at t.rule:1)");
	rule_errs_clear(&e);
}

/* Every error in a file is reported, not just the first. */
TEST(rules_errors_are_all_collected)
{
	const char *text =
		"rl_number: x\nrl_name: a b\nrl_type: simple\nrl_script: @nosuch\n"
		"rl_operator: =<\nrl_busy: high\nrl_overLd: 1\nrl_color: red\n\n"
		"rl_number: 2\nrl_name: c\nrl_type: weird\n";
	struct rule_errs e = { 0 };

	CHECK(parse_text(text, &e) == NULL);
	CHECK_STR_HAS(e.text, "t.rule:1: bad rule number (1..1000000) near 'x'");
	CHECK_STR_HAS(e.text, "t.rule:2: bad rule name");
	CHECK_STR_HAS(e.text, "t.rule:4: unknown metric near '@nosuch'");
	CHECK_STR_HAS(e.text, "t.rule:5: bad operator");
	CHECK_STR_HAS(e.text, "t.rule:6: non-numeric threshold near 'high'");
	CHECK_STR_HAS(e.text, "t.rule:8: unknown key near 'rl_color'");
	CHECK_STR_HAS(e.text, "t.rule:12: unknown rl_type (simple or complex) near 'weird'");
	CHECK_INT_EQ(e.count, 7);
	rule_errs_clear(&e);
}

TEST(rules_cross_file_duplicates_and_references)
{
	const char *a = "rl_number: 1\nrl_name: x\nrl_type: simple\nrl_script: @load1\n"
			"rl_operator: >\nrl_busy: 1\nrl_overLd: 2\n";
	const char *b = "rl_number: 1\nrl_name: x\nrl_type: simple\nrl_script: @load5\n"
			"rl_operator: >\nrl_busy: 1\nrl_overLd: 2\n\n"
			"rl_number: 3\nrl_name: z\nrl_type: complex\nrl_ruleNo: 1 9\n"
			"rl_script: r1 | r9\n";
	const char *files[] = { "a.rule", "b.rule" }, *texts[] = { a, b };
	size_t len[] = { strlen(a), strlen(b) };
	struct rule_errs e = { 0 };

	CHECK(ruleset_parse(files, texts, len, 2, &e) == NULL);
	CHECK_STR_HAS(e.text, "b.rule:1: duplicate rule number (first at a.rule:1) near '1'");
	CHECK_STR_HAS(e.text, "b.rule:2: duplicate rule name (first at a.rule:1) near 'x'");
	CHECK_STR_HAS(e.text, "b.rule:13: unknown rule reference near 'r9'");
	CHECK_STR_HAS(e.text, "b.rule:12: unknown rule reference in rl_ruleNo near '9'");
	rule_errs_clear(&e);
	/* each file alone is fine */
	{
		struct ruleset *rs = ruleset_parse(files, texts, len, 1, &e);

		CHECK(rs != NULL);
		ruleset_free(rs);
	}
	CHECK_INT_EQ(e.count, 0);
}

TEST(rules_cycle_is_an_error)
{
	const char *text =
		"rl_number: 1\nrl_name: a\nrl_type: complex\nrl_ruleNo: 2\nrl_script: r2\n\n"
		"rl_number: 2\nrl_name: b\nrl_type: complex\nrl_ruleNo: 1\nrl_script: r1\n";
	struct rule_errs e = { 0 };

	CHECK(parse_text(text, &e) == NULL);
	CHECK_STR_HAS(e.text, "cycle among complex rules");
	rule_errs_clear(&e);
	CHECK(parse_text("rl_number: 1\nrl_name: a\nrl_type: complex\nrl_ruleNo: 1\n"
			 "rl_script: r1 + 1\n", &e) == NULL);
	CHECK_STR_HAS(e.text, "t.rule:4: cycle among complex rules");
	rule_errs_clear(&e);
}

TEST(rules_nested_complex_rules_order)
{
	/* 3 uses 2 which uses 1; written in reverse order */
	const char *text =
		"rl_number: 3\nrl_name: top\nrl_type: complex\nrl_ruleNo: 2\nrl_script: r2 + 1\n\n"
		"rl_number: 2\nrl_name: mid\nrl_type: complex\nrl_ruleNo: 1\nrl_script: r1 * 50%\n\n"
		"rl_number: 1\nrl_name: leaf\nrl_type: simple\nrl_script: @procs\n"
		"rl_operator: >\nrl_busy: 100\nrl_overLd: 200\n";
	struct rule_errs e = { 0 };
	struct ruleset *rs = parse_text(text, &e);
	struct rule_verdict out[3];
	double hv;

	CHECK(rs != NULL && ruleset_ok(rs));
	CHECK_INT_EQ(rs->order[0], 2);
	CHECK(rs->is_root[0] && !rs->is_root[1] && !rs->is_root[2]);
	CHECK_INT_EQ(ruleset_eval(rs, (double[]){ 0, 0, 300 }, out, &hv), RS_OVERLOADED);
	CHECK_NEAR(out[1].value, 1, 1e-12);
	CHECK_NEAR(hv, 2, 1e-12);
	ruleset_free(rs);
}

TEST(rules_file_too_large_and_nul)
{
	size_t n = RULE_FILE_MAX + 1;
	char *big = malloc(n);
	const char *file = "big.rule", *text = big;
	struct rule_errs e = { 0 };

	CHECK(big != NULL);
	memset(big, '#', n);
	CHECK(ruleset_parse(&file, &text, &n, 1, &e) == NULL);
	CHECK_STR_HAS(e.text, "big.rule:1: file too large (65537 bytes, max 65536)");
	rule_errs_clear(&e);
	n = 10;
	memcpy(big, "rl_n\0mber", 10);
	CHECK(ruleset_parse(&file, &text, &n, 1, &e) == NULL);
	CHECK_STR_HAS(e.text, "NUL byte");
	rule_errs_clear(&e);
	free(big);
}

TEST(rules_too_many_rules)
{
	size_t cap = (RULE_MAX + 2) * 120, len = 0;
	char *text = malloc(cap);
	struct rule_errs e = { 0 };

	CHECK(text != NULL);
	for (int i = 1; i <= RULE_MAX + 1; i++)
		len += (size_t)snprintf(text + len, cap - len,
				"rl_number: %d\nrl_name: r%d\nrl_type: simple\n"
				"rl_script: @load1\nrl_operator: >\nrl_busy: 1\nrl_overLd: 2\n\n",
				i, i);
	CHECK(parse_text(text, &e) == NULL);
	CHECK_STR_HAS(e.text, "too many rules (max 256)");
	CHECK_INT_EQ(e.count, 1);
	rule_errs_clear(&e);
	free(text);
}

TEST(rules_errs_are_single_sanitized_lines)
{
	struct rule_errs e = { 0 };
	char big[200];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	rule_errs_add(&e, "f", 3, "a\tb\nc", "bad %s", "thing");
	rule_errs_add(&e, "f", 4, big, "long");
	rule_errs_add(&e, "f", 5, NULL, "no token");
	CHECK_INT_EQ(e.count, 3);
	CHECK_STR_HAS(e.text, "f:3: bad thing near 'a?b?c'\n");
	CHECK_STR_HAS(e.text, "xxx...'\n");
	CHECK_STR_HAS(e.text, "f:5: no token\n");
	rule_errs_clear(&e);
	CHECK(e.text == NULL && e.count == 0);
}

TEST(rules_state_names)
{
	CHECK_STR_EQ(rs_state_name(RS_OVERLOADED), "overloaded");
	CHECK_STR_EQ(rs_state_name(RS_DRAINING), "draining");
	CHECK_STR_EQ(rs_state_name(42), "unknown");
	CHECK_INT_EQ(rs_state_parse("busy"), RS_BUSY);
	CHECK_INT_EQ(rs_state_parse("nope"), -1);
	CHECK_INT_EQ(rs_state_from_value(0.49), RS_FREE);
	CHECK_INT_EQ(rs_state_from_value(0.5), RS_BUSY);
	CHECK_INT_EQ(rs_state_from_value(1.49), RS_BUSY);
	CHECK_INT_EQ(rs_state_from_value(1.5), RS_OVERLOADED);
	CHECK_STR_EQ(rule_op_name(OP_GE), ">=");
}

TEST(rules_load_dir_default_set)
{
	struct rule_errs e = { 0 };
	struct ruleset *rs = ruleset_load_dir("rules/default", &e);
	struct rule_verdict out[RULE_MAX];
	double vals[RULE_MAX];
	uint64_t t0, t1;
	int reps = 200000, host = 0;

	CHECK_STR_EQ(e.text ? e.text : "", "");
	CHECK(rs != NULL && ruleset_ok(rs));
	CHECK(ruleset_find(rs, "processorStatus") >= 0);
	CHECK(ruleset_find(rs, "host") >= 0);
	CHECK(rs->settings.interval[RS_OVERLOADED] == 2);
	for (size_t i = 0; i < rs->n; i++)
		vals[i] = (double)(i * 7 % 60);
	t0 = util_now_ns();
	for (int k = 0; k < reps; k++)
		host += ruleset_eval(rs, vals, out, NULL);
	t1 = util_now_ns();
	printf("    ruleset_eval of the default set: %.0f ns\n",
	       (double)(t1 - t0) / reps);
#if !defined(__SANITIZE_ADDRESS__)
	CHECK((double)(t1 - t0) / reps < 2000);
#endif
	CHECK(host >= 0);
	ruleset_free(rs);
}

/* An rl_script naming a file is read from the rules directory only. */
TEST(rules_expression_file)
{
	char dir[] = "/tmp/resched-rules-XXXXXX", path[256];
	const char *text = "rl_number: 1\nrl_name: a\nrl_type: simple\nrl_script: @load1\n"
			   "rl_operator: >\nrl_busy: 1\nrl_overLd: 2\n\n"
			   "rl_number: 2\nrl_name: c\nrl_type: complex\nrl_ruleNo: 1\n"
			   "rl_script: c.expr\n";
	struct rule_errs e = { 0 };
	struct ruleset *rs;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/a.rule", dir);
	CHECK(util_write_atomic(path, text, strlen(text), 0644) == 0);
	snprintf(path, sizeof(path), "%s/c.expr", dir);
	CHECK(util_write_atomic(path, "# weigh it\nr1 *\n 50%\n", 22, 0644) == 0);
	rs = ruleset_load_dir(dir, &e);
	unlink(path);
	snprintf(path, sizeof(path), "%s/a.rule", dir);
	unlink(path);
	rmdir(dir);
	CHECK_STR_EQ(e.text ? e.text : "", "");
	CHECK(rs != NULL);
	CHECK_STR_EQ(rs->rules[1].expr_text, "r1 * 50%");
	ruleset_free(rs);
	CHECK(parse_text(text, &e) == NULL);
	CHECK_STR_HAS(e.text, "t.rule:13: expression file can only be read when loading "
			      "a rules directory near 'c.expr'");
	rule_errs_clear(&e);
}
