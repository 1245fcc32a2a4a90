/* Inter-domain route table (routes.h). */
#include "common/routes.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cpm/parse.h"

int route_table_add(struct route_table *t, const char *spec, char *why, size_t why_cap)
{
	const char *eq = strchr(spec, '=');
	char host[256];
	uint16_t port;

	if (!eq || eq == spec) {
		snprintf(why, why_cap, "DOMAIN=HOST:PORT[;transport=tcp|udp|tls] expected");
		return -1;
	}
	size_t dlen = (size_t)(eq - spec);
	if (dlen > DOMAIN_NAME_MAX || !domain_name_valid(spec, dlen)) {
		snprintf(why, why_cap, "\"%.*s\" is not a domain name", (int)(dlen > 300 ? 300 : dlen), spec);
		return -1;
	}
	if (route_table_find(t, spec, dlen)) {
		snprintf(why, why_cap, "%.*s has a route already", (int)dlen, spec);
		return -1;
	}
	if (t->n == ROUTES_MAX) {
		snprintf(why, why_cap, "more than %d routes", ROUTES_MAX);
		return -1;
	}
	const char *hp = eq + 1, *semi = strchr(hp, ';');
	char hpbuf[300];
	size_t hlen = semi ? (size_t)(semi - hp) : strlen(hp);
	bool tcp = false, tls = false;
	if (semi) {
		if (!strcasecmp(semi, ";transport=tcp"))
			tcp = true;
		else if (!strcasecmp(semi, ";transport=tls"))
			tcp = tls = true; /* TLS runs over TCP: the Contact and the flow are stream ones */
		else if (strcasecmp(semi, ";transport=udp")) {
			snprintf(why, why_cap, "only ;transport=tcp, ;transport=udp or ;transport=tls may follow HOST:PORT");
			return -1;
		}
	}
	if (hlen >= sizeof hpbuf) {
		snprintf(why, why_cap, "HOST:PORT too long");
		return -1;
	}
	memcpy(hpbuf, hp, hlen);
	hpbuf[hlen] = '\0';
	if (cpm_parse_hostport(hpbuf, host, sizeof host, &port) || !domain_name_valid(host, strlen(host))) {
		snprintf(why, why_cap, "\"%s\" is not HOST:PORT", hpbuf);
		return -1;
	}
	struct route_entry *e = &t->e[t->n];
	memset(e, 0, sizeof *e);
	for (size_t i = 0; i < dlen; i++)
		e->domain[i] = (char)((spec[i] >= 'A' && spec[i] <= 'Z') ? spec[i] + 32 : spec[i]);
	bool v6 = strchr(host, ':') != NULL;
	snprintf(e->uri, sizeof e->uri, "sip:%s%s%s:%u;transport=%s", v6 ? "[" : "", host, v6 ? "]" : "", port,
		 tls ? "tls" : tcp ? "tcp" : "udp");
	e->tcp = tcp;
	e->tls = tls;
	t->n++;
	return 0;
}

const struct route_entry *route_table_find(const struct route_table *t, const char *domain, size_t len)
{
	for (unsigned i = 0; i < t->n; i++)
		if (strlen(t->e[i].domain) == len && !strncasecmp(t->e[i].domain, domain, len))
			return &t->e[i];
	return NULL;
}
