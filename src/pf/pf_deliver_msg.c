/* Push delivery of a stored pager message (docs/internals/messaging.md §3): an item of kind
 * message whose body is inline in its row goes to every device of its recipient as a MESSAGE,
 * from the original sender (Referred-By), the body unchanged. The attempt is recorded first (a
 * delivery row per device, committed: store_sync orders the send after it); the first 2xx
 * makes the item delivered (dlv_push_done → pf_item_finish). A crash between a device's 2xx
 * and the item's delete sends it again after the restart: the device drops the repeat by its
 * imdn.Message-ID. Retries and back-off are the files' (pf_deliver_later). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "cpm/icsi.h"
#include "pf/pf_dlv.h"

static const struct sip_fork_ops push_msg_ops = {
	.done = dlv_push_done, /* every 2xx is fine: no SDP */
	.classify = dlv_push_classify,
};

/* The attempt is durable: the MESSAGE fork to every device of the recipient now. */
static int push_msg_fork(struct dlv *d)
{
	struct pf *pf = d->pf;
	struct cpm_arena tmp = CPM_ARENA_INIT;
	const struct store_item *it = &d->it;
	size_t len = 0;
	int rc = -1;
	char *body = cpm_arena_alloc_raw(&tmp, STORE_MSG_INLINE_MAX);
	struct loc_device *devs = cpm_arena_alloc(&tmp, pf->cfg.max_devices * sizeof *devs);
	size_t nd = devs ? pf_devices(pf, d->aor, devs, pf->cfg.max_devices) : 0;
	int brc = body ? store_item_body_get(pf->st, it->id, body, STORE_MSG_INLINE_MAX, &len) : -ENOMEM;
	if (brc) {
		log_error("dlv %s: cannot read message item %s: %s", d->id, it->id, strerror(-brc));
		goto out;
	}
	if (nd == 0) {
		log_info("dlv %s: %s has no device any more: message item %s waits", d->id, d->aor, it->id);
		goto out;
	}
	char *from = cpm_arena_printf(&tmp, "<%s>", it->sender);
	char *to = cpm_arena_printf(&tmp, "<sip:%s>", it->recipient);
	char *hdrs = dlv_push_headers(pf, it, &tmp, CPM_MSG_ICSI_TAG);
	if (!from || !to || !hdrs)
		goto out;
	struct sip_body b = {.content_type = it->sel.type, .data = body, .len = len};
	struct sip_request rq = {.to = to, .from = from, .body = &b, .headers = hdrs};
	struct sip_fork_params fp = {
		.method = SIP_FORK_MESSAGE,
		.request = &rq,
		.timeout_ms = pf->cfg.message_timeout * 1000,
		.max_branches = pf->cfg.max_devices, /* room for every device that registers meanwhile */
		.log_id = d->id,
	};
	if (sip_fork_create(&d->fork, pf->sipua, pf->loop, &fp, &push_msg_ops, d))
		goto out;
	d->state = DLV_FORKING;
	log_info("dlv %s: pushing message item %s (%zu bytes) from %s to %s: %zu device(s)", d->id, it->id, len,
		 it->sender, it->recipient, nd);
	for (size_t i = 0; i < nd; i++) {
		struct sip_target t;
		pf_target_of(&devs[i], &t);
		sip_fork_add(d->fork, &t, devs[i].instance);
	}
	rc = 0;
	sip_fork_start(d->fork); /* every branch may fail at once: push_done from here (d may go) */
out:
	cpm_arena_free(&tmp);
	return rc;
}

static void push_msg_recorded(void *arg, int err)
{
	struct dlv *d = arg;
	d->store_refs--;
	if (d->state != DLV_RECORDING || d->aborted || d->pf->stopping) {
		d->state = DLV_ENDING;
		dlv_maybe_free(d);
		return;
	}
	if (err)
		log_error("dlv %s: the attempt to deliver item %s was not recorded: %s (sent anyway: the device"
			  " drops a repeat)", d->id, d->it.id, strerror(-err));
	if (push_msg_fork(d)) {
		d->state = DLV_ENDING;
		pf_deliver_later(d->pf, d->aor);
		dlv_maybe_free(d);
	}
}

/* A pager message: one delivery row per device (attempts counted), committed, then the fork.
 * If cpmd dies after a device's 2xx and before the item's delete, the next start sends it
 * again (the device drops the repeat, messaging.md §3). */
int dlv_start_push_msg(struct pf *pf, const struct store_item *it, const struct loc_device *devs, size_t nd)
{
	struct dlv *d = dlv_new(pf, it, false);
	if (!d)
		return -1;
	d->msg = true;
	d->state = DLV_RECORDING;
	for (size_t i = 0; i < nd; i++) {
		struct store_delivery rec;
		if (store_delivery_get(pf->st, it->id, devs[i].instance, &rec)) {
			memset(&rec, 0, sizeof rec);
			PF_COPY(rec.item_id, it->id);
			PF_COPY(rec.instance, devs[i].instance);
		}
		rec.attempts++;
		rec.state = STORE_DLV_ACTIVE;
		rec.next_attempt_at_ms = pf_now_ms();
		/* a lost record only loses the count: the barrier below still orders the send */
		pf_store_queued(store_delivery_put(pf->st, &rec, pf_store_logged, "a delivery attempt"),
				"a delivery attempt");
	}
	if (pf_store_queued(store_sync(pf->st, push_msg_recorded, d), "a delivery attempt")) {
		d->aborted = true;
		dlv_end(d);
		return -1;
	}
	d->store_refs++;
	return 0;
}

