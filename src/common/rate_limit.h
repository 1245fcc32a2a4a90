/* rate_limit — new requests per second per key (a source address, a user), as token
 * buckets in a fixed table (issue 10 §4, docs/security.md: --max-request-rate).
 *
 * Each key may take `rate` requests a second on average and `2 * rate` at once (a device that
 * registers, subscribes and sends right after start-up must not be refused). Pure: the caller
 * passes the time; no allocation after rate_limit_init.
 *
 * Bounded memory whatever the peers send: RATE_LIMIT_SLOTS keys are tracked. A key that finds
 * no slot among its RATE_LIMIT_PROBE candidates takes the one idle the longest; the evicted key
 * starts again with a full bucket, which only ever favours it: an attacker who rotates keys
 * to evict its own bucket is still bounded by the other key (a user rotating nothing but From
 * is still one source address).
 * THREADING: one caller (the loop thread). */
#ifndef CPMD_COMMON_RATE_LIMIT_H
#define CPMD_COMMON_RATE_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Keys tracked: more than the busy sources and users of one second at any rate we serve
 * (~6,000 requests/s measured); 8192 x ~300 bytes = 2.4 MiB. */
#define RATE_LIMIT_SLOTS 8192
/* Slots a key may use (linear probing): a short walk per request. */
#define RATE_LIMIT_PROBE 8
/* A key: "user@host" (LOC_MAX_AOR) or an address text; longer ones are cut (still a key). */
#define RATE_LIMIT_KEY_MAX 256

struct rate_slot {
	char key[RATE_LIMIT_KEY_MAX];
	uint64_t last_ms;      /* last refill */
	uint32_t tokens_milli; /* tokens x 1000 */
	bool used;
};

struct rate_limit {
	unsigned rate;        /* requests per second; 0 = no limit */
	struct rate_slot *slots;
};

/* rate 0: every take succeeds and nothing is allocated. 0, or -1 (out of memory). */
int rate_limit_init(struct rate_limit *r, unsigned rate);
void rate_limit_free(struct rate_limit *r);
/* May `key` make one more request at now_ms? true: yes, and one token is spent. */
bool rate_limit_take(struct rate_limit *r, const char *key, uint64_t now_ms);

#endif
