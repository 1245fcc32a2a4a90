/* Helpers over cpm_str slices. */
#include "cpm/str.h"

#include <strings.h>

bool cpm_str_caseeq(struct cpm_str a, const char *lit)
{
	size_t n = strlen(lit);
	return a.len == n && (n == 0 || strncasecmp(a.p, lit, n) == 0);
}

bool cpm_str_copy(char *dst, size_t cap, struct cpm_str s)
{
	if (cap == 0)
		return false;
	if (s.len >= cap) {
		dst[0] = '\0';
		return false;
	}
	if (s.len)
		memcpy(dst, s.p, s.len);
	dst[s.len] = '\0';
	return true;
}

struct cpm_str cpm_str_trim(struct cpm_str s)
{
	while (s.len && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.len--;
	}
	while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
		s.len--;
	return s;
}

bool cpm_str_to_u64_max(struct cpm_str s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		unsigned d = (unsigned char)s.p[i] - '0';
		/* d > max first: max - d must not wrap (max < 9 would accept "5" for max 3) */
		if (d > 9 || d > max || v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}
