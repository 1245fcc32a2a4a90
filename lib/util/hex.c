/* The hex codec (see cpm/hex.h). */
#include "cpm/hex.h"

#include <limits.h>

static const char digits[2][16] = {
	{'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'},
	{'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'},
};

void cpm_hex_byte(char out[2], uint8_t b, enum cpm_hex_case c)
{
	const char *d = digits[c == CPM_HEX_UPPER];

	out[0] = d[b >> 4];
	out[1] = d[b & 15];
}

int cpm_hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t cpm_hex_write(char *out, const void *in, size_t n, enum cpm_hex_case c, char sep)
{
	const uint8_t *b = in;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (sep && i)
			out[o++] = sep;
		cpm_hex_byte(out + o, b[i], c);
		o += 2;
	}
	return o;
}

int cpm_hex_encode(char *out, size_t cap, const void *in, size_t n, enum cpm_hex_case c, char sep)
{
	/* 3n - 1 must neither wrap nor pass INT_MAX */
	if (n > (size_t)INT_MAX / 3 || cpm_hex_len(n, sep) >= cap) {
		if (cap)
			out[0] = '\0';
		return -1;
	}
	size_t len = cpm_hex_write(out, in, n, c, sep);
	out[len] = '\0';
	return (int)len;
}

int cpm_hex_decode(void *out, size_t cap, const char *in, size_t len, char sep)
{
	uint8_t *b = out;
	size_t n = 0, step = sep ? 3 : 2;

	if (len == 0)
		return 0;
	/* 2 digits, then (sep?) 2 digits ...: len is 2 + k * step */
	if (len < 2 || (len - 2) % step != 0 || (len - 2) / step + 1 > cap || (len - 2) / step >= INT_MAX)
		return -1;
	for (size_t i = 0; i < len; i += step) {
		int hi = cpm_hex_digit((unsigned char)in[i]), lo = cpm_hex_digit((unsigned char)in[i + 1]);

		if (hi < 0 || lo < 0 || (sep && i + 2 < len && in[i + 2] != sep))
			return -1;
		b[n++] = (uint8_t)(hi << 4 | lo);
	}
	return (int)n;
}
