/* From cpmd's options to the configuration structs of the modules (pf_config,
 * sipua_config): the only place that knows both. */
#include "cpmd/config_map.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpm/icsi.h"

static void domains_of(const struct cpmd_options *o, struct domain_set *d)
{
	memset(d, 0, sizeof *d);
	for (int i = 0; i < o->ndomains; i++)
		domain_set_add(d, o->domains[i], strlen(o->domains[i])); /* validated by the options parser */
}

/* "user", "on", "off" (checked by the options parser) */
static enum pf_switch switch_of(const char *v)
{
	return !strcmp(v, "on") ? PF_SWITCH_ON : !strcmp(v, "off") ? PF_SWITCH_OFF : PF_SWITCH_USER;
}

void cpmd_pf_config(const struct cpmd_options *o, struct pf_config *c)
{
	memset(c, 0, sizeof *c);
	domains_of(o, &c->domains);
	snprintf(c->msrp_advertise, sizeof c->msrp_advertise, "%s", o->msrp_advertise[0] ? o->msrp_advertise : o->msrp_host);
	c->msrp_port = o->msrp_port;
	c->max_transfers = o->max_transfers;
	c->max_transfers_per_user = o->max_transfers_per_user;
	c->max_devices = o->max_devices;
	c->invite_timeout = o->invite_timeout;
	c->message_timeout = o->message_timeout;
	c->max_pager_size = o->max_pager_size;
	c->max_file_size = o->max_file_size;
	c->max_message_size = o->max_message_size;
	c->defer = o->defer;
	c->store_default_expiry = o->store_default_expiry;
	c->store_max_expiry = o->store_max_expiry;
	c->delivery_per_device = o->delivery_per_device;
	c->delivery_retry_min = o->delivery_retry_min;
	c->delivery_retry_max = o->delivery_retry_max;
	c->default_method = !strcmp(o->default_method, "pull") ? STORE_METHOD_PULL : STORE_METHOD_PUSH;
	c->default_on_expiry = !strcmp(o->default_on_expiry, "keep") ? STORE_EXPIRY_KEEP : STORE_EXPIRY_DISCARD;
	for (unsigned i = 0; i < o->nuser_prefs && i < PF_MAX_USER_PREFS; i++)
		snprintf(c->user_prefs[i], sizeof c->user_prefs[i], "%s", o->user_prefs[i]);
	c->nuser_prefs = o->nuser_prefs < PF_MAX_USER_PREFS ? o->nuser_prefs : PF_MAX_USER_PREFS;
	c->push_asserted_identity = o->push_asserted_identity;
	snprintf(c->push_gateway, sizeof c->push_gateway, "%s", o->push_gateway);
	c->push_retry_min = o->push_retry_min;
	c->push_retry_max = o->push_retry_max;
	c->mss = o->mss[0] != '\0';
	snprintf(c->mss_url, sizeof c->mss_url, "%s", o->mss);
	snprintf(c->mss_master_user, sizeof c->mss_master_user, "%s", o->mss_master_user);
	snprintf(c->mss_master_password, sizeof c->mss_master_password, "%s", o->mss_master_password);
	snprintf(c->mss_ca, sizeof c->mss_ca, "%s", o->mss_ca);
	c->mss_retry_min = o->mss_retry_min;
	c->mss_retry_max = o->mss_retry_max;
	c->mss_workers = o->mss_workers;
	c->history = switch_of(o->history);
	c->keep = switch_of(o->mss_keep);
	c->screening = switch_of(o->screening);
	snprintf(c->clamd, sizeof c->clamd, "%s", o->clamd);
	c->clamd_timeout = o->clamd_timeout;
	c->screen_fail_open = o->screen_fail_open;
	snprintf(c->screen_allow_types, sizeof c->screen_allow_types, "%s", o->screen_allow_types);
	snprintf(c->screen_deny_types, sizeof c->screen_deny_types, "%s", o->screen_deny_types);
	snprintf(c->xdms, sizeof c->xdms, "%s", o->xdms);
	snprintf(c->xdms_auid, sizeof c->xdms_auid, "%s", o->xdms_auid);
	snprintf(c->xdms_user, sizeof c->xdms_user, "%s", o->xdms_user);
	snprintf(c->xdms_password, sizeof c->xdms_password, "%s", o->xdms_password);
	snprintf(c->xdms_ca, sizeof c->xdms_ca, "%s", o->xdms_ca);
	c->xdms_refresh = o->xdms_refresh;
	c->max_chat_size = o->max_chat_size;
	c->max_sessions_per_user = o->max_sessions_per_user;
	c->max_sessions = o->max_sessions;
	c->quota_bytes = o->quota_bytes;
	c->quota_items = o->quota_items;
	c->as_mode = o->as_mode;
	snprintf(c->core_uri, sizeof c->core_uri, "%s", o->core);
	c->routes = o->routes;
}

void cpmd_sipua_config(const struct cpmd_options *o, const struct domain_set *domains, struct sipua_config *c)
{
	memset(c, 0, sizeof *c);
	c->host = o->sip_host;
	c->port = o->sip_port;
	c->domains = domains;
	c->reg_min_expires = o->reg_min_expires;
	c->reg_max_expires = o->reg_max_expires;
	c->tcp_timeout = o->sip_tcp_timeout;
	c->max_request_rate = o->max_request_rate;
	/* Our Contact carries the CPM FT feature tag (nua's own dialog Contact drops
	 * NUTAG_M_FEATURES), so devices see what we are. */
	c->contact_params = CPM_FT_ICSI_TAG;
	c->user_agent = "cpmd/0.1";
	c->auth = o->auth;
	c->algs[0] = o->auth_algs[0];
	c->algs[1] = o->auth_algs[1];
	c->nalgs = o->auth_nalgs;
	c->as_mode = o->as_mode;
	c->core_uri = o->core[0] ? o->core : NULL;
	c->core_trust = o->core_trust;
	c->reg_event = o->reg_event;
	c->resolv_conf = o->resolv_conf[0] ? o->resolv_conf : NULL;
	c->tls_host = o->sip_tls_host;
	c->tls_port = o->sip_tls_port;
	c->tls_cert = o->tls_cert;
	c->tls_key = o->tls_key;
	c->tls_ca = o->tls_ca[0] ? o->tls_ca : NULL;
	c->tls_verify_clients = o->tls_verify_clients;
}

const char *cpmd_console_dir(const struct cpmd_options *o)
{
	if (o->admin_console[0])
		return o->admin_console;
	/* CPMD_BUILD_DIR, CPMD_CONSOLE_SRC_DIR, CPMD_CONSOLE_INSTALL_DIR: set by CMakeLists.txt.
	 * Compared by realpath: the build directory may be reached through a symlink. */
	char exe[PATH_MAX], build[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		if (realpath(CPMD_BUILD_DIR, build) && strcmp(exe, build) == 0)
			return CPMD_CONSOLE_SRC_DIR;
	}
	return CPMD_CONSOLE_INSTALL_DIR;
}
