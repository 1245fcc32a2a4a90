/* Upload resume in store mode: the blob already holds the file's bytes
 * [0, base) from an interrupted attempt, the sender sends [base, size) as
 * one MSRP message counted within the range, and the sha-1 of the WHOLE
 * file must match the selector.
 *
 * The prefix can be a gigabyte: hashing it on the loop would stall every
 * other transfer for seconds. A worker thread hashes the blob instead, by
 * pread() from byte 0: first the prefix, then each new byte as soon as the
 * loop has written it (the loop publishes its contiguous count after every
 * write; the worker sleeps on a condition variable when it has caught up).
 * SHA-1 is sequential, so one context that reads the file in order is the
 * simplest correct design: nothing is hashed twice, nothing is buffered,
 * and by the '$' chunk the worker is normally a few reads behind. At the
 * '$' chunk the loop tells the worker the final size and goes back to its
 * other work; the worker's eventfd (registered in su_root) wakes it when
 * the digest is ready, and the held '$' chunk is then answered as in store
 * mode.
 *
 * Sharing: the relay and the worker each hold a reference to the hasher;
 * whoever drops the last one frees it. ft_relay_destroy() never joins the
 * thread (the loop must not wait for a disk read): it sets `cancel` and
 * lets the worker leave at its next check. The worker reads with pread()
 * through its own dup of the blob's descriptor (the one the owner handed
 * over, opened read-write by the store), so the relay may close its own at
 * destroy while the worker still runs. */
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

/* One read of the worker: bounded memory, and `cancel` is seen within one
 * read (~0.1 ms from the page cache). */
#define HASH_BUF_SIZE (256 * 1024)

struct relay_hasher {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fd;          /* the worker's dup of the blob descriptor */
	int efd;         /* eventfd: the worker has finished */
	int refs;        /* the relay and the worker */
	uint64_t avail;  /* [0, avail) is in the blob (published by the loop) */
	uint64_t target; /* hash [0, target), then finish; UINT64_MAX: not known yet */
	bool cancel;
	bool sleeping;   /* the worker waits for avail/target/cancel */
	/* the result, written once by the worker */
	bool finished;
	int err;         /* 0 or -errno (-EIO: the blob is shorter than it must be) */
	uint8_t digest[20];
};

/* Hasher threads alive (detached: a cancelled one ends on its own). The process must not exit
 * while one still runs inside libcrypto: OpenSSL's exit handlers free what it uses (a SIGSEGV
 * at cpmd's exit, seen once in CI; ThreadSanitizer names the race). ft_relay_wait_hashers()
 * waits for them. */
static pthread_mutex_t hashers_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hashers_cv = PTHREAD_COND_INITIALIZER;
static unsigned hashers_live;

void ft_relay_wait_hashers(unsigned ms)
{
	struct timespec until;
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
	pthread_mutex_unlock(&hashers_mu);
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
	free(h);
}

static void hasher_signal(struct relay_hasher *h)
{
	uint64_t one = 1;

	if (write(h->efd, &one, sizeof one) != sizeof one) {
		/* an eventfd counter cannot overflow from one write */
	}
}

static int hash_range(struct relay_hasher *h, EVP_MD_CTX *md, char *buf, uint64_t off, uint64_t end)
{
	while (off < end) {
		size_t n = end - off < HASH_BUF_SIZE ? (size_t)(end - off) : HASH_BUF_SIZE;
		ssize_t got = pread(h->fd, buf, n, (off_t)off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return -EIO; /* shorter than the loop says it wrote */
		if (EVP_DigestUpdate(md, buf, (size_t)got) != 1)
			return -ENOMEM;
		off += (uint64_t)got;
		/* a relay that ended does not wait for the rest */
		if (__atomic_load_n(&h->cancel, __ATOMIC_RELAXED))
			return -ECANCELED;
	}
	return 0;
}

static void *hasher_main(void *arg)
{
	struct relay_hasher *h = arg;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char *buf = malloc(HASH_BUF_SIZE);
	uint8_t digest[20];
	uint64_t off = 0;
	unsigned len = 0;
	int err = 0;

	if (!md || !buf || EVP_DigestInit_ex(md, EVP_sha1(), NULL) != 1)
		err = -ENOMEM;
	while (!err) {
		uint64_t end;

		pthread_mutex_lock(&h->mu);
		while (!h->cancel && off == h->avail && off != h->target) {
			h->sleeping = true;
			pthread_cond_wait(&h->cv, &h->mu);
			h->sleeping = false;
		}
		if (h->cancel) {
			pthread_mutex_unlock(&h->mu);
			err = -ECANCELED;
			break;
		}
		end = h->avail;
		if (off == h->target) {
			pthread_mutex_unlock(&h->mu);
			break;
		}
		pthread_mutex_unlock(&h->mu);
		err = hash_range(h, md, buf, off, end);
		off = end;
	}
	if (!err && (EVP_DigestFinal_ex(md, digest, &len) != 1 || len != sizeof digest))
		err = -ENOMEM;
	EVP_MD_CTX_free(md);
	free(buf);
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

/* The worker has finished (or the prefix was short at create). */
static int hasher_wakeup(su_root_magic_t *m, su_wait_t *w, su_wakeup_arg_t *arg)
{
	struct ft_relay *r = arg;
	struct relay_hasher *h = r->rs;
	uint64_t cnt;
	bool finished;
	int err;

	if (!h)
		return 0;
	if (read(h->efd, &cnt, sizeof cnt) < 0) {
		/* EAGAIN: nothing to read after all; we look at the state anyway */
	}
	pthread_mutex_lock(&h->mu);
	finished = h->finished;
	err = h->err;
	if (finished && !err)
		memcpy(r->tee.digest, h->digest, sizeof r->tee.digest);
	pthread_mutex_unlock(&h->mu);
	if (!finished)
		return 0;
	hub_enter(r->hub);
	relay_resume_stop(r); /* the worker is done; so is its eventfd */
	if (err) {
		r->rs_err = err;
		relay_resume_fail(r);
	} else if (r->rs_wait && !r->ended) {
		r->rs_wait = false;
		r->tee.final = true;
		if (memcmp(r->tee.digest, r->sha1, sizeof r->sha1) != 0) {
			if (r->rs_fr != MSRP_REPORT_NO)
				relay_up_respond_tid(r, r->rs_tid, 400, "Hash mismatch");
			relay_finish(r, FT_RELAY_HASH_MISMATCH, "sha-1 of the resumed file differs from the file-selector");
		} else {
			r->hash_ok = true;
			r->last_sent = true;
			conn_unhold(relay_conn(r, FT_LEG_UP), CONN_HOLD_PEER);
			relay_store_received(r, r->rs_tid, r->rs_fr, r->rs_sr);
		}
	}
	hub_leave(r->hub);
	return 0;
}

int relay_resume_open(struct ft_relay *r, uint64_t base)
{
	struct relay_hasher *h;
	pthread_attr_t attr;
	sigset_t all, old;
	bool short_prefix;
	su_wait_t w;
	pthread_t th;
	int rc;

	rc = tee_resume(&r->tee, base, &short_prefix);
	if (rc)
		return rc;
	r->base = base;
	h = calloc(1, sizeof *h);
	if (!h)
		return -ENOMEM;
	h->fd = -1;
	h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (h->efd < 0) {
		rc = -errno;
		free(h);
		return rc;
	}
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->refs = 1;
	h->avail = base;
	h->target = UINT64_MAX;
	r->rs = h;
	if (su_wait_create(&w, h->efd, SU_WAIT_IN))
		return -ENOMEM; /* relay_discard() frees h */
	r->rs_widx = su_root_register(hub_root(r->hub), &w, hasher_wakeup, r, 0);
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
	h->fd = fcntl(r->tee.fd, F_DUPFD_CLOEXEC, 0);
	if (h->fd < 0)
		return -errno;
	/* The worker takes no signal: they belong to the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	h->refs = 2;
	pthread_mutex_lock(&hashers_mu);
	hashers_live++;
	pthread_mutex_unlock(&hashers_mu);
	rc = pthread_create(&th, &attr, hasher_main, h);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		pthread_mutex_lock(&hashers_mu);
		hashers_live--;
		pthread_mutex_unlock(&hashers_mu);
		h->refs = 1;
		return -rc;
	}
	return 0;
}

void relay_resume_advance(struct ft_relay *r)
{
	struct relay_hasher *h = r->rs;

	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->avail = r->tee.contig;
	if (h->sleeping)
		pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

void relay_resume_final(struct ft_relay *r, const char *tid, enum msrp_report_mode fr,
			enum msrp_report_mode sr)
{
	struct relay_hasher *h = r->rs;

	r->rs_wait = true;
	r->rs_fr = fr;
	r->rs_sr = sr;
	snprintf(r->rs_tid, sizeof r->rs_tid, "%s", tid);
	r->up_cur = UP_NONE;
	/* Nothing more from the sender until its '$' chunk is answered. */
	conn_hold(relay_conn(r, FT_LEG_UP), CONN_HOLD_PEER);
	if (!h) {
		relay_resume_fail(r); /* cannot happen: a resume relay has a hasher until it ends */
		return;
	}
	pthread_mutex_lock(&h->mu);
	h->avail = r->tee.contig;
	h->target = r->tee.contig;
	if (h->sleeping)
		pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	msrp_log("relay %s: resumed upload complete (%llu bytes), waiting for the sha-1 of the whole file",
		 relay_name(r), (unsigned long long)r->tee.contig);
}

void relay_resume_fail(struct ft_relay *r)
{
	const char *tid = NULL;
	enum msrp_report_mode fr = r->fwd_fr;
	int err = r->rs_err ? r->rs_err : -EIO;

	if (r->ended)
		return;
	if (r->rs_wait) {
		tid = r->rs_tid;
		fr = r->rs_fr;
	} else if (r->up_cur == UP_ACTIVE) {
		tid = r->fwd_up_tid;
		r->up_cur = UP_SKIP;
	}
	r->rs_wait = false;
	/* As for a store that cannot keep the file (ft_relay_ack_received). */
	if (tid && fr != MSRP_REPORT_NO)
		relay_up_respond_tid(r, tid, 400, "Cannot store the file");
	if (r->file_msgid[0] && fr != MSRP_REPORT_NO)
		relay_up_report(r, 400, "Cannot store the file", CPM_STR_NULL);
	relay_finish(r, FT_RELAY_IO_ERROR, "resume: cannot read the stored %llu bytes (%s)",
		     (unsigned long long)r->base, strerror(-err));
}

void relay_resume_stop(struct ft_relay *r)
{
	struct relay_hasher *h = r->rs;

	if (!h)
		return;
	if (r->rs_widx > 0)
		su_root_deregister(hub_root(r->hub), r->rs_widx);
	r->rs_widx = 0;
	pthread_mutex_lock(&h->mu);
	__atomic_store_n(&h->cancel, true, __ATOMIC_RELAXED);
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	r->rs = NULL;
	hasher_unref(h);
}
