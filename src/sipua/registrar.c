/* Built-in registrar: REGISTER for users of our domains, devices keyed by
 * +sip.instance (RFC 5626), bounded expiry, wildcard de-registration.
 * The flow (source address + transport of the REGISTER) is kept so that
 * requests to the device go back over the connection it registered on.
 * Also the one binding path (registrar_bind & co.) that the third-party REGISTER
 * (registrar_3p.c) and the reg event (regevent.c) of AS mode go through: the same location
 * service, store and register hook for all three. */
#include "sipua/registrar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_alloc.h>

#include "common/log.h"
#include "sipua/sip_glue.h"
#include "sipua/sipua_int.h"
#include "store/store.h"

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void saved(void *arg, int err)
{
	if (err && err != -ENOENT) /* -ENOENT: a delete of a row already gone, which is the aim */
		log_warn("registration not saved in the store: %s (it lives in memory until cpmd stops)",
			 strerror(-err));
}

/* Mirror one binding change into the store (durable across restarts). */
static void persist(struct store *st, const char *aor, const struct loc_device *dev, unsigned expires)
{
	int rc;

	if (!st)
		return;
	if (expires == 0) {
		rc = store_reg_del(st, aor, dev->instance, saved, NULL);
	} else {
		struct store_reg r;
		memset(&r, 0, sizeof r);
		snprintf(r.aor, sizeof r.aor, "%s", aor);
		snprintf(r.instance, sizeof r.instance, "%s", dev->instance);
		snprintf(r.contact, sizeof r.contact, "%s", dev->contact);
		snprintf(r.flow, sizeof r.flow, "%.*s", (int)sizeof r.flow - 1, dev->flow); /* a REGISTER flow: < 128 */
		r.tcp = dev->tcp;
		r.expires_at_ms = wall_ms() + (int64_t)expires * 1000;
		rc = store_reg_put(st, &r, saved, NULL);
	}
	if (rc)
		log_warn("registration of %s not saved in the store: %s", aor, strerror(-rc));
}

struct restore_ctx {
	struct store *st;
	struct location *loc;
	int64_t now;
	int restored;
};

static int restore_one(void *arg, const struct store_reg *r)
{
	struct restore_ctx *c = arg;
	struct loc_device dev;
	int64_t left = (r->expires_at_ms - c->now) / 1000;

	if (left <= 0) {
		store_reg_del(c->st, r->aor, r->instance, saved, NULL);
		return 0;
	}
	memset(&dev, 0, sizeof dev);
	if (!cpm_str_copy(dev.instance, sizeof dev.instance, cpm_str_c(r->instance)) ||
	    !cpm_str_copy(dev.contact, sizeof dev.contact, cpm_str_c(r->contact)) ||
	    !cpm_str_copy(dev.flow, sizeof dev.flow, cpm_str_c(r->flow)))
		return 0;
	dev.tcp = r->tcp;
	if (location_bind(c->loc, r->aor, &dev, (unsigned)(left > 86400 * 7 ? 86400 * 7 : left)) == LOC_OK)
		c->restored++;
	return 0;
}

int registrar_restore(struct store *st, struct location *loc)
{
	struct restore_ctx c = {st, loc, wall_ms(), 0};
	int rc = store_regs_all(st, restore_one, &c);
	if (rc < 0) /* else the number of rows read */
		log_warn("cannot read saved registrations: %s", strerror(-rc));
	return c.restored;
}

/* Build the Contact list of the 200 OK: every current binding with its
 * remaining lifetime (RFC 3261 §10.3 step 8). */
static char *contacts_of(su_home_t *home, struct location *loc, const char *aor)
{
	struct loc_device devs[64];
	size_t n = location_lookup(loc, aor, devs, 64);
	time_t now = location_now();
	char *s = NULL;

	for (size_t i = 0; i < n; i++) {
		long left = (long)(devs[i].expires_at - now);
		char *one = su_sprintf(home, "<%s>;expires=%ld", devs[i].contact, left > 0 ? left : 0);
		s = s ? su_sprintf(home, "%s, %s", s, one) : one;
	}
	return s;
}

/* ---------------------------------------------------------------- the one binding path */

void reg_batch_begin(struct sipua *s, struct reg_batch *b, const char *aor)
{
	struct loc_device one;

	memset(b, 0, sizeof *b);
	snprintf(b->aor, sizeof b->aor, "%s", aor);
	b->known_before = location_lookup(s->loc, aor, &one, 1) > 0;
}

enum loc_result registrar_bind(struct sipua *s, struct reg_batch *b, const struct loc_device *dev, unsigned expires)
{
	bool fresh = true, known = false;

	if ((s->reg_hook && expires) || !expires) {
		struct loc_device had[64];
		size_t n = location_lookup(s->loc, b->aor, had, 64);
		/* Known and unchanged = a refresh. A new contact or flow means the device was away
		 * (new address, new connection). */
		for (size_t i = 0; i < n; i++) {
			known |= !strcmp(had[i].instance, dev->instance);
			if (!strcmp(had[i].instance, dev->instance) && !strcmp(had[i].contact, dev->contact) &&
			    !strcmp(had[i].flow, dev->flow))
				fresh = false;
		}
	}
	if (!expires && !known) {
		/* gone already (e.g. the reg event said so before the core's Expires 0): nothing to
		 * remove, nothing to log as a change */
		log_debug("unregister %s device=%s: not registered", b->aor, dev->instance);
		return LOC_OK;
	}
	enum loc_result r = location_bind(s->loc, b->aor, dev, expires);
	if (r != LOC_OK)
		return r;
	persist(s->st, b->aor, dev, expires);
	if (s->reg_hook && expires) {
		struct reg_fired *f = realloc(b->fired, (b->nfired + 1) * sizeof *f);
		if (f) {
			b->fired = f;
			snprintf(f[b->nfired].instance, sizeof f[b->nfired].instance, "%s", dev->instance);
			f[b->nfired++].fresh = fresh;
		}
	}
	if (expires)
		log_info("register %s device=%s contact=%s flow=%s expires=%u", b->aor, dev->instance, dev->contact,
			 dev->flow[0] ? dev->flow : "(core)", expires);
	else
		log_info("unregister %s device=%s", b->aor, dev->instance);
	return LOC_OK;
}

void registrar_unbind_all(struct sipua *s, struct reg_batch *b)
{
	struct loc_device gone[64];
	size_t n = location_lookup(s->loc, b->aor, gone, 64);

	for (size_t i = 0; i < n; i++)
		persist(s->st, b->aor, &gone[i], 0);
	location_remove_all(s->loc, b->aor);
	log_info("register %s: all devices removed", b->aor);
}

void reg_batch_end(struct sipua *s, struct reg_batch *b)
{
	struct loc_device one;

	for (size_t i = 0; i < b->nfired; i++)
		s->reg_hook(s->reg_hook_arg, b->aor, b->fired[i].instance, b->fired[i].fresh);
	free(b->fired);
	b->fired = NULL;
	b->nfired = 0;
	if (s->cfg.as_mode)
		regevent_follow(s, b->aor, location_lookup(s->loc, b->aor, &one, 1) > 0);
}

/* ---------------------------------------------------------------- REGISTER from a device */

void registrar_handle(struct sipua *s, nua_handle_t *nh, sip_t const *sip)
{
	const struct sipua_config *cfg = &s->cfg;
	su_home_t home[1] = {SU_HOME_INIT(home)};
	struct sipua_source src;
	struct reg_batch b;
	char aor[LOC_MAX_AOR];

	if (cfg->as_mode) {
		registrar_3p_handle(s, nh, sip);
		return;
	}
	if (!sip || !sip->sip_to || !sip->sip_to->a_url->url_host) {
		sipua_respond_destroy(s, nh, SIP_400_BAD_REQUEST, TAG_END());
		return;
	}
	const url_t *to = sip->sip_to->a_url;
	if (!cfg->domains || !domain_set_has(cfg->domains, to->url_host, strlen(to->url_host))) {
		log_info("register refused: %s is not a domain of this server", to->url_host);
		sipua_respond_destroy(s, nh, 403, "Not A Domain Of This Registrar", TAG_END());
		return;
	}
	if (location_aor_key(aor, sizeof aor, to->url_user, to->url_host)) {
		sipua_respond_destroy(s, nh, 400, "Bad To Header", TAG_END());
		return;
	}
	if (sipua_source_of(s->nua, &src)) {
		sipua_respond_destroy(s, nh, 500, "No Source Address", TAG_END());
		return;
	}

	sip_contact_t const *m = sip->sip_contact;
	if (m && m->m_url->url_type == url_any) {
		if (!sip->sip_expires || sip->sip_expires->ex_delta != 0 || m->m_next) {
			sipua_respond_destroy(s, nh, 400, "Wildcard Contact Needs Expires 0", TAG_END());
			return;
		}
		reg_batch_begin(s, &b, aor);
		registrar_unbind_all(s, &b);
		sipua_respond_destroy(s, nh, SIP_200_OK, TAG_END());
		reg_batch_end(s, &b);
		return;
	}

	/* Check every contact first so a refused REGISTER changes nothing. */
	for (sip_contact_t const *c = m; c; c = c->m_next) {
		unsigned e;
		if (sipglue_contact_expires(c, sip, 3600, &e)) {
			sipua_respond_destroy(s, nh, 400, "Bad Contact Expires", TAG_END());
			return;
		}
		if (e != 0 && e < cfg->reg_min_expires) {
			char min[16];
			snprintf(min, sizeof min, "%u", cfg->reg_min_expires);
			sipua_respond_destroy(s, nh, SIP_423_INTERVAL_TOO_BRIEF, SIPTAG_MIN_EXPIRES_STR(min), TAG_END());
			return;
		}
	}
	reg_batch_begin(s, &b, aor);
	for (sip_contact_t const *c = m; c; c = c->m_next) {
		struct loc_device dev;
		memset(&dev, 0, sizeof dev);
		char *uri = url_as_string(home, c->m_url);
		if (!uri || strlen(uri) >= sizeof dev.contact ||
		    sipglue_device_key(c, uri, dev.instance, sizeof dev.instance)) {
			sipua_respond_destroy(s, nh, 400, "Contact Too Long", TAG_END());
			b.nfired = 0;
			goto out;
		}
		strcpy(dev.contact, uri);
		strcpy(dev.flow, src.flow);
		dev.tcp = src.tcp;
		unsigned e = 0;
		sipglue_contact_expires(c, sip, 3600, &e); /* checked above */
		if (e > cfg->reg_max_expires)
			e = cfg->reg_max_expires;
		enum loc_result r = registrar_bind(s, &b, &dev, e);
		if (r == LOC_TOO_MANY_DEVICES || r == LOC_TOO_MANY_USERS) {
			log_warn("register %s refused: %s", aor,
				 r == LOC_TOO_MANY_DEVICES ? "too many devices" : "too many users");
			sipua_respond_destroy(s, nh, 403,
					      r == LOC_TOO_MANY_DEVICES ? "Too Many Devices" : "Too Many Users", TAG_END());
			b.nfired = 0;
			goto out;
		}
		if (r != LOC_OK) {
			sipua_respond_destroy(s, nh, SIP_500_INTERNAL_SERVER_ERROR, TAG_END());
			b.nfired = 0;
			goto out;
		}
	}
	char *list = contacts_of(home, s->loc, aor);
	if (list)
		sipua_respond_destroy(s, nh, SIP_200_OK, SIPTAG_CONTACT_STR(list), TAG_END());
	else
		sipua_respond_destroy(s, nh, SIP_200_OK, TAG_END());
out:
	/* a refused REGISTER fires no hook (nfired = 0), as before the two registrars shared
	 * this path; the bindings made before the refused contact stay */
	reg_batch_end(s, &b);
	su_home_deinit(home);
}
