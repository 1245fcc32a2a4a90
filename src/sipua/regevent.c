/* reg event (RFC 3680) from the core, AS mode (docs/internals/sipua.md "reg event"): the
 * application/reginfo+xml of a NOTIFY — in a subscription of ours, or unsolicited from the
 * core — binds and unbinds devices through the registrar's one binding path, exactly as a
 * third-party REGISTER does. With cfg.reg_event, a user that gets its first binding is
 * subscribed to at the core (Request-URI = the AOR, through core_uri), and the subscription
 * ends when the user has no binding left. nua refreshes subscriptions itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_string.h>

#include "common/log.h"
#include "common/str_hash.h"
#include "cpm/reginfo.h"
#include "sipua/sip_leg.h"
#include "sipua/sipua_int.h"

struct regsub {
	enum sipua_hkind kind; /* SIPUA_H_REGSUB: first, for the event router */
	struct regsub *next;   /* in its bucket, or in the list of ending ones */
	nua_handle_t *nh;      /* NULL: refused or ended at failed_at; retried after
	                          SIPUA_REGSUB_RETRY_S */
	time_t failed_at;
	char aor[LOC_MAX_AOR];
};

struct regsub_table {
	struct regsub **buckets; /* a chain per bucket */
	size_t nbuckets;         /* a power of two: location_buckets() */
	struct regsub *ending;   /* un-SUBSCRIBE sent, waiting for its answer */
};


static struct regsub **slot(struct regsub_table *t, const char *aor)
{
	struct regsub **pp = &t->buckets[str_hash(aor) & (t->nbuckets - 1)];
	while (*pp && strcmp((*pp)->aor, aor))
		pp = &(*pp)->next;
	return pp;
}

/* Unlink sub from wherever it is (its bucket or the ending list). */
static void unlink_sub(struct regsub_table *t, struct regsub *sub)
{
	struct regsub **pp = slot(t, sub->aor);
	if (*pp != sub)
		for (pp = &t->ending; *pp && *pp != sub; pp = &(*pp)->next)
			;
	if (*pp == sub)
		*pp = sub->next;
	sub->next = NULL;
}

static void drop_handle(struct regsub *sub)
{
	if (!sub->nh)
		return;
	nua_handle_bind(sub->nh, NULL);
	nua_handle_destroy(sub->nh);
	sub->nh = NULL;
}

/* A subscription per user with a binding: at most as many as the location service holds
 * (--max-users), so the table has as many buckets as its own (one per user, at least 1024, at
 * most 2^20). Audit: was O(n) per event with a fixed 4096 (chains of ~244 users at the AS
 * default of 1,000,000, walked per third-party REGISTER and per reg event NOTIFY). */
int regevent_create(struct sipua *s)
{
	struct regsub_table *t = calloc(1, sizeof *t);
	if (!t)
		return -1;
	t->nbuckets = location_buckets(s->loc);
	if (!(t->buckets = calloc(t->nbuckets, sizeof *t->buckets))) {
		free(t);
		return -1;
	}
	s->regsubs = t;
	return 0;
}

static void free_chain(struct regsub *sub)
{
	for (struct regsub *n; sub; sub = n) {
		n = sub->next;
		drop_handle(sub);
		free(sub);
	}
}

void regevent_destroy(struct sipua *s)
{
	if (!s->regsubs)
		return;
	for (size_t i = 0; i < s->regsubs->nbuckets; i++)
		free_chain(s->regsubs->buckets[i]);
	free_chain(s->regsubs->ending);
	free(s->regsubs->buckets);
	free(s->regsubs);
	s->regsubs = NULL;
}

static int subscribe(struct sipua *s, struct regsub *sub)
{
	char uri[LOC_MAX_AOR + 8], to[LOC_MAX_AOR + 10], from[300], expires[16];
	bool v6 = strchr(s->cfg.host, ':') != NULL;

	snprintf(uri, sizeof uri, "sip:%s", sub->aor);
	snprintf(to, sizeof to, "<%s>", uri);
	snprintf(from, sizeof from, "<sip:%s%s%s:%u>", v6 ? "[" : "", s->cfg.host, v6 ? "]" : "", s->cfg.port);
	snprintf(expires, sizeof expires, "%u", SIPUA_REGSUB_EXPIRES);
	sub->nh = nua_handle(s->nua, sub, SIPTAG_TO_STR(to), SIPTAG_FROM_STR(from), TAG_END());
	if (!sub->nh)
		return -1;
	/* the proxy as a handle parameter: refreshes and the un-SUBSCRIBE go to the core too
	 * (NUTAG_PROXY given to nua_handle() is ignored: sofia-notes) */
	nua_set_hparams(sub->nh, NUTAG_PROXY(s->cfg.core_uri), TAG_END());
	nua_subscribe(sub->nh, NUTAG_URL(uri), SIPTAG_EVENT_STR("reg"), SIPTAG_ACCEPT_STR(REGINFO_CTYPE),
		      SIPTAG_EXPIRES_STR(expires), TAG_END());
	sub->failed_at = 0;
	log_info("reg event: SUBSCRIBE %s through %s", uri, s->cfg.core_uri);
	return 0;
}

void regevent_follow(struct sipua *s, const char *aor, bool known)
{
	struct regsub_table *t = s->regsubs;

	if (!t || !s->cfg.reg_event || !s->cfg.core_uri || s->shutting_down)
		return;
	struct regsub **pp = slot(t, aor), *sub = *pp;
	if (known && !sub) {
		sub = calloc(1, sizeof *sub);
		if (!sub || snprintf(sub->aor, sizeof sub->aor, "%s", aor) >= (int)sizeof sub->aor) {
			free(sub);
			return;
		}
		sub->kind = SIPUA_H_REGSUB;
		*pp = sub;
		if (subscribe(s, sub))
			sub->failed_at = location_now();
	} else if (known && !sub->nh && location_now() - sub->failed_at >= SIPUA_REGSUB_RETRY_S) {
		if (subscribe(s, sub))
			sub->failed_at = location_now();
	} else if (!known && sub) {
		*pp = sub->next;
		sub->next = NULL;
		if (!sub->nh) {
			free(sub);
			return;
		}
		/* freed at the answer to the un-SUBSCRIBE (or at sipua_destroy) */
		sub->next = t->ending;
		t->ending = sub;
		nua_unsubscribe(sub->nh, TAG_END());
		log_info("reg event: un-SUBSCRIBE %s (no binding left)", aor);
	}
}

/* The device key of a reginfo contact: its +sip.instance; without one (Kamailio 5.6 sends
 * none), the key of the binding the third-party REGISTER made for the same contact URI, so
 * that one device is not bound twice; else the URI (as the registrar keys a Contact without
 * an instance). 0, or -1 when it does not fit (never cut). */
static int device_key_of(struct sipua *s, const char *aor, const struct reginfo_contact *c, char *out, size_t cap)
{
	const char *k = c->instance[0] ? c->instance : c->uri;
	struct loc_device had[16];
	size_t n = c->instance[0] ? 0 : location_lookup(s->loc, aor, had, 16);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(had[i].contact, c->uri)) {
			k = had[i].instance;
			break;
		}
	if (strlen(k) >= cap)
		return -1;
	memcpy(out, k, strlen(k) + 1);
	return 0;
}

/* Apply a reginfo NOTIFY. 200, or the status to answer with *why: 489 another event
 * package, 400 no or bad body. */
static int apply(struct sipua *s, sip_t const *sip, bool need_body, const char **why)
{
	if (!sip || !sip->sip_event || !su_casematch(sip->sip_event->o_type, "reg")) {
		*why = "Bad Event";
		return 489;
	}
	if (!sip->sip_payload || !sip->sip_payload->pl_len) {
		*why = "No reginfo Body";
		return need_body ? 400 : 200; /* a subscription's first NOTIFY may be empty (pending) */
	}
	if (!sip->sip_content_type || !su_casematch(sip->sip_content_type->c_type, REGINFO_CTYPE)) {
		*why = "Body Is Not application/reginfo+xml";
		return 400;
	}
	struct reginfo *ri = malloc(sizeof *ri);
	if (!ri) {
		*why = "Internal Server Error";
		return 500;
	}
	int rc = reginfo_parse(sip->sip_payload->pl_data, sip->sip_payload->pl_len, ri);
	if (rc != REGINFO_OK) {
		log_info("reg event NOTIFY refused: %s", reginfo_strerror(rc));
		*why = reginfo_strerror(rc);
		free(ri);
		return 400;
	}
	for (size_t r = 0; r < ri->nregs; r++) {
		char key[LOC_MAX_AOR];
		const char *at;
		struct reg_batch b;

		if (sip_uri_aor_key(ri->regs[r].aor, key, sizeof key) || !(at = strchr(key, '@')) ||
		    !s->cfg.domains || !domain_set_has(s->cfg.domains, at + 1, strlen(at + 1))) {
			log_info("reg event: %s is not a user of this server, skipped", ri->regs[r].aor);
			continue;
		}
		reg_batch_begin(s, &b, key);
		size_t listed = 0;
		for (size_t i = 0; i < ri->ncontacts; i++) {
			const struct reginfo_contact *c = &ri->contacts[i];
			struct loc_device dev;
			if (c->reg != r)
				continue;
			listed++;
			memset(&dev, 0, sizeof dev);
			if (device_key_of(s, key, c, dev.instance, sizeof dev.instance) ||
			    strlen(c->uri) >= sizeof dev.contact) {
				log_info("reg event: %s contact too long for a device key, skipped", key);
				continue;
			}
			memcpy(dev.contact, c->uri, strlen(c->uri) + 1);
			log_info("reg event: %s contact %s %s (device %s)", key, c->uri,
				 c->state == REGINFO_ACTIVE ? "active" : "terminated", dev.instance);
			unsigned e = c->state != REGINFO_ACTIVE ? 0 : c->has_expires ? c->expires : s->cfg.reg_max_expires;
			if (e > s->cfg.reg_max_expires)
				e = s->cfg.reg_max_expires;
			enum loc_result lr = registrar_bind(s, &b, &dev, e);
			if (lr != LOC_OK)
				log_warn("reg event: %s device %s not bound (%d)", key, dev.instance, (int)lr);
		}
		/* A terminated registration that names its contacts ends those (done above, each
		 * with expiry 0), not every binding: the core's notifier lags its registrar, and a
		 * NOTIFY describing the registration that just ended can arrive after the third-party
		 * REGISTER of the device's next one (CI: t_core_regevent lost the new binding so).
		 * Without contacts it can only mean all of them. */
		if (ri->regs[r].state == REGINFO_TERMINATED && !listed)
			registrar_unbind_all(s, &b);
		reg_batch_end(s, &b);
	}
	free(ri);
	*why = "OK";
	return 200;
}

void regevent_unsolicited_notify(struct sipua *s, nua_handle_t *nh, sip_t const *sip)
{
	const char *why = NULL;
	int status = apply(s, sip, true, &why);
	sipua_respond_destroy(s, nh, status, status == 200 ? NULL : why, TAG_END());
}

void regevent_event(struct sipua *s, void *hmagic, nua_event_t event, int status, const char *phrase,
		    sip_t const *sip, tagi_t tags[])
{
	struct regsub *sub = hmagic;
	int substate = -1;
	const char *why = NULL;

	tl_gets(tags, NUTAG_SUBSTATE_REF(substate), TAG_END());
	switch (event) {
	case nua_r_subscribe:
		if (status >= 300 && substate != nua_substate_active && substate != nua_substate_pending) {
			log_warn("reg event: SUBSCRIBE %s refused: %d %s (retry after %d s)", sub->aor, status,
				 phrase ? phrase : "", SIPUA_REGSUB_RETRY_S);
			drop_handle(sub);
			sub->failed_at = location_now();
		}
		break;
	case nua_i_notify: {
		/* nua answered 200 already (a NOTIFY of our subscription); no message: nua's own
		 * end of the subscription (no NOTIFY came in time) */
		int rc = sip ? apply(s, sip, false, &why) : 200;
		if (rc != 200)
			log_info("reg event NOTIFY for %s not applied: %s", sub->aor, why);
		if (substate == nua_substate_terminated && sub->nh) {
			/* the core ended it: a later REGISTER subscribes again */
			drop_handle(sub);
			sub->failed_at = location_now();
			for (struct regsub *e = s->regsubs->ending; e; e = e->next)
				if (e == sub) {
					unlink_sub(s->regsubs, sub);
					free(sub);
					break;
				}
		}
		break;
	}
	case nua_r_unsubscribe:
		/* A 2xx does not end the subscription: the core's terminating NOTIFY does (or nua's
		 * own 32 s wait for it, reported as a NOTIFY event with substate terminated), and
		 * that is handled above. Destroying the handle now would make nua send a second
		 * un-SUBSCRIBE and answer the core's NOTIFY 481. */
		if (status >= 300 || (status >= 200 && substate == nua_substate_terminated)) {
			unlink_sub(s->regsubs, sub);
			drop_handle(sub);
			free(sub);
		}
		break;
	default:
		break;
	}
}
