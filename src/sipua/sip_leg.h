/* sip_leg — what the layers above sipua (pf) see of SIP: legs and messages, no sofia type.
 *
 * A leg is one SIP usage cpmd takes part in:
 *   - a SERVER leg: an INVITE or MESSAGE that reached us (sipua hands it to the handler
 *     installed with sipua_set_handlers); the handler answers it with sip_leg_respond();
 *   - a CLIENT leg: an INVITE or MESSAGE that we send (sip_leg_invite, sip_leg_message),
 *     usually through a fork (sipua/fork.h).
 * Events of a leg reach its OWNER through one callback (sip_leg_fn). A leg has exactly one
 * owner at a time; sip_leg_bind() changes it (the fork hands its winning leg to pf that way).
 *
 * A message (struct sip_msg) is a received request or response, readable only during the
 * callback that passed it; the accessors copy what they return into caller buffers or an
 * arena, with bounds, and every one of them treats the message as hostile.
 *
 * OWNERSHIP: sipua allocates legs. The owner calls sip_leg_release() when it is done with a
 * leg — normally after SIP_LEG_TERMINATED, or at shutdown; release is allowed from inside any
 * callback of that leg (it is then freed when the callback returns); no event reaches anyone
 * after release (e.g. a MESSAGE leg released during ANSWERED/FAILED gets no TERMINATED, and
 * its nua handle is destroyed at once). A leg that nobody owns
 * (never bound, e.g. a rejected INVITE, or unbound with sip_leg_bind(leg, NULL, NULL)) is
 * released by sipua itself at its TERMINATED. A server MESSAGE leg that its handler does not
 * bind is answered during the handler (500 when it was not) and released when the handler
 * returns. One the handler binds may be answered later: its transaction stays open until
 * sip_leg_respond (answer well within the sender's 32 s Timer F); it gets no event; its owner
 * releases it once answered (released unanswered, sipua answers 500 first).
 * sipua_destroy() frees every leg left.
 * THREADING: loop thread only. */
#ifndef CPMD_SIPUA_SIP_LEG_H
#define CPMD_SIPUA_SIP_LEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpm/arena.h"
#include "cpm/icsi.h" /* CPM_FT_ICSI_TAG, for contact_params and Accept-Contact */
#include "cpm/mime.h"
#include "cpm/str.h"

struct sipua;
struct sip_leg;
struct sip_msg;

/* ---------------------------------------------------------------- reading a message */

/* Bounds of what is copied out of a message (a longer value is an error, never cut). */
#define SIP_ADDR_URI_MAX 512
#define SIP_ADDR_PART_MAX 256
#define SIP_DISPLAY_MAX 128
#define SIP_DISPLAY_RAW_MAX 256

/* One address of a message, split for CPM. */
struct sip_addr {
	char uri[SIP_ADDR_URI_MAX];    /* the URI as sofia prints it ("sip:alice@example.com") */
	char user[SIP_ADDR_PART_MAX];  /* "" when the URI has no user part */
	char host[SIP_ADDR_PART_MAX];
	char display[SIP_DISPLAY_MAX]; /* display name without quotes, "" when none (cut at the bound:
	                                  it is only shown, never compared) */
	char display_raw[SIP_DISPLAY_RAW_MAX]; /* the display name exactly as received (quotes kept),
	                                  to carry it unchanged, e.g. a fork's From is
	                                  "DISPLAY_RAW <URI>"; "" when none or when longer than the
	                                  bound (then the address is carried without it) */
};

/* Response status (0 for a request) and reason phrase ("" when none). */
int sip_msg_status(const struct sip_msg *m);
const char *sip_msg_phrase(const struct sip_msg *m);
/* Method name of a request ("INVITE", "MESSAGE"...), "" for a response. */
const char *sip_msg_method(const struct sip_msg *m);
/* 0, -ENOENT when absent (or, for the Request-URI, no user or host), -E2BIG when a part is
 * longer than its field. */
int sip_msg_request_uri(const struct sip_msg *m, struct sip_addr *out);
int sip_msg_from(const struct sip_msg *m, struct sip_addr *out);
int sip_msg_to(const struct sip_msg *m, struct sip_addr *out);
/* The served identity of a request (who sends, whose items): in AS mode the first sip:/sips:
 * URI of P-Asserted-Identity when the request has one (with its display name) — only the
 * core reaches us there (sipua's trust check), and the core asserts it —, else From. In
 * standalone mode with auth on, the user@domain that the digest response proved (never From:
 * docs/security.md); without auth, From (a device could forge P-Asserted-Identity). Same return codes
 * as sip_msg_from. */
int sip_msg_identity(const struct sip_msg *m, struct sip_addr *out);
/* AS mode: the request came for the originating user (ISC originating session case): the
 * top Route, the one that brought it to us, carries the `orig` parameter (as a URI parameter
 * "<sip:as;lr;orig>" or a header parameter). Always false in standalone mode. */
bool sip_msg_is_orig(const struct sip_msg *m);
/* The Route entries after the top one (ours, that brought the request here), as one Route
 * header value ("<sip:core;lr;odi=x>, <sip:...>"), for sending an originating request back
 * to the core along the route it pre-loaded (struct sip_request.route). 0, -ENOENT when there
 * is none after ours, -E2BIG when it does not fit in cap (out is then ""). */
int sip_msg_route_after_us(const struct sip_msg *m, char *out, size_t cap);
#define SIP_ROUTE_ONWARD_MAX 1024 /* a cap for it: a few URIs of a core (longer: not carried) */
/* The request came over TCP (top Via). */
bool sip_msg_over_tcp(const struct sip_msg *m);
/* Value of the first extension header `name` (case-insensitive, e.g. "Cpm-Expires",
 * "Cpm-Item-Id"): 0, -ENOENT when absent, -E2BIG when longer than cap - 1 (never cut). */
int sip_msg_header(const struct sip_msg *m, const char *name, char *out, size_t cap);
/* The CPM headers carried unchanged from a sender's request (INVITE or MESSAGE) to the forks
 * (Conversation-ID, Contribution-ID, InReplyTo-Contribution-ID, Accept-Contact — default:
 * "*;" icsi_tag, the service's feature tag, e.g. CPM_FT_ICSI_TAG or CPM_MSG_ICSI_TAG; NULL:
 * the FT one —, P-Preferred-/P-Asserted-Service, Referred-By, Subject) as "Name: value\r\n"
 * lines, in a. NULL only when out of memory. */
char *sip_msg_carried_headers(const struct sip_msg *m, struct cpm_arena *a, const char *icsi_tag);
/* The SDP of the body: application/sdp, or the application/sdp part of multipart/mixed
 * (then parts[0..*nparts) are every part, slices into the message: copy what must outlive
 * the callback). Returns 0, or the SIP status to answer: 488 no SDP, 413 body too big,
 * 415 unsupported body type, 400 malformed multipart. */
int sip_msg_body_sdp(const struct sip_msg *m, struct cpm_arena *a, struct cpm_str *sdp, struct mime_part *parts,
		     size_t *nparts);
/* Content-Type "type/subtype" without parameters (slice, CPM_STR_NULL when absent) and the
 * raw body (CPM_STR_NULL when none). */
struct cpm_str sip_msg_content_type(const struct sip_msg *m);
struct cpm_str sip_msg_body(const struct sip_msg *m);

/* "user@host" key (host lower-cased, location_aor_key) of a URI string such as a stored
 * sender "sip:alice@Example.com;x=y" (what pf did with sofia's url_make). 0, or -1 when it
 * has no user or no host (any scheme, as before) or the key does not fit in cap (out is
 * then ""). */
int sip_uri_aor_key(const char *uri, char *out, size_t cap);

/* ---------------------------------------------------------------- legs */

enum sip_leg_event {
	SIP_LEG_PROGRESS,   /* client leg: a provisional response (sip_msg_status() says which) */
	SIP_LEG_ANSWERED,   /* client leg: a 2xx (INVITE: already ACKed by the stack) */
	SIP_LEG_FAILED,     /* client leg: a final response >= 300, or a local failure (408/500/503
	                       or 9xx generated by the stack: m then carries only status and phrase) */
	SIP_LEG_REINVITE,   /* an in-dialog INVITE (either kind of INVITE leg): the owner answers it
	                       with sip_leg_respond() during the callback; unanswered (or unbound
	                       leg), sipua answers 488 "Re-INVITE Not Supported" when it returns */
	SIP_LEG_BYE,        /* the peer sent BYE (the stack answered 200); TERMINATED follows */
	SIP_LEG_TERMINATED, /* the INVITE dialog is over (or a client MESSAGE got its final answer,
	                       after ANSWERED/FAILED). No event follows; release the leg. m is NULL. */
};
const char *sip_leg_event_name(enum sip_leg_event ev);

/* m is NULL for TERMINATED only. For PROGRESS/ANSWERED/FAILED, sip_msg_status() and
 * sip_msg_phrase() always work; the other accessors find nothing in a local failure. */
typedef void sip_leg_fn(void *owner, struct sip_leg *leg, enum sip_leg_event ev, const struct sip_msg *m);

/* Binds the leg to a new owner (fn NULL: unbound; sipua then releases it when its call ends). */
void sip_leg_bind(struct sip_leg *leg, sip_leg_fn *fn, void *owner);

/* A body to send: content type (with its parameters) and bytes (not NUL-terminated). */
struct sip_body {
	const char *content_type;
	const char *data;
	size_t len;
};

struct sip_respond_opts {
	const struct sip_body *body; /* NULL: no body */
	const char *headers;         /* extra "Name: value\r\n" lines, or NULL */
	const char *warning;         /* Warning header value, or NULL/"" */
	const char *retry_after;     /* Retry-After value, or NULL */
	bool contact;                /* add our Contact (sipua_config.contact_params; transport of
	                                the leg) — for a 2xx that creates a dialog */
};

/* Answers a server leg's request (the first INVITE, or a MESSAGE: during the handler or, once
 * bound, later), or a
 * re-INVITE during SIP_LEG_REINVITE (server or client INVITE leg). A provisional status
 * (101-199) may come before the final one. phrase NULL: the standard reason phrase of the
 * status (sofia's, as on the wire today). Everything passed is copied before returning.
 * 0, or a negative errno: -EALREADY a final answer was already given, -ENOTCONN the leg is
 * terminated (e.g. the caller CANCELled), -EINVAL nothing to answer or a bad status,
 * -ESHUTDOWN the SIP stack has stopped (sipua_shutdown completed). */
int sip_leg_respond(struct sip_leg *leg, int status, const char *phrase, const struct sip_respond_opts *o);

/* Where a client request goes: the device's registered Contact is the Request-URI, and it is
 * sent through the flow the device registered on (sofia finds the open connection). */
struct sip_target {
	const char *contact; /* Request-URI */
	const char *flow;    /* outbound proxy "sip:ip:port;transport=tcp|udp", or NULL */
	bool tcp;            /* the flow is TCP (chooses our Contact) */
};

struct sip_request {
	const char *to;      /* To header value, e.g. "<sip:bob@example.com>" */
	const char *from;    /* From header value, e.g. "\"Alice\" <sip:alice@example.com>" */
	const struct sip_body *body;
	const char *headers; /* extra "Name: value\r\n" lines, or NULL */
	const char *route;   /* a pre-loaded route set (a Route header value, e.g. from
	                        sip_msg_route_after_us), or NULL: the request goes to its first
	                        entry, with these Route headers on the wire */
};

/* Sends an INVITE (our Contact added, by t->tcp) / a MESSAGE (no Contact, as today). On
 * success *out is a leg owned by (fn, owner); events follow (never from inside this call).
 * On failure (< 0: -EINVAL, -ENOMEM, -ESHUTDOWN once sipua_shutdown() ran) nothing was sent
 * and no event will come. */
int sip_leg_invite(struct sipua *ua, const struct sip_request *rq, const struct sip_target *t, sip_leg_fn *fn,
		   void *owner, struct sip_leg **out);
int sip_leg_message(struct sipua *ua, const struct sip_request *rq, const struct sip_target *t, sip_leg_fn *fn,
		    void *owner, struct sip_leg **out);

/* CANCELs a client INVITE that has no final response. RFC 3261 §9.1: only after a
 * provisional response; before one, the CANCEL is remembered and sent at the first 1xx.
 * reason is a Reason header value (SIP_REASON_*). Returns true when the CANCEL went out now.
 * No effect on a leg that is answered, failed or terminated. */
bool sip_leg_cancel(struct sip_leg *leg, const char *reason);
/* Ends an established dialog with BYE (idempotent; nothing when terminated, or when no 2xx
 * was received (client leg) / sent (server leg)). */
void sip_leg_bye(struct sip_leg *leg);
/* The owner is done with the leg: unbound and freed (its dialog is dropped without a message
 * if it is still alive: use bye/cancel first). NULL is fine. */
void sip_leg_release(struct sip_leg *leg);

/* State, for the owner's decisions and logs. */
bool sip_leg_is_terminated(const struct sip_leg *leg);
bool sip_leg_over_tcp(const struct sip_leg *leg); /* server leg: the request came over TCP */
/* Final status of the leg's INVITE/MESSAGE: received (client leg) or sent (server leg); 0
 * while none. */
int sip_leg_final_status(const struct sip_leg *leg);

/* Reason header values (RFC 3326) cpmd puts on CANCELs. */
#define SIP_REASON_ELSEWHERE "SIP;cause=200;text=\"Call completed elsewhere\""
#define SIP_REASON_NO_ANSWER "SIP;cause=480;text=\"No answer\""
#define SIP_REASON_DECLINED "SIP;cause=603;text=\"Declined\""
#define SIP_REASON_CALLER_CANCEL "SIP;cause=487;text=\"Originator cancelled\""

#endif
