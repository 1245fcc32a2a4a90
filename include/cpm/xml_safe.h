/* Hardened libxml2 reading for the XML bodies a peer sends (IMDN, reginfo): one
 * implementation of the rules, shared by lib/imdn and lib/reginfo.
 *  - the caller bounds the input before calling (each codec has its own limit);
 *  - our own parser context per call, so nothing global (error handlers, options) is touched;
 *  - XML_PARSE_NONET: never fetch anything; no XML_PARSE_NOENT (no entity substitution) and
 *    no DTD loading or validation;
 *  - the context's SAX internalSubset/entityDecl callbacks stop the parser at the first
 *    DOCTYPE: our documents never have one, so billion-laughs and external entities are
 *    refused before a single declaration is read, whatever the document's encoding;
 *  - XML_PARSE_NOERROR/NOWARNING plus a no-op structured handler: a hostile document
 *    cannot make us write to stderr.
 * libxml2 is initialised once per process (pthread_once); xmlCleanupParser() is never
 * called. */
#ifndef CPM_XML_SAFE_H
#define CPM_XML_SAFE_H

#include <stddef.h>

#include <libxml/tree.h>

enum cpm_xml_result {
	CPM_XML_OK = 0,
	CPM_XML_E_MALFORMED = -1, /* not well-formed (or libxml2 failed) */
	CPM_XML_E_DTD = -2,       /* a DOCTYPE: refused, never processed */
	CPM_XML_E_MEMORY = -3,
};

/* Initialise libxml2 (idempotent, thread-safe). */
void cpm_xml_init(void);

/* Parse len bytes (len <= INT_MAX; callers bound it far lower). *doc is the tree (free it
 * with xmlFreeDoc) on CPM_XML_OK, NULL otherwise. */
int cpm_xml_read(const char *buf, size_t len, xmlDocPtr *doc);

/* Element e in namespace ns (href) named local. */
int cpm_xml_is(const xmlNode *e, const char *ns, const char *local);

/* The text content of a leaf element into dst[0..size), XML whitespace trimmed. Child
 * elements, entity references, control characters and values that do not fit are errors
 * (-1), never truncated. Comments and processing instructions are skipped. */
int cpm_xml_leaf_text(const xmlNode *e, char *dst, size_t size);

#endif
