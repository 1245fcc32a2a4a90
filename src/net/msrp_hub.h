/* MSRP in cpmd: one listener (the hub) for all MSRP connections, and the
 * relay that joins the two MSRP sessions of one anchored file transfer.
 *
 * cpmd is always the passive side (RFC 6135 a=setup:passive): the sender and
 * the device both connect to our --msrp address and bind their connection to
 * a session with their first SEND (RFC 4975 §5.4). A connection is matched to
 * a session by the session-id of the last To-Path URI (case-sensitive), the
 * IMS way (RFC 6714): host/port in the path are not compared.
 *
 *
 * The relay of one transfer (src/relay/ft_relay.h) uses sessions of the hub. */
#ifndef CPMD_NET_MSRP_HUB_H
#define CPMD_NET_MSRP_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


struct msrp_hub;

struct msrp_hub_cfg {
	const char *host;       /* listen address, e.g. "127.0.0.1" */
	uint16_t port;          /* listen port */
	const char *advertise;  /* host put in our a=path URIs (default: host) */
	size_t high_water;      /* unsent bytes on one leg before the other is paused (default 1 MiB) */
	unsigned bind_timeout;  /* seconds a session waits for its connection, and a connection
	                           for its first complete request: the slowloris bound, since a
	                           bound connection belongs to a transfer with its own timers
	                           (default 30) */
	/* Added with the implementation: */
	unsigned txn_timeout_ms; /* for a response to a relayed chunk, the success REPORT, and a
				  * device that reads nothing (default 30000, RFC 4975 §7.1.1) */
	unsigned max_conns;      /* open MSRP connections before new ones are refused (default 4096) */
	/* MSRP over TLS (RFC 4975 §14, docs/security.md): a second listener; tls_port 0 = off */
	const char *tls_host;
	uint16_t tls_port;
	const char *tls_cert, *tls_key; /* PEM: the chain we show, its key (also as a client) */
	/* PEM: CAs a client certificate must chain to (tls_verify_clients) and CAs trusted for a
	 * peer we connect to (another PF); NULL: tls_cert */
	const char *tls_ca;
	bool tls_verify_clients;        /* refuse a TLS client without such a certificate (needs tls_ca) */
	unsigned max_conns_per_addr; /* open MSRP connections from one IP address; more are closed
	                                at accept (default 1024, a quarter of max_conns: one address may
	                                be a NAT of many devices, but one peer must not take them all) */
};

/* root: sofia's su_root (net is the event-loop layer; it is named, not included, so that pf,
 * which includes the relay's header and so this one, does not see sofia-sip: layer rules). */
struct su_root_s;
int msrp_hub_create(struct msrp_hub **hp, struct su_root_s *root, const struct msrp_hub_cfg *cfg);
void msrp_hub_destroy(struct msrp_hub *h);
/* Issue 12: n > 1 starts n worker threads, each with its own event loop and hub, for the
 * relays of big transfers (net/msrp_transport.h "threads"); n <= 1: everything stays on the
 * caller's loop, as before. On the main thread, once, after msrp_hub_create. 0 or -errno.
 * msrp_hub_destroy stops and joins them (destroy the relays first). */
#define MSRP_MAX_WORKERS 32
int msrp_hub_start_workers(struct msrp_hub *h, unsigned n);
/* Counters for logs/metrics (the main hub's include its workers'). */
struct msrp_hub_stats {
	uint64_t connections_open;
	uint64_t sessions_open;
	uint64_t bytes_relayed;
};
void msrp_hub_stats(const struct msrp_hub *h, struct msrp_hub_stats *st);
/* The port actually bound (useful with cfg->port = 0). */
uint16_t msrp_hub_port(const struct msrp_hub *h);
/* The TLS listener's port (0: no TLS) and the a=fingerprint value of our certificate
 * ("sha-256 AB:CD:..."; "" without TLS). */
uint16_t msrp_hub_tls_port(const struct msrp_hub *h);
const char *msrp_hub_fingerprint(const struct msrp_hub *h);

#endif
