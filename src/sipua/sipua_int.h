/* sipua internals shared by sipua.c, sip_leg.c, sip_msg.c, fork.c and registrar.c. Not for
 * the layers above (pf, cpmd): this is where sofia types live.
 * THREADING: loop thread only. */
#ifndef CPMD_SIPUA_SIPUA_INT_H
#define CPMD_SIPUA_SIPUA_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <sofia-sip/nua.h>
#include <sofia-sip/sip.h>

#include "common/rate_limit.h"
#include "common/subscribers.h"
#include "sipua/sipua.h"

/* "<sip:HOST:PORT;transport=tcp>;PARAMS": the host (255 + brackets), the parameters. */
#define SIPUA_CONTACT_MAX 1024
/* The location expiry runs in this many slices, one a second (sipua.c sweep_cb). */
#define SIPUA_SWEEP_SLICES 30
/* malloc_trim only in a sweep tick (1 s) that saw fewer nua events than this. */
#define SIPUA_TRIM_IDLE_EVENTS 200

struct sip_fork;
struct regsub_table;

/* What a nua handle is bound to (hmagic): every bound struct starts with this, so that the
 * event router knows where a handle's events go. */
enum sipua_hkind { SIPUA_H_LEG = 1, SIPUA_H_REGSUB };

struct sipua {
	struct loop *loop;
	su_root_t *root;
	nua_t *nua;
	struct sipua_config cfg; /* copied; its strings are the caller's */
	struct location *loc;
	struct store *st;
	sipua_invite_fn *on_invite;
	sipua_message_fn *on_message;
	void *handler_arg;
	registrar_hook_f *reg_hook;
	void *reg_hook_arg;
	struct loop_timer *sweep;
	uint64_t nevents, nevents_seen; /* nua events: all, and at the last sweep tick */
	bool trim_due;                  /* a sweep round ended: malloc_trim once it is quiet */
	struct loop_timer *shutdown_guard;
	int shutting_down;
	int shutdown_done;
	/* Our Contact per transport, with cfg.contact_params (nua's own dialog Contact drops
	 * NUTAG_M_FEATURES, so we always give ours). */
	char contact_udp[SIPUA_CONTACT_MAX];
	char contact_tcp[SIPUA_CONTACT_MAX];
	char contact_tls[SIPUA_CONTACT_MAX]; /* "" when SIP over TLS is off */
	struct sip_leg *legs;   /* every leg alive (freed at sipua_destroy) */
	struct sip_fork *forks; /* every fork alive, destroyed ones waiting for their legs too */
	struct regsub_table *regsubs; /* reg event subscriptions (AS mode + cfg.reg_event), or NULL */
	/* --max-request-rate (sipua_rate.c): per source address, per From user */
	struct rate_limit rate_addr, rate_user;
	uint64_t rate_logged_ms;
	char rate_phrase[2][80]; /* per address, per user (the phrase nua keeps a pointer to) */
	/* digest authentication (standalone, cfg.auth: sip_auth.c) */
	struct nonce_state *nonces;
	const struct subscribers *users; /* the caller's (sipua_set_subscribers) */
	/* "user@domain" that the request being dispatched proved, "" otherwise: set by
	 * sipua_auth_check() for the duration of one event */
	char auth_user[SUBSCRIBER_KEY_MAX + 1];
};

/* ---- sipua_rate.c: --max-request-rate (standalone) */
int sipua_rate_init(struct sipua *s);
void sipua_rate_free(struct sipua *s);
/* A new request over its source address's or user's rate is answered 503 + Retry-After here
 * (its handle taken care of): true. */
bool sipua_refuse_over_rate(struct sipua *s, nua_event_t event, nua_handle_t *nh, sip_t const *sip);

/* A message as the layers above see it: a view of one nua event, valid during it. */
struct sip_msg {
	nua_t *nua;
	sip_t const *sip;   /* NULL for a locally generated failure */
	int status;         /* responses; 0 for requests */
	const char *phrase; /* responses; may be NULL */
	bool as_mode;       /* behind a core: P-Asserted-Identity and the orig Route count */
	const char *auth_user; /* "user@domain" the request proved (digest), or NULL */
};

/* Our Contact for a leg over UDP, TCP or TLS (TLS falls back to TCP's when TLS is off). */
const char *sipua_contact(const struct sipua *s, bool tcp, bool tls);

/* ---- sip_auth.c */
int sipua_auth_init(struct sipua *s);
void sipua_auth_fini(struct sipua *s);
/* For a new REGISTER, INVITE or MESSAGE in standalone mode with auth on: true when it may go
 * on (s->auth_user is then the proven identity), false when it was answered (401/407
 * challenge, 403). Anything else, and with auth off: true, auth_user "". */
bool sipua_auth_check(struct sipua *s, nua_event_t event, nua_handle_t *nh, sip_t const *sip);

/* ---- sip_leg.c */
/* An event of the handle bound to leg (hmagic). */
void sipua_leg_event(struct sipua *s, struct sip_leg *leg, nua_event_t event, int status, const char *phrase,
		     sip_t const *sip, tagi_t tags[]);
/* nua_i_invite / nua_i_message out of any dialog (no hmagic): to the installed handler. */
void sipua_new_invite(struct sipua *s, nua_handle_t *nh, sip_t const *sip);
void sipua_new_message(struct sipua *s, nua_handle_t *nh, sip_t const *sip);
/* At sipua_destroy: every leg left is unbound, its handle destroyed, and freed. */
void sipua_legs_free_all(struct sipua *s);

/* ---- fork.c */
/* At sipua_destroy: every fork left (destroyed or not) is freed without callbacks. */
void sipua_forks_free_all(struct sipua *s);

/* ---- sipua.c */
/* Where the request being handled came from (msg_addrinfo of nua_current_request). */
struct sipua_source {
	const struct sockaddr *sa;
	char text[64]; /* "ip:port" ("[ip6]:port") for logs */
	char flow[LOC_MAX_FLOW]; /* "sip:ip:port;transport=udp|tcp" */
	bool tcp;
	bool tls; /* over TCP, and its Via says TLS (the device's TLS flow) */
};
int sipua_source_of(nua_t *nua, struct sipua_source *out);
/* Answer a request that has no leg and drop its handle (REGISTER, NOTIFY, OPTIONS...). */
void sipua_respond_destroy(struct sipua *s, nua_handle_t *nh, int status, const char *phrase, tag_type_t tag,
			   tag_value_t value, ...);

/* ---- registrar.c: the one binding path of both registrars (REGISTER from a device,
 * third-party REGISTER and reg event from the core) */
struct reg_fired {
	char instance[LOC_MAX_INSTANCE];
	bool fresh;
};
/* The changes to one AOR's bindings made while handling one request: the register hooks wait
 * here until the request is answered, so a device sees its registration confirmed before our
 * requests arrive. */
struct reg_batch {
	char aor[LOC_MAX_AOR];
	bool known_before;      /* the AOR had a live binding when the batch began */
	struct reg_fired *fired;
	size_t nfired;
};
void reg_batch_begin(struct sipua *s, struct reg_batch *b, const char *aor);
/* Bind (expires > 0) or unbind (0) one device: location service, store (as registrar.c always
 * did), one log line; a bind queues the hook with its `fresh` flag. dev->flow may be "" (AS
 * mode: pf never sends to a device directly). */
enum loc_result registrar_bind(struct sipua *s, struct reg_batch *b, const struct loc_device *dev, unsigned expires);
/* Every binding of the AOR goes (store too). */
void registrar_unbind_all(struct sipua *s, struct reg_batch *b);
/* After the answer: fire the queued hooks, follow the user's reg event subscription (AS mode),
 * free the batch. */
void reg_batch_end(struct sipua *s, struct reg_batch *b);

/* Answers one REGISTER (nua_i_register) on handle nh and destroys the handle: the built-in
 * registrar (standalone), or the third-party REGISTER of the core (AS mode, registrar_3p.c). */
void registrar_handle(struct sipua *s, nua_handle_t *nh, sip_t const *sip);
void registrar_3p_handle(struct sipua *s, nua_handle_t *nh, sip_t const *sip);

/* ---- regevent.c: reg event (RFC 3680) from the core, AS mode */
int regevent_create(struct sipua *s);
void regevent_destroy(struct sipua *s);
/* A NOTIFY outside any subscription (hmagic NULL; NOTIFY is an application method in AS
 * mode): applied and answered (200, 400, 415, 489), handle destroyed. */
void regevent_unsolicited_notify(struct sipua *s, nua_handle_t *nh, sip_t const *sip);
/* An event of a subscription's handle (hmagic = its struct regsub). */
void regevent_event(struct sipua *s, void *hmagic, nua_event_t event, int status, const char *phrase,
		    sip_t const *sip, tagi_t tags[]);
/* Subscribe for a user that has bindings, end the subscription of one that has none
 * (cfg.reg_event; no-op otherwise). */
void regevent_follow(struct sipua *s, const char *aor, bool known);

#endif
