/* Source mode: deliver a stored file to a device. The relay has a DOWN leg
 * only; once the device has bound and its peer path is known, the blob (or
 * the range of it that a resume asks for) goes out as one MSRP message in
 * 64 KiB chunks, read with pread() on the loop (page cache: see
 * docs/internals/relay.md, "Source mode"), never more than the high-water
 * mark queued. The device's 200s advance the acknowledged prefix that a
 * later resume starts from. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relay/ft_relay_priv.h"

/* Room for one chunk on the wire: our head (paths, Message-ID, Byte-Range,
 * reports, Content-Type), the body, the end-line. */
#define SRC_HEAD_MAX (SDP_MAX_PATH + MSRP_OUR_URI_MAX + 512)
#define SRC_BUF_SIZE (SRC_HEAD_MAX + FT_RELAY_SOURCE_CHUNK + MSRP_END_LINE_MAX)

void relay_source_free(struct ft_relay *r)
{
	if (r->src_fd >= 0)
		close(r->src_fd);
	r->src_fd = -1;
	free(r->src_buf);
	r->src_buf = NULL;
}

static bool ident_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 4 || n > MSRP_MSGID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

		if (!alnum && (i == 0 || !strchr(".-+%=", c)))
			return false;
	}
	return true;
}

static bool ctype_ok(const char *s)
{
	return *s && strlen(s) < sizeof ((struct ft_relay *)0)->src_ctype && !strpbrk(s, "\r\n") &&
	       strchr(s, '/');
}

int ftr_create_source(struct ft_relay **rp, struct msrp_hub *h, const struct ft_relay_source_params *p,
			   ft_relay_done_f *done, void *arg)
{
	const char *ctype;
	struct ft_relay *r;
	struct stat st;
	uint64_t len;
	int rc = 0;

	*rp = NULL;
	if (!h || !p || p->blob_fd < 0 || p->size > MSRP_MAX_RANGE_VALUE || p->offset > p->size)
		return -EINVAL;
	len = p->length ? p->length : p->size - p->offset;
	if (len > p->size - p->offset)
		return -EINVAL;
	ctype = p->content_type ? p->content_type : "application/octet-stream";
	if (!ctype_ok(ctype) || (p->message_id && !ident_ok(p->message_id)))
		return -EINVAL;
	r = relay_new(h, -1, done, arg, &rc);
	if (!r)
		return rc;
	r->source = true;
	r->src_fd = p->blob_fd; /* ours once created; relay_discard() gives it back */
	if (fstat(r->src_fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != p->size) {
		/* a stored file has exactly its selector's size */
		relay_discard(r);
		return -EINVAL;
	}
	r->src_buf_cap = SRC_BUF_SIZE;
	r->src_buf = malloc(r->src_buf_cap);
	if (!r->src_buf) {
		relay_discard(r);
		return -ENOMEM;
	}
	r->size = len; /* the MSRP message is the range */
	r->limit = len;
	r->src_off = p->offset;
	r->has_sha1 = p->has_sha1;
	memcpy(r->sha1, p->sha1, sizeof r->sha1);
	r->src_check_hash = p->has_sha1 && p->offset == 0 && len == p->size;
	snprintf(r->src_ctype, sizeof r->src_ctype, "%s", ctype);
	if (p->message_id)
		snprintf(r->file_msgid, sizeof r->file_msgid, "%s", p->message_id);
	else
		msrp_random_ident(r->file_msgid, 16);
	relay_legs_init(r);
	if (relay_leg_add(r, FT_LEG_DOWN)) {
		relay_discard(r);
		return -ENOMEM;
	}
	msrp_log("relay %s: created in source mode (bytes %llu..%llu of %llu)", r->leg[FT_LEG_DOWN].s.id,
		 (unsigned long long)p->offset + 1, (unsigned long long)(p->offset + len),
		 (unsigned long long)p->size);
	*rp = r;
	return 0;
}

uint64_t ftr_bytes_acked(const struct ft_relay *r)
{
	if (!r)
		return 0;
	if (!r->source)
		return r->down_acked; /* live: what the device answered 200 to */
	return r->src_off + r->src_acked;
}

static int free_slot(struct ft_relay *r)
{
	for (int i = 0; i < RELAY_TXNS; i++)
		if (!r->tab[i].used)
			return i;
	return -1;
}

static int read_at(int fd, char *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t got = pread(fd, p, n, (off_t)off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return -EIO; /* the blob is shorter than it was */
		p += got;
		n -= (size_t)got;
		off += (uint64_t)got;
	}
	return 0;
}

/* Send as many chunks as the back-pressure and the transaction table
 * allow. Each chunk is built whole (head, body, end-line) and handed to the
 * socket in one call: nothing is ever interleaved inside it. */
void relay_source_pump(struct ft_relay *r)
{
	struct relay_leg *D = &r->leg[FT_LEG_DOWN];
	size_t hw = hub_high_water(r->hub);

	if (!r->source || r->ended || r->destroyed)
		return;
	/* the device's binding SEND must have been answered first */
	while (!r->last_sent && D->s.conn && !D->s.conn->failed && D->has_peer && D->peer_from[0] && !r->ended) {
		uint64_t n = r->size - r->src_next;
		struct msrp_byte_range range;
		struct msrp_request_head hd;
		char tid[MSRP_OUR_TID_LEN + 1];
		size_t q = conn_queued(D->s.conn), len;
		int slot = free_slot(r), hl, el, rc;
		bool last;
		char flag;
		struct txn *t;

		if (slot < 0)
			return; /* wait for responses */
		if (n > FT_RELAY_SOURCE_CHUNK)
			n = FT_RELAY_SOURCE_CHUNK;
		last = r->src_next + n == r->size;
		msrp_random_ident(tid, MSRP_OUR_TID_LEN);
		range.start = r->src_next + 1;
		range.end = r->src_next + n;
		range.total = r->size;
		memset(&hd, 0, sizeof hd);
		hd.tid = tid;
		hd.method = MSRP_METHOD_SEND;
		hd.to_path = cpm_str_c(D->peer_path);
		hd.from_path = cpm_str_c(D->uri);
		hd.message_id = cpm_str_c(r->file_msgid);
		hd.range = &range;
		hd.success_report = MSRP_REPORT_YES;
		hd.failure_report = MSRP_REPORT_YES;
		hd.content_type = cpm_str_c(r->src_ctype);
		hl = msrp_build_request_head(r->src_buf, SRC_HEAD_MAX, &hd);
		if (hl < 0) {
			relay_finish(r, FT_RELAY_PROTOCOL_ERROR, "cannot build a SEND for this device path");
			return;
		}
		/* Back-pressure: never more than high water queued (a chunk
		 * larger than that goes alone, into an empty queue). */
		if (q && q + (size_t)hl + n + MSRP_END_LINE_MAX > hw)
			return;
		rc = read_at(r->src_fd, r->src_buf + hl, (size_t)n, r->src_off + r->src_next);
		if (rc) {
			relay_finish(r, FT_RELAY_IO_ERROR, "blob read: %s", strerror(-rc));
			return;
		}
		flag = last ? MSRP_FLAG_END : MSRP_FLAG_MORE;
		if (r->src_check_hash) {
			if (tee_feed(&r->tee, r->src_next, r->src_buf + hl, (size_t)n) ||
			    (last && tee_final(&r->tee))) {
				relay_finish(r, FT_RELAY_IO_ERROR, "sha-1 failed");
				return;
			}
			if (last && memcmp(r->tee.digest, r->sha1, sizeof r->sha1) != 0)
				flag = MSRP_FLAG_ABORT; /* a damaged blob is not delivered */
		}
		len = (size_t)hl + (size_t)n;
		el = msrp_build_end(r->src_buf + len, r->src_buf_cap - len, tid, flag, true);
		if (el < 0) {
			relay_finish(r, FT_RELAY_PROTOCOL_ERROR, "cannot build an end-line");
			return;
		}
		len += (size_t)el;
		if (flag != MSRP_FLAG_ABORT) {
			t = &r->tab[slot];
			memset(t, 0, sizeof *t);
			t->used = true;
			t->timed = true;
			t->fr = MSRP_REPORT_YES;
			t->last = last;
			t->seq = ++r->seq;
			t->start = range.start;
			t->end = range.end;
			t->deadline = msrp_now_ms() + hub_txn_timeout_ms(r->hub);
			snprintf(t->down_tid, sizeof t->down_tid, "%s", tid);
		}
		relay_send(r, FT_LEG_DOWN, r->src_buf, len);
		r->src_next += n;
		hub_count_relayed(r->hub, n);
		if (flag == MSRP_FLAG_ABORT) {
			relay_finish(r, FT_RELAY_HASH_MISMATCH, "the stored blob does not match its sha-1");
			return;
		}
		if (last) {
			r->last_sent = true;
			r->need_200 = true;
			r->need_report = true;
			r->report_deadline = msrp_now_ms() + hub_txn_timeout_ms(r->hub);
		}
		relay_arm(r);
	}
}

/* Advance the acknowledged prefix over chunks answered 200. */
static void source_advance(struct ft_relay *r)
{
	bool moved = true;

	while (moved) {
		moved = false;
		for (int i = 0; i < RELAY_TXNS; i++) {
			struct txn *t = &r->tab[i];

			/* (a success REPORT may have moved the prefix already) */
			if (t->used && t->acked && t->start <= r->src_acked + 1) {
				if (t->end > r->src_acked)
					r->src_acked = t->end;
				t->used = false;
				moved = true;
			}
		}
	}
}

void relay_source_response(struct ft_relay *r, int i, const struct msrp_msg *m)
{
	struct txn *t = &r->tab[i];

	if (m->status != 200) {
		t->used = false;
		relay_finish(r, FT_RELAY_RECIPIENT_REFUSED, "device answered %d", m->status);
		return;
	}
	t->acked = true;
	if (t->last)
		r->got_200 = true;
	source_advance(r);
	relay_source_pump(r); /* a table slot is free again */
	relay_check_complete(r);
}

void relay_source_report(struct ft_relay *r, const struct msrp_msg *m)
{
	if (m->status_code != 200) {
		relay_finish(r, FT_RELAY_RECIPIENT_REFUSED, "device reported %d", m->status_code);
		return;
	}
	if (!m->has_byte_range) {
		if (r->last_sent) {
			r->got_report = true;
			if (r->src_acked < r->size)
				r->src_acked = r->size;
		}
	} else if (m->range.start == 1 && m->range.end != MSRP_RANGE_STAR) {
		/* the device holds 1..end of the message */
		uint64_t end = m->range.end < r->src_next ? m->range.end : r->src_next;

		if (end > r->src_acked)
			r->src_acked = end;
		if (r->last_sent && end >= r->size)
			r->got_report = true;
	}
	relay_check_complete(r);
}
