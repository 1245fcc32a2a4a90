/* MSRP over TLS in cpmd (msrp_tls.h): OpenSSL, non-blocking, on the loop. The handshake is not
 * a separate state: SSL_read/SSL_write run it (SSL_set_accept_state, or SSL_set_connect_state
 * when we connect to another PF), so a TLS connection goes through the same reads, parser and
 * send queue as a plain one. */
#include "net/msrp_tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "cpm/limits.h"

/* After EMFILE/ENFILE the TLS listener pauses this long, as the plain one (msrp_hub.c). */
#define TLS_ACCEPT_PAUSE_MS 1000
/* One SSL_write takes at most this much: a TLS record is 16 KiB, and a bigger write only
 * makes OpenSSL hold more of our queue in its own buffer. */
#define TLS_WRITE_MAX (64 * 1024)

struct hub_tls {
	struct msrp_hub *hub;
	SSL_CTX *ctx;
	SSL_CTX *cctx; /* client side, toward another domain's PF (conn_tls_connect) */
	int lfd, lidx;
	uint16_t port;
	su_timer_t *resume;
	char fingerprint[SDP_MAX_FINGERPRINT + 1];
};

static void ssl_why(char *why, size_t whylen, const char *what, const char *file)
{
	unsigned long e = ERR_get_error();
	char buf[200] = "";
	if (e)
		ERR_error_string_n(e, buf, sizeof buf);
	snprintf(why, whylen, "%s %s%s%s", what, file ? file : "", buf[0] ? ": " : "", buf);
	ERR_clear_error();
}

/* "sha-256 AB:CD:..." of the certificate (RFC 4572 §5: uppercase hex pairs). */
static int fingerprint_of(X509 *cert, char *out, size_t cap)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!cert || !X509_digest(cert, EVP_sha256(), md, &n) || cap < 8 + 3 * (size_t)n)
		return -1;
	size_t o = (size_t)snprintf(out, cap, "sha-256 ");
	for (unsigned i = 0; i < n; i++)
		o += (size_t)snprintf(out + o, cap - o, "%s%02X", i ? ":" : "", md[i]);
	return 0;
}

static int tls_accept_cb(su_root_magic_t *m, su_wait_t *w, su_wakeup_arg_t *arg);

/* Client side: OpenSSL has checked the chain (and the name, set per connection); at depth 0
 * the certificate must also be the one the peer's SDP named (RFC 4572), when it named one.
 * Failing here fails the handshake, so no MSRP byte reaches a peer we do not trust. */
static int client_verify_cb(int ok, X509_STORE_CTX *x)
{
	if (!ok || X509_STORE_CTX_get_error_depth(x) != 0)
		return ok;
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct msrp_conn *c = ssl ? SSL_get_app_data(ssl) : NULL;
	char got[SDP_MAX_FINGERPRINT + 1] = "";
	if (!c || !c->tls_peer_fp[0])
		return 1;
	/* RFC 4572: the hash name and the hex digits compare case-insensitively; we compute
	 * sha-256 only (what cpmd and cpm write), so another hash name fails the check */
	if (fingerprint_of(X509_STORE_CTX_get_current_cert(x), got, sizeof got) ||
	    strcasecmp(got, c->tls_peer_fp) != 0) {
		msrp_log("%s: TLS: the peer's certificate (%s) is not the SDP a=fingerprint (%s)", c->peer, got,
			 c->tls_peer_fp);
		X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	return 1;
}

/* The client context: trust = ca (or our own certificate), and our certificate and key shown
 * to a peer that asks for one. */
static SSL_CTX *client_ctx(const struct msrp_hub_cfg *cfg, char *why, size_t whylen)
{
	const char *ca = cfg->tls_ca ? cfg->tls_ca : cfg->tls_cert;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		ssl_why(why, whylen, "SSL_CTX_new", NULL);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, client_verify_cb);
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		ssl_why(why, whylen, "cannot load the CAs of", ca);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1) {
		ssl_why(why, whylen, "cannot use the certificate or key (client side)", cfg->tls_cert);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static void tls_resume_cb(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	struct hub_tls *tl = (struct hub_tls *)arg;
	(void)m, (void)t;
	su_root_eventmask(hub_root(tl->hub), tl->lidx, tl->lfd, SU_WAIT_ACCEPT);
}

int hub_tls_start(struct msrp_hub *h, const struct msrp_hub_cfg *cfg, struct hub_tls **out, char *why, size_t whylen)
{
	struct hub_tls *tl = calloc(1, sizeof *tl);
	*out = NULL;
	if (!tl || !cfg->tls_host || !cfg->tls_cert || !cfg->tls_key) {
		free(tl);
		snprintf(why, whylen, "needs an address, a certificate and a key");
		return -EINVAL;
	}
	tl->hub = h;
	tl->lfd = -1;
	tl->ctx = SSL_CTX_new(TLS_server_method());
	if (!tl->ctx) {
		ssl_why(why, whylen, "SSL_CTX_new", NULL);
		goto fail;
	}
	/* TLS 1.2 at least (RFC 7525 §3.1.1); partial writes and a moving buffer: our send queue
	 * is a ring that may grow (realloc) between two tries of the same bytes */
	SSL_CTX_set_min_proto_version(tl->ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(tl->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
					  SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(tl->ctx, cfg->tls_cert) != 1) {
		ssl_why(why, whylen, "cannot use the certificate", cfg->tls_cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(tl->ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(tl->ctx) != 1) {
		ssl_why(why, whylen, "cannot use the key (or it does not match the certificate)", cfg->tls_key);
		goto fail;
	}
	if (cfg->tls_verify_clients) {
		/* mutual TLS (--tls-verify-clients): a client shows a certificate chained to
		 * --tls-ca or its handshake fails; the CA names are sent so that a client with
		 * several certificates picks the right one */
		STACK_OF(X509_NAME) *names = cfg->tls_ca ? SSL_load_client_CA_file(cfg->tls_ca) : NULL;
		if (!names || SSL_CTX_load_verify_locations(tl->ctx, cfg->tls_ca, NULL) != 1) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			ssl_why(why, whylen, "cannot load the client CAs of", cfg->tls_ca);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(tl->ctx, names);
		SSL_CTX_set_verify(tl->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		/* a resumed session must have been verified by this context: OpenSSL refuses to
		 * resume one without a session id context when it verifies peers */
		SSL_CTX_set_session_id_context(tl->ctx, (const unsigned char *)"cpmd-msrp", 9);
	}
	if (fingerprint_of(SSL_CTX_get0_certificate(tl->ctx), tl->fingerprint, sizeof tl->fingerprint)) {
		snprintf(why, whylen, "cannot compute the certificate's fingerprint");
		goto fail;
	}
	if (!(tl->cctx = client_ctx(cfg, why, whylen)))
		goto fail;
	tl->port = cfg->tls_port;
	int rc = hub_listen_on(cfg->tls_host, &tl->port, &tl->lfd);
	if (rc) {
		snprintf(why, whylen, "cannot listen on %s:%u: %s", cfg->tls_host, cfg->tls_port, strerror(-rc));
		goto fail;
	}
	su_wait_t w;
	tl->resume = su_timer_create(su_root_task(hub_root(h)), TLS_ACCEPT_PAUSE_MS);
	if (!tl->resume || su_wait_create(&w, tl->lfd, SU_WAIT_ACCEPT)) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	tl->lidx = su_root_register(hub_root(h), &w, tls_accept_cb, tl, 0);
	if (tl->lidx <= 0) {
		su_wait_destroy(&w);
		snprintf(why, whylen, "cannot watch the listener");
		goto fail;
	}
	msrp_log("listening for TLS on %s:%u (certificate %s)%s%s", cfg->tls_host, tl->port, tl->fingerprint,
		 cfg->tls_verify_clients ? "; clients need a certificate of " : "",
		 cfg->tls_verify_clients ? cfg->tls_ca : "");
	*out = tl;
	return 0;
fail:
	hub_tls_stop(tl);
	return -EINVAL;
}

void hub_tls_stop(struct hub_tls *tl)
{
	if (!tl)
		return;
	if (tl->lidx > 0)
		su_root_deregister(hub_root(tl->hub), tl->lidx);
	if (tl->lfd >= 0)
		close(tl->lfd);
	if (tl->resume)
		su_timer_destroy(tl->resume);
	SSL_CTX_free(tl->ctx);
	SSL_CTX_free(tl->cctx);
	free(tl);
}

uint16_t hub_tls_port(const struct hub_tls *tl) { return tl->port; }
const char *hub_tls_fingerprint(const struct hub_tls *tl) { return tl->fingerprint; }

static int tls_accept_cb(su_root_magic_t *m, su_wait_t *w, su_wakeup_arg_t *arg)
{
	struct hub_tls *tl = (struct hub_tls *)arg;
	(void)m, (void)w;
	hub_enter(tl->hub);
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		int fd = accept4(tl->lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			hub_accept_one(tl->hub, fd, &ss, tl->ctx);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			msrp_log("accept (TLS): %s; pausing the listener for %d ms", strerror(errno), TLS_ACCEPT_PAUSE_MS);
			su_root_eventmask(hub_root(tl->hub), tl->lidx, tl->lfd, 0);
			su_timer_set(tl->resume, tls_resume_cb, tl);
		}
		break;
	}
	hub_leave(tl->hub);
	return 0;
}

int conn_tls_accept(struct msrp_conn *c, SSL_CTX *ctx)
{
	SSL *ssl = SSL_new(ctx);
	if (!ssl || SSL_set_fd(ssl, c->fd) != 1) {
		SSL_free(ssl);
		return -ENOMEM;
	}
	SSL_set_accept_state(ssl);
	c->ssl = ssl;
	return 0;
}

int conn_tls_connect(struct msrp_conn *c, struct hub_tls *tl, const char *host, const char *fingerprint)
{
	SSL *ssl = SSL_new(tl->cctx);
	if (!ssl || SSL_set_fd(ssl, c->fd) != 1) {
		SSL_free(ssl);
		return -ENOMEM;
	}
	/* the name the certificate must carry: the a=path host (an IP SAN for an address, as
	 * cpm checks cpmd's: src/client/mconn.c), else a DNS name (and SNI) */
	X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
	if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1) {
		ERR_clear_error();
		if (SSL_set1_host(ssl, host) != 1 || SSL_set_tlsext_host_name(ssl, host) != 1) {
			SSL_free(ssl);
			ERR_clear_error();
			return -EINVAL;
		}
	}
	snprintf(c->tls_peer_fp, sizeof c->tls_peer_fp, "%s", fingerprint ? fingerprint : "");
	SSL_set_app_data(ssl, c);
	SSL_set_connect_state(ssl);
	c->ssl = ssl;
	return 0;
}

/* Maps an SSL error to errno; EAGAIN with the direction the handshake waits for. */
static int tls_errno(struct msrp_conn *c, int ret, bool writing)
{
	int e = SSL_get_error(c->ssl, ret);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		if (writing) /* a write that waits for the peer's handshake bytes */
			c->tls_want_read = true;
		return EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		return EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		return errno ? errno : ECONNRESET;
	default: {
		/* a failed handshake or a bad record: say why once, as the peer is the cause */
		char buf[200] = "";
		ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
		ERR_clear_error();
		long vr = SSL_get_verify_result(c->ssl);
		if (SSL_is_server(c->ssl) && !SSL_is_init_finished(c->ssl) &&
		    (SSL_get_verify_mode(c->ssl) & SSL_VERIFY_FAIL_IF_NO_PEER_CERT) &&
		    (vr != X509_V_OK || !SSL_get0_peer_certificate(c->ssl))) {
			/* --tls-verify-clients: name the client certificate as the cause, once.
			 * OpenSSL drops a certificate that failed verification: the verify result
			 * first, then "none". (An accepted certificate whose connection then ends,
			 * e.g. a client closing without close_notify, is no refusal: below.) */
			const char *cause = vr != X509_V_OK ? X509_verify_cert_error_string(vr) : "none shown";
			msrp_log("%s: TLS handshake refused: client certificate: %s (%s)", c->peer, cause, buf);
		} else if (!SSL_is_server(c->ssl) && vr != X509_V_OK) {
			msrp_log("%s: TLS: the peer's certificate is not trusted (%s): %s", c->peer,
				 X509_verify_cert_error_string(vr), buf);
		} else {
			msrp_log("%s: TLS: %s", c->peer, buf);
		}
		return EPROTO;
	}
	}
}

ssize_t conn_tls_recv(struct msrp_conn *c, void *buf, size_t cap)
{
	if (cap > INT32_MAX)
		cap = INT32_MAX;
	errno = 0;
	int n = SSL_read(c->ssl, buf, (int)cap);
	if (n > 0)
		return n;
	int e = tls_errno(c, n, false);
	if (e == 0)
		return 0;
	errno = e;
	return -1;
}

ssize_t conn_tls_write(struct msrp_conn *c, const void *p, size_t n)
{
	if (n > TLS_WRITE_MAX)
		n = TLS_WRITE_MAX;
	if (!n)
		return 0;
	errno = 0;
	c->tls_want_read = false;
	int w = SSL_write(c->ssl, p, (int)n);
	if (w > 0)
		return w;
	int e = tls_errno(c, w, true);
	if (e == EAGAIN)
		return 0;
	errno = e ? e : EPIPE;
	return -1;
}

void conn_tls_shutdown(struct msrp_conn *c)
{
	if (c->ssl && SSL_is_init_finished(c->ssl))
		SSL_shutdown(c->ssl);
	ERR_clear_error();
}

void conn_tls_free(struct msrp_conn *c)
{
	SSL_free(c->ssl);
	c->ssl = NULL;
}
