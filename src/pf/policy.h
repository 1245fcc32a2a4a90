/* policy — every decision an operator could want to change, as pure functions of the
 * configuration (struct pf_config) and the facts of the case. The rest of pf asks here and
 * nowhere else decides: size limits, what an offer must carry, whether to defer and what to
 * answer when the recipient cannot take a file, how a fork branch's failure counts, expiry,
 * retry back-off, delivery concurrency, notification lifetime, and the precedence of the
 * operator's settings over a user's preferences (design §6).
 * No I/O, no store, no clock: the caller passes "now". Unit-tested in tests/unit/test_policy.c. */
#ifndef CPMD_PF_POLICY_H
#define CPMD_PF_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpm/sdp.h"
#include "pf/pf_config.h"
#include "sipua/fork.h"
#include "store/store.h"

struct pf_verdict {
	int status;          /* 0 = accept, else the SIP final response */
	char phrase[128];    /* reason phrase (names the limit when one applies) */
	char warning[256];   /* Warning header value, or "" */
};

/* Validate a push file-transfer offer against the RFC 5547 rules we need and the
 * operator's limits. */
void policy_check_offer(const struct pf_config *c, const struct sdp_ft *offer, struct pf_verdict *v);

/* What to answer the sender when the recipient cannot take the file now and it is not
 * deferred. */
enum pf_unreachable_why { PF_NO_DEVICE, PF_NO_ANSWER, PF_ALL_UNAVAILABLE };
void policy_unreachable(const struct pf_config *c, enum pf_unreachable_why why, struct pf_verdict *v);

/* How a fork branch's final failure counts (sipua's fork engine asks through its classify
 * callback): 6xx ends the fork; 408/480/404/487/5xx mean "the device is not there". */
enum sip_fork_class policy_fork_class(int status);

/* The user's effective settings: the operator's defaults, the user's stored preference over
 * them (stored may be NULL), and the operator's switches over both. */
struct pf_user_policy {
	bool defer;
	enum store_method method;
	enum store_on_expiry on_expiry;
};
void policy_user(const struct pf_config *c, const struct store_prefs *stored, struct pf_user_policy *out);

/* One --user-pref "AOR:KEY=VALUE" (AOR with or without "sip:"; KEY defer|method|on-expiry)
 * applied to *p (which holds the user's current preference). 0, or -1 when malformed (p is
 * then unchanged). aor_key gets the canonical "user@host" key. */
int policy_parse_user_pref(const char *spec, char *aor_key, size_t cap, char *key, size_t kcap, char *val,
			   size_t vcap);
int policy_apply_user_pref(struct store_prefs *p, const char *key, const char *val);

/* May this transfer be deferred? up = the recipient's policy; has_size = the offer declares
 * the file's size (a file of unknown size cannot be checked, so it is never stored). */
bool policy_may_defer(const struct pf_config *c, const struct pf_user_policy *up, bool has_size);

/* expires_at (ms) for an item created at now_ms, from the sender's Cpm-Expires (0 = none):
 * the default when none, capped at the maximum. */
int64_t policy_expiry(const struct pf_config *c, int64_t now_ms, uint64_t requested_s);

/* Seconds before delivery attempt number attempts+1 after attempts failures: doubling from
 * --delivery-retry MIN, capped at MAX. */
unsigned policy_retry_delay(const struct pf_config *c, unsigned attempts);

/* How many more push deliveries may start for a user who has `active` in flight. */
unsigned policy_delivery_room(const struct pf_config *c, unsigned active);

/* A notification created before this time (ms) is dropped: its sender never came back in
 * twice the longest time an item may be kept. */
int64_t policy_notif_drop_before(const struct pf_config *c, int64_t now_ms);

#endif
