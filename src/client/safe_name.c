/* Safe local file names: see safe_name.h. */
#include "safe_name.h"

#include <stdio.h>
#include <string.h>

/* Start of the extension (the last '.', not at position 0), or len. */
static size_t ext_start(const char *s, size_t len)
{
	for (size_t i = len; i > 1; i--)
		if (s[i - 1] == '.')
			return i - 1;
	return len;
}

/* Largest cut <= want that does not split a UTF-8 sequence of s. */
static size_t utf8_cut(const char *s, size_t want)
{
	while (want > 0 && ((unsigned char)s[want] & 0xC0) == 0x80)
		want--;
	return want;
}

size_t safe_name(char *out, size_t cap, const char *in, size_t len)
{
	char tmp[SAFE_NAME_MAX * 8]; /* working copy; longer input is cut below anyway */
	size_t n = 0;

	if (cap < SAFE_NAME_MAX + 1)
		return 0;
	if (!in)
		len = 0;
	/* basename: after the last '/' or '\' */
	size_t from = 0;
	for (size_t i = 0; i < len; i++)
		if (in[i] == '/' || in[i] == '\\')
			from = i + 1;
	/* drop control bytes; keep at most the last sizeof tmp bytes' worth from
	 * the front (the extension is re-attached from the true end below) */
	size_t ext_pos_in = from + ext_start(in + from, len - from);
	size_t ext_len = len - ext_pos_in;
	if (ext_len > SAFE_NAME_EXT_MAX)
		ext_len = 0, ext_pos_in = len;
	for (size_t i = from; i < ext_pos_in && n < sizeof tmp - 1; i++) {
		unsigned char ch = (unsigned char)in[i];
		if (ch < 0x20 || ch == 0x7f)
			continue;
		tmp[n++] = (char)ch;
	}
	size_t base_len = n;
	char ext[SAFE_NAME_EXT_MAX + 1];
	size_t e = 0;
	for (size_t i = ext_pos_in; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];
		if (ch < 0x20 || ch == 0x7f)
			continue;
		ext[e++] = (char)ch;
	}
	ext[e] = '\0';
	if (e == 1) /* a lone trailing "." is not an extension worth keeping apart */
		tmp[base_len++] = '.', e = 0, ext[0] = '\0';

	/* shorten the base so that base + ext fits */
	if (base_len + e > SAFE_NAME_MAX) {
		size_t want = SAFE_NAME_MAX - e;
		base_len = utf8_cut(tmp, want);
	}
	memcpy(out, tmp, base_len);
	memcpy(out + base_len, ext, e);
	n = base_len + e;
	out[n] = '\0';

	if (n == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0) {
		strcpy(out, "file");
		return 4;
	}
	if (out[0] == '.')
		out[0] = '_';
	return n;
}

size_t safe_name_numbered(char *out, size_t cap, const char *name, unsigned n)
{
	size_t len = strlen(name);
	if (n == 0) {
		if (len + 1 > cap)
			return 0;
		memcpy(out, name, len + 1);
		return len;
	}
	size_t dot = ext_start(name, len);
	char num[16];
	int nl = snprintf(num, sizeof num, " (%u)", n);
	if (nl < 0 || len + (size_t)nl + 1 > cap)
		return 0;
	/* base, " (n)", extension: assembled by hand so that truncation is
	 * impossible rather than merely detected */
	memcpy(out, name, dot);
	memcpy(out + dot, num, (size_t)nl);
	memcpy(out + dot + (size_t)nl, name + dot, len - dot);
	out[len + (size_t)nl] = '\0';
	return len + (size_t)nl;
}
