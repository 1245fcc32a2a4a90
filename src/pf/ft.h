/* One anchored file transfer: the sender's leg (UP), the forked invitations
 * to the recipient's devices (DOWN branches), and the MSRP relay between
 * the sender and the device that accepted. Internal to pf. */
#ifndef CPMD_PF_FT_H
#define CPMD_PF_FT_H

#include <stdbool.h>
#include <stddef.h>

#include <sofia-sip/nua.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/su_wait.h>

#include "cpm/sdp.h"
#include "net/msrp_relay.h"
#include "sipua/location.h"
#include "store/store.h"

struct pf;
struct ft;
struct dlv;

/* What a nua handle's magic points to (its first member says which). */
enum pf_hkind { PF_H_FT = 1, PF_H_DLV, PF_H_MSG };

enum ft_state {
	FT_FORKING,  /* branches ringing, sender not answered yet */
	FT_RELAYING, /* one device accepted; bytes flow */
	FT_ENDING,   /* final answer given / BYEs sent; waiting for legs to close */
};

/* nua handle magic: tells which leg an event belongs to. */
struct ft_leg {
	enum pf_hkind kind;    /* PF_H_FT (a live transfer) or PF_H_DLV (a delivery) */
	struct ft *ft;
	struct dlv *dlv;
	int branch;            /* -1 = UP (sender; for a pull: the device), else index into branches */
	nua_handle_t *nh;
	bool answered;         /* 2xx seen (DOWN) / sent (UP) */
	bool bye_sent;
	bool terminated;       /* nua said callstate terminated; handle destroyed */
	bool got_provisional;  /* DOWN: 1xx seen, so CANCEL may go */
	bool cancel_wanted;    /* DOWN: cancel as soon as a 1xx arrives */
	int final_status;      /* DOWN: final response status */
	char device[LOC_MAX_INSTANCE];
};

struct ft {
	struct ft *next, *prev; /* pf's list */
	struct pf *pf;
	su_home_t home[1];     /* everything below that is not inline */
	char id[24];
	enum ft_state state;
	char sender[LOC_MAX_AOR + 8];
	char recipient[LOC_MAX_AOR];
	struct sdp_ft *offer;   /* the sender's SDP */
	struct ft_relay *relay;
	char *fork_ct;          /* Content-Type of the forked INVITE body */
	char *fork_body;
	size_t fork_body_len;
	char *fork_headers;     /* SIPTAG_HEADER_STR lines carried to every fork */
	char *fork_from;
	su_timer_t *timer;      /* invitation timer, then the post-completion BYE timer */
	const char *cancel_reason;
	int best_status;        /* best non-2xx among ended branches */
	char best_phrase[128];
	bool any_real_answer;   /* some branch gave a non-"unavailable" failure */
	int winner;             /* branch index, -1 */
	bool up_tcp;            /* the sender reached us over TCP */
	struct ft_leg up;
	size_t nbranches;
	struct ft_leg *branches;
	/* store-and-forward (pf_defer.c) */
	char item_id[33];       /* our id: names the item's partial (then its blob) from the start */
	char sender_key[LOC_MAX_AOR]; /* "user@host" of the sender */
	char sender_display[128];
	uint64_t req_expires;   /* Cpm-Expires from the sender (0 = none) */
	int64_t created_ms;
	char thumb_type[128];
	uint8_t *thumb;         /* the thumbnail part's bytes (in home), or NULL */
	size_t thumb_len;
	bool deferred;          /* cpmd is taking the file for later delivery */
	bool relay_finished;    /* the relay called done() */
	bool item_written;      /* an item row for item_id was submitted */
	unsigned store_refs;    /* store/blob callbacks still to come that point to this ft */
	bool partial_kept;
	bool no_answer;         /* deferred because no device answered: do not ring them again at once */
	bool committing;        /* RECEIVED: the blob commit + item update are in flight */
	int64_t expires_ms;     /* when the stored copy expires */
	bool has_partial;       /* the item's partial was opened for this transfer (its tee) */
	bool keep_blob;         /* the item's partial belongs to the store now (not removed at the end) */
	bool resumed;           /* this upload continues a partial */
	uint64_t resume_from;   /* bytes of the partial it continues */
	char imdn_id[STORE_MSGID_MAX + 1];
};

#endif
