/*
 * unit.h — the unit-test framework.  A test file needs no registration:
 *
 *     #include "test/unit/unit.h"
 *     TEST(lexer_reads_numbers) { CHECK(x == 1); CHECK_INT_EQ(a, b); }
 *
 * Each TEST registers itself from a constructor; the runner (unit_main.c)
 * runs them all, or only those whose name contains argv[1], and prints
 * "N passed, N failed, N skipped" last.  A failed CHECK reports file:line
 * and ends that test; SKIP("why") ends it as skipped, and the runner
 * prints the reason (a test that cannot run here must not count as
 * passed).  Fixtures are read relative to the repository root, which is
 * where `make unit` runs (UNIT_ROOT overrides).
 */
#ifndef RESCHED_UNIT_H
#define RESCHED_UNIT_H

#include <string.h>

struct unit_test {
	const char *name;
	const char *file;
	void (*fn)(void);
	struct unit_test *next;
};

void unit_register(struct unit_test *t);
void unit_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Mark the running test skipped, with the reason (printf format). */
void unit_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Path of a fixture under test/fixtures/, in a static buffer. */
const char *unit_fixture(const char *rel);

#define TEST(name)                                                        \
	static void name(void);                                           \
	static struct unit_test name##_unit = { #name, __FILE__, name, 0 }; \
	__attribute__((constructor)) static void name##_register(void)    \
	{                                                                 \
		unit_register(&name##_unit);                              \
	}                                                                 \
	static void name(void)

#define SKIP(...)                                                         \
	do {                                                              \
		unit_skip(__VA_ARGS__);                                   \
		return;                                                   \
	} while (0)

#define CHECK(c)                                                          \
	do {                                                              \
		if (!(c)) {                                               \
			unit_fail(__FILE__, __LINE__, "%s", #c);          \
			return;                                           \
		}                                                         \
	} while (0)

#define CHECK_INT_EQ(a, b)                                                \
	do {                                                              \
		long long a_ = (long long)(a), b_ = (long long)(b);       \
		if (a_ != b_) {                                           \
			unit_fail(__FILE__, __LINE__, "%s == %s (%lld != %lld)", \
				  #a, #b, a_, b_);                        \
			return;                                           \
		}                                                         \
	} while (0)

#define CHECK_NEAR(a, b, eps)                                             \
	do {                                                              \
		double a_ = (double)(a), b_ = (double)(b);                \
		if (!(a_ - b_ <= (eps) && b_ - a_ <= (eps))) {            \
			unit_fail(__FILE__, __LINE__, "%s ~= %s (%g vs %g)", \
				  #a, #b, a_, b_);                        \
			return;                                           \
		}                                                         \
	} while (0)

#define CHECK_STR_EQ(a, b)                                                \
	do {                                                              \
		const char *a_ = (a), *b_ = (b);                          \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                  \
			unit_fail(__FILE__, __LINE__, "%s == %s (\"%s\" vs \"%s\")", \
				  #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
			return;                                           \
		}                                                         \
	} while (0)

/* CHECK that haystack contains needle. */
#define CHECK_STR_HAS(h, n)                                               \
	do {                                                              \
		const char *h_ = (h), *n_ = (n);                          \
		if (!h_ || !strstr(h_, n_)) {                             \
			unit_fail(__FILE__, __LINE__, "%s contains \"%s\" (got \"%s\")", \
				  #h, n_, h_ ? h_ : "(null)");            \
			return;                                           \
		}                                                         \
	} while (0)

#endif
