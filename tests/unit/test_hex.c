/* lib/util/hex.c: the one hex codec. */
#include "cpm/hex.h"
#include "unit.h"

#include <stdint.h>

static const uint8_t bytes[] = {0x00, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff, 0x10};

UNIT_TEST(encode_cases_and_separator)
{
	char b[32];

	CHECK_EQ_INT(cpm_hex_encode(b, sizeof b, bytes, sizeof bytes, CPM_HEX_LOWER, '\0'), 16);
	CHECK_STR(b, "007f80abcdefff10");
	CHECK_EQ_INT(cpm_hex_encode(b, sizeof b, bytes, sizeof bytes, CPM_HEX_UPPER, '\0'), 16);
	CHECK_STR(b, "007F80ABCDEFFF10");
	CHECK_EQ_INT(cpm_hex_encode(b, sizeof b, bytes, 3, CPM_HEX_UPPER, ':'), 8);
	CHECK_STR(b, "00:7F:80");
	CHECK_EQ_INT(cpm_hex_encode(b, sizeof b, bytes, 1, CPM_HEX_UPPER, ':'), 2);
	CHECK_STR(b, "00");
	CHECK_EQ_INT(cpm_hex_encode(b, sizeof b, bytes, 0, CPM_HEX_UPPER, ':'), 0);
	CHECK_STR(b, "");
	CHECK_EQ_INT(cpm_hex_len(0, ':'), 0);
	CHECK_EQ_INT(cpm_hex_len(20, ':'), 59);
	CHECK_EQ_INT(cpm_hex_len(20, '\0'), 40);
}

UNIT_TEST(encode_bounds)
{
	char b[16];

	memset(b, '#', sizeof b);
	CHECK_EQ_INT(cpm_hex_encode(b, 5, bytes, 2, CPM_HEX_LOWER, '\0'), 4); /* exact: 4 + NUL */
	CHECK_STR(b, "007f");
	CHECK(b[5] == '#');
	memset(b, '#', sizeof b);
	CHECK_EQ_INT(cpm_hex_encode(b, 4, bytes, 2, CPM_HEX_LOWER, '\0'), -1);
	CHECK_STR(b, ""); /* never a truncated encoding */
	CHECK_EQ_INT(cpm_hex_encode(b, 5, bytes, 2, CPM_HEX_LOWER, ':'), -1); /* 5 chars + NUL */
	CHECK_EQ_INT(cpm_hex_encode(b, 6, bytes, 2, CPM_HEX_LOWER, ':'), 5);
	CHECK_EQ_INT(cpm_hex_encode(b, 1, bytes, 0, CPM_HEX_LOWER, '\0'), 0);
	CHECK_EQ_INT(cpm_hex_encode(b, 0, bytes, 0, CPM_HEX_LOWER, '\0'), -1);
	CHECK_EQ_INT(cpm_hex_encode(b, sizeof b, bytes, SIZE_MAX / 2, CPM_HEX_LOWER, ':'), -1);
}

UNIT_TEST(write_unbounded_no_nul)
{
	char b[8];

	memset(b, '#', sizeof b);
	CHECK_EQ_INT(cpm_hex_write(b, bytes + 3, 2, CPM_HEX_UPPER, '-'), 5);
	CHECK(memcmp(b, "AB-CD##", 7) == 0);
}

UNIT_TEST(byte_and_digit)
{
	char d[2];

	cpm_hex_byte(d, 0x9e, CPM_HEX_UPPER);
	CHECK(d[0] == '9' && d[1] == 'E');
	cpm_hex_byte(d, 0x9e, CPM_HEX_LOWER);
	CHECK(d[0] == '9' && d[1] == 'e');
	for (int c = 0; c < 256; c++) {
		int want = c >= '0' && c <= '9' ? c - '0'
			 : c >= 'a' && c <= 'f' ? c - 'a' + 10
			 : c >= 'A' && c <= 'F' ? c - 'A' + 10
						: -1;
		CHECK_EQ_INT(cpm_hex_digit((unsigned char)c), want);
	}
}

static int dec(const char *s, char sep, uint8_t *out, size_t cap)
{
	return cpm_hex_decode(out, cap, s, strlen(s), sep);
}

UNIT_TEST(decode_strict)
{
	uint8_t o[8];

	CHECK_EQ_INT(dec("007f80AbCdEf", '\0', o, sizeof o), 6);
	CHECK(o[0] == 0 && o[1] == 0x7f && o[2] == 0x80 && o[3] == 0xab && o[5] == 0xef);
	CHECK_EQ_INT(dec("", '\0', o, sizeof o), 0);
	CHECK_EQ_INT(dec("", ':', o, 0), 0);
	CHECK_EQ_INT(dec("0", '\0', o, sizeof o), -1);          /* odd */
	CHECK_EQ_INT(dec("abc", '\0', o, sizeof o), -1);
	CHECK_EQ_INT(dec("0g", '\0', o, sizeof o), -1);
	CHECK_EQ_INT(dec(" 00", '\0', o, sizeof o), -1);
	CHECK_EQ_INT(dec("00:11", '\0', o, sizeof o), -1);      /* separator not expected */
	CHECK_EQ_INT(dec("0011223344556677", '\0', o, 8), 8);    /* exactly cap */
	CHECK_EQ_INT(dec("001122334455667788", '\0', o, 8), -1); /* one too many */
	CHECK_EQ_INT(cpm_hex_decode(o, sizeof o, "0a\0b", 4, '\0'), -1); /* NUL inside */
}

UNIT_TEST(decode_separator)
{
	uint8_t o[4];

	CHECK_EQ_INT(dec("DE:ad:BE:ef", ':', o, sizeof o), 4);
	CHECK(o[0] == 0xde && o[1] == 0xad && o[2] == 0xbe && o[3] == 0xef);
	CHECK_EQ_INT(dec("de", ':', o, sizeof o), 1);
	CHECK_EQ_INT(dec("de:", ':', o, sizeof o), -1);     /* trailing */
	CHECK_EQ_INT(dec(":de", ':', o, sizeof o), -1);     /* leading */
	CHECK_EQ_INT(dec("de::ad", ':', o, sizeof o), -1);  /* doubled */
	CHECK_EQ_INT(dec("dead", ':', o, sizeof o), -1);    /* missing */
	CHECK_EQ_INT(dec("de-ad", ':', o, sizeof o), -1);   /* another one */
	CHECK_EQ_INT(dec("d:ea:d0", ':', o, sizeof o), -1); /* one digit */
	CHECK_EQ_INT(dec("de:ad:be:ef:00", ':', o, sizeof o), -1); /* over cap */
}

UNIT_TEST(round_trip_every_byte)
{
	uint8_t in[256], back[256];
	char text[3 * 256];

	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	for (int up = 0; up < 2; up++) {
		for (int s = 0; s < 2; s++) {
			char sep = s ? ':' : '\0';
			int n = cpm_hex_encode(text, sizeof text, in, 256, up ? CPM_HEX_UPPER : CPM_HEX_LOWER, sep);
			CHECK_EQ_INT(n, (int)cpm_hex_len(256, sep));
			CHECK_EQ_INT(cpm_hex_decode(back, sizeof back, text, (size_t)n, sep), 256);
			CHECK(memcmp(in, back, 256) == 0);
		}
	}
}

UNIT_MAIN(T(encode_cases_and_separator), T(encode_bounds), T(write_unbounded_no_nul), T(byte_and_digit),
	  T(decode_strict), T(decode_separator), T(round_trip_every_byte))
