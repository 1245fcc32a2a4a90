/* The digest arithmetic against RFC 7616 §3.9.1's example (MD5 and SHA-256), the subscriber
 * list parser, and the nonce lifetime and replay table. */
#include <stdio.h>
#include <string.h>

#include "common/digest.h"
#include "common/nonce.h"
#include "common/subscribers.h"
#include "unit.h"

/* RFC 7616 §3.9.1: user Mufasa, password "Circle of Life", realm http-auth@example.org,
 * GET /dir/index.html, qop auth, nc 00000001. */
#define R_NONCE "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
#define R_CNONCE "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"

UNIT_TEST(rfc7616_vectors)
{
	char ha1[DIGEST_HEX_MAX + 1], r[DIGEST_HEX_MAX + 1];
	CHECK_EQ_INT(digest_ha1(DIGEST_MD5, "Mufasa", "http-auth@example.org", "Circle of Life", ha1), 0);
	CHECK_EQ_INT(digest_response(DIGEST_MD5, ha1, R_NONCE, "00000001", R_CNONCE, "auth", "GET",
				     "/dir/index.html", r), 0);
	CHECK_STR(r, "8ca523f5e9506fed4657c9700eebdbec");
	CHECK_EQ_INT(digest_ha1(DIGEST_SHA256, "Mufasa", "http-auth@example.org", "Circle of Life", ha1), 0);
	CHECK_EQ_INT(digest_response(DIGEST_SHA256, ha1, R_NONCE, "00000001", R_CNONCE, "auth", "GET",
				     "/dir/index.html", r), 0);
	CHECK_STR(r, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
	CHECK(digest_hex_equal(r, "753927FA0E85D155564E2E272A28D1802CA10DAF4496794697CF8DB5856CB6C1"));
	CHECK(!digest_hex_equal(r, "753927fa"));
	enum digest_alg a;
	CHECK(digest_alg_parse("sha-256", &a) == 0 && a == DIGEST_SHA256);
	CHECK(digest_alg_parse(NULL, &a) == 0 && a == DIGEST_MD5);
	CHECK(digest_alg_parse("SHA-512-256", &a) < 0);
}

UNIT_TEST(subscriber_list)
{
	const char *f = "# users\r\n\n  alice@CPM.test  pw-a \nbob@cpm.test md5:0123456789ABCDEF0123456789abcdef\n";
	struct subscribers *s;
	char err[200], ha1[DIGEST_HEX_MAX + 1];
	CHECK_EQ_INT(subscribers_parse(&s, f, strlen(f), err, sizeof err), 0);
	CHECK_EQ_INT(subscribers_count(s), 2);
	const struct subscriber *u = subscribers_find(s, "alice", "cpm.TEST");
	CHECK(u && u->kind == SUB_PLAIN);
	CHECK(!subscribers_find(s, "Alice", "cpm.test")); /* the user part is exact */
	CHECK_EQ_INT(subscriber_ha1(u, DIGEST_SHA256, ha1), 0);
	u = subscribers_find(s, "bob", "cpm.test");
	CHECK(u && u->kind == SUB_HA1_MD5);
	CHECK_EQ_INT(subscriber_ha1(u, DIGEST_SHA256, ha1), -1);
	CHECK_EQ_INT(subscriber_ha1(u, DIGEST_MD5, ha1), 0);
	CHECK_STR(ha1, "0123456789abcdef0123456789abcdef");
	subscribers_free(s);

	static const char *bad[] = {"alice@cpm.test\n", "alice cpm.test pw\n", "alice@cpm.test pw extra\n",
				    "alice@cpm.test md5:12\n", "a:b@cpm.test pw\n", "alice@bad!domain pw\n",
				    "a@cpm.test x\na@cpm.test y\n"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CHECK(subscribers_parse(&s, bad[i], strlen(bad[i]), err, sizeof err) == -1 && s == NULL);
	CHECK(strstr(err, "listed twice"));
}

UNIT_TEST(empty_subscriber_list)
{
	/* an empty file is a legal list (nobody may log in yet): under UBSan, qsort/bsearch of
	 * NULL made every cpmd started with an empty --users abort (auth/t_* in the ASan pass) */
	const char *f = "# nobody yet\n";
	struct subscribers *s;
	char err[200];
	CHECK_EQ_INT(subscribers_parse(&s, f, strlen(f), err, sizeof err), 0);
	CHECK_EQ_INT(subscribers_count(s), 0);
	CHECK(!subscribers_find(s, "alice", "cpm.test"));
	subscribers_free(s);
	CHECK_EQ_INT(subscribers_parse(&s, "", 0, err, sizeof err), 0);
	CHECK(!subscribers_find(s, "alice", "cpm.test"));
	subscribers_free(s);
}

UNIT_TEST(nonce_lifetime_and_replay)
{
	struct nonce_state *st;
	char n[NONCE_LEN + 1];
	CHECK_EQ_INT(nonce_state_create(&st, 300), 0);
	nonce_make(st, 1000, n);
	CHECK_EQ_INT(nonce_check(st, n, "00000001", 1000), NONCE_OK);
	nonce_use(st, n, "00000001");
	CHECK_EQ_INT(nonce_check(st, n, "00000001", 1001), NONCE_STALE); /* replayed */
	CHECK_EQ_INT(nonce_check(st, n, "00000002", 1001), NONCE_OK);    /* next count */
	CHECK_EQ_INT(nonce_check(st, n, "00000002", 1301), NONCE_STALE); /* too old */
	CHECK_EQ_INT(nonce_check(st, n, "0000002", 1001), NONCE_BAD);
	n[70 - 10] ^= 1; /* one bit of the MAC */
	CHECK_EQ_INT(nonce_check(st, n, "00000002", 1001), NONCE_BAD);
	nonce_make(st, 1000, n);
	CHECK_EQ_INT(nonce_check(st, n, NULL, 1000), NONCE_OK); /* no qop: once */
	nonce_use(st, n, NULL);
	CHECK_EQ_INT(nonce_check(st, n, NULL, 1000), NONCE_STALE);
	nonce_state_destroy(st);
}

UNIT_MAIN(T(rfc7616_vectors), T(subscriber_list), T(empty_subscriber_list), T(nonce_lifetime_and_replay))
