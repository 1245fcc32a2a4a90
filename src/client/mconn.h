/* One MSRP connection of the client: a non-blocking TCP socket registered in
 * the su_root, a bounded receive buffer fed to the msrp.h streaming parser,
 * and a bounded write queue.
 *
 * We are always the active side (a=setup:active), so a connection is always
 * opened by us with mconn_open(). Events go to the owner through mconn_ops;
 * the owner may call mconn_close() from inside any callback: the memory is
 * released when the callback returns, and no callback runs after close.
 *
 * Back-pressure: reading stops while the write queue is nearly full (a peer
 * that does not read our responses cannot make us buffer without bound);
 * the owner fills the queue from on_writable when there is room.
 */
#ifndef CPM_CLIENT_MCONN_H
#define CPM_CLIENT_MCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sofia-sip/su_wait.h>

#include "cpm/msrp.h"

struct mconn;

struct mconn_ops {
	void (*on_connect)(void *arg);
	/* MSG / BODY / END / ERROR events of the parser, in order. */
	void (*on_event)(void *arg, const struct msrp_event *ev);
	/* The write queue has room (called after each successful write). */
	void (*on_writable)(void *arg);
	/* Connection failed or closed by the peer; the connection is already
	 * closed when this runs (do not call mconn_close again). */
	void (*on_close)(void *arg, const char *reason);
	/* Optional: everything the socket had is read and parsed (the peer sends nothing more
	 * for now). A receiver batches work to here (msrp_in_disk.c: waking its disk worker). */
	void (*on_drained)(void *arg);
};

/* Connect to host:port (numeric IPv4/IPv6 address). wcap = write queue
 * size; rextra = receive buffer room beyond the 2 * MSRP_MAX_HEADER_BYTES
 * the parser needs (a sender only reads small responses; a receiver wants
 * big reads of body bytes). */
int mconn_open(struct mconn **out, su_root_t *root, const char *host, uint16_t port, size_t wcap,
	       size_t rextra, const struct mconn_ops *ops, void *arg, bool verbose);
/* Reading pauses while less than `n` bytes are free in the write queue
 * (default 4096, for a side that answers requests). A pure sender sets 0:
 * it must always read the responses that open its window. */
void mconn_set_read_reserve(struct mconn *c, size_t n);
/* Free bytes in the write queue. */
size_t mconn_wspace(const struct mconn *c);
/* Bytes queued (mconn_write and mconn_write_file) and not yet written to the socket. */
size_t mconn_wpending(const struct mconn *c);
/* Append n bytes; returns 0, or -1 when they do not fit (nothing queued). */
int mconn_write(struct mconn *c, const void *p, size_t n);
/* Whether mconn_write_file() can take a range now: plain TCP (TLS encrypts in user space) and
 * room in the range queue (MCONN_FSEG_MAX). */
bool mconn_can_write_file(const struct mconn *c);
/* Append n bytes of the regular file fd at off, after what is queued: they leave by
 * sendfile() (the kernel's page-cache pages, no copy through the queue), in order with the
 * queue bytes. fd must stay open until mconn_wpending() is 0 or the connection is closed.
 * A file that ends before off + n fails the connection. 0, or -1 (nothing queued). */
int mconn_write_file(struct mconn *c, int fd, uint64_t off, size_t n);
void mconn_close(struct mconn *c);
/* Hold (on) or release the input: while held nothing is read and no event is delivered, and
 * the parse pass that holds stops after the event whose callback held (the rest waits in the
 * receive buffer). Release runs what waited (its callbacks may close c) and reads on. For an
 * owner whose disk is slower than the network (msrp_in_disk.c). Not from inside on_close. */
void mconn_hold(struct mconn *c, bool on);
/* MSRP over TLS (msrps: paths, RFC 4975 §14), right after mconn_open: on_connect runs only
 * once the handshake is done and the server's certificate is checked: its chain against the
 * CAs of ca_file, its name against host (an IP address or a DNS name), and, when the SDP gave
 * one (fingerprint "sha-256 AB:..."), its fingerprint too. cert_file/key_file (PEM, both or
 * NULL): the client certificate shown when the server asks for one (cpmd
 * --tls-verify-clients). A failure reaches on_close with the reason. 0, or -1 with a reason
 * in why. */
int mconn_start_tls(struct mconn *c, const char *ca_file, const char *cert_file, const char *key_file,
		    const char *host, const char *fingerprint, char *why, size_t whylen);
/* Whether cert_file is a PEM certificate chain and key_file its private key: checked once at
 * start, so that a wrong pair is a usage error rather than a refused handshake. 0, or -1
 * with a reason in why. */
int mconn_check_client_cert(const char *cert_file, const char *key_file, char *why, size_t whylen);

#endif
