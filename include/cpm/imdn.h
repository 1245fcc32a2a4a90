/* IMDN (RFC 5438) notifications inside message/cpim: build the one cpmd
 * sends (standards.md §3.3), parse one a device sends. No I/O, no
 * allocation sized by the input (libxml2 allocates a tree for at most
 * IMDN_MAX_BYTES of input and frees it before returning).
 *
 * XML is parsed by libxml2, never by hand (project rule), hardened: no
 * network, no DTD (a document with a DOCTYPE is refused before any
 * declaration is read, so entity bombs and external entities never run),
 * no entity substitution, errors not printed. libxml2 is initialised once
 * per process, lazily and thread-safely (pthread_once); callers may call
 * imdn_init() at start-up instead. xmlCleanupParser() is never called here.
 */
#ifndef CPM_IMDN_H
#define CPM_IMDN_H

#include <stdbool.h>
#include <stddef.h>

#include "cpm/str.h"

/* A whole message/cpim body holding an IMDN. A single notification is
 * ~600 bytes; URIs and ids are bounded below. 64 KiB is far beyond any real
 * one and keeps libxml2's tree for a hostile body small. */
#define IMDN_MAX_BYTES (64 * 1024)
#define IMDN_MAX_MSGID 128     /* RFC 5438 gives no bound; real ids are 8-40 chars */
#define IMDN_MAX_DATETIME 63   /* RFC 3339 is ~35 chars */
#define IMDN_MAX_URI 256       /* same bound as a SIP AOR elsewhere in cpmd */

#define IMDN_CTYPE "message/imdn+xml"
#define IMDN_XML_NS "urn:ietf:params:xml:ns:imdn"

enum imdn_kind { IMDN_KIND_DELIVERY = 1, IMDN_KIND_DISPLAY, IMDN_KIND_PROCESSING };
enum imdn_status {
	IMDN_STATUS_DELIVERED = 1,
	IMDN_STATUS_FAILED,
	IMDN_STATUS_FORBIDDEN,
	IMDN_STATUS_ERROR,
	IMDN_STATUS_DISPLAYED,
	IMDN_STATUS_PROCESSED,
	IMDN_STATUS_STORED,
};

struct imdn_note {
	char message_id[IMDN_MAX_MSGID + 1];            /* of the ORIGINAL message */
	char datetime[IMDN_MAX_DATETIME + 1];           /* of the original message */
	char recipient[IMDN_MAX_URI + 1];               /* optional ("" = absent) */
	char original_recipient[IMDN_MAX_URI + 1];      /* optional ("" = absent) */
	enum imdn_kind kind;
	enum imdn_status status;
};

enum imdn_error {
	IMDN_OK = 0,
	IMDN_E_TOO_BIG = -1,      /* input over IMDN_MAX_BYTES */
	IMDN_E_CPIM = -2,         /* the CPIM wrapper does not parse */
	IMDN_E_NOT_IMDN = -3,     /* content is not message/imdn+xml */
	IMDN_E_XML = -4,          /* not well-formed XML (or libxml2 failed) */
	IMDN_E_DTD = -5,          /* a DOCTYPE: refused, never processed */
	IMDN_E_ROOT = -6,         /* root is not <imdn> in IMDN_XML_NS */
	IMDN_E_MISSING = -7,      /* no message-id, datetime or notification */
	IMDN_E_DUPLICATE = -8,    /* an element that must be unique is repeated */
	IMDN_E_FIELD = -9,        /* a value is too long, has markup or control chars */
	IMDN_E_STATUS = -10,      /* unknown status, or not valid for the kind */
	IMDN_E_MEMORY = -11,
};
const char *imdn_strerror(int e);

/* What an imdn.Disposition-Notification header asks for (RFC 5438 §6.2), as bits. */
enum { IMDN_ASK_POSITIVE = 1, IMDN_ASK_NEGATIVE = 2, IMDN_ASK_DISPLAY = 4 };
/* The bits of a Disposition-Notification value: a comma-separated list of
 * positive-delivery, negative-delivery, display (case-insensitive, blanks
 * around items ignored; processing and unknown tokens ask nothing we send).
 * A NULL or empty slice: 0. */
unsigned imdn_disposition_bits(struct cpm_str v);

/* Initialise libxml2 (idempotent, thread-safe). */
void imdn_init(void);

/* Whether `status` may appear in a notification of `kind` (RFC 5438 §7.2). */
bool imdn_status_valid(enum imdn_kind kind, enum imdn_status status);
const char *imdn_status_name(enum imdn_status status);   /* "delivered", ... */
const char *imdn_kind_name(enum imdn_kind kind);         /* "delivery", ... */

/* Build a whole message/cpim body (CRLF line ends) carrying *n, from_uri =
 * the recipient (who notifies), to_uri = the original sender, wrapper_msgid
 * = a fresh imdn.Message-ID for the wrapper, now_rfc3339 = its DateTime.
 * Every string is XML-escaped; control characters, invalid UTF-8, '<'/'>'
 * in URIs and over-long values are refused. Returns the length written
 * (NUL-terminated) or -1. */
int imdn_build_cpim(char *out, size_t cap, const char *from_uri, const char *to_uri,
		    const char *wrapper_msgid, const char *now_rfc3339, const struct imdn_note *n);

/* Parse a message/cpim body holding one IMDN. Returns IMDN_OK or a negative
 * enum imdn_error; *out is zeroed on error. Aggregated IMDNs (multipart/mixed,
 * RFC 5438 §8.3) are not supported and give IMDN_E_NOT_IMDN. */
int imdn_parse_cpim(const char *buf, size_t len, struct imdn_note *out);

#endif
