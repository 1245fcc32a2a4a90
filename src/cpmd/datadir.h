/* cpmd's data directory (--data-dir): created, locked for the life of the
 * process (one cpmd per directory), and checked for access before the store
 * opens it, so that a mistake is reported with the real path and errno. */
#ifndef CPMD_DATADIR_H
#define CPMD_DATADIR_H

#define DATADIR_LOCK_NAME "cpmd.lock"

/* mkdir -p (mode 0700 for what it creates). 0, or -1 with errno set. */
int datadir_mkdir_p(const char *path);

/* Creates DIR if needed, then takes an exclusive lock on DIR/cpmd.lock (a
 * POSIX record lock, held until the process exits or closes *fd) and writes
 * our pid into it. Returns 0 with *fd set; otherwise logs the reason — the
 * directory is used by another cpmd (with its pid), or the real errno and
 * path — and returns -1. */
int datadir_lock(const char *dir, int *fd);

/* DIR, DIR/blobs and DIR/blobs/tmp are writable directories, and the
 * database files that exist (cpmd.db, -wal, -shm) are readable and
 * writable by us. Logs the first problem (path and errno) and returns -1. */
int datadir_check(const char *dir);

#endif
