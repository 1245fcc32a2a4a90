/* reg event documents (RFC 3680 §5.3), see cpm/reginfo.h. The XML is read by libxml2 through
 * cpm/xml_safe.h; this file walks the tree, checks every value against its bound, and
 * refuses a document over a bound whole. */
#include "cpm/reginfo.h"

#include <stdint.h>
#include <string.h>

#include <libxml/tree.h>

#include "cpm/str.h"
#include "cpm/xml_safe.h"

const char *reginfo_strerror(int e)
{
	switch (e) {
	case REGINFO_OK: return "ok";
	case REGINFO_E_TOO_BIG: return "reginfo body too big";
	case REGINFO_E_XML: return "reginfo XML not well-formed";
	case REGINFO_E_DTD: return "reginfo XML with a DOCTYPE (refused)";
	case REGINFO_E_ROOT: return "root element is not reginfo";
	case REGINFO_E_ATTR: return "reginfo attribute missing or invalid";
	case REGINFO_E_TOO_MANY: return "too many registrations or contacts in reginfo";
	case REGINFO_E_FIELD: return "reginfo value too long or invalid";
	case REGINFO_E_MEMORY: return "out of memory";
	}
	return "unknown reginfo error";
}

const char *reginfo_state_name(enum reginfo_state s)
{
	switch (s) {
	case REGINFO_INIT: return "init";
	case REGINFO_ACTIVE: return "active";
	case REGINFO_TERMINATED: return "terminated";
	}
	return "?";
}

static bool is(const xmlNode *e, const char *local)
{
	return cpm_xml_is(e, REGINFO_XML_NS, local);
}

/* The unqualified attribute `name` into dst[size]: 1 copied, 0 absent, or
 * REGINFO_E_FIELD (too long, control characters). */
static int attr(const xmlNode *e, const char *name, char *dst, size_t size)
{
	xmlChar *v = xmlGetNoNsProp(e, BAD_CAST name);
	int rc = 1;

	dst[0] = '\0';
	if (!v)
		return 0;
	size_t n = strlen((const char *)v);
	if (n >= size) {
		rc = REGINFO_E_FIELD;
	} else {
		for (size_t i = 0; i < n; i++)
			if (v[i] < 0x20 || v[i] == 0x7f)
				rc = REGINFO_E_FIELD;
		if (rc == 1)
			memcpy(dst, v, n + 1);
	}
	xmlFree(v);
	if (rc != 1)
		dst[0] = '\0';
	return rc;
}

/* A required attribute whose value is one of names[1..n) (index returned), else
 * REGINFO_E_ATTR. */
static int attr_enum(const xmlNode *e, const char *name, const char *const *names, int n)
{
	char v[16];
	int rc = attr(e, name, v, sizeof v);

	if (rc < 0)
		return REGINFO_E_ATTR;
	if (rc == 1)
		for (int i = 1; i < n; i++)
			if (names[i] && !strcmp(v, names[i]))
				return i;
	return REGINFO_E_ATTR;
}

static const char *const states[] = {NULL, "init", "active", "terminated"};

/* An unsigned decimal attribute: 1 with *out (values above UINT_MAX are clamped: "as long as
 * the core allows"), 0 absent, REGINFO_E_ATTR not a number. */
static int attr_uint(const xmlNode *e, const char *name, unsigned long max, unsigned long *out)
{
	xmlChar *v = xmlGetNoNsProp(e, BAD_CAST name);
	uint64_t u = 0;
	bool ok = v && v[0];

	if (!v)
		return 0;
	for (const xmlChar *p = v; ok && *p; p++)
		ok = *p >= '0' && *p <= '9';
	if (ok && strlen((const char *)v) > 19)
		u = UINT64_MAX; /* only digits, beyond any clock: as long as the core allows */
	else if (ok)
		ok = cpm_str_to_u64(cpm_str_c((const char *)v), &u);
	xmlFree(v);
	if (!ok)
		return REGINFO_E_ATTR;
	*out = u > max ? max : (unsigned long)u;
	return 1;
}

static int parse_contact(const xmlNode *e, unsigned reg, struct reginfo *out)
{
	static const char *const cstates[] = {NULL, NULL, "active", "terminated"};
	struct reginfo_contact *c;
	unsigned long ex;
	bool have_uri = false;
	int rc;

	if (out->ncontacts >= REGINFO_MAX_CONTACTS)
		return REGINFO_E_TOO_MANY;
	c = &out->contacts[out->ncontacts];
	memset(c, 0, sizeof *c);
	c->reg = reg;
	if ((rc = attr_enum(e, "state", cstates, 4)) < 0)
		return rc;
	c->state = (enum reginfo_state)rc;
	if ((rc = attr(e, "event", c->event, sizeof c->event)) < 0)
		return rc;
	if (rc == 0 || !c->event[0])
		return REGINFO_E_ATTR;
	if ((rc = attr(e, "id", c->id, sizeof c->id)) < 0)
		return rc;
	if ((rc = attr_uint(e, "expires", 0xffffffffUL, &ex)) < 0)
		return rc;
	c->has_expires = rc == 1;
	c->expires = c->has_expires ? (unsigned)ex : 0;
	for (const xmlNode *k = e->children; k; k = k->next) {
		if (is(k, "uri")) {
			if (have_uri)
				return REGINFO_E_FIELD;
			if (cpm_xml_leaf_text(k, c->uri, sizeof c->uri) || !c->uri[0])
				return REGINFO_E_FIELD;
			have_uri = true;
		} else if (is(k, "unknown-param")) {
			char name[32], v[REGINFO_MAX_INSTANCE + 3];
			if (attr(k, "name", name, sizeof name) != 1 || strcmp(name, "+sip.instance"))
				continue; /* other parameters (feature tags) are not ours to read */
			if (cpm_xml_leaf_text(k, v, sizeof v))
				return REGINFO_E_FIELD;
			size_t n = strlen(v);
			const char *p = v;
			if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
				p++;
				n -= 2;
			}
			if (!n || n > REGINFO_MAX_INSTANCE || c->instance[0])
				return REGINFO_E_FIELD;
			memcpy(c->instance, p, n);
			c->instance[n] = '\0';
		}
	}
	if (!have_uri)
		return REGINFO_E_FIELD;
	out->ncontacts++;
	return 0;
}

static int parse_registration(const xmlNode *e, struct reginfo *out)
{
	struct reginfo_reg *r;
	int rc;

	if (out->nregs >= REGINFO_MAX_REGS)
		return REGINFO_E_TOO_MANY;
	r = &out->regs[out->nregs];
	memset(r, 0, sizeof *r);
	if ((rc = attr(e, "aor", r->aor, sizeof r->aor)) < 0)
		return rc;
	if (rc == 0 || !r->aor[0])
		return REGINFO_E_ATTR;
	if ((rc = attr(e, "id", r->id, sizeof r->id)) < 0)
		return rc;
	if ((rc = attr_enum(e, "state", states, 4)) < 0)
		return rc;
	r->state = (enum reginfo_state)rc;
	for (const xmlNode *k = e->children; k; k = k->next)
		if (is(k, "contact") && (rc = parse_contact(k, (unsigned)out->nregs, out)) < 0)
			return rc;
	out->nregs++;
	return 0;
}

static int parse_root(const xmlNode *root, struct reginfo *out)
{
	static const char *const docstates[] = {NULL, "full", "partial"};
	unsigned long version;
	int rc;

	if (!is(root, "reginfo"))
		return REGINFO_E_ROOT;
	if ((rc = attr_uint(root, "version", 0xffffffffUL, &version)) <= 0)
		return REGINFO_E_ATTR;
	out->version = version;
	if ((rc = attr_enum(root, "state", docstates, 3)) < 0)
		return rc;
	out->full = rc == 1;
	for (const xmlNode *k = root->children; k; k = k->next)
		if (is(k, "registration") && (rc = parse_registration(k, out)) < 0)
			return rc;
	return 0;
}

int reginfo_parse(const char *buf, size_t len, struct reginfo *out)
{
	xmlDocPtr doc;
	int rc;

	memset(out, 0, sizeof *out);
	if (len > REGINFO_MAX_BYTES)
		return REGINFO_E_TOO_BIG;
	rc = cpm_xml_read(buf, len, &doc);
	if (rc == CPM_XML_E_DTD)
		return REGINFO_E_DTD;
	if (rc == CPM_XML_E_MEMORY)
		return REGINFO_E_MEMORY;
	if (rc != CPM_XML_OK)
		return REGINFO_E_XML;
	rc = parse_root(xmlDocGetRootElement(doc), out);
	xmlFreeDoc(doc);
	if (rc < 0)
		memset(out, 0, sizeof *out);
	return rc;
}
