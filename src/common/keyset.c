/* String keys with holders in a growing chained hash (keyset.h). */
#include "common/keyset.h"
#include "common/str_hash.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KEYSET_FIRST_BUCKETS 64 /* power of two */

struct keyset {
	struct keyset_key **buckets;
	size_t nbuckets; /* a power of two */
	size_t nkeys;
};


struct keyset *keyset_new(void)
{
	struct keyset *s = calloc(1, sizeof *s);
	if (s && !(s->buckets = calloc(KEYSET_FIRST_BUCKETS, sizeof *s->buckets))) {
		free(s);
		return NULL;
	}
	if (s)
		s->nbuckets = KEYSET_FIRST_BUCKETS;
	return s;
}

void keyset_free(struct keyset *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nbuckets; i++)
		for (struct keyset_key *k = s->buckets[i], *next; k; k = next) {
			next = k->next;
			free(k);
		}
	free(s->buckets);
	free(s);
}

static struct keyset_key **slot(const struct keyset *s, const char *key)
{
	struct keyset_key **pp = &s->buckets[str_hash(key) & (s->nbuckets - 1)];
	while (*pp && strcmp((*pp)->key, key))
		pp = &(*pp)->next;
	return pp;
}

/* Twice the buckets. Out of memory, the chains only get longer: nothing fails. */
static void grow(struct keyset *s)
{
	size_t n = s->nbuckets * 2;
	struct keyset_key **b = calloc(n, sizeof *b);
	if (!b)
		return;
	for (size_t i = 0; i < s->nbuckets; i++)
		for (struct keyset_key *k = s->buckets[i], *next; k; k = next) {
			size_t j = str_hash(k->key) & (n - 1);
			next = k->next;
			k->next = b[j];
			b[j] = k;
		}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = n;
}

struct keyset_key *keyset_hold(struct keyset *s, const char *key)
{
	struct keyset_key **pp = slot(s, key);
	if (*pp) {
		(*pp)->refs++;
		return *pp;
	}
	size_t len = strlen(key);
	struct keyset_key *k = calloc(1, sizeof *k + len + 1);
	if (!k)
		return NULL;
	memcpy(k->key, key, len + 1);
	k->refs = 1;
	*pp = k;
	if (++s->nkeys > s->nbuckets)
		grow(s);
	return k;
}

void keyset_drop(struct keyset *s, struct keyset_key *k)
{
	if (!k || --k->refs)
		return;
	struct keyset_key **pp = slot(s, k->key);
	*pp = k->next;
	s->nkeys--;
	free(k);
}

struct keyset_key *keyset_find(const struct keyset *s, const char *key)
{
	return *slot(s, key);
}

size_t keyset_size(const struct keyset *s)
{
	return s->nkeys;
}
