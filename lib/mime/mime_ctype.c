/* Content-Type helpers: multipart test, type/subtype, the boundary parameter,
 * and fresh random boundaries. */
#include "cpm/mime.h"

#include "cpm/random.h"

#include <string.h>
#include <strings.h>

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 2045 token: printable ASCII minus SP and tspecials. */
static bool is_token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?=", c);
}

struct cpm_str mime_type_only(struct cpm_str ct)
{
	struct cpm_str t = ct;
	const char *semi;

	if (!ct.p)
		return CPM_STR_NULL;
	semi = memchr(ct.p, ';', ct.len);
	if (semi)
		t.len = (size_t)(semi - ct.p);
	while (t.len && is_wsp(t.p[0])) {
		t.p++;
		t.len--;
	}
	while (t.len && is_wsp(t.p[t.len - 1]))
		t.len--;
	return t;
}

bool mime_is_multipart(struct cpm_str ct)
{
	struct cpm_str t = mime_type_only(ct);

	return t.len > 10 && strncasecmp(t.p, "multipart/", 10) == 0;
}

/* Cursor over the ";name=value" list after type/subtype. */
struct param_cur {
	const char *p;
	size_t len, i;
};

static void skip_wsp(struct param_cur *c)
{
	while (c->i < c->len && is_wsp(c->p[c->i]))
		c->i++;
}

/* Reads the next parameter. Quoted values keep their quotes off; a backslash
 * inside quotes makes the value unusable as a boundary (*escaped). Returns
 * false at the end or on a syntax error. */
static bool next_param(struct param_cur *c, struct cpm_str *name, struct cpm_str *val, bool *escaped)
{
	size_t s;

	*escaped = false;
	skip_wsp(c);
	if (c->i >= c->len || c->p[c->i] != ';')
		return false;
	c->i++;
	skip_wsp(c);
	for (s = c->i; c->i < c->len && is_token_char((unsigned char)c->p[c->i]); c->i++)
		;
	*name = (struct cpm_str){c->p + s, c->i - s};
	skip_wsp(c);
	if (name->len == 0 || c->i >= c->len || c->p[c->i] != '=')
		return false;
	c->i++;
	skip_wsp(c);
	if (c->i < c->len && c->p[c->i] == '"') {
		for (s = ++c->i; c->i < c->len && c->p[c->i] != '"'; c->i++) {
			if (c->p[c->i] == '\\') {
				*escaped = true;
				c->i++;
			}
		}
		if (c->i >= c->len)
			return false;
		*val = (struct cpm_str){c->p + s, c->i - s};
		c->i++;
		return true;
	}
	for (s = c->i; c->i < c->len && is_token_char((unsigned char)c->p[c->i]); c->i++)
		;
	*val = (struct cpm_str){c->p + s, c->i - s};
	return val->len > 0;
}

/* RFC 2046 §5.1.1: 1..70 characters, not ending in a space. We accept any
 * printable ASCII rather than only bchars: the delimiter search works on
 * bytes, and real stacks use characters like '#' that bchars omit. */
static bool boundary_valid(struct cpm_str b)
{
	if (b.len == 0 || b.len > MIME_MAX_BOUNDARY || b.p[b.len - 1] == ' ')
		return false;
	for (size_t i = 0; i < b.len; i++)
		if ((unsigned char)b.p[i] < 0x20 || (unsigned char)b.p[i] > 0x7e || b.p[i] == '"')
			return false;
	return true;
}

enum mime_error mime_boundary(struct cpm_str ct, char *out, size_t cap)
{
	struct cpm_str t = mime_type_only(ct), name, val;
	struct param_cur c;
	bool escaped;

	if (cap)
		out[0] = '\0';
	if (!ct.p || !t.p)
		return MIME_E_NO_BOUNDARY;
	c = (struct param_cur){ct.p, ct.len, (size_t)(t.p + t.len - ct.p)};
	while (next_param(&c, &name, &val, &escaped)) {
		if (!cpm_str_caseeq(name, "boundary"))
			continue;
		if (escaped || !boundary_valid(val) || !cpm_str_copy(out, cap, val))
			return MIME_E_NO_BOUNDARY;
		return MIME_OK;
	}
	return MIME_E_NO_BOUNDARY;
}

/* len is the size of out, NUL included; at most MIME_MAX_BOUNDARY chars. */
void mime_random_boundary(char *out, size_t len)
{
	if (len == 0)
		return;
	cpm_random_alnum(out, len - 1 > MIME_MAX_BOUNDARY ? MIME_MAX_BOUNDARY : len - 1);
}
