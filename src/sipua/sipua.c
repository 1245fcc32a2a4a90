/* sipua: nua instance, REGISTER dispatch, event routing (see sipua.h). */
#include "sipua/sipua.h"
#include "common/mono_clock.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/su_tagarg.h>
#include <sofia-sip/sresolv.h>
#include <sofia-sip/tport_tag.h>

#include "common/log.h"
#include "net/loop_su.h"
#include "sipua/sip_tls.h"
#include "sipua/sipua_int.h"

int sipua_source_of(nua_t *nua, struct sipua_source *out)
{
	msg_t *msg = nua_current_request(nua);
	su_addrinfo_t *ai = msg ? msg_addrinfo(msg) : NULL;
	char ip[INET6_ADDRSTRLEN];
	unsigned port;
	const char *lb = "", *rb = "";

	memset(out, 0, sizeof *out);
	if (!ai || !ai->ai_addr)
		return -1;
	if (ai->ai_addr->sa_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ai->ai_addr;
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip);
		port = ntohs(sin->sin_port);
	} else if (ai->ai_addr->sa_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ai->ai_addr;
		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof ip);
		port = ntohs(sin6->sin6_port);
		lb = "[", rb = "]";
	} else {
		return -1;
	}
	out->sa = ai->ai_addr;
	out->tcp = ai->ai_protocol == IPPROTO_TCP;
	/* sofia gives no public way to ask which transport a request came on (sofia-notes): TLS
	 * is a TCP stream whose Via says TLS. A device lying there only makes us open a TLS
	 * connection to it instead of reusing its TCP one. */
	sip_t const *sip = msg ? (sip_t const *)msg_object(msg) : NULL;
	struct sip_msg m = {.nua = nua, .sip = sip};
	out->tls = out->tcp && sip_msg_over_tls(&m);
	snprintf(out->text, sizeof out->text, "%s%s%s:%u", lb, ip, rb, port);
	snprintf(out->flow, sizeof out->flow, "sip:%s%s%s:%u;transport=%s", lb, ip, rb, port,
		 out->tls ? "tls" : out->tcp ? "tcp" : "udp");
	return 0;
}

void sipua_respond_destroy(struct sipua *s, nua_handle_t *nh, int status, const char *phrase, tag_type_t tag,
			   tag_value_t value, ...)
{
	ta_list ta;
	ta_start(ta, tag, value);
	nua_respond(nh, status, phrase, NUTAG_WITH_THIS(s->nua), ta_tags(ta));
	ta_end(ta);
	nua_handle_destroy(nh); /* safe right away: the answer is queued before */
}

/* AS mode (docs/internals/sipua.md "Trust"): a request that starts something is served only
 * when it comes from the core (cfg.core_trust); anything else gets 403 and never reaches pf.
 * Requests inside a dialog are not checked here: nua matches them to a dialog that a trusted
 * request created, by its Call-ID and tags. Returns true when the request was refused. */
static bool refuse_untrusted(struct sipua *s, nua_event_t event, nua_handle_t *nh, sip_t const *sip)
{
	struct sipua_source src;
	const char *method = sip && sip->sip_request ? sip->sip_request->rq_method_name : nua_event_name(event);

	if (!s->cfg.as_mode)
		return false;
	if (!sipua_source_of(s->nua, &src) && addr_match_has(&s->cfg.core_trust, src.sa))
		return false;
	log_info("%s from %s refused: not from the core", method, src.text[0] ? src.text : "an unknown source");
	switch (event) {
	case nua_i_invite:
		/* the handle is destroyed at its terminated call state (below) */
		nua_respond(nh, 403, "Not From The Core", TAG_END());
		break;
	case nua_i_register:
	case nua_i_message:
	case nua_i_notify:
	case nua_i_options:
		/* application methods in AS mode: nua waits for our answer */
		sipua_respond_destroy(s, nh, 403, "Not From The Core", TAG_END());
		break;
	default:
		/* nua answered it already (SUBSCRIBE, REFER, ...: none is a service of ours) */
		nua_handle_destroy(nh);
		break;
	}
	return true;
}

static bool is_new_request(nua_event_t event)
{
	switch (event) {
	case nua_i_register:
	case nua_i_invite:
	case nua_i_message:
	case nua_i_notify:
	case nua_i_options:
	case nua_i_subscribe:
	case nua_i_refer:
	case nua_i_publish:
	case nua_i_info:
	case nua_i_update:
		return true;
	default:
		return false;
	}
}

static void on_nua_event(nua_event_t event, int status, char const *phrase, nua_t *nua, nua_magic_t *magic,
			 nua_handle_t *nh, nua_hmagic_t *hmagic, sip_t const *sip, tagi_t tags[])
{
	struct sipua *s = magic;
	int cs = -1;

	s->nevents++; /* the load the sweep looks at before trimming the heap */
	if (!hmagic && is_new_request(event) &&
	    /* the rate first: a flood costs no digest computation */
	    (refuse_untrusted(s, event, nh, sip) || sipua_refuse_over_rate(s, event, nh, sip) ||
	     !sipua_auth_check(s, event, nh, sip)))
		return;
	switch (event) {
	case nua_i_register:
		registrar_handle(s, nh, sip);
		return;
	case nua_r_shutdown:
		if (status >= 200) {
			log_info("SIP stack stopped (%d %s)", status, phrase);
			s->shutdown_done = 1;
			loop_break(s->loop);
		}
		return;
	default:
		break;
	}
	if (hmagic) {
		if (*(const enum sipua_hkind *)hmagic == SIPUA_H_REGSUB)
			regevent_event(s, hmagic, event, status, phrase, sip, tags);
		else
			sipua_leg_event(s, (struct sip_leg *)hmagic, event, status, phrase, sip, tags);
		return;
	}
	switch (event) {
	case nua_i_invite:
		if (sip)
			sipua_new_invite(s, nh, sip);
		break;
	case nua_i_message:
		sipua_new_message(s, nh, sip);
		break;
	case nua_i_state:
		tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
		if (cs == nua_callstate_terminated)
			nua_handle_destroy(nh); /* an INVITE answered without a leg (refused, out of memory) */
		break;
	case nua_i_notify:
		if (s->cfg.as_mode)
			regevent_unsolicited_notify(s, nh, sip); /* NOTIFY is an application method */
		break;
	case nua_i_options:
		if (s->cfg.as_mode) /* an application method in AS mode, to check where it comes from */
			sipua_respond_destroy(s, nh, SIP_200_OK, TAG_END());
		break;
	case nua_i_subscribe:
	case nua_i_refer:
	case nua_i_publish:
	case nua_i_info:
	case nua_i_update:
		log_debug("unhandled %s", nua_event_name(event));
		break;
	default:
		break;
	}
}

/* sofia has no tag for the UDP receive buffer and does not expose its
 * sockets, and the kernel default (~208 KiB) overflows under load: every
 * dropped datagram then costs a 500 ms retransmission. So find the UDP
 * sockets bound to our SIP port and raise their buffer (SO_RCVBUFFORCE when
 * we may, else up to net.core.rmem_max). */
static void raise_udp_rcvbuf(uint16_t port, int bytes)
{
	for (int fd = 3; fd < 1024; fd++) {
		int type = 0;
		socklen_t l = sizeof type;
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0 || type != SOCK_DGRAM)
			continue;
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
			continue;
		uint16_t p = ss.ss_family == AF_INET    ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
			     : ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
							: 0;
		if (p != port)
			continue;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
	}
}


/* Every second: a 1/30 slice of the location table's expiry (a full round in 30 s); at the
 * end of each round, malloc_trim. */
static void sweep_cb(void *arg)
{
	struct sipua *s = arg;
	int64_t t0 = mono_ms();
	bool round = location_expire_some(s->loc, location_buckets(s->loc) / SIPUA_SWEEP_SLICES + 1);
	int64_t t1 = mono_ms();
	uint64_t recent = s->nevents - s->nevents_seen;
	s->nevents_seen = s->nevents;
	s->trim_due |= round;
	/* malloc_trim walks the whole heap with it locked: 400-480 ms with ~1 GB after 100,000
	 * REGISTERs, during which SIP over UDP waits. Under load the freed memory is used again
	 * anyway: give it back once the load is gone (the burst it was for is over). */
	if (!s->trim_due || recent >= SIPUA_TRIM_IDLE_EVENTS) {
		if (t1 - t0 > 50)
			log_warn("sweep: expiry %lld ms (the loop was blocked meanwhile)", (long long)(t1 - t0));
		return;
	}
	s->trim_due = false;
	/* sofia keeps every finished transaction's messages for 64*T1 (32 s);
	 * after a burst glibc keeps the freed pages (measured: ~860 MB RSS
	 * after 20,000 transfers in a minute). Give them back when they are
	 * free. */
	malloc_trim(0);
	int64_t t2 = mono_ms();
	if (t2 - t0 > 50) /* SIP over UDP waits meanwhile: a long one costs retransmissions */
		log_warn("sweep: expiry %lld ms, malloc_trim %lld ms (the loop was blocked meanwhile)",
			 (long long)(t1 - t0), (long long)(t2 - t1));
}

/* Is host:port free for both UDP and TCP? sofia's nua_create() on a taken
 * port fails after allocating (and never freeing) part of the event loop,
 * so find out first and fail cleanly with a clear message. */
static int port_free(const char *host, uint16_t port, int type)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, rc = -1;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		sl = sizeof(struct sockaddr_in6);
	} else {
		return 0; /* a host name: let sofia resolve and report */
	}
	int fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* as sofia does */
	if (bind(fd, (struct sockaddr *)&ss, sl) == 0)
		rc = 0;
	int err = errno;
	close(fd);
	errno = err;
	return rc;
}

/* "<sip:HOST:PORT>;PARAMS" / "<sip:HOST:PORT;transport=tcp>;PARAMS" (IPv6 hosts in
 * brackets): the Contact of our INVITEs and of our 2xx, by the leg's transport. */
static int build_contacts(struct sipua *s)
{
	const struct sipua_config *c = &s->cfg;
	bool v6 = strchr(c->host, ':') != NULL;
	const char *lb = v6 ? "[" : "", *rb = v6 ? "]" : "";
	const char *params = c->contact_params && *c->contact_params ? c->contact_params : NULL;
	int n1 = snprintf(s->contact_udp, sizeof s->contact_udp, "<sip:%s%s%s:%u>%s%s", lb, c->host, rb, c->port,
			  params ? ";" : "", params ? params : "");
	int n2 = snprintf(s->contact_tcp, sizeof s->contact_tcp, "<sip:%s%s%s:%u;transport=tcp>%s%s", lb, c->host, rb,
			  c->port, params ? ";" : "", params ? params : "");
	int n3 = 0;
	if (c->tls_port) {
		bool tv6 = strchr(c->tls_host, ':') != NULL;
		n3 = snprintf(s->contact_tls, sizeof s->contact_tls, "<sip:%s%s%s:%u;transport=tls>%s%s", tv6 ? "[" : "",
			      c->tls_host, tv6 ? "]" : "", c->tls_port, params ? ";" : "", params ? params : "");
	}
	return n1 < 0 || n2 < 0 || n3 < 0 || (size_t)n1 >= sizeof s->contact_udp ||
			       (size_t)n2 >= sizeof s->contact_tcp || (size_t)n3 >= sizeof s->contact_tls
		       ? -1
		       : 0;
}

const char *sipua_contact(const struct sipua *s, bool tcp, bool tls)
{
	if (tls && s->contact_tls[0])
		return s->contact_tls;
	return tcp ? s->contact_tcp : s->contact_udp;
}

int sipua_create(struct sipua **sp, struct loop *loop, const struct sipua_config *cfg, struct location *loc,
		 struct store *st)
{
	struct sipua *s;
	char url[300];

	if (!cfg || !cfg->host || !loop || !loc || (cfg->tls_port && (!cfg->tls_host || !cfg->tls_cert || !cfg->tls_key)))
		return -1;
	s = calloc(1, sizeof *s);
	if (!s)
		return -1;
	s->loop = loop;
	s->root = loop_su_root(loop);
	s->cfg = *cfg;
	s->loc = loc;
	s->st = st;
	if (build_contacts(s) || strlen(cfg->host) > 255) {
		log_error("SIP host or Contact parameters too long");
		free(s);
		return -1;
	}
	if (port_free(cfg->host, cfg->port, SOCK_DGRAM) || port_free(cfg->host, cfg->port, SOCK_STREAM)) {
		log_error("cannot listen for SIP on %s:%u (UDP and TCP): %s", cfg->host, cfg->port, strerror(errno));
		free(s);
		return -1;
	}
	if (sipua_rate_init(s)) {
		log_error("out of memory for the request rate limits");
		free(s);
		return -1;
	}
	/* the subscriptions' table only where there are any (its buckets follow --max-users) */
	if ((cfg->as_mode && cfg->reg_event && regevent_create(s)) || sipua_auth_init(s)) {
		log_error("out of memory for the reg event subscriptions or the digest nonces");
		regevent_destroy(s);
		sipua_rate_free(s);
		free(s);
		return -1;
	}
	if (strchr(cfg->host, ':'))
		snprintf(url, sizeof url, "sip:[%s]:%u", cfg->host, cfg->port);
	else
		snprintf(url, sizeof url, "sip:%s:%u", cfg->host, cfg->port);
	/* SIP over TLS: a second listener, sips:HOST:PORT (sofia binds its TLS transport there),
	 * with the certificate directory sofia reads while it creates the transport */
	char sips_url[300] = "", tls_dir[SIP_TLS_DIR_MAX] = "";
	if (cfg->tls_port) {
		char why[600];
		if (port_free(cfg->tls_host, cfg->tls_port, SOCK_STREAM)) {
			log_error("cannot listen for SIP over TLS on %s:%u: %s", cfg->tls_host, cfg->tls_port,
				  strerror(errno));
			regevent_destroy(s);
			free(s);
			return -1;
		}
		if (sip_tls_dir_make(cfg->tls_cert, cfg->tls_key, cfg->tls_ca, tls_dir, why, sizeof why)) {
			log_error("SIP over TLS: %s", why);
			regevent_destroy(s);
			free(s);
			return -1;
		}
		bool tv6 = strchr(cfg->tls_host, ':') != NULL;
		snprintf(sips_url, sizeof sips_url, "sips:%s%s%s:%u", tv6 ? "[" : "", cfg->tls_host, tv6 ? "]" : "",
			 cfg->tls_port);
	}
	/* No transport parameter: nua binds UDP and TCP on the port. Media is
	 * off: we write our own SDP (RFC 5547) and anchor MSRP ourselves.
	 * Session timers off: a file transfer needs no refresh, and a B2BUA
	 * that refreshes one leg but not the other only causes trouble. */
	s->nua = nua_create(s->root, on_nua_event, s, NUTAG_URL(url), NUTAG_MEDIA_ENABLE(0),
			    TAG_IF(sips_url[0], NUTAG_SIPS_URL(sips_url)), TAG_IF(tls_dir[0], NUTAG_CERTIFICATE_DIR(tls_dir)),
			    /* TLS: negotiate the highest version both sides have (sofia's default
			     * is TLS 1.0 alone, which OpenSSL 3 on Debian refuses); peers are not
			     * asked for a certificate (devices authenticate with digest) */
			    TAG_IF(sips_url[0], TPTAG_TLS_VERSION(0)),
			    /* Verification (sofia 1.12.11): the connections we open (another
			     * domain's PF, --route ;transport=tls) must chain to a CA of --tls-ca,
			     * or sofia drops them and the request fails as unreachable. Accepted
			     * connections (devices) are verified only with --tls-verify-clients:
			     * sofia then sets SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT on its
			     * context and, after the handshake, closes an accepted connection whose
			     * chain to cafile.pem does not verify */
			    TAG_IF(sips_url[0], TPTAG_TLS_VERIFY_POLICY(TPTLS_VERIFY_OUT |
									 (cfg->tls_verify_clients ? TPTLS_VERIFY_IN : 0))),
			    NUTAG_APPL_METHOD("REGISTER"), NUTAG_APPL_METHOD("MESSAGE"), NUTAG_ALLOW("REGISTER"),
			    /* AS mode: we answer these ourselves, so that a request from outside the
			     * core gets 403 (OPTIONS) and a NOTIFY outside any subscription (reg
			     * event) reaches us instead of nua's 481 */
			    TAG_IF(cfg->as_mode, NUTAG_APPL_METHOD("OPTIONS")),
			    TAG_IF(cfg->as_mode, NUTAG_APPL_METHOD("NOTIFY")), TAG_IF(cfg->as_mode, NUTAG_ALLOW("NOTIFY")),
			    /* --resolv-conf: the DNS servers for RFC 3263 lookups (--dns-routes) */
			    TAG_IF(cfg->resolv_conf, SRESTAG_RESOLV_CONF(cfg->resolv_conf)),
			    NUTAG_SESSION_TIMER(0), NUTAG_AUTOANSWER(0), NUTAG_AUTOALERT(0),
			    NUTAG_ENABLEMESSAGE(1), NUTAG_USER_AGENT(cfg->user_agent ? cfg->user_agent : "cpmd/0.1"),
			    /* a SIP flow stays up while its device is registered */
			    TPTAG_IDLE(cfg->reg_max_expires * 1000 + 60000),
			    /* slowloris (docs/security.md): TPTAG_IDLE never closes a connection with
			     * an incomplete message, and sofia has no bound of its own on one; this
			     * timer (from the last byte received) drops the message and the
			     * connection, so a peer sending a byte a minute is closed */
			    TAG_IF(cfg->tcp_timeout, TPTAG_TIMEOUT(cfg->tcp_timeout * 1000u)),
			    /* forks to one device share its TCP connection: sofia's
			     * default queue of 64 messages answers the rest with 503 */
			    TPTAG_QUEUESIZE(4096), TAG_END());
	sip_tls_dir_remove(tls_dir); /* read by now: the key stays nowhere but in memory */
	if (!s->nua) {
		log_error("cannot listen for SIP on %s:%u (UDP and TCP): address in use or not local?", cfg->host,
			  cfg->port);
		regevent_destroy(s);
		sipua_auth_fini(s);
		sipua_rate_free(s);
		free(s);
		return -1;
	}
	raise_udp_rcvbuf(cfg->port, 4 * 1024 * 1024);
	s->sweep = loop_timer_every(loop, 30000 / SIPUA_SWEEP_SLICES, sweep_cb, s);
	*sp = s;
	return 0;
}

void sipua_set_handlers(struct sipua *s, sipua_invite_fn *on_invite, sipua_message_fn *on_message, void *arg)
{
	s->on_invite = on_invite;
	s->on_message = on_message;
	s->handler_arg = arg;
}

void sipua_set_register_hook(struct sipua *s, registrar_hook_f *cb, void *arg)
{
	s->reg_hook = cb;
	s->reg_hook_arg = arg;
}

static void guard_cb(void *arg)
{
	struct sipua *s = arg;
	log_warn("SIP stack did not stop in time; exiting anyway");
	loop_break(s->loop);
}

void sipua_shutdown(struct sipua *s)
{
	if (s->shutting_down++)
		return;
	nua_shutdown(s->nua);
	/* nua_shutdown waits for live calls; do not wait for ever. */
	s->shutdown_guard = loop_timer_once(s->loop, 3000, guard_cb, s);
}

/* A SIP stack whose shutdown did not complete by exit (sipua_destroy). */
static nua_t *sipua_abandoned_stack;

void sipua_destroy(struct sipua *s)
{
	if (!s)
		return;
	/* nua_destroy() requires a finished nua_shutdown(): on an early exit
	 * (e.g. the MSRP port is taken) run the loop until it is, bounded. After
	 * sipua_shutdown() the main loop already gave it its 3 s (guard_cb): waiting
	 * again only delayed the exit (8 s with an INVITE stuck toward an untrusted
	 * TLS peer, past a supervisor's or a test's stop timeout). */
	if (s->nua && !s->shutdown_done && !s->shutting_down++) {
		nua_shutdown(s->nua);
		for (int i = 0; i < 50 && !s->shutdown_done; i++)
			loop_step(s->loop, 100);
	}
	loop_timer_stop(s->sweep);
	loop_timer_stop(s->shutdown_guard);
	/* What the owners left: forks first (they release their legs), then the legs (their
	 * handles go before nua does). */
	sipua_forks_free_all(s);
	sipua_legs_free_all(s);
	regevent_destroy(s);
	if (s->nua && s->shutdown_done) {
		nua_destroy(s->nua);
	} else if (s->nua) {
		/* sofia refuses nua_destroy before its shutdown completed (e.g. a transaction
		 * waits for its Timer B toward an unreachable TLS peer): the stack is abandoned to
		 * the process's exit. This pointer keeps it reachable, so that a leak checker
		 * sees a deliberate abandonment, not lost memory. */
		sipua_abandoned_stack = s->nua;
		log_warn("SIP stack abandoned at exit (its shutdown did not complete)");
	}
	sipua_auth_fini(s);
	sipua_rate_free(s);
	free(s);
}
