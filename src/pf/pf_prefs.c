/* User preferences: the one entry point (pf_prefs_get) over the user's XDM document
 * (pf_xdm.c's cache) and the store's records (--user-pref writes them at start-up). What they
 * mean and how they combine with the operator's policy (design §6: the service provider's
 * policy wins over the user's preference) is decided in policy.c (policy_user,
 * policy_*_user_pref). */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "pf/pf_int.h"

void pf_prefs_get(struct pf *pf, const char *aor_key, struct pf_user_policy *out)
{
	struct store_prefs p;
	struct pf_xdm_settings x;
	bool have = pf->st && store_prefs_get(pf->st, aor_key, &p) == 0;
	pf_xdm_settings(pf, aor_key, &x); /* all unset without --xdms or a document */
	policy_user(&pf->cfg, &x, have ? &p : NULL, out);
}

bool pf_prefs_blocks(struct pf *pf, const char *aor_key, const char *sender_key)
{
	/* the XDM document's list, and --user-pref AOR:block=SENDER (read here from the
	 * options, never stored: the store's records hold no sender lists) */
	if (pf_xdm_blocks(pf, aor_key, sender_key))
		return true;
	char k[LOC_MAX_AOR], key[POLICY_PREF_TOKEN_MAX], val[POLICY_PREF_TOKEN_MAX];
	for (unsigned i = 0; i < pf->cfg.nuser_prefs; i++)
		if (!policy_parse_user_pref(pf->cfg.user_prefs[i], k, sizeof k, key, sizeof key, val, sizeof val) &&
		    !strcmp(key, "block") && !strcmp(k, aor_key) && policy_pref_names_sender(val, sender_key))
			return true;
	return false;
}

bool pf_prefs_type_ok(struct pf *pf, const char *aor_key, const char *mime_type)
{
	return pf_xdm_type_ok(pf, aor_key, mime_type);
}

/* "sip:bob@example.com:method=pull" or "bob@example.com:method=pull". */
static int apply_one(struct pf *pf, const char *spec)
{
	char k[LOC_MAX_AOR], key[POLICY_PREF_TOKEN_MAX], val[POLICY_PREF_TOKEN_MAX];
	if (policy_parse_user_pref(spec, k, sizeof k, key, sizeof key, val, sizeof val))
		return -1;
	if (!strcmp(key, "block")) /* a list, not a field of the record: pf_prefs_blocks reads it */
		return strchr(val, '@') ? 0 : -1;
	struct store_prefs p;
	if (store_prefs_get(pf->st, k, &p))
		policy_new_prefs(&pf->cfg, k, &p); /* no record yet */
	if (policy_apply_user_pref(&p, key, val))
		return -1;
	/* A start-up write: pf_prefs_apply_options waits for it (store_sync) and fails cpmd if
	 * the store does; this completion only says which. */
	if (pf_store_queued(store_prefs_put(pf->st, &p, pf_store_logged, "a --user-pref"), "a --user-pref"))
		return -1;
	log_info("preference of %s: %s=%s", k, key, val);
	return 0;
}

static void synced(void *arg, int err)
{
	*(int *)arg = err ? err : 1;
}

int pf_prefs_apply_options(struct pf *pf)
{
	for (unsigned i = 0; i < pf->cfg.nuser_prefs; i++) {
		if (apply_one(pf, pf->cfg.user_prefs[i])) {
			log_error("invalid --user-pref \"%s\" (AOR:defer=on|off, AOR:method=push|pull, "
				  "AOR:on-expiry=discard|keep, AOR:screening=on|off, AOR:max-size=BYTES, AOR:block=SENDER)",
				  pf->cfg.user_prefs[i]);
			return -1;
		}
		/* Start-up only: wait until it is readable, since two prefs
		 * of one user build on each other through store_prefs_get. */
		int done = 0;
		if (store_sync(pf->st, synced, &done))
			return -1;
		while (!done)
			loop_step(pf->loop, 100);
		if (done < 0)
			return -1;
	}
	return 0;
}

/* One user's --user-pref lines (those of cfg naming aor) applied to its record in one write:
 * the lines of a user build on each other, and a reload cannot wait for each write as the
 * start-up does (it runs inside a loop callback). dry: only check that every line applies. */
static int reload_user(struct pf *pf, const struct pf_config *c, const char *aor, bool dry)
{
	struct store_prefs p;
	char k[LOC_MAX_AOR], key[POLICY_PREF_TOKEN_MAX], val[POLICY_PREF_TOKEN_MAX];
	bool any = false;
	if (store_prefs_get(pf->st, aor, &p))
		policy_new_prefs(&pf->cfg, aor, &p); /* no record yet */
	for (unsigned i = 0; i < c->nuser_prefs; i++) {
		if (policy_parse_user_pref(c->user_prefs[i], k, sizeof k, key, sizeof key, val, sizeof val))
			return -1;
		if (strcmp(k, aor))
			continue;
		if (!strcmp(key, "block")) { /* read from the options by pf_prefs_blocks */
			if (!strchr(val, '@'))
				return -1;
			continue;
		}
		if (policy_apply_user_pref(&p, key, val))
			return -1;
		any = true;
	}
	if (dry || !any)
		return 0;
	return pf_store_queued(store_prefs_put(pf->st, &p, pf_store_logged, "a reloaded --user-pref"),
			       "a reloaded --user-pref");
}

int pf_prefs_reload(struct pf *pf, const struct pf_config *c)
{
	char k[LOC_MAX_AOR], key[POLICY_PREF_TOKEN_MAX], val[POLICY_PREF_TOKEN_MAX];
	if (!pf->st)
		return -1;
	/* all or nothing: every line checked before one is written */
	for (int pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < c->nuser_prefs; i++) {
			if (policy_parse_user_pref(c->user_prefs[i], k, sizeof k, key, sizeof key, val, sizeof val)) {
				log_error("reload: invalid --user-pref \"%s\": the preferences stay as they were",
					  c->user_prefs[i]);
				return -1;
			}
			bool first = true; /* each user once, at its first line */
			for (unsigned j = 0; j < i && first; j++) {
				char k2[LOC_MAX_AOR], key2[POLICY_PREF_TOKEN_MAX], val2[POLICY_PREF_TOKEN_MAX];
				first = policy_parse_user_pref(c->user_prefs[j], k2, sizeof k2, key2, sizeof key2, val2,
							       sizeof val2) || strcmp(k2, k);
			}
			if (first && reload_user(pf, c, k, pass == 0)) {
				log_error("reload: invalid --user-pref for %s: the preferences stay as they were", k);
				return -1;
			}
		}
	memcpy(pf->cfg.user_prefs, c->user_prefs, sizeof pf->cfg.user_prefs);
	pf->cfg.nuser_prefs = c->nuser_prefs;
	return 0;
}
