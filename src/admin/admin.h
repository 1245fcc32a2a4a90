/* admin — cpmd's operator interface over HTTP (docs/internals/admin.md): a JSON API on the
 * deferred queue, users, live transfers and sessions, health, and Prometheus metrics at
 * /metrics. libmicrohttpd serves it on its own thread, jansson writes and reads the JSON.
 *
 * THREADING: the HTTP thread never touches pf or the store's loop-side objects: listings read
 * the store through a read-only connection of its own (store/store_reader.h), everything else
 * is a call the loop runs (net/loop_call.h, pf/pf_admin.h) and answers.
 * OWNERSHIP: cpmd's main starts it after pf, closes it before pf goes (admin_close: the HTTP
 * thread is stopped, calls waiting for the loop are answered), destroys it after the store. */
#ifndef CPMD_ADMIN_ADMIN_H
#define CPMD_ADMIN_ADMIN_H

#include <stdint.h>

struct loop;
struct pf;
struct admin;
struct admin_static;

struct admin_config {
	const char *host;     /* listen address (IPv4 or IPv6 literal) */
	uint16_t port;
	const char *token;    /* bearer token every request must carry ("" or NULL: none) */
	/* HTTPS (admin_tls.h): PEM files read at start, never again ("" or NULL: plain HTTP); with
	 * tls_ca, every request needs a client certificate chained to it (403 otherwise) */
	const char *tls_cert, *tls_key, *tls_ca;
	const char *data_dir; /* the store's (the read-only connection) */
	const struct admin_static *console; /* the operator console's files at / (admin_static.h), NULL: none */
};

/* Listens and serves. A non-loopback host with neither a token nor a client CA is refused
 * (-EPERM); TLS files that cannot be read or used are refused (-EINVAL). 0 or -errno. */
int admin_start(struct admin **out, const struct admin_config *cfg, struct loop *loop, struct pf *pf);
void admin_close(struct admin *a);   /* loop thread, before pf_destroy; NULL is fine */
void admin_destroy(struct admin *a); /* loop thread, after store_close; NULL is fine */

#endif
