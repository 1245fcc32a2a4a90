/* clamd_reply — the classifier of one reply of clamd (ClamAV's daemon) to INSTREAM or PING.
 *
 * The reply is untrusted input (a daemon on the network, or whatever answers on its port):
 * this parser reads at most `len` bytes, never writes past `vcap`/`whylen`, allocates nothing,
 * and is fuzzed (fuzz/fuzz_clamd_reply.c). Pure: no I/O, no globals; any thread.
 *
 * Replies of clamd 1.4 to a "z" (NUL-terminated) command, without IDSESSION:
 *   "stream: OK"                               -> CLAMD_CLEAN
 *   "stream: <signature name> FOUND"           -> CLAMD_INFECTED, the name copied
 *   "INSTREAM size limit exceeded. ERROR"      -> CLAMD_TOO_BIG (StreamMaxLength)
 *   "<anything> ERROR", anything else          -> CLAMD_ERROR, the reply quoted in `why` */
#ifndef CPMD_SCREEN_CLAMD_REPLY_H
#define CPMD_SCREEN_CLAMD_REPLY_H

#include <stdbool.h>
#include <stddef.h>

/* The longest reply we read: "stream: " + a signature name + " FOUND". ClamAV's own names are
 * well under 100 bytes; a reply that fills the buffer without its NUL is an error, not cut. */
#define CLAMD_REPLY_MAX 1024

enum clamd_result {
	CLAMD_CLEAN = 0,    /* scanned, nothing found */
	CLAMD_INFECTED = 1, /* a signature matched: the name is in `virus` */
	CLAMD_ERROR = 2,    /* not scanned, transient: clamd down, timeout, its own error */
	CLAMD_TOO_BIG = 3,  /* not scanned: longer than clamd's StreamMaxLength (will not change on retry) */
};

/* "CLEAN", "INFECTED", "ERROR", "TOO_BIG". */
const char *clamd_result_name(enum clamd_result r);

/* Classify one reply (its bytes without the terminating NUL or newline; a trailing NUL or
 * '\n' is ignored). On CLAMD_INFECTED, `virus` gets the signature name (printable ASCII only,
 * cut to vcap - 1 bytes, NUL-terminated). On CLAMD_ERROR / CLAMD_TOO_BIG, `why` gets the reply
 * (non-printable bytes as '?', cut, NUL-terminated). Either buffer may be NULL with cap 0. */
enum clamd_result clamd_reply_parse(const char *reply, size_t len, char *virus, size_t vcap,
				    char *why, size_t whylen);

/* Is this reply clamd's answer to PING ("PONG")? */
bool clamd_reply_is_pong(const char *reply, size_t len);

#endif
