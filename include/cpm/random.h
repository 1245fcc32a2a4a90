/* The one random source of both binaries: ids (MSRP session-ids and tids,
 * Message-IDs, file-transfer-ids, store item ids), MIME boundaries, test
 * data. Every random byte the project uses comes from cpm_random_bytes().
 *
 * Source: the kernel CSPRNG through getrandom(2) (flags 0: blocks only
 * until the kernel pool is first seeded at boot, never afterwards). This is
 * the one system call lib/ makes (lib/ is otherwise pure code): there is no
 * pure way to get entropy, and one audited place beats a copy per module.
 * Thread-safe: small requests come from a per-thread pool of getrandom()
 * bytes (one syscall per 1 KiB instead of one per id: the relay makes an
 * id per chunk), each byte handed out once and wiped; fork() empties the
 * pool in the child.
 *
 * FAILURE: if getrandom fails (anything but EINTR, which is retried, as
 * are short reads), the process writes one line to stderr and calls
 * abort(). There is deliberately no fallback:
 *  - these ids are capabilities: a predictable MSRP session-id or tid lets
 *    a third party inject into or hijack a transfer, a predictable item id
 *    exposes stored files. Running on with weak ids is a silent security
 *    bug; stopping is loud and safe (cpmd is restarted by its supervisor).
 *  - OpenSSL's RAND_bytes is no second source: it seeds itself from the
 *    same getrandom, so when that fails it fails too, and a fallback path
 *    that can never be exercised in a test is a path nobody knows works.
 *  - on Linux >= 3.17 getrandom(buf, n, 0) cannot fail except through a
 *    seccomp filter (ENOSYS/EPERM) or a bad pointer (EFAULT): a
 *    misconfiguration, to be seen at the first id, not papered over.
 */
#ifndef CPM_RANDOM_H
#define CPM_RANDOM_H

#include <stddef.h>

/* Fill buf[0..n) with random bytes (any n; retries EINTR and short reads). */
void cpm_random_bytes(void *buf, size_t n);

/* 2 * nbytes lower-case hex characters of nbytes random bytes, then a NUL:
 * out must hold 2 * nbytes + 1 (e.g. a store item id: 16 bytes, char[33]). */
void cpm_random_hex(char *out, size_t nbytes);

/* len characters drawn uniformly from [0-9A-Za-z] (RFC 4975 ALPHANUM, so a
 * valid MSRP ident for 4 <= len <= 32, and a valid MIME boundary, SIP tag or
 * token), then a NUL: out must hold len + 1. About 5.95 bits per character:
 * use len >= 16 where the value must not be guessed. */
void cpm_random_alnum(char *out, size_t len);

#endif
