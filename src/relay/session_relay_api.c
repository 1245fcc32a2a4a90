/* The public calls of the chat session relay (session_relay.h): create, paths, connect, stats,
 * destroy. The relaying itself is session_relay.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "relay/session_relay_priv.h"

/* ---------------------------------------------------------------- public API */

static void sr_free(struct hub_defer *d)
{
	free((struct session_relay *)(void *)d);
}

int session_relay_create(struct session_relay **rp, struct msrp_hub *h, const struct session_relay_params *p,
			 session_relay_done_f *done, void *arg)
{
	struct session_relay *r;

	*rp = NULL;
	if (!h || !p || !p->max_size || p->max_size > SESSION_RELAY_MAX_SIZE)
		return -EINVAL;
	if ((p->secure[0] || p->secure[1]) && !msrp_hub_tls_port(h))
		return -ENOTSUP;
	r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->hub = h;
	r->done = done;
	r->arg = arg;
	r->max_size = p->max_size;
	r->observe = p->observe;
	r->observe_arg = p->observe_arg;
	r->defer.fn = sr_free;
	r->timer = su_timer_create(su_root_task(hub_root(h)), 0);
	if (!r->timer) {
		free(r);
		return -ENOMEM;
	}
	for (int l = 0; l < 2; l++) {
		struct sr_leg *L = &r->leg[l];

		L->r = r;
		L->which = (enum session_relay_leg)l;
		L->txn = -1;
		L->s.ops = &sr_ops;
		L->s.owner = L;
		if (hub_session_add(h, &L->s)) {
			for (int k = 0; k < l; k++)
				hub_session_del(h, &r->leg[k].s);
			su_timer_destroy(r->timer);
			free(r);
			return -ENOMEM;
		}
		L->in_hub = true;
		hub_session_uri(h, &L->s, p->secure[l], L->uri, sizeof L->uri); /* msrp: or msrps: */
	}
	msrp_log("session %s: created (leg B %s, max-size %llu)", r->leg[0].s.id, r->leg[1].s.id,
		 (unsigned long long)r->max_size);
	*rp = r;
	return 0;
}

const char *session_relay_path(const struct session_relay *r, enum session_relay_leg leg)
{
	return r->leg[leg].uri;
}

int session_relay_set_peer_path(struct session_relay *r, enum session_relay_leg leg, const char *path)
{
	struct sr_leg *L;

	if (!r || (leg != SR_LEG_A && leg != SR_LEG_B) || !relay_frame_path_ok(path))
		return -1;
	L = &r->leg[leg];
	hub_enter(r->hub);
	strcpy(L->peer_path, path);
	L->has_peer = true;
	L->s.peer_path = L->peer_path;
	if (!L->s.conn && !L->bind_deadline && !r->ended) {
		L->bind_deadline = msrp_now_ms() + hub_bind_timeout_ms(r->hub);
		sr_arm(r);
	}
	sr_leg_try_start(sr_other(L));
	hub_leave(r->hub);
	return 0;
}

int session_relay_connect(struct session_relay *r, enum session_relay_leg leg, const char *fingerprint)
{
	struct sr_leg *L = &r->leg[leg];
	/* as the active end we write first, to the negotiated path (ft_relay_connect) */
	if (!L->has_peer || r->ended || !cpm_str_copy(L->peer_from, sizeof L->peer_from, cpm_str_c(L->peer_path)))
		return -EINVAL;
	return hub_session_connect_path(r->hub, &L->s, L->peer_path, fingerprint, L->uri, true);
}

void session_relay_stats(const struct session_relay *r, struct session_relay_stats *out)
{
	for (int l = 0; l < 2; l++) {
		out->relayed[l] = r->leg[l].relayed;
		out->refused[l] = r->leg[l].refused_count;
		out->max_queued[l] = r->leg[l].max_queued;
	}
}

void session_relay_destroy(struct session_relay *r)
{
	struct msrp_hub *h;

	if (!r || r->destroyed)
		return;
	h = r->hub;
	hub_enter(h);
	r->destroyed = true;
	r->ended = true;
	for (int l = 0; l < 2; l++) {
		struct sr_leg *L = &r->leg[l];

		L->cur = NULL;
		if (L->s.conn)
			conn_drain(L->s.conn);
		if (L->in_hub)
			hub_session_del(h, &L->s);
		L->in_hub = false;
		free(L->buf);
		L->buf = NULL;
	}
	sr_timer_stop(r);
	su_timer_destroy(r->timer);
	r->timer = NULL;
	msrp_log("session %s: destroyed", r->leg[0].s.id);
	hub_defer(h, &r->defer);
	hub_leave(h);
}
