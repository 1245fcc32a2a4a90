/* "Is this source address one of these?" for --core-trust: entries "IP" (any port) or
 * "IP:PORT" / "[IPv6]:PORT". One parser for the options and sipua, one matcher. */
#ifndef CPMD_COMMON_ADDR_MATCH_H
#define CPMD_COMMON_ADDR_MATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADDR_MATCH_MAX 16

struct addr_match {
	int family;        /* AF_INET or AF_INET6 */
	uint8_t addr[16];  /* network order; 4 bytes used for AF_INET */
	uint16_t port;     /* 0: any port */
};

struct addr_match_list {
	struct addr_match a[ADDR_MATCH_MAX];
	unsigned n;
};

/* Adds every comma-separated entry of s ("127.0.0.1, 10.0.0.5:5064, [::1]:5064"). 0, or -1
 * with why[] filled; nothing is added on -1. Host names are refused (an address check must
 * not depend on DNS). */
int addr_match_add(struct addr_match_list *l, const char *s, char *why, size_t why_cap);
bool addr_match_has(const struct addr_match_list *l, const struct sockaddr *sa);

#endif
