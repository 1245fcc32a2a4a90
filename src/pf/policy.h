/* policy — every decision an operator could want to change, as pure functions of the
 * configuration (struct pf_config) and the facts of the case. The rest of pf asks here and
 * nowhere else decides: size limits, what an offer must carry, whether to defer and what to
 * answer when the recipient cannot take a file, how a fork branch's failure counts, expiry,
 * retry back-off, delivery concurrency, notification lifetime, and the precedence of the
 * operator's settings over a user's preferences (design §6).
 * No I/O, no store, no clock: the caller passes "now" and the facts it holds (stored
 * preference, bytes received, deliveries in flight...). Unit-tested in
 * tests/unit/test_policy.c; the table of decisions is docs/internals/policy.md. */
#ifndef CPMD_PF_POLICY_H
#define CPMD_PF_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpm/imdn.h"
#include "cpm/prefs_doc.h"
#include "cpm/sdp.h"
#include "pf/pf_config.h"
#include "screen/clamd_reply.h" /* enum clamd_result: a scan's outcome */
#include "sipua/fork.h"
#include "store/store.h"

/* ---- the offer ------------------------------------------------------------------------- */

struct pf_verdict {
	int status;          /* 0 = accept, else the SIP final response */
	char phrase[128];    /* reason phrase (names the limit when one applies) */
	char warning[256];   /* Warning header value, or "" */
};

/* Validate a push file-transfer offer against the RFC 5547 rules we need and the
 * operator's limits. v->status 0: accepted. (A pull, recvonly, is routed to the store by pf
 * before it asks; one that reaches here is refused: there is no store.) */
void policy_check_offer(const struct pf_config *c, const struct sdp_ft *offer, struct pf_verdict *v);

/* The byte limit the relay enforces on what the sender actually sends (a sender that
 * declared less than it sends gets MSRP 413): the same limit as the offer check. 0 = none. */
uint64_t policy_max_file_size(const struct pf_config *c);

/* Validate a large-message offer (Large Message Mode, docs/internals/messaging.md §2: an
 * MSRP stream with no file-selector carrying one message/cpim message): an MSRP stream that
 * is not rejected, sendonly, active or actpass, accept-types naming message/cpim (or "*"),
 * no file-selector; an a=max-size (the message's size, as the sender announces it) over
 * --max-message-size gets 413 with a phrase and Warning naming the limit. v->status 0:
 * accepted. */
void policy_check_message_offer(const struct pf_config *c, const struct sdp_ft *offer, struct pf_verdict *v);

/* The byte limit the relay enforces on a large message (its Byte-Range total, then its
 * bytes): --max-message-size. 0 = none. */
uint64_t policy_max_message_size(const struct pf_config *c);

/* ---- the recipient cannot take the file ------------------------------------------------ */

/* What to answer the sender when the recipient cannot take the file now and it is not
 * deferred. Always a final response (v->status != 0), no Warning. */
enum pf_unreachable_why { PF_NO_DEVICE, PF_NO_ANSWER, PF_ALL_UNAVAILABLE };
void policy_unreachable(const struct pf_config *c, enum pf_unreachable_why why, struct pf_verdict *v);

/* How a fork branch's final failure counts (sipua's fork engine asks through its classify
 * callback, for live transfers and deliveries alike): 6xx ends the fork (the user's answer
 * for every device); 404/408/480/487 and 5xx (and anything >= 700) mean "the device is not
 * there"; every other status (3xx, the other 4xx) is a real answer. A status < 300 is not a
 * failure and is never asked; it returns SIP_FORK_ANSWER. */
enum sip_fork_class policy_fork_class(int status);

/* ---- the user's settings under the operator's (design §6) ------------------------------ */

/* The user's effective settings: the operator's defaults, the user's stored preference over
 * them (stored may be NULL: the user has none), and the operator's switches over both
 * (--defer off switches deferral off for everyone, whatever the user stored). */
struct pf_user_policy {
	bool defer;
	enum store_method method;
	enum store_on_expiry on_expiry;
	/* issue 11: the user's message store and screening */
	bool history;          /* histories of what the user sends and receives go to their MSS */
	enum store_keep keep;  /* files for the user kept in their MSS (instead of / besides) */
	bool screening;        /* what reaches the user is screened (policy_screen) */
	uint64_t max_size;     /* the largest file the user accepts (0: none of theirs) */
};
/* The user's settings from their XDM document (issue 11 §3, docs/internals/xdm.md): each one
 * unset (0: the document does not say; the next layer down applies) or a value. A few bytes
 * per user, what pf's cache keeps of the document besides its lists. */
struct pf_xdm_settings {
	enum prefs_bool defer;
	enum prefs_delivery delivery;
	enum prefs_keep keep;
	enum prefs_expiry on_expiry;
	enum prefs_bool history;
	enum prefs_bool screening;
	bool has_max_size;
	uint64_t max_size;
};
/* The settings of a parsed document (its lists are not settings: pf's cache keeps them). */
void policy_xdm_settings(const struct prefs_doc *d, struct pf_xdm_settings *out);
/* Precedence, lowest first: the operator's defaults < the user's XDM document (xdm; NULL or
 * all unset: none) < the local record (stored, --user-pref; NULL: none; a record holds every
 * setting, so it replaces the document's settings whole) < the operator's switches (--defer
 * off, --history, --mss-keep, --screening) < no MSS (no history, nothing kept). */
void policy_user(const struct pf_config *c, const struct pf_xdm_settings *xdm, const struct store_prefs *stored,
		 struct pf_user_policy *out);

/* The user's lists from XDM (pf's cache passes them; no list = nothing refused):
 * policy_sender_blocked: is sender_key ("user@host") in blocked[n] (sip:/sips: URIs compare
 * user exactly and host case-insensitively, ignoring URI parameters; a tel: URI matches a
 * sender whose user part is that number)?
 * policy_type_accepted: may content of mime_type reach the user? Refused when a deny type
 * matches; else, when the user gave accept types (has_accept), only when one matches. Types
 * compare case-insensitively, parameters ignored; a wildcard subtype (image/STAR) covers
 * the whole type, STAR/STAR everything (STAR = "*"; written so for this comment). */
bool policy_sender_blocked(const char *const *blocked, size_t n, const char *sender_key);
bool policy_type_accepted(const char *const *accept, size_t naccept, bool has_accept, const char *const *deny,
			  size_t ndeny, const char *mime_type);

/* --user-pref, in three steps (the store I/O between them is pf's):
 *  1. policy_parse_user_pref splits one "AOR:KEY=VALUE" (AOR with or without a leading
 *     "sip:"; the LAST ':' ends the AOR, the first '=' after it ends KEY) into the canonical
 *     AOR key "user@host" (host lower-cased, location_aor_key), KEY and VALUE. 0, or -1 when
 *     malformed: no ':' or no '=' after it, an empty AOR or KEY, no '@', an empty user or
 *     host, an AOR of LOC_MAX_AOR bytes or more, a KEY or VALUE of POLICY_PREF_TOKEN_MAX
 *     bytes or more, or a buffer too small for what it must hold. KEY and VALUE are not
 *     checked here.
 *  2. pf reads the user's stored record; when there is none it starts from
 *     policy_new_prefs.
 *  3. policy_apply_user_pref applies KEY=VALUE to that record: defer=on|off,
 *     method=push|pull, on-expiry=discard|keep, history=on|off, keep=off|instead|besides,
 *     screening=on|off, max-size=BYTES (exact, lower-case). 0, or -1 for an unknown KEY or a
 *     bad VALUE (p is then unchanged). pf writes the record back. */
#define POLICY_PREF_TOKEN_MAX 32 /* size of the KEY and VALUE buffers (including the NUL) */
int policy_parse_user_pref(const char *spec, char *aor_key, size_t cap, char *key, size_t kcap, char *val,
			   size_t vcap);
int policy_apply_user_pref(struct store_prefs *p, const char *key, const char *val);
/* The record a user's first --user-pref starts from: aor = aor_key, the operator's default
 * method and on-expiry, and defer = true even when the operator's --defer is off (the record
 * holds the user's wish; policy_user applies the operator's switch when it is read). */
void policy_new_prefs(const struct pf_config *c, const char *aor_key, struct store_prefs *out);

/* ---- content screening (issue 11 §4; docs/internals/screening.md) ----------------------- */

/* What screening checks of one offer or message for one recipient, before anything is
 * delivered or stored. Which checks depend on the recipient being screened
 * (up->screening: their preference, or the operator's --screening over it):
 *   - blocked senders (the recipient's own list): ALWAYS, for every recipient who has one;
 *   - the recipient's max-size (up->max_size): ALWAYS, when set;
 *   - MIME types (the operator's --screen-deny-types / --screen-allow-types, and the
 *     recipient's own accepted types, user_type_ok): only for a SCREENED recipient;
 *   - the malware scan (policy_scan_wanted): only for a screened recipient, with --clamd.
 * facts: blocked = pf_prefs_blocks(recipient, sender); user_type_ok = pf_prefs_type_ok;
 * type = the file's a=file-selector type (a large message: message/cpim; a pager message:
 * its CPIM content's type), "" read as application/octet-stream; size/has_size = the
 * file's declared size (a message's length).
 * Verdicts, in this order: 403 "Sender Blocked By Recipient (SENDER)"; 415 "Unsupported
 * Media Type (TYPE)" (RFC 3261 §21.4.13) with a Warning naming the list that refused it; 413
 * "Too Large For Recipient (max-size N bytes)". v->status 0: accepted. */
struct pf_screen_facts {
	const char *sender_key; /* "user@host", named in the 403 */
	bool blocked;
	bool user_type_ok;
	const char *type;
	uint64_t size;
	bool has_size;
};
void policy_screen_offer(const struct pf_config *c, const struct pf_user_policy *up, const struct pf_screen_facts *f,
			 struct pf_verdict *v);

/* Is this MIME type (parameters ignored, case-insensitive) in a comma-separated list of
 * types, e.g. "text/plain,image/STAR" (STAR standing for the asterisk: C comments cannot
 * hold it after a slash)? "TYPE/STAR" covers a top-level type; "STAR" or "STAR/STAR" every
 * type; blanks around the entries are ignored. An empty list names nothing. */
bool policy_type_listed(const char *list, const char *type);

/* Is what reaches this recipient scanned for malware? Screened, and cpmd has a clamd
 * (--clamd). A screened FILE then never goes cut-through to a device: it is taken into the
 * store first and scanned before the sender's final acknowledgement. */
bool policy_scan_wanted(const struct pf_config *c, const struct pf_user_policy *up);

/* The outcome of a scan: CLEAN → 0 (deliver/store as usual); INFECTED → 403 "Malware Found
 * (SIGNATURE)"; ERROR or TOO_BIG → with --screen-fail open, 0 (delivered unscanned: the
 * caller logs it), closed (the default) → 503 "Content Screening Unavailable (WHY)" (TOO_BIG:
 * "(too large to screen)"). virus/why: clamd's signature name / reason (may be NULL). */
void policy_scan_result(const struct pf_config *c, enum clamd_result r, const char *virus, const char *why,
			struct pf_verdict *v);

/* The MSRP status of the sender's last chunk for a screening verdict (RFC 4975 §7.3 has no
 * 503 and no 488): 403 (refused: malware, blocked), 413 (too large), 415 (type), else 400. */
int policy_screen_msrp_status(const struct pf_verdict *v);

/* A --user-pref "AOR:block=SENDER": does SENDER (with or without "sip:", host case-
 * insensitive) name sender_key ("user@host")? */
bool policy_pref_names_sender(const char *val, const char *sender_key);

/* ---- store-and-forward ------------------------------------------------------------------ */

/* May this transfer be deferred? up = the recipient's policy (policy_user); has_size = the
 * offer declares the file's size (a file of unknown size cannot be checked, so it is never
 * stored). Whether pf has a store at all is the caller's fact: no store, no deferral. */
bool policy_may_defer(const struct pf_config *c, const struct pf_user_policy *up, bool has_size);

/* The recipient's quotas (issue 10, docs/security.md): may cpmd hold one more item of `size`
 * bytes for a recipient for whom it already holds `held_items` items of `held_bytes` bytes
 * (store_recipient_usage)? Asked at the deferral decision, before any byte of the upload
 * moves. --quota-items first, then --quota-bytes (0 = no limit). Beyond: 486 "Recipient Quota
 * Exceeded (items)" / "(bytes)" with a Warning 399 naming the limit. 486 Busy Here (RFC 3261
 * §21.4.24: reached, but cannot take more now) rather than 507 (not a SIP code), 413 (about
 * the SIP body) or 480 (would invite a retry that cannot succeed until the recipient fetches):
 * it is final for this attempt, and the phrase says why. v->status 0: room. */
void policy_check_quota(const struct pf_config *c, uint64_t held_items, uint64_t held_bytes, uint64_t size,
			struct pf_verdict *v);

/* An upload that ended before its last byte (the sender left): is what came kept as a
 * resumable partial? Only when a resume could use it: the offer had a sha-1 (a resume is
 * matched and checked by it) and some but not all bytes came. */
bool policy_keep_partial(const struct pf_config *c, bool has_hash, uint64_t bytes, uint64_t size);

/* expires_at (ms) for an item created at now_ms, from the sender's Cpm-Expires (0 = none):
 * the default when none, capped at the maximum. */
int64_t policy_expiry(const struct pf_config *c, int64_t now_ms, uint64_t requested_s);

/* Seconds before the next delivery attempt to a user. retries = how many retries were
 * already scheduled since the user's last success or fresh device (0 when the first attempt
 * just failed): --delivery-retry MIN doubled that many times, capped at MAX. */
unsigned policy_retry_delay(const struct pf_config *c, unsigned retries);

/* Seconds before the next attempt to write an item to the message store: --mss-retry MIN
 * doubled `retries` times, capped at MAX (the rule of policy_retry_delay). */
unsigned policy_mss_retry_delay(const struct pf_config *c, unsigned retries);

/* What the recipient's message store gets of an item whose life with cpmd ended with
 * `outcome` ("delivered", "expired", "declined", "failed"), per their policy (rp): an expired
 * item with on-expiry=keep is kept (STORE_MSS_EXPIRED); a delivered file with keep=besides is
 * kept (STORE_MSS_KEPT); else their history, if they record it; else nothing. (The sender's
 * history is the sender's own policy: rp of the sender, history alone.) */
enum store_mss_obj policy_mss_recipient_obj(const struct pf_user_policy *rp, bool is_file, const char *outcome);

/* How many more push deliveries may start for a user who has `active` in flight. */
unsigned policy_delivery_room(const struct pf_config *c, unsigned active);

/* Do push deliveries also carry P-Asserted-Identity: <sender> (a trust domain, RFC 3325)? */
bool policy_push_asserted_identity(const struct pf_config *c);

/* A notification created before this time (ms) is dropped: its sender never came back in
 * twice the longest time an item may be kept. */
int64_t policy_notif_drop_before(const struct pf_config *c, int64_t now_ms);

/* ---- 1-1 chat sessions (docs/internals/messaging.md §5) --------------------------------- */

/* Validate a chat session offer (an INVITE pf classified as a session): an MSRP stream
 * (port not 0), sendrecv (or no direction: the SDP default), accepting message/cpim (or "*"),
 * the offerer active. v->status 0: accepted; else 488 with a phrase naming the rule. */
void policy_check_session_offer(const struct pf_config *c, const struct sdp_ft *offer, struct pf_verdict *v);

/* Room for one more session: `of_sender` live sessions of this sender, `total` in all.
 * Beyond --max-sessions-per-user: 486 "Too Many Sessions" (the sender's own limit, RFC 3261
 * §21.4.24: busy); beyond --max-sessions: 503 "Too Many Sessions" (the server's; pf adds
 * Retry-After). v->status 0: room. */
void policy_session_room(const struct pf_config *c, unsigned of_sender, unsigned total, struct pf_verdict *v);

/* Room for one more file transfer (live, deferred uploads, large messages): `of_sender` live
 * transfers of this sender, `total` in all. Beyond --max-transfers: 503 "Too Many Transfers"
 * (the server's bound); beyond --max-transfers-per-user: 486 "Too Many Transfers
 * (max-transfers-per-user N)" (the sender's own share, RFC 3261 §21.4.24). pf adds
 * Retry-After to both. v->status 0: room. */
void policy_transfer_room(const struct pf_config *c, unsigned of_sender, unsigned total, struct pf_verdict *v);

/* What the inviter of a session hears when nobody takes it (sessions are never stored):
 * no device → 480, the invitation timer → 408 Request Timeout (nobody answered: RFC 3261
 * §21.4.9), every device unavailable → 480. */
void policy_session_unreachable(const struct pf_config *c, enum pf_unreachable_why why, struct pf_verdict *v);

/* Our a=max-size on both legs of a session, enforced by the relay (MSRP 413). */
uint64_t policy_max_chat_size(const struct pf_config *c);

/* ---- standalone messages and their reports (docs/internals/messaging.md) ---------------- */

/* A pager-mode MESSAGE whose body is len bytes: v->status 0 accepted, else 413 with a phrase
 * and a Warning that name the limit (RFC 3428 §8: a bigger message goes in large mode). */
void policy_check_pager(const struct pf_config *c, size_t len, struct pf_verdict *v);

/* Does cpmd itself notify the sender that a stored item ended `kind`? A file: always (as
 * before). A message: its devices send delivered and displayed themselves (cpmd forwards
 * theirs and invents none), so cpmd sends only `failed` (expiry, a decline, a lost item), and
 * only when the sender asked for negative-delivery. */
bool policy_item_notifies(const struct store_item *it, enum store_notif_kind kind);

/* Which report (STORE_REPORT_*) a device's IMDN is, given what the sender asked (STORE_IMDN_*
 * bits), or 0 to drop it: delivered → DELIVERED when positive-delivery was asked; a delivery
 * failed/forbidden/error → FAILED when negative-delivery was asked; displayed → DISPLAYED
 * when display was asked; anything else (a display error, processing) → 0. */
unsigned policy_report_bit(enum imdn_kind kind, enum imdn_status status, unsigned asked);

/* Until when (ms) cpmd remembers a message it routed, for the report rules: twice the longest
 * time a stored copy may live, so that a report about a message delivered at the very end of
 * its life still finds it (and at most one of each kind still goes). */
int64_t policy_routed_expiry(const struct pf_config *c, int64_t now_ms);

#endif
