/* lib/util/random.c: the one random source. Randomness itself is the
 * kernel's; these check the shapes, the bounds, and a coarse uniformity of
 * the alphanumeric draw (the rejection step). */
#include "cpm/random.h"
#include "unit.h"

#include <stdint.h>

UNIT_TEST(bytes_fill_everything)
{
	/* all of a large buffer is written: no byte keeps its marker value in
	 * every one of several draws */
	static uint8_t a[200000], seen[200000];

	memset(seen, 0, sizeof seen);
	for (int round = 0; round < 4; round++) {
		memset(a, 0, sizeof a);
		cpm_random_bytes(a, sizeof a);
		for (size_t i = 0; i < sizeof a; i++)
			seen[i] |= a[i];
	}
	for (size_t i = 0; i < sizeof seen; i++)
		CHECK(seen[i] != 0); /* p = 2^-32 per byte */
	cpm_random_bytes(a, 0);
	cpm_random_bytes(NULL, 0);
}

UNIT_TEST(hex_shape)
{
	char a[2 * 100 + 2], b[33];

	memset(a, '#', sizeof a);
	cpm_random_hex(a, 100);
	CHECK_EQ_INT(strlen(a), 200);
	CHECK_EQ_INT(strspn(a, "0123456789abcdef"), 200);
	CHECK(a[201] == '#');
	cpm_random_hex(b, 16); /* a store item id */
	CHECK_EQ_INT(strlen(b), 32);
	CHECK(strcmp(a, b) != 0);
	cpm_random_hex(b, 0);
	CHECK_STR(b, "");
}

UNIT_TEST(alnum_shape_and_uniformity)
{
	static char big[620001];
	static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	unsigned count[256] = {0};
	char a[33], b[33];

	memset(a, '#', sizeof a);
	cpm_random_alnum(a, 0);
	CHECK(a[0] == '\0' && a[1] == '#');
	cpm_random_alnum(a, 32);
	cpm_random_alnum(b, 32);
	CHECK_EQ_INT(strlen(a), 32);
	CHECK_EQ_INT(strspn(a, alnum), 32);
	CHECK(strcmp(a, b) != 0);

	/* 620000 draws: 10000 expected per symbol, sd ~ 99. With the plain
	 * b % 62 (no rejection) the first 8 symbols would get ~ 10323 each. */
	cpm_random_alnum(big, sizeof big - 1);
	CHECK_EQ_INT(strlen(big), sizeof big - 1);
	for (size_t i = 0; i < sizeof big - 1; i++)
		count[(unsigned char)big[i]]++;
	for (int c = 0; c < 256; c++) {
		if (!memchr(alnum, c, 62) || c == 0) {
			CHECK_EQ_INT(count[c], 0);
			continue;
		}
		CHECK(count[c] > 9500 && count[c] < 10500); /* 5 sd */
	}
	unsigned low = 0;
	for (int k = 0; k < 8; k++)
		low += count[(unsigned char)alnum[k]];
	CHECK(low < 8 * 10000 + 1200); /* biased: ~ 82600 */
}

UNIT_MAIN(T(bytes_fill_everything), T(hex_shape), T(alnum_shape_and_uniformity))
