/* src/pf/policy.c, the user's XDM document (issue 11 §3): its settings under the local record
 * and the operator's switches (policy_user), what a parsed document gives (policy_xdm_settings,
 * from the real codec), blocked senders and MIME types (policy_sender_blocked,
 * policy_type_accepted). */
#include <stdint.h>
#include <stdlib.h>

#include "cpm/prefs_doc.h"
#include "pf/policy.h"
#include "unit.h"

static struct pf_config cfg(void)
{
	struct pf_config c;
	memset(&c, 0, sizeof c);
	c.defer = true;
	c.default_method = STORE_METHOD_PUSH;
	c.default_on_expiry = STORE_EXPIRY_DISCARD;
	c.mss = true; /* so that history and keep are not cut by "no MSS" */
	return c;
}

static struct pf_xdm_settings doc_all(void)
{
	struct pf_xdm_settings x;
	memset(&x, 0, sizeof x);
	x.defer = PREFS_OFF;
	x.delivery = PREFS_DELIVERY_PULL;
	x.keep = PREFS_KEEP_INSTEAD;
	x.on_expiry = PREFS_EXPIRY_KEEP;
	x.history = PREFS_ON;
	x.screening = PREFS_ON;
	x.has_max_size = true;
	x.max_size = 1000;
	return x;
}

UNIT_TEST(unset_document_is_the_defaults)
{
	struct pf_config c = cfg();
	struct pf_xdm_settings x;
	memset(&x, 0, sizeof x);
	struct pf_user_policy a, b;
	policy_user(&c, NULL, NULL, &a);
	policy_user(&c, &x, NULL, &b);
	CHECK(a.defer == b.defer && a.method == b.method && a.on_expiry == b.on_expiry && a.history == b.history &&
	      a.keep == b.keep && a.screening == b.screening && a.max_size == b.max_size);
	CHECK(b.defer);
	CHECK_EQ_INT(b.method, STORE_METHOD_PUSH);
	c.default_method = STORE_METHOD_PULL; /* an unset delivery leaves the operator's default */
	policy_user(&c, &x, NULL, &b);
	CHECK_EQ_INT(b.method, STORE_METHOD_PULL);
}

UNIT_TEST(document_over_the_defaults)
{
	struct pf_config c = cfg();
	struct pf_xdm_settings x = doc_all();
	struct pf_user_policy up;
	policy_user(&c, &x, NULL, &up);
	CHECK(!up.defer);
	CHECK_EQ_INT(up.method, STORE_METHOD_PULL);
	CHECK_EQ_INT(up.keep, STORE_KEEP_INSTEAD);
	CHECK_EQ_INT(up.on_expiry, STORE_EXPIRY_KEEP);
	CHECK(up.history);
	CHECK(up.screening);
	CHECK(up.max_size == 1000);
	/* and the other values of each */
	x.defer = PREFS_ON, x.delivery = PREFS_DELIVERY_PUSH, x.keep = PREFS_KEEP_BESIDES;
	x.on_expiry = PREFS_EXPIRY_DISCARD, x.history = PREFS_OFF, x.screening = PREFS_OFF;
	c.default_method = STORE_METHOD_PULL;
	c.default_on_expiry = STORE_EXPIRY_KEEP;
	policy_user(&c, &x, NULL, &up);
	CHECK(up.defer);
	CHECK_EQ_INT(up.method, STORE_METHOD_PUSH);
	CHECK_EQ_INT(up.keep, STORE_KEEP_BESIDES);
	CHECK_EQ_INT(up.on_expiry, STORE_EXPIRY_DISCARD);
	CHECK(!up.history && !up.screening);
	x.keep = PREFS_KEEP_OFF;
	policy_user(&c, &x, NULL, &up);
	CHECK_EQ_INT(up.keep, STORE_KEEP_OFF);
	/* one setting given, the others stay the defaults */
	memset(&x, 0, sizeof x);
	x.delivery = PREFS_DELIVERY_PUSH;
	policy_user(&c, &x, NULL, &up);
	CHECK_EQ_INT(up.method, STORE_METHOD_PUSH);
	CHECK(up.defer);
	CHECK_EQ_INT(up.on_expiry, STORE_EXPIRY_KEEP);
}

UNIT_TEST(local_record_over_the_document)
{
	struct pf_config c = cfg();
	struct pf_xdm_settings x = doc_all();
	struct store_prefs p;
	policy_new_prefs(&c, "bob@example.com", &p); /* defer on, push, discard */
	struct pf_user_policy up;
	policy_user(&c, &x, &p, &up);
	CHECK(up.defer);
	CHECK_EQ_INT(up.method, STORE_METHOD_PUSH);
	CHECK_EQ_INT(up.on_expiry, STORE_EXPIRY_DISCARD);
	CHECK_EQ_INT(up.keep, STORE_KEEP_OFF);
	CHECK(!up.history && !up.screening && up.max_size == 0);
}

UNIT_TEST(operator_switches_over_the_document)
{
	struct pf_config c = cfg();
	struct pf_xdm_settings x;
	memset(&x, 0, sizeof x);
	x.defer = PREFS_ON, x.history = PREFS_ON, x.screening = PREFS_OFF, x.keep = PREFS_KEEP_INSTEAD;
	struct pf_user_policy up;
	c.defer = false;
	policy_user(&c, &x, NULL, &up);
	CHECK(!up.defer);
	CHECK(!policy_may_defer(&c, &up, true));
	c.history = PF_SWITCH_OFF;
	c.screening = PF_SWITCH_ON;
	c.keep = PF_SWITCH_OFF;
	policy_user(&c, &x, NULL, &up);
	CHECK(!up.history && up.screening);
	CHECK_EQ_INT(up.keep, STORE_KEEP_OFF);
	/* a switch left to the user: the document decides */
	c = cfg();
	c.history = PF_SWITCH_USER;
	policy_user(&c, &x, NULL, &up);
	CHECK(up.history);
	CHECK_EQ_INT(up.keep, STORE_KEEP_INSTEAD);
	/* no MSS: the document cannot ask for histories or kept files */
	c.mss = false;
	policy_user(&c, &x, NULL, &up);
	CHECK(!up.history);
	CHECK_EQ_INT(up.keep, STORE_KEEP_OFF);
}

UNIT_TEST(settings_of_a_parsed_document)
{
	static const char doc[] = "<?xml version=\"1.0\"?>\n"
				  "<cpm-prefs xmlns=\"urn:cpmd:params:xml:ns:cpm-prefs\">"
				  "<defer>false</defer><delivery>pull</delivery><keep-files>besides-device</keep-files>"
				  "<max-file-size>4096</max-file-size></cpm-prefs>";
	struct prefs_doc *d = malloc(sizeof *d);
	CHECK(d != NULL);
	CHECK_EQ_INT(prefs_doc_parse(doc, sizeof doc - 1, d), PREFS_OK);
	struct pf_xdm_settings x;
	memset(&x, 0xff, sizeof x);
	policy_xdm_settings(d, &x);
	CHECK_EQ_INT(x.defer, PREFS_OFF);
	CHECK_EQ_INT(x.delivery, PREFS_DELIVERY_PULL);
	CHECK_EQ_INT(x.keep, PREFS_KEEP_BESIDES);
	CHECK_EQ_INT(x.on_expiry, PREFS_EXPIRY_UNSET);
	CHECK_EQ_INT(x.history, PREFS_UNSET);
	CHECK_EQ_INT(x.screening, PREFS_UNSET);
	CHECK(x.has_max_size && x.max_size == 4096);
	free(d);
}

UNIT_TEST(blocked_senders)
{
	const char *b[] = {"sip:Spam@Example.NET", "sips:eve@evil.example;transport=tls", "tel:+15551234"};
	CHECK(policy_sender_blocked(b, 3, "Spam@example.net"));   /* host case-insensitive */
	CHECK(!policy_sender_blocked(b, 3, "spam@example.net"));  /* user exact (RFC 3261) */
	CHECK(policy_sender_blocked(b, 3, "eve@evil.example"));   /* sips:, parameters ignored */
	CHECK(!policy_sender_blocked(b, 3, "eve@evil.example.org"));
	CHECK(!policy_sender_blocked(b, 3, "eve@evil.exampl"));
	CHECK(policy_sender_blocked(b, 3, "+15551234@cpm.test")); /* tel: the user part */
	CHECK(!policy_sender_blocked(b, 3, "+1555123@cpm.test"));
	CHECK(!policy_sender_blocked(b, 0, "Spam@example.net"));  /* no list: nobody */
	CHECK(!policy_sender_blocked(b, 3, "nobody"));             /* not a key */
}

UNIT_TEST(mime_types)
{
	const char *acc[] = {"image/*", "text/plain"};
	const char *deny[] = {"image/svg+xml", "application/x-msdownload"};
	CHECK(policy_type_accepted(acc, 2, true, deny, 2, "image/jpeg"));
	CHECK(policy_type_accepted(acc, 2, true, deny, 2, "IMAGE/PNG"));
	CHECK(policy_type_accepted(acc, 2, true, deny, 2, "text/plain; charset=utf-8"));
	CHECK(!policy_type_accepted(acc, 2, true, deny, 2, "image/svg+xml")); /* deny wins */
	CHECK(!policy_type_accepted(acc, 2, true, deny, 2, "text/html"));     /* not accepted */
	CHECK(!policy_type_accepted(acc, 2, true, deny, 2, "image"));         /* no subtype */
	CHECK(!policy_type_accepted(acc, 2, true, deny, 2, "imagex/jpeg"));
	CHECK(policy_type_accepted(NULL, 0, false, deny, 2, "text/html"));    /* no accept list */
	CHECK(!policy_type_accepted(NULL, 0, false, deny, 2, "application/x-msdownload"));
	CHECK(!policy_type_accepted(NULL, 0, true, NULL, 0, "text/plain"));   /* an empty accept list */
	const char *all[] = {"*/*"};
	CHECK(policy_type_accepted(all, 1, true, NULL, 0, "video/mp4"));
	CHECK(!policy_type_accepted(NULL, 0, false, all, 1, "video/mp4"));
}

UNIT_MAIN(T(unset_document_is_the_defaults), T(document_over_the_defaults), T(local_record_over_the_document),
	  T(operator_switches_over_the_document), T(settings_of_a_parsed_document), T(blocked_senders),
	  T(mime_types))
