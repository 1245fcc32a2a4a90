/* MIME multipart and base64: the standards.md §2.5 body, boundary forms,
 * liberal line ends, hostile bodies and base64 round trips. */
#include "cpm/mime.h"
#include "cpm/sdp.h"
#include "unit.h"

#include <stdlib.h>

/* standards.md §2.5, verbatim (LF line ends as printed there). */
static const char example_ct[] = "multipart/mixed;boundary=ft-boundary";
static const char example_body[] =
	"--ft-boundary\n"
	"Content-Type: application/sdp\n"
	"\n"
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
	"a=file-selector:name:\"holiday%22photo.jpg\" type:image/jpeg size:5000 hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E\n"
	"a=file-transfer-id:vBnG0hZ3ZsBkX2\n"
	"a=file-disposition:render\n"
	"a=file-date:creation:\"Mon, 15 May 2006 15:01:31 +0300\"\n"
	"a=file-icon:cid:thumb1@alice.example.com\n"
	"a=max-size:10485760\n"
	"--ft-boundary\n"
	"Content-Type: image/jpeg\n"
	"Content-Transfer-Encoding: base64\n"
	"Content-ID: <thumb1@alice.example.com>\n"
	"Content-Disposition: icon\n"
	"\n"
	"/9j/4AAQSkZJRgABAQ...\n"
	"--ft-boundary--\n";

static int str_is(struct cpm_str s, const char *lit)
{
	return s.p && cpm_str_eq(s, lit);
}

/* Same body with CRLF line ends, as it travels in SIP. */
static size_t to_crlf(const char *in, char *out, size_t cap)
{
	size_t n = 0;

	for (; *in && n + 2 < cap; in++) {
		if (*in == '\n')
			out[n++] = '\r';
		out[n++] = *in;
	}
	out[n] = '\0';
	return n;
}

static enum mime_error parse(const char *body, const char *bnd, struct mime_part *parts,
			     size_t max, size_t *n)
{
	return mime_multipart_parse(body, strlen(body), bnd, parts, max, n);
}

static void check_example(const char *body, size_t len)
{
	struct mime_part parts[MIME_MAX_PARTS];
	const struct mime_part *sdp, *icon;
	struct sdp_ft ft;
	char bnd[MIME_MAX_BOUNDARY + 1];
	size_t n;
	uint8_t img[64];

	CHECK(mime_is_multipart(cpm_str_c(example_ct)));
	CHECK_EQ_INT(mime_boundary(cpm_str_c(example_ct), bnd, sizeof bnd), MIME_OK);
	CHECK_STR(bnd, "ft-boundary");
	CHECK_EQ_INT(mime_multipart_parse(body, len, bnd, parts, MIME_MAX_PARTS, &n), MIME_OK);
	CHECK_EQ_INT(n, 2);

	sdp = mime_find_type(parts, n, "Application/SDP");
	CHECK(sdp == &parts[0]);
	CHECK(str_is(sdp->content_type, "application/sdp"));
	CHECK(sdp->body.len > 0 && sdp->body.p[0] == 'v');
	CHECK(sdp->body.p[sdp->body.len - 1] == '0');   /* "...10485760", line end dropped */
	CHECK_EQ_INT(sdp_parse_ft(sdp->body.p, sdp->body.len, &ft), SDP_OK);
	CHECK_STR(ft.file_icon, "cid:thumb1@alice.example.com");

	/* file-icon "cid:x" finds Content-ID "<x>" (pitfall 15). */
	icon = mime_find_cid(parts, n, cpm_str_c(ft.file_icon));
	CHECK(icon == &parts[1]);
	CHECK(mime_find_cid(parts, n, cpm_str_c("thumb1@alice.example.com")) == icon);
	CHECK(mime_find_cid(parts, n, cpm_str_c("<thumb1@alice.example.com>")) == icon);
	CHECK(mime_find_cid(parts, n, cpm_str_c("thumb2@alice.example.com")) == NULL);
	CHECK(mime_find_type(parts, n, "image/jpeg") == icon);
	CHECK(mime_find_type(parts, n, "image/png") == NULL);
	CHECK(str_is(icon->content_id, "<thumb1@alice.example.com>"));
	CHECK(str_is(icon->content_transfer_encoding, "base64"));
	CHECK(str_is(icon->content_disposition, "icon"));
	CHECK(str_is(icon->body, "/9j/4AAQSkZJRgABAQ..."));
	/* The example's thumbnail is elided with "...": not valid base64. */
	CHECK_EQ_INT(mime_base64_decode(img, sizeof img, icon->body), -1);
	CHECK(mime_base64_decode(img, sizeof img, cpm_str_c("/9j/4AAQSkZJRgABAQ==")) == 13);
	CHECK(img[0] == 0xff && img[1] == 0xd8 && img[2] == 0xff);
}

UNIT_TEST(example_lf)
{
	check_example(example_body, strlen(example_body));
}

UNIT_TEST(example_crlf)
{
	char buf[4096];
	size_t n = to_crlf(example_body, buf, sizeof buf);

	check_example(buf, n);
}

UNIT_TEST(boundary_param_forms)
{
	char b[MIME_MAX_BOUNDARY + 1];
	char ct[200];

	CHECK_EQ_INT(mime_boundary(cpm_str_c("multipart/mixed; boundary=\"a b:c=d\""), b, sizeof b), MIME_OK);
	CHECK_STR(b, "a b:c=d");
	CHECK_EQ_INT(mime_boundary(cpm_str_c("multipart/mixed ; charset=\"x;boundary=no\"; BOUNDARY = tok_1"),
				   b, sizeof b), MIME_OK);
	CHECK_STR(b, "tok_1");
	CHECK_EQ_INT(mime_boundary(cpm_str_c("multipart/related;type=\"application/sdp\";\r\n boundary=xyz"),
				   b, sizeof b), MIME_OK);
	CHECK_STR(b, "xyz");
	CHECK_EQ_INT(mime_boundary(cpm_str_c("multipart/mixed"), b, sizeof b), MIME_E_NO_BOUNDARY);
	CHECK_EQ_INT(mime_boundary(cpm_str_c("multipart/mixed;boundary="), b, sizeof b), MIME_E_NO_BOUNDARY);
	CHECK_EQ_INT(mime_boundary(cpm_str_c("multipart/mixed;boundary=\"\""), b, sizeof b), MIME_E_NO_BOUNDARY);
	CHECK_EQ_INT(mime_boundary(cpm_str_c("multipart/mixed;boundary=\"abc"), b, sizeof b), MIME_E_NO_BOUNDARY);
	CHECK_EQ_INT(mime_boundary(cpm_str_c("multipart/mixed;boundary=\"ab \""), b, sizeof b), MIME_E_NO_BOUNDARY);
	CHECK_EQ_INT(mime_boundary(cpm_str_c("multipart/mixed;boundary=\"a\\\"b\""), b, sizeof b), MIME_E_NO_BOUNDARY);
	CHECK_EQ_INT(mime_boundary(cpm_str_c("multipart/mixed;boundary=abc"), b, 3), MIME_E_NO_BOUNDARY);
	CHECK_EQ_INT(mime_boundary(CPM_STR_NULL, b, sizeof b), MIME_E_NO_BOUNDARY);

	/* RFC 2046: at most 70 characters. */
	strcpy(ct, "multipart/mixed;boundary=");
	memset(ct + strlen(ct), 'b', 70);
	ct[25 + 70] = '\0';
	CHECK_EQ_INT(mime_boundary(cpm_str_c(ct), b, sizeof b), MIME_OK);
	CHECK_EQ_INT(strlen(b), 70);
	strcat(ct, "b");
	CHECK_EQ_INT(mime_boundary(cpm_str_c(ct), b, sizeof b), MIME_E_NO_BOUNDARY);
}

UNIT_TEST(type_helpers)
{
	struct cpm_str t = mime_type_only(cpm_str_c("  Application/SDP ; charset=x"));

	CHECK(cpm_str_eq(t, "Application/SDP"));
	CHECK(mime_is_multipart(cpm_str_c("Multipart/Related; boundary=x")));
	CHECK(!mime_is_multipart(cpm_str_c("application/sdp")));
	CHECK(!mime_is_multipart(cpm_str_c("multipart/")));
	CHECK(!mime_is_multipart(CPM_STR_NULL));
}

UNIT_TEST(preamble_epilogue_padding)
{
	struct mime_part p[4];
	size_t n;
	const char *body =
		"This is a preamble --b not a delimiter\r\n"
		"--b  \t\r\n"
		"content-type: text/plain\r\n"
		"X-Folded: a\r\n"
		" b\r\n"
		"CONTENT-ID:   <x@y>  \r\n"
		"\r\n"
		"line one --b inside\r\n"
		"--bb is not our boundary\r\n"
		"--b-- no: text after close is not a delimiter\r\n"
		"last\r\n"
		"--b-- \r\n"
		"epilogue\r\n--b\r\nignored\r\n";

	CHECK_EQ_INT(parse(body, "b", p, 4, &n), MIME_OK);
	CHECK_EQ_INT(n, 1);
	CHECK(str_is(p[0].content_type, "text/plain"));
	CHECK(str_is(p[0].content_id, "<x@y>"));
	CHECK(str_is(p[0].body, "line one --b inside\r\n--bb is not our boundary\r\n"
		     "--b-- no: text after close is not a delimiter\r\nlast"));
	CHECK(p[0].headers.p == strstr(body, "content-type"));
	CHECK(p[0].headers.len == strlen("content-type: text/plain\r\nX-Folded: a\r\n b\r\n"
					 "CONTENT-ID:   <x@y>  \r\n"));
}

UNIT_TEST(first_delimiter_positions)
{
	struct mime_part p[4];
	size_t n;

	/* At the very start, or after a preamble line, with LF only. */
	CHECK_EQ_INT(parse("--b\n\nA\n--b--", "b", p, 4, &n), MIME_OK);
	CHECK_EQ_INT(n, 1);
	CHECK(str_is(p[0].body, "A"));
	CHECK_EQ_INT(p[0].headers.len, 0);
	CHECK_EQ_INT(parse("pre\n--b\n\nA\n--b--\n", "b", p, 4, &n), MIME_OK);
	CHECK(str_is(p[0].body, "A"));
	/* Not at a line start: no delimiter at all. */
	CHECK_EQ_INT(parse("x--b\n\nA\n", "b", p, 4, &n), MIME_E_SYNTAX);
	/* ... so the close delimiter is the first one: no parts. */
	CHECK_EQ_INT(parse("x--b\n\nA\n--b--\n", "b", p, 4, &n), MIME_OK);
	CHECK_EQ_INT(n, 0);
	/* A body that keeps its own trailing blank line. */
	CHECK_EQ_INT(parse("--b\r\n\r\nA\r\n\r\n--b--\r\n", "b", p, 4, &n), MIME_OK);
	CHECK(str_is(p[0].body, "A\r\n"));
	/* Empty parts. */
	CHECK_EQ_INT(parse("--b\r\n--b\r\n\r\n\r\n--b--", "b", p, 4, &n), MIME_OK);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(p[0].body.len, 0);
	CHECK_EQ_INT(p[1].body.len, 0);
	/* A part of headers only. */
	CHECK_EQ_INT(parse("--b\r\nContent-Type: a/b\r\n--b--", "b", p, 4, &n), MIME_OK);
	CHECK(str_is(p[0].content_type, "a/b"));
	CHECK_EQ_INT(p[0].body.len, 0);
	/* No parts at all. */
	CHECK_EQ_INT(parse("--b--\r\n", "b", p, 4, &n), MIME_OK);
	CHECK_EQ_INT(n, 0);
}

UNIT_TEST(hostile_bodies)
{
	struct mime_part p[MIME_MAX_PARTS];
	size_t n;
	char *big;
	char buf[2048];

	CHECK_EQ_INT(parse("--b\r\n\r\nA\r\n", "b", p, 4, &n), MIME_E_SYNTAX);      /* no close */
	CHECK_EQ_INT(parse("--b\r\n\r\nA\r\n--b\r\n\r\nB", "b", p, 4, &n), MIME_E_SYNTAX);
	CHECK_EQ_INT(parse("no delimiter here", "b", p, 4, &n), MIME_E_SYNTAX);
	CHECK_EQ_INT(parse("", "b", p, 4, &n), MIME_E_SYNTAX);
	CHECK_EQ_INT(parse("--b\r\nnot a header\r\n\r\nA\r\n--b--", "b", p, 4, &n), MIME_E_SYNTAX);
	CHECK_EQ_INT(parse("--b\r\n folded first\r\n\r\nA\r\n--b--", "b", p, 4, &n), MIME_E_SYNTAX);
	CHECK_EQ_INT(parse("--b\r\n: no name\r\n\r\nA\r\n--b--", "b", p, 4, &n), MIME_E_SYNTAX);
	CHECK_EQ_INT(parse("--b\r\n\r\nA\r\n--b--", "", p, 4, &n), MIME_E_NO_BOUNDARY);
	CHECK_EQ_INT(mime_multipart_parse("x", 1, NULL, p, 4, &n), MIME_E_NO_BOUNDARY);

	/* Too many part headers. */
	strcpy(buf, "--b\r\n");
	for (int i = 0; i <= MIME_MAX_PART_HEADERS; i++)
		strcat(buf, "X-H: v\r\n");
	strcat(buf, "\r\nA\r\n--b--");
	CHECK_EQ_INT(parse(buf, "b", p, 4, &n), MIME_E_SYNTAX);

	/* Too many parts: exactly max is fine, one more is not. */
	strcpy(buf, "");
	for (int i = 0; i < 4; i++)
		strcat(buf, "--b\r\n\r\nP\r\n");
	strcat(buf, "--b--\r\n");
	CHECK_EQ_INT(parse(buf, "b", p, 4, &n), MIME_OK);
	CHECK_EQ_INT(n, 4);
	CHECK_EQ_INT(parse(buf, "b", p, 3, &n), MIME_E_TOO_MANY_PARTS);
	CHECK_EQ_INT(parse(buf, "b", p, 0, &n), MIME_E_TOO_MANY_PARTS);

	/* Bigger than MIME_MAX_BODY: refused before looking at it. */
	big = malloc(MIME_MAX_BODY + 1);
	CHECK(big != NULL);
	memset(big, 'x', MIME_MAX_BODY + 1);
	memcpy(big, "--b\r\n\r\n", 7);
	memcpy(big + MIME_MAX_BODY - 7, "\r\n--b--", 7);
	n = 99;
	CHECK_EQ_INT(mime_multipart_parse(big, MIME_MAX_BODY, "b", p, 4, &n), MIME_OK);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(mime_multipart_parse(big, MIME_MAX_BODY + 1, "b", p, 4, &n), MIME_E_TOO_BIG);
	free(big);
}

UNIT_TEST(garbage_bytes)
{
	struct mime_part p[MIME_MAX_PARTS];
	char buf[512];
	unsigned seed = 777;
	size_t n;

	for (int iter = 0; iter < 50000; iter++) {
		size_t len = 0;
		seed = seed * 1103515245u + 12345u;
		len = (seed >> 16) % sizeof buf;
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			/* a small alphabet makes delimiters and headers likely */
			buf[i] = "-b\r\n: xC"[(seed >> 16) % 8];
		}
		if (mime_multipart_parse(buf, len, "b", p, MIME_MAX_PARTS, &n) != MIME_OK)
			continue;
		for (size_t i = 0; i < n; i++) {
			CHECK(p[i].body.p >= buf && p[i].body.p + p[i].body.len <= buf + len);
			CHECK(p[i].headers.p >= buf && p[i].headers.p + p[i].headers.len <= buf + len);
		}
	}
}

UNIT_TEST(build_round_trip)
{
	char bnd[40], buf[4096];
	struct mime_part p[4];
	size_t n;
	int len;
	const char sdp[] = "v=0\r\no=- 1 1 IN IP4 h\r\n";
	const uint8_t jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, '-', '-', '\r', '\n'};
	char b64[64];
	struct mime_part_out out[2];

	mime_random_boundary(bnd, sizeof bnd);
	CHECK_EQ_INT(strlen(bnd), sizeof bnd - 1);
	CHECK(mime_base64_encode(b64, sizeof b64, jpeg, sizeof jpeg) > 0);
	out[0] = (struct mime_part_out){ CPM_STR_LIT("Content-Type: application/sdp\r\n"),
					 CPM_STR_LIT(sdp) };
	out[1] = (struct mime_part_out){ CPM_STR_LIT("Content-Type: image/jpeg\r\n"
						     "Content-Transfer-Encoding: base64\r\n"
						     "Content-ID: <image@joyn.com>\r\n"
						     "Content-Disposition: icon"),
					 cpm_str_c(b64) };
	len = mime_multipart_build(buf, sizeof buf, bnd, out, 2);
	CHECK(len > 0 && (size_t)len == strlen(buf));
	CHECK(strncmp(buf, "--", 2) == 0);
	CHECK_EQ_INT(mime_multipart_parse(buf, (size_t)len, bnd, p, 4, &n), MIME_OK);
	CHECK_EQ_INT(n, 2);
	CHECK(str_is(p[0].body, sdp));
	CHECK(str_is(p[1].body, b64));
	CHECK(str_is(p[1].content_disposition, "icon"));
	CHECK(mime_find_cid(p, n, cpm_str_c("cid:image@joyn.com")) == &p[1]);

	/* Too small a buffer, at every size. */
	for (size_t cap = 0; cap <= (size_t)len; cap++)
		CHECK_EQ_INT(mime_multipart_build(buf, cap, bnd, out, 2), -1);

	/* A boundary that occurs at a line start in a part is refused... */
	out[1].body = CPM_STR_LIT("abc\r\n--xyz123 and more");
	CHECK_EQ_INT(mime_multipart_build(buf, sizeof buf, "xyz123", out, 2), -1);
	out[1].body = CPM_STR_LIT("--xyz123");
	CHECK_EQ_INT(mime_multipart_build(buf, sizeof buf, "xyz123", out, 2), -1);
	/* ... in the middle of a line it is harmless. */
	out[1].body = CPM_STR_LIT("abc --xyz123");
	CHECK(mime_multipart_build(buf, sizeof buf, "xyz123", out, 2) > 0);
	CHECK_EQ_INT(mime_multipart_build(buf, sizeof buf, "", out, 2), -1);
	CHECK_EQ_INT(mime_multipart_build(buf, sizeof buf, "bad\r\n", out, 2), -1);
}

UNIT_TEST(random_boundary)
{
	char a[MIME_MAX_BOUNDARY + 10], b[MIME_MAX_BOUNDARY + 10], c[1];

	mime_random_boundary(a, sizeof a);
	mime_random_boundary(b, sizeof b);
	CHECK_EQ_INT(strlen(a), MIME_MAX_BOUNDARY);
	CHECK(strcmp(a, b) != 0);
	for (size_t i = 0; a[i]; i++)
		CHECK((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'A' && a[i] <= 'Z') ||
		      (a[i] >= 'a' && a[i] <= 'z'));
	mime_random_boundary(c, sizeof c);
	CHECK_EQ_INT(c[0], '\0');
}

UNIT_TEST(base64_every_length)
{
	uint8_t in[100], out[100];
	char enc[160], wrapped[240];
	unsigned seed = 42;

	for (size_t len = 0; len <= 100; len++) {
		int n, m;
		size_t w = 0;
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = (uint8_t)(seed >> 16);
		}
		n = mime_base64_encode(enc, sizeof enc, in, len);
		CHECK_EQ_INT(n, (len + 2) / 3 * 4);
		CHECK_EQ_INT(strlen(enc), (size_t)n);
		CHECK_EQ_INT(mime_base64_encode(enc, (size_t)n, in, len), -1);
		m = mime_base64_decode(out, sizeof out, (struct cpm_str){enc, (size_t)n});
		CHECK_EQ_INT(m, len);
		CHECK(len == 0 || memcmp(in, out, len) == 0);
		/* exact output capacity works, one less does not */
		CHECK_EQ_INT(mime_base64_decode(out, len, (struct cpm_str){enc, (size_t)n}), len);
		if (len)
			CHECK_EQ_INT(mime_base64_decode(out, len - 1, (struct cpm_str){enc, (size_t)n}), -1);
		/* MIME line wrapping and stray spaces are ignored */
		for (int i = 0; i < n; i++) {
			wrapped[w++] = enc[i];
			if (i % 7 == 6) {
				wrapped[w++] = '\r';
				wrapped[w++] = '\n';
			} else if (i % 11 == 3) {
				wrapped[w++] = ' ';
			}
		}
		CHECK_EQ_INT(mime_base64_decode(out, sizeof out, (struct cpm_str){wrapped, w}), len);
		CHECK(len == 0 || memcmp(in, out, len) == 0);
	}
}

UNIT_TEST(base64_invalid)
{
	uint8_t out[16];

	CHECK_EQ_INT(mime_base64_decode(out, sizeof out, cpm_str_c("QUJD")), 3);
	CHECK(memcmp(out, "ABC", 3) == 0);
	CHECK_EQ_INT(mime_base64_decode(out, sizeof out, cpm_str_c("QUI=")), 2);
	CHECK_EQ_INT(mime_base64_decode(out, sizeof out, cpm_str_c("QQ==")), 1);
	CHECK_EQ_INT(mime_base64_decode(out, sizeof out, cpm_str_c("QQ")), 1);    /* unpadded tail */
	CHECK_EQ_INT(mime_base64_decode(out, sizeof out, cpm_str_c("QUI")), 2);
	CHECK_EQ_INT(mime_base64_decode(out, sizeof out, cpm_str_c("Q")), -1);
	CHECK_EQ_INT(mime_base64_decode(out, sizeof out, cpm_str_c("QQ=")), -1);
	CHECK_EQ_INT(mime_base64_decode(out, sizeof out, cpm_str_c("Q===")), -1);
	CHECK_EQ_INT(mime_base64_decode(out, sizeof out, cpm_str_c("====")), -1);
	CHECK_EQ_INT(mime_base64_decode(out, sizeof out, cpm_str_c("QQ==QQ==")), -1);
	CHECK_EQ_INT(mime_base64_decode(out, sizeof out, cpm_str_c("QUJD=")), -1);
	CHECK_EQ_INT(mime_base64_decode(out, sizeof out, cpm_str_c("QU*D")), -1);
	CHECK_EQ_INT(mime_base64_decode(out, sizeof out, cpm_str_c("QU-D")), -1);
	CHECK_EQ_INT(mime_base64_decode(out, sizeof out, (struct cpm_str){"QU\0D", 4}), -1);
	CHECK_EQ_INT(mime_base64_decode(out, sizeof out, cpm_str_c("")), 0);
	CHECK_EQ_INT(mime_base64_decode(out, sizeof out, cpm_str_c(" \r\n")), 0);
	CHECK_EQ_INT(mime_base64_decode(out, sizeof out, cpm_str_c("QQ = = \r\n")), 1);
}

UNIT_TEST(strerror_all)
{
	for (int e = MIME_OK; e <= MIME_E_TOO_MANY_PARTS; e++)
		CHECK(strlen(mime_strerror((enum mime_error)e)) > 0);
	CHECK_STR(mime_strerror((enum mime_error)99), "unknown MIME error");
}

UNIT_MAIN(
	T(example_lf),
	T(example_crlf),
	T(boundary_param_forms),
	T(type_helpers),
	T(preamble_epilogue_padding),
	T(first_delimiter_positions),
	T(hostile_bodies),
	T(garbage_bytes),
	T(build_round_trip),
	T(random_boundary),
	T(base64_every_length),
	T(base64_invalid),
	T(strerror_all),
)
