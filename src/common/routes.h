/* Inter-domain routes (--route DOMAIN=HOST:PORT[;transport=tcp|udp|tls], --dns-routes): where a
 * request for a user of ANOTHER home domain goes. One parser for the options and pf, one
 * lookup. Pure code: no I/O, no sofia type. */
#ifndef CPMD_COMMON_ROUTES_H
#define CPMD_COMMON_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "common/domains.h"

#define ROUTES_MAX 32
#define ROUTE_URI_MAX 320

struct route_entry {
	char domain[DOMAIN_NAME_MAX + 1]; /* lower-case */
	char uri[ROUTE_URI_MAX];          /* next hop as a SIP URI: "sip:HOST:PORT;transport=udp|tcp|tls" */
	bool tcp;                         /* a stream transport: tcp or tls */
	bool tls;                         /* SIP over TLS, and msrps between the PFs (docs/security.md) */
};

struct route_table {
	struct route_entry e[ROUTES_MAX];
	unsigned n;
	bool dns; /* a domain with no entry is found by DNS (RFC 3263: NAPTR/SRV/A) */
};

/* Parses "DOMAIN=HOST:PORT[;transport=tcp|udp|tls]" and adds it. 0, or -1 with why[] filled
 * (a sentence for the operator). A domain listed twice is refused. */
int route_table_add(struct route_table *t, const char *spec, char *why, size_t why_cap);
/* The entry for domain[0..len) (case-insensitive), or NULL. */
const struct route_entry *route_table_find(const struct route_table *t, const char *domain, size_t len);

#endif
