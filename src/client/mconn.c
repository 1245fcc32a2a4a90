/* One MSRP connection over the su_root loop: see mconn.h. */
#include "mconn.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Receive buffer: the parser never needs more than MSRP_MAX_HEADER_BYTES of
 * unconsumed input; the rest (rextra) is room for one read of body bytes. */
#define MCONN_RMIN (2 * MSRP_MAX_HEADER_BYTES)
/* Stop reading while less than this is free in the write queue: every
 * request we read may need a response. */
#define MCONN_READ_RESERVE 4096
/* Reads per wakeup, so that one busy connection does not starve the others. */
#define MCONN_READS_PER_WAKEUP 8

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
	size_t read_reserve;
	const struct mconn_ops *ops;
	void *arg;
	char *rbuf;
	size_t rcap, rlen;
	char *wbuf;
	size_t wcap, whead, wlen;
	struct msrp_parser parser;
};

static void mconn_free(struct mconn *c)
{
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
		if (c->wcap - c->wlen >= c->read_reserve)
			want |= SU_WAIT_IN;
		if (c->wlen > 0)
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
	while (!c->dead) {
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
	if (c->rlen == c->rcap)
		mconn_fail(c, "message head too big");
}

static void mconn_read(struct mconn *c)
{
	for (int i = 0; i < MCONN_READS_PER_WAKEUP && !c->dead; i++) {
		if (c->wcap - c->wlen < c->read_reserve)
			return; /* back-pressure: the peer must read first */
		ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
		if (n > 0) {
			c->rlen += (size_t)n;
			mconn_parse(c);
			continue;
		}
		if (n == 0) {
			mconn_fail(c, "connection closed by peer");
			return;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == EINTR)
			continue;
		mconn_fail(c, strerror(errno));
		return;
	}
}

static void mconn_flush(struct mconn *c)
{
	while (!c->dead && c->connected && c->wlen > 0) {
		ssize_t n = send(c->fd, c->wbuf + c->whead, c->wlen, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->whead += (size_t)n;
			c->wlen -= (size_t)n;
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
		if (c->dead || c->wlen > 0)
			break;
		size_t before = c->wlen;
		c->ops->on_writable(c->arg);
		if (c->dead || c->wlen == before)
			break;
	}
	mconn_update_mask(c);
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
			mconn_update_mask(c);
			c->ops->on_connect(c->arg);
			if (!c->dead)
				mconn_write_ready(c);
		}
	} else {
		if (ev & SU_WAIT_OUT)
			mconn_write_ready(c);
		if (!c->dead && (ev & (SU_WAIT_IN | SU_WAIT_HUP | SU_WAIT_ERR)))
			mconn_read(c);
		if (!c->dead && c->wlen > 0)
			mconn_flush(c);
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
	return c->wlen;
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
	mconn_update_mask(c);
	return 0;
}

void mconn_close(struct mconn *c)
{
	if (!c || c->dead)
		return;
	/* A last error response (413, 400) is usually still queued: give it
	 * one non-blocking try so that the peer learns why we hang up. */
	if (c->connected && c->wlen > 0)
		(void)!send(c->fd, c->wbuf + c->whead, c->wlen, MSG_NOSIGNAL | MSG_DONTWAIT);
	c->dead = true;
	mconn_drop_socket(c);
	if (c->depth == 0)
		mconn_free(c);
}
