/* admin_tls — HTTPS and client certificates on the admin port (--admin-tls-cert/-key/-ca;
 * docs/internals/admin.md "TLS"). libmicrohttpd's own TLS (GnuTLS) does the handshake with
 * the PEM texts read here; with a client CA it asks every client for a certificate but does
 * not require one, so the request handler checks it (admin_tls_client_ok) and answers a JSON
 * 403 like the token's 401, instead of a handshake failure no client could read.
 *
 * THREADING: admin_tls_load/free run on cpmd's main thread before/after the HTTP thread;
 * admin_tls_client_ok runs on the HTTP thread (it only reads the connection's session). */
#ifndef CPMD_ADMIN_TLS_H
#define CPMD_ADMIN_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct MHD_Connection;

/* The files' PEM text, NUL-terminated as libmicrohttpd takes it; NULL: not given. */
struct admin_tls {
	char *cert, *key, *ca;
};

/* Reads the files (ca may be NULL or "") and checks them with GnuTLS: the certificate chain and
 * the key parse and match, the CA file holds at least one certificate. 0, or -1 with one log
 * line naming the option, the file and why (missing, unreadable, not PEM, key mismatch). */
int admin_tls_load(struct admin_tls *t, const char *cert_file, const char *key_file, const char *ca_file);
void admin_tls_free(struct admin_tls *t);

/* Did the client of conn show a certificate that chains to the client CA (and may be used
 * for TLS client authentication)? false with why (for the log line and the 403). */
bool admin_tls_client_ok(struct MHD_Connection *conn, char *why, size_t cap);

#endif
