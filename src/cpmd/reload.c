/* The SIGHUP reload (docs/internals/cpmd.md "Reload"). The old and the new options are
 * compared key by key through their config text (config_dump.c), so every key of the option
 * table is covered without a second list of fields; the keys that may change are the ones
 * whose modules read them at each decision (pf_set_policy, the logger, the subscriber list).
 * The rest (listen addresses, TLS files, data directory, domains, routes, MSS, XDMS, clamd)
 * need a restart: changing them under live
 * sockets, threads or stored records is where a reload would break what is in flight. */
#include "cpmd/reload.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "cpmd/config_dump.h"

static const char *const reloadable[] = {
	/* policies */
	"max-file-size", "max-message-size", "max-pager-size", "defer", "store-default-expiry",
	"store-max-expiry", "delivery-method", "on-expiry", "delivery-per-device", "delivery-retry",
	"invite-timeout", "message-timeout", "push-asserted-identity", "history", "mss-keep", "screening",
	"screen-fail", "screen-allow-types", "screen-deny-types",
	/* limits */
	"quota-bytes", "quota-items", "max-transfers", "max-transfers-per-user", "max-sessions",
	"max-sessions-per-user", "max-chat-size",
	/* logging, users, their preferences (pf_prefs_reload) */
	"log-level", "log-format", "users", "user-pref",
};

bool cpmd_key_reloadable(const char *key)
{
	for (size_t i = 0; i < sizeof reloadable / sizeof reloadable[0]; i++)
		if (!strcmp(key, reloadable[i]))
			return true;
	return false;
}

/* a secret is never written to the log, changed or not */
static const char *shown(const char *key, const char *v)
{
	return strstr(key, "password") ? "(secret)" : v[0] ? v : "(not set)";
}

/* A repeatable key (user-pref) comes as one value per line and replaces the whole list. */
static int apply_key(struct cpmd_options *o, const char *key, char *v)
{
	if (strcmp(key, "user-pref"))
		return cpmd_option_apply(o, key, v);
	o->nuser_prefs = 0;
	for (char *save = NULL, *line = strtok_r(v, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (cpmd_option_apply(o, key, line))
			return -1;
	return 0;
}

int cpmd_reload(struct cpmd_options *cur, int argc, char **argv)
{
	/* big (user prefs, route tables): off the stack; one reload at a time (the loop's thread) */
	static struct cpmd_options next;
	static char a[64 * 330], b[64 * 330];
	size_t n;
	const struct cpmd_optdef *defs = cpmd_optdefs(&n);
	int applied = 0, restart = 0;

	if (cpmd_options_load(&next, argc, argv)) {
		log_error("reload: %s is not valid (the message above); the configuration in service stays",
			  cur->config_file);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *key = defs[i].name;
		if (cpmd_option_format(cur, key, a, sizeof a) || cpmd_option_format(&next, key, b, sizeof b) ||
		    !strcmp(a, b))
			continue;
		if (!cpmd_key_reloadable(key)) {
			log_warn("reload: %s needs a restart: keeps %s (new value %s)", key, shown(key, a), shown(key, b));
			restart++;
			continue;
		}
		if (apply_key(cur, key, b)) {
			log_warn("reload: %s = %s cannot be applied while running: keeps %s", key, shown(key, b),
				 shown(key, a));
			restart++;
			continue;
		}
		cpmd_option_format(&next, key, b, sizeof b); /* apply_key cut it into lines */
		for (char *nl = strchr(a, '\n'); nl; nl = strchr(nl, '\n'))
			*nl = ' ';
		for (char *nl = strchr(b, '\n'); nl; nl = strchr(nl, '\n'))
			*nl = ' ';
		log_info("reload: %s: %s -> %s", key, shown(key, a), shown(key, b));
		applied++;
	}
	log_info("reload done: %d key(s) applied, %d need a restart", applied, restart);
	return applied;
}
