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
	(void)why;
	(void)whycap;
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
