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

#include "relay/ft_relay_priv.h"
#include "relay/relay_frame.h"

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
	case FT_RELAY_RECEIVED: return "received";
	}
	return "unknown";
}

/* ---------------------------------------------------------------- ending */

static void relay_timer_stop(struct ft_relay *r)
{
	if (r->timer && r->timer_armed)
		su_timer_reset(r->timer);
	r->timer_armed = false;
}

void relay_finish(struct ft_relay *r, enum ft_relay_result res, const char *fmt, ...)
{
	char detail[160];
	va_list ap;

	if (r->ended || r->destroyed)
		return;
	r->ended = true;
	r->pending = NULL;
	conn_hold(relay_conn(r, FT_LEG_UP), CONN_HOLD_ENDED);
	conn_hold(relay_conn(r, FT_LEG_DOWN), CONN_HOLD_ENDED);
	relay_timer_stop(r);
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	/* The tee worker still holds accepted bytes: it writes them first (the blob then holds all
	 * that ft_relay_bytes() says, and a resume starts there), and done() waits for it. */
	if (relay_tw_drain(r)) {
		r->done_deferred = true;
		r->deferred_res = res;
		memcpy(r->deferred_detail, detail, sizeof detail);
		msrp_log("relay %s: %s (%s); the tee worker writes the rest of the %llu bytes first",
			 relay_name(r), ft_relay_result_str(res), detail, (unsigned long long)r->tee.contig);
		return;
	}
	relay_tw_stop(r); /* a resume's hash is of no use any more */
	msrp_log("relay %s: %s (%s), %llu bytes", relay_name(r), ft_relay_result_str(res), detail,
		 (unsigned long long)(r->source ? r->src_next : r->tee.contig));
	if (r->in_owner_call) {
		r->done_deferred = true;
		r->deferred_res = res;
		memcpy(r->deferred_detail, detail, sizeof detail);
		relay_arm_deferred_done(r);
		return;
	}
	if (r->done)
		r->done(r->arg, res, detail);
}

/* ---------------------------------------------------------------- output helpers */

/* The leg's queue high-water mark (ft_relay_stats). */
static void note_queued(struct ft_relay *r, enum ft_relay_leg l, struct msrp_conn *c)
{
	size_t q = conn_queued(c);

	if (q > r->leg[l].max_queued)
		r->leg[l].max_queued = q;
}

void relay_send(struct ft_relay *r, enum ft_relay_leg l, const void *p, size_t n)
{
	struct msrp_conn *c = relay_conn(r, l);

	if (!c)
		return;
	conn_send(c, p, n);
	note_queued(r, l, c);
}

void relay_send_ref(struct ft_relay *r, enum ft_relay_leg l, const void *p, size_t n)
{
	struct msrp_conn *c = relay_conn(r, l);

	if (!c)
		return;
	conn_send_ref(c, p, n);
	note_queued(r, l, c);
}

void relay_send_soon(struct ft_relay *r, enum ft_relay_leg l, const void *p, size_t n)
{
	struct msrp_conn *c = relay_conn(r, l);

	if (!c)
		return;
	conn_send_soon(c, p, n);
	note_queued(r, l, c);
}

/* The path back to a peer: what its requests carried, else its SDP path. */
struct cpm_str relay_leg_path_back(const struct relay_leg *L)
{
	if (L->peer_from[0])
		return cpm_str_c(L->peer_from);
	if (L->has_peer)
		return cpm_str_c(L->peer_path);
	return CPM_STR_NULL;
}

void relay_leg_respond(struct relay_leg *L, const struct msrp_msg *m, int status, const char *comment)
{
	conn_respond(L->s.conn, m, status, comment, cpm_str_c(L->uri));
}

/* A response to the sender for one of its chunks, by tid. */
void relay_up_respond_tid(struct ft_relay *r, const char *tid, int status, const char *comment)
{
	relay_up_respond_tid_ext(r, tid, status, comment, CPM_STR_NULL);
}

void relay_up_respond_tid_ext(struct ft_relay *r, const char *tid, int status, const char *comment,
			      struct cpm_str extra)
{
	struct relay_leg *L = &r->leg[FT_LEG_UP];
	struct cpm_str to = relay_leg_path_back(L);
	char buf[MSRP_MAX_LINE + MSRP_OUR_URI_MAX + sizeof r->ack_hdr + 256];
	int n;

	if (!to.len || !L->s.conn)
		return;
	n = relay_frame_response(buf, sizeof buf, tid, status, comment, to, cpm_str_c(L->uri), extra);
	if (n <= 0)
		return;
	/* The device answers chunks in bursts: their 200s leave together at the end of the
	 * pass that read them, one sendmsg instead of one each (a few µs later at most). */
	conn_send_soon(L->s.conn, buf, (size_t)n);
	if (conn_queued(L->s.conn) > L->max_queued)
		L->max_queued = conn_queued(L->s.conn);
}

/* ---------------------------------------------------------------- flow control */

/* Back-pressure both ways, with hysteresis: a leg is not read while the
 * other leg's queue is above high water, and is read again once that queue
 * is below half of it. (A connection also stops reading by itself while
 * its own queue is above its own limit: see conn_wants_read().) */
void relay_flow(struct ft_relay *r)
{
	struct msrp_conn *up = relay_conn(r, FT_LEG_UP), *down = relay_conn(r, FT_LEG_DOWN);
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

int relay_txn_alloc(struct ft_relay *r)
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

int relay_txn_find(struct ft_relay *r, const char *down_tid)
{
	for (int i = 0; i < RELAY_TXNS; i++)
		if (r->tab[i].used && strcmp(r->tab[i].down_tid, down_tid) == 0)
			return i;
	return -1;
}

/* ---------------------------------------------------------------- completion */

void relay_check_complete(struct ft_relay *r)
{
	if (r->ended || !r->last_sent || r->store)
		return; /* store mode ends with ft_relay_ack_received() */
	if (r->need_200 && !r->got_200)
		return;
	if (r->need_report && !r->got_report)
		return;
	if (!r->need_200 && !r->need_report && conn_queued(relay_conn(r, FT_LEG_DOWN)))
		return; /* nothing to wait for but our own socket */
	relay_finish(r, FT_RELAY_COMPLETE, "file %s%s%s", r->source ? "delivered" : "relayed", r->need_200 ? ", 200 from the device" : "",
	       r->need_report ? ", success REPORT from the device" : "");
}

/* ---------------------------------------------------------------- requests both legs treat alike */

bool relay_leg_to_path_ok(const struct relay_leg *L, const struct msrp_msg *m)
{
	return relay_frame_to_session(m, L->s.id, MSRP_SESSION_ID_LEN);
}

static void leg_note_from(struct relay_leg *L, const struct msrp_msg *m)
{
	if (!L->peer_from[0])
		cpm_str_copy(L->peer_from, sizeof L->peer_from, m->from_path);
}

/* Requests both legs treat alike. Returns true when handled. */
bool relay_leg_common_request(struct relay_leg *L, const struct msrp_msg *m)
{
	if (m->method == MSRP_METHOD_AUTH || m->method == MSRP_METHOD_OTHER) {
		relay_leg_respond(L, m, 501, NULL);
		return true;
	}
	if (m->method != MSRP_METHOD_SEND)
		return false;
	if (!relay_leg_to_path_ok(L, m)) {
		relay_leg_respond(L, m, 481, NULL);
		return true;
	}
	leg_note_from(L, m);
	if (!m->has_body) {
		/* Binding or keep-alive SEND: ours to answer, not relayed. */
		relay_leg_respond(L, m, 200, NULL);
		return true;
	}
	return false;
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
		relay_up_event(L->r, ev);
	else
		relay_down_event(L->r, ev);
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
	if (L->which == FT_LEG_DOWN && r->source)
		relay_source_pump(r);
	if (L->which == FT_LEG_DOWN)
		relay_check_complete(r);
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
		relay_down_end(r, MSRP_FLAG_ABORT);
		r->up_cur = UP_NONE;
		if (err == EPROTO)
			relay_finish(r, FT_RELAY_PROTOCOL_ERROR, "unparseable stream from the sender");
		else
			relay_finish(r, FT_RELAY_SENDER_ABORTED, "sender connection %s",
			       err ? strerror(err) : "closed");
		return;
	}
	if (err == EPROTO)
		relay_recipient_failed(r, FT_RELAY_PROTOCOL_ERROR, "unparseable stream from the device");
	else
		relay_recipient_failed(r, FT_RELAY_RECIPIENT_LOST, "device connection %s",
				       err ? strerror(err) : "closed");
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

/* The parts every kind of relay has: timer, hash context (and blob for a
 * relay that receives), callbacks. Sessions are added by the caller. */
struct ft_relay *relay_new(struct msrp_hub *h, int blob_fd, ft_relay_done_f *done, void *arg, int *err)
{
	struct ft_relay *r = calloc(1, sizeof *r);
	int rc;

	if (!r) {
		*err = -ENOMEM;
		return NULL;
	}
	r->hub = h;
	r->done = done;
	r->arg = arg;
	r->fwd_txn = -1;
	r->src_fd = -1;
	r->defer.fn = relay_free;
	rc = tee_open(&r->tee, blob_fd);
	if (rc) {
		free(r);
		*err = rc;
		return NULL;
	}
	r->timer = su_timer_create(su_root_task(hub_root(h)), 0);
	if (!r->timer) {
		r->tee.fd = -1; /* the caller's still */
		tee_close(&r->tee);
		free(r);
		*err = -ENOMEM;
		return NULL;
	}
	return r;
}

/* Undo relay_new() and relay_leg_add() before the relay was handed out.
 * The blob descriptors the caller passed are not closed: creation failed,
 * so they are still the caller's (relay/ft_relay.h, FILE DESCRIPTORS). */
void relay_discard(struct ft_relay *r)
{
	r->tee.fd = -1;
	r->src_fd = -1;
	for (int l = 0; l < 2; l++)
		if (r->leg[l].in_hub)
			hub_session_del(r->hub, &r->leg[l].s);
	su_timer_destroy(r->timer);
	relay_tw_stop(r);
	tee_close(&r->tee);
	relay_source_free(r);
	free(r);
}

/* Index one leg's session in the hub and make its URI. A leg that is not
 * added has no session (its URI is ""): nobody can bind to it. */
int relay_leg_add(struct ft_relay *r, enum ft_relay_leg l)
{
	char id[MSRP_SESSION_ID_LEN + 1];
	struct relay_leg *L = &r->leg[l];

	if (hub_session_add(r->hub, &L->s))
		return -ENOMEM;
	L->in_hub = true;
	/* (a copy: gcc's -Wrestrict cannot tell two members apart) */
	memcpy(id, L->s.id, sizeof id);
	snprintf(L->uri, sizeof L->uri, "msrp://%s:%u/%s;tcp", hub_advertise(r->hub), msrp_hub_port(r->hub), id);
	return 0;
}

int ftr_leg_secure(struct ft_relay *r, enum ft_relay_leg l)
{
	struct relay_leg *L = &r->leg[l];

	if (!msrp_hub_tls_port(r->hub))
		return -ENOTSUP;
	return L->in_hub ? hub_session_uri(r->hub, &L->s, true, L->uri, sizeof L->uri) : -EINVAL;
}

void relay_legs_init(struct ft_relay *r)
{
	for (int l = 0; l < 2; l++) {
		struct relay_leg *L = &r->leg[l];

		L->r = r;
		L->which = (enum ft_relay_leg)l;
		L->s.ops = &relay_ops;
		L->s.owner = L;
	}
}

int ftr_create(struct ft_relay **rp, struct msrp_hub *h, const struct ft_relay_params *p,
		    ft_relay_done_f *done, void *arg)
{
	struct ft_relay *r;
	int rc = 0;

	*rp = NULL;
	if (!h || !p || p->size > MSRP_MAX_RANGE_VALUE)
		return -EINVAL;
	if (p->has_blob && p->blob_fd < 0)
		return -EINVAL;
	/* store mode needs a blob, and someone to hear RECEIVED and
	 * acknowledge it */
	if ((p->store_only || p->keep_on_recipient_loss) && (!p->event || !p->has_blob))
		return -EINVAL;
	/* a resume continues a stored prefix: only safe with the whole
	 * file's hash, and only with something left to send */
	if (p->resume_offset && (!p->store_only || !p->has_sha1 || p->resume_offset >= p->size))
		return -EINVAL;
	/* a message's size comes from its first chunk: no selector size, no hash */
	if (p->size_from_range && (p->size || p->has_sha1 || p->resume_offset))
		return -EINVAL;
	if (p->content_type && strlen(p->content_type) >= sizeof r->accept_type)
		return -EINVAL;
	r = relay_new(h, p->has_blob ? p->blob_fd : -1, done, arg, &rc);
	if (!r)
		return rc;
	if (p->resume_offset) {
		rc = relay_resume_open(r, p->resume_offset);
		if (rc) {
			relay_discard(r);
			return rc;
		}
	}
	r->size = p->size;
	r->limit = p->max_size && p->max_size < p->size ? p->max_size : p->size;
	r->max_size = p->max_size;
	r->size_unknown = p->size_from_range;
	if (p->content_type)
		strcpy(r->accept_type, p->content_type);
	r->has_sha1 = p->has_sha1;
	memcpy(r->sha1, p->sha1, sizeof r->sha1);
	r->event = p->event;
	r->keep_on_loss = p->keep_on_recipient_loss;
	r->store = p->store_only;
	relay_legs_init(r);
	if (relay_leg_add(r, FT_LEG_UP) || (!p->store_only && relay_leg_add(r, FT_LEG_DOWN))) {
		relay_discard(r);
		return -ENOMEM;
	}
	if (p->resume_offset)
		msrp_log("relay %s: created in store mode, resuming at byte %llu of %llu", r->leg[0].s.id,
			 (unsigned long long)p->resume_offset + 1, (unsigned long long)r->size);
	else if (p->size_from_range)
		msrp_log("relay %s: created%s for a message (size from its Byte-Range)", r->leg[0].s.id,
			 p->store_only ? " in store mode" : "");
	else if (p->store_only)
		msrp_log("relay %s: created in store mode (%llu bytes)", r->leg[0].s.id,
			 (unsigned long long)r->size);
	else
		msrp_log("relay %s: created (down session %s, %llu bytes)", r->leg[0].s.id, r->leg[1].s.id,
			 (unsigned long long)r->size);
	*rp = r;
	return 0;
}

const char *ft_relay_path(const struct ft_relay *r, enum ft_relay_leg leg)
{
	return r->leg[leg].uri;
}

int ftr_set_peer_path(struct ft_relay *r, enum ft_relay_leg leg, const char *path)
{
	struct relay_leg *L;

	if (!r || (leg != FT_LEG_UP && leg != FT_LEG_DOWN) || !relay_frame_path_ok(path))
		return -1;
	L = &r->leg[leg];
	if (!L->in_hub)
		return -1; /* no such leg: store mode has no DOWN, source mode no UP */
	hub_enter(r->hub);
	strcpy(L->peer_path, path);
	L->has_peer = true;
	L->s.peer_path = L->peer_path;
	if (!L->s.conn && !L->bind_deadline && !r->ended) {
		L->bind_deadline = msrp_now_ms() + hub_bind_timeout_ms(r->hub);
		relay_arm(r);
	}
	if (leg == FT_LEG_DOWN)
		relay_try_pending(r);
	hub_leave(r->hub);
	return 0;
}

int ftr_connect(struct ft_relay *r, enum ft_relay_leg leg, const char *fingerprint)
{
	struct relay_leg *L;

	if (!r || (leg != FT_LEG_UP && leg != FT_LEG_DOWN))
		return -EINVAL;
	L = &r->leg[leg];
	if (!L->in_hub || !L->has_peer || r->ended)
		return -EINVAL;
	/* No request of the peer will tell us its From-Path: as the active side we send first,
	 * to its negotiated path (RFC 4975 §5.4). */
	if (!cpm_str_copy(L->peer_from, sizeof L->peer_from, cpm_str_c(L->peer_path)))
		return -EINVAL;
	hub_enter(r->hub);
	r->in_owner_call = true; /* a connection that fails at once ends the relay later (relay_finish) */
	/* no bind SEND: the file's first chunk follows at once and binds it */
	int rc = hub_session_connect_path(r->hub, &L->s, L->peer_path, fingerprint, L->uri, false);
	if (rc == 0 && r->source)
		relay_source_pump(r); /* nobody will send us a binding request to answer first */
	hub_leave(r->hub);
	r->in_owner_call = false;
	return rc;
}

uint64_t ftr_bytes(const struct ft_relay *r)
{
	if (r->source)
		return r->src_next;
	return r->tee.contig;
}

bool ftr_sha1(const struct ft_relay *r, uint8_t out[20])
{
	if (!r->tee.final || !r->tee.hashed)
		return false; /* a live relay's lazy worker hashed nothing */
	memcpy(out, r->tee.digest, 20);
	return true;
}

size_t ftr_max_queued(const struct ft_relay *r, enum ft_relay_leg leg)
{
	return r->leg[leg].max_queued;
}

void ftr_take_input(struct ft_relay *r)
{
	struct msrp_hub *h = r->hub;

	hub_enter(h); /* nothing is freed before hub_leave, even if done() destroys r */
	for (int l = 0; l < 2 && !r->ended && !r->destroyed; l++)
		if (relay_conn(r, (enum ft_relay_leg)l))
			conn_take_input(relay_conn(r, (enum ft_relay_leg)l));
	hub_leave(h);
}

void ftr_destroy(struct ft_relay *r)
{
	struct msrp_hub *h;

	if (!r || r->destroyed)
		return;
	h = r->hub;
	hub_enter(h);
	r->destroyed = true;
	r->ended = true;
	r->pending = NULL;
	relay_down_end(r, MSRP_FLAG_ABORT); /* a chunk in progress must not dangle */
	for (int l = 0; l < 2; l++) {
		struct relay_leg *L = &r->leg[l];

		if (L->s.conn)
			conn_drain(L->s.conn);
		if (L->in_hub)
			hub_session_del(h, &L->s);
		L->in_hub = false;
	}
	relay_timer_stop(r);
	su_timer_destroy(r->timer);
	r->timer = NULL;
	relay_tw_stop(r); /* never joined: the worker leaves by itself */
	tee_close(&r->tee);
	relay_source_free(r);
	msrp_log("relay %s: destroyed", relay_name(r));
	hub_defer(h, &r->defer);
	hub_leave(h);
}
