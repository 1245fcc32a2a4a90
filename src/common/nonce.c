/* Digest nonces (nonce.h). */
#include "common/nonce.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "cpm/hex.h"

#define NONCE_MAC 16

struct nonce_slot {
	uint64_t serial; /* the nonce that owns the slot */
	uint32_t nc;     /* the highest nonce-count accepted with it (0: none yet) */
};

struct nonce_state {
	unsigned char key[32];
	uint64_t serial;
	unsigned lifetime_s;
	struct nonce_slot *slots;
};

int nonce_state_create(struct nonce_state **sp, unsigned lifetime_s)
{
	struct nonce_state *s = calloc(1, sizeof *s);
	if (!s || !(s->slots = calloc(NONCE_SLOTS, sizeof *s->slots)) || RAND_bytes(s->key, sizeof s->key) != 1) {
		nonce_state_destroy(s);
		return -ENOMEM;
	}
	s->lifetime_s = lifetime_s ? lifetime_s : NONCE_LIFETIME_S;
	/* serials start at a random point so that slot 0 of a fresh table is never "owned" */
	if (RAND_bytes((unsigned char *)&s->serial, sizeof s->serial) != 1)
		s->serial = 1;
	*sp = s;
	return 0;
}

void nonce_state_destroy(struct nonce_state *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s->key, sizeof s->key);
	free(s->slots);
	free(s);
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void mac(const struct nonce_state *s, const unsigned char *msg, unsigned char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!HMAC(EVP_sha256(), s->key, sizeof s->key, msg, 16, md, &n) || n < NONCE_MAC)
		memset(md, 0, sizeof md); /* cannot happen with SHA-256; fails closed below */
	memcpy(out, md, NONCE_MAC);
}

void nonce_make(struct nonce_state *s, uint64_t now, char *out)
{
	unsigned char raw[16 + NONCE_MAC];
	uint64_t serial = ++s->serial;

	put64(raw, now);
	put64(raw + 8, serial);
	mac(s, raw, raw + 16);
	s->slots[serial % NONCE_SLOTS] = (struct nonce_slot){serial, 0};
	out[cpm_hex_write(out, raw, sizeof raw, CPM_HEX_LOWER, '\0')] = '\0'; /* NONCE_LEN */
}

/* The serial of a well-formed nonce of ours, or 0 (serials start random but never at 0 after
 * an increment... a wrap to 0 makes that one nonce BAD, which a retry fixes). */
static uint64_t decode(const struct nonce_state *s, const char *nonce, uint64_t *issued)
{
	unsigned char raw[16 + NONCE_MAC], want[NONCE_MAC];
	if (!nonce || strnlen(nonce, NONCE_LEN + 1) != NONCE_LEN)
		return 0;
	if (cpm_hex_decode(raw, sizeof raw, nonce, NONCE_LEN, '\0') != (int)sizeof raw)
		return 0;
	mac(s, raw, want);
	if (CRYPTO_memcmp(want, raw + 16, NONCE_MAC))
		return 0;
	*issued = get64(raw);
	return get64(raw + 8);
}

/* nc as a number: 8 hex digits (RFC 7616 §3.4), 1 when absent (no qop: one use), 0 if bad. */
static uint32_t parse_nc(const char *nc)
{
	uint32_t v = 0;
	if (!nc)
		return 1;
	if (strnlen(nc, 9) != 8)
		return 0;
	for (int i = 0; i < 8; i++) {
		int d = cpm_hex_digit((unsigned char)nc[i]);
		if (d < 0)
			return 0;
		v = v << 4 | (uint32_t)d;
	}
	return v;
}

enum nonce_verdict nonce_check(const struct nonce_state *s, const char *nonce, const char *nc, uint64_t now)
{
	uint64_t issued = 0, serial = decode(s, nonce, &issued);
	uint32_t n = parse_nc(nc);
	if (!serial || !n)
		return NONCE_BAD;
	if (issued > now || now - issued > s->lifetime_s)
		return NONCE_STALE;
	const struct nonce_slot *sl = &s->slots[serial % NONCE_SLOTS];
	if (sl->serial != serial || n <= sl->nc)
		return NONCE_STALE;
	return NONCE_OK;
}

void nonce_use(struct nonce_state *s, const char *nonce, const char *nc)
{
	uint64_t issued = 0, serial = decode(s, nonce, &issued);
	uint32_t n = parse_nc(nc);
	struct nonce_slot *sl = serial ? &s->slots[serial % NONCE_SLOTS] : NULL;
	if (sl && sl->serial == serial && n > sl->nc)
		sl->nc = n;
}
