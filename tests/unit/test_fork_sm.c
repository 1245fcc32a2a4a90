/* sipua/fork_sm: every rule of sipua/fork.h as tables of events -> expected actions.
 *
 * A case is a list of steps; each step is one event and the actions it must produce, written
 * as text so a table reads like the rule:
 *   events:  "add" (expects the next branch number)   "start"
 *            "prov I STATUS"  "2xx I STATUS"  "accept I 1|0"
 *            "fail I STATUS [u|a|e] [PHRASE...]"  (class: default policy unless given)
 *            "term I"  "timeout"  "cancel"  (owner cancel, Reason "Originator cancelled")
 *            "add!ERR" (add must fail with -ERR: EALREADY or ENOSPC)
 *   actions: "PROGRESS I S", "CANCEL I elsewhere|noanswer|declined|caller", "BYE I [late]",
 *            "ASK I", "STOP", "DONE answered bI", "DONE ended S bI", "DONE failed S PHRASE",
 *            "DONE failed unavailable", "DONE timeout"; joined with "; ", "" for none. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipua/fork_sm.h"
#include "unit.h"

#define CAP_MAX 16

struct step {
	const char *ev;
	const char *want;
};

static const char *reason_name(const char *r)
{
	if (!r)
		return "null";
	if (!strcmp(r, SIP_REASON_ELSEWHERE))
		return "elsewhere";
	if (!strcmp(r, SIP_REASON_NO_ANSWER))
		return "noanswer";
	if (!strcmp(r, SIP_REASON_DECLINED))
		return "declined";
	if (!strcmp(r, SIP_REASON_CALLER_CANCEL))
		return "caller";
	return r;
}

static void fmt_actions(const struct fork_sm *sm, const struct fork_sm_out *out, char *buf, size_t cap)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t k = 0; k < out->n && o < cap; k++) {
		const struct fork_sm_action *a = &out->a[k];
		char one[200];
		switch (a->kind) {
		case FORK_ACT_CANCEL:
			snprintf(one, sizeof one, "CANCEL %u %s", a->branch, reason_name(a->reason));
			break;
		case FORK_ACT_BYE:
			snprintf(one, sizeof one, "BYE %u%s", a->branch, a->late ? " late" : "");
			break;
		case FORK_ACT_PROGRESS:
			snprintf(one, sizeof one, "PROGRESS %u %d", a->branch, a->status);
			break;
		case FORK_ACT_ASK_ACCEPT:
			snprintf(one, sizeof one, "ASK %u", a->branch);
			break;
		case FORK_ACT_STOP_TIMER:
			snprintf(one, sizeof one, "STOP");
			break;
		case FORK_ACT_DONE: {
			const struct sip_fork_result *r = fork_sm_result(sm);
			switch (r->outcome) {
			case SIP_FORK_ANSWERED:
				snprintf(one, sizeof one, "DONE answered b%u", r->branch);
				break;
			case SIP_FORK_ENDED:
				snprintf(one, sizeof one, "DONE ended %d b%u", r->status, r->branch);
				break;
			case SIP_FORK_FAILED:
				if (r->all_unavailable)
					snprintf(one, sizeof one, "DONE failed unavailable%s", r->status ? " WITH STATUS" : "");
				else
					snprintf(one, sizeof one, "DONE failed %d %s", r->status, r->phrase);
				break;
			case SIP_FORK_TIMEOUT:
				snprintf(one, sizeof one, "DONE timeout");
				break;
			}
			break;
		}
		}
		o += (size_t)snprintf(buf + o, cap - o, "%s%s", k ? "; " : "", one);
	}
}

/* Runs one case; returns the number of the failing step (1-based) or 0, with a message. */
static int run_case(enum sip_fork_method method, unsigned cap, const struct step *steps, char *msg, size_t msgcap)
{
	struct fork_sm_branch br[CAP_MAX];
	struct fork_sm_action acts[FORK_SM_ACTIONS_MAX(CAP_MAX)];
	struct fork_sm sm;
	int dones = 0;

	fork_sm_init(&sm, method, br, cap);
	for (int s = 0; steps[s].ev; s++) {
		struct fork_sm_out out = {acts, 0, FORK_SM_ACTIONS_MAX(cap)};
		const char *ev = steps[s].ev;
		unsigned i = 0;
		int st = 0, ok = 0;
		char cls = 0, phrase[64] = "";
		char got[2048];

		if (!strcmp(ev, "add")) {
			int r = fork_sm_add(&sm);
			if (r < 0) {
				snprintf(msg, msgcap, "add failed: %d", r);
				return s + 1;
			}
		} else if (!strncmp(ev, "add!", 4)) {
			int r = fork_sm_add(&sm);
			int want = !strcmp(ev + 4, "EALREADY") ? -EALREADY : -ENOSPC;
			if (r != want) {
				snprintf(msg, msgcap, "%s: got %d", ev, r);
				return s + 1;
			}
		} else if (!strcmp(ev, "start")) {
			fork_sm_start(&sm, &out);
		} else if (sscanf(ev, "prov %u %d", &i, &st) == 2) {
			fork_sm_provisional(&sm, i, st, &out);
		} else if (sscanf(ev, "2xx %u %d", &i, &st) == 2) {
			fork_sm_answered(&sm, i, st, &out);
		} else if (sscanf(ev, "accept %u %d", &i, &ok) == 2) {
			fork_sm_accept(&sm, i, ok != 0, &out);
		} else if (sscanf(ev, "fail %u %d %c %63[^\n]", &i, &st, &cls, phrase) >= 2) {
			enum sip_fork_class c = cls == 'u'   ? SIP_FORK_UNAVAILABLE
						: cls == 'a' ? SIP_FORK_ANSWER
						: cls == 'e' ? SIP_FORK_ENDS
							     : sip_fork_default_class(st);
			fork_sm_failed(&sm, i, st, phrase, c, &out);
		} else if (sscanf(ev, "term %u", &i) == 1) {
			fork_sm_terminated(&sm, i, &out);
		} else if (!strcmp(ev, "timeout")) {
			fork_sm_timeout(&sm, &out);
		} else if (!strcmp(ev, "cancel")) {
			fork_sm_cancel(&sm, SIP_REASON_CALLER_CANCEL, &out);
		} else {
			snprintf(msg, msgcap, "bad event \"%s\"", ev);
			return s + 1;
		}
		if (out.n > FORK_SM_ACTIONS_MAX(cap)) {
			snprintf(msg, msgcap, "%s: %zu actions", ev, out.n);
			return s + 1;
		}
		for (size_t k = 0; k < out.n; k++) {
			if (out.a[k].kind == FORK_ACT_DONE && (++dones > 1 || k + 1 != out.n)) {
				snprintf(msg, msgcap, "%s: DONE twice or not last", ev);
				return s + 1;
			}
			if (method == SIP_FORK_MESSAGE && (out.a[k].kind == FORK_ACT_CANCEL || out.a[k].kind == FORK_ACT_BYE)) {
				snprintf(msg, msgcap, "%s: CANCEL/BYE in a MESSAGE fork", ev);
				return s + 1;
			}
		}
		fmt_actions(&sm, &out, got, sizeof got);
		if (strcmp(got, steps[s].want)) {
			snprintf(msg, msgcap, "after \"%s\": got \"%s\", want \"%s\"", ev, got, steps[s].want);
			return s + 1;
		}
	}
	return 0;
}

#define RUN(method, cap, ...)                                                                                    \
	do {                                                                                                     \
		static const struct step steps_[] = {__VA_ARGS__, {NULL, NULL}};                                  \
		char m_[2400];                                                                                   \
		int f_ = run_case(method, cap, steps_, m_, sizeof m_);                                           \
		if (f_) {                                                                                        \
			char e_[2600];                                                                           \
			snprintf(e_, sizeof e_, "step %d: %s", f_, m_);                                          \
			unit_fail(__FILE__, __LINE__, e_);                                                       \
			return;                                                                                  \
		}                                                                                                \
	} while (0)
#define INV SIP_FORK_INVITE
#define MSG SIP_FORK_MESSAGE

UNIT_TEST(two_devices_one_answers)
{
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"prov 0 100", ""}, {"prov 0 180", "PROGRESS 0 180"},
	    {"prov 1 183", "PROGRESS 1 183"}, {"2xx 0 200", "ASK 0"},
	    {"accept 0 1", "STOP; CANCEL 1 elsewhere; DONE answered b0"},
	    /* the loser's 487 and its end change nothing */
	    {"fail 1 487", ""}, {"term 1", ""}, {"timeout", ""}, {"cancel", ""});
}

UNIT_TEST(six_xx_ends_the_fork)
{
	/* 603: the user's "no", Reason 603 "Declined" to the others */
	RUN(INV, 3, {"add", ""}, {"add", ""}, {"add", ""}, {"start", ""}, {"prov 0 180", "PROGRESS 0 180"},
	    {"prov 1 180", "PROGRESS 1 180"}, {"fail 2 603 e Decline", "STOP; CANCEL 0 declined; CANCEL 1 declined; DONE ended 603 b2"},
	    {"fail 0 487", ""}, {"fail 1 487", ""});
	/* another 6xx: "Call completed elsewhere" */
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"prov 1 180", "PROGRESS 1 180"},
	    {"fail 0 604", "STOP; CANCEL 1 elsewhere; DONE ended 604 b0"});
	/* the default policy says 600/606 end it too */
	RUN(INV, 1, {"add", ""}, {"start", ""}, {"fail 0 606", "STOP; DONE ended 606 b0"});
}

UNIT_TEST(all_unavailable)
{
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"prov 0 180", "PROGRESS 0 180"},
	    {"fail 0 480 u Temporarily Unavailable", ""}, {"fail 1 480", "STOP; DONE failed unavailable"});
	/* the default policy: 404, 408, 487, 5xx and local 9xx are "not there" too */
	RUN(INV, 6, {"add", ""}, {"add", ""}, {"add", ""}, {"add", ""}, {"add", ""}, {"add", ""}, {"start", ""},
	    {"fail 0 404", ""}, {"fail 1 408", ""}, {"fail 2 487", ""}, {"fail 3 503", ""}, {"fail 4 500", ""},
	    {"fail 5 900", "STOP; DONE failed unavailable"});
}

UNIT_TEST(best_response)
{
	/* 486 + 480: the real answer wins over "not there" */
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"fail 0 486 a Busy Here", ""},
	    {"fail 1 480", "STOP; DONE failed 486 Busy Here"});
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"fail 0 480", ""},
	    {"fail 1 486 a Busy Here", "STOP; DONE failed 486 Busy Here"});
	/* 486 + 404 (404 is "not there" by default) */
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"fail 0 404", ""},
	    {"fail 1 486 a Busy Here", "STOP; DONE failed 486 Busy Here"});
	/* within a class the first one seen wins */
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"fail 0 488 a Not Acceptable Here", ""},
	    {"fail 1 415 a Unsupported Media Type", "STOP; DONE failed 488 Not Acceptable Here"});
	/* the lowest class wins, whatever the order */
	RUN(INV, 3, {"add", ""}, {"add", ""}, {"add", ""}, {"start", ""}, {"fail 0 486 a Busy Here", ""},
	    {"fail 1 302 a Moved Temporarily", ""}, {"fail 2 503 a Service Unavailable", "STOP; DONE failed 302 Moved Temporarily"});
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"fail 0 503 a Service Unavailable", ""},
	    {"fail 1 486 a Busy Here", "STOP; DONE failed 486 Busy Here"});
}

UNIT_TEST(refused_2xx_is_failed_not_an_answer)
{
	/* alone: hung up, and "nobody there" (today: pf.c on_winner sets 488, best untouched) */
	RUN(INV, 1, {"add", ""}, {"start", ""}, {"prov 0 180", "PROGRESS 0 180"}, {"2xx 0 200", "ASK 0"},
	    {"accept 0 0", "BYE 0; STOP; DONE failed unavailable"}, {"term 0", ""});
	/* with a real answer elsewhere: that answer */
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"2xx 0 200", "ASK 0"}, {"accept 0 0", "BYE 0"},
	    {"fail 1 486 a Busy Here", "STOP; DONE failed 486 Busy Here"});
	/* the other branch still rings: it may win */
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"2xx 1 200", "ASK 1"}, {"accept 1 0", "BYE 1"},
	    {"2xx 0 200", "ASK 0"}, {"accept 0 1", "STOP; DONE answered b0"});
}

UNIT_TEST(late_2xx_is_byed)
{
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"prov 0 180", "PROGRESS 0 180"},
	    {"prov 1 180", "PROGRESS 1 180"}, {"2xx 0 200", "ASK 0"},
	    {"accept 0 1", "STOP; CANCEL 1 elsewhere; DONE answered b0"},
	    /* branch 1 answered before our CANCEL reached it */
	    {"2xx 1 200", "BYE 1 late"}, {"term 1", ""});
	/* after a 6xx, a timeout, an owner cancel: the same */
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"fail 0 603 e Decline", "STOP; DONE ended 603 b0"},
	    {"2xx 1 200", "BYE 1 late"});
	RUN(INV, 1, {"add", ""}, {"start", ""}, {"timeout", "STOP; DONE timeout"}, {"2xx 0 200", "BYE 0 late"});
	RUN(INV, 1, {"add", ""}, {"start", ""}, {"cancel", "STOP"}, {"2xx 0 200", "BYE 0 late"});
}

UNIT_TEST(cancel_waits_for_a_provisional)
{
	/* branch 1 has sent nothing (or only 100) when branch 0 wins: its CANCEL goes at its 180,
	 * with the reason of the decision, and no progress is reported any more */
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"prov 1 100", ""}, {"2xx 0 200", "ASK 0"},
	    {"accept 0 1", "STOP; DONE answered b0"}, {"prov 1 100", ""}, {"prov 1 180", "CANCEL 1 elsewhere"},
	    {"prov 1 183", ""}, {"fail 1 487", ""});
	/* the timeout's reason is kept for a branch that rings later */
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"prov 0 180", "PROGRESS 0 180"},
	    {"timeout", "STOP; CANCEL 0 noanswer; DONE timeout"}, {"prov 1 180", "CANCEL 1 noanswer"});
	/* a branch that answers finally before any 1xx needs no CANCEL */
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"fail 0 603 e", "STOP; DONE ended 603 b0"},
	    {"fail 1 486", ""}, {"prov 1 180", ""});
	/* one CANCEL per branch, whatever comes later */
	RUN(INV, 1, {"add", ""}, {"start", ""}, {"prov 0 180", "PROGRESS 0 180"}, {"cancel", "STOP; CANCEL 0 caller"},
	    {"timeout", ""}, {"cancel", ""}, {"prov 0 183", ""});
}

UNIT_TEST(timeout)
{
	RUN(INV, 3, {"add", ""}, {"add", ""}, {"add", ""}, {"start", ""}, {"prov 0 180", "PROGRESS 0 180"},
	    {"prov 2 180", "PROGRESS 2 180"}, {"fail 1 486 a Busy Here", ""},
	    {"timeout", "STOP; CANCEL 0 noanswer; CANCEL 2 noanswer; DONE timeout"}, {"fail 0 487", ""},
	    {"fail 2 487", ""}, {"timeout", ""});
}

UNIT_TEST(owner_cancel)
{
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"prov 0 180", "PROGRESS 0 180"},
	    {"cancel", "STOP; CANCEL 0 caller"}, {"prov 1 180", "CANCEL 1 caller"}, {"fail 0 487", ""},
	    {"fail 1 487", ""}, {"term 0", ""}, {"term 1", ""}, {"add!EALREADY", ""});
	/* the owner cancels while deciding on a 2xx: that 2xx is hung up, no outcome */
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"prov 1 180", "PROGRESS 1 180"}, {"2xx 0 200", "ASK 0"},
	    {"cancel", "STOP; CANCEL 1 caller"}, {"accept 0 1", "BYE 0 late"});
}

UNIT_TEST(branch_added_while_ringing)
{
	RUN(INV, 3, {"add", ""}, {"start", ""}, {"prov 0 180", "PROGRESS 0 180"}, {"add", ""},
	    {"fail 0 480", ""}, /* branch 1 still rings */
	    {"prov 1 180", "PROGRESS 1 180"}, {"2xx 1 200", "ASK 1"}, {"accept 1 1", "STOP; DONE answered b1"},
	    {"add!EALREADY", ""});
	/* a branch that ends at once (could not be sent) while others ring */
	RUN(INV, 3, {"add", ""}, {"start", ""}, {"add", ""}, {"term 1", ""}, {"fail 0 480", "STOP; DONE failed unavailable"});
}

UNIT_TEST(add_bounds)
{
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"add!ENOSPC", ""}, {"start", ""}, {"fail 0 486 a Busy", ""},
	    {"fail 1 486 a Busy", "STOP; DONE failed 486 Busy"}, {"add!EALREADY", ""});
}

UNIT_TEST(start_decides_what_failed_before)
{
	/* no branch at all */
	RUN(INV, 1, {"start", "STOP; DONE failed unavailable"}, {"add!EALREADY", ""});
	/* every branch failed before start (could not be sent): decided at start, not before */
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"term 0", ""}, {"term 1", ""}, {"start", "STOP; DONE failed unavailable"},
	    {"start", ""});
	/* one failed locally, one rings: nothing yet */
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"term 0", ""}, {"start", ""}, {"fail 1 486 a Busy Here", "STOP; DONE failed 486 Busy Here"});
}

UNIT_TEST(terminated_without_final_is_500)
{
	/* not an answer: with a 486 elsewhere, the 486 */
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"prov 0 180", "PROGRESS 0 180"}, {"term 0", ""},
	    {"fail 1 486 a Busy Here", "STOP; DONE failed 486 Busy Here"});
	/* alone: nobody there */
	RUN(INV, 1, {"add", ""}, {"start", ""}, {"term 0", "STOP; DONE failed unavailable"}, {"term 0", ""});
	/* a branch that had its final response: termination changes nothing */
	RUN(INV, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"fail 0 486 a Busy Here", ""}, {"term 0", ""},
	    {"term 1", "STOP; DONE failed 486 Busy Here"});
}

UNIT_TEST(message_fork_never_cancels_or_byes)
{
	RUN(MSG, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"prov 0 180", "PROGRESS 0 180"}, {"2xx 0 200", "ASK 0"},
	    {"accept 0 1", "STOP; DONE answered b0"}, {"2xx 1 202", ""}, {"term 1", ""});
	RUN(MSG, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"2xx 0 200", "ASK 0"}, {"accept 0 0", ""},
	    {"fail 1 480", "STOP; DONE failed unavailable"});
	RUN(MSG, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"prov 1 180", "PROGRESS 1 180"},
	    {"fail 0 603 e Decline", "STOP; DONE ended 603 b0"});
	RUN(MSG, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"prov 1 180", "PROGRESS 1 180"},
	    {"timeout", "STOP; DONE timeout"}, {"prov 0 180", ""});
	RUN(MSG, 1, {"add", ""}, {"start", ""}, {"cancel", "STOP"}, {"2xx 0 200", ""});
	RUN(MSG, 2, {"add", ""}, {"add", ""}, {"start", ""}, {"fail 0 415 a Unsupported Media Type", ""},
	    {"fail 1 408", "STOP; DONE failed 415 Unsupported Media Type"});
}

UNIT_TEST(done_exactly_once_and_action_bound)
{
	/* sixteen ringing devices, one 603: 15 CANCELs + STOP + DONE fit the bound */
	RUN(INV, 16, {"add", ""}, {"add", ""}, {"add", ""}, {"add", ""}, {"add", ""}, {"add", ""}, {"add", ""},
	    {"add", ""}, {"add", ""}, {"add", ""}, {"add", ""}, {"add", ""}, {"add", ""}, {"add", ""}, {"add", ""},
	    {"add", ""}, {"start", ""}, {"prov 1 180", "PROGRESS 1 180"}, {"prov 2 180", "PROGRESS 2 180"},
	    {"prov 3 180", "PROGRESS 3 180"}, {"prov 4 180", "PROGRESS 4 180"}, {"prov 5 180", "PROGRESS 5 180"},
	    {"prov 6 180", "PROGRESS 6 180"}, {"prov 7 180", "PROGRESS 7 180"}, {"prov 8 180", "PROGRESS 8 180"},
	    {"prov 9 180", "PROGRESS 9 180"}, {"prov 10 180", "PROGRESS 10 180"}, {"prov 11 180", "PROGRESS 11 180"},
	    {"prov 12 180", "PROGRESS 12 180"}, {"prov 13 180", "PROGRESS 13 180"}, {"prov 14 180", "PROGRESS 14 180"},
	    {"prov 15 180", "PROGRESS 15 180"},
	    {"fail 0 603 e", "STOP; CANCEL 1 declined; CANCEL 2 declined; CANCEL 3 declined; CANCEL 4 declined; "
			      "CANCEL 5 declined; CANCEL 6 declined; CANCEL 7 declined; CANCEL 8 declined; "
			      "CANCEL 9 declined; CANCEL 10 declined; CANCEL 11 declined; CANCEL 12 declined; "
			      "CANCEL 13 declined; CANCEL 14 declined; CANCEL 15 declined; DONE ended 603 b0"},
	    {"timeout", ""}, {"cancel", ""}, {"2xx 1 200", "BYE 1 late"});
}

UNIT_TEST(events_for_unknown_branches_are_ignored)
{
	RUN(INV, 2, {"add", ""}, {"start", ""}, {"prov 5 180", ""}, {"2xx 1 200", ""}, {"fail 7 486", ""},
	    {"term 9", ""}, {"accept 0 1", ""}, {"fail 0 200", ""}, {"prov 0 180", "PROGRESS 0 180"},
	    {"fail 0 486 a Busy Here", "STOP; DONE failed 486 Busy Here"});
}

UNIT_TEST(default_class_matches_todays_policy)
{
	/* policy_is_unavailable_status() of today's pf: 408 480 487 404 and >= 500 */
	for (int s = 300; s < 1000; s++) {
		enum sip_fork_class want = s / 100 == 6 ? SIP_FORK_ENDS
					   : (s == 408 || s == 480 || s == 487 || s == 404 || s >= 500) ? SIP_FORK_UNAVAILABLE
													: SIP_FORK_ANSWER;
		CHECK_EQ_INT(sip_fork_default_class(s), want);
	}
	CHECK_STR(sip_fork_outcome_name(SIP_FORK_TIMEOUT), "timeout");
	CHECK_STR(fork_sm_action_name(FORK_ACT_ASK_ACCEPT), "ASK_ACCEPT");
}

/* Which branches did not answer (fork_sm_branch_silent: the devices a push delivery may wake,
 * RFC 8599 §4): still ringing or only a 1xx at the timeout, or failed as "not there"; a real
 * answer, a 6xx and the winner are not silent, nor is a branch that does not exist. */
UNIT_TEST(silent_branches)
{
	struct fork_sm sm;
	struct fork_sm_branch b[5];
	struct fork_sm_action a[FORK_SM_ACTIONS_MAX(5)];
	struct fork_sm_out out = {a, 0, sizeof a / sizeof a[0]};
	fork_sm_init(&sm, INV, b, 5);
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(fork_sm_add(&sm), i);
	fork_sm_start(&sm, &out);
	fork_sm_failed(&sm, 1, 486, "Busy Here", SIP_FORK_ANSWER, &out);
	fork_sm_failed(&sm, 2, 408, NULL, SIP_FORK_UNAVAILABLE, &out);
	fork_sm_provisional(&sm, 3, 180, &out);
	fork_sm_terminated(&sm, 4, &out); /* could not be sent / ended without a final response */
	out.n = 0;
	fork_sm_timeout(&sm, &out);
	fork_sm_failed(&sm, 3, 487, NULL, SIP_FORK_UNAVAILABLE, &out); /* the CANCELled branch ends */
	CHECK(fork_sm_branch_silent(&sm, 0));
	CHECK(!fork_sm_branch_silent(&sm, 1));
	CHECK(fork_sm_branch_silent(&sm, 2));
	CHECK(fork_sm_branch_silent(&sm, 3));
	CHECK(fork_sm_branch_silent(&sm, 4));
	CHECK(!fork_sm_branch_silent(&sm, 5));
	/* the winner, and a 6xx */
	fork_sm_init(&sm, INV, b, 5);
	CHECK_EQ_INT(fork_sm_add(&sm), 0);
	CHECK_EQ_INT(fork_sm_add(&sm), 1);
	out.n = 0;
	fork_sm_start(&sm, &out);
	fork_sm_answered(&sm, 0, 200, &out);
	fork_sm_accept(&sm, 0, true, &out);
	CHECK(!fork_sm_branch_silent(&sm, 0));
	CHECK(fork_sm_branch_silent(&sm, 1));
	fork_sm_init(&sm, INV, b, 5);
	CHECK_EQ_INT(fork_sm_add(&sm), 0);
	out.n = 0;
	fork_sm_start(&sm, &out);
	fork_sm_failed(&sm, 0, 603, "Decline", SIP_FORK_ENDS, &out);
	CHECK(!fork_sm_branch_silent(&sm, 0));
}

UNIT_MAIN(T(two_devices_one_answers), T(six_xx_ends_the_fork), T(all_unavailable), T(best_response),
	  T(refused_2xx_is_failed_not_an_answer), T(late_2xx_is_byed), T(cancel_waits_for_a_provisional), T(timeout),
	  T(owner_cancel), T(branch_added_while_ringing), T(add_bounds), T(start_decides_what_failed_before),
	  T(terminated_without_final_is_500), T(message_fork_never_cancels_or_byes),
	  T(done_exactly_once_and_action_bound), T(events_for_unknown_branches_are_ignored),
	  T(default_class_matches_todays_policy), T(silent_branches))
