/* One MSRP connection over the su_root loop: see mconn.h. */
#include "mconn.h"

#include "cpm/limits.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* Receive buffer: the parser never needs more than MSRP_MAX_HEADER_BYTES of
 * unconsumed input; the rest (rextra) is room for one read of body bytes. */
#define MCONN_RMIN (2 * MSRP_MAX_HEADER_BYTES)
/* Stop reading while less than this is free in the write queue: every
 * request we read may need a response. */
#define MCONN_READ_RESERVE 4096
/* Reads per wakeup, so that one busy connection does not starve the others. */
#define MCONN_READS_PER_WAKEUP 8
/* File ranges queued by mconn_write_file() and not yet sent (a sender pipelines a window of
 * chunks: CPM_WINDOW_BYTES / the chunk size of them at most, more only wait for room). */
#define MCONN_FSEG_MAX 32

/* A file range to send with sendfile() once every queue byte written before it has left. */
struct mconn_fseg {
	uint64_t at; /* c->wq_in when it was queued: the queue bytes that go first */
	int fd;
	uint64_t off;
	size_t len;
};

struct mconn {
	su_root_t *root;
	int fd;
	su_wait_t wait;
	int index;
	int events;
	bool connected;
	bool dead;
	bool verbose;
	int depth; /* > 0 while inside a callback of ours */
	bool held; /* mconn_hold(): no reading, no parsing until released */
	size_t read_reserve;
	const struct mconn_ops *ops;
	void *arg;
	char *rbuf;
	size_t rcap, rlen;
	char *wbuf;
	size_t wcap, whead, wlen;
	uint64_t wq_in, wq_out; /* queue bytes ever appended / ever sent: orders them and fsegs */
	struct mconn_fseg fseg[MCONN_FSEG_MAX]; /* ring of file ranges (plain TCP only) */
	unsigned fseg_head, fseg_n;
	size_t fseg_bytes; /* their total, counted in mconn_wpending() */
	struct msrp_parser parser;
	SSL *ssl;               /* msrps: TLS over fd, or NULL */
	bool tls_done;          /* handshake finished and the certificate checked */
	bool tls_want_read;     /* the handshake (or a write) waits for the server */
	char fingerprint[SDP_MAX_FINGERPRINT + 1]; /* a=fingerprint to match, or "" */
};

static void mconn_free(struct mconn *c)
{
	SSL_free(c->ssl);
	free(c->rbuf);
	free(c->wbuf);
	free(c);
}

static void mconn_drop_socket(struct mconn *c)
{
	if (c->index > 0)
		su_root_deregister(c->root, c->index);
	c->index = 0;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Error seen by the loop: close and tell the owner. Runs inside
 * mconn_wakeup only (depth > 0), so the memory stays valid until it returns. */
static void mconn_fail(struct mconn *c, const char *reason)
{
	if (c->dead)
		return;
	c->dead = true;
	mconn_drop_socket(c);
	c->depth++;
	c->ops->on_close(c->arg, reason);
	c->depth--;
	/* only ever called from inside mconn_wakeup, which frees us on the way out */
}

static void mconn_update_mask(struct mconn *c)
{
	if (c->dead || c->index <= 0)
		return;
	int want;
	if (!c->connected) {
		want = SU_WAIT_CONNECT;
	} else {
		want = 0;
		if (c->wcap - c->wlen >= c->read_reserve && !c->held)
			want |= SU_WAIT_IN;
		if ((c->wlen > 0 || c->fseg_n > 0) && !(c->ssl && c->tls_want_read))
			want |= SU_WAIT_OUT;
	}
	if (want != c->events) {
		su_root_eventmask(c->root, c->index, c->fd, want);
		c->events = want;
	}
}

static void mconn_parse(struct mconn *c)
{
	size_t off = 0;
	while (!c->dead && !c->held) {
		struct msrp_event ev;
		size_t consumed = 0;
		memset(&ev, 0, sizeof ev);
		enum msrp_ev t = msrp_parse(&c->parser, c->rbuf + off, c->rlen - off, &consumed, &ev);
		if (consumed > c->rlen - off)
			consumed = c->rlen - off; /* never trust a count blindly */
		off += consumed;
		if (t == MSRP_EV_NEED_MORE)
			break;
		c->ops->on_event(c->arg, &ev);
		if (c->dead)
			return;
		if (t == MSRP_EV_ERROR && ev.fatal) {
			char why[96];
			snprintf(why, sizeof why, "stream unreadable (%s)", msrp_strerror(ev.error));
			mconn_fail(c, why);
			return;
		}
	}
	if (c->dead)
		return;
	if (off > 0) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
	if (c->rlen == c->rcap && !c->held)
		mconn_fail(c, "message head too big");
}

/* recv() or SSL_read(): > 0 bytes, 0 closed, -1 with errno (EAGAIN: later; EPROTO: TLS). */
static ssize_t mconn_recv(struct mconn *c, void *buf, size_t cap)
{
	if (!c->ssl)
		return recv(c->fd, buf, cap, 0);
	int n = SSL_read(c->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
	if (n > 0)
		return n;
	int e = SSL_get_error(c->ssl, n);
	ERR_clear_error();
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN
		: e == SSL_ERROR_SYSCALL && errno                      ? errno
									: EPROTO;
	return e == SSL_ERROR_SYSCALL && errno == 0 ? 0 : -1;
}

static ssize_t mconn_send(struct mconn *c, const void *p, size_t n)
{
	if (!c->ssl)
		return send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	int w = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
	if (w > 0)
		return w;
	int e = SSL_get_error(c->ssl, w);
	ERR_clear_error();
	c->tls_want_read = e == SSL_ERROR_WANT_READ;
	errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : e == SSL_ERROR_SYSCALL && errno ? errno : EPIPE;
	return -1;
}

static void mconn_read(struct mconn *c)
{
	for (int i = 0; i < MCONN_READS_PER_WAKEUP && !c->dead; i++) {
		if (c->held)
			return; /* the owner cannot take more now (mconn_hold) */
		if (c->wcap - c->wlen < c->read_reserve)
			return; /* back-pressure: the peer must read first */
		ssize_t n = mconn_recv(c, c->rbuf + c->rlen, c->rcap - c->rlen);
		if (n > 0) {
			c->rlen += (size_t)n;
			mconn_parse(c);
			continue;
		}
		if (n == 0) {
			mconn_fail(c, "connection closed by peer");
			return;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (c->ops->on_drained && !c->held)
				c->ops->on_drained(c->arg);
			return;
		}
		if (errno == EINTR)
			continue;
		mconn_fail(c, strerror(errno));
		return;
	}
}

/* Send the head file range: > 0 bytes sent, 0 when the socket is full, -1 after mconn_fail. */
static ssize_t mconn_send_fseg(struct mconn *c)
{
	struct mconn_fseg *f = &c->fseg[c->fseg_head];
	off_t off = (off_t)f->off;
	ssize_t n = sendfile(c->fd, f->fd, &off, f->len);
	if (n > 0) {
		f->off += (uint64_t)n;
		f->len -= (size_t)n;
		c->fseg_bytes -= (size_t)n;
		if (f->len == 0) {
			c->fseg_head = (c->fseg_head + 1) % MCONN_FSEG_MAX;
			c->fseg_n--;
		}
		return n;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	/* 0: the file ended before the range did (it shrank since it was hashed) */
	mconn_fail(c, n == 0 ? "file shrank while sending" : strerror(errno));
	return -1;
}

/* Write queue bytes and file ranges in the order they were queued, until the socket is full. */
static void mconn_flush(struct mconn *c)
{
	while (!c->dead && c->connected && (c->wlen > 0 || c->fseg_n > 0)) {
		size_t n_q = c->wlen;
		int flags = MSG_NOSIGNAL | MSG_DONTWAIT;
		if (c->fseg_n > 0) {
			uint64_t first = c->fseg[c->fseg_head].at - c->wq_out;
			if (first == 0) {
				ssize_t r = mconn_send_fseg(c);
				if (r < 0)
					return;
				if (r == 0)
					break;
				continue;
			}
			n_q = (size_t)first; /* <= wlen: at was taken from wq_in */
			flags |= MSG_MORE;   /* a chunk's head: its body follows at once */
		}
		ssize_t n = c->ssl ? mconn_send(c, c->wbuf + c->whead, n_q)
				   : send(c->fd, c->wbuf + c->whead, n_q, flags);
		if (n > 0) {
			c->whead += (size_t)n;
			c->wlen -= (size_t)n;
			c->wq_out += (uint64_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		mconn_fail(c, n < 0 ? strerror(errno) : "send failed");
		return;
	}
	if (c->wlen == 0)
		c->whead = 0;
	mconn_update_mask(c);
}

static void mconn_write_ready(struct mconn *c)
{
	/* Write, let the owner refill, write again, until the socket is full
	 * or the owner has nothing more. Bounded so that one connection does
	 * not hold the loop. */
	for (int i = 0; i < 16 && !c->dead; i++) {
		mconn_flush(c);
		if (c->dead || c->wlen > 0 || c->fseg_n > 0)
			break;
		c->ops->on_writable(c->arg);
		if (c->dead || (c->wlen == 0 && c->fseg_n == 0))
			break;
	}
	mconn_update_mask(c);
}

static void mconn_connected(struct mconn *c)
{
	mconn_update_mask(c);
	c->ops->on_connect(c->arg);
	if (!c->dead)
		mconn_write_ready(c);
}

/* "sha-256 AB:CD:..." of the server's certificate equals the SDP's (RFC 4572: the hash name
 * and the hex digits compare case-insensitively). Only sha-256 is computed: another hash
 * name fails the check. */
static bool fingerprint_matches(SSL *ssl, const char *want)
{
	X509 *cert = SSL_get1_peer_certificate(ssl);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char got[SDP_MAX_FINGERPRINT + 1];
	bool ok = cert && X509_digest(cert, EVP_sha256(), md, &n);
	X509_free(cert);
	if (!ok)
		return false;
	size_t o = (size_t)snprintf(got, sizeof got, "sha-256 ");
	for (unsigned i = 0; i < n && o + 3 < sizeof got; i++)
		o += (size_t)snprintf(got + o, sizeof got - o, "%s%02X", i ? ":" : "", md[i]);
	return strcasecmp(got, want) == 0;
}

/* Non-blocking SSL_connect; the certificate chain and name are checked by OpenSSL
 * (SSL_VERIFY_PEER: a bad one fails the handshake), the fingerprint here. */
static void mconn_handshake(struct mconn *c)
{
	ERR_clear_error();
	int r = SSL_connect(c->ssl);
	if (r == 1) {
		if (c->fingerprint[0] && !fingerprint_matches(c->ssl, c->fingerprint)) {
			mconn_fail(c, "TLS: the server's certificate does not match the SDP a=fingerprint");
			return;
		}
		c->tls_done = true;
		c->tls_want_read = false;
		mconn_connected(c);
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		int want = e == SSL_ERROR_WANT_READ ? SU_WAIT_IN : SU_WAIT_OUT;
		if (want != c->events) {
			su_root_eventmask(c->root, c->index, c->fd, want);
			c->events = want;
		}
		return;
	}
	char why[300];
	long vr = SSL_get_verify_result(c->ssl);
	if (vr != X509_V_OK)
		snprintf(why, sizeof why, "TLS: the server's certificate is not trusted: %s",
			 X509_verify_cert_error_string(vr));
	else
		snprintf(why, sizeof why, "TLS handshake failed: %s",
			 ERR_peek_error() ? ERR_reason_error_string(ERR_peek_error()) : "connection closed");
	ERR_clear_error();
	mconn_fail(c, why);
}

/* Loads the client certificate chain and its key into ctx. 0, or -1 with a reason in why. */
static int use_client_cert(SSL_CTX *ctx, const char *cert_file, const char *key_file, char *why, size_t whylen)
{
	const char *what = NULL;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
		what = cert_file;
	else if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
		 SSL_CTX_check_private_key(ctx) != 1)
		what = key_file;
	if (!what)
		return 0;
	unsigned long e = ERR_peek_error();
	snprintf(why, whylen, "TLS: cannot use the client %s %s%s%s", what == cert_file ? "certificate" : "key (or it "
		 "does not match the certificate)", what, e ? ": " : "", e ? ERR_reason_error_string(e) : "");
	ERR_clear_error();
	return -1;
}

int mconn_check_client_cert(const char *cert_file, const char *key_file, char *why, size_t whylen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		snprintf(why, whylen, "TLS: out of memory");
		return -1;
	}
	int rc = use_client_cert(ctx, cert_file, key_file, why, whylen);
	SSL_CTX_free(ctx);
	return rc;
}

int mconn_start_tls(struct mconn *c, const char *ca_file, const char *cert_file, const char *key_file,
		    const char *host, const char *fingerprint, char *why, size_t whylen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		snprintf(why, whylen, "TLS: out of memory");
		return -1;
	}
	if (cert_file && key_file && use_client_cert(ctx, cert_file, key_file, why, whylen)) {
		SSL_CTX_free(ctx);
		return -1;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* our write buffer may move (mconn_write compacts it) between two tries of a write */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		snprintf(why, whylen, "TLS: cannot load the CAs of %s", ca_file);
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return -1;
	}
	c->ssl = SSL_new(ctx);
	SSL_CTX_free(ctx); /* the SSL keeps its own reference */
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
		snprintf(why, whylen, "TLS: out of memory");
		return -1;
	}
	/* the name the certificate must carry: the a=path host (an IP address in practice) */
	X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
	if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1) {
		ERR_clear_error();
		SSL_set1_host(c->ssl, host);
		SSL_set_tlsext_host_name(c->ssl, host);
	}
	snprintf(c->fingerprint, sizeof c->fingerprint, "%s", fingerprint ? fingerprint : "");
	return 0;
}

static int mconn_wakeup(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg)
{
	(void)magic;
	struct mconn *c = arg;
	if (c->dead)
		return 0;
	int ev = su_wait_events(w, c->fd);
	c->depth++;
	if (!c->connected) {
		int err = 0;
		socklen_t len = sizeof err;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			char why[128];
			snprintf(why, sizeof why, "connect failed: %s", strerror(err));
			mconn_fail(c, why);
		} else if (ev & (SU_WAIT_CONNECT | SU_WAIT_ERR | SU_WAIT_HUP)) {
			c->connected = true;
			if (c->ssl)
				mconn_handshake(c);
			else
				mconn_connected(c);
		}
	} else if (c->ssl && !c->tls_done) {
		mconn_handshake(c);
	} else {
		if (ev & SU_WAIT_OUT)
			mconn_write_ready(c);
		if (!c->dead && (ev & (SU_WAIT_IN | SU_WAIT_HUP | SU_WAIT_ERR)))
			mconn_read(c);
		if (!c->dead && (c->wlen > 0 || c->fseg_n > 0))
			mconn_flush(c);
		/* TLS: OpenSSL may hold decrypted bytes the socket will not signal again */
		if (!c->dead && c->ssl && SSL_pending(c->ssl) > 0)
			mconn_read(c);
		mconn_update_mask(c);
	}
	c->depth--;
	if (c->dead && c->depth == 0)
		mconn_free(c);
	return 0;
}

int mconn_open(struct mconn **out, su_root_t *root, const char *host, uint16_t port, size_t wcap,
	       size_t rextra, const struct mconn_ops *ops, void *arg, bool verbose)
{
	*out = NULL;
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	char portstr[8];
	snprintf(portstr, sizeof portstr, "%u", (unsigned)port);
	/* a=path hosts are addresses in practice; a name costs one blocking lookup. */
	int rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0 || !res)
		return -EHOSTUNREACH;

	struct mconn *c = calloc(1, sizeof *c);
	if (!c) {
		freeaddrinfo(res);
		return -ENOMEM;
	}
	c->root = root;
	c->ops = ops;
	c->arg = arg;
	c->verbose = verbose;
	c->wcap = wcap;
	c->read_reserve = MCONN_READ_RESERVE;
	c->rcap = MCONN_RMIN + rextra;
	c->rbuf = malloc(c->rcap);
	c->wbuf = malloc(wcap);
	c->fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (!c->rbuf || !c->wbuf || c->fd < 0) {
		int e = c->fd < 0 ? errno : ENOMEM;
		freeaddrinfo(res);
		if (c->fd >= 0)
			close(c->fd);
		mconn_free(c);
		return -e;
	}
	msrp_parser_init(&c->parser);
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	rc = connect(c->fd, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (rc < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(c->fd);
		mconn_free(c);
		return -e;
	}
	c->events = SU_WAIT_CONNECT;
	if (su_wait_create(&c->wait, c->fd, c->events) < 0) {
		close(c->fd);
		mconn_free(c);
		return -EIO;
	}
	c->index = su_root_register(root, &c->wait, mconn_wakeup, c, 0);
	if (c->index <= 0) {
		su_wait_destroy(&c->wait);
		close(c->fd);
		mconn_free(c);
		return -EIO;
	}
	*out = c;
	return 0;
}

void mconn_set_read_reserve(struct mconn *c, size_t n)
{
	c->read_reserve = n;
	mconn_update_mask(c);
}

size_t mconn_wspace(const struct mconn *c)
{
	return c->wcap - c->wlen;
}

size_t mconn_wpending(const struct mconn *c)
{
	return c->wlen + c->fseg_bytes;
}

bool mconn_can_write_file(const struct mconn *c)
{
	return !c->dead && !c->ssl && c->fseg_n < MCONN_FSEG_MAX;
}

int mconn_write_file(struct mconn *c, int fd, uint64_t off, size_t n)
{
	if (!mconn_can_write_file(c))
		return -1;
	if (n == 0)
		return 0;
	c->fseg[(c->fseg_head + c->fseg_n) % MCONN_FSEG_MAX] = (struct mconn_fseg){c->wq_in, fd, off, n};
	c->fseg_n++;
	c->fseg_bytes += n;
	mconn_update_mask(c);
	return 0;
}

int mconn_write(struct mconn *c, const void *p, size_t n)
{
	if (c->dead)
		return -1;
	if (n > c->wcap - c->wlen)
		return -1;
	if (c->whead + c->wlen + n > c->wcap) {
		memmove(c->wbuf, c->wbuf + c->whead, c->wlen);
		c->whead = 0;
	}
	memcpy(c->wbuf + c->whead + c->wlen, p, n);
	c->wlen += n;
	c->wq_in += n;
	mconn_update_mask(c);
	return 0;
}

void mconn_hold(struct mconn *c, bool on)
{
	if (!c || c->dead || c->held == on)
		return;
	c->held = on;
	if (on) {
		mconn_update_mask(c);
		return;
	}
	/* What the hold left in the receive buffer (and, over TLS, what OpenSSL decrypted
	 * already: the socket will not signal it again) is parsed now, as a read would. */
	c->depth++;
	mconn_parse(c);
	if (!c->dead && !c->held && c->ssl && SSL_pending(c->ssl) > 0)
		mconn_read(c);
	mconn_update_mask(c);
	c->depth--;
	if (c->dead && c->depth == 0)
		mconn_free(c);
}

void mconn_close(struct mconn *c)
{
	if (!c || c->dead)
		return;
	/* A last error response (413, 400) is usually still queued: give it
	 * one non-blocking try so that the peer learns why we hang up. */
	size_t last = c->fseg_n ? (size_t)(c->fseg[c->fseg_head].at - c->wq_out) : c->wlen;
	if (c->connected && last > 0 && (!c->ssl || c->tls_done))
		(void)!mconn_send(c, c->wbuf + c->whead, last); /* not past a file range we drop */
	if (c->ssl && c->tls_done)
		SSL_shutdown(c->ssl); /* close_notify, best effort */
	c->dead = true;
	mconn_drop_socket(c);
	if (c->depth == 0)
		mconn_free(c);
}
