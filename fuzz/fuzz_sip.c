/* libFuzzer driver for cpmd's SIP glue: sofia-sip parses the raw message,
 * then every helper that reads peer-controlled parts of it runs (contact
 * expiry and device keys, body/SDP extraction incl. multipart, carried CPM
 * headers, the message/sip body of a third-party REGISTER), the SDP found goes through the
 * RFC 5547 parser, and every
 * sip_msg_* reader that pf uses (sipua/sip_leg.h: addresses, display names,
 * headers, bodies, the URI key) runs on the same message. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_alloc.h>

#include "cpm/arena.h"
#include "cpm/sdp.h"
#include "sipua/sip_glue.h"
#include "sipua/sip_leg.h"
#include "sipua/sipua_int.h"

/* pf's view of the message, as sip_leg.c hands it over. */
static void readers(sip_t const *sip)
{
	static struct sip_addr a;
	struct sip_msg m = {.sip = sip};
	struct cpm_arena ar = CPM_ARENA_INIT;
	struct mime_part parts[MIME_MAX_PARTS];
	size_t nparts;
	struct cpm_str sdp;
	char v[64], key[256];

	(void)sip_msg_method(&m);
	if (sip_msg_request_uri(&m, &a) == 0)
		sip_uri_aor_key(a.uri, key, sizeof key);
	if (sip_msg_from(&m, &a) == 0)
		sip_uri_aor_key(a.uri, key, sizeof key);
	sip_msg_to(&m, &a);
	/* the served identity and the session case, in both modes */
	for (int as = 0; as < 2; as++) {
		m.as_mode = as;
		if (sip_msg_identity(&m, &a) == 0 && !memchr(a.uri, 0, sizeof a.uri))
			__builtin_trap();
		(void)sip_msg_is_orig(&m);
	}
	{
		static char rt[512];
		int rc = sip_msg_route_after_us(&m, rt, sizeof rt);
		if ((rc == 0 && !rt[0]) || (rc != 0 && rt[0]) || !memchr(rt, 0, sizeof rt))
			__builtin_trap();
	}
	m.as_mode = false;
	(void)sip_msg_over_tcp(&m);
	sip_msg_header(&m, "Cpm-Item-Id", v, sizeof v);
	sip_msg_carried_headers(&m, &ar, CPM_MSG_ICSI_TAG);
	sip_msg_body_sdp(&m, &ar, &sdp, parts, &nparts);
	(void)sip_msg_content_type(&m);
	(void)sip_msg_body(&m);
	cpm_arena_free(&ar);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sdp_ft ft;
	msg_t *msg = msg_make(sip_default_mclass(), 0, data, (ssize_t)size);
	if (!msg)
		return 0;
	sip_t *sip = sip_object(msg);
	su_home_t home[1] = {SU_HOME_INIT(home)};
	if (sip) {
		for (sip_contact_t const *m = sip->sip_contact; m; m = m->m_next) {
			unsigned e;
			char key[256];
			sipglue_contact_expires(m, sip, 3600, &e);
			char *uri = url_as_string(home, m->m_url);
			if (uri)
				sipglue_device_key(m, uri, key, sizeof key);
		}
		struct mime_part parts[MIME_MAX_PARTS];
		size_t nparts;
		struct cpm_str sdp;
		if (sipglue_body_sdp(home, sip, &sdp, parts, &nparts) == 0)
			sdp_parse_ft(sdp.p, sdp.len, &ft);
		sipglue_carried_headers(home, sip, NULL);
		char v[32];
		sipglue_header_value(sip, "Cpm-Expires", v, sizeof v);
		sipglue_header_value(sip, "Cpm-Item-Id", v, sizeof v);
		/* a third-party REGISTER's message/sip body, parsed by sofia again */
		msg_t *inner = NULL;
		const char *why = NULL;
		int rc = sipglue_embedded_register(sip, &inner, &why);
		if ((rc == 0) != (why == NULL) || (rc && inner))
			__builtin_trap();
		if (inner) {
			sip_t const *in = sip_object(inner);
			if (!in || !in->sip_request || in->sip_request->rq_method != sip_method_register)
				__builtin_trap();
			for (sip_contact_t const *c = in->sip_contact; c; c = c->m_next) {
				unsigned e;
				char key[256];
				sipglue_contact_expires(c, in, 3600, &e);
				char *uri = url_as_string(home, c->m_url);
				if (uri)
					sipglue_device_key(c, uri, key, sizeof key);
			}
			msg_destroy(inner);
		}
		readers(sip);
	}
	su_home_deinit(home);
	msg_destroy(msg);
	return 0;
}
