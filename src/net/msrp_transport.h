/* The MSRP transport as the relay (src/relay) sees it: sessions, the hub's
 * re-entrancy bracket, connections and their send queues. Only src/net and
 * src/relay include this file; the hub's public interface is net/msrp_hub.h,
 * the relay's relay/ft_relay.h.
 *
 * Re-entrancy rule (the reason for hub_enter()/hub_leave()): every entry
 * from the event loop (socket and timer callbacks) and every public call that
 * can make progress (ft_relay_set_peer_path, ft_relay_destroy) is bracketed
 * by hub_enter()/hub_leave(). Inside the bracket nothing is freed and no
 * connection is parsed recursively: a connection whose hold is lifted is put
 * on the hub's run queue, a connection whose send() failed on the fail
 * queue, and both queues are worked off in hub_leave() at depth zero, after
 * which dead connections and relays are freed. So a done() callback may call
 * ft_relay_destroy() and the code that called done() still finds its memory.
 */
#ifndef CPMD_NET_MSRP_TRANSPORT_H
#define CPMD_NET_MSRP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/uio.h>

#include <sofia-sip/su_wait.h>

#include "cpm/limits.h"
#include "cpm/msrp.h"
#include "net/msrp_hub.h"
#include "net/mailbox.h"

/* 20 ALPHANUM characters: ~119 bits, far above RFC 4975's 80-bit advice. */
#define MSRP_SESSION_ID_LEN 20
/* Our own tids on the relayed leg: 16 ALPHANUM (~95 bits), so a body the
 * sender wrote cannot contain our end-line except by chance. */
#define MSRP_OUR_TID_LEN 16
/* "msrps://" + [IPv6]:port + "/" + session-id + ";tcp" */
#define MSRP_OUR_URI_MAX 128
/* Receive buffer: one 64 KiB read plus the parser's worst-case unconsumed
 * tail (a header block), so a read never has less than 64 KiB of room after
 * a compaction. */
#define MSRP_RBUF_SIZE (128 * 1024 + MSRP_MAX_HEADER_BYTES)
/* A connection that got an error response before close is drained (input
 * discarded, output flushed, FIN sent) for at most this long. */
#define MSRP_DRAIN_MS 2000

/* ---- logging and time (net_util.c) ---- */
void msrp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t msrp_now_ms(void);

/* ---- bounded send queue (sendq.c) ---- */
/* A ring buffer that grows on demand up to `max` bytes and never beyond: an
 * append that does not fit fails, and the caller treats that as a broken
 * connection. The flow control in the relay keeps real use far below max. */
struct sendq {
	char *buf;
	size_t cap;  /* allocated */
	size_t head; /* offset of the first queued byte */
	size_t len;  /* queued bytes */
	size_t max;  /* hard limit for len */
};
void sendq_init(struct sendq *q, size_t max);
void sendq_free(struct sendq *q);
static inline size_t sendq_len(const struct sendq *q) { return q->len; }
int sendq_append(struct sendq *q, const void *p, size_t n);
/* Fill at most 2 iovecs with the queued bytes, in order; returns the count. */
int sendq_iov(const struct sendq *q, struct iovec *iov);
void sendq_consume(struct sendq *q, size_t n);

/* ---- gather list (sendq.c): output that has not been written yet and is not in the queue ---- */
/* Up to GATHER_IOV pieces that leave together with one sendmsg (after the queue). A piece is
 * either referenced where it lies (a chunk body in the sending leg's receive buffer, valid
 * until the end of that connection's parse pass: the hub flushes every gather list then) or
 * copied into the fixed stage (heads, end-lines). Fixed size, inside the connection: nothing
 * is allocated per chunk. */
#define GATHER_IOV 16
#define GATHER_STAGE 2048
struct gather {
	struct iovec iov[GATHER_IOV];
	int n;
	size_t len;   /* bytes in all pieces */
	size_t slen;  /* bytes of stage in use */
	char stage[GATHER_STAGE];
};
static inline void gather_clear(struct gather *g) { g->n = 0; g->len = 0; g->slen = 0; }
/* Add a piece by reference; false: no slot left. */
bool gather_ref(struct gather *g, const void *p, size_t n);
/* Add a piece by copy into the stage; false: no slot or no stage room left. */
bool gather_copy(struct gather *g, const void *p, size_t n);
/* The first `done` bytes went out: queue the rest of the pieces in order. -ENOBUFS/-ENOMEM
 * from sendq_append; the list is empty afterwards either way. */
int gather_spill(struct gather *g, size_t done, struct sendq *q);

/* ---- sessions (owned by their user, indexed by the hub) ---- */
struct msrp_session;
struct msrp_conn;

/* What a connection tells the owner of the session it is bound to. All are
 * called inside the hub bracket. */
struct msrp_session_ops {
	/* The connection has just bound itself to the session (before the
	 * binding request is passed to event()). */
	void (*bound)(struct msrp_session *s);
	/* One parser event (MSG, BODY, END, or a non-fatal ERROR). */
	void (*event)(struct msrp_session *s, const struct msrp_event *ev);
	/* The connection wrote some of its queue to the socket. */
	void (*drained)(struct msrp_session *s);
	/* The connection is gone: err 0 = orderly close by the peer, an errno
	 * otherwise (EPROTO = unparseable stream). s->conn is already NULL. */
	void (*closed)(struct msrp_session *s, int err);
};

struct msrp_session {
	char id[MSRP_SESSION_ID_LEN + 1];
	struct msrp_session *hnext;   /* hub hash chain */
	struct msrp_conn *conn;       /* bound connection, or NULL */
	/* The peer's a=path once SIP told us (NULL before): only a connection
	 * whose From-Path ends in the same session-id may bind. This keeps a
	 * device that lost the fork race (late 2xx) off the winner's session. */
	const char *peer_path;
	/* an msrps session (we wrote an msrps: path): only a TLS connection may bind */
	bool secure;
	const struct msrp_session_ops *ops;
	void *owner;
};

/* ---- hub (msrp_hub.c) ---- */
struct hub_defer {
	struct hub_defer *next;
	void (*fn)(struct hub_defer *d);
};

void hub_enter(struct msrp_hub *h);
void hub_leave(struct msrp_hub *h);
/* Give `s` a fresh random session-id and index it. Returns 0 or -ENOMEM. */
int hub_session_add(struct msrp_hub *h, struct msrp_session *s);
void hub_session_del(struct msrp_hub *h, struct msrp_session *s);
/* Our URI for an added session, "msrp://HOST:PORT/ID;tcp", or with secure (RFC 4975 §14)
 * "msrps://HOST:TLS-PORT/ID;tcp" and s->secure set (only TLS binds it). -ENOTSUP: secure
 * without --msrp-tls (uri is then the plain one). */
int hub_session_uri(struct msrp_hub *h, struct msrp_session *s, bool secure, char *uri, size_t cap);
struct msrp_session *hub_session_find(struct msrp_hub *h, const char *id, size_t len);
/* We are the active side (msrp_connect.c): open a connection to host (numeric) : port and bind
 * it to s now (ops->bound is called before this returns). 0, or -errno (nothing changed). A
 * connection that fails later reaches s as ops->closed(err). tls: the TLS client side
 * (msrp_tls.c: the peer's certificate checked against --tls-ca, host and fingerprint, the
 * SDP a=fingerprint or NULL/""); -ENOTSUP without --msrp-tls. A failed handshake reaches s
 * as ops->closed(EPROTO), like a refused connection. */
int hub_session_connect(struct msrp_hub *h, struct msrp_session *s, const char *host, uint16_t port, bool tls,
			const char *fingerprint);
/* The same to the next hop of the peer's a=path (first URI, numeric host; msrps: TLS, and
 * -EPROTO when s is secure but the path is not); with bind_send, an empty SEND from our_uri
 * binds the connection at the peer at once (a chat may stay silent). */
int hub_session_connect_path(struct msrp_hub *h, struct msrp_session *s, const char *peer_path,
			     const char *fingerprint, const char *our_uri, bool bind_send);
/* Run d->fn(d) once the hub is back at depth zero (frees belong there). */
void hub_defer(struct msrp_hub *h, struct hub_defer *d);
su_root_t *hub_root(struct msrp_hub *h);
const char *hub_advertise(const struct msrp_hub *h);
size_t hub_high_water(const struct msrp_hub *h);
unsigned hub_bind_timeout_ms(const struct msrp_hub *h);
unsigned hub_txn_timeout_ms(const struct msrp_hub *h);
void hub_count_relayed(struct msrp_hub *h, uint64_t n);
/* Used by msrp_conn.c. */
void hub_conn_opened(struct msrp_hub *h, struct msrp_conn *c);
void hub_conn_gone(struct msrp_hub *h, struct msrp_conn *c); /* closed: free it later */
void hub_conn_bound(struct msrp_hub *h, struct msrp_conn *c);
void hub_conn_draining(struct msrp_hub *h, struct msrp_conn *c);
void hub_conn_runnable(struct msrp_hub *h, struct msrp_conn *c);
void hub_conn_failed(struct msrp_hub *h, struct msrp_conn *c);
/* c has a gather list with pieces in it: flush it at the end of the parse pass. */
void hub_conn_gathered(struct msrp_hub *h, struct msrp_conn *c);
/* Flush every gather list (a parse pass ends: its receive buffer may move after this). */
void hub_flush_gathered(struct msrp_hub *h);
/* Inside hub_enter()/hub_leave(): hub_leave() will flush the gather lists. */
bool hub_in_bracket(const struct msrp_hub *h);
/* A connection accepted on one of our listeners (tls_ctx: an SSL_CTX for the TLS one). */
struct ssl_ctx_st;
struct sockaddr_storage;
void hub_accept_one(struct msrp_hub *h, int fd, const struct sockaddr_storage *ss, struct ssl_ctx_st *tls_ctx);
/* The TLS side of the hub (--msrp-tls), or NULL. */
struct hub_tls *hub_tls_of(struct msrp_hub *h);
/* socket + bind + listen on a numeric host; *port 0 = any (the bound one is returned). */
int hub_listen_on(const char *host, uint16_t *port, int *fdout);

/* ---- threads (msrp_workers.c, issue 12; docs/ARCHITECTURE.md "Threads") ----
 * With --workers N > 1 the main hub (SIP's loop) has N worker hubs, each run by its own
 * thread and loop. A hub and everything on it (sessions, connections, relays) is touched by
 * its own thread only; other threads reach it through its mailbox (an eventfd its loop
 * watches, a mutex-guarded list): hub_call (synchronous, the relay API called from pf) and
 * hub_post (asynchronous: a relay's done/event back to main, a connection handed over).
 * Nothing of this is on the per-chunk path. */
struct hub_job {
	struct mailbox_node link; /* in the hub's mailbox (net/mailbox.h) */
	/* run: the owner thread runs the job; false: discarded (purged, or its hub stopped),
	 * free what it holds. An async job is the receiver's from hub_post on (fn frees it). */
	void (*fn)(struct hub_job *j, bool run);
	const void *key; /* for hub_purge */
	bool sync, done;
};
/* Run j->fn(j, true) on h's thread and return after it ran (at once when called on it). */
void hub_call(struct msrp_hub *h, struct hub_job *j);
/* Queue j for h's thread; never blocks on it. */
void hub_post(struct msrp_hub *h, struct hub_job *j);
/* Discard (fn(j, false)) the jobs queued for h with this key: a relay destroyed by its owner
 * gets no late callback. On h's thread. */
void hub_purge(struct msrp_hub *h, const void *key);
/* Take the oldest job posted to h's loop under `key` out of its mailbox (NULL: none): the
 * caller, on h's loop, runs or drops it (ft_relay_deliver_pending). */
struct hub_job *hub_take(struct msrp_hub *h, const void *key);
/* Called on h's own thread? (Always true without workers.) */
bool hub_is_mine(const struct msrp_hub *h);
struct msrp_hub *hub_main_of(struct msrp_hub *h);
/* Main thread: the hub a new relay of `size` file bytes should live on: the main hub without
 * workers or for a small transfer (below HUB_WORKER_MIN_SIZE: the crossings would cost more
 * than they spread), else the worker with the fewest relays. */
#define HUB_WORKER_MIN_SIZE (1024 * 1024)
struct msrp_hub *hub_pick(struct msrp_hub *h, uint64_t size);
/* Main thread: count a relay placed on (+1) or gone from (-1) a hub (hub_pick's load). */
void hub_load(struct msrp_hub *h, int delta);
unsigned hub_worker_count(const struct msrp_hub *h);
struct msrp_hub *hub_worker(const struct msrp_hub *h, unsigned k); /* 1..count */
/* An unbound connection whose first request (at rbuf + off) names a session of another hub:
 * move its socket, TLS state and unread bytes there (the target parses them again from the
 * request's start). true: handed over, c is closed here (without closing the socket). */
bool hub_handoff(struct msrp_conn *c, const char *session_id, size_t id_len, size_t off);

/* ---- connections (msrp_conn.c) ---- */
enum conn_state {
	CONN_UNBOUND = 0, /* accepted, waiting for its first request */
	CONN_BOUND,       /* carries exactly one session */
	CONN_DRAINING,    /* no session: flushing, then FIN, input discarded */
	CONN_CLOSED,      /* fd closed; freed when the hub is back at depth 0 */
};

/* Reasons not to read or parse; reading resumes when all are clear. */
#define CONN_HOLD_PEER 0x1  /* owner cannot take the current message yet */
#define CONN_HOLD_BP 0x2    /* the other leg's queue is above high water */
#define CONN_HOLD_ENDED 0x4 /* the relay has finished: read nothing more */
#define CONN_HOLD_DISK 0x8  /* the relay's tee worker is behind (ring full) or finishing the hash */

struct ssl_st;
struct msrp_conn {
	struct msrp_hub *hub;
	int fd;
	struct ssl_st *ssl;  /* TLS (msrp_tls.c), or NULL: plain TCP, the path that stays fast */
	bool tls_want_read;  /* TLS: a write waits for the peer's handshake bytes */
	/* TLS client side (we connected): the SDP a=fingerprint the peer's certificate must
	 * have, "" = none given (msrp_tls.c checks it in the handshake) */
	char tls_peer_fp[SDP_MAX_FINGERPRINT + 1];
	int widx;          /* su_root registration index */
	int mask;          /* events currently asked for */
	enum conn_state state;
	unsigned hold;
	bool in_parse;
	bool on_runq, on_failq;
	bool failed;
	bool shut_wr;
	bool skip_msg;     /* unbound: ignore BODY/END of a refused request */
	int fail_err;
	struct msrp_session *session;
	struct msrp_conn *tnext, *tprev; /* hub timeout list (unbound or draining) */
	int tlist;                       /* which timeout list, 0 = none */
	struct msrp_conn *anext, *aprev; /* hub list of all connections */
	struct msrp_conn *qnext;         /* hub run queue */
	struct msrp_conn *failnext;      /* hub fail queue */
	struct msrp_conn *gnext;         /* hub list of connections with a gather list */
	bool on_gatherq;
	struct msrp_conn *reapnext;      /* hub list of closed ones to free */
	uint64_t deadline;       /* for the timeout list */
	uint64_t last_progress;  /* socket took bytes, or the empty queue got some */
	unsigned zero_events;    /* consecutive parser events that consumed nothing */
	size_t ev_off;          /* where the message of the event being dispatched began (hand-off) */
	char peer[64];
	unsigned char addr[16]; /* the peer's IP (4 or 16 bytes): the per-address cap */
	unsigned char addr_len;
	struct sendq q;
	struct gather g; /* written after q, before anything queued later */
	size_t roff, rlen;
	struct msrp_parser parser;
	char rbuf[MSRP_RBUF_SIZE];
};

int conn_create(struct msrp_hub *h, int fd, const char *peer, struct msrp_conn **cp);
void conn_free(struct msrp_conn *c);
/* Send bytes now as far as the socket takes them, queue the rest. Never
 * calls back into the owner; a socket error marks the connection failed and
 * it is closed from hub_leave(). */
void conn_send(struct msrp_conn *c, const void *p, size_t n);
/* Queue bytes without a syscall; they leave with the next conn_send() or
 * when the socket is writable. */
void conn_queue(struct msrp_conn *c, const void *p, size_t n);
/* Bytes that stay valid until the current parse pass ends (a chunk body in the other leg's
 * receive buffer): no syscall and no copy now; they leave with the next conn_send() (the
 * chunk's end-line: head, body and end-line in one sendmsg) or when the hub flushes at the
 * end of the pass. Only a plain TCP connection with an empty queue gathers: under
 * back-pressure, and on TLS, this is conn_send(). Gathered
 * bytes are never older than the pass, but conn_queued() counts them: the relay's flow control
 * must see a pass's bodies before they spill into the queue, or a device that reads nothing
 * gets a whole receive buffer beyond the high-water mark. */
void conn_send_ref(struct msrp_conn *c, const void *p, size_t n);
/* A small piece (a response to the sender) copied into the gather list: it leaves with the
 * other output of this parse pass in one sendmsg, at the pass end at the latest. Outside the
 * hub bracket, on TLS or under back-pressure: conn_send(). */
void conn_send_soon(struct msrp_conn *c, const void *p, size_t n);
/* Write the gather list now (the hub's flush at the end of a parse pass). */
void conn_flush_gather(struct msrp_conn *c);
/* Bytes written to the connection and not taken by the socket yet: queued or gathered. */
static inline size_t conn_queued(const struct msrp_conn *c) { return c ? sendq_len(&c->q) + c->g.len : 0; }
/* Bytes the kernel holds for the peer: not sent or not acknowledged yet
 * (SIOCOUTQ). Autotuned socket buffers reach megabytes, which a slow link
 * takes many seconds to deliver: response timers must not run meanwhile. */
size_t conn_kernel_unacked(const struct msrp_conn *c);
void conn_hold(struct msrp_conn *c, unsigned bits);
void conn_unhold(struct msrp_conn *c, unsigned bits);
/* Answer a request on this connection. `from` is the URI we answer as.
 * Honours Failure-Report (no: nothing; partial: errors only). */
void conn_respond(struct msrp_conn *c, const struct msrp_msg *req, int status, const char *comment,
		  struct cpm_str from);
/* Detach from its session, flush what is queued, send FIN, discard input,
 * close on EOF or after MSRP_DRAIN_MS. */
void conn_drain(struct msrp_conn *c);
/* Close now (fd, registration); tells the session owner unless detached. */
void conn_close(struct msrp_conn *c, int err);
/* Work off buffered input after a hold was lifted (called by the hub). */
void conn_run(struct msrp_conn *c);
/* Read and parse now, bounded like one wake-up and without blocking, what the peer has sent
 * already, as if the socket had signalled: the owner's SIP news (a BYE) can overtake MSRP bytes
 * the peer sent before it (ft_relay_deliver_pending). */
void conn_take_input(struct msrp_conn *c);

#endif
