/* libFuzzer driver for clamd_reply_parse (src/screen/clamd_reply.c), which classifies what
 * clamd (or whatever answers on its socket) sends back: it must stay inside the bytes it is
 * given (copied to an exact-size buffer, so ASan sees any read past it) and inside the output
 * capacities (small exact-size buffers), and its outputs must be consistent: a name only for
 * INFECTED, NUL-terminated printable text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "screen/clamd_reply.h"

static void printable(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap)
		abort(); /* not terminated inside its buffer */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the first byte chooses the output capacities, so tiny ones are tried too */
	size_t vcap = size ? (data[0] & 0x0f) + 1 : 1, whylen = size ? (data[0] >> 4) + 1 : 1;
	char *buf = malloc(size ? size : 1), *virus = malloc(vcap), *why = malloc(whylen);
	enum clamd_result r;

	if (!buf || !virus || !why)
		goto out;
	memcpy(buf, data, size);
	r = clamd_reply_parse(buf, size, virus, vcap, why, whylen);
	printable(virus, vcap);
	printable(why, whylen);
	if (r != CLAMD_INFECTED && virus[0])
		abort();
	if ((r == CLAMD_CLEAN || r == CLAMD_INFECTED) && why[0])
		abort();
	if (r == CLAMD_CLEAN && !memmem(buf, size, "stream: OK", 10))
		abort();
	(void)clamd_reply_is_pong(buf, size);
	(void)clamd_reply_parse(buf, size, NULL, 0, NULL, 0);
out:
	free(buf);
	free(virus);
	free(why);
	return 0;
}
