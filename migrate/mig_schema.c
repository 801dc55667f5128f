/* mig_schema.c — the application schema; see mig_schema.h. */
#include "migrate/mig_schema.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#ifndef MIG_NO_LIBXML
#include <libxml/parser.h>
#include <libxml/tree.h>
#endif

const char *mig_charact_name(enum mig_charact c)
{
	static const char *const n[] = { "unknown", "compute", "communication", "data" };

	return c <= MIG_CH_DATA ? n[c] : "unknown";
}

const char *mig_schema_binary(const struct mig_schema *s, const char *arch)
{
	for (size_t i = 0; i < s->nbinary; i++) {
		if (!strcmp(s->binary[i].arch, arch))
			return s->binary[i].path;
	}
	return NULL;
}

static void schema_clear(struct mig_schema *s)
{
	memset(s, 0, sizeof(*s));
	s->estimated_time = s->comm_volume = s->memory = -1;
}

int mig_schema_load(const char *path, struct mig_schema *out, char **xml,
		    char *err, size_t errlen)
{
	size_t len;
	char *buf = util_read_file(path, MIG_SCHEMA_MAX, &len);
	int rc;

	if (xml)
		*xml = NULL;
	if (!buf) {
		snprintf(err, errlen, "%s: %s", path, errno == EFBIG ?
			 "larger than 64 KiB" : strerror(errno));
		return -1;
	}
	rc = mig_schema_parse(buf, len, path, out, err, errlen);
	if (rc == 0 && xml)
		*xml = buf;
	else
		free(buf);
	return rc;
}

#ifdef MIG_NO_LIBXML
int mig_schema_parse(const char *xml, size_t len, const char *file,
		     struct mig_schema *out, char *err, size_t errlen)
{
	size_t i = 0;

	schema_clear(out);
	while (i < len && (xml[i] == ' ' || xml[i] == '\n' || xml[i] == '\t' || xml[i] == '\r'))
		i++;
	if (len > MIG_SCHEMA_MAX || i == len || xml[i] != '<') {
		snprintf(err, errlen, "%s:1: not an XML document", file);
		return -1;
	}
	return 0;
}
#else

struct unit { const char *name; double mult; };

static const struct unit time_units[] = {
	{ "h", 3600 }, { "min", 60 }, { "ms", 0.001 }, { "s", 1 },
};
static const struct unit byte_units[] = {
	{ "B", 1 }, { "GB", 1e9 }, { "GiB", 1073741824.0 }, { "KB", 1e3 },
	{ "KiB", 1024 }, { "MB", 1e6 }, { "MiB", 1048576.0 }, { "TB", 1e12 },
	{ "TiB", 1099511627776.0 },
};

struct sctx {                     /* one parse */
	const char *file;
	struct mig_schema *s;
	char *err;
	size_t errlen;
};

static int node_err(struct sctx *c, const xmlNode *n, const char *what, const char *name)
{
	snprintf(c->err, c->errlen, "%s:%ld: %s <%s>", c->file, xmlGetLineNo(n),
		 what, name);
	return -1;
}

/* The element's text, trimmed, into buf. */
static int node_text(struct sctx *c, xmlNode *n, char *buf, size_t size)
{
	xmlChar *t = xmlNodeGetContent(n);
	const char *p = t ? (const char *)t : "";
	size_t len;

	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	len = strlen(p);
	while (len && (p[len - 1] == ' ' || p[len - 1] == '\n' ||
		       p[len - 1] == '\t' || p[len - 1] == '\r'))
		len--;
	if (len == 0 || len >= size) {
		xmlFree(t);
		return node_err(c, n, len ? "value too long in" : "empty", (const char *)n->name);
	}
	memcpy(buf, p, len);
	buf[len] = 0;
	xmlFree(t);
	return 0;
}

static int unit_of(const struct unit *u, size_t nu, const char *name, double *mult)
{
	for (size_t i = 0; i < nu; i++) {
		if (!strcmp(u[i].name, name)) {
			*mult = u[i].mult;
			return 0;
		}
	}
	return -1;
}

/* <x unit="U">N</x> -> N * unit, once only. */
static int node_quantity(struct sctx *c, xmlNode *n, const struct unit *u,
			 size_t nu, const char *dflt, double *out)
{
	char text[MIG_SCHEMA_WORD];
	xmlChar *unit = xmlGetProp(n, (const xmlChar *)"unit");
	double v, mult;
	int bad;

	if (*out >= 0) {
		xmlFree(unit);
		return node_err(c, n, "repeated", (const char *)n->name);
	}
	bad = unit_of(u, nu, unit ? (const char *)unit : dflt, &mult) < 0;
	xmlFree(unit);
	if (bad)
		return node_err(c, n, "bad unit in", (const char *)n->name);
	if (node_text(c, n, text, sizeof(text)) < 0)
		return -1;
	if (util_parse_double(text, &v) < 0 || v < 0)
		return node_err(c, n, "bad number in", (const char *)n->name);
	*out = v * mult;
	return 0;
}

static int list_add(struct sctx *c, xmlNode *n, char list[][MIG_SCHEMA_WORD],
		    size_t *cnt)
{
	if (*cnt == MIG_SCHEMA_LIST)
		return node_err(c, n, "too many", (const char *)n->name);
	return node_text(c, n, list[(*cnt)++], MIG_SCHEMA_WORD);
}

static int is(const xmlNode *n, const char *name)
{
	return !strcmp((const char *)n->name, name);
}

/* requires -> (memory | arch | software)* */
static int parse_requires(struct sctx *c, xmlNode *r)
{
	for (xmlNode *n = r->children; n; n = n->next) {
		int rc;

		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (is(n, "memory"))
			rc = node_quantity(c, n, byte_units, ARRAY_SIZE(byte_units), "B",
					   &c->s->memory);
		else if (is(n, "arch"))
			rc = list_add(c, n, c->s->arch, &c->s->narch);
		else if (is(n, "software"))
			rc = list_add(c, n, c->s->software, &c->s->nsoftware);
		else
			rc = node_err(c, n, "unknown element", (const char *)n->name);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int parse_charact(struct sctx *c, xmlNode *n)
{
	static const char *const names[] = { "compute", "communication", "data" };
	char text[MIG_SCHEMA_WORD];

	if (c->s->characteristics != MIG_CH_UNKNOWN)
		return node_err(c, n, "repeated", "characteristics");
	if (node_text(c, n, text, sizeof(text)) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcmp(text, names[i])) {
			c->s->characteristics = (enum mig_charact)(i + 1);
			return 0;
		}
	}
	return node_err(c, n, "expected compute|communication|data in", "characteristics");
}

static int parse_binary(struct sctx *c, xmlNode *n)
{
	struct mig_schema_binary *b;
	xmlChar *arch = xmlGetProp(n, (const xmlChar *)"arch");
	size_t al = arch ? strlen((const char *)arch) : 0;

	if (c->s->nbinary == MIG_SCHEMA_LIST || al == 0 || al >= MIG_SCHEMA_WORD) {
		xmlFree(arch);
		return node_err(c, n, "bad or too many arch attributes in", "binary");
	}
	b = &c->s->binary[c->s->nbinary++];
	memcpy(b->arch, arch, al + 1);
	xmlFree(arch);
	return node_text(c, n, b->path, sizeof(b->path));
}

static int parse_child(struct sctx *c, xmlNode *n)
{
	if (is(n, "characteristics"))
		return parse_charact(c, n);
	if (is(n, "estimated_time"))
		return node_quantity(c, n, time_units, ARRAY_SIZE(time_units), "s",
				     &c->s->estimated_time);
	if (is(n, "communication_volume"))
		return node_quantity(c, n, byte_units, ARRAY_SIZE(byte_units), "B",
				     &c->s->comm_volume);
	if (is(n, "requires"))
		return parse_requires(c, n);
	if (is(n, "binary"))
		return parse_binary(c, n);
	return node_err(c, n, "unknown element", (const char *)n->name);
}

/* application -> name attribute, (characteristics | estimated_time |
 *                communication_volume | requires | binary)* */
static int parse_app(struct sctx *c, xmlNode *app)
{
	xmlChar *name;

	if (!is(app, "application"))
		return node_err(c, app, "root element must be <application>, not",
				(const char *)app->name);
	name = xmlGetProp(app, (const xmlChar *)"name");
	if (name)
		snprintf(c->s->name, sizeof(c->s->name), "%s", (const char *)name);
	xmlFree(name);
	for (xmlNode *n = app->children; n; n = n->next) {
		if (n->type == XML_ELEMENT_NODE && parse_child(c, n) < 0)
			return -1;
	}
	return 0;
}

static void xml_silent(void *ctx, const char *msg, ...)
{
}

int mig_schema_parse(const char *xml, size_t len, const char *file,
		     struct mig_schema *out, char *err, size_t errlen)
{
	struct sctx c = { file, out, err, errlen };
	xmlDoc *doc;
	const xmlError *e;
	int rc;

	schema_clear(out);
	if (len > MIG_SCHEMA_MAX) {
		snprintf(err, errlen, "%s: larger than 64 KiB", file);
		return -1;
	}
	xmlSetGenericErrorFunc(NULL, xml_silent);
	doc = xmlReadMemory(xml, (int)len, file, NULL, XML_PARSE_NONET |
			    XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc) {
		e = xmlGetLastError();
		snprintf(err, errlen, "%s:%d: %s", file, e ? e->line : 0,
			 e && e->message ? e->message : "malformed XML\n");
		err[strcspn(err, "\n")] = 0;
		return -1;
	}
	rc = xmlDocGetRootElement(doc) ? parse_app(&c, xmlDocGetRootElement(doc)) :
		(snprintf(err, errlen, "%s:1: empty document", file), -1);
	xmlFreeDoc(doc);
	if (rc < 0)
		schema_clear(out);
	return rc;
}
#endif
