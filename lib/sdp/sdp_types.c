/* The media types an MSRP endpoint accepts (RFC 4975 §8: a=accept-types and
 * a=accept-wrapped-types, space-separated lists of types, "*" for any). */
#include "cpm/sdp.h"

#include <string.h>
#include <strings.h>

bool sdp_accepts_type(const char *types, const char *type)
{
	size_t want = type ? strlen(type) : 0;

	if (!types || !want)
		return false;
	for (const char *p = types; *p;) {
		size_t n;
		while (*p == ' ' || *p == '\t')
			p++;
		n = strcspn(p, " \t");
		if ((n == 1 && p[0] == '*') || (n == want && strncasecmp(p, type, n) == 0))
			return true;
		p += n;
	}
	return false;
}
