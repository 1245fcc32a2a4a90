/* The MSS objects (mss_object.h; formats in docs/internals/mss.md). The text
 * around the contents (headers, part headers, delimiters) is built once into
 * one bounded buffer; the contents stay where they are (a buffer or a
 * descriptor) and are base64-encoded chunk by chunk as the reader goes, so
 * memory does not depend on a file's size. */
#include "mss/mss_object.h"

#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpm/hex.h"
#include "cpm/mime.h"
#include "cpm/wbuf.h"
#include "mss/mss_header.h"
#include "mss/mss_record.h"

/* One boundary for every object. It cannot occur in a body: every body is
 * base64 (no '_'), and every other line we write starts with a header name or
 * is a folded continuation (starts with a space), never with "--". So it need
 * not be random, and a retry builds the same bytes. */
#define BOUNDARY "=_cpm_part_="
/* Text of one object: headers of at most MSS_RECIPIENTS_MAX recipients and a
 * dozen values of MSS_VALUE_MAX, each at most doubled by encoding. */
#define TEXT_MAX (64 * 1024)
/* Base64 lines of 76 characters hold 57 bytes; a chunk is 64 lines. */
#define LINE_IN 57
#define LINE_OUT 78 /* 76 + CRLF */
#define CHUNK_LINES 64

enum seg_type { SEG_TEXT, SEG_B64, SEG_RAW };
struct seg {
	enum seg_type type;
	size_t text_off;  /* SEG_TEXT: in r->text */
	uint64_t len;     /* SEG_TEXT, SEG_RAW: bytes out; SEG_B64: bytes in */
	struct mss_src src;
};
#define SEGS_MAX 8

struct mss_reader {
	char *text;
	struct seg seg[SEGS_MAX];
	size_t nseg;
	uint64_t size;
	char message_id[MSS_MESSAGE_ID_MAX];
	/* position */
	size_t cur;
	uint64_t pos;   /* SEG_TEXT/SEG_RAW: bytes out; SEG_B64: bytes in consumed */
	size_t stage_len, stage_pos;
	char stage[CHUNK_LINES * LINE_OUT];
	uint8_t in[CHUNK_LINES * LINE_IN];
};

const char *mss_kind_name(enum mss_kind k)
{
	switch (k) {
	case MSS_FT_HISTORY: return "ft-history";
	case MSS_MESSAGE_HISTORY: return "message-history";
	case MSS_SESSION_HISTORY: return "session-history";
	case MSS_EXPIRED_FILE: return "expired-file";
	case MSS_KEPT_FILE: return "kept-file";
	}
	return "unknown";
}

static bool is_file_kind(enum mss_kind k)
{
	return k == MSS_FT_HISTORY || k == MSS_EXPIRED_FILE || k == MSS_KEPT_FILE;
}

/* [A-Za-z0-9-], plus '.' and '_' when `dots`, 1..max bytes */
static bool clean_id(const char *s, size_t max, bool dots)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || (dots && (c == '.' || c == '_'))))
			return false;
	}
	return true;
}

static void put_sha1_hex(struct cpm_wbuf *w, const char *s)
{
	unsigned char md[SHA_DIGEST_LENGTH];

	SHA1((const unsigned char *)s, strlen(s), md);
	cpm_wbuf_hex(w, md, sizeof md, CPM_HEX_LOWER, '\0');
}

int mss_message_id(char *out, size_t cap, enum mss_kind kind, const char *item_id)
{
	struct cpm_wbuf w = cpm_wbuf_text(out, cap);

	if (!item_id || !*item_id) {
		if (cap)
			out[0] = '\0';
		return -1;
	}
	cpm_wbuf_putc(&w, '<');
	cpm_wbuf_puts(&w, mss_kind_name(kind));
	cpm_wbuf_putc(&w, '.');
	if (clean_id(item_id, MSS_ID_MAX, false))
		cpm_wbuf_puts(&w, item_id);
	else {
		cpm_wbuf_puts(&w, "x.");
		put_sha1_hex(&w, item_id);
	}
	cpm_wbuf_puts(&w, "@cpm.mss>");
	return cpm_wbuf_finish(&w) < 0 ? -1 : 0;
}

int mss_folder(char *out, size_t cap, enum mss_kind kind, const char *conversation_id)
{
	struct cpm_wbuf w = cpm_wbuf_text(out, cap);
	const char *c = conversation_id;

	if (is_file_kind(kind) && kind != MSS_FT_HISTORY)
		cpm_wbuf_puts(&w, "CPM/Files");
	else if (!c || !*c)
		cpm_wbuf_puts(&w, "CPM/History");
	else {
		cpm_wbuf_puts(&w, "CPM/Conversations/");
		/* "x-" is the hashed form's prefix, so a clean id never takes it */
		if (clean_id(c, 100, true) && c[0] != '.' && strncmp(c, "x-", 2) != 0)
			cpm_wbuf_puts(&w, c);
		else {
			cpm_wbuf_puts(&w, "x-");
			put_sha1_hex(&w, c);
		}
	}
	return cpm_wbuf_finish(&w) < 0 ? -1 : 0;
}

static uint64_t b64_size(uint64_t n)
{
	if (n == 0)
		return 2; /* one empty line: the delimiter's CRLF needs a line before it */
	return n / LINE_IN * LINE_OUT + (n % LINE_IN ? (n % LINE_IN + 2) / 3 * 4 + 2 : 0);
}

/* Resolve a source's length; a descriptor must be a regular file. */
static int src_check(struct mss_src *s)
{
	struct stat st;

	if (s->buf)
		return s->len == UINT64_MAX ? -1 : 0;
	if (s->fd < 0 || fstat(s->fd, &st) != 0 || !S_ISREG(st.st_mode))
		return -1;
	if (s->len == UINT64_MAX)
		s->len = (uint64_t)st.st_size;
	return 0;
}

/* Close the text piece written since *mark as a segment, then add `data`. */
static int add_seg(struct mss_reader *r, struct cpm_wbuf *w, size_t *mark, enum seg_type t,
		   const struct mss_src *src)
{
	if (r->nseg + 2 > SEGS_MAX || w->overflow)
		return -1;
	r->seg[r->nseg++] = (struct seg){SEG_TEXT, *mark, w->len - *mark, {0}};
	*mark = w->len;
	if (src)
		r->seg[r->nseg++] = (struct seg){t, 0, src->len, *src};
	return 0;
}

/* A message/ type may not be base64 (RFC 2046 §5.2), and parsers would read it as
 * an embedded message: such a body is labelled application/octet-stream and
 * its real type goes to X-CPM-Content-Type. */
static void put_part_type(struct cpm_wbuf *w, const char *type, const char *dflt)
{
	const char *t = type && *type ? type : dflt;

	cpm_wbuf_puts(w, "Content-Type: ");
	if (strncasecmp(t, "message/", 8) == 0) {
		cpm_wbuf_puts(w, "application/octet-stream\r\nX-CPM-Content-Type: ");
	}
	mss_put_token(w, t, dflt);
	cpm_wbuf_puts(w, "\r\n");
}

static void put_top_headers(struct cpm_wbuf *w, const struct mss_meta *m, const char *msgid)
{
	static const char *const subj[] = {"File transfer", "Message", "Chat session",
					   "Expired file", "Kept file"};

	cpm_wbuf_puts(w, "Message-ID: ");
	cpm_wbuf_puts(w, msgid);
	cpm_wbuf_puts(w, "\r\nDate: ");
	mss_put_date(w, m->time);
	cpm_wbuf_puts(w, "\r\n");
	if (m->sender)
		mss_hdr_uri(w, "From", m->sender);
	for (size_t i = 0; i < m->nrecipients && i < MSS_RECIPIENTS_MAX; i++) {
		cpm_wbuf_puts(w, i ? ",\r\n <" : "To: <");
		mss_put_uri(w, m->recipients[i]);
		cpm_wbuf_putc(w, '>');
	}
	if (m->nrecipients)
		cpm_wbuf_puts(w, "\r\n");
	if (is_file_kind(m->kind) && m->file_name) {
		char s[MSS_VALUE_MAX + 32];
		snprintf(s, sizeof s, "%s: %.*s", subj[m->kind], MSS_VALUE_MAX, m->file_name);
		mss_hdr_text(w, "Subject", s);
	} else
		mss_hdr_text(w, "Subject", subj[m->kind]);
	cpm_wbuf_puts(w, "MIME-Version: 1.0\r\nX-CPM-Kind: ");
	cpm_wbuf_puts(w, mss_kind_name(m->kind));
	cpm_wbuf_puts(w, "\r\n");
	mss_hdr_text(w, "X-CPM-Item-ID", m->item_id);
	cpm_wbuf_puts(w, m->direction == MSS_DIR_OUT ? "X-CPM-Direction: out\r\n" : "X-CPM-Direction: in\r\n");
	if (m->conversation_id)
		mss_hdr_text(w, "Conversation-ID", m->conversation_id);
	if (m->contribution_id)
		mss_hdr_text(w, "Contribution-ID", m->contribution_id);
	if (m->disposition || m->kind == MSS_EXPIRED_FILE) {
		cpm_wbuf_puts(w, "X-CPM-Disposition: ");
		mss_put_token(w, m->kind == MSS_EXPIRED_FILE ? "expired" : m->disposition, "unknown");
		cpm_wbuf_puts(w, "\r\n");
	}
	if (m->sender)
		mss_hdr_uri(w, "X-CPM-Sender", m->sender);
	for (size_t i = 0; i < m->nrecipients && i < MSS_RECIPIENTS_MAX; i++)
		mss_hdr_uri(w, "X-CPM-Recipient", m->recipients[i]);
}

static void put_file_headers(struct cpm_wbuf *w, const struct mss_meta *m)
{
	mss_hdr_text(w, "X-CPM-File-Name", m->file_name ? m->file_name : "");
	cpm_wbuf_puts(w, "X-CPM-File-Type: ");
	mss_put_token(w, m->file_type, "application/octet-stream");
	cpm_wbuf_puts(w, "\r\nX-CPM-File-Size: ");
	cpm_wbuf_u64(w, m->file.len);
	cpm_wbuf_puts(w, "\r\n");
	if (m->file_hash)
		mss_hdr_text(w, "X-CPM-File-Hash", m->file_hash);
}

/* The object's text and segments; 0 or -1 (errno set). */
static int build(struct mss_reader *r, struct mss_meta *m)
{
	struct cpm_wbuf w = cpm_wbuf_raw(r->text, TEXT_MAX);
	size_t mark = 0;

	put_top_headers(&w, m, r->message_id);
	if (is_file_kind(m->kind)) {
		put_file_headers(&w, m);
		cpm_wbuf_puts(&w, "Content-Type: multipart/mixed; boundary=\"" BOUNDARY "\"\r\n\r\n");
		cpm_wbuf_puts(&w, "--" BOUNDARY "\r\n");
		put_part_type(&w, m->file_type, "application/octet-stream");
		cpm_wbuf_puts(&w, "Content-Disposition: attachment");
		mss_put_param(&w, "filename", m->file_name ? m->file_name : "file");
		cpm_wbuf_puts(&w, "\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <file@cpm.mss>\r\n\r\n");
		if (add_seg(r, &w, &mark, SEG_B64, &m->file) < 0)
			return -1;
		if (m->thumb_type) {
			cpm_wbuf_puts(&w, "--" BOUNDARY "\r\n");
			put_part_type(&w, m->thumb_type, "image/jpeg");
			cpm_wbuf_puts(&w, "Content-Disposition: inline\r\nContent-Transfer-Encoding: base64\r\n"
					  "Content-ID: <thumbnail@cpm.mss>\r\n\r\n");
			if (add_seg(r, &w, &mark, SEG_B64, &m->thumb) < 0)
				return -1;
		}
		cpm_wbuf_puts(&w, "--" BOUNDARY "--\r\n");
	} else if (m->kind == MSS_MESSAGE_HISTORY) {
		put_part_type(&w, m->body_type, "text/plain");
		cpm_wbuf_puts(&w, "Content-Transfer-Encoding: base64\r\n\r\n");
		if (add_seg(r, &w, &mark, SEG_B64, &m->body) < 0)
			return -1;
	} else {
		struct mss_src rec = {NULL, m->records_fd, UINT64_MAX};

		if (src_check(&rec) < 0 || mss_records_complete(rec.fd, rec.len, &rec.len) < 0)
			return -1;
		cpm_wbuf_puts(&w, "Content-Type: multipart/mixed; boundary=\"" BOUNDARY "\"\r\n\r\n");
		cpm_wbuf_puts(&w, "--" BOUNDARY "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
				  "CPM chat session history: one part per message or notification.\r\n");
		if (add_seg(r, &w, &mark, SEG_RAW, &rec) < 0)
			return -1;
		cpm_wbuf_puts(&w, "--" BOUNDARY "--\r\n");
	}
	if (add_seg(r, &w, &mark, SEG_TEXT, NULL) < 0)
		return -1;
	for (size_t i = 0; i < r->nseg; i++)
		r->size += r->seg[i].type == SEG_B64 ? b64_size(r->seg[i].len) : r->seg[i].len;
	return 0;
}

int mss_object_open(const struct mss_meta *meta, struct mss_reader **out)
{
	struct mss_meta m = *meta;
	struct mss_reader *r;

	*out = NULL;
	if ((unsigned)m.kind > MSS_KEPT_FILE ||
	    (is_file_kind(m.kind) && src_check(&m.file) < 0) ||
	    (is_file_kind(m.kind) && m.thumb_type && src_check(&m.thumb) < 0) ||
	    (m.kind == MSS_MESSAGE_HISTORY && src_check(&m.body) < 0)) {
		errno = EINVAL;
		return -1;
	}
	r = calloc(1, sizeof *r);
	if (!r || !(r->text = malloc(TEXT_MAX))) {
		free(r);
		errno = ENOMEM;
		return -1;
	}
	if (mss_message_id(r->message_id, sizeof r->message_id, m.kind, m.item_id) < 0 || build(r, &m) < 0) {
		mss_reader_free(r);
		errno = EINVAL;
		return -1;
	}
	*out = r;
	return 0;
}

uint64_t mss_reader_size(const struct mss_reader *r) { return r->size; }
const char *mss_reader_message_id(const struct mss_reader *r) { return r->message_id; }

void mss_reader_rewind(struct mss_reader *r)
{
	r->cur = 0;
	r->pos = 0;
	r->stage_len = r->stage_pos = 0;
}

void mss_reader_free(struct mss_reader *r)
{
	if (!r)
		return;
	free(r->text);
	free(r);
}

/* Exactly n bytes of src at off, or -1 (EIO if the file is shorter now). */
static int src_read(const struct mss_src *s, uint64_t off, void *buf, size_t n)
{
	size_t got = 0;

	if (s->buf) {
		memcpy(buf, (const char *)s->buf + off, n);
		return 0;
	}
	while (got < n) {
		ssize_t k = pread(s->fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)
				errno = EIO;
			return -1;
		}
		got += (size_t)k;
	}
	return 0;
}

/* Encode the next chunk of a base64 segment into the stage. */
static int stage_fill(struct mss_reader *r, struct seg *s)
{
	uint64_t left = s->len - r->pos;
	size_t take = left < sizeof r->in ? (size_t)left : sizeof r->in, o = 0;

	if (s->len == 0) {
		memcpy(r->stage, "\r\n", 2);
		r->stage_len = 2;
		r->pos = 1; /* marks the empty segment done: pos > len is never read again */
		return 0;
	}
	if (src_read(&s->src, r->pos, r->in, take) < 0)
		return -1;
	for (size_t i = 0; i < take; i += LINE_IN) {
		size_t n = take - i < LINE_IN ? take - i : LINE_IN;
		int k = mime_base64_encode(r->stage + o, sizeof r->stage - o, r->in + i, n);
		if (k < 0)
			return -1;
		o += (size_t)k;
		r->stage[o++] = '\r';
		r->stage[o++] = '\n';
	}
	r->pos += take;
	r->stage_len = o;
	r->stage_pos = 0;
	return 0;
}

ssize_t mss_reader_read(struct mss_reader *r, void *buf, size_t n)
{
	size_t done = 0;

	while (done < n && r->cur < r->nseg) {
		struct seg *s = &r->seg[r->cur];
		size_t k;

		if (s->type == SEG_B64) {
			if (r->stage_pos == r->stage_len) {
				if (r->pos >= s->len && (s->len > 0 || r->pos > 0)) {
					r->cur++;
					r->pos = 0;
					r->stage_len = r->stage_pos = 0;
					continue;
				}
				if (stage_fill(r, s) < 0)
					return -1;
			}
			k = r->stage_len - r->stage_pos;
			if (k > n - done)
				k = n - done;
			memcpy((char *)buf + done, r->stage + r->stage_pos, k);
			r->stage_pos += k;
			done += k;
			continue;
		}
		if (r->pos == s->len) {
			r->cur++;
			r->pos = 0;
			continue;
		}
		k = s->len - r->pos < n - done ? (size_t)(s->len - r->pos) : n - done;
		if (s->type == SEG_TEXT)
			memcpy((char *)buf + done, r->text + s->text_off + r->pos, k);
		else if (src_read(&s->src, r->pos, (char *)buf + done, k) < 0)
			return -1;
		r->pos += k;
		done += k;
	}
	return (ssize_t)done;
}
