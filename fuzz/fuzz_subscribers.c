/* libFuzzer driver for the subscriber list parser (--users): every accepted entry must be
 * found again by its own user and domain, and yield an HA1 for at least one algorithm. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/subscribers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct subscribers *s;
	char err[200];
	if (subscribers_parse(&s, (const char *)data, size, err, sizeof err))
		return 0;
	/* probe with the first line's key, whatever it is */
	char user[SUBSCRIBER_USER_MAX + 1] = "", domain[300] = "";
	size_t i = 0, n = size < 200 ? size : 200;
	while (i < n && data[i] != '@' && i < SUBSCRIBER_USER_MAX)
		user[i] = (char)data[i], i++;
	user[i] = '\0';
	if (i < n && data[i] == '@') {
		size_t j = 0;
		for (i++; i < n && data[i] != ' ' && data[i] != '\n' && j + 1 < sizeof domain; i++)
			domain[j++] = (char)data[i];
		domain[j] = '\0';
	}
	const struct subscriber *u = subscribers_find(s, user, domain);
	if (u) {
		char ha1[DIGEST_HEX_MAX + 1];
		int a = subscriber_ha1(u, DIGEST_MD5, ha1), b = subscriber_ha1(u, DIGEST_SHA256, ha1);
		if (a && b)
			__builtin_trap();
	}
	subscribers_free(s);
	return 0;
}
