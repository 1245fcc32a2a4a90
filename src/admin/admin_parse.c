/* admin_parse.h: routes, parameters and bodies of admin requests (pure, fuzzed). */
#include "admin/admin_parse.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cpm/parse.h"

static const struct {
	const char *prefix; /* the path, or its part before "/{arg}" */
	enum admin_route whole, with_arg;
} routes[] = {
	{"/api/v1/health", AR_HEALTH, AR_NONE},
	{"/api/v1/ready", AR_READY, AR_NONE},
	{"/metrics", AR_METRICS, AR_NONE},
	{"/api/v1/users", AR_USERS, AR_USER},
	{"/api/v1/deferred", AR_DEFERRED, AR_ITEM},
	{"/api/v1/transfers", AR_TRANSFERS, AR_TRANSFER},
	{"/api/v1/sessions", AR_SESSIONS, AR_NONE},
};

static int arg_ok(const char *s, size_t n)
{
	if (n == 0 || n > ADMIN_ARG_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || s[i] == 0x7f || s[i] == '/')
			return 0;
	return 1;
}

void admin_route_parse(const char *path, struct admin_path *out)
{
	memset(out, 0, sizeof *out);
	if (!path)
		return;
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		size_t pl = strlen(routes[i].prefix);
		if (strncmp(path, routes[i].prefix, pl))
			continue;
		const char *rest = path + pl;
		if (!*rest || !strcmp(rest, "/")) {
			out->route = routes[i].whole;
			return;
		}
		if (*rest != '/' || routes[i].with_arg == AR_NONE)
			continue;
		rest++;
		size_t n = strlen(rest);
		enum admin_route r = routes[i].with_arg;
		if (r == AR_ITEM && n > 6 && !strcmp(rest + n - 6, "/retry")) {
			n -= 6;
			r = AR_RETRY;
		}
		if (!arg_ok(rest, n))
			return;
		memcpy(out->arg, rest, n);
		out->arg[n] = 0;
		out->route = r;
		return;
	}
}

unsigned admin_route_methods(enum admin_route r)
{
	switch (r) {
	case AR_ITEM:
		return AM_GET | AM_HEAD | AM_DELETE | AM_PATCH;
	case AR_RETRY:
		return AM_POST;
	case AR_TRANSFER:
		return AM_DELETE;
	case AR_NONE:
		return 0;
	default:
		return AM_GET | AM_HEAD;
	}
}

const char *admin_route_allow(enum admin_route r)
{
	switch (r) {
	case AR_ITEM:
		return "GET, HEAD, DELETE, PATCH";
	case AR_RETRY:
		return "POST";
	case AR_TRANSFER:
		return "DELETE";
	case AR_NONE:
		return "";
	default:
		return "GET, HEAD";
	}
}

unsigned admin_method_bit(const char *m)
{
	static const struct {
		const char *name;
		unsigned bit;
	} ms[] = {{"GET", AM_GET}, {"POST", AM_POST}, {"DELETE", AM_DELETE}, {"PATCH", AM_PATCH}, {"HEAD", AM_HEAD}};
	for (size_t i = 0; m && i < sizeof ms / sizeof ms[0]; i++)
		if (!strcmp(m, ms[i].name))
			return ms[i].bit;
	return 0;
}

int admin_parse_limit(const char *s, unsigned def, unsigned max, unsigned *out)
{
	uint64_t v;
	if (!s || !*s) {
		*out = def;
		return 0;
	}
	if (cpm_parse_u64(s, max, false, &v) || v < 1)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int admin_parse_aor(const char *s, int sender_uri, char *out, size_t cap)
{
	if (!s)
		return -1;
	if (!strncmp(s, "sip:", 4))
		s += 4;
	else if (!strncmp(s, "sips:", 5))
		s += 5;
	size_t n = strlen(s);
	if (n == 0 || n > ADMIN_ARG_MAX || !strchr(s, '@'))
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return -1;
	int w = snprintf(out, cap, "%s%s", sender_uri ? "sip:" : "", s);
	return w < 0 || (size_t)w >= cap ? -1 : 0;
}

int admin_parse_expiry(const char *body, size_t len, int64_t *expires_s, char *why, size_t cap)
{
	json_error_t e;
	/* JSON_REJECT_DUPLICATES: {"expires":1,"expires":2} means nothing certain */
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
	int rc = -1;
	if (!j) {
		snprintf(why, cap, "bad JSON: %s", e.text);
		return -1;
	}
	json_t *v = json_is_object(j) ? json_object_get(j, "expires") : NULL;
	if (!json_is_object(j) || json_object_size(j) != 1 || !v)
		snprintf(why, cap, "a JSON object {\"expires\": UNIX-TIME} expected");
	else if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > ((json_int_t)1 << 40))
		snprintf(why, cap, "\"expires\": an integer Unix time in seconds expected");
	else {
		*expires_s = (int64_t)json_integer_value(v);
		rc = 0;
	}
	json_decref(j);
	return rc;
}

int admin_token_ok(const char *authorization, const char *token)
{
	if (!authorization || strncmp(authorization, "Bearer ", 7))
		return 0;
	const char *p = authorization + 7;
	size_t pl = strlen(p), tl = strlen(token);
	/* every byte of the configured token is looked at, whatever the presented one */
	unsigned diff = (unsigned)(pl ^ tl);
	for (size_t i = 0; i < tl; i++)
		diff |= (unsigned char)token[i] ^ (unsigned char)(i < pl ? p[i] : 0);
	return diff == 0;
}
