/* cpm's Digest client (RFC 7616/8760) as a sofia auth_client plugin. Why our own: the Digest
 * client of sofia-sip 1.12.11 fails the whole 401/407 ("904 No matching challenge") as soon as
 * one of the challenges names an algorithm other than MD5, so it cannot talk to a server that
 * offers SHA-256 next to MD5 as RFC 8760 asks (cpmd does; fixed upstream in 1.13.4). This one
 * takes SHA-256 when offered, MD5 otherwise, and computes with common/digest.c, the same
 * arithmetic cpmd checks with.
 *
 * How it replaces the built-in: auc_register_plugin() replaces the first table entry whose
 * name differs byte for byte, while the lookup by scheme ignores case; registered as "digest"
 * it takes slot 0, the built-in "Digest", and every Digest challenge comes here. */
#define SOFIA_EXTEND_AUTH_CLIENT 1

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include <sofia-sip/auth_client_plugin.h>
#include <sofia-sip/auth_digest.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/url.h>

#include "common/digest.h"
#include "cpm.h"

/* What we keep of the challenge we answer: values are bounded by what a SIP message can
 * carry; longer ones make the challenge unanswerable (auc_challenge fails). */
#define DC_VALUE_MAX 256

struct digest_client {
	auth_client_t ca; /* first: sofia's part */
	enum digest_alg alg;
	bool qop_auth;
	bool have;
	char realm[DC_VALUE_MAX], nonce[DC_VALUE_MAX], opaque[DC_VALUE_MAX];
	char cnonce[33];
	unsigned nc;
};

static int copy_val(char *out, const char *v)
{
	size_t n = v ? strlen(v) : 0;
	if (n >= DC_VALUE_MAX)
		return -1;
	memcpy(out, v ? v : "", n + 1);
	return 0;
}

/* One challenge: SHA-256 beats MD5 of the same nonce; a new nonce replaces what we had. */
static int dc_challenge(auth_client_t *ca, msg_auth_t const *ch)
{
	struct digest_client *dc = (struct digest_client *)ca;
	auth_challenge_t ac[1];
	enum digest_alg alg;
	int rc = -1;

	memset(ac, 0, sizeof ac);
	ac->ac_size = sizeof ac;
	if (auth_digest_challenge_get(ca->ca_home, ac, ch->au_params) < 0)
		return -1;
	if (digest_alg_parse(ac->ac_algorithm, &alg) || (ac->ac_qop && !ac->ac_auth) || !ac->ac_nonce ||
	    !ac->ac_realm) {
		rc = dc->have ? 1 : -1; /* one we cannot answer: keep the one we can */
		goto out;
	}
	bool same_nonce = dc->have && !strcmp(dc->nonce, ac->ac_nonce);
	if (same_nonce && dc->alg == DIGEST_SHA256) {
		rc = 1;
		goto out;
	}
	if (copy_val(dc->realm, ac->ac_realm) || copy_val(dc->nonce, ac->ac_nonce) || copy_val(dc->opaque, ac->ac_opaque))
		goto out;
	dc->alg = alg;
	dc->qop_auth = ac->ac_qop != NULL;
	dc->have = true;
	if (!same_nonce) {
		unsigned char r[16];
		static const char hex[] = "0123456789abcdef";
		if (RAND_bytes(r, sizeof r) != 1)
			goto out;
		for (int i = 0; i < 16; i++)
			dc->cnonce[2 * i] = hex[r[i] >> 4], dc->cnonce[2 * i + 1] = hex[r[i] & 15];
		dc->cnonce[32] = '\0';
		dc->nc = 0;
	}
	rc = same_nonce && !ac->ac_stale ? 1 : 2;
out:
	auth_digest_challenge_free_params(ca->ca_home, ac);
	return rc;
}

static int dc_authorize(auth_client_t *ca, su_home_t *home, char const *method, url_t const *url,
			msg_payload_t const *body, msg_header_t **out)
{
	struct digest_client *dc = (struct digest_client *)ca;
	char ha1[DIGEST_HEX_MAX + 1], resp[DIGEST_HEX_MAX + 1], nc[9];
	(void)body;

	if (!dc->have || !ca->ca_user || !ca->ca_pass || ca->ca_clear || !ca->ca_credential_class)
		return 0;
	char *uri = url_as_string(home, url);
	if (!uri)
		return -1;
	snprintf(nc, sizeof nc, "%08x", ++dc->nc);
	if (digest_ha1(dc->alg, ca->ca_user, dc->realm, ca->ca_pass, ha1) ||
	    digest_response(dc->alg, ha1, dc->nonce, nc, dc->cnonce, dc->qop_auth ? "auth" : NULL, method, uri, resp)) {
		su_free(home, uri);
		return -1;
	}
	if (dc->qop_auth)
		*out = msg_header_format(home, ca->ca_credential_class,
					 "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
					 "response=\"%s\", algorithm=%s, cnonce=\"%s\", qop=auth, nc=%s%s%s%s",
					 ca->ca_user, dc->realm, dc->nonce, uri, resp, digest_alg_name(dc->alg),
					 dc->cnonce, nc, dc->opaque[0] ? ", opaque=\"" : "", dc->opaque,
					 dc->opaque[0] ? "\"" : "");
	else
		*out = msg_header_format(home, ca->ca_credential_class,
					 "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
					 "response=\"%s\", algorithm=%s%s%s%s",
					 ca->ca_user, dc->realm, dc->nonce, uri, resp, digest_alg_name(dc->alg),
					 dc->opaque[0] ? ", opaque=\"" : "", dc->opaque, dc->opaque[0] ? "\"" : "");
	explicit_bzero(ha1, sizeof ha1);
	su_free(home, uri);
	return *out ? 0 : -1;
}

static int dc_info(auth_client_t *ca, msg_auth_info_t const *ai)
{
	(void)ca, (void)ai; /* no nextnonce: cpmd sends none */
	return 0;
}

static int dc_clear(auth_client_t *ca)
{
	ca->ca_clear = 1;
	return 1;
}

static const auth_client_plugin_t dc_plugin = {
	/* up to auc_clear: sofia then treats the plugin as extended (ca_clear) and uses its own
	 * credential saving and copying */
	.auc_plugin_size = (int)offsetof(auth_client_plugin_t, auc_save_credentials),
	.auc_size = (int)sizeof(struct digest_client),
	.auc_name = "digest",
	.auc_challenge = dc_challenge,
	.auc_authorize = dc_authorize,
	.auc_info = dc_info,
	.auc_clear = dc_clear,
};

int cpm_digest_client_register(void)
{
	return auc_register_plugin(&dc_plugin);
}
