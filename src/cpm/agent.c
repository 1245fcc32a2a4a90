/* The SIP side of cpm over sofia-sip nua, and the event loop around it.
 *
 * One su_root in this thread (su_root_threading(root, 0)); nua with media
 * disabled (we build and parse the SDP ourselves, offer.c); every request
 * goes to --server as the outbound proxy. Incoming INVITEs reach us over the
 * flow we registered on (UDP: our port; TCP: our registration connection).
 *
 * Timers: one 200 ms tick checks every transfer's deadlines (answer delay,
 * INVITE without final answer, 30 s without MSRP progress), the receive
 * timeout, and drives the shutdown. A list scan every 200 ms is cheap for
 * the few thousand transfers a blast keeps at most.
 *
 * Shutdown (agent_finish), in stages so that nothing is cut short:
 *   1 GRACE     up to 2 s for senders to BYE transfers we completed (their
 *               success REPORT must reach them before the dialog ends);
 *   2 TEARDOWN  BYE/CANCEL/480 whatever is left, un-REGISTER (Expires 0),
 *               wait up to 3 s for those to finish;
 *   3 NUA       nua_shutdown, wait up to 3 s for nua_r_shutdown, then
 *               su_root_break.
 */
#include "cpm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sofia-sip/nta_tag.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/tport_tag.h>

#include "mconn.h"
#include "safe_name.h"

#define TICK_MS 200
#define GRACE_SECONDS 2.0
#define TEARDOWN_SECONDS 3.0
#define NUA_SHUTDOWN_SECONDS 3.0

enum { SD_NONE, SD_GRACE, SD_TEARDOWN, SD_NUA, SD_BROKEN };
static int sd_stage;
static bool nua_down;

static void shutdown_step(struct cpm_app *app);
static void blast_next(struct cpm_app *app);

/* ---------------------------------------------------------------- xfers */

struct xfer *xfer_new(struct cpm_app *app, enum xfer_dir dir)
{
	struct xfer *x = calloc(1, sizeof *x);
	if (!x)
		return NULL;
	x->app = app;
	x->dir = dir;
	x->id = ++app->next_id;
	x->src_fd = -1;
	x->part_fd = -1;
	x->started = now_mono();
	x->last_progress = x->started;
	x->next = app->xfers;
	if (app->xfers)
		app->xfers->prev = x;
	app->xfers = x;
	app->nxfers++;
	return x;
}

void xfer_reap(struct xfer *x)
{
	if (x->state != XS_DONE || x->nh || x->conn)
		return;
	struct cpm_app *app = x->app;
	if (x->prev)
		x->prev->next = x->next;
	else
		app->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	app->nxfers--;
	msrp_out_free(x);
	msrp_in_free(x);
	free(x);
}

/* End the SIP side of a transfer the right way for its state: BYE an
 * established dialog, CANCEL an INVITE still waiting for its final answer,
 * 480 an incoming one we never answered. Once per transfer. */
static void xfer_sip_end(struct xfer *x)
{
	if (!x->nh || x->bye_sent)
		return;
	x->bye_sent = true;
	if (x->dialog_up) {
		vlog(x->app, "[%u] SIP: BYE", x->id);
		nua_bye(x->nh, TAG_END());
	} else if (x->final_seen) {
		/* rejected, declined or already ended: nothing to send */
	} else if (x->dir == XFER_OUT) {
		vlog(x->app, "[%u] SIP: CANCEL", x->id);
		nua_cancel(x->nh, TAG_END());
	} else {
		nua_respond(x->nh, SIP_480_TEMPORARILY_UNAVAILABLE, TAG_END());
	}
}

void xfer_done(struct xfer *x, int code, const char *line)
{
	struct cpm_app *app = x->app;
	if (x->state == XS_DONE)
		return;
	x->state = XS_DONE;
	x->success = code == CPM_EXIT_OK;
	progress_clear(app);

	if (x->dir == XFER_IN && x->success) {
		/* keep the dialog and the connection (our REPORT may still be
		 * queued) until the sender's BYE */
		app->received++;
		if (app->o->count && app->received >= app->o->count)
			agent_finish(app, CPM_EXIT_OK);
		return;
	}
	if (x->conn) {
		mconn_close(x->conn);
		x->conn = NULL;
	}
	xfer_sip_end(x);
	if (x->dir == XFER_OUT) {
		if (app->o->cmd == CMD_BLAST) {
			if (x->success)
				app->blast_ok++;
			else
				app->blast_failed++;
			if (!x->success && line)
				errlog(app, "transfer %u: %s", x->id, line);
			blast_next(app);
		} else {
			if (line)
				out_line(app, "%s", line);
			agent_finish(app, code);
		}
	}
}

/* ------------------------------------------------------------ outgoing */

static int xfer_out_start(struct cpm_app *app, const struct sdp_file_selector *sel, int fd,
			  const uint8_t *mem, long mtime, const uint8_t *thumb, size_t thumb_len,
			  const char *thumb_type)
{
	const struct cpm_opts *o = app->o;
	struct xfer *x = xfer_new(app, XFER_OUT);
	if (!x)
		return -1;
	x->sel = *sel;
	x->src_fd = fd;
	x->src_mem = mem;
	snprintf(x->display, sizeof x->display, "%.*s", (int)sel->name_len, sel->name);

	char *body = NULL;
	char ctype[128];
	if (offer_build(o, x, mtime, thumb, thumb_len, thumb_type, &body, ctype, sizeof ctype) < 0) {
		errlog(app, "cannot build the SDP offer");
		x->state = XS_DONE;
		x->src_fd = -1; /* the caller still owns fd on failure */
		xfer_reap(x);
		return -1;
	}
	char contrib[37], conv[37];
	uuid_v4(contrib);
	uuid_v4(conv);
	char hdrs[1024];
	int hl = snprintf(hdrs, sizeof hdrs,
			  "Contribution-ID: %s\r\nConversation-ID: %s\r\nP-Preferred-Service: " CPM_ICSI_FT,
			  contrib, o->conversation_id ? o->conversation_id : conv);
	if (o->in_reply_to)
		snprintf(hdrs + hl, sizeof hdrs - (size_t)hl, "\r\nInReplyTo-Contribution-ID: %s", o->in_reply_to);

	char to[CPM_URI_MAX + 2];
	snprintf(to, sizeof to, "<%s>", o->target_uri);
	x->nh = nua_handle(app->nua, x, SIPTAG_TO_STR(to), TAG_END());
	if (!x->nh) {
		free(body);
		errlog(app, "nua_handle failed");
		x->state = XS_DONE;
		x->src_fd = -1;
		xfer_reap(x);
		return -1;
	}
	x->state = XS_INVITING;
	x->invite_deadline = o->invite_timeout ? now_mono() + o->invite_timeout : 0;
	vlog(app, "[%u] SIP: INVITE %s (%s, %llu bytes, Contribution-ID %s)", x->id, o->target_uri,
	     x->display, (unsigned long long)sel->size, contrib);
	/* RFC 3261 §18.1.1: a request over 1300 bytes goes over TCP. Our plain
	 * INVITE is ~1.3 KB and stays on UDP like every UDP client's; one with
	 * a thumbnail (or a very long name) is far bigger: TCP */
	bool big = !o->tcp && strlen(body) > 1500;
	if (big)
		vlog(app, "[%u] SIP: big INVITE (%zu bytes of body): sending it over TCP", x->id, strlen(body));
	nua_invite(x->nh, SIPTAG_CONTACT_STR(app->contact), TAG_IF(big, NUTAG_PROXY(app->proxy_tcp)),
		   SIPTAG_HEADER_STR(hdrs),
		   SIPTAG_ACCEPT_CONTACT_STR("*;+g.3gpp.icsi-ref=\"" CPM_ICSI_FT_ENC "\""),
		   SIPTAG_CONTENT_TYPE_STR(ctype), SIPTAG_PAYLOAD_STR(body), TAG_END());
	free(body);
	return 0;
}

static void ctype_string(const sip_content_type_t *c, char *out, size_t cap)
{
	out[0] = '\0';
	if (!c || !c->c_type)
		return;
	size_t n = (size_t)snprintf(out, cap, "%s", c->c_type);
	for (size_t i = 0; c->c_params && c->c_params[i] && n < cap; i++)
		n += (size_t)snprintf(out + n, cap - n, ";%s", c->c_params[i]);
	if (n >= cap)
		out[0] = '\0';
}

/* Did our own stack make this response up (transport error, timeout)?
 * nta fakes those with a To tag, so the tell is our Via: we send ";rport"
 * and a server fills it with our port (RFC 3581); nta's own copy leaves it
 * empty. Only 408 and 503 are made up this way. */
static bool local_response(int status, const sip_t *sip)
{
	if (!sip || status >= 700)
		return true;
	if (status != 408 && status != 503)
		return false;
	const sip_via_t *v = sip->sip_via;
	return !v || !v->v_rport || !v->v_rport[0];
}

static void on_invite_answer(struct xfer *x, int status, const char *phrase, const sip_t *sip)
{
	struct cpm_app *app = x->app;
	char line[600];
	if (status < 200) {
		vlog(app, "[%u] SIP: %d %s", x->id, status, phrase);
		return;
	}
	x->final_seen = true;
	if (status < 300) {
		x->dialog_up = true;
		if (x->state != XS_INVITING) {
			/* a late 2xx after we gave up (CANCEL crossed it): nua ACKs
			 * it, we end it */
			vlog(app, "[%u] SIP: late %d, BYE", x->id, status);
			nua_bye(x->nh, TAG_END());
			return;
		}
		vlog(app, "[%u] SIP: %d %s", x->id, status, phrase);
		char ct[512], err[256];
		ctype_string(sip ? sip->sip_content_type : NULL, ct, sizeof ct);
		struct sdp_ft *ans = calloc(1, sizeof *ans);
		const sip_payload_t *pl = sip ? sip->sip_payload : NULL;
		int rc = ans ? offer_parse_body(ct, pl ? pl->pl_data : NULL, pl ? pl->pl_len : 0, ans, NULL,
						err, sizeof err)
			     : -1;
		if (rc != 0) {
			snprintf(line, sizeof line, "failed: bad SDP answer: %s", ans ? err : "out of memory");
			free(ans);
			xfer_done(x, CPM_EXIT_FAILED, line);
			return;
		}
		rc = msrp_out_start(x, ans, err, sizeof err);
		free(ans);
		if (rc < 0) {
			snprintf(line, sizeof line, "failed: %s", err);
			xfer_done(x, CPM_EXIT_FAILED, line);
		}
		return;
	}
	if (x->state == XS_DONE)
		return;
	vlog(app, "[%u] SIP: %d %s", x->id, status, phrase);
	if (status == 603) {
		xfer_done(x, CPM_EXIT_DECLINED, "declined");
	} else if (local_response(status, sip)) {
		snprintf(line, sizeof line, "failed: SIP %d %s", status, phrase);
		xfer_done(x, CPM_EXIT_FAILED, line);
	} else {
		snprintf(line, sizeof line, "rejected: %d %s", status, phrase);
		xfer_done(x, CPM_EXIT_REJECTED, line);
	}
}

static int send_start(struct cpm_app *app)
{
	const struct cpm_opts *o = app->o;
	int fd = open(o->file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		out_line(app, "failed: cannot open %s: %s", o->file, fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct sdp_file_selector sel;
	memset(&sel, 0, sizeof sel);
	const char *slash = strrchr(o->file, '/');
	const char *base = slash ? slash + 1 : o->file;
	size_t bl = strlen(base);
	if (bl == 0 || bl > SDP_MAX_FILENAME) {
		out_line(app, "failed: bad file name");
		close(fd);
		return -1;
	}
	memcpy(sel.name, base, bl);
	sel.name_len = bl;
	sel.has_name = true;
	snprintf(sel.type, sizeof sel.type, "%s", mime_guess(base));
	sel.has_type = true;
	uint64_t size = 0;
	if (sha1_fd(fd, sel.hash, &size) < 0) {
		out_line(app, "failed: cannot read %s: %s", o->file, strerror(errno));
		close(fd);
		return -1;
	}
	sel.size = size;
	sel.has_size = true;
	snprintf(sel.hash_alg, sizeof sel.hash_alg, "sha-1");
	sel.hash_len = 20;
	sel.has_hash = true;

	uint8_t *thumb = NULL;
	size_t thumb_len = 0;
	const char *thumb_type = NULL;
	if (o->thumbnail) {
		int tfd = open(o->thumbnail, O_RDONLY | O_CLOEXEC);
		struct stat ts;
		if (tfd < 0 || fstat(tfd, &ts) < 0 || !S_ISREG(ts.st_mode)) {
			out_line(app, "failed: cannot open thumbnail %s", o->thumbnail);
			if (tfd >= 0)
				close(tfd);
			close(fd);
			return -1;
		}
		if (ts.st_size > (off_t)CPM_THUMB_MAX || ts.st_size == 0) {
			out_line(app, "failed: thumbnail must be 1 byte to %u KB (%s has %lld bytes)",
				 CPM_THUMB_MAX / 1024, o->thumbnail, (long long)ts.st_size);
			close(tfd);
			close(fd);
			return -1;
		}
		thumb = malloc((size_t)ts.st_size);
		ssize_t r = thumb ? read(tfd, thumb, (size_t)ts.st_size) : -1;
		close(tfd);
		if (r != ts.st_size) {
			out_line(app, "failed: cannot read thumbnail %s", o->thumbnail);
			free(thumb);
			close(fd);
			return -1;
		}
		thumb_len = (size_t)r;
		thumb_type = mime_guess(o->thumbnail);
		if (strncmp(thumb_type, "image/", 6) != 0)
			thumb_type = "image/jpeg";
	}
	int rc = xfer_out_start(app, &sel, fd, NULL, (long)st.st_mtime, thumb, thumb_len, thumb_type);
	free(thumb);
	if (rc < 0) {
		close(fd);
		out_line(app, "failed: cannot start the transfer");
	}
	return rc;
}

static void blast_summary(struct cpm_app *app)
{
	double secs = now_mono() - app->blast_t0;
	out_line(app, "blast %u ok %u failed %.3f seconds %.1f transfers/s", app->blast_ok, app->blast_failed,
		 secs, secs > 0 ? app->blast_ok / secs : 0.0);
}

static void blast_next(struct cpm_app *app)
{
	const struct cpm_opts *o = app->o;
	while (!app->shutting_down && app->blast_started < o->count &&
	       app->blast_started - app->blast_ok - app->blast_failed < o->parallel) {
		struct sdp_file_selector sel = app->blast_sel;
		int n = snprintf(sel.name, sizeof sel.name, "blast-%u.bin", app->blast_started + 1);
		sel.name_len = (size_t)n;
		app->blast_started++;
		if (xfer_out_start(app, &sel, -1, app->blast_buf, (long)time(NULL), NULL, 0, NULL) < 0)
			app->blast_failed++;
	}
	if (!app->shutting_down && app->blast_ok + app->blast_failed >= o->count) {
		blast_summary(app);
		agent_finish(app, app->blast_failed ? CPM_EXIT_FAILED : CPM_EXIT_OK);
	}
}

static int blast_start(struct cpm_app *app)
{
	const struct cpm_opts *o = app->o;
	app->blast_buf = malloc(o->blast_size ? (size_t)o->blast_size : 1);
	if (!app->blast_buf) {
		out_line(app, "failed: cannot allocate %llu bytes", (unsigned long long)o->blast_size);
		return -1;
	}
	/* random content: compressible or all-zero data would flatter the relay */
	for (size_t i = 0; i < o->blast_size; i += 16) {
		char t[17];
		random_token(t, 16);
		memcpy(app->blast_buf + i, t, o->blast_size - i < 16 ? o->blast_size - i : 16);
	}
	struct sdp_file_selector *sel = &app->blast_sel;
	memset(sel, 0, sizeof *sel);
	sel->has_name = sel->has_size = sel->has_type = sel->has_hash = true;
	sel->size = o->blast_size;
	snprintf(sel->type, sizeof sel->type, "application/octet-stream");
	snprintf(sel->hash_alg, sizeof sel->hash_alg, "sha-1");
	unsigned l = 0;
	EVP_Digest(app->blast_buf, o->blast_size, sel->hash, &l, EVP_sha1(), NULL);
	sel->hash_len = 20;
	app->blast_t0 = now_mono();
	blast_next(app);
	return 0;
}

/* ------------------------------------------------------------ incoming */

static void answer_now(struct xfer *x)
{
	struct cpm_app *app = x->app;
	x->answer_at = 0;
	if (app->o->answer == ANSWER_DECLINE) {
		vlog(app, "[%u] SIP: 603 Decline", x->id);
		nua_respond(x->nh, SIP_603_DECLINE, TAG_END());
		x->final_seen = true;
		x->state = XS_DONE;
		return;
	}
	char err[256];
	if (msrp_in_prepare(x, err, sizeof err) < 0) {
		errlog(app, "%s", err);
		nua_respond(x->nh, SIP_500_INTERNAL_SERVER_ERROR, TAG_END());
		x->final_seen = true;
		out_line(app, "failed: %s %s", x->safe, err);
		x->state = XS_DONE;
		return;
	}
	char *sdp = malloc(SDP_MAX_BYTES);
	int n = sdp ? answer_build(app->o, x, sdp, SDP_MAX_BYTES) : -1;
	if (n < 0) {
		free(sdp);
		nua_respond(x->nh, SIP_500_INTERNAL_SERVER_ERROR, TAG_END());
		x->final_seen = true;
		msrp_in_abort(x, "cannot build the SDP answer");
		return;
	}
	vlog(app, "[%u] SIP: 200 OK (file %s, %llu bytes)", x->id, x->safe, (unsigned long long)x->sel.size);
	nua_respond(x->nh, SIP_200_OK, SIPTAG_CONTACT_STR(app->contact),
		    SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp), TAG_END());
	free(sdp);
	x->dialog_up = true;
	x->final_seen = true;
	x->answer_at = -1; /* answered; MSRP starts on ACK */
	x->last_progress = now_mono();
}

static void on_ack(struct xfer *x)
{
	if (x->dir != XFER_IN || x->state != XS_RINGING || x->answer_at != -1)
		return;
	char err[256];
	if (msrp_in_start(x, err, sizeof err) < 0)
		msrp_in_abort(x, err);
}

static void on_incoming_invite(struct cpm_app *app, nua_handle_t *nh, const sip_t *sip)
{
	if (app->o->cmd != CMD_RECEIVE || app->shutting_down) {
		nua_respond(nh, SIP_480_TEMPORARILY_UNAVAILABLE, TAG_END());
		return;
	}
	if (app->nxfers >= CPM_MAX_TRANSFERS) {
		errlog(app, "refusing INVITE: %u transfers already (486)", app->nxfers);
		nua_respond(nh, SIP_486_BUSY_HERE, TAG_END());
		return;
	}
	char ct[512], err[256];
	ctype_string(sip->sip_content_type, ct, sizeof ct);
	struct sdp_ft *offer = calloc(1, sizeof *offer);
	struct xfer *x = offer ? xfer_new(app, XFER_IN) : NULL;
	if (!x) {
		free(offer);
		nua_respond(nh, SIP_500_INTERNAL_SERVER_ERROR, TAG_END());
		return;
	}
	x->nh = nh;
	nua_handle_bind(nh, x);
	x->state = XS_RINGING;
	const char *from = sip->sip_from && sip->sip_from->a_url->url_user ? sip->sip_from->a_url->url_user : "?";
	const sip_payload_t *pl = sip->sip_payload;
	int rc = offer_parse_body(ct, pl ? pl->pl_data : NULL, pl ? pl->pl_len : 0, offer, x, err, sizeof err);
	if (rc == 0) {
		if (!offer->has_selector || !offer->sel.has_name || !offer->sel.has_size || !offer->sel.has_type) {
			rc = 488;
			snprintf(err, sizeof err, "a=file-selector without name, size and type");
		} else if (offer->dir != SDP_DIR_SENDONLY && offer->dir != SDP_DIR_SENDRECV) {
			rc = 488;
			snprintf(err, sizeof err, "not a push (a=sendonly) offer");
		} else if (offer->setup == SDP_SETUP_ACTIVE || offer->port == 0) {
			rc = 488;
			snprintf(err, sizeof err, "offerer wants to connect to us; we only connect");
		} else {
			struct msrp_uri u;
			struct cpm_str first = msrp_path_first(cpm_str_c(offer->path));
			if (!offer->path[0] || msrp_uri_parse(first, &u) < 0 || u.port == 0 ||
			    !cpm_str_copy(x->remote_host, sizeof x->remote_host, u.host)) {
				rc = 488;
				snprintf(err, sizeof err, "unusable a=path");
			} else {
				x->remote_port = u.port;
				if (offer->cema && offer->conn_addr[0] && offer->port != 9) {
					snprintf(x->remote_host, sizeof x->remote_host, "%s", offer->conn_addr);
					x->remote_port = offer->port;
				}
				snprintf(x->remote_path, sizeof x->remote_path, "%s", offer->path);
			}
		}
	}
	if (rc != 0) {
		errlog(app, "refusing INVITE from %s: %s (%d)", from, err, rc);
		if (rc == 415)
			nua_respond(nh, SIP_415_UNSUPPORTED_MEDIA, SIPTAG_ACCEPT_STR("application/sdp, multipart/mixed"),
				    TAG_END());
		else
			nua_respond(nh, SIP_488_NOT_ACCEPTABLE, TAG_END());
		x->final_seen = true;
		x->state = XS_DONE;
		free(offer);
		return;
	}
	x->sel = offer->sel;
	safe_name(x->safe, sizeof x->safe, x->sel.name, x->sel.name_len);
	snprintf(x->display, sizeof x->display, "%.60s", x->safe);
	snprintf(x->ftid, sizeof x->ftid, "%s", offer->file_transfer_id);
	free(offer);
	char safe_preview[64];
	snprintf(safe_preview, sizeof safe_preview, "%.*s", (int)(x->sel.name_len < 60 ? x->sel.name_len : 60),
		 x->sel.name);
	vlog(app, "[%u] SIP: INVITE from %s: file \"%s\" %llu bytes %s%s", x->id, from, safe_preview,
	     (unsigned long long)x->sel.size, x->sel.type, x->thumb ? " (with thumbnail)" : "");

	double delay = app->o->answer_delay;
	if (app->o->answer == ANSWER_IGNORE || delay > 0) {
		nua_respond(nh, SIP_180_RINGING, TAG_END());
		x->answer_at = app->o->answer == ANSWER_IGNORE ? 0 : now_mono() + delay;
		return;
	}
	answer_now(x);
}

/* A re-INVITE in one of our dialogs (a session refresh, most likely): with
 * media disabled nua leaves the answer to us. Same SDP as before, so that
 * the file-transfer-id is unchanged (RFC 5547 §8.1: not a new transfer). */
static void on_reinvite(struct xfer *x)
{
	struct cpm_app *app = x->app;
	char *sdp = NULL;
	char ct[64];
	int n = -1;
	if (x->dir == XFER_IN) {
		sdp = malloc(SDP_MAX_BYTES);
		n = sdp ? answer_build(app->o, x, sdp, SDP_MAX_BYTES) : -1;
	} else if (offer_build(app->o, x, (long)time(NULL), NULL, 0, NULL, &sdp, ct, sizeof ct) == 0) {
		n = 0;
	}
	vlog(app, "[%u] SIP: re-INVITE, answering with the same SDP", x->id);
	if (n < 0)
		nua_respond(x->nh, SIP_488_NOT_ACCEPTABLE, TAG_END());
	else
		nua_respond(x->nh, SIP_200_OK, SIPTAG_CONTACT_STR(app->contact),
			    SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp), TAG_END());
	free(sdp);
}

/* ------------------------------------------------------------ callback */

static void on_state(struct cpm_app *app, struct xfer *x, nua_handle_t *nh, tagi_t tags[])
{
	int cs = nua_callstate_init;
	tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
	if (!x) {
		/* an INVITE we refused without creating a transfer */
		if (cs == nua_callstate_terminated && nh != app->reg_nh)
			nua_handle_destroy(nh);
		return;
	}
	if (cs == nua_callstate_ready)
		on_ack(x);
	if (cs != nua_callstate_terminated)
		return;
	vlog(app, "[%u] SIP: dialog terminated", x->id);
	x->dialog_up = false;
	x->final_seen = true; /* nothing more may be sent on this handle */
	if (x->state != XS_DONE) {
		if (x->dir == XFER_IN) {
			if (x->answer_at == -1)
				msrp_in_abort(x, "session ended by peer");
			else
				xfer_done(x, CPM_EXIT_FAILED, NULL); /* cancelled before we answered */
		} else {
			xfer_done(x, CPM_EXIT_FAILED, "failed: session ended by peer");
		}
	}
	nua_handle_bind(nh, NULL);
	nua_handle_destroy(nh);
	x->nh = NULL;
	if (x->conn) {
		mconn_close(x->conn);
		x->conn = NULL;
	}
	xfer_reap(x);
	shutdown_step(app);
}

static void agent_cb(nua_event_t event, int status, char const *phrase, nua_t *nua, nua_magic_t *magic,
		     nua_handle_t *nh, nua_hmagic_t *hmagic, sip_t const *sip, tagi_t tags[])
{
	struct cpm_app *app = magic;
	struct xfer *x = hmagic;
	(void)nua;

	switch (event) {
	case nua_r_register:
		if (status < 200)
			break;
		if (status < 300) {
			if (!app->registered)
				errlog(app, "registered %s (%s) via %s", app->o->aor, app->instance, app->o->server);
			app->registered = true;
		} else if (!app->shutting_down) {
			out_line(app, "failed: REGISTER %d %s", status, phrase);
			agent_finish(app, CPM_EXIT_FAILED);
		}
		break;
	case nua_r_unregister:
		if (status < 200)
			break;
		vlog(app, "SIP: unregistered (%d %s)", status, phrase);
		app->registered = false;
		app->unregistering = false;
		shutdown_step(app);
		break;
	case nua_i_invite:
		if (!x)
			on_incoming_invite(app, nh, sip);
		else
			on_reinvite(x);
		break;
	case nua_r_invite:
		if (x)
			on_invite_answer(x, status, phrase, sip);
		break;
	case nua_i_ack:
		if (x)
			on_ack(x);
		break;
	case nua_i_cancel:
		if (x)
			errlog(app, "incoming transfer of %s cancelled by the caller (CANCEL)", x->safe);
		break;
	case nua_i_bye:
		if (!x)
			break;
		vlog(app, "[%u] SIP: BYE received", x->id);
		x->dialog_up = false;
		x->final_seen = true;
		if (x->state != XS_DONE) {
			if (x->dir == XFER_IN)
				msrp_in_abort(x, "session ended by peer");
			else
				xfer_done(x, CPM_EXIT_FAILED, "failed: session ended by peer");
		}
		break;
	case nua_r_bye:
		if (x && status >= 200)
			vlog(app, "[%u] SIP: BYE answered %d %s", x->id, status, phrase);
		break;
	case nua_i_state:
		on_state(app, x, nh, tags);
		break;
	case nua_r_shutdown:
		if (status >= 200) {
			nua_down = true;
			sd_stage = SD_BROKEN;
			su_root_break(app->root);
		}
		break;
	case nua_i_options:
	case nua_i_message:
	case nua_i_info:
	case nua_i_notify:
	case nua_i_subscribe:
	case nua_i_refer:
		/* nua answered these for us; the handle is ours to drop */
		if (!x && nh != app->reg_nh)
			nua_handle_destroy(nh);
		break;
	case nua_i_error:
		vlog(app, "SIP: error %d %s", status, phrase);
		break;
	default:
		if (app->o->verbose && status)
			vlog(app, "SIP: %s %d %s", nua_event_name(event), status, phrase);
		break;
	}
}

/* ------------------------------------------------------------ shutdown */

void agent_finish(struct cpm_app *app, int exit_code)
{
	if (app->shutting_down)
		return;
	app->shutting_down = true;
	app->exit_code = exit_code;
	sd_stage = SD_GRACE;
	app->shutdown_deadline = now_mono() + GRACE_SECONDS;
	shutdown_step(app);
}

static bool waiting_for_peer_bye(const struct cpm_app *app)
{
	for (const struct xfer *x = app->xfers; x; x = x->next)
		if (x->nh && x->dir == XFER_IN && x->success && x->dialog_up)
			return true;
	return false;
}

static bool any_handle(const struct cpm_app *app)
{
	for (const struct xfer *x = app->xfers; x; x = x->next)
		if (x->nh)
			return true;
	return false;
}

static void shutdown_step(struct cpm_app *app)
{
	double t = now_mono();
	if (sd_stage == SD_GRACE) {
		if (waiting_for_peer_bye(app) && t < app->shutdown_deadline)
			return;
		sd_stage = SD_TEARDOWN;
		app->shutdown_deadline = t + TEARDOWN_SECONDS;
		for (struct xfer *x = app->xfers, *next; x; x = next) {
			next = x->next;
			if (x->state != XS_DONE) {
				if (x->dir == XFER_IN && x->state != XS_RINGING)
					msrp_in_abort(x, "interrupted");
				else
					xfer_done(x, CPM_EXIT_FAILED, NULL);
			}
			if (x->conn) {
				mconn_close(x->conn);
				x->conn = NULL;
			}
			xfer_sip_end(x);
		}
		if (app->reg_nh && app->registered) {
			vlog(app, "SIP: REGISTER Expires 0");
			app->unregistering = true;
			nua_unregister(app->reg_nh, TAG_END());
		}
	}
	if (sd_stage == SD_TEARDOWN) {
		if ((any_handle(app) || app->unregistering) && t < app->shutdown_deadline)
			return;
		sd_stage = SD_NUA;
		app->shutdown_deadline = t + NUA_SHUTDOWN_SECONDS;
		vlog(app, "SIP: shutting down the stack");
		nua_shutdown(app->nua);
		return;
	}
	if (sd_stage == SD_NUA && t >= app->shutdown_deadline) {
		sd_stage = SD_BROKEN;
		su_root_break(app->root);
	}
}

/* ------------------------------------------------------------ tick, signals */

/* nua's UDP socket keeps the kernel default receive buffer (~208 KiB): a
 * blast with hundreds of transfers in flight overflows it and every lost
 * message costs a 500 ms retransmission. nua has no tag for it and does not
 * expose the socket, so find our UDP sockets (the only ones this process
 * has) and raise it; SO_RCVBUFFORCE when allowed, else up to rmem_max. */
static void raise_udp_rcvbuf(void)
{
	int want = 4 * 1024 * 1024;
	for (int fd = 3; fd < 256; fd++) {
		int type = 0;
		socklen_t l = sizeof type;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0 || type != SOCK_DGRAM)
			continue;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
	}
}



static void on_tick(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg)
{
	(void)magic;
	(void)t;
	struct cpm_app *app = arg;
	double now = now_mono();
	static bool rcvbuf_done;
	if (!rcvbuf_done && !app->o->tcp) {
		raise_udp_rcvbuf(); /* nua binds its sockets once the loop runs */
		rcvbuf_done = true;
	}
	for (struct xfer *x = app->xfers, *next; x; x = next) {
		next = x->next;
		if (x->state == XS_RINGING && x->dir == XFER_IN && x->answer_at > 0 && now >= x->answer_at &&
		    !app->shutting_down) {
			answer_now(x);
		} else if (x->state == XS_INVITING && x->invite_deadline > 0 && now >= x->invite_deadline) {
			errlog(app, "no final answer to the INVITE within %u s", app->o->invite_timeout);
			xfer_done(x, CPM_EXIT_FAILED, "failed: timeout");
		} else if ((x->state == XS_CONNECTING || x->state == XS_ACTIVE ||
			    (x->state == XS_RINGING && x->answer_at == -1)) &&
			   now - x->last_progress > CPM_PROGRESS_TIMEOUT) {
			if (x->dir == XFER_IN)
				msrp_in_abort(x, "timeout");
			else
				xfer_done(x, CPM_EXIT_FAILED, "failed: timeout");
		}
		xfer_reap(x);
	}
	if (app->deadline > 0 && now >= app->deadline && !app->shutting_down) {
		out_line(app, "failed: timeout");
		agent_finish(app, CPM_EXIT_FAILED);
	}
	if (app->shutting_down)
		shutdown_step(app);
}

static int on_signal(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg)
{
	(void)magic;
	(void)w;
	struct cpm_app *app = arg;
	struct signalfd_siginfo si;
	if (read(app->sig_fd, &si, sizeof si) != (ssize_t)sizeof si)
		return 0;
	if (app->shutting_down) {
		/* second signal: stop waiting */
		sd_stage = SD_BROKEN;
		su_root_break(app->root);
		return 0;
	}
	errlog(app, "signal %u: stopping", si.ssi_signo);
	int code = CPM_EXIT_OK;
	if (app->o->cmd == CMD_SEND) {
		out_line(app, "failed: interrupted");
		code = CPM_EXIT_FAILED;
	} else if (app->o->cmd == CMD_BLAST) {
		blast_summary(app);
		code = CPM_EXIT_FAILED;
	} else if (app->o->count && app->received < app->o->count) {
		out_line(app, "failed: interrupted after %u of %u files", app->received, app->o->count);
		code = CPM_EXIT_FAILED;
	}
	agent_finish(app, code);
	return 0;
}

static int setup_signals(struct cpm_app *app)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	app->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (app->sig_fd < 0)
		return -1;
	su_wait_t w;
	if (su_wait_create(&w, app->sig_fd, SU_WAIT_IN) < 0)
		return -1;
	app->sig_index = su_root_register(app->root, &w, on_signal, app, 0);
	return app->sig_index > 0 ? 0 : -1;
}

/* ------------------------------------------------------------ run */

/* A port free on ip for UDP and TCP (udp mode) or TCP (tcp mode). */
static int free_port(const char *ip, bool tcp_only)
{
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	hints.ai_socktype = tcp_only ? SOCK_STREAM : SOCK_DGRAM;
	if (getaddrinfo(ip, "0", &hints, &res) != 0 || !res)
		return -1;
	int port = -1;
	int a = socket(res->ai_family, hints.ai_socktype | SOCK_CLOEXEC, 0);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (a >= 0 && bind(a, res->ai_addr, res->ai_addrlen) == 0 &&
	    getsockname(a, (struct sockaddr *)&ss, &sl) == 0) {
		port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						      : ((struct sockaddr_in *)&ss)->sin_port);
		if (!tcp_only) {
			/* the same port must be free for TCP too */
			int b = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (b < 0 || bind(b, (struct sockaddr *)&ss, sl) != 0)
				port = -1;
			if (b >= 0)
				close(b);
		}
	}
	if (a >= 0)
		close(a);
	freeaddrinfo(res);
	return port;
}

int agent_run(struct cpm_app *app)
{
	struct cpm_opts *o = app->o;
	char bind_url[160], proxy[320], hostpart[80];
	bool v6 = strchr(o->local_ip, ':') != NULL;
	bool sv6 = strchr(o->server_host, ':') != NULL;
	const char *tp = o->tcp ? "tcp" : "udp";

	snprintf(proxy, sizeof proxy, "sip:%s%s%s:%u;transport=%s", sv6 ? "[" : "", o->server_host, sv6 ? "]" : "",
		 (unsigned)o->server_port, tp);
	snprintf(app->proxy_tcp, sizeof app->proxy_tcp, "sip:%s%s%s:%u;transport=tcp", sv6 ? "[" : "",
		 o->server_host, sv6 ? "]" : "", (unsigned)o->server_port);
	char name[CPM_URI_MAX + 300], uuid[37];
	snprintf(name, sizeof name, "cpm:%s/%s", o->aor, o->device ? o->device : "");
	uuid_v5(uuid, name);
	snprintf(app->instance, sizeof app->instance, "urn:uuid:%s", uuid);
	snprintf(app->features, sizeof app->features, "+sip.instance=\"<%s>\";+g.3gpp.icsi-ref=\"%s\"", app->instance,
		 CPM_ICSI_FT_ENC);
	char from[CPM_URI_MAX + 2];
	snprintf(from, sizeof from, "<%s>", o->aor);

	su_init();
	if (!o->verbose)
		su_log_set_level(NULL, 0); /* the stack's own chatter (tport errors) only with --verbose */
	app->root = su_root_create(app);
	if (!app->root) {
		out_line(app, "failed: su_root_create");
		return CPM_EXIT_FAILED;
	}
	su_root_threading(app->root, 0);
	if (setup_signals(app) < 0) {
		out_line(app, "failed: cannot set up signal handling");
		return CPM_EXIT_FAILED;
	}
	/* We choose the port ourselves (a free one, retried if it is taken
	 * meanwhile) so that we can write our own Contact: nua's Contact for
	 * INVITE and for our 200 is its "dialog contact", which never carries
	 * NUTAG_M_FEATURES, and CPM needs the feature tags there. --transport
	 * udp binds UDP and TCP on that port (no transport parameter): a request
	 * over 1300 bytes (INVITE with a thumbnail) goes over TCP (RFC 3261
	 * §18.1.1), and a server may do the same towards us. */
	snprintf(hostpart, sizeof hostpart, "%s%s%s", v6 ? "[" : "", o->local_ip, v6 ? "]" : "");
	for (int attempt = 0; attempt < 8 && !app->nua; attempt++) {
		int port = free_port(o->local_ip, o->tcp);
		if (port <= 0)
			continue;
		snprintf(bind_url, sizeof bind_url, "sip:%s:%d%s", hostpart, port, o->tcp ? ";transport=tcp" : "");
		snprintf(app->contact, sizeof app->contact, "<sip:%s:%d%s>;%s", hostpart, port,
			 o->tcp ? ";transport=tcp" : "", app->features);
		app->nua = nua_create(app->root, agent_cb, app, NUTAG_URL(bind_url), NUTAG_PROXY(proxy),
			      NUTAG_MEDIA_ENABLE(0), NUTAG_M_FEATURES(app->features),
			      TAG_IF(o->tcp, NUTAG_M_PARAMS("transport=tcp")),
			      NUTAG_OUTBOUND("no-outbound no-validate no-natify no-options-keepalive"),
			      NUTAG_SESSION_TIMER(0), NUTAG_AUTOALERT(0), NUTAG_AUTOANSWER(0),
			      /* tport queues at most 64 messages per connection by
			       * default and fails the rest with a made-up 503: a blast
			       * over TCP has that many INVITEs in flight at once */
			      TPTAG_QUEUESIZE(o->parallel * 4 + 64),
			      /* nta moves any request over 1300 bytes to TCP when it
			       * can (RFC 3261 §18.1.1); with the feature tags in
			       * Contact every INVITE of ours is ~1.4 KB. Keep plain
			       * INVITEs on UDP when --transport udp was asked for;
			       * thumbnails go over TCP (xfer_out_start) */
			      NTATAG_UDP_MTU(4096),
			      SIPTAG_FROM_STR(from), SIPTAG_USER_AGENT_STR("cpm/0.1"), TAG_END());
	}
	if (!app->nua) {
		out_line(app, "failed: cannot start the SIP stack on %s", bind_url);
		return CPM_EXIT_FAILED;
	}
	vlog(app, "SIP: bound %s, outbound proxy %s, instance %s", bind_url, proxy, app->instance);

	app->tick = su_timer_create(su_root_task(app->root), TICK_MS);
	su_timer_set_for_ever(app->tick, on_tick, app);

	int rc = 0;
	if (o->cmd == CMD_RECEIVE) {
		app->reg_nh = nua_handle(app->nua, NULL, SIPTAG_TO_STR(from), SIPTAG_FROM_STR(from), TAG_END());
		nua_register(app->reg_nh, SIPTAG_EXPIRES_STR("600"), TAG_END());
		if (o->timeout)
			app->deadline = now_mono() + o->timeout;
	} else if (o->cmd == CMD_SEND) {
		rc = send_start(app);
	} else if (o->cmd == CMD_BLAST) {
		rc = blast_start(app);
	}
	if (rc < 0)
		agent_finish(app, CPM_EXIT_FAILED);

	su_root_run(app->root);

	progress_clear(app);
	su_timer_destroy(app->tick);
	if (app->sig_index > 0)
		su_root_deregister(app->root, app->sig_index);
	if (nua_down) {
		if (app->reg_nh)
			nua_handle_destroy(app->reg_nh);
		nua_destroy(app->nua);
		su_root_destroy(app->root);
		su_deinit();
	}
	/* else: the stack did not shut down in time; the process exit cleans up */
	free(app->blast_buf);
	return app->exit_code;
}
