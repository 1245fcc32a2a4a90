/* 1-1 chat sessions (docs/internals/messaging.md §5): cpmd is the B2BUA for signalling and
 * media. The inviter's INVITE (leg UP) is checked (policy_check_session_offer, the limits of
 * policy_session_room), forked with THE fork engine to every device of the recipient with
 * our own SDP (our B-leg MSRP path, sendrecv, accept-types, a=max-size), and the first
 * device that answers 2xx with a usable SDP gets the session (leg DOWN); the fork CANCELs
 * the others and BYEs a late 2xx. The inviter then gets 200 with our A-leg SDP, and the
 * session relay (relay/session_relay.h) joins the two MSRP sessions.
 *
 * Ending: a BYE (or any end) of either leg BYEs the other; the relay's end (an MSRP
 * connection lost, a leg that never bound) BYEs both. Nothing is stored: when nobody takes
 * the session the inviter hears why (policy_session_unreachable: 480, or 408 on the
 * invitation timer; a decline is passed on) and its client sends what it wanted to say as
 * standalone messages.
 *
 * A session is freed when its UP leg and its DOWN leg (if any) have terminated. A file
 * sent during the session is its own INVITE (pf_ft.c) that only shares the Conversation-ID:
 * the two never touch each other. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keyset.h"
#include "common/log.h"
#include "common/metrics.h"
#include "cpm/icsi.h"
#include "cpm/msrp.h"
#include "cpm/sdp.h"
#include "pf/pf_admin.h"
#include "pf/pf_int.h"
#include "relay/session_relay.h"

enum sess_state {
	SESS_FORKING, /* the fork rings; the inviter has no final answer yet */
	SESS_ACTIVE,  /* a device took it; both legs up, the relay runs */
	SESS_ENDING,  /* a final answer or BYEs went out; waiting for the legs to terminate */
};

struct pf_sess {
	struct pf_sess *next, *prev; /* pf->sessions */
	struct keyset_key *sender_entry; /* its sender's in pf->sess_senders, held while linked */
	struct pf *pf;
	struct cpm_arena arena;
	char id[24];
	enum sess_state state;
	char sender[SIP_ADDR_URI_MAX];
	char sender_key[LOC_MAX_AOR]; /* "user@host": the per-user limit counts by it */
	char recipient[LOC_MAX_AOR];
	struct sdp_ft *offer;         /* the inviter's SDP */
	char *fork_headers;
	const char *onward_route; /* AS mode, orig: the core's route back (pf_onward_route) */
	struct session_relay *relay;
	bool relay_ended;
	struct pf_mss_sess *history; /* its history for the message stores, or NULL */
	bool was_active;             /* a device took it (else its history says "missed") */
	struct sip_leg *up;
	bool up_answered, up_terminated;
	struct sip_fork *fork;
	struct sip_leg *down;
	bool down_terminated;
	char down_device[LOC_MAX_INSTANCE];
};

/* ------------------------------------------------------------- life */

static void sess_free(struct pf_sess *s)
{
	struct pf *pf = s->pf;

	if (s->prev)
		s->prev->next = s->next;
	else if (pf->sessions == s)
		pf->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	keyset_drop(pf->sess_senders, s->sender_entry);
	pf->nsess--;
	sip_fork_destroy(s->fork); /* a ringing one CANCELs its branches; they end on their own */
	session_relay_destroy(s->relay); /* no chunk is observed after this */
	pf_mss_session_close(s->history, s->was_active ? "ended" : "missed");
	sip_leg_release(s->up);
	sip_leg_release(s->down);
	log_debug("session %s: freed", s->id);
	cpm_arena_free(&s->arena);
	free(s);
}

static void sess_maybe_free(struct pf_sess *s)
{
	if (!s->up_terminated)
		return;
	if (s->down && !s->down_terminated)
		return;
	sess_free(s);
}

static void respond_up(struct pf_sess *s, int status, const char *phrase, const struct sip_respond_opts *o)
{
	if (s->up_answered || s->up_terminated || !s->up)
		return;
	s->up_answered = true;
	sip_leg_respond(s->up, status, phrase, o);
}

/* End the session from any state: answer / cancel / BYE whatever is still up. */
static void sess_end(struct pf_sess *s, int status, const char *phrase)
{
	if (s->state == SESS_FORKING) {
		respond_up(s, status, phrase, NULL);
		if (s->fork)
			sip_fork_cancel(s->fork, SIP_REASON_CALLER_CANCEL);
	}
	s->state = SESS_ENDING;
	if (s->up)
		sip_leg_bye(s->up);
	if (s->down)
		sip_leg_bye(s->down);
}

/* ------------------------------------------------------------- our SDP */

/* Our SDP on one leg: our MSRP path on it, passive, sendrecv, what a CPM chat carries
 * (messaging.md §5) and the size the relay enforces. */
static int sess_sdp(struct pf_sess *s, enum session_relay_leg leg, char *buf, size_t cap)
{
	struct sdp_ft *o = calloc(1, sizeof *o);
	int n;

	if (!o)
		return -1;
	pf_fill_common_sdp(s->pf, o, session_relay_path(s->relay, leg));
	o->dir = SDP_DIR_SENDRECV;
	if (leg == SR_LEG_B && pf_msrp_active(s->pf, s->recipient))
		o->setup = SDP_SETUP_ACTIVE; /* another domain's PF: passive like us */
	snprintf(o->accept_types, sizeof o->accept_types, "message/cpim");
	snprintf(o->accept_wrapped_types, sizeof o->accept_wrapped_types, "text/plain message/imdn+xml");
	o->has_max_size = true;
	o->max_size = policy_max_chat_size(&s->pf->cfg);
	n = sdp_build_ft(buf, cap, o);
	free(o);
	return n;
}

/* The inviter's 200: our A-leg SDP. Its MSRP path is set only now, so that the bind timer
 * of leg A starts with the answer, not while the fork rang. */
static int sess_answer_up(struct pf_sess *s)
{
	char *buf = malloc(SDP_MAX_BYTES);
	int n, rc = -1;

	if (!buf || session_relay_set_peer_path(s->relay, SR_LEG_A, s->offer->path))
		goto out;
	n = sess_sdp(s, SR_LEG_A, buf, SDP_MAX_BYTES);
	if (n < 0)
		goto out;
	struct sip_body body = {.content_type = "application/sdp", .data = buf, .len = (size_t)n};
	struct sip_respond_opts o = {.body = &body, .contact = true};
	s->up_answered = true;
	rc = sip_leg_respond(s->up, 200, NULL, &o) ? -1 : 0;
out:
	free(buf);
	return rc;
}

/* ------------------------------------------------------------- relay */

static void relay_done(void *arg, enum session_relay_leg leg, enum session_relay_result res, const char *detail)
{
	struct pf_sess *s = arg;

	s->relay_ended = true;
	if (s->state == SESS_ENDING) {
		/* the usual order: a BYE, then the endpoint closes its MSRP connection */
		log_debug("session %s: MSRP of the %s %s", s->id, leg == SR_LEG_A ? "inviter" : "recipient",
			  session_relay_result_str(res));
		return;
	}
	log_info("session %s: MSRP of the %s %s (%s): ending the session", s->id,
		 leg == SR_LEG_A ? "inviter" : "recipient", session_relay_result_str(res), detail);
	sess_end(s, 500, "Session Media Failed");
}

/* ------------------------------------------------------------- legs */

static void on_up_terminated(struct pf_sess *s)
{
	s->up_terminated = true;
	sip_leg_release(s->up);
	s->up = NULL;
	if (s->state == SESS_FORKING) {
		log_info("session %s: the inviter cancelled", s->id);
		if (s->fork)
			sip_fork_cancel(s->fork, SIP_REASON_CALLER_CANCEL);
	}
	s->state = SESS_ENDING;
	if (s->down)
		sip_leg_bye(s->down);
}

static void on_down_terminated(struct pf_sess *s)
{
	s->down_terminated = true;
	s->state = SESS_ENDING;
	if (s->up)
		sip_leg_bye(s->up);
}

static void sess_leg_event(void *owner, struct sip_leg *leg, enum sip_leg_event ev, const struct sip_msg *m)
{
	struct pf_sess *s = owner;
	bool up = leg == s->up;

	switch (ev) {
	case SIP_LEG_REINVITE:
		/* nothing to renegotiate: both MSRP paths are ours and stay (sessions timers off) */
		sip_leg_respond(leg, 488, "Re-INVITE Not Supported During Chat Session", NULL);
		break;
	case SIP_LEG_BYE:
		log_info("session %s: BYE from the %s", s->id, up ? "inviter" : "recipient");
		metrics_session(MS_ENDED);
		break;
	case SIP_LEG_TERMINATED:
		if (up)
			on_up_terminated(s);
		else
			on_down_terminated(s);
		sess_maybe_free(s); /* may free s */
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------- the fork */

static void fork_progress(void *owner, struct sip_fork *f, unsigned branch, int status)
{
	struct pf_sess *s = owner;

	if (status == 180 && s->state == SESS_FORKING && !s->up_answered && s->up)
		sip_leg_respond(s->up, 180, NULL, NULL);
}

/* A device's 2xx: usable when its SDP answer is an MSRP stream with a path for leg B. */
static bool fork_accept(void *owner, struct sip_fork *f, unsigned branch, struct sip_leg *leg,
			const struct sip_msg *m)
{
	struct pf_sess *s = owner;
	struct cpm_arena tmp = CPM_ARENA_INIT;
	struct mime_part parts[MIME_MAX_PARTS];
	size_t nparts;
	struct cpm_str sdp;
	struct sdp_ft *ans;
	bool ok;

	if (s->up_terminated)
		return false; /* the inviter is gone: the fork BYEs it */
	ans = cpm_arena_alloc(&tmp, sizeof *ans);
	ok = ans && sip_msg_body_sdp(m, &tmp, &sdp, parts, &nparts) == 0 && sdp_parse_ft(sdp.p, sdp.len, ans) == SDP_OK &&
	     ans->port != 0 && ans->dir != SDP_DIR_INACTIVE &&
	     session_relay_set_peer_path(s->relay, SR_LEG_B, ans->path) == 0 &&
	     (!pf_msrp_active(s->pf, s->recipient) || session_relay_connect(s->relay, SR_LEG_B, ans->fingerprint) == 0);
	cpm_arena_free(&tmp);
	if (!ok)
		log_info("session %s: branch %u accepted with an unusable SDP answer; hanging it up", s->id, branch);
	return ok;
}

static void fork_done(void *owner, struct sip_fork *f, const struct sip_fork_result *r)
{
	struct pf_sess *s = owner;
	struct pf_verdict v;

	if (s->state != SESS_FORKING)
		return;
	switch (r->outcome) {
	case SIP_FORK_ANSWERED:
		s->down = r->winner;
		PF_COPY(s->down_device, r->device ? r->device : "?");
		sip_leg_bind(s->down, sess_leg_event, s);
		s->state = SESS_ACTIVE;
		s->was_active = true;
		log_info("session %s: branch %u (%s) accepted", s->id, r->branch, s->down_device);
		if (sess_answer_up(s))
			sess_end(s, 500, "Cannot Build SDP Answer");
		return;
	case SIP_FORK_ENDED:
		/* the user's answer on one device (a 6xx): the inviter hears it */
		log_info("session %s: branch %u (%s) answered %d %s", s->id, r->branch, r->device ? r->device : "?",
			 r->status, r->phrase);
		respond_up(s, r->status, r->phrase, NULL);
		break;
	case SIP_FORK_TIMEOUT:
		policy_session_unreachable(&s->pf->cfg, PF_NO_ANSWER, &v);
		log_info("session %s: no device answered within %u s: %d %s", s->id, s->pf->cfg.invite_timeout,
			 v.status, v.phrase);
		respond_up(s, v.status, v.phrase, NULL);
		break;
	case SIP_FORK_FAILED:
		if (r->all_unavailable) {
			policy_session_unreachable(&s->pf->cfg, PF_ALL_UNAVAILABLE, &v);
			respond_up(s, v.status, v.phrase, NULL);
		} else {
			respond_up(s, r->status, r->phrase, NULL);
		}
		log_info("session %s: no device took the session", s->id);
		metrics_session(MS_MISSED);
		break;
	}
	s->state = SESS_ENDING;
}

static enum sip_fork_class fork_classify(void *owner, int status)
{
	return policy_fork_class(status);
}

static const struct sip_fork_ops sess_fork_ops = {
	.progress = fork_progress,
	.accept = fork_accept,
	.done = fork_done,
	.classify = fork_classify,
};

/* The relay, then the fork of the invitation to every device (our B-leg SDP). */
static void sess_fork(struct pf_sess *s, const struct sip_addr *from, const struct loc_device *devs, size_t ndev)
{
	struct pf *pf = s->pf;
	struct cpm_arena tmp = CPM_ARENA_INIT;
	struct session_relay_params rp = {.max_size = policy_max_chat_size(&pf->cfg)};
	char *sdp = cpm_arena_alloc_raw(&tmp, SDP_MAX_BYTES);
	char to[LOC_MAX_AOR + 8];
	int n;

	/* TLS as for files (pf_secure_legs): leg A when the inviter offered msrps, leg B when
	 * every device registered over TLS */
	rp.secure[SR_LEG_A] = pf_path_msrps(s->offer->path);
	rp.secure[SR_LEG_B] = pf_devices_all_tls(pf, devs, ndev);
	if (rp.secure[SR_LEG_A] && !msrp_hub_tls_port(pf->hub)) {
		respond_up(s, 488, "msrps (TLS) offered but cpmd has no --msrp-tls", NULL);
		s->state = SESS_ENDING;
		goto out;
	}
	/* its history, when the inviter or the invitee keeps histories (issue 11) */
	s->history = pf_mss_session_open(pf, s->sender, s->recipient, s->fork_headers, rp.max_size);
	rp.observe = s->history ? pf_mss_session_chunk : NULL;
	rp.observe_arg = s->history;
	if (session_relay_create(&s->relay, pf->hub, &rp, relay_done, s)) {
		log_warn("session %s: cannot set up the MSRP relay", s->id);
		respond_up(s, 500, "Cannot Anchor MSRP Session", NULL);
		s->state = SESS_ENDING;
		goto out;
	}
	n = sdp ? sess_sdp(s, SR_LEG_B, sdp, SDP_MAX_BYTES) : -1;
	char *fork_from = pf_fork_from(&tmp, from, s->sender);
	if (n < 0 || !fork_from || !s->fork_headers)
		goto oom;
	struct sip_body body = {.content_type = "application/sdp", .data = sdp, .len = (size_t)n};
	snprintf(to, sizeof to, "<sip:%s>", s->recipient);
	struct sip_request rq = {.to = to, .from = fork_from, .body = &body, .headers = s->fork_headers,
				 .route = s->onward_route};
	struct sip_fork_params fp = {
		.method = SIP_FORK_INVITE,
		.request = &rq,
		.timeout_ms = pf->cfg.invite_timeout * 1000,
		.max_branches = (unsigned)ndev,
		.log_id = s->id,
	};
	if (sip_fork_create(&s->fork, pf->sipua, pf->loop, &fp, &sess_fork_ops, s))
		goto oom;
	log_info("session %s: forking to %zu device(s)", s->id, ndev);
	for (size_t i = 0; i < ndev; i++) {
		struct sip_target t;
		pf_target_of(&devs[i], &t);
		sip_fork_add(s->fork, &t, devs[i].instance);
	}
	sip_fork_start(s->fork); /* every branch may have failed locally: done from here */
	goto out;
oom:
	log_error("session %s: out of memory", s->id);
	respond_up(s, 500, NULL, NULL);
	s->state = SESS_ENDING;
out:
	cpm_arena_free(&tmp);
}

/* ------------------------------------------------------------- new INVITE */

static void reject(struct sip_leg *leg, int status, const char *phrase, const struct sip_respond_opts *o)
{
	sip_leg_respond(leg, status, phrase, o); /* unbound: sipua releases it when the call ends */
}

/* The sender's sessions: each linked session holds its sender's key (was a walk of every
 * session per chat INVITE, --max-sessions allowing 1,000,000). */
static unsigned sessions_of(const struct pf *pf, const char *sender_key)
{
	const struct keyset_key *k = keyset_find(pf->sess_senders, sender_key);
	return k ? (unsigned)k->refs : 0;
}

void pf_session_invite(struct pf *pf, struct sip_leg *leg, const struct sip_msg *m)
{
	struct cpm_arena tmp = CPM_ARENA_INIT;
	struct mime_part parts[MIME_MAX_PARTS];
	size_t nparts = 0;
	struct cpm_str sdp;
	struct pf_verdict v;
	struct sip_addr ru, from;
	char sender_key[LOC_MAX_AOR], conv[128];
	struct pf_sess *s = NULL;
	struct sdp_ft *offer = NULL;

	if (pf_request_parties(pf, leg, m, &ru, &from))
		goto out;
	if (pf->stopping) {
		reject(leg, 503, "Server Shutting Down", NULL);
		goto out;
	}
	int st = sip_msg_body_sdp(m, &tmp, &sdp, parts, &nparts);
	if (st) {
		reject(leg, st, st == 415 ? "Unsupported Body (application/sdp expected)" : "Chat Session Needs An SDP Offer",
		       NULL);
		goto out;
	}
	offer = cpm_arena_alloc(&tmp, sizeof *offer);
	enum sdp_error se = offer ? sdp_parse_ft(sdp.p, sdp.len, offer) : SDP_E_TOO_BIG;
	if (se != SDP_OK) {
		char phrase[128];
		snprintf(phrase, sizeof phrase, "Bad SDP: %s", sdp_strerror(se));
		reject(leg, se == SDP_E_NO_MSRP_MEDIA ? 415 : 488, phrase, NULL);
		goto out;
	}
	policy_check_session_offer(&pf->cfg, offer, &v);
	if (v.status) {
		log_info("session INVITE from %s rejected: %d %s", from.uri, v.status, v.phrase);
		metrics_session(MS_REJECTED);
		reject(leg, v.status, v.phrase, NULL);
		goto out;
	}
	if (location_aor_key(sender_key, sizeof sender_key, from.user, from.host) || strlen(from.uri) >= sizeof s->sender) {
		reject(leg, 400, "Bad From", NULL);
		goto out;
	}
	/* The limits before anything is allocated: a flood of INVITEs from one user costs one
	 * answer each beyond its share (policy_session_room). */
	policy_session_room(&pf->cfg, sessions_of(pf, sender_key), (unsigned)pf->nsess, &v);
	if (v.status) {
		struct sip_respond_opts o = {.retry_after = v.status == 503 ? "5" : NULL};
		log_info("session INVITE from %s rejected: %d %s (%u of its own, %zu in all)", from.uri, v.status,
			 v.phrase, sessions_of(pf, sender_key), pf->nsess);
		reject(leg, v.status, v.phrase, &o);
		goto out;
	}

	s = calloc(1, sizeof *s);
	if (!s) {
		reject(leg, 500, NULL, NULL);
		goto out;
	}
	s->pf = pf;
	msrp_random_ident(s->id, 16);
	PF_COPY(s->sender, from.uri);
	PF_COPY(s->sender_key, sender_key);
	s->offer = cpm_arena_alloc(&s->arena, sizeof *s->offer);
	s->fork_headers = sip_msg_carried_headers(m, &s->arena, CPM_SESSION_ICSI_TAG);
	s->onward_route = pf_onward_route(pf, m, &s->arena);
	if (!s->offer || !(s->sender_entry = keyset_hold(pf->sess_senders, s->sender_key))) {
		cpm_arena_free(&s->arena);
		free(s);
		reject(leg, 500, NULL, NULL);
		goto out;
	}
	*s->offer = *offer;
	/* From here on the inviter's leg is the session's. */
	s->up = leg;
	sip_leg_bind(leg, sess_leg_event, s);
	s->next = pf->sessions;
	if (pf->sessions)
		pf->sessions->prev = s;
	pf->sessions = s;
	pf->nsess++;
	s->state = SESS_FORKING;
	if (location_aor_key(s->recipient, sizeof s->recipient, ru.user, ru.host)) {
		respond_up(s, 400, "Request-URI Too Long", NULL);
		s->state = SESS_ENDING;
		goto out;
	}
	if (sip_msg_header(m, "Conversation-ID", conv, sizeof conv))
		snprintf(conv, sizeof conv, "-");
	log_info("session %s: %s -> %s conversation %s", s->id, s->sender, s->recipient, conv);

	struct loc_device *devs = cpm_arena_alloc(&tmp, pf->cfg.max_devices * sizeof *devs);
	size_t ndev = devs ? pf_devices(pf, s->recipient, devs, pf->cfg.max_devices) : 0;
	if (ndev == 0) {
		/* sessions are live: nothing is stored (the client sends standalone messages) */
		policy_session_unreachable(&pf->cfg, PF_NO_DEVICE, &v);
		log_info("session %s: %s has no registered device: %d %s", s->id, s->recipient, v.status, v.phrase);
		/* a missed invitation is part of the history (issue 11: "missed the invitation") */
		s->history = pf_mss_session_open(pf, s->sender, s->recipient, s->fork_headers, policy_max_chat_size(&pf->cfg));
		respond_up(s, v.status, v.phrase, NULL);
		s->state = SESS_ENDING;
		goto out;
	}
	sess_fork(s, &from, devs, ndev);
out:
	cpm_arena_free(&tmp);
}

/* ------------------------------------------------------------- shutdown */

void pf_session_terminate_all(struct pf *pf)
{
	for (struct pf_sess *s = pf->sessions; s; s = s->next)
		sess_end(s, 503, "Server Shutting Down");
}

void pf_session_destroy_all(struct pf *pf)
{
	while (pf->sessions)
		sess_free(pf->sessions);
}

/* ------------------------------------------------------------- admin (pf_admin.h) */

size_t pf_session_list(struct pf *pf, struct pf_admin_session *out, size_t max)
{
	static const char *const names[] = {[SESS_FORKING] = "ringing", [SESS_ACTIVE] = "active", [SESS_ENDING] = "ending"};
	size_t n = 0;
	for (struct pf_sess *s = pf->sessions; s && n < max; s = s->next, n++) {
		PF_COPY(out[n].id, s->id);
		PF_COPY(out[n].sender, s->sender);
		PF_COPY(out[n].recipient, s->recipient);
		out[n].state = names[s->state];
	}
	return n;
}
