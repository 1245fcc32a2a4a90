/* The subscriber list (--users FILE): who may use this cpmd, and their secret. One
 * "USER@DOMAIN SECRET" per line; SECRET is a plain password, "md5:HA1" or "sha256:HA1" (HA1 =
 * H(USER:DOMAIN:password) in hex: the realm of a user is their domain). '#' starts a comment
 * line; blank lines are skipped. The list is immutable once parsed: a reload (SIGHUP) parses
 * a new one and swaps it in, so a bad file never leaves a half-read list in service.
 * Later feeders (admin API, XDM) produce the same struct. Owner: whoever parsed it. */
#ifndef CPMD_COMMON_SUBSCRIBERS_H
#define CPMD_COMMON_SUBSCRIBERS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/digest.h"

/* Limits, with their reasons:
 * - a user part up to 64 bytes (the SMTP local-part bound, which address books follow) and a
 *   domain up to 255 (RFC 1035): the key "user@domain" fits 320;
 * - a secret up to 128 bytes: longer passwords add nothing over a 64-digit SHA-256 HA1;
 * - a line up to 512 bytes (key + space + secret + comments' slack);
 * - one million subscribers and a 64 MiB file: the largest deployment we benchmark (issue 9:
 *   300,000 users) with room; the list is held sorted in memory (~0.5 KiB a user). */
#define SUBSCRIBER_USER_MAX 64
#define SUBSCRIBER_KEY_MAX 320
#define SUBSCRIBER_SECRET_MAX 128
#define SUBSCRIBER_LINE_MAX 512
#define SUBSCRIBERS_MAX 1000000
#define SUBSCRIBERS_FILE_MAX (64u << 20)

enum subscriber_secret { SUB_PLAIN = 0, SUB_HA1_MD5, SUB_HA1_SHA256 };

struct subscriber {
	char key[SUBSCRIBER_KEY_MAX + 1]; /* "user@domain", the domain lower-cased */
	size_t user_len;                  /* key[0..user_len) is the user part */
	enum subscriber_secret kind;
	char secret[SUBSCRIBER_SECRET_MAX + 1]; /* the password, or the HA1 in lower-case hex */
};

struct subscribers;

/* Parses buf[0..len) (need not be NUL-terminated). 0, or -1 with "line N: why" in err. */
int subscribers_parse(struct subscribers **sp, const char *buf, size_t len, char *err, size_t errcap);
/* Reads and parses a file (bounded by SUBSCRIBERS_FILE_MAX). */
int subscribers_load(struct subscribers **sp, const char *path, char *err, size_t errcap);
void subscribers_free(struct subscribers *s);
size_t subscribers_count(const struct subscribers *s);
/* The subscriber user@domain (domain case-insensitive, user exact), or NULL. */
const struct subscriber *subscribers_find(const struct subscribers *s, const char *user, const char *domain);
/* HA1 for the algorithm a into out (DIGEST_HEX_MAX + 1): from the password, or the stored HA1
 * when its algorithm is a. -1 when the stored HA1 is of another algorithm (that user cannot
 * answer a challenge of algorithm a). */
int subscriber_ha1(const struct subscriber *u, enum digest_alg a, char *out);

#endif
