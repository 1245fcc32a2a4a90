/* SQLite rows <-> store records, and SQLite result codes as errno (store_sqlite_int.h). */
#include <errno.h>
#include <string.h>

#include "store/store_sqlite_int.h"

int sq_rc_errno(int rc)
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
void sq_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

void sq_bind_int(sqlite3_stmt *st, int i, int64_t v)
{
	sqlite3_bind_int64(st, i, v);
}

void sq_bind_hash(sqlite3_stmt *st, int i, const struct store_selector *sel)
{
	sqlite3_bind_blob(st, i, sel->sha1, sel->has_hash ? 20 : 0, SQLITE_STATIC);
}

void sq_bind_mss(sqlite3_stmt *st, int i, const struct store_item *it)
{
	sq_bind_int(st, i, it->mss_obj);
	sq_bind_text(st, i + 1, it->mss_owner);
	sq_bind_text(st, i + 2, it->mss_outcome);
	sq_bind_int(st, i + 3, it->mss_attempts);
	sq_bind_int(st, i + 4, it->mss_next_at_ms);
}

void sq_col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	size_t n = s ? (size_t)sqlite3_column_bytes(st, i) : 0;

	if (n >= cap) /* cannot happen for rows we wrote; never overflow anyway */
		n = cap - 1;
	if (n)
		memcpy(dst, s, n);
	dst[n] = 0;
}

int64_t sq_col_int(sqlite3_stmt *st, int i)
{
	return sqlite3_column_int64(st, i);
}

void sq_col_hash(sqlite3_stmt *st, int i, struct store_selector *sel)
{
	const void *h = sqlite3_column_blob(st, i);

	sel->has_hash = h && sqlite3_column_bytes(st, i) == 20;
	if (sel->has_hash)
		memcpy(sel->sha1, h, 20);
	else
		memset(sel->sha1, 0, 20);
}


void sq_row_item(sqlite3_stmt *st, struct store_item *it)
{
	memset(it, 0, sizeof *it);
	CT(st, 0, it->id);
	CT(st, 1, it->sender);
	CT(st, 2, it->recipient);
	CT(st, 3, it->sel.name);
	it->sel.size = (uint64_t)sq_col_int(st, 4);
	CT(st, 5, it->sel.type);
	sq_col_hash(st, 6, &it->sel);
	CT(st, 7, it->ft_id);
	CT(st, 8, it->conv_id);
	CT(st, 9, it->contrib_id);
	CT(st, 10, it->irt_contrib_id);
	CT(st, 11, it->disposition);
	CT(st, 12, it->file_date);
	it->created_at_ms = sq_col_int(st, 13);
	it->expires_at_ms = sq_col_int(st, 14);
	it->state = (enum store_item_state)sq_col_int(st, 15);
	it->bytes_received = (uint64_t)sq_col_int(st, 16);
	CT(st, 17, it->imdn_msgid);
	it->imdn_disp = (unsigned)sq_col_int(st, 18);
	CT(st, 19, it->delivered_device);
	it->kind = (enum store_item_kind)sq_col_int(st, 20);
	it->mss_obj = (enum store_mss_obj)sq_col_int(st, 21);
	CT(st, 22, it->mss_owner);
	CT(st, 23, it->mss_outcome);
	it->mss_attempts = (unsigned)sq_col_int(st, 24);
	it->mss_next_at_ms = sq_col_int(st, 25);
	it->body_inline = sq_col_int(st, 26) != 0;
}

void sq_row_dlv(sqlite3_stmt *st, struct store_delivery *d)
{
	memset(d, 0, sizeof *d);
	CT(st, 0, d->item_id);
	CT(st, 1, d->instance);
	d->attempts = (unsigned)sq_col_int(st, 2);
	d->next_attempt_at_ms = sq_col_int(st, 3);
	d->bytes_acked = (uint64_t)sq_col_int(st, 4);
	d->state = (enum store_delivery_state)sq_col_int(st, 5);
}

void sq_row_part(sqlite3_stmt *st, struct store_partial *p)
{
	memset(p, 0, sizeof *p);
	CT(st, 0, p->item_id);
	CT(st, 1, p->sender);
	CT(st, 2, p->sel.name);
	p->sel.size = (uint64_t)sq_col_int(st, 3);
	CT(st, 4, p->sel.type);
	sq_col_hash(st, 5, &p->sel);
	p->bytes = (uint64_t)sq_col_int(st, 6);
	p->expires_at_ms = sq_col_int(st, 7);
}

void sq_row_notif(sqlite3_stmt *st, struct store_notif *n)
{
	memset(n, 0, sizeof *n);
	CT(st, 0, n->id);
	CT(st, 1, n->target);
	n->kind = (enum store_notif_kind)sq_col_int(st, 2);
	CT(st, 3, n->item_id);
	CT(st, 4, n->imdn_msgid);
	n->created_at_ms = sq_col_int(st, 5);
	n->attempts = (unsigned)sq_col_int(st, 6);
	n->next_attempt_at_ms = sq_col_int(st, 7);
	CT(st, 8, n->notifier);
	CT(st, 9, n->datetime);
}

void sq_row_reg(sqlite3_stmt *st, struct store_reg *r)
{
	memset(r, 0, sizeof *r);
	CT(st, 0, r->aor);
	CT(st, 1, r->instance);
	CT(st, 2, r->contact);
	CT(st, 3, r->flow);
	r->tcp = sq_col_int(st, 4) != 0;
	r->expires_at_ms = sq_col_int(st, 5);
}

void sq_bind_push(sqlite3_stmt *st, const struct store_push *p)
{
	sq_bind_text(st, 1, p->aor);
	sq_bind_text(st, 2, p->instance);
	sq_bind_text(st, 3, p->provider);
	sq_bind_text(st, 4, p->prid);
	sq_bind_text(st, 5, p->param);
	sq_bind_int(st, 6, p->updated_at_ms);
}

void sq_row_push(sqlite3_stmt *st, struct store_push *p)
{
	memset(p, 0, sizeof *p);
	CT(st, 0, p->aor);
	CT(st, 1, p->instance);
	CT(st, 2, p->provider);
	CT(st, 3, p->prid);
	CT(st, 4, p->param);
	p->updated_at_ms = sq_col_int(st, 5);
}

void sq_row_routed(sqlite3_stmt *st, struct store_routed *r)
{
	memset(r, 0, sizeof *r);
	CT(st, 0, r->sender);
	CT(st, 1, r->msgid);
	CT(st, 2, r->recipient);
	r->asked = (unsigned)sq_col_int(st, 3);
	r->sent = (unsigned)sq_col_int(st, 4);
	CT(st, 5, r->datetime);
	r->expires_at_ms = sq_col_int(st, 6);
}

/* ---- the worker: applying writes --------------------------------------------------------- */

/* Runs a bound write statement to completion. 0 or a negative errno (a hard failure). */

void sq_row_prefs(sqlite3_stmt *st, struct store_prefs *out)
{
	memset(out, 0, sizeof *out);
	CT(st, 0, out->aor);
	out->defer = sq_col_int(st, 1) != 0;
	out->method = (enum store_method)sq_col_int(st, 2);
	out->on_expiry = (enum store_on_expiry)sq_col_int(st, 3);
	out->history = sq_col_int(st, 4) != 0;
	out->keep = (enum store_keep)sq_col_int(st, 5);
	out->screening = sq_col_int(st, 6) != 0;
	out->max_size = (uint64_t)sq_col_int(st, 7);
}
