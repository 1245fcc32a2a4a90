/* Legs over nua (see sip_leg.h): one nua handle per leg, bound to it (hmagic), nua events
 * mapped to the leg events of its owner. The handle is destroyed when the leg is released,
 * never before its terminated call state (sofia-notes, "Tearing down"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/su_tag.h>

#include "common/log.h"
#include "sipua/sip_leg.h"
#include "sipua/sipua_int.h"

#define LEG_REASON_MAX 160

struct sip_leg {
	enum sipua_hkind kind;       /* SIPUA_H_LEG: first, for the event router (sipua_int.h) */
	struct sip_leg *next, *prev; /* in sipua's list */
	struct sipua *ua;
	nua_handle_t *nh;
	sip_leg_fn *fn;
	void *owner;
	bool server;          /* the request came to us */
	bool invite;          /* INVITE usage, else MESSAGE */
	bool tcp;             /* server: the request came over TCP; client: the flow is TCP */
	bool saved;           /* a server MESSAGE leg: its request is saved (saved_ev) so that it
	                         can be answered after the handler returned */
	nua_saved_event_t saved_ev[1];
	bool got_provisional; /* client: a 1xx (> 100) arrived: CANCEL may go */
	bool cancel_wanted;   /* client: CANCEL asked for before any 1xx */
	bool cancel_sent;
	bool answered;        /* a 2xx was received (client) / sent (server) */
	bool bye_sent;
	bool terminated;
	bool reinvite_pending; /* an in-dialog INVITE waits for our answer */
	bool dead;             /* released during one of its callbacks: freed when it returns */
	unsigned busy;         /* callbacks of this leg running */
	int final_status;      /* received (client) / sent (server) */
	char cancel_reason[LEG_REASON_MAX];
};

const char *sip_leg_event_name(enum sip_leg_event ev)
{
	switch (ev) {
	case SIP_LEG_PROGRESS:
		return "progress";
	case SIP_LEG_ANSWERED:
		return "answered";
	case SIP_LEG_FAILED:
		return "failed";
	case SIP_LEG_REINVITE:
		return "re-invite";
	case SIP_LEG_BYE:
		return "bye";
	case SIP_LEG_TERMINATED:
		return "terminated";
	}
	return "?";
}

/* ---------------------------------------------------------------- lifetime */

static struct sip_leg *leg_new(struct sipua *s, bool server, bool invite)
{
	struct sip_leg *leg = calloc(1, sizeof *leg);
	if (!leg)
		return NULL;
	leg->kind = SIPUA_H_LEG;
	leg->ua = s;
	leg->server = server;
	leg->invite = invite;
	leg->next = s->legs;
	if (s->legs)
		s->legs->prev = leg;
	s->legs = leg;
	return leg;
}

static void leg_unlink(struct sip_leg *leg)
{
	struct sipua *s = leg->ua;
	if (leg->prev)
		leg->prev->next = leg->next;
	else if (s->legs == leg)
		s->legs = leg->next;
	if (leg->next)
		leg->next->prev = leg->prev;
	leg->next = leg->prev = NULL;
}

static void leg_drop_handle(struct sip_leg *leg)
{
	if (!leg->nh)
		return;
	nua_handle_bind(leg->nh, NULL);
	nua_handle_destroy(leg->nh);
	leg->nh = NULL;
}

void sip_leg_release(struct sip_leg *leg)
{
	if (!leg || leg->dead)
		return;
	if (leg->server && !leg->invite && !leg->final_status && leg->nh && !leg->ua->shutting_down) {
		/* never leave a MESSAGE transaction open: its sender would wait for Timer F */
		log_warn("MESSAGE released without an answer: 500");
		sip_leg_respond(leg, 500, "Internal Server Error", NULL);
	}
	leg_unlink(leg);
	leg_drop_handle(leg);
	if (leg->saved) {
		nua_destroy_event(leg->saved_ev); /* after the answer: it holds its own reference */
		leg->saved = false;
	}
	leg->fn = NULL;
	leg->owner = NULL;
	leg->dead = true;
	if (!leg->busy)
		free(leg);
}

void sip_leg_bind(struct sip_leg *leg, sip_leg_fn *fn, void *owner)
{
	if (!leg || leg->dead)
		return;
	leg->fn = fn;
	leg->owner = fn ? owner : NULL;
}

void sipua_legs_free_all(struct sipua *s)
{
	while (s->legs)
		sip_leg_release(s->legs); /* never busy here: no callback runs */
}

/* Calls the owner. false when the leg was released meanwhile (do not touch it). */
static bool emit(struct sip_leg *leg, enum sip_leg_event ev, const struct sip_msg *m)
{
	if (leg->dead)
		return false;
	if (leg->fn) {
		leg->busy++;
		leg->fn(leg->owner, leg, ev, m);
		leg->busy--;
	}
	return !leg->dead;
}

/* After the last emit of an event: free a leg released meanwhile, release one nobody owns
 * once it is over. */
static void after_event(struct sip_leg *leg)
{
	if (leg->dead) {
		if (!leg->busy)
			free(leg);
		return;
	}
	if (leg->terminated && !leg->fn && !leg->busy)
		sip_leg_release(leg);
}

/* ---------------------------------------------------------------- state */

bool sip_leg_is_terminated(const struct sip_leg *leg)
{
	return !leg || leg->terminated || leg->dead;
}

bool sip_leg_over_tcp(const struct sip_leg *leg)
{
	return leg && leg->tcp;
}

int sip_leg_final_status(const struct sip_leg *leg)
{
	return leg ? leg->final_status : 0;
}

/* ---------------------------------------------------------------- requests we answer */

static const char *keep(nua_handle_t *nh, const char *s)
{
	/* nua_respond() is queued and copies its tags but not the phrase: copies live in the
	 * handle's memory (freed with the handle). */
	return s ? su_strdup(nua_handle_home(nh), s) : NULL;
}

int sip_leg_respond(struct sip_leg *leg, int status, const char *phrase, const struct sip_respond_opts *o)
{
	if (!leg || leg->dead || status < 100 || status > 699)
		return -EINVAL;
	if (!leg->nh || leg->terminated)
		return -ENOTCONN;
	if (leg->ua->shutdown_done)
		return -ESHUTDOWN; /* the stack is stopped (a late answer at cpmd's exit): nothing goes */
	bool reinvite = leg->reinvite_pending;
	if (!reinvite) {
		if (!leg->server)
			return -EINVAL; /* a client leg answers only a re-INVITE */
		if (leg->final_status)
			return -EALREADY;
	}
	nua_handle_t *nh = leg->nh;
	struct sipua *s = leg->ua;
	const struct sip_body *b = o ? o->body : NULL;
	const char *contact = o && o->contact ? keep(nh, leg->tcp ? s->contact_tcp : s->contact_udp) : NULL;
	const char *warning = o && o->warning && *o->warning ? keep(nh, o->warning) : NULL;
	const char *retry = o && o->retry_after ? keep(nh, o->retry_after) : NULL;
	const char *headers = o && o->headers && *o->headers ? keep(nh, o->headers) : NULL;
	const char *ct = b && b->content_type ? keep(nh, b->content_type) : NULL;
	sip_payload_t *pl = b ? sip_payload_create(nua_handle_home(nh), b->data, (isize_t)b->len) : NULL;
	if (b && (!pl || !ct))
		return -ENOMEM;
	/* The tag order is today's (same headers in the same order on the wire). A MESSAGE
	 * is answered on its own transaction, saved when it arrived (NUTAG_WITH_SAVED: the
	 * answer may come after its event; unsaved — out of memory — it is answered during its
	 * event: NUTAG_WITH_THIS). */
	nua_respond(nh, status, keep(nh, phrase), TAG_IF(leg->saved, NUTAG_WITH_SAVED(leg->saved_ev)),
		    TAG_IF(leg->server && !leg->invite && !leg->saved, NUTAG_WITH_THIS(s->nua)),
		    TAG_IF(contact, SIPTAG_CONTACT_STR(contact)), TAG_IF(warning, SIPTAG_WARNING_STR(warning)),
		    TAG_IF(retry, SIPTAG_RETRY_AFTER_STR(retry)), TAG_IF(ct, SIPTAG_CONTENT_TYPE_STR(ct)),
		    TAG_IF(pl, SIPTAG_PAYLOAD(pl)), TAG_IF(headers, SIPTAG_HEADER_STR(headers)), TAG_END());
	if (status >= 200) {
		if (reinvite) {
			leg->reinvite_pending = false;
		} else {
			leg->final_status = status;
			leg->answered = status < 300;
		}
	}
	return 0;
}

void sipua_new_invite(struct sipua *s, nua_handle_t *nh, sip_t const *sip)
{
	struct sip_msg m = {s->nua, sip, 0, NULL, s->cfg.as_mode, s->auth_user[0] ? s->auth_user : NULL};
	struct sip_leg *leg = leg_new(s, true, true);

	if (!leg) {
		/* no leg: the handle is destroyed at its terminated state (sipua.c) */
		nua_respond(nh, SIP_500_INTERNAL_SERVER_ERROR, TAG_END());
		return;
	}
	leg->nh = nh;
	leg->tcp = sip_msg_over_tcp(&m);
	nua_handle_bind(nh, leg);
	if (!s->on_invite) {
		sip_leg_respond(leg, 503, "Service Unavailable", NULL);
		return;
	}
	leg->busy++;
	s->on_invite(s->handler_arg, leg, &m);
	leg->busy--;
	if (!leg->dead && !leg->fn && !leg->final_status && !leg->terminated) {
		log_warn("INVITE neither taken nor answered by its handler: 500");
		sip_leg_respond(leg, 500, "Internal Server Error", NULL);
	}
	after_event(leg);
}

void sipua_new_message(struct sipua *s, nua_handle_t *nh, sip_t const *sip)
{
	struct sip_msg m = {s->nua, sip, 0, NULL, s->cfg.as_mode, s->auth_user[0] ? s->auth_user : NULL};
	struct sip_leg *leg = leg_new(s, true, false);

	if (!leg) {
		nua_respond(nh, SIP_500_INTERNAL_SERVER_ERROR, NUTAG_WITH_THIS(s->nua), TAG_END());
		nua_handle_destroy(nh); /* safe right away: the answer is queued before */
		return;
	}
	leg->nh = nh;
	leg->tcp = sip_msg_over_tcp(&m);
	nua_handle_bind(nh, leg);
	/* The request, kept so that the handler may answer after it returned (NUTAG_WITH_SAVED);
	 * the transaction stays open until then (MESSAGE is an application method). */
	leg->saved = nua_save_event(s->nua, leg->saved_ev) != 0;
	if (!leg->saved) {
		sip_leg_respond(leg, 500, "Internal Server Error", NULL);
	} else if (!s->on_message) {
		sip_leg_respond(leg, 501, "Standalone Messages Not Supported", NULL);
	} else {
		leg->busy++;
		s->on_message(s->handler_arg, leg, &m);
		leg->busy--;
	}
	if (leg->dead) {
		after_event(leg);
		return;
	}
	if (!leg->fn && !leg->final_status) {
		log_warn("MESSAGE neither taken nor answered by its handler: 500");
		sip_leg_respond(leg, 500, "Internal Server Error", NULL);
	}
	if (!leg->fn)
		sip_leg_release(leg); /* answered and not kept: the handle goes now */
}

/* ---------------------------------------------------------------- requests we send */

static int client_request(struct sipua *s, const struct sip_request *rq, const struct sip_target *t, sip_leg_fn *fn,
			  void *owner, bool invite, struct sip_leg **out)
{
	if (!s || !rq || !t || !t->contact || !rq->to || !rq->from || !out)
		return -EINVAL;
	if (s->shutting_down)
		return -ESHUTDOWN;
	struct sip_leg *leg = leg_new(s, false, invite);
	if (!leg)
		return -ENOMEM;
	leg->tcp = t->tcp;
	leg->nh = nua_handle(s->nua, leg, SIPTAG_TO_STR(rq->to), SIPTAG_FROM_STR(rq->from), TAG_END());
	if (!leg->nh) {
		sip_leg_release(leg);
		return -ENOMEM;
	}
	const struct sip_body *b = rq->body;
	sip_payload_t *pl = b ? sip_payload_create(nua_handle_home(leg->nh), b->data, (isize_t)b->len) : NULL;
	if (b && (!pl || !b->content_type)) {
		sip_leg_release(leg);
		return b->content_type ? -ENOMEM : -EINVAL;
	}
	const char *h = rq->headers && *rq->headers ? rq->headers : NULL;
	/* an AS-mode binding has no flow (pf reaches users through the core): no proxy */
	const char *flow = t->flow && *t->flow ? t->flow : NULL;
	/* Request-URI = the registered Contact; sent through the flow the device registered on
	 * (sofia finds the open connection by address). NUTAG_PROXY must go here, not to
	 * nua_handle() (sofia-notes). The tags and their order are today's. */
	/* a pre-loaded route set (RFC 3261 §8.1.2): nua puts it on the request and sends to its
	 * first entry (the flow is then not used: the route says where the request goes) */
	const char *route = rq->route && *rq->route ? rq->route : NULL;
	if (invite)
		nua_invite(leg->nh, NUTAG_URL(t->contact), TAG_IF(flow && !route, NUTAG_PROXY(flow)),
			   TAG_IF(route, NUTAG_INITIAL_ROUTE_STR(route)),
			   SIPTAG_CONTACT_STR(t->tcp ? s->contact_tcp : s->contact_udp),
			   TAG_IF(b, SIPTAG_CONTENT_TYPE_STR(b ? b->content_type : NULL)), TAG_IF(pl, SIPTAG_PAYLOAD(pl)),
			   TAG_IF(h, SIPTAG_HEADER_STR(h)), TAG_END());
	else
		nua_message(leg->nh, NUTAG_URL(t->contact), TAG_IF(flow && !route, NUTAG_PROXY(flow)),
			    TAG_IF(route, NUTAG_INITIAL_ROUTE_STR(route)),
			    TAG_IF(b, SIPTAG_CONTENT_TYPE_STR(b ? b->content_type : NULL)), TAG_IF(pl, SIPTAG_PAYLOAD(pl)),
			    TAG_IF(h, SIPTAG_HEADER_STR(h)), TAG_END());
	leg->fn = fn;
	leg->owner = fn ? owner : NULL;
	*out = leg;
	return 0;
}

int sip_leg_invite(struct sipua *ua, const struct sip_request *rq, const struct sip_target *t, sip_leg_fn *fn,
		   void *owner, struct sip_leg **out)
{
	return client_request(ua, rq, t, fn, owner, true, out);
}

int sip_leg_message(struct sipua *ua, const struct sip_request *rq, const struct sip_target *t, sip_leg_fn *fn,
		    void *owner, struct sip_leg **out)
{
	return client_request(ua, rq, t, fn, owner, false, out);
}

static void send_cancel(struct sip_leg *leg)
{
	leg->cancel_wanted = false;
	leg->cancel_sent = true;
	nua_cancel(leg->nh, SIPTAG_REASON_STR(leg->cancel_reason), TAG_END());
}

bool sip_leg_cancel(struct sip_leg *leg, const char *reason)
{
	if (!leg || leg->dead || leg->server || !leg->invite || !leg->nh || leg->terminated || leg->final_status ||
	    leg->answered || leg->cancel_sent)
		return false;
	if (!reason || strlen(reason) >= sizeof leg->cancel_reason)
		reason = SIP_REASON_CALLER_CANCEL;
	strcpy(leg->cancel_reason, reason);
	if (!leg->got_provisional) {
		/* RFC 3261 §9.1: not before a provisional response; sent at the first one */
		leg->cancel_wanted = true;
		return false;
	}
	send_cancel(leg);
	return true;
}

void sip_leg_bye(struct sip_leg *leg)
{
	if (!leg || leg->dead || !leg->invite || !leg->nh || leg->terminated || leg->bye_sent || !leg->answered)
		return;
	leg->bye_sent = true;
	nua_bye(leg->nh, TAG_END());
}

/* ---------------------------------------------------------------- events */

static void client_response(struct sip_leg *leg, int status, const struct sip_msg *m)
{
	if (leg->server)
		return;
	if (status < 200) {
		if (status > 100)
			leg->got_provisional = true;
		if (leg->cancel_wanted && leg->got_provisional && leg->invite) {
			log_debug("leg %p: deferred CANCEL sent after %d", (void *)leg, status);
			send_cancel(leg);
		}
		emit(leg, SIP_LEG_PROGRESS, m);
		return;
	}
	if (leg->final_status)
		return; /* a final answer was reported already */
	leg->final_status = status;
	leg->answered = status < 300;
	if (!emit(leg, status < 300 ? SIP_LEG_ANSWERED : SIP_LEG_FAILED, m))
		return;
	if (!leg->invite) {
		/* a MESSAGE is over with its final response: there is no call state */
		leg->terminated = true;
		emit(leg, SIP_LEG_TERMINATED, NULL);
	}
}

void sipua_leg_event(struct sipua *s, struct sip_leg *leg, nua_event_t event, int status, const char *phrase,
		     sip_t const *sip, tagi_t tags[])
{
	struct sip_msg m = {s->nua, sip, status, phrase, s->cfg.as_mode, NULL};
	int cs = -1;

	if (leg->dead)
		return; /* cannot happen: a released leg's handle is unbound */
	switch (event) {
	case nua_r_invite:
		if (leg->invite)
			client_response(leg, status, &m);
		break;
	case nua_r_message:
		if (!leg->invite)
			client_response(leg, status, &m);
		break;
	case nua_i_invite:
		m.status = 0;
		leg->reinvite_pending = true;
		if (emit(leg, SIP_LEG_REINVITE, &m) && leg->reinvite_pending)
			sip_leg_respond(leg, 488, "Re-INVITE Not Supported", NULL);
		break;
	case nua_i_bye:
		m.status = 0;
		emit(leg, SIP_LEG_BYE, &m);
		break;
	case nua_i_message:
		/* a MESSAGE inside one of our dialogs: not a service of ours */
		nua_respond(leg->nh, 501, "Standalone Messages Not Supported", NUTAG_WITH_THIS(s->nua), TAG_END());
		break;
	case nua_i_notify:
		/* AS mode (NOTIFY is an application method): a NOTIFY in an INVITE dialog has no
		 * subscription of ours (RFC 6665 §4.1.3: 481) */
		if (s->cfg.as_mode)
			nua_respond(leg->nh, 481, "Subscription Does Not Exist", NUTAG_WITH_THIS(s->nua), TAG_END());
		break;
	case nua_i_options:
		if (s->cfg.as_mode) /* an application method in AS mode */
			nua_respond(leg->nh, SIP_200_OK, NUTAG_WITH_THIS(s->nua), TAG_END());
		break;
	case nua_i_state:
		tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
		if (cs == nua_callstate_terminated && !leg->terminated) {
			leg->terminated = true;
			emit(leg, SIP_LEG_TERMINATED, NULL);
		}
		break;
	default:
		break;
	}
	after_event(leg);
}
