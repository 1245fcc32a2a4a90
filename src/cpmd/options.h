/* cpmd configuration: embedded defaults, then the --config file, then the
 * command line (later wins). Every option is both a flag and a config key. */
#ifndef CPMD_OPTIONS_H
#define CPMD_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr_match.h"
#include "common/routes.h"

#define CPMD_MAX_DOMAINS 8

struct cpmd_options {
	char domains[CPMD_MAX_DOMAINS][256]; /* --domain (comma-separated list) */
	int ndomains;
	char sip_host[256];
	uint16_t sip_port;
	char sip_tls_host[256];   /* --sip-tls (port 0: off) */
	uint16_t sip_tls_port;
	char msrp_tls_host[256];  /* --msrp-tls (port 0: off) */
	uint16_t msrp_tls_port;
	char tls_cert[1024], tls_key[1024], tls_ca[1024]; /* PEM files ("": not given) */
	bool tls_verify_clients;  /* --tls-verify-clients on: TLS clients need a certificate of --tls-ca */
	char msrp_host[256];
	uint16_t msrp_port;
	char msrp_advertise[256]; /* host put in our MSRP URIs (default: msrp host) */
	char data_dir[1024];
	uint64_t max_file_size;   /* 0 = no limit */
	uint64_t max_message_size; /* large-mode message, its whole CPIM body; 0 = no limit */
	unsigned invite_timeout;  /* seconds */
	unsigned message_timeout; /* seconds a pager MESSAGE's fork waits */
	unsigned max_pager_size;  /* bytes of a pager MESSAGE body */
	unsigned max_devices;     /* per user */
	unsigned max_users;
	bool max_users_set;       /* given by the user (else the mode's default) */
	unsigned reg_min_expires;
	unsigned reg_max_expires;
	unsigned max_transfers;   /* concurrent anchored transfers */
	unsigned max_chat_size;   /* a=max-size of chat sessions (bytes) */
	unsigned max_sessions_per_user; /* live chat sessions per inviting user */
	unsigned max_sessions;    /* live chat sessions in all */
	/* limits (issue 10, docs/security.md) */
	uint64_t quota_bytes;     /* per recipient; 0 = no limit */
	uint64_t quota_items;     /* per recipient; 0 = no limit */
	unsigned max_transfers_per_user; /* 0 = only --max-transfers */
	unsigned max_request_rate; /* standalone, per source address and per user; 0 = none */
	unsigned max_msrp_conns_per_addr;
	unsigned workers;              /* --workers N: event loops for the MSRP relays (issue 12) */
	bool relay_tee_cached;         /* --relay-tee cached: a live relay's tee through the page cache */
	unsigned msrp_idle_timeout; /* s an MSRP connection may stay without a complete request */
	unsigned sip_tcp_timeout;   /* s a SIP TCP message may stay incomplete after its last byte */
	char log_level[16];
	char log_format[8];       /* auto | text | journal (common/log.h) */
	char config_file[1024];
	/* store-and-forward (docs/internals/store-and-forward.md) */
	bool defer;                   /* --defer on|off: operator switch */
	unsigned store_default_expiry; /* seconds an item is kept when the sender asks nothing */
	unsigned store_max_expiry;     /* cap on the sender's Cpm-Expires */
	unsigned delivery_per_device;  /* deliveries in flight per device (per user, as each forks) */
	unsigned delivery_retry_min;   /* seconds before the first retry of a failed delivery */
	unsigned delivery_retry_max;
	char default_method[8];        /* push | pull: for users without a preference */
	char default_on_expiry[8];     /* discard | keep */
#define CPMD_MAX_USER_PREFS 64
	char user_prefs[CPMD_MAX_USER_PREFS][320]; /* --user-pref AOR:KEY=VALUE (repeatable) */
	unsigned nuser_prefs;
	char push_gateway[512];        /* --push-gateway URL ("" = none; docs/internals/push.md) */
	unsigned push_retry_min, push_retry_max; /* --push-retry MIN:MAX seconds */
	bool push_asserted_identity;   /* push INVITEs also carry P-Asserted-Identity: <original sender> */
	/* the users' Message Storage Server (issue 11) */
	char mss[300];                 /* --mss imap:// or imaps:// URL ("" = none) */
	char mss_master_user[128];
	char mss_master_password[256];
	char mss_ca[1024];
	unsigned mss_retry_min, mss_retry_max; /* --mss-retry MIN:MAX seconds */
	unsigned mss_workers;
	char history[8];               /* --history user|on|off */
	char mss_keep[8];              /* --mss-keep user|off */
	/* content screening (issue 11 §4, docs/internals/screening.md) */
	char screening[8];             /* --screening user|on|off */
	char clamd[256];               /* --clamd unix:/path | HOST:PORT ("" = no malware scan) */
	unsigned clamd_timeout;        /* s: any one wait on clamd */
	bool screen_fail_open;         /* --screen-fail open|closed */
	char screen_allow_types[512];  /* --screen-allow-types LIST */
	char screen_deny_types[512];   /* --screen-deny-types LIST */
	/* the users' preferences from XDM (docs/internals/xdm.md); "" = not given */
	char xdms[512], xdms_auid[128], xdms_user[128], xdms_password[128], xdms_ca[1024];
	unsigned xdms_refresh;         /* s before a cached document is asked for again */
	/* deployment (docs/deployment.md) */
	char users_file[1024];         /* --users FILE: the subscriber list ("" = none) */
	bool auth, auth_set;           /* --auth on|off (default: on when --users is given) */
	int auth_algs[2], auth_nalgs;  /* --auth-algorithms (enum digest_alg; 0: the default) */
	bool as_mode;                  /* --mode as: application server behind a SIP/IMS core */
	char core[320];                /* LOC_MAX_FLOW; --core SIP-URI: where every request toward a user goes (AS) */
	struct addr_match_list core_trust; /* --core-trust: the only sources served in AS mode */
	bool reg_event;                /* --reg-event on: SUBSCRIBE to reg (RFC 3680) at the core */
	struct route_table routes;
	char resolv_conf[1024];        /* --resolv-conf FILE ("" = /etc/resolv.conf) */     /* --route DOMAIN=HOST:PORT (repeatable), --dns-routes */
	char admin_host[256];          /* --admin ADDR:PORT (port 0: off; issue 13, src/admin) */
	uint16_t admin_port;
	char admin_token[256];         /* --admin-token: the bearer token of the admin API ("" = none) */
	char admin_tls_cert[1024], admin_tls_key[1024]; /* --admin-tls-*: HTTPS on the admin port ("" = http) */
	char admin_tls_ca[1024];       /* --admin-tls-ca: the CAs of the clients' certificates ("" = none asked) */
	char admin_console[1024];      /* --admin-console DIR ("" = cpmd_console_dir's default) */
	unsigned test_store_fail;     /* testing: the store fails its Nth write and every later one (0 = off) */
};

/* One option: its name (flag and config key), whether it takes a value, the value's shape
 * for --help, and its help text (also the comment --dump-config writes above the key). */
struct cpmd_optdef {
	const char *name;
	int has_arg;
	const char *arg;
	const char *help;
};
const struct cpmd_optdef *cpmd_optdefs(size_t *n);

/* Applies one "key = value" exactly as the config file does: 0, -1 (bad value), -2 (unknown
 * key). The reload (reload.c) applies what may change with it. */
int cpmd_option_apply(struct cpmd_options *o, const char *key, const char *value);

/* Fills opts from defaults, config file and argv. Returns 0 to run, 1 when
 * the program should exit 0 (--help, --version), -1 on error (message
 * already printed). */
int cpmd_options_load(struct cpmd_options *opts, int argc, char **argv);
bool cpmd_is_our_domain(const struct cpmd_options *opts, const char *host, size_t len);

#endif
