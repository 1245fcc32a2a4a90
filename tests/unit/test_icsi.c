/* cpm_icsi_in (lib/util/icsi.c) and sdp_accepts_type (lib/sdp): how an INVITE says it is a
 * large message (docs/internals/messaging.md, the ICSI table). */
#include "cpm/icsi.h"
#include "cpm/sdp.h"
#include "unit.h"

static bool in(const char *s, const char *name)
{
	return cpm_icsi_in(s, strlen(s), name);
}

UNIT_TEST(icsi_forms)
{
	/* the URN (P-Preferred-Service) and the feature tag (Accept-Contact) */
	CHECK(in(CPM_ICSI_LARGEMSG, "largemsg"));
	CHECK(in("*;" CPM_LARGEMSG_ICSI_TAG, "largemsg"));
	CHECK(in("*;" CPM_DEFERRED_ICSI_TAG ";explicit", "deferred"));
	CHECK(in("*;+g.3gpp.icsi-ref=\"urn%3aurn-7%3a3GPP-Service.IMS.ICSI.OMA.CPM.LargeMsg\"", "largemsg"));
	CHECK(in(CPM_ICSI_FT ", " CPM_ICSI_LARGEMSG, "largemsg")); /* a list */
	CHECK(in(CPM_ICSI_MSG, "msg"));
}

UNIT_TEST(icsi_whole_label)
{
	CHECK(!in(CPM_ICSI_LARGEMSG, "msg"));
	CHECK(!in(CPM_ICSI_MSG, "largemsg"));
	CHECK(!in(CPM_ICSI_PREFIX "largemsgx", "largemsg"));
	CHECK(!in(CPM_ICSI_PREFIX "largemsg.v2", "largemsg"));
	CHECK(!in("x3gpp-service.ims.icsi.oma.cpm.largemsg", "largemsg"));
	CHECK(!in("urn:urn-7:3gpp-service.ims.icsi.oma.cpm.", "largemsg"));
	CHECK(!in("", "largemsg"));
	CHECK(!in(CPM_ICSI_LARGEMSG, ""));
	CHECK(!cpm_icsi_in(NULL, 0, "largemsg"));
	/* bounded by len, not by a NUL */
	CHECK(!cpm_icsi_in(CPM_ICSI_LARGEMSG, strlen(CPM_ICSI_LARGEMSG) - 1, "largemsg"));
	CHECK(cpm_icsi_in(CPM_ICSI_LARGEMSG "x", strlen(CPM_ICSI_LARGEMSG), "largemsg"));
}

UNIT_TEST(accept_types)
{
	struct sdp_ft s;
	memset(&s, 0, sizeof s);
	CHECK(!sdp_accepts_type(&s, "message/cpim"));
	snprintf(s.accept_types, sizeof s.accept_types, "message/cpim");
	CHECK(sdp_accepts_type(&s, "message/cpim"));
	CHECK(sdp_accepts_type(&s, "Message/CPIM"));
	CHECK(!sdp_accepts_type(&s, "text/plain"));
	snprintf(s.accept_types, sizeof s.accept_types, "  text/plain   message/cpim ");
	CHECK(sdp_accepts_type(&s, "message/cpim"));
	snprintf(s.accept_types, sizeof s.accept_types, "message/cpimx text/plain");
	CHECK(!sdp_accepts_type(&s, "message/cpim"));
	snprintf(s.accept_types, sizeof s.accept_types, "*");
	CHECK(sdp_accepts_type(&s, "message/cpim"));
}

UNIT_MAIN(T(icsi_forms), T(icsi_whole_label), T(accept_types))
