/* fork_sm — the decisions of a fork (sipua/fork.h) as a pure state machine: events in,
 * actions out. No SIP stack, no loop, no allocation, no clock: fork.c feeds it what the legs
 * and the timer report and carries out the actions in order; tests/unit/test_fork_sm.c feeds
 * it event tables. Every rule of fork.h lives here and only here.
 *
 * Branches are numbered 0..n-1 in the order they were added. Per branch the machine knows:
 * a provisional (> 100) arrived (a CANCEL may go), a CANCEL is pending (asked before any
 * provisional) or sent, its final status, whether it was a real answer, terminated.
 *
 * EVENTS                                  ACTIONS it may emit (in this order)
 *   fork_sm_add                             (none; returns the branch number)
 *   fork_sm_start                           STOP_TIMER, DONE(FAILED) when every branch failed
 *   fork_sm_provisional(i, status)          CANCEL(i) if one was pending; PROGRESS(i) if ringing
 *   fork_sm_answered(i, status)             ASK_ACCEPT(i) while ringing; else BYE(i, late)
 *   fork_sm_accept(i, ok)                   ok: STOP_TIMER, CANCEL(others, elsewhere),
 *                                           DONE(ANSWERED); refused: BYE(i), then as a failure
 *   fork_sm_failed(i, status, phrase, cls)  ENDS: STOP_TIMER, CANCEL(others, 603 or elsewhere),
 *                                           DONE(ENDED); else, when all failed: STOP_TIMER,
 *                                           DONE(FAILED)
 *   fork_sm_terminated(i)                   as a failure (500, not an answer) if it had no final
 *   fork_sm_timeout                         STOP_TIMER, CANCEL(all, no answer), DONE(TIMEOUT)
 *   fork_sm_cancel(reason)                  STOP_TIMER, CANCEL(all, reason) — no DONE
 * CANCEL is emitted only for a branch that had a provisional; before one it is remembered and
 * emitted at its first provisional (RFC 3261 §9.1). A MESSAGE fork emits no CANCEL and no BYE.
 * DONE is always the last action of a batch, and is emitted at most once per fork.
 *
 * THREADING: none of its own; one machine is used by one thread. */
#ifndef CPMD_SIPUA_FORK_SM_H
#define CPMD_SIPUA_FORK_SM_H

#include <stdbool.h>
#include <stddef.h>

#include "sipua/fork.h"

enum fork_sm_state {
	FORK_SM_RINGING,   /* no outcome yet */
	FORK_SM_DONE,      /* an outcome was decided (DONE emitted) */
	FORK_SM_CANCELLED, /* the owner stopped it (no DONE) */
};

struct fork_sm_branch {
	int final;           /* final status (refused 2xx: its 2xx; terminated without: 500); 0 none */
	bool provisional;    /* a provisional > 100 arrived */
	bool cancel_pending; /* CANCEL decided before any provisional */
	bool cancel_sent;
	bool asking;         /* ASK_ACCEPT outstanding */
	bool terminated;
	bool won;            /* the winner: handed to the owner, the machine forgets it */
	bool answer;         /* its final failure was a real answer (SIP_FORK_ANSWER or _ENDS) */
	const char *cancel_reason;
};

struct fork_sm {
	enum sip_fork_method method;
	enum fork_sm_state state;
	bool started;
	struct fork_sm_branch *b; /* the caller's storage, cap entries */
	unsigned n, cap;
	bool any_answer;          /* some failure was a real answer (SIP_FORK_ANSWER) */
	int best_status;
	char best_phrase[SIP_FORK_PHRASE_MAX];
	struct sip_fork_result result; /* valid once DONE was emitted (winner/device: NULL here) */
};

enum fork_sm_action_kind {
	FORK_ACT_CANCEL,     /* CANCEL branch with reason */
	FORK_ACT_BYE,        /* BYE branch (late: it answered after the fork was decided) */
	FORK_ACT_PROGRESS,   /* report status of branch to the owner */
	FORK_ACT_ASK_ACCEPT, /* ask the owner about branch's 2xx, then call fork_sm_accept() */
	FORK_ACT_STOP_TIMER,
	FORK_ACT_DONE,       /* the outcome: fork_sm_result() */
};

struct fork_sm_action {
	enum fork_sm_action_kind kind;
	unsigned branch;
	int status;         /* PROGRESS */
	const char *reason; /* CANCEL */
	bool late;          /* BYE */
};

/* Where actions go: the caller's array. Room for cap + 4 actions is always enough for one
 * event (a CANCEL per branch, STOP_TIMER, BYE, DONE). */
struct fork_sm_out {
	struct fork_sm_action *a;
	size_t n, cap;
};
#define FORK_SM_ACTIONS_MAX(cap) ((size_t)(cap) + 4)

const char *fork_sm_action_name(enum fork_sm_action_kind k);

/* branches: storage for cap branches (cap >= 1). */
void fork_sm_init(struct fork_sm *sm, enum sip_fork_method method, struct fork_sm_branch *branches, unsigned cap);
/* A new branch while ringing: its number, or -EALREADY (not ringing), -ENOSPC (cap). */
int fork_sm_add(struct fork_sm *sm);
/* The initial branches are added: from now on "every branch failed" decides. */
void fork_sm_start(struct fork_sm *sm, struct fork_sm_out *out);
void fork_sm_provisional(struct fork_sm *sm, unsigned i, int status, struct fork_sm_out *out);
void fork_sm_answered(struct fork_sm *sm, unsigned i, int status, struct fork_sm_out *out);
void fork_sm_accept(struct fork_sm *sm, unsigned i, bool ok, struct fork_sm_out *out);
/* A final failure (>= 300) and how the owner's policy counts it. phrase may be NULL. */
void fork_sm_failed(struct fork_sm *sm, unsigned i, int status, const char *phrase, enum sip_fork_class cls,
		    struct fork_sm_out *out);
void fork_sm_terminated(struct fork_sm *sm, unsigned i, struct fork_sm_out *out);
void fork_sm_timeout(struct fork_sm *sm, struct fork_sm_out *out);
/* reason must stay valid while a CANCEL can be pending (the fork keeps it). */
void fork_sm_cancel(struct fork_sm *sm, const char *reason, struct fork_sm_out *out);

static inline bool fork_sm_is_ringing(const struct fork_sm *sm)
{
	return sm->state == FORK_SM_RINGING;
}
/* Branch i has no final response yet (it still rings, or is being cancelled). */
bool fork_sm_branch_open(const struct fork_sm *sm, unsigned i);
/* Branch i did not answer: it won nothing and its failure (if any) was no real answer (the
 * device is not there: no final response, 408, 480, 5xx, could not be sent). */
bool fork_sm_branch_silent(const struct fork_sm *sm, unsigned i);
const struct sip_fork_result *fork_sm_result(const struct fork_sm *sm);

#endif
