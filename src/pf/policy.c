/* Policy decisions (policy.h; the table is docs/internals/policy.md). Every rule an operator
 * could want to change is here, and pf asks:
 *
 *   policy_check_offer        pf.c, a new file-transfer INVITE: what a push offer must carry
 *                             (RFC 5547), the file range of a resumed upload, --max-file-size.
 *   policy_max_file_size      pf.c / pf_intake.c, creating a relay: the limit on the bytes.
 *   policy_check_message_offer,  pf_ft.c, a large-message INVITE (no file-selector): what the
 *   policy_max_message_size   offer must carry, --max-message-size (413); the relay's limit.
 *   policy_unreachable        pf.c: the answer when nobody can take the file and it is not
 *                             deferred (no device, invitation timer, every device unavailable).
 *   policy_fork_class         the classify callback of every fork pf starts (live transfer,
 *                             push delivery): 6xx ends it, "device not there", real answer.
 *   policy_user               everywhere pf needs a user's settings (pf_prefs.c): operator
 *                             defaults < XDM document < local record < the operator's switch.
 *   policy_xdm_settings       pf_xdm.c: the settings of a fetched preferences document.
 *   policy_sender_blocked,    pf_prefs.c (screening asks): the user's blocked senders and
 *   policy_type_accepted      accepted / denied MIME types from XDM.
 *   policy_parse_user_pref,   pf_prefs.c at start-up: --user-pref AOR:KEY=VALUE.
 *   policy_new_prefs,
 *   policy_apply_user_pref
 *   policy_may_defer          pf.c / pf_intake.c: whether cpmd takes the file itself (no device,
 *                             no answer, the device's leg lost mid-transfer).
 *   policy_check_quota        pf_intake.c / pf_msg.c, the deferral decision: --quota-items,
 *                             --quota-bytes of the recipient (486).
 *   policy_keep_partial       pf_intake.c, the sender left mid-upload: keep a resumable partial?
 *   policy_expiry             pf.c, a new transfer: when its stored copy (or partial) expires.
 *   policy_retry_delay        pf_deliver.c: back-off before retrying a user's deliveries.
 *   policy_delivery_room      pf_deliver.c, pf_deliver_kick: deliveries that may start now.
 *   policy_push_asserted_identity  pf_deliver.c: P-Asserted-Identity on push INVITEs.
 *   policy_notif_drop_before  pf_notify.c, housekeeping: when an undeliverable IMDN is dropped.
 *   policy_check_session_offer  pf_session.c, a chat session INVITE: what its offer must say.
 *   policy_session_room       pf_session.c: --max-sessions-per-user, --max-sessions.
 *   policy_transfer_room      pf_ft.c, a new transfer INVITE: --max-transfers (503),
 *                             --max-transfers-per-user (486).
 *   policy_session_unreachable  pf_session.c: the answer when nobody takes a session.
 *   policy_max_chat_size      pf_session.c: our a=max-size, enforced by the session relay.
 *   policy_check_pager        pf_msg.c, a pager MESSAGE: its size (413).
 *   policy_item_notifies      pf_notify.c: whether cpmd itself notifies about a stored item.
 *   policy_report_bit         pf_report.c, a device's IMDN: which report it is, if any.
 *   policy_routed_expiry      pf_msg.c: how long a routed message is remembered.
 *
 * The decisions about a user's own settings (preferences, XDM, blocked senders, types,
 * screening) are in policy_user.c, under the same header.
 *
 * Pure: no I/O, no clock, no store, no allocation. Every function behaves exactly as the code
 * it was moved from (the e2e tests check the wire); where that code would have overflowed on
 * a configuration cpmd's option checks never allow, the result saturates instead. */
#include "pf/policy.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cpm/parse.h"
#include "sipua/location.h"

static void set(struct pf_verdict *v, int status, const char *phrase)
{
	v->status = status;
	snprintf(v->phrase, sizeof v->phrase, "%s", phrase);
	v->warning[0] = '\0';
}

/* ---- the offer ------------------------------------------------------------------------- */

void policy_check_offer(const struct pf_config *c, const struct sdp_ft *o, struct pf_verdict *v)
{
	memset(v, 0, sizeof *v);
	/* RFC 5547 §6: a file transfer is an MSRP stream with a=file-selector; without one this
	 * is some other MSRP use (a chat session), which we do not serve. */
	if (!o->has_selector) {
		set(v, 488, "No File Selector");
		return;
	}
	if (o->port == 0) {
		set(v, 488, "MSRP Stream Rejected In Offer");
		return;
	}
	if (o->dir == SDP_DIR_RECVONLY) {
		/* RFC 5547 pull: pf routes it to the store before asking; here there is none. */
		set(v, 488, "File Pull Not Available");
		return;
	}
	if (o->dir != SDP_DIR_SENDONLY) {
		/* RFC 5547 §8: the offerer of a push is sendonly (none given = sendrecv: not a push). */
		set(v, 488, "File Transfer Offer Must Be sendonly");
		return;
	}
	if (!o->sel.has_name || !o->sel.has_size || !o->sel.has_type) {
		/* The recipient's device decides on name, size and type (RFC 5547 §6), and
		 * store-and-forward needs the size to check what arrives. */
		set(v, 488, "Incomplete File Selector (name, size and type required)");
		return;
	}
	if (o->sel.has_hash && (strcmp(o->sel.hash_alg, "sha-1") != 0 || o->sel.hash_len != 20)) {
		/* RFC 5547 §6 registers sha-1 only; the relay checks the bytes against it. */
		set(v, 488, "Unsupported File Hash (sha-1 only)");
		return;
	}
	if (o->setup == SDP_SETUP_PASSIVE || o->setup == SDP_SETUP_HOLDCONN) {
		/* cpmd is always the passive MSRP end (it has the public address; RFC 6135). */
		set(v, 488, "MSRP Offerer Must Be Active (a=setup)");
		return;
	}
	if (o->has_file_range) {
		/* A resumed upload (RFC 5547 §6, standards.md §2.4): the rest of the file, from a
		 * byte inside it to its end; the hash proves it is the same file. pf_intake.c
		 * matches it to a kept partial. (A 0-byte file has no byte to start from.) */
		if (o->range_start < 1 || o->range_start > o->sel.size ||
		    (o->range_stop != 0 && o->range_stop != o->sel.size)) {
			set(v, 488, "File Range Outside The File (must be START-SIZE)");
			return;
		}
		if (o->range_start > 1 && !o->sel.has_hash) {
			set(v, 488, "Resume Needs The sha-1 Of The File");
			return;
		}
	}
	/* 488 rather than 413: 413 is about the SIP body, and RFC 4975 §8.6 points to 488 for
	 * media the answerer will not accept. The phrase and a Warning (RFC 3261 §20.43, code
	 * 399 "miscellaneous") name the limit so a human sees why. 0 = no limit. */
	if (c->max_file_size && o->sel.size > c->max_file_size) {
		v->status = 488;
		snprintf(v->phrase, sizeof v->phrase, "File Too Large (max %" PRIu64 " bytes)", c->max_file_size);
		snprintf(v->warning, sizeof v->warning,
			 "399 cpmd \"file size %" PRIu64 " exceeds the maximum of %" PRIu64 " bytes\"", o->sel.size,
			 c->max_file_size);
		return;
	}
}

uint64_t policy_max_file_size(const struct pf_config *c)
{
	/* The offer check trusts the declared size; the relay enforces the same limit on the
	 * bytes (docs/ARCHITECTURE.md §5). */
	return c->max_file_size;
}

void policy_check_message_offer(const struct pf_config *c, const struct sdp_ft *o, struct pf_verdict *v)
{
	memset(v, 0, sizeof *v);
	if (o->port == 0) {
		set(v, 488, "MSRP Stream Rejected In Offer");
		return;
	}
	if (o->dir != SDP_DIR_SENDONLY) {
		/* one message, one way (messaging.md §2) */
		set(v, 488, "Large Message Offer Must Be sendonly");
		return;
	}
	if (o->has_selector) {
		/* a file-selector makes it a file transfer: which one did the sender mean? */
		set(v, 488, "Large Message Offer With A File Selector");
		return;
	}
	if (!sdp_accepts_type(o, "message/cpim")) {
		set(v, 488, "Large Message Must Be message/cpim (a=accept-types)");
		return;
	}
	if (o->setup == SDP_SETUP_PASSIVE || o->setup == SDP_SETUP_HOLDCONN) {
		set(v, 488, "MSRP Offerer Must Be Active (a=setup)");
		return;
	}
	/* 413 (RFC 3428 §8 / messaging.md §1-2: a message too large for this mode); the relay
	 * enforces the same limit on the Byte-Range total when no a=max-size was given. */
	if (c->max_message_size && o->has_max_size && o->max_size > c->max_message_size) {
		v->status = 413;
		snprintf(v->phrase, sizeof v->phrase, "Message Too Large (max %" PRIu64 " bytes)", c->max_message_size);
		snprintf(v->warning, sizeof v->warning,
			 "399 cpmd \"message size %" PRIu64 " exceeds the maximum of %" PRIu64 " bytes\"", o->max_size,
			 c->max_message_size);
	}
}

uint64_t policy_max_message_size(const struct pf_config *c)
{
	return c->max_message_size;
}

/* ---- the recipient cannot take the file ------------------------------------------------ */

void policy_unreachable(const struct pf_config *c, enum pf_unreachable_why why, struct pf_verdict *v)
{
	(void)c;
	/* 480 (RFC 3261 §21.4.18): the user exists but cannot be reached now. The phrase says
	 * why, for logs and for a human reading the sender's output. */
	switch (why) {
	case PF_NO_DEVICE:
		set(v, 480, "Temporarily Unavailable (no device registered)");
		return;
	case PF_NO_ANSWER:
		set(v, 480, "Temporarily Unavailable (no answer)");
		return;
	case PF_ALL_UNAVAILABLE:
		set(v, 480, "Temporarily Unavailable");
		return;
	}
	set(v, 480, "Temporarily Unavailable"); /* not reached: every enum value is above */
}

enum sip_fork_class policy_fork_class(int status)
{
	/* RFC 3261 §16.7 step 5 / §21.6: a 6xx is definitive for every device of the user (603:
	 * the user said no); it ends the fork and is never deferred. */
	if (status / 100 == 6)
		return SIP_FORK_ENDS;
	/* 408/480: RFC 3261 "not there"; 404: the device no longer knows the user (a stale
	 * binding); 487: our own CANCEL at the invitation timer; 5xx from our own stack mean the
	 * flow to the device is gone. Such a branch is no answer: when every branch is one, the
	 * recipient is unreachable (policy_unreachable or deferral). */
	if (status == 408 || status == 480 || status == 487 || status == 404 || status >= 500)
		return SIP_FORK_UNAVAILABLE;
	return SIP_FORK_ANSWER;
}

/* ---- store-and-forward ------------------------------------------------------------------ */

bool policy_may_defer(const struct pf_config *c, const struct pf_user_policy *up, bool has_size)
{
	/* Without a declared size the stored file could not be checked for completeness
	 * (store-and-forward.md §1). up->defer already holds the operator's switch when it
	 * comes from policy_user; c->defer is checked again so that no caller can bypass it. */
	return has_size && c->defer && up->defer;
}

void policy_check_quota(const struct pf_config *c, uint64_t held_items, uint64_t held_bytes, uint64_t size,
			struct pf_verdict *v)
{
	memset(v, 0, sizeof *v);
	if (c->quota_items && held_items >= c->quota_items) {
		set(v, 486, "Recipient Quota Exceeded (items)");
		snprintf(v->warning, sizeof v->warning,
			 "399 cpmd \"the recipient already has %" PRIu64 " stored items: quota-items is %" PRIu64 "\"",
			 held_items, c->quota_items);
		return;
	}
	/* held + size > quota, written so that it cannot wrap */
	if (c->quota_bytes && (held_bytes > c->quota_bytes || size > c->quota_bytes - held_bytes)) {
		set(v, 486, "Recipient Quota Exceeded (bytes)");
		snprintf(v->warning, sizeof v->warning,
			 "399 cpmd \"%" PRIu64 " stored bytes + %" PRIu64 " exceed the recipient's quota-bytes of %" PRIu64
			 "\"",
			 held_bytes, size, c->quota_bytes);
	}
}

bool policy_keep_partial(const struct pf_config *c, bool has_hash, uint64_t bytes, uint64_t size)
{
	(void)c;
	/* A resume is matched by (sender, selector with sha-1) and the whole file's sha-1 is
	 * checked at the end (store-and-forward.md §5): without a hash nothing could resume it.
	 * No byte: nothing to keep; every byte: it is complete, not partial. */
	return has_hash && bytes > 0 && bytes < size;
}

/* now_ms + s seconds, saturating (no signed overflow, whatever the configuration). */
static int64_t add_seconds(int64_t now_ms, uint64_t s)
{
	if (s > (uint64_t)INT64_MAX / 1000)
		return INT64_MAX;
	int64_t d = (int64_t)s * 1000;
	return now_ms > INT64_MAX - d ? INT64_MAX : now_ms + d;
}

int64_t policy_expiry(const struct pf_config *c, int64_t now_ms, uint64_t requested_s)
{
	/* store-and-forward.md §6: created + min(Cpm-Expires, --store-max-expiry), or
	 * + --store-default-expiry when the sender asked nothing (0 = nothing asked). The
	 * default is capped too (cpmd refuses default > max; this holds anyway). */
	uint64_t s = requested_s ? requested_s : c->store_default_expiry;
	if (s > c->store_max_expiry)
		s = c->store_max_expiry;
	return add_seconds(now_ms, s);
}

/* MIN doubled `retries` times, capped at MAX: the one back-off rule of cpmd. */
static unsigned backoff(unsigned min, unsigned max_, unsigned retries)
{
	uint64_t max = max_, d = min;
	if (d == 0)
		return 0; /* doubling 0 stays 0 (cpmd's options require MIN >= 1) */
	for (unsigned i = 0; i < retries && d < max; i++)
		d *= 2; /* d < max <= UINT_MAX before, so it cannot overflow 64 bits */
	if (d > max)
		d = max; /* also MIN > MAX: MAX */
	return (unsigned)d;
}

unsigned policy_retry_delay(const struct pf_config *c, unsigned retries)
{
	/* Exponential back-off (store-and-forward.md §3: 10 s, doubling, max 10 min): a device
	 * that is away stays away for a while, and each retry forks to every device. A device
	 * that registers again triggers an attempt at once anyway (pf_deliver_kick). */
	return backoff(c->delivery_retry_min, c->delivery_retry_max, retries);
}

unsigned policy_mss_retry_delay(const struct pf_config *c, unsigned retries)
{
	/* the same shape for the message store (--mss-retry): an MSS that is down is down for
	 * a while; nothing waits for the write but the item's disk space */
	return backoff(c->mss_retry_min, c->mss_retry_max, retries);
}

enum store_mss_obj policy_mss_recipient_obj(const struct pf_user_policy *rp, bool is_file, const char *outcome)
{
	bool expired = !strcmp(outcome, "expired"), delivered = !strcmp(outcome, "delivered");
	if (expired && rp->on_expiry == STORE_EXPIRY_KEEP)
		return STORE_MSS_EXPIRED; /* the item itself, kept for the recipient */
	if (delivered && is_file && rp->keep == STORE_KEEP_BESIDES)
		return STORE_MSS_KEPT;
	if (rp->history)
		return is_file ? STORE_MSS_FT_HISTORY : STORE_MSS_MESSAGE_HISTORY;
	return STORE_MSS_NONE;
}

unsigned policy_delivery_room(const struct pf_config *c, unsigned active)
{
	/* Each delivery forks to every device of the user, so a per-user bound is also the
	 * bound per device (--delivery-per-device). */
	return active >= c->delivery_per_device ? 0 : c->delivery_per_device - active;
}

bool policy_push_asserted_identity(const struct pf_config *c)
{
	/* RFC 3325: only within a trust domain that the operator vouches for; Referred-By alone
	 * otherwise (store-and-forward.md §3). */
	return c->push_asserted_identity;
}

int64_t policy_notif_drop_before(const struct pf_config *c, int64_t now_ms)
{
	/* store-and-forward.md §7: a sender unreachable for twice the longest lifetime of an
	 * item will not come back for this notification; keeping it for ever would let the
	 * table grow without bound. Saturating, like add_seconds. */
	int64_t d = 2 * (int64_t)c->store_max_expiry * 1000; /* <= 2 * UINT_MAX * 1000: fits */
	return now_ms < INT64_MIN + d ? INT64_MIN : now_ms - d;
}

/* ---- 1-1 chat sessions -------------------------------------------------------------------- */

void policy_check_session_offer(const struct pf_config *c, const struct sdp_ft *o, struct pf_verdict *v)
{
	(void)c;
	memset(v, 0, sizeof *v);
	if (o->port == 0) {
		set(v, 488, "MSRP Stream Rejected In Offer");
		return;
	}
	if (o->dir != SDP_DIR_SENDRECV && o->dir != SDP_DIR_NONE) {
		/* messages go both ways (messaging.md §5; RFC 4566: no attribute = sendrecv) */
		set(v, 488, "Chat Session Offer Must Be sendrecv");
		return;
	}
	if (!sdp_accepts_type(o, "message/cpim")) {
		/* every chat message and report is CPIM-wrapped (messaging.md §5) */
		set(v, 488, "Chat Session Must Accept message/cpim");
		return;
	}
	if (o->setup == SDP_SETUP_PASSIVE || o->setup == SDP_SETUP_HOLDCONN) {
		/* cpmd is always the passive MSRP end (docs/ARCHITECTURE.md §4) */
		set(v, 488, "MSRP Offerer Must Be Active (a=setup)");
		return;
	}
}

void policy_session_room(const struct pf_config *c, unsigned of_sender, unsigned total, struct pf_verdict *v)
{
	memset(v, 0, sizeof *v);
	/* The server's bound first: a flood from many users must not pass as "busy". */
	if (total >= c->max_sessions) {
		set(v, 503, "Too Many Sessions");
		return;
	}
	/* One user cannot hold more than their share: each session is two MSRP connections and
	 * a fork while it rings. */
	if (of_sender >= c->max_sessions_per_user)
		set(v, 486, "Too Many Sessions");
}

void policy_transfer_room(const struct pf_config *c, unsigned of_sender, unsigned total, struct pf_verdict *v)
{
	memset(v, 0, sizeof *v);
	if (total >= c->max_transfers) { /* the server's bound first, as for sessions */
		set(v, 503, "Too Many Transfers");
		return;
	}
	/* Each transfer is two MSRP connections, a fork and maybe a blob being written: one user
	 * must not take every slot of --max-transfers. 0 = no per-user bound. */
	if (c->max_transfers_per_user && of_sender >= c->max_transfers_per_user) {
		v->status = 486;
		snprintf(v->phrase, sizeof v->phrase, "Too Many Transfers (max-transfers-per-user %u)",
			 c->max_transfers_per_user);
	}
}

void policy_session_unreachable(const struct pf_config *c, enum pf_unreachable_why why, struct pf_verdict *v)
{
	(void)c;
	memset(v, 0, sizeof *v);
	switch (why) {
	case PF_NO_DEVICE:
		set(v, 480, "Temporarily Unavailable (no device registered)");
		return;
	case PF_NO_ANSWER:
		set(v, 408, "Request Timeout (no answer)");
		return;
	case PF_ALL_UNAVAILABLE:
		set(v, 480, "Temporarily Unavailable");
		return;
	}
	set(v, 480, "Temporarily Unavailable");
}

uint64_t policy_max_chat_size(const struct pf_config *c)
{
	return c->max_chat_size;
}

/* ---- standalone messages and their reports ---------------------------------------------- */

void policy_check_pager(const struct pf_config *c, size_t len, struct pf_verdict *v)
{
	memset(v, 0, sizeof *v);
	/* RFC 3428 §8: a MESSAGE must stay small (it travels without congestion control on UDP,
	 * and a proxy holds it whole); CPM sends a bigger one in large-message mode over MSRP.
	 * 413 is the SIP answer for a body too large, and the phrase says what to do. */
	if (len > c->max_pager_size) {
		v->status = 413;
		snprintf(v->phrase, sizeof v->phrase, "Message Too Large (max %zu bytes: use large mode)",
			 c->max_pager_size);
		snprintf(v->warning, sizeof v->warning,
			 "399 cpmd \"message body of %zu bytes exceeds the pager maximum of %zu bytes\"", len,
			 c->max_pager_size);
	}
}

bool policy_item_notifies(const struct store_item *it, enum store_notif_kind kind)
{
	if (it->kind != STORE_KIND_MESSAGE)
		return true; /* files: cpmd is the only one who can tell (store-and-forward.md §7) */
	/* messaging.md §4: the device's own `delivered` (and `displayed`) is what reaches the
	 * sender; cpmd says `failed` when no device ever will, if the sender wants to know. */
	return kind == STORE_NOTIF_FAILED && (it->imdn_disp & STORE_IMDN_NEGATIVE);
}

unsigned policy_report_bit(enum imdn_kind kind, enum imdn_status status, unsigned asked)
{
	/* RFC 5438 §7: a recipient sends only what was asked for; one that did not ask gets
	 * nothing from us either (messaging.md §4, rule 1). */
	if (kind == IMDN_KIND_DELIVERY && status == IMDN_STATUS_DELIVERED)
		return asked & STORE_IMDN_POSITIVE ? STORE_REPORT_DELIVERED : 0;
	if (kind == IMDN_KIND_DELIVERY &&
	    (status == IMDN_STATUS_FAILED || status == IMDN_STATUS_FORBIDDEN || status == IMDN_STATUS_ERROR))
		return asked & STORE_IMDN_NEGATIVE ? STORE_REPORT_FAILED : 0;
	if (kind == IMDN_KIND_DISPLAY && status == IMDN_STATUS_DISPLAYED)
		return asked & STORE_IMDN_DISPLAY ? STORE_REPORT_DISPLAYED : 0;
	return 0;
}

int64_t policy_routed_expiry(const struct pf_config *c, int64_t now_ms)
{
	return add_seconds(now_ms, 2 * (uint64_t)c->store_max_expiry);
}
