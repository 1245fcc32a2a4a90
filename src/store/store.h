/* store — the durable state of store-and-forward (issues #3, #8): stored items (files and
 * standalone messages), their per-device deliveries, partial uploads (resume), deferred
 * notifications, the messages cpmd routed (for the report rules), registrations and user
 * preferences. See docs/internals/store.md.
 *
 * A `struct store` is a handle on a backend (SQLite today, PostgreSQL later, a
 * fault-injecting wrapper in tests) reached through `struct store_ops`
 * (store_backend.h). pf only uses the functions below.
 *
 * THREADING
 * - Every function here is called from the loop thread (the thread that runs the struct loop
 *   given at open, net/loop.h). The store is not thread-safe for callers.
 * - Writes never block: the record is COPIED into a request and queued to the backend's
 *   worker thread, which group-commits (one transaction for everything queued). The
 *   request's done(arg, err) runs later IN THE LOOP THREAD, exactly once, after the
 *   transaction committed (err = 0: durable) or failed (err < 0: nothing of that write
 *   is applied). done is never called from inside the submitting call.
 *   A write function returning < 0 did not queue anything and will not call done.
 *   A done callback may submit writes and read, but must not call store_close.
 * - Writes are applied in submission order. done callbacks run in submission order.
 * - Reads (*_get, scans) are SYNCHRONOUS, on a second read-only connection (WAL: a reader
 *   never waits for the writer). Each is one indexed lookup or a bounded index range scan,
 *   so it costs microseconds; that is why they may run on the loop. They see committed
 *   state only: a write is visible to reads once its done has been called.
 *   A scan callback may call *_get and submit writes but must not start another scan.
 *
 * ERRORS: 0 or a negative errno. -ENOENT not found, -EEXIST (item_put of an existing id),
 * -EINVAL (bad argument, e.g. an id that fails store_id_valid), -EAGAIN (write queue full),
 * -EIO (the backend failed; the write is not applied), -ESHUTDOWN (store closing).
 *
 * OWNERSHIP: records are plain structs owned by the caller; the store copies on write and
 * fills caller-provided structs on read. The store handle is owned by whoever opened it. */
#ifndef CPM_STORE_H
#define CPM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpm/limits.h"

/* ---- limits (every bounded field of a record, with the reason) --------------------------- */
/* Our ids: 1..32 characters of [A-Za-z0-9_-]. They name blob files, so nothing else may be an
 * id; 32 = 16 random bytes in hex, which is what pf generates. */
#define STORE_ID_MAX 32
/* A SIP AOR (sip:user@domain). Real ones are < 100 bytes; 256 leaves room for tel-style users
 * and long domains, and rejects abuse. */
#define STORE_AOR_MAX 256
/* +sip.instance value ("<urn:uuid:...>" is 47 bytes) or, as a fallback, a Contact URI. */
#define STORE_INSTANCE_MAX 256
/* A registered Contact with its parameters (feature tags make it long). */
#define STORE_CONTACT_MAX 1024
/* The registration's flow: "sip:<ip>:<port>;transport=tcp" (IPv6 included) fits in 128. */
#define STORE_FLOW_MAX 128
/* File selector fields: same bounds as the SDP codec that parsed them. */
#define STORE_FILENAME_MAX SDP_MAX_FILENAME
#define STORE_TYPE_MAX SDP_MAX_TYPE
#define STORE_TOKEN_MAX SDP_MAX_TOKEN /* file-transfer-id, file-disposition, file-date */
/* Conversation-ID / Contribution-ID are UUID-like tokens (36 bytes); 128 tolerates variants. */
#define STORE_CONV_ID_MAX 128
/* IMDN Message-ID (RFC 5438: a token, short in practice). */
#define STORE_MSGID_MAX 128
/* A CPIM DateTime (RFC 3339: ~30 bytes; the IMDN parser's bound is 63). */
#define STORE_DATETIME_MAX 63
/* A pager-mode message's body (message/cpim), kept inline in its item's row: cpmd's pager
 * limit (--max-pager-size, default 16 KiB, RFC 3428 §8 sends bigger ones in large mode) is at
 * most this; the 4 KiB above 16 KiB are the CPIM wrapper around 16 KiB of content. Bigger
 * bodies are blobs, like files. */
#define STORE_MSG_INLINE_MAX (16 * 1024 + 4096)
/* Thumbnail bytes (RCS thumbnails are ~10 KB). Kept out of struct store_item so that item
 * updates stay small; put with store_item_put(), read with store_item_thumb_get(). */
#define STORE_THUMB_MAX (128 * 1024)
/* Rows a scan returns when the caller passes limit 0: bounded work per call on the loop.
 * (The start-up reconcile asks for all live items explicitly.) */
#define STORE_SCAN_DEFAULT 1000
/* Writes waiting for the worker. A full queue means the disk cannot keep up: the caller gets
 * -EAGAIN and must refuse new work rather than grow memory without bound. */
#define STORE_QUEUE_MAX 262144
/* Writes per transaction. Bounds the WAL growth and the latency of the first write of a
 * batch; 8192 small writes commit in a few ms. */
#define STORE_BATCH_MAX 8192

/* ---- records ------------------------------------------------------------------------------ */
enum store_item_state {
	STORE_ITEM_RECEIVING = 0, /* upload in progress (partial blob in blobs/tmp) */
	STORE_ITEM_STORED,        /* complete, durable, waiting for a device */
	STORE_ITEM_DELIVERING,    /* a delivery to a device is in progress */
	STORE_ITEM_DELIVERED,
	STORE_ITEM_EXPIRED,
	STORE_ITEM_DECLINED,
	STORE_ITEM_CANCELLED,
	STORE_ITEM_FAILED,        /* the store lost the blob (found by reconcile) */
	STORE_ITEM_TO_MSS,        /* waiting to be written to its owner's Message Storage Server
	                             (mss_* fields): its blob or inline body stays until the MSS
	                             confirmed it, then the item goes (docs/internals/mss.md) */
};
const char *store_item_state_name(enum store_item_state s);

/* IMDN disposition requests (RFC 5438 Disposition-Notification), as bits. */
enum { STORE_IMDN_POSITIVE = 1, STORE_IMDN_NEGATIVE = 2, STORE_IMDN_DISPLAY = 4 };

/* What an item holds. Its bytes are in the blob (blobs/<id>), except a pager-mode message's,
 * which are in the item's row (store_item_put_body; body_inline on read). */
enum store_item_kind {
	STORE_KIND_FILE = 0, /* a file transfer (RFC 5547): sel is the file's selector */
	STORE_KIND_MESSAGE,  /* a standalone message: its message/cpim body inline (pager mode) or
	                        in the blob (large mode); sel.name "message", sel.type
	                        "message/cpim", sel.size its bytes */
};
const char *store_item_kind_name(enum store_item_kind k);

/* What an item in STORE_ITEM_TO_MSS becomes in its owner's message store (issue 11,
 * docs/internals/mss.md): one object kind each. */
enum store_mss_obj {
	STORE_MSS_NONE = 0,
	STORE_MSS_FT_HISTORY,      /* a file transfer's history (the file and its metadata) */
	STORE_MSS_MESSAGE_HISTORY, /* a standalone message */
	STORE_MSS_SESSION_HISTORY, /* a chat session: its messages and notifications (inline body) */
	STORE_MSS_EXPIRED,         /* a file or message that expired undelivered (on-expiry=keep) */
	STORE_MSS_KEPT,            /* a file kept in the recipient's store by their preference */
};
const char *store_mss_obj_name(enum store_mss_obj o);

/* The file-selector (RFC 5547) that identifies a file for resume. */
struct store_selector {
	char name[STORE_FILENAME_MAX + 1];
	uint64_t size;
	char type[STORE_TYPE_MAX + 1];
	bool has_hash;
	uint8_t sha1[20];
};

struct store_item {
	char id[STORE_ID_MAX + 1]; /* ours; also the blob's file name */
	char sender[STORE_AOR_MAX + 1];
	char recipient[STORE_AOR_MAX + 1];
	struct store_selector sel;
	char ft_id[STORE_TOKEN_MAX + 1];
	char conv_id[STORE_CONV_ID_MAX + 1];
	char contrib_id[STORE_CONV_ID_MAX + 1];
	char irt_contrib_id[STORE_CONV_ID_MAX + 1];
	char disposition[STORE_TOKEN_MAX + 1]; /* a=file-disposition */
	char file_date[STORE_TOKEN_MAX + 1];   /* a=file-date */
	int64_t created_at_ms;                  /* Unix time, ms */
	int64_t expires_at_ms;
	enum store_item_state state;
	uint64_t bytes_received; /* contiguous from 0 */
	char imdn_msgid[STORE_MSGID_MAX + 1];
	unsigned imdn_disp; /* STORE_IMDN_* bits */
	char delivered_device[STORE_INSTANCE_MAX + 1];
	enum store_item_kind kind; /* fixed at put */
	/* STORE_ITEM_TO_MSS (written by put and update): the object, whose mailbox (an AOR
	 * "user@host": the recipient's for KEPT/EXPIRED, either party's for a history), the
	 * outcome it records ("delivered", "expired", ...), and the retry schedule. */
	enum store_mss_obj mss_obj;
	char mss_owner[STORE_AOR_MAX + 1];
	char mss_outcome[STORE_TOKEN_MAX + 1];
	unsigned mss_attempts;
	int64_t mss_next_at_ms;
	bool body_inline;          /* read only: the body is in the row (store_item_body_get), there is
	                              no blob. Set by store_item_put_body; ignored by the writes. */
};

struct store_thumb {
	char type[STORE_TYPE_MAX + 1];
	size_t len;
	const uint8_t *data; /* store_item_put: the caller's bytes (copied); _get: see there */
};

enum store_delivery_state {
	STORE_DLV_PENDING = 0, /* waiting for next_attempt_at */
	STORE_DLV_ACTIVE,      /* an INVITE/pull to this device is in progress */
	STORE_DLV_DONE,
	STORE_DLV_FAILED,
};

/* One delivery of an item to one device (instance). */
struct store_delivery {
	char item_id[STORE_ID_MAX + 1];
	char instance[STORE_INSTANCE_MAX + 1];
	unsigned attempts;
	int64_t next_attempt_at_ms;
	uint64_t bytes_acked; /* the device acknowledged [0, bytes_acked): resume point */
	enum store_delivery_state state;
};

/* A partial upload, found again by (sender, selector) when the sender re-sends the file. */
struct store_partial {
	char item_id[STORE_ID_MAX + 1];
	char sender[STORE_AOR_MAX + 1];
	struct store_selector sel;
	uint64_t bytes; /* contiguous bytes durable in blobs/tmp/<item_id> */
	int64_t expires_at_ms;
};

enum store_notif_kind {
	STORE_NOTIF_DELIVERED = 0,
	STORE_NOTIF_FAILED,
	STORE_NOTIF_STORED,
	STORE_NOTIF_DISPLAYED, /* a read report (IMDN display notification, RFC 5438) */
};

/* A delivery notification waiting for its target (the original sender) to be reachable. */
struct store_notif {
	char id[STORE_ID_MAX + 1];
	char target[STORE_AOR_MAX + 1];
	enum store_notif_kind kind;
	char item_id[STORE_ID_MAX + 1];
	char imdn_msgid[STORE_MSGID_MAX + 1];
	int64_t created_at_ms;
	unsigned attempts;
	int64_t next_attempt_at_ms;
	char notifier[STORE_AOR_MAX + 1]; /* who notifies: the item's recipient (SIP URI) */
	char datetime[STORE_DATETIME_MAX + 1]; /* the original message's DateTime, repeated in the
	                                          IMDN ("" = use created_at_ms) */
};

/* Report bits of a routed message: which report already went (durably) to its sender. */
enum { STORE_REPORT_DELIVERED = 1, STORE_REPORT_DISPLAYED = 2, STORE_REPORT_FAILED = 4 };

/* A standalone message cpmd routed or stored (pager, large or chat mode), kept so that a
 * device's IMDN can be checked against it and at most one report of each kind reaches the
 * sender, whatever the number of devices (docs/internals/messaging.md §4).
 * Key: (sender, msgid, recipient), all three needed: Message-IDs are the senders' choice. */
struct store_routed {
	char sender[STORE_AOR_MAX + 1];    /* "user@host" of the original sender */
	char msgid[STORE_MSGID_MAX + 1];   /* its imdn.Message-ID */
	char recipient[STORE_AOR_MAX + 1]; /* "user@host" of the recipient */
	unsigned asked;                    /* STORE_IMDN_* bits the sender asked for */
	unsigned sent;                     /* STORE_REPORT_* bits already queued for the sender */
	char datetime[STORE_DATETIME_MAX + 1]; /* its CPIM DateTime */
	int64_t expires_at_ms;             /* forgotten after this */
};

/* A device binding, kept so that registrations survive a restart. Key: (aor, instance). */
struct store_reg {
	char aor[STORE_AOR_MAX + 1];
	char instance[STORE_INSTANCE_MAX + 1];
	char contact[STORE_CONTACT_MAX + 1];
	char flow[STORE_FLOW_MAX + 1];
	bool tcp;
	int64_t expires_at_ms;
};

/* The RFC 8599 push parameters a device registered (schema 5, store_push.c; issue 13,
 * docs/internals/push.md), kept so that a sleeping device is still woken after a restart. Key:
 * (aor, instance). The limits are lib/push's (cpm/pn_params.h), which parsed them. */
#define STORE_PN_PROVIDER_MAX 63
#define STORE_PN_PRID_MAX 255
#define STORE_PN_PARAM_MAX 255
struct store_push {
	char aor[STORE_AOR_MAX + 1];
	char instance[STORE_INSTANCE_MAX + 1];
	char provider[STORE_PN_PROVIDER_MAX + 1]; /* pn-provider, required */
	char prid[STORE_PN_PRID_MAX + 1];         /* pn-prid, required */
	char param[STORE_PN_PARAM_MAX + 1];       /* pn-param, "" when the device gave none */
	int64_t updated_at_ms;                    /* when they were written (wall clock) */
};

enum store_method { STORE_METHOD_PUSH = 0, STORE_METHOD_PULL };
enum store_on_expiry { STORE_EXPIRY_DISCARD = 0, STORE_EXPIRY_KEEP };
/* Files kept in the recipient's message store (issue 11): not at all, instead of delivering
 * them to a device, or besides (delivered, and a copy in the MSS). */
enum store_keep { STORE_KEEP_OFF = 0, STORE_KEEP_INSTEAD, STORE_KEEP_BESIDES };

struct store_prefs {
	char aor[STORE_AOR_MAX + 1];
	bool defer; /* store-and-forward enabled for this user */
	enum store_method method;
	enum store_on_expiry on_expiry;
	/* schema 4 (issue 11) */
	bool history;          /* histories recorded in the user's message store */
	enum store_keep keep;
	bool screening;        /* content screening of what reaches the user */
	uint64_t max_size;     /* largest file the user accepts; 0 = no limit of theirs */
};

/* ---- the handle --------------------------------------------------------------------------- */
struct store;

typedef void store_done_fn(void *arg, int err);
/* Scan callbacks: return 0 to continue, non-zero to stop the scan. */
typedef int store_item_cb(void *arg, const struct store_item *it);
typedef int store_delivery_cb(void *arg, const struct store_delivery *d);
typedef int store_notif_cb(void *arg, const struct store_notif *n);
typedef int store_reg_cb(void *arg, const struct store_reg *r);
typedef int store_routed_cb(void *arg, const struct store_routed *r);
typedef int store_push_cb(void *arg, const struct store_push *p);

struct loop; /* net/loop.h: the event loop whose thread runs every done callback */
struct blob_dir;

/* The store of cpmd's data directory, the only code that names a path under it: creates
 * data_dir (and its parents, mode 0700) and the layout (cpmd.db, blobs/, blobs/tmp/, mss/),
 * opens the SQLite database data_dir/cpmd.db (store_sqlite_open) and the blob directory
 * (blob.h; closed by store_close). Blocks (mkdir, fsync, schema): start-up only. */
int store_open_dir(struct store **out, struct loop *loop, const char *data_dir);
/* The blob directory of a store opened with store_open_dir (also through store_faulty_wrap),
 * for store_reconcile() and store_blobq_create(); NULL for a bare store_sqlite_open(). It
 * belongs to the store. */
struct blob_dir *store_blob_dir(struct store *s);

/* SQLite backend: opens (creates) the database file `path`, its worker thread, and watches
 * the completion eventfd in `loop`. Blocks (schema creation, start-up): call before serving. */
int store_sqlite_open(struct store **out, struct loop *loop, const char *path);

/* Fault injection (tests): a store that forwards everything to `inner` but completes the
 * nth write (1-based) with -EIO without applying it, and with STORE_FAULT_FROM_NTH every
 * later write too; with STORE_FAULT_QUEUE_NTH the nth write is refused when it is queued
 * (-EAGAIN, as a full queue refuses it: no done callback). Takes ownership of inner
 * (store_close closes both). */
enum store_fault_mode { STORE_FAULT_ONLY_NTH = 0, STORE_FAULT_FROM_NTH, STORE_FAULT_QUEUE_NTH };
int store_faulty_wrap(struct store **out, struct store *inner, unsigned nth, enum store_fault_mode mode);

/* Applies every queued write, runs the pending done callbacks (with their results), stops the
 * worker and frees the store. Loop thread; blocks until the queue is committed. NULL is ok. */
void store_close(struct store *s);

bool store_id_valid(const char *id);

/* Counters, for tests and the admin API. */
struct store_stats {
	uint64_t writes;       /* writes applied or failed by the backend */
	uint64_t transactions; /* committed or rolled-back transactions */
	uint64_t max_batch;    /* most writes in one transaction */
};
void store_stats_get(struct store *s, struct store_stats *out);

/* ---- writes (async; see THREADING) -------------------------------------------------------- */
/* Insert a new item (-EEXIST if its id exists). thumb may be NULL. */
int store_item_put(struct store *s, const struct store_item *it, const struct store_thumb *thumb,
		   store_done_fn *done, void *arg);
/* Insert a new item whose body (1..STORE_MSG_INLINE_MAX bytes, copied) is kept in its row: a
 * pager-mode message. Item and body commit together, in the same group commit as the writes
 * around them; read the body back with store_item_body_get. */
int store_item_put_body(struct store *s, const struct store_item *it, const void *body, size_t len,
			store_done_fn *done, void *arg);
/* Update the mutable fields of an existing item (state, bytes_received, expires_at_ms,
 * delivered_device); -ENOENT if it does not exist. */
int store_item_update(struct store *s, const struct store_item *it, store_done_fn *done, void *arg);
/* Delete an item with its deliveries and its partial row (not the blob files). */
int store_item_del(struct store *s, const char *id, store_done_fn *done, void *arg);
/* The others are upserts (insert or replace by key) and deletes (-ENOENT if absent). */
int store_delivery_put(struct store *s, const struct store_delivery *d, store_done_fn *done, void *arg);
int store_delivery_del(struct store *s, const char *item_id, const char *instance, store_done_fn *done,
		       void *arg);
int store_partial_put(struct store *s, const struct store_partial *p, store_done_fn *done, void *arg);
int store_partial_del(struct store *s, const char *item_id, store_done_fn *done, void *arg);
int store_notif_put(struct store *s, const struct store_notif *n, store_done_fn *done, void *arg);
int store_notif_del(struct store *s, const char *id, store_done_fn *done, void *arg);
int store_reg_put(struct store *s, const struct store_reg *r, store_done_fn *done, void *arg);
int store_reg_del(struct store *s, const char *aor, const char *instance, store_done_fn *done, void *arg);
int store_prefs_put(struct store *s, const struct store_prefs *p, store_done_fn *done, void *arg);
int store_prefs_del(struct store *s, const char *aor, store_done_fn *done, void *arg);
/* A routed message: insert, or merge into the row of the same key (asked bits OR-ed, the
 * later expiry kept, sent bits and DateTime unchanged: a message sent again is the same
 * message, and a report that went stays gone). r->sent is ignored (0 on insert). */
int store_routed_put(struct store *s, const struct store_routed *r, store_done_fn *done, void *arg);
int store_routed_del(struct store *s, const char *sender, const char *msgid, const char *recipient,
		     store_done_fn *done, void *arg);
/* The report rule in one transaction: sets report `bit` (one STORE_REPORT_*) of the routed
 * message, and inserts notification n (may be NULL), only if that bit was not set yet.
 * done(0): marked and n queued; done(-EALREADY): that report went already, nothing written;
 * done(-ENOENT): no such routed message, nothing written. */
int store_routed_report(struct store *s, const char *sender, const char *msgid, const char *recipient,
			unsigned bit, const struct store_notif *n, store_done_fn *done, void *arg);
/* A device's push parameters: upsert, and delete (-ENOENT if absent). NOT soft like
 * registrations: a batch holding one commits with its fsync (they are written only when they
 * change, and are what wakes a device after a crash or a power loss). */
int store_push_put(struct store *s, const struct store_push *p, store_done_fn *done, void *arg);
int store_push_del(struct store *s, const char *aor, const char *instance, store_done_fn *done, void *arg);
/* done runs once every write submitted before it has been committed (a barrier). */
int store_sync(struct store *s, store_done_fn *done, void *arg);

/* ---- reads (synchronous, indexed; see THREADING) ------------------------------------------ */
int store_item_get(struct store *s, const char *id, struct store_item *out);
/* Copies the thumbnail into buf (cap bytes); out->data = buf, out->len = its length.
 * -ENOENT if the item has none, -ENOSPC if cap is too small. */
int store_item_thumb_get(struct store *s, const char *id, struct store_thumb *out, uint8_t *buf, size_t cap);
/* Copies an inline body (store_item_put_body) into buf (cap bytes), *len = its length.
 * -ENOENT if the item does not exist or has no inline body, -ENOSPC if cap is too small. */
int store_item_body_get(struct store *s, const char *id, void *buf, size_t cap, size_t *len);
int store_delivery_get(struct store *s, const char *item_id, const char *instance, struct store_delivery *out);
int store_partial_get(struct store *s, const char *item_id, struct store_partial *out);
int store_notif_get(struct store *s, const char *id, struct store_notif *out);
int store_reg_get(struct store *s, const char *aor, const char *instance, struct store_reg *out);
int store_prefs_get(struct store *s, const char *aor, struct store_prefs *out);
int store_routed_get(struct store *s, const char *sender, const char *msgid, const char *recipient,
		     struct store_routed *out);
/* The resumable partial of `sender` for this selector (the newest if several), -ENOENT. */
int store_partial_find(struct store *s, const char *sender, const struct store_selector *sel,
		       struct store_partial *out);

/* Scans return the number of rows given to cb (>= 0) or a negative errno. limit 0 means
 * STORE_SCAN_DEFAULT; larger limits than that belong to start-up code only. */
/* Items of `aor` waiting for delivery (STORED or DELIVERING), oldest first. */
int store_items_for_recipient(struct store *s, const char *aor, unsigned limit, store_item_cb *cb, void *arg);
/* Live items (RECEIVING, STORED, DELIVERING) with expires_at_ms < t_ms, soonest first. */
int store_items_expiring_before(struct store *s, int64_t t_ms, unsigned limit, store_item_cb *cb, void *arg);
/* Items waiting for the message store (STORE_ITEM_TO_MSS) whose next attempt is due at or
 * before t_ms, soonest first (INT64_MAX: all of them, for reconcile). */
int store_items_mss_due(struct store *s, int64_t t_ms, unsigned limit, store_item_cb *cb, void *arg);
int store_deliveries_for_item(struct store *s, const char *item_id, store_delivery_cb *cb, void *arg);
/* Notifications waiting for `aor`, oldest first. */
int store_notifs_for(struct store *s, const char *aor, unsigned limit, store_notif_cb *cb, void *arg);
/* Notifications created before t_ms, oldest first (expiry of undeliverable ones). */
int store_notifs_created_before(struct store *s, int64_t t_ms, unsigned limit, store_notif_cb *cb, void *arg);
/* The first recipient (in byte order) greater than `after` ("" for the first) that has items
 * waiting for delivery, into out: 0, -ENOENT when there is none, -EOVERFLOW. One index seek:
 * walking every recipient this way is for start-up (e.g. retrying other domains). */
int store_next_pending_recipient(struct store *s, const char *after, char *out, size_t cap);
/* What cpmd holds on behalf of one recipient (the quotas, issue 10): the live items addressed
 * to `aor` (receiving, stored or delivering; a receiving file counts with its declared size)
 * and the sum of their sizes. One range of a covering index: cheap on the loop. Committed
 * state only, like every read: an item whose put has not committed yet is not counted. */
struct store_usage {
	uint64_t items;
	uint64_t bytes;
};
int store_recipient_usage(struct store *s, const char *aor, struct store_usage *out);
/* Every registration (start-up: rebuild the location table, before the loop runs). */
int store_regs_all(struct store *s, store_reg_cb *cb, void *arg);
/* One page of a walk over every registration, in (aor, instance) byte order: the ones after
 * the key (after_aor, after_instance) — "" "" for the first page —, at most limit (0:
 * STORE_SCAN_DEFAULT). The next page starts after the last row's key; a page shorter than
 * limit was the last. One range of the primary key, and the read cursor is closed when it
 * returns: a walk in pages between loop turns holds no read snapshot (which would stop WAL
 * checkpoints) while the loop serves, and sees rows written meanwhile when their key is still
 * ahead of it (pf's start-up sweep, pf_start.c). -EINVAL: a key longer than its field. */
int store_regs_page(struct store *s, const char *after_aor, const char *after_instance, unsigned limit,
		    store_reg_cb *cb, void *arg);
/* Devices' push parameters, the most recently written first, at most limit (0: every one;
 * start-up: pf remembers them in memory). */
int store_push_all(struct store *s, unsigned limit, store_push_cb *cb, void *arg);
/* Routed messages with expires_at_ms < t_ms, soonest first. */
int store_routed_expiring_before(struct store *s, int64_t t_ms, unsigned limit, store_routed_cb *cb, void *arg);

/* ---- start-up reconcile (store_reconcile.c) ----------------------------------------------- */
/* Long start-up work (the reconcile: a million items, a million files in blobs/, read from a
 * cold page cache in tens of seconds) asks fn(arg) every few thousand entries and gives up
 * with -EINTR when it answers true: cpmd stops on SIGTERM even while it starts (the store is
 * consistent at any point, and the next start reconciles again). NULL: never asked. */
typedef bool store_interrupt_fn(void *arg);
void store_set_interrupt(struct store *s, store_interrupt_fn *fn, void *arg);
struct store_reconcile_report {
	unsigned blobs_kept, blobs_removed;       /* blobs/<id> */
	unsigned partials_kept, partials_removed; /* blobs/tmp/<id> */
	unsigned items_failed;                    /* STORED/DELIVERING items whose blob is gone */
	unsigned foreign;                         /* files whose names are not our ids: left alone */
};
/* Matches the blob directory against the store at start-up, before serving:
 * - blobs/<id> with no STORED/DELIVERING item → removed;
 * - blobs/tmp/<id> kept only if a RECEIVING item or a partial row references it and it has not
 *   expired (now_ms), else removed;
 * - STORED/DELIVERING items whose blob is missing (an item with an inline body has none and
 *   needs none) → state FAILED (queued; logged by id), and
 *   on_failed(arg, item) is called for each so pf can notify the sender (may be NULL).
 * Counts are logged and returned in *rep. done (may be NULL) runs when the FAILED updates are
 * durable. Blocks on directory scans and reads: start-up only. -EINTR: interrupted
 * (store_set_interrupt), nothing half-done that a later reconcile does not finish. */
int store_reconcile(struct store *s, struct blob_dir *bd, int64_t now_ms, struct store_reconcile_report *rep,
		    store_item_cb *on_failed, store_done_fn *done, void *arg);

#endif
