/* What a store backend implements (SQLite: store_sqlite.c; fault injection: store_faulty.c).
 * pf never includes this file; it uses store.h.
 *
 * A write is one `struct store_op`: a header and a copy of one record, allocated with the size
 * of that record only (an item op is ~3 KiB, a delivery op ~400 bytes), owned by the backend
 * from submit() on, and freed by the backend after its done callback ran. */
#ifndef CPM_STORE_BACKEND_H
#define CPM_STORE_BACKEND_H

#include <stddef.h>

#include "store/store.h"
#include "net/mailbox.h"

enum store_op_kind {
	STORE_OP_ITEM_PUT = 0,
	STORE_OP_ITEM_UPDATE,
	STORE_OP_ITEM_DEL,
	STORE_OP_DELIVERY_PUT,
	STORE_OP_DELIVERY_DEL,
	STORE_OP_PARTIAL_PUT,
	STORE_OP_PARTIAL_DEL,
	STORE_OP_NOTIF_PUT,
	STORE_OP_NOTIF_DEL,
	STORE_OP_REG_PUT,
	STORE_OP_REG_DEL,
	STORE_OP_PREFS_PUT,
	STORE_OP_PREFS_DEL,
	STORE_OP_ROUTED_PUT,
	STORE_OP_ROUTED_DEL,
	STORE_OP_ROUTED_REPORT,
	STORE_OP_PUSH_PUT, /* store_push.c */
	STORE_OP_PUSH_DEL,
	STORE_OP_SYNC, /* no record: a barrier */
};

/* Key of a delete: (k1) or (k1, k2). */
struct store_key {
	char k1[STORE_AOR_MAX + 1];
	char k2[STORE_INSTANCE_MAX + 1];
};

/* ITEM_PUT's record: the item, then the thumbnail bytes (thumb_len of them), then the inline
 * body (body_len bytes; has_body: store_item_put_body). */
struct store_item_rec {
	struct store_item item;
	char thumb_type[STORE_TYPE_MAX + 1];
	size_t thumb_len;
	bool has_body;
	size_t body_len;
	uint8_t bytes[]; /* flexible: thumb, then body */
};

/* ROUTED_DEL's and ROUTED_REPORT's record: the key (in r), the bit, the notification. */
struct store_routed_rec {
	struct store_routed r;
	unsigned bit;
	bool has_notif;
	struct store_notif n;
};

struct store_op {
	struct store_op *next; /* queue link, owned by whoever holds the op */
	struct mailbox_node done_link; /* its link on the way back to the loop (store_cq.c) */
	enum store_op_kind kind;
	store_done_fn *done;
	void *arg;
	int err; /* result, set by the backend */
	size_t rec_len;
	_Alignas(max_align_t) unsigned char rec[]; /* the record copy, by kind */
};

/* Allocates an op with rec_len bytes of record (zeroed header; rec is not cleared). */
struct store_op *store_op_alloc(enum store_op_kind kind, size_t rec_len, store_done_fn *done, void *arg);

/* The argument checks and submits of store.c, shared with the other record files (store_push.c). */
/* A fixed-size field is a C string only if it has its NUL inside the array. */
#define FIELD_OK(f) (memchr((f), 0, sizeof(f)) != NULL)
/* A key given as a C string: 1..max bytes (strnlen never reads past max + 1). */
bool store_key_ok(const char *k, size_t max);
/* A copy of rec (len bytes) as an op of this kind, submitted; the op is freed if refused. */
int store_submit_copy(struct store *s, enum store_op_kind kind, const void *rec, size_t len, store_done_fn *done,
		      void *arg);
/* A delete by (k1) or (k1, k2) (max2 0: no k2), each checked with store_key_ok. */
int store_submit_key(struct store *s, enum store_op_kind kind, const char *k1, size_t max1, const char *k2,
		     size_t max2, store_done_fn *done, void *arg);

struct store_ops {
	const char *name;
	/* Takes ownership of op and queues it; 0, or < 0 (op freed by the caller, done not run). */
	int (*submit)(struct store *s, struct store_op *op);
	void (*close)(struct store *s);
	void (*stats)(struct store *s, struct store_stats *out);
	int (*item_get)(struct store *s, const char *id, struct store_item *out);
	int (*item_thumb_get)(struct store *s, const char *id, struct store_thumb *out, uint8_t *buf, size_t cap);
	int (*item_body_get)(struct store *s, const char *id, void *buf, size_t cap, size_t *len);
	int (*delivery_get)(struct store *s, const char *item_id, const char *instance, struct store_delivery *out);
	int (*partial_get)(struct store *s, const char *item_id, struct store_partial *out);
	int (*partial_find)(struct store *s, const char *sender, const struct store_selector *sel,
			    struct store_partial *out);
	int (*notif_get)(struct store *s, const char *id, struct store_notif *out);
	int (*reg_get)(struct store *s, const char *aor, const char *instance, struct store_reg *out);
	int (*prefs_get)(struct store *s, const char *aor, struct store_prefs *out);
	int (*routed_get)(struct store *s, const char *sender, const char *msgid, const char *recipient,
			  struct store_routed *out);
	int (*items_for_recipient)(struct store *s, const char *aor, unsigned limit, store_item_cb *cb, void *arg);
	int (*items_expiring_before)(struct store *s, int64_t t_ms, unsigned limit, store_item_cb *cb, void *arg);
	int (*items_mss_due)(struct store *s, int64_t t_ms, unsigned limit, store_item_cb *cb, void *arg);
	int (*deliveries_for_item)(struct store *s, const char *item_id, store_delivery_cb *cb, void *arg);
	int (*notifs_for)(struct store *s, const char *aor, unsigned limit, store_notif_cb *cb, void *arg);
	int (*notifs_created_before)(struct store *s, int64_t t_ms, unsigned limit, store_notif_cb *cb, void *arg);
	int (*regs_all)(struct store *s, store_reg_cb *cb, void *arg);
	int (*regs_page)(struct store *s, const char *after_aor, const char *after_instance, unsigned limit,
			 store_reg_cb *cb, void *arg);
	int (*next_pending_recipient)(struct store *s, const char *after, char *out, size_t cap);
	int (*recipient_usage)(struct store *s, const char *aor, struct store_usage *out);
	int (*routed_expiring_before)(struct store *s, int64_t t_ms, unsigned limit, store_routed_cb *cb, void *arg);
	int (*push_all)(struct store *s, unsigned limit, store_push_cb *cb, void *arg);
};

/* The handle every backend embeds first. */
struct store {
	const struct store_ops *ops;
	struct loop *loop;
	struct blob_dir *bd; /* store_open_dir's; NULL otherwise */
	bool own_bd;         /* store_close closes bd (a faulty wrapper borrows its inner's) */
	int lock_fd;         /* store_open_dir's lock on the data directory (0: none; closed last) */
	store_interrupt_fn *interrupt; /* store_set_interrupt: asked by long start-up work */
	void *interrupt_arg;
};

/* ---- the data directory (store_dir.c) ------------------------------------------------------ */
#define STORE_LOCK_NAME "cpmd.lock"
/* Takes an exclusive lock on DIR/cpmd.lock (a POSIX record lock, held until the process exits
 * or closes *fd) and writes our pid into it. 0 with *fd set; otherwise logs the reason — the
 * directory is used by another cpmd (with its pid), or the real errno and path — and -1. */
int store_dir_lock(const char *dir, int *fd);
/* DIR, its blob directories and the database files that exist are accessible to us. Logs the
 * first problem (path and errno) and returns -1. */
int store_dir_check(const char *dir);

/* ---- completion queue (store_cq.c): worker threads hand finished ops to the loop --------- */
/* An eventfd watched by the loop (loop_watch); post() may be called from any thread, the ops'
 * done callbacks run in the loop thread, in post order, and the ops are freed after. */
struct store_cq;
int store_cq_create(struct store_cq **out, struct loop *loop);
void store_cq_post(struct store_cq *cq, struct store_op *head, struct store_op *tail);
/* Runs whatever has been posted (loop thread; used by close to flush). */
void store_cq_run(struct store_cq *cq);
void store_cq_destroy(struct store_cq *cq);

#endif
