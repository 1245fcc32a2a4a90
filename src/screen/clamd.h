/* clamd — a client of ClamAV's daemon: INSTREAM scans of a file range or a memory buffer, and
 * PING (issue 11, content screening; docs/internals/screening.md).
 *
 * THREADING: synchronous and blocking (connect, send, wait for the scan): call it from a
 * worker thread, never from the event loop. Thread-safe: no global state, one connection per
 * call, SIGPIPE never raised (MSG_NOSIGNAL), so any number of threads may scan at once.
 * MEMORY: one fixed buffer of CLAMD_CHUNK bytes per call, whatever the file size.
 * OWNERSHIP: the caller keeps `fd` (read with pread only: its offset is not moved, it is not
 * closed) and every buffer; `cfg` is only read. */
#ifndef CPMD_SCREEN_CLAMD_H
#define CPMD_SCREEN_CLAMD_H

#include <stddef.h>
#include <stdint.h>

#include "screen/clamd_reply.h"

/* Bytes per INSTREAM chunk (and per pread): clamd reads chunks of any size up to its
 * StreamMaxLength, and 64 KiB keeps the copies few and the buffer small. */
#define CLAMD_CHUNK (64 * 1024)

struct clamd_cfg {
	/* "unix:/path/to/clamd.ctl" (clamd's LocalSocket) or "HOST:PORT" (its TCPSocket;
	 * cpm_parse_hostport syntax, HOST a name or an address). */
	const char *addr;
	unsigned connect_ms; /* connecting; 0 = 2000 */
	/* Any one wait after connecting: clamd taking a chunk, or answering once the stream has
	 * ended (the scan itself: a few ms per MiB with the test database, more with the full
	 * one). 0 = 30000. */
	unsigned reply_ms;
	/* clamd's StreamMaxLength if the caller knows it, else 0: a longer stream is then
	 * CLAMD_TOO_BIG at once, without a connection. clamd enforces its own limit either way. */
	uint64_t stream_max;
};

/* Scan `len` bytes of `fd` from `offset` (a stored file, or the part of it that is the
 * message or the file). Returns CLAMD_CLEAN, CLAMD_INFECTED (the signature name copied into
 * `virus`, cut to vcap - 1), CLAMD_ERROR (not scanned: clamd unreachable, a timeout, a read
 * error, the file shorter than offset + len, clamd's own error) or CLAMD_TOO_BIG (clamd's
 * StreamMaxLength). `why` gets a one-line reason for ERROR and TOO_BIG (may be NULL/0). */
enum clamd_result clamd_scan_fd(const struct clamd_cfg *cfg, int fd, uint64_t offset, uint64_t len,
				char *virus, size_t vcap, char *why, size_t whylen);

/* The same for `len` bytes in memory (a pager message's body). */
enum clamd_result clamd_scan_buf(const struct clamd_cfg *cfg, const void *buf, size_t len,
				 char *virus, size_t vcap, char *why, size_t whylen);

/* PING: 0 when clamd answered PONG within the timeouts, else -1 and `why`. For start-up
 * checks and health. */
int clamd_ping(const struct clamd_cfg *cfg, char *why, size_t whylen);

#endif
