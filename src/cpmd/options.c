/* Option parsing for cpmd (see options.h). */
#include "cpmd/options.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/digest.h"
#include "common/domains.h"
#include "common/version.h"
#include "cpm/conf.h"
#include "cpm/parse.h"
#include "cpmd/config_dump.h"
#include "cpmd/options_int.h"
#include "net/msrp_hub.h"  /* MSRP_MAX_WORKERS */
#include "store/store.h" /* STORE_MSG_INLINE_MAX: a stored pager message's body is kept inline */


/* The one list of options: drives getopt, the config keys, --help, --dump-config (its
 * comments) and the man pages generated from both (scripts/gen-man.sh). */
static const struct cpmd_optdef optdefs[] = {
	{"domain", 1, "D[,D2...]", "SIP domain(s) this server is the registrar and PF for: host names or IP addresses, comma-separated (default: localhost)"},
	{"sip", 1, "ADDR:PORT", "SIP listen address, UDP and TCP (default: 127.0.0.1:5060)"},
	{"msrp", 1, "ADDR:PORT", "MSRP listen address, TCP (default: 127.0.0.1:2855)"},
	{"sip-tls", 1, "ADDR:PORT", "SIP over TLS listen address (sips:), besides --sip; needs --tls-cert and --tls-key (default: off)"},
	{"msrp-tls", 1, "ADDR:PORT", "MSRP over TLS listen address (msrps: paths toward peers that offer msrps), besides --msrp; needs --tls-cert and --tls-key (default: off)"},
	{"tls-cert", 1, "FILE", "TLS certificate chain cpmd shows (PEM, its own certificate first)"},
	{"tls-key", 1, "FILE", "private key of --tls-cert (PEM)"},
	{"tls-ca", 1, "FILE", "CA certificates trusted for TLS peers (PEM) (default: --tls-cert itself)"},
	{"tls-verify-clients", 1, "off|on", "on: a client of --sip-tls or --msrp-tls must show a certificate chained to --tls-ca, else its TLS handshake fails; needs --tls-ca (default: off: devices authenticate with digest)"},
	{"msrp-advertise", 1, "HOST", "host written in our MSRP a=path URIs (default: the --msrp address)"},
	{"data-dir", 1, "DIR", "directory for blobs and state, one cpmd each (locked: DIR/cpmd.lock) (default: ./cpmd-data)"},
	{"max-file-size", 1, "BYTES", "largest file accepted; bigger offers get 488 (default: 0 = no limit)"},
	{"max-message-size", 1, "BYTES", "largest large-mode message (its whole CPIM body); bigger ones get 413 (default: 16777216; 0 = no limit)"},
	{"invite-timeout", 1, "SECONDS", "how long the forked invitation rings before giving up (default: 30)"},
	{"message-timeout", 1, "SECONDS", "how long a pager MESSAGE waits for a device's 2xx before it is stored, 1..30 (default: 8)"},
	{"max-pager-size", 1, "BYTES", "largest pager-mode MESSAGE body; bigger ones get 413 (default: 16384, at most 20480)"},
	{"max-devices", 1, "N", "registered devices per user (default: 16)"},
	{"max-users", 1, "N", "registered users in all (default: 100000; 1000000 in AS mode, where the core admits users)"},
	{"reg-min-expires", 1, "SECONDS", "shortest registration accepted, else 423 (default: 10)"},
	{"reg-max-expires", 1, "SECONDS", "longest registration granted (default: 3600)"},
	{"max-transfers", 1, "N", "concurrent anchored transfers; more get 503 (default: 10000)"},
	{"max-chat-size", 1, "BYTES", "a=max-size of chat sessions: bigger MSRP messages get 413 (1024 .. 262144, default: 65536)"},
	{"max-sessions-per-user", 1, "N", "live chat sessions one user may have opened; more get 486 (default: 16)"},
	{"max-sessions", 1, "N", "live chat sessions in all; more get 503 (default: 1000)"},
	/* limits on what one peer may take (issue 10; docs/security.md) */
	{"quota-bytes", 1, "BYTES", "bytes cpmd may hold for one recipient (stored files and messages, uploads in progress at their declared size); an upload beyond gets 486 \"Recipient Quota Exceeded (bytes)\" before any byte moves (default: 0 = no limit)"},
	{"quota-items", 1, "N", "items (files, messages) cpmd may hold for one recipient; beyond: 486 \"Recipient Quota Exceeded (items)\" (default: 0 = no limit)"},
	{"max-transfers-per-user", 1, "N", "concurrent file transfers one sender may have; more get 486 + Retry-After (default: 512; 0 = only --max-transfers)"},
	{"max-request-rate", 1, "N", "standalone: new SIP requests per second from one source address and from one user (bursts of 2N); more get 503 + Retry-After (default: 0 = no limit)"},
	{"max-msrp-conns-per-addr", 1, "N", "open MSRP connections from one source IP address; more are closed at accept (default: 1024)"},
	{"workers", 1, "N", "event loops (threads) for the MSRP relays of big transfers, 1..32; 1: everything on the one loop (default: the number of online CPUs)"},
	{"relay-tee", 1, "direct|cached", "how a live relay writes its copy of the file (the tee that lets cpmd keep the file when the device is lost): cached: the page cache (a copy per byte; a file the device got in full is deleted before most of it reaches the disk); direct: O_DIRECT while the disk keeps up (no page-cache copy: a third to two thirds less relay CPU on big files, but every relayed byte is written to the disk, which slows transfers when the disk is busy), the page cache while the disk is behind. Files cpmd keeps are written O_DIRECT either way (default: cached)"},
	{"msrp-idle-timeout", 1, "SECONDS", "an MSRP connection that completes no request within this time of opening is closed (slowloris) (default: 30)"},
	{"sip-tcp-timeout", 1, "SECONDS", "a SIP message over TCP that stays incomplete this long after its last byte is dropped with its connection (slowloris) (default: 30)"},
	{"defer", 1, "on|off", "store-and-forward: keep files for absent recipients (default: on)"},
	{"store-default-expiry", 1, "SECONDS", "lifetime of a stored file when the sender asks none (default: 604800)"},
	{"store-max-expiry", 1, "SECONDS", "cap on the lifetime a sender asks with Cpm-Expires (default: 2592000)"},
	{"delivery-method", 1, "push|pull", "delivery of stored files for users without a preference (default: push)"},
	{"on-expiry", 1, "discard|keep", "expired files: discard + `failed` notification, or keep for the MSS (default: discard)"},
	{"delivery-per-device", 1, "N", "stored files being delivered at once to one device (default: 4)"},
	{"delivery-retry", 1, "MIN:MAX", "back-off in seconds between delivery attempts (default: 10:600)"},
	{"push-asserted-identity", 1, "on|off", "push INVITEs assert the original sender (P-Asserted-Identity) besides Referred-By, for a trust domain (default: off)"},
	{"user-pref", 1, "AOR:KEY=VAL", "a user's preference, repeatable: defer=on|off, method=push|pull, on-expiry=discard|keep, history=on|off, keep=off|instead|besides (files in the MSS), screening=on|off, max-size=BYTES (the largest file the user accepts), block=SENDER (refuse everything from SENDER, repeatable); a local override: wins over the user's --xdms document"},
	/* the users' Message Storage Server (issue 11, docs/internals/mss.md) */
	{"mss", 1, "URL", "the users' Message Storage Server: imap://HOST:PORT or imaps://HOST:PORT; histories, kept files and expired items (on-expiry=keep) are written there (default: none; expired items kept go to DATA_DIR/mss/)"},
	{"mss-master-user", 1, "NAME", "the MSS's master user, who acts for every user (Dovecot: USER*NAME); needs --mss"},
	{"mss-master-password", 1, "SECRET", "its password (keep it in the --config file, mode 0600, rather than on the command line)"},
	{"mss-ca", 1, "FILE", "CA certificates (PEM) trusted for an imaps:// MSS (default: the system's)"},
	{"mss-retry", 1, "MIN:MAX", "back-off in seconds between attempts to write an item to the MSS (default: 10:600)"},
	{"mss-workers", 1, "N", "threads writing to the MSS at once, 1..16 (default: 2)"},
	{"history", 1, "user|on|off", "histories in the users' MSS: each user's preference (history=on), or on/off for everyone (default: user)"},
	{"mss-keep", 1, "user|off", "files kept in the users' MSS instead of or besides their devices: each user's preference (keep=...), or off for everyone (default: user)"},
	/* content screening (issue 11 §4; docs/internals/screening.md) */
	{"screening", 1, "user|on|off", "content screening of what reaches a user (MIME-type lists, malware scan): each user's preference (--user-pref AOR:screening=on), or on/off for everyone (default: user). Blocked senders and a user's max-size apply in every case"},
	{"clamd", 1, "unix:/PATH|HOST:PORT", "ClamAV daemon that scans files and messages for screened users (INSTREAM); a screened user's files are then stored and scanned before the sender's last acknowledgement, never cut through (default: none: no malware scan, the type lists still apply)"},
	{"clamd-timeout", 1, "SECONDS", "longest wait for clamd at each step (taking the stream, answering after it), 1..600; below the sender's 30 s MSRP transaction timer, which runs while a file is scanned (default: 20)"},
	{"screen-fail", 1, "open|closed", "when clamd cannot scan (down, error, too large): closed refuses with a reason (MSRP 400 / SIP 503 \"Content Screening Unavailable\"), open delivers unscanned and logs it (default: closed)"},
	{"screen-allow-types", 1, "LIST", "screened users get only these MIME types, e.g. image/*,text/plain; others get 415 (default: empty = any)"},
	{"screen-deny-types", 1, "LIST", "screened users never get these MIME types (415); wins over --screen-allow-types (default: empty)"},
	{"xdms", 1, "URL", "the XCAP root of the XDM server the users' CPM preferences are read from (RFC 4825), http:// or https://, e.g. http://xdms.example.com:8080/xcap-root (docs/internals/xdm.md) (default: none: --user-pref and the operator's defaults only)"},
	{"xdms-auid", 1, "AUID", "the application usage the preferences document is stored under (default: org.cpmd.cpm-prefs)"},
	{"xdms-user", 1, "NAME", "user name cpmd gives the XDMS (HTTP basic or digest, as it asks) (default: none)"},
	{"xdms-password", 1, "SECRET", "password of --xdms-user (better in the --config file: a command line is visible to other local users)"},
	{"xdms-ca", 1, "FILE", "CA certificates (PEM) an https --xdms is verified with (default: the system's)"},
	{"xdms-refresh", 1, "SECONDS", "how old a user's cached preferences may get before cpmd asks the XDMS again (a conditional GET, when the user is next acted for or registers), 1..86400 (default: 300)"},
	{"push-gateway", 1, "URL", "push gateway (http:// or https://) that wakes sleeping devices: when an item waits for a user whose devices registered RFC 8599 push parameters (pn-provider, pn-prid, pn-param) and none is registered now, cpmd POSTs a JSON wake-up there (docs/internals/push.md) (default: none)"},
	{"push-retry", 1, "MIN:MAX", "back-off in seconds between attempts of a wake-up the gateway did not take (default: 5:300)"},
	{"mode", 1, "standalone|as", "standalone: cpmd is the registrar of its domains; as: an application server behind a SIP/IMS core (--core), availability from third-party REGISTER (default: standalone)"},
	{"core", 1, "SIP-URI", "AS mode: the core (S-CSCF) every request toward a user is sent to, e.g. sip:10.0.0.1:5064;transport=tcp"},
	{"core-trust", 1, "ADDR[,ADDR...]", "AS mode: source addresses (IP, IP:PORT, [IPv6]:PORT) of the core; requests from anywhere else get 403 (default: the --core address when it is an IP)"},
	{"reg-event", 1, "on|off", "AS mode: also SUBSCRIBE to each user's reg event package at the core (RFC 3680) (default: off)"},
	{"route", 1, "DOMAIN=HOST:PORT[;transport=tcp|tls]", "where requests for users of another home domain go (repeatable); a user of an unreachable domain gets the file stored here and retried; transport=tls: SIP over TLS to that PF (its certificate checked against --tls-ca) and msrps between the PFs, needs --sip-tls and --msrp-tls"},
	{"dns-routes", 1, "on|off", "other domains without a --route are found by DNS (NAPTR/SRV/A, RFC 3263) (default: off: such recipients get 404)"},
	{"resolv-conf", 1, "FILE", "DNS servers for --dns-routes, in resolv.conf syntax (sofia-sip also reads a \"port N\" line) (default: /etc/resolv.conf)"},
	{"users", 1, "FILE", "the subscriber list: one \"USER@DOMAIN SECRET\" a line, SECRET a password, md5:HA1 or sha256:HA1 (HA1 = H(user:domain:password)); reloaded on SIGHUP; standalone mode (docs/security.md)"},
	{"auth", 1, "on|off", "standalone: SIP digest authentication (MD5, SHA-256) of every REGISTER, INVITE and MESSAGE against --users (default: on when --users is given)"},
	{"auth-algorithms", 1, "LIST", "digest algorithms offered, in order of preference: SHA-256,MD5 (default), MD5,SHA-256 (for clients that take the first challenge and know only MD5, e.g. SIPp 3.6), or one of them"},
	{"admin", 1, "ADDR:PORT", "the operator's HTTP API (JSON) and Prometheus /metrics (docs/internals/admin.md); an address other than loopback needs --admin-token or --admin-tls-ca (default: off)"},
	{"admin-token", 1, "TOKEN", "bearer token every admin request must carry (Authorization: Bearer TOKEN); better in the --config file (default: none)"},
	{"admin-tls-cert", 1, "FILE", "HTTPS on the admin port: the certificate chain cpmd shows (PEM, its own certificate first), read at start; needs --admin-tls-key (default: none: plain HTTP)"},
	{"admin-tls-key", 1, "FILE", "private key of --admin-tls-cert (PEM, unencrypted)"},
	{"admin-tls-ca", 1, "FILE", "CA certificates (PEM) of the admin clients: every request must come over a connection whose client certificate chains to one, else 403; needs --admin-tls-cert; with --admin-token both are required (default: none)"},
	{"admin-console", 1, "DIR", "the operator console's files (index.html, app.js, style.css) served at / on the admin port (default: the source tree's web/console for a cpmd run from its build directory, else $prefix/share/cpmd/console)"},
	{"test-store-fail", 1, "N", "TESTING ONLY: the store fails its Nth write and all later ones with EIO"},
	{"log-level", 1, "LEVEL", "error, warn, info or debug; reloaded on SIGHUP (default: info)"},
	{"log-format", 1, "auto|text|journal", "text: \"TIME cpmd: LEVEL: ...\" lines; journal: no time of our own and sd-daemon level prefixes (<3> error .. <7> debug) for journald; auto: journal when JOURNAL_STREAM is set (systemd), else text (default: auto)"},
	{"config", 1, "FILE", "read settings from FILE (\"key = value\" lines, keys = option names, # comments); SIGHUP reads it again"},
	{"dump-config", 0, NULL, "print the effective configuration (defaults included) as a config file, one comment per key, and exit"},
	{"help", 0, NULL, "show this help and exit"},
	{"version", 0, NULL, "show the version and exit"},
};
#define NOPTS (sizeof optdefs / sizeof optdefs[0])

const struct cpmd_optdef *cpmd_optdefs(size_t *n)
{
	*n = NOPTS;
	return optdefs;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: cpmd [OPTIONS]\n"
		   "cpmd is an OMA CPM Participating Function for file transfer: a SIP registrar\n"
		   "and B2BUA that anchors MSRP file transfers (RFC 4975/5547) between users.\n\nOptions:\n");
	for (size_t i = 0; i < NOPTS; i++) {
		char left[64];
		snprintf(left, sizeof left, "--%s%s%s", optdefs[i].name, optdefs[i].arg ? " " : "",
			 optdefs[i].arg ? optdefs[i].arg : "");
		fprintf(f, "  %-30s %s\n", left, optdefs[i].help);
	}
	fprintf(f, "\nEvery option can also be given in the --config file as \"name = value\";\n"
		   "the command line wins over the file. In the file, '#' starts a comment at the\n"
		   "start of a line or after a blank:   invite-timeout = 30   # seconds\n"
		   "A '#' that belongs to a value needs the value in double quotes:\n"
		   "  data-dir = \"/srv/cpmd#2\"        (unquoted, a '#' with no blank before it is an error)\n"
		   "Logs go to stderr, one line per event: \"2026-12-03T07:11:54.123Z cpmd: info: ...\"\n"
		   "(UTC; control characters escaped as \\n, \\xNN...; sofia-sip's lines as \"sofia...: \").\n"
		   "SIGTERM/SIGINT stop cleanly; SIGHUP reads --config and --users again and applies what\n"
		   "can change without a restart (cpmd.conf(5) lists which; one log line per changed key).\n");
}

static int check_deployment(struct cpmd_options *o);

/* Why apply() refused a value, when it can say more than "invalid value". */
static char apply_why[400];

/* --domain D[,D2...]: comma-separated, blanks around each name ignored. Every
 * name must be a host name or an IP literal (common/domains.c): "bad domain!"
 * is refused, not split in two. The names are kept as spelled. */
static int set_domains(struct cpmd_options *o, const char *v)
{
	struct domain_set set = {.n = 0};
	int n = 0;

	for (const char *p = v;; p++) {
		size_t len = strcspn(p, ",");
		struct cpm_str name = cpm_str_trim((struct cpm_str){p, len});
		if (name.len == 0) {
			snprintf(apply_why, sizeof apply_why, "an empty name in the list");
			return -1;
		}
		if (domain_set_has(&set, name.p, name.len)) {
			snprintf(apply_why, sizeof apply_why, "\"%.*s\" is listed twice", (int)name.len, name.p);
			return -1;
		}
		int rc = domain_set_add(&set, name.p, name.len);
		if (rc == -2) {
			snprintf(apply_why, sizeof apply_why, "more than %d domains", CPMD_MAX_DOMAINS);
			return -1;
		}
		if (rc || name.len >= sizeof o->domains[0]) {
			snprintf(apply_why, sizeof apply_why,
				 "\"%.*s\" is not a domain name: dot-separated labels of letters, digits and '-', "
				 "or an IP address",
				 (int)(name.len > 300 ? 300 : name.len), name.p);
			return -1;
		}
		p += len;
		if (*p == '\0')
			break;
	}
	/* all valid: only now replace the previous list (the default, or the file's) */
	for (const char *p = v;; p++) {
		size_t len = strcspn(p, ",");
		struct cpm_str name = cpm_str_trim((struct cpm_str){p, len});
		memcpy(o->domains[n], name.p, name.len);
		o->domains[n][name.len] = '\0';
		n++;
		p += len;
		if (*p == '\0')
			break;
	}
	o->ndomains = n;
	return 0;
}

int cpmd_copy_str(char *dst, size_t cap, const char *v)
{
	if (strlen(v) >= cap)
		return -1;
	strcpy(dst, v);
	return 0;
}

/* MIN:MAX seconds, both strict decimals (cpm_parse_u64), 1 <= MIN <= MAX <= 1 day. */
int cpmd_parse_min_max(const char *v, unsigned *min, unsigned *max)
{
	char lo[24];
	const char *colon = strchr(v, ':');
	uint64_t a, b;
	if (!colon || (size_t)(colon - v) >= sizeof lo)
		return -1;
	memcpy(lo, v, (size_t)(colon - v));
	lo[colon - v] = '\0';
	if (cpm_parse_u64(lo, 86400, false, &a) || cpm_parse_u64(colon + 1, 86400, false, &b) || a < 1 || b < a)
		return -1;
	*min = (unsigned)a;
	*max = (unsigned)b;
	return 0;
}

/* The message store's options (issue 11). */
static int apply_mss(struct cpmd_options *o, const char *key, const char *v)
{
	uint64_t n;
	if (!strcmp(key, "mss")) {
		if (strncasecmp(v, "imap://", 7) && strncasecmp(v, "imaps://", 8)) {
			snprintf(apply_why, sizeof apply_why, "imap://HOST:PORT or imaps://HOST:PORT expected");
			return -1;
		}
		char host[256];
		uint16_t port;
		const char *hp = v + (v[4] == ':' ? 7 : 8);
		if (cpm_parse_hostport(hp, host, sizeof host, &port) && !domain_name_valid(hp, strlen(hp))) {
			snprintf(apply_why, sizeof apply_why, "\"%s\" is not HOST or HOST:PORT", hp);
			return -1;
		}
		return cpmd_copy_str(o->mss, sizeof o->mss, v);
	}
	if (!strcmp(key, "mss-master-user"))
		return *v && !strpbrk(v, " *\r\n") ? cpmd_copy_str(o->mss_master_user, sizeof o->mss_master_user, v) : -1;
	if (!strcmp(key, "mss-master-password"))
		return cpmd_copy_str(o->mss_master_password, sizeof o->mss_master_password, v);
	if (!strcmp(key, "mss-ca")) {
		if (!*v || access(v, R_OK)) {
			snprintf(apply_why, sizeof apply_why, "not a readable file");
			return -1;
		}
		return cpmd_copy_str(o->mss_ca, sizeof o->mss_ca, v);
	}
	if (!strcmp(key, "mss-retry"))
		return cpmd_parse_min_max(v, &o->mss_retry_min, &o->mss_retry_max);
	if (!strcmp(key, "mss-workers")) {
		if (cpm_parse_u64(v, 16, false, &n) || n < 1)
			return -1;
		o->mss_workers = (unsigned)n;
		return 0;
	}
	if (!strcmp(key, "history") && (!strcmp(v, "user") || !strcmp(v, "on") || !strcmp(v, "off")))
		return cpmd_copy_str(o->history, sizeof o->history, v);
	if (!strcmp(key, "mss-keep") && (!strcmp(v, "user") || !strcmp(v, "off")))
		return cpmd_copy_str(o->mss_keep, sizeof o->mss_keep, v);
	return -1;
}

/* Apply one setting; returns 0, -1 (bad value) or -2 (unknown key). */
static int apply(struct cpmd_options *o, const char *key, const char *v)
{
	uint64_t n;

	apply_why[0] = '\0';
	int rc = cpmd_apply_ops(o, key, v, apply_why, sizeof apply_why); /* options_ops.c */
	if (rc != -2)
		return rc;
	if (!strcmp(key, "domain"))
		return set_domains(o, v);
	if (!strcmp(key, "sip"))
		return cpm_parse_hostport(v, o->sip_host, sizeof o->sip_host, &o->sip_port);
	if (!strcmp(key, "msrp-tls"))
		return cpm_parse_hostport(v, o->msrp_tls_host, sizeof o->msrp_tls_host, &o->msrp_tls_port);
	if (!strcmp(key, "sip-tls"))
		return cpm_parse_hostport(v, o->sip_tls_host, sizeof o->sip_tls_host, &o->sip_tls_port);
	if (!strcmp(key, "tls-cert") || !strcmp(key, "tls-key") || !strcmp(key, "tls-ca")) {
		char *dst = !strcmp(key, "tls-cert") ? o->tls_cert : !strcmp(key, "tls-key") ? o->tls_key : o->tls_ca;
		if (!*v || access(v, R_OK)) {
			snprintf(apply_why, sizeof apply_why, "not a readable file");
			return -1;
		}
		return cpmd_copy_str(dst, 1024, v);
	}
	if (!strcmp(key, "tls-verify-clients")) {
		if (strcmp(v, "on") && strcmp(v, "off"))
			return -1;
		o->tls_verify_clients = !strcmp(v, "on");
		return 0;
	}
	if (!strcmp(key, "msrp"))
		return cpm_parse_hostport(v, o->msrp_host, sizeof o->msrp_host, &o->msrp_port);
	if (!strcmp(key, "msrp-advertise"))
		return cpmd_copy_str(o->msrp_advertise, sizeof o->msrp_advertise, v);
	if (!strcmp(key, "data-dir")) /* "" would put the data under "/" */
		return *v ? cpmd_copy_str(o->data_dir, sizeof o->data_dir, v) : -1;
	if (!strcmp(key, "defer")) {
		if (strcmp(v, "on") && strcmp(v, "off"))
			return -1;
		o->defer = !strcmp(v, "on");
		return 0;
	}
	if (!strcmp(key, "mode")) {
		if (strcmp(v, "standalone") && strcmp(v, "as"))
			return -1;
		o->as_mode = !strcmp(v, "as");
		return 0;
	}
	if (!strcmp(key, "core")) {
		/* sip:HOST[:PORT][;params] or sips:; sofia parses it again at start */
		char host[256];
		uint16_t port;
		const char *hp = !strncasecmp(v, "sip:", 4) ? v + 4 : !strncasecmp(v, "sips:", 5) ? v + 5 : NULL;
		char buf[300];
		size_t hl = hp ? strcspn(hp, ";") : 0;
		if (!hp || hl == 0 || hl >= sizeof buf || strchr(v, '@') || strchr(v, '>') || strchr(v, ' ')) {
			snprintf(apply_why, sizeof apply_why, "sip:HOST[:PORT][;transport=tcp|udp] expected");
			return -1;
		}
		memcpy(buf, hp, hl);
		buf[hl] = '\0';
		if (cpm_parse_hostport(buf, host, sizeof host, &port) && !domain_name_valid(buf, hl)) {
			snprintf(apply_why, sizeof apply_why, "\"%s\" is not HOST or HOST:PORT", buf);
			return -1;
		}
		return cpmd_copy_str(o->core, sizeof o->core, v);
	}
	if (!strcmp(key, "resolv-conf")) {
		if (!*v || access(v, R_OK)) {
			snprintf(apply_why, sizeof apply_why, "not a readable file");
			return -1;
		}
		return cpmd_copy_str(o->resolv_conf, sizeof o->resolv_conf, v);
	}
	if (!strcmp(key, "users")) {
		if (!*v || access(v, R_OK)) {
			snprintf(apply_why, sizeof apply_why, "not a readable file");
			return -1;
		}
		return cpmd_copy_str(o->users_file, sizeof o->users_file, v);
	}
	if (!strcmp(key, "auth-algorithms")) {
		char buf[64];
		int na = 0;
		if (cpmd_copy_str(buf, sizeof buf, v))
			return -1;
		for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			enum digest_alg a;
			if (!*t || digest_alg_parse(t, &a) || na == 2 || (na == 1 && o->auth_algs[0] == (int)a)) {
				snprintf(apply_why, sizeof apply_why, "SHA-256 and/or MD5, comma-separated, each once");
				return -1;
			}
			o->auth_algs[na++] = (int)a;
		}
		if (!na)
			return -1;
		o->auth_nalgs = na;
		return 0;
	}
	if (!strcmp(key, "auth")) {
		if (strcmp(v, "on") && strcmp(v, "off"))
			return -1;
		o->auth = !strcmp(v, "on");
		o->auth_set = true;
		return 0;
	}
	if (!strcmp(key, "core-trust"))
		return addr_match_add(&o->core_trust, v, apply_why, sizeof apply_why);
	if (!strcmp(key, "route"))
		return route_table_add(&o->routes, v, apply_why, sizeof apply_why);
	if (!strcmp(key, "reg-event") || !strcmp(key, "dns-routes")) {
		if (strcmp(v, "on") && strcmp(v, "off"))
			return -1;
		*(!strcmp(key, "reg-event") ? &o->reg_event : &o->routes.dns) = !strcmp(v, "on");
		return 0;
	}
	if (!strcmp(key, "mss") || !strcmp(key, "mss-master-user") || !strcmp(key, "mss-master-password") ||
	    !strcmp(key, "mss-ca") || !strcmp(key, "mss-retry") || !strcmp(key, "mss-workers") ||
	    !strcmp(key, "history") || !strcmp(key, "mss-keep"))
		return apply_mss(o, key, v);
	if (!strcmp(key, "push-asserted-identity")) {
		if (strcmp(v, "on") && strcmp(v, "off"))
			return -1;
		o->push_asserted_identity = !strcmp(v, "on");
		return 0;
	}
	if (!strcmp(key, "delivery-method")) {
		if (strcmp(v, "push") && strcmp(v, "pull"))
			return -1;
		return cpmd_copy_str(o->default_method, sizeof o->default_method, v);
	}
	if (!strcmp(key, "on-expiry")) {
		if (strcmp(v, "discard") && strcmp(v, "keep"))
			return -1;
		return cpmd_copy_str(o->default_on_expiry, sizeof o->default_on_expiry, v);
	}
	if (!strcmp(key, "delivery-retry"))
		return cpmd_parse_min_max(v, &o->delivery_retry_min, &o->delivery_retry_max);
	if (!strcmp(key, "xdms")) {
		/* checked for its scheme here; the XCAP client builds the URLs (xdm/xcap_client.h) */
		if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) {
			snprintf(apply_why, sizeof apply_why, "an http:// or https:// XCAP root expected");
			return -1;
		}
		return cpmd_copy_str(o->xdms, sizeof o->xdms, v);
	}
	if (!strcmp(key, "xdms-auid"))
		return *v && !strchr(v, '/') ? cpmd_copy_str(o->xdms_auid, sizeof o->xdms_auid, v) : -1;
	if (!strcmp(key, "xdms-user"))
		return cpmd_copy_str(o->xdms_user, sizeof o->xdms_user, v);
	if (!strcmp(key, "xdms-password"))
		return cpmd_copy_str(o->xdms_password, sizeof o->xdms_password, v);
	if (!strcmp(key, "xdms-ca")) {
		if (!*v || access(v, R_OK)) {
			snprintf(apply_why, sizeof apply_why, "not a readable file");
			return -1;
		}
		return cpmd_copy_str(o->xdms_ca, sizeof o->xdms_ca, v);
	}
	if (!strcmp(key, "user-pref")) {
		/* Checked for shape here; pf applies it (pf_prefs.c). */
		const char *colon = strrchr(v, ':'), *eq = strchr(v, '=');
		if (!colon || !eq || eq < colon || o->nuser_prefs == CPMD_MAX_USER_PREFS)
			return -1;
		return cpmd_copy_str(o->user_prefs[o->nuser_prefs++], sizeof o->user_prefs[0], v);
	}
	if (!strcmp(key, "max-file-size"))
		return cpm_parse_u64(v, UINT64_MAX >> 2, false, &o->max_file_size);
	if (!strcmp(key, "screening")) {
		if (strcmp(v, "user") && strcmp(v, "on") && strcmp(v, "off"))
			return -1;
		return cpmd_copy_str(o->screening, sizeof o->screening, v);
	}
	if (!strcmp(key, "clamd")) {
		char h[256];
		uint16_t port;
		if (!strncmp(v, "unix:", 5) ? v[5] != '/' : cpm_parse_hostport(v, h, sizeof h, &port)) {
			snprintf(apply_why, sizeof apply_why, "unix:/path/to/clamd.ctl or HOST:PORT expected");
			return -1;
		}
		return cpmd_copy_str(o->clamd, sizeof o->clamd, v);
	}
	if (!strcmp(key, "relay-tee")) {
		if (strcmp(v, "direct") && strcmp(v, "cached"))
			return -1;
		o->relay_tee_cached = !strcmp(v, "cached");
		return 0;
	}
	if (!strcmp(key, "screen-fail")) {
		if (strcmp(v, "open") && strcmp(v, "closed"))
			return -1;
		o->screen_fail_open = !strcmp(v, "open");
		return 0;
	}
	if (!strcmp(key, "screen-allow-types"))
		return cpmd_copy_str(o->screen_allow_types, sizeof o->screen_allow_types, v);
	if (!strcmp(key, "screen-deny-types"))
		return cpmd_copy_str(o->screen_deny_types, sizeof o->screen_deny_types, v);
	if (!strcmp(key, "max-transfers-per-user")) { /* 0 allowed: only --max-transfers */
		if (cpm_parse_u64(v, 1000000, false, &n))
			return -1;
		o->max_transfers_per_user = (unsigned)n;
		return 0;
	}
	if (!strcmp(key, "max-request-rate")) { /* 0 allowed: no limit */
		if (cpm_parse_u64(v, 1000000, false, &n))
			return -1;
		o->max_request_rate = (unsigned)n;
		return 0;
	}
	if (!strcmp(key, "quota-bytes"))
		return cpm_parse_u64(v, UINT64_MAX >> 2, false, &o->quota_bytes);
	if (!strcmp(key, "quota-items"))
		return cpm_parse_u64(v, UINT64_MAX >> 2, false, &o->quota_items);
	if (!strcmp(key, "max-message-size"))
		return cpm_parse_u64(v, UINT64_MAX >> 2, false, &o->max_message_size);
#define UINT_OPT(name, field, lo, hi)                                                                  \
	if (!strcmp(key, name)) {                                                                      \
		if (cpm_parse_u64(v, hi, false, &n) || n < lo)                                         \
			return -1;                                                                     \
		o->field = (unsigned)n;                                                                \
		return 0;                                                                              \
	}
	UINT_OPT("invite-timeout", invite_timeout, 1, 3600)
	/* below the sender's Timer F (32 s): the sender is answered after the fork (stored: 202) */
	UINT_OPT("message-timeout", message_timeout, 1, 30)
	UINT_OPT("max-pager-size", max_pager_size, 1, STORE_MSG_INLINE_MAX)
	UINT_OPT("max-devices", max_devices, 1, 1024)
	UINT_OPT("clamd-timeout", clamd_timeout, 1, 600)
	if (!strcmp(key, "max-users"))
		o->max_users_set = true; /* and parsed below */
	UINT_OPT("max-users", max_users, 1, 10000000)
	UINT_OPT("reg-min-expires", reg_min_expires, 1, 86400)
	UINT_OPT("reg-max-expires", reg_max_expires, 1, 7 * 86400)
	UINT_OPT("max-transfers", max_transfers, 1, 1000000)
	UINT_OPT("max-chat-size", max_chat_size, 1024, 262144) /* SESSION_RELAY_MAX_SIZE */
	UINT_OPT("max-sessions-per-user", max_sessions_per_user, 1, 100000)
	UINT_OPT("max-sessions", max_sessions, 1, 1000000)
	UINT_OPT("max-msrp-conns-per-addr", max_msrp_conns_per_addr, 1, 1000000)
	UINT_OPT("msrp-idle-timeout", msrp_idle_timeout, 1, 3600)
	UINT_OPT("workers", workers, 1, MSRP_MAX_WORKERS)
	UINT_OPT("sip-tcp-timeout", sip_tcp_timeout, 1, 3600)
	UINT_OPT("store-default-expiry", store_default_expiry, 1, 10 * 366 * 86400)
	UINT_OPT("store-max-expiry", store_max_expiry, 1, 10 * 366 * 86400)
	UINT_OPT("delivery-per-device", delivery_per_device, 1, 64)
	UINT_OPT("test-store-fail", test_store_fail, 1, 100000000)
	UINT_OPT("xdms-refresh", xdms_refresh, 1, 86400)
#undef UINT_OPT
	return -2; /* unknown key */
}

static int conf_cb(void *arg, const char *key, const char *value, int line)
{
	struct cpmd_options *o = arg;
	if (!strcmp(key, "config") || !strcmp(key, "help") || !strcmp(key, "version") || !strcmp(key, "dump-config")) {
		fprintf(stderr, "cpmd: %s:%d: \"%s\" is not allowed in a config file\n", o->config_file, line, key);
		return 1;
	}
	int rc = apply(o, key, value);
	if (rc == -2)
		fprintf(stderr, "cpmd: %s:%d: unknown setting \"%s\"\n", o->config_file, line, key);
	else if (rc)
		fprintf(stderr, "cpmd: %s:%d: invalid value for %s: \"%s\"%s%s\n", o->config_file, line, key, value,
			apply_why[0] ? ": " : "", apply_why);
	return rc ? 1 : 0;
}

static int load_config_file(struct cpmd_options *o)
{
	static char buf[CONF_MAX_BYTES + 1];
	int fd = open(o->config_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "cpmd: cannot open config file %s: %s\n", o->config_file, strerror(errno));
		return -1;
	}
	size_t len = 0;
	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof buf - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "cpmd: reading %s: %s\n", o->config_file, strerror(errno));
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len == sizeof buf) {
			fprintf(stderr, "cpmd: config file %s is larger than %d bytes\n", o->config_file,
				CONF_MAX_BYTES);
			close(fd);
			return -1;
		}
	}
	close(fd);
	struct conf_error err;
	int rc = conf_parse(buf, len, conf_cb, o, &err);
	if (rc < 0)
		fprintf(stderr, "cpmd: %s:%d: %s\n", o->config_file, err.line, err.what);
	return rc ? -1 : 0;
}

static void set_defaults(struct cpmd_options *o)
{
	memset(o, 0, sizeof *o);
	strcpy(o->domains[0], "localhost");
	o->ndomains = 1;
	strcpy(o->sip_host, "127.0.0.1");
	o->sip_port = 5060;
	strcpy(o->msrp_host, "127.0.0.1");
	o->msrp_port = 2855;
	strcpy(o->data_dir, "./cpmd-data");
	o->invite_timeout = 30;
	o->message_timeout = 8;
	o->max_pager_size = 16384;
	o->max_message_size = 16u * 1024 * 1024; /* a message, not a file: what cpm receive holds in memory */
	o->max_devices = 16;
	o->max_users = 100000;
	o->reg_min_expires = 10;
	o->reg_max_expires = 3600;
	o->max_transfers = 10000;
	o->max_chat_size = 65536;
	o->max_sessions_per_user = 16;
	o->max_sessions = 1000;
	o->max_transfers_per_user = 512;  /* above cpm blast --parallel 256 (bench), below --max-transfers */
	{
		/* one relay loop per core (issue 12); SIP, pf and the store share the main one */
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		o->workers = ncpu < 1 ? 1 : ncpu > MSRP_MAX_WORKERS ? MSRP_MAX_WORKERS : (unsigned)ncpu;
	}
	o->max_msrp_conns_per_addr = 1024; /* a quarter of the hub's 4096: a NAT or the bench, not all */
	o->msrp_idle_timeout = 30;        /* what the hub always allowed an unbound connection */
	o->sip_tcp_timeout = 30;          /* a real SIP message arrives whole in well under 1 s */
	strcpy(o->log_level, "info");
	strcpy(o->log_format, "auto"); /* main.c: journal under systemd (JOURNAL_STREAM) */
	o->defer = true;
	o->xdms_refresh = 300;
	o->store_default_expiry = 7 * 86400;
	o->store_max_expiry = 30 * 86400;
	o->delivery_per_device = 4;
	o->delivery_retry_min = 10;
	o->delivery_retry_max = 600;
	o->push_retry_min = 5;
	o->push_retry_max = 300;
	strcpy(o->default_method, "push");
	strcpy(o->default_on_expiry, "discard");
	o->mss_retry_min = 10;
	o->mss_retry_max = 600;
	o->mss_workers = 2;
	o->relay_tee_cached = true; /* --relay-tee: docs/internals/relay.md says why */
	strcpy(o->history, "user");
	strcpy(o->mss_keep, "user");
	strcpy(o->screening, "user");
	o->clamd_timeout = 20; /* the sender's last chunk waits for the scan: within its 30 s */
}

int cpmd_options_load(struct cpmd_options *o, int argc, char **argv)
{
	struct option longopts[NOPTS + 1];

	set_defaults(o);
	for (size_t i = 0; i < NOPTS; i++)
		longopts[i] = (struct option){optdefs[i].name, optdefs[i].has_arg, NULL, (int)(i + 1000)};
	memset(&longopts[NOPTS], 0, sizeof longopts[NOPTS]);

	/* First pass: --help, --version and --config, so the file is applied
	 * before the other flags whatever their order. */
	opterr = 0;
	optind = 0; /* GNU getopt: start over (a SIGHUP reload parses argv again) */
	for (int c; (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1;) {
		if (c == 'h' || (c >= 1000 && !strcmp(optdefs[c - 1000].name, "help"))) {
			usage(stdout);
			return 1;
		}
		if (c >= 1000 && !strcmp(optdefs[c - 1000].name, "version")) {
			printf("cpmd %s\n", cpm_version());
			return 1;
		}
		if (c >= 1000 && !strcmp(optdefs[c - 1000].name, "config") &&
		    cpmd_copy_str(o->config_file, sizeof o->config_file, optarg)) {
			fprintf(stderr, "cpmd: --config path too long\n");
			return -1;
		}
	}
	if (o->config_file[0] && load_config_file(o))
		return -1;

	optind = 1;
	opterr = 1;
	bool dump = false;
	for (int c; (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1;) {
		if (c < 1000) {
			fprintf(stderr, "Try 'cpmd --help'.\n");
			return -1;
		}
		const char *name = optdefs[c - 1000].name;
		if (!strcmp(name, "config"))
			continue;
		if (!strcmp(name, "dump-config")) {
			dump = true;
			continue;
		}
		if (apply(o, name, optarg)) {
			fprintf(stderr, "cpmd: invalid value for --%s: \"%s\"%s%s\n", name, optarg,
				apply_why[0] ? ": " : "", apply_why);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cpmd: unexpected argument \"%s\"\nTry 'cpmd --help'.\n", argv[optind]);
		return -1;
	}
	if (o->store_default_expiry > o->store_max_expiry) {
		fprintf(stderr, "cpmd: --store-default-expiry is larger than --store-max-expiry\n");
		return -1;
	}
	if (o->reg_min_expires > o->reg_max_expires) {
		fprintf(stderr, "cpmd: --reg-min-expires is larger than --reg-max-expires\n");
		return -1;
	}
	if ((o->sip_tls_port || o->msrp_tls_port) && (!o->tls_cert[0] || !o->tls_key[0])) {
		fprintf(stderr, "cpmd: --sip-tls and --msrp-tls need --tls-cert FILE and --tls-key FILE\n");
		return -1;
	}
	/* the CAs client certificates must chain to: never our own certificate by default, which
	 * would admit only a client holding our key */
	if (o->tls_verify_clients && (!o->tls_ca[0] || (!o->sip_tls_port && !o->msrp_tls_port))) {
		fprintf(stderr, "cpmd: --tls-verify-clients on needs --tls-ca FILE (the CAs that sign client "
				"certificates) and --sip-tls or --msrp-tls\n");
		return -1;
	}
	if (check_deployment(o) || cpmd_check_ops(o))
		return -1;
	if (dump) {
		cpmd_dump_config(o, stdout);
		return 1;
	}
	return 0;
}

int cpmd_option_apply(struct cpmd_options *o, const char *key, const char *value)
{
	return apply(o, key, value);
}

/* The options of a deployment that only make sense together. */
static int check_deployment(struct cpmd_options *o)
{
	if (o->mss[0] && !o->mss_master_user[0]) {
		fprintf(stderr, "cpmd: --mss needs --mss-master-user (and its --mss-master-password): cpmd writes to "
				"each user's mailbox as the server's master user\n");
		return -1;
	}
	if (!o->mss[0] && (o->mss_master_user[0] || o->mss_ca[0])) {
		fprintf(stderr, "cpmd: --mss-master-user and --mss-ca need --mss URL\n");
		return -1;
	}
	if (!o->auth_set)
		o->auth = o->users_file[0] && !o->as_mode;
	if (o->auth && (o->as_mode || !o->users_file[0])) {
		/* AS mode: the core authenticates its users (issue 9); we trust it, not devices */
		fprintf(stderr, "cpmd: --auth on needs --users FILE and --mode standalone\n");
		return -1;
	}
	if (!o->as_mode) {
		if (o->core[0] || o->core_trust.n || o->reg_event) {
			fprintf(stderr, "cpmd: --core, --core-trust and --reg-event need --mode as\n");
			return -1;
		}
	} else {
		/* behind a core the users are the core's (it authenticates them): the guard
		 * against a REGISTER flood of strangers sits there; ~1.4 KB a user here */
		if (!o->max_users_set)
			o->max_users = 1000000;
		if (!o->core[0]) {
			fprintf(stderr, "cpmd: --mode as needs --core SIP-URI (the S-CSCF that routes to and from cpmd)\n");
			return -1;
		}
		if (!o->core_trust.n) {
			/* default: the core's own address, when it is written as an IP */
			const char *hp = strchr(o->core, ':') + 1;
			char buf[300];
			size_t hl = strcspn(hp, ";");
			snprintf(buf, sizeof buf, "%.*s", (int)hl, hp);
			char why[200];
			char host[256];
			uint16_t port;
			const char *ip = cpm_parse_hostport(buf, host, sizeof host, &port) ? buf : host;
			if (addr_match_add(&o->core_trust, ip, why, sizeof why)) {
				fprintf(stderr, "cpmd: --core %s is not an IP address: give --core-trust ADDR[,ADDR...]\n",
					o->core);
				return -1;
			}
		}
	}
	for (unsigned i = 0; i < o->routes.n; i++) {
		if (cpmd_is_our_domain(o, o->routes.e[i].domain, strlen(o->routes.e[i].domain))) {
			fprintf(stderr, "cpmd: --route %s: that is one of our own domains (--domain)\n",
				o->routes.e[i].domain);
			return -1;
		}
		/* sofia opens a TLS connection only from a TLS transport of its own, and a TLS route
		 * whose files crossed in clear (no msrps without --msrp-tls) would be a false promise */
		if (o->routes.e[i].tls && (!o->sip_tls_port || !o->msrp_tls_port)) {
			fprintf(stderr, "cpmd: --route %s=...;transport=tls needs --sip-tls ADDR:PORT and --msrp-tls ADDR:PORT\n",
				o->routes.e[i].domain);
			return -1;
		}
	}
	return 0;
}

bool cpmd_is_our_domain(const struct cpmd_options *o, const char *host, size_t len)
{
	for (int i = 0; i < o->ndomains; i++)
		if (strlen(o->domains[i]) == len && strncasecmp(o->domains[i], host, len) == 0)
			return true;
	return false;
}
