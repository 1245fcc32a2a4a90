/* admin_parse (src/admin/admin_parse.h): the routes, methods, parameters, bodies and bearer
 * tokens of admin requests. */
#include "admin/admin_parse.h"
#include "unit.h"

UNIT_TEST(t_routes)
{
	struct admin_path p;
	admin_route_parse("/api/v1/health", &p);
	CHECK_EQ_INT(p.route, AR_HEALTH);
	admin_route_parse("/metrics", &p);
	CHECK_EQ_INT(p.route, AR_METRICS);
	admin_route_parse("/api/v1/deferred/", &p);
	CHECK_EQ_INT(p.route, AR_DEFERRED);
	admin_route_parse("/api/v1/deferred/abc123", &p);
	CHECK_EQ_INT(p.route, AR_ITEM);
	CHECK_STR(p.arg, "abc123");
	admin_route_parse("/api/v1/deferred/abc123/retry", &p);
	CHECK_EQ_INT(p.route, AR_RETRY);
	CHECK_STR(p.arg, "abc123");
	admin_route_parse("/api/v1/users/sip:bob@example.com", &p);
	CHECK_EQ_INT(p.route, AR_USER);
	CHECK_STR(p.arg, "sip:bob@example.com");
	admin_route_parse("/api/v1/transfers/x1", &p);
	CHECK_EQ_INT(p.route, AR_TRANSFER);
	/* no argument, a '/' in it, a control character, an unknown or longer name */
	admin_route_parse("/api/v1/deferred//retry", &p);
	CHECK_EQ_INT(p.route, AR_NONE);
	admin_route_parse("/api/v1/deferred/a/b", &p);
	CHECK_EQ_INT(p.route, AR_NONE);
	admin_route_parse("/api/v1/deferred/a\tb", &p);
	CHECK_EQ_INT(p.route, AR_NONE);
	admin_route_parse("/api/v1/healthz", &p);
	CHECK_EQ_INT(p.route, AR_NONE);
	admin_route_parse("/api/v1/health/x", &p);
	CHECK_EQ_INT(p.route, AR_NONE);
	admin_route_parse("/", &p);
	CHECK_EQ_INT(p.route, AR_NONE);
}

UNIT_TEST(t_methods)
{
	CHECK(admin_route_methods(AR_ITEM) & AM_DELETE);
	CHECK(admin_route_methods(AR_ITEM) & AM_PATCH);
	CHECK(!(admin_route_methods(AR_DEFERRED) & AM_POST));
	CHECK_EQ_INT(admin_route_methods(AR_RETRY), AM_POST);
	CHECK_STR(admin_route_allow(AR_RETRY), "POST");
	CHECK_EQ_INT(admin_method_bit("PATCH"), AM_PATCH);
	CHECK_EQ_INT(admin_method_bit("patch"), 0);
	CHECK_EQ_INT(admin_method_bit(NULL), 0);
}

UNIT_TEST(t_params)
{
	unsigned n;
	CHECK_EQ_INT(admin_parse_limit(NULL, 100, 1000, &n), 0);
	CHECK_EQ_INT(n, 100);
	CHECK_EQ_INT(admin_parse_limit("7", 100, 1000, &n), 0);
	CHECK_EQ_INT(n, 7);
	CHECK_EQ_INT(admin_parse_limit("0", 100, 1000, &n), -1);
	CHECK_EQ_INT(admin_parse_limit("1001", 100, 1000, &n), -1);
	CHECK_EQ_INT(admin_parse_limit("-1", 100, 1000, &n), -1);
	CHECK_EQ_INT(admin_parse_limit("5x", 100, 1000, &n), -1);
	char aor[300];
	CHECK_EQ_INT(admin_parse_aor("sip:bob@example.com", 0, aor, sizeof aor), 0);
	CHECK_STR(aor, "bob@example.com");
	CHECK_EQ_INT(admin_parse_aor("alice@example.com", 1, aor, sizeof aor), 0);
	CHECK_STR(aor, "sip:alice@example.com");
	CHECK_EQ_INT(admin_parse_aor("nobody", 0, aor, sizeof aor), -1);
	CHECK_EQ_INT(admin_parse_aor("a b@example.com", 0, aor, sizeof aor), -1);
	CHECK_EQ_INT(admin_parse_aor("sip:", 0, aor, sizeof aor), -1);
	CHECK_EQ_INT(admin_parse_aor("bob@example.com", 1, aor, 8), -1);
}

UNIT_TEST(t_expiry_body)
{
	int64_t t;
	char why[128];
	CHECK_EQ_INT(admin_parse_expiry("{\"expires\": 1900000000}", 23, &t, why, sizeof why), 0);
	CHECK_EQ_INT(t, 1900000000);
	CHECK_EQ_INT(admin_parse_expiry("{\"expires\": \"x\"}", 16, &t, why, sizeof why), -1);
	CHECK_EQ_INT(admin_parse_expiry("{\"expires\": 0}", 14, &t, why, sizeof why), -1);
	CHECK_EQ_INT(admin_parse_expiry("{\"expires\": 1, \"x\": 2}", 22, &t, why, sizeof why), -1);
	CHECK_EQ_INT(admin_parse_expiry("{\"expires\": 1, \"expires\": 2}", 28, &t, why, sizeof why), -1);
	CHECK_EQ_INT(admin_parse_expiry("[1]", 3, &t, why, sizeof why), -1);
	CHECK_EQ_INT(admin_parse_expiry("{\"expires\": 1", 13, &t, why, sizeof why), -1);
	CHECK(strstr(why, "bad JSON") != NULL);
	CHECK_EQ_INT(admin_parse_expiry("", 0, &t, why, sizeof why), -1);
}

UNIT_TEST(t_token)
{
	CHECK(admin_token_ok("Bearer s3cret", "s3cret"));
	CHECK(!admin_token_ok("Bearer s3cre", "s3cret"));
	CHECK(!admin_token_ok("Bearer s3cret2", "s3cret"));
	CHECK(!admin_token_ok("bearer s3cret", "s3cret"));
	CHECK(!admin_token_ok("Basic s3cret", "s3cret"));
	CHECK(!admin_token_ok(NULL, "s3cret"));
	CHECK(!admin_token_ok("Bearer ", "s3cret"));
}

UNIT_MAIN(T(t_routes), T(t_methods), T(t_params), T(t_expiry_body), T(t_token))
