/* cpm_wbuf: the one bounded output writer of the codecs' builders.
 *
 * A builder appends pieces (bytes, strings, numbers, printf, hex) without
 * checking each one: the first piece that does not fit sets `overflow`,
 * every later append is a no-op, and the builder checks once at the end
 * with cpm_wbuf_finish(). Nothing is ever written past the buffer, and a
 * piece is written whole or not at all (no silent truncation).
 *
 * Three kinds of buffer, chosen when it is made:
 *  - text (cpm_wbuf_text): the result is a C string. One byte of the
 *    buffer is kept for the NUL, which cpm_wbuf_finish() writes (also after
 *    an overflow: the buffer then holds the pieces that fit, terminated).
 *  - raw (cpm_wbuf_raw): bytes only, the whole buffer is usable and no NUL
 *    is added (MSRP framing, where a caller sizes a buffer exactly; only
 *    cpm_wbuf_printf and cpm_wbuf_tail encoders need a spare byte there).
 *  - measure (cpm_wbuf_measure): no buffer; `len` counts what would have
 *    been written (the length of a body before writing its headers).
 *
 * Pure code: no allocation, no I/O. The appends a hot path uses (bytes,
 * strings, one char, decimal numbers) are inline: one bounds check and one
 * memcpy per piece, as the hand-written writers they replace.
 */
#ifndef CPM_WBUF_H
#define CPM_WBUF_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cpm/hex.h"
#include "cpm/str.h"

struct cpm_wbuf {
	char *p;       /* NULL: measure only (or a text buffer of size 0) */
	size_t cap;    /* bytes that may be appended (a text buffer's NUL not counted) */
	size_t len;    /* bytes appended so far; always <= cap */
	bool overflow; /* an append did not fit: the result is unusable */
	bool text;     /* cpm_wbuf_finish() NUL-terminates at p[len] */
};

/* A text buffer over buf[0..size): at most size-1 bytes plus the NUL. buf[0]
 * is set to NUL at once, so even an early failure leaves a C string. size 0
 * makes a buffer that has already overflowed. */
static inline struct cpm_wbuf cpm_wbuf_text(char *buf, size_t size)
{
	if (!buf || size == 0)
		return (struct cpm_wbuf){NULL, 0, 0, true, true};
	buf[0] = '\0';
	return (struct cpm_wbuf){buf, size - 1, 0, false, true};
}

/* A raw buffer over buf[0..size): every byte usable, never NUL-terminated.
 * buf may be NULL only with size 0. */
static inline struct cpm_wbuf cpm_wbuf_raw(char *buf, size_t size)
{
	return (struct cpm_wbuf){buf, size, 0, false, false};
}

/* Counts only: appends never fail (until len would exceed SIZE_MAX). */
static inline struct cpm_wbuf cpm_wbuf_measure(void)
{
	return (struct cpm_wbuf){NULL, SIZE_MAX, 0, false, false};
}

/* Append n bytes (s may be NULL when n is 0). */
static inline void cpm_wbuf_put(struct cpm_wbuf *w, const void *s, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = true;
		return;
	}
	if (n && w->p)
		memcpy(w->p + w->len, s, n);
	w->len += n;
}

/* Append a C string (without its NUL). */
static inline void cpm_wbuf_puts(struct cpm_wbuf *w, const char *s)
{
	cpm_wbuf_put(w, s, strlen(s));
}

/* Append a slice. */
static inline void cpm_wbuf_put_str(struct cpm_wbuf *w, struct cpm_str s)
{
	cpm_wbuf_put(w, s.p, s.len);
}

/* Append one byte. */
static inline void cpm_wbuf_putc(struct cpm_wbuf *w, char c)
{
	cpm_wbuf_put(w, &c, 1);
}

/* Append v in decimal (no sign, no padding). */
static inline void cpm_wbuf_u64(struct cpm_wbuf *w, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof tmp;

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	cpm_wbuf_put(w, tmp + i, sizeof tmp - i);
}

/* Append printf output. The text is formatted in place, so a raw buffer
 * needs one spare byte after it for vsnprintf's NUL (not counted in len);
 * in a text buffer that byte is the NUL's own. */
void cpm_wbuf_printf(struct cpm_wbuf *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append n bytes as hex (case and separator as for cpm_hex_encode; no NUL,
 * so it fits exactly like cpm_wbuf_put of the same length). */
void cpm_wbuf_hex(struct cpm_wbuf *w, const void *in, size_t n, enum cpm_hex_case c, char sep);

/* For an encoder that writes a NUL-terminated result in place and returns
 * its length or -1 (sdp_pct_encode, mime_base64_encode, ...):
 *     char *t = cpm_wbuf_tail(w, &room);
 *     cpm_wbuf_commit(w, t ? encode(t, room, ...) : -1);
 * cpm_wbuf_tail() gives the free space at the end, including a text
 * buffer's NUL byte (so an encoder needing n + 1 bytes fits exactly when an
 * append of n bytes would), or NULL (room 0) after an overflow or in a
 * measure/raw buffer without room. cpm_wbuf_commit() adds n bytes to len;
 * n < 0, or n more than an append could take, sets overflow. */
char *cpm_wbuf_tail(struct cpm_wbuf *w, size_t *room);
void cpm_wbuf_commit(struct cpm_wbuf *w, int n);

/* The end of a build: -1 if anything overflowed or len > INT_MAX, else len.
 * A text buffer is NUL-terminated at p[len] in both cases. (Inline, like the
 * appends: a writer whose address never leaves the builder stays in
 * registers.) */
static inline int cpm_wbuf_finish(struct cpm_wbuf *w)
{
	if (w->text && w->p)
		w->p[w->len] = '\0';
	return w->overflow || w->len > INT_MAX ? -1 : (int)w->len;
}

#endif
