/* libFuzzer driver for cpm_icsi_in (lib/util/icsi.c), which reads header values of any
 * request (Accept-Contact, P-Preferred-Service): it must stay inside the bytes it is given
 * (the input is copied to an exact-size buffer, so ASan sees any read past it), and a match
 * must really be there. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpm/icsi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"largemsg", "deferred", "msg", "session", "filetransfer"};
	char *buf = malloc(size ? size : 1), *low = malloc(size ? size : 1);
	char want[64];

	if (!buf || !low)
		goto out;
	memcpy(buf, data, size);
	for (size_t i = 0; i < size; i++)
		low[i] = (char)(data[i] >= 'A' && data[i] <= 'Z' ? data[i] + 32 : data[i]);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		int n = snprintf(want, sizeof want, "3gpp-service.ims.icsi.oma.cpm.%s", names[i]);
		if (cpm_icsi_in(buf, size, names[i]) && !memmem(low, size, want, (size_t)n))
			abort();
	}
out:
	free(buf);
	free(low);
	return 0;
}
