/* IMAP response reading (mss_resp.h). */
#include "mss/mss_resp.h"

#include <string.h>
#include <strings.h>

#include "cpm/str.h"

static bool line_starts(const char *p, size_t n, const char *pfx)
{
	size_t k = strlen(pfx);
	return n >= k && strncasecmp(p, pfx, k) == 0;
}

int mss_search_parse(const char *buf, size_t len, uint32_t *uid)
{
	int count = 0;
	size_t i = 0;

	*uid = 0;
	while (i < len) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - buf) : len, j;

		if (line_starts(buf + i, end - i, "* SEARCH")) {
			j = i + 8;
			while (j < end) {
				uint64_t v = 0;
				size_t d = 0;

				if (buf[j] == ' ' || buf[j] == '\r') {
					j++;
					continue;
				}
				/* RFC 3501 nz-number: 1..4294967295 */
				while (j < end && buf[j] >= '0' && buf[j] <= '9' && d < 10) {
					v = v * 10 + (uint64_t)(buf[j] - '0');
					j++;
					d++;
				}
				if (d == 0 || v == 0 || v > UINT32_MAX || (j < end && buf[j] != ' ' && buf[j] != '\r'))
					return -1;
				if (count++ == 0)
					*uid = (uint32_t)v;
				if (count > 1000000)
					return -1;
			}
		}
		i = end + 1;
	}
	return count;
}

int mss_resp_class(const char *line, size_t len)
{
	static const char *const permanent[] = {"[LIMIT]", "[TOOBIG]", "[OVERQUOTA]",
						"[NOPERM]", "[CANNOT]", "[PARSE]"};
	const char *sp = memchr(line, ' ', len);
	size_t rest;

	if (!sp)
		return -1;
	rest = len - (size_t)(sp + 1 - line);
	if (!line_starts(sp + 1, rest, "NO ") && !line_starts(sp + 1, rest, "BAD "))
		return -1;
	for (size_t i = 0; i < sizeof permanent / sizeof permanent[0]; i++) {
		size_t k = strlen(permanent[i]);
		for (const char *p = sp + 1; (size_t)(p - line) + k <= len; p++)
			if (strncasecmp(p, permanent[i], k) == 0)
				return -2;
	}
	return -1;
}
