/* Crash-safe blob files; see blob.h for the rules. */
#include "store/blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* renameat */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

struct blob_dir {
	int dfd; /* DATA_DIR/blobs */
	int tfd; /* DATA_DIR/blobs/tmp */
	int mfd; /* DATA_DIR/mss */
};

static int open_subdir(int at, const char *name, int *out)
{
	int fd;

	if (mkdirat(at, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*out = fd;
	return 0;
}

int blob_dir_open(struct blob_dir **out, const char *data_dir)
{
	struct blob_dir *bd;
	int top, err;

	if (!data_dir || !*data_dir)
		return -EINVAL;
	bd = calloc(1, sizeof *bd);
	if (!bd)
		return -ENOMEM;
	bd->dfd = bd->tfd = bd->mfd = -1;
	top = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top < 0) {
		err = -errno;
		goto fail;
	}
	err = open_subdir(top, "blobs", &bd->dfd);
	if (!err)
		err = open_subdir(bd->dfd, "tmp", &bd->tfd);
	if (!err)
		err = open_subdir(top, "mss", &bd->mfd);
	/* Make the directories themselves durable (first start). */
	if (!err && (fsync(bd->dfd) < 0 || fsync(top) < 0))
		err = -errno;
	close(top);
	if (err)
		goto fail;
	*out = bd;
	return 0;
fail:
	blob_dir_close(bd);
	return err;
}

void blob_dir_close(struct blob_dir *bd)
{
	if (!bd)
		return;
	if (bd->dfd >= 0)
		close(bd->dfd);
	if (bd->tfd >= 0)
		close(bd->tfd);
	if (bd->mfd >= 0)
		close(bd->mfd);
	free(bd);
}

int blob_partial_open_rw(struct blob_dir *bd, const char *id, bool fresh, int *fd, uint64_t *size)
{
	struct stat st;
	int f, flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW;

	if (!store_id_valid(id))
		return -EINVAL;
	if (fresh)
		flags |= O_CREAT | O_TRUNC;
	f = openat(bd->tfd, id, flags, 0600);
	if (f < 0)
		return -errno;
	if (fstat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(f);
		return -EINVAL;
	}
	*fd = f;
	*size = (uint64_t)st.st_size;
	return 0;
}

int blob_partial_truncate(int fd, uint64_t size)
{
	return ftruncate(fd, (off_t)size) < 0 ? -errno : 0;
}

int blob_append(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int blob_partial_sync(int fd)
{
	return fdatasync(fd) < 0 ? -errno : 0;
}

int blob_commit(struct blob_dir *bd, const char *id, int fd)
{
	if (!store_id_valid(id))
		return -EINVAL;
	/* Data and size first: a renamed file must never be shorter than what we acknowledge. */
	if (fsync(fd) < 0)
		return -errno;
	if (renameat(bd->tfd, id, bd->dfd, id) < 0)
		return -errno;
	/* The rename is durable only once the directory that gained the entry is on disk. */
	if (fsync(bd->dfd) < 0 || fsync(bd->tfd) < 0)
		return -errno;
	return 0;
}

int blob_open_read(struct blob_dir *bd, const char *id, uint64_t offset, int *fd, uint64_t *size)
{
	struct stat st;
	int f, err;

	if (!store_id_valid(id))
		return -EINVAL;
	f = openat(bd->dfd, id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (f < 0)
		return -errno;
	if (fstat(f, &st) < 0) {
		err = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || offset > (uint64_t)st.st_size) {
		err = -EINVAL;
		goto fail;
	}
	if (lseek(f, (off_t)offset, SEEK_SET) < 0) {
		err = -errno;
		goto fail;
	}
	*fd = f;
	*size = (uint64_t)st.st_size;
	return 0;
fail:
	close(f);
	return err;
}

int blob_remove(struct blob_dir *bd, const char *id, bool partial)
{
	if (!store_id_valid(id))
		return -EINVAL;
	return unlinkat(partial ? bd->tfd : bd->dfd, id, 0) < 0 ? -errno : 0;
}

int blob_move_to_mss(struct blob_dir *bd, const char *id)
{
	if (!store_id_valid(id))
		return -EINVAL;
	if (renameat(bd->dfd, id, bd->mfd, id) < 0)
		return -errno;
	/* The entry must not come back in blobs/ after a crash (reconcile would remove it there). */
	if (fsync(bd->mfd) < 0 || fsync(bd->dfd) < 0)
		return -errno;
	return 0;
}

int blob_link(struct blob_dir *bd, const char *from, const char *to)
{
	if (!store_id_valid(from) || !store_id_valid(to))
		return -EINVAL;
	if (linkat(bd->dfd, from, bd->dfd, to, 0) < 0)
		return -errno;
	/* the new name must survive a crash as long as the item that claims it */
	if (fsync(bd->dfd) < 0)
		return -errno;
	return 0;
}

int blob_write_mss(struct blob_dir *bd, const char *id, const void *data, size_t len)
{
	int fd, err;

	if (!store_id_valid(id))
		return -EINVAL;
	fd = openat(bd->tfd, id, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	err = blob_append(fd, data, len);
	if (!err && fsync(fd) < 0)
		err = -errno;
	close(fd);
	if (!err && renameat(bd->tfd, id, bd->mfd, id) < 0)
		err = -errno;
	if (err) {
		unlinkat(bd->tfd, id, 0);
		return err;
	}
	/* As blob_move_to_mss: the entry is durable in mss/ and gone from tmp/. */
	if (fsync(bd->mfd) < 0 || fsync(bd->tfd) < 0)
		return -errno;
	return 0;
}

int blob_exists(struct blob_dir *bd, const char *id, bool partial)
{
	struct stat st;

	if (!store_id_valid(id))
		return -EINVAL;
	if (fstatat(partial ? bd->tfd : bd->dfd, id, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return S_ISREG(st.st_mode) ? 0 : -ENOENT;
}

int blob_scan(struct blob_dir *bd, bool partial, blob_scan_cb *cb, void *arg)
{
	int fd = dup(partial ? bd->tfd : bd->dfd);
	struct dirent *de;
	DIR *d;
	int err = 0;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		err = -errno;
		close(fd);
		return err;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/* tmp/ lives inside blobs/: skip directories (and anything not a plain file). */
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
				continue;
		}
		if (cb(arg, de->d_name, store_id_valid(de->d_name)))
			break;
	}
	closedir(d);
	return err;
}
