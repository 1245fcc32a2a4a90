/* Reports from devices (IMDN, RFC 5438; docs/internals/messaging.md §4): a MESSAGE to the
 * original sender whose message/cpim holds a message/imdn+xml. cpmd never forwards it as it
 * is. It checks it, and sends the sender its own IMDN (pf_notify.c builds it with
 * imdn_build_cpim):
 *   1. the report parses (lib/imdn), and its <message-id> names a message cpmd routed or stored
 *      FROM the report's target (the Request-URI: the original sender) TO the reporting user
 *      (the SIP From) — the routed record (store.h, struct store_routed) — and the sender
 *      asked for that kind of report (policy_report_bit). Anything else is answered 200 and
 *      dropped (logged): a device learns nothing about other people's messages, and nobody
 *      gets a report about a message they did not send;
 *   2. per message, at most one delivered, one displayed and one failed ever go to the sender,
 *      whatever the number of devices: store_routed_report sets the report's bit and queues
 *      the sender's notification in one write, only when the bit was not set;
 *   3. the device gets its 200 once that write is durable; the notification then goes to the
 *      sender's devices one at a time (pf_notify_send), or waits for the sender's REGISTER. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/domains.h"
#include "common/log.h"
#include "cpm/imdn.h"
#include "pf/pf_int.h"

struct report_ctx {
	struct pf *pf;
	struct sip_leg *leg; /* the device's MESSAGE, bound: answered when the write is durable */
	struct store_notif n;
	char reporter[LOC_MAX_AOR];
};


static void reported(void *arg, int err)
{
	struct report_ctx *c = arg;

	if (!err) {
		log_info("report %s (%s) from %s about %s: forwarded to %s", c->n.id, pf_notif_kind_name(c->n.kind),
			 c->reporter, c->n.imdn_msgid, c->n.target);
		sip_leg_respond(c->leg, 200, NULL, NULL);
		pf_notify_send(c->pf, &c->n);
	} else if (err == -EALREADY || err == -ENOENT) {
		log_info("report (%s) from %s about %s: %s: dropped", pf_notif_kind_name(c->n.kind), c->reporter,
			 c->n.imdn_msgid,
			 err == -EALREADY ? "that report went to the sender already" : "no such message");
		sip_leg_respond(c->leg, 200, NULL, NULL);
	} else {
		log_error("report (%s) from %s about %s NOT saved: %s", pf_notif_kind_name(c->n.kind), c->reporter,
			  c->n.imdn_msgid, strerror(-err));
		sip_leg_respond(c->leg, 500, "Cannot Record The Report", NULL);
	}
	sip_leg_release(c->leg);
	free(c);
}

/* 200 to a report that goes nowhere: its sender learns nothing from the answer. */
static void drop(struct sip_leg *leg)
{
	sip_leg_respond(leg, 200, NULL, NULL);
}

void pf_report_in(struct pf *pf, struct sip_leg *leg, const struct sip_msg *m, const char *body, size_t len)
{
	struct sip_addr from, ru;
	char reporter[LOC_MAX_AOR], target[LOC_MAX_AOR];
	struct imdn_note note;
	struct store_routed r;

	if (pf_identity(m, &from) || sip_msg_request_uri(m, &ru) ||
	    location_aor_key(reporter, sizeof reporter, from.user, from.host) ||
	    location_aor_key(target, sizeof target, ru.user, ru.host)) {
		sip_leg_respond(leg, 400, "Bad Request-URI Or From", NULL);
		return;
	}
	int rc = imdn_parse_cpim(body, len, &note);
	if (rc != IMDN_OK) {
		log_info("report from %s to %s: %s: dropped", reporter, target, imdn_strerror(rc));
		drop(leg);
		return;
	}
	/* pf_check_parties (pf_msg_cpim) let it in: the sender (target) is ours, or the reporter
	 * is ours and the sender's domain has a route. Either way the routed record below decides:
	 * we routed that message between these two, or the report goes nowhere. A report for a
	 * sender elsewhere then goes to the sender's domain (pf_devices), deferred here while
	 * that domain cannot be reached. */
	char id[IMDN_MAX_MSGID + 1]; /* the peer's id, for the log only, controls masked */
	snprintf(id, sizeof id, "%s", note.message_id);
	for (char *p = id; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (store_routed_get(pf->st, target, note.message_id, reporter, &r)) {
		log_info("report from %s to %s about %s: not a message routed from %s to %s: dropped", reporter, target,
			 id, target, reporter);
		drop(leg);
		return;
	}
	unsigned bit = policy_report_bit(note.kind, note.status, r.asked);
	if (!bit) {
		log_info("report from %s about %s: %s %s was not asked for: dropped", reporter, id,
			 imdn_kind_name(note.kind), imdn_status_name(note.status));
		drop(leg);
		return;
	}
	if (r.sent & bit) {
		log_info("report from %s about %s: %s went to %s already: dropped", reporter, id,
			 imdn_status_name(note.status), target);
		drop(leg);
		return;
	}
	struct report_ctx *c = calloc(1, sizeof *c);
	if (!c) {
		sip_leg_respond(leg, 500, NULL, NULL);
		return;
	}
	c->pf = pf;
	PF_COPY(c->reporter, reporter);
	pf_random_id(c->n.id);
	PF_COPY(c->n.target, target);
	c->n.kind = pf_notif_kind_of_report(bit);
	PF_COPY(c->n.imdn_msgid, r.msgid);
	c->n.created_at_ms = pf_now_ms();
	PF_COPY(c->n.notifier, reporter);
	PF_COPY(c->n.datetime, r.datetime);
	/* checked again in the write itself: two devices may report at the same moment */
	rc = store_routed_report(pf->st, target, r.msgid, reporter, bit, &c->n, reported, c);
	if (rc) {
		log_error("report from %s about %s could not be queued: %s", reporter, id, strerror(-rc));
		sip_leg_respond(leg, 500, "Cannot Record The Report", NULL);
		free(c);
		return;
	}
	c->leg = leg;
	sip_leg_bind(leg, pf_leg_no_event, c);
}
