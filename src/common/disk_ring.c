/* A file's write and sha-1 on a thread of its own (disk_ring.h), so that an event loop only
 * moves bytes. Moved here from the relay's tee worker (issue 12 §2: the profile named sha-1
 * 27 % and the tee write 23 % of cpmd's samples, all on the loop thread) so that cpm receive
 * (§4) uses the same machinery.
 *
 * The loop memcpy()s each new byte into a bounded ring (DISK_RING_SIZE); the worker pwrite()s
 * what it finds there in pieces of up to DR_PIECE bytes, hashes them, starts their writeback
 * (sync_file_range) and frees the space. A resume's worker first hashes the stored prefix
 * [0, base) by pread() from its own dup of the file: the whole file's sha-1 is one sequential
 * context, so the prefix comes first.
 *
 * The ring is single-producer (the loop) / single-consumer (the worker): `head` and `tail`
 * count bytes pushed and consumed, published with release/acquire atomics, and no lock is
 * taken per chunk. Sleep and wake-up, both ways, are Dekker pairs of sequentially consistent
 * atomics: the worker sets `sleeping` and re-reads `head` before it waits on its condition
 * variable (the loop takes the mutex only to signal a sleeping worker, once DR_WAKE bytes
 * wait); the loop sets `loop_waits` and re-reads the free space before it pauses its producer,
 * and the worker writes to the eventfd once it freed half the ring for a waiting loop, when it
 * finished the file, or on an error.
 *
 * A write error cuts the file back to the end of the last whole piece (ftruncate: no torn
 * tail), so disk_ring_written() is what the file holds and a resume starts there.
 *
 * Direct writes (disk_ring_direct: cpmd's blobs, kept or a live relay's tee): the worker writes
 * whole 4 KiB blocks from the ring with O_DIRECT, on a descriptor of its own (the file
 * reopened through /proc/self/fd: a dup would share the owner's file flags), so the bytes go
 * from the ring to the disk without a copy into the page cache. Measured on our VM
 * (docs/BENCHMARKS.md "Uploads: O_DIRECT"): the page-cache copy was 30 % of cpmd's samples in
 * an upload, and fio itself writes 1.3-1.6x faster with O_DIRECT at a fifth of the CPU. The
 * ring is aligned, and its byte i lies at ring index (skew + i) % DISK_RING_SIZE with skew =
 * base % DR_ALIGN, so that an aligned file offset is an aligned address. What cannot go
 * direct goes through the page cache as before: the bytes up to the first aligned offset (a
 * resume's unaligned base) and the file's last partial block. A worker waits for a whole
 * block before it writes (unless the file is finished), so a direct ring suits an owner that
 * never waits for `written` in the middle of a file (disk_ring_wake_at: cpm receive does).
 * A lazy ring's file (not kept yet) goes direct only while the disk keeps up (direct_now()).
 *
 * Lazy hashing (disk_ring_lazy_hash): the worker writes without hashing until the owner calls
 * disk_ring_want_hash(); it then hashes what it already wrote, [0, base + tail), by pread()
 * (the resume's prefix path, with a later end) and goes on hashing as an eager worker. A live
 * relay whose device checks the hash itself pays no SHA-1 unless cpmd ends up keeping the file
 * (docs/internals/relay.md, "Lazy SHA-1"). */
#include "common/disk_ring.h"
#include "common/mono_clock.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define DR_PIECE (512u * 1024) /* one write + hash of the worker; cancel is seen within one */
/* A sleeping worker is woken once this much waits in the ring, not for every chunk: one futex
 * wake and one context switch per 256 KiB instead of per chunk (measured in the relay: with a
 * wake per chunk, cpmd's CPU per GiB went up, not down). Less than DISK_RING_SIZE - low_room,
 * so a paused producer always has a worker at work; finish and cancel wake it whatever the
 * fill. */
#define DR_WAKE (256u * 1024)
#define DR_WRITEBACK (8u << 20)
#define DR_PREFIX_BUF (256 * 1024)
/* A lazy direct ring (a live relay's tee) goes through the page cache once the disk has been
 * behind (the ring over half full, not back under a quarter) for DR_BEHIND_MS in a row, for
 * the next DR_BUFFERED_RUN bytes, then tries direct again. A disk's latency spikes (a 512 KiB
 * write: 0.2-0.4 ms here, now and then 10-30 ms) only hold the sender for a moment; a disk
 * slower than the network for good (HDD, a busy array) does not set the relay's pace. (With
 * "over half full" alone, the spikes sent 45 % of a 2 GiB relay through the page cache.) */
#define DR_BEHIND_MS 20
#define DR_BUFFERED_RUN (256ull << 20)
/* O_DIRECT alignment of file offsets, lengths and addresses: the page size, which covers the
 * logical block size of every disk we run on (512 or 4096). */
#define DR_ALIGN 4096u

struct disk_ring {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fd;          /* the worker's dup of the file (-1: hash only) */
	int dfd;         /* the worker's O_DIRECT descriptor of the same file, or -1 */
	bool direct;     /* disk_ring_direct(): open dfd when the worker starts */
	size_t skew;     /* base % DR_ALIGN: ring index of byte i = (skew + i) % DISK_RING_SIZE */
	int efd;         /* eventfd: wakes the loop */
	int refs;        /* the owner and the worker (under mu) */
	uint64_t base;   /* file offset of the ring's byte 0; the prefix [0, base) is hashed first */
	uint64_t low_room;
	char *ring;
	uint64_t head;   /* bytes pushed (loop), atomic */
	uint64_t tail;   /* bytes written and hashed (worker), atomic */
	uint64_t target; /* finish at tail == target; UINT64_MAX: not known yet (under mu) */
	bool cancel;     /* atomic */
	bool sleeping;   /* atomic: the worker waits for head/target/cancel */
	bool loop_waits; /* atomic: the producer is paused for room */
	bool lazy;       /* hash only once want_hash is set (set before the worker starts) */
	bool want_hash;  /* atomic: the owner needs the digest (lazy mode) */
	bool hashing;    /* the worker's own: md holds the sha-1 of [0, base + tail) */
	uint64_t direct_done; /* the worker's own: bytes written through dfd */
	uint64_t behind_since;   /* the worker's own: ms the ring has been over half full since (0: not) */
	uint64_t buffered_until; /* the worker's own: a lazy direct ring writes buffered below this offset */
	bool write_failed; /* the worker's own: err came from writing; published as write_err */
	uint64_t wake_at; /* atomic: wake the loop once tail reaches this (0: no one waits) */
	/* the result, written once by the worker (under mu) */
	bool finished;
	int err;
	bool write_err;
	bool hashed;     /* digest is the file's (a lazy worker that was never asked has none) */
	uint8_t digest[20];
	uint64_t direct_bytes; /* direct_done, published at the end (under mu) */
};

static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t live_cv = PTHREAD_COND_INITIALIZER;
static unsigned live_workers;

/* Test hooks: read by the workers, hence atomics. */
static unsigned hook_delay_us;
static uint64_t hook_fail_at;

void disk_ring_test_hooks(unsigned delay_us, uint64_t fail_at)
{
	__atomic_store_n(&hook_delay_us, delay_us, __ATOMIC_SEQ_CST);
	__atomic_store_n(&hook_fail_at, fail_at, __ATOMIC_SEQ_CST);
}

bool disk_ring_wait_all(unsigned ms)
{
	struct timespec until;
	bool none;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&live_mu);
	while (live_workers && pthread_cond_timedwait(&live_cv, &live_mu, &until) == 0)
		;
	none = live_workers == 0;
	pthread_mutex_unlock(&live_mu);
	return none;
}

static void ring_unref(struct disk_ring *d)
{
	bool last;

	pthread_mutex_lock(&d->mu);
	last = --d->refs == 0;
	pthread_mutex_unlock(&d->mu);
	if (!last)
		return;
	if (d->fd >= 0)
		close(d->fd);
	if (d->dfd >= 0)
		close(d->dfd);
	if (d->efd >= 0)
		close(d->efd);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	free(d->ring);
	free(d);
}

static void wake_loop(struct disk_ring *d)
{
	uint64_t one = 1;

	if (write(d->efd, &one, sizeof one) != sizeof one) {
		/* an eventfd counter cannot overflow from one write */
	}
}

static bool cancelled(struct disk_ring *d)
{
	return __atomic_load_n(&d->cancel, __ATOMIC_RELAXED);
}

/* [0, end) of the file by pread(): a resume's stored prefix (end = base), or what a lazy
 * worker wrote before it was asked for the hash (end = base + tail). */
static int hash_prefix(struct disk_ring *d, EVP_MD_CTX *md, uint64_t end)
{
	char *buf;
	uint64_t off = 0;
	int err = 0;

	if (!end)
		return 0;
	buf = malloc(DR_PREFIX_BUF);
	if (!buf)
		return -ENOMEM;
	while (!err && off < end) {
		size_t n = end - off < DR_PREFIX_BUF ? (size_t)(end - off) : DR_PREFIX_BUF;
		ssize_t got = pread(d->fd, buf, n, (off_t)off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			err = -errno;
		else if (got == 0)
			err = -EIO; /* shorter than the owner says */
		else if (EVP_DigestUpdate(md, buf, (size_t)got) != 1)
			err = -ENOMEM;
		else
			off += (uint64_t)got;
		if (!err && cancelled(d))
			err = -ECANCELED; /* an owner that stopped does not wait for the rest */
	}
	free(buf);
	return err;
}

/* direct_ok: whole aligned blocks may go through dfd (consume() says when not). */
static int write_piece(struct disk_ring *d, const char *p, size_t n, uint64_t off, bool direct_ok)
{
	unsigned delay = __atomic_load_n(&hook_delay_us, __ATOMIC_RELAXED);
	uint64_t fail_at = __atomic_load_n(&hook_fail_at, __ATOMIC_RELAXED);
	bool fail = false;

	if (delay)
		usleep(delay); /* test: a disk slower than the network */
	if (fail_at && off + n > fail_at) {
		/* test: the disk fills up at fail_at */
		n = off < fail_at ? (size_t)(fail_at - off) : 0;
		fail = true;
	}
	/* whole aligned blocks go direct (consume() makes the pieces so), anything else buffered */
	int fd = direct_ok && d->dfd >= 0 && ((uintptr_t)p % DR_ALIGN | off % DR_ALIGN | n % DR_ALIGN) == 0 ? d->dfd
														: d->fd;
	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EINVAL && fd == d->dfd) {
			/* the file system wants another alignment after all: buffered from now on */
			close(d->dfd);
			d->dfd = -1;
			fd = d->fd;
			continue;
		}
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		if (fd == d->dfd)
			d->direct_done += (uint64_t)w;
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
		if (n % DR_ALIGN || off % DR_ALIGN)
			fd = d->fd; /* a short direct write: the rest is no longer aligned */
	}
	return fail ? -ENOSPC : 0;
}

/* Wait for bytes, the target or cancel. Returns the bytes available (0: finished or cancelled). */
static bool hash_asked(struct disk_ring *d)
{
	return !d->hashing && __atomic_load_n(&d->want_hash, __ATOMIC_SEQ_CST);
}

/* The file's end is known (finish or drain): no more bytes will come. */
static bool target_known(struct disk_ring *d)
{
	return __atomic_load_n(&d->target, __ATOMIC_SEQ_CST) != UINT64_MAX;
}

/* The owner waits for bytes to be written (disk_ring_wake_at): whatever is in the ring goes. */
static bool owner_waits(struct disk_ring *d)
{
	return __atomic_load_n(&d->wake_at, __ATOMIC_SEQ_CST) != 0;
}

/* min: the bytes worth a write. Below it the worker sleeps until the ring holds that much (the
 * loop wakes it at DR_WAKE), the file's end is known, or the owner waits for what it pushed. */
static uint64_t wait_for_work(struct disk_ring *d, uint64_t tail, uint64_t min, bool *done)
{
	uint64_t head;

	*done = false;
	head = __atomic_load_n(&d->head, __ATOMIC_ACQUIRE);
	if (head - tail >= min || (head != tail && owner_waits(d)))
		return head - tail;
	pthread_mutex_lock(&d->mu);
	for (;;) {
		__atomic_store_n(&d->sleeping, true, __ATOMIC_SEQ_CST);
		head = __atomic_load_n(&d->head, __ATOMIC_SEQ_CST);
		/* a lazy worker asked for the hash catches up on the written prefix at once, while
		 * the sender goes on */
		if (head - tail >= min || (head != tail && (target_known(d) || owner_waits(d))) || cancelled(d) ||
		    d->target == tail || hash_asked(d))
			break;
		pthread_cond_wait(&d->cv, &d->mu);
	}
	__atomic_store_n(&d->sleeping, false, __ATOMIC_RELAXED);
	*done = head == tail && (cancelled(d) || d->target == tail);
	pthread_mutex_unlock(&d->mu);
	return head - tail;
}

/* Will the file be kept? A lazy worker's file (a live relay's tee) is unlinked once the device
 * has it, unless the owner asks for the hash (it keeps the file): until then no writeback is
 * started, so the page cache absorbs the tee and a deleted file never reaches the disk. (With
 * the writeback started every 8 MiB, live relays wrote every byte to the disk, and a single
 * relay fell to the disk's ~85 MB/s whenever the device queue was busy.) Once asked, the next
 * hint covers everything from the start of the file. */
static bool kept(const struct disk_ring *d)
{
	return !d->lazy || d->hashing;
}


/* May whole blocks of the piece at file offset off go O_DIRECT? avail: the bytes in the ring.
 * A kept file always (it waits for its disk: it is fsynced anyway); a file that may be deleted
 * unread not while the disk has been behind for a while (DR_BEHIND_MS above). */
static bool direct_now(struct disk_ring *d, uint64_t off, uint64_t avail)
{
	uint64_t now;

	if (kept(d))
		return true;
	if (off < d->buffered_until)
		return false;
	if (avail < DISK_RING_SIZE / 4) {
		d->behind_since = 0; /* caught up */
		return true;
	}
	if (avail < DISK_RING_SIZE / 2 && !d->behind_since)
		return true;
	/* behind: over half full, and not back under a quarter since (a producer paused for
	 * room refills the ring as soon as half of it is free) */
	now = (uint64_t)mono_ms();
	if (!d->behind_since)
		d->behind_since = now;
	if (now - d->behind_since < DR_BEHIND_MS)
		return true;
	d->behind_since = 0;
	d->buffered_until = off + DR_BUFFERED_RUN;
	return false;
}

static int consume(struct disk_ring *d, EVP_MD_CTX *md)
{
	uint64_t tail = 0, wb_from = d->base;
	bool done;

	for (;;) {
		uint64_t off = d->base + tail;
		/* Writes of DR_WAKE and more, not of whatever came since the last one: with a
		 * worker faster than the network, every chunk was a write of its own (an O_DIRECT
		 * write is a device request, and in a VM a doorbell: a VM exit). A direct worker's
		 * unaligned head (a resume) goes at once, up to the block. */
		uint64_t avail = wait_for_work(d, tail, d->dfd >= 0 && off % DR_ALIGN ? 1 : DR_WAKE, &done);
		size_t at = (size_t)((d->skew + tail) % DISK_RING_SIZE), n;
		int err;

		if (hash_asked(d) && !cancelled(d)) {
			/* Everything below off is in the file (written by us, or the resume's
			 * prefix): read it back into the context, then hash on from the ring. */
			err = hash_prefix(d, md, off);
			if (err)
				return err;
			d->hashing = true;
			if (!avail && !done)
				continue;
		}
		if (done && !cancelled(d) && d->fd >= 0 && kept(d) && d->base + tail > wb_from)
			/* The file is complete: the writeback of its last piece starts now, and the
			 * owner's fsync (cpmd's store) finds it under way. */
			(void)sync_file_range(d->fd, (off64_t)wb_from, (off64_t)(d->base + tail - wb_from),
					      SYNC_FILE_RANGE_WRITE);
		if (done)
			return cancelled(d) ? -ECANCELED : 0;
		if (cancelled(d))
			return -ECANCELED;
		n = avail < DR_PIECE ? (size_t)avail : DR_PIECE;
		if (n > DISK_RING_SIZE - at)
			n = DISK_RING_SIZE - at; /* up to the wrap; the rest next turn */
		if (d->dfd >= 0) {
			if (off % DR_ALIGN)
				/* buffered up to the next aligned offset, then direct */
				n = n < DR_ALIGN - off % DR_ALIGN ? n : DR_ALIGN - off % DR_ALIGN;
			else if (n >= DR_ALIGN)
				n -= n % DR_ALIGN; /* whole blocks; a partial one waits for more */
			/* else: fewer than a block and the file's end known: the last, buffered */
		}
		if (d->fd >= 0) {
			err = write_piece(d, d->ring + at, n, off, d->dfd >= 0 && direct_now(d, off, avail));
			if (err) {
				/* The file keeps what was written before this piece, no torn tail:
				 * disk_ring_written() reports that much and a resume starts there. */
				if (ftruncate(d->fd, (off_t)off)) {
					/* the owner ends on err anyway */
				}
				d->write_failed = true;
				return err;
			}
		}
		if (d->hashing && EVP_DigestUpdate(md, d->ring + at, n) != 1)
			return -ENOMEM;
		tail += n;
		/* Start the disk write of what came so far without waiting for it: an fsync
		 * before the acknowledgement finds little left to do. */
		if (d->fd >= 0 && kept(d) && d->base + tail - wb_from >= DR_WRITEBACK) {
			(void)sync_file_range(d->fd, (off64_t)wb_from, (off64_t)(d->base + tail - wb_from),
					      SYNC_FILE_RANGE_WRITE);
			wb_from = d->base + tail;
		}
		__atomic_store_n(&d->tail, tail, __ATOMIC_SEQ_CST);
		uint64_t mark = __atomic_load_n(&d->wake_at, __ATOMIC_SEQ_CST);
		/* compare-exchange: the loop may have moved the mark on meanwhile */
		if (mark && tail >= mark &&
		    __atomic_compare_exchange_n(&d->wake_at, &mark, 0, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			wake_loop(d);
		if (__atomic_load_n(&d->loop_waits, __ATOMIC_SEQ_CST) &&
		    DISK_RING_SIZE - (__atomic_load_n(&d->head, __ATOMIC_ACQUIRE) - tail) >= DISK_RING_SIZE / 2 &&
		    __atomic_exchange_n(&d->loop_waits, false, __ATOMIC_SEQ_CST))
			wake_loop(d);
	}
}

static void *worker_main(void *arg)
{
	struct disk_ring *d = arg;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t digest[20];
	unsigned len = 0;
	int err = 0;

	if (!md || EVP_DigestInit_ex(md, EVP_sha1(), NULL) != 1)
		err = -ENOMEM;
	if (d->direct && d->fd >= 0) {
		/* a descriptor of its own (O_DIRECT is a flag of the open file, which a dup shares);
		 * a file system without O_DIRECT keeps the buffered writes */
		char path[40];
		snprintf(path, sizeof path, "/proc/self/fd/%d", d->fd);
		d->dfd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
	}
	if (!err && !d->lazy) {
		d->hashing = true;
		err = hash_prefix(d, md, d->base);
	}
	if (!err)
		err = consume(d, md);
	if (!err && d->hashing && (EVP_DigestFinal_ex(md, digest, &len) != 1 || len != sizeof digest))
		err = -ENOMEM;
	EVP_MD_CTX_free(md);
	pthread_mutex_lock(&d->mu);
	d->finished = true;
	d->err = err;
	d->write_err = d->write_failed;
	d->hashed = !err && d->hashing;
	d->direct_bytes = d->direct_done;
	if (d->hashed)
		memcpy(d->digest, digest, sizeof digest);
	pthread_mutex_unlock(&d->mu);
	if (err != -ECANCELED)
		wake_loop(d); /* (a cancelled owner listens no more) */
	ring_unref(d);
	pthread_mutex_lock(&live_mu);
	live_workers--;
	pthread_cond_broadcast(&live_cv);
	pthread_mutex_unlock(&live_mu);
	return NULL;
}

static uint64_t ring_free(const struct disk_ring *d)
{
	return DISK_RING_SIZE - (d->head - __atomic_load_n(&d->tail, __ATOMIC_SEQ_CST));
}

int disk_ring_create(struct disk_ring **out, uint64_t base, size_t low_room)
{
	struct disk_ring *d;
	int rc;

	*out = NULL;
	d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	d->fd = -1;
	d->dfd = -1;
	d->skew = (size_t)(base % DR_ALIGN);
	d->ring = aligned_alloc(DR_ALIGN, DISK_RING_SIZE); /* O_DIRECT writes come from it */
	d->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->efd < 0 || !d->ring) {
		rc = d->ring ? -errno : -ENOMEM;
		if (d->efd >= 0)
			close(d->efd);
		free(d->ring);
		free(d);
		return rc;
	}
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	d->refs = 1;
	d->base = base;
	d->low_room = low_room;
	d->target = UINT64_MAX;
	*out = d;
	return 0;
}

int disk_ring_efd(const struct disk_ring *d)
{
	return d->efd;
}

void disk_ring_fail(struct disk_ring *d, int err)
{
	pthread_mutex_lock(&d->mu);
	d->finished = true;
	d->err = err;
	pthread_mutex_unlock(&d->mu);
	wake_loop(d); /* reported from the owner's loop, never inside its own call */
}

int disk_ring_start(struct disk_ring *d, int fd)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t th;
	int rc;

	if (fd >= 0) {
		d->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (d->fd < 0)
			return -errno;
	}
	/* The worker takes no signal: they belong to the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	d->refs = 2;
	pthread_mutex_lock(&live_mu);
	live_workers++;
	pthread_mutex_unlock(&live_mu);
	rc = pthread_create(&th, &attr, worker_main, d);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		pthread_mutex_lock(&live_mu);
		live_workers--;
		pthread_mutex_unlock(&live_mu);
		d->refs = 1;
		return -rc;
	}
	return 0;
}

int disk_ring_push(struct disk_ring *d, const char *p, size_t n)
{
	uint64_t at;
	size_t first;

	if (n > ring_free(d))
		return -ENOBUFS;
	at = (d->skew + d->head) % DISK_RING_SIZE;
	first = n < DISK_RING_SIZE - at ? n : (size_t)(DISK_RING_SIZE - at);
	memcpy(d->ring + at, p, first);
	memcpy(d->ring, p + first, n - first);
	__atomic_store_n(&d->head, d->head + n, __ATOMIC_SEQ_CST);
	if (DISK_RING_SIZE - ring_free(d) >= DR_WAKE && __atomic_load_n(&d->sleeping, __ATOMIC_SEQ_CST)) {
		pthread_mutex_lock(&d->mu);
		pthread_cond_signal(&d->cv);
		pthread_mutex_unlock(&d->mu);
	}
	if (ring_free(d) < d->low_room) {
		__atomic_store_n(&d->loop_waits, true, __ATOMIC_SEQ_CST);
		if (ring_free(d) < d->low_room)
			return 1;
		__atomic_store_n(&d->loop_waits, false, __ATOMIC_SEQ_CST);
	}
	return 0;
}

void disk_ring_direct(struct disk_ring *d)
{
	d->direct = true; /* before disk_ring_start(), like lazy */
}

void disk_ring_lazy_hash(struct disk_ring *d)
{
	d->lazy = true; /* before disk_ring_start(): the thread's creation publishes it */
}

void disk_ring_want_hash(struct disk_ring *d)
{
	if (!d->lazy || __atomic_load_n(&d->want_hash, __ATOMIC_RELAXED))
		return;
	/* Dekker with wait_for_work(): the worker sets sleeping and then reads want_hash */
	__atomic_store_n(&d->want_hash, true, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&d->sleeping, __ATOMIC_SEQ_CST)) {
		pthread_mutex_lock(&d->mu);
		pthread_cond_signal(&d->cv);
		pthread_mutex_unlock(&d->mu);
	}
}

bool disk_ring_has_room(const struct disk_ring *d)
{
	return ring_free(d) >= d->low_room;
}

bool disk_ring_wake_at(struct disk_ring *d, uint64_t written, bool kick)
{
	uint64_t t = written > d->base ? written - d->base : 0;

	if (__atomic_load_n(&d->tail, __ATOMIC_SEQ_CST) >= t)
		return true;
	/* Dekker with the worker's store of tail and load of wake_at: one of them sees the other
	 * (both may: then one wake-up too many, which finds nothing new) */
	__atomic_store_n(&d->wake_at, t, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&d->tail, __ATOMIC_SEQ_CST) >= t) {
		__atomic_store_n(&d->wake_at, 0, __ATOMIC_SEQ_CST);
		return true;
	}
	/* A worker asleep with fewer than DR_WAKE bytes waiting would not write them before the
	 * next push: kick, when the owner has nothing more to push for now. */
	if (kick && __atomic_load_n(&d->sleeping, __ATOMIC_SEQ_CST)) {
		pthread_mutex_lock(&d->mu);
		pthread_cond_signal(&d->cv);
		pthread_mutex_unlock(&d->mu);
	}
	return false;
}

void disk_ring_finish(struct disk_ring *d)
{
	pthread_mutex_lock(&d->mu);
	__atomic_store_n(&d->target, __atomic_load_n(&d->head, __ATOMIC_RELAXED), __ATOMIC_SEQ_CST);
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

bool disk_ring_drain(struct disk_ring *d)
{
	bool drain;

	pthread_mutex_lock(&d->mu);
	drain = !d->finished && d->fd >= 0 && __atomic_load_n(&d->tail, __ATOMIC_SEQ_CST) != d->head;
	if (drain) {
		/* finish at what the loop accepted; the digest it makes is of no use (never read) */
		__atomic_store_n(&d->target, d->head, __ATOMIC_SEQ_CST);
		pthread_cond_signal(&d->cv);
	}
	pthread_mutex_unlock(&d->mu);
	return drain;
}

void disk_ring_poll(struct disk_ring *d, struct disk_ring_result *res)
{
	uint64_t cnt;

	if (read(d->efd, &cnt, sizeof cnt) < 0) {
		/* EAGAIN: nothing to read after all; the state is read anyway */
	}
	pthread_mutex_lock(&d->mu);
	res->finished = d->finished;
	res->err = d->err;
	res->write_err = d->write_err;
	res->direct_bytes = d->finished ? d->direct_bytes : 0;
	res->hashed = d->finished && d->hashed;
	if (res->hashed)
		memcpy(res->digest, d->digest, sizeof res->digest);
	pthread_mutex_unlock(&d->mu);
}

uint64_t disk_ring_written(const struct disk_ring *d)
{
	return d->base + __atomic_load_n(&d->tail, __ATOMIC_SEQ_CST);
}

uint64_t disk_ring_stop(struct disk_ring *d)
{
	uint64_t held = UINT64_MAX;

	pthread_mutex_lock(&d->mu);
	if (!d->finished || d->err)
		held = d->base + __atomic_load_n(&d->tail, __ATOMIC_SEQ_CST);
	__atomic_store_n(&d->cancel, true, __ATOMIC_RELAXED);
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	ring_unref(d);
	return held;
}
