/* MIME multipart (RFC 2046) for SIP bodies: application/sdp plus a thumbnail
 * image (RFC 5547 file-icon). Parse and build; bounded (cpm/limits.h); no I/O,
 * no allocation. Parsed parts are slices into the caller's body buffer. */
#ifndef CPM_MIME_H
#define CPM_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpm/limits.h"
#include "cpm/str.h"

struct mime_part {
	struct cpm_str headers;           /* raw header block of the part */
	struct cpm_str content_type;      /* value, params included */
	struct cpm_str content_id;        /* value as on the wire, "<x@y>" */
	struct cpm_str content_transfer_encoding;
	struct cpm_str content_disposition;
	struct cpm_str body;
};

enum mime_error {
	MIME_OK = 0,
	MIME_E_TOO_BIG,
	MIME_E_NO_BOUNDARY,   /* Content-Type has no (valid) boundary parameter */
	MIME_E_SYNTAX,        /* no first delimiter / no closing delimiter / bad part headers */
	MIME_E_TOO_MANY_PARTS,
};
const char *mime_strerror(enum mime_error e);

/* Is this Content-Type multipart/<anything>? */
bool mime_is_multipart(struct cpm_str content_type);
/* The type/subtype without parameters, e.g. "application/sdp". */
struct cpm_str mime_type_only(struct cpm_str content_type);
/* Extract the boundary parameter (quoted or not) into out (NUL-terminated). */
enum mime_error mime_boundary(struct cpm_str content_type, char *out, size_t cap);

/* Split a multipart body into parts (at most max_parts). Preamble and
 * epilogue are ignored. */
enum mime_error mime_multipart_parse(const char *body, size_t len, const char *boundary,
				     struct mime_part *parts, size_t max_parts, size_t *nparts);

/* Find the first part whose type (params ignored) equals `type` (case-insensitive),
 * or whose Content-ID equals "<cid>" when type is NULL. NULL if none. */
const struct mime_part *mime_find_type(const struct mime_part *parts, size_t n, const char *type);
const struct mime_part *mime_find_cid(const struct mime_part *parts, size_t n, struct cpm_str cid);

/* Build a multipart body. Each part gets the given headers (raw lines,
 * "Name: value\r\n" each) and body. Returns bytes written or -1. The caller
 * picks a boundary that does not occur in any part (mime_random_boundary). */
struct mime_part_out {
	struct cpm_str headers;
	struct cpm_str body;
};
int mime_multipart_build(char *buf, size_t cap, const char *boundary,
			 const struct mime_part_out *parts, size_t n);
/* A fresh boundary: min(len - 1, MIME_MAX_BOUNDARY) random alphanumerics
 * (cpm_random_alnum) and a NUL; len is the size of out. */
void mime_random_boundary(char *out, size_t len);

/* Base64 (RFC 2045; whitespace ignored on decode). Return bytes or -1. */
int mime_base64_encode(char *out, size_t cap, const uint8_t *in, size_t len);
int mime_base64_decode(uint8_t *out, size_t cap, struct cpm_str in);

#endif
