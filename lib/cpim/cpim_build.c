/* cpim_build: the one writer of message/cpim framing (RFC 3862 §2-§3):
 * CPIM headers, blank line, content headers, blank line, content. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpm/cpim.h"
#include "cpm/utf8.h"
#include "cpm/wbuf.h"

/* A header value: at most max bytes of UTF-8, no control character, none of
 * `forbid` (ASCII). */
static bool value_ok(const char *s, size_t max, const char *forbid)
{
	size_t len = strnlen(s, max + 1);

	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;
		size_t n;

		if (c < 0x20 || c == 0x7f || (c < 0x80 && forbid && strchr(forbid, c)))
			return false;
		if (!(n = cpm_utf8_decode((const unsigned char *)s + i, len - i, &cp)))
			return false;
		i += n;
	}
	return true;
}

static bool given(const char *s)
{
	return s && s[0];
}

/* Everything before the content, into w (Content-Length = m->body_len). */
static int build_head(struct cpm_wbuf *w, const struct cpim_out *m)
{
	if (!m || !m->from_uri || !m->to_uri || !m->content_type)
		return -1;
	if (!value_ok(m->from_uri, CPIM_BUILD_URI_MAX, "<> ") || !value_ok(m->to_uri, CPIM_BUILD_URI_MAX, "<> ") ||
	    !value_ok(m->content_type, 256, NULL))
		return -1;
	if (given(m->message_id) &&
	    (!value_ok(m->message_id, CPIM_BUILD_ID_MAX, " ") || !given(m->datetime)))
		return -1;
	if ((given(m->datetime) && !value_ok(m->datetime, 64, " ")) ||
	    (given(m->disposition) && !value_ok(m->disposition, 256, NULL)) ||
	    (given(m->content_disposition) && !value_ok(m->content_disposition, 256, NULL)))
		return -1;

	cpm_wbuf_puts(w, "From: <");
	cpm_wbuf_puts(w, m->from_uri);
	cpm_wbuf_puts(w, ">\r\nTo: <");
	cpm_wbuf_puts(w, m->to_uri);
	cpm_wbuf_puts(w, ">\r\n");
	if (given(m->message_id) || given(m->disposition))
		cpm_wbuf_puts(w, "NS: imdn <" CPIM_IMDN_URN ">\r\n");
	if (given(m->message_id)) {
		cpm_wbuf_puts(w, "imdn.Message-ID: ");
		cpm_wbuf_puts(w, m->message_id);
		cpm_wbuf_puts(w, "\r\n");
	}
	if (given(m->datetime)) {
		cpm_wbuf_puts(w, "DateTime: ");
		cpm_wbuf_puts(w, m->datetime);
		cpm_wbuf_puts(w, "\r\n");
	}
	if (given(m->disposition)) {
		cpm_wbuf_puts(w, "imdn.Disposition-Notification: ");
		cpm_wbuf_puts(w, m->disposition);
		cpm_wbuf_puts(w, "\r\n");
	}
	cpm_wbuf_puts(w, "\r\nContent-Type: ");
	cpm_wbuf_puts(w, m->content_type);
	cpm_wbuf_puts(w, "\r\n");
	if (given(m->content_disposition)) {
		cpm_wbuf_puts(w, "Content-Disposition: ");
		cpm_wbuf_puts(w, m->content_disposition);
		cpm_wbuf_puts(w, "\r\n");
	}
	cpm_wbuf_puts(w, "Content-Length: ");
	cpm_wbuf_u64(w, m->body_len);
	cpm_wbuf_puts(w, "\r\n\r\n");
	return 0;
}

int cpim_build_head(char *out, size_t cap, const struct cpim_out *m)
{
	struct cpm_wbuf w = out && cap ? cpm_wbuf_text(out, cap) : cpm_wbuf_measure();
	if (build_head(&w, m))
		return -1;
	return cpm_wbuf_finish(&w);
}

int cpim_build(char *out, size_t cap, const struct cpim_out *m)
{
	if (!m || (m->body_len && !m->body))
		return -1;
	struct cpm_wbuf w = out && cap ? cpm_wbuf_text(out, cap) : cpm_wbuf_measure();
	if (build_head(&w, m))
		return -1;
	if (m->body_len)
		cpm_wbuf_put(&w, m->body, m->body_len);
	return cpm_wbuf_finish(&w);
}
