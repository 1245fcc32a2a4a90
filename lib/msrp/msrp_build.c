/* MSRP builders, status phrases, error strings and random idents.
 * Builders refuse anything our own parser would refuse (bad tid, CR/LF in
 * a value, a bad Byte-Range): a relay must never emit a message that
 * desyncs the next hop. */
#include "msrp_priv.h"

#include "cpm/random.h"
#include "cpm/wbuf.h"

/* Builders write through a raw cpm_wbuf: no NUL, so a caller may size a
 * buffer exactly (an end-line into MSRP_END_LINE_MAX bytes). The appends
 * are inline: one bounds check and one memcpy per piece. */

static void put_3digits(struct cpm_wbuf *w, int v)
{
	char d[3] = {(char)('0' + v / 100), (char)('0' + v / 10 % 10), (char)('0' + v % 10)};
	cpm_wbuf_put(w, d, 3);
}

static bool tid_ok(const char *tid)
{
	return tid && msrp_is_ident(tid, strlen(tid));
}

static bool status_ok(int status)
{
	return status >= 100 && status <= 999;
}

/* A reason phrase or comment: may be empty, must stay on its line. */
static bool comment_ok(const char *c)
{
	return !c || msrp_text_valid(cpm_str_c(c));
}

static const char *comment_or_phrase(const char *c, int status)
{
	return c ? c : msrp_status_phrase(status);
}

static void put_header(struct cpm_wbuf *w, const char *name, struct cpm_str v)
{
	cpm_wbuf_puts(w, name);
	cpm_wbuf_put(w, ": ", 2);
	cpm_wbuf_put_str(w, v);
	cpm_wbuf_put(w, "\r\n", 2);
}

static void put_range(struct cpm_wbuf *w, uint64_t v)
{
	if (v == MSRP_RANGE_STAR)
		cpm_wbuf_put(w, "*", 1);
	else
		cpm_wbuf_u64(w, v);
}

static const char *report_word(enum msrp_report_mode m)
{
	switch (m) {
	case MSRP_REPORT_YES:
		return "yes";
	case MSRP_REPORT_NO:
		return "no";
	case MSRP_REPORT_PARTIAL:
		return "partial";
	default:
		return NULL;
	}
}

/* Raw extra header lines: each "Name: value" CRLF, so that they cannot
 * end the header block early or smuggle a second message. */
static bool extra_ok(struct cpm_str x)
{
	const char *p = x.p, *e = x.p + x.len;

	while (p < e) {
		const char *eol = memmem(p, (size_t)(e - p), "\r\n", 2);
		if (!eol || eol == p)
			return false;
		struct cpm_str line = {p, (size_t)(eol - p)};
		if (!memchr(line.p, ':', line.len) || !msrp_text_valid(line))
			return false;
		p = eol + 2;
	}
	return true;
}

static const char *method_word(enum msrp_method m)
{
	switch (m) {
	case MSRP_METHOD_SEND:
		return "SEND";
	case MSRP_METHOD_REPORT:
		return "REPORT";
	case MSRP_METHOD_AUTH:
		return "AUTH";
	default:
		return NULL;
	}
}

static bool head_ok(const struct msrp_request_head *h)
{
	bool needs_id = h->method == MSRP_METHOD_SEND || h->method == MSRP_METHOD_REPORT;

	if (!tid_ok(h->tid) || !method_word(h->method))
		return false;
	if (!msrp_path_valid(h->to_path) || !msrp_path_valid(h->from_path))
		return false;
	if (h->message_id.len ? !msrp_is_ident(h->message_id.p, h->message_id.len) : needs_id)
		return false;
	if (h->range && !msrp_range_valid(h->range))
		return false;
	if (h->method == MSRP_METHOD_REPORT &&
	    (!status_ok(h->status_code) || !comment_ok(h->status_comment)))
		return false;
	if (h->success_report == MSRP_REPORT_PARTIAL)
		return false;
	if (h->extra_headers.len && !extra_ok(h->extra_headers))
		return false;
	return msrp_text_valid(h->content_type);
}

int msrp_build_request_head(char *buf, size_t cap, const struct msrp_request_head *h)
{
	struct cpm_wbuf w = cpm_wbuf_raw(buf, cap);

	if (!h || !head_ok(h))
		return -1;
	cpm_wbuf_put(&w, "MSRP ", 5);
	cpm_wbuf_puts(&w, h->tid);
	cpm_wbuf_put(&w, " ", 1);
	cpm_wbuf_puts(&w, method_word(h->method));
	cpm_wbuf_put(&w, "\r\n", 2);
	put_header(&w, "To-Path", h->to_path);
	put_header(&w, "From-Path", h->from_path);
	if (h->message_id.len)
		put_header(&w, "Message-ID", h->message_id);
	if (h->range) {
		cpm_wbuf_puts(&w, "Byte-Range: ");
		cpm_wbuf_u64(&w, h->range->start);
		cpm_wbuf_put(&w, "-", 1);
		put_range(&w, h->range->end);
		cpm_wbuf_put(&w, "/", 1);
		put_range(&w, h->range->total);
		cpm_wbuf_put(&w, "\r\n", 2);
	}
	if (report_word(h->success_report))
		put_header(&w, "Success-Report", cpm_str_c(report_word(h->success_report)));
	if (report_word(h->failure_report))
		put_header(&w, "Failure-Report", cpm_str_c(report_word(h->failure_report)));
	if (h->method == MSRP_METHOD_REPORT) {
		const char *c = comment_or_phrase(h->status_comment, h->status_code);
		cpm_wbuf_puts(&w, "Status: 000 ");
		put_3digits(&w, h->status_code);
		if (*c) {
			cpm_wbuf_put(&w, " ", 1);
			cpm_wbuf_puts(&w, c);
		}
		cpm_wbuf_put(&w, "\r\n", 2);
	}
	cpm_wbuf_put_str(&w, h->extra_headers);
	if (h->content_type.len) {
		put_header(&w, "Content-Type", h->content_type);
		cpm_wbuf_put(&w, "\r\n", 2);
	}
	return cpm_wbuf_finish(&w);
}

int msrp_build_end(char *buf, size_t cap, const char *tid, char flag, bool had_body)
{
	struct cpm_wbuf w = cpm_wbuf_raw(buf, cap);

	if (!tid_ok(tid) ||
	    (flag != MSRP_FLAG_MORE && flag != MSRP_FLAG_END && flag != MSRP_FLAG_ABORT))
		return -1;
	if (had_body)
		cpm_wbuf_put(&w, "\r\n", 2);
	cpm_wbuf_put(&w, "-------", 7);
	cpm_wbuf_puts(&w, tid);
	cpm_wbuf_putc(&w, flag);
	cpm_wbuf_put(&w, "\r\n", 2);
	return cpm_wbuf_finish(&w);
}

int msrp_build_response(char *buf, size_t cap, const char *tid, int status, const char *comment,
			struct cpm_str to_path, struct cpm_str from_path)
{
	return msrp_build_response_ext(buf, cap, tid, status, comment, to_path, from_path, CPM_STR_NULL);
}

int msrp_build_response_ext(char *buf, size_t cap, const char *tid, int status, const char *comment,
			    struct cpm_str to_path, struct cpm_str from_path, struct cpm_str extra_headers)
{
	struct cpm_wbuf w = cpm_wbuf_raw(buf, cap);
	/* Passing the request's whole From-Path is fine: the previous hop is
	 * its first URI (RFC 4975 §7.2). */
	struct cpm_str to = msrp_path_first(to_path);
	const char *c = comment_or_phrase(comment, status);

	if (!tid_ok(tid) || !status_ok(status) || !comment_ok(comment) ||
	    !msrp_path_valid(to) || !msrp_path_valid(from_path) ||
	    (extra_headers.len && !extra_ok(extra_headers)))
		return -1;
	cpm_wbuf_put(&w, "MSRP ", 5);
	cpm_wbuf_puts(&w, tid);
	cpm_wbuf_put(&w, " ", 1);
	put_3digits(&w, status);
	if (*c) {
		cpm_wbuf_put(&w, " ", 1);
		cpm_wbuf_puts(&w, c);
	}
	cpm_wbuf_put(&w, "\r\n", 2);
	put_header(&w, "To-Path", to);
	put_header(&w, "From-Path", from_path);
	cpm_wbuf_put_str(&w, extra_headers); /* RFC 4975 §9: ext-headers may follow the paths */
	cpm_wbuf_put(&w, "-------", 7);
	cpm_wbuf_puts(&w, tid);
	cpm_wbuf_put(&w, "$\r\n", 3);
	return cpm_wbuf_finish(&w);
}

const char *msrp_status_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 408: return "Request Timeout";
	case 413: return "Message Too Large";
	case 415: return "Unsupported Media Type";
	case 423: return "Parameter Out Of Bounds";
	case 481: return "Session Does Not Exist";
	case 501: return "Unknown Method";
	case 506: return "Session Already Bound";
	default: return "Unknown";
	}
}

const char *msrp_strerror(enum msrp_error e)
{
	switch (e) {
	case MSRP_OK: return "no error";
	case MSRP_E_START_LINE: return "bad MSRP start line";
	case MSRP_E_TID: return "transaction id is not an ident";
	case MSRP_E_LINE_TOO_LONG: return "line too long";
	case MSRP_E_HEADERS_TOO_BIG: return "header block too big";
	case MSRP_E_TOO_MANY_HEADERS: return "too many headers";
	case MSRP_E_HEADER_SYNTAX: return "bad header syntax";
	case MSRP_E_PATHS: return "To-Path/From-Path missing, misplaced or bad";
	case MSRP_E_BYTE_RANGE: return "bad Byte-Range";
	case MSRP_E_STATUS: return "bad or missing Status";
	case MSRP_E_REPORT_HDR: return "bad Success-Report/Failure-Report";
	case MSRP_E_MESSAGE_ID: return "bad or missing Message-ID";
	case MSRP_E_BODY_IN_RESPONSE: return "body in a response";
	}
	return "unknown error";
}

/* An ident that could be guessed would let a third party inject into a
 * session: cpm_random aborts rather than fall back to anything weaker. */
void msrp_random_ident(char *out, size_t len)
{
	cpm_random_alnum(out, len);
}
