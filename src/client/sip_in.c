/* Incoming transfers: checking the offer of an INVITE (415/488), answering
 * it per --answer / --answer-delay (200 with our SDP answer, 603, or 180 and
 * nothing), starting MSRP on the ACK, and re-INVITEs in any of our dialogs. */
#include "cpm.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tag.h>

#include "safe_name.h"

void in_answer_now(struct xfer *x)
{
	struct cpm_app *app = x->app;
	if (chat_hook_answer_now(x))
		return;
	x->answer_at = 0;
	if (app->o->answer == ANSWER_DECLINE) {
		vlog(app, "[%u] SIP: 603 Decline", x->id);
		nua_respond(x->nh, SIP_603_DECLINE, TAG_END());
		x->final_seen = true;
		x->state = XS_DONE;
		return;
	}
	if (app->o->answer == ANSWER_UNAVAILABLE) {
		/* a device that is there but cannot take it now (tests the
		 * "every device answered 480" trigger of store-and-forward) */
		vlog(app, "[%u] SIP: 480 Temporarily Unavailable", x->id);
		nua_respond(x->nh, SIP_480_TEMPORARILY_UNAVAILABLE, TAG_END());
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
		msrp_in_abort(x, "cannot build the SDP answer", false);
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

void in_ack(struct xfer *x)
{
	if (chat_hook_ack(x))
		return;
	if (x->dir != XFER_IN || x->state != XS_RINGING || x->answer_at != -1)
		return;
	char err[256];
	if (msrp_in_start(x, err, sizeof err) < 0)
		msrp_in_abort(x, err, true);
}

void in_invite(struct cpm_app *app, nua_handle_t *nh, const sip_t *sip)
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
	if (session_in_wanted(sip)) {
		session_in_invite(app, nh, sip); /* a chat session (session_in.c) */
		return;
	}
	char ct[512], err[256];
	sip_ctype_string(sip->sip_content_type, ct, sizeof ct);
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
	bool deferred = false, large = rc == 0 && largemsg_incoming(sip, offer, &deferred);
	if (rc == 0) {
		if (!large && (!offer->has_selector || !offer->sel.has_name || !offer->sel.has_size || !offer->sel.has_type)) {
			rc = 488;
			snprintf(err, sizeof err, "a=file-selector without name, size and type");
		} else if (offer->dir != SDP_DIR_SENDONLY && offer->dir != SDP_DIR_SENDRECV) {
			rc = 488;
			snprintf(err, sizeof err, "not a push (a=sendonly) offer");
		} else if (offer->setup == SDP_SETUP_ACTIVE || offer->port == 0) {
			rc = 488;
			snprintf(err, sizeof err, "offerer wants to connect to us; we only connect");
		} else if (xfer_set_remote(x, offer) < 0) { /* where to connect, msrps or not */
			rc = 488;
			snprintf(err, sizeof err, "unusable a=path");
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
	if (large) {
		/* a standalone message (largemsg.c): no selector, received into memory and
		 * printed by msg_in.c */
		x->is_msg = true;
		x->msg = true;
		x->msg_from_store = deferred;
		x->sel.has_name = x->sel.has_type = true;
		snprintf(x->sel.name, sizeof x->sel.name, "message");
		x->sel.name_len = strlen(x->sel.name);
		snprintf(x->sel.type, sizeof x->sel.type, "message/cpim");
	} else {
		x->sel = offer->sel;
	}
	if (!large && offer->has_file_range && offer->range_start > 1) {
		/* store-and-forward §5: the server offers the rest of a file we
		 * hold part of; continue the kept partial or say we have none */
		struct partial p;
		uint64_t need = offer->range_start - 1;
		const char *why = NULL;
		if (need >= x->sel.size || (offer->range_stop && offer->range_stop != x->sel.size))
			why = "a=file-range that does not end the file";
		else if (app->o->no_resume)
			why = "--no-resume";
		else if (partial_find(app, &x->sel, NULL, need, &p) < 0)
			why = "no kept partial with that name, size and sha-1";
		if (why) {
			errlog(app, "refusing INVITE from %s for bytes %llu.. of a file: %s (488 No Partial File)", from,
			       (unsigned long long)offer->range_start, why);
			nua_respond(nh, 488, "No Partial File", TAG_END());
			x->final_seen = true;
			x->state = XS_DONE;
			free(offer);
			return;
		}
		snprintf(x->part_name, sizeof x->part_name, "%s", p.part);
		snprintf(x->meta_name, sizeof x->meta_name, "%s", p.meta);
		x->meta_kept = true;
		x->base = need;
	}
	safe_name(x->safe, sizeof x->safe, x->sel.name, x->sel.name_len);
	snprintf(x->display, sizeof x->display, "%.60s", x->safe);
	snprintf(x->ftid, sizeof x->ftid, "%s", offer->file_transfer_id);
	free(offer);
	/* the safe name, never the peer's bytes: no escape sequences on a terminal */
	if (large)
		vlog(app, "[%u] SIP: INVITE from %s: a large message%s", x->id, from,
		     deferred ? " (deferred, from the server's store)" : "");
	else
		vlog(app, "[%u] SIP: INVITE from %s: file \"%s\" %llu bytes %s%s", x->id, from, x->display,
		     (unsigned long long)x->sel.size, x->sel.type, x->thumb ? " (with thumbnail)" : "");

	double delay = app->o->answer_delay;
	if (app->o->answer == ANSWER_IGNORE || delay > 0) {
		nua_respond(nh, SIP_180_RINGING, TAG_END());
		x->answer_at = app->o->answer == ANSWER_IGNORE ? 0 : now_mono() + delay;
		return;
	}
	in_answer_now(x);
}

/* A re-INVITE in one of our dialogs (a session refresh, most likely): with
 * media disabled nua leaves the answer to us. Same SDP as before, so that
 * the file-transfer-id is unchanged (RFC 5547 §8.1: not a new transfer). */
void sip_reinvite(struct xfer *x)
{
	struct cpm_app *app = x->app;
	char *sdp = NULL;
	char ct[64];
	int n = -1;
	if (x->dir == XFER_IN) {
		sdp = malloc(SDP_MAX_BYTES);
		n = sdp ? answer_build(app->o, x, sdp, SDP_MAX_BYTES) : -1;
	} else if (x->chat) {
		sdp = malloc(SDP_MAX_BYTES);
		n = sdp ? chat_sdp_build(app->o, x, sdp, SDP_MAX_BYTES) : -1;
	} else if (x->is_msg) {
		sdp = malloc(SDP_MAX_BYTES);
		n = sdp ? msg_sdp_build(app->o, x, SDP_DIR_SENDONLY, sdp, SDP_MAX_BYTES) : -1;
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
