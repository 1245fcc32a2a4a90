/* The hash of every in-memory index of cpmd keyed by a string or a byte string (users' AORs,
 * item ids, MSRP session ids, rate-limit keys, ...): FNV-1a, 64 bits; an index takes the low
 * bits (a power-of-two bucket count) or a modulo. One function, so that every index hashes
 * alike (there were seven copies). Keys chosen by peers can collide only as far as the caps on
 * users, devices and deliveries let one peer own keys. */
#ifndef CPM_COMMON_STR_HASH_H
#define CPM_COMMON_STR_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t mem_hash(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 1099511628211ULL;
	return h;
}

static inline uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		h = (h ^ *c) * 1099511628211ULL;
	return h;
}

#endif
