/* struct sip_msg accessors (sip_leg.h): what pf reads of a received request or response,
 * copied out with bounds. Every value is the peer's: nothing is trusted, nothing is cut
 * where it would be compared (a longer value is -E2BIG). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_extra.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/url.h>

#include "sipua/sip_glue.h"
#include "sipua/sip_leg.h"
#include "sipua/sipua_int.h"

int sip_msg_status(const struct sip_msg *m)
{
	return m ? m->status : 0;
}

const char *sip_msg_phrase(const struct sip_msg *m)
{
	return m && m->phrase ? m->phrase : "";
}

const char *sip_msg_method(const struct sip_msg *m)
{
	if (!m || !m->sip || !m->sip->sip_request || !m->sip->sip_request->rq_method_name)
		return "";
	return m->sip->sip_request->rq_method_name;
}

/* Copies s (NULL: "") into out[cap]: 0, or -E2BIG when it does not fit (out is then ""). */
static int copy_bounded(char *out, size_t cap, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n >= cap) {
		out[0] = '\0';
		return -E2BIG;
	}
	memcpy(out, s ? s : "", n);
	out[n] = '\0';
	return 0;
}

/* The display name without its quotes (and backslash escapes), cut at the bound: it is only
 * shown. */
static void display_plain(char *out, size_t cap, const char *d)
{
	size_t o = 0, n = d ? strlen(d) : 0;

	out[0] = '\0';
	if (!n)
		return;
	if (n >= 2 && d[0] == '"' && d[n - 1] == '"') {
		for (size_t i = 1; i + 1 < n && o + 1 < cap; i++) {
			if (d[i] == '\\' && i + 2 < n)
				i++;
			out[o++] = d[i];
		}
	} else {
		for (size_t i = 0; i < n && o + 1 < cap; i++)
			out[o++] = d[i];
	}
	out[o] = '\0';
}

static int fill_addr(const url_t *url, const char *display, bool need_user, struct sip_addr *out)
{
	out->uri[0] = out->user[0] = out->host[0] = out->display[0] = out->display_raw[0] = '\0';
	if (!url || !url->url_host || !*url->url_host)
		return -ENOENT;
	if (need_user && (!url->url_user || !*url->url_user))
		return -ENOENT;
	isize_t ilen = url_len(url);
	size_t len = ilen > 0 ? (size_t)ilen : 0;
	if (ilen <= 0 || len >= sizeof out->uri)
		return -E2BIG;
	if (url_e(out->uri, sizeof out->uri, url) < 0) {
		out->uri[0] = '\0';
		return -E2BIG;
	}
	out->uri[len] = '\0';
	if (copy_bounded(out->user, sizeof out->user, url->url_user) ||
	    copy_bounded(out->host, sizeof out->host, url->url_host))
		return -E2BIG;
	display_plain(out->display, sizeof out->display, display);
	if (copy_bounded(out->display_raw, sizeof out->display_raw, display))
		out->display_raw[0] = '\0'; /* too long to carry: the address goes without it */
	return 0;
}

int sip_msg_request_uri(const struct sip_msg *m, struct sip_addr *out)
{
	const sip_t *sip = m ? m->sip : NULL;
	return fill_addr(sip && sip->sip_request ? sip->sip_request->rq_url : NULL, NULL, true, out);
}

int sip_msg_from(const struct sip_msg *m, struct sip_addr *out)
{
	const sip_t *sip = m ? m->sip : NULL;
	const sip_from_t *a = sip ? sip->sip_from : NULL;
	return fill_addr(a ? a->a_url : NULL, a ? a->a_display : NULL, false, out);
}

int sip_msg_to(const struct sip_msg *m, struct sip_addr *out)
{
	const sip_t *sip = m ? m->sip : NULL;
	const sip_to_t *a = sip ? sip->sip_to : NULL;
	return fill_addr(a ? a->a_url : NULL, a ? a->a_display : NULL, false, out);
}

bool sip_msg_over_tcp(const struct sip_msg *m)
{
	const sip_t *sip = m ? m->sip : NULL;
	if (!sip || !sip->sip_via || !sip->sip_via->v_protocol)
		return false;
	/* "SIP/2.0/TCP": the transport is what follows the last '/' */
	const char *t = strrchr(sip->sip_via->v_protocol, '/');
	return t && su_casenmatch(t + 1, "TCP", 3);
}

int sip_msg_header(const struct sip_msg *m, const char *name, char *out, size_t cap)
{
	if (cap)
		out[0] = '\0';
	if (!m || !m->sip || !name)
		return -ENOENT;
	int rc = sipglue_header_value(m->sip, name, out, cap);
	if (rc == -1) {
		if (cap)
			out[0] = '\0';
		return -E2BIG;
	}
	return rc;
}

char *sip_msg_carried_headers(const struct sip_msg *m, struct cpm_arena *a, const char *icsi_tag)
{
	if (!m || !m->sip)
		return cpm_arena_strdup(a, "");
	su_home_t home[1] = {SU_HOME_INIT(home)};
	char *h = sipglue_carried_headers(home, m->sip, icsi_tag);
	char *out = h ? cpm_arena_strdup(a, h) : NULL;
	su_home_deinit(home);
	return out;
}

int sip_msg_body_sdp(const struct sip_msg *m, struct cpm_arena *a, struct cpm_str *sdp, struct mime_part *parts,
		     size_t *nparts)
{
	(void)a; /* the SDP and the parts are slices of the message's body */
	*nparts = 0;
	if (!m || !m->sip)
		return 488;
	su_home_t home[1] = {SU_HOME_INIT(home)};
	int rc = sipglue_body_sdp(home, m->sip, sdp, parts, nparts);
	su_home_deinit(home); /* held only the Content-Type string, which nothing points into */
	return rc;
}

struct cpm_str sip_msg_content_type(const struct sip_msg *m)
{
	const sip_t *sip = m ? m->sip : NULL;
	if (!sip || !sip->sip_content_type || !sip->sip_content_type->c_type)
		return CPM_STR_NULL;
	return cpm_str_c(sip->sip_content_type->c_type);
}

struct cpm_str sip_msg_body(const struct sip_msg *m)
{
	const sip_t *sip = m ? m->sip : NULL;
	if (!sip || !sip->sip_payload || !sip->sip_payload->pl_data)
		return CPM_STR_NULL;
	return (struct cpm_str){sip->sip_payload->pl_data, sip->sip_payload->pl_len};
}

/* The first sip:/sips: entry of a P-Asserted-Identity list (RFC 3325 §9.1: at most one sip/sips
 * and one tel URI), parsed by sofia (its own header class when the message class knows it,
 * else the raw header through sofia's P-Asserted-Identity parser). */
static int asserted_identity(const sip_t *sip, struct sip_addr *out)
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	const sip_p_asserted_identity_t *pai = sip_p_asserted_identity(sip);
	char raw[SIPGLUE_MAX_CARRIED_VALUE + 1];
	int rc = -ENOENT;

	if (!pai && sipglue_header_value(sip, "P-Asserted-Identity", raw, sizeof raw) == 0)
		pai = sip_p_asserted_identity_make(home, raw);
	for (; pai; pai = pai->paid_next)
		if (pai->paid_url->url_type == url_sip || pai->paid_url->url_type == url_sips) {
			rc = fill_addr(pai->paid_url, pai->paid_display, false, out);
			break;
		}
	su_home_deinit(home);
	return rc;
}

/* Standalone with auth on: the user@domain the digest response proved (sip_auth.c), with the
 * display name of From (it is only shown). */
static int proven_identity(const struct sip_msg *m, struct sip_addr *out)
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	char uri[SUBSCRIBER_KEY_MAX + 8];
	snprintf(uri, sizeof uri, "sip:%s", m->auth_user);
	url_t *u = url_make(home, uri);
	const sip_from_t *f = m->sip ? m->sip->sip_from : NULL;
	int rc = u ? fill_addr(u, f ? f->a_display : NULL, true, out) : -ENOENT;
	su_home_deinit(home);
	return rc;
}

int sip_msg_identity(const struct sip_msg *m, struct sip_addr *out)
{
	if (m && m->auth_user)
		return proven_identity(m, out);
	if (m && m->as_mode && m->sip && asserted_identity(m->sip, out) == 0)
		return 0;
	return sip_msg_from(m, out);
}

bool sip_msg_is_orig(const struct sip_msg *m)
{
	const sip_route_t *r = m && m->as_mode && m->sip ? m->sip->sip_route : NULL;
	if (!r)
		return false;
	return url_has_param(r->r_url, "orig") || msg_params_find(r->r_params, "orig") != NULL;
}

int sip_msg_route_after_us(const struct sip_msg *m, char *out, size_t cap)
{
	const sip_route_t *r = m && m->sip && m->sip->sip_route ? m->sip->sip_route->r_next : NULL;
	su_home_t home[1] = {SU_HOME_INIT(home)};
	size_t len = 0;
	int rc = r ? 0 : -ENOENT;

	if (cap)
		out[0] = '\0';
	for (; r && !rc; r = r->r_next) {
		/* one entry: sofia prints a header of a list without its successors */
		char *v = sip_header_as_string(home, (const sip_header_t *)r);
		size_t n = v ? strlen(v) : 0;
		if (!v || len + (len ? 2 : 0) + n >= cap) {
			rc = -E2BIG;
			break;
		}
		if (len) {
			memcpy(out + len, ", ", 2);
			len += 2;
		}
		memcpy(out + len, v, n + 1);
		len += n;
	}
	if (rc && cap)
		out[0] = '\0';
	su_home_deinit(home);
	return rc;
}
