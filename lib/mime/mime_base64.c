/* Base64 (RFC 2045 §6.8) for thumbnail parts. Hand-written rather than
 * EVP_DecodeBlock: that one cannot skip line breaks and reports padding
 * bytes as data, and the code is short. */
#include "cpm/mime.h"

#include <limits.h>

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int mime_base64_encode(char *out, size_t cap, const uint8_t *in, size_t len)
{
	size_t need, o = 0, i = 0;

	if (len > (INT_MAX / 4 - 1) * 3)
		return -1;
	need = (len + 2) / 3 * 4;
	if (need >= cap)
		return -1;
	for (; len - i >= 3; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[v >> 12 & 63];
		out[o++] = b64_alphabet[v >> 6 & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (len - i) {
		uint32_t v = (uint32_t)in[i] << 16 | (len - i == 2 ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[v >> 12 & 63];
		out[o++] = len - i == 2 ? b64_alphabet[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return (int)o;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static bool b64_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Whitespace anywhere is skipped. '=' may only end the data: after it only
 * more '=' (up to a full quantum) and whitespace. A final quantum without
 * padding is accepted (some senders strip it); one lone character is not. */
int mime_base64_decode(uint8_t *out, size_t cap, struct cpm_str in)
{
	uint32_t acc = 0;
	size_t o = 0, q = 0, pad = 0;

	if (in.len && !in.p)
		return -1;
	if (cap > INT_MAX)
		cap = INT_MAX;
	for (size_t i = 0; i < in.len; i++) {
		unsigned char c = (unsigned char)in.p[i];
		int v;

		if (b64_space((char)c))
			continue;
		if (c == '=') {
			if (q < 2 || q + pad >= 4)
				return -1;
			pad++;
			continue;
		}
		if (pad || (v = b64_value(c)) < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		if (++q < 4)
			continue;
		if (cap - o < 3)
			return -1;
		out[o++] = (uint8_t)(acc >> 16);
		out[o++] = (uint8_t)(acc >> 8);
		out[o++] = (uint8_t)acc;
		q = 0;
		acc = 0;
	}
	if (q == 1 || (pad && q + pad != 4))
		return -1;
	if (q >= 2) {
		size_t n = q - 1;       /* 2 chars -> 1 byte, 3 chars -> 2 bytes */
		if (cap - o < n)
			return -1;
		acc <<= 6 * (4 - q);
		out[o++] = (uint8_t)(acc >> 16);
		if (n == 2)
			out[o++] = (uint8_t)(acc >> 8);
	}
	return (int)o;
}
