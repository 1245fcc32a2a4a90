/* The bounded output writer (see cpm/wbuf.h): the parts that are not inline. */
#include "cpm/wbuf.h"

#include <stdarg.h>
#include <stdio.h>

char *cpm_wbuf_tail(struct cpm_wbuf *w, size_t *room)
{
	size_t r = w->cap - w->len + (w->text ? 1 : 0);

	if (w->overflow || !w->p || r == 0) {
		*room = 0;
		return NULL;
	}
	*room = r;
	return w->p + w->len;
}

void cpm_wbuf_commit(struct cpm_wbuf *w, int n)
{
	if (w->overflow)
		return;
	if (n < 0 || (size_t)n > w->cap - w->len) {
		w->overflow = true;
		return;
	}
	w->len += (size_t)n;
}

/* Measure mode: count n bytes. */
static void count(struct cpm_wbuf *w, size_t n)
{
	if (w->overflow || n > w->cap - w->len)
		w->overflow = true;
	else
		w->len += n;
}

void cpm_wbuf_printf(struct cpm_wbuf *w, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	char *t = cpm_wbuf_tail(w, &room);
	int n;

	if (!w->p && !w->overflow) { /* measure: only the length */
		va_start(ap, fmt);
		n = vsnprintf(NULL, 0, fmt, ap);
		va_end(ap);
		count(w, n < 0 ? SIZE_MAX : (size_t)n);
		return;
	}
	if (!t) {
		w->overflow = true;
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(t, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		/* vsnprintf wrote a truncated piece: take it back */
		t[0] = '\0';
		w->overflow = true;
		return;
	}
	cpm_wbuf_commit(w, n);
}

void cpm_wbuf_hex(struct cpm_wbuf *w, const void *in, size_t n, enum cpm_hex_case c, char sep)
{
	size_t need = n > SIZE_MAX / 3 ? SIZE_MAX : cpm_hex_len(n, sep);

	if (w->overflow || need > w->cap - w->len) {
		w->overflow = true;
		return;
	}
	if (w->p)
		cpm_hex_write(w->p + w->len, in, n, c, sep);
	w->len += need;
}
