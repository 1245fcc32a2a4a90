/* Internals shared by the files of pf (not a public header):
 *   pf.c          pf's life (create, start, stop), dispatch of new requests, shared helpers
 *   pf_ft.c       live transfers: INVITE in, fork, relay, end both legs
 *   pf_session.c  1-1 chat sessions: INVITE in, fork, session relay, end both legs
 *   pf_intake.c   store-and-forward intake: answer the sender ourselves, make the file
 *                 durable before the final ack, keep partials, resume uploads
 *   pf_deliver.c  push delivery of stored items (a fork from the original sender), retries
 *   pf_pull.c     pull delivery (the device's RFC 5547 recvonly INVITE)
 *   pf_msg.c      standalone messages in (pager mode): check, fork to every device, or store
 *   pf_report.c   reports (IMDN) from devices: checked against what was routed, one of each
 *                 kind per message to its sender
 *   pf_notify.c   delivery notifications (IMDN) and the deferred-item list
 *   pf_expiry.c   expiry of stored items and partials
 *   pf_prefs.c    user preferences: the store's records, the --user-pref options
 *   pf_screen.c   content screening: the offer checks for a recipient, clamd scans on workers
 *   pf_xdm.c      the users' XDM documents (--xdms): a bounded cache, refreshed off the loop
 *   pf_start.c    the start-up sweep: saved registrations kicked a page per loop turn
 *   policy.c      every operator decision (pure; policy.h)
 * docs/internals/pf.md describes them; docs/internals/store-and-forward.md and
 * docs/internals/messaging.md are the contracts with clients. */
#ifndef CPMD_PF_INT_H
#define CPMD_PF_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "cpm/arena.h"
#include "cpm/mime.h"
#include "net/loop.h"
#include "pf/ft.h"
#include "pf/pf.h"
#include "pf/pf_config.h"
#include "pf/policy.h"
#include "relay/session_relay.h"
#include "sipua/fork.h"
#include "sipua/sip_leg.h"
#include "store/store.h"
#include "store/store_blobq.h"

struct dlv;
struct pf_msg;
struct pf_retry;
/* pf_item_end.c: an item whose delete is not committed yet: not to be delivered again. */
struct pf_finishing {
	struct pf_finishing *next;
	struct pf *pf;
	char id[STORE_ID_MAX + 1];
	char aor[LOC_MAX_AOR]; /* the recipient: its next item may go now */
	bool has_blob;         /* an inline message has none to remove */
	bool deleting;         /* its row is being deleted (else updated: pf_item_leave) */
};

struct pf_expiry;
struct pf_kick;
struct pf_sess;
struct pf_msgin;
struct pf_xdm;

struct pf {
	struct loop *loop;
	struct sipua *sipua;
	struct location *loc;
	struct msrp_hub *hub;
	struct store *st;          /* NULL: no store-and-forward (tests of the live path) */
	struct pf_config cfg;
	struct store_blobq *blobq; /* the blob files: opened, removed, moved only through it */
	struct ft *list;
	size_t nft;
	struct dlv *dlvs;          /* deliveries in progress (push and pull) */
	size_t ndlv;
	struct pf_msg *msgs;       /* MESSAGEs we sent and wait for */
	struct pf_msgin *msgins;   /* standalone messages in: being routed or stored (pf_msg.c) */
	/* Deliveries by recipient and by item, and retries by user (pf_deliver.c): PF_DLV_BUCKETS
	 * chains each, allocated at the first delivery. Kicks (every REGISTER, stored item and
	 * delivery end) look at one user's or item's entries, not at all of them. */
	struct dlv **dlv_by_aor, **dlv_by_item;
	struct pf_retry **retry_by_aor; /* users whose delivery failed: retried later */
	struct pf_finishing *finishing; /* items whose delete is not committed yet */
	struct pf_expiry *expiry;  /* the expiry scan (pf_expiry.c) */
	struct pf_kick *kick;      /* pf_deliver_kick's scratch (64 items: too big for the stack) */
	struct pf_sess *sessions;  /* chat sessions (pf_session.c) */
	struct pf_mss *mss;        /* the message store's writers (pf_mss.c), NULL without --mss */
	struct pf_xdm *xdm;        /* the XDM cache (pf_xdm.c); NULL without --xdms */
	struct pf_push *push;      /* push wake-ups (pf_push.c); NULL without --push-gateway */
	struct pf_start *start;    /* the start-up sweep while it runs (pf_start.c), else NULL */
	size_t nsess;
	struct workq *screenq;     /* clamd scans (pf_screen.c); NULL without --clamd */
	bool stopping;
	struct keyset *notifs_in_flight; /* ids of the notifications in msgs (pf_notify.c) */
	struct keyset *ft_senders; /* the senders of list, each with its transfers not ENDING (pf_ft.c) */
	struct keyset *sess_senders; /* the senders of sessions, each held by its sessions (pf_session.c) */
};

/* Copy a string into a fixed field. Callers check lengths where a peer's
 * value is taken in (so nothing is cut silently); this only keeps gcc's
 * truncation analysis quiet on copies between fields of different bounds. */
#define PF_COPY(dst, src) snprintf((dst), sizeof(dst), "%.*s", (int)(sizeof(dst) - 1), (src))

/* ---- pf.c: shared helpers */
void pf_fill_common_sdp(struct pf *pf, struct sdp_ft *s, const char *path);
/* An msrps: URI (RFC 4975 §14). */
bool pf_path_msrps(const char *path);
/* Every device registered over TLS (their flow is transport=tls) and cpmd has --msrp-tls: the
 * devices' leg may be msrps. */
bool pf_devices_all_tls(const struct pf *pf, const struct loc_device *devs, size_t ndev);
/* TLS for the legs of a new relay (docs/security.md): the sender's leg when its a=path is
 * msrps, the devices' leg when every device registered over TLS. -1: the sender asked for
 * msrps and cpmd has no --msrp-tls (answer 488). */
int pf_secure_legs(struct pf *pf, struct ft_relay *relay, const char *up_path, const struct loc_device *devs,
		   size_t ndev);
/* An INVITE body: sdp, plus (when parts) a multipart with every other part unchanged. */
int pf_build_body(struct cpm_arena *a, const char *sdp, const struct mime_part *parts, size_t nparts,
		  struct sip_body *out);
int64_t pf_now_ms(void);
/* (active: we offered a=setup:active (pf_msrp_active): connect to the answer's path.) */
/* A device's 2xx to our offer: its SDP answer parses and gives the relay the device's MSRP
 * path (the DOWN leg). false: unusable (the fork then BYEs it). */
bool pf_take_sdp_answer(struct ft_relay *relay, const struct sip_msg *m, bool active);
/* Ask the store to remove the item's partial (partial) or complete blob, on its blob thread;
 * a failure is logged when it answers. Without the blob queue (no store, or shut down) the
 * file is left for the start-up reconcile. */
void pf_blob_remove(struct pf *pf, const char *item_id, bool partial);
void pf_random_id(char out[STORE_ID_MAX + 1]); /* 32 hex characters */

/* ---- pf_route.c: how pf reaches a user, whom a request serves (see the file's comment) */
/* Targets of aor (at most max, bounded by the configured device limit): its devices
 * (standalone), or one target through the core (AS mode) or toward its domain (another
 * domain). 0: not reachable now (offline, or no route). */
size_t pf_devices(struct pf *pf, const char *aor, struct loc_device *out, size_t max);
/* sip_target of one of those targets. */
void pf_target_of(const struct loc_device *dev, struct sip_target *t);
bool pf_domain_is_ours(const struct pf *pf, const char *host);
bool pf_user_is_ours(const struct pf *pf, const char *aor); /* "user@host" */
/* One of ours, or another domain with a route (core, --route, DNS). */
bool pf_domain_reachable(const struct pf *pf, const char *host);
/* The identity of the sender of a request (sip_msg_identity: P-Asserted-Identity from the
 * core in AS mode, From otherwise). Same returns as sip_msg_from. */
int pf_identity(const struct sip_msg *m, struct sip_addr *out);
/* A 2xx from another domain's PF that says it stored the file (Cpm-Deferred: WHY): true and
 * the reason token in why. */
bool pf_network_deferred(const struct sip_msg *m, char *why, size_t cap);
/* Remember that a file from sender_key to recipient (IMDN id msgid) was handed to another
 * domain's PF that stored it: its later notification to the sender is let through once. */
void pf_record_handover(struct pf *pf, const char *sender_key, const char *msgid, const char *recipient);
/* Toward aor, are we the MSRP active side (a=setup:active, we connect)? Yes toward another
 * domain's PF reached by --route/DNS: it is passive like us. No toward devices and the core. */
bool pf_msrp_active(const struct pf *pf, const char *aor);
/* AS mode, an originating request (orig): the Route entries the core put behind ours, in a, to
 * send the forwarded request back along them (sip_request.route). NULL: none, or not AS/orig. */
const char *pf_onward_route(const struct pf *pf, const struct sip_msg *m, struct cpm_arena *a);
/* Start-up (pf_start.c): retry the items stored for users of other domains, walking the
 * recipients with items from the one after `after` ("" first; moved on), at most max of them;
 * *kicked counts the users kicked. true when the walk is over (or there is nothing to walk:
 * no other domain is reachable). */
bool pf_kick_other_domains(struct pf *pf, char after[STORE_AOR_MAX + 1], unsigned max, unsigned *kicked);
/* May this request (Request-URI ru, sender from) be served here? 0, or the status to answer
 * with *phrase (403 orig for a sender not ours, 404 no route / nobody of ours). */
int pf_check_parties(struct pf *pf, const struct sip_msg *m, const struct sip_addr *ru, const struct sip_addr *from,
		     const char **phrase);
/* The store write's completion when its failure only needs to be known (the comment at each
 * call says why nothing else depends on it): logs "store: WHAT failed". */
void pf_store_logged(void *what, int err);
/* A store write that was not even queued (rc < 0) is logged the same way. Returns rc. */
int pf_store_queued(int rc, const char *what);
/* The value of "Name: value\r\n" in carried header lines (sip_msg_carried_headers) into
 * out (cap bytes); "" when absent or too long. */
void pf_carried_value(const char *lines, const char *name, char *out, size_t cap);
/* "user@host" → "sip:user@host" (a URI stays as it is). */
void pf_uri_of_key(const char *key, char *out, size_t cap);
/* The sender's Cpm-Expires (seconds) into *out: 0 (absent: *out = 0), or -1 when it is not a
 * number (the caller answers 400). */
int pf_cpm_expires(const struct sip_msg *m, uint64_t *out);
/* The owner callback of a bound server MESSAGE leg, which gets no event (sip_leg.h). */
void pf_leg_no_event(void *owner, struct sip_leg *leg, enum sip_leg_event ev, const struct sip_msg *m);

/* The checks every new INVITE gets first: Request-URI and From readable, the Request-URI in
 * one of our domains. 0, or -1 when the leg was answered (400/404). */
int pf_request_parties(struct pf *pf, struct sip_leg *leg, const struct sip_msg *m, struct sip_addr *ru,
		       struct sip_addr *from);
/* The From of a fork: the sender's display name as received (quotes kept) and uri. In a. */
char *pf_fork_from(struct cpm_arena *a, const struct sip_addr *from, const char *uri);

/* ---- pf_session.c: 1-1 chat sessions (messaging.md §5) */
void pf_session_invite(struct pf *pf, struct sip_leg *leg, const struct sip_msg *m);
void pf_session_terminate_all(struct pf *pf);
void pf_session_destroy_all(struct pf *pf);
struct pf_admin_session;
/* pf_admin.h: copies of the live sessions, at most max. */
size_t pf_session_list(struct pf *pf, struct pf_admin_session *out, size_t max);

/* ---- pf_ft.c: live transfers */
void pf_ft_invite(struct pf *pf, struct sip_leg *leg, const struct sip_msg *m);
void ft_respond_up(struct ft *ft, int status, const char *phrase, const char *warning);
void ft_end(struct ft *ft, int status, const char *phrase);
void ft_maybe_free(struct ft *ft);
void ft_free(struct ft *ft);
/* Answer the sender 200 with our SDP (recvonly, our UP path); extra = a header line
 * "Name: value" or NULL. 0 or -1. */
int ft_answer_up(struct ft *ft, const char *extra_header);

/* The relay parameters of a transfer (live, or store mode for an intake): a file's size,
 * sha-1 and --max-file-size, or a large message's size from its Byte-Range within
 * --max-message-size; the deferral event. The caller sets the blob and the mode. */
void ft_relay_params_of(const struct ft *ft, struct ft_relay_params *rp);

/* ---- pf_largemsg.c: Large Message Mode (docs/internals/messaging.md §2) */
/* Is this INVITE a large message? Its CPM headers (carried lines: Accept-Contact,
 * P-Preferred-/P-Asserted-Service) name the largemsg ICSI, or its offer is sendonly with
 * accept-types message/cpim and no file-selector. */
bool pf_largemsg_detect(const char *carried, const struct sdp_ft *offer);
/* Make ft a large message: the made-up selector, the IMDN id and disposition from the
 * INVITE's message/cpim part (when there is one), the fork's headers naming the largemsg
 * ICSI. 0, or the SIP status to answer: 400 a CPIM part that does not parse (or an
 * unusable imdn.Message-ID), 500 out of memory. */
int pf_largemsg_prepare(struct ft *ft, const struct mime_part *parts, size_t nparts);
/* A device took the large message: true when the sender's 200 must wait for the routed
 * record's commit (pf_largemsg.c answers it then); false: answer now. */
bool pf_largemsg_answer_held(struct ft *ft);
/* Does a line of these carried headers (Accept-Contact, P-Preferred-/P-Asserted-Service)
 * name the ICSI (the last part of its URN, e.g. "largemsg")? */
bool pf_headers_name_icsi(const char *carried, const char *name);

/* ---- pf_quota.c */
/* Room in the recipient's quotas for one more item of `size` bytes (policy_check_quota over
 * the store's usage). v->status 0: room (or no quota set). */
void pf_quota_check(struct pf *pf, const char *recipient, uint64_t size, struct pf_verdict *v);

/* ---- pf_mss.c: the users' Message Storage Server (docs/internals/mss.md) */
int pf_mss_start(struct pf *pf); /* 0 also without --mss (then nothing is written) */
void pf_mss_stop(struct pf *pf);
/* The item's life with cpmd ended with outcome ("delivered", "expired", "declined",
 * "failed"): the sender's history is queued (a copy) if the sender wants it; true when the
 * item itself went to the recipient's queue (their history, a kept or expired file): the
 * caller must then not remove it. */
bool pf_mss_item_ends(struct pf *pf, const struct store_item *it, const char *outcome);
/* A live transfer (cut-through) ended with outcome: when the recipient or the sender wants
 * it in their message store, its tee (the partial) becomes the blob of an item in the queue
 * (true: the caller must keep the partial, ft->keep_blob). */
bool pf_mss_live_ended(struct pf *pf, const struct store_item *it, const char *outcome);
/* A standalone message routed live (not stored) ended with outcome: the sender's and the
 * recipient's message histories, for those of ours who keep histories (body: its CPIM). */
void pf_mss_message_routed(struct pf *pf, const struct store_item *it, const void *body, size_t len,
			   const char *outcome);
/* ---- pf_mss_session.c: a chat session's history */
struct pf_mss_sess;
struct msrp_msg;
/* NULL when nobody of the session keeps histories (or no --mss). headers: the carried CPM
 * headers (Conversation-ID, Contribution-ID). */
struct pf_mss_sess *pf_mss_session_open(struct pf *pf, const char *inviter_uri, const char *invitee_key,
					const char *headers, uint64_t max_size);
/* session_relay_chunk_f, arg = the pf_mss_sess. */
void pf_mss_session_chunk(void *arg, enum session_relay_leg from, const struct msrp_msg *head, const void *body,
			  size_t len, char flag);
/* The session ended (outcome "ended", "missed"): its history goes to the queue. NULL is fine. */
void pf_mss_session_close(struct pf_mss_sess *h, const char *outcome);
/* A stored file for a user who keeps files in their MSS instead of receiving them: queued
 * (true) instead of delivered. */
bool pf_mss_keep_instead(struct pf *pf, const struct store_item *it);
/* Does this recipient keep files in their MSS instead (a transfer to them goes to the store,
 * not to a device)? */
bool pf_mss_wants_instead(struct pf *pf, const char *aor_key, bool is_file);

/* ---- pf_prefs.c */
/* The user's effective settings (policy_user over the operator's defaults, the user's
 * preferences and the operator's switches). aor_key: "user@host". */
void pf_prefs_get(struct pf *pf, const char *aor_key, struct pf_user_policy *out);
/* Does the user (aor_key) refuse everything from sender_key ("user@host")? Their blocked
 * senders (issue 11 §3-4: from XDM). */
bool pf_prefs_blocks(struct pf *pf, const char *aor_key, const char *sender_key);
/* Does the user accept content of this MIME type (their own accepted/denied types)? */
bool pf_prefs_type_ok(struct pf *pf, const char *aor_key, const char *mime_type);
int pf_prefs_apply_options(struct pf *pf);

/* ---- pf_screen.c: content screening (issue 11 §4, docs/internals/screening.md) */
/* The checks of one offer or pager message for its recipient (policy_screen_offer over
 * pf_prefs_blocks, pf_prefs_type_ok and the user's max-size). v->status 0: accepted. */
void pf_screen_check(struct pf *pf, const char *recipient, const char *sender_key, const char *type, uint64_t size,
		     bool has_size, struct pf_verdict *v);
/* Is what reaches this recipient scanned by clamd (policy_scan_wanted)? */
bool pf_screen_wanted(struct pf *pf, const char *recipient);
/* A scan's verdict (policy_scan_result), on the loop. */
typedef void pf_scan_done_fn(void *arg, const struct pf_verdict *v);
/* Scan len bytes of fd from 0 on a worker; fd is taken (closed after the scan). Or a buffer
 * that stays valid until done. done runs once on the loop (also at pf_destroy: the scan
 * then counts as failed). 0, or -1 (not queued: fd closed, done not called). */
int pf_screen_fd(struct pf *pf, int fd, uint64_t len, const char *what, pf_scan_done_fn *done, void *arg);
int pf_screen_buf(struct pf *pf, const void *buf, size_t len, const char *what, pf_scan_done_fn *done, void *arg);
int pf_screen_start(struct pf *pf);
void pf_screen_stop(struct pf *pf);
/* ---- pf_start.c: the start-up sweep, in slices between loop turns (pf_start in pf.h) */
/* Shutdown: the sweep stops where it is (its timer goes). Nothing when it is over. */
void pf_start_stop(struct pf *pf);

/* ---- pf_push.c: push wake-up of sleeping devices (docs/internals/push.md) */
struct pf_push;
/* Without --push-gateway: nothing (pf->push stays NULL, the calls below do nothing). 0 or -1. */
int pf_push_create(struct pf *pf);
void pf_push_destroy(struct pf *pf);
/* Start-up, once SIP serves: wake the devices loaded from the store that are not registered
 * and have something waiting. */
void pf_push_start(struct pf *pf);
/* A device registered: keep its RFC 8599 push parameters (or forget them, registered without),
 * in memory and in the store. true when a wake-up went to it since its last registration: this
 * one, even a refresh of the same binding, is the device coming back (it kicks deliveries). */
bool pf_push_registered(struct pf *pf, const char *aor, const char *instance);
/* A push delivery to aor got no answer from this registered device (its branch timed out, or
 * failed as unavailable: 408, 480, 5xx, a transport error): wake it now, under the rules of
 * pf_push_wake (one outstanding, once per item), when it registered push parameters. */
void pf_push_unanswered(struct pf *pf, const char *aor, const char *instance);
/* Items wait for aor: when none of its devices is registered, wake the ones that can be. */
void pf_push_wake(struct pf *pf, const char *aor);

/* ---- pf_xdm.c: the users' XDM preferences (docs/internals/xdm.md) */
/* Without --xdms: nothing (pf->xdm stays NULL, and every call below answers "none"). 0 or -1. */
int pf_xdm_create(struct pf *pf);
/* Cancels the fetches not started, waits for the running ones (bounded by the XCAP timeouts),
 * frees the cache. */
void pf_xdm_destroy(struct pf *pf);
/* The user's settings as cached (all unset when none: a user never fetched, no document, no
 * --xdms). A cached entry older than --xdms-refresh, or none, starts a fetch on the worker:
 * this decision uses what is cached, a later one the answer (the loop never waits). */
void pf_xdm_settings(struct pf *pf, const char *aor_key, struct pf_xdm_settings *out);
bool pf_xdm_blocks(struct pf *pf, const char *aor_key, const char *sender_key);
bool pf_xdm_type_ok(struct pf *pf, const char *aor_key, const char *mime_type);
/* A device of aor_key registered: when its entry is missing or stale, fetch it and call
 * then(pf, aor_key, instance, fresh) once the XDMS answered (or failed: bounded by its
 * timeouts), so that what the registration starts sees the user's document; returns true.
 * false: nothing to wait for, the caller goes on now. */
typedef void pf_xdm_then_fn(struct pf *pf, const char *aor_key, const char *instance, bool fresh);
bool pf_xdm_prefetch(struct pf *pf, const char *aor_key, const char *instance, bool fresh, pf_xdm_then_fn *then);

/* ---- pf_intake.c */
/* May this transfer be deferred (operator and the recipient's preference)? */
bool ft_defer_allowed(struct ft *ft);
/* Trigger: no device / no answer / all unavailable. Answers the sender 200 and takes the
 * file in store mode. false: not possible (caller answers). */
bool ft_defer_now(struct ft *ft, const char *why);
/* Trigger: the device's leg failed mid-transfer (MSRP event or SIP BYE). */
void ft_defer_recipient_lost(struct ft *ft, const char *detail, bool detach);
/* The relay reported RECEIVED: make it durable, then acknowledge. */
void ft_defer_received(struct ft *ft);
/* A store-mode or live upload ended without the file: keep what came as a resumable partial
 * (when the offer had a hash). */
void ft_defer_keep_partial(struct ft *ft);
/* An upload that was refused (too big, wrong hash, store failure): its item row, partial row
 * and blob go. */
void ft_defer_drop(struct ft *ft);
/* An INVITE with a=file-range (upload resume): handles the answer. true: handled (answered
 * 200 or an error); ft is then owned by the pf list. */
bool ft_resume_upload(struct ft *ft);
/* pf_ft.c: the relay's done callback for transfers. */
void ft_relay_done_cb(void *arg, enum ft_relay_result res, const char *detail);
/* The relay event callback for deferrable relays. */
void ft_relay_event_cb(void *arg, enum ft_relay_result ev, const char *detail);
/* Fill the item record from the transfer's offer and headers. */
void ft_fill_item(struct ft *ft, struct store_item *it);

/* ---- pf_deliver.c (push) and pf_pull.c (pull): struct dlv lives in pf_dlv.h */
/* Something may be deliverable to aor now (a device registered, an item was stored, a retry
 * is due). */
void pf_deliver_kick(struct pf *pf, const char *aor_key, bool fresh_device);
/* A device of aor (re)appeared: add it to deliveries that are ringing. */
void pf_deliver_new_device(struct pf *pf, const char *aor_key, const char *instance);
/* Try aor's deliveries after the retry back-off (or its next REGISTER). pf_retry.c */
void pf_deliver_later(struct pf *pf, const char *aor_key);
/* A kick of aor waits for its retry's back-off (true); fresh_device: a device came back, the
 * retry is dropped and the kick goes ahead. */
bool pf_retry_waits(struct pf *pf, const char *aor_key, bool fresh_device);
/* aor's deliveries went through: no retry any more. */
void pf_retry_clear(struct pf *pf, const char *aor_key);
void pf_retry_destroy_all(struct pf *pf);
/* A pull INVITE (recvonly): answered here. */
void pf_pull_invite(struct pf *pf, struct sip_leg *leg, const struct sip_msg *m, const struct sdp_ft *offer);
bool pf_item_busy(struct pf *pf, const char *item_id);
/* Stop a delivery of this item (expiry, purge, terminate): true when one was running. Logs
 * at debug level only: the caller says why. */
bool pf_deliver_abort_item(struct pf *pf, const char *item_id);
void pf_deliver_terminate_all(struct pf *pf);
void pf_deliver_destroy_all(struct pf *pf);
/* The item is done (delivered, declined, expired): notify, delete, unlink. */
void pf_item_finish(struct pf *pf, const struct store_item *it, enum store_notif_kind notify, const char *why);
/* The same without a notification (someone else notifies the sender). */
/* The item leaves the deliverable states: its row deleted (update NULL; then its blob), or
 * updated to *update (e.g. into the message store's queue). Until the write commits, no
 * delivery starts it (pf->finishing); then the recipient's next item may go. 0 or -errno. */
int pf_item_leave(struct pf *pf, const struct store_item *it, const struct store_item *update, const char *what);
/* Is the item's leaving write (pf_item_leave) not committed yet? */
bool pf_item_leaving(const struct pf *pf, const char *id);
void pf_item_remove(struct pf *pf, const struct store_item *it, const char *why);

/* ---- pf_msg.c: standalone messages in (docs/internals/messaging.md §1, §3) */
/* A MESSAGE whose body is message/cpim: a pager-mode message (checked, forked to every device
 * of the recipient, or stored) or, when its CPIM content is an IMDN, a report (pf_report.c).
 * The leg is answered now or, once bound, later. */
void pf_msg_cpim(struct pf *pf, struct sip_leg *leg, const struct sip_msg *m);
/* Shutdown: messages still forking are answered 503; those being stored keep their answer. */
void pf_msgin_terminate_all(struct pf *pf);
void pf_msgin_destroy_all(struct pf *pf);

/* ---- pf_report.c: reports (IMDN) from devices (messaging.md §4) */
/* body: the CPIM holding message/imdn+xml. Answers the leg (200 also when it is dropped). */
void pf_report_in(struct pf *pf, struct sip_leg *leg, const struct sip_msg *m, const char *body, size_t len);

/* ---- pf_notify.c */
/* Queue a delivery notification for the item's sender (durable), send it now when a device
 * of the sender is registered. Only the ones policy says cpmd sends (policy_item_notifies); a
 * message's goes through its routed record (at most one of each kind, store_routed_report). */
void pf_notify_item(struct pf *pf, const struct store_item *it, enum store_notif_kind kind);
/* A notification that is durable already (a device's report): send it now, one device of its
 * target at a time; kept for the target's next registration when none takes it. */
void pf_notify_send(struct pf *pf, const struct store_notif *n);
/* "delivered", "displayed", "failed", "stored". */
const char *pf_notif_kind_name(enum store_notif_kind k);
/* The notification kind of a report bit (STORE_REPORT_*), and the reverse. */
enum store_notif_kind pf_notif_kind_of_report(unsigned bit);
unsigned pf_report_of_notif_kind(enum store_notif_kind k);
/* The `cpm list` query (a MESSAGE of type CPM_DEFERRED_QUERY_CTYPE): answered with the list. */
void pf_notify_list_query(struct pf *pf, struct sip_leg *leg, const struct sip_msg *m);
/* A device of aor registered: send what waits for it. */
void pf_notify_flush(struct pf *pf, const char *aor_key);
/* Retry waiting notifications whose target has a device; drop very old ones. */
void pf_notify_housekeeping(struct pf *pf);
/* Pull users: tell the device(s) of aor about their deferred items (all, or just `only`
 * when not NULL). instance NULL: every device. */
void pf_notify_deferred_list(struct pf *pf, const char *aor_key, const char *instance, const struct store_item *only);
void pf_msg_destroy_all(struct pf *pf);
/* Build the deferred list body for aor (allocated in a); NULL on error. */
char *pf_deferred_list_body(struct pf *pf, struct cpm_arena *a, const char *aor_key, const struct store_item *only,
			    size_t *len);

/* The start-up reconcile found a stored item whose blob is gone. */
int pf_on_reconcile_failed(void *arg, const struct store_item *it);

/* ---- pf_expiry.c */
int pf_expiry_start(struct pf *pf);
void pf_expiry_stop(struct pf *pf);

#endif
