/* Expiry of stored items and partial uploads (issue #3 §6). Once a second,
 * one indexed range scan (store_items_expiring_before, soonest first,
 * bounded per tick) finds what has run out:
 *   RECEIVING (a partial upload): dropped, blob and rows;
 *   STORED/DELIVERING: a delivery in progress is stopped (never deliver
 *   after expiry), then per the recipient's preference under policy:
 *     discard: blob and row removed, the sender gets a `failed` notification;
 *     keep:    the item is marked EXPIRED and its bytes handed to the MSS hook
 *              (pf_mss_hook: the store moves its blob, or writes an inline
 *              message's body, to the message-store hand-off, data-dir/mss/<id>;
 *              the IMAP upload is a later issue).
 * The same tick forgets the routed messages (the report rules' records,
 * pf_report.c) whose time is over, bounded the same way.
 * Files are moved and removed by the store on its blob thread, never here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/metrics.h"
#include "pf/pf_int.h"

#define EXPIRY_TICK_MS 1000
#define EXPIRY_PER_TICK 256 /* bounded work per tick on the loop */

static void expired_saved(void *arg, int err)
{
	if (err)
		log_error("expiry: a store update failed: %s", strerror(-err));
}

/* An item id for a store callback (and pf, to act on it). */
struct expiry_ctx {
	struct pf *pf;
	char id[STORE_ID_MAX + 1];
};

static struct expiry_ctx *ctx_new(struct pf *pf, const char *id)
{
	struct expiry_ctx *c = calloc(1, sizeof *c);
	if (c) {
		c->pf = pf;
		PF_COPY(c->id, id);
	}
	return c;
}

static void mss_moved(void *arg, int err)
{
	struct expiry_ctx *c = arg;
	if (err)
		log_error("item %s expired; cannot keep its blob for the message store: %s", c->id, strerror(-err));
	else
		log_info("item %s expired: kept for the message store as mss/%s in the data directory (MSS upload"
			 " not implemented yet)", c->id, c->id);
	free(c);
}

/* The hook where the Message Storage Server (IMAP) will take expired items.
 * Today: the store moves the blob (or writes an inline message's body) out of
 * its blob directory, where reconcile does not remove it, and we say where. */
static void pf_mss_hook(struct pf *pf, const struct store_item *it)
{
	struct expiry_ctx *c = ctx_new(pf, it->id);
	int rc = c ? store_item_to_mss(pf->blobq, it, mss_moved, c) : -ENOMEM;
	if (rc) {
		log_error("item %s expired; cannot keep its blob for the message store: %s", it->id, strerror(-rc));
		free(c);
	}
}

/* The rows of an expired partial upload are gone (or not): only now its
 * partial goes. */
static void partial_dropped(void *arg, int err)
{
	struct expiry_ctx *c = arg;
	if (err)
		log_error("expiry: partial upload %s not deleted from the store (%s): its file stays", c->id,
			  strerror(-err));
	else
		pf_blob_remove(c->pf, c->id, true);
	free(c);
}

struct scan {
	struct pf *pf;
	unsigned n;
	struct store_item items[EXPIRY_PER_TICK];
};

static int collect(void *arg, const struct store_item *it)
{
	struct scan *sc = arg;
	sc->items[sc->n++] = *it;
	return sc->n == EXPIRY_PER_TICK;
}

static void expire_one(struct pf *pf, struct store_item *it)
{
	if (it->state == STORE_ITEM_RECEIVING) {
		/* An upload still coming in keeps its rows until it ends. */
		for (struct ft *ft = pf->list; ft; ft = ft->next)
			if (!strcmp(ft->item_id, it->id) && ft->relay && !ft->relay_finished)
				return;
		log_info("item %s: partial upload from %s expired: dropped", it->id, it->sender);
		/* The partial goes in the completion of the delete, and only if
		 * the delete committed: a delete that fails (or cannot be
		 * queued) leaves item, partial row and file as they were, for
		 * the next tick. A crash after the delete leaves an orphan
		 * partial, which the start-up reconcile removes. */
		struct expiry_ctx *c = ctx_new(pf, it->id);
		int rc = c ? store_item_del(pf->st, it->id, partial_dropped, c) : -ENOMEM;
		if (rc) {
			log_error("expiry: cannot queue the delete of partial upload %s: %s", it->id, strerror(-rc));
			free(c);
		}
		return;
	}
	/* Its end is queued and not committed yet (a slow disk can take longer than a tick): the
	 * sender must get one `failed`, not one per tick. */
	if (pf_item_leaving(pf, it->id))
		return;
	if (pf_deliver_abort_item(pf, it->id))
		log_info("item %s expired during delivery: stopped", it->id);
	metrics_expiry();
	struct pf_user_policy up;
	pf_prefs_get(pf, it->recipient, &up);
	if (up.on_expiry == STORE_EXPIRY_KEEP && pf->mss) {
		/* into the recipient's message store (and the sender's history, if wanted) */
		log_info("item %s for %s expired undelivered: kept for the message store", it->id, it->recipient);
		pf_mss_item_ends(pf, it, "expired");
		return;
	}
	if (up.on_expiry == STORE_EXPIRY_KEEP) {
		/* no --mss: the local hand-off data-dir/mss/ for an operator to collect */
		it->state = STORE_ITEM_EXPIRED;
		/* If this update is lost, the next tick finds the item again and moves its blob
		 * again (the move of a missing blob is logged, nothing else happens). */
		pf_store_queued(store_item_update(pf->st, it, expired_saved, NULL), "expiry of a kept item");
		pf_mss_hook(pf, it);
		return;
	}
	log_info("item %s for %s expired undelivered: discarded", it->id, it->recipient);
	pf_item_finish(pf, it, STORE_NOTIF_FAILED, "expired");
}

static void routed_deleted(void *arg, int err)
{
	/* -ENOENT: a delete of the tick before, committed meanwhile. A failure is tried again. */
	if (err && err != -ENOENT)
		log_error("expiry: an old routed message was not deleted: %s", strerror(-err));
}

/* A routed message whose time is over: forgotten. */
static int routed_expired(void *arg, const struct store_routed *r)
{
	struct pf *pf = arg;
	pf_store_queued(store_routed_del(pf->st, r->sender, r->msgid, r->recipient, routed_deleted, NULL),
			"delete of an old routed message");
	return 0;
}

/* The expiry scan's state, owned by pf (created at start, freed at stop). */
struct pf_expiry {
	struct loop_timer *timer;
	unsigned ticks;
	struct scan sc; /* too big for the stack */
};

static void tick(void *arg)
{
	struct pf *pf = arg;
	struct pf_expiry *e = pf->expiry;
	if (++e->ticks % 60 == 0 && !pf->stopping)
		pf_notify_housekeeping(pf);
	e->sc.pf = pf;
	e->sc.n = 0;
	if (store_items_expiring_before(pf->st, pf_now_ms(), EXPIRY_PER_TICK, collect, &e->sc) < 0)
		return;
	for (unsigned i = 0; i < e->sc.n; i++)
		expire_one(pf, &e->sc.items[i]);
	store_routed_expiring_before(pf->st, pf_now_ms(), EXPIRY_PER_TICK, routed_expired, pf);
}

int pf_expiry_start(struct pf *pf)
{
	pf->expiry = calloc(1, sizeof *pf->expiry);
	if (pf->expiry)
		pf->expiry->timer = loop_timer_every(pf->loop, EXPIRY_TICK_MS, tick, pf);
	if (!pf->expiry || !pf->expiry->timer) {
		log_error("cannot start the expiry timer");
		pf_expiry_stop(pf);
		return -1;
	}
	return 0;
}

void pf_expiry_stop(struct pf *pf)
{
	if (!pf->expiry)
		return;
	loop_timer_stop(pf->expiry->timer);
	free(pf->expiry);
	pf->expiry = NULL;
}
