/* keyset: string keys with holders (the indexes pf keeps beside its lists). */
#include <stdio.h>

#include "common/keyset.h"
#include "unit.h"

UNIT_TEST(hold_find_drop)
{
	struct keyset *s = keyset_new();
	CHECK(s);
	CHECK(!keyset_find(s, "a@x"));
	struct keyset_key *a = keyset_hold(s, "a@x");
	CHECK(a && a->refs == 1 && a->n == 0);
	CHECK_STR(a->key, "a@x");
	CHECK(keyset_hold(s, "a@x") == a); /* a second holder: the same key */
	CHECK_EQ_INT(a->refs, 2);
	CHECK(keyset_find(s, "a@x") == a);
	CHECK(!keyset_find(s, "a@y"));
	CHECK(!keyset_find(s, ""));
	CHECK_EQ_INT(keyset_size(s), 1);
	keyset_drop(s, a);
	CHECK(keyset_find(s, "a@x") == a); /* one holder left */
	keyset_drop(s, a);
	CHECK(!keyset_find(s, "a@x")); /* gone with the last one */
	CHECK_EQ_INT(keyset_size(s), 0);
	keyset_drop(s, NULL);
	keyset_free(s);
	keyset_free(NULL);
}

/* Many keys (the table grows several times), every one found, then dropped in another order. */
UNIT_TEST(many_keys)
{
	enum { N = 20000 };
	static struct keyset_key *held[N];
	char k[32];
	struct keyset *s = keyset_new();
	CHECK(s);
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof k, "user%d@example.com", i);
		CHECK((held[i] = keyset_hold(s, k)) != NULL);
		held[i]->n = (size_t)i;
	}
	CHECK_EQ_INT(keyset_size(s), N);
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof k, "user%d@example.com", i);
		CHECK(keyset_find(s, k) == held[i] && held[i]->n == (size_t)i);
	}
	for (int i = 1; i < N; i += 2)
		keyset_drop(s, held[i]);
	CHECK_EQ_INT(keyset_size(s), N / 2);
	for (int i = 0; i < N; i++) {
		snprintf(k, sizeof k, "user%d@example.com", i);
		CHECK((keyset_find(s, k) != NULL) == (i % 2 == 0));
	}
	keyset_free(s); /* with the even keys still held */
}

UNIT_MAIN(T(hold_find_drop), T(many_keys))
