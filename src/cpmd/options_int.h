/* Shared by the files that parse cpmd's options (options.c, options_ops.c); not for the rest
 * of cpmd, which reads the filled struct cpmd_options (options.h). */
#ifndef CPMD_OPTIONS_INT_H
#define CPMD_OPTIONS_INT_H

#include <stddef.h>

#include "cpmd/options.h"

/* v into dst of cap bytes: 0, or -1 when it does not fit (the value is refused, never cut). */
int cpmd_copy_str(char *dst, size_t cap, const char *v);
/* MIN:MAX seconds, 1 <= MIN <= MAX <= 1 day: 0 or -1. */
int cpmd_parse_min_max(const char *v, unsigned *min, unsigned *max);

/* The operator's options (options_ops.c): the admin port, the push gateway, logging. Like
 * options.c's apply: 0, -1 (bad value; why says more when it can) or -2 (not one of them). */
int cpmd_apply_ops(struct cpmd_options *o, const char *key, const char *v, char *why, size_t whycap);
/* The operator's options that only make sense together: 0, or -1 with a message on stderr. */
int cpmd_check_ops(const struct cpmd_options *o);

#endif
