/* The MSRP stream parser: finds message boundaries in a byte stream cut
 * anywhere (contract in include/cpm/msrp.h, notes in
 * docs/internals/msrp.md).
 *
 * Three states:
 *   HEAD  scan complete lines of the header block without consuming them;
 *         when the blank line (body follows) or the end-line (no body) is
 *         seen, copy the block into msg->store and parse it in one go.
 *         p->head_off remembers how far the scan got, so a header block
 *         that trickles in byte by byte is still scanned only once.
 *   BODY  hand out body bytes as slices of the input, found with memmem()
 *         for CRLF "-------" tid; only a possible end-line prefix is held.
 *   SKIP  like BODY, but the bytes are dropped: the rest of a message that
 *         failed with a non-fatal error.
 * FATAL is sticky: the start line was unreadable, so no end-line can be
 * known and the stream cannot be resynced.
 */
#include "msrp_priv.h"

enum { ST_HEAD = 0, ST_BODY, ST_SKIP, ST_FATAL };

/* How the header block ended. */
enum term {
	TERM_LIMIT,    /* not at all: a line or block limit was hit */
	TERM_BLANK,    /* empty line: a body follows */
	TERM_END_LINE, /* "-------" tid flag: no body */
	TERM_DASHES,   /* a line starting with "-------" that is not our end-line */
};

enum match { MATCH_NO, MATCH_PARTIAL, MATCH_FULL };

void msrp_parser_init(struct msrp_parser *p)
{
	memset(p, 0, offsetof(struct msrp_parser, msg));
	memset(&p->msg, 0, offsetof(struct msrp_msg, store));
	p->head_off = 0;
	p->failed = MSRP_OK;
	p->state = ST_HEAD;
}

static bool is_flag(char c)
{
	return c == MSRP_FLAG_MORE || c == MSRP_FLAG_END || c == MSRP_FLAG_ABORT;
}

/* flag CRLF after a matched marker; k bytes are present. */
static enum match match_tail(const char *t, size_t k, char *flag)
{
	if (k == 0)
		return MATCH_PARTIAL;
	if (!is_flag(t[0]))
		return MATCH_NO;
	*flag = t[0];
	if (k == 1)
		return MATCH_PARTIAL;
	if (t[1] != '\r')
		return MATCH_NO;
	if (k == 2)
		return MATCH_PARTIAL;
	return t[2] == '\n' ? MATCH_FULL : MATCH_NO;
}

/* Does d[0..n) start with pat, flag, CRLF (or a prefix of that)? */
static enum match match_end(const char *pat, size_t plen, const char *d, size_t n, char *flag)
{
	size_t k = n < plen ? n : plen;

	if (memcmp(d, pat, k) != 0)
		return MATCH_NO;
	if (n < plen)
		return MATCH_PARTIAL;
	return match_tail(d + plen, n - plen, flag);
}

static bool fatal(struct msrp_parser *p, struct msrp_event *ev, enum msrp_error e)
{
	p->state = ST_FATAL;
	p->failed = e;
	ev->type = MSRP_EV_ERROR;
	ev->error = e;
	ev->fatal = true;
	ev->msg = NULL;
	return true;
}

static bool need_more(struct msrp_event *ev)
{
	ev->type = MSRP_EV_NEED_MORE;
	return true;
}

/* The start line alone decides the end-line we will look for. */
static enum msrp_error set_marker(struct msrp_parser *p, const char *line, size_t len)
{
	struct msrp_start st;
	enum msrp_error e = msrp_start_parse((struct cpm_str){line, len}, &st);
	if (e)
		return e;
	memcpy(p->end_marker, "\r\n-------", 9);
	memcpy(p->end_marker + 9, st.tid.p, st.tid.len);
	p->end_len = 9 + st.tid.len;
	return MSRP_OK;
}

static enum msrp_error check_terminator(const struct msrp_msg *m, enum term t)
{
	if (t == TERM_DASHES)
		return MSRP_E_HEADER_SYNTAX;
	if (m->nheaders < 2)
		return MSRP_E_PATHS;
	if (m->method == MSRP_METHOD_NONE)
		return t == TERM_BLANK ? MSRP_E_BODY_IN_RESPONSE : MSRP_OK;
	if ((m->method == MSRP_METHOD_SEND || m->method == MSRP_METHOD_REPORT) && !m->message_id.len)
		return MSRP_E_MESSAGE_ID;
	if (m->method == MSRP_METHOD_REPORT && !m->has_status)
		return MSRP_E_STATUS;
	/* A body comes with a Content-Type and a blank line, or not at all. */
	if ((t == TERM_BLANK) != m->has_body)
		return MSRP_E_HEADER_SYNTAX;
	return MSRP_OK;
}

/* Non-fatal error: report it with the tid, then drop the message. Where
 * the skip starts depends on how far the header block got:
 *  - ended by our end-line: the whole message is dropped now;
 *  - ended by a blank line: skip the body like a body (its start may
 *    hold the end-line without a CRLF before it);
 *  - otherwise: back up to the CRLF that ended the last good line, so the
 *    search for CRLF "-------" tid sees it. No end-line can hide in the
 *    lines before: each was checked not to start with "-------". */
static bool head_error(struct msrp_parser *p, size_t off, enum term t, size_t term_len,
		       enum msrp_error e, size_t *used, struct msrp_event *ev)
{
	p->body_started = false;
	p->body_bytes = 0;
	if (t == TERM_END_LINE) {
		*used = off + term_len;
		p->state = ST_HEAD;
	} else if (t == TERM_BLANK) {
		*used = off + 2;
		p->state = ST_SKIP;
	} else {
		*used = off - 2;
		p->state = ST_SKIP;
		p->body_started = true;
	}
	ev->type = MSRP_EV_ERROR;
	ev->error = e;
	ev->msg = &p->msg;
	return true;
}

/* The header block d[0..off) is complete (or was cut by a limit, e_limit). */
static bool head_done(struct msrp_parser *p, const char *d, size_t off, enum term t,
		      size_t term_len, enum msrp_error e_limit, size_t *used,
		      struct msrp_event *ev)
{
	enum msrp_error e = msrp_head_parse(&p->msg, d, off);

	p->head_off = 0;
	if (e == MSRP_E_START_LINE || e == MSRP_E_TID)
		return fatal(p, ev, e); /* the bytes changed under us */
	if (!e)
		e = t == TERM_LIMIT ? e_limit : check_terminator(&p->msg, t);
	if (e)
		return head_error(p, off, t, term_len, e, used, ev);

	/* A bodiless message's end-line is left in place: BODY state reads a
	 * bare end-line at its start as the end of an empty body. */
	*used = t == TERM_BLANK ? off + 2 : off;
	p->state = ST_BODY;
	p->body_started = false;
	p->body_bytes = 0;
	ev->type = MSRP_EV_MSG;
	ev->msg = &p->msg;
	return true;
}

/* The first bytes of a stream tell at once whether it is MSRP at all. */
static bool start_prefix_ok(const char *d, size_t n)
{
	return memcmp(d, "MSRP ", n < 5 ? n : 5) == 0;
}

/* Classify a complete line of the header block (not the start line). */
static enum term line_term(const struct msrp_parser *p, const char *s, size_t len, bool *is_term)
{
	size_t plen = p->end_len - 2; /* "-------" tid, without the CRLF */

	*is_term = true;
	if (len == 0)
		return TERM_BLANK;
	if (len >= 7 && memcmp(s, "-------", 7) == 0) {
		if (len == plen + 1 && memcmp(s, p->end_marker + 2, plen) == 0 && is_flag(s[plen]))
			return TERM_END_LINE;
		return TERM_DASHES;
	}
	*is_term = false;
	return TERM_LIMIT;
}

/* Lines are never consumed one by one: the previous message's store stays
 * valid until this one's MSG, and the scan offset makes rescans cheap.
 * Limits are checked by position (a line must end within MSRP_MAX_LINE,
 * the block within MSRP_MAX_HEADER_BYTES), so the outcome never depends
 * on how the stream was cut. */
static bool head_step(struct msrp_parser *p, const char *d, size_t n, size_t *used,
		      struct msrp_event *ev)
{
	if (n < p->head_off)
		p->head_off = 0; /* caller broke the contract: rescan */
	if (!start_prefix_ok(d, n))
		return fatal(p, ev, MSRP_E_START_LINE);
	for (;;) {
		size_t off = p->head_off;
		size_t room = MSRP_MAX_HEADER_BYTES - off;
		size_t lim = room < MSRP_MAX_LINE + 2 ? room : MSRP_MAX_LINE + 2;
		size_t avail = n - off, w = avail < lim ? avail : lim;
		const char *eol = w >= 2 ? memmem(d + off, w, "\r\n", 2) : NULL;

		if (!eol) {
			if (avail < lim)
				return need_more(ev);
			if (off == 0)
				return fatal(p, ev, MSRP_E_LINE_TOO_LONG);
			return head_done(p, d, off, TERM_LIMIT, 0,
					 lim == room ? MSRP_E_HEADERS_TOO_BIG : MSRP_E_LINE_TOO_LONG,
					 used, ev);
		}
		size_t len = (size_t)(eol - (d + off));
		if (off == 0) {
			enum msrp_error e = set_marker(p, d, len);
			if (e)
				return fatal(p, ev, e);
		} else {
			bool is_term;
			enum term t = line_term(p, d + off, len, &is_term);
			if (is_term)
				return head_done(p, d, off, t, len + 2, MSRP_OK, used, ev);
		}
		p->head_off = off + len + 2;
	}
}

static bool body_end(struct msrp_parser *p, char flag, bool deliver, struct msrp_event *ev)
{
	p->state = ST_HEAD;
	if (!deliver)
		return false;
	ev->type = MSRP_EV_END;
	ev->flag = flag;
	ev->msg = &p->msg;
	return true;
}

/* Body bytes d[0..cut) are not part of an end-line: hand them out (BODY)
 * or drop them (SKIP). */
static bool body_out(struct msrp_parser *p, const char *d, size_t cut, bool deliver,
		     size_t *used, struct msrp_event *ev)
{
	if (cut == 0)
		return need_more(ev);
	*used = cut;
	p->body_started = true;
	if (!deliver)
		return false;
	p->body_bytes += cut;
	ev->type = MSRP_EV_BODY;
	ev->body = (struct cpm_str){d, cut};
	ev->msg = &p->msg;
	return true;
}

/* Where the unmatched tail d[from..n) could still begin the marker. */
static size_t tail_hold(const struct msrp_parser *p, const char *d, size_t n, size_t from)
{
	size_t L = p->end_len;

	if (n >= L && from < n - L + 1)
		from = n - L + 1;
	while (from < n) {
		const char *cr = memchr(d + from, '\r', n - from);
		if (!cr)
			return n;
		from = (size_t)(cr - d);
		if (memcmp(cr, p->end_marker, n - from) == 0)
			return from;
		from++;
	}
	return n;
}

/* BODY and SKIP. The body ends at the first CRLF "-------" tid flag CRLF;
 * any other "-------" (a wrong tid, a wrong flag, no CRLF) is data. */
static bool body_step(struct msrp_parser *p, const char *d, size_t n, bool deliver,
		      size_t *used, struct msrp_event *ev)
{
	size_t L = p->end_len, off = 0;
	char flag = 0;

	if (!p->body_started) {
		/* Right after the blank line (or for a bodiless message) the
		 * end-line may come without a CRLF of its own: accept it, a
		 * sloppy peer must not make us swallow the next messages. */
		switch (match_end(p->end_marker + 2, L - 2, d, n, &flag)) {
		case MATCH_FULL:
			*used = L - 2 + 3;
			return body_end(p, flag, deliver, ev);
		case MATCH_PARTIAL:
			return need_more(ev);
		case MATCH_NO:
			break;
		}
	}
	for (;;) {
		const char *hit = memmem(d + off, n - off, p->end_marker, L);
		if (!hit)
			break;
		size_t i = (size_t)(hit - d);
		enum match m = match_tail(hit + L, n - i - L, &flag);
		if (m == MATCH_PARTIAL)
			return body_out(p, d, i, deliver, used, ev);
		if (m == MATCH_FULL) {
			if (i > 0)
				return body_out(p, d, i, deliver, used, ev);
			*used = L + 3;
			return body_end(p, flag, deliver, ev);
		}
		off = i + 1;
	}
	return body_out(p, d, tail_hold(p, d, n, off), deliver, used, ev);
}

enum msrp_ev msrp_parse(struct msrp_parser *p, const char *data, size_t len, size_t *consumed,
			struct msrp_event *ev)
{
	size_t done = 0;

	memset(ev, 0, sizeof *ev);
	for (;;) {
		size_t used = 0;
		bool ready;

		/* Nothing to look at (data may even be NULL): ask for bytes. */
		if (done == len && p->state != ST_FATAL) {
			need_more(ev);
			break;
		}
		switch (p->state) {
		case ST_HEAD:
			ready = head_step(p, data + done, len - done, &used, ev);
			break;
		case ST_BODY:
			ready = body_step(p, data + done, len - done, true, &used, ev);
			break;
		case ST_SKIP:
			ready = body_step(p, data + done, len - done, false, &used, ev);
			break;
		default:
			ready = fatal(p, ev, p->failed ? p->failed : MSRP_E_START_LINE);
			break;
		}
		/* Every pass that is not ready consumed bytes, so this ends. */
		done += used;
		if (ready)
			break;
	}
	*consumed = done;
	return ev->type;
}
