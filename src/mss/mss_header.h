/* Header writing for the MSS objects (internal to src/mss): every value that
 * came from a peer goes through here. Control characters (CR, LF, NUL, ...)
 * become spaces, so a value can never start a header or end the header block;
 * values are cut at MSS_VALUE_MAX bytes (on a UTF-8 boundary); non-ASCII
 * values are written as RFC 2047 encoded-words (UTF-8, base64), one per
 * folded line, never splitting a character. */
#ifndef CPM_MSS_HEADER_H
#define CPM_MSS_HEADER_H

#include <stdint.h>

#include "cpm/wbuf.h"

/* "Name: value\r\n", value sanitised, RFC 2047 encoded if not ASCII, folded. */
void mss_hdr_text(struct cpm_wbuf *w, const char *name, const char *value);
/* "Name: <uri>\r\n" with the URI sanitised; '<', '>' and '"' are dropped too. */
void mss_hdr_uri(struct cpm_wbuf *w, const char *name, const char *uri);
/* The sanitised URI alone (for an address list). */
void mss_put_uri(struct cpm_wbuf *w, const char *uri);
/* A MIME parameter: "; name=\"ascii\"" or, for non-ASCII, RFC 2231
 * "; name*=UTF-8''pct-encoded". */
void mss_put_param(struct cpm_wbuf *w, const char *name, const char *value);
/* A token value (MIME type, disposition): only RFC 2045 token characters and
 * '/' are kept; `dflt` if nothing is left. */
void mss_put_token(struct cpm_wbuf *w, const char *value, const char *dflt);
/* RFC 5322 date-time of `t` (UTC). */
void mss_put_date(struct cpm_wbuf *w, int64_t t);

#endif
