/* Source-address matcher (addr_match.h). */
#include "common/addr_match.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "cpm/parse.h"

static int parse_one(const char *s, size_t len, struct addr_match *m)
{
	char buf[80], host[64];
	uint16_t port = 0;

	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(m, 0, sizeof *m);
	/* a bare address first ("::1" would otherwise read as host ":" port 1) */
	if (inet_pton(AF_INET, buf, m->addr) == 1) {
		m->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, m->addr) == 1) {
		m->family = AF_INET6;
		return 0;
	}
	if (cpm_parse_hostport(buf, host, sizeof host, &port))
		return -1;
	m->port = port;
	if (inet_pton(AF_INET, host, m->addr) == 1)
		m->family = AF_INET;
	else if (buf[0] == '[' && inet_pton(AF_INET6, host, m->addr) == 1)
		m->family = AF_INET6;
	else
		return -1;
	return 0;
}

int addr_match_add(struct addr_match_list *l, const char *s, char *why, size_t why_cap)
{
	struct addr_match_list tmp = *l;
	for (const char *p = s;; p++) {
		size_t len = strcspn(p, ",");
		const char *b = p, *e = p + len;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (tmp.n == ADDR_MATCH_MAX) {
			snprintf(why, why_cap, "more than %d addresses", ADDR_MATCH_MAX);
			return -1;
		}
		if (parse_one(b, (size_t)(e - b), &tmp.a[tmp.n])) {
			snprintf(why, why_cap, "\"%.*s\" is not an IP address, IP:PORT or [IPv6]:PORT",
				 (int)((e - b) > 100 ? 100 : (e - b)), b);
			return -1;
		}
		tmp.n++;
		p += len;
		if (*p == '\0')
			break;
	}
	*l = tmp;
	return 0;
}

bool addr_match_has(const struct addr_match_list *l, const struct sockaddr *sa)
{
	const uint8_t *a;
	uint16_t port;
	int fam = sa->sa_family;
	uint8_t mapped[4];

	if (fam == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		a = (const uint8_t *)&in->sin_addr;
		port = ntohs(in->sin_port);
	} else if (fam == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		a = in6->sin6_addr.s6_addr;
		port = ntohs(in6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			memcpy(mapped, a + 12, 4);
			a = mapped;
			fam = AF_INET;
		}
	} else {
		return false;
	}
	for (unsigned i = 0; i < l->n; i++) {
		const struct addr_match *m = &l->a[i];
		if (m->family == fam && !memcmp(m->addr, a, fam == AF_INET ? 4 : 16) && (!m->port || m->port == port))
			return true;
	}
	return false;
}
