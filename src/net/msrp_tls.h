/* MSRP over TLS in cpmd (RFC 4975 §14): the server context made from --tls-cert/--tls-key,
 * its certificate's fingerprint for a=fingerprint (RFC 4572), the --msrp-tls listener, and
 * the TLS reads and writes of a connection. Only src/net includes this file: a connection
 * with c->ssl == NULL (plain TCP) never enters this code. */
#ifndef CPMD_NET_MSRP_TLS_H
#define CPMD_NET_MSRP_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "net/msrp_transport.h"

struct hub_tls; /* owned by the hub */

/* Creates the context and the listener on cfg->tls_host:tls_port (cfg->tls_port set). 0, or
 * -errno with a reason in why. */
int hub_tls_start(struct msrp_hub *h, const struct msrp_hub_cfg *cfg, struct hub_tls **out, char *why, size_t whylen);
void hub_tls_stop(struct hub_tls *t);
uint16_t hub_tls_port(const struct hub_tls *t);
const char *hub_tls_fingerprint(const struct hub_tls *t);

/* A connection's TLS I/O, non-blocking, on the loop. recv: >0 bytes, 0 the peer closed, -1
 * with errno (EAGAIN: nothing now; sets c->tls_want_read/_write as the handshake needs).
 * write: bytes taken (>= 0), -1 with errno when the connection is broken. */
ssize_t conn_tls_recv(struct msrp_conn *c, void *buf, size_t cap);
ssize_t conn_tls_write(struct msrp_conn *c, const void *p, size_t n);
/* close_notify, best effort (the TCP FIN follows). */
/* Makes c the server side of a TLS connection (the handshake runs in the first reads). */
int conn_tls_accept(struct msrp_conn *c, struct ssl_ctx_st *ctx);
/* Makes c the client side (we connected to another PF: msrp_connect.c). The peer's certificate
 * must lead to a CA of --tls-ca (msrp_hub_cfg.tls_ca), name host (IP SAN for an address, DNS
 * name otherwise) and, when fingerprint is not NULL/"", match it (SDP a=fingerprint, sha-256);
 * we show our own certificate. The handshake runs in the first write. 0 or -errno. */
int conn_tls_connect(struct msrp_conn *c, struct hub_tls *tl, const char *host, const char *fingerprint);
void conn_tls_shutdown(struct msrp_conn *c);
void conn_tls_free(struct msrp_conn *c);

#endif
