/* Large Message Mode (docs/internals/messaging.md §2): a standalone message too big for a
 * SIP MESSAGE travels like a file — an INVITE with the largemsg ICSI and a sendonly MSRP
 * offer, then the whole CPIM message in one MSRP SEND. cpmd anchors it with the file's code
 * (pf_ft.c live, pf_intake.c store, pf_deliver.c push, pf_pull.c pull); this file holds only
 * what differs: how such an INVITE is recognised, the made-up selector that lets the file's
 * code run unchanged (no file-selector, size from the first chunk's Byte-Range, type
 * message/cpim), the IMDN id from the INVITE's CPIM part, and the ICSI on the forks. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "cpm/cpim.h"
#include "cpm/icsi.h"
#include "cpm/imdn.h"
#include "pf/pf_int.h"

bool pf_headers_name_icsi(const char *carried, const char *name)
{
	static const char *const svc[] = {"Accept-Contact:", "P-Preferred-Service:", "P-Asserted-Service:"};

	for (const char *p = carried; p && *p;) {
		const char *eol = strstr(p, "\r\n");
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		for (size_t i = 0; i < sizeof svc / sizeof svc[0]; i++) {
			size_t hl = strlen(svc[i]);
			if (len > hl && !strncasecmp(p, svc[i], hl) && cpm_icsi_in(p + hl, len - hl, name))
				return true;
		}
		p = eol ? eol + 2 : NULL;
	}
	return false;
}

bool pf_largemsg_detect(const char *carried, const struct sdp_ft *offer)
{
	if (pf_headers_name_icsi(carried, "largemsg"))
		return true;
	/* No ICSI (a client that only speaks SDP): one message/cpim message pushed with no
	 * file-selector is a large message; a chat session is sendrecv. */
	return !offer->has_selector && offer->dir == SDP_DIR_SENDONLY && offer->accept_types[0] &&
	       strcmp(offer->accept_types, "*") && sdp_accepts_type(offer, "message/cpim");
}

/* An IMDN Message-ID we can keep and send back: 1..STORE_MSGID_MAX visible ASCII, no
 * spaces (cpim_build refuses the rest). */
static bool msgid_ok(struct cpm_str v)
{
	if (!v.len || v.len > STORE_MSGID_MAX)
		return false;
	for (size_t i = 0; i < v.len; i++)
		if ((unsigned char)v.p[i] <= ' ' || (unsigned char)v.p[i] >= 0x7f)
			return false;
	return true;
}

/* The carried lines with every Accept-Contact replaced by the largemsg ICSI: the devices are
 * asked for a large message, whatever the sender wrote (an SDP-only sender wrote none, and
 * sipua's default is the file-transfer ICSI). */
static char *fork_headers(struct cpm_arena *a, const char *carried)
{
	char *out = cpm_arena_strdup(a, "");

	for (const char *p = carried; p && *p && out;) {
		const char *eol = strstr(p, "\r\n");
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (!(len >= 15 && !strncasecmp(p, "Accept-Contact:", 15)))
			out = cpm_arena_printf(a, "%s%.*s\r\n", out, (int)len, p);
		p = eol ? eol + 2 : NULL;
	}
	return out ? cpm_arena_printf(a, "%sAccept-Contact: *;%s\r\n", out, CPM_LARGEMSG_ICSI_TAG) : NULL;
}

/* The routed record is durable: a device may now get the bytes (and report). */
static void recorded(void *arg, int err)
{
	struct ft *ft = arg;

	ft->store_refs--;
	ft->routed_pending = false;
	if (err) /* the message still goes; a device's report about it will be dropped */
		log_error("ft %s: message %s could not be recorded for its reports: %s", ft->id, ft->imdn_id,
			  strerror(-err));
	if (ft->answer_held) {
		ft->answer_held = false;
		if (ft->state == FT_RELAYING && !ft->up_answered && ft->up && ft_answer_up(ft, NULL))
			ft_end(ft, 500, "Cannot Build SDP Answer");
	}
	ft_maybe_free(ft);
}

/* A report was asked (messaging.md §4): the record that lets one of each kind through, made
 * durable before the message can reach a device (the sender's 200 waits for it, see
 * pf_largemsg_answer_held). A stored message is committed after it anyway (writes apply in
 * order). */
static void record(struct ft *ft, struct cpm_str datetime)
{
	struct store_routed r = {.asked = ft->imdn_disp,
				 .expires_at_ms = policy_routed_expiry(&ft->pf->cfg, pf_now_ms())};

	if (!ft->pf->st || !ft->imdn_disp)
		return;
	PF_COPY(r.sender, ft->sender_key);
	PF_COPY(r.msgid, ft->imdn_id);
	PF_COPY(r.recipient, ft->recipient);
	if (datetime.len < sizeof r.datetime)
		snprintf(r.datetime, sizeof r.datetime, "%.*s", (int)datetime.len, datetime.p);
	int rc = store_routed_put(ft->pf->st, &r, recorded, ft);
	if (rc) {
		log_error("ft %s: cannot queue the record of message %s: %s", ft->id, ft->imdn_id, strerror(-rc));
		return;
	}
	ft->store_refs++;
	ft->routed_pending = true;
}

bool pf_largemsg_answer_held(struct ft *ft)
{
	if (!ft->routed_pending)
		return false;
	ft->answer_held = true;
	return true;
}

int pf_largemsg_prepare(struct ft *ft, const struct mime_part *parts, size_t nparts)
{
	struct sdp_file_selector *sel = &ft->offer->sel;

	ft->is_msg = true;
	/* The made-up selector: what the store, the deferred list and the logs show
	 * (messaging.md §3: Name message, Type message/cpim). has_selector stays false: no
	 * selector goes on the wire. The size is set once the message is in. */
	memset(sel, 0, sizeof *sel);
	sel->has_name = sel->has_size = sel->has_type = true;
	snprintf(sel->name, sizeof sel->name, "message");
	sel->name_len = strlen(sel->name);
	snprintf(sel->type, sizeof sel->type, "message/cpim");
	ft->imdn_disp = 0;
	for (size_t i = 0; i < nparts; i++) {
		struct cpim_msg c;
		if (!cpm_str_caseeq(mime_type_only(parts[i].content_type), "message/cpim"))
			continue;
		/* The message's CPIM headers (messaging.md §2), optional: its imdn.Message-ID
		 * names the message in reports. A part that does not parse is the sender's
		 * error: the message itself would be refused by the device. */
		if (cpim_parse(parts[i].body.p, parts[i].body.len, &c) != CPIM_OK)
			return 400;
		if (c.imdn_message_id.len && !msgid_ok(c.imdn_message_id))
			return 400;
		if (c.imdn_message_id.len)
			snprintf(ft->imdn_id, sizeof ft->imdn_id, "%.*s", (int)c.imdn_message_id.len,
				 c.imdn_message_id.p);
		ft->imdn_disp = imdn_disposition_bits(c.imdn_disposition_notification) &
				(STORE_IMDN_POSITIVE | STORE_IMDN_NEGATIVE | STORE_IMDN_DISPLAY);
		if (c.imdn_message_id.len) /* without its id a report could name nothing we know */
			record(ft, c.datetime);
		break;
	}
	ft->fork_headers = fork_headers(&ft->arena, ft->fork_headers);
	return ft->fork_headers ? 0 : 500;
}
