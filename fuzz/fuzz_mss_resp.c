/* libFuzzer driver for src/mss/mss_resp.c: what the MSS client reads from an
 * IMAP server (UID SEARCH results, tagged NO/BAD responses). Stays inside the
 * bytes it is given (exact-size copy for ASan); a reported UID is non-zero. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mss/mss_resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	uint32_t uid;
	int n, c;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	n = mss_search_parse(buf, size, &uid);
	if (n > 0 && uid == 0)
		abort();
	c = mss_resp_class(buf, size);
	if (c != -1 && c != -2)
		abort();
	free(buf);
	return 0;
}
