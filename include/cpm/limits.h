/* Every limit on what a peer controls lives here, with the reason for its value.
 * A peer that exceeds one gets a clear protocol error; nothing is ever sized
 * by a peer's claim. */
#ifndef CPM_LIMITS_H
#define CPM_LIMITS_H

/* MSRP (RFC 4975) ----------------------------------------------------------- */
/* ident = ALPHANUM 3*31ident-char: 4..32 characters (RFC 4975 §9). */
#define MSRP_TID_MAX 32
#define MSRP_MSGID_MAX 32
/* Start line + all headers of one MSRP request/response. Real traffic uses
 * ~300 bytes; 8 KiB leaves room for long relay paths and MIME headers. */
#define MSRP_MAX_HEADER_BYTES 8192
/* One header line (To-Path with several relay URIs is the longest seen). */
#define MSRP_MAX_LINE 2048
#define MSRP_MAX_HEADERS 32
/* Byte-Range values above 2^62 are refused: no real file is that big and it
 * keeps all offset arithmetic far from overflow. */
#define MSRP_MAX_RANGE_VALUE (1ULL << 62)
/* An end-line starts with seven dashes (RFC 4975 §7.1): a body without a run of seven dashes
 * cannot contain one, whatever the transaction id. */
#define MSRP_END_DASHES 7
/* Longest possible end-line: CRLF "-------" tid flag CRLF. A streaming parser
 * may hold back at most this many bytes of body while it decides. */
#define MSRP_END_LINE_MAX (2 + 7 + MSRP_TID_MAX + 1 + 2)

/* SDP (RFC 4566 + RFC 5547) -------------------------------------------------- */
/* A file-transfer SDP (with a long file name) is ~1 KiB; refuse anything
 * bigger than 16 KiB before parsing it. */
#define SDP_MAX_BYTES 16384
#define SDP_MAX_LINE 4096
/* Decoded file name in bytes (UTF-8). Linux NAME_MAX is 255; we keep the
 * peer's full name for signalling but never use it as a path as it is. */
#define SDP_MAX_FILENAME 1024
#define SDP_MAX_TYPE 256
#define SDP_MAX_PATH 1024
#define SDP_MAX_TOKEN 256
/* a=fingerprint (RFC 4572): "sha-512 " and 64 bytes as hex pairs with colons, the longest hash
 * the RFC names; SHA-256 (what we write) takes 103 */
#define SDP_MAX_FINGERPRINT 200
#define SDP_MAX_ACCEPT_TYPES 512

/* MIME multipart (SDP + thumbnail) -------------------------------------------- */
/* A SIP INVITE body with a ~10 KB thumbnail (RCS practice) in base64 is
 * ~15 KB; 256 KiB is generous and still cheap. */
#define MIME_MAX_BODY (256 * 1024)
#define MIME_MAX_PARTS 8
#define MIME_MAX_PART_HEADERS 16
#define MIME_MAX_BOUNDARY 70 /* RFC 2046 §5.1.1 */

#endif
