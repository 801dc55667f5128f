/*
 * config.h — the daemons' configuration files (--config FILE).
 *
 * A file of `key value` lines, as plain as the tree's own files:
 *
 *     # resched-agent on node h1
 *     registry 10.0.0.1:7227
 *     key      /etc/resched/h1.key
 *     interval 5
 *
 * A key is the name of one of the program's long options, without the
 * dashes; it sets what the option sets, and options on the command line
 * win (the caller applies the file first, then argv).  The value is the
 * rest of the line, blanks around it trimmed.  An option that takes no
 * argument (--verbose) is a key whose value is yes or no (also true/false,
 * on/off, 1/0).  Blank lines are skipped; `#` at the start of a line or
 * after a blank starts a comment.  An unknown key, a missing or bad value,
 * a key given twice (unless it may repeat), a NUL or control byte are
 * errors reported as `FILE:LINE: message`.
 */
#ifndef RESCHED_CONFIG_H
#define RESCHED_CONFIG_H

#include <getopt.h>
#include <stddef.h>

#define CONFIG_MAX_SIZE (64 * 1024)

struct config_spec {
	const struct option *opts;    /* the program's long options (zero-terminated) */
	const struct option *extra;   /* keys that are not long options, or NULL */
	const char *const *skip;      /* option names that are not keys (NULL-terminated) */
	const char *const *repeat;    /* keys that may be given more than once, or NULL */
};

struct config_entry {
	const struct option *opt;     /* the option (or extra key) this line sets */
	const char *value;            /* options with an argument; NULL for yes/no */
	int on;                       /* options without one: yes 1, no 0 */
	int line;
};

struct config {
	char *path;                   /* as given, for messages */
	char *text;                   /* the file, split in place; values point here */
	struct config_entry *e;
	size_t n;
};

/* Parse `text` (len bytes, need not be NUL-terminated) named `name` in
 * messages.  0, or -1 with `FILE:LINE: message` in err.  *c is always
 * initialised; config_free it either way. */
int config_parse(struct config *c, const char *name, const char *text,
		 size_t len, const struct config_spec *spec, char *err,
		 size_t errlen);

/* Read and parse a file (at most CONFIG_MAX_SIZE bytes). */
int config_load(struct config *c, const char *path,
		const struct config_spec *spec, char *err, size_t errlen);

void config_free(struct config *c);

/* The argument of the option whose val is `config_val` in argv (the last
 * one given), or NULL.  Scans argv with getopt_long silently and resets
 * getopt (optind = 0), so the caller then parses argv for real. */
const char *config_find_arg(int argc, char **argv, const char *shortopts,
			    const struct option *opts, int config_val);

/* "FILE:LINE: KEY", the label for a message about entry e, into buf. */
const char *config_where(const struct config *c, const struct config_entry *e,
			 char *buf, size_t size);

#endif
