/* The data directory as a whole (store.h: store_open_dir): one cpmd per directory (a lock
 * held for the life of the store), and an access check before SQLite and the blob code open
 * anything, so that a mistake is reported with the real path and errno (SQLite says only
 * "cannot open" for all of them). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "store/store_backend.h"

/* The pid written in the lock file by its holder, or 0. */
static long pid_in_file(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *end;
	long pid = strtol(buf, &end, 10);
	return pid > 0 && (*end == '\n' || *end == '\0') ? pid : 0;
}

int store_dir_lock(const char *dir, int *out)
{
	char path[1100];

	*out = -1;
	if (snprintf(path, sizeof path, "%s/%s", dir, STORE_LOCK_NAME) >= (int)sizeof path) {
		log_error("data directory path too long: %s", dir);
		return -1;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		log_error("cannot open the lock file %s of data directory %s: %s", path, dir, strerror(errno));
		return -1;
	}
	/* A POSIX record lock: released by the kernel when we exit, however we
	 * exit, so a crashed cpmd never leaves a stale lock behind. Nothing else
	 * in cpmd opens this file (closing any descriptor of it would drop the
	 * lock). */
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		int e = errno;
		if (e == EAGAIN || e == EACCES) {
			struct flock who = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
			long pid = 0;
			if (fcntl(fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK && who.l_pid > 0)
				pid = (long)who.l_pid;
			else
				pid = pid_in_file(fd);
			if (pid)
				log_error("data directory %s is in use by another cpmd (pid %ld); "
					  "one cpmd per --data-dir", dir, pid);
			else
				log_error("data directory %s is in use by another cpmd (%s is locked); "
					  "one cpmd per --data-dir", dir, path);
		} else {
			log_error("cannot lock %s: %s", path, strerror(e));
		}
		close(fd);
		return -1;
	}
	char pid[32];
	int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)n, 0) != n)
		log_warn("cannot write our pid into %s: %s", path, strerror(errno));
	*out = fd;
	return 0;
}

static int check_access(const char *path, int mode, const char *what)
{
	if (faccessat(AT_FDCWD, path, mode, AT_EACCESS) == 0)
		return 0;
	log_error("%s %s is not %s: %s", what, path, (mode & W_OK) ? "writable by this user" : "accessible",
		  strerror(errno));
	return -1;
}

int store_dir_check(const char *dir)
{
	static const char *const subdirs[] = {"", "/blobs", "/blobs/tmp"};
	static const char *const files[] = {"/cpmd.db", "/cpmd.db-wal", "/cpmd.db-shm"};
	char path[1100];

	for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
		snprintf(path, sizeof path, "%s%s", dir, subdirs[i]);
		if (check_access(path, W_OK | X_OK, "data directory"))
			return -1;
	}
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s%s", dir, files[i]);
		if (access(path, F_OK) && errno == ENOENT)
			continue;
		if (check_access(path, R_OK | W_OK, "store file"))
			return -1;
	}
	return 0;
}
