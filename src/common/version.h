/* The one version of cpmd and cpm (`cpmd --version`, `cpm --version`): the number is
 * CMakeLists.txt's project(VERSION), the git part `git describe` of the tree it was built
 * from (cmake/version.cmake writes cpm_version_gen.h at every build). */
#ifndef CPM_COMMON_VERSION_H
#define CPM_COMMON_VERSION_H

#include "cpm_version_gen.h"

/* "0.1.0", or "0.1.0 (git e959668-dirty)" when built from a git checkout */
static inline const char *cpm_version(void)
{
	return CPM_GIT_DESCRIBE[0] ? CPM_VERSION " (git " CPM_GIT_DESCRIBE ")" : CPM_VERSION;
}

#endif
