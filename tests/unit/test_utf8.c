/* lib/util/utf8.c: the UTF-8 decoder of the deferred list and IMDN. */
#include "cpm/utf8.h"
#include "unit.h"

static size_t dec(const char *s, uint32_t *cp)
{
	return cpm_utf8_decode((const unsigned char *)s, strlen(s), cp);
}

UNIT_TEST(valid_sequences)
{
	uint32_t cp;

	CHECK(dec("A", &cp) == 1 && cp == 'A');
	CHECK(cpm_utf8_decode((const unsigned char *)"", 1, &cp) == 1 && cp == 0); /* NUL is ASCII */
	CHECK(dec("\x7f", &cp) == 1 && cp == 0x7f);
	CHECK(dec("\xc2\x80", &cp) == 2 && cp == 0x80);
	CHECK(dec("\xc3\xa9z", &cp) == 2 && cp == 0xe9); /* only the first sequence */
	CHECK(dec("\xdf\xbf", &cp) == 2 && cp == 0x7ff);
	CHECK(dec("\xe0\xa0\x80", &cp) == 3 && cp == 0x800);
	CHECK(dec("\xe2\x80\xae", &cp) == 3 && cp == 0x202e);
	CHECK(dec("\xed\x9f\xbf", &cp) == 3 && cp == 0xd7ff);
	CHECK(dec("\xee\x80\x80", &cp) == 3 && cp == 0xe000);
	CHECK(dec("\xef\xbb\xbf", &cp) == 3 && cp == 0xfeff);
	CHECK(dec("\xf0\x90\x80\x80", &cp) == 4 && cp == 0x10000);
	CHECK(dec("\xf4\x8f\xbf\xbf", &cp) == 4 && cp == 0x10ffff);
}

UNIT_TEST(invalid_sequences)
{
	uint32_t cp;
	const char *bad[] = {
		"\x80", "\xbf",                 /* stray continuation */
		"\xc0\x80", "\xc1\xbf",         /* overlong 2-byte lead */
		"\xe0\x80\x80", "\xe0\x9f\xbf", /* overlong 3-byte */
		"\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf", /* overlong 4-byte */
		"\xed\xa0\x80", "\xed\xbf\xbf", /* surrogates */
		"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\xfe", /* > U+10FFFF, bad leads */
		"\xc3", "\xe2\x80", "\xf0\x90\x80", /* cut short by the end */
		"\xc3z", "\xe2\x80z", "\xf0\x90\x80z", /* cut short by a non-continuation */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_EQ_INT(dec(bad[i], &cp), 0);
	/* len bounds the sequence even when more bytes follow in memory */
	CHECK_EQ_INT(cpm_utf8_decode((const unsigned char *)"\xc3\xa9", 1, &cp), 0);
	CHECK_EQ_INT(cpm_utf8_decode((const unsigned char *)"\xf0\x90\x80\x80", 3, &cp), 0);
}

UNIT_MAIN(T(valid_sequences), T(invalid_sequences))
