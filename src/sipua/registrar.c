/* Built-in registrar: REGISTER for users of our domains, devices keyed by
 * +sip.instance (RFC 5626), bounded expiry, wildcard de-registration.
 * The flow (source address + transport of the REGISTER) is kept so that
 * requests to the device go back over the connection it registered on. */
#include "sipua/registrar.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/su_tagarg.h>

#include "common/log.h"
#include "sipua/sip_glue.h"
#include "sipua/sipua_int.h"
#include "store/store.h"

static void respond(nua_t *nua, nua_handle_t *nh, int status, const char *phrase, tag_type_t tag,
		    tag_value_t value, ...)
{
	ta_list ta;
	ta_start(ta, tag, value);
	nua_respond(nh, status, phrase, NUTAG_WITH_THIS(nua), ta_tags(ta));
	ta_end(ta);
	nua_handle_destroy(nh);
}

/* "sip:ip:port;transport=x" from where the request came from. */
static int flow_of_request(nua_t *nua, char *out, size_t cap, int *is_tcp)
{
	msg_t *msg = nua_current_request(nua);
	su_addrinfo_t *ai = msg ? msg_addrinfo(msg) : NULL;
	char ip[INET6_ADDRSTRLEN];
	unsigned port;

	if (!ai || !ai->ai_addr)
		return -1;
	if (ai->ai_addr->sa_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ai->ai_addr;
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip);
		port = ntohs(sin->sin_port);
		*is_tcp = ai->ai_protocol == IPPROTO_TCP;
		snprintf(out, cap, "sip:%s:%u;transport=%s", ip, port, *is_tcp ? "tcp" : "udp");
	} else if (ai->ai_addr->sa_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ai->ai_addr;
		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof ip);
		port = ntohs(sin6->sin6_port);
		*is_tcp = ai->ai_protocol == IPPROTO_TCP;
		snprintf(out, cap, "sip:[%s]:%u;transport=%s", ip, port, *is_tcp ? "tcp" : "udp");
	} else {
		return -1;
	}
	return 0;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void saved(void *arg, int err)
{
	if (err)
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

void registrar_handle(nua_t *nua, nua_handle_t *nh, sip_t const *sip, const struct sipua_config *cfg,
		      struct location *loc, struct store *st, registrar_hook_f *hook, void *hook_arg)
{
	struct hooked {
		char instance[LOC_MAX_INSTANCE];
		bool fresh;
	} *fired = NULL;
	size_t nfired = 0;
	su_home_t home[1] = {SU_HOME_INIT(home)};
	char aor[LOC_MAX_AOR], flow[LOC_MAX_FLOW];
	int tcp = 0;

	if (!sip || !sip->sip_to || !sip->sip_to->a_url->url_host) {
		respond(nua, nh, SIP_400_BAD_REQUEST, TAG_END());
		return;
	}
	const url_t *to = sip->sip_to->a_url;
	if (!cfg->domains || !domain_set_has(cfg->domains, to->url_host, strlen(to->url_host))) {
		log_info("register refused: %s is not a domain of this server", to->url_host);
		respond(nua, nh, 403, "Not A Domain Of This Registrar", TAG_END());
		return;
	}
	if (location_aor_key(aor, sizeof aor, to->url_user, to->url_host)) {
		respond(nua, nh, 400, "Bad To Header", TAG_END());
		return;
	}
	if (flow_of_request(nua, flow, sizeof flow, &tcp)) {
		respond(nua, nh, 500, "No Source Address", TAG_END());
		return;
	}

	/* Query: no Contact → list the bindings. */
	sip_contact_t const *m = sip->sip_contact;
	if (m && m->m_url->url_type == url_any) {
		if (!sip->sip_expires || sip->sip_expires->ex_delta != 0 || m->m_next) {
			respond(nua, nh, 400, "Wildcard Contact Needs Expires 0", TAG_END());
			return;
		}
		struct loc_device gone[64];
		size_t n = location_lookup(loc, aor, gone, 64);
		for (size_t i = 0; i < n; i++)
			persist(st, aor, &gone[i], 0);
		location_remove_all(loc, aor);
		log_info("register %s: all devices removed", aor);
		respond(nua, nh, SIP_200_OK, TAG_END());
		return;
	}

	/* Check every contact first so a refused REGISTER changes nothing. */
	for (sip_contact_t const *c = m; c; c = c->m_next) {
		unsigned e;
		if (sipglue_contact_expires(c, sip, 3600, &e)) {
			respond(nua, nh, 400, "Bad Contact Expires", TAG_END());
			return;
		}
		if (e != 0 && e < cfg->reg_min_expires) {
			char min[16];
			snprintf(min, sizeof min, "%u", cfg->reg_min_expires);
			respond(nua, nh, SIP_423_INTERVAL_TOO_BRIEF, SIPTAG_MIN_EXPIRES_STR(min), TAG_END());
			return;
		}
	}
	for (sip_contact_t const *c = m; c; c = c->m_next) {
		struct loc_device dev;
		memset(&dev, 0, sizeof dev);
		char *uri = url_as_string(home, c->m_url);
		if (!uri || strlen(uri) >= sizeof dev.contact ||
		    sipglue_device_key(c, uri, dev.instance, sizeof dev.instance)) {
			respond(nua, nh, 400, "Contact Too Long", TAG_END());
			su_home_deinit(home);
			return;
		}
		strcpy(dev.contact, uri);
		strcpy(dev.flow, flow);
		dev.tcp = tcp;
		unsigned e = 0;
		sipglue_contact_expires(c, sip, 3600, &e); /* checked above */
		if (e > cfg->reg_max_expires)
			e = cfg->reg_max_expires;
		bool fresh = true;
		if (hook && e) {
			struct loc_device had[64];
			size_t nh_ = location_lookup(loc, aor, had, 64);
			/* Known and unchanged = a refresh. A new contact or flow means
			 * the device was away (new address, new connection). */
			for (size_t i = 0; i < nh_; i++)
				if (!strcmp(had[i].instance, dev.instance) && !strcmp(had[i].contact, dev.contact) &&
				    !strcmp(had[i].flow, dev.flow))
					fresh = false;
		}
		enum loc_result r = location_bind(loc, aor, &dev, e);
		if (r == LOC_TOO_MANY_DEVICES || r == LOC_TOO_MANY_USERS) {
			log_warn("register %s refused: %s", aor,
				 r == LOC_TOO_MANY_DEVICES ? "too many devices" : "too many users");
			respond(nua, nh, 403, r == LOC_TOO_MANY_DEVICES ? "Too Many Devices" : "Too Many Users",
				TAG_END());
			su_home_deinit(home);
			return;
		}
		if (r != LOC_OK) {
			respond(nua, nh, SIP_500_INTERNAL_SERVER_ERROR, TAG_END());
			su_home_deinit(home);
			return;
		}
		persist(st, aor, &dev, e);
		if (hook && e) {
			/* Fired after the 200 OK is sent, so a device sees its
			 * registration confirmed before our INVITEs arrive. */
			struct hooked *f = su_realloc(home, fired, (nfired + 1) * sizeof *fired);
			if (f) {
				fired = f;
				snprintf(fired[nfired].instance, sizeof fired[nfired].instance, "%s", dev.instance);
				fired[nfired++].fresh = fresh;
			}
		}
		if (e)
			log_info("register %s device=%s contact=%s flow=%s expires=%u", aor, dev.instance,
				 dev.contact, flow, e);
		else
			log_info("unregister %s device=%s", aor, dev.instance);
	}
	char *list = contacts_of(home, loc, aor);
	if (list)
		respond(nua, nh, SIP_200_OK, SIPTAG_CONTACT_STR(list), TAG_END());
	else
		respond(nua, nh, SIP_200_OK, TAG_END());
	for (size_t i = 0; i < nfired; i++)
		hook(hook_arg, aor, fired[i].instance, fired[i].fresh);
	su_home_deinit(home);
}
