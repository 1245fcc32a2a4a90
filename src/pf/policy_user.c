/* policy_user — the operator's decisions about a user's own settings (policy.h, the part of
 * issue 11): a user's preferences under the operator's policy (defaults < the XDM document < the
 * local --user-pref record < the operator's switches, design §6), --user-pref parsing, blocked
 * senders, accepted and denied MIME types, content screening. Pure, as policy.c (the rest of
 * the decisions): no I/O, no clock, no store, no allocation. Unit-tested in
 * tests/unit/test_policy*.c; the table of decisions is docs/internals/policy.md. */
#include "pf/policy.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cpm/parse.h"
#include "sipua/location.h"

/* ---- the user's settings under the operator's (design §6) ------------------------------ */

void policy_xdm_settings(const struct prefs_doc *d, struct pf_xdm_settings *out)
{
	memset(out, 0, sizeof *out);
	out->defer = d->defer;
	out->delivery = d->delivery;
	out->keep = d->keep_files;
	out->on_expiry = d->on_expiry;
	out->history = d->histories;
	out->screening = d->screening;
	out->has_max_size = d->has_max_file_size;
	out->max_size = d->max_file_size;
}

/* The document's settings over what is there: an unset one leaves it. */
static void apply_xdm(const struct pf_xdm_settings *x, struct pf_user_policy *out)
{
	if (x->defer != PREFS_UNSET)
		out->defer = x->defer == PREFS_ON;
	if (x->delivery != PREFS_DELIVERY_UNSET)
		out->method = x->delivery == PREFS_DELIVERY_PULL ? STORE_METHOD_PULL : STORE_METHOD_PUSH;
	if (x->keep != PREFS_KEEP_UNSET)
		out->keep = x->keep == PREFS_KEEP_INSTEAD   ? STORE_KEEP_INSTEAD
			    : x->keep == PREFS_KEEP_BESIDES ? STORE_KEEP_BESIDES
							    : STORE_KEEP_OFF;
	if (x->on_expiry != PREFS_EXPIRY_UNSET)
		out->on_expiry = x->on_expiry == PREFS_EXPIRY_KEEP ? STORE_EXPIRY_KEEP : STORE_EXPIRY_DISCARD;
	if (x->history != PREFS_UNSET)
		out->history = x->history == PREFS_ON;
	if (x->screening != PREFS_UNSET)
		out->screening = x->screening == PREFS_ON;
	if (x->has_max_size)
		out->max_size = x->max_size;
}

void policy_user(const struct pf_config *c, const struct pf_xdm_settings *xdm, const struct store_prefs *stored,
		 struct pf_user_policy *out)
{
	/* Operator defaults: deferral on (store-and-forward is the service), method and
	 * on-expiry as configured. */
	out->defer = true;
	out->method = c->default_method;
	out->on_expiry = c->default_on_expiry;
	out->history = false;
	out->keep = STORE_KEEP_OFF;
	out->screening = false;
	out->max_size = 0;
	/* The user's XDM document over the defaults, setting by setting (issue 11 §3). */
	if (xdm)
		apply_xdm(xdm, out);
	/* The local record (--user-pref) over the document: every field of the record, since
	 * a record holds them all (the store keeps no "unset"); it is the operator's local
	 * override of what the user wrote. */
	if (stored) {
		out->defer = stored->defer;
		out->method = stored->method;
		out->on_expiry = stored->on_expiry;
		out->history = stored->history;
		out->keep = stored->keep;
		out->screening = stored->screening;
		out->max_size = stored->max_size;
	}
	/* Design §6: the service provider's policy over the user's preference. */
	if (!c->defer)
		out->defer = false;
	if (c->history != PF_SWITCH_USER)
		out->history = c->history == PF_SWITCH_ON;
	if (c->keep == PF_SWITCH_OFF)
		out->keep = STORE_KEEP_OFF;
	if (c->screening != PF_SWITCH_USER)
		out->screening = c->screening == PF_SWITCH_ON;
	/* without a message store there is nowhere to write a history or keep a file */
	if (!c->mss) {
		out->history = false;
		out->keep = STORE_KEEP_OFF;
	}
}

/* user@host of a sip:/sips: URI (parameters, headers and port are not the user's name). */
static bool uri_is_sender(const char *uri, const char *sender_key)
{
	const char *at = strchr(sender_key, '@');
	if (!at)
		return false;
	size_t ul = (size_t)(at - sender_key);
	if (!strncasecmp(uri, "tel:", 4)) {
		/* a number: the sender's user part (a SIP URI of a phone number, user=phone) */
		const char *num = uri + 4;
		size_t nl = strcspn(num, ";");
		return nl == ul && !memcmp(num, sender_key, ul);
	}
	const char *u = !strncasecmp(uri, "sip:", 4) ? uri + 4 : !strncasecmp(uri, "sips:", 5) ? uri + 5 : NULL;
	if (!u)
		return false;
	const char *uat = strchr(u, '@');
	if (!uat || (size_t)(uat - u) != ul || memcmp(u, sender_key, ul))
		return false; /* RFC 3261 §19.1.4: the user part compares exactly */
	const char *h = uat + 1, *sh = at + 1;
	size_t hl = strcspn(h, ":;?>"), shl = strcspn(sh, ":");
	return hl == shl && !strncasecmp(h, sh, hl);
}

bool policy_sender_blocked(const char *const *blocked, size_t n, const char *sender_key)
{
	for (size_t i = 0; i < n; i++)
		if (uri_is_sender(blocked[i], sender_key))
			return true;
	return false;
}

/* Does pattern (lower case, "type/sub", "type/ *", "* / *" without blanks) cover the type? */

static void type_only(const char *t, const char **p, size_t *n)
{
	while (*t == ' ' || *t == '\t')
		t++;
	size_t l = strcspn(t, ";");
	while (l && (t[l - 1] == ' ' || t[l - 1] == '\t'))
		l--;
	*p = t;
	*n = l;
}

/* One list entry (e, el) against a type (t, tl). */
static bool type_matches(const char *e, size_t el, const char *t, size_t tl)
{
	if ((el == 1 && e[0] == '*') || (el == 3 && !strncmp(e, "*/*", 3)))
		return true;
	if (el >= 2 && e[el - 2] == '/' && e[el - 1] == '*') /* TYPE/STAR: the top-level type */
		return tl > el - 1 && !strncasecmp(e, t, el - 1);
	return el == tl && !strncasecmp(e, t, el);
}

bool policy_type_accepted(const char *const *accept, size_t naccept, bool has_accept, const char *const *deny,
			  size_t ndeny, const char *mime_type)
{
	/* "text/plain; charset=utf-8" is text/plain; blanks around the type do not count */
	const char *t;
	size_t tl;
	type_only(mime_type, &t, &tl);
	for (size_t i = 0; i < ndeny; i++)
		if (type_matches(deny[i], strlen(deny[i]), t, tl))
			return false;
	if (!has_accept)
		return true;
	for (size_t i = 0; i < naccept; i++)
		if (type_matches(accept[i], strlen(accept[i]), t, tl))
			return true;
	return false;
}

/* Copies n bytes of s into out[cap] with a NUL; -1 when it does not fit. */
static int copy_n(char *out, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

int policy_parse_user_pref(const char *spec, char *aor_key, size_t cap, char *key, size_t kcap, char *val,
			   size_t vcap)
{
	/* "sip:bob@example.com:method=pull" or "bob@example.com:method=pull". The last ':' ends
	 * the AOR, so the "sip:" scheme needs no special case there. */
	const char *colon = strrchr(spec, ':');
	const char *eq = strchr(colon ? colon : spec, '=');
	const char *a = spec;
	char aor[LOC_MAX_AOR], k[LOC_MAX_AOR];

	if (!colon || !eq)
		return -1;
	if (!strncmp(a, "sip:", 4))
		a += 4;
	if (colon < a) /* "sip:bob=x": the only ':' is the scheme's */
		return -1;
	size_t al = (size_t)(colon - a), kl = (size_t)(eq - colon - 1), vl = strlen(eq + 1);
	if (al == 0 || al >= sizeof aor || kl == 0 || kl >= POLICY_PREF_TOKEN_MAX || vl >= POLICY_PREF_TOKEN_MAX)
		return -1;
	memcpy(aor, a, al);
	aor[al] = '\0';
	char *at = strchr(aor, '@');
	if (!at)
		return -1;
	*at = '\0';
	/* The same canonical key as the registrar and pf use (host lower-cased, user as is:
	 * RFC 3261 §19.1.4), or the preference would name nobody. */
	if (location_aor_key(k, sizeof k, aor, at + 1))
		return -1;
	if (copy_n(aor_key, cap, k, strlen(k)) || copy_n(key, kcap, colon + 1, kl) || copy_n(val, vcap, eq + 1, vl))
		return -1;
	return 0;
}

int policy_apply_user_pref(struct store_prefs *p, const char *key, const char *val)
{
	if (!strcmp(key, "defer") && (!strcmp(val, "on") || !strcmp(val, "off")))
		p->defer = !strcmp(val, "on");
	else if (!strcmp(key, "method") && (!strcmp(val, "push") || !strcmp(val, "pull")))
		p->method = !strcmp(val, "pull") ? STORE_METHOD_PULL : STORE_METHOD_PUSH;
	else if (!strcmp(key, "on-expiry") && (!strcmp(val, "discard") || !strcmp(val, "keep")))
		p->on_expiry = !strcmp(val, "keep") ? STORE_EXPIRY_KEEP : STORE_EXPIRY_DISCARD;
	else if ((!strcmp(key, "history") || !strcmp(key, "screening")) && (!strcmp(val, "on") || !strcmp(val, "off")))
		*(!strcmp(key, "history") ? &p->history : &p->screening) = !strcmp(val, "on");
	else if (!strcmp(key, "keep") && (!strcmp(val, "off") || !strcmp(val, "instead") || !strcmp(val, "besides")))
		p->keep = !strcmp(val, "instead") ? STORE_KEEP_INSTEAD
			  : !strcmp(val, "besides") ? STORE_KEEP_BESIDES
						    : STORE_KEEP_OFF;
	else if (!strcmp(key, "max-size")) {
		uint64_t n;
		if (cpm_parse_u64(val, INT64_MAX, false, &n))
			return -1;
		p->max_size = n;
	} else
		return -1;
	return 0;
}

void policy_new_prefs(const struct pf_config *c, const char *aor_key, struct store_prefs *out)
{
	/* The user's defaults, but defer = true whatever --defer says: the record is the
	 * user's wish, and the operator's switch is applied when it is read (policy_user), so
	 * turning --defer on again does not leave users who set something else opted out. */
	memset(out, 0, sizeof *out);
	snprintf(out->aor, sizeof out->aor, "%s", aor_key);
	out->defer = true;
	out->method = c->default_method;
	out->on_expiry = c->default_on_expiry;
}

/* ---- content screening (issue 11 §4) ------------------------------------------------------ */

/* The type/subtype of a MIME type without parameters or blanks: [*p, *p + *n). */
bool policy_type_listed(const char *list, const char *type)
{
	const char *t;
	size_t tl;
	if (!list || !*list)
		return false;
	type_only(type && *type ? type : "application/octet-stream", &t, &tl);
	for (const char *p = list;;) {
		size_t l = strcspn(p, ",");
		const char *e = p;
		size_t el = l;
		while (el && (*e == ' ' || *e == '\t'))
			e++, el--;
		while (el && (e[el - 1] == ' ' || e[el - 1] == '\t'))
			el--;
		if (el && type_matches(e, el, t, tl))
			return true;
		if (!p[l])
			return false;
		p += l + 1;
	}
}

void policy_screen_offer(const struct pf_config *c, const struct pf_user_policy *up, const struct pf_screen_facts *f,
			 struct pf_verdict *v)
{
	memset(v, 0, sizeof *v);
	/* A blocked sender and the recipient's own size limit are the recipient's explicit
	 * wishes: they hold whether or not the recipient asked for screening. */
	if (f->blocked) {
		v->status = 403;
		snprintf(v->phrase, sizeof v->phrase, "Sender Blocked By Recipient (%.80s)", f->sender_key);
		return;
	}
	/* The type lists are screening: only for a screened recipient (the operator screens
	 * everyone with --screening on). The operator's deny list wins over everything. */
	if (up->screening) {
		const char *t = f->type && *f->type ? f->type : "application/octet-stream";
		const char *which = NULL;
		if (policy_type_listed(c->screen_deny_types, t))
			which = "screen-deny-types";
		else if (c->screen_allow_types[0] && !policy_type_listed(c->screen_allow_types, t))
			which = "screen-allow-types";
		else if (!f->user_type_ok)
			which = "the recipient's accepted types";
		if (which) {
			const char *p;
			size_t n;
			type_only(t, &p, &n);
			v->status = 415;
			snprintf(v->phrase, sizeof v->phrase, "Unsupported Media Type (%.*s)", (int)(n > 80 ? 80 : n), p);
			snprintf(v->warning, sizeof v->warning, "399 cpmd \"type %.*s refused by %s\"",
				 (int)(n > 80 ? 80 : n), p, which);
			return;
		}
	}
	if (up->max_size && f->has_size && f->size > up->max_size) {
		v->status = 413;
		snprintf(v->phrase, sizeof v->phrase, "Too Large For Recipient (max-size %" PRIu64 " bytes)", up->max_size);
		snprintf(v->warning, sizeof v->warning, "399 cpmd \"the recipient accepts at most %" PRIu64 " bytes\"",
			 up->max_size);
	}
}

bool policy_scan_wanted(const struct pf_config *c, const struct pf_user_policy *up)
{
	return up->screening && c->clamd[0];
}

void policy_scan_result(const struct pf_config *c, enum clamd_result r, const char *virus, const char *why,
			struct pf_verdict *v)
{
	memset(v, 0, sizeof *v);
	if (r == CLAMD_CLEAN)
		return;
	if (r == CLAMD_INFECTED) {
		v->status = 403;
		snprintf(v->phrase, sizeof v->phrase, "Malware Found (%.90s)", virus && *virus ? virus : "unnamed");
		return;
	}
	/* Not scanned: the operator says whether unscanned content passes. */
	if (c->screen_fail_open)
		return;
	v->status = 503;
	snprintf(v->phrase, sizeof v->phrase, "Content Screening Unavailable (%.80s)",
		 r == CLAMD_TOO_BIG ? "too large to screen" : why && *why ? why : "scanner error");
}

int policy_screen_msrp_status(const struct pf_verdict *v)
{
	if (v->status == 403 || v->status == 413 || v->status == 415)
		return v->status;
	return 400; /* RFC 4975 §7.3: the generic failure; the comment says why */
}

bool policy_pref_names_sender(const char *val, const char *sender_key)
{
	if (!strncasecmp(val, "sip:", 4))
		val += 4;
	const char *va = strchr(val, '@'), *sa = strchr(sender_key, '@');
	if (!va || !sa || va - val != sa - sender_key || strncmp(val, sender_key, (size_t)(va - val)))
		return false; /* the user part as is (RFC 3261 §19.1.4) */
	return !strcasecmp(va, sa);
}
