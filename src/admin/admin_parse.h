/* admin_parse — what the admin API reads from a request, as pure functions (no HTTP server,
 * no pf, no store): the route of a URL path, the query parameters, the JSON bodies. Everything
 * here is untrusted input from the network, bounded, and fuzzed (fuzz/fuzz_admin_parse.c). */
#ifndef CPMD_ADMIN_ADMIN_PARSE_H
#define CPMD_ADMIN_ADMIN_PARSE_H

#include <stddef.h>
#include <stdint.h>

enum admin_route {
	AR_NONE = 0,  /* no such resource: 404 */
	AR_HEALTH,    /* /api/v1/health */
	AR_READY,     /* /api/v1/ready */
	AR_METRICS,   /* /metrics */
	AR_USERS,     /* /api/v1/users */
	AR_USER,      /* /api/v1/users/{aor} */
	AR_DEFERRED,  /* /api/v1/deferred */
	AR_ITEM,      /* /api/v1/deferred/{id} */
	AR_RETRY,     /* /api/v1/deferred/{id}/retry */
	AR_TRANSFERS, /* /api/v1/transfers */
	AR_TRANSFER,  /* /api/v1/transfers/{id} */
	AR_SESSIONS,  /* /api/v1/sessions */
};

/* Methods, as bits (the routes' allowed sets; 405 with Allow otherwise). */
enum { AM_GET = 1, AM_POST = 2, AM_DELETE = 4, AM_PATCH = 8, AM_HEAD = 16 };

#define ADMIN_ARG_MAX 256 /* an id (32) or an AOR (STORE_AOR_MAX) */
struct admin_path {
	enum admin_route route;
	char arg[ADMIN_ARG_MAX + 1]; /* {id} or {aor}, "" when the route has none */
};

/* The route of a (decoded) URL path; AR_NONE when none matches or the argument is empty, too
 * long or holds a '/' or a control character. */
void admin_route_parse(const char *path, struct admin_path *out);
/* The methods a route allows (0 for AR_NONE) and its Allow header value. */
unsigned admin_route_methods(enum admin_route r);
const char *admin_route_allow(enum admin_route r);
/* A method name to its bit; 0 when unknown. */
unsigned admin_method_bit(const char *method);

/* ?limit=: 1..max (NULL or "" → def). 0, or -1 (the caller answers 400). */
int admin_parse_limit(const char *s, unsigned def, unsigned max, unsigned *out);
/* An AOR of a filter or a path, as the store keeps it: a recipient as "user@host", a sender
 * as "sip:user@host" (sender_uri). Accepts "user@host", "sip:user@host", "sips:user@host".
 * 0, or -1 (empty, too long, no '@', spaces or control characters). */
int admin_parse_aor(const char *s, int sender_uri, char *out, size_t cap);
/* A body of PATCH /api/v1/deferred/{id}: exactly {"expires": UNIX-SECONDS} (1 .. 2^40).
 * 0, or -1 with why (a short reason for the 400). */
int admin_parse_expiry(const char *body, size_t len, int64_t *expires_s, char *why, size_t cap);
/* Constant-time comparison of a presented bearer token (the Authorization header value,
 * "Bearer T") with the configured one: 1 when they match. */
int admin_token_ok(const char *authorization, const char *token);

#endif
