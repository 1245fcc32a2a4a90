/* Minimal unit-test harness: each test_*.c defines tests with UNIT_TEST and
 * lists them in UNIT_MAIN. Output ends with "N passed, N failed". */
#ifndef CPM_UNIT_H
#define CPM_UNIT_H
#include <stdio.h>
#include <string.h>

extern int unit_failures;
void unit_fail(const char *file, int line, const char *expr);

#define CHECK(expr) do { if (!(expr)) { unit_fail(__FILE__, __LINE__, #expr); return; } } while (0)
#define CHECK_EQ_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
	if (_a != _b) { char _m[256]; snprintf(_m, sizeof _m, "%s == %s (%lld != %lld)", #a, #b, _a, _b); \
		unit_fail(__FILE__, __LINE__, _m); return; } } while (0)
#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); \
	if (strcmp(_a, _b) != 0) { char _m[512]; snprintf(_m, sizeof _m, "%s == %s (\"%.200s\" != \"%.200s\")", #a, #b, _a, _b); \
		unit_fail(__FILE__, __LINE__, _m); return; } } while (0)

struct unit_test { const char *name; void (*fn)(void); };
#define UNIT_TEST(name) static void name(void)
#define UNIT_MAIN(...) \
	int main(void) { \
		static const struct unit_test tests[] = { __VA_ARGS__ }; \
		return unit_run(tests, sizeof tests / sizeof tests[0]); \
	}
#define T(fn) { #fn, fn }
int unit_run(const struct unit_test *tests, size_t n);
#endif
