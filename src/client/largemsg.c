/* Standalone messages in Large Message Mode (docs/internals/messaging.md §2): a message
 * too big for a SIP MESSAGE (over 1300 bytes, RFC 3428 §8) or sent so by choice
 * (--large) travels like a file: an INVITE with the largemsg ICSI and a sendonly MSRP offer
 * without file-selector (accept-types message/cpim, a=max-size the message's size), then the
 * whole CPIM message as ONE MSRP SEND — chunked by msrp_out.c straight from memory (the
 * file sender's src_mem), never copied — then BYE. Incoming (largemsg ICSI, or the
 * deferred ICSI of a push from the server's store): the MSRP message is received into
 * memory (msrp_in.c with x->msg: a memfd, at most CPM_MSG_MAX) and handed to msg_in.c,
 * which prints it, drops a repeat and sends the reports, as for a pager message. */
#include "cpm.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/sip_header.h>

bool largemsg_wanted(const struct cpm_opts *o, size_t cpim_len)
{
	return o->large || cpim_len > CPM_PAGER_MAX;
}

int largemsg_send(struct cpm_app *app, const char *head, size_t head_len)
{
	struct xfer *x = xfer_new(app, XFER_OUT);
	if (!x)
		return -1;
	x->is_msg = true;
	x->src_mem = (const uint8_t *)app->msg_cpim; /* sent from memory, chunk by chunk */
	x->sel.has_name = x->sel.has_size = x->sel.has_type = true;
	snprintf(x->sel.name, sizeof x->sel.name, "message");
	x->sel.name_len = strlen(x->sel.name);
	x->sel.size = app->msg_cpim_len;
	snprintf(x->sel.type, sizeof x->sel.type, "message/cpim");
	snprintf(x->display, sizeof x->display, "message");
	char *body = NULL, ctype[128];
	if (msg_offer_body(app->o, x, head, head_len, &body, ctype, sizeof ctype) < 0) {
		errlog(app, "cannot build the SDP offer");
		x->state = XS_DONE;
		xfer_reap(x);
		return -1;
	}
	int rc = xfer_invite(x, CPM_ICSI_LARGEMSG, "*;" CPM_LARGEMSG_ICSI_TAG, body, ctype);
	free(body);
	if (rc < 0)
		xfer_reap(x);
	return rc;
}

/* The ICSI in any header that carries one: Accept-Contact (sofia parses it), P-Asserted-
 * and P-Preferred-Service (unknown to sofia). */
bool sip_names_icsi(const sip_t *sip, const char *name)
{
	for (const sip_accept_contact_t *a = sip->sip_accept_contact; a; a = a->cp_next)
		for (size_t i = 0; a->cp_params && a->cp_params[i]; i++)
			if (cpm_icsi_in(a->cp_params[i], strlen(a->cp_params[i]), name))
				return true;
	for (const sip_unknown_t *u = sip->sip_unknown; u; u = u->un_next)
		if (u->un_name && u->un_value &&
		    (!strcasecmp(u->un_name, "P-Asserted-Service") || !strcasecmp(u->un_name, "P-Preferred-Service")) &&
		    cpm_icsi_in(u->un_value, strlen(u->un_value), name))
			return true;
	return false;
}

bool largemsg_incoming(const sip_t *sip, const struct sdp_ft *offer, bool *deferred)
{
	*deferred = sip_names_icsi(sip, "deferred");
	if (*deferred || sip_names_icsi(sip, "largemsg"))
		return !offer->has_selector;
	/* a client that only speaks SDP: one message/cpim message and no file-selector */
	return !offer->has_selector && offer->accept_types[0] && strcmp(offer->accept_types, "*") &&
	       sdp_accepts_type(offer, "message/cpim");
}
