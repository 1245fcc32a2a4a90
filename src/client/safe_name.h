/* Safe local file names from a name a peer chose (RFC 5547 a=file-selector
 * name). Pure string work: no sofia, no I/O, so the unit test can include
 * safe_name.c on its own. The saved path is still opened relative to the
 * directory fd with O_NOFOLLOW (msrp_in.c): this is the first of two fences.
 */
#ifndef CPM_CLIENT_SAFE_NAME_H
#define CPM_CLIENT_SAFE_NAME_H

#include <stddef.h>

/* Longest name we produce, in bytes (Linux NAME_MAX is 255: this leaves room
 * for " (N)", the ".thumbnail.ext" suffix and the part-file decoration). */
#define SAFE_NAME_MAX 200
/* Longest extension kept when a name is shortened (".jpeg", ".tar.gz" keeps ".gz"). */
#define SAFE_NAME_EXT_MAX 16

/* Writes a safe name for in[0..len) into out (cap >= SAFE_NAME_MAX + 1):
 * everything up to the last '/' or '\\' is dropped, control bytes (< 0x20,
 * 0x7f) are dropped, "", "." and ".." become "file", a leading '.' becomes
 * '_', and names longer than SAFE_NAME_MAX are cut before the extension at a
 * UTF-8 character boundary. Returns the length written (never 0). */
size_t safe_name(char *out, size_t cap, const char *in, size_t len);

/* "name.ext" + n -> "name (n).ext" ("name (n)" without an extension; a
 * leading dot does not start an extension). n == 0 copies name. Returns the
 * length, or 0 if cap is too small. */
size_t safe_name_numbered(char *out, size_t cap, const char *name, unsigned n);

#endif
