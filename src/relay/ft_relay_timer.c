/* The relay's one timer: bind deadlines, the device's stall clock, and the
 * deadlines of responses and of the success REPORT (docs/internals/relay.md,
 * "Timers"). Armed lazily, re-armed when it fires: a chunk costs no timer
 * operation. */
#include "relay/ft_relay_priv.h"

static void relay_timer_cb(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg);

void relay_arm(struct ft_relay *r)
{
	struct msrp_conn *down = relay_conn(r, FT_LEG_DOWN);
	uint64_t at = 0, now;

	if (r->ended || r->destroyed)
		return;
	for (int l = 0; l < 2; l++)
		if (r->leg[l].bind_deadline && (!at || r->leg[l].bind_deadline < at))
			at = r->leg[l].bind_deadline;
	if (down && conn_queued(down)) {
		/* only the stall clock runs while our bytes are queued */
		uint64_t stall = down->last_progress + hub_txn_timeout_ms(r->hub);

		if (!at || stall < at)
			at = stall;
	} else {
		for (int i = 0; i < RELAY_TXNS; i++) {
			const struct txn *t = &r->tab[i];

			if (t->used && t->timed && t->deadline && (!at || t->deadline < at))
				at = t->deadline;
		}
		if (r->report_deadline && (!at || r->report_deadline < at))
			at = r->report_deadline;
	}
	if (!at || (r->timer_armed && r->timer_at <= at))
		return;
	now = msrp_now_ms();
	r->timer_armed = true;
	r->timer_at = at;
	su_timer_set_interval(r->timer, relay_timer_cb, r, at > now ? (su_duration_t)(at - now) : 1);
}

/* The DOWN queue is empty: every request we relayed is now entirely with
 * the device, so its response (and the success REPORT) is due within the
 * transaction timeout from now. Before that, a slow link is not the
 * device's fault. */
void relay_restart_deadlines(struct ft_relay *r)
{
	uint64_t due = msrp_now_ms() + hub_txn_timeout_ms(r->hub);

	for (int i = 0; i < RELAY_TXNS; i++) {
		struct txn *t = &r->tab[i];

		if (t->used && t->timed && t->deadline && t->deadline < due)
			t->deadline = due;
	}
	if (r->report_deadline && r->report_deadline < due)
		r->report_deadline = due;
}

/* Our queue is empty but the kernel may still hold megabytes for the
 * device. As long as that amount keeps changing, the device is receiving:
 * it is slow, not late. */
static bool relay_device_catching_up(struct ft_relay *r, const struct msrp_conn *down)
{
	size_t outq = conn_kernel_unacked(down);
	bool moving = outq && outq != r->last_outq;

	r->last_outq = outq;
	return moving;
}

static void relay_check_timeouts(struct ft_relay *r)
{
	struct msrp_conn *down = relay_conn(r, FT_LEG_DOWN);
	unsigned txn_ms = hub_txn_timeout_ms(r->hub);
	uint64_t now = msrp_now_ms();

	for (int l = 0; l < 2; l++) {
		if (r->leg[l].bind_deadline && r->leg[l].bind_deadline <= now) {
			if (l == FT_LEG_UP)
				relay_finish(r, FT_RELAY_TIMEOUT, "sender leg did not connect within %u s",
					     hub_bind_timeout_ms(r->hub) / 1000);
			else
				relay_recipient_failed(r, FT_RELAY_TIMEOUT,
						       "recipient leg did not connect within %u s",
						       hub_bind_timeout_ms(r->hub) / 1000);
			return;
		}
	}
	if (down && conn_queued(down)) {
		/* Our own bytes are still on their way: the device cannot be
		 * late yet. The stall check below covers one that reads
		 * nothing; the deadlines restart when the queue empties. */
		if (down->last_progress + txn_ms <= now) {
			relay_recipient_failed(r, FT_RELAY_TIMEOUT, "device read nothing for %u ms", txn_ms);
			return;
		}
		relay_arm(r);
		return;
	}
	if (relay_device_catching_up(r, down)) {
		relay_restart_deadlines(r);
		relay_arm(r);
		return;
	}
	for (int i = 0; i < RELAY_TXNS; i++) {
		const struct txn *t = &r->tab[i];

		if (t->used && t->timed && t->deadline && t->deadline <= now) {
			relay_recipient_failed(r, FT_RELAY_TIMEOUT, "no response from the device to a chunk in %u ms",
					       txn_ms);
			return;
		}
	}
	if (r->report_deadline && r->report_deadline <= now && !r->got_report) {
		/* RFC 4975 has no timer for REPORTs; we do, or a device that
		 * never reports would keep the transfer open for ever. */
		relay_recipient_failed(r, FT_RELAY_TIMEOUT, "no success REPORT from the device in %u ms", txn_ms);
		return;
	}
	relay_arm(r);
}

static void relay_timer_cb(su_root_magic_t *m, su_timer_t *t, su_timer_arg_t *arg)
{
	struct ft_relay *r = arg;
	struct msrp_hub *h = r->hub;

	hub_enter(h);
	r->timer_armed = false;
	if (r->done_deferred && !r->destroyed) {
		/* a result relay_finish held back while the owner was calling in */
		r->done_deferred = false;
		if (r->done)
			r->done(r->arg, r->deferred_res, r->deferred_detail);
	} else if (!r->ended && !r->destroyed)
		relay_check_timeouts(r);
	hub_leave(h);
}

void relay_arm_deferred_done(struct ft_relay *r)
{
	r->timer_armed = true;
	r->timer_at = 0;
	su_timer_set_interval(r->timer, relay_timer_cb, r, 0);
}

void relay_txn_start_clock(struct ft_relay *r, bool last)
{
	struct txn *t;

	if (r->fwd_txn < 0)
		return;
	t = &r->tab[r->fwd_txn];
	t->last = last;
	if (t->timed) {
		t->deadline = msrp_now_ms() + hub_txn_timeout_ms(r->hub);
		relay_arm(r);
	}
}
