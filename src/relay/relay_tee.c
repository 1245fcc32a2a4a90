/* The tee of a relayed file: the contiguous prefix of the file goes to the
 * blob file and through sha-1. Bytes that a sender re-sends (a range that
 * overlaps what we have) are relayed but not written or hashed twice.
 *
 * The blob is a file descriptor the store opened (pf hands it over with the
 * relay's parameters): the relay never names a path. This is the inline tee,
 * on the event loop: plain pwrite() (page cache) and sha-1 for files under
 * 256 KiB and for source mode's check; a bigger file goes through the tee
 * worker thread (relay_tee_worker.c), which keeps contig and the digest here
 * up to date for the rest of the relay. Durability (fsync, rename, directory
 * fsync) belongs to the store's blob thread; see docs/internals/relay.md. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "relay/ft_relay_priv.h"

#define TEE_WRITEBACK (8u << 20)

int tee_open(struct relay_tee *t, int fd)
{
	memset(t, 0, sizeof *t);
	t->fd = -1;
	t->md = EVP_MD_CTX_new();
	if (!t->md || EVP_DigestInit_ex(t->md, EVP_sha1(), NULL) != 1) {
		EVP_MD_CTX_free(t->md);
		t->md = NULL;
		return -ENOMEM; /* fd not taken */
	}
	t->fd = fd;
	return 0;
}

int tee_resume(struct relay_tee *t, uint64_t base, bool *short_prefix)
{
	struct stat st;

	*short_prefix = false;
	/* the whole file is hashed off the loop (relay_tee_worker.c) */
	t->no_hash = true;
	EVP_MD_CTX_free(t->md);
	t->md = NULL;
	if (t->fd < 0)
		return -EBADF;
	if (fstat(t->fd, &st))
		return -errno;
	t->contig = base;
	t->wb_from = base;
	if ((uint64_t)st.st_size < base) {
		/* Extending it would hash zeros instead of the lost bytes. */
		*short_prefix = true;
		return 0;
	}
	/* Anything beyond base is a tail the earlier attempt did not count. */
	if ((uint64_t)st.st_size > base && ftruncate(t->fd, (off_t)base))
		return -errno;
	return 0;
}

static int write_all(int fd, const char *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

int tee_feed(struct relay_tee *t, uint64_t off, const char *p, size_t n)
{
	uint64_t skip;
	int rc;

	if (off > t->contig || t->final)
		return -EINVAL;
	skip = t->contig - off; /* already have these */
	if (skip >= n)
		return 0;
	p += skip;
	n -= (size_t)skip;
	if (t->fd >= 0) {
		rc = write_all(t->fd, p, n, t->contig);
		if (rc) {
			/* The file stays what contig says (a partial upload
			 * is resumed from contig). */
			if (ftruncate(t->fd, (off_t)t->contig)) {
				/* nothing more to do: the relay ends on rc */
			}
			return rc;
		}
	}
	if (!t->no_hash && EVP_DigestUpdate(t->md, p, n) != 1)
		return -EIO;
	t->contig += n;
	/* Start the disk write of what came so far, every TEE_WRITEBACK bytes,
	 * without waiting for it (SYNC_FILE_RANGE_WRITE only queues the dirty
	 * pages): the disk works while the upload goes on, and the fsync that
	 * makes a stored file durable before its acknowledgement finds little
	 * left to do (it was ~25 % of a 1 GiB upload, docs/BENCHMARKS.md). */
	if (t->fd >= 0 && t->contig - t->wb_from >= TEE_WRITEBACK) {
		(void)sync_file_range(t->fd, (off64_t)t->wb_from, (off64_t)(t->contig - t->wb_from),
				      SYNC_FILE_RANGE_WRITE);
		t->wb_from = t->contig;
	}
	return 0;
}

int tee_final(struct relay_tee *t)
{
	unsigned int len = 0;

	if (t->final)
		return 0;
	if (!t->md)
		return -EINVAL;
	if (EVP_DigestFinal_ex(t->md, t->digest, &len) != 1 || len != sizeof t->digest)
		return -EIO;
	t->final = true;
	t->hashed = true;
	return 0;
}

void tee_close(struct relay_tee *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	EVP_MD_CTX_free(t->md);
	t->md = NULL;
}
