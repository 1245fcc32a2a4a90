/* One anchored file transfer: the sender's leg (UP), the fork to the recipient's devices,
 * the leg of the device that accepted (DOWN), and the MSRP relay between them. Internal to
 * pf. Lifetime: freed when the UP leg and the DOWN leg (if any) have terminated and no store
 * callback still points to it (store_refs). The fork's losing branches do not hold it: the
 * fork engine finishes them on its own (sipua/fork.h). */
#ifndef CPMD_PF_FT_H
#define CPMD_PF_FT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpm/arena.h"
#include "cpm/sdp.h"
#include "relay/ft_relay.h"
#include "sipua/location.h"
#include "store/store.h"

struct keyset_key;
struct pf;
struct sip_leg;
struct sip_fork;
struct loop_timer;

enum ft_state {
	FT_FORKING,  /* the fork rings, the sender is not answered yet */
	FT_RELAYING, /* one device accepted (or cpmd takes the file itself); bytes flow */
	FT_ENDING,   /* final answer given / BYEs sent; waiting for the legs to close */
};

struct ft {
	struct ft *next, *prev; /* pf's list */
	struct pf *pf;
	struct cpm_arena arena; /* everything below that is not inline */
	char id[24];
	enum ft_state state;    /* set through ft_set_state only (it keeps the sender's count) */
	char sender[LOC_MAX_AOR + 8];
	char recipient[LOC_MAX_AOR];
	struct sdp_ft *offer;   /* the sender's SDP */
	struct ft_relay *relay;
	char *fork_headers;     /* the CPM headers carried to every fork ("Name: v\r\n" lines) */
	const char *onward_route; /* AS mode, orig: the core's route back (pf_onward_route), or NULL */
	struct loop_timer *timer; /* the post-completion BYE timer */
	/* UP: the sender's INVITE (server leg) */
	struct sip_leg *up;
	bool up_answered;       /* a final answer went to the sender */
	bool up_terminated;
	bool up_tcp;            /* the sender reached us over TCP */
	/* the fork, then the device that accepted */
	struct sip_fork *fork;
	struct sip_leg *down;
	bool down_terminated;
	unsigned down_branch;
	char down_device[LOC_MAX_INSTANCE];
	char network_deferred[32]; /* the winner is another domain's PF that stores the file: its
	                              Cpm-Deferred reason, passed on to the sender ("" if not) */
	/* store-and-forward (pf_intake.c) */
	char item_id[33];       /* our id: names the item's partial (then its blob) from the start */
	char sender_key[LOC_MAX_AOR]; /* "user@host" of the sender */
	char sender_display[128];
	uint64_t req_expires;   /* Cpm-Expires from the sender (0 = none) */
	int64_t created_ms;
	char thumb_type[128];
	uint8_t *thumb;         /* the thumbnail part's bytes (in arena), or NULL */
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
	/* Large Message Mode (pf_largemsg.c): one message/cpim message instead of a file. The
	 * offer has no file-selector; pf gives it a made-up one (name "message", type
	 * message/cpim) so that the file's code paths hold, and its size is the relay's count
	 * once the message is in (the first chunk's Byte-Range total). */
	bool is_msg;
	unsigned imdn_disp;     /* STORE_IMDN_* bits the sender asked (its CPIM part), is_msg only */
	bool committing_msg;    /* is_msg: the message is whole; its item row may be written */
	bool routed_pending;    /* is_msg: its routed record (the report rules) is being committed */
	bool answer_held;       /* is_msg: a device took it; the sender's 200 waits for that commit */
	/* content screening (pf_screen.c) */
	bool scan;              /* the recipient's content is scanned: store first, scan, then ack */
	bool scanned;           /* the scan passed: commit as usual */
	/* the sender's entry in pf->ft_senders (pf_ft.c): held from the moment sender_key is known
	 * until ft leaves pf->list; its n counts the sender's transfers not ENDING */
	struct keyset_key *sender_entry;
	bool sender_counted;    /* ft is in sender_entry->n */
};

/* Changes ft's state, and its sender's count of live transfers with it (pf_ft.c). */
void ft_set_state(struct ft *ft, enum ft_state state);

#endif
