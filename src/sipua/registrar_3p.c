/* Third-party REGISTER (AS mode; TS 24.229 §5.4.1.7, docs/internals/sipua.md "AS mode"): the
 * core (already checked: sipua.c lets only core_trust reach here) tells us that a user's
 * device registered or left. Request-URI = us, To = the user, From/Contact = the core,
 * Expires = the device's lifetime as the core granted it, body (optional) = the user's own
 * REGISTER as message/sip. The bindings go through the registrar's one binding path
 * (registrar_bind), so the location service, the store and pf's register hook see exactly
 * what the built-in registrar would make them see. No 423 here: the core decided the
 * lifetime; we only cap it at reg_max_expires. */
#include <stdio.h>
#include <string.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_alloc.h>

#include "common/log.h"
#include "sipua/sip_glue.h"
#include "sipua/sipua_int.h"

/* The pseudo-device of a third-party REGISTER without a body: the core says the user is
 * registered but not with what, so one binding keyed "core" (contact = the AOR) keeps the
 * user online until the core says otherwise. */
#define REG3P_NO_BODY_KEY "core"

static unsigned capped(const struct sipua *s, unsigned e)
{
	return e > s->cfg.reg_max_expires ? s->cfg.reg_max_expires : e;
}

/* The device of one Contact of the embedded REGISTER: key and URI as the built-in registrar
 * takes them (sipglue_device_key), no flow (pf reaches users through the core). */
static int device_of(su_home_t *home, sip_contact_t const *c, struct loc_device *dev)
{
	memset(dev, 0, sizeof *dev);
	char *uri = url_as_string(home, c->m_url);
	if (!uri || strlen(uri) >= sizeof dev->contact || sipglue_device_key(c, uri, dev->instance, sizeof dev->instance))
		return -1;
	strcpy(dev->contact, uri);
	return 0;
}

/* Bind or unbind every Contact of the embedded REGISTER. A device goes when the core's
 * Expires is 0, or its own expires (contact parameter, else the embedded Expires) is 0.
 * 0, or the SIP status to answer (nothing changed: every contact is checked first). */
static int apply_embedded(struct sipua *s, struct reg_batch *b, sip_t const *in, unsigned expires, const char **why)
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	struct loc_device dev;
	int rc = 0;

	if (in->sip_contact && in->sip_contact->m_url->url_type == url_any) {
		registrar_unbind_all(s, b); /* "Contact: *" with Expires 0: every device of the user */
		return 0;
	}
	for (sip_contact_t const *c = in->sip_contact; c; c = c->m_next) {
		unsigned own;
		if (c->m_url->url_type == url_any || sipglue_contact_expires(c, in, expires, &own) ||
		    device_of(home, c, &dev)) {
			*why = "Bad Contact In message/sip Body";
			su_home_deinit(home);
			return 400;
		}
	}
	for (sip_contact_t const *c = in->sip_contact; c && !rc; c = c->m_next) {
		unsigned own = expires;
		sipglue_contact_expires(c, in, expires, &own); /* checked above */
		device_of(home, c, &dev);
		enum loc_result r = registrar_bind(s, b, &dev, own && expires ? capped(s, expires) : 0);
		if (r == LOC_TOO_MANY_DEVICES || r == LOC_TOO_MANY_USERS) {
			log_warn("third-party register %s refused: %s", b->aor,
				 r == LOC_TOO_MANY_DEVICES ? "too many devices" : "too many users");
			*why = r == LOC_TOO_MANY_DEVICES ? "Too Many Devices" : "Too Many Users";
			rc = 403;
		} else if (r != LOC_OK) {
			*why = "Internal Server Error";
			rc = 500;
		}
	}
	su_home_deinit(home);
	return rc;
}

void registrar_3p_handle(struct sipua *s, nua_handle_t *nh, sip_t const *sip)
{
	struct reg_batch b;
	char aor[LOC_MAX_AOR];
	msg_t *body = NULL;
	const char *why = NULL;
	unsigned expires;
	int rc;

	if (!sip || !sip->sip_to || !sip->sip_to->a_url->url_host || !sip->sip_to->a_url->url_user ||
	    !*sip->sip_to->a_url->url_user) {
		/* from the core, but no user in To: not third-party shaped (a device's REGISTER
		 * never reaches an AS directly) */
		log_info("REGISTER from the core without a user in To: 400");
		sipua_respond_destroy(s, nh, 400, "Not A Third-Party REGISTER", TAG_END());
		return;
	}
	const url_t *to = sip->sip_to->a_url;
	if (!s->cfg.domains || !domain_set_has(s->cfg.domains, to->url_host, strlen(to->url_host))) {
		log_info("third-party register refused: %s is not a domain of this server", to->url_host);
		sipua_respond_destroy(s, nh, 403, "Not A Domain Of This Registrar", TAG_END());
		return;
	}
	if (location_aor_key(aor, sizeof aor, to->url_user, to->url_host)) {
		sipua_respond_destroy(s, nh, 400, "Bad To Header", TAG_END());
		return;
	}
	/* the device's lifetime: Expires, else the core's Contact expires parameter */
	if (sip->sip_expires)
		expires = (unsigned)sip->sip_expires->ex_delta;
	else if (!sip->sip_contact || !sip->sip_contact->m_expires ||
		 sipglue_contact_expires(sip->sip_contact, NULL, 0, &expires)) {
		sipua_respond_destroy(s, nh, 400, "Third-Party REGISTER Without Expires", TAG_END());
		return;
	}
	if ((rc = sipglue_embedded_register(sip, &body, &why)) != 0) {
		log_info("third-party register %s refused: %d %s", aor, rc, why);
		sipua_respond_destroy(s, nh, rc, why, TAG_END());
		return;
	}

	reg_batch_begin(s, &b, aor);
	if (body) {
		rc = apply_embedded(s, &b, sip_object(body), expires, &why);
		msg_destroy(body);
	} else if (expires) {
		struct loc_device dev;
		memset(&dev, 0, sizeof dev);
		snprintf(dev.instance, sizeof dev.instance, "%s", REG3P_NO_BODY_KEY);
		snprintf(dev.contact, sizeof dev.contact, "sip:%s", aor);
		enum loc_result r = registrar_bind(s, &b, &dev, capped(s, expires));
		rc = r == LOC_OK ? 0 : r == LOC_TOO_MANY_USERS ? 403 : 500;
		why = r == LOC_TOO_MANY_USERS ? "Too Many Users" : "Internal Server Error";
	} else {
		/* Expires 0 and nothing says which device: the core's registration of the user
		 * is gone (de-registration, or its own expiry timer): every binding goes. */
		registrar_unbind_all(s, &b);
	}
	if (rc) {
		b.nfired = 0; /* as the built-in registrar: a refused REGISTER fires no hook */
		sipua_respond_destroy(s, nh, rc, why, TAG_END());
	} else {
		sipua_respond_destroy(s, nh, SIP_200_OK, TAG_END());
	}
	reg_batch_end(s, &b);
}
