/* The MSRP side of a chat session, the same for the inviter (cpm chat) and the invited
 * (cpm receive): see chat.h. Outgoing messages are queued whole and cut into chunks as the
 * connection takes them; a chunk's response tells whether the server (or the peer) took it
 * (a 413 over a=max-size is reported on stderr, once per message, and the session goes on).
 * Incoming chunks are answered at their end-line; a message is handled when its last chunk
 * came: printed, reported (`delivered`, `displayed` with --read, when the sender asked),
 * and answered with --reply. */
#include "chat.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cpm/cpim.h"
#include "cpm/deferred.h"
#include "cpm/imdn.h"
#include "cpm/mime.h"
#include "mconn.h"

struct chat_sess *chat_new(struct xfer *x, bool inviter)
{
	struct chat_sess *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->x = x;
	c->inviter = inviter;
	x->chat = c;
	return c;
}

static void out_free(struct chat_out *q)
{
	free(q->body);
	free(q);
}

void chat_free(struct xfer *x)
{
	struct chat_sess *c = x->chat;

	if (!c)
		return;
	while (c->q_head) {
		struct chat_out *q = c->q_head;
		c->q_head = q->next;
		out_free(q);
	}
	free(c->in_buf);
	free(c);
	x->chat = NULL;
}

bool chat_quiet(const struct chat_sess *c)
{
	return !c->q_head && c->nwait == 0;
}

size_t chat_backlog(const struct chat_sess *c)
{
	return c->q_bytes + (c->x->conn ? mconn_wpending(c->x->conn) : 0);
}

/* A peer's field for the terminal: one safe word (deferred_safe_display). */
static void field(char *out, size_t cap, struct cpm_str v, const char *dflt)
{
	char raw[512];

	if (!v.len || !cpm_str_copy(raw, sizeof raw, v))
		snprintf(raw, sizeof raw, "%s", dflt);
	deferred_safe_display(out, cap, raw);
}

/* ---------------------------------------------------------------- sending */

/* Chunks of the queued messages while the connection has room and fewer than CHAT_WAIT_MAX
 * wait for their response. Each chunk: Byte-Range, Failure-Report yes (the default: not
 * written), no Success-Report (messaging.md §5: reports are IMDNs). */
static void chat_pump(struct chat_sess *c)
{
	struct xfer *x = c->x;
	size_t chunk = x->app->o->chunk_size;
	size_t paths = strlen(x->remote_path) + strlen(x->local_path);

	while (c->connected && x->conn && c->q_head && c->nwait < CHAT_WAIT_MAX) {
		struct chat_out *q = c->q_head;
		size_t n = q->len - q->off < chunk ? q->len - q->off : chunk;
		char tid[MSRP_TID_MAX + 1], marker[8 + MSRP_TID_MAX], head[MSRP_MAX_HEADER_BYTES], end[64];

		if (mconn_wspace(x->conn) < n + paths + 512)
			return;
		/* a tid whose end-line does not occur in the chunk (RFC 4975 §7.1.1) */
		for (int tries = 0;; tries++) {
			cpm_random_alnum(tid, 16);
			int ml = snprintf(marker, sizeof marker, "-------%s", tid);
			if (!memmem(q->body + q->off, n, marker, (size_t)ml) || tries > 32)
				break;
		}
		struct msrp_byte_range br = {q->off + 1, q->off + n, q->len};
		struct msrp_request_head h = {
			.tid = tid,
			.method = MSRP_METHOD_SEND,
			.to_path = cpm_str_c(x->remote_path),
			.from_path = cpm_str_c(x->local_path),
			.message_id = cpm_str_c(q->msgid),
			.range = &br,
			.content_type = CPM_STR_LIT("message/cpim"),
		};
		int hl = msrp_build_request_head(head, sizeof head, &h);
		int el = msrp_build_end(end, sizeof end, tid, q->off + n >= q->len ? MSRP_FLAG_END : MSRP_FLAG_MORE,
					true);
		if (hl < 0 || el < 0 || mconn_wspace(x->conn) < (size_t)hl + n + (size_t)el) {
			errlog(x->app, "cannot build an MSRP SEND for message %s; dropped", q->imdn_id);
			c->q_head = q->next;
			c->q_bytes -= q->len - q->off;
			out_free(q);
			continue;
		}
		mconn_write(x->conn, head, (size_t)hl);
		mconn_write(x->conn, q->body + q->off, n);
		mconn_write(x->conn, end, (size_t)el);
		struct chat_wait *w = &c->wait[c->nwait++];
		snprintf(w->tid, sizeof w->tid, "%s", tid);
		snprintf(w->imdn_id, sizeof w->imdn_id, "%s", q->imdn_id);
		w->is_chat = q->is_chat;
		q->off += n;
		c->q_bytes -= n;
		x->last_progress = now_mono();
		if (q->off == q->len) {
			c->q_head = q->next;
			if (!c->q_head)
				c->q_tail = NULL;
			out_free(q);
		}
	}
}

/* Queue one CPIM body (taken over: freed here). */
static int chat_queue(struct chat_sess *c, char *body, size_t len, const char *imdn_id, bool is_chat)
{
	struct chat_out *q = calloc(1, sizeof *q);

	if (!q) {
		free(body);
		return -1;
	}
	cpm_random_alnum(q->msgid, 20);
	snprintf(q->imdn_id, sizeof q->imdn_id, "%s", imdn_id);
	q->is_chat = is_chat;
	q->body = body;
	q->len = len;
	if (c->q_tail)
		c->q_tail->next = q;
	else
		c->q_head = q;
	c->q_tail = q;
	c->q_bytes += len;
	chat_pump(c);
	return 0;
}

int chat_send_text(struct chat_sess *c, const char *text, size_t len, char imdn_id[CHAT_ID_MAX + 1])
{
	struct cpm_app *app = c->x->app;
	char now[64];

	cpm_random_alnum(imdn_id, 32); /* ~190 bits: the message's id everywhere (messaging.md §1) */
	rfc3339_now(now, sizeof now);
	struct cpim_out m = {
		.from_uri = app->o->aor,
		.to_uri = c->peer_uri,
		.message_id = imdn_id,
		.datetime = now,
		.disposition = "positive-delivery, display",
		.content_type = "text/plain;charset=UTF-8",
		.body = text,
		.body_len = len,
	};
	int n = cpim_build(NULL, 0, &m);
	char *body = n > 0 ? malloc((size_t)n + 1) : NULL;
	if (!body || cpim_build(body, (size_t)n + 1, &m) != n) {
		free(body);
		return -1;
	}
	c->sent++;
	return chat_queue(c, body, (size_t)n, imdn_id, true);
}

/* Our report about a message the peer sent (messaging.md §4: in a session it travels in the
 * session). */
static void chat_send_report(struct chat_sess *c, const char *orig_id, const char *orig_date, const char *to,
			     enum imdn_kind kind, enum imdn_status st)
{
	struct imdn_note note;
	char wid[33], now[64];
	char *body = malloc(IMDN_MAX_BYTES);
	int n;

	memset(&note, 0, sizeof note);
	snprintf(note.message_id, sizeof note.message_id, "%s", orig_id);
	snprintf(note.datetime, sizeof note.datetime, "%s", orig_date);
	snprintf(note.recipient, sizeof note.recipient, "%.*s", (int)sizeof note.recipient - 1, c->x->app->o->aor);
	note.kind = kind;
	note.status = st;
	cpm_random_alnum(wid, 32);
	rfc3339_now(now, sizeof now);
	n = body ? imdn_build_cpim(body, IMDN_MAX_BYTES, c->x->app->o->aor, to, wid, now, &note) : -1;
	if (n < 0) {
		errlog(c->x->app, "cannot build a %s report for message %s", imdn_status_name(st), orig_id);
		free(body);
		return;
	}
	chat_queue(c, body, (size_t)n, wid, false);
}

/* ---------------------------------------------------------------- receiving */

static bool seen_before(struct chat_sess *c, struct cpm_str id)
{
	unsigned n = c->nseen < CHAT_SEEN ? c->nseen : CHAT_SEEN;

	if (!id.len)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (cpm_str_eq(id, c->seen[i]))
			return true;
	if (cpm_str_copy(c->seen[c->nseen % CHAT_SEEN], CHAT_ID_MAX + 1, id))
		c->nseen++;
	return false;
}

static void on_report(struct chat_sess *c)
{
	struct cpm_app *app = c->x->app;
	struct imdn_note note;
	char id[3 * IMDN_MAX_MSGID + 1];
	int rc = imdn_parse_cpim(c->in_buf, c->in_len, &note);

	if (rc != IMDN_OK) {
		errlog(app, "a report in the session does not parse: %s", imdn_strerror(rc));
		return;
	}
	deferred_safe_display(id, sizeof id, note.message_id);
	out_line(app, "notification %s %s", imdn_status_name(note.status) ? imdn_status_name(note.status) : "unknown",
		 id);
}

/* A whole chat message (text content). */
static void on_chat(struct chat_sess *c, const struct cpim_msg *m)
{
	struct cpm_app *app = c->x->app;
	char sender[3 * CPM_URI_MAX], conv[3 * CHAT_CONV_MAX + 1], id[CHAT_ID_MAX + 1], date[IMDN_MAX_DATETIME + 1];
	struct cpm_str from = cpim_addr_uri(m->from);
	unsigned want = imdn_disposition_bits(m->imdn_disposition_notification);

	if (seen_before(c, m->imdn_message_id)) {
		errlog(app, "chat message repeated in the session: not shown again");
		return;
	}
	field(sender, sizeof sender, from.len ? from : cpm_str_c(c->peer_uri), "?");
	deferred_safe_display(conv, sizeof conv, c->conv_id);
	size_t tcap = 4 * m->body.len + 8; /* every byte may become \xHH */
	char *text = malloc(tcap);
	if (!text)
		return;
	text_line(text, tcap, m->body);
	out_line(app, "chat %s %s %s", sender, conv, text);
	free(text);
	c->received++;
	/* reports go back to the CPIM From, as for any message (RFC 5438 §6.3) */
	if (!m->imdn_message_id.len || !cpm_str_copy(id, sizeof id, m->imdn_message_id))
		return;
	if (!cpm_str_copy(date, sizeof date, m->datetime))
		date[0] = '\0';
	char to[CPM_URI_MAX];
	if (!from.len || !cpm_str_copy(to, sizeof to, from))
		snprintf(to, sizeof to, "%s", c->peer_uri);
	if (want & IMDN_ASK_POSITIVE)
		chat_send_report(c, id, date, to, IMDN_KIND_DELIVERY, IMDN_STATUS_DELIVERED);
	if ((want & IMDN_ASK_DISPLAY) && app->o->read)
		chat_send_report(c, id, date, to, IMDN_KIND_DISPLAY, IMDN_STATUS_DISPLAYED);
	if (app->o->reply && !c->inviter) {
		char rid[CHAT_ID_MAX + 1];
		if (chat_send_text(c, app->o->reply, strlen(app->o->reply), rid) == 0)
			vlog(app, "[%u] chat: replied (message %s)", c->x->id, rid);
	}
}

static void on_message(struct chat_sess *c)
{
	struct cpim_msg m;
	int rc = cpim_parse(c->in_buf ? c->in_buf : "", c->in_len, &m);

	if (rc != CPIM_OK) {
		errlog(c->x->app, "a message in the session is not CPIM (%s): ignored", cpim_strerror(rc));
		return;
	}
	struct cpm_str t = mime_type_only(m.content_type);
	if (cpm_str_caseeq(t, IMDN_CTYPE))
		on_report(c);
	else if (t.len > 5 && !strncasecmp(t.p, "text/", 5))
		on_chat(c, &m);
	else
		errlog(c->x->app, "a message of type %.*s in the session: ignored", (int)(t.len > 64 ? 64 : t.len), t.p);
}

/* The head of an incoming SEND with a body: where its bytes go. */
static void in_begin(struct chat_sess *c, const struct msrp_msg *m)
{
	uint64_t start = m->has_byte_range ? m->range.start : 1;

	if (!cpm_str_eq(m->message_id, c->in_msgid) || start == 1) {
		/* a new message (a half one before it is forgotten: its sender gave up) */
		c->in_len = 0;
		c->in_status = 0;
		if (!cpm_str_copy(c->in_msgid, sizeof c->in_msgid, m->message_id))
			c->in_msgid[0] = '\0';
	}
	if (c->in_status)
		return;
	if (m->has_byte_range && m->range.total != MSRP_RANGE_STAR && m->range.total > CHAT_IN_MAX)
		c->in_status = 413;
	else if (start - 1 != c->in_len)
		c->in_status = 400; /* the server relays in order: a gap is a broken sender */
}

static void in_body(struct chat_sess *c, struct cpm_str b)
{
	if (c->in_status)
		return;
	if (c->in_len + b.len > CHAT_IN_MAX) {
		c->in_status = 413;
		return;
	}
	if (c->in_len + b.len > c->in_cap) {
		/* grows with the bytes that came, not with what the peer announced */
		size_t cap = c->in_cap ? c->in_cap : 4096;
		while (cap < c->in_len + b.len)
			cap *= 2;
		char *nb = realloc(c->in_buf, cap);
		if (!nb) {
			c->in_status = 500;
			return;
		}
		c->in_buf = nb;
		c->in_cap = cap;
	}
	memcpy(c->in_buf + c->in_len, b.p, b.len);
	c->in_len += b.len;
}

static void chat_on_event(void *arg, const struct msrp_event *ev)
{
	struct chat_sess *c = arg;
	struct xfer *x = c->x;
	const struct msrp_msg *m = ev->msg;

	if (c->ended)
		return;
	switch (ev->type) {
	case MSRP_EV_MSG:
		x->last_progress = now_mono();
		if (m->method == MSRP_METHOD_NONE) {
			for (unsigned i = 0; i < c->nwait; i++) {
				if (strcmp(c->wait[i].tid, m->tid))
					continue;
				struct chat_wait w = c->wait[i];
				c->wait[i] = c->wait[--c->nwait];
				if (m->status != 200 && strcmp(c->refused_id, w.imdn_id)) {
					snprintf(c->refused_id, sizeof c->refused_id, "%s", w.imdn_id);
					c->refused += w.is_chat;
					errlog(x->app, "%s %s refused: MSRP %d %.*s", w.is_chat ? "message" : "report",
					       w.imdn_id, m->status, (int)(m->comment.len > 80 ? 80 : m->comment.len),
					       m->comment.p);
				}
				chat_pump(c);
				chat_on_drained(c);
				break;
			}
		} else if (m->method == MSRP_METHOD_SEND && m->has_body) {
			in_begin(c, m);
		}
		break;
	case MSRP_EV_BODY:
		in_body(c, ev->body); /* only a SEND has a body (the parser refuses one in a response) */
		break;
	case MSRP_EV_END:
		if (!m || m->method == MSRP_METHOD_NONE || m->method == MSRP_METHOD_REPORT)
			break;
		if (m->method != MSRP_METHOD_SEND) {
			in_respond(x, m, 501, NULL);
			break;
		}
		if (!m->has_body) {
			in_respond(x, m, 200, NULL); /* a keep-alive */
			break;
		}
		in_respond(x, m, c->in_status ? c->in_status : 200, NULL);
		if (ev->flag == MSRP_FLAG_END && !c->in_status)
			on_message(c);
		if (ev->flag != MSRP_FLAG_MORE) {
			c->in_len = 0;
			c->in_msgid[0] = '\0';
			if (c->in_cap > 64 * 1024) {
				free(c->in_buf);
				c->in_buf = NULL;
				c->in_cap = 0;
			}
		}
		break;
	case MSRP_EV_ERROR:
		if (!ev->fatal && m && m->method == MSRP_METHOD_SEND)
			in_respond(x, m, 400, NULL);
		break;
	default:
		break;
	}
}

/* ---------------------------------------------------------------- the connection */

static void chat_on_connect(void *arg)
{
	struct chat_sess *c = arg;
	struct xfer *x = c->x;
	char tid[17], mid[21], buf[MSRP_MAX_HEADER_BYTES];

	vlog(x->app, "[%u] MSRP: connected to %s:%u", x->id, x->remote_host, (unsigned)x->remote_port);
	x->state = XS_ACTIVE;
	x->last_progress = now_mono();
	/* RFC 4975 §5.4: the active end binds the connection with a SEND (an empty one) */
	cpm_random_alnum(tid, 16);
	cpm_random_alnum(mid, 20);
	struct msrp_byte_range br = {1, 0, 0};
	struct msrp_request_head h = {
		.tid = tid,
		.method = MSRP_METHOD_SEND,
		.to_path = cpm_str_c(x->remote_path),
		.from_path = cpm_str_c(x->local_path),
		.message_id = cpm_str_c(mid),
		.range = &br,
	};
	int n = msrp_build_request_head(buf, sizeof buf, &h);
	int e = n < 0 ? -1 : msrp_build_end(buf + n, sizeof buf - (size_t)n, tid, MSRP_FLAG_END, false);
	if (e < 0 || mconn_write(x->conn, buf, (size_t)(n + e)) < 0) {
		chat_on_lost(c, "cannot bind the MSRP connection");
		return;
	}
	c->connected = true;
	chat_pump(c);
	chat_on_drained(c);
}

static void chat_on_writable(void *arg)
{
	struct chat_sess *c = arg;

	chat_pump(c);
	chat_on_drained(c);
}

static void chat_on_close(void *arg, const char *reason)
{
	struct chat_sess *c = arg;

	c->x->conn = NULL;
	c->connected = false;
	chat_on_lost(c, reason);
}

static const struct mconn_ops chat_ops = {
	.on_connect = chat_on_connect,
	.on_event = chat_on_event,
	.on_writable = chat_on_writable,
	.on_close = chat_on_close,
};

int chat_msrp_start(struct chat_sess *c, char *err, size_t cap)
{
	struct xfer *x = c->x;
	struct cpm_app *app = x->app;
	size_t chunk = app->o->chunk_size;
	if (xfer_conn_open(x, 2 * chunk + 64 * 1024, 64 * 1024, &chat_ops, c, err, cap))
		return -1;
	x->state = XS_CONNECTING;
	x->last_progress = now_mono();
	vlog(app, "[%u] MSRP: connecting to %s:%u, To-Path %s", x->id, x->remote_host, (unsigned)x->remote_port,
	     x->remote_path);
	return 0;
}

void chat_msrp_close(struct chat_sess *c)
{
	c->connected = false;
	if (c->x->conn) {
		mconn_close(c->x->conn);
		c->x->conn = NULL;
	}
}
