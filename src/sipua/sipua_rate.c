/* --max-request-rate (issue 10 §4, docs/security.md): new requests (out of any dialog) per
 * second per source address and per user (the From AOR: the only identity a request has
 * before authentication; the auth part may pass the authenticated one later). Standalone
 * only: in AS mode every request comes from the core, which limits its own users, and a
 * per-address bound would throttle the whole core (issue 9: AS mode trusts its core).
 * Refused with 503 + Retry-After: 1 and a phrase naming the limit and the key kind (RFC 3261
 * §21.5.4; RFC 6357 uses 503 for overload); the peer's next second has room again. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <time.h>

#include "common/log.h"
#include "common/mono_clock.h"
#include "sipua/sipua_int.h"

int sipua_rate_init(struct sipua *s)
{
	unsigned rate = s->cfg.as_mode ? 0 : s->cfg.max_request_rate;
	if (rate_limit_init(&s->rate_addr, rate) || rate_limit_init(&s->rate_user, rate)) {
		rate_limit_free(&s->rate_addr);
		return -1;
	}
	/* nua_respond() queues the answer and keeps the phrase's pointer, not a copy: the two
	 * phrases live as long as the sipua. */
	snprintf(s->rate_phrase[0], sizeof s->rate_phrase[0], "Request Rate Exceeded (max-request-rate %u per address)",
		 rate);
	snprintf(s->rate_phrase[1], sizeof s->rate_phrase[1], "Request Rate Exceeded (max-request-rate %u per user)",
		 rate);
	return 0;
}

void sipua_rate_free(struct sipua *s)
{
	rate_limit_free(&s->rate_addr);
	rate_limit_free(&s->rate_user);
}

static uint64_t now_ms(void)
{
	return (uint64_t)mono_ms();
}

/* The source IP (no port: one host has many ports) into out. */
static void source_ip(nua_t *nua, char *out, size_t cap)
{
	struct sipua_source src;
	out[0] = '\0';
	if (sipua_source_of(nua, &src))
		return;
	if (src.sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)src.sa)->sin_addr, out, (socklen_t)cap);
	else if (src.sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)src.sa)->sin6_addr, out,
			  (socklen_t)cap);
}

bool sipua_refuse_over_rate(struct sipua *s, nua_event_t event, nua_handle_t *nh, sip_t const *sip)
{
	if (!s->rate_addr.rate)
		return false;
	uint64_t now = now_ms();
	char ip[INET6_ADDRSTRLEN], user[LOC_MAX_AOR];
	const char *phrase;

	source_ip(s->nua, ip, sizeof ip);
	user[0] = '\0';
	if (sip && sip->sip_from && sip->sip_from->a_url->url_user && sip->sip_from->a_url->url_host &&
	    location_aor_key(user, sizeof user, sip->sip_from->a_url->url_user, sip->sip_from->a_url->url_host))
		user[0] = '\0';
	/* Both buckets are charged, so neither key can be used to spare the other. */
	bool addr_ok = !ip[0] || rate_limit_take(&s->rate_addr, ip, now);
	bool user_ok = !user[0] || rate_limit_take(&s->rate_user, user, now);
	if (!addr_ok)
		phrase = s->rate_phrase[0];
	else if (!user_ok)
		phrase = s->rate_phrase[1];
	else
		return false;
	/* One line a second at most: a flood must not become a flood of log lines. */
	if (now - s->rate_logged_ms >= 1000) {
		log_info("%s from %s (%s) refused: %s", nua_event_name(event), ip[0] ? ip : "?", user[0] ? user : "?",
			 phrase);
		s->rate_logged_ms = now;
	}
	switch (event) {
	case nua_i_invite:
		/* the handle is destroyed at its terminated call state (sipua.c) */
		nua_respond(nh, 503, phrase, SIPTAG_RETRY_AFTER_STR("1"), TAG_END());
		break;
	case nua_i_register:
	case nua_i_message:
		sipua_respond_destroy(s, nh, 503, phrase, SIPTAG_RETRY_AFTER_STR("1"), TAG_END());
		break;
	default:
		/* nua answered it already (standalone: nothing else is an application method) */
		nua_handle_destroy(nh);
		break;
	}
	return true;
}
