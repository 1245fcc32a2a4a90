/* libFuzzer driver for what the admin API reads from a request (src/admin/admin_parse.c):
 * the input is split at NULs into a URL path, a query value, an Authorization header and a
 * body; each goes through its parser. Checks: a parsed route's argument is non-empty and
 * holds no '/', a parsed limit is in range, a token that matched is the configured one. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	const char *part[4] = {buf, "", "", ""};
	size_t np = 1;
	for (size_t i = 0; i < size && np < 4; i++)
		if (!buf[i])
			part[np++] = buf + i + 1;

	struct admin_path p;
	admin_route_parse(part[0], &p);
	if (p.route != AR_NONE && admin_route_methods(p.route) == 0)
		__builtin_trap();
	if ((p.route == AR_ITEM || p.route == AR_RETRY || p.route == AR_USER || p.route == AR_TRANSFER) &&
	    (!p.arg[0] || strchr(p.arg, '/')))
		__builtin_trap();
	admin_method_bit(part[1]);

	unsigned limit;
	if (admin_parse_limit(part[1], 100, 1000, &limit) == 0 && (limit < 1 || limit > 1000))
		__builtin_trap();
	char aor[300];
	if (admin_parse_aor(part[1], 1, aor, sizeof aor) == 0 && strncmp(aor, "sip:", 4))
		__builtin_trap();
	admin_parse_aor(part[1], 0, aor, sizeof aor);

	if (admin_token_ok(part[2], "s3cret") && strcmp(part[2], "Bearer s3cret"))
		__builtin_trap();

	/* the body is everything after the third NUL, NULs included (JSON must refuse them) */
	size_t off = (size_t)(part[3] - buf);
	int64_t exp;
	char why[160];
	if (admin_parse_expiry(part[3], off <= size ? size - off : 0, &exp, why, sizeof why) == 0 &&
	    (exp < 1 || exp > ((int64_t)1 << 40)))
		__builtin_trap();
	free(buf);
	return 0;
}
