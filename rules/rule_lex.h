/*
 * rule_lex.h — the two lexical layers of rule and policy files (internal to
 * rules/).
 *
 * 1. Records.  A file is records of "key: value" lines separated by blank
 *    lines.  A line is a key line when it starts at column 0 with
 *    `word:` (word = [A-Za-z_][A-Za-z0-9_]*); the first line of a record
 *    may also be indented.  Any other non-blank line continues the value
 *    above it (joined with one space).  Lines whose first non-blank
 *    character is '#' are comments and are skipped (they do not end a
 *    record).  The reader owns the strings of the record it returns; they
 *    stay valid until the next call or rl_reader_done.
 *
 * 2. Expression tokens.  Numbers (digits, optional fraction, optional K M G
 *    suffix = powers of 1000), names ([A-Za-z_][A-Za-z0-9_.]*), rule
 *    references (r followed by digits), operators and parentheses.
 *    Tokens point into the source text; nothing is allocated.
 */
#ifndef RESCHED_RULE_LEX_H
#define RESCHED_RULE_LEX_H

#include <stddef.h>

#include "rules/rules.h"

/* ---- records ------------------------------------------------------------ */
struct rl_field {
	char *key;      /* malloc'd, owned by the reader */
	char *value;    /* malloc'd, trimmed, continuation lines joined */
	int line;       /* line of the key */
};

struct rl_record {
	struct rl_field *f;
	size_t n, cap;
	int line;       /* line of the first key */
};

struct rl_reader {
	const char *file;
	const char *text;
	size_t len, pos;
	int lineno;
	struct rl_record rec;
};

void rl_reader_init(struct rl_reader *rd, const char *file,
		    const char *text, size_t len);
/* Next record: 1 and *out set (owned by rd), 0 at end of file.  Lines
 * outside any key are reported to errs and skipped. */
int rl_reader_next(struct rl_reader *rd, const struct rl_record **out,
		   struct rule_errs *errs);
void rl_reader_done(struct rl_reader *rd);

/* Length of a `word:` key at p (up to e): the word's length, or 0 when
 * p does not start a key line. */
size_t rl_key_prefix(const char *p, const char *e);

/* Check size and NUL bytes before reading: 0 ok, -1 (reported) bad. */
int rl_check_text(const char *file, const char *text, size_t len,
		  struct rule_errs *errs);

/* ---- expression tokens -------------------------------------------------- */
enum tok_kind { T_EOF, T_NUM, T_NAME, T_REF, T_OP, T_LPAREN, T_RPAREN, T_BAD };

/* Operators, in the order of the precedence table in rule_expr.c. */
enum expr_op {
	EOP_OR, EOP_AND,
	EOP_LT, EOP_LE, EOP_GT, EOP_GE, EOP_EQ, EOP_NE,
	EOP_ADD, EOP_SUB, EOP_MUL, EOP_DIV,
	EOP_NOT, EOP_NEG, EOP_PCT,
};
const char *expr_op_text(int op);

struct token {
	enum tok_kind kind;
	int op;              /* T_OP */
	double num;          /* T_NUM */
	int ref;             /* T_REF: the rule number */
	const char *start;   /* into the source */
	size_t len;
	const char *bad;     /* T_BAD: what is wrong ("bad number", ...) */
};

struct lexer {
	const char *s;       /* NUL-terminated source */
	size_t pos;
};

void lex_init(struct lexer *lx, const char *s);
void lex_next(struct lexer *lx, struct token *t);
/* Parse the whole string as one number with an optional sign and K/M/G
 * suffix ("700", "-1.5", "5M"): 0 ok, -1 not a number. */
int lex_number(const char *s, double *out);

#endif
