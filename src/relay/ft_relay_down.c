/* The device's leg (DOWN): its responses and REPORTs go back to the sender
 * with the sender's tid and paths; its own requests are answered here, but
 * never inside a chunk we are writing to it. */
#include <string.h>

#include "relay/ft_relay_priv.h"
#include "relay/relay_frame.h"

static void relay_down_msg(struct ft_relay *r, const struct msrp_msg *m);

/* End the DOWN chunk in progress, then answer a device request that had to
 * wait for it. */
void relay_down_end(struct ft_relay *r, char flag)
{
	char buf[MSRP_END_LINE_MAX];
	const struct msrp_msg *m = r->down_pending;
	int n;

	if (r->up_cur != UP_ACTIVE)
		return;
	n = msrp_build_end(buf, sizeof buf, r->fwd_down_tid, flag, true);
	/* Copied behind the body (gathered by reference from the receive buffer): head, body
	 * and end-line of every chunk of this parse pass leave in one sendmsg at its end. */
	if (n > 0)
		relay_send_soon(r, FT_LEG_DOWN, buf, (size_t)n);
	r->up_cur = UP_NONE;
	r->down_pending = NULL;
	if (m && !r->destroyed) {
		relay_down_msg(r, m);
		conn_unhold(relay_conn(r, FT_LEG_DOWN), CONN_HOLD_PEER);
	}
}

/* The DOWN peer is another domain's PF that stored the file: its "Cpm-Stored: ID" goes on to
 * the sender with the 200 (the sender's client says `stored`). Only a short token is carried;
 * anything else from the peer is dropped. The line is built in r->fwd_hdr. */
static struct cpm_str stored_header(struct ft_relay *r, const struct msrp_msg *m)
{
	struct cpm_str v;
	if (!msrp_msg_header(m, "Cpm-Stored", &v) || v.len == 0 || v.len > 64)
		return CPM_STR_NULL;
	for (size_t i = 0; i < v.len; i++)
		if (!((v.p[i] >= '0' && v.p[i] <= '9') || (v.p[i] >= 'a' && v.p[i] <= 'z') ||
		      (v.p[i] >= 'A' && v.p[i] <= 'Z') || v.p[i] == '-'))
			return CPM_STR_NULL;
	int n = snprintf(r->fwd_hdr, sizeof r->fwd_hdr, "Cpm-Stored: %.*s\r\n", (int)v.len, v.p);
	return n > 0 && (size_t)n < sizeof r->fwd_hdr ? cpm_str_c(r->fwd_hdr) : CPM_STR_NULL;
}

static void down_response(struct ft_relay *r, const struct msrp_msg *m)
{
	char comment[128];
	struct txn t;
	int i = relay_txn_find(r, m->tid);

	if (i < 0)
		return; /* a chunk we forgot (partial) or never sent */
	if (r->source) {
		if (!r->ended)
			relay_source_response(r, i, m);
		return;
	}
	if (m->status != 200 && r->keep_on_loss && !r->ended) {
		/* The slot stays: switching to store mode answers it (and
		 * every other chunk the device left unanswered) to the
		 * sender; the device's error is not passed on. */
		relay_recipient_failed(r, FT_RELAY_RECIPIENT_REFUSED, "device answered %d", m->status);
		return;
	}
	t = r->tab[i];
	r->tab[i].used = false;
	if (r->ended)
		return;
	relay_frame_comment(comment, sizeof comment, m->comment);
	if (m->status == 200) {
		/* What the device has for sure: a resume point if its leg breaks
		 * (chunks are answered in order; one answered out of order only
		 * makes this an underestimate, which is safe). */
		if (t.file_from <= r->down_acked && t.file_to > r->down_acked)
			r->down_acked = t.file_to;
		if (t.fr != MSRP_REPORT_PARTIAL && t.fr != MSRP_REPORT_NO)
			relay_up_respond_tid_ext(r, t.up_tid, 200, comment[0] ? comment : NULL, stored_header(r, m));
		if (t.last)
			r->got_200 = true;
		relay_try_pending(r); /* a table slot is free again */
		relay_flow(r);
		relay_check_complete(r);
		return;
	}
	relay_up_respond_tid(r, t.up_tid, m->status, comment[0] ? comment : NULL);
	if (r->up_cur == UP_ACTIVE && strcmp(r->fwd_down_tid, m->tid) == 0)
		relay_down_end(r, MSRP_FLAG_ABORT); /* 413 mid-chunk: stop sending it */
	relay_finish(r, FT_RELAY_RECIPIENT_REFUSED, "device answered %d", m->status);
}

static bool report_covers_file(const struct ft_relay *r, const struct msrp_msg *m)
{
	if (!m->has_byte_range)
		return true;
	if (m->range.start != 1)
		return false;
	if (m->range.end != MSRP_RANGE_STAR)
		return m->range.end >= r->size;
	return m->range.total == r->size;
}

static void down_report(struct ft_relay *r, const struct msrp_msg *m)
{
	struct relay_leg *U = &r->leg[FT_LEG_UP];
	char buf[MSRP_MAX_LINE + MSRP_OUR_URI_MAX + 512];
	char tid[MSRP_OUR_TID_LEN + 1];
	int n;

	if (!r->file_msgid[0] || !cpm_str_eq(m->message_id, r->file_msgid))
		return;
	if (r->source) {
		relay_source_report(r, m);
		return;
	}
	if (m->status_code != 200 && r->keep_on_loss) {
		relay_recipient_failed(r, FT_RELAY_RECIPIENT_REFUSED, "device reported %d", m->status_code);
		return;
	}
	msrp_random_ident(tid, MSRP_OUR_TID_LEN);
	n = relay_frame_report(buf, sizeof buf, m, tid, relay_leg_path_back(U), cpm_str_c(U->uri));
	if (n > 0)
		relay_send(r, FT_LEG_UP, buf, (size_t)n);
	if (m->status_code != 200) {
		if (r->up_cur == UP_ACTIVE)
			relay_down_end(r, MSRP_FLAG_ABORT);
		relay_finish(r, FT_RELAY_RECIPIENT_REFUSED, "device reported %d", m->status_code);
		return;
	}
	if (r->last_sent && report_covers_file(r, m))
		r->got_report = true;
	relay_flow(r);
	relay_check_complete(r);
}

static void relay_down_msg(struct ft_relay *r, const struct msrp_msg *m)
{
	struct relay_leg *L = &r->leg[FT_LEG_DOWN];

	if (m->method == MSRP_METHOD_NONE) {
		down_response(r, m);
		return;
	}
	if (m->method == MSRP_METHOD_REPORT) {
		if (relay_leg_to_path_ok(L, m) && !r->ended)
			down_report(r, m);
		return;
	}
	if (r->up_cur == UP_ACTIVE) {
		/* Any answer would land inside the open chunk. */
		r->down_pending = m;
		conn_hold(L->s.conn, CONN_HOLD_PEER);
		return;
	}
	if (relay_leg_common_request(L, m))
		return;
	/* A SEND with a body from the recipient: a file transfer goes one
	 * way (the device's SDP says recvonly), nothing to relay it to. */
	relay_leg_respond(L, m, 403, "Receive-only session");
}

void relay_down_event(struct ft_relay *r, const struct msrp_event *ev)
{
	if (ev->type == MSRP_EV_MSG) {
		relay_down_msg(r, ev->msg);
		/* After the device's first request is answered (not before:
		 * the answer must not land inside our chunk), relaying may
		 * start. */
		relay_try_pending(r);
	} else if (ev->type == MSRP_EV_ERROR && ev->msg) {
		if (r->up_cur == UP_ACTIVE)
			return; /* cannot answer inside our chunk; the peer's
				 * own 30 s timer covers this rare case */
		relay_leg_respond(&r->leg[FT_LEG_DOWN], ev->msg, 400, NULL);
	}
	/* BODY of a refused SEND and END: nothing to do */
}
