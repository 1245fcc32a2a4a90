/* The effective configuration as text: one key's value(s) (the reload compares them) and the
 * whole of it as a config file (--dump-config). */
#ifndef CPMD_CONFIG_DUMP_H
#define CPMD_CONFIG_DUMP_H

#include <stddef.h>
#include <stdio.h>

#include "cpmd/options.h"

/* key's value as a config file would give it, into buf; a repeatable key (route, user-pref)
 * gives one value per line. "" = not set (dumped commented out). Returns 0, or -1 for a name
 * that is no config key (help, version, config, dump-config). */
int cpmd_option_format(const struct cpmd_options *o, const char *key, char *buf, size_t cap);

/* Every key, in --help order, each under a comment with its help text; a key not set is
 * written commented out ("# tls-cert ="). Read back with --config it gives the same dump. */
void cpmd_dump_config(const struct cpmd_options *o, FILE *f);

#endif
