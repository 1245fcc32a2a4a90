/* SDP codec: round trips, the standards.md §2.5 examples verbatim, percent
 * encoding of hostile names, and malformed input of every kind. */
#include "cpm/sdp.h"
#include "unit.h"

#include <stdlib.h>

static const uint8_t example_hash[20] = {
	0x72, 0x24, 0x5F, 0xE8, 0x65, 0x3D, 0xDA, 0xF3, 0x71, 0x36,
	0x2F, 0x86, 0xD4, 0x71, 0x91, 0x3E, 0xE4, 0xA2, 0xCE, 0x2E,
};

#define EX_SELECTOR "name:\"holiday%22photo.jpg\" type:image/jpeg size:5000 " \
	"hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E"

/* standards.md §2.5 offer, verbatim (LF line ends as printed there). */
static const char example_offer[] =
	"v=0\n"
	"o=- 3900000001 3900000001 IN IP4 192.0.2.10\n"
	"s=-\n"
	"c=IN IP4 192.0.2.10\n"
	"t=0 0\n"
	"m=message 9 TCP/MSRP *\n"
	"a=accept-types:image/jpeg\n"
	"a=path:msrp://192.0.2.10:9/iau39soe2843z;tcp\n"
	"a=setup:active\n"
	"a=sendonly\n"
	"a=file-selector:" EX_SELECTOR "\n"
	"a=file-transfer-id:vBnG0hZ3ZsBkX2\n"
	"a=file-disposition:render\n"
	"a=file-date:creation:\"Mon, 15 May 2006 15:01:31 +0300\"\n"
	"a=file-icon:cid:thumb1@alice.example.com\n"
	"a=max-size:10485760\n";

/* The §2.5 answer shows only the media part; a session part is added. */
static const char example_answer[] =
	"v=0\r\n"
	"o=- 1 1 IN IP4 pf.example.net\r\n"
	"s=-\r\n"
	"c=IN IP4 pf.example.net\r\n"
	"t=0 0\r\n"
	"m=message 2855 TCP/MSRP *\r\n"
	"a=accept-types:image/jpeg\r\n"
	"a=path:msrp://pf.example.net:2855/kjhd37s2s20w2a;tcp\r\n"
	"a=setup:passive\r\n"
	"a=recvonly\r\n"
	"a=file-selector:" EX_SELECTOR "\r\n"
	"a=file-transfer-id:vBnG0hZ3ZsBkX2\r\n";

static enum sdp_error parse_s(const char *s, struct sdp_ft *ft)
{
	return sdp_parse_ft(s, strlen(s), ft);
}

/* Concatenate into a static-size buffer; the tests keep well inside it. */
static void cat3(char *buf, size_t cap, const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);

	if (la + lb + lc >= cap)
		abort();
	memcpy(buf, a, la);
	memcpy(buf + la, b, lb);
	memcpy(buf + la + lb, c, lc + 1);
}

/* A minimal valid SDP with `media` (the m= line and attributes) appended. */
static enum sdp_error parse_media(const char *media, struct sdp_ft *ft)
{
	char buf[SDP_MAX_BYTES * 2];

	cat3(buf, sizeof buf, "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"
	     "c=IN IP4 192.0.2.1\r\nt=0 0\r\n", media, "");
	return parse_s(buf, ft);
}

#define MSRP_M "m=message 9 TCP/MSRP *\r\na=path:msrp://192.0.2.1:9/abc;tcp\r\n"

static enum sdp_error parse_attr(const char *attr, struct sdp_ft *ft)
{
	char buf[SDP_MAX_BYTES * 2];

	cat3(buf, sizeof buf, MSRP_M, attr, "\r\n");
	return parse_media(buf, ft);
}

static enum sdp_error parse_sel(const char *value, struct sdp_file_selector *sel)
{
	return sdp_selector_parse(cpm_str_c(value), sel);
}

/* Every field sdp_build_ft writes must come back from sdp_parse_ft. */
static int ft_equal(const struct sdp_ft *a, const struct sdp_ft *b)
{
	const struct sdp_file_selector *x = &a->sel, *y = &b->sel;

	return strcmp(a->origin_user, b->origin_user) == 0 &&
	       a->origin_sess_id == b->origin_sess_id &&
	       a->origin_sess_version == b->origin_sess_version &&
	       strcmp(a->origin_addr, b->origin_addr) == 0 &&
	       strcmp(a->conn_addr, b->conn_addr) == 0 && a->conn_ipv6 == b->conn_ipv6 &&
	       a->port == b->port && strcmp(a->proto, b->proto) == 0 &&
	       strcmp(a->path, b->path) == 0 && strcmp(a->accept_types, b->accept_types) == 0 &&
	       strcmp(a->accept_wrapped_types, b->accept_wrapped_types) == 0 &&
	       a->has_max_size == b->has_max_size && a->max_size == b->max_size &&
	       a->setup == b->setup && a->dir == b->dir && a->cema == b->cema &&
	       a->has_selector == b->has_selector &&
	       x->has_name == y->has_name && x->name_len == y->name_len &&
	       memcmp(x->name, y->name, x->name_len) == 0 &&
	       x->has_size == y->has_size && x->size == y->size &&
	       x->has_type == y->has_type && strcmp(x->type, y->type) == 0 &&
	       x->has_hash == y->has_hash && strcmp(x->hash_alg, y->hash_alg) == 0 &&
	       x->hash_len == y->hash_len && memcmp(x->hash, y->hash, x->hash_len) == 0 &&
	       strcmp(a->file_transfer_id, b->file_transfer_id) == 0 &&
	       strcmp(a->file_disposition, b->file_disposition) == 0 &&
	       strcmp(a->file_date, b->file_date) == 0 &&
	       strcmp(a->file_icon, b->file_icon) == 0 &&
	       a->has_file_range == b->has_file_range &&
	       a->range_start == b->range_start && a->range_stop == b->range_stop;
}

static void set_name(struct sdp_file_selector *sel, const char *name, size_t len)
{
	sel->has_name = true;
	memcpy(sel->name, name, len);
	sel->name[len] = '\0';
	sel->name_len = len;
}

static void base_ft(struct sdp_ft *ft, uint16_t port, enum sdp_dir dir)
{
	memset(ft, 0, sizeof *ft);
	strcpy(ft->origin_user, "-");
	ft->origin_sess_id = 3900000001ULL;
	ft->origin_sess_version = 3900000002ULL;
	strcpy(ft->origin_addr, "192.0.2.10");
	strcpy(ft->conn_addr, "192.0.2.10");
	ft->port = port;
	strcpy(ft->proto, "TCP/MSRP");
	strcpy(ft->path, "msrp://192.0.2.10:9/iau39soe2843z;tcp");
	strcpy(ft->accept_types, "image/jpeg");
	ft->dir = dir;
	ft->has_selector = true;
	set_name(&ft->sel, "holiday\"photo.jpg", 17);
	ft->sel.has_type = true;
	strcpy(ft->sel.type, "image/jpeg");
	ft->sel.has_size = true;
	ft->sel.size = 5000;
	ft->sel.has_hash = true;
	strcpy(ft->sel.hash_alg, "sha-1");
	memcpy(ft->sel.hash, example_hash, 20);
	ft->sel.hash_len = 20;
	strcpy(ft->file_transfer_id, "vBnG0hZ3ZsBkX2");
}

/* build -> parse -> compare; also returns the text for further checks. */
static int round_trip(const struct sdp_ft *in, char *buf, size_t cap)
{
	struct sdp_ft out;
	int n = sdp_build_ft(buf, cap, in);

	if (n < 0 || (size_t)n != strlen(buf))
		return 0;
	if (sdp_parse_ft(buf, (size_t)n, &out) != SDP_OK)
		return 0;
	return ft_equal(in, &out);
}

/* ---- round trips --------------------------------------------------------- */

UNIT_TEST(roundtrip_push_offer)
{
	struct sdp_ft ft;
	char buf[4096];

	base_ft(&ft, 9, SDP_DIR_SENDONLY);
	ft.setup = SDP_SETUP_ACTIVE;
	ft.has_max_size = true;
	ft.max_size = 10485760;
	strcpy(ft.file_disposition, "render");
	strcpy(ft.file_date, "creation:\"Mon, 15 May 2006 15:01:31 +0300\"");
	strcpy(ft.file_icon, "cid:thumb1@alice.example.com");
	strcpy(ft.accept_wrapped_types, "*");
	ft.cema = true;
	CHECK(round_trip(&ft, buf, sizeof buf));
	CHECK(strstr(buf, "a=file-selector:" EX_SELECTOR "\r\n") != NULL);
	CHECK(strstr(buf, "m=message 9 TCP/MSRP *\r\n") != NULL);
	CHECK(strstr(buf, "a=sendonly\r\n") != NULL);
	CHECK(strstr(buf, "a=msrp-cema\r\n") != NULL);
	CHECK(strstr(buf, "a=file-range") == NULL);
	CHECK(strncmp(buf, "v=0\r\no=- 3900000001 3900000002 IN IP4 192.0.2.10\r\ns=-\r\n"
		      "c=IN IP4 192.0.2.10\r\nt=0 0\r\n", 76) == 0);
}

UNIT_TEST(roundtrip_push_answer)
{
	struct sdp_ft ft;
	char buf[4096];

	base_ft(&ft, 2855, SDP_DIR_RECVONLY);
	ft.setup = SDP_SETUP_PASSIVE;
	strcpy(ft.path, "msrps://pf.example.net:2855/kjhd37s2s20w2a;tcp");
	strcpy(ft.proto, "TCP/TLS/MSRP");
	strcpy(ft.origin_addr, "2001:db8::1");
	strcpy(ft.conn_addr, "2001:db8::1");
	ft.conn_ipv6 = true;
	CHECK(round_trip(&ft, buf, sizeof buf));
	CHECK(strstr(buf, "o=- 3900000001 3900000002 IN IP6 2001:db8::1\r\n") != NULL);
	CHECK(strstr(buf, "c=IN IP6 2001:db8::1\r\n") != NULL);
	CHECK(strstr(buf, "a=setup:passive\r\na=recvonly\r\n") != NULL);
}

UNIT_TEST(roundtrip_pull_offer_range)
{
	struct sdp_ft ft;
	char buf[4096];

	base_ft(&ft, 9, SDP_DIR_RECVONLY);
	strcpy(ft.file_transfer_id, "Qw83Nd02kdX1");
	ft.has_file_range = true;
	ft.range_start = 3049;
	ft.range_stop = 5000;
	CHECK(round_trip(&ft, buf, sizeof buf));
	CHECK(strstr(buf, "a=file-range:3049-5000\r\n") != NULL);

	ft.range_stop = 0;      /* '*' */
	CHECK(round_trip(&ft, buf, sizeof buf));
	CHECK(strstr(buf, "a=file-range:3049-*\r\n") != NULL);

	/* Pull by hash only: a partial selector. */
	memset(&ft.sel, 0, sizeof ft.sel);
	ft.sel.has_hash = true;
	strcpy(ft.sel.hash_alg, "sha-1");
	memcpy(ft.sel.hash, example_hash, 20);
	ft.sel.hash_len = 20;
	CHECK(round_trip(&ft, buf, sizeof buf));
	CHECK(strstr(buf, "a=file-selector:hash:sha-1:72:24:") != NULL);
}

UNIT_TEST(roundtrip_rejected)
{
	struct sdp_ft ft, out;
	char buf[4096];
	int n;

	base_ft(&ft, 0, SDP_DIR_RECVONLY);
	CHECK(round_trip(&ft, buf, sizeof buf));
	CHECK(strstr(buf, "m=message 0 TCP/MSRP *\r\n") != NULL);

	/* A rejected stream may drop its path (RFC 3264). */
	ft.path[0] = '\0';
	CHECK(round_trip(&ft, buf, sizeof buf));
	/* ... but an accepted one may not. */
	ft.port = 9;
	n = sdp_build_ft(buf, sizeof buf, &ft);
	CHECK(n > 0);
	CHECK_EQ_INT(sdp_parse_ft(buf, (size_t)n, &out), SDP_E_PATH);
}

UNIT_TEST(roundtrip_minimal_and_empty_selector)
{
	struct sdp_ft ft;
	char buf[1024];

	memset(&ft, 0, sizeof ft);
	strcpy(ft.conn_addr, "192.0.2.1");
	strcpy(ft.path, "msrp://192.0.2.1:9/x;tcp");
	ft.port = 9;
	ft.has_selector = true;         /* "a=file-selector" with no value */
	CHECK(sdp_build_ft(buf, sizeof buf, &ft) > 0);
	CHECK(strstr(buf, "a=file-selector\r\n") != NULL);
	CHECK(strstr(buf, "o=- 0 0 IN IP4 192.0.2.1\r\n") != NULL);
	/* origin_addr comes back from the c= fallback; proto defaults. */
	strcpy(ft.origin_addr, "192.0.2.1");
	strcpy(ft.origin_user, "-");
	strcpy(ft.proto, "TCP/MSRP");
	CHECK(round_trip(&ft, buf, sizeof buf));
}

UNIT_TEST(build_small_buffer)
{
	struct sdp_ft ft;
	char buf[4096];
	int n;

	base_ft(&ft, 9, SDP_DIR_SENDONLY);
	n = sdp_build_ft(buf, sizeof buf, &ft);
	CHECK(n > 0);
	for (size_t cap = 0; cap <= (size_t)n; cap++)
		CHECK_EQ_INT(sdp_build_ft(buf, cap, &ft), -1);
	CHECK_EQ_INT(sdp_build_ft(buf, (size_t)n + 1, &ft), n);
}

UNIT_TEST(build_refuses_injection)
{
	struct sdp_ft ft;
	char buf[4096];

	base_ft(&ft, 9, SDP_DIR_SENDONLY);
	strcpy(ft.file_transfer_id, "abc\r\na=evil");
	CHECK_EQ_INT(sdp_build_ft(buf, sizeof buf, &ft), -1);
	base_ft(&ft, 9, SDP_DIR_SENDONLY);
	strcpy(ft.sel.type, "image/jpeg\r\na=x");
	CHECK_EQ_INT(sdp_build_ft(buf, sizeof buf, &ft), -1);
	base_ft(&ft, 9, SDP_DIR_SENDONLY);
	strcpy(ft.conn_addr, "1.2.3.4 x");
	CHECK_EQ_INT(sdp_build_ft(buf, sizeof buf, &ft), -1);
	base_ft(&ft, 9, SDP_DIR_SENDONLY);
	strcpy(ft.proto, "RTP/AVP");
	CHECK_EQ_INT(sdp_build_ft(buf, sizeof buf, &ft), -1);
	base_ft(&ft, 9, SDP_DIR_SENDONLY);
	ft.sel.hash_len = 19;
	CHECK_EQ_INT(sdp_build_ft(buf, sizeof buf, &ft), -1);
	base_ft(&ft, 9, SDP_DIR_SENDONLY);
	ft.origin_addr[0] = ft.conn_addr[0] = '\0';
	CHECK_EQ_INT(sdp_build_ft(buf, sizeof buf, &ft), -1);
}

/* ---- the standards.md examples ------------------------------------------- */

UNIT_TEST(example_offer_verbatim)
{
	struct sdp_ft ft;

	CHECK_EQ_INT(parse_s(example_offer, &ft), SDP_OK);
	CHECK_STR(ft.origin_user, "-");
	CHECK(ft.origin_sess_id == 3900000001ULL);
	CHECK(ft.origin_sess_version == 3900000001ULL);
	CHECK_STR(ft.origin_addr, "192.0.2.10");
	CHECK_STR(ft.conn_addr, "192.0.2.10");
	CHECK(!ft.conn_ipv6);
	CHECK_EQ_INT(ft.port, 9);
	CHECK_STR(ft.proto, "TCP/MSRP");
	CHECK_STR(ft.accept_types, "image/jpeg");
	CHECK_STR(ft.path, "msrp://192.0.2.10:9/iau39soe2843z;tcp");
	CHECK_EQ_INT(ft.setup, SDP_SETUP_ACTIVE);
	CHECK_EQ_INT(ft.dir, SDP_DIR_SENDONLY);
	CHECK(ft.has_selector && ft.sel.has_name && ft.sel.has_type && ft.sel.has_size && ft.sel.has_hash);
	CHECK_STR(ft.sel.name, "holiday\"photo.jpg");
	CHECK_EQ_INT(ft.sel.name_len, 17);
	CHECK_STR(ft.sel.type, "image/jpeg");
	CHECK(ft.sel.size == 5000);
	CHECK_STR(ft.sel.hash_alg, "sha-1");
	CHECK_EQ_INT(ft.sel.hash_len, 20);
	CHECK(memcmp(ft.sel.hash, example_hash, 20) == 0);
	CHECK_STR(ft.file_transfer_id, "vBnG0hZ3ZsBkX2");
	CHECK_STR(ft.file_disposition, "render");
	CHECK_STR(ft.file_date, "creation:\"Mon, 15 May 2006 15:01:31 +0300\"");
	CHECK_STR(ft.file_icon, "cid:thumb1@alice.example.com");
	CHECK(ft.has_max_size && ft.max_size == 10485760);
	CHECK(!ft.cema && !ft.has_file_range);
}

UNIT_TEST(example_answer_and_reject)
{
	struct sdp_ft offer, ans;
	char rej[sizeof example_answer];
	char *m;

	CHECK_EQ_INT(parse_s(example_offer, &offer), SDP_OK);
	CHECK_EQ_INT(parse_s(example_answer, &ans), SDP_OK);
	CHECK_EQ_INT(ans.port, 2855);
	CHECK_EQ_INT(ans.setup, SDP_SETUP_PASSIVE);
	CHECK_EQ_INT(ans.dir, SDP_DIR_RECVONLY);
	CHECK_STR(ans.path, "msrp://pf.example.net:2855/kjhd37s2s20w2a;tcp");
	CHECK(sdp_selector_match(&offer.sel, &ans.sel));
	CHECK_STR(ans.file_transfer_id, offer.file_transfer_id);

	/* "Reject: the same lines with m=message 0 TCP/MSRP *". */
	strcpy(rej, example_answer);
	m = strstr(rej, "2855 TCP");
	CHECK(m != NULL);
	memmove(m, "0", 1);
	memmove(m + 1, m + 4, strlen(m + 4) + 1);
	CHECK_EQ_INT(parse_s(rej, &ans), SDP_OK);
	CHECK_EQ_INT(ans.port, 0);
	CHECK(ans.has_selector && ans.sel.size == 5000);
}

UNIT_TEST(example_pull_resume)
{
	struct sdp_ft ft, offer;

	CHECK_EQ_INT(parse_attr("a=recvonly\r\na=file-selector:" EX_SELECTOR "\r\n"
				"a=file-transfer-id:Qw83Nd02kdX1\r\na=file-range:3049-5000", &ft), SDP_OK);
	CHECK_EQ_INT(ft.dir, SDP_DIR_RECVONLY);
	CHECK(ft.has_file_range && ft.range_start == 3049 && ft.range_stop == 5000);
	CHECK_EQ_INT(parse_s(example_offer, &offer), SDP_OK);
	CHECK(sdp_selector_match(&ft.sel, &offer.sel));
	CHECK(strcmp(ft.file_transfer_id, offer.file_transfer_id) != 0);
}

/* ---- structure ----------------------------------------------------------- */

UNIT_TEST(first_msrp_media_wins)
{
	struct sdp_ft ft;
	enum sdp_error e;

	e = parse_media("m=audio 4000 RTP/AVP 0\r\na=sendonly\r\na=path:bogus\r\n"
			"c=IN IP4 10.0.0.1\r\n"
			"m=message 7 TCP/TLS/MSRP *\r\nc=IN IP6 ::1\r\na=path:msrps://h:7/a;tcp\r\n"
			"a=recvonly\r\n"
			"m=message 8 TCP/MSRP *\r\na=path:msrp://h:8/b;tcp\r\na=sendonly\r\n"
			"a=path:x\r\n", &ft);
	CHECK_EQ_INT(e, SDP_OK);
	CHECK_EQ_INT(ft.port, 7);
	CHECK_STR(ft.proto, "TCP/TLS/MSRP");
	CHECK_STR(ft.path, "msrps://h:7/a;tcp");
	CHECK_EQ_INT(ft.dir, SDP_DIR_RECVONLY);
	CHECK_STR(ft.conn_addr, "::1");
	CHECK(ft.conn_ipv6);
}

/* RFC 4572 a=fingerprint of an msrps endpoint: parsed, kept verbatim, built back, bounded,
 * and never a way to inject a line */
UNIT_TEST(fingerprint_roundtrip_and_bounds)
{
	struct sdp_ft ft;
	const char *fp = "sha-256 B8:4D:28:67:39:08:25:D1:9C:41:9F:5C:56:E4:6F:DA:9F:86:12:34:6C:75:1B:1C:BD:A4:91:4D:"
			 "9C:59:6F:BE";
	char sdp[1024], out[2048];

	snprintf(sdp, sizeof sdp, "m=message 7 TCP/TLS/MSRP *\r\nc=IN IP4 127.0.0.1\r\na=path:msrps://h:7/a;tcp\r\n"
		 "a=fingerprint:%s\r\na=recvonly\r\n", fp);
	CHECK_EQ_INT(parse_media(sdp, &ft), SDP_OK);
	CHECK_STR(ft.fingerprint, fp);
	int n = sdp_build_ft(out, sizeof out, &ft);
	CHECK(n > 0);
	char line[300];
	snprintf(line, sizeof line, "a=fingerprint:%s\r\n", fp);
	CHECK(strstr(out, line) != NULL);
	/* twice: refused like any repeated attribute */
	snprintf(sdp, sizeof sdp, "m=message 7 TCP/TLS/MSRP *\r\na=path:msrps://h:7/a;tcp\r\na=fingerprint:%s\r\n"
		 "a=fingerprint:%s\r\n", fp, fp);
	CHECK(parse_media(sdp, &ft) != SDP_OK);
	/* over SDP_MAX_FINGERPRINT: refused, not cut */
	char big[400];
	memset(big, 'A', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	snprintf(sdp, sizeof sdp, "m=message 7 TCP/TLS/MSRP *\r\na=path:msrps://h:7/a;tcp\r\na=fingerprint:sha-256 %s\r\n",
		 big);
	CHECK_EQ_INT(parse_media(sdp, &ft), SDP_E_VALUE_TOO_LONG);
	/* a value with a line break is never written */
	memset(&ft, 0, sizeof ft);
	CHECK_EQ_INT(parse_media("m=message 7 TCP/MSRP *\r\na=path:msrp://h:7/a;tcp\r\n", &ft), SDP_OK);
	snprintf(ft.fingerprint, sizeof ft.fingerprint, "sha-256 AA\r\na=evil");
	CHECK(sdp_build_ft(out, sizeof out, &ft) < 0);
}

UNIT_TEST(session_level_direction_and_setup)
{
	struct sdp_ft ft;

	CHECK_EQ_INT(parse_s("v=0\no=- 1 1 IN IP4 h\ns=-\na=sendonly\na=setup:actpass\nt=0 0\n"
			     "m=message 9 TCP/MSRP *\na=path:msrp://h:9/a;tcp\n", &ft), SDP_OK);
	CHECK_EQ_INT(ft.dir, SDP_DIR_SENDONLY);
	CHECK_EQ_INT(ft.setup, SDP_SETUP_ACTPASS);
	CHECK_STR(ft.conn_addr, "");
	CHECK_EQ_INT(parse_s("v=0\no=- 1 1 IN IP4 h\ns=-\na=sendonly\nt=0 0\n"
			     "m=message 9 TCP/MSRP *\na=path:msrp://h:9/a;tcp\na=inactive", &ft), SDP_OK);
	CHECK_EQ_INT(ft.dir, SDP_DIR_INACTIVE);
}

UNIT_TEST(unknown_attributes_ignored)
{
	struct sdp_ft ft;

	CHECK_EQ_INT(parse_attr("a=foo:bar baz\r\na=x-weird\r\nb=AS:64\r\nk=prompt", &ft), SDP_OK);
	CHECK_EQ_INT(parse_attr("a=path-ish:1", &ft), SDP_OK);
	/* Trailing blanks do not hide a known attribute. */
	CHECK_EQ_INT(parse_s("v=0 \no=- 1 1 IN IP4 h \ns=-\nm=message 9 TCP/MSRP * \n"
			     "a=path:msrp://h:9/a;tcp \na=recvonly \na=setup :passive\n", &ft), SDP_OK);
	CHECK_EQ_INT(ft.dir, SDP_DIR_RECVONLY);
	CHECK_EQ_INT(ft.setup, SDP_SETUP_PASSIVE);
	CHECK_STR(ft.path, "msrp://h:9/a;tcp");
	CHECK_STR(ft.origin_addr, "h");
}

UNIT_TEST(path_multiple_uris)
{
	struct sdp_ft ft;

	CHECK_EQ_INT(parse_media("m=message 9 TCP/MSRP *\r\n"
				 "a=path:msrp://relay:9/r;tcp MSRPS://h:9/a;tcp\r\n", &ft), SDP_OK);
	CHECK_STR(ft.path, "msrp://relay:9/r;tcp MSRPS://h:9/a;tcp");
}

/* ---- hostile input -------------------------------------------------------- */

UNIT_TEST(hostile_framing)
{
	struct sdp_ft ft;
	static char big[SDP_MAX_BYTES + 2];
	char line[SDP_MAX_LINE + 64];

	memset(big, 'a', sizeof big);
	CHECK_EQ_INT(sdp_parse_ft(big, SDP_MAX_BYTES + 1, &ft), SDP_E_TOO_BIG);
	CHECK_EQ_INT(sdp_parse_ft(big, 0, &ft), SDP_E_VERSION);
	CHECK_EQ_INT(parse_s("o=- 1 1 IN IP4 h\r\nv=0\r\n", &ft), SDP_E_VERSION);
	CHECK_EQ_INT(parse_s("v=1\r\n", &ft), SDP_E_VERSION);
	CHECK_EQ_INT(parse_s("v=0\r\nv=0\r\n", &ft), SDP_E_VERSION);
	CHECK_EQ_INT(parse_s("v=0\r\ns=-\r\n" MSRP_M, &ft), SDP_E_ORIGIN);
	CHECK_EQ_INT(parse_media("garbage\r\n", &ft), SDP_E_LINE);
	CHECK_EQ_INT(parse_media("A=b\r\n", &ft), SDP_E_LINE);
	CHECK_EQ_INT(parse_media("a\r\n", &ft), SDP_E_LINE);
	CHECK_EQ_INT(parse_media("a=x\ry\r\n", &ft), SDP_E_LINE);
	CHECK_EQ_INT(sdp_parse_ft("v=0\r\na=\0x\r\n", 11, &ft), SDP_E_LINE);
	CHECK_EQ_INT(sdp_parse_ft("\xff\xfe\x00\x01\x80", 5, &ft), SDP_E_LINE);

	/* A line of exactly SDP_MAX_LINE passes the framing; one more fails. */
	memset(line, 'x', sizeof line);
	memcpy(line, "a=x:", 4);
	line[SDP_MAX_LINE] = '\0';
	CHECK_EQ_INT(parse_attr(line, &ft), SDP_OK);
	line[SDP_MAX_LINE] = 'x';
	line[SDP_MAX_LINE + 1] = '\0';
	CHECK_EQ_INT(parse_attr(line, &ft), SDP_E_LINE);
}

UNIT_TEST(hostile_origin_and_connection)
{
	struct sdp_ft ft;
	char buf[1024];

	CHECK_EQ_INT(parse_s("v=0\no=- x 1 IN IP4 h\n" MSRP_M, &ft), SDP_E_ORIGIN);
	CHECK_EQ_INT(parse_s("v=0\no=- 1 1 IN IP5 h\n" MSRP_M, &ft), SDP_E_ORIGIN);
	CHECK_EQ_INT(parse_s("v=0\no=- 1 1 IN IP4\n" MSRP_M, &ft), SDP_E_ORIGIN);
	CHECK_EQ_INT(parse_s("v=0\no=- 1 1 IN IP4 h x\n" MSRP_M, &ft), SDP_E_ORIGIN);
	CHECK_EQ_INT(parse_s("v=0\no=- 1 1 IN IP4 h\th\n" MSRP_M, &ft), SDP_E_ORIGIN);
	CHECK_EQ_INT(parse_s("v=0\no=- 1 1 IN IP4 h\nc=IN IP4 \x01\n" MSRP_M, &ft), SDP_E_CONNECTION);
	CHECK_EQ_INT(parse_s("v=0\no=- 99999999999999999999 1 IN IP4 h\n" MSRP_M, &ft), SDP_E_ORIGIN);
	CHECK_EQ_INT(parse_s("v=0\no=- 18446744073709551615 1 IN IP4 h\n" MSRP_M, &ft), SDP_OK);
	CHECK(ft.origin_sess_id == UINT64_MAX);
	CHECK_EQ_INT(parse_s("v=0\no=- 1 1 IN IP4 h\no=- 1 1 IN IP4 h\n" MSRP_M, &ft), SDP_E_ORIGIN);
	CHECK_EQ_INT(parse_s("v=0\no=- 1 1 IN IP4 h\nc=IN IP4\n" MSRP_M, &ft), SDP_E_CONNECTION);
	CHECK_EQ_INT(parse_s("v=0\no=- 1 1 IN IP4 h\nc=ATM NSAP x\n" MSRP_M, &ft), SDP_E_CONNECTION);
	/* c= of a media we do not describe is not checked. */
	CHECK_EQ_INT(parse_media("m=audio 1 RTP/AVP 0\r\nc=junk\r\n" MSRP_M, &ft), SDP_OK);

	memset(buf, 0, sizeof buf);
	strcpy(buf, "v=0\no=- 1 1 IN IP4 ");
	memset(buf + strlen(buf), 'h', SDP_MAX_TOKEN + 1);
	strcat(buf, "\n" MSRP_M);
	CHECK_EQ_INT(parse_s(buf, &ft), SDP_E_VALUE_TOO_LONG);
}

UNIT_TEST(hostile_media)
{
	struct sdp_ft ft;

	CHECK_EQ_INT(parse_media("", &ft), SDP_E_NO_MSRP_MEDIA);
	CHECK_EQ_INT(parse_media("m=audio 4000 RTP/AVP 0\r\n", &ft), SDP_E_NO_MSRP_MEDIA);
	CHECK_EQ_INT(parse_media("m=message 9 TCP/RTP *\r\na=path:msrp://h/a;tcp\r\n", &ft), SDP_E_NO_MSRP_MEDIA);
	CHECK_EQ_INT(parse_media("m=message 9 UDP/MSRP *\r\na=path:msrp://h/a;tcp\r\n", &ft), SDP_E_NO_MSRP_MEDIA);
	CHECK_EQ_INT(parse_media("m=message 9 TCP/MSRP 0\r\na=path:msrp://h/a;tcp\r\n", &ft), SDP_E_NO_MSRP_MEDIA);
	CHECK_EQ_INT(parse_media("m=message 9 TCP/MSRP\r\n", &ft), SDP_E_MEDIA);
	CHECK_EQ_INT(parse_media("m=message 65536 TCP/MSRP *\r\n", &ft), SDP_E_MEDIA);
	CHECK_EQ_INT(parse_media("m=message 9/2 TCP/MSRP *\r\n", &ft), SDP_E_MEDIA);
	CHECK_EQ_INT(parse_media("m=message -1 TCP/MSRP *\r\n", &ft), SDP_E_MEDIA);
	CHECK_EQ_INT(parse_media("m=message 65535 tcp/msrp *\r\na=path:msrp://h/a;tcp\r\n", &ft), SDP_OK);
	CHECK_STR(ft.proto, "TCP/MSRP");
}

UNIT_TEST(hostile_path)
{
	struct sdp_ft ft;
	char buf[SDP_MAX_PATH + 64];

	CHECK_EQ_INT(parse_media("m=message 9 TCP/MSRP *\r\n", &ft), SDP_E_PATH);
	CHECK_EQ_INT(parse_media("m=message 9 TCP/MSRP *\r\na=path:http://h/a\r\n", &ft), SDP_E_PATH);
	CHECK_EQ_INT(parse_media("m=message 9 TCP/MSRP *\r\na=path:msrp://h/a sip:x\r\n", &ft), SDP_E_PATH);
	CHECK_EQ_INT(parse_media("m=message 9 TCP/MSRP *\r\na=path:msrp://\r\n", &ft), SDP_E_PATH);
	CHECK_EQ_INT(parse_media("m=message 9 TCP/MSRP *\r\na=path:\r\n", &ft), SDP_E_PATH);
	CHECK_EQ_INT(parse_media("m=message 9 TCP/MSRP *\r\na=path\r\n", &ft), SDP_E_PATH);
	CHECK_EQ_INT(parse_attr("a=path:msrp://h/b;tcp", &ft), SDP_E_ATTRIBUTE);

	strcpy(buf, "m=message 9 TCP/MSRP *\r\na=path:msrp://");
	memset(buf + strlen(buf), 'h', SDP_MAX_PATH);
	strcat(buf, "\r\n");
	CHECK_EQ_INT(parse_media(buf, &ft), SDP_E_VALUE_TOO_LONG);
}

UNIT_TEST(hostile_attributes)
{
	struct sdp_ft ft;
	char buf[SDP_MAX_ACCEPT_TYPES + 64];

	CHECK_EQ_INT(parse_attr("a=max-size:12a", &ft), SDP_E_MAX_SIZE);
	CHECK_EQ_INT(parse_attr("a=max-size:", &ft), SDP_E_MAX_SIZE);
	CHECK_EQ_INT(parse_attr("a=max-size:184467440737095516150", &ft), SDP_E_MAX_SIZE);
	CHECK_EQ_INT(parse_attr("a=setup:sideways", &ft), SDP_E_ATTRIBUTE);
	CHECK_EQ_INT(parse_attr("a=sendonly\r\na=recvonly", &ft), SDP_E_ATTRIBUTE);
	CHECK_EQ_INT(parse_attr("a=sendonly:x", &ft), SDP_E_ATTRIBUTE);
	CHECK_EQ_INT(parse_attr("a=msrp-cema:x", &ft), SDP_E_ATTRIBUTE);
	CHECK_EQ_INT(parse_attr("a=file-transfer-id:a b", &ft), SDP_E_ATTRIBUTE);
	CHECK_EQ_INT(parse_attr("a=file-transfer-id:x\r\na=file-transfer-id:y", &ft), SDP_E_ATTRIBUTE);
	CHECK_EQ_INT(parse_attr("a=file-disposition:", &ft), SDP_E_ATTRIBUTE);
	CHECK_EQ_INT(parse_attr("a=file-selector\r\na=file-selector", &ft), SDP_E_SELECTOR);

	strcpy(buf, "a=accept-types:");
	memset(buf + strlen(buf), 't', SDP_MAX_ACCEPT_TYPES + 1);
	CHECK_EQ_INT(parse_attr(buf, &ft), SDP_E_VALUE_TOO_LONG);
	buf[strlen("a=accept-types:") + SDP_MAX_ACCEPT_TYPES] = '\0';
	CHECK_EQ_INT(parse_attr(buf, &ft), SDP_OK);
	CHECK_EQ_INT(strlen(ft.accept_types), SDP_MAX_ACCEPT_TYPES);
}

UNIT_TEST(hostile_file_range)
{
	struct sdp_ft ft;

	CHECK_EQ_INT(parse_attr("a=file-range:0-5", &ft), SDP_E_FILE_RANGE);
	CHECK_EQ_INT(parse_attr("a=file-range:5-3", &ft), SDP_E_FILE_RANGE);
	CHECK_EQ_INT(parse_attr("a=file-range:a-b", &ft), SDP_E_FILE_RANGE);
	CHECK_EQ_INT(parse_attr("a=file-range:5", &ft), SDP_E_FILE_RANGE);
	CHECK_EQ_INT(parse_attr("a=file-range:5-", &ft), SDP_E_FILE_RANGE);
	CHECK_EQ_INT(parse_attr("a=file-range:-5", &ft), SDP_E_FILE_RANGE);
	CHECK_EQ_INT(parse_attr("a=file-range:1-5-6", &ft), SDP_E_FILE_RANGE);
	CHECK_EQ_INT(parse_attr("a=file-range:1-**", &ft), SDP_E_FILE_RANGE);
	CHECK_EQ_INT(parse_attr("a=file-range:", &ft), SDP_E_FILE_RANGE);
	CHECK_EQ_INT(parse_attr("a=file-range:1-99999999999999999999", &ft), SDP_E_FILE_RANGE);
	CHECK_EQ_INT(parse_attr("a=file-range:5-5", &ft), SDP_OK);
	CHECK(ft.range_start == 5 && ft.range_stop == 5);
	CHECK_EQ_INT(parse_attr("a=file-range:1-*", &ft), SDP_OK);
	CHECK(ft.has_file_range && ft.range_start == 1 && ft.range_stop == 0);
}

/* ---- file-selector ------------------------------------------------------- */

UNIT_TEST(selector_any_order)
{
	struct sdp_file_selector a, b;

	CHECK_EQ_INT(parse_sel("size:5000 hash:SHA-1:72:24:5f:e8:65:3d:da:f3:71:36:2f:86:d4:71:91:3e:e4:a2:ce:2e "
			       "type:IMAGE/JPEG name:\"holiday%22photo.jpg\"", &a), SDP_OK);
	CHECK_EQ_INT(parse_sel(EX_SELECTOR, &b), SDP_OK);
	CHECK_STR(a.hash_alg, "sha-1");
	CHECK(memcmp(a.hash, example_hash, 20) == 0);
	CHECK(sdp_selector_match(&a, &b));
	CHECK_EQ_INT(parse_sel("", &a), SDP_OK);
	CHECK(!a.has_name && !a.has_size && !a.has_type && !a.has_hash);
	CHECK_EQ_INT(parse_sel("  size:1   name:\"a b\"  ", &a), SDP_OK);
	CHECK_STR(a.name, "a b");
}

UNIT_TEST(selector_type_params)
{
	struct sdp_file_selector s;

	CHECK_EQ_INT(parse_sel("type:text/plain;charset=\"UTF-8\";x=\"a b;c\"", &s), SDP_OK);
	CHECK_STR(s.type, "text/plain;charset=\"UTF-8\";x=\"a b;c\"");
	CHECK_EQ_INT(parse_sel("type:text/plain;charset=utf-8", &s), SDP_OK);
	CHECK_EQ_INT(parse_sel("type:text", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("type:/plain", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("type:text/", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("type:text/plain;", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("type:text/plain;a=\"x", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("type:text/plain;=x", &s), SDP_E_SELECTOR);
}

UNIT_TEST(selector_hostile)
{
	struct sdp_file_selector s;
	char buf[SDP_MAX_FILENAME * 3 + 64];

	/* size */
	CHECK_EQ_INT(parse_sel("size:12ab", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("size:", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("size:-1", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("size:123456789012345678901", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("size:18446744073709551616", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("size:4611686018427387905", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("size:4611686018427387904", &s), SDP_OK);
	CHECK(s.size == 1ULL << 62);
	/* hash */
	CHECK_EQ_INT(parse_sel("hash:sha-1:72:24:5F", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E:00", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("hash:sha-1:7G:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("hash:sha-1:72245FE8653DDAF371362F86D471913EE4A2CE2E", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E:", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("hash:sha-1", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("hash::AB", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("hash:sha-256:AB:CD", &s), SDP_OK);   /* unknown alg: kept */
	CHECK_EQ_INT(s.hash_len, 2);
	/* duplicates and unknown selectors */
	CHECK_EQ_INT(parse_sel("size:1 size:1", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("name:\"a\" name:\"a\"", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("colour:red", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("size:1 junk", &s), SDP_E_SELECTOR);
	/* name */
	CHECK_EQ_INT(parse_sel("name:\"a%00b\"", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("name:\"100%\"", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("name:\"100%5\"", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("name:\"%zz\"", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("name:\"\"", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("name:abc", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("name:\"abc", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("name:\"a\"b\"", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("name:\"a\"\"b\"", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("name:\"a\rb\"", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("name:\"a\nb\"", &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(sdp_selector_parse((struct cpm_str){"name:\"a\0b\"", 10}, &s), SDP_E_SELECTOR);
	CHECK_EQ_INT(parse_sel("name:\"tab\there\"", &s), SDP_OK);    /* %x01-09 is a filename-char */
	/* over-long names: decoded length counts */
	strcpy(buf, "name:\"");
	memset(buf + 6, 'n', SDP_MAX_FILENAME);
	strcpy(buf + 6 + SDP_MAX_FILENAME, "\"");
	CHECK_EQ_INT(parse_sel(buf, &s), SDP_OK);
	CHECK_EQ_INT(s.name_len, SDP_MAX_FILENAME);
	strcpy(buf + 6 + SDP_MAX_FILENAME, "n\"");
	CHECK_EQ_INT(parse_sel(buf, &s), SDP_E_VALUE_TOO_LONG);
	for (size_t i = 0; i < SDP_MAX_FILENAME + 1; i++)
		memcpy(buf + 6 + i * 3, "%41", 3);
	strcpy(buf + 6 + (SDP_MAX_FILENAME + 1) * 3, "\"");
	CHECK_EQ_INT(parse_sel(buf, &s), SDP_E_VALUE_TOO_LONG);
	/* through the full parser */
	{
		struct sdp_ft ft;
		CHECK_EQ_INT(parse_attr("a=file-selector:name:\"a%00\"", &ft), SDP_E_SELECTOR);
		CHECK_EQ_INT(parse_attr("a=file-selector:size:1x", &ft), SDP_E_SELECTOR);
	}
}

static void name_round_trip_one(const char *name, size_t len, const char *want_enc)
{
	struct sdp_file_selector in, out;
	char buf[SDP_MAX_FILENAME * 3 + 128];
	int n;

	memset(&in, 0, sizeof in);
	set_name(&in, name, len);
	n = sdp_selector_format(buf, sizeof buf, &in);
	CHECK(n > 0);
	if (want_enc)
		CHECK_STR(buf, want_enc);
	CHECK_EQ_INT(sdp_selector_parse((struct cpm_str){buf, (size_t)n}, &out), SDP_OK);
	CHECK(out.has_name);
	CHECK_EQ_INT(out.name_len, len);
	CHECK(memcmp(out.name, name, len) == 0);
}

UNIT_TEST(name_percent_encoding)
{
	char all[255];

	name_round_trip_one("say \"hi\".txt", 12, "name:\"say %22hi%22.txt\"");
	name_round_trip_one("100%.txt", 8, "name:\"100%25.txt\"");
	name_round_trip_one("a\r\nb", 4, "name:\"a%0D%0Ab\"");
	name_round_trip_one("tab\there\x7f", 9, "name:\"tab%09here%7F\"");
	name_round_trip_one("f\xc3\xa9te \xe6\x97\xa5\xe6\x9c\xac.jpg", 16,
			    "name:\"f\xc3\xa9te \xe6\x97\xa5\xe6\x9c\xac.jpg\"");
	name_round_trip_one("../../etc/passwd", 16, "name:\"../../etc/passwd\"");
	for (int i = 0; i < 255; i++)
		all[i] = (char)(i + 1);
	name_round_trip_one(all, sizeof all, NULL);
}

UNIT_TEST(pct_helpers)
{
	char buf[16];

	CHECK_EQ_INT(sdp_pct_encode(buf, sizeof buf, "a%b", 3), 5);
	CHECK_STR(buf, "a%25b");
	CHECK_EQ_INT(sdp_pct_encode(buf, 5, "a%b", 3), -1);     /* no room for NUL */
	CHECK_EQ_INT(sdp_pct_encode(buf, 6, "a%b", 3), 5);
	CHECK_EQ_INT(sdp_pct_encode(buf, 3, "a\0", 2), -1);
	CHECK_EQ_INT(sdp_pct_encode(buf, sizeof buf, "a\0", 2), 4);
	CHECK_STR(buf, "a%00");
	CHECK_EQ_INT(sdp_pct_decode(buf, sizeof buf, cpm_str_c("a%2fb%2F")), 4);
	CHECK_STR(buf, "a/b/");
	CHECK_EQ_INT(sdp_pct_decode(buf, sizeof buf, cpm_str_c("a%00")), -1);
	CHECK_EQ_INT(sdp_pct_decode(buf, sizeof buf, cpm_str_c("%")), -1);
	CHECK_EQ_INT(sdp_pct_decode(buf, sizeof buf, cpm_str_c("%4")), -1);
	CHECK_EQ_INT(sdp_pct_decode(buf, sizeof buf, cpm_str_c("%g0")), -1);
	CHECK_EQ_INT(sdp_pct_decode(buf, 4, cpm_str_c("abcd")), -1);
	CHECK_EQ_INT(sdp_pct_decode(buf, 5, cpm_str_c("abcd")), 4);
	CHECK_EQ_INT(sdp_pct_decode(buf, 1, cpm_str_c("")), 0);
}

UNIT_TEST(hash_format)
{
	char buf[64];
	uint8_t h[2] = {0x0a, 0xff};

	CHECK_EQ_INT(sdp_hash_format(buf, sizeof buf, example_hash, 20), 59);
	CHECK_STR(buf, "72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E");
	CHECK_EQ_INT(sdp_hash_format(buf, 59, example_hash, 20), -1);
	CHECK_EQ_INT(sdp_hash_format(buf, sizeof buf, h, 2), 5);
	CHECK_STR(buf, "0A:FF");
	CHECK_EQ_INT(sdp_hash_format(buf, sizeof buf, h, 0), 0);
	CHECK_STR(buf, "");
}

UNIT_TEST(selector_match_rules)
{
	struct sdp_file_selector a, b;

	CHECK_EQ_INT(parse_sel("name:\"x.jpg\" type:image/jpeg;q=\"1\" size:10", &a), SDP_OK);
	CHECK_EQ_INT(parse_sel("type:Image/JPEG size:10", &b), SDP_OK);
	CHECK(sdp_selector_match(&a, &b));
	CHECK(sdp_selector_match(&b, &a));
	CHECK_EQ_INT(parse_sel("name:\"X.jpg\"", &b), SDP_OK);
	CHECK(!sdp_selector_match(&a, &b));     /* names are byte-exact */
	CHECK_EQ_INT(parse_sel("size:11", &b), SDP_OK);
	CHECK(!sdp_selector_match(&a, &b));
	CHECK_EQ_INT(parse_sel("type:image/png", &b), SDP_OK);
	CHECK(!sdp_selector_match(&a, &b));
	CHECK_EQ_INT(parse_sel("hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E", &a), SDP_OK);
	CHECK_EQ_INT(parse_sel("hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2F", &b), SDP_OK);
	CHECK(!sdp_selector_match(&a, &b));
	CHECK_EQ_INT(parse_sel("hash:md5:72:24", &b), SDP_OK);
	CHECK(!sdp_selector_match(&a, &b));
	CHECK_EQ_INT(parse_sel("", &b), SDP_OK);
	CHECK(sdp_selector_match(&a, &b));
}

UNIT_TEST(garbage_never_crashes)
{
	struct sdp_ft ft;
	char buf[2048];
	unsigned seed = 12345;

	/* Random mutations of the example: the result may be anything, but the
	 * parser must return, and a success must survive build + reparse. */
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = strlen(example_offer);
		char out[8192];
		memcpy(buf, example_offer, len);
		for (int k = 0; k < 4; k++) {
			seed = seed * 1103515245u + 12345u;
			buf[(seed >> 8) % len] = (char)(seed >> 20);
		}
		if (sdp_parse_ft(buf, len, &ft) == SDP_OK) {
			struct sdp_ft again;
			int n = sdp_build_ft(out, sizeof out, &ft);
			CHECK(n > 0);
			CHECK_EQ_INT(sdp_parse_ft(out, (size_t)n, &again), SDP_OK);
			CHECK(ft_equal(&ft, &again));
		}
	}
}

UNIT_TEST(strerror_all)
{
	for (int e = SDP_OK; e <= SDP_E_ATTRIBUTE; e++)
		CHECK(strlen(sdp_strerror((enum sdp_error)e)) > 0);
	CHECK_STR(sdp_strerror((enum sdp_error)999), "unknown SDP error");
}

UNIT_MAIN(
	T(roundtrip_push_offer),
	T(roundtrip_push_answer),
	T(roundtrip_pull_offer_range),
	T(roundtrip_rejected),
	T(roundtrip_minimal_and_empty_selector),
	T(build_small_buffer),
	T(build_refuses_injection),
	T(example_offer_verbatim),
	T(example_answer_and_reject),
	T(example_pull_resume),
	T(first_msrp_media_wins),
	T(fingerprint_roundtrip_and_bounds),
	T(session_level_direction_and_setup),
	T(unknown_attributes_ignored),
	T(path_multiple_uris),
	T(hostile_framing),
	T(hostile_origin_and_connection),
	T(hostile_media),
	T(hostile_path),
	T(hostile_attributes),
	T(hostile_file_range),
	T(selector_any_order),
	T(selector_type_params),
	T(selector_hostile),
	T(name_percent_encoding),
	T(pct_helpers),
	T(hash_format),
	T(selector_match_rules),
	T(garbage_never_crashes),
	T(strerror_all),
)
