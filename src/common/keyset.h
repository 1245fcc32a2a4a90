/* keyset — string keys with holders, found by their text in O(1): an index kept beside a list
 * that would otherwise be walked per event (pf: the notifications in flight, the live transfers
 * of each sender). A holder takes its key with keyset_hold and gives it back with keyset_drop;
 * the key is in the set while it has a holder, so the set follows the list exactly when every
 * entry of the list holds its key from the moment it is linked to the moment it is unlinked.
 *
 * A chained FNV-1a hash that doubles when it has as many keys as buckets (msrp_hub's session
 * table does the same): memory follows the most keys held at once, never a configured bound.
 * THREADING: one caller (the loop thread). */
#ifndef CPMD_COMMON_KEYSET_H
#define CPMD_COMMON_KEYSET_H

#include <stddef.h>

struct keyset_key {
	struct keyset_key *next; /* its bucket's chain */
	size_t refs;             /* holders: the key leaves the set with the last one */
	size_t n;                /* the holders' own count (e.g. of those in some state); 0 when added */
	char key[];
};

struct keyset;

struct keyset *keyset_new(void); /* NULL: out of memory */
/* Frees the set and the keys still held (their holders must not drop them after). NULL: nothing. */
void keyset_free(struct keyset *s);
/* One holder more of key (added with refs 1 if it was not there): the key, or NULL when out of
 * memory (then nothing changed). */
struct keyset_key *keyset_hold(struct keyset *s, const char *key);
/* One holder less; the key leaves the set (and is freed) with its last one. NULL: nothing. */
void keyset_drop(struct keyset *s, struct keyset_key *k);
/* The key if it has a holder, else NULL. */
struct keyset_key *keyset_find(const struct keyset *s, const char *key);
size_t keyset_size(const struct keyset *s); /* keys in the set */

#endif
