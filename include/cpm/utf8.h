/* The one UTF-8 decoder (RFC 3629) of the codecs that check or display
 * peer text (deferred-list names, IMDN values). Pure code. */
#ifndef CPM_UTF8_H
#define CPM_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length (1-4) of the valid UTF-8 sequence at s[0..len), len >= 1, with its
 * code point in *cp; 0 if it is not one: a stray continuation byte, C0/C1
 * or F5..FF lead bytes, a sequence cut short by len or by a non-continuation
 * byte, an overlong form, a surrogate (U+D800..U+DFFF) or a code point above
 * U+10FFFF. *cp is meaningless when 0 is returned. */
size_t cpm_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

#endif
