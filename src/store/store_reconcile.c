/* Start-up reconcile of the store with the blob directory (store.h: store_reconcile).
 * Runs before cpmd serves, on the loop thread: the directory scans, reads and unlinks block,
 * which is fine then and never later. The FAILED updates are ordinary async writes. */
#include "store/store_backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "net/loop.h"
#include "store/blob.h"

struct rec {
	struct store *s;
	struct blob_dir *bd;
	int64_t now_ms;
	struct store_reconcile_report *rep;
	int err;
	/* ids of items found STORED/DELIVERING without a blob, updated after the scan (ids
	 * only: a lost blob directory with a million items must not cost gigabytes) */
	char (*failed)[STORE_ID_MAX + 1];
	size_t nfailed, cap;
	/* the names in blobs/, sorted, each marked when a deliverable item owns it */
	struct blob_name *blobs;
	size_t nblobs, blobcap;
	unsigned long seen; /* entries looked at, for the interrupt check */
};

struct blob_name {
	char id[STORE_ID_MAX + 1];
	bool owned;
};

/* FAILED updates (and what on_failed queues) go in batches, each committed before the
 * next, so that a lost blob directory never overflows the write queue (STORE_QUEUE_MAX). */
#define RECONCILE_BATCH 4096
/* The interrupt (store_set_interrupt) is asked once per this many entries: a sigpending()
 * per 4096 directory entries or rows costs nothing next to reading them. */
#define RECONCILE_CHECK 4096
/* Items named one by one in the log; beyond that, a count. */
#define RECONCILE_LOG_MAX 100

static bool deliverable(enum store_item_state st)
{
	return st == STORE_ITEM_STORED || st == STORE_ITEM_DELIVERING;
}

/* An item that owns its blob: a deliverable one, or one waiting for the message store. */
static bool owns_blob(enum store_item_state st)
{
	return deliverable(st) || st == STORE_ITEM_TO_MSS;
}

void store_set_interrupt(struct store *s, store_interrupt_fn *fn, void *arg)
{
	s->interrupt = fn;
	s->interrupt_arg = arg;
}

/* Every callback of the scans starts here: true (with r->err -EINTR) to stop the scan. */
static bool interrupted(struct rec *r)
{
	if (++r->seen % RECONCILE_CHECK || !r->s->interrupt || !r->s->interrupt(r->s->interrupt_arg))
		return false;
	r->err = -EINTR;
	return true;
}

/* blobs/: collect our names (one pass over the directory; the store is not
 * asked per file: with a million items that was seconds of random reads). */
static int final_cb(void *arg, const char *name, bool valid)
{
	struct rec *r = arg;

	if (interrupted(r))
		return 1;
	if (!valid) {
		log_warn("store: reconcile: blobs/ holds a file that is not ours, left alone (%.64s)", name);
		r->rep->foreign++;
		return 0;
	}
	if (r->nblobs == r->blobcap) {
		size_t cap = r->blobcap ? r->blobcap * 2 : 256;
		void *n = realloc(r->blobs, cap * sizeof *r->blobs);
		if (!n) {
			r->err = -ENOMEM;
			return 1;
		}
		r->blobs = n;
		r->blobcap = cap;
	}
	struct blob_name *b = &r->blobs[r->nblobs++];
	snprintf(b->id, sizeof b->id, "%s", name);
	b->owned = false;
	return 0;
}

static int blob_cmp(const void *a, const void *b)
{
	return strcmp(((const struct blob_name *)a)->id, ((const struct blob_name *)b)->id);
}

static int partial_cb(void *arg, const char *name, bool valid)
{
	struct rec *r = arg;
	struct store_item it;
	struct store_partial p;
	bool keep = false;
	int err;

	if (interrupted(r))
		return 1;

	if (!valid) {
		log_warn("store: reconcile: blobs/tmp/ holds a file that is not ours, left alone (%.64s)", name);
		r->rep->foreign++;
		return 0;
	}
	err = store_item_get(r->s, name, &it);
	if (!err)
		keep = it.state == STORE_ITEM_RECEIVING && it.expires_at_ms > r->now_ms;
	else if (err != -ENOENT)
		goto fail;
	if (!keep) {
		err = store_partial_get(r->s, name, &p);
		if (!err)
			keep = p.expires_at_ms > r->now_ms;
		else if (err != -ENOENT)
			goto fail;
	}
	if (keep) {
		r->rep->partials_kept++;
		return 0;
	}
	if ((err = blob_remove(r->bd, name, true)) && err != -ENOENT)
		log_warn("store: reconcile: remove partial %s: %s", name, strerror(-err));
	r->rep->partials_removed++;
	return 0;
fail:
	r->err = err;
	return 1;
}

static int item_cb(void *arg, const struct store_item *it)
{
	struct rec *r = arg;

	if (interrupted(r))
		return 1;
	if (!owns_blob(it->state) || it->body_inline)
		return 0; /* an inline body is in the row: there is no blob to claim or miss */
	struct blob_name key;
	snprintf(key.id, sizeof key.id, "%s", it->id);
	/* (no blob at all: r->blobs is NULL, which bsearch must not be given) */
	struct blob_name *b = r->nblobs ? bsearch(&key, r->blobs, r->nblobs, sizeof *r->blobs, blob_cmp) : NULL;
	if (b) {
		b->owned = true;
		return 0;
	}
	if (it->state == STORE_ITEM_TO_MSS) {
		/* nobody waits for it on a device: the message store's writer finds it missing,
		 * logs it and drops the item (pf_mss.c) */
		log_warn("store: reconcile: item %s waits for the message store but its blob is missing", it->id);
		return 0;
	}
	if (r->nfailed == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		void *n = realloc(r->failed, cap * sizeof *r->failed);
		if (!n) {
			r->err = -ENOMEM;
			return 1;
		}
		r->failed = n;
		r->cap = cap;
	}
	memcpy(r->failed[r->nfailed++], it->id, sizeof r->failed[0]);
	return 0;
}

static void synced(void *arg, int err)
{
	*(int *)arg = err ? err : 1;
}

/* Start-up only: wait until everything queued so far is committed. */
static int drain(struct store *s)
{
	int done = 0, err = store_sync(s, synced, &done);
	if (err)
		return err;
	while (!done)
		loop_step(s->loop, 100);
	return done < 0 ? done : 0;
}

int store_reconcile(struct store *s, struct blob_dir *bd, int64_t now_ms, struct store_reconcile_report *rep,
		    store_item_cb *on_failed, store_done_fn *done, void *arg)
{
	struct rec r = {.s = s, .bd = bd, .now_ms = now_ms, .rep = rep};
	int err, n;

	memset(rep, 0, sizeof *rep);
	if ((err = blob_scan(bd, false, final_cb, &r)) || (err = r.err))
		goto out;
	if (r.nblobs)
		qsort(r.blobs, r.nblobs, sizeof *r.blobs, blob_cmp);
	if ((err = blob_scan(bd, true, partial_cb, &r)) || (err = r.err))
		goto out;
	/* Every live item, whatever its expiry (start-up may page through all of them): each
	 * deliverable one claims its blob, or is found without one. */
	n = store_items_expiring_before(s, INT64_MAX, (unsigned)INT32_MAX, item_cb, &r);
	if (n >= 0 && !r.err) /* and every item waiting for the message store */
		n = store_items_mss_due(s, INT64_MAX, (unsigned)INT32_MAX, item_cb, &r);
	if (n < 0 || (err = r.err)) {
		err = n < 0 ? n : err;
		goto out;
	}
	/* A blob no STORED/DELIVERING item claimed is an orphan (e.g. a crash between its rename
	 * and the item's commit: never acknowledged, so removing it is right). */
	for (size_t i = 0; i < r.nblobs; i++) {
		if (r.blobs[i].owned) {
			rep->blobs_kept++;
			continue;
		}
		if ((err = blob_remove(bd, r.blobs[i].id, false)) && err != -ENOENT)
			log_warn("store: reconcile: remove blob %s: %s", r.blobs[i].id, strerror(-err));
		err = 0;
		rep->blobs_removed++;
		if (rep->blobs_removed <= RECONCILE_LOG_MAX)
			log_info("store: reconcile: removed orphan blob %s (no stored item)", r.blobs[i].id);
	}
	free(r.blobs);
	r.blobs = NULL;
	for (size_t i = 0; i < r.nfailed; i++) {
		struct store_item it;
		if (interrupted(&r)) {
			err = r.err;
			goto out;
		}
		if (store_item_get(s, r.failed[i], &it))
			continue;
		if (i < RECONCILE_LOG_MAX)
			log_warn("store: reconcile: item %s is %s but its blob is missing: marked FAILED", it.id,
				 store_item_state_name(it.state));
		it.state = STORE_ITEM_FAILED;
		if ((err = store_item_update(s, &it, NULL, NULL)))
			goto out;
		rep->items_failed++;
		if (on_failed)
			on_failed(arg, &it);
		if ((i + 1) % RECONCILE_BATCH == 0 && (err = drain(s)))
			goto out;
	}
	if (r.nfailed > RECONCILE_LOG_MAX)
		log_warn("store: reconcile: %zu more items without their blob marked FAILED (not listed)",
			 r.nfailed - RECONCILE_LOG_MAX);
	log_info("store: reconcile: blobs kept %u removed %u, partials kept %u removed %u, items failed %u,"
		 " foreign files %u",
		 rep->blobs_kept, rep->blobs_removed, rep->partials_kept, rep->partials_removed, rep->items_failed,
		 rep->foreign);
	err = done ? store_sync(s, done, arg) : 0;
out:
	if (err == -EINTR)
		log_info("store: reconcile interrupted (%lu entries looked at); the next start does it again", r.seen);
	else if (err)
		log_error("store: reconcile failed: %s", strerror(-err));
	free(r.failed);
	free(r.blobs);
	return err;
}
