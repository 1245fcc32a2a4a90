/* Logging and the monotonic clock for the MSRP code. Connection-level events
 * only: nothing is logged per chunk. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "common/log.h"
#include "common/mono_clock.h"
#include "net/msrp_transport.h"

void msrp_log(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	log_msg(LOG_INFO, "msrp: %s", line);
}

uint64_t msrp_now_ms(void)
{
	return (uint64_t)mono_ms();
}
