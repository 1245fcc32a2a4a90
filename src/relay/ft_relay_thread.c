/* Issue 12: the public calls of relay/ft_relay.h, wherever the relay lives.
 *
 * pf calls the relay API on the main thread. A relay of a big transfer lives on a worker loop
 * (net: hub_pick), with both its connections, so that its per-chunk work never leaves that
 * thread. Each call here therefore runs its body (ftr_X) directly when the caller is on the
 * relay's loop (always so without --workers: exactly the old path), and otherwise as a
 * closure on that loop while the caller waits (hub_call: an eventfd write and a condvar
 * wake-up, a few per transfer; bench/results/issue12-workers-*.txt has the round trip).
 *
 * The other direction: a worker relay's done() and event() are not called on the worker;
 * they are posted to the main loop (the detail text copied) and run there, keyed by the relay.
 * ft_relay_destroy() runs the body on the worker first, after which the relay posts nothing
 * more, and then discards what it had posted and the main loop has not run yet: so no callback
 * ever runs after its owner destroyed the relay, as ft_relay.h promises. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "relay/ft_relay_priv.h"

/* ---------------------------------------------------------------- callbacks back to main */

struct relay_proxy {
	struct msrp_hub *main;
	struct ft_relay *r; /* set on the worker, inside the create call */
	ft_relay_done_f *done;
	ft_relay_event_f *event;
	void *arg;
};

#define CB_DETAIL_MAX 256

struct cb_job {
	struct hub_job j; /* first */
	struct relay_proxy *px;
	bool is_event;
	enum ft_relay_result res;
	char detail[CB_DETAIL_MAX];
};

static void cb_run(struct hub_job *j, bool run)
{
	struct cb_job *cb = (struct cb_job *)j;

	/* (px may be freed by a destroy inside the callback: not touched after it) */
	if (run && cb->is_event)
		cb->px->event(cb->px->arg, cb->res, cb->detail);
	else if (run)
		cb->px->done(cb->px->arg, cb->res, cb->detail);
	free(cb);
}

static void cb_post(struct relay_proxy *px, bool is_event, enum ft_relay_result res, const char *detail)
{
	struct cb_job *cb = calloc(1, sizeof *cb);

	if (!cb) {
		msrp_log("relay: out of memory for a callback to the main loop (%s lost)", ft_relay_result_str(res));
		return;
	}
	cb->j.fn = cb_run;
	cb->j.key = px->r;
	cb->px = px;
	cb->is_event = is_event;
	cb->res = res;
	snprintf(cb->detail, sizeof cb->detail, "%s", detail ? detail : "");
	hub_post(px->main, &cb->j);
}

static void post_done(void *arg, enum ft_relay_result res, const char *detail) { cb_post(arg, false, res, detail); }
static void post_event(void *arg, enum ft_relay_result ev, const char *detail) { cb_post(arg, true, ev, detail); }

/* ---------------------------------------------------------------- calls into the relay's loop */

enum op {
	OP_CREATE, OP_CREATE_SOURCE, OP_SECURE, OP_PEER, OP_CONNECT, OP_BYTES, OP_SHA1, OP_MAXQ, OP_DESTROY,
	OP_DETACH, OP_ACK, OP_REFUSE, OP_ACKHDR, OP_DUP, OP_ACKED, OP_TAKE_INPUT,
};

struct call {
	struct hub_job j; /* first */
	enum op op;
	struct ft_relay *r;
	int leg, i;
	const char *s1, *s2;
	const void *p;
	uint8_t *out;
	struct msrp_hub *h;
	struct relay_proxy *px;
	int64_t ret;
	uint64_t u;
};

static void call_run(struct hub_job *j, bool run)
{
	struct call *c = (struct call *)j;
	struct ft_relay *r = c->r;
	enum ft_relay_leg leg = (enum ft_relay_leg)c->leg;

	if (!run)
		return;
	switch (c->op) {
	case OP_CREATE:
		c->ret = ftr_create(&c->r, c->h, c->p, post_done, c->px);
		c->px->r = c->r;
		break;
	case OP_CREATE_SOURCE:
		c->ret = ftr_create_source(&c->r, c->h, c->p, post_done, c->px);
		c->px->r = c->r;
		break;
	case OP_SECURE: c->ret = ftr_leg_secure(r, leg); break;
	case OP_PEER: c->ret = ftr_set_peer_path(r, leg, c->s1); break;
	case OP_CONNECT: c->ret = ftr_connect(r, leg, c->s1); break;
	case OP_BYTES: c->u = ftr_bytes(r); break;
	case OP_SHA1: c->ret = ftr_sha1(r, c->out); break;
	case OP_MAXQ: c->u = ftr_max_queued(r, leg); break;
	case OP_DESTROY: ftr_destroy(r); break;
	case OP_DETACH: c->ret = ftr_detach_down(r); break;
	case OP_ACK: c->ret = ftr_ack_received(r, c->i); break;
	case OP_REFUSE: c->ret = ftr_refuse_received(r, c->i, c->s1); break;
	case OP_ACKHDR: c->ret = ftr_set_ack_header(r, c->s1, c->s2); break;
	case OP_DUP: c->ret = ftr_blob_dup(r); break;
	case OP_ACKED: c->u = ftr_bytes_acked(r); break;
	case OP_TAKE_INPUT: ftr_take_input(r); break;
	}
}

/* The relay's hub is written once, at creation, before the relay is handed out. */
static bool here(const struct ft_relay *r) { return hub_is_mine(r->hub); }

static struct call *call_on(struct msrp_hub *h, struct call *c)
{
	c->j.fn = call_run;
	hub_call(h, &c->j);
	return c;
}

#define CALL(R, ...) call_on((R)->hub, &(struct call){.r = (struct ft_relay *)(R), __VA_ARGS__})

/* A relay of `size` bytes on the hub hub_pick() names; the callbacks come back to main. */
static int create_on(struct ft_relay **rp, struct msrp_hub *h, struct msrp_hub *to, enum op op, const void *p,
		     ft_relay_done_f *done, ft_relay_event_f *event, void *arg)
{
	struct relay_proxy *px = calloc(1, sizeof *px);
	struct call *c;

	*rp = NULL;
	if (!px)
		return -ENOMEM;
	px->main = h;
	px->done = done;
	px->event = event;
	px->arg = arg;
	c = call_on(to, &(struct call){.op = op, .h = to, .p = p, .px = px});
	if (c->ret) {
		free(px);
		return (int)c->ret;
	}
	hub_load(to, +1);
	*rp = c->r;
	return 0;
}

int ft_relay_create(struct ft_relay **rp, struct msrp_hub *h, const struct ft_relay_params *p,
		    ft_relay_done_f *done, void *arg)
{
	/* a message's size is not known yet (size_from_range): it stays on the main loop */
	struct msrp_hub *to = h && p && !p->size_from_range ? hub_pick(h, p->size) : h;
	struct ft_relay_params q;

	if (to == h)
		return ftr_create(rp, h, p, done, arg);
	q = *p;
	q.event = p->event ? post_event : NULL;
	return create_on(rp, h, to, OP_CREATE, &q, done, p->event, arg);
}

int ft_relay_create_source(struct ft_relay **rp, struct msrp_hub *h, const struct ft_relay_source_params *p,
			   ft_relay_done_f *done, void *arg)
{
	struct msrp_hub *to = h && p ? hub_pick(h, p->length ? p->length : p->size - (p->offset < p->size ? p->offset : p->size)) : h;

	if (to == h)
		return ftr_create_source(rp, h, p, done, arg);
	return create_on(rp, h, to, OP_CREATE_SOURCE, p, done, NULL, arg);
}

void ft_relay_deliver_pending(struct ft_relay *r)
{
	struct msrp_hub *main;
	struct hub_job *j;

	if (!r)
		return;
	/* First the relay's loop reads what its peers sent before the SIP news that brought us
	 * here (the device's REPORT ahead of its BYE) and, being a call that runs after whatever
	 * that loop was doing, lets it finish the step that led the peer to that news: the relay
	 * forwards the device's REPORT to the sender and only then ends and posts done(), so the
	 * sender's BYE can reach us before the post. Without this barrier the BYE found nothing
	 * pending and the delivered transfer ended as if the sender had left (no history). */
	if (here(r)) {
		ftr_take_input(r); /* done() runs in there, if it comes */
		return;
	}
	CALL(r, .op = OP_TAKE_INPUT);
	main = ((struct relay_proxy *)r->arg)->main;
	/* One at a time, oldest first: a callback may destroy the relay (hub_purge then empties
	 * the rest), and a done() is the last thing a relay says. r is only a key from here on. */
	while ((j = hub_take(main, r))) {
		bool last = !((struct cb_job *)j)->is_event;

		cb_run(j, true);
		if (last)
			break;
	}
}

void ft_relay_destroy(struct ft_relay *r)
{
	struct msrp_hub *h;
	struct relay_proxy *px;

	if (!r)
		return;
	if (here(r)) {
		ftr_destroy(r);
		return;
	}
	h = r->hub;
	px = r->arg; /* (a worker relay's arg is its proxy, written at creation) */
	CALL(r, .op = OP_DESTROY);
	/* the relay is gone on its loop: what it posted and main has not run is dropped */
	hub_purge(px->main, r);
	hub_load(h, -1);
	free(px);
}

int ft_relay_leg_secure(struct ft_relay *r, enum ft_relay_leg leg)
{
	return here(r) ? ftr_leg_secure(r, leg) : (int)CALL(r, .op = OP_SECURE, .leg = leg)->ret;
}

int ft_relay_set_peer_path(struct ft_relay *r, enum ft_relay_leg leg, const char *path)
{
	if (!r || here(r))
		return ftr_set_peer_path(r, leg, path);
	return (int)CALL(r, .op = OP_PEER, .leg = leg, .s1 = path)->ret;
}

int ft_relay_connect(struct ft_relay *r, enum ft_relay_leg leg, const char *fingerprint)
{
	if (!r || here(r))
		return ftr_connect(r, leg, fingerprint);
	return (int)CALL(r, .op = OP_CONNECT, .leg = leg, .s1 = fingerprint)->ret;
}

uint64_t ft_relay_bytes(const struct ft_relay *r)
{
	return here(r) ? ftr_bytes(r) : CALL(r, .op = OP_BYTES)->u;
}

bool ft_relay_sha1(const struct ft_relay *r, uint8_t out[20])
{
	return here(r) ? ftr_sha1(r, out) : CALL(r, .op = OP_SHA1, .out = out)->ret != 0;
}

size_t ft_relay_max_queued(const struct ft_relay *r, enum ft_relay_leg leg)
{
	return here(r) ? ftr_max_queued(r, leg) : (size_t)CALL(r, .op = OP_MAXQ, .leg = leg)->u;
}

int ft_relay_detach_down(struct ft_relay *r)
{
	if (!r || here(r))
		return ftr_detach_down(r);
	return (int)CALL(r, .op = OP_DETACH)->ret;
}

int ft_relay_ack_received(struct ft_relay *r, int err)
{
	if (!r || here(r))
		return ftr_ack_received(r, err);
	return (int)CALL(r, .op = OP_ACK, .i = err)->ret;
}

int ft_relay_refuse_received(struct ft_relay *r, int status, const char *comment)
{
	if (!r || here(r))
		return ftr_refuse_received(r, status, comment);
	return (int)CALL(r, .op = OP_REFUSE, .i = status, .s1 = comment)->ret;
}

int ft_relay_set_ack_header(struct ft_relay *r, const char *name, const char *value)
{
	if (!r || here(r))
		return ftr_set_ack_header(r, name, value);
	return (int)CALL(r, .op = OP_ACKHDR, .s1 = name, .s2 = value)->ret;
}

int ft_relay_blob_dup(const struct ft_relay *r)
{
	if (!r || here(r))
		return ftr_blob_dup(r);
	return (int)CALL(r, .op = OP_DUP)->ret;
}

uint64_t ft_relay_bytes_acked(const struct ft_relay *r)
{
	if (!r || here(r))
		return ftr_bytes_acked(r);
	return CALL(r, .op = OP_ACKED)->u;
}
