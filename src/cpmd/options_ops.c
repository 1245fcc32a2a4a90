/* The operator's options (options_int.h): the admin port (issue 13), the push gateway, logging.
 * Apart from options.c so that each stays a file of one purpose under the 800-line rule; the
 * option table itself (names, help) stays the one list in options.c. */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "cpm/parse.h"
#include "cpmd/options_int.h"

int cpmd_apply_ops(struct cpmd_options *o, const char *key, const char *v, char *why, size_t whycap)
{
	if (!strncmp(key, "admin-tls-", 10)) {
		/* only named here: cpmd reads them when it opens the admin port (admin_tls.c), where a
		 * failure can say why (missing, unreadable, not PEM, key not matching the certificate) */
		char *dst = !strcmp(key + 10, "cert") ? o->admin_tls_cert : !strcmp(key + 10, "key") ? o->admin_tls_key
								       : !strcmp(key + 10, "ca")  ? o->admin_tls_ca
													  : NULL;
		if (!dst)
			return -2;
		if (!*v) {
			snprintf(why, whycap, "a file name expected");
			return -1;
		}
		return cpmd_copy_str(dst, sizeof o->admin_tls_cert, v);
	}
	if (!strcmp(key, "admin"))
		return cpm_parse_hostport(v, o->admin_host, sizeof o->admin_host, &o->admin_port);
	if (!strcmp(key, "admin-token"))
		return *v ? cpmd_copy_str(o->admin_token, sizeof o->admin_token, v) : -1;
	if (!strcmp(key, "admin-console"))
		return *v ? cpmd_copy_str(o->admin_console, sizeof o->admin_console, v) : -1;
	if (!strcmp(key, "push-retry"))
		return cpmd_parse_min_max(v, &o->push_retry_min, &o->push_retry_max);
	if (!strcmp(key, "push-gateway")) /* libcurl reads the rest of the URL when it posts */
		return !strncmp(v, "http://", 7) || !strncmp(v, "https://", 8)
			       ? cpmd_copy_str(o->push_gateway, sizeof o->push_gateway, v)
			       : -1;
	if (!strcmp(key, "log-level")) {
		enum log_level l;
		return !log_level_parse(v, &l) ? cpmd_copy_str(o->log_level, sizeof o->log_level, v) : -1;
	}
	if (!strcmp(key, "log-format"))
		return !strcmp(v, "auto") || !strcmp(v, "text") || !strcmp(v, "journal")
			       ? cpmd_copy_str(o->log_format, sizeof o->log_format, v)
			       : -1;
	return -2;
}

int cpmd_check_ops(const struct cpmd_options *o)
{
	if (!o->admin_tls_cert[0] != !o->admin_tls_key[0]) {
		fprintf(stderr, "cpmd: --admin-tls-cert FILE and --admin-tls-key FILE go together (HTTPS on the admin port)\n");
		return -1;
	}
	/* a client certificate is asked in the TLS handshake: there is none over plain HTTP */
	if (o->admin_tls_ca[0] && !o->admin_tls_cert[0]) {
		fprintf(stderr, "cpmd: --admin-tls-ca (client certificates) needs HTTPS on the admin port: "
				"--admin-tls-cert FILE and --admin-tls-key FILE\n");
		return -1;
	}
	return 0;
}
