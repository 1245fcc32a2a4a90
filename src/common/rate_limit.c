/* Token buckets in a fixed table (rate_limit.h). */
#include "common/rate_limit.h"
#include "common/str_hash.h"

#include <stdlib.h>
#include <string.h>

int rate_limit_init(struct rate_limit *r, unsigned rate)
{
	memset(r, 0, sizeof *r);
	r->rate = rate;
	if (!rate)
		return 0;
	r->slots = calloc(RATE_LIMIT_SLOTS, sizeof *r->slots);
	return r->slots ? 0 : -1;
}

void rate_limit_free(struct rate_limit *r)
{
	free(r->slots);
	r->slots = NULL;
}

static size_t hash(const char *k)
{
	return (size_t)(str_hash(k) % RATE_LIMIT_SLOTS);
}

bool rate_limit_take(struct rate_limit *r, const char *key, uint64_t now_ms)
{
	if (!r->rate || !r->slots)
		return true;
	char k[RATE_LIMIT_KEY_MAX];
	size_t n = strlen(key);
	if (n >= sizeof k)
		n = sizeof k - 1;
	memcpy(k, key, n);
	k[n] = '\0';

	uint64_t cap = 2ull * r->rate * 1000; /* burst: two seconds' worth */
	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	size_t h = hash(k);
	struct rate_slot *s = NULL, *oldest = NULL;
	for (size_t i = 0; i < RATE_LIMIT_PROBE; i++) {
		struct rate_slot *c = &r->slots[(h + i) % RATE_LIMIT_SLOTS];
		if (c->used && !strcmp(c->key, k)) {
			s = c;
			break;
		}
		if (!oldest || !c->used || (oldest->used && c->last_ms < oldest->last_ms))
			oldest = c;
	}
	if (!s) { /* a new key, or one evicted: a full bucket */
		s = oldest;
		memcpy(s->key, k, n + 1);
		s->used = true;
		s->last_ms = now_ms;
		s->tokens_milli = (uint32_t)cap;
	}
	if (now_ms > s->last_ms) { /* refill: rate tokens a second, i.e. rate milli-tokens a ms */
		uint64_t t = s->tokens_milli + (now_ms - s->last_ms) * r->rate;
		s->tokens_milli = (uint32_t)(t > cap ? cap : t);
		s->last_ms = now_ms;
	}
	if (s->tokens_milli < 1000)
		return false;
	s->tokens_milli -= 1000;
	return true;
}
