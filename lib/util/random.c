/* The random source (see cpm/random.h for the failure policy and why). */
#include "cpm/random.h"

#include "cpm/hex.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* One line on stderr with write(2) (no stdio: this may run in any state),
 * then abort(). */
static void die(int err)
{
	static const char msg[] = "cpm: getrandom() failed, no safe random ids possible: aborting (errno ";
	char num[16];
	size_t i = sizeof num;
	unsigned v = err > 0 ? (unsigned)err : 0;

	num[--i] = '\n';
	num[--i] = ')';
	do {
		num[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v && i > 0);
	if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0 ||
	    write(STDERR_FILENO, num + i, sizeof num - i) < 0) {
		/* nothing more to do: abort below either way */
	}
	abort();
}

static void random_syscall(void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n) {
		/* a large request comes back short (at most 32 MiB a call): loop */
		ssize_t r = getrandom(p, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			die(errno);
		}
		if (r == 0)
			die(EIO); /* never returned by the kernel; would loop forever */
		p += r;
		n -= (size_t)r;
	}
}

/* Small requests (a tid per relayed chunk, ~12 bytes) are served from a per-thread pool that
 * one getrandom() call refills: a syscall per chunk was one in three of the relay's
 * (docs/BENCHMARKS.md, "Speed (issue 12)"). The pool is per thread, so no lock and no sharing
 * between the relay's event loops; a child of fork() starts with an empty pool (the forking
 * thread is the only one there), or it would repeat its parent's ids. */
#define POOL_SIZE 1024
#define POOL_MAX_REQUEST 64
static __thread struct {
	uint8_t b[POOL_SIZE];
	size_t left; /* unused bytes at the end of b */
} pool;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void pool_forget(void)
{
	explicit_bzero(&pool, sizeof pool);
}

static void atfork_register(void)
{
	(void)pthread_atfork(NULL, NULL, pool_forget);
}

void cpm_random_bytes(void *buf, size_t n)
{
	if (!n)
		return;
	if (n > POOL_MAX_REQUEST) {
		random_syscall(buf, n);
		return;
	}
	if (pool.left < n) {
		pthread_once(&atfork_once, atfork_register);
		random_syscall(pool.b, sizeof pool.b);
		pool.left = sizeof pool.b;
	}
	uint8_t *from = pool.b + sizeof pool.b - pool.left;
	memcpy(buf, from, n);
	explicit_bzero(from, n); /* handed out once: not kept in memory */
	pool.left -= n;
}

void cpm_random_hex(char *out, size_t nbytes)
{
	uint8_t rnd[64];

	while (nbytes) {
		size_t k = nbytes < sizeof rnd ? nbytes : sizeof rnd;

		cpm_random_bytes(rnd, k);
		out += cpm_hex_write(out, rnd, k, CPM_HEX_LOWER, '\0');
		nbytes -= k;
	}
	*out = '\0';
}

void cpm_random_alnum(char *out, size_t len)
{
	static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	uint8_t rnd[64];
	size_t i = 0;

	/* Bytes >= 248 (= 4 * 62) are dropped so that b % 62 is uniform. */
	while (i < len) {
		size_t want = len - i + (len - i) / 16 + 2; /* ~3 % are dropped */

		if (want > sizeof rnd)
			want = sizeof rnd;
		cpm_random_bytes(rnd, want);
		for (size_t k = 0; k < want && i < len; k++)
			if (rnd[k] < 248)
				out[i++] = alnum[rnd[k] % 62];
	}
	out[len] = '\0';
}
