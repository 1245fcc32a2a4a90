/* MSRP URIs and paths (RFC 4975 §6 and §9):
 *   msrp[s]://[userinfo@]host[:port][/session-id];transport*(;param)
 * All results are slices of the input; nothing is decoded or copied. */
#include "msrp_priv.h"

#include <strings.h>

static bool is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_unreserved(char c)
{
	return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool all_of(const char *p, const char *e, bool (*ok)(char))
{
	if (p == e)
		return false;
	for (; p < e; p++)
		if (!ok(*p))
			return false;
	return true;
}

/* reg-name / IPv4 (pct-encoded kept as it is: we never decode hosts). */
static bool is_host_char(char c)
{
	return is_unreserved(c) || c == '%';
}

static bool is_v6_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
	       c == ':' || c == '.';
}

static bool is_sid_char(char c)
{
	return is_unreserved(c) || c == '+' || c == '=' || c == '/';
}

/* URI parameters are opaque to us: any visible ASCII but the separator. */
static bool is_param_char(char c)
{
	return c > ' ' && c < 0x7f && c != ';';
}

static bool is_userinfo_char(char c)
{
	return c > ' ' && c < 0x7f && c != '@' && c != '/' && c != ';';
}

static bool scheme(const char **pp, const char *e, bool *secure)
{
	size_t n = (size_t)(e - *pp);

	if (n >= 8 && strncasecmp(*pp, "msrps://", 8) == 0) {
		*secure = true;
		*pp += 8;
		return true;
	}
	if (n >= 7 && strncasecmp(*pp, "msrp://", 7) == 0) {
		*pp += 7;
		return true;
	}
	return false;
}

/* Explicit port 1..65535; ":" alone or ":0" are refused (0 means absent). */
static bool port(const char *p, const char *e, uint16_t *out)
{
	unsigned v = 0;

	if (p == e || e - p > 5)
		return false;
	for (; p < e; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (v == 0 || v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

/* host[:port] within [p, e), userinfo already removed. */
static bool hostport(const char *p, const char *e, struct msrp_uri *out)
{
	const char *h = p;

	if (p < e && *p == '[') {
		const char *close = memchr(p, ']', (size_t)(e - p));
		if (!close || !all_of(p + 1, close, is_v6_char))
			return false;
		out->host = (struct cpm_str){p + 1, (size_t)(close - p - 1)};
		p = close + 1;
	} else {
		while (p < e && *p != ':')
			p++;
		if (!all_of(h, p, is_host_char))
			return false;
		out->host = (struct cpm_str){h, (size_t)(p - h)};
	}
	if (p == e)
		return true;
	return *p == ':' && port(p + 1, e, &out->port);
}

static bool authority(const char *p, const char *e, struct msrp_uri *out)
{
	const char *at = memrchr(p, '@', (size_t)(e - p));

	if (at) {
		if (!all_of(p, at, is_userinfo_char))
			return false;
		p = at + 1;
	}
	return hostport(p, e, out);
}

/* ";transport" then any ";param" (RFC 4975 makes the transport mandatory). */
static bool params(const char *p, const char *e, struct msrp_uri *out)
{
	if (p == e || *p != ';')
		return false;
	const char *t = ++p;
	while (p < e && *p != ';')
		p++;
	if (!all_of(t, p, is_alnum))
		return false;
	out->transport = (struct cpm_str){t, (size_t)(p - t)};
	while (p < e) {
		const char *q = ++p;
		while (p < e && *p != ';')
			p++;
		if (!all_of(q, p, is_param_char))
			return false;
	}
	return true;
}

int msrp_uri_parse(struct cpm_str s, struct msrp_uri *out)
{
	memset(out, 0, sizeof *out);
	if (!s.p)
		return -1;

	const char *p = s.p, *e = s.p + s.len, *a;
	if (!scheme(&p, e, &out->secure))
		return -1;
	for (a = p; a < e && *a != '/' && *a != ';'; a++)
		;
	if (!authority(p, a, out))
		return -1;
	p = a;
	if (p < e && *p == '/') {
		const char *sid = ++p;
		while (p < e && *p != ';')
			p++;
		if (!all_of(sid, p, is_sid_char))
			return -1;
		out->session_id = (struct cpm_str){sid, (size_t)(p - sid)};
	}
	return params(p, e, out) ? 0 : -1;
}

/* Paths are URIs separated by SP; we also accept runs of SP. */
struct cpm_str msrp_path_first(struct cpm_str path)
{
	if (!path.p)
		return CPM_STR_NULL;
	const char *p = path.p, *e = path.p + path.len;

	while (p < e && *p == ' ')
		p++;
	const char *q = p;
	while (q < e && *q != ' ')
		q++;
	return (struct cpm_str){p, (size_t)(q - p)};
}

struct cpm_str msrp_path_last(struct cpm_str path)
{
	if (!path.p)
		return CPM_STR_NULL;
	const char *b = path.p, *e = path.p + path.len;

	while (e > b && e[-1] == ' ')
		e--;
	const char *q = e;
	while (q > b && q[-1] != ' ')
		q--;
	return (struct cpm_str){q, (size_t)(e - q)};
}

bool msrp_path_valid(struct cpm_str path)
{
	struct msrp_uri u;
	size_t n = 0;

	while (path.len) {
		struct cpm_str first = msrp_path_first(path);
		if (first.len == 0)
			break;
		if (msrp_uri_parse(first, &u) != 0)
			return false;
		n++;
		path.len -= (size_t)(first.p + first.len - path.p);
		path.p = first.p + first.len;
	}
	return n > 0;
}
