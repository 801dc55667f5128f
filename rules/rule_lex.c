/* rule_lex.c — record reader and expression tokenizer (see rule_lex.h). */
#include "rules/rule_lex.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define NUM_TEXT_MAX 64
#define NAME_MAX_LEN 128
#define REF_MAX 1000000

/* ---- records ------------------------------------------------------------ */

void rl_reader_init(struct rl_reader *rd, const char *file,
		    const char *text, size_t len)
{
	memset(rd, 0, sizeof(*rd));
	rd->file = file;
	rd->text = text;
	rd->len = len;
}

static void rec_clear(struct rl_record *rec)
{
	for (size_t i = 0; i < rec->n; i++) {
		free(rec->f[i].key);
		free(rec->f[i].value);
	}
	rec->n = 0;
	rec->line = 0;
}

void rl_reader_done(struct rl_reader *rd)
{
	rec_clear(&rd->rec);
	free(rd->rec.f);
	rd->rec.f = NULL;
	rd->rec.cap = 0;
}

int rl_check_text(const char *file, const char *text, size_t len,
		  struct rule_errs *errs)
{
	if (len > RULE_FILE_MAX) {
		rule_errs_add(errs, file, 1, NULL,
			      "file too large (%zu bytes, max %d)", len,
			      RULE_FILE_MAX);
		return -1;
	}
	if (memchr(text, '\0', len)) {
		rule_errs_add(errs, file, 1, NULL, "file contains a NUL byte");
		return -1;
	}
	return 0;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* One line of the source: [*b, *e) without the newline, trimmed at the
 * end.  Returns 0 at end of text. */
static int next_line(struct rl_reader *rd, const char **b, const char **e)
{
	const char *nl;

	if (rd->pos >= rd->len)
		return 0;
	*b = rd->text + rd->pos;
	nl = memchr(*b, '\n', rd->len - rd->pos);
	*e = nl ? nl : rd->text + rd->len;
	rd->pos = (size_t)(*e - rd->text) + (nl ? 1 : 0);
	rd->lineno++;
	while (*e > *b && is_blank((*e)[-1]))
		(*e)--;
	return 1;
}

static const char *skip_blank(const char *p, const char *e)
{
	while (p < e && is_blank(*p))
		p++;
	return p;
}

size_t rl_key_prefix(const char *p, const char *e)
{
	const char *q = p;

	if (q >= e || !(isalpha((unsigned char)*q) || *q == '_'))
		return 0;
	while (q < e && (isalnum((unsigned char)*q) || *q == '_'))
		q++;
	return q < e && *q == ':' ? (size_t)(q - p) : 0;
}

static char *dup_range(const char *b, const char *e)
{
	size_t n = (size_t)(e - b);
	char *s = malloc(n + 1);

	if (s) {
		memcpy(s, b, n);
		s[n] = '\0';
	}
	return s;
}

static int rec_add(struct rl_record *rec, const char *kb, size_t klen,
		   const char *vb, const char *ve, int line)
{
	struct rl_field *f;

	if (rec->n == rec->cap) {
		size_t cap = rec->cap ? rec->cap * 2 : 16;

		f = realloc(rec->f, cap * sizeof(*f));
		if (!f)
			return -1;
		rec->f = f;
		rec->cap = cap;
	}
	f = &rec->f[rec->n];
	f->key = dup_range(kb, kb + klen);
	f->value = dup_range(vb, ve);
	if (!f->key || !f->value) {
		free(f->key);
		free(f->value);
		return -1;
	}
	f->line = line;
	if (rec->n++ == 0)
		rec->line = line;
	return 0;
}

/* Append a continuation line to the last field's value. */
static int rec_continue(struct rl_record *rec, const char *b, const char *e)
{
	struct rl_field *f = &rec->f[rec->n - 1];
	size_t old = strlen(f->value), n = (size_t)(e - b);
	char *v = realloc(f->value, old + n + 2);

	if (!v)
		return -1;
	f->value = v;
	if (old)
		v[old++] = ' ';
	memcpy(v + old, b, n);
	v[old + n] = '\0';
	return 0;
}

/* One non-blank, non-comment line into the record. */
static void reader_line(struct rl_reader *rd, const char *b, const char *e,
			struct rule_errs *errs)
{
	struct rl_record *rec = &rd->rec;
	const char *t = skip_blank(b, e);
	size_t k = rl_key_prefix(t, e);
	int ok = 0;

	if (k && (t == b || rec->n == 0))
		ok = rec_add(rec, t, k, skip_blank(t + k + 1, e), e, rd->lineno);
	else if (rec->n)
		ok = rec_continue(rec, t, e);
	else {
		char word[48];
		size_t n = 0;

		while (t + n < e && !is_blank(t[n]))
			n++;
		snprintf(word, sizeof(word), "%.*s", (int)(n > 40 ? 40 : n), t);
		rule_errs_add(errs, rd->file, rd->lineno, word,
			      "line is not a 'key: value' line");
	}
	if (ok < 0)
		rule_errs_add(errs, rd->file, rd->lineno, NULL, "out of memory");
}

int rl_reader_next(struct rl_reader *rd, const struct rl_record **out,
		   struct rule_errs *errs)
{
	const char *b, *e;

	rec_clear(&rd->rec);
	while (next_line(rd, &b, &e)) {
		const char *t = skip_blank(b, e);

		if (t == e) {
			if (rd->rec.n)
				break;
			continue;
		}
		if (*t == '#')
			continue;
		reader_line(rd, b, e, errs);
	}
	*out = &rd->rec;
	return rd->rec.n > 0;
}

/* ---- expression tokens -------------------------------------------------- */

static const char *const op_text[] = {
	[EOP_OR] = "|", [EOP_AND] = "&", [EOP_LT] = "<", [EOP_LE] = "<=",
	[EOP_GT] = ">", [EOP_GE] = ">=", [EOP_EQ] = "==", [EOP_NE] = "!=",
	[EOP_ADD] = "+", [EOP_SUB] = "-", [EOP_MUL] = "*", [EOP_DIV] = "/",
	[EOP_NOT] = "!", [EOP_NEG] = "-", [EOP_PCT] = "%",
};

const char *expr_op_text(int op)
{
	if (op < 0 || op > EOP_PCT)
		return "?";
	return op_text[op];
}

void lex_init(struct lexer *lx, const char *s)
{
	lx->s = s;
	lx->pos = 0;
}

static int is_name_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}

static int is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.';
}

static double suffix_scale(char c)
{
	switch (c) {
	case 'K': return 1e3;
	case 'M': return 1e6;
	case 'G': return 1e9;
	default: return 0;
	}
}

/* NUMBER -> digits [ '.' digits ] [ K | M | G ], not followed by a name
 * character. */
static void lex_num(struct lexer *lx, struct token *t)
{
	const char *p = t->start;
	char buf[NUM_TEXT_MAX + 1];
	double scale = 1;
	size_t n;

	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	n = (size_t)(p - t->start);
	if (suffix_scale(*p) > 0)
		scale = suffix_scale(*p++);
	while (is_name_char(*p))
		p++, scale = 0;
	t->len = (size_t)(p - t->start);
	lx->pos += t->len;
	t->kind = T_BAD;
	t->bad = "bad number";
	if (scale == 0 || n > NUM_TEXT_MAX || n == 0 || (n == 1 && *t->start == '.'))
		return;
	memcpy(buf, t->start, n);
	buf[n] = '\0';
	t->num = strtod(buf, NULL) * scale;
	if (isfinite(t->num))
		t->kind = T_NUM;
}

/* NAME -> [A-Za-z_][A-Za-z0-9_.]* ; REF -> 'r' digits */
static void lex_name(struct lexer *lx, struct token *t)
{
	const char *p = t->start + 1;

	while (is_name_char(*p))
		p++;
	t->len = (size_t)(p - t->start);
	lx->pos += t->len;
	t->kind = T_NAME;
	if (t->len > NAME_MAX_LEN) {
		t->kind = T_BAD;
		t->bad = "name too long";
	} else if (t->start[0] == 'r' && t->len > 1 &&
		   strspn(t->start + 1, "0123456789") == t->len - 1) {
		long v = t->len > 8 ? REF_MAX + 1 : strtol(t->start + 1, NULL, 10);

		t->kind = v >= 1 && v <= REF_MAX ? T_REF : T_BAD;
		t->ref = (int)v;
		t->bad = "bad rule reference";
	}
}

/* Two-character operators first, then one-character ones. */
static int lex_op(const char *p, int *op, size_t *len)
{
	static const struct { const char *s; int op; } ops[] = {
		{ "<=", EOP_LE }, { ">=", EOP_GE }, { "==", EOP_EQ },
		{ "!=", EOP_NE }, { "<", EOP_LT }, { ">", EOP_GT },
		{ "|", EOP_OR }, { "&", EOP_AND }, { "+", EOP_ADD },
		{ "-", EOP_SUB }, { "*", EOP_MUL }, { "/", EOP_DIV },
		{ "!", EOP_NOT }, { "%", EOP_PCT },
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		size_t n = strlen(ops[i].s);

		if (strncmp(p, ops[i].s, n) == 0) {
			*op = ops[i].op;
			*len = n;
			return 1;
		}
	}
	return 0;
}

void lex_next(struct lexer *lx, struct token *t)
{
	const char *p;

	while (isspace((unsigned char)lx->s[lx->pos]))
		lx->pos++;
	p = lx->s + lx->pos;
	memset(t, 0, sizeof(*t));
	t->start = p;
	if (!*p) {
		t->kind = T_EOF;
	} else if (isdigit((unsigned char)*p) ||
		   (*p == '.' && isdigit((unsigned char)p[1]))) {
		lex_num(lx, t);
	} else if (is_name_start(*p)) {
		lex_name(lx, t);
	} else if (*p == '(' || *p == ')') {
		t->kind = *p == '(' ? T_LPAREN : T_RPAREN;
		t->len = 1;
		lx->pos++;
	} else if (lex_op(p, &t->op, &t->len)) {
		t->kind = T_OP;
		lx->pos += t->len;
	} else {
		t->kind = T_BAD;
		t->bad = "unexpected character";
		t->len = 1;
		lx->pos++;
	}
}

int lex_number(const char *s, double *out)
{
	struct lexer lx;
	struct token t;
	double sign = 1;

	if (*s == '-' || *s == '+')
		sign = *s++ == '-' ? -1 : 1;
	if (!isdigit((unsigned char)*s) && *s != '.')
		return -1;
	lex_init(&lx, s);
	lex_next(&lx, &t);
	if (t.kind != T_NUM)
		return -1;
	*out = sign * t.num;
	lex_next(&lx, &t);
	return t.kind == T_EOF ? 0 : -1;
}
