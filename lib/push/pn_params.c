/* RFC 8599 push parameters of a Contact URI (see cpm/pn_params.h). */
#include "cpm/pn_params.h"

#include <string.h>
#include <strings.h>

/* RFC 3261 paramchar = param-unreserved / unreserved / escaped */
static bool paramchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("-_.!~*'()[]/:&+$%", c) != NULL;
}

static bool hexdig(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* value v[0..n) into dst (cap incl. NUL), once: false if too long, repeated or malformed */
static bool take(char *dst, size_t cap, const char *v, size_t n)
{
	if (dst[0] || n == 0 || n >= cap)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == 0 || !paramchar(c))
			return false;
		if (c == '%' && (i + 2 >= n || !hexdig((unsigned char)v[i + 1]) || !hexdig((unsigned char)v[i + 2])))
			return false;
	}
	memcpy(dst, v, n);
	dst[n] = '\0';
	return true;
}

bool pn_params_parse(const char *uri, size_t len, struct pn_params *out)
{
	memset(out, 0, sizeof *out);
	const char *semi = memchr(uri, ';', len);
	if (!semi)
		return false;
	const char *q = memchr(uri, '?', len);
	const char *end = q && q > semi ? q : uri + len;
	bool ok = true;
	for (const char *p = semi + 1; p < end && ok;) {
		const char *next = memchr(p, ';', (size_t)(end - p));
		const char *stop = next ? next : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		size_t nl = (size_t)((eq ? eq : stop) - p);
		const char *v = eq ? eq + 1 : stop;
		size_t vl = (size_t)(stop - v);
		if (nl == 11 && !strncasecmp(p, "pn-provider", 11))
			ok = take(out->provider, sizeof out->provider, v, vl);
		else if (nl == 7 && !strncasecmp(p, "pn-prid", 7))
			ok = take(out->prid, sizeof out->prid, v, vl);
		else if (nl == 8 && !strncasecmp(p, "pn-param", 8))
			ok = take(out->param, sizeof out->param, v, vl);
		p = stop + 1;
	}
	if (!ok || !out->provider[0] || !out->prid[0]) {
		memset(out, 0, sizeof *out);
		return false;
	}
	return true;
}
