/* The start-up sweep (pf_start): what waited for the users of the store while cpmd was down is
 * looked at again once cpmd serves — every user with a saved registration is kicked (their
 * waiting notifications flushed, their items pushed: pf_notify_flush, pf_deliver_kick), then
 * the users of other domains with items (pf_kick_other_domains), then the devices asleep
 * (pf_push_start), in that order, as before.
 *
 * Why in slices: ~70 µs per user (their preferences, notifications and items read, deliveries
 * started) is 1-4 s at 100,000 bound users and 10-40 s at 1,000,000 (AS mode), during which a
 * sweep run before the loop answered no SIP and kept one read cursor of the store open (which
 * holds WAL checkpoints back). So it runs as one page per loop turn, like the location
 * service's expiry (sipua.c, SIPUA_SWEEP_SLICES): a page of PF_START_PAGE registrations is
 * read (store_regs_page: keyed by (aor, instance), the cursor closed when the read returns),
 * its users are kicked, and the next page waits for the next turn (a 0-ms loop timer), so
 * what came in meanwhile (SIP, MSRP, completions) is served between two pages.
 *
 * Why the store's table and not the location table in memory: the pages are keyed by the
 * registrations' own key, so rows added or removed between two pages (REGISTERs, the expiry)
 * neither shift nor repeat the walk; it is the set the sweep before the loop read (what was
 * saved before the restart); and it needs no cursor into sipua's hash table (whose buckets
 * pf does not know). A page costs one index seek. (docs/internals/pf.md "Start-up sweep".)
 *
 * A user who registers while the sweep runs is kicked by that REGISTER and again when the
 * sweep reaches them: harmless. Items being delivered, or finished but not yet deleted, are
 * skipped by the kick (pf_item_busy), a notification in flight or not yet deleted after its
 * 200 is not sent again (pf_notify.c), and the sweep's kicks are not "fresh" (a retry's
 * back-off that a failed delivery started meanwhile is kept; at start there is none). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/mono_clock.h"
#include "pf/pf_int.h"

/* Registrations read and users kicked per loop turn: 256 × 70-120 µs ≈ 18-30 ms of loop time
 * (measured: 100,000 users with 2 pushes each, Release; a user with no device or nothing
 * waiting costs much less), a short wait for a SIP request that comes in during the sweep; the
 * 1 ms between two turns (the loop's shortest timer) is a few % of the sweep's length. */
#define PF_START_PAGE 256
/* Recipients with items looked at per turn for other domains (one index seek each; users of
 * ours are skipped, those of other domains kicked). */
#define PF_START_DOMAINS_PAGE 1024

enum pf_start_phase { START_REGS, START_OTHER_DOMAINS };

struct pf_start {
	struct pf *pf;
	struct loop_timer *timer;
	enum pf_start_phase phase;
	int64_t t0_ms;
	unsigned rows, users, pages, other_users;
	/* where the walk of the registrations stands: the last key read */
	char after_aor[STORE_AOR_MAX + 1], after_instance[STORE_INSTANCE_MAX + 1];
	char last_user[STORE_AOR_MAX + 1]; /* kicked last: a user's devices are one kick */
	char after_rcpt[STORE_AOR_MAX + 1]; /* the walk of other domains' recipients */
	/* the page: its users, read before any is kicked (a kick reads the store: no scan may
	 * start inside another's callback, store.h) */
	size_t n;
	char page[PF_START_PAGE][STORE_AOR_MAX + 1];
};


static int collect(void *arg, const struct store_reg *r)
{
	struct pf_start *w = arg;
	PF_COPY(w->after_aor, r->aor);
	PF_COPY(w->after_instance, r->instance);
	/* rows come in aor order: a user's devices are next to each other (also across pages:
	 * last_user is the last user of the page before) */
	const char *prev = w->n ? w->page[w->n - 1] : w->last_user;
	if (strcmp(prev, r->aor))
		PF_COPY(w->page[w->n++], r->aor);
	return 0;
}

static void finish(struct pf_start *w, const char *why)
{
	struct pf *pf = w->pf;
	int64_t ms = mono_ms() - w->t0_ms;
	if (why)
		log_info("start-up sweep %s after %u registrations (%u users) in %" PRId64 " ms", why, w->rows,
			 w->users, ms);
	else
		log_info("start-up sweep: %u registrations in %" PRId64 " ms (%u users, %u pages)", w->rows, ms,
			 w->users, w->pages);
	loop_timer_stop(w->timer);
	pf->start = NULL;
	free(w);
}

/* One page of registrations; true when it was the last. */
static bool regs_page(struct pf_start *w)
{
	struct pf *pf = w->pf;
	w->n = 0;
	int rc = store_regs_page(pf->st, w->after_aor, w->after_instance, PF_START_PAGE, collect, w);
	if (rc < 0) {
		log_error("start-up sweep: cannot read the saved registrations after '%s': %s (the users not "
			  "kicked yet are when they register, or at their retry)",
			  w->after_aor, strerror(-rc));
		return true;
	}
	w->rows += (unsigned)rc;
	w->pages++;
	for (size_t i = 0; i < w->n && !pf->stopping; i++) {
		pf_notify_flush(pf, w->page[i]);
		/* not fresh: at start no retry waits; one that a delivery failing meanwhile started
		 * (the user registered during the sweep) keeps its back-off */
		pf_deliver_kick(pf, w->page[i], false);
		w->users++;
	}
	if (w->n)
		memcpy(w->last_user, w->page[w->n - 1], sizeof w->last_user);
	return rc < PF_START_PAGE;
}

/* One turn's work; true when the sweep is over. */
static bool step(struct pf_start *w)
{
	struct pf *pf = w->pf;
	if (w->phase == START_REGS) {
		if (regs_page(w))
			w->phase = START_OTHER_DOMAINS;
		return false; /* the next phase at the next turn */
	}
	if (!pf_kick_other_domains(pf, w->after_rcpt, PF_START_DOMAINS_PAGE, &w->other_users))
		return false;
	if (w->other_users)
		log_info("start-up: deliveries to %u user(s) of other domains retried", w->other_users);
	/* last, as before the sweep was sliced: the devices loaded from the store whose binding is
	 * gone. It does not need the kicks to have run: it wakes devices that have no binding,
	 * which a kick of their user wakes the same way (pf_push_wake), and a device's wake-up
	 * rules (one outstanding, once per item) make the two one wake-up. */
	pf_push_start(pf);
	return true;
}

static void turn(void *arg)
{
	struct pf_start *w = arg;
	loop_timer_stop(w->timer);
	w->timer = NULL;
	if (w->pf->stopping) {
		finish(w, "stopped by the shutdown");
		return;
	}
	if (step(w)) {
		finish(w, NULL);
		return;
	}
	/* the next page at the next turn of the loop */
	if ((w->timer = loop_timer_once(w->pf->loop, 0, turn, w)))
		return;
	log_warn("start-up sweep: no timer for the next page (out of memory): the rest runs now");
	while (!w->pf->stopping && !step(w))
		;
	finish(w, NULL);
}

void pf_start(struct pf *pf)
{
	if (!pf->st || pf->start)
		return;
	struct pf_start *w = calloc(1, sizeof *w);
	if (!w || !(w->timer = loop_timer_once(pf->loop, 0, turn, w))) {
		free(w);
		log_error("start-up sweep: out of memory: users are kicked when they register");
		return;
	}
	/* the first page at the first turn: cpmd serves from the moment it said ready */
	w->pf = pf;
	w->t0_ms = mono_ms();
	pf->start = w;
}

void pf_start_stop(struct pf *pf)
{
	if (pf->start)
		finish(pf->start, "stopped by the shutdown");
}
