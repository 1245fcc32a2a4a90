/* sipua: the SIP side of cpmd over sofia-sip nua: one nua instance listening on UDP and TCP,
 * the built-in registrar (REGISTER answered by us, bindings in the location service), legs
 * and forks for the layers above (sip_leg.h, fork.h), and dispatch of new requests to the
 * handlers that cpmd installs (pf). No CPM logic here, and nothing of cpmd's options: cpmd
 * fills struct sipua_config. */
#ifndef CPMD_SIPUA_SIPUA_H
#define CPMD_SIPUA_SIPUA_H

#include <stdbool.h>
#include <stdint.h>

#include "common/addr_match.h"
#include "common/domains.h"
#include "sipua/location.h"
#include "sipua/registrar.h"
#include "sipua/sip_leg.h"

struct sipua;
struct store;
struct loop;

/* reg event subscriptions (AS mode, cfg.reg_event; RFC 3680): the Expires we ask for (nua
 * refreshes before it runs out; an hour keeps the refresh traffic at one SUBSCRIBE per user
 * per hour), and how long after a refused or ended subscription a user's next third-party
 * REGISTER may subscribe again (a core without the reg event package would otherwise get a
 * SUBSCRIBE per REGISTER). */
#define SIPUA_REGSUB_EXPIRES 3600
#define SIPUA_REGSUB_RETRY_S 300

struct sipua_config {
	const char *host;              /* SIP listen address (UDP and TCP) */
	uint16_t port;
	const struct domain_set *domains; /* the registrar serves these */
	unsigned reg_min_expires;      /* 423 below */
	unsigned reg_max_expires;      /* granted at most; also bounds TCP flow idle time */
	unsigned max_request_rate;     /* new requests per second per source address and per user
	                                  (standalone; 0 = no limit) */
	unsigned tcp_timeout;          /* s a message over TCP may stay incomplete after its last
	                                  byte (TPTAG_TIMEOUT); 0 = sofia's default (none) */
	const char *contact_params;    /* appended to our Contact, e.g. the CPM FT feature tag
	                                  (NULL/"": none) */
	const char *user_agent;        /* User-Agent / Server (NULL: "cpmd/0.1", as before) */
	/* AS mode (docs/deployment.md): behind a SIP/IMS core */
	bool as_mode;                  /* REGISTER = third-party REGISTER from the core; only
	                                  requests from core_trust are served (403 otherwise) */
	const char *core_uri;          /* the core: where requests toward users go (AS mode) */
	struct addr_match_list core_trust;
	bool reg_event;
	/* SIP over TLS (docs/security.md): tls_port 0 = off. The certificate chain and key (PEM)
	 * cpmd shows; tls_ca: CAs trusted for peers (NULL: the certificate itself) */
	const char *tls_host;
	uint16_t tls_port;
	const char *tls_cert, *tls_key, *tls_ca;
	bool tls_verify_clients;       /* a TLS client must show a certificate chained to tls_ca */
	/* standalone mode: digest authentication of every REGISTER, INVITE and MESSAGE from a
	 * device against the subscriber list (sipua_set_subscribers; docs/security.md) */
	bool auth;
	unsigned nonce_lifetime_s;     /* 0: NONCE_LIFETIME_S */
	/* the digest algorithms offered, in order of preference (enum digest_alg values);
	 * nalgs 0: SHA-256 then MD5 (RFC 8760 §2.4) */
	int algs[2];
	int nalgs;
	const char *resolv_conf;       /* resolv.conf for sofia's DNS resolver (NULL: /etc/resolv.conf;
	                                  sofia also takes a "port N" line) */                /* SUBSCRIBE to each user's reg event at the core */
};

/* A new INVITE (out of any dialog). The handler either binds the leg (sip_leg_bind) and
 * answers it later, or answers it at once (sipua then releases it when its call ends).
 * Neither: sipua answers 500. */
typedef void sipua_invite_fn(void *arg, struct sip_leg *leg, const struct sip_msg *m);
/* A MESSAGE out of dialog: answer it with sip_leg_respond() before returning, or bind the leg
 * (sip_leg_bind) and answer it later (sip_leg.h). Neither: sipua answers 500. */
typedef void sipua_message_fn(void *arg, struct sip_leg *leg, const struct sip_msg *m);

/* st: where registrations are saved (may be NULL: memory only). The config is copied; its
 * strings and its domain set must outlive the sipua. */
int sipua_create(struct sipua **sp, struct loop *loop, const struct sipua_config *cfg, struct location *loc,
		 struct store *st);
/* Without handlers, INVITE gets 503 and MESSAGE 501. */
void sipua_set_handlers(struct sipua *s, sipua_invite_fn *on_invite, sipua_message_fn *on_message, void *arg);
/* Called for every device that registers or refreshes (see registrar.h). */
void sipua_set_register_hook(struct sipua *s, registrar_hook_f *cb, void *arg);
/* The subscriber list that auth checks against (cfg.auth). The caller owns it and may swap
 * it at any time between events (SIGHUP reload); NULL refuses everyone. */
struct subscribers;
void sipua_set_subscribers(struct sipua *s, const struct subscribers *users);
/* Start nua_shutdown; loop_break() is called when it completes (or after a grace period). */
void sipua_shutdown(struct sipua *s);
void sipua_destroy(struct sipua *s);

#endif
