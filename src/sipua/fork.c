/* The fork engine's glue (fork.h): branches are client legs owned by the fork, the timer is
 * a loop timer, and every decision is fork_sm's; this file only carries its actions out, in
 * order, and keeps the fork alive until its last leg ended. */
#include "sipua/fork.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "cpm/arena.h"
#include "net/loop.h"
#include "sipua/fork_sm.h"
#include "sipua/sipua_int.h"

#define FORK_DEVICE_MAX 256 /* a device key (LOC_MAX_INSTANCE) */
#define FORK_LOG_ID_MAX 64
#define FORK_REASON_MAX 160

struct fork_branch {
	struct sip_fork *f;
	unsigned idx;
	struct sip_leg *leg; /* NULL: never sent, ended, or handed to the owner (winner) */
	char device[FORK_DEVICE_MAX];
};

struct sip_fork {
	struct sip_fork *next, *prev; /* in sipua's list */
	struct sipua *ua;
	struct loop *loop;
	struct fork_sm sm;
	struct fork_sm_branch *smb;
	struct fork_branch *br;
	struct fork_sm_action *acts;
	size_t nacts;
	struct cpm_arena mem; /* the request, the arrays */
	struct sip_request req;
	struct sip_body body;
	struct sip_fork_ops ops;
	void *owner;
	struct loop_timer *timer;
	unsigned timeout_ms;
	unsigned busy;  /* fork code on the stack (callbacks may destroy the fork) */
	bool destroyed; /* the owner is gone: no more callbacks */
	char log_id[FORK_LOG_ID_MAX];
	char cancel_reason[FORK_REASON_MAX];
};

static void fork_free(struct sip_fork *f)
{
	struct sipua *s = f->ua;

	if (f->prev)
		f->prev->next = f->next;
	else if (s->forks == f)
		s->forks = f->next;
	if (f->next)
		f->next->prev = f->prev;
	loop_timer_stop(f->timer);
	for (unsigned i = 0; i < f->sm.n; i++)
		if (f->br[i].leg) {
			sip_leg_release(f->br[i].leg);
			f->br[i].leg = NULL;
		}
	cpm_arena_free(&f->mem);
	free(f);
}

static bool has_live_legs(const struct sip_fork *f)
{
	for (unsigned i = 0; i < f->sm.n; i++)
		if (f->br[i].leg)
			return true;
	return false;
}

/* Frees a destroyed fork once nothing of it runs and its last leg ended. */
static void maybe_free(struct sip_fork *f)
{
	if (f->destroyed && !f->busy && !has_live_legs(f))
		fork_free(f);
}

void sipua_forks_free_all(struct sipua *s)
{
	while (s->forks)
		fork_free(s->forks);
}

/* ---------------------------------------------------------------- carrying out actions */

static void run(struct sip_fork *f, struct fork_sm_out *out, const struct sip_msg *m);

static void out_init(struct sip_fork *f, struct fork_sm_out *out)
{
	out->a = f->acts;
	out->n = 0;
	out->cap = f->nacts;
}

static void do_done(struct sip_fork *f)
{
	struct sip_fork_result r = *fork_sm_result(&f->sm);
	struct fork_branch *b = &f->br[r.branch];

	if (r.outcome == SIP_FORK_ANSWERED || r.outcome == SIP_FORK_ENDED)
		r.device = b->device;
	if (r.outcome == SIP_FORK_ANSWERED) {
		/* the winner is the owner's from now on: unbound until the owner binds it (an
		 * unbound leg is released by sipua when its call ends) */
		r.winner = b->leg;
		b->leg = NULL;
		sip_leg_bind(r.winner, NULL, NULL);
	}
	if (!f->destroyed && f->ops.done)
		f->ops.done(f->owner, f, &r);
}

static void run(struct sip_fork *f, struct fork_sm_out *out, const struct sip_msg *m)
{
	/* The actions are copied out first: ASK_ACCEPT runs the machine again. */
	struct fork_sm_action a[out->n ? out->n : 1];
	size_t n = out->n;

	memcpy(a, out->a, n * sizeof a[0]);
	f->busy++;
	for (size_t k = 0; k < n; k++) {
		struct fork_branch *b = &f->br[a[k].branch];
		switch (a[k].kind) {
		case FORK_ACT_CANCEL:
			if (b->leg && sip_leg_cancel(b->leg, a[k].reason))
				log_info("%s: branch %u (%s) cancelled: %s", f->log_id, a[k].branch, b->device, a[k].reason);
			break;
		case FORK_ACT_BYE:
			if (a[k].late)
				log_info("%s: branch %u answered late; hanging it up", f->log_id, a[k].branch);
			sip_leg_bye(b->leg);
			break;
		case FORK_ACT_PROGRESS:
			if (!f->destroyed && f->ops.progress)
				f->ops.progress(f->owner, f, a[k].branch, a[k].status);
			break;
		case FORK_ACT_ASK_ACCEPT: {
			bool ok = !f->destroyed && b->leg &&
				  (!f->ops.accept || f->ops.accept(f->owner, f, a[k].branch, b->leg, m));
			struct fork_sm_out again;
			out_init(f, &again);
			fork_sm_accept(&f->sm, a[k].branch, ok, &again);
			run(f, &again, m);
			break;
		}
		case FORK_ACT_STOP_TIMER:
			loop_timer_stop(f->timer);
			f->timer = NULL;
			break;
		case FORK_ACT_DONE:
			do_done(f);
			break;
		}
	}
	f->busy--;
}

/* ---------------------------------------------------------------- branch legs */

static void on_branch(void *owner, struct sip_leg *leg, enum sip_leg_event ev, const struct sip_msg *m)
{
	struct fork_branch *b = owner;
	struct sip_fork *f = b->f;
	struct fork_sm_out out;
	int status = sip_msg_status(m);

	out_init(f, &out);
	f->busy++;
	switch (ev) {
	case SIP_LEG_PROGRESS:
		fork_sm_provisional(&f->sm, b->idx, status, &out);
		break;
	case SIP_LEG_ANSWERED:
		fork_sm_answered(&f->sm, b->idx, status, &out);
		break;
	case SIP_LEG_FAILED: {
		enum sip_fork_class cls = SIP_FORK_UNAVAILABLE;
		if (fork_sm_is_ringing(&f->sm)) {
			log_info("%s: branch %u (%s) answered %d %s", f->log_id, b->idx, b->device, status,
				 sip_msg_phrase(m));
			cls = !f->destroyed && f->ops.classify ? f->ops.classify(f->owner, status)
							       : sip_fork_default_class(status);
		}
		fork_sm_failed(&f->sm, b->idx, status, sip_msg_phrase(m), cls, &out);
		break;
	}
	case SIP_LEG_REINVITE: /* sipua answers 488 */
	case SIP_LEG_BYE:      /* TERMINATED follows */
		break;
	case SIP_LEG_TERMINATED:
		fork_sm_terminated(&f->sm, b->idx, &out);
		b->leg = NULL;
		sip_leg_release(leg);
		break;
	}
	run(f, &out, m);
	f->busy--;
	maybe_free(f);
}

/* ---------------------------------------------------------------- API */

static void on_timeout(void *arg)
{
	struct sip_fork *f = arg;
	struct fork_sm_out out;

	out_init(f, &out);
	f->busy++;
	fork_sm_timeout(&f->sm, &out);
	run(f, &out, NULL);
	f->busy--;
	maybe_free(f);
}

int sip_fork_create(struct sip_fork **out, struct sipua *ua, struct loop *loop, const struct sip_fork_params *p,
		    const struct sip_fork_ops *ops, void *owner)
{
	if (!out || !ua || !loop || !p || !p->request || !ops || !ops->done || p->max_branches == 0 ||
	    p->max_branches > 4096)
		return -EINVAL;
	const struct sip_request *rq = p->request;
	if (!rq->to || !rq->from || (rq->body && !rq->body->content_type))
		return -EINVAL;
	struct sip_fork *f = calloc(1, sizeof *f);
	if (!f)
		return -ENOMEM;
	unsigned cap = p->max_branches;
	f->ua = ua;
	f->loop = loop;
	f->ops = *ops;
	f->owner = owner;
	f->timeout_ms = p->timeout_ms;
	f->nacts = FORK_SM_ACTIONS_MAX(cap);
	snprintf(f->log_id, sizeof f->log_id, "%s", p->log_id ? p->log_id : "fork");
	f->smb = cpm_arena_alloc(&f->mem, cap * sizeof *f->smb);
	f->br = cpm_arena_alloc(&f->mem, cap * sizeof *f->br);
	f->acts = cpm_arena_alloc(&f->mem, f->nacts * sizeof *f->acts);
	f->req.to = cpm_arena_strdup(&f->mem, rq->to);
	f->req.from = cpm_arena_strdup(&f->mem, rq->from);
	f->req.headers = rq->headers ? cpm_arena_strdup(&f->mem, rq->headers) : NULL;
	f->req.route = rq->route ? cpm_arena_strdup(&f->mem, rq->route) : NULL;
	bool ok = f->smb && f->br && f->acts && f->req.to && f->req.from && (!rq->headers || f->req.headers) &&
		  (!rq->route || f->req.route);
	if (ok && rq->body) {
		char *data = cpm_arena_alloc(&f->mem, rq->body->len + 1);
		f->body.content_type = cpm_arena_strdup(&f->mem, rq->body->content_type);
		if (data && f->body.content_type) {
			if (rq->body->len)
				memcpy(data, rq->body->data, rq->body->len);
			f->body.data = data;
			f->body.len = rq->body->len;
			f->req.body = &f->body;
		} else {
			ok = false;
		}
	}
	if (!ok) {
		cpm_arena_free(&f->mem);
		free(f);
		return -ENOMEM;
	}
	fork_sm_init(&f->sm, p->method, f->smb, cap);
	f->next = ua->forks;
	if (ua->forks)
		ua->forks->prev = f;
	ua->forks = f;
	*out = f;
	return 0;
}

bool sip_fork_has_device(const struct sip_fork *f, const char *device)
{
	if (!f || !device)
		return false;
	for (unsigned i = 0; i < f->sm.n; i++)
		if (fork_sm_branch_open(&f->sm, i) && !strcmp(f->br[i].device, device))
			return true;
	return false;
}

bool sip_fork_device_silent(const struct sip_fork *f, const char *device)
{
	bool rang = false;
	if (!f || !device)
		return false;
	for (unsigned i = 0; i < f->sm.n; i++)
		if (!strcmp(f->br[i].device, device)) {
			if (!fork_sm_branch_silent(&f->sm, i))
				return false;
			rang = true;
		}
	return rang;
}

int sip_fork_add(struct sip_fork *f, const struct sip_target *t, const char *device)
{
	if (!f || !t || !t->contact || !device)
		return -EINVAL;
	if (f->destroyed || !fork_sm_is_ringing(&f->sm))
		return -EALREADY;
	if (strlen(device) >= FORK_DEVICE_MAX)
		return -ENAMETOOLONG;
	if (sip_fork_has_device(f, device))
		return -EEXIST;
	int i = fork_sm_add(&f->sm);
	if (i < 0)
		return i;
	struct fork_branch *b = &f->br[i];
	memset(b, 0, sizeof *b);
	b->f = f;
	b->idx = (unsigned)i;
	strcpy(b->device, device);
	int rc = f->sm.method == SIP_FORK_INVITE ? sip_leg_invite(f->ua, &f->req, t, on_branch, b, &b->leg)
						 : sip_leg_message(f->ua, &f->req, t, on_branch, b, &b->leg);
	if (rc) {
		/* counts as a branch that failed at once (500, not an answer) */
		b->leg = NULL;
		log_warn("%s: branch %d (%s) could not be sent: %s", f->log_id, i, device, strerror(-rc));
		struct fork_sm_out out;
		out_init(f, &out);
		f->busy++;
		fork_sm_terminated(&f->sm, (unsigned)i, &out);
		run(f, &out, NULL);
		f->busy--;
		maybe_free(f);
		return 0;
	}
	if (f->req.route)
		log_info("%s: branch %d -> %s via route %s", f->log_id, i, t->contact, f->req.route);
	else
		log_info("%s: branch %d -> %s via %s", f->log_id, i, t->contact, t->flow ? t->flow : "DNS (RFC 3263)");
	return 0;
}

void sip_fork_start(struct sip_fork *f)
{
	if (!f || f->destroyed || f->sm.started)
		return;
	struct fork_sm_out out;
	out_init(f, &out);
	if (f->timeout_ms && fork_sm_is_ringing(&f->sm))
		f->timer = loop_timer_once(f->loop, f->timeout_ms, on_timeout, f);
	f->busy++;
	fork_sm_start(&f->sm, &out);
	run(f, &out, NULL);
	f->busy--;
	maybe_free(f);
}

bool sip_fork_is_ringing(const struct sip_fork *f)
{
	return f && !f->destroyed && fork_sm_is_ringing(&f->sm);
}

size_t sip_fork_branches(const struct sip_fork *f)
{
	return f ? f->sm.n : 0;
}

static void cancel(struct sip_fork *f, const char *reason)
{
	struct fork_sm_out out;

	if (!fork_sm_is_ringing(&f->sm))
		return;
	snprintf(f->cancel_reason, sizeof f->cancel_reason, "%s",
		 reason && strlen(reason) < sizeof f->cancel_reason ? reason : SIP_REASON_CALLER_CANCEL);
	out_init(f, &out);
	f->busy++;
	fork_sm_cancel(&f->sm, f->cancel_reason, &out);
	run(f, &out, NULL);
	f->busy--;
}

void sip_fork_cancel(struct sip_fork *f, const char *reason)
{
	if (!f || f->destroyed)
		return;
	cancel(f, reason);
	maybe_free(f);
}

void sip_fork_destroy(struct sip_fork *f)
{
	if (!f || f->destroyed)
		return;
	/* a ringing fork nobody waits for any more: its branches are CANCELled */
	cancel(f, SIP_REASON_CALLER_CANCEL);
	f->destroyed = true;
	maybe_free(f);
}
