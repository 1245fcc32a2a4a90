/* sipua on the wire: a real sipua (nua on loopback UDP+TCP) and devices that are plain nua
 * instances in the same loop. Checks what the legs and the fork put on the wire and report:
 * our Contact, the carried headers, CANCEL with its Reason, BYE of the winner, a timeout, the
 * best response, server INVITE and MESSAGE legs, a MESSAGE fork, and that every leg and fork
 * is freed (no leak under ASan). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_tag.h>

#include "common/domains.h"
#include "net/loop_su.h"
#include "sipua/fork.h"
#include "sipua/sipua_int.h"
#include "unit.h"

#define SDP "v=0\r\no=d 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" \
	    "m=message 7777 TCP/MSRP *\r\na=path:msrp://127.0.0.1:7777/abc;tcp\r\n"

enum behaviour { DEV_ANSWER, DEV_RING, DEV_BUSY, DEV_UNAVAILABLE, DEV_SLOW_RING };

struct dev {
	nua_t *nua;
	uint16_t port;
	enum behaviour b;
	struct loop *loop;
	struct loop_timer *t;
	nua_handle_t *in; /* the INVITE being answered */
	int invites, cancels, byes, messages, shutdown;
	char contact[600], conv_id[100], reason[300], from[300], ctype[100], route[300], route2[300], ruri[300];
	/* as a caller */
	int r_status;
	char r_contact[600], r_body[200];
	bool r_terminated;
};

static uint16_t free_port(void)
{
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t l = sizeof a;
		int u = socket(AF_INET, SOCK_DGRAM, 0);
		if (u < 0 || bind(u, (struct sockaddr *)&a, sizeof a) || getsockname(u, (struct sockaddr *)&a, &l)) {
			if (u >= 0)
				close(u);
			continue;
		}
		int t = socket(AF_INET, SOCK_STREAM, 0);
		int ok = t >= 0 && bind(t, (struct sockaddr *)&a, sizeof a) == 0;
		if (t >= 0)
			close(t);
		close(u);
		if (ok)
			return ntohs(a.sin_port);
	}
	return 0;
}

static void hdr(su_home_t *home, const sip_header_t *h, char *out, size_t cap)
{
	char *s = h ? sip_header_as_string(home, h) : NULL;
	snprintf(out, cap, "%s", s ? s : "");
}

static void answer_later(void *arg)
{
	struct dev *d = arg;
	loop_timer_stop(d->t);
	d->t = NULL;
	if (d->in)
		nua_respond(d->in, 200, "OK", SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(SDP),
			    TAG_END());
}

static void ring_later(void *arg)
{
	struct dev *d = arg;
	loop_timer_stop(d->t);
	d->t = NULL;
	if (d->in)
		nua_respond(d->in, 180, "Ringing", TAG_END());
}

static void dev_cb(nua_event_t event, int status, char const *phrase, nua_t *nua, nua_magic_t *magic,
		   nua_handle_t *nh, nua_hmagic_t *hmagic, sip_t const *sip, tagi_t tags[])
{
	struct dev *d = magic;
	su_home_t home[1] = {SU_HOME_INIT(home)};
	int cs = -1;

	switch (event) {
	case nua_i_invite:
		d->invites++;
		d->in = nh;
		hdr(home, (const sip_header_t *)sip->sip_contact, d->contact, sizeof d->contact);
		hdr(home, (const sip_header_t *)sip->sip_from, d->from, sizeof d->from);
		hdr(home, (const sip_header_t *)sip->sip_content_type, d->ctype, sizeof d->ctype);
		for (sip_unknown_t *u = sip->sip_unknown; u; u = u->un_next)
			if (!strcasecmp(u->un_name, "Conversation-ID"))
				snprintf(d->conv_id, sizeof d->conv_id, "%s", u->un_value);
		if (d->b == DEV_BUSY) {
			nua_respond(nh, 486, "Busy Here", TAG_END());
		} else if (d->b == DEV_UNAVAILABLE) {
			nua_respond(nh, 480, "Temporarily Unavailable", TAG_END());
		} else if (d->b == DEV_SLOW_RING) {
			d->t = loop_timer_once(d->loop, 500, ring_later, d); /* no 1xx before the winner */
		} else {
			nua_respond(nh, 180, "Ringing", TAG_END());
			if (d->b == DEV_ANSWER)
				d->t = loop_timer_once(d->loop, 200, answer_later, d);
		}
		break;
	case nua_i_cancel:
		d->cancels++;
		hdr(home, (const sip_header_t *)(sip ? sip->sip_reason : NULL), d->reason, sizeof d->reason);
		break;
	case nua_i_bye:
		d->byes++;
		break;
	case nua_i_message:
		d->messages++;
		hdr(home, (const sip_header_t *)sip->sip_route, d->route, sizeof d->route);
		hdr(home, (const sip_header_t *)(sip->sip_route ? sip->sip_route->r_next : NULL), d->route2,
		    sizeof d->route2);
		if (sip->sip_request)
			url_e(d->ruri, sizeof d->ruri, sip->sip_request->rq_url);
		nua_respond(nh, 202, "Accepted", NUTAG_WITH_THIS(nua), TAG_END());
		nua_handle_destroy(nh);
		break;
	case nua_r_register:
	case nua_r_invite:
	case nua_r_message:
		if (status >= 200) {
			d->r_status = status;
			hdr(home, (const sip_header_t *)(sip ? sip->sip_contact : NULL), d->r_contact, sizeof d->r_contact);
			if (sip && sip->sip_payload)
				snprintf(d->r_body, sizeof d->r_body, "%.*s", (int)sip->sip_payload->pl_len,
					 sip->sip_payload->pl_data);
		}
		if ((event == nua_r_message || event == nua_r_register) && status >= 200)
			d->r_terminated = true;
		break;
	case nua_i_state:
		tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
		if (cs == nua_callstate_terminated) {
			if (hmagic)
				d->r_terminated = true; /* our own call (the test destroys it) */
			else {
				if (nh == d->in)
					d->in = NULL;
				nua_handle_destroy(nh);
			}
		}
		break;
	case nua_r_shutdown:
		if (status >= 200)
			d->shutdown = 1;
		break;
	default:
		break;
	}
	su_home_deinit(home);
}

struct env {
	struct loop *loop;
	struct location *loc;
	struct domain_set doms;
	struct sipua *ua;
	uint16_t port;
	struct dev dev[2];
};

static int dev_start(struct env *e, struct dev *d, enum behaviour b)
{
	char url[64];
	memset(d, 0, sizeof *d);
	d->b = b;
	d->loop = e->loop;
	d->port = free_port();
	snprintf(url, sizeof url, "sip:127.0.0.1:%u", d->port);
	d->nua = nua_create(loop_su_root(e->loop), dev_cb, d, NUTAG_URL(url), NUTAG_MEDIA_ENABLE(0), NUTAG_AUTOANSWER(0),
			    NUTAG_AUTOALERT(0), NUTAG_APPL_METHOD("MESSAGE"), NUTAG_ENABLEMESSAGE(1), TAG_END());
	return d->port && d->nua ? 0 : -1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs the loop until cond holds, at most 5 s (loop_step may return before its time). */
static bool step_until(struct env *e, bool (*cond)(void *), void *arg)
{
	double end = now_s() + 5;
	while (now_s() < end) {
		if (cond(arg))
			return true;
		loop_step(e->loop, 10);
	}
	return cond(arg);
}

static void dev_stop(struct env *e, struct dev *d)
{
	if (!d->nua)
		return;
	loop_timer_stop(d->t);
	nua_shutdown(d->nua);
	for (double end = now_s() + 3; !d->shutdown && now_s() < end;)
		loop_step(e->loop, 10);
	nua_destroy(d->nua);
	d->nua = NULL;
}

static int env_start(struct env *e, enum behaviour b0, enum behaviour b1)
{
	memset(e, 0, sizeof *e);
	if (loop_create(&e->loop) || location_create(&e->loc, 10, 4))
		return -1;
	domain_set_add(&e->doms, "example.com", 11);
	e->port = free_port();
	struct sipua_config cfg = {
		.host = "127.0.0.1",
		.port = e->port,
		.domains = &e->doms,
		.reg_min_expires = 10,
		.reg_max_expires = 3600,
		.contact_params = "+g.test",
	};
	if (sipua_create(&e->ua, e->loop, &cfg, e->loc, NULL))
		return -1;
	return dev_start(e, &e->dev[0], b0) || dev_start(e, &e->dev[1], b1) ? -1 : 0;
}

static bool ua_empty(void *arg)
{
	struct env *e = arg;
	return !e->ua->legs && !e->ua->forks;
}

/* Ends everything; true when sipua had no leg or fork left once the calls ended. */
static bool env_stop(struct env *e)
{
	bool clean = step_until(e, ua_empty, e);
	dev_stop(e, &e->dev[0]);
	dev_stop(e, &e->dev[1]);
	sipua_destroy(e->ua);
	location_destroy(e->loc);
	loop_destroy(e->loop);
	return clean;
}

static void target(const struct dev *d, char *contact, char *flow, struct sip_target *t)
{
	sprintf(contact, "sip:bob@127.0.0.1:%u", d->port);
	sprintf(flow, "sip:127.0.0.1:%u;transport=udp", d->port);
	t->contact = contact;
	t->flow = flow;
	t->tcp = false;
}

/* ---------------------------------------------------------------- fork owner */

struct owner {
	int dones, progress;
	struct sip_fork_result r;
	char device[64];
	struct sip_leg *winner;
	bool winner_ended;
	bool accept_checked;
};

static void winner_cb(void *arg, struct sip_leg *leg, enum sip_leg_event ev, const struct sip_msg *m)
{
	struct owner *o = arg;
	if (ev == SIP_LEG_TERMINATED) {
		o->winner_ended = true;
		o->winner = NULL;
		sip_leg_release(leg);
	}
}

static void o_progress(void *arg, struct sip_fork *f, unsigned branch, int status)
{
	((struct owner *)arg)->progress++;
}

static bool o_accept(void *arg, struct sip_fork *f, unsigned branch, struct sip_leg *leg, const struct sip_msg *m)
{
	struct cpm_arena a = CPM_ARENA_INIT;
	struct cpm_str sdp;
	struct mime_part parts[4];
	size_t np;
	bool ok = sip_msg_body_sdp(m, &a, &sdp, parts, &np) == 0 && sdp.len == strlen(SDP) && sip_msg_status(m) == 200;
	((struct owner *)arg)->accept_checked = ok;
	cpm_arena_free(&a);
	return ok;
}

static void o_done(void *arg, struct sip_fork *f, const struct sip_fork_result *r)
{
	struct owner *o = arg;
	o->dones++;
	o->r = *r;
	snprintf(o->device, sizeof o->device, "%s", r->device ? r->device : "");
	if (r->winner) {
		o->winner = r->winner;
		sip_leg_bind(r->winner, winner_cb, o);
	}
	sip_fork_destroy(f); /* the fork lives on until its other legs ended */
}

static const struct sip_fork_ops ops = {o_progress, o_accept, o_done, NULL};
static const struct sip_fork_ops msg_ops = {o_progress, NULL, o_done, NULL}; /* every 2xx is fine */

static bool has_done(void *arg)
{
	return ((struct owner *)arg)->dones > 0;
}

static int start_fork(struct env *e, struct owner *o, enum sip_fork_method method, unsigned timeout_ms, int ndev)
{
	static const struct sip_body body = {"application/sdp", SDP, sizeof SDP - 1};
	struct sip_request rq = {"<sip:bob@example.com>", "\"Alice A.\" <sip:alice@example.com>", &body,
				 "Conversation-ID: conv-1\r\nContribution-ID: contrib-1\r\n", NULL};
	struct sip_fork_params p = {method, &rq, timeout_ms, 4, "test f1"};
	struct sip_fork *f = NULL;
	char c[2][80], fl[2][80];
	struct sip_target t[2];

	if (sip_fork_create(&f, e->ua, e->loop, &p, method == SIP_FORK_INVITE ? &ops : &msg_ops, o))
		return -1;
	for (int i = 0; i < ndev; i++) {
		char devkey[16];
		snprintf(devkey, sizeof devkey, "dev%d", i);
		target(&e->dev[i], c[i], fl[i], &t[i]);
		if (sip_fork_add(f, &t[i], devkey))
			return -2;
		if (!sip_fork_has_device(f, devkey) || sip_fork_add(f, &t[i], devkey) != -EEXIST)
			return -3;
	}
	sip_fork_start(f);
	return 0;
}

static bool dev1_cancelled(void *arg)
{
	struct env *e = arg;
	return e->dev[1].cancels > 0;
}

static bool dev0_cancelled(void *arg)
{
	return ((struct env *)arg)->dev[0].cancels > 0;
}

static bool winner_ended(void *arg)
{
	return ((struct owner *)arg)->winner_ended;
}

UNIT_TEST(fork_first_2xx_wins_the_other_is_cancelled)
{
	struct env e;
	struct owner o;
	memset(&o, 0, sizeof o);
	CHECK(env_start(&e, DEV_ANSWER, DEV_RING) == 0);
	CHECK_EQ_INT(start_fork(&e, &o, SIP_FORK_INVITE, 5000, 2), 0);
	CHECK(step_until(&e, has_done, &o));
	CHECK_EQ_INT(o.dones, 1);
	CHECK_EQ_INT(o.r.outcome, SIP_FORK_ANSWERED);
	CHECK_EQ_INT(o.r.branch, 0);
	CHECK_STR(o.device, "dev0");
	CHECK(o.accept_checked);
	CHECK(o.winner != NULL);
	CHECK(o.progress >= 2);
	/* what the devices saw */
	char want[200];
	snprintf(want, sizeof want, "<sip:127.0.0.1:%u>;+g.test", e.port);
	CHECK_STR(e.dev[0].contact, want);
	CHECK_STR(e.dev[0].conv_id, "conv-1");
	CHECK(strstr(e.dev[0].from, "\"Alice A.\" <sip:alice@example.com>") == e.dev[0].from);
	CHECK_STR(e.dev[0].ctype, "application/sdp");
	CHECK(step_until(&e, dev1_cancelled, &e));
	CHECK(strstr(e.dev[1].reason, "cause=200") && strstr(e.dev[1].reason, "Call completed elsewhere"));
	CHECK_EQ_INT(e.dev[0].cancels, 0);
	/* the owner hangs the winner up */
	sip_leg_bye(o.winner);
	CHECK(step_until(&e, winner_ended, &o));
	CHECK_EQ_INT(e.dev[0].byes, 1);
	CHECK(env_stop(&e));
}

UNIT_TEST(fork_cancel_waits_for_the_1xx)
{
	struct env e;
	struct owner o;
	memset(&o, 0, sizeof o);
	CHECK(env_start(&e, DEV_ANSWER, DEV_SLOW_RING) == 0);
	CHECK_EQ_INT(start_fork(&e, &o, SIP_FORK_INVITE, 5000, 2), 0);
	CHECK(step_until(&e, has_done, &o));
	CHECK_EQ_INT(o.r.outcome, SIP_FORK_ANSWERED);
	CHECK_EQ_INT(e.dev[1].cancels, 0); /* it has not rung yet: no CANCEL yet */
	CHECK(step_until(&e, dev1_cancelled, &e));
	CHECK(strstr(e.dev[1].reason, "Call completed elsewhere"));
	sip_leg_bye(o.winner);
	CHECK(step_until(&e, winner_ended, &o));
	CHECK(env_stop(&e));
}

UNIT_TEST(fork_best_response_and_timeout)
{
	struct env e;
	struct owner o;
	memset(&o, 0, sizeof o);
	CHECK(env_start(&e, DEV_BUSY, DEV_UNAVAILABLE) == 0);
	CHECK_EQ_INT(start_fork(&e, &o, SIP_FORK_INVITE, 5000, 2), 0);
	CHECK(step_until(&e, has_done, &o));
	CHECK_EQ_INT(o.r.outcome, SIP_FORK_FAILED);
	CHECK_EQ_INT(o.r.status, 486);
	CHECK_STR(o.r.phrase, "Busy Here");
	CHECK(!o.r.all_unavailable);
	CHECK(env_stop(&e));

	memset(&o, 0, sizeof o);
	CHECK(env_start(&e, DEV_RING, DEV_UNAVAILABLE) == 0);
	CHECK_EQ_INT(start_fork(&e, &o, SIP_FORK_INVITE, 400, 2), 0);
	CHECK(step_until(&e, has_done, &o));
	CHECK_EQ_INT(o.r.outcome, SIP_FORK_TIMEOUT);
	CHECK(step_until(&e, dev0_cancelled, &e));
	CHECK_EQ_INT(e.dev[1].cancels, 0); /* it answered 480: nothing to cancel */
	CHECK(strstr(e.dev[0].reason, "cause=480") && strstr(e.dev[0].reason, "No answer"));
	CHECK(env_stop(&e));
}

UNIT_TEST(fork_of_messages)
{
	struct env e;
	struct owner o;
	memset(&o, 0, sizeof o);
	CHECK(env_start(&e, DEV_RING, DEV_RING) == 0);
	CHECK_EQ_INT(start_fork(&e, &o, SIP_FORK_MESSAGE, 5000, 1), 0);
	CHECK(step_until(&e, has_done, &o));
	CHECK_EQ_INT(o.r.outcome, SIP_FORK_ANSWERED);
	CHECK_EQ_INT(e.dev[0].messages, 1);
	CHECK_EQ_INT(e.dev[0].cancels, 0);
	/* the MESSAGE winner ended right after done */
	CHECK(o.winner_ended);
	CHECK(env_stop(&e));
}

/* A pre-loaded route (AS mode: back to the core along the route it gave us): the MESSAGE goes
 * to the first Route entry — here the device, although the Request-URI names a host that
 * does not resolve — and carries the route set as Route headers. */
static bool dev0_got_message(void *arg)
{
	struct env *e = arg;
	return e->dev[0].messages > 0;
}

static void route_leg_cb(void *arg, struct sip_leg *leg, enum sip_leg_event ev, const struct sip_msg *m)
{
	if (ev == SIP_LEG_TERMINATED)
		sip_leg_release(leg);
}

UNIT_TEST(message_with_a_preloaded_route)
{
	struct env e;
	char route[160];
	CHECK(env_start(&e, DEV_RING, DEV_RING) == 0);
	snprintf(route, sizeof route, "<sip:127.0.0.1:%u;lr;odi=abc>, <sip:127.0.0.1:9;lr>", e.dev[0].port);
	struct sip_request rq = {.to = "<sip:bob@example.com>", .from = "<sip:alice@example.com>", .route = route};
	struct sip_target t = {.contact = "sip:bob@unresolvable.invalid"};
	struct sip_leg *leg = NULL;
	CHECK_EQ_INT(sip_leg_message(e.ua, &rq, &t, route_leg_cb, NULL, &leg), 0);
	CHECK(step_until(&e, dev0_got_message, &e));
	CHECK_STR(e.dev[0].ruri, "sip:bob@unresolvable.invalid");
	CHECK(strstr(e.dev[0].route, "odi=abc") != NULL);
	CHECK(strstr(e.dev[0].route2, "127.0.0.1:9;lr") != NULL);
	CHECK(env_stop(&e));
}

/* ---------------------------------------------------------------- requests to sipua */

/* What the MESSAGE handler does: answer at once; bind the leg and answer it from a timer;
 * neither (sipua answers 500); bind it and release it unanswered (sipua answers 500). */
enum msg_mode { MSG_NOW, MSG_LATER, MSG_NEITHER, MSG_DROP };

struct srv {
	int invites, messages, byes, terminated;
	bool reject;
	char ruri_user[SIP_ADDR_PART_MAX], from_display[SIP_DISPLAY_MAX], from_raw[SIP_DISPLAY_RAW_MAX], conv[64], carried[400];
	bool tcp;
	enum msg_mode msg_mode;
	struct loop *loop;
	struct loop_timer *t;
	struct sip_leg *later; /* MSG_LATER: the bound leg, answered by the timer */
	int later_rc;
};

static void srv_leg_cb(void *arg, struct sip_leg *leg, enum sip_leg_event ev, const struct sip_msg *m)
{
	struct srv *s = arg;
	if (ev == SIP_LEG_BYE)
		s->byes++;
	if (ev == SIP_LEG_TERMINATED) {
		s->terminated++;
		sip_leg_release(leg);
	}
}

static void on_invite(void *arg, struct sip_leg *leg, const struct sip_msg *m)
{
	struct srv *s = arg;
	struct sip_addr a;
	struct cpm_arena ar = CPM_ARENA_INIT;
	s->invites++;
	if (sip_msg_request_uri(m, &a) == 0)
		snprintf(s->ruri_user, sizeof s->ruri_user, "%s", a.user);
	if (sip_msg_from(m, &a) == 0) {
		snprintf(s->from_display, sizeof s->from_display, "%s", a.display);
		snprintf(s->from_raw, sizeof s->from_raw, "%s", a.display_raw);
	}
	sip_msg_header(m, "Conversation-ID", s->conv, sizeof s->conv);
	char *c = sip_msg_carried_headers(m, &ar, NULL);
	snprintf(s->carried, sizeof s->carried, "%s", c ? c : "");
	s->tcp = sip_leg_over_tcp(leg);
	cpm_arena_free(&ar);
	if (s->reject) {
		sip_leg_respond(leg, 486, "Busy Here", NULL); /* not bound: sipua releases it */
		return;
	}
	sip_leg_bind(leg, srv_leg_cb, s);
	static const struct sip_body body = {"application/sdp", SDP, sizeof SDP - 1};
	struct sip_respond_opts o = {.body = &body, .contact = true};
	sip_leg_respond(leg, 180, "Ringing", NULL);
	sip_leg_respond(leg, 200, "OK", &o);
	if (sip_leg_respond(leg, 200, "OK", &o) != -EALREADY)
		s->invites = -100;
}

static void msg_leg_cb(void *arg, struct sip_leg *leg, enum sip_leg_event ev, const struct sip_msg *m)
{
	((struct srv *)arg)->terminated = -100; /* a server MESSAGE leg gets no event */
}

static void answer_message_later(void *arg)
{
	struct srv *s = arg;
	static const struct sip_body body = {"text/plain", "later", 5};
	struct sip_respond_opts o = {.body = &body, .headers = "Cpm-Stored: x1\r\n"};
	loop_timer_stop(s->t);
	s->t = NULL;
	s->later_rc = sip_leg_respond(s->later, 202, "Accepted", &o);
	if (sip_leg_respond(s->later, 200, "OK", NULL) != -EALREADY)
		s->later_rc = -100;
	sip_leg_release(s->later);
	s->later = NULL;
}

static void on_message(void *arg, struct sip_leg *leg, const struct sip_msg *m)
{
	struct srv *s = arg;
	struct cpm_arena ar = CPM_ARENA_INIT;
	s->messages++;
	char *c = sip_msg_carried_headers(m, &ar, CPM_MSG_ICSI_TAG); /* a MESSAGE's default service */
	snprintf(s->carried, sizeof s->carried, "%s", c ? c : "");
	cpm_arena_free(&ar);
	static const struct sip_body body = {"text/plain", "pong", 4};
	struct sip_respond_opts o = {.body = &body};
	switch (s->msg_mode) {
	case MSG_NOW:
		sip_leg_respond(leg, 200, "OK", &o);
		break;
	case MSG_LATER:
		sip_leg_bind(leg, msg_leg_cb, s);
		s->later = leg;
		s->t = loop_timer_once(s->loop, 300, answer_message_later, s);
		break;
	case MSG_NEITHER:
		break;
	case MSG_DROP:
		sip_leg_bind(leg, msg_leg_cb, s);
		sip_leg_release(leg);
		break;
	}
}

static bool caller_done(void *arg)
{
	return ((struct dev *)arg)->r_status >= 200;
}

static bool caller_terminated(void *arg)
{
	return ((struct dev *)arg)->r_terminated;
}

UNIT_TEST(server_invite_and_message_legs)
{
	struct env e;
	struct srv s;
	char to[80];
	memset(&s, 0, sizeof s);
	CHECK(env_start(&e, DEV_RING, DEV_RING) == 0);
	sipua_set_handlers(e.ua, on_invite, on_message, &s);
	struct dev *d = &e.dev[0];
	snprintf(to, sizeof to, "sip:bob@example.com");
	char url[80];
	snprintf(url, sizeof url, "sip:bob@127.0.0.1:%u", e.port);
	nua_handle_t *nh = nua_handle(d->nua, d, SIPTAG_TO_STR("<sip:bob@example.com>"),
				      SIPTAG_FROM_STR("\"Al \\\"x\\\"\" <sip:alice@example.com>"), TAG_END());
	nua_invite(nh, NUTAG_URL(url), SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(SDP),
		   SIPTAG_HEADER_STR("Conversation-ID: c-9\r\n"), TAG_END());
	CHECK(step_until(&e, caller_done, d));
	CHECK_EQ_INT(d->r_status, 200);
	char want[200];
	snprintf(want, sizeof want, "<sip:127.0.0.1:%u>;+g.test", e.port);
	CHECK_STR(d->r_contact, want);
	CHECK_STR(d->r_body, SDP);
	CHECK_EQ_INT(s.invites, 1);
	CHECK_STR(s.ruri_user, "bob");
	CHECK_STR(s.from_display, "Al \"x\"");
	CHECK_STR(s.from_raw, "\"Al \\\"x\\\"\"");
	CHECK_STR(s.conv, "c-9");
	CHECK(strstr(s.carried, "Conversation-ID: c-9\r\n") != NULL);
	CHECK(strstr(s.carried, "Accept-Contact: *;" CPM_FT_ICSI_TAG "\r\n") != NULL); /* the default */
	CHECK(!s.tcp);
	/* the caller hangs up: BYE then TERMINATED on our leg */
	nua_bye(nh, TAG_END());
	CHECK(step_until(&e, caller_terminated, d));
	CHECK(step_until(&e, ua_empty, &e));
	CHECK_EQ_INT(s.byes, 1);
	CHECK_EQ_INT(s.terminated, 1);
	nua_handle_destroy(nh);

	/* rejected without a bind: sipua releases the leg when the call ends */
	s.reject = true;
	d->r_status = 0;
	d->r_terminated = false;
	nh = nua_handle(d->nua, d, SIPTAG_TO_STR("<sip:bob@example.com>"), SIPTAG_FROM_STR("<sip:alice@example.com>"),
			TAG_END());
	nua_invite(nh, NUTAG_URL(url), SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(SDP),
		   SIPTAG_ACCEPT_CONTACT_STR("*;" CPM_SESSION_ICSI_TAG), TAG_END());
	CHECK(step_until(&e, caller_done, d));
	CHECK_EQ_INT(d->r_status, 486);
	CHECK(strstr(s.carried, "Accept-Contact: *;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.oma.cpm.session\"") != NULL);
	CHECK(step_until(&e, ua_empty, &e));
	nua_handle_destroy(nh);

	/* a MESSAGE is answered by the handler on its own transaction */
	d->r_status = 0;
	nh = nua_handle(d->nua, d, SIPTAG_TO_STR("<sip:bob@example.com>"), SIPTAG_FROM_STR("<sip:alice@example.com>"),
			TAG_END());
	nua_message(nh, NUTAG_URL(url), SIPTAG_CONTENT_TYPE_STR("text/plain"), SIPTAG_PAYLOAD_STR("ping"), TAG_END());
	CHECK(step_until(&e, caller_done, d));
	CHECK_EQ_INT(d->r_status, 200);
	CHECK_STR(d->r_body, "pong");
	CHECK_EQ_INT(s.messages, 1);
	CHECK(strstr(s.carried, "Accept-Contact: *;" CPM_MSG_ICSI_TAG "\r\n") != NULL);
	CHECK(step_until(&e, ua_empty, &e)); /* not bound: released when the handler returned */
	nua_handle_destroy(nh);

	/* ... or, bound, after the handler returned (the sender waits: no answer before) */
	static const enum msg_mode modes[] = {MSG_LATER, MSG_NEITHER, MSG_DROP};
	static const int want_status[] = {202, 500, 500};
	s.loop = e.loop;
	for (int i = 0; i < 3; i++) {
		s.msg_mode = modes[i];
		d->r_status = 0;
		d->r_body[0] = 0;
		nh = nua_handle(d->nua, d, SIPTAG_TO_STR("<sip:bob@example.com>"), SIPTAG_FROM_STR("<sip:alice@example.com>"),
				TAG_END());
		nua_message(nh, NUTAG_URL(url), SIPTAG_CONTENT_TYPE_STR("text/plain"), SIPTAG_PAYLOAD_STR("ping"),
			    TAG_END());
		if (modes[i] == MSG_LATER) {
			double t0 = now_s();
			while (!s.later && now_s() < t0 + 2)
				loop_step(e.loop, 10);
			CHECK(s.later != NULL);
			loop_step(e.loop, 50);
			CHECK_EQ_INT(d->r_status, 0);
			CHECK(e.ua->legs != NULL); /* kept while unanswered */
		}
		CHECK(step_until(&e, caller_done, d));
		CHECK_EQ_INT(d->r_status, want_status[i]);
		if (modes[i] == MSG_LATER) {
			CHECK_EQ_INT(s.later_rc, 0);
			CHECK_STR(d->r_body, "later");
		}
		CHECK(step_until(&e, ua_empty, &e));
		nua_handle_destroy(nh);
	}
	CHECK_EQ_INT(s.messages, 4);
	CHECK_EQ_INT(s.terminated, 1); /* the INVITE's only */
	CHECK(env_stop(&e));
}

struct hooked {
	int n;
	char aor[80];
	bool fresh;
};

static void reg_hook(void *arg, const char *aor, const char *instance, bool fresh)
{
	struct hooked *h = arg;
	h->n++;
	h->fresh = fresh;
	snprintf(h->aor, sizeof h->aor, "%s", aor);
}

static int do_register(struct env *e, struct dev *d, const char *to)
{
	char reg[80];
	snprintf(reg, sizeof reg, "sip:127.0.0.1:%u", e->port);
	d->r_status = 0;
	nua_handle_t *nh = nua_handle(d->nua, d, SIPTAG_TO_STR(to), SIPTAG_FROM_STR(to), TAG_END());
	nua_register(nh, NUTAG_REGISTRAR(reg), SIPTAG_EXPIRES_STR("600"), TAG_END());
	step_until(e, caller_done, d);
	nua_handle_destroy(nh);
	return d->r_status;
}

UNIT_TEST(registrar_serves_the_configured_domains)
{
	struct env e;
	struct hooked h;
	struct loc_device devs[4];
	memset(&h, 0, sizeof h);
	CHECK(env_start(&e, DEV_RING, DEV_RING) == 0);
	sipua_set_register_hook(e.ua, reg_hook, &h);
	CHECK_EQ_INT(do_register(&e, &e.dev[0], "<sip:bob@Example.COM>"), 200);
	CHECK_EQ_INT(h.n, 1);
	CHECK_STR(h.aor, "bob@example.com");
	CHECK(h.fresh);
	CHECK_EQ_INT(location_lookup(e.loc, "bob@example.com", devs, 4), 1);
	char flow[80];
	snprintf(flow, sizeof flow, "sip:127.0.0.1:%u;transport=udp", e.dev[0].port);
	CHECK_STR(devs[0].flow, flow);
	CHECK_EQ_INT(do_register(&e, &e.dev[1], "<sip:carol@other.example>"), 403);
	CHECK_EQ_INT(h.n, 1);
	CHECK(env_stop(&e));
}

UNIT_MAIN(T(registrar_serves_the_configured_domains), T(fork_first_2xx_wins_the_other_is_cancelled), T(fork_cancel_waits_for_the_1xx), T(fork_best_response_and_timeout), T(fork_of_messages),
	  T(server_invite_and_message_legs), T(message_with_a_preloaded_route))
