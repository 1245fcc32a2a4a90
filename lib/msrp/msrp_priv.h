/* Private to lib/msrp: the pieces the parser, the header reader and the
 * builders share. Nothing here is part of the public API. */
#ifndef CPM_MSRP_PRIV_H
#define CPM_MSRP_PRIV_H

#include "cpm/msrp.h"

/* RFC 4975 ident: ALPHANUM 3*31(ALPHANUM / "." / "-" / "+" / "%" / "="). */
bool msrp_is_ident(const char *s, size_t n);

/* One or more MSRP URIs separated by SP, each accepted by msrp_uri_parse(). */
bool msrp_path_valid(struct cpm_str path);

/* Byte-Range rules shared by the parser and the builder. */
bool msrp_range_valid(const struct msrp_byte_range *r);

/* A text value that may go on the wire as it is: no CTL except HTAB. */
bool msrp_text_valid(struct cpm_str s);

/* The start line, as sliced from a line without its CRLF. */
struct msrp_start {
	struct cpm_str tid;
	enum msrp_method method;
	struct cpm_str method_name;
	int status;
	struct cpm_str comment;
};
enum msrp_error msrp_start_parse(struct cpm_str line, struct msrp_start *st);

/* Copy block[0..len) (start line and header lines, each ending in CRLF)
 * into m->store and fill m from it. Stops at the first bad line; the
 * fields read before it (always the start line) stay set. */
enum msrp_error msrp_head_parse(struct msrp_msg *m, const char *block, size_t len);

#endif
