/* The tee worker: a file's blob write and sha-1 on a thread of its own, so the event loop
 * only moves bytes (issue 12 §2; the profile named sha-1 27 % and the tee write 23 % of
 * cpmd's samples, all on the loop thread).
 *
 * One worker per relay whose file is worth it (TW_MIN_SIZE and up; smaller files keep the
 * inline tee of relay_tee.c: a thread start costs more than hashing them) and per resumed
 * upload. The loop memcpy()s each new body byte into a bounded ring (TW_RING bytes: the
 * memory of a transfer stays bounded whatever the file size); the worker pwrite()s what it
 * finds there in pieces of up to TW_PIECE bytes, hashes them, starts their writeback
 * (sync_file_range) and frees the space. A resumed upload's worker first hashes the stored
 * prefix [0, base) by pread() from its own dup of the blob: the whole file's sha-1 is one
 * sequential context, so the prefix comes first.
 *
 * The ring is single-producer (the loop) / single-consumer (the worker): `head` and `tail`
 * count bytes pushed and consumed, published with release/acquire atomics, and no lock is
 * taken per chunk. Sleep and wake-up, both ways, are Dekker pairs of sequentially consistent
 * atomics: the worker sets `sleeping` and re-reads `head` before it waits on its condition
 * variable (the loop takes the mutex only to signal a sleeping worker, once TW_WAKE bytes wait); the loop sets
 * `loop_waits` and re-reads the free space before it holds the sender (CONN_HOLD_DISK), and
 * the worker writes to the eventfd (watched by the loop in su_root) once it freed half the
 * ring for a waiting loop, when it finished the file, or on an error.
 *
 * The '$' chunk: the loop tells the worker the final count (`target`) and holds the sender;
 * the worker finishes the digest and wakes the loop, which checks it (ft_relay_up.c,
 * relay_up_last_hashed): in live mode before the last chunk's end-line goes DOWN, in store
 * mode before FT_RELAY_RECEIVED (whose acknowledgement still waits for the store's fsync).
 * A write error ends the relay FT_RELAY_IO_ERROR with the blob cut back to what was written
 * (ft_relay_bytes() says so: a resume starts there).
 *
 * Sharing: the relay and the worker each hold a reference; whoever drops the last one frees
 * the ring. ft_relay_destroy() never joins the thread (the loop must not wait for a disk): it
 * sets `cancel`, which the worker sees within one piece. ft_relay_wait_hashers() waits for
 * the threads still alive (the process must not exit while one is inside libcrypto). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "relay/ft_relay_priv.h"

#define TW_RING (2u << 20)     /* per relay: the sender is held when it is nearly full */
#define TW_PIECE (512u * 1024) /* one write + hash of the worker; cancel is seen within one */
#define TW_MIN_SIZE (256u * 1024)
/* A sleeping worker is woken once this much waits in the ring, not for every chunk: one futex
 * wake and one context switch per 256 KiB instead of per chunk (measured: with a wake per
 * chunk, cpmd's CPU per GiB went up, not down). Less than TW_RING - TW_LOW_ROOM, so a held
 * sender always has a worker at work; the '$' chunk and cancel wake it whatever the fill. */
#define TW_WAKE (256u * 1024)
#define TW_WRITEBACK (8u << 20)
/* The sender is held when less than one receive buffer is free: a parse pass's body event
 * is never larger, and the parser stops at the hold (the next event always fits). */
#define TW_LOW_ROOM ((uint64_t)MSRP_RBUF_SIZE)
#define TW_PREFIX_BUF (256 * 1024)

struct relay_hasher {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fd;          /* the worker's dup of the blob descriptor (-1: hash only) */
	int efd;         /* eventfd: wakes the loop */
	int refs;        /* the relay and the worker (under mu) */
	uint64_t base;   /* file offset of the ring's byte 0; the prefix [0, base) is hashed first */
	char *ring;
	uint64_t head;   /* bytes pushed (loop), atomic */
	uint64_t tail;   /* bytes written and hashed (worker), atomic */
	uint64_t target; /* finish at tail == target; UINT64_MAX: not known yet (under mu) */
	bool cancel;     /* atomic */
	bool sleeping;   /* atomic: the worker waits for head/target/cancel */
	bool loop_waits; /* atomic: the sender is held for room */
	/* the result, written once by the worker (under mu) */
	bool finished;
	int err;         /* 0 or -errno (-EIO: the blob is shorter than it must be) */
	bool write_err;  /* err came from writing (not from reading the prefix) */
	uint8_t digest[20];
};

static pthread_mutex_t hashers_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hashers_cv = PTHREAD_COND_INITIALIZER;
static unsigned hashers_live;

/* Test hooks (ft_relay.h): read by the workers, hence atomics. */
static unsigned hook_delay_us;
static uint64_t hook_fail_at;
static uint64_t hook_min_size = TW_MIN_SIZE;

void ft_relay_test_tee_hooks(unsigned delay_us, uint64_t fail_at, uint64_t min_size)
{
	__atomic_store_n(&hook_delay_us, delay_us, __ATOMIC_SEQ_CST);
	__atomic_store_n(&hook_fail_at, fail_at, __ATOMIC_SEQ_CST);
	__atomic_store_n(&hook_min_size, min_size ? min_size : TW_MIN_SIZE, __ATOMIC_SEQ_CST);
}

bool ft_relay_wait_hashers(unsigned ms)
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
	pthread_mutex_lock(&hashers_mu);
	while (hashers_live && pthread_cond_timedwait(&hashers_cv, &hashers_mu, &until) == 0)
		;
	none = hashers_live == 0;
	pthread_mutex_unlock(&hashers_mu);
	return none;
}

static void hasher_unref(struct relay_hasher *h)
{
	bool last;

	pthread_mutex_lock(&h->mu);
	last = --h->refs == 0;
	pthread_mutex_unlock(&h->mu);
	if (!last)
		return;
	if (h->fd >= 0)
		close(h->fd);
	if (h->efd >= 0)
		close(h->efd);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h->ring);
	free(h);
}

static void hasher_signal(struct relay_hasher *h)
{
	uint64_t one = 1;

	if (write(h->efd, &one, sizeof one) != sizeof one) {
		/* an eventfd counter cannot overflow from one write */
	}
}

static bool cancelled(struct relay_hasher *h)
{
	return __atomic_load_n(&h->cancel, __ATOMIC_RELAXED);
}

/* The stored prefix of a resumed upload, by pread(). */
static int hash_prefix(struct relay_hasher *h, EVP_MD_CTX *md)
{
	char *buf;
	uint64_t off = 0;
	int err = 0;

	if (!h->base)
		return 0;
	buf = malloc(TW_PREFIX_BUF);
	if (!buf)
		return -ENOMEM;
	while (!err && off < h->base) {
		size_t n = h->base - off < TW_PREFIX_BUF ? (size_t)(h->base - off) : TW_PREFIX_BUF;
		ssize_t got = pread(h->fd, buf, n, (off_t)off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			err = -errno;
		else if (got == 0)
			err = -EIO; /* shorter than the store says */
		else if (EVP_DigestUpdate(md, buf, (size_t)got) != 1)
			err = -ENOMEM;
		else
			off += (uint64_t)got;
		if (!err && cancelled(h))
			err = -ECANCELED; /* a relay that ended does not wait for the rest */
	}
	free(buf);
	return err;
}

static int write_piece(struct relay_hasher *h, const char *p, size_t n, uint64_t off)
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
	while (n) {
		ssize_t w = pwrite(h->fd, p, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return fail ? -ENOSPC : 0;
}

/* Wait for bytes, the target or cancel. Returns the bytes available (0: finished or cancelled). */
static uint64_t wait_for_work(struct relay_hasher *h, uint64_t tail, bool *done)
{
	uint64_t head;

	*done = false;
	head = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
	if (head != tail)
		return head - tail;
	pthread_mutex_lock(&h->mu);
	for (;;) {
		__atomic_store_n(&h->sleeping, true, __ATOMIC_SEQ_CST);
		head = __atomic_load_n(&h->head, __ATOMIC_SEQ_CST);
		if (head != tail || cancelled(h) || h->target == tail)
			break;
		pthread_cond_wait(&h->cv, &h->mu);
	}
	__atomic_store_n(&h->sleeping, false, __ATOMIC_RELAXED);
	*done = head == tail && (cancelled(h) || h->target == tail);
	pthread_mutex_unlock(&h->mu);
	return head - tail;
}

static int consume(struct relay_hasher *h, EVP_MD_CTX *md)
{
	uint64_t tail = 0, wb_from = h->base;
	bool done;

	for (;;) {
		uint64_t avail = wait_for_work(h, tail, &done);
		size_t at = (size_t)(tail % TW_RING), n;
		uint64_t off = h->base + tail;
		int err;

		if (done && !cancelled(h) && h->fd >= 0 && h->base + tail > wb_from)
			/* The file is complete: the writeback of its last piece starts now, and the
			 * store's fsync after RECEIVED finds it under way. */
			(void)sync_file_range(h->fd, (off64_t)wb_from, (off64_t)(h->base + tail - wb_from),
					      SYNC_FILE_RANGE_WRITE);
		if (done)
			return cancelled(h) ? -ECANCELED : 0;
		if (cancelled(h))
			return -ECANCELED;
		n = avail < TW_PIECE ? (size_t)avail : TW_PIECE;
		if (n > TW_RING - at)
			n = TW_RING - at; /* up to the wrap; the rest next turn */
		if (h->fd >= 0) {
			err = write_piece(h, h->ring + at, n, off);
			if (err) {
				/* The blob keeps what was written before this piece, no torn tail:
				 * ft_relay_bytes() reports that much and a resume starts there. */
				if (ftruncate(h->fd, (off_t)off)) {
					/* the relay ends on err anyway */
				}
				h->write_err = true;
				return err;
			}
		}
		if (EVP_DigestUpdate(md, h->ring + at, n) != 1)
			return -ENOMEM;
		tail += n;
		/* Start the disk write of what came so far without waiting for it: the
		 * store's fsync before the acknowledgement finds little left to do. */
		if (h->fd >= 0 && h->base + tail - wb_from >= TW_WRITEBACK) {
			(void)sync_file_range(h->fd, (off64_t)wb_from, (off64_t)(h->base + tail - wb_from),
					      SYNC_FILE_RANGE_WRITE);
			wb_from = h->base + tail;
		}
		__atomic_store_n(&h->tail, tail, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&h->loop_waits, __ATOMIC_SEQ_CST) &&
		    TW_RING - (__atomic_load_n(&h->head, __ATOMIC_ACQUIRE) - tail) >= TW_RING / 2 &&
		    __atomic_exchange_n(&h->loop_waits, false, __ATOMIC_SEQ_CST))
			hasher_signal(h);
	}
}

static void *worker_main(void *arg)
{
	struct relay_hasher *h = arg;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t digest[20];
	unsigned len = 0;
	int err = 0;

	if (!md || EVP_DigestInit_ex(md, EVP_sha1(), NULL) != 1)
		err = -ENOMEM;
	if (!err)
		err = hash_prefix(h, md);
	if (!err)
		err = consume(h, md);
	if (!err && (EVP_DigestFinal_ex(md, digest, &len) != 1 || len != sizeof digest))
		err = -ENOMEM;
	EVP_MD_CTX_free(md);
	pthread_mutex_lock(&h->mu);
	h->finished = true;
	h->err = err;
	if (!err)
		memcpy(h->digest, digest, sizeof digest);
	pthread_mutex_unlock(&h->mu);
	if (err != -ECANCELED)
		hasher_signal(h); /* (a cancelled relay listens no more) */
	hasher_unref(h);
	pthread_mutex_lock(&hashers_mu);
	hashers_live--;
	pthread_cond_broadcast(&hashers_cv);
	pthread_mutex_unlock(&hashers_mu);
	return NULL;
}

static uint64_t ring_free(struct relay_hasher *h)
{
	return TW_RING - (h->head - __atomic_load_n(&h->tail, __ATOMIC_SEQ_CST));
}

/* The worker freed room, finished, or failed. */
static int worker_wakeup(su_root_magic_t *m, su_wait_t *w, su_wakeup_arg_t *arg)
{
	struct ft_relay *r = arg;
	struct relay_hasher *h = r->rs;
	uint64_t cnt;
	bool finished, write_err;
	int err;

	(void)m;
	(void)w;
	if (!h)
		return 0;
	if (read(h->efd, &cnt, sizeof cnt) < 0) {
		/* EAGAIN: nothing to read after all; we look at the state anyway */
	}
	pthread_mutex_lock(&h->mu);
	finished = h->finished;
	err = h->err;
	write_err = h->write_err;
	if (finished && !err)
		memcpy(r->tee.digest, h->digest, sizeof r->tee.digest);
	pthread_mutex_unlock(&h->mu);
	hub_enter(r->hub);
	if (r->ended) {
		if (finished && r->tw_draining) {
			/* relay_finish() waited for the ring to reach the blob: report now */
			r->tw_draining = false;
			relay_tw_stop(r);
			msrp_log("relay %s: %s (%s), %llu bytes", relay_name(r), ft_relay_result_str(r->deferred_res),
				 r->deferred_detail, (unsigned long long)r->tee.contig);
			relay_arm_deferred_done(r);
		}
	} else if (finished && err) {
		r->rs_err = err;
		r->rs_write_err = write_err;
		relay_tw_stop(r); /* the worker is done; so is its eventfd */
		relay_tw_fail(r);
	} else if (finished && r->rs_wait) {
		r->rs_wait = false;
		r->tee.final = true;
		relay_tw_stop(r);
		conn_unhold(relay_conn(r, FT_LEG_UP), CONN_HOLD_DISK);
		relay_up_last_hashed(r, r->rs_tid, r->rs_fr, r->rs_sr);
	} else if (!r->rs_wait && ring_free(h) >= TW_LOW_ROOM) {
		conn_unhold(relay_conn(r, FT_LEG_UP), CONN_HOLD_DISK);
	}
	hub_leave(r->hub);
	return 0;
}

/* base: the blob holds [0, base) already (a resume), or 0. */
static int tw_start(struct ft_relay *r, uint64_t base, bool short_prefix)
{
	struct relay_hasher *h;
	pthread_attr_t attr;
	sigset_t all, old;
	su_wait_t w;
	pthread_t th;
	int rc;

	h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	h->fd = -1;
	h->ring = malloc(TW_RING);
	h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (h->efd < 0 || !h->ring) {
		rc = h->ring ? -errno : -ENOMEM;
		if (h->efd >= 0)
			close(h->efd);
		free(h->ring);
		free(h);
		return rc;
	}
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->refs = 1;
	h->base = base;
	h->target = UINT64_MAX;
	r->rs = h;
	if (su_wait_create(&w, h->efd, SU_WAIT_IN))
		return -ENOMEM; /* relay_tw_stop() frees h */
	r->rs_widx = su_root_register(hub_root(r->hub), &w, worker_wakeup, r, 0);
	if (r->rs_widx <= 0) {
		r->rs_widx = 0;
		su_wait_destroy(&w);
		return -EIO;
	}
	if (short_prefix) {
		/* Reported from the loop, never inside ft_relay_create(). */
		h->finished = true;
		h->err = -EIO;
		r->rs_err = -EIO;
		hasher_signal(h);
		return 0;
	}
	if (r->tee.fd >= 0) {
		h->fd = fcntl(r->tee.fd, F_DUPFD_CLOEXEC, 0);
		if (h->fd < 0)
			return -errno;
	}
	/* The worker takes no signal: they belong to the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	h->refs = 2;
	pthread_mutex_lock(&hashers_mu);
	hashers_live++;
	pthread_mutex_unlock(&hashers_mu);
	rc = pthread_create(&th, &attr, worker_main, h);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		pthread_mutex_lock(&hashers_mu);
		hashers_live--;
		pthread_mutex_unlock(&hashers_mu);
		h->refs = 1;
		return -rc;
	}
	/* The worker writes and hashes from here on. */
	r->tee.no_hash = true;
	return 0;
}

int relay_resume_open(struct ft_relay *r, uint64_t base)
{
	bool short_prefix;
	int rc = tee_resume(&r->tee, base, &short_prefix);

	if (rc)
		return rc;
	r->base = base;
	r->tw_decided = true;
	return tw_start(r, base, short_prefix);
}

int relay_tee_feed(struct ft_relay *r, uint64_t off, const char *p, size_t n)
{
	struct relay_hasher *h;
	uint64_t skip, at;
	size_t first;

	if (!r->tw_decided) {
		r->tw_decided = true;
		if (r->size >= __atomic_load_n(&hook_min_size, __ATOMIC_RELAXED) && r->tee.contig == 0 &&
		    !r->source && tw_start(r, 0, false)) {
			relay_tw_stop(r); /* no thread: the inline tee does it */
			r->tee.no_hash = false;
		}
	}
	h = r->rs;
	if (!h)
		return tee_feed(&r->tee, off, p, n);
	if (off > r->tee.contig || r->tee.final)
		return -EINVAL;
	skip = r->tee.contig - off; /* already have these */
	if (skip >= n)
		return 0;
	p += skip;
	n -= (size_t)skip;
	if (n > ring_free(h))
		return -ENOBUFS; /* the hold below keeps this from happening */
	at = h->head % TW_RING;
	first = n < TW_RING - at ? n : (size_t)(TW_RING - at);
	memcpy(h->ring + at, p, first);
	memcpy(h->ring, p + first, n - first);
	__atomic_store_n(&h->head, h->head + n, __ATOMIC_SEQ_CST);
	if (TW_RING - ring_free(h) >= TW_WAKE && __atomic_load_n(&h->sleeping, __ATOMIC_SEQ_CST)) {
		pthread_mutex_lock(&h->mu);
		pthread_cond_signal(&h->cv);
		pthread_mutex_unlock(&h->mu);
	}
	r->tee.contig += n;
	if (ring_free(h) < TW_LOW_ROOM) {
		__atomic_store_n(&h->loop_waits, true, __ATOMIC_SEQ_CST);
		if (ring_free(h) < TW_LOW_ROOM)
			conn_hold(relay_conn(r, FT_LEG_UP), CONN_HOLD_DISK);
		else
			__atomic_store_n(&h->loop_waits, false, __ATOMIC_SEQ_CST);
	}
	return 0;
}

bool relay_tw_final(struct ft_relay *r, const char *tid, enum msrp_report_mode fr, enum msrp_report_mode sr)
{
	struct relay_hasher *h = r->rs;

	if (!h)
		return false;
	r->rs_wait = true;
	r->rs_fr = fr;
	r->rs_sr = sr;
	snprintf(r->rs_tid, sizeof r->rs_tid, "%s", tid);
	/* Nothing more from the sender until its '$' chunk is answered. */
	conn_hold(relay_conn(r, FT_LEG_UP), CONN_HOLD_DISK);
	pthread_mutex_lock(&h->mu);
	h->target = __atomic_load_n(&h->head, __ATOMIC_RELAXED);
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	if (r->base)
		msrp_log("relay %s: resumed upload complete (%llu bytes), waiting for the sha-1 of the whole file",
			 relay_name(r), (unsigned long long)r->tee.contig);
	return true;
}

bool relay_tw_drain(struct ft_relay *r)
{
	struct relay_hasher *h = r->rs;
	bool drain;

	if (!h || r->destroyed || r->rs_widx <= 0)
		return false;
	pthread_mutex_lock(&h->mu);
	drain = !h->finished && h->fd >= 0 && __atomic_load_n(&h->tail, __ATOMIC_SEQ_CST) != h->head;
	if (drain) {
		/* finish at what the loop accepted; the digest it makes is of no use (never read) */
		h->target = h->head;
		pthread_cond_signal(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
	r->tw_draining = drain;
	return drain;
}

void relay_tw_fail(struct ft_relay *r)
{
	const char *tid = NULL;
	enum msrp_report_mode fr = r->fwd_fr;
	int err = r->rs_err ? r->rs_err : -EIO;
	int status = r->rs_write_err ? 413 : 400;

	if (r->ended)
		return;
	if (r->rs_wait) {
		tid = r->rs_tid;
		fr = r->rs_fr;
	} else if (r->up_cur == UP_ACTIVE) {
		tid = r->fwd_up_tid;
	}
	r->rs_wait = false;
	if (r->up_cur == UP_ACTIVE) {
		if (r->fwd_txn >= 0)
			r->tab[r->fwd_txn].used = false;
		relay_down_end(r, MSRP_FLAG_ABORT);
		r->up_cur = UP_SKIP;
	}
	/* As for a store that cannot keep the file (ft_relay_ack_received). */
	if (tid && fr != MSRP_REPORT_NO)
		relay_up_respond_tid(r, tid, status, "Cannot store the file");
	if (r->store && r->file_msgid[0] && fr != MSRP_REPORT_NO)
		relay_up_report(r, 400, "Cannot store the file", CPM_STR_NULL);
	if (r->rs_write_err)
		relay_finish(r, FT_RELAY_IO_ERROR, "blob write: %s", strerror(-err));
	else
		relay_finish(r, FT_RELAY_IO_ERROR, "resume: cannot read the stored %llu bytes (%s)",
			     (unsigned long long)r->base, strerror(-err));
}

void relay_tw_stop(struct ft_relay *r)
{
	struct relay_hasher *h = r->rs;

	if (!h)
		return;
	if (r->rs_widx > 0)
		su_root_deregister(hub_root(r->hub), r->rs_widx);
	r->rs_widx = 0;
	pthread_mutex_lock(&h->mu);
	if (!h->finished || h->err) {
		/* What the blob holds for sure: bytes still in the ring are lost (a resume
		 * re-sends them; the tail the worker may still write is cut by tee_resume). */
		uint64_t done = h->base + __atomic_load_n(&h->tail, __ATOMIC_SEQ_CST);

		if (done < r->tee.contig)
			r->tee.contig = done;
	}
	__atomic_store_n(&h->cancel, true, __ATOMIC_RELAXED);
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	r->rs = NULL;
	hasher_unref(h);
}
