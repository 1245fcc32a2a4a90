/* lib/util/str.c: the bounded number parser every codec uses for peer input. */
#include "cpm/str.h"
#include "unit.h"

static bool parse(const char *s, uint64_t max, uint64_t *v)
{
	return cpm_str_to_u64_max(cpm_str_c(s), max, v);
}

UNIT_TEST(u64_bounds)
{
	uint64_t v = 0;
	CHECK(parse("0", 0, &v) && v == 0);
	CHECK(!parse("1", 0, &v));
	CHECK(parse("3", 3, &v) && v == 3);
	CHECK(!parse("5", 3, &v)); /* max below 9: max - d must not wrap */
	CHECK(!parse("9", 8, &v));
	CHECK(parse("8", 8, &v) && v == 8);
	CHECK(parse("0003", 3, &v) && v == 3);
	CHECK(!parse("13", 12, &v));
	CHECK(parse("18446744073709551615", UINT64_MAX, &v) && v == UINT64_MAX);
	CHECK(!parse("18446744073709551616", UINT64_MAX, &v));
	CHECK(!parse("", 10, &v));
	CHECK(!parse("-1", 10, &v));
	CHECK(!parse(" 1", 10, &v));
	CHECK(!parse("1x", 10, &v));
}

UNIT_MAIN(T(u64_bounds))
