/* The one hex codec: bytes <-> hex digits, optionally with a separator
 * between byte pairs (RFC 5547 hash "72:24:5F:..."). Every hex digit the
 * project writes or reads goes through here (percent-escapes included, via
 * cpm_hex_byte / cpm_hex_digit), so there is one table of digits.
 * Pure code: no allocation, no I/O. */
#ifndef CPM_HEX_H
#define CPM_HEX_H

#include <stddef.h>
#include <stdint.h>

enum cpm_hex_case { CPM_HEX_LOWER, CPM_HEX_UPPER };

/* Characters cpm_hex_encode writes for n bytes (NUL not counted): 2n, or
 * 3n - 1 with a separator; 0 for n == 0. */
static inline size_t cpm_hex_len(size_t n, char sep)
{
	return n == 0 ? 0 : sep ? 3 * n - 1 : 2 * n;
}

/* Encode in[0..n) into out (NUL-terminated): two digits per byte in the
 * given case, `sep` between bytes ('\0': none). Returns the length
 * (cpm_hex_len), or -1 when it does not fit in cap with its NUL or exceeds
 * INT_MAX; then out is "" if cap > 0 (never a truncated encoding). */
int cpm_hex_encode(char *out, size_t cap, const void *in, size_t n, enum cpm_hex_case c, char sep);

/* The same without bounds check and without NUL: writes exactly
 * cpm_hex_len(n, sep) characters to out (the caller made room) and returns
 * that number. For writers that checked their space already (cpm_wbuf). */
size_t cpm_hex_write(char *out, const void *in, size_t n, enum cpm_hex_case c, char sep);

/* Decode exactly in[0..len) into out[0..cap): pairs of hex digits (either
 * case), with `sep` ('\0': none) exactly once between two pairs and nowhere
 * else. Strict: an odd digit, any other character, a leading, trailing or
 * doubled separator, or more than cap bytes is -1. Returns the number of
 * bytes (0 for empty input; callers that need a length check it). out may
 * be partly written on error. */
int cpm_hex_decode(void *out, size_t cap, const char *in, size_t len, char sep);

/* The two digits of one byte (out[0] high nibble, out[1] low), no NUL. */
void cpm_hex_byte(char out[2], uint8_t b, enum cpm_hex_case c);

/* Value of one hex digit (either case), or -1. */
int cpm_hex_digit(unsigned char c);

#endif
