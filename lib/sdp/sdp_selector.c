/* RFC 5547 §6 file-selector: parse, format and compare, plus the two
 * encodings it uses (percent-encoded file names, colon-separated hex hash). */
#include "cpm/sdp.h"

#include "cpm/hex.h"
#include "cpm/wbuf.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

/* Sizes above 2^62 are refused: no file is that big, and it keeps offset
 * arithmetic (size - range start, ...) far from overflow. Same bound as
 * MSRP_MAX_RANGE_VALUE so a size that passes here passes the MSRP layer. */
#define SEL_MAX_SIZE MSRP_MAX_RANGE_VALUE
#define SEL_SHA1_LEN 20

enum sel_bit { SEL_NAME = 1, SEL_SIZE = 2, SEL_TYPE = 4, SEL_HASH = 8 };

/* RFC 4566 token-char. */
static bool is_tchar(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x27) || c == 0x2a || c == 0x2b ||
	       c == 0x2d || c == 0x2e || (c >= 0x30 && c <= 0x39) ||
	       (c >= 0x41 && c <= 0x5a) || (c >= 0x5e && c <= 0x7e);
}

/* ---- percent-encoding ---------------------------------------------------- */

static bool pct_needed(unsigned char c)
{
	return c < 0x20 || c == 0x7f || c == '%' || c == '"';
}

int sdp_pct_encode(char *buf, size_t cap, const char *in, size_t len)
{
	size_t n = 0;

	if (cap > INT_MAX)
		cap = INT_MAX;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		size_t need = pct_needed(c) ? 3 : 1;
		if (n + need >= cap)
			return -1;
		if (need == 1) {
			buf[n++] = (char)c;
			continue;
		}
		buf[n++] = '%';
		cpm_hex_byte(buf + n, c, CPM_HEX_UPPER);
		n += 2;
	}
	if (n >= cap)
		return -1;
	buf[n] = '\0';
	return (int)n;
}

enum pct_rc { PCT_OK, PCT_BAD, PCT_TOO_LONG };

/* Decoded NUL is refused (it would cut the name short in every C string
 * API downstream), as is a '%' without two hex digits after it. */
static enum pct_rc pct_decode(char *buf, size_t cap, struct cpm_str in, size_t *outlen)
{
	size_t n = 0;

	for (size_t i = 0; i < in.len; i++) {
		unsigned char c = (unsigned char)in.p[i];
		if (c == '%') {
			int hi, lo;
			if (in.len - i < 3)
				return PCT_BAD;
			hi = cpm_hex_digit((unsigned char)in.p[i + 1]);
			lo = cpm_hex_digit((unsigned char)in.p[i + 2]);
			if (hi < 0 || lo < 0)
				return PCT_BAD;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (c == '\0')
			return PCT_BAD;
		if (n + 1 >= cap)
			return PCT_TOO_LONG;
		buf[n++] = (char)c;
	}
	if (cap == 0)
		return PCT_TOO_LONG;
	buf[n] = '\0';
	*outlen = n;
	return PCT_OK;
}

int sdp_pct_decode(char *buf, size_t cap, struct cpm_str in)
{
	size_t n;

	if (cap > INT_MAX)
		cap = INT_MAX;
	if (pct_decode(buf, cap, in, &n) != PCT_OK)
		return -1;
	return (int)n;
}

/* ---- hash ---------------------------------------------------------------- */

int sdp_hash_format(char *buf, size_t cap, const uint8_t *hash, size_t len)
{
	if (len > 64)
		return -1;
	return cpm_hex_encode(buf, cap, hash, len, CPM_HEX_UPPER, ':');
}

/* "sha-1:72:24:..." -> alg (lower-cased) + bytes. */
static enum sdp_error parse_hash(struct cpm_str v, struct sdp_file_selector *out)
{
	const char *colon = memchr(v.p, ':', v.len);
	size_t alen, i;
	int n;

	if (!colon)
		return SDP_E_SELECTOR;
	alen = (size_t)(colon - v.p);
	if (alen == 0 || alen >= sizeof out->hash_alg)
		return SDP_E_SELECTOR;
	for (i = 0; i < alen; i++) {
		unsigned char c = (unsigned char)v.p[i];
		if (!is_tchar(c))
			return SDP_E_SELECTOR;
		out->hash_alg[i] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
	}
	out->hash_alg[alen] = '\0';

	/* 2HEXDIG *(":" 2HEXDIG): every byte is exactly two digits. */
	n = cpm_hex_decode(out->hash, sizeof out->hash, v.p + alen + 1, v.len - alen - 1, ':');
	if (n <= 0 || (strcmp(out->hash_alg, "sha-1") == 0 && n != SEL_SHA1_LEN))
		return SDP_E_SELECTOR;
	out->hash_len = (size_t)n;
	return SDP_OK;
}

/* ---- type ---------------------------------------------------------------- */

static size_t span_tchars(const char *p, size_t len)
{
	size_t i = 0;

	while (i < len && is_tchar((unsigned char)p[i]))
		i++;
	return i;
}

/* One ";attr=value" parameter starting at p[0] == ';'. The RFC wants the
 * value quoted; a bare token is accepted too because some stacks send it.
 * Returns the bytes consumed, 0 if malformed. */
static size_t type_param_len(const char *p, size_t len)
{
	size_t i = 1, n;

	n = span_tchars(p + i, len - i);
	if (n == 0)
		return 0;
	i += n;
	if (i >= len || p[i] != '=')
		return 0;
	i++;
	if (i < len && p[i] == '"') {
		for (i++; i < len && p[i] != '"'; i++)
			if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
				return 0;
		return i < len ? i + 1 : 0;
	}
	n = span_tchars(p + i, len - i);
	return n ? i + n : 0;
}

/* type "/" subtype *(";" attr "=" value), kept as on the wire. */
static bool type_valid(const char *p, size_t len)
{
	size_t i, n;

	n = span_tchars(p, len);
	if (n == 0 || n >= len || p[n] != '/')
		return false;
	i = n + 1;
	n = span_tchars(p + i, len - i);
	if (n == 0)
		return false;
	for (i += n; i < len; i += n) {
		if (p[i] != ';')
			return false;
		n = type_param_len(p + i, len - i);
		if (n == 0)
			return false;
	}
	return true;
}

static enum sdp_error parse_type(struct cpm_str v, struct sdp_file_selector *out)
{
	if (v.len > SDP_MAX_TYPE)
		return SDP_E_VALUE_TOO_LONG;
	if (!type_valid(v.p, v.len))
		return SDP_E_SELECTOR;
	memcpy(out->type, v.p, v.len);
	out->type[v.len] = '\0';
	return SDP_OK;
}

/* ---- name and size ------------------------------------------------------- */

static enum sdp_error parse_name(struct cpm_str v, struct sdp_file_selector *out)
{
	struct cpm_str inner;

	if (v.len < 3 || v.p[0] != '"' || v.p[v.len - 1] != '"')
		return SDP_E_SELECTOR;
	inner = (struct cpm_str){v.p + 1, v.len - 2};
	/* filename-char excludes DQUOTE, CR and LF; they must come encoded.
	 * (The line splitter already removed CR/LF, but callers may hand us a
	 * value from elsewhere.) */
	for (size_t i = 0; i < inner.len; i++)
		if (inner.p[i] == '"' || inner.p[i] == '\r' || inner.p[i] == '\n')
			return SDP_E_SELECTOR;
	switch (pct_decode(out->name, sizeof out->name, inner, &out->name_len)) {
	case PCT_OK:
		return SDP_OK;
	case PCT_TOO_LONG:
		return SDP_E_VALUE_TOO_LONG;
	default:
		return SDP_E_SELECTOR;
	}
}

static enum sdp_error parse_size(struct cpm_str v, struct sdp_file_selector *out)
{
	return cpm_str_to_u64_max(v, SEL_MAX_SIZE, &out->size) ? SDP_OK : SDP_E_SELECTOR;
}

/* ---- selector list ------------------------------------------------------- */

/* Next space-separated selector; spaces inside double quotes (file names,
 * type parameter values) do not split. Returns false at the end. */
static bool next_selector(struct cpm_str *rest, struct cpm_str *tok, bool *bad)
{
	const char *p = rest->p;
	size_t len = rest->len, i = 0, start;
	bool quoted = false;

	while (i < len && p[i] == ' ')
		i++;
	if (i == len)
		return false;
	for (start = i; i < len && (quoted || p[i] != ' '); i++)
		if (p[i] == '"')
			quoted = !quoted;
	*bad = quoted;
	*tok = (struct cpm_str){p + start, i - start};
	rest->p = p + i;
	rest->len = len - i;
	return true;
}

static bool has_prefix(struct cpm_str s, const char *pfx, struct cpm_str *after)
{
	size_t n = strlen(pfx);

	if (s.len < n || strncasecmp(s.p, pfx, n) != 0)
		return false;
	*after = (struct cpm_str){s.p + n, s.len - n};
	return true;
}

static enum sdp_error parse_one(struct cpm_str tok, struct sdp_file_selector *out, unsigned *seen)
{
	static const struct {
		const char *prefix;
		unsigned bit;
		enum sdp_error (*fn)(struct cpm_str, struct sdp_file_selector *);
	} kinds[] = {
		{ "name:", SEL_NAME, parse_name },
		{ "size:", SEL_SIZE, parse_size },
		{ "type:", SEL_TYPE, parse_type },
		{ "hash:", SEL_HASH, parse_hash },
	};
	struct cpm_str v;

	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		if (!has_prefix(tok, kinds[k].prefix, &v))
			continue;
		if (*seen & kinds[k].bit)
			return SDP_E_SELECTOR;  /* each selector at most once */
		*seen |= kinds[k].bit;
		return kinds[k].fn(v, out);
	}
	return SDP_E_SELECTOR;
}

enum sdp_error sdp_selector_parse(struct cpm_str value, struct sdp_file_selector *out)
{
	struct cpm_str rest = value, tok;
	unsigned seen = 0;
	bool bad = false;
	enum sdp_error e;

	memset(out, 0, sizeof *out);
	if (value.len && !value.p)
		return SDP_E_SELECTOR;
	if (value.len > SDP_MAX_LINE)
		return SDP_E_VALUE_TOO_LONG;
	while (next_selector(&rest, &tok, &bad)) {
		if (bad)
			return SDP_E_SELECTOR;
		e = parse_one(tok, out, &seen);
		if (e != SDP_OK)
			return e;
	}
	out->has_name = seen & SEL_NAME;
	out->has_size = seen & SEL_SIZE;
	out->has_type = seen & SEL_TYPE;
	out->has_hash = seen & SEL_HASH;
	return SDP_OK;
}

/* ---- format -------------------------------------------------------------- */

static void w_sep(struct cpm_wbuf *w)
{
	if (w->len)
		cpm_wbuf_putc(w, ' ');
}

static bool selector_valid(const struct sdp_file_selector *sel, size_t name_len)
{
	if (sel->has_name && (name_len == 0 || name_len > SDP_MAX_FILENAME ||
			      memchr(sel->name, '\0', name_len)))
		return false;
	if (sel->has_size && sel->size > SEL_MAX_SIZE)
		return false;
	if (sel->has_type && !type_valid(sel->type, strnlen(sel->type, sizeof sel->type)))
		return false;
	if (sel->has_hash) {
		size_t alen = strnlen(sel->hash_alg, sizeof sel->hash_alg);
		if (alen == 0 || alen == sizeof sel->hash_alg ||
		    span_tchars(sel->hash_alg, alen) != alen ||
		    sel->hash_len == 0 || sel->hash_len > sizeof sel->hash ||
		    (strcasecmp(sel->hash_alg, "sha-1") == 0 && sel->hash_len != SEL_SHA1_LEN))
			return false;
	}
	return true;
}

/* name_len 0 with a non-empty name means "use strlen": callers that fill the
 * name with a string copy need not count it. */
int sdp_selector_format(char *buf, size_t cap, const struct sdp_file_selector *sel)
{
	struct cpm_wbuf w = cpm_wbuf_text(buf, cap);
	size_t name_len = sel->name_len ? sel->name_len : strnlen(sel->name, sizeof sel->name);

	if (cap == 0 || !selector_valid(sel, name_len))
		return -1;
	if (sel->has_name) {
		size_t room;
		char *t;

		cpm_wbuf_puts(&w, "name:\"");
		t = cpm_wbuf_tail(&w, &room);
		cpm_wbuf_commit(&w, t ? sdp_pct_encode(t, room, sel->name, name_len) : -1);
		cpm_wbuf_putc(&w, '"');
	}
	if (sel->has_type) {
		w_sep(&w);
		cpm_wbuf_puts(&w, "type:");
		cpm_wbuf_puts(&w, sel->type);
	}
	if (sel->has_size) {
		w_sep(&w);
		cpm_wbuf_puts(&w, "size:");
		cpm_wbuf_u64(&w, sel->size);
	}
	if (sel->has_hash) {
		w_sep(&w);
		cpm_wbuf_puts(&w, "hash:");
		cpm_wbuf_puts(&w, sel->hash_alg);
		cpm_wbuf_putc(&w, ':');
		cpm_wbuf_hex(&w, sel->hash, sel->hash_len, CPM_HEX_UPPER, ':');
	}
	return cpm_wbuf_finish(&w);
}

/* ---- compare ------------------------------------------------------------- */

/* Only type/subtype is compared: parameters (charset, ...) are hints that
 * answerers often drop or reorder, and must not fail a resume. */
static bool type_match(const char *a, const char *b)
{
	size_t la = strcspn(a, ";"), lb = strcspn(b, ";");

	return la == lb && strncasecmp(a, b, la) == 0;
}

bool sdp_selector_match(const struct sdp_file_selector *a, const struct sdp_file_selector *b)
{
	if (a->has_name && b->has_name &&
	    (a->name_len != b->name_len || memcmp(a->name, b->name, a->name_len) != 0))
		return false;
	if (a->has_size && b->has_size && a->size != b->size)
		return false;
	if (a->has_type && b->has_type && !type_match(a->type, b->type))
		return false;
	/* Hashes of different algorithms cannot vouch for the same file: a
	 * mismatch, so a resume never proceeds on an unverifiable claim. */
	if (a->has_hash && b->has_hash &&
	    (strcasecmp(a->hash_alg, b->hash_alg) != 0 || a->hash_len != b->hash_len ||
	     memcmp(a->hash, b->hash, a->hash_len) != 0))
		return false;
	return true;
}
