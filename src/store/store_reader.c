/* store_reader.h over SQLite: its own read-only connection, statements prepared per call (a
 * listing is not hot; its cost is the index seek), rows decoded by the backend's row codecs
 * (store_sqlite_rows.c), so there is one decoder per table. */
#include "store/store_reader.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/store_sqlite_int.h"

struct store_reader {
	sqlite3 *db;
};

int store_reader_open(struct store_reader **out, const char *data_dir)
{
	char path[4096];
	if (snprintf(path, sizeof path, "%s/cpmd.db", data_dir) >= (int)sizeof path)
		return -ENAMETOOLONG;
	struct store_reader *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	int rc = sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("store reader: open %s: %s", path, r->db ? sqlite3_errmsg(r->db) : sqlite3_errstr(rc));
		sqlite3_close(r->db);
		free(r);
		return -EIO;
	}
	sqlite3_busy_timeout(r->db, 1000);
	*out = r;
	return 0;
}

void store_reader_close(struct store_reader *r)
{
	if (!r)
		return;
	sqlite3_close(r->db);
	free(r);
}

static sqlite3_stmt *prepare(struct store_reader *r, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_error("store reader: %.80s: %s", sql, sqlite3_errmsg(r->db));
		return NULL;
	}
	return st;
}

/* Steps every row through row(st, arg); the number of rows, or -errno. Finalizes st. */
static int each_row(struct store_reader *r, sqlite3_stmt *st, int (*row)(sqlite3_stmt *st, void *arg), void *arg)
{
	int n = 0, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		n++;
		if (row(st, arg))
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_error("store reader: %s", sqlite3_errmsg(r->db));
		n = sq_rc_errno(rc) ? sq_rc_errno(rc) : -EIO;
	}
	sqlite3_finalize(st);
	return n;
}

struct item_cb {
	store_item_cb *cb;
	void *arg;
};

static int item_row(sqlite3_stmt *st, void *arg)
{
	struct item_cb *c = arg;
	struct store_item it;
	sq_row_item(st, &it);
	return c->cb(c->arg, &it);
}

int store_reader_items(struct store_reader *r, const struct store_item_filter *f, store_item_cb *cb, void *arg)
{
	if (f->limit < 1 || f->limit > STORE_READER_PAGE_MAX)
		return -EINVAL;
	/* Only fixed SQL text is assembled; every value is bound. */
	char sql[512];
	snprintf(sql, sizeof sql, "SELECT " ITEM_SEL " FROM item WHERE id > ?1%s%s%s%s ORDER BY %s LIMIT ?6",
		 f->recipient ? " AND recipient = ?2" : "", f->sender ? " AND sender = ?3" : "",
		 f->kind >= 0 ? " AND kind = ?4" : "", f->state >= 0 ? " AND state = ?5" : "",
		 /* the order of the index that holds the filter, so the page is one range of it */
		 f->recipient ? "recipient, id" : f->sender ? "sender, id" : "id");
	sqlite3_stmt *st = prepare(r, sql);
	if (!st)
		return -EIO;
	sq_bind_text(st, 1, f->after ? f->after : "");
	if (f->recipient)
		sq_bind_text(st, 2, f->recipient);
	if (f->sender)
		sq_bind_text(st, 3, f->sender);
	if (f->kind >= 0)
		sq_bind_int(st, 4, f->kind);
	if (f->state >= 0)
		sq_bind_int(st, 5, f->state);
	sq_bind_int(st, 6, f->limit);
	struct item_cb c = {cb, arg};
	return each_row(r, st, item_row, &c);
}

static int one_item(void *arg, const struct store_item *it)
{
	*(struct store_item *)arg = *it;
	return 1;
}

int store_reader_item(struct store_reader *r, const char *id, struct store_item *out)
{
	if (!store_id_valid(id))
		return -ENOENT;
	sqlite3_stmt *st = prepare(r, "SELECT " ITEM_SEL " FROM item WHERE id = ?1");
	if (!st)
		return -EIO;
	sq_bind_text(st, 1, id);
	struct item_cb c = {one_item, out};
	int n = each_row(r, st, item_row, &c);
	return n < 0 ? n : n == 0 ? -ENOENT : 0;
}

struct dlv_cb {
	store_delivery_cb *cb;
	void *arg;
};

static int dlv_row(sqlite3_stmt *st, void *arg)
{
	struct dlv_cb *c = arg;
	struct store_delivery d;
	sq_row_dlv(st, &d);
	return c->cb(c->arg, &d);
}

int store_reader_deliveries(struct store_reader *r, const char *item_id, store_delivery_cb *cb, void *arg)
{
	sqlite3_stmt *st = prepare(r, "SELECT " DLV_COLS " FROM delivery WHERE item_id = ?1 LIMIT 64");
	if (!st)
		return -EIO;
	sq_bind_text(st, 1, item_id);
	struct dlv_cb c = {cb, arg};
	return each_row(r, st, dlv_row, &c);
}

static int count_row(sqlite3_stmt *st, void *arg)
{
	uint64_t *v = arg;
	v[0] = (uint64_t)sq_col_int(st, 0);
	if (sqlite3_column_count(st) > 1)
		v[1] = (uint64_t)sq_col_int(st, 1);
	return 1;
}

static int count(struct store_reader *r, const char *sql, int64_t bind, uint64_t *v)
{
	sqlite3_stmt *st = prepare(r, sql);
	if (!st)
		return -EIO;
	if (sqlite3_bind_parameter_count(st))
		sq_bind_int(st, 1, bind);
	int n = each_row(r, st, count_row, v);
	return n < 0 ? n : 0;
}

int store_reader_totals(struct store_reader *r, int64_t now_ms, struct store_totals *out)
{
	uint64_t v[2] = {0, 0};
	int rc;
	memset(out, 0, sizeof *out);
	/* the covering partial index item_usage holds exactly the live items and their sizes */
	if ((rc = count(r, "SELECT COUNT(*), COALESCE(SUM(fsize), 0) FROM item WHERE state IN (0,1,2)", 0, v)))
		return rc;
	out->items = v[0];
	out->bytes = v[1];
	if ((rc = count(r, "SELECT COUNT(*) FROM notif", 0, v)))
		return rc;
	out->notifs = v[0];
	if ((rc = count(r, "SELECT COUNT(*) FROM reg WHERE expires_at > ?1", now_ms, v)))
		return rc;
	out->regs = v[0];
	return 0;
}

struct user_cb {
	store_user_cb *cb;
	void *arg;
};

static int user_row(sqlite3_stmt *st, void *arg)
{
	struct user_cb *c = arg;
	char aor[STORE_AOR_MAX + 1];
	CT(st, 0, aor);
	return c->cb(c->arg, aor);
}

int store_reader_users(struct store_reader *r, const char *after, unsigned limit, store_user_cb *cb, void *arg)
{
	if (limit < 1 || limit > STORE_READER_PAGE_MAX)
		return -EINVAL;
	sqlite3_stmt *st = prepare(r, "SELECT aor FROM reg WHERE aor > ?1 UNION SELECT aor FROM prefs WHERE aor > ?1"
				      " ORDER BY 1 LIMIT ?2");
	if (!st)
		return -EIO;
	sq_bind_text(st, 1, after ? after : "");
	sq_bind_int(st, 2, limit);
	struct user_cb c = {cb, arg};
	return each_row(r, st, user_row, &c);
}

struct reg_cb {
	store_reg_cb *cb;
	void *arg;
};

static int reg_row(sqlite3_stmt *st, void *arg)
{
	struct reg_cb *c = arg;
	struct store_reg reg;
	sq_row_reg(st, &reg);
	return c->cb(c->arg, &reg);
}

int store_reader_regs(struct store_reader *r, const char *aor, store_reg_cb *cb, void *arg)
{
	sqlite3_stmt *st = prepare(r, "SELECT " REG_COLS " FROM reg WHERE aor = ?1 LIMIT 1024");
	if (!st)
		return -EIO;
	sq_bind_text(st, 1, aor);
	struct reg_cb c = {cb, arg};
	return each_row(r, st, reg_row, &c);
}

static int prefs_row(sqlite3_stmt *st, void *arg)
{
	sq_row_prefs(st, arg);
	return 1;
}

int store_reader_prefs(struct store_reader *r, const char *aor, struct store_prefs *out)
{
	sqlite3_stmt *st = prepare(r, "SELECT " PREFS_COLS " FROM prefs WHERE aor = ?1");
	if (!st)
		return -EIO;
	sq_bind_text(st, 1, aor);
	int n = each_row(r, st, prefs_row, out);
	return n < 0 ? n : n == 0 ? -ENOENT : 0;
}
