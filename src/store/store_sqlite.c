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
#include "store/store_sqlite_int.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/metrics.h"

#define SCHEMA_VERSION 5
/* A writer that finds the database locked (another process, or a checkpoint) retries for this
 * long before failing the batch. */
#define BUSY_TIMEOUT_MS 5000
/* How long registrations alone may wait for more to join their batch (see worker()). */
#define SOFT_GATHER_MS 20

/* The routed messages (schema 3): the key is the lookup of a report; the expiry index serves
 * routed_expiring_before. */
#define ROUTED_SQL \
	"CREATE TABLE routed(sender TEXT NOT NULL, msgid TEXT NOT NULL, recipient TEXT NOT NULL," \
	" asked INTEGER NOT NULL, sent INTEGER NOT NULL, datetime TEXT NOT NULL, expires_at INTEGER NOT NULL," \
	" PRIMARY KEY(sender, msgid, recipient));" \
	"CREATE INDEX routed_expiry ON routed(expires_at);"

/* The message store's queue (schema 4, issue 11): an item in state 8 (STORE_ITEM_TO_MSS) waits
 * to be written to its owner's MSS; the partial index holds only those. */
#define ITEM_MSS_COLS \
	" mss_obj INTEGER NOT NULL DEFAULT 0, mss_owner TEXT NOT NULL DEFAULT ''," \
	" mss_outcome TEXT NOT NULL DEFAULT '', mss_attempts INTEGER NOT NULL DEFAULT 0," \
	" mss_next_at INTEGER NOT NULL DEFAULT 0"
/* The preferences of issue 11 (schema 4): histories, keeping files in the MSS, screening,
 * the user's size limit. */
#define PREFS_4_COLS \
	" history INTEGER NOT NULL DEFAULT 0, keep INTEGER NOT NULL DEFAULT 0," \
	" screening INTEGER NOT NULL DEFAULT 0, max_size INTEGER NOT NULL DEFAULT 0"
#define ITEM_MSS_INDEX "CREATE INDEX item_mss ON item(mss_next_at) WHERE state=8;"
/* The devices' push parameters (schema 5, issue 13: store_push.c). */
#define PUSH_SQL \
	"CREATE TABLE push(aor TEXT NOT NULL, instance TEXT NOT NULL, provider TEXT NOT NULL," \
	" prid TEXT NOT NULL, param TEXT NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY(aor, instance));"

static const char schema_sql[] =
	"CREATE TABLE item("
	" id TEXT PRIMARY KEY, sender TEXT NOT NULL, recipient TEXT NOT NULL,"
	" fname TEXT NOT NULL, fsize INTEGER NOT NULL, ftype TEXT NOT NULL, hash BLOB NOT NULL,"
	" ft_id TEXT NOT NULL, conv_id TEXT NOT NULL, contrib_id TEXT NOT NULL, irt_contrib_id TEXT NOT NULL,"
	" disposition TEXT NOT NULL, file_date TEXT NOT NULL, created_at INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL, state INTEGER NOT NULL, bytes_received INTEGER NOT NULL,"
	" imdn_msgid TEXT NOT NULL, imdn_disp INTEGER NOT NULL, delivered_device TEXT NOT NULL,"
	" thumb_type TEXT NOT NULL, thumb BLOB, kind INTEGER NOT NULL DEFAULT 0, body BLOB," ITEM_MSS_COLS ");"
	/* items_for_recipient: pending items of one AOR in age order (partial index: only the rows
	 * that can still be delivered are in it, so 1M delivered items cost nothing here). */
	"CREATE INDEX item_pending ON item(recipient, created_at) WHERE state IN (1,2);"
	/* items_expiring_before: live items by expiry. */
	"CREATE INDEX item_expiry ON item(expires_at) WHERE state IN (0,1,2);" ITEM_MSS_INDEX
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
	" attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL, notifier TEXT NOT NULL DEFAULT '',"
	" datetime TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX notif_target ON notif(target, created_at);"
	"CREATE TABLE reg(aor TEXT NOT NULL, instance TEXT NOT NULL, contact TEXT NOT NULL,"
	" flow TEXT NOT NULL, tcp INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
	" PRIMARY KEY(aor, instance));"
	"CREATE TABLE prefs(aor TEXT PRIMARY KEY, defer INTEGER NOT NULL, method INTEGER NOT NULL,"
	" on_expiry INTEGER NOT NULL," PREFS_4_COLS ");" ROUTED_SQL PUSH_SQL;

/* 2 → 3: items say what they hold (files, messages) and may keep a message's body; a
 * notification repeats the message's DateTime; the routed messages. Existing rows are files. */
static const char upgrade_2_3[] =
	"ALTER TABLE item ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE item ADD COLUMN body BLOB;"
	"ALTER TABLE notif ADD COLUMN datetime TEXT NOT NULL DEFAULT '';" ROUTED_SQL
	"UPDATE schema_version SET version=3;";

/* 3 → 4: the message store's queue (ITEM_MSS_COLS). */
static const char upgrade_3_4[] =
	"ALTER TABLE item ADD COLUMN mss_obj INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE item ADD COLUMN mss_owner TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE item ADD COLUMN mss_outcome TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE item ADD COLUMN mss_attempts INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE item ADD COLUMN mss_next_at INTEGER NOT NULL DEFAULT 0;" ITEM_MSS_INDEX
	"ALTER TABLE prefs ADD COLUMN history INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE prefs ADD COLUMN keep INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE prefs ADD COLUMN screening INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE prefs ADD COLUMN max_size INTEGER NOT NULL DEFAULT 0;"
	"UPDATE schema_version SET version=4;";

/* 4 → 5: the devices' push parameters (PUSH_SQL); none were kept before. */
static const char upgrade_4_5[] = PUSH_SQL "UPDATE schema_version SET version=5;";

static const char *const wsql[W_N] = {
	[W_SYNC_SOFT] = "PRAGMA synchronous=NORMAL",
	[W_SYNC_FULL] = "PRAGMA synchronous=FULL",
	[W_BEGIN] = "BEGIN IMMEDIATE",
	[W_COMMIT] = "COMMIT",
	[W_ROLLBACK] = "ROLLBACK",
	[W_ITEM_INS] = "INSERT INTO item(" ITEM_COLS ", thumb_type, thumb, body) VALUES"
		       "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO NOTHING",
	[W_ITEM_UPD] = "UPDATE item SET state=?2, bytes_received=?3, expires_at=?4, delivered_device=?5,"
		       " mss_obj=?6, mss_owner=?7, mss_outcome=?8, mss_attempts=?9, mss_next_at=?10 WHERE id=?1",
	[W_ITEM_DEL] = "DELETE FROM item WHERE id=?",
	[W_ITEM_DEL_DLV] = "DELETE FROM delivery WHERE item_id=?",
	[W_ITEM_DEL_PART] = "DELETE FROM partial WHERE item_id=?",
	[W_DLV_PUT] = "INSERT OR REPLACE INTO delivery(" DLV_COLS ") VALUES(?,?,?,?,?,?)",
	[W_DLV_DEL] = "DELETE FROM delivery WHERE item_id=? AND instance=?",
	[W_PART_PUT] = "INSERT OR REPLACE INTO partial(" PART_COLS ") VALUES(?,?,?,?,?,?,?,?)",
	[W_PART_DEL] = "DELETE FROM partial WHERE item_id=?",
	[W_NOTIF_PUT] = "INSERT OR REPLACE INTO notif(" NOTIF_COLS ") VALUES(?,?,?,?,?,?,?,?,?,?)",
	[W_NOTIF_DEL] = "DELETE FROM notif WHERE id=?",
	[W_REG_PUT] = "INSERT OR REPLACE INTO reg(" REG_COLS ") VALUES(?,?,?,?,?,?)",
	[W_REG_DEL] = "DELETE FROM reg WHERE aor=? AND instance=?",
	[W_PREFS_PUT] = "INSERT OR REPLACE INTO prefs(aor, defer, method, on_expiry, history, keep, screening,"
			" max_size) VALUES(?,?,?,?,?,?,?,?)",
	[W_PREFS_DEL] = "DELETE FROM prefs WHERE aor=?",
	[W_ROUTED_PUT] = "INSERT INTO routed(" ROUTED_COLS ") VALUES(?,?,?,?,0,?,?)"
			 " ON CONFLICT(sender, msgid, recipient) DO UPDATE SET asked = asked | excluded.asked,"
			 " expires_at = max(expires_at, excluded.expires_at)",
	[W_ROUTED_DEL] = "DELETE FROM routed WHERE sender=? AND msgid=? AND recipient=?",
	[W_ROUTED_MARK] = ("UPDATE routed SET sent = sent | ?4"
			   " WHERE sender=?1 AND msgid=?2 AND recipient=?3 AND (sent & ?4) = 0"),
	[W_ROUTED_EXISTS] = "SELECT 1 FROM routed WHERE sender=? AND msgid=? AND recipient=?",
	[W_PUSH_PUT] = "INSERT OR REPLACE INTO push(" PUSH_COLS ") VALUES(?,?,?,?,?,?)",
	[W_PUSH_DEL] = "DELETE FROM push WHERE aor=? AND instance=?",
};

static int run(struct sq *q, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	int err = rc == SQLITE_DONE ? 0 : sq_rc_errno(rc);

	if (err)
		log_error("store: %s: %s", sqlite3_sql(st), sqlite3_errmsg(q->wdb));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return err;
}

static int notif_put(struct sq *q, const struct store_notif *n)
{
	sqlite3_stmt *st = q->w[W_NOTIF_PUT];

	sq_bind_text(st, 1, n->id);
	sq_bind_text(st, 2, n->target);
	sq_bind_int(st, 3, n->kind);
	sq_bind_text(st, 4, n->item_id);
	sq_bind_text(st, 5, n->imdn_msgid);
	sq_bind_int(st, 6, n->created_at_ms);
	sq_bind_int(st, 7, n->attempts);
	sq_bind_int(st, 8, n->next_attempt_at_ms);
	sq_bind_text(st, 9, n->notifier);
	sq_bind_text(st, 10, n->datetime);
	return run(q, st);
}

static void bind_routed_key(sqlite3_stmt *st, const struct store_routed *r)
{
	sq_bind_text(st, 1, r->sender);
	sq_bind_text(st, 2, r->msgid);
	sq_bind_text(st, 3, r->recipient);
}

/* The report rule (store_routed_report): the bit is set only if it was not, and the
 * notification is inserted only then, in this same transaction. Otherwise nothing changes and
 * op->err says why: -EALREADY (the bit was set) or -ENOENT (no such row). */
static int routed_report(struct sq *q, struct store_op *op)
{
	const struct store_routed_rec *r = (const void *)op->rec;
	sqlite3_stmt *st = q->w[W_ROUTED_MARK];
	int err, rc;

	bind_routed_key(st, &r->r);
	sq_bind_int(st, 4, r->bit);
	if ((err = run(q, st)))
		return err;
	if (sqlite3_changes(q->wdb))
		return r->has_notif ? notif_put(q, &r->n) : 0;
	st = q->w[W_ROUTED_EXISTS];
	bind_routed_key(st, &r->r);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_error("store: %s: %s", sqlite3_sql(st), sqlite3_errmsg(q->wdb));
		return sq_rc_errno(rc) ? sq_rc_errno(rc) : -EIO;
	}
	op->err = rc == SQLITE_ROW ? -EALREADY : -ENOENT;
	return 0;
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
		sq_bind_text(st, 1, it->id);
		sq_bind_text(st, 2, it->sender);
		sq_bind_text(st, 3, it->recipient);
		sq_bind_text(st, 4, it->sel.name);
		sq_bind_int(st, 5, (int64_t)it->sel.size);
		sq_bind_text(st, 6, it->sel.type);
		sq_bind_hash(st, 7, &it->sel);
		sq_bind_text(st, 8, it->ft_id);
		sq_bind_text(st, 9, it->conv_id);
		sq_bind_text(st, 10, it->contrib_id);
		sq_bind_text(st, 11, it->irt_contrib_id);
		sq_bind_text(st, 12, it->disposition);
		sq_bind_text(st, 13, it->file_date);
		sq_bind_int(st, 14, it->created_at_ms);
		sq_bind_int(st, 15, it->expires_at_ms);
		sq_bind_int(st, 16, it->state);
		sq_bind_int(st, 17, (int64_t)it->bytes_received);
		sq_bind_text(st, 18, it->imdn_msgid);
		sq_bind_int(st, 19, it->imdn_disp);
		sq_bind_text(st, 20, it->delivered_device);
		sq_bind_int(st, 21, it->kind);
		sq_bind_mss(st, 22, it);
		sq_bind_text(st, 27, r->thumb_type);
		if (r->thumb_len)
			sqlite3_bind_blob(st, 28, r->bytes, (int)r->thumb_len, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 28);
		if (r->has_body)
			sqlite3_bind_blob(st, 29, r->bytes + r->thumb_len, (int)r->body_len, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 29);
		if ((err = run(q, st)))
			return err;
		if (!sqlite3_changes(q->wdb))
			op->err = -EEXIST;
		return 0;
	}
	case STORE_OP_ITEM_UPDATE: {
		const struct store_item *it = (const void *)op->rec;
		st = q->w[W_ITEM_UPD];
		sq_bind_text(st, 1, it->id);
		sq_bind_int(st, 2, it->state);
		sq_bind_int(st, 3, (int64_t)it->bytes_received);
		sq_bind_int(st, 4, it->expires_at_ms);
		sq_bind_text(st, 5, it->delivered_device);
		sq_bind_mss(st, 6, it);
		break;
	}
	case STORE_OP_ITEM_DEL: {
		const struct store_key *k = (const void *)op->rec;
		int changes;
		sq_bind_text(q->w[W_ITEM_DEL], 1, k->k1);
		if ((err = run(q, q->w[W_ITEM_DEL])))
			return err;
		changes = sqlite3_changes(q->wdb);
		sq_bind_text(q->w[W_ITEM_DEL_DLV], 1, k->k1);
		if ((err = run(q, q->w[W_ITEM_DEL_DLV])))
			return err;
		sq_bind_text(q->w[W_ITEM_DEL_PART], 1, k->k1);
		if ((err = run(q, q->w[W_ITEM_DEL_PART])))
			return err;
		if (!changes)
			op->err = -ENOENT;
		return 0;
	}
	case STORE_OP_DELIVERY_PUT: {
		const struct store_delivery *d = (const void *)op->rec;
		st = q->w[W_DLV_PUT];
		sq_bind_text(st, 1, d->item_id);
		sq_bind_text(st, 2, d->instance);
		sq_bind_int(st, 3, d->attempts);
		sq_bind_int(st, 4, d->next_attempt_at_ms);
		sq_bind_int(st, 5, (int64_t)d->bytes_acked);
		sq_bind_int(st, 6, d->state);
		return run(q, st);
	}
	case STORE_OP_PARTIAL_PUT: {
		const struct store_partial *p = (const void *)op->rec;
		st = q->w[W_PART_PUT];
		sq_bind_text(st, 1, p->item_id);
		sq_bind_text(st, 2, p->sender);
		sq_bind_text(st, 3, p->sel.name);
		sq_bind_int(st, 4, (int64_t)p->sel.size);
		sq_bind_text(st, 5, p->sel.type);
		sq_bind_hash(st, 6, &p->sel);
		sq_bind_int(st, 7, (int64_t)p->bytes);
		sq_bind_int(st, 8, p->expires_at_ms);
		return run(q, st);
	}
	case STORE_OP_NOTIF_PUT:
		return notif_put(q, (const void *)op->rec);
	case STORE_OP_ROUTED_PUT: {
		const struct store_routed *r = (const void *)op->rec;
		st = q->w[W_ROUTED_PUT];
		sq_bind_text(st, 1, r->sender);
		sq_bind_text(st, 2, r->msgid);
		sq_bind_text(st, 3, r->recipient);
		sq_bind_int(st, 4, r->asked);
		sq_bind_text(st, 5, r->datetime);
		sq_bind_int(st, 6, r->expires_at_ms);
		return run(q, st);
	}
	case STORE_OP_ROUTED_DEL: {
		const struct store_routed_rec *r = (const void *)op->rec;
		st = q->w[W_ROUTED_DEL];
		bind_routed_key(st, &r->r);
		break;
	}
	case STORE_OP_ROUTED_REPORT:
		return routed_report(q, op);
	case STORE_OP_REG_PUT: {
		const struct store_reg *r = (const void *)op->rec;
		st = q->w[W_REG_PUT];
		sq_bind_text(st, 1, r->aor);
		sq_bind_text(st, 2, r->instance);
		sq_bind_text(st, 3, r->contact);
		sq_bind_text(st, 4, r->flow);
		sq_bind_int(st, 5, r->tcp);
		sq_bind_int(st, 6, r->expires_at_ms);
		return run(q, st);
	}
	case STORE_OP_PREFS_PUT: {
		const struct store_prefs *p = (const void *)op->rec;
		st = q->w[W_PREFS_PUT];
		sq_bind_text(st, 1, p->aor);
		sq_bind_int(st, 2, p->defer);
		sq_bind_int(st, 3, p->method);
		sq_bind_int(st, 4, p->on_expiry);
		sq_bind_int(st, 5, p->history);
		sq_bind_int(st, 6, p->keep);
		sq_bind_int(st, 7, p->screening);
		sq_bind_int(st, 8, (int64_t)p->max_size);
		return run(q, st);
	}
	case STORE_OP_PUSH_PUT:
		sq_bind_push(st = q->w[W_PUSH_PUT], (const void *)op->rec);
		return run(q, st);
	case STORE_OP_DELIVERY_DEL:
	case STORE_OP_REG_DEL:
	case STORE_OP_PUSH_DEL: {
		const struct store_key *k = (const void *)op->rec;
		st = q->w[op->kind == STORE_OP_DELIVERY_DEL ? W_DLV_DEL
			  : op->kind == STORE_OP_REG_DEL    ? W_REG_DEL
							    : W_PUSH_DEL];
		sq_bind_text(st, 1, k->k1);
		sq_bind_text(st, 2, k->k2);
		break;
	}
	case STORE_OP_PARTIAL_DEL:
	case STORE_OP_NOTIF_DEL:
	case STORE_OP_PREFS_DEL: {
		const struct store_key *k = (const void *)op->rec;
		st = q->w[op->kind == STORE_OP_PARTIAL_DEL ? W_PART_DEL
			  : op->kind == STORE_OP_NOTIF_DEL ? W_NOTIF_DEL
							  : W_PREFS_DEL];
		sq_bind_text(st, 1, k->k1);
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

/* Registrations are soft state (store.h): a batch of nothing else commits without the fsync
 * (WAL, synchronous=NORMAL: the commit is in the page cache, so a crash of cpmd loses
 * nothing; a power loss may lose the last binding changes, which devices and the core
 * re-create with their next REGISTER). Any other write makes the batch FULL, and its fsync
 * makes every earlier WAL frame durable too. At thousands of REGISTERs a second this is most
 * of the store's cost (docs/BENCHMARKS.md, issue 9). */
static bool op_is_soft(const struct store_op *op)
{
	return op->kind == STORE_OP_REG_PUT || op->kind == STORE_OP_REG_DEL;
}

static bool batch_is_soft(const struct store_op *op)
{
	for (; op; op = op->next)
		if (op->kind != STORE_OP_REG_PUT && op->kind != STORE_OP_REG_DEL)
			return false;
	return true;
}

static void apply_batch(struct sq *q, struct store_op *head, size_t n)
{
	struct store_op *op;
	bool soft = batch_is_soft(head);
	if (soft != q->soft_sync && run(q, q->w[soft ? W_SYNC_SOFT : W_SYNC_FULL]) == 0)
		q->soft_sync = soft;
	if (q->soft_sync && !soft) {
		/* could not go back to FULL: refuse rather than commit a file without its fsync */
		for (op = head; op; op = op->next)
			op->err = -EIO;
		log_error("store: cannot set synchronous=FULL: a batch of %zu writes refused", n);
		return;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
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
		metrics_error(ME_STORE_WRITE);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_store_commit((uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));
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
		/* Only registrations queued (soft state, no fsync): let them gather for a moment.
		 * One transaction writes each touched page once, so a few big batches cost far less
		 * WAL and checkpoint I/O than many small ones (thousands of REGISTERs a second);
		 * any other write ends the wait at once. */
		if (q->nhard == 0) {
			struct timespec dl;
			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_nsec += SOFT_GATHER_MS * 1000000L;
			if (dl.tv_nsec >= 1000000000L) {
				dl.tv_sec++;
				dl.tv_nsec -= 1000000000L;
			}
			while (q->nhard == 0 && !q->stop && q->qlen < STORE_BATCH_MAX &&
			       pthread_cond_timedwait(&q->cv, &q->mu, &dl) == 0)
				;
		}
		head = tail = q->qhead;
		q->nhard -= !op_is_soft(tail);
		for (n = 1; n < STORE_BATCH_MAX && tail->next; n++) {
			tail = tail->next;
			q->nhard -= !op_is_soft(tail);
		}
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
		q->nhard += !op_is_soft(op);
		/* a registration joining a gathering batch needs no wake-up (worker()) */
		if (q->qlen == 1 || !op_is_soft(op) || q->qlen >= STORE_BATCH_MAX)
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

static const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.submit = sq_submit,
	.close = sq_close,
	.stats = sq_stats,
	.item_get = sq_item_get,
	.item_thumb_get = sq_item_thumb_get,
	.item_body_get = sq_item_body_get,
	.delivery_get = sq_delivery_get,
	.partial_get = sq_partial_get,
	.partial_find = sq_partial_find,
	.notif_get = sq_notif_get,
	.reg_get = sq_reg_get,
	.prefs_get = sq_prefs_get,
	.routed_get = sq_routed_get,
	.items_for_recipient = sq_items_for_recipient,
	.next_pending_recipient = sq_next_pending_recipient,
	.recipient_usage = sq_recipient_usage,
	.items_expiring_before = sq_items_expiring_before,
	.items_mss_due = sq_items_mss_due,
	.deliveries_for_item = sq_deliveries_for_item,
	.notifs_for = sq_notifs_for,
	.notifs_created_before = sq_notifs_created_before,
	.regs_all = sq_regs_all,
	.regs_page = sq_regs_page,
	.routed_expiring_before = sq_routed_expiring_before,
	.push_all = sq_push_all,
};

/* ---- open -------------------------------------------------------------------------------- */
static int exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		log_error("store: %.60s...: %s", sql, msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return sq_rc_errno(rc) ? sq_rc_errno(rc) : -EIO;
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
		if ((err = exec(db, schema_sql)) || (err = exec(db, "INSERT INTO schema_version VALUES(5)")))
			goto out;
		log_info("store: created schema version %d", SCHEMA_VERSION);
	} else if (version < 1 || version > SCHEMA_VERSION) {
		log_error("store: database schema version %d, this cpmd knows %d", version, SCHEMA_VERSION);
		err = -EPROTO;
		goto out;
	}
	/* Upgrades, one version at a time, in the same transaction as the check. */
	if (version == 1) {
		/* 1 → 2: notifications name who notifies (the recipient). */
		if ((err = exec(db, "ALTER TABLE notif ADD COLUMN notifier TEXT NOT NULL DEFAULT '';"
				    "UPDATE schema_version SET version=2")))
			goto out;
		log_info("store: upgraded schema 1 -> 2");
		version = 2;
	}
	if (version == 2) {
		if ((err = exec(db, upgrade_2_3)))
			goto out;
		log_info("store: upgraded schema 2 -> 3");
		version = 3;
	}
	if (version == 3) {
		if ((err = exec(db, upgrade_3_4)))
			goto out;
		log_info("store: upgraded schema 3 -> 4");
		version = 4;
	}
	if (version == 4) {
		if ((err = exec(db, upgrade_4_5)))
			goto out;
		log_info("store: upgraded schema 4 -> 5");
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
		return sq_rc_errno(rc) ? sq_rc_errno(rc) : -EIO;
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
	/* recipient_usage (the quotas, issue 10): a covering partial index, so the sum reads only
	 * the recipient's live entries, never the rows (idempotent, like notif_created). */
	if ((err = exec(q->wdb, "CREATE INDEX IF NOT EXISTS item_usage ON item(recipient, fsize) WHERE state IN (0,1,2);")))
		goto fail;
	/* the admin API's keyset pages of the deferred queue by recipient or sender (store_reader.h):
	 * one index seek per page, whatever the size of the queue (idempotent, like the above) */
	if ((err = exec(q->wdb, "CREATE INDEX IF NOT EXISTS item_admin_rcpt ON item(recipient, id);"
				"CREATE INDEX IF NOT EXISTS item_admin_sender ON item(sender, id);")))
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
		if (sqlite3_prepare_v3(q->rdb, sq_rsql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->r[i], NULL) != SQLITE_OK) {
			log_error("store: prepare %s: %s", sq_rsql[i], sqlite3_errmsg(q->rdb));
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
