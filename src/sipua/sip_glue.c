/* See sip_glue.h. */
#include "sipua/sip_glue.h"

#include <errno.h>
#include <string.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_string.h>

int sipglue_contact_expires(sip_contact_t const *m, sip_t const *sip, unsigned dflt, unsigned *out)
{
	uint64_t v;

	if (m->m_expires) {
		/* A huge value is just "as long as you allow": clamp it. */
		struct cpm_str s = cpm_str_c(m->m_expires);
		if (s.len > 19) {
			for (size_t i = 0; i < s.len; i++)
				if (s.p[i] < '0' || s.p[i] > '9')
					return -1;
			*out = ~0u;
			return 0;
		}
		if (!cpm_str_to_u64(s, &v))
			return -1;
		*out = v > ~0u ? ~0u : (unsigned)v;
		return 0;
	}
	if (sip && sip->sip_expires) {
		*out = (unsigned)sip->sip_expires->ex_delta;
		return 0;
	}
	*out = dflt;
	return 0;
}

int sipglue_device_key(sip_contact_t const *m, const char *contact_uri, char *out, size_t cap)
{
	const char *inst = msg_params_find(m->m_params, "+sip.instance=");
	struct cpm_str k = inst ? cpm_str_c(inst) : cpm_str_c(contact_uri);

	if (inst && k.len >= 2 && k.p[0] == '"' && k.p[k.len - 1] == '"') {
		k.p++;
		k.len -= 2;
	}
	if (k.len == 0)
		return -1;
	return cpm_str_copy(out, cap, k) ? 0 : -1;
}

/* Same user (case-sensitive, RFC 3261 §19.1.4) and host (case-insensitive). */
static bool same_aor(const url_t *a, const url_t *b)
{
	return a->url_user && b->url_user && a->url_host && b->url_host && !strcmp(a->url_user, b->url_user) &&
	       su_casematch(a->url_host, b->url_host);
}

int sipglue_embedded_register(sip_t const *sip, msg_t **out, const char **why)
{
	*out = NULL;
	*why = NULL;
	if (!sip->sip_payload || !sip->sip_payload->pl_len)
		return 0;
	if (!sip->sip_content_type || !su_casematch(sip->sip_content_type->c_type, "message/sip")) {
		*why = "Body Is Not message/sip";
		return 400;
	}
	if (sip->sip_payload->pl_len > SIPUA_3PREG_BODY_MAX) {
		*why = "message/sip Body Too Large";
		return 413;
	}
	msg_t *msg = msg_make(sip_default_mclass(), 0, sip->sip_payload->pl_data, (ssize_t)sip->sip_payload->pl_len);
	sip_t const *in = msg ? sip_object(msg) : NULL;
	int rc = 400;
	if (!in || (in->sip_flags & MSG_FLG_ERROR) || !(in->sip_flags & MSG_FLG_COMPLETE) || in->sip_error ||
	    !in->sip_request || !in->sip_to || !in->sip_call_id || !in->sip_cseq)
		*why = "Malformed message/sip Body";
	else if (in->sip_request->rq_method != sip_method_register)
		*why = "message/sip Body Is Not A REGISTER";
	else if (!sip->sip_to || !same_aor(in->sip_to->a_url, sip->sip_to->a_url))
		*why = "message/sip Body Is For Another User";
	else
		rc = 0;
	if (rc) {
		if (msg)
			msg_destroy(msg);
		return rc;
	}
	*out = msg;
	return 0;
}

int sipglue_body_sdp(su_home_t *home, sip_t const *sip, struct cpm_str *sdp, struct mime_part *parts,
		     size_t *nparts)
{
	*nparts = 0;
	if (!sip->sip_payload || !sip->sip_content_type || !sip->sip_content_type->c_type)
		return 488;
	if (sip->sip_payload->pl_len > MIME_MAX_BODY)
		return 413;
	struct cpm_str body = {sip->sip_payload->pl_data, sip->sip_payload->pl_len};
	char *ct = sip_header_as_string(home, (sip_header_t const *)sip->sip_content_type);
	if (!ct)
		return 500;
	struct cpm_str cts = cpm_str_c(ct);
	if (cpm_str_caseeq(mime_type_only(cts), "application/sdp")) {
		*sdp = body;
		return 0;
	}
	if (!mime_is_multipart(cts))
		return 415;
	char boundary[MIME_MAX_BOUNDARY + 1];
	if (mime_boundary(cts, boundary, sizeof boundary) != MIME_OK)
		return 400;
	if (mime_multipart_parse(body.p, body.len, boundary, parts, MIME_MAX_PARTS, nparts) != MIME_OK)
		return 400;
	const struct mime_part *p = mime_find_type(parts, *nparts, "application/sdp");
	if (!p)
		return 488;
	*sdp = p->body;
	return 0;
}

static const char *const carried[] = {
	"Conversation-ID", "Contribution-ID", "InReplyTo-Contribution-ID", "P-Preferred-Service",
	"P-Asserted-Service",
};

char *sipglue_carried_headers(su_home_t *home, sip_t const *sip, const char *icsi_tag)
{
	char *acc = su_strdup(home, "");
	for (sip_unknown_t const *u = sip->sip_unknown; u && acc; u = u->un_next) {
		if (!u->un_name || !u->un_value || strlen(u->un_value) > SIPGLUE_MAX_CARRIED_VALUE)
			continue;
		for (size_t i = 0; i < sizeof carried / sizeof carried[0]; i++)
			if (su_casematch(u->un_name, carried[i]))
				acc = su_sprintf(home, "%s%s: %s\r\n", acc, carried[i], u->un_value);
	}
	/* sofia parses these itself (they are not in sip_unknown). */
	if (acc && sip->sip_subject && sip->sip_subject->g_value &&
	    strlen(sip->sip_subject->g_value) <= SIPGLUE_MAX_CARRIED_VALUE)
		acc = su_sprintf(home, "%sSubject: %s\r\n", acc, sip->sip_subject->g_value);
	if (acc && sip->sip_referred_by) {
		char *v = sip_header_as_string(home, (sip_header_t const *)sip->sip_referred_by);
		if (v && strlen(v) <= SIPGLUE_MAX_CARRIED_VALUE)
			acc = su_sprintf(home, "%sReferred-By: %s\r\n", acc, v);
	}
	int have_ac = 0;
	for (sip_accept_contact_t const *a = sip->sip_accept_contact; a && acc; a = a->cp_next) {
		char *v = sip_header_as_string(home, (sip_header_t const *)a);
		if (v && strlen(v) <= SIPGLUE_MAX_CARRIED_VALUE) {
			acc = su_sprintf(home, "%sAccept-Contact: %s\r\n", acc, v);
			have_ac = 1;
		}
	}
	if (acc && !have_ac)
		acc = su_sprintf(home, "%sAccept-Contact: *;%s\r\n", acc, icsi_tag ? icsi_tag : CPM_FT_ICSI_TAG);
	return acc;
}

int sipglue_header_value(sip_t const *sip, const char *name, char *out, size_t cap)
{
	if (cap)
		out[0] = '\0';
	for (sip_unknown_t const *u = sip->sip_unknown; u; u = u->un_next) {
		if (!u->un_name || !su_casematch(u->un_name, name))
			continue;
		if (!u->un_value)
			return -1;
		size_t n = strlen(u->un_value);
		if (n + 1 > cap)
			return -1;
		memcpy(out, u->un_value, n + 1);
		return 0;
	}
	return -ENOENT;
}
