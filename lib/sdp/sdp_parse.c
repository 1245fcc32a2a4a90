/* SDP parser for MSRP file transfer: reads a whole body (bounded by
 * SDP_MAX_BYTES), picks the first m=message TCP/MSRP media and fills
 * struct sdp_ft with bounded copies. Lines end in CRLF or LF. */
#include "cpm/sdp.h"

#include <string.h>
#include <strings.h>

/* Attributes we interpret, one bit each, to refuse duplicates: two a=path or
 * two file-transfer-ids leave no way to know which one the peer meant. */
enum attr_bit {
	A_PATH = 1 << 0, A_ACCEPT = 1 << 1, A_WRAPPED = 1 << 2, A_MAXSIZE = 1 << 3,
	A_SETUP = 1 << 4, A_DIR = 1 << 5, A_CEMA = 1 << 6, A_SELECTOR = 1 << 7,
	A_FTID = 1 << 8, A_DISP = 1 << 9, A_DATE = 1 << 10, A_ICON = 1 << 11,
	A_RANGE = 1 << 12, A_FPRINT = 1 << 13,
};

enum section { SEC_SESSION, SEC_OURS, SEC_OTHER };

struct sdp_pstate {
	struct sdp_ft *out;
	enum section sec;
	bool found;             /* our m= line has been seen */
	bool origin;
	unsigned seen;          /* enum attr_bit, media level */
	enum sdp_dir sess_dir;
	enum sdp_setup sess_setup;
};

const char *sdp_strerror(enum sdp_error e)
{
	switch (e) {
	case SDP_OK: return "ok";
	case SDP_E_TOO_BIG: return "SDP body too big";
	case SDP_E_LINE: return "malformed SDP line";
	case SDP_E_VERSION: return "missing or bad v= line";
	case SDP_E_ORIGIN: return "missing or bad o= line";
	case SDP_E_CONNECTION: return "bad c= line";
	case SDP_E_NO_MSRP_MEDIA: return "no m=message TCP/MSRP media";
	case SDP_E_MEDIA: return "bad m= line";
	case SDP_E_PATH: return "a=path missing or invalid";
	case SDP_E_SELECTOR: return "bad a=file-selector";
	case SDP_E_FILE_RANGE: return "bad a=file-range";
	case SDP_E_MAX_SIZE: return "bad a=max-size";
	case SDP_E_VALUE_TOO_LONG: return "SDP value too long";
	case SDP_E_ATTRIBUTE: return "malformed or duplicate attribute";
	}
	return "unknown SDP error";
}

/* ---- small helpers ------------------------------------------------------- */

static bool is_tchar(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x27) || c == 0x2a || c == 0x2b ||
	       c == 0x2d || c == 0x2e || (c >= 0x30 && c <= 0x39) ||
	       (c >= 0x41 && c <= 0x5a) || (c >= 0x5e && c <= 0x7e);
}

static bool is_token(struct cpm_str s)
{
	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (!is_tchar((unsigned char)s.p[i]))
			return false;
	return true;
}

/* Split on runs of spaces into at most max fields; returns the count, or
 * max + 1 when there are more. */
static size_t split_fields(struct cpm_str v, struct cpm_str *f, size_t max)
{
	size_t n = 0, i = 0;

	while (i < v.len) {
		size_t start;
		while (i < v.len && v.p[i] == ' ')
			i++;
		if (i == v.len)
			break;
		if (n == max)
			return max + 1;
		for (start = i; i < v.len && v.p[i] != ' '; i++)
			;
		f[n++] = (struct cpm_str){v.p + start, i - start};
	}
	return n;
}

static enum sdp_error copy_value(char *dst, size_t cap, struct cpm_str v)
{
	return cpm_str_copy(dst, cap, v) ? SDP_OK : SDP_E_VALUE_TOO_LONG;
}

bool sdp_accepts_type(const struct sdp_ft *s, const char *type)
{
	struct cpm_str f[64];
	size_t n = split_fields(cpm_str_c(s->accept_types), f, 64);

	if (n > 64)
		n = 64; /* a list longer than that: the first 64 decide */
	for (size_t i = 0; i < n; i++)
		if (cpm_str_eq(f[i], "*") || cpm_str_caseeq(f[i], type))
			return true;
	return false;
}

/* ---- session-level lines ------------------------------------------------- */

/* o= and c= fields: no control bytes (a tab would survive split_fields and
 * change the field count for the next parser). */
static bool field_ok(struct cpm_str s)
{
	for (size_t i = 0; i < s.len; i++)
		if ((unsigned char)s.p[i] < 0x20 || s.p[i] == 0x7f)
			return false;
	return s.len > 0;
}

/* nettype addrtype address, shared by o= and c=. */
static bool parse_addr(struct cpm_str *f, bool *ipv6)
{
	if (!cpm_str_eq(f[0], "IN"))
		return false;
	if (cpm_str_eq(f[1], "IP4"))
		*ipv6 = false;
	else if (cpm_str_eq(f[1], "IP6"))
		*ipv6 = true;
	else
		return false;
	return field_ok(f[2]);
}

static enum sdp_error parse_origin(struct sdp_pstate *st, struct cpm_str v)
{
	struct sdp_ft *out = st->out;
	struct cpm_str f[6];
	bool v6;

	if (st->origin || st->sec != SEC_SESSION)
		return SDP_E_ORIGIN;
	st->origin = true;
	if (split_fields(v, f, 6) != 6 || !field_ok(f[0]) ||
	    !cpm_str_to_u64_max(f[1], UINT64_MAX, &out->origin_sess_id) ||
	    !cpm_str_to_u64_max(f[2], UINT64_MAX, &out->origin_sess_version) ||
	    !parse_addr(f + 3, &v6))
		return SDP_E_ORIGIN;
	if (copy_value(out->origin_user, sizeof out->origin_user, f[0]) != SDP_OK ||
	    copy_value(out->origin_addr, sizeof out->origin_addr, f[5]) != SDP_OK)
		return SDP_E_VALUE_TOO_LONG;
	return SDP_OK;
}

/* Session c= is the default; our media's c= overrides it; c= of other media
 * is not ours to judge. */
static enum sdp_error parse_conn(struct sdp_pstate *st, struct cpm_str v)
{
	struct cpm_str f[3];
	bool v6;

	if (st->sec == SEC_OTHER)
		return SDP_OK;
	if (split_fields(v, f, 3) != 3 || !parse_addr(f, &v6))
		return SDP_E_CONNECTION;
	st->out->conn_ipv6 = v6;
	return copy_value(st->out->conn_addr, sizeof st->out->conn_addr, f[2]);
}

/* ---- m= ------------------------------------------------------------------ */

static const char *msrp_proto(struct cpm_str p)
{
	if (cpm_str_caseeq(p, "TCP/MSRP"))
		return "TCP/MSRP";
	if (cpm_str_caseeq(p, "TCP/TLS/MSRP"))
		return "TCP/TLS/MSRP";
	return NULL;
}

static enum sdp_error parse_media(struct sdp_pstate *st, struct cpm_str v)
{
	struct cpm_str f[4];
	const char *proto;
	uint64_t port;
	size_t n;

	if (st->found) {
		st->sec = SEC_OTHER;    /* only the first MSRP media is described */
		return SDP_OK;
	}
	n = split_fields(v, f, 4);
	if (n < 4)
		return SDP_E_MEDIA;
	proto = msrp_proto(f[2]);
	if (n > 4 || !cpm_str_caseeq(f[0], "message") || !proto || !cpm_str_eq(f[3], "*")) {
		st->sec = SEC_OTHER;
		return SDP_OK;
	}
	if (!cpm_str_to_u64_max(f[1], 65535, &port))
		return SDP_E_MEDIA;
	st->out->port = (uint16_t)port;
	strcpy(st->out->proto, proto);
	st->found = true;
	st->sec = SEC_OURS;
	return SDP_OK;
}

/* ---- a= (media level) ---------------------------------------------------- */

static bool has_scheme(struct cpm_str u, const char *s)
{
	size_t n = strlen(s);

	return u.len > n && strncasecmp(u.p, s, n) == 0;
}

static enum sdp_error a_path(struct sdp_pstate *st, struct cpm_str v)
{
	struct cpm_str rest = v;
	bool any = false;

	if (v.len > SDP_MAX_PATH)
		return SDP_E_VALUE_TOO_LONG;
	while (rest.len) {
		struct cpm_str u;
		size_t i = 0;
		while (i < rest.len && rest.p[i] != ' ')
			i++;
		u = (struct cpm_str){rest.p, i};
		if (i < rest.len)
			i++;
		rest = (struct cpm_str){rest.p + i, rest.len - i};
		if (u.len == 0)
			continue;
		if (!has_scheme(u, "msrp://") && !has_scheme(u, "msrps://"))
			return SDP_E_PATH;
		any = true;
	}
	if (!any)
		return SDP_E_PATH;
	return copy_value(st->out->path, sizeof st->out->path, v);
}

static enum sdp_error a_accept(struct sdp_pstate *st, struct cpm_str v)
{
	return copy_value(st->out->accept_types, sizeof st->out->accept_types, v);
}

static enum sdp_error a_wrapped(struct sdp_pstate *st, struct cpm_str v)
{
	return copy_value(st->out->accept_wrapped_types, sizeof st->out->accept_wrapped_types, v);
}

static enum sdp_error a_maxsize(struct sdp_pstate *st, struct cpm_str v)
{
	if (!cpm_str_to_u64_max(v, UINT64_MAX, &st->out->max_size))
		return SDP_E_MAX_SIZE;
	st->out->has_max_size = true;
	return SDP_OK;
}

static enum sdp_setup setup_of(struct cpm_str v)
{
	if (cpm_str_caseeq(v, "active"))
		return SDP_SETUP_ACTIVE;
	if (cpm_str_caseeq(v, "passive"))
		return SDP_SETUP_PASSIVE;
	if (cpm_str_caseeq(v, "actpass"))
		return SDP_SETUP_ACTPASS;
	if (cpm_str_caseeq(v, "holdconn"))
		return SDP_SETUP_HOLDCONN;
	return SDP_SETUP_NONE;
}

static enum sdp_error a_setup(struct sdp_pstate *st, struct cpm_str v)
{
	st->out->setup = setup_of(v);
	return st->out->setup == SDP_SETUP_NONE ? SDP_E_ATTRIBUTE : SDP_OK;
}

static enum sdp_error a_cema(struct sdp_pstate *st, struct cpm_str v)
{
	st->out->cema = true;
	return SDP_OK;
}

static enum sdp_error a_selector(struct sdp_pstate *st, struct cpm_str v)
{
	st->out->has_selector = true;
	return sdp_selector_parse(v, &st->out->sel);
}

static enum sdp_error a_token(char *dst, size_t cap, struct cpm_str v)
{
	if (v.len >= cap)
		return SDP_E_VALUE_TOO_LONG;
	if (!is_token(v))
		return SDP_E_ATTRIBUTE;
	return copy_value(dst, cap, v);
}

static enum sdp_error a_ftid(struct sdp_pstate *st, struct cpm_str v)
{
	return a_token(st->out->file_transfer_id, sizeof st->out->file_transfer_id, v);
}

static enum sdp_error a_disp(struct sdp_pstate *st, struct cpm_str v)
{
	return a_token(st->out->file_disposition, sizeof st->out->file_disposition, v);
}

static enum sdp_error a_date(struct sdp_pstate *st, struct cpm_str v)
{
	return copy_value(st->out->file_date, sizeof st->out->file_date, v);
}

static enum sdp_error a_icon(struct sdp_pstate *st, struct cpm_str v)
{
	return copy_value(st->out->file_icon, sizeof st->out->file_icon, v);
}

/* start-offset "-" stop-offset: 1-based, inclusive, stop "*" = end of file.
 * An empty or inverted range (stop < start) is refused. */
static enum sdp_error a_range(struct sdp_pstate *st, struct cpm_str v)
{
	const char *dash = memchr(v.p, '-', v.len);
	struct cpm_str a, b;
	uint64_t start, stop = 0;

	if (!dash)
		return SDP_E_FILE_RANGE;
	a = (struct cpm_str){v.p, (size_t)(dash - v.p)};
	b = (struct cpm_str){dash + 1, v.len - a.len - 1};
	if (!cpm_str_to_u64_max(a, MSRP_MAX_RANGE_VALUE, &start) || start == 0)
		return SDP_E_FILE_RANGE;
	if (!cpm_str_eq(b, "*") &&
	    (!cpm_str_to_u64_max(b, MSRP_MAX_RANGE_VALUE, &stop) || stop < start))
		return SDP_E_FILE_RANGE;
	st->out->has_file_range = true;
	st->out->range_start = start;
	st->out->range_stop = stop;
	return SDP_OK;
}

static enum sdp_error a_fprint(struct sdp_pstate *st, struct cpm_str v)
{
	return copy_value(st->out->fingerprint, sizeof st->out->fingerprint, v);
}

static enum sdp_dir dir_of(struct cpm_str name)
{
	if (cpm_str_caseeq(name, "sendrecv"))
		return SDP_DIR_SENDRECV;
	if (cpm_str_caseeq(name, "sendonly"))
		return SDP_DIR_SENDONLY;
	if (cpm_str_caseeq(name, "recvonly"))
		return SDP_DIR_RECVONLY;
	if (cpm_str_caseeq(name, "inactive"))
		return SDP_DIR_INACTIVE;
	return SDP_DIR_NONE;
}

struct attr_handler {
	const char *name;
	unsigned bit;
	enum sdp_error missing;         /* error when the value is absent */
	enum sdp_error (*fn)(struct sdp_pstate *, struct cpm_str);
};

/* missing == SDP_OK: a flag attribute, which must NOT carry a value. */
static const struct attr_handler media_attrs[] = {
	{ "path", A_PATH, SDP_E_PATH, a_path },
	{ "accept-types", A_ACCEPT, SDP_E_ATTRIBUTE, a_accept },
	{ "accept-wrapped-types", A_WRAPPED, SDP_E_ATTRIBUTE, a_wrapped },
	{ "max-size", A_MAXSIZE, SDP_E_MAX_SIZE, a_maxsize },
	{ "setup", A_SETUP, SDP_E_ATTRIBUTE, a_setup },
	{ "msrp-cema", A_CEMA, SDP_OK, a_cema },
	{ "file-transfer-id", A_FTID, SDP_E_ATTRIBUTE, a_ftid },
	{ "file-disposition", A_DISP, SDP_E_ATTRIBUTE, a_disp },
	{ "file-date", A_DATE, SDP_E_ATTRIBUTE, a_date },
	{ "file-icon", A_ICON, SDP_E_ATTRIBUTE, a_icon },
	{ "file-range", A_RANGE, SDP_E_FILE_RANGE, a_range },
	{ "fingerprint", A_FPRINT, SDP_E_ATTRIBUTE, a_fprint },
};

static enum sdp_error media_attr(struct sdp_pstate *st, struct cpm_str name,
				 struct cpm_str v, bool has_v)
{
	enum sdp_dir d = dir_of(name);

	if (d != SDP_DIR_NONE) {
		if (has_v || (st->seen & A_DIR))
			return SDP_E_ATTRIBUTE;
		st->seen |= A_DIR;
		st->out->dir = d;
		return SDP_OK;
	}
	/* "a=file-selector" alone is legal: the value is optional (§6). */
	if (cpm_str_caseeq(name, "file-selector")) {
		if (st->seen & A_SELECTOR)
			return SDP_E_SELECTOR;
		st->seen |= A_SELECTOR;
		return a_selector(st, v);
	}
	for (size_t i = 0; i < sizeof media_attrs / sizeof media_attrs[0]; i++) {
		const struct attr_handler *h = &media_attrs[i];
		if (!cpm_str_caseeq(name, h->name))
			continue;
		if (st->seen & h->bit)
			return SDP_E_ATTRIBUTE;
		st->seen |= h->bit;
		if (h->missing == SDP_OK ? has_v : (!has_v || v.len == 0))
			return h->missing == SDP_OK ? SDP_E_ATTRIBUTE : h->missing;
		return h->fn(st, v);
	}
	return SDP_OK;                  /* unknown attribute: ignored */
}

/* Session level: only direction and setup matter (media level wins). */
static enum sdp_error session_attr(struct sdp_pstate *st, struct cpm_str name,
				   struct cpm_str v, bool has_v)
{
	enum sdp_dir d = dir_of(name);

	if (d != SDP_DIR_NONE) {
		if (has_v)
			return SDP_E_ATTRIBUTE;
		st->sess_dir = d;
	} else if (cpm_str_caseeq(name, "setup")) {
		st->sess_setup = setup_of(v);
		if (st->sess_setup == SDP_SETUP_NONE)
			return SDP_E_ATTRIBUTE;
	}
	return SDP_OK;
}

static enum sdp_error parse_attr(struct sdp_pstate *st, struct cpm_str line)
{
	const char *colon = memchr(line.p, ':', line.len);
	struct cpm_str name = line, v = CPM_STR_NULL;
	bool has_v = colon != NULL;

	if (has_v) {
		name.len = (size_t)(colon - line.p);
		v = cpm_str_trim((struct cpm_str){colon + 1, line.len - name.len - 1});
	}
	/* "a=sendonly " must not become an unknown (ignored) attribute. */
	name = cpm_str_trim(name);
	if (st->sec == SEC_SESSION)
		return session_attr(st, name, v, has_v);
	if (st->sec == SEC_OURS)
		return media_attr(st, name, v, has_v);
	return SDP_OK;
}

/* ---- lines --------------------------------------------------------------- */

/* Next non-empty line without its CRLF/LF. A stray CR or a NUL inside a line
 * is refused: both would change meaning between us and the next parser. */
static enum sdp_error next_line(struct cpm_str *rest, struct cpm_str *line, bool *eof)
{
	*eof = false;
	for (;;) {
		const char *nl;
		size_t n, adv;

		if (rest->len == 0) {
			*eof = true;
			return SDP_OK;
		}
		nl = memchr(rest->p, '\n', rest->len);
		n = nl ? (size_t)(nl - rest->p) : rest->len;
		adv = nl ? n + 1 : n;
		*line = (struct cpm_str){rest->p, n};
		rest->p += adv;
		rest->len -= adv;
		if (line->len && line->p[line->len - 1] == '\r')
			line->len--;
		if (line->len > SDP_MAX_LINE)
			return SDP_E_LINE;
		if (line->len == 0)
			continue;
		if (memchr(line->p, '\r', line->len) || memchr(line->p, '\0', line->len))
			return SDP_E_LINE;
		if (line->len < 2 || line->p[1] != '=' || line->p[0] < 'a' || line->p[0] > 'z')
			return SDP_E_LINE;
		return SDP_OK;
	}
}

static enum sdp_error parse_line(struct sdp_pstate *st, struct cpm_str line)
{
	struct cpm_str v = {line.p + 2, line.len - 2};

	switch (line.p[0]) {
	case 'v':
		return SDP_E_VERSION;   /* only as the first line */
	case 'o':
		return parse_origin(st, v);
	case 'c':
		return parse_conn(st, v);
	case 'm':
		return parse_media(st, v);
	case 'a':
		return parse_attr(st, v);
	default:
		return SDP_OK;
	}
}

static enum sdp_error finish(struct sdp_pstate *st)
{
	struct sdp_ft *out = st->out;

	if (!st->origin)
		return SDP_E_ORIGIN;
	if (!st->found)
		return SDP_E_NO_MSRP_MEDIA;
	/* A rejected stream (port 0) may drop its attributes (RFC 3264 §6). */
	if (!(st->seen & A_PATH) && out->port != 0)
		return SDP_E_PATH;
	if (out->dir == SDP_DIR_NONE)
		out->dir = st->sess_dir;
	if (out->setup == SDP_SETUP_NONE)
		out->setup = st->sess_setup;
	return SDP_OK;
}

enum sdp_error sdp_parse_ft(const char *sdp, size_t len, struct sdp_ft *out)
{
	struct sdp_pstate st = { .out = out, .sec = SEC_SESSION };
	struct cpm_str rest = {sdp, len}, line;
	enum sdp_error e;
	bool eof;

	memset(out, 0, sizeof *out);
	if (len > SDP_MAX_BYTES)
		return SDP_E_TOO_BIG;
	if (len && !sdp)
		return SDP_E_LINE;
	e = next_line(&rest, &line, &eof);
	if (e != SDP_OK)
		return e;
	if (eof || !cpm_str_eq(cpm_str_trim(line), "v=0"))
		return SDP_E_VERSION;
	for (;;) {
		e = next_line(&rest, &line, &eof);
		if (e != SDP_OK || eof)
			break;
		e = parse_line(&st, line);
		if (e != SDP_OK)
			return e;
	}
	return e != SDP_OK ? e : finish(&st);
}
