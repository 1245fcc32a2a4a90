/* Parsers for values a user types (command line, config file) that both
 * binaries share: an unsigned number, optionally with a size suffix, and a
 * host:port. Pure code: no allocation, no I/O, no errno, no locale.
 *
 * Both are strict: the whole string must be the value. No sign, no spaces,
 * no hex or octal (leading zeros are plain decimal), no overflow, nothing
 * after the value. They return 0 or -1 and leave their outputs untouched
 * on -1; the caller prints its own message (which names the option). */
#ifndef CPM_PARSE_H
#define CPM_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A decimal number <= max into *out. With size_suffixes, one of k, M, G
 * (either case; x 1024, 1024^2, 1024^3) may follow the digits, itself
 * optionally followed by "i" and then "B" (either case): "64k", "64KiB",
 * "64kB", "1G" are all accepted, "64B" and "64 k" are not. The product
 * must be <= max too. NULL or "" is -1. */
int cpm_parse_u64(const char *s, uint64_t max, bool size_suffixes, uint64_t *out);

/* "host:port" or "[v6]:port" into host (NUL-terminated, brackets removed)
 * and *port. The port is the text after the LAST ':' and must be a decimal
 * number 1..65535, so an unbracketed IPv6 address works too ("::1:5060" is
 * host "::1"). The host must be non-empty and shorter than cap; a host that
 * starts with '[' must end with ']' right before that ':' ("[::1]:5060"),
 * "[]" is empty, and no other '[' or ']' may appear. Nothing else checks the
 * host's syntax: name lookup or bind does.
 *
 * This accepts nothing that cpmd's or cpm's own parser refused before it
 * replaced them; it refuses what only one of them refused ("[]:80",
 * "[::1:80", "[::1]x:80", "a]b:80") and what strtoul let through ("h:+80",
 * "h: 80"). */
int cpm_parse_hostport(const char *s, char *host, size_t cap, uint16_t *port);

#endif
