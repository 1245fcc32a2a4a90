/* Digest authentication of requests from devices (standalone mode, auth on; see
 * docs/security.md). Why not sofia's auth_module: in sofia-sip 1.12.11 it offers one algorithm
 * (MD5 only: auth_module.c computes HA1 with su_md5), one challenge per response, and no replay
 * protection (a nonce is valid for its whole lifetime with any nonce-count up to max_ncount;
 * nothing remembers which counts were used), and its password backend is a file or a table
 * of plain passwords. We need SHA-256 and MD5 offered side by side (RFC 8760), replay
 * protection and the subscriber list as the backend, so we keep sofia's parser of the
 * credentials (auth_digest_response_get) and do the arithmetic in common/digest.c and the
 * nonces in common/nonce.c. */
#include <string.h>
#include <stdio.h>
#include <time.h>

#include <sofia-sip/auth_digest.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_string.h>

#include "common/digest.h"
#include "common/log.h"
#include "common/nonce.h"
#include "common/subscribers.h"
#include "sipua/sipua_int.h"

static uint64_t now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

int sipua_auth_init(struct sipua *s)
{
	if (s->cfg.as_mode || !s->cfg.auth)
		return 0;
	return nonce_state_create(&s->nonces, s->cfg.nonce_lifetime_s);
}

void sipua_auth_fini(struct sipua *s)
{
	nonce_state_destroy(s->nonces);
	s->nonces = NULL;
}

void sipua_set_subscribers(struct sipua *s, const struct subscribers *users)
{
	s->users = users;
}

/* The realm we challenge with: the domain of the user the request claims (To of a REGISTER,
 * From of anything else) when it is ours, else our first domain. The realm only tells the
 * client which password to use; what counts is the user@realm that the response proves. */
static const char *pick_realm(const struct sipua *s, const sip_t *sip, bool reg)
{
	const sip_addr_t *a = reg ? sip->sip_to : sip->sip_from;
	const char *h = a ? a->a_url->url_host : NULL;
	const struct domain_set *d = s->cfg.domains;
	if (h && domain_set_has(d, h, strlen(h))) {
		for (int i = 0; i < d->n; i++)
			if (su_casematch(d->name[i], h))
				return d->name[i];
	}
	return d && d->n ? d->name[0] : "localhost";
}

static void respond(struct sipua *s, nua_event_t event, nua_handle_t *nh, int status, const char *phrase,
		    const char *hdrs)
{
	if (event == nua_i_invite) /* the handle is destroyed at its terminated state (sipua.c) */
		nua_respond(nh, status, phrase, TAG_IF(hdrs, SIPTAG_HEADER_STR(hdrs)), TAG_END());
	else
		sipua_respond_destroy(s, nh, status, phrase, TAG_IF(hdrs, SIPTAG_HEADER_STR(hdrs)), TAG_END());
}

/* 401 / 407 with SHA-256 offered first (RFC 8760 §2.4: the server lists the algorithms it
 * prefers first) and MD5 for the clients that know no better, one fresh nonce for both. */
static void challenge(struct sipua *s, nua_event_t event, nua_handle_t *nh, bool reg, const char *realm, bool stale,
		      int only)
{
	const char *name = reg ? "WWW-Authenticate" : "Proxy-Authenticate";
	char nonce[NONCE_LEN + 1], hdrs[2 * (DOMAIN_NAME_MAX + NONCE_LEN + 128)];
	size_t n = 0;

	nonce_make(s->nonces, now_s(), nonce);
	static const int dflt[] = {DIGEST_SHA256, DIGEST_MD5};
	const int *algs = s->cfg.nalgs ? s->cfg.algs : dflt;
	int nalgs = s->cfg.nalgs ? s->cfg.nalgs : 2;
	for (int i = 0; i < nalgs; i++) {
		int a = algs[i];
		if (only >= 0 && a != only)
			continue;
		n += (size_t)snprintf(hdrs + n, sizeof hdrs - n, "%s%s: Digest realm=\"%s\", nonce=\"%s\", algorithm=%s, qop=\"auth\"%s",
				      n ? "\r\n" : "", name, realm, nonce, digest_alg_name((enum digest_alg)a),
				      stale ? ", stale=true" : "");
	}
	respond(s, event, nh, reg ? 401 : 407, reg ? "Unauthorized" : "Proxy Authentication Required", hdrs);
}

static bool alg_offered(const struct sipua *s, enum digest_alg a)
{
	for (int i = 0; i < s->cfg.nalgs; i++)
		if (s->cfg.algs[i] == (int)a)
			return true;
	return s->cfg.nalgs == 0;
}

/* REGISTER binds the devices of its To: only the authenticated user's own. */
static bool to_is(const sip_t *sip, const char *user, const char *realm)
{
	const url_t *u = sip->sip_to ? sip->sip_to->a_url : NULL;
	return u && u->url_user && u->url_host && !strcmp(u->url_user, user) && su_casematch(u->url_host, realm);
}

bool sipua_auth_check(struct sipua *s, nua_event_t event, nua_handle_t *nh, sip_t const *sip)
{
	bool reg = event == nua_i_register;
	s->auth_user[0] = '\0';
	if (s->cfg.as_mode || !s->cfg.auth || !sip || !s->nonces)
		return true;
	if (event != nua_i_register && event != nua_i_invite && event != nua_i_message)
		return true; /* nua answers the others itself: none of them is a service of ours */

	const char *realm = pick_realm(s, sip, reg);
	const char *method = sip->sip_request ? sip->sip_request->rq_method_name : "";
	msg_auth_t *cred = reg ? sip->sip_authorization : sip->sip_proxy_authorization;
	su_home_t home[1] = {SU_HOME_INIT(home)};
	auth_response_t ar[1];
	bool stale = false, ok = false;
	const char *why = NULL;

	for (; cred; cred = cred->au_next) {
		if (!su_casematch(cred->au_scheme, "Digest"))
			continue;
		memset(ar, 0, sizeof ar);
		ar->ar_size = sizeof ar;
		if (auth_digest_response_get(home, ar, cred->au_params) < 0 || !ar->ar_realm ||
		    !su_casematch(ar->ar_realm, realm))
			continue;
		break; /* the credentials for our realm */
	}
	if (!cred)
		goto challenge;

	enum digest_alg alg;
	char ha1[DIGEST_HEX_MAX + 1], want[DIGEST_HEX_MAX + 1];
	if (!ar->ar_username || !ar->ar_nonce || !ar->ar_uri || !ar->ar_response ||
	    digest_alg_parse(ar->ar_algorithm, &alg) || !alg_offered(s, alg))
		goto challenge;
	if (ar->ar_qop && (!su_casematch(ar->ar_qop, "auth") || !ar->ar_nc || !ar->ar_cnonce))
		goto challenge;
	switch (nonce_check(s->nonces, ar->ar_nonce, ar->ar_qop ? ar->ar_nc : NULL, now_s())) {
	case NONCE_OK:
		break;
	case NONCE_STALE:
		stale = true;
		goto challenge;
	default:
		goto challenge;
	}
	const struct subscriber *u = subscribers_find(s->users, ar->ar_username, realm);
	if (!u) {
		why = "not a subscriber";
	} else if (subscriber_ha1(u, alg, ha1)) {
		/* the user's secret is an HA1 of the other algorithm: ask again for that one only
		 * (the client could not know which one we hold) */
		su_home_deinit(home);
		challenge(s, event, nh, reg, realm, false, u->kind == SUB_HA1_MD5 ? DIGEST_MD5 : DIGEST_SHA256);
		return false;
	} else if (digest_response(alg, ha1, ar->ar_nonce, ar->ar_nc, ar->ar_cnonce, ar->ar_qop, method, ar->ar_uri,
				   want)) {
		why = "no secret for this algorithm";
	} else if (!digest_hex_equal(want, ar->ar_response)) {
		why = "wrong response";
	} else if (reg && !to_is(sip, ar->ar_username, realm)) {
		log_info("REGISTER of %s by %s refused: To is not the authenticated user",
			 sip->sip_to && sip->sip_to->a_url->url_user ? sip->sip_to->a_url->url_user : "?", u->key);
		nonce_use(s->nonces, ar->ar_nonce, ar->ar_qop ? ar->ar_nc : NULL);
		su_home_deinit(home); /* ar's strings live in it: last */
		respond(s, event, nh, 403, "To Is Not The Authenticated User", NULL);
		return false;
	} else {
		ok = true;
	}
	if (!ok) {
		/* the same answer for an unknown user and a wrong password: the list is not
		 * probed through us */
		log_info("%s from %s@%s refused: %s", method, ar->ar_username, realm, why);
		su_home_deinit(home);
		respond(s, event, nh, 403, "Bad Credentials", NULL);
		return false;
	}
	nonce_use(s->nonces, ar->ar_nonce, ar->ar_qop ? ar->ar_nc : NULL);
	snprintf(s->auth_user, sizeof s->auth_user, "%s", u->key);
	su_home_deinit(home);
	return true;
challenge:
	su_home_deinit(home);
	challenge(s, event, nh, reg, realm, stale, -1);
	return false;
}
