/* sipua/location: the in-memory bindings of the registrar — bind, refresh and remove by
 * device key, the fallback key (the Contact URI when there is no +sip.instance), the device
 * and user limits, expiry (location.c has no fake clock: short real expiries), AOR key
 * canonicalisation and too-long values. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_alloc.h>

#include "sipua/location.h"
#include "sipua/sip_glue.h"
#include "sipua/sip_leg.h"
#include "unit.h"

static struct loc_device dev(const char *instance, const char *contact)
{
	struct loc_device d;
	memset(&d, 0, sizeof d);
	snprintf(d.instance, sizeof d.instance, "%s", instance);
	snprintf(d.contact, sizeof d.contact, "%s", contact);
	snprintf(d.flow, sizeof d.flow, "sip:192.0.2.1:5060;transport=tcp");
	d.tcp = true;
	return d;
}

UNIT_TEST(bind_refresh_remove_by_instance)
{
	struct location *l = NULL;
	struct loc_device out[8];
	CHECK(location_create(&l, 100, 4) == 0);

	struct loc_device a = dev("urn:uuid:a", "sip:bob@192.0.2.1:1111");
	CHECK_EQ_INT(location_bind(l, "bob@example.com", &a, 600), LOC_OK);
	CHECK_EQ_INT(location_lookup(l, "bob@example.com", out, 8), 1);
	CHECK_STR(out[0].instance, "urn:uuid:a");
	CHECK_STR(out[0].contact, "sip:bob@192.0.2.1:1111");
	CHECK_STR(out[0].flow, "sip:192.0.2.1:5060;transport=tcp");
	CHECK(out[0].tcp);
	CHECK(out[0].expires_at >= location_now() + 599 && out[0].expires_at <= location_now() + 600);
	CHECK_EQ_INT(location_count_users(l), 1);

	/* the same instance from a new address is a refresh, not a second device */
	struct loc_device a2 = dev("urn:uuid:a", "sip:bob@192.0.2.9:2222");
	a2.tcp = false;
	CHECK_EQ_INT(location_bind(l, "bob@example.com", &a2, 1200), LOC_OK);
	CHECK_EQ_INT(location_lookup(l, "bob@example.com", out, 8), 1);
	CHECK_STR(out[0].contact, "sip:bob@192.0.2.9:2222");
	CHECK(!out[0].tcp);
	CHECK(out[0].expires_at >= location_now() + 1199);

	struct loc_device b = dev("urn:uuid:b", "sip:bob@192.0.2.2:3333");
	CHECK_EQ_INT(location_bind(l, "bob@example.com", &b, 600), LOC_OK);
	CHECK_EQ_INT(location_lookup(l, "bob@example.com", out, 8), 2);
	/* max smaller than the number of devices */
	CHECK_EQ_INT(location_lookup(l, "bob@example.com", out, 1), 1);

	/* expires 0 removes that device only */
	CHECK_EQ_INT(location_bind(l, "bob@example.com", &a, 0), LOC_OK);
	CHECK_EQ_INT(location_lookup(l, "bob@example.com", out, 8), 1);
	CHECK_STR(out[0].instance, "urn:uuid:b");
	/* removing an unknown device changes nothing */
	struct loc_device z = dev("urn:uuid:z", "sip:z@192.0.2.3");
	CHECK_EQ_INT(location_bind(l, "bob@example.com", &z, 0), LOC_OK);
	CHECK_EQ_INT(location_lookup(l, "bob@example.com", out, 8), 1);
	/* the last device gone: the user is gone */
	CHECK_EQ_INT(location_bind(l, "bob@example.com", &b, 0), LOC_OK);
	CHECK_EQ_INT(location_lookup(l, "bob@example.com", out, 8), 0);
	CHECK_EQ_INT(location_count_users(l), 0);

	/* remove_all */
	CHECK_EQ_INT(location_bind(l, "carol@example.com", &a, 600), LOC_OK);
	CHECK_EQ_INT(location_bind(l, "carol@example.com", &b, 600), LOC_OK);
	location_remove_all(l, "carol@example.com");
	location_remove_all(l, "nobody@example.com");
	CHECK_EQ_INT(location_lookup(l, "carol@example.com", out, 8), 0);
	CHECK_EQ_INT(location_count_users(l), 0);
	location_destroy(l);
}

/* The registrar's device key: +sip.instance without its quotes, else the Contact URI. */
static int key_of(const char *contact_hdr, char *out, size_t cap)
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	sip_contact_t *m = sip_contact_make(home, contact_hdr);
	int rc = -2;
	if (m) {
		char *uri = url_as_string(home, m->m_url);
		rc = uri ? sipglue_device_key(m, uri, out, cap) : -2;
	}
	su_home_deinit(home);
	return rc;
}

UNIT_TEST(fallback_key_is_the_contact_uri)
{
	char k[LOC_MAX_INSTANCE];
	CHECK_EQ_INT(key_of("<sip:bob@192.0.2.1:5060;transport=tcp>;+sip.instance=\"<urn:uuid:1234>\"", k, sizeof k), 0);
	CHECK_STR(k, "<urn:uuid:1234>");
	CHECK_EQ_INT(key_of("<sip:bob@192.0.2.1:5060;transport=tcp>;expires=60", k, sizeof k), 0);
	CHECK_STR(k, "sip:bob@192.0.2.1:5060;transport=tcp");
	/* an instance too long for the key is refused, never cut */
	char big[400];
	snprintf(big, sizeof big, "<sip:bob@192.0.2.1>;+sip.instance=\"<urn:uuid:%0300d>\"", 7);
	CHECK_EQ_INT(key_of(big, k, sizeof k), -1);

	/* in the location service: two devices without an instance are two bindings, the same
	 * Contact again is a refresh */
	struct location *l = NULL;
	struct loc_device out[4];
	CHECK(location_create(&l, 10, 4) == 0);
	struct loc_device p = dev("sip:bob@192.0.2.1:5060", "sip:bob@192.0.2.1:5060");
	struct loc_device q = dev("sip:bob@192.0.2.2:5060", "sip:bob@192.0.2.2:5060");
	CHECK_EQ_INT(location_bind(l, "bob@example.com", &p, 60), LOC_OK);
	CHECK_EQ_INT(location_bind(l, "bob@example.com", &q, 60), LOC_OK);
	CHECK_EQ_INT(location_bind(l, "bob@example.com", &p, 120), LOC_OK);
	CHECK_EQ_INT(location_lookup(l, "bob@example.com", out, 4), 2);
	location_destroy(l);
}

UNIT_TEST(max_devices)
{
	struct location *l = NULL;
	struct loc_device out[4];
	CHECK(location_create(&l, 10, 2) == 0);
	struct loc_device a = dev("a", "sip:a@192.0.2.1"), b = dev("b", "sip:b@192.0.2.1"), c = dev("c", "sip:c@192.0.2.1");
	CHECK_EQ_INT(location_bind(l, "bob@example.com", &a, 60), LOC_OK);
	CHECK_EQ_INT(location_bind(l, "bob@example.com", &b, 60), LOC_OK);
	CHECK_EQ_INT(location_bind(l, "bob@example.com", &c, 60), LOC_TOO_MANY_DEVICES);
	CHECK_EQ_INT(location_lookup(l, "bob@example.com", out, 4), 2);
	/* refreshing one that is there is fine at the limit */
	CHECK_EQ_INT(location_bind(l, "bob@example.com", &b, 90), LOC_OK);
	/* the limit is per user */
	CHECK_EQ_INT(location_bind(l, "carol@example.com", &c, 60), LOC_OK);
	/* room again once one leaves */
	CHECK_EQ_INT(location_bind(l, "bob@example.com", &a, 0), LOC_OK);
	CHECK_EQ_INT(location_bind(l, "bob@example.com", &c, 60), LOC_OK);
	CHECK_EQ_INT(location_lookup(l, "bob@example.com", out, 4), 2);
	location_destroy(l);
}

UNIT_TEST(max_users)
{
	struct location *l = NULL;
	struct loc_device out[4];
	CHECK(location_create(&l, 2, 4) == 0);
	struct loc_device a = dev("a", "sip:a@192.0.2.1");
	CHECK_EQ_INT(location_bind(l, "u1@example.com", &a, 60), LOC_OK);
	CHECK_EQ_INT(location_bind(l, "u2@example.com", &a, 60), LOC_OK);
	CHECK_EQ_INT(location_bind(l, "u3@example.com", &a, 60), LOC_TOO_MANY_USERS);
	CHECK_EQ_INT(location_lookup(l, "u3@example.com", out, 4), 0);
	/* removing what does not exist creates nothing, even when full */
	CHECK_EQ_INT(location_bind(l, "u3@example.com", &a, 0), LOC_OK);
	CHECK_EQ_INT(location_count_users(l), 2);
	/* known users still bind more devices */
	struct loc_device b = dev("b", "sip:b@192.0.2.1");
	CHECK_EQ_INT(location_bind(l, "u1@example.com", &b, 60), LOC_OK);
	/* a user leaving makes room */
	location_remove_all(l, "u2@example.com");
	CHECK_EQ_INT(location_bind(l, "u3@example.com", &a, 60), LOC_OK);
	CHECK_EQ_INT(location_count_users(l), 2);
	location_destroy(l);
}

/* Waits (at most 3 s) until the monotonic second is past t. */
static void wait_past(time_t t)
{
	struct timespec ts = {0, 50 * 1000 * 1000};
	for (int i = 0; i < 60 && location_now() <= t; i++)
		nanosleep(&ts, NULL);
}

UNIT_TEST(expiry)
{
	struct location *l = NULL;
	struct loc_device out[4];
	CHECK(location_create(&l, 10, 4) == 0);
	struct loc_device a = dev("a", "sip:a@192.0.2.1"), b = dev("b", "sip:b@192.0.2.1");
	CHECK_EQ_INT(location_bind(l, "bob@example.com", &a, 1), LOC_OK);
	CHECK_EQ_INT(location_bind(l, "bob@example.com", &b, 3600), LOC_OK);
	CHECK_EQ_INT(location_bind(l, "carol@example.com", &a, 1), LOC_OK);
	CHECK_EQ_INT(location_count_users(l), 2);
	/* expires_at <= (the second after binding) + 1: expired once that second is past */
	time_t until = location_now();
	wait_past(until);
	CHECK(location_now() > until);
	/* lookup drops bob's expired device and keeps the other */
	CHECK_EQ_INT(location_lookup(l, "bob@example.com", out, 4), 1);
	CHECK_STR(out[0].instance, "b");
	/* the sweep drops carol, whose only device expired */
	location_expire(l);
	CHECK_EQ_INT(location_count_users(l), 1);
	CHECK_EQ_INT(location_lookup(l, "carol@example.com", out, 4), 0);
	/* an expired device does not count against the limit */
	struct location *l2 = NULL;
	CHECK(location_create(&l2, 10, 1) == 0);
	CHECK_EQ_INT(location_bind(l2, "bob@example.com", &a, 1), LOC_OK);
	wait_past(location_now());
	CHECK_EQ_INT(location_bind(l2, "bob@example.com", &b, 60), LOC_OK);
	CHECK_EQ_INT(location_lookup(l2, "bob@example.com", out, 4), 1);
	CHECK_STR(out[0].instance, "b");
	/* a lookup of a user whose devices all expired removes the user */
	CHECK_EQ_INT(location_bind(l2, "dave@example.com", &a, 1), LOC_OK);
	CHECK_EQ_INT(location_count_users(l2), 2);
	wait_past(location_now());
	CHECK_EQ_INT(location_lookup(l2, "dave@example.com", out, 4), 0);
	CHECK_EQ_INT(location_count_users(l2), 1);
	location_destroy(l2);
	location_destroy(l);
}

UNIT_TEST(aor_key)
{
	char k[LOC_MAX_AOR];
	CHECK_EQ_INT(location_aor_key(k, sizeof k, "Bob", "Example.COM"), 0);
	CHECK_STR(k, "Bob@example.com"); /* the host is lower-cased, the user is not */
	CHECK_EQ_INT(location_aor_key(k, sizeof k, "+33612345678", "IMS.example.NET"), 0);
	CHECK_STR(k, "+33612345678@ims.example.net");
	CHECK_EQ_INT(location_aor_key(k, sizeof k, NULL, "example.com"), -1);
	CHECK_EQ_INT(location_aor_key(k, sizeof k, "", "example.com"), -1);
	CHECK_EQ_INT(location_aor_key(k, sizeof k, "bob", NULL), -1);
	CHECK_EQ_INT(location_aor_key(k, sizeof k, "bob", ""), -1);
	char small[8];
	CHECK_EQ_INT(location_aor_key(small, sizeof small, "bob", "example.com"), -1);
	CHECK_EQ_INT(location_aor_key(small, sizeof small, "bob", "ex.com"), -1); /* 10 + NUL > 8 */
	CHECK_EQ_INT(location_aor_key(small, sizeof small, "b", "ex.co"), 0);
	CHECK_STR(small, "b@ex.co");

	/* from a URI string (a stored sender) */
	CHECK_EQ_INT(sip_uri_aor_key("sip:Alice@Example.COM;transport=tcp", k, sizeof k), 0);
	CHECK_STR(k, "Alice@example.com");
	CHECK_EQ_INT(sip_uri_aor_key("sips:bob@example.com:5061", k, sizeof k), 0);
	CHECK_STR(k, "bob@example.com");
	CHECK_EQ_INT(sip_uri_aor_key("sip:example.com", k, sizeof k), -1);
	CHECK_EQ_INT(sip_uri_aor_key("tel:+33612345678", k, sizeof k), -1);
	CHECK_EQ_INT(sip_uri_aor_key("", k, sizeof k), -1);
	CHECK_EQ_INT(sip_uri_aor_key(NULL, k, sizeof k), -1);
	CHECK_EQ_INT(sip_uri_aor_key("sip:bob@example.com", small, sizeof small), -1);
	CHECK_STR(small, "");

	/* keys made the same way meet in the location service */
	struct location *l = NULL;
	struct loc_device out[2];
	char k2[LOC_MAX_AOR];
	CHECK(location_create(&l, 10, 2) == 0);
	struct loc_device a = dev("a", "sip:a@192.0.2.1");
	CHECK_EQ_INT(location_aor_key(k, sizeof k, "bob", "EXAMPLE.com"), 0);
	CHECK_EQ_INT(location_aor_key(k2, sizeof k2, "bob", "example.COM"), 0);
	CHECK_EQ_INT(location_bind(l, k, &a, 60), LOC_OK);
	CHECK_EQ_INT(location_lookup(l, k2, out, 2), 1);
	location_destroy(l);
}

UNIT_TEST(too_long)
{
	struct location *l = NULL;
	struct loc_device out[2];
	char aor[LOC_MAX_AOR + 8], k[LOC_MAX_AOR];
	CHECK(location_create(&l, 10, 2) == 0);
	memset(aor, 'u', sizeof aor);
	aor[LOC_MAX_AOR] = '\0'; /* 256 characters: one more than fits */
	struct loc_device a = dev("a", "sip:a@192.0.2.1");
	CHECK_EQ_INT(location_bind(l, aor, &a, 60), LOC_TOO_LONG);
	CHECK_EQ_INT(location_count_users(l), 0);
	aor[LOC_MAX_AOR - 1] = '\0'; /* 255: fits */
	CHECK_EQ_INT(location_bind(l, aor, &a, 60), LOC_OK);
	CHECK_EQ_INT(location_lookup(l, aor, out, 2), 1);
	/* an AOR key that would not fit is refused, never cut */
	char user[LOC_MAX_AOR];
	memset(user, 'x', sizeof user);
	user[LOC_MAX_AOR - 12] = '\0';
	CHECK_EQ_INT(location_aor_key(k, sizeof k, user, "example.com"), -1);
	user[LOC_MAX_AOR - 13] = '\0';
	CHECK_EQ_INT(location_aor_key(k, sizeof k, user, "example.com"), 0);
	CHECK_EQ_INT(strlen(k), LOC_MAX_AOR - 1);
	location_destroy(l);
}

UNIT_TEST(many_users)
{
	struct location *l = NULL;
	struct loc_device out[2];
	char aor[64];
	CHECK(location_create(&l, 5000, 2) == 0);
	for (int i = 0; i < 5000; i++) {
		snprintf(aor, sizeof aor, "user%d@example.com", i);
		struct loc_device d = dev("d", "sip:d@192.0.2.1");
		snprintf(d.contact, sizeof d.contact, "sip:user%d@192.0.2.1", i);
		CHECK_EQ_INT(location_bind(l, aor, &d, 60), LOC_OK);
	}
	CHECK_EQ_INT(location_count_users(l), 5000);
	struct loc_device extra = dev("e", "sip:e@192.0.2.1");
	CHECK_EQ_INT(location_bind(l, "one-more@example.com", &extra, 60), LOC_TOO_MANY_USERS);
	for (int i = 0; i < 5000; i += 7) {
		snprintf(aor, sizeof aor, "user%d@example.com", i);
		CHECK_EQ_INT(location_lookup(l, aor, out, 2), 1);
		char want[64];
		snprintf(want, sizeof want, "sip:user%d@192.0.2.1", i);
		CHECK_STR(out[0].contact, want);
	}
	location_destroy(l);
}

UNIT_MAIN(T(bind_refresh_remove_by_instance), T(fallback_key_is_the_contact_uri), T(max_devices), T(max_users),
	  T(expiry), T(aor_key), T(too_long), T(many_users))
