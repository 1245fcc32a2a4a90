/* Standalone messages in, pager mode (docs/internals/messaging.md §1, §3): a SIP MESSAGE whose
 * body is message/cpim.
 *
 *   check      Request-URI a user of ours (else 404 "No Route"), body within the pager limit
 *              (policy_check_pager: 413), the CPIM wrapper (cpim_parse) with exactly one From,
 *              To, imdn.Message-ID and DateTime (400 naming the header), CPIM From = the SIP
 *              sender, CPIM To = the recipient. A CPIM holding an IMDN is a report: pf_report.c.
 *   screen     the recipient's blocked senders and max-size, and when screened the type lists
 *              on the CPIM content's type (403/415/413, pf_screen_check); with --clamd the body
 *              is scanned on a worker before it is routed or stored (403 "Malware Found").
 *   record     when the sender asked for a report, the routed record (store_routed_put) is
 *              committed before any device can see the message, so that the device's report
 *              finds it (messaging.md §4).
 *   route      a MESSAGE fork (the one fork engine, SIP_FORK_MESSAGE) from the original sender
 *              to every registered device, the body unchanged, the CPM headers carried (default
 *              Accept-Contact: the msg ICSI). The first 2xx: 200 to the sender (the other
 *              branches still deliver: a MESSAGE is not cancelled). A 6xx: passed on.
 *   store      no device, every device unavailable, no 2xx within --message-timeout, when the
 *              recipient's policy allows it: an item of kind message with the body in its row
 *              (store_item_put_body: durable in one group commit), then 202 Accepted +
 *              Cpm-Stored: ID, then push (pf_deliver.c) or the pull list. Otherwise 480, or the
 *              best answer of the devices.
 * The sender's MESSAGE leg is bound and answered once, when the outcome is known; the fork's
 * timer (--message-timeout, default 8 s) keeps that well within the sender's 32 s Timer F.
 *
 * Lifetime: a struct pf_msgin lives from the MESSAGE until it is answered and no store
 * callback points to it any more (store_refs). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/domains.h"
#include "common/log.h"
#include "common/metrics.h"
#include "cpm/cpim.h"
#include "cpm/imdn.h"
#include "cpm/msrp.h"
#include "pf/pf_int.h"

#define CPIM_CTYPE "message/cpim"

/* What a Disposition-Notification asks (lib/imdn) is kept as the store's bits as it is. */
_Static_assert((int)IMDN_ASK_POSITIVE == (int)STORE_IMDN_POSITIVE &&
		       (int)IMDN_ASK_NEGATIVE == (int)STORE_IMDN_NEGATIVE &&
		       (int)IMDN_ASK_DISPLAY == (int)STORE_IMDN_DISPLAY,
	       "IMDN request bits and store bits differ");

enum msgin_state {
	MSGIN_RECORDING, /* the routed record is being committed */
	MSGIN_SCANNING,  /* clamd scans the body (pf_screen.c) */
	MSGIN_FORKING,   /* the devices are being tried */
	MSGIN_STORING,   /* the item is being committed */
	MSGIN_DONE,      /* the sender is answered */
};

struct pf_msgin {
	struct pf_msgin *next, *prev;
	struct pf *pf;
	struct cpm_arena arena; /* body, carried headers, fork From */
	char id[20];            /* for logs */
	enum msgin_state state;
	struct sip_leg *leg;    /* the sender's MESSAGE: bound, answered once */
	struct sip_fork *fork;
	unsigned store_refs;    /* store callbacks still to come that point here */
	unsigned busy;          /* route() on the stack: its fork may decide from inside it */
	char sender[STORE_AOR_MAX + 1];   /* the SIP From URI, as stored items keep it */
	char sender_key[LOC_MAX_AOR];
	char recipient[LOC_MAX_AOR];
	char *fork_from;        /* "DISPLAY <URI>" or "<URI>" */
	char *headers;          /* the CPM headers carried to every device */
	const char *onward_route; /* AS mode, orig: the core's route back (pf_onward_route) */
	char *body;             /* the message/cpim body, unchanged */
	size_t len;
	char msgid[STORE_MSGID_MAX + 1];
	char datetime[STORE_DATETIME_MAX + 1];
	unsigned asked;         /* STORE_IMDN_* */
	uint64_t req_expires;   /* Cpm-Expires (0: none) */
	bool no_answer;         /* stored because its devices did not take it: retry later */
	char net_stored[STORE_ID_MAX + 16]; /* the winner is another domain's PF that stored it:
	                                       "Cpm-Stored: ID\r\n" for our 202 ("" if not) */
};

/* ------------------------------------------------------------ lifetime */

static void msgin_free(struct pf_msgin *mi)
{
	struct pf *pf = mi->pf;
	if (mi->prev)
		mi->prev->next = mi->next;
	else if (pf->msgins == mi)
		pf->msgins = mi->next;
	if (mi->next)
		mi->next->prev = mi->prev;
	sip_fork_destroy(mi->fork); /* a MESSAGE fork's branches end on their own */
	sip_leg_release(mi->leg);   /* unanswered (shutdown): 500 first */
	cpm_arena_free(&mi->arena);
	free(mi);
}

static void msgin_maybe_free(struct pf_msgin *mi)
{
	if (mi->state == MSGIN_DONE && !mi->store_refs && !mi->busy)
		msgin_free(mi);
}

/* The one answer to the sender. */
static void answer(struct pf_msgin *mi, int status, const char *phrase, const char *warning, const char *headers)
{
	if (mi->state == MSGIN_DONE)
		return;
	mi->state = MSGIN_DONE;
	struct sip_respond_opts o = {.warning = warning, .headers = headers};
	int rc = sip_leg_respond(mi->leg, status, phrase, &o);
	if (rc)
		log_warn("msg %s: the answer %d to %s could not be sent: %s", mi->id, status, mi->sender, strerror(-rc));
	sip_leg_release(mi->leg);
	mi->leg = NULL;
}

/* ------------------------------------------------------------ store */

static bool defer_allowed(struct pf_msgin *mi)
{
	struct pf_user_policy up;
	pf_prefs_get(mi->pf, mi->recipient, &up);
	return policy_may_defer(&mi->pf->cfg, &up, true); /* a message's size is always known */
}

static void fill_item(struct pf_msgin *mi, struct store_item *it, const char *id)
{
	struct pf *pf = mi->pf;
	memset(it, 0, sizeof *it);
	PF_COPY(it->id, id);
	PF_COPY(it->sender, mi->sender);
	PF_COPY(it->recipient, mi->recipient);
	PF_COPY(it->sel.name, "message");
	PF_COPY(it->sel.type, CPIM_CTYPE);
	it->sel.size = mi->len;
	pf_carried_value(mi->headers, "Conversation-ID", it->conv_id, sizeof it->conv_id);
	pf_carried_value(mi->headers, "Contribution-ID", it->contrib_id, sizeof it->contrib_id);
	pf_carried_value(mi->headers, "InReplyTo-Contribution-ID", it->irt_contrib_id, sizeof it->irt_contrib_id);
	it->created_at_ms = pf_now_ms();
	it->expires_at_ms = policy_expiry(&pf->cfg, it->created_at_ms, mi->req_expires);
	it->state = STORE_ITEM_STORED;
	it->bytes_received = mi->len;
	PF_COPY(it->imdn_msgid, mi->msgid);
	it->imdn_disp = mi->asked;
	it->kind = STORE_KIND_MESSAGE;
	it->body_inline = true;
}

struct stored_ctx {
	struct pf_msgin *mi;
	struct store_item it;
};

static void stored(void *arg, int err)
{
	struct stored_ctx *c = arg;
	struct pf_msgin *mi = c->mi;
	struct pf *pf = mi->pf;

	mi->store_refs--;
	if (err) {
		log_error("msg %s: message %s for %s could NOT be stored (%s): the sender is told", mi->id, mi->msgid,
			  mi->recipient, strerror(-err));
		answer(mi, 500, "Cannot Store The Message", NULL, NULL);
	} else {
		log_info("msg %s: stored as item %s for %s (%zu bytes, durable)", mi->id, c->it.id, mi->recipient,
			 mi->len);
		char hdr[64];
		snprintf(hdr, sizeof hdr, "Cpm-Stored: %s\r\n", c->it.id);
		answer(mi, 202, "Accepted", NULL, hdr);
		metrics_message(MM_STORED);
		metrics_stored_bytes(mi->len);
		if (!pf->stopping) {
			if (mi->no_answer)
				pf_deliver_later(pf, mi->recipient); /* its devices just did not take it */
			else
				pf_deliver_kick(pf, mi->recipient, false);
			struct pf_user_policy up;
			pf_prefs_get(pf, mi->recipient, &up);
			if (up.method == STORE_METHOD_PULL)
				pf_notify_deferred_list(pf, mi->recipient, NULL, &c->it);
		}
	}
	free(c);
	msgin_maybe_free(mi);
}

/* The recipient cannot take it now: store it, or say why not (the verdict when not allowed). */
static void defer_or_answer(struct pf_msgin *mi, const char *why, const struct pf_verdict *no)
{
	if (!defer_allowed(mi)) {
		log_info("msg %s: %s; not stored (deferral off for %s): %d %s", mi->id, why, mi->recipient, no->status,
			 no->phrase);
		answer(mi, no->status, no->phrase, no->warning[0] ? no->warning : NULL, NULL);
		return;
	}
	struct pf_verdict qv;
	pf_quota_check(mi->pf, mi->recipient, mi->len, &qv);
	if (qv.status) {
		log_info("msg %s: %s; not stored for %s: %s", mi->id, why, mi->recipient, qv.phrase);
		answer(mi, qv.status, qv.phrase, qv.warning, NULL);
		return;
	}
	struct stored_ctx *c = calloc(1, sizeof *c);
	char id[STORE_ID_MAX + 1];
	pf_random_id(id);
	int rc = -ENOMEM;
	if (c) {
		c->mi = mi;
		fill_item(mi, &c->it, id);
		rc = store_item_put_body(mi->pf->st, &c->it, mi->body, mi->len, stored, c);
	}
	if (rc) {
		log_error("msg %s: cannot queue the message for the store: %s", mi->id, strerror(-rc));
		free(c);
		answer(mi, 500, "Cannot Store The Message", NULL, NULL);
		return;
	}
	log_info("msg %s: %s: cpmd stores it for %s", mi->id, why, mi->recipient);
	mi->store_refs++;
	mi->state = MSGIN_STORING;
}

/* ------------------------------------------------------------ the fork */

static void fork_done(void *owner, struct sip_fork *f, const struct sip_fork_result *r)
{
	struct pf_msgin *mi = owner;
	struct pf_verdict v;

	if (mi->state != MSGIN_FORKING)
		return;
	switch (r->outcome) {
	case SIP_FORK_ANSWERED:
		/* the winning MESSAGE leg ends by itself (unbound: sipua releases it) */
		log_info("msg %s: message %s from %s taken by %s's %s %s%s", mi->id, mi->msgid, mi->sender_key,
			 mi->recipient, pf_user_is_ours(mi->pf, mi->recipient) ? "device" : "PF",
			 r->device ? r->device : "?", mi->net_stored[0] ? " (stored there)" : "");
		metrics_message(MM_DELIVERED);
		if (mi->net_stored[0])
			answer(mi, 202, NULL, NULL, mi->net_stored); /* messaging.md §1: stored, not sent */
		else
			answer(mi, 200, NULL, NULL, NULL);
		if (mi->pf->mss) { /* the parties' message histories */
			struct store_item it;
			char id[STORE_ID_MAX + 1];
			pf_random_id(id);
			fill_item(mi, &it, id);
			pf_mss_message_routed(mi->pf, &it, mi->body, mi->len, "delivered");
		}
		break;
	case SIP_FORK_ENDED:
		log_info("msg %s: device %s answered %d %s", mi->id, r->device ? r->device : "?", r->status, r->phrase);
		answer(mi, r->status, r->phrase, NULL, NULL);
		break;
	case SIP_FORK_TIMEOUT:
		mi->no_answer = true;
		policy_unreachable(&mi->pf->cfg, PF_NO_ANSWER, &v);
		defer_or_answer(mi, "no device took it in time", &v);
		break;
	case SIP_FORK_FAILED:
		if (!r->all_unavailable) {
			log_info("msg %s: the devices answered %d %s", mi->id, r->status, r->phrase);
			answer(mi, r->status, r->phrase, NULL, NULL);
			break;
		}
		mi->no_answer = true;
		policy_unreachable(&mi->pf->cfg, PF_ALL_UNAVAILABLE, &v);
		defer_or_answer(mi, "every device is unavailable", &v);
		break;
	}
	sip_fork_destroy(f);
	mi->fork = NULL;
	msgin_maybe_free(mi);
}

static enum sip_fork_class fork_classify(void *owner, int status)
{
	return policy_fork_class(status);
}

/* Every 2xx is fine (no SDP to check). A 202 with Cpm-Stored comes from another domain's PF
 * that stored the message for its user: the sender hears "stored", as from us. */
static bool fork_accept(void *owner, struct sip_fork *f, unsigned branch, struct sip_leg *leg,
			const struct sip_msg *m)
{
	struct pf_msgin *mi = owner;
	char id[STORE_ID_MAX + 1];
	mi->net_stored[0] = '\0';
	if (sip_msg_status(m) == 202 && sip_msg_header(m, "Cpm-Stored", id, sizeof id) == 0 && store_id_valid(id))
		snprintf(mi->net_stored, sizeof mi->net_stored, "Cpm-Stored: %s\r\n", id);
	return true;
}

static const struct sip_fork_ops msg_fork_ops = {
	.accept = fork_accept,
	.done = fork_done,
	.classify = fork_classify,
};

/* The caller frees mi afterwards if it is done (msgin_maybe_free): the fork may decide from
 * inside sip_fork_start. */
static void route(struct pf_msgin *mi)
{
	struct pf *pf = mi->pf;
	struct pf_verdict v;
	struct cpm_arena tmp = CPM_ARENA_INIT;
	struct loc_device *devs = cpm_arena_alloc(&tmp, pf->cfg.max_devices * sizeof *devs);
	size_t nd = devs ? pf_devices(pf, mi->recipient, devs, pf->cfg.max_devices) : 0;

	mi->state = MSGIN_FORKING;
	mi->busy++;
	if (nd == 0) {
		policy_unreachable(&pf->cfg, PF_NO_DEVICE, &v);
		defer_or_answer(mi, "no device registered", &v);
		goto out;
	}
	char to[LOC_MAX_AOR + 8];
	snprintf(to, sizeof to, "<sip:%s>", mi->recipient);
	struct sip_body body = {.content_type = CPIM_CTYPE, .data = mi->body, .len = mi->len};
	struct sip_request rq = {.to = to, .from = mi->fork_from, .body = &body, .headers = mi->headers,
				 .route = mi->onward_route};
	struct sip_fork_params fp = {
		.method = SIP_FORK_MESSAGE,
		.request = &rq,
		.timeout_ms = pf->cfg.message_timeout * 1000,
		.max_branches = (unsigned)nd,
		.log_id = mi->id,
	};
	if (sip_fork_create(&mi->fork, pf->sipua, pf->loop, &fp, &msg_fork_ops, mi)) {
		answer(mi, 500, "Cannot Route The Message", NULL, NULL);
		goto out;
	}
	log_info("msg %s: message %s from %s to %s: %zu device(s)", mi->id, mi->msgid, mi->sender_key, mi->recipient,
		 nd);
	for (size_t i = 0; i < nd; i++) {
		struct sip_target t;
		pf_target_of(&devs[i], &t);
		sip_fork_add(mi->fork, &t, devs[i].instance);
	}
	sip_fork_start(mi->fork); /* every branch may have failed locally: done from here */
out:
	mi->busy--;
	cpm_arena_free(&tmp);
}

/* ------------------------------------------------------------ record */

static void recorded(void *arg, int err)
{
	struct pf_msgin *mi = arg;
	mi->store_refs--;
	if (mi->state != MSGIN_RECORDING) {
		msgin_maybe_free(mi); /* answered meanwhile (shutdown) */
		return;
	}
	if (err) {
		/* Without the record a device's report would be dropped: the sender asked for one. */
		log_error("msg %s: message %s could not be recorded (%s)", mi->id, mi->msgid, strerror(-err));
		answer(mi, 500, "Cannot Record The Message", NULL, NULL);
		msgin_maybe_free(mi);
		return;
	}
	route(mi);
	msgin_maybe_free(mi);
}

/* ------------------------------------------------------------ MESSAGE in */

static void msgin_go(struct pf_msgin *mi);
static void msg_scanned(void *arg, const struct pf_verdict *v);

/* A CPIM header value copied into out (cap bytes): 0, or -1 when it does not fit or holds a
 * control character or a space (ids and DateTime are tokens). */
static int copy_token(char *out, size_t cap, struct cpm_str v)
{
	if (!v.p || v.len == 0 || v.len >= cap)
		return -1;
	for (size_t i = 0; i < v.len; i++)
		if ((unsigned char)v.p[i] <= 0x20 || v.p[i] == 0x7f)
			return -1;
	cpm_str_copy(out, cap, v);
	return 0;
}

/* "user@host" of the URI in a CPIM From/To ("<sip:alice@example.com>"), or -1. */
static int cpim_addr_key(struct cpm_str v, char *out, size_t cap)
{
	char uri[STORE_AOR_MAX + 1];
	struct cpm_str u = cpim_addr_uri(v);
	if (!u.p || !cpm_str_copy(uri, sizeof uri, u))
		return -1;
	return sip_uri_aor_key(uri, out, cap);
}

/* 400 naming what is wrong with the CPIM wrapper. */
static void bad_cpim(struct sip_leg *leg, const char *what, struct cpm_str header)
{
	char phrase[128];
	/* a header name is printable ASCII without spaces (cpim_parse); bounded here */
	snprintf(phrase, sizeof phrase, "%s CPIM Header %.*s", what, header.len > 64 ? 64 : (int)header.len,
		 header.p ? header.p : "");
	sip_leg_respond(leg, 400, phrase, NULL);
}

void pf_msg_cpim(struct pf *pf, struct sip_leg *leg, const struct sip_msg *m)
{
	struct sip_addr ru, from;
	char recipient[LOC_MAX_AOR], sender_key[LOC_MAX_AOR], key[LOC_MAX_AOR];
	struct cpm_str body = sip_msg_body(m);
	struct pf_verdict v;
	struct cpim_msg c;

	int ur = sip_msg_request_uri(m, &ru), fr = pf_identity(m, &from);
	if (ur || fr || location_aor_key(recipient, sizeof recipient, ru.user, ru.host) ||
	    location_aor_key(sender_key, sizeof sender_key, from.user, from.host) || strlen(from.uri) > STORE_AOR_MAX) {
		sip_leg_respond(leg, 400, ur == -E2BIG || fr == -E2BIG ? "Request-URI Or From Too Long"
								       : "Bad Request-URI Or From",
				NULL);
		return;
	}
	const char *why = NULL;
	int st = pf_check_parties(pf, m, &ru, &from, &why);
	if (st) {
		/* not ours to route (pf_route.c; messaging.md §1) */
		log_info("MESSAGE from %s to %s: %d %s", sender_key, recipient, st, why);
		sip_leg_respond(leg, st, st == 404 ? "No Route (Not A Domain Of This Server)" : why, NULL);
		return;
	}
	/* the size first: nothing of an oversized body is parsed */
	policy_check_pager(&pf->cfg, body.len, &v);
	if (v.status) {
		log_info("MESSAGE from %s to %s refused: %d %s", sender_key, recipient, v.status, v.phrase);
		metrics_message(MM_REJECTED);
		struct sip_respond_opts o = {.warning = v.warning};
		sip_leg_respond(leg, v.status, v.phrase, &o);
		return;
	}
	int rc = cpim_parse(body.p, body.len, &c);
	if (rc) {
		log_info("MESSAGE from %s to %s: bad CPIM: %s", sender_key, recipient, cpim_strerror(rc));
		if (rc == CPIM_E_DUPLICATE && c.error_header.p)
			bad_cpim(leg, "Duplicate", c.error_header);
		else
			sip_leg_respond(leg, 400,
					rc == CPIM_E_TRUNCATED ? "Missing Or Truncated CPIM Body" : "Malformed CPIM Body", NULL);
		return;
	}
	/* A report is a message/cpim too: its checks are pf_report.c's. */
	if (cpm_str_caseeq(mime_type_only(c.content_type), IMDN_CTYPE)) {
		pf_report_in(pf, leg, m, body.p, body.len);
		return;
	}
	if (c.n_to > 1) {
		bad_cpim(leg, "Duplicate", cpm_str_c("To"));
		return;
	}
	static const char *const names[] = {"From", "To", "imdn.Message-ID", "DateTime"};
	const struct cpm_str *need[] = {&c.from, &c.to, &c.imdn_message_id, &c.datetime};
	for (size_t i = 0; i < 4; i++)
		if (!need[i]->p) {
			bad_cpim(leg, "Missing", cpm_str_c(names[i]));
			return;
		}
	/* Content screening: the CPIM content's type, the body's size (pf_screen.c). */
	char ctype[128];
	struct cpm_str ct = mime_type_only(c.content_type);
	snprintf(ctype, sizeof ctype, "%.*s", ct.p && ct.len < sizeof ctype ? (int)ct.len : 0, ct.p ? ct.p : "");
	pf_screen_check(pf, recipient, sender_key, ctype[0] ? ctype : "text/plain", body.len, true, &v);
	if (v.status) {
		log_info("MESSAGE from %s to %s refused: %d %s", sender_key, recipient, v.status, v.phrase);
		metrics_message(MM_REJECTED);
		struct sip_respond_opts o = {.warning = v.warning[0] ? v.warning : NULL};
		sip_leg_respond(leg, v.status, v.phrase, &o);
		return;
	}
	struct pf_msgin *mi = calloc(1, sizeof *mi);
	if (!mi) {
		sip_leg_respond(leg, 500, NULL, NULL);
		return;
	}
	mi->pf = pf;
	if (copy_token(mi->msgid, sizeof mi->msgid, c.imdn_message_id)) {
		bad_cpim(leg, "Bad", cpm_str_c("imdn.Message-ID"));
		goto fail;
	}
	if (copy_token(mi->datetime, sizeof mi->datetime, c.datetime)) {
		bad_cpim(leg, "Bad", cpm_str_c("DateTime"));
		goto fail;
	}
	/* The CPIM addresses are what the recipient sees and where reports go: they must be the
	 * SIP ones (with authentication in front, From is the authenticated identity). */
	if (cpim_addr_key(c.from, key, sizeof key) || strcmp(key, sender_key)) {
		sip_leg_respond(leg, 403, "CPIM From Is Not The Sender", NULL);
		goto fail;
	}
	if (cpim_addr_key(c.to, key, sizeof key) || strcmp(key, recipient)) {
		sip_leg_respond(leg, 400, "CPIM To Is Not The Recipient", NULL);
		goto fail;
	}
	if (pf_cpm_expires(m, &mi->req_expires)) {
		sip_leg_respond(leg, 400, "Bad Cpm-Expires (seconds expected)", NULL);
		goto fail;
	}
	mi->asked = imdn_disposition_bits(c.imdn_disposition_notification);
	PF_COPY(mi->sender, from.uri);
	PF_COPY(mi->sender_key, sender_key);
	PF_COPY(mi->recipient, recipient);
	msrp_random_ident(mi->id, 16);
	mi->headers = sip_msg_carried_headers(m, &mi->arena, CPM_MSG_ICSI_TAG);
	mi->onward_route = pf_onward_route(pf, m, &mi->arena);
	mi->fork_from = from.display_raw[0] ? cpm_arena_printf(&mi->arena, "%s <%s>", from.display_raw, from.uri)
					    : cpm_arena_printf(&mi->arena, "<%s>", from.uri);
	mi->body = cpm_arena_alloc_raw(&mi->arena, body.len + 1);
	if (!mi->headers || !mi->fork_from || !mi->body) {
		sip_leg_respond(leg, 500, NULL, NULL);
		goto fail;
	}
	memcpy(mi->body, body.p, body.len);
	mi->len = body.len;
	/* from here on the sender's MESSAGE is answered by us, once, when we know */
	mi->leg = leg;
	sip_leg_bind(leg, pf_leg_no_event, mi);
	mi->next = pf->msgins;
	if (pf->msgins)
		pf->msgins->prev = mi;
	pf->msgins = mi;
	log_info("msg %s: MESSAGE %s from %s to %s (%zu bytes%s)", mi->id, mi->msgid, sender_key, recipient, mi->len,
		 mi->asked ? ", reports asked" : "");
	if (pf_screen_wanted(pf, recipient)) {
		char what[48];
		snprintf(what, sizeof what, "msg %s", mi->id);
		mi->state = MSGIN_SCANNING;
		if (pf_screen_buf(pf, mi->body, mi->len, what, msg_scanned, mi) == 0) {
			mi->store_refs++;
			return;
		}
		struct pf_verdict sv;
		policy_scan_result(&pf->cfg, CLAMD_ERROR, NULL, "cannot queue the scan", &sv);
		if (sv.status) {
			answer(mi, sv.status, sv.phrase, NULL, NULL);
			msgin_maybe_free(mi);
			return;
		}
	}
	msgin_go(mi);
	msgin_maybe_free(mi);
	return;
fail:
	cpm_arena_free(&mi->arena);
	free(mi);
}

/* The message passed its checks (and its scan): record it when the sender asked for reports,
 * then route it. */
static void msgin_go(struct pf_msgin *mi)
{
	struct pf *pf = mi->pf;
	if (!mi->asked) {
		route(mi); /* no report will come: nothing to record */
		return;
	}
	struct store_routed r = {.asked = mi->asked, .expires_at_ms = policy_routed_expiry(&pf->cfg, pf_now_ms())};
	PF_COPY(r.sender, mi->sender_key);
	PF_COPY(r.msgid, mi->msgid);
	PF_COPY(r.recipient, mi->recipient);
	PF_COPY(r.datetime, mi->datetime);
	mi->state = MSGIN_RECORDING;
	int rc = store_routed_put(pf->st, &r, recorded, mi);
	if (rc) {
		log_error("msg %s: cannot queue the record of message %s: %s", mi->id, mi->msgid, strerror(-rc));
		answer(mi, 500, "Cannot Record The Message", NULL, NULL);
		return;
	}
	mi->store_refs++;
}

static void msg_scanned(void *arg, const struct pf_verdict *v)
{
	struct pf_msgin *mi = arg;
	mi->store_refs--;
	if (mi->state == MSGIN_SCANNING) { /* not answered meanwhile (shutdown) */
		if (v->status) {
			log_info("msg %s: refused for %s: %d %s", mi->id, mi->recipient, v->status, v->phrase);
			metrics_message(MM_REJECTED);
			answer(mi, v->status, v->phrase, NULL, NULL);
		} else
			msgin_go(mi);
	}
	msgin_maybe_free(mi);
}

void pf_msgin_terminate_all(struct pf *pf)
{
	for (struct pf_msgin *mi = pf->msgins, *next; mi; mi = next) {
		next = mi->next;
		if (mi->state == MSGIN_STORING)
			continue; /* answered when the commit answers: it may be stored by then */
		if (mi->fork)
			sip_fork_cancel(mi->fork, SIP_REASON_CALLER_CANCEL);
		answer(mi, 503, "Server Shutting Down", NULL, NULL);
		msgin_maybe_free(mi);
	}
}

void pf_msgin_destroy_all(struct pf *pf)
{
	while (pf->msgins)
		msgin_free(pf->msgins);
}
