/* The sender's leg (UP): data SENDs are checked, re-framed towards the
 * device and streamed through; the tee sees every new byte; the '$' chunk
 * is checked (size, sha-1) before its end-line goes DOWN. */
#include <string.h>

#include "cpm/mime.h"
#include "relay/ft_relay_priv.h"
#include "relay/relay_frame.h"

/* Write the DOWN head of the pending UP chunk once DOWN can take it. */
void relay_try_pending(struct ft_relay *r)
{
	char head[MSRP_MAX_HEADER_BYTES + SDP_MAX_PATH + MSRP_OUR_URI_MAX + 256];
	struct msrp_conn *up = relay_conn(r, FT_LEG_UP), *down = relay_conn(r, FT_LEG_DOWN);
	const struct msrp_msg *m = r->pending;
	int slot = -1, n;

	if (r->source) {
		relay_source_pump(r);
		return;
	}
	if (!m || r->ended || r->up_cur != UP_PENDING)
		return;
	if (r->store) {
		/* Nothing goes DOWN: the body goes to the blob only, and we
		 * answer the chunk at its end-line. */
		r->pending = NULL;
		r->fwd_txn = -1;
		r->up_cur = UP_ACTIVE;
		conn_unhold(up, CONN_HOLD_PEER);
		return;
	}
	if (!down || !r->leg[FT_LEG_DOWN].has_peer) {
		conn_hold(up, CONN_HOLD_PEER);
		return;
	}
	if (r->fwd_fr != MSRP_REPORT_NO) {
		slot = relay_txn_alloc(r);
		if (slot < 0) {
			conn_hold(up, CONN_HOLD_PEER); /* wait for responses */
			return;
		}
	}
	msrp_random_ident(r->fwd_down_tid, MSRP_OUR_TID_LEN);
	n = relay_frame_send_head(head, sizeof head, m, r->fwd_down_tid, cpm_str_c(r->leg[FT_LEG_DOWN].peer_path),
				  cpm_str_c(r->leg[FT_LEG_DOWN].uri));
	r->pending = NULL;
	conn_unhold(up, CONN_HOLD_PEER);
	if (n < 0) {
		/* Nothing our builder refuses can come from our parser, but
		 * if it does the chunk is refused rather than mangled. */
		relay_leg_respond(&r->leg[FT_LEG_UP], m, 400, "Cannot relay these headers");
		r->up_cur = UP_SKIP;
		return;
	}
	if (slot >= 0) {
		struct txn *t = &r->tab[slot];

		memset(t, 0, sizeof *t);
		t->used = true;
		t->fr = r->fwd_fr;
		t->timed = fr_wants_response(r->fwd_fr);
		t->seq = ++r->seq;
		t->file_from = r->fwd_off;
		t->file_to = r->fwd_off; /* set at its end-line */
		strcpy(t->down_tid, r->fwd_down_tid);
		strcpy(t->up_tid, r->fwd_up_tid);
	}
	r->fwd_txn = slot;
	r->up_cur = UP_ACTIVE;
	/* Queued without a syscall: it leaves with the first body bytes. */
	conn_queue(down, head, (size_t)n);
	relay_flow(r);
}

/* size_from_range (a large message): the first data SEND's Byte-Range total
 * is the size, as a selector's size is for a file. false: refused (413 sent,
 * the relay ended). */
static bool size_from_first_chunk(struct ft_relay *r, const struct msrp_msg *m)
{
	uint64_t total = m->has_byte_range ? m->range.total : MSRP_RANGE_STAR;

	if (total == MSRP_RANGE_STAR) {
		/* we must know how much to accept (and to store) before the
		 * first byte: a message of unknown size could be anything */
		relay_leg_respond(&r->leg[FT_LEG_UP], m, 413, "Size Must Be Known (Byte-Range total)");
		relay_finish(r, FT_RELAY_TOO_BIG, "message of unknown size (Byte-Range total '*')");
		return false;
	}
	if (total > MSRP_MAX_RANGE_VALUE || (r->max_size && total > r->max_size)) {
		relay_leg_respond(&r->leg[FT_LEG_UP], m, 413, NULL);
		relay_finish(r, FT_RELAY_TOO_BIG, "message of %llu bytes, over the maximum of %llu",
			     (unsigned long long)total, (unsigned long long)r->max_size);
		return false;
	}
	r->size = r->limit = total;
	r->size_unknown = false;
	return true;
}

/* params.content_type: the one type a data SEND may carry (parameters aside). */
static bool content_type_ok(const struct ft_relay *r, const struct msrp_msg *m)
{
	return !r->accept_type[0] || cpm_str_caseeq(mime_type_only(m->content_type), r->accept_type);
}

/* A SEND with a body from the sender: check it, then relay it. */
static void up_data_head(struct ft_relay *r, const struct msrp_msg *m)
{
	struct relay_leg *L = &r->leg[FT_LEG_UP];
	uint64_t start = m->has_byte_range ? m->range.start : 1;
	uint64_t msg_limit;

	if (!content_type_ok(r, m)) {
		relay_leg_respond(L, m, 415, NULL);
		return;
	}
	if (r->size_unknown && !size_from_first_chunk(r, m))
		return;
	/* A resumed upload's message is the range [base, size): its
	 * Byte-Range counts within it (RFC 5547 §6). */
	msg_limit = r->limit > r->base ? r->limit - r->base : 0;
	if (!r->file_msgid[0]) {
		if (!cpm_str_copy(r->file_msgid, sizeof r->file_msgid, m->message_id)) {
			relay_leg_respond(L, m, 400, "Bad Message-ID");
			return;
		}
	} else if (!cpm_str_eq(m->message_id, r->file_msgid)) {
		relay_leg_respond(L, m, 403, "One file per session");
		return;
	}
	if (r->last_sent) {
		relay_leg_respond(L, m, 403, "File already complete");
		return;
	}
	if (r->rs_err) {
		/* the stored prefix is unreadable: nothing more goes in */
		relay_leg_respond(L, m, 400, "Cannot store the file");
		r->fwd_fr = m->failure_report;
		relay_tw_fail(r);
		return;
	}
	if (m->has_byte_range &&
	    ((m->range.total != MSRP_RANGE_STAR && m->range.total > msg_limit) ||
	     (m->range.end != MSRP_RANGE_STAR && m->range.end > msg_limit))) {
		relay_leg_respond(L, m, 413, NULL);
		relay_finish(r, FT_RELAY_TOO_BIG, "Byte-Range beyond %llu bytes", (unsigned long long)msg_limit);
		return;
	}
	if (start == 0 || start - 1 > r->tee.contig - r->base) {
		/* A hole would have to be filled later; we keep the blob
		 * contiguous instead and let the sender re-send. */
		relay_leg_respond(L, m, 400, "Byte-Range leaves a gap");
		return;
	}
	r->fwd_off = r->base + start - 1; /* a file offset from here on */
	r->fwd_fr = m->failure_report;
	r->fwd_sr = m->success_report;
	strcpy(r->fwd_up_tid, m->tid);
	r->pending = m;
	r->up_cur = UP_PENDING;
	relay_try_pending(r);
}

static void up_msg(struct ft_relay *r, const struct msrp_msg *m)
{
	struct relay_leg *L = &r->leg[FT_LEG_UP];

	r->up_cur = UP_SKIP;
	if (m->method == MSRP_METHOD_NONE || m->method == MSRP_METHOD_REPORT)
		return; /* we never ask the sender anything; REPORTs get no answer */
	if (relay_leg_common_request(L, m) || r->ended)
		return;
	up_data_head(r, m);
}

static void up_abort(struct ft_relay *r, const struct msrp_msg *m, int status, const char *comment)
{
	if (r->fwd_txn >= 0)
		r->tab[r->fwd_txn].used = false;
	relay_down_end(r, MSRP_FLAG_ABORT);
	relay_leg_respond(&r->leg[FT_LEG_UP], m, status, comment);
}

static void up_body(struct ft_relay *r, const struct msrp_event *ev)
{
	const char *p = ev->body.p;
	size_t n = ev->body.len;
	int rc;

	if (r->up_cur != UP_ACTIVE || r->ended)
		return;
	if (r->fwd_off + n > r->limit) {
		up_abort(r, ev->msg, 413, NULL);
		relay_finish(r, FT_RELAY_TOO_BIG, "more than %llu bytes", (unsigned long long)r->limit);
		return;
	}
	if (r->relayed + n > 2 * r->limit + RELAY_RESEND_SLACK) {
		/* Re-sent ranges are legal, endless ones are a way to make us
		 * burn the device's bandwidth. */
		up_abort(r, ev->msg, 413, "Too many re-sent bytes");
		relay_finish(r, FT_RELAY_TOO_BIG, "sender re-sent too much (%llu bytes relayed)",
		       (unsigned long long)r->relayed);
		return;
	}
	if (r->rs_err) {
		relay_tw_fail(r);
		return;
	}
	rc = relay_tee_feed(r, r->fwd_off, p, n);
	if (rc) {
		up_abort(r, ev->msg, 413, "Cannot store the file");
		relay_finish(r, FT_RELAY_IO_ERROR, "blob write: %s", strerror(-rc));
		return;
	}
	/* Straight from the receive buffer, without a syscall yet: the body
	 * leaves with its end-line (and the head queued before it) in one
	 * sendmsg, or at the end of this parse pass; only what the socket does
	 * not take is copied into the DOWN queue. */
	if (!r->store) {
		relay_send_ref(r, FT_LEG_DOWN, p, n);
		hub_count_relayed(r->hub, n);
	}
	r->fwd_off += n;
	r->relayed += n; /* store mode: received, re-sent ones included */
	relay_flow(r);
}

/* The '$' chunk of the file: check size and hash before its end-line. */
static void up_last_chunk(struct ft_relay *r, const struct msrp_msg *m)
{
	if (r->tee.contig != r->size) {
		up_abort(r, m, 400, "File size mismatch");
		relay_finish(r, FT_RELAY_HASH_MISMATCH, "got %llu of %llu bytes",
		       (unsigned long long)r->tee.contig, (unsigned long long)r->size);
		return;
	}
	/* The tee worker still writes and hashes the ring's last bytes: the
	 * check waits for it (relay_tee_worker.c), the sender is held. */
	if (relay_tw_final(r, m->tid, r->fwd_fr, r->fwd_sr))
		return;
	if (tee_final(&r->tee)) {
		up_abort(r, m, 413, "Cannot store the file");
		relay_finish(r, FT_RELAY_IO_ERROR, "sha-1 failed");
		return;
	}
	relay_up_last_hashed(r, m->tid, r->fwd_fr, r->fwd_sr);
}

void relay_up_last_hashed(struct ft_relay *r, const char *tid, enum msrp_report_mode fr,
			  enum msrp_report_mode sr)
{
	bool check = r->has_sha1 || r->base;

	if (check && !r->tee.hashed) {
		if (r->store) {
			/* A lazy worker finished before the switch asked it: the file is kept, so
			 * it is checked, from the blob. */
			if (!relay_tw_rehash(r, tid, fr, sr)) {
				if (fr != MSRP_REPORT_NO)
					relay_up_respond_tid(r, tid, 413, "Cannot store the file");
				relay_finish(r, FT_RELAY_IO_ERROR, "cannot hash the blob");
			}
			return;
		}
		/* Live: the device checks the file-selector's hash itself (RFC 5547); a switch to
		 * store mode after this hashes the blob before RECEIVED (relay_store_verified). */
		msrp_log("relay %s: live, %llu bytes relayed; sha-1 not verified by cpmd (the device checks it)",
			 relay_name(r), (unsigned long long)r->tee.contig);
		check = false;
	}
	if (check && memcmp(r->tee.digest, r->sha1, sizeof r->sha1) != 0) {
		if (r->fwd_txn >= 0 && !r->store)
			r->tab[r->fwd_txn].used = false;
		relay_down_end(r, MSRP_FLAG_ABORT);
		if (fr != MSRP_REPORT_NO)
			relay_up_respond_tid(r, tid, 400, "Hash mismatch");
		relay_finish(r, FT_RELAY_HASH_MISMATCH, r->base ? "sha-1 of the resumed file differs from the file-selector"
								: "sha-1 differs from the file-selector");
		return;
	}
	r->hash_ok = true;
	if (r->store) {
		r->last_sent = true;
		r->up_cur = UP_NONE;
		relay_store_received(r, tid, fr, sr);
		return;
	}
	relay_txn_start_clock(r, true);
	r->last_sent = true;
	r->need_200 = fr_wants_response(fr);
	r->need_report = sr == MSRP_REPORT_YES;
	if (r->need_report) {
		r->report_deadline = msrp_now_ms() + hub_txn_timeout_ms(r->hub);
		relay_arm(r);
	}
	relay_down_end(r, MSRP_FLAG_END);
	relay_check_complete(r);
}

static void up_end(struct ft_relay *r, const struct msrp_event *ev)
{
	enum up_cur cur = r->up_cur;

	if (cur != UP_ACTIVE) {
		r->up_cur = UP_NONE;
		return;
	}
	if (r->ended)
		return;
	switch (ev->flag) {
	case MSRP_FLAG_ABORT:
		relay_down_end(r, MSRP_FLAG_ABORT);
		relay_finish(r, FT_RELAY_SENDER_ABORTED, "sender aborted the file ('#')");
		return;
	case MSRP_FLAG_MORE:
		if (r->store) {
			/* the bytes are in the blob: the chunk is ours to answer */
			r->up_cur = UP_NONE;
			relay_leg_respond(&r->leg[FT_LEG_UP], ev->msg, 200, NULL);
			return;
		}
		if (r->fwd_txn >= 0)
			r->tab[r->fwd_txn].file_to = r->fwd_off;
		relay_txn_start_clock(r, false);
		relay_down_end(r, MSRP_FLAG_MORE);
		return;
	default:
		up_last_chunk(r, ev->msg);
		return;
	}
}

void relay_up_event(struct ft_relay *r, const struct msrp_event *ev)
{
	switch (ev->type) {
	case MSRP_EV_MSG:
		up_msg(r, ev->msg);
		break;
	case MSRP_EV_BODY:
		up_body(r, ev);
		break;
	case MSRP_EV_END:
		up_end(r, ev);
		break;
	case MSRP_EV_ERROR:
		if (ev->msg)
			relay_leg_respond(&r->leg[FT_LEG_UP], ev->msg, 400, NULL);
		break;
	default:
		break;
	}
}
