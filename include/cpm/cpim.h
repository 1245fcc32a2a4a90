/* CPIM (RFC 3862) message/cpim bodies: parse and build (cpim_build, the one
 * writer of CPIM framing: chat and standalone messages, and imdn.h's
 * notifications, are built through it). No I/O, no globals, no allocation. The input is the
 * message/cpim entity's body (the MSRP/SIP Content-Type is block 1 and is
 * not part of it):
 *
 *     CPIM headers          From, To, DateTime, NS, prefix.Name ...
 *     <blank line>
 *     content MIME headers  Content-Type, Content-Disposition, Content-Length
 *     <blank line>
 *     content
 *
 * Lines end in CRLF or LF. Header names are matched case-insensitively
 * (RFC 3862 wants senders to be exact; we are liberal on receive). Folded
 * header lines are refused: RFC 3862 headers are never folded and no CPIM
 * sender we know folds the content headers either.
 * Every slice points into the caller's buffer and lives as long as it. */
#ifndef CPM_CPIM_H
#define CPM_CPIM_H

#include <stddef.h>

#include "cpm/str.h"

/* Headers per block. A real CPIM wrapper has 5-8 (From, To, NS, DateTime,
 * imdn.Message-ID, imdn.Disposition-Notification, maybe cc / Subject /
 * IMDN-Record-Route); 32 leaves room for relays and extensions while making
 * the work per message small and fixed. */
#define CPIM_MAX_HEADERS 32
/* One header line without its line end. imdn.IMDN-Record-Route may carry a
 * SIP URI with parameters; the same bound as an MSRP header line. */
#define CPIM_MAX_LINE 2048
/* NS declarations remembered per message (a sender uses one or two). */
#define CPIM_MAX_NS 8

#define CPIM_IMDN_URN "urn:ietf:params:imdn"

enum cpim_error {
	CPIM_OK = 0,
	CPIM_E_SYNTAX = -1,        /* bad header line, control character, folding */
	CPIM_E_TRUNCATED = -2,     /* input ends before the content starts */
	CPIM_E_TOO_MANY_HEADERS = -3,
	CPIM_E_LINE_TOO_LONG = -4,
	CPIM_E_DUPLICATE = -5,     /* a header that must be unique appears twice */
	CPIM_E_LENGTH = -6,        /* Content-Length not a number or beyond the input */
	CPIM_E_NS = -7,            /* bad NS declaration or too many of them */
};
const char *cpim_strerror(int e);

struct cpim_msg {
	/* CPIM headers (values trimmed, as on the wire: From keeps its "<uri>"). */
	struct cpm_str from;
	struct cpm_str to;                 /* the first To (there may be several) */
	size_t n_to;                       /* how many To headers */
	struct cpm_str datetime;
	struct cpm_str imdn_message_id;    /* <prefix>.Message-ID, prefix bound to CPIM_IMDN_URN */
	struct cpm_str imdn_disposition_notification;
	size_t n_cpim_headers;
	/* content MIME headers */
	struct cpm_str content_type;
	struct cpm_str content_disposition;
	struct cpm_str content_length;     /* raw; checked, NULL slice if absent */
	size_t n_content_headers;
	/* The content: the rest of the input. A Content-Length, when given, must
	 * be a number not beyond the input (else CPIM_E_LENGTH: truncated); a
	 * smaller one is tolerated, as the RFC 5438 example itself has one. */
	struct cpm_str body;
	/* On an error: the name of the header line it was found in (e.g. "imdn.Message-ID" for
	 * a repeated one), so that an answer can name it; a NULL slice when the error is not
	 * about one header. The only field set after an error. */
	struct cpm_str error_header;
};

/* Parse buf[0..len). Returns CPIM_OK or a negative enum cpim_error; on error
 * *out is zeroed but for error_header. */
int cpim_parse(const char *buf, size_t len, struct cpim_msg *out);

/* The URI inside "[display-name] <URI>" (From/To form), or a NULL slice. */
struct cpm_str cpim_addr_uri(struct cpm_str v);

/* ---- building ---------------------------------------------------------- */

/* Bounds of what cpim_build accepts in a header value (longer: refused). */
#define CPIM_BUILD_URI_MAX 256   /* a SIP AOR, as everywhere in cpmd */
#define CPIM_BUILD_ID_MAX 128    /* imdn.Message-ID (same as IMDN_MAX_MSGID) */

/* One message/cpim body to write. NULL/empty optional fields are left out. */
struct cpim_out {
	const char *from_uri;      /* required: written "From: <URI>" */
	const char *to_uri;        /* required: "To: <URI>" */
	const char *message_id;    /* imdn.Message-ID (with "NS: imdn <urn:ietf:params:imdn>") */
	const char *datetime;      /* DateTime (RFC 3339); required when message_id is given */
	const char *disposition;   /* imdn.Disposition-Notification, e.g.
				      "positive-delivery, negative-delivery, display" */
	const char *content_type;  /* required: "text/plain;charset=UTF-8", message/imdn+xml... */
	const char *content_disposition; /* e.g. "notification" */
	const void *body;          /* the content, any bytes */
	size_t body_len;
};

/* Writes the whole body (CRLF line ends, Content-Length of the content) into
 * out[0..cap) NUL-terminated. Header values must be UTF-8 without control
 * characters; URIs without '<', '>' or spaces and at most CPIM_BUILD_URI_MAX
 * bytes; ids without spaces, at most CPIM_BUILD_ID_MAX. Returns the length
 * (without the NUL), or -1 for a bad field or when cap is too small. With
 * out NULL / cap 0 it only measures: returns the length it needs (cap must
 * then be that + 1). */
int cpim_build(char *out, size_t cap, const struct cpim_out *m);
/* The same without the content (everything up to and including the blank line
 * after the content headers; Content-Length says m->body_len): for a writer
 * that appends the content itself (imdn_build_cpim, a streamed large message).
 * m->body is ignored. Same returns. */
int cpim_build_head(char *out, size_t cap, const struct cpim_out *m);

#endif
