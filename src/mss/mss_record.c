/* Session records (mss_object.h): one MIME part per message or notification,
 * appended to the caller's file as the chat session runs. The part is the
 * same shape as the parts of the objects (base64 body, sanitised headers), so
 * the session history copies the file between its own headers and closing
 * delimiter without reading it. */
#include "mss/mss_object.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cpm/mime.h"
#include "cpm/wbuf.h"
#include "mss/mss_header.h"
#include "mss/mss_record.h"

#define REC_HEAD_MAX (8 * 1024)
#define LINE_IN 57

int mss_record_append(int fd, const struct mss_record *rec)
{
	/* head + body in base64 lines (4/3, plus CRLF per 76 characters) */
	size_t cap = REC_HEAD_MAX + (rec->body_len / LINE_IN + 1) * 78 + 2, off = 0;
	char *buf;
	struct cpm_wbuf w;
	int len;

	if (rec->body_len > MSS_RECORD_BODY_MAX || (rec->body_len && !rec->body)) {
		errno = rec->body_len > MSS_RECORD_BODY_MAX ? EFBIG : EINVAL;
		return -1;
	}
	buf = malloc(cap);
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	w = cpm_wbuf_raw(buf, cap);
	/* the size first, at a fixed place, written once the record is built */
	cpm_wbuf_puts(&w, REC_PREFIX "0000000000\r\nX-CPM-Record: ");
	cpm_wbuf_puts(&w, rec->kind == MSS_REC_NOTIFICATION ? "notification" : "message");
	cpm_wbuf_puts(&w, "\r\nDate: ");
	mss_put_date(&w, rec->time);
	cpm_wbuf_puts(&w, "\r\n");
	if (rec->from)
		mss_hdr_uri(&w, "From", rec->from);
	if (rec->to)
		mss_hdr_uri(&w, "To", rec->to);
	if (rec->imdn_id)
		mss_hdr_text(&w, "X-CPM-IMDN-Message-ID", rec->imdn_id);
	if (rec->kind == MSS_REC_NOTIFICATION) {
		cpm_wbuf_puts(&w, "X-CPM-Disposition: ");
		mss_put_token(&w, rec->disposition, "unknown");
		cpm_wbuf_puts(&w, "\r\n");
	}
	cpm_wbuf_puts(&w, "Content-Type: ");
	/* see put_part_type in mss_object.c: a message/ type is never base64 */
	if (rec->content_type && strncasecmp(rec->content_type, "message/", 8) == 0)
		cpm_wbuf_puts(&w, "application/octet-stream\r\nX-CPM-Content-Type: ");
	mss_put_token(&w, rec->content_type, "text/plain");
	cpm_wbuf_puts(&w, "\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	if (rec->body_len == 0)
		cpm_wbuf_puts(&w, "\r\n");
	for (size_t i = 0; i < rec->body_len && !w.overflow; i += LINE_IN) {
		size_t n = rec->body_len - i < LINE_IN ? rec->body_len - i : LINE_IN, room;
		char *t = cpm_wbuf_tail(&w, &room);
		cpm_wbuf_commit(&w, t ? mime_base64_encode(t, room, (const uint8_t *)rec->body + i, n) : -1);
		cpm_wbuf_puts(&w, "\r\n");
	}
	len = cpm_wbuf_finish(&w);
	if (len < 0) {
		free(buf);
		errno = EFBIG;
		return -1;
	}
	{
		char digits[REC_DIGITS + 1];
		snprintf(digits, sizeof digits, "%0*d", REC_DIGITS, len);
		memcpy(buf + strlen(REC_PREFIX), digits, REC_DIGITS);
	}
	/* one write for the whole record (O_APPEND: records never interleave) */
	while (off < (size_t)len) {
		ssize_t k = write(fd, buf + off, (size_t)len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int e = errno;
			free(buf);
			errno = e;
			return -1;
		}
		off += (size_t)k;
	}
	free(buf);
	return 0;
}

int mss_records_complete(int fd, uint64_t size, uint64_t *len)
{
	uint64_t off = 0;
	const size_t plen = strlen(REC_PREFIX);

	while (off < size) {
		char head[64];
		uint64_t n = 0;
		ssize_t k;

		if (size - off < plen + REC_DIGITS + 2)
			break;
		k = pread(fd, head, plen + REC_DIGITS + 2, (off_t)off);
		if (k < 0)
			return -1;
		if ((size_t)k != plen + REC_DIGITS + 2 || memcmp(head, REC_PREFIX, plen) != 0)
			break;
		for (size_t i = 0; i < REC_DIGITS; i++) {
			char c = head[plen + i];
			if (c < '0' || c > '9')
				goto out;
			n = n * 10 + (uint64_t)(c - '0');
		}
		if (n < plen + REC_DIGITS + 2 || n > size - off) /* torn by a crash */
			break;
		off += n;
	}
out:
	*len = off;
	return 0;
}
