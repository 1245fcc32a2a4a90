/* The sha-1 of a file to send, remembered while the file is unchanged.
 *
 * RFC 5547's file-selector carries the whole file's sha-1 in the INVITE, so
 * `cpm send` reads and hashes all of the file before the first byte moves:
 * for a big file that is a second pass over the disk and a core busy with
 * SHA-1, competing with cpmd and the receiver on a small machine. Sending
 * the same file again (a retry, a resume after a kill, the same file to
 * another user) needs the same hash, so it is kept in the state directory
 * (the send journal's, resume.c), one entry per file path:
 *
 *     hash-<sha-1 of the absolute path>.sha1
 *         cpm-hash-cache 1
 *         dev D / ino I / size S / mtime NS / ctime NS   (one per line)
 *         sha1 HEX
 *         seven-dashes yes|no   (a run of seven '-' in the file: see below)
 *
 * An entry is used only when the open file's fstat matches all five to the
 * nanosecond. ctime is what makes that safe: any write, truncation or
 * `touch` of the file sets it to the current time, and nobody can set it
 * back. A file changed within the same timestamp tick as our look (the
 * kernel's file times are coarse, a few ms) could still match, so an entry
 * is only recorded for a file whose ctime is older than CACHE_SETTLE_NS
 * before we started hashing (the "racily clean" rule of git's index): any
 * later change then gets a ctime different from the recorded one. The fstat
 * is also repeated after hashing, so a file changed while we read it is
 * not recorded. And the receiver checks the hash of what it got anyway: a
 * wrong hash costs a failed transfer, never a wrong file.
 *
 * Reading when there is no entry: 1 MiB reads with POSIX_FADV_SEQUENTIAL
 * (read-ahead on a cold disk), OpenSSL's EVP SHA-1 (SHA-NI where the CPU
 * has it).
 *
 * The same read finds whether the file holds a run of seven '-'. Without one, no chunk of
 * it can contain an MSRP end-line ("-------" tid flag, RFC 4975 §7.1), whatever tid is
 * drawn, and msrp_out.c sends its bodies by sendfile() without reading them for the check
 * (issue 12: that read was ~30 % of cpm send's CPU). An entry without the line (written by
 * an older cpm) answers "not known": the chunks are checked as before.
 */
#include "cpm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CACHE_SETTLE_NS (2LL * 1000000000LL)

static long long ts_ns(struct timespec t)
{
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* The entry's file name for path: state dir + "hash-<sha-1 of the absolute path>.sha1". */
static int entry_path(const struct cpm_opts *o, const char *path, char *out, size_t cap)
{
	char dir[4096], abs[4096], hex[41];
	uint8_t md[20];
	unsigned ml = 0;
	if (!realpath(path, abs) || cpm_state_dir(o, dir, sizeof dir) < 0 ||
	    !EVP_Digest(abs, strlen(abs), md, &ml, EVP_sha1(), NULL) || ml != 20)
		return -1;
	cpm_hex_encode(hex, sizeof hex, md, 20, CPM_HEX_LOWER, '\0');
	int n = snprintf(out, cap, "%s/hash-%s.sha1", dir, hex);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

static bool entry_matches(const char *text, const struct stat *st)
{
	uint64_t dev, ino, size, mtime, ctime;
	return strncmp(text, "cpm-hash-cache 1\n", 17) == 0 && state_kv_u64(text, "dev", &dev) &&
	       state_kv_u64(text, "ino", &ino) && state_kv_u64(text, "size", &size) &&
	       state_kv_u64(text, "mtime", &mtime) && state_kv_u64(text, "ctime", &ctime) &&
	       dev == (uint64_t)st->st_dev && ino == (uint64_t)st->st_ino && size == (uint64_t)st->st_size &&
	       (long long)mtime == ts_ns(st->st_mtim) && (long long)ctime == ts_ns(st->st_ctim);
}

static bool same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       ts_ns(a->st_mtim) == ts_ns(b->st_mtim) && ts_ns(a->st_ctim) == ts_ns(b->st_ctim);
}

int hash_cache_sha1(const struct cpm_opts *o, const char *path, int fd, const struct stat *st, uint8_t out[20],
		    uint64_t *size, bool *cached, bool *dash_free)
{
	char entry[4200], text[512];
	bool use = o && !o->no_resume && st->st_mtim.tv_sec >= 0 && st->st_ctim.tv_sec >= 0 &&
		   entry_path(o, path, entry, sizeof entry) == 0;
	*cached = false;
	*dash_free = false;
	if (use && state_read_small(AT_FDCWD, entry, text, sizeof text) > 0 && entry_matches(text, st)) {
		char v[64];
		int n = state_kv_get(text, "sha1", v, sizeof v) ? cpm_hex_decode(out, 20, v, strlen(v), '\0') : -1;
		if (n == 20) {
			*size = (uint64_t)st->st_size;
			*cached = true;
			*dash_free = state_kv_get(text, "seven-dashes", v, sizeof v) && strcmp(v, "no") == 0;
			return 0;
		}
	}
	struct timespec t0;
	clock_gettime(CLOCK_REALTIME, &t0);
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL); /* advice only: its failure changes nothing */
	bool dashes = true;
	if (sha1_fd(fd, out, size, &dashes) < 0)
		return -1;
	*dash_free = !dashes;
	struct stat after;
	if (!use || ts_ns(st->st_ctim) > ts_ns(t0) - CACHE_SETTLE_NS || fstat(fd, &after) < 0 || !same_stat(st, &after) ||
	    *size != (uint64_t)st->st_size)
		return 0;
	char hex[41];
	cpm_hex_encode(hex, sizeof hex, out, 20, CPM_HEX_LOWER, '\0');
	int n = snprintf(text, sizeof text,
			 "cpm-hash-cache 1\ndev %llu\nino %llu\nsize %llu\nmtime %lld\nctime %lld\nsha1 %s\nseven-dashes %s\n",
			 (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
			 (unsigned long long)st->st_size, ts_ns(st->st_mtim), ts_ns(st->st_ctim), hex,
			 dashes ? "yes" : "no");
	if (n > 0 && (size_t)n < sizeof text)
		(void)state_write_atomic(AT_FDCWD, entry, text, (size_t)n); /* no entry: the next send hashes again */
	return 0;
}
