/* The backend-independent part of store.h: argument checks, copying a record into a
 * request (struct store_op), and dispatch through struct store_ops. */
#include "store/store_backend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "common/metrics.h"
#include "store/blob.h"

const char *store_item_state_name(enum store_item_state s)
{
	static const char *const names[] = {"RECEIVING", "STORED",    "DELIVERING", "DELIVERED",
					    "EXPIRED",   "DECLINED",  "CANCELLED",  "FAILED",
					    "TO_MSS"};
	return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

const char *store_item_kind_name(enum store_item_kind k)
{
	return k == STORE_KIND_FILE ? "file" : k == STORE_KIND_MESSAGE ? "message" : "?";
}

const char *store_mss_obj_name(enum store_mss_obj o)
{
	static const char *const names[] = {"none", "ft-history", "message-history", "session-history",
					    "expired", "kept"};
	return (unsigned)o < sizeof names / sizeof names[0] ? names[o] : "?";
}

bool store_id_valid(const char *id)
{
	size_t n = 0;

	if (!id)
		return false;
	for (; id[n]; n++) {
		char c = id[n];
		if (n >= STORE_ID_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_'))
			return false;
	}
	return n > 0;
}

static bool sel_ok(const struct store_selector *sel)
{
	return FIELD_OK(sel->name) && FIELD_OK(sel->type);
}

static bool item_ok(const struct store_item *it)
{
	return store_id_valid(it->id) && FIELD_OK(it->sender) && FIELD_OK(it->recipient) && sel_ok(&it->sel) &&
	       FIELD_OK(it->ft_id) && FIELD_OK(it->conv_id) && FIELD_OK(it->contrib_id) &&
	       FIELD_OK(it->irt_contrib_id) && FIELD_OK(it->disposition) && FIELD_OK(it->file_date) &&
	       FIELD_OK(it->imdn_msgid) && FIELD_OK(it->delivered_device) &&
	       (unsigned)it->state <= STORE_ITEM_TO_MSS && (unsigned)it->kind <= STORE_KIND_MESSAGE &&
	       (unsigned)it->mss_obj <= STORE_MSS_KEPT && FIELD_OK(it->mss_owner) && FIELD_OK(it->mss_outcome) &&
	       /* an item waits for the message store only with an object and a mailbox */
	       (it->state != STORE_ITEM_TO_MSS || (it->mss_obj != STORE_MSS_NONE && it->mss_owner[0]));
}

bool store_key_ok(const char *k, size_t max)
{
	return k && k[0] && strnlen(k, max + 1) <= max;
}

struct store_op *store_op_alloc(enum store_op_kind kind, size_t rec_len, store_done_fn *done, void *arg)
{
	struct store_op *op = malloc(sizeof *op + rec_len);

	if (!op)
		return NULL;
	memset(op, 0, sizeof *op);
	op->kind = kind;
	op->done = done;
	op->arg = arg;
	op->rec_len = rec_len;
	return op;
}

/* The one place a write is handed to the writer thread: a refusal (queue full, store stopping)
 * is counted here for /metrics (cpmd_errors_total{kind="store_queue"}), so no caller has to
 * remember to; the caller still logs what was lost. Failed transactions are counted by the
 * writer (store_write). */
static int submit(struct store *s, struct store_op *op)
{
	int err = s->ops->submit(s, op);

	if (err) {
		free(op);
		metrics_error(ME_STORE_QUEUE);
	}
	return err;
}

int store_submit_copy(struct store *s, enum store_op_kind kind, const void *rec, size_t len, store_done_fn *done,
		      void *arg)
{
	struct store_op *op = store_op_alloc(kind, len, done, arg);

	if (!op)
		return -ENOMEM;
	memcpy(op->rec, rec, len);
	return submit(s, op);
}

int store_submit_key(struct store *s, enum store_op_kind kind, const char *k1, size_t max1, const char *k2,
		     size_t max2, store_done_fn *done, void *arg)
{
	struct store_key key;

	if (!store_key_ok(k1, max1) || (max2 && !store_key_ok(k2, max2)))
		return -EINVAL;
	memset(&key, 0, sizeof key);
	strcpy(key.k1, k1);
	if (k2)
		strcpy(key.k2, k2);
	return store_submit_copy(s, kind, &key, sizeof key, done, arg);
}

/* An item with its thumbnail (may be NULL) and its inline body (body NULL: none). */
static int item_put(struct store *s, const struct store_item *it, const struct store_thumb *thumb, const void *body,
		    size_t blen, store_done_fn *done, void *arg)
{
	size_t tl = thumb ? thumb->len : 0;
	struct store_item_rec *r;
	struct store_op *op;

	if (!item_ok(it) || (thumb && (!FIELD_OK(thumb->type) || tl > STORE_THUMB_MAX || (tl && !thumb->data))))
		return -EINVAL;
	op = store_op_alloc(STORE_OP_ITEM_PUT, sizeof *r + tl + blen, done, arg);
	if (!op)
		return -ENOMEM;
	r = (struct store_item_rec *)op->rec;
	memset(r, 0, sizeof *r);
	r->item = *it;
	r->item.body_inline = body != NULL;
	if (thumb) {
		strcpy(r->thumb_type, thumb->type);
		r->thumb_len = tl;
		if (tl)
			memcpy(r->bytes, thumb->data, tl);
	}
	if (body) {
		r->has_body = true;
		r->body_len = blen;
		memcpy(r->bytes + tl, body, blen);
	}
	return submit(s, op);
}

int store_item_put(struct store *s, const struct store_item *it, const struct store_thumb *thumb,
		   store_done_fn *done, void *arg)
{
	return item_put(s, it, thumb, NULL, 0, done, arg);
}

int store_item_put_body(struct store *s, const struct store_item *it, const void *body, size_t len,
			store_done_fn *done, void *arg)
{
	if (!body || len == 0 || len > STORE_MSG_INLINE_MAX)
		return -EINVAL;
	return item_put(s, it, NULL, body, len, done, arg);
}

int store_item_update(struct store *s, const struct store_item *it, store_done_fn *done, void *arg)
{
	if (!item_ok(it))
		return -EINVAL;
	return store_submit_copy(s, STORE_OP_ITEM_UPDATE, it, sizeof *it, done, arg);
}

int store_item_del(struct store *s, const char *id, store_done_fn *done, void *arg)
{
	if (!store_id_valid(id))
		return -EINVAL;
	return store_submit_key(s, STORE_OP_ITEM_DEL, id, STORE_ID_MAX, NULL, 0, done, arg);
}

int store_delivery_put(struct store *s, const struct store_delivery *d, store_done_fn *done, void *arg)
{
	if (!store_id_valid(d->item_id) || !FIELD_OK(d->instance) || !d->instance[0] ||
	    (unsigned)d->state > STORE_DLV_FAILED)
		return -EINVAL;
	return store_submit_copy(s, STORE_OP_DELIVERY_PUT, d, sizeof *d, done, arg);
}

int store_delivery_del(struct store *s, const char *item_id, const char *instance, store_done_fn *done,
		      void *arg)
{
	if (!store_id_valid(item_id))
		return -EINVAL;
	return store_submit_key(s, STORE_OP_DELIVERY_DEL, item_id, STORE_ID_MAX, instance, STORE_INSTANCE_MAX, done, arg);
}

int store_partial_put(struct store *s, const struct store_partial *p, store_done_fn *done, void *arg)
{
	if (!store_id_valid(p->item_id) || !FIELD_OK(p->sender) || !sel_ok(&p->sel))
		return -EINVAL;
	return store_submit_copy(s, STORE_OP_PARTIAL_PUT, p, sizeof *p, done, arg);
}

int store_partial_del(struct store *s, const char *item_id, store_done_fn *done, void *arg)
{
	if (!store_id_valid(item_id))
		return -EINVAL;
	return store_submit_key(s, STORE_OP_PARTIAL_DEL, item_id, STORE_ID_MAX, NULL, 0, done, arg);
}

static bool notif_ok(const struct store_notif *n)
{
	return store_id_valid(n->id) && FIELD_OK(n->target) && n->target[0] && FIELD_OK(n->item_id) &&
	       FIELD_OK(n->imdn_msgid) && FIELD_OK(n->notifier) && FIELD_OK(n->datetime) &&
	       (unsigned)n->kind <= STORE_NOTIF_DISPLAYED;
}

int store_notif_put(struct store *s, const struct store_notif *n, store_done_fn *done, void *arg)
{
	if (!notif_ok(n))
		return -EINVAL;
	return store_submit_copy(s, STORE_OP_NOTIF_PUT, n, sizeof *n, done, arg);
}

int store_notif_del(struct store *s, const char *id, store_done_fn *done, void *arg)
{
	if (!store_id_valid(id))
		return -EINVAL;
	return store_submit_key(s, STORE_OP_NOTIF_DEL, id, STORE_ID_MAX, NULL, 0, done, arg);
}

int store_reg_put(struct store *s, const struct store_reg *r, store_done_fn *done, void *arg)
{
	if (!FIELD_OK(r->aor) || !r->aor[0] || !FIELD_OK(r->instance) || !r->instance[0] || !FIELD_OK(r->contact) ||
	    !FIELD_OK(r->flow))
		return -EINVAL;
	return store_submit_copy(s, STORE_OP_REG_PUT, r, sizeof *r, done, arg);
}

int store_reg_del(struct store *s, const char *aor, const char *instance, store_done_fn *done, void *arg)
{
	return store_submit_key(s, STORE_OP_REG_DEL, aor, STORE_AOR_MAX, instance, STORE_INSTANCE_MAX, done, arg);
}

int store_prefs_put(struct store *s, const struct store_prefs *p, store_done_fn *done, void *arg)
{
	if (!FIELD_OK(p->aor) || !p->aor[0] || (unsigned)p->method > STORE_METHOD_PULL ||
	    (unsigned)p->on_expiry > STORE_EXPIRY_KEEP || (unsigned)p->keep > STORE_KEEP_BESIDES ||
	    p->max_size > INT64_MAX)
		return -EINVAL;
	return store_submit_copy(s, STORE_OP_PREFS_PUT, p, sizeof *p, done, arg);
}

int store_prefs_del(struct store *s, const char *aor, store_done_fn *done, void *arg)
{
	return store_submit_key(s, STORE_OP_PREFS_DEL, aor, STORE_AOR_MAX, NULL, 0, done, arg);
}

/* The key of a routed message into r (all three parts 1..max bytes). */
static bool routed_key(struct store_routed *r, const char *sender, const char *msgid, const char *recipient)
{
	if (!store_key_ok(sender, STORE_AOR_MAX) || !store_key_ok(msgid, STORE_MSGID_MAX) ||
	    !store_key_ok(recipient, STORE_AOR_MAX))
		return false;
	memset(r, 0, sizeof *r);
	strcpy(r->sender, sender);
	strcpy(r->msgid, msgid);
	strcpy(r->recipient, recipient);
	return true;
}

int store_routed_put(struct store *s, const struct store_routed *r, store_done_fn *done, void *arg)
{
	struct store_routed c;

	if (!FIELD_OK(r->sender) || !FIELD_OK(r->msgid) || !FIELD_OK(r->recipient) || !FIELD_OK(r->datetime) ||
	    !routed_key(&c, r->sender, r->msgid, r->recipient) || r->asked > 7)
		return -EINVAL;
	c.asked = r->asked;
	strcpy(c.datetime, r->datetime);
	c.expires_at_ms = r->expires_at_ms;
	return store_submit_copy(s, STORE_OP_ROUTED_PUT, &c, sizeof c, done, arg);
}

int store_routed_del(struct store *s, const char *sender, const char *msgid, const char *recipient,
		     store_done_fn *done, void *arg)
{
	struct store_routed_rec rec;

	memset(&rec, 0, sizeof rec);
	if (!routed_key(&rec.r, sender, msgid, recipient))
		return -EINVAL;
	return store_submit_copy(s, STORE_OP_ROUTED_DEL, &rec, sizeof rec, done, arg);
}

int store_routed_report(struct store *s, const char *sender, const char *msgid, const char *recipient,
			unsigned bit, const struct store_notif *n, store_done_fn *done, void *arg)
{
	struct store_routed_rec rec;

	memset(&rec, 0, sizeof rec);
	if (!routed_key(&rec.r, sender, msgid, recipient) ||
	    (bit != STORE_REPORT_DELIVERED && bit != STORE_REPORT_DISPLAYED && bit != STORE_REPORT_FAILED) ||
	    (n && !notif_ok(n)))
		return -EINVAL;
	rec.bit = bit;
	if (n) {
		rec.has_notif = true;
		rec.n = *n;
	}
	return store_submit_copy(s, STORE_OP_ROUTED_REPORT, &rec, sizeof rec, done, arg);
}

int store_sync(struct store *s, store_done_fn *done, void *arg)
{
	struct store_op *op = store_op_alloc(STORE_OP_SYNC, 0, done, arg);

	if (!op)
		return -ENOMEM;
	return submit(s, op);
}

void store_close(struct store *s)
{
	struct blob_dir *bd;

	if (!s)
		return;
	bd = s->own_bd ? s->bd : NULL;
	int lock_fd = s->lock_fd;
	s->ops->close(s);
	blob_dir_close(bd);
	if (lock_fd > 0)
		close(lock_fd); /* last: the data directory is free for the next cpmd */
}

struct blob_dir *store_blob_dir(struct store *s)
{
	return s ? s->bd : NULL;
}

int store_open_dir(struct store **out, struct loop *loop, const char *data_dir)
{
	struct blob_dir *bd = NULL;
	int lock_fd = -1;
	char *path;
	size_t n;
	int err;

	if (!out || !loop || !data_dir || !*data_dir)
		return -EINVAL;
	n = strlen(data_dir);
	if (!(path = malloc(n + sizeof "/cpmd.db")))
		return -ENOMEM;
	memcpy(path, data_dir, n + 1);
	if (mkdir_p(path, 0700)) {
		err = -errno;
		log_error("cannot create data directory %s: %s", data_dir, strerror(-err));
		goto out;
	}
	/* One cpmd per directory: locked before anything in it is touched. */
	if (store_dir_lock(data_dir, &lock_fd)) {
		err = -EBUSY;
		goto out;
	}
	if ((err = blob_dir_open(&bd, data_dir))) {
		log_error("cannot open the blob directories under %s: %s", data_dir, strerror(-err));
		goto out;
	}
	if (store_dir_check(data_dir)) {
		err = -EACCES;
		goto out;
	}
	memcpy(path + n, "/cpmd.db", sizeof "/cpmd.db");
	if ((err = store_sqlite_open(out, loop, path))) {
		/* SQLite says "cannot open" for everything: store_dir_check ruled out access. */
		log_error("cannot open the store %s: %s", path,
			  err == -ENOENT ? "SQLite cannot open the database file" : strerror(-err));
		goto out;
	}
	(*out)->bd = bd;
	(*out)->own_bd = true;
	(*out)->lock_fd = lock_fd;
	bd = NULL;
	lock_fd = -1;
out:
	blob_dir_close(bd);
	if (lock_fd >= 0)
		close(lock_fd);
	free(path);
	return err;
}

void store_stats_get(struct store *s, struct store_stats *out)
{
	memset(out, 0, sizeof *out);
	s->ops->stats(s, out);
}

/* ---- reads: check the keys, then the backend --------------------------------------------- */
int store_item_get(struct store *s, const char *id, struct store_item *out)
{
	return store_id_valid(id) ? s->ops->item_get(s, id, out) : -EINVAL;
}

int store_item_thumb_get(struct store *s, const char *id, struct store_thumb *out, uint8_t *buf, size_t cap)
{
	return store_id_valid(id) ? s->ops->item_thumb_get(s, id, out, buf, cap) : -EINVAL;
}

int store_item_body_get(struct store *s, const char *id, void *buf, size_t cap, size_t *len)
{
	if (!store_id_valid(id) || !len || (cap && !buf))
		return -EINVAL;
	return s->ops->item_body_get(s, id, buf, cap, len);
}

int store_delivery_get(struct store *s, const char *item_id, const char *instance, struct store_delivery *out)
{
	if (!store_id_valid(item_id) || !store_key_ok(instance, STORE_INSTANCE_MAX))
		return -EINVAL;
	return s->ops->delivery_get(s, item_id, instance, out);
}

int store_partial_get(struct store *s, const char *item_id, struct store_partial *out)
{
	return store_id_valid(item_id) ? s->ops->partial_get(s, item_id, out) : -EINVAL;
}

int store_partial_find(struct store *s, const char *sender, const struct store_selector *sel,
		       struct store_partial *out)
{
	if (!store_key_ok(sender, STORE_AOR_MAX) || !sel_ok(sel))
		return -EINVAL;
	return s->ops->partial_find(s, sender, sel, out);
}

int store_notif_get(struct store *s, const char *id, struct store_notif *out)
{
	return store_id_valid(id) ? s->ops->notif_get(s, id, out) : -EINVAL;
}

int store_reg_get(struct store *s, const char *aor, const char *instance, struct store_reg *out)
{
	if (!store_key_ok(aor, STORE_AOR_MAX) || !store_key_ok(instance, STORE_INSTANCE_MAX))
		return -EINVAL;
	return s->ops->reg_get(s, aor, instance, out);
}

int store_prefs_get(struct store *s, const char *aor, struct store_prefs *out)
{
	return store_key_ok(aor, STORE_AOR_MAX) ? s->ops->prefs_get(s, aor, out) : -EINVAL;
}

int store_routed_get(struct store *s, const char *sender, const char *msgid, const char *recipient,
		     struct store_routed *out)
{
	if (!store_key_ok(sender, STORE_AOR_MAX) || !store_key_ok(msgid, STORE_MSGID_MAX) ||
	    !store_key_ok(recipient, STORE_AOR_MAX))
		return -EINVAL;
	return s->ops->routed_get(s, sender, msgid, recipient, out);
}

int store_next_pending_recipient(struct store *s, const char *after, char *out, size_t cap)
{
	if (!after || strlen(after) > STORE_AOR_MAX || !out || cap == 0)
		return -EINVAL;
	return s->ops->next_pending_recipient(s, after, out, cap);
}

int store_recipient_usage(struct store *s, const char *aor, struct store_usage *out)
{
	if (!store_key_ok(aor, STORE_AOR_MAX) || !out)
		return -EINVAL;
	return s->ops->recipient_usage(s, aor, out);
}

int store_items_for_recipient(struct store *s, const char *aor, unsigned limit, store_item_cb *cb, void *arg)
{
	if (!store_key_ok(aor, STORE_AOR_MAX) || !cb)
		return -EINVAL;
	return s->ops->items_for_recipient(s, aor, limit ? limit : STORE_SCAN_DEFAULT, cb, arg);
}

int store_items_expiring_before(struct store *s, int64_t t_ms, unsigned limit, store_item_cb *cb, void *arg)
{
	if (!cb)
		return -EINVAL;
	return s->ops->items_expiring_before(s, t_ms, limit ? limit : STORE_SCAN_DEFAULT, cb, arg);
}

int store_items_mss_due(struct store *s, int64_t t_ms, unsigned limit, store_item_cb *cb, void *arg)
{
	if (!cb)
		return -EINVAL;
	return s->ops->items_mss_due(s, t_ms, limit ? limit : STORE_SCAN_DEFAULT, cb, arg);
}

int store_deliveries_for_item(struct store *s, const char *item_id, store_delivery_cb *cb, void *arg)
{
	if (!store_id_valid(item_id) || !cb)
		return -EINVAL;
	return s->ops->deliveries_for_item(s, item_id, cb, arg);
}

int store_notifs_created_before(struct store *s, int64_t t_ms, unsigned limit, store_notif_cb *cb, void *arg)
{
	if (!s || !cb)
		return -EINVAL;
	return s->ops->notifs_created_before(s, t_ms, limit ? limit : STORE_SCAN_DEFAULT, cb, arg);
}

int store_notifs_for(struct store *s, const char *aor, unsigned limit, store_notif_cb *cb, void *arg)
{
	if (!store_key_ok(aor, STORE_AOR_MAX) || !cb)
		return -EINVAL;
	return s->ops->notifs_for(s, aor, limit ? limit : STORE_SCAN_DEFAULT, cb, arg);
}

int store_regs_all(struct store *s, store_reg_cb *cb, void *arg)
{
	return cb ? s->ops->regs_all(s, cb, arg) : -EINVAL;
}

int store_regs_page(struct store *s, const char *after_aor, const char *after_instance, unsigned limit,
		    store_reg_cb *cb, void *arg)
{
	/* the keys may be empty (the first page), not longer than a stored key can be */
	if (!cb || !after_aor || !after_instance || strnlen(after_aor, STORE_AOR_MAX + 1) > STORE_AOR_MAX ||
	    strnlen(after_instance, STORE_INSTANCE_MAX + 1) > STORE_INSTANCE_MAX)
		return -EINVAL;
	return s->ops->regs_page(s, after_aor, after_instance, limit ? limit : STORE_SCAN_DEFAULT, cb, arg);
}

int store_routed_expiring_before(struct store *s, int64_t t_ms, unsigned limit, store_routed_cb *cb, void *arg)
{
	if (!cb)
		return -EINVAL;
	return s->ops->routed_expiring_before(s, t_ms, limit ? limit : STORE_SCAN_DEFAULT, cb, arg);
}
