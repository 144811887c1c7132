/*
 * t.h: the unit-test harness. A test file defines cases with TEST(name)
 * and lists them in main() via RUN(name). Each case prints one line,
 * "PASS: file: name" or "FAIL: file: name: why", which tests/run counts.
 * CHECK records a failure and carries on inside the case; REQUIRE stops it.
 *
 * Header-only on purpose: every test binary is one file plus this.
 */
#ifndef T_H
#define T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failed_cases, t_case_failed;
static const char *t_case;
static char t_why[512];

#define TEST(name) static void name(void)

#define CHECK(cond) do { \
	if (!(cond) && !t_case_failed) { \
		t_case_failed = 1; \
		snprintf(t_why, sizeof(t_why), "%s:%d: %s", __FILE__, __LINE__, #cond); \
	} \
} while (0)

#define CHECKF(cond, ...) do { \
	if (!(cond) && !t_case_failed) { \
		int t_n_ = snprintf(t_why, sizeof(t_why), "%s:%d: ", __FILE__, __LINE__); \
		if (t_n_ > 0 && (size_t)t_n_ < sizeof(t_why)) \
			snprintf(t_why + t_n_, sizeof(t_why) - (size_t)t_n_, __VA_ARGS__); \
		t_case_failed = 1; \
	} \
} while (0)

#define REQUIRE(cond) do { CHECK(cond); if (t_case_failed) return; } while (0)

#define RUN(name) do { \
	t_case = #name; t_case_failed = 0; t_why[0] = '\0'; \
	name(); \
	if (t_case_failed) { \
		t_failed_cases++; \
		printf("FAIL: %s: %s: %s\n", t_file(), t_case, t_why); \
	} else \
		printf("PASS: %s: %s\n", t_file(), t_case); \
	fflush(stdout); \
} while (0)

static inline const char *
t_file(void)
{
	const char *s = strrchr(__BASE_FILE__, '/');
	return s ? s + 1 : __BASE_FILE__;
}

/* Path of the shared vectors: $VECTORS, else ../shared/vectors from the repo. */
static inline const char *
t_vectors_dir(void)
{
	const char *v = getenv("VECTORS");
	return v ? v : "../shared/vectors";
}

#define T_DONE() return t_failed_cases ? 1 : 0

#endif
