/* IMDN (RFC 5438) in CPIM: the builder writes standards.md §3.3 exactly;
 * the parser reads the CPIM wrapper with lib/cpim and the XML with libxml2.
 *
 * libxml2 is read through cpm/xml_safe.h (the hardening and its reasons are there). */
#include "cpm/imdn.h"

#include "cpm/cpim.h"
#include "cpm/mime.h"
#include "cpm/str.h"
#include "cpm/utf8.h"
#include "cpm/wbuf.h"
#include "cpm/xml_safe.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <libxml/tree.h>

const char *imdn_strerror(int e)
{
	switch (e) {
	case IMDN_OK: return "ok";
	case IMDN_E_TOO_BIG: return "IMDN body too big";
	case IMDN_E_CPIM: return "bad CPIM wrapper";
	case IMDN_E_NOT_IMDN: return "content is not message/imdn+xml";
	case IMDN_E_XML: return "IMDN XML not well-formed";
	case IMDN_E_DTD: return "IMDN XML with a DOCTYPE (refused)";
	case IMDN_E_ROOT: return "root element is not imdn";
	case IMDN_E_MISSING: return "IMDN lacks message-id, datetime or notification";
	case IMDN_E_DUPLICATE: return "IMDN element repeated";
	case IMDN_E_FIELD: return "IMDN value too long or invalid";
	case IMDN_E_STATUS: return "unknown or invalid IMDN status";
	case IMDN_E_MEMORY: return "out of memory";
	}
	return "unknown IMDN error";
}

/* --- names -------------------------------------------------------------- */

static const char *const status_names[] = {
	[IMDN_STATUS_DELIVERED] = "delivered", [IMDN_STATUS_FAILED] = "failed",
	[IMDN_STATUS_FORBIDDEN] = "forbidden", [IMDN_STATUS_ERROR] = "error",
	[IMDN_STATUS_DISPLAYED] = "displayed", [IMDN_STATUS_PROCESSED] = "processed",
	[IMDN_STATUS_STORED] = "stored",
};
#define N_STATUS (sizeof status_names / sizeof status_names[0])

const char *imdn_status_name(enum imdn_status s)
{
	return (unsigned)s < N_STATUS && status_names[s] ? status_names[s] : "?";
}

const char *imdn_kind_name(enum imdn_kind k)
{
	switch (k) {
	case IMDN_KIND_DELIVERY: return "delivery";
	case IMDN_KIND_DISPLAY: return "display";
	case IMDN_KIND_PROCESSING: return "processing";
	}
	return "?";
}

unsigned imdn_disposition_bits(struct cpm_str v)
{
	unsigned bits = 0;

	while (v.p && v.len) {
		const char *comma = memchr(v.p, ',', v.len);
		size_t n = comma ? (size_t)(comma - v.p) : v.len;
		struct cpm_str t = cpm_str_trim((struct cpm_str){v.p, n});
		if (cpm_str_caseeq(t, "positive-delivery"))
			bits |= IMDN_ASK_POSITIVE;
		else if (cpm_str_caseeq(t, "negative-delivery"))
			bits |= IMDN_ASK_NEGATIVE;
		else if (cpm_str_caseeq(t, "display"))
			bits |= IMDN_ASK_DISPLAY;
		if (!comma)
			break;
		v.p += n + 1;
		v.len -= n + 1;
	}
	return bits;
}

bool imdn_status_valid(enum imdn_kind k, enum imdn_status s)
{
	if (s == IMDN_STATUS_FORBIDDEN || s == IMDN_STATUS_ERROR)
		return k == IMDN_KIND_DELIVERY || k == IMDN_KIND_DISPLAY || k == IMDN_KIND_PROCESSING;
	switch (k) {
	case IMDN_KIND_DELIVERY: return s == IMDN_STATUS_DELIVERED || s == IMDN_STATUS_FAILED;
	case IMDN_KIND_DISPLAY: return s == IMDN_STATUS_DISPLAYED;
	case IMDN_KIND_PROCESSING: return s == IMDN_STATUS_PROCESSED || s == IMDN_STATUS_STORED;
	}
	return false;
}

/* --- value checks -------------------------------------------------------- */

/* Valid UTF-8, no control character, at most max bytes, and none of the
 * bytes in `forbid`. */
static bool value_ok(const char *s, size_t max, const char *forbid)
{
	size_t len = strnlen(s, max + 1);

	if (len > max)
		return false;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;
		size_t n;

		if (c < 0x20 || c == 0x7f || (forbid && c < 0x80 && strchr(forbid, c)))
			return false;
		if (!(n = cpm_utf8_decode((const unsigned char *)s + i, len - i, &cp)))
			return false;
		i += n;
	}
	return true;
}

/* NUL-terminated within its array, then value_ok. */
static bool field_ok(const char *s, size_t size, bool required)
{
	if (!memchr(s, '\0', size))
		return false;
	if (required && !s[0])
		return false;
	return value_ok(s, size - 1, NULL);
}

/* --- builder ------------------------------------------------------------- */

/* Text with the five XML special characters escaped; runs of plain text
 * are appended whole. */
static void wr_xml(struct cpm_wbuf *w, const char *s)
{
	for (;;) {
		size_t plain = strcspn(s, "&<>\"'");

		cpm_wbuf_put(w, s, plain);
		s += plain;
		switch (*s) {
		case '&': cpm_wbuf_puts(w, "&amp;"); break;
		case '<': cpm_wbuf_puts(w, "&lt;"); break;
		case '>': cpm_wbuf_puts(w, "&gt;"); break;
		case '"': cpm_wbuf_puts(w, "&quot;"); break;
		case '\'': cpm_wbuf_puts(w, "&apos;"); break;
		default: return; /* the NUL */
		}
		s++;
	}
}

static void wr_elem(struct cpm_wbuf *w, const char *name, const char *value)
{
	cpm_wbuf_puts(w, " <");
	cpm_wbuf_puts(w, name);
	cpm_wbuf_putc(w, '>');
	wr_xml(w, value);
	cpm_wbuf_puts(w, "</");
	cpm_wbuf_puts(w, name);
	cpm_wbuf_puts(w, ">\r\n");
}

static void write_xml(struct cpm_wbuf *w, const struct imdn_note *n)
{
	cpm_wbuf_puts(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
			 "<imdn xmlns=\"" IMDN_XML_NS "\">\r\n");
	wr_elem(w, "message-id", n->message_id);
	wr_elem(w, "datetime", n->datetime);
	if (n->recipient[0])
		wr_elem(w, "recipient-uri", n->recipient);
	if (n->original_recipient[0])
		wr_elem(w, "original-recipient-uri", n->original_recipient);
	cpm_wbuf_puts(w, " <");
	cpm_wbuf_puts(w, imdn_kind_name(n->kind));
	cpm_wbuf_puts(w, "-notification><status><");
	cpm_wbuf_puts(w, imdn_status_name(n->status));
	cpm_wbuf_puts(w, "/></status></");
	cpm_wbuf_puts(w, imdn_kind_name(n->kind));
	cpm_wbuf_puts(w, "-notification>\r\n</imdn>\r\n");
}

int imdn_build_cpim(char *out, size_t cap, const char *from_uri, const char *to_uri,
		    const char *wrapper_msgid, const char *now_rfc3339, const struct imdn_note *n)
{
	struct cpm_wbuf xml = cpm_wbuf_measure();

	if (!out || cap == 0 || !from_uri || !to_uri || !wrapper_msgid || !now_rfc3339 || !n)
		return -1;
	/* CPIM header values: one line each, URIs inside <>, ids without spaces. */
	if (!from_uri[0] || !to_uri[0] || !wrapper_msgid[0] || !now_rfc3339[0] ||
	    !value_ok(from_uri, IMDN_MAX_URI, "<>") || !value_ok(to_uri, IMDN_MAX_URI, "<>") ||
	    !value_ok(wrapper_msgid, IMDN_MAX_MSGID, " ") ||
	    !value_ok(now_rfc3339, IMDN_MAX_DATETIME, " "))
		return -1;
	if (!field_ok(n->message_id, sizeof n->message_id, true) ||
	    !field_ok(n->datetime, sizeof n->datetime, true) ||
	    !field_ok(n->recipient, sizeof n->recipient, false) ||
	    !field_ok(n->original_recipient, sizeof n->original_recipient, false) ||
	    !imdn_status_valid(n->kind, n->status))
		return -1;

	write_xml(&xml, n);
	if (xml.overflow)
		return -1;
	/* The CPIM framing is cpim_build's (the one CPIM writer); the document follows it. */
	struct cpim_out c = {
		.from_uri = from_uri,
		.to_uri = to_uri,
		.message_id = wrapper_msgid,
		.datetime = now_rfc3339,
		.content_type = IMDN_CTYPE,
		.content_disposition = "notification",
		.body_len = xml.len,
	};
	int head = cpim_build_head(out, cap, &c);
	if (head < 0)
		return -1;
	struct cpm_wbuf w = cpm_wbuf_text(out + head, cap - (size_t)head);
	write_xml(&w, n);
	int tail = cpm_wbuf_finish(&w);
	return tail < 0 || (size_t)head + (size_t)tail > INT_MAX ? -1 : head + tail;
}

/* --- parser -------------------------------------------------------------- */

void imdn_init(void)
{
	cpm_xml_init();
}

static bool in_imdn_ns(const xmlNode *n)
{
	return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
	       xmlStrEqual(n->ns->href, BAD_CAST IMDN_XML_NS);
}

static bool named(const xmlNode *n, const char *local)
{
	return xmlStrEqual(n->name, BAD_CAST local);
}

static int leaf_text(const xmlNode *e, char *dst, size_t size)
{
	return cpm_xml_leaf_text(e, dst, size) ? IMDN_E_FIELD : 0;
}

/* <status> holds exactly one status element of our namespace (whitespace,
 * comments and foreign-namespace extensions aside). */
static int parse_status(const xmlNode *st, enum imdn_kind kind, enum imdn_status *out)
{
	enum imdn_status found = 0;

	for (const xmlNode *c = st->children; c; c = c->next) {
		enum imdn_status s = 0;

		if (c->type == XML_ELEMENT_NODE && !in_imdn_ns(c))
			continue;
		if (c->type != XML_ELEMENT_NODE)
			continue;
		for (size_t i = 1; i < N_STATUS; i++)
			if (named(c, status_names[i]))
				s = (enum imdn_status)i;
		if (!s || !imdn_status_valid(kind, s))
			return IMDN_E_STATUS;
		if (found)
			return IMDN_E_DUPLICATE;
		found = s;
	}
	if (!found)
		return IMDN_E_STATUS;
	*out = found;
	return 0;
}

static int parse_notification(const xmlNode *e, enum imdn_kind kind, struct imdn_note *out)
{
	const xmlNode *status = NULL;

	for (const xmlNode *c = e->children; c; c = c->next) {
		if (!in_imdn_ns(c) || !named(c, "status"))
			continue;
		if (status)
			return IMDN_E_DUPLICATE;
		status = c;
	}
	if (!status)
		return IMDN_E_STATUS;
	out->kind = kind;
	return parse_status(status, kind, &out->status);
}

static int parse_root(const xmlNode *root, struct imdn_note *out)
{
	bool have_id = false, have_dt = false, have_rcpt = false, have_orig = false;
	int rc;

	if (!root || !in_imdn_ns(root) || !named(root, "imdn"))
		return IMDN_E_ROOT;
	for (const xmlNode *c = root->children; c; c = c->next) {
		bool *seen = NULL;
		char *dst = NULL;
		size_t size = 0;
		enum imdn_kind kind = 0;

		if (!in_imdn_ns(c))
			continue; /* text, comments, extensions in other namespaces */
		if (named(c, "message-id"))
			seen = &have_id, dst = out->message_id, size = sizeof out->message_id;
		else if (named(c, "datetime"))
			seen = &have_dt, dst = out->datetime, size = sizeof out->datetime;
		else if (named(c, "recipient-uri"))
			seen = &have_rcpt, dst = out->recipient, size = sizeof out->recipient;
		else if (named(c, "original-recipient-uri"))
			seen = &have_orig, dst = out->original_recipient,
			size = sizeof out->original_recipient;
		else if (named(c, "delivery-notification"))
			kind = IMDN_KIND_DELIVERY;
		else if (named(c, "display-notification"))
			kind = IMDN_KIND_DISPLAY;
		else if (named(c, "processing-notification"))
			kind = IMDN_KIND_PROCESSING;
		else
			continue; /* subject and future elements */
		if (kind) {
			if (out->kind)
				return IMDN_E_DUPLICATE;
			if ((rc = parse_notification(c, kind, out)) < 0)
				return rc;
			continue;
		}
		if (*seen)
			return IMDN_E_DUPLICATE;
		*seen = true;
		if ((rc = leaf_text(c, dst, size)) < 0)
			return rc;
	}
	if (!have_id || !out->message_id[0] || !have_dt || !out->datetime[0] || !out->kind)
		return IMDN_E_MISSING;
	return 0;
}

static int parse_xml(const char *xml, size_t len, struct imdn_note *out)
{
	xmlDocPtr doc;
	int rc = cpm_xml_read(xml, len, &doc);

	if (rc == CPM_XML_E_DTD)
		return IMDN_E_DTD;
	if (rc == CPM_XML_E_MEMORY)
		return IMDN_E_MEMORY;
	if (rc != CPM_XML_OK)
		return IMDN_E_XML;
	rc = parse_root(xmlDocGetRootElement(doc), out);
	xmlFreeDoc(doc);
	return rc;
}

int imdn_parse_cpim(const char *buf, size_t len, struct imdn_note *out)
{
	struct cpim_msg m;
	int rc;

	memset(out, 0, sizeof *out);
	if (len > IMDN_MAX_BYTES)
		return IMDN_E_TOO_BIG;
	if (cpim_parse(buf, len, &m) != CPIM_OK)
		return IMDN_E_CPIM;
	if (!cpm_str_caseeq(mime_type_only(m.content_type), IMDN_CTYPE))
		return IMDN_E_NOT_IMDN;
	rc = parse_xml(m.body.p, m.body.len, out);
	if (rc < 0)
		memset(out, 0, sizeof *out);
	return rc;
}
