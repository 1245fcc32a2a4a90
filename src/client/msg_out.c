/* `cpm message TARGET TEXT`: one pager-mode standalone message (docs/internals/messaging.md
 * §1, §7). A SIP MESSAGE to TARGET through --server, body message/cpim (cpim_build: From, To,
 * imdn.Message-ID, DateTime and, unless --no-report, the reports we want) wrapping TEXT as
 * text/plain, with the CPM headers (Accept-Contact and P-Preferred-Service: the msg ICSI,
 * Conversation-ID, Contribution-ID, Cpm-Expires with --expires). The answer is the result:
 *   2xx                       `sent` (a device took it), or `stored` when the server kept it
 *                             (202 Accepted with Cpm-Stored: ID)           exit 0
 *   603                       `rejected: 603 PHRASE`                        exit 3
 *   any other final answer    `rejected: STATUS PHRASE`                     exit 4
 *   our stack's own 408/503   `failed: no answer from the server at ...`    exit 1
 * The Message-ID (what reports name) is printed first on stderr: `cpm: message-id ID`.
 * A body over 1300 bytes, or --large, goes in Large Message Mode instead (largemsg.c). */
#include "cpm.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_tag.h>

#include "cpm/cpim.h"
#include "cpm/deferred.h"

#define ASK_ALL "positive-delivery, negative-delivery, display"

/* The CPIM of one text message from us to TARGET (messaging.md §1). */
static void message_cpim(const struct cpm_opts *o, const char *text, size_t tlen, const char *msgid,
			 const char *now, struct cpim_out *c)
{
	*c = (struct cpim_out){
		.from_uri = o->aor,
		.to_uri = o->target_uri,
		.message_id = msgid,
		.datetime = now,
		.disposition = o->no_report ? NULL : ASK_ALL,
		.content_type = "text/plain;charset=UTF-8",
		.body = text,
		.body_len = tlen,
	};
}

int message_build(struct cpm_app *app, const char *text, size_t tlen, char msgid[33], char **body, size_t *len)
{
	char now[40];
	struct cpim_out c;

	cpm_random_hex(msgid, 16); /* 128 bits: ids are not guessed (cpm/random.h) */
	rfc3339_now(now, sizeof now);
	message_cpim(app->o, text, tlen, msgid, now, &c);
	int n = cpim_build(NULL, 0, &c);
	*body = n > 0 ? malloc((size_t)n + 1) : NULL;
	if (!*body || cpim_build(*body, (size_t)n + 1, &c) != n) {
		free(*body);
		*body = NULL;
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

nua_handle_t *message_send(struct cpm_app *app, const char *body, size_t len)
{
	const struct cpm_opts *o = app->o;
	char contrib[37], hdrs[1024], to[CPM_URI_MAX + 2];

	cpm_request_headers(o, CPM_ICSI_MSG, true, contrib, hdrs, sizeof hdrs);
	snprintf(to, sizeof to, "<%s>", o->target_uri);
	nua_handle_t *nh = nua_handle(app->nua, NULL, SIPTAG_TO_STR(to), TAG_END());
	if (!nh)
		return NULL;
	/* RFC 3261 §18.1.1: over 1300 bytes a request goes over TCP; --transport udp keeps a
	 * small message on UDP like every UDP client, a big one goes over TCP (as send does) */
	bool big = !o->tcp && len > 1200;
	vlog(app, "SIP: MESSAGE %s (%zu bytes of CPIM%s)", o->target_uri, len, big ? ", over TCP" : "");
	nua_message(nh, TAG_IF(big, NUTAG_PROXY(app->proxy_tcp)), SIPTAG_ACCEPT_CONTACT_STR("*;" CPM_MSG_ICSI_TAG),
		    SIPTAG_HEADER_STR(hdrs), SIPTAG_CONTENT_TYPE_STR("message/cpim"), SIPTAG_PAYLOAD_STR(body), TAG_END());
	return nh;
}

int message_start(struct cpm_app *app)
{
	const struct cpm_opts *o = app->o;
	char msgid[33], now[40];
	struct cpim_out c;

	cpm_random_hex(msgid, 16); /* 128 bits: ids are not guessed (cpm/random.h) */
	rfc3339_now(now, sizeof now);
	message_cpim(o, o->text, strlen(o->text), msgid, now, &c);
	int n = cpim_build(NULL, 0, &c);
	char *body = n > 0 ? malloc((size_t)n + 1) : NULL;
	if (!body || cpim_build(body, (size_t)n + 1, &c) != n) {
		free(body);
		out_line(app, "failed: cannot build the message (TARGET or --user not usable in CPIM)");
		return -1;
	}
	if (largemsg_wanted(o, (size_t)n)) {
		/* too big for a MESSAGE (RFC 3428 §8), or --large: Large Message Mode. The INVITE
		 * carries the message's headers (the same CPIM without content). */
		errlog(app, "message-id %s", msgid);
		app->msg_cpim = body; /* freed by agent_run */
		app->msg_cpim_len = (size_t)n;
		struct cpim_out h = c;
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
	app->msg_nh = message_send(app, body, (size_t)n);
	free(body);
	if (!app->msg_nh) {
		out_line(app, "failed: nua_handle");
		return -1;
	}
	errlog(app, "message-id %s", msgid);
	return 0;
}

/* The value of the first extension header `name`, or NULL. */
static const char *unknown_header(const sip_t *sip, const char *name)
{
	for (const sip_unknown_t *u = sip ? sip->sip_unknown : NULL; u; u = u->un_next)
		if (u->un_name && u->un_value && !strcasecmp(u->un_name, name))
			return u->un_value;
	return NULL;
}

bool message_stored(int status, const sip_t *sip)
{
	return status == 202 || (status >= 200 && status < 300 && unknown_header(sip, "Cpm-Stored"));
}

void message_answer(struct cpm_app *app, int status, const char *phrase, const sip_t *sip)
{
	int code = CPM_EXIT_OK;
	char line[600];

	if (status < 200)
		return;
	if (status < 300) {
		const char *stored = unknown_header(sip, "Cpm-Stored");
		if (message_stored(status, sip)) {
			char id[3 * CPM_ITEM_ID_MAX + 1] = "";
			if (stored)
				deferred_safe_display(id, sizeof id, stored);
			if (id[0])
				errlog(app, "stored by the server as item %s", id);
			snprintf(line, sizeof line, "stored");
		} else {
			snprintf(line, sizeof line, "sent");
		}
	} else if (local_response(status, sip)) {
		local_failure_line(app, status, phrase, sip, line, sizeof line);
		code = CPM_EXIT_FAILED;
	} else {
		char ph[256];
		snprintf(ph, sizeof ph, "%s", phrase ? phrase : "");
		for (char *p = ph; *p; p++) /* the server's words, on a terminal */
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		snprintf(line, sizeof line, "rejected: %d %s", status, ph);
		code = status == 603 ? CPM_EXIT_DECLINED : CPM_EXIT_REJECTED;
	}
	out_line(app, "%s", line);
	agent_finish(app, code);
}
