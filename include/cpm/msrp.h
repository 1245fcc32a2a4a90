/* MSRP (RFC 4975) codec: a streaming parser that works on a byte stream cut
 * anywhere, and builders for requests, responses and end-lines.
 * No I/O, no globals, no allocation.
 *
 * Parser contract (picohttpparser style, but resumable across messages):
 *   msrp_parse(p, data, len, &consumed, &ev) looks at data[0..len), returns
 *   one event, and says how many bytes the caller may drop (consumed). Bytes
 *   not consumed MUST be presented again at the start of the next call,
 *   followed by newly received bytes. The parser never needs more than
 *   MSRP_MAX_HEADER_BYTES of unconsumed input, so a receive buffer of
 *   2 * MSRP_MAX_HEADER_BYTES or more is always enough.
 *   Body bytes are handed out zero-copy as slices of `data` (MSRP_EV_BODY),
 *   in order, possibly in many pieces; the parser holds back at most
 *   MSRP_END_LINE_MAX bytes while it decides whether they start the end-line.
 *   The message's start line and headers (MSRP_EV_MSG) are copied into the
 *   parser's own bounded storage and stay valid until the next MSRP_EV_MSG.
 *
 * Event sequence for one message: MSG, BODY*, END. For a message whose
 * headers are bad but whose start line was readable, the parser returns
 * MSRP_EV_ERROR with ev->msg->tid set (so a 400 can be answered), then skips
 * to that message's end-line and carries on with the next one. If the start
 * line itself is unreadable, ev->fatal is set: the stream cannot be resynced
 * and the connection must be closed.
 */
#ifndef CPM_MSRP_H
#define CPM_MSRP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpm/limits.h"
#include "cpm/str.h"

enum msrp_method {
	MSRP_METHOD_NONE = 0, /* a response */
	MSRP_METHOD_SEND,
	MSRP_METHOD_REPORT,
	MSRP_METHOD_AUTH,
	MSRP_METHOD_OTHER /* syntactically valid, unknown: answer 501 */
};

/* Continuation flags of the end-line. */
#define MSRP_FLAG_MORE '+'
#define MSRP_FLAG_END '$'
#define MSRP_FLAG_ABORT '#'

/* '*' in a Byte-Range end or total. */
#define MSRP_RANGE_STAR UINT64_MAX

struct msrp_byte_range {
	uint64_t start; /* 1-based */
	uint64_t end;   /* inclusive, or MSRP_RANGE_STAR */
	uint64_t total; /* or MSRP_RANGE_STAR */
};

enum msrp_report_mode { MSRP_REPORT_DEFAULT = 0, MSRP_REPORT_YES, MSRP_REPORT_NO, MSRP_REPORT_PARTIAL };

struct msrp_header {
	struct cpm_str name;
	struct cpm_str value;
};

/* Start line and headers of one request or response. All cpm_str point into
 * `store` (owned by the parser). */
struct msrp_msg {
	char tid[MSRP_TID_MAX + 1];
	enum msrp_method method;    /* MSRP_METHOD_NONE for a response */
	struct cpm_str method_name; /* as on the wire (requests) */
	int status;                 /* responses: 3-digit code */
	struct cpm_str comment;     /* responses: reason phrase, may be empty */

	struct cpm_str to_path;   /* raw header value: URIs separated by SP */
	struct cpm_str from_path;
	struct cpm_str message_id;
	struct cpm_str content_type; /* empty when the request has no body */
	bool has_byte_range;
	struct msrp_byte_range range;
	enum msrp_report_mode success_report; /* DEFAULT means absent ("no") */
	enum msrp_report_mode failure_report; /* DEFAULT means absent ("yes") */
	bool has_status;   /* REPORT: Status: 000 200 OK */
	int status_code;
	struct cpm_str status_comment;

	bool has_body; /* Content-Type seen: content-stuff follows */
	struct msrp_header headers[MSRP_MAX_HEADERS]; /* all headers, in order */
	size_t nheaders;

	char store[MSRP_MAX_HEADER_BYTES];
};

enum msrp_ev {
	MSRP_EV_NEED_MORE = 0, /* present more bytes */
	MSRP_EV_MSG,           /* start line + headers parsed: ev->msg */
	MSRP_EV_BODY,          /* ev->body: next slice of the body */
	MSRP_EV_END,           /* end-line seen: ev->flag is '+', '$' or '#' */
	MSRP_EV_ERROR          /* ev->error; ev->fatal as described above */
};

enum msrp_error {
	MSRP_OK = 0,
	MSRP_E_START_LINE,   /* not "MSRP tid METHOD" / "MSRP tid NNN [comment]" */
	MSRP_E_TID,          /* transaction id not an ident */
	MSRP_E_LINE_TOO_LONG,
	MSRP_E_HEADERS_TOO_BIG,
	MSRP_E_TOO_MANY_HEADERS,
	MSRP_E_HEADER_SYNTAX,
	MSRP_E_PATHS,        /* To-Path / From-Path missing or not first */
	MSRP_E_BYTE_RANGE,
	MSRP_E_STATUS,       /* bad Status header */
	MSRP_E_REPORT_HDR,   /* bad Success-Report / Failure-Report value */
	MSRP_E_MESSAGE_ID,
	MSRP_E_BODY_IN_RESPONSE,
};

const char *msrp_strerror(enum msrp_error e);

struct msrp_event {
	enum msrp_ev type;
	const struct msrp_msg *msg; /* MSG, END, ERROR (may be NULL if fatal) */
	struct cpm_str body;        /* BODY */
	char flag;                  /* END */
	enum msrp_error error;      /* ERROR */
	bool fatal;                 /* ERROR */
};

struct msrp_parser {
	int state;
	size_t end_len;                           /* length of the end-line marker being looked for */
	char end_marker[2 + 7 + MSRP_TID_MAX + 1]; /* CRLF "-------" tid */
	bool body_started;
	uint64_t body_bytes; /* body bytes handed out for the current message */
	struct msrp_msg msg;
	/* Added with the implementation (lib/msrp/msrp_parse.c): */
	size_t head_off;        /* header block bytes already scanned (complete lines) */
	enum msrp_error failed; /* error of a fatal state, repeated on every call */
};

void msrp_parser_init(struct msrp_parser *p);
enum msrp_ev msrp_parse(struct msrp_parser *p, const char *data, size_t len, size_t *consumed,
			struct msrp_event *ev);

/* Header lookup by case-insensitive name in a parsed message. */
bool msrp_msg_header(const struct msrp_msg *m, const char *name, struct cpm_str *value);

/* ---- MSRP URIs (RFC 4975 §6) ---- */
struct msrp_uri {
	bool secure;                /* msrps */
	struct cpm_str host;        /* without brackets for IPv6 */
	uint16_t port;              /* 0 when absent */
	struct cpm_str session_id;  /* case-sensitive */
	struct cpm_str transport;   /* "tcp", "ws", ... */
};
/* Parse one URI (slices point into `s`). Returns 0 or -1. */
int msrp_uri_parse(struct cpm_str s, struct msrp_uri *out);
/* Last URI of a space-separated path (the endpoint's own URI). */
struct cpm_str msrp_path_last(struct cpm_str path);
/* First URI of a path (the next hop). */
struct cpm_str msrp_path_first(struct cpm_str path);

/* ---- builders: each returns the number of bytes written, or -1 if `cap` is
 * too small or an argument is invalid. Output is not NUL-terminated. ---- */
struct msrp_request_head {
	const char *tid;
	enum msrp_method method;   /* SEND or REPORT */
	struct cpm_str to_path;
	struct cpm_str from_path;
	struct cpm_str message_id;
	const struct msrp_byte_range *range; /* NULL: no Byte-Range header */
	enum msrp_report_mode success_report;  /* DEFAULT: header left out */
	enum msrp_report_mode failure_report;  /* DEFAULT: header left out */
	int status_code;           /* REPORT: Status: 000 <code> <comment> */
	const char *status_comment;
	struct cpm_str extra_headers; /* raw "Name: value\r\n" lines, or empty */
	struct cpm_str content_type;  /* empty: no body (and no blank line) */
};
/* Start line + headers (+ "Content-Type: x\r\n\r\n" if a body follows).
 * After it the caller writes the body, then msrp_build_end(). */
int msrp_build_request_head(char *buf, size_t cap, const struct msrp_request_head *h);
/* End-line. With had_body, the CRLF that closes the body comes first. */
int msrp_build_end(char *buf, size_t cap, const char *tid, char flag, bool had_body);
/* A complete response: To-Path = first URI of the request's From-Path (the
 * previous hop), From-Path = the responder's own URI. */
int msrp_build_response(char *buf, size_t cap, const char *tid, int status, const char *comment,
			struct cpm_str to_path, struct cpm_str from_path);
/* The same with extension headers after the paths (raw "Name: value\r\n"
 * lines, checked as for msrp_request_head.extra_headers), e.g. cpmd's
 * "Cpm-Stored: <item-id>" on a stored file's final 200. */
int msrp_build_response_ext(char *buf, size_t cap, const char *tid, int status, const char *comment,
			    struct cpm_str to_path, struct cpm_str from_path, struct cpm_str extra_headers);
/* Default reason phrase for an MSRP status code ("OK", "Bad Request", ...). */
const char *msrp_status_phrase(int status);

/* Random ident (tid, Message-ID, session-id) of `len` ALPHANUM characters
 * (cpm_random_alnum: uniform, from getrandom(), aborts rather than fall back
 * to anything weaker); out must hold len+1. len >= 4; use >= 16 (>= 95 bits). */
void msrp_random_ident(char *out, size_t len);

#endif
