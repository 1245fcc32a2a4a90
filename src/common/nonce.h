/* Digest nonces (RFC 7616 §3.3, §5.4): issued by cpmd, checked statelessly by an HMAC under a
 * key drawn at start, with a lifetime, and replay protection by a bounded table of the highest
 * nonce-count seen per nonce. No SIP here (sipua/sip_auth.c uses it); the nonce text a peer
 * sends is untrusted input: nonce_check() is bounded and fuzzed (fuzz/fuzz_nonce.c).
 * THREADING: one owner (the loop thread). */
#ifndef CPMD_COMMON_NONCE_H
#define CPMD_COMMON_NONCE_H

#include <stdint.h>

/* 8 bytes of issue time, 8 of serial, 16 of HMAC-SHA-256 (128 bits: forging one is out of
 * reach), in hex. */
#define NONCE_LEN 64
/* How many nonces the replay table remembers: a nonce whose slot a later nonce took is answered
 * stale=true (the client retries with a fresh one, one more round trip). 2^18 slots (4 MiB)
 * cover 5 minutes of nonces at ~870 challenges/s, 45 s at the 5,951 REGISTER/s of BENCHMARKS. */
#define NONCE_SLOTS (1u << 18)
/* The default lifetime: long enough for a client to answer and reuse it for a few requests
 * (nc counts up), short enough that a captured nonce soon expires (sofia's own default is
 * 5 minutes too). */
#define NONCE_LIFETIME_S 300

enum nonce_verdict {
	NONCE_OK = 0,
	NONCE_BAD,   /* not one of ours: malformed or forged */
	NONCE_STALE, /* ours but too old, forgotten, or its nonce-count was used: challenge anew */
};

struct nonce_state;

int nonce_state_create(struct nonce_state **sp, unsigned lifetime_s);
void nonce_state_destroy(struct nonce_state *s);
/* A new nonce into out[NONCE_LEN + 1]. now: monotonic seconds. */
void nonce_make(struct nonce_state *s, uint64_t now, char *out);
/* Checks a nonce and its nonce-count (nc: 8 hex digits, or NULL without qop, then the nonce
 * is good once). Does not record the use: call nonce_use() once the response is verified, so
 * that a wrong guess does not burn the real client's count. */
enum nonce_verdict nonce_check(const struct nonce_state *s, const char *nonce, const char *nc, uint64_t now);
void nonce_use(struct nonce_state *s, const char *nonce, const char *nc);

#endif
