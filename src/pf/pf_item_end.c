/* The end of a stored item's life with cpmd (pf_item_finish, pf_item_remove): the sender's
 * notification, the users' message stores (pf_mss.c: the item may go on there), and the delete
 * of its row, then of its blob. pf->finishing lists the items whose delete is not committed
 * yet, so that a delivery scan does not start them again (pf_deliver.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "pf/pf_int.h"

static void item_left(void *arg, int err)
{
	struct pf_finishing *c = arg;
	struct pf *pf = c->pf;
	for (struct pf_finishing **pp = &pf->finishing; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (err)
		log_error("item %s: could not be %s in the store: %s", c->id, c->deleting ? "removed" : "updated",
			  strerror(-err));
	else if (c->deleting && c->has_blob)
		pf_blob_remove(pf, c->id, false); /* after the row: a crash between leaves an orphan reconcile removes */
	/* The recipient's next stored item, now that this one no longer
	 * shows up in its scan. */
	pf_deliver_kick(pf, c->aor, false);
	free(c);
}

/* What an item's end is called in the message store's objects (X-CPM-Disposition). */
static const char *outcome_of(enum store_notif_kind notify, const char *why)
{
	if (notify == STORE_NOTIF_DELIVERED)
		return "delivered";
	if (why && !strncmp(why, "expired", 7))
		return "expired";
	if (why && strstr(why, "declined"))
		return "declined";
	return "failed";
}

void pf_item_finish(struct pf *pf, const struct store_item *it, enum store_notif_kind notify, const char *why)
{
	/* The notification is queued before the delete: writes commit in order. */
	pf_notify_item(pf, it, notify);
	/* the users' message stores first: the item may go on there instead of being removed */
	if (pf_mss_item_ends(pf, it, outcome_of(notify, why)))
		log_info("item %s (%s -> %s): %s; kept for the message store", it->id, it->sender, it->recipient, why);
	else
		pf_item_remove(pf, it, why);
}

bool pf_item_leaving(const struct pf *pf, const char *id)
{
	for (const struct pf_finishing *c = pf->finishing; c; c = c->next)
		if (!strcmp(c->id, id))
			return true;
	return false;
}

int pf_item_leave(struct pf *pf, const struct store_item *it, const struct store_item *update, const char *what)
{
	struct pf_finishing *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->pf = pf;
	PF_COPY(c->id, it->id);
	PF_COPY(c->aor, it->recipient);
	c->has_blob = !it->body_inline;
	c->deleting = update == NULL;
	int rc = update ? store_item_update(pf->st, update, item_left, c) : store_item_del(pf->st, it->id, item_left, c);
	if (pf_store_queued(rc, what)) {
		free(c);
		return rc;
	}
	/* until that write commits, no delivery scan may start the item again */
	c->next = pf->finishing;
	pf->finishing = c;
	return 0;
}

void pf_item_remove(struct pf *pf, const struct store_item *it, const char *why)
{
	log_info("item %s (%s -> %s, \"%.60s\"): %s", it->id, it->sender, it->recipient, it->sel.name, why);
	pf_item_leave(pf, it, NULL, "delete of a finished item");
}
