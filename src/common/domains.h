/* The SIP domains this cpmd serves (--domain). One implementation of "is this host ours?"
 * for the registrar, pf and the options parser. */
#ifndef CPMD_COMMON_DOMAINS_H
#define CPMD_COMMON_DOMAINS_H

#include <stdbool.h>
#include <stddef.h>

#define DOMAINS_MAX 8
#define DOMAIN_NAME_MAX 255

struct domain_set {
	char name[DOMAINS_MAX][DOMAIN_NAME_MAX + 1]; /* lower-case */
	int n;
};

/* Case-insensitive match of host[0..len) against the set. */
bool domain_set_has(const struct domain_set *d, const char *host, size_t len);
/* A host name (RFC 1123 labels: letters, digits, '-', '.') or an IPv4/[IPv6] literal. */
bool domain_name_valid(const char *s, size_t len);
/* Adds one name (lower-cased). 0, -1 if invalid, -2 if the set is full. */
int domain_set_add(struct domain_set *d, const char *s, size_t len);

#endif
