/* Standalone messages in Large Message Mode (docs/internals/messaging.md §2): a message
 * too big for a SIP MESSAGE (over 1300 bytes, RFC 3428 §8) or sent so by choice
 * (--large) travels like a file: an INVITE with the largemsg ICSI and a sendonly MSRP offer
 * without file-selector (accept-types message/cpim, a=max-size the message's size), then the
 * whole CPIM message as ONE MSRP SEND — chunked by msrp_out.c straight from memory (the
 * file sender's src_mem), never copied — then BYE. Incoming (largemsg ICSI, or the
 * deferred ICSI of a push from the server's store, or a pull of a stored message): the
 * MSRP message is received into memory (msrp_in.c with x->is_msg; at most CPM_MSG_MAX),
 * then printed as a `message SENDER ID TEXT` line. */
#include "cpm.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sofia-sip/sip_header.h>

#include "cpm/cpim.h"
#include "cpm/deferred.h"
#include "cpm/imdn.h"

bool largemsg_wanted(const struct cpm_opts *o, size_t cpim_len)
{
	return o->large || cpim_len > CPM_PAGER_MAX;
}

/* DateTime (RFC 3339, UTC, milliseconds) for CPIM. */
void cpim_now(char *out, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, cap - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}

int largemsg_cmd_start(struct cpm_app *app)
{
	const struct cpm_opts *o = app->o;
	char msgid[33], now[64];
	cpm_random_alnum(msgid, 32); /* ~190 bits: the message's id everywhere (messaging.md §1) */
	cpim_now(now, sizeof now);
	struct cpim_out m = {
		.from_uri = o->aor,
		.to_uri = o->target_uri,
		.message_id = msgid,
		.datetime = now,
		.disposition = o->no_report ? NULL : "positive-delivery, negative-delivery, display",
		.content_type = "text/plain;charset=UTF-8",
		.body = o->text,
		.body_len = strlen(o->text),
	};
	int n = cpim_build(NULL, 0, &m);
	char *cpim = n > 0 ? malloc((size_t)n + 1) : NULL;
	if (!cpim || cpim_build(cpim, (size_t)n + 1, &m) != n) {
		free(cpim);
		out_line(app, "failed: cannot build the CPIM message");
		return -1;
	}
	app->msg_cpim = cpim; /* freed by agent_run */
	app->msg_cpim_len = (size_t)n;
	errlog(app, "message-id %s", msgid);
	/* the INVITE's CPIM part: the message's headers, no content (messaging.md §2) */
	struct cpim_out h = m;
	h.body = NULL;
	h.body_len = 0;
	char head[2048];
	int hl = cpim_build(head, sizeof head, &h);
	if (largemsg_send(app, hl > 0 ? head : NULL, hl > 0 ? (size_t)hl : 0) < 0) {
		out_line(app, "failed: cannot start the transfer");
		return -1;
	}
	return 0;
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

int largemsg_in_append(struct xfer *x, const char *p, size_t n)
{
	uint64_t end = x->cur_off + n;
	if (end > CPM_MSG_MAX)
		return 413;
	if (end > x->msg_cap) {
		/* grows with the bytes that came, not with the size the peer announced */
		size_t cap = x->msg_cap ? x->msg_cap : 64 * 1024;
		while (cap < end)
			cap *= 2;
		if (cap > CPM_MSG_MAX)
			cap = CPM_MSG_MAX;
		char *nb = realloc(x->msg_buf, cap);
		if (!nb)
			return 400;
		x->msg_buf = nb;
		x->msg_cap = cap;
	}
	memcpy(x->msg_buf + x->cur_off, p, n);
	if (end > x->msg_len)
		x->msg_len = (size_t)end;
	return 0;
}

/* TEXT of a `message` line (messaging.md §7): newline as \n, backslash as \\; the other
 * bytes a terminal acts on (CR, the other C0 controls, DEL) as \r or \xNN, so that one
 * message is one line and cannot drive the terminal. malloc()ed. */
char *escape_text(const char *p, size_t n)
{
	char *out = malloc(4 * n + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\\') {
			*o++ = '\\';
			*o++ = '\\';
		} else if (c == '\n') {
			*o++ = '\\';
			*o++ = 'n';
		} else if (c == '\r') {
			*o++ = '\\';
			*o++ = 'r';
		} else if (c < 0x20 || c == 0x7f) {
			o += sprintf(o, "\\x%02x", c);
		} else {
			*o++ = (char)c;
		}
	}
	*o = '\0';
	return out;
}

/* A CPIM field for the terminal: as one safe word (deferred_safe_display). */
static void field(char *out, size_t cap, struct cpm_str v, const char *dflt)
{
	char raw[512];
	if (!v.len || !cpm_str_copy(raw, sizeof raw, v))
		snprintf(raw, sizeof raw, "%s", dflt);
	deferred_safe_display(out, cap, raw);
}

int largemsg_in_done(struct xfer *x)
{
	struct cpm_app *app = x->app;
	struct cpim_msg c;
	int rc = cpim_parse(x->msg_buf ? x->msg_buf : "", x->msg_len, &c);
	if (rc != CPIM_OK) {
		errlog(app, "message from %s: not a CPIM message (%s)", x->peer, cpim_strerror(rc));
		return 400;
	}
	char sender[3 * CPM_URI_MAX], id[3 * IMDN_MAX_MSGID];
	struct cpm_str from = cpim_addr_uri(c.from);
	field(sender, sizeof sender, from.len ? from : cpm_str_c(x->peer), "?");
	field(id, sizeof id, c.imdn_message_id, "-");
	/* The same message again (the server pushes a stored message again after a crash
	 * that lost our acknowledgement, messaging.md §3): acknowledged, not shown twice. */
	char key[sizeof id + 8];
	snprintf(key, sizeof key, "imdn:%s", id);
	if (c.imdn_message_id.len && recv_log_seen(app, key, "message")) {
		errlog(app, "message %s was already received here: acknowledged, not shown again", id);
		x->repeat = true;
		return 0;
	}
	char *text = escape_text(c.body.p, c.body.len);
	if (!text)
		return 400;
	out_line(app, "message %s %s %s", sender, id, text);
	free(text);
	if (c.imdn_message_id.len)
		recv_log_add(app, key, "message");
	return 0;
}
