/*
 * rules.h — the rule and policy language (DESIGN §4), used by the agent
 * (to judge its host), by reschedfs (to validate edits and evaluate the
 * policy) and by resched-rule.
 *
 * Ownership: a struct ruleset / struct policy is built whole by the parser
 * and never modified afterwards; share it read-only, free it with
 * ruleset_free / policy_free.  A parse that reports any error returns NULL:
 * a bad file never half-replaces a good set — callers keep their old set.
 *
 * Errors are collected, not stopped at: every problem in a file is appended
 * to a struct rule_errs as one line "FILE:LINE: message near 'TOKEN'".
 */
#ifndef RESCHED_RULES_H
#define RESCHED_RULES_H

#include <stddef.h>

/* Verdicts and host states.  Numbers 0..2 are the expression scale. */
enum rs_state {
	RS_FREE = 0,
	RS_BUSY = 1,
	RS_OVERLOADED = 2,
	RS_ERROR = 3,       /* a rule whose value could not be measured */
	RS_UNAVAILABLE = 4, /* host states set by the registry, never by rules */
	RS_DRAINING = 5,
};
const char *rs_state_name(int state);          /* "free", "busy", ... */
int rs_state_parse(const char *name);          /* -1 when unknown */
/* Fine scale to state: below 0.5 free, below 1.5 busy, else overloaded. */
int rs_state_from_value(double v);

/* Error collection.  `text` is NULL or a malloc'd string of "\n"-ended
 * lines; owned by the struct, released by rule_errs_clear. */
struct rule_errs {
	int count;
	char *text;
	size_t len;
};
void rule_errs_add(struct rule_errs *e, const char *file, int line,
		   const char *near, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void rule_errs_clear(struct rule_errs *e);

/* Limits: inputs larger or deeper than these are errors, not crashes. */
#define RULE_FILE_MAX  (64 * 1024)  /* bytes in one rule or policy file */
#define RULE_DEPTH_MAX 32           /* expression nesting */
#define RULE_MAX       256          /* rules in one set */
#define RULE_PARAMS_MAX 16

/* ---- metrics ------------------------------------------------------------
 * The canonical metric names (docs/METRICS.md).  The agent's collectors
 * produce exactly these; rules (`@name`) and policies refer to them.
 * Per-mount disk metrics are "disk_avail.MOUNT" / "disk_avail_pct.MOUNT"
 * where MOUNT is the mount point without its leading '/' and with '/'
 * replaced by '_' (the root filesystem is plain disk_avail). */
int metric_known(const char *name);            /* 1 known, 0 not */
extern const char *const metric_names[];       /* sorted, NULL-terminated */

/* ---- rule sets ---------------------------------------------------------- */
enum rule_type { RULE_SIMPLE, RULE_COMPLEX };
enum rule_op { OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE };
const char *rule_op_name(enum rule_op op);

struct expr;                                   /* opaque expression tree */

struct rule {
	int number;                 /* rl_number */
	char *name;                 /* rl_name */
	enum rule_type type;        /* rl_type */
	char *desc;                 /* rl_desc, wrapped lines joined by ' ' */
	const char *file;           /* file it came from (owned by the set) */
	int line;                   /* line of its first key */
	/* simple */
	char *script;               /* script file name, or NULL for @metric */
	char *metric;               /* built-in metric name (no '@'), or NULL */
	char *params[RULE_PARAMS_MAX]; /* rl_param split on blanks */
	int nparams;
	enum rule_op op;
	double busy, overld;
	/* complex */
	int uses[RULE_MAX];         /* rl_ruleNo, in the order written */
	int nuses;
	struct expr *expr;          /* rl_script as an expression */
	char *expr_text;            /* its source text */
};

/* Rule-set settings (a record of set_* keys, docs/RULES.md). */
struct rule_settings {
	double interval[3];   /* seconds between measurements, per state
				 (free, busy, overloaded); default 5 each */
	double stability;     /* seconds a new state must hold before it is
				 reported; default 0 */
};

struct ruleset {
	struct rule *rules;   /* n rules, in file order */
	size_t n;
	int *order;           /* evaluation order (dependencies first) */
	int *is_root;         /* 1 when no complex rule uses rule i */
	struct rule_settings settings;
	/* private: file names, expression arena */
	char **files;
	size_t nfiles;
};

/*
 * Parse several files into one set.  texts[i] holds files[i]'s contents
 * (len[i] bytes, need not be NUL-terminated).  Cross-file checks (duplicate
 * numbers and names, references, cycles) run over the union.  Returns the
 * set, or NULL with every problem in `errs`.
 */
struct ruleset *ruleset_parse(const char *const *files,
			      const char *const *texts, const size_t *len,
			      size_t nfiles, struct rule_errs *errs);
/* Parse every *.rule file of `dir` (sorted by name).  NULL on error. */
struct ruleset *ruleset_load_dir(const char *dir, struct rule_errs *errs);
void ruleset_free(struct ruleset *rs);
/* Index of the rule with that name / number, or -1. */
int ruleset_find(const struct ruleset *rs, const char *name);
int ruleset_find_number(const struct ruleset *rs, int number);

/* One rule's verdict. */
struct rule_verdict {
	int state;    /* RS_FREE..RS_OVERLOADED or RS_ERROR */
	double value; /* simple: the measured value; complex: the fine value */
};

/*
 * Evaluate the set.  values[i] is simple rule i's measured value (the
 * metric, or the script's output); NaN means it could not be measured and
 * gives RS_ERROR.  Entries for complex rules are ignored.  out[i] receives
 * every rule's verdict; a complex rule that uses an errored rule errs too.
 * Returns the host state: the worst verdict among root rules that did not
 * err (RS_FREE when there are none); *host_value (may be NULL) gets the
 * worst root value on the 0..2 scale.  No allocation; safe to call from
 * any thread on a shared set.
 */
int ruleset_eval(const struct ruleset *rs, const double *values,
		 struct rule_verdict *out, double *host_value);

/* Verdict of one simple rule for a value (DESIGN §4). */
int rule_judge(const struct rule *r, double value);

/* ---- expressions (shared by complex rules and policies) ----------------- */
/* Look a name up: 0 and *out set, or -1 when the name has no value. */
typedef int (*expr_lookup_fn)(void *ctx, const char *name, double *out);
/* Evaluate; NaN when a name has no value.  Comparisons and ! give 0 or 1. */
double expr_eval(const struct expr *e, expr_lookup_fn lookup, void *ctx);
/*
 * Write the expression with each name's value beside it and the result,
 * e.g. "(load1=2.7 > 2 | procs=88 > 150) & net_bps=0 <= 5M -> 1", into buf
 * (always NUL-terminated, truncated to size).  Returns the length written.
 */
size_t expr_explain(const struct expr *e, expr_lookup_fn lookup, void *ctx,
		    char *buf, size_t size);

/* ---- policy ------------------------------------------------------------- */
enum policy_select { SELECT_LATEST_COMPLETION, SELECT_OLDEST, SELECT_NEWEST,
		     SELECT_LARGEST_MEM };
enum policy_place { PLACE_FIRST_FIT, PLACE_LEAST_LOADED, PLACE_MOST_MEM };

struct policy {
	struct expr *migrate_when; /* NULL: "state == overloaded" */
	struct expr *accept_when;  /* NULL: "state == free" */
	char *migrate_text, *accept_text;
	enum policy_select select;
	enum policy_place place;
	/* private */
	void *arena;
};
/* Parse a policy file; NULL with errors in `errs`.  An empty file is the
 * default policy. */
struct policy *policy_parse(const char *file, const char *text, size_t len,
			    struct rule_errs *errs);
void policy_free(struct policy *p);
const char *policy_select_name(enum policy_select s);
const char *policy_place_name(enum policy_place p);

#endif
