/* The active side of an MSRP session (RFC 6135 a=setup:active, RFC 4975 §5.4): cpmd opens the
 * TCP connection itself. Used toward another domain's PF, which is passive like us (two
 * passive relays could never meet). The connection is bound to the session at once: no
 * bind request is needed, the first SEND we write binds it at the peer. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/msrp_transport.h"

int hub_session_connect(struct msrp_hub *h, struct msrp_session *s, const char *host, uint16_t port)
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
	c->state = CONN_BOUND;
	c->session = s;
	s->conn = c;
	hub_conn_bound(h, c);
	msrp_log("%s: connected out for session %s", c->peer, s->id);
	s->ops->bound(s);
	hub_leave(h);
	return 0;
}
