/* Standalone messages in (docs/internals/messaging.md §1, §3, §4, §7): the message/cpim body of
 * a MESSAGE that is not a report (notify.c sends those elsewhere), pushed live or from the
 * store, or fetched (pull.c reads a stored one into memory).
 *
 *   message SENDER ID TEXT       SENDER = the CPIM From URI, ID = its imdn.Message-ID, both
 *                                made terminal-safe (deferred_safe_display); TEXT the content
 *                                with `\` as `\\`, newline as `\n`, CR `\r`, tab `\t` and any
 *                                other control character or invalid UTF-8 byte as `\xHH`
 *                                (content that is not text: `[TYPE, N bytes]`)
 *
 * A repeat (the server sends a stored message again after a crash between our 200 and its own
 * commit) is answered 200 and not printed, and no report goes for it again. It is recognised by
 * its imdn.Message-ID among the last CPM_SEEN_MSGIDS of this process, and, for a delivery from
 * the server's store (a MESSAGE with Referred-By, a deferred-ICSI INVITE, a fetch), across
 * restarts of cpm by the receive log that already dedupes files (recv_log.c: "MESSAGE-ID SHA1" lines, here
 * the imdn.Message-ID and the sha-1 of the whole CPIM body, which a re-delivery repeats
 * unchanged). Reports: `delivered` when the message asked for
 * positive-delivery, `displayed` too with --read when it asked for display: each a MESSAGE to
 * the original sender (Accept-Contact: the msg ICSI) whose CPIM wraps the IMDN
 * (imdn_build_cpim). cpmd checks them and passes one of each kind on, whatever our number of
 * devices. */
#include "cpm.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_tag.h>

#include "cpm/cpim.h"
#include "cpm/deferred.h"
#include "cpm/imdn.h"
#include "cpm/mime.h"
#include "cpm/utf8.h"

/* TEXT as one line: escapes as described above. Cut (with "...") at cap. Also the TEXT of
 * a chat line (chat_msrp.c): one rule for every line that shows a message. */
void text_line(char *out, size_t cap, struct cpm_str t)
{
	struct cpm_wbuf w = cpm_wbuf_text(out, cap - 4);
	for (size_t i = 0; i < t.len && !w.overflow;) {
		unsigned char c = (unsigned char)t.p[i];
		uint32_t cp;
		size_t n = cpm_utf8_decode((const unsigned char *)t.p + i, t.len - i, &cp);
		if (c == '\\')
			cpm_wbuf_puts(&w, "\\\\");
		else if (c == '\n')
			cpm_wbuf_puts(&w, "\\n");
		else if (c == '\r')
			cpm_wbuf_puts(&w, "\\r");
		else if (c == '\t')
			cpm_wbuf_puts(&w, "\\t");
		else if (n == 0 || c < 0x20 || c == 0x7f || (cp >= 0x80 && cp <= 0x9f)) {
			/* a control character (C0, DEL, C1) or a byte that is not UTF-8 */
			size_t k = n ? n : 1;
			for (size_t j = 0; j < k; j++) {
				char esc[5] = {'\\', 'x'};
				cpm_hex_byte(esc + 2, (unsigned char)t.p[i + j], CPM_HEX_LOWER);
				cpm_wbuf_put(&w, esc, 4);
			}
			i += k;
			continue;
		} else {
			cpm_wbuf_put(&w, t.p + i, n);
			i += n;
			continue;
		}
		i++;
	}
	bool cut = w.overflow;
	int len = cpm_wbuf_finish(&w);
	if (len < 0 || cut) {
		size_t l = len < 0 ? strnlen(out, cap - 4) : (size_t)len;
		memcpy(out + l, "...", 4);
	}
}

static bool seen(struct cpm_app *app, const char *msgid)
{
	for (unsigned i = 0; i < CPM_SEEN_MSGIDS; i++)
		if (app->seen[i][0] && !strcmp(app->seen[i], msgid))
			return true;
	return false;
}

static void remember(struct cpm_app *app, const char *msgid)
{
	snprintf(app->seen[app->seen_next], sizeof app->seen[0], "%s", msgid);
	app->seen_next = (app->seen_next + 1) % CPM_SEEN_MSGIDS;
}

int msg_in(struct cpm_app *app, const char *body, size_t len, bool from_store, struct msg_in_reports *rep, char *why,
	   size_t cap)
{
	struct cpim_msg c;
	char msgid[CPM_MSGID_MAX + 1] = "", sender[CPM_URI_MAX] = "";

	memset(rep, 0, sizeof *rep);
	int rc = cpim_parse(body, len, &c);
	if (rc != CPIM_OK) {
		snprintf(why, cap, "%s", cpim_strerror(rc));
		return 400;
	}
	struct cpm_str from = cpim_addr_uri(c.from);
	if (!from.p || !cpm_str_copy(sender, sizeof sender, from) || !c.imdn_message_id.p ||
	    !cpm_str_copy(msgid, sizeof msgid, c.imdn_message_id) || !msgid[0]) {
		snprintf(why, cap, "a standalone message needs a CPIM From and imdn.Message-ID");
		return 400;
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned ml = 0;
	char sha[41] = "";
	/* Only a delivery from the server's store can repeat after a crash (a live MESSAGE's
	 * retransmissions are absorbed by its SIP transaction): only those cost a look-up and a
	 * write (fdatasync) in the receive log. */
	if (from_store && EVP_Digest(body, len, md, &ml, EVP_sha1(), NULL) && ml == 20)
		cpm_hex_encode(sha, sizeof sha, md, 20, CPM_HEX_LOWER, '\0');
	if (seen(app, msgid) || (sha[0] && recv_log_seen(app, msgid, sha))) {
		char id[3 * CPM_MSGID_MAX + 1];
		deferred_safe_display(id, sizeof id, msgid);
		errlog(app, "message %s was received already: acknowledged, not shown again", id);
		return 200;
	}

	char sender_s[3 * CPM_URI_MAX + 1], id_s[3 * CPM_MSGID_MAX + 1];
	deferred_safe_display(sender_s, sizeof sender_s, sender);
	deferred_safe_display(id_s, sizeof id_s, msgid);
	struct cpm_str type = mime_type_only(c.content_type);
	/* every byte may become \xHH; a large message's text may be megabytes */
	size_t tcap = 4 * c.body.len + 400;
	char *text = malloc(tcap);
	if (!text) {
		snprintf(why, cap, "out of memory");
		return 500;
	}
	if (!type.p || (type.len > 5 && !strncasecmp(type.p, "text/", 5))) {
		text_line(text, tcap, c.body); /* no Content-Type: text/plain (RFC 3862 §3.3) */
	} else {
		char t[3 * 128 + 1], tt[129];
		cpm_str_copy(tt, sizeof tt, type.len < sizeof tt ? type : (struct cpm_str){type.p, sizeof tt - 1});
		deferred_safe_display(t, sizeof t, tt);
		snprintf(text, tcap, "[%s, %zu bytes]", t, c.body.len);
	}
	out_line(app, "message %s %s %s", sender_s, id_s, text);
	free(text);
	remember(app, msgid);
	if (sha[0])
		recv_log_add(app, msgid, sha);

	unsigned ask = imdn_disposition_bits(c.imdn_disposition_notification);
	rep->delivered = ask & IMDN_ASK_POSITIVE;
	rep->displayed = (ask & IMDN_ASK_DISPLAY) && app->o->read;
	if ((rep->delivered || rep->displayed) && c.datetime.p &&
	    cpm_str_copy(rep->datetime, sizeof rep->datetime, c.datetime)) {
		snprintf(rep->to, sizeof rep->to, "%s", sender);
		snprintf(rep->msgid, sizeof rep->msgid, "%s", msgid);
	} else if (rep->delivered || rep->displayed) {
		errlog(app, "message %s asks for a report but has no DateTime: none sent", id_s);
	}
	return 200;
}

static void send_report(struct cpm_app *app, const struct msg_in_reports *rep, enum imdn_kind kind,
			enum imdn_status status)
{
	struct imdn_note n;
	char wrapper[33], now[40], to[CPM_URI_MAX + 2], hdrs[256];
	static char body[8192];

	memset(&n, 0, sizeof n);
	/* an id, a DateTime or our address too long for an IMDN: imdn_build_cpim refuses it */
	if (strlen(rep->msgid) >= sizeof n.message_id || strlen(rep->datetime) >= sizeof n.datetime ||
	    strlen(app->o->aor) >= sizeof n.recipient) {
		errlog(app, "cannot send the %s report for a message: a field is too long", imdn_status_name(status));
		return;
	}
	strcpy(n.message_id, rep->msgid);
	strcpy(n.datetime, rep->datetime);
	strcpy(n.recipient, app->o->aor);
	strcpy(n.original_recipient, app->o->aor);
	n.kind = kind;
	n.status = status;
	cpm_random_hex(wrapper, 16);
	rfc3339_now(now, sizeof now);
	int len = imdn_build_cpim(body, sizeof body, app->o->aor, rep->to, wrapper, now, &n);
	snprintf(to, sizeof to, "<%s>", rep->to);
	nua_handle_t *nh = len < 0 ? NULL : nua_handle(app->nua, NULL, SIPTAG_TO_STR(to), TAG_END());
	if (!nh) {
		errlog(app, "cannot send the %s report for %s", imdn_status_name(status), rep->msgid);
		return;
	}
	snprintf(hdrs, sizeof hdrs, "P-Preferred-Service: " CPM_ICSI_MSG);
	vlog(app, "SIP: MESSAGE %s (report: %s %s)", rep->to, imdn_status_name(status), rep->msgid);
	nua_message(nh, TAG_IF(!app->o->tcp && len > 1200, NUTAG_PROXY(app->proxy_tcp)),
		    SIPTAG_ACCEPT_CONTACT_STR("*;" CPM_MSG_ICSI_TAG), SIPTAG_HEADER_STR(hdrs),
		    SIPTAG_CONTENT_TYPE_STR("message/cpim"), SIPTAG_PAYLOAD_STR(body), TAG_END());
	app->reports_pending++;
}

void msg_in_reports(struct cpm_app *app, const struct msg_in_reports *rep)
{
	if (!rep->to[0])
		return;
	if (rep->delivered)
		send_report(app, rep, IMDN_KIND_DELIVERY, IMDN_STATUS_DELIVERED);
	if (rep->displayed)
		send_report(app, rep, IMDN_KIND_DISPLAY, IMDN_STATUS_DISPLAYED);
}

void msg_in_report_answered(struct cpm_app *app, nua_handle_t *nh, int status, const char *phrase)
{
	if (status < 200)
		return;
	if (status >= 300)
		errlog(app, "a report was refused: %d %s", status, phrase);
	if (app->reports_pending)
		app->reports_pending--;
	nua_handle_destroy(nh);
}
