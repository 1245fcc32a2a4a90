/* See relay_frame.h. */
#include "relay/relay_frame.h"

#include <string.h>

/* Headers of a relayed SEND that the builder writes itself; every other one is copied. */
static const char *const own[] = {"To-Path",        "From-Path",      "Message-ID",  "Byte-Range",
				  "Success-Report", "Failure-Report", "Content-Type"};

/* The other headers of m as raw "Name: value\r\n" lines, in order. */
static int extra_headers(const struct msrp_msg *m, char *buf, size_t cap)
{
	size_t len = 0;

	for (size_t i = 0; i < m->nheaders; i++) {
		const struct msrp_header *hd = &m->headers[i];
		bool skip = false;

		for (size_t k = 0; k < sizeof own / sizeof own[0] && !skip; k++)
			skip = cpm_str_caseeq(hd->name, own[k]);
		if (skip)
			continue;
		if (hd->name.len + hd->value.len + 4 > cap - len)
			return -1;
		memcpy(buf + len, hd->name.p, hd->name.len);
		len += hd->name.len;
		memcpy(buf + len, ": ", 2);
		len += 2;
		memcpy(buf + len, hd->value.p, hd->value.len);
		len += hd->value.len;
		memcpy(buf + len, "\r\n", 2);
		len += 2;
	}
	return (int)len;
}

int relay_frame_send_head(char *buf, size_t cap, const struct msrp_msg *m, const char *tid, struct cpm_str to,
			  struct cpm_str from)
{
	char extra[MSRP_MAX_HEADER_BYTES];
	int xl = extra_headers(m, extra, sizeof extra);
	struct msrp_request_head hd;

	if (xl < 0)
		return -1;
	memset(&hd, 0, sizeof hd);
	hd.tid = tid;
	hd.method = MSRP_METHOD_SEND;
	hd.to_path = to;
	hd.from_path = from;
	hd.message_id = m->message_id;
	hd.range = m->has_byte_range ? &m->range : NULL;
	hd.success_report = m->success_report;
	hd.failure_report = m->failure_report;
	hd.extra_headers = (struct cpm_str){extra, (size_t)xl};
	hd.content_type = m->content_type;
	return msrp_build_request_head(buf, cap, &hd);
}

void relay_frame_comment(char *out, size_t cap, struct cpm_str c)
{
	if (!cpm_str_copy(out, cap, c))
		out[0] = '\0';
}

int relay_frame_report(char *buf, size_t cap, const struct msrp_msg *m, const char *tid, struct cpm_str to,
		       struct cpm_str from)
{
	char comment[128];
	struct msrp_request_head hd;
	int n, e;

	relay_frame_comment(comment, sizeof comment, m->status_comment);
	memset(&hd, 0, sizeof hd);
	hd.tid = tid;
	hd.method = MSRP_METHOD_REPORT;
	hd.to_path = to;
	hd.from_path = from;
	hd.message_id = m->message_id;
	hd.range = m->has_byte_range ? &m->range : NULL;
	hd.status_code = m->status_code;
	hd.status_comment = comment[0] ? comment : NULL;
	n = msrp_build_request_head(buf, cap, &hd);
	if (n < 0 && hd.status_comment) {
		hd.status_comment = NULL;
		n = msrp_build_request_head(buf, cap, &hd);
	}
	if (n < 0)
		return -1;
	e = msrp_build_end(buf + n, cap - (size_t)n, tid, MSRP_FLAG_END, false);
	return e < 0 ? -1 : n + e;
}

int relay_frame_response(char *buf, size_t cap, const char *tid, int status, const char *comment,
			 struct cpm_str to, struct cpm_str from, struct cpm_str extra)
{
	int n = msrp_build_response_ext(buf, cap, tid, status, comment, to, from, extra);

	if (n < 0 && comment) /* a peer's reason phrase we cannot repeat */
		n = msrp_build_response_ext(buf, cap, tid, status, NULL, to, from, extra);
	return n;
}

bool relay_frame_path_ok(const char *path)
{
	struct cpm_str rest;
	int n = 0;

	if (!path || strlen(path) > SDP_MAX_PATH || strpbrk(path, "\r\n"))
		return false;
	rest = cpm_str_c(path);
	for (;;) {
		struct cpm_str u = msrp_path_first(rest);
		struct msrp_uri mu;

		if (!u.len)
			break;
		if (msrp_uri_parse(u, &mu))
			return false;
		n++;
		rest.len -= (size_t)(u.p + u.len - rest.p);
		rest.p = u.p + u.len;
	}
	return n > 0;
}

bool relay_frame_to_session(const struct msrp_msg *m, const char *sid, size_t sid_len)
{
	struct msrp_uri u;

	if (msrp_uri_parse(msrp_path_last(m->to_path), &u))
		return false;
	return u.session_id.len == sid_len && memcmp(u.session_id.p, sid, sid_len) == 0;
}
