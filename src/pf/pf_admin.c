/* pf_admin.h: the operator's view of pf and the actions on stored items. Each action reuses the
 * path of the event it stands for (pf_item_finish as the expiry does, pf_deliver_kick as a
 * device's registration does), so no second copy of those rules exists. */
#include "pf/pf_admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "pf/pf_dlv.h"
#include "pf/pf_int.h"

size_t pf_admin_transfers(struct pf *pf, struct pf_admin_transfer *out, size_t max)
{
	size_t n = 0;
	for (struct ft *ft = pf->list; ft && n < max; ft = ft->next) {
		struct pf_admin_transfer *t = &out[n++];
		memset(t, 0, sizeof *t);
		PF_COPY(t->id, ft->id);
		PF_COPY(t->sender, ft->sender);
		PF_COPY(t->recipient, ft->recipient);
		if (ft->offer && ft->offer->has_selector) {
			PF_COPY(t->name, ft->offer->sel.name);
			t->size = ft->offer->sel.size;
		} else if (ft->is_msg) {
			PF_COPY(t->name, "message");
		}
		t->bytes = ft->relay ? ft_relay_bytes(ft->relay) : 0;
		t->mode = ft->deferred ? "store" : "live";
		if (ft->deferred)
			PF_COPY(t->item_id, ft->item_id);
	}
	for (struct dlv *d = pf->dlvs; d && n < max; d = d->next) {
		if (d->state == DLV_ENDING)
			continue;
		struct pf_admin_transfer *t = &out[n++];
		memset(t, 0, sizeof *t);
		PF_COPY(t->id, d->id);
		PF_COPY(t->sender, d->it.sender);
		PF_COPY(t->recipient, d->it.recipient);
		PF_COPY(t->name, d->it.kind == STORE_KIND_MESSAGE ? "message" : d->it.sel.name);
		t->size = d->it.sel.size;
		t->bytes = d->relay ? ft_relay_bytes_acked(d->relay) : 0;
		t->mode = d->pull ? "pull" : "push";
		PF_COPY(t->item_id, d->it.id);
	}
	return n;
}

size_t pf_admin_sessions(struct pf *pf, struct pf_admin_session *out, size_t max)
{
	return pf_session_list(pf, out, max);
}

void pf_admin_counts(struct pf *pf, uint64_t *transfers, uint64_t *sessions)
{
	*transfers = pf->nft + pf->ndlv;
	*sessions = pf->nsess;
}

int pf_admin_terminate(struct pf *pf, const char *id)
{
	for (struct ft *ft = pf->list; ft; ft = ft->next)
		if (!strcmp(ft->id, id)) {
			log_info("ft %s: terminated by the operator", ft->id);
			ft_end(ft, 480, "Terminated By The Operator");
			return 0;
		}
	for (struct dlv *d = pf->dlvs; d; d = d->next)
		if (!strcmp(d->id, id) && d->state != DLV_ENDING) {
			log_info("dlv %s: terminated by the operator", d->id);
			/* as an expiry stops it: no retry bookkeeping, the item stays for later */
			pf_deliver_abort_item(pf, d->it.id);
			return 0;
		}
	return -ENOENT;
}

/* A live item (one an operator may act on): receiving, stored or delivering. */
static int live_item(struct pf *pf, const char *id, struct store_item *it)
{
	if (!pf->st || !store_id_valid(id))
		return -ENOENT;
	int rc = store_item_get(pf->st, id, it);
	if (rc)
		return rc;
	if (it->state != STORE_ITEM_RECEIVING && it->state != STORE_ITEM_STORED && it->state != STORE_ITEM_DELIVERING)
		return -ENOENT;
	if (pf_item_leaving(pf, id))
		return -ENOENT; /* already on its way out */
	return 0;
}

struct admin_sync {
	pf_admin_done_fn *done;
	void *arg;
};

static void synced(void *arg, int err)
{
	struct admin_sync *s = arg;
	s->done(s->arg, err);
	free(s);
}

/* done once every write queued so far committed (the action's writes among them). */
static int after_commit(struct pf *pf, pf_admin_done_fn *done, void *arg)
{
	struct admin_sync *s = malloc(sizeof *s);
	if (!s)
		return -ENOMEM;
	s->done = done;
	s->arg = arg;
	int rc = store_sync(pf->st, synced, s);
	if (rc)
		free(s);
	return rc;
}

int pf_admin_purge(struct pf *pf, const char *id, pf_admin_done_fn *done, void *arg)
{
	struct store_item it;
	int rc = live_item(pf, id, &it);
	if (rc)
		return rc;
	if (it.state == STORE_ITEM_RECEIVING)
		return -EBUSY; /* its upload's transfer owns it: terminate that instead */
	/* never deliver what the operator removed; one log line for the purge (pf_item_remove's,
	 * which names the parties), saying whether a delivery was cut */
	bool stopped = pf_deliver_abort_item(pf, it.id);
	pf_item_finish(pf, &it, STORE_NOTIF_FAILED,
		       stopped ? "purged by the operator (its delivery stopped)" : "purged by the operator");
	return after_commit(pf, done, arg);
}

int pf_admin_retry(struct pf *pf, const char *id)
{
	struct store_item it;
	int rc = live_item(pf, id, &it);
	if (rc)
		return rc;
	log_info("item %s: delivery retried now by the operator", it.id);
	struct pf_user_policy up;
	pf_prefs_get(pf, it.recipient, &up);
	if (up.method == STORE_METHOD_PULL && pf_user_is_ours(pf, it.recipient))
		pf_notify_deferred_list(pf, it.recipient, NULL, &it); /* a pull user's devices fetch it */
	else
		pf_deliver_kick(pf, it.recipient, true); /* as if a device came back: the back-off goes */
	return 0;
}

int pf_admin_set_expiry(struct pf *pf, const char *id, int64_t expires_ms, pf_admin_done_fn *done, void *arg)
{
	struct store_item it;
	int rc = live_item(pf, id, &it);
	if (rc)
		return rc;
	it.expires_at_ms = expires_ms;
	log_info("item %s: expiry set to %lld ms by the operator", it.id, (long long)expires_ms);
	if ((rc = store_item_update(pf->st, &it, pf_store_logged, "operator's expiry")))
		return rc;
	return after_commit(pf, done, arg);
}
