/* Reading the start line and the header block of one MSRP message
 * (RFC 4975 §9). The block is already complete and bounded when we get
 * here (msrp_parse.c scans for it), so this code never has to resume. */
#include "msrp_priv.h"

#include <stddef.h>

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 3261 token characters: used for method names and header names. */
static bool is_tchar(char c)
{
	return is_alnum(c) || (c != '\0' && strchr("-.!%*_+`'~", c) != NULL);
}

static bool all_tchars(struct cpm_str s)
{
	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (!is_tchar(s.p[i]))
			return false;
	return true;
}

static bool is_ident_char(char c)
{
	return is_alnum(c) || c == '.' || c == '-' || c == '+' || c == '%' || c == '=';
}

bool msrp_is_ident(const char *s, size_t n)
{
	if (n < 4 || n > MSRP_TID_MAX || !is_alnum(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_ident_char(s[i]))
			return false;
	return true;
}

bool msrp_text_valid(struct cpm_str s)
{
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

/* Exactly three digits, as in status codes and the Status namespace. */
static bool three_digits(const char *p, int *out)
{
	if (!is_digit(p[0]) || !is_digit(p[1]) || !is_digit(p[2]))
		return false;
	*out = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	return true;
}

static enum msrp_method method_of(struct cpm_str name)
{
	/* Method names are case-sensitive (RFC 4975 §9). */
	if (cpm_str_eq(name, "SEND"))
		return MSRP_METHOD_SEND;
	if (cpm_str_eq(name, "REPORT"))
		return MSRP_METHOD_REPORT;
	if (cpm_str_eq(name, "AUTH"))
		return MSRP_METHOD_AUTH;
	return MSRP_METHOD_OTHER;
}

/* "NNN" or "NNN SP comment" after the tid of a response. */
static enum msrp_error start_response(struct cpm_str rest, struct msrp_start *st)
{
	if (rest.len < 3 || !three_digits(rest.p, &st->status))
		return MSRP_E_START_LINE;
	if (rest.len == 3)
		return MSRP_OK;
	if (rest.p[3] != ' ')
		return MSRP_E_START_LINE;
	st->comment = (struct cpm_str){rest.p + 4, rest.len - 4};
	return msrp_text_valid(st->comment) ? MSRP_OK : MSRP_E_START_LINE;
}

enum msrp_error msrp_start_parse(struct cpm_str line, struct msrp_start *st)
{
	memset(st, 0, sizeof *st);
	/* "MSRP" is case-sensitive: a lowercase "msrp" is not our protocol. */
	if (line.len < 5 || memcmp(line.p, "MSRP ", 5) != 0)
		return MSRP_E_START_LINE;
	struct cpm_str rest = {line.p + 5, line.len - 5};
	const char *sp = memchr(rest.p, ' ', rest.len);
	if (!sp)
		return MSRP_E_START_LINE;
	st->tid = (struct cpm_str){rest.p, (size_t)(sp - rest.p)};
	if (!msrp_is_ident(st->tid.p, st->tid.len))
		return MSRP_E_TID;
	rest.len -= st->tid.len + 1;
	rest.p = sp + 1;
	if (rest.len == 0)
		return MSRP_E_START_LINE;
	if (is_digit(rest.p[0]))
		return start_response(rest, st);
	/* Tolerate trailing blanks after the method; nothing else may follow. */
	st->method_name = cpm_str_trim(rest);
	if (st->method_name.p != rest.p || !all_tchars(st->method_name))
		return MSRP_E_START_LINE;
	st->method = method_of(st->method_name);
	return MSRP_OK;
}

/* Digits or '*' (when star_ok), capped at MSRP_MAX_RANGE_VALUE. */
static bool range_value(struct cpm_str s, bool star_ok, uint64_t *out)
{
	if (star_ok && s.len == 1 && s.p[0] == '*') {
		*out = MSRP_RANGE_STAR;
		return true;
	}
	return cpm_str_to_u64_max(s, MSRP_MAX_RANGE_VALUE, out);
}

bool msrp_range_valid(const struct msrp_byte_range *r)
{
	bool end_num = r->end != MSRP_RANGE_STAR, tot_num = r->total != MSRP_RANGE_STAR;

	if (r->start < 1 || r->start > MSRP_MAX_RANGE_VALUE)
		return false;
	if (end_num && (r->end > MSRP_MAX_RANGE_VALUE || r->end + 1 < r->start))
		return false;
	if (tot_num && (r->total > MSRP_MAX_RANGE_VALUE || r->start > r->total + 1))
		return false;
	if (end_num && tot_num && r->end > r->total)
		return false;
	return true;
}

/* "start-end/total"; end and total may be '*' (RFC 4975 §9). */
static enum msrp_error parse_byte_range(struct cpm_str v, struct msrp_byte_range *r)
{
	const char *dash = memchr(v.p, '-', v.len);
	const char *slash = memchr(v.p, '/', v.len);
	if (!dash || !slash || slash < dash)
		return MSRP_E_BYTE_RANGE;
	struct cpm_str a = {v.p, (size_t)(dash - v.p)};
	struct cpm_str b = {dash + 1, (size_t)(slash - dash - 1)};
	struct cpm_str c = {slash + 1, (size_t)(v.p + v.len - slash - 1)};
	if (!range_value(a, false, &r->start) || !range_value(b, true, &r->end) ||
	    !range_value(c, true, &r->total) || !msrp_range_valid(r))
		return MSRP_E_BYTE_RANGE;
	return MSRP_OK;
}

/* "000 200 OK": namespace, code, optional comment. */
static enum msrp_error parse_status(struct msrp_msg *m, struct cpm_str v)
{
	int ns;

	if (v.len < 7 || !three_digits(v.p, &ns) || v.p[3] != ' ' ||
	    !three_digits(v.p + 4, &m->status_code))
		return MSRP_E_STATUS;
	if (v.len > 7) {
		if (v.p[7] != ' ')
			return MSRP_E_STATUS;
		m->status_comment = (struct cpm_str){v.p + 8, v.len - 8};
	}
	m->has_status = true;
	return MSRP_OK;
}

static bool report_mode(struct cpm_str v, bool partial_ok, enum msrp_report_mode *out)
{
	if (cpm_str_caseeq(v, "yes"))
		*out = MSRP_REPORT_YES;
	else if (cpm_str_caseeq(v, "no"))
		*out = MSRP_REPORT_NO;
	else if (partial_ok && cpm_str_caseeq(v, "partial"))
		*out = MSRP_REPORT_PARTIAL;
	else
		return false;
	return true;
}

/* To-Path must be the first header and From-Path the second (§9). */
static enum msrp_error path_header(struct msrp_msg *m, size_t idx, struct cpm_str name,
				   struct cpm_str v)
{
	bool is_to = cpm_str_caseeq(name, "To-Path");
	bool is_from = cpm_str_caseeq(name, "From-Path");

	if ((idx == 0 && !is_to) || (idx == 1 && !is_from) || (idx > 1 && (is_to || is_from)))
		return MSRP_E_PATHS;
	if (!is_to && !is_from)
		return MSRP_OK;
	if (!msrp_path_valid(v))
		return MSRP_E_PATHS;
	if (is_to)
		m->to_path = v;
	else
		m->from_path = v;
	return MSRP_OK;
}

/* The headers the relay acts on. A repeated one is an error: two
 * different Byte-Ranges (say) would let two hops read two messages. */
static enum msrp_error known_header(struct msrp_msg *m, struct cpm_str name, struct cpm_str v)
{
	if (cpm_str_caseeq(name, "Message-ID")) {
		if (m->message_id.len || !msrp_is_ident(v.p, v.len))
			return MSRP_E_MESSAGE_ID;
		m->message_id = v;
	} else if (cpm_str_caseeq(name, "Byte-Range")) {
		if (m->has_byte_range || parse_byte_range(v, &m->range))
			return MSRP_E_BYTE_RANGE;
		m->has_byte_range = true;
	} else if (cpm_str_caseeq(name, "Success-Report")) {
		if (m->success_report || !report_mode(v, false, &m->success_report))
			return MSRP_E_REPORT_HDR;
	} else if (cpm_str_caseeq(name, "Failure-Report")) {
		if (m->failure_report || !report_mode(v, true, &m->failure_report))
			return MSRP_E_REPORT_HDR;
	} else if (cpm_str_caseeq(name, "Status")) {
		if (m->has_status)
			return MSRP_E_STATUS;
		return parse_status(m, v);
	} else if (cpm_str_caseeq(name, "Content-Type")) {
		if (m->method == MSRP_METHOD_NONE)
			return MSRP_E_BODY_IN_RESPONSE;
		if (m->has_body || v.len == 0)
			return MSRP_E_HEADER_SYNTAX;
		m->content_type = v;
		m->has_body = true;
	}
	return MSRP_OK;
}

/* "Name: value". Liberal: the SP after the colon may be missing, and
 * blanks around the value are dropped. */
static enum msrp_error header_line(struct msrp_msg *m, struct cpm_str line)
{
	const char *colon = memchr(line.p, ':', line.len);
	if (!colon)
		return MSRP_E_HEADER_SYNTAX;
	struct cpm_str name = {line.p, (size_t)(colon - line.p)};
	struct cpm_str v = {colon + 1, (size_t)(line.p + line.len - colon - 1)};
	v = cpm_str_trim(v);
	if (!all_tchars(name) || !msrp_text_valid(v))
		return MSRP_E_HEADER_SYNTAX;
	if (m->nheaders == MSRP_MAX_HEADERS)
		return MSRP_E_TOO_MANY_HEADERS;
	size_t idx = m->nheaders++;
	m->headers[idx] = (struct msrp_header){name, v};
	enum msrp_error e = path_header(m, idx, name, v);
	return e ? e : known_header(m, name, v);
}

static void set_start(struct msrp_msg *m, const struct msrp_start *st)
{
	memcpy(m->tid, st->tid.p, st->tid.len);
	m->tid[st->tid.len] = '\0';
	m->method = st->method;
	m->method_name = st->method_name;
	m->status = st->status;
	m->comment = st->comment;
}

enum msrp_error msrp_head_parse(struct msrp_msg *m, const char *block, size_t len)
{
	struct msrp_start st;

	/* The store is overwritten, not cleared: clearing 8 KiB per message
	 * would cost more than the parse. */
	memset(m, 0, offsetof(struct msrp_msg, store));
	if (len > sizeof m->store)
		return MSRP_E_HEADERS_TOO_BIG;
	memcpy(m->store, block, len);

	const char *p = m->store, *end = m->store + len;
	const char *eol = memmem(p, len, "\r\n", 2);
	if (!eol)
		return MSRP_E_START_LINE;
	enum msrp_error e = msrp_start_parse((struct cpm_str){p, (size_t)(eol - p)}, &st);
	if (e)
		return e;
	set_start(m, &st);
	for (p = eol + 2; p < end; p = eol + 2) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol)
			return MSRP_E_HEADER_SYNTAX;
		e = header_line(m, (struct cpm_str){p, (size_t)(eol - p)});
		if (e)
			return e;
	}
	return MSRP_OK;
}

bool msrp_msg_header(const struct msrp_msg *m, const char *name, struct cpm_str *value)
{
	for (size_t i = 0; i < m->nheaders; i++) {
		if (cpm_str_caseeq(m->headers[i].name, name)) {
			if (value)
				*value = m->headers[i].value;
			return true;
		}
	}
	return false;
}
