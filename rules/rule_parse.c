/*
 * rule_parse.c — rule files to a struct ruleset (see rules.h, rule_parse.h).
 *
 * Two passes: every record of every file is parsed into a growing array
 * (errors collected, parsing goes on), then the cross-file checks run over
 * the union (duplicates, references, rl_ruleNo agreement, cycles) and the
 * evaluation order is computed.  Any error: the whole set is freed.
 */
#include "rules/rule_parse.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "rules/rule_expr.h"
#include "rules/rule_lex.h"

#define RULE_NUMBER_MAX 1000000
#define INTERVAL_MAX 86400.0

enum key_id {
	KEY_BUSY, KEY_DESC, KEY_NAME, KEY_NUMBER, KEY_OPERATOR, KEY_OVERLD,
	KEY_PARAM, KEY_RULENO, KEY_SCRIPT, KEY_TYPE,
	KEY_SET_INTERVAL, KEY_SET_BUSY, KEY_SET_FREE, KEY_SET_OVERLOADED,
	KEY_SET_STABILITY, KEY_COUNT
};
enum key_use { USE_ANY, USE_SIMPLE, USE_COMPLEX, USE_SET };

/* Sorted (strcmp order) for bsearch. */
static const struct keydef {
	const char *name;
	enum key_id id;
	enum key_use use;
} keys[] = {
	{ "rl_busy", KEY_BUSY, USE_SIMPLE },
	{ "rl_desc", KEY_DESC, USE_ANY },
	{ "rl_name", KEY_NAME, USE_ANY },
	{ "rl_number", KEY_NUMBER, USE_ANY },
	{ "rl_operator", KEY_OPERATOR, USE_SIMPLE },
	{ "rl_overLd", KEY_OVERLD, USE_SIMPLE },
	{ "rl_param", KEY_PARAM, USE_SIMPLE },
	{ "rl_ruleNo", KEY_RULENO, USE_COMPLEX },
	{ "rl_script", KEY_SCRIPT, USE_ANY },
	{ "rl_type", KEY_TYPE, USE_ANY },
	{ "set_interval", KEY_SET_INTERVAL, USE_SET },
	{ "set_interval_busy", KEY_SET_BUSY, USE_SET },
	{ "set_interval_free", KEY_SET_FREE, USE_SET },
	{ "set_interval_overloaded", KEY_SET_OVERLOADED, USE_SET },
	{ "set_stability", KEY_SET_STABILITY, USE_SET },
};

/* The fields of one record, by key. */
struct recfields {
	const char *val[KEY_COUNT];
	int line[KEY_COUNT];
};

/* Per rule, lines of keys that cross-file checks report on. */
struct rinfo {
	int number_line, name_line, script_line, ruleno_line;
};

struct rbuild {
	struct ruleset *rs;
	struct rinfo *info;
	size_t cap;
	struct rule_errs *errs;
	const char *file;       /* current file (owned by rs->files) */
	const char *dir;        /* its expression-file directory, or NULL */
	const char *set_file;   /* where the settings record was */
	int set_line;
	int too_many;
};

static int key_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const struct keydef *)e)->name);
}

static const struct keydef *key_find(const char *name)
{
	return bsearch(name, keys, sizeof(keys) / sizeof(keys[0]),
		       sizeof(keys[0]), key_cmp);
}

static void err(struct rbuild *b, int line, const char *near,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void err(struct rbuild *b, int line, const char *near,
		const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rule_errs_add(b->errs, b->file, line, near, "%s", msg);
}

int rule_name_valid(const char *name)
{
	size_t n = strlen(name);

	return n >= 1 && n <= 64 && name[0] != '.' &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789_.-") == n;
}

/* A script is a plain file name in the agent's scripts folder, starting
 * with a letter, digit or '_' (never an option, never hidden). */
static int script_name_valid(const char *name)
{
	size_t n = strlen(name);

	return n >= 1 && n <= 255 && (isalnum((unsigned char)name[0]) || name[0] == '_') &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "0123456789_.+-") == n;
}

/* ---- freeing ------------------------------------------------------------ */

static void rule_release(struct rule *r)
{
	free(r->name);
	free(r->desc);
	free(r->script);
	free(r->metric);
	for (int i = 0; i < r->nparams; i++)
		free(r->params[i]);
	expr_free(r->expr);
	free(r->expr_text);
}

void ruleset_free(struct ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++)
		rule_release(&rs->rules[i]);
	for (size_t i = 0; i < rs->nfiles; i++)
		free(rs->files[i]);
	free(rs->files);
	free(rs->rules);
	free(rs->order);
	free(rs->is_root);
	free(rs);
}

int ruleset_find(const struct ruleset *rs, const char *name)
{
	for (size_t i = 0; i < rs->n; i++)
		if (rs->rules[i].name && strcmp(rs->rules[i].name, name) == 0)
			return (int)i;
	return -1;
}

int ruleset_find_number(const struct ruleset *rs, int number)
{
	for (size_t i = 0; i < rs->n; i++)
		if (rs->rules[i].number == number)
			return (int)i;
	return -1;
}

/* ---- one record's fields ------------------------------------------------ */

static void set_number(struct rbuild *b, struct rule *r, const char *v, int line)
{
	uint64_t n;

	if (util_parse_u64(v, &n) < 0 || n < 1 || n > RULE_NUMBER_MAX)
		err(b, line, v, "bad rule number (1..%d)", RULE_NUMBER_MAX);
	else
		r->number = (int)n;
}

static void set_name(struct rbuild *b, struct rule *r, const char *v, int line)
{
	if (!rule_name_valid(v))
		err(b, line, v, "bad rule name (1-64 of A-Z a-z 0-9 _ . -)");
	else
		r->name = strdup(v);
}

static void set_operator(struct rbuild *b, struct rule *r, const char *v,
			 int line, int *ok)
{
	for (int op = OP_LT; op <= OP_NE; op++) {
		if (strcmp(v, rule_op_name((enum rule_op)op)) == 0) {
			r->op = (enum rule_op)op;
			*ok = 1;
			return;
		}
	}
	err(b, line, v, "bad operator (< <= > >= == !=)");
}

static int set_threshold(struct rbuild *b, double *out, const char *v, int line)
{
	if (lex_number(v, out) == 0)
		return 1;
	err(b, line, v, "non-numeric threshold");
	return 0;
}

/* rl_param: blank-separated arguments, possibly none. */
static void set_params(struct rbuild *b, struct rule *r, const char *v, int line)
{
	char *copy = strdup(v), *save = NULL;

	for (char *w = copy ? strtok_r(copy, " \t", &save) : NULL; w;
	     w = strtok_r(NULL, " \t", &save)) {
		if (r->nparams == RULE_PARAMS_MAX) {
			err(b, line, w, "too many parameters (max %d)", RULE_PARAMS_MAX);
			break;
		}
		r->params[r->nparams++] = strdup(w);
	}
	free(copy);
}

/* rl_ruleNo: blank-separated rule numbers, each once. */
static void set_ruleno(struct rbuild *b, struct rule *r, const char *v, int line)
{
	char *copy = strdup(v), *save = NULL;
	uint64_t n;

	for (char *w = copy ? strtok_r(copy, " \t", &save) : NULL; w;
	     w = strtok_r(NULL, " \t", &save)) {
		int dup = 0;

		if (util_parse_u64(w, &n) < 0 || n < 1 || n > RULE_NUMBER_MAX) {
			err(b, line, w, "bad rule number in rl_ruleNo");
			continue;
		}
		for (int i = 0; i < r->nuses; i++)
			dup |= r->uses[i] == (int)n;
		if (dup)
			err(b, line, w, "rule listed twice in rl_ruleNo");
		else if (r->nuses == RULE_MAX)
			err(b, line, w, "too many rules in rl_ruleNo (max %d)", RULE_MAX);
		else
			r->uses[r->nuses++] = (int)n;
	}
	free(copy);
	if (r->nuses == 0 && b->errs)
		err(b, line, v, "rl_ruleNo lists no rules");
}

/* rl_script of a simple rule: "@metric" or a script file name. */
static void set_simple_script(struct rbuild *b, struct rule *r, const char *v,
			      int line)
{
	if (v[0] == '@') {
		if (!metric_known(v + 1))
			err(b, line, v, "unknown metric");
		else
			r->metric = strdup(v + 1);
	} else if (!script_name_valid(v)) {
		err(b, line, v, "bad script name (a plain file name in the "
				"scripts folder, or @metric)");
	} else {
		r->script = strdup(v);
	}
}

/* A complex rl_script that is a bare word (a plain file name) and not a
 * valid expression names a file holding the expression. */
static int is_expr_file(const char *v)
{
	struct expr_err e;
	struct expr *x;

	if (!script_name_valid(v))
		return 0;
	x = expr_parse(v, EXPR_REFS, &e);
	expr_free(x);
	return x == NULL;
}

/* The expression held in an expression file: '#' lines dropped, lines
 * joined.  Returns malloc'd text or NULL (reported). */
static char *read_expr_file(struct rbuild *b, const char *name, int line)
{
	char path[4096], *text, *out, *o;
	size_t len;

	if (!b->dir) {
		err(b, line, name, "expression file can only be read when "
				   "loading a rules directory");
		return NULL;
	}
	if (!script_name_valid(name)) {
		err(b, line, name, "bad expression file name (a plain file name)");
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", b->dir, name);
	text = util_read_file(path, RULE_FILE_MAX, &len);
	if (!text) {
		err(b, line, name, "cannot read expression file: %s", strerror(errno));
		return NULL;
	}
	out = o = malloc(len + 2);
	for (char *save = NULL, *l = out ? strtok_r(text, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save)) {
		size_t n;

		l += strspn(l, " \t\r");
		n = strlen(l);
		while (n && strchr(" \t\r", l[n - 1]))
			n--;
		if (n == 0 || l[0] == '#')
			continue;
		o += sprintf(o, "%s%.*s", o == out ? "" : " ", (int)n, l);
	}
	if (out)
		*o = '\0';
	free(text);
	return out;
}

/* rl_script of a complex rule: an expression over rN, or a file of one. */
static void set_complex_script(struct rbuild *b, struct rule *r, const char *v,
			       int line)
{
	struct expr_err e;
	char *text = is_expr_file(v) ? read_expr_file(b, v, line) : strdup(v);

	if (!text)
		return;
	r->expr = expr_parse(text, EXPR_REFS, &e);
	if (!r->expr) {
		err(b, line, e.near, "%s", e.msg);
		free(text);
		return;
	}
	r->expr_text = text;
}

/* ---- rule records ------------------------------------------------------- */

/* rl_type first: the other keys depend on it.  -1 unknown or missing. */
static int record_type(struct rbuild *b, const struct recfields *f)
{
	const char *v = f->val[KEY_TYPE];

	if (!v)
		return -1;
	if (strcmp(v, "simple") == 0)
		return RULE_SIMPLE;
	if (strcmp(v, "complex") == 0)
		return RULE_COMPLEX;
	err(b, f->line[KEY_TYPE], v, "unknown rl_type (simple or complex)");
	return -1;
}

static void require(struct rbuild *b, const struct recfields *f, int line,
		    enum key_id id, const char *near)
{
	if (!f->val[id])
		err(b, line, near, "missing required key '%s'", keys[id].name);
}

static void check_thresholds(struct rbuild *b, const struct rule *r,
			     const struct recfields *f)
{
	int bad = ((r->op == OP_LT || r->op == OP_LE) && r->overld > r->busy) ||
		  ((r->op == OP_GT || r->op == OP_GE) && r->overld < r->busy);

	if (bad)
		err(b, f->line[KEY_OVERLD], f->val[KEY_OVERLD],
		    "thresholds in the wrong order: with %s rl_overLd must be %s "
		    "rl_busy", rule_op_name(r->op),
		    r->op <= OP_LE ? "<=" : ">=");
}

static void parse_simple(struct rbuild *b, struct rule *r,
			 const struct recfields *f, int line)
{
	int have_op = 0, have_busy = 0, have_over = 0;

	require(b, f, line, KEY_SCRIPT, r->name);
	require(b, f, line, KEY_OPERATOR, r->name);
	require(b, f, line, KEY_BUSY, r->name);
	require(b, f, line, KEY_OVERLD, r->name);
	if (f->val[KEY_SCRIPT])
		set_simple_script(b, r, f->val[KEY_SCRIPT], f->line[KEY_SCRIPT]);
	if (f->val[KEY_OPERATOR])
		set_operator(b, r, f->val[KEY_OPERATOR], f->line[KEY_OPERATOR], &have_op);
	if (f->val[KEY_PARAM])
		set_params(b, r, f->val[KEY_PARAM], f->line[KEY_PARAM]);
	if (f->val[KEY_BUSY])
		have_busy = set_threshold(b, &r->busy, f->val[KEY_BUSY], f->line[KEY_BUSY]);
	if (f->val[KEY_OVERLD])
		have_over = set_threshold(b, &r->overld, f->val[KEY_OVERLD],
					  f->line[KEY_OVERLD]);
	if (have_op && have_busy && have_over)
		check_thresholds(b, r, f);
}

struct refcheck {
	struct rbuild *b;
	const struct rule *r;
	int line;
};

static int ref_listed(void *ctx, struct expr *ref)
{
	struct refcheck *c = ctx;
	int found = 0;

	for (int i = 0; i < c->r->nuses; i++)
		found |= c->r->uses[i] == ref->ref;
	if (!found)
		err(c->b, c->line, ref->text,
		    "rl_ruleNo does not list rule %d used by the expression", ref->ref);
	return 0;
}

static int ref_is(void *ctx, struct expr *ref)
{
	return ref->ref == *(int *)ctx;
}

/* rl_ruleNo and the expression's references must name the same rules. */
static void check_ruleno(struct rbuild *b, struct rule *r, const struct recfields *f)
{
	struct refcheck c = { b, r, f->line[KEY_RULENO] };
	char num[16];

	expr_walk_refs(r->expr, ref_listed, &c);
	for (int i = 0; i < r->nuses; i++) {
		if (expr_walk_refs(r->expr, ref_is, &r->uses[i]))
			continue;
		snprintf(num, sizeof(num), "%d", r->uses[i]);
		err(b, c.line, num, "rl_ruleNo lists rule %d but the expression "
				    "does not use it", r->uses[i]);
	}
}

static void parse_complex(struct rbuild *b, struct rule *r,
			  const struct recfields *f, int line)
{
	require(b, f, line, KEY_RULENO, r->name);
	require(b, f, line, KEY_SCRIPT, r->name);
	if (f->val[KEY_RULENO])
		set_ruleno(b, r, f->val[KEY_RULENO], f->line[KEY_RULENO]);
	if (f->val[KEY_SCRIPT])
		set_complex_script(b, r, f->val[KEY_SCRIPT], f->line[KEY_SCRIPT]);
	if (r->expr && f->val[KEY_RULENO])
		check_ruleno(b, r, f);
}

/* Collect a rule record's fields by key: unknown, duplicate and misplaced
 * keys are reported and dropped. */
static void collect_fields(struct rbuild *b, const struct rl_record *rec,
			   struct recfields *f, int settings)
{
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < rec->n; i++) {
		const struct rl_field *fd = &rec->f[i];
		const struct keydef *k = key_find(fd->key);

		if (!k)
			err(b, fd->line, fd->key, "unknown key");
		else if (f->val[k->id])
			err(b, fd->line, fd->key, "duplicate key in a record");
		else if (settings != (k->use == USE_SET))
			err(b, fd->line, fd->key, settings
			    ? "rule key in a settings record"
			    : "settings key in a rule record (set_* keys "
			      "form a record of their own)");
		else {
			f->val[k->id] = fd->value;
			f->line[k->id] = fd->line;
		}
	}
}

/* Simple-only keys in a complex rule and the reverse. */
static void check_key_use(struct rbuild *b, const struct recfields *f, int type)
{
	for (int id = 0; id < KEY_COUNT; id++) {
		if (!f->val[id])
			continue;
		if (type == RULE_COMPLEX && keys[id].use == USE_SIMPLE)
			err(b, f->line[id], keys[id].name,
			    "key is only for simple rules");
		if (type == RULE_SIMPLE && keys[id].use == USE_COMPLEX)
			err(b, f->line[id], keys[id].name,
			    "key is only for complex rules");
	}
}

static int builder_push(struct rbuild *b, struct rule *r, const struct rinfo *ri)
{
	if (b->rs->n == RULE_MAX) {
		if (!b->too_many++)
			err(b, r->line, r->name, "too many rules (max %d)", RULE_MAX);
		return -1;
	}
	if (b->rs->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 8;
		struct rule *nr = realloc(b->rs->rules, cap * sizeof(*nr));
		struct rinfo *ni;

		if (!nr)
			return -1;
		b->rs->rules = nr;
		ni = realloc(b->info, cap * sizeof(*ni));
		if (!ni)
			return -1;
		b->info = ni;
		b->cap = cap;
	}
	b->info[b->rs->n] = *ri;
	b->rs->rules[b->rs->n++] = *r;
	return 0;
}

static void parse_rule(struct rbuild *b, const struct rl_record *rec)
{
	struct recfields f;
	struct rule r;
	struct rinfo ri;
	int type;

	memset(&r, 0, sizeof(r));
	collect_fields(b, rec, &f, 0);
	r.file = b->file;
	r.line = rec->line;
	require(b, &f, rec->line, KEY_NUMBER, NULL);
	require(b, &f, rec->line, KEY_NAME, NULL);
	if (f.val[KEY_NUMBER])
		set_number(b, &r, f.val[KEY_NUMBER], f.line[KEY_NUMBER]);
	if (f.val[KEY_NAME])
		set_name(b, &r, f.val[KEY_NAME], f.line[KEY_NAME]);
	if (f.val[KEY_DESC])
		r.desc = strdup(f.val[KEY_DESC]);
	require(b, &f, rec->line, KEY_TYPE, r.name);
	type = record_type(b, &f);
	r.type = type == RULE_COMPLEX ? RULE_COMPLEX : RULE_SIMPLE;
	check_key_use(b, &f, type);
	if (type == RULE_SIMPLE)
		parse_simple(b, &r, &f, rec->line);
	else if (type == RULE_COMPLEX)
		parse_complex(b, &r, &f, rec->line);
	ri = (struct rinfo){ f.line[KEY_NUMBER], f.line[KEY_NAME],
			     f.line[KEY_SCRIPT], f.line[KEY_RULENO] };
	if (builder_push(b, &r, &ri) < 0)
		rule_release(&r);
}

/* ---- settings records --------------------------------------------------- */

static void parse_settings(struct rbuild *b, const struct rl_record *rec)
{
	struct rule_settings *s = &b->rs->settings;
	struct recfields f;
	double v;

	if (b->set_file) {
		err(b, rec->line, rec->f[0].key,
		    "more than one settings record (first at %s:%d)",
		    b->set_file, b->set_line);
		return;
	}
	b->set_file = b->file;
	b->set_line = rec->line;
	collect_fields(b, rec, &f, 1);
	for (int id = KEY_SET_INTERVAL; id <= KEY_SET_STABILITY; id++) {
		int stab = id == KEY_SET_STABILITY;

		if (!f.val[id])
			continue;
		if (lex_number(f.val[id], &v) < 0)
			err(b, f.line[id], f.val[id], "non-numeric setting");
		else if (stab ? (v < 0 || v > INTERVAL_MAX)
			      : (v <= 0 || v > INTERVAL_MAX))
			err(b, f.line[id], f.val[id], "%s must be %s 0 and at most %g",
			    keys[id].name, stab ? ">=" : ">", INTERVAL_MAX);
		else if (id == KEY_SET_INTERVAL)
			s->interval[0] = s->interval[1] = s->interval[2] = v;
		else if (stab)
			s->stability = v;
	}
	/* Per-state intervals override set_interval whatever the order. */
	for (int st = 0; st < 3; st++) {
		static const enum key_id per[] = { KEY_SET_FREE, KEY_SET_BUSY,
						   KEY_SET_OVERLOADED };

		if (f.val[per[st]] && lex_number(f.val[per[st]], &v) == 0 &&
		    v > 0 && v <= INTERVAL_MAX)
			s->interval[st] = v;
	}
}

/* A record of set_* keys only is the settings record. */
static int record_is_settings(const struct rl_record *rec)
{
	for (size_t i = 0; i < rec->n; i++)
		if (strncmp(rec->f[i].key, "set_", 4) != 0)
			return 0;
	return 1;
}

static void parse_file(struct rbuild *b, const char *text, size_t len)
{
	struct rl_reader rd;
	const struct rl_record *rec;

	if (rl_check_text(b->file, text, len, b->errs) < 0)
		return;
	rl_reader_init(&rd, b->file, text, len);
	while (rl_reader_next(&rd, &rec, b->errs)) {
		if (record_is_settings(rec))
			parse_settings(b, rec);
		else
			parse_rule(b, rec);
	}
	rl_reader_done(&rd);
}

/* ---- cross-file checks -------------------------------------------------- */

static void check_duplicates(struct rbuild *b)
{
	const struct ruleset *rs = b->rs;
	char num[16];

	for (size_t i = 0; i < rs->n; i++) {
		const struct rule *r = &rs->rules[i];

		for (size_t j = 0; j < i; j++) {
			const struct rule *o = &rs->rules[j];

			b->file = r->file;
			snprintf(num, sizeof(num), "%d", r->number);
			if (r->number && r->number == o->number)
				err(b, b->info[i].number_line, num,
				    "duplicate rule number (first at %s:%d)",
				    o->file, o->line);
			if (r->name && o->name && strcmp(r->name, o->name) == 0)
				err(b, b->info[i].name_line, r->name,
				    "duplicate rule name (first at %s:%d)",
				    o->file, o->line);
		}
	}
}

struct resolve {
	struct rbuild *b;
	int line;
};

static int ref_resolve(void *ctx, struct expr *ref)
{
	struct resolve *c = ctx;

	ref->idx = ruleset_find_number(c->b->rs, ref->ref);
	if (ref->idx < 0)
		err(c->b, c->line, ref->text, "unknown rule reference");
	return 0;
}

/* Every rN and every rl_ruleNo entry names a rule of the set. */
static void check_references(struct rbuild *b)
{
	char num[16];

	for (size_t i = 0; i < b->rs->n; i++) {
		struct rule *r = &b->rs->rules[i];
		struct resolve c = { b, b->info[i].script_line };

		if (r->type != RULE_COMPLEX)
			continue;
		b->file = r->file;
		expr_walk_refs(r->expr, ref_resolve, &c);
		for (int u = 0; u < r->nuses; u++) {
			if (ruleset_find_number(b->rs, r->uses[u]) >= 0)
				continue;
			snprintf(num, sizeof(num), "%d", r->uses[u]);
			err(b, b->info[i].ruleno_line, num,
			    "unknown rule reference in rl_ruleNo");
		}
	}
}

static int deps_placed(const struct ruleset *rs, const struct rule *r,
		       const int *placed)
{
	for (int u = 0; u < r->nuses; u++) {
		int j = ruleset_find_number(rs, r->uses[u]);

		if (j >= 0 && !placed[j])
			return 0;
	}
	return 1;
}

/* Evaluation order, dependencies first; what cannot be placed is in (or
 * behind) a cycle. */
static void order_rules(struct rbuild *b, int *placed)
{
	struct ruleset *rs = b->rs;
	size_t done = 0, progress = 1;

	while (done < rs->n && progress) {
		progress = 0;
		for (size_t i = 0; i < rs->n; i++) {
			if (placed[i] || !deps_placed(rs, &rs->rules[i], placed))
				continue;
			placed[i] = 1;
			rs->order[done++] = (int)i;
			progress = 1;
		}
	}
	for (size_t i = 0; i < rs->n && done < rs->n; i++) {
		if (placed[i])
			continue;
		b->file = rs->rules[i].file;
		err(b, b->info[i].ruleno_line, rs->rules[i].name,
		    "cycle among complex rules (rule %d depends on itself)",
		    rs->rules[i].number);
		break;
	}
}

static void mark_roots(struct ruleset *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		rs->is_root[i] = 1;
	for (size_t i = 0; i < rs->n; i++) {
		const struct rule *r = &rs->rules[i];

		for (int u = 0; u < r->nuses; u++) {
			int j = ruleset_find_number(rs, r->uses[u]);

			if (j >= 0)
				rs->is_root[j] = 0;
		}
	}
}

static void cross_checks(struct rbuild *b, int errs_before)
{
	struct ruleset *rs = b->rs;
	size_t n = rs->n ? rs->n : 1;
	int *placed;

	check_duplicates(b);
	check_references(b);
	rs->order = calloc(n, sizeof(int));
	rs->is_root = calloc(n, sizeof(int));
	placed = calloc(n, sizeof(int));
	if (!rs->order || !rs->is_root || !placed) {
		rule_errs_add(b->errs, NULL, 0, NULL, "out of memory");
		free(placed);
		return;
	}
	if (b->errs->count == errs_before)
		order_rules(b, placed);
	mark_roots(rs);
	free(placed);
}

static struct ruleset *ruleset_new(const char *const *files, size_t nfiles)
{
	struct ruleset *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return NULL;
	rs->settings.interval[0] = rs->settings.interval[1] =
		rs->settings.interval[2] = 5;
	rs->files = calloc(nfiles ? nfiles : 1, sizeof(char *));
	if (!rs->files) {
		free(rs);
		return NULL;
	}
	for (size_t i = 0; i < nfiles; i++) {
		rs->files[i] = strdup(files[i] ? files[i] : "-");
		if (!rs->files[i]) {
			ruleset_free(rs);
			return NULL;
		}
		rs->nfiles++;
	}
	return rs;
}

struct ruleset *ruleset_parse_dirs(const char *const *files,
				   const char *const *texts, const size_t *len,
				   const char *const *dirs, size_t nfiles,
				   struct rule_errs *errs)
{
	struct rbuild b = { .errs = errs };
	int before = errs->count;

	b.rs = ruleset_new(files, nfiles);
	if (!b.rs) {
		rule_errs_add(errs, NULL, 0, NULL, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < nfiles; i++) {
		b.file = b.rs->files[i];
		b.dir = dirs ? dirs[i] : NULL;
		parse_file(&b, texts[i], len[i]);
	}
	cross_checks(&b, before);
	free(b.info);
	if (errs->count != before) {
		ruleset_free(b.rs);
		return NULL;
	}
	return b.rs;
}

struct ruleset *ruleset_parse(const char *const *files,
			      const char *const *texts, const size_t *len,
			      size_t nfiles, struct rule_errs *errs)
{
	return ruleset_parse_dirs(files, texts, len, NULL, nfiles, errs);
}

/* ---- a directory of *.rule files ---------------------------------------- */

static int rule_file_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".rule") == 0;
}

struct dirload {
	char **paths, **texts;
	const char **dirs;
	size_t *lens;
	size_t n;
};

static void dirload_free(struct dirload *dl)
{
	for (size_t i = 0; i < dl->n; i++) {
		free(dl->paths[i]);
		free(dl->texts[i]);
	}
	free(dl->paths);
	free(dl->texts);
	free(dl->dirs);
	free(dl->lens);
}

/* Read one file; a read error is reported and leaves an empty text. */
static int dirload_read(struct dirload *dl, const char *dir, const char *name,
			struct rule_errs *errs)
{
	size_t i = dl->n;

	if (asprintf(&dl->paths[i], "%s/%s", dir, name) < 0)
		return -1;
	dl->dirs[i] = dir;
	dl->n++;
	dl->texts[i] = util_read_file(dl->paths[i], RULE_FILE_MAX, &dl->lens[i]);
	if (!dl->texts[i]) {
		if (errno == EFBIG)
			rule_errs_add(errs, dl->paths[i], 1, NULL,
				      "file too large (max %d bytes)", RULE_FILE_MAX);
		else
			rule_errs_add(errs, dl->paths[i], 1, NULL,
				      "cannot read: %s", strerror(errno));
		dl->lens[i] = 0;
	}
	return 0;
}

struct ruleset *ruleset_load_dir(const char *dir, struct rule_errs *errs)
{
	struct dirent **ents = NULL;
	struct dirload dl = { 0 };
	struct ruleset *rs = NULL;
	int n = scandir(dir, &ents, rule_file_filter, alphasort), before = errs->count;

	if (n < 0) {
		rule_errs_add(errs, dir, 0, NULL, "cannot read directory: %s",
			      strerror(errno));
		return NULL;
	}
	dl.paths = calloc((size_t)n + 1, sizeof(char *));
	dl.texts = calloc((size_t)n + 1, sizeof(char *));
	dl.dirs = calloc((size_t)n + 1, sizeof(char *));
	dl.lens = calloc((size_t)n + 1, sizeof(size_t));
	for (int i = 0; i < n; i++) {
		if (dl.paths && dl.texts && dl.dirs && dl.lens)
			dirload_read(&dl, dir, ents[i]->d_name, errs);
		free(ents[i]);
	}
	free(ents);
	if (dl.paths && dl.texts && dl.dirs && dl.lens) {
		for (size_t i = 0; i < dl.n; i++)
			if (!dl.texts[i])
				dl.texts[i] = strdup("");
		rs = ruleset_parse_dirs((const char *const *)dl.paths,
					(const char *const *)dl.texts, dl.lens,
					dl.dirs, dl.n, errs);
	}
	dirload_free(&dl);
	if (errs->count != before) {
		ruleset_free(rs);
		return NULL;
	}
	return rs;
}
