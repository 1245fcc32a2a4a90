/* libFuzzer driver for pn_params_parse (lib/push/pn_params.c), which reads the Contact URI a
 * device registers: it must stay inside the bytes it is given (an exact-size copy, so ASan
 * sees a read past it), and what it accepts must hold: both required fields set, every field
 * NUL-terminated inside its bound and made of URI parameter characters. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpm/pn_params.h"

static void check_field(const char *f, size_t cap)
{
	size_t n = strnlen(f, cap);
	if (n == cap)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)f[i] <= ' ' || f[i] == ';' || f[i] == '?' || f[i] == '=' || f[i] == '"')
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	struct pn_params p;
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (pn_params_parse(buf, size, &p)) {
		if (!p.provider[0] || !p.prid[0])
			abort();
		check_field(p.provider, sizeof p.provider);
		check_field(p.prid, sizeof p.prid);
		check_field(p.param, sizeof p.param);
	} else if (p.provider[0] || p.prid[0] || p.param[0]) {
		abort();
	}
	free(buf);
	return 0;
}
