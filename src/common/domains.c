#include "common/domains.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

bool domain_set_has(const struct domain_set *d, const char *host, size_t len)
{
	for (int i = 0; i < d->n; i++)
		if (strlen(d->name[i]) == len && strncasecmp(d->name[i], host, len) == 0)
			return true;
	return false;
}

bool domain_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > DOMAIN_NAME_MAX)
		return false;
	if (s[0] == '[') /* an IPv6 literal */
		return len > 2 && s[len - 1] == ']' && strspn(s + 1, "0123456789abcdefABCDEF:.") == len - 2;
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-')
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return s[len - 1] != '-';
}

int domain_set_add(struct domain_set *d, const char *s, size_t len)
{
	if (!domain_name_valid(s, len))
		return -1;
	if (d->n >= DOMAINS_MAX)
		return -2;
	for (size_t i = 0; i < len; i++)
		d->name[d->n][i] = (char)tolower((unsigned char)s[i]);
	d->name[d->n][len] = '\0';
	d->n++;
	return 0;
}
