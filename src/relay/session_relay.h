/* The relay of one 1-1 chat session (docs/internals/messaging.md §5): cpmd is the B2BUA on
 * the media too. The two endpoints (A: the one who invited, B: the device that accepted)
 * each connect to cpmd's --msrp address (cpmd is always passive) and bind their connection
 * with a SEND (an empty one is fine, RFC 4975 §5.4). Then any number of MSRP messages go
 * both ways:
 *   - every SEND chunk from one leg goes to the other with a new tid, To-Path = that peer's
 *     a=path, From-Path = our URI on its leg; Message-ID, Byte-Range, Content-Type,
 *     Success-/Failure-Report and every other header are kept (relay/relay_frame.h);
 *   - responses go back with the original tid, REPORTs with a new tid and the paths
 *     rewritten;
 *   - a bodiless SEND (binding, keep-alive) is answered 200 here and not relayed.
 *
 * Size: cpmd advertises a=max-size (params.max_size) on both legs. A SEND whose Byte-Range
 * total or end is beyond it, or whose bytes go beyond it (a '*' total), gets 413 and is not
 * forwarded; the later chunks of that message get 413 too. The session stays up.
 *
 * Store and forward per CHUNK, not cut-through: a chunk is forwarded once its end-line has
 * arrived, so nothing is ever written between another chunk's head and its end-line, and
 * our own answers can go to either leg at any time. A chunk is at most max_size bytes
 * (bigger ones are refused), so the buffer per direction is bounded by it.
 * Back-pressure as in the file relay: a leg is not read while the other leg's send queue is
 * above the hub's high-water mark, and a complete chunk waits (its leg not read) until it
 * fits under the mark (into an empty queue it always goes).
 * Responses owed: at most SESSION_RELAY_TXNS relayed chunks per direction wait for their
 * response; a leg is not read while its table is full. A chunk whose response does not come
 * within the hub's transaction timeout (while the peer's queue is empty) is answered 408 to
 * its sender by us (RFC 4975 §7.1.1); the session goes on.
 *
 * No storage, no hashing: a session is a live conversation.
 *
 * Ownership: the hub owns the connections, the relay owns its two sessions, the owner (pf)
 * owns the relay and destroys it. done() is called once: a leg's connection closed (either
 * way), an unparseable stream, or a leg that did not bind within the hub's bind timeout from
 * the moment its peer path was set. It may call session_relay_destroy(). The hub must
 * outlive its relays. Loop thread only. */
#ifndef CPMD_RELAY_SESSION_RELAY_H
#define CPMD_RELAY_SESSION_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "net/msrp_hub.h"

struct session_relay;
struct msrp_msg; /* cpm/msrp.h */

enum session_relay_leg { SR_LEG_A = 0, SR_LEG_B = 1 };

enum session_relay_result {
	SR_CLOSED = 0,     /* the leg's connection was closed (orderly or reset) */
	SR_PROTOCOL_ERROR, /* the leg sent an unparseable stream */
	SR_TIMEOUT,        /* the leg did not connect and bind in time */
};
const char *session_relay_result_str(enum session_relay_result r);

/* The largest a=max-size a session relay takes: a whole chunk may land in a send queue at
 * once, and the queue's hard cap leaves two receive buffers of room above high water
 * (net/msrp_transport.h). Chat messages are small; files go as file transfers. */
#define SESSION_RELAY_MAX_SIZE (256 * 1024)
/* Relayed chunks per direction that may wait for their response. */
#define SESSION_RELAY_TXNS 64

/* The owner's view of the conversation (a session history, pf_mss_session.c): every chunk of
 * a SEND the relay forwards, whole, just before it goes: `from` the leg it came from, head the
 * parsed request (Message-ID, Byte-Range, Content-Type), its body bytes, flag '$' (the
 * message's last chunk), '+' or '#'. Chunks refused here (413) are not shown. The observer
 * must not call into the relay. */
typedef void session_relay_chunk_f(void *arg, enum session_relay_leg from, const struct msrp_msg *head,
				   const void *body, size_t len, char flag);

struct session_relay_params {
	uint64_t max_size; /* our a=max-size: 1 .. SESSION_RELAY_MAX_SIZE */
	bool secure[2];    /* per leg: msrps (RFC 4975 §14), only TLS binds; needs --msrp-tls */
	session_relay_chunk_f *observe; /* NULL: nobody watches */
	void *observe_arg;
};

/* leg: the leg the reason is about. detail: a short text for logs. */
typedef void session_relay_done_f(void *arg, enum session_relay_leg leg, enum session_relay_result res,
				  const char *detail);

/* 0, -EINVAL (bad parameters), -ENOMEM, -ENOTSUP (secure without --msrp-tls). */
int session_relay_create(struct session_relay **rp, struct msrp_hub *h, const struct session_relay_params *p,
			 session_relay_done_f *done, void *arg);
/* Our MSRP URI on a leg (for a=path in that leg's SDP). Valid until destroy. */
const char *session_relay_path(const struct session_relay *r, enum session_relay_leg leg);
/* The peer's a=path on a leg (from its SDP). Only a connection whose From-Path ends in that
 * session-id may bind the leg; chunks towards a leg wait until it is set and bound. The bind
 * timer of the leg starts here. 0, or -1 when the path does not parse. */
int session_relay_set_peer_path(struct session_relay *r, enum session_relay_leg leg, const char *path);
/* We are the active end of that leg (toward another domain's PF, a=setup:active): connect to the
 * peer path just set (numeric host) and bind with an empty SEND; an msrps path with TLS, the
 * peer's certificate checked, fingerprint: its SDP a=fingerprint or NULL. 0 or -errno. */
int session_relay_connect(struct session_relay *r, enum session_relay_leg leg, const char *fingerprint);
/* Close both sessions and their connections, free everything. Safe at any time, also from
 * done(). NULL is fine. */
void session_relay_destroy(struct session_relay *r);

/* Counters (logs, tests): chunks relayed FROM a leg, chunks refused with 413 from it, the
 * largest send queue ever seen TOWARDS it. */
struct session_relay_stats {
	uint64_t relayed[2];
	uint64_t refused[2];
	size_t max_queued[2];
};
void session_relay_stats(const struct session_relay *r, struct session_relay_stats *out);

#endif
