/* rate_limit: token buckets per key, bounded table. */
#include <stdio.h>

#include "common/rate_limit.h"
#include "unit.h"

UNIT_TEST(zero_rate_never_limits)
{
	struct rate_limit r;
	CHECK(rate_limit_init(&r, 0) == 0);
	for (int i = 0; i < 100000; i++)
		CHECK(rate_limit_take(&r, "a", 0));
	rate_limit_free(&r);
}

UNIT_TEST(burst_then_rate)
{
	struct rate_limit r;
	CHECK(rate_limit_init(&r, 10) == 0);
	int ok = 0;
	for (int i = 0; i < 100; i++)
		ok += rate_limit_take(&r, "1.2.3.4", 1000);
	CHECK_EQ_INT(ok, 20); /* burst: two seconds' worth */
	CHECK(!rate_limit_take(&r, "1.2.3.4", 1050)); /* half a token */
	CHECK(rate_limit_take(&r, "1.2.3.4", 1100));  /* one token after 100 ms */
	CHECK(!rate_limit_take(&r, "1.2.3.4", 1100));
	CHECK(rate_limit_take(&r, "5.6.7.8", 1100)); /* another key is not affected */
	ok = 0;
	for (int i = 0; i < 100; i++)
		ok += rate_limit_take(&r, "1.2.3.4", 100000); /* long idle: full again, no more */
	CHECK_EQ_INT(ok, 20);
	rate_limit_free(&r);
}

UNIT_TEST(table_is_bounded_and_keeps_working)
{
	struct rate_limit r;
	char k[32];
	CHECK(rate_limit_init(&r, 1) == 0);
	for (int i = 0; i < 3 * RATE_LIMIT_SLOTS; i++) {
		snprintf(k, sizeof k, "k%d", i);
		CHECK(rate_limit_take(&r, k, (uint64_t)i)); /* new keys get a full bucket */
	}
	/* a key just used is still tracked and limited */
	snprintf(k, sizeof k, "k%d", 3 * RATE_LIMIT_SLOTS - 1);
	CHECK(rate_limit_take(&r, k, 3 * RATE_LIMIT_SLOTS));
	CHECK(!rate_limit_take(&r, k, 3 * RATE_LIMIT_SLOTS));
	rate_limit_free(&r);
}

UNIT_MAIN(T(zero_rate_never_limits), T(burst_then_rate), T(table_is_bounded_and_keeps_working))
