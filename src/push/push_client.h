/* The push gateway client of cpmd's wake-up of sleeping devices (issue 13 §6,
 * docs/internals/push.md): the JSON body of one wake-up and its HTTP POST. libcurl underneath.
 *
 * THREADS: push_post is synchronous and blocking (bounded by its timeouts): call it from a
 * worker thread (net/workq.h), never from the event loop. Thread-safe: no shared state (the
 * lazy curl_global_init of curl_easy_init is thread-safe since libcurl 7.84; Debian 12 has
 * 7.88). push_body is pure.
 * OWNERSHIP: every buffer is the caller's. */
#ifndef CPM_PUSH_PUSH_CLIENT_H
#define CPM_PUSH_PUSH_CLIENT_H

#include <stddef.h>

#define PUSH_WHY_MAX 256
#define PUSH_BODY_MAX 2048

/* What one wake-up says (every field a NUL-terminated string; param may be ""). */
struct push_wake {
	const char *aor;      /* the user the item waits for: "bob@example.com" */
	const char *provider; /* RFC 8599 pn-provider, pn-prid, pn-param as the device registered them */
	const char *prid;
	const char *param;
	const char *item;     /* cpmd's id of the waiting item */
	const char *kind;     /* "file" or "message" */
	const char *from;     /* its sender's AOR */
};

/* {"aor":..,"pn-provider":..,"pn-prid":..,"pn-param":..,"item":..,"kind":..,"from":..} into
 * out (JSON strings escaped: '"', '\\', control characters as \u00XX). Returns its length, or
 * -1 when cap is too small. */
int push_body(const struct push_wake *w, char *out, size_t cap);

/* POSTs body (application/json) to url (http:// or https://, the peer verified; no
 * redirects), at most timeout_ms in all. Returns the HTTP status, or -1 with why filled
 * (unreachable, timeout). */
int push_post(const char *url, const char *body, unsigned timeout_ms, char *why, size_t why_cap);

#endif
