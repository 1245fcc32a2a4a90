/* Private to the chat session relay (session_relay.c: the relaying; session_relay_api.c: the
 * public calls that set it up and tear it down). See session_relay.h for the rules. */
#ifndef CPMD_RELAY_SESSION_RELAY_PRIV_H
#define CPMD_RELAY_SESSION_RELAY_PRIV_H

#include <stdbool.h>

#include "net/msrp_transport.h"
#include "relay/relay_frame.h"
#include "relay/session_relay.h"

/* Message-IDs refused with 413, remembered per direction so that their later chunks are
 * refused too (a sender has one or two messages in flight). */
#define SR_REFUSED 8
/* Room for a chunk's head: the peer's headers (bounded by the parser) and our paths. */
#define SR_HEAD_MAX (MSRP_MAX_HEADER_BYTES + SDP_MAX_PATH + MSRP_OUR_URI_MAX + 256)
/* A chunk buffer bigger than this is given back after its chunk left. */
#define SR_BUF_KEEP (16 * 1024)

enum sr_in { SR_IN_NONE = 0, SR_IN_SKIP, SR_IN_PENDING, SR_IN_BODY, SR_IN_READY };

struct sr_txn {
	bool used;
	bool timed; /* a response must come (Failure-Report yes/absent) */
	enum msrp_report_mode fr;
	uint64_t deadline; /* 0 until the chunk was handed to the socket */
	uint64_t seq;
	char out_tid[MSRP_OUR_TID_LEN + 1]; /* ours, towards the other leg */
	char in_tid[MSRP_TID_MAX + 1];       /* the sender's */
};

struct sr_leg {
	struct msrp_session s;
	struct session_relay *r;
	enum session_relay_leg which;
	bool in_hub;
	char uri[MSRP_OUR_URI_MAX];
	char peer_path[SDP_MAX_PATH + 1];
	bool has_peer;
	char peer_from[MSRP_MAX_LINE + 1]; /* From-Path of the peer's first request */
	uint64_t bind_deadline;            /* 0: not waiting */
	size_t max_queued;                 /* towards this leg */

	/* the request being read from this leg */
	enum sr_in in;
	const struct msrp_msg *cur; /* parser-owned: valid until this leg's next MSG */
	char in_tid[MSRP_TID_MAX + 1];
	char msgid[MSRP_MSGID_MAX + 1];
	enum msrp_report_mode fr;
	int txn;      /* slot in tab, or -1 */
	uint64_t pos; /* 0-based position in the message of the next body byte */
	char *buf;    /* head + body + end-line of the chunk towards the other leg */
	size_t len, cap;
	char out_tid[MSRP_OUR_TID_LEN + 1];
	size_t head_len; /* of buf: where the chunk's body starts */

	/* chunks relayed FROM this leg that wait for the other leg's response */
	struct sr_txn tab[SESSION_RELAY_TXNS];
	uint64_t seq;
	char refused[SR_REFUSED][MSRP_MSGID_MAX + 1];
	unsigned nrefused;
	uint64_t relayed, refused_count;
};

struct session_relay {
	struct hub_defer defer; /* first: the deferred free finds us by it */
	struct msrp_hub *hub;
	session_relay_done_f *done;
	void *arg;
	uint64_t max_size;
	struct sr_leg leg[2];
	su_timer_t *timer;
	bool timer_armed;
	uint64_t timer_at;
	bool ended, destroyed;
	session_relay_chunk_f *observe;
	void *observe_arg;
};

/* session_relay.c, for session_relay_api.c */
extern const struct msrp_session_ops sr_ops;
struct sr_leg *sr_other(struct sr_leg *L);
void sr_leg_try_start(struct sr_leg *L);
void sr_arm(struct session_relay *r);
void sr_timer_stop(struct session_relay *r);

#endif
