/* SIGHUP: read the configuration again and apply what may change without a restart. */
#ifndef CPMD_RELOAD_H
#define CPMD_RELOAD_H

#include <stdbool.h>

#include "cpmd/options.h"

/* Loads the options again as at start (defaults, the --config file, the command line, which
 * still wins) and copies into *cur every key that changed and may change while running;
 * logs one line per changed key, and one per changed key that needs a restart (that key keeps
 * its old value). A file that no longer parses changes nothing (the error is logged).
 * Returns the number of keys applied, or -1. */
int cpmd_reload(struct cpmd_options *cur, int argc, char **argv);

/* Is this key applied by a reload (cpmd.conf(5) marks these)? */
bool cpmd_key_reloadable(const char *key);

#endif
