/* The CPM preferences document (see cpm/prefs_doc.h, docs/internals/xdm.md). The XML is read
 * by libxml2 through cpm/xml_safe.h; this file walks the root's children, checks each value
 * against its kind and bound, and refuses a document with one bad value whole. */
#include "cpm/prefs_doc.h"

#include <string.h>
#include <strings.h>

#include <libxml/tree.h>

#include "cpm/str.h"
#include "cpm/xml_safe.h"

const char *prefs_strerror(int e)
{
	switch (e) {
	case PREFS_OK: return "ok";
	case PREFS_E_TOO_BIG: return "preferences document too big";
	case PREFS_E_XML: return "preferences XML not well-formed";
	case PREFS_E_DTD: return "preferences XML with a DOCTYPE (refused)";
	case PREFS_E_ROOT: return "root element is not cpm-prefs";
	case PREFS_E_VALUE: return "invalid preference value";
	case PREFS_E_DUPLICATE: return "preference given twice";
	case PREFS_E_TOO_MANY: return "too many entries in a preference list";
	case PREFS_E_MEMORY: return "out of memory";
	}
	return "unknown preferences error";
}

/* Value names by enum value; index 0 (unset) has no name in a document. */
static const char *const bool_names[] = {"", "false", "true"};
static const char *const delivery_names[] = {"", "push", "pull"};
static const char *const keep_names[] = {"", "off", "instead-of-device", "besides-device"};
static const char *const expiry_names[] = {"", "discard", "keep"};

#define NAME(tbl, v) ((unsigned)(v) < sizeof tbl / sizeof tbl[0] ? tbl[v] : "?")
const char *prefs_bool_name(enum prefs_bool v) { return NAME(bool_names, v); }
const char *prefs_delivery_name(enum prefs_delivery v) { return NAME(delivery_names, v); }
const char *prefs_keep_name(enum prefs_keep v) { return NAME(keep_names, v); }
const char *prefs_expiry_name(enum prefs_expiry v) { return NAME(expiry_names, v); }

static bool is(const xmlNode *e, const char *local)
{
	return cpm_xml_is(e, PREFS_XML_NS, local);
}

/* A setting's value: its index in names[1..n) (> 0), or PREFS_E_DUPLICATE if the setting
 * was already set (set != 0), PREFS_E_VALUE for anything else. xs:boolean also has "0" and
 * "1" (bools only: names == bool_names). */
static int leaf_enum(const xmlNode *e, const char *const *names, size_t n, int set)
{
	char v[32];

	if (set)
		return PREFS_E_DUPLICATE;
	if (cpm_xml_leaf_text(e, v, sizeof v))
		return PREFS_E_VALUE;
	if (names == bool_names && (!strcmp(v, "0") || !strcmp(v, "1")))
		return v[0] == '1' ? PREFS_ON : PREFS_OFF;
	for (size_t i = 1; i < n; i++)
		if (!strcmp(v, names[i]))
			return (int)i;
	return PREFS_E_VALUE;
}

#define LEAF_ENUM(e, tbl, field) leaf_enum((e), (tbl), sizeof(tbl) / sizeof(tbl)[0], (int)(field))

/* RFC 2045 token character (what a MIME type and subtype are made of). */
static bool token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?=", c);
}

/* "type/subtype", a type with the wildcard subtype ("image" "/" "*"), or the wildcard type
 * with the wildcard subtype; lower-cased in place. */
static bool mime_type_ok(char *v)
{
	char *slash = strchr(v, '/');
	size_t tlen, slen;

	if (!slash)
		return false;
	tlen = (size_t)(slash - v);
	slen = strlen(slash + 1);
	if (!tlen || !slen)
		return false;
	for (char *p = v; *p; p++) {
		if (p == slash)
			continue;
		if (!token_char((unsigned char)*p))
			return false;
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	/* a wildcard is a whole type or subtype, and a wildcard type needs a wildcard subtype */
	if ((memchr(v, '*', tlen) && (tlen != 1 || strcmp(slash + 1, "*"))) ||
	    (strchr(slash + 1, '*') && slen != 1))
		return false;
	return true;
}

/* A sender's address as a user writes it: a sip:, sips: or tel: URI without spaces,
 * controls or the characters that delimit a URI in a header. Compared by the caller. */
static bool sender_uri_ok(const char *v)
{
	static const char *const schemes[] = {"sip:", "sips:", "tel:"};
	bool scheme = false;

	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
		size_t n = strlen(schemes[i]);
		if (!strncasecmp(v, schemes[i], n) && v[n])
			scheme = true;
	}
	if (!scheme)
		return false;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>' || *p == '"')
			return false;
	return true;
}

/* A list element: every child <item> (our namespace) is a bounded, checked entry. */
static int leaf_list(const xmlNode *e, const char *item, bool *has, size_t *n, size_t max,
		     char *entries, size_t entry_size, bool (*ok)(char *))
{
	if (*has)
		return PREFS_E_DUPLICATE;
	*has = true;
	for (const xmlNode *k = e->children; k; k = k->next) {
		if (!is(k, item))
			continue;
		if (*n >= max)
			return PREFS_E_TOO_MANY;
		char *dst = entries + *n * entry_size;
		if (cpm_xml_leaf_text(k, dst, entry_size) || !ok(dst))
			return PREFS_E_VALUE;
		++*n;
	}
	return 0;
}

static bool uri_entry_ok(char *v)
{
	return sender_uri_ok(v); /* the list's checker signature; URIs are kept as written */
}

static int max_size(const xmlNode *e, struct prefs_doc *out)
{
	char v[24];

	if (out->has_max_file_size)
		return PREFS_E_DUPLICATE;
	if (cpm_xml_leaf_text(e, v, sizeof v) || !cpm_str_to_u64(cpm_str_c(v), &out->max_file_size))
		return PREFS_E_VALUE;
	out->has_max_file_size = true;
	return 0;
}

static int parse_setting(const xmlNode *k, struct prefs_doc *out)
{
	int v = 0;

	/* An enum setting with a bad value leaves v < 0 and matches no later name: the
	 * `v < 0` branch returns the error. */
	if (is(k, "defer") && (v = LEAF_ENUM(k, bool_names, out->defer)) > 0)
		out->defer = (enum prefs_bool)v;
	else if (is(k, "delivery") && (v = LEAF_ENUM(k, delivery_names, out->delivery)) > 0)
		out->delivery = (enum prefs_delivery)v;
	else if (is(k, "keep-files") && (v = LEAF_ENUM(k, keep_names, out->keep_files)) > 0)
		out->keep_files = (enum prefs_keep)v;
	else if (is(k, "on-expiry") && (v = LEAF_ENUM(k, expiry_names, out->on_expiry)) > 0)
		out->on_expiry = (enum prefs_expiry)v;
	else if (is(k, "histories") && (v = LEAF_ENUM(k, bool_names, out->histories)) > 0)
		out->histories = (enum prefs_bool)v;
	else if (is(k, "screening") && (v = LEAF_ENUM(k, bool_names, out->screening)) > 0)
		out->screening = (enum prefs_bool)v;
	else if (v < 0)
		return v;
	else if (is(k, "max-file-size"))
		return max_size(k, out);
	else if (is(k, "blocked-senders"))
		return leaf_list(k, "uri", &out->has_blocked, &out->nblocked, PREFS_MAX_BLOCKED,
				 &out->blocked[0][0], sizeof out->blocked[0], uri_entry_ok);
	else if (is(k, "accept-types"))
		return leaf_list(k, "type", &out->has_accept_types, &out->naccept, PREFS_MAX_TYPES,
				 &out->accept_types[0][0], sizeof out->accept_types[0], mime_type_ok);
	else if (is(k, "deny-types"))
		return leaf_list(k, "type", &out->has_deny_types, &out->ndeny, PREFS_MAX_TYPES,
				 &out->deny_types[0][0], sizeof out->deny_types[0], mime_type_ok);
	/* else: another namespace's element, or one of a newer version: not ours to read */
	return 0;
}

int prefs_doc_parse(const char *buf, size_t len, struct prefs_doc *out)
{
	const xmlNode *root;
	xmlDocPtr doc;
	int rc;

	memset(out, 0, sizeof *out);
	if (len > PREFS_MAX_BYTES)
		return PREFS_E_TOO_BIG;
	cpm_xml_init();
	rc = cpm_xml_read(buf, len, &doc);
	if (rc == CPM_XML_E_DTD)
		return PREFS_E_DTD;
	if (rc == CPM_XML_E_MEMORY)
		return PREFS_E_MEMORY;
	if (rc != CPM_XML_OK)
		return PREFS_E_XML;
	root = xmlDocGetRootElement(doc);
	rc = is(root, "cpm-prefs") ? 0 : PREFS_E_ROOT;
	for (const xmlNode *k = root ? root->children : NULL; k && !rc; k = k->next)
		if (k->type == XML_ELEMENT_NODE)
			rc = parse_setting(k, out);
	xmlFreeDoc(doc);
	if (rc < 0)
		memset(out, 0, sizeof *out);
	return rc;
}
