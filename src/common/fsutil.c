/* File-system helpers (see fsutil.h). */
#include "common/fsutil.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	int saved = errno;
	struct stat st;
	size_t n;

	if (!path || !path[0]) {
		errno = ENOENT;
		return -1;
	}
	n = strlen(path);
	if (n >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	/* each parent: "a", "a/b", ... (a leading '/' and repeated ones skipped) */
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/' || p[-1] == '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0) {
		if (errno != EEXIST || stat(buf, &st) < 0)
			return -1;
		if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			return -1;
		}
	}
	errno = saved;
	return 0;
}
