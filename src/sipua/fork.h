/* sip_fork — THE fork engine: one request sent in parallel to several devices of a user.
 * Live file transfers, deliveries of stored files and (next) standalone messages and
 * chat-session INVITEs all use it; there is no second copy of these rules.
 *
 * Rules (RFC 3261 §16.7 and the CPM multi-device rules, docs/internals/fork.md):
 *   - every branch is a client leg (INVITE or MESSAGE) to one device (sip_fork_add), also
 *     while the fork rings (a device that registers meanwhile);
 *   - provisional responses are reported (ops->progress);
 *   - the first 2xx that the owner accepts (ops->accept) wins: the other branches get CANCEL
 *     with Reason "Call completed elsewhere", and ops->done(ANSWERED) hands the winning leg
 *     to the owner; a 2xx the owner refuses (unusable SDP) is BYEd and counts as a failed
 *     branch that is not a candidate for the best response;
 *   - a late 2xx (the fork is over) is ACKed by the stack and BYEd here (§13.2.2.4);
 *   - a final response that policy says ends the fork (ops->classify → SIP_FORK_ENDS, a 6xx
 *     by default) ends it: CANCEL to the others (Reason 603 "Declined" for a 603, else
 *     "Call completed elsewhere"), done(ENDED) with that response;
 *   - when every branch failed: done(FAILED) with the best response (lowest class among the
 *     "real" answers, the first of that class) or, when no failure was a real answer (each was
 *     "the device is not there" — SIP_FORK_UNAVAILABLE: 404/408/480/487/5xx —, a refused 2xx,
 *     or a branch that ended without a final response or could not be sent, counted as 500),
 *     all_unavailable = true;
 *   - the timer (timeout_ms, started by sip_fork_start) CANCELs every branch with Reason 480
 *     "No answer", done(TIMEOUT);
 *   - the owner may stop the fork (sip_fork_cancel: e.g. the sender cancelled): CANCEL with
 *     the owner's reason, no done callback. sip_fork_destroy() of a ringing fork does the same
 *     with SIP_REASON_CALLER_CANCEL.
 * A CANCEL goes only to a branch that had a provisional response (> 100); before one it is
 * remembered and sent at the branch's first (RFC 3261 §9.1). One CANCEL per branch at most.
 * ORDER: when the fork is decided, the timer is stopped, the other branches' CANCELs are sent
 * (or remembered), and done is called last; nothing of the fork runs after done returns in
 * that turn, so done may destroy the fork.
 * done is called exactly once per fork, unless the owner cancelled or destroyed it first.
 * For MESSAGE forks there is no CANCEL and no BYE (non-INVITE): losing branches simply end.
 * LOGS (the owner's log_id first, as cpmd always wrote them; e2e tests grep some):
 *   "<id>: branch N -> CONTACT via FLOW", "<id>: branch N (DEVICE) answered STATUS PHRASE"
 *   (a failure while ringing), "<id>: branch N (DEVICE) cancelled: REASON" (when the CANCEL
 *   goes out), "<id>: branch N answered late; hanging it up". The owner logs its outcome.
 *
 * The decisions are a pure state machine (fork_sm.h, unit-tested without sockets); this is
 * its thin glue to legs and the loop's timer.
 *
 * OWNERSHIP: the owner creates the fork and calls sip_fork_destroy() when it no longer
 * wants events (after done, or at any time). Branch legs stay owned by the fork until they
 * end — CANCELled branches still get their 487, a late 2xx still gets its BYE — so a
 * destroyed fork lives on silently until its last leg terminated, then frees itself; sipua
 * frees what is left at sipua_destroy(). The winning leg belongs to the owner from done on.
 * THREADING: loop thread only. */
#ifndef CPMD_SIPUA_FORK_H
#define CPMD_SIPUA_FORK_H

#include <stdbool.h>
#include <stddef.h>

#include "sipua/sip_leg.h"

struct sip_fork;
struct loop;

enum sip_fork_method { SIP_FORK_INVITE, SIP_FORK_MESSAGE };

/* How a branch's final failure counts (the owner's policy decides). */
enum sip_fork_class {
	SIP_FORK_UNAVAILABLE, /* the device is not there (408, 480, 5xx...): not an answer */
	SIP_FORK_ANSWER,      /* a real answer (486, 488, 415...): candidate best response */
	SIP_FORK_ENDS,        /* the user's answer for every device (6xx): ends the fork */
};

enum sip_fork_outcome {
	SIP_FORK_ANSWERED, /* a branch answered 2xx and the owner accepted it */
	SIP_FORK_ENDED,    /* a branch's response ended the fork (SIP_FORK_ENDS) */
	SIP_FORK_FAILED,   /* every branch failed (also: the fork had no branch when started) */
	SIP_FORK_TIMEOUT,  /* nobody answered within timeout_ms */
};
const char *sip_fork_outcome_name(enum sip_fork_outcome o);

#define SIP_FORK_PHRASE_MAX 128
struct sip_fork_result {
	enum sip_fork_outcome outcome;
	int status;                        /* ENDED / FAILED: the response to pass on (FAILED with
	                                      all_unavailable: 0) */
	char phrase[SIP_FORK_PHRASE_MAX];
	bool all_unavailable;              /* FAILED: every branch was SIP_FORK_UNAVAILABLE */
	unsigned branch;                   /* ANSWERED / ENDED: the branch that decided */
	struct sip_leg *winner;            /* ANSWERED: the leg, now the owner's: unbound, bind it
	                                      during done (else sipua releases it when its call
	                                      ends). A MESSAGE winner gets TERMINATED right after. */
	const char *device;                /* ANSWERED / ENDED: that branch's device key (valid
	                                      during done only) */
};

struct sip_fork_ops {
	/* A provisional response (101-199) on a branch while the fork rings. May be NULL. */
	void (*progress)(void *owner, struct sip_fork *f, unsigned branch, int status);
	/* A 2xx on a branch while the fork rings: may the owner use it (e.g. its SDP answer)?
	 * true: it wins. false: refused (BYEd, counted as failed, not a real answer). NULL:
	 * always true. m is the 2xx. Do not destroy the fork from here (cancelling it is fine:
	 * the 2xx is then BYEd as a late one). */
	bool (*accept)(void *owner, struct sip_fork *f, unsigned branch, struct sip_leg *leg, const struct sip_msg *m);
	/* The fork's outcome, exactly once (see above). */
	void (*done)(void *owner, struct sip_fork *f, const struct sip_fork_result *r);
	/* Policy: how a final failure counts. NULL: 6xx ends, 404/408/480/487/5xx (and the
	 * stack's local 9xx) unavailable, the rest an answer (sip_fork_default_class, the same
	 * as today's policy_is_unavailable_status). Asked only while the fork rings. */
	enum sip_fork_class (*classify)(void *owner, int status);
};
enum sip_fork_class sip_fork_default_class(int status);

struct sip_fork_params {
	enum sip_fork_method method;
	const struct sip_request *request; /* copied at create: the same request to every branch */
	unsigned timeout_ms;               /* 0: no timer */
	unsigned max_branches;             /* bound on sip_fork_add (the user's device limit) */
	const char *log_id;                /* the owner's id, for log lines ("ft 3f2a...") */
};

int sip_fork_create(struct sip_fork **out, struct sipua *ua, struct loop *loop, const struct sip_fork_params *p,
		    const struct sip_fork_ops *ops, void *owner);
/* Adds a branch to one device (device = its key, +sip.instance). While the fork rings only;
 * -EALREADY when it is over, -ENOSPC beyond max_branches, -EEXIST when that device has a
 * branch still ringing, -ENAMETOOLONG (device key of 256 bytes or more), -EINVAL. A branch
 * that cannot even be sent returns 0 and counts as failed (500, not a real answer). */
int sip_fork_add(struct sip_fork *f, const struct sip_target *t, const char *device);
/* Call after the initial sip_fork_add calls: if every branch already failed (or there was
 * none), done(FAILED) is called from here. */
void sip_fork_start(struct sip_fork *f);
/* True while no outcome has been decided. */
bool sip_fork_is_ringing(const struct sip_fork *f);
/* Does a branch to this device still ring (no final response yet)? */
bool sip_fork_has_device(const struct sip_fork *f, const char *device);
size_t sip_fork_branches(const struct sip_fork *f);
/* Did this device get a branch and never answer on any (no final response before the fork was
 * decided, or only failures the policy counts as unavailable: 408, 480, 5xx, a transport
 * error)? A sleeping device keeps its binding and answers nothing (RFC 8599 §4): its owner may
 * wake it. Meaningful from done on; false for a device the fork never rang. */
bool sip_fork_device_silent(const struct sip_fork *f, const char *device);
/* The owner stops a ringing fork (CANCEL every branch with reason, copied); no done
 * callback. Nothing when the fork is not ringing. */
void sip_fork_cancel(struct sip_fork *f, const char *reason);
/* See OWNERSHIP above. NULL is fine. */
void sip_fork_destroy(struct sip_fork *f);

#endif
