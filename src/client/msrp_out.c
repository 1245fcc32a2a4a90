/* Sending one file as one MSRP message (RFC 4975 §7.1.1, RFC 5547 §8):
 * one Message-ID, N chunks, each a SEND with Byte-Range, Success-Report: yes
 * and Failure-Report: yes. Chunks are pipelined: a new one is queued while
 * the socket takes bytes and fewer than CPM_WINDOW_BYTES are waiting for
 * their 200, so a long path does not cost a round trip per chunk and memory
 * stays at one chunk buffer plus the write queue.
 *
 * Delivered = every chunk got its 200 AND the success REPORT (000 200) for
 * the whole message arrived. Any error response or failure REPORT ends the
 * transfer ("failed: MSRP <code> <comment>").
 */
#include "cpm.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mconn.h"

static void out_fail(struct xfer *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_fail(struct xfer *x, const char *fmt, ...)
{
	char line[512];
	int n = snprintf(line, sizeof line, "failed: ");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	xfer_done(x, CPM_EXIT_FAILED, line);
}

static void out_check_done(struct xfer *x)
{
	bool all_sent = x->sel.size == 0 ? x->zero_sent : x->next_off >= x->sel.size;
	if (x->state == XS_ACTIVE && all_sent && x->ring_len == 0 && x->report_ok) {
		progress_update(x->app, x, x->sel.size, x->sel.size, true);
		vlog(x->app, "[%u] MSRP: all chunks acknowledged and success REPORT received", x->id);
		if (x->stored_id[0])
			errlog(x->app, "stored by the server as item %s", x->stored_id);
		/* messaging.md §7: a message is "sent" (a device took it) or "stored" */
		xfer_done(x, CPM_EXIT_OK, x->stored_id[0] ? "stored" : x->is_msg ? "sent" : "delivered");
	}
}

/* Read n bytes of the file at off into the chunk buffer. */
static int out_read(struct xfer *x, uint64_t off, size_t n)
{
	if (x->src_mem) {
		memcpy(x->chunk_buf, x->src_mem + off, n);
		return 0;
	}
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(x->src_fd, x->chunk_buf + got, n - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1; /* error, or the file shrank since we hashed it */
		got += (size_t)r;
	}
	return 0;
}

/* Queue chunks while the window, the ring and the write queue allow. */
static void out_pump(struct xfer *x)
{
	struct cpm_app *app = x->app;
	size_t chunk = app->o->chunk_size;
	size_t path_bytes = strlen(x->remote_path) + strlen(x->local_path);

	while (x->state == XS_ACTIVE && x->conn) {
		uint64_t size = x->sel.size;
		if (size == 0 ? x->zero_sent : x->next_off >= size)
			return;
		if (x->next_off - x->acked_off >= CPM_WINDOW_BYTES || x->ring_len == x->ring_cap)
			return;
		size_t n = size - x->next_off < chunk ? (size_t)(size - x->next_off) : chunk;
		/* A file's body leaves by sendfile() on plain TCP: the kernel sends the page-cache
		 * pages, so the bytes are not copied into the write queue and from there into the
		 * socket. They are read into chunk_buf for the tid check below only when the file
		 * may hold a run of seven '-' (src_dash_free: found by the pass that hashed it,
		 * hash_cache.c); without one no end-line can occur in a chunk, whatever the tid.
		 * A file that changes while it is sent may go out with bytes we did not check —
		 * it then fails the receiver's sha-1 check anyway. */
		bool by_file = n > 0 && !x->src_mem && x->src_regular && mconn_can_write_file(x->conn);
		bool unread = by_file && x->src_dash_free;
		size_t need = (by_file ? 0 : n) + path_bytes + 512 + strlen(x->sel.type);
		if (mconn_wspace(x->conn) < need)
			return;
		if (n && !unread && out_read(x, x->next_off, n) < 0) {
			out_fail(x, "cannot read %s at offset %llu (file changed?)", app->o->file ? app->o->file : "data",
				 (unsigned long long)x->next_off);
			return;
		}
		/* A tid whose end-line does not occur in this chunk (RFC 4975 §7.1.1). */
		char tid[MSRP_TID_MAX + 1];
		char marker[8 + MSRP_TID_MAX];
		for (int tries = 0;; tries++) {
			cpm_random_alnum(tid, 16);
			int ml = snprintf(marker, sizeof marker, "-------%s", tid);
			if (!n || unread || !memmem(x->chunk_buf, n, marker, (size_t)ml))
				break;
			if (tries > 32) {
				out_fail(x, "no usable MSRP transaction id");
				return;
			}
			vlog(app, "[%u] MSRP: tid %s occurs in the chunk, picking another", x->id, tid);
		}
		bool last = x->next_off + n >= size;
		/* a resumed message is the range [base, size): its Byte-Range
		 * counts from 1 within the range (RFC 5547 §8.1.3) */
		struct msrp_byte_range br = {x->next_off - x->base + 1, x->next_off + n - x->base, size - x->base};
		struct msrp_request_head h = {
			.tid = tid,
			.method = MSRP_METHOD_SEND,
			.to_path = cpm_str_c(x->remote_path),
			.from_path = cpm_str_c(x->local_path),
			.message_id = cpm_str_c(x->msgid),
			.range = &br,
			.success_report = MSRP_REPORT_YES,
			.failure_report = MSRP_REPORT_YES,
			.content_type = cpm_str_c(x->sel.type),
		};
		char head[MSRP_MAX_HEADER_BYTES];
		int hl = msrp_build_request_head(head, sizeof head, &h);
		char end[64];
		int el = msrp_build_end(end, sizeof end, tid, last ? MSRP_FLAG_END : MSRP_FLAG_MORE, true);
		if (hl < 0 || el < 0) {
			out_fail(x, "cannot build MSRP SEND (bad path or type?)");
			return;
		}
		if (mconn_wspace(x->conn) < (size_t)hl + (by_file ? 0 : n) + (size_t)el)
			return; /* cannot happen with `need` above; harmless if it does */
		mconn_write(x->conn, head, (size_t)hl);
		if (by_file)
			mconn_write_file(x->conn, x->src_fd, x->next_off, n);
		else if (n)
			mconn_write(x->conn, x->chunk_buf, n);
		mconn_write(x->conn, end, (size_t)el);

		struct inflight *f = &x->ring[(x->ring_head + x->ring_len) % x->ring_cap];
		snprintf(f->tid, sizeof f->tid, "%s", tid);
		f->end = x->next_off + n;
		f->acked = false;
		x->ring_len++;
		if (app->o->verbose)
			vlog(app, "[%u] MSRP: SEND %s Byte-Range %llu-%llu/%llu%s", x->id, tid,
			     (unsigned long long)br.start, (unsigned long long)br.end,
			     (unsigned long long)size, last ? " (last)" : "");
		x->next_off += n;
		if (size == 0)
			x->zero_sent = true;
	}
}

/* store-and-forward §1: the final 200 and the success REPORT of a file the
 * server kept carry Cpm-Stored: <item-id>. */
static void out_note_stored(struct xfer *x, const struct msrp_msg *m)
{
	struct cpm_str v;
	if (!msrp_msg_header(m, "Cpm-Stored", &v))
		return;
	v = cpm_str_trim(v);
	size_t ok = 0;
	while (ok < v.len && (isalnum((unsigned char)v.p[ok]) || v.p[ok] == '_' || v.p[ok] == '-'))
		ok++;
	if (ok == 0 || ok != v.len || !cpm_str_copy(x->stored_id, sizeof x->stored_id, v)) {
		vlog(x->app, "[%u] MSRP: unusable Cpm-Stored value (ignored)", x->id);
		return;
	}
	vlog(x->app, "[%u] MSRP: Cpm-Stored: %s", x->id, x->stored_id);
}

static void out_response(struct xfer *x, const struct msrp_msg *m)
{
	size_t i;
	for (i = 0; i < x->ring_len; i++) {
		struct inflight *f = &x->ring[(x->ring_head + i) % x->ring_cap];
		if (strcmp(f->tid, m->tid) == 0)
			break;
	}
	if (i == x->ring_len) {
		vlog(x->app, "[%u] MSRP: response %d for unknown tid %s (ignored)", x->id, m->status, m->tid);
		return;
	}
	if (m->status != 200) {
		if (x->is_msg && m->status == 413) {
			/* too big for the server (its size limit, messaging.md §2): its answer, not a
			 * failure of the network */
			char line[256];
			snprintf(line, sizeof line, "rejected: MSRP 413 %.*s", (int)m->comment.len, m->comment.p);
			xfer_done(x, CPM_EXIT_REJECTED, line);
			return;
		}
		out_fail(x, "MSRP %d %.*s", m->status, (int)m->comment.len, m->comment.p);
		return;
	}
	out_note_stored(x, m);
	x->ring[(x->ring_head + i) % x->ring_cap].acked = true;
	while (x->ring_len > 0 && x->ring[x->ring_head].acked) {
		x->acked_off = x->ring[x->ring_head].end;
		x->ring_head = (x->ring_head + 1) % x->ring_cap;
		x->ring_len--;
	}
	x->last_progress = now_mono();
	if (x->app->o->cmd == CMD_SEND)
		journal_progress(x->app, x->acked_off);
	progress_update(x->app, x, x->acked_off, x->sel.size, false);
	out_check_done(x);
	if (x->state == XS_ACTIVE)
		out_pump(x);
}

static void out_report(struct xfer *x, const struct msrp_msg *m)
{
	if (!cpm_str_eq(m->message_id, x->msgid)) {
		vlog(x->app, "[%u] MSRP: REPORT for another message (ignored)", x->id);
		return;
	}
	if (!m->has_status) {
		vlog(x->app, "[%u] MSRP: REPORT without Status (ignored)", x->id);
		return;
	}
	if (m->status_code != 200) {
		out_fail(x, "MSRP %d %.*s", m->status_code, (int)m->status_comment.len, m->status_comment.p);
		return;
	}
	x->last_progress = now_mono();
	out_note_stored(x, m);
	/* A success REPORT for a part only (per-chunk reports) is progress, not delivery. */
	if (m->has_byte_range && m->range.end != MSRP_RANGE_STAR && m->range.end < x->sel.size - x->base) {
		vlog(x->app, "[%u] MSRP: partial success REPORT up to %llu", x->id,
		     (unsigned long long)m->range.end);
		return;
	}
	vlog(x->app, "[%u] MSRP: success REPORT (000 200)", x->id);
	x->report_ok = true;
	out_check_done(x);
}

/* A request we do not expect on a sendonly session: answer 403 unless the
 * sender asked for no responses. */
static void out_refuse(struct xfer *x, const struct msrp_msg *m, int status)
{
	if (m->method != MSRP_METHOD_SEND || m->failure_report == MSRP_REPORT_NO ||
	    (m->failure_report == MSRP_REPORT_PARTIAL && status == 200))
		return;
	char buf[MSRP_MAX_LINE * 2 + 256];
	int n = msrp_build_response(buf, sizeof buf, m->tid, status, NULL, m->from_path,
				    cpm_str_c(x->local_path));
	if (n > 0)
		mconn_write(x->conn, buf, (size_t)n);
}

static void out_on_event(void *arg, const struct msrp_event *ev)
{
	struct xfer *x = arg;
	if (x->state != XS_ACTIVE)
		return;
	switch (ev->type) {
	case MSRP_EV_MSG:
		if (ev->msg->method == MSRP_METHOD_NONE)
			out_response(x, ev->msg);
		else if (ev->msg->method == MSRP_METHOD_REPORT)
			out_report(x, ev->msg);
		break;
	case MSRP_EV_END:
		if (ev->msg && ev->msg->method == MSRP_METHOD_SEND) {
			/* an empty SEND only binds; anything with a body is not for us */
			out_refuse(x, ev->msg, ev->msg->has_body ? 403 : 200);
		} else if (ev->msg && ev->msg->method == MSRP_METHOD_OTHER) {
			out_refuse(x, ev->msg, 501);
		}
		break;
	case MSRP_EV_ERROR:
		vlog(x->app, "[%u] MSRP: bad message from peer: %s", x->id, msrp_strerror(ev->error));
		if (!ev->fatal && ev->msg && ev->msg->tid[0] && ev->msg->method == MSRP_METHOD_SEND)
			out_refuse(x, ev->msg, 400);
		break;
	default:
		break;
	}
}

static void out_on_connect(void *arg)
{
	struct xfer *x = arg;
	vlog(x->app, "[%u] MSRP: connected to %s:%u", x->id, x->remote_host, (unsigned)x->remote_port);
	x->state = XS_ACTIVE;
	x->last_progress = now_mono();
	x->started = now_mono();
	out_pump(x);
}

static void out_on_writable(void *arg)
{
	out_pump(arg);
}

static void out_on_close(void *arg, const char *reason)
{
	struct xfer *x = arg;
	x->conn = NULL;
	if (x->state != XS_DONE)
		out_fail(x, "MSRP %s", reason);
}

static const struct mconn_ops out_ops = {
	.on_connect = out_on_connect,
	.on_event = out_on_event,
	.on_writable = out_on_writable,
	.on_close = out_on_close,
};

int xfer_set_remote(struct xfer *x, const struct sdp_ft *s)
{
	struct msrp_uri u;
	struct cpm_str first = msrp_path_first(cpm_str_c(s->path));
	if (!s->path[0] || msrp_uri_parse(first, &u) < 0 || u.port == 0 ||
	    !cpm_str_copy(x->remote_host, sizeof x->remote_host, u.host))
		return -1;
	x->remote_port = u.port;
	if (s->cema && s->conn_addr[0] && s->port != 9) {
		/* RFC 6714: connect to c=/m=, keep the path for To-Path */
		snprintf(x->remote_host, sizeof x->remote_host, "%s", s->conn_addr);
		x->remote_port = s->port;
	}
	snprintf(x->remote_path, sizeof x->remote_path, "%s", s->path);
	x->remote_tls = u.secure;
	snprintf(x->remote_fp, sizeof x->remote_fp, "%s", s->fingerprint);
	return 0;
}

int xfer_conn_open(struct xfer *x, size_t wcap, size_t rextra, const struct mconn_ops *ops, void *arg, char *err,
		   size_t errcap)
{
	struct cpm_app *app = x->app;
	int rc = mconn_open(&x->conn, app->root, x->remote_host, x->remote_port, wcap, rextra, ops, arg,
			    app->o->verbose);
	if (rc < 0) {
		snprintf(err, errcap, "MSRP connect to %s:%u: %s", x->remote_host, (unsigned)x->remote_port,
			 strerror(-rc));
		return -1;
	}
	if (x->remote_tls && mconn_start_tls(x->conn, app->o->ca ? app->o->ca : CPM_SYSTEM_CA, app->o->cert,
					     app->o->key, x->remote_host, x->remote_fp, err, errcap)) {
		mconn_close(x->conn);
		x->conn = NULL;
		return -1;
	}
	return 0;
}

int msrp_out_start(struct xfer *x, const struct sdp_ft *ans, char *err, size_t errcap)
{
	struct cpm_app *app = x->app;
	if (ans->port == 0) {
		snprintf(err, errcap, "peer refused the MSRP stream (port 0)");
		return -1;
	}
	if (ans->setup == SDP_SETUP_ACTIVE) {
		snprintf(err, errcap, "peer answered a=setup:active; we only connect");
		return -1;
	}
	if (xfer_set_remote(x, ans) < 0) {
		snprintf(err, errcap, "unusable a=path in the answer: \"%s\"", ans->path);
		return -1;
	}
	cpm_random_alnum(x->msgid, 20);
	x->next_off = x->acked_off = x->base;

	/* small files (blast) get small buffers: memory per transfer in flight */
	size_t chunk = app->o->chunk_size;
	if (x->sel.size - x->base < chunk)
		chunk = x->sel.size - x->base ? (size_t)(x->sel.size - x->base) : 1;
	x->ring_cap = CPM_WINDOW_BYTES / chunk + 2;
	if (x->ring_cap > 4096)
		x->ring_cap = 4096;
	x->ring = calloc(x->ring_cap, sizeof *x->ring);
	x->chunk_buf = malloc(chunk);
	if (!x->ring || !x->chunk_buf) {
		snprintf(err, errcap, "out of memory");
		return -1;
	}
	if (xfer_conn_open(x, 2 * chunk + 16384, 8192, &out_ops, x, err, errcap))
		return -1;
	mconn_set_read_reserve(x->conn, 0);
	x->state = XS_CONNECTING;
	x->last_progress = now_mono();
	vlog(app, "[%u] MSRP: connecting to %s:%u, To-Path %s", x->id, x->remote_host,
	     (unsigned)x->remote_port, x->remote_path);
	return 0;
}

void msrp_out_free(struct xfer *x)
{
	free(x->ring);
	x->ring = NULL;
	free(x->chunk_buf);
	x->chunk_buf = NULL;
	if (x->src_fd >= 0)
		close(x->src_fd);
	x->src_fd = -1;
}
