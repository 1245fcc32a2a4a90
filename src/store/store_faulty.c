/* A store that fails writes on purpose (tests; style.md point 9, after SQLite's I/O-error
 * injection). It forwards every call to the inner store, counts writes (store_sync barriers
 * are not writes), and for a write chosen to fail it submits a barrier to the inner store in
 * its place: the failure is then reported in order with the other writes, from the loop
 * thread, as -EIO, and nothing of that write reaches the database. */
#include "store/store_backend.h"

#include <errno.h>
#include <stdlib.h>

#include "common/log.h"

struct faulty {
	struct store base;
	struct store *inner;
	unsigned nth;
	enum store_fault_mode mode;
	unsigned writes; /* seen so far */
};

/* The caller's done, wrapped so that a failed write reports -EIO. */
struct fwrap {
	store_done_fn *done;
	void *arg;
	bool fail;
};

static void fwrap_done(void *arg, int err)
{
	struct fwrap *w = arg;

	if (w->done)
		w->done(w->arg, w->fail ? -EIO : err);
	free(w);
}

static int f_submit(struct store *s, struct store_op *op)
{
	struct faulty *f = (struct faulty *)s;
	struct fwrap *w;
	int err;

	if (op->kind == STORE_OP_SYNC)
		return f->inner->ops->submit(f->inner, op);
	if (f->mode == STORE_FAULT_QUEUE_NTH && ++f->writes == f->nth) {
		log_debug("store: faulty: refusing write %u at the queue (kind %d)", f->writes, op->kind);
		return -EAGAIN;
	}
	if (!(w = malloc(sizeof *w)))
		return -ENOMEM;
	if (f->mode != STORE_FAULT_QUEUE_NTH)
		f->writes++;
	w->done = op->done;
	w->arg = op->arg;
	w->fail = f->mode != STORE_FAULT_QUEUE_NTH &&
		  (f->writes == f->nth || (f->mode == STORE_FAULT_FROM_NTH && f->nth && f->writes > f->nth));
	op->done = fwrap_done;
	op->arg = w;
	if (w->fail) {
		log_debug("store: faulty: failing write %u (kind %d)", f->writes, op->kind);
		op->kind = STORE_OP_SYNC; /* applies nothing; still ordered with the other writes */
	}
	err = f->inner->ops->submit(f->inner, op);
	if (err) {
		/* The caller frees op and will not see done: put its fields back, drop ours. */
		op->done = w->done;
		op->arg = w->arg;
		free(w);
	}
	return err;
}

static void f_close(struct store *s)
{
	struct faulty *f = (struct faulty *)s;

	store_close(f->inner);
	free(f);
}

static void f_stats(struct store *s, struct store_stats *out)
{
	struct faulty *f = (struct faulty *)s;

	f->inner->ops->stats(f->inner, out);
}

#define INNER(s) (((struct faulty *)(s))->inner)
static int f_item_get(struct store *s, const char *id, struct store_item *out)
{
	return INNER(s)->ops->item_get(INNER(s), id, out);
}
static int f_item_thumb_get(struct store *s, const char *id, struct store_thumb *out, uint8_t *buf, size_t cap)
{
	return INNER(s)->ops->item_thumb_get(INNER(s), id, out, buf, cap);
}
static int f_item_body_get(struct store *s, const char *id, void *buf, size_t cap, size_t *len)
{
	return INNER(s)->ops->item_body_get(INNER(s), id, buf, cap, len);
}
static int f_delivery_get(struct store *s, const char *item_id, const char *instance, struct store_delivery *out)
{
	return INNER(s)->ops->delivery_get(INNER(s), item_id, instance, out);
}
static int f_partial_get(struct store *s, const char *item_id, struct store_partial *out)
{
	return INNER(s)->ops->partial_get(INNER(s), item_id, out);
}
static int f_partial_find(struct store *s, const char *sender, const struct store_selector *sel,
			  struct store_partial *out)
{
	return INNER(s)->ops->partial_find(INNER(s), sender, sel, out);
}
static int f_notif_get(struct store *s, const char *id, struct store_notif *out)
{
	return INNER(s)->ops->notif_get(INNER(s), id, out);
}
static int f_reg_get(struct store *s, const char *aor, const char *instance, struct store_reg *out)
{
	return INNER(s)->ops->reg_get(INNER(s), aor, instance, out);
}
static int f_prefs_get(struct store *s, const char *aor, struct store_prefs *out)
{
	return INNER(s)->ops->prefs_get(INNER(s), aor, out);
}
static int f_routed_get(struct store *s, const char *sender, const char *msgid, const char *recipient,
			struct store_routed *out)
{
	return INNER(s)->ops->routed_get(INNER(s), sender, msgid, recipient, out);
}
static int f_next_pending_recipient(struct store *s, const char *after, char *out, size_t cap)
{
	return INNER(s)->ops->next_pending_recipient(INNER(s), after, out, cap);
}
static int f_recipient_usage(struct store *s, const char *aor, struct store_usage *out)
{
	return INNER(s)->ops->recipient_usage(INNER(s), aor, out);
}
static int f_items_for_recipient(struct store *s, const char *aor, unsigned limit, store_item_cb *cb, void *arg)
{
	return INNER(s)->ops->items_for_recipient(INNER(s), aor, limit, cb, arg);
}
static int f_items_expiring_before(struct store *s, int64_t t_ms, unsigned limit, store_item_cb *cb, void *arg)
{
	return INNER(s)->ops->items_expiring_before(INNER(s), t_ms, limit, cb, arg);
}

static int f_items_mss_due(struct store *s, int64_t t_ms, unsigned limit, store_item_cb *cb, void *arg)
{
	return INNER(s)->ops->items_mss_due(INNER(s), t_ms, limit, cb, arg);
}
static int f_deliveries_for_item(struct store *s, const char *item_id, store_delivery_cb *cb, void *arg)
{
	return INNER(s)->ops->deliveries_for_item(INNER(s), item_id, cb, arg);
}
static int f_notifs_created_before(struct store *s, int64_t t_ms, unsigned limit, store_notif_cb *cb, void *arg)
{
	return INNER(s)->ops->notifs_created_before(INNER(s), t_ms, limit, cb, arg);
}

static int f_notifs_for(struct store *s, const char *aor, unsigned limit, store_notif_cb *cb, void *arg)
{
	return INNER(s)->ops->notifs_for(INNER(s), aor, limit, cb, arg);
}
static int f_regs_all(struct store *s, store_reg_cb *cb, void *arg)
{
	return INNER(s)->ops->regs_all(INNER(s), cb, arg);
}

static int f_regs_page(struct store *s, const char *after_aor, const char *after_instance, unsigned limit,
		       store_reg_cb *cb, void *arg)
{
	return INNER(s)->ops->regs_page(INNER(s), after_aor, after_instance, limit, cb, arg);
}

static int f_routed_expiring_before(struct store *s, int64_t t_ms, unsigned limit, store_routed_cb *cb, void *arg)
{
	return INNER(s)->ops->routed_expiring_before(INNER(s), t_ms, limit, cb, arg);
}

static int f_push_all(struct store *s, unsigned limit, store_push_cb *cb, void *arg)
{
	return INNER(s)->ops->push_all(INNER(s), limit, cb, arg);
}

static const struct store_ops faulty_ops = {
	.name = "faulty",
	.submit = f_submit,
	.close = f_close,
	.stats = f_stats,
	.item_get = f_item_get,
	.item_thumb_get = f_item_thumb_get,
	.item_body_get = f_item_body_get,
	.delivery_get = f_delivery_get,
	.partial_get = f_partial_get,
	.partial_find = f_partial_find,
	.notif_get = f_notif_get,
	.reg_get = f_reg_get,
	.prefs_get = f_prefs_get,
	.routed_get = f_routed_get,
	.items_for_recipient = f_items_for_recipient,
	.next_pending_recipient = f_next_pending_recipient,
	.recipient_usage = f_recipient_usage,
	.items_expiring_before = f_items_expiring_before,
	.items_mss_due = f_items_mss_due,
	.deliveries_for_item = f_deliveries_for_item,
	.notifs_for = f_notifs_for,
	.notifs_created_before = f_notifs_created_before,
	.regs_all = f_regs_all,
	.regs_page = f_regs_page,
	.routed_expiring_before = f_routed_expiring_before,
	.push_all = f_push_all,
};

int store_faulty_wrap(struct store **out, struct store *inner, unsigned nth, enum store_fault_mode mode)
{
	struct faulty *f;

	if (!out || !inner || (unsigned)mode > STORE_FAULT_QUEUE_NTH)
		return -EINVAL;
	if (!(f = calloc(1, sizeof *f)))
		return -ENOMEM;
	f->base.ops = &faulty_ops;
	f->base.loop = inner->loop;
	f->base.bd = inner->bd; /* borrowed: the inner store closes it */
	f->inner = inner;
	f->nth = nth;
	f->mode = mode;
	*out = &f->base;
	return 0;
}
