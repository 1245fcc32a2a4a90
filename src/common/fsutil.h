/* File-system helpers shared by both binaries (they do I/O, so they live
 * here and not in lib/). */
#ifndef CPMD_COMMON_FSUTIL_H
#define CPMD_COMMON_FSUTIL_H

#include <sys/types.h>

/* mkdir -p: make `path` a directory, creating every missing component.
 *
 * Each directory created gets `mode` (minus the umask); directories that
 * already exist are left as they are (mode, owner). Relative paths start at
 * the working directory; repeated and trailing slashes are harmless. A
 * symbolic link to a directory counts as a directory.
 *
 * Returns 0 when `path` is a directory afterwards, with errno unchanged.
 * Returns -1 with errno saying why otherwise:
 *   ENOENT        path is NULL or ""
 *   ENAMETOOLONG  path is PATH_MAX bytes or longer
 *   ENOTDIR       path, or one of its parents, exists and is not a directory
 *   anything mkdir(2) or stat(2) gives (EACCES, EROFS, ENOSPC, ...), from
 *   the first component that could not be made.
 * Components made before a failure are not removed. Not atomic: another
 * process creating the same directories at the same time is fine (EEXIST
 * is not an error), one removing them is not. */
int mkdir_p(const char *path, mode_t mode);

#endif
