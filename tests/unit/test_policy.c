/* src/pf/policy.c: every decision of pf, with every branch and the edges. Where a rule was
 * moved out of pf, the code it replaced is copied here verbatim (old_*) and the two are
 * compared over a grid: "behaves exactly as today" is checked, not assumed. */
#include <limits.h>
#include <stdint.h>

#include "pf/policy.h"
#include "sipua/location.h"
#include "unit.h"

/* cpmd's defaults (src/cpmd/options.c). */
static struct pf_config cfg(void)
{
	struct pf_config c;
	memset(&c, 0, sizeof c);
	c.max_file_size = 0;
	c.defer = true;
	c.store_default_expiry = 7 * 86400;
	c.store_max_expiry = 30 * 86400;
	c.delivery_per_device = 4;
	c.delivery_retry_min = 10;
	c.delivery_retry_max = 600;
	c.default_method = STORE_METHOD_PUSH;
	c.default_on_expiry = STORE_EXPIRY_DISCARD;
	c.max_pager_size = 16384;
	return c;
}

/* A push offer that passes every check. */
static struct sdp_ft offer(void)
{
	struct sdp_ft o;
	memset(&o, 0, sizeof o);
	o.port = 2855;
	o.dir = SDP_DIR_SENDONLY;
	o.setup = SDP_SETUP_ACTIVE;
	o.has_selector = true;
	o.sel.has_name = true;
	snprintf(o.sel.name, sizeof o.sel.name, "a.jpg");
	o.sel.name_len = 5;
	o.sel.has_size = true;
	o.sel.size = 1000;
	o.sel.has_type = true;
	snprintf(o.sel.type, sizeof o.sel.type, "image/jpeg");
	return o;
}

static void with_sha1(struct sdp_ft *o)
{
	o->sel.has_hash = true;
	snprintf(o->sel.hash_alg, sizeof o->sel.hash_alg, "sha-1");
	o->sel.hash_len = 20;
	memset(o->sel.hash, 0xab, 20);
}

/* A verdict full of garbage: policy must set every field. */
static void dirty(struct pf_verdict *v)
{
	memset(v, 'x', sizeof *v);
	v->phrase[sizeof v->phrase - 1] = '\0';
	v->warning[sizeof v->warning - 1] = '\0';
	v->status = 999;
}

#define CHECK_VERDICT(c, o, st, ph)                                                                            \
	do {                                                                                                   \
		struct pf_verdict _v;                                                                          \
		dirty(&_v);                                                                                    \
		policy_check_offer((c), (o), &_v);                                                             \
		CHECK_EQ_INT(_v.status, (st));                                                                 \
		CHECK_STR(_v.phrase, (ph));                                                                    \
		CHECK_STR(_v.warning, "");                                                                     \
	} while (0)

/* ---------------------------------------------------------------------------- the offer */

UNIT_TEST(offer_valid_push_is_accepted)
{
	struct pf_config c = cfg();
	struct sdp_ft o = offer();
	CHECK_VERDICT(&c, &o, 0, "");
	/* a=setup: active, actpass or none are fine (cpmd is the passive end) */
	o.setup = SDP_SETUP_NONE;
	CHECK_VERDICT(&c, &o, 0, "");
	o.setup = SDP_SETUP_ACTPASS;
	CHECK_VERDICT(&c, &o, 0, "");
	with_sha1(&o);
	CHECK_VERDICT(&c, &o, 0, "");
	/* a 0-byte file is a file */
	o.sel.size = 0;
	CHECK_VERDICT(&c, &o, 0, "");
}

UNIT_TEST(offer_needs_a_selector_and_a_stream)
{
	struct pf_config c = cfg();
	struct sdp_ft o = offer();
	o.has_selector = false;
	o.port = 0; /* the selector is checked first */
	CHECK_VERDICT(&c, &o, 488, "No File Selector");
	o.has_selector = true;
	CHECK_VERDICT(&c, &o, 488, "MSRP Stream Rejected In Offer");
	o.dir = SDP_DIR_RECVONLY; /* the port is checked before the direction */
	CHECK_VERDICT(&c, &o, 488, "MSRP Stream Rejected In Offer");
}

UNIT_TEST(offer_direction_sendonly_vs_recvonly)
{
	struct pf_config c = cfg();
	struct sdp_ft o = offer();
	o.dir = SDP_DIR_RECVONLY; /* a pull that reached the offer check: no store */
	CHECK_VERDICT(&c, &o, 488, "File Pull Not Available");
	o.sel.has_name = false; /* direction before the selector's parts */
	CHECK_VERDICT(&c, &o, 488, "File Pull Not Available");
	o = offer();
	o.dir = SDP_DIR_SENDRECV;
	CHECK_VERDICT(&c, &o, 488, "File Transfer Offer Must Be sendonly");
	o.dir = SDP_DIR_NONE; /* no direction attribute = sendrecv */
	CHECK_VERDICT(&c, &o, 488, "File Transfer Offer Must Be sendonly");
	o.dir = SDP_DIR_INACTIVE;
	CHECK_VERDICT(&c, &o, 488, "File Transfer Offer Must Be sendonly");
}

UNIT_TEST(offer_selector_needs_name_size_and_type)
{
	struct pf_config c = cfg();
	const char *ph = "Incomplete File Selector (name, size and type required)";
	struct sdp_ft o = offer();
	o.sel.has_name = false;
	CHECK_VERDICT(&c, &o, 488, ph);
	o = offer();
	o.sel.has_size = false;
	CHECK_VERDICT(&c, &o, 488, ph);
	o = offer();
	o.sel.has_type = false;
	CHECK_VERDICT(&c, &o, 488, ph);
	o = offer();
	o.sel.has_name = o.sel.has_size = o.sel.has_type = false;
	o.sel.has_hash = true; /* an incomplete selector is reported before a bad hash */
	snprintf(o.sel.hash_alg, sizeof o.sel.hash_alg, "md5");
	CHECK_VERDICT(&c, &o, 488, ph);
}

UNIT_TEST(offer_hash_is_sha1_only)
{
	struct pf_config c = cfg();
	const char *ph = "Unsupported File Hash (sha-1 only)";
	struct sdp_ft o = offer();
	with_sha1(&o);
	snprintf(o.sel.hash_alg, sizeof o.sel.hash_alg, "md5");
	CHECK_VERDICT(&c, &o, 488, ph);
	snprintf(o.sel.hash_alg, sizeof o.sel.hash_alg, "sha-256");
	o.sel.hash_len = 20;
	CHECK_VERDICT(&c, &o, 488, ph);
	snprintf(o.sel.hash_alg, sizeof o.sel.hash_alg, "sha-1");
	o.sel.hash_len = 19; /* sha-1 of the wrong length */
	CHECK_VERDICT(&c, &o, 488, ph);
	o.sel.hash_len = 32;
	o.setup = SDP_SETUP_PASSIVE; /* the hash before a=setup */
	CHECK_VERDICT(&c, &o, 488, ph);
}

UNIT_TEST(offer_offerer_must_be_active)
{
	struct pf_config c = cfg();
	struct sdp_ft o = offer();
	o.setup = SDP_SETUP_PASSIVE;
	CHECK_VERDICT(&c, &o, 488, "MSRP Offerer Must Be Active (a=setup)");
	o.setup = SDP_SETUP_HOLDCONN;
	CHECK_VERDICT(&c, &o, 488, "MSRP Offerer Must Be Active (a=setup)");
	o.has_file_range = true; /* a=setup before the range */
	o.range_start = 0;
	CHECK_VERDICT(&c, &o, 488, "MSRP Offerer Must Be Active (a=setup)");
}

UNIT_TEST(offer_file_range_rules)
{
	struct pf_config c = cfg();
	const char *outside = "File Range Outside The File (must be START-SIZE)";
	const char *nohash = "Resume Needs The sha-1 Of The File";
	struct sdp_ft o = offer(); /* size 1000 */
	o.has_file_range = true;
	o.range_start = 1; /* the whole file: no hash needed */
	o.range_stop = 0;  /* '*' */
	CHECK_VERDICT(&c, &o, 0, "");
	o.range_stop = 1000;
	CHECK_VERDICT(&c, &o, 0, "");
	o.range_start = 0; /* 1-based: 0 is outside */
	CHECK_VERDICT(&c, &o, 488, outside);
	o.range_start = 1001;
	CHECK_VERDICT(&c, &o, 488, outside);
	o.range_start = 1;
	o.range_stop = 999; /* must run to the end */
	CHECK_VERDICT(&c, &o, 488, outside);
	o.range_stop = 1001;
	CHECK_VERDICT(&c, &o, 488, outside);
	/* a resume (start > 1) needs the hash that proves it is the same file */
	o.range_start = 501;
	o.range_stop = 1000;
	CHECK_VERDICT(&c, &o, 488, nohash);
	o.range_start = 2;
	o.range_stop = 0;
	CHECK_VERDICT(&c, &o, 488, nohash);
	with_sha1(&o);
	CHECK_VERDICT(&c, &o, 0, "");
	o.range_start = 1000; /* the last byte alone */
	CHECK_VERDICT(&c, &o, 0, "");
	/* a 0-byte file has no byte to start from */
	o = offer();
	o.sel.size = 0;
	o.has_file_range = true;
	o.range_start = 1;
	CHECK_VERDICT(&c, &o, 488, outside);
	/* the range is checked before the size limit */
	o = offer();
	c.max_file_size = 10;
	o.has_file_range = true;
	o.range_start = 5000;
	CHECK_VERDICT(&c, &o, 488, outside);
}

UNIT_TEST(offer_size_limit_phrase_and_warning)
{
	struct pf_config c = cfg();
	struct sdp_ft o = offer();
	struct pf_verdict v;
	/* 0 = no limit, whatever the size */
	o.sel.size = UINT64_MAX;
	CHECK_VERDICT(&c, &o, 0, "");
	c.max_file_size = 1000;
	o.sel.size = 1000; /* at the limit: accepted */
	CHECK_VERDICT(&c, &o, 0, "");
	o.sel.size = 1001;
	dirty(&v);
	policy_check_offer(&c, &o, &v);
	CHECK_EQ_INT(v.status, 488);
	CHECK_STR(v.phrase, "File Too Large (max 1000 bytes)");
	CHECK_STR(v.warning, "399 cpmd \"file size 1001 exceeds the maximum of 1000 bytes\"");
	/* the largest values cpmd accepts print in full */
	c.max_file_size = UINT64_MAX >> 2;
	o.sel.size = UINT64_MAX;
	policy_check_offer(&c, &o, &v);
	CHECK_EQ_INT(v.status, 488);
	CHECK_STR(v.phrase, "File Too Large (max 4611686018427387903 bytes)");
	CHECK_STR(v.warning,
		  "399 cpmd \"file size 18446744073709551615 exceeds the maximum of 4611686018427387903 bytes\"");
	/* a resume of a file over the limit is refused for its size, not accepted */
	c.max_file_size = 1000;
	o = offer();
	with_sha1(&o);
	o.sel.size = 2000;
	o.has_file_range = true;
	o.range_start = 1500;
	policy_check_offer(&c, &o, &v);
	CHECK_EQ_INT(v.status, 488);
	CHECK_STR(v.phrase, "File Too Large (max 1000 bytes)");
}

UNIT_TEST(max_file_size_for_the_relay)
{
	struct pf_config c = cfg();
	CHECK_EQ_INT(policy_max_file_size(&c), 0);
	c.max_file_size = 12345;
	CHECK_EQ_INT(policy_max_file_size(&c), 12345);
}

/* ----------------------------------------------------------------- unreachable, forks */

UNIT_TEST(unreachable_answers)
{
	struct pf_config c = cfg();
	struct pf_verdict v;
	dirty(&v);
	policy_unreachable(&c, PF_NO_DEVICE, &v);
	CHECK_EQ_INT(v.status, 480);
	CHECK_STR(v.phrase, "Temporarily Unavailable (no device registered)");
	CHECK_STR(v.warning, "");
	dirty(&v);
	policy_unreachable(&c, PF_NO_ANSWER, &v);
	CHECK_EQ_INT(v.status, 480);
	CHECK_STR(v.phrase, "Temporarily Unavailable (no answer)");
	CHECK_STR(v.warning, "");
	dirty(&v);
	policy_unreachable(&c, PF_ALL_UNAVAILABLE, &v);
	CHECK_EQ_INT(v.status, 480);
	CHECK_STR(v.phrase, "Temporarily Unavailable");
	CHECK_STR(v.warning, "");
	/* --defer off changes nothing here: deferral is decided before (policy_may_defer) */
	c.defer = false;
	policy_unreachable(&c, PF_NO_DEVICE, &v);
	CHECK_EQ_INT(v.status, 480);
}

/* today's pf.c / pf_deliver.c on_branch_response + policy_is_unavailable_status, verbatim */
static int old_is_unavailable(int status)
{
	return status == 408 || status == 480 || status == 487 || status == 404 || status >= 500;
}

static enum sip_fork_class old_class(int status)
{
	if (status / 100 == 6)
		return SIP_FORK_ENDS;
	return old_is_unavailable(status) ? SIP_FORK_UNAVAILABLE : SIP_FORK_ANSWER;
}

UNIT_TEST(fork_class_boundaries)
{
	static const struct {
		int status;
		enum sip_fork_class cls;
	} t[] = {
		{180, SIP_FORK_ANSWER},      {200, SIP_FORK_ANSWER},      {299, SIP_FORK_ANSWER},
		{300, SIP_FORK_ANSWER},      {302, SIP_FORK_ANSWER},      {399, SIP_FORK_ANSWER},
		{400, SIP_FORK_ANSWER},      {403, SIP_FORK_ANSWER},      {404, SIP_FORK_UNAVAILABLE},
		{405, SIP_FORK_ANSWER},      {407, SIP_FORK_ANSWER},      {408, SIP_FORK_UNAVAILABLE},
		{409, SIP_FORK_ANSWER},      {410, SIP_FORK_ANSWER},      {415, SIP_FORK_ANSWER},
		{479, SIP_FORK_ANSWER},      {480, SIP_FORK_UNAVAILABLE}, {481, SIP_FORK_ANSWER},
		{486, SIP_FORK_ANSWER},      {487, SIP_FORK_UNAVAILABLE}, {488, SIP_FORK_ANSWER},
		{499, SIP_FORK_ANSWER},      {500, SIP_FORK_UNAVAILABLE}, {503, SIP_FORK_UNAVAILABLE},
		{504, SIP_FORK_UNAVAILABLE}, {599, SIP_FORK_UNAVAILABLE}, {600, SIP_FORK_ENDS},
		{603, SIP_FORK_ENDS},        {604, SIP_FORK_ENDS},        {606, SIP_FORK_ENDS},
		{699, SIP_FORK_ENDS},        {700, SIP_FORK_UNAVAILABLE},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char m[64];
		snprintf(m, sizeof m, "status %d", t[i].status);
		if (policy_fork_class(t[i].status) != t[i].cls) {
			unit_fail(__FILE__, __LINE__, m);
			return;
		}
	}
	for (int s = 100; s <= 799; s++)
		CHECK_EQ_INT(policy_fork_class(s), old_class(s));
}

/* ------------------------------------------------------------------ user preferences */

static struct store_prefs stored(bool defer, enum store_method m, enum store_on_expiry e)
{
	struct store_prefs p;
	memset(&p, 0, sizeof p);
	snprintf(p.aor, sizeof p.aor, "bob@example.com");
	p.defer = defer;
	p.method = m;
	p.on_expiry = e;
	return p;
}

UNIT_TEST(user_defaults_without_preference)
{
	struct pf_config c = cfg();
	struct pf_user_policy up;
	memset(&up, 0xff, sizeof up);
	policy_user(&c, NULL, NULL, &up);
	CHECK(up.defer);
	CHECK_EQ_INT(up.method, STORE_METHOD_PUSH);
	CHECK_EQ_INT(up.on_expiry, STORE_EXPIRY_DISCARD);
	c.default_method = STORE_METHOD_PULL;
	c.default_on_expiry = STORE_EXPIRY_KEEP;
	policy_user(&c, NULL, NULL, &up);
	CHECK(up.defer);
	CHECK_EQ_INT(up.method, STORE_METHOD_PULL);
	CHECK_EQ_INT(up.on_expiry, STORE_EXPIRY_KEEP);
	c.defer = false; /* the operator's switch with no preference at all */
	policy_user(&c, NULL, NULL, &up);
	CHECK(!up.defer);
	CHECK_EQ_INT(up.method, STORE_METHOD_PULL);
}

UNIT_TEST(user_preference_over_defaults)
{
	struct pf_config c = cfg();
	struct pf_user_policy up;
	/* user pull beats default push; user keep beats default discard */
	struct store_prefs p = stored(true, STORE_METHOD_PULL, STORE_EXPIRY_KEEP);
	policy_user(&c, NULL, &p, &up);
	CHECK(up.defer);
	CHECK_EQ_INT(up.method, STORE_METHOD_PULL);
	CHECK_EQ_INT(up.on_expiry, STORE_EXPIRY_KEEP);
	/* and the other way round: user push / discard beat default pull / keep */
	c.default_method = STORE_METHOD_PULL;
	c.default_on_expiry = STORE_EXPIRY_KEEP;
	p = stored(true, STORE_METHOD_PUSH, STORE_EXPIRY_DISCARD);
	policy_user(&c, NULL, &p, &up);
	CHECK_EQ_INT(up.method, STORE_METHOD_PUSH);
	CHECK_EQ_INT(up.on_expiry, STORE_EXPIRY_DISCARD);
	/* user defer=off beats the default (on) */
	p = stored(false, STORE_METHOD_PUSH, STORE_EXPIRY_DISCARD);
	policy_user(&c, NULL, &p, &up);
	CHECK(!up.defer);
}

UNIT_TEST(operator_defer_off_beats_user_defer_on)
{
	struct pf_config c = cfg();
	struct pf_user_policy up;
	struct store_prefs p = stored(true, STORE_METHOD_PULL, STORE_EXPIRY_KEEP);
	c.defer = false;
	policy_user(&c, NULL, &p, &up);
	CHECK(!up.defer);
	/* the switch touches deferral only: the user's other choices stand */
	CHECK_EQ_INT(up.method, STORE_METHOD_PULL);
	CHECK_EQ_INT(up.on_expiry, STORE_EXPIRY_KEEP);
	/* operator on, user off: off (the operator allows, the user declines) */
	c.defer = true;
	p.defer = false;
	policy_user(&c, NULL, &p, &up);
	CHECK(!up.defer);
}

struct parsed {
	int rc;
	char aor[LOC_MAX_AOR], key[POLICY_PREF_TOKEN_MAX], val[POLICY_PREF_TOKEN_MAX];
};

static struct parsed parse(const char *spec)
{
	struct parsed p;
	memset(&p, 0, sizeof p);
	p.rc = policy_parse_user_pref(spec, p.aor, sizeof p.aor, p.key, sizeof p.key, p.val, sizeof p.val);
	return p;
}

UNIT_TEST(user_pref_parse_good)
{
	struct parsed p = parse("bob@example.com:defer=on");
	CHECK_EQ_INT(p.rc, 0);
	CHECK_STR(p.aor, "bob@example.com");
	CHECK_STR(p.key, "defer");
	CHECK_STR(p.val, "on");
	p = parse("sip:bob@example.com:method=pull"); /* "sip:" prefix */
	CHECK_EQ_INT(p.rc, 0);
	CHECK_STR(p.aor, "bob@example.com");
	CHECK_STR(p.key, "method");
	CHECK_STR(p.val, "pull");
	p = parse("sip:Bob@Example.COM:on-expiry=keep"); /* host lower-cased, user kept */
	CHECK_EQ_INT(p.rc, 0);
	CHECK_STR(p.aor, "Bob@example.com");
	CHECK_STR(p.key, "on-expiry");
	CHECK_STR(p.val, "keep");
	/* the key is the registrar's key for the same user */
	char k[LOC_MAX_AOR];
	CHECK_EQ_INT(location_aor_key(k, sizeof k, "Bob", "EXAMPLE.com"), 0);
	CHECK_STR(p.aor, k);
	/* key and value are not judged by the parser */
	p = parse("bob@example.com:colour=blue");
	CHECK_EQ_INT(p.rc, 0);
	CHECK_STR(p.key, "colour");
	CHECK_STR(p.val, "blue");
	p = parse("bob@example.com:defer="); /* empty value: parsed, refused by apply */
	CHECK_EQ_INT(p.rc, 0);
	CHECK_STR(p.val, "");
	p = parse("bob@example.com:defer=on=off"); /* the first '=' after the AOR ends the key */
	CHECK_EQ_INT(p.rc, 0);
	CHECK_STR(p.key, "defer");
	CHECK_STR(p.val, "on=off");
}

UNIT_TEST(user_pref_parse_malformed)
{
	static const char *bad[] = {
		"",                        /* nothing */
		"bob@example.com",         /* missing colon */
		"bob@example.com=on",      /* missing colon (an '=' alone) */
		"bob@example.com:defer",   /* missing '=' */
		"sip:bob@example.com",     /* the scheme's ':' only, no '=' */
		"sip:bob=on",              /* the scheme's ':' is the last one */
		":defer=on",               /* empty AOR */
		"sip::defer=on",           /* empty AOR after the scheme */
		"bob:defer=on",            /* no '@' */
		"sip:bob:defer=on",        /* no '@' */
		"@example.com:defer=on",   /* empty user */
		"bob@:defer=on",           /* empty host */
		"bob@example.com:=on",     /* empty key */
		"bob@example.com:defer:on", /* the last ':' is in the "value": no '=' after it */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct parsed p = parse(bad[i]);
		if (p.rc != -1) {
			char m[128];
			snprintf(m, sizeof m, "\"%s\" must be refused", bad[i]);
			unit_fail(__FILE__, __LINE__, m);
			return;
		}
	}
}

UNIT_TEST(user_pref_parse_lengths)
{
	char spec[600], want[300];
	/* AOR: 255 bytes fit (LOC_MAX_AOR - 1), 256 do not; "sip:" does not count */
	memset(want, 'u', 251);
	memcpy(want + 251, "@h.x", 5); /* 255 bytes */
	snprintf(spec, sizeof spec, "sip:%s:defer=on", want);
	struct parsed p = parse(spec);
	CHECK_EQ_INT(p.rc, 0);
	CHECK_STR(p.aor, want);
	snprintf(spec, sizeof spec, "u%s:defer=on", want); /* 256 */
	CHECK_EQ_INT(parse(spec).rc, -1);
	/* key and value: 31 bytes fit, 32 do not */
	char tok[40];
	memset(tok, 'k', 31);
	tok[31] = '\0';
	snprintf(spec, sizeof spec, "bob@h:%s=on", tok);
	CHECK_EQ_INT(parse(spec).rc, 0);
	snprintf(spec, sizeof spec, "bob@h:%sk=on", tok);
	CHECK_EQ_INT(parse(spec).rc, -1);
	snprintf(spec, sizeof spec, "bob@h:defer=%s", tok);
	p = parse(spec);
	CHECK_EQ_INT(p.rc, 0);
	CHECK_STR(p.val, tok);
	snprintf(spec, sizeof spec, "bob@h:defer=%sk", tok);
	CHECK_EQ_INT(parse(spec).rc, -1);
	/* today's limits hold whatever the caller's buffers */
	char ba[600], bk[100], bv[100];
	snprintf(spec, sizeof spec, "bob@h:%sk=on", tok);
	CHECK_EQ_INT(policy_parse_user_pref(spec, ba, sizeof ba, bk, sizeof bk, bv, sizeof bv), -1);
	snprintf(spec, sizeof spec, "bob@h:defer=%sk", tok);
	CHECK_EQ_INT(policy_parse_user_pref(spec, ba, sizeof ba, bk, sizeof bk, bv, sizeof bv), -1);
	snprintf(spec, sizeof spec, "u%s:defer=on", want);
	CHECK_EQ_INT(policy_parse_user_pref(spec, ba, sizeof ba, bk, sizeof bk, bv, sizeof bv), -1);
	/* a caller buffer too small for what it must hold */
	char a[8], k[8], v[8];
	CHECK_EQ_INT(policy_parse_user_pref("bob@h.x:defer=on", a, sizeof a, k, sizeof k, v, sizeof v), 0);
	CHECK_STR(a, "bob@h.x");
	CHECK_EQ_INT(policy_parse_user_pref("bob@h.xy:defer=on", a, sizeof a, k, sizeof k, v, sizeof v), -1);
	CHECK_EQ_INT(policy_parse_user_pref("bob@h:method=push", a, sizeof a, k, 6, v, sizeof v), -1);
	CHECK_EQ_INT(policy_parse_user_pref("bob@h:defer=on", a, sizeof a, k, sizeof k, v, 2), -1);
}

UNIT_TEST(user_pref_parse_quirks_of_today)
{
	/* Pinned, not endorsed (see docs/internals/policy.md, "Quirks"): the AOR is everything
	 * before the last ':', so a port or another scheme stays in it. */
	struct parsed p = parse("bob@example.com:5060:defer=on");
	CHECK_EQ_INT(p.rc, 0);
	CHECK_STR(p.aor, "bob@example.com:5060");
	p = parse("SIP:bob@Example.com:defer=on"); /* "sip:" is matched case-sensitively */
	CHECK_EQ_INT(p.rc, 0);
	CHECK_STR(p.aor, "SIP:bob@example.com");
	p = parse("sips:bob@example.com:defer=on");
	CHECK_EQ_INT(p.rc, 0);
	CHECK_STR(p.aor, "sips:bob@example.com");
	p = parse("a@b@C.com:defer=on"); /* the first '@' splits */
	CHECK_EQ_INT(p.rc, 0);
	CHECK_STR(p.aor, "a@b@c.com");
}

UNIT_TEST(user_pref_apply_rules)
{
	struct store_prefs p = stored(true, STORE_METHOD_PUSH, STORE_EXPIRY_DISCARD);
	CHECK_EQ_INT(policy_apply_user_pref(&p, "defer", "off"), 0);
	CHECK(!p.defer);
	CHECK_EQ_INT(policy_apply_user_pref(&p, "defer", "on"), 0);
	CHECK(p.defer);
	CHECK_EQ_INT(policy_apply_user_pref(&p, "method", "pull"), 0);
	CHECK_EQ_INT(p.method, STORE_METHOD_PULL);
	CHECK_EQ_INT(policy_apply_user_pref(&p, "method", "push"), 0);
	CHECK_EQ_INT(p.method, STORE_METHOD_PUSH);
	CHECK_EQ_INT(policy_apply_user_pref(&p, "on-expiry", "keep"), 0);
	CHECK_EQ_INT(p.on_expiry, STORE_EXPIRY_KEEP);
	CHECK_EQ_INT(policy_apply_user_pref(&p, "on-expiry", "discard"), 0);
	CHECK_EQ_INT(p.on_expiry, STORE_EXPIRY_DISCARD);
	CHECK_STR(p.aor, "bob@example.com"); /* only the named field changes */
}

UNIT_TEST(user_pref_apply_refuses_and_leaves_p_unchanged)
{
	static const char *bad[][2] = {
		{"colour", "blue"},  {"Defer", "on"},      {"defer", "ON"},       {"defer", "yes"},
		{"defer", ""},       {"method", "pull "},  {"method", "Pull"},    {"method", "on"},
		{"on-expiry", "on"}, {"on_expiry", "keep"}, {"onexpiry", "keep"}, {"", ""},
		{"method", "keep"},  {"on-expiry", "pull"},
	};
	struct store_prefs p = stored(false, STORE_METHOD_PULL, STORE_EXPIRY_KEEP), before = p;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_EQ_INT(policy_apply_user_pref(&p, bad[i][0], bad[i][1]), -1);
		CHECK(memcmp(&p, &before, sizeof p) == 0);
	}
}

/* today's pf_prefs.c apply_one, verbatim but for the store I/O (the record is passed in) */
static int old_apply_one(const char *spec, struct store_prefs *p, char *k_out)
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
	strcpy(k_out, k);
	if (!strcmp(key, "defer") && (!strcmp(val, "on") || !strcmp(val, "off")))
		p->defer = !strcmp(val, "on");
	else if (!strcmp(key, "method") && (!strcmp(val, "push") || !strcmp(val, "pull")))
		p->method = !strcmp(val, "pull") ? STORE_METHOD_PULL : STORE_METHOD_PUSH;
	else if (!strcmp(key, "on-expiry") && (!strcmp(val, "discard") || !strcmp(val, "keep")))
		p->on_expiry = !strcmp(val, "keep") ? STORE_EXPIRY_KEEP : STORE_EXPIRY_DISCARD;
	else
		return -1;
	return 0;
}

static int new_apply_one(const char *spec, struct store_prefs *p, char *k_out)
{
	char key[POLICY_PREF_TOKEN_MAX], val[POLICY_PREF_TOKEN_MAX];
	if (policy_parse_user_pref(spec, k_out, LOC_MAX_AOR, key, sizeof key, val, sizeof val))
		return -1;
	return policy_apply_user_pref(p, key, val);
}

UNIT_TEST(user_pref_same_as_today)
{
	static const char *specs[] = {
		"bob@example.com:defer=on", "sip:bob@example.com:method=pull", "bob@EXAMPLE.com:on-expiry=keep",
		"bob@example.com:defer=off", "bob@example.com:method=push", "bob@example.com:on-expiry=discard",
		"sip:bob@x:defer=ON", "bob@x:defer", "bob@x", ":defer=on", "sip:", "sip:=", "sip::=", "@:=",
		"a@b:c=d", "a@b@c:defer=on", "SIP:a@b:defer=on", "a@b:5060:method=pull", "a=b@c:defer=on",
	};
	for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
		struct store_prefs p1 = stored(true, STORE_METHOD_PUSH, STORE_EXPIRY_DISCARD), p2 = p1;
		char k1[LOC_MAX_AOR] = "", k2[LOC_MAX_AOR] = "";
		int r1 = old_apply_one(specs[i], &p1, k1), r2 = new_apply_one(specs[i], &p2, k2);
		CHECK_EQ_INT(r2, r1);
		if (r1 == 0) {
			CHECK_STR(k2, k1);
			CHECK(memcmp(&p1, &p2, sizeof p1) == 0);
		}
	}
	/* and over generated specs: short ones from the characters that matter, some long */
	static const char alphabet[] = "sip:@=Bb.xdeferonmthulkcag-";
	static const char *tail[] = {"", "defer=on", ":defer=off", ":method=pull", ":on-expiry=keep", "=on"};
	uint32_t seed = 12345;
	char spec[400];
	unsigned accepted = 0;
	for (int n = 0; n < 200000; n++) {
		seed = seed * 1103515245u + 12345u;
		size_t len = (seed >> 16) % 14;
		size_t o = 0;
		if ((seed >> 8) & 1)
			o += (size_t)snprintf(spec, sizeof spec, "sip:");
		if (n % 1000 == 0) { /* long AORs around the 255/256 bound */
			size_t fill = 240 + (size_t)(n / 1000) % 24;
			memset(spec + o, 'u', fill);
			o += fill;
			spec[o++] = '@';
		}
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			spec[o++] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
		}
		seed = seed * 1103515245u + 12345u;
		snprintf(spec + o, sizeof spec - o, "%s", tail[(seed >> 16) % 6]);
		struct store_prefs p1 = stored(n & 1, STORE_METHOD_PULL, STORE_EXPIRY_KEEP), p2 = p1;
		char k1[LOC_MAX_AOR] = "", k2[LOC_MAX_AOR] = "";
		int r1 = old_apply_one(spec, &p1, k1), r2 = new_apply_one(spec, &p2, k2);
		if (r1 != r2 || (r1 == 0 && (strcmp(k1, k2) || memcmp(&p1, &p2, sizeof p1)))) {
			char m[512];
			snprintf(m, sizeof m, "\"%.400s\": today %d, policy %d", spec, r1, r2);
			unit_fail(__FILE__, __LINE__, m);
			return;
		}
		accepted += r1 == 0;
	}
	CHECK(accepted > 1000); /* the generator reaches the accepting paths too */
}

UNIT_TEST(user_pref_new_record_starts_with_defer_on)
{
	struct pf_config c = cfg();
	struct store_prefs p;
	memset(&p, 0x5a, sizeof p);
	c.defer = false; /* the operator's switch is NOT baked into the user's record */
	c.default_method = STORE_METHOD_PULL;
	c.default_on_expiry = STORE_EXPIRY_KEEP;
	policy_new_prefs(&c, "bob@example.com", &p);
	CHECK_STR(p.aor, "bob@example.com");
	CHECK(p.defer);
	CHECK_EQ_INT(p.method, STORE_METHOD_PULL);
	CHECK_EQ_INT(p.on_expiry, STORE_EXPIRY_KEEP);
	/* the whole --user-pref path: parse, new record, apply, then read it back */
	struct parsed x = parse("sip:bob@EXAMPLE.com:method=push");
	CHECK_EQ_INT(x.rc, 0);
	policy_new_prefs(&c, x.aor, &p);
	CHECK_EQ_INT(policy_apply_user_pref(&p, x.key, x.val), 0);
	struct pf_user_policy up;
	policy_user(&c, NULL, &p, &up);
	CHECK(!up.defer); /* operator off */
	CHECK_EQ_INT(up.method, STORE_METHOD_PUSH);
	CHECK_EQ_INT(up.on_expiry, STORE_EXPIRY_KEEP);
	c.defer = true; /* the operator turns deferral on again: the user had not opted out */
	policy_user(&c, NULL, &p, &up);
	CHECK(up.defer);
	/* the record is zeroed beyond the AOR (no stack garbage written to the store) */
	size_t n = strlen(p.aor);
	for (size_t i = n; i < sizeof p.aor; i++)
		CHECK_EQ_INT(p.aor[i], 0);
}

/* ------------------------------------------------------------------- store-and-forward */

UNIT_TEST(may_defer)
{
	struct pf_config c = cfg();
	struct pf_user_policy up;
	policy_user(&c, NULL, NULL, &up);
	CHECK(policy_may_defer(&c, &up, true));
	CHECK(!policy_may_defer(&c, &up, false)); /* unknown size: never stored */
	struct store_prefs p = stored(false, STORE_METHOD_PUSH, STORE_EXPIRY_DISCARD);
	policy_user(&c, NULL, &p, &up);
	CHECK(!policy_may_defer(&c, &up, true)); /* the user said no */
	c.defer = false;
	policy_user(&c, NULL, NULL, &up);
	CHECK(!policy_may_defer(&c, &up, true)); /* the operator said no */
	up.defer = true; /* a hand-made policy cannot bypass the operator */
	CHECK(!policy_may_defer(&c, &up, true));
}

UNIT_TEST(keep_partial)
{
	struct pf_config c = cfg();
	CHECK(policy_keep_partial(&c, true, 1, 1000));
	CHECK(policy_keep_partial(&c, true, 999, 1000));
	CHECK(!policy_keep_partial(&c, false, 500, 1000)); /* no hash: nothing can resume it */
	CHECK(!policy_keep_partial(&c, true, 0, 1000));    /* nothing came */
	CHECK(!policy_keep_partial(&c, true, 1000, 1000)); /* all came: not a partial */
	CHECK(!policy_keep_partial(&c, true, 1001, 1000));
	CHECK(!policy_keep_partial(&c, true, 0, 0));
	c.defer = false; /* today's rule does not look at deferral (docs: "Quirks") */
	CHECK(policy_keep_partial(&c, true, 1, 1000));
}

/* today's pf_intake.c pf_expiry_for, verbatim (over pf_config) */
static int64_t old_expiry(const struct pf_config *c, int64_t now_ms, uint64_t requested_s)
{
	uint64_t s = requested_s ? requested_s : c->store_default_expiry;
	if (s > c->store_max_expiry)
		s = c->store_max_expiry;
	return now_ms + (int64_t)s * 1000;
}

UNIT_TEST(expiry_default_and_cap)
{
	struct pf_config c = cfg(); /* default 7 d, max 30 d */
	const int64_t now = 1764000000000;
	CHECK_EQ_INT(policy_expiry(&c, now, 0), now + 7LL * 86400 * 1000); /* nothing asked */
	CHECK_EQ_INT(policy_expiry(&c, now, 1), now + 1000);
	CHECK_EQ_INT(policy_expiry(&c, now, 3600), now + 3600 * 1000LL);
	CHECK_EQ_INT(policy_expiry(&c, now, 30 * 86400), now + 30LL * 86400 * 1000); /* at the cap */
	CHECK_EQ_INT(policy_expiry(&c, now, 30 * 86400 + 1), now + 30LL * 86400 * 1000);
	/* a huge Cpm-Expires (pf refuses > 100 years with 400; policy holds anyway) */
	CHECK_EQ_INT(policy_expiry(&c, now, 100ULL * 366 * 86400), now + 30LL * 86400 * 1000);
	CHECK_EQ_INT(policy_expiry(&c, now, UINT64_MAX), now + 30LL * 86400 * 1000);
	/* a default above the maximum is capped too (cpmd's options refuse it) */
	c.store_default_expiry = 40 * 86400;
	CHECK_EQ_INT(policy_expiry(&c, now, 0), now + 30LL * 86400 * 1000);
	/* the largest maximum there is, and a clock at its end: saturates, no overflow */
	c.store_max_expiry = UINT_MAX;
	CHECK_EQ_INT(policy_expiry(&c, now, UINT64_MAX), now + (int64_t)UINT_MAX * 1000);
	CHECK_EQ_INT(policy_expiry(&c, INT64_MAX - 5, 1), INT64_MAX);
	/* the same as today wherever today's code is defined */
	struct pf_config g = cfg();
	static const unsigned defs[] = {1, 60, 7 * 86400, 10 * 366 * 86400};
	static const unsigned maxs[] = {1, 3600, 30 * 86400, 10 * 366 * 86400};
	static const uint64_t reqs[] = {0, 1, 59, 60, 61, 86400, 30 * 86400, 10ULL * 366 * 86400 + 1, UINT64_MAX};
	for (size_t i = 0; i < 4; i++)
		for (size_t j = 0; j < 4; j++)
			for (size_t k = 0; k < sizeof reqs / sizeof reqs[0]; k++) {
				g.store_default_expiry = defs[i];
				g.store_max_expiry = maxs[j];
				CHECK_EQ_INT(policy_expiry(&g, now, reqs[k]), old_expiry(&g, now, reqs[k]));
				CHECK_EQ_INT(policy_expiry(&g, 0, reqs[k]), old_expiry(&g, 0, reqs[k]));
			}
}

/* today's pf_deliver.c retry_schedule, the delay part verbatim (r->attempts = retries) */
static unsigned old_retry(const struct pf_config *c, unsigned attempts)
{
	unsigned delay = c->delivery_retry_min;
	for (unsigned i = 0; i < attempts && delay < c->delivery_retry_max; i++)
		delay *= 2;
	if (delay > c->delivery_retry_max)
		delay = c->delivery_retry_max;
	return delay;
}

UNIT_TEST(retry_backoff_sequence)
{
	struct pf_config c = cfg(); /* 10:600 */
	static const unsigned want[] = {10, 20, 40, 80, 160, 320, 600, 600, 600};
	for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++)
		CHECK_EQ_INT(policy_retry_delay(&c, i), want[i]);
	CHECK_EQ_INT(policy_retry_delay(&c, UINT_MAX), 600); /* no loop of 4 billion */
	c.delivery_retry_min = 7;
	c.delivery_retry_max = 100;
	static const unsigned want2[] = {7, 14, 28, 56, 100, 100};
	for (unsigned i = 0; i < sizeof want2 / sizeof want2[0]; i++)
		CHECK_EQ_INT(policy_retry_delay(&c, i), want2[i]);
	c.delivery_retry_min = c.delivery_retry_max = 30; /* constant */
	CHECK_EQ_INT(policy_retry_delay(&c, 0), 30);
	CHECK_EQ_INT(policy_retry_delay(&c, 5), 30);
}

UNIT_TEST(retry_edges)
{
	struct pf_config c = cfg();
	/* MIN > MAX (cpmd's options refuse it): MAX from the first retry */
	c.delivery_retry_min = 900;
	c.delivery_retry_max = 600;
	CHECK_EQ_INT(policy_retry_delay(&c, 0), 600);
	CHECK_EQ_INT(policy_retry_delay(&c, 3), 600);
	/* MIN 0 (refused by cpmd too): 0 for ever, as today, and without a long loop */
	c.delivery_retry_min = 0;
	CHECK_EQ_INT(policy_retry_delay(&c, 0), 0);
	CHECK_EQ_INT(policy_retry_delay(&c, UINT_MAX), 0);
	/* doubling past UINT_MAX: today's unsigned would wrap; policy saturates at MAX */
	c.delivery_retry_min = 3000000000u;
	c.delivery_retry_max = 4000000000u;
	CHECK_EQ_INT(policy_retry_delay(&c, 0), 3000000000u);
	CHECK_EQ_INT(policy_retry_delay(&c, 1), 4000000000u);
	CHECK_EQ_INT(policy_retry_delay(&c, 40), 4000000000u);
	c.delivery_retry_min = 1;
	c.delivery_retry_max = UINT_MAX;
	CHECK_EQ_INT(policy_retry_delay(&c, 31), 1u << 31);
	CHECK_EQ_INT(policy_retry_delay(&c, 32), UINT_MAX);
	/* the same as today over every configuration cpmd accepts (1 <= MIN <= MAX <= 86400) */
	static const unsigned mins[] = {1, 2, 3, 10, 600, 86400};
	static const unsigned maxs[] = {1, 10, 600, 1000, 86400};
	for (size_t i = 0; i < 6; i++)
		for (size_t j = 0; j < 5; j++) {
			if (mins[i] > maxs[j])
				continue;
			c.delivery_retry_min = mins[i];
			c.delivery_retry_max = maxs[j];
			for (unsigned n = 0; n < 40; n++)
				CHECK_EQ_INT(policy_retry_delay(&c, n), old_retry(&c, n));
		}
}

UNIT_TEST(delivery_room)
{
	struct pf_config c = cfg(); /* 4 per user */
	CHECK_EQ_INT(policy_delivery_room(&c, 0), 4);
	CHECK_EQ_INT(policy_delivery_room(&c, 1), 3);
	CHECK_EQ_INT(policy_delivery_room(&c, 3), 1);
	CHECK_EQ_INT(policy_delivery_room(&c, 4), 0); /* at the bound */
	CHECK_EQ_INT(policy_delivery_room(&c, 5), 0); /* over it (the bound was lowered): no wrap */
	CHECK_EQ_INT(policy_delivery_room(&c, UINT_MAX), 0);
	c.delivery_per_device = 64;
	CHECK_EQ_INT(policy_delivery_room(&c, 63), 1);
	c.delivery_per_device = 0; /* refused by cpmd: nothing ever starts */
	CHECK_EQ_INT(policy_delivery_room(&c, 0), 0);
}

UNIT_TEST(push_asserted_identity)
{
	struct pf_config c = cfg();
	CHECK(!policy_push_asserted_identity(&c));
	c.push_asserted_identity = true;
	CHECK(policy_push_asserted_identity(&c));
}

UNIT_TEST(notification_drop_time)
{
	struct pf_config c = cfg(); /* max 30 d: dropped after 60 d */
	const int64_t now = 1764000000000;
	CHECK_EQ_INT(policy_notif_drop_before(&c, now), now - 60LL * 86400 * 1000);
	/* today's pf_notify.c expression, verbatim */
	CHECK_EQ_INT(policy_notif_drop_before(&c, now), now - 2 * (int64_t)c.store_max_expiry * 1000);
	c.store_max_expiry = 1;
	CHECK_EQ_INT(policy_notif_drop_before(&c, now), now - 2000);
	c.store_max_expiry = UINT_MAX;
	CHECK_EQ_INT(policy_notif_drop_before(&c, now), now - 2 * (int64_t)UINT_MAX * 1000);
	CHECK_EQ_INT(policy_notif_drop_before(&c, 0), -2 * (int64_t)UINT_MAX * 1000);
	CHECK_EQ_INT(policy_notif_drop_before(&c, INT64_MIN + 5), INT64_MIN); /* saturates */
}

/* ---------------------------------------------------------------------------- chat sessions */

static struct sdp_ft session_offer(void)
{
	struct sdp_ft o;
	memset(&o, 0, sizeof o);
	o.port = 9;
	o.dir = SDP_DIR_SENDRECV;
	o.setup = SDP_SETUP_ACTIVE;
	snprintf(o.accept_types, sizeof o.accept_types, "message/cpim");
	snprintf(o.accept_wrapped_types, sizeof o.accept_wrapped_types, "text/plain message/imdn+xml");
	return o;
}

#define CHECK_SESSION(c, o, st, ph)                                                                            \
	do {                                                                                                   \
		struct pf_verdict _v;                                                                          \
		dirty(&_v);                                                                                    \
		policy_check_session_offer((c), (o), &_v);                                                     \
		CHECK_EQ_INT(_v.status, (st));                                                                 \
		CHECK_STR(_v.phrase, (ph));                                                                    \
		CHECK_STR(_v.warning, "");                                                                     \
	} while (0)

UNIT_TEST(session_offer_rules)
{
	struct pf_config c = cfg();
	struct sdp_ft o = session_offer();
	CHECK_SESSION(&c, &o, 0, "");
	o.dir = SDP_DIR_NONE; /* RFC 4566: sendrecv */
	o.setup = SDP_SETUP_NONE;
	CHECK_SESSION(&c, &o, 0, "");
	snprintf(o.accept_types, sizeof o.accept_types, "text/plain *");
	CHECK_SESSION(&c, &o, 0, "");
	o = session_offer();
	o.port = 0;
	CHECK_SESSION(&c, &o, 488, "MSRP Stream Rejected In Offer");
	o = session_offer();
	o.dir = SDP_DIR_SENDONLY;
	CHECK_SESSION(&c, &o, 488, "Chat Session Offer Must Be sendrecv");
	o.dir = SDP_DIR_RECVONLY;
	CHECK_SESSION(&c, &o, 488, "Chat Session Offer Must Be sendrecv");
	o.dir = SDP_DIR_INACTIVE;
	CHECK_SESSION(&c, &o, 488, "Chat Session Offer Must Be sendrecv");
	o = session_offer();
	snprintf(o.accept_types, sizeof o.accept_types, "text/plain");
	CHECK_SESSION(&c, &o, 488, "Chat Session Must Accept message/cpim");
	o.accept_types[0] = '\0';
	CHECK_SESSION(&c, &o, 488, "Chat Session Must Accept message/cpim");
	o = session_offer();
	o.setup = SDP_SETUP_PASSIVE;
	CHECK_SESSION(&c, &o, 488, "MSRP Offerer Must Be Active (a=setup)");
	o.setup = SDP_SETUP_HOLDCONN;
	CHECK_SESSION(&c, &o, 488, "MSRP Offerer Must Be Active (a=setup)");
	o.setup = SDP_SETUP_ACTPASS;
	CHECK_SESSION(&c, &o, 0, "");
}

UNIT_TEST(session_room_limits)
{
	struct pf_config c = cfg();
	struct pf_verdict v;
	c.max_sessions_per_user = 16;
	c.max_sessions = 1000;
	dirty(&v);
	policy_session_room(&c, 0, 0, &v);
	CHECK_EQ_INT(v.status, 0);
	CHECK_STR(v.warning, "");
	policy_session_room(&c, 15, 999, &v);
	CHECK_EQ_INT(v.status, 0);
	dirty(&v);
	policy_session_room(&c, 16, 100, &v);
	CHECK_EQ_INT(v.status, 486);
	CHECK_STR(v.phrase, "Too Many Sessions");
	CHECK_STR(v.warning, "");
	/* the server's bound wins over the user's */
	policy_session_room(&c, 16, 1000, &v);
	CHECK_EQ_INT(v.status, 503);
	CHECK_STR(v.phrase, "Too Many Sessions");
	policy_session_room(&c, 0, 1000, &v);
	CHECK_EQ_INT(v.status, 503);
	c.max_sessions_per_user = 1;
	policy_session_room(&c, 1, 0, &v);
	CHECK_EQ_INT(v.status, 486);
}

UNIT_TEST(session_unreachable_answers)
{
	struct pf_config c = cfg();
	struct pf_verdict v;
	dirty(&v);
	policy_session_unreachable(&c, PF_NO_DEVICE, &v);
	CHECK_EQ_INT(v.status, 480);
	CHECK_STR(v.phrase, "Temporarily Unavailable (no device registered)");
	CHECK_STR(v.warning, "");
	dirty(&v);
	policy_session_unreachable(&c, PF_NO_ANSWER, &v);
	CHECK_EQ_INT(v.status, 408);
	CHECK_STR(v.phrase, "Request Timeout (no answer)");
	CHECK_STR(v.warning, "");
	policy_session_unreachable(&c, PF_ALL_UNAVAILABLE, &v);
	CHECK_EQ_INT(v.status, 480);
	CHECK_STR(v.phrase, "Temporarily Unavailable");
	c.max_chat_size = 4096;
	CHECK_EQ_INT(policy_max_chat_size(&c), 4096);
}

/* ------------------------------------------------------------------- messages, reports */

UNIT_TEST(pager_size_limit)
{
	struct pf_config c = cfg();
	struct pf_verdict v;
	dirty(&v);
	policy_check_pager(&c, 16384, &v);
	CHECK_EQ_INT(v.status, 0);
	CHECK_STR(v.phrase, "");
	CHECK_STR(v.warning, "");
	dirty(&v);
	policy_check_pager(&c, 16385, &v);
	CHECK_EQ_INT(v.status, 413);
	CHECK_STR(v.phrase, "Message Too Large (max 16384 bytes: use large mode)");
	CHECK_STR(v.warning, "399 cpmd \"message body of 16385 bytes exceeds the pager maximum of 16384 bytes\"");
	c.max_pager_size = 100;
	policy_check_pager(&c, 0, &v);
	CHECK_EQ_INT(v.status, 0);
	policy_check_pager(&c, 101, &v);
	CHECK_EQ_INT(v.status, 413);
	policy_check_pager(&c, SIZE_MAX, &v);
	CHECK_EQ_INT(v.status, 413);
}

UNIT_TEST(who_notifies_about_an_item)
{
	struct store_item it;
	memset(&it, 0, sizeof it);
	static const enum store_notif_kind kinds[] = {STORE_NOTIF_DELIVERED, STORE_NOTIF_FAILED, STORE_NOTIF_STORED,
						      STORE_NOTIF_DISPLAYED};
	/* a file: always, whatever its (ignored) disposition bits */
	for (unsigned disp = 0; disp < 8; disp++)
		for (int k = 0; k < 4; k++) {
			it.kind = STORE_KIND_FILE;
			it.imdn_disp = disp;
			CHECK(policy_item_notifies(&it, kinds[k]));
			/* a message: failed only, only when negative-delivery was asked */
			it.kind = STORE_KIND_MESSAGE;
			CHECK_EQ_INT(policy_item_notifies(&it, kinds[k]),
				     kinds[k] == STORE_NOTIF_FAILED && (disp & STORE_IMDN_NEGATIVE));
		}
}

UNIT_TEST(report_bits)
{
	const unsigned all = STORE_IMDN_POSITIVE | STORE_IMDN_NEGATIVE | STORE_IMDN_DISPLAY;
	CHECK_EQ_INT(policy_report_bit(IMDN_KIND_DELIVERY, IMDN_STATUS_DELIVERED, all), STORE_REPORT_DELIVERED);
	CHECK_EQ_INT(policy_report_bit(IMDN_KIND_DELIVERY, IMDN_STATUS_FAILED, all), STORE_REPORT_FAILED);
	CHECK_EQ_INT(policy_report_bit(IMDN_KIND_DELIVERY, IMDN_STATUS_FORBIDDEN, all), STORE_REPORT_FAILED);
	CHECK_EQ_INT(policy_report_bit(IMDN_KIND_DELIVERY, IMDN_STATUS_ERROR, all), STORE_REPORT_FAILED);
	CHECK_EQ_INT(policy_report_bit(IMDN_KIND_DISPLAY, IMDN_STATUS_DISPLAYED, all), STORE_REPORT_DISPLAYED);
	CHECK_EQ_INT(policy_report_bit(IMDN_KIND_DISPLAY, IMDN_STATUS_ERROR, all), 0);
	CHECK_EQ_INT(policy_report_bit(IMDN_KIND_DISPLAY, IMDN_STATUS_FORBIDDEN, all), 0);
	CHECK_EQ_INT(policy_report_bit(IMDN_KIND_PROCESSING, IMDN_STATUS_PROCESSED, all), 0);
	CHECK_EQ_INT(policy_report_bit(IMDN_KIND_PROCESSING, IMDN_STATUS_STORED, all), 0);
	/* only what was asked */
	CHECK_EQ_INT(policy_report_bit(IMDN_KIND_DELIVERY, IMDN_STATUS_DELIVERED, all & ~STORE_IMDN_POSITIVE), 0);
	CHECK_EQ_INT(policy_report_bit(IMDN_KIND_DELIVERY, IMDN_STATUS_FAILED, STORE_IMDN_POSITIVE), 0);
	CHECK_EQ_INT(policy_report_bit(IMDN_KIND_DISPLAY, IMDN_STATUS_DISPLAYED, STORE_IMDN_POSITIVE), 0);
	CHECK_EQ_INT(policy_report_bit(IMDN_KIND_DELIVERY, IMDN_STATUS_DELIVERED, 0), 0);
	CHECK_EQ_INT(policy_report_bit(IMDN_KIND_DISPLAY, IMDN_STATUS_DISPLAYED, STORE_IMDN_DISPLAY),
		     STORE_REPORT_DISPLAYED);
	/* a kind/status pair the parser never gives: nothing */
	CHECK_EQ_INT(policy_report_bit(IMDN_KIND_DISPLAY, IMDN_STATUS_DELIVERED, all), 0);
	CHECK_EQ_INT(policy_report_bit((enum imdn_kind)0, (enum imdn_status)0, all), 0);
}

UNIT_TEST(routed_messages_are_remembered_twice_the_max_expiry)
{
	struct pf_config c = cfg();
	const int64_t now = 1764000000000;
	CHECK_EQ_INT(policy_routed_expiry(&c, now), now + 60LL * 86400 * 1000);
	c.store_max_expiry = UINT_MAX;
	CHECK_EQ_INT(policy_routed_expiry(&c, now), now + 2 * (int64_t)UINT_MAX * 1000);
	CHECK_EQ_INT(policy_routed_expiry(&c, INT64_MAX - 5), INT64_MAX); /* saturates */
}

UNIT_TEST(quota_items_then_bytes)
{
	struct pf_config c = cfg();
	struct pf_verdict v;
	policy_check_quota(&c, 1000000, UINT64_MAX, UINT64_MAX, &v); /* 0 = no limit */
	CHECK_EQ_INT(v.status, 0);
	c.quota_items = 3;
	c.quota_bytes = 1000;
	policy_check_quota(&c, 2, 0, 1000, &v); /* exactly full: fits */
	CHECK_EQ_INT(v.status, 0);
	policy_check_quota(&c, 3, 0, 1, &v);
	CHECK_EQ_INT(v.status, 486);
	CHECK(strcmp(v.phrase, "Recipient Quota Exceeded (items)") == 0);
	CHECK(strstr(v.warning, "quota-items is 3") != NULL);
	policy_check_quota(&c, 2, 600, 401, &v);
	CHECK_EQ_INT(v.status, 486);
	CHECK(strcmp(v.phrase, "Recipient Quota Exceeded (bytes)") == 0);
	CHECK(strstr(v.warning, "quota-bytes of 1000") != NULL);
	policy_check_quota(&c, 2, 600, 400, &v);
	CHECK_EQ_INT(v.status, 0);
	policy_check_quota(&c, 0, 2000, 0, &v); /* already over (the quota was lowered): no wrap */
	CHECK_EQ_INT(v.status, 486);
	policy_check_quota(&c, 0, 10, UINT64_MAX, &v); /* no wrap of held + size */
	CHECK_EQ_INT(v.status, 486);
}

UNIT_TEST(transfer_room_limits)
{
	struct pf_config c = cfg();
	struct pf_verdict v;
	c.max_transfers = 10;
	c.max_transfers_per_user = 0;
	policy_transfer_room(&c, 9, 9, &v); /* 0: only the total */
	CHECK_EQ_INT(v.status, 0);
	policy_transfer_room(&c, 0, 10, &v);
	CHECK_EQ_INT(v.status, 503);
	CHECK(strcmp(v.phrase, "Too Many Transfers") == 0);
	c.max_transfers_per_user = 2;
	policy_transfer_room(&c, 1, 5, &v);
	CHECK_EQ_INT(v.status, 0);
	policy_transfer_room(&c, 2, 5, &v);
	CHECK_EQ_INT(v.status, 486);
	CHECK(strcmp(v.phrase, "Too Many Transfers (max-transfers-per-user 2)") == 0);
	policy_transfer_room(&c, 2, 10, &v); /* the server's bound first */
	CHECK_EQ_INT(v.status, 503);
}

UNIT_MAIN(T(offer_valid_push_is_accepted), T(offer_needs_a_selector_and_a_stream),
	  T(offer_direction_sendonly_vs_recvonly), T(offer_selector_needs_name_size_and_type),
	  T(offer_hash_is_sha1_only), T(offer_offerer_must_be_active), T(offer_file_range_rules),
	  T(offer_size_limit_phrase_and_warning), T(max_file_size_for_the_relay), T(unreachable_answers),
	  T(fork_class_boundaries), T(user_defaults_without_preference), T(user_preference_over_defaults),
	  T(operator_defer_off_beats_user_defer_on), T(user_pref_parse_good), T(user_pref_parse_malformed),
	  T(user_pref_parse_lengths), T(user_pref_parse_quirks_of_today), T(user_pref_apply_rules),
	  T(user_pref_apply_refuses_and_leaves_p_unchanged), T(user_pref_same_as_today),
	  T(user_pref_new_record_starts_with_defer_on),
	  T(may_defer), T(keep_partial), T(expiry_default_and_cap), T(retry_backoff_sequence), T(retry_edges),
	  T(delivery_room), T(push_asserted_identity), T(notification_drop_time), T(pager_size_limit),
	  T(who_notifies_about_an_item), T(report_bits), T(routed_messages_are_remembered_twice_the_max_expiry),
	  T(session_offer_rules), T(session_room_limits), T(session_unreachable_answers),
	  T(quota_items_then_bytes), T(transfer_room_limits))
