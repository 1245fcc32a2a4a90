/* RFC 2046 §5.1 multipart: split a body into parts (slices into the
 * caller's buffer) and build one. */
#include "cpm/mime.h"

#include "cpm/wbuf.h"

#include <string.h>
#include <strings.h>

const char *mime_strerror(enum mime_error e)
{
	switch (e) {
	case MIME_OK: return "ok";
	case MIME_E_TOO_BIG: return "multipart body too big";
	case MIME_E_NO_BOUNDARY: return "no valid boundary parameter";
	case MIME_E_SYNTAX: return "malformed multipart body";
	case MIME_E_TOO_MANY_PARTS: return "too many body parts";
	}
	return "unknown MIME error";
}

/* ---- delimiters ---------------------------------------------------------- */

struct delim {
	size_t before;  /* end of the previous part: the line break before "--" */
	size_t after;   /* first byte after the delimiter line */
	bool close;     /* "--boundary--" */
};

/* After "--boundary" at k: optional "--", transport padding, then a line
 * break or the end of the body. Anything else means the text only starts
 * with the boundary and is not a delimiter. */
static bool delim_tail(const char *b, size_t len, size_t k, struct delim *d)
{
	d->close = false;
	if (len - k >= 2 && b[k] == '-' && b[k + 1] == '-') {
		d->close = true;
		k += 2;
	}
	while (k < len && (b[k] == ' ' || b[k] == '\t'))
		k++;
	if (k == len) {
		d->after = k;
		return true;
	}
	if (b[k] == '\n' || (b[k] == '\r' && k + 1 < len && b[k + 1] == '\n')) {
		d->after = k + (b[k] == '\r' ? 2 : 1);
		return true;
	}
	return false;
}

/* First delimiter at or after `from`: "--boundary" at the start of a line
 * (or at offset 0). An occurrence in the middle of a line is body text. */
static bool find_delim(const char *b, size_t len, size_t from,
		       const char *dash_bnd, size_t dlen, struct delim *d)
{
	size_t pos = from;

	while (pos < len && len - pos >= dlen) {
		const char *hit = memmem(b + pos, len - pos, dash_bnd, dlen);
		size_t h;

		if (!hit)
			return false;
		h = (size_t)(hit - b);
		pos = h + 1;
		if (h != 0 && b[h - 1] != '\n')
			continue;
		if (!delim_tail(b, len, h + dlen, d))
			continue;
		if (h >= 2 && b[h - 1] == '\n' && b[h - 2] == '\r')
			d->before = h - 2;
		else if (h >= 1)
			d->before = h - 1;
		else
			d->before = 0;
		return true;
	}
	return false;
}

/* ---- part headers -------------------------------------------------------- */

/* One line starting at p[i]: returns its length without the line break and
 * sets *next to the start of the following line. */
static size_t line_at(const char *p, size_t len, size_t i, size_t *next)
{
	const char *nl = memchr(p + i, '\n', len - i);
	size_t end = nl ? (size_t)(nl - p) : len;

	*next = nl ? end + 1 : len;
	if (end > i && p[end - 1] == '\r')
		end--;
	return end - i;
}

static bool is_ftext(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

static struct cpm_str trim_ws(struct cpm_str s)
{
	while (s.len && (s.p[0] == ' ' || s.p[0] == '\t' || s.p[0] == '\r' || s.p[0] == '\n')) {
		s.p++;
		s.len--;
	}
	while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t' ||
			 s.p[s.len - 1] == '\r' || s.p[s.len - 1] == '\n'))
		s.len--;
	return s;
}

/* Store a finished header (name, value including any folded lines) in the
 * field it names. The first occurrence wins. */
static void store_header(struct mime_part *part, struct cpm_str name, struct cpm_str value)
{
	static const struct {
		const char *name;
		size_t off;
	} known[] = {
		{ "Content-Type", offsetof(struct mime_part, content_type) },
		{ "Content-ID", offsetof(struct mime_part, content_id) },
		{ "Content-Transfer-Encoding", offsetof(struct mime_part, content_transfer_encoding) },
		{ "Content-Disposition", offsetof(struct mime_part, content_disposition) },
	};

	for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
		struct cpm_str *f = (struct cpm_str *)((char *)part + known[k].off);
		if (cpm_str_caseeq(name, known[k].name) && !f->p) {
			*f = trim_ws(value);
			if (!f->p)
				f->p = value.p;
			return;
		}
	}
}

/* Header name of a line "Name: value" (WSP before the colon tolerated). */
static bool header_name(const char *p, size_t n, struct cpm_str *name, size_t *colon)
{
	size_t i = 0;

	while (i < n && is_ftext((unsigned char)p[i]))
		i++;
	if (i == 0)
		return false;
	*name = (struct cpm_str){p, i};
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i >= n || p[i] != ':')
		return false;
	*colon = i;
	return true;
}

/* Headers end at the first blank line; a part with no blank line is all
 * headers and an empty body. A line that is neither a header nor a
 * continuation is a syntax error. */
static enum mime_error parse_part(const char *p, size_t len, struct mime_part *part)
{
	struct cpm_str name = CPM_STR_NULL;
	size_t i = 0, next, n, colon, vstart = 0, vend = 0, count = 0;

	memset(part, 0, sizeof *part);
	part->headers = (struct cpm_str){p, 0};
	part->body = (struct cpm_str){p + len, 0};
	while (i < len) {
		n = line_at(p, len, i, &next);
		if (n == 0) {
			part->body = (struct cpm_str){p + next, len - next};
			break;
		}
		if (p[i] == ' ' || p[i] == '\t') {
			if (!name.p)
				return MIME_E_SYNTAX;
		} else {
			if (name.p)
				store_header(part, name, (struct cpm_str){p + vstart, vend - vstart});
			if (++count > MIME_MAX_PART_HEADERS || !header_name(p + i, n, &name, &colon))
				return MIME_E_SYNTAX;
			vstart = i + colon + 1;
		}
		vend = i + n;
		part->headers.len = next;
		i = next;
	}
	if (name.p)
		store_header(part, name, (struct cpm_str){p + vstart, vend - vstart});
	return MIME_OK;
}

/* ---- parse --------------------------------------------------------------- */

enum mime_error mime_multipart_parse(const char *body, size_t len, const char *boundary,
				     struct mime_part *parts, size_t max_parts, size_t *nparts)
{
	char dash_bnd[2 + MIME_MAX_BOUNDARY];
	size_t blen = boundary ? strnlen(boundary, MIME_MAX_BOUNDARY + 1) : 0;
	struct delim d, nd;

	*nparts = 0;
	if (len > MIME_MAX_BODY)
		return MIME_E_TOO_BIG;
	if (blen == 0 || blen > MIME_MAX_BOUNDARY)
		return MIME_E_NO_BOUNDARY;
	if (len && !body)
		return MIME_E_SYNTAX;
	dash_bnd[0] = dash_bnd[1] = '-';
	memcpy(dash_bnd + 2, boundary, blen);

	/* Preamble: everything before the first delimiter is ignored. */
	if (!find_delim(body, len, 0, dash_bnd, blen + 2, &d))
		return MIME_E_SYNTAX;
	while (!d.close) {
		size_t start = d.after;
		enum mime_error e;

		if (!find_delim(body, len, start, dash_bnd, blen + 2, &nd))
			return MIME_E_SYNTAX;   /* no close delimiter */
		if (*nparts == max_parts)
			return MIME_E_TOO_MANY_PARTS;
		/* "--b\r\n--b": the line break is shared, the part is empty. */
		if (nd.before < start)
			nd.before = start;
		e = parse_part(body + start, nd.before - start, &parts[*nparts]);
		if (e != MIME_OK)
			return e;
		(*nparts)++;
		d = nd;
	}
	return MIME_OK;                 /* the epilogue is ignored */
}

/* ---- lookup -------------------------------------------------------------- */

const struct mime_part *mime_find_type(const struct mime_part *parts, size_t n, const char *type)
{
	if (!type)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		struct cpm_str t = mime_type_only(parts[i].content_type);
		/* RFC 2045 §5.2: a part without Content-Type is text/plain. */
		if (t.len == 0)
			t = cpm_str_c("text/plain");
		if (cpm_str_caseeq(t, type))
			return &parts[i];
	}
	return NULL;
}

/* "<x>", "x" and "cid:x" all name x: file-icon carries "cid:x" (RFC 2392),
 * the part header carries "<x>" (pitfall 15). */
static struct cpm_str bare_cid(struct cpm_str s)
{
	s = trim_ws(s);
	if (s.len >= 4 && strncasecmp(s.p, "cid:", 4) == 0) {
		s.p += 4;
		s.len -= 4;
	}
	if (s.len >= 2 && s.p[0] == '<' && s.p[s.len - 1] == '>') {
		s.p++;
		s.len -= 2;
	}
	return s;
}

const struct mime_part *mime_find_cid(const struct mime_part *parts, size_t n, struct cpm_str cid)
{
	struct cpm_str want;

	if (!cid.p)
		return NULL;
	want = bare_cid(cid);
	if (want.len == 0)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		struct cpm_str have;
		if (!parts[i].content_id.p)
			continue;
		have = bare_cid(parts[i].content_id);
		if (have.len == want.len && memcmp(have.p, want.p, want.len) == 0)
			return &parts[i];
	}
	return NULL;
}

/* ---- build --------------------------------------------------------------- */

/* Would "--boundary" appear at the start of a line of s (which itself
 * starts at a line start)? Then the parser would cut the part there. */
static bool has_delim(struct cpm_str s, const char *dash_bnd, size_t dlen)
{
	size_t pos = 0;

	while (pos < s.len && s.len - pos >= dlen) {
		const char *hit = memmem(s.p + pos, s.len - pos, dash_bnd, dlen);
		size_t h;

		if (!hit)
			return false;
		h = (size_t)(hit - s.p);
		if (h == 0 || s.p[h - 1] == '\n')
			return true;
		pos = h + 1;
	}
	return false;
}

static bool build_valid(const char *boundary, size_t blen, const char *dash_bnd,
			const struct mime_part_out *parts, size_t n)
{
	if (blen == 0 || blen > MIME_MAX_BOUNDARY || boundary[blen - 1] == ' ')
		return false;
	for (size_t i = 0; i < blen; i++)
		if ((unsigned char)boundary[i] < 0x20 || (unsigned char)boundary[i] > 0x7e)
			return false;
	for (size_t i = 0; i < n; i++) {
		if ((parts[i].headers.len && !parts[i].headers.p) ||
		    (parts[i].body.len && !parts[i].body.p))
			return false;
		if (has_delim(parts[i].headers, dash_bnd, blen + 2) ||
		    has_delim(parts[i].body, dash_bnd, blen + 2))
			return false;
	}
	return true;
}

int mime_multipart_build(char *buf, size_t cap, const char *boundary,
			 const struct mime_part_out *parts, size_t n)
{
	char dash_bnd[2 + MIME_MAX_BOUNDARY];
	size_t blen = boundary ? strnlen(boundary, MIME_MAX_BOUNDARY + 1) : 0;
	struct cpm_wbuf w = cpm_wbuf_text(buf, cap);

	if (cap == 0 || blen == 0 || blen > MIME_MAX_BOUNDARY)
		return -1;
	dash_bnd[0] = dash_bnd[1] = '-';
	memcpy(dash_bnd + 2, boundary, blen);
	if (!build_valid(boundary, blen, dash_bnd, parts, n))
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct cpm_str h = parts[i].headers;
		cpm_wbuf_put(&w, dash_bnd, blen + 2);
		cpm_wbuf_put(&w, "\r\n", 2);
		cpm_wbuf_put_str(&w, h);
		/* Tolerate a last header line given without its CRLF. */
		if (h.len && h.p[h.len - 1] != '\n')
			cpm_wbuf_put(&w, "\r\n", 2);
		cpm_wbuf_put(&w, "\r\n", 2);
		cpm_wbuf_put_str(&w, parts[i].body);
		cpm_wbuf_put(&w, "\r\n", 2);
	}
	cpm_wbuf_put(&w, dash_bnd, blen + 2);
	cpm_wbuf_put(&w, "--\r\n", 4);
	return cpm_wbuf_finish(&w);
}
