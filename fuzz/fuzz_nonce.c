/* libFuzzer driver for the digest nonce check: a peer's nonce and nonce-count, NUL-split from
 * the input, against a live nonce table; a nonce of ours must pass once with nc 1 and never
 * twice. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/nonce.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nonce_state *st;
	char good[NONCE_LEN + 1];
	if (!st && nonce_state_create(&st, 300))
		abort();
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	const char *nc = memchr(buf, '\0', size) ? buf + strlen(buf) + 1 : NULL;
	if (nc && nc > buf + size)
		nc = NULL;
	nonce_check(st, buf, nc, 1000);
	nonce_use(st, buf, nc);
	nonce_make(st, 1000, good);
	if (nonce_check(st, good, "00000001", 1000) != NONCE_OK)
		__builtin_trap();
	nonce_use(st, good, "00000001");
	if (nonce_check(st, good, "00000001", 1000) == NONCE_OK)
		__builtin_trap();
	free(buf);
	return 0;
}
