/*
 * The bad-file corpus: every test/rules-bad/NAME.rule or NAME.policy must
 * be rejected, and each non-empty line of NAME.expect must appear in its
 * errors.  Files are named by their base name; expression files they
 * mention are read from test/rules-bad.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"
#include "rules/rule_parse.h"
#include "rules/rules.h"
#include "test/unit/unit.h"

#define BAD_DIR "test/rules-bad"

static int has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n > m && strcmp(s + n - m, suf) == 0;
}

/* Errors of one corpus file, or NULL when it (wrongly) parsed. */
static char *bad_errors(const char *name, const char *text, size_t len)
{
	struct rule_errs e = { 0 };
	const char *dir = BAD_DIR;

	if (has_suffix(name, ".policy")) {
		struct policy *p = policy_parse(name, text, len, &e);

		policy_free(p);
	} else {
		struct ruleset *rs = ruleset_parse_dirs(&name, &text, &len, &dir, 1, &e);

		ruleset_free(rs);
	}
	if (e.count == 0 || !e.text) {
		rule_errs_clear(&e);
		return NULL;
	}
	return e.text;
}

/* 0 when every expected line is among the errors, else prints why. */
static int bad_case(const char *name)
{
	char path[512], *text, *expect, *errs, *save = NULL;
	size_t len, elen;
	int bad = 0;

	snprintf(path, sizeof(path), BAD_DIR "/%s", name);
	text = util_read_file(path, RULE_FILE_MAX, &len);
	snprintf(path, sizeof(path), BAD_DIR "/%.*s.expect",
		 (int)(strrchr(name, '.') - name), name);
	expect = util_read_file(path, RULE_FILE_MAX, &elen);
	if (!text || !expect) {
		printf("    %s: cannot read it or its .expect\n", name);
		free(text);
		free(expect);
		return 1;
	}
	errs = bad_errors(name, text, len);
	for (char *l = strtok_r(expect, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (errs && strstr(errs, l))
			continue;
		printf("    %s: expected \"%s\" in:\n%s", name, l, errs ? errs : "(accepted)\n");
		bad = 1;
	}
	free(errs);
	free(text);
	free(expect);
	return bad;
}

TEST(rules_bad_corpus)
{
	DIR *d = opendir(BAD_DIR);
	struct dirent *de;
	int cases = 0, failed = 0;

	CHECK(d != NULL);
	while ((de = readdir(d))) {
		if (!has_suffix(de->d_name, ".rule") && !has_suffix(de->d_name, ".policy"))
			continue;
		cases++;
		failed += bad_case(de->d_name);
	}
	closedir(d);
	CHECK_INT_EQ(failed, 0);
	CHECK(cases >= 40);
}
