/* sipua: nua instance, REGISTER dispatch, event routing (see sipua.h). */
#include "sipua/sipua.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/tport_tag.h>

#include "common/log.h"
#include "sipua/registrar.h"

struct sipua {
	su_root_t *root;
	nua_t *nua;
	const struct cpmd_options *opts;
	struct location *loc;
	struct store *st;
	sipua_event_f *handler;
	void *handler_arg;
	registrar_hook_f *reg_hook;
	void *reg_hook_arg;
	su_timer_t *sweep;
	su_timer_t *shutdown_guard;
	int shutting_down;
	int shutdown_done;
};

static void on_nua_event(nua_event_t event, int status, char const *phrase, nua_t *nua, nua_magic_t *magic,
			 nua_handle_t *nh, nua_hmagic_t *hmagic, sip_t const *sip, tagi_t tags[])
{
	struct sipua *s = magic;

	switch (event) {
	case nua_i_register:
		registrar_handle(nua, nh, sip, s->opts, s->loc, s->st, s->reg_hook, s->reg_hook_arg);
		return;
	case nua_i_message:
		if (!s->handler) {
			nua_respond(nh, 501, "Standalone Messages Not Supported", NUTAG_WITH_THIS(nua), TAG_END());
			nua_handle_destroy(nh);
			return;
		}
		break; /* pf answers (the deferred-list query) */
	case nua_r_shutdown:
		if (status >= 200) {
			log_info("SIP stack stopped (%d %s)", status, phrase);
			s->shutdown_done = 1;
			su_root_break(s->root);
		}
		return;
	default:
		break;
	}
	if (s->handler)
		s->handler(s->handler_arg, event, status, phrase, nua, nh, hmagic, sip, tags);
	else if (event == nua_i_invite)
		nua_respond(nh, SIP_503_SERVICE_UNAVAILABLE, TAG_END());
}

/* sofia has no tag for the UDP receive buffer and does not expose its
 * sockets, and the kernel default (~208 KiB) overflows under load: every
 * dropped datagram then costs a 500 ms retransmission. So find the UDP
 * sockets bound to our SIP port and raise their buffer (SO_RCVBUFFORCE when
 * we may, else up to net.core.rmem_max). */
static void raise_udp_rcvbuf(uint16_t port, int bytes)
{
	for (int fd = 3; fd < 1024; fd++) {
		int type = 0;
		socklen_t l = sizeof type;
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0 || type != SOCK_DGRAM)
			continue;
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
			continue;
		uint16_t p = ss.ss_family == AF_INET    ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
			     : ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
							: 0;
		if (p != port)
			continue;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
	}
}

static void sweep_cb(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	struct sipua *s = arg;
	location_expire(s->loc);
	/* sofia keeps every finished transaction's messages for 64*T1 (32 s);
	 * after a burst glibc keeps the freed pages (measured: ~860 MB RSS
	 * after 20,000 transfers in a minute). Give them back when they are
	 * free. */
	malloc_trim(0);
}

/* Is host:port free for both UDP and TCP? sofia's nua_create() on a taken
 * port fails after allocating (and never freeing) part of the event loop,
 * so find out first and fail cleanly with a clear message. */
static int port_free(const char *host, uint16_t port, int type)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, rc = -1;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		sl = sizeof(struct sockaddr_in6);
	} else {
		return 0; /* a host name: let sofia resolve and report */
	}
	int fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* as sofia does */
	if (bind(fd, (struct sockaddr *)&ss, sl) == 0)
		rc = 0;
	int err = errno;
	close(fd);
	errno = err;
	return rc;
}

int sipua_create(struct sipua **sp, su_root_t *root, const struct cpmd_options *opts, struct location *loc,
		 struct store *st)
{
	struct sipua *s = calloc(1, sizeof *s);
	char url[300];

	if (!s)
		return -1;
	s->root = root;
	s->opts = opts;
	s->loc = loc;
	s->st = st;
	if (port_free(opts->sip_host, opts->sip_port, SOCK_DGRAM) ||
	    port_free(opts->sip_host, opts->sip_port, SOCK_STREAM)) {
		log_error("cannot listen for SIP on %s:%u (UDP and TCP): %s", opts->sip_host, opts->sip_port,
			  strerror(errno));
		free(s);
		return -1;
	}
	if (strchr(opts->sip_host, ':'))
		snprintf(url, sizeof url, "sip:[%s]:%u", opts->sip_host, opts->sip_port);
	else
		snprintf(url, sizeof url, "sip:%s:%u", opts->sip_host, opts->sip_port);
	/* No transport parameter: nua binds UDP and TCP on the port. Media is
	 * off: we write our own SDP (RFC 5547) and anchor MSRP ourselves.
	 * Session timers off: a file transfer needs no refresh, and a B2BUA
	 * that refreshes one leg but not the other only causes trouble. */
	s->nua = nua_create(root, on_nua_event, s, NUTAG_URL(url), NUTAG_MEDIA_ENABLE(0),
			    NUTAG_APPL_METHOD("REGISTER"), NUTAG_APPL_METHOD("MESSAGE"), NUTAG_ALLOW("REGISTER"),
			    NUTAG_SESSION_TIMER(0), NUTAG_AUTOANSWER(0), NUTAG_AUTOALERT(0),
			    NUTAG_ENABLEMESSAGE(1), NUTAG_USER_AGENT("cpmd/0.1"),
			    /* a SIP flow stays up while its device is registered */
			    TPTAG_IDLE(opts->reg_max_expires * 1000 + 60000),
			    /* forks to one device share its TCP connection: sofia's
			     * default queue of 64 messages answers the rest with 503 */
			    TPTAG_QUEUESIZE(4096), TAG_END());
	if (!s->nua) {
		log_error("cannot listen for SIP on %s:%u (UDP and TCP): address in use or not local?",
			  opts->sip_host, opts->sip_port);
		free(s);
		return -1;
	}
	raise_udp_rcvbuf(opts->sip_port, 4 * 1024 * 1024);
	s->sweep = su_timer_create(su_root_task(root), 30000);
	if (s->sweep)
		su_timer_set_for_ever(s->sweep, sweep_cb, s);
	*sp = s;
	return 0;
}

void sipua_set_handler(struct sipua *s, sipua_event_f *cb, void *arg)
{
	s->handler = cb;
	s->handler_arg = arg;
}

void sipua_set_register_hook(struct sipua *s, registrar_hook_f *cb, void *arg)
{
	s->reg_hook = cb;
	s->reg_hook_arg = arg;
}

nua_t *sipua_nua(struct sipua *s)
{
	return s->nua;
}

static void guard_cb(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	struct sipua *s = arg;
	log_warn("SIP stack did not stop in time; exiting anyway");
	su_root_break(s->root);
}

void sipua_shutdown(struct sipua *s)
{
	if (s->shutting_down++)
		return;
	nua_shutdown(s->nua);
	/* nua_shutdown waits for live calls; do not wait for ever. */
	s->shutdown_guard = su_timer_create(su_root_task(s->root), 3000);
	if (s->shutdown_guard)
		su_timer_set(s->shutdown_guard, guard_cb, s);
}

void sipua_destroy(struct sipua *s)
{
	if (!s)
		return;
	/* nua_destroy() requires a finished nua_shutdown(): on an early exit
	 * (e.g. the MSRP port is taken) run the loop until it is, bounded. */
	if (s->nua && !s->shutdown_done) {
		if (!s->shutting_down++)
			nua_shutdown(s->nua);
		for (int i = 0; i < 50 && !s->shutdown_done; i++)
			su_root_step(s->root, 100);
	}
	if (s->sweep)
		su_timer_destroy(s->sweep);
	if (s->shutdown_guard)
		su_timer_destroy(s->shutdown_guard);
	if (s->nua)
		nua_destroy(s->nua);
	free(s);
}
