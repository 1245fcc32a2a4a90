/* The recipient's quotas (issue 10 §4, docs/security.md): what cpmd holds on a recipient's
 * behalf, read from the store (store_recipient_usage: one covering-index range), judged by
 * policy_check_quota. Asked at the deferral decision of files (pf_intake.c), large messages
 * (the same path) and pager messages (pf_msg.c), before a byte is stored. The quota frees by
 * itself: a delivered, expired or declined item leaves the live states the sum counts. */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "pf/pf_int.h"

void pf_quota_check(struct pf *pf, const char *recipient, uint64_t size, struct pf_verdict *v)
{
	memset(v, 0, sizeof *v);
	if (!pf->st || (!pf->cfg.quota_bytes && !pf->cfg.quota_items))
		return; /* no limit: not even the read */
	struct store_usage u = {0, 0};
	int rc = store_recipient_usage(pf->st, recipient, &u);
	if (rc) {
		/* Open rather than closed: a read that fails here fails the store's writes too, and
		 * the upload is then refused by them with its own clear error. */
		log_warn("quota: cannot read what is held for %s: %s (not checked)", recipient, strerror(-rc));
		return;
	}
	policy_check_quota(&pf->cfg, u.items, u.bytes, size, v);
}
