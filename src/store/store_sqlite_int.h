/* Private to the SQLite backend (store_sqlite*.c): the connection pair, the statements, and
 * the row codecs shared by the write path (store_sqlite.c) and the read path
 * (store_sqlite_read.c). See store_sqlite.c for the threading model. */
#ifndef CPM_STORE_SQLITE_INT_H
#define CPM_STORE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "store/store_backend.h"

#define ITEM_COLS \
	"id, sender, recipient, fname, fsize, ftype, hash, ft_id, conv_id, contrib_id, irt_contrib_id," \
	" disposition, file_date, created_at, expires_at, state, bytes_received, imdn_msgid, imdn_disp," \
	" delivered_device, kind, mss_obj, mss_owner, mss_outcome, mss_attempts, mss_next_at"
/* What the reads select of an item: its columns, and whether its body is inline. */
#define ITEM_SEL ITEM_COLS ", body IS NOT NULL"
#define DLV_COLS "item_id, instance, attempts, next_attempt_at, bytes_acked, state"
#define PART_COLS "item_id, sender, fname, fsize, ftype, hash, bytes, expires_at"
#define NOTIF_COLS "id, target, kind, item_id, imdn_msgid, created_at, attempts, next_attempt_at, notifier, datetime"
#define REG_COLS "aor, instance, contact, flow, tcp, expires_at"
#define PREFS_COLS "aor, defer, method, on_expiry, history, keep, screening, max_size"
#define ROUTED_COLS "sender, msgid, recipient, asked, sent, datetime, expires_at"
#define PUSH_COLS "aor, instance, provider, prid, param, updated_at"

enum wstmt {
	W_SYNC_SOFT, W_SYNC_FULL, W_BEGIN, W_COMMIT, W_ROLLBACK,
	W_ITEM_INS, W_ITEM_UPD, W_ITEM_DEL, W_ITEM_DEL_DLV, W_ITEM_DEL_PART,
	W_DLV_PUT, W_DLV_DEL, W_PART_PUT, W_PART_DEL, W_NOTIF_PUT, W_NOTIF_DEL,
	W_REG_PUT, W_REG_DEL, W_PREFS_PUT, W_PREFS_DEL,
	W_ROUTED_PUT, W_ROUTED_DEL, W_ROUTED_MARK, W_ROUTED_EXISTS, W_PUSH_PUT, W_PUSH_DEL,
	W_N
};

enum rstmt {
	R_ITEM, R_THUMB, R_DLV, R_PART, R_PART_FIND, R_NOTIF, R_REG, R_PREFS,
	R_ITEMS_RCPT, R_ITEMS_EXP, R_DLV_ITEM, R_NOTIFS_FOR, R_NOTIFS_OLD, R_REGS_ALL,
	R_BODY, R_ROUTED, R_ROUTED_EXP, R_NEXT_RCPT, R_USAGE, R_ITEMS_MSS, R_PUSH_ALL, R_REGS_PAGE,
	R_N
};

extern const char *const sq_rsql[R_N];

struct sq {
	struct store base; /* first: a struct store * is a struct sq * */
	char *path;
	sqlite3 *wdb, *rdb;
	sqlite3_stmt *w[W_N], *r[R_N];
	struct store_cq *cq;
	bool soft_sync;    /* writer thread: the connection is at synchronous=NORMAL now */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu: */
	struct store_op *qhead, *qtail;
	size_t qlen;
	size_t nhard;      /* queued writes that are not soft (registrations are soft) */
	bool stop;
	struct store_stats stats;
};

/* store_sqlite_rows.c: SQLite result codes as errno, binding and reading columns, rows as records */
int sq_rc_errno(int rc);
void sq_bind_text(sqlite3_stmt *st, int i, const char *s);
void sq_bind_int(sqlite3_stmt *st, int i, int64_t v);
void sq_bind_hash(sqlite3_stmt *st, int i, const struct store_selector *sel);
/* The five message-store columns of an item (ITEM_MSS_COLS order) at i..i+4. */
void sq_bind_mss(sqlite3_stmt *st, int i, const struct store_item *it);
void sq_col_text(sqlite3_stmt *st, int i, char *dst, size_t cap);
/* A text column into a fixed char array field (never cut: see sq_col_text). */
#define CT(st, i, f) sq_col_text(st, i, f, sizeof(f))
int64_t sq_col_int(sqlite3_stmt *st, int i);
void sq_col_hash(sqlite3_stmt *st, int i, struct store_selector *sel);
void sq_row_item(sqlite3_stmt *st, struct store_item *it);
void sq_row_dlv(sqlite3_stmt *st, struct store_delivery *d);
void sq_row_part(sqlite3_stmt *st, struct store_partial *p);
void sq_row_notif(sqlite3_stmt *st, struct store_notif *n);
void sq_row_reg(sqlite3_stmt *st, struct store_reg *r);
void sq_row_routed(sqlite3_stmt *st, struct store_routed *r);
void sq_row_prefs(sqlite3_stmt *st, struct store_prefs *out);
void sq_bind_push(sqlite3_stmt *st, const struct store_push *p); /* PUSH_COLS from 1 */
void sq_row_push(sqlite3_stmt *st, struct store_push *p);

/* store_sqlite_read.c: the reads (loop thread, read connection) of struct store_ops */
int sq_item_get(struct store *s, const char *id, struct store_item *out);
int sq_item_thumb_get(struct store *s, const char *id, struct store_thumb *out, uint8_t *buf, size_t cap);
int sq_item_body_get(struct store *s, const char *id, void *buf, size_t cap, size_t *len);
int sq_delivery_get(struct store *s, const char *item_id, const char *instance, struct store_delivery *out);
int sq_partial_get(struct store *s, const char *item_id, struct store_partial *out);
int sq_partial_find(struct store *s, const char *sender, const struct store_selector *sel, struct store_partial *out);
int sq_notif_get(struct store *s, const char *id, struct store_notif *out);
int sq_reg_get(struct store *s, const char *aor, const char *instance, struct store_reg *out);
int sq_prefs_get(struct store *s, const char *aor, struct store_prefs *out);
int sq_routed_get(struct store *s, const char *sender, const char *msgid, const char *recipient,
		  struct store_routed *out);
int sq_next_pending_recipient(struct store *s, const char *after, char *out, size_t cap);
int sq_recipient_usage(struct store *s, const char *aor, struct store_usage *out);
int sq_items_for_recipient(struct store *s, const char *aor, unsigned limit, store_item_cb *cb, void *arg);
int sq_items_expiring_before(struct store *s, int64_t t_ms, unsigned limit, store_item_cb *cb, void *arg);
int sq_items_mss_due(struct store *s, int64_t t_ms, unsigned limit, store_item_cb *cb, void *arg);
int sq_deliveries_for_item(struct store *s, const char *item_id, store_delivery_cb *cb, void *arg);
int sq_notifs_created_before(struct store *s, int64_t t_ms, unsigned limit, store_notif_cb *cb, void *arg);
int sq_notifs_for(struct store *s, const char *aor, unsigned limit, store_notif_cb *cb, void *arg);
int sq_regs_all(struct store *s, store_reg_cb *cb, void *arg);
int sq_regs_page(struct store *s, const char *after_aor, const char *after_instance, unsigned limit,
		 store_reg_cb *cb, void *arg);
int sq_routed_expiring_before(struct store *s, int64_t t_ms, unsigned limit, store_routed_cb *cb, void *arg);
int sq_push_all(struct store *s, unsigned limit, store_push_cb *cb, void *arg);

#endif
