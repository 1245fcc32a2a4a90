/* Receiving one file over MSRP into --dir.
 *
 * The offer comes from the server (it is passive, we are active): after the
 * 200 OK is ACKed we connect to the first URI of its a=path and send an empty
 * binding SEND (To-Path, From-Path, Message-ID only; RFC 4975 §5.4). Chunks
 * are written at their Byte-Range offset into DIR/.NAME.cpm-part (created
 * O_EXCL|O_NOFOLLOW relative to the directory fd) and hashed as they come in
 * order. When the '$' chunk has arrived and every byte is there, size and
 * sha-1 are checked, the part file is renamed to the first free
 * "NAME", "NAME (1)", ... (renameat2 RENAME_NOREPLACE: never overwrite), the
 * success REPORT is sent, and `received PATH SIZE SHA1` is printed.
 *
 * Nothing the peer sends sizes an allocation: bodies stream to the file,
 * bytes beyond the announced size are refused with 413.
 */
#include "cpm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mconn.h"
#include "safe_name.h"

void in_respond(struct xfer *x, const struct msrp_msg *m, int status, const char *comment)
{
	in_respond_tid(x, m->tid, m->failure_report, m->from_path, status, comment);
}

void in_respond_tid(struct xfer *x, const char *tid, enum msrp_report_mode fr, struct cpm_str from_path, int status,
		    const char *comment)
{
	if (!x->conn)
		return;
	if (fr == MSRP_REPORT_NO)
		return;
	if (fr == MSRP_REPORT_PARTIAL && status == 200)
		return;
	char buf[MSRP_MAX_LINE * 2 + 256];
	int n = msrp_build_response(buf, sizeof buf, tid, status, comment, from_path, cpm_str_c(x->local_path));
	if (n < 0 || mconn_write(x->conn, buf, (size_t)n) < 0)
		vlog(x->app, "[%u] MSRP: could not queue response %d to %s", x->id, status, tid);
}

static void in_remove_part(struct xfer *x)
{
	if (x->part_fd < 0) {
		/* never opened (or a kept partial we only picked): not ours */
		x->part_name[0] = '\0';
		x->meta_name[0] = '\0';
		return;
	}
	close(x->part_fd);
	x->part_fd = -1;
	if (x->part_name[0] && x->app->dir_fd >= 0)
		unlinkat(x->app->dir_fd, x->part_name, 0);
	x->part_name[0] = '\0';
	partial_drop_meta(x);
}

/* An interrupted transfer keeps its part file and sidecar when it holds
 * bytes worth continuing (resume, store-and-forward §5); a transfer the
 * peer ended on purpose or whose data is wrong loses them. */
void msrp_in_abort(struct xfer *x, const char *reason, bool keep)
{
	struct cpm_app *app = x->app;
	if (chat_hook_abort(x, CPM_EXIT_FAILED, NULL))
		return; /* a chat session we accepted: `session ... ended` */
	if (x->state == XS_DONE)
		return;
	in_disk_stop(x); /* contig: what the worker wrote; the ring's rest is sent again */
	if (keep && x->meta_name[0] && x->part_fd >= 0 && x->contig > 0 && x->contig < x->sel.size) {
		partial_save(x);
		close(x->part_fd);
		x->part_fd = -1;
		errlog(app, "kept the partial file %s/%s (%llu of %llu bytes) to continue later", app->o->dir_abs,
		       x->part_name, (unsigned long long)x->contig, (unsigned long long)x->sel.size);
		x->part_name[0] = '\0';
		x->meta_name[0] = '\0';
	} else {
		in_remove_part(x);
	}
	if (!(x->pull && app->shutting_down)) /* fetch said "failed: interrupted" already */
		out_line(app, "failed: %s %s", x->safe, reason);
	xfer_done(x, CPM_EXIT_FAILED, NULL);
}

static void in_fail(struct xfer *x, const char *reason)
{
	msrp_in_abort(x, reason, false);
}

/* Move the part file to the first free final name; returns 0 and the name. */
static int in_rename(struct xfer *x, char *final, size_t cap)
{
	int dfd = x->app->dir_fd;
	for (unsigned n = 0; n < 10000; n++) {
		if (!safe_name_numbered(final, cap, x->safe, n))
			return -1;
		if (renameat2(dfd, x->part_name, dfd, final, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno == EEXIST)
			continue;
		if (errno != EINVAL && errno != ENOSYS)
			return -1;
		/* file system without RENAME_NOREPLACE: link() never replaces either */
		if (linkat(dfd, x->part_name, dfd, final, 0) == 0) {
			unlinkat(dfd, x->part_name, 0);
			return 0;
		}
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

static void in_save_thumbnail(struct xfer *x, const char *final)
{
	if (!x->thumb || !x->thumb_len)
		return;
	char name[512];
	for (unsigned n = 0; n < 100; n++) {
		int w = n ? snprintf(name, sizeof name, "%s.thumbnail (%u).%s", final, n, x->thumb_ext)
			  : snprintf(name, sizeof name, "%s.thumbnail.%s", final, x->thumb_ext);
		if (w < 0 || (size_t)w >= sizeof name || w > 255)
			return;
		int fd = openat(x->app->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0) {
			if (errno == EEXIST)
				continue;
			errlog(x->app, "cannot save thumbnail %s: %s", name, strerror(errno));
			return;
		}
		size_t off = 0;
		while (off < x->thumb_len) {
			ssize_t r = write(fd, x->thumb + off, x->thumb_len - off);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			off += (size_t)r;
		}
		close(fd);
		if (off != x->thumb_len) {
			unlinkat(x->app->dir_fd, name, 0);
			errlog(x->app, "cannot write thumbnail %s", name);
			return;
		}
		out_line(x->app, "thumbnail %s/%s %zu", x->app->o->dir_abs, name, x->thumb_len);
		return;
	}
}

static bool in_complete(const struct xfer *x)
{
	if (!x->got_last)
		return false;
	if (x->contig == x->sel.size)
		return true;
	/* out of order: overlapping chunks may make this an overestimate;
	 * the hash check below still catches a hole when a hash was given */
	return x->ooo && x->contig + x->ooo_bytes >= x->sel.size;
}

static void in_send_success_report(struct xfer *x, const struct msrp_msg *m)
{
	struct cpm_app *app = x->app;
	if (m->success_report == MSRP_REPORT_YES && x->conn) {
		char tid[MSRP_TID_MAX + 1];
		cpm_random_alnum(tid, 16);
		struct msrp_byte_range br = {1, x->sel.size - x->base, x->sel.size - x->base};
		struct msrp_request_head h = {
			.tid = tid,
			.method = MSRP_METHOD_REPORT,
			.to_path = m->from_path,
			.from_path = cpm_str_c(x->local_path),
			.message_id = m->message_id,
			.range = &br,
			.status_code = 200,
			.status_comment = "OK",
		};
		char buf[MSRP_MAX_HEADER_BYTES + 64];
		int n = msrp_build_request_head(buf, sizeof buf, &h);
		int e = n < 0 ? -1 : msrp_build_end(buf + n, sizeof buf - (size_t)n, tid, MSRP_FLAG_END, false);
		if (n < 0 || e < 0 || mconn_write(x->conn, buf, (size_t)(n + e)) < 0)
			errlog(app, "could not send the success REPORT for %s", x->display);
		else
			vlog(app, "[%u] MSRP: REPORT %s Status 000 200 sent", x->id, tid);
	}
}

/* A standalone message, all in memory (x->part_fd is a memfd): a fetched stored one, or an
 * incoming large message (largemsg.c). Printed like one that `receive` gets as a MESSAGE
 * (msg_in.c), with its reports, then acknowledged. */
static void in_finish_message(struct xfer *x, const struct msrp_msg *m)
{
	struct cpm_app *app = x->app;
	struct msg_in_reports rep;
	char why[160];
	size_t n = (size_t)x->sel.size; /* <= CPM_FETCH_MSG_MAX (pull.c) or CPM_MSG_MAX (largemsg) */
	char *buf = malloc(n ? n : 1);
	ssize_t r = buf ? pread(x->part_fd, buf, n, 0) : -1;
	int st = r == (ssize_t)n ? msg_in(app, buf, n, x->pull || x->msg_from_store, &rep, why, sizeof why) : 500;
	free(buf);
	if (st != 200) {
		in_respond(x, m, 400, "Not A Message");
		in_fail(x, st == 500 ? "cannot read the message back" : why);
		return;
	}
	in_respond(x, m, 200, NULL);
	in_send_success_report(x, m);
	msg_in_reports(app, &rep);
	close(x->part_fd);
	x->part_fd = -1;
	x->success = true;
	xfer_done(x, CPM_EXIT_OK, NULL);
}

/* The last byte is in (and written): check, answer the chunk, rename, report, print. */
void msrp_in_finish(struct xfer *x, const struct msrp_msg *m, const uint8_t *digest)
{
	struct cpm_app *app = x->app;
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	struct stat st;

	if (x->ooo) {
		uint64_t sz = 0;
		if (sha1_fd(x->part_fd, md, &sz, NULL) < 0) {
			in_respond(x, m, 400, "Cannot read back the file");
			in_fail(x, "cannot read back the part file");
			return;
		}
		mdlen = 20;
	} else if (digest) {
		memcpy(md, digest, 20); /* the disk worker's (msrp_in_disk.c) */
		mdlen = 20;
	} else if (!EVP_DigestFinal_ex(x->md, md, &mdlen)) {
		in_respond(x, m, 400, "Hash failure");
		in_fail(x, "sha-1 failed");
		return;
	}
	if (fstat(x->part_fd, &st) < 0 || (uint64_t)st.st_size != x->sel.size) {
		in_respond(x, m, 400, "Size mismatch");
		in_fail(x, "size mismatch");
		return;
	}
	if (x->sel.has_hash && strcmp(x->sel.hash_alg, "sha-1") == 0 &&
	    (x->sel.hash_len != mdlen || memcmp(x->sel.hash, md, mdlen) != 0)) {
		in_respond(x, m, 400, "Hash mismatch");
		in_fail(x, "sha-1 mismatch");
		return;
	}
	if (x->msg) {
		in_finish_message(x, m);
		return;
	}
	char hex[41];
	cpm_hex_encode(hex, sizeof hex, md, 20, CPM_HEX_LOWER, '\0');
	if (x->have_msgid && recv_log_seen(app, x->msgid, hex)) {
		/* A repeat of a file this directory already has (the server lost
		 * our acknowledgement in a crash): acknowledge, keep one copy. */
		unlinkat(app->dir_fd, x->part_name, 0);
		close(x->part_fd);
		x->part_fd = -1;
		x->part_name[0] = '\0';
		partial_drop_meta(x);
		in_respond(x, m, 200, NULL);
		in_send_success_report(x, m);
		errlog(app, "%s (message %s) was already received here: acknowledged, not saved again", x->display,
		       x->msgid);
		x->repeat = true;
		xfer_done(x, CPM_EXIT_OK, NULL);
		return;
	}
	char final[SAFE_NAME_MAX + 32];
	if (in_rename(x, final, sizeof final) < 0) {
		int e = errno;
		in_respond(x, m, 400, "Cannot store the file");
		char why[128];
		snprintf(why, sizeof why, "cannot rename: %s", strerror(e));
		in_fail(x, why);
		return;
	}
	close(x->part_fd);
	x->part_fd = -1;
	x->part_name[0] = '\0';
	partial_drop_meta(x);

	if (x->have_msgid)
		recv_log_add(app, x->msgid, hex);
	/* Older kept partials of this same file (a whole re-delivery replaced
	 * them) are of no use any more. Bounded, in case one cannot go. */
	struct partial stale;
	for (int i = 0; i < 16 && x->sel.has_hash && partial_find(app, &x->sel, NULL, 0, &stale) == 0; i++) {
		unlinkat(app->dir_fd, stale.part, 0);
		if (unlinkat(app->dir_fd, stale.meta, 0) < 0)
			break;
		vlog(app, "[%u] removed the kept partial %s of the same file", x->id, stale.part);
	}
	in_respond(x, m, 200, NULL);
	in_send_success_report(x, m);
	progress_update(app, x, x->sel.size, x->sel.size, true);
	out_line(app, "received %s/%s %llu %s", app->o->dir_abs, final, (unsigned long long)x->sel.size, hex);
	in_save_thumbnail(x, final);
	x->success = true;
	xfer_done(x, CPM_EXIT_OK, NULL);
}

static void in_body(struct xfer *x, struct cpm_str b)
{
	if (!x->cur_ours || x->cur_status != 200 || b.len == 0)
		return;
	if (x->cur_off > x->sel.size || b.len > x->sel.size - x->cur_off) {
		x->cur_status = 413;
		return;
	}
	uint64_t off = x->cur_off, end = x->cur_off + b.len;
	int inl = 1; /* 1: written inline, here */
	if (off <= x->contig) {
		/* in order: the disk worker writes and hashes it (msrp_in_disk.c); bytes it has
		 * already are not pushed again */
		inl = end > x->contig ? in_disk_push(x, b.p + (x->contig - off), (size_t)(end - x->contig))
				       : x->disk || x->disk_wanted ? 0 : 1;
		if (inl < 0) {
			errlog(x->app, "write %s: %s", x->part_name, strerror(-inl));
			x->cur_status = 500; /* answered as 400: MSRP has no 5xx */
			return;
		}
	}
	size_t done = 0;
	while (inl && done < b.len) {
		ssize_t w = pwrite(x->part_fd, b.p + done, b.len - done, (off_t)(x->cur_off + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			errlog(x->app, "write %s: %s", x->part_name, w < 0 ? strerror(errno) : "short write");
			x->cur_status = 500; /* answered as 400: MSRP has no 5xx */
			return;
		}
		done += (size_t)w;
	}
	if (off <= x->contig && end > x->contig) {
		size_t skip = (size_t)(x->contig - off);
		if (!x->ooo && inl)
			EVP_DigestUpdate(x->md, b.p + skip, b.len - skip);
		x->contig = end;
	} else if (off > x->contig) {
		bool first = !x->ooo;
		x->ooo = true;
		x->ooo_bytes += b.len;
		if (first)
			partial_save(x); /* the part file's length proves nothing from now on */
	}
	x->cur_off = end;
	x->last_progress = now_mono();
	partial_progress(x);
	progress_update(x->app, x, x->contig, x->sel.size, false);
}

static void in_msg(struct xfer *x, const struct msrp_msg *m)
{
	x->cur_ours = false;
	x->cur_status = 200;
	x->cur_open = m->method != MSRP_METHOD_NONE;
	if (m->method == MSRP_METHOD_NONE) {
		if (m->status != 200) {
			char why[128];
			snprintf(why, sizeof why, "MSRP %d %.*s", m->status, (int)m->comment.len, m->comment.p);
			in_fail(x, why);
		}
		return;
	}
	if (m->method == MSRP_METHOD_REPORT)
		return;
	if (m->method != MSRP_METHOD_SEND) {
		x->cur_status = 501;
		return;
	}
	struct msrp_uri u;
	if (msrp_uri_parse(msrp_path_last(m->to_path), &u) < 0 || !cpm_str_eq(u.session_id, x->local_sid)) {
		x->cur_status = 481;
		return;
	}
	/* An empty SEND binds or keeps alive: just 200. Except the 0-byte file
	 * itself when a peer sends it without Content-Type: Byte-Range 1-0/0. */
	if (!m->has_body && (x->is_msg || !(x->sel.size == 0 && m->has_byte_range && m->range.total == 0 &&
					    m->message_id.len)))
		return;
	if (!x->have_msgid) {
		if (!cpm_str_copy(x->msgid, sizeof x->msgid, m->message_id)) {
			x->cur_status = 400;
			return;
		}
		x->have_msgid = true;
	} else if (!cpm_str_eq(m->message_id, x->msgid)) {
		x->cur_status = 403; /* one file, one message per session */
		return;
	}
	x->cur_ours = true; /* from here on an error ends the transfer */
	if (x->is_msg && !x->sel.has_size) {
		/* a message has no selector: its size is its first chunk's Byte-Range total
		 * (messaging.md §2), a number and at most what we hold in memory */
		if (!m->has_byte_range || m->range.total == MSRP_RANGE_STAR || m->range.total > CPM_MSG_MAX) {
			x->cur_status = 413;
			return;
		}
		x->sel.size = m->range.total;
		x->sel.has_size = true;
	}
	/* A resumed transfer is the range [base, size): its Byte-Range counts
	 * from 1 within the range, total = size - base (RFC 5547 §8.1.3). */
	uint64_t start = m->has_byte_range ? m->range.start : 1;
	if (start == 0 || (m->has_byte_range && m->range.total != MSRP_RANGE_STAR &&
			   m->range.total != x->sel.size - x->base)) {
		x->cur_status = 400; /* Byte-Range does not fit the announced file */
		return;
	}
	x->cur_off = x->base + start - 1;
	if (x->app->o->verbose) {
		char end[24] = "*";
		if (m->has_byte_range && m->range.end != MSRP_RANGE_STAR)
			snprintf(end, sizeof end, "%llu", (unsigned long long)m->range.end);
		vlog(x->app, "[%u] MSRP: SEND %s Byte-Range %llu-%s/%llu", x->id, m->tid,
		     (unsigned long long)start, end, (unsigned long long)x->sel.size);
	}
}

static void in_end(struct xfer *x, const struct msrp_event *ev)
{
	const struct msrp_msg *m = ev->msg;
	x->cur_open = false;
	if (!m || m->method == MSRP_METHOD_NONE || m->method == MSRP_METHOD_REPORT)
		return;
	if (x->cur_status != 200) {
		int st = x->cur_status == 500 ? 400 : x->cur_status;
		in_respond(x, m, st, NULL);
		if (x->cur_ours || st == 413) {
			char why[64];
			if (st == 413)
				snprintf(why, sizeof why, x->is_msg ? "too big or of unknown size" : "more bytes than announced");
			else
				snprintf(why, sizeof why, "bad chunk (answered %d)", st);
			in_fail(x, why);
		}
		return;
	}
	if (!x->cur_ours) {
		in_respond(x, m, 200, NULL);
		return;
	}
	if (ev->flag == MSRP_FLAG_ABORT) {
		in_respond(x, m, 200, NULL);
		in_fail(x, "aborted by sender");
		return;
	}
	if (ev->flag == MSRP_FLAG_END)
		x->got_last = true;
	if (in_complete(x)) {
		if (!in_disk_final(x, m)) /* with a worker: once it wrote and hashed the rest */
			msrp_in_finish(x, m, NULL);
		return;
	}
	if (!in_disk_ack(x, m)) /* with a worker: once it wrote this chunk's bytes */
		in_respond(x, m, 200, NULL);
}

static void in_on_event(void *arg, const struct msrp_event *ev)
{
	struct xfer *x = arg;
	if (x->state == XS_DONE)
		return;
	switch (ev->type) {
	case MSRP_EV_MSG:
		in_msg(x, ev->msg);
		break;
	case MSRP_EV_BODY:
		in_body(x, ev->body);
		break;
	case MSRP_EV_END:
		in_end(x, ev);
		break;
	case MSRP_EV_ERROR:
		vlog(x->app, "[%u] MSRP: bad message: %s%s", x->id, msrp_strerror(ev->error),
		     ev->fatal ? " (fatal)" : "");
		if (!ev->fatal && ev->msg && ev->msg->tid[0] && ev->msg->method != MSRP_METHOD_NONE &&
		    ev->msg->method != MSRP_METHOD_REPORT)
			in_respond(x, ev->msg, 400, NULL);
		break;
	default:
		break;
	}
}

static void in_on_connect(void *arg)
{
	struct xfer *x = arg;
	struct cpm_app *app = x->app;
	vlog(app, "[%u] MSRP: connected to %s:%u", x->id, x->remote_host, (unsigned)x->remote_port);
	x->state = XS_ACTIVE;
	x->last_progress = now_mono();
	x->started = now_mono();
	/* binding SEND: To-Path, From-Path, Message-ID, nothing else */
	char tid[MSRP_TID_MAX + 1], mid[MSRP_MSGID_MAX + 1];
	cpm_random_alnum(tid, 16);
	cpm_random_alnum(mid, 20);
	struct msrp_request_head h = {
		.tid = tid,
		.method = MSRP_METHOD_SEND,
		.to_path = cpm_str_c(x->remote_path),
		.from_path = cpm_str_c(x->local_path),
		.message_id = cpm_str_c(mid),
	};
	char buf[MSRP_MAX_HEADER_BYTES + 64];
	int n = msrp_build_request_head(buf, sizeof buf, &h);
	int e = n < 0 ? -1 : msrp_build_end(buf + n, sizeof buf - (size_t)n, tid, MSRP_FLAG_END, false);
	if (n < 0 || e < 0 || mconn_write(x->conn, buf, (size_t)(n + e)) < 0) {
		in_fail(x, "cannot build the binding SEND");
		return;
	}
	vlog(app, "[%u] MSRP: binding SEND %s sent", x->id, tid);
}

static void in_on_writable(void *arg)
{
	(void)arg;
}

static void in_on_close(void *arg, const char *reason)
{
	struct xfer *x = arg;
	x->conn = NULL;
	if (x->state != XS_DONE) {
		char why[160];
		snprintf(why, sizeof why, "MSRP %s", reason);
		/* a clean close by the server ends the transfer on purpose (the
		 * sender went away); a network error or a reset may be resumed */
		msrp_in_abort(x, why, strcmp(reason, "connection closed by peer") != 0);
	}
}

static void in_on_drained(void *arg)
{
	struct xfer *x = arg;
	if (x->state != XS_DONE)
		in_disk_drained(x);
}

static const struct mconn_ops in_ops = {
	.on_connect = in_on_connect,
	.on_event = in_on_event,
	.on_writable = in_on_writable,
	.on_close = in_on_close,
	.on_drained = in_on_drained,
};

/* Continue a kept partial (x->part_name set by the caller, x->base = bytes
 * to keep): truncate it to base and hash what stays. */
static int in_open_kept(struct xfer *x, char *err, size_t errcap)
{
	struct cpm_app *app = x->app;
	x->part_fd = openat(app->dir_fd, x->part_name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (x->part_fd < 0 || ftruncate(x->part_fd, (off_t)x->base) < 0) {
		snprintf(err, errcap, "cannot reopen %s/%s: %s", app->o->dir_abs, x->part_name, strerror(errno));
		return -1;
	}
	x->contig = x->base;
	vlog(app, "[%u] continuing %s at byte %llu", x->id, x->part_name, (unsigned long long)x->base);
	if (x->disk_wanted)
		return 0; /* the disk worker hashes the prefix first */
	if (msrp_in_hash_prefix(x) < 0) {
		snprintf(err, errcap, "cannot read back %s/%s", app->o->dir_abs, x->part_name);
		return -1;
	}
	return 0;
}

int msrp_in_hash_prefix(struct xfer *x)
{
	static char buf[256 * 1024];
	uint64_t off = 0;
	while (off < x->base) {
		size_t want = x->base - off < sizeof buf ? (size_t)(x->base - off) : sizeof buf;
		ssize_t r = pread(x->part_fd, buf, want, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		EVP_DigestUpdate(x->md, buf, (size_t)r);
		off += (uint64_t)r;
	}
	return 0;
}

/* The part file (and its sidecar) before we answer 200: a new one, or the
 * kept partial chosen in in_invite / fetch (x->meta_kept). */
int msrp_in_prepare(struct xfer *x, char *err, size_t errcap)
{
	struct cpm_app *app = x->app;
	safe_name(x->safe, sizeof x->safe, x->sel.name, x->sel.name_len);
	snprintf(x->display, sizeof x->display, "%.60s", x->safe);
	x->md = EVP_MD_CTX_new();
	if (!x->md || !EVP_DigestInit_ex(x->md, EVP_sha1(), NULL)) {
		snprintf(err, errcap, "sha-1 unavailable");
		return -1;
	}
	x->disk_wanted = in_disk_wanted(x);
	if (x->msg) {
		/* a stored message: nothing goes to --dir */
		x->base = 0;
		x->part_name[0] = x->meta_name[0] = '\0';
		x->part_fd = memfd_create("cpm-message", MFD_CLOEXEC);
		if (x->part_fd < 0) {
			snprintf(err, errcap, "memfd_create: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	if (x->meta_kept) {
		if (in_open_kept(x, err, errcap) < 0) {
			if (x->part_fd >= 0)
				close(x->part_fd);
			x->part_fd = -1;
			x->part_name[0] = '\0'; /* not ours to remove: it stays for later */
			x->meta_name[0] = '\0';
			return -1;
		}
		partial_save(x);
		return 0;
	}
	x->base = 0;
	for (unsigned n = 0; n < 1000; n++) {
		if (n)
			snprintf(x->part_name, sizeof x->part_name, ".%.200s.%u.cpm-part", x->safe, n);
		else
			snprintf(x->part_name, sizeof x->part_name, ".%.200s.cpm-part", x->safe);
		x->part_fd = openat(app->dir_fd, x->part_name,
				    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (x->part_fd >= 0 || errno != EEXIST)
			break;
	}
	if (x->part_fd < 0) {
		snprintf(err, errcap, "cannot create %s/%s: %s", app->o->dir_abs, x->part_name, strerror(errno));
		x->part_name[0] = '\0';
		return -1;
	}
	/* only a file that can be recognised again is worth keeping: push
	 * needs the sha-1 (selector match), pull the item id */
	if ((x->sel.has_hash && x->sel.hash_len == 20 && strcmp(x->sel.hash_alg, "sha-1") == 0) || x->item_id[0]) {
		snprintf(x->meta_name, sizeof x->meta_name, "%s.meta", x->part_name);
		partial_save(x);
	}
	return 0;
}

int msrp_in_start(struct xfer *x, char *err, size_t errcap)
{
	struct cpm_app *app = x->app;
	if (xfer_conn_open(x, 64 * 1024, 64 * 1024, &in_ops, x, err, errcap))
		return -1;
	x->state = XS_CONNECTING;
	x->last_progress = now_mono();
	vlog(app, "[%u] MSRP: connecting to %s:%u, To-Path %s", x->id, x->remote_host,
	     (unsigned)x->remote_port, x->remote_path);
	return 0;
}

void msrp_in_free(struct xfer *x)
{
	in_disk_stop(x);
	in_remove_part(x);
	EVP_MD_CTX_free(x->md);
	x->md = NULL;
	free(x->thumb);
	x->thumb = NULL;
}
