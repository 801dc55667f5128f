/*
 * rule_parse.h — rule-file parser internals shared by rules/ and
 * resched-rule (the public API is in rules.h).
 *
 * ruleset_parse_dirs is ruleset_parse with, per file, the directory an
 * `rl_script` expression file is read from (dirs NULL, or dirs[i] NULL:
 * that file's expression files are an error).  ruleset_parse passes no
 * directories; ruleset_load_dir passes its own.  Ownership as rules.h.
 */
#ifndef RESCHED_RULE_PARSE_H
#define RESCHED_RULE_PARSE_H

#include "rules/rules.h"

struct ruleset *ruleset_parse_dirs(const char *const *files,
				   const char *const *texts, const size_t *len,
				   const char *const *dirs, size_t nfiles,
				   struct rule_errs *errs);

/* A valid rule name: 1..64 of [A-Za-z0-9_.-], not starting with '.'
 * (it becomes a file name under /resched/hosts/H/rules/). */
int rule_name_valid(const char *name);

#endif
