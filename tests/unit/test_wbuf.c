/* lib/util/wbuf.c: the bounded writer every builder uses. */
#include "cpm/wbuf.h"
#include "unit.h"

#include <limits.h>

/* Fill with a marker so a write past the end shows. */
static void mark(char *b, size_t n)
{
	memset(b, '#', n);
}

UNIT_TEST(text_fits_exactly)
{
	char b[8];
	struct cpm_wbuf w;

	mark(b, sizeof b);
	w = cpm_wbuf_text(b, 6); /* 5 bytes + NUL */
	cpm_wbuf_puts(&w, "ab");
	cpm_wbuf_putc(&w, 'c');
	cpm_wbuf_put(&w, "de", 2);
	CHECK_EQ_INT(cpm_wbuf_finish(&w), 5);
	CHECK_STR(b, "abcde");
	CHECK(b[6] == '#' && b[7] == '#');

	mark(b, sizeof b);
	w = cpm_wbuf_text(b, 5); /* one byte short: the NUL needs its own */
	cpm_wbuf_puts(&w, "abcde");
	CHECK_EQ_INT(cpm_wbuf_finish(&w), -1);
	CHECK(w.overflow);
	CHECK_STR(b, ""); /* the piece is written whole or not at all */
	CHECK(b[5] == '#');
}

UNIT_TEST(text_overflow_is_sticky)
{
	char b[8];
	struct cpm_wbuf w = cpm_wbuf_text(b, sizeof b);

	cpm_wbuf_puts(&w, "abc");
	cpm_wbuf_puts(&w, "too long!"); /* does not fit */
	cpm_wbuf_puts(&w, "d");         /* would fit, but the result is already bad */
	CHECK(w.overflow);
	CHECK_EQ_INT(w.len, 3);
	CHECK_EQ_INT(cpm_wbuf_finish(&w), -1);
	CHECK_STR(b, "abc"); /* what fit, NUL-terminated */
}

UNIT_TEST(text_size_zero_and_null)
{
	char b[2] = {'#', '#'};
	struct cpm_wbuf w = cpm_wbuf_text(b, 0);

	cpm_wbuf_puts(&w, "");
	CHECK_EQ_INT(cpm_wbuf_finish(&w), -1);
	CHECK(b[0] == '#');
	w = cpm_wbuf_text(NULL, 10);
	CHECK_EQ_INT(cpm_wbuf_finish(&w), -1);
	w = cpm_wbuf_text(b, 1); /* room for "" only */
	cpm_wbuf_put(&w, NULL, 0);
	CHECK_EQ_INT(cpm_wbuf_finish(&w), 0);
	CHECK_STR(b, "");
	cpm_wbuf_putc(&w, 'x');
	CHECK_EQ_INT(cpm_wbuf_finish(&w), -1);
}

UNIT_TEST(raw_uses_every_byte_and_adds_no_nul)
{
	char b[6];
	struct cpm_wbuf w;

	mark(b, sizeof b);
	w = cpm_wbuf_raw(b, 5);
	cpm_wbuf_put_str(&w, CPM_STR_LIT("abcde"));
	cpm_wbuf_put_str(&w, CPM_STR_NULL);
	CHECK_EQ_INT(cpm_wbuf_finish(&w), 5);
	CHECK(memcmp(b, "abcde#", 6) == 0);

	w = cpm_wbuf_raw(b, 4);
	cpm_wbuf_put_str(&w, CPM_STR_LIT("abcde"));
	CHECK_EQ_INT(cpm_wbuf_finish(&w), -1);

	w = cpm_wbuf_raw(b, 0);
	cpm_wbuf_put(&w, "", 0);
	CHECK_EQ_INT(cpm_wbuf_finish(&w), 0);
}

UNIT_TEST(measure_counts)
{
	struct cpm_wbuf w = cpm_wbuf_measure();

	cpm_wbuf_puts(&w, "hello");
	cpm_wbuf_u64(&w, 1234567);
	cpm_wbuf_printf(&w, "%s-%d", "ab", 42);
	cpm_wbuf_hex(&w, "\x01\x02\x03", 3, CPM_HEX_UPPER, ':');
	CHECK_EQ_INT(cpm_wbuf_finish(&w), 5 + 7 + 5 + 8);
	w.len = SIZE_MAX - 2;
	cpm_wbuf_puts(&w, "abc"); /* would wrap */
	CHECK_EQ_INT(cpm_wbuf_finish(&w), -1);
}

UNIT_TEST(numbers)
{
	char b[64];
	struct cpm_wbuf w = cpm_wbuf_text(b, sizeof b);

	cpm_wbuf_u64(&w, 0);
	cpm_wbuf_putc(&w, ' ');
	cpm_wbuf_u64(&w, 9);
	cpm_wbuf_putc(&w, ' ');
	cpm_wbuf_u64(&w, 10);
	cpm_wbuf_putc(&w, ' ');
	cpm_wbuf_u64(&w, UINT64_MAX);
	CHECK(cpm_wbuf_finish(&w) > 0);
	CHECK_STR(b, "0 9 10 18446744073709551615");

	w = cpm_wbuf_text(b, 3); /* "123" needs 4 with the NUL */
	cpm_wbuf_u64(&w, 123);
	CHECK_EQ_INT(cpm_wbuf_finish(&w), -1);
	CHECK_STR(b, "");
}

UNIT_TEST(printf_bounds)
{
	char b[16];
	struct cpm_wbuf w;

	mark(b, sizeof b);
	w = cpm_wbuf_text(b, 8);
	cpm_wbuf_puts(&w, "a=");
	cpm_wbuf_printf(&w, "%d.%s", 12, "xy"); /* "12.xy": 7 chars + NUL = 8 */
	CHECK_EQ_INT(cpm_wbuf_finish(&w), 7);
	CHECK_STR(b, "a=12.xy");
	cpm_wbuf_printf(&w, "%s", "");
	CHECK_EQ_INT(cpm_wbuf_finish(&w), 7);
	cpm_wbuf_printf(&w, "z");
	CHECK_EQ_INT(cpm_wbuf_finish(&w), -1);
	CHECK_STR(b, "a=12.xy"); /* the truncated piece is taken back */
	CHECK(b[8] == '#');

	mark(b, sizeof b);
	w = cpm_wbuf_text(b, 8);
	cpm_wbuf_printf(&w, "%s", "12345678");
	CHECK_EQ_INT(cpm_wbuf_finish(&w), -1);
	CHECK_STR(b, "");

	/* raw: the text needs a spare byte for vsnprintf's NUL */
	mark(b, sizeof b);
	w = cpm_wbuf_raw(b, 4);
	cpm_wbuf_printf(&w, "%d", 123);
	CHECK_EQ_INT(cpm_wbuf_finish(&w), 3);
	CHECK(memcmp(b, "123", 3) == 0);
}

UNIT_TEST(hex_appends)
{
	char b[16];
	struct cpm_wbuf w;
	static const uint8_t x[] = {0x0a, 0xbc, 0xff};

	w = cpm_wbuf_text(b, sizeof b);
	cpm_wbuf_hex(&w, x, 3, CPM_HEX_LOWER, '\0');
	cpm_wbuf_putc(&w, ' ');
	cpm_wbuf_hex(&w, x, 3, CPM_HEX_UPPER, ':');
	cpm_wbuf_hex(&w, x, 0, CPM_HEX_UPPER, ':');
	CHECK_EQ_INT(cpm_wbuf_finish(&w), 15);
	CHECK_STR(b, "0abcff 0A:BC:FF");

	/* raw: exact fit, no NUL */
	mark(b, sizeof b);
	w = cpm_wbuf_raw(b, 6);
	cpm_wbuf_hex(&w, x, 3, CPM_HEX_LOWER, '\0');
	CHECK_EQ_INT(cpm_wbuf_finish(&w), 6);
	CHECK(memcmp(b, "0abcff#", 7) == 0);
	cpm_wbuf_hex(&w, x, 1, CPM_HEX_LOWER, '\0');
	CHECK_EQ_INT(cpm_wbuf_finish(&w), -1);
	cpm_wbuf_hex(&w, x, SIZE_MAX, CPM_HEX_LOWER, ':'); /* no wrap in the length */
	CHECK(w.overflow);
}

/* An in-place encoder: writes s + NUL if it fits, else -1. */
static int enc(char *out, size_t room, const char *s)
{
	size_t n = strlen(s);

	if (n >= room)
		return -1;
	memcpy(out, s, n + 1);
	return (int)n;
}

UNIT_TEST(tail_and_commit)
{
	char b[8];
	size_t room;
	struct cpm_wbuf w = cpm_wbuf_text(b, 6);
	char *t;

	cpm_wbuf_puts(&w, "ab");
	t = cpm_wbuf_tail(&w, &room);
	CHECK(t == b + 2);
	CHECK_EQ_INT(room, 4); /* 3 bytes + the NUL's own */
	cpm_wbuf_commit(&w, enc(t, room, "cde"));
	CHECK_EQ_INT(cpm_wbuf_finish(&w), 5);
	CHECK_STR(b, "abcde");
	t = cpm_wbuf_tail(&w, &room);
	CHECK(t && room == 1);
	cpm_wbuf_commit(&w, enc(t, room, "f"));
	CHECK(w.overflow);
	CHECK(cpm_wbuf_tail(&w, &room) == NULL && room == 0);
	CHECK_EQ_INT(cpm_wbuf_finish(&w), -1);
	CHECK_STR(b, "abcde");

	/* a commit beyond the space is an overflow, not a wild len */
	w = cpm_wbuf_text(b, 4);
	cpm_wbuf_commit(&w, 4);
	CHECK(w.overflow && w.len == 0);

	/* raw: the encoder's NUL must fit too; measure has no tail */
	w = cpm_wbuf_raw(b, 3);
	t = cpm_wbuf_tail(&w, &room);
	CHECK(t == b && room == 3);
	w = cpm_wbuf_measure();
	CHECK(cpm_wbuf_tail(&w, &room) == NULL);
}

UNIT_MAIN(T(text_fits_exactly), T(text_overflow_is_sticky), T(text_size_zero_and_null),
	  T(raw_uses_every_byte_and_adds_no_nul), T(measure_counts), T(numbers), T(printf_bounds),
	  T(hex_appends), T(tail_and_commit))
