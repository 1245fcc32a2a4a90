/* The active side of an MSRP session (RFC 6135 a=setup:active, RFC 4975 §5.4): cpmd opens the
 * TCP connection itself (TLS on it for an msrps path). Used toward another domain's PF, which
 * is passive like us (two passive relays could never meet). The connection is bound to the session at once: no
 * bind request is needed, the first SEND we write binds it at the peer. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cpm/msrp.h"
#include "net/msrp_tls.h"
#include "net/msrp_transport.h"

int hub_session_connect(struct msrp_hub *h, struct msrp_session *s, const char *host, uint16_t port, bool tls,
			const char *fingerprint)
{
	struct sockaddr_storage ss;
	socklen_t slen;
	char peer[64];
	struct msrp_conn *c;

	if (s->conn)
		return -EISCONN;
	memset(&ss, 0, sizeof ss);
	/* Numeric only: a name would need a resolver off the loop (the peer's a=path is an
	 * address in practice; cpmd writes its --msrp-advertise there). */
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		slen = sizeof *a;
		snprintf(peer, sizeof peer, "%s:%u", host, port);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		slen = sizeof *a;
		snprintf(peer, sizeof peer, "[%s]:%u", host, port);
	} else {
		return -EINVAL;
	}
	if (port == 0)
		return -EINVAL;
	if (tls && !hub_tls_of(h))
		return -ENOTSUP;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* In progress is fine: what we write is queued until the socket is writable, and a
	 * refused connection reaches the session as closed(ECONNREFUSED). */
	if (connect(fd, (struct sockaddr *)&ss, slen) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		return -e;
	}
	hub_enter(h);
	int rc = conn_create(h, fd, peer, &c);
	if (rc) {
		close(fd);
		hub_leave(h);
		return rc;
	}
	/* TLS: the handshake runs in the connection's first SSL_write (our first SEND, queued
	 * meanwhile) and the reads after it, as on the accepting side; no byte of MSRP leaves
	 * before it is done, and a failure closes the connection: ops->closed(EPROTO) */
	if (tls && (rc = conn_tls_connect(c, hub_tls_of(h), host, fingerprint)) != 0) {
		conn_close(c, -rc);
		hub_leave(h);
		return rc;
	}
	c->state = CONN_BOUND;
	c->session = s;
	s->conn = c;
	hub_conn_bound(h, c);
	msrp_log("%s: connected out%s for session %s", c->peer, tls ? " (TLS)" : "", s->id);
	s->ops->bound(s);
	hub_leave(h);
	return 0;
}

int hub_session_connect_path(struct msrp_hub *h, struct msrp_session *s, const char *peer_path,
			     const char *fingerprint, const char *our_uri, bool bind_send)
{
	struct msrp_uri u;
	char host[64];

	/* the first URI of the peer's path is the next hop (the peer itself without relays) */
	if (msrp_uri_parse(msrp_path_first(cpm_str_c(peer_path)), &u) || !u.host.len || u.host.len >= sizeof host ||
	    !u.port)
		return -EINVAL;
	if (s->secure && !u.secure) {
		/* we offered msrps: a plain answer would move the file in clear (a downgrade) */
		msrp_log("session %s: we offered msrps, the peer answered a plain msrp path; not connecting", s->id);
		return -EPROTO;
	}
	memcpy(host, u.host.p, u.host.len);
	host[u.host.len] = '\0';
	hub_enter(h);
	int rc = hub_session_connect(h, s, host, u.port, u.secure, fingerprint);
	if (rc == 0 && bind_send) {
		/* RFC 4975 §5.4: the active end binds the connection with a SEND, an empty one when
		 * it has nothing to say yet (a chat nobody has typed in). Its 200 matches no
		 * transaction of ours and is dropped. */
		char tid[MSRP_OUR_TID_LEN + 1], mid[21], buf[MSRP_MAX_LINE * 2 + 256];
		struct msrp_byte_range br = {1, 0, 0};
		msrp_random_ident(tid, MSRP_OUR_TID_LEN);
		msrp_random_ident(mid, 20);
		struct msrp_request_head hd = {.tid = tid, .method = MSRP_METHOD_SEND, .to_path = cpm_str_c(peer_path),
					       .from_path = cpm_str_c(our_uri), .message_id = cpm_str_c(mid),
					       .range = &br};
		int n = msrp_build_request_head(buf, sizeof buf, &hd);
		int e = n < 0 ? -1 : msrp_build_end(buf + n, sizeof buf - (size_t)n, tid, MSRP_FLAG_END, false);
		if (e < 0)
			rc = -EINVAL; /* the connection stays; the peer's bind timeout ends it */
		else
			conn_send(s->conn, buf, (size_t)(n + e));
	}
	hub_leave(h);
	return rc;
}
