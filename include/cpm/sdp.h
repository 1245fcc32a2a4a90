/* SDP (RFC 4566) for MSRP file transfer: the m=message line, the MSRP media
 * attributes (RFC 4975 §8, RFC 6135 setup, RFC 6714 msrp-cema) and the file
 * transfer attributes of RFC 5547. Parse and build; no I/O, no allocation.
 * Every field is a bounded copy (sizes in cpm/limits.h): an over-long value
 * is an error, never a silent truncation. */
#ifndef CPM_SDP_H
#define CPM_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpm/limits.h"
#include "cpm/str.h"

enum sdp_dir { SDP_DIR_NONE = 0, SDP_DIR_SENDRECV, SDP_DIR_SENDONLY, SDP_DIR_RECVONLY, SDP_DIR_INACTIVE };
enum sdp_setup { SDP_SETUP_NONE = 0, SDP_SETUP_ACTIVE, SDP_SETUP_PASSIVE, SDP_SETUP_ACTPASS, SDP_SETUP_HOLDCONN };

/* RFC 5547 §6 file-selector. */
struct sdp_file_selector {
	bool has_name;
	char name[SDP_MAX_FILENAME + 1]; /* percent-decoded; may hold any byte but NUL */
	size_t name_len;
	bool has_size;
	uint64_t size;
	bool has_type;
	char type[SDP_MAX_TYPE + 1]; /* "type/subtype" with its ;params as on the wire */
	bool has_hash;
	char hash_alg[16];           /* lower-cased, e.g. "sha-1" */
	uint8_t hash[64];            /* decoded bytes */
	size_t hash_len;             /* 20 for sha-1 */
};

/* One MSRP file-transfer media description (the first m=message line) plus
 * the session-level bits we need. */
struct sdp_ft {
	/* session level */
	char origin_user[SDP_MAX_TOKEN + 1]; /* o= username, "-" when built */
	uint64_t origin_sess_id;
	uint64_t origin_sess_version;
	char origin_addr[SDP_MAX_TOKEN + 1];
	char conn_addr[SDP_MAX_TOKEN + 1];   /* c= address (session or media level) */
	bool conn_ipv6;

	/* m=message <port> TCP/MSRP * */
	uint16_t port;                      /* 0 = rejected stream */
	char proto[32];                     /* "TCP/MSRP" or "TCP/TLS/MSRP" */
	char path[SDP_MAX_PATH + 1];        /* a=path value (space-separated URIs) */
	char accept_types[SDP_MAX_ACCEPT_TYPES + 1];
	char accept_wrapped_types[SDP_MAX_ACCEPT_TYPES + 1];
	bool has_max_size;
	uint64_t max_size;
	enum sdp_setup setup;
	enum sdp_dir dir;
	bool cema;                          /* a=msrp-cema */
	/* RFC 4572 a=fingerprint ("sha-256 AB:CD:..."): the certificate of an msrps endpoint
	 * (RFC 4975 §14.1); "" = none */
	char fingerprint[SDP_MAX_FINGERPRINT + 1];

	/* RFC 5547 */
	bool has_selector;
	struct sdp_file_selector sel;
	char file_transfer_id[SDP_MAX_TOKEN + 1];
	char file_disposition[SDP_MAX_TOKEN + 1];
	char file_date[SDP_MAX_TOKEN + 1];  /* raw value after "file-date:" */
	char file_icon[SDP_MAX_TOKEN + 1];  /* raw value, e.g. "cid:thumb1@example.com" */
	bool has_file_range;
	uint64_t range_start;               /* 1-based */
	uint64_t range_stop;                /* inclusive; 0 means '*' */
};

enum sdp_error {
	SDP_OK = 0,
	SDP_E_TOO_BIG,
	SDP_E_LINE,          /* not "x=value", or over SDP_MAX_LINE */
	SDP_E_VERSION,       /* missing or bad v= */
	SDP_E_ORIGIN,
	SDP_E_CONNECTION,
	SDP_E_NO_MSRP_MEDIA, /* no m=message ... TCP/MSRP line */
	SDP_E_MEDIA,         /* bad m= line */
	SDP_E_PATH,          /* a=path missing or invalid */
	SDP_E_SELECTOR,      /* a=file-selector syntax */
	SDP_E_FILE_RANGE,
	SDP_E_MAX_SIZE,
	SDP_E_VALUE_TOO_LONG,
	SDP_E_ATTRIBUTE,     /* other malformed attribute we interpret */
};
const char *sdp_strerror(enum sdp_error e);

/* Parse an SDP body (not NUL-terminated). Lines may end in CRLF or LF.
 * Returns SDP_OK or an error; `out` is zeroed first. */
enum sdp_error sdp_parse_ft(const char *sdp, size_t len, struct sdp_ft *out);

/* Does the offer's a=accept-types (RFC 4975 §8.6: space-separated) list `type`
 * (case-insensitive), or "*"? An empty list accepts nothing. */
bool sdp_accepts_type(const struct sdp_ft *s, const char *type);

/* Build an SDP body from `in` (CRLF line ends). Fields left empty/false are
 * left out. Returns bytes written (NUL-terminated too) or -1 if cap is too
 * small. */
int sdp_build_ft(char *buf, size_t cap, const struct sdp_ft *in);

/* file-selector value (what follows "a=file-selector:"). */
enum sdp_error sdp_selector_parse(struct cpm_str value, struct sdp_file_selector *out);
int sdp_selector_format(char *buf, size_t cap, const struct sdp_file_selector *sel);
/* Compare two selectors attribute by attribute (pitfall 13): every attribute
 * present in both must match; names compare byte-exact, types case-insensitively. */
bool sdp_selector_match(const struct sdp_file_selector *a, const struct sdp_file_selector *b);

/* Percent-encoding of file names (RFC 5547 §6): encode '%', '"', CR, LF, NUL
 * (and other control bytes); decode %XX. Return bytes written, or -1. */
int sdp_pct_encode(char *buf, size_t cap, const char *in, size_t len);
int sdp_pct_decode(char *buf, size_t cap, struct cpm_str in);

/* sha-1 as "72:24:5F:..." (upper-case hex, colon separated). */
int sdp_hash_format(char *buf, size_t cap, const uint8_t *hash, size_t len);

#endif
