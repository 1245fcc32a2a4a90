/* Milliseconds of CLOCK_MONOTONIC: the one clock for intervals, timeouts and rates (never the
 * wall clock, which NTP and the operator move). Signed, so that a deadline minus now may go
 * below zero. */
#ifndef CPM_COMMON_MONO_CLOCK_H
#define CPM_COMMON_MONO_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
