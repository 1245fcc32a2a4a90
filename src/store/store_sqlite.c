/* The embedded store backend: SQLite in WAL mode, one writer thread with group commit.
 *
 * Two connections, one per thread (SQLITE_OPEN_NOMUTEX: no connection is ever shared):
 * - the WRITE connection belongs to the worker thread. It takes everything queued (up to
 *   STORE_BATCH_MAX), runs BEGIN IMMEDIATE, applies it, COMMITs (synchronous=FULL: the commit's
 *   fsync of the WAL is the durability point), then posts the batch to the loop thread, whose
 *   done callbacks learn the result. One fsync pays for the whole batch: that is the group
 *   commit, and why 100k small writes take a second rather than minutes.
 * - the READ connection belongs to the loop thread (query_only). In WAL mode a reader never
 *   waits for the writer, and every read here is an indexed lookup or a bounded index range.
 *
 * A statement that fails for a reason other than "not found"/"exists" (I/O, disk full,
 * corruption) rolls back the whole batch and every write of it gets the error: a batch is
 * all or nothing, like the transaction it is. */
#include "store/store_backend.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define SCHEMA_VERSION 2
/* A writer that finds the database locked (another process, or a checkpoint) retries for this
 * long before failing the batch. */
#define BUSY_TIMEOUT_MS 5000

static const char schema_sql[] =
	"CREATE TABLE item("
	" id TEXT PRIMARY KEY, sender TEXT NOT NULL, recipient TEXT NOT NULL,"
	" fname TEXT NOT NULL, fsize INTEGER NOT NULL, ftype TEXT NOT NULL, hash BLOB NOT NULL,"
	" ft_id TEXT NOT NULL, conv_id TEXT NOT NULL, contrib_id TEXT NOT NULL, irt_contrib_id TEXT NOT NULL,"
	" disposition TEXT NOT NULL, file_date TEXT NOT NULL, created_at INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL, state INTEGER NOT NULL, bytes_received INTEGER NOT NULL,"
	" imdn_msgid TEXT NOT NULL, imdn_disp INTEGER NOT NULL, delivered_device TEXT NOT NULL,"
	" thumb_type TEXT NOT NULL, thumb BLOB);"
	/* items_for_recipient: pending items of one AOR in age order (partial index: only the rows
	 * that can still be delivered are in it, so 1M delivered items cost nothing here). */
	"CREATE INDEX item_pending ON item(recipient, created_at) WHERE state IN (1,2);"
	/* items_expiring_before: live items by expiry. */
	"CREATE INDEX item_expiry ON item(expires_at) WHERE state IN (0,1,2);"
	"CREATE TABLE delivery(item_id TEXT NOT NULL, instance TEXT NOT NULL, attempts INTEGER NOT NULL,"
	" next_attempt_at INTEGER NOT NULL, bytes_acked INTEGER NOT NULL, state INTEGER NOT NULL,"
	" PRIMARY KEY(item_id, instance));"
	"CREATE TABLE partial(item_id TEXT PRIMARY KEY, sender TEXT NOT NULL, fname TEXT NOT NULL,"
	" fsize INTEGER NOT NULL, ftype TEXT NOT NULL, hash BLOB NOT NULL, bytes INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL);"
	/* partial_find: sender + selector. */
	"CREATE INDEX partial_match ON partial(sender, fname, fsize, ftype, hash, expires_at);"
	"CREATE TABLE notif(id TEXT PRIMARY KEY, target TEXT NOT NULL, kind INTEGER NOT NULL,"
	" item_id TEXT NOT NULL, imdn_msgid TEXT NOT NULL, created_at INTEGER NOT NULL,"
	" attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL, notifier TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX notif_target ON notif(target, created_at);"
	"CREATE TABLE reg(aor TEXT NOT NULL, instance TEXT NOT NULL, contact TEXT NOT NULL,"
	" flow TEXT NOT NULL, tcp INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
	" PRIMARY KEY(aor, instance));"
	"CREATE TABLE prefs(aor TEXT PRIMARY KEY, defer INTEGER NOT NULL, method INTEGER NOT NULL,"
	" on_expiry INTEGER NOT NULL);";

#define ITEM_COLS \
	"id, sender, recipient, fname, fsize, ftype, hash, ft_id, conv_id, contrib_id, irt_contrib_id," \
	" disposition, file_date, created_at, expires_at, state, bytes_received, imdn_msgid, imdn_disp," \
	" delivered_device"
#define DLV_COLS "item_id, instance, attempts, next_attempt_at, bytes_acked, state"
#define PART_COLS "item_id, sender, fname, fsize, ftype, hash, bytes, expires_at"
#define NOTIF_COLS "id, target, kind, item_id, imdn_msgid, created_at, attempts, next_attempt_at, notifier"
#define REG_COLS "aor, instance, contact, flow, tcp, expires_at"

enum wstmt {
	W_BEGIN, W_COMMIT, W_ROLLBACK,
	W_ITEM_INS, W_ITEM_UPD, W_ITEM_DEL, W_ITEM_DEL_DLV, W_ITEM_DEL_PART,
	W_DLV_PUT, W_DLV_DEL, W_PART_PUT, W_PART_DEL, W_NOTIF_PUT, W_NOTIF_DEL,
	W_REG_PUT, W_REG_DEL, W_PREFS_PUT, W_PREFS_DEL,
	W_N
};

static const char *const wsql[W_N] = {
	[W_BEGIN] = "BEGIN IMMEDIATE",
	[W_COMMIT] = "COMMIT",
	[W_ROLLBACK] = "ROLLBACK",
	[W_ITEM_INS] = "INSERT INTO item(" ITEM_COLS ", thumb_type, thumb) VALUES"
		       "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO NOTHING",
	[W_ITEM_UPD] = "UPDATE item SET state=?2, bytes_received=?3, expires_at=?4, delivered_device=?5 WHERE id=?1",
	[W_ITEM_DEL] = "DELETE FROM item WHERE id=?",
	[W_ITEM_DEL_DLV] = "DELETE FROM delivery WHERE item_id=?",
	[W_ITEM_DEL_PART] = "DELETE FROM partial WHERE item_id=?",
	[W_DLV_PUT] = "INSERT OR REPLACE INTO delivery(" DLV_COLS ") VALUES(?,?,?,?,?,?)",
	[W_DLV_DEL] = "DELETE FROM delivery WHERE item_id=? AND instance=?",
	[W_PART_PUT] = "INSERT OR REPLACE INTO partial(" PART_COLS ") VALUES(?,?,?,?,?,?,?,?)",
	[W_PART_DEL] = "DELETE FROM partial WHERE item_id=?",
	[W_NOTIF_PUT] = "INSERT OR REPLACE INTO notif(" NOTIF_COLS ") VALUES(?,?,?,?,?,?,?,?,?)",
	[W_NOTIF_DEL] = "DELETE FROM notif WHERE id=?",
	[W_REG_PUT] = "INSERT OR REPLACE INTO reg(" REG_COLS ") VALUES(?,?,?,?,?,?)",
	[W_REG_DEL] = "DELETE FROM reg WHERE aor=? AND instance=?",
	[W_PREFS_PUT] = "INSERT OR REPLACE INTO prefs(aor, defer, method, on_expiry) VALUES(?,?,?,?)",
	[W_PREFS_DEL] = "DELETE FROM prefs WHERE aor=?",
};

enum rstmt {
	R_ITEM, R_THUMB, R_DLV, R_PART, R_PART_FIND, R_NOTIF, R_REG, R_PREFS,
	R_ITEMS_RCPT, R_ITEMS_EXP, R_DLV_ITEM, R_NOTIFS_FOR, R_NOTIFS_OLD, R_REGS_ALL,
	R_N
};

static const char *const rsql[R_N] = {
	[R_ITEM] = "SELECT " ITEM_COLS " FROM item WHERE id=?",
	[R_THUMB] = "SELECT thumb_type, thumb FROM item WHERE id=?",
	[R_DLV] = "SELECT " DLV_COLS " FROM delivery WHERE item_id=? AND instance=?",
	[R_PART] = "SELECT " PART_COLS " FROM partial WHERE item_id=?",
	[R_PART_FIND] = "SELECT " PART_COLS " FROM partial WHERE sender=? AND fname=? AND fsize=? AND ftype=?"
			" AND hash=? ORDER BY expires_at DESC LIMIT 1",
	[R_NOTIF] = "SELECT " NOTIF_COLS " FROM notif WHERE id=?",
	[R_REG] = "SELECT " REG_COLS " FROM reg WHERE aor=? AND instance=?",
	[R_PREFS] = "SELECT aor, defer, method, on_expiry FROM prefs WHERE aor=?",
	[R_ITEMS_RCPT] = "SELECT " ITEM_COLS " FROM item WHERE recipient=? AND state IN (1,2)"
			 " ORDER BY created_at LIMIT ?",
	[R_ITEMS_EXP] = "SELECT " ITEM_COLS " FROM item WHERE state IN (0,1,2) AND expires_at < ?"
			" ORDER BY expires_at LIMIT ?",
	[R_DLV_ITEM] = "SELECT " DLV_COLS " FROM delivery WHERE item_id=?",
	[R_NOTIFS_FOR] = "SELECT " NOTIF_COLS " FROM notif WHERE target=? ORDER BY created_at LIMIT ?",
	[R_NOTIFS_OLD] = "SELECT " NOTIF_COLS " FROM notif WHERE created_at < ? ORDER BY created_at LIMIT ?",
	[R_REGS_ALL] = "SELECT " REG_COLS " FROM reg",
};

struct sq {
	struct store base; /* first: a struct store * is a struct sq * */
	char *path;
	sqlite3 *wdb, *rdb;
	sqlite3_stmt *w[W_N], *r[R_N];
	struct store_cq *cq;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu: */
	struct store_op *qhead, *qtail;
	size_t qlen;
	bool stop;
	struct store_stats stats;
};

static int rc_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK: case SQLITE_DONE: case SQLITE_ROW: return 0;
	case SQLITE_NOMEM: return -ENOMEM;
	case SQLITE_FULL: return -ENOSPC;
	case SQLITE_BUSY: case SQLITE_LOCKED: return -EBUSY;
	case SQLITE_READONLY: case SQLITE_PERM: case SQLITE_AUTH: return -EACCES;
	case SQLITE_CANTOPEN: return -ENOENT;
	default: return -EIO;
	}
}

/* ---- binding and reading columns --------------------------------------------------------- */
static void bt(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static void bi(sqlite3_stmt *st, int i, int64_t v)
{
	sqlite3_bind_int64(st, i, v);
}

static void bhash(sqlite3_stmt *st, int i, const struct store_selector *sel)
{
	sqlite3_bind_blob(st, i, sel->sha1, sel->has_hash ? 20 : 0, SQLITE_STATIC);
}

static void ct(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	size_t n = s ? (size_t)sqlite3_column_bytes(st, i) : 0;

	if (n >= cap) /* cannot happen for rows we wrote; never overflow anyway */
		n = cap - 1;
	if (n)
		memcpy(dst, s, n);
	dst[n] = 0;
}

static int64_t ci(sqlite3_stmt *st, int i)
{
	return sqlite3_column_int64(st, i);
}

static void chash(sqlite3_stmt *st, int i, struct store_selector *sel)
{
	const void *h = sqlite3_column_blob(st, i);

	sel->has_hash = h && sqlite3_column_bytes(st, i) == 20;
	if (sel->has_hash)
		memcpy(sel->sha1, h, 20);
	else
		memset(sel->sha1, 0, 20);
}

#define CT(st, i, f) ct(st, i, f, sizeof(f))

static void row_item(sqlite3_stmt *st, struct store_item *it)
{
	memset(it, 0, sizeof *it);
	CT(st, 0, it->id);
	CT(st, 1, it->sender);
	CT(st, 2, it->recipient);
	CT(st, 3, it->sel.name);
	it->sel.size = (uint64_t)ci(st, 4);
	CT(st, 5, it->sel.type);
	chash(st, 6, &it->sel);
	CT(st, 7, it->ft_id);
	CT(st, 8, it->conv_id);
	CT(st, 9, it->contrib_id);
	CT(st, 10, it->irt_contrib_id);
	CT(st, 11, it->disposition);
	CT(st, 12, it->file_date);
	it->created_at_ms = ci(st, 13);
	it->expires_at_ms = ci(st, 14);
	it->state = (enum store_item_state)ci(st, 15);
	it->bytes_received = (uint64_t)ci(st, 16);
	CT(st, 17, it->imdn_msgid);
	it->imdn_disp = (unsigned)ci(st, 18);
	CT(st, 19, it->delivered_device);
}

static void row_dlv(sqlite3_stmt *st, struct store_delivery *d)
{
	memset(d, 0, sizeof *d);
	CT(st, 0, d->item_id);
	CT(st, 1, d->instance);
	d->attempts = (unsigned)ci(st, 2);
	d->next_attempt_at_ms = ci(st, 3);
	d->bytes_acked = (uint64_t)ci(st, 4);
	d->state = (enum store_delivery_state)ci(st, 5);
}

static void row_part(sqlite3_stmt *st, struct store_partial *p)
{
	memset(p, 0, sizeof *p);
	CT(st, 0, p->item_id);
	CT(st, 1, p->sender);
	CT(st, 2, p->sel.name);
	p->sel.size = (uint64_t)ci(st, 3);
	CT(st, 4, p->sel.type);
	chash(st, 5, &p->sel);
	p->bytes = (uint64_t)ci(st, 6);
	p->expires_at_ms = ci(st, 7);
}

static void row_notif(sqlite3_stmt *st, struct store_notif *n)
{
	memset(n, 0, sizeof *n);
	CT(st, 0, n->id);
	CT(st, 1, n->target);
	n->kind = (enum store_notif_kind)ci(st, 2);
	CT(st, 3, n->item_id);
	CT(st, 4, n->imdn_msgid);
	n->created_at_ms = ci(st, 5);
	n->attempts = (unsigned)ci(st, 6);
	n->next_attempt_at_ms = ci(st, 7);
	CT(st, 8, n->notifier);
}

static void row_reg(sqlite3_stmt *st, struct store_reg *r)
{
	memset(r, 0, sizeof *r);
	CT(st, 0, r->aor);
	CT(st, 1, r->instance);
	CT(st, 2, r->contact);
	CT(st, 3, r->flow);
	r->tcp = ci(st, 4) != 0;
	r->expires_at_ms = ci(st, 5);
}

/* ---- the worker: applying writes --------------------------------------------------------- */

/* Runs a bound write statement to completion. 0 or a negative errno (a hard failure). */
static int run(struct sq *q, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	int err = rc == SQLITE_DONE ? 0 : rc_errno(rc);

	if (err)
		log_error("store: %s: %s", sqlite3_sql(st), sqlite3_errmsg(q->wdb));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return err;
}

/* Applies one op. Returns a hard error (the batch must roll back); a soft result (-ENOENT,
 * -EEXIST) goes to op->err. */
static int apply(struct sq *q, struct store_op *op)
{
	sqlite3_stmt *st;
	int err;

	op->err = 0;
	switch (op->kind) {
	case STORE_OP_ITEM_PUT: {
		const struct store_item_rec *r = (const void *)op->rec;
		const struct store_item *it = &r->item;
		st = q->w[W_ITEM_INS];
		bt(st, 1, it->id);
		bt(st, 2, it->sender);
		bt(st, 3, it->recipient);
		bt(st, 4, it->sel.name);
		bi(st, 5, (int64_t)it->sel.size);
		bt(st, 6, it->sel.type);
		bhash(st, 7, &it->sel);
		bt(st, 8, it->ft_id);
		bt(st, 9, it->conv_id);
		bt(st, 10, it->contrib_id);
		bt(st, 11, it->irt_contrib_id);
		bt(st, 12, it->disposition);
		bt(st, 13, it->file_date);
		bi(st, 14, it->created_at_ms);
		bi(st, 15, it->expires_at_ms);
		bi(st, 16, it->state);
		bi(st, 17, (int64_t)it->bytes_received);
		bt(st, 18, it->imdn_msgid);
		bi(st, 19, it->imdn_disp);
		bt(st, 20, it->delivered_device);
		bt(st, 21, r->thumb_type);
		if (r->thumb_len)
			sqlite3_bind_blob(st, 22, r->thumb, (int)r->thumb_len, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 22);
		if ((err = run(q, st)))
			return err;
		if (!sqlite3_changes(q->wdb))
			op->err = -EEXIST;
		return 0;
	}
	case STORE_OP_ITEM_UPDATE: {
		const struct store_item *it = (const void *)op->rec;
		st = q->w[W_ITEM_UPD];
		bt(st, 1, it->id);
		bi(st, 2, it->state);
		bi(st, 3, (int64_t)it->bytes_received);
		bi(st, 4, it->expires_at_ms);
		bt(st, 5, it->delivered_device);
		break;
	}
	case STORE_OP_ITEM_DEL: {
		const struct store_key *k = (const void *)op->rec;
		int changes;
		bt(q->w[W_ITEM_DEL], 1, k->k1);
		if ((err = run(q, q->w[W_ITEM_DEL])))
			return err;
		changes = sqlite3_changes(q->wdb);
		bt(q->w[W_ITEM_DEL_DLV], 1, k->k1);
		if ((err = run(q, q->w[W_ITEM_DEL_DLV])))
			return err;
		bt(q->w[W_ITEM_DEL_PART], 1, k->k1);
		if ((err = run(q, q->w[W_ITEM_DEL_PART])))
			return err;
		if (!changes)
			op->err = -ENOENT;
		return 0;
	}
	case STORE_OP_DELIVERY_PUT: {
		const struct store_delivery *d = (const void *)op->rec;
		st = q->w[W_DLV_PUT];
		bt(st, 1, d->item_id);
		bt(st, 2, d->instance);
		bi(st, 3, d->attempts);
		bi(st, 4, d->next_attempt_at_ms);
		bi(st, 5, (int64_t)d->bytes_acked);
		bi(st, 6, d->state);
		return run(q, st);
	}
	case STORE_OP_PARTIAL_PUT: {
		const struct store_partial *p = (const void *)op->rec;
		st = q->w[W_PART_PUT];
		bt(st, 1, p->item_id);
		bt(st, 2, p->sender);
		bt(st, 3, p->sel.name);
		bi(st, 4, (int64_t)p->sel.size);
		bt(st, 5, p->sel.type);
		bhash(st, 6, &p->sel);
		bi(st, 7, (int64_t)p->bytes);
		bi(st, 8, p->expires_at_ms);
		return run(q, st);
	}
	case STORE_OP_NOTIF_PUT: {
		const struct store_notif *n = (const void *)op->rec;
		st = q->w[W_NOTIF_PUT];
		bt(st, 1, n->id);
		bt(st, 2, n->target);
		bi(st, 3, n->kind);
		bt(st, 4, n->item_id);
		bt(st, 5, n->imdn_msgid);
		bi(st, 6, n->created_at_ms);
		bi(st, 7, n->attempts);
		bi(st, 8, n->next_attempt_at_ms);
		bt(st, 9, n->notifier);
		return run(q, st);
	}
	case STORE_OP_REG_PUT: {
		const struct store_reg *r = (const void *)op->rec;
		st = q->w[W_REG_PUT];
		bt(st, 1, r->aor);
		bt(st, 2, r->instance);
		bt(st, 3, r->contact);
		bt(st, 4, r->flow);
		bi(st, 5, r->tcp);
		bi(st, 6, r->expires_at_ms);
		return run(q, st);
	}
	case STORE_OP_PREFS_PUT: {
		const struct store_prefs *p = (const void *)op->rec;
		st = q->w[W_PREFS_PUT];
		bt(st, 1, p->aor);
		bi(st, 2, p->defer);
		bi(st, 3, p->method);
		bi(st, 4, p->on_expiry);
		return run(q, st);
	}
	case STORE_OP_DELIVERY_DEL:
	case STORE_OP_REG_DEL: {
		const struct store_key *k = (const void *)op->rec;
		st = q->w[op->kind == STORE_OP_DELIVERY_DEL ? W_DLV_DEL : W_REG_DEL];
		bt(st, 1, k->k1);
		bt(st, 2, k->k2);
		break;
	}
	case STORE_OP_PARTIAL_DEL:
	case STORE_OP_NOTIF_DEL:
	case STORE_OP_PREFS_DEL: {
		const struct store_key *k = (const void *)op->rec;
		st = q->w[op->kind == STORE_OP_PARTIAL_DEL ? W_PART_DEL
			  : op->kind == STORE_OP_NOTIF_DEL ? W_NOTIF_DEL
							  : W_PREFS_DEL];
		bt(st, 1, k->k1);
		break;
	}
	case STORE_OP_SYNC:
		return 0;
	default:
		op->err = -EINVAL;
		return 0;
	}
	/* The statements that end here change exactly the keyed row, or nothing: -ENOENT. */
	if ((err = run(q, st)))
		return err;
	if (!sqlite3_changes(q->wdb))
		op->err = -ENOENT;
	return 0;
}

static void apply_batch(struct sq *q, struct store_op *head, size_t n)
{
	struct store_op *op;
	int err = run(q, q->w[W_BEGIN]);

	for (op = head; op && !err; op = op->next)
		err = apply(q, op);
	if (!err)
		err = run(q, q->w[W_COMMIT]);
	if (err) {
		/* Nothing of this batch is applied; every write in it learns why. */
		if (!sqlite3_get_autocommit(q->wdb))
			run(q, q->w[W_ROLLBACK]);
		for (op = head; op; op = op->next)
			op->err = err;
		log_error("store: a batch of %zu writes failed: %d", n, err);
	}
	pthread_mutex_lock(&q->mu);
	q->stats.transactions++;
	q->stats.writes += n;
	if (n > q->stats.max_batch)
		q->stats.max_batch = n;
	pthread_mutex_unlock(&q->mu);
}

static void *worker(void *arg)
{
	struct sq *q = arg;

	for (;;) {
		struct store_op *head, *tail;
		size_t n = 0;

		pthread_mutex_lock(&q->mu);
		while (!q->qhead && !q->stop)
			pthread_cond_wait(&q->cv, &q->mu);
		if (!q->qhead) { /* stop, and everything queued is done */
			pthread_mutex_unlock(&q->mu);
			break;
		}
		head = tail = q->qhead;
		for (n = 1; n < STORE_BATCH_MAX && tail->next; n++)
			tail = tail->next;
		q->qhead = tail->next;
		if (!q->qhead)
			q->qtail = NULL;
		q->qlen -= n;
		tail->next = NULL;
		pthread_mutex_unlock(&q->mu);

		apply_batch(q, head, n);
		store_cq_post(q->cq, head, tail);
	}
	return NULL;
}

static int sq_submit(struct store *s, struct store_op *op)
{
	struct sq *q = (struct sq *)s;
	int err = 0;

	op->next = NULL;
	pthread_mutex_lock(&q->mu);
	if (q->stop)
		err = -ESHUTDOWN;
	else if (q->qlen >= STORE_QUEUE_MAX)
		err = -EAGAIN;
	else {
		if (q->qtail)
			q->qtail->next = op;
		else
			q->qhead = op;
		q->qtail = op;
		q->qlen++;
		pthread_cond_signal(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	return err;
}

static void sq_stats(struct store *s, struct store_stats *out)
{
	struct sq *q = (struct sq *)s;

	pthread_mutex_lock(&q->mu);
	*out = q->stats;
	pthread_mutex_unlock(&q->mu);
}

static void sq_close(struct store *s)
{
	struct sq *q = (struct sq *)s;
	int i;

	if (q->thread_started) {
		pthread_mutex_lock(&q->mu);
		q->stop = true;
		pthread_cond_signal(&q->cv);
		pthread_mutex_unlock(&q->mu);
		pthread_join(q->thread, NULL); /* the worker commits everything queued first */
	}
	store_cq_destroy(q->cq); /* runs the done callbacks posted last */
	for (i = 0; i < W_N; i++)
		sqlite3_finalize(q->w[i]);
	for (i = 0; i < R_N; i++)
		sqlite3_finalize(q->r[i]);
	sqlite3_close(q->rdb);
	sqlite3_close(q->wdb);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q->path);
	free(q);
}

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
	return rc == SQLITE_DONE ? -ENOENT : rc_errno(rc);
}

/* Always reset: a statement left open holds a read snapshot that stops WAL checkpoints. */
static void done_read(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static int sq_item_get(struct store *s, const char *id, struct store_item *out)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_ITEM];
	int err;

	bt(st, 1, id);
	if ((err = read_one(q, st)))
		return err;
	row_item(st, out);
	done_read(st);
	return 0;
}

static int sq_item_thumb_get(struct store *s, const char *id, struct store_thumb *out, uint8_t *buf, size_t cap)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_THUMB];
	size_t n;
	int err;

	bt(st, 1, id);
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

static int sq_delivery_get(struct store *s, const char *item_id, const char *instance, struct store_delivery *out)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_DLV];
	int err;

	bt(st, 1, item_id);
	bt(st, 2, instance);
	if ((err = read_one(q, st)))
		return err;
	row_dlv(st, out);
	done_read(st);
	return 0;
}

static int sq_partial_get(struct store *s, const char *item_id, struct store_partial *out)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_PART];
	int err;

	bt(st, 1, item_id);
	if ((err = read_one(q, st)))
		return err;
	row_part(st, out);
	done_read(st);
	return 0;
}

static int sq_partial_find(struct store *s, const char *sender, const struct store_selector *sel,
			   struct store_partial *out)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_PART_FIND];
	int err;

	bt(st, 1, sender);
	bt(st, 2, sel->name);
	bi(st, 3, (int64_t)sel->size);
	bt(st, 4, sel->type);
	bhash(st, 5, sel);
	if ((err = read_one(q, st)))
		return err;
	row_part(st, out);
	done_read(st);
	return 0;
}

static int sq_notif_get(struct store *s, const char *id, struct store_notif *out)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_NOTIF];
	int err;

	bt(st, 1, id);
	if ((err = read_one(q, st)))
		return err;
	row_notif(st, out);
	done_read(st);
	return 0;
}

static int sq_reg_get(struct store *s, const char *aor, const char *instance, struct store_reg *out)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_REG];
	int err;

	bt(st, 1, aor);
	bt(st, 2, instance);
	if ((err = read_one(q, st)))
		return err;
	row_reg(st, out);
	done_read(st);
	return 0;
}

static int sq_prefs_get(struct store *s, const char *aor, struct store_prefs *out)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_PREFS];
	int err;

	bt(st, 1, aor);
	if ((err = read_one(q, st)))
		return err;
	memset(out, 0, sizeof *out);
	CT(st, 0, out->aor);
	out->defer = ci(st, 1) != 0;
	out->method = (enum store_method)ci(st, 2);
	out->on_expiry = (enum store_on_expiry)ci(st, 3);
	done_read(st);
	return 0;
}

/* Row-by-row scans. The row is decoded into a stack record and handed to the callback. */
enum row_kind { ROW_ITEM, ROW_DLV, ROW_NOTIF, ROW_REG };

static int scan(struct sq *q, sqlite3_stmt *st, enum row_kind kind, void *cb, void *arg)
{
	union {
		struct store_item it;
		struct store_delivery d;
		struct store_notif n;
		struct store_reg r;
	} u;
	int rc, count = 0, stop = 0;

	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		count++;
		switch (kind) {
		case ROW_ITEM:
			row_item(st, &u.it);
			stop = ((store_item_cb *)cb)(arg, &u.it);
			break;
		case ROW_DLV:
			row_dlv(st, &u.d);
			stop = ((store_delivery_cb *)cb)(arg, &u.d);
			break;
		case ROW_NOTIF:
			row_notif(st, &u.n);
			stop = ((store_notif_cb *)cb)(arg, &u.n);
			break;
		case ROW_REG:
			row_reg(st, &u.r);
			stop = ((store_reg_cb *)cb)(arg, &u.r);
			break;
		}
	}
	if (!stop && rc != SQLITE_DONE) {
		log_error("store: %s: %s", sqlite3_sql(st), sqlite3_errmsg(q->rdb));
		count = rc_errno(rc);
	}
	done_read(st);
	return count;
}

static int sq_items_for_recipient(struct store *s, const char *aor, unsigned limit, store_item_cb *cb, void *arg)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_ITEMS_RCPT];

	bt(st, 1, aor);
	bi(st, 2, limit);
	return scan(q, st, ROW_ITEM, (void *)cb, arg);
}

static int sq_items_expiring_before(struct store *s, int64_t t_ms, unsigned limit, store_item_cb *cb, void *arg)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_ITEMS_EXP];

	bi(st, 1, t_ms);
	bi(st, 2, limit);
	return scan(q, st, ROW_ITEM, (void *)cb, arg);
}

static int sq_deliveries_for_item(struct store *s, const char *item_id, store_delivery_cb *cb, void *arg)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_DLV_ITEM];

	bt(st, 1, item_id);
	return scan(q, st, ROW_DLV, (void *)cb, arg);
}

static int sq_notifs_created_before(struct store *s, int64_t t_ms, unsigned limit, store_notif_cb *cb, void *arg)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_NOTIFS_OLD];

	bi(st, 1, t_ms);
	bi(st, 2, limit);
	return scan(q, st, ROW_NOTIF, (void *)cb, arg);
}

static int sq_notifs_for(struct store *s, const char *aor, unsigned limit, store_notif_cb *cb, void *arg)
{
	struct sq *q = (struct sq *)s;
	sqlite3_stmt *st = q->r[R_NOTIFS_FOR];

	bt(st, 1, aor);
	bi(st, 2, limit);
	return scan(q, st, ROW_NOTIF, (void *)cb, arg);
}

static int sq_regs_all(struct store *s, store_reg_cb *cb, void *arg)
{
	struct sq *q = (struct sq *)s;

	return scan(q, q->r[R_REGS_ALL], ROW_REG, (void *)cb, arg);
}

static const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.submit = sq_submit,
	.close = sq_close,
	.stats = sq_stats,
	.item_get = sq_item_get,
	.item_thumb_get = sq_item_thumb_get,
	.delivery_get = sq_delivery_get,
	.partial_get = sq_partial_get,
	.partial_find = sq_partial_find,
	.notif_get = sq_notif_get,
	.reg_get = sq_reg_get,
	.prefs_get = sq_prefs_get,
	.items_for_recipient = sq_items_for_recipient,
	.items_expiring_before = sq_items_expiring_before,
	.deliveries_for_item = sq_deliveries_for_item,
	.notifs_for = sq_notifs_for,
	.notifs_created_before = sq_notifs_created_before,
	.regs_all = sq_regs_all,
};

/* ---- open -------------------------------------------------------------------------------- */
static int exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		log_error("store: %.60s...: %s", sql, msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return rc_errno(rc) ? rc_errno(rc) : -EIO;
	}
	return 0;
}

/* Creates the schema on a new database, checks its version on an existing one. */
static int schema(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int err, version = 0;

	if ((err = exec(db, "BEGIN IMMEDIATE;"
			    "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL);")))
		return err;
	if (sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &st, NULL) != SQLITE_OK) {
		err = -EIO;
		goto out;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version == 0) {
		if ((err = exec(db, schema_sql)) || (err = exec(db, "INSERT INTO schema_version VALUES(2)")))
			goto out;
		log_info("store: created schema version %d", SCHEMA_VERSION);
	} else if (version == 1) {
		/* 1 → 2: notifications name who notifies (the recipient). */
		if ((err = exec(db, "ALTER TABLE notif ADD COLUMN notifier TEXT NOT NULL DEFAULT '';"
				    "UPDATE schema_version SET version=2")))
			goto out;
		log_info("store: upgraded schema 1 -> 2");
	} else if (version != SCHEMA_VERSION) {
		log_error("store: database schema version %d, this cpmd knows %d", version, SCHEMA_VERSION);
		err = -EPROTO;
		goto out;
	}
	return exec(db, "COMMIT");
out:
	exec(db, "ROLLBACK");
	return err;
}

static int check_wal(sqlite3 *db)
{
	sqlite3_stmt *st;
	int err = -ENOTSUP;

	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW && !sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal"))
		err = 0;
	else
		log_error("store: the database could not be switched to WAL mode");
	sqlite3_finalize(st);
	return err;
}

static int open_db(const char *path, int flags, sqlite3 **out)
{
	int rc = sqlite3_open_v2(path, out, flags | SQLITE_OPEN_NOMUTEX, NULL);

	if (rc != SQLITE_OK) {
		log_error("store: open %s: %s", path, *out ? sqlite3_errmsg(*out) : sqlite3_errstr(rc));
		return rc_errno(rc) ? rc_errno(rc) : -EIO;
	}
	sqlite3_busy_timeout(*out, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(*out, 1);
	return 0;
}

int store_sqlite_open(struct store **out, struct loop *loop, const char *path)
{
	struct sq *q;
	int err, i;

	if (!out || !loop || !path || !*path)
		return -EINVAL;
	/* Two connections in two threads need a thread-safe library (any mode but 0). */
	if (!sqlite3_threadsafe())
		return -ENOTSUP;
	q = calloc(1, sizeof *q);
	if (!q)
		return -ENOMEM;
	q->base.ops = &sqlite_ops;
	q->base.loop = loop;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	if (!(q->path = strdup(path))) {
		err = -ENOMEM;
		goto fail;
	}
	if ((err = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &q->wdb)))
		goto fail;
	/* WAL: readers and the writer do not block each other. synchronous=FULL: COMMIT returns
	 * after the WAL is fsynced, so a done(0) means durable, even across power loss. */
	if ((err = exec(q->wdb, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;")))
		goto fail;
	/* journal_mode answers with the mode it got instead of failing (e.g. on a file system
	 * without shared memory): without WAL, reads on the loop would wait for commits. */
	if ((err = check_wal(q->wdb)))
		goto fail;
	if ((err = schema(q->wdb)))
		goto fail;
	/* notifs_created_before: notifications by age (added without a schema version: idempotent). */
	if ((err = exec(q->wdb, "CREATE INDEX IF NOT EXISTS notif_created ON notif(created_at);")))
		goto fail;
	if ((err = open_db(path, SQLITE_OPEN_READONLY, &q->rdb)))
		goto fail;
	for (i = 0; i < W_N; i++)
		if (sqlite3_prepare_v3(q->wdb, wsql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->w[i], NULL) != SQLITE_OK) {
			log_error("store: prepare %s: %s", wsql[i], sqlite3_errmsg(q->wdb));
			err = -EIO;
			goto fail;
		}
	for (i = 0; i < R_N; i++)
		if (sqlite3_prepare_v3(q->rdb, rsql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->r[i], NULL) != SQLITE_OK) {
			log_error("store: prepare %s: %s", rsql[i], sqlite3_errmsg(q->rdb));
			err = -EIO;
			goto fail;
		}
	if ((err = store_cq_create(&q->cq, loop)))
		goto fail;
	if ((err = -pthread_create(&q->thread, NULL, worker, q)))
		goto fail;
	q->thread_started = true;
	log_info("store: sqlite %s opened (WAL, synchronous=FULL)", path);
	*out = &q->base;
	return 0;
fail:
	sq_close(&q->base);
	return err;
}
