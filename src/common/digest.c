/* Digest arithmetic (digest.h) over OpenSSL's EVP hashes. */
#include "common/digest.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "cpm/hex.h"

/* Every string hashed here is a join of header values that sofia bounded already (a SIP
 * message is at most a few KiB); 4 KiB keeps the join on the stack with room to spare. */
#define DIGEST_JOIN_MAX 4096

const char *digest_alg_name(enum digest_alg a)
{
	return a == DIGEST_SHA256 ? "SHA-256" : "MD5";
}

int digest_alg_parse(const char *s, enum digest_alg *out)
{
	if (!s || !*s || !strcasecmp(s, "MD5"))
		*out = DIGEST_MD5;
	else if (!strcasecmp(s, "SHA-256"))
		*out = DIGEST_SHA256;
	else
		return -1;
	return 0;
}

size_t digest_hex_len(enum digest_alg a)
{
	return a == DIGEST_SHA256 ? 64 : 32;
}

void digest_hash_hex(enum digest_alg a, const char *s, size_t len, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_Digest(s, len, md, &n, a == DIGEST_SHA256 ? EVP_sha256() : EVP_md5(), NULL))
		n = 0; /* out is then "": it matches no response */
	out[cpm_hex_write(out, md, n, CPM_HEX_LOWER, '\0')] = '\0';
}

static int hash_join(enum digest_alg a, char *out, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int hash_join(enum digest_alg a, char *out, const char *fmt, ...)
{
	char buf[DIGEST_JOIN_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof buf) {
		out[0] = '\0';
		return -1;
	}
	digest_hash_hex(a, buf, (size_t)n, out);
	return 0;
}

int digest_ha1(enum digest_alg a, const char *user, const char *realm, const char *password, char *out)
{
	return hash_join(a, out, "%s:%s:%s", user, realm, password);
}

int digest_response(enum digest_alg a, const char *ha1, const char *nonce, const char *nc, const char *cnonce,
		    const char *qop, const char *method, const char *uri, char *out)
{
	char ha2[DIGEST_HEX_MAX + 1];
	if (hash_join(a, ha2, "%s:%s", method, uri))
		return -1;
	if (qop && *qop)
		return hash_join(a, out, "%s:%s:%s:%s:%s:%s", ha1, nonce, nc ? nc : "", cnonce ? cnonce : "", qop, ha2);
	return hash_join(a, out, "%s:%s:%s", ha1, nonce, ha2);
}

bool digest_hex_equal(const char *a, const char *b)
{
	size_t n = strlen(a);
	if (n != strlen(b) || n == 0)
		return false;
	unsigned char diff = 0;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)((a[i] | 0x20) ^ (b[i] | 0x20));
	return diff == 0;
}
