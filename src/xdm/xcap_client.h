/* XCAP client (RFC 4825) of cpmd's XDM preferences: one conditional GET of one user's
 * document (docs/internals/xdm.md). libcurl underneath.
 *
 * THREADS: synchronous and blocking (a connection per call, bounded by the timeouts): call it
 * from a worker thread, never from the event loop. Thread-safe: no state is shared between
 * calls except libcurl's global initialisation, done once (pthread_once) on the first call.
 * OWNERSHIP: every buffer is the caller's; the configuration is only read, and may be shared
 * by threads that call at the same time. */
#ifndef CPM_XDM_XCAP_CLIENT_H
#define CPM_XDM_XCAP_CLIENT_H

#include <stddef.h>

#define XCAP_ETAG_MAX 127 /* an entity tag we keep (quotes included); a longer one is not kept */
#define XCAP_WHY_MAX 256  /* the reason of an XCAP_ERROR, for the log */
#define XCAP_URL_MAX 1023 /* root + AUID + users/ + encoded AOR + / + filename */
#define XCAP_AOR_MAX 255  /* as the location service's AOR (sipua/location.h) */

struct xcap_cfg {
	const char *root;      /* the XCAP root URI (RFC 4825 §6.1), http:// or https://, e.g.
	                          "http://xdms.example.com:8080/xcap-root"; a trailing '/' is ok */
	const char *auid;      /* NULL: PREFS_AUID (cpm/prefs_doc.h) */
	const char *filename;  /* NULL: PREFS_FILENAME */
	const char *ca_file;   /* https: the CA bundle (PEM) to verify the XDMS with; NULL: the
	                          system's. The peer and its host name are always verified. */
	const char *user;      /* XDMS credentials (basic or digest, what the server asks for);
	                          NULL: none */
	const char *password;
	unsigned connect_timeout_ms; /* 0: 2000 */
	unsigned timeout_ms;         /* the whole request; 0: 5000 */
};

enum xcap_result {
	XCAP_FETCHED = 0,      /* 200: the document in out[0..*len), its ETag in etag_out */
	XCAP_NOT_MODIFIED = 1, /* 304: the document of etag_in is still current */
	XCAP_NO_DOC = 2,       /* 404: the user has no document (no preferences: defaults) */
	XCAP_ERROR = -1,       /* anything else (unreachable, timeout, 401/403, 5xx, a body over
	                          cap, a bad configuration): transient, keep what was cached; why
	                          says what */
};
const char *xcap_result_name(enum xcap_result r);

/* GET <root>/<auid>/users/<aor>/<filename> (the AOR, the XUI, percent-encoded where a path
 * segment needs it), with If-None-Match: etag_in unless etag_in is NULL or "". The body is
 * written to out[0..cap) (not NUL-terminated; *len its length); a body over cap is an error,
 * never truncated. etag_out[XCAP_ETAG_MAX + 1] gets the ETag of a 200 ("" if the server sent
 * none or one that does not fit) and is "" otherwise; why[XCAP_WHY_MAX] gets "" or the reason
 * of an error. No redirects are followed; only http and https. */
enum xcap_result xcap_fetch(const struct xcap_cfg *cfg, const char *aor, const char *etag_in,
			    char *out, size_t cap, size_t *len, char *etag_out, char *why);

/* The document's URL into url[size]: 0, or -1 (an AOR that is empty, over XCAP_AOR_MAX or has
 * a control character, or a URL over size). Used by xcap_fetch; exported for tests and logs. */
int xcap_doc_url(const struct xcap_cfg *cfg, const char *aor, char *url, size_t size);

#endif
