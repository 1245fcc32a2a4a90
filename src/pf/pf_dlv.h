/* A delivery of one stored item to a device of its recipient, by push (a fork from the
 * original sender, pf_deliver.c: an INVITE for a file, a MESSAGE for a pager message) or pull
 * (the device's recvonly INVITE, pf_pull.c).
 * Internal to pf.
 * Lifetime: freed once it is ENDING, its device leg (if any) has terminated and no store
 * callback points to it (store_refs). The fork's losing branches do not hold it (the fork
 * engine finishes them). */
#ifndef CPMD_PF_DLV_H
#define CPMD_PF_DLV_H

#include "pf/pf_int.h"

enum dlv_state {
	DLV_RECORDING, /* a message push: its attempt is being made durable before it is sent */
	DLV_FORKING,
	DLV_RELAYING,
	DLV_ENDING,
};

struct dlv {
	struct dlv *next, *prev;            /* pf->dlvs: every delivery (admin lists, shutdown) */
	struct dlv *aor_next, *aor_prev;    /* pf->dlv_by_aor: the chain of its recipient's bucket */
	struct dlv *item_next, *item_prev;  /* pf->dlv_by_item: the chain of its item's bucket */
	struct pf *pf;
	struct cpm_arena arena;
	char id[20]; /* for logs */
	bool pull;
	struct store_item it;
	char aor[LOC_MAX_AOR]; /* recipient key */
	struct ft_relay *relay;
	enum dlv_state state;
	struct sip_fork *fork;  /* push: ringing the recipient's devices */
	struct sip_leg *leg;    /* the device's leg: pull: its INVITE; push: the fork's winner */
	bool leg_answered;      /* pull: we answered the device's INVITE */
	bool leg_terminated;
	uint64_t offset;
	bool relay_done;
	bool aborted;     /* expiry or shutdown: no retry, no bookkeeping */
	char device[LOC_MAX_INSTANCE];
	bool msg;         /* a pager message pushed as a MESSAGE (no relay, no leg) */
	bool handed_over; /* push to another domain's PF that stored it (Cpm-Deferred): that PF
	                     notifies the sender, not us */
	unsigned store_refs; /* store callbacks still to come that point here */
};

/* pf_deliver.c, used by pf_pull.c and pf_deliver_msg.c too */
struct dlv *dlv_new(struct pf *pf, const struct store_item *it, bool pull);
void dlv_end(struct dlv *d);
/* Frees d once it is ENDING, its leg has terminated and no store callback points to it. */
void dlv_maybe_free(struct dlv *d);
/* The push fork's outcome and policy (files and messages); the push's headers: the original
 * sender's, Referred-By, Accept-Contact of the service icsi_tag. */
void dlv_push_done(void *owner, struct sip_fork *f, const struct sip_fork_result *r);
enum sip_fork_class dlv_push_classify(void *owner, int status);
char *dlv_push_headers(struct pf *pf, const struct store_item *it, struct cpm_arena *tmp, const char *icsi_tag);
/* pf_deliver_msg.c: the push of a pager message (an inline body) to nd devices. */
int dlv_start_push_msg(struct pf *pf, const struct store_item *it, const struct loc_device *devs, size_t nd);
void dlv_leg_event(void *owner, struct sip_leg *leg, enum sip_leg_event ev, const struct sip_msg *m);
/* The source relay that reads the stored file from d->offset. */
int dlv_create_source(struct dlv *d);
/* Our SDP for the item (ft_id: the device's file-transfer-id for a pull, NULL: a new one). */
void dlv_item_sdp(struct dlv *d, struct sdp_ft *s, enum sdp_dir dir, const char *ft_id);

#endif
