/* Chat sessions that `cpm receive` is invited to (docs/internals/messaging.md §5, §7), and
 * the hooks through which the transfer code (agent.c, xfer.c, sip_in.c, msrp_in.c) hands a
 * session's events to the chat code.
 *
 * An INVITE is a session when it names the session ICSI, or when its SDP is an MSRP offer
 * without a file-selector that is sendrecv and accepts message/cpim (a large message is
 * sendonly, a file has a selector). It is answered per --answer / --answer-delay like a
 * file (200 with our sendrecv SDP, 603, 480, or 180 and nothing); MSRP starts on the ACK
 * (chat_msrp.c). When a session we accepted ends — the peer's BYE, the MSRP connection
 * lost, our own shutdown — `session SENDER CONVERSATION-ID ended` is printed, once. */
#include "chat.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tag.h>

#include "cpm/deferred.h"

/* ---------------------------------------------------------------- the INVITE */

static bool sdp_is_session(const sip_t *sip)
{
	char ct[512], err[128];
	const sip_payload_t *pl = sip->sip_payload;
	struct sdp_ft *o = calloc(1, sizeof *o);
	bool yes;

	sip_ctype_string(sip->sip_content_type, ct, sizeof ct);
	yes = o && offer_parse_body(ct, pl ? pl->pl_data : NULL, pl ? pl->pl_len : 0, o, NULL, err, sizeof err) == 0 &&
	      !o->has_selector && (o->dir == SDP_DIR_SENDRECV || o->dir == SDP_DIR_NONE) &&
	      sdp_accepts_type(o, "message/cpim");
	free(o);
	return yes;
}

bool session_in_wanted(const sip_t *sip)
{
	if (sip_names_icsi(sip, "session"))
		return true;
	if (sip_names_icsi(sip, "filetransfer") || sip_names_icsi(sip, "largemsg") || sip_names_icsi(sip, "deferred"))
		return false;
	return sdp_is_session(sip);
}

static void header_value(const sip_t *sip, const char *name, char *out, size_t cap)
{
	out[0] = '\0';
	for (const sip_unknown_t *u = sip->sip_unknown; u; u = u->un_next)
		if (u->un_name && u->un_value && !strcasecmp(u->un_name, name)) {
			snprintf(out, cap, "%s", u->un_value);
			return;
		}
}

/* 200 with our SDP; MSRP waits for the ACK. */
static void session_accept(struct xfer *x)
{
	struct cpm_app *app = x->app;
	char *sdp = malloc(SDP_MAX_BYTES);
	int n = sdp ? chat_sdp_build(app->o, x, sdp, SDP_MAX_BYTES) : -1;

	x->answer_at = 0;
	if (n < 0) {
		free(sdp);
		nua_respond(x->nh, SIP_500_INTERNAL_SERVER_ERROR, TAG_END());
		x->final_seen = true;
		chat_hook_abort(x, CPM_EXIT_FAILED, NULL);
		return;
	}
	vlog(app, "[%u] SIP: 200 OK (chat session, conversation %s)", x->id, x->chat->conv_id);
	nua_respond(x->nh, SIP_200_OK, SIPTAG_CONTACT_STR(app->contact), SIPTAG_CONTENT_TYPE_STR("application/sdp"),
		    SIPTAG_PAYLOAD_STR(sdp), TAG_END());
	free(sdp);
	x->dialog_up = true;
	x->final_seen = true;
	x->answer_at = -1; /* answered; MSRP starts on the ACK */
	x->last_progress = now_mono();
}

static void session_answer_now(struct xfer *x)
{
	struct cpm_app *app = x->app;

	x->answer_at = 0;
	if (app->o->answer == ANSWER_DECLINE || app->o->answer == ANSWER_UNAVAILABLE) {
		bool decline = app->o->answer == ANSWER_DECLINE;
		vlog(app, "[%u] SIP: %s (chat session)", x->id, decline ? "603 Decline" : "480 Temporarily Unavailable");
		if (decline)
			nua_respond(x->nh, SIP_603_DECLINE, TAG_END());
		else
			nua_respond(x->nh, SIP_480_TEMPORARILY_UNAVAILABLE, TAG_END());
		x->final_seen = true;
		chat_hook_abort(x, CPM_EXIT_OK, NULL);
		return;
	}
	session_accept(x);
}

void session_in_invite(struct cpm_app *app, nua_handle_t *nh, const sip_t *sip)
{
	char ct[512], err[256];
	const sip_payload_t *pl = sip->sip_payload;
	struct sdp_ft *offer = calloc(1, sizeof *offer);
	struct xfer *x = offer ? xfer_new(app, XFER_IN) : NULL;
	struct chat_sess *c = x ? chat_new(x, false) : NULL;
	int rc;

	if (!c) {
		free(offer);
		if (x) {
			x->state = XS_DONE;
			xfer_reap(x);
		}
		nua_respond(nh, SIP_500_INTERNAL_SERVER_ERROR, TAG_END());
		return;
	}
	x->nh = nh;
	nua_handle_bind(nh, x);
	x->state = XS_RINGING;
	snprintf(x->display, sizeof x->display, "chat");
	snprintf(x->safe, sizeof x->safe, "a chat session"); /* for the transfer code's log lines */
	if (sip->sip_from && sip->sip_from->a_url->url_user && sip->sip_from->a_url->url_host)
		snprintf(c->peer_uri, sizeof c->peer_uri, "sip:%s@%s", sip->sip_from->a_url->url_user,
			 sip->sip_from->a_url->url_host);
	else
		snprintf(c->peer_uri, sizeof c->peer_uri, "?");
	header_value(sip, "Conversation-ID", c->conv_id, sizeof c->conv_id);
	if (!c->conv_id[0])
		snprintf(c->conv_id, sizeof c->conv_id, "-");
	sip_ctype_string(sip->sip_content_type, ct, sizeof ct);
	rc = offer_parse_body(ct, pl ? pl->pl_data : NULL, pl ? pl->pl_len : 0, offer, NULL, err, sizeof err);
	if (rc == 0 && (offer->port == 0 || offer->setup == SDP_SETUP_ACTIVE)) {
		rc = 488;
		snprintf(err, sizeof err, "the offerer wants to connect to us; we only connect");
	} else if (rc == 0 && (offer->dir == SDP_DIR_SENDONLY || offer->dir == SDP_DIR_RECVONLY ||
				offer->dir == SDP_DIR_INACTIVE)) {
		rc = 488;
		snprintf(err, sizeof err, "a chat session is sendrecv");
	} else if (rc == 0 && xfer_set_remote(x, offer) < 0) {
		rc = 488;
		snprintf(err, sizeof err, "unusable a=path");
	}
	free(offer);
	if (rc != 0) {
		errlog(app, "refusing a chat session from %s: %s (%d)", c->peer_uri, err, rc);
		if (rc == 415)
			nua_respond(nh, SIP_415_UNSUPPORTED_MEDIA, SIPTAG_ACCEPT_STR("application/sdp"), TAG_END());
		else
			nua_respond(nh, SIP_488_NOT_ACCEPTABLE, TAG_END());
		x->final_seen = true;
		chat_hook_abort(x, CPM_EXIT_FAILED, NULL);
		return;
	}
	vlog(app, "[%u] SIP: INVITE from %s: chat session, conversation %s", x->id, c->peer_uri, c->conv_id);
	if (app->o->answer == ANSWER_IGNORE || app->o->answer_delay > 0) {
		nua_respond(nh, SIP_180_RINGING, TAG_END());
		x->answer_at = app->o->answer == ANSWER_IGNORE ? 0 : now_mono() + app->o->answer_delay;
		return;
	}
	session_answer_now(x);
}

void session_in_ended(struct xfer *x, bool accepted)
{
	struct chat_sess *c = x->chat;
	char sender[3 * CPM_URI_MAX], conv[3 * CHAT_CONV_MAX + 1];

	if (!accepted)
		return;
	deferred_safe_display(sender, sizeof sender, c->peer_uri);
	deferred_safe_display(conv, sizeof conv, c->conv_id);
	out_line(x->app, "session %s %s ended", sender, conv);
}

/* ---------------------------------------------------------------- hooks */

bool chat_hook_abort(struct xfer *x, int code, const char *line)
{
	struct chat_sess *c = x->chat;
	bool accepted;

	if (!c)
		return false;
	if (c->ended)
		return true;
	c->ended = true;
	accepted = !c->inviter && x->answer_at == -1;
	x->state = XS_DONE;
	/* With a BYE to send, the MSRP connection stays until the dialog is over (on_state
	 * closes it): the server then sees the session end, not a lost MSRP leg first. */
	bool bye = x->dialog_up && !x->bye_sent;
	xfer_sip_end(x); /* BYE an established dialog, CANCEL ours, 480 one we never answered */
	if (!bye)
		chat_msrp_close(c);
	if (c->inviter)
		chat_cli_ended(x, code, line);
	else
		session_in_ended(x, accepted);
	return true;
}

bool chat_hook_bye(struct xfer *x)
{
	if (!x->chat)
		return false;
	if (!x->chat->ended)
		errlog(x->app, "chat session ended by %s", x->chat->inviter ? "the peer" : x->chat->peer_uri);
	chat_hook_abort(x, CPM_EXIT_OK, NULL);
	return true;
}

bool chat_hook_ack(struct xfer *x)
{
	char err[256];

	if (!x->chat)
		return false;
	if (x->chat->inviter || x->state != XS_RINGING || x->answer_at != -1)
		return true;
	if (chat_msrp_start(x->chat, err, sizeof err) < 0) {
		errlog(x->app, "chat session: %s", err);
		chat_hook_abort(x, CPM_EXIT_FAILED, NULL);
	}
	return true;
}

bool chat_hook_answer_now(struct xfer *x)
{
	if (!x->chat)
		return false;
	if (!x->chat->inviter && x->state == XS_RINGING && !x->chat->ended)
		session_answer_now(x);
	return true;
}

void chat_tick(struct xfer *x, double now)
{
	struct chat_sess *c = x->chat;

	if (c->inviter) {
		chat_cli_tick(x, now);
		return;
	}
	if (c->ended)
		return;
	if (x->state == XS_RINGING && x->answer_at > 0 && now >= x->answer_at && !x->app->shutting_down)
		session_answer_now(x);
	else if ((x->state == XS_CONNECTING || (x->state == XS_RINGING && x->answer_at == -1)) &&
		 now - x->last_progress > CPM_PROGRESS_TIMEOUT)
		chat_hook_abort(x, CPM_EXIT_FAILED, NULL); /* no ACK, or no MSRP connection */
}
