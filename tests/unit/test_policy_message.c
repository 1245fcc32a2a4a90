/* src/pf/policy.c, Large Message Mode (docs/internals/messaging.md §2): what a large-message
 * offer must carry, --max-message-size (413 with phrase and Warning), the relay's limit. */
#include <stdint.h>

#include "pf/policy.h"
#include "unit.h"

/* A large-message offer that passes every check. */
static struct sdp_ft offer(void)
{
	struct sdp_ft o;
	memset(&o, 0, sizeof o);
	o.port = 9;
	o.dir = SDP_DIR_SENDONLY;
	o.setup = SDP_SETUP_ACTIVE;
	snprintf(o.accept_types, sizeof o.accept_types, "message/cpim");
	return o;
}

static void verdict(const struct pf_config *c, const struct sdp_ft *o, int st, const char *phrase, int *ok)
{
	struct pf_verdict v;
	memset(&v, 'x', sizeof v);
	v.phrase[sizeof v.phrase - 1] = v.warning[sizeof v.warning - 1] = '\0';
	*ok = 0;
	policy_check_message_offer(c, o, &v);
	CHECK_EQ_INT(v.status, st);
	CHECK_STR(v.phrase, phrase);
	if (st != 413)
		CHECK_STR(v.warning, "");
	*ok = 1;
}

#define VERDICT(c, o, st, ph)                                                                                  \
	do {                                                                                                   \
		int _ok;                                                                                       \
		verdict((c), (o), (st), (ph), &_ok);                                                           \
		if (!_ok)                                                                                      \
			return;                                                                                \
	} while (0)

UNIT_TEST(message_offer_rules)
{
	struct pf_config c;
	memset(&c, 0, sizeof c);
	struct sdp_ft o = offer();
	VERDICT(&c, &o, 0, "");
	o.setup = SDP_SETUP_ACTPASS;
	VERDICT(&c, &o, 0, "");
	snprintf(o.accept_types, sizeof o.accept_types, "text/plain Message/CPIM");
	VERDICT(&c, &o, 0, "");
	snprintf(o.accept_types, sizeof o.accept_types, "*");
	VERDICT(&c, &o, 0, "");

	o = offer();
	o.port = 0;
	VERDICT(&c, &o, 488, "MSRP Stream Rejected In Offer");
	o = offer();
	o.dir = SDP_DIR_SENDRECV;
	VERDICT(&c, &o, 488, "Large Message Offer Must Be sendonly");
	o.dir = SDP_DIR_RECVONLY;
	VERDICT(&c, &o, 488, "Large Message Offer Must Be sendonly");
	o = offer();
	o.has_selector = true;
	VERDICT(&c, &o, 488, "Large Message Offer With A File Selector");
	o = offer();
	snprintf(o.accept_types, sizeof o.accept_types, "text/plain message/cpimx");
	VERDICT(&c, &o, 488, "Large Message Must Be message/cpim (a=accept-types)");
	o.accept_types[0] = '\0';
	VERDICT(&c, &o, 488, "Large Message Must Be message/cpim (a=accept-types)");
	o = offer();
	o.setup = SDP_SETUP_PASSIVE;
	VERDICT(&c, &o, 488, "MSRP Offerer Must Be Active (a=setup)");
}

UNIT_TEST(message_size_limit)
{
	struct pf_config c;
	memset(&c, 0, sizeof c);
	struct sdp_ft o = offer();
	struct pf_verdict v;

	o.has_max_size = true;
	o.max_size = UINT64_MAX >> 2;
	VERDICT(&c, &o, 0, ""); /* 0: no limit */
	c.max_message_size = 1000;
	o.max_size = 1000;
	VERDICT(&c, &o, 0, ""); /* at the limit */
	o.max_size = 1001;
	policy_check_message_offer(&c, &o, &v);
	CHECK_EQ_INT(v.status, 413);
	CHECK_STR(v.phrase, "Message Too Large (max 1000 bytes)");
	CHECK_STR(v.warning, "399 cpmd \"message size 1001 exceeds the maximum of 1000 bytes\"");
	o.has_max_size = false; /* no size announced: the relay checks the Byte-Range total */
	VERDICT(&c, &o, 0, "");
	CHECK_EQ_INT(policy_max_message_size(&c), 1000);
	c.max_file_size = 5; /* the file limit is another one */
	CHECK_EQ_INT(policy_max_message_size(&c), 1000);
}

UNIT_MAIN(T(message_offer_rules), T(message_size_limit))
