/* lib/util/random.c: the one random source. Randomness itself is the
 * kernel's; these check the shapes, the bounds, and a coarse uniformity of
 * the alphanumeric draw (the rejection step). */
#include "cpm/random.h"
#include "unit.h"

#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

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

UNIT_TEST(small_draws_never_repeat)
{
	/* small requests come from the per-thread pool: across refills no id comes back */
	static char ids[4096][17];

	for (int i = 0; i < 4096; i++)
		cpm_random_alnum(ids[i], 16);
	for (int i = 1; i < 4096; i++)
		CHECK(strcmp(ids[i], ids[i - 1]) != 0 && strcmp(ids[i], ids[0]) != 0);
}

UNIT_TEST(fork_child_does_not_repeat_parent)
{
	/* the pool holds bytes drawn before fork(): the child must not hand out the parent's next ones */
	uint8_t mine[16], theirs[16];
	int fds[2];
	pid_t pid;

	cpm_random_bytes(mine, 4); /* the pool is filled now */
	CHECK(pipe(fds) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		uint8_t b[16];
		cpm_random_bytes(b, sizeof b);
		_exit(write(fds[1], b, sizeof b) == (ssize_t)sizeof b ? 0 : 1);
	}
	cpm_random_bytes(mine, sizeof mine);
	CHECK(read(fds[0], theirs, sizeof theirs) == (ssize_t)sizeof theirs);
	waitpid(pid, NULL, 0);
	close(fds[0]);
	close(fds[1]);
	CHECK(memcmp(mine, theirs, sizeof mine) != 0);
}

UNIT_MAIN(T(bytes_fill_everything), T(hex_shape), T(alnum_shape_and_uniformity), T(small_draws_never_repeat),
	  T(fork_child_does_not_repeat_parent))
