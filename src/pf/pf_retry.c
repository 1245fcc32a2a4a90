/* Retries of users whose delivery failed (pf_int.h: pf_deliver_later, pf_retry_*): one entry
 * per user, retried after a back-off (policy_retry_delay) or at once when a device of theirs
 * registers. Indexed by user (a kick looks at one entry, not at all of them: with a list, every
 * REGISTER walked every user that ever had a failed delivery), and an entry whose user has
 * nothing waiting any more goes when it fires (the list only grew with uptime). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/str_hash.h"
#include "pf/pf_int.h"

#define PF_RETRY_BUCKETS (1u << 16) /* 512 KiB of pointers, from the first failed delivery */

/* A user whose delivery failed: retried after a back-off (policy_retry_delay). */
struct pf_retry {
	struct pf_retry *next; /* the chain of its bucket in pf->retry_by_aor */
	struct pf *pf;
	char aor[LOC_MAX_AOR];
	unsigned attempts;
	int64_t next_at_ms;
	struct loop_timer *timer;
};

static struct pf_retry **retry_bucket(struct pf *pf, const char *aor)
{
	return pf->retry_by_aor ? &pf->retry_by_aor[str_hash(aor) & (PF_RETRY_BUCKETS - 1)] : NULL;
}

static struct pf_retry *retry_find(struct pf *pf, const char *aor)
{
	struct pf_retry **b = retry_bucket(pf, aor);
	for (struct pf_retry *r = b ? *b : NULL; r; r = r->next)
		if (!strcmp(r->aor, aor))
			return r;
	return NULL;
}

void pf_retry_clear(struct pf *pf, const char *aor)
{
	struct pf_retry **b = retry_bucket(pf, aor);
	for (struct pf_retry **pp = b; pp && *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->aor, aor)) {
			struct pf_retry *r = *pp;
			*pp = r->next;
			loop_timer_stop(r->timer);
			free(r);
			return;
		}
}

static int any_item(void *arg, const struct store_item *it)
{
	(void)it;
	*(bool *)arg = true;
	return 1;
}

static void retry_fire(void *arg)
{
	struct pf_retry *r = arg;
	struct pf *pf = r->pf;
	bool waiting = false;
	r->next_at_ms = 0;
	/* Nothing waits for the user any more (delivered meanwhile, expired, purged, kept in their
	 * message store): the entry goes, or retries would only ever grow with uptime. */
	if (pf->st && store_items_for_recipient(pf->st, r->aor, 1, any_item, &waiting) >= 0 && !waiting) {
		pf_retry_clear(pf, r->aor); /* frees r */
		return;
	}
	log_info("retrying deliveries to %s (attempt %u)", r->aor, r->attempts + 1);
	pf_deliver_kick(pf, r->aor, false);
}

static void retry_schedule(struct pf *pf, const char *aor)
{
	struct pf_retry *r = retry_find(pf, aor);
	if (!r) {
		if (!pf->retry_by_aor && !(pf->retry_by_aor = calloc(PF_RETRY_BUCKETS, sizeof *pf->retry_by_aor)))
			return;
		r = calloc(1, sizeof *r);
		if (!r)
			return;
		r->pf = pf;
		PF_COPY(r->aor, aor);
		struct pf_retry **b = retry_bucket(pf, aor);
		r->next = *b;
		*b = r;
	}
	if (r->next_at_ms > pf_now_ms())
		return; /* already scheduled */
	unsigned delay = policy_retry_delay(&pf->cfg, r->attempts);
	r->attempts++;
	r->next_at_ms = pf_now_ms() + (int64_t)delay * 1000;
	loop_timer_stop(r->timer);
	r->timer = loop_timer_once(pf->loop, delay * 1000, retry_fire, r);
	log_info("deliveries to %s: next attempt in %u s (or when a device registers)", aor, delay);
}

void pf_deliver_later(struct pf *pf, const char *aor_key)
{
	retry_schedule(pf, aor_key);
}

bool pf_retry_waits(struct pf *pf, const char *aor, bool fresh_device)
{
	struct pf_retry *r = retry_find(pf, aor);
	if (r && fresh_device) {
		pf_retry_clear(pf, aor); /* a device came back: try now */
		return false;
	}
	return r && r->next_at_ms > pf_now_ms();
}

void pf_retry_destroy_all(struct pf *pf)
{
	for (size_t i = 0; pf->retry_by_aor && i < PF_RETRY_BUCKETS; i++)
		while (pf->retry_by_aor[i])
			pf_retry_clear(pf, pf->retry_by_aor[i]->aor);
	free(pf->retry_by_aor);
	pf->retry_by_aor = NULL;
}
