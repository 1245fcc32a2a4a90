/* A CPM user's preferences document, as stored in the XDMS (XCAP, RFC 4825) and read by cpmd
 * (docs/internals/xdm.md). OMA's CPM XDM specification and its schema were not available, so
 * this is the project's own small format in its own namespace (PREFS_XML_NS). Parse only:
 * no I/O; libxml2 through cpm/xml_safe.h (no network, no DTD, no entities), the input bounded
 * before libxml2 sees it, every value and list bounded below.
 *
 * Every setting has an explicit "unset" (0 of its enum, has_* false): a user who never said
 * anything leaves the decision to the operator's default, which is not the same as "off".
 * A document with one invalid value, a duplicate setting or a list over its bound is refused
 * whole (the caller keeps what it had): half a document could turn screening off by accident.
 * Elements of other namespaces and unknown elements are ignored (a newer document version,
 * an operator's extension).
 *
 * OWNERSHIP: struct prefs_doc is the caller's (about 25 KiB: allocate it, not on a small
 * stack). Pure and reentrant: safe from any thread once cpm_xml_init() ran (prefs_doc_parse
 * calls it too). */
#ifndef CPM_PREFS_DOC_H
#define CPM_PREFS_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PREFS_XML_NS "urn:cpmd:params:xml:ns:cpm-prefs"
/* The application usage: the project's own AUID (RFC 4825 §4 names vendor AUIDs by a
 * reverse domain; an operator may store the same document under another AUID: the XCAP
 * client takes the AUID from its configuration). */
#define PREFS_AUID "org.cpmd.cpm-prefs"
#define PREFS_FILENAME "cpm-prefs.xml"
#define PREFS_CTYPE "application/vnd.cpmd.cpm-prefs+xml"

/* A filled-in document is ~2 KiB; 64 KiB bounds libxml2's tree for a hostile one. */
#define PREFS_MAX_BYTES (64 * 1024)
/* Blocked senders: a user's list, not an operator's; the bound keeps the struct fixed-size. */
#define PREFS_MAX_BLOCKED 64
#define PREFS_MAX_URI 255   /* as the location service's AOR (sipua/location.h) */
#define PREFS_MAX_TYPES 32  /* per list (accept, deny) */
#define PREFS_MAX_TYPE 127  /* RFC 6838: type and subtype 127 characters each; ours: whole */

enum prefs_bool { PREFS_UNSET = 0, PREFS_OFF, PREFS_ON };
enum prefs_delivery { PREFS_DELIVERY_UNSET = 0, PREFS_DELIVERY_PUSH, PREFS_DELIVERY_PULL };
/* keep files in the Message Storage Server: not at all, instead of delivering them to the
 * device, or besides delivering them */
enum prefs_keep { PREFS_KEEP_UNSET = 0, PREFS_KEEP_OFF, PREFS_KEEP_INSTEAD, PREFS_KEEP_BESIDES };
enum prefs_expiry { PREFS_EXPIRY_UNSET = 0, PREFS_EXPIRY_DISCARD, PREFS_EXPIRY_KEEP };

/* A list element that is absent leaves the setting unset (has_* false); an empty one
 * (<blocked-senders/>) is a set, empty list. */
struct prefs_doc {
	enum prefs_bool defer;         /* <defer>: store-and-forward when no device takes it */
	enum prefs_delivery delivery;  /* <delivery>push|pull</delivery> */
	enum prefs_keep keep_files;    /* <keep-files>off|instead-of-device|besides-device */
	enum prefs_expiry on_expiry;   /* <on-expiry>discard|keep</on-expiry> (keep: in the MSS) */
	enum prefs_bool histories;     /* <histories>: conversation histories in the MSS */
	enum prefs_bool screening;     /* <screening>: content screening for this recipient */
	bool has_max_file_size;
	uint64_t max_file_size;        /* <max-file-size>: bytes, decimal */
	bool has_blocked;
	size_t nblocked;               /* <blocked-senders><uri>sip:...</uri>...</...> */
	char blocked[PREFS_MAX_BLOCKED][PREFS_MAX_URI + 1];
	bool has_accept_types, has_deny_types;
	size_t naccept, ndeny;         /* <accept-types|deny-types><type>... */
	char accept_types[PREFS_MAX_TYPES][PREFS_MAX_TYPE + 1]; /* lower case; a whole wildcard subtype allowed */
	char deny_types[PREFS_MAX_TYPES][PREFS_MAX_TYPE + 1];
};

enum prefs_error {
	PREFS_OK = 0,
	PREFS_E_TOO_BIG = -1,   /* input over PREFS_MAX_BYTES */
	PREFS_E_XML = -2,       /* not well-formed XML */
	PREFS_E_DTD = -3,       /* a DOCTYPE: refused, never processed */
	PREFS_E_ROOT = -4,      /* root is not <cpm-prefs> in PREFS_XML_NS */
	PREFS_E_VALUE = -5,     /* a value not of its kind (a bad boolean, URI, type, number) */
	PREFS_E_DUPLICATE = -6, /* a setting given twice */
	PREFS_E_TOO_MANY = -7,  /* a list over its bound */
	PREFS_E_MEMORY = -8,
};
const char *prefs_strerror(int e);

/* Parse a whole preferences document. PREFS_OK or a negative enum prefs_error; *out is
 * zeroed first (all unset) and stays zeroed on error. */
int prefs_doc_parse(const char *buf, size_t len, struct prefs_doc *out);

/* Names of the values as the document writes them ("" for unset): logs and tests. */
const char *prefs_bool_name(enum prefs_bool v);
const char *prefs_delivery_name(enum prefs_delivery v);
const char *prefs_keep_name(enum prefs_keep v);
const char *prefs_expiry_name(enum prefs_expiry v);

#endif
