/* Header values for the MSS objects (mss_header.h): peer bytes in, safe
 * RFC 5322 header lines out. */
#include "mss/mss_header.h"

#include <string.h>
#include <time.h>

#include "cpm/hex.h"
#include "cpm/mime.h"
#include "cpm/utf8.h"
#include "mss/mss_object.h"

/* RFC 5322 recommends lines of at most 78 characters; we fold at 76. */
#define FOLD_AT 76
/* An encoded-word is at most 75 characters: "=?UTF-8?B?" + 60 + "?=" holds 45
 * bytes, and 45 is a multiple of 3 (no padding inside a long value). */
#define EW_BYTES 45

/* The cleaned value: control characters become spaces, invalid UTF-8 bytes
 * '?', cut at `max` bytes on a character boundary. Returns its length; sets
 * *ascii. out has room for max + 1. */
static size_t clean_value(char *out, size_t max, const char *v, bool *ascii)
{
	size_t o = 0, len = v ? strlen(v) : 0;

	*ascii = true;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)v[i];
		uint32_t cp;
		size_t n = c < 0x80 ? 1 : cpm_utf8_decode((const unsigned char *)v + i, len - i, &cp);

		if (n == 0) { /* not UTF-8: one '?' per bad byte */
			if (o + 1 > max)
				break;
			out[o++] = '?';
			i++;
			continue;
		}
		if (o + n > max)
			break;
		if (n == 1)
			out[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
		else if (cp < 0xa0) /* C1 controls */
			out[o++] = ' ';
		else {
			memcpy(out + o, v + i, n);
			o += n;
			*ascii = false;
		}
		i += n;
	}
	out[o] = '\0';
	return o;
}

static void put_ascii_folded(struct cpm_wbuf *w, size_t col, const char *v, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *sp = memchr(v + i + 1, ' ', i + 1 < len ? len - i - 1 : 0);
		size_t wl = (sp ? (size_t)(sp - v) : len) - i; /* word incl. its leading space */

		if (i > 0 && v[i] == ' ' && col + wl > FOLD_AT) {
			cpm_wbuf_puts(w, "\r\n");
			col = 0; /* the space we keep starts the continuation line */
		}
		cpm_wbuf_put(w, v + i, wl);
		col += wl;
		i += wl;
	}
}

static void put_encoded_words(struct cpm_wbuf *w, const char *v, size_t len)
{
	size_t i = 0;
	bool first = true;

	while (i < len) {
		size_t n = 0;
		char enc[64 + 1];
		uint32_t cp;

		/* whole characters only: every encoded-word must decode alone */
		while (i + n < len) {
			unsigned char c = (unsigned char)v[i + n];
			size_t k = c < 0x80 ? 1 : cpm_utf8_decode((const unsigned char *)v + i + n, len - i - n, &cp);

			if (k == 0 || n + k > EW_BYTES)
				break;
			n += k;
		}
		if (n == 0) /* cannot happen on cleaned input; never loop forever */
			break;
		if (!first)
			cpm_wbuf_puts(w, "\r\n ");
		cpm_wbuf_puts(w, "=?UTF-8?B?");
		if (mime_base64_encode(enc, sizeof enc, (const uint8_t *)v + i, n) < 0)
			return;
		cpm_wbuf_puts(w, enc);
		cpm_wbuf_puts(w, "?=");
		first = false;
		i += n;
	}
}

void mss_hdr_text(struct cpm_wbuf *w, const char *name, const char *value)
{
	char v[MSS_VALUE_MAX + 1];
	bool ascii;
	size_t len = clean_value(v, MSS_VALUE_MAX, value, &ascii);

	cpm_wbuf_puts(w, name);
	cpm_wbuf_puts(w, ": ");
	if (ascii)
		put_ascii_folded(w, strlen(name) + 2, v, len);
	else
		put_encoded_words(w, v, len);
	cpm_wbuf_puts(w, "\r\n");
}

void mss_put_uri(struct cpm_wbuf *w, const char *uri)
{
	size_t len = uri ? strlen(uri) : 0;

	if (len > MSS_VALUE_MAX)
		len = MSS_VALUE_MAX;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)uri[i];

		if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"' || c == ',')
			continue;
		if (c >= 0x80) { /* an IRI byte: percent-encode it (RFC 3987 §3.1) */
			char h[2];
			cpm_hex_byte(h, c, CPM_HEX_UPPER);
			cpm_wbuf_putc(w, '%');
			cpm_wbuf_put(w, h, 2);
			continue;
		}
		cpm_wbuf_putc(w, (char)c);
	}
}

void mss_hdr_uri(struct cpm_wbuf *w, const char *name, const char *uri)
{
	cpm_wbuf_puts(w, name);
	cpm_wbuf_puts(w, ": <");
	mss_put_uri(w, uri);
	cpm_wbuf_puts(w, ">\r\n");
}

/* RFC 2231 attribute-char: what may stand unencoded in an extended value. */
static bool attr_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$&+-.^_`|~", c));
}

/* A parameter value is cut shorter than a header value: percent-encoded it
 * triples, and the line must stay under RFC 5322's 998 characters. */
#define PARAM_MAX 240

void mss_put_param(struct cpm_wbuf *w, const char *name, const char *value)
{
	char v[PARAM_MAX + 1];
	bool ascii;
	size_t len = clean_value(v, PARAM_MAX, value, &ascii);

	cpm_wbuf_puts(w, ";\r\n ");
	cpm_wbuf_puts(w, name);
	if (ascii) {
		cpm_wbuf_puts(w, "=\"");
		for (size_t i = 0; i < len; i++) /* no quoted-pair: '"' and '\' become '_' */
			cpm_wbuf_putc(w, v[i] == '"' || v[i] == '\\' ? '_' : v[i]);
		cpm_wbuf_putc(w, '"');
		return;
	}
	cpm_wbuf_puts(w, "*=UTF-8''");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		char h[2];

		if (attr_char(c)) {
			cpm_wbuf_putc(w, (char)c);
			continue;
		}
		cpm_hex_byte(h, c, CPM_HEX_UPPER);
		cpm_wbuf_putc(w, '%');
		cpm_wbuf_put(w, h, 2);
	}
}

void mss_put_token(struct cpm_wbuf *w, const char *value, const char *dflt)
{
	size_t n = 0, len = value ? strlen(value) : 0;

	for (size_t i = 0; i < len && n < 127; i++) {
		unsigned char c = (unsigned char)value[i];

		/* RFC 2045 token, plus '/' between type and subtype */
		if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"[]?=", c))
			continue;
		cpm_wbuf_putc(w, (char)c);
		n++;
	}
	if (n == 0)
		cpm_wbuf_puts(w, dflt);
}

void mss_put_date(struct cpm_wbuf *w, int64_t t)
{
	/* by hand, not strftime: %a and %b follow the locale */
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm)) {
		tt = 0;
		gmtime_r(&tt, &tm);
	}
	cpm_wbuf_printf(w, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
			months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
