/* Private to the relay (ft_relay*.c): its state and the functions its
 * files share. The relay is split by job: ft_relay.c (life cycle, public
 * API, session callbacks, ending, completion), ft_relay_up.c (the sender's
 * leg), ft_relay_down.c (the device's leg), ft_relay_timer.c (timers),
 * ft_relay_intake.c (intake: store mode, no device leg), ft_relay_source.c (source mode),
 * relay_tee_worker.c (the blob write and sha-1 on a worker thread; upload resume).
 * Every function here runs inside the hub bracket (net/msrp_transport.h). */
#ifndef CPMD_RELAY_FT_RELAY_PRIV_H
#define CPMD_RELAY_FT_RELAY_PRIV_H

#include "net/msrp_transport.h"
#include "relay/ft_relay.h"

/* ---- the tee: blob file + sha-1 of the contiguous prefix (relay_tee.c) ---- */
struct relay_tee {
	int fd;                 /* -1: no blob file; the owner's (pf's store) fd, the relay's once created */
	void *md;               /* EVP_MD_CTX */
	uint64_t contig;        /* bytes 1..contig received, written and hashed */
	bool final;
	bool no_hash;           /* the tee worker hashes (relay_tee_worker.c) */
	bool hashed;            /* digest is the sha-1 of [0, contig) (a lazy worker's may be none) */
	uint8_t digest[20];
	uint64_t wb_from;       /* writeback started for [0, wb_from) (tee_feed) */
};
/* fd: the blob, open for writing at byte 0 (-1: hash only). The tee never
 * opens a file: the store does (docs/internals/relay.md, "File
 * descriptors"); tee_close() closes fd. */
int tee_open(struct relay_tee *t, int fd);
/* Upload resume, after tee_open() with the existing blob (read-write: the
 * resume hasher reads it back): cut it to `base` bytes and go on from there
 * (contig = base); the tee does not hash. A blob shorter than base is left
 * alone and *short_prefix set (the caller fails the relay; nothing is
 * written). Returns 0 or -errno (fd left open either way). */
int tee_resume(struct relay_tee *t, uint64_t base, bool *short_prefix);
/* Body bytes at 0-based file offset `off` (off <= contig, caller checks).
 * Only the part beyond contig is written and hashed. Returns 0 or -errno;
 * after an error the blob is cut back to contig bytes (no half-written
 * tail). */
int tee_feed(struct relay_tee *t, uint64_t off, const char *p, size_t n);
/* Finish the hash (once). */
int tee_final(struct relay_tee *t);
void tee_close(struct relay_tee *t);


/* Relayed chunks whose response we may still get. A sender with 64 KiB
 * chunks and a 1 MiB high-water mark has ~20 in flight; smaller chunks are
 * throttled by this table (the sender waits for the device, as it would
 * without us). */
#define RELAY_TXNS 64
/* Bytes relayed may exceed the file only by re-sent ranges: at most twice
 * the file plus this. */
#define RELAY_RESEND_SLACK (1024 * 1024)
struct disk_ring;

enum up_cur {
	UP_NONE = 0, /* between messages */
	UP_SKIP,     /* current message is not relayed: ignore BODY/END */
	UP_PENDING,  /* data SEND parsed, DOWN head not written yet */
	UP_ACTIVE,   /* DOWN head written: body and end-line go DOWN */
};

struct relay_leg {
	struct msrp_session s;
	struct ft_relay *r;
	enum ft_relay_leg which;
	char uri[MSRP_OUR_URI_MAX];
	char peer_path[SDP_MAX_PATH + 1];
	bool has_peer;
	char peer_from[MSRP_MAX_LINE + 1]; /* From-Path of the peer's first request */
	uint64_t bind_deadline;            /* 0: not waiting */
	size_t max_queued;
	bool in_hub;                       /* session indexed in the hub */
};

struct txn {
	bool used;
	bool timed; /* Failure-Report yes: a response must come */
	bool last;  /* the '$' chunk of the file */
	bool acked; /* source mode: 200 came, waiting for the prefix to reach it */
	uint64_t start, end; /* source mode: 1-based range of the chunk within the message */
	uint64_t file_from, file_to; /* live mode: the chunk's file bytes [from, to) (to: at its end-line) */
	enum msrp_report_mode fr;
	uint64_t deadline; /* 0 until its end-line was written */
	uint64_t seq;
	char down_tid[MSRP_TID_MAX + 1];
	char up_tid[MSRP_TID_MAX + 1];
};

struct ft_relay {
	struct hub_defer defer; /* first: the deferred free finds us by it */
	struct msrp_hub *hub;
	ft_relay_done_f *done;
	void *arg;
	uint64_t size, limit;
	uint64_t max_size;  /* params.max_size: size_from_range checks the total against it */
	bool size_unknown;  /* size_from_range: the first data SEND's Byte-Range total sets size */
	char accept_type[64]; /* params.content_type, or "" */
	bool has_sha1;
	uint8_t sha1[20];

	struct relay_leg leg[2];
	su_timer_t *timer;
	bool timer_armed;
	uint64_t timer_at;
	struct relay_tee tee;
	char file_msgid[MSRP_MSGID_MAX + 1];

	/* the UP chunk being relayed */
	enum up_cur up_cur;
	const struct msrp_msg *pending; /* parser-owned, valid while UP is held */
	/* A device request that needs an answer while a DOWN chunk is open:
	 * nothing may be written between a chunk's head and its end-line, so
	 * DOWN is held and the request answered once the chunk ends. */
	const struct msrp_msg *down_pending;
	char fwd_down_tid[MSRP_TID_MAX + 1];
	char fwd_up_tid[MSRP_TID_MAX + 1];
	int fwd_txn; /* index in tab, or -1 */
	enum msrp_report_mode fwd_fr, fwd_sr;
	uint64_t fwd_off; /* 0-based file offset of its next body byte */
	uint64_t relayed; /* body bytes sent DOWN, re-sent ones included */

	struct txn tab[RELAY_TXNS];
	uint64_t seq;

	bool last_sent; /* '$' of the file written DOWN, checks passed */
	uint64_t report_deadline; /* success REPORT expected by then (0: none) */
	size_t last_outq;         /* kernel send queue towards DOWN at the last timer check */
	bool need_200, need_report, got_200, got_report;
	bool hash_ok;
	bool ended, destroyed;
	/* A result reached while the relay's owner is calling in (ft_relay_connect: a connection
	 * that fails at once): its done callback must not run inside the owner's own call (the
	 * owner may free what it is using), so it waits for the relay's timer (a zero delay). */
	bool in_owner_call, done_deferred;
	enum ft_relay_result deferred_res;
	char deferred_detail[160];

	/* store mode (ft_relay_intake.c) */
	ft_relay_event_f *event;
	bool keep_on_loss;
	bool store;        /* no DOWN leg (any more): we answer the sender */
	bool ack_wait;     /* RECEIVED reported, ft_relay_ack_received() not called */
	bool held_200;     /* the '$' chunk's 200 is owed (Failure-Report yes) */
	bool held_report;  /* a success REPORT is owed (Success-Report yes) */
	enum msrp_report_mode held_fr;
	char held_tid[MSRP_TID_MAX + 1];
	/* "Name: value\r\n" on the success ack (ft_relay_set_ack_header), or "" */
	char ack_hdr[FT_RELAY_ACK_NAME_MAX + FT_RELAY_ACK_VALUE_MAX + 5];
	/* a header carried from DOWN's 200 to the sender (ft_relay_down.c: Cpm-Stored) */
	char fwd_hdr[FT_RELAY_ACK_NAME_MAX + FT_RELAY_ACK_VALUE_MAX + 5];

	/* the tee worker (relay_tee_worker.c); upload resume: the blob holds [0, base) already */
	uint64_t base;
	struct disk_ring *rs;    /* blob write + sha-1 off the loop (common/disk_ring.h); NULL: inline tee */
	bool tw_decided;         /* worker or inline tee chosen (at the first body byte) */
	int rs_widx;             /* its eventfd in su_root (0: not registered) */
	int rs_err;              /* the worker failed (-errno), seen by the loop */
	bool rs_write_err;       /* ... writing the blob (not reading a resume's prefix) */
	bool rs_wait;            /* the '$' chunk passed the size check, waiting for the hash */
	bool rs_direct;          /* the worker was asked for O_DIRECT writes (a blob cpmd keeps) */
	bool rs_verify;          /* store mode after an unverified live '$': hashing the whole blob */
	bool tw_draining;        /* ended: the worker writes the ring's rest, then done() (relay_tw_drain) */
	enum msrp_report_mode rs_fr, rs_sr;
	char rs_tid[MSRP_TID_MAX + 1];

	/* source mode (ft_relay_source.c) */
	bool source;
	int src_fd;              /* the stored blob (the owner's fd, ours once created) */
	char *src_buf;           /* one chunk on the wire: head + body + end-line */
	size_t src_buf_cap;
	uint64_t src_off;        /* file offset of the range's first byte */
	uint64_t src_next;       /* bytes of the range read and sent */
	uint64_t src_acked;      /* bytes of the range acknowledged, contiguous */
	uint64_t down_acked;     /* live mode: the device acknowledged every file byte below this */
	bool src_check_hash;
	char src_ctype[128];
};

static inline struct msrp_conn *relay_conn(struct ft_relay *r, enum ft_relay_leg l)
{
	return r->leg[l].s.conn;
}

/* For log lines: the relay's first session-id (a source relay has only DOWN). */
static inline const char *relay_name(const struct ft_relay *r)
{
	return r->source ? r->leg[FT_LEG_DOWN].s.id : r->leg[FT_LEG_UP].s.id;
}

static inline bool fr_wants_response(enum msrp_report_mode fr)
{
	return fr == MSRP_REPORT_YES || fr == MSRP_REPORT_DEFAULT;
}

/* ft_relay.c */
/* blob_fd: the tee's blob (-1: none); the relay's from here on, but a
 * relay_discard()ed relay gives it back (create failed: the caller keeps
 * its fd). */
struct ft_relay *relay_new(struct msrp_hub *h, int blob_fd, ft_relay_done_f *done, void *arg, int *err);
void relay_legs_init(struct ft_relay *r);
int relay_leg_add(struct ft_relay *r, enum ft_relay_leg l);
void relay_discard(struct ft_relay *r);
/* The one place done() is called; callers return right after it. */
void relay_finish(struct ft_relay *r, enum ft_relay_result res, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void relay_send(struct ft_relay *r, enum ft_relay_leg l, const void *p, size_t n);
/* The same for bytes in the other leg's receive buffer (conn_send_ref): gathered until the
 * next relay_send on that leg or the end of the parse pass. */
void relay_send_ref(struct ft_relay *r, enum ft_relay_leg l, const void *p, size_t n);
/* A small piece copied behind them (conn_send_soon): the same one sendmsg. */
void relay_send_soon(struct ft_relay *r, enum ft_relay_leg l, const void *p, size_t n);
struct cpm_str relay_leg_path_back(const struct relay_leg *L);
void relay_leg_respond(struct relay_leg *L, const struct msrp_msg *m, int status, const char *comment);
void relay_up_respond_tid(struct ft_relay *r, const char *tid, int status, const char *comment);
/* The same with extension header lines (raw "Name: value\r\n", or empty). */
void relay_up_respond_tid_ext(struct ft_relay *r, const char *tid, int status, const char *comment,
			      struct cpm_str extra);
void relay_flow(struct ft_relay *r);
int relay_txn_alloc(struct ft_relay *r);
int relay_txn_find(struct ft_relay *r, const char *down_tid);
void relay_check_complete(struct ft_relay *r);
bool relay_leg_to_path_ok(const struct relay_leg *L, const struct msrp_msg *m);
bool relay_leg_common_request(struct relay_leg *L, const struct msrp_msg *m);

/* ft_relay_timer.c */
/* relay_finish while the owner calls in: done runs from the relay's timer, at once. */
void relay_arm_deferred_done(struct ft_relay *r);
void relay_arm(struct ft_relay *r);
void relay_restart_deadlines(struct ft_relay *r);
void relay_txn_start_clock(struct ft_relay *r, bool last);

/* ft_relay_up.c */
void relay_try_pending(struct ft_relay *r);
/* The '$' chunk's file is written and hashed (tee.digest final): check the
 * hash, then end the chunk DOWN (live) or report RECEIVED (store). */
void relay_up_last_hashed(struct ft_relay *r, const char *tid, enum msrp_report_mode fr,
			  enum msrp_report_mode sr);
void relay_up_event(struct ft_relay *r, const struct msrp_event *ev);

/* ft_relay_intake.c */
/* The device's leg failed: with keep_on_recipient_loss, switch to store
 * mode and report event(RECIPIENT_LOST); otherwise relay_finish(res). */
void relay_recipient_failed(struct ft_relay *r, enum ft_relay_result res, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void relay_go_store(struct ft_relay *r);
/* store mode, the '$' chunk passed its checks: hold its answer, report RECEIVED */
void relay_store_received(struct ft_relay *r, const char *tid, enum msrp_report_mode fr,
			  enum msrp_report_mode sr);
void relay_event_cb(struct ft_relay *r, enum ft_relay_result ev, const char *detail);
/* After store_switch() found the file complete: check the blob's sha-1 (or, unverified yet,
 * have it hashed first: relay_tw_verify) and report RECEIVED, or end HASH_MISMATCH. */
void relay_store_verified(struct ft_relay *r);
/* A REPORT about the whole message (Byte-Range 1-n/n, n = size - base),
 * with extension header lines (or empty). */
void relay_up_report(struct ft_relay *r, int status, const char *comment, struct cpm_str extra);

/* relay_tee_worker.c */
/* The tee's blob (already given to relay_new) holds an upload resumed at
 * `base`: cut it there and start the worker, which hashes the stored prefix
 * (pread through its own dup of the descriptor) before the new bytes.
 * Returns 0 or -errno (creation fails). */
int relay_resume_open(struct ft_relay *r, uint64_t base);
/* Body bytes at 0-based file offset `off` (off <= tee.contig): into the
 * worker's ring (the sender is held with CONN_HOLD_DISK while it is nearly
 * full), or through the inline tee for a small file. 0 or -errno. */
int relay_tee_feed(struct ft_relay *r, uint64_t off, const char *p, size_t n);
/* The '$' chunk passed the size check: with a worker, hold the sender and
 * return true; relay_up_last_hashed() runs once the worker has written and
 * hashed everything. false: no worker (the caller finishes the inline tee). */
bool relay_tw_final(struct ft_relay *r, const char *tid, enum msrp_report_mode fr,
		    enum msrp_report_mode sr);
/* The relay ends (relay_finish) while its worker still has bytes to write: let it write
 * them all (not hash: the file is incomplete) and return true; the worker's wake-up then stops
 * it and arms the deferred done(). false: nothing to wait for (no worker, it failed, the ring
 * is written), the caller stops it at once. */
bool relay_tw_drain(struct ft_relay *r);
/* The relay turned into a store relay: a lazy worker (live relays hash nothing, "Lazy SHA-1"
 * in docs/internals/relay.md) starts hashing now, from byte 0 of the blob. */
void relay_tw_want_hash(struct ft_relay *r);
/* The '$' chunk passed the size check in store mode but the file has no sha-1 yet (the lazy
 * worker finished before it was asked): hash the whole blob on a worker (base = size, no new
 * bytes: the resume's prefix path), holding the sender; relay_up_last_hashed() runs again
 * once it is done. false: no worker could start (the caller ends the relay). */
bool relay_tw_rehash(struct ft_relay *r, const char *tid, enum msrp_report_mode fr,
		     enum msrp_report_mode sr);
/* store_switch() after the '$' chunk went DOWN unverified: hash the whole blob, then
 * relay_store_verified(). false: no worker could start. */
bool relay_tw_verify(struct ft_relay *r);
/* The worker failed (r->rs_err): tell the sender (an error to its open
 * chunk; in store mode a failure REPORT) and end the relay FT_RELAY_IO_ERROR. */
void relay_tw_fail(struct ft_relay *r);
/* Stop the worker (it frees its half by itself), close the eventfd; an
 * unfinished worker leaves tee.contig at what it wrote. Safe to call again,
 * and for a relay without a worker. */
void relay_tw_stop(struct ft_relay *r);

/* ft_relay_source.c */
void relay_source_pump(struct ft_relay *r);
void relay_source_response(struct ft_relay *r, int i, const struct msrp_msg *m);
void relay_source_report(struct ft_relay *r, const struct msrp_msg *m);
void relay_source_free(struct ft_relay *r);

/* ft_relay_down.c */
void relay_down_end(struct ft_relay *r, char flag);
void relay_down_event(struct ft_relay *r, const struct msrp_event *ev);

/* The public calls' bodies, run on the relay's own loop (ft_relay_thread.c wraps each
 * ft_relay_X of ft_relay.h: direct on that loop, a hub_call from another). */
int ftr_create(struct ft_relay **rp, struct msrp_hub *h, const struct ft_relay_params *p, ft_relay_done_f *done,
	       void *arg);
int ftr_create_source(struct ft_relay **rp, struct msrp_hub *h, const struct ft_relay_source_params *p,
		      ft_relay_done_f *done, void *arg);
int ftr_leg_secure(struct ft_relay *r, enum ft_relay_leg l);
int ftr_set_peer_path(struct ft_relay *r, enum ft_relay_leg leg, const char *path);
int ftr_connect(struct ft_relay *r, enum ft_relay_leg leg, const char *fingerprint);
uint64_t ftr_bytes(const struct ft_relay *r);
bool ftr_sha1(const struct ft_relay *r, uint8_t out[20]);
size_t ftr_max_queued(const struct ft_relay *r, enum ft_relay_leg leg);
void ftr_destroy(struct ft_relay *r);
/* Both legs' input already sent, read and parsed now (ft_relay_deliver_pending). */
void ftr_take_input(struct ft_relay *r);
int ftr_detach_down(struct ft_relay *r);
int ftr_ack_received(struct ft_relay *r, int err);
int ftr_refuse_received(struct ft_relay *r, int status, const char *comment);
int ftr_set_ack_header(struct ft_relay *r, const char *name, const char *value);
int ftr_blob_dup(const struct ft_relay *r);
uint64_t ftr_bytes_acked(const struct ft_relay *r);

#endif
