/* Incoming SIP MESSAGEs (store-and-forward contract §4 and §7, messaging.md §7):
 *
 *   message/cpim holding an IMDN      -> `notification delivered|displayed|failed ID`
 *   message/cpim holding anything else -> a standalone message (msg_in.c):
 *                                        `message SENDER ID TEXT`, and its reports
 *   application/vnd.cpmd.deferred+text -> `deferred ID SENDER NAME SIZE` per item
 *
 * We answer them ourselves (NUTAG_APPL_METHOD("MESSAGE")): 200 when the body
 * was understood, 400 for a body of a known type that does not parse, 415
 * for any other type. Everything printed comes from the peer, so it is made
 * terminal-safe first (deferred_safe_display).
 */
#include "cpm.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tag.h>

#include "cpm/cpim.h"
#include "cpm/deferred.h"
#include "cpm/imdn.h"
#include "cpm/mime.h"

static void print_item(struct cpm_app *app, const struct deferred_item *it)
{
	char name[3 * SDP_MAX_FILENAME + 1], sender[3 * DEFERRED_MAX_SENDER + 1];
	deferred_safe_display(name, sizeof name, it->name);
	deferred_safe_display(sender, sizeof sender, it->sender);
	out_line(app, "deferred %s %s %s %llu", it->id, sender, name, (unsigned long long)it->size);
}

int deferred_print(struct cpm_app *app, const char *body, size_t len)
{
	struct deferred_parser p;
	struct deferred_item *it = calloc(1, sizeof *it);
	int rc, n = 0;
	if (!it)
		return -1;
	/* check the whole list first: a bad list prints nothing */
	deferred_parser_init(&p, body, len);
	while ((rc = deferred_parse_next(&p, it)) == 1)
		n++;
	if (rc < 0) {
		errlog(app, "bad deferred list after %d item(s): %s", n, deferred_strerror(rc));
		free(it);
		return rc;
	}
	deferred_parser_init(&p, body, len);
	while (deferred_parse_next(&p, it) == 1)
		print_item(app, it);
	free(it);
	return n;
}

static int on_imdn(struct cpm_app *app, const char *body, size_t len, char *why, size_t cap)
{
	struct imdn_note note;
	int rc = imdn_parse_cpim(body, len, &note);
	if (rc != IMDN_OK) {
		snprintf(why, cap, "%s", imdn_strerror(rc));
		return rc == IMDN_E_NOT_IMDN ? 415 : 400;
	}
	char id[3 * IMDN_MAX_MSGID + 1];
	deferred_safe_display(id, sizeof id, note.message_id);
	/* delivered, displayed, failed, ... (imdn_status_name) */
	const char *st = imdn_status_name(note.status);
	if (app->o->cmd == CMD_RECEIVE)
		out_line(app, "notification %s %s", st ? st : "unknown", id);
	else
		errlog(app, "notification %s %s", st ? st : "unknown", id);
	return 200;
}

void notify_message(struct cpm_app *app, nua_handle_t *nh, const sip_t *sip)
{
	const sip_content_type_t *c = sip ? sip->sip_content_type : NULL;
	const sip_payload_t *pl = sip ? sip->sip_payload : NULL;
	const char *body = pl ? pl->pl_data : "";
	size_t len = pl ? pl->pl_len : 0;
	const char *type = c && c->c_type ? c->c_type : "";
	char why[128] = "";
	struct msg_in_reports rep = {.to = ""};
	int status;

	if (strcasecmp(type, "message/cpim") == 0) {
		/* a report, or a standalone message: the CPIM content says which */
		struct cpim_msg cm;
		if (cpim_parse(body, len, &cm) != CPIM_OK ||
		    cpm_str_caseeq(mime_type_only(cm.content_type), IMDN_CTYPE))
			status = on_imdn(app, body, len, why, sizeof why); /* (400 for a CPIM that does not parse) */
		else if (app->o->cmd != CMD_RECEIVE)
			status = 480; /* only `receive` takes messages */
		else
			status = msg_in(app, body, len, sip->sip_referred_by != NULL, &rep, why, sizeof why);
	} else if (strcasecmp(type, CPM_DEFERRED_CTYPE) == 0) {
		if (app->o->cmd == CMD_RECEIVE) {
			int rc = deferred_print(app, body, len);
			status = rc < 0 ? 400 : 200;
			if (rc < 0)
				snprintf(why, sizeof why, "%s", deferred_strerror(rc));
		} else {
			status = 200;
		}
	} else {
		status = 415;
		snprintf(why, sizeof why, "body type %s", type[0] ? type : "(none)");
	}
	if (status == 200) {
		nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(app->nua), TAG_END());
		msg_in_reports(app, &rep); /* after our 200 */
	} else if (status == 480) {
		nua_respond(nh, SIP_480_TEMPORARILY_UNAVAILABLE, NUTAG_WITH_THIS(app->nua), TAG_END());
	} else if (status == 415) {
		errlog(app, "refusing a MESSAGE: %s (415)", why);
		nua_respond(nh, SIP_415_UNSUPPORTED_MEDIA, NUTAG_WITH_THIS(app->nua),
			    SIPTAG_ACCEPT_STR("message/cpim, " CPM_DEFERRED_CTYPE), TAG_END());
	} else {
		errlog(app, "refusing a MESSAGE: %s (400)", why);
		nua_respond(nh, 400, "Bad Body", NUTAG_WITH_THIS(app->nua), TAG_END());
	}
	nua_handle_destroy(nh);
}

void message_answered(struct cpm_app *app, nua_handle_t *nh, int status, const char *phrase, const sip_t *sip)
{
	if (list_answer(app, nh, status, phrase, sip))
		return;
	if (chat_pager_answered(app, nh, status, phrase, sip))
		return;
	if (nh == app->msg_nh) {
		if (status >= 200) {
			app->msg_nh = NULL;
			nua_handle_destroy(nh);
		}
		message_answer(app, status, phrase, sip);
		return;
	}
	msg_in_report_answered(app, nh, status, phrase);
}
