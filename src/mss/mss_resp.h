/* The two things cpmd reads from an IMAP server's responses (server bytes:
 * untrusted, fuzzed by fuzz/fuzz_mss_resp.c). Pure code. */
#ifndef CPM_MSS_RESP_H
#define CPM_MSS_RESP_H

#include <stddef.h>
#include <stdint.h>

/* UID SEARCH output as libcurl hands it over (untagged lines, CRLF): the
 * number of UIDs on "* SEARCH" lines (0: not stored), first one in *uid; -1
 * if a SEARCH line holds something that is not a UID (then the caller treats
 * the object as unknown: a transient failure, never a second copy). */
int mss_search_parse(const char *buf, size_t len, uint32_t *uid);

/* A failed command's tagged response ("A005 NO [LIMIT] ..."): -2 if its
 * response code says retrying cannot help (LIMIT, TOOBIG, OVERQUOTA, NOPERM,
 * CANNOT, PARSE: RFC 5530 / RFC 7889), -1 otherwise (transient). */
int mss_resp_class(const char *line, size_t len);

#endif
