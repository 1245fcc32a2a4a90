/* cpmd's options → the modules' configuration structs. */
#ifndef CPMD_CONFIG_MAP_H
#define CPMD_CONFIG_MAP_H

#include "cpmd/options.h"
#include "pf/pf_config.h"
#include "sipua/sipua.h"

void cpmd_pf_config(const struct cpmd_options *o, struct pf_config *c);
/* domains must outlive the sipua (it is pointed to). */
void cpmd_sipua_config(const struct cpmd_options *o, const struct domain_set *domains, struct sipua_config *c);
/* The operator console's directory: --admin-console, else the source tree's web/console when
 * this cpmd runs from its build directory (a developer sees their edits), else the installed
 * copy ($prefix/share/cpmd/console, CMake's install rule). */
const char *cpmd_console_dir(const struct cpmd_options *o);

#endif
