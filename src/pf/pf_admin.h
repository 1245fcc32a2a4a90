/* pf_admin — what the admin API (src/admin) may see and do of pf's live state: list the live
 * transfers and sessions, end a transfer, and act on one stored item (purge, retry now, new
 * expiry) through the same paths the expiry and the delivery use, so an operator's action has
 * exactly the effects of the event it stands for (a purge is an early expiry: the sender gets
 * `failed`).
 *
 * THREADING: loop thread only, like all of pf. The admin HTTP threads reach these through
 * net/loop_call.h. Results are plain copies: nothing returned points into pf. */
#ifndef CPMD_PF_PF_ADMIN_H
#define CPMD_PF_PF_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct pf;

struct pf_admin_transfer {
	char id[33];
	char sender[STORE_AOR_MAX + 1];
	char recipient[STORE_AOR_MAX + 1];
	char name[STORE_FILENAME_MAX + 1];
	uint64_t size;  /* declared (a large message: 0 until its first chunk) */
	uint64_t bytes; /* relayed so far (delivery: acknowledged by the device) */
	const char *mode; /* "live" (cut-through), "store" (intake for an absent recipient), "push", "pull" */
	char item_id[STORE_ID_MAX + 1]; /* the stored item ("" for a live transfer) */
};
/* Copies at most max transfers (anchored transfers, then deliveries) into out; the count. */
size_t pf_admin_transfers(struct pf *pf, struct pf_admin_transfer *out, size_t max);

struct pf_admin_session {
	char id[24];
	char sender[STORE_AOR_MAX + 1];
	char recipient[STORE_AOR_MAX + 1];
	const char *state; /* "ringing", "active", "ending" */
};
size_t pf_admin_sessions(struct pf *pf, struct pf_admin_session *out, size_t max);
/* Live transfers and sessions in progress (the metrics' gauges). */
void pf_admin_counts(struct pf *pf, uint64_t *transfers, uint64_t *sessions);

/* Ends the transfer `id` (an anchored transfer's id, or a delivery's): both legs get BYE (or
 * the ringing sender 480). 0 or -ENOENT. */
int pf_admin_terminate(struct pf *pf, const char *id);

/* A store action's completion: runs on the loop once what it wrote is committed. */
typedef void pf_admin_done_fn(void *arg, int err);
/* Purge: the item goes as an expired one does (a delivery in progress is stopped, the sender
 * gets `failed`, row then blob removed). done(0) once committed. -ENOENT (no such item or not
 * a live one), -EBUSY (still being uploaded), or a store error; done is then not called. */
int pf_admin_purge(struct pf *pf, const char *id, pf_admin_done_fn *done, void *arg);
/* Retry now: the recipient's delivery back-off is cleared and a delivery starts when one of
 * their devices is registered (pull users: their devices are told again). 0, -ENOENT. */
int pf_admin_retry(struct pf *pf, const char *id);
/* New expiry (Unix ms; the expiry scan picks it up within a second). done(0) once committed. */
int pf_admin_set_expiry(struct pf *pf, const char *id, int64_t expires_ms, pf_admin_done_fn *done, void *arg);

#endif
