/* Store mode: the relay without (or no longer with) a device leg. The
 * sender's bytes go to the blob only, with the same checks as when they
 * are relayed; we answer the sender's chunks ourselves, except the '$'
 * chunk, whose 200 and success REPORT wait for the owner's
 * ft_relay_ack_received() (the file must be durable first, design §3).
 *
 * A live relay becomes a store relay with ft_relay_detach_down(), or by
 * itself when the device's leg fails and keep_on_recipient_loss is set.
 * docs/internals/relay.md, "Store mode", has the details. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "relay/ft_relay_priv.h"

void relay_event_cb(struct ft_relay *r, enum ft_relay_result ev, const char *detail)
{
	if (r->ended || r->destroyed)
		return;
	msrp_log("relay %s: event %s (%s), %llu bytes", relay_name(r), ft_relay_result_str(ev), detail,
		 (unsigned long long)r->tee.contig);
	if (r->event)
		r->event(r->arg, ev, detail);
}

/* A REPORT to the sender about the whole message (for a resumed upload:
 * the range it sent, counted from 1). */
void relay_up_report(struct ft_relay *r, int status, const char *comment, struct cpm_str extra)
{
	struct relay_leg *U = &r->leg[FT_LEG_UP];
	char buf[MSRP_MAX_LINE + MSRP_OUR_URI_MAX + sizeof r->ack_hdr + 512];
	char tid[MSRP_OUR_TID_LEN + 1];
	uint64_t len = r->size - r->base;
	struct msrp_byte_range range = {1, len, len};
	struct msrp_request_head hd;
	int n, e;

	if (!U->s.conn || !r->file_msgid[0])
		return;
	msrp_random_ident(tid, MSRP_OUR_TID_LEN);
	memset(&hd, 0, sizeof hd);
	hd.tid = tid;
	hd.method = MSRP_METHOD_REPORT;
	hd.to_path = relay_leg_path_back(U);
	hd.from_path = cpm_str_c(U->uri);
	hd.message_id = cpm_str_c(r->file_msgid);
	hd.range = &range;
	hd.status_code = status;
	hd.status_comment = comment;
	hd.extra_headers = extra;
	if (!hd.to_path.len)
		return;
	n = msrp_build_request_head(buf, sizeof buf, &hd);
	if (n < 0)
		return;
	e = msrp_build_end(buf + n, sizeof buf - (size_t)n, tid, MSRP_FLAG_END, false);
	if (e > 0)
		relay_send(r, FT_LEG_UP, buf, (size_t)n + (size_t)e);
}

/* The '$' chunk's answer is owed; hold it. */
static void store_hold(struct ft_relay *r, const char *tid, enum msrp_report_mode fr, bool resp_owed,
		       bool report_owed)
{
	r->ack_wait = true;
	r->held_fr = fr;
	r->held_200 = resp_owed && fr_wants_response(fr);
	r->held_report = report_owed;
	r->held_tid[0] = '\0';
	if (resp_owed && tid && fr != MSRP_REPORT_NO)
		snprintf(r->held_tid, sizeof r->held_tid, "%s", tid);
}

void relay_store_received(struct ft_relay *r, const char *tid, enum msrp_report_mode fr,
			  enum msrp_report_mode sr)
{
	store_hold(r, tid, fr, true, sr == MSRP_REPORT_YES);
	relay_event_cb(r, FT_RELAY_RECEIVED, "file received and checked, acknowledgement held");
}

/* Switch to store mode. Returns true when the file is already complete
 * and checked (the '$' chunk went DOWN and was not fully acknowledged):
 * the caller then reports RECEIVED. */
static bool store_switch(struct ft_relay *r)
{
	struct relay_leg *D = &r->leg[FT_LEG_DOWN];
	struct msrp_conn *down = relay_conn(r, FT_LEG_DOWN);
	char last_tid[MSRP_TID_MAX + 1] = "";
	enum msrp_report_mode last_fr = r->fwd_fr;
	bool last_txn = false;

	r->store = true;
	/* the file is cpmd's to keep now: a live relay's lazy worker starts hashing */
	relay_tw_want_hash(r);
	if (r->up_cur == UP_ACTIVE) {
		/* The DOWN chunk in progress ends with '#'; the UP chunk goes
		 * on into the blob and is answered by us at its end-line. */
		char buf[MSRP_END_LINE_MAX];
		int n = msrp_build_end(buf, sizeof buf, r->fwd_down_tid, MSRP_FLAG_ABORT, true);

		if (n > 0 && down)
			relay_send(r, FT_LEG_DOWN, buf, (size_t)n);
		if (r->fwd_txn >= 0)
			r->tab[r->fwd_txn].used = false;
		r->fwd_txn = -1;
	}
	/* Every chunk the device left unanswered: its bytes are in the blob,
	 * so we accept it ourselves. */
	for (int i = 0; i < RELAY_TXNS; i++) {
		struct txn *t = &r->tab[i];

		if (!t->used)
			continue;
		t->used = false;
		if (t->last) {
			last_txn = true;
			last_fr = t->fr;
			snprintf(last_tid, sizeof last_tid, "%s", t->up_tid);
		} else if (fr_wants_response(t->fr)) {
			relay_up_respond_tid(r, t->up_tid, 200, NULL);
		}
	}
	r->down_pending = NULL;
	if (down)
		conn_drain(down); /* flushes the '#', then FIN */
	if (D->in_hub)
		hub_session_del(r->hub, &D->s);
	D->in_hub = false;
	D->bind_deadline = 0;
	r->report_deadline = 0;
	msrp_log("relay %s: store mode, device leg closed", relay_name(r));
	if (r->up_cur == UP_PENDING)
		relay_try_pending(r); /* the head waiting for DOWN: now for the blob only */
	conn_unhold(relay_conn(r, FT_LEG_UP), CONN_HOLD_PEER);
	relay_flow(r);
	relay_arm(r);
	if (!r->last_sent)
		return false;
	/* The '$' chunk passed its checks and went DOWN. What the device had
	 * already acknowledged was passed on; the rest is ours now. */
	{
		bool resp_owed = last_txn && !r->got_200;
		bool report_owed = r->need_report && !r->got_report;

		store_hold(r, last_txn ? last_tid : NULL, last_fr, resp_owed, report_owed);
	}
	return true;
}

void relay_store_verified(struct ft_relay *r)
{
	bool check = r->has_sha1 || r->base;

	if (r->ended || r->destroyed)
		return;
	if (check && !r->tee.hashed) {
		/* The '$' went DOWN unverified (a live relay hashes nothing): the kept file is
		 * hashed now, and RECEIVED waits for it (relay_tw_verify wakes us again). */
		if (relay_tw_verify(r))
			return;
		if (r->held_tid[0])
			relay_up_respond_tid(r, r->held_tid, 400, "Cannot store the file");
		r->ack_wait = false;
		relay_finish(r, FT_RELAY_IO_ERROR, "cannot hash the blob");
		return;
	}
	if (check && memcmp(r->tee.digest, r->sha1, sizeof r->sha1) != 0) {
		/* as at a store '$' with a wrong hash: nothing is kept */
		if (r->held_tid[0])
			relay_up_respond_tid(r, r->held_tid, 400, "Hash mismatch");
		r->ack_wait = false;
		relay_finish(r, FT_RELAY_HASH_MISMATCH, "sha-1 differs from the file-selector (checked on the switch to store mode)");
		return;
	}
	relay_event_cb(r, FT_RELAY_RECEIVED, "file received and checked, acknowledgement held");
}

void relay_go_store(struct ft_relay *r)
{
	if (store_switch(r))
		relay_store_verified(r);
}

void relay_recipient_failed(struct ft_relay *r, enum ft_relay_result res, const char *fmt, ...)
{
	char detail[160];
	va_list ap;
	bool received;

	if (r->ended || r->destroyed)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	if (!r->keep_on_loss || r->store || r->source) {
		relay_finish(r, res, "%s", detail);
		return;
	}
	received = store_switch(r);
	relay_event_cb(r, FT_RELAY_RECIPIENT_LOST, detail);
	if (received)
		relay_store_verified(r);
}

/* ---------------------------------------------------------------- public API */

int ftr_detach_down(struct ft_relay *r)
{
	if (!r || r->source || r->ended || r->destroyed || !r->event)
		return -EINVAL;
	if (r->store)
		return 0;
	hub_enter(r->hub);
	relay_go_store(r);
	hub_leave(r->hub);
	return 0;
}

int ftr_ack_received(struct ft_relay *r, int err)
{
	if (!r || !r->ack_wait || r->ended || r->destroyed)
		return -EINVAL;
	hub_enter(r->hub);
	r->ack_wait = false;
	if (!err) {
		struct cpm_str ext = cpm_str_c(r->ack_hdr);

		if (r->held_200)
			relay_up_respond_tid_ext(r, r->held_tid, 200, NULL, ext);
		if (r->held_report)
			relay_up_report(r, 200, "OK", ext);
		relay_finish(r, FT_RELAY_RECEIVED, "file stored, acknowledged to the sender");
	} else {
		/* RFC 4975 has no "server error": 400 is the generic failure
		 * (413 would tell the sender its file is too big). */
		if (r->held_tid[0])
			relay_up_respond_tid(r, r->held_tid, 400, "Cannot store the file");
		if (r->held_fr != MSRP_REPORT_NO)
			relay_up_report(r, 400, "Cannot store the file", CPM_STR_NULL);
		relay_finish(r, FT_RELAY_IO_ERROR, "the store could not keep the file (%s)",
			     strerror(err < 0 ? -err : err));
	}
	hub_leave(r->hub);
	return 0;
}

int ftr_refuse_received(struct ft_relay *r, int status, const char *comment)
{
	if (!r || !r->ack_wait || r->ended || r->destroyed || status < 400 || status > 599 || !comment)
		return -EINVAL;
	hub_enter(r->hub);
	r->ack_wait = false;
	/* The owner's refusal (content screening) goes out as it says, to the '$' chunk and in
	 * the failure REPORT: the sender's client shows the comment. */
	if (r->held_tid[0])
		relay_up_respond_tid(r, r->held_tid, status, comment);
	if (r->held_fr != MSRP_REPORT_NO)
		relay_up_report(r, status, comment, CPM_STR_NULL);
	relay_finish(r, FT_RELAY_RECIPIENT_REFUSED, "refused by the owner: %d %s", status, comment);
	hub_leave(r->hub);
	return 0;
}

/* RFC 3261 token (RFC 4975 hname is the same set). */
static bool hname_ok(const char *s, size_t n)
{
	if (n == 0 || n > FT_RELAY_ACK_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

		if (!alnum && !strchr("-.!%*_+`'~", c))
			return false;
	}
	return true;
}

/* Headers MSRP itself defines (RFC 4975 §9, RFC 4976): a second copy
 * would change what the message means, so they cannot be "extensions". */
static bool hname_reserved(const char *s)
{
	static const char *const own[] = {"To-Path", "From-Path", "Message-ID", "Byte-Range",
					  "Success-Report", "Failure-Report", "Status", "Use-Path",
					  "WWW-Authenticate", "Authorization", "Authentication-Info",
					  "Expires", "Min-Expires", "Max-Expires"};

	if (strncasecmp(s, "Content-", 8) == 0)
		return true;
	for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
		if (strcasecmp(s, own[i]) == 0)
			return true;
	return false;
}

/* utf8text (RFC 4975): HTAB, printable ASCII, and non-ASCII bytes (the
 * value is ours, from the store: not checked as UTF-8); no white space at
 * the ends, which a parser would strip. */
static bool hvalue_ok(const char *s, size_t n)
{
	if (n == 0 || n > FT_RELAY_ACK_VALUE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return !strchr(" \t", s[0]) && !strchr(" \t", s[n - 1]);
}

int ftr_set_ack_header(struct ft_relay *r, const char *name, const char *value)
{
	size_t nl, vl;

	if (!r || !name || !value || r->source || !r->event || r->ended || r->destroyed)
		return -EINVAL;
	nl = strnlen(name, FT_RELAY_ACK_NAME_MAX + 1);
	vl = strnlen(value, FT_RELAY_ACK_VALUE_MAX + 1);
	if (!hname_ok(name, nl) || hname_reserved(name) || !hvalue_ok(value, vl))
		return -EINVAL;
	snprintf(r->ack_hdr, sizeof r->ack_hdr, "%s: %s\r\n", name, value);
	return 0;
}

int ftr_blob_dup(const struct ft_relay *r)
{
	int fd;

	if (!r || r->tee.fd < 0)
		return -EBADF;
	fd = fcntl(r->tee.fd, F_DUPFD_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}
