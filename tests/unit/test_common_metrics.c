/* metrics (src/common/metrics.h): the exposition text's families and values, cumulative
 * histogram buckets whose +Inf equals _count, and a buffer too small refused. */
#include <stdlib.h>

#include "common/metrics.h"
#include "unit.h"

static char buf[32768];

UNIT_TEST(t_counters_and_histograms)
{
	metrics_reset();
	metrics_transfer(MT_DELIVERED);
	metrics_transfer(MT_DELIVERED);
	metrics_transfer(MT_STORED);
	metrics_delivery(MD_PULL, MR_DELIVERED);
	metrics_store_commit(700);     /* 0.0007 s: bucket 0.001 */
	metrics_store_commit(3000000); /* 3 s: only +Inf */
	metrics_relay_throughput(1000000, 1000);
	struct metrics_gauges g = {.deferred_items = 5, .registrations = 2};
	long n = metrics_format(buf, sizeof buf, &g);
	CHECK(n > 0);
	CHECK(strstr(buf, "# TYPE cpmd_transfers_total counter\n") != NULL);
	CHECK(strstr(buf, "cpmd_transfers_total{outcome=\"delivered\"} 2\n") != NULL);
	CHECK(strstr(buf, "cpmd_transfers_total{outcome=\"stored\"} 1\n") != NULL);
	CHECK(strstr(buf, "cpmd_deliveries_total{method=\"pull\",result=\"delivered\"} 1\n") != NULL);
	CHECK(strstr(buf, "cpmd_deferred_items 5\n") != NULL);
	CHECK(strstr(buf, "cpmd_registrations 2\n") != NULL);
	CHECK(strstr(buf, "cpmd_store_commit_seconds_bucket{le=\"0.0005\"} 0\n") != NULL);
	CHECK(strstr(buf, "cpmd_store_commit_seconds_bucket{le=\"0.001\"} 1\n") != NULL);
	CHECK(strstr(buf, "cpmd_store_commit_seconds_bucket{le=\"2.5\"} 1\n") != NULL);
	CHECK(strstr(buf, "cpmd_store_commit_seconds_bucket{le=\"+Inf\"} 2\n") != NULL);
	CHECK(strstr(buf, "cpmd_store_commit_seconds_count 2\n") != NULL);
	CHECK(strstr(buf, "cpmd_relay_throughput_bytes_per_second_bucket{le=\"1e+06\"} 1\n") != NULL);
	CHECK_EQ_INT(metrics_format(buf, 100, &g), -1);
	metrics_reset();
}

UNIT_MAIN(T(t_counters_and_histograms))
