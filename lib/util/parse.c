/* Number and host:port parsers for user-typed values (see cpm/parse.h). */
#include "cpm/parse.h"

#include "cpm/str.h"

#include <string.h>

int cpm_parse_u64(const char *s, uint64_t max, bool size_suffixes, uint64_t *out)
{
	size_t digits, len;
	uint64_t v, mul = 1;

	if (!s)
		return -1;
	len = strlen(s);
	digits = strspn(s, "0123456789");
	if (digits == 0)
		return -1;
	if (digits < len) {
		const char *x = s + digits;

		if (!size_suffixes)
			return -1;
		switch (*x++) {
		case 'k': case 'K': mul = 1024ull; break;
		case 'm': case 'M': mul = 1024ull * 1024; break;
		case 'g': case 'G': mul = 1024ull * 1024 * 1024; break;
		default: return -1;
		}
		if (*x == 'i' || *x == 'I')
			x++;
		if (*x == 'b' || *x == 'B')
			x++;
		if (*x)
			return -1;
	}
	/* v <= max / mul, so v * mul <= max: no overflow anywhere */
	if (!cpm_str_to_u64_max((struct cpm_str){s, digits}, max / mul, &v))
		return -1;
	*out = v * mul;
	return 0;
}

int cpm_parse_hostport(const char *s, char *host, size_t cap, uint16_t *port)
{
	const char *colon, *h;
	size_t hlen;
	uint64_t p;

	if (!s || !(colon = strrchr(s, ':')))
		return -1;
	h = s;
	hlen = (size_t)(colon - s);
	if (hlen && s[0] == '[') {
		if (hlen < 2 || s[hlen - 1] != ']')
			return -1;
		h++;
		hlen -= 2;
	}
	/* a bracket left inside the host is a typo ("[::1]x:80", "a]b:80") */
	if (hlen == 0 || hlen >= cap || memchr(h, '[', hlen) || memchr(h, ']', hlen))
		return -1;
	if (cpm_parse_u64(colon + 1, 65535, false, &p) < 0 || p == 0)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (uint16_t)p;
	return 0;
}
