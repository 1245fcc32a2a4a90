/* The fork's decisions (see fork_sm.h for the event/action table, fork.h for the rules). */
#include "sipua/fork_sm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum sip_fork_class sip_fork_default_class(int status)
{
	if (status / 100 == 6)
		return SIP_FORK_ENDS; /* the user's "no", valid for every device */
	/* 408/480: RFC 3261 "not there"; 404: no such device (any more); 487: our own CANCEL
	 * or the device's; 5xx (and sofia's local 9xx): the flow to the device is gone */
	if (status == 404 || status == 408 || status == 480 || status == 487 || status >= 500)
		return SIP_FORK_UNAVAILABLE;
	return SIP_FORK_ANSWER;
}

const char *sip_fork_outcome_name(enum sip_fork_outcome o)
{
	switch (o) {
	case SIP_FORK_ANSWERED:
		return "answered";
	case SIP_FORK_ENDED:
		return "ended";
	case SIP_FORK_FAILED:
		return "failed";
	case SIP_FORK_TIMEOUT:
		return "timeout";
	}
	return "?";
}

const char *fork_sm_action_name(enum fork_sm_action_kind k)
{
	switch (k) {
	case FORK_ACT_CANCEL:
		return "CANCEL";
	case FORK_ACT_BYE:
		return "BYE";
	case FORK_ACT_PROGRESS:
		return "PROGRESS";
	case FORK_ACT_ASK_ACCEPT:
		return "ASK_ACCEPT";
	case FORK_ACT_STOP_TIMER:
		return "STOP_TIMER";
	case FORK_ACT_DONE:
		return "DONE";
	}
	return "?";
}

void fork_sm_init(struct fork_sm *sm, enum sip_fork_method method, struct fork_sm_branch *branches, unsigned cap)
{
	memset(sm, 0, sizeof *sm);
	sm->method = method;
	sm->state = FORK_SM_RINGING;
	sm->b = branches;
	sm->cap = cap;
	memset(branches, 0, cap * sizeof *branches);
}

static void push(struct fork_sm_out *out, enum fork_sm_action_kind kind, unsigned branch, int status,
		 const char *reason, bool late)
{
	/* Cannot overflow with FORK_SM_ACTIONS_MAX(cap) room (the unit test checks the bound). */
	if (!out || out->n >= out->cap)
		return;
	out->a[out->n++] = (struct fork_sm_action){kind, branch, status, reason, late};
}

static struct fork_sm_branch *branch(struct fork_sm *sm, unsigned i)
{
	return i < sm->n ? &sm->b[i] : NULL;
}

bool fork_sm_branch_open(const struct fork_sm *sm, unsigned i)
{
	return i < sm->n && !sm->b[i].final && !sm->b[i].terminated && !sm->b[i].won;
}

bool fork_sm_branch_silent(const struct fork_sm *sm, unsigned i)
{
	return i < sm->n && !sm->b[i].won && !sm->b[i].answer;
}

const struct sip_fork_result *fork_sm_result(const struct fork_sm *sm)
{
	return &sm->result;
}

/* CANCEL one branch if it still rings: now when it had a provisional, else at its first. */
static void cancel_branch(struct fork_sm *sm, unsigned i, const char *reason, struct fork_sm_out *out)
{
	struct fork_sm_branch *b = &sm->b[i];

	if (sm->method != SIP_FORK_INVITE || b->won || b->final || b->terminated || b->cancel_sent ||
	    b->cancel_pending)
		return;
	b->cancel_reason = reason;
	if (b->provisional) {
		b->cancel_sent = true;
		push(out, FORK_ACT_CANCEL, i, 0, reason, false);
	} else {
		b->cancel_pending = true;
	}
}

static void cancel_all_but(struct fork_sm *sm, int except, const char *reason, struct fork_sm_out *out)
{
	for (unsigned i = 0; i < sm->n; i++)
		if ((int)i != except)
			cancel_branch(sm, i, reason, out);
}

/* Leaves RINGING with an outcome; the caller emits what goes between STOP_TIMER and DONE. */
static void decide(struct fork_sm *sm, enum sip_fork_outcome o, int status, const char *phrase, unsigned br,
		   struct fork_sm_out *out)
{
	sm->state = FORK_SM_DONE;
	memset(&sm->result, 0, sizeof sm->result);
	sm->result.outcome = o;
	sm->result.status = status;
	snprintf(sm->result.phrase, sizeof sm->result.phrase, "%s", phrase ? phrase : "");
	sm->result.branch = br;
	push(out, FORK_ACT_STOP_TIMER, 0, 0, NULL, false);
}

static void emit_done(struct fork_sm_out *out)
{
	push(out, FORK_ACT_DONE, 0, 0, NULL, false);
}

/* Every branch has failed: the best real answer, or "nobody is there". */
static void check_all_failed(struct fork_sm *sm, struct fork_sm_out *out)
{
	if (!sm->started || sm->state != FORK_SM_RINGING)
		return;
	for (unsigned i = 0; i < sm->n; i++)
		if (!sm->b[i].final || sm->b[i].asking)
			return;
	if (sm->any_answer) {
		decide(sm, SIP_FORK_FAILED, sm->best_status, sm->best_phrase, 0, out);
	} else {
		decide(sm, SIP_FORK_FAILED, 0, NULL, 0, out);
		sm->result.all_unavailable = true;
	}
	emit_done(out);
}

int fork_sm_add(struct fork_sm *sm)
{
	if (sm->state != FORK_SM_RINGING)
		return -EALREADY;
	if (sm->n >= sm->cap)
		return -ENOSPC;
	memset(&sm->b[sm->n], 0, sizeof sm->b[sm->n]);
	return (int)sm->n++;
}

void fork_sm_start(struct fork_sm *sm, struct fork_sm_out *out)
{
	if (sm->started)
		return;
	sm->started = true;
	check_all_failed(sm, out); /* no branch, or every one failed at once */
}

void fork_sm_provisional(struct fork_sm *sm, unsigned i, int status, struct fork_sm_out *out)
{
	struct fork_sm_branch *b = branch(sm, i);

	if (!b || b->won || b->final || b->terminated || status <= 100 || status >= 200)
		return;
	b->provisional = true;
	if (b->cancel_pending) {
		b->cancel_pending = false;
		b->cancel_sent = true;
		push(out, FORK_ACT_CANCEL, i, 0, b->cancel_reason, false);
	}
	if (sm->state == FORK_SM_RINGING)
		push(out, FORK_ACT_PROGRESS, i, status, NULL, false);
}

void fork_sm_answered(struct fork_sm *sm, unsigned i, int status, struct fork_sm_out *out)
{
	struct fork_sm_branch *b = branch(sm, i);

	if (!b || b->won || b->final || b->terminated)
		return;
	b->final = status;
	b->cancel_pending = false;
	if (sm->state == FORK_SM_RINGING) {
		b->asking = true;
		push(out, FORK_ACT_ASK_ACCEPT, i, status, NULL, false);
	} else if (sm->method == SIP_FORK_INVITE) {
		/* the fork is over: the stack ACKed it, we hang it up (RFC 3261 §13.2.2.4) */
		push(out, FORK_ACT_BYE, i, 0, NULL, true);
	}
}

void fork_sm_accept(struct fork_sm *sm, unsigned i, bool ok, struct fork_sm_out *out)
{
	struct fork_sm_branch *b = branch(sm, i);

	if (!b || !b->asking)
		return;
	b->asking = false;
	if (sm->state != FORK_SM_RINGING) {
		/* the owner stopped the fork while deciding: as a late answer */
		if (sm->method == SIP_FORK_INVITE)
			push(out, FORK_ACT_BYE, i, 0, NULL, true);
		return;
	}
	if (ok) {
		b->won = true;
		decide(sm, SIP_FORK_ANSWERED, b->final, NULL, i, out);
		cancel_all_but(sm, (int)i, SIP_REASON_ELSEWHERE, out);
		emit_done(out);
		return;
	}
	/* refused (e.g. an unusable SDP answer): hung up, failed, but not a real answer */
	if (sm->method == SIP_FORK_INVITE)
		push(out, FORK_ACT_BYE, i, 0, NULL, false);
	check_all_failed(sm, out);
}

void fork_sm_failed(struct fork_sm *sm, unsigned i, int status, const char *phrase, enum sip_fork_class cls,
		    struct fork_sm_out *out)
{
	struct fork_sm_branch *b = branch(sm, i);

	if (!b || b->won || b->final || b->terminated || status < 300)
		return;
	b->final = status;
	b->cancel_pending = false;
	b->answer = cls != SIP_FORK_UNAVAILABLE;
	if (sm->state != FORK_SM_RINGING)
		return;
	if (cls == SIP_FORK_ENDS) {
		decide(sm, SIP_FORK_ENDED, status, phrase, i, out);
		cancel_all_but(sm, (int)i, status == 603 ? SIP_REASON_DECLINED : SIP_REASON_ELSEWHERE, out);
		emit_done(out);
		return;
	}
	if (cls == SIP_FORK_ANSWER) {
		/* RFC 3261 §16.7: the lowest class; the first of that class */
		if (!sm->any_answer || status / 100 < sm->best_status / 100) {
			sm->best_status = status;
			snprintf(sm->best_phrase, sizeof sm->best_phrase, "%s", phrase ? phrase : "");
		}
		sm->any_answer = true;
	}
	check_all_failed(sm, out);
}

void fork_sm_terminated(struct fork_sm *sm, unsigned i, struct fork_sm_out *out)
{
	struct fork_sm_branch *b = branch(sm, i);

	if (!b || b->terminated)
		return;
	b->terminated = true;
	b->cancel_pending = false;
	if (b->won || b->final)
		return;
	b->final = 500; /* ended without a final response: failed, not an answer */
	check_all_failed(sm, out);
}

void fork_sm_timeout(struct fork_sm *sm, struct fork_sm_out *out)
{
	if (sm->state != FORK_SM_RINGING)
		return;
	decide(sm, SIP_FORK_TIMEOUT, 0, NULL, 0, out);
	cancel_all_but(sm, -1, SIP_REASON_NO_ANSWER, out);
	emit_done(out);
}

void fork_sm_cancel(struct fork_sm *sm, const char *reason, struct fork_sm_out *out)
{
	if (sm->state != FORK_SM_RINGING)
		return;
	sm->state = FORK_SM_CANCELLED;
	push(out, FORK_ACT_STOP_TIMER, 0, 0, NULL, false);
	cancel_all_but(sm, -1, reason ? reason : SIP_REASON_CALLER_CANCEL, out);
}
