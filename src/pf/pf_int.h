/* Internals shared by the files of pf (not a public header):
 *   pf.c          live transfers: INVITE in, fork, relay, end both legs
 *   pf_defer.c    store-and-forward intake: answer the sender ourselves, make
 *                 the file durable before the final ack, keep partials, resume
 *   pf_deliver.c  delivery of stored items: push (INVITE fork) and pull
 *   pf_notify.c   delivery notifications (IMDN) and the deferred-item list
 *   pf_expiry.c   expiry of stored items and partials
 *   pf_prefs.c    user preferences (store) under operator policy (options)
 * docs/internals/store-and-forward.md is the contract with clients. */
#ifndef CPMD_PF_INT_H
#define CPMD_PF_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <sofia-sip/nua.h>
#include <sofia-sip/su_wait.h>

#include "cpm/mime.h"
#include "cpmd/options.h"
#include "pf/ft.h"
#include "pf/pf.h"
#include "store/store.h"
#include "store/store_blobq.h"

#define REASON_ELSEWHERE "SIP;cause=200;text=\"Call completed elsewhere\""
#define REASON_NO_ANSWER "SIP;cause=480;text=\"No answer\""
#define REASON_DECLINED "SIP;cause=603;text=\"Declined\""
#define REASON_CALLER_CANCEL "SIP;cause=487;text=\"Originator cancelled\""

struct dlv;
struct pf_msg;
struct pf_retry;

struct pf {
	su_root_t *root;
	nua_t *nua;
	const struct cpmd_options *opts;
	struct location *loc;
	struct msrp_hub *hub;
	struct store *st;          /* NULL: no store-and-forward (tests of the live path) */
	struct store_blobq *blobq; /* the blob files: opened, removed, moved only through it */
	struct ft *list;
	size_t nft;
	struct dlv *dlvs;          /* deliveries in progress (push and pull) */
	size_t ndlv;
	struct pf_msg *msgs;       /* MESSAGEs we sent and wait for */
	struct pf_retry *retries;  /* users whose delivery failed: retried later */
	su_timer_t *expiry_timer;
	bool stopping;
	/* Our Contact, per transport, with the CPM FT feature tag (nua's own
	 * dialog Contact drops NUTAG_M_FEATURES). */
	char contact_udp[400];
	char contact_tcp[400];
};

/* Copy a string into a fixed field. Callers check lengths where a peer's
 * value is taken in (so nothing is cut silently); this only keeps gcc's
 * truncation analysis quiet on copies between fields of different bounds. */
#define PF_COPY(dst, src) snprintf((dst), sizeof(dst), "%.*s", (int)(sizeof(dst) - 1), (src))

/* ---- pf.c: shared helpers */
const char *pf_keep(nua_handle_t *nh, const char *s);
void pf_fill_common_sdp(struct pf *pf, struct sdp_ft *s, const char *path);
/* Build an INVITE body: sdp, plus (when thumb) a multipart with the thumbnail part. */
int pf_build_body(su_home_t *home, const char *sdp, const struct mime_part *parts, size_t nparts, char **ct,
		  char **body, size_t *len);
int64_t pf_now_ms(void);
/* Ask the store to remove the item's partial (partial) or complete blob, on
 * its blob thread; a failure is logged when it answers. Without the blob
 * queue (no store, or shut down) the file is left for the start-up
 * reconcile. */
void pf_blob_remove(struct pf *pf, const char *item_id, bool partial);
void pf_random_id(char out[STORE_ID_MAX + 1]); /* 32 hex characters */
/* "user@host" key of a SIP URI string; 0 or -1. */
int pf_aor_key_of_uri(const char *uri, char *out, size_t cap);
void ft_leg_bye(struct ft_leg *leg);
/* CANCEL a ringing branch (RFC 3261 §9.1: only after a 1xx; before that it
 * is remembered in cancel_wanted). true when the CANCEL went out. */
bool pf_leg_cancel(struct ft_leg *b, const char *reason);
/* Unbind and destroy a leg's nua handle (idempotent). */
void pf_leg_release(struct ft_leg *leg);
void ft_respond_up(struct ft *ft, int status, const char *phrase, const char *warning);
void ft_stop_timer(struct ft *ft);
void ft_end(struct ft *ft, int status, const char *phrase);
void ft_maybe_free(struct ft *ft);
void ft_cancel_branches(struct ft *ft, int except, const char *reason);
/* Answer the sender 200 with our SDP (recvonly, our UP path); extra = a
 * header line "Name: value" or NULL. 0 or -1. */
int ft_answer_up(struct ft *ft, const char *extra_header);

/* ---- pf_prefs.c */
struct pf_user_policy {
	bool defer;
	enum store_method method;
	enum store_on_expiry on_expiry;
};
void pf_prefs_get(struct pf *pf, const char *aor_key, struct pf_user_policy *out);
int pf_prefs_apply_options(struct pf *pf);

/* ---- pf_defer.c */
/* May this transfer be deferred (operator and the recipient's preference)? */
bool ft_defer_allowed(struct ft *ft);
/* Trigger: no device / no answer / all unavailable. Answers the sender 200
 * and takes the file in store mode. false: not possible (caller answers). */
bool ft_defer_now(struct ft *ft, const char *why);
/* Trigger: the device's leg failed mid-transfer (MSRP event or SIP BYE). */
void ft_defer_recipient_lost(struct ft *ft, const char *detail, bool detach);
/* The relay reported RECEIVED: make it durable, then acknowledge. */
void ft_defer_received(struct ft *ft);
/* A store-mode or live upload ended without the file: keep what came as a
 * resumable partial (when the offer had a hash). */
void ft_defer_keep_partial(struct ft *ft);
/* An upload that was refused (too big, wrong hash, store failure): its item
 * row, partial row and blob go. */
void ft_defer_drop(struct ft *ft);
/* A push INVITE with a=file-range (upload resume): handles the answer. true:
 * handled (answered 200 or an error); ft is then owned by the pf list. */
bool ft_resume_upload(struct ft *ft);
/* pf.c: the relay's done callback for transfers. */
void ft_relay_done_cb(void *arg, enum ft_relay_result res, const char *detail);
/* The relay event callback for deferrable relays. */
void ft_relay_event_cb(void *arg, enum ft_relay_result ev, const char *detail);
/* Fill the item record from the transfer's offer and headers. */
void ft_fill_item(struct ft *ft, struct store_item *it);

/* ---- pf_deliver.c */
/* Something may be deliverable to aor now (a device registered, an item was
 * stored, a retry is due). */
void pf_deliver_kick(struct pf *pf, const char *aor_key, bool fresh_device);
/* A device of aor (re)appeared: add it to deliveries that are ringing. */
void pf_deliver_new_device(struct pf *pf, const char *aor_key, const char *instance);
/* Try aor's deliveries after the retry back-off (or its next REGISTER). */
void pf_deliver_later(struct pf *pf, const char *aor_key);
/* A pull INVITE (recvonly): answered here. */
void pf_pull_invite(struct pf *pf, nua_handle_t *nh, sip_t const *sip, const struct sdp_ft *offer);
void pf_dlv_nua_event(struct pf *pf, struct ft_leg *leg, nua_event_t event, int status, const char *phrase,
		      nua_handle_t *nh, sip_t const *sip, tagi_t tags[]);
bool pf_item_busy(struct pf *pf, const char *item_id);
/* Stop a delivery of this item (expiry). */
void pf_deliver_abort_item(struct pf *pf, const char *item_id);
void pf_deliver_terminate_all(struct pf *pf);
void pf_deliver_destroy_all(struct pf *pf);
/* The item is done (delivered, declined, expired): notify, delete, unlink. */
void pf_item_finish(struct pf *pf, const struct store_item *it, enum store_notif_kind notify, const char *why);

/* ---- pf_notify.c */
/* Queue a delivery notification for the item's sender (durable), send it now
 * when a device of the sender is registered. */
void pf_notify_item(struct pf *pf, const struct store_item *it, enum store_notif_kind kind);
/* A device of aor registered: send what waits for it. */
void pf_notify_flush(struct pf *pf, const char *aor_key);
/* Retry waiting notifications whose target has a device; drop very old ones. */
void pf_notify_housekeeping(struct pf *pf);
/* Pull users: tell the device(s) of aor about their deferred items (all, or
 * just `only` when not NULL). instance NULL: every device. */
void pf_notify_deferred_list(struct pf *pf, const char *aor_key, const char *instance, const struct store_item *only);
void pf_on_message(struct pf *pf, nua_handle_t *nh, sip_t const *sip);
void pf_msg_nua_event(struct pf *pf, struct pf_msg *m, nua_event_t event, int status, nua_handle_t *nh);
void pf_msg_destroy_all(struct pf *pf);
/* Build the deferred list body for aor (allocated in home); NULL on error. */
char *pf_deferred_list_body(struct pf *pf, su_home_t *home, const char *aor_key, const struct store_item *only,
			    size_t *len);

/* The start-up reconcile found a stored item whose blob is gone. */
int pf_on_reconcile_failed(void *arg, const struct store_item *it);

/* ---- pf_expiry.c */
int pf_expiry_start(struct pf *pf);
void pf_expiry_stop(struct pf *pf);
/* expires_at for a new item from the sender's Cpm-Expires (0 = none). */
int64_t pf_expiry_for(const struct pf *pf, int64_t now_ms, uint64_t requested_s);

#endif
