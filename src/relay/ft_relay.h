/* The relay that joins the two MSRP sessions of one anchored file transfer (src/relay),
 * over the hub of src/net (net/msrp_hub.h).
 *
 * Relay (B2BUA on the media, chunk by chunk, cut-through):
 *   - every SEND from the sender leg (UP) is re-framed towards the device leg
 *     (DOWN): new tid, To-Path = device's a=path, From-Path = our DOWN path;
 *     Message-ID, Byte-Range, Content-Type, Success-/Failure-Report and the
 *     other MIME headers are kept; body bytes are streamed as they arrive
 *     (zero-copy from the receive buffer where the socket accepts them);
 *   - responses and REPORTs from DOWN are mapped back to UP (tid and paths
 *     rewritten); 413/415 end the transfer;
 *   - every file byte is also appended to the blob file (the tee) and hashed
 *     (sha-1) on the fly; the hash is checked against the selector's before
 *     the last chunk's end-line is forwarded: on mismatch the DOWN chunk is
 *     ended with '#' and the sender gets an error;
 *   - back-pressure: the UP socket is not read while DOWN's unsent bytes are
 *     above the high-water mark or DOWN is not bound yet; memory per
 *     transfer is bounded (two receive buffers + one send buffer);
 *   - more bytes than the selector's size, or than max_size: 413 to the
 *     sender, '#' to the device.
 *
 * Ownership: the hub owns connections; the relay owns its two sessions. The
 * pf layer owns the relay and destroys it (no callback after destroy).
 *
 * FILE DESCRIPTORS: the relay never opens, names, renames or unlinks a
 * file. Its blob is a descriptor that the store opened (src/store,
 * store_blob_open_partial / store_blob_open_read) and the owner hands over
 * in the parameters (ft_relay_params.blob_fd with has_blob,
 * ft_relay_source_params.blob_fd):
 *   - ft_relay_create*() returning 0: the relay owns the descriptor from
 *     then on and closes it exactly once, in ft_relay_destroy() (not when
 *     the transfer ends: ft_relay_blob_dup() may still be asked after
 *     done()). The owner must not use or close it any more.
 *   - ft_relay_create*() returning < 0, whatever the reason: nothing was
 *     taken; the descriptor is still the caller's to close (a resume's
 *     blob may have been cut to resume_offset by then).
 *   - ft_relay_blob_dup() hands out a new descriptor: the caller's.
 *   - A resumed upload's hasher thread reads through its own dup, closed
 *     by whichever of the relay and the thread finishes last.
 * Removing or keeping the file is the owner's business (through the
 * store), never the relay's.
 *
 * Added with the implementation (docs/internals/relay.md has the details):
 *   - a connection carries exactly one session: the one its first request
 *     names; a first request for an unknown session gets 481, one for a
 *     session already bound to another connection 506, and the new
 *     connection is then closed (the bound one is not disturbed); later
 *     requests on a bound connection naming another session get 481;
 *   - the hub must outlive its relays (destroy relays first);
 *   - each leg's bind_timeout starts when its peer path is set;
 *   - done() is called exactly once, and may call ft_relay_destroy().
 */
#ifndef CPMD_RELAY_FT_RELAY_H
#define CPMD_RELAY_FT_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/msrp_hub.h"

struct ft_relay;

enum ft_relay_leg { FT_LEG_UP = 0, FT_LEG_DOWN = 1 };

enum ft_relay_result {
	FT_RELAY_COMPLETE = 0,      /* last chunk forwarded, acknowledged by the device, hash ok */
	FT_RELAY_SENDER_ABORTED,    /* '#' from the sender, or its connection closed early */
	FT_RELAY_RECIPIENT_REFUSED, /* 413/415 (or other error response) from the device */
	FT_RELAY_RECIPIENT_LOST,    /* device connection closed/reset before completion */
	FT_RELAY_HASH_MISMATCH,
	FT_RELAY_TOO_BIG,           /* more bytes than declared or than max_size */
	FT_RELAY_TIMEOUT,           /* a leg never connected, or a 30 s transaction timeout */
	FT_RELAY_PROTOCOL_ERROR,    /* unparseable stream from a peer */
	FT_RELAY_IO_ERROR,          /* blob write failed (store mode: the owner's commit failed;
				     * source mode: the blob could not be read) */
	/* Added for store-and-forward (issue #3), see "Store mode" below: */
	FT_RELAY_RECEIVED,          /* store mode: every byte is in the blob, the size and sha-1
				     * are checked; as an event: the final acknowledgement to the
				     * sender is held until ft_relay_ack_received(); as the final
				     * result: the sender has been sent it (ack err 0) */
};
const char *ft_relay_result_str(enum ft_relay_result r);

/* Added for store-and-forward: a NON-final event of a relay that goes on.
 * `ev` is one of:
 *   FT_RELAY_RECIPIENT_LOST  the device's leg failed (connection lost, error
 *                            response or REPORT, timeout) and
 *                            keep_on_recipient_loss is set: the relay is in
 *                            store mode now (the transfer goes on);
 *   FT_RELAY_RECEIVED        store mode: the whole file is in the blob and
 *                            checked; call ft_relay_ack_received() once it is
 *                            durable.
 * It may call ft_relay_destroy() and, for RECEIVED, ft_relay_ack_received().
 * done() is still called exactly once, later (unless destroyed first). */
typedef void ft_relay_event_f(void *arg, enum ft_relay_result ev, const char *detail);

struct ft_relay_params {
	uint64_t size;          /* selector size: exact number of file bytes expected */
	bool has_sha1;
	uint8_t sha1[20];       /* selector hash */
	uint64_t max_size;      /* policy limit (0 = none) */
	/* The tee file (see FILE DESCRIPTORS above): has_blob false = no tee
	 * (the file is only hashed). blob_fd: open for writing, empty for a new
	 * upload (the tee writes with pwrite() from byte 0); read-write for a
	 * resume. has_blob with a negative blob_fd is -EINVAL. */
	bool has_blob;
	int blob_fd;
	/* Added for store-and-forward (issue #3): */
	bool store_only;        /* no DOWN leg: receive the file for later delivery (store mode) */
	bool keep_on_recipient_loss; /* the device's leg failing switches to store mode */
	ft_relay_event_f *event;     /* non-final events (NULL: none), called with done's arg */
	/* store_only and keep_on_recipient_loss need event and has_blob
	 * (ft_relay_create() returns -EINVAL otherwise). */
	/* Upload resume (store_only only; see "UPLOAD RESUME" below): the blob
	 * already holds the file's bytes [0, resume_offset). 0: a new upload. */
	uint64_t resume_offset;
	/* Added for Large Message Mode (issue 8; docs/internals/messaging.md §2):
	 * see "SIZE FROM THE BYTE-RANGE" below. size must be 0, has_sha1 false
	 * and resume_offset 0 (-EINVAL otherwise). */
	bool size_from_range;
	/* The one Content-Type (type/subtype, compared without parameters,
	 * case-insensitively) the sender's data SENDs may carry, e.g.
	 * "message/cpim"; another gets 415 and is not relayed. NULL or "": any. */
	const char *content_type;
};

/* SIZE FROM THE BYTE-RANGE (params.size_from_range): a message whose size no
 * file-selector announced (a large message: one CPIM message in one MSRP
 * SEND, chunked). The first data SEND must carry a Byte-Range whose total is
 * a number (not '*'; an absent Byte-Range counts as '*') and at most
 * max_size (when not 0): otherwise 413 to the sender and
 * done(FT_RELAY_TOO_BIG), before any byte is relayed or written. From then
 * on the total is the size, exactly as a selector's size is for a file
 * (every later chunk's range is checked against it, the '$' chunk must
 * complete it). No hash is checked (there is none to check against);
 * ft_relay_sha1() still gives the bytes' sha-1 (not for a large one relayed
 * live: see ft_relay_sha1). Live, store and the switch to store mode work as
 * for a file. */

/* Called once when the transfer ends, for any reason. `detail` is a short
 * human-readable explanation for logs and SIP reason texts. The relay stays
 * allocated until ft_relay_destroy(). */
typedef void ft_relay_done_f(void *arg, enum ft_relay_result res, const char *detail);

int ft_relay_create(struct ft_relay **rp, struct msrp_hub *h, const struct ft_relay_params *p,
		    ft_relay_done_f *done, void *arg);
/* Our own MSRP URI for a leg (for a=path in our SDP), e.g.
 * "msrp://127.0.0.1:2855/8fj2k3l4m5n6o7p8q9;tcp". Valid until destroy. */
const char *ft_relay_path(const struct ft_relay *r, enum ft_relay_leg leg);
/* Makes a leg msrps (RFC 4975 §14): its path becomes msrps://HOST:TLS-PORT/ID;tcp and only a
 * TLS connection may bind it. Before the path is given to anyone. -ENOTSUP without
 * --msrp-tls (the caller then refuses the offer: a peer that asked for TLS gets no clear). */
int ft_relay_leg_secure(struct ft_relay *r, enum ft_relay_leg leg);
/* The peer's a=path value for a leg (from its SDP). Must be set for both
 * legs before bytes can flow; requests on a leg whose peer path is unknown
 * are held. Returns 0, or -1 if the path does not parse. */
int ft_relay_set_peer_path(struct ft_relay *r, enum ft_relay_leg leg, const char *path);
/* We are the active side of that leg (we offered or answered a=setup:active, RFC 6135: toward
 * another domain's PF, passive like us): connect to the peer path given by
 * ft_relay_set_peer_path (a numeric host). 0, or -errno (the caller ends the transfer). A
 * refused or broken connection then ends the relay as a lost leg does. An msrps path is
 * connected with TLS and the peer's certificate checked (net/msrp_tls.h); fingerprint: the
 * peer's SDP a=fingerprint (NULL/"": none). A failed handshake ends it as a refused one. */
int ft_relay_connect(struct ft_relay *r, enum ft_relay_leg leg, const char *fingerprint);
/* Bytes of the file received from the sender so far, and sha-1 when complete.
 * (Source mode: bytes of the range written towards the device so far.)
 * For a resumed upload it is the FILE offset: resume_offset + the bytes of
 * this session, contiguous; the blob holds exactly that many bytes once
 * the relay has ended (what a partial row records). */
uint64_t ft_relay_bytes(const struct ft_relay *r);
/* The sha-1 of the received file, once the last chunk has been checked:
 * returns true and fills out[20]; false before that, and for a file of
 * DISK_RING_MIN_FILE bytes or more relayed live to the end: its tee worker
 * hashes only once the relay becomes a store relay (docs/internals/relay.md,
 * "Lazy SHA-1": the device checks the hash itself). */
bool ft_relay_sha1(const struct ft_relay *r, uint8_t out[20]);
/* Largest number of bytes ever queued towards a leg (what the socket did not
 * take): shows that back-pressure bounds memory. */
size_t ft_relay_max_queued(const struct ft_relay *r, enum ft_relay_leg leg);
/* Close both sessions and their connections (a '#' is sent on a chunk in
 * progress), free everything. Safe at any time, including from inside the
 * done callback. */
void ft_relay_destroy(struct ft_relay *r);
/* The owner calls it before it acts on SIP news that may have overtaken the relay's own: the
 * sender's BYE right after the last chunk's REPORT, the device's BYE right after its REPORT.
 * First the relay reads and parses what its peers have sent already (on its own loop; the
 * caller waits for that call, which also lets the loop finish the step it was in: the relay
 * forwards the device's REPORT to the sender before it ends); then the done()/event() calls a
 * relay on a worker loop has posted and the caller's loop has not run yet are run here, oldest
 * first. Without it the transfer would be ended as if the sender had left (no `delivered`, no
 * history in the MSS). A callback may destroy the relay: r must not be used after this returns
 * unless the owner knows it still holds it. (A live relay never ends complete while its tee
 * worker still writes: the file's last end-line goes to the device only once the tee is
 * written, so the device cannot report the whole file before.) */
void ft_relay_deliver_pending(struct ft_relay *r);
/* Waits (at most ms) until no tee worker thread is alive: a destroyed relay's worker stops on
 * its own within one piece, and the process must not exit before it did (OpenSSL's exit handlers
 * would free what it uses). For shutdown, after the last relay was destroyed. Any thread.
 * true: none is left. */
bool ft_relay_wait_hashers(unsigned ms);
/* How a live relay writes its tee (the copy of the file that lets cpmd keep it when the device
 * is lost; --relay-tee): true, O_DIRECT while the disk keeps up, no page-cache copy; false
 * (the default), through the page cache, whose copy a file deleted soon enough never costs the
 * disk. Files cpmd keeps (store mode, resumed uploads) are written O_DIRECT either way.
 * Process-wide, set before the relays start (any thread reads it). */
void ft_relay_set_tee_direct(bool on);
/* Tests only (process-wide, any thread): the tee worker sleeps delay_us before each write (a
 * disk slower than the network), fails with ENOSPC at file offset fail_at (0: never), and
 * starts for files of min_size bytes and up (0: the default, 256 KiB). */
void ft_relay_test_tee_hooks(unsigned delay_us, uint64_t fail_at, uint64_t min_size);

/* ======================================================================
 * Added for store-and-forward (issue #3). docs/internals/relay.md, "Store
 * mode" and "Source mode", has the details.
 *
 * STORE MODE (params.store_only, or a relay switched by
 * ft_relay_detach_down() / keep_on_recipient_loss): the relay has an UP leg
 * only. It takes the file into the blob with the same checks as a live
 * relay (contiguous ranges, size, sha-1, max_size, 413 on too many bytes,
 * 400 on a size/hash mismatch) and answers the sender's chunks itself: 200
 * for every '+' chunk (none for Failure-Report no/partial), EXCEPT the '$'
 * chunk. When every byte is in and the hash matches, event(RECEIVED) is
 * called; the '$' chunk's 200 and the success REPORT (if the sender asked
 * Success-Report: yes) are HELD until the owner calls
 * ft_relay_ack_received(): the owner first makes the blob durable (fsync on
 * its own worker thread, see ft_relay_blob_dup(); rename; store commit).
 * A store_only relay has no DOWN session: ft_relay_path(r, FT_LEG_DOWN) is
 * "" and setting a DOWN peer path fails. The sender leaving after RECEIVED
 * does not end the relay (the file is complete); before it, it is
 * FT_RELAY_SENDER_ABORTED as for a live relay. No timer of ours runs while
 * the ack is awaited, but the sender's 30 s transaction timer for its '$'
 * chunk does: acknowledge well within it.
 */

/* Acknowledge a RECEIVED file to the sender (store mode, after event
 * RECEIVED, once). err == 0: the blob is durable and committed: the sender
 * gets 200 for its '$' chunk (per its Failure-Report) and, if it asked for
 * one, a success REPORT (Byte-Range 1-size/size, Status: 000 200 OK; for a
 * resumed upload 1-n/n over the range it sent), both with the ack header
 * if one was set (ft_relay_set_ack_header); then done(FT_RELAY_RECEIVED). err != 0 (an errno, or any non-zero): the sender
 * gets "400 Cannot store the file" (unless Failure-Report: no) and, unless
 * Failure-Report is no, a failure REPORT with Status: 000 400; then
 * done(FT_RELAY_IO_ERROR). Returns 0, or -EINVAL when no ack is awaited
 * (not store mode, not RECEIVED yet, already acknowledged, ended). If the
 * sender's connection is gone by then, nothing is sent; done() is the same. */
int ft_relay_ack_received(struct ft_relay *r, int err);

/* Refuse a RECEIVED file instead of acknowledging it (store mode, after event RECEIVED, once,
 * in place of ft_relay_ack_received): the owner found the content unacceptable (content
 * screening: malware, a scan that failed). The sender's '$' chunk gets `status` (an MSRP
 * error code, 400..599: RFC 4975 §7.3 — 403, 413, 415 or 400) with `comment` (utf8text, no
 * CR/LF; cut to what the line holds) unless its Failure-Report is no, and a failure REPORT
 * with the same status and comment; then done(FT_RELAY_RECIPIENT_REFUSED). The blob is the
 * owner's to remove. Returns 0, or -EINVAL (no ack awaited, a bad status, NULL comment). */
int ft_relay_refuse_received(struct ft_relay *r, int status, const char *comment);

/* Ack header: an MSRP extension header (RFC 4975 ext-header) added to the
 * store-mode success acknowledgement, i.e. to the held 200 for the '$'
 * chunk AND to the success REPORT that ft_relay_ack_received(r, 0) sends
 * (not to error answers, not to the '+' chunks' 200s). cpmd sends
 * "Cpm-Stored: <item-id>" (docs/internals/store-and-forward.md §1). Call it
 * before ft_relay_ack_received(); a second call replaces the first. name:
 * 1..FT_RELAY_ACK_NAME_MAX token characters (RFC 3261 token), not a header
 * MSRP defines (To-Path, From-Path, Message-ID, Byte-Range, Status,
 * Success-/Failure-Report, Content-*, ...); value: 1..FT_RELAY_ACK_VALUE_MAX
 * bytes of utf8text (no CR, LF or other control characters but HTAB, no
 * white space at either end). Returns 0, or -EINVAL for a bad name or
 * value, a source relay, a relay created without params.event (it can
 * never be in store mode), or one that has ended. */
#define FT_RELAY_ACK_NAME_MAX 64
#define FT_RELAY_ACK_VALUE_MAX 200
int ft_relay_set_ack_header(struct ft_relay *r, const char *name, const char *value);

/* UPLOAD RESUME (params.resume_offset > 0, store_only): the sender
 * continues a partial upload kept from an interrupted attempt; the owner
 * matched it (store-and-forward.md §5) and offered a=file-range:
 * resume_offset+1-size. Needs has_blob, has_sha1 and 0 < resume_offset <
 * size (ft_relay_create() returns -EINVAL otherwise). blob_fd is the kept
 * partial, open READ-WRITE (the hasher reads it back); it is cut to
 * resume_offset (ftruncate) and the new bytes are appended.
 *   - The sender's MSRP message is the range [resume_offset, size): its
 *     Byte-Range counts from 1 WITHIN THE RANGE, total = size -
 *     resume_offset (RFC 5547 §6; as source mode sends). A total or an end
 *     beyond that (e.g. a sender counting from the file's start): 413. The
 *     success REPORT says 1-n/n, n = size - resume_offset.
 *   - Everything else is store mode: contiguous ranges, 413 on too many
 *     bytes, the '$' chunk's 200 and success REPORT held for
 *     ft_relay_ack_received(), the sender leaving before RECEIVED is
 *     FT_RELAY_SENDER_ABORTED.
 *   - The sha-1 of the WHOLE file is checked, off the loop: a worker
 *     thread started at create reads the blob (pread, 256 KiB at a time)
 *     from byte 0, the prefix first, then each new byte once the loop has
 *     written it; at the '$' chunk (after the size check) the relay waits
 *     for it without blocking (an eventfd in the loop), then goes on as
 *     store mode: match -> event(RECEIVED); mismatch -> 400 "Hash
 *     mismatch", done(FT_RELAY_HASH_MISMATCH). ft_relay_sha1() is the
 *     whole file's.
 *   - A prefix that cannot be read (the blob shorter than resume_offset
 *     at create, or a read error): done(FT_RELAY_IO_ERROR), from the loop
 *     (never inside ft_relay_create()); the sender's open chunk (or the
 *     held '$') gets 400 "Cannot store the file" and, once its Message-ID
 *     is known, a failure REPORT (both per its Failure-Report). Nothing
 *     more is written to the blob then.
 *   - ft_relay_bytes() is the file offset (see there).
 * One worker thread per resumed upload, for as long as the relay runs;
 * ft_relay_destroy() never waits for it (it stops at its next read and
 * frees its own state). */

/* A new file descriptor (O_RDONLY is not enough for fsync on every
 * filesystem, so it is the blob's own write descriptor, dup()ed, close-on-
 * exec) for the owner's worker thread to fsync() the blob: the event loop
 * must never wait for fsync. The caller closes it; it stays valid after
 * ft_relay_destroy(). The relay writes nothing to the blob after event
 * RECEIVED. Returns the fd, or -errno (-EBADF: no blob). */
int ft_relay_blob_dup(const struct ft_relay *r);

/* Give up the device's leg and keep taking the sender's bytes (store mode
 * from now on): a DOWN chunk in progress ends with '#', the DOWN session is
 * closed (its connection flushed and closed; a device binding later gets
 * 481), and every chunk that was relayed to the device and not answered yet
 * is answered to the sender by the relay (200 per Failure-Report; the '$'
 * chunk's answer is held as above). If the '$' chunk already passed its
 * checks, event(RECEIVED) is called before this returns. Bytes the device
 * has acknowledged are not affected. Returns 0 (also if already in store
 * mode), or -EINVAL for a source relay, an ended one, or one created
 * without params.event (it could never report RECEIVED). */
int ft_relay_detach_down(struct ft_relay *r);

/* SOURCE MODE: deliver a stored file to a device (push or pull delivery,
 * and its resume). DOWN leg only: ft_relay_path(r, FT_LEG_UP) is "" and
 * setting an UP peer path fails. The blob (a regular file) must have
 * exactly `size` bytes, else -EINVAL. Once the device has bound its connection
 * (its first SEND, answered 200) and its peer path is set, the relay sends
 * the range [offset, offset + length) of the blob as ONE MSRP message in
 * chunks of FT_RELAY_SOURCE_CHUNK bytes: Message-ID, Byte-Range counting
 * from 1 WITHIN THE RANGE with total = the range length (RFC 5547 §6 for
 * a=file-range; for offset 0 and the whole file that is just 1..size),
 * Success-Report: yes, Failure-Report: yes, the content type. The blob is
 * read with pread() on the loop (page cache). The device's queue never
 * holds more than the hub's high-water mark (one chunk at a time when a
 * chunk is larger). done(FT_RELAY_COMPLETE) once the device answered 200 to
 * the '$' chunk AND sent a success REPORT covering the whole range. Other
 * endings: an error response or error REPORT: FT_RELAY_RECIPIENT_REFUSED;
 * its connection closed: FT_RELAY_RECIPIENT_LOST; no binding within
 * bind_timeout, a device that reads nothing, or no response/REPORT within
 * txn_timeout_ms: FT_RELAY_TIMEOUT; a short or failed read of the blob:
 * FT_RELAY_IO_ERROR; the sha-1 of the whole file differs from the one
 * given (checked only when the whole file is sent, before the '$'; the
 * chunk then ends with '#'): FT_RELAY_HASH_MISMATCH. */
#define FT_RELAY_SOURCE_CHUNK (64 * 1024)

struct ft_relay_source_params {
	int blob_fd;              /* the stored file, open for reading (required; see FILE
				   * DESCRIPTORS: the relay's once created, read with pread()) */
	uint64_t size;            /* the whole file's size: the blob must have exactly this size */
	bool has_sha1;
	uint8_t sha1[20];         /* the whole file's sha-1 (checked when offset 0 and length 0/size) */
	const char *content_type; /* NULL: application/octet-stream */
	const char *message_id;   /* the MSRP Message-ID (an ident, 4..32 chars); NULL: random */
	uint64_t offset;          /* resume: 0-based file offset of the first byte to send
				   * (a=file-range start - 1; the device's ft_relay_bytes_acked()) */
	uint64_t length;          /* bytes to send from offset; 0: up to the end of the file */
};

int ft_relay_create_source(struct ft_relay **rp, struct msrp_hub *h, const struct ft_relay_source_params *p,
			   ft_relay_done_f *done, void *arg);
/* Source mode: the file offset up to which the device has acknowledged
 * every byte (200 responses to our chunks, contiguous from the start of the
 * range, or a success REPORT covering 1..n of the range): offset + n. A
 * broken delivery resumes from here (a=file-range: this + 1). Before any
 * acknowledgement it is params.offset.
 * A live relay: the file offset below which the device answered 200 to
 * every relayed chunk (what it holds for sure when its leg breaks: pf
 * records it, and the stored file's delivery to that device resumes there).
 * 0 for a store-mode-only relay. */
uint64_t ft_relay_bytes_acked(const struct ft_relay *r);

#endif
