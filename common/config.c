/*
 * config.c — the reader of the daemons' `key value` configuration files
 * (format in config.h; docs/INSTALL.md shows both daemons' keys).
 */
#include "common/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static int in_list(const char *const *list, const char *name)
{
	for (; list && *list; list++)
		if (strcmp(*list, name) == 0)
			return 1;
	return 0;
}

static const struct option *find_key(const struct config_spec *spec,
				     const char *key)
{
	const struct option *o;

	for (o = spec->opts; o && o->name; o++)
		if (strcmp(o->name, key) == 0)
			return in_list(spec->skip, key) ? NULL : o;
	for (o = spec->extra; o && o->name; o++)
		if (strcmp(o->name, key) == 0)
			return o;
	return NULL;
}

/* The keys a file may use, for the unknown-key message. */
static void list_keys(const struct config_spec *spec, char *buf, size_t size)
{
	const struct option *tabs[2] = { spec->opts, spec->extra };
	size_t used = 0;

	buf[0] = '\0';
	for (int t = 0; t < 2; t++)
		for (const struct option *o = tabs[t]; o && o->name; o++) {
			int n;

			if (t == 0 && in_list(spec->skip, o->name))
				continue;
			n = snprintf(buf + used, size - used, "%s%s",
				     used ? " " : "", o->name);
			if (n < 0 || (size_t)n >= size - used)
				return;
			used += (size_t)n;
		}
}

static int parse_bool(const char *v, int *on)
{
	static const char *const yes[] = { "yes", "true", "on", "1", NULL };
	static const char *const no[] = { "no", "false", "off", "0", NULL };

	if (in_list(yes, v))
		*on = 1;
	else if (in_list(no, v))
		*on = 0;
	else
		return -1;
	return 0;
}

static int line_err(const struct config *c, int line, char *err,
		    size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int line_err(const struct config *c, int line, char *err,
		    size_t errlen, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	util_set_err(err, errlen, "%s:%d: %s", c->path, line, msg);
	return -1;
}

/* Bytes a line may not hold: NUL and control characters other than tab
 * (and a CR before the newline).  0, or the offending byte's position+1. */
static size_t bad_byte(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\t' || (ch == '\r' && i + 1 == n))
			continue;
		if (ch < 0x20 || ch == 0x7f)
			return i + 1;
	}
	return 0;
}

/* One line, NUL-terminated in place: 0 (entry added or nothing), -1. */
static int parse_line(struct config *c, char *s, int line,
		      const struct config_spec *spec, char *err, size_t errlen)
{
	const struct option *opt;
	struct config_entry *e;
	char *key, *val, *end;
	char keys[512];

	for (char *h = s; *h; h++)             /* comments */
		if (*h == '#' && (h == s || is_blank(h[-1]))) {
			*h = '\0';
			break;
		}
	end = s + strlen(s);
	while (end > s && (is_blank(end[-1]) || end[-1] == '\r'))
		*--end = '\0';
	while (is_blank(*s))
		s++;
	if (!*s)
		return 0;
	key = s;
	while (*s && !is_blank(*s))
		s++;
	val = s;
	if (*s) {
		*s = '\0';
		val = s + 1;
		while (is_blank(*val))
			val++;
	}
	opt = find_key(spec, key);
	if (!opt) {
		list_keys(spec, keys, sizeof(keys));
		return line_err(c, line, err, errlen,
				"unknown key '%.64s' (keys: %s)", key, keys);
	}
	for (size_t i = 0; i < c->n; i++)
		if (c->e[i].opt == opt && !in_list(spec->repeat, opt->name))
			return line_err(c, line, err, errlen,
					"'%s' is already set at line %d",
					opt->name, c->e[i].line);
	e = &c->e[c->n];
	memset(e, 0, sizeof(*e));
	e->opt = opt;
	e->line = line;
	if (opt->has_arg == no_argument) {
		if (!*val)
			return line_err(c, line, err, errlen,
					"'%s' takes yes or no", opt->name);
		if (parse_bool(val, &e->on) < 0)
			return line_err(c, line, err, errlen,
					"'%s': '%.64s' is not yes or no",
					opt->name, val);
	} else {
		if (!*val)
			return line_err(c, line, err, errlen,
					"'%s' needs a value", opt->name);
		e->value = val;
	}
	c->n++;
	return 0;
}

int config_parse(struct config *c, const char *name, const char *text,
		 size_t len, const struct config_spec *spec, char *err,
		 size_t errlen)
{
	size_t lines = 1, pos = 0;
	int line = 1;

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	c->path = strdup(name);
	c->text = malloc(len + 1);
	c->e = calloc(lines, sizeof(*c->e));
	if (!c->path || !c->text || !c->e) {
		util_set_err(err, errlen, "%s: out of memory", name);
		return -1;
	}
	memcpy(c->text, text, len);
	c->text[len] = '\0';
	while (pos < len) {
		char *s = c->text + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos, bad;

		bad = bad_byte(s, n);
		if (bad)
			return line_err(c, line, err, errlen,
					"byte 0x%02x is not text",
					(unsigned char)s[bad - 1]);
		s[n] = '\0';
		if (parse_line(c, s, line, spec, err, errlen) < 0)
			return -1;
		pos += n + 1;
		line++;
	}
	return 0;
}

int config_load(struct config *c, const char *path,
		const struct config_spec *spec, char *err, size_t errlen)
{
	size_t len;
	char *text = util_read_file(path, CONFIG_MAX_SIZE, &len);
	int r;

	if (!text) {
		memset(c, 0, sizeof(*c));
		if (errno == EFBIG)
			util_set_err(err, errlen, "%s: larger than %d KiB", path,
				     CONFIG_MAX_SIZE / 1024);
		else
			util_set_err(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	r = config_parse(c, path, text, len, spec, err, errlen);
	free(text);
	return r;
}

void config_free(struct config *c)
{
	free(c->path);
	free(c->text);
	free(c->e);
	memset(c, 0, sizeof(*c));
}

const char *config_find_arg(int argc, char **argv, const char *shortopts,
			    const struct option *opts, int config_val)
{
	const char *found = NULL;
	int saved = opterr, ch;

	opterr = 0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, shortopts, opts, NULL)) != -1)
		if (ch == config_val)
			found = optarg;
	opterr = saved;
	optind = 0;
	return found;
}

const char *config_where(const struct config *c, const struct config_entry *e,
			 char *buf, size_t size)
{
	snprintf(buf, size, "%s:%d: %s", c->path, e->line, e->opt->name);
	return buf;
}
