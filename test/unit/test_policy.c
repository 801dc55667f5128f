/* Policy files: keys, defaults, the paper's policies, errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"
#include "rules/rules.h"
#include "test/unit/unit.h"

struct m {
	double load1, procs, net_bps, state;
};

static int m_lookup(void *ctx, const char *name, double *out)
{
	const struct m *m = ctx;

	if (strcmp(name, "load1") == 0)
		*out = m->load1;
	else if (strcmp(name, "procs") == 0)
		*out = m->procs;
	else if (strcmp(name, "net_bps") == 0)
		*out = m->net_bps;
	else if (strcmp(name, "state") == 0)
		*out = m->state;
	else
		return -1;
	return 0;
}

static struct policy *load_example(const char *name, struct rule_errs *e)
{
	char path[256], *text;
	size_t len;
	struct policy *p;

	snprintf(path, sizeof(path), "examples/policies/%s", name);
	text = util_read_file(path, RULE_FILE_MAX, &len);
	if (!text)
		return NULL;
	p = policy_parse(name, text, len, e);
	free(text);
	return p;
}

static struct policy *parse(const char *text, struct rule_errs *e)
{
	return policy_parse("p.policy", text, strlen(text), e);
}

TEST(policy_empty_is_default)
{
	struct rule_errs e = { 0 };
	struct policy *p = parse("# nothing\n\n", &e);

	CHECK(p != NULL);
	CHECK(p->migrate_when == NULL && p->accept_when == NULL);
	CHECK(p->select == SELECT_LATEST_COMPLETION && p->place == PLACE_FIRST_FIT);
	policy_free(p);
	p = parse("", &e);
	CHECK(p != NULL);
	policy_free(p);
	CHECK_INT_EQ(e.count, 0);
}

TEST(policy_paper_policies)
{
	struct rule_errs e = { 0 };
	struct policy *p1 = load_example("policy1.policy", &e);
	struct policy *p2 = load_example("policy2.policy", &e);
	struct policy *p3 = load_example("policy3.policy", &e);
	/* the paper's hosts: source loaded; host 2 communicating at 6.71 MB/s
	 * with load 0.97; host 4 free */
	struct m src = { 2.52, 90, 1e6, RS_OVERLOADED };
	struct m h2 = { 0.97, 80, 6.71e6, RS_FREE }, h4 = { 0.1, 70, 2e4, RS_FREE };

	CHECK_STR_EQ(e.text ? e.text : "", "");
	CHECK(p1 && p2 && p3);
	CHECK(expr_eval(p1->migrate_when, m_lookup, &src) == 0);
	CHECK(expr_eval(p2->migrate_when, m_lookup, &src) == 1);
	CHECK(expr_eval(p3->migrate_when, m_lookup, &src) == 1);
	CHECK(expr_eval(p2->accept_when, m_lookup, &h2) == 1);   /* policy 2 picks h2 */
	CHECK(expr_eval(p3->accept_when, m_lookup, &h2) == 0);   /* policy 3 refuses it */
	CHECK(expr_eval(p3->accept_when, m_lookup, &h4) == 1);
	src.net_bps = 6e6;                                       /* busy network: stay */
	CHECK(expr_eval(p3->migrate_when, m_lookup, &src) == 0);
	src.load1 = 1;
	src.procs = 151;
	CHECK(expr_eval(p2->migrate_when, m_lookup, &src) == 1);
	CHECK_STR_EQ(p3->migrate_text, "(load1 > 2 | procs > 150) & net_bps <= 5M");
	CHECK(p3->select == SELECT_LATEST_COMPLETION && p3->place == PLACE_FIRST_FIT);
	policy_free(p1);
	policy_free(p2);
	policy_free(p3);
}

TEST(policy_select_place_and_continuation)
{
	struct rule_errs e = { 0 };
	struct policy *p = parse("select: largest_mem\n\nplace: most_mem\n"
				 "migrate_when: state == overloaded |\n   load1 > 4\n", &e);
	struct m m = { 5, 0, 0, RS_BUSY };

	CHECK(p != NULL);
	CHECK(p->select == SELECT_LARGEST_MEM && p->place == PLACE_MOST_MEM);
	CHECK_STR_EQ(p->migrate_text, "state == overloaded | load1 > 4");
	CHECK(expr_eval(p->migrate_when, m_lookup, &m) == 1);
	CHECK_STR_EQ(policy_select_name(SELECT_OLDEST), "oldest");
	CHECK_STR_EQ(policy_place_name(PLACE_LEAST_LOADED), "least_loaded");
	policy_free(p);
}

TEST(policy_errors_all_reported)
{
	struct rule_errs e = { 0 };

	CHECK(parse("migrate_when: load9 > 1\naccept_when:\nselect: random\n"
		    "place: best\ncolour: red\nselect: oldest\nmigrate_when: 1\n"
		    "accept_when: (1\n", &e) == NULL);
	CHECK_STR_HAS(e.text, "p.policy:1: migrate_when: unknown metric near 'load9'");
	CHECK_STR_HAS(e.text, "p.policy:2: accept_when: empty expression near 'end'");
	CHECK_STR_HAS(e.text, "p.policy:3: unknown select value");
	CHECK_STR_HAS(e.text, "p.policy:4: unknown place value");
	CHECK_STR_HAS(e.text, "p.policy:5: unknown key near 'colour'");
	CHECK_STR_HAS(e.text, "p.policy:6: duplicate key (first at line 3) near 'select'");
	CHECK_STR_HAS(e.text, "p.policy:7: duplicate key (first at line 1)");
	CHECK_STR_HAS(e.text, "p.policy:8: duplicate key");
	CHECK_INT_EQ(e.count, 8);
	rule_errs_clear(&e);
}
