/* The SIP side of cpm over sofia-sip nua, and the event loop around it.
 *
 * One su_root in this thread (su_root_threading(root, 0)); nua with media
 * disabled (we build and parse the SDP ourselves, offer.c); every request
 * goes to --server as the outbound proxy. Incoming INVITEs reach us over the
 * flow we registered on (UDP: our port; TCP: our registration connection).
 *
 * Timers: one 200 ms tick checks every transfer's deadlines (answer delay,
 * INVITE without final answer, 30 s without MSRP progress), the receive
 * timeout, and drives the shutdown. A list scan every 200 ms is cheap for
 * the few thousand transfers a blast keeps at most.
 *
 * Shutdown (agent_finish), in stages so that nothing is cut short:
 *   1 GRACE     up to 2 s for senders to BYE transfers we completed (their
 *               success REPORT must reach them before the dialog ends);
 *   2 TEARDOWN  BYE/CANCEL/480 whatever is left, un-REGISTER (Expires 0),
 *               wait up to 3 s for those to finish;
 *   3 NUA       nua_shutdown, wait up to 3 s for nua_r_shutdown, then
 *               su_root_break.
 */
#include "cpm.h"

#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sofia-sip/nta_tag.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/tport_tag.h>

#include "common/disk_ring.h"
#include "mconn.h"
#include "sipua/sip_tls.h"

#define TICK_MS 200
#define GRACE_SECONDS 2.0
#define TEARDOWN_SECONDS 3.0
#define NUA_SHUTDOWN_SECONDS 3.0

enum { SD_NONE, SD_GRACE, SD_TEARDOWN, SD_NUA, SD_BROKEN };
static int sd_stage;
static bool nua_down;

static void shutdown_step(struct cpm_app *app);

/* ------------------------------------------------------------ callback */

static void on_state(struct cpm_app *app, struct xfer *x, nua_handle_t *nh, tagi_t tags[])
{
	int cs = nua_callstate_init;
	tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
	if (!x) {
		/* an INVITE we refused without creating a transfer */
		if (cs == nua_callstate_terminated && nh != app->reg_nh)
			nua_handle_destroy(nh);
		return;
	}
	if (cs == nua_callstate_ready)
		in_ack(x);
	if (cs != nua_callstate_terminated)
		return;
	vlog(app, "[%u] SIP: dialog terminated", x->id);
	x->dialog_up = false;
	x->final_seen = true; /* nothing more may be sent on this handle */
	if (x->state != XS_DONE) {
		if (x->dir == XFER_IN) {
			if (x->answer_at == -1)
				msrp_in_abort(x, "session ended by peer", false);
			else
				xfer_done(x, CPM_EXIT_FAILED, NULL); /* cancelled before we answered */
		} else {
			xfer_done(x, CPM_EXIT_FAILED, "failed: session ended by peer");
		}
	}
	nua_handle_bind(nh, NULL);
	nua_handle_destroy(nh);
	x->nh = NULL;
	if (x->conn) {
		mconn_close(x->conn);
		x->conn = NULL;
	}
	xfer_reap(x);
	shutdown_step(app);
}

/* The registration failed after it had worked: over TCP that is the
 * connection to the server going away (nua re-REGISTERs at once when its
 * registration connection closes, and that attempt fails while the server is
 * down: a 503/408 of its own), or a refresh the server refused. Either way
 * keep trying, 1 s doubling to 30 s, on a fresh handle. */
static void reg_lost(struct cpm_app *app, int status, const char *phrase)
{
	if (!app->reg_lost) {
		errlog(app, "connection lost; re-registering");
		app->reg_lost = true;
		app->reg_backoff = CPM_REREG_MIN;
	} else {
		app->reg_backoff = app->reg_backoff * 2 > CPM_REREG_MAX ? CPM_REREG_MAX : app->reg_backoff * 2;
	}
	vlog(app, "SIP: REGISTER failed (%d %s); next attempt in %.0f s", status, phrase, app->reg_backoff);
	app->registered = false;
	app->reg_retry_at = now_mono() + app->reg_backoff;
}

static void reg_send(struct cpm_app *app)
{
	char from[CPM_URI_MAX + 2];
	snprintf(from, sizeof from, "<%s>", app->o->aor);
	if (app->reg_nh)
		nua_handle_destroy(app->reg_nh);
	app->reg_nh = nua_handle(app->nua, NULL, SIPTAG_TO_STR(from), SIPTAG_FROM_STR(from), TAG_END());
	if (!app->reg_nh)
		return;
	/* with an outbound proxy, REGISTER (and its refreshes and the un-REGISTER) still goes
	 * to the registrar: a handle parameter (NUTAG_PROXY in nua_handle() is ignored) */
	if (app->o->outbound_proxy)
		nua_set_hparams(app->reg_nh, NUTAG_PROXY(app->registrar), TAG_END());
	nua_register(app->reg_nh, SIPTAG_EXPIRES_STR("600"), TAG_END());
}

/* Challenges answered in a row before a 401/407 goes up as a failure: a first challenge, and
 * one stale=true re-challenge of a nonce that expired meanwhile. A wrong password gets 403
 * from cpmd, so this only stops a server that challenges forever. */
#define CPM_AUTH_ROUNDS_MAX 3

/* A 401/407 to any request of ours: answer it with --password for the realm it names
 * (nua_authenticate resends the request with credentials; the answer comes as the same
 * nua_r_* event). true when it was answered. */
/* The loop-guard counter of one handle: a slot by its address (a collision only resets a
 * count, which at worst allows a few more rounds). */
static unsigned *auth_rounds_of(struct cpm_app *app, const nua_handle_t *nh)
{
	size_t i = ((uintptr_t)nh >> 4) % CPM_AUTH_SLOTS;
	if (app->auth_rounds[i].nh != nh) {
		app->auth_rounds[i].nh = nh;
		app->auth_rounds[i].rounds = 0;
	}
	return &app->auth_rounds[i].rounds;
}

static bool answer_challenge(struct cpm_app *app, nua_event_t event, int status, nua_handle_t *nh, sip_t const *sip)
{
	if ((status != 401 && status != 407) || !app->o->password || !sip || !nh || event == nua_r_shutdown)
		return false;
	const msg_auth_t *ch = status == 401 ? sip->sip_www_authenticate : sip->sip_proxy_authenticate;
	const char *realm = ch ? msg_params_find(ch->au_params, "realm=") : NULL;
	if (!realm || ++*auth_rounds_of(app, nh) > CPM_AUTH_ROUNDS_MAX)
		return false;
	/* the user part of our AOR: "sip:USER@DOMAIN" */
	const char *u = strchr(app->o->aor, ':') + 1;
	size_t ul = strcspn(u, "@");
	char cred[1024];
	/* realm comes quoted from the header: "Digest:\"realm\":user:password" */
	if (snprintf(cred, sizeof cred, "Digest:%s:%.*s:%s", realm, (int)ul, u, app->o->password) >= (int)sizeof cred)
		return false;
	vlog(app, "SIP: %d: answering the digest challenge of realm %s", status, realm);
	nua_authenticate(nh, NUTAG_AUTH(cred), TAG_END());
	explicit_bzero(cred, sizeof cred);
	return true;
}

static void agent_cb(nua_event_t event, int status, char const *phrase, nua_t *nua, nua_magic_t *magic,
		     nua_handle_t *nh, nua_hmagic_t *hmagic, sip_t const *sip, tagi_t tags[])
{
	struct cpm_app *app = magic;
	struct xfer *x = hmagic;
	(void)nua;

	if (status >= 200 && event >= nua_r_register && event <= nua_r_method) {
		if (answer_challenge(app, event, status, nh, sip))
			return;
		if (nh)
			*auth_rounds_of(app, nh) = 0;
	}
	switch (event) {
	case nua_r_register:
		if (status < 200 || nh != app->reg_nh)
			break;
		if (status < 300) {
			if (!app->registered)
				errlog(app, "registered %s (%s) via %s", app->o->aor, app->instance, app->o->server);
			app->registered = true;
			app->ever_registered = true;
			app->reg_lost = false;
			app->reg_retry_at = 0;
		} else if (app->shutting_down) {
			/* nothing to keep up */
		} else if (app->ever_registered) {
			reg_lost(app, status, phrase);
		} else if (local_response(status, sip)) {
			char line[600];
			local_failure_line_to(app, app->o->server, status, phrase, sip, line, sizeof line);
			out_line(app, "%s", line);
			agent_finish(app, CPM_EXIT_FAILED);
		} else {
			out_line(app, "failed: REGISTER %d %s", status, phrase);
			agent_finish(app, CPM_EXIT_FAILED);
		}
		break;
	case nua_r_unregister:
		if (status < 200)
			break;
		vlog(app, "SIP: unregistered (%d %s)", status, phrase);
		app->registered = false;
		app->unregistering = false;
		shutdown_step(app);
		break;
	case nua_i_invite:
		if (!x)
			in_invite(app, nh, sip);
		else
			sip_reinvite(x);
		break;
	case nua_r_invite:
		if (x && chat_hook_answer(x, status, phrase, sip))
			break;
		if (x && x->pull)
			pull_answer(x, status, phrase, sip);
		else if (x)
			out_invite_answer(x, status, phrase, sip);
		break;
	case nua_r_message:
		message_answered(app, nh, status, phrase, sip);
		break;
	case nua_i_message:
		if (!x && nh != app->reg_nh)
			notify_message(app, nh, sip);
		break;
	case nua_i_ack:
		if (x)
			in_ack(x);
		break;
	case nua_i_cancel:
		if (x)
			errlog(app, "incoming transfer of %s cancelled by the caller (CANCEL)", x->safe);
		break;
	case nua_i_bye:
		if (!x)
			break;
		vlog(app, "[%u] SIP: BYE received", x->id);
		x->dialog_up = false;
		x->final_seen = true;
		if (chat_hook_bye(x))
			break; /* the normal end of a chat session */
		if (x->state != XS_DONE) {
			if (x->dir == XFER_IN)
				msrp_in_abort(x, "session ended by peer", false);
			else
				xfer_done(x, CPM_EXIT_FAILED, "failed: session ended by peer");
		}
		break;
	case nua_r_bye:
		if (x && status >= 200)
			vlog(app, "[%u] SIP: BYE answered %d %s", x->id, status, phrase);
		break;
	case nua_i_state:
		on_state(app, x, nh, tags);
		break;
	case nua_r_shutdown:
		if (status >= 200) {
			nua_down = true;
			sd_stage = SD_BROKEN;
			su_root_break(app->root);
		}
		break;
	case nua_i_options:
	case nua_i_info:
	case nua_i_notify:
	case nua_i_subscribe:
	case nua_i_refer:
		/* nua answered these for us; the handle is ours to drop */
		if (!x && nh != app->reg_nh)
			nua_handle_destroy(nh);
		break;
	case nua_i_error:
		vlog(app, "SIP: error %d %s", status, phrase);
		break;
	case nua_i_outbound:
		vlog(app, "SIP: outbound %d %s", status, phrase);
		break;
	default:
		if (app->o->verbose && status)
			vlog(app, "SIP: %s %d %s", nua_event_name(event), status, phrase);
		break;
	}
}

/* ------------------------------------------------------------ shutdown */

void agent_finish(struct cpm_app *app, int exit_code)
{
	if (app->shutting_down)
		return;
	app->shutting_down = true;
	app->exit_code = exit_code;
	sd_stage = SD_GRACE;
	app->shutdown_deadline = now_mono() + GRACE_SECONDS;
	shutdown_step(app);
}

static bool waiting_for_peer_bye(const struct cpm_app *app)
{
	for (const struct xfer *x = app->xfers; x; x = x->next)
		if (x->nh && x->dir == XFER_IN && x->success && x->dialog_up)
			return true;
	return false;
}

static bool any_handle(const struct cpm_app *app)
{
	for (const struct xfer *x = app->xfers; x; x = x->next)
		if (x->nh)
			return true;
	return false;
}

static void shutdown_step(struct cpm_app *app)
{
	double t = now_mono();
	if (sd_stage == SD_GRACE) {
		if (waiting_for_peer_bye(app) && t < app->shutdown_deadline)
			return;
		sd_stage = SD_TEARDOWN;
		app->shutdown_deadline = t + TEARDOWN_SECONDS;
		for (struct xfer *x = app->xfers, *next; x; x = next) {
			next = x->next;
			if (x->state != XS_DONE) {
				if (x->dir == XFER_IN && x->state != XS_RINGING)
					msrp_in_abort(x, "interrupted", true);
				else
					xfer_done(x, CPM_EXIT_FAILED, NULL);
			}
			if (x->conn) {
				mconn_close(x->conn);
				x->conn = NULL;
			}
			xfer_sip_end(x);
		}
		if (app->reg_nh && app->registered) {
			vlog(app, "SIP: REGISTER Expires 0");
			app->unregistering = true;
			nua_unregister(app->reg_nh, TAG_END());
		}
	}
	if (sd_stage == SD_TEARDOWN) {
		/* reports we sent are answered before we go (the sender waits for them) */
		if ((any_handle(app) || app->unregistering || app->reports_pending) && t < app->shutdown_deadline)
			return;
		sd_stage = SD_NUA;
		app->shutdown_deadline = t + NUA_SHUTDOWN_SECONDS;
		vlog(app, "SIP: shutting down the stack");
		nua_shutdown(app->nua);
		return;
	}
	if (sd_stage == SD_NUA && t >= app->shutdown_deadline) {
		sd_stage = SD_BROKEN;
		su_root_break(app->root);
	}
}

/* ------------------------------------------------------------ tick, signals */

/* nua's UDP socket keeps the kernel default receive buffer (~208 KiB): a
 * blast with hundreds of transfers in flight overflows it and every lost
 * message costs a 500 ms retransmission. nua has no tag for it and does not
 * expose the socket, so find our UDP sockets (the only ones this process
 * has) and raise it; SO_RCVBUFFORCE when allowed, else up to rmem_max. */
static void raise_udp_rcvbuf(void)
{
	int want = 4 * 1024 * 1024;
	for (int fd = 3; fd < 256; fd++) {
		int type = 0;
		socklen_t l = sizeof type;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0 || type != SOCK_DGRAM)
			continue;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
	}
}



/* End the incoming transfers that are under way (their `failed: NAME ...`
 * lines come before the line that explains why receive stops). */
static void abort_incoming(struct cpm_app *app, const char *reason)
{
	for (struct xfer *x = app->xfers; x; x = x->next)
		if (x->dir == XFER_IN && x->state != XS_DONE && x->answer_at == -1)
			msrp_in_abort(x, reason, true);
}

static void on_tick(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg)
{
	(void)magic;
	(void)t;
	struct cpm_app *app = arg;
	double now = now_mono();
	static bool rcvbuf_done;
	if (!rcvbuf_done && !app->o->tcp) {
		raise_udp_rcvbuf(); /* nua binds its sockets once the loop runs */
		rcvbuf_done = true;
	}
	for (struct xfer *x = app->xfers, *next; x; x = next) {
		next = x->next;
		if (x->chat) {
			chat_tick(x, now); /* a session has no progress timeout: it may be idle */
			xfer_reap(x);
			continue;
		}
		if (x->state == XS_RINGING && x->dir == XFER_IN && x->answer_at > 0 && now >= x->answer_at &&
		    !app->shutting_down) {
			in_answer_now(x);
		} else if (x->state == XS_INVITING && x->invite_deadline > 0 && now >= x->invite_deadline) {
			errlog(app, "no final answer to the INVITE within %u s", app->o->invite_timeout);
			xfer_done(x, CPM_EXIT_FAILED, "failed: timeout");
		} else if ((x->state == XS_CONNECTING || x->state == XS_ACTIVE ||
			    (x->state == XS_RINGING && x->answer_at == -1)) &&
			   now - x->last_progress > CPM_PROGRESS_TIMEOUT) {
			if (x->dir == XFER_IN)
				msrp_in_abort(x, "timeout", true);
			else
				xfer_done(x, CPM_EXIT_FAILED, "failed: timeout");
		}
		xfer_reap(x);
	}
	chat_cli_app_tick(app);
	if (app->reg_retry_at > 0 && now >= app->reg_retry_at && !app->shutting_down) {
		app->reg_retry_at = 0;
		vlog(app, "SIP: REGISTER again");
		reg_send(app);
	}
	if (app->deadline > 0 && now >= app->deadline && !app->shutting_down) {
		abort_incoming(app, "timeout");
		out_line(app, "failed: timeout");
		agent_finish(app, CPM_EXIT_FAILED);
	}
	if (app->shutting_down)
		shutdown_step(app);
}

static int on_signal(su_root_magic_t *magic, su_wait_t *w, su_wakeup_arg_t *arg)
{
	(void)magic;
	(void)w;
	struct cpm_app *app = arg;
	struct signalfd_siginfo si;
	if (read(app->sig_fd, &si, sizeof si) != (ssize_t)sizeof si)
		return 0;
	if (si.ssi_signo == SIGUSR1) {
		/* What a mobile app does when a push notification wakes it (RFC 8599 §4): refresh its
		 * registration now, on the same handle (same Contact, same connection) */
		if (app->reg_nh && app->registered && !app->shutting_down) {
			errlog(app, "SIGUSR1: refreshing the registration");
			nua_register(app->reg_nh, SIPTAG_EXPIRES_STR("600"), TAG_END());
		}
		return 0;
	}
	if (app->shutting_down) {
		/* second signal: stop waiting */
		sd_stage = SD_BROKEN;
		su_root_break(app->root);
		return 0;
	}
	errlog(app, "signal %u: stopping", si.ssi_signo);
	int code = CPM_EXIT_OK;
	if (app->o->cmd == CMD_SEND || app->o->cmd == CMD_FETCH || app->o->cmd == CMD_LIST ||
	    app->o->cmd == CMD_MESSAGE || app->o->cmd == CMD_CHAT) {
		out_line(app, "failed: interrupted");
		code = CPM_EXIT_FAILED;
	} else if (app->o->cmd == CMD_BLAST) {
		blast_summary(app);
		code = CPM_EXIT_FAILED;
	} else if (app->o->count && app->received < app->o->count) {
		abort_incoming(app, "interrupted");
		out_line(app, "failed: interrupted after %u of %u files", app->received, app->o->count);
		code = CPM_EXIT_FAILED;
	}
	agent_finish(app, code);
	return 0;
}

static int setup_signals(struct cpm_app *app)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1); /* receive: refresh the registration (on_signal) */
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	app->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (app->sig_fd < 0)
		return -1;
	su_wait_t w;
	if (su_wait_create(&w, app->sig_fd, SU_WAIT_IN) < 0)
		return -1;
	app->sig_index = su_root_register(app->root, &w, on_signal, app, 0);
	return app->sig_index > 0 ? 0 : -1;
}

/* ------------------------------------------------------------ run */

/* A port free on ip for UDP and TCP (udp mode) or TCP (tcp mode). */
static int free_port(const char *ip, bool tcp_only)
{
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	hints.ai_socktype = tcp_only ? SOCK_STREAM : SOCK_DGRAM;
	if (getaddrinfo(ip, "0", &hints, &res) != 0 || !res)
		return -1;
	int port = -1;
	int a = socket(res->ai_family, hints.ai_socktype | SOCK_CLOEXEC, 0);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (a >= 0 && bind(a, res->ai_addr, res->ai_addrlen) == 0 &&
	    getsockname(a, (struct sockaddr *)&ss, &sl) == 0) {
		port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						      : ((struct sockaddr_in *)&ss)->sin_port);
		if (!tcp_only) {
			/* the same port must be free for TCP too */
			int b = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (b < 0 || bind(b, (struct sockaddr *)&ss, sl) != 0)
				port = -1;
			if (b >= 0)
				close(b);
		}
	}
	if (a >= 0)
		close(a);
	freeaddrinfo(res);
	return port;
}

int agent_run(struct cpm_app *app)
{
	if (cpm_digest_client_register())
		errlog(app, "cannot install the digest client: SHA-256 challenges will fail");
	struct cpm_opts *o = app->o;
	char bind_url[160], proxy[320], hostpart[80];
	bool v6 = strchr(o->local_ip, ':') != NULL;
	bool sv6 = strchr(o->server_host, ':') != NULL, hv6 = strchr(o->hop_host, ':') != NULL;
	const char *tp = o->tls ? "tls" : o->tcp ? "tcp" : "udp";

	/* every request goes to the first hop (the outbound proxy, else --server); a big one
	 * over TCP to the same hop (proxy_tcp); REGISTER to --server (app->registrar) */
	snprintf(proxy, sizeof proxy, "sip:%s%s%s:%u;transport=%s", hv6 ? "[" : "", o->hop_host, hv6 ? "]" : "",
		 (unsigned)o->hop_port, tp);
	snprintf(app->proxy_tcp, sizeof app->proxy_tcp, "sip:%s%s%s:%u;transport=%s", hv6 ? "[" : "",
		 o->hop_host, hv6 ? "]" : "", (unsigned)o->hop_port, o->tls ? "tls" : "tcp");
	snprintf(app->registrar, sizeof app->registrar, "sip:%s%s%s:%u;transport=%s", sv6 ? "[" : "",
		 o->server_host, sv6 ? "]" : "", (unsigned)o->server_port, tp);
	char name[CPM_URI_MAX + 300], uuid[37];
	snprintf(name, sizeof name, "cpm:%s/%s", o->aor, o->device ? o->device : "");
	uuid_v5(uuid, name);
	snprintf(app->instance, sizeof app->instance, "urn:uuid:%s", uuid);
	snprintf(app->features, sizeof app->features, "+sip.instance=\"<%s>\";+g.3gpp.icsi-ref=\"%s\"", app->instance,
		 CPM_ICSI_FT_ENC);
	char from[CPM_URI_MAX + 2];
	snprintf(from, sizeof from, "<%s>", o->aor);

	su_init();
	if (!o->verbose)
		su_log_set_level(NULL, 0); /* the stack's own chatter (tport errors) only with --verbose */
	app->root = su_root_create(app);
	if (!app->root) {
		out_line(app, "failed: su_root_create");
		return CPM_EXIT_FAILED;
	}
	su_root_threading(app->root, 0);
	if (setup_signals(app) < 0) {
		out_line(app, "failed: cannot set up signal handling");
		return CPM_EXIT_FAILED;
	}
	/* We choose the port ourselves (a free one, retried if it is taken
	 * meanwhile) so that we can write our own Contact: nua's Contact for
	 * INVITE and for our 200 is its "dialog contact", which never carries
	 * NUTAG_M_FEATURES, and CPM needs the feature tags there. --transport
	 * udp binds UDP and TCP on that port (no transport parameter): a request
	 * over 1300 bytes (INVITE with a thumbnail) goes over TCP (RFC 3261
	 * §18.1.1), and a server may do the same towards us. */
	snprintf(hostpart, sizeof hostpart, "%s%s%s", v6 ? "[" : "", o->local_ip, v6 ? "]" : "");
	/* --transport tls: sofia reads the CAs from a directory (sip_tls.h); it checks the
	 * server's certificate chain on every connection we open (TPTLS_VERIFY_OUT). With
	 * --cert/--key the directory holds our client certificate too (agent.pem), which
	 * sofia shows when the server asks for one (cpmd --tls-verify-clients) */
	char tls_dir[SIP_TLS_DIR_MAX] = "";
	if (o->tls) {
		char why[600];
		if (sip_tls_dir_make(o->cert, o->key, o->ca, tls_dir, why, sizeof why)) {
			out_line(app, "failed: TLS: %s", why);
			return CPM_EXIT_FAILED;
		}
	}
	const char *ctp = o->tls ? ";transport=tls" : o->tcp ? ";transport=tcp" : "";
	/* Contact URI parameters: the transport, and --push's RFC 8599 parameters */
	char m_params[400] = "";
	if (o->tcp)
		snprintf(m_params, sizeof m_params, "%s", o->tls ? "transport=tls" : "transport=tcp");
	if (o->push_params) {
		const char *prid = strchr(o->push_params, ':') + 1, *param = strchr(prid, ':');
		size_t len = strlen(m_params);
		snprintf(m_params + len, sizeof m_params - len, "%spn-provider=%.*s;pn-prid=%.*s%s%s", len ? ";" : "",
			 (int)(prid - 1 - o->push_params), o->push_params, (int)(param ? param - prid : (long)strlen(prid)),
			 prid, param ? ";pn-param=" : "", param ? param + 1 : "");
	}
	for (int attempt = 0; attempt < 8 && !app->nua; attempt++) {
		int port = free_port(o->local_ip, o->tcp);
		if (port <= 0)
			continue;
		if (o->tls) /* sofia makes TLS connections from a sips: transport of its own */
			snprintf(bind_url, sizeof bind_url, "sips:%s:%d", hostpart, port);
		else
			snprintf(bind_url, sizeof bind_url, "sip:%s:%d%s", hostpart, port, ctp);
		snprintf(app->contact, sizeof app->contact, "<sip:%s:%d%s>;%s", hostpart, port, ctp, app->features);
		app->nua = nua_create(app->root, agent_cb, app, NUTAG_URL(bind_url), NUTAG_PROXY(proxy),
			      TAG_IF(o->tls, NUTAG_CERTIFICATE_DIR(tls_dir)), TAG_IF(o->tls, TPTAG_TLS_VERSION(0)),
			      TAG_IF(o->tls, TPTAG_TLS_VERIFY_POLICY(TPTLS_VERIFY_OUT)),
			      NUTAG_MEDIA_ENABLE(0), NUTAG_M_FEATURES(app->features),
			      TAG_IF(m_params[0], NUTAG_M_PARAMS(m_params)),
			      NUTAG_OUTBOUND("no-outbound no-validate no-natify no-options-keepalive"),
			      NUTAG_SESSION_TIMER(0), NUTAG_AUTOALERT(0), NUTAG_AUTOANSWER(0),
			      /* we answer MESSAGEs ourselves: 400/415 for bodies we
			       * cannot use (notify.c) */
			      NUTAG_APPL_METHOD("MESSAGE"),
			      /* tport queues at most 64 messages per connection by
			       * default and fails the rest with a made-up 503: a blast
			       * over TCP has that many INVITEs in flight at once */
			      TPTAG_QUEUESIZE(o->parallel * 4 + 64),
			      /* nta moves any request over 1300 bytes to TCP when it
			       * can (RFC 3261 §18.1.1); with the feature tags in
			       * Contact every INVITE of ours is ~1.4 KB. Keep plain
			       * INVITEs on UDP when --transport udp was asked for;
			       * thumbnails go over TCP (xfer_out_start) */
			      NTATAG_UDP_MTU(4096),
			      SIPTAG_FROM_STR(from), SIPTAG_USER_AGENT_STR("cpm/0.1"), TAG_END());
	}
	sip_tls_dir_remove(tls_dir); /* sofia has read it */
	if (!app->nua) {
		out_line(app, "failed: cannot start the SIP stack on %s", bind_url);
		return CPM_EXIT_FAILED;
	}
	vlog(app, "SIP: bound %s, outbound proxy %s, instance %s", bind_url, proxy, app->instance);

	app->tick = su_timer_create(su_root_task(app->root), TICK_MS);
	su_timer_set_for_ever(app->tick, on_tick, app);

	int rc = 0;
	if (o->cmd == CMD_RECEIVE) {
		reg_send(app);
		if (o->timeout)
			app->deadline = now_mono() + o->timeout;
	} else if (o->cmd == CMD_SEND) {
		rc = send_start(app);
	} else if (o->cmd == CMD_BLAST) {
		rc = blast_start(app);
	} else if (o->cmd == CMD_FETCH) {
		rc = fetch_start(app);
	} else if (o->cmd == CMD_LIST) {
		rc = list_start(app);
	} else if (o->cmd == CMD_MESSAGE) {
		rc = message_start(app);
	} else if (o->cmd == CMD_CHAT) {
		rc = chat_start(app);
	}
	if (rc < 0)
		agent_finish(app, CPM_EXIT_FAILED);

	su_root_run(app->root);

	/* Receivers' disk workers (msrp_in_disk.c): stopped, and gone before the process exits
	 * (none may be inside libcrypto then). They leave within one piece of writing. */
	for (struct xfer *x = app->xfers; x; x = x->next)
		in_disk_stop(x);
	if (!disk_ring_wait_all(5000))
		errlog(app, "a disk worker is still writing at exit");
	progress_clear(app);
	su_timer_destroy(app->tick);
	if (app->sig_index > 0)
		su_root_deregister(app->root, app->sig_index);
	chat_cli_free(app); /* its stdin watch is the root's: before the root goes */
	if (nua_down) {
		if (app->reg_nh)
			nua_handle_destroy(app->reg_nh);
		nua_destroy(app->nua);
		su_root_destroy(app->root);
		su_deinit();
	}
	/* else: the stack did not shut down in time; the process exit cleans up */
	free(app->blast_buf);
	free(app->send_thumb);
	free(app->msg_cpim);
	if (app->send_fd >= 0)
		close(app->send_fd);
	return app->exit_code;
}
