/* reg event package (RFC 3680): the application/reginfo+xml document a SIP core sends in a
 * NOTIFY for `Event: reg` — which AORs are registered and with which contacts. Parse only
 * (cpmd never writes one). No I/O; libxml2 through cpm/xml_safe.h (no network, no DTD, no
 * entities), input bounded before libxml2 sees it; counts and lengths bounded below, and a
 * document over a bound is refused whole, never cut (a cut list would unbind devices that
 * are still there).
 * OWNERSHIP: struct reginfo is the caller's (about 60 KiB: allocate it, do not put it on a
 * small stack). */
#ifndef CPM_REGINFO_H
#define CPM_REGINFO_H

#include <stdbool.h>
#include <stddef.h>

#define REGINFO_CTYPE "application/reginfo+xml"
#define REGINFO_XML_NS "urn:ietf:params:xml:ns:reginfo"

/* A NOTIFY for one AOR with its devices is ~1 KiB per contact; a core notifies one AOR per
 * subscription (cpmd subscribes per user). 64 KiB bounds libxml2's tree for a hostile body. */
#define REGINFO_MAX_BYTES (64 * 1024)
/* Registrations per document: one per AOR of the subscription (an implicit registration
 * set can name a few, e.g. sip: and tel: URIs of one user). */
#define REGINFO_MAX_REGS 8
/* Contacts in a whole document: cpmd keeps at most --max-devices per user (default 10);
 * terminated contacts come along in the same document. */
#define REGINFO_MAX_CONTACTS 64
/* Same bounds as the location service (sipua/location.h): an AOR or a device key that does
 * not fit there is no use here. */
#define REGINFO_MAX_AOR 255
#define REGINFO_MAX_URI 511
#define REGINFO_MAX_INSTANCE 255
#define REGINFO_MAX_ID 63    /* the id attributes: opaque tokens, e.g. "a7" */
#define REGINFO_MAX_EVENT 15 /* the longest RFC 3680 event is "deactivated" (11) */

enum reginfo_state { REGINFO_INIT = 1, REGINFO_ACTIVE, REGINFO_TERMINATED };

struct reginfo_contact {
	unsigned reg;                      /* index of its registration in reginfo.regs */
	enum reginfo_state state;          /* active or terminated (init is refused for contacts) */
	char id[REGINFO_MAX_ID + 1];
	char event[REGINFO_MAX_EVENT + 1]; /* "registered", "created", "expired", ... as sent */
	char uri[REGINFO_MAX_URI + 1];     /* the <uri> element */
	char instance[REGINFO_MAX_INSTANCE + 1]; /* <unknown-param name="+sip.instance">, quotes
	                                     removed; "" when absent */
	bool has_expires;
	unsigned expires;                  /* seconds (the expires attribute), when has_expires */
};

struct reginfo_reg {
	char aor[REGINFO_MAX_AOR + 1];     /* the aor attribute, e.g. "sip:bob@example.com" */
	char id[REGINFO_MAX_ID + 1];
	enum reginfo_state state;
};

struct reginfo {
	unsigned long version;
	bool full;                         /* state="full" (else "partial") */
	size_t nregs, ncontacts;
	struct reginfo_reg regs[REGINFO_MAX_REGS];
	struct reginfo_contact contacts[REGINFO_MAX_CONTACTS];
};

enum reginfo_error {
	REGINFO_OK = 0,
	REGINFO_E_TOO_BIG = -1,    /* input over REGINFO_MAX_BYTES */
	REGINFO_E_XML = -2,        /* not well-formed XML */
	REGINFO_E_DTD = -3,        /* a DOCTYPE: refused, never processed */
	REGINFO_E_ROOT = -4,       /* root is not <reginfo> in REGINFO_XML_NS */
	REGINFO_E_ATTR = -5,       /* a required attribute is missing or invalid */
	REGINFO_E_TOO_MANY = -6,   /* more registrations or contacts than the bounds */
	REGINFO_E_FIELD = -7,      /* a value too long, with markup or control characters */
	REGINFO_E_MEMORY = -8,
};
const char *reginfo_strerror(int e);

/* Parse a whole application/reginfo+xml body. REGINFO_OK or a negative enum reginfo_error;
 * *out is zeroed first (and stays zero on error). Elements and attributes of other
 * namespaces (e.g. GRUU's pub-gruu) and unknown children are ignored. */
int reginfo_parse(const char *buf, size_t len, struct reginfo *out);

const char *reginfo_state_name(enum reginfo_state s);

#endif
