/* Push wake-up of sleeping devices (issue 13 §6, docs/internals/push.md). A device that
 * registers with RFC 8599 push parameters (pn-provider, pn-prid, pn-param in its Contact URI)
 * is remembered here with them, also after its binding goes (it unregisters, or expires: a
 * sleeping mobile app does both). When an item waits for its user and no device of the user
 * is registered, cpmd POSTs a wake-up to --push-gateway on a worker thread (the loop never
 * waits on HTTP), retried with back-off (--push-retry) while the gateway fails, at most one
 * outstanding per device. The device, woken, registers; delivery then happens as for any
 * device that comes back (pf_deliver_kick).
 * A device that is registered but does not answer a push delivery (its app sleeps and keeps its
 * binding, RFC 8599 §4) is woken at once (pf_push_unanswered), under the same rules; its next
 * registration, a refresh of the same binding, counts as a device coming back.
 * The parameters are also kept in the store (store_push_*: written when they change, deleted
 * when the device registers without them) and loaded at start: a restart, kill -9 included,
 * does not forget a sleeping device. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/str_hash.h"
#include "cpm/pn_params.h"
#include "net/workq.h"
#include "pf/pf_int.h"
#include "push/push_client.h"

#define PUSH_MAX_DEVICES 100000 /* remembered devices; beyond, new ones are not remembered */
#define PUSH_QUEUED 1024        /* POSTs waiting for the worker */
#define PUSH_TIMEOUT_MS 5000
#define PUSH_SWEEP_MS 5000      /* how often bindings that expired are looked at */
/* Buckets of the AOR index: about one device per bucket at the bound (1 MiB of pointers, only
 * with --push-gateway). A REGISTER, a wake-up and a device's expiry look at one AOR's devices:
 * with one list for all, each of them walked every device, and a start with 20,000 devices in
 * the store spent 1.6 s of the loop in its first sweep (quadratic: ~40 s at the bound). */
#define PUSH_BUCKETS (1u << 17)

struct push_dev {
	struct push_dev *next;  /* every device (the sweep) */
	struct push_dev *hnext; /* the devices of the same bucket of the AOR index */
	struct pf *pf;
	char aor[LOC_MAX_AOR];
	char instance[LOC_MAX_INSTANCE];
	struct pn_params pn;
	bool busy;                    /* a POST on the worker or a retry timer: one at a time */
	time_t bound_until;           /* its binding's expiry (location_now() seconds) */
	bool expiry_seen;             /* the sweep looked at it after that expiry */
	bool woken;                   /* a wake-up went (or is going) since it last registered */
	unsigned attempts;            /* failed POSTs of the current wake-up */
	struct loop_timer *retry;
	char woken_for[STORE_ID_MAX + 1]; /* the newest item the last delivered wake-up named */
	struct push_post *post;       /* the POST in flight (busy), or NULL */
};

/* One POST: filled on the loop, read by the worker, its result back on the loop; allocated
 * for the POST only (its 2.3 KiB were part of every remembered device: 230 MB at the bound). */
struct push_post {
	char body[PUSH_BODY_MAX];
	char item[STORE_ID_MAX + 1];
	int status;
	char why[PUSH_WHY_MAX];
};

struct pf_push {
	struct workq *q;
	struct loop_timer *sweep;
	struct push_dev *devs;
	struct push_dev **index; /* PUSH_BUCKETS chains, by aor_hash() */
	size_t n;
};

/* The index keys a device by its user, so a user's devices share a chain. */
static struct push_dev **bucket(struct pf_push *p, const char *aor)
{
	return &p->index[str_hash(aor) & (PUSH_BUCKETS - 1)];
}

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

static int load_cb(void *arg, const struct store_push *rec);

int pf_push_create(struct pf *pf)
{
	if (!pf->cfg.push_gateway[0])
		return 0;
	struct pf_push *p = calloc(1, sizeof *p);
	if (p && !(p->index = calloc(PUSH_BUCKETS, sizeof *p->index))) {
		free(p);
		p = NULL;
	}
	if (!p || workq_create(&p->q, pf->loop, "push", 1, PUSH_QUEUED)) {
		if (p)
			free(p->index);
		free(p);
		log_error("push: cannot start the push gateway worker");
		return -1;
	}
	pf->push = p;
	p->sweep = loop_timer_every(pf->loop, PUSH_SWEEP_MS, sweep, pf);
	if (pf->st && store_push_all(pf->st, PUSH_MAX_DEVICES + 1, load_cb, pf) < 0)
		log_error("push: cannot read the devices' push parameters from the store");
	else if (pf->st)
		log_info("push: %zu devices with push parameters loaded from the store", p->n);
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
	free(p->index);
	free(p);
	pf->push = NULL;
}

static struct push_dev *find(struct pf_push *p, const char *aor, const char *instance)
{
	for (struct push_dev *d = *bucket(p, aor); d; d = d->hnext)
		if (!strcmp(d->aor, aor) && !strcmp(d->instance, instance))
			return d;
	return NULL;
}

/* A new device in the list (its parameters are the caller's to set), or NULL at the bound. */
static struct push_dev *remember(struct pf *pf, const char *aor, const char *instance)
{
	struct pf_push *p = pf->push;
	struct push_dev *d;
	if (p->n == PUSH_MAX_DEVICES || !(d = calloc(1, sizeof *d)))
		return NULL;
	d->pf = pf;
	PF_COPY(d->aor, aor);
	PF_COPY(d->instance, instance);
	d->next = p->devs;
	p->devs = d;
	struct push_dev **b = bucket(p, aor);
	d->hnext = *b;
	*b = d;
	p->n++;
	return d;
}

/* The store's copy follows the device's parameters: written when they change, deleted when it
 * registers without them. A hard write (committed with its fsync, store.md): it is written
 * once per change, not per REGISTER, and is what wakes the device after a crash. */
static void persist(struct pf *pf, const struct push_dev *d)
{
	if (!pf->st)
		return;
	if (!d->pn.provider[0]) {
		pf_store_queued(store_push_del(pf->st, d->aor, d->instance, pf_store_logged, "forgetting push parameters"),
				"forgetting push parameters");
		return;
	}
	struct store_push rec;
	memset(&rec, 0, sizeof rec);
	PF_COPY(rec.aor, d->aor);
	PF_COPY(rec.instance, d->instance);
	PF_COPY(rec.provider, d->pn.provider);
	PF_COPY(rec.prid, d->pn.prid);
	PF_COPY(rec.param, d->pn.param);
	rec.updated_at_ms = pf_now_ms();
	pf_store_queued(store_push_put(pf->st, &rec, pf_store_logged, "push parameters"), "push parameters");
}

/* The binding's expiry of a device (0: not registered now). */
static time_t bound_until(struct pf *pf, const char *aor, const char *instance, struct pn_params *pn, bool *has)
{
	struct loc_device devs[64];
	size_t n = location_lookup(pf->loc, aor, devs, 64);
	time_t until = 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(devs[i].instance, instance)) {
			if (pn)
				*has = pn_params_parse(devs[i].contact, strlen(devs[i].contact), pn);
			until = devs[i].expires_at;
		}
	return until;
}

static int load_cb(void *arg, const struct store_push *rec)
{
	struct pf *pf = arg;
	if (pf->push->n == PUSH_MAX_DEVICES) {
		log_warn("push: more than %d devices with push parameters in the store: the least recently "
			 "registered ones are not woken until they register again",
			 PUSH_MAX_DEVICES);
		return 1;
	}
	/* rows are unique by (aor, instance): no lookup needed */
	struct push_dev *d = remember(pf, rec->aor, rec->instance);
	if (!d)
		return 1;
	PF_COPY(d->pn.provider, rec->provider);
	PF_COPY(d->pn.prid, rec->prid);
	PF_COPY(d->pn.param, rec->param);
	/* not registered (now): the first sweep (pf_push_start) wakes it if something waits */
	d->bound_until = bound_until(pf, rec->aor, rec->instance, NULL, NULL);
	return 0;
}

void pf_push_start(struct pf *pf)
{
	if (pf->push)
		sweep(pf); /* the devices loaded from the store whose binding is gone: items may wait */
}

bool pf_push_registered(struct pf *pf, const char *aor, const char *instance)
{
	struct pf_push *p = pf->push;
	if (!p)
		return false;
	struct pn_params pn;
	bool has = false;
	time_t until = bound_until(pf, aor, instance, &pn, &has);
	struct push_dev *d = find(p, aor, instance);
	bool woken = d && d->woken;
	if (woken) {
		log_info("push: %s device=%s registered again after its wake-up", aor, instance);
		d->woken = false;
	}
	if (!has) {
		if (d && d->pn.provider[0]) {
			d->pn.provider[0] = '\0'; /* registered without: not woken any more (kept if busy) */
			persist(pf, d);
		}
		return woken;
	}
	if (!d && !(d = remember(pf, aor, instance))) {
		log_warn("push: %zu devices remembered already: %s device=%s will not be woken", p->n, aor, instance);
		return woken;
	}
	if (strcmp(d->pn.provider, pn.provider) || strcmp(d->pn.prid, pn.prid) || strcmp(d->pn.param, pn.param)) {
		log_info("push: %s device=%s can be woken via pn-provider=%s", aor, instance, pn.provider);
		d->pn = pn;
		persist(pf, d);
	}
	d->attempts = 0; /* it is here: a failing wake-up of before is moot */
	d->bound_until = until;
	d->expiry_seen = false;
	return woken;
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
	struct push_dev *d = arg; /* only d->post: the loop does not touch it meanwhile */
	struct push_post *po = d->post;
	po->why[0] = '\0';
	po->status = push_post(d->pf->cfg.push_gateway, po->body, PUSH_TIMEOUT_MS, po->why, sizeof po->why);
}

static void retry_fire(void *arg);

static void post_done(void *arg, int err)
{
	struct push_dev *d = arg;
	struct pf *pf = d->pf;
	struct push_post *po = d->post;
	d->post = NULL;
	if (!err && po->status >= 200 && po->status < 300) {
		log_info("push: woke %s device=%s (item %s): gateway answered %d", d->aor, d->instance, po->item,
			 po->status);
		PF_COPY(d->woken_for, po->item);
		d->attempts = 0;
		d->busy = false;
		free(po);
		return;
	}
	if (err == -ECANCELED || pf->stopping) {
		d->busy = false;
		free(po);
		return;
	}
	d->attempts++;
	unsigned delay = pf->cfg.push_retry_min;
	for (unsigned i = 1; i < d->attempts && delay < pf->cfg.push_retry_max; i++)
		delay *= 2;
	if (delay > pf->cfg.push_retry_max)
		delay = pf->cfg.push_retry_max;
	if (!err && po->status > 0)
		log_warn("push: wake-up of %s device=%s: gateway answered %d; attempt %u, again in %u s", d->aor,
			 d->instance, po->status, d->attempts, delay);
	else
		log_warn("push: wake-up of %s device=%s failed: %s; attempt %u, again in %u s", d->aor, d->instance,
			 err ? "queue full" : po->why, d->attempts, delay);
	free(po);
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

/* Wakes device d for the item it (the user's newest waiting one), unless one of its wake-ups is
 * outstanding or its last one named that item already (the rules of docs/internals/push.md). */
static void wake_one(struct pf_push *p, struct push_dev *d, const struct store_item *it)
{
	if (d->busy || !d->pn.provider[0] || (!d->attempts && !strcmp(d->woken_for, it->id)))
		return;
	struct push_wake w = {.aor = d->aor, .provider = d->pn.provider, .prid = d->pn.prid, .param = d->pn.param,
			      .item = it->id, .kind = it->kind == STORE_KIND_MESSAGE ? "message" : "file",
			      .from = it->sender};
	struct push_post *po = calloc(1, sizeof *po);
	if (!po)
		return; /* out of memory: the next kick or sweep tries again */
	if (push_body(&w, po->body, sizeof po->body) < 0) {
		free(po);
		return; /* bounded fields: does not happen */
	}
	PF_COPY(po->item, it->id);
	d->post = po;
	d->busy = true;
	d->woken = true;
	int rc = workq_submit(p->q, post_work, post_done, d);
	if (rc)
		post_done(d, rc); /* counts as a failed attempt: retried later */
}

/* The newest item waiting for aor: true when there is one. */
static bool newest_item(struct pf *pf, const char *aor, struct newest *nw)
{
	nw->found = false;
	return store_items_for_recipient(pf->st, aor, 64, newest_cb, nw) >= 0 && nw->found;
}

void pf_push_wake(struct pf *pf, const char *aor)
{
	struct pf_push *p = pf->push;
	if (!p || pf->stopping || !pf->st)
		return;
	struct newest nw;
	bool looked = false;
	for (struct push_dev *d = *bucket(p, aor); d; d = d->hnext) {
		if (d->busy || !d->pn.provider[0] || strcmp(d->aor, aor))
			continue;
		if (!looked) {
			looked = true;
			struct loc_device devs[1];
			if (pf_devices(pf, aor, devs, 1) > 0)
				return; /* a device is registered: delivery goes to it as usual */
			if (!newest_item(pf, aor, &nw))
				return;
		}
		wake_one(p, d, &nw.it);
	}
}

void pf_push_unanswered(struct pf *pf, const char *aor, const char *instance)
{
	struct pf_push *p = pf->push;
	if (!p || pf->stopping || !pf->st)
		return;
	struct push_dev *d = find(p, aor, instance);
	struct newest nw;
	if (!d || d->busy || !d->pn.provider[0] || !newest_item(pf, aor, &nw))
		return;
	log_info("push: %s device=%s is registered but did not answer: waking it", aor, instance);
	wake_one(p, d, &nw.it);
}
