/* The deferred-item list: cpmd's own text format that tells a pull user's
 * device what is waiting for it (docs/internals/store-and-forward.md §4).
 * Kept in this one module so the format can be replaced (e.g. by an OMA
 * CPM / RCS one) without touching its users. No I/O, no globals, no
 * allocation; the parser works on the caller's buffer.
 *
 *     CPMD-Deferred/1
 *     <blank line>
 *     Id: 4f0c...            [A-Za-z0-9_-]{1,32}        required
 *     Kind: message          file (absent) | message: a standalone message
 *                            (then Name: message, Type: message/cpim)
 *     Sender: sip:alice@x                                  required
 *     Time: 2026-11-25T12:00:00Z
 *     Name: holiday%20photo.jpg  percent-encoded UTF-8     required
 *     Type: image/jpeg                                     required
 *     Size: 123456                                         required
 *     Hash: sha-1:AB:CD:...
 *     Expires: 2026-11-26T12:00:00Z
 *     Thumbnail-Type: image/png                            (with Thumbnail)
 *     Thumbnail: <base64, one line>
 *     <blank line>
 *     Id: ...                 next item
 *
 * Keys are case-insensitive; unknown keys are ignored (forward
 * compatibility); known ones may not repeat. Lines end in CRLF (built) or
 * CRLF/LF (parsed). */
#ifndef CPM_DEFERRED_H
#define CPM_DEFERRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpm/limits.h"
#include "cpm/str.h"

#define CPM_DEFERRED_CTYPE "application/vnd.cpmd.deferred+text"
#define CPM_DEFERRED_QUERY_CTYPE "application/vnd.cpmd.deferred-query"
#define CPM_DEFERRED_MAGIC "CPMD-Deferred/1"

#define DEFERRED_MAX_ID 32
#define DEFERRED_MAX_SENDER 256   /* a SIP AOR */
#define DEFERRED_MAX_TIME 39      /* RFC 3339 is ~25-35 chars */
/* Thumbnail bytes: RCS thumbnails are ~10 KB; 48 KiB raw is 64 KiB of
 * base64, the longest line we accept. */
#define DEFERRED_MAX_THUMB (48 * 1024)
#define DEFERRED_MAX_THUMB_B64 (DEFERRED_MAX_THUMB / 3 * 4)
/* Any other line: "Name: " + a fully percent-encoded SDP_MAX_FILENAME. */
#define DEFERRED_MAX_LINE (16 + 3 * SDP_MAX_FILENAME)
/* Lines per item (known + unknown keys): 10 known, room for extensions,
 * and a fixed bound on the work a hostile list makes per item. */
#define DEFERRED_MAX_FIELDS 32
/* Same bound as MSRP byte ranges: no real file is that big. */
#define DEFERRED_MAX_SIZE MSRP_MAX_RANGE_VALUE

enum deferred_kind { DEFERRED_KIND_FILE = 0, DEFERRED_KIND_MESSAGE };

struct deferred_item {
	char id[DEFERRED_MAX_ID + 1];
	enum deferred_kind kind;                   /* Kind: (a file when absent) */
	char sender[DEFERRED_MAX_SENDER + 1];
	char time[DEFERRED_MAX_TIME + 1];          /* "" = absent */
	char name[SDP_MAX_FILENAME + 1];           /* decoded UTF-8 bytes, no NUL inside */
	char type[SDP_MAX_TYPE + 1];
	uint64_t size;
	bool has_hash;
	uint8_t sha1[20];
	char expires[DEFERRED_MAX_TIME + 1];       /* "" = absent */
	char thumb_type[SDP_MAX_TYPE + 1];         /* "" = no thumbnail */
	/* build: raw thumbnail bytes (the builder base64-encodes them) */
	const uint8_t *thumb;
	size_t thumb_len;
	/* parse: the base64 text as a slice of the input (caller decodes with
	 * mime_base64_decode); NULL slice when absent */
	struct cpm_str thumb_b64;
};

enum deferred_error {
	DEFERRED_OK = 0,
	DEFERRED_E_MAGIC = -1,     /* first line is not CPMD-Deferred/1 */
	DEFERRED_E_SYNTAX = -2,    /* a line without "Key:" or with control characters */
	DEFERRED_E_LINE = -3,      /* line too long */
	DEFERRED_E_FIELDS = -4,    /* more than DEFERRED_MAX_FIELDS lines in an item */
	DEFERRED_E_DUPLICATE = -5, /* a known key twice in one item */
	DEFERRED_E_MISSING = -6,   /* Id, Sender, Name, Type or Size missing */
	DEFERRED_E_ID = -7,
	DEFERRED_E_SIZE = -8,
	DEFERRED_E_HASH = -9,
	DEFERRED_E_NAME = -10,     /* bad percent-escape, %00, empty or too long */
	DEFERRED_E_VALUE = -11,    /* Sender/Time/Type/Expires invalid or too long */
	DEFERRED_E_THUMB = -12,    /* thumbnail too big, not base64, or without type */
	DEFERRED_E_TRUNCATED = -13, /* the input ends inside a line (no final LF) */
	DEFERRED_E_KIND = -14,     /* Kind: neither file nor message */
};
const char *deferred_strerror(int e);

/* Build the list for items[0..n). Returns the length written (NUL-
 * terminated) or -1 if it does not fit or an item is invalid (the same
 * checks the parser makes, so whatever is built parses back). */
int deferred_build(char *out, size_t cap, const struct deferred_item *items, size_t n);

/* Parser over buf[0..len); buf must outlive the parser and the thumb_b64
 * slices it hands out. Contents are private. */
struct deferred_parser {
	const char *buf;
	size_t len;
	size_t pos;
	bool started;
	int error;      /* sticky: once an error is returned, it is returned again */
};
void deferred_parser_init(struct deferred_parser *p, const char *buf, size_t len);
/* 1 = *out holds the next item, 0 = end of list, <0 = enum deferred_error. */
int deferred_parse_next(struct deferred_parser *p, struct deferred_item *out);

/* A file name made safe to print as one token on a terminal line: spaces,
 * control characters (C0, DEL, C1), '%', invalid UTF-8 and the Unicode
 * bidi/line-separator controls become %XX per byte; other UTF-8 is kept.
 * Always NUL-terminated when cap > 0; cut at a whole character or escape
 * when it does not fit. */
void deferred_safe_display(char *out, size_t cap, const char *name);

#endif
