/* --dump-config: the options struct back to "key = value" text. The keys and their comments
 * come from the one option table (options.c); the value of each key is formatted here, in
 * the syntax its parser (options.c apply) reads, so a dump read back gives the same struct
 * (tests/e2e/t_config_dump.sh checks the round trip). */
#include "cpmd/config_dump.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>

#include "common/digest.h"
#include "common/version.h"
#include "cpmd/reload.h"

static int put(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int put(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* appends "text\n"-separated values (repeatable keys) */
static void add_line(char *buf, size_t cap, const char *v)
{
	size_t len = strlen(buf);
	snprintf(buf + len, cap - len, "%s%s", len ? "\n" : "", v);
}

static const char *onoff(bool b)
{
	return b ? "on" : "off";
}

static void hostport(char *buf, size_t cap, const char *host, unsigned port)
{
	/* an IPv6 literal in brackets, as cpm_parse_hostport reads it */
	put(buf, cap, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
}

static void core_trust(const struct addr_match_list *l, char *buf, size_t cap)
{
	for (unsigned i = 0; i < l->n; i++) {
		char ip[INET6_ADDRSTRLEN], one[80];
		inet_ntop(l->a[i].family, l->a[i].addr, ip, sizeof ip);
		if (!l->a[i].port)
			put(one, sizeof one, "%s", ip);
		else
			put(one, sizeof one, l->a[i].family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, l->a[i].port);
		size_t len = strlen(buf);
		snprintf(buf + len, cap - len, "%s%s", len ? "," : "", one);
	}
}

static int format_str(const struct cpmd_options *o, const char *key, char *buf, size_t cap)
{
	static const struct {
		const char *key;
		size_t off;
	} strs[] = {
#define S(k, f) {k, offsetof(struct cpmd_options, f)}
		S("tls-cert", tls_cert), S("tls-key", tls_key), S("tls-ca", tls_ca),
		S("msrp-advertise", msrp_advertise), S("data-dir", data_dir), S("log-level", log_level),
		S("log-format", log_format), S("delivery-method", default_method),
		S("on-expiry", default_on_expiry), S("mss", mss), S("mss-master-user", mss_master_user),
		S("mss-master-password", mss_master_password), S("mss-ca", mss_ca), S("history", history),
		S("mss-keep", mss_keep), S("screening", screening), S("clamd", clamd),
		S("screen-allow-types", screen_allow_types), S("screen-deny-types", screen_deny_types),
		S("xdms", xdms), S("xdms-auid", xdms_auid), S("xdms-user", xdms_user),
		S("xdms-password", xdms_password), S("xdms-ca", xdms_ca), S("core", core),
		S("resolv-conf", resolv_conf), S("users", users_file), S("push-gateway", push_gateway),
		S("admin-token", admin_token), S("admin-tls-cert", admin_tls_cert), S("admin-tls-key", admin_tls_key),
		S("admin-tls-ca", admin_tls_ca), S("admin-console", admin_console),
#undef S
	};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		if (!strcmp(key, strs[i].key))
			return put(buf, cap, "%s", (const char *)o + strs[i].off);
	return -2;
}

static int format_num(const struct cpmd_options *o, const char *key, char *buf, size_t cap)
{
	static const struct {
		const char *key;
		size_t off;
		bool u64;
	} nums[] = {
#define U(k, f) {k, offsetof(struct cpmd_options, f), false}
#define L(k, f) {k, offsetof(struct cpmd_options, f), true}
		L("max-file-size", max_file_size), L("max-message-size", max_message_size),
		L("quota-bytes", quota_bytes), L("quota-items", quota_items),
		U("invite-timeout", invite_timeout), U("message-timeout", message_timeout),
		U("max-pager-size", max_pager_size), U("max-devices", max_devices), U("max-users", max_users),
		U("reg-min-expires", reg_min_expires), U("reg-max-expires", reg_max_expires),
		U("max-transfers", max_transfers), U("max-chat-size", max_chat_size),
		U("max-sessions-per-user", max_sessions_per_user), U("max-sessions", max_sessions),
		U("max-transfers-per-user", max_transfers_per_user), U("max-request-rate", max_request_rate),
		U("max-msrp-conns-per-addr", max_msrp_conns_per_addr), U("msrp-idle-timeout", msrp_idle_timeout),
		U("sip-tcp-timeout", sip_tcp_timeout), U("store-default-expiry", store_default_expiry),
		U("store-max-expiry", store_max_expiry), U("delivery-per-device", delivery_per_device),
		U("mss-workers", mss_workers), U("clamd-timeout", clamd_timeout), U("xdms-refresh", xdms_refresh),
		U("workers", workers),
		U("test-store-fail", test_store_fail),
#undef U
#undef L
	};
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
		if (strcmp(key, nums[i].key))
			continue;
		const char *p = (const char *)o + nums[i].off;
		unsigned long long v = nums[i].u64 ? *(const uint64_t *)(const void *)p : *(const unsigned *)(const void *)p;
		/* test-store-fail 0 is "off", which only the absence of the key says */
		if (!v && !strcmp(key, "test-store-fail"))
			return put(buf, cap, "%s", "");
		return put(buf, cap, "%llu", v);
	}
	return -2;
}

int cpmd_option_format(const struct cpmd_options *o, const char *key, char *buf, size_t cap)
{
	if (!cap)
		return -1;
	buf[0] = '\0';
	int rc = format_str(o, key, buf, cap);
	if (rc != -2)
		return rc;
	if ((rc = format_num(o, key, buf, cap)) != -2)
		return rc;
	if (!strcmp(key, "domain")) {
		for (int i = 0; i < o->ndomains; i++) {
			size_t len = strlen(buf);
			snprintf(buf + len, cap - len, "%s%s", i ? "," : "", o->domains[i]);
		}
		return 0;
	}
	if (!strcmp(key, "sip") || !strcmp(key, "msrp")) {
		bool sip = key[0] == 's';
		hostport(buf, cap, sip ? o->sip_host : o->msrp_host, sip ? o->sip_port : o->msrp_port);
		return 0;
	}
	if (!strcmp(key, "admin")) {
		if (o->admin_port) /* port 0: off, the key absent */
			hostport(buf, cap, o->admin_host, o->admin_port);
		return 0;
	}
	if (!strcmp(key, "sip-tls") || !strcmp(key, "msrp-tls")) {
		bool sip = key[0] == 's';
		if (sip ? o->sip_tls_port : o->msrp_tls_port) /* port 0: off, the key absent */
			hostport(buf, cap, sip ? o->sip_tls_host : o->msrp_tls_host,
				 sip ? o->sip_tls_port : o->msrp_tls_port);
		return 0;
	}
	static const struct {
		const char *key;
		size_t off;
	} bools[] = {
#define B(k, f) {k, offsetof(struct cpmd_options, f)}
		B("tls-verify-clients", tls_verify_clients), B("defer", defer),
		B("push-asserted-identity", push_asserted_identity), B("reg-event", reg_event),
		B("dns-routes", routes.dns), B("auth", auth),
#undef B
	};
	for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++)
		if (!strcmp(key, bools[i].key))
			return put(buf, cap, "%s", onoff(*(const bool *)(const void *)((const char *)o + bools[i].off)));
	if (!strcmp(key, "relay-tee"))
		return put(buf, cap, "%s", o->relay_tee_cached ? "cached" : "direct");
	if (!strcmp(key, "screen-fail"))
		return put(buf, cap, "%s", o->screen_fail_open ? "open" : "closed");
	if (!strcmp(key, "mode"))
		return put(buf, cap, "%s", o->as_mode ? "as" : "standalone");
	if (!strcmp(key, "mss-retry"))
		return put(buf, cap, "%u:%u", o->mss_retry_min, o->mss_retry_max);
	if (!strcmp(key, "push-retry"))
		return put(buf, cap, "%u:%u", o->push_retry_min, o->push_retry_max);
	if (!strcmp(key, "delivery-retry"))
		return put(buf, cap, "%u:%u", o->delivery_retry_min, o->delivery_retry_max);
	if (!strcmp(key, "auth-algorithms")) {
		if (!o->auth_nalgs) /* sipua's default order */
			return put(buf, cap, "SHA-256,MD5");
		return put(buf, cap, "%s%s%s", digest_alg_name((enum digest_alg)o->auth_algs[0]),
			   o->auth_nalgs > 1 ? "," : "",
			   o->auth_nalgs > 1 ? digest_alg_name((enum digest_alg)o->auth_algs[1]) : "");
	}
	if (!strcmp(key, "core-trust")) {
		core_trust(&o->core_trust, buf, cap);
		return 0;
	}
	if (!strcmp(key, "route")) {
		for (unsigned i = 0; i < o->routes.n; i++) {
			char one[DOMAIN_NAME_MAX + ROUTE_URI_MAX + 2];
			const char *uri = o->routes.e[i].uri;
			put(one, sizeof one, "%s=%s", o->routes.e[i].domain, strncmp(uri, "sip:", 4) ? uri : uri + 4);
			add_line(buf, cap, one);
		}
		return 0;
	}
	if (!strcmp(key, "user-pref")) {
		for (unsigned i = 0; i < o->nuser_prefs; i++)
			add_line(buf, cap, o->user_prefs[i]);
		return 0;
	}
	return -1;
}

/* A value the config parser would read differently unquoted: a '#', outer blanks, a quote. */
static bool needs_quotes(const char *v)
{
	size_t n = strlen(v);
	return strchr(v, '#') || (n && (v[0] == ' ' || v[0] == '\t' || v[0] == '"' || v[n - 1] == ' ' || v[n - 1] == '\t'));
}

void cpmd_dump_config(const struct cpmd_options *o, FILE *f)
{
	size_t n;
	const struct cpmd_optdef *defs = cpmd_optdefs(&n);
	static char val[CPMD_MAX_USER_PREFS * 330];

	fprintf(f, "# cpmd %s: effective configuration (cpmd --dump-config)\n"
		   "# \"key = value\" lines, the option names of cpmd(8) (cpmd.conf(5)). [SIGHUP: reloaded]:\n"
		   "# a reload applies a change; [SIGHUP: needs a restart]: a reload logs it and keeps the old\n"
		   "# value. A commented-out key is not set.\n",
		cpm_version());
	for (size_t i = 0; i < n; i++) {
		if (cpmd_option_format(o, defs[i].name, val, sizeof val))
			continue; /* help, version, config, dump-config: command line only */
		fprintf(f, "\n# %s%s%s [SIGHUP: %s]\n", defs[i].arg ? defs[i].arg : "", defs[i].arg ? ": " : "",
			defs[i].help, cpmd_key_reloadable(defs[i].name) ? "reloaded" : "needs a restart");
		if (!val[0]) {
			fprintf(f, "# %s =\n", defs[i].name);
			continue;
		}
		for (char *save = NULL, *line = strtok_r(val, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			fprintf(f, needs_quotes(line) ? "%s = \"%s\"\n" : "%s = %s\n", defs[i].name, line);
	}
}
