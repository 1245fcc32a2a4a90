#include "unit.h"

int unit_failures;
static int current_failed;

void unit_fail(const char *file, int line, const char *expr)
{
	fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, expr);
	current_failed = 1;
}

int unit_run(const struct unit_test *tests, size_t n)
{
	int passed = 0, failed = 0;
	for (size_t i = 0; i < n; i++) {
		current_failed = 0;
		tests[i].fn();
		if (current_failed) {
			failed++;
			fprintf(stderr, "not ok %s\n", tests[i].name);
		} else {
			passed++;
			printf("ok %s\n", tests[i].name);
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
