/* `fetch` and `list`: what a pull user (store-and-forward contract §4) does.
 *
 * fetch ID: an RFC 5547 pull. INVITE to our own AOR with Cpm-Item-Id: ID,
 * SDP recvonly, a=file-selector (empty: the id names the file) and, when a
 * kept partial of that item exists, its selector and a=file-range. cpmd
 * answers sendonly with the item's full selector and a=path; we connect,
 * bind, and receive the bytes exactly like `receive` (msrp_in.c), into
 * --dir under the safe name of the answer's selector.
 *
 * list: a SIP MESSAGE to our own AOR, body type
 * application/vnd.cpmd.deferred-query (empty); the 200's body is the
 * deferred list, printed one `deferred ...` line per item.
 *
 * A stored message (messaging.md §3: the answer's selector says type message/cpim) comes the
 * same way, as one MSRP message; it is received into memory (msrp_in.c) and printed as
 * `receive` prints one (msg_in.c), with its delivered report.
 */
#include "cpm.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tag.h>

#include "cpm/deferred.h"

static nua_handle_t *list_nh;

static int fetch_invite(struct cpm_app *app, bool use_partial)
{
	const struct cpm_opts *o = app->o;
	struct xfer *x = xfer_new(app, XFER_IN);
	if (!x)
		return -1;
	x->pull = true;
	snprintf(x->item_id, sizeof x->item_id, "%s", o->item_id);
	snprintf(x->safe, sizeof x->safe, "%s", o->item_id); /* until the answer names the file */
	snprintf(x->display, sizeof x->display, "%s", o->item_id);
	struct partial p;
	if (use_partial && !o->no_resume && partial_find(app, NULL, o->item_id, 1, &p) == 0 &&
	    p.bytes < p.sel.size) {
		x->sel = p.sel;
		snprintf(x->part_name, sizeof x->part_name, "%s", p.part);
		snprintf(x->meta_name, sizeof x->meta_name, "%s", p.meta);
		x->meta_kept = true;
		x->base = p.bytes;
		x->offered_range = true;
		errlog(app, "continuing the interrupted fetch of %s at byte %llu of %llu", o->item_id,
		       (unsigned long long)p.bytes, (unsigned long long)p.sel.size);
	}
	char *sdp = malloc(SDP_MAX_BYTES);
	int n = sdp ? pull_offer_build(o, x, sdp, SDP_MAX_BYTES) : -1;
	char to[CPM_URI_MAX + 2];
	snprintf(to, sizeof to, "<%s>", o->aor);
	x->nh = n < 0 ? NULL : nua_handle(app->nua, x, SIPTAG_TO_STR(to), TAG_END());
	if (!x->nh) {
		free(sdp);
		x->part_name[0] = x->meta_name[0] = '\0';
		x->state = XS_DONE;
		xfer_reap(x);
		return -1;
	}
	char contrib[37], conv[37], hdrs[512];
	uuid_v4(contrib);
	uuid_v4(conv);
	snprintf(hdrs, sizeof hdrs,
		 "Cpm-Item-Id: %s\r\nContribution-ID: %s\r\nConversation-ID: %s\r\nP-Preferred-Service: " CPM_ICSI_FT,
		 o->item_id, contrib, conv);
	x->state = XS_INVITING;
	x->invite_deadline = o->invite_timeout ? now_mono() + o->invite_timeout : 0;
	vlog(app, "[%u] SIP: pull INVITE %s, Cpm-Item-Id %s", x->id, o->aor, o->item_id);
	nua_invite(x->nh, SIPTAG_CONTACT_STR(app->contact), SIPTAG_HEADER_STR(hdrs),
		   SIPTAG_ACCEPT_CONTACT_STR("*;+g.3gpp.icsi-ref=\"" CPM_ICSI_FT_ENC "\""),
		   SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp), TAG_END());
	free(sdp);
	return 0;
}

int fetch_start(struct cpm_app *app)
{
	if (fetch_invite(app, true) < 0) {
		out_line(app, "failed: cannot start the transfer");
		return -1;
	}
	return 0;
}

/* The 2xx of our pull: check the answer, then receive like an incoming push. */
static void pull_accepted(struct xfer *x, const sip_t *sip)
{
	struct cpm_app *app = x->app;
	char ct[512], err[256], line[600];
	sip_ctype_string(sip ? sip->sip_content_type : NULL, ct, sizeof ct);
	struct sdp_ft *ans = calloc(1, sizeof *ans);
	const sip_payload_t *pl = sip ? sip->sip_payload : NULL;
	int rc = ans ? offer_parse_body(ct, pl ? pl->pl_data : NULL, pl ? pl->pl_len : 0, ans, NULL, err, sizeof err)
		     : -1;
	if (rc == 0) {
		if (!ans->has_selector || !ans->sel.has_name || !ans->sel.has_size) {
			rc = -1;
			snprintf(err, sizeof err, "answer without the file's name and size");
		} else if (ans->dir != SDP_DIR_SENDONLY && ans->dir != SDP_DIR_SENDRECV) {
			rc = -1;
			snprintf(err, sizeof err, "answer is not sendonly");
		} else if (ans->port == 0) {
			rc = -1;
			snprintf(err, sizeof err, "peer refused the MSRP stream (port 0)");
		} else if (ans->setup == SDP_SETUP_ACTIVE) {
			rc = -1;
			snprintf(err, sizeof err, "peer answered a=setup:active; we only connect");
		} else if (xfer_set_remote(x, ans) < 0) { /* where to connect, msrps or not */
			rc = -1;
			snprintf(err, sizeof err, "unusable a=path in the answer");
		}
	} else if (ans) {
		rc = -1;
	}
	if (rc != 0) {
		free(ans);
		x->part_name[0] = x->meta_name[0] = '\0'; /* a kept partial stays as it was */
		snprintf(line, sizeof line, "failed: bad SDP answer: %s", ans ? err : "out of memory");
		xfer_done(x, CPM_EXIT_FAILED, line);
		return;
	}
	/* The range we asked for stands only if the answer repeats it for the
	 * same file; otherwise the whole file comes (the kept partial restarts). */
	if (x->meta_kept) {
		bool same = ans->has_file_range && ans->range_start == x->base + 1 && sdp_selector_match(&x->sel, &ans->sel) &&
			    ans->sel.size == x->sel.size;
		if (!same) {
			vlog(app, "[%u] the answer does not continue our partial: receiving the whole file", x->id);
			x->base = 0;
		}
	}
	x->sel = ans->sel;
	/* a stored message (messaging.md §3): read in memory and printed, not saved as a file */
	x->msg = ans->sel.has_type && !strcasecmp(ans->sel.type, "message/cpim") && ans->sel.size <= CPM_FETCH_MSG_MAX;
	if (x->msg)
		x->meta_kept = false;
	free(ans);
	x->answer_at = -1;
	if (msrp_in_prepare(x, err, sizeof err) < 0) {
		snprintf(line, sizeof line, "failed: %s", err);
		xfer_done(x, CPM_EXIT_FAILED, line);
		return;
	}
	if (msrp_in_start(x, err, sizeof err) < 0)
		msrp_in_abort(x, err, true);
}

void pull_answer(struct xfer *x, int status, const char *phrase, const sip_t *sip)
{
	struct cpm_app *app = x->app;
	char line[600];
	enum xfer_answer a = xfer_answer_classify(x, status, phrase);
	if (a == XA_HANDLED)
		return;
	if (a == XA_ANSWERED) {
		pull_accepted(x, sip);
		return;
	}
	x->part_name[0] = x->meta_name[0] = '\0'; /* nothing opened: a kept partial stays */
	if (status == 488 && x->offered_range && !app->shutting_down) {
		errlog(app, "the server refused to continue the partial fetch (%d %s); fetching the whole file", status,
		       phrase);
		x->state = XS_DONE;
		xfer_reap(x);
		if (fetch_invite(app, false) < 0) {
			out_line(app, "failed: cannot start the transfer");
			agent_finish(app, CPM_EXIT_FAILED);
		}
		return;
	}
	if (status == 404) {
		snprintf(line, sizeof line, "failed: no such item %s", app->o->item_id);
		xfer_done(x, CPM_EXIT_REJECTED, line);
	} else if (status == 603) {
		xfer_done(x, CPM_EXIT_DECLINED, "declined");
	} else if (local_response(status, sip)) {
		local_failure_line(app, status, phrase, sip, line, sizeof line);
		xfer_done(x, CPM_EXIT_FAILED, line);
	} else {
		snprintf(line, sizeof line, "rejected: %d %s", status, phrase);
		xfer_done(x, CPM_EXIT_REJECTED, line);
	}
}

/* ------------------------------------------------------------ list */

int list_start(struct cpm_app *app)
{
	char to[CPM_URI_MAX + 2];
	snprintf(to, sizeof to, "<%s>", app->o->aor);
	list_nh = nua_handle(app->nua, NULL, SIPTAG_TO_STR(to), TAG_END());
	if (!list_nh) {
		out_line(app, "failed: nua_handle");
		return -1;
	}
	vlog(app, "SIP: MESSAGE %s (%s)", app->o->aor, CPM_DEFERRED_QUERY_CTYPE);
	nua_message(list_nh, SIPTAG_CONTENT_TYPE_STR(CPM_DEFERRED_QUERY_CTYPE), SIPTAG_PAYLOAD_STR(""), TAG_END());
	return 0;
}

bool list_answer(struct cpm_app *app, nua_handle_t *nh, int status, const char *phrase, const sip_t *sip)
{
	if (nh != list_nh)
		return false;
	if (status < 200)
		return true;
	list_nh = NULL;
	int code = CPM_EXIT_OK;
	if (status < 300) {
		const sip_payload_t *pl = sip ? sip->sip_payload : NULL;
		const sip_content_type_t *c = sip ? sip->sip_content_type : NULL;
		if (pl && pl->pl_len) {
			if (!c || !c->c_type || strcasecmp(c->c_type, CPM_DEFERRED_CTYPE) != 0) {
				out_line(app, "failed: the answer's body is %s, not " CPM_DEFERRED_CTYPE,
					 c && c->c_type ? c->c_type : "untyped");
				code = CPM_EXIT_FAILED;
			} else if (deferred_print(app, pl->pl_data, pl->pl_len) < 0) {
				code = CPM_EXIT_FAILED;
			}
		}
	} else if (local_response(status, sip)) {
		char line[600];
		local_failure_line(app, status, phrase, sip, line, sizeof line);
		out_line(app, "%s", line);
		code = CPM_EXIT_FAILED;
	} else {
		out_line(app, "rejected: %d %s", status, phrase);
		code = CPM_EXIT_REJECTED;
	}
	nua_handle_destroy(nh);
	agent_finish(app, code);
	return true;
}
