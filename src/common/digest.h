/* HTTP/SIP digest arithmetic (RFC 7616 / RFC 8760 for SIP): the hashes of one algorithm, HA1
 * from a password, the expected response. No parsing and no SIP here: sipua/sip_auth.c feeds it
 * what sofia parsed, the subscriber list (subscribers.h) stores secrets as HA1 in hex. */
#ifndef CPMD_COMMON_DIGEST_H
#define CPMD_COMMON_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

enum digest_alg { DIGEST_MD5 = 0, DIGEST_SHA256 = 1 };

/* Hex digest sizes: MD5 is 32 hex digits, SHA-256 64. */
#define DIGEST_HEX_MAX 64

/* "MD5" / "SHA-256" (the algorithm= token). */
const char *digest_alg_name(enum digest_alg a);
/* Case-insensitive; NULL or "" is MD5 (RFC 7616 §3.3: absent means MD5). -1: unknown. */
int digest_alg_parse(const char *s, enum digest_alg *out);
size_t digest_hex_len(enum digest_alg a);

/* hex = H(s[0..len)) in lower-case hex, NUL-terminated (out has DIGEST_HEX_MAX + 1 bytes). */
void digest_hash_hex(enum digest_alg a, const char *s, size_t len, char *out);
/* HA1 = H(user ":" realm ":" password). 0, or -1 if the parts are too long to join. */
int digest_ha1(enum digest_alg a, const char *user, const char *realm, const char *password, char *out);
/* The response the client must have sent (RFC 7616 §3.4.1): with qop ("auth": nc and cnonce
 * required) H(HA1:nonce:nc:cnonce:qop:H(method:uri)), without qop H(HA1:nonce:H(method:uri)).
 * 0, or -1 if a part is too long. */
int digest_response(enum digest_alg a, const char *ha1, const char *nonce, const char *nc, const char *cnonce,
		    const char *qop, const char *method, const char *uri, char *out);
/* Constant-time comparison of two hex digests (case-insensitive), false on any length mismatch. */
bool digest_hex_equal(const char *a, const char *b);

#endif
