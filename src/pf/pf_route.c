/* How pf reaches a user, and whom a new request serves (docs/deployment.md, pf.md §Routing).
 * THE place that knows the deployment: every request pf sends toward a user takes its
 * targets from pf_devices(), and every new request is checked by pf_check_parties().
 *
 *   user of one of our domains, standalone  each registered device: Request-URI = its Contact,
 *                                            through the flow it registered on (as always)
 *   user of one of our domains, AS mode      ONE target when the user has at least one binding
 *                                            (third-party REGISTER / reg event): Request-URI =
 *                                            the AOR, next hop = --core; the core forks
 *   user of another domain                   ONE target, Request-URI = the AOR, next hop =
 *                                            --core (AS mode), else its --route, else DNS
 *                                            (--dns-routes: sofia resolves the Request-URI,
 *                                            RFC 3263); none: unreachable (404 to new requests)
 *
 * The targets of the last two rows have a device key that names them ("core",
 * "domain:example.net"): deliveries record attempts per key like per device.
 *
 * Whom a request serves: the sender is identified by pf_identity() (P-Asserted-Identity from
 * the core in AS mode, From otherwise). A request for a user of ours is served (terminating
 * side; also originating when the sender is ours). A request for a user elsewhere is served
 * only for a sender of ours (originating side: cpmd stores it when that domain cannot be
 * reached, pf_deliver retries). In AS mode a request the core routed with `orig` serves its
 * sender, who must then be ours. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/domains.h"
#include "common/log.h"
#include "pf/pf_int.h"

static const char *domain_of(const char *aor)
{
	const char *at = strrchr(aor, '@');
	return at ? at + 1 : "";
}

bool pf_domain_is_ours(const struct pf *pf, const char *host)
{
	return domain_set_has(&pf->cfg.domains, host, strlen(host));
}

/* Next hop toward another domain: "" = DNS on the Request-URI, NULL = none. */
static const char *hop_elsewhere(const struct pf *pf, const char *host, bool *tcp)
{
	*tcp = false;
	if (pf->cfg.as_mode) {
		*tcp = strcasestr(pf->cfg.core_uri, "transport=tcp") != NULL;
		return pf->cfg.core_uri;
	}
	const struct route_entry *e = route_table_find(&pf->cfg.routes, host, strlen(host));
	if (e) {
		*tcp = e->tcp;
		return e->uri;
	}
	return pf->cfg.routes.dns ? "" : NULL;
}

bool pf_domain_reachable(const struct pf *pf, const char *host)
{
	bool tcp;
	return pf_domain_is_ours(pf, host) || hop_elsewhere(pf, host, &tcp) != NULL;
}

static size_t one_target(struct loc_device *out, const char *key_prefix, const char *key, const char *aor,
			 const char *hop, bool tcp)
{
	memset(out, 0, sizeof *out);
	snprintf(out->instance, sizeof out->instance, "%s%s", key_prefix, key);
	pf_uri_of_key(aor, out->contact, sizeof out->contact);
	snprintf(out->flow, sizeof out->flow, "%s", hop);
	out->tcp = tcp;
	return 1;
}

size_t pf_devices(struct pf *pf, const char *aor, struct loc_device *out, size_t max)
{
	const char *host = domain_of(aor);
	bool tcp;

	if (max == 0)
		return 0;
	if (pf_domain_is_ours(pf, host)) {
		if (!pf->cfg.as_mode)
			return location_lookup(pf->loc, aor, out, max < pf->cfg.max_devices ? max : pf->cfg.max_devices);
		/* AS mode: the user is there when the core told us of one binding at least */
		if (!location_lookup(pf->loc, aor, out, 1))
			return 0;
		return one_target(out, "", "core", aor, pf->cfg.core_uri,
				  strcasestr(pf->cfg.core_uri, "transport=tcp") != NULL);
	}
	const char *hop = hop_elsewhere(pf, host, &tcp);
	if (!hop)
		return 0;
	return one_target(out, "domain:", host, aor, hop, tcp);
}

bool pf_user_is_ours(const struct pf *pf, const char *aor)
{
	return pf_domain_is_ours(pf, domain_of(aor));
}

void pf_target_of(const struct loc_device *dev, struct sip_target *t)
{
	t->contact = dev->contact;
	t->flow = dev->flow[0] ? dev->flow : NULL; /* "": DNS on the Request-URI */
	t->tcp = dev->tcp;
}

int pf_identity(const struct sip_msg *m, struct sip_addr *out)
{
	return sip_msg_identity(m, out);
}

int pf_check_parties(struct pf *pf, const struct sip_msg *m, const struct sip_addr *ru, const struct sip_addr *from,
		     const char **phrase)
{
	bool to_ours = pf_domain_is_ours(pf, ru->host), from_ours = pf_domain_is_ours(pf, from->host);

	if (pf->cfg.as_mode && sip_msg_is_orig(m) && !from_ours) {
		*phrase = "Originating User Not Served Here";
		return 403;
	}
	if (to_ours)
		return 0;
	if (!from_ours) {
		/* neither party is ours: we are nobody's PF for this request (no open relay) */
		*phrase = "Not A Domain Of This Server";
		return 404;
	}
	if (!pf_domain_reachable(pf, ru->host)) {
		*phrase = "No Route (Not A Domain Of This Server)";
		return 404;
	}
	return 0;
}

bool pf_kick_other_domains(struct pf *pf, char after[STORE_AOR_MAX + 1], unsigned max, unsigned *kicked)
{
	char aor[STORE_AOR_MAX + 1];

	if (!pf->st || (!pf->cfg.as_mode && !pf->cfg.routes.n && !pf->cfg.routes.dns))
		return true;
	/* Items stored for users elsewhere (originating-side deferral) before a restart: their
	 * retries lived in memory. Users of ours are kicked by their registrations. */
	for (unsigned i = 0; i < max; i++) {
		if (pf->stopping || store_next_pending_recipient(pf->st, after, aor, sizeof aor))
			return true;
		if (!pf_user_is_ours(pf, aor)) {
			pf_deliver_kick(pf, aor, false);
			(*kicked)++;
		}
		memcpy(after, aor, STORE_AOR_MAX + 1);
	}
	return false;
}

/* ---------------------------------------------- handing over to another domain's PF */

bool pf_network_deferred(const struct sip_msg *m, char *why, size_t cap)
{
	char v[32];
	if (sip_msg_header(m, "Cpm-Deferred", v, sizeof v))
		return false;
	/* a token of ours (no-device, no-answer, resume): anything else is not carried on */
	size_t n = strspn(v, "abcdefghijklmnopqrstuvwxyz-");
	if (n == 0 || v[n] != '\0')
		snprintf(v, sizeof v, "yes");
	snprintf(why, cap, "%s", v);
	return true;
}

void pf_record_handover(struct pf *pf, const char *sender_key, const char *msgid, const char *recipient)
{
	if (!pf->st || !msgid[0])
		return;
	/* The other domain's PF keeps the file and will send the sender's `delivered` or `failed`
	 * to us: the routed record is what lets that report through (pf_report.c), once. */
	struct store_routed r = {.asked = STORE_IMDN_POSITIVE | STORE_IMDN_NEGATIVE,
				 .expires_at_ms = policy_routed_expiry(&pf->cfg, pf_now_ms())};
	PF_COPY(r.sender, sender_key);
	PF_COPY(r.msgid, msgid);
	PF_COPY(r.recipient, recipient);
	pf_store_queued(store_routed_put(pf->st, &r, pf_store_logged, "record of a file handed over"),
			"record of a file handed over");
}

bool pf_msrp_active(const struct pf *pf, const char *aor)
{
	return !pf->cfg.as_mode && !pf_user_is_ours(pf, aor);
}

const char *pf_onward_route(const struct pf *pf, const struct sip_msg *m, struct cpm_arena *a)
{
	char buf[SIP_ROUTE_ONWARD_MAX];
	/* ISC: an originating request goes back to the core along the entries the core put behind
	 * ours (its `odi`), so that the core continues that session's originating service */
	if (!pf->cfg.as_mode || !sip_msg_is_orig(m) || sip_msg_route_after_us(m, buf, sizeof buf))
		return NULL;
	return cpm_arena_strdup(a, buf);
}
