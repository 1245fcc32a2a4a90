/* Re-framing MSRP between the two legs of a relay: the one implementation that the relay
 * of a file transfer (ft_relay*.c) and the relay of a chat session (session_relay.c) share.
 *
 * A B2BUA on the media never passes a peer's request through as it is: every request gets
 * our own transaction id and the paths of the other leg (To-Path = that peer's a=path,
 * From-Path = our URI on that leg), while everything that describes the message
 * (Message-ID, Byte-Range, Success-/Failure-Report, Content-Type and every other header,
 * in order) is kept. Responses go back with the original tid. No I/O, no allocation: the
 * callers write the bytes. */
#ifndef CPMD_RELAY_RELAY_FRAME_H
#define CPMD_RELAY_RELAY_FRAME_H

#include <stdbool.h>
#include <stddef.h>

#include "cpm/msrp.h"

/* The head of a SEND re-framed for the other leg: tid, To-Path `to`, From-Path `from`, the
 * rest of m's headers kept (the "Content-Type: x\r\n\r\n" that starts a body included when m
 * has one). Returns the length or -1 (a header our builder refuses: cannot come from our
 * parser, but the chunk is then refused rather than mangled). */
int relay_frame_send_head(char *buf, size_t cap, const struct msrp_msg *m, const char *tid, struct cpm_str to,
			  struct cpm_str from);

/* A REPORT re-framed for the other leg, whole (head and end-line): new tid, paths, the same
 * Message-ID, Byte-Range and Status (a status comment our builder refuses is left out).
 * Returns the length or -1. */
int relay_frame_report(char *buf, size_t cap, const struct msrp_msg *m, const char *tid, struct cpm_str to,
		       struct cpm_str from);

/* A response with the sender's tid, To-Path = first URI of `to`, From-Path `from`, extension
 * header lines `extra` (raw "Name: value\r\n" or empty). A comment our builder refuses (e.g.
 * a device's reason phrase we cannot repeat) is replaced by the standard phrase. Returns the
 * length or -1. */
int relay_frame_response(char *buf, size_t cap, const char *tid, int status, const char *comment,
			 struct cpm_str to, struct cpm_str from, struct cpm_str extra);

/* A peer's a=path from its SDP: one or more MSRP URIs that parse, no CR/LF, at most
 * SDP_MAX_PATH bytes. */
bool relay_frame_path_ok(const char *path);

/* The last URI of m's To-Path names session `sid` (MSRP_SESSION_ID_LEN characters). */
bool relay_frame_to_session(const struct msrp_msg *m, const char *sid, size_t sid_len);

/* A response's reason phrase, as a C string for relay_frame_response (cut at cap; empty
 * when none). */
void relay_frame_comment(char *out, size_t cap, struct cpm_str c);

#endif
