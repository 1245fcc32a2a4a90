/* The relay of one chat session: see session_relay.h (the rules) and docs/internals/relay.md
 * ("Chat session relay").
 *
 * Per leg X (the other one is Y), the request being read FROM X is in one state:
 *   NONE     between requests;
 *   SKIP     not relayed (answered by us, a response, a REPORT): its BODY/END are ignored;
 *   PENDING  a SEND with a body, parsed, waiting for Y to be bound (and its path known) or
 *            for a free slot in X's response table: X is held (not parsed further);
 *   BODY     its head is built for Y; body bytes are collected (at most max_size in all);
 *   READY    its end-line came; the whole chunk waits for room in Y's queue: X is held.
 * Everything runs inside the hub bracket (net/msrp_transport.h), so nothing is freed under
 * our feet and done() may destroy the relay. */
#include "relay/session_relay.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/session_relay_priv.h"
static void leg_try_start(struct sr_leg *L);
static void leg_try_flush(struct sr_leg *L);

const char *session_relay_result_str(enum session_relay_result r)
{
	return r == SR_CLOSED ? "closed" : r == SR_PROTOCOL_ERROR ? "protocol error" : r == SR_TIMEOUT ? "timeout" : "?";
}

static struct sr_leg *other(struct sr_leg *L)
{
	return &L->r->leg[!L->which];
}

static const char *leg_name(const struct sr_leg *L)
{
	return L->which == SR_LEG_A ? "A" : "B";
}

/* ---------------------------------------------------------------- ending */

static void timer_stop(struct session_relay *r)
{
	if (r->timer && r->timer_armed)
		su_timer_reset(r->timer);
	r->timer_armed = false;
}

static void sr_finish(struct sr_leg *L, enum session_relay_result res, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void sr_finish(struct sr_leg *L, enum session_relay_result res, const char *fmt, ...)
{
	struct session_relay *r = L->r;
	char detail[160];
	va_list ap;

	if (r->ended || r->destroyed)
		return;
	r->ended = true;
	for (int l = 0; l < 2; l++) {
		conn_hold(r->leg[l].s.conn, CONN_HOLD_ENDED);
		r->leg[l].cur = NULL;
	}
	timer_stop(r);
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	msrp_log("session %s: leg %s %s (%s); relayed %llu A->B, %llu B->A", r->leg[0].s.id, leg_name(L),
		 session_relay_result_str(res), detail, (unsigned long long)r->leg[0].relayed,
		 (unsigned long long)r->leg[1].relayed);
	if (r->done)
		r->done(r->arg, L->which, res, detail);
}

/* ---------------------------------------------------------------- output */

static void leg_send(struct sr_leg *L, const void *p, size_t n)
{
	struct msrp_conn *c = L->s.conn;

	if (!c)
		return;
	conn_send(c, p, n);
	if (conn_queued(c) > L->max_queued)
		L->max_queued = conn_queued(c);
}

/* The path back to a leg's peer: what its requests carried, else its SDP path. */
static struct cpm_str path_back(const struct sr_leg *L)
{
	if (L->peer_from[0])
		return cpm_str_c(L->peer_from);
	if (L->has_peer)
		return cpm_str_c(L->peer_path);
	return CPM_STR_NULL;
}

/* Our own answer to a request of L's peer (honours its Failure-Report). */
static void leg_respond(struct sr_leg *L, const struct msrp_msg *m, int status, const char *comment)
{
	conn_respond(L->s.conn, m, status, comment, cpm_str_c(L->uri));
}

/* A response to L's peer for one of its chunks, by tid. */
static void leg_respond_tid(struct sr_leg *L, const char *tid, int status, const char *comment)
{
	char buf[MSRP_MAX_LINE + MSRP_OUR_URI_MAX + 256];
	struct cpm_str to = path_back(L);
	int n;

	if (!to.len || !L->s.conn)
		return;
	n = relay_frame_response(buf, sizeof buf, tid, status, comment, to, cpm_str_c(L->uri), CPM_STR_NULL);
	if (n > 0)
		leg_send(L, buf, (size_t)n);
}

/* Back-pressure both ways, with hysteresis (as the file relay): a leg is not read while the
 * other leg's queue is above high water, and again once it is at or below half. */
static void sr_flow(struct session_relay *r)
{
	size_t hw = hub_high_water(r->hub);

	for (int l = 0; l < 2; l++) {
		struct msrp_conn *from = r->leg[l].s.conn, *to = r->leg[!l].s.conn;
		size_t q = conn_queued(to);

		if (q > hw)
			conn_hold(from, CONN_HOLD_BP);
		else if (q <= hw / 2)
			conn_unhold(from, CONN_HOLD_BP);
	}
}

/* ---------------------------------------------------------------- timer */

static void sr_timer_cb(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg);

void sr_arm(struct session_relay *r)
{
	uint64_t at = 0, now;

	if (r->ended || r->destroyed)
		return;
	for (int l = 0; l < 2; l++) {
		const struct sr_leg *L = &r->leg[l];

		if (L->bind_deadline && (!at || L->bind_deadline < at))
			at = L->bind_deadline;
		for (int i = 0; i < SESSION_RELAY_TXNS; i++) {
			const struct sr_txn *t = &L->tab[i];

			if (t->used && t->timed && t->deadline && (!at || t->deadline < at))
				at = t->deadline;
		}
	}
	if (!at || (r->timer_armed && r->timer_at <= at))
		return;
	now = msrp_now_ms();
	r->timer_armed = true;
	r->timer_at = at;
	su_timer_set_interval(r->timer, sr_timer_cb, r, at > now ? (su_duration_t)(at - now) : 1);
}

/* L's chunks that wait for a response from the other leg: late ones are answered 408 by us,
 * unless our own bytes towards that leg are still queued (it is slow, not late). */
static void leg_check_txns(struct sr_leg *L, uint64_t now)
{
	struct session_relay *r = L->r;
	struct sr_leg *O = other(L);
	uint64_t due = now + hub_txn_timeout_ms(r->hub);

	for (int i = 0; i < SESSION_RELAY_TXNS; i++) {
		struct sr_txn *t = &L->tab[i];

		if (!t->used || !t->timed || !t->deadline || t->deadline > now)
			continue;
		if (conn_queued(O->s.conn)) {
			t->deadline = due;
			continue;
		}
		t->used = false;
		msrp_log("session %s: no response from leg %s to a chunk in %u ms, 408 to leg %s", r->leg[0].s.id,
			 leg_name(O), hub_txn_timeout_ms(r->hub), leg_name(L));
		if (t->fr != MSRP_REPORT_NO)
			leg_respond_tid(L, t->in_tid, 408, NULL);
	}
	if (L->in == SR_IN_PENDING)
		leg_try_start(L); /* a slot may be free again */
}

static void sr_timer_cb(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	struct session_relay *r = arg;
	struct msrp_hub *h = r->hub;
	uint64_t now = msrp_now_ms();

	hub_enter(h);
	r->timer_armed = false;
	for (int l = 0; l < 2 && !r->ended && !r->destroyed; l++) {
		struct sr_leg *L = &r->leg[l];

		if (L->bind_deadline && L->bind_deadline <= now) {
			sr_finish(L, SR_TIMEOUT, "did not connect within %u s", hub_bind_timeout_ms(h) / 1000);
			break;
		}
	}
	for (int l = 0; l < 2 && !r->ended && !r->destroyed; l++)
		leg_check_txns(&r->leg[l], now);
	sr_flow(r);
	sr_arm(r);
	hub_leave(h);
}

/* ---------------------------------------------------------------- the response table */

static int txn_alloc(struct sr_leg *L)
{
	int victim = -1;

	for (int i = 0; i < SESSION_RELAY_TXNS; i++) {
		if (!L->tab[i].used)
			return i;
		/* an entry nobody must answer (Failure-Report partial) may be forgotten: we
		 * only lose the mapping of a late error */
		if (!L->tab[i].timed && (victim < 0 || L->tab[i].seq < L->tab[victim].seq))
			victim = i;
	}
	return victim;
}

static int txn_find(struct sr_leg *L, const struct msrp_msg *m)
{
	for (int i = 0; i < SESSION_RELAY_TXNS; i++)
		if (L->tab[i].used && strcmp(L->tab[i].out_tid, m->tid) == 0)
			return i;
	return -1;
}

/* ---------------------------------------------------------------- size rules */

static bool msgid_refused(const struct sr_leg *L, struct cpm_str id)
{
	unsigned n = L->nrefused < SR_REFUSED ? L->nrefused : SR_REFUSED;

	for (unsigned i = 0; i < n; i++)
		if (cpm_str_eq(id, L->refused[i]))
			return true;
	return false;
}

static void leg_refuse(struct sr_leg *L, const struct msrp_msg *m, const char *why)
{
	struct session_relay *r = L->r;

	if (!msgid_refused(L, m->message_id) &&
	    cpm_str_copy(L->refused[L->nrefused % SR_REFUSED], MSRP_MSGID_MAX + 1, m->message_id))
		L->nrefused++;
	L->refused_count++;
	msrp_log("session %s: 413 to leg %s: %s (max-size %llu)", r->leg[0].s.id, leg_name(L), why,
		 (unsigned long long)r->max_size);
	leg_respond(L, m, 413, NULL);
}

/* A chunk that may not be forwarded because of its message's size: answered 413 here. */
static bool leg_too_big(struct sr_leg *L, const struct msrp_msg *m)
{
	uint64_t max = L->r->max_size;

	if (msgid_refused(L, m->message_id)) {
		leg_refuse(L, m, "a later chunk of a refused message");
		return true;
	}
	if (!m->has_byte_range)
		return false;
	if (m->range.total != MSRP_RANGE_STAR && m->range.total > max) {
		leg_refuse(L, m, "Byte-Range total beyond it");
		return true;
	}
	if ((m->range.end != MSRP_RANGE_STAR && m->range.end > max) || m->range.start - 1 >= max) {
		leg_refuse(L, m, "Byte-Range end beyond it");
		return true;
	}
	return false;
}

/* ---------------------------------------------------------------- relaying a chunk */

static int buf_reserve(struct sr_leg *L, size_t need)
{
	size_t cap;
	char *b;

	if (L->len + need <= L->cap)
		return 0;
	cap = L->cap ? L->cap : 4096;
	while (cap < L->len + need)
		cap *= 2;
	b = realloc(L->buf, cap);
	if (!b)
		return -ENOMEM;
	L->buf = b;
	L->cap = cap;
	return 0;
}

static void leg_reset(struct sr_leg *L)
{
	L->len = 0;
	L->txn = -1;
	if (L->cap > SR_BUF_KEEP) {
		free(L->buf);
		L->buf = NULL;
		L->cap = 0;
	}
}

/* The PENDING request of L: start it once the other leg can take it. */
static void leg_try_start(struct sr_leg *L)
{
	struct session_relay *r = L->r;
	struct sr_leg *O = other(L);
	const struct msrp_msg *m = L->cur;
	int slot = -1, n;

	if (L->in != SR_IN_PENDING || r->ended || !m)
		return;
	if (!O->s.conn || !O->has_peer) {
		conn_hold(L->s.conn, CONN_HOLD_PEER); /* the other leg is not there yet */
		return;
	}
	if (L->fr != MSRP_REPORT_NO) {
		slot = txn_alloc(L);
		if (slot < 0) {
			conn_hold(L->s.conn, CONN_HOLD_PEER); /* wait for responses */
			return;
		}
	}
	conn_unhold(L->s.conn, CONN_HOLD_PEER);
	msrp_random_ident(L->out_tid, MSRP_OUR_TID_LEN);
	L->len = 0;
	if (buf_reserve(L, SR_HEAD_MAX) ||
	    (n = relay_frame_send_head(L->buf, L->cap, m, L->out_tid, cpm_str_c(O->peer_path),
				       cpm_str_c(O->uri))) < 0) {
		/* nothing our builder refuses can come from our parser; refused, not mangled */
		leg_respond(L, m, 400, "Cannot relay these headers");
		L->in = SR_IN_SKIP;
		leg_reset(L);
		return;
	}
	L->len = (size_t)n;
	L->head_len = L->len;
	L->txn = slot;
	if (slot >= 0) {
		struct sr_txn *t = &L->tab[slot];

		memset(t, 0, sizeof *t);
		t->used = true;
		t->fr = L->fr;
		t->timed = L->fr == MSRP_REPORT_YES || L->fr == MSRP_REPORT_DEFAULT;
		t->seq = ++L->seq;
		strcpy(t->out_tid, L->out_tid);
		strcpy(t->in_tid, L->in_tid);
	}
	L->in = SR_IN_BODY;
}

/* The READY chunk of L goes to the other leg when it fits under high water (always into an
 * empty queue). */
static void leg_try_flush(struct sr_leg *L)
{
	struct session_relay *r = L->r;
	struct sr_leg *O = other(L);
	struct msrp_conn *c = O->s.conn;
	size_t q;

	if (L->in != SR_IN_READY || r->ended || !c)
		return;
	q = conn_queued(c);
	if (q && q + L->len > hub_high_water(r->hub)) {
		conn_hold(L->s.conn, CONN_HOLD_PEER);
		return;
	}
	leg_send(O, L->buf, L->len);
	hub_count_relayed(r->hub, L->len);
	if (L->txn >= 0 && L->tab[L->txn].timed) {
		L->tab[L->txn].deadline = msrp_now_ms() + hub_txn_timeout_ms(r->hub);
		sr_arm(r);
	}
	L->relayed++;
	L->in = SR_IN_NONE;
	leg_reset(L);
	conn_unhold(L->s.conn, CONN_HOLD_PEER);
	sr_flow(r);
}

static void leg_body(struct sr_leg *L, struct cpm_str body)
{
	struct session_relay *r = L->r;

	if (L->in != SR_IN_BODY || r->ended)
		return;
	if (L->pos + body.len > r->max_size) {
		/* a '*' total (or a sender that sends more than its range said): the bytes
		 * so far are beyond max-size */
		if (L->txn >= 0)
			L->tab[L->txn].used = false;
		if (L->cur)
			leg_refuse(L, L->cur, "the message's bytes go beyond it");
		L->in = SR_IN_SKIP;
		leg_reset(L);
		return;
	}
	if (buf_reserve(L, body.len + MSRP_END_LINE_MAX)) {
		if (L->txn >= 0)
			L->tab[L->txn].used = false;
		if (L->cur)
			leg_respond(L, L->cur, 500, "Out Of Memory");
		L->in = SR_IN_SKIP;
		leg_reset(L);
		return;
	}
	memcpy(L->buf + L->len, body.p, body.len);
	L->len += body.len;
	L->pos += body.len;
}

static void leg_end(struct sr_leg *L, char flag)
{
	int n;

	if (L->in != SR_IN_BODY) {
		if (L->in != SR_IN_READY)
			L->in = SR_IN_NONE;
		return;
	}
	if (L->r->observe && L->cur) /* the owner sees the whole chunk before it goes */
		L->r->observe(L->r->observe_arg, L->which, L->cur, L->buf + L->head_len, L->len - L->head_len, flag);
	/* A '#' chunk is forwarded as it is: the peer learns the message was aborted. */
	n = msrp_build_end(L->buf + L->len, L->cap - L->len, L->out_tid, flag, true);
	if (n < 0) { /* cannot happen: room was reserved with the body */
		L->in = SR_IN_SKIP;
		leg_reset(L);
		return;
	}
	L->len += (size_t)n;
	L->in = SR_IN_READY;
	leg_try_flush(L);
}

/* ---------------------------------------------------------------- what comes from a leg */

/* A response from L's peer to a chunk relayed from the other leg. */
static void leg_response(struct sr_leg *L, const struct msrp_msg *m)
{
	struct sr_leg *O = other(L);
	char comment[128];
	struct sr_txn t;
	int i = txn_find(O, m);

	if (i < 0)
		return; /* a chunk we forgot (partial), answered 408 already, or never sent */
	t = O->tab[i];
	O->tab[i].used = false;
	relay_frame_comment(comment, sizeof comment, m->comment);
	if (!(m->status == 200 && (t.fr == MSRP_REPORT_PARTIAL || t.fr == MSRP_REPORT_NO)))
		leg_respond_tid(O, t.in_tid, m->status, comment[0] ? comment : NULL);
	if (O->in == SR_IN_PENDING)
		leg_try_start(O); /* a slot is free again */
}

/* A REPORT from L's peer about a message of the other leg's peer. */
static void leg_report(struct sr_leg *L, const struct msrp_msg *m)
{
	struct sr_leg *O = other(L);
	char buf[MSRP_MAX_LINE + MSRP_OUR_URI_MAX + 512];
	char tid[MSRP_OUR_TID_LEN + 1];
	struct cpm_str to = path_back(O);
	int n;

	if (!relay_frame_to_session(m, L->s.id, MSRP_SESSION_ID_LEN) || !to.len)
		return;
	msrp_random_ident(tid, MSRP_OUR_TID_LEN);
	n = relay_frame_report(buf, sizeof buf, m, tid, to, cpm_str_c(O->uri));
	if (n > 0)
		leg_send(O, buf, (size_t)n);
}

static void leg_send_request(struct sr_leg *L, const struct msrp_msg *m)
{
	if (!relay_frame_to_session(m, L->s.id, MSRP_SESSION_ID_LEN)) {
		leg_respond(L, m, 481, NULL);
		return;
	}
	if (!L->peer_from[0])
		cpm_str_copy(L->peer_from, sizeof L->peer_from, m->from_path);
	if (!m->has_body) {
		/* binding or keep-alive: ours to answer, not relayed */
		leg_respond(L, m, 200, NULL);
		return;
	}
	if (leg_too_big(L, m))
		return;
	L->fr = m->failure_report;
	L->pos = m->has_byte_range ? m->range.start - 1 : 0;
	strcpy(L->in_tid, m->tid);
	L->in = SR_IN_PENDING;
	leg_try_start(L);
}

static void leg_msg(struct sr_leg *L, const struct msrp_msg *m)
{
	L->cur = m;
	L->in = SR_IN_SKIP;
	if (L->r->ended)
		return;
	switch (m->method) {
	case MSRP_METHOD_NONE:
		leg_response(L, m);
		break;
	case MSRP_METHOD_REPORT:
		leg_report(L, m);
		break;
	case MSRP_METHOD_SEND:
		leg_send_request(L, m);
		break;
	default: /* AUTH (we are no RFC 4976 relay) and unknown methods */
		leg_respond(L, m, 501, NULL);
		break;
	}
	sr_flow(L->r);
}

/* ---------------------------------------------------------------- session callbacks */

static void sr_bound(struct msrp_session *s)
{
	struct sr_leg *L = s->owner;
	struct session_relay *r = L->r;

	L->bind_deadline = 0;
	if (r->ended)
		conn_hold(s->conn, CONN_HOLD_ENDED);
	sr_flow(r);
	leg_try_start(other(L)); /* a chunk may have waited for us */
}

static void sr_event(struct msrp_session *s, const struct msrp_event *ev)
{
	struct sr_leg *L = s->owner;

	switch (ev->type) {
	case MSRP_EV_MSG:
		leg_msg(L, ev->msg);
		break;
	case MSRP_EV_BODY:
		leg_body(L, ev->body);
		break;
	case MSRP_EV_END:
		leg_end(L, ev->flag);
		break;
	case MSRP_EV_ERROR:
		/* a request whose headers do not parse: the parser skips it */
		if (ev->msg && !L->r->ended)
			leg_respond(L, ev->msg, 400, NULL);
		L->in = SR_IN_NONE;
		break;
	default:
		break;
	}
}

static void sr_drained(struct msrp_session *s)
{
	struct sr_leg *L = s->owner;
	struct session_relay *r = L->r;

	if (r->ended)
		return;
	sr_flow(r);
	leg_try_flush(other(L));
	leg_try_start(other(L));
}

static void sr_closed(struct msrp_session *s, int err)
{
	struct sr_leg *L = s->owner;

	L->cur = NULL; /* it pointed into the closed connection's parser */
	if (L->r->ended)
		return;
	if (err == EPROTO)
		sr_finish(L, SR_PROTOCOL_ERROR, "unparseable stream");
	else
		sr_finish(L, SR_CLOSED, "connection %s", err ? strerror(err) : "closed by the peer");
}

const struct msrp_session_ops sr_ops = {
	.bound = sr_bound,
	.event = sr_event,
	.drained = sr_drained,
	.closed = sr_closed,
};

/* ---------------------------------------------------------------- for session_relay_api.c */

struct sr_leg *sr_other(struct sr_leg *L)
{
	return other(L);
}

void sr_leg_try_start(struct sr_leg *L)
{
	leg_try_start(L);
}

void sr_timer_stop(struct session_relay *r)
{
	timer_stop(r);
}
