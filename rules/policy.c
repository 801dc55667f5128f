/*
 * policy.c — the migration policy file (DESIGN §4, docs/RULES.md).
 *
 *   migrate_when: EXPR   accept_when: EXPR   select: WORD   place: WORD
 *
 * Same line format as rule files (records, continuation lines, '#'
 * comments); blank lines are allowed anywhere, each key at most once.
 * Expressions may use metric names, `state` and the state names.
 */
#include <stdlib.h>
#include <string.h>

#include "rules/rule_expr.h"
#include "rules/rule_lex.h"
#include "rules/rules.h"

static const char *const select_names[] = {
	[SELECT_LATEST_COMPLETION] = "latest_completion",
	[SELECT_OLDEST] = "oldest",
	[SELECT_NEWEST] = "newest",
	[SELECT_LARGEST_MEM] = "largest_mem",
};
static const char *const place_names[] = {
	[PLACE_FIRST_FIT] = "first_fit",
	[PLACE_LEAST_LOADED] = "least_loaded",
	[PLACE_MOST_MEM] = "most_mem",
};

const char *policy_select_name(enum policy_select s)
{
	return (int)s >= 0 && s <= SELECT_LARGEST_MEM ? select_names[s] : "?";
}

const char *policy_place_name(enum policy_place p)
{
	return (int)p >= 0 && p <= PLACE_MOST_MEM ? place_names[p] : "?";
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	expr_free(p->migrate_when);
	expr_free(p->accept_when);
	free(p->migrate_text);
	free(p->accept_text);
	free(p);
}

enum pkey { PK_ACCEPT, PK_MIGRATE, PK_PLACE, PK_SELECT, PK_COUNT };
static const char *const pkey_names[] = { "accept_when", "migrate_when",
					  "place", "select" };

struct pbuild {
	struct policy *p;
	const char *file;
	struct rule_errs *errs;
	int seen[PK_COUNT];   /* line of each key, 0 when not seen */
};

static int word_index(const char *const *names, int n, const char *v)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], v) == 0)
			return i;
	return -1;
}

static void set_expr(struct pbuild *b, const struct rl_field *f,
		     struct expr **out, char **text)
{
	struct expr_err e;

	*out = expr_parse(f->value, EXPR_METRICS, &e);
	if (!*out) {
		rule_errs_add(b->errs, b->file, f->line, e.near, "%s: %s",
			      f->key, e.msg);
		return;
	}
	*text = strdup(f->value);
}

static void set_word(struct pbuild *b, const struct rl_field *f, int key)
{
	int i;

	if (key == PK_SELECT) {
		i = word_index(select_names, SELECT_LARGEST_MEM + 1, f->value);
		if (i >= 0)
			b->p->select = (enum policy_select)i;
	} else {
		i = word_index(place_names, PLACE_MOST_MEM + 1, f->value);
		if (i >= 0)
			b->p->place = (enum policy_place)i;
	}
	if (i < 0)
		rule_errs_add(b->errs, b->file, f->line, f->value, "unknown %s value "
			      "(%s)", f->key, key == PK_SELECT
			      ? "latest_completion oldest newest largest_mem"
			      : "first_fit least_loaded most_mem");
}

static void policy_field(struct pbuild *b, const struct rl_field *f)
{
	int key = word_index(pkey_names, PK_COUNT, f->key);

	if (key < 0) {
		rule_errs_add(b->errs, b->file, f->line, f->key, "unknown key");
		return;
	}
	if (b->seen[key]) {
		rule_errs_add(b->errs, b->file, f->line, f->key,
			      "duplicate key (first at line %d)", b->seen[key]);
		return;
	}
	b->seen[key] = f->line;
	if (key == PK_MIGRATE)
		set_expr(b, f, &b->p->migrate_when, &b->p->migrate_text);
	else if (key == PK_ACCEPT)
		set_expr(b, f, &b->p->accept_when, &b->p->accept_text);
	else
		set_word(b, f, key);
}

struct policy *policy_parse(const char *file, const char *text, size_t len,
			    struct rule_errs *errs)
{
	struct pbuild b = { .file = file ? file : "-", .errs = errs };
	struct rl_reader rd;
	const struct rl_record *rec;
	int before = errs->count;

	b.p = calloc(1, sizeof(*b.p));
	if (!b.p) {
		rule_errs_add(errs, b.file, 0, NULL, "out of memory");
		return NULL;
	}
	b.p->select = SELECT_LATEST_COMPLETION;
	b.p->place = PLACE_FIRST_FIT;
	if (rl_check_text(b.file, text, len, errs) == 0) {
		rl_reader_init(&rd, b.file, text, len);
		while (rl_reader_next(&rd, &rec, errs))
			for (size_t i = 0; i < rec->n; i++)
				policy_field(&b, &rec->f[i]);
		rl_reader_done(&rd);
	}
	if (errs->count != before) {
		policy_free(b.p);
		return NULL;
	}
	return b.p;
}
