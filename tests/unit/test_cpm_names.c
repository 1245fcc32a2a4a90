/* Safe file naming of the cpm client (src/client/safe_name.c): a peer chooses
 * the file name, so every hostile shape must map to a plain name. */
#include "unit.h"

#include "../../src/client/safe_name.c"

static const char *sn(const char *in)
{
	static char out[SAFE_NAME_MAX + 1];
	size_t n = safe_name(out, sizeof out, in, strlen(in));
	if (n != strlen(out))
		return "<length mismatch>";
	return out;
}

UNIT_TEST(test_paths_stripped)
{
	CHECK_STR(sn("../../x"), "x");
	CHECK_STR(sn("/etc/passwd"), "passwd");
	CHECK_STR(sn("a\\b"), "b");
	CHECK_STR(sn("C:\\Users\\me\\photo.jpg"), "photo.jpg");
	CHECK_STR(sn("dir/"), "file");
	CHECK_STR(sn("a/b\\c/d.txt"), "d.txt");
}

UNIT_TEST(test_dots)
{
	CHECK_STR(sn(".."), "file");
	CHECK_STR(sn("."), "file");
	CHECK_STR(sn(""), "file");
	CHECK_STR(sn("../.."), "file");
	CHECK_STR(sn(".hidden"), "_hidden");
	CHECK_STR(sn(".bashrc.txt"), "_bashrc.txt");
	CHECK_STR(sn("x/.."), "file");
	CHECK_STR(sn("name."), "name.");
	CHECK_STR(sn("plain.txt"), "plain.txt");
}

UNIT_TEST(test_control_chars)
{
	CHECK_STR(sn("a\x01" "b\x7f" "c\r\n.txt"), "abc.txt");
	CHECK_STR(sn("\x1b[31mred"), "[31mred");
	CHECK_STR(sn("\x01\x02\x03"), "file");
	CHECK_STR(sn("ok\t.j\npg"), "ok.jpg");
	char nul_in[] = {'a', '\0', 'b'};
	char out[SAFE_NAME_MAX + 1];
	CHECK_EQ_INT(safe_name(out, sizeof out, nul_in, 3), 2);
	CHECK_STR(out, "ab");
}

UNIT_TEST(test_long_names)
{
	char in[1001];
	memset(in, 'a', 1000);
	in[1000] = '\0';
	CHECK_EQ_INT(strlen(sn(in)), SAFE_NAME_MAX);

	memcpy(in + 996, ".jpg", 4);
	const char *o = sn(in);
	CHECK_EQ_INT(strlen(o), SAFE_NAME_MAX);
	CHECK_STR(o + SAFE_NAME_MAX - 4, ".jpg");

	/* an over-long "extension" is not kept apart */
	memset(in, 'b', 1000);
	in[10] = '.';
	CHECK_EQ_INT(strlen(sn(in)), SAFE_NAME_MAX);
}

UNIT_TEST(test_utf8)
{
	CHECK_STR(sn("f\xc3\xa9te \xe2\x82\xac.png"), "f\xc3\xa9te \xe2\x82\xac.png");
	/* 300 x "é" (2 bytes): the cut must not split a character */
	char in[700];
	size_t n = 0;
	for (int i = 0; i < 300; i++) {
		in[n++] = '\xc3';
		in[n++] = '\xa9';
	}
	memcpy(in + n, ".txt", 5);
	const char *o = sn(in);
	size_t len = strlen(o);
	CHECK(len <= SAFE_NAME_MAX);
	CHECK_STR(o + len - 4, ".txt");
	CHECK_EQ_INT((len - 4) % 2, 0);
	CHECK((unsigned char)o[len - 5] == 0xa9);
	/* 3-byte characters */
	n = 0;
	for (int i = 0; i < 100; i++) {
		in[n++] = '\xe2';
		in[n++] = '\x82';
		in[n++] = '\xac';
	}
	in[n] = '\0';
	o = sn(in);
	len = strlen(o);
	CHECK(len <= SAFE_NAME_MAX);
	CHECK_EQ_INT(len % 3, 0);
}

UNIT_TEST(test_numbered)
{
	char out[300];
	CHECK(safe_name_numbered(out, sizeof out, "photo.jpg", 0) > 0);
	CHECK_STR(out, "photo.jpg");
	CHECK(safe_name_numbered(out, sizeof out, "photo.jpg", 1) > 0);
	CHECK_STR(out, "photo (1).jpg");
	CHECK(safe_name_numbered(out, sizeof out, "README", 12) > 0);
	CHECK_STR(out, "README (12)");
	CHECK(safe_name_numbered(out, sizeof out, "_hidden", 2) > 0);
	CHECK_STR(out, "_hidden (2)");
	CHECK(safe_name_numbered(out, sizeof out, "a.tar.gz", 3) > 0);
	CHECK_STR(out, "a.tar (3).gz");
	CHECK_EQ_INT(safe_name_numbered(out, 5, "photo.jpg", 1), 0);
}

UNIT_MAIN(T(test_paths_stripped), T(test_dots), T(test_control_chars), T(test_long_names), T(test_utf8),
	  T(test_numbered))
