/* The hash of cpmd's in-memory indexes keyed by a string (a user's AOR, an item id): FNV-1a,
 * 32 bits; an index takes the low bits (a power-of-two bucket count). One function, so that
 * every index of the kind (push devices, deliveries, retries, ...) hashes alike. Keys come from
 * peers, so a chain can be made long on purpose only by a user with many keys of their own;
 * the caps on users, devices and deliveries bound that. */
#ifndef CPM_COMMON_STR_HASH_H
#define CPM_COMMON_STR_HASH_H

#include <stdint.h>

static inline uint32_t str_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		h = (h ^ *c) * 16777619u;
	return h;
}

#endif
