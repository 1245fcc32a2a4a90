/* clamd — INSTREAM and PING over clamd's socket (see clamd.h; the protocol as used is
 * docs/internals/screening.md). Every wait is a poll() with a deadline, so a clamd that is
 * stopped, frozen or gone costs at most the configured timeouts, never a hang. */
#include "screen/clamd.h"
#include "common/mono_clock.h"

#include <errno.h>
#include <stdarg.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cpm/parse.h"

#define CONNECT_MS_DEFAULT 2000
#define REPLY_MS_DEFAULT 30000
#define ADDR_MAX 256

/* What a scan reads from: a descriptor range or memory. */
struct source {
	int fd;
	uint64_t offset;
	const unsigned char *mem; /* non-NULL: read from here, not fd */
};

static void say(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}


/* poll one descriptor until `deadline` (monotonic ms), EINTR retried with the time left.
 * Returns revents, 0 on timeout, -1 on error. */
static int wait_until(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - mono_ms();
		struct pollfd p = {.fd = fd, .events = events};
		int rc;

		if (left < 0)
			left = 0;
		rc = poll(&p, 1, (int)left);
		if (rc > 0)
			return p.revents;
		if (rc == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* Non-blocking connect of `s` to `sa`, bounded by ms. 0, or -1 with errno. */
static int connect_within(int s, const struct sockaddr *sa, socklen_t salen, unsigned ms)
{
	int err = 0, ev;
	socklen_t el = sizeof err;

	if (connect(s, sa, salen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -1; /* a unix socket whose backlog is full says EAGAIN: clamd is busy */
	ev = wait_until(s, POLLOUT, mono_ms() + ms);
	if (ev == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (ev < 0 || getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		return -1;
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

static int connect_unix(const char *path, unsigned ms, char *why, size_t whylen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int s;

	if (strlen(path) >= sizeof sun.sun_path || path[0] == '\0') {
		say(why, whylen, "clamd: bad socket path");
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0) {
		say(why, whylen, "clamd: socket: %m");
		return -1;
	}
	if (connect_within(s, (const struct sockaddr *)&sun, sizeof sun, ms) < 0) {
		say(why, whylen, "clamd: connect to unix:%s: %m", path);
		close(s);
		return -1;
	}
	return s;
}

static int connect_tcp(const char *addr, unsigned ms, char *why, size_t whylen)
{
	char host[ADDR_MAX], port_s[8];
	uint16_t port;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV}, *ai, *a;
	int s = -1, rc;

	if (cpm_parse_hostport(addr, host, sizeof host, &port) < 0) {
		say(why, whylen, "clamd: bad address (want unix:/path or HOST:PORT)");
		return -1;
	}
	snprintf(port_s, sizeof port_s, "%u", (unsigned)port);
	rc = getaddrinfo(host, port_s, &hints, &ai);
	if (rc != 0) {
		say(why, whylen, "clamd: %s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (a = ai; a; a = a->ai_next) {
		s = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s < 0)
			continue;
		if (connect_within(s, a->ai_addr, a->ai_addrlen, ms) == 0)
			break;
		say(why, whylen, "clamd: connect to %s: %m", addr);
		close(s);
		s = -1;
	}
	freeaddrinfo(ai);
	return s;
}

static int clamd_connect(const struct clamd_cfg *cfg, char *why, size_t whylen)
{
	unsigned ms = cfg->connect_ms ? cfg->connect_ms : CONNECT_MS_DEFAULT;

	if (!cfg->addr) {
		say(why, whylen, "clamd: no address");
		return -1;
	}
	if (strncmp(cfg->addr, "unix:", 5) == 0)
		return connect_unix(cfg->addr + 5, ms, why, whylen);
	return connect_tcp(cfg->addr, ms, why, whylen);
}

/* Send n bytes. 0: sent; 1: clamd has something to say or hung up (stop sending, read its
 * reply: it answers "size limit exceeded" mid-stream and closes); -1: error or timeout. */
static int send_all(int s, const unsigned char *p, size_t n, unsigned ms, char *why, size_t whylen)
{
	while (n > 0) {
		int ev = wait_until(s, POLLOUT | POLLIN, mono_ms() + ms);
		ssize_t w;

		if (ev == 0) {
			say(why, whylen, "clamd: timed out after %u ms sending", ms);
			return -1;
		}
		if (ev < 0) {
			say(why, whylen, "clamd: poll: %m");
			return -1;
		}
		if (ev & (POLLIN | POLLHUP | POLLERR))
			return 1;
		w = send(s, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			if (errno == EPIPE || errno == ECONNRESET)
				return 1;
			say(why, whylen, "clamd: send: %m");
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read one reply (up to its NUL, or the end of the connection) into buf. Its length, or -1. */
static ssize_t read_reply(int s, char *buf, size_t cap, unsigned ms, char *why, size_t whylen)
{
	size_t n = 0;

	while (n < cap) {
		int ev = wait_until(s, POLLIN, mono_ms() + ms);
		ssize_t r;

		if (ev == 0) {
			say(why, whylen, "clamd: no reply within %u ms", ms);
			return -1;
		}
		if (ev < 0) {
			say(why, whylen, "clamd: poll: %m");
			return -1;
		}
		r = recv(s, buf + n, cap - n, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r < 0 && n > 0)
			return (ssize_t)n; /* a reset after the reply: the reply is what counts */
		if (r < 0) {
			say(why, whylen, "clamd: recv: %m");
			return -1;
		}
		if (r == 0) {
			if (n == 0)
				say(why, whylen, "clamd closed the connection without a reply");
			return n ? (ssize_t)n : -1;
		}
		if (memchr(buf + n, '\0', (size_t)r))
			return (ssize_t)(n + (size_t)r);
		n += (size_t)r;
	}
	say(why, whylen, "clamd: reply longer than %zu bytes", cap);
	return -1;
}

/* Fill dst with n bytes of the source at pos. 0, or -1 (read error, or the file is shorter). */
static int source_read(const struct source *src, uint64_t pos, unsigned char *dst, size_t n,
		       char *why, size_t whylen)
{
	size_t got = 0;

	if (src->mem) {
		memcpy(dst, src->mem + pos, n);
		return 0;
	}
	while (got < n) {
		ssize_t r = pread(src->fd, dst + got, n - got, (off_t)(src->offset + pos + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			say(why, whylen, "screen: read: %m");
			return -1;
		}
		if (r == 0) {
			say(why, whylen, "screen: file ends at %llu, before the range to scan",
			    (unsigned long long)(src->offset + pos + got));
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* The stream: "zINSTREAM\0", chunks <be32 length><bytes>, a zero length, then one reply. */
static enum clamd_result scan_stream(const struct clamd_cfg *cfg, const struct source *src,
				     uint64_t len, char *virus, size_t vcap, char *why, size_t whylen)
{
	static const unsigned char cmd[] = "zINSTREAM"; /* sizeof includes the NUL clamd wants */
	static const unsigned char end[4] = {0, 0, 0, 0};
	unsigned ms = cfg->reply_ms ? cfg->reply_ms : REPLY_MS_DEFAULT;
	char reply[CLAMD_REPLY_MAX];
	unsigned char *buf = NULL;
	enum clamd_result res = CLAMD_ERROR;
	uint64_t pos = 0;
	ssize_t rn;
	int s, sent;

	if (virus && vcap)
		virus[0] = '\0';
	if (why && whylen)
		why[0] = '\0';
	if (cfg->stream_max && len > cfg->stream_max) {
		say(why, whylen, "screen: %llu bytes exceed clamd's StreamMaxLength of %llu",
		    (unsigned long long)len, (unsigned long long)cfg->stream_max);
		return CLAMD_TOO_BIG;
	}
	s = clamd_connect(cfg, why, whylen);
	if (s < 0)
		return CLAMD_ERROR;
	buf = malloc(4 + CLAMD_CHUNK);
	if (!buf) {
		say(why, whylen, "screen: out of memory");
		goto out;
	}
	sent = send_all(s, cmd, sizeof cmd, ms, why, whylen);
	while (sent == 0 && pos < len) {
		size_t n = len - pos < CLAMD_CHUNK ? (size_t)(len - pos) : CLAMD_CHUNK;

		if (source_read(src, pos, buf + 4, n, why, whylen) < 0)
			goto out;
		put_be32(buf, (uint32_t)n);
		sent = send_all(s, buf, 4 + n, ms, why, whylen);
		pos += n;
	}
	if (sent == 0)
		sent = send_all(s, end, sizeof end, ms, why, whylen);
	if (sent < 0)
		goto out;
	rn = read_reply(s, reply, sizeof reply, ms, why, whylen);
	if (rn < 0)
		goto out;
	res = clamd_reply_parse(reply, (size_t)rn, virus, vcap, why, whylen);
	if (res == CLAMD_CLEAN && sent == 1) {
		/* "OK" for a stream clamd did not read to its end would be a lie. */
		say(why, whylen, "clamd: answered before the end of the stream");
		res = CLAMD_ERROR;
	}
out:
	free(buf);
	close(s);
	return res;
}

enum clamd_result clamd_scan_fd(const struct clamd_cfg *cfg, int fd, uint64_t offset, uint64_t len,
				char *virus, size_t vcap, char *why, size_t whylen)
{
	struct source src = {.fd = fd, .offset = offset};

	return scan_stream(cfg, &src, len, virus, vcap, why, whylen);
}

enum clamd_result clamd_scan_buf(const struct clamd_cfg *cfg, const void *buf, size_t len,
				 char *virus, size_t vcap, char *why, size_t whylen)
{
	static const unsigned char none;
	struct source src = {.fd = -1, .mem = buf ? buf : &none};

	return scan_stream(cfg, &src, len, virus, vcap, why, whylen);
}

int clamd_ping(const struct clamd_cfg *cfg, char *why, size_t whylen)
{
	static const unsigned char cmd[] = "zPING";
	unsigned ms = cfg->reply_ms ? cfg->reply_ms : REPLY_MS_DEFAULT;
	char reply[CLAMD_REPLY_MAX];
	ssize_t rn = -1;
	int s = clamd_connect(cfg, why, whylen);

	if (s < 0)
		return -1;
	if (send_all(s, cmd, sizeof cmd, ms, why, whylen) >= 0)
		rn = read_reply(s, reply, sizeof reply, ms, why, whylen);
	close(s);
	if (rn < 0)
		return -1;
	if (!clamd_reply_is_pong(reply, (size_t)rn)) {
		clamd_reply_parse(reply, (size_t)rn, NULL, 0, why, whylen);
		if (why && whylen && !why[0])
			say(why, whylen, "clamd: no PONG");
		return -1;
	}
	return 0;
}
