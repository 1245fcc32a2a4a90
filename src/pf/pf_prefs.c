/* User preferences under operator policy (design §6: the service provider's
 * policy wins over the user's preference). Preferences live in the store
 * (store_prefs); --user-pref writes them at start-up. */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "pf/pf_int.h"
#include "sipua/location.h"

void pf_prefs_get(struct pf *pf, const char *aor_key, struct pf_user_policy *out)
{
	const struct cpmd_options *o = pf->opts;
	out->defer = true;
	out->method = !strcmp(o->default_method, "pull") ? STORE_METHOD_PULL : STORE_METHOD_PUSH;
	out->on_expiry = !strcmp(o->default_on_expiry, "keep") ? STORE_EXPIRY_KEEP : STORE_EXPIRY_DISCARD;
	struct store_prefs p;
	if (pf->st && store_prefs_get(pf->st, aor_key, &p) == 0) {
		out->defer = p.defer;
		out->method = p.method;
		out->on_expiry = p.on_expiry;
	}
	if (!o->defer)
		out->defer = false; /* the operator switched deferral off for everyone */
}

static void pref_saved(void *arg, int err)
{
	if (err)
		log_warn("a --user-pref was not saved in the store: %s", strerror(-err));
}

/* "sip:bob@example.com:method=pull" or "bob@example.com:method=pull". */
static int apply_one(struct pf *pf, const char *spec)
{
	char aor[LOC_MAX_AOR], key[32], val[32];
	const char *colon = strrchr(spec, ':'), *eq = strchr(colon ? colon : spec, '=');
	const char *a = spec;

	if (!colon || !eq)
		return -1;
	if (!strncmp(a, "sip:", 4))
		a += 4;
	size_t al = (size_t)(colon - a), kl = (size_t)(eq - colon - 1);
	if (al == 0 || al >= sizeof aor || kl == 0 || kl >= sizeof key || strlen(eq + 1) >= sizeof val)
		return -1;
	memcpy(aor, a, al);
	aor[al] = '\0';
	memcpy(key, colon + 1, kl);
	key[kl] = '\0';
	strcpy(val, eq + 1);
	char *at = strchr(aor, '@');
	if (!at)
		return -1;
	*at = '\0';
	char k[LOC_MAX_AOR];
	if (location_aor_key(k, sizeof k, aor, at + 1))
		return -1;

	struct store_prefs p;
	if (store_prefs_get(pf->st, k, &p)) {
		struct pf_user_policy d;
		memset(&p, 0, sizeof p);
		snprintf(p.aor, sizeof p.aor, "%s", k);
		pf_prefs_get(pf, k, &d);
		p.defer = true;
		p.method = d.method;
		p.on_expiry = d.on_expiry;
	}
	if (!strcmp(key, "defer") && (!strcmp(val, "on") || !strcmp(val, "off")))
		p.defer = !strcmp(val, "on");
	else if (!strcmp(key, "method") && (!strcmp(val, "push") || !strcmp(val, "pull")))
		p.method = !strcmp(val, "pull") ? STORE_METHOD_PULL : STORE_METHOD_PUSH;
	else if (!strcmp(key, "on-expiry") && (!strcmp(val, "discard") || !strcmp(val, "keep")))
		p.on_expiry = !strcmp(val, "keep") ? STORE_EXPIRY_KEEP : STORE_EXPIRY_DISCARD;
	else
		return -1;
	if (store_prefs_put(pf->st, &p, pref_saved, NULL))
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
	for (unsigned i = 0; i < pf->opts->nuser_prefs; i++) {
		if (apply_one(pf, pf->opts->user_prefs[i])) {
			log_error("invalid --user-pref \"%s\" (AOR:defer=on|off, AOR:method=push|pull, "
				  "AOR:on-expiry=discard|keep)",
				  pf->opts->user_prefs[i]);
			return -1;
		}
		/* Start-up only: wait until it is readable, since two prefs
		 * of one user build on each other through store_prefs_get. */
		int done = 0;
		if (store_sync(pf->st, synced, &done))
			return -1;
		while (!done)
			su_root_step(pf->root, 100);
		if (done < 0)
			return -1;
	}
	return 0;
}
