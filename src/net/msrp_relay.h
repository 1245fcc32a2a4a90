/* MSRP in cpmd: one listener (the hub) for all MSRP connections, and the
 * relay that joins the two MSRP sessions of one anchored file transfer.
 *
 * cpmd is always the passive side (RFC 6135 a=setup:passive): the sender and
 * the device both connect to our --msrp address and bind their connection to
 * a session with their first SEND (RFC 4975 §5.4). A connection is matched to
 * a session by the session-id of the last To-Path URI (case-sensitive), the
 * IMS way (RFC 6714): host/port in the path are not compared.
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
#ifndef CPMD_NET_MSRP_RELAY_H
#define CPMD_NET_MSRP_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sofia-sip/su_wait.h>

struct msrp_hub;
struct ft_relay;

struct msrp_hub_cfg {
	const char *host;       /* listen address, e.g. "127.0.0.1" */
	uint16_t port;          /* listen port */
	const char *advertise;  /* host put in our a=path URIs (default: host) */
	size_t high_water;      /* unsent bytes on one leg before the other is paused (default 1 MiB) */
	unsigned bind_timeout;  /* seconds a session waits for its connection (default 30) */
	/* Added with the implementation: */
	unsigned txn_timeout_ms; /* for a response to a relayed chunk, the success REPORT, and a
				  * device that reads nothing (default 30000, RFC 4975 §7.1.1) */
	unsigned max_conns;      /* open MSRP connections before new ones are refused (default 4096) */
};

int msrp_hub_create(struct msrp_hub **hp, su_root_t *root, const struct msrp_hub_cfg *cfg);
void msrp_hub_destroy(struct msrp_hub *h);
/* Counters for logs/metrics. */
struct msrp_hub_stats {
	uint64_t connections_open;
	uint64_t sessions_open;
	uint64_t bytes_relayed;
};
void msrp_hub_stats(const struct msrp_hub *h, struct msrp_hub_stats *st);
/* The port actually bound (useful with cfg->port = 0). */
uint16_t msrp_hub_port(const struct msrp_hub *h);

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
	FT_RELAY_IO_ERROR,          /* blob write failed */
};
const char *ft_relay_result_str(enum ft_relay_result r);

struct ft_relay_params {
	uint64_t size;          /* selector size: exact number of file bytes expected */
	bool has_sha1;
	uint8_t sha1[20];       /* selector hash */
	uint64_t max_size;      /* policy limit (0 = none) */
	const char *blob_path;  /* tee file (created/truncated); NULL = no tee */
};

/* Called once when the transfer ends, for any reason. `detail` is a short
 * human-readable explanation for logs and SIP reason texts. The relay stays
 * allocated until ft_relay_destroy(). */
typedef void ft_relay_done_f(void *arg, enum ft_relay_result res, const char *detail);

int ft_relay_create(struct ft_relay **rp, struct msrp_hub *h, const struct ft_relay_params *p,
		    ft_relay_done_f *done, void *arg);
/* Our own MSRP URI for a leg (for a=path in our SDP), e.g.
 * "msrp://127.0.0.1:2855/8fj2k3l4m5n6o7p8q9;tcp". Valid until destroy. */
const char *ft_relay_path(const struct ft_relay *r, enum ft_relay_leg leg);
/* The peer's a=path value for a leg (from its SDP). Must be set for both
 * legs before bytes can flow; requests on a leg whose peer path is unknown
 * are held. Returns 0, or -1 if the path does not parse. */
int ft_relay_set_peer_path(struct ft_relay *r, enum ft_relay_leg leg, const char *path);
/* Bytes of the file received from the sender so far, and sha-1 when complete. */
uint64_t ft_relay_bytes(const struct ft_relay *r);
/* The sha-1 of the received file, once the last chunk has been checked:
 * returns true and fills out[20]; false before that. */
bool ft_relay_sha1(const struct ft_relay *r, uint8_t out[20]);
/* Largest number of bytes ever queued towards a leg (what the socket did not
 * take): shows that back-pressure bounds memory. */
size_t ft_relay_max_queued(const struct ft_relay *r, enum ft_relay_leg leg);
/* Close both sessions and their connections (a '#' is sent on a chunk in
 * progress), free everything. Safe at any time, including from inside the
 * done callback. */
void ft_relay_destroy(struct ft_relay *r);

#endif
