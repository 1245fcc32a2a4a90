/* Service-provider policy decisions, kept in one place so that later
 * capabilities (store-and-forward, per-user preferences) change them here
 * and nowhere else. */
#ifndef CPMD_PF_POLICY_H
#define CPMD_PF_POLICY_H

#include <stddef.h>

#include "cpm/sdp.h"
#include "cpmd/options.h"

struct pf_verdict {
	int status;          /* 0 = accept, else the SIP final response */
	char phrase[128];    /* reason phrase (names the limit when one applies) */
	char warning[256];   /* Warning header value, or "" */
};

/* Validate a push file-transfer offer against the RFC 5547 rules we need and
 * the operator's limits. */
void policy_check_offer(const struct cpmd_options *opts, const struct sdp_ft *offer, struct pf_verdict *v);

/* What to answer the sender when the recipient cannot take the file now:
 * no device registered, or every device answered 480/408/no answer.
 * Today: 480. Store-and-forward will turn this into "defer". */
enum pf_unreachable_why { PF_NO_DEVICE, PF_NO_ANSWER, PF_ALL_UNAVAILABLE };
void policy_unreachable(const struct cpmd_options *opts, enum pf_unreachable_why why, struct pf_verdict *v);

/* Is this branch failure "the device is not there" (as opposed to a real
 * answer such as 486 or 603)? */
int policy_is_unavailable_status(int status);

#endif
