/* Outgoing transfers: `send` (one file) and `blast` (many in-memory files,
 * at most --parallel at once), the INVITE with our offer and the CPM
 * headers, and what its final answer means for the result line. */
#include "cpm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tag.h>

#include "mconn.h"

/* base > 0: a resume, the offer says a=file-range:base+1-SIZE. ftid NULL:
 * a fresh random a=file-transfer-id. */
/* dash_free: fd's file holds no run of seven '-' (hash_cache_sha1). */
static int xfer_out_start(struct cpm_app *app, const struct sdp_file_selector *sel, int fd, bool dash_free,
			  const uint8_t *mem, long mtime, const uint8_t *thumb, size_t thumb_len,
			  const char *thumb_type, uint64_t base, const char *ftid)
{
	const struct cpm_opts *o = app->o;
	struct xfer *x = xfer_new(app, XFER_OUT);
	if (!x)
		return -1;
	x->sel = *sel;
	x->src_fd = fd;
	struct stat st;
	x->src_regular = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	x->src_dash_free = x->src_regular && dash_free;
	x->src_mem = mem;
	x->base = base;
	x->offered_range = base > 0;
	if (ftid)
		snprintf(x->ftid, sizeof x->ftid, "%s", ftid);
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
	int rc = xfer_invite(x, CPM_ICSI_FT, "*;" CPM_FT_ICSI_TAG, body, ctype);
	free(body);
	if (rc < 0) {
		x->src_fd = -1; /* the caller still owns fd on failure */
		xfer_reap(x);
	}
	return rc;
}

int xfer_invite(struct xfer *x, const char *service, const char *accept_contact, const char *body,
		const char *ctype)
{
	struct cpm_app *app = x->app;
	const struct cpm_opts *o = app->o;
	char contrib[37], hdrs[1024];
	cpm_request_headers(o, service, o->cmd == CMD_SEND || o->cmd == CMD_MESSAGE, contrib, hdrs, sizeof hdrs);

	char to[CPM_URI_MAX + 2];
	snprintf(to, sizeof to, "<%s>", o->target_uri);
	x->nh = nua_handle(app->nua, x, SIPTAG_TO_STR(to), TAG_END());
	if (!x->nh) {
		errlog(app, "nua_handle failed");
		x->state = XS_DONE;
		return -1;
	}
	x->state = XS_INVITING;
	x->invite_deadline = o->invite_timeout ? now_mono() + o->invite_timeout : 0;
	vlog(app, "[%u] SIP: INVITE %s (%s, %llu bytes, Contribution-ID %s)", x->id, o->target_uri,
	     x->display, (unsigned long long)x->sel.size, contrib);
	/* RFC 3261 §18.1.1: a request over 1300 bytes goes over TCP. Our plain
	 * INVITE is ~1.3 KB and stays on UDP like every UDP client's; one with
	 * a thumbnail (or a very long name, or a message's CPIM part) is far bigger: TCP */
	bool big = !o->tcp && strlen(body) > 1500;
	if (big)
		vlog(app, "[%u] SIP: big INVITE (%zu bytes of body): sending it over TCP", x->id, strlen(body));
	nua_invite(x->nh, SIPTAG_CONTACT_STR(app->contact), TAG_IF(big, NUTAG_PROXY(app->proxy_tcp)),
		   SIPTAG_HEADER_STR(hdrs), SIPTAG_ACCEPT_CONTACT_STR(accept_contact),
		   SIPTAG_CONTENT_TYPE_STR(ctype), SIPTAG_PAYLOAD_STR(body), TAG_END());
	return 0;
}

void sip_ctype_string(const sip_content_type_t *c, char *out, size_t cap)
{
	struct cpm_wbuf w = cpm_wbuf_text(out, cap);
	if (!c || !c->c_type)
		return;
	cpm_wbuf_puts(&w, c->c_type);
	for (size_t i = 0; c->c_params && c->c_params[i]; i++) {
		cpm_wbuf_putc(&w, ';');
		cpm_wbuf_puts(&w, c->c_params[i]);
	}
	if (cpm_wbuf_finish(&w) < 0)
		out[0] = '\0';
}

/* Did our own stack make this response up (transport error, timeout)?
 * nta fakes those with a To tag, so the tell is our Via: we send ";rport"
 * and a server fills it with our port (RFC 3581); nta's own copy leaves it
 * empty. Only 408 and 503 are made up this way. */
bool local_response(int status, const sip_t *sip)
{
	if (!sip || status >= 700)
		return true;
	if (status != 408 && status != 503)
		return false;
	const sip_via_t *v = sip->sip_via;
	return !v || !v->v_rport || !v->v_rport[0];
}

void local_failure_line(const struct cpm_app *app, int status, const char *phrase, const sip_t *sip, char *out,
			size_t cap)
{
	local_failure_line_to(app, app->o->hop, status, phrase, sip, out, cap);
}

void local_failure_line_to(const struct cpm_app *app, const char *hop, int status, const char *phrase,
			   const sip_t *sip, char *out, size_t cap)
{
	if (status != 408 && status != 503) {
		snprintf(out, cap, "failed: SIP %d %s", status, phrase);
		return;
	}
	/* 503: the transport failed (UDP: ICMP port unreachable; TCP: refused
	 * or reset); 408: nothing came back. The transport is the one our Via
	 * says the request went over (a big INVITE goes over TCP). */
	if (app->o->tls) {
		/* a TLS handshake that failed ends as 503 or, as sofia drops the connection
		 * silently, as 408: most often our --ca does not trust the server's certificate,
		 * or the server wants a client certificate we lack or it does not trust (cpmd
		 * --tls-verify-clients): with TLS 1.3 we only learn that after our request went */
		if (app->o->cert)
			snprintf(out, cap,
				 "failed: no answer over TLS from the server at %s (is its certificate trusted by --ca %s? "
				 "does it trust our client certificate --cert %s?)",
				 hop, app->o->ca, app->o->cert);
		else
			snprintf(out, cap,
				 "failed: no answer over TLS from the server at %s (is its certificate trusted by --ca %s? "
				 "does it want a client certificate, --cert/--key?)",
				 hop, app->o->ca);
		return;
	}
	const char *tp = app->o->tls ? "tls" : app->o->tcp ? "tcp" : "udp";
	const sip_via_t *v = sip ? sip->sip_via : NULL;
	const char *slash = v && v->v_protocol ? strrchr(v->v_protocol, '/') : NULL;
	if (slash && strcasecmp(slash + 1, "tcp") == 0)
		tp = "tcp";
	else if (slash && strcasecmp(slash + 1, "udp") == 0)
		tp = "udp";
	snprintf(out, cap, "failed: no answer from the server at %s (%s)", hop, tp);
}

enum xfer_answer xfer_answer_classify(struct xfer *x, int status, const char *phrase)
{
	struct cpm_app *app = x->app;
	if (status < 200) {
		vlog(app, "[%u] SIP: %d %s", x->id, status, phrase);
		return XA_HANDLED;
	}
	x->final_seen = true;
	if (status < 300) {
		x->dialog_up = true;
		if (x->state != XS_INVITING) {
			/* a late 2xx after we gave up (CANCEL crossed it): nua ACKs
			 * it, we end it */
			vlog(app, "[%u] SIP: late %d, BYE", x->id, status);
			nua_bye(x->nh, TAG_END());
			return XA_HANDLED;
		}
		vlog(app, "[%u] SIP: %d %s", x->id, status, phrase);
		return XA_ANSWERED;
	}
	if (x->state == XS_DONE)
		return XA_HANDLED;
	vlog(app, "[%u] SIP: %d %s", x->id, status, phrase);
	return XA_FAILED;
}

void out_invite_answer(struct xfer *x, int status, const char *phrase, const sip_t *sip)
{
	struct cpm_app *app = x->app;
	char line[600];
	enum xfer_answer a = xfer_answer_classify(x, status, phrase);
	if (a == XA_HANDLED)
		return;
	if (a == XA_ANSWERED) {
		char ct[512], err[256];
		sip_ctype_string(sip ? sip->sip_content_type : NULL, ct, sizeof ct);
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
	if (status == 488 && x->offered_range && app->o->cmd == CMD_SEND && !app->shutting_down) {
		/* store-and-forward §5: no partial upload to continue; this
		 * attempt ends quietly and the whole file goes instead */
		errlog(app, "the server has no partial upload to continue (%d %s); sending the whole file", status,
		       phrase);
		x->state = XS_DONE;
		xfer_reap(x);
		if (send_invite(app, 0) < 0) {
			out_line(app, "failed: cannot start the transfer");
			agent_finish(app, CPM_EXIT_FAILED);
		}
		return;
	}
	if (status == 603 && !x->is_msg) {
		xfer_done(x, CPM_EXIT_DECLINED, "declined");
	} else if (local_response(status, sip)) {
		vlog(app, "[%u] SIP: %d %s made up by our own stack", x->id, status, phrase);
		local_failure_line(app, status, phrase, sip, line, sizeof line);
		xfer_done(x, CPM_EXIT_FAILED, line);
	} else {
		snprintf(line, sizeof line, "rejected: %d %s", status, phrase);
		xfer_done(x, CPM_EXIT_REJECTED, line);
	}
}

/* The INVITE of `send`: the whole file (base 0) or its rest from base. The
 * a=file-transfer-id is the first attempt's (the IMDN id) unless this is a
 * resume, which needs a new one (store-and-forward §5). */
int send_invite(struct cpm_app *app, uint64_t base)
{
	int fd = dup(app->send_fd);
	if (fd < 0)
		return -1;
	int rc = xfer_out_start(app, &app->send_sel, fd, app->send_dash_free, NULL, app->send_mtime, app->send_thumb,
				app->send_thumb_len, app->send_thumb_type, base, base ? NULL : app->imdn_id);
	if (rc < 0) {
		close(fd);
		return -1;
	}
	if (app->journal_path[0] && base != app->journal_acked)
		journal_save(app, base);
	return 0;
}

int send_file_open(const struct cpm_opts *o, const char *path, int *fdp, struct sdp_file_selector *sel,
		   struct stat *st, bool *cached, bool *dash_free, char *err, size_t errcap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	*fdp = -1;
	if (fd < 0 || fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		snprintf(err, errcap, "cannot open %s: %s", path, fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	memset(sel, 0, sizeof *sel);
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t bl = strlen(base);
	if (bl == 0 || bl > SDP_MAX_FILENAME) {
		snprintf(err, errcap, "bad file name");
		close(fd);
		return -1;
	}
	memcpy(sel->name, base, bl);
	sel->name_len = bl;
	sel->has_name = true;
	snprintf(sel->type, sizeof sel->type, "%s", mime_guess(base));
	sel->has_type = true;
	uint64_t size = 0;
	bool from_cache = false, no_dashes = false;
	if (hash_cache_sha1(o, path, fd, st, sel->hash, &size, &from_cache, &no_dashes) < 0) {
		snprintf(err, errcap, "cannot read %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	sel->size = size;
	sel->has_size = true;
	snprintf(sel->hash_alg, sizeof sel->hash_alg, "sha-1");
	sel->hash_len = 20;
	sel->has_hash = true;
	*fdp = fd;
	if (cached)
		*cached = from_cache;
	if (dash_free)
		*dash_free = no_dashes;
	return 0;
}

int send_file_xfer(struct cpm_app *app, const struct sdp_file_selector *sel, int fd, long mtime, bool dash_free)
{
	if (xfer_out_start(app, sel, fd, dash_free, NULL, mtime, NULL, 0, NULL, 0, NULL) < 0) {
		close(fd);
		return -1;
	}
	return 0;
}

int send_start(struct cpm_app *app)
{
	const struct cpm_opts *o = app->o;
	struct stat st;
	struct sdp_file_selector sel;
	char err[600];
	int fd;
	bool cached = false, dash_free = false;
	if (send_file_open(o, o->file, &fd, &sel, &st, &cached, &dash_free, err, sizeof err) < 0) {
		out_line(app, "failed: %s", err);
		return -1;
	}
	vlog(app, "sha-1 of %s: %s; %s", o->file, cached ? "from the hash cache (file unchanged)" : "read and hashed",
	     dash_free ? "no run of seven '-' in it: chunks go out unread" : "chunks are checked for their end-line");
	uint64_t size = sel.size;

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
		uint8_t *thumb = malloc((size_t)ts.st_size);
		ssize_t r = thumb ? read(tfd, thumb, (size_t)ts.st_size) : -1;
		close(tfd);
		if (r != ts.st_size) {
			out_line(app, "failed: cannot read thumbnail %s", o->thumbnail);
			free(thumb);
			close(fd);
			return -1;
		}
		app->send_thumb = thumb; /* freed by agent_run */
		app->send_thumb_len = (size_t)r;
		app->send_thumb_type = mime_guess(o->thumbnail);
		if (strncmp(app->send_thumb_type, "image/", 6) != 0)
			app->send_thumb_type = "image/jpeg";
	}
	app->send_sel = sel;
	app->send_mtime = (long)st.st_mtime;
	app->send_fd = fd; /* closed by agent_run */
	app->send_dash_free = dash_free;

	uint64_t from = 0;
	if (!o->no_resume) {
		char abs[4096];
		journal_init(app, realpath(o->file, abs) ? abs : o->file,
			     (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
		if (app->journal_acked > 0 && app->journal_acked < size) {
			from = app->journal_acked;
			errlog(app, "resuming the interrupted send of %s at byte %llu of %llu", o->file,
			       (unsigned long long)from, (unsigned long long)size);
		}
	}
	if (!app->imdn_id[0])
		cpm_random_alnum(app->imdn_id, 24);
	errlog(app, "file-transfer-id %s", app->imdn_id);
	if (app->journal_path[0])
		journal_save(app, from);
	if (send_invite(app, from) < 0) {
		out_line(app, "failed: cannot start the transfer");
		return -1;
	}
	return 0;
}

void blast_summary(struct cpm_app *app)
{
	double secs = now_mono() - app->blast_t0;
	out_line(app, "blast %u ok %u failed %.3f seconds %.1f transfers/s", app->blast_ok, app->blast_failed,
		 secs, secs > 0 ? app->blast_ok / secs : 0.0);
}

void blast_next(struct cpm_app *app)
{
	const struct cpm_opts *o = app->o;
	while (!app->shutting_down && app->blast_started < o->count &&
	       app->blast_started - app->blast_ok - app->blast_failed < o->parallel) {
		struct sdp_file_selector sel = app->blast_sel;
		int n = snprintf(sel.name, sizeof sel.name, "blast-%s-%u.bin", app->blast_run, app->blast_started + 1);
		sel.name_len = (size_t)n;
		app->blast_started++;
		if (xfer_out_start(app, &sel, -1, false, app->blast_buf, (long)time(NULL), NULL, 0, NULL, 0, NULL) < 0)
			app->blast_failed++;
	}
	if (!app->shutting_down && app->blast_ok + app->blast_failed >= o->count) {
		blast_summary(app);
		agent_finish(app, app->blast_failed ? CPM_EXIT_FAILED : CPM_EXIT_OK);
	}
}

int blast_start(struct cpm_app *app)
{
	const struct cpm_opts *o = app->o;
	app->blast_buf = malloc(o->blast_size ? (size_t)o->blast_size : 1);
	if (!app->blast_buf) {
		out_line(app, "failed: cannot allocate %llu bytes", (unsigned long long)o->blast_size);
		return -1;
	}
	/* random content: compressible or all-zero data would flatter the relay */
	cpm_random_bytes(app->blast_buf, o->blast_size);
	struct sdp_file_selector *sel = &app->blast_sel;
	memset(sel, 0, sizeof *sel);
	sel->has_name = sel->has_size = sel->has_type = sel->has_hash = true;
	sel->size = o->blast_size;
	snprintf(sel->type, sizeof sel->type, "application/octet-stream");
	snprintf(sel->hash_alg, sizeof sel->hash_alg, "sha-1");
	unsigned l = 0;
	EVP_Digest(app->blast_buf, o->blast_size, sel->hash, &l, EVP_sha1(), NULL);
	sel->hash_len = 20;
	/* a run id in the names: repeated blasts into one --dir do not pile up
	 * "blast-1 (1).bin", "blast-1 (2).bin", ... */
	cpm_random_alnum(app->blast_run, 6);
	app->blast_t0 = now_mono();
	blast_next(app);
	return 0;
}
