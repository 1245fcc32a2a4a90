/* One MSRP connection: socket, fixed receive buffer, parser, bounded send
 * queue, and the binding of the connection to a session (RFC 4975 §5.4).
 *
 * A connection carries exactly one session: its first request names the
 * session (session-id of the last To-Path URI); later requests for another
 * session get 481 from the session owner. cpmd never shares a connection
 * between sessions because it never opens one: every peer connects to us.
 *
 * Reading is level-triggered: we ask for SU_WAIT_IN only while we want
 * bytes (no hold, room in the buffer, our own queue below high water), and
 * for SU_WAIT_OUT only while something is queued. */
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "net/msrp_tls.h"
#include "net/msrp_transport.h"

/* Reads per wake-up before giving other sockets a turn (level-triggered,
 * so the rest is picked up on the next round). */
#define CONN_READS_PER_WAKEUP 8
/* Compact the receive buffer when less than this is free at its end. */
#define CONN_COMPACT_ROOM (32 * 1024)
/* A parser that keeps returning events without consuming input is a bug;
 * stop rather than spin. */
#define CONN_MAX_ZERO_EVENTS 64

static int conn_io_cb(su_root_magic_t *m, su_wait_t *w, su_wakeup_arg_t *arg);

int conn_create(struct msrp_hub *h, int fd, const char *peer, struct msrp_conn **cp)
{
	struct msrp_conn *c;
	su_wait_t w;
	int one = 1;

	*cp = NULL;
	c = malloc(sizeof *c);
	if (!c)
		return -ENOMEM;
	/* Everything but the receive buffer is zeroed; the buffer is
	 * written by recv() before it is read. */
	memset(c, 0, offsetof(struct msrp_conn, rbuf));
	c->hub = h;
	c->fd = fd;
	c->state = CONN_UNBOUND;
	snprintf(c->peer, sizeof c->peer, "%s", peer);
	/* Responses and end-lines are small and latency matters for them;
	 * big writes are not affected by Nagle anyway. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	/* Room for one full receive buffer more than the high-water mark:
	 * flow control stops reading once the queue passes high water, but
	 * the buffer already read must still go somewhere. */
	sendq_init(&c->q, hub_high_water(h) + 2 * MSRP_RBUF_SIZE + 64 * 1024);
	msrp_parser_init(&c->parser);
	c->last_progress = msrp_now_ms();
	if (su_wait_create(&w, fd, SU_WAIT_IN)) {
		free(c);
		return -ENOMEM;
	}
	c->mask = SU_WAIT_IN;
	c->widx = su_root_register(hub_root(h), &w, conn_io_cb, c, 0);
	if (c->widx <= 0) {
		su_wait_destroy(&w);
		free(c);
		return -EIO;
	}
	hub_conn_opened(h, c);
	*cp = c;
	return 0;
}

void conn_free(struct msrp_conn *c)
{
	sendq_free(&c->q);
	free(c);
}

/* A peer must not make us queue answers faster than it reads them: above
 * this much unsent output a connection neither reads nor parses. It sits
 * one receive buffer above high water because the relay itself keeps the
 * DOWN queue up to about that level with file data, and the device's
 * responses should still be read then. */
static size_t conn_own_limit(const struct msrp_conn *c)
{
	return hub_high_water(c->hub) + MSRP_RBUF_SIZE + 16 * 1024;
}

static bool conn_wants_read(const struct msrp_conn *c)
{
	if (c->failed)
		return false;
	if (c->state == CONN_DRAINING)
		return true; /* discard input, notice EOF */
	if (c->state != CONN_UNBOUND && c->state != CONN_BOUND)
		return false;
	return c->hold == 0 && c->rlen < sizeof c->rbuf && sendq_len(&c->q) <= conn_own_limit(c);
}

static void conn_update_mask(struct msrp_conn *c)
{
	int want = 0;

	if (c->state == CONN_CLOSED)
		return;
	if (conn_wants_read(c))
		want |= SU_WAIT_IN;
	/* (TLS: not while the handshake waits for the peer: the socket is writable and
	 * SSL_write would only say "want read" again) */
	if (sendq_len(&c->q) && !c->failed && !(c->ssl && c->tls_want_read))
		want |= SU_WAIT_OUT;
	if (want != c->mask) {
		c->mask = want;
		su_root_eventmask(hub_root(c->hub), c->widx, c->fd, want);
	}
}

/* ---------------------------------------------------------------- output */

static void conn_fail(struct msrp_conn *c, int err)
{
	if (c->failed || c->state == CONN_CLOSED)
		return;
	c->failed = true;
	c->fail_err = err;
	hub_conn_failed(c->hub, c);
}

static ssize_t conn_write(struct msrp_conn *c, const void *p, size_t n);

static void conn_after_flush(struct msrp_conn *c)
{
	if (c->state == CONN_DRAINING && c->g.n && !c->failed)
		conn_write(c, NULL, 0); /* gathered bytes go before the FIN */
	if (c->state == CONN_DRAINING && !sendq_len(&c->q) && !c->g.n && !c->shut_wr) {
		if (c->ssl)
			conn_tls_shutdown(c);
		shutdown(c->fd, SHUT_WR);
		c->shut_wr = true;
	}
}

/* TLS: everything goes through the queue (one contiguous piece per SSL_write, and a write
 * OpenSSL could not finish is retried with the same bytes first, as it requires). Returns n
 * (all of `extra` is queued or sent), or -1 if the connection failed. */
static ssize_t conn_write_tls(struct msrp_conn *c, const void *p, size_t n)
{
	if (n && sendq_append(&c->q, p, n)) {
		msrp_log("%s: send queue over its limit, closing", c->peer);
		conn_fail(c, ENOBUFS);
		return -1;
	}
	while (sendq_len(&c->q)) {
		struct iovec iov[2];
		sendq_iov(&c->q, iov);
		ssize_t w = conn_tls_write(c, iov[0].iov_base, iov[0].iov_len);
		if (w < 0) {
			conn_fail(c, errno);
			return -1;
		}
		if (w == 0)
			break;
		sendq_consume(&c->q, (size_t)w);
		c->last_progress = msrp_now_ms();
	}
	return (ssize_t)n;
}

/* One sendmsg of queue + gather list + extra; what the socket does not take of the gather
 * list is copied into the queue. Returns bytes of `extra` that went out, or -1 if the
 * connection failed. */
static ssize_t conn_write(struct msrp_conn *c, const void *p, size_t n)
{
	if (c->ssl) {
		/* TLS never gathers (conn_send_ref), but keep the order if it ever does */
		if (c->g.n && gather_spill(&c->g, 0, &c->q)) {
			conn_fail(c, ENOBUFS);
			return -1;
		}
		return conn_write_tls(c, p, n);
	}

	struct iovec iov[2 + GATHER_IOV + 1];
	struct msghdr mh;
	size_t qlen = sendq_len(&c->q), glen = c->g.len;
	int cnt = sendq_iov(&c->q, iov);
	ssize_t w;

	if (c->g.n) {
		memcpy(iov + cnt, c->g.iov, (size_t)c->g.n * sizeof iov[0]);
		cnt += c->g.n;
	}
	if (n) {
		iov[cnt].iov_base = (void *)p;
		iov[cnt].iov_len = n;
		cnt++;
	}
	if (!cnt)
		return 0;
	memset(&mh, 0, sizeof mh);
	mh.msg_iov = iov;
	mh.msg_iovlen = (size_t)cnt;
	do
		w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			gather_clear(&c->g);
			conn_fail(c, errno);
			return -1;
		}
		w = 0;
	}
	if (w > 0)
		c->last_progress = msrp_now_ms();
	if ((size_t)w <= qlen) {
		sendq_consume(&c->q, (size_t)w);
		w = 0;
	} else {
		sendq_consume(&c->q, qlen);
		w -= (ssize_t)qlen;
	}
	if (c->g.n) {
		size_t done = (size_t)w < glen ? (size_t)w : glen;

		if (done < glen && !sendq_len(&c->q))
			c->last_progress = msrp_now_ms(); /* the stall clock starts now */
		if (gather_spill(&c->g, done, &c->q)) {
			msrp_log("%s: send queue over its limit, closing", c->peer);
			conn_fail(c, ENOBUFS);
			return -1;
		}
		w -= (ssize_t)done;
	}
	return w;
}

void conn_send(struct msrp_conn *c, const void *p, size_t n)
{
	ssize_t sent;

	if (!c || c->failed || c->shut_wr || c->state == CONN_CLOSED)
		return;
	sent = conn_write(c, p, n);
	if (sent < 0)
		return;
	if ((size_t)sent < n && !sendq_len(&c->q))
		c->last_progress = msrp_now_ms(); /* the stall clock starts now */
	if ((size_t)sent < n && sendq_append(&c->q, (const char *)p + sent, n - (size_t)sent)) {
		msrp_log("%s: send queue over its limit, closing", c->peer);
		conn_fail(c, ENOBUFS);
		return;
	}
	conn_after_flush(c);
	conn_update_mask(c);
}

void conn_queue(struct msrp_conn *c, const void *p, size_t n)
{
	if (!c || c->failed || c->shut_wr || c->state == CONN_CLOSED)
		return;
	/* behind gathered bytes: into the stage, or write them first */
	if (c->g.n && gather_copy(&c->g, p, n))
		return;
	if (c->g.n && conn_write(c, NULL, 0) < 0)
		return;
	if (!sendq_len(&c->q))
		c->last_progress = msrp_now_ms(); /* the stall clock starts now */
	if (sendq_append(&c->q, p, n)) {
		msrp_log("%s: send queue over its limit, closing", c->peer);
		conn_fail(c, ENOBUFS);
		return;
	}
	/* No write interest yet: every caller follows with conn_send() (body
	 * bytes or the end-line), which flushes this with the same sendmsg.
	 * Arming SU_WAIT_OUT here cost two epoll_ctl calls per chunk. */
}

/* Gathering pays only on plain TCP while the socket takes what we write (TLS writes one
 * buffer at a time; a socket we wait on would make us copy the bytes anyway: there the plain
 * path and its flow control stay as they were), and only inside the hub bracket, whose end
 * flushes. A queue alone is no reason not to: it holds the chunk head (conn_queue). */
static bool conn_may_gather(const struct msrp_conn *c)
{
	return !c->ssl && !(c->mask & SU_WAIT_OUT) && hub_in_bracket(c->hub);
}

void conn_send_ref(struct msrp_conn *c, const void *p, size_t n)
{
	if (!c || c->failed || c->shut_wr || c->state == CONN_CLOSED || !n)
		return;
	if (!conn_may_gather(c)) {
		conn_send(c, p, n);
		return;
	}
	if (!c->g.n)
		hub_conn_gathered(c->hub, c);
	if (gather_ref(&c->g, p, n))
		return;
	conn_send(c, p, n); /* no slot left: this write takes all of it */
}

void conn_send_soon(struct msrp_conn *c, const void *p, size_t n)
{
	if (!c || c->failed || c->shut_wr || c->state == CONN_CLOSED || !n)
		return;
	if (!conn_may_gather(c)) {
		conn_send(c, p, n);
		return;
	}
	if (!c->g.n)
		hub_conn_gathered(c->hub, c);
	if (gather_copy(&c->g, p, n))
		return;
	conn_send(c, p, n);
}

void conn_flush_gather(struct msrp_conn *c)
{
	size_t before = conn_queued(c);

	if (!c->g.n)
		return;
	if (c->failed || c->shut_wr || c->state == CONN_CLOSED) {
		gather_clear(&c->g);
		return;
	}
	if (conn_write(c, NULL, 0) < 0)
		return;
	conn_after_flush(c);
	conn_update_mask(c);
	/* The owner's flow control counted these bytes (conn_queued) and may have paused the
	 * other leg on them: tell it they left, as a writable socket would (conn_flush). */
	if (conn_queued(c) < before && c->state == CONN_BOUND && c->session)
		c->session->ops->drained(c->session);
}

static void conn_flush(struct msrp_conn *c)
{
	size_t before = sendq_len(&c->q);

	if (!before || c->failed)
		return;
	if (conn_write(c, NULL, 0) < 0)
		return;
	conn_after_flush(c);
	/* Parsing may have stopped on our own queue: pick it up again. */
	if (c->roff < c->rlen && before > conn_own_limit(c) && sendq_len(&c->q) <= conn_own_limit(c))
		hub_conn_runnable(c->hub, c);
	if (sendq_len(&c->q) < before && c->state == CONN_BOUND && c->session)
		c->session->ops->drained(c->session);
}

size_t conn_kernel_unacked(const struct msrp_conn *c)
{
	int n = 0;

	if (!c || c->fd < 0 || ioctl(c->fd, SIOCOUTQ, &n) || n < 0)
		return 0;
	return (size_t)n;
}

void conn_respond(struct msrp_conn *c, const struct msrp_msg *req, int status, const char *comment,
		  struct cpm_str from)
{
	char buf[MSRP_MAX_HEADER_BYTES + MSRP_OUR_URI_MAX + 256];
	int n;

	if (!c || req->method == MSRP_METHOD_REPORT || req->method == MSRP_METHOD_NONE)
		return; /* REPORTs and responses are never answered */
	if (req->failure_report == MSRP_REPORT_NO)
		return;
	if (req->failure_report == MSRP_REPORT_PARTIAL && status == 200)
		return;
	if (!req->from_path.len)
		return; /* nowhere to send it */
	n = msrp_build_response(buf, sizeof buf, req->tid, status,
				comment ? comment : msrp_status_phrase(status),
				msrp_path_first(req->from_path), from);
	if (n < 0) {
		msrp_log("%s: cannot build %d response", c->peer, status);
		return;
	}
	/* With the other output of this parse pass: a store-mode upload's 200s (one per chunk,
	 * two or more chunks per read) left in a sendmsg each. */
	conn_send_soon(c, buf, (size_t)n);
}

/* ---------------------------------------------------------------- state changes */

void conn_close(struct msrp_conn *c, int err)
{
	struct msrp_session *s = c->session;

	if (c->state == CONN_CLOSED)
		return;
	if (err && err != ETIMEDOUT)
		msrp_log("%s: closed: %s", c->peer, err == EPROTO ? "protocol error" : strerror(err));
	else
		msrp_log("%s: closed", c->peer);
	c->state = CONN_CLOSED;
	c->session = NULL;
	if (s)
		s->conn = NULL;
	su_root_deregister(hub_root(c->hub), c->widx);
	if (c->ssl)
		conn_tls_free(c);
	close(c->fd);
	c->fd = -1;
	hub_conn_gone(c->hub, c);
	if (s)
		s->ops->closed(s, err);
}

void conn_drain(struct msrp_conn *c)
{
	if (c->state == CONN_CLOSED || c->state == CONN_DRAINING)
		return;
	if (c->session) {
		c->session->conn = NULL;
		c->session = NULL;
	}
	c->state = CONN_DRAINING;
	c->hold = 0;
	hub_conn_draining(c->hub, c);
	conn_after_flush(c);
	conn_update_mask(c);
}

void conn_hold(struct msrp_conn *c, unsigned bits)
{
	if (!c || (c->hold & bits) == bits)
		return;
	c->hold |= bits;
	conn_update_mask(c);
}

void conn_unhold(struct msrp_conn *c, unsigned bits)
{
	if (!c || !(c->hold & bits))
		return;
	c->hold &= ~bits;
	if (c->hold == 0)
		hub_conn_runnable(c->hub, c); /* buffered input waits for us */
}

/* ---------------------------------------------------------------- input */

/* Session-ids compare case-sensitively (RFC 4975 §6.1); hosts are not
 * compared (SBCs rewrite them, RFC 6714). */
static bool same_session_id(struct cpm_str a, struct cpm_str b)
{
	struct msrp_uri ua, ub;
	return msrp_uri_parse(a, &ua) == 0 && msrp_uri_parse(b, &ub) == 0 && ua.session_id.len == ub.session_id.len &&
	       memcmp(ua.session_id.p, ub.session_id.p, ua.session_id.len) == 0;
}

/* First request on an unbound connection: find its session. */
static void conn_bind(struct msrp_conn *c, const struct msrp_event *ev)
{
	const struct msrp_msg *m = ev->msg;
	struct cpm_str last = msrp_path_last(m->to_path);
	struct msrp_uri u;
	struct msrp_session *s = NULL;

	if (msrp_uri_parse(last, &u) == 0)
		s = hub_session_find(c->hub, u.session_id.p, u.session_id.len);
	/* another loop's session (--workers): that loop parses this request again */
	if (!s && msrp_uri_parse(last, &u) == 0 && hub_handoff(c, u.session_id.p, u.session_id.len, c->ev_off))
		return;
	if (!s) {
		msrp_log("%s: request for an unknown session, 481", c->peer);
		conn_respond(c, m, 481, NULL, last);
		conn_drain(c);
		return;
	}
	if (s->peer_path && !same_session_id(msrp_path_last(m->from_path), msrp_path_last(cpm_str_c(s->peer_path)))) {
		msrp_log("%s: From-Path is not the negotiated peer of session %s, 403", c->peer, s->id);
		conn_respond(c, m, 403, NULL, last);
		conn_drain(c);
		return;
	}
	if (s->secure && !c->ssl) {
		/* we wrote msrps: for it (RFC 4975 §14): its bytes must not travel in clear */
		msrp_log("%s: session %s is msrps (TLS only), 403", c->peer, s->id);
		conn_respond(c, m, 403, "TLS required (msrps session)", last);
		conn_drain(c);
		return;
	}
	if (s->conn) {
		msrp_log("%s: session %s already bound elsewhere, 506", c->peer, s->id);
		conn_respond(c, m, 506, NULL, last);
		conn_drain(c);
		return;
	}
	c->state = CONN_BOUND;
	c->session = s;
	s->conn = c;
	hub_conn_bound(c->hub, c);
	msrp_log("%s: bound to session %s", c->peer, s->id);
	s->ops->bound(s);
	if (c->state == CONN_BOUND && c->session == s)
		s->ops->event(s, ev);
}

static void conn_unbound_event(struct msrp_conn *c, const struct msrp_event *ev)
{
	const struct msrp_msg *m = ev->msg;

	switch (ev->type) {
	case MSRP_EV_MSG:
		if (m->method == MSRP_METHOD_SEND) {
			conn_bind(c, ev);
		} else if (m->method == MSRP_METHOD_AUTH || m->method == MSRP_METHOD_OTHER) {
			/* We are not an RFC 4976 relay; stay unbound. */
			conn_respond(c, m, 501, NULL, msrp_path_last(m->to_path));
			c->skip_msg = true;
		} else {
			/* A response or REPORT cannot bind: there is nothing
			 * we could have sent to this peer yet. */
			msrp_log("%s: response or REPORT before binding, closing", c->peer);
			conn_drain(c);
		}
		break;
	case MSRP_EV_END:
		c->skip_msg = false;
		break;
	case MSRP_EV_ERROR:
		if (m)
			conn_respond(c, m, 400, NULL, msrp_path_last(m->to_path));
		break;
	default:
		break;
	}
}

static void conn_dispatch(struct msrp_conn *c, const struct msrp_event *ev)
{
	if (ev->type == MSRP_EV_ERROR && ev->fatal) {
		msrp_log("%s: unparseable stream (%s)", c->peer, msrp_strerror(ev->error));
		conn_close(c, EPROTO);
		return;
	}
	if (c->state == CONN_UNBOUND)
		conn_unbound_event(c, ev);
	else if (c->state == CONN_BOUND && c->session)
		c->session->ops->event(c->session, ev);
}

static bool conn_parsing(const struct msrp_conn *c)
{
	return (c->state == CONN_UNBOUND || c->state == CONN_BOUND) && !c->hold && !c->failed &&
	       sendq_len(&c->q) <= conn_own_limit(c);
}

static void conn_compact(struct msrp_conn *c)
{
	size_t left = c->rlen - c->roff;

	if (left == 0) {
		c->roff = c->rlen = 0;
	} else if (c->roff && sizeof c->rbuf - c->rlen < CONN_COMPACT_ROOM) {
		/* The tail is at most a header block or a held-back end-line. */
		memmove(c->rbuf, c->rbuf + c->roff, left);
		c->roff = 0;
		c->rlen = left;
	}
}

static void conn_parse(struct msrp_conn *c)
{
	if (c->in_parse)
		return;
	c->in_parse = true;
	while (conn_parsing(c) && c->roff < c->rlen) {
		struct msrp_event ev;
		size_t consumed = 0;
		enum msrp_ev t;

		memset(&ev, 0, sizeof ev);
		c->ev_off = c->roff;
		t = msrp_parse(&c->parser, c->rbuf + c->roff, c->rlen - c->roff, &consumed, &ev);
		if (consumed > c->rlen - c->roff)
			consumed = c->rlen - c->roff; /* never trust a count blindly */
		c->roff += consumed;
		if (t == MSRP_EV_NEED_MORE)
			break;
		c->zero_events = consumed ? 0 : c->zero_events + 1;
		if (c->zero_events > CONN_MAX_ZERO_EVENTS) {
			msrp_log("%s: parser makes no progress, closing", c->peer);
			conn_close(c, EPROTO);
			break;
		}
		conn_dispatch(c, &ev);
	}
	c->in_parse = false;
	/* Bodies gathered for the other leg point into this buffer: out before it moves. */
	hub_flush_gathered(c->hub);
	if (c->state == CONN_CLOSED)
		return;
	conn_compact(c);
	if (c->rlen == sizeof c->rbuf && c->roff == 0 && conn_parsing(c)) {
		/* Full buffer the parser will not eat: against its contract. */
		msrp_log("%s: parser stalled on a full buffer, closing", c->peer);
		conn_close(c, EPROTO);
	}
}

static ssize_t conn_recv(struct msrp_conn *c, void *buf, size_t cap)
{
	if (c->ssl)
		return conn_tls_recv(c, buf, cap);
	return recv(c->fd, buf, cap, MSG_DONTWAIT);
}

static void conn_discard_input(struct msrp_conn *c)
{
	/* Bounded like normal reads: a fast peer must not keep us here. */
	for (int i = 0; i < CONN_READS_PER_WAKEUP; i++) {
		ssize_t n = conn_recv(c, c->rbuf, sizeof c->rbuf);

		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		conn_close(c, 0);
		return;
	}
}

static void conn_readable(struct msrp_conn *c, int revents)
{
	if (c->state == CONN_DRAINING) {
		conn_discard_input(c);
		return;
	}
	if (!conn_wants_read(c)) {
		/* Hung up or in error while we do not read: nothing more can
		 * be sent or received, and a level-triggered HUP would spin. */
		if (revents & (SU_WAIT_HUP | SU_WAIT_ERR))
			conn_close(c, ECONNRESET);
		return;
	}
	for (int i = 0; i < CONN_READS_PER_WAKEUP && conn_wants_read(c); i++) {
		size_t room = sizeof c->rbuf - c->rlen;
		ssize_t n = conn_recv(c, c->rbuf + c->rlen, room);

		if (n > 0) {
			c->rlen += (size_t)n;
			conn_parse(c);
			/* Plain TCP: a read shorter than the room took all the socket had, so the next
			 * one would only say EAGAIN (one syscall per wake-up); epoll is level-triggered
			 * and reports what arrives meanwhile. (TLS: a short SSL_read says nothing about
			 * the socket.) */
			if (!c->ssl && (size_t)n < room)
				return;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		conn_close(c, n == 0 ? 0 : errno);
		return;
	}
}

static int conn_io_cb(su_root_magic_t *m, su_wait_t *w, su_wakeup_arg_t *arg)
{
	struct msrp_conn *c = arg;
	struct msrp_hub *h = c->hub;
	int rev = w->revents;

	hub_enter(h);
	if (c->state != CONN_CLOSED && (rev & SU_WAIT_OUT))
		conn_flush(c);
	if (c->state != CONN_CLOSED && !c->failed && (rev & (SU_WAIT_IN | SU_WAIT_HUP | SU_WAIT_ERR))) {
		bool waited = c->ssl && c->tls_want_read;
		conn_readable(c, rev);
		/* TLS: the handshake bytes a queued write waited for may have come */
		if (waited && c->state != CONN_CLOSED && sendq_len(&c->q))
			conn_flush(c);
	}
	if (c->state != CONN_CLOSED)
		conn_update_mask(c);
	hub_leave(h);
	return 0;
}

void conn_take_input(struct msrp_conn *c)
{
	struct msrp_hub *h = c->hub;

	if (c->state == CONN_CLOSED || c->failed)
		return;
	hub_enter(h);
	conn_readable(c, 0);
	if (c->state != CONN_CLOSED)
		conn_update_mask(c);
	hub_leave(h);
}

void conn_run(struct msrp_conn *c)
{
	if (c->state == CONN_CLOSED || c->failed)
		return;
	if (conn_parsing(c))
		conn_parse(c);
	/* TLS: OpenSSL may hold decrypted bytes the socket will never signal again */
	if (c->ssl && c->state != CONN_CLOSED && !c->failed && SSL_pending(c->ssl) > 0)
		conn_readable(c, 0);
	if (c->state != CONN_CLOSED)
		conn_update_mask(c);
}
