/* src/pf/policy.c, content screening (issue 11 §4): which checks depend on screening, their
 * order and phrases, the MIME-type lists, a scan's outcome under --screen-fail, the MSRP code
 * of a refusal, and the --user-pref block=SENDER match. */
#include <stdint.h>

#include "pf/policy.h"
#include "unit.h"

static struct pf_config cfg(void)
{
	struct pf_config c;
	memset(&c, 0, sizeof c);
	c.defer = true;
	return c;
}

static struct pf_screen_facts facts(void)
{
	return (struct pf_screen_facts){.sender_key = "alice@example.com", .user_type_ok = true, .type = "image/png",
					.size = 1000, .has_size = true};
}

UNIT_TEST(type_lists)
{
	CHECK(!policy_type_listed("", "text/plain"));
	CHECK(!policy_type_listed(NULL, "text/plain"));
	CHECK(policy_type_listed("text/plain", "text/plain"));
	CHECK(policy_type_listed("text/plain", "TEXT/Plain; charset=utf-8"));
	CHECK(policy_type_listed(" image/png , text/plain ", "text/plain"));
	CHECK(!policy_type_listed("text/plain", "text/plainx"));
	CHECK(!policy_type_listed("text/plainx", "text/plain"));
	CHECK(policy_type_listed("image/*", "image/jpeg"));
	CHECK(!policy_type_listed("image/*", "imagex/jpeg"));
	CHECK(!policy_type_listed("image/*", "image/")); /* no subtype: not a type of image */
	CHECK(policy_type_listed("*", "application/zip"));
	CHECK(policy_type_listed("*/*", "application/zip"));
	CHECK(policy_type_listed("application/octet-stream", "")); /* no type: octet-stream */
	CHECK(!policy_type_listed(",,", "text/plain"));
	CHECK(policy_type_listed("a/b,,text/plain", "text/plain"));
}

UNIT_TEST(blocked_and_max_size_hold_without_screening)
{
	struct pf_config c = cfg();
	struct pf_user_policy up = {.screening = false, .max_size = 0};
	struct pf_screen_facts f = facts();
	struct pf_verdict v;
	policy_screen_offer(&c, &up, &f, &v);
	CHECK_EQ_INT(v.status, 0);
	f.blocked = true;
	policy_screen_offer(&c, &up, &f, &v);
	CHECK_EQ_INT(v.status, 403);
	CHECK_STR(v.phrase, "Sender Blocked By Recipient (alice@example.com)");
	f = facts();
	up.max_size = 999;
	policy_screen_offer(&c, &up, &f, &v);
	CHECK_EQ_INT(v.status, 413);
	CHECK_STR(v.phrase, "Too Large For Recipient (max-size 999 bytes)");
	up.max_size = 1000; /* exactly: accepted */
	policy_screen_offer(&c, &up, &f, &v);
	CHECK_EQ_INT(v.status, 0);
	f.has_size = false; /* nothing to compare (a large message without a=max-size) */
	up.max_size = 1;
	policy_screen_offer(&c, &up, &f, &v);
	CHECK_EQ_INT(v.status, 0);
}

UNIT_TEST(type_lists_only_for_screened_users)
{
	struct pf_config c = cfg();
	struct pf_user_policy up = {.screening = false};
	struct pf_screen_facts f = facts();
	struct pf_verdict v;
	snprintf(c.screen_deny_types, sizeof c.screen_deny_types, "image/*");
	policy_screen_offer(&c, &up, &f, &v);
	CHECK_EQ_INT(v.status, 0); /* not screened */
	up.screening = true;
	policy_screen_offer(&c, &up, &f, &v);
	CHECK_EQ_INT(v.status, 415);
	CHECK_STR(v.phrase, "Unsupported Media Type (image/png)");
	CHECK(strstr(v.warning, "screen-deny-types") != NULL);
	/* deny wins over allow */
	snprintf(c.screen_allow_types, sizeof c.screen_allow_types, "image/png");
	policy_screen_offer(&c, &up, &f, &v);
	CHECK_EQ_INT(v.status, 415);
	c.screen_deny_types[0] = '\0';
	policy_screen_offer(&c, &up, &f, &v);
	CHECK_EQ_INT(v.status, 0);
	f.type = "application/zip; x=1";
	policy_screen_offer(&c, &up, &f, &v);
	CHECK_EQ_INT(v.status, 415);
	CHECK_STR(v.phrase, "Unsupported Media Type (application/zip)");
	CHECK(strstr(v.warning, "screen-allow-types") != NULL);
	/* the user's own accepted types */
	c.screen_allow_types[0] = '\0';
	f = facts();
	f.user_type_ok = false;
	policy_screen_offer(&c, &up, &f, &v);
	CHECK_EQ_INT(v.status, 415);
	CHECK(strstr(v.warning, "recipient") != NULL);
	up.screening = false;
	policy_screen_offer(&c, &up, &f, &v);
	CHECK_EQ_INT(v.status, 0);
}

UNIT_TEST(order_blocked_then_type_then_size)
{
	struct pf_config c = cfg();
	struct pf_user_policy up = {.screening = true, .max_size = 10};
	struct pf_screen_facts f = facts();
	struct pf_verdict v;
	snprintf(c.screen_deny_types, sizeof c.screen_deny_types, "image/png");
	f.blocked = true;
	policy_screen_offer(&c, &up, &f, &v);
	CHECK_EQ_INT(v.status, 403);
	f.blocked = false;
	policy_screen_offer(&c, &up, &f, &v);
	CHECK_EQ_INT(v.status, 415);
	c.screen_deny_types[0] = '\0';
	policy_screen_offer(&c, &up, &f, &v);
	CHECK_EQ_INT(v.status, 413);
}

UNIT_TEST(scan_wanted_needs_screening_and_clamd)
{
	struct pf_config c = cfg();
	struct pf_user_policy up = {.screening = true};
	CHECK(!policy_scan_wanted(&c, &up));
	snprintf(c.clamd, sizeof c.clamd, "unix:/run/clamd.ctl");
	CHECK(policy_scan_wanted(&c, &up));
	up.screening = false;
	CHECK(!policy_scan_wanted(&c, &up));
}

UNIT_TEST(scan_results_and_fail_modes)
{
	struct pf_config c = cfg();
	struct pf_verdict v;
	policy_scan_result(&c, CLAMD_CLEAN, NULL, NULL, &v);
	CHECK_EQ_INT(v.status, 0);
	policy_scan_result(&c, CLAMD_INFECTED, "Eicar-Test.UNOFFICIAL", NULL, &v);
	CHECK_EQ_INT(v.status, 403);
	CHECK_STR(v.phrase, "Malware Found (Eicar-Test.UNOFFICIAL)");
	CHECK_EQ_INT(policy_screen_msrp_status(&v), 403);
	policy_scan_result(&c, CLAMD_ERROR, NULL, "connect: No such file or directory", &v);
	CHECK_EQ_INT(v.status, 503);
	CHECK_STR(v.phrase, "Content Screening Unavailable (connect: No such file or directory)");
	CHECK_EQ_INT(policy_screen_msrp_status(&v), 400);
	policy_scan_result(&c, CLAMD_TOO_BIG, NULL, "x", &v);
	CHECK_EQ_INT(v.status, 503);
	CHECK_STR(v.phrase, "Content Screening Unavailable (too large to screen)");
	c.screen_fail_open = true;
	policy_scan_result(&c, CLAMD_ERROR, NULL, "x", &v);
	CHECK_EQ_INT(v.status, 0);
	policy_scan_result(&c, CLAMD_TOO_BIG, NULL, "x", &v);
	CHECK_EQ_INT(v.status, 0);
	policy_scan_result(&c, CLAMD_INFECTED, "X", NULL, &v); /* open never lets malware pass */
	CHECK_EQ_INT(v.status, 403);
	struct pf_verdict t = {.status = 415};
	CHECK_EQ_INT(policy_screen_msrp_status(&t), 415);
	t.status = 413;
	CHECK_EQ_INT(policy_screen_msrp_status(&t), 413);
	t.status = 488;
	CHECK_EQ_INT(policy_screen_msrp_status(&t), 400);
}

UNIT_TEST(block_pref_names_sender)
{
	CHECK(policy_pref_names_sender("alice@example.com", "alice@example.com"));
	CHECK(policy_pref_names_sender("sip:alice@Example.COM", "alice@example.com"));
	CHECK(!policy_pref_names_sender("Alice@example.com", "alice@example.com")); /* user part as is */
	CHECK(!policy_pref_names_sender("alice@example.co", "alice@example.com"));
	CHECK(!policy_pref_names_sender("alic@example.com", "alice@example.com"));
	CHECK(!policy_pref_names_sender("alice", "alice@example.com"));
	CHECK(!policy_pref_names_sender("", "alice@example.com"));
}

UNIT_TEST(user_pref_block_parses)
{
	char k[LOC_MAX_AOR], key[POLICY_PREF_TOKEN_MAX], val[POLICY_PREF_TOKEN_MAX];
	CHECK_EQ_INT(policy_parse_user_pref("bob@example.com:block=alice@example.com", k, sizeof k, key, sizeof key,
					    val, sizeof val),
		     0);
	CHECK_STR(key, "block");
	CHECK_STR(val, "alice@example.com");
}

UNIT_MAIN(T(type_lists), T(blocked_and_max_size_hold_without_screening), T(type_lists_only_for_screened_users),
	  T(order_blocked_then_type_then_size), T(scan_wanted_needs_screening_and_clamd),
	  T(scan_results_and_fail_modes), T(block_pref_names_sender), T(user_pref_block_parses))
