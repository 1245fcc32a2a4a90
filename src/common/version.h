/* The one version number of cpmd and cpm (`cpmd --version`, `cpm --version`). */
#ifndef CPM_COMMON_VERSION_H
#define CPM_COMMON_VERSION_H

#define CPM_VERSION "0.1.0"

#endif
