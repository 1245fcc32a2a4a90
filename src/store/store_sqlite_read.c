/* The reads of the SQLite backend: loop thread, read connection (query_only; WAL: a reader
 * never waits for the writer). Every one is an indexed lookup or a bounded index range scan. */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "store/store_sqlite_int.h"

const char *const sq_rsql[R_N] = {
	[R_ITEM] = "SELECT " ITEM_SEL " FROM item WHERE id=?",
	[R_THUMB] = "SELECT thumb_type, thumb FROM item WHERE id=?",
	[R_DLV] = "SELECT " DLV_COLS " FROM delivery WHERE item_id=? AND instance=?",
	[R_PART] = "SELECT " PART_COLS " FROM partial WHERE item_id=?",
	[R_PART_FIND] = "SELECT " PART_COLS " FROM partial WHERE sender=? AND fname=? AND fsize=? AND ftype=?"
			" AND hash=? ORDER BY expires_at DESC LIMIT 1",
	[R_NOTIF] = "SELECT " NOTIF_COLS " FROM notif WHERE id=?",
	[R_REG] = "SELECT " REG_COLS " FROM reg WHERE aor=? AND instance=?",
	[R_PREFS] = "SELECT " PREFS_COLS " FROM prefs WHERE aor=?",
	[R_ITEMS_RCPT] = "SELECT " ITEM_SEL " FROM item WHERE recipient=? AND state IN (1,2)"
			 " ORDER BY created_at LIMIT ?",
	[R_ITEMS_EXP] = "SELECT " ITEM_SEL " FROM item WHERE state IN (0,1,2) AND expires_at < ?"
			" ORDER BY expires_at LIMIT ?",
	[R_DLV_ITEM] = "SELECT " DLV_COLS " FROM delivery WHERE item_id=?",
	[R_NOTIFS_FOR] = "SELECT " NOTIF_COLS " FROM notif WHERE target=? ORDER BY created_at LIMIT ?",
	[R_NOTIFS_OLD] = "SELECT " NOTIF_COLS " FROM notif WHERE created_at < ? ORDER BY created_at LIMIT ?",
	[R_REGS_ALL] = "SELECT " REG_COLS " FROM reg",
	/* store_regs_page: a keyset page, one range of the primary key (aor, instance) (a row value
	 * compares as the key does: the index answers it, EXPLAIN QUERY PLAN shows the SEARCH) */
	[R_REGS_PAGE] = "SELECT " REG_COLS " FROM reg WHERE (aor, instance) > (?, ?) ORDER BY aor, instance LIMIT ?",
	/* start-up only (store_push_all): a sort of at most a few 100,000 rows, no index needed */
	[R_PUSH_ALL] = "SELECT " PUSH_COLS " FROM push ORDER BY updated_at DESC LIMIT ?",
	/* one seek in the partial index item_pending per recipient */
	[R_NEXT_RCPT] = "SELECT recipient FROM item WHERE recipient > ? AND state IN (1,2) ORDER BY recipient LIMIT 1",
	[R_BODY] = "SELECT body FROM item WHERE id=?",
	[R_ROUTED] = "SELECT " ROUTED_COLS " FROM routed WHERE sender=? AND msgid=? AND recipient=?",
	/* store_recipient_usage: what cpmd holds for one recipient (live items: receiving, stored,
	 * delivering), from the covering index item_usage alone. */
	[R_USAGE] = "SELECT COUNT(*), COALESCE(SUM(fsize), 0) FROM item WHERE recipient = ? AND state IN (0,1,2)",
	/* store_items_mss_due: the message store's queue, from the partial index item_mss */
	[R_ITEMS_MSS] = "SELECT " ITEM_SEL " FROM item WHERE state=8 AND mss_next_at <= ?"
			" ORDER BY mss_next_at LIMIT ?",
	[R_ROUTED_EXP] = "SELECT " ROUTED_COLS " FROM routed WHERE expires_at < ? ORDER BY expires_at LIMIT ?",
};

/* ---- reads (loop thread, read connection) ------------------------------------------------ */

/* Steps a bound single-row query: 0 (row available), -ENOENT, or an error. The caller reads
 * the row then calls done_read(). */
static int read_one(struct sq *q, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		log_error("store: %s: %s", sqlite3_sql(st), sqlite3_errmsg(q->rdb));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? -ENOENT : sq_rc_errno(rc);
}

/* Always reset: a statement left open holds a read snapshot that stops WAL checkpoints. */
static void done_read(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

int sq_item_get(struct store *s, const char *id, struct store_item *out)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_ITEM];
	int err;

	sq_bind_text(st, 1, id);
	if ((err = read_one(q, st)))
		return err;
	sq_row_item(st, out);
	done_read(st);
	return 0;
}

int sq_item_thumb_get(struct store *s, const char *id, struct store_thumb *out, uint8_t *buf, size_t cap)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_THUMB];
	size_t n;
	int err;

	sq_bind_text(st, 1, id);
	if ((err = read_one(q, st)))
		return err;
	n = (size_t)sqlite3_column_bytes(st, 1);
	memset(out, 0, sizeof *out);
	CT(st, 0, out->type);
	if (sqlite3_column_type(st, 1) == SQLITE_NULL)
		err = -ENOENT;
	else if (n > cap)
		err = -ENOSPC;
	else {
		if (n)
			memcpy(buf, sqlite3_column_blob(st, 1), n);
		out->data = buf;
		out->len = n;
	}
	done_read(st);
	return err;
}

int sq_item_body_get(struct store *s, const char *id, void *buf, size_t cap, size_t *len)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_BODY];
	size_t n;
	int err;

	sq_bind_text(st, 1, id);
	if ((err = read_one(q, st)))
		return err;
	n = (size_t)sqlite3_column_bytes(st, 0);
	if (sqlite3_column_type(st, 0) == SQLITE_NULL)
		err = -ENOENT;
	else if (n > cap)
		err = -ENOSPC;
	else {
		if (n)
			memcpy(buf, sqlite3_column_blob(st, 0), n);
		*len = n;
	}
	done_read(st);
	return err;
}

int sq_delivery_get(struct store *s, const char *item_id, const char *instance, struct store_delivery *out)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_DLV];
	int err;

	sq_bind_text(st, 1, item_id);
	sq_bind_text(st, 2, instance);
	if ((err = read_one(q, st)))
		return err;
	sq_row_dlv(st, out);
	done_read(st);
	return 0;
}

int sq_partial_get(struct store *s, const char *item_id, struct store_partial *out)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_PART];
	int err;

	sq_bind_text(st, 1, item_id);
	if ((err = read_one(q, st)))
		return err;
	sq_row_part(st, out);
	done_read(st);
	return 0;
}

int sq_partial_find(struct store *s, const char *sender, const struct store_selector *sel,
			   struct store_partial *out)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_PART_FIND];
	int err;

	sq_bind_text(st, 1, sender);
	sq_bind_text(st, 2, sel->name);
	sq_bind_int(st, 3, (int64_t)sel->size);
	sq_bind_text(st, 4, sel->type);
	sq_bind_hash(st, 5, sel);
	if ((err = read_one(q, st)))
		return err;
	sq_row_part(st, out);
	done_read(st);
	return 0;
}

int sq_notif_get(struct store *s, const char *id, struct store_notif *out)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_NOTIF];
	int err;

	sq_bind_text(st, 1, id);
	if ((err = read_one(q, st)))
		return err;
	sq_row_notif(st, out);
	done_read(st);
	return 0;
}

int sq_reg_get(struct store *s, const char *aor, const char *instance, struct store_reg *out)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_REG];
	int err;

	sq_bind_text(st, 1, aor);
	sq_bind_text(st, 2, instance);
	if ((err = read_one(q, st)))
		return err;
	sq_row_reg(st, out);
	done_read(st);
	return 0;
}

int sq_prefs_get(struct store *s, const char *aor, struct store_prefs *out)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_PREFS];
	int err;

	sq_bind_text(st, 1, aor);
	if ((err = read_one(q, st)))
		return err;
	sq_row_prefs(st, out);
	done_read(st);
	return 0;
}

int sq_routed_get(struct store *s, const char *sender, const char *msgid, const char *recipient,
		  struct store_routed *out)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_ROUTED];
	int err;

	sq_bind_text(st, 1, sender);
	sq_bind_text(st, 2, msgid);
	sq_bind_text(st, 3, recipient);
	if ((err = read_one(q, st)))
		return err;
	sq_row_routed(st, out);
	done_read(st);
	return 0;
}

/* Row-by-row scans. The row is decoded into a stack record and handed to the callback. */
enum row_kind { ROW_ITEM, ROW_DLV, ROW_NOTIF, ROW_REG, ROW_ROUTED, ROW_PUSH };

static int scan(struct sq *q, sqlite3_stmt *st, enum row_kind kind, void *cb, void *arg)
{
	union {
		struct store_item it;
		struct store_delivery d;
		struct store_notif n;
		struct store_reg r;
		struct store_routed ro;
		struct store_push p;
	} u;
	int rc, count = 0, stop = 0;

	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		count++;
		switch (kind) {
		case ROW_ITEM:
			sq_row_item(st, &u.it);
			stop = ((store_item_cb *)cb)(arg, &u.it);
			break;
		case ROW_DLV:
			sq_row_dlv(st, &u.d);
			stop = ((store_delivery_cb *)cb)(arg, &u.d);
			break;
		case ROW_NOTIF:
			sq_row_notif(st, &u.n);
			stop = ((store_notif_cb *)cb)(arg, &u.n);
			break;
		case ROW_REG:
			sq_row_reg(st, &u.r);
			stop = ((store_reg_cb *)cb)(arg, &u.r);
			break;
		case ROW_ROUTED:
			sq_row_routed(st, &u.ro);
			stop = ((store_routed_cb *)cb)(arg, &u.ro);
			break;
		case ROW_PUSH:
			sq_row_push(st, &u.p);
			stop = ((store_push_cb *)cb)(arg, &u.p);
			break;
		}
	}
	if (!stop && rc != SQLITE_DONE) {
		log_error("store: %s: %s", sqlite3_sql(st), sqlite3_errmsg(q->rdb));
		count = sq_rc_errno(rc);
	}
	done_read(st);
	return count;
}

int sq_items_for_recipient(struct store *s, const char *aor, unsigned limit, store_item_cb *cb, void *arg)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_ITEMS_RCPT];

	sq_bind_text(st, 1, aor);
	sq_bind_int(st, 2, limit);
	return scan(q, st, ROW_ITEM, (void *)cb, arg);
}

int sq_items_expiring_before(struct store *s, int64_t t_ms, unsigned limit, store_item_cb *cb, void *arg)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_ITEMS_EXP];

	sq_bind_int(st, 1, t_ms);
	sq_bind_int(st, 2, limit);
	return scan(q, st, ROW_ITEM, (void *)cb, arg);
}

int sq_items_mss_due(struct store *s, int64_t t_ms, unsigned limit, store_item_cb *cb, void *arg)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_ITEMS_MSS];

	sq_bind_int(st, 1, t_ms);
	sq_bind_int(st, 2, limit);
	return scan(q, st, ROW_ITEM, (void *)cb, arg);
}

int sq_deliveries_for_item(struct store *s, const char *item_id, store_delivery_cb *cb, void *arg)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_DLV_ITEM];

	sq_bind_text(st, 1, item_id);
	return scan(q, st, ROW_DLV, (void *)cb, arg);
}

int sq_notifs_created_before(struct store *s, int64_t t_ms, unsigned limit, store_notif_cb *cb, void *arg)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_NOTIFS_OLD];

	sq_bind_int(st, 1, t_ms);
	sq_bind_int(st, 2, limit);
	return scan(q, st, ROW_NOTIF, (void *)cb, arg);
}

int sq_notifs_for(struct store *s, const char *aor, unsigned limit, store_notif_cb *cb, void *arg)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_NOTIFS_FOR];

	sq_bind_text(st, 1, aor);
	sq_bind_int(st, 2, limit);
	return scan(q, st, ROW_NOTIF, (void *)cb, arg);
}

int sq_regs_all(struct store *s, store_reg_cb *cb, void *arg)
{
	struct sq *q = (struct sq *)s;

	return scan(q, q->r[R_REGS_ALL], ROW_REG, (void *)cb, arg);
}

int sq_regs_page(struct store *s, const char *after_aor, const char *after_instance, unsigned limit,
		 store_reg_cb *cb, void *arg)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_REGS_PAGE];

	/* copies (TRANSIENT): a walker may keep its key in the buffers it passed and move it on in
	 * its callback, while SQLite may read a bound value again at each row */
	sqlite3_bind_text(st, 1, after_aor, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, after_instance, -1, SQLITE_TRANSIENT);
	sq_bind_int(st, 3, limit);
	return scan(q, st, ROW_REG, (void *)cb, arg);
}

int sq_next_pending_recipient(struct store *s, const char *after, char *out, size_t cap)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_NEXT_RCPT];

	sq_bind_text(st, 1, after);
	int rc = read_one(q, st);
	if (rc == 0) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		if (!v || strlen(v) >= cap)
			rc = -EOVERFLOW;
		else
			strcpy(out, v);
	}
	done_read(st);
	return rc;
}

int sq_recipient_usage(struct store *s, const char *aor, struct store_usage *out)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_USAGE];

	sq_bind_text(st, 1, aor);
	int rc = read_one(q, st);
	if (rc == 0) {
		int64_t n = sq_col_int(st, 0), b = sq_col_int(st, 1);
		out->items = n > 0 ? (uint64_t)n : 0;
		out->bytes = b > 0 ? (uint64_t)b : 0;
	}
	done_read(st);
	return rc;
}

int sq_routed_expiring_before(struct store *s, int64_t t_ms, unsigned limit, store_routed_cb *cb, void *arg)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_ROUTED_EXP];

	sq_bind_int(st, 1, t_ms);
	sq_bind_int(st, 2, limit);
	return scan(q, st, ROW_ROUTED, (void *)cb, arg);
}

int sq_push_all(struct store *s, unsigned limit, store_push_cb *cb, void *arg)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_PUSH_ALL];

	sq_bind_int(st, 1, limit);
	return scan(q, st, ROW_PUSH, (void *)cb, arg);
}
