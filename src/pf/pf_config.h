/* pf_config — everything the participating function is configured with. src/cpmd fills it
 * from the options (embedded defaults, --config file, command line); pf never sees cpmd's
 * options (layer rule: nothing outside src/cpmd includes cpmd/). Operator policy knobs are
 * read by src/pf/policy.c alone; the rest is wiring (addresses, limits of the machine). */
#ifndef CPMD_PF_CONFIG_H
#define CPMD_PF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/domains.h"
#include "common/routes.h"
#include "sipua/location.h" /* LOC_MAX_FLOW */
#include "store/store.h" /* enum store_method, enum store_on_expiry: one set of names */

/* An operator switch over a user preference (design §6: the service provider's policy wins):
 * each user's choice, or on / off for everyone whatever they chose. */
enum pf_switch { PF_SWITCH_USER = 0, PF_SWITCH_ON, PF_SWITCH_OFF };

#define PF_MAX_USER_PREFS 64
#define PF_USER_PREF_MAX 320

struct pf_config {
	/* wiring */
	struct domain_set domains;     /* --domain: the users we serve */
	char msrp_advertise[256];      /* host in our a=path URIs and c= lines */
	uint16_t msrp_port;
	unsigned max_transfers;        /* concurrent anchored transfers (503 beyond) */
	unsigned max_transfers_per_user; /* of them, from one sender (486 beyond); 0 = no bound */
	unsigned max_devices;          /* per user: bound of a fork */
	unsigned invite_timeout;       /* seconds a fork rings */
	unsigned message_timeout;      /* seconds a pager MESSAGE's fork waits for a 2xx (well below
	                                  the sender's 32 s Timer F: the sender is answered after) */
	/* deployment (docs/deployment.md) */
	bool as_mode;                  /* behind a SIP/IMS core: every request toward a user goes to
	                                  core_uri, with the user's AOR as Request-URI */
	char core_uri[LOC_MAX_FLOW]; /* a next hop, like a flow (checked by the options) */
	struct route_table routes;     /* users of other home domains: static routes, DNS */
	/* operator policy (policy.c) */
	uint64_t max_file_size;        /* 0 = no limit */
	size_t max_pager_size;         /* largest pager MESSAGE body; bigger: 413 (<= STORE_MSG_INLINE_MAX) */
	uint64_t max_message_size;     /* large-mode message (whole CPIM body); 0 = no limit */
	bool defer;                    /* --defer on|off: store-and-forward for everyone */
	unsigned store_default_expiry; /* s an item is kept when the sender asks nothing */
	unsigned store_max_expiry;     /* cap on the sender's Cpm-Expires */
	unsigned delivery_per_device;  /* deliveries in flight per user (each forks to every device) */
	unsigned delivery_retry_min;   /* s before the first retry of a failed delivery */
	unsigned delivery_retry_max;
	enum store_method default_method; /* for users without a preference */
	enum store_on_expiry default_on_expiry;
	char user_prefs[PF_MAX_USER_PREFS][PF_USER_PREF_MAX]; /* --user-pref AOR:KEY=VALUE */
	unsigned nuser_prefs;
	uint64_t quota_bytes;          /* bytes cpmd may hold per recipient; 0 = no limit */
	uint64_t quota_items;          /* items (files, messages) per recipient; 0 = no limit */
	bool push_asserted_identity;   /* push INVITEs also carry P-Asserted-Identity */
	/* the user's Message Storage Server (issue 11, docs/internals/mss.md) */
	bool mss;                      /* --mss given: histories and kept files have somewhere to go */
	char mss_url[300];             /* --mss imap://HOST:PORT or imaps:// */
	char mss_master_user[128];     /* --mss-master-user: acts for each user ("user*master") */
	char mss_master_password[256];
	char mss_ca[1024];             /* --mss-ca: CAs for imaps ("": the system's) */
	unsigned mss_workers;          /* threads writing to the MSS (0: 2) */
	enum pf_switch history;        /* --history user|on|off */
	enum pf_switch keep;           /* --mss-keep user|off (keeping files in the MSS) */
	unsigned mss_retry_min;        /* s before the first retry of a failed MSS write */
	unsigned mss_retry_max;
	enum pf_switch screening;      /* --screening user|on|off */
	char clamd[256];               /* --clamd unix:/path | HOST:PORT; "" = no malware scan */
	unsigned clamd_timeout;        /* --clamd-timeout: s for any one wait on clamd */
	bool screen_fail_open;         /* --screen-fail open: a scan that fails lets content pass */
	char screen_allow_types[512];  /* --screen-allow-types: only these (""= any) */
	char screen_deny_types[512];   /* --screen-deny-types: never these (wins over allow) */
	/* the users' preferences from XDM (issue 11, docs/internals/xdm.md); "" = none */
	char xdms[512];                /* --xdms: the XCAP root */
	char xdms_auid[128];           /* --xdms-auid ("" = PREFS_AUID) */
	char xdms_user[128];           /* --xdms-user, --xdms-password: the XDMS's credentials */
	char xdms_password[128];
	char xdms_ca[1024];            /* --xdms-ca: CA bundle for an https root */
	unsigned xdms_refresh;         /* s a cached document is used before a conditional GET */
	/* push wake-up (docs/internals/push.md) */
	char push_gateway[512];        /* --push-gateway URL ("" = no wake-ups) */
	unsigned push_retry_min;       /* s before the first retry of a failed wake-up */
	unsigned push_retry_max;
	/* 1-1 chat sessions (policy.c; messaging.md §5) */
	uint64_t max_chat_size;        /* our a=max-size; the relay answers 413 beyond it */
	unsigned max_sessions_per_user; /* live sessions one sender may hold (486 beyond) */
	unsigned max_sessions;         /* live sessions in all (503 beyond) */
};

#endif
