/* Push wake-up of sleeping devices (issue 13 §6, docs/internals/push.md). A device that
 * registers with RFC 8599 push parameters (pn-provider, pn-prid, pn-param in its Contact URI)
 * is remembered here with them, also after its binding goes (it unregisters, or expires: a
 * sleeping mobile app does both). When an item waits for its user and no device of the user
 * is registered, cpmd POSTs a wake-up to --push-gateway on a worker thread (the loop never
 * waits on HTTP), retried with back-off (--push-retry) while the gateway fails, at most one
 * outstanding per device. The device, woken, registers; delivery then happens as for any
 * device that comes back (pf_deliver_kick).
 * Memory only: a restart forgets the push parameters until each device registers again
 * (mobile apps refresh their registration when woken or started). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "cpm/pn_params.h"
#include "net/workq.h"
#include "pf/pf_int.h"
#include "push/push_client.h"

#define PUSH_MAX_DEVICES 100000 /* remembered devices; beyond, new ones are not remembered */
#define PUSH_QUEUED 1024        /* POSTs waiting for the worker */
#define PUSH_TIMEOUT_MS 5000
#define PUSH_SWEEP_MS 5000      /* how often bindings that expired are looked at */

struct push_dev {
	struct push_dev *next;
	struct pf *pf;
	char aor[LOC_MAX_AOR];
	char instance[LOC_MAX_INSTANCE];
	struct pn_params pn;
	bool busy;                    /* a POST on the worker or a retry timer: one at a time */
	time_t bound_until;           /* its binding's expiry (location_now() seconds) */
	bool expiry_seen;             /* the sweep looked at it after that expiry */
	unsigned attempts;            /* failed POSTs of the current wake-up */
	struct loop_timer *retry;
	char woken_for[STORE_ID_MAX + 1]; /* the newest item the last delivered wake-up named */
	/* the POST in flight (filled on the loop, read by the worker, result back on the loop) */
	char body[PUSH_BODY_MAX];
	char item[STORE_ID_MAX + 1];
	int status;
	char why[PUSH_WHY_MAX];
};

struct pf_push {
	struct workq *q;
	struct loop_timer *sweep;
	struct push_dev *devs;
	size_t n;
};

/* A binding that expires while items wait (a phone that went to sleep without unregistering,
 * or whose app was killed) has had no kick since the items were stored with the binding still
 * there: once it has expired, wake its device. Each expiry is looked at once; the device's own
 * wake-up rules (one outstanding, once per item) still apply. */
static void sweep(void *arg)
{
	struct pf *pf = arg;
	time_t now = location_now();
	for (struct push_dev *d = pf->push->devs; d; d = d->next)
		if (!d->expiry_seen && d->bound_until <= now) {
			d->expiry_seen = true;
			if (d->pn.provider[0] && !d->busy)
				pf_push_wake(pf, d->aor);
		}
}

int pf_push_create(struct pf *pf)
{
	if (!pf->cfg.push_gateway[0])
		return 0;
	struct pf_push *p = calloc(1, sizeof *p);
	if (!p || workq_create(&p->q, pf->loop, "push", 1, PUSH_QUEUED)) {
		free(p);
		log_error("push: cannot start the push gateway worker");
		return -1;
	}
	pf->push = p;
	p->sweep = loop_timer_every(pf->loop, PUSH_SWEEP_MS, sweep, pf);
	log_info("push: wake-ups of devices with RFC 8599 push parameters go to %s", pf->cfg.push_gateway);
	return 0;
}

void pf_push_destroy(struct pf *pf)
{
	struct pf_push *p = pf->push;
	if (!p)
		return;
	if (p->sweep)
		loop_timer_stop(p->sweep);
	workq_destroy(p->q); /* every POST's done runs here: no device is referenced after */
	for (struct push_dev *d = p->devs, *next; d; d = next) {
		next = d->next;
		if (d->retry)
			loop_timer_stop(d->retry);
		free(d);
	}
	free(p);
	pf->push = NULL;
}

static struct push_dev *find(struct pf_push *p, const char *aor, const char *instance)
{
	for (struct push_dev *d = p->devs; d; d = d->next)
		if (!strcmp(d->aor, aor) && !strcmp(d->instance, instance))
			return d;
	return NULL;
}

void pf_push_registered(struct pf *pf, const char *aor, const char *instance)
{
	struct pf_push *p = pf->push;
	if (!p)
		return;
	struct loc_device devs[64];
	size_t n = location_lookup(pf->loc, aor, devs, 64);
	struct pn_params pn;
	bool has = false;
	time_t until = 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(devs[i].instance, instance)) {
			has = pn_params_parse(devs[i].contact, strlen(devs[i].contact), &pn);
			until = devs[i].expires_at;
		}
	struct push_dev *d = find(p, aor, instance);
	if (!has) {
		if (d)
			d->pn.provider[0] = '\0'; /* registered without: not woken any more (kept if busy) */
		return;
	}
	if (!d) {
		if (p->n == PUSH_MAX_DEVICES || !(d = calloc(1, sizeof *d))) {
			log_warn("push: %zu devices remembered already: %s device=%s will not be woken", p->n, aor,
				 instance);
			return;
		}
		d->pf = pf;
		PF_COPY(d->aor, aor);
		PF_COPY(d->instance, instance);
		d->next = p->devs;
		p->devs = d;
		p->n++;
	}
	if (strcmp(d->pn.provider, pn.provider) || strcmp(d->pn.prid, pn.prid) || strcmp(d->pn.param, pn.param))
		log_info("push: %s device=%s can be woken via pn-provider=%s", aor, instance, pn.provider);
	d->pn = pn;
	d->attempts = 0; /* it is here: a failing wake-up of before is moot */
	d->bound_until = until;
	d->expiry_seen = false;
}

/* the newest waiting item of the user (the scan gives oldest first) */
struct newest {
	struct store_item it;
	bool found;
};
static int newest_cb(void *arg, const struct store_item *it)
{
	struct newest *n = arg;
	n->it = *it;
	n->found = true;
	return 0;
}

static void post_work(void *arg)
{
	struct push_dev *d = arg; /* only the POST's fields: the loop does not touch them meanwhile */
	d->why[0] = '\0';
	d->status = push_post(d->pf->cfg.push_gateway, d->body, PUSH_TIMEOUT_MS, d->why, sizeof d->why);
}

static void retry_fire(void *arg);

static void post_done(void *arg, int err)
{
	struct push_dev *d = arg;
	struct pf *pf = d->pf;
	if (!err && d->status >= 200 && d->status < 300) {
		log_info("push: woke %s device=%s (item %s): gateway answered %d", d->aor, d->instance, d->item,
			 d->status);
		PF_COPY(d->woken_for, d->item);
		d->attempts = 0;
		d->busy = false;
		return;
	}
	if (err == -ECANCELED || pf->stopping) {
		d->busy = false;
		return;
	}
	d->attempts++;
	unsigned delay = pf->cfg.push_retry_min;
	for (unsigned i = 1; i < d->attempts && delay < pf->cfg.push_retry_max; i++)
		delay *= 2;
	if (delay > pf->cfg.push_retry_max)
		delay = pf->cfg.push_retry_max;
	if (d->status > 0)
		log_warn("push: wake-up of %s device=%s: gateway answered %d; attempt %u, again in %u s", d->aor,
			 d->instance, d->status, d->attempts, delay);
	else
		log_warn("push: wake-up of %s device=%s failed: %s; attempt %u, again in %u s", d->aor, d->instance,
			 err ? "queue full" : d->why, d->attempts, delay);
	d->retry = loop_timer_once(pf->loop, delay * 1000, retry_fire, d);
	if (!d->retry)
		d->busy = false;
}

static void retry_fire(void *arg)
{
	struct push_dev *d = arg;
	loop_timer_stop(d->retry);
	d->retry = NULL;
	d->busy = false;
	pf_push_wake(d->pf, d->aor); /* still nothing registered? then again */
}

void pf_push_wake(struct pf *pf, const char *aor)
{
	struct pf_push *p = pf->push;
	if (!p || pf->stopping || !pf->st)
		return;
	struct newest nw = {.found = false};
	bool looked = false;
	for (struct push_dev *d = p->devs; d; d = d->next) {
		if (d->busy || !d->pn.provider[0] || strcmp(d->aor, aor))
			continue;
		if (!looked) {
			looked = true;
			struct loc_device devs[1];
			if (pf_devices(pf, aor, devs, 1) > 0)
				return; /* a device is registered: delivery goes to it as usual */
			if (store_items_for_recipient(pf->st, aor, 64, newest_cb, &nw) < 0 || !nw.found)
				return;
		}
		if (!d->attempts && !strcmp(d->woken_for, nw.it.id))
			continue; /* woken for it already */
		struct push_wake w = {.aor = aor, .provider = d->pn.provider, .prid = d->pn.prid,
				      .param = d->pn.param, .item = nw.it.id,
				      .kind = nw.it.kind == STORE_KIND_MESSAGE ? "message" : "file",
				      .from = nw.it.sender};
		if (push_body(&w, d->body, sizeof d->body) < 0)
			continue; /* bounded fields: does not happen */
		PF_COPY(d->item, nw.it.id);
		d->busy = true;
		int rc = workq_submit(p->q, post_work, post_done, d);
		if (rc)
			post_done(d, rc); /* counts as a failed attempt: retried later */
	}
}
