/* The deferred-item list (see cpm/deferred.h for the format). The builder
 * checks an item with the same rules the parser applies, so a list we
 * build always parses back to the same items. */
#include "cpm/deferred.h"

#include "cpm/hex.h"
#include "cpm/mime.h"
#include "cpm/utf8.h"
#include "cpm/wbuf.h"

#include <string.h>

const char *deferred_strerror(int e)
{
	switch (e) {
	case DEFERRED_OK: return "ok";
	case DEFERRED_E_MAGIC: return "not a CPMD-Deferred/1 list";
	case DEFERRED_E_SYNTAX: return "bad line in deferred list";
	case DEFERRED_E_LINE: return "line too long in deferred list";
	case DEFERRED_E_FIELDS: return "too many lines in a deferred item";
	case DEFERRED_E_DUPLICATE: return "repeated key in a deferred item";
	case DEFERRED_E_MISSING: return "deferred item lacks Id, Sender, Name, Type or Size";
	case DEFERRED_E_ID: return "bad deferred item id";
	case DEFERRED_E_SIZE: return "bad deferred item size";
	case DEFERRED_E_HASH: return "bad deferred item hash";
	case DEFERRED_E_NAME: return "bad deferred item name";
	case DEFERRED_E_VALUE: return "bad deferred item value";
	case DEFERRED_E_THUMB: return "bad deferred item thumbnail";
	case DEFERRED_E_TRUNCATED: return "deferred list ends inside a line";
	case DEFERRED_E_KIND: return "bad deferred item kind";
	}
	return "unknown deferred-list error";
}

/* --- character classes and checks shared by builder and parser ----------- */

static bool id_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static bool b64_char(unsigned char c)
{
	return id_char(c) ? c != '_' && c != '-' : c == '+' || c == '/' || c == '=';
}

static bool id_ok(struct cpm_str v)
{
	if (v.len == 0 || v.len > DEFERRED_MAX_ID)
		return false;
	for (size_t i = 0; i < v.len; i++)
		if (!id_char((unsigned char)v.p[i]))
			return false;
	return true;
}

/* 1..max printable ASCII; spaces inside only when `spaces` (never at the
 * ends, which the parser trims). */
static bool text_ok(struct cpm_str v, size_t max, bool spaces)
{
	if (v.len == 0 || v.len > max || v.p[0] == ' ' || v.p[v.len - 1] == ' ')
		return false;
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];
		if (c < 0x20 || c > 0x7e || (c == ' ' && !spaces))
			return false;
	}
	return true;
}

/* A NUL-terminated string inside its array, as a slice (or a NULL slice). */
static struct cpm_str arr_str(const char *s, size_t size)
{
	const char *z = memchr(s, '\0', size);
	return z ? (struct cpm_str){s, (size_t)(z - s)} : (struct cpm_str){NULL, SIZE_MAX};
}

/* "sha-1:HH:HH:...:HH" (20 bytes). */
static bool parse_hash(struct cpm_str v, uint8_t out[20])
{
	static const char pfx[] = "sha-1:";
	const size_t plen = sizeof pfx - 1;

	if (v.len < plen || !cpm_str_caseeq((struct cpm_str){v.p, plen}, pfx))
		return false;
	return cpm_hex_decode(out, 20, v.p + plen, v.len - plen, ':') == 20;
}

/* Percent-decode into out[0..cap); refuses bad escapes, %00, raw controls,
 * an empty result and one that does not fit. */
static bool name_decode(struct cpm_str v, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];

		if (c == '%') {
			int hi, lo;
			if (v.len - i < 3 || (hi = cpm_hex_digit((unsigned char)v.p[i + 1])) < 0 ||
			    (lo = cpm_hex_digit((unsigned char)v.p[i + 2])) < 0)
				return false;
			c = (unsigned char)(hi << 4 | lo);
			if (c == 0)
				return false;
			i += 2;
		} else if (c < 0x20 || c == 0x7f) {
			return false;
		}
		if (o + 1 >= cap)
			return false;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return o > 0;
}

/* --- builder ------------------------------------------------------------- */

static void wr_field(struct cpm_wbuf *w, const char *key, struct cpm_str v)
{
	cpm_wbuf_puts(w, key);
	cpm_wbuf_put(w, ": ", 2);
	cpm_wbuf_put_str(w, v);
	cpm_wbuf_put(w, "\r\n", 2);
}

static bool item_ok(const struct deferred_item *it)
{
	struct cpm_str t = arr_str(it->time, sizeof it->time);
	struct cpm_str e = arr_str(it->expires, sizeof it->expires);
	struct cpm_str tt = arr_str(it->thumb_type, sizeof it->thumb_type);
	struct cpm_str name = arr_str(it->name, sizeof it->name);

	if (!id_ok(arr_str(it->id, sizeof it->id)) || (unsigned)it->kind > DEFERRED_KIND_MESSAGE ||
	    !text_ok(arr_str(it->sender, sizeof it->sender), DEFERRED_MAX_SENDER, false) ||
	    !text_ok(arr_str(it->type, sizeof it->type), SDP_MAX_TYPE, true) ||
	    !name.p || name.len == 0 || it->size > DEFERRED_MAX_SIZE)
		return false;
	if (!t.p || (t.len && !text_ok(t, DEFERRED_MAX_TIME, false)) ||
	    !e.p || (e.len && !text_ok(e, DEFERRED_MAX_TIME, false)) || !tt.p)
		return false;
	if (it->thumb_len == 0)
		return tt.len == 0;
	return it->thumb && it->thumb_len <= DEFERRED_MAX_THUMB && text_ok(tt, SDP_MAX_TYPE, true);
}

static void wr_name(struct cpm_wbuf *w, const char *name)
{
	for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
		if (*s <= 0x20 || *s >= 0x7f || *s == '%') {
			char esc[3] = {'%'};
			cpm_hex_byte(esc + 1, *s, CPM_HEX_UPPER);
			cpm_wbuf_put(w, esc, 3);
		} else {
			cpm_wbuf_putc(w, (char)*s);
		}
	}
}

static void wr_item(struct cpm_wbuf *w, const struct deferred_item *it)
{
	cpm_wbuf_put(w, "\r\n", 2);
	wr_field(w, "Id", cpm_str_c(it->id));
	if (it->kind == DEFERRED_KIND_MESSAGE) /* a file says nothing: lists stay as they were */
		wr_field(w, "Kind", cpm_str_c("message"));
	wr_field(w, "Sender", cpm_str_c(it->sender));
	if (it->time[0])
		wr_field(w, "Time", cpm_str_c(it->time));
	cpm_wbuf_puts(w, "Name: ");
	wr_name(w, it->name);
	cpm_wbuf_put(w, "\r\n", 2);
	wr_field(w, "Type", cpm_str_c(it->type));
	cpm_wbuf_puts(w, "Size: ");
	cpm_wbuf_u64(w, it->size);
	cpm_wbuf_put(w, "\r\n", 2);
	if (it->has_hash) {
		cpm_wbuf_puts(w, "Hash: sha-1:");
		cpm_wbuf_hex(w, it->sha1, sizeof it->sha1, CPM_HEX_UPPER, ':');
		cpm_wbuf_put(w, "\r\n", 2);
	}
	if (it->expires[0])
		wr_field(w, "Expires", cpm_str_c(it->expires));
	if (it->thumb_len) {
		size_t room;
		char *t;

		wr_field(w, "Thumbnail-Type", cpm_str_c(it->thumb_type));
		cpm_wbuf_puts(w, "Thumbnail: ");
		t = cpm_wbuf_tail(w, &room);
		cpm_wbuf_commit(w, t ? mime_base64_encode(t, room, it->thumb, it->thumb_len) : -1);
		cpm_wbuf_put(w, "\r\n", 2);
	}
}

int deferred_build(char *out, size_t cap, const struct deferred_item *items, size_t n)
{
	struct cpm_wbuf w = cpm_wbuf_text(out, cap);

	if (!out || cap == 0 || (n && !items))
		return -1;
	cpm_wbuf_puts(&w, CPM_DEFERRED_MAGIC "\r\n");
	for (size_t i = 0; i < n && !w.overflow; i++) {
		if (!item_ok(&items[i]))
			return -1;
		wr_item(&w, &items[i]);
	}
	return cpm_wbuf_finish(&w);
}

/* --- parser -------------------------------------------------------------- */

void deferred_parser_init(struct deferred_parser *p, const char *buf, size_t len)
{
	memset(p, 0, sizeof *p);
	p->buf = buf;
	p->len = buf ? len : 0;
}

/* The next line (without its CRLF/LF); 1, 0 at the end of the input, or an
 * error. Every line must end in LF: a list cut inside a line is refused. */
static int next_line(struct deferred_parser *p, struct cpm_str *line)
{
	size_t left = p->len - p->pos, max = left;
	const size_t limit = 16 + DEFERRED_MAX_THUMB_B64 + 2; /* the longest line: Thumbnail */
	const char *nl;

	if (left == 0)
		return 0;
	if (max > limit)
		max = limit;
	nl = memchr(p->buf + p->pos, '\n', max);
	if (!nl)
		return max == left ? DEFERRED_E_TRUNCATED : DEFERRED_E_LINE;
	line->p = p->buf + p->pos;
	line->len = (size_t)(nl - line->p);
	p->pos += line->len + 1;
	if (line->len && line->p[line->len - 1] == '\r')
		line->len--;
	return 1;
}

enum {
	F_ID = 1 << 0, F_SENDER = 1 << 1, F_TIME = 1 << 2, F_NAME = 1 << 3, F_TYPE = 1 << 4,
	F_SIZE = 1 << 5, F_HASH = 1 << 6, F_EXPIRES = 1 << 7, F_TTYPE = 1 << 8, F_THUMB = 1 << 9,
	F_KIND = 1 << 10,
};
#define F_REQUIRED (F_ID | F_SENDER | F_NAME | F_TYPE | F_SIZE)

static const struct {
	const char *key;
	unsigned flag;
} keys[] = {
	{"Id", F_ID}, {"Sender", F_SENDER}, {"Time", F_TIME}, {"Name", F_NAME},
	{"Type", F_TYPE}, {"Size", F_SIZE}, {"Hash", F_HASH}, {"Expires", F_EXPIRES},
	{"Thumbnail-Type", F_TTYPE}, {"Thumbnail", F_THUMB}, {"Kind", F_KIND},
};

static int copy_text(char *dst, size_t size, struct cpm_str v, size_t max, bool spaces)
{
	if (!text_ok(v, max, spaces) || !cpm_str_copy(dst, size, v))
		return DEFERRED_E_VALUE;
	return 0;
}

static int field(struct deferred_item *it, unsigned flag, struct cpm_str v)
{
	switch (flag) {
	case F_ID:
		return id_ok(v) && cpm_str_copy(it->id, sizeof it->id, v) ? 0 : DEFERRED_E_ID;
	case F_SENDER:
		return copy_text(it->sender, sizeof it->sender, v, DEFERRED_MAX_SENDER, false);
	case F_TIME:
		return copy_text(it->time, sizeof it->time, v, DEFERRED_MAX_TIME, false);
	case F_EXPIRES:
		return copy_text(it->expires, sizeof it->expires, v, DEFERRED_MAX_TIME, false);
	case F_TYPE:
		return copy_text(it->type, sizeof it->type, v, SDP_MAX_TYPE, true);
	case F_TTYPE:
		return copy_text(it->thumb_type, sizeof it->thumb_type, v, SDP_MAX_TYPE, true)
			       ? DEFERRED_E_THUMB : 0;
	case F_NAME:
		return name_decode(v, it->name, sizeof it->name) ? 0 : DEFERRED_E_NAME;
	case F_SIZE:
		return cpm_str_to_u64_max(v, DEFERRED_MAX_SIZE, &it->size) ? 0 : DEFERRED_E_SIZE;
	case F_KIND:
		if (cpm_str_caseeq(v, "file"))
			it->kind = DEFERRED_KIND_FILE;
		else if (cpm_str_caseeq(v, "message"))
			it->kind = DEFERRED_KIND_MESSAGE;
		else
			return DEFERRED_E_KIND;
		return 0;
	case F_HASH:
		it->has_hash = parse_hash(v, it->sha1);
		return it->has_hash ? 0 : DEFERRED_E_HASH;
	case F_THUMB:
		if (v.len == 0 || v.len > DEFERRED_MAX_THUMB_B64)
			return DEFERRED_E_THUMB;
		for (size_t i = 0; i < v.len; i++)
			if (!b64_char((unsigned char)v.p[i]))
				return DEFERRED_E_THUMB;
		it->thumb_b64 = v;
		return 0;
	}
	return 0;
}

/* One "Key: value" line of an item. */
static int item_line(struct deferred_item *it, struct cpm_str line, unsigned *seen)
{
	const char *colon = memchr(line.p, ':', line.len);
	struct cpm_str key, v;
	size_t i;

	for (i = 0; i < line.len; i++) {
		unsigned char c = (unsigned char)line.p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return DEFERRED_E_SYNTAX;
	}
	if (!colon || colon == line.p)
		return DEFERRED_E_SYNTAX;
	key = (struct cpm_str){line.p, (size_t)(colon - line.p)};
	for (i = 0; i < key.len; i++)
		if (!id_char((unsigned char)key.p[i]) || key.p[i] == '_')
			return DEFERRED_E_SYNTAX;
	v = cpm_str_trim((struct cpm_str){colon + 1, line.len - key.len - 1});
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (!cpm_str_caseeq(key, keys[i].key))
			continue;
		if (keys[i].flag != F_THUMB && line.len > DEFERRED_MAX_LINE)
			return DEFERRED_E_LINE;
		if (*seen & keys[i].flag)
			return DEFERRED_E_DUPLICATE;
		*seen |= keys[i].flag;
		return field(it, keys[i].flag, v);
	}
	return line.len > DEFERRED_MAX_LINE ? DEFERRED_E_LINE : 0; /* unknown key: ignored */
}

static int parse_item(struct deferred_parser *p, struct deferred_item *out)
{
	unsigned seen = 0;
	size_t nlines = 0;
	struct cpm_str line;
	int rc;

	memset(out, 0, sizeof *out);
	/* blank lines between items */
	for (;;) {
		size_t at = p->pos;
		if ((rc = next_line(p, &line)) <= 0)
			return rc;
		if (line.len) {
			p->pos = at;
			break;
		}
	}
	while ((rc = next_line(p, &line)) == 1 && line.len) {
		if (++nlines > DEFERRED_MAX_FIELDS)
			return DEFERRED_E_FIELDS;
		if ((rc = item_line(out, line, &seen)) < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	if ((seen & F_REQUIRED) != F_REQUIRED)
		return DEFERRED_E_MISSING;
	if (!(seen & F_TTYPE) != !(seen & F_THUMB))
		return DEFERRED_E_THUMB;
	return 1;
}

int deferred_parse_next(struct deferred_parser *p, struct deferred_item *out)
{
	int rc;

	if (p->error)
		return p->error;
	if (!p->started) {
		struct cpm_str line;

		rc = next_line(p, &line);
		if (rc == 0 || (rc == 1 && !cpm_str_eq(line, CPM_DEFERRED_MAGIC)))
			rc = DEFERRED_E_MAGIC;
		if (rc < 0)
			return p->error = rc;
		p->started = true;
	}
	rc = parse_item(p, out);
	if (rc < 0) {
		memset(out, 0, sizeof *out);
		p->error = rc;
	}
	return rc;
}

/* --- display ------------------------------------------------------------- */

/* Code points a terminal may act on or that reorder the line. */
static bool unsafe_cp(uint32_t cp)
{
	return cp <= 0x20 || cp == '%' || (cp >= 0x7f && cp <= 0x9f) || cp == 0x200e ||
	       cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	       cp == 0xfeff;
}

void deferred_safe_display(char *out, size_t cap, const char *name)
{
	const unsigned char *s = (const unsigned char *)(name ? name : "");
	size_t o = 0, len = strlen((const char *)s);

	if (cap == 0)
		return;
	for (size_t i = 0; i < len;) {
		uint32_t cp = 0;
		size_t n = cpm_utf8_decode(s + i, len - i, &cp);
		bool esc = n == 0 || unsafe_cp(cp);

		if (n == 0)
			n = 1; /* escape one invalid byte, then resync */
		if ((esc ? 3 * n : n) >= cap - o)
			break;
		for (size_t k = 0; k < n; k++) {
			if (esc) {
				out[o++] = '%';
				cpm_hex_byte(out + o, s[i + k], CPM_HEX_UPPER);
				o += 2;
			} else {
				out[o++] = (char)s[i + k];
			}
		}
		i += n;
	}
	out[o] = '\0';
}
