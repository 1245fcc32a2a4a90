/* The relay of one anchored file transfer: the sender's MSRP session (UP)
 * and the recipient device's session (DOWN), joined chunk by chunk.
 *
 * UP data SEND  -> DOWN SEND with our tid and paths, body streamed through
 *                  (and teed to the blob + sha-1), end-line written only
 *                  after the checks that need the whole chunk;
 * DOWN response -> UP response with the sender's tid (table `tab`);
 * DOWN REPORT   -> UP REPORT, paths rewritten, new tid;
 * bodiless SEND -> answered here (200), never relayed.
 *
 * Choices (docs/internals/relay.md explains them):
 *  - the file is the one message of the session: the first SEND with a body
 *    names it (Message-ID); a body under another Message-ID gets 403;
 *  - a chunk that starts beyond the next byte we are missing gets 400 and is
 *    not relayed (no holes in the blob); an overlapping chunk is relayed but
 *    only its new bytes are teed and hashed;
 *  - size/hash mismatch on the '$' chunk: '#' downstream, 400 upstream;
 *  - bytes beyond the selector's size or max_size: '#' downstream, 413
 *    upstream; a blob write error: the same, FT_RELAY_IO_ERROR.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/msrp_net.h"

/* Relayed chunks whose response we may still get. A sender with 64 KiB
 * chunks and a 1 MiB high-water mark has ~20 in flight; smaller chunks are
 * throttled by this table (the sender waits for the device, as it would
 * without us). */
#define RELAY_TXNS 64
/* Bytes relayed may exceed the file only by re-sent ranges: at most twice
 * the file plus this. */
#define RELAY_RESEND_SLACK (1024 * 1024)

enum up_cur {
	UP_NONE = 0, /* between messages */
	UP_SKIP,     /* current message is not relayed: ignore BODY/END */
	UP_PENDING,  /* data SEND parsed, DOWN head not written yet */
	UP_ACTIVE,   /* DOWN head written: body and end-line go DOWN */
};

struct relay_leg {
	struct msrp_session s;
	struct ft_relay *r;
	enum ft_relay_leg which;
	char uri[MSRP_OUR_URI_MAX];
	char peer_path[SDP_MAX_PATH + 1];
	bool has_peer;
	char peer_from[MSRP_MAX_LINE + 1]; /* From-Path of the peer's first request */
	uint64_t bind_deadline;            /* 0: not waiting */
	size_t max_queued;
};

struct txn {
	bool used;
	bool timed; /* Failure-Report yes: a response must come */
	bool last;  /* the '$' chunk of the file */
	enum msrp_report_mode fr;
	uint64_t deadline; /* 0 until its end-line was written */
	uint64_t seq;
	char down_tid[MSRP_TID_MAX + 1];
	char up_tid[MSRP_TID_MAX + 1];
};

struct ft_relay {
	struct hub_defer defer; /* first: the deferred free finds us by it */
	struct msrp_hub *hub;
	ft_relay_done_f *done;
	void *arg;
	uint64_t size, limit;
	bool has_sha1;
	uint8_t sha1[20];

	struct relay_leg leg[2];
	su_timer_t *timer;
	bool timer_armed;
	uint64_t timer_at;
	struct relay_tee tee;
	char file_msgid[MSRP_MSGID_MAX + 1];

	/* the UP chunk being relayed */
	enum up_cur up_cur;
	const struct msrp_msg *pending; /* parser-owned, valid while UP is held */
	/* A device request that needs an answer while a DOWN chunk is open:
	 * nothing may be written between a chunk's head and its end-line, so
	 * DOWN is held and the request answered once the chunk ends. */
	const struct msrp_msg *down_pending;
	char fwd_down_tid[MSRP_TID_MAX + 1];
	char fwd_up_tid[MSRP_TID_MAX + 1];
	int fwd_txn; /* index in tab, or -1 */
	enum msrp_report_mode fwd_fr, fwd_sr;
	uint64_t fwd_off; /* 0-based file offset of its next body byte */
	uint64_t relayed; /* body bytes sent DOWN, re-sent ones included */

	struct txn tab[RELAY_TXNS];
	uint64_t seq;

	bool last_sent; /* '$' of the file written DOWN, checks passed */
	uint64_t report_deadline; /* success REPORT expected by then (0: none) */
	size_t last_outq;         /* kernel send queue towards DOWN at the last timer check */
	bool need_200, need_report, got_200, got_report;
	bool hash_ok;
	bool ended, destroyed;
};

static const struct msrp_session_ops relay_ops;

const char *ft_relay_result_str(enum ft_relay_result r)
{
	switch (r) {
	case FT_RELAY_COMPLETE: return "complete";
	case FT_RELAY_SENDER_ABORTED: return "sender aborted";
	case FT_RELAY_RECIPIENT_REFUSED: return "recipient refused";
	case FT_RELAY_RECIPIENT_LOST: return "recipient lost";
	case FT_RELAY_HASH_MISMATCH: return "hash mismatch";
	case FT_RELAY_TOO_BIG: return "too big";
	case FT_RELAY_TIMEOUT: return "timeout";
	case FT_RELAY_PROTOCOL_ERROR: return "protocol error";
	case FT_RELAY_IO_ERROR: return "I/O error";
	}
	return "unknown";
}

static struct msrp_conn *leg_conn(struct ft_relay *r, enum ft_relay_leg l)
{
	return r->leg[l].s.conn;
}

static bool fr_wants_response(enum msrp_report_mode fr)
{
	return fr == MSRP_REPORT_YES || fr == MSRP_REPORT_DEFAULT;
}

/* ---------------------------------------------------------------- ending */

static void relay_timer_stop(struct ft_relay *r)
{
	if (r->timer && r->timer_armed)
		su_timer_reset(r->timer);
	r->timer_armed = false;
}

/* The one place done() is called. Callers return right after it: done()
 * may destroy the relay (the memory stays until the hub is back at depth
 * zero, but the sessions are detached). */
static void finish(struct ft_relay *r, enum ft_relay_result res, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void finish(struct ft_relay *r, enum ft_relay_result res, const char *fmt, ...)
{
	char detail[160];
	va_list ap;

	if (r->ended || r->destroyed)
		return;
	r->ended = true;
	r->pending = NULL;
	conn_hold(leg_conn(r, FT_LEG_UP), CONN_HOLD_ENDED);
	conn_hold(leg_conn(r, FT_LEG_DOWN), CONN_HOLD_ENDED);
	relay_timer_stop(r);
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	msrp_log("relay %s: %s (%s), %llu bytes", r->leg[FT_LEG_UP].s.id, ft_relay_result_str(res),
		 detail, (unsigned long long)r->tee.contig);
	if (r->done)
		r->done(r->arg, res, detail);
}

/* ---------------------------------------------------------------- output helpers */

static void relay_send(struct ft_relay *r, enum ft_relay_leg l, const void *p, size_t n)
{
	struct msrp_conn *c = leg_conn(r, l);
	size_t q;

	if (!c)
		return;
	conn_send(c, p, n);
	q = conn_queued(c);
	if (q > r->leg[l].max_queued)
		r->leg[l].max_queued = q;
}

/* The path back to a peer: what its requests carried, else its SDP path. */
static struct cpm_str leg_path_back(const struct relay_leg *L)
{
	if (L->peer_from[0])
		return cpm_str_c(L->peer_from);
	if (L->has_peer)
		return cpm_str_c(L->peer_path);
	return CPM_STR_NULL;
}

static void leg_respond(struct relay_leg *L, const struct msrp_msg *m, int status, const char *comment)
{
	conn_respond(L->s.conn, m, status, comment, cpm_str_c(L->uri));
}

/* A response to the sender for one of its chunks, by tid. */
static void up_respond_tid(struct ft_relay *r, const char *tid, int status, const char *comment)
{
	struct relay_leg *L = &r->leg[FT_LEG_UP];
	struct cpm_str to = leg_path_back(L);
	char buf[MSRP_MAX_LINE + MSRP_OUR_URI_MAX + 256];
	int n;

	if (!to.len || !L->s.conn)
		return;
	n = msrp_build_response(buf, sizeof buf, tid, status, comment, to, cpm_str_c(L->uri));
	if (n < 0 && comment) /* a device's reason phrase we cannot repeat */
		n = msrp_build_response(buf, sizeof buf, tid, status, NULL, to, cpm_str_c(L->uri));
	if (n > 0)
		relay_send(r, FT_LEG_UP, buf, (size_t)n);
}

static void down_msg(struct ft_relay *r, const struct msrp_msg *m);

/* End the DOWN chunk in progress, then answer a device request that had to
 * wait for it. */
static void down_end(struct ft_relay *r, char flag)
{
	char buf[MSRP_END_LINE_MAX];
	const struct msrp_msg *m = r->down_pending;
	int n;

	if (r->up_cur != UP_ACTIVE)
		return;
	n = msrp_build_end(buf, sizeof buf, r->fwd_down_tid, flag, true);
	if (n > 0)
		relay_send(r, FT_LEG_DOWN, buf, (size_t)n);
	r->up_cur = UP_NONE;
	r->down_pending = NULL;
	if (m && !r->destroyed) {
		down_msg(r, m);
		conn_unhold(leg_conn(r, FT_LEG_DOWN), CONN_HOLD_PEER);
	}
}

/* ---------------------------------------------------------------- flow control and timers */

static void relay_timer_cb(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg);

static void relay_arm(struct ft_relay *r)
{
	struct msrp_conn *down = leg_conn(r, FT_LEG_DOWN);
	uint64_t at = 0, now;

	if (r->ended || r->destroyed)
		return;
	for (int l = 0; l < 2; l++)
		if (r->leg[l].bind_deadline && (!at || r->leg[l].bind_deadline < at))
			at = r->leg[l].bind_deadline;
	if (down && conn_queued(down)) {
		/* only the stall clock runs while our bytes are queued */
		uint64_t stall = down->last_progress + hub_txn_timeout_ms(r->hub);

		if (!at || stall < at)
			at = stall;
	} else {
		for (int i = 0; i < RELAY_TXNS; i++) {
			const struct txn *t = &r->tab[i];

			if (t->used && t->timed && t->deadline && (!at || t->deadline < at))
				at = t->deadline;
		}
		if (r->report_deadline && (!at || r->report_deadline < at))
			at = r->report_deadline;
	}
	if (!at || (r->timer_armed && r->timer_at <= at))
		return;
	now = msrp_now_ms();
	r->timer_armed = true;
	r->timer_at = at;
	su_timer_set_interval(r->timer, relay_timer_cb, r, at > now ? (su_duration_t)(at - now) : 1);
}

/* The DOWN queue is empty: every request we relayed is now entirely with
 * the device, so its response (and the success REPORT) is due within the
 * transaction timeout from now. Before that, a slow link is not the
 * device's fault. */
static void relay_restart_deadlines(struct ft_relay *r)
{
	uint64_t due = msrp_now_ms() + hub_txn_timeout_ms(r->hub);

	for (int i = 0; i < RELAY_TXNS; i++) {
		struct txn *t = &r->tab[i];

		if (t->used && t->timed && t->deadline && t->deadline < due)
			t->deadline = due;
	}
	if (r->report_deadline && r->report_deadline < due)
		r->report_deadline = due;
}

/* Our queue is empty but the kernel may still hold megabytes for the
 * device. As long as that amount keeps changing, the device is receiving:
 * it is slow, not late. */
static bool relay_device_catching_up(struct ft_relay *r, const struct msrp_conn *down)
{
	size_t outq = conn_kernel_unacked(down);
	bool moving = outq && outq != r->last_outq;

	r->last_outq = outq;
	return moving;
}

static void relay_check_timeouts(struct ft_relay *r)
{
	struct msrp_conn *down = leg_conn(r, FT_LEG_DOWN);
	unsigned txn_ms = hub_txn_timeout_ms(r->hub);
	uint64_t now = msrp_now_ms();

	for (int l = 0; l < 2; l++) {
		if (r->leg[l].bind_deadline && r->leg[l].bind_deadline <= now) {
			finish(r, FT_RELAY_TIMEOUT, "%s leg did not connect within %u s",
			       l == FT_LEG_UP ? "sender" : "recipient", hub_bind_timeout_ms(r->hub) / 1000);
			return;
		}
	}
	if (down && conn_queued(down)) {
		/* Our own bytes are still on their way: the device cannot be
		 * late yet. The stall check below covers one that reads
		 * nothing; the deadlines restart when the queue empties. */
		if (down->last_progress + txn_ms <= now) {
			finish(r, FT_RELAY_TIMEOUT, "device read nothing for %u ms", txn_ms);
			return;
		}
		relay_arm(r);
		return;
	}
	if (relay_device_catching_up(r, down)) {
		relay_restart_deadlines(r);
		relay_arm(r);
		return;
	}
	for (int i = 0; i < RELAY_TXNS; i++) {
		const struct txn *t = &r->tab[i];

		if (t->used && t->timed && t->deadline && t->deadline <= now) {
			finish(r, FT_RELAY_TIMEOUT, "no response from the device to a chunk in %u ms", txn_ms);
			return;
		}
	}
	if (r->report_deadline && r->report_deadline <= now && !r->got_report) {
		/* RFC 4975 has no timer for REPORTs; we do, or a device that
		 * never reports would keep the transfer open for ever. */
		finish(r, FT_RELAY_TIMEOUT, "no success REPORT from the device in %u ms", txn_ms);
		return;
	}
	relay_arm(r);
}

static void relay_timer_cb(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	struct ft_relay *r = arg;
	struct msrp_hub *h = r->hub;

	hub_enter(h);
	r->timer_armed = false;
	if (!r->ended && !r->destroyed)
		relay_check_timeouts(r);
	hub_leave(h);
}

/* Back-pressure both ways, with hysteresis: a leg is not read while the
 * other leg's queue is above high water, and is read again once that queue
 * is below half of it. (A connection also stops reading by itself while
 * its own queue is above high water: see conn_wants_read().) */
static void relay_flow(struct ft_relay *r)
{
	struct msrp_conn *up = leg_conn(r, FT_LEG_UP), *down = leg_conn(r, FT_LEG_DOWN);
	size_t hw = hub_high_water(r->hub);
	size_t qd = conn_queued(down), qu = conn_queued(up);

	if (qd > hw)
		conn_hold(up, CONN_HOLD_BP);
	else if (qd <= hw / 2)
		conn_unhold(up, CONN_HOLD_BP);
	if (qu > hw)
		conn_hold(down, CONN_HOLD_BP);
	else if (qu <= hw / 2)
		conn_unhold(down, CONN_HOLD_BP);
	if (qd)
		relay_arm(r); /* watch for a device that stops reading */
}

/* ---------------------------------------------------------------- transaction table */

static int txn_alloc(struct ft_relay *r)
{
	int victim = -1;

	for (int i = 0; i < RELAY_TXNS; i++) {
		if (!r->tab[i].used)
			return i;
		/* An entry nobody must answer (Failure-Report partial) may
		 * be forgotten: we only lose the mapping of a late error. */
		if (!r->tab[i].timed && (victim < 0 || r->tab[i].seq < r->tab[victim].seq))
			victim = i;
	}
	return victim;
}

static int txn_find(struct ft_relay *r, const char *down_tid)
{
	for (int i = 0; i < RELAY_TXNS; i++)
		if (r->tab[i].used && strcmp(r->tab[i].down_tid, down_tid) == 0)
			return i;
	return -1;
}

/* ---------------------------------------------------------------- completion */

static void check_complete(struct ft_relay *r)
{
	if (r->ended || !r->last_sent)
		return;
	if (r->need_200 && !r->got_200)
		return;
	if (r->need_report && !r->got_report)
		return;
	if (!r->need_200 && !r->need_report && conn_queued(leg_conn(r, FT_LEG_DOWN)))
		return; /* nothing to wait for but our own socket */
	finish(r, FT_RELAY_COMPLETE, "file relayed%s%s", r->need_200 ? ", 200 from the device" : "",
	       r->need_report ? ", success REPORT from the device" : "");
}

/* ---------------------------------------------------------------- UP: the sender */

/* Other MIME headers of a relayed SEND, as raw lines. */
static int extra_headers(const struct msrp_msg *m, char *buf, size_t cap)
{
	static const char *const own[] = {"To-Path", "From-Path", "Message-ID", "Byte-Range",
					  "Success-Report", "Failure-Report", "Content-Type"};
	size_t len = 0;

	for (size_t i = 0; i < m->nheaders; i++) {
		const struct msrp_header *hd = &m->headers[i];
		bool skip = false;

		for (size_t k = 0; k < sizeof own / sizeof own[0] && !skip; k++)
			skip = cpm_str_caseeq(hd->name, own[k]);
		if (skip)
			continue;
		if (hd->name.len + hd->value.len + 4 > cap - len)
			return -1;
		memcpy(buf + len, hd->name.p, hd->name.len);
		len += hd->name.len;
		memcpy(buf + len, ": ", 2);
		len += 2;
		memcpy(buf + len, hd->value.p, hd->value.len);
		len += hd->value.len;
		memcpy(buf + len, "\r\n", 2);
		len += 2;
	}
	return (int)len;
}

static int build_down_head(struct ft_relay *r, const struct msrp_msg *m, char *buf, size_t cap)
{
	char extra[MSRP_MAX_HEADER_BYTES];
	int xl = extra_headers(m, extra, sizeof extra);
	struct msrp_request_head hd;

	if (xl < 0)
		return -1;
	memset(&hd, 0, sizeof hd);
	hd.tid = r->fwd_down_tid;
	hd.method = MSRP_METHOD_SEND;
	hd.to_path = cpm_str_c(r->leg[FT_LEG_DOWN].peer_path);
	hd.from_path = cpm_str_c(r->leg[FT_LEG_DOWN].uri);
	hd.message_id = m->message_id;
	hd.range = m->has_byte_range ? &m->range : NULL;
	hd.success_report = m->success_report;
	hd.failure_report = m->failure_report;
	hd.extra_headers = (struct cpm_str){extra, (size_t)xl};
	hd.content_type = m->content_type;
	return msrp_build_request_head(buf, cap, &hd);
}

/* Write the DOWN head of the pending UP chunk once DOWN can take it. */
static void relay_try_pending(struct ft_relay *r)
{
	char head[MSRP_MAX_HEADER_BYTES + SDP_MAX_PATH + MSRP_OUR_URI_MAX + 256];
	struct msrp_conn *up = leg_conn(r, FT_LEG_UP), *down = leg_conn(r, FT_LEG_DOWN);
	const struct msrp_msg *m = r->pending;
	int slot = -1, n;

	if (!m || r->ended || r->up_cur != UP_PENDING)
		return;
	if (!down || !r->leg[FT_LEG_DOWN].has_peer) {
		conn_hold(up, CONN_HOLD_PEER);
		return;
	}
	if (r->fwd_fr != MSRP_REPORT_NO) {
		slot = txn_alloc(r);
		if (slot < 0) {
			conn_hold(up, CONN_HOLD_PEER); /* wait for responses */
			return;
		}
	}
	msrp_random_ident(r->fwd_down_tid, MSRP_OUR_TID_LEN);
	n = build_down_head(r, m, head, sizeof head);
	r->pending = NULL;
	conn_unhold(up, CONN_HOLD_PEER);
	if (n < 0) {
		/* Nothing our builder refuses can come from our parser, but
		 * if it does the chunk is refused rather than mangled. */
		leg_respond(&r->leg[FT_LEG_UP], m, 400, "Cannot relay these headers");
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
		strcpy(t->down_tid, r->fwd_down_tid);
		strcpy(t->up_tid, r->fwd_up_tid);
	}
	r->fwd_txn = slot;
	r->up_cur = UP_ACTIVE;
	/* Queued without a syscall: it leaves with the first body bytes. */
	conn_queue(down, head, (size_t)n);
	relay_flow(r);
}

/* A SEND with a body from the sender: check it, then relay it. */
static void up_data_head(struct ft_relay *r, const struct msrp_msg *m)
{
	struct relay_leg *L = &r->leg[FT_LEG_UP];
	uint64_t start = m->has_byte_range ? m->range.start : 1;

	if (!r->file_msgid[0]) {
		if (!cpm_str_copy(r->file_msgid, sizeof r->file_msgid, m->message_id)) {
			leg_respond(L, m, 400, "Bad Message-ID");
			return;
		}
	} else if (!cpm_str_eq(m->message_id, r->file_msgid)) {
		leg_respond(L, m, 403, "One file per session");
		return;
	}
	if (r->last_sent) {
		leg_respond(L, m, 403, "File already complete");
		return;
	}
	if (m->has_byte_range &&
	    ((m->range.total != MSRP_RANGE_STAR && m->range.total > r->limit) ||
	     (m->range.end != MSRP_RANGE_STAR && m->range.end > r->limit))) {
		leg_respond(L, m, 413, NULL);
		finish(r, FT_RELAY_TOO_BIG, "Byte-Range beyond %llu bytes", (unsigned long long)r->limit);
		return;
	}
	if (start == 0 || start - 1 > r->tee.contig) {
		/* A hole would have to be filled later; we keep the blob
		 * contiguous instead and let the sender re-send. */
		leg_respond(L, m, 400, "Byte-Range leaves a gap");
		return;
	}
	r->fwd_off = start - 1;
	r->fwd_fr = m->failure_report;
	r->fwd_sr = m->success_report;
	strcpy(r->fwd_up_tid, m->tid);
	r->pending = m;
	r->up_cur = UP_PENDING;
	relay_try_pending(r);
}

static bool leg_to_path_ok(const struct relay_leg *L, const struct msrp_msg *m)
{
	struct msrp_uri u;

	if (msrp_uri_parse(msrp_path_last(m->to_path), &u))
		return false;
	return u.session_id.len == MSRP_SESSION_ID_LEN &&
	       memcmp(u.session_id.p, L->s.id, MSRP_SESSION_ID_LEN) == 0;
}

static void leg_note_from(struct relay_leg *L, const struct msrp_msg *m)
{
	if (!L->peer_from[0])
		cpm_str_copy(L->peer_from, sizeof L->peer_from, m->from_path);
}

/* Requests both legs treat alike. Returns true when handled. */
static bool leg_common_request(struct relay_leg *L, const struct msrp_msg *m)
{
	if (m->method == MSRP_METHOD_AUTH || m->method == MSRP_METHOD_OTHER) {
		leg_respond(L, m, 501, NULL);
		return true;
	}
	if (m->method != MSRP_METHOD_SEND)
		return false;
	if (!leg_to_path_ok(L, m)) {
		leg_respond(L, m, 481, NULL);
		return true;
	}
	leg_note_from(L, m);
	if (!m->has_body) {
		/* Binding or keep-alive SEND: ours to answer, not relayed. */
		leg_respond(L, m, 200, NULL);
		return true;
	}
	return false;
}

static void up_msg(struct ft_relay *r, const struct msrp_msg *m)
{
	struct relay_leg *L = &r->leg[FT_LEG_UP];

	r->up_cur = UP_SKIP;
	if (m->method == MSRP_METHOD_NONE || m->method == MSRP_METHOD_REPORT)
		return; /* we never ask the sender anything; REPORTs get no answer */
	if (leg_common_request(L, m) || r->ended)
		return;
	up_data_head(r, m);
}

static void up_abort(struct ft_relay *r, const struct msrp_msg *m, int status, const char *comment)
{
	if (r->fwd_txn >= 0)
		r->tab[r->fwd_txn].used = false;
	down_end(r, MSRP_FLAG_ABORT);
	leg_respond(&r->leg[FT_LEG_UP], m, status, comment);
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
		finish(r, FT_RELAY_TOO_BIG, "more than %llu bytes", (unsigned long long)r->limit);
		return;
	}
	if (r->relayed + n > 2 * r->limit + RELAY_RESEND_SLACK) {
		/* Re-sent ranges are legal, endless ones are a way to make us
		 * burn the device's bandwidth. */
		up_abort(r, ev->msg, 413, "Too many re-sent bytes");
		finish(r, FT_RELAY_TOO_BIG, "sender re-sent too much (%llu bytes relayed)",
		       (unsigned long long)r->relayed);
		return;
	}
	rc = tee_feed(&r->tee, r->fwd_off, p, n);
	if (rc) {
		up_abort(r, ev->msg, 413, "Cannot store the file");
		finish(r, FT_RELAY_IO_ERROR, "blob write: %s", strerror(-rc));
		return;
	}
	/* Straight from the receive buffer; only what the socket does not
	 * take is copied into the DOWN queue. */
	relay_send(r, FT_LEG_DOWN, p, n);
	r->fwd_off += n;
	r->relayed += n;
	hub_count_relayed(r->hub, n);
	relay_flow(r);
}

static void txn_start_clock(struct ft_relay *r, bool last)
{
	struct txn *t;

	if (r->fwd_txn < 0)
		return;
	t = &r->tab[r->fwd_txn];
	t->last = last;
	if (t->timed) {
		t->deadline = msrp_now_ms() + hub_txn_timeout_ms(r->hub);
		relay_arm(r);
	}
}

/* The '$' chunk of the file: check size and hash before its end-line. */
static void up_last_chunk(struct ft_relay *r, const struct msrp_msg *m)
{
	if (r->tee.contig != r->size) {
		up_abort(r, m, 400, "File size mismatch");
		finish(r, FT_RELAY_HASH_MISMATCH, "got %llu of %llu bytes",
		       (unsigned long long)r->tee.contig, (unsigned long long)r->size);
		return;
	}
	if (tee_final(&r->tee)) {
		up_abort(r, m, 413, "Cannot store the file");
		finish(r, FT_RELAY_IO_ERROR, "sha-1 failed");
		return;
	}
	if (r->has_sha1 && memcmp(r->tee.digest, r->sha1, sizeof r->sha1) != 0) {
		up_abort(r, m, 400, "Hash mismatch");
		finish(r, FT_RELAY_HASH_MISMATCH, "sha-1 differs from the file-selector");
		return;
	}
	r->hash_ok = true;
	txn_start_clock(r, true);
	r->last_sent = true;
	r->need_200 = fr_wants_response(r->fwd_fr);
	r->need_report = r->fwd_sr == MSRP_REPORT_YES;
	if (r->need_report) {
		r->report_deadline = msrp_now_ms() + hub_txn_timeout_ms(r->hub);
		relay_arm(r);
	}
	down_end(r, MSRP_FLAG_END);
	check_complete(r);
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
		down_end(r, MSRP_FLAG_ABORT);
		finish(r, FT_RELAY_SENDER_ABORTED, "sender aborted the file ('#')");
		return;
	case MSRP_FLAG_MORE:
		txn_start_clock(r, false);
		down_end(r, MSRP_FLAG_MORE);
		return;
	default:
		up_last_chunk(r, ev->msg);
		return;
	}
}

static void up_event(struct ft_relay *r, const struct msrp_event *ev)
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
			leg_respond(&r->leg[FT_LEG_UP], ev->msg, 400, NULL);
		break;
	default:
		break;
	}
}

/* ---------------------------------------------------------------- DOWN: the device */

static void copy_comment(char *out, size_t cap, struct cpm_str c)
{
	if (!cpm_str_copy(out, cap, c))
		out[0] = '\0';
}

static void down_response(struct ft_relay *r, const struct msrp_msg *m)
{
	char comment[128];
	struct txn t;
	int i = txn_find(r, m->tid);

	if (i < 0)
		return; /* a chunk we forgot (partial) or never sent */
	t = r->tab[i];
	r->tab[i].used = false;
	if (r->ended)
		return;
	copy_comment(comment, sizeof comment, m->comment);
	if (m->status == 200) {
		if (t.fr != MSRP_REPORT_PARTIAL && t.fr != MSRP_REPORT_NO)
			up_respond_tid(r, t.up_tid, 200, comment[0] ? comment : NULL);
		if (t.last)
			r->got_200 = true;
		relay_try_pending(r); /* a table slot is free again */
		relay_flow(r);
		check_complete(r);
		return;
	}
	up_respond_tid(r, t.up_tid, m->status, comment[0] ? comment : NULL);
	if (r->up_cur == UP_ACTIVE && strcmp(r->fwd_down_tid, m->tid) == 0)
		down_end(r, MSRP_FLAG_ABORT); /* 413 mid-chunk: stop sending it */
	finish(r, FT_RELAY_RECIPIENT_REFUSED, "device answered %d", m->status);
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
	char tid[MSRP_OUR_TID_LEN + 1], comment[128];
	struct msrp_request_head hd;
	int n;

	if (!r->file_msgid[0] || !cpm_str_eq(m->message_id, r->file_msgid))
		return;
	msrp_random_ident(tid, MSRP_OUR_TID_LEN);
	copy_comment(comment, sizeof comment, m->status_comment);
	memset(&hd, 0, sizeof hd);
	hd.tid = tid;
	hd.method = MSRP_METHOD_REPORT;
	hd.to_path = leg_path_back(U);
	hd.from_path = cpm_str_c(U->uri);
	hd.message_id = m->message_id;
	hd.range = m->has_byte_range ? &m->range : NULL;
	hd.status_code = m->status_code;
	hd.status_comment = comment[0] ? comment : NULL;
	n = msrp_build_request_head(buf, sizeof buf, &hd);
	if (n < 0 && hd.status_comment) {
		hd.status_comment = NULL;
		n = msrp_build_request_head(buf, sizeof buf, &hd);
	}
	if (n > 0) {
		int e = msrp_build_end(buf + n, sizeof buf - (size_t)n, tid, MSRP_FLAG_END, false);

		if (e > 0)
			relay_send(r, FT_LEG_UP, buf, (size_t)n + (size_t)e);
	}
	if (m->status_code != 200) {
		if (r->up_cur == UP_ACTIVE)
			down_end(r, MSRP_FLAG_ABORT);
		finish(r, FT_RELAY_RECIPIENT_REFUSED, "device reported %d", m->status_code);
		return;
	}
	if (r->last_sent && report_covers_file(r, m))
		r->got_report = true;
	relay_flow(r);
	check_complete(r);
}

static void down_msg(struct ft_relay *r, const struct msrp_msg *m)
{
	struct relay_leg *L = &r->leg[FT_LEG_DOWN];

	if (m->method == MSRP_METHOD_NONE) {
		down_response(r, m);
		return;
	}
	if (m->method == MSRP_METHOD_REPORT) {
		if (leg_to_path_ok(L, m) && !r->ended)
			down_report(r, m);
		return;
	}
	if (r->up_cur == UP_ACTIVE) {
		/* Any answer would land inside the open chunk. */
		r->down_pending = m;
		conn_hold(L->s.conn, CONN_HOLD_PEER);
		return;
	}
	if (leg_common_request(L, m))
		return;
	/* A SEND with a body from the recipient: a file transfer goes one
	 * way (the device's SDP says recvonly), nothing to relay it to. */
	leg_respond(L, m, 403, "Receive-only session");
}

static void down_event(struct ft_relay *r, const struct msrp_event *ev)
{
	if (ev->type == MSRP_EV_MSG) {
		down_msg(r, ev->msg);
		/* After the device's first request is answered (not before:
		 * the answer must not land inside our chunk), relaying may
		 * start. */
		relay_try_pending(r);
	} else if (ev->type == MSRP_EV_ERROR && ev->msg) {
		if (r->up_cur == UP_ACTIVE)
			return; /* cannot answer inside our chunk; the peer's
				 * own 30 s timer covers this rare case */
		leg_respond(&r->leg[FT_LEG_DOWN], ev->msg, 400, NULL);
	}
	/* BODY of a refused SEND and END: nothing to do */
}

/* ---------------------------------------------------------------- session callbacks */

static void relay_bound(struct msrp_session *s)
{
	struct relay_leg *L = s->owner;
	struct ft_relay *r = L->r;

	L->bind_deadline = 0;
	if (r->ended)
		conn_hold(s->conn, CONN_HOLD_ENDED);
	relay_flow(r);
}

static void relay_event(struct msrp_session *s, const struct msrp_event *ev)
{
	struct relay_leg *L = s->owner;

	if (L->which == FT_LEG_UP)
		up_event(L->r, ev);
	else
		down_event(L->r, ev);
}

static void relay_drained(struct msrp_session *s)
{
	struct relay_leg *L = s->owner;
	struct ft_relay *r = L->r;

	if (r->ended)
		return;
	if (L->which == FT_LEG_DOWN && !conn_queued(s->conn)) {
		relay_restart_deadlines(r);
		relay_arm(r);
	}
	relay_flow(r);
	if (L->which == FT_LEG_DOWN)
		check_complete(r);
}

static void relay_closed(struct msrp_session *s, int err)
{
	struct relay_leg *L = s->owner;
	struct ft_relay *r = L->r;

	if (L->which == FT_LEG_DOWN)
		r->down_pending = NULL; /* it pointed into the closed parser */
	if (r->ended)
		return;
	if (L->which == FT_LEG_UP) {
		r->pending = NULL;
		if (r->last_sent) {
			/* We have the whole file, checked; the device may
			 * still acknowledge it. The sender's leaving is its
			 * business. */
			r->up_cur = UP_NONE;
			return;
		}
		down_end(r, MSRP_FLAG_ABORT);
		r->up_cur = UP_NONE;
		if (err == EPROTO)
			finish(r, FT_RELAY_PROTOCOL_ERROR, "unparseable stream from the sender");
		else
			finish(r, FT_RELAY_SENDER_ABORTED, "sender connection %s",
			       err ? strerror(err) : "closed");
		return;
	}
	if (err == EPROTO)
		finish(r, FT_RELAY_PROTOCOL_ERROR, "unparseable stream from the device");
	else
		finish(r, FT_RELAY_RECIPIENT_LOST, "device connection %s", err ? strerror(err) : "closed");
}

static const struct msrp_session_ops relay_ops = {
	.bound = relay_bound,
	.event = relay_event,
	.drained = relay_drained,
	.closed = relay_closed,
};

/* ---------------------------------------------------------------- public API */

static void relay_free(struct hub_defer *d)
{
	free((struct ft_relay *)(void *)d);
}

int ft_relay_create(struct ft_relay **rp, struct msrp_hub *h, const struct ft_relay_params *p,
		    ft_relay_done_f *done, void *arg)
{
	char id[MSRP_SESSION_ID_LEN + 1];
	struct ft_relay *r;
	int rc;

	*rp = NULL;
	if (!h || !p || p->size > MSRP_MAX_RANGE_VALUE)
		return -EINVAL;
	r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->hub = h;
	r->done = done;
	r->arg = arg;
	r->size = p->size;
	r->limit = p->max_size && p->max_size < p->size ? p->max_size : p->size;
	r->has_sha1 = p->has_sha1;
	memcpy(r->sha1, p->sha1, sizeof r->sha1);
	r->fwd_txn = -1;
	r->defer.fn = relay_free;
	rc = tee_open(&r->tee, p->blob_path);
	if (rc) {
		free(r);
		return rc;
	}
	r->timer = su_timer_create(su_root_task(hub_root(h)), 0);
	if (!r->timer) {
		tee_close(&r->tee);
		free(r);
		return -ENOMEM;
	}
	for (int l = 0; l < 2; l++) {
		struct relay_leg *L = &r->leg[l];

		L->r = r;
		L->which = (enum ft_relay_leg)l;
		L->s.ops = &relay_ops;
		L->s.owner = L;
		if (hub_session_add(h, &L->s)) {
			if (l)
				hub_session_del(h, &r->leg[0].s);
			su_timer_destroy(r->timer);
			tee_close(&r->tee);
			free(r);
			return -ENOMEM;
		}
		/* (a copy: gcc's -Wrestrict cannot tell two members apart) */
		memcpy(id, L->s.id, sizeof id);
		snprintf(L->uri, sizeof L->uri, "msrp://%s:%u/%s;tcp", hub_advertise(h),
			 msrp_hub_port(h), id);
	}
	msrp_log("relay %s: created (down session %s, %llu bytes)", r->leg[0].s.id, r->leg[1].s.id,
		 (unsigned long long)r->size);
	*rp = r;
	return 0;
}

const char *ft_relay_path(const struct ft_relay *r, enum ft_relay_leg leg)
{
	return r->leg[leg].uri;
}

static bool path_ok(const char *path)
{
	struct cpm_str rest = cpm_str_c(path);
	int n = 0;

	for (;;) {
		struct cpm_str u = msrp_path_first(rest);
		struct msrp_uri mu;

		if (!u.len)
			break;
		if (msrp_uri_parse(u, &mu))
			return false;
		n++;
		rest.len -= (size_t)(u.p + u.len - rest.p);
		rest.p = u.p + u.len;
	}
	return n > 0;
}

int ft_relay_set_peer_path(struct ft_relay *r, enum ft_relay_leg leg, const char *path)
{
	struct relay_leg *L;

	if (!r || (leg != FT_LEG_UP && leg != FT_LEG_DOWN) || !path ||
	    strlen(path) > SDP_MAX_PATH || !path_ok(path) || strpbrk(path, "\r\n"))
		return -1;
	L = &r->leg[leg];
	hub_enter(r->hub);
	strcpy(L->peer_path, path);
	L->has_peer = true;
	if (!L->s.conn && !L->bind_deadline && !r->ended) {
		L->bind_deadline = msrp_now_ms() + hub_bind_timeout_ms(r->hub);
		relay_arm(r);
	}
	if (leg == FT_LEG_DOWN)
		relay_try_pending(r);
	hub_leave(r->hub);
	return 0;
}

uint64_t ft_relay_bytes(const struct ft_relay *r)
{
	return r->tee.contig;
}

bool ft_relay_sha1(const struct ft_relay *r, uint8_t out[20])
{
	if (!r->tee.final)
		return false;
	memcpy(out, r->tee.digest, 20);
	return true;
}

size_t ft_relay_max_queued(const struct ft_relay *r, enum ft_relay_leg leg)
{
	return r->leg[leg].max_queued;
}

void ft_relay_destroy(struct ft_relay *r)
{
	struct msrp_hub *h;

	if (!r || r->destroyed)
		return;
	h = r->hub;
	hub_enter(h);
	r->destroyed = true;
	r->ended = true;
	r->pending = NULL;
	down_end(r, MSRP_FLAG_ABORT); /* a chunk in progress must not dangle */
	for (int l = 0; l < 2; l++) {
		struct relay_leg *L = &r->leg[l];

		if (L->s.conn)
			conn_drain(L->s.conn);
		hub_session_del(h, &L->s);
	}
	relay_timer_stop(r);
	su_timer_destroy(r->timer);
	r->timer = NULL;
	tee_close(&r->tee);
	msrp_log("relay %s: destroyed", r->leg[0].s.id);
	hub_defer(h, &r->defer);
	hub_leave(h);
}
