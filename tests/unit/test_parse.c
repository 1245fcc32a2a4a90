/* lib/util/parse.c: the number and host:port parsers of both binaries'
 * command lines and cpmd's config file. */
#include "cpm/parse.h"
#include "unit.h"

static int u(const char *s, uint64_t max, bool sfx, uint64_t *v)
{
	*v = 777;
	return cpm_parse_u64(s, max, sfx, v);
}

UNIT_TEST(u64_plain)
{
	uint64_t v;

	CHECK(u("0", 10, false, &v) == 0 && v == 0);
	CHECK(u("10", 10, false, &v) == 0 && v == 10);
	CHECK(u("007", 10, false, &v) == 0 && v == 7); /* decimal, not octal */
	CHECK(u("11", 10, false, &v) == -1 && v == 777);
	CHECK(u("18446744073709551615", UINT64_MAX, false, &v) == 0 && v == UINT64_MAX);
	CHECK(u("18446744073709551616", UINT64_MAX, false, &v) == -1);
	CHECK(u("99999999999999999999999", UINT64_MAX, false, &v) == -1);
	/* strict: the whole string, digits only */
	const char *bad[] = {"", "-1", "-0", "+1", " 1", "1 ", "\t1", "1x", "0x10", "1.5", "1e3", "k", "1k"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(u(bad[i], UINT64_MAX, false, &v) == -1 && v == 777);
	CHECK(cpm_parse_u64(NULL, 10, false, &v) == -1);
}

UNIT_TEST(u64_size_suffixes)
{
	uint64_t v;
	const uint64_t K = 1024, M = K * K, G = M * K;

	CHECK(u("64k", UINT64_MAX, true, &v) == 0 && v == 64 * K);
	CHECK(u("64K", UINT64_MAX, true, &v) == 0 && v == 64 * K);
	CHECK(u("64KiB", UINT64_MAX, true, &v) == 0 && v == 64 * K);
	CHECK(u("64kb", UINT64_MAX, true, &v) == 0 && v == 64 * K);
	CHECK(u("64Ki", UINT64_MAX, true, &v) == 0 && v == 64 * K);
	CHECK(u("3m", UINT64_MAX, true, &v) == 0 && v == 3 * M);
	CHECK(u("3MiB", UINT64_MAX, true, &v) == 0 && v == 3 * M);
	CHECK(u("4G", UINT64_MAX, true, &v) == 0 && v == 4 * G);
	CHECK(u("0k", 10, true, &v) == 0 && v == 0);
	CHECK(u("1234", UINT64_MAX, true, &v) == 0 && v == 1234); /* no suffix */
	/* the product is bounded by max, and never wraps */
	CHECK(u("4G", 4 * G, true, &v) == 0 && v == 4 * G);
	CHECK(u("4G", 4 * G - 1, true, &v) == -1 && v == 777);
	CHECK(u("4097M", 4 * G, true, &v) == -1);
	CHECK(u("17179869183G", UINT64_MAX, true, &v) == 0 && v == 17179869183ull * G);
	CHECK(u("17179869184G", UINT64_MAX, true, &v) == -1); /* 2^64: would wrap to 0 */
	CHECK(u("1k", 1023, true, &v) == -1);
	const char *bad[] = {"k", "1B", "1x", "1kk", "1kiB ", "1 k", "1iB", "1kBi", "-1k", "1T", "1kibb"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(u(bad[i], UINT64_MAX, true, &v) == -1 && v == 777);
}

static int hp(const char *s, char *host, size_t cap, uint16_t *port)
{
	strcpy(host, "untouched");
	*port = 7;
	return cpm_parse_hostport(s, host, cap, port);
}

UNIT_TEST(hostport_forms)
{
	char h[64];
	uint16_t p;

	CHECK(hp("127.0.0.1:5060", h, sizeof h, &p) == 0 && p == 5060);
	CHECK_STR(h, "127.0.0.1");
	CHECK(hp("example.com:1", h, sizeof h, &p) == 0 && p == 1);
	CHECK_STR(h, "example.com");
	CHECK(hp("[::1]:65535", h, sizeof h, &p) == 0 && p == 65535);
	CHECK_STR(h, "::1");
	CHECK(hp("[fe80::1%eth0]:2855", h, sizeof h, &p) == 0 && p == 2855);
	CHECK_STR(h, "fe80::1%eth0");
	CHECK(hp("::1:5060", h, sizeof h, &p) == 0 && p == 5060); /* the last ':' splits */
	CHECK_STR(h, "::1");
	CHECK(hp("h:05060", h, sizeof h, &p) == 0 && p == 5060);
}

UNIT_TEST(hostport_errors)
{
	char h[64];
	uint16_t p;
	const char *bad[] = {
		"", "5060", "host", ":5060", "host:", "host:0", "host:65536", "host:99999999999",
		"host:-1", "host:+80", "host: 80", "host:80 ", "host:80x", "host:notaport",
		"[]:5060", "[:5060", "[::1:5060", "[::1]x:5060", "[::1]", "[::1]:", "[::1]:0",
		"a]b:80", "a[b:80", "[a]b]:80", "[[::1]]:80",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(hp(bad[i], h, sizeof h, &p) == -1);
		CHECK_STR(h, "untouched");
		CHECK_EQ_INT(p, 7);
	}
	CHECK(cpm_parse_hostport(NULL, h, sizeof h, &p) == -1);
	/* the host must fit with its NUL */
	CHECK(hp("abcd:1", h, 5, &p) == 0);
	CHECK_STR(h, "abcd");
	CHECK(hp("abcde:1", h, 5, &p) == -1);
	CHECK(hp("[abcd]:1", h, 5, &p) == 0);
	CHECK(hp("[abcde]:1", h, 5, &p) == -1);
}

UNIT_MAIN(T(u64_plain), T(u64_size_suffixes), T(hostport_forms), T(hostport_errors))
