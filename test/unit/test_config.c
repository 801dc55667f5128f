/* Unit tests for common/config.c: the daemons' `key value` files. */
#include "common/config.h"
#include "test/unit/unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const struct option t_opts[] = {
	{ "registry", required_argument, NULL, 'r' },
	{ "interval", required_argument, NULL, 'i' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "config", required_argument, NULL, 'c' },
	{ NULL, 0, NULL, 0 },
};
static const struct option t_extra[] = {
	{ "option", required_argument, NULL, 'o' },
	{ NULL, 0, NULL, 0 },
};
static const char *const t_skip[] = { "help", "config", NULL };
static const char *const t_repeat[] = { "option", NULL };
static const struct config_spec t_spec = { t_opts, t_extra, t_skip, t_repeat };

static int parse(struct config *c, const char *text, char *err, size_t errlen)
{
	err[0] = '\0';
	return config_parse(c, "a.conf", text, strlen(text), &t_spec, err, errlen);
}

TEST(config_reads_keys_values_and_comments)
{
	struct config c;
	char err[512];

	CHECK(parse(&c, "# a comment\n\n  registry   10.0.0.1:7227  \n"
		  "interval 5 # seconds\r\nverbose yes\n"
		  "option allow_other\noption default_permissions", err,
		  sizeof(err)) == 0);
	CHECK_INT_EQ(c.n, 5);
	CHECK_STR_EQ(c.e[0].opt->name, "registry");
	CHECK_STR_EQ(c.e[0].value, "10.0.0.1:7227");
	CHECK_INT_EQ(c.e[0].line, 3);
	CHECK_STR_EQ(c.e[1].value, "5");
	CHECK_INT_EQ(c.e[1].opt->val, 'i');
	CHECK(c.e[2].value == NULL && c.e[2].on == 1);
	CHECK_STR_EQ(c.e[3].opt->name, "option");
	CHECK_STR_EQ(c.e[4].value, "default_permissions");
	CHECK_INT_EQ(c.e[4].line, 7);
	config_free(&c);
}

TEST(config_hash_inside_a_word_is_part_of_the_value)
{
	struct config c;
	char err[512];

	CHECK(parse(&c, "registry h#1:7227\nverbose off\n", err, sizeof(err)) == 0);
	CHECK_STR_EQ(c.e[0].value, "h#1:7227");
	CHECK(c.e[1].on == 0);
	config_free(&c);
}

static void check_bad(const char *text, const char *want)
{
	struct config c;
	char err[512];

	if (parse(&c, text, err, sizeof(err)) == 0)
		unit_fail(__FILE__, __LINE__, "'%s' was accepted", text);
	else if (!strstr(err, want))
		unit_fail(__FILE__, __LINE__, "'%s': error '%s' lacks '%s'",
			  text, err, want);
	config_free(&c);
}

TEST(config_errors_say_file_and_line)
{
	check_bad("registry a:1\nbogus 3\n",
		  "a.conf:2: unknown key 'bogus' (keys: registry interval verbose option)");
	check_bad("\n\nregistry\n", "a.conf:3: 'registry' needs a value");
	check_bad("verbose\n", "a.conf:1: 'verbose' takes yes or no");
	check_bad("verbose maybe\n", "a.conf:1: 'verbose': 'maybe' is not yes or no");
	check_bad("registry a:1\nregistry b:2\n", "a.conf:2: 'registry' is already set at line 1");
	check_bad("help yes\n", "a.conf:1: unknown key 'help'");
	check_bad("config /x\n", "a.conf:1: unknown key 'config'");
	check_bad("registry a\001b\n", "a.conf:1: byte 0x01 is not text");
	check_bad("--registry a:1\n", "unknown key '--registry'");
}

TEST(config_embedded_nul_is_an_error)
{
	struct config c;
	char err[256];
	static const char text[] = "registry a\0b\n";

	CHECK(config_parse(&c, "n.conf", text, sizeof(text) - 1, &t_spec, err,
			   sizeof(err)) < 0);
	CHECK_STR_HAS(err, "n.conf:1: byte 0x00 is not text");
	config_free(&c);
}

TEST(config_load_reports_a_missing_file_and_reads_a_real_one)
{
	char dir[] = "/tmp/resched-unit-config-XXXXXX", path[128], err[256];
	struct config c;
	FILE *f;

	CHECK(config_load(&c, "/nonexistent/a.conf", &t_spec, err, sizeof(err)) < 0);
	CHECK_STR_HAS(err, "/nonexistent/a.conf: No such file or directory");
	config_free(&c);
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/agent.conf", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("registry 127.0.0.1:7227\ninterval x\n", f);
	fclose(f);
	CHECK(config_load(&c, path, &t_spec, err, sizeof(err)) == 0);
	CHECK_INT_EQ(c.n, 2);
	CHECK_STR_HAS(config_where(&c, &c.e[1], err, sizeof(err)), "/agent.conf:2: interval");
	config_free(&c);
	unlink(path);
	rmdir(dir);
}

TEST(config_find_arg_leaves_getopt_ready)
{
	char a0[] = "prog", a1[] = "--verbose", a2[] = "--config", a3[] = "x.conf",
	     a4[] = "--registry=h:1", *argv[] = { a0, a1, a2, a3, a4, NULL };
	int ch, seen = 0;

	CHECK_STR_EQ(config_find_arg(5, argv, "h", t_opts, 'c'), "x.conf");
	while ((ch = getopt_long(5, argv, "h", t_opts, NULL)) != -1)
		seen += ch == 'r' || ch == 'v' || ch == 'c';
	CHECK_INT_EQ(seen, 3);
	optind = 0;
	CHECK(config_find_arg(2, argv, "h", t_opts, 'c') == NULL);
}
