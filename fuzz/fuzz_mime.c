/* libFuzzer driver for the MIME codec. Input: the first line is the
 * Content-Type, the rest the multipart body. Every slice handed out must lie
 * inside the body; a parsed body rebuilt with its own boundary must parse
 * back to the same parts. The whole input also goes through base64 decode. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpm/mime.h"

static void check_slice(struct cpm_str s, const char *base, size_t len)
{
	if (s.len && (!s.p || s.p < base || s.p + s.len > base + len))
		abort();
}

static void rebuild(const char *bnd, const struct mime_part *parts, size_t n)
{
	static char buf[MIME_MAX_BODY + 4096];
	struct mime_part_out out[MIME_MAX_PARTS];
	struct mime_part again[MIME_MAX_PARTS];
	size_t m;
	int len;

	for (size_t i = 0; i < n; i++)
		out[i] = (struct mime_part_out){parts[i].headers, parts[i].body};
	len = mime_multipart_build(buf, sizeof buf, bnd, out, n);
	if (len < 0)
		return;         /* e.g. "--bnd" at a line start inside a body */
	if (mime_multipart_parse(buf, (size_t)len, bnd, again, MIME_MAX_PARTS, &m) != MIME_OK || m != n)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (again[i].body.len != parts[i].body.len ||
		    (parts[i].body.len && memcmp(again[i].body.p, parts[i].body.p, parts[i].body.len)))
			abort();
		if (again[i].content_type.len != parts[i].content_type.len)
			abort();
	}
}

static void fuzz_multipart(const char *data, size_t size)
{
	struct mime_part parts[MIME_MAX_PARTS];
	char bnd[MIME_MAX_BOUNDARY + 1];
	const char *nl = memchr(data, '\n', size);
	struct cpm_str ct;
	const char *body;
	size_t blen, n;

	if (!nl)
		return;
	ct = (struct cpm_str){data, (size_t)(nl - data)};
	body = nl + 1;
	blen = size - ct.len - 1;
	(void)mime_is_multipart(ct);
	check_slice(mime_type_only(ct), data, ct.len);
	if (mime_boundary(ct, bnd, sizeof bnd) != MIME_OK)
		return;
	if (strlen(bnd) == 0 || strlen(bnd) > MIME_MAX_BOUNDARY)
		abort();
	if (mime_multipart_parse(body, blen, bnd, parts, MIME_MAX_PARTS, &n) != MIME_OK)
		return;
	if (n > MIME_MAX_PARTS)
		abort();
	for (size_t i = 0; i < n; i++) {
		check_slice(parts[i].headers, body, blen);
		check_slice(parts[i].body, body, blen);
		check_slice(parts[i].content_type, body, blen);
		check_slice(parts[i].content_id, body, blen);
		check_slice(parts[i].content_transfer_encoding, body, blen);
		check_slice(parts[i].content_disposition, body, blen);
		if (parts[i].content_id.p)
			(void)mime_find_cid(parts, n, parts[i].content_id);
	}
	(void)mime_find_type(parts, n, "application/sdp");
	rebuild(bnd, parts, n);
}

static void fuzz_base64(const char *data, size_t size)
{
	static uint8_t dec[MIME_MAX_BODY];
	static char enc[MIME_MAX_BODY * 2];
	static uint8_t dec2[MIME_MAX_BODY];
	int n, e, m;

	if (size > MIME_MAX_BODY)
		return;
	n = mime_base64_decode(dec, sizeof dec, (struct cpm_str){data, size});
	if (n < 0)
		return;
	if ((size_t)n > size)
		abort();
	e = mime_base64_encode(enc, sizeof enc, dec, (size_t)n);
	if (e < 0)
		abort();
	m = mime_base64_decode(dec2, sizeof dec2, (struct cpm_str){enc, (size_t)e});
	if (m != n || memcmp(dec, dec2, (size_t)n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_multipart((const char *)data, size);
	fuzz_base64((const char *)data, size);
	return 0;
}
